/*
 * test_mask16: additive masks stored as IEEE binary16 and as bfloat16 (clattn_sdpa_desc.mask_data_type) on the
 * backend chosen by CLATTN_DEVICE (exit 77 when absent), every kernel path (the .host_* / .pocl_chain / GPU
 * profile variants assert the path by name).
 *
 * Each row tagged mask16 in tests/cases/cases.c runs once per 16-bit type: its random float32 mask (values in
 * [-2, 2), -inf where not allowed, some fp16-subnormal and some -60000 entries) is rounded to the 16-bit type
 * (tests/support/f16_ref.h, independent of the library) and widened back, then
 *   1. the plan with the widened float32 mask runs and is checked against the double-precision reference
 *      (sdpa_data_check: tolerance TU_TOL_F32 = 1e-5 * max(1, max |ref|), untouched gaps, exact zeros of rows
 *      with no allowed key and of disallowed probabilities);
 *   2. the same plan with the 16-bit mask (gaps of the 16-bit buffer hold NaN) runs on poisoned outputs and
 *      is checked against the same reference, and its out, probs and lse must equal step 1's bit for bit.
 * Also: a bfloat16 q/k/v/out plan with a binary16 mask against the same plan with the widened float32 mask
 * (bit for bit; the types are independent), descriptor errors (an invalid mask_data_type, a 16-bit type with a
 * BOOL mask, the default and an older caller's layout), and on OpenCL the cl_mem size check (2 bytes per
 * element: one byte fewer is INVALID_ARGUMENT) with an enqueued 16-bit mask equal bit for bit to the float32
 * mask's result; a paged KV cache with a 16-bit mask (bit for bit, and the contiguous equivalent's reference).
 */
#include <math.h>
#include <stddef.h>
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

static uint16_t to16(clattn_dtype t, float x)
{
    return t == CLATTN_DTYPE_F16 ? f16r_from_double((double)x) : bf16r_from_double((double)x);
}
static float from16(clattn_dtype t, uint16_t h)
{
    return (float)(t == CLATTN_DTYPE_F16 ? f16r_to_double(h) : bf16r_to_double(h));
}

/* A 16-bit copy of d's additive mask view (gaps NaN), with d->mask rewritten to the widened values. A few
 * allowed entries become fp16-subnormal (3e-6) or large negative finite (-60000) values. */
static uint16_t *make_mask16(sdpa_data *d, clattn_dtype t)
{
    const clattn_tensor *m = &d->desc.mask;
    uint16_t *h = f16r_alloc(d->nm, t == CLATTN_DTYPE_F16 ? 0x7e00 : 0x7fc0);
    float *f = d->mask;
    int64_t n = 0;
    for (int64_t a = 0; a < m->dims[0]; a++)
        for (int64_t b = 0; b < m->dims[1]; b++)
            for (int64_t i = 0; i < m->dims[2]; i++)
                for (int64_t j = 0; j < m->dims[3]; j++, n++) {
                    const int64_t e = tu_index(m, a, b, i, j);
                    float x = f[e];
                    if (x != -INFINITY && n % 13 == 5) x = 3e-6f;
                    if (x != -INFINITY && n % 17 == 7) x = -60000.0f;
                    h[e] = to16(t, x);
                    f[e] = from16(t, h[e]);
                }
    return h;
}

static bool same_bits(const tu_where *w, const char *what, const float *a, const float *b, int64_t n)
{
    if (n == 0 || memcmp(a, b, (size_t)n * sizeof(float)) == 0) return true;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) {
            tu_report(w, "%s: element %lld is %.9g with the 16-bit mask, %.9g with the widened float32 mask", what,
                      (long long)i, (double)a[i], (double)b[i]);
            break;
        }
    return false;
}

static float *dup(const float *p, int64_t n)
{
    if (!p) return NULL;
    float *c = tu_xmalloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(c, p, (size_t)n * sizeof(float));
    return c;
}

static bool run_row(const sdpa_case *c, int idx, clattn_dtype t)
{
    char name[96];
    snprintf(name, sizeof name, "%s/%s", c->name, t == CLATTN_DTYPE_F16 ? "f16" : "bf16");
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, c, "mask16", 2 * idx + (t == CLATTN_DTYPE_BF16), name);
    uint16_t *m16 = make_mask16(&d, t);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    float *out32 = dup(d.out, d.no), *probs32 = dup(d.probs, d.np), *lse32 = dup(d.lse, d.nl);
    if (ok) {
        sdpa_data_poison(&d);
        d.desc.mask_data_type = t;
        void *m32 = d.mask;
        d.mask = m16;
        ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS;
        d.mask = m32;
        d.desc.mask_data_type = CLATTN_DTYPE_F32; /* the reference reads the widened float32 mask */
        ok = ok && sdpa_data_check(&d, &w);
        ok = ok && same_bits(&w, "out", d.out, out32, d.no);
        if (d.probs) ok = ok && same_bits(&w, "probs", d.probs, probs32, d.np);
        if (d.lse) ok = ok && same_bits(&w, "lse", d.lse, lse32, d.nl);
    }
    free(out32);
    free(probs32);
    free(lse32);
    free(m16);
    sdpa_data_free(&d);
    return ok;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    const int idx = (int)(row - g_rows);
    const bool f16 = run_row(&(*row)->c, idx, CLATTN_DTYPE_F16);
    const bool bf16 = run_row(&(*row)->c, idx, CLATTN_DTYPE_BF16);
    assert_true(f16 && bf16);
}

/* bfloat16 q, k, v, out with a binary16 mask: the same bits as with the widened float32 mask. */
static void test_bf16_data_f16_mask(void **state)
{
    (void)state;
    sdpa_case c = {"bf16_data_f16_mask", .B = 2, .Hq = 4, .Hkv = 2, .Lq = 7, .Lk = 67, .D = 40, .Dv = 40,
                   .mask_kind = CLATTN_MASK_ADDITIVE, .mq = 1, .mh = 1, .lm = TU_PAD, .off_m = 2,
                   .causal = CLATTN_CAUSAL_BOTTOM_RIGHT};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "mask16", 1000, NULL);
    uint16_t *m16 = make_mask16(&d, CLATTN_DTYPE_F16);
    uint16_t *q = f16r_alloc(d.nq, 0x7fc0), *k = f16r_alloc(d.nk, 0x7fc0), *v = f16r_alloc(d.nv, 0x7fc0);
    uint16_t *o32 = f16r_alloc(d.no, 0x7fc1), *o16 = f16r_alloc(d.no, 0x7fc1);
    for (int64_t i = 0; i < d.nq; i++) q[i] = bf16r_from_double(d.q[i]);
    for (int64_t i = 0; i < d.nk; i++) k[i] = bf16r_from_double(d.k[i]);
    for (int64_t i = 0; i < d.nv; i++) v[i] = bf16r_from_double(d.v[i]);
    d.desc.data_type = CLATTN_DTYPE_BF16;
    clattn_status s1 = clattn_sdpa(g_ctx, &d.desc, q, k, v, d.mask, NULL, o32, NULL);
    if (s1 != CLATTN_SUCCESS) tu_report(&w, "float32 mask: %d %s", (int)s1, clattn_last_error(g_ctx));
    d.desc.mask_data_type = CLATTN_DTYPE_F16;
    clattn_status s2 = clattn_sdpa(g_ctx, &d.desc, q, k, v, m16, NULL, o16, NULL);
    if (s2 != CLATTN_SUCCESS) tu_report(&w, "binary16 mask: %d %s", (int)s2, clattn_last_error(g_ctx));
    bool ok = s1 == CLATTN_SUCCESS && s2 == CLATTN_SUCCESS;
    if (ok && memcmp(o32, o16, (size_t)d.no * 2) != 0) {
        tu_report(&w, "bf16 out differs between the binary16 mask and its widened float32 copy");
        ok = false;
    }
    free(q), free(k), free(v), free(o32), free(o16), free(m16);
    sdpa_data_free(&d);
    assert_true(ok);
}

static void expect_invalid(clattn_sdpa_desc *desc, const char *text)
{
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, desc), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    if (!strstr(clattn_last_error(g_ctx), text)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", clattn_last_error(g_ctx), text);
        fail();
    }
}

static void test_errors(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 2, 2, 3, 5, 8, 8);
    assert_int_equal(d.mask_data_type, CLATTN_DTYPE_F32);
    d.mask_kind = CLATTN_MASK_ADDITIVE;
    d.mask_data_type = (clattn_dtype)7;
    expect_invalid(&d, "mask_data_type: 7 is not a clattn_dtype value");
    d.mask_data_type = (clattn_dtype)-1;
    expect_invalid(&d, "mask_data_type: -1 is not a clattn_dtype value");
    d.mask_kind = CLATTN_MASK_BOOL;
    d.mask_data_type = CLATTN_DTYPE_F16;
    expect_invalid(&d, "mask_data_type: 1 (float16) with a CLATTN_MASK_BOOL mask");
    d.mask_data_type = CLATTN_DTYPE_BF16;
    expect_invalid(&d, "mask_data_type: 2 (bfloat16) with a CLATTN_MASK_BOOL mask");
    /* no mask: a valid type is ignored */
    d.mask_kind = CLATTN_MASK_NONE;
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    clattn_sdpa_plan_destroy(plan);
    /* an older caller's layout (ending before mask_data_type): the field is not read, the mask is float32 */
    d.mask_kind = CLATTN_MASK_ADDITIVE;
    d.mask_data_type = (clattn_dtype)7;
    d.struct_size = offsetof(clattn_sdpa_desc, mask_data_type);
    plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    clattn_sdpa_plan_destroy(plan);
}

/* A paged KV cache (kv_layout PAGED, shuffled block table, lengths 48 and 29) with a [B, 1, Lq, Lk] mask in each
 * 16-bit type: the same bits as with the widened float32 mask, and the reference of the contiguous equivalent. */
static void test_paged(void **state)
{
    (void)state;
    enum { B = 2, Hq = 4, Hkv = 2, Lq = 3, D = 16, BS = 16, MAXB = 3, LK = BS * MAXB, NB = B * MAXB };
    tu_where w = {"mask16", "paged", tu_case_seed("mask16", 1002)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    static float q[B * Hq * Lq * D], kp[NB * BS * Hkv * D], vp[NB * BS * Hkv * D], kc[B * Hkv * LK * D],
        vc[B * Hkv * LK * D], m32[B * Lq * LK], out[B * Hq * Lq * D], out32[B * Hq * Lq * D];
    static uint16_t m16[B * Lq * LK];
    int32_t table[B * MAXB], lens[B] = {LK, 29};
    for (int i = 0; i < B * MAXB; i++) table[i] = NB - 1 - i; /* reversed: block order differs from key order */
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) q[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (size_t i = 0; i < sizeof kp / sizeof kp[0]; i++) kp[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (size_t i = 0; i < sizeof vp / sizeof vp[0]; i++) vp[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < Hkv; h++)
            for (int j = 0; j < LK; j++)
                for (int d = 0; d < D; d++) {
                    const size_t src = (((size_t)table[b * MAXB + j / BS] * BS + (size_t)(j % BS)) * Hkv + h) * D + d;
                    kc[(((size_t)b * Hkv + h) * LK + j) * D + d] = kp[src];
                    vc[(((size_t)b * Hkv + h) * LK + j) * D + d] = vp[src];
                }
    clattn_sdpa_desc pd, cd;
    clattn_sdpa_desc_init(&pd, B, Hq, Hkv, Lq, LK, D, D);
    pd.kv_layout = CLATTN_KV_PAGED;
    pd.kv_block_size = BS;
    pd.max_blocks_per_seq = MAXB;
    pd.k = clattn_tensor_contiguous(NB, BS, Hkv, D);
    pd.v = clattn_tensor_contiguous(NB, BS, Hkv, D);
    pd.use_kv_lengths = 1;
    pd.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    pd.mask_kind = CLATTN_MASK_ADDITIVE;
    pd.mask = clattn_tensor_contiguous(B, 1, Lq, LK);
    clattn_sdpa_desc_init(&cd, B, Hq, Hkv, Lq, LK, D, D);
    cd.use_kv_lengths = 1;
    cd.causal = pd.causal;
    cd.mask_kind = pd.mask_kind;
    cd.mask = pd.mask;
    bool ok = true;
    for (int t = CLATTN_DTYPE_F16; t <= CLATTN_DTYPE_BF16 && ok; t++) {
        for (size_t i = 0; i < sizeof m32 / sizeof m32[0]; i++) {
            const float x = tu_rng_uniform(&r, 0, 1) < 0.25 ? -INFINITY : (float)tu_rng_uniform(&r, -2, 2);
            m16[i] = to16((clattn_dtype)t, x);
            m32[i] = from16((clattn_dtype)t, m16[i]);
        }
        clattn_sdpa_buffers bufs;
        clattn_sdpa_buffers_init(&bufs);
        bufs.q = q, bufs.k = kp, bufs.v = vp, bufs.kv_lengths = lens, bufs.block_table = table;
        for (int pass = 0; pass < 2 && ok; pass++) {
            pd.mask_data_type = pass ? (clattn_dtype)t : CLATTN_DTYPE_F32;
            bufs.mask = pass ? (const void *)m16 : (const void *)m32;
            bufs.out = pass ? out : out32;
            tu_fill_bits(bufs.out, B * Hq * Lq * D, TU_POISON_BITS);
            clattn_sdpa_plan *plan = NULL;
            clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &pd);
            if (st == CLATTN_ERROR_UNSUPPORTED && !pass) { /* a backend without paged plans */
                fprintf(stderr, "paged: %s (skipped)\n", clattn_last_error(g_ctx));
                skip();
            }
            if (st == CLATTN_SUCCESS && !tu_check_plan_path(plan, &pd, &w)) st = CLATTN_ERROR_UNSUPPORTED;
            if (st == CLATTN_SUCCESS) st = clattn_sdpa_execute_buffers(plan, &bufs);
            if (st != CLATTN_SUCCESS) tu_report(&w, "%s mask: %d %s", pass ? "16-bit" : "float32", (int)st,
                                                clattn_last_error(g_ctx));
            ok = st == CLATTN_SUCCESS;
            clattn_sdpa_plan_destroy(plan);
        }
        if (ok) {
            double ref[B * Hq * Lq * D];
            ref_sdpa(&cd, q, kc, vc, m32, lens, ref, NULL);
            ok = tu_check_array(&w, "out (float32 mask)", out32, ref, B * Hq * Lq * D, TU_TOL_F32) &&
                 same_bits(&w, "out (paged)", out, out32, B * Hq * Lq * D);
        }
    }
    assert_true(ok);
}

/* cl_mem masks: 2 bytes per element (one fewer is INVALID_ARGUMENT, naming the mask), and the enqueued
 * 16-bit mask gives the float32 mask's bits. */
static void test_enqueue(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    cl_context cc = NULL;
    cl_device_id dev = NULL;
    cl_command_queue queue = NULL;
    if (clattn_context_get_cl(g_ctx, &cc, &dev, &queue) != CLATTN_SUCCESS || !cc) skip(); /* e.g. a device list */
    sdpa_case c = {"enqueue", .B = 2, .Hq = 2, .Hkv = 2, .Lq = 5, .Lk = 33, .D = 16, .Dv = 16,
                   .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mq = 1, .lm = TU_PAD, .off_m = 3};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "mask16", 1001, NULL);
    uint16_t *m16 = make_mask16(&d, CLATTN_DTYPE_BF16);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    float *out32 = dup(d.out, d.no);
    d.desc.mask_data_type = CLATTN_DTYPE_BF16;
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d.desc), CLATTN_SUCCESS);
    sdpa_data_poison(&d);
    cl_mem q = tu_cl_mem(cc, (size_t)d.nq * 4, d.q), k = tu_cl_mem(cc, (size_t)d.nk * 4, d.k);
    cl_mem v = tu_cl_mem(cc, (size_t)d.nv * 4, d.v), out = tu_cl_mem(cc, (size_t)d.no * 4, d.out);
    cl_mem mask = tu_cl_mem(cc, (size_t)d.nm * 2, m16), small = tu_cl_mem(cc, (size_t)d.nm * 2 - 1, m16);
    assert_int_equal(clattn_sdpa_enqueue(plan, q, k, v, small, NULL, out, NULL, 0, NULL, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(g_ctx), "mask: cl_mem holds"));
    clattn_status st = clattn_sdpa_enqueue(plan, q, k, v, mask, NULL, out, NULL, 0, NULL, NULL);
    if (st != CLATTN_SUCCESS) tu_report(&w, "enqueue: %d %s", (int)st, clattn_last_error(g_ctx));
    ok = ok && st == CLATTN_SUCCESS &&
         clEnqueueReadBuffer(queue, out, CL_TRUE, 0, (size_t)d.no * 4, d.out, 0, NULL, NULL) == CL_SUCCESS;
    ok = ok && same_bits(&w, "out (enqueued)", d.out, out32, d.no);
    cl_mem all[] = {q, k, v, out, mask, small};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
    clattn_sdpa_plan_destroy(plan);
    free(out32);
    free(m16);
    sdpa_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const size_t n_cases = case_rows_tagged(CASE_MASK16, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 4];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_bf16_data_f16_mask), cmocka_unit_test(test_errors),
                                 cmocka_unit_test(test_enqueue), cmocka_unit_test(test_paged)};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) tests[n++] = extra[i];
    n = tu_tests_only(tests, n); /* CLATTN_TEST_ONLY=name1,name2: run only those (the small cases under Oclgrind) */
    int failed = tu_run_group("mask16", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
