/*
 * The OpenCL SDPA kernel chain: launches of scores.cl -> softmax.cl -> weighted_sum.cl with the kernels,
 * tiles, chunks and workspace size the planner chose (planner.c: the choices and their reasons).
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   probs: [B, Hq, Lq, Lk]  mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0)
 *   paged (path "chain-paged"): k, v pools [num_blocks, block_size, Hkv, D] (Dv) read in place through
 *   block_table int32 [B, max_blocks] by scores.cl and weighted_sum.cl (kernels/common.cl, CLATTN_PAGED)
 *
 * One execution runs, per chunk of (batch, head) pairs and query rows:
 *   scores.cl       S = masked softcap(q·kᵀ·scale) + additive mask  (-inf where not allowed)
 *   softmax.cl      P = softmax(S) per row, in place; also written to probs when wanted
 *   weighted_sum.cl out = P·V, skipping zero-probability keys
 * S lives in a per-plan workspace of [nbh, nrows, Lk] floats (planner.c bounds it), followed for a 16-bit plan
 * whose keys take several weighted_sum launches by [nbh, nrows, Dv] float32 partial sums; problems larger than
 * that are processed in chunks of (b, h) pairs, or of query rows. All commands go to one in-order queue.
 * Serves plans with probabilities and every plan the fused path (fused.c) does not; backend.c chooses.
 */
#include "alloc.h"
#include "chain.h"
#include "launch.h"

#include <stdio.h>
#include <stdlib.h>

struct clattn_cl_chain {
    cl_kernel scores, softmax, wsum;
    clattn_cl_chain_cfg cfg; /* the planner's choices (planner.h) */
    cl_mem workspace;        /* S: [nbh, nrows, Lk] floats */
    int64_t wl, wr;          /* window clamped to [-1, Lq + Lk] */
};

void clattn_cl_chain_release(clattn_cl_chain *pd)
{
    if (!pd) return;
    if (pd->scores) clReleaseKernel(pd->scores);
    if (pd->softmax) clReleaseKernel(pd->softmax);
    if (pd->wsum) clReleaseKernel(pd->wsum);
    if (pd->workspace) clReleaseMemObject(pd->workspace);
    free(pd);
}

clattn_status clattn_cl_chain_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_plan_cfg *cfg,
                                      cl_kernel kernels[CLATTN_CL_SLOTS], clattn_cl_chain **chain)
{
    clattn_status st = CLATTN_SUCCESS;
    *chain = NULL;
    clattn_cl_chain *pd = clattn_calloc(1, sizeof *pd);
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");
    pd->cfg = cfg->c;
    pd->wl = cfg->wl;
    pd->wr = cfg->wr;
    CLATTN_CL_CREATE(pd->workspace, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, cfg->workspace_bytes, NULL);
    pd->scores = kernels[CLATTN_CL_SLOT_SCORES];
    pd->softmax = kernels[CLATTN_CL_SLOT_SOFTMAX];
    pd->wsum = kernels[CLATTN_CL_SLOT_WSUM];
    kernels[CLATTN_CL_SLOT_SCORES] = kernels[CLATTN_CL_SLOT_SOFTMAX] = kernels[CLATTN_CL_SLOT_WSUM] = NULL;
    *chain = pd;
    pd = NULL;

cleanup:
    clattn_cl_chain_release(pd);
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
                   pv = clattn_cl_view_of(bufs->probs.dev, &p->probs, p->want_probs),
                   lv = clattn_cl_view_of(bufs->lse.dev, &p->lse, p->want_lse);
    cl_mem kvl = p->use_kv_lengths ? bufs->kv_lengths.dev : NULL, S = pd->workspace;
    const cl_int mask_kind = (cl_int)p->mask_kind, use_kvl = p->use_kv_lengths ? 1 : 0, causal = (cl_int)p->causal;
    const cl_int want_probs = p->want_probs ? 1 : 0, want_lse = p->want_lse ? 1 : 0;
    const cl_long Hq = p->Hq, group = p->Hq / p->Hkv, Lq = p->Lq, Lk = p->Lk, D = p->D, Dv = p->Dv;
    const cl_long wl = pd->wl, wr = pd->wr;
    const cl_float scale = p->scale, softcap = p->softcap;
    /* Paged K/V: the block table and the pool size after the other arguments of scores.cl and weighted_sum.cl
     * (CLATTN_PAGED_ARGS, common.cl): they read the pools in place, no gathered copy. */
    cl_mem bt = p->paged ? bufs->block_table.dev : NULL;
    const cl_long maxb = p->max_blocks, nblk = p->num_blocks;
    const cl_uint unpaged = p->paged ? 0 : 3; /* arguments left off when not paged */

    for (int64_t bh0 = 0; bh0 < BH; bh0 += pd->cfg.nbh) {
        const int64_t nbh = (BH - bh0 < pd->cfg.nbh) ? BH - bh0 : pd->cfg.nbh;
        for (int64_t i0 = 0; i0 < p->Lq; i0 += pd->cfg.nrows) {
            const int64_t nrows = (p->Lq - i0 < pd->cfg.nrows) ? p->Lq - i0 : pd->cfg.nrows;
            const cl_long c_bh0 = bh0, c_i0 = i0, c_nrows = nrows;

            { /* 1. scores.cl: S = masked softcap(q·kᵀ·scale) for these rows */
                const int64_t tm = (int64_t)pd->cfg.scores_tile.wg_m * pd->cfg.scores_tile.wpt_m, tn = (int64_t)pd->cfg.scores_tile.wg_n * pd->cfg.scores_tile.vw;
                const size_t local[3] = {(size_t)pd->cfg.scores_tile.wg_n, (size_t)pd->cfg.scores_tile.wg_m, 1};
                const size_t global[3] = {(size_t)clattn_ceil_div(p->Lk, tn) * local[0], (size_t)clattn_ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Head-dim ranges of at most dchunk elements (one launch unless D is very large); the
                 * last launch applies scale, softcap and mask (mode bits of scores.cl). */
                for (int64_t d0 = 0; d0 < p->D; d0 += pd->cfg.dchunk) {
                    const cl_long dbeg = d0, dend = (p->D - d0 < pd->cfg.dchunk) ? p->D : d0 + pd->cfg.dchunk;
                    const cl_int mode = (d0 > 0 ? 1 : 0) | (dend >= p->D ? 2 : 0);
                    const clattn_karg sa[] = {KVIEW(qv), KVIEW(kv), KVIEW(mv),
                                       KARG(mask_kind), KARG(kvl), KARG(use_kvl), KARG(S),
                                       KARG(Hq),   KARG(group), KARG(Lq),     KARG(Lk),      KARG(D),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(dbeg),   KARG(dend), KARG(mode),
                                       KARG(scale), KARG(softcap), KARG(causal), KARG(wl),   KARG(wr),
                                       KARG(bt), KARG(maxb), KARG(nblk)};
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->scores, "clattn_scores", sa, sizeof sa / sizeof sa[0] - unpaged));
                    CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->scores, "clattn_scores", global, local));
                }
            }
            { /* 2. softmax.cl: P = softmax(S) in place (+ probabilities, + log-sum-exp) */
                const clattn_karg ma[] = {KARG(S),     KARG(Lk),   KARG(c_nrows), KARG(Hq),   KARG(c_bh0), KARG(c_i0),
                                   KARG(want_probs), KVIEW(pv), KARG(want_lse), KVIEW(lv)};
                const char *sname = pd->cfg.sm_per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
                CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->softmax, sname, ma, sizeof ma / sizeof ma[0]));
                const size_t slocal[3] = {pd->cfg.sm_wg, 1, 1};
                size_t sglobal[3] = {pd->cfg.sm_wg, (size_t)nrows, (size_t)nbh};
                if (!pd->cfg.sm_per_row_group) {
                    sglobal[0] = (size_t)clattn_ceil_div(nrows, (int64_t)pd->cfg.sm_wg) * pd->cfg.sm_wg;
                    sglobal[1] = (size_t)nbh;
                    sglobal[2] = 1;
                }
                CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->softmax, sname, sglobal, slocal));
            }
            { /* 3. weighted_sum.cl: out = P·V */
                const int64_t tm = (int64_t)pd->cfg.wsum_tile.wg_m * pd->cfg.wsum_tile.wpt_m, tn = (int64_t)pd->cfg.wsum_tile.wg_n * pd->cfg.wsum_tile.vw;
                const size_t local[3] = {(size_t)pd->cfg.wsum_tile.wg_n, (size_t)pd->cfg.wsum_tile.wg_m, 1};
                const size_t global[3] = {(size_t)clattn_ceil_div(p->Dv, tn) * local[0], (size_t)clattn_ceil_div(nrows, tm) * local[1],
                                          (size_t)nbh};
                /* Key ranges of at most kchunk keys; the first launch writes out. 16-bit builds (-D ELEM16) take
                 * (psum, psum_off, last) before the paged arguments: partial sums in float32 after S, out rounded
                 * once by the last launch (weighted_sum.cl). */
                const cl_long psum_off = (cl_long)(pd->cfg.nbh * pd->cfg.nrows * p->Lk);
                const cl_uint plain = p->data_type == CLATTN_DTYPE_F32 ? 3 : 0; /* 16-bit arguments left off */
                for (int64_t k0 = 0; k0 < p->Lk; k0 += pd->cfg.kchunk) {
                    const cl_long kbeg = k0, kend = k0 + pd->cfg.kchunk;
                    const cl_int accumulate = k0 > 0, last = kend >= p->Lk;
                    clattn_karg wa[] = {KARG(S),
                                       KVIEW(vv), KVIEW(ov),
                                       KARG(kvl),  KARG(use_kvl),
                                       KARG(Hq),   KARG(group), KARG(Lq),   KARG(Lk),   KARG(Dv),
                                       KARG(c_bh0), KARG(c_i0), KARG(c_nrows), KARG(kbeg), KARG(kend), KARG(accumulate),
                                       KARG(causal), KARG(wl),  KARG(wr),
                                       KARG(S), KARG(psum_off), KARG(last),
                                       KARG(bt), KARG(maxb), KARG(nblk)};
                    const size_t nw = sizeof wa / sizeof wa[0];
                    if (plain) /* float32 builds: the paged arguments move up over the three 16-bit ones */
                        for (size_t i = nw - 3; i < nw; i++) wa[i - 3] = wa[i];
                    CLATTN_GOTO_IF(clattn_cl_set_args(ctx, pd->wsum, "clattn_weighted_sum", wa, nw - plain - unpaged));
                    CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, pd->wsum, "clattn_weighted_sum", global, local));
                }
            }
        }
    }

cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
