/*
 * test_multi: multi-device contexts (a CLATTN_DEVICE list, clattn_context_options.device). The list comes
 * from CLATTN_TEST_MULTI (tests/CMakeLists.txt registers multi.host "host,host", multi.pocl_host
 * "portable,host" and multi.pocl_rusticl_host "portable,rusticl,host").
 *
 * For every row tagged multi or cross-backend in tests/cases and several weight vectors:
 *   - each member alone (a single-device context on its selector) runs the problem;
 *   - the multi context runs it (outputs poisoned first), and must agree with the double-precision
 *     reference (tolerance TU_TOL_F32, gaps of strided outputs untouched: sdpa_data_check), and, split by
 *     batch or heads, every (batch, head) block of out and probs must be BIT-identical to the result of
 *     the member that owns it under the split clattn.h documents (computed here independently from the
 *     weights the context reports). Rows whose problem takes the key split (rows named key_split_*) are
 *     checked against the reference only (merged ranges round differently).
 * Plus: float16 data, measured weights, errors (malformed lists, weights, MHA and enqueue on a multi
 * context, device index), and the failure of one member during a call.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "clattn_opencl.h"
#include "f16_ref.h"

#define MAX_CASES 64
#define MAXM CLATTN_MAX_DEVICES

static const char *g_list;
static int g_n;
static char g_sel[MAXM][64];
static clattn_context *g_single[MAXM];
static const case_row *g_rows[MAX_CASES];

static clattn_context *open_ctx(const char *device, const double *weights, int nw)
{
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    o.device_weights = weights;
    o.num_device_weights = nw;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, &o);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "FAIL: clattn_context_create('%s') returned %s: %s\n", device, clattn_status_string(st),
                clattn_last_error(NULL));
        return NULL;
    }
    return ctx;
}

/* The key split clattn.h documents: too few (batch, kv-head) units, no causal mask, no window, no probs. */
static bool key_split(const clattn_sdpa_desc *d, int n)
{
    const int64_t B = d->q.dims[0], Hkv = d->k.dims[1], Lk = d->k.dims[2];
    const int64_t U = B >= n ? B : Hkv >= n ? Hkv : B >= Hkv ? B : Hkv;
    return U < n && Lk >= n && d->causal == CLATTN_CAUSAL_NONE && d->window_left < 0 && d->window_right < 0 &&
           !d->want_probs;
}

/* The split clattn.h documents, computed independently: owner[u] = the member owning unit u. */
static int expected_split(int64_t B, int64_t Hkv, const double *w, int n, int *owner, int *axis)
{
    int64_t U;
    if (B >= n) *axis = 0, U = B;
    else if (Hkv >= n) *axis = 1, U = Hkv;
    else if (B >= Hkv) *axis = 0, U = B;
    else *axis = 1, U = Hkv;
    int part[MAXM], k = 0;
    if (U < n) {
        int chosen[MAXM] = {0};
        for (int64_t c = 0; c < U; c++) {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (!chosen[i] && (best < 0 || w[i] > w[best])) best = i;
            chosen[best] = 1;
        }
        for (int i = 0; i < n; i++)
            if (chosen[i]) part[k++] = i;
    } else {
        for (int i = 0; i < n; i++) part[k++] = i;
    }
    double total = 0, frac[MAXM];
    int64_t cnt[MAXM], given = 0;
    for (int i = 0; i < k; i++) total += w[part[i]];
    for (int i = 0; i < k; i++) {
        double exact = (double)U * w[part[i]] / total;
        cnt[i] = (int64_t)floor(exact);
        frac[i] = exact - (double)cnt[i];
        given += cnt[i];
    }
    for (; given < U; given++) {
        int best = 0;
        for (int i = 1; i < k; i++)
            if (frac[i] > frac[best]) best = i;
        cnt[best]++;
        frac[best] = -1;
    }
    int64_t u = 0;
    for (int i = 0; i < k; i++)
        for (int64_t j = 0; j < cnt[i]; j++) owner[u++] = part[i];
    return (int)U;
}

/* Bitwise comparison of block (b, h) of view t between two buffers (floats or halfs). */
static bool same_block(const void *a, const void *b, const clattn_tensor *t, int64_t bi, int64_t hi, size_t es)
{
    for (int64_t i = 0; i < t->dims[2]; i++)
        for (int64_t j = 0; j < t->dims[3]; j++) {
            int64_t x = tu_index(t, bi, hi, i, j);
            if (memcmp((const char *)a + (size_t)x * es, (const char *)b + (size_t)x * es, es) != 0) return false;
        }
    return true;
}

/* Every block of the multi result equals its owner's single-device result, bit for bit. */
static bool check_owners(const tu_where *w, const clattn_sdpa_desc *desc, const void *out, void *const *single_out,
                         const float *probs, float *const *single_probs, const double *wts, size_t es)
{
    int owner[4096], axis;
    const int64_t B = desc->q.dims[0], Hq = desc->q.dims[1], Hkv = desc->k.dims[1];
    if (key_split(desc, g_n)) return true; /* merged key ranges: the reference check is the check */
    if ((B > Hkv ? B : Hkv) > 4096) return false;
    expected_split(B, Hkv, wts, g_n, owner, &axis);
    const int64_t G = Hq / Hkv;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            int m = owner[axis == 0 ? b : h / G];
            if (!same_block(out, single_out[m], &desc->out, b, h, es)) {
                tu_report(w, "out block (b %lld, h %lld) differs from member %d ('%s') alone, its owner",
                          (long long)b, (long long)h, m, g_sel[m]);
                return false;
            }
            if (probs && !same_block(probs, single_probs[m], &desc->probs, b, h, sizeof(float))) {
                tu_report(w, "probs block (b %lld, h %lld) differs from member %d ('%s') alone", (long long)b,
                          (long long)h, m, g_sel[m]);
                return false;
            }
        }
    return true;
}

static void weight_sets(double sets[3][MAXM])
{
    for (int i = 0; i < g_n; i++) {
        sets[0][i] = 1.0;                      /* equal */
        sets[1][i] = i == 0 ? 3.0 : 1.0;       /* the first heavier */
        sets[2][i] = i == g_n - 1 ? 4.5 : 0.7; /* the last heavier */
    }
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    const sdpa_case *c = &(*row)->c;
    int idx = (int)(row - g_rows);
    uint64_t seed = tu_case_seed("multi", idx);
    tu_rng r;
    tu_rng_init(&r, seed);
    sdpa_data d;
    sdpa_data_make(&d, c, &r);
    float *own_out = d.out, *own_probs = d.probs;
    void *sout[MAXM] = {0};
    float *sprobs[MAXM] = {0};
    bool ok = true;
    for (int i = 0; i < g_n && ok; i++) { /* each member alone */
        char name[1200];
        snprintf(name, sizeof name, "%s alone on '%s'", c->name, g_sel[i]);
        tu_where w = {"multi", name, seed};
        sout[i] = d.out = tu_alloc_bits(d.no, TU_POISON_BITS);
        sprobs[i] = d.probs = d.probs ? tu_alloc_bits(d.np, TU_POISON_BITS) : NULL;
        ok = sdpa_data_run(g_single[i], &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    }
    double sets[3][MAXM];
    weight_sets(sets);
    for (int s = 0; s < 3 && ok; s++) {
        char name[256];
        snprintf(name, sizeof name, "%s on '%s', weights set %d", c->name, g_list, s);
        tu_where w = {"multi", name, seed};
        clattn_context *ctx = open_ctx(g_list, sets[s], g_n);
        if (!ctx) {
            ok = false;
            break;
        }
        d.out = own_out;
        d.probs = own_probs;
        sdpa_data_poison(&d);
        ok = sdpa_data_run(ctx, &d, s == 2, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w) &&
             check_owners(&w, &d.desc, d.out, sout, d.probs, sprobs, sets[s], sizeof(float));
        clattn_context_destroy(ctx);
    }
    for (int i = 0; i < g_n; i++) {
        free(sout[i]);
        free(sprobs[i]);
    }
    d.out = own_out;
    d.probs = own_probs;
    sdpa_data_free(&d);
    assert_true(ok);
}

/* Weights measured by the context: the split follows what clattn_context_device_weights reports. */
static void test_measured_weights(void **state)
{
    (void)state;
    sdpa_case c = {.name = "measured", .B = 7, .Hq = 4, .Hkv = 2, .Lq = 9, .Lk = 33, .D = 16, .Dv = 16, .probs = 1, .kvl = 1};
    uint64_t seed = tu_case_seed("multi_measured", 0);
    tu_rng r;
    tu_rng_init(&r, seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    tu_where w = {"multi", "measured weights", seed};
    void *sout[MAXM] = {0};
    float *sprobs[MAXM] = {0};
    float *own_out = d.out, *own_probs = d.probs;
    bool ok = true;
    for (int i = 0; i < g_n && ok; i++) {
        sout[i] = d.out = tu_alloc_bits(d.no, TU_POISON_BITS);
        sprobs[i] = d.probs = tu_alloc_bits(d.np, TU_POISON_BITS);
        ok = sdpa_data_run(g_single[i], &d, 0, &w) == CLATTN_SUCCESS;
    }
    d.out = own_out;
    d.probs = own_probs;
    clattn_context *ctx = open_ctx(g_list, NULL, 0);
    assert_non_null(ctx);
    double wts[MAXM];
    assert_int_equal(clattn_context_device_weights(ctx, wts, g_n), CLATTN_SUCCESS);
    for (int i = 0; i < g_n; i++) {
        printf("# measured weight of '%s': %.4g\n", g_sel[i], wts[i]);
        assert_true(wts[i] > 0 && isfinite(wts[i]));
    }
    ok = ok && sdpa_data_run(ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w) &&
         check_owners(&w, &d.desc, d.out, sout, d.probs, sprobs, wts, sizeof(float));
    clattn_context_destroy(ctx);
    for (int i = 0; i < g_n; i++) {
        free(sout[i]);
        free(sprobs[i]);
    }
    sdpa_data_free(&d);
    assert_true(ok);
}

/* float16 q, k, v, out: each block bit-identical to its owner alone; close to the reference. */
static void test_f16(void **state)
{
    (void)state;
    enum { B = 3, HQ = 4, HKV = 2, LQ = 5, LK = 19, D = 24 };
    const size_t nq = (size_t)B * HQ * LQ * D, nk = (size_t)B * HKV * LK * D, no = nq;
    uint16_t *q = tu_xmalloc(nq * 2), *k = tu_xmalloc(nk * 2), *v = tu_xmalloc(nk * 2);
    uint16_t *out = tu_xmalloc(no * 2), *sout[MAXM];
    tu_rng r;
    tu_rng_init(&r, tu_case_seed("multi_f16", 0));
    for (size_t i = 0; i < nq; i++) q[i] = f16r_from_double(tu_rng_uniform(&r, -1, 1));
    for (size_t i = 0; i < nk; i++) k[i] = f16r_from_double(tu_rng_uniform(&r, -1, 1));
    for (size_t i = 0; i < nk; i++) v[i] = f16r_from_double(tu_rng_uniform(&r, -1, 1));
    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, HQ, HKV, LQ, LK, D, D);
    desc.data_type = CLATTN_DTYPE_F16;
    desc.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    for (int i = 0; i < g_n; i++) {
        sout[i] = tu_xmalloc(no * 2);
        for (size_t j = 0; j < no; j++) sout[i][j] = F16R_POISON;
        assert_int_equal(clattn_sdpa(g_single[i], &desc, q, k, v, NULL, NULL, sout[i], NULL), CLATTN_SUCCESS);
    }
    double sets[3][MAXM];
    weight_sets(sets);
    clattn_context *ctx = open_ctx(g_list, sets[1], g_n);
    assert_non_null(ctx);
    for (size_t j = 0; j < no; j++) out[j] = F16R_POISON;
    assert_int_equal(clattn_sdpa(ctx, &desc, q, k, v, NULL, NULL, out, NULL), CLATTN_SUCCESS);
    tu_where w = {"multi", "float16", tu_case_seed("multi_f16", 0)};
    bool ok = check_owners(&w, &desc, out, (void *const *)sout, NULL, NULL, sets[1], 2);
    /* and every member's result (hence the multi one) is within fp16 rounding of member 0's */
    for (size_t j = 0; j < no && ok; j++) {
        double a = f16r_to_double(out[j]), b = f16r_to_double(sout[0][j]);
        if (!(fabs(a - b) <= 2e-3)) {
            tu_report(&w, "out[%zu] = %g, member 0 alone %g", j, a, b);
            ok = false;
        }
    }
    clattn_context_destroy(ctx);
    for (int i = 0; i < g_n; i++) free(sout[i]);
    free(q), free(k), free(v), free(out);
    assert_true(ok);
}

/* Log-sum-exp through a multi context: split by batch (bit-identical to the owner alone) and by keys
 * (within 2e-5 of the double reference), kv_lengths with an empty row (lse -inf). */
static void test_lse(void **state)
{
    (void)state;
    const int64_t shapes[2][3] = {{5, 4, 2}, {1, 2, 1}}; /* B, Hq, Hkv: batch split; key split */
    for (int sh = 0; sh < 2; sh++) {
        const int64_t B = shapes[sh][0], Hq = shapes[sh][1], Hkv = shapes[sh][2], Lq = 6, Lk = 37, D = 16;
        const size_t nq = (size_t)(B * Hq * Lq * D), nk = (size_t)(B * Hkv * Lk * D), nl = (size_t)(B * Hq * Lq);
        float *q = tu_xmalloc(nq * 4), *k = tu_xmalloc(nk * 4), *v = tu_xmalloc(nk * 4), *out = tu_xmalloc(nq * 4);
        float *lse = tu_xmalloc(nl * 4), *lse0 = tu_xmalloc(nl * 4), *out0 = tu_xmalloc(nq * 4);
        tu_rng r;
        tu_rng_init(&r, tu_case_seed("multi_lse", sh));
        for (size_t i = 0; i < nq; i++) q[i] = (float)tu_rng_uniform(&r, -1, 1);
        for (size_t i = 0; i < nk; i++) k[i] = (float)tu_rng_uniform(&r, -1, 1), v[i] = (float)tu_rng_uniform(&r, -1, 1);
        int32_t kvl[8];
        for (int64_t b = 0; b < B; b++) kvl[b] = b == 0 && B > 1 ? 0 : (int32_t)(Lk - 3 * b);
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, B, Hq, Hkv, Lq, Lk, D, D);
        desc.want_lse = 1;
        desc.use_kv_lengths = 1;
        clattn_sdpa_buffers bufs;
        clattn_sdpa_buffers_init(&bufs);
        bufs.q = q, bufs.k = k, bufs.v = v, bufs.kv_lengths = kvl, bufs.out = out0, bufs.lse = lse0;
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_single[0], &desc), CLATTN_SUCCESS);
        assert_int_equal(clattn_sdpa_execute_buffers(plan, &bufs), CLATTN_SUCCESS);
        clattn_sdpa_plan_destroy(plan);
        double w[MAXM];
        for (int i = 0; i < g_n; i++) w[i] = 1.0;
        clattn_context *ctx = open_ctx(g_list, w, g_n);
        assert_non_null(ctx);
        tu_fill_bits(out, (int64_t)nq, TU_POISON_BITS);
        tu_fill_bits(lse, (int64_t)nl, TU_POISON_BITS);
        bufs.out = out, bufs.lse = lse;
        assert_int_equal(clattn_sdpa_plan_create(&plan, ctx, &desc), CLATTN_SUCCESS);
        printf("# lse, B %lld Hkv %lld: path %s\n", (long long)B, (long long)Hkv, clattn_sdpa_plan_path(plan));
        assert_int_equal(clattn_sdpa_execute_buffers(plan, &bufs), CLATTN_SUCCESS);
        clattn_sdpa_plan_destroy(plan);
        clattn_context_destroy(ctx);
        const bool ks = key_split(&desc, g_n);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < Hq; h++)
                for (int64_t i = 0; i < Lq; i++) { /* the double reference of lse */
                    const int64_t row = (b * Hq + h) * Lq + i, kh = h / (Hq / Hkv);
                    double m = -INFINITY, sum = 0;
                    for (int64_t j = 0; j < kvl[b]; j++) {
                        double dot = 0;
                        for (int64_t e = 0; e < D; e++)
                            dot += (double)q[row * D + e] * k[((b * Hkv + kh) * Lk + j) * D + e];
                        dot /= sqrt((double)D);
                        if (dot > m) sum = sum * exp(m - dot) + 1, m = dot;
                        else sum += exp(dot - m);
                    }
                    const double ref = kvl[b] ? m + log(sum) : -INFINITY;
                    const float got = lse[row];
                    if (isinf(ref)) assert_true(isinf(got) && got < 0);
                    else if (!(fabs(got - ref) <= 2e-5 * fmax(1.0, fabs(ref))))
                        fail_msg("lse[%lld] = %.9g, reference %.9g (%s)", (long long)row, (double)got, ref,
                                 ks ? "key split" : "batch split");
                }
        if (!ks) { /* batch split: every row bit-identical to its owner's single result; member 0 computed all */
            int owner[64], axis;
            expected_split(B, Hkv, w, g_n, owner, &axis);
            for (int64_t b = 0; b < B; b++)
                if (owner[b] == 0)
                    assert_memory_equal(lse + b * Hq * Lq, lse0 + b * Hq * Lq, (size_t)(Hq * Lq) * sizeof(float));
        } else { /* key split: out within TU_TOL_F32 of member 0's whole-key result */
            double *ref = tu_xmalloc(nq * sizeof(double));
            for (size_t i = 0; i < nq; i++) ref[i] = out0[i];
            tu_where wh = {"multi", "lse case, key split: out vs member 0 alone", tu_case_seed("multi_lse", sh)};
            bool ok = tu_check_array(&wh, "out", out, ref, (int64_t)nq, TU_TOL_F32);
            free(ref);
            assert_true(ok);
        }
        free(q), free(k), free(v), free(out), free(lse), free(lse0), free(out0);
    }
}

static void expect_error(const char *device, const double *weights, int nw, clattn_status want, const char *text)
{
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    o.device_weights = weights;
    o.num_device_weights = nw;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, &o);
    const char *msg = clattn_last_error(NULL);
    if (st != want || !strstr(msg, text))
        fail_msg("device '%s': status %s, message '%s'; expected %s with '%s'", device, clattn_status_string(st), msg,
                 clattn_status_string(want), text);
    assert_null(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    char list[512];
    snprintf(list, sizeof list, "%s,,host", g_sel[0]);
    expect_error(list, NULL, 0, CLATTN_ERROR_INVALID_ARGUMENT, "element 1 is empty");
    expect_error("host,", NULL, 0, CLATTN_ERROR_INVALID_ARGUMENT, "element 1 is empty");
    expect_error("host,no-such-platform-xyz", NULL, 0, CLATTN_ERROR_DEVICE_NOT_FOUND, "element 1 ('no-such-platform-xyz')");
    expect_error("host,host,host,host,host,host,host,host,host,host,host,host,host,host,host,host,host", NULL, 0,
                 CLATTN_ERROR_INVALID_ARGUMENT, "17 devices, at most 16");
    const double two[2] = {1, 2}, bad[2] = {1, -1}, nan2[2] = {NAN, 1};
    expect_error("host,host,host", two, 2, CLATTN_ERROR_INVALID_ARGUMENT, "num_device_weights: 2, expected 3");
    expect_error("host,host", bad, 2, CLATTN_ERROR_INVALID_ARGUMENT, "device_weights[1]: -1");
    expect_error("host,host", nan2, 2, CLATTN_ERROR_INVALID_ARGUMENT, "device_weights[0]: nan");
    expect_error("host", two, 2, CLATTN_ERROR_INVALID_ARGUMENT, "is not a list");
    setenv("CLATTN_DEVICE_WEIGHTS", "1,x", 1);
    expect_error("host,host", NULL, 0, CLATTN_ERROR_INVALID_ARGUMENT, "CLATTN_DEVICE_WEIGHTS: '1,x'");
    setenv("CLATTN_DEVICE_WEIGHTS", "1,2,3", 1);
    expect_error("host,host", NULL, 0, CLATTN_ERROR_INVALID_ARGUMENT, "not 2 comma-separated numbers");
    setenv("CLATTN_DEVICE_WEIGHTS", "2,0.5", 1); /* valid: used */
    clattn_context *ctx = open_ctx("host,host", NULL, 0);
    unsetenv("CLATTN_DEVICE_WEIGHTS");
    assert_non_null(ctx);
    double wts[2];
    assert_int_equal(clattn_context_device_weights(ctx, wts, 2), CLATTN_SUCCESS);
    assert_true(wts[0] == 2.0 && wts[1] == 0.5);
    assert_int_equal(clattn_context_device_weights(ctx, wts, 1), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_int_equal(clattn_context_device_count(ctx), 2);
    clattn_device_info info;
    clattn_device_info_init(&info);
    assert_int_equal(clattn_context_get_info(ctx, &info), CLATTN_SUCCESS);
    assert_int_equal(info.backend, CLATTN_BACKEND_MULTI);
    assert_int_equal(clattn_context_get_device_info(ctx, 1, &info), CLATTN_SUCCESS);
    assert_int_equal(info.backend, CLATTN_BACKEND_HOST);
    assert_int_equal(clattn_context_get_device_info(ctx, 2, &info), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(ctx), "index is 2, expected 0..1"));
    /* MHA needs one device for its projections */
    float wq[16] = {0};
    clattn_mha_weights mw;
    clattn_mha_weights_init(&mw);
    mw.embed_dim = 4;
    mw.num_heads = 1;
    mw.w_q = mw.w_k = mw.w_v = mw.w_o = wq;
    clattn_mha *m = NULL;
    assert_int_equal(clattn_mha_create(&m, ctx, &mw), CLATTN_ERROR_UNSUPPORTED);
    assert_non_null(strstr(clattn_last_error(ctx), "multi context runs SDPA only"));
    clattn_context_destroy(ctx);
    /* single-device contexts: one device, which is the context's own */
    assert_int_equal(clattn_context_device_count(g_single[0]), 1);
    assert_int_equal(clattn_context_get_device_info(g_single[0], 0, &info), CLATTN_SUCCESS);
    assert_int_equal(clattn_context_device_count(NULL), 0);
}

/* kv_lengths are checked for the whole call before any member runs: nothing is written. */
static void test_kv_lengths_first(void **state)
{
    (void)state;
    enum { B = 4, H = 2, L = 5, D = 8 };
    float q[B * H * L * D], out[B * H * L * D];
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) q[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) out[i] = tu_poison_value();
    int32_t kvl[B] = {5, 5, 5, 6};
    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, H, H, L, L, D, D);
    desc.use_kv_lengths = 1;
    double sets[3][MAXM];
    weight_sets(sets);
    clattn_context *ctx = open_ctx(g_list, sets[0], g_n);
    assert_non_null(ctx);
    assert_int_equal(clattn_sdpa(ctx, &desc, q, q, q, NULL, kvl, out, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(ctx), "kv_lengths: element 3 is 6"));
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) assert_true(isnan(out[i]));
    clattn_context_destroy(ctx);
}

/* ---- a member failing during a call -------------------------------------------------------------
 * clEnqueueNDRangeKernel defined here (the executable exports it, so it interposes on libclattn's call,
 * as tests/reliability/rel_cl_shim.c does for clGetDeviceInfo) fails every launch while g_fail_launch is
 * set; otherwise it forwards to the real one (dlsym RTLD_NEXT). */
static volatile int g_fail_launch;
static long g_failed_launches;

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims,
                                                       const size_t *offset, const size_t *global,
                                                       const size_t *local, cl_uint num_wait,
                                                       const cl_event *wait_list, cl_event *event)
{
    typedef cl_int (*fn_t)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *,
                           cl_uint, const cl_event *, cl_event *);
    if (g_fail_launch) {
        __atomic_add_fetch(&g_failed_launches, 1, __ATOMIC_RELAXED);
        return CL_OUT_OF_RESOURCES;
    }
    static fn_t real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "clEnqueueNDRangeKernel");
        memcpy(&real, &sym, sizeof real);
    }
    return real(queue, kernel, dims, offset, global, local, num_wait, wait_list, event);
}

/* Every OpenCL member's launches fail: the call fails with that member's status and a message naming it,
 * though the host members succeed; afterwards the same context runs correctly again. */
static void test_member_failure(void **state)
{
    (void)state;
    int cl_member = -1;
    for (int i = 0; i < g_n && cl_member < 0; i++) {
        clattn_device_info info;
        clattn_device_info_init(&info);
        clattn_context_get_info(g_single[i], &info);
        if (info.backend == CLATTN_BACKEND_OPENCL) cl_member = i;
    }
    if (cl_member < 0) {
        printf("# '%s' has no OpenCL member: no launch to fail (covered by multi.pocl_host)\n", g_list);
        skip();
    }
    sdpa_case c = {.name = "fail", .B = 6, .Hq = 2, .Hkv = 2, .Lq = 7, .Lk = 9, .D = 8, .Dv = 8};
    uint64_t seed = tu_case_seed("multi_fail", 0);
    tu_rng r;
    tu_rng_init(&r, seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    double w[MAXM];
    for (int i = 0; i < g_n; i++) w[i] = 1.0; /* every member gets a unit (B = 6 >= members) */
    clattn_context *ctx = open_ctx(g_list, w, g_n);
    assert_non_null(ctx);
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, ctx, &d.desc), CLATTN_SUCCESS);
    g_fail_launch = 1;
    clattn_status st = clattn_sdpa_execute(plan, d.q, d.k, d.v, NULL, NULL, d.out, NULL);
    g_fail_launch = 0;
    const char *msg = clattn_last_error(ctx);
    char want[96];
    snprintf(want, sizeof want, "device %d ('%s')", cl_member, g_sel[cl_member]);
    printf("# with failing launches: %s: %s (%ld launches failed)\n", clattn_status_string(st), msg,
           g_failed_launches);
    assert_int_not_equal(st, CLATTN_SUCCESS);
    assert_true(g_failed_launches > 0);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "CL_OUT_OF_RESOURCES"));
    sdpa_data_poison(&d);
    tu_where wh = {"multi", "after a failed call", seed};
    assert_int_equal(clattn_sdpa_execute(plan, d.q, d.k, d.v, NULL, NULL, d.out, NULL), CLATTN_SUCCESS);
    assert_true(sdpa_data_check(&d, &wh));
    clattn_sdpa_plan_destroy(plan);
    clattn_context_destroy(ctx);
    sdpa_data_free(&d);
}

int main(void)
{
    setenv("RUSTICL_ENABLE", "llvmpipe", 1); /* read when the ICD loader starts: before any CL call */
    g_list = getenv("CLATTN_TEST_MULTI");
    if (!g_list || !*g_list) g_list = "host,host";
    for (const char *p = g_list; *p && g_n < MAXM; g_n++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(g_sel[g_n], sizeof g_sel[g_n], "%.*s", (int)len, p);
        p = e ? e + 1 : p + len;
    }
    for (int i = 0; i < g_n; i++) {
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.device = g_sel[i];
        clattn_status st = clattn_context_create(&g_single[i], &o);
        if (st == CLATTN_ERROR_DEVICE_NOT_FOUND) {
            printf("SKIP: member '%s' of '%s' matches no device here: %s\n", g_sel[i], g_list, clattn_last_error(NULL));
            return TU_SKIP;
        }
        if (st != CLATTN_SUCCESS) {
            fprintf(stderr, "FAIL: clattn_context_create('%s'): %s\n", g_sel[i], clattn_last_error(NULL));
            return 1;
        }
        clattn_device_info info;
        clattn_device_info_init(&info);
        clattn_context_get_info(g_single[i], &info);
        printf("# member %d '%s': platform '%s', device '%s'\n", i, g_sel[i], info.platform_name, info.device_name);
    }
    size_t n_cases = case_rows_tagged(CASE_MULTI, g_rows, MAX_CASES);
    n_cases += case_rows_tagged(CASE_CROSS, g_rows + n_cases, MAX_CASES - n_cases);
    struct CMUnitTest tests[MAX_CASES + 6];
    size_t nt = 0;
    for (size_t i = 0; i < n_cases && i < MAX_CASES; i++)
        tests[nt++] = (struct CMUnitTest){g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
    tests[nt++] = (struct CMUnitTest){"measured_weights", test_measured_weights, NULL, NULL, NULL};
    tests[nt++] = (struct CMUnitTest){"float16", test_f16, NULL, NULL, NULL};
    tests[nt++] = (struct CMUnitTest){"lse", test_lse, NULL, NULL, NULL};
    tests[nt++] = (struct CMUnitTest){"errors", test_errors, NULL, NULL, NULL};
    tests[nt++] = (struct CMUnitTest){"kv_lengths_checked_first", test_kv_lengths_first, NULL, NULL, NULL};
    tests[nt++] = (struct CMUnitTest){"member_fails_mid_call", test_member_failure, NULL, NULL, NULL};
    int rc = tu_run_group("multi", tests, nt);
    for (int i = 0; i < g_n; i++) clattn_context_destroy(g_single[i]);
    return rc;
}
