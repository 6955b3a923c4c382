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
#include "sdpa_case.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

#define NO_WIN 0
#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT

/* Sizes: (B, Hq, Hkv, Lq, Lk, D, Dv) */
#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

static const sdpa_case cases[] = {
    /* ---- odd sizes (a covering set of L in {1,7,67,129,300} x D in {8,40,64,128,256}) ---- */
    {"l1_d8", SZ(1, 1, 1, 1, 1, 8, 8), .probs = 1},
    {"l7_d40", SZ(2, 3, 3, 7, 7, 40, 40), .probs = 1},
    {"l67_d64", SZ(1, 2, 2, 67, 67, 64, 64), .probs = 1},
    {"l129_d128", SZ(1, 2, 2, 129, 129, 128, 128)},
    {"l300_d256", SZ(1, 1, 1, 300, 300, 256, 256), .probs = 1},
    {"l300_d8", SZ(1, 2, 2, 300, 300, 8, 8)},
    {"l129_d40", SZ(2, 1, 1, 129, 129, 40, 40), .probs = 1},
    {"l7_d256", SZ(1, 2, 2, 7, 7, 256, 256)},
    {"l1_d128", SZ(3, 2, 2, 1, 1, 128, 128), .probs = 1},
    /* ---- Lq != Lk, Dv != D ---- */
    {"decode_lq1_lk300_d64", SZ(2, 4, 4, 1, 300, 64, 64), .probs = 1},
    {"decode_lq1_lk4099_d64", SZ(1, 2, 2, 1, 4099, 64, 64), .probs = 1},
    {"lq2_lk4096_d32_gqa", SZ(1, 4, 2, 2, 4096, 32, 32)},
    {"lq129_lk7_d8", SZ(1, 2, 2, 129, 7, 8, 8), .probs = 1},
    {"lq7_lk129_d40", SZ(2, 2, 2, 7, 129, 40, 40)},
    {"lq67_lk300_d128_dv40", SZ(1, 2, 2, 67, 300, 128, 40), .probs = 1},
    {"lq7_lk67_d8_dv256", SZ(2, 2, 2, 7, 67, 8, 256)},
    {"lq300_lk1_d40_dv8", SZ(1, 2, 2, 300, 1, 40, 8), .probs = 1},
    {"lq1_lk7_d256_dv64", SZ(2, 2, 2, 1, 7, 256, 64)},
    /* ---- GQA / MQA ---- */
    {"gqa_8_2", SZ(2, 8, 2, 67, 129, 64, 64), .probs = 1},
    {"gqa_8_2_causal_br", SZ(1, 8, 2, 7, 67, 40, 40), .causal = BR, .probs = 1},
    {"mqa_8_1", SZ(1, 8, 1, 7, 67, 40, 40), .probs = 1},
    {"mqa_4_1_decode", SZ(2, 4, 1, 1, 129, 128, 128)},
    /* ---- layouts and offsets (no copies) ---- */
    {"blhd_all", SZ(2, 4, 2, 67, 67, 64, 64), .lq = TU_BLHD, .lk = TU_BLHD, .lv = TU_BLHD, .lo = TU_BLHD},
    {"blhd_pad_offsets", SZ(2, 3, 3, 7, 129, 40, 40), .lq = TU_BLHD_PAD, .lk = TU_BLHD_PAD, .lv = TU_BLHD_PAD,
     .lo = TU_BLHD_PAD, .off_q = 5, .off_k = 3, .off_v = 11, .off_o = 2, .probs = 1, .lp = TU_PAD, .off_p = 13},
    {"pad_hbld_mixed", SZ(2, 4, 2, 67, 7, 8, 40), .lq = TU_PAD, .lk = TU_HBLD, .lv = TU_BLHD, .lo = TU_HBLD,
     .off_q = 1, .off_o = 7, .probs = 1, .lp = TU_HBLD},
    {"colstride_all", SZ(1, 2, 2, 7, 7, 8, 8), .lq = TU_COLSTRIDE, .lk = TU_COLSTRIDE, .lv = TU_COLSTRIDE,
     .lo = TU_COLSTRIDE, .probs = 1, .lp = TU_COLSTRIDE, .off_o = 4},
    {"blhd_out_pad_gqa", SZ(1, 8, 2, 129, 67, 40, 64), .lq = TU_BLHD, .lk = TU_BLHD, .lv = TU_BLHD,
     .lo = TU_BLHD_PAD, .off_o = 9},
    /* ---- k/v broadcast over the batch ---- */
    {"kv_bcast", SZ(3, 4, 2, 7, 67, 64, 64), .kv_bcast = 1, .probs = 1},
    {"kv_bcast_blhd_kvl", SZ(3, 2, 1, 67, 67, 40, 40), .kv_bcast = 1, .lk = TU_BLHD, .lv = TU_PAD, .kvl = 1},
    /* ---- causal alignments ---- */
    {"causal_tl_square", SZ(1, 2, 2, 129, 129, 64, 64), .causal = TL, .probs = 1},
    {"causal_tl_lq_lt_lk", SZ(1, 2, 2, 7, 67, 64, 64), .causal = TL, .probs = 1},
    {"causal_tl_lq_gt_lk", SZ(1, 2, 2, 67, 7, 64, 64), .causal = TL, .probs = 1},
    {"causal_br_lq_lt_lk", SZ(2, 2, 2, 7, 67, 40, 40), .causal = BR, .probs = 1},
    {"causal_br_lq_gt_lk", SZ(2, 2, 2, 67, 7, 40, 40), .causal = BR, .probs = 1},
    {"causal_br_square_300", SZ(1, 1, 1, 300, 300, 40, 40), .causal = BR},
    {"causal_tl_lq1", SZ(1, 2, 2, 1, 67, 8, 8), .causal = TL, .probs = 1},
    /* ---- windows (left, right) incl. 0 and -1 ---- */
    {"win_0_0", SZ(1, 2, 2, 67, 67, 40, 40), .window = 1, .wl = 0, .wr = 0, .probs = 1},
    {"win_0_unb", SZ(1, 2, 2, 67, 129, 40, 40), .window = 1, .wl = 0, .wr = -1, .probs = 1},
    {"win_unb_0", SZ(1, 2, 2, 129, 67, 40, 40), .window = 1, .wl = -1, .wr = 0, .probs = 1},
    {"win_3_5", SZ(2, 2, 2, 67, 129, 8, 8), .window = 1, .wl = 3, .wr = 5, .probs = 1},
    {"win_unb_unb_explicit", SZ(1, 2, 2, 7, 67, 8, 8), .window = 1, .wl = -1, .wr = -1, .probs = 1},
    {"win_16_0_causal_tl", SZ(1, 2, 2, 129, 129, 64, 64), .window = 1, .wl = 16, .wr = 0, .causal = TL},
    {"win_5_2_causal_br", SZ(1, 2, 2, 7, 67, 40, 40), .window = 1, .wl = 5, .wr = 2, .causal = BR, .probs = 1},
    {"win_0_7_lq_gt_lk", SZ(1, 2, 2, 67, 7, 8, 8), .window = 1, .wl = 0, .wr = 7, .probs = 1},
    {"win_100_100_l300", SZ(1, 1, 1, 300, 300, 8, 8), .window = 1, .wl = 100, .wr = 100},
    /* ---- bool masks: every (Bm, Hm, Lqm) broadcast combination ---- */
    {"bool_1_1_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .probs = 1},
    {"bool_1_1_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mq = 1, .probs = 1},
    {"bool_1_h_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mh = 1, .probs = 1},
    {"bool_1_h_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mh = 1, .mq = 1, .lm = TU_PAD, .off_m = 3},
    {"bool_b_1_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .probs = 1},
    {"bool_b_1_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mq = 1, .lm = TU_PAD},
    {"bool_b_h_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .probs = 1},
    {"bool_b_h_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .mq = 1, .probs = 1,
     .density = 0.3},
    /* ---- additive masks: every broadcast combination ---- */
    {"add_1_1_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .probs = 1},
    {"add_1_1_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mq = 1, .probs = 1, .lm = TU_PAD},
    {"add_1_h_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mh = 1},
    {"add_1_h_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mh = 1, .mq = 1, .probs = 1},
    {"add_b_1_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .probs = 1},
    {"add_b_1_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .mq = 1, .lm = TU_BLHD},
    {"add_b_h_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .mh = 1, .probs = 1},
    {"add_b_h_q", SZ(2, 3, 3, 67, 129, 40, 40), .mask_kind = ADDM, .mb = 1, .mh = 1, .mq = 1, .probs = 1,
     .lm = TU_PAD, .off_m = 17, .density = 0.9},
    {"add_gqa_causal", SZ(1, 8, 2, 67, 67, 64, 64), .mask_kind = ADDM, .mq = 1, .causal = TL, .probs = 1},
    /* ---- kv_lengths (0 and Lk included) ---- */
    {"kvl_basic", SZ(3, 2, 2, 7, 67, 40, 40), .kvl = 1, .probs = 1},
    {"kvl_causal_br_decode", SZ(4, 4, 2, 1, 129, 64, 64), .kvl = 1, .causal = BR, .probs = 1},
    {"kvl_causal_br_lq_gt", SZ(3, 2, 2, 67, 67, 8, 8), .kvl = 1, .causal = BR, .probs = 1},
    {"kvl_causal_tl", SZ(3, 2, 2, 67, 129, 8, 8), .kvl = 1, .causal = TL, .probs = 1},
    {"kvl_window", SZ(3, 2, 2, 7, 300, 40, 40), .kvl = 1, .window = 1, .wl = 9, .wr = 0},
    {"kvl_bool_mask", SZ(3, 2, 2, 7, 67, 40, 40), .kvl = 1, .mask_kind = BOOLM, .mb = 1, .mq = 1, .probs = 1},
    /* ---- decode without probabilities: the host decode path and the OpenCL split-key decode + merge
     *      (cases with probabilities take the row-wise path / the chain). Dv not a multiple of 16, Lk over
     *      several key chunks, GQA groups, masks, kv_lengths, windows. ---- */
    {"dec_gqa_lk4099_dv40", SZ(2, 8, 2, 1, 4099, 64, 40)},
    {"dec_lq3_gqa_lk700_d72", SZ(1, 4, 1, 3, 700, 72, 72), .causal = BR},
    {"dec_lq4_lk300_dv17", SZ(3, 2, 2, 4, 300, 40, 17), .kvl = 1},
    {"dec_lk2100_bool_dv33", SZ(1, 6, 3, 1, 2100, 128, 33), .mask_kind = BOOLM, .mh = 1, .density = 0.7},
    {"dec_lk1500_add_win", SZ(2, 4, 2, 2, 1500, 64, 64), .mask_kind = ADDM, .window = 1, .wl = 700, .wr = 0,
     .causal = BR},
    {"dec_lq1_mqa_lk129_softcap", SZ(2, 16, 1, 1, 129, 128, 24), .softcap = 20.0f, .kvl = 1},
    /* ---- softcap ---- */
    {"softcap_5_scale1", SZ(1, 2, 2, 67, 67, 64, 64), .softcap = 5.0f, .scale = 1.0f, .probs = 1},
    {"softcap_0p5", SZ(2, 2, 2, 7, 129, 40, 40), .softcap = 0.5f, .probs = 1},
    {"softcap_30_add", SZ(1, 2, 2, 7, 67, 128, 128), .softcap = 30.0f, .scale = 0.5f, .mask_kind = ADDM,
     .mb = 1, .mh = 1, .mq = 1, .in_lo = -2.0, .in_hi = 2.0},
    /* ---- scale ---- */
    {"scale_explicit_0p3", SZ(1, 2, 2, 67, 67, 40, 40), .scale = 0.3f, .probs = 1},
    {"scale_explicit_neg", SZ(1, 2, 2, 7, 7, 8, 8), .scale = -0.7f, .probs = 1},
    {"scale_default_d40", SZ(1, 2, 2, 67, 67, 40, 40), .probs = 1},
    /* ---- probs with strided layouts ---- */
    {"probs_pad", SZ(2, 2, 2, 67, 67, 8, 8), .probs = 1, .lp = TU_PAD, .off_p = 3},
    {"probs_blhd_pad", SZ(2, 4, 2, 7, 129, 40, 40), .probs = 1, .lp = TU_BLHD_PAD, .off_p = 1},
    {"probs_colstride", SZ(1, 2, 2, 7, 67, 8, 8), .probs = 1, .lp = TU_COLSTRIDE, .mask_kind = BOOLM},
    /* ---- everything combined ---- */
    {"combined_1", SZ(3, 8, 2, 67, 129, 64, 40), .lq = TU_BLHD, .lk = TU_BLHD_PAD, .lv = TU_BLHD, .lo = TU_BLHD_PAD,
     .off_q = 3, .off_k = 8, .off_v = 1, .off_o = 5, .causal = BR, .window = 1, .wl = 40, .wr = 3,
     .mask_kind = ADDM, .mb = 1, .mq = 1, .lm = TU_PAD, .off_m = 2, .kvl = 1, .softcap = 20.0f, .scale = 0.2f,
     .probs = 1, .lp = TU_BLHD_PAD, .off_p = 7},
    {"combined_2", SZ(2, 6, 3, 129, 67, 40, 64), .lq = TU_HBLD, .lk = TU_PAD, .lv = TU_COLSTRIDE, .lo = TU_PAD,
     .kv_bcast = 1, .causal = TL, .window = 1, .wl = -1, .wr = 2, .mask_kind = BOOLM, .mh = 1, .mq = 1,
     .kvl = 1, .softcap = 2.0f, .probs = 1, .lp = TU_PAD},
};
#define N_CASES (sizeof cases / sizeof cases[0])

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
    const sdpa_case *orig = *state;
    sdpa_case c = shrink_case(orig);
    int idx = (int)(orig - cases);
    tu_where w = {"sdpa", c.name, tu_case_seed("sdpa", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
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
    tu_where w = {"sdpa", c.name, tu_case_seed("sdpa", 1002)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
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
    struct CMUnitTest tests[N_CASES + 3];
    size_t n = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        struct CMUnitTest t = {cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_plan_reuse), cmocka_unit_test(test_one_shot),
                                 cmocka_unit_test(test_scale_default_equals_explicit)};
    for (size_t i = 0; i < 3; i++) tests[n++] = extra[i];
    int failed = tu_run_group("sdpa", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
