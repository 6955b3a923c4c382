/*
 * Random multi-head attention problems described by a small case struct, shared by test_mha and the
 * reliability tests (test_oclgrind_cases, test_threads, test_faults): random nn.MultiheadAttention weights
 * (nn.Linear-like init) and inputs, one forward through the public API, and a check against the
 * double-precision reference ref_mha.
 *
 *   query [B, Lq, E]  key [B, Lk, kdim]  value [B, Lk, vdim]  out [B, Lq, E]
 *   probs [B, H, Lq, Lk] (PER_HEAD) or [B, Lq, Lk] (AVERAGED)  mask [1|B, 1|H, 1|Lq, Lk]  kv_lengths int32 [B]
 */
#ifndef CLATTN_TEST_MHA_CASE_H
#define CLATTN_TEST_MHA_CASE_H

#include "test_util.h"

typedef struct mha_case {
    const char *name;
    int64_t B, Lq, Lk, E, H, kdim, vdim; /* kdim/vdim 0 = E */
    int self;                            /* key = value = NULL (self-attention; Lk = Lq) */
    int bias;
    clattn_causal causal;
    int window;                          /* nonzero: window_left/right = wl/wr; else both unbounded */
    int64_t wl, wr;
    float softcap, scale;
    clattn_mask_kind mask_kind;
    int mb, mh, mq;                      /* mask dims full (nonzero) or broadcast (0) */
    tu_layout lm;                        /* mask layout (gaps NaN / 0xAA) */
    int kvl;                             /* kv_lengths [Lk, 0, random...] */
    clattn_probs_mode probs;
} mha_case;

/* A built problem: weights, inputs and (poisoned) outputs. */
typedef struct mha_data {
    clattn_mha_weights w;
    float *params[8]; /* w_q, w_k, w_v, w_o, b_q, b_k, b_v, b_o (biases NULL without c->bias) */
    float *query, *key, *value, *out, *probs;
    void *mask;
    int32_t *kvl;
    clattn_mha_options opts;
    int64_t n_out, n_probs;
} mha_data;

/* Random weights and inputs for case c. */
void mha_data_make(mha_data *d, const mha_case *c, tu_rng *r);
void mha_data_free(mha_data *d);
/* One clattn_mha_forward of module m (made on ctx) into d's outputs, poisoned first. Reports a failure. */
clattn_status mha_data_forward(clattn_context *ctx, clattn_mha *m, const mha_case *c, mha_data *d,
                               const tu_where *w);
/* Checks d's outputs against ref_mha with the weights ref_w (NULL: d->w) within TU_TOL_F32, and that
 * every probability the reference has exactly 0 (a disallowed key) is exactly 0. */
bool mha_data_check(const mha_case *c, const mha_data *d, const clattn_mha_weights *ref_w, const tu_where *w);
/* Makes case c's data from the seed of (area, idx), creates a module on ctx, runs one forward pass and
 * checks it against the reference (with c's own weights); true when all succeed (failures reported). */
bool mha_case_run_checked(clattn_context *ctx, const mha_case *c, const char *area, int idx);

#endif /* CLATTN_TEST_MHA_CASE_H */
