/*
 * Channel attention on OpenCL (path "channel"; clattn.h "Channel attention", core/channel.h): the four
 * launches of kernels/channel_attn.cl (pool, fc1, fc2 + sigmoid, rescale) on the context's in-order queue, with
 * a per-execution workspace (pooled [B, 2, C], hidden [B, 2, R], gate [B, C] floats). The pool's work-group
 * size WG is the largest power of two <= 256 that the device and the built kernel allow.
 */
#include "launch.h"
#include "opencl.h"

#include "channel.h"

#include <stdio.h>

clattn_status clattn_cl_channel_run(clattn_context *ctx, const clattn_channel_problem *p, const clattn_channel_bufs *bf);

/* Builds the four kernels for WG and nbranch; shrinks WG until the pool kernel's work-group size allows it. */
static clattn_status build(clattn_context *ctx, clattn_cl_state *cl, int nbranch, cl_kernel k[4], size_t *wg_out)
{
    static const char *const names[4] = {"clattn_channel_pool", "clattn_channel_fc1", "clattn_channel_fc2",
                                         "clattn_channel_rescale"};
    clattn_status st = CLATTN_SUCCESS;
    size_t wg = clattn_pow2_floor(cl->max_wg < 256 ? cl->max_wg : 256);
    while (cl->local_mem < 2 * wg * sizeof(float) && wg > 1) wg /= 2;
    for (;;) {
        char options[64];
        snprintf(options, sizeof options, "-D WG=%zu -D NBRANCH=%d", wg, nbranch);
        for (int i = 0; i < 4; i++) CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "channel_attn.cl", options, names[i], &k[i]));
        size_t kwg = 0;
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(k[0], cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
        if (wg <= kwg || wg == 1) break;
        for (int i = 0; i < 4; i++) {
            clReleaseKernel(k[i]);
            k[i] = NULL;
        }
        wg = clattn_pow2_floor(kwg);
    }
    *wg_out = wg;
cleanup:
    return st;
}

clattn_status clattn_cl_channel_run(clattn_context *ctx, const clattn_channel_problem *p, const clattn_channel_bufs *bf)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel k[4] = {NULL, NULL, NULL, NULL};
    cl_mem pooled = NULL, hidden = NULL, gate = NULL;
    const clattn_sync none = CLATTN_SYNC_NONE;
    clattn_cl_launch l = clattn_cl_launch_begin(cl->queue, &none);
    size_t wg = 1;
    const int nbranch = p->avg_max ? 2 : 1;
    CLATTN_GOTO_IF(build(ctx, cl, nbranch, k, &wg));
    const cl_long B = p->B, C = p->C, H = p->H, W = p->W, R = p->R, n = B * C * H * W;
    CLATTN_CL_CREATE(pooled, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * 2 * C) * sizeof(float), NULL);
    CLATTN_CL_CREATE(hidden, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * 2 * R) * sizeof(float), NULL);
    CLATTN_CL_CREATE(gate, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * C) * sizeof(float), NULL);
    const clattn_cl_view xv = clattn_cl_view_of(bf->x.dev, &p->x, true), ov = clattn_cl_view_of(bf->out.dev, &p->out, true);
    const cl_mem w1 = bf->w1.dev, w2 = bf->w2.dev, b1 = bf->b1.dev, b2 = bf->b2.dev, sc = bf->scales.dev;
    const cl_int has_b1 = p->has_b1, has_b2 = p->has_b2, want = p->want_scales;
    const cl_long sc_off = want ? p->scales.offset : 0, sc0 = want ? p->scales.strides[0] : 0,
                  sc1 = want ? p->scales.strides[1] : 0;
    {
        const clattn_karg a[] = {KVIEW(xv), KARG(C), KARG(H), KARG(W), KARG(pooled)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[0], "clattn_channel_pool", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)(B * C) * wg, 1, 1}, lo[3] = {wg, 1, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[0], "clattn_channel_pool", g, lo));
    }
    {
        const clattn_karg a[] = {KARG(pooled), KARG(w1), KARG(b1), KARG(has_b1), KARG(C), KARG(R), KARG(hidden)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[1], "clattn_channel_fc1", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)R, (size_t)B, (size_t)nbranch};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[1], "clattn_channel_fc1", g, NULL));
    }
    {
        const clattn_karg a[] = {KARG(hidden), KARG(w2), KARG(b2), KARG(has_b2), KARG(C), KARG(R), KARG(gate),
                                 KARG(want), KARG(sc), KARG(sc_off), KARG(sc0), KARG(sc1)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[2], "clattn_channel_fc2", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)C, (size_t)B, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[2], "clattn_channel_fc2", g, NULL));
    }
    {
        const clattn_karg a[] = {KVIEW(xv), KVIEW(ov), KARG(gate), KARG(C), KARG(H), KARG(W), KARG(n)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[3], "clattn_channel_rescale", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)clattn_ceil_div(n, 64) * 64, 1, 1}, lo[3] = {64 <= cl->max_wg ? 64 : 1, 1, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[3], "clattn_channel_rescale", g, lo));
    }
    CLATTN_CL_CHECK(clFinish(cl->queue));
cleanup:
    st = clattn_cl_launch_end(ctx, &l, &none, st);
    for (int i = 0; i < 4; i++)
        if (k[i]) clReleaseKernel(k[i]);
    if (pooled) clReleaseMemObject(pooled);
    if (hidden) clReleaseMemObject(hidden);
    if (gate) clReleaseMemObject(gate);
    return st;
}
