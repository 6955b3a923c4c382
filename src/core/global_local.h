/*
 * Global-local (Longformer) attention (clattn_global_local_*, src/core/global_local.c): the validated problem
 * and the buffers of one execution, which backends receive through clattn_backend_i.global_local_run. Not
 * installed.
 */
#ifndef CLATTN_CORE_GLOBAL_LOCAL_H
#define CLATTN_CORE_GLOBAL_LOCAL_H

#include "backend.h"

/* Every size >= 1 except G (>= 0). q, k (and q_g, k_g) [B, H, L, D]; v, out (and v_g) [B, H, L, Dv]; probs
 * [B, H, L, G + W]; gprobs [B, H, G, L] (when G > 0); W = 2w + 1. gidx int32 [B, G] (validated: -1 or 0..L-1,
 * no repeats); gslot int32 [B, L]: the slot of key j in its row's global list, or -1 (core builds it). */
typedef struct clattn_global_local_problem {
    int64_t B, H, L, D, Dv, w, G, W;
    float scale;
    clattn_tensor q, k, v, out, probs, gprobs;
    bool use_global_proj, want_probs;
    int64_t q_extent, k_extent, v_extent, out_extent, probs_extent, gprobs_extent;
} clattn_global_local_problem;

typedef struct clattn_global_local_bufs {
    clattn_buf q, k, v, gidx, gslot, q_g, k_g, v_g, out, probs, gprobs; /* absent ones {NULL, NULL} */
} clattn_global_local_bufs;

#endif /* CLATTN_CORE_GLOBAL_LOCAL_H */
