/*
 * Naive double-precision references for clattn (the oracle of the tests). They implement the
 * semantics written in clattn.h literally, one (batch, head, query) row at a time:
 *
 *   q: [B, Hq, Lq, D]  k: [B|1, Hkv, Lk, D]  v: [B|1, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   mask: [1|B, 1|Hq, 1|Lq, Lk] (dims of 1 broadcast)  probs: [B, Hq, Lq, Lk]  kv_lengths: int32 [B]
 *   query head h reads kv head h / (Hq / Hkv); every view honours dims, strides and offset
 *   (a dim of size 1 ignores its stride).
 *
 * Results are written as doubles in C order of the logical dims (not the caller's layouts).
 */
#ifndef CLATTN_TEST_REFERENCE_H
#define CLATTN_TEST_REFERENCE_H

#include <stdint.h>

#include "clattn.h"

/* SDPA on the buffers of an execution (same pointers as clattn_sdpa_execute).
 *   out:   double [B, Hq, Lq, Dv] (required)
 *   probs: double [B, Hq, Lq, Lk] or NULL
 * The scale is desc->scale, or (float)(1/sqrt(D)) when 0; softcap and the mask as in clattn.h. */
void ref_sdpa(const clattn_sdpa_desc *desc, const float *q, const float *k, const float *v, const void *mask,
              const int32_t *kv_lengths, double *out, double *probs);

/* ref_sdpa plus the log-sum-exp of every row: lse double [B, Hq, Lq] (C order; -inf for a row with no
 * allowed key, NaN for a NaN row), out required, probs and lse may be NULL. */
void ref_sdpa_lse(const clattn_sdpa_desc *desc, const float *q, const float *k, const float *v, const void *mask,
                  const int32_t *kv_lengths, double *out, double *probs, double *lse);

/* Whether key j is allowed for query i of batch b, head h (the masking rule alone). */
int ref_sdpa_allowed(const clattn_sdpa_desc *desc, const void *mask, const int32_t *kv_lengths, int64_t b,
                     int64_t h, int64_t i, int64_t j);

/* nn.MultiheadAttention (batch first) as clattn_mha_forward:
 *   query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim] (key = value = query when key is NULL);
 *   out: double [B, Lq, E]; probs: double [B, H, Lq, Lk] (PER_HEAD) or [B, Lq, Lk] (AVERAGED) or NULL.
 * opts NULL means defaults (clattn_mha_options_init). */
void ref_mha(const clattn_mha_weights *w, int64_t B, int64_t Lq, int64_t Lk, const float *query, const float *key,
             const float *value, const void *mask, const int32_t *kv_lengths, const clattn_mha_options *opts,
             double *out, double *probs);

#endif /* CLATTN_TEST_REFERENCE_H */
