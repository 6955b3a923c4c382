/*
 * test_edges: numerical and masking edge cases on the backend chosen by CLATTN_DEVICE (exit 77 when
 * absent): fully masked rows give exactly 0 (output and probabilities) whatever masks them; logits
 * around +-1e4 stay stable; a masked key whose V (or K) is 1e30, inf or NaN does not leak; a NaN in
 * one query row makes that row NaN and leaves every other row correct; Lk = 1; D = 1.
 * Also: logits of +-1e30 (through the scale, the inputs, softcap, and an additive +1e30 mask entry),
 * denormal inputs / scale / mask values, and a NaN or infinity confined to what it belongs to (+inf or
 * NaN in one q row or one additive mask entry: that row only; NaN or inf in V of a key that causal
 * masking allows only from row j on: rows >= j only).
 * Every case runs twice: as listed (most with probabilities, which takes the kernel chain on OpenCL) and
 * as "<name>/noprobs" without probabilities (the fused kernel on OpenCL, unless CLATTN_PATH=chain).
 * Tolerance as everywhere: max abs error <= 1e-5 * max(1, max|ref|) (TU_TOL_F32), plus exact zeros;
 * NaN matches only NaN and an infinity only the same infinity (tests/support/test_util.c). Two exceptions,
 * both stated where they are applied: denormal outputs are also checked element by element (exactly 0 when
 * flushed, else 1e-5 relative plus Lk units of 2^-149: check_denormal_out); in a NaN row a probability may
 * be 0 instead of NaN only for a key of weight exactly zero (nan_row_zero_probs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "cases.h"

static clattn_context *g_ctx;

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

typedef void (*tweak_fn)(sdpa_data *d, const sdpa_case *c, tu_rng *r);


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

/* ---- logits around +-1e30 (exact in float: powers of two times small integers) ---- */

#define P2_50 1125899906842624.0f /* 2^50 */

/* q and k in {-1, 0, 1}; the case sets scale = 2^100, so scores are n * 2^100 with |n| <= D. */
static void tw_small_ints(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Lq; i++)
                for (int64_t e = 0; e < c->D; e++) *qat(d, b, h, i, e) = (float)tu_rng_int(r, -1, 1);
    for (int64_t b = 0; b < (c->kv_bcast ? 1 : c->B); b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = 0; j < c->Lk; j++)
                for (int64_t e = 0; e < c->D; e++) *kat(d, b, h, j, e) = (float)tu_rng_int(r, -1, 1);
}
/* q = 2^50 * {-1, 0, 1}, k = 2^50 * {-2..2}: scores n * 2^100 (about 1e30) with scale 1. The query heads
 * that read kv head 1 (h / (Hq / Hkv) == 1) get only negative scores (k = -2^50 * {1, 2} against
 * q = [2^50, 0, ...]). */
static void tw_inputs_1e30(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->Hq; h++)
            for (int64_t i = 0; i < c->Lq; i++)
                for (int64_t e = 0; e < c->D; e++)
                    *qat(d, b, h, i, e) = h / (c->Hq / c->Hkv) == 1 ? (e == 0 ? P2_50 : 0.0f)
                                                                    : P2_50 * (float)tu_rng_int(r, -1, 1);
    for (int64_t b = 0; b < (c->kv_bcast ? 1 : c->B); b++)
        for (int64_t h = 0; h < c->Hkv; h++)
            for (int64_t j = 0; j < c->Lk; j++)
                for (int64_t e = 0; e < c->D; e++)
                    *kat(d, b, h, j, e) = h == 1 ? -P2_50 * (float)tu_rng_int(r, 1, 2) : P2_50 * (float)tu_rng_int(r, -2, 2);
}
/* Additive mask: +1e30 on one key per row (it takes all the weight), -1e30 on some, 0 elsewhere. */
static void tw_add_plus_1e30(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    const clattn_tensor *t = &d->desc.mask;
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t i = 0; i < t->dims[2]; i++) {
                const int64_t hot = tu_rng_int(r, 0, c->Lk - 1);
                for (int64_t j = 0; j < t->dims[3]; j++)
                    ((float *)d->mask)[tu_index(t, b, h, i, j)] = j == hot ? 1.0e30f : (j % 3 == 0 ? -1.0e30f : 0.0f);
            }
}

/* ---- denormals ---- */

static float denormal(tu_rng *r)
{
    /* 1e-45 .. 1.1e-38 (below FLT_MIN), either sign */
    return (float)tu_rng_uniform(r, 1.0e-45, 1.1e-38) * (tu_rng_int(r, 0, 1) ? 1.0f : -1.0f);
}
static void tw_denormal_qkv(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t a = 0; a < d->nq; a++) d->q[a] = denormal(r);
    for (int64_t a = 0; a < d->nk; a++) d->k[a] = denormal(r);
    for (int64_t a = 0; a < d->nv; a++) d->v[a] = denormal(r);
}
/* Denormal V only (normal q, k): outputs are denormal, weights normal. */
static void tw_denormal_v(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    for (int64_t a = 0; a < d->nv; a++) d->v[a] = denormal(r);
}
static void tw_denormal_mask(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    const clattn_tensor *t = &d->desc.mask;
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t i = 0; i < t->dims[2]; i++)
                for (int64_t j = 0; j < t->dims[3]; j++)
                    ((float *)d->mask)[tu_index(t, b, h, i, j)] = j % 5 == 4 ? -INFINITY : denormal(r);
}

/* ---- NaN / infinity confined to the rows they belong to ---- */

/* +inf in one q element of row (b 0, h 1, i 3): its scores are +-inf, so that row (only) is NaN. */
static void tw_inf_q_row(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    *qat(d, 0, 1, 3, 0) = INFINITY;
    if (c->B > 1) *qat(d, 1, 0, c->Lq - 1, c->D - 1) = -INFINITY;
}
/* Causal top-left: key 3 is allowed for rows i >= 3 only. Its V is NaN (or +inf): rows 0..2 stay finite. */
static void tw_nan_v_causal(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    set_v_key(d, 3, NAN);
}
static void tw_inf_v_causal(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    set_v_key(d, 3, INFINITY);
}
/* Full additive mask: NaN at (0, 0, 2, 5) and +inf at (0, 1, 4, 1): rows (0,0,2) and (0,1,4) are NaN. */
static void tw_mask_nan_inf_entry(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    ((float *)d->mask)[mask_idx(d, 0, 0, 2, 5)] = NAN;
    ((float *)d->mask)[mask_idx(d, 0, 1, 4, 1)] = INFINITY;
}

/* The rows tagged edges in tests/cases/cases.c (position = seed index); their tweak names one of these. */
static const struct {
    const char *name;
    tweak_fn fn;
} tweaks[] = {
    {"tw_bool_rows", tw_bool_rows},
    {"tw_add_rows", tw_add_rows},
    {"tw_kvl_zero", tw_kvl_zero},
    {"tw_logits_1e4", tw_logits_1e4},
    {"tw_add_1e4", tw_add_1e4},
    {"tw_add_minus_1e30", tw_add_minus_1e30},
    {"tw_bool_v_leak", tw_bool_v_leak},
    {"tw_add_v_leak", tw_add_v_leak},
    {"tw_kvl_v_leak", tw_kvl_v_leak},
    {"tw_kvl_k_leak", tw_kvl_k_leak},
    {"tw_causal_v_leak", tw_causal_v_leak},
    {"tw_masked_huge_score", tw_masked_huge_score},
    {"tw_nan_q_row", tw_nan_q_row},
    {"tw_small_ints", tw_small_ints},
    {"tw_inputs_1e30", tw_inputs_1e30},
    {"tw_add_plus_1e30", tw_add_plus_1e30},
    {"tw_denormal_qkv", tw_denormal_qkv},
    {"tw_denormal_v", tw_denormal_v},
    {"tw_denormal_mask", tw_denormal_mask},
    {"tw_inf_q_row", tw_inf_q_row},
    {"tw_nan_v_causal", tw_nan_v_causal},
    {"tw_inf_v_causal", tw_inf_v_causal},
    {"tw_mask_nan_inf_entry", tw_mask_nan_inf_entry},
};

static tweak_fn tweak_named(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof tweaks / sizeof tweaks[0]; i++)
        if (strcmp(tweaks[i].name, name) == 0) return tweaks[i].fn;
    fprintf(stderr, "FAIL: tests/cases names an unknown edges tweak '%s'\n", name);
    exit(1);
}

#define MAX_CASES 128
static const case_row *g_rows[MAX_CASES];

/* A row that comes out NaN: the reference's probabilities are NaN for every allowed key of it (its
 * normaliser is NaN). clattn.h ("Numerical behaviour") lets a key whose weight is exactly zero get 0 instead,
 * and only such a key: one whose score is -inf (from an infinite q; a disallowed key or an additive -inf
 * counts as -inf), or one whose score is finite in a row that also has a +inf score (exp() underflows to 0
 * next to it). clattn writes those zeros on some paths, for the cases with an infinite score
 * (tw_inf_q_row, tw_mask_nan_inf_entry). This recomputes every score in double as the reference does
 * (q.k * scale, softcap, + the additive mask) and turns a 0 back into NaN only for those keys; a 0 for a
 * key with a +inf or NaN score, or with a finite score in a row without +inf, stays 0 and fails the
 * comparison with the reference's NaN. (Disallowed keys have reference 0 and are checked exactly by
 * sdpa_data_check.) */
static void nan_row_zero_probs(sdpa_data *d)
{
    double *ro = NULL, *rp = NULL;
    sdpa_data_reference(d, &ro, &rp);
    const clattn_sdpa_desc *s = &d->desc;
    const clattn_tensor *t = &s->probs;
    const int64_t Hq = s->q.dims[1], Hkv = s->k.dims[1], Lq = s->q.dims[2], Lk = s->k.dims[2], D = s->q.dims[3];
    const double scale = (double)(s->scale != 0.0f ? s->scale : (float)(1.0 / sqrt((double)D)));
    double *sc = tu_xmalloc((size_t)Lk * sizeof(double));
    int64_t accepted = 0, kept = 0;
    for (int64_t b = 0; b < s->q.dims[0]; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++) {
                const double *rrow = rp + ((b * Hq + h) * Lq + i) * Lk;
                bool nan_row = false;
                for (int64_t j = 0; j < Lk; j++) nan_row |= isnan(rrow[j]);
                if (!nan_row) continue;
                bool plus_inf = false;
                const int64_t bk = s->k.dims[0] == 1 ? 0 : b, hk = h / (Hq / Hkv);
                for (int64_t j = 0; j < Lk; j++) {
                    if (!ref_sdpa_allowed(s, d->mask, d->kvl, b, h, i, j)) {
                        sc[j] = -INFINITY;
                        continue;
                    }
                    double dot = 0.0;
                    for (int64_t e = 0; e < D; e++) dot += (double)*qat(d, b, h, i, e) * (double)*kat(d, bk, hk, j, e);
                    sc[j] = dot * scale;
                    if (s->softcap > 0.0f) sc[j] = (double)s->softcap * tanh(sc[j] / (double)s->softcap);
                    if (s->mask_kind == CLATTN_MASK_ADDITIVE) sc[j] += (double)((float *)d->mask)[mask_idx(d, b, h, i, j)];
                    plus_inf |= sc[j] == INFINITY;
                }
                for (int64_t j = 0; j < Lk; j++) {
                    float *got = &d->probs[tu_index(t, b, h, i, j)];
                    if (!isnan(rrow[j]) || *got != 0.0f) continue;
                    if (sc[j] == -INFINITY || (plus_inf && isfinite(sc[j]))) {
                        *got = NAN; /* a key of weight exactly 0: 0 is allowed */
                        accepted++;
                    } else {
                        kept++; /* fails the comparison */
                    }
                }
            }
    printf("# %lld zero probabilities accepted in NaN rows (keys of weight exactly 0), %lld not\n",
           (long long)accepted, (long long)kept);
    free(sc);
    free(ro);
    free(rp);
}

/* Outputs of denormal_v and denormal_qkv are weighted means of denormal V (|out| < 1.2e-38), where the usual
 * bound 1e-5 * max(1, max|ref|) would accept any value, zeros included. Per element instead: exactly 0 (the
 * device flushes denormals to zero, which clattn.h allows), or
 *   |got - ref| <= 1e-5 * |ref| + Lk * 2^-149:
 * the relative tolerance of every test plus one denormal spacing (2^-149 = 1.4e-45) per key, for the
 * rounding of each product p_j * v_j below FLT_MIN (it keeps only the bits above 2^-149). With Lk = 67
 * that term is 9.4e-44, about 1e-4 of a typical |out| of 1e-39. */
static bool check_denormal_out(const sdpa_data *d, const tu_where *w)
{
    double *ro = NULL;
    sdpa_data_reference(d, &ro, NULL);
    const clattn_tensor *t = &d->desc.out;
    const int64_t Lk = d->desc.k.dims[2];
    const double ulp = ldexp(1.0, -149), abs_tol = (double)Lk * ulp;
    int64_t flushed = 0, bad = 0, n = 0;
    double worst = 0.0; /* largest error in units of 2^-149 among the elements that are not flushed */
    char first[200] = "";
    for (int64_t b = 0; b < t->dims[0]; b++)
        for (int64_t h = 0; h < t->dims[1]; h++)
            for (int64_t i = 0; i < t->dims[2]; i++)
                for (int64_t e = 0; e < t->dims[3]; e++, n++) {
                    const double ref = ro[((b * t->dims[1] + h) * t->dims[2] + i) * t->dims[3] + e];
                    const float got = d->out[tu_index(t, b, h, i, e)];
                    if (got == 0.0f) {
                        flushed++;
                        continue;
                    }
                    const double err = fabs((double)got - ref);
                    if (err / ulp > worst || isnan(err)) worst = err / ulp;
                    if (!(err <= 1e-5 * fabs(ref) + abs_tol) && !bad++)
                        snprintf(first, sizeof first, "out[%lld,%lld,%lld,%lld] = %.9g, reference %.9g (error %.3g, bound %.3g)",
                                 (long long)b, (long long)h, (long long)i, (long long)e, (double)got, ref, err,
                                 1e-5 * fabs(ref) + abs_tol);
                }
    printf("# denormal outputs: %lld of %lld exactly 0 (flushed), largest error of the others %.1f x 2^-149\n",
           (long long)flushed, (long long)n, worst);
    if (bad)
        tu_report(w, "%lld denormal outputs neither 0 nor within 1e-5 relative + %lld x 2^-149; first: %s",
                  (long long)bad, (long long)Lk, first);
    free(ro);
    return bad == 0;
}

/* Test i < n runs row i as listed; n + i runs it without probabilities. */
static char noprobs_names[MAX_CASES][96];

static void run_edge(const case_row *const *row, bool noprobs)
{
    const case_row *e = *row;
    const tweak_fn tweak = tweak_named(e->tweak);
    sdpa_case c = e->c;
    int idx = (int)(row - g_rows);
    if (noprobs) {
        c.probs = 0;
        c.name = noprobs_names[idx];
    }
    tu_where w = {"edges", c.name, tu_case_seed("edges", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    if (c.density < 0 && c.mask_kind == CLATTN_MASK_BOOL) /* every key masked */
        for (int64_t a = 0; a < d.nm; a++) ((uint8_t *)d.mask)[a] = 0;
    if (tweak) tweak(&d, &c, &r);
    if (e->poison) {
        d.poison = e->poison;
        sdpa_data_poison(&d);
    }
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS;
    if (ok && d.probs && (tweak == tw_inf_q_row || tweak == tw_mask_nan_inf_entry)) nan_row_zero_probs(&d);
    ok = ok && sdpa_data_check(&d, &w);
    if (ok && (tweak == tw_denormal_v || tweak == tw_denormal_qkv)) ok = check_denormal_out(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

static void test_edge(void **state)
{
    run_edge(*state, false);
}

static void test_edge_noprobs(void **state)
{
    run_edge(*state, true);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    const size_t n_cases = case_rows_tagged(CASE_EDGES, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[2 * MAX_CASES];
    for (size_t i = 0; i < n_cases; i++) {
        snprintf(noprobs_names[i], sizeof noprobs_names[i], "%s/noprobs", g_rows[i]->c.name);
        struct CMUnitTest t = {g_rows[i]->c.name, test_edge, NULL, NULL, (void *)&g_rows[i]};
        struct CMUnitTest t2 = {noprobs_names[i], test_edge_noprobs, NULL, NULL, (void *)&g_rows[i]};
        tests[i] = t;
        tests[n_cases + i] = t2;
    }
    int failed = tu_run_group("edges", tests, 2 * n_cases);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
