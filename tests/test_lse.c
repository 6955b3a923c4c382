/*
 * test_lse: the log-sum-exp output (clattn_sdpa_desc.want_lse, lse [B, Hq, Lq]) on the backend chosen by
 * CLATTN_DEVICE (exit 77 when absent), on every kernel path its registrations name (lse.host_<isa>,
 * .host_chain, .pocl_chain, ...). Against the double-precision reference (tests/support/reference.c,
 * ref_sdpa_lse: log of the sum of exp over the allowed scores), with tolerance TU_TOL_F32; -inf exactly
 * for a row with no allowed key and NaN exactly where out is NaN (tu_check_view matches non-finite values
 * exactly); lse gap elements untouched.
 *   - the rows tagged lse in tests/cases/cases.c (masks, GQA, kv_lengths, windows, causal, softcap, decode,
 *     long key ranges, D > 256, probabilities with lse, strided lse views);
 *   - a NaN query row: NaN lse in that row only;
 *   - fp16 storage (CLATTN_DTYPE_F16): lse stays float32, from the float32 compute;
 *   - plan reuse with fresh inputs; clattn_sdpa_enqueue_buffers with cl_mem and events (OpenCL);
 *   - errors: clattn_sdpa_execute/enqueue on a want_lse plan, bad lse views, bad clattn_sdpa_buffers.
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

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

#define MAX_CASES 64
static const case_row *g_rows[MAX_CASES];

/* rusticl runs about 10x slower than PoCL: fewer keys for its long rows (CLATTN_TEST_FULL: as listed). */
static sdpa_case shrink_case(const sdpa_case *c)
{
    sdpa_case s = *c;
    if (g_backend != TU_RUSTICL || getenv("CLATTN_TEST_FULL")) return s;
    while (sdpa_case_cost(&s) > 4.0e6 && s.Lk > 600) s.Lk /= 2;
    return s;
}

static bool run_case(const sdpa_case *c, const char *area, int idx, void (*edit)(sdpa_data *))
{
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, c, area, idx, NULL);
    if (edit) edit(&d);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    return ok;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    const sdpa_case c = shrink_case(&(*row)->c);
    assert_true(run_case(&c, "lse", (int)(row - g_rows), NULL));
}

/* A NaN in query row (0, 1, 3): out and lse NaN in that row, every other row as the reference says. */
static void nan_query_row(sdpa_data *d)
{
    d->q[tu_index(&d->desc.q, 0, 1, 3, 2)] = NAN;
}

static void test_nan_row(void **state)
{
    (void)state;
    const sdpa_case c = {"nan_query_row", SZ(1, 2, 2, 7, 300, 16, 16), .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
                         .lse = 1};
    assert_true(run_case(&c, "lse", 1000, nan_query_row));
    const sdpa_case dec = {"nan_query_row_decode", SZ(1, 4, 1, 4, 1100, 16, 16), .lse = 1}; /* decode paths */
    assert_true(run_case(&dec, "lse", 1001, nan_query_row));
}

/* One plan, three executions with fresh inputs and kv_lengths (lse rewritten each time). */
static void test_plan_reuse(void **state)
{
    (void)state;
    const sdpa_case c = {"plan_reuse", SZ(3, 4, 2, 5, 129, 32, 32), .kvl = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT,
                         .mask_kind = CLATTN_MASK_ADDITIVE, .mq = 1, .lse = 1, .ll = TU_PAD, .off_l = 1};
    tu_where w = {"lse", c.name, tu_case_seed("lse", 1002)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d.desc), CLATTN_SUCCESS);
    assert_true(tu_check_plan_path(plan, &d.desc, &w));
    bool ok = true;
    for (int it = 0; it < 3 && ok; it++) {
        if (it) sdpa_data_refill(&d, &c, &r);
        clattn_sdpa_buffers b;
        clattn_sdpa_buffers_init(&b);
        b.q = d.q, b.k = d.k, b.v = d.v, b.mask = d.mask, b.kv_lengths = d.kvl, b.out = d.out, b.lse = d.lse;
        clattn_status st = clattn_sdpa_execute_buffers(plan, &b);
        if (st != CLATTN_SUCCESS) tu_report(&w, "execute_buffers: %d %s", (int)st, clattn_last_error(g_ctx));
        ok = st == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    }
    clattn_sdpa_plan_destroy(plan);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* fp16 q, k, v, out with a float32 lse: the float copies in d hold the fp16 values exactly, so the float32
 * reference of d is the reference of the fp16 problem; out is checked against fp16(ref) within one fp16 ulp. */
static void test_f16(void **state)
{
    (void)state;
    const sdpa_case cs[] = {
        {"f16_gqa_kvl_bool", SZ(2, 4, 2, 7, 67, 40, 24), .kvl = 1, .mask_kind = CLATTN_MASK_BOOL, .mq = 1, .lse = 1,
         .ll = TU_PAD},
        {"f16_decode_br", SZ(2, 8, 2, 1, 700, 64, 64), .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .lse = 1},
    };
    bool ok = true;
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        const sdpa_case *c = &cs[ci];
        sdpa_data d;
        tu_where w = sdpa_data_make_seeded(&d, c, "lse", 1003 + (int)ci, NULL);
        d.desc.data_type = CLATTN_DTYPE_F16;
        uint16_t *q16 = f16r_alloc(d.nq, 0x7e0bu), *k16 = f16r_alloc(d.nk, 0x7e0bu), *v16 = f16r_alloc(d.nv, 0x7e0bu);
        uint16_t *o16 = f16r_alloc(d.no, F16R_POISON);
        const struct {
            float *f;
            uint16_t *h;
            const clattn_tensor *t;
        } in[] = {{d.q, q16, &d.desc.q}, {d.k, k16, &d.desc.k}, {d.v, v16, &d.desc.v}};
        for (size_t n = 0; n < 3; n++) {
            const clattn_tensor *t = in[n].t;
            for (int64_t a = 0; a < t->dims[0]; a++)
                for (int64_t b = 0; b < t->dims[1]; b++)
                    for (int64_t i = 0; i < t->dims[2]; i++)
                        for (int64_t e = 0; e < t->dims[3]; e++) {
                            const int64_t x = tu_index(t, a, b, i, e);
                            in[n].h[x] = f16r_from_double((double)in[n].f[x]);
                            in[n].f[x] = (float)f16r_to_double(in[n].h[x]);
                        }
        }
        clattn_sdpa_plan *plan = NULL;
        clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d.desc);
        if (st == CLATTN_SUCCESS) {
            clattn_sdpa_buffers b;
            clattn_sdpa_buffers_init(&b);
            b.q = q16, b.k = k16, b.v = v16, b.mask = d.mask, b.kv_lengths = d.kvl, b.out = o16, b.lse = d.lse;
            st = clattn_sdpa_execute_buffers(plan, &b);
        }
        if (st != CLATTN_SUCCESS) tu_report(&w, "fp16 plan: %d %s", (int)st, clattn_last_error(g_ctx));
        bool cok = st == CLATTN_SUCCESS;
        if (cok) {
            /* out as floats (the fp16 values), then sdpa_data_check's out, lse and gap checks with a tolerance of
             * a few fp16 ulps of the largest output */
            for (int64_t i = 0; i < d.no; i++)
                d.out[i] = o16[i] == F16R_POISON ? tu_poison_value() : (float)f16r_to_double(o16[i]);
            d.tol = 2e-3;
            cok = sdpa_data_check(&d, &w);
        }
        clattn_sdpa_plan_destroy(plan);
        free(q16);
        free(k16);
        free(v16);
        free(o16);
        sdpa_data_free(&d);
        ok &= cok;
    }
    assert_true(ok);
}

static clattn_status expect_err(clattn_status got, clattn_status want, const char *needle)
{
    if (got != want || (needle && !strstr(clattn_last_error(g_ctx), needle)))
        fail_msg("got status %d (want %d), message '%s' (want '%s')", (int)got, (int)want, clattn_last_error(g_ctx),
                 needle ? needle : "");
    return got;
}

static void test_errors(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 2, 4, 2, 3, 5, 8, 8);
    clattn_sdpa_plan *plan = NULL;
    /* lse views */
    d.want_lse = 1;
    d.lse = clattn_tensor_contiguous(2, 4, 3, 1);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "lse: ndim is 4, expected 3");
    assert_null(plan);
    const int64_t bad[3] = {2, 3, 3};
    d.lse = clattn_tensor_contiguous_nd(3, bad);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "lse: dim 1 is 3, expected 4 (num_heads)");
    const int64_t dims[3] = {2, 4, 3}, overlap[3] = {12, 3, 0};
    d.lse = clattn_tensor_view(3, dims, overlap, 0);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "lse");
    /* want_lse 0 ignores the lse view */
    d.want_lse = 0;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    float q[2 * 4 * 3 * 8] = {0}, k[2 * 2 * 5 * 8] = {0}, v[2 * 2 * 5 * 8] = {0}, out[2 * 4 * 3 * 8], lse[2 * 4 * 3];
    clattn_sdpa_buffers b;
    clattn_sdpa_buffers_init(&b);
    b.q = q, b.k = k, b.v = v, b.out = out, b.lse = lse;
    expect_err(clattn_sdpa_execute_buffers(plan, &b), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_sdpa_execute_buffers: lse is given but desc.want_lse is 0");
    clattn_sdpa_plan_destroy(plan);
    plan = NULL;
    /* a want_lse plan refuses the calls without an lse argument */
    d.want_lse = 1;
    d.lse = clattn_tensor_contiguous_nd(3, dims);
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    expect_err(clattn_sdpa_execute(plan, q, k, v, NULL, NULL, out, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_sdpa_execute: lse is NULL but desc.want_lse is 1");
    expect_err(clattn_sdpa(g_ctx, &d, q, k, v, NULL, NULL, out, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
               "lse is NULL but desc.want_lse is 1");
    /* clattn_sdpa_buffers' struct_size */
    expect_err(clattn_sdpa_execute_buffers(plan, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "bufs is NULL");
    clattn_sdpa_buffers z;
    memset(&z, 0, sizeof z);
    expect_err(clattn_sdpa_execute_buffers(plan, &z), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_sdpa_buffers: struct_size is 0");
    struct {
        clattn_sdpa_buffers b;
        void *future;
    } big;
    memset(&big, 0, sizeof big);
    clattn_sdpa_buffers_init_sized(&big.b, sizeof big);
    assert_int_equal(big.b.struct_size, sizeof big);
    big.b.q = q, big.b.k = k, big.b.v = v, big.b.out = out, big.b.lse = lse;
    assert_int_equal(clattn_sdpa_execute_buffers(plan, &big.b), CLATTN_SUCCESS); /* zero tail: accepted */
    for (int i = 0; i < 2 * 4 * 3; i++) /* all-zero inputs, 5 keys: log(5) */
        if (fabsf(lse[i] - logf(5.0f)) > 1e-5f) fail_msg("lse[%d] = %g, expected log 5", i, (double)lse[i]);
    big.future = &big;
    expect_err(clattn_sdpa_execute_buffers(plan, &big.b), CLATTN_ERROR_UNSUPPORTED, "is nonzero");
    if (g_backend != TU_HOST) {
        cl_context cc = NULL;
        assert_int_equal(clattn_context_get_cl(g_ctx, &cc, NULL, NULL), CLATTN_SUCCESS);
        cl_int err = CL_SUCCESS;
        cl_mem m = clCreateBuffer(cc, CL_MEM_READ_WRITE, 4096, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        expect_err(clattn_sdpa_enqueue(plan, m, m, m, NULL, NULL, m, NULL, 0, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                   "clattn_sdpa_enqueue: lse is NULL but desc.want_lse is 1");
        clattn_sdpa_cl_buffers cb;
        clattn_sdpa_cl_buffers_init(&cb);
        cb.q = cb.k = cb.v = cb.out = m;
        expect_err(clattn_sdpa_enqueue_buffers(plan, &cb, 0, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                   "lse is NULL but desc.want_lse is 1");
        cl_mem small = clCreateBuffer(cc, CL_MEM_READ_WRITE, 4 * 23, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        cb.lse = small;
        expect_err(clattn_sdpa_enqueue_buffers(plan, &cb, 0, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                   "lse: cl_mem holds 92 bytes, the view needs 96");
        clReleaseMemObject(small);
        clReleaseMemObject(m);
    } else {
        clattn_sdpa_cl_buffers cb;
        clattn_sdpa_cl_buffers_init(&cb);
        expect_err(clattn_sdpa_enqueue_buffers(plan, &cb, 0, NULL, NULL), CLATTN_ERROR_UNSUPPORTED, "host path");
    }
    clattn_sdpa_plan_destroy(plan);
}

/* OpenCL: clattn_sdpa_enqueue_buffers with cl_mem buffers, after a user event. */
static void test_enqueue_buffers(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    cl_context cc = NULL;
    cl_command_queue queue = NULL;
    assert_int_equal(clattn_context_get_cl(g_ctx, &cc, NULL, &queue), CLATTN_SUCCESS);
    const sdpa_case cs[] = {
        {"enqueue_decode", SZ(2, 8, 2, 1, 1500, 32, 32), .kvl = 1, .lse = 1, .ll = TU_PAD, .off_l = 4},
        {"enqueue_probs", SZ(2, 2, 2, 7, 67, 16, 16), .mask_kind = CLATTN_MASK_BOOL, .mq = 1, .probs = 1, .lse = 1,
         .ll = TU_BLHD},
    };
    bool ok = true;
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        const sdpa_case *c = &cs[ci];
        sdpa_data d;
        tu_where w = sdpa_data_make_seeded(&d, c, "lse", 1010 + (int)ci, NULL);
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d.desc), CLATTN_SUCCESS);
        clattn_sdpa_cl_buffers b;
        clattn_sdpa_cl_buffers_init(&b);
        b.q = tu_cl_mem(cc, (size_t)d.nq * 4, d.q);
        b.k = tu_cl_mem(cc, (size_t)d.nk * 4, d.k);
        b.v = tu_cl_mem(cc, (size_t)d.nv * 4, d.v);
        b.out = tu_cl_mem(cc, (size_t)d.no * 4, d.out);
        b.lse = tu_cl_mem(cc, (size_t)d.nl * 4, d.lse);
        if (d.mask) b.mask = tu_cl_mem(cc, (size_t)d.nm, d.mask);
        if (d.kvl) b.kv_lengths = tu_cl_mem(cc, (size_t)c->B * 4, d.kvl);
        if (d.probs) b.probs = tu_cl_mem(cc, (size_t)d.np * 4, d.probs);
        cl_int err = CL_SUCCESS;
        cl_event gate = clCreateUserEvent(cc, &err), done = NULL;
        assert_int_equal(err, CL_SUCCESS);
        clattn_status st = clattn_sdpa_enqueue_buffers(plan, &b, 1, &gate, &done);
        if (st != CLATTN_SUCCESS) tu_report(&w, "enqueue_buffers: %d %s", (int)st, clattn_last_error(g_ctx));
        assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
        bool cok = st == CLATTN_SUCCESS && done != NULL && clWaitForEvents(1, &done) == CL_SUCCESS;
        cok = cok && clEnqueueReadBuffer(queue, b.out, CL_TRUE, 0, (size_t)d.no * 4, d.out, 0, NULL, NULL) == CL_SUCCESS;
        cok = cok && clEnqueueReadBuffer(queue, b.lse, CL_TRUE, 0, (size_t)d.nl * 4, d.lse, 0, NULL, NULL) == CL_SUCCESS;
        if (d.probs)
            cok = cok &&
                  clEnqueueReadBuffer(queue, b.probs, CL_TRUE, 0, (size_t)d.np * 4, d.probs, 0, NULL, NULL) == CL_SUCCESS;
        cok = cok && sdpa_data_check(&d, &w);
        if (done) clReleaseEvent(done);
        clReleaseEvent(gate);
        cl_mem all[] = {b.q, b.k, b.v, b.out, b.lse, b.mask, b.kv_lengths, b.probs};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i]) clReleaseMemObject(all[i]);
        clattn_sdpa_plan_destroy(plan);
        sdpa_data_free(&d);
        ok &= cok;
    }
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const size_t n_cases = case_rows_tagged(CASE_LSE, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 8];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_nan_row), cmocka_unit_test(test_plan_reuse),
                                 cmocka_unit_test(test_f16), cmocka_unit_test(test_errors),
                                 cmocka_unit_test(test_enqueue_buffers)};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) tests[n++] = extra[i];
    int failed = tu_run_group("lse", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
