/*
 * Additive (Bahdanau) attention (clattn_additive_*, src/core/additive.c): the validated problem and the buffers
 * of one execution, which backends receive through clattn_backend_i.additive_run (backend.h). Not installed.
 */
#ifndef CLATTN_CORE_ADDITIVE_H
#define CLATTN_CORE_ADDITIVE_H

#include "backend.h"

/* Every size >= 1. q [B, Lq, Dq], k [B, Lk, Dk], v [B, Lk, Dv], out [B, Lq, Dv], probs [B, Lq, Lk],
 * mask [1|B, 1|Lq, Lk]: 3-D views, size-1 dims with stride 0. Weights contiguous: w_q [A, Dq], w_k [A, Dk],
 * w_e [A], bias [A]. */
typedef struct clattn_additive_problem {
    int64_t B, Lq, Lk, Dq, Dk, Dv, A;
    clattn_tensor q, k, v, out, mask, probs;
    clattn_causal causal;
    clattn_mask_kind mask_kind;
    bool has_bias, use_kv_lengths, want_probs;
    int64_t q_extent, k_extent, v_extent, out_extent, mask_extent, probs_extent;
} clattn_additive_problem;

typedef struct clattn_additive_bufs {
    clattn_buf q, k, v, mask, kv_lengths, w_q, w_k, w_e, bias, out, probs; /* absent ones {NULL, NULL} */
} clattn_additive_bufs;

/* Whether key j is allowed for query i of batch b (the SDPA rule without the mask's values). Lk1 = kv length. */
static inline bool clattn_additive_causal_ok(const clattn_additive_problem *p, int64_t i, int64_t j, int64_t Lk1)
{
    if (j >= Lk1) return false;
    if (p->causal == CLATTN_CAUSAL_TOP_LEFT) return j <= i;
    if (p->causal == CLATTN_CAUSAL_BOTTOM_RIGHT) return j <= i + Lk1 - p->Lq;
    return true;
}

#endif /* CLATTN_CORE_ADDITIVE_H */
