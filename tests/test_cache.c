/*
 * test_cache: the on-disk kernel binary cache of the OpenCL backend, through the public API and
 * environment variables only, on the backend chosen by CLATTN_DEVICE (exit 77 when that is not an
 * OpenCL device). Every case runs one SDPA problem (with probabilities) in fresh contexts and compares
 * out and probs bit for bit with a run made with the cache off (itself checked against the
 * double-precision reference):
 *   - CLATTN_CACHE_DIR=<tmp>/a/b/c: the first context creates the folders (mode 0700) and entries
 *     (*.clbin, no temporary files left); a second context loads them (the entry files keep their
 *     inode: nothing was rebuilt and rewritten).
 *   - entries with flipped payload bytes, a flipped magic byte, a flipped key byte, cut to half, replaced
 *     by garbage, zero-length, with bytes appended, marked format version 1 (the SHA-256 format), or with
 *     a garbage binary under a valid XXH3-128 digest (the driver rejects it): correct results, and each
 *     entry is rewritten
 *     (its bytes differ from the corrupted ones, and it is valid again: the next context loads it
 *     without rewriting it).
 *   - a regular file where the cache folder (or one of its parents) should be, and (when not root) a
 *     read-only folder: correct results, nothing written.
 *   - CLATTN_CACHE_DIR=off: nothing written (XDG_CACHE_HOME and HOME point into the temp folder too).
 *   - default locations: $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn (a relative XDG_CACHE_HOME is
 *     ignored).
 *   - default policy (CLATTN_CACHE_FORCE unset): PoCL is skipped (its own cache is used), other
 *     platforms use the cache.
 *   - the key: a second problem whose build options differ (3 query rows, not 19: other tile sizes) adds
 *     entries and leaves the first problem's alone; kernel sources that differ by one comment
 *     (CLATTN_KERNEL_DIR, a copy of kernels/ next to this file) add one entry per program; the same
 *     inputs again reuse every entry.
 *     Each run is checked against the double-precision reference, so a binary loaded for the wrong key
 *     fails too.
 * Every other case sets CLATTN_CACHE_FORCE=1 so the cache is exercised on PoCL too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdpa_case.h"
#include "test_files.h"

/* The packaged xxHash, header-only (no link needed), to forge a valid payload digest. */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#define MAX_ENTRIES 64
/* Entry layout (src/opencl/cache.h, format 2): 64-byte header, then the key text, then the payload. */
#define ENTRY_HEADER 64
#define ENTRY_FORMAT 2
#define ENTRY_KEY_DIGEST 32
#define ENTRY_PAYLOAD_DIGEST 48
#define PATH_MAX_LEN 1024

static char g_root[PATH_MAX_LEN / 2]; /* mkdtemp folder, removed at exit */
static tu_backend g_backend;
static sdpa_data g_data;
static sdpa_case g_case = {
    .name = "cache", .B = 2, .Hq = 4, .Hkv = 2, .Lq = 19, .Lk = 37, .D = 24, .Dv = 16,
    .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .mask_kind = CLATTN_MASK_BOOL, .mb = 1, .mh = 0, .mq = 1,
    .probs = 1, .softcap = 0.0f, .scale = 0.0f};
static float *g_ref_out, *g_ref_probs; /* outputs of the cache-off run */
static const tu_where g_where = {"cache", "cache", 0};

/* ---- files ---------------------------------------------------------------------------------------- */

static void path_of(char *dst, const char *rel)
{
    snprintf(dst, PATH_MAX_LEN, "%s/%s", g_root, rel);
}

typedef struct entry_list {
    int n;
    char path[MAX_ENTRIES][PATH_MAX_LEN];
    ino_t ino[MAX_ENTRIES];
    off_t size[MAX_ENTRIES];
    int others; /* files that are not *.clbin (e.g. temporary files) */
} entry_list;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Lists the files of dir (sorted by name). A missing folder gives an empty list. */
static void list_entries(const char *dir, entry_list *l)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        if (!ends_with(e->d_name, ".clbin")) {
            l->others++;
            continue;
        }
        assert_true(l->n < MAX_ENTRIES);
        snprintf(l->path[l->n], PATH_MAX_LEN, "%s/%s", dir, e->d_name);
        l->n++;
    }
    closedir(d);
    for (int i = 1; i < l->n; i++) /* insertion sort by path */
        for (int j = i; j > 0 && strcmp(l->path[j - 1], l->path[j]) > 0; j--) {
            char tmp[PATH_MAX_LEN];
            memcpy(tmp, l->path[j], PATH_MAX_LEN);
            memcpy(l->path[j], l->path[j - 1], PATH_MAX_LEN);
            memcpy(l->path[j - 1], tmp, PATH_MAX_LEN);
        }
    for (int i = 0; i < l->n; i++) {
        struct stat sb;
        assert_int_equal(stat(l->path[i], &sb), 0);
        l->ino[i] = sb.st_ino;
        l->size[i] = sb.st_size;
    }
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (size) assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p) { return (uint64_t)get_le32(p + 4) << 32 | get_le32(p); }

/* An entry's name is 32 hex digits (its XXH3-128 key digest) + ".clbin"; its header is format 2. */
static void check_entry_format(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    assert_int_equal(strlen(base), 32 + strlen(".clbin"));
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdef", base[i])) fail_msg("entry name %s: not 32 hex digits", base);
    size_t n;
    unsigned char *b = read_file(path, &n);
    assert_true(n > ENTRY_HEADER);
    assert_memory_equal(b, "CLATTNKC", 8);
    assert_int_equal(get_le32(b + 8), ENTRY_FORMAT);
    assert_int_equal(get_le32(b + 12), ENTRY_HEADER);
    /* The digests the format promises (src/opencl/cache.h), recomputed with the packaged xxHash: the key
     * text's XXH3-128 (canonical bytes) at 32 and as the file name, the payload's at 48. */
    uint64_t klen = get_le64(b + 16), plen = get_le64(b + 24);
    assert_int_equal(ENTRY_HEADER + klen + plen, n);
    XXH128_canonical_t kd, pd;
    XXH128_canonicalFromHash(&kd, XXH3_128bits(b + ENTRY_HEADER, (size_t)klen));
    XXH128_canonicalFromHash(&pd, XXH3_128bits(b + ENTRY_HEADER + klen, (size_t)plen));
    assert_memory_equal(b + ENTRY_KEY_DIGEST, kd.digest, 16);
    assert_memory_equal(b + ENTRY_PAYLOAD_DIGEST, pd.digest, 16);
    char name[33];
    for (int i = 0; i < 16; i++) snprintf(name + 2 * i, 3, "%02x", kd.digest[i]);
    if (strncmp(base, name, 32) != 0) fail_msg("entry name %s: expected the key digest %s", base, name);
    free(b);
}

/* ---- runs ----------------------------------------------------------------------------------------- */

/* Runs the problem in a fresh context and checks out/probs bit for bit against the cache-off run. */
static void run_and_compare(const char *what)
{
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, NULL);
    if (st != CLATTN_SUCCESS) fail_msg("%s: clattn_context_create: %s", what, clattn_last_error(NULL));
    sdpa_data_poison(&g_data);
    st = sdpa_data_run(ctx, &g_data, 0, &g_where);
    if (st != CLATTN_SUCCESS) fail_msg("%s: run failed (%d): %s", what, (int)st, clattn_last_error(ctx));
    clattn_context_destroy(ctx);
    if (memcmp(g_data.out, g_ref_out, (size_t)g_data.no * sizeof(float)) != 0)
        fail_msg("%s: out differs from the cache-off run", what);
    if (memcmp(g_data.probs, g_ref_probs, (size_t)g_data.np * sizeof(float)) != 0)
        fail_msg("%s: probs differ from the cache-off run", what);
}

/* Points CLATTN_CACHE_DIR at <root>/<rel> (removed first), XDG_CACHE_HOME and HOME into the root. */
static void use_cache_dir(const char *rel, char *dir)
{
    char p[PATH_MAX_LEN];
    path_of(dir, rel);
    tu_remove_tree(dir);
    setenv("CLATTN_CACHE_DIR", dir, 1);
    path_of(p, "xdg");
    setenv("XDG_CACHE_HOME", p, 1);
    path_of(p, "home");
    setenv("HOME", p, 1);
    setenv("CLATTN_CACHE_FORCE", "1", 1);
}

/* Fills dir with entries and returns their list. */
static void populate(const char *dir, entry_list *l)
{
    run_and_compare("populate");
    list_entries(dir, l);
    assert_true(l->n > 0);
    assert_int_equal(l->others, 0);
}

/* ---- cases ---------------------------------------------------------------------------------------- */

static void test_cold_then_warm(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN];
    use_cache_dir("cw", dir);
    strcat(dir, "/a/b/c"); /* folders created like mkdir -p */
    setenv("CLATTN_CACHE_DIR", dir, 1);

    entry_list first, second;
    run_and_compare("cold");
    list_entries(dir, &first);
    printf("# %d entries after the first context\n", first.n);
    assert_true(first.n > 0);
    assert_int_equal(first.others, 0); /* no temporary files left behind */
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    for (int i = 0; i < first.n; i++) check_entry_format(first.path[i]);

    run_and_compare("warm");
    list_entries(dir, &second);
    assert_int_equal(second.n, first.n);
    for (int i = 0; i < first.n; i++) {
        assert_string_equal(second.path[i], first.path[i]);
        if (second.ino[i] != first.ino[i]) fail_msg("warm run rewrote %s (it should have loaded it)", first.path[i]);
    }
}

typedef enum corruption {
    FLIP_PAYLOAD, FLIP_MAGIC, FLIP_KEY, TRUNCATE_HALF, GARBAGE, ZERO_LENGTH, APPEND, OLD_FORMAT, FORGED_BINARY,
    CORRUPTION_COUNT
} corruption;
static const char *const corruption_names[] = {"flip payload bytes", "flip a magic byte", "flip a key byte",
                                               "truncate to half",   "garbage",           "zero length",
                                               "append bytes",       "format version 1",
                                               "garbage binary with a valid checksum"};

static void corrupt(const char *path, corruption c)
{
    size_t n;
    unsigned char *b = read_file(path, &n);
    assert_true(n > 200);
    switch (c) {
    case FLIP_PAYLOAD:
        for (size_t i = n - 64; i < n; i += 7) b[i] ^= 0x5a;
        write_file(path, b, n);
        break;
    case FLIP_MAGIC:
        b[3] ^= 0x01;
        write_file(path, b, n);
        break;
    case FLIP_KEY:
        b[ENTRY_HEADER + 20] ^= 0x01;
        write_file(path, b, n);
        break;
    case TRUNCATE_HALF:
        assert_int_equal(truncate(path, (off_t)(n / 2)), 0);
        break;
    case GARBAGE: {
        uint64_t s = 0x9e3779b97f4a7c15u;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            b[i] = (unsigned char)(s >> 56);
        }
        write_file(path, b, n);
        break;
    }
    case ZERO_LENGTH:
        write_file(path, b, 0);
        break;
    case APPEND: {
        FILE *f = fopen(path, "ab");
        assert_non_null(f);
        assert_int_equal(fwrite("extra", 1, 5, f), 5);
        assert_int_equal(fclose(f), 0);
        break;
    }
    case OLD_FORMAT: /* u32 format version at 8: an entry of another format is never read */
        b[8] = 1;
        write_file(path, b, n);
        break;
    case FORGED_BINARY: {
        /* Header fields (src/opencl/cache.h): u64 key length at 16, u64 payload length at 24, payload XXH3-128
         * (canonical byte order) at 48; the payload follows the 64-byte header and the key. The driver
         * must reject it. */
        uint64_t klen = get_le64(b + 16), plen = get_le64(b + 24);
        assert_int_equal(ENTRY_HEADER + klen + plen, n);
        unsigned char *payload = b + ENTRY_HEADER + klen;
        for (uint64_t i = 0; i < plen; i++) payload[i] = (unsigned char)(i * 131 + 7);
        XXH128_canonical_t digest;
        XXH128_canonicalFromHash(&digest, XXH3_128bits(payload, (size_t)plen));
        memcpy(b + ENTRY_PAYLOAD_DIGEST, digest.digest, sizeof digest.digest);
        write_file(path, b, n);
        break;
    }
    case CORRUPTION_COUNT:
        break;
    }
    free(b);
}

static void test_corrupt_entries(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN];
    use_cache_dir("corrupt", dir);
    entry_list good;
    populate(dir, &good);

    for (int c = 0; c < CORRUPTION_COUNT; c++) {
        if (c == FORGED_BINARY && g_backend == TU_RUSTICL) {
            /* Mesa 22.3's rusticl panics (aborts the process) in clCreateProgramWithBinary on a binary
             * it did not write ("unknown version", core/program.rs): only the checksum protects it. */
            printf("# corruption: %s: not tried on rusticl (its clCreateProgramWithBinary aborts)\n",
                   corruption_names[c]);
            continue;
        }
        printf("# corruption: %s\n", corruption_names[c]);
        unsigned char *bad[MAX_ENTRIES];
        size_t bad_size[MAX_ENTRIES];
        for (int i = 0; i < good.n; i++) {
            corrupt(good.path[i], (corruption)c);
            bad[i] = read_file(good.path[i], &bad_size[i]);
        }
        entry_list rewritten, again;
        run_and_compare(corruption_names[c]);
        list_entries(dir, &rewritten);
        assert_int_equal(rewritten.n, good.n);
        assert_int_equal(rewritten.others, 0);
        for (int i = 0; i < good.n; i++) {
            assert_string_equal(rewritten.path[i], good.path[i]);
            size_t n;
            unsigned char *b = read_file(rewritten.path[i], &n);
            if (n == bad_size[i] && memcmp(b, bad[i], n) == 0)
                fail_msg("%s: %s was not rewritten", corruption_names[c], good.path[i]);
            free(b);
            check_entry_format(rewritten.path[i]);
            free(bad[i]);
        }
        /* The rewritten entries are valid: the next context loads them without rewriting. */
        run_and_compare("after rewrite");
        list_entries(dir, &again);
        assert_int_equal(again.n, good.n);
        for (int i = 0; i < good.n; i++)
            if (again.ino[i] != rewritten.ino[i])
                fail_msg("%s: the rewritten %s was rejected again", corruption_names[c], good.path[i]);
        good = again;
    }
}

static void test_unwritable(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN], sub[PATH_MAX_LEN + 8];

    /* A regular file where the cache folder should be. */
    use_cache_dir("file", dir);
    write_file(dir, "not a folder", 12);
    run_and_compare("regular file as the cache folder");
    size_t n;
    unsigned char *b = read_file(dir, &n);
    assert_int_equal(n, 12);
    assert_memory_equal(b, "not a folder", 12);
    free(b);

    /* A regular file where a parent folder should be. */
    snprintf(sub, sizeof sub, "%s/x/y", dir);
    setenv("CLATTN_CACHE_DIR", sub, 1);
    run_and_compare("regular file as a parent folder");
    tu_remove_tree(dir);

    /* A read-only folder (root ignores permissions: then it only has to keep working). */
    use_cache_dir("readonly", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0500), 0);
    run_and_compare("read-only folder");
    entry_list l;
    list_entries(dir, &l);
    if (geteuid() != 0) {
        assert_int_equal(l.n, 0);
        assert_int_equal(l.others, 0);
    }
    chmod(dir, 0700);

    /* A folder in place of an entry file. */
    use_cache_dir("dirs", dir);
    entry_list good;
    populate(dir, &good);
    for (int i = 0; i < good.n; i++) {
        assert_int_equal(unlink(good.path[i]), 0);
        assert_int_equal(mkdir(good.path[i], 0700), 0);
    }
    run_and_compare("folders in place of the entries");
    for (int i = 0; i < good.n; i++) {
        struct stat sb;
        assert_int_equal(stat(good.path[i], &sb), 0);
        assert_true(S_ISDIR(sb.st_mode));
    }
}

static void test_off(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN], p[PATH_MAX_LEN];
    use_cache_dir("off", dir);
    tu_remove_tree(getenv("XDG_CACHE_HOME"));
    tu_remove_tree(getenv("HOME"));
    setenv("CLATTN_CACHE_DIR", "off", 1);
    run_and_compare("CLATTN_CACHE_DIR=off");
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0);
    path_of(p, "xdg/clattn");
    assert_int_not_equal(stat(p, &sb), 0);
    path_of(p, "home/.cache/clattn");
    assert_int_not_equal(stat(p, &sb), 0);
}

static void test_default_locations(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN], p[PATH_MAX_LEN];
    entry_list l;
    use_cache_dir("unused", dir);
    tu_remove_tree(getenv("XDG_CACHE_HOME"));
    tu_remove_tree(getenv("HOME"));
    unsetenv("CLATTN_CACHE_DIR");

    run_and_compare("XDG_CACHE_HOME");
    path_of(p, "xdg/clattn");
    list_entries(p, &l);
    assert_true(l.n > 0);

    setenv("XDG_CACHE_HOME", "relative/path", 1); /* ignored (XDG Base Directory rule) */
    run_and_compare("HOME");
    path_of(p, "home/.cache/clattn");
    list_entries(p, &l);
    assert_true(l.n > 0);
    struct stat sb;
    assert_int_not_equal(stat("relative/path/clattn", &sb), 0);

    unsetenv("XDG_CACHE_HOME");
    tu_remove_tree(p);
    run_and_compare("HOME, XDG_CACHE_HOME unset");
    list_entries(p, &l);
    assert_true(l.n > 0);
}

static void test_default_policy(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN];
    use_cache_dir("policy", dir);
    unsetenv("CLATTN_CACHE_FORCE");
    run_and_compare("default policy");
    entry_list l;
    list_entries(dir, &l);
    printf("# %s: %d entries with the default policy\n", tu_backend_name(g_backend), l.n);
    if (g_backend == TU_POCL) assert_int_equal(l.n, 0); /* PoCL's own cache is used instead */
    else assert_true(l.n > 0);
}

/* ---- key ------------------------------------------------------------------------------------------ */

/* Runs case c in a fresh context and checks it against the double-precision reference. */
static void run_checked(const sdpa_case *c, const char *what)
{
    tu_rng r;
    sdpa_data d;
    tu_rng_init(&r, tu_case_seed(c->name, 0));
    sdpa_data_make(&d, c, &r);
    clattn_context *ctx = NULL;
    if (clattn_context_create(&ctx, NULL) != CLATTN_SUCCESS)
        fail_msg("%s: clattn_context_create: %s", what, clattn_last_error(NULL));
    clattn_status st = sdpa_data_run(ctx, &d, 0, &g_where);
    if (st != CLATTN_SUCCESS) fail_msg("%s: run failed (%d): %s", what, (int)st, clattn_last_error(ctx));
    clattn_context_destroy(ctx);
    if (!sdpa_data_check(&d, &g_where)) fail_msg("%s: results differ from the reference", what);
    sdpa_data_free(&d);
}

/* Every entry of before is still in after, not rewritten (same inode); returns how many after adds. */
static int added_entries(const entry_list *before, const entry_list *after, const char *what)
{
    for (int i = 0; i < before->n; i++) {
        int j = 0;
        while (j < after->n && strcmp(after->path[j], before->path[i]) != 0) j++;
        if (j == after->n) fail_msg("%s: entry %s disappeared", what, before->path[i]);
        if (after->ino[j] != before->ino[i]) fail_msg("%s: entry %s was rewritten", what, before->path[i]);
    }
    assert_int_equal(after->others, 0);
    return after->n - before->n;
}

/* Copies the .cl files of the source tree's kernels/ (CLATTN_TEST_KERNEL_SRC_DIR, set by CMake) into
 * dst, with a comment appended to common.cl (which every program includes). False when they are not there. */
static bool copy_kernels_changed(const char *dst)
{
    char src[PATH_MAX_LEN];
    snprintf(src, sizeof src, "%s", CLATTN_TEST_KERNEL_SRC_DIR);
    DIR *d = opendir(src);
    if (!d) return false;
    assert_int_equal(mkdir(dst, 0700), 0);
    struct dirent *e;
    int copied = 0;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".cl")) continue;
        char from[2 * PATH_MAX_LEN], to[2 * PATH_MAX_LEN];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        size_t n;
        unsigned char *b = read_file(from, &n);
        static const char note[] = "\n/* test_cache: a change that only the cache key sees */\n";
        if (strcmp(e->d_name, "common.cl") == 0) {
            unsigned char *bigger = realloc(b, n + sizeof note);
            assert_non_null(bigger);
            b = bigger;
            memcpy(b + n, note, sizeof note - 1);
            n += sizeof note - 1;
        }
        write_file(to, b, n);
        free(b);
        copied++;
    }
    closedir(d);
    return copied > 0;
}

static void test_key_inputs(void **state)
{
    (void)state;
    char dir[PATH_MAX_LEN], kdir[PATH_MAX_LEN];
    entry_list first, second, third, again;
    use_cache_dir("key", dir);
    populate(dir, &first);

    /* Other build options for the same sources (3 query rows instead of 19 give the scores and
     * weighted-sum stages other -D tile sizes): new entries, the first problem's untouched. */
    sdpa_case other = g_case;
    other.name = "cache_key_lq3";
    other.Lq = 3;
    run_checked(&other, "3 query rows");
    list_entries(dir, &second);
    int added = added_entries(&first, &second, "3 query rows");
    printf("# %d entries for 19 query rows, %d more for 3\n", first.n, added);
    if (added <= 0) fail_msg("other build options reused the entries of the first problem");

    /* The same inputs again: every entry reused, nothing written. */
    run_and_compare("same inputs");
    run_checked(&other, "3 query rows again");
    list_entries(dir, &again);
    assert_int_equal(added_entries(&second, &again, "same inputs"), 0);

    /* Other source text (one comment more in common.cl): one new entry per program. */
    path_of(kdir, "key_kernels");
    tu_remove_tree(kdir);
    if (!copy_kernels_changed(kdir)) fail_msg("kernel sources not found in %s", CLATTN_TEST_KERNEL_SRC_DIR);
    setenv("CLATTN_KERNEL_DIR", kdir, 1);
    run_and_compare("changed source");
    unsetenv("CLATTN_KERNEL_DIR");
    list_entries(dir, &third);
    added = added_entries(&second, &third, "changed source");
    printf("# %d more entries for the changed source\n", added);
    if (added != first.n) fail_msg("changed source: %d new entries, expected %d (one per program)", added, first.n);
}

/* ---- main ----------------------------------------------------------------------------------------- */

static void cleanup_root(void)
{
    if (g_root[0]) tu_remove_tree(g_root);
}

int main(void)
{
    /* The reference run below must not touch any cache: the context reads CLATTN_CACHE_DIR when it is
     * created (core/config.c), so set it first. */
    setenv("CLATTN_CACHE_DIR", "off", 1);
    clattn_context *ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(ctx);
    if (g_backend == TU_HOST) {
        printf("SKIP: the kernel cache is an OpenCL feature; CLATTN_DEVICE selects the host path\n");
        clattn_context_destroy(ctx);
        return TU_SKIP;
    }

    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/clattn_test_cache.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_root)) {
        fprintf(stderr, "FAIL: mkdtemp(%s): %s\n", g_root, strerror(errno));
        return 1;
    }
    atexit(cleanup_root);

    /* The reference run: cache off, checked against the double-precision reference. */
    tu_rng r;
    tu_rng_init(&r, tu_case_seed("cache", 0));
    sdpa_data_make(&g_data, &g_case, &r);
    if (sdpa_data_run(ctx, &g_data, 0, &g_where) != CLATTN_SUCCESS || !sdpa_data_check(&g_data, &g_where)) {
        fprintf(stderr, "FAIL: the cache-off reference run\n");
        return 1;
    }
    clattn_context_destroy(ctx);
    g_ref_out = malloc((size_t)g_data.no * sizeof(float));
    g_ref_probs = malloc((size_t)g_data.np * sizeof(float));
    if (!g_ref_out || !g_ref_probs) return 1;
    memcpy(g_ref_out, g_data.out, (size_t)g_data.no * sizeof(float));
    memcpy(g_ref_probs, g_data.probs, (size_t)g_data.np * sizeof(float));

    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_then_warm), cmocka_unit_test(test_corrupt_entries),
        cmocka_unit_test(test_unwritable),     cmocka_unit_test(test_off),
        cmocka_unit_test(test_default_locations), cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_key_inputs),
    };
    int failed = tu_run_group("cache", tests, sizeof tests / sizeof tests[0]);

    sdpa_data_free(&g_data);
    free(g_ref_out);
    free(g_ref_probs);
    return failed ? 1 : 0;
}
