/*
 * test_edges: numerical and masking edge cases on the backend chosen by CLATTN_DEVICE (exit 77 when
 * absent): fully masked rows give exactly 0 (output and probabilities) whatever masks them; logits
 * around +-1e4 stay stable; a masked key whose V (or K) is 1e30, inf or NaN does not leak; a NaN in
 * one query row makes that row NaN and leaves every other row correct; Lk = 1; D = 1.
 * Tolerance as everywhere: max abs error <= 1e-5 * max(1, max|ref|) (TU_TOL_F32), plus exact zeros.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "sdpa_case.h"

static clattn_context *g_ctx;

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

typedef void (*tweak_fn)(sdpa_data *d, const sdpa_case *c, tu_rng *r);

typedef struct edge_case {
    sdpa_case c;
    tweak_fn tweak; /* edits the random inputs before the run (NULL: none) */
    uint32_t poison;
} edge_case;

static float *qat(sdpa_data *d, int64_t b, int64_t h, int64_t i, int64_t e)
{
    return &d->q[tu_index(&d->desc.q, b, h, i, e)];
}
static float *kat(sdpa_data *d, int64_t b, int64_t h, int64_t j, int64_t e)
{
    return &d->k[tu_index(&d->desc.k, b, h, j, e)];
}
static float *vat(sdpa_data *d, int64_t b, int64_t h, int64_t j, int64_t e)
{
    return &d->v[tu_index(&d->desc.v, b, h, j, e)];
}
static int64_t mask_idx(sdpa_data *d, int64_t b, int64_t h, int64_t i, int64_t j)
{
    const clattn_tensor *t = &d->desc.mask;
    return tu_index(t, t->dims[0] == 1 ? 0 : b, t->dims[1] == 1 ? 0 : h, t->dims[2] == 1 ? 0 : i, j);
}

/* Sets V (every kv batch/head, all Dv) of key j to val. */
static void set_v_key(sdpa_data *d, int64_t j, float val)
{
    const clattn_tensor *t = &d->desc.v;
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t e = 0; e < t->dims[3]; e++) *vat(d, b, h, j, e) = val;
}
static void set_k_key(sdpa_data *d, int64_t j, float val)
{
    const clattn_tensor *t = &d->desc.k;
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t e = 0; e < t->dims[3]; e++) *kat(d, b, h, j, e) = val;
}

/* ---- fully masked rows ---- */

/* Bool mask [B, Hq, Lq, Lk]: rows 0 and 3 of every (b, h) fully masked. */
static void tw_bool_rows(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t j = 0; j < c->Lk; j++) {
                ((uint8_t *)d->mask)[mask_idx(d, b, h, 0, j)] = 0;
                ((uint8_t *)d->mask)[mask_idx(d, b, h, 3, j)] = 0;
            }
}
static void tw_add_rows(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t j = 0; j < c->Lk; j++) {
                ((float *)d->mask)[mask_idx(d, b, h, 1, j)] = -INFINITY;
                ((float *)d->mask)[mask_idx(d, b, h, c->Lq - 1, j)] = -INFINITY;
            }
}
/* kv_lengths all 0 except batch 0 = 1 (one allowed key). */
static void tw_kvl_zero(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++) d->kvl[b] = b == 0 ? 1 : 0;
}

/* ---- logits around +-1e4 (exact in float: integer q and k, scale 1) ---- */

/* q rows [100, 1, 0, ...]; k rows [sign*100, c_j, 0, ...] with small integers c_j: scores are
 * sign*1e4 + c_j exactly. Head 0: all +1e4; head 1: all -1e4; head 2: mixed signs. */
static void tw_logits_1e4(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Lq; i++)
                for (int64_t e = 0; e < c->D; e++) *qat(d, b, h, i, e) = e == 0 ? 100.0f : e == 1 ? 1.0f : 0.0f;
    for (int64_t b = 0; b < (c->kv_bcast ? 1 : c->B); b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = 0; j < c->Lk; j++) {
                float sign = h == 0 ? 1.0f : h == 1 ? -1.0f : (j % 3 == 0 ? 1.0f : -1.0f);
                for (int64_t e = 0; e < c->D; e++)
                    *kat(d, b, h, j, e) = e == 0 ? 100.0f * sign : e == 1 ? (float)tu_rng_int(r, -4, 4) : 0.0f;
            }
}
/* Additive mask values of +-1e4 (plus some -inf) on small scores. q and k are in {-0.5, 0, 0.5}
 * and the scale is 0.5 (set by the case), so scores are multiples of 0.125 and s + mask is exact in
 * float (the ulp at 1e4 is 2^-10): the float result can match the double reference. */
static void tw_add_1e4(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    const clattn_tensor *t = &d->desc.mask;
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Lq; i++)
                for (int64_t e = 0; e < c->D; e++) *qat(d, b, h, i, e) = 0.5f * (float)tu_rng_int(r, -1, 1);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = 0; j < c->Lk; j++)
                for (int64_t e = 0; e < c->D; e++) *kat(d, b, h, j, e) = 0.5f * (float)tu_rng_int(r, -1, 1);
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t i = 0; i < t->dims[2]; i++)
                for (int64_t j = 0; j < t->dims[3]; j++) {
                    int64_t u = tu_rng_int(r, 0, 9);
                    ((float *)d->mask)[tu_index(t, b, h, i, j)] =
                        u == 0 ? -INFINITY : u < 5 ? -1.0e4f + (float)u : 1.0e4f - (float)u;
                }
}
/* Finite -1e30 is allowed (only -inf disallows): a row where every key has -1e30 is uniform-ish. */
static void tw_add_minus_1e30(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    const clattn_tensor *t = &d->desc.mask;
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t i = 0; i < t->dims[2]; i++)
                for (int64_t j = 0; j < t->dims[3]; j++)
                    ((float *)d->mask)[tu_index(t, b, h, i, j)] = (i % 2 == 0) ? -1.0e30f : (j % 2 ? -1.0e30f : 0.5f);
}

/* ---- masked keys must not leak ---- */

/* Bool mask (broadcast [1,1,1,Lk]) disallows keys 2, 5, 6; their V are 1e30, inf, NaN. */
static void tw_bool_v_leak(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    uint8_t *m = d->mask;
    for (int64_t j = 0; j < c->Lk; j++) m[mask_idx(d, 0, 0, 0, j)] = 1;
    m[mask_idx(d, 0, 0, 0, 2)] = 0;
    m[mask_idx(d, 0, 0, 0, 5)] = 0;
    m[mask_idx(d, 0, 0, 0, 6)] = 0;
    set_v_key(d, 2, 1.0e30f);
    set_v_key(d, 5, INFINITY);
    set_v_key(d, 6, NAN);
}
/* Additive -inf on keys 0 and Lk-1 whose V are NaN and -inf. */
static void tw_add_v_leak(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    float *m = d->mask;
    for (int64_t j = 0; j < c->Lk; j++) m[mask_idx(d, 0, 0, 0, j)] = (float)tu_rng_uniform(r, -1, 1);
    m[mask_idx(d, 0, 0, 0, 0)] = -INFINITY;
    m[mask_idx(d, 0, 0, 0, c->Lk - 1)] = -INFINITY;
    set_v_key(d, 0, NAN);
    set_v_key(d, c->Lk - 1, -INFINITY);
}
/* kv_lengths: every key at or past the shortest length has V NaN / 1e30 / inf (padding garbage). */
static void tw_kvl_v_leak(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++) d->kvl[b] = (int32_t)(b == 0 ? c->Lk - 3 : 5 + b);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = d->kvl[b]; j < c->Lk; j++)
                for (int64_t e = 0; e < c->Dv; e++) *vat(d, b, h, j, e) = j % 3 == 0 ? NAN : j % 3 == 1 ? 1e30f : INFINITY;
}
/* kv_lengths with padding K (and V) NaN: disallowed keys must get exactly zero weight. */
static void tw_kvl_k_leak(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++) d->kvl[b] = (int32_t)(c->Lk - 2 - b);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = d->kvl[b]; j < c->Lk; j++) {
                for (int64_t e = 0; e < c->D; e++) *kat(d, b, h, j, e) = NAN;
                for (int64_t e = 0; e < c->Dv; e++) *vat(d, b, h, j, e) = NAN;
            }
}
/* Causal top-left with Lq < Lk: keys j >= Lq are visible to no row; their V are 1e30, inf, NaN. */
static void tw_causal_v_leak(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t j = c->Lq; j < c->Lk; j++) set_v_key(d, j, j % 3 == 0 ? 1.0e30f : j % 3 == 1 ? INFINITY : NAN);
}
/* A disallowed key with a huge score (and huge V): the row max must come from allowed keys only. */
static void tw_masked_huge_score(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Lq; i++)
                for (int64_t e = 0; e < c->D; e++) *qat(d, b, h, i, e) = 0.5f + 0.01f * (float)e;
    set_k_key(d, 4, 500.0f);
    set_v_key(d, 4, 1.0e30f);
    uint8_t *m = d->mask;
    for (int64_t j = 0; j < c->Lk; j++) m[mask_idx(d, 0, 0, 0, j)] = j != 4;
}

/* ---- NaN in one q row ---- */
static void tw_nan_q_row(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    *qat(d, 0, 1, 3, 0) = NAN;
    if (c->B > 1) *qat(d, 1, 0, c->Lq - 1, c->D - 1) = NAN;
}

static const edge_case cases[] = {
    /* fully masked rows -> zeros in out and probs */
    {{"masked_rows_bool", SZ(2, 2, 2, 7, 67, 8, 8), .mask_kind = CLATTN_MASK_BOOL, .mb = 1, .mh = 1, .mq = 1,
      .probs = 1, .density = 0.5}, tw_bool_rows, 0},
    {{"masked_rows_additive", SZ(2, 2, 1, 7, 67, 40, 40), .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1,
      .mq = 1, .probs = 1, .lp = TU_PAD}, tw_add_rows, 0},
    {{"masked_rows_bool_all_zero", SZ(1, 2, 2, 7, 7, 8, 8), .mask_kind = CLATTN_MASK_BOOL, .density = -1.0,
      .probs = 1}, NULL, 0},
    {{"masked_rows_kvl_zero", SZ(3, 2, 2, 7, 67, 64, 64), .kvl = 1, .probs = 1}, tw_kvl_zero, 0},
    {{"masked_rows_causal_br_lq_gt_lk", SZ(1, 2, 2, 67, 7, 40, 40), .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
      .probs = 1}, NULL, 0},
    {{"masked_rows_window_lq_gt_lk", SZ(1, 2, 2, 67, 7, 8, 8), .window = 1, .wl = 0, .wr = 0, .probs = 1}, NULL,
     0},
    {{"masked_rows_kvl_causal_br", SZ(3, 2, 2, 7, 67, 8, 8), .kvl = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
      .window = 1, .wl = 2, .wr = -1, .probs = 1}, NULL, 0},
    /* logits +-1e4 */
    {{"logits_1e4", SZ(2, 3, 3, 7, 67, 8, 8), .scale = 1.0f, .probs = 1}, tw_logits_1e4, 0},
    {{"logits_1e4_causal", SZ(1, 3, 3, 67, 67, 64, 64), .scale = 1.0f, .causal = CLATTN_CAUSAL_TOP_LEFT,
      .probs = 1}, tw_logits_1e4, 0},
    {{"logits_1e4_lk300", SZ(1, 3, 3, 1, 300, 8, 8), .scale = 1.0f, .probs = 1}, tw_logits_1e4, 0},
    {{"additive_1e4", SZ(2, 2, 2, 7, 67, 40, 40), .scale = 0.5f, .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1, .mq = 1,
      .probs = 1}, tw_add_1e4, 0},
    {{"additive_minus_1e30_allowed", SZ(1, 2, 2, 7, 67, 8, 8), .mask_kind = CLATTN_MASK_ADDITIVE, .mq = 1,
      .probs = 1}, tw_add_minus_1e30, 0},
    /* masked keys must not leak */
    {{"leak_bool_v_1e30_inf_nan", SZ(2, 2, 2, 7, 67, 8, 8), .mask_kind = CLATTN_MASK_BOOL, .probs = 1},
     tw_bool_v_leak, 0},
    {{"leak_additive_v_nan_inf", SZ(2, 2, 1, 7, 67, 40, 40), .mask_kind = CLATTN_MASK_ADDITIVE, .probs = 1},
     tw_add_v_leak, 0},
    {{"leak_kvl_v", SZ(3, 2, 2, 7, 67, 64, 64), .kvl = 1, .probs = 1}, tw_kvl_v_leak, 0},
    {{"leak_kvl_k_and_v_nan", SZ(2, 2, 2, 7, 67, 40, 40), .kvl = 1, .probs = 1}, tw_kvl_k_leak, 0},
    {{"leak_causal_v", SZ(1, 2, 2, 7, 67, 8, 8), .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = 1},
     tw_causal_v_leak, 0},
    {{"leak_masked_huge_score", SZ(1, 2, 2, 7, 67, 64, 64), .mask_kind = CLATTN_MASK_BOOL, .probs = 1},
     tw_masked_huge_score, 0},
    /* NaN in one q row (poison -7777.0 so unwritten and NaN differ) */
    {{"nan_q_row", SZ(2, 2, 1, 7, 67, 40, 40), .probs = 1}, tw_nan_q_row, 0xc5f30800u /* -7777.0f */},
    {{"nan_q_row_causal_mask", SZ(2, 2, 1, 67, 67, 8, 8), .causal = CLATTN_CAUSAL_TOP_LEFT,
      .mask_kind = CLATTN_MASK_BOOL, .density = 0.9, .probs = 1}, tw_nan_q_row, 0xc5f30800u},
    /* degenerate sizes */
    {{"lk1", SZ(2, 2, 2, 67, 1, 64, 64), .probs = 1}, NULL, 0},
    {{"lk1_causal_br", SZ(2, 2, 2, 7, 1, 8, 8), .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .probs = 1}, NULL, 0},
    {{"d1", SZ(2, 2, 1, 7, 67, 1, 1), .probs = 1}, NULL, 0},
    {{"d1_dv8", SZ(1, 1, 1, 129, 300, 1, 8)}, NULL, 0},
    {{"all_one", SZ(1, 1, 1, 1, 1, 1, 1), .probs = 1}, NULL, 0},
    {{"long_kv_decode", SZ(1, 2, 2, 1, 2053, 64, 64), .probs = 1}, NULL, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static void test_edge(void **state)
{
    const edge_case *e = *state;
    sdpa_case c = e->c;
    int idx = (int)(e - cases);
    tu_where w = {"edges", c.name, tu_case_seed("edges", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    if (c.density < 0 && c.mask_kind == CLATTN_MASK_BOOL) /* every key masked */
        for (int64_t a = 0; a < d.nm; a++) ((uint8_t *)d.mask)[a] = 0;
    if (e->tweak) e->tweak(&d, &c, &r);
    if (e->poison) {
        d.poison = e->poison;
        sdpa_data_poison(&d);
    }
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    struct CMUnitTest tests[N_CASES];
    for (size_t i = 0; i < N_CASES; i++) {
        struct CMUnitTest t = {cases[i].c.name, test_edge, NULL, NULL, (void *)&cases[i]};
        tests[i] = t;
    }
    int failed = tu_run_group("edges", tests, N_CASES);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
