/*
 * The one case table: every SDPA problem the unit tests, the reliability tests and the benchmark run, and
 * the MHA problems of the MHA tests (see cases.h for what a row means and what each tag drives).
 *
 * Adding a case: append a row to the block of the suite it belongs to (a row's seed is its position among
 * the rows of its tag, so appending keeps every other case's random data), give it the tags of every
 * suite that should run it, and leave tol at TU_TOL_F32 unless the suite states why not. A row the
 * benchmark should time gets CASE_BENCH_DEFAULT (and CASE_BENCH_QUICK for --quick). Rows were moved here
 * unchanged from the tables of test_sdpa.c, test_edges.c, test_f16.c, test_cross_backend.c,
 * reliability/test_oclgrind_cases.c, reliability/test_threads.c, test_mha.c and clattn_bench.c's
 * default_grid, in their order.
 */
#include "cases.h"

#include <string.h>

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv
#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT
#define PH CLATTN_PROBS_PER_HEAD
#define AV CLATTN_PROBS_AVERAGED

const case_row case_rows[] = {
    /* ==== test_sdpa (tag sdpa): random problems on every backend; seed index = position among the sdpa rows ==== */
    /* ---- odd sizes (a covering set of L in {1,7,67,129,300} x D in {8,40,64,128,256}) ---- */
    {.tags = CASE_SDPA, .c = {"l1_d8", SZ(1, 1, 1, 1, 1, 8, 8), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"l7_d40", SZ(2, 3, 3, 7, 7, 40, 40), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"l67_d64", SZ(1, 2, 2, 67, 67, 64, 64), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"l129_d128", SZ(1, 2, 2, 129, 129, 128, 128)}},
    {.tags = CASE_SDPA, .c = {"l300_d256", SZ(1, 1, 1, 300, 300, 256, 256), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"l300_d8", SZ(1, 2, 2, 300, 300, 8, 8)}},
    {.tags = CASE_SDPA, .c = {"l129_d40", SZ(2, 1, 1, 129, 129, 40, 40), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"l7_d256", SZ(1, 2, 2, 7, 7, 256, 256)}},
    {.tags = CASE_SDPA, .c = {"l1_d128", SZ(3, 2, 2, 1, 1, 128, 128), .probs = 1}},
    /* ---- Lq != Lk, Dv != D ---- */
    {.tags = CASE_SDPA, .c = {"decode_lq1_lk300_d64", SZ(2, 4, 4, 1, 300, 64, 64), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"decode_lq1_lk4099_d64", SZ(1, 2, 2, 1, 4099, 64, 64), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"lq2_lk4096_d32_gqa", SZ(1, 4, 2, 2, 4096, 32, 32)}},
    {.tags = CASE_SDPA, .c = {"lq129_lk7_d8", SZ(1, 2, 2, 129, 7, 8, 8), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"lq7_lk129_d40", SZ(2, 2, 2, 7, 129, 40, 40)}},
    {.tags = CASE_SDPA, .c = {"lq67_lk300_d128_dv40", SZ(1, 2, 2, 67, 300, 128, 40), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"lq7_lk67_d8_dv256", SZ(2, 2, 2, 7, 67, 8, 256)}},
    {.tags = CASE_SDPA, .c = {"lq300_lk1_d40_dv8", SZ(1, 2, 2, 300, 1, 40, 8), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"lq1_lk7_d256_dv64", SZ(2, 2, 2, 1, 7, 256, 64)}},
    /* ---- GQA / MQA ---- */
    {.tags = CASE_SDPA, .c = {"gqa_8_2", SZ(2, 8, 2, 67, 129, 64, 64), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"gqa_8_2_causal_br", SZ(1, 8, 2, 7, 67, 40, 40), .causal = BR, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"mqa_8_1", SZ(1, 8, 1, 7, 67, 40, 40), .probs = 1}},
    {.tags = CASE_SDPA, .c = {"mqa_4_1_decode", SZ(2, 4, 1, 1, 129, 128, 128)}},
    /* ---- layouts and offsets (no copies) ---- */
    {.tags = CASE_SDPA, .c = {"blhd_all", SZ(2, 4, 2, 67, 67, 64, 64), .lq = TU_BLHD, .lk = TU_BLHD, .lv = TU_BLHD,
     .lo = TU_BLHD}},
    {.tags = CASE_SDPA, .c = {"blhd_pad_offsets", SZ(2, 3, 3, 7, 129, 40, 40), .lq = TU_BLHD_PAD, .lk = TU_BLHD_PAD,
     .lv = TU_BLHD_PAD, .lo = TU_BLHD_PAD, .off_q = 5, .off_k = 3, .off_v = 11, .off_o = 2, .probs = 1, .lp =
     TU_PAD, .off_p = 13}},
    {.tags = CASE_SDPA, .c = {"pad_hbld_mixed", SZ(2, 4, 2, 67, 7, 8, 40), .lq = TU_PAD, .lk = TU_HBLD, .lv =
     TU_BLHD, .lo = TU_HBLD, .off_q = 1, .off_o = 7, .probs = 1, .lp = TU_HBLD}},
    {.tags = CASE_SDPA, .c = {"colstride_all", SZ(1, 2, 2, 7, 7, 8, 8), .lq = TU_COLSTRIDE, .lk = TU_COLSTRIDE, .lv
     = TU_COLSTRIDE, .lo = TU_COLSTRIDE, .probs = 1, .lp = TU_COLSTRIDE, .off_o = 4}},
    {.tags = CASE_SDPA, .c = {"blhd_out_pad_gqa", SZ(1, 8, 2, 129, 67, 40, 64), .lq = TU_BLHD, .lk = TU_BLHD, .lv =
     TU_BLHD, .lo = TU_BLHD_PAD, .off_o = 9}},
    /* ---- k/v broadcast over the batch ---- */
    {.tags = CASE_SDPA, .c = {"kv_bcast", SZ(3, 4, 2, 7, 67, 64, 64), .kv_bcast = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"kv_bcast_blhd_kvl", SZ(3, 2, 1, 67, 67, 40, 40), .kv_bcast = 1, .lk = TU_BLHD, .lv =
     TU_PAD, .kvl = 1}},
    /* ---- causal alignments ---- */
    {.tags = CASE_SDPA, .c = {"causal_tl_square", SZ(1, 2, 2, 129, 129, 64, 64), .causal = TL, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"causal_tl_lq_lt_lk", SZ(1, 2, 2, 7, 67, 64, 64), .causal = TL, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"causal_tl_lq_gt_lk", SZ(1, 2, 2, 67, 7, 64, 64), .causal = TL, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"causal_br_lq_lt_lk", SZ(2, 2, 2, 7, 67, 40, 40), .causal = BR, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"causal_br_lq_gt_lk", SZ(2, 2, 2, 67, 7, 40, 40), .causal = BR, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"causal_br_square_300", SZ(1, 1, 1, 300, 300, 40, 40), .causal = BR}},
    {.tags = CASE_SDPA, .c = {"causal_tl_lq1", SZ(1, 2, 2, 1, 67, 8, 8), .causal = TL, .probs = 1}},
    /* ---- windows (left, right) incl. 0 and -1 ---- */
    {.tags = CASE_SDPA, .c = {"win_0_0", SZ(1, 2, 2, 67, 67, 40, 40), .window = 1, .wl = 0, .wr = 0, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_0_unb", SZ(1, 2, 2, 67, 129, 40, 40), .window = 1, .wl = 0, .wr = -1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_unb_0", SZ(1, 2, 2, 129, 67, 40, 40), .window = 1, .wl = -1, .wr = 0, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_3_5", SZ(2, 2, 2, 67, 129, 8, 8), .window = 1, .wl = 3, .wr = 5, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_unb_unb_explicit", SZ(1, 2, 2, 7, 67, 8, 8), .window = 1, .wl = -1, .wr = -1,
     .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_16_0_causal_tl", SZ(1, 2, 2, 129, 129, 64, 64), .window = 1, .wl = 16, .wr = 0,
     .causal = TL}},
    {.tags = CASE_SDPA, .c = {"win_5_2_causal_br", SZ(1, 2, 2, 7, 67, 40, 40), .window = 1, .wl = 5, .wr = 2,
     .causal = BR, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"win_0_7_lq_gt_lk", SZ(1, 2, 2, 67, 7, 8, 8), .window = 1, .wl = 0, .wr = 7, .probs =
     1}},
    {.tags = CASE_SDPA, .c = {"win_100_100_l300", SZ(1, 1, 1, 300, 300, 8, 8), .window = 1, .wl = 100, .wr = 100}},
    /* ---- bool masks: every (Bm, Hm, Lqm) broadcast combination ---- */
    {.tags = CASE_SDPA, .c = {"bool_1_1_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"bool_1_1_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mq = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"bool_1_h_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mh = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"bool_1_h_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mh = 1, .mq = 1, .lm =
     TU_PAD, .off_m = 3}},
    {.tags = CASE_SDPA, .c = {"bool_b_1_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"bool_b_1_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mq = 1, .lm =
     TU_PAD}},
    {.tags = CASE_SDPA, .c = {"bool_b_h_1", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .probs =
     1}},
    {.tags = CASE_SDPA, .c = {"bool_b_h_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .mq = 1,
     .probs = 1, .density = 0.3}},
    /* ---- additive masks: every broadcast combination ---- */
    {.tags = CASE_SDPA, .c = {"add_1_1_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"add_1_1_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mq = 1, .probs = 1, .lm =
     TU_PAD}},
    {.tags = CASE_SDPA, .c = {"add_1_h_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mh = 1}},
    {.tags = CASE_SDPA, .c = {"add_1_h_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mh = 1, .mq = 1, .probs =
     1}},
    {.tags = CASE_SDPA, .c = {"add_b_1_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"add_b_1_q", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .mq = 1, .lm =
     TU_BLHD}},
    {.tags = CASE_SDPA, .c = {"add_b_h_1", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .mh = 1, .probs =
     1}},
    {.tags = CASE_SDPA, .c = {"add_b_h_q", SZ(2, 3, 3, 67, 129, 40, 40), .mask_kind = ADDM, .mb = 1, .mh = 1, .mq =
     1, .probs = 1, .lm = TU_PAD, .off_m = 17, .density = 0.9}},
    {.tags = CASE_SDPA, .c = {"add_gqa_causal", SZ(1, 8, 2, 67, 67, 64, 64), .mask_kind = ADDM, .mq = 1, .causal =
     TL, .probs = 1}},
    /* ---- kv_lengths (0 and Lk included) ---- */
    {.tags = CASE_SDPA, .c = {"kvl_basic", SZ(3, 2, 2, 7, 67, 40, 40), .kvl = 1, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"kvl_causal_br_decode", SZ(4, 4, 2, 1, 129, 64, 64), .kvl = 1, .causal = BR, .probs =
     1}},
    {.tags = CASE_SDPA, .c = {"kvl_causal_br_lq_gt", SZ(3, 2, 2, 67, 67, 8, 8), .kvl = 1, .causal = BR, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"kvl_causal_tl", SZ(3, 2, 2, 67, 129, 8, 8), .kvl = 1, .causal = TL, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"kvl_window", SZ(3, 2, 2, 7, 300, 40, 40), .kvl = 1, .window = 1, .wl = 9, .wr = 0}},
    {.tags = CASE_SDPA, .c = {"kvl_bool_mask", SZ(3, 2, 2, 7, 67, 40, 40), .kvl = 1, .mask_kind = BOOLM, .mb = 1,
     .mq = 1, .probs = 1}},
    /* ---- decode without probabilities: the host decode path and the OpenCL split-key decode + merge
     *      (cases with probabilities take the row-wise path / the chain). Dv not a multiple of 16, Lk over
     *      several key chunks, GQA groups, masks, kv_lengths, windows. ---- */
    {.tags = CASE_SDPA, .c = {"dec_gqa_lk4099_dv40", SZ(2, 8, 2, 1, 4099, 64, 40)}},
    {.tags = CASE_SDPA, .c = {"dec_lq3_gqa_lk700_d72", SZ(1, 4, 1, 3, 700, 72, 72), .causal = BR}},
    {.tags = CASE_SDPA, .c = {"dec_lq4_lk300_dv17", SZ(3, 2, 2, 4, 300, 40, 17), .kvl = 1}},
    {.tags = CASE_SDPA, .c = {"dec_lk2100_bool_dv33", SZ(1, 6, 3, 1, 2100, 128, 33), .mask_kind = BOOLM, .mh = 1,
     .density = 0.7}},
    {.tags = CASE_SDPA, .c = {"dec_lk1500_add_win", SZ(2, 4, 2, 2, 1500, 64, 64), .mask_kind = ADDM, .window = 1,
     .wl = 700, .wr = 0, .causal = BR}},
    {.tags = CASE_SDPA, .c = {"dec_lq1_mqa_lk129_softcap", SZ(2, 16, 1, 1, 129, 128, 24), .softcap = 20.0f, .kvl =
     1}},
    /* ---- softcap ---- */
    {.tags = CASE_SDPA, .c = {"softcap_5_scale1", SZ(1, 2, 2, 67, 67, 64, 64), .softcap = 5.0f, .scale = 1.0f,
     .probs = 1}},
    {.tags = CASE_SDPA, .c = {"softcap_0p5", SZ(2, 2, 2, 7, 129, 40, 40), .softcap = 0.5f, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"softcap_30_add", SZ(1, 2, 2, 7, 67, 128, 128), .softcap = 30.0f, .scale = 0.5f,
     .mask_kind = ADDM, .mb = 1, .mh = 1, .mq = 1, .in_lo = -2.0, .in_hi = 2.0}},
    /* ---- scale ---- */
    {.tags = CASE_SDPA, .c = {"scale_explicit_0p3", SZ(1, 2, 2, 67, 67, 40, 40), .scale = 0.3f, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"scale_explicit_neg", SZ(1, 2, 2, 7, 7, 8, 8), .scale = -0.7f, .probs = 1}},
    {.tags = CASE_SDPA, .c = {"scale_default_d40", SZ(1, 2, 2, 67, 67, 40, 40), .probs = 1}},
    /* ---- probs with strided layouts ---- */
    {.tags = CASE_SDPA, .c = {"probs_pad", SZ(2, 2, 2, 67, 67, 8, 8), .probs = 1, .lp = TU_PAD, .off_p = 3}},
    {.tags = CASE_SDPA, .c = {"probs_blhd_pad", SZ(2, 4, 2, 7, 129, 40, 40), .probs = 1, .lp = TU_BLHD_PAD, .off_p =
     1}},
    {.tags = CASE_SDPA, .c = {"probs_colstride", SZ(1, 2, 2, 7, 67, 8, 8), .probs = 1, .lp = TU_COLSTRIDE,
     .mask_kind = BOOLM}},
    /* ---- everything combined ---- */
    {.tags = CASE_SDPA, .c = {"combined_1", SZ(3, 8, 2, 67, 129, 64, 40), .lq = TU_BLHD, .lk = TU_BLHD_PAD, .lv =
     TU_BLHD, .lo = TU_BLHD_PAD, .off_q = 3, .off_k = 8, .off_v = 1, .off_o = 5, .causal = BR, .window = 1, .wl =
     40, .wr = 3, .mask_kind = ADDM, .mb = 1, .mq = 1, .lm = TU_PAD, .off_m = 2, .kvl = 1, .softcap = 20.0f, .scale
     = 0.2f, .probs = 1, .lp = TU_BLHD_PAD, .off_p = 7}},
    {.tags = CASE_SDPA, .c = {"combined_2", SZ(2, 6, 3, 129, 67, 40, 64), .lq = TU_HBLD, .lk = TU_PAD, .lv =
     TU_COLSTRIDE, .lo = TU_PAD, .kv_bcast = 1, .causal = TL, .window = 1, .wl = -1, .wr = 2, .mask_kind = BOOLM,
     .mh = 1, .mq = 1, .kvl = 1, .softcap = 2.0f, .probs = 1, .lp = TU_PAD}},

    /* ==== test_edges: numerical and masking edge cases (each also runs as <name>/noprobs); tweak names the
     * input edit test_edges applies, poison the output bit pattern (0: TU_POISON_BITS) ==== */
    /* fully masked rows -> zeros in out and probs */
    {.tags = CASE_EDGES, .tweak = "tw_bool_rows", .c = {"masked_rows_bool", SZ(2, 2, 2, 7, 67, 8, 8), .mask_kind =
     CLATTN_MASK_BOOL, .mb = 1, .mh = 1, .mq = 1, .probs = 1, .density = 0.5}},
    {.tags = CASE_EDGES, .tweak = "tw_add_rows", .c = {"masked_rows_additive", SZ(2, 2, 1, 7, 67, 40, 40),
     .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1, .mq = 1, .probs = 1, .lp = TU_PAD}},
    {.tags = CASE_EDGES, .c = {"masked_rows_bool_all_zero", SZ(1, 2, 2, 7, 7, 8, 8), .mask_kind = CLATTN_MASK_BOOL,
     .density = -1.0, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_kvl_zero", .c = {"masked_rows_kvl_zero", SZ(3, 2, 2, 7, 67, 64, 64), .kvl = 1,
     .probs = 1}},
    {.tags = CASE_EDGES, .c = {"masked_rows_causal_br_lq_gt_lk", SZ(1, 2, 2, 67, 7, 40, 40), .causal =
     CLATTN_CAUSAL_BOTTOM_RIGHT, .probs = 1}},
    {.tags = CASE_EDGES, .c = {"masked_rows_window_lq_gt_lk", SZ(1, 2, 2, 67, 7, 8, 8), .window = 1, .wl = 0, .wr =
     0, .probs = 1}},
    {.tags = CASE_EDGES, .c = {"masked_rows_kvl_causal_br", SZ(3, 2, 2, 7, 67, 8, 8), .kvl = 1, .causal =
     CLATTN_CAUSAL_BOTTOM_RIGHT, .window = 1, .wl = 2, .wr = -1, .probs = 1}},
    /* logits +-1e4 */
    {.tags = CASE_EDGES, .tweak = "tw_logits_1e4", .c = {"logits_1e4", SZ(2, 3, 3, 7, 67, 8, 8), .scale = 1.0f,
     .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_logits_1e4", .c = {"logits_1e4_causal", SZ(1, 3, 3, 67, 67, 64, 64), .scale =
     1.0f, .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_logits_1e4", .c = {"logits_1e4_lk300", SZ(1, 3, 3, 1, 300, 8, 8), .scale =
     1.0f, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_add_1e4", .c = {"additive_1e4", SZ(2, 2, 2, 7, 67, 40, 40), .scale = 0.5f,
     .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1, .mq = 1, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_add_minus_1e30", .c = {"additive_minus_1e30_allowed", SZ(1, 2, 2, 7, 67, 8,
     8), .mask_kind = CLATTN_MASK_ADDITIVE, .mq = 1, .probs = 1}},
    /* masked keys must not leak */
    {.tags = CASE_EDGES, .tweak = "tw_bool_v_leak", .c = {"leak_bool_v_1e30_inf_nan", SZ(2, 2, 2, 7, 67, 8, 8),
     .mask_kind = CLATTN_MASK_BOOL, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_add_v_leak", .c = {"leak_additive_v_nan_inf", SZ(2, 2, 1, 7, 67, 40, 40),
     .mask_kind = CLATTN_MASK_ADDITIVE, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_kvl_v_leak", .c = {"leak_kvl_v", SZ(3, 2, 2, 7, 67, 64, 64), .kvl = 1, .probs
     = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_kvl_k_leak", .c = {"leak_kvl_k_and_v_nan", SZ(2, 2, 2, 7, 67, 40, 40), .kvl =
     1, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_causal_v_leak", .c = {"leak_causal_v", SZ(1, 2, 2, 7, 67, 8, 8), .causal =
     CLATTN_CAUSAL_TOP_LEFT, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_masked_huge_score", .c = {"leak_masked_huge_score", SZ(1, 2, 2, 7, 67, 64,
     64), .mask_kind = CLATTN_MASK_BOOL, .probs = 1}},
    /* NaN in one q row (poison -7777.0 so unwritten and NaN differ) */
    {.tags = CASE_EDGES, .tweak = "tw_nan_q_row", .poison = 0xc5f30800u, .c = {"nan_q_row", SZ(2, 2, 1, 7, 67, 40,
     40), .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_nan_q_row", .poison = 0xc5f30800u, .c = {"nan_q_row_causal_mask", SZ(2, 2, 1,
     67, 67, 8, 8), .causal = CLATTN_CAUSAL_TOP_LEFT, .mask_kind = CLATTN_MASK_BOOL, .density = 0.9, .probs = 1}},
    /* logits +-1e30 */
    {.tags = CASE_EDGES, .tweak = "tw_small_ints", .c = {"logits_1e30_scale", SZ(2, 2, 2, 7, 67, 8, 8), .scale =
     P2_100, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_small_ints", .c = {"logits_1e30_scale_causal_d64", SZ(1, 2, 1, 67, 67, 64,
     64), .scale = P2_100, .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_small_ints", .c = {"logits_minus_1e30_scale", SZ(1, 2, 2, 7, 300, 8, 8),
     .scale = -P2_100, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_inputs_1e30", .c = {"logits_1e30_inputs", SZ(2, 4, 2, 7, 67, 4, 8), .scale =
     1.0f, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_small_ints", .c = {"logits_1e30_softcap", SZ(2, 2, 2, 7, 67, 8, 8), .scale =
     P2_100, .softcap = 30.0f, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_add_plus_1e30", .c = {"additive_plus_1e30", SZ(2, 2, 2, 7, 67, 40, 40),
     .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1, .mq = 1, .probs = 1}},
    /* denormals */
    {.tags = CASE_EDGES, .tweak = "tw_denormal_qkv", .c = {"denormal_qkv", SZ(2, 2, 1, 7, 67, 40, 40), .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_denormal_v", .c = {"denormal_v", SZ(1, 2, 2, 33, 67, 64, 64), .probs = 1}},
    {.tags = CASE_EDGES, .c = {"denormal_scale", SZ(1, 2, 2, 7, 67, 8, 8), .scale = 1.0e-40f, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_denormal_mask", .c = {"denormal_additive_mask", SZ(2, 2, 2, 7, 67, 8, 8),
     .mask_kind = CLATTN_MASK_ADDITIVE, .mh = 1, .mq = 1, .probs = 1}},
    /* NaN / inf confined */
    {.tags = CASE_EDGES, .tweak = "tw_inf_q_row", .poison = 0xc5f30800u, .c = {"inf_q_row", SZ(2, 2, 1, 7, 67, 40,
     40), .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_nan_v_causal", .poison = 0xc5f30800u, .c = {"nan_v_causal_rows", SZ(1, 2, 2,
     9, 67, 8, 8), .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_inf_v_causal", .poison = 0xc5f30800u, .c = {"inf_v_causal_rows", SZ(1, 2, 2,
     9, 67, 40, 40), .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = 1}},
    {.tags = CASE_EDGES, .tweak = "tw_mask_nan_inf_entry", .poison = 0xc5f30800u, .c =
     {"additive_nan_and_inf_entry", SZ(1, 2, 2, 7, 67, 8, 8), .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1,
     .mq = 1, .probs = 1}},
    /* degenerate sizes */
    {.tags = CASE_EDGES, .c = {"lk1", SZ(2, 2, 2, 67, 1, 64, 64), .probs = 1}},
    {.tags = CASE_EDGES, .c = {"lk1_causal_br", SZ(2, 2, 2, 7, 1, 8, 8), .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
     .probs = 1}},
    {.tags = CASE_EDGES, .c = {"d1", SZ(2, 2, 1, 7, 67, 1, 1), .probs = 1}},
    {.tags = CASE_EDGES, .c = {"d1_dv8", SZ(1, 1, 1, 129, 300, 1, 8)}},
    {.tags = CASE_EDGES, .c = {"all_one", SZ(1, 1, 1, 1, 1, 1, 1), .probs = 1}},
    {.tags = CASE_EDGES, .c = {"long_kv_decode", SZ(1, 2, 2, 1, 2053, 64, 64), .probs = 1}},

    /* ==== test_f16 (tag f16): the same problems with binary16 q, k, v, out ==== */
    /* odd sizes */
    {.tags = CASE_F16, .c = {"l1_d8", SZ(1, 1, 1, 1, 1, 8, 8), .probs = 1}},
    {.tags = CASE_F16, .c = {"l7_d40", SZ(2, 3, 3, 7, 7, 40, 40), .probs = 1}},
    {.tags = CASE_F16, .c = {"l67_d64", SZ(1, 2, 2, 67, 67, 64, 64)}},
    {.tags = CASE_F16, .c = {"l129_d128", SZ(1, 2, 2, 129, 129, 128, 128)}},
    {.tags = CASE_F16, .c = {"lq7_lk129_d40_dv8", SZ(2, 2, 2, 7, 129, 40, 8)}},
    {.tags = CASE_F16, .c = {"lq129_lk1_d8_dv40", SZ(1, 2, 2, 129, 1, 8, 40), .probs = 1}},
    {.tags = CASE_F16, .c = {"decode_lq1_lk67", SZ(2, 4, 4, 1, 67, 64, 64), .probs = 1}},
    /* GQA / MQA */
    {.tags = CASE_F16, .c = {"gqa_8_2", SZ(2, 8, 2, 67, 129, 64, 64)}},
    {.tags = CASE_F16, .c = {"mqa_4_1_causal_br", SZ(1, 4, 1, 7, 67, 40, 40), .causal = BR, .probs = 1}},
    /* causal, window, kv_lengths */
    {.tags = CASE_F16, .c = {"causal_tl_129", SZ(1, 2, 2, 129, 129, 64, 64), .causal = TL}},
    {.tags = CASE_F16, .c = {"causal_br_lq_gt_lk", SZ(2, 2, 2, 67, 7, 40, 40), .causal = BR, .probs = 1}},
    {.tags = CASE_F16, .c = {"window_kvl", SZ(3, 2, 2, 7, 129, 40, 40), .kvl = 1, .window = 1, .wl = 9, .wr = 0}},
    /* masks */
    {.tags = CASE_F16, .c = {"bool_b_h_q", SZ(2, 3, 3, 7, 67, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .mq = 1,
     .probs = 1, .density = 0.3}},
    {.tags = CASE_F16, .c = {"add_1_1_q_pad", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mq = 1, .lm = TU_PAD,
     .probs = 1}},
    /* strided / padded views with offsets */
    {.tags = CASE_F16, .c = {"blhd_pad_offsets", SZ(2, 3, 3, 7, 129, 40, 40), .lq = TU_BLHD_PAD, .lk = TU_BLHD_PAD,
     .lv = TU_BLHD_PAD, .lo = TU_BLHD_PAD, .off_q = 5, .off_k = 3, .off_v = 11, .off_o = 2, .probs = 1, .lp =
     TU_PAD, .off_p = 13}},
    {.tags = CASE_F16, .c = {"colstride_all", SZ(1, 2, 2, 7, 7, 8, 8), .lq = TU_COLSTRIDE, .lk = TU_COLSTRIDE, .lv =
     TU_COLSTRIDE, .lo = TU_COLSTRIDE, .off_o = 4, .probs = 1, .lp = TU_COLSTRIDE}},
    {.tags = CASE_F16, .c = {"pad_hbld_mixed", SZ(2, 4, 2, 67, 7, 8, 40), .lq = TU_PAD, .lk = TU_HBLD, .lv =
     TU_BLHD, .lo = TU_HBLD, .off_q = 1, .off_o = 7}},
    {.tags = CASE_F16, .c = {"blhd_out_pad_gqa", SZ(1, 8, 2, 129, 67, 40, 64), .lq = TU_BLHD, .lk = TU_BLHD, .lv =
     TU_BLHD, .lo = TU_BLHD_PAD, .off_o = 9}},
    /* k/v broadcast over the batch */
    {.tags = CASE_F16, .c = {"kv_bcast", SZ(3, 4, 2, 7, 67, 64, 64), .kv_bcast = 1, .probs = 1}},
    {.tags = CASE_F16, .c = {"kv_bcast_blhd_kvl", SZ(3, 2, 1, 67, 67, 40, 40), .kv_bcast = 1, .lk = TU_BLHD, .lv =
     TU_PAD, .kvl = 1}},
    /* values: softcap, tiny values (fp16 subnormal outputs), wider range */
    {.tags = CASE_F16, .c = {"softcap_scale1", SZ(1, 2, 2, 67, 67, 64, 64), .softcap = 5.0f, .scale = 1.0f, .probs =
     1}},
    {.tags = CASE_F16, .c = {"tiny_values", SZ(1, 2, 2, 7, 67, 40, 40), .in_lo = -1e-4, .in_hi = 1e-4}},
    /* 16-bit decode over the caller's K/V (the host decode kernel widens them in registers; no probs), odd head
     * sizes (vector tails), the largest D the host reads natively (256) and one past it (staged) */
    {.tags = CASE_F16, .c = {"decode_gqa_kvl", SZ(2, 8, 2, 1, 1031, 64, 64), .kvl = 1}},
    {.tags = CASE_F16, .c = {"decode_lq3_d33_dv17", SZ(1, 4, 1, 3, 300, 33, 17), .causal = BR}},
    {.tags = CASE_F16, .c = {"decode_add_mask", SZ(2, 4, 2, 2, 129, 40, 40), .mask_kind = ADDM}},
    {.tags = CASE_F16, .c = {"odd_d33_dv17", SZ(1, 2, 2, 67, 129, 33, 17)}},
    {.tags = CASE_F16, .c = {"d256", SZ(1, 2, 2, 7, 67, 256, 8)}},
    {.tags = CASE_F16, .c = {"d264_staged", SZ(1, 2, 2, 7, 33, 264, 8)}},
    {.tags = CASE_F16, .c = {"range_8", SZ(1, 2, 2, 7, 67, 16, 16), .in_lo = -8.0, .in_hi = 8.0, .scale = 0.05f}},
    /* everything combined */
    {.tags = CASE_F16, .c = {"combined", SZ(3, 8, 2, 67, 129, 64, 40), .lq = TU_BLHD, .lk = TU_BLHD_PAD, .lv =
     TU_BLHD, .lo = TU_BLHD_PAD, .off_q = 3, .off_k = 8, .off_v = 1, .off_o = 5, .causal = BR, .window = 1, .wl =
     40, .wr = 3, .mask_kind = ADDM, .mb = 1, .mq = 1, .lm = TU_PAD, .off_m = 2, .kvl = 1, .softcap = 20.0f, .scale
     = 0.2f, .probs = 1, .lp = TU_BLHD_PAD, .off_p = 7}},

    /* ==== test_cross_backend (tag cross-backend): every backend present must agree ==== */
    {.tags = CASE_CROSS, .c = {"gqa_additive_causal_br_kvl", SZ(2, 8, 2, 67, 129, 64, 64), .mask_kind =
     CLATTN_MASK_ADDITIVE, .mb = 1, .mq = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .kvl = 1, .probs = 1}},
    {.tags = CASE_CROSS, .c = {"mqa_bool_blhd_window", SZ(3, 4, 1, 7, 300, 40, 40), .lq = TU_BLHD, .lk = TU_BLHD,
     .lv = TU_BLHD, .lo = TU_BLHD, .mask_kind = CLATTN_MASK_BOOL, .mh = 1, .window = 1, .wl = 50, .wr = 3, .probs =
     1, .lp = TU_PAD}},
    {.tags = CASE_CROSS, .c = {"decode_softcap_kvl", SZ(4, 8, 2, 1, 300, 128, 128), .kvl = 1, .softcap = 10.0f,
     .probs = 1}},
    {.tags = CASE_CROSS, .c = {"odd_causal_tl_dv", SZ(1, 6, 3, 129, 67, 8, 40), .causal = CLATTN_CAUSAL_TOP_LEFT,
     .probs = 1, .off_o = 5, .lo = TU_PAD}},

    /* ==== test_multi (tag multi): split along the batch, along kv-head groups, and too few units ==== */
    {.tags = CASE_MULTI, .c = {"batch_gqa_bool_kvl_gaps", SZ(5, 6, 2, 7, 67, 16, 16), .mask_kind = CLATTN_MASK_BOOL,
     .mb = 1, .mq = 1, .kvl = 1, .probs = 1, .lo = TU_PAD, .off_o = 3, .lp = TU_PAD, .off_p = 2}},
    {.tags = CASE_MULTI, .c = {"heads_additive_causal_blhd", SZ(1, 8, 4, 33, 129, 32, 24), .mask_kind =
     CLATTN_MASK_ADDITIVE, .mh = 1, .mq = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .lq = TU_BLHD, .lo = TU_BLHD,
     .probs = 1, .lp = TU_BLHD_PAD}},
    {.tags = CASE_MULTI, .c = {"kv_bcast_window_softcap", SZ(3, 4, 4, 9, 40, 8, 8), .kv_bcast = 1, .window = 1, .wl =
     5, .wr = 2, .softcap = 5.0f, .lo = TU_COLSTRIDE, .probs = 1}},
    {.tags = CASE_MULTI, .c = {"one_unit", SZ(1, 3, 1, 5, 7, 8, 8), .probs = 1}},
    {.tags = CASE_MULTI, .c = {"decode_heads", SZ(2, 16, 8, 1, 300, 64, 64), .kvl = 1}},
    {.tags = CASE_MULTI, .c = {"key_split_mask_kvl_gaps", SZ(1, 4, 1, 5, 67, 16, 16), .mask_kind = CLATTN_MASK_BOOL,
     .mh = 1, .mq = 1, .kvl = 1, .lo = TU_PAD, .off_o = 2}},
    {.tags = CASE_MULTI, .c = {"key_split_decode_softcap", SZ(1, 8, 1, 1, 300, 64, 64), .kvl = 1, .softcap = 8.0f}},
    {.tags = CASE_MULTI, .c = {"key_split_additive", SZ(1, 2, 1, 9, 33, 8, 24), .mask_kind = CLATTN_MASK_ADDITIVE,
     .mq = 1, .lk = TU_BLHD}},

    /* ==== test_oclgrind_cases group sizes (tag oclgrind-sizes): tiles are at most 64 keys/columns wide and
     * 64 rows high (WG 16 x WPT 4); TK = 16 reduction chunk ==== */
    {.tags = CASE_OCL_SIZES, .c = {"all_one", SZ(1, 1, 1, 1, 1, 1, 1), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"odd_3_5_d3_dv5", SZ(2, 3, 3, 3, 5, 3, 5), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"d17_dv33_tk_edge", SZ(1, 2, 2, 5, 17, 17, 33), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"lq70_rows_over_tile", SZ(1, 1, 1, 70, 5, 4, 4), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"lk70_keys_over_tile", SZ(1, 1, 1, 3, 70, 8, 8), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"dv70_cols_over_tile", SZ(1, 1, 1, 3, 5, 4, 70)}},
    {.tags = CASE_OCL_SIZES, .c = {"lq1_decode", SZ(2, 2, 2, 1, 33, 16, 16), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"lq_gt_lk", SZ(1, 2, 2, 17, 3, 8, 5), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"gqa_6_2", SZ(2, 6, 2, 5, 9, 8, 8), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"mqa_4_1", SZ(1, 4, 1, 3, 17, 5, 7), .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"blhd_pad_offsets", SZ(2, 3, 3, 5, 9, 8, 8), .lq = TU_BLHD_PAD, .lk =
     TU_BLHD_PAD, .lv = TU_BLHD_PAD, .lo = TU_BLHD_PAD, .off_q = 5, .off_k = 3, .off_v = 11, .off_o = 2, .probs = 1,
     .lp = TU_PAD, .off_p = 13}},
    {.tags = CASE_OCL_SIZES, .c = {"hbld_colstride", SZ(2, 2, 1, 5, 7, 8, 4), .lq = TU_HBLD, .lk = TU_COLSTRIDE, .lv
     = TU_BLHD, .lo = TU_COLSTRIDE, .off_o = 3, .probs = 1, .lp = TU_COLSTRIDE}},
    {.tags = CASE_OCL_SIZES, .c = {"kv_bcast", SZ(3, 2, 1, 3, 9, 8, 8), .kv_bcast = 1, .lk = TU_BLHD, .probs = 1}},
    {.tags = CASE_OCL_SIZES, .c = {"scale_negative", SZ(1, 2, 2, 5, 5, 8, 8), .scale = -0.7f, .probs = 1}},

    /* ==== test_oclgrind_cases group masks (tag oclgrind-masks) ==== */
    {.tags = CASE_OCL_MASKS, .c = {"causal_tl_lq_lt_lk", SZ(1, 2, 2, 5, 17, 8, 8), .causal = TL, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"causal_tl_lq_gt_lk", SZ(1, 1, 1, 17, 5, 8, 8), .causal = TL, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"causal_br_lq_lt_lk", SZ(2, 1, 1, 5, 17, 8, 8), .causal = BR, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"causal_br_lq_gt_lk_empty_rows", SZ(1, 2, 2, 17, 5, 8, 8), .causal = BR, .probs =
     1}},
    {.tags = CASE_OCL_MASKS, .c = {"win_0_0", SZ(1, 1, 1, 9, 9, 8, 8), .window = 1, .wl = 0, .wr = 0, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"win_3_5", SZ(1, 2, 2, 9, 17, 4, 4), .window = 1, .wl = 3, .wr = 5, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"win_unb_0_lq_gt_lk", SZ(1, 1, 1, 17, 5, 4, 4), .window = 1, .wl = -1, .wr = 0,
     .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"win_2_1_causal_br", SZ(1, 2, 2, 5, 17, 8, 8), .window = 1, .wl = 2, .wr = 1,
     .causal = BR, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"win_70_rows_tile_skip", SZ(1, 1, 1, 70, 70, 4, 4), .window = 1, .wl = 2, .wr =
     0}},
    {.tags = CASE_OCL_MASKS, .c = {"bool_1_1_1", SZ(2, 2, 2, 3, 9, 8, 8), .mask_kind = BOOLM, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"bool_1_h_q", SZ(2, 2, 2, 3, 9, 8, 8), .mask_kind = BOOLM, .mh = 1, .mq = 1, .lm
     = TU_PAD, .off_m = 3, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"bool_b_1_q_sparse", SZ(2, 2, 2, 5, 9, 8, 8), .mask_kind = BOOLM, .mb = 1, .mq =
     1, .density = 0.2, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"bool_b_h_1", SZ(2, 2, 2, 3, 9, 8, 8), .mask_kind = BOOLM, .mb = 1, .mh = 1, .lm
     = TU_COLSTRIDE, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"add_1_1_q", SZ(2, 2, 2, 3, 9, 8, 8), .mask_kind = ADDM, .mq = 1, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"add_b_h_q_pad", SZ(2, 2, 2, 3, 9, 8, 8), .mask_kind = ADDM, .mb = 1, .mh = 1,
     .mq = 1, .lm = TU_PAD, .off_m = 7, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"add_b_1_1_blhd", SZ(2, 3, 3, 3, 9, 8, 8), .mask_kind = ADDM, .mb = 1, .lm =
     TU_BLHD}},
    {.tags = CASE_OCL_MASKS, .c = {"kvl", SZ(3, 2, 2, 3, 9, 8, 8), .kvl = 1, .probs = 1}},
    /* Decode split into key partitions (>= 512 keys, few row blocks) and merged, GQA, kv_lengths and an
     * additive mask: OpenCL fused and fused-gpu (clattn_decode_gpu + clattn_fused_gpu_merge). */
    {.tags = CASE_OCL_MASKS, .c = {"decode_split_kvl_gqa", SZ(2, 4, 2, 1, 600, 8, 8), .kvl = 1, .causal = BR,
     .mask_kind = ADDM, .mq = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"kvl_causal_br_gqa", SZ(3, 4, 2, 5, 9, 8, 8), .kvl = 1, .causal = BR, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"softcap_add", SZ(1, 2, 2, 3, 9, 8, 8), .softcap = 2.0f, .scale = 0.5f,
     .mask_kind = ADDM, .mq = 1, .in_lo = -2.0, .in_hi = 2.0, .probs = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"probs_blhd_pad", SZ(2, 2, 1, 3, 9, 4, 4), .probs = 1, .lp = TU_BLHD_PAD, .off_p
     = 1}},
    {.tags = CASE_OCL_MASKS, .c = {"combined", SZ(3, 4, 2, 5, 17, 8, 5), .lq = TU_BLHD, .lk = TU_BLHD_PAD, .lv =
     TU_BLHD, .lo = TU_BLHD_PAD, .off_q = 3, .off_k = 8, .off_v = 1, .off_o = 5, .causal = BR, .window = 1, .wl = 6,
     .wr = 1, .mask_kind = ADDM, .mb = 1, .mq = 1, .lm = TU_PAD, .off_m = 2, .kvl = 1, .softcap = 20.0f, .scale =
     0.2f, .probs = 1, .lp = TU_BLHD_PAD, .off_p = 7}},

    /* ==== test_oclgrind_cases group long (tag oclgrind-long): weighted_sum covers at most ~5000 keys per
     * launch and scores ~6000 head-dim elements per launch (reduction_chunk in src/opencl/chain.c): go past
     * both ==== */
    {.tags = CASE_OCL_LONG, .c = {"keys_split_lk9000", SZ(1, 1, 1, 1, 9000, 2, 2), .probs = 1}},
    {.tags = CASE_OCL_LONG, .c = {"keys_split_kvl_causal_br", SZ(2, 1, 1, 2, 9000, 1, 3), .kvl = 1, .causal = BR}},
    {.tags = CASE_OCL_LONG, .c = {"headdim_split_d13000", SZ(1, 1, 1, 2, 3, 13000, 2), .probs = 1, .scale = 0.01f}},

    /* ==== test_oclgrind_cases group chunks (tag oclgrind-chunks): run with a max allocation of 128 KiB
     * (rel_cl_shim.c), so the score workspace holds only some (b, h) pairs, or only some query rows of one
     * pair ==== */
    {.tags = CASE_OCL_CHUNKS, .c = {"bh_chunks_2x6", SZ(3, 4, 2, 9, 200, 2, 2), .kvl = 1, .causal = BR, .probs = 1}},
    {.tags = CASE_OCL_CHUNKS, .c = {"row_chunks_2x50", SZ(1, 1, 1, 100, 200, 2, 3), .window = 1, .wl = 70, .wr = 2,
     .probs = 1}},
    {.tags = CASE_OCL_CHUNKS, .c = {"row_chunks_gqa_mask", SZ(1, 2, 1, 67, 300, 1, 2), .mask_kind = ADDM, .mq = 1,
     .lm = TU_PAD, .causal = TL}},

    /* ==== test_threads (tag threads): 8 threads against the single-threaded result; seeds continue into the
     * threads MHA rows ==== */
    {.tags = CASE_THREADS, .c = {"causal_probs", SZ(2, 4, 4, 33, 65, 32, 32), .causal = CLATTN_CAUSAL_TOP_LEFT,
     .probs = 1}},
    {.tags = CASE_THREADS, .c = {"gqa_decode_kvl", SZ(3, 8, 2, 1, 257, 64, 64), .kvl = 1, .causal =
     CLATTN_CAUSAL_BOTTOM_RIGHT}},
    {.tags = CASE_THREADS, .c = {"additive_window_softcap", SZ(1, 4, 2, 47, 47, 40, 24), .mask_kind =
     CLATTN_MASK_ADDITIVE, .mq = 1, .window = 1, .wl = 9, .wr = 3, .softcap = 4.0f, .probs = 1, .lp = TU_PAD, .off_p
     = 3}},
    {.tags = CASE_THREADS, .c = {"bool_blhd_bcast", SZ(2, 3, 3, 17, 129, 16, 16), .lq = TU_BLHD, .lk = TU_BLHD_PAD,
     .lv = TU_BLHD, .lo = TU_BLHD_PAD, .off_o = 2, .kv_bcast = 1, .mask_kind = CLATTN_MASK_BOOL, .mb = 1, .mh = 1,
     .mq = 1}},

    /* ==== test_lse (tag lse): the log-sum-exp output (want_lse) on every backend and kernel path, against the
     * double-precision reference: every mask kind, GQA/MQA, kv_lengths (0 included), windows, both causal
     * alignments, softcap, rows with no allowed key, decode shapes (host decode chunks, OpenCL key partitions),
     * D > 256 (the OpenCL chain), probabilities with lse (the chain), strided lse views with gaps. ==== */
    {.tags = CASE_LSE, .c = {"l7_d40_bool_bcast", SZ(2, 3, 3, 7, 7, 40, 40), .mask_kind = BOOLM, .mq = 1, .lse = 1,
     .ll = TU_PAD, .off_l = 2}},
    {.tags = CASE_LSE, .c = {"gqa_8_2_additive", SZ(2, 8, 2, 67, 129, 64, 64), .mask_kind = ADDM, .mb = 1, .mh = 1,
     .mq = 1, .lse = 1, .ll = TU_BLHD}},
    {.tags = CASE_LSE, .c = {"mqa_decode_kvl", SZ(3, 8, 1, 1, 257, 64, 64), .kvl = 1, .causal = BR, .lse = 1}},
    {.tags = CASE_LSE, .c = {"decode_lq4_gqa_long", SZ(1, 8, 2, 4, 2048, 64, 64), .causal = BR, .lse = 1, .ll =
     TU_HBLD}},
    {.tags = CASE_LSE, .c = {"decode_lq1_lk4099_window", SZ(1, 2, 2, 1, 4099, 64, 64), .window = 1, .wl = 1000,
     .wr = 0, .lse = 1}},
    {.tags = CASE_LSE, .c = {"causal_br_lq_gt_lk", SZ(1, 2, 2, 67, 7, 8, 8), .causal = BR, .lse = 1}},
    {.tags = CASE_LSE, .c = {"window_tl_softcap_scale", SZ(1, 4, 2, 129, 129, 40, 24), .causal = TL, .window = 1,
     .wl = 9, .wr = 3, .softcap = 4.0f, .scale = 0.4f, .lse = 1, .ll = TU_COLSTRIDE}},
    {.tags = CASE_LSE, .c = {"probs_and_lse", SZ(2, 2, 2, 7, 67, 40, 40), .mask_kind = BOOLM, .mb = 1, .mq = 1, .kvl
     = 1, .probs = 1, .lp = TU_PAD, .lse = 1, .ll = TU_HBLD}},
    {.tags = CASE_LSE, .c = {"layouts_offsets_bcast", SZ(2, 4, 2, 67, 67, 64, 64), .lq = TU_BLHD, .lk = TU_BLHD_PAD,
     .lv = TU_BLHD, .lo = TU_BLHD, .off_q = 1, .off_k = 3, .kv_bcast = 1, .lse = 1, .ll = TU_BLHD_PAD, .off_l = 3}},
    {.tags = CASE_LSE, .c = {"bool_mostly_masked", SZ(1, 2, 2, 7, 33, 16, 16), .mask_kind = BOOLM, .mh = 1, .mq = 1,
     .density = 0.05, .lse = 1}},
    {.tags = CASE_LSE, .c = {"l300_d256_additive_br", SZ(1, 1, 1, 300, 300, 256, 256), .mask_kind = ADDM, .mq = 1,
     .causal = BR, .lse = 1}},
    {.tags = CASE_LSE, .c = {"d264_chain", SZ(1, 2, 2, 33, 67, 264, 8), .causal = TL, .lse = 1, .ll = TU_PAD}},
    {.tags = CASE_LSE, .c = {"kvl_window_br_additive", SZ(4, 4, 4, 17, 129, 32, 32), .kvl = 1, .causal = BR, .window
     = 1, .wl = 20, .wr = 0, .mask_kind = ADDM, .mq = 1, .lse = 1}},
    /* rows so long (with probabilities) that the OpenCL chain takes clattn_softmax, a work-group per row */
    {.tags = CASE_LSE, .c = {"chain_softmax_row_group", SZ(1, 1, 1, 2, 24000, 16, 16), .mask_kind = BOOLM, .mq = 1,
     .probs = 1, .lse = 1}},

    /* ==== test_oclgrind_cases group lse (tag oclgrind-lse): the log-sum-exp output of every kernel under the
     * simulator (softmax.cl, fused.cl with and without key partitions, the partition merge) ==== */
    {.tags = CASE_OCL_LSE, .c = {"lse_bool_gqa_kvl", SZ(2, 4, 2, 5, 9, 8, 4), .mask_kind = BOOLM, .mq = 1, .kvl = 1,
     .lse = 1, .ll = TU_PAD, .off_l = 1}},
    {.tags = CASE_OCL_LSE, .c = {"lse_add_window_softcap_probs", SZ(1, 2, 2, 7, 17, 8, 8), .mask_kind = ADDM, .mh = 1,
     .window = 1, .wl = 3, .wr = 1, .softcap = 3.0f, .causal = BR, .probs = 1, .lse = 1, .ll = TU_BLHD}},
    {.tags = CASE_OCL_LSE, .c = {"lse_decode_partitions", SZ(1, 2, 1, 1, 600, 8, 8), .causal = BR, .lse = 1}},

    /* ==== clattn-bench (tags bench-default, bench-quick: its first three shapes; bench-tiny: the CTest run).
     * causal_too: also timed bottom-right causal (not for decode, where bottom-right causal with Lq = 1 allows
     * every key and so repeats the non-causal case). Inputs uniform in [-1, 1), contiguous, no mask. ==== */
    {.tags = CASE_BENCH_DEFAULT | CASE_BENCH_QUICK, .causal_too = 1, .c = {"bench_l128", SZ(1, 12, 12, 128, 128, 64,
     64)}},
    {.tags = CASE_BENCH_DEFAULT | CASE_BENCH_QUICK, .causal_too = 1, .c = {"bench_l512", SZ(1, 12, 12, 512, 512, 64,
     64)}},
    {.tags = CASE_BENCH_DEFAULT | CASE_BENCH_QUICK, .causal_too = 1, .c = {"bench_l2048", SZ(1, 16, 16, 2048, 2048,
     64, 64)}},
    {.tags = CASE_BENCH_DEFAULT, .causal_too = 1, .c = {"bench_b4_l1024", SZ(4, 8, 8, 1024, 1024, 64, 64)}},
    {.tags = CASE_BENCH_DEFAULT, .causal_too = 1, .c = {"bench_l8192", SZ(1, 8, 8, 8192, 8192, 64, 64)}},
    {.tags = CASE_BENCH_DEFAULT, .causal_too = 1, .c = {"bench_l4096_d128", SZ(1, 32, 32, 4096, 4096, 128, 128)}},
    /* grouped-query attention */
    {.tags = CASE_BENCH_DEFAULT, .causal_too = 1, .c = {"bench_gqa_32_8", SZ(1, 32, 8, 2048, 2048, 128, 128)}},
    /* decode: one query against a 4096-entry KV cache */
    {.tags = CASE_BENCH_DEFAULT, .c = {"bench_decode", SZ(8, 32, 8, 1, 4096, 128, 128)}},
    /* clattn-bench-merge (tag bench-merge): split into --parts key ranges (default 4), attended with lse and merged;
     * issue #13's target is merge_ms <= 5 % of the parts' attention */
    {.tags = CASE_BENCH_MERGE, .c = {"bench_merge_l2048", SZ(1, 16, 16, 2048, 2048, 64, 64)}},
    {.tags = CASE_BENCH_MERGE, .c = {"bench_merge_decode", SZ(8, 32, 8, 1, 4096, 128, 128)}},

    /* ==== test_precision (tag precision): CLATTN_PRECISION_REDUCED (bf16-rounded products on host CPUs with
     * AVX512_BF16, float32 elsewhere) against the documented bound and a bf16-emulating reference: odd sizes,
     * D = 64, 80, 128 and odd D (zero-padded pairs), masks, causal, GQA, softcap, kv_lengths, windows, rows
     * with no allowed key, strided K (the packing's gather), decode (float32), large logits. ==== */
    {.tags = CASE_PRECISION, .c = {"decode_l1_gqa4_d64", SZ(1, 8, 2, 1, 129, 64, 64), .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"l7_d80_bool", SZ(2, 2, 2, 7, 67, 80, 80), .mask_kind = BOOLM, .mq = 1,
     .density = 0.6, .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"l67_d128_causal_tl", SZ(1, 4, 4, 67, 67, 128, 128), .causal = TL, .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"l129_d33_dv17_br_softcap", SZ(1, 2, 2, 129, 129, 33, 17), .causal = BR,
     .softcap = 5.0f, .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"gqa_8_2_additive_kvl", SZ(2, 8, 2, 67, 129, 64, 64), .mask_kind = ADDM,
     .mb = 1, .mh = 1, .mq = 1, .kvl = 1, .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"l300_d64_window", SZ(1, 2, 1, 300, 300, 64, 64), .window = 1, .wl = 50,
     .wr = 10}},
    {.tags = CASE_PRECISION, .c = {"d1_dv5", SZ(1, 2, 2, 129, 67, 1, 5)}},
    {.tags = CASE_PRECISION, .c = {"mostly_masked_rows", SZ(1, 2, 2, 67, 33, 64, 64), .mask_kind = BOOLM, .mh = 1,
     .mq = 1, .density = 0.05, .lse = 1}},
    {.tags = CASE_PRECISION, .c = {"strided_k_padded_v", SZ(1, 4, 2, 67, 129, 64, 48), .lk = TU_COLSTRIDE,
     .lv = TU_PAD, .lq = TU_BLHD, .lo = TU_PAD, .off_k = 5}},
    {.tags = CASE_PRECISION, .c = {"large_logits", SZ(1, 2, 2, 129, 129, 64, 64), .in_lo = -3.0, .in_hi = 3.0}},
    {.tags = CASE_PRECISION, .c = {"l1000_d128_causal_br", SZ(1, 1, 1, 1000, 1000, 128, 128), .causal = BR}},
    /* ==== test_mask16 (tag mask16): ADDITIVE masks stored as binary16 and as bfloat16 (mask_data_type), read in
     * place: random values with -inf entries (and fp16-subnormal ones), rows and batches with no allowed key,
     * every broadcast pattern (stride 0), padded / [B, L, H, D] / column-strided mask views with offsets,
     * decode, GQA, causal, window, softcap, kv_lengths, probabilities (the chain) and lse. ==== */
    {.tags = CASE_MASK16, .c = {"full_pad_probs", SZ(2, 3, 3, 7, 67, 40, 40), .mask_kind = ADDM, .mb = 1, .mh = 1,
     .mq = 1, .lm = TU_PAD, .off_m = 3, .probs = 1}},
    {.tags = CASE_MASK16, .c = {"heads_gqa_br_lse", SZ(2, 4, 2, 67, 129, 64, 64), .mask_kind = ADDM, .mh = 1,
     .causal = BR, .lse = 1}},
    {.tags = CASE_MASK16, .c = {"rows_blhd_softcap", SZ(1, 2, 2, 129, 67, 40, 40), .mask_kind = ADDM, .mq = 1,
     .lm = TU_BLHD, .off_m = 1, .softcap = 20.0f}},
    {.tags = CASE_MASK16, .c = {"masked_rows_kvl", SZ(3, 2, 2, 33, 17, 32, 32), .mask_kind = ADDM, .mb = 1,
     .mh = 1, .mq = 1, .density = 0.08, .kvl = 1, .lse = 1}},
    {.tags = CASE_MASK16, .c = {"decode_gqa_lse", SZ(2, 8, 2, 1, 300, 64, 64), .mask_kind = ADDM, .mb = 1,
     .mh = 1, .lse = 1}},
    {.tags = CASE_MASK16, .c = {"decode2_colstride_window", SZ(1, 4, 4, 2, 129, 40, 40), .mask_kind = ADDM,
     .mq = 1, .lm = TU_COLSTRIDE, .off_m = 5, .window = 1, .wl = 40, .wr = 3}},
    {.tags = CASE_MASK16, .c = {"one_key_bcast", SZ(1, 1, 1, 1, 1, 8, 8), .mask_kind = ADDM}},
    {.tags = CASE_MASK16, .c = {"bcast_all_tl_probs", SZ(2, 2, 1, 7, 7, 16, 24), .mask_kind = ADDM, .causal = TL,
     .probs = 1, .lse = 1}},
    /* ==== test_paged (tag paged): the same problems read from a paged KV cache (kv_block_size: K/V rows in
     * shuffled blocks of NaN-poisoned pools through a block table; sdpa_case.h), on every backend and kernel path
     * (paths "<name>-paged"): decode with GQA and key padding, block sizes 16..256, odd D/Dv, every mask kind,
     * causal both ways, a window, softcap, lse, probabilities (the chain), large logits. ==== */
    {.tags = CASE_PAGED, .c = {"decode_gqa4_kvl_bs16", SZ(3, 8, 2, 1, 80, 64, 64), .kvl = 1, .lse = 1,
     .kv_block_size = 16}},
    {.tags = CASE_PAGED, .c = {"decode_l4_d128_bs32", SZ(2, 4, 1, 4, 96, 128, 128), .kvl = 1, .kv_block_size = 32}},
    {.tags = CASE_PAGED, .c = {"prefill_l67_br_bs32", SZ(2, 4, 2, 67, 128, 33, 17), .causal = BR, .kvl = 1,
     .kv_block_size = 32}},
    {.tags = CASE_PAGED, .c = {"l7_tl_bool_bs16", SZ(1, 2, 2, 7, 48, 8, 8), .causal = TL, .mask_kind = BOOLM,
     .mq = 1, .density = 0.5, .kvl = 1, .kv_block_size = 16}},
    {.tags = CASE_PAGED, .c = {"additive_softcap_bs64", SZ(2, 2, 1, 9, 128, 40, 24), .mask_kind = ADDM, .mb = 1,
     .mh = 1, .mq = 1, .softcap = 4.0f, .kvl = 1, .kv_block_size = 64}},
    {.tags = CASE_PAGED, .c = {"window_probs_bs16", SZ(1, 3, 3, 33, 64, 16, 16), .window = 1, .wl = 9, .wr = 2,
     .probs = 1, .kvl = 1, .kv_block_size = 16}},
    {.tags = CASE_PAGED, .c = {"large_logits_bs256", SZ(1, 2, 2, 129, 256, 64, 64), .in_lo = -3.0, .in_hi = 3.0,
     .kvl = 1, .kv_block_size = 256}},
    /* clattn-bench-paged (tag bench-paged; --tiny: the rows named *_tiny): decode = B sequences of lengths spread
     * over Lk/16..Lk, one query each; prefill = one sequence of Lk tokens in chunks of Lq queries appended and
     * attended bottom-right causal, against one causal call. kv_block_size: the first block size timed. */
    {.tags = CASE_BENCH_PAGED, .c = {"bench_paged_decode", SZ(8, 32, 8, 1, 8192, 128, 128), .kvl = 1,
     .kv_block_size = 16}},
    {.tags = CASE_BENCH_PAGED, .c = {"bench_paged_prefill", SZ(1, 8, 8, 512, 4096, 64, 64), .causal = BR, .kvl = 1,
     .kv_block_size = 16}},
    {.tags = CASE_BENCH_PAGED, .c = {"bench_paged_decode_tiny", SZ(3, 4, 2, 1, 256, 32, 32), .kvl = 1,
     .kv_block_size = 16}},
    {.tags = CASE_BENCH_PAGED, .c = {"bench_paged_prefill_tiny", SZ(1, 2, 2, 64, 256, 16, 16), .causal = BR,
     .kvl = 1, .kv_block_size = 16}},
    /* the smallest: CTest runs clattn-bench on it (bench.tiny) so the tolerance check runs in CI */
    {.tags = CASE_BENCH_TINY, .causal_too = 1, .c = {"bench_tiny", SZ(1, 2, 2, 17, 33, 8, 8)}},
};
const size_t case_row_count = sizeof case_rows / sizeof case_rows[0];

const mha_row mha_rows[] = {
    /* ==== test_mha (tag mha) ==== */
    {.tags = CASE_MHA, .c = {"self_bias", 2, 7, 7, 32, 4, 0, 0, .self = 1, .bias = 1}},
    {.tags = CASE_MHA, .c = {"self_nobias_perhead", 1, 67, 67, 40, 5, 0, 0, .self = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"self_bias_averaged", 2, 13, 13, 24, 3, 0, 0, .self = 1, .bias = 1, .probs = AV}},
    {.tags = CASE_MHA, .c = {"cross_kdim_vdim_bias", 2, 5, 9, 24, 3, 10, 17, .bias = 1, .probs = AV}},
    {.tags = CASE_MHA, .c = {"cross_kdim_vdim_nobias", 1, 7, 67, 64, 1, 33, 5, .probs = PH}},
    {.tags = CASE_MHA, .c = {"cross_same_dims", 2, 7, 129, 32, 4, 32, 32, .bias = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"mask_bool_bcast", 2, 7, 7, 32, 4, 0, 0, .self = 1, .bias = 1, .mask_kind =
     CLATTN_MASK_BOOL, .mq = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"mask_bool_full", 2, 7, 11, 32, 4, 16, 8, .bias = 1, .mask_kind = CLATTN_MASK_BOOL, .mb
     = 1, .mh = 1, .mq = 1, .probs = AV}},
    {.tags = CASE_MHA, .c = {"mask_additive_strided", 2, 7, 9, 24, 3, 0, 0, .bias = 1, .mask_kind =
     CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1, .mq = 1, .lm = TU_PAD, .probs = AV}},
    {.tags = CASE_MHA, .c = {"mask_additive_heads", 1, 13, 13, 48, 6, 0, 0, .self = 1, .mask_kind =
     CLATTN_MASK_ADDITIVE, .mh = 1, .lm = TU_BLHD, .probs = PH}},
    {.tags = CASE_MHA, .c = {"kv_lengths", 3, 7, 67, 32, 4, 20, 12, .bias = 1, .kvl = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"kv_lengths_self_causal", 3, 13, 13, 32, 2, 0, 0, .self = 1, .bias = 1, .kvl = 1,
     .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = AV}},
    {.tags = CASE_MHA, .c = {"causal_tl_self", 2, 67, 67, 32, 4, 0, 0, .self = 1, .bias = 1, .causal =
     CLATTN_CAUSAL_TOP_LEFT, .probs = AV}},
    {.tags = CASE_MHA, .c = {"causal_br_cross", 2, 7, 67, 32, 4, 0, 0, .bias = 1, .causal =
     CLATTN_CAUSAL_BOTTOM_RIGHT, .probs = PH}},
    {.tags = CASE_MHA, .c = {"window_softcap_scale", 1, 67, 67, 32, 4, 0, 0, .self = 1, .bias = 1, .window = 1, .wl
     = 4, .wr = 1, .softcap = 3.0f, .scale = 0.4f, .probs = PH}},
    {.tags = CASE_MHA, .c = {"odd_e6_h3_l1", 1, 1, 1, 6, 3, 0, 0, .self = 1, .bias = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"odd_e129_h3", 1, 13, 7, 129, 3, 7, 129, .bias = 1, .probs = AV}},
    {.tags = CASE_MHA, .c = {"odd_e40_h5_lq1_decode", 3, 1, 129, 40, 5, 0, 0, .bias = 1, .kvl = 1, .causal =
     CLATTN_CAUSAL_BOTTOM_RIGHT}},
    {.tags = CASE_MHA, .c = {"larger_e64_h8", 2, 129, 129, 64, 8, 0, 0, .self = 1, .bias = 1, .probs = PH}},
    {.tags = CASE_MHA, .c = {"minilm_like_e384_h12", 2, 67, 67, 384, 12, 0, 0, .self = 1, .bias = 1, .kvl = 1,
     .probs = AV}},

    /* ==== test_oclgrind_cases group mha (tag oclgrind-mha) ==== */
    {.tags = CASE_OCL_MHA, .c = {"self_bias", 2, 5, 5, 8, 2, 0, 0, .self = 1, .bias = 1}},
    {.tags = CASE_OCL_MHA, .c = {"self_nobias_perhead", 1, 7, 7, 12, 3, 0, 0, .self = 1, .probs =
     CLATTN_PROBS_PER_HEAD}},
    {.tags = CASE_OCL_MHA, .c = {"cross_kdim_vdim_bias_avg", 2, 3, 5, 12, 3, 5, 7, .bias = 1, .probs =
     CLATTN_PROBS_AVERAGED}},
    {.tags = CASE_OCL_MHA, .c = {"bool_mask_kvl_causal", 3, 5, 5, 8, 2, 0, 0, .self = 1, .bias = 1, .mask_kind =
     BOOLM, .mq = 1, .kvl = 1, .causal = TL, .probs = CLATTN_PROBS_PER_HEAD}},
    {.tags = CASE_OCL_MHA, .c = {"add_mask_window_softcap", 2, 5, 7, 8, 4, 0, 0, .bias = 1, .mask_kind = ADDM, .mb =
     1, .mh = 1, .mq = 1, .window = 1, .wl = 2, .wr = 1, .softcap = 3.0f, .scale = 0.4f, .causal = BR, .probs =
     CLATTN_PROBS_AVERAGED}},

    /* ==== test_threads (tag threads), after its SDPA rows ==== */
    {.tags = CASE_THREADS, .c = {"mha_self_bias", 2, 17, 17, 32, 4, 0, 0, .self = 1, .bias = 1, .probs =
     CLATTN_PROBS_AVERAGED}},
    {.tags = CASE_THREADS, .c = {"mha_cross_kvl_mask", 2, 9, 33, 24, 3, 16, 40, .bias = 1, .kvl = 1, .mask_kind =
     CLATTN_MASK_BOOL, .mq = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .probs = CLATTN_PROBS_PER_HEAD}},
};
const size_t mha_row_count = sizeof mha_rows / sizeof mha_rows[0];

static const struct {
    unsigned tag;
    const char *name;
} tag_names[] = {
    {CASE_SDPA, "sdpa"},
    {CASE_EDGES, "edges"},
    {CASE_F16, "f16"},
    {CASE_CROSS, "cross-backend"},
    {CASE_OCL_SIZES, "oclgrind-sizes"},
    {CASE_OCL_MASKS, "oclgrind-masks"},
    {CASE_OCL_LONG, "oclgrind-long"},
    {CASE_OCL_CHUNKS, "oclgrind-chunks"},
    {CASE_THREADS, "threads"},
    {CASE_MHA, "mha"},
    {CASE_OCL_MHA, "oclgrind-mha"},
    {CASE_BENCH_DEFAULT, "bench-default"},
    {CASE_BENCH_QUICK, "bench-quick"},
    {CASE_BENCH_TINY, "bench-tiny"},
    {CASE_MULTI, "multi"},
    {CASE_LSE, "lse"},
    {CASE_OCL_LSE, "oclgrind-lse"},
    {CASE_BENCH_MERGE, "bench-merge"},
    {CASE_PRECISION, "precision"},
    {CASE_MASK16, "mask16"},
    {CASE_PAGED, "paged"},
    {CASE_BENCH_PAGED, "bench-paged"},
};

const char *case_tag_name(unsigned tag)
{
    for (size_t i = 0; i < sizeof tag_names / sizeof tag_names[0]; i++)
        if (tag_names[i].tag == tag) return tag_names[i].name;
    return NULL;
}

unsigned case_tag_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof tag_names / sizeof tag_names[0]; i++)
        if (strcmp(tag_names[i].name, name) == 0) return tag_names[i].tag;
    return 0;
}

size_t case_rows_tagged(unsigned tag, const case_row **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < case_row_count; i++)
        if (case_rows[i].tags & tag) {
            if (n < cap) out[n] = &case_rows[i];
            n++;
        }
    return n;
}

size_t mha_rows_tagged(unsigned tag, const mha_case **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < mha_row_count; i++)
        if (mha_rows[i].tags & tag) {
            if (n < cap) out[n] = &mha_rows[i].c;
            n++;
        }
    return n;
}
