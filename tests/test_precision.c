/*
 * test_precision: clattn_sdpa_desc.precision (clattn.h, clattn_precision) on the backend chosen by
 * CLATTN_DEVICE (exit 77 when absent): precision.host, .pocl, .rusticl; precision.host_avx512bf16
 * (CLATTN_TEST_EXPECT_PATH=host-fused-avx512bf16: every tiled REDUCED plan must take the bf16 kernel; skips on
 * a CPU without AVX512_BF16) and precision.host_avx512 (CLATTN_HOST_ISA=avx512: forced off, REDUCED runs
 * float32 under host-fused-avx512).
 *
 * Each row tagged precision in tests/cases/cases.c runs twice, outputs poisoned before each run: FP32 (checked
 * against the double reference within TU_TOL_F32) and REDUCED. The REDUCED plan's path is checked
 * (tu_check_plan_path: host-fused-avx512bf16 exactly where the FP32 twin takes host-fused-avx512 on a CPU with
 * AVX512_BF16, tiled plans only; decode plans stay host-fused-avx512). Then:
 *   - a bf16 path: every out element within the bound clattn.h documents (|out - exact| <= ((e^(2δ_i) - 1) +
 *     2u + u² + (Lk + 4)·2^-24)·V_e, δ_i = A_i·(2u + u² + (D + 2)·2^-24), u = 2^-8; rows with no allowed key
 *     exactly 0, NaN where the reference is NaN), lse within δ_i + 1e-5·max(1, |lse|), gaps untouched; and
 *     within a tight bound of a reference that rounds q, k, v to bf16 itself (round to nearest even):
 *     |out - emulated| <= (u + 2δ'_i + 1e-5)·sum_j π_j·|v_je| + 1e-6·V_e with δ'_i the float32 part
 *     (A_i + 8)·(D + 8)·2^-24. That bound leaves room only for the rounding of P, so a kernel that rounds K, Q
 *     or V differently (e.g. truncation) fails the large-logits row.
 *   - a float32 path (every other one): the REDUCED output is bit-identical to the FP32 output (same kernels).
 * Extra tests: NaN confinement with NaN/inf keys and values where a zero weight meets them (the guarded P·V
 * kernel), V = 1 (out must be 1 within u; and, statistically, the mean signed error of all rows within u/8:
 * round to nearest even is unbiased, truncating P is not), float16 and bfloat16 inputs (the bfloat16 bound
 * without the Q, K, V roundings), an invalid precision value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "f16_ref.h"
#include "reference.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

#define MAX_CASES 32
static const case_row *g_rows[MAX_CASES];

#define U_BF16 (1.0 / 256.0) /* unit roundoff of bfloat16 (8 significant bits, round to nearest even) */

/* float -> bf16 -> float, round to nearest even, NaN kept (as VCVTNEPS2BF16 for normal inputs). */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}

static float *bf16_copy(const float *x, int64_t n)
{
    float *y = tu_xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) y[i] = bf16_round(x[i]);
    return y;
}

static double eff_scale(const clattn_sdpa_desc *s)
{
    return s->scale != 0.0f ? (double)s->scale : (double)(float)(1.0 / sqrt((double)s->q.dims[3]));
}

/* Runs d with precision prec (outputs poisoned first); the plan's path into path. */
static bool run_prec(sdpa_data *d, clattn_precision prec, char *path, size_t cap, const tu_where *w)
{
    sdpa_data_poison(d);
    if (d->lse) tu_fill_bits(d->lse, d->nl, d->poison);
    d->desc.precision = prec;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d->desc);
    if (st != CLATTN_SUCCESS) {
        tu_report(w, "plan_create (precision %d): %d %s", (int)prec, (int)st, clattn_last_error(g_ctx));
        return false;
    }
    snprintf(path, cap, "%s", clattn_sdpa_plan_path(plan));
    bool ok = tu_check_plan_path(plan, &d->desc, w);
    clattn_sdpa_buffers b;
    clattn_sdpa_buffers_init(&b);
    b.q = d->q, b.k = d->k, b.v = d->v, b.mask = d->mask, b.kv_lengths = d->kvl, b.out = d->out, b.lse = d->lse;
    st = clattn_sdpa_execute_buffers(plan, &b);
    if (st != CLATTN_SUCCESS) tu_report(w, "execute (precision %d): %d %s", (int)prec, (int)st, clattn_last_error(g_ctx));
    clattn_sdpa_plan_destroy(plan);
    d->desc.precision = CLATTN_PRECISION_FP32;
    return ok && st == CLATTN_SUCCESS;
}

/* Non-finite values match exactly (NaN with NaN, inf with the same inf). */
static bool nonfinite_match(double got, double ref)
{
    if (isnan(ref)) return isnan(got);
    return got == ref;
}

/* The documented bound and the emulated-reference bound for the REDUCED output of d (see the top). */
static bool check_reduced(const sdpa_data *d, const tu_where *w, double *mean_err, int64_t *n_err)
{
    const clattn_sdpa_desc *s = &d->desc;
    const int64_t B = s->q.dims[0], Hq = s->q.dims[1], Hkv = s->k.dims[1], Lq = s->q.dims[2], Lk = s->k.dims[2];
    const int64_t D = s->q.dims[3], Dv = s->v.dims[3], G = Hq / Hkv;
    const double u = U_BF16, scale = eff_scale(s);
    double *ref = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double));
    double *rlse = tu_xmalloc((size_t)(B * Hq * Lq) * sizeof(double));
    double *em = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double));
    double *pi = tu_xmalloc((size_t)(B * Hq * Lq * Lk) * sizeof(double));
    ref_sdpa_lse(s, d->q, d->k, d->v, d->mask, d->kvl, ref, NULL, rlse);
    float *q16 = bf16_copy(d->q, d->nq), *k16 = bf16_copy(d->k, d->nk), *v16 = bf16_copy(d->v, d->nv);
    ref_sdpa(s, q16, k16, v16, d->mask, d->kvl, em, pi);
    double *vmax = tu_xmalloc((size_t)Dv * sizeof(double)), *spv = tu_xmalloc((size_t)Dv * sizeof(double));
    int64_t bad = 0, bad_em = 0, bad_lse = 0;
    double worst = 0, worst_em = 0;
    char first[256] = "";
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++) {
                const int64_t row = (b * Hq + h) * Lq + i;
                double A = 0;
                for (int64_t e = 0; e < Dv; e++) vmax[e] = 0, spv[e] = 0;
                for (int64_t j = 0; j < Lk; j++) {
                    if (!ref_sdpa_allowed(s, d->mask, d->kvl, b, h, i, j)) continue;
                    double a = 0;
                    for (int64_t t = 0; t < D; t++)
                        a += fabs(d->q[tu_index(&s->q, b, h, i, t)]) * fabs(d->k[tu_index(&s->k, b, h / G, j, t)]);
                    if (a * scale > A) A = a * scale;
                    const double p = pi[row * Lk + j];
                    for (int64_t e = 0; e < Dv; e++) {
                        const double x = fabs(d->v[tu_index(&s->v, b, h / G, j, e)]);
                        if (x > vmax[e]) vmax[e] = x;
                        spv[e] += p * fabs(v16[tu_index(&s->v, b, h / G, j, e)]);
                    }
                }
                const double delta = A * (2 * u + u * u + (double)(D + 2) * ldexp(1, -24));
                const double rel = expm1(2 * delta) + 2 * u + u * u + (double)(Lk + 4) * ldexp(1, -24);
                const double delta_f = (A + 8) * (double)(D + 8) * ldexp(1, -24);
                for (int64_t e = 0; e < Dv; e++) {
                    const double got = d->out[tu_index(&s->out, b, h, i, e)], r = ref[row * Dv + e];
                    if (!isfinite(r) || !isfinite(got)) {
                        if (!nonfinite_match(got, r)) {
                            if (!bad++)
                                snprintf(first, sizeof first, "out[%lld,%lld,%lld,%lld] = %g, reference %g", (long long)b,
                                         (long long)h, (long long)i, (long long)e, got, r);
                        }
                        continue;
                    }
                    const double err = fabs(got - r), tol = rel * vmax[e];
                    if (tol > 0 && err / tol > worst) worst = err / tol;
                    if (err > tol && !bad++)
                        snprintf(first, sizeof first, "out[%lld,%lld,%lld,%lld] = %.9g, reference %.9g, error %.3g > bound %.3g",
                                 (long long)b, (long long)h, (long long)i, (long long)e, got, r, err, tol);
                    const double re = em[row * Dv + e];
                    if (!isfinite(re)) continue;
                    const double err_em = fabs(got - re), tol_em = (u + 2 * delta_f + 1e-5) * spv[e] + 1e-6 * vmax[e];
                    if (tol_em > 0 && err_em / tol_em > worst_em) worst_em = err_em / tol_em;
                    if (err_em > tol_em && !bad_em++)
                        tu_report(w, "out[%lld,%lld,%lld,%lld] = %.9g, bf16-emulated reference %.9g: error %.3g > %.3g",
                                  (long long)b, (long long)h, (long long)i, (long long)e, got, re, err_em, tol_em);
                    if (mean_err) *mean_err += got - re;
                    if (n_err) ++*n_err;
                }
                if (d->lse) {
                    const double got = d->lse[tu_index(&d->lse4, b, h, i, 0)], r = rlse[row];
                    const bool ok = !isfinite(r) ? nonfinite_match(got, r)
                                                 : fabs(got - r) <= delta + 1e-5 * (fabs(r) > 1 ? fabs(r) : 1);
                    if (!ok && !bad_lse++)
                        tu_report(w, "lse[%lld,%lld,%lld] = %.9g, reference %.9g (bound %.3g)", (long long)b,
                                  (long long)h, (long long)i, got, r, delta + 1e-5 * (fabs(r) > 1 ? fabs(r) : 1));
                }
            }
    if (bad) tu_report(w, "%lld out elements outside the documented bound; first: %s", (long long)bad, first);
    if (bad_em) tu_report(w, "%lld out elements outside the emulated-reference bound", (long long)bad_em);
    printf("  [precision/%s] worst error / documented bound %.3f, / emulated bound %.3f\n", w->name, worst, worst_em);
    bool ok = bad == 0 && bad_em == 0 && bad_lse == 0;
    ok &= tu_check_gaps(w, "out", d->out, d->no, &s->out, d->poison);
    if (d->lse) ok &= tu_check_gaps(w, "lse", d->lse, d->nl, &d->lse4, d->poison);
    free(ref), free(rlse), free(em), free(pi), free(q16), free(k16), free(v16), free(vmax), free(spv);
    return ok;
}

static bool is_bf16_path(const char *path)
{
    return strcmp(path, "host-fused-avx512bf16") == 0;
}

/* FP32 then REDUCED on d; the REDUCED output checked as the top says. */
static bool run_both(sdpa_data *d, const tu_where *w, double *mean_err, int64_t *n_err)
{
    char p32[64], pr[64];
    bool ok = run_prec(d, CLATTN_PRECISION_FP32, p32, sizeof p32, w) && sdpa_data_check(d, w);
    if (is_bf16_path(p32)) {
        tu_report(w, "an FP32 plan took %s", p32);
        ok = false;
    }
    float *out32 = tu_xmalloc((size_t)d->no * sizeof(float));
    memcpy(out32, d->out, (size_t)d->no * sizeof(float));
    float *lse32 = NULL;
    if (d->lse) {
        lse32 = tu_xmalloc((size_t)d->nl * sizeof(float));
        memcpy(lse32, d->lse, (size_t)d->nl * sizeof(float));
    }
    ok &= run_prec(d, CLATTN_PRECISION_REDUCED, pr, sizeof pr, w);
    if (is_bf16_path(pr)) {
        ok &= check_reduced(d, w, mean_err, n_err);
    } else {
        /* a float32 path: the same kernels, so the same bits */
        const bool same = memcmp(out32, d->out, (size_t)d->no * sizeof(float)) == 0 &&
                          (!d->lse || memcmp(lse32, d->lse, (size_t)d->nl * sizeof(float)) == 0);
        if (!same) tu_report(w, "REDUCED on the float32 path %s differs from FP32 (%s)", pr, p32);
        if (strcmp(pr, p32) != 0) tu_report(w, "REDUCED took %s, FP32 %s (a float32 path keeps its name)", pr, p32);
        ok &= same && strcmp(pr, p32) == 0;
        ok &= sdpa_data_check(d, w);
    }
    free(out32);
    free(lse32);
    return ok;
}

/* OpenCL runs REDUCED as float32 (no cl_khr_fp16 on PoCL/rusticl here, and no half products yet): the rows
 * up to 5e6 multiply-adds show that plans accept it and give FP32's bits; the longer rows, which only add
 * kernel builds there (minutes on a cold PoCL cache), run on the host (CLATTN_TEST_FULL: all of them). */
static bool skip_on_backend(const sdpa_case *c)
{
    return g_backend != TU_HOST && !getenv("CLATTN_TEST_FULL") && sdpa_case_cost(c) > 5.0e6;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    const sdpa_case c = (*row)->c;
    if (skip_on_backend(&c)) {
        printf("  [precision/%s] not on OpenCL (float32 there; see skip_on_backend)\n", c.name);
        return;
    }
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "precision", (int)(row - g_rows), NULL);
    const bool ok = run_both(&d, &w, NULL, NULL);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* NaN and inf where a zero weight meets them: key 5 blocked for every row by the mask has K NaN and V inf;
 * key 9 has V = +inf and is visible only to causal rows i >= 9 (rows before it give it weight 0); query
 * row 3 of head 1 holds a NaN. Only that row is NaN, rows >= 9 are +inf where V is, the rest finite. */
static void test_nan_inf(void **state)
{
    (void)state;
    const sdpa_case c = {.name = "nan_inf_guarded", .B = 1, .Hq = 2, .Hkv = 2, .Lq = 67, .Lk = 67, .D = 64, .Dv = 64,
                         .causal = CLATTN_CAUSAL_TOP_LEFT, .mask_kind = CLATTN_MASK_BOOL, .density = 1.0};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "precision", 100, NULL);
    uint8_t *m = d.mask;
    for (int64_t i = 0; i < c.Lq; i++) m[tu_index(&d.desc.mask, 0, 0, i, 5)] = 0;
    for (int64_t h = 0; h < 2; h++)
        for (int64_t t = 0; t < c.D; t++) d.k[tu_index(&d.desc.k, 0, h, 5, t)] = NAN;
    for (int64_t h = 0; h < 2; h++)
        for (int64_t e = 0; e < c.Dv; e++) {
            d.v[tu_index(&d.desc.v, 0, h, 5, e)] = INFINITY;
            if (e % 3 == 0) d.v[tu_index(&d.desc.v, 0, h, 9, e)] = INFINITY;
        }
    d.q[tu_index(&d.desc.q, 0, 1, 3, 7)] = NAN;
    const bool ok = run_both(&d, &w, NULL, NULL);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* V = 1: every row with an allowed key outputs sum_j round(p_j) / sum_j p_j, within u of 1 (the emulated
 * reference is exactly 1). The mean signed error over all elements must stay within u/8: rounding P to
 * nearest even is unbiased (the mean of 2 x 300 x 64 errors of about u/sqrt(3)/sqrt(300) each is far below
 * u/8), truncating P would shift every row by about -0.7u. A statistical check, stated as such. */
static void test_p_rounding(void **state)
{
    (void)state;
    const sdpa_case c = {.name = "v_ones_l300", .B = 1, .Hq = 2, .Hkv = 2, .Lq = 300, .Lk = 300, .D = 64, .Dv = 64};
    if (skip_on_backend(&c)) return;
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "precision", 101, NULL);
    for (int64_t i = 0; i < d.nv; i++) d.v[i] = 1.0f;
    double mean = 0;
    int64_t n = 0;
    bool ok = run_both(&d, &w, &mean, &n);
    if (n > 0) {
        mean /= (double)n;
        printf("  [precision/%s] mean signed error %.3g over %lld elements (u = %.3g)\n", c.name, mean, (long long)n,
               U_BF16);
        if (fabs(mean) > U_BF16 / 8) {
            tu_report(&w, "mean signed error %.3g exceeds u/8 = %.3g: P is not rounded to nearest", mean, U_BF16 / 8);
            ok = false;
        }
    }
    sdpa_data_free(&d);
    assert_true(ok);
}

/* float16 / bfloat16 q, k, v, out with REDUCED: the 16-bit values (exact in float32) through the same
 * kernels; out within the documented bound of the exact result on those inputs (bfloat16: the bound without
 * Q, K, V rounding, which the inputs make exact) plus one output rounding (2^-11 / 2^-8 ·|out|). On a float32
 * path, bit-identical to the FP32 plan. */
static void run_dtype16(clattn_dtype dt)
{
    const bool bf = dt == CLATTN_DTYPE_BF16;
    /* bf16: K strided along D and V rows padded (the pack's 16-bit gather); f16: contiguous (the masked loads) */
    const sdpa_case c = {.name = bf ? "bf16_gqa_causal" : "f16_gqa_causal", .B = 1, .Hq = 4, .Hkv = 2, .Lq = 129,
                         .Lk = 129, .D = 80, .Dv = 80, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
                         .lk = bf ? TU_COLSTRIDE : TU_CONTIG, .lv = bf ? TU_PAD : TU_CONTIG};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "precision", bf ? 103 : 102, NULL);
    const int64_t nq = d.nq, nk = d.nk, nv = d.nv, no = d.no;
    uint16_t *q = tu_xmalloc((size_t)nq * 2), *k = tu_xmalloc((size_t)nk * 2), *v = tu_xmalloc((size_t)nv * 2);
    uint16_t *o32 = tu_xmalloc((size_t)no * 2), *ored = tu_xmalloc((size_t)no * 2);
    uint16_t (*to16)(double) = bf ? bf16r_from_double : f16r_from_double;
    double (*from16)(uint16_t) = bf ? bf16r_to_double : f16r_to_double;
    for (int64_t i = 0; i < nq; i++) d.q[i] = (float)from16(q[i] = to16(d.q[i]));
    for (int64_t i = 0; i < nk; i++) d.k[i] = (float)from16(k[i] = to16(d.k[i]));
    for (int64_t i = 0; i < nv; i++) d.v[i] = (float)from16(v[i] = to16(d.v[i]));
    bool ok = true;
    char paths[2][64];
    for (int pass = 0; pass < 2; pass++) {
        uint16_t *o = pass ? ored : o32;
        for (int64_t i = 0; i < no; i++) o[i] = F16R_POISON;
        clattn_sdpa_desc s = d.desc;
        s.data_type = dt;
        s.precision = pass ? CLATTN_PRECISION_REDUCED : CLATTN_PRECISION_FP32;
        clattn_sdpa_plan *plan = NULL;
        clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &s);
        if (st == CLATTN_SUCCESS) {
            snprintf(paths[pass], sizeof paths[pass], "%s", clattn_sdpa_plan_path(plan));
            ok &= tu_check_plan_path(plan, &s, &w);
            if (pass && is_bf16_path(paths[pass])) {
                /* read natively (no float32 copies): the workspace of the same plan in float32 */
                clattn_sdpa_desc s32 = s;
                s32.data_type = CLATTN_DTYPE_F32;
                clattn_sdpa_plan *p32 = NULL;
                if (clattn_sdpa_plan_create(&p32, g_ctx, &s32) != CLATTN_SUCCESS) ok = false;
                const size_t w16 = clattn_sdpa_plan_workspace_size(plan), w32 = clattn_sdpa_plan_workspace_size(p32);
                if (w16 != w32) {
                    tu_report(&w, "workspace %zu bytes, the float32 plan's %zu: the 16-bit data was staged", w16, w32);
                    ok = false;
                }
                clattn_sdpa_plan_destroy(p32);
            }
            st = clattn_sdpa_execute(plan, q, k, v, NULL, NULL, o, NULL);
        }
        if (st != CLATTN_SUCCESS) {
            tu_report(&w, "%s precision %d: %d %s", c.name, pass, (int)st, clattn_last_error(g_ctx));
            ok = false;
        }
        clattn_sdpa_plan_destroy(plan);
    }
    if (ok && is_bf16_path(paths[1])) {
        /* the documented bound on the float16 inputs, plus the output's own fp16 rounding */
        for (int64_t i = 0; i < no; i++) d.out[i] = (float)from16(ored[i]);
        double *ref = tu_xmalloc((size_t)no * sizeof(double));
        ref_sdpa(&d.desc, d.q, d.k, d.v, NULL, NULL, ref, NULL);
        int64_t bad = 0;
        const double scale = eff_scale(&d.desc);
        for (int64_t h = 0; h < c.Hq; h++)
            for (int64_t i = 0; i < c.Lq; i++) {
                double A = 0;
                double vmax[80] = {0};
                for (int64_t j = 0; j < c.Lk; j++) {
                    if (!ref_sdpa_allowed(&d.desc, NULL, NULL, 0, h, i, j)) continue;
                    double a = 0;
                    for (int64_t t = 0; t < c.D; t++)
                        a += fabs(d.q[tu_index(&d.desc.q, 0, h, i, t)]) * fabs(d.k[tu_index(&d.desc.k, 0, h / 2, j, t)]);
                    if (a * scale > A) A = a * scale;
                    for (int64_t e = 0; e < c.Dv; e++) {
                        const double x = fabs(d.v[tu_index(&d.desc.v, 0, h / 2, j, e)]);
                        if (x > vmax[e]) vmax[e] = x;
                    }
                }
                const double u = U_BF16;
                /* bfloat16 inputs: Q, K, V need no rounding, only P does */
                const double delta = A * ((bf ? 0 : 2 * u + u * u) + (double)(c.D + 2) * ldexp(1, -24));
                const double rel = expm1(2 * delta) + (bf ? u : 2 * u + u * u) + (double)(c.Lk + 4) * ldexp(1, -24);
                for (int64_t e = 0; e < c.Dv; e++) {
                    const int64_t x = tu_index(&d.desc.out, 0, h, i, e);
                    const double rv = ref[(h * c.Lq + i) * c.Dv + e], got = d.out[x];
                    const double tol = rel * vmax[e] + ldexp(1, bf ? -8 : -11) * fabs(rv) + ldexp(1, -24);
                    if (!(fabs(got - rv) <= tol) && !bad++)
                        tu_report(&w, "out[0,%lld,%lld,%lld] = %.6g, reference %.6g, bound %.3g", (long long)h,
                                  (long long)i, (long long)e, got, rv, tol);
                }
            }
        free(ref);
        ok &= bad == 0;
    } else if (ok) {
        if (memcmp(o32, ored, (size_t)no * 2) != 0 || strcmp(paths[0], paths[1]) != 0) {
            tu_report(&w, "REDUCED on a float32 path (%s) differs from FP32 (%s)", paths[1], paths[0]);
            ok = false;
        }
    }
    free(q), free(k), free(v), free(o32), free(ored);
    sdpa_data_free(&d);
    assert_true(ok);
}

static void test_f16(void **state)
{
    (void)state;
    run_dtype16(CLATTN_DTYPE_F16);
}

static void test_bf16(void **state)
{
    (void)state;
    run_dtype16(CLATTN_DTYPE_BF16);
}

static void test_invalid(void **state)
{
    (void)state;
    clattn_sdpa_desc s;
    clattn_sdpa_desc_init(&s, 1, 2, 2, 8, 8, 16, 16);
    assert_int_equal(s.precision, CLATTN_PRECISION_FP32);
    s.precision = (clattn_precision)7;
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &s), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_non_null(strstr(clattn_last_error(g_ctx), "precision: 7 is not a clattn_precision value"));
    s.precision = (clattn_precision)-1;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &s), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(g_ctx), "precision: -1"));
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const size_t n_cases = case_rows_tagged(CASE_PRECISION, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 8];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_nan_inf), cmocka_unit_test(test_p_rounding),
                                 cmocka_unit_test(test_f16), cmocka_unit_test(test_bf16),
                                 cmocka_unit_test(test_invalid)};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) tests[n++] = extra[i];
    int failed = tu_run_group("precision", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
