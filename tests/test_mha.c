/*
 * test_mha: clattn_mha_create / clattn_mha_forward against the double-precision nn.MultiheadAttention
 * reference (ref_mha), on the backend chosen by CLATTN_DEVICE (exit 77 when absent): self- and
 * cross-attention (kdim != vdim != E), with and without biases, bool/additive masks (broadcast and
 * strided), kv_lengths (0 and Lk included), both causal alignments, window, softcap, explicit scale,
 * per-head and averaged probabilities, odd sizes; the module reused across shapes; weights copied.
 * Tolerance: max abs error <= 1e-5 * max(1, max|ref|) (TU_TOL_F32); where the reference
 * probability is exactly 0 (a disallowed key) the result must be exactly 0 too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "reference.h"

static clattn_context *g_ctx;

#define PH CLATTN_PROBS_PER_HEAD
#define AV CLATTN_PROBS_AVERAGED

/* The MHA rows tagged mha in tests/cases/cases.c (position = seed index). */
#define MAX_CASES 128
static const mha_case *g_rows[MAX_CASES];

/* Runs one forward and checks it. ref_w: the weights the reference uses (may differ from the
 * arrays passed at create when testing that weights are copied). */
static bool run_and_check(clattn_mha *m, const mha_case *c, mha_data *d, const clattn_mha_weights *ref_w,
                          const tu_where *w)
{
    return mha_data_forward(g_ctx, m, c, d, w) == CLATTN_SUCCESS && mha_data_check(c, d, ref_w, w);
}

static void test_case(void **state)
{
    const mha_case *const *row = *state;
    assert_true(mha_case_run_checked(g_ctx, *row, "mha", (int)(row - g_rows)));
}

/* The weights are copied at create: the caller may overwrite them afterwards. One module is also
 * reused across shapes (q_len, kv_len, batch, options change) and back. */
static void test_weights_copied_and_reuse(void **state)
{
    (void)state;
    mha_case c = {"reuse", 2, 7, 9, 32, 4, 12, 20, .bias = 1, .probs = PH};
    tu_where w = {"mha", "weights_copied_and_reuse", tu_case_seed("mha", 1000)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, &c, &r);
    clattn_mha_weights orig = d.w;
    float *saved[8];
    int64_t sizes[8] = {32 * 32, 32 * 12, 32 * 20, 32 * 32, 32, 32, 32, 32};
    for (int i = 0; i < 8; i++) {
        saved[i] = malloc((size_t)sizes[i] * sizeof(float));
        memcpy(saved[i], d.params[i], (size_t)sizes[i] * sizeof(float));
    }
    clattn_mha_weights ref_w = orig;
    ref_w.w_q = saved[0], ref_w.w_k = saved[1], ref_w.w_v = saved[2], ref_w.w_o = saved[3];
    ref_w.b_q = saved[4], ref_w.b_k = saved[5], ref_w.b_v = saved[6], ref_w.b_o = saved[7];

    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &d.w);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "clattn_mha_create: %d %s", (int)st, clattn_last_error(g_ctx));
    /* scribble over the caller's weights */
    for (int i = 0; i < 8; i++) tu_fill_bits(d.params[i], sizes[i], 0x7fc0beef);
    if (ok) ok = run_and_check(m, &c, &d, &ref_w, &w);

    /* different shapes and options with the same module: Lq 3, Lk 5, batch 1, causal, averaged */
    if (ok) {
        mha_case c2 = c;
        c2.B = 1, c2.Lq = 3, c2.Lk = 5, c2.causal = CLATTN_CAUSAL_BOTTOM_RIGHT, c2.probs = AV;
        mha_data d2;
        mha_data_make(&d2, &c2, &r);
        tu_where w2 = w;
        w2.name = "weights_copied_and_reuse(second shape)";
        ok = run_and_check(m, &c2, &d2, &ref_w, &w2);
        mha_data_free(&d2);
    }
    if (ok) { /* and back to the first shape with new inputs */
        for (int64_t i = 0; i < c.B * c.Lq * c.E; i++) d.query[i] = (float)tu_rng_uniform(&r, -1, 1);
        tu_where w3 = w;
        w3.name = "weights_copied_and_reuse(first shape again)";
        ok = run_and_check(m, &c, &d, &ref_w, &w3);
    }
    clattn_mha_destroy(m);
    for (int i = 0; i < 8; i++) free(saved[i]);
    mha_data_free(&d);
    assert_true(ok);
}

/* kdim = vdim = 0 in the weights mean embed_dim; opts NULL means defaults. */
static void test_defaults(void **state)
{
    (void)state;
    mha_case c = {"defaults", 2, 7, 7, 16, 2, 0, 0, .self = 1, .bias = 1};
    tu_where w = {"mha", "defaults_opts_null", tu_case_seed("mha", 1001)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, &c, &r);
    clattn_mha *m = NULL;
    bool ok = clattn_mha_create(&m, g_ctx, &d.w) == CLATTN_SUCCESS;
    if (ok) {
        clattn_status st = clattn_mha_forward(m, c.B, c.Lq, c.Lk, d.query, NULL, NULL, NULL, NULL, NULL, d.out, NULL);
        ok = st == CLATTN_SUCCESS;
        if (!ok) tu_report(&w, "forward with opts NULL: %d %s", (int)st, clattn_last_error(g_ctx));
    } else {
        tu_report(&w, "create: %s", clattn_last_error(g_ctx));
    }
    if (ok) {
        double *ro = malloc((size_t)d.n_out * sizeof(double));
        ref_mha(&d.w, c.B, c.Lq, c.Lk, d.query, NULL, NULL, NULL, NULL, NULL, ro, NULL);
        ok = tu_check_array(&w, "out", d.out, ro, d.n_out, TU_TOL_F32);
        free(ro);
    }
    clattn_mha_destroy(m);
    mha_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    const size_t n_cases = mha_rows_tagged(CASE_MHA, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 2];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_weights_copied_and_reuse), cmocka_unit_test(test_defaults)};
    tests[n++] = extra[0];
    tests[n++] = extra[1];
    int failed = tu_run_group("mha", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
