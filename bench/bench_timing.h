/*
 * Timing helpers shared by the benchmark programs in bench/ (header-only: each program is one C file).
 * Times are host wall clock (CLOCK_MONOTONIC) in milliseconds; medians of n >= 1 samples.
 */
#ifndef CLATTN_BENCH_TIMING_H
#define CLATTN_BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

/* Monotonic wall clock, milliseconds. */
static inline double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and minimum of t[0..n) (n >= 1); sorts t in place. */
static inline void bench_median_min(double *t, int n, double *med, double *mn)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    *mn = t[0];
    *med = (n % 2) ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Median of t[0..n) (n >= 1); sorts t in place. */
static inline double bench_median(double *t, int n)
{
    double med, mn;
    bench_median_min(t, n, &med, &mn);
    return med;
}

#endif /* CLATTN_BENCH_TIMING_H */
