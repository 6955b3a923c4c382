/*
 * test_sinkhorn: sparse Sinkhorn attention (clattn_sinkhorn_*) against a naive double-precision reference (log-space
 * Sinkhorn of R / tau, soft-sorted blocks K'_i = sum_j P[i,j]·K_j, V'_i likewise, one softmax over the 2b keys
 * [K_i; K'_i] per query row), on the backend chosen by CLATTN_DEVICE (exit 77 when absent): odd sizes (L 1, 7, 63,
 * 67, 129; b 1, 7, 43 and b = L; D != Dv), tau edges (1e-3: a near-hard permutation; 1e6: near-uniform), 0, 1 and 20
 * iterations, an explicit scale, large logits, padded and [B, L, H, D] strided views (H = 1 inputs, any out; gaps
 * checked untouched), the soft permutation output, NaN confinement (a NaN in q row i stays in out row i; a NaN in R
 * of head h reaches head h only), poisoned outputs, argument errors, and the path (one documented for the backend).
 * Tolerance: max |got - ref| <= tol·max(1, max|ref|), tol = TU_TOL_F32 (1e-5) unless a case says otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clattn_context *g_ctx;

typedef struct sk_case {
    const char *name;
    int64_t B, H, L, D, Dv, b;
    float tau;
    int iters;
    float scale;
    tu_layout in_layout, out_layout; /* in_layout other than TU_CONTIG needs H = 1 (or nb = 1) */
    double qk_range, r_range;
    int perm;
    int nan_q_row; /* 1 + a query row of (0, 0) to set NaN */
    int nan_r;     /* NaN in R[0, H-1, 0, 0] */
    double tol;    /* 0: TU_TOL_F32 */
} sk_case;

static const sk_case cases[] = {
    {"basic", 2, 3, 12, 8, 8, 4, 1.0f, 8, 0, TU_CONTIG, TU_CONTIG, 1, 2, 1, 0, 0, 0},
    {"odd_L63_b7", 1, 2, 63, 7, 5, 7, 0.7f, 5, 0, TU_CONTIG, TU_BLHD, 1, 2, 1, 0, 0, 0},
    {"one_block_L7", 2, 1, 7, 16, 3, 7, 1.0f, 3, 0, TU_PAD, TU_PAD, 1, 2, 1, 0, 0, 0},
    {"b1_L67", 1, 2, 67, 4, 6, 1, 1.0f, 4, 0, TU_CONTIG, TU_CONTIG, 1, 2, 1, 0, 0, 0},
    {"L1", 1, 1, 1, 1, 1, 1, 1.0f, 2, 0, TU_CONTIG, TU_CONTIG, 1, 2, 1, 0, 0, 0},
    {"L129_b43", 1, 1, 129, 67, 7, 43, 1.0f, 8, 0, TU_BLHD_PAD, TU_COLSTRIDE, 1, 2, 1, 0, 0, 0},
    {"iters0", 2, 2, 20, 8, 8, 5, 2.0f, 0, 0, TU_CONTIG, TU_CONTIG, 1, 1, 1, 0, 0, 0},
    {"iters1", 1, 2, 24, 8, 4, 4, 1.0f, 1, 0, TU_CONTIG, TU_CONTIG, 1, 2, 1, 0, 0, 0},
    {"tau_tiny", 1, 2, 32, 8, 8, 4, 1e-3f, 20, 0, TU_CONTIG, TU_CONTIG, 1, 1, 1, 0, 0, 0},
    {"tau_huge", 1, 2, 32, 8, 8, 4, 1e6f, 8, 0, TU_CONTIG, TU_CONTIG, 1, 5, 1, 0, 0, 0},
    {"scale", 2, 2, 16, 6, 9, 4, 0.5f, 6, 0.3f, TU_CONTIG, TU_PAD, 1, 2, 0, 0, 0, 0},
    {"large_logits", 1, 2, 16, 8, 8, 4, 1.0f, 8, 0, TU_CONTIG, TU_CONTIG, 4, 2, 0, 0, 0, 1e-4},
    {"nan_q_row", 2, 2, 16, 8, 8, 4, 1.0f, 8, 0, TU_CONTIG, TU_CONTIG, 1, 2, 0, 6, 0, 0},
    {"nan_r_head", 2, 3, 16, 8, 8, 4, 1.0f, 8, 0, TU_CONTIG, TU_CONTIG, 1, 2, 1, 0, 1, 0},
};

/* The reference: out (C order [B, H, L, Dv]) and P (C order [B, H, nb, nb]) in double. */
static void reference(const sk_case *c, const clattn_tensor *tq, const clattn_tensor *tk, const clattn_tensor *tv,
                      const clattn_tensor *tr, const float *q, const float *k, const float *v, const float *R,
                      double *out, double *P, double *W)
{
    const int64_t nb = c->L / c->b, b = c->b;
    const double scale = c->scale != 0 ? c->scale : 1.0 / sqrt((double)c->D);
    double *S = tu_xmalloc((size_t)(nb * nb) * sizeof(double));
    double *kp = tu_xmalloc((size_t)(c->L * c->D) * sizeof(double));
    double *vp = tu_xmalloc((size_t)(c->L * c->Dv) * sizeof(double));
    double *s = tu_xmalloc((size_t)(2 * b) * sizeof(double));
    for (int64_t bi = 0; bi < c->B; bi++)
        for (int64_t h = 0; h < c->H; h++) {
            for (int64_t i = 0; i < nb; i++)
                for (int64_t j = 0; j < nb; j++) S[i * nb + j] = R[tu_index(tr, bi, h, i, j)] / (double)c->tau;
            for (int it = 0; it < c->iters; it++) {
                for (int64_t i = 0; i < nb; i++) { /* rows */
                    double m = -INFINITY, sum = 0;
                    for (int64_t j = 0; j < nb; j++) m = S[i * nb + j] > m ? S[i * nb + j] : m;
                    for (int64_t j = 0; j < nb; j++) sum += exp(S[i * nb + j] - m);
                    for (int64_t j = 0; j < nb; j++) S[i * nb + j] -= m + log(sum);
                }
                for (int64_t j = 0; j < nb; j++) { /* columns */
                    double m = -INFINITY, sum = 0;
                    for (int64_t i = 0; i < nb; i++) m = S[i * nb + j] > m ? S[i * nb + j] : m;
                    for (int64_t i = 0; i < nb; i++) sum += exp(S[i * nb + j] - m);
                    for (int64_t i = 0; i < nb; i++) S[i * nb + j] -= m + log(sum);
                }
            }
            double *Pbh = P + (bi * c->H + h) * nb * nb;
            for (int64_t i = 0; i < nb * nb; i++) Pbh[i] = exp(S[i]);
            for (int64_t i = 0; i < nb; i++)
                for (int64_t r = 0; r < b; r++) {
                    for (int64_t x = 0; x < c->D; x++) {
                        double a = 0;
                        for (int64_t j = 0; j < nb; j++) a += Pbh[i * nb + j] * k[tu_index(tk, bi, h, j * b + r, x)];
                        kp[(i * b + r) * c->D + x] = a;
                    }
                    for (int64_t x = 0; x < c->Dv; x++) {
                        double a = 0;
                        for (int64_t j = 0; j < nb; j++) a += Pbh[i * nb + j] * v[tu_index(tv, bi, h, j * b + r, x)];
                        vp[(i * b + r) * c->Dv + x] = a;
                    }
                }
            for (int64_t row = 0; row < c->L; row++) {
                const int64_t i = row / b;
                double m = -INFINITY, sum = 0;
                for (int64_t t = 0; t < 2 * b; t++) {
                    const int64_t key = i * b + t % b;
                    double dot = 0;
                    for (int64_t x = 0; x < c->D; x++)
                        dot += (double)q[tu_index(tq, bi, h, row, x)] *
                               (t < b ? (double)k[tu_index(tk, bi, h, key, x)] : kp[key * c->D + x]);
                    s[t] = dot * scale;
                    m = s[t] > m ? s[t] : m;
                }
                for (int64_t t = 0; t < 2 * b; t++) sum += (s[t] = exp(s[t] - m));
                for (int64_t t = 0; t < 2 * b; t++) W[((bi * c->H + h) * c->L + row) * 2 * b + t] = s[t] / sum;
                double *o = out + ((bi * c->H + h) * c->L + row) * c->Dv;
                for (int64_t x = 0; x < c->Dv; x++) {
                    double a = 0;
                    for (int64_t t = 0; t < 2 * b; t++) {
                        const int64_t key = i * b + t % b;
                        a += s[t] * (t < b ? (double)v[tu_index(tv, bi, h, key, x)] : vp[key * c->Dv + x]);
                    }
                    o[x] = a / sum;
                }
            }
        }
    free(S);
    free(kp);
    free(vp);
    free(s);
}

static void test_case(void **state)
{
    const sk_case *c = *state;
    const int idx = (int)(c - cases);
    const tu_where w = {"sinkhorn", c->name, tu_case_seed("sinkhorn", idx)};
    tu_rng rng;
    tu_rng_init(&rng, w.seed);
    const int64_t nb = c->L / c->b;
    clattn_sinkhorn_desc d;
    clattn_sinkhorn_desc_init(&d, c->B, c->H, c->L, c->D, c->Dv, c->b);
    d.q = tu_tensor(c->in_layout, c->B, c->H, c->L, c->D, 1);
    d.k = tu_tensor(c->in_layout, c->B, c->H, c->L, c->D, 0);
    d.v = tu_tensor(c->in_layout, c->B, c->H, c->L, c->Dv, 2);
    d.out = tu_tensor(c->out_layout, c->B, c->H, c->L, c->Dv, 3);
    d.sort_logits = tu_tensor(TU_CONTIG, c->B, c->H, nb, nb, 0);
    d.perm = tu_tensor(TU_PAD, c->B, c->H, nb, nb, 1);
    d.tau = c->tau;
    d.sinkhorn_iters = c->iters;
    d.scale = c->scale;
    d.want_perm = c->perm;
    d.want_weights = c->perm; /* the compact weights with the permutation, so that they can be expanded */
    int64_t nq, nk, nv, nr;
    float *q = tu_make_input(&rng, &d.q, -c->qk_range, c->qk_range, &nq);
    float *k = tu_make_input(&rng, &d.k, -c->qk_range, c->qk_range, &nk);
    float *v = tu_make_input(&rng, &d.v, -1, 1, &nv);
    float *R = tu_make_input(&rng, &d.sort_logits, -c->r_range, c->r_range, &nr);
    if (c->nan_q_row)
        for (int64_t x = 0; x < c->D; x++) q[tu_index(&d.q, 0, 0, c->nan_q_row - 1, x)] = NAN;
    if (c->nan_r) R[tu_index(&d.sort_logits, 0, c->H - 1, 0, 0)] = NAN;
    const int64_t no = tu_extent(&d.out), np = tu_extent(&d.perm);
    float *out = tu_alloc_bits(no, TU_POISON_BITS), *perm = tu_alloc_bits(np, TU_POISON_BITS);
    double *ref = tu_xmalloc((size_t)(c->B * c->H * c->L * c->Dv) * sizeof(double));
    double *refp = tu_xmalloc((size_t)(c->B * c->H * nb * nb) * sizeof(double));
    const int64_t nw = c->B * c->H * c->L * 2 * c->b, ndense = c->B * c->H * c->L * c->L;
    double *refw = tu_xmalloc((size_t)nw * sizeof(double)), *refd = tu_xmalloc((size_t)ndense * sizeof(double));
    float *wts = tu_alloc_bits(nw, TU_POISON_BITS), *dense = tu_alloc_bits(ndense, TU_POISON_BITS);
    reference(c, &d.q, &d.k, &d.v, &d.sort_logits, q, k, v, R, ref, refp, refw);
    for (int64_t x = 0; x < c->B * c->H; x++) /* W[r, j·b + t] = [j = i]·w[r, t] + w[r, b + t]·P[i, j] */
        for (int64_t r = 0; r < c->L; r++)
            for (int64_t key = 0; key < c->L; key++) {
                const int64_t i = r / c->b, j = key / c->b, t = key % c->b;
                const double *wr = refw + (x * c->L + r) * 2 * c->b;
                refd[(x * c->L + r) * c->L + key] = (j == i ? wr[t] : 0.0) + wr[c->b + t] * refp[x * nb * nb + i * nb + j];
            }

    clattn_sinkhorn_plan *plan = NULL;
    clattn_status st = clattn_sinkhorn_plan_create(&plan, g_ctx, &d);
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "plan_create: %s", clattn_last_error(g_ctx));
        fail();
    }
    if (!tu_check_path(clattn_sinkhorn_plan_path(plan), false, &w)) fail();
    const double tol = c->tol > 0 ? c->tol : TU_TOL_F32;
    for (int run = 0; run < 2; run++) { /* twice: a plan is reusable, and the poison is rewritten each time */
        tu_fill_bits(out, no, TU_POISON_BITS);
        tu_fill_bits(perm, np, TU_POISON_BITS);
        tu_fill_bits(wts, nw, TU_POISON_BITS);
        st = c->perm ? clattn_sinkhorn_execute_weights(plan, q, k, v, R, out, perm, wts)
                     : clattn_sinkhorn_execute(plan, q, k, v, R, out, NULL);
        if (st != CLATTN_SUCCESS) {
            tu_report(&w, "execute: %s", clattn_last_error(g_ctx));
            fail();
        }
        bool ok = tu_check_view(&w, "out", out, &d.out, ref, tol) &&
                  tu_check_gaps(&w, "out", out, no, &d.out, TU_POISON_BITS);
        if (c->perm) ok = ok && tu_check_view(&w, "perm", perm, &d.perm, refp, TU_TOL_F32) &&
                          tu_check_gaps(&w, "perm", perm, np, &d.perm, TU_POISON_BITS) &&
                          tu_check_array(&w, "weights", wts, refw, nw, TU_TOL_F32);
        if (c->perm && ok) { /* perm is written in a padded view: the helper takes contiguous P */
            float *pc = tu_xmalloc((size_t)(c->B * c->H * nb * nb) * sizeof(float));
            for (int64_t x = 0; x < c->B; x++)
                for (int64_t h = 0; h < c->H; h++)
                    for (int64_t i = 0; i < nb * nb; i++)
                        pc[(x * c->H + h) * nb * nb + i] = perm[tu_index(&d.perm, x, h, i / nb, i % nb)];
            tu_fill_bits(dense, ndense, TU_POISON_BITS);
            ok = clattn_sinkhorn_weights_expand(c->B, c->H, c->L, c->b, wts, pc, dense) == CLATTN_SUCCESS &&
                 tu_check_array(&w, "dense weights", dense, refd, ndense, TU_TOL_F32);
            free(pc);
        }
        if (!ok) fail();
    }
    if (c->nan_q_row || c->nan_r) { /* the reference's NaN pattern was matched exactly: check it is the claimed one */
        for (int64_t bi = 0; bi < c->B; bi++)
            for (int64_t h = 0; h < c->H; h++)
                for (int64_t row = 0; row < c->L; row++) {
                    const bool want_nan = c->nan_r ? (bi == 0 && h == c->H - 1)
                                                   : (bi == 0 && h == 0 && row == c->nan_q_row - 1);
                    if (isnan(out[tu_index(&d.out, bi, h, row, 0)]) != want_nan) {
                        tu_report(&w, "out[%lld, %lld, %lld, 0] NaN %d, expected %d", (long long)bi, (long long)h,
                                  (long long)row, !want_nan, want_nan);
                        fail();
                    }
                }
    }
    clattn_sinkhorn_plan_destroy(plan);
    free(q);
    free(k);
    free(v);
    free(R);
    free(out);
    free(perm);
    free(ref);
    free(refp);
    free(refw);
    free(refd);
    free(wts);
    free(dense);
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
    static float buf[4096];
    clattn_sinkhorn_desc d;
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 5);
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "block_size: 5, expected a divisor of L = 12");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 0);
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "block_size: 0");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 4);
    d.tau = 0;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "tau: 0");
    d.tau = NAN;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "tau: nan");
    d.tau = INFINITY;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "tau: inf");
    d.tau = -1;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "tau: -1");
    d.tau = 1;
    d.sinkhorn_iters = -1;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "sinkhorn_iters: -1");
    d.sinkhorn_iters = 3;
    d.scale = NAN;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "scale:");
    d.scale = 0;
    d.sort_logits = clattn_tensor_contiguous(2, 3, 4, 3);
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "sort_logits: dim 2 is 4, expected 3");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 4);
    d.v.dims[2] = 11;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "v: dim 2 is 11, expected 12");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 4);
    d.k = tu_tensor(TU_BLHD, 2, 3, 12, 4, 0);
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "k: stride 1 (heads) is 4, expected");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 4);
    d.q.ndim = 3;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "q: ndim is 3, expected 4");
    clattn_sinkhorn_desc_init(&d, 2, 3, 12, 4, 4, 4);
    d.want_perm = 1;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "perm is NULL");
    d.want_perm = 0;
    d.want_weights = 1;
    d.weights.dims[3] = 7;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "weights: dim 3 is 7, expected 8 (2·block_size)");
    d.weights.dims[3] = 8;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "use clattn_sinkhorn_execute_weights");
    d.want_weights = 0;
    if (clattn_sinkhorn_weights_expand(1, 1, 12, 5, buf, buf, buf) != CLATTN_ERROR_INVALID_ARGUMENT ||
        !strstr(clattn_last_error(NULL), "block_size 5")) {
        fprintf(stderr, "weights_expand: expected INVALID_ARGUMENT with 'block_size 5': %s\n", clattn_last_error(NULL));
        fail();
    }
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, buf + 2048), CLATTN_ERROR_INVALID_ARGUMENT,
                 "perm given");
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, NULL, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "k is NULL");
    expect_error(clattn_sinkhorn(g_ctx, NULL, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "desc is NULL");
    d.struct_size = 8;
    expect_error(clattn_sinkhorn(g_ctx, &d, buf, buf, buf, buf, buf, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "struct_size");
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
    int failed = tu_run_group("sinkhorn", tests, nc + 1);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
