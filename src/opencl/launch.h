/*
 * Small helpers the OpenCL paths share (chain.c, fused.c, backend.c, merge.c, paged.c): integer rounding, the
 * attention window clamp, one-kernel plans and their work-group size, and kernel launches chained on one
 * in-order queue against the caller's wait list and event (clattn_sync). Not installed.
 */
#ifndef CLATTN_CL_LAUNCH_H
#define CLATTN_CL_LAUNCH_H

#include "opencl.h"

#include <stdlib.h>

/* Work-groups per launch in grid dims 1 and 2 (CUDA-based OpenCL drivers allow no more). */
#define CLATTN_CL_MAX_GRID_GROUPS 65535

static inline int64_t clattn_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t clattn_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t clattn_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Smallest power of two >= x (1 for x <= 1), at most 2^30. */
static inline size_t clattn_pow2_ceil(uint64_t x)
{
    size_t p = 1;
    while (p < x && p < ((size_t)1 << 30)) p <<= 1;
    return p;
}

/* Largest power of two <= x (1 for x <= 1), at most 2^30. */
static inline size_t clattn_pow2_floor(uint64_t x)
{
    size_t p = 1;
    while ((uint64_t)p * 2 <= x && p < ((size_t)1 << 30)) p <<= 1;
    return p;
}

/* A plan of one kernel launched in work-groups of wg items (merge.c, paged.c: their backend_data). */
typedef struct clattn_cl_kernel_plan {
    cl_kernel kernel;
    size_t wg;
} clattn_cl_kernel_plan;

/* Frees the clattn_cl_kernel_plan at *backend_data (its kernel released) and sets it NULL; nothing when NULL. */
static inline void clattn_cl_kernel_plan_free(void **backend_data)
{
    clattn_cl_kernel_plan *kp = *backend_data;
    if (!kp) return;
    if (kp->kernel) clReleaseKernel(kp->kernel);
    free(kp);
    *backend_data = NULL;
}

/* Work-items per group for n items along dim 0: n rounded up to a power of two, at most 64 and at most the
 * device's work-group and dim-0 work-item limits (each rounded down to a power of two). */
static inline size_t clattn_cl_wg_fit(const clattn_cl_state *cl, uint64_t n)
{
    size_t w = clattn_pow2_ceil(n);
    if (w > 64) w = 64;
    if (w > clattn_pow2_floor(cl->max_wg)) w = clattn_pow2_floor(cl->max_wg);
    if (w > clattn_pow2_floor(cl->max_wi_sizes[0])) w = clattn_pow2_floor(cl->max_wi_sizes[0]);
    return w;
}

/* A window size as the kernels take it: -1 (unlimited) when negative or wider than span = Lq + Lk. */
static inline int64_t clattn_cl_window_clamp(int64_t w, int64_t span) { return (w < 0 || w > span) ? -1 : w; }

/* One run's launches: the first command waits for the caller's wait list; `last` holds the event of
 * the latest command when the caller wants one (the previous one is released). */
typedef struct clattn_cl_launch {
    cl_command_queue queue;
    cl_uint num_wait;
    const cl_event *wait_list;
    bool want_event;
    bool first; /* nothing enqueued yet */
    cl_event last;
} clattn_cl_launch;

/* Starts a run on queue ordered by sync (sets *sync->event to NULL). */
clattn_cl_launch clattn_cl_launch_begin(cl_command_queue queue, const clattn_sync *sync);

/* Enqueues kernel k (named kname in the error message) over a 3-D grid. */
clattn_status clattn_cl_launch_kernel(clattn_context *ctx, clattn_cl_launch *l, cl_kernel k, const char *kname,
                                      const size_t global[3], const size_t local[3]);

/* Ends a run: when nothing was enqueued (no validated problem does that) still honours the wait list with a marker and
 * returns an event; hands the last event to *sync->event, or releases it. Call also after a failure
 * (then pass the failure as st: nothing is enqueued, the event is released). Returns st or the marker's
 * failure. */
clattn_status clattn_cl_launch_end(clattn_context *ctx, clattn_cl_launch *l, const clattn_sync *sync, clattn_status st);

#endif /* CLATTN_CL_LAUNCH_H */
