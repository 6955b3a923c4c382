/*
 * test_limits: resource limits and size arithmetic, on the backend chosen by CLATTN_DEVICE (exit 77 when
 * absent). Nothing here may crash; every failure must be a status with a message naming the argument.
 *   - every SDPA tensor (q, k, v, out, mask, probs) with a dim of INT64_MAX, INT32_MAX + 1, 0, -1 or
 *     INT64_MIN, a stride near INT64_MAX, an offset near INT64_MAX, a stride of -1:
 *     CLATTN_ERROR_INVALID_ARGUMENT with src/core/sdpa.c's message for that tensor and check ("k: dim 2 is -1,",
 *     "v: the view [...] with strides [...] and offset ...", "q: stride 3 is -1,") and the offending value;
 *   - views whose byte size is about 2^62 (no int64 overflow, far beyond any memory): plan creation gives
 *     SUCCESS or CLATTN_ERROR_OUT_OF_MEMORY (with a message); on OpenCL, executing them gives
 *     CLATTN_ERROR_OUT_OF_MEMORY before any host buffer is read (the buffers passed are tiny: reading them
 *     would crash); absurd probabilities ([1, 1, 2^31 - 1, 2^31 - 1]: 2^64 bytes) are INVALID;
 *   - multi-head attention: embed_dim / num_heads / kdim / vdim near INT64_MAX, 0, -1, non-divisors:
 *     INVALID naming the field and the value; embed_dim 2^30 (weights of 2^62 bytes) and kdim = vdim =
 *     2^31 - 1 (w_k of 64 GiB): OUT_OF_MEMORY naming the byte count; forward with batch INT64_MAX / 2:
 *     INVALID naming batch; a forward pass without probabilities whose buffers need 2^45 bytes each
 *     (batch = q_len = kv_len = 2^20): OUT_OF_MEMORY naming 2^45 bytes, on every backend (host: the
 *     allocation fails; OpenCL: beyond CL_DEVICE_MAX_MEM_ALLOC_SIZE); averaged probabilities of
 *     [1, 2^31 - 1, 2^31 - 1] (per-head workspace of about 2^63 elements): INVALID naming probs.
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
    assert_true(sdpa_case_run_checked(g_ctx, &c, "limits", 0, 0));
}

/* plan_create must fail with `want` and a message containing `needle` and (unless NULL) `value` (the
 * offending number, as printed). */
static void expect_plan_error(const char *what, const clattn_sdpa_desc *desc, clattn_status want, const char *needle,
                              const char *value)
{
    clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)1;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, desc);
    const char *msg = clattn_last_error(g_ctx);
    if (st != want || plan != NULL || !strstr(msg, needle) || (value && !strstr(msg, value)))
        fail_msg("%s: status %d (%s), plan %p, message '%s'; expected %d (%s), NULL and a message with '%s' and '%s'",
                 what, (int)st, clattn_status_string(st), (void *)plan, msg, (int)want, clattn_status_string(want),
                 needle, value ? value : "");
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
                char what[96], needle[64];
                snprintf(what, sizeof what, "%s dim %d = %lld", tensor_names[which], dim, (long long)bad[b]);
                snprintf(needle, sizeof needle, "%s: dim %d is %lld,", tensor_names[which], dim, (long long)bad[b]);
                expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, needle, NULL);
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
                /* The extent overflows: "<name>: the view [dims] with strides [..., value, ...] and offset". */
                char what[96], needle[64], value[32];
                snprintf(what, sizeof what, "%s stride %d = %lld", tensor_names[which], dim, (long long)big[b]);
                snprintf(needle, sizeof needle, "%s: the view [", tensor_names[which]);
                snprintf(value, sizeof value, "%lld", (long long)big[b]);
                expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, needle, value);
            }
        for (size_t b = 0; b < sizeof big / sizeof big[0]; b++) {
            clattn_sdpa_desc d;
            base_desc(&d);
            tensor_of(&d, which)->offset = big[b];
            char what[96], needle[64], value[48];
            snprintf(what, sizeof what, "%s offset %lld", tensor_names[which], (long long)big[b]);
            snprintf(needle, sizeof needle, "%s: the view [", tensor_names[which]);
            snprintf(value, sizeof value, "offset %lld", (long long)big[b]);
            expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, needle, value);
        }
        clattn_sdpa_desc d;
        base_desc(&d);
        tensor_of(&d, which)->strides[3] = -1;
        char what[64], needle[64];
        snprintf(what, sizeof what, "%s stride 3 = -1", tensor_names[which]);
        snprintf(needle, sizeof needle, "%s: stride 3 is -1,", tensor_names[which]);
        expect_plan_error(what, &d, CLATTN_ERROR_INVALID_ARGUMENT, needle, NULL);
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
    expect_plan_error("probs of 2^64 bytes", &d, CLATTN_ERROR_INVALID_ARGUMENT, "probs: the view [1, 1, 2147483647, 2147483647]",
                      NULL);
    check_still_works();
}

/* ---- multi-head attention ---------------------------------------------------------------------------- */

/* mha_create must fail with `want` and a message containing `needle`. */
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
    clattn_mha_weights w;
    clattn_mha_weights_init(&w);
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
        char what[64], needle[64];
        clattn_mha_weights w = tiny_weights(bad[b], 1);
        snprintf(what, sizeof what, "embed_dim %lld", (long long)bad[b]);
        snprintf(needle, sizeof needle, "embed_dim: %lld,", (long long)bad[b]);
        expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, needle);
        w = tiny_weights(8, bad[b]);
        snprintf(what, sizeof what, "num_heads %lld", (long long)bad[b]);
        snprintf(needle, sizeof needle, "num_heads: %lld,", (long long)bad[b]);
        expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, needle);
        if (bad[b] != 0) { /* 0 means embed_dim */
            w = tiny_weights(8, 2);
            w.kdim = bad[b];
            snprintf(what, sizeof what, "kdim %lld", (long long)bad[b]);
            snprintf(needle, sizeof needle, "kdim: %lld,", (long long)bad[b]);
            expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, needle);
            w = tiny_weights(8, 2);
            w.vdim = bad[b];
            snprintf(what, sizeof what, "vdim %lld", (long long)bad[b]);
            snprintf(needle, sizeof needle, "vdim: %lld,", (long long)bad[b]);
            expect_mha_error(what, &w, CLATTN_ERROR_INVALID_ARGUMENT, needle);
        }
    }
    clattn_mha_weights w = tiny_weights(12, 5);
    expect_mha_error("num_heads not a divisor", &w, CLATTN_ERROR_INVALID_ARGUMENT, "num_heads: 5,");
    /* Weights of 2^30 x 2^30 floats (2^62 = 4611686018427387904 bytes) cannot be copied: OUT_OF_MEMORY naming
     * the size (host: the allocation fails; OpenCL: beyond CL_DEVICE_MAX_MEM_ALLOC_SIZE), nothing read. */
    w = tiny_weights((int64_t)1 << 30, 1);
    expect_mha_error("embed_dim 2^30", &w, CLATTN_ERROR_OUT_OF_MEMORY, "4611686018427387904 bytes");
    /* w_k: 8 x (2^31 - 1) floats = 68719476704 bytes (64 GiB): more than this machine and any device here. */
    w = tiny_weights(8, 2);
    w.kdim = INT32_MAX;
    w.vdim = INT32_MAX;
    expect_mha_error("kdim = vdim = 2^31 - 1", &w, CLATTN_ERROR_OUT_OF_MEMORY, "68719476704 bytes");
    check_still_works();
}

/* A self-attention forward over g_tiny (never read) must fail with `want` and a message containing `needle`. */
static void expect_forward(const char *what, clattn_mha *m, int64_t B, int64_t Lq, int64_t Lk,
                           const clattn_mha_options *o, float *probs, clattn_status want, const char *needle)
{
    float out[64];
    clattn_status st = clattn_mha_forward(m, B, Lq, Lk, g_tiny, NULL, NULL, NULL, NULL, o, out, probs);
    const char *msg = clattn_last_error(g_ctx);
    printf("# forward %s: %s: %s\n", what, clattn_status_string(st), msg);
    if (st != want || !strstr(msg, needle))
        fail_msg("forward %s: status %d (%s), message '%s'; expected %d (%s) and a message with '%s'", what, (int)st,
                 clattn_status_string(st), msg, (int)want, clattn_status_string(want), needle);
}

static void test_mha_forward_limits(void **state)
{
    (void)state;
    float wbuf[8 * 8];
    for (int i = 0; i < 64; i++) wbuf[i] = 0.01f * (float)(i % 7);
    clattn_mha_weights w;
    clattn_mha_weights_init(&w);
    w.embed_dim = 8;
    w.num_heads = 2;
    w.w_q = w.w_k = w.w_v = w.w_o = wbuf;
    clattn_mha *m = NULL;
    assert_int_equal(clattn_mha_create(&m, g_ctx, &w), CLATTN_SUCCESS);
    float out[64];
    /* batch beyond 2^31 - 1 (batch * q_len * E would overflow int64): INVALID naming batch. */
    expect_forward("batch INT64_MAX / 2", m, INT64_MAX / 2, 4, 4, NULL, NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                   "batch: 4611686018427387903,");
    /* batch = q_len = kv_len = 2^20 with E = 8, no probabilities: every size is representable (2^43 elements
     * per projection), but each buffer needs 2^45 = 35184372088832 bytes: OUT_OF_MEMORY from the first
     * allocation (host: malloc fails; OpenCL: beyond CL_DEVICE_MAX_MEM_ALLOC_SIZE), before any input is
     * read. (The probabilities' count, 2^61 elements, is not checked: they are not requested.) */
    const int64_t M = (int64_t)1 << 20;
    expect_forward("2^20 x 2^20 rows, no probabilities", m, M, M, M, NULL, NULL, CLATTN_ERROR_OUT_OF_MEMORY,
                   "35184372088832 bytes");
    /* Averaged probabilities of [1, 2^31 - 1, 2^31 - 1]: computed per head first, [1, 2, 2^31 - 1, 2^31 - 1]
     * = about 2^63 elements, which overflows int64: INVALID naming probs. */
    clattn_mha_options o;
    clattn_mha_options_init(&o);
    o.probs_mode = CLATTN_PROBS_AVERAGED;
    expect_forward("averaged probs of 2^31 - 1 x 2^31 - 1", m, 1, INT32_MAX, INT32_MAX, &o, out,
                   CLATTN_ERROR_INVALID_ARGUMENT, "probs: batch 1 x num_heads 2 x q_len 2147483647 x kv_len 2147483647");
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
