/*
 * Small multi-head attention problems for the reliability tests (test_oclgrind_cases, test_threads):
 * random nn.MultiheadAttention weights and inputs, one forward through the public API, and a check
 * against the double-precision reference ref_mha (tests/support).
 *
 *   query [B, Lq, E]  key [B, Lk, kdim]  value [B, Lk, vdim]  out [B, Lq, E]
 *   probs [B, H, Lq, Lk] (PER_HEAD) or [B, Lq, Lk] (AVERAGED)  mask [1|B, 1|H, 1|Lq, Lk]  kv_lengths int32 [B]
 */
#ifndef CLATTN_REL_MHA_H
#define CLATTN_REL_MHA_H

#include "test_util.h"

typedef struct rel_mha_case {
    const char *name;
    int64_t B, Lq, Lk, E, H, kdim, vdim; /* kdim/vdim 0 = E */
    int self;                            /* key = value = NULL (self-attention; Lk = Lq) */
    int bias;
    clattn_causal causal;
    int64_t wl, wr;                      /* window; both 0 with window == 0 means unbounded */
    int window;
    float softcap, scale;
    clattn_mask_kind mask_kind;
    int mb, mh, mq;                      /* mask dims full (nonzero) or broadcast (0) */
    int kvl;                             /* kv_lengths [Lk, 0, random...] */
    clattn_probs_mode probs;
} rel_mha_case;

typedef struct rel_mha_data {
    clattn_mha_weights w;
    float *params[8];
    float *query, *key, *value, *out, *probs;
    void *mask;
    int32_t *kvl;
    clattn_mha_options opts;
    int64_t n_out, n_probs;
} rel_mha_data;

/* Random weights (nn.Linear-like init) and inputs for case c. */
void rel_mha_make(rel_mha_data *d, const rel_mha_case *c, tu_rng *r);
void rel_mha_free(rel_mha_data *d);
/* One clattn_mha_forward on module m of ctx (outputs poisoned first). Reports a failure through w. */
clattn_status rel_mha_forward(clattn_context *ctx, clattn_mha *m, const rel_mha_case *c, rel_mha_data *d,
                              const tu_where *w);
/* Checks d's outputs against ref_mha (TU_TOL_F32; exact zeros where the reference probability is 0). */
bool rel_mha_check(const rel_mha_case *c, const rel_mha_data *d, const tu_where *w);

#endif /* CLATTN_REL_MHA_H */
