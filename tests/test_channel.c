/*
 * test_channel: channel attention (clattn_channel_attn_*: Squeeze-and-Excitation and CBAM's channel module)
 * against a naive double-precision reference written from the papers' formulas, on the backend chosen by
 * CLATTN_DEVICE (exit 77 when absent): odd sizes (C 1, 7, 67; H·W 1, 7·5, 33·31), hidden 1 and C/4, with
 * and without biases, both pools, NCHW and strided NHWC / padded views (gaps checked untouched), in place,
 * the gates (scales) view, NaN confinement (a NaN in one batch item's x poisons only that item), huge inputs
 * (finite sigmoid saturation), argument errors, and the path name ("channel" on OpenCL, "host-channel" on the
 * host). Outputs are poisoned first. Tolerance: max |got - ref| <= 1e-5·max(1, max|ref|).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clattn_context *g_ctx;

typedef struct ch_case {
    const char *name;
    int64_t B, C, H, W, R;
    int avg_max, b1, b2, scales;
    int layout;   /* 0 NCHW, 1 NHWC view, 2 NCHW padded */
    int in_place; /* out = x */
    int nan_b;    /* 1 + the batch item to poison with one NaN (0: none) */
    double range; /* inputs uniform in [-range, range) (default 1) */
} ch_case;

static clattn_tensor view_of(int layout, int64_t B, int64_t C, int64_t H, int64_t W, int64_t *len)
{
    int64_t s[4];
    if (layout == 1) { /* memory [B, H, W, C] */
        s[1] = 1, s[3] = C, s[2] = W * C, s[0] = H * W * C;
        *len = B * H * W * C;
    } else if (layout == 2) {
        s[3] = 1, s[2] = W + 1, s[1] = H * (W + 1) + 2, s[0] = C * s[1] + 3;
        *len = B * s[0] + 5;
    } else {
        s[3] = 1, s[2] = W, s[1] = H * W, s[0] = C * H * W;
        *len = B * s[0];
    }
    const int64_t d[4] = {B, C, H, W};
    return clattn_tensor_view(4, d, s, 0);
}

static int64_t at(const clattn_tensor *t, int64_t b, int64_t c, int64_t h, int64_t w)
{
    return t->offset + b * t->strides[0] + c * t->strides[1] + h * t->strides[2] + w * t->strides[3];
}

/* The reference: out [B, C, H, W] and gates [B, C] in C order. */
static void reference(const ch_case *k, const clattn_tensor *xv, const float *x, const float *w1, const float *b1,
                      const float *w2, const float *b2, double *out, double *gate)
{
    const int64_t C = k->C, R = k->R, n = k->H * k->W;
    double *pool = malloc((size_t)(2 * C) * sizeof(double)), *hid = malloc((size_t)R * sizeof(double));
    for (int64_t b = 0; b < k->B; b++) {
        for (int64_t c = 0; c < C; c++) {
            double s = 0, m = -INFINITY;
            bool nan = false;
            for (int64_t h = 0; h < k->H; h++)
                for (int64_t w = 0; w < k->W; w++) {
                    double v = x[at(xv, b, c, h, w)];
                    s += v;
                    if (isnan(v)) nan = true;
                    if (v > m) m = v;
                }
            pool[c] = s / (double)n;
            pool[C + c] = nan ? NAN : m;
        }
        for (int64_t c = 0; c < C; c++) gate[b * C + c] = 0;
        for (int br = 0; br < (k->avg_max ? 2 : 1); br++) {
            for (int64_t r = 0; r < R; r++) {
                double a = b1 ? b1[r] : 0;
                for (int64_t c = 0; c < C; c++) a += (double)w1[r * C + c] * pool[br * C + c];
                hid[r] = isnan(a) ? a : a > 0 ? a : 0;
            }
            for (int64_t c = 0; c < C; c++) {
                double a = b2 ? b2[c] : 0;
                for (int64_t r = 0; r < R; r++) a += (double)w2[c * R + r] * hid[r];
                gate[b * C + c] += a;
            }
        }
        for (int64_t c = 0; c < C; c++) {
            gate[b * C + c] = 1.0 / (1.0 + exp(-gate[b * C + c]));
            for (int64_t h = 0; h < k->H; h++)
                for (int64_t w = 0; w < k->W; w++)
                    out[((b * C + c) * k->H + h) * k->W + w] = gate[b * C + c] * (double)x[at(xv, b, c, h, w)];
        }
    }
    free(pool);
    free(hid);
}

static float *randu(tu_rng *r, int64_t n, double range)
{
    float *p = tu_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)tu_rng_uniform(r, -range, range);
    return p;
}

static bool run_case(const ch_case *k, int idx)
{
    tu_where w = {"channel", k->name, tu_case_seed("channel", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    const double range = k->range > 0 ? k->range : 1.0;
    int64_t nx, no;
    clattn_tensor xv = view_of(k->layout, k->B, k->C, k->H, k->W, &nx);
    clattn_tensor ov = k->in_place ? xv : view_of(k->layout, k->B, k->C, k->H, k->W, &no);
    if (k->in_place) no = nx;
    float *x = tu_alloc_bits(nx, TU_POISON_BITS);
    for (int64_t b = 0; b < k->B; b++)
        for (int64_t c = 0; c < k->C; c++)
            for (int64_t h = 0; h < k->H; h++)
                for (int64_t ww = 0; ww < k->W; ww++) x[at(&xv, b, c, h, ww)] = (float)tu_rng_uniform(&r, -range, range);
    if (k->nan_b) x[at(&xv, k->nan_b - 1, k->C / 2, k->H / 2, 0)] = NAN;
    /* weights scaled like a default init (about 1/sqrt(fan_in)) */
    float *w1 = randu(&r, k->R * k->C, 1.0 / sqrt((double)k->C)), *w2 = randu(&r, k->C * k->R, 1.0 / sqrt((double)k->R));
    float *b1 = k->b1 ? randu(&r, k->R, 0.5) : NULL, *b2 = k->b2 ? randu(&r, k->C, 0.5) : NULL;
    double *ref = tu_xmalloc((size_t)(k->B * k->C * k->H * k->W) * sizeof(double));
    double *gref = tu_xmalloc((size_t)(k->B * k->C) * sizeof(double));
    reference(k, &xv, x, w1, b1, w2, b2, ref, gref);
    float *out = k->in_place ? x : tu_alloc_bits(no, TU_POISON_BITS);
    float *gates = k->scales ? tu_alloc_bits(3 * k->B * k->C + 2, TU_POISON_BITS) : NULL;

    clattn_channel_attn_desc d;
    clattn_channel_attn_desc_init(&d, k->B, k->C, k->H, k->W, k->R);
    d.x = xv;
    d.out = ov;
    d.pool = k->avg_max ? CLATTN_CHANNEL_POOL_AVG_MAX : CLATTN_CHANNEL_POOL_AVG;
    d.has_b1 = k->b1;
    d.has_b2 = k->b2;
    d.want_scales = k->scales;
    const int64_t gd[2] = {k->B, k->C}, gs[2] = {3 * k->C, 3}; /* strided gates at offset 2 */
    d.scales = clattn_tensor_view(2, gd, gs, 2);
    clattn_channel_attn_plan *plan = NULL;
    bool ok = true;
    clattn_status st = clattn_channel_attn_plan_create(&plan, g_ctx, &d);
    if (st == CLATTN_SUCCESS) {
        const char *want = tu_backend_of(g_ctx) == TU_HOST ? "host-channel" : "channel";
        if (strcmp(clattn_channel_attn_plan_path(plan), want) != 0) {
            tu_report(&w, "path %s, expected %s", clattn_channel_attn_plan_path(plan), want);
            ok = false;
        }
        st = clattn_channel_attn_execute(plan, x, w1, b1, w2, b2, out, gates);
    }
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "status %d: %s", (int)st, clattn_last_error(g_ctx));
        ok = false;
    }
    if (ok) {
        const int64_t n = k->B * k->C * k->H * k->W;
        float *got = tu_xmalloc((size_t)n * sizeof(float));
        unsigned char *in = calloc((size_t)no, 1);
        for (int64_t b = 0, g = 0; b < k->B; b++)
            for (int64_t c = 0; c < k->C; c++)
                for (int64_t h = 0; h < k->H; h++)
                    for (int64_t ww = 0; ww < k->W; ww++, g++) {
                        got[g] = out[at(&ov, b, c, h, ww)];
                        in[at(&ov, b, c, h, ww)] = 1;
                    }
        ok = tu_check_array(&w, "out", got, ref, n, TU_TOL_F32);
        for (int64_t i = 0; i < no && ok; i++) {
            uint32_t bits;
            memcpy(&bits, &out[i], sizeof bits);
            if (!in[i] && bits != TU_POISON_BITS) {
                tu_report(&w, "out: gap element %lld overwritten", (long long)i);
                ok = false;
            }
        }
        if (ok && gates) {
            float *gg = tu_xmalloc((size_t)(k->B * k->C) * sizeof(float));
            for (int64_t b = 0; b < k->B; b++)
                for (int64_t c = 0; c < k->C; c++) gg[b * k->C + c] = gates[2 + b * 3 * k->C + 3 * c];
            ok = tu_check_array(&w, "scales", gg, gref, k->B * k->C, TU_TOL_F32);
            free(gg);
        }
        if (ok && k->nan_b) /* the other batch items stay finite */
            for (int64_t i = 0; i < n && ok; i++)
                if (i / (k->C * k->H * k->W) != k->nan_b - 1 && !isfinite(got[i])) {
                    tu_report(&w, "NaN of batch item %d reached element %lld", k->nan_b - 1, (long long)i);
                    ok = false;
                }
        free(got);
        free(in);
    }
    clattn_channel_attn_plan_destroy(plan);
    if (!k->in_place) free(out);
    free(x), free(w1), free(w2), free(b1), free(b2), free(ref), free(gref), free(gates);
    return ok;
}

static const ch_case cases[] = {
    {"se_c1_hw1", 1, 1, 1, 1, 1, .b1 = 1, .b2 = 1, .scales = 1},
    {"se_c7_7x5", 2, 7, 7, 5, 2, .b1 = 1, .b2 = 1, .scales = 1},
    {"se_c67_33x31_nobias", 2, 67, 33, 31, 16, .scales = 1},
    {"se_nhwc", 3, 64, 7, 9, 4, .b1 = 1, .b2 = 1, .layout = 1, .scales = 1},
    {"se_pad_in_place", 2, 7, 5, 7, 7, .b1 = 1, .b2 = 1, .layout = 2, .in_place = 1},
    {"cbam_c67_pad", 2, 67, 7, 5, 8, .avg_max = 1, .b1 = 1, .b2 = 1, .layout = 2, .scales = 1},
    {"cbam_nhwc_b1only", 1, 32, 9, 11, 2, .avg_max = 1, .b1 = 1, .layout = 1, .scales = 1},
    {"se_nan_item1", 3, 8, 5, 5, 2, .b1 = 1, .b2 = 1, .nan_b = 2, .scales = 1},
    {"cbam_nan_item0", 2, 8, 5, 5, 2, .avg_max = 1, .b1 = 1, .b2 = 1, .nan_b = 1, .scales = 1},
    {"se_huge_inputs", 2, 16, 4, 4, 4, .b1 = 1, .b2 = 1, .range = 1e4, .scales = 1},
    {"se_big_hw_256", 1, 4, 64, 64, 1, .b1 = 1, .b2 = 1},
};

static void test_case(void **state)
{
    const ch_case *k = *state;
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
    float buf[256] = {0};
    clattn_channel_attn_desc d;
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 0);
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "hidden: 0");
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 2);
    d.out.dims[1] = 3;
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "out: dim 1 is 3");
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 2);
    d.pool = (clattn_channel_pool)5;
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "pool: 5");
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 2);
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, NULL, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "b1 is NULL but desc.has_b1 is 1");
    expect_error(clattn_channel_attn(g_ctx, &d, buf, NULL, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "w1 is NULL");
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, buf), CLATTN_ERROR_INVALID_ARGUMENT,
                 "scales is given");
    d.x.ndim = 3;
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "x: ndim is 3, expected 4");
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 2);
    d.out.offset = 1;
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "in place needs the same view");
    clattn_channel_attn_desc_init(&d, 1, 4, 2, 2, 2);
    d.struct_size = 4;
    expect_error(clattn_channel_attn(g_ctx, &d, buf, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "struct_size");
    assert_true(clattn_channel_attn_plan_path(NULL)[0] == '\0');
    clattn_channel_attn_plan_destroy(NULL);
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
    int failed = tu_run_group("channel", tests, nc + 1);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
