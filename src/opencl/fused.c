/*
 * The fused OpenCL SDPA path: plan choices (work-group shape, tiles, key partitions, workspace) and
 * launches of kernels/fused.cl.
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0)
 *
 * Rows of one kv pair (b, hk) are its group·Lq query rows, interleaved by query position (see the
 * kernel's banner), so the heads of a GQA group share K/V tiles. A work-group holds BM = WG·RPW rows.
 * Keys are split into np partitions of kpart keys when that is needed to use the whole device (few
 * row blocks, e.g. decode) or to stay under Mesa llvmpipe's loop limit; partials go to a workspace of
 * [nbh, np, nrr, DVP + 4] floats and clattn_fused_merge combines them. The workspace is bounded by
 * FLASH_WORKSPACE_CAP (32 MiB) and half of CL_DEVICE_MAX_MEM_ALLOC_SIZE; larger problems run in chunks of kv
 * pairs (or of rows of one pair).
 */
#include "alloc.h"
#include "fused.h"
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Partials of split-key runs at most (bytes; the target is <= 64 MiB of extra memory for any
 * problem without probabilities; larger problems run in more launches). */
#define FLASH_WORKSPACE_CAP ((cl_ulong)32 << 20)
#define FLASH_MAX_D 256                           /* D and Dv served (q row and accumulator in registers) */
#define FLASH_HDR 4 /* partial header: m, l, has, pad */

struct clattn_cl_fused {
    cl_kernel kernel, merge;
    int wg, rpw, tk, vk, vv, dvp, klw, krow, use_fma, direct, sw_prefetch;
    size_t merge_wg;
    int64_t kpart; /* keys per partition */
    int np;        /* partitions (1: the fused kernel writes out directly) */
    int64_t nbh;   /* kv pairs per launch */
    int64_t nrr;   /* rows per launch (multiple of BM unless it is all rows of a pair) */
    int64_t wl, wr;
    cl_mem ws;
};


/* Loop iterations of one work-item per key tile and once per launch (an over-estimate: every loop
 * is counted as if it were not unrolled). */
static int64_t iters_per_tile(const clattn_cl_fused *f, int64_t D)
{
    const int64_t nkv = f->tk / f->vk, ndv = f->dvp / f->vv;
    return clattn_ceil_div((int64_t)f->tk * D, f->wg) + clattn_ceil_div((int64_t)f->tk * f->dvp, f->wg) + 2 +
           f->rpw * nkv + D * (1 + nkv * (1 + f->rpw)) + f->rpw * (2 * nkv * (2 + f->vk) + ndv + 2) +
           (int64_t)f->tk * (1 + f->rpw * (1 + ndv)) + (int64_t)f->rpw * f->tk * (D / f->klw + 2) + 4;
}
static int64_t iters_fixed(const clattn_cl_fused *f, int64_t D, int64_t Dv)
{
    const int64_t ndv = f->dvp / f->vv;
    return f->rpw * (D + ndv + 4) + f->rpw * ndv * (1 + f->vv) + Dv + 64;
}

/* Picks VV (vector width over Dv) <= vmax with at most 25% padding, and DVP. */
static void pick_vv(int64_t Dv, int vmax, int *vv, int *dvp)
{
    int w = vmax;
    while (w > 2 && (clattn_ceil_div(Dv, w) * w - Dv) * 4 > Dv) w /= 2;
    *vv = w;
    *dvp = (int)(clattn_ceil_div(Dv, w) * w);
}

static clattn_status build(clattn_context *ctx, clattn_cl_state *cl, clattn_cl_fused *f, int64_t D, bool *fits)
{
    clattn_status st = CLATTN_SUCCESS;
    char opts[256];
    size_t kwg = 0;
    cl_ulong klocal = 0;
    *fits = false;
    const int direct = f->direct && f->wg == 1;
    snprintf(opts, sizeof opts, "-D DK=%lld -D DVP=%d -D VV=%d -D VK=%d -D TK=%d -D WG=%d -D RPW=%d -D KLW=%d -D KROW=%d "
             "-D USE_FMA=%d -D DIRECT=%d -D SW_PREFETCH=%d",
             (long long)D, f->dvp, f->vv, f->vk, f->tk, f->wg, f->rpw, f->klw, f->krow, f->use_fma, direct,
             direct && f->sw_prefetch);
    CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "fused.cl", opts, "clattn_fused", &f->kernel));
    CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(f->kernel, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
    CLATTN_CL_CHECK(
        clGetKernelWorkGroupInfo(f->kernel, cl->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof klocal, &klocal, NULL));
    if ((size_t)f->wg > kwg || klocal > cl->local_mem) {
        clReleaseKernel(f->kernel);
        f->kernel = NULL;
        return CLATTN_SUCCESS;
    }
    CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "fused.cl", opts, "clattn_fused_merge", &f->merge));
    kwg = 0;
    CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(f->merge, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
    f->merge_wg = 1;
    while (f->merge_wg * 2 <= (size_t)clattn_min_i64(64, f->dvp) && f->merge_wg * 2 <= kwg && f->merge_wg * 2 <= cl->max_wi_sizes[0])
        f->merge_wg *= 2;
    *fits = true;
cleanup:
    return st;
}

void clattn_cl_fused_release(clattn_cl_fused *fl)
{
    if (!fl) return;
    if (fl->kernel) clReleaseKernel(fl->kernel);
    if (fl->merge) clReleaseKernel(fl->merge);
    if (fl->ws) clReleaseMemObject(fl->ws);
    free(fl);
}

clattn_status clattn_cl_fused_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_sdpa_problem *p,
                                      clattn_kernel_path path, clattn_cl_fused **fl, size_t *workspace_bytes)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_fused *f = NULL;
    *fl = NULL;
    *workspace_bytes = 0;
    if (path == CLATTN_KERNEL_PATH_CHAIN || p->want_probs) return CLATTN_SUCCESS;
    if (p->D > FLASH_MAX_D || p->Dv > FLASH_MAX_D) return CLATTN_SUCCESS; /* sizes are >= 1 (internal.h) */
    const clattn_cl_rules *rules = &cl->rules; /* rules.c: VEC, LOOP, PREF */

    f = clattn_calloc(1, sizeof *f);
    if (!f) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");
    const int64_t span = p->Lq + p->Lk;
    f->wl = clattn_cl_window_clamp(p->window_left, span);
    f->wr = clattn_cl_window_clamp(p->window_right, span);

    const int64_t group = p->Hq / p->Hkv;
    const int64_t rows = p->Lq * group; /* rows per kv pair */
    const int64_t pairs = p->B * p->Hkv;

    /* Shapes: on CPUs (PoCL) explicit float16 over keys and Dv, two rows per work-item (independent
     * accumulators); PoCL does not vectorise across work-items. llvmpipe vectorises across work-items
     * itself: narrow vectors, one row each. GPUs: float4, one row per work-item. */
    int vmax = rules->fused_vmax;
    f->vk = vmax;
    pick_vv(p->Dv, vmax, &f->vv, &f->dvp);
    f->use_fma = cl->fma ? 1 : 0; /* hardware fma (CL_DEVICE_SINGLE_FP_CONFIG, or the device profile's) */
    f->klw = vmax;
    while (f->klw > 1 && p->D % f->klw != 0) f->klw /= 2;
    /* Few rows per kv pair (decode): K row-major and one dot product per key, since a transposed
     * tile would cost more to store than the few rows gain from it. */
    f->krow = (rows <= 8 && f->klw >= 4) ? 1 : 0;
    /* Rows per work-item: independent accumulators. Measured on PoCL/AVX-512 (CPU time, D = 64..256):
     * 4 rows x 32 items for Dv <= 128, 2 x 32 above; with <= 8 rows per kv pair (decode) one work-item
     * takes them all (no work-item loop around the tile copies). */
    f->rpw = 1;
    int wg_pref = rules->fused_wg;
    if (rules->fused_multi_row) {
        if (rows <= 8) {
            f->rpw = (int)clattn_pow2_ceil(rows);
            wg_pref = 1;
        } else if (f->dvp <= 128) {
            f->rpw = 4; /* wg 32: 128 rows share each staged K/V tile (12 % less CPU time than 16 at
                         * D = 64, L = 512..2048, measured with clattn-bench cpu_ms on PoCL 3.1) */
        } else {
            f->rpw = 2;
        }
    }
    int64_t want_wg = clattn_ceil_div(rows, f->rpw);
    /* CPU decode with one work-item per group: K and V rows straight from global memory (no tile copy;
     * local memory is ordinary cache there), when both are unit-stride and Dv needs no padding. */
    f->direct = (rules->fused_multi_row && f->krow && wg_pref == 1 && f->klw > 1 && (p->D == 1 || p->k.strides[3] == 1) &&
                 (p->Dv == 1 || p->v.strides[3] == 1) && f->dvp == p->Dv)
                    ? 1
                    : 0;
    /* PoCL (Clang inside): software prefetch in the direct decode kernel (see fused.cl) */
    f->sw_prefetch = rules->sw_prefetch;
    f->wg = (int)clattn_min_i64(wg_pref, (int)clattn_pow2_ceil(want_wg));
    while ((size_t)f->wg > cl->max_wg || (size_t)f->wg > cl->max_wi_sizes[0]) f->wg /= 2;
    if (f->wg < 1) f->wg = 1;
    f->tk = rules->fused_tk;
    /* Local memory: K and V tiles, at most half of the device's local memory. */
    while (f->tk > f->vk && (cl_ulong)f->tk * (cl_ulong)(p->D + f->dvp) * 4 > cl->local_mem / 2) f->tk /= 2;
    if ((cl_ulong)f->tk * (cl_ulong)(p->D + f->dvp) * 4 > cl->local_mem) goto unsupported;

    for (;;) {
        bool fits = false;
        CLATTN_GOTO_IF(build(ctx, cl, f, p->D, &fits));
        if (fits) break;
        if (f->wg > 1) f->wg /= 2;
        else if (f->tk > f->vk) f->tk /= 2;
        else goto unsupported;
    }
    const int64_t bm = (int64_t)f->wg * f->rpw;
    const int64_t qblocks = clattn_ceil_div(rows, bm);

    /* Key partitions. */
    int64_t kpart = clattn_max_i64(p->Lk, 1);
    if (rules->fused_loop_budget > 0) {
        const int64_t per = iters_per_tile(f, p->D), fixed = iters_fixed(f, p->D, p->Dv);
        const int64_t tiles = (rules->fused_loop_budget - fixed) / per;
        if (tiles < 1) goto unsupported;
        kpart = clattn_min_i64(kpart, tiles * f->tk);
    }
    {
        /* Enough work-groups to fill the device: split keys into partitions of >= 256 keys. */
        const int64_t cus = cl->compute_units > 0 ? cl->compute_units : 1;
        const int64_t want_groups = 8 * cus;
        const int64_t groups = qblocks * pairs;
        if (groups < want_groups && p->Lk >= 512) {
            int64_t np = clattn_min_i64(clattn_ceil_div(want_groups, groups), p->Lk / 256);
            int64_t kp = clattn_ceil_div(clattn_ceil_div(p->Lk, np), f->tk) * f->tk;
            if (kp < kpart) kpart = kp;
        }
    }
    const int64_t np = clattn_max_i64(1, clattn_ceil_div(p->Lk, kpart));
    if (np > CLATTN_CL_MAX_GRID_GROUPS) goto unsupported;
    f->kpart = kpart;
    f->np = (int)np;

    /* Chunks of kv pairs and rows; workspace for partials when np > 1. */
    f->nbh = clattn_min_i64(clattn_max_i64(pairs, 1), CLATTN_CL_MAX_GRID_GROUPS);
    f->nrr = rows;
    if (np > 1 && pairs > 0 && rows > 0) {
        cl_ulong cap = cl->max_alloc / 2;
        if (cap > FLASH_WORKSPACE_CAP) cap = FLASH_WORKSPACE_CAP;
        const cl_ulong row_bytes = (cl_ulong)np * (cl_ulong)(f->dvp + FLASH_HDR) * sizeof(float);
        const cl_ulong pair_bytes = row_bytes * (cl_ulong)rows;
        if (pair_bytes <= cap) {
            f->nbh = clattn_min_i64(f->nbh, (int64_t)(cap / pair_bytes));
            f->nbh = clattn_ceil_div(pairs, clattn_ceil_div(pairs, f->nbh)); /* even chunks */
        } else {
            f->nbh = 1;
            f->nrr = (int64_t)(cap / row_bytes) / bm * bm;
            if (f->nrr < bm) goto unsupported;
        }
        *workspace_bytes = (size_t)((cl_ulong)f->nbh * (cl_ulong)f->nrr * row_bytes);
        CLATTN_CL_CREATE(f->ws, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, *workspace_bytes, NULL);
    }
    *fl = f;
    return CLATTN_SUCCESS;

unsupported:
    clattn_cl_fused_release(f);
    *workspace_bytes = 0;
    return CLATTN_SUCCESS;
cleanup:
    clattn_cl_fused_release(f);
    *workspace_bytes = 0;
    return st;
}


clattn_status clattn_cl_fused_run(clattn_context *ctx, clattn_cl_state *cl, clattn_cl_fused *f,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_launch es = clattn_cl_launch_begin(cl->queue, sync);

    clattn_cl_view qv = clattn_cl_view_of(bufs->q.dev, &p->q, true), kv = clattn_cl_view_of(bufs->k.dev, &p->k, true),
                   vv = clattn_cl_view_of(bufs->v.dev, &p->v, true), ov = clattn_cl_view_of(bufs->out.dev, &p->out, true),
                   mv = clattn_cl_view_of(bufs->mask.dev, &p->mask, p->mask_kind != CLATTN_MASK_NONE);
    cl_mem kvl = p->use_kv_lengths ? bufs->kv_lengths.dev : NULL, ws = f->ws;
    const cl_int mask_kind = (cl_int)p->mask_kind, use_kvl = p->use_kv_lengths ? 1 : 0, causal = (cl_int)p->causal;
    const cl_long Hkv = p->Hkv, group = p->Hq / p->Hkv, Lq = p->Lq, Lk = p->Lk, Dv = p->Dv;
    const cl_long kpart = f->kpart, wl = f->wl, wr = f->wr;
    const cl_int np = f->np;
    const cl_float scale = p->scale, softcap = p->softcap;
    const int64_t pairs = p->B * p->Hkv, rows = p->Lq * group, bm = (int64_t)f->wg * f->rpw;

    for (int64_t bh0 = 0; rows > 0 && bh0 < pairs; bh0 += f->nbh) {
        const int64_t nbh = clattn_min_i64(f->nbh, pairs - bh0);
        for (int64_t r0 = 0; r0 < rows; r0 += f->nrr) {
            const int64_t nrr = clattn_min_i64(f->nrr, rows - r0);
            const cl_long c_bh0 = bh0, c_rr0 = r0, c_nrr = nrr;
            const clattn_karg fa[] = {KVIEW(qv), KVIEW(kv), KVIEW(vv), KVIEW(mv),
                                 KARG(mask_kind), KARG(kvl), KARG(use_kvl),
                                 KVIEW(ov),
                                 KARG(ws),
                                 KARG(Hkv),  KARG(group), KARG(Lq), KARG(Lk), KARG(Dv),
                                 KARG(c_bh0), KARG(c_rr0), KARG(c_nrr), KARG(kpart), KARG(np),
                                 KARG(scale), KARG(softcap), KARG(causal), KARG(wl), KARG(wr)};
            CLATTN_GOTO_IF(clattn_cl_set_args(ctx, f->kernel, "clattn_fused", fa, sizeof fa / sizeof fa[0]));
            const size_t local[3] = {(size_t)f->wg, 1, 1};
            const size_t global[3] = {(size_t)clattn_ceil_div(nrr, bm) * (size_t)f->wg, (size_t)np, (size_t)nbh};
            CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, f->kernel, "clattn_fused", global, local));
            if (np > 1) {
                const clattn_karg ma[] = {KARG(ws),   KVIEW(ov),  KARG(Hkv),   KARG(group), KARG(Dv),
                                     KARG(c_bh0), KARG(c_rr0), KARG(c_nrr), KARG(np)};
                CLATTN_GOTO_IF(clattn_cl_set_args(ctx, f->merge, "clattn_fused_merge", ma, sizeof ma / sizeof ma[0]));
                const size_t mlocal[3] = {f->merge_wg, 1, 1};
                const size_t mglobal[3] = {(size_t)clattn_ceil_div(p->Dv, (int64_t)f->merge_wg) * f->merge_wg,
                                           (size_t)nrr, (size_t)nbh};
                CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, f->merge, "clattn_fused_merge", mglobal, mlocal));
            }
        }
    }
cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
