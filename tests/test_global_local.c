/*
 * test_global_local: global-local (Longformer) attention (clattn_global_local_*) against a naive double-precision
 * reference of the definition (key j allowed for query i iff |i - j| <= w, or i or j global; global query rows
 * with the global projections when given), on the backend chosen by CLATTN_DEVICE (exit 77 when absent): odd
 * sizes (L 1, 7, 67, 129; window 0, 1, 3 and wider than L; G 0, 1, 3 with unused -1 slots and different globals
 * per batch item, globals at 0 and L - 1), Dv != D, [B, L, H, D] strided views, global projections, NaN in one
 * query row (stays in that row), poisoned outputs. The compact weights are checked through
 * clattn_global_local_expand() against the reference's dense weights, and (without global projections) the
 * output against clattn_sdpa with the equivalent boolean mask. Tolerance TU_TOL_F32.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clattn_context *g_ctx;

typedef struct gl_case {
    const char *name;
    int64_t B, H, L, D, Dv, w, G;
    int blhd, gproj, probs, nan_row; /* nan_row: 1 + a query row of (b 0, h 0) to poison */
} gl_case;

static float *input(tu_rng *r, const clattn_tensor *t, int64_t n)
{
    float *p = tu_xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = NAN;
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t d = 0; d < t->dims[3]; d++) p[tu_index(t, a, b, c, d)] = (float)tu_rng_uniform(r, -1, 1);
    return p;
}

static bool run_case(const gl_case *k, int idx)
{
    tu_where w = {"global_local", k->name, tu_case_seed("global_local", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    const tu_layout lay = k->blhd ? TU_BLHD : TU_CONTIG;
    clattn_tensor qt = tu_tensor(lay, k->B, k->H, k->L, k->D, 0), vt = tu_tensor(lay, k->B, k->H, k->L, k->Dv, 0);
    const int64_t nq = tu_extent(&qt), nv = tu_extent(&vt);
    float *q = input(&r, &qt, nq), *kk = input(&r, &qt, nq), *v = input(&r, &vt, nv);
    float *qg = k->gproj ? input(&r, &qt, nq) : NULL, *kg = k->gproj ? input(&r, &qt, nq) : NULL;
    float *vg = k->gproj ? input(&r, &vt, nv) : NULL;
    int32_t *gidx = k->G ? tu_xmalloc((size_t)(k->B * k->G) * sizeof(int32_t)) : NULL;
    unsigned char *isg = calloc((size_t)(k->B * k->L), 1);
    for (int64_t b = 0; b < k->B; b++)
        for (int64_t c = 0; c < k->G; c++) {
            int32_t j;
            if (c == 1 && b == 0) j = -1; /* an unused slot */
            else if (c == 0) j = b % 2 ? (int32_t)(k->L - 1) : 0;
            else do j = (int32_t)tu_rng_int(&r, 0, k->L - 1); while (isg[b * k->L + j] && k->L > k->G);
            if (j >= 0 && isg[b * k->L + j]) j = -1;
            gidx[b * k->G + c] = j;
            if (j >= 0) isg[b * k->L + j] = 1;
        }
    if (k->nan_row) q[tu_index(&qt, 0, 0, k->nan_row - 1, 0)] = NAN;
    /* reference: dense weights [B, H, L, L] and out [B, H, L, Dv] */
    const int64_t L = k->L;
    const double scale = (double)(float)(1.0 / sqrt((double)k->D));
    double *ref = tu_xmalloc((size_t)(k->B * k->H * L * k->Dv) * sizeof(double));
    double *pref = tu_xmalloc((size_t)(k->B * k->H * L * L) * sizeof(double));
    uint8_t *mask = tu_xmalloc((size_t)(k->B * L * L));
    for (int64_t b = 0; b < k->B; b++)
        for (int64_t h = 0; h < k->H; h++)
            for (int64_t i = 0; i < L; i++) {
                const bool gi = isg[b * L + i];
                const float *Q = gi && qg ? qg : q, *K = gi && kg ? kg : kk, *V = gi && vg ? vg : v;
                double *p = pref + ((b * k->H + h) * L + i) * L, mx = -INFINITY, sum = 0;
                bool nan = false;
                for (int64_t j = 0; j < L; j++) {
                    const bool ok = gi || isg[b * L + j] || llabs(i - j) <= k->w;
                    mask[(b * L + i) * L + j] = ok;
                    if (!ok) {
                        p[j] = -INFINITY;
                        continue;
                    }
                    double s = 0;
                    for (int64_t d = 0; d < k->D; d++)
                        s += (double)Q[tu_index(&qt, b, h, i, d)] * K[tu_index(&qt, b, h, j, d)];
                    p[j] = s * scale;
                    if (isnan(p[j])) nan = true;
                    else if (p[j] > mx) mx = p[j];
                }
                for (int64_t j = 0; j < L; j++) {
                    p[j] = p[j] == -INFINITY ? 0 : nan ? NAN : exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t j = 0; j < L; j++) p[j] = mask[(b * L + i) * L + j] ? p[j] / sum : 0.0;
                for (int64_t e = 0; e < k->Dv; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < L; j++)
                        if (mask[(b * L + i) * L + j]) acc += p[j] * V[tu_index(&vt, b, h, j, e)];
                    ref[((b * k->H + h) * L + i) * k->Dv + e] = acc;
                }
            }
    float *out = tu_alloc_bits(nv, TU_POISON_BITS);
    const int64_t cols = k->G + 2 * k->w + 1, np = k->B * k->H * L * cols, ng = k->B * k->H * (k->G ? k->G : 1) * L;
    float *probs = k->probs ? tu_alloc_bits(np, TU_POISON_BITS) : NULL;
    float *gprobs = k->probs && k->G ? tu_alloc_bits(ng, TU_POISON_BITS) : NULL;
    clattn_global_local_desc d;
    clattn_global_local_desc_init(&d, k->B, k->H, L, k->D, k->Dv, k->w, k->G);
    d.q = d.k = qt;
    d.v = d.out = vt;
    d.use_global_proj = k->gproj;
    d.want_probs = k->probs;
    clattn_global_local_plan *plan = NULL;
    bool ok = true;
    clattn_status st = clattn_global_local_plan_create(&plan, g_ctx, &d);
    if (st == CLATTN_SUCCESS) {
        const char *want = tu_backend_of(g_ctx) == TU_HOST ? "host-global-local" : "global-local";
        if (strcmp(clattn_global_local_plan_path(plan), want) != 0) {
            tu_report(&w, "path %s, expected %s", clattn_global_local_plan_path(plan), want);
            ok = false;
        }
        st = clattn_global_local_execute(plan, q, kk, v, gidx, qg, kg, vg, out, probs, gprobs);
    }
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "status %d: %s", (int)st, clattn_last_error(g_ctx));
        ok = false;
    }
    if (ok) ok = tu_check_view(&w, "out", out, &vt, ref, TU_TOL_F32) && tu_check_gaps(&w, "out", out, nv, &vt, TU_POISON_BITS);
    if (ok && probs) {
        float *dense = tu_xmalloc((size_t)(k->B * k->H * L * L) * sizeof(float));
        st = clattn_global_local_expand(k->B, k->H, L, k->w, k->G, gidx, probs, gprobs, dense);
        ok = st == CLATTN_SUCCESS && tu_check_array(&w, "probs (expanded)", dense, pref, k->B * k->H * L * L, TU_TOL_F32);
        free(dense);
    }
    if (ok && !k->gproj && !k->nan_row) { /* the dense equivalent: SDPA with the boolean mask [B, 1, L, L] */
        clattn_sdpa_desc sd;
        clattn_sdpa_desc_init(&sd, k->B, k->H, k->H, L, L, k->D, k->Dv);
        sd.q = sd.k = qt;
        sd.v = sd.out = vt;
        sd.mask_kind = CLATTN_MASK_BOOL;
        sd.mask = clattn_tensor_contiguous(k->B, 1, L, L);
        float *o2 = tu_alloc_bits(nv, TU_POISON_BITS);
        st = clattn_sdpa(g_ctx, &sd, q, kk, v, mask, NULL, o2, NULL);
        ok = st == CLATTN_SUCCESS && tu_check_view(&w, "out (SDPA with the dense mask)", o2, &vt, ref, TU_TOL_F32);
        free(o2);
    }
    clattn_global_local_plan_destroy(plan);
    free(q), free(kk), free(v), free(qg), free(kg), free(vg), free(gidx), free(isg), free(ref), free(pref);
    free(mask), free(out), free(probs), free(gprobs);
    return ok;
}

static const gl_case cases[] = {
    {"l1_w0_g0", 1, 1, 1, 8, 8, 0, 0, .probs = 1},
    {"l7_w1_g1", 2, 2, 7, 8, 8, 1, 1, .probs = 1},
    {"l67_w3_g3_dv", 2, 3, 67, 40, 16, 3, 3, .probs = 1},
    {"l129_w8_g3_blhd", 2, 2, 129, 64, 64, 8, 3, .blhd = 1, .probs = 1},
    {"w_wider_than_l", 1, 2, 7, 8, 8, 20, 1, .probs = 1},
    {"gproj_l67_w2_g3", 2, 2, 67, 16, 16, 2, 3, .gproj = 1, .probs = 1},
    {"gproj_no_probs_blhd", 1, 3, 33, 16, 8, 4, 2, .gproj = 1, .blhd = 1},
    {"nan_local_row", 1, 2, 33, 16, 16, 2, 1, .nan_row = 9, .probs = 1},
    {"g0_w5_no_probs", 2, 2, 129, 32, 32, 5, 0, .probs = 0},
};

static void test_case(void **state)
{
    const gl_case *k = *state;
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
    float buf[1024] = {0};
    int32_t g[4] = {0, 0, 3, -1};
    clattn_global_local_desc d;
    clattn_global_local_desc_init(&d, 2, 1, 4, 4, 4, -1, 2);
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, g, NULL, NULL, NULL, buf, NULL, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "window: -1");
    clattn_global_local_desc_init(&d, 2, 1, 4, 4, 4, 1, 2);
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, g, NULL, NULL, NULL, buf, NULL, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "global_idx[0, 1] is 0, already in slot 0");
    g[1] = 1;
    g[2] = 7;
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, g, NULL, NULL, NULL, buf, NULL, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "global_idx[1, 0] is 7, expected -1 (unused) or 0..3");
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, NULL, NULL, NULL, NULL, buf, NULL, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "global_idx is NULL");
    d.use_global_proj = 1;
    g[2] = 2;
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, g, buf, NULL, buf, buf, NULL, NULL),
                 CLATTN_ERROR_INVALID_ARGUMENT, "k_g is NULL");
    clattn_global_local_desc_init(&d, 2, 1, 4, 4, 4, 1, 2);
    d.want_probs = 1;
    d.probs.dims[3] = 4;
    expect_error(clattn_global_local(g_ctx, &d, buf, buf, buf, g, NULL, NULL, NULL, buf, buf, buf),
                 CLATTN_ERROR_INVALID_ARGUMENT, "probs: dim 3 is 4, expected 5");
    assert_int_equal(clattn_global_local_expand(1, 1, 0, 1, 0, NULL, buf, NULL, buf), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(NULL), "L 0")); /* no context: the thread's message */
    assert_true(clattn_global_local_plan_path(NULL)[0] == '\0');
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
    int failed = tu_run_group("global_local", tests, nc + 1);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
