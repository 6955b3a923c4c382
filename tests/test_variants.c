/*
 * test_variants: axial, temporal and area attention (clattn.h, "The attention family over views") against the
 * naive double-precision reference of tests/support/views_case.c, on the backend chosen by CLATTN_DEVICE (exit
 * 77 when absent) and, through the path-named registrations, on every SDPA kernel path.
 *
 * Rows: tests/cases/views_cases.c (tag VIEWS_TEST): odd sizes (L 1, 7, 67; D 8, 40; Dv != D), 3-D to 6-D views,
 * every axis kind, causal, probabilities, contiguous / permuted / padded layouts (the last two exercise the loop
 * of SDPA plans over batch axes that do not merge; the number of plans is asserted), a NaN in one query row
 * (it must stay in that row: the reference's other rows are finite and compared exactly as usual). Every case
 * poisons out and probs first and checks that gap elements stay untouched. Fully masked rows cannot occur
 * (no masks; causal always allows the diagonal). Plus argument errors (statuses and messages), a plan
 * executed twice, the one-shot calls, binary16 q/k/v/out (tolerance 1e-3 relative) and area attention on
 * AAttn's fused qkv layout (three views of one buffer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f16_ref.h"
#include "views_cases.h"

static clattn_context *g_ctx;

static void test_row(void **state)
{
    const views_row *row = *state;
    const int idx = (int)(row - views_rows);
    tu_where w = {"variants", row->c.name, tu_case_seed("variants", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    views_data d;
    views_data_make(&d, &row->c, &r);
    char path[64] = "";
    int64_t count = 0;
    bool ok = views_data_run(g_ctx, &d, 2, &w, path, sizeof path, &count) == CLATTN_SUCCESS;
    ok = ok && tu_check_path(path, false, &w) && views_data_check(&d, &w);
    if (ok && row->c.want_count && count != row->c.want_count) {
        tu_report(&w, "SDPA plans: %lld, expected %lld", (long long)count, (long long)row->c.want_count);
        ok = false;
    }
    views_data_free(&d);
    assert_true(ok);
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
    float buf[4096] = {0};
    const int64_t dims[5] = {2, 3, 4, 5, 8};
    clattn_axial_desc a;
    clattn_axial_desc_init(&a, 5, dims, 4);
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "axis: 4");
    clattn_axial_desc_init(&a, 5, dims, 2);
    a.k.dims[3] = 6;
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "k: dim 3 is 6");
    clattn_axial_desc_init(&a, 5, dims, 2);
    a.want_probs = 1;
    a.probs.dims[3] = 3;
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, buf), CLATTN_ERROR_INVALID_ARGUMENT, "probs: dim 3");
    clattn_axial_desc_init(&a, 2, dims, 0);
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "ndim is 2");
    clattn_axial_desc_init(&a, 5, dims, 2);
    a.struct_size = 8;
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "struct_size");
    clattn_axial_desc_init(&a, 5, dims, 2);
    expect_error(clattn_axial(g_ctx, &a, buf, NULL, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "k is NULL");
    expect_error(clattn_axial(g_ctx, &a, buf, buf, buf, buf, buf), CLATTN_ERROR_INVALID_ARGUMENT, "probs is given");
    expect_error(clattn_axial(g_ctx, NULL, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "desc is NULL");

    clattn_area_desc ar;
    clattn_area_desc_init(&ar, 1, 10, 2, 8, 4);
    expect_error(clattn_area(g_ctx, &ar, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "N = 10 positions (q dim 1) is not a multiple of area 4");
    clattn_area_desc_init(&ar, 1, 12, 2, 8, 0);
    expect_error(clattn_area(g_ctx, &ar, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "area: 0");
    clattn_area_desc_init(&ar, 1, 12, 2, 8, 4);
    ar.num_heads = 3;
    expect_error(clattn_area(g_ctx, &ar, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "num_heads: 3, expected >= 1 and dividing q dim 2 (16 channels)");

    clattn_temporal_desc t;
    clattn_temporal_desc_init(&t, 1, 4, 3, 2, 8);
    t.num_heads = 0;
    expect_error(clattn_temporal(g_ctx, &t, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "num_heads: 0");
    clattn_temporal_desc_init(&t, 1, 4, 3, 2, 8);
    t.causal = (clattn_causal)7;
    expect_error(clattn_temporal(g_ctx, &t, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "causal: 7");
    assert_true(clattn_axial_plan_path(NULL)[0] == '\0' && clattn_area_plan_sdpa_count(NULL) == 0);
}

/* The two-layer axial block's attention (row then column) as two plans on the same arrays, against the
 * reference of each step. */
static void test_row_then_column(void **state)
{
    (void)state;
    views_case c = {"row_then_column", VC_AXIAL, 5, {1, 2, 5, 7, 8}, .axis = 3};
    tu_where w = {"variants", c.name, tu_case_seed("variants", 1000)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    views_data d;
    views_data_make(&d, &c, &r);
    char path[64];
    bool ok = views_data_run(g_ctx, &d, 1, &w, path, sizeof path, NULL) == CLATTN_SUCCESS && views_data_check(&d, &w);
    /* step 2: along X, with the row step's output as q, k and v */
    views_data d2;
    c.axis = 2;
    c.name = "row_then_column(column)";
    w.name = c.name;
    views_data_make(&d2, &c, &r);
    memcpy(d2.bq, d.bout, (size_t)d.nout * sizeof(float));
    memcpy(d2.bk, d.bout, (size_t)d.nout * sizeof(float));
    memcpy(d2.bv, d.bout, (size_t)d.nout * sizeof(float));
    views_data_reference(&d2);
    ok = ok && views_data_run(g_ctx, &d2, 1, &w, path, sizeof path, NULL) == CLATTN_SUCCESS &&
         views_data_check(&d2, &w);
    views_data_free(&d);
    views_data_free(&d2);
    assert_true(ok);
}

/* Axial attention on binary16 q, k, v, out (data_type F16): against the reference of the fp16-rounded inputs,
 * |got - ref| <= 1e-3·max(1, |ref|) (binary16 keeps 11 significant bits: half an ulp is 2^-11 relative). */
static void test_f16_axial(void **state)
{
    (void)state;
    views_case c = {"f16_axial", VC_AXIAL, 5, {2, 3, 7, 5, 8}, .axis = 2, .probs = 1, .causal = CLATTN_CAUSAL_TOP_LEFT};
    tu_where w = {"variants", c.name, tu_case_seed("variants", 1001)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    views_data d;
    views_data_make(&d, &c, &r);
    uint16_t *h[3];
    float *f[3] = {d.bq, d.bk, d.bv};
    const int64_t n[3] = {d.nq, d.nk, d.nv};
    for (int t = 0; t < 3; t++) {
        h[t] = tu_xmalloc((size_t)n[t] * sizeof(uint16_t));
        for (int64_t i = 0; i < n[t]; i++) {
            h[t][i] = f16r_from_double(f[t][i]);
            f[t][i] = (float)f16r_to_double(h[t][i]);
        }
    }
    views_data_reference(&d);
    uint16_t *out = tu_xmalloc((size_t)d.nout * sizeof(uint16_t));
    for (int64_t i = 0; i < d.nout; i++) out[i] = F16R_POISON;
    clattn_axial_desc a;
    clattn_axial_desc_init(&a, 5, c.api_dims, c.axis);
    a.causal = c.causal;
    a.want_probs = 1;
    a.data_type = CLATTN_DTYPE_F16;
    clattn_status st = clattn_axial(g_ctx, &a, h[0], h[1], h[2], out, d.bprobs);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "status %d: %s", (int)st, clattn_last_error(g_ctx));
    for (int64_t i = 0; i < d.nout && ok; i++) {
        const double got = f16r_to_double(out[i]), ref = d.ref_out[i]; /* contiguous: buffer order = C order */
        if (!(fabs(got - ref) <= 1e-3 * (fabs(ref) > 1 ? fabs(ref) : 1))) {
            tu_report(&w, "out[%lld]: got %g, reference %g", (long long)i, got, ref);
            ok = false;
        }
    }
    ok = ok && tu_check_array(&w, "probs (float32)", d.bprobs, d.ref_probs, d.nprobs, 1e-3);
    for (int t = 0; t < 3; t++) free(h[t]);
    free(out);
    views_data_free(&d);
    assert_true(ok);
}

/* Area attention straight on AAttn's fused qkv ([B, N, H, 3·Dh] after its view: q, k, v are [B, N, H, Dh] views at
 * offsets 0, Dh, 2·Dh), against the same problem on separate contiguous q, k, v. */
static void test_area_fused_qkv(void **state)
{
    (void)state;
    const int64_t B = 2, N = 12, H = 2, Dh = 8, A = 3, n = B * N * H * Dh;
    tu_where w = {"variants", "area_fused_qkv", tu_case_seed("variants", 1002)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    float *qkv = tu_xmalloc((size_t)(3 * n) * sizeof(float)), *sep[3], *o1 = tu_xmalloc((size_t)n * sizeof(float));
    float *o2 = tu_xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < 3 * n; i++) qkv[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (int t = 0; t < 3; t++) {
        sep[t] = tu_xmalloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) sep[t][i] = qkv[(i / Dh) * 3 * Dh + t * Dh + i % Dh];
    }
    const int64_t vd[4] = {B, N, H, Dh}, vs[4] = {N * H * 3 * Dh, H * 3 * Dh, 3 * Dh, 1};
    clattn_area_desc d;
    clattn_area_desc_init(&d, B, N, H, Dh, A);
    d.num_heads = 0;
    d.out = clattn_tensor_contiguous(B, N, H, Dh);
    d.q = d.k = d.v = d.out;
    bool ok = clattn_area(g_ctx, &d, sep[0], sep[1], sep[2], o1, NULL) == CLATTN_SUCCESS;
    d.q = clattn_tensor_view(4, vd, vs, 0);
    d.k = clattn_tensor_view(4, vd, vs, Dh);
    d.v = clattn_tensor_view(4, vd, vs, 2 * Dh);
    ok = ok && clattn_area(g_ctx, &d, qkv, qkv, qkv, o2, NULL) == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "%s", clattn_last_error(g_ctx));
    double *ref = tu_xmalloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) ref[i] = o1[i];
    ok = ok && tu_check_array(&w, "out (fused qkv views vs separate arrays)", o2, ref, n, TU_TOL_F32);
    free(qkv), free(o1), free(o2), free(ref);
    for (int t = 0; t < 3; t++) free(sep[t]);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    struct CMUnitTest tests[128];
    size_t n = 0;
    for (size_t i = 0; i < views_row_count && n < 120; i++) {
        if (!(views_rows[i].tags & VIEWS_TEST)) continue;
        struct CMUnitTest t = {views_rows[i].c.name, test_row, NULL, NULL, (void *)&views_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_errors), cmocka_unit_test(test_row_then_column),
                                 cmocka_unit_test(test_f16_axial), cmocka_unit_test(test_area_fused_qkv)};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) tests[n++] = extra[i];
    int failed = tu_run_group("variants", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
