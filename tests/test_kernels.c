/*
 * The kernel table (clattn_kernel_count / clattn_kernel_get, `clattn kernels`) stays true:
 *   - every __kernel in kernels/<name>.cl has exactly one opencl entry, and every entry whose source is a
 *     .cl file names a __kernel of that file (the files are parsed here, comments stripped);
 *   - every entry's source file exists and names its entry point (the file or a header of its folder:
 *     the host ISA variants are declared in src/host/fused.h and instantiated by macros);
 *   - every path in the table is a documented plan path (docs/ARCHITECTURE.md, "Path names") or one of the
 *     non-SDPA entries "mha" (the projections of clattn_mha_forward), "merge" (clattn_merge_*) and
 *     "kv-append" (clattn_kv_append_*),
 *     every documented path has a kernel, and the path small plans really report — on the host (chain and
 *     each fused ISA the CPU runs, tiled and decode shapes) and on PoCL when present (chain and fused) —
 *     is in the table for that backend.
 * CLATTN_TEST_SOURCE_DIR (the source tree) comes from tests/CMakeLists.txt. Picks its devices itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>

#include "sdpa_case.h"

#ifndef CLATTN_TEST_SOURCE_DIR
#error "CLATTN_TEST_SOURCE_DIR must name the source tree"
#endif

#define MAX_NAMES 256

/* Reads <CLATTN_TEST_SOURCE_DIR>/<rel> into a malloc'd string; NULL when it cannot be read. */
static char *read_source(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CLATTN_TEST_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            assert_non_null(b);
            buf = b;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Blanks C comments in place (kernel banners mention __kernel). */
static void strip_comments(char *s)
{
    for (char *p = s; *p; p++) {
        if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            char *end = e ? e + 2 : p + strlen(p);
            memset(p, ' ', (size_t)(end - p));
            p = end - 1;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') *p++ = ' ';
            if (!*p) break;
        }
    }
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True when `name` occurs in s as a whole identifier. */
static bool has_ident(const char *s, const char *name)
{
    const size_t n = strlen(name);
    for (const char *p = strstr(s, name); p; p = strstr(p + 1, name))
        if ((p == s || !ident_char(p[-1])) && !ident_char(p[n])) return true;
    return false;
}

/* The __kernel function names of one .cl source (comments stripped): after each `__kernel`, skip
 * `__attribute__((...))`, take the identifier before the first '('. Returns the count. */
static int kernel_names(char *src, char names[][64], int max)
{
    strip_comments(src);
    int n = 0;
    for (char *p = strstr(src, "__kernel"); p; p = strstr(p + 1, "__kernel")) {
        if (p > src && ident_char(p[-1])) continue;
        char *q = p + 8;
        if (ident_char(*q)) continue;
        for (;;) {
            while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r') q++;
            if (strncmp(q, "__attribute__", 13) != 0) break;
            q = strchr(q, '(');
            assert_non_null(q);
            int depth = 0;
            do {
                if (*q == '(') depth++;
                else if (*q == ')') depth--;
                q++;
            } while (depth > 0 && *q);
        }
        char *paren = strchr(q, '(');
        assert_non_null(paren);
        char *e = paren;
        while (e > q && !ident_char(e[-1])) e--;
        char *b = e;
        while (b > q && ident_char(b[-1])) b--;
        assert_true(e > b && e - b < 64);
        assert_true(n < max);
        snprintf(names[n++], 64, "%.*s", (int)(e - b), b);
    }
    return n;
}

/* ---- (a) the table against the sources ----------------------------------------------------------- */

static void test_table_shape(void **state)
{
    (void)state;
    const size_t n = clattn_kernel_count();
    assert_true(n > 0);
    assert_null(clattn_kernel_get(n));
    for (size_t i = 0; i < n; i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        assert_non_null(e);
        assert_int_equal(e->struct_size, sizeof(clattn_kernel_entry));
        assert_true(CLATTN_KERNEL_ENTRY_HAS(e, description));
        const char *fields[] = {e->backend, e->paths, e->stage, e->source, e->entry, e->description};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            assert_non_null(fields[f]);
            assert_true(fields[f][0] != '\0');
        }
        const bool cl = strcmp(e->backend, "opencl") == 0;
        if (!cl && strcmp(e->backend, "host") != 0) fail_msg("entry %s: backend '%s'", e->entry, e->backend);
        if (cl ? strncmp(e->source, "kernels/", 8) != 0 && strncmp(e->source, "src/opencl/", 11) != 0
               : strncmp(e->source, "src/host/", 9) != 0)
            fail_msg("entry %s: source '%s' is outside its backend's folders", e->entry, e->source);
        for (size_t j = 0; j < i; j++) { /* (backend, entry) is a key */
            const clattn_kernel_entry *o = clattn_kernel_get(j);
            if (strcmp(o->backend, e->backend) == 0 && strcmp(o->entry, e->entry) == 0)
                fail_msg("entry %s/%s is listed twice", e->backend, e->entry);
        }
    }
}

static void test_every_cl_kernel_listed(void **state)
{
    (void)state;
    DIR *d = opendir(CLATTN_TEST_SOURCE_DIR "/kernels");
    assert_non_null(d);
    int files = 0, kernels = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        const size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".cl") != 0) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "kernels/%s", de->d_name);
        char *src = read_source(rel);
        assert_non_null(src);
        static char names[MAX_NAMES][64];
        const int nk = kernel_names(src, names, MAX_NAMES);
        free(src);
        files++;
        for (int k = 0; k < nk; k++) {
            int hits = 0;
            for (size_t i = 0; i < clattn_kernel_count(); i++) {
                const clattn_kernel_entry *e = clattn_kernel_get(i);
                if (strcmp(e->backend, "opencl") == 0 && strcmp(e->entry, names[k]) == 0) {
                    hits++;
                    if (strcmp(e->source, rel) != 0)
                        fail_msg("__kernel %s is in %s but its entry says %s", names[k], rel, e->source);
                }
            }
            if (hits != 1)
                fail_msg("__kernel %s (%s) has %d entries in the kernel table, expected 1 (add its row to "
                         "src/opencl/kernel_table.c)", names[k], rel, hits);
            kernels++;
        }
    }
    closedir(d);
    assert_true(files >= 6);
    print_message("%d __kernel functions in %d .cl files, each listed once\n", kernels, files);
}

static void test_entries_exist_in_sources(void **state)
{
    (void)state;
    for (size_t i = 0; i < clattn_kernel_count(); i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        char *src = read_source(e->source);
        if (!src) fail_msg("entry %s: source %s does not exist", e->entry, e->source);
        const size_t len = strlen(e->source);
        if (len > 3 && strcmp(e->source + len - 3, ".cl") == 0) {
            static char names[MAX_NAMES][64];
            const int nk = kernel_names(src, names, MAX_NAMES);
            bool found = false;
            for (int k = 0; k < nk; k++) found = found || strcmp(names[k], e->entry) == 0;
            if (!found) fail_msg("entry %s: %s has no __kernel of that name", e->entry, e->source);
            free(src);
            continue;
        }
        strip_comments(src);
        bool found = has_ident(src, e->entry);
        free(src);
        if (!found) { /* a header of the same folder (functions instantiated by macros are declared there) */
            char dir[512];
            snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(e->source, '/') - e->source), e->source);
            char full[1024];
            snprintf(full, sizeof full, "%s/%s", CLATTN_TEST_SOURCE_DIR, dir);
            DIR *d = opendir(full);
            assert_non_null(d);
            for (struct dirent *de; !found && (de = readdir(d)) != NULL;) {
                const size_t hl = strlen(de->d_name);
                if (hl < 3 || strcmp(de->d_name + hl - 2, ".h") != 0) continue;
                char rel[1024];
                snprintf(rel, sizeof rel, "%s/%s", dir, de->d_name);
                char *h = read_source(rel);
                assert_non_null(h);
                strip_comments(h);
                found = has_ident(h, e->entry);
                free(h);
            }
            closedir(d);
        }
        if (!found) fail_msg("entry %s: not named in %s nor in a header beside it", e->entry, e->source);
    }
}

/* ---- (b) paths ------------------------------------------------------------------------------------- */

/* The path names docs/ARCHITECTURE.md lists after "Path names": each `name` up to the blank line. */
static int documented_paths(char names[][64], int max)
{
    char *doc = read_source("docs/ARCHITECTURE.md");
    assert_non_null(doc);
    char *p = strstr(doc, "Path names");
    assert_non_null(p);
    char *end = strstr(p, "\n\n");
    if (end) *end = '\0';
    p = strchr(p, ':'); /* after "(`clattn_sdpa_plan_path()`)" */
    assert_non_null(p);
    int n = 0;
    for (char *b = strchr(p, '`'); b; b = strchr(b, '`')) {
        char *e = strchr(b + 1, '`');
        if (!e) break;
        assert_true(n < max && e - b - 1 < 64);
        snprintf(names[n++], 64, "%.*s", (int)(e - b - 1), b + 1);
        b = e + 1;
    }
    free(doc);
    return n;
}

/* True when the space-separated list has the word. */
static bool list_has(const char *list, const char *word)
{
    const size_t n = strlen(word);
    for (const char *p = list; *p; p += strspn(p, " ")) {
        const size_t w = strcspn(p, " ");
        if (w == n && strncmp(p, word, n) == 0) return true;
        p += w;
    }
    return false;
}

/* True when some entry of backend has the path. */
static bool table_has_path(const char *backend, const char *path)
{
    for (size_t i = 0; i < clattn_kernel_count(); i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        if ((!backend || strcmp(e->backend, backend) == 0) && list_has(e->paths, path)) return true;
    }
    return false;
}

static void test_paths_documented(void **state)
{
    (void)state;
    static char doc[32][64];
    const int nd = documented_paths(doc, 32);
    assert_true(nd >= 6);
    for (int k = 0; k < nd; k++) {
        const char *be = strncmp(doc[k], "host-", 5) == 0 ? "host" : "opencl";
        if (!table_has_path(be, doc[k])) fail_msg("documented path '%s' has no %s kernel in the table", doc[k], be);
    }
    for (size_t i = 0; i < clattn_kernel_count(); i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        for (const char *p = e->paths; *p; p += strspn(p, " ")) {
            char word[64];
            const size_t w = strcspn(p, " ");
            snprintf(word, sizeof word, "%.*s", (int)w, p);
            p += w;
            const bool not_sdpa =
                strcmp(word, "mha") == 0 || strcmp(word, "merge") == 0 || strcmp(word, "kv-append") == 0;
            bool ok = not_sdpa;
            for (int k = 0; k < nd && !ok; k++) ok = strcmp(word, doc[k]) == 0;
            if (!ok) fail_msg("entry %s: path '%s' is not documented in docs/ARCHITECTURE.md", e->entry, word);
            if (!not_sdpa && (strncmp(word, "host-", 5) == 0) != (strcmp(e->backend, "host") == 0))
                fail_msg("entry %s: path '%s' belongs to the other backend", e->entry, word);
        }
    }
}

/* Plans one small problem (Lq query rows, 4 query heads over 1 kv head, no probabilities) on ctx with
 * the given kernel path; returns the path reported, copied to out. */
static void plan_path(clattn_context *ctx, int64_t Lq, clattn_kernel_path kp, char *out, size_t len)
{
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 4, 1, Lq, 64, 32, 32);
    d.kernel_path = kp;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &d);
    if (st != CLATTN_SUCCESS)
        fail_msg("plan (Lq %lld): %s: %s", (long long)Lq, clattn_status_string(st), clattn_last_error(ctx));
    snprintf(out, len, "%s", clattn_sdpa_plan_path(plan));
    clattn_sdpa_plan_destroy(plan);
}

/* Opens a context on device with host_isa; false (and a message) when it is absent here. */
static bool open_ctx(clattn_context **ctx, const char *device, clattn_host_isa isa)
{
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    o.host_isa = isa;
    clattn_status st = clattn_context_create(ctx, &o);
    if (st == CLATTN_ERROR_DEVICE_NOT_FOUND || st == CLATTN_ERROR_UNSUPPORTED) {
        print_message("(%s isa %d absent here: %s)\n", device, (int)isa, clattn_status_string(st));
        return false;
    }
    if (st != CLATTN_SUCCESS)
        fail_msg("context on %s: %s: %s", device, clattn_status_string(st), clattn_last_error(NULL));
    return true;
}

static void check_reported(const char *backend, const char *path, int *checked)
{
    if (!table_has_path(backend, path))
        fail_msg("a %s plan reported path '%s', which no %s entry of the kernel table lists", backend, path, backend);
    print_message("%s plan path '%s' is in the table\n", backend, path);
    (*checked)++;
}

static void test_reported_paths_listed(void **state)
{
    (void)state;
    int checked = 0;
    const clattn_host_isa isas[] = {CLATTN_HOST_ISA_AUTO, CLATTN_HOST_ISA_PORTABLE, CLATTN_HOST_ISA_AVX2,
                                    CLATTN_HOST_ISA_AVX512};
    char path[64];
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
        clattn_context *ctx = NULL;
        if (!open_ctx(&ctx, "host", isas[k])) continue;
        const int64_t lqs[] = {16, 1}; /* tiled and decode shapes */
        for (int l = 0; l < 2; l++) {
            plan_path(ctx, lqs[l], CLATTN_KERNEL_PATH_FUSED, path, sizeof path);
            if (strncmp(path, "host-fused-", 11) != 0) fail_msg("host fused plan reported '%s'", path);
            check_reported("host", path, &checked);
        }
        plan_path(ctx, 16, CLATTN_KERNEL_PATH_CHAIN, path, sizeof path);
        check_reported("host", path, &checked);
        clattn_context_destroy(ctx);
    }
    clattn_context *ctx = NULL;
    if (open_ctx(&ctx, "portable", CLATTN_HOST_ISA_DEFAULT)) { /* PoCL */
        const clattn_kernel_path kps[] = {CLATTN_KERNEL_PATH_CHAIN, CLATTN_KERNEL_PATH_FUSED};
        for (int k = 0; k < 2; k++) {
            plan_path(ctx, 16, kps[k], path, sizeof path);
            check_reported("opencl", path, &checked);
        }
        clattn_context_destroy(ctx);
    }
    assert_true(checked >= 5); /* at least the portable host ISA and the row-by-row path */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_shape),          cmocka_unit_test(test_every_cl_kernel_listed),
        cmocka_unit_test(test_entries_exist_in_sources), cmocka_unit_test(test_paths_documented),
        cmocka_unit_test(test_reported_paths_listed),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
