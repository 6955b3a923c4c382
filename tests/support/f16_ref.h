/*
 * f16_ref.h — binary16 helpers for tests with CLATTN_DTYPE_F16 outputs (header only: static inline, so a
 * test can include it without a new source in its target).
 *
 * The fp16 <-> double conversions are independent of the library's (src/common/fp16.c, kernels/common.cl):
 * ldexp / nearbyint, round to nearest even in the default rounding mode. Used by tests/test_f16.c and
 * tests/reliability/test_faults.c. Tolerance of f16r_check_view (the same as test_f16.c):
 *   |got - fp16(ref)| <= 1 fp16 ulp at max(|ref|, |got|) + TU_TOL_F32 * max(1, max |ref|)
 * NaN matches NaN only, +-inf matches itself.
 */
#ifndef CLATTN_F16_REF_H
#define CLATTN_F16_REF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/* A quiet fp16 NaN with a recognisable payload: unwritten fp16 outputs and guard zones. */
#define F16R_POISON 0x7eadu

static inline double f16r_to_double(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp((double)(m + 1024), e - 25);
    return (h & 0x8000u) ? -v : v;
}

/* Round to nearest, ties to even. */
static inline uint16_t f16r_from_double(double x)
{
    const uint16_t sign = signbit(x) ? 0x8000u : 0;
    if (isnan(x)) return (uint16_t)(sign | 0x7e00u);
    const double a = fabs(x);
    if (a >= 65520.0) return (uint16_t)(sign | 0x7c00u);
    if (a < ldexp(1.0, -14)) return (uint16_t)(sign | (uint16_t)nearbyint(ldexp(a, 24)));
    int E;
    frexp(a, &E); /* a in [2^(E-1), 2^E) */
    int e = E - 1;
    double m = nearbyint(ldexp(a, 10 - e)); /* 1024..2048 */
    if (m == 2048.0) {
        m = 1024.0;
        e++;
    }
    if (e > 15) return (uint16_t)(sign | 0x7c00u);
    return (uint16_t)(sign | (uint16_t)((e + 15) << 10) | (uint16_t)(m - 1024.0));
}

/* Spacing of fp16 values at magnitude a. */
static inline double f16r_ulp(double a)
{
    a = fabs(a);
    if (a < ldexp(1.0, -14)) return ldexp(1.0, -24);
    if (a >= 65504.0) return 32.0;
    int E;
    frexp(a, &E);
    return ldexp(1.0, E - 11);
}

/* ---- bfloat16 (CLATTN_DTYPE_BF16), independent of src/common/fp16.h and kernels/common.cl ---------- */

/* A quiet bf16 NaN with a recognisable payload (unwritten bf16 outputs). */
#define BF16R_POISON 0x7fedu

static inline double bf16r_to_double(uint16_t h)
{
    const int e = (h >> 7) & 255, m = h & 127;
    double v;
    if (e == 255) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -133);
    else v = ldexp((double)(m + 128), e - 134);
    return (h & 0x8000u) ? -v : v;
}

/* Round to nearest, ties to even (8 significant bits, binary32's exponent range). */
static inline uint16_t bf16r_from_double(double x)
{
    const uint16_t sign = signbit(x) ? 0x8000u : 0;
    if (isnan(x)) return (uint16_t)(sign | 0x7fc0u);
    const double a = fabs(x);
    if (isinf(a)) return (uint16_t)(sign | 0x7f80u);
    if (a < ldexp(1.0, -126)) return (uint16_t)(sign | (uint16_t)nearbyint(ldexp(a, 133))); /* 128: min normal */
    int E;
    frexp(a, &E);
    int e = E - 1;
    double m = nearbyint(ldexp(a, 7 - e)); /* 128..256 */
    if (m == 256.0) {
        m = 128.0;
        e++;
    }
    if (e > 127) return (uint16_t)(sign | 0x7f80u);
    return (uint16_t)(sign | (uint16_t)((e + 127) << 7) | (uint16_t)(m - 128.0));
}

/* Spacing of bf16 values at magnitude a. */
static inline double bf16r_ulp(double a)
{
    a = fabs(a);
    if (a < ldexp(1.0, -126)) return ldexp(1.0, -133);
    if (a >= ldexp(255.0, 120)) return ldexp(1.0, 120);
    int E;
    frexp(a, &E);
    return ldexp(1.0, E - 8);
}

static inline void f16r_fill(uint16_t *p, int64_t n, uint16_t bits)
{
    for (int64_t i = 0; i < n; i++) p[i] = bits;
}

/* malloc'd buffer of n (>= 1) halfs, all bits. */
static inline uint16_t *f16r_alloc(int64_t n, uint16_t bits)
{
    uint16_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(uint16_t));
    if (!p) {
        fprintf(stderr, "f16r_alloc: out of memory\n");
        exit(1);
    }
    f16r_fill(p, n, bits);
    return p;
}

/* Rounds f[0..n) to fp16 in place (f keeps the exact fp16 values) and stores the bits in h. */
static inline void f16r_round_array(float *f, uint16_t *h, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        h[i] = f16r_from_double((double)f[i]);
        f[i] = (float)f16r_to_double(h[i]);
    }
}

/* The 16-bit view t of buf (binary16, or bfloat16 when bf16) against ref (doubles, C order over t's dims) within
 * the tolerance above (1 ulp of the type + TU_TOL_F32 x max(1, max |ref|)). */
static inline bool h16r_check_view(const tu_where *w, const char *what, const uint16_t *buf, const clattn_tensor *t,
                                   const double *ref, bool bf16)
{
    double (*to_double)(uint16_t) = bf16 ? bf16r_to_double : f16r_to_double;
    uint16_t (*from_double)(double) = bf16 ? bf16r_from_double : f16r_from_double;
    double (*ulp)(double) = bf16 ? bf16r_ulp : f16r_ulp;
    const int64_t n = t->dims[0] * t->dims[1] * t->dims[2] * t->dims[3];
    double maxabs = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > maxabs) maxabs = fabs(ref[i]);
    const double tol32 = TU_TOL_F32 * (maxabs > 1.0 ? maxabs : 1.0);
    int64_t bad = 0, e = 0;
    char first[256] = "";
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t d = 0; d < t->dims[3]; d++, e++) {
                    const uint16_t bits = buf[tu_index(t, a, b, c, d)];
                    const double got = to_double(bits), r = ref[e], rh = to_double(from_double(r));
                    double err = 0.0, bound = 0.0;
                    bool ok;
                    if (isnan(r) || isnan(got)) ok = isnan(r) && isnan(got);
                    else if (isinf(rh) || isinf(got)) ok = got == rh;
                    else {
                        err = fabs(got - rh);
                        bound = ulp(fmax(fabs(r), fabs(got))) + tol32;
                        ok = err <= bound;
                    }
                    if (!ok && !bad++)
                        snprintf(first, sizeof first,
                                 "[%lld,%lld,%lld,%lld] = 0x%04x (%.9g), reference %.12g -> %s %.9g, error %.3g > "
                                 "bound %.3g",
                                 (long long)a, (long long)b, (long long)c, (long long)d, (unsigned)bits, got, r,
                                 bf16 ? "bf16" : "fp16", rh, err, bound);
                }
    if (bad)
        tu_report(w, "%s (%s): %lld of %lld elements wrong; first %s", what, bf16 ? "bf16" : "fp16", (long long)bad,
                  (long long)n, first);
    return bad == 0;
}

/* h16r_check_view for binary16. */
static inline bool f16r_check_view(const tu_where *w, const char *what, const uint16_t *buf, const clattn_tensor *t,
                                   const double *ref)
{
    return h16r_check_view(w, what, buf, t, ref, false);
}

/* Every element of buf[0..n) outside view t still has the bit pattern bits (compared bitwise). */
static inline bool f16r_check_gaps(const tu_where *w, const char *what, const uint16_t *buf, int64_t n,
                                   const clattn_tensor *t, uint16_t bits)
{
    unsigned char *in_view = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!in_view) exit(1);
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t d = 0; d < t->dims[3]; d++) {
                    const int64_t e = tu_index(t, a, b, c, d);
                    if (e >= 0 && e < n) in_view[e] = 1;
                }
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (!in_view[i] && buf[i] != bits && !bad++) first = i;
    free(in_view);
    if (bad)
        tu_report(w, "%s: %lld gap elements (outside the view) were overwritten; first at buffer element %lld: 0x%04x, "
                  "expected 0x%04x",
                  what, (long long)bad, (long long)first, (unsigned)buf[first], (unsigned)bits);
    return bad == 0;
}

#endif /* CLATTN_F16_REF_H */
