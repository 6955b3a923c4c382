/*
 * The fused OpenCL SDPA path: launches of kernels/fused.cl (CPU devices) or kernels/fused_gpu.cl (GPU
 * devices, path "fused-gpu"; same arguments, grid and workspace layout) with the work-group shape, tiles,
 * key partitions and workspace size the planner chose (planner.c: the choices and their reasons).
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   paged (path "fused-paged" / "fused-gpu-paged"): k, v pools [num_blocks, block_size, Hkv, D] (Dv) read
 *   through block_table int32 [B, max_blocks] (kernels/common.cl, CLATTN_PAGED)
 *   mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0)
 *
 * Rows of one kv pair (b, hk) are its group·Lq query rows, interleaved by query position (see the
 * kernel's banner), so the heads of a GQA group share K/V tiles. A work-group holds BM rows (fused.cl:
 * WG·RPW; fused_gpu.cl: TR·RT).
 * Keys split into np > 1 partitions leave partials in a workspace of [nbh, np, nrr, DVP + 4] floats,
 * which clattn_fused_merge combines; larger problems run in chunks of kv pairs (or of rows of one pair).
 */
#include "alloc.h"
#include "fused.h"
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_cl_fused {
    cl_kernel kernel, merge;
    const char *kname, *mname; /* their __kernel names (messages) */
    clattn_cl_fused_cfg cfg; /* the planner's choices (planner.h) */
    int64_t wl, wr;
    cl_mem ws;
};

void clattn_cl_fused_release(clattn_cl_fused *fl)
{
    if (!fl) return;
    if (fl->kernel) clReleaseKernel(fl->kernel);
    if (fl->merge) clReleaseKernel(fl->merge);
    if (fl->ws) clReleaseMemObject(fl->ws);
    free(fl);
}

clattn_status clattn_cl_fused_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_plan_cfg *cfg,
                                      cl_kernel kernels[CLATTN_CL_SLOTS], clattn_cl_fused **fl)
{
    clattn_status st = CLATTN_SUCCESS;
    *fl = NULL;
    clattn_cl_fused *f = clattn_calloc(1, sizeof *f);
    if (!f) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");
    f->cfg = cfg->f;
    f->wl = cfg->wl;
    f->wr = cfg->wr;
    if (cfg->workspace_bytes > 0)
        CLATTN_CL_CREATE(f->ws, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, cfg->workspace_bytes, NULL);
    f->kname = cfg->kernels[CLATTN_CL_SLOT_FUSED].name;
    f->mname = cfg->kernels[CLATTN_CL_SLOT_MERGE].name;
    f->kernel = kernels[CLATTN_CL_SLOT_FUSED];
    f->merge = kernels[CLATTN_CL_SLOT_MERGE];
    kernels[CLATTN_CL_SLOT_FUSED] = kernels[CLATTN_CL_SLOT_MERGE] = NULL;
    *fl = f;
    f = NULL;

cleanup:
    clattn_cl_fused_release(f);
    return st;
}

clattn_status clattn_cl_fused_run(clattn_context *ctx, clattn_cl_state *cl, clattn_cl_fused *f,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_launch es = clattn_cl_launch_begin(cl->queue, sync);

    clattn_cl_view qv = clattn_cl_view_of(bufs->q.dev, &p->q, true), kv = clattn_cl_view_of(bufs->k.dev, &p->k, true),
                   vv = clattn_cl_view_of(bufs->v.dev, &p->v, true), ov = clattn_cl_view_of(bufs->out.dev, &p->out, true),
                   mv = clattn_cl_view_of(bufs->mask.dev, &p->mask, p->mask_kind != CLATTN_MASK_NONE),
                   lv = clattn_cl_view_of(bufs->lse.dev, &p->lse, p->want_lse);
    cl_mem kvl = p->use_kv_lengths ? bufs->kv_lengths.dev : NULL, ws = f->ws;
    const cl_int want_lse = p->want_lse ? 1 : 0;
    const cl_int mask_kind = (cl_int)p->mask_kind, use_kvl = p->use_kv_lengths ? 1 : 0, causal = (cl_int)p->causal;
    const cl_long Hkv = p->Hkv, group = p->Hq / p->Hkv, Lq = p->Lq, Lk = p->Lk, Dv = p->Dv;
    const cl_long kpart = f->cfg.kpart, wl = f->wl, wr = f->wr;
    const cl_int np = f->cfg.np;
    const cl_float scale = p->scale, softcap = p->softcap;
    const int64_t pairs = p->B * p->Hkv, rows = p->Lq * group, bm = f->cfg.bm;
    /* Paged K/V: the block table and the pool size after the other arguments (CLATTN_PAGED_ARGS, common.cl). */
    cl_mem bt = p->paged ? bufs->block_table.dev : NULL;
    const cl_long maxb = p->max_blocks, nblk = p->num_blocks;
    const cl_uint unpaged = p->paged ? 0 : 3; /* arguments left off when not paged */

    for (int64_t bh0 = 0; rows > 0 && bh0 < pairs; bh0 += f->cfg.nbh) {
        const int64_t nbh = clattn_min_i64(f->cfg.nbh, pairs - bh0);
        for (int64_t r0 = 0; r0 < rows; r0 += f->cfg.nrr) {
            const int64_t nrr = clattn_min_i64(f->cfg.nrr, rows - r0);
            const cl_long c_bh0 = bh0, c_rr0 = r0, c_nrr = nrr;
            const clattn_karg fa[] = {KVIEW(qv), KVIEW(kv), KVIEW(vv), KVIEW(mv),
                                 KARG(mask_kind), KARG(kvl), KARG(use_kvl),
                                 KVIEW(ov),
                                 KARG(ws),
                                 KARG(Hkv),  KARG(group), KARG(Lq), KARG(Lk), KARG(Dv),
                                 KARG(c_bh0), KARG(c_rr0), KARG(c_nrr), KARG(kpart), KARG(np),
                                 KARG(scale), KARG(softcap), KARG(causal), KARG(wl), KARG(wr),
                                 KARG(want_lse), KVIEW(lv), KARG(bt), KARG(maxb), KARG(nblk)};
            CLATTN_GOTO_IF(clattn_cl_set_args(ctx, f->kernel, f->kname, fa, sizeof fa / sizeof fa[0] - unpaged));
            const size_t local[3] = {(size_t)f->cfg.wg, 1, 1};
            const size_t global[3] = {(size_t)clattn_ceil_div(nrr, bm) * (size_t)f->cfg.wg, (size_t)np, (size_t)nbh};
            CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, f->kernel, f->kname, global, local));
            if (np > 1) {
                const clattn_karg ma[] = {KARG(ws),   KVIEW(ov),  KARG(Hkv),   KARG(group), KARG(Dv),
                                     KARG(c_bh0), KARG(c_rr0), KARG(c_nrr), KARG(np), KARG(want_lse), KVIEW(lv)};
                CLATTN_GOTO_IF(clattn_cl_set_args(ctx, f->merge, f->mname, ma, sizeof ma / sizeof ma[0]));
                const size_t mlocal[3] = {f->cfg.merge_wg, 1, 1};
                const size_t mglobal[3] = {(size_t)clattn_ceil_div(p->Dv, (int64_t)f->cfg.merge_wg) * f->cfg.merge_wg,
                                           (size_t)nrr, (size_t)nbh};
                CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, f->merge, f->mname, mglobal, mlocal));
            }
        }
    }
cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
