/* The axial, temporal and area attention rows (see views_cases.h). */
#include "views_cases.h"

#define AX VC_AXIAL
#define TM VC_TEMPORAL
#define AR VC_AREA
#define TL CLATTN_CAUSAL_TOP_LEFT
#define DIMS(...) .api_dims = {__VA_ARGS__}

const views_row views_rows[] = {
    /* ---- axial: [B, H, X, Y, D] along X and Y, odd sizes, 3-D and 6-D views, causal, probs ---- */
    {.tags = VIEWS_TEST, .c = {"axial_x", AX, 5, DIMS(2, 3, 7, 5, 8), .axis = 2, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_y", AX, 5, DIMS(2, 3, 7, 5, 8), .axis = 3, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_x_causal_dv", AX, 5, DIMS(1, 2, 67, 3, 40), .axis = 2, .dv = 8, .causal = TL,
     .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_axis0_3d", AX, 3, DIMS(67, 5, 40), .axis = 0, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_l1", AX, 5, DIMS(1, 2, 1, 7, 8), .axis = 2, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_6d_axis3", AX, 6, DIMS(2, 2, 3, 7, 2, 8), .axis = 3, .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"axial_permuted_loop", AX, 5, DIMS(2, 3, 7, 5, 8), .axis = 2, .layout = VC_PERMUTED,
     .probs = 1, .want_count = 2}},
    {.tags = VIEWS_TEST, .c = {"axial_pad_loop_causal", AX, 5, DIMS(3, 2, 5, 7, 40), .axis = 3, .layout = VC_PAD,
     .causal = TL, .probs = 1, .want_count = 2}},
    {.tags = VIEWS_TEST, .c = {"axial_nan_row", AX, 5, DIMS(2, 2, 7, 5, 8), .axis = 2, .nan_row = 1, .probs = 1}},
    /* ---- temporal: [B, T, S, C] and [B, T, S, H, Dh] ---- */
    {.tags = VIEWS_TEST, .c = {"temporal", TM, 4, DIMS(2, 7, 5, 24), .heads = 3, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"temporal_causal_dv", TM, 4, DIMS(1, 67, 3, 80), .heads = 2, .dv = 8, .causal = TL,
     .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"temporal_5d_pad", TM, 5, DIMS(2, 7, 3, 2, 8), .layout = VC_PAD, .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"temporal_permuted", TM, 4, DIMS(2, 5, 3, 16), .heads = 2, .layout = VC_PERMUTED}},
    {.tags = VIEWS_TEST, .c = {"temporal_t1", TM, 4, DIMS(2, 1, 5, 16), .heads = 2, .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"temporal_nan_row", TM, 4, DIMS(1, 7, 3, 16), .heads = 2, .nan_row = 1, .probs = 1}},
    /* ---- area: [B, N, C] and [B, N, H, Dh] ---- */
    {.tags = VIEWS_TEST, .c = {"area4", AR, 3, DIMS(2, 28, 24), .heads = 3, .area = 4, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"area1", AR, 3, DIMS(1, 67, 16), .heads = 2, .area = 1, .probs = 1, .want_count = 1}},
    {.tags = VIEWS_TEST, .c = {"area_n_eq_area", AR, 3, DIMS(2, 7, 16), .heads = 2, .area = 7, .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"area_4d_pad_dv", AR, 4, DIMS(2, 30, 2, 40), .area = 3, .dv = 8, .layout = VC_PAD,
     .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"area_permuted", AR, 3, DIMS(2, 12, 16), .heads = 2, .area = 4, .layout = VC_PERMUTED,
     .probs = 1}},
    {.tags = VIEWS_TEST, .c = {"area_nan_row", AR, 3, DIMS(1, 12, 16), .heads = 2, .area = 2, .nan_row = 1, .probs = 1}},
    /* ---- benchmark rows (a contiguous layout each, so that the dense equivalent exists) ---- */
    {.tags = VIEWS_BENCH, .c = {"bench_axial_x_64x64", AX, 5, DIMS(1, 8, 64, 64, 64), .axis = 2}},
    {.tags = VIEWS_BENCH, .c = {"bench_axial_y_64x64", AX, 5, DIMS(1, 8, 64, 64, 64), .axis = 3}},
    {.tags = VIEWS_BENCH, .c = {"bench_temporal_t16_s196", TM, 4, DIMS(1, 16, 196, 768), .heads = 12}},
    {.tags = VIEWS_BENCH, .c = {"bench_temporal_t16_s196_causal", TM, 4, DIMS(1, 16, 196, 768), .heads = 12,
     .causal = TL}},
    {.tags = VIEWS_BENCH, .c = {"bench_area4_40x40", AR, 3, DIMS(1, 1600, 256), .heads = 8, .area = 4}},
    {.tags = VIEWS_BENCH | VIEWS_TEST, .c = {"bench_tiny_area2", AR, 3, DIMS(1, 64, 32), .heads = 2, .area = 2}},
};

const size_t views_row_count = sizeof views_rows / sizeof views_rows[0];
