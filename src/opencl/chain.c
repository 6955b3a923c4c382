/*
 * The OpenCL SDPA kernel chain: plan choices (tiles, softmax variant, chunks, workspace) and launches of
 * scores.cl -> softmax.cl -> weighted_sum.cl.
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
 * Serves plans with probabilities and every plan the fused path (fused.c) does not; backend.c chooses.
 */
#include "alloc.h"
#include "chain.h"
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>

#define WORKSPACE_CAP ((cl_ulong)256 << 20) /* bytes */

/* Tile shape of scores.cl / weighted_sum.cl: work-group (wg_n, wg_m); each work-item wpt_m rows x vw
 * columns; tk = reduction chunk staged in local memory. */
typedef struct tile_cfg {
    int wg_m, wg_n, wpt_m, vw, tk;
} tile_cfg;

struct clattn_cl_chain {
    cl_kernel scores, softmax, wsum;
    tile_cfg scores_tile, wsum_tile; /* tiles of scores.cl and weighted_sum.cl */
    size_t sm_wg;            /* softmax work-group size */
    bool sm_per_row_group;   /* clattn_softmax (a work-group per row) or clattn_softmax_rows */
    cl_mem workspace;        /* S: [nbh, nrows, Lk] floats */
    int64_t nbh, nrows;      /* chunk of (b, h) pairs and of query rows */
    int64_t kchunk;          /* keys per weighted_sum launch (see rules.c, LOOP) */
    int64_t dchunk;          /* head-dim elements per scores launch (see rules.c, LOOP) */
    int64_t wl, wr;          /* window clamped to [-1, Lq + Lk] */
};

static void tile_options(const tile_cfg *t, char *buf, size_t n)
{
    snprintf(buf, n, "-D WG_M=%d -D WG_N=%d -D WPT_M=%d -D VW=%d -D TK=%d", t->wg_m, t->wg_n, t->wpt_m, t->vw,
             t->tk);
}

/* First guess of a tile for an output of rows x cols, within the device's work-group limits. */
static tile_cfg tile_guess(const clattn_cl_state *cl, int64_t rows, int64_t cols)
{
    tile_cfg t;
    /* float16 on CPUs, float4 on GPUs (rules.c, VEC) */
    int vw_pref = cl->rules.tile_vw;
    t.vw = (int)clattn_pow2_ceil((uint64_t)(cols > 2 ? cols : 2));
    if (t.vw > vw_pref) t.vw = vw_pref;
    t.wpt_m = rows >= 4 ? 4 : (int)clattn_pow2_ceil((uint64_t)(rows > 1 ? rows : 1));
    t.wg_n = (int)clattn_pow2_ceil((uint64_t)clattn_ceil_div(cols > 1 ? cols : 1, t.vw));
    if (t.wg_n > 64 / t.vw) t.wg_n = 64 / t.vw; /* tiles of at most 64 columns */
    t.wg_m = (int)clattn_pow2_ceil((uint64_t)clattn_ceil_div(rows > 1 ? rows : 1, t.wpt_m));
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
 * tiled kernel may cover within the device's chain_loop_budget (rules.c, LOOP). Per TK elements a work-item runs (counting the iterations
 * of inner and outer loops, none assumed unrolled) the two nested tile-load loops, the multiply-add
 * loops and the outer loop; the write-out loops run once. */
static int64_t reduction_chunk(const clattn_cl_state *cl, const tile_cfg *t)
{
    const int64_t tm = (int64_t)t->wg_m * t->wpt_m, tn = (int64_t)t->wg_n * t->vw;
    const int64_t load_rows = clattn_ceil_div(tm, t->wg_m) * (clattn_ceil_div(t->tk, t->wg_n) + 1); /* q or P tile */
    const int64_t load_k = clattn_ceil_div(tn, t->wg_m) * (clattn_ceil_div(t->tk, t->wg_n) + 1);    /* k tile (scores) */
    const int64_t load_v = clattn_ceil_div(t->tk, t->wg_m) * (clattn_ceil_div(tn, t->wg_n) + 1);    /* V tile (weighted_sum) */
    const int64_t per_step = load_rows + (load_k > load_v ? load_k : load_v) + (int64_t)t->tk * (t->wpt_m + 1) + 1;
    int64_t steps = (cl->rules.chain_loop_budget - (int64_t)t->wpt_m * (t->vw + 1)) / per_step;
    if (steps < 1) steps = 1;
    return steps * t->tk;
}

/* Softmax: where the rules say so (GPUs) one work-group of sm_wg items per row (clattn_softmax); elsewhere one work-item
 * per row with vector loads (clattn_softmax_rows), sm_wg rows per work-group, unless rows are so long
 * that one item would exceed the chain_loop_budget (rules.c). */
static clattn_status make_softmax_kernel(clattn_context *ctx, clattn_cl_state *cl, int64_t Lk, bool want_probs,
                                         clattn_cl_chain *pd)
{
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel k = NULL;
    char options[64];
    /* The per-row kernel runs about Lk / VW * (3 + VW when writing probs) loop iterations per item. */
    const int64_t budget = cl->rules.chain_loop_budget;
    const int sm_vw = cl->rules.softmax_vw;
    const int64_t row_iters = clattn_ceil_div(Lk, sm_vw) * (3 + (want_probs ? sm_vw : 0)) + 4 * sm_vw;
    const bool per_row_group = cl->rules.softmax_row_group || row_iters > budget;
    const char *kname = per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
    size_t w = per_row_group ? 256 : 4;
    if (per_row_group) {
        /* Wider groups for very long rows: each item runs about 3 * Lk / w loop iterations. */
        while (w < 4096 && 3 * clattn_ceil_div(Lk, (int64_t)w) + 64 > budget) w *= 2;
        size_t need = clattn_pow2_ceil((uint64_t)(Lk > 1 ? Lk : 1));
        if (w > need) w = need;
    }
    if (w > clattn_pow2_floor(cl->max_wg)) w = clattn_pow2_floor(cl->max_wg);
    if (w > clattn_pow2_floor(cl->max_wi_sizes[0])) w = clattn_pow2_floor(cl->max_wi_sizes[0]);

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

void clattn_cl_chain_release(clattn_cl_chain *pd)
{
    if (!pd) return;
    if (pd->scores) clReleaseKernel(pd->scores);
    if (pd->softmax) clReleaseKernel(pd->softmax);
    if (pd->wsum) clReleaseKernel(pd->wsum);
    if (pd->workspace) clReleaseMemObject(pd->workspace);
    free(pd);
}

clattn_status clattn_cl_chain_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_sdpa_problem *p,
                                      clattn_cl_chain **chain, size_t *workspace_bytes)
{
    clattn_status st = CLATTN_SUCCESS;
    *chain = NULL;
    *workspace_bytes = 0;
    clattn_cl_chain *pd = clattn_calloc(1, sizeof *pd);
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");

    const int64_t BH = p->B * p->Hq;
    const int64_t span = p->Lq + p->Lk;
    pd->wl = clattn_cl_window_clamp(p->window_left, span);
    pd->wr = clattn_cl_window_clamp(p->window_right, span);

    /* Chunks: as many (b, h) pairs as the workspace cap allows, else rows of one pair; and at most
     * CLATTN_CL_MAX_GRID_GROUPS pairs and rows per launch (some GPUs allow no more groups in grid dims 1 and 2). */
    cl_ulong cap = cl->max_alloc / 2;
    if (cap > WORKSPACE_CAP) cap = WORKSPACE_CAP;
    const int64_t row_bytes = p->Lk * (int64_t)sizeof(float);
    int64_t nbh = BH < CLATTN_CL_MAX_GRID_GROUPS ? BH : CLATTN_CL_MAX_GRID_GROUPS;
    int64_t nrows = p->Lq < CLATTN_CL_MAX_GRID_GROUPS ? p->Lq : CLATTN_CL_MAX_GRID_GROUPS;
    if ((cl_ulong)row_bytes > cap) { /* row_bytes >= 4: every dim of a validated problem is >= 1 */
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
    nrows = clattn_ceil_div(p->Lq, clattn_ceil_div(p->Lq, nrows)); /* even chunks */
    nbh = clattn_ceil_div(BH, clattn_ceil_div(BH, nbh));
    pd->nbh = nbh;
    pd->nrows = nrows;
    *workspace_bytes = (size_t)nbh * (size_t)nrows * (size_t)row_bytes;
    CLATTN_CL_CREATE(pd->workspace, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, *workspace_bytes, NULL);

    CLATTN_GOTO_IF(make_tiled_kernel(ctx, cl, "scores.cl", "clattn_scores", pd->nrows, p->Lk, &pd->scores_tile, &pd->scores));
    CLATTN_GOTO_IF(make_softmax_kernel(ctx, cl, p->Lk, p->want_probs, pd));
    CLATTN_GOTO_IF(make_tiled_kernel(ctx, cl, "weighted_sum.cl", "clattn_weighted_sum", pd->nrows, p->Dv, &pd->wsum_tile,
                                     &pd->wsum));
    pd->kchunk = reduction_chunk(cl, &pd->wsum_tile);
    pd->dchunk = reduction_chunk(cl, &pd->scores_tile);
    *chain = pd;
    pd = NULL;

cleanup:
    if (pd) {
        clattn_cl_chain_release(pd);
        *workspace_bytes = 0;
    }
    return st;
}

clattn_status clattn_cl_chain_run(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_chain *pd,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_launch es = clattn_cl_launch_begin(cl->queue, sync);
    const int64_t BH = p->B * p->Hq; /* every dim of a validated problem is >= 1 (internal.h) */

    /* Kernel arguments (types match the kernels: long = cl_long, int = cl_int). */
    clattn_cl_view qv = clattn_cl_view_of(bufs->q.dev, &p->q, true), kv = clattn_cl_view_of(bufs->k.dev, &p->k, true),
                   vv = clattn_cl_view_of(bufs->v.dev, &p->v, true), ov = clattn_cl_view_of(bufs->out.dev, &p->out, true),
                   mv = clattn_cl_view_of(bufs->mask.dev, &p->mask, p->mask_kind != CLATTN_MASK_NONE),
                   pv = clattn_cl_view_of(bufs->probs.dev, &p->probs, p->want_probs);
    cl_mem kvl = p->use_kv_lengths ? bufs->kv_lengths.dev : NULL, S = pd->workspace;
    const cl_int mask_kind = (cl_int)p->mask_kind, use_kvl = p->use_kv_lengths ? 1 : 0, causal = (cl_int)p->causal;
    const cl_int want_probs = p->want_probs ? 1 : 0;
    const cl_long Hq = p->Hq, group = p->Hq / p->Hkv, Lq = p->Lq, Lk = p->Lk, D = p->D, Dv = p->Dv;
    const cl_long wl = pd->wl, wr = pd->wr;
    const cl_float scale = p->scale, softcap = p->softcap;

    for (int64_t bh0 = 0; bh0 < BH; bh0 += pd->nbh) {
        const int64_t nbh = (BH - bh0 < pd->nbh) ? BH - bh0 : pd->nbh;
        for (int64_t i0 = 0; i0 < p->Lq; i0 += pd->nrows) {
            const int64_t nrows = (p->Lq - i0 < pd->nrows) ? p->Lq - i0 : pd->nrows;
            const cl_long c_bh0 = bh0, c_i0 = i0, c_nrows = nrows;

            { /* 1. scores.cl: S = masked softcap(q·kᵀ·scale) for these rows */
                const int64_t tm = (int64_t)pd->scores_tile.wg_m * pd->scores_tile.wpt_m, tn = (int64_t)pd->scores_tile.wg_n * pd->scores_tile.vw;
                const size_t local[3] = {(size_t)pd->scores_tile.wg_n, (size_t)pd->scores_tile.wg_m, 1};
                const size_t global[3] = {(size_t)clattn_ceil_div(p->Lk, tn) * local[0], (size_t)clattn_ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Head-dim ranges of at most dchunk elements (one launch unless D is very large); the
                 * last launch applies scale, softcap and mask (mode bits of scores.cl). */
                for (int64_t d0 = 0; d0 < p->D; d0 += pd->dchunk) {
                    const cl_long dbeg = d0, dend = (p->D - d0 < pd->dchunk) ? p->D : d0 + pd->dchunk;
                    const cl_int mode = (d0 > 0 ? 1 : 0) | (dend >= p->D ? 2 : 0);
                    const clattn_karg sa[] = {KVIEW(qv), KVIEW(kv), KVIEW(mv),
                                       KARG(mask_kind), KARG(kvl), KARG(use_kvl), KARG(S),
                                       KARG(Hq),   KARG(group), KARG(Lq),     KARG(Lk),      KARG(D),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(dbeg),   KARG(dend), KARG(mode),
                                       KARG(scale), KARG(softcap), KARG(causal), KARG(wl),   KARG(wr)};
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->scores, "clattn_scores", sa, sizeof sa / sizeof sa[0]));
                    CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->scores, "clattn_scores", global, local));
                }
            }
            { /* 2. softmax.cl: P = softmax(S) in place (+ probabilities) */
                const clattn_karg ma[] = {KARG(S),     KARG(Lk),   KARG(c_nrows), KARG(Hq),   KARG(c_bh0), KARG(c_i0),
                                   KARG(want_probs), KVIEW(pv)};
                const char *sname = pd->sm_per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
                CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->softmax, sname, ma, sizeof ma / sizeof ma[0]));
                const size_t slocal[3] = {pd->sm_wg, 1, 1};
                size_t sglobal[3] = {pd->sm_wg, (size_t)nrows, (size_t)nbh};
                if (!pd->sm_per_row_group) {
                    sglobal[0] = (size_t)clattn_ceil_div(nrows, (int64_t)pd->sm_wg) * pd->sm_wg;
                    sglobal[1] = (size_t)nbh;
                    sglobal[2] = 1;
                }
                CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->softmax, sname, sglobal, slocal));
            }
            { /* 3. weighted_sum.cl: out = P·V */
                const int64_t tm = (int64_t)pd->wsum_tile.wg_m * pd->wsum_tile.wpt_m, tn = (int64_t)pd->wsum_tile.wg_n * pd->wsum_tile.vw;
                const size_t local[3] = {(size_t)pd->wsum_tile.wg_n, (size_t)pd->wsum_tile.wg_m, 1};
                const size_t global[3] = {(size_t)clattn_ceil_div(p->Dv, tn) * local[0], (size_t)clattn_ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Key ranges of at most kchunk keys; the first launch writes out. */
                for (int64_t k0 = 0; k0 < p->Lk; k0 += pd->kchunk) {
                    const cl_long kbeg = k0, kend = k0 + pd->kchunk;
                    const cl_int accumulate = k0 > 0;
                    const clattn_karg wa[] = {KARG(S),
                                       KVIEW(vv), KVIEW(ov),
                                       KARG(kvl),  KARG(use_kvl),
                                       KARG(Hq),   KARG(group), KARG(Lq),   KARG(Lk),   KARG(Dv),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(kbeg), KARG(kend), KARG(accumulate),
                                       KARG(causal), KARG(wl),  KARG(wr)};
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->wsum, "clattn_weighted_sum", wa, sizeof wa / sizeof wa[0]));
                    CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->wsum, "clattn_weighted_sum", global, local));
                }
            }
        }
    }

cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
