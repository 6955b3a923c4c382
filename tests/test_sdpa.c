/*
 * test_sdpa: random SDPA problems against the double-precision reference, on the backend chosen
 * by CLATTN_DEVICE (exit 77 when absent). Covers odd sizes (L in 1, 7, 67, 129, 300; D in 8, 40,
 * 64, 128, 256), Lq != Lk, Dv != D, GQA and MQA, strided [B, L, H, D] and padded layouts with
 * offsets, k/v broadcast over the batch, both causal alignments, windows, bool and additive masks
 * with every broadcast combination, kv_lengths (0 and Lk included), softcap, explicit and default
 * scale, strided probabilities, everything combined; plan reuse and the one-shot call.
 *
 * Every case poisons out/probs before the call, compares with tolerance TU_TOL_F32
 * (max abs error <= 1e-5 * max(1, max|ref|)) and checks that gap elements stay untouched.
 * On rusticl (about 10x slower than PoCL) the largest cases are shrunk (see shrink_case) unless
 * CLATTN_TEST_FULL is set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "cases.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

#define NO_WIN 0
#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT

/* Sizes: (B, Hq, Hkv, Lq, Lk, D, Dv) */
#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

/* The rows tagged sdpa in tests/cases/cases.c (position = seed index). */
#define MAX_CASES 256
static const case_row *g_rows[MAX_CASES];

/* rusticl runs about 10x slower than PoCL: keep its work per case small. */
static sdpa_case shrink_case(const sdpa_case *c)
{
    sdpa_case s = *c;
    if (g_backend != TU_RUSTICL || getenv("CLATTN_TEST_FULL")) return s; /* CLATTN_TEST_FULL: no shrinking */
    const double budget = 2.0e6;
    while (sdpa_case_cost(&s) > budget && s.Hkv > 1 && s.Hq > 2) { /* fewer heads, same group size */
        if (s.Hkv % 2 == 0) s.Hkv /= 2, s.Hq /= 2;
        else break;
    }
    while (sdpa_case_cost(&s) > budget && (s.Lq > 67 || s.Lk > 67)) { /* 300 -> 75, 129 -> 32 */
        if (s.Lq > 67) s.Lq = s.Lq / 4;
        if (s.Lk > 67) s.Lk = s.Lk / 4;
    }
    return s;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    sdpa_case c = shrink_case(&(*row)->c);
    int idx = (int)(row - g_rows);
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "sdpa", idx, NULL);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* One plan executed several times with fresh inputs (and fresh kv_lengths and masks). */
static void test_plan_reuse(void **state)
{
    (void)state;
    sdpa_case c = {"plan_reuse", SZ(3, 4, 2, 7, 67, 40, 40), .lk = TU_BLHD, .lv = TU_BLHD, .causal = BR,
                   .mask_kind = ADDM, .mq = 1, .kvl = 1, .probs = 1, .lp = TU_PAD};
    tu_where w = {"sdpa", c.name, tu_case_seed("sdpa", 1000)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d.desc);
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "plan_create: %d %s", (int)st, clattn_last_error(g_ctx));
        sdpa_data_free(&d);
        fail();
    }
    bool ok = tu_check_plan_path(plan, &d.desc, &w);
    for (int it = 0; it < 4 && ok; it++) {
        if (it > 0) sdpa_data_refill(&d, &c, &r);
        st = clattn_sdpa_execute(plan, d.q, d.k, d.v, d.mask, d.kvl, d.out, d.probs);
        if (st != CLATTN_SUCCESS) {
            tu_report(&w, "execute #%d: %d %s", it, (int)st, clattn_last_error(g_ctx));
            ok = false;
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "plan_reuse(execute #%d)", it);
        tu_where wi = w;
        wi.name = name;
        ok = sdpa_data_check(&d, &wi);
    }
    clattn_sdpa_plan_destroy(plan);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* clattn_sdpa one-shot on a GQA problem with a mask and probs. */
static void test_one_shot(void **state)
{
    (void)state;
    sdpa_case c = {"one_shot", SZ(2, 4, 2, 7, 67, 64, 64), .mask_kind = BOOLM, .mb = 1, .mq = 1, .probs = 1,
                   .causal = TL};
    assert_true(sdpa_case_run_checked(g_ctx, &c, "sdpa", 1001, 1));
}

/* Default scale (0) gives the same result as an explicit 1/sqrt(D). */
static void test_scale_default_equals_explicit(void **state)
{
    (void)state;
    sdpa_case c = {"scale_default_vs_explicit", SZ(1, 2, 2, 67, 67, 40, 40), .probs = 1};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "sdpa", 1002, NULL);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS;
    int64_t n = d.no;
    float *first = malloc((size_t)n * sizeof(float));
    memcpy(first, d.out, (size_t)n * sizeof(float));
    sdpa_data_poison(&d);
    d.desc.scale = (float)(1.0 / sqrt(40.0));
    ok = ok && sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    if (ok) {
        double *ref = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++) ref[i] = (double)first[i];
        ok = tu_check_array(&w, "out(default scale) vs out(explicit 1/sqrt(D))", d.out, ref, n, TU_TOL_F32);
        free(ref);
    }
    free(first);
    sdpa_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const size_t n_cases = case_rows_tagged(CASE_SDPA, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 3];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_plan_reuse), cmocka_unit_test(test_one_shot),
                                 cmocka_unit_test(test_scale_default_equals_explicit)};
    for (size_t i = 0; i < 3; i++) tests[n++] = extra[i];
    int failed = tu_run_group("sdpa", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
