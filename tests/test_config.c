/*
 * Configuration through the API (clattn_context_options: kernel_path, host_isa, cache_dir, log_level,
 * log_fn; clattn_sdpa_desc.kernel_path) with environment variables only as defaults, on the backend
 * CLATTN_DEVICE names (config.host / config.pocl / config.rusticl):
 *   - every environment value that does not parse, and the 0.1 names 0.2.0 replaced, fail context
 *     creation with CLATTN_ERROR_INVALID_ARGUMENT and a message naming the variable and the value;
 *   - option values out of range likewise, naming the option;
 *   - an option beats its environment variable, a plan's kernel_path beats the context's, and the
 *     environment is read once, when the context is created;
 *   - the chosen path runs and matches the double-precision reference;
 *   - the log sink receives the context, plan and error messages at the levels documented;
 *   - an ISA the CPU lacks is CLATTN_ERROR_UNSUPPORTED on a host context, one it has is used;
 *   - CLATTN_DEVICE_PROFILE (test only): a malformed name fails everywhere, an unknown one on OpenCL
 *     (the host ignores it), a known one makes an OpenCL context report the profile's limits and plan
 *     and run with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sdpa_case.h"

static tu_backend g_backend;

/* Every variable this test sets, cleared before and after each case. */
static const char *const config_vars[] = {"CLATTN_PATH",        "CLATTN_HOST_ISA",  "CLATTN_LOG_LEVEL",
                                          "CLATTN_CACHE_FORCE", "CLATTN_CACHE_DIR", "CLATTN_CL_PATH",
                                          "CLATTN_CACHE_DEBUG", "CLATTN_DEVICE_PROFILE"};

static void clear_vars(void)
{
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++) unsetenv(config_vars[i]);
}

/* Creates a context on CLATTN_DEVICE with opts (NULL: defaults); returns the status. */
static clattn_status create(clattn_context **ctx, const clattn_context_options *opts)
{
    *ctx = NULL;
    return clattn_context_create(ctx, opts);
}

/* Context creation must fail with status st and a message containing each of the NULL-terminated words. */
static void expect_failure(const clattn_context_options *opts, clattn_status want, const char *what, ...)
{
    clattn_context *ctx = NULL;
    clattn_status st = create(&ctx, opts);
    const char *msg = clattn_last_error(NULL);
    if (st != want || ctx != NULL)
        fail_msg("%s: clattn_context_create returned %d (%s), ctx %p; expected %d. Message: %s", what, (int)st,
                 clattn_status_string(st), (void *)ctx, (int)want, msg);
    va_list ap;
    va_start(ap, what);
    for (const char *word = va_arg(ap, const char *); word; word = va_arg(ap, const char *))
        if (!strstr(msg, word)) fail_msg("%s: message '%s' lacks '%s'", what, msg, word);
    va_end(ap);
    printf("# %s: %s\n", what, msg);
}

static void test_bad_environment(void **state)
{
    (void)state;
    static const struct {
        const char *var, *value, *word;
    } bad[] = {
        {"CLATTN_PATH", "sideways", "auto, chain or fused"},
        {"CLATTN_HOST_ISA", "bogus", "auto, portable, avx2 or avx512"},
        {"CLATTN_HOST_ISA", "off", "CLATTN_PATH=chain"},
        {"CLATTN_LOG_LEVEL", "loud", "off, error, info or debug"},
        {"CLATTN_CACHE_FORCE", "yes", "0 or 1"},
        {"CLATTN_CACHE_DIR", "relative/dir", "absolute path"},
        {"CLATTN_CL_PATH", "chain", "CLATTN_PATH"},
        {"CLATTN_CACHE_DEBUG", "1", "CLATTN_LOG_LEVEL=debug"},
        {"CLATTN_DEVICE_PROFILE", "gpu amd!", "not a profile name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clear_vars();
        setenv(bad[i].var, bad[i].value, 1);
        char what[96];
        snprintf(what, sizeof what, "%s=%s", bad[i].var, bad[i].value);
        expect_failure(NULL, CLATTN_ERROR_INVALID_ARGUMENT, what, bad[i].var, bad[i].value, bad[i].word, NULL);
    }
    clear_vars();
}

static void test_bad_options(void **state)
{
    (void)state;
    clear_vars();
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.kernel_path = (clattn_kernel_path)7;
    expect_failure(&o, CLATTN_ERROR_INVALID_ARGUMENT, "kernel_path 7", "clattn_context_options.kernel_path", "7", NULL);
    clattn_context_options_init(&o);
    o.host_isa = (clattn_host_isa)-2;
    expect_failure(&o, CLATTN_ERROR_INVALID_ARGUMENT, "host_isa -2", "clattn_context_options.host_isa", "-2", NULL);
    clattn_context_options_init(&o);
    o.log_level = (clattn_log_level)5;
    expect_failure(&o, CLATTN_ERROR_INVALID_ARGUMENT, "log_level 5", "clattn_context_options.log_level", "5", NULL);
    clattn_context_options_init(&o);
    o.cache_dir = "not/absolute";
    expect_failure(&o, CLATTN_ERROR_INVALID_ARGUMENT, "cache_dir relative", "clattn_context_options.cache_dir",
                   "not/absolute", NULL);
    /* A setting given as an option never reads its environment variable, even a malformed one. */
    setenv("CLATTN_PATH", "sideways", 1);
    clattn_context_options_init(&o);
    o.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    clattn_context *ctx = NULL;
    clattn_status st = create(&ctx, &o);
    if (st != CLATTN_SUCCESS) fail_msg("kernel_path option with a bad CLATTN_PATH: %d %s", (int)st, clattn_last_error(NULL));
    clattn_context_destroy(ctx);
    clear_vars();
}

/* The chain path's name on this backend, and the fused one's. */
static const char *chain_name(void) { return g_backend == TU_HOST ? "host-rowwise" : "chain"; }
static bool is_fused_name(const char *p) { return strcmp(p, "fused") == 0 || strncmp(p, "host-fused-", 11) == 0; }

/* Plans one no-probabilities case on ctx (kernel_path kp in its desc), runs it, checks it against the
 * reference, and returns the path the plan took in path[]. */
static void run_case(clattn_context *ctx, clattn_kernel_path kp, const char *what, char *path, size_t cap)
{
    const sdpa_case c = {"config", 2, 4, 2, 9, 33, 16, 8, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT};
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, &c, "config", 0, what);
    d.desc.kernel_path = kp;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &d.desc);
    if (st != CLATTN_SUCCESS) fail_msg("%s: plan_create %d %s", what, (int)st, clattn_last_error(ctx));
    snprintf(path, cap, "%s", clattn_sdpa_plan_path(plan));
    st = clattn_sdpa_execute(plan, d.q, d.k, d.v, d.mask, d.kvl, d.out, d.probs);
    if (st != CLATTN_SUCCESS) fail_msg("%s: execute %d %s", what, (int)st, clattn_last_error(ctx));
    clattn_sdpa_plan_destroy(plan);
    bool ok = sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    if (!ok) fail_msg("%s: wrong result on path %s", what, path);
    printf("# %s: path %s\n", what, path);
}

static void test_precedence(void **state)
{
    (void)state;
    char path[64];
    clattn_context *ctx = NULL;
    clattn_context_options o;

    /* environment default */
    clear_vars();
    setenv("CLATTN_PATH", "chain", 1);
    assert_int_equal(create(&ctx, NULL), CLATTN_SUCCESS);
    /* read once, at creation: changing it now does not reach this context's plans */
    setenv("CLATTN_PATH", "fused", 1);
    run_case(ctx, CLATTN_KERNEL_PATH_DEFAULT, "env CLATTN_PATH=chain", path, sizeof path);
    assert_string_equal(path, chain_name());
    /* a plan's kernel_path beats the context's */
    run_case(ctx, CLATTN_KERNEL_PATH_FUSED, "desc FUSED on a chain context", path, sizeof path);
    if (!is_fused_name(path)) fail_msg("desc.kernel_path FUSED took '%s'", path);
    clattn_context_destroy(ctx);

    /* the option beats the environment (CLATTN_PATH=fused is still set) */
    clattn_context_options_init(&o);
    o.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    assert_int_equal(create(&ctx, &o), CLATTN_SUCCESS);
    run_case(ctx, CLATTN_KERNEL_PATH_DEFAULT, "option CHAIN over env fused", path, sizeof path);
    assert_string_equal(path, chain_name());
    clattn_context_destroy(ctx);

    /* AUTO: this shape (no probabilities, small head dims) takes the fused kernel on every backend */
    clear_vars();
    assert_int_equal(create(&ctx, NULL), CLATTN_SUCCESS);
    run_case(ctx, CLATTN_KERNEL_PATH_AUTO, "AUTO", path, sizeof path);
    if (!is_fused_name(path)) fail_msg("AUTO took '%s'", path);
    /* a kernel_path outside the enum is refused per plan, naming the field */
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 1, 1, 2, 2, 4, 4);
    d.kernel_path = (clattn_kernel_path)9;
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_non_null(strstr(clattn_last_error(ctx), "kernel_path: 9"));
    clattn_context_destroy(ctx);
}

typedef struct log_capture {
    int n[5];         /* messages per level */
    char plan[512];   /* the last INFO message about a plan */
    char error[1024]; /* the last ERROR message */
} log_capture;

static void capture(void *user, clattn_log_level level, const char *message)
{
    log_capture *c = user;
    assert_true(level >= CLATTN_LOG_ERROR && level <= CLATTN_LOG_DEBUG);
    c->n[level]++;
    if (level == CLATTN_LOG_INFO && strstr(message, "sdpa plan")) snprintf(c->plan, sizeof c->plan, "%s", message);
    if (level == CLATTN_LOG_ERROR) snprintf(c->error, sizeof c->error, "%s", message);
}

static void test_log(void **state)
{
    (void)state;
    clear_vars();
    char path[64];
    for (int lvl = CLATTN_LOG_OFF; lvl <= CLATTN_LOG_DEBUG; lvl++) {
        log_capture cap;
        memset(&cap, 0, sizeof cap);
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.log_level = (clattn_log_level)lvl;
        o.log_fn = capture;
        o.log_user = &cap;
        clattn_context *ctx = NULL;
        assert_int_equal(create(&ctx, &o), CLATTN_SUCCESS);
        run_case(ctx, CLATTN_KERNEL_PATH_DEFAULT, "log", path, sizeof path);
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, ctx, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
        printf("# log_level %d: %d error, %d info, %d debug messages\n", lvl, cap.n[CLATTN_LOG_ERROR],
               cap.n[CLATTN_LOG_INFO], cap.n[CLATTN_LOG_DEBUG]);
        /* nothing above the level */
        for (int l = lvl + 1; l <= CLATTN_LOG_DEBUG; l++)
            if (cap.n[l]) fail_msg("log_level %d: %d messages at level %d", lvl, cap.n[l], l);
        if (lvl >= CLATTN_LOG_ERROR) {
            /* the failed call's message, as clattn_last_error() gives it */
            if (!strstr(cap.error, clattn_last_error(ctx)))
                fail_msg("log_level %d: error message '%s' does not carry '%s'", lvl, cap.error, clattn_last_error(ctx));
        }
        if (lvl >= CLATTN_LOG_INFO) {
            /* the plan's path (the context message came at creation: counted too) */
            if (!strstr(cap.plan, path)) fail_msg("log_level %d: plan message '%s' lacks path '%s'", lvl, cap.plan, path);
            if (cap.n[CLATTN_LOG_INFO] < 2) fail_msg("log_level %d: %d info messages, expected the context and the plan", lvl,
                                                      cap.n[CLATTN_LOG_INFO]);
        }
        clattn_context_destroy(ctx);
    }
}

static void test_host_isa(void **state)
{
    (void)state;
    clear_vars();
    static const struct {
        clattn_host_isa isa;
        const char *name, *cpu; /* cpu: __builtin_cpu_supports feature, NULL = always */
    } isas[] = {{CLATTN_HOST_ISA_PORTABLE, "portable", NULL},
                {CLATTN_HOST_ISA_AVX2, "avx2", "avx2"},
                {CLATTN_HOST_ISA_AVX512, "avx512", "avx512f"}};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        bool has = true;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
        if (isas[i].cpu && strcmp(isas[i].cpu, "avx2") == 0)
            has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        else if (isas[i].cpu)
            has = __builtin_cpu_supports("avx512f");
#else
        has = isas[i].cpu == NULL;
#endif
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.host_isa = isas[i].isa;
        clattn_context *ctx = NULL;
        clattn_status st = create(&ctx, &o);
        if (g_backend != TU_HOST) { /* parsed, then not used: an OpenCL context opens */
            assert_int_equal(st, CLATTN_SUCCESS);
            clattn_context_destroy(ctx);
            continue;
        }
        if (!has) {
            if (st != CLATTN_ERROR_UNSUPPORTED || !strstr(clattn_last_error(NULL), isas[i].name))
                fail_msg("host_isa %s on a CPU without it: %d (%s)", isas[i].name, (int)st, clattn_last_error(NULL));
            printf("# host_isa %s: %s\n", isas[i].name, clattn_last_error(NULL));
            continue;
        }
        assert_int_equal(st, CLATTN_SUCCESS);
        char path[64], want[64];
        run_case(ctx, CLATTN_KERNEL_PATH_FUSED, isas[i].name, path, sizeof path);
        snprintf(want, sizeof want, "host-fused-%s", isas[i].name);
        assert_string_equal(path, want);
        clattn_context_destroy(ctx);
    }
}

/* clattn_context_create_from_cl_opts: a context over another context's OpenCL objects takes the options;
 * device/num_threads are refused there. OpenCL backends only. */
static void test_from_cl_options(void **state)
{
    (void)state;
    clear_vars();
    if (g_backend == TU_HOST) skip();
    clattn_context *base = NULL;
    assert_int_equal(create(&base, NULL), CLATTN_SUCCESS);
    cl_context clc = NULL;
    cl_device_id dev = NULL;
    cl_command_queue q = NULL;
    assert_int_equal(clattn_context_get_cl(base, &clc, &dev, &q), CLATTN_SUCCESS);
    assert_non_null(q);
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create_from_cl_opts(&ctx, clc, dev, q, &o);
    if (st != CLATTN_SUCCESS) fail_msg("create_from_cl_opts: %d %s", (int)st, clattn_last_error(NULL));
    char path[64];
    run_case(ctx, CLATTN_KERNEL_PATH_DEFAULT, "from_cl_opts CHAIN", path, sizeof path);
    assert_string_equal(path, "chain");
    clattn_context_destroy(ctx);
    o.device = "pocl";
    ctx = (clattn_context *)(uintptr_t)1;
    assert_int_equal(clattn_context_create_from_cl_opts(&ctx, clc, dev, q, &o), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_null(ctx);
    assert_non_null(strstr(clattn_last_error(NULL), "opts->device"));
    clattn_context_destroy(base);
}

/* CLATTN_DEVICE_PROFILE=<name>: unknown names fail OpenCL context creation (listing the profiles); a known
 * one gives the profile's limits (gpu-small: work-groups <= 64, 16 KiB local memory, 8 CUs) and plans that
 * run right with them. */
static void test_device_profile(void **state)
{
    (void)state;
    clear_vars();
    setenv("CLATTN_DEVICE_PROFILE", "gpu-nope", 1);
    clattn_context *ctx = NULL;
    if (g_backend == TU_HOST) {
        assert_int_equal(create(&ctx, NULL), CLATTN_SUCCESS); /* the host path has no device limits: ignored */
        clattn_context_destroy(ctx);
    } else {
        expect_failure(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "CLATTN_DEVICE_PROFILE=gpu-nope", "CLATTN_DEVICE_PROFILE",
                       "gpu-nope", "gpu-amd", "gpu-small", NULL);
    }
    setenv("CLATTN_DEVICE_PROFILE", "gpu-small", 1);
    assert_int_equal(create(&ctx, NULL), CLATTN_SUCCESS);
    clattn_device_info info;
    clattn_device_info_init(&info);
    assert_int_equal(clattn_context_get_info(ctx, &info), CLATTN_SUCCESS);
    if (g_backend != TU_HOST) {
        assert_true(info.max_work_group_size <= 64);
        assert_true(info.local_mem_bytes <= 16384);
        assert_int_equal(info.num_threads, 8);
    }
    char path[64];
    run_case(ctx, CLATTN_KERNEL_PATH_DEFAULT, "profile gpu-small", path, sizeof path);
    clattn_context_destroy(ctx);
    clear_vars();
}

int main(void)
{
    clattn_context *probe = tu_open_context_or_skip(); /* skips (77) where CLATTN_DEVICE matches nothing */
    g_backend = tu_backend_of(probe);
    clattn_context_destroy(probe);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_environment), cmocka_unit_test(test_bad_options), cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_log),             cmocka_unit_test(test_host_isa),
        cmocka_unit_test(test_from_cl_options), cmocka_unit_test(test_device_profile),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
