/*
 * The device list (clattn_device_list_count / clattn_device_list_get) and kernel plans
 * (clattn_kernel_plan_create), on the backend CLATTN_DEVICE names (devices.host / .pocl / .rusticl, and
 * devices.pocl_gpu_amd / .pocl_gpu_small under CLATTN_DEVICE_PROFILE):
 *   - the list: the host path last, one default device (the one the default rule opens), unique
 *     selectors each of which opens a context on exactly the device it describes, the backend under test
 *     present, flags consistent with the extension string, the output-struct ABI (an 0.2.0-sized struct,
 *     a larger one, struct_size 0), an index out of range;
 *   - kernel plans from profiles: paths, entries in the kernel table, options, work-groups within the
 *     profile's limits, 16-bit builds (-D ELEM16, no conversion kernels), every error status;
 *   - kernel plans from the device under test list exactly the kernels and options plan creation
 *     builds there (its first candidate per kernel: plan creation may shrink a tile the driver refuses
 *     after building it, which a listing that builds nothing cannot know), for several shapes and paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

static clattn_context *g_ctx;
static tu_backend g_backend;
static clattn_device_info g_info; /* the device under test, from its context */

static void get(size_t i, clattn_device_info *d)
{
    clattn_device_info_init(d);
    if (clattn_device_list_get(i, d) != CLATTN_SUCCESS)
        fail_msg("clattn_device_list_get(%zu): %s", i, clattn_last_error(NULL));
}

static void test_list(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(clattn_device_list_count(&n), CLATTN_SUCCESS);
    assert_true(n >= 1);
    int defaults = 0, found_under_test = 0;
    for (size_t i = 0; i < n; i++) {
        clattn_device_info d;
        get(i, &d);
        printf("# %zu: %s '%s' / '%s' type %d cu %u flags %#x\n", i, d.selector, d.platform_name, d.device_name,
               (int)d.type, d.compute_units, d.flags);
        assert_int_equal(d.index, i);
        assert_true(d.selector[0] != '\0');
        assert_true(d.device_name[0] != '\0');
        assert_true(d.compute_units >= 1);
        for (size_t j = 0; j < i; j++) {
            clattn_device_info e;
            get(j, &e);
            assert_string_not_equal(d.selector, e.selector);
        }
        if (d.flags & CLATTN_DEVICE_FLAG_DEFAULT) defaults++;
        if (i + 1 == n) { /* the host path, last */
            assert_int_equal(d.backend, CLATTN_BACKEND_HOST);
            assert_string_equal(d.selector, "host");
            assert_int_equal(d.type, CLATTN_DEVICE_TYPE_CPU);
        } else {
            assert_int_equal(d.backend, CLATTN_BACKEND_OPENCL);
            assert_true(d.max_work_group_size >= 1 && d.local_mem_bytes >= 1 && d.max_alloc_bytes >= 1);
            assert_true(d.type != CLATTN_DEVICE_TYPE_OTHER || d.opencl_c_version[0] != '\0');
            if (!(d.flags & CLATTN_DEVICE_FLAG_EXTENSIONS_TRUNCATED)) {
                assert_int_equal(!!(d.flags & CLATTN_DEVICE_FLAG_FP64), strstr(d.extensions, "cl_khr_fp64") != NULL);
                assert_int_equal(!!(d.flags & CLATTN_DEVICE_FLAG_FP16), strstr(d.extensions, "cl_khr_fp16") != NULL);
            }
        }
        /* the selector opens a context on exactly this device */
        if (!(d.flags & CLATTN_DEVICE_FLAG_AVAILABLE)) continue;
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.device = d.selector;
        clattn_context *ctx = NULL;
        if (clattn_context_create(&ctx, &o) != CLATTN_SUCCESS)
            fail_msg("selector '%s': %s", d.selector, clattn_last_error(NULL));
        clattn_device_info c;
        clattn_device_info_init(&c);
        assert_int_equal(clattn_context_get_info(ctx, &c), CLATTN_SUCCESS);
        assert_int_equal(c.backend, d.backend);
        assert_string_equal(c.platform_name, d.platform_name);
        assert_string_equal(c.device_name, d.device_name);
        clattn_context_destroy(ctx);
        if (d.backend == g_info.backend && strcmp(d.platform_name, g_info.platform_name) == 0 &&
            strcmp(d.device_name, g_info.device_name) == 0)
            found_under_test++;
    }
    assert_int_equal(defaults, 1);
    if (found_under_test < 1) fail_msg("the device under test ('%s') is not in the list", g_info.device_name);

    /* the default flag marks what the default rule opens */
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = "";
    clattn_context *ctx = NULL;
    assert_int_equal(clattn_context_create(&ctx, &o), CLATTN_SUCCESS);
    clattn_device_info c;
    clattn_device_info_init(&c);
    assert_int_equal(clattn_context_get_info(ctx, &c), CLATTN_SUCCESS);
    clattn_context_destroy(ctx);
    for (size_t i = 0; i < n; i++) {
        clattn_device_info d;
        get(i, &d);
        if (d.flags & CLATTN_DEVICE_FLAG_DEFAULT) {
            assert_string_equal(d.device_name, c.device_name);
            assert_string_equal(d.platform_name, c.platform_name);
        }
    }
}

static void test_list_errors_and_abi(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(clattn_device_list_count(NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_int_equal(clattn_device_list_count(&n), CLATTN_SUCCESS);
    clattn_device_info d;
    clattn_device_info_init(&d);
    assert_int_equal(clattn_device_list_get(n, &d), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(NULL), "out of range"));
    assert_int_equal(clattn_device_list_get(0, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    d.struct_size = 0;
    assert_int_equal(clattn_device_list_get(0, &d), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(NULL), "clattn_device_info_init"));

    /* A caller compiled against 0.2.0's layout: the library writes only that much. */
    const size_t old = offsetof(clattn_device_info, max_work_group_size) + sizeof(uint64_t);
    unsigned char buf[sizeof(clattn_device_info) + 64];
    memset(buf, 0xA5, sizeof buf);
    clattn_device_info_init_sized((clattn_device_info *)(void *)buf, old);
    for (size_t i = old; i < sizeof buf; i++) assert_int_equal(buf[i], 0xA5);
    assert_int_equal(clattn_device_list_get(n - 1, (clattn_device_info *)(void *)buf), CLATTN_SUCCESS);
    for (size_t i = old; i < sizeof buf; i++) assert_int_equal(buf[i], 0xA5);
    clattn_device_info host;
    memcpy(&host, buf, old);
    assert_int_equal(host.struct_size, old);
    assert_string_equal(host.platform_name, "host");

    /* A caller compiled against a larger layout: the bytes the library does not know come back zero. */
    memset(buf, 0xA5, sizeof buf);
    clattn_device_info_init_sized((clattn_device_info *)(void *)buf, sizeof buf);
    assert_int_equal(clattn_device_list_get(n - 1, (clattn_device_info *)(void *)buf), CLATTN_SUCCESS);
    for (size_t i = sizeof(clattn_device_info); i < sizeof buf; i++) assert_int_equal(buf[i], 0);
}

/* ---- kernel plans ----------------------------------------------------------------------------------- */

static clattn_kernel_plan *plan_for(const char *target, const clattn_sdpa_desc *d)
{
    clattn_kernel_plan *kp = NULL;
    if (clattn_kernel_plan_create(&kp, target, d) != CLATTN_SUCCESS)
        fail_msg("clattn_kernel_plan_create('%s'): %s", target, clattn_last_error(NULL));
    return kp;
}

/* Every entry: in the kernel table with the same stage, sources common.cl + the table's source, options
 * starting with -cl-std=CL1.2, the given path and device type, a work-group within max_wg. */
static void check_entries(const clattn_kernel_plan *kp, const char *path, clattn_device_type type, uint64_t max_wg,
                          uint64_t local_mem)
{
    assert_true(clattn_kernel_plan_count(kp) >= 1);
    assert_null(clattn_kernel_plan_get(kp, clattn_kernel_plan_count(kp)));
    for (size_t i = 0; i < clattn_kernel_plan_count(kp); i++) {
        const clattn_planned_kernel *k = clattn_kernel_plan_get(kp, i);
        assert_int_equal(k->struct_size, sizeof *k);
        assert_true(CLATTN_PLANNED_KERNEL_HAS(k, workspace_bytes));
        const clattn_kernel_entry *row = NULL;
        for (size_t j = 0; j < clattn_kernel_count(); j++) {
            const clattn_kernel_entry *e = clattn_kernel_get(j);
            if (strcmp(e->backend, "opencl") == 0 && strcmp(e->entry, k->entry) == 0) row = e;
        }
        if (!row) fail_msg("planned kernel '%s' is not in the kernel table", k->entry);
        assert_string_equal(k->stage, row->stage);
        char sources[256];
        snprintf(sources, sizeof sources, "kernels/common.cl %s", row->source);
        assert_string_equal(k->sources, sources);
        assert_memory_equal(k->options, "-cl-std=CL1.2", 13);
        assert_string_equal(k->path, path);
        assert_int_equal(k->device_type, type);
        assert_true(k->why[0] != '\0');
        const uint64_t items = k->local_size[0] * k->local_size[1] * k->local_size[2];
        if (strcmp(k->stage, "fp16 convert") != 0) {
            assert_true(items >= 1);
            assert_true(items <= max_wg);
            assert_true(k->local_mem_bytes <= local_mem);
        }
    }
}

static void test_plans_from_profiles(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_kernel_plan *kp;

    /* prefill on gpu-amd: a fused kernel and its merge, the generic GPU row (which fused kernel is the
     * planner's choice: check_entries holds it to the kernel table, the path to its own report) */
    clattn_sdpa_desc_init(&d, 1, 16, 16, 2048, 2048, 64, 64);
    kp = plan_for("profile:gpu-amd", &d);
    const char *gpu_path = clattn_kernel_plan_get(kp, 0)->path;
    assert_memory_equal(gpu_path, "fused", 5);
    check_entries(kp, gpu_path, CLATTN_DEVICE_TYPE_GPU, 256, 64 * 1024);
    assert_int_equal(clattn_kernel_plan_count(kp), 2);
    assert_string_equal(clattn_kernel_plan_get(kp, 0)->stage, "fused");
    assert_string_equal(clattn_kernel_plan_get(kp, 0)->rules, "gpu");
    assert_string_equal(clattn_kernel_plan_get(kp, 1)->stage, "decode merge");
    clattn_kernel_plan_destroy(kp);

    /* probabilities: the chain, a work-group per softmax row on a GPU */
    d.want_probs = 1;
    kp = plan_for("profile:gpu-small", &d);
    check_entries(kp, "chain", CLATTN_DEVICE_TYPE_GPU, 64, 16 * 1024);
    assert_int_equal(clattn_kernel_plan_count(kp), 3);
    assert_string_equal(clattn_kernel_plan_get(kp, 0)->entry, "clattn_scores");
    assert_string_equal(clattn_kernel_plan_get(kp, 1)->entry, "clattn_softmax");
    assert_string_equal(clattn_kernel_plan_get(kp, 2)->entry, "clattn_weighted_sum");
    assert_true(clattn_kernel_plan_get(kp, 0)->workspace_bytes > 0);
    clattn_kernel_plan_destroy(kp);

    /* head dim above the fused kernel's 256: the chain, and the listing says why */
    clattn_sdpa_desc_init(&d, 1, 2, 2, 33, 65, 300, 300);
    kp = plan_for("profile:pocl", &d);
    check_entries(kp, "chain", CLATTN_DEVICE_TYPE_CPU, 4096, 1024 * 1024);
    assert_non_null(strstr(clattn_kernel_plan_get(kp, 0)->why, "D = 300"));
    assert_string_equal(clattn_kernel_plan_get(kp, 1)->entry, "clattn_softmax_rows");
    clattn_kernel_plan_destroy(kp);

    /* decode on PoCL: the direct kernel with software prefetch (rules.c PREF); 64 kv pairs fill 2 CUs, so
     * the keys are not split and the merge is built but not launched */
    clattn_sdpa_desc_init(&d, 8, 32, 8, 1, 4096, 128, 128);
    kp = plan_for("profile:pocl", &d);
    check_entries(kp, "fused", CLATTN_DEVICE_TYPE_CPU, 4096, 1024 * 1024);
    assert_non_null(strstr(clattn_kernel_plan_get(kp, 0)->options, "-D DIRECT=1 -D SW_PREFETCH=1"));
    assert_int_equal(clattn_kernel_plan_get(kp, 1)->launched, 0);
    clattn_kernel_plan_destroy(kp);
    /* the same on gpu-amd's 104 CUs: keys split into partitions, the merge launched */
    kp = plan_for("profile:gpu-amd", &d);
    check_entries(kp, clattn_kernel_plan_get(kp, 0)->path, CLATTN_DEVICE_TYPE_GPU, 256, 64 * 1024);
    assert_string_equal(clattn_kernel_plan_get(kp, 1)->stage, "decode merge");
    assert_int_equal(clattn_kernel_plan_get(kp, 1)->launched, 1);
    assert_true(clattn_kernel_plan_get(kp, 1)->workspace_bytes > 0);
    clattn_kernel_plan_destroy(kp);

    /* float16: the fused kernel and its merge read and write binary16 in place (-D ELEM16=1), no conversion kernel */
    clattn_sdpa_desc_init(&d, 1, 4, 4, 64, 64, 32, 32);
    d.data_type = CLATTN_DTYPE_F16;
    kp = plan_for("profile:rusticl", &d);
    check_entries(kp, "fused", CLATTN_DEVICE_TYPE_CPU, 1024, 32 * 1024);
    assert_int_equal(clattn_kernel_plan_count(kp), 2);
    assert_string_equal(clattn_kernel_plan_get(kp, 0)->entry, "clattn_fused");
    assert_string_equal(clattn_kernel_plan_get(kp, 0)->rules, "rusticl");
    assert_non_null(strstr(clattn_kernel_plan_get(kp, 0)->options, "-D ELEM16=1"));
    assert_non_null(strstr(clattn_kernel_plan_get(kp, 1)->options, "-D ELEM16=1"));
    clattn_kernel_plan_destroy(kp);
    /* bfloat16 chain: scores (-D ELEM16=2) and weighted sum read/write bf16, softmax stays float32 */
    clattn_sdpa_desc_init(&d, 1, 4, 4, 64, 64, 32, 32);
    d.data_type = CLATTN_DTYPE_BF16;
    d.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    kp = plan_for("profile:rusticl", &d);
    check_entries(kp, "chain", CLATTN_DEVICE_TYPE_CPU, 1024, 32 * 1024);
    assert_int_equal(clattn_kernel_plan_count(kp), 3);
    for (size_t i = 0; i < 3; i++) {
        const clattn_planned_kernel *k = clattn_kernel_plan_get(kp, i);
        const bool reads16 = strcmp(k->entry, "clattn_scores") == 0 || strcmp(k->entry, "clattn_weighted_sum") == 0;
        assert_true((strstr(k->options, "-D ELEM16=2") != NULL) == reads16);
    }
    clattn_kernel_plan_destroy(kp);
    /* ... also a chain whose P·V takes several launches over the keys (Lk past the LOOP budget's kchunk): no
     * conversion kernel either; the partial sums stay float32 in Dv floats per row after S (weighted_sum.cl), so
     * the workspace is the float32 plan's + 4 * Dv bytes (1 pair, 1 row) */
    clattn_sdpa_desc_init(&d, 1, 1, 1, 1, 40000, 8, 8);
    d.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    kp = plan_for("profile:rusticl", &d);
    const uint64_t ws32 = clattn_kernel_plan_get(kp, 0)->workspace_bytes;
    assert_null(strstr(clattn_kernel_plan_get(kp, 2)->why, "keys in 1 launch(es)")); /* keys split: the case under test */
    clattn_kernel_plan_destroy(kp);
    d.data_type = CLATTN_DTYPE_BF16;
    kp = plan_for("profile:rusticl", &d);
    check_entries(kp, "chain", CLATTN_DEVICE_TYPE_CPU, 1024, 32 * 1024);
    assert_int_equal(clattn_kernel_plan_count(kp), 3);
    assert_string_equal(clattn_kernel_plan_get(kp, 2)->entry, "clattn_weighted_sum");
    assert_non_null(strstr(clattn_kernel_plan_get(kp, 2)->options, "-D ELEM16=2"));
    assert_int_equal(clattn_kernel_plan_get(kp, 0)->workspace_bytes, ws32 + 8 * sizeof(float));
    clattn_kernel_plan_destroy(kp);
    clattn_kernel_plan_destroy(NULL);
    assert_int_equal(clattn_kernel_plan_count(NULL), 0);
    assert_null(clattn_kernel_plan_get(NULL, 0));
}

static void expect_plan_error(const char *target, const clattn_sdpa_desc *d, clattn_status want, const char *word)
{
    clattn_kernel_plan *kp = (clattn_kernel_plan *)(void *)&kp; /* not NULL: must be set to NULL */
    clattn_status st = clattn_kernel_plan_create(&kp, target, d);
    const char *msg = clattn_last_error(NULL);
    printf("# %s: %s\n", target ? target : "(null)", msg);
    if (st != want) fail_msg("target '%s': status %d, expected %d (%s)", target, (int)st, (int)want, msg);
    assert_null(kp);
    if (word && !strstr(msg, word)) fail_msg("target '%s': message '%s' lacks '%s'", target, msg, word);
}

static void test_plan_errors(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 4, 2, 8, 8, 16, 16);
    expect_plan_error("profile:no-such-gpu", &d, CLATTN_ERROR_INVALID_ARGUMENT, "gpu-amd");
    expect_plan_error("host", &d, CLATTN_ERROR_UNSUPPORTED, "host path");
    expect_plan_error("no-such-platform-xyz:gpu:0", &d, CLATTN_ERROR_DEVICE_NOT_FOUND, "no-such-platform-xyz");
    expect_plan_error("a:b:c:d", &d, CLATTN_ERROR_INVALID_ARGUMENT, "more than 3 fields");
    clattn_sdpa_desc bad = d;
    bad.k.dims[1] = bad.v.dims[1] = 3; /* does not divide Hq = 4: the message plan creation gives */
    expect_plan_error("profile:gpu-amd", &bad, CLATTN_ERROR_INVALID_ARGUMENT, "does not divide");
    bad = d;
    bad.struct_size = 0;
    expect_plan_error("profile:gpu-amd", &bad, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_desc_init");
    assert_int_equal(clattn_kernel_plan_create(NULL, "profile:gpu-amd", &d), CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_kernel_plan *kp = NULL;
    assert_int_equal(clattn_kernel_plan_create(&kp, "profile:gpu-amd", NULL), CLATTN_ERROR_INVALID_ARGUMENT);
}

/* ---- the listing against plan creation on the device under test ------------------------------------ */

typedef struct builds {
    int n;
    char source[16][32];
    char options[16][320];
} builds;

/* The log sink: "building common.cl+<source> with '<options>'" (program.c, debug level). */
static void on_log(void *user, clattn_log_level level, const char *msg)
{
    builds *b = user;
    (void)level;
    const char *p = strstr(msg, "building common.cl+"), *w = p ? strstr(p, " with '") : NULL;
    if (!w || b->n == 16) return;
    p += strlen("building common.cl+");
    snprintf(b->source[b->n], sizeof b->source[b->n], "%.*s", (int)(w - p), p);
    w += strlen(" with '");
    snprintf(b->options[b->n], sizeof b->options[b->n], "%.*s", (int)(strlen(w) - 1), w);
    b->n++;
}

static void test_plan_matches_creation(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    static const struct {
        int64_t s[7];
        int probs, path;
    } shapes[] = {
        {{1, 12, 12, 128, 128, 64, 64}, 0, CLATTN_KERNEL_PATH_AUTO},   {{8, 32, 8, 1, 4096, 128, 128}, 0, 0},
        {{2, 4, 2, 7, 33, 40, 24}, 1, CLATTN_KERNEL_PATH_AUTO},        {{1, 2, 2, 100, 100, 300, 300}, 0, 0},
        {{1, 8, 8, 512, 512, 64, 64}, 0, CLATTN_KERNEL_PATH_CHAIN},    {{2, 6, 3, 1, 900, 64, 64}, 0, 0},
    };
    const char *target = getenv("CLATTN_DEVICE"); /* the device under test, CLATTN_DEVICE_PROFILE applied */
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *v = shapes[i].s;
        clattn_sdpa_desc d;
        clattn_sdpa_desc_init(&d, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        d.want_probs = shapes[i].probs;
        d.kernel_path = (clattn_kernel_path)shapes[i].path;

        builds b = {0};
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.cache_dir = "off";
        o.log_level = CLATTN_LOG_DEBUG;
        o.log_fn = on_log;
        o.log_user = &b;
        clattn_context *ctx = NULL;
        assert_int_equal(clattn_context_create(&ctx, &o), CLATTN_SUCCESS);
        clattn_sdpa_plan *plan = NULL;
        if (clattn_sdpa_plan_create(&plan, ctx, &d) != CLATTN_SUCCESS)
            fail_msg("shape %zu: plan: %s", i, clattn_last_error(ctx));
        const char *path = clattn_sdpa_plan_path(plan);

        clattn_kernel_plan *kp = plan_for(target, &d);
        printf("# shape %zu: path %s, %zu kernels listed, %d builds\n", i, path, clattn_kernel_plan_count(kp), b.n);
        for (size_t j = 0; j < clattn_kernel_plan_count(kp); j++) {
            const clattn_planned_kernel *k = clattn_kernel_plan_get(kp, j);
            assert_string_equal(k->path, path);
            /* the first build of its source is the listed program */
            const char *src = strrchr(k->sources, '/') + 1;
            int first = -1;
            for (int m = 0; m < b.n && first < 0; m++)
                if (strcmp(b.source[m], src) == 0) first = m;
            if (first < 0) fail_msg("shape %zu: %s (%s) listed, never built", i, k->entry, src);
            if (strcmp(b.options[first], k->options) != 0)
                fail_msg("shape %zu: %s: listed '%s', built '%s'", i, k->entry, k->options, b.options[first]);
        }
        /* and every source built is listed (but fused.cl when the fused path was tried and the chain serves
         * the plan: its candidates are dropped) */
        for (int m = 0; m < b.n; m++) {
            if (strcmp(path, "chain") == 0 && strcmp(b.source[m], "fused.cl") == 0) continue;
            bool listed = false;
            for (size_t j = 0; j < clattn_kernel_plan_count(kp); j++)
                listed = listed || strstr(clattn_kernel_plan_get(kp, j)->sources, b.source[m]) != NULL;
            if (!listed) fail_msg("shape %zu: %s built, not listed", i, b.source[m]);
        }
        assert_int_equal(clattn_kernel_plan_get(kp, 0)->workspace_bytes, clattn_sdpa_plan_workspace_size(plan));
        clattn_kernel_plan_destroy(kp);
        clattn_sdpa_plan_destroy(plan);
        clattn_context_destroy(ctx);
    }
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    clattn_device_info_init(&g_info);
    clattn_context_get_info(g_ctx, &g_info);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_list_errors_and_abi),
        cmocka_unit_test(test_plans_from_profiles),
        cmocka_unit_test(test_plan_errors),
        cmocka_unit_test(test_plan_matches_creation),
    };
    int failed = cmocka_run_group_tests_name("devices", tests, NULL, NULL);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
