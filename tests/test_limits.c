/*
 * test_limits: resource limits and size arithmetic, on the backend chosen by CLATTN_DEVICE (exit 77 when
 * absent). Nothing here may crash; every failure must be a status with a message naming the argument.
 *   - every SDPA tensor (q, k, v, out, mask, probs) with a dim of INT64_MAX, INT32_MAX + 1, 0 or -1, a
 *     stride near INT64_MAX, an offset of INT64_MAX: CLATTN_ERROR_INVALID_ARGUMENT naming the tensor;
 *   - views whose byte size is about 2^62 (no int64 overflow, far beyond any memory): plan creation gives
 *     SUCCESS or CLATTN_ERROR_OUT_OF_MEMORY (with a message); on OpenCL, executing them gives
 *     CLATTN_ERROR_OUT_OF_MEMORY before any host buffer is read (the buffers passed are tiny: reading them
 *     would crash); absurd probabilities ([1, 1, 2^31 - 1, 2^31 - 1]: 2^64 bytes) are INVALID;
 *   - multi-head attention: embed_dim / num_heads / kdim / vdim near INT64_MAX, 0, -1, non-divisors:
 *     INVALID naming the field; embed_dim 2^30 (weights of 2^62 bytes): OUT_OF_MEMORY; a forward pass whose
 *     intermediates need 2^45 bytes: OUT_OF_MEMORY; batch * q_len overflowing int64: INVALID.
 * After every failure the same context still computes a small problem correctly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdpa_case.h"

static clattn_context *g_ctx;
static tu_backend g_backend;
static float g_tiny[64]; /* stands in for buffers that must never be read */

/* A small problem on the same context must still work (no state left behind by a failure). */
static void check_still_works(void)
{
    sdpa_case c = {"after", .B = 1, .Hq = 2, .Hkv = 1, .Lq = 5, .Lk = 9, .D = 8, .Dv = 8, .probs = 1};
    tu_where w = {"limits", c.name, tu_case_seed("limits", 0)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* plan_create must fail with `want` and a message containing `needle`. */
static void expect_plan_error(const char *what, const clattn_sdpa_desc *desc, clattn_status want, const char *needle)
{
    clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)1;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, desc);
    const char *msg = clattn_last_error(g_ctx);
    if (st != want || plan != NULL || !strstr(msg, needle))
        fail_msg("%s: status %d (%s), plan %p, message '%s'; expected %d (%s), NULL and a message with '%s'", what,
                 (int)st, clattn_status_string(st), (void *)plan, msg, (int)want, clattn_status_string(want), needle);
}

static void base_desc(clattn_sdpa_desc *d)
{
    clattn_sdpa_desc_init(d, 2, 2, 2, 3, 5, 4, 4);
    d->mask_kind = CLATTN_MASK_ADDITIVE;
    d->mask = clattn_tensor_contiguous(2, 2, 3, 5);
    d->want_probs = 1;
}

static clattn_tensor *tensor_of(clattn_sdpa_desc *d, int which)
{
    clattn_tensor *t[] = {&d->q, &d->k, &d->v, &d->out, &d->mask, &d->probs};
    return t[which];
}
static const char *const tensor_names[] = {"q", "k", "v", "out", "mask", "probs"};

static void test_sdpa_dims(void **state)
{
    (void)state;
    static const int64_t bad[] = {INT64_MAX, (int64_t)INT32_MAX + 1, 0, -1, INT64_MIN};
    for (int which = 0; which < 6; which++)
        for (int dim = 0; dim < 4; dim++)
            for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
                if (which == 4 && dim == 3 && bad[b] > 0) continue; /* mask dim 3 must equal Lk: other message */
                clattn_sdpa_desc d;
                base_desc(&d);
                tensor_of(&d, which)->dims[dim] = bad[b];
                char what[96], needle[32];
                snprintf(what, sizeof what, "%s dim %d = %lld", tensor_names[which], dim, (long long)bad[b]);
                snprintf(needle, sizeof needle, "%s: dim %d", tensor_names[which], dim);
                expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, needle);
            }
    check_still_works();
}

static void test_sdpa_strides_offsets(void **state)
{
    (void)state;
    static const int64_t big[] = {INT64_MAX, INT64_MAX / 2 + 1, INT64_MAX / 4, (int64_t)1 << 61};
    for (int which = 0; which < 6; which++) {
        for (int dim = 0; dim < 4; dim++)
            for (size_t b = 0; b < sizeof big / sizeof big[0]; b++) {
                clattn_sdpa_desc d;
                base_desc(&d);
                clattn_tensor *t = tensor_of(&d, which);
                if (t->dims[dim] == 1) continue; /* ignored stride */
                t->strides[dim] = big[b];
                char what[96];
                snprintf(what, sizeof what, "%s stride %d = %lld", tensor_names[which], dim, (long long)big[b]);
                expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, tensor_names[which]);
            }
        for (size_t b = 0; b < sizeof big / sizeof big[0]; b++) {
            clattn_sdpa_desc d;
            base_desc(&d);
            tensor_of(&d, which)->offset = big[b];
            char what[96];
            snprintf(what, sizeof what, "%s offset %lld", tensor_names[which], (long long)big[b]);
            expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, tensor_names[which]);
        }
        clattn_sdpa_desc d;
        base_desc(&d);
        tensor_of(&d, which)->strides[3] = -1;
        expect_plan_error("negative stride", &d, CLATTN_ERROR_INVALID_ARGUMENT, tensor_names[which]);
    }
    check_still_works();
}

/* Valid views of about 2^62 bytes. Plan creation: SUCCESS or OUT_OF_MEMORY with a message. Execution (OpenCL
 * only: the host path reads the caller's arrays in place, and these cannot exist): OUT_OF_MEMORY before any
 * host buffer is read. */
static void huge_case(const char *what, const clattn_sdpa_desc *desc)
{
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, desc);
    printf("# %s: plan_create %s%s%s, workspace %zu bytes, path '%s'\n", what, clattn_status_string(st),
           st ? ": " : "", st ? clattn_last_error(g_ctx) : "", clattn_sdpa_plan_workspace_size(plan),
           clattn_sdpa_plan_path(plan));
    if (st != CLATTN_SUCCESS) {
        if (st != CLATTN_ERROR_OUT_OF_MEMORY || plan != NULL || !clattn_last_error(g_ctx)[0])
            fail_msg("%s: plan_create returned %d (%s), expected SUCCESS or OUT_OF_MEMORY", what, (int)st,
                     clattn_status_string(st));
        return;
    }
    if (g_backend != TU_HOST) {
        st = clattn_sdpa_execute(plan, g_tiny, g_tiny, g_tiny, desc->mask_kind != CLATTN_MASK_NONE ? g_tiny : NULL, NULL,
                                 g_tiny, desc->want_probs ? g_tiny : NULL);
        const char *msg = clattn_last_error(g_ctx);
        printf("# %s: execute %s: %s\n", what, clattn_status_string(st), msg);
        if (st != CLATTN_ERROR_OUT_OF_MEMORY || !msg[0])
            fail_msg("%s: execute returned %d (%s): '%s', expected OUT_OF_MEMORY", what, (int)st,
                     clattn_status_string(st), msg);
    }
    clattn_sdpa_plan_destroy(plan);
}

static void test_sdpa_huge(void **state)
{
    (void)state;
    const int64_t G = (int64_t)1 << 30;
    clattn_sdpa_desc d;
    /* q, k: [1, 1, 2^30, 2^30] floats = 2^62 bytes each; D > 256 (kernel chain). */
    clattn_sdpa_desc_init(&d, 1, 1, 1, G, G, G, 1);
    d.mask_kind = CLATTN_MASK_ADDITIVE;
    d.mask = clattn_tensor_contiguous(1, 1, 1, G);
    huge_case("q, k of 2^62 bytes", &d);
    /* Everything 2^15: every tensor 2^60 elements. */
    const int64_t S = (int64_t)1 << 15;
    clattn_sdpa_desc_init(&d, S, S, S, S, S, S, S);
    huge_case("all dims 2^15", &d);
    /* Decode-like: one query, 2^31 - 1 keys of D = Dv = 64 (k, v: 2^39 bytes), fused-path candidate. */
    clattn_sdpa_desc_init(&d, 1, 1, 1, 1, INT32_MAX, 64, 64);
    huge_case("2^31 - 1 keys", &d);
    /* Probabilities of [1, 1, 2^30, 2^30] (2^62 bytes) with small D: the score workspace alone cannot exist. */
    clattn_sdpa_desc_init(&d, 1, 1, 1, G, G, 1, 1);
    d.want_probs = 1;
    d.probs = clattn_tensor_contiguous(1, 1, G, G);
    huge_case("probs of 2^62 bytes", &d);
    /* Probabilities of [1, 1, 2^31 - 1, 2^31 - 1] floats: 2^64 bytes, beyond size_t: INVALID naming probs. */
    clattn_sdpa_desc_init(&d, 1, 1, 1, INT32_MAX, INT32_MAX, 1, 1);
    d.want_probs = 1;
    d.probs = clattn_tensor_contiguous(1, 1, INT32_MAX, INT32_MAX);
    expect_plan_error("probs of 2^64 bytes", &d, CLATTN_ERROR_INVALID_ARGUMENT, "probs");
    check_still_works();
}

/* ---- multi-head attention ---------------------------------------------------------------------------- */

static void expect_mha_error(const char *what, const clattn_mha_weights *w, clattn_status want, const char *needle)
{
    clattn_mha *m = (clattn_mha *)(uintptr_t)1;
    clattn_status st = clattn_mha_create(&m, g_ctx, w);
    const char *msg = clattn_last_error(g_ctx);
    if (st != want || m != NULL || !strstr(msg, needle))
        fail_msg("%s: status %d (%s), module %p, message '%s'; expected %d (%s), NULL and a message with '%s'",
                 what, (int)st, clattn_status_string(st), (void *)m, msg, (int)want, clattn_status_string(want),
                 needle);
    printf("# %s: %s: %s\n", what, clattn_status_string(st), msg);
}

static clattn_mha_weights tiny_weights(int64_t E, int64_t H)
{
    clattn_mha_weights w = {0};
    w.embed_dim = E;
    w.num_heads = H;
    w.w_q = w.w_k = w.w_v = w.w_o = g_tiny;
    return w;
}

static void test_mha_create_limits(void **state)
{
    (void)state;
    static const int64_t bad[] = {INT64_MAX, (int64_t)INT32_MAX + 1, 0, -1, INT64_MIN};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        char what[64];
        clattn_mha_weights w = tiny_weights(bad[b], 1);
        snprintf(what, sizeof what, "embed_dim %lld", (long long)bad[b]);
        expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, "embed_dim");
        w = tiny_weights(8, bad[b]);
        snprintf(what, sizeof what, "num_heads %lld", (long long)bad[b]);
        expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, "num_heads");
        if (bad[b] != 0) { /* 0 means embed_dim */
            w = tiny_weights(8, 2);
            w.kdim = bad[b];
            snprintf(what, sizeof what, "kdim %lld", (long long)bad[b]);
            expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, "kdim");
            w = tiny_weights(8, 2);
            w.vdim = bad[b];
            snprintf(what, sizeof what, "vdim %lld", (long long)bad[b]);
            expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, "vdim");
        }
    }
    clattn_mha_weights w = tiny_weights(12, 5);
    expect_mha_error("num_heads not a divisor", &w, CLATTN_ERROR_INVALID_ARGUMENT, "num_heads");
    /* Weights of 2^30 x 2^30 floats (2^62 bytes) cannot be copied: OUT_OF_MEMORY, nothing read. */
    w = tiny_weights((int64_t)1 << 30, 1);
    expect_mha_error("embed_dim 2^30", &w, CLATTN_ERROR_OUT_OF_MEMORY, "");
    w = tiny_weights(8, 2);
    w.kdim = INT32_MAX; /* w_k: 8 x (2^31 - 1) floats = 64 GiB: more than this machine and any device here */
    w.vdim = INT32_MAX;
    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &w);
    printf("# kdim = vdim = 2^31 - 1: %s: %s\n", clattn_status_string(st), clattn_last_error(g_ctx));
    if (st != CLATTN_ERROR_OUT_OF_MEMORY || m != NULL) fail_msg("kdim 2^31 - 1: status %d, expected OUT_OF_MEMORY", (int)st);
    check_still_works();
}

static void test_mha_forward_limits(void **state)
{
    (void)state;
    float wbuf[8 * 8];
    for (int i = 0; i < 64; i++) wbuf[i] = 0.01f * (float)(i % 7);
    clattn_mha_weights w = {0};
    w.embed_dim = 8;
    w.num_heads = 2;
    w.w_q = w.w_k = w.w_v = w.w_o = wbuf;
    clattn_mha *m = NULL;
    assert_int_equal(clattn_mha_create(&m, g_ctx, &w), CLATTN_SUCCESS);
    float out[64];
    /* batch * q_len * E overflows int64 */
    clattn_status st = clattn_mha_forward(m, INT64_MAX / 2, 4, 4, g_tiny, NULL, NULL, NULL, NULL, NULL, out, NULL);
    printf("# forward batch INT64_MAX/2: %s: %s\n", clattn_status_string(st), clattn_last_error(g_ctx));
    if (st != CLATTN_ERROR_INVALID_ARGUMENT) fail_msg("batch INT64_MAX/2: status %d, expected INVALID_ARGUMENT", (int)st);
    /* 2^20 x 2^20 rows of E = 8: projections of 2^45 bytes: OUT_OF_MEMORY before reading the inputs. */
    const int64_t M = (int64_t)1 << 20;
    st = clattn_mha_forward(m, M, M, M, g_tiny, NULL, NULL, NULL, NULL, NULL, out, NULL);
    printf("# forward 2^20 x 2^20 rows: %s: %s\n", clattn_status_string(st), clattn_last_error(g_ctx));
    if (st != CLATTN_ERROR_OUT_OF_MEMORY && st != CLATTN_ERROR_INVALID_ARGUMENT)
        fail_msg("2^40 rows: status %d (%s), expected OUT_OF_MEMORY (or INVALID_ARGUMENT)", (int)st, clattn_status_string(st));
    /* Averaged probabilities of [1, 2^31 - 1, 2^31 - 1]: 2^64 bytes. */
    clattn_mha_options o;
    clattn_mha_options_init(&o);
    o.probs_mode = CLATTN_PROBS_AVERAGED;
    st = clattn_mha_forward(m, 1, INT32_MAX, INT32_MAX, g_tiny, NULL, NULL, NULL, NULL, &o, out, out);
    printf("# forward probs 2^31 x 2^31: %s: %s\n", clattn_status_string(st), clattn_last_error(g_ctx));
    if (st != CLATTN_ERROR_OUT_OF_MEMORY && st != CLATTN_ERROR_INVALID_ARGUMENT)
        fail_msg("probs 2^62 elements: status %d (%s)", (int)st, clattn_status_string(st));
    /* The module still works. */
    float x[2 * 3 * 8];
    for (int i = 0; i < 48; i++) x[i] = 0.1f * (float)(i % 5) - 0.2f;
    assert_int_equal(clattn_mha_forward(m, 2, 3, 3, x, NULL, NULL, NULL, NULL, NULL, out, NULL), CLATTN_SUCCESS);
    for (int i = 0; i < 48; i++) assert_true(out[i] == out[i]);
    clattn_mha_destroy(m);
    check_still_works();
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdpa_dims),       cmocka_unit_test(test_sdpa_strides_offsets),
        cmocka_unit_test(test_sdpa_huge),       cmocka_unit_test(test_mha_create_limits),
        cmocka_unit_test(test_mha_forward_limits),
    };
    int failed = cmocka_run_group_tests_name("limits", tests, NULL, NULL);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
