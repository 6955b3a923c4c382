/*
 * test_additive: additive (Bahdanau) attention (clattn_additive_*) against a naive double-precision reference of
 * e_ij = w_e·tanh(W_q·q_i + W_k·k_j + bias), on the backend chosen by CLATTN_DEVICE (exit 77 when absent): odd
 * sizes (Lq 1, 7, 67; Lk 1, 7, 129; A 1, 16, 67; Dq != Dk != Dv), with and without bias, causal top-left and
 * bottom-right with Lq != Lk, bool and additive masks broadcast over batch and queries, kv_lengths (0 and Lk:
 * fully masked rows output zeros), probabilities, padded and [L, B, D] strided views (gaps checked untouched),
 * NaN confinement (a NaN in query row i stays in row i; NaN in the v of a masked key reaches nothing), poisoned
 * outputs, argument errors, and the path ("additive" on OpenCL, "host-additive" on the host).
 * Tolerance: max |got - ref| <= 1e-5·max(1, max|ref|) (TU_TOL_F32).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clattn_context *g_ctx;

typedef struct add_case {
    const char *name;
    int64_t B, Lq, Lk, Dq, Dk, Dv, A;
    int bias, layout; /* layout 0 C order, 1 padded, 2 memory [L, B, D] */
    clattn_causal causal;
    clattn_mask_kind mask_kind;
    int mb, mq;       /* mask broadcast over batch (mb) / queries (mq) */
    int kvl, probs;
    int nan_q_row;    /* 1 + the query row of batch 0 to poison with NaN */
    int nan_masked_v; /* NaN in v of a key kv_lengths masks (needs kvl) */
} add_case;

static clattn_tensor view3(int layout, int64_t d0, int64_t d1, int64_t d2, int64_t *len)
{
    int64_t s[3];
    if (layout == 1) s[2] = 1, s[1] = d2 + 3, s[0] = d1 * s[1] + 5, *len = d0 * s[0] + 2;
    else if (layout == 2) s[2] = 1, s[0] = d2, s[1] = d0 * d2, *len = d0 * d1 * d2;
    else s[2] = 1, s[1] = d2, s[0] = d1 * d2, *len = d0 * d1 * d2;
    const int64_t d[3] = {d0, d1, d2};
    return clattn_tensor_view(3, d, s, 0);
}

static int64_t at3(const clattn_tensor *t, int64_t a, int64_t b, int64_t c)
{
    return t->offset + (t->dims[0] > 1 ? a * t->strides[0] : 0) + (t->dims[1] > 1 ? b * t->strides[1] : 0) +
           c * t->strides[2];
}

static float *input(tu_rng *r, const clattn_tensor *t, int64_t len, double range)
{
    float *p = tu_xmalloc((size_t)len * sizeof(float));
    for (int64_t i = 0; i < len; i++) p[i] = NAN; /* gaps: a read outside the view shows */
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++) p[at3(t, a, b, c)] = (float)tu_rng_uniform(r, -range, range);
    return p;
}

static float *plain(tu_rng *r, int64_t n, double range)
{
    float *p = tu_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)tu_rng_uniform(r, -range, range);
    return p;
}

static bool allowed(const add_case *k, const clattn_tensor *mv, const void *mask, const int32_t *kvl, int64_t b,
                    int64_t i, int64_t j, double *add)
{
    const int64_t lk1 = kvl ? kvl[b] : k->Lk;
    *add = 0;
    if (j >= lk1) return false;
    if (k->causal == CLATTN_CAUSAL_TOP_LEFT && j > i) return false;
    if (k->causal == CLATTN_CAUSAL_BOTTOM_RIGHT && j > i + lk1 - k->Lq) return false;
    if (k->mask_kind == CLATTN_MASK_BOOL) return ((const uint8_t *)mask)[at3(mv, b, i, j)] != 0;
    if (k->mask_kind == CLATTN_MASK_ADDITIVE) {
        *add = ((const float *)mask)[at3(mv, b, i, j)];
        return *add != -INFINITY;
    }
    return true;
}

static bool run_case(const add_case *k, int idx)
{
    tu_where w = {"additive", k->name, tu_case_seed("additive", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    int64_t nq, nk, nv, no, np = 1;
    clattn_tensor qv = view3(k->layout, k->B, k->Lq, k->Dq, &nq), kv = view3(k->layout, k->B, k->Lk, k->Dk, &nk);
    clattn_tensor vv = view3(k->layout, k->B, k->Lk, k->Dv, &nv), ov = view3(k->layout, k->B, k->Lq, k->Dv, &no);
    clattn_tensor pv = view3(k->layout, k->B, k->Lq, k->Lk, &np);
    float *q = input(&r, &qv, nq, 1), *kk = input(&r, &kv, nk, 1), *v = input(&r, &vv, nv, 1);
    float *wq = plain(&r, k->A * k->Dq, 1.0 / sqrt((double)k->Dq)), *wk = plain(&r, k->A * k->Dk, 1.0 / sqrt((double)k->Dk));
    float *we = plain(&r, k->A, 1.0), *bias = k->bias ? plain(&r, k->A, 0.5) : NULL;
    int32_t *kvl = NULL;
    if (k->kvl) {
        kvl = tu_xmalloc((size_t)k->B * sizeof *kvl);
        for (int64_t b = 0; b < k->B; b++) kvl[b] = (int32_t)(b == 0 ? 0 : b == 1 ? k->Lk : tu_rng_int(&r, 1, k->Lk));
    }
    const int64_t md[3] = {k->mb ? 1 : k->B, k->mq ? 1 : k->Lq, k->Lk};
    clattn_tensor mv = clattn_tensor_contiguous_nd(3, md);
    void *mask = NULL;
    if (k->mask_kind != CLATTN_MASK_NONE) {
        const int64_t n = md[0] * md[1] * md[2];
        if (k->mask_kind == CLATTN_MASK_BOOL) {
            uint8_t *m = tu_xmalloc((size_t)n);
            for (int64_t i = 0; i < n; i++) m[i] = tu_rng_uniform(&r, 0, 1) < 0.7;
            mask = m;
        } else {
            float *m = tu_xmalloc((size_t)n * sizeof(float));
            for (int64_t i = 0; i < n; i++)
                m[i] = tu_rng_uniform(&r, 0, 1) < 0.3 ? -INFINITY : (float)tu_rng_uniform(&r, -2, 2);
            mask = m;
        }
    }
    if (k->nan_q_row) q[at3(&qv, 0, k->nan_q_row - 1, 0)] = NAN;
    if (k->nan_masked_v && kvl) /* batch 0 has kv length 0: all its keys are masked */
        for (int64_t j = 0; j < k->Lk; j++) v[at3(&vv, 0, j, 0)] = NAN;
    /* reference */
    double *ref = tu_xmalloc((size_t)(k->B * k->Lq * k->Dv) * sizeof(double));
    double *pref = tu_xmalloc((size_t)(k->B * k->Lq * k->Lk) * sizeof(double));
    double *pq = tu_xmalloc((size_t)k->A * sizeof(double)), *e = tu_xmalloc((size_t)k->Lk * sizeof(double));
    unsigned char *ok_j = tu_xmalloc((size_t)k->Lk);
    for (int64_t b = 0; b < k->B; b++)
        for (int64_t i = 0; i < k->Lq; i++) {
            for (int64_t a = 0; a < k->A; a++) {
                double s = 0;
                for (int64_t d = 0; d < k->Dq; d++) s += (double)wq[a * k->Dq + d] * q[at3(&qv, b, i, d)];
                pq[a] = s;
            }
            double mx = -INFINITY;
            bool any = false, nan = false;
            for (int64_t j = 0; j < k->Lk; j++) {
                double add;
                ok_j[j] = allowed(k, &mv, mask, kvl, b, i, j, &add);
                if (!ok_j[j]) continue;
                double s = 0;
                for (int64_t a = 0; a < k->A; a++) {
                    double pk = bias ? bias[a] : 0;
                    for (int64_t d = 0; d < k->Dk; d++) pk += (double)wk[a * k->Dk + d] * kk[at3(&kv, b, j, d)];
                    s += (double)we[a] * tanh(pq[a] + pk);
                }
                e[j] = s + add;
                any = true;
                if (isnan(e[j])) nan = true;
                else if (e[j] > mx) mx = e[j];
            }
            double sum = 0;
            for (int64_t j = 0; j < k->Lk; j++) {
                e[j] = !ok_j[j] ? 0 : nan ? NAN : exp(e[j] - mx);
                sum += e[j];
            }
            for (int64_t c = 0; c < k->Dv; c++) {
                double acc = 0;
                for (int64_t j = 0; j < k->Lk; j++)
                    if (ok_j[j]) acc += e[j] * v[at3(&vv, b, j, c)];
                ref[(b * k->Lq + i) * k->Dv + c] = any ? acc / sum : 0;
            }
            for (int64_t j = 0; j < k->Lk; j++) pref[(b * k->Lq + i) * k->Lk + j] = any ? e[j] / sum : 0;
        }
    float *out = tu_alloc_bits(no, TU_POISON_BITS), *probs = k->probs ? tu_alloc_bits(np, TU_POISON_BITS) : NULL;
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, k->B, k->Lq, k->Lk, k->Dq, k->Dk, k->Dv, k->A);
    d.q = qv, d.k = kv, d.v = vv, d.out = ov;
    d.has_bias = k->bias;
    d.causal = k->causal;
    d.mask_kind = k->mask_kind;
    d.mask = mv;
    d.use_kv_lengths = k->kvl;
    d.want_probs = k->probs;
    d.probs = pv;
    clattn_additive_plan *plan = NULL;
    bool ok = true;
    clattn_status st = clattn_additive_plan_create(&plan, g_ctx, &d);
    if (st == CLATTN_SUCCESS) {
        const char *want = tu_backend_of(g_ctx) == TU_HOST ? "host-additive" : "additive";
        if (strcmp(clattn_additive_plan_path(plan), want) != 0) {
            tu_report(&w, "path %s, expected %s", clattn_additive_plan_path(plan), want);
            ok = false;
        }
        for (int rep = 0; rep < 2 && st == CLATTN_SUCCESS; rep++) /* a plan runs twice */
            st = clattn_additive_execute(plan, q, kk, v, mask, kvl, wq, wk, we, bias, out, probs);
    }
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "status %d: %s", (int)st, clattn_last_error(g_ctx));
        ok = false;
    }
    const clattn_tensor *views[2] = {&ov, &pv};
    float *bufs[2] = {out, probs};
    const int64_t lens[2] = {no, np};
    double *refs[2] = {ref, pref};
    for (int t = 0; t < (k->probs ? 2 : 1) && ok; t++) {
        const clattn_tensor *tv = views[t];
        const int64_t n = tv->dims[0] * tv->dims[1] * tv->dims[2];
        float *got = tu_xmalloc((size_t)n * sizeof(float));
        unsigned char *in = calloc((size_t)lens[t], 1);
        for (int64_t a = 0, g = 0; a < tv->dims[0]; a++)
            for (int64_t b = 0; b < tv->dims[1]; b++)
                for (int64_t c = 0; c < tv->dims[2]; c++, g++) {
                    got[g] = bufs[t][at3(tv, a, b, c)];
                    in[at3(tv, a, b, c)] = 1;
                }
        ok = tu_check_array(&w, t ? "probs" : "out", got, refs[t], n, TU_TOL_F32);
        for (int64_t i = 0; i < lens[t] && ok; i++) {
            uint32_t bits;
            memcpy(&bits, &bufs[t][i], sizeof bits);
            if (!in[i] && bits != TU_POISON_BITS) {
                tu_report(&w, "%s: gap element %lld overwritten", t ? "probs" : "out", (long long)i);
                ok = false;
            }
        }
        free(got);
        free(in);
    }
    clattn_additive_plan_destroy(plan);
    free(q), free(kk), free(v), free(wq), free(wk), free(we), free(bias), free(kvl), free(mask);
    free(ref), free(pref), free(pq), free(e), free(ok_j), free(out), free(probs);
    return ok;
}

#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT
#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
static const add_case cases[] = {
    {"l1_a1", 1, 1, 1, 8, 8, 8, 1, .bias = 1, .probs = 1},
    {"lq7_lk129_a16", 2, 7, 129, 40, 24, 8, 16, .bias = 1, .probs = 1},
    {"lq67_lk7_a67_nobias", 1, 67, 7, 8, 40, 24, 67, .probs = 1},
    {"causal_tl_lq_gt_lk", 2, 67, 7, 16, 16, 16, 16, .bias = 1, .causal = TL, .probs = 1},
    {"causal_br_lq_lt_lk_kvl", 3, 7, 67, 16, 8, 16, 16, .bias = 1, .causal = BR, .kvl = 1, .probs = 1},
    {"bool_mask_bcast_batch", 3, 7, 67, 16, 16, 8, 16, .bias = 1, .mask_kind = BOOLM, .mb = 1, .probs = 1},
    {"add_mask_bcast_queries", 2, 7, 67, 16, 16, 8, 8, .bias = 1, .mask_kind = ADDM, .mq = 1, .probs = 1},
    {"add_mask_full_padded", 2, 7, 7, 16, 16, 8, 8, .bias = 1, .mask_kind = ADDM, .layout = 1, .probs = 1},
    {"lbd_layout_kvl", 3, 7, 129, 40, 40, 40, 16, .bias = 1, .layout = 2, .kvl = 1, .probs = 1},
    {"nan_q_row", 2, 7, 67, 16, 16, 16, 16, .bias = 1, .nan_q_row = 4, .probs = 1},
    {"nan_masked_v", 3, 7, 67, 16, 16, 16, 16, .bias = 1, .kvl = 1, .nan_masked_v = 1, .probs = 1},
    {"no_probs_causal_br", 2, 129, 129, 32, 32, 32, 32, .bias = 1, .causal = BR},
};

static void test_case(void **state)
{
    const add_case *k = *state;
    const char *only = getenv("CLATTN_TEST_CASE"); /* names of the cases to run (debugging) */
    if (only && !strstr(only, k->name)) skip();
    assert_true(run_case(k, (int)(k - cases)));
}

static void expect_error(clattn_status st, clattn_status want, const char *needle)
{
    if (st != want || !strstr(clattn_last_error(g_ctx), needle)) {
        fprintf(stderr, "expected status %d with '%s', got %d: %s\n", (int)want, needle, (int)st,
                clattn_last_error(g_ctx));
        fail();
    }
}

static void test_errors(void **state)
{
    (void)state;
    float buf[512] = {0};
    int32_t kvl[2] = {3, 9};
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 0);
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "attn_dim: 0");
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 2);
    d.v.dims[1] = 5;
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "v: dim 1 is 5, expected 4");
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 2);
    d.mask_kind = CLATTN_MASK_BOOL;
    d.mask.dims[2] = 3;
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, buf, NULL, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "mask: dim 2 is 3, expected 4");
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 2);
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, buf, buf, NULL, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "bias is NULL but desc.has_bias is set");
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, NULL, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "w_k is NULL");
    d.use_kv_lengths = 1;
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, kvl, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "kv_lengths: element 1 is 9, expected 0..4");
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 2);
    d.q.ndim = 4;
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "q: ndim is 4, expected 3");
    clattn_additive_desc_init(&d, 2, 3, 4, 4, 4, 4, 2);
    d.struct_size = 3;
    expect_error(clattn_additive(g_ctx, &d, buf, buf, buf, NULL, NULL, buf, buf, buf, buf, buf, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "struct_size");
    assert_true(clattn_additive_plan_path(NULL)[0] == '\0');
    clattn_additive_plan_destroy(NULL);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    const size_t nc = sizeof cases / sizeof cases[0];
    struct CMUnitTest tests[sizeof cases / sizeof cases[0] + 1];
    for (size_t i = 0; i < nc; i++) {
        struct CMUnitTest t = {cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
        tests[i] = t;
    }
    struct CMUnitTest e = cmocka_unit_test(test_errors);
    tests[nc] = e;
    int failed = tu_run_group("additive", tests, nc + 1);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
