/*
 * The OpenCL backend: context/queue ownership, buffers, and the SDPA kernel chain.
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   probs: [B, Hq, Lq, Lk]  mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0)
 *
 * One execution runs, per chunk of (batch, head) pairs and query rows:
 *   scores.cl       S = masked softcap(q·kᵀ·scale) + additive mask  (-inf where not allowed)
 *   softmax.cl      P = softmax(S) per row, in place; also written to probs when wanted
 *   weighted_sum.cl out = P·V, skipping zero-probability keys
 * S lives in a per-plan workspace of [nbh, nrows, Lk] floats, bounded by
 * min(CL_DEVICE_MAX_MEM_ALLOC_SIZE / 2, 256 MiB); problems larger than that are processed in chunks of
 * (b, h) pairs, or of query rows when one (b, h) does not fit. All commands go to one in-order queue.
 *
 * Plans without probabilities may instead take the fused path (fused.c, kernels/fused.cl: one
 * kernel with online softmax, plus a merge kernel when keys are split into partitions). The environment
 * variable CLATTN_CL_PATH, read when a plan is created, chooses:
 *   auto (or unset/empty)  fused where the shape fits (no probs, 1 <= D, Dv <= 256), else the chain
 *   chain                  always the chain (the reference path for cross-checks and benchmarks)
 *   fused                  fused whenever the shape fits; plans with probs still use the chain
 * Any other value fails plan creation with CLATTN_ERROR_INVALID_ARGUMENT.
 */
#include "alloc.h"
#include "opencl.h"
#include "fused.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKSPACE_CAP ((cl_ulong)256 << 20) /* bytes */

/* Loop iterations one work-item may run in one launch, summed over all its loops. Mesa llvmpipe
 * (rusticl) shares a limit of 65535 between every loop of a kernel and silently leaves the loops when
 * it is reached; keep well below it (long key ranges are split over several launches). */
#define LOOP_BUDGET 32768

/* Work-groups per launch in grid dims 1 and 2 (CUDA-based OpenCL drivers allow no more). */
#define MAX_GRID_GROUPS 65535

/* ---- helpers ------------------------------------------------------------------------------------- */

static size_t pow2_ceil(uint64_t x)
{
    size_t p = 1;
    while (p < x && p < ((size_t)1 << 30)) p <<= 1;
    return p;
}

static size_t pow2_floor(uint64_t x)
{
    size_t p = 1;
    while ((uint64_t)p * 2 <= x && p < ((size_t)1 << 30)) p <<= 1;
    return p;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

clattn_status clattn_cl_set_args(clattn_context *ctx, cl_kernel k, const char *kname, const clattn_karg *args,
                                 cl_uint n)
{
    for (cl_uint i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(k, i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS)
            return clattn_error(ctx, CLATTN_ERROR_OPENCL, "clSetKernelArg(%s, %u) failed: %s (%d)", kname, i,
                                clattn_cl_error_string(err), (int)err);
    }
    return CLATTN_SUCCESS;
}

/* ---- buffers ------------------------------------------------------------------------------------- */

static clattn_status cl_buf_alloc(clattn_context *ctx, size_t bytes, clattn_buf *out)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    out->host = NULL;
    out->dev = NULL;
    if (bytes == 0) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "buffer: size 0");
    if (bytes > cl->max_alloc)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "buffer of %zu bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE (%llu bytes)", bytes,
                            (unsigned long long)cl->max_alloc);
    CLATTN_CL_CREATE(out->dev, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, bytes, NULL);
cleanup:
    return st;
}

static void cl_buf_free(clattn_context *ctx, clattn_buf *buf)
{
    if (!buf) return;
    if (buf->dev) clReleaseMemObject(buf->dev);
    buf->dev = NULL;
    buf->host = NULL;
}

static clattn_status cl_buf_write(clattn_context *ctx, clattn_buf *dst, size_t dst_offset, const void *src,
                                  size_t bytes)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (bytes == 0) return CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clEnqueueWriteBuffer(cl->queue, dst->dev, CL_TRUE, dst_offset, bytes, src, 0, NULL, NULL));
cleanup:
    return st;
}

static clattn_status cl_buf_read(clattn_context *ctx, const clattn_buf *src, size_t src_offset, void *dst,
                                 size_t bytes)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (bytes == 0) return CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clEnqueueReadBuffer(cl->queue, src->dev, CL_TRUE, src_offset, bytes, dst, 0, NULL, NULL));
cleanup:
    return st;
}

static clattn_status cl_finish(clattn_context *ctx)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clFinish(cl->queue));
cleanup:
    return st;
}

/* ---- SDPA plan ----------------------------------------------------------------------------------- */

/* Tile shape of scores.cl / weighted_sum.cl: work-group (wg_n, wg_m); each work-item wpt_m rows x vw
 * columns; tk = reduction chunk staged in local memory. */
typedef struct tile_cfg {
    int wg_m, wg_n, wpt_m, vw, tk;
} tile_cfg;

typedef struct cl_plan {
    clattn_cl_fused *fused;  /* the fused path, when it serves this plan (then nothing below is used) */
    cl_kernel scores, softmax, wsum;
    tile_cfg sc, ws;
    size_t sm_wg;            /* softmax work-group size */
    bool sm_per_row_group;   /* clattn_softmax (a work-group per row) or clattn_softmax_rows */
    cl_mem workspace;        /* S: [nbh, nrows, Lk] floats */
    int64_t nbh, nrows;      /* chunk of (b, h) pairs and of query rows */
    int64_t kchunk;          /* keys per weighted_sum launch (see LOOP_BUDGET) */
    int64_t dchunk;          /* head-dim elements per scores launch (see LOOP_BUDGET) */
    int64_t wl, wr;          /* window clamped to [-1, Lq + Lk] */
} cl_plan;

static void tile_options(const tile_cfg *t, char *buf, size_t n)
{
    snprintf(buf, n, "-D WG_M=%d -D WG_N=%d -D WPT_M=%d -D VW=%d -D TK=%d", t->wg_m, t->wg_n, t->wpt_m, t->vw,
             t->tk);
}

/* First guess of a tile for an output of rows x cols, within the device's work-group limits. */
static tile_cfg tile_guess(const clattn_cl_state *cl, int64_t rows, int64_t cols)
{
    tile_cfg t;
    /* float16 on CPUs: PoCL does not vectorise across work-items, so the vector width is the SIMD
     * width (measured on PoCL/AVX-512: float16 with 4x16 work-groups ~1.3x float8); float4 on GPUs. */
    int vw_pref = (cl->type & CL_DEVICE_TYPE_GPU) ? 4 : 16;
    t.vw = (int)pow2_ceil((uint64_t)(cols > 2 ? cols : 2));
    if (t.vw > vw_pref) t.vw = vw_pref;
    t.wpt_m = rows >= 4 ? 4 : (int)pow2_ceil((uint64_t)(rows > 1 ? rows : 1));
    t.wg_n = (int)pow2_ceil((uint64_t)ceil_div(cols > 1 ? cols : 1, t.vw));
    if (t.wg_n > 64 / t.vw) t.wg_n = 64 / t.vw; /* tiles of at most 64 columns */
    t.wg_m = (int)pow2_ceil((uint64_t)ceil_div(rows > 1 ? rows : 1, t.wpt_m));
    if (t.wg_m > 16) t.wg_m = 16;
    while ((size_t)t.wg_m * (size_t)t.wg_n > cl->max_wg || (size_t)t.wg_n > cl->max_wi_sizes[0] ||
           (size_t)t.wg_m > cl->max_wi_sizes[1]) {
        if (t.wg_m >= t.wg_n && t.wg_m > 1) t.wg_m /= 2;
        else if (t.wg_n > 1) t.wg_n /= 2;
        else break;
    }
    t.tk = 16;
    while (t.tk > 1 && (cl_ulong)t.tk * (cl_ulong)(t.wg_m * t.wpt_m + t.wg_n * t.vw) * 4 > cl->local_mem / 2) t.tk /= 2;
    return t;
}

/* Builds a tiled kernel, shrinking the tile until the kernel's work-group size and local memory fit. */
static clattn_status make_tiled_kernel(clattn_context *ctx, clattn_cl_state *cl, const char *source,
                                       const char *kname, int64_t rows, int64_t cols, tile_cfg *cfg,
                                       cl_kernel *kernel)
{
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel k = NULL;
    char options[160];
    tile_cfg t = tile_guess(cl, rows, cols);
    *kernel = NULL;

    for (;;) {
        size_t kwg = 0;
        cl_ulong klocal = 0;
        tile_options(&t, options, sizeof options);
        CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, source, options, kname, &k));
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(k, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(k, cl->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klocal, &klocal, NULL));
        bool wg_ok = (size_t)t.wg_m * (size_t)t.wg_n <= kwg;
        bool local_ok = klocal <= cl->local_mem;
        if (wg_ok && local_ok) break;
        clReleaseKernel(k);
        k = NULL;
        if (!local_ok && t.tk > 1) {
            t.tk /= 2;
        } else if (t.wg_m >= t.wg_n && t.wg_m > 1) {
            t.wg_m /= 2;
        } else if (t.wg_n > 1) {
            t.wg_n /= 2;
        } else if (t.tk > 1) {
            t.tk /= 2;
        } else {
            st = clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                              "%s: even a 1x1 work-group does not fit this device (kernel work-group size %zu, "
                              "local memory %llu of %llu bytes)",
                              kname, kwg, (unsigned long long)klocal, (unsigned long long)cl->local_mem);
            goto cleanup;
        }
    }
    *cfg = t;
    *kernel = k;
    k = NULL;

cleanup:
    if (k) clReleaseKernel(k);
    return st;
}

/* How many reduction elements (keys for weighted_sum, head-dim elements for scores) one launch of a
 * tiled kernel may cover within LOOP_BUDGET. Per TK elements a work-item runs (counting the iterations
 * of inner and outer loops, none assumed unrolled) the two nested tile-load loops, the multiply-add
 * loops and the outer loop; the write-out loops run once. */
static int64_t reduction_chunk(const tile_cfg *t)
{
    const int64_t tm = (int64_t)t->wg_m * t->wpt_m, tn = (int64_t)t->wg_n * t->vw;
    const int64_t load_rows = ceil_div(tm, t->wg_m) * (ceil_div(t->tk, t->wg_n) + 1); /* q or P tile */
    const int64_t load_k = ceil_div(tn, t->wg_m) * (ceil_div(t->tk, t->wg_n) + 1);    /* k tile (scores) */
    const int64_t load_v = ceil_div(t->tk, t->wg_m) * (ceil_div(tn, t->wg_n) + 1);    /* V tile (weighted_sum) */
    const int64_t per_step = load_rows + (load_k > load_v ? load_k : load_v) + (int64_t)t->tk * (t->wpt_m + 1) + 1;
    int64_t steps = (LOOP_BUDGET - (int64_t)t->wpt_m * (t->vw + 1)) / per_step;
    if (steps < 1) steps = 1;
    return steps * t->tk;
}

/* Softmax: on GPUs one work-group of sm_wg items per row (clattn_softmax); elsewhere one work-item
 * per row with vector loads (clattn_softmax_rows), sm_wg rows per work-group, unless rows are so long
 * that one item would exceed LOOP_BUDGET. */
static clattn_status make_softmax_kernel(clattn_context *ctx, clattn_cl_state *cl, int64_t Lk, bool want_probs,
                                         cl_plan *pd)
{
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel k = NULL;
    char options[64];
    /* The per-row kernel runs about Lk / VW * (3 + VW when writing probs) loop iterations per item. */
    const int sm_vw = (cl->type & CL_DEVICE_TYPE_GPU) ? 4 : 8;
    const int64_t row_iters = ceil_div(Lk, sm_vw) * (3 + (want_probs ? sm_vw : 0)) + 4 * sm_vw;
    const bool per_row_group = (cl->type & CL_DEVICE_TYPE_GPU) != 0 || row_iters > LOOP_BUDGET;
    const char *kname = per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
    size_t w = per_row_group ? 256 : 4;
    if (per_row_group) {
        /* Wider groups for very long rows: each item runs about 3 * Lk / w loop iterations. */
        while (w < 4096 && 3 * ceil_div(Lk, (int64_t)w) + 64 > LOOP_BUDGET) w *= 2;
        size_t need = pow2_ceil((uint64_t)(Lk > 1 ? Lk : 1));
        if (w > need) w = need;
    }
    if (w > pow2_floor(cl->max_wg)) w = pow2_floor(cl->max_wg);
    if (w > pow2_floor(cl->max_wi_sizes[0])) w = pow2_floor(cl->max_wi_sizes[0]);

    for (;;) {
        size_t kwg = 0;
        cl_ulong klocal = 0;
        snprintf(options, sizeof options, "-D SM_WG=%zu -D VW=%d", w, sm_vw);
        CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "softmax.cl", options, kname, &k));
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(k, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(k, cl->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klocal, &klocal, NULL));
        if (w <= kwg && klocal <= cl->local_mem) break;
        clReleaseKernel(k);
        k = NULL;
        if (w == 1) {
            st = clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "%s: a 1-item work-group does not fit this device",
                              kname);
            goto cleanup;
        }
        w /= 2;
    }
    pd->sm_wg = w;
    pd->sm_per_row_group = per_row_group;
    pd->softmax = k;
    k = NULL;

cleanup:
    if (k) clReleaseKernel(k);
    return st;
}

static void cl_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    cl_plan *pd = plan ? plan->backend_data : NULL;
    if (!pd) return;
    clattn_cl_fused_release(pd->fused);
    if (pd->scores) clReleaseKernel(pd->scores);
    if (pd->softmax) clReleaseKernel(pd->softmax);
    if (pd->wsum) clReleaseKernel(pd->wsum);
    if (pd->workspace) clReleaseMemObject(pd->workspace);
    free(pd);
    plan->backend_data = NULL;
}

static clattn_status cl_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    clattn_status st = CLATTN_SUCCESS;
    cl_plan *pd = clattn_calloc(1, sizeof *pd);
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");

    clattn_cl_path path = CLATTN_CL_PATH_AUTO;
    CLATTN_GOTO_IF(clattn_cl_path_from_env(ctx, &path));
    CLATTN_GOTO_IF(clattn_cl_fused_prepare(ctx, cl, p, path, &pd->fused, &plan->workspace_bytes));
    if (pd->fused) {
        snprintf(plan->path, sizeof plan->path, "fused");
        plan->backend_data = pd;
        return CLATTN_SUCCESS;
    }

    const int64_t BH = p->B * p->Hq;
    const int64_t span = p->Lq + p->Lk;
    pd->wl = (p->window_left < 0 || p->window_left > span) ? -1 : p->window_left;
    pd->wr = (p->window_right < 0 || p->window_right > span) ? -1 : p->window_right;

    /* Chunks: as many (b, h) pairs as the workspace cap allows, else rows of one pair; and at most
     * MAX_GRID_GROUPS pairs and rows per launch (some GPUs allow no more groups in grid dims 1 and 2). */
    cl_ulong cap = cl->max_alloc / 2;
    if (cap > WORKSPACE_CAP) cap = WORKSPACE_CAP;
    const int64_t row_bytes = p->Lk * (int64_t)sizeof(float);
    int64_t nbh = BH < MAX_GRID_GROUPS ? BH : MAX_GRID_GROUPS;
    int64_t nrows = p->Lq < MAX_GRID_GROUPS ? p->Lq : MAX_GRID_GROUPS;
    const bool need_ws = row_bytes > 0 && nbh > 0 && nrows > 0 && (p->Dv > 0 || p->want_probs);
    if (need_ws) {
        if ((cl_ulong)row_bytes > cap) {
            st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                              "sdpa: one score row of Lk = %lld keys needs %lld bytes, more than the workspace "
                              "limit of %llu bytes on this device",
                              (long long)p->Lk, (long long)row_bytes, (unsigned long long)cap);
            goto cleanup;
        }
        const int64_t rows_fit = (int64_t)(cap / (cl_ulong)row_bytes);
        if (rows_fit < nrows) {
            nrows = rows_fit;
            nbh = 1;
        } else if (rows_fit / nrows < nbh) {
            nbh = rows_fit / nrows;
        }
    }
    if (nrows > 0) nrows = ceil_div(p->Lq, ceil_div(p->Lq, nrows)); /* even chunks */
    if (nbh > 0) nbh = ceil_div(BH, ceil_div(BH, nbh));
    pd->nbh = nbh;
    pd->nrows = nrows;
    plan->workspace_bytes = need_ws ? (size_t)nbh * (size_t)nrows * (size_t)row_bytes : 0;
    if (need_ws)
        CLATTN_CL_CREATE(pd->workspace, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, plan->workspace_bytes, NULL);

    CLATTN_GOTO_IF(make_tiled_kernel(ctx, cl, "scores.cl", "clattn_scores", pd->nrows, p->Lk, &pd->sc, &pd->scores));
    CLATTN_GOTO_IF(make_softmax_kernel(ctx, cl, p->Lk, p->want_probs, pd));
    CLATTN_GOTO_IF(make_tiled_kernel(ctx, cl, "weighted_sum.cl", "clattn_weighted_sum", pd->nrows, p->Dv, &pd->ws,
                                     &pd->wsum));
    pd->kchunk = reduction_chunk(&pd->ws);
    pd->dchunk = reduction_chunk(&pd->sc);
    plan->backend_data = pd;
    pd = NULL;

cleanup:
    if (pd) {
        plan->backend_data = pd;
        cl_sdpa_release(ctx, plan);
        plan->workspace_bytes = 0;
    }
    return st;
}

/* Enqueues one kernel; the first command of a run waits for the caller's list; *last holds the event
 * of the latest command (when the caller wants one), the previous one is released. */
typedef struct enqueue_state {
    cl_command_queue queue;
    cl_uint num_wait;
    const cl_event *wait_list;
    bool want_event;
    bool first;
    cl_event last;
} enqueue_state;

static clattn_status enqueue(clattn_context *ctx, enqueue_state *es, cl_kernel k, const char *kname,
                             const size_t global[3], const size_t local[3])
{
    cl_event ev = NULL;
    cl_uint nw = es->first ? es->num_wait : 0;
    cl_int err = clEnqueueNDRangeKernel(es->queue, k, 3, NULL, global, local, nw, nw ? es->wait_list : NULL,
                                        es->want_event ? &ev : NULL);
    if (err != CL_SUCCESS)
        return clattn_error(ctx, err == CL_OUT_OF_HOST_MEMORY || err == CL_MEM_OBJECT_ALLOCATION_FAILURE
                                     ? CLATTN_ERROR_OUT_OF_MEMORY
                                     : CLATTN_ERROR_OPENCL,
                            "clEnqueueNDRangeKernel(%s, global %zux%zux%zu, local %zux%zux%zu) failed: %s (%d)", kname,
                            global[0], global[1], global[2], local[0], local[1], local[2],
                            clattn_cl_error_string(err), (int)err);
    if (es->last) clReleaseEvent(es->last);
    es->last = ev;
    es->first = false;
    return CLATTN_SUCCESS;
}

static clattn_status cl_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *bufs,
                                 const clattn_sync *sync)
{
    const cl_uint num_wait = sync->num_wait;
    const cl_event *wait_list = sync->wait_list;
    cl_event *event = sync->event;
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    cl_plan *pd = plan->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    enqueue_state es = {cl->queue, num_wait, wait_list, event != NULL, true, NULL};
    if (event) *event = NULL;
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "sdpa_run: plan was not prepared");
    if ((num_wait > 0) != (wait_list != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "wait list: num_wait is %u but wait_list is %s",
                            num_wait, wait_list ? "non-NULL" : "NULL");

    const int64_t BH = p->B * p->Hq;
    const bool has_rows = BH > 0 && p->Lq > 0;
    const bool do_out = has_rows && p->Dv > 0;
    const bool do_scores = has_rows && p->Lk > 0 && (do_out || p->want_probs);
    if ((do_scores && p->D > 0 && (!bufs->q.dev || !bufs->k.dev)) || (do_out && (!bufs->out.dev || (p->Lk > 0 && !bufs->v.dev))) ||
        (do_scores && p->mask_kind != CLATTN_MASK_NONE && !bufs->mask.dev) ||
        (has_rows && p->use_kv_lengths && !bufs->kv_lengths.dev) || (do_scores && p->want_probs && !bufs->probs.dev))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "sdpa: a required buffer is NULL");
    if (pd->fused) return clattn_cl_fused_run(ctx, cl, pd->fused, p, bufs, num_wait, wait_list, event);

    /* Kernel arguments (types match the kernels: long = cl_long, int = cl_int). */
    clattn_cl_view qv = clattn_cl_view_of(bufs->q.dev, &p->q, true), kv = clattn_cl_view_of(bufs->k.dev, &p->k, true),
                   vv = clattn_cl_view_of(bufs->v.dev, &p->v, true), ov = clattn_cl_view_of(bufs->out.dev, &p->out, true),
                   mv = clattn_cl_view_of(bufs->mask.dev, &p->mask, p->mask_kind != CLATTN_MASK_NONE),
                   pv = clattn_cl_view_of(bufs->probs.dev, &p->probs, p->want_probs);
    cl_mem kvl = p->use_kv_lengths ? bufs->kv_lengths.dev : NULL, S = pd->workspace;
    const cl_int mask_kind = (cl_int)p->mask_kind, use_kvl = p->use_kv_lengths ? 1 : 0, causal = (cl_int)p->causal;
    const cl_int want_probs = p->want_probs ? 1 : 0;
    const cl_long Hq = p->Hq, group = p->Hkv > 0 ? p->Hq / p->Hkv : 1, Lq = p->Lq, Lk = p->Lk, D = p->D, Dv = p->Dv;
    const cl_long wl = pd->wl, wr = pd->wr;
    const cl_float scale = p->scale, softcap = p->softcap;

    for (int64_t bh0 = 0; has_rows && bh0 < BH; bh0 += pd->nbh) {
        const int64_t nbh = (BH - bh0 < pd->nbh) ? BH - bh0 : pd->nbh;
        for (int64_t i0 = 0; i0 < p->Lq; i0 += pd->nrows) {
            const int64_t nrows = (p->Lq - i0 < pd->nrows) ? p->Lq - i0 : pd->nrows;
            const cl_long c_bh0 = bh0, c_i0 = i0, c_nrows = nrows;

            if (do_scores) {
                const int64_t tm = (int64_t)pd->sc.wg_m * pd->sc.wpt_m, tn = (int64_t)pd->sc.wg_n * pd->sc.vw;
                const size_t local[3] = {(size_t)pd->sc.wg_n, (size_t)pd->sc.wg_m, 1};
                const size_t global[3] = {(size_t)ceil_div(p->Lk, tn) * local[0], (size_t)ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Head-dim ranges of at most dchunk elements (one launch unless D is very large); the
                 * last launch applies scale, softcap and mask (mode bits of scores.cl). */
                for (int64_t d0 = 0; d0 == 0 || d0 < p->D; d0 += pd->dchunk) {
                    const cl_long dbeg = d0, dend = (p->D - d0 < pd->dchunk) ? p->D : d0 + pd->dchunk;
                    const cl_int mode = (d0 > 0 ? 1 : 0) | (dend >= p->D ? 2 : 0);
                    const clattn_karg sa[] = {KVIEW(qv), KVIEW(kv), KVIEW(mv),
                                       KARG(mask_kind), KARG(kvl), KARG(use_kvl), KARG(S),
                                       KARG(Hq),   KARG(group), KARG(Lq),     KARG(Lk),      KARG(D),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(dbeg),   KARG(dend), KARG(mode),
                                       KARG(scale), KARG(softcap), KARG(causal), KARG(wl),   KARG(wr)};
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->scores, "clattn_scores", sa, sizeof sa / sizeof sa[0]));
                    CLATTN_GOTO_IF(enqueue(ctx, &es, pd->scores, "clattn_scores", global, local));
                }

                const clattn_karg ma[] = {KARG(S),     KARG(Lk),   KARG(c_nrows), KARG(Hq),   KARG(c_bh0), KARG(c_i0),
                                   KARG(want_probs), KVIEW(pv)};
                const char *sname = pd->sm_per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
                CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->softmax, sname, ma, sizeof ma / sizeof ma[0]));
                const size_t slocal[3] = {pd->sm_wg, 1, 1};
                size_t sglobal[3] = {pd->sm_wg, (size_t)nrows, (size_t)nbh};
                if (!pd->sm_per_row_group) {
                    sglobal[0] = (size_t)ceil_div(nrows, (int64_t)pd->sm_wg) * pd->sm_wg;
                    sglobal[1] = (size_t)nbh;
                    sglobal[2] = 1;
                }
                CLATTN_GOTO_IF(enqueue(ctx, &es, pd->softmax, sname, sglobal, slocal));
            }

            if (do_out) {
                const int64_t tm = (int64_t)pd->ws.wg_m * pd->ws.wpt_m, tn = (int64_t)pd->ws.wg_n * pd->ws.vw;
                const size_t local[3] = {(size_t)pd->ws.wg_n, (size_t)pd->ws.wg_m, 1};
                const size_t global[3] = {(size_t)ceil_div(p->Dv, tn) * local[0], (size_t)ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Key ranges of at most kchunk keys; the first launch writes out (also when Lk = 0). */
                for (int64_t k0 = 0; k0 == 0 || k0 < p->Lk; k0 += pd->kchunk) {
                    const cl_long kbeg = k0, kend = k0 + pd->kchunk;
                    const cl_int accumulate = k0 > 0;
                    const clattn_karg wa[] = {KARG(S),
                                       KVIEW(vv), KVIEW(ov),
                                       KARG(kvl),  KARG(use_kvl),
                                       KARG(Hq),   KARG(group), KARG(Lq),   KARG(Lk),   KARG(Dv),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(kbeg), KARG(kend), KARG(accumulate),
                                       KARG(causal), KARG(wl),  KARG(wr)};
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->wsum, "clattn_weighted_sum", wa, sizeof wa / sizeof wa[0]));
                    CLATTN_GOTO_IF(enqueue(ctx, &es, pd->wsum, "clattn_weighted_sum", global, local));
                }
            }
        }
    }

    if (es.first) {
        /* Nothing to compute (empty problem): still honour the wait list and return an event. */
        CLATTN_CL_CHECK(clEnqueueMarkerWithWaitList(cl->queue, num_wait, num_wait ? wait_list : NULL,
                                                    event ? &es.last : NULL));
    }
    if (event) {
        *event = es.last;
        es.last = NULL;
    }

cleanup:
    if (es.last) clReleaseEvent(es.last);
    return st;
}

/* ---- fp16 staging (kernels/convert.cl; the convert_view slot of clattn_backend_i) ------------------ */

static clattn_status cl_convert_view(clattn_context *ctx, bool to_f16, const clattn_tensor *view, const clattn_buf *f16,
                                     const clattn_buf *f32, int64_t f32_off, const clattn_sync *sync)
{
    const cl_uint num_wait = sync->num_wait;
    const cl_event *wait_list = sync->wait_list;
    cl_event *event = sync->event;
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    static const char *const knames[2] = {"clattn_f16_to_f32", "clattn_f32_to_f16"};
    if (event) *event = NULL;
    /* Both kernels are created once per context (at the first fp16 plan: view NULL) and kept. */
    for (int i = 0; i < 2; i++)
        if (!cl->convert_kernels[i])
            CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "convert.cl", "", knames[i], &cl->convert_kernels[i]));
    if (!view) goto cleanup;
    const char *kname = knames[to_f16];
    cl_kernel k = cl->convert_kernels[to_f16];
    clattn_cl_view hv = clattn_cl_view_of(f16->dev, view, true);
    const cl_mem fm = f32->dev;
    const cl_long d1 = view->dims[1], d2 = view->dims[2], d3 = view->dims[3], n = view->dims[0] * d1 * d2 * d3,
                  foff = f32_off;
    const clattn_karg a[] = {KVIEW(hv), KARG(d1), KARG(d2), KARG(d3), KARG(n), KARG(fm), KARG(foff)};
    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k, kname, a, sizeof a / sizeof a[0]));
    const size_t global = (size_t)ceil_div(n, 64) * 64;
    CLATTN_CL_CHECK(clEnqueueNDRangeKernel(cl->queue, k, 1, NULL, &global, NULL, num_wait,
                                           num_wait ? wait_list : NULL, event));
cleanup:
    return st;
}

/* ---- context ------------------------------------------------------------------------------------- */

static void cl_destroy(clattn_context *ctx)
{
    clattn_cl_state *cl = ctx ? ctx->backend_data : NULL;
    if (!cl) return;
    if (cl->queue) clFinish(cl->queue);
    if (cl->bias_kernel) clReleaseKernel(cl->bias_kernel);
    for (int i = 0; i < 2; i++)
        if (cl->convert_kernels[i]) clReleaseKernel(cl->convert_kernels[i]);
    clattn_cl_program_cache_clear(cl);
    if (cl->queue) clReleaseCommandQueue(cl->queue);
    if (cl->context) clReleaseContext(cl->context);
    if (cl->device) clReleaseDevice(cl->device);
    free(cl);
    ctx->backend_data = NULL;
}

static const clattn_backend_i cl_backend_iface = {
    .name = "opencl",
    .host_memory = false,
    .destroy = cl_destroy,
    .sdpa_prepare = cl_sdpa_prepare,
    .sdpa_release = cl_sdpa_release,
    .sdpa_run = cl_sdpa_run,
    .buf_alloc = cl_buf_alloc,
    .buf_free = cl_buf_free,
    .buf_write = cl_buf_write,
    .buf_read = cl_buf_read,
    .linear = clattn_cl_linear,
    .finish = cl_finish,
    .convert_view = cl_convert_view,
};

/* Copies a string device/platform property into dst (size n); "" and the error on failure. */
static cl_int info_string(cl_device_id dev, cl_platform_id plat, cl_uint param, char *dst, size_t n)
{
    cl_int err = plat ? clGetPlatformInfo(plat, param, n, dst, NULL) : clGetDeviceInfo(dev, param, n, dst, NULL);
    if (err != CL_SUCCESS) {
        /* Too long for dst (CL_INVALID_VALUE): fetch it whole and truncate. */
        size_t size = 0;
        err = plat ? clGetPlatformInfo(plat, param, 0, NULL, &size) : clGetDeviceInfo(dev, param, 0, NULL, &size);
        char *tmp = err == CL_SUCCESS && size > 0 ? clattn_malloc(size) : NULL;
        if (err == CL_SUCCESS && size > 0)
            err = !tmp ? CL_OUT_OF_HOST_MEMORY
                  : plat ? clGetPlatformInfo(plat, param, size, tmp, NULL)
                         : clGetDeviceInfo(dev, param, size, tmp, NULL);
        if (err == CL_SUCCESS && tmp) {
            snprintf(dst, n, "%.*s", (int)(size - 1), tmp);
        } else {
            dst[0] = '\0';
        }
        free(tmp);
    }
    dst[n - 1] = '\0';
    return err;
}

clattn_status clattn_cl_backend_create(clattn_context *ctx, cl_context context, cl_device_id device,
                                       cl_command_queue queue)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_state *cl = NULL;
    if (!ctx || !device || (queue && !context) || (!queue && context))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_cl_backend_create: need a device, and either a context and a queue or neither");

    cl = clattn_calloc(1, sizeof *cl);
    if (!cl) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "OpenCL backend: out of host memory");

    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof cl->platform, &cl->platform, NULL));
    if (queue) {
        cl_context qctx = NULL;
        cl_device_id qdev = NULL;
        cl_command_queue_properties props = 0;
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL));
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL));
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL));
        if (qctx != context || qdev != device) {
            st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "queue: belongs to a different %s than the one passed", qctx != context ? "context" : "device");
            goto cleanup;
        }
        if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
            st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "queue: must be in-order (CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE is set)");
            goto cleanup;
        }
        CLATTN_CL_CHECK(clRetainContext(context));
        cl->context = context;
        CLATTN_CL_CHECK(clRetainCommandQueue(queue));
        cl->queue = queue;
        CLATTN_CL_CHECK(clRetainDevice(device));
        cl->device = device;
    } else {
        CLATTN_CL_CHECK(clRetainDevice(device));
        cl->device = device;
        cl_context_properties cprops[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)cl->platform, 0};
        CLATTN_CL_CREATE(cl->context, clCreateContext, cprops, 1, &device, NULL, NULL);
        CLATTN_CL_CREATE(cl->queue, clCreateCommandQueue, cl->context, device, 0);
    }

    cl_uint cus = 0;
    cl_ulong local_mem = 0;
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof cl->type, &cl->type, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof cl->max_wg, &cl->max_wg, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof cl->max_wi_sizes, cl->max_wi_sizes, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local_mem, &local_mem, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof cl->max_alloc, &cl->max_alloc, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof cl->global_mem, &cl->global_mem, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL));
    cl->local_mem = local_mem;

    clattn_device_info *info = &ctx->info;
    memset(info, 0, sizeof *info);
    info->backend = CLATTN_BACKEND_OPENCL;
    /* The names are not only informational: they choose kernel variants (is_rusticl() in fused.c picks
     * the loop-budget limits llvmpipe needs for correct results), so failing to read them fails creation. */
    cl_int name_err = info_string(NULL, cl->platform, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
    if (name_err == CL_SUCCESS)
        name_err = info_string(device, NULL, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    if (name_err != CL_SUCCESS) {
        st = clattn_cl_fail(ctx, name_err, "clGetPlatformInfo/clGetDeviceInfo(CL_PLATFORM_NAME, CL_DEVICE_NAME)");
        goto cleanup;
    }
    info_string(device, NULL, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    info_string(device, NULL, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    info_string(device, NULL, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    info->num_threads = (int)cus;
    info->global_mem_bytes = cl->global_mem;
    info->local_mem_bytes = cl->local_mem;
    info->max_work_group_size = cl->max_wg;

    ctx->be = &cl_backend_iface;
    ctx->backend_data = cl;
    cl = NULL;

cleanup:
    if (cl) {
        if (cl->queue) clReleaseCommandQueue(cl->queue);
        if (cl->context) clReleaseContext(cl->context);
        if (cl->device) clReleaseDevice(cl->device);
        free(cl);
    }
    return st;
}
