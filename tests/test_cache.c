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
 *     by garbage, zero-length, with bytes appended, or with a garbage binary under a valid checksum (the
 *     driver rejects it): correct results, and each entry is rewritten
 *     (its bytes differ from the corrupted ones, and it is valid again: the next context loads it
 *     without rewriting it).
 *   - a regular file where the cache folder (or one of its parents) should be, and (when not root) a
 *     read-only folder: correct results, nothing written.
 *   - CLATTN_CACHE_DIR=off: nothing written (XDG_CACHE_HOME and HOME point into the temp folder too).
 *   - default locations: $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn (a relative XDG_CACHE_HOME is
 *     ignored).
 *   - default policy (CLATTN_CACHE_FORCE unset): PoCL is skipped (its own cache is used), other
 *     platforms use the cache.
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

#define MAX_ENTRIES 64
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

/* rm -r */
static void remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char child[PATH_MAX_LEN];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
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

/* SHA-256 (FIPS 180-4), to forge entries whose checksum is right but whose binary is not. */
static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}
static void sha256(const unsigned char *msg, size_t n, unsigned char out[32])
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t padded = (n + 9 + 63) / 64 * 64;
    unsigned char *m = calloc(padded, 1);
    assert_non_null(m);
    memcpy(m, msg, n);
    m[n] = 0x80;
    for (int i = 0; i < 8; i++) m[padded - 1 - i] = (unsigned char)((uint64_t)n * 8 >> (8 * i));
    for (size_t blk = 0; blk < padded; blk += 64) {
        uint32_t w[64], v[8];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[blk + 4 * i] << 24 | (uint32_t)m[blk + 4 * i + 1] << 16 |
                   (uint32_t)m[blk + 4 * i + 2] << 8 | m[blk + 4 * i + 3];
        for (int i = 16; i < 64; i++)
            w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
                   (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
        memcpy(v, h, sizeof v);
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
                          k[i] + w[i];
            uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
            memmove(v + 1, v, 7 * sizeof v[0]);
            v[4] += t1;
            v[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++) h[i] += v[i];
    }
    free(m);
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
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
    remove_tree(dir);
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
    for (int i = 0; i < first.n; i++) {
        size_t n;
        unsigned char *b = read_file(first.path[i], &n);
        assert_true(n > 96);
        assert_memory_equal(b, "CLATTNKC", 8);
        free(b);
    }

    run_and_compare("warm");
    list_entries(dir, &second);
    assert_int_equal(second.n, first.n);
    for (int i = 0; i < first.n; i++) {
        assert_string_equal(second.path[i], first.path[i]);
        if (second.ino[i] != first.ino[i]) fail_msg("warm run rewrote %s (it should have loaded it)", first.path[i]);
    }
}

typedef enum corruption {
    FLIP_PAYLOAD, FLIP_MAGIC, FLIP_KEY, TRUNCATE_HALF, GARBAGE, ZERO_LENGTH, APPEND, FORGED_BINARY,
    CORRUPTION_COUNT
} corruption;
static const char *const corruption_names[] = {"flip payload bytes", "flip a magic byte", "flip a key byte",
                                               "truncate to half",   "garbage",           "zero length",
                                               "append bytes",       "garbage binary with a valid checksum"};

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
        b[96 + 20] ^= 0x01;
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
    case FORGED_BINARY: {
        /* Header fields (cl_cache.h): u64 key length at 16, u64 payload length at 24, payload SHA-256 at
         * 64; the payload follows the 96-byte header and the key. The driver must reject it. */
        uint64_t klen = 0, plen = 0;
        for (int i = 7; i >= 0; i--) {
            klen = klen << 8 | b[16 + i];
            plen = plen << 8 | b[24 + i];
        }
        assert_int_equal(96 + klen + plen, n);
        unsigned char *payload = b + 96 + klen;
        for (uint64_t i = 0; i < plen; i++) payload[i] = (unsigned char)(i * 131 + 7);
        sha256(payload, (size_t)plen, b + 64);
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
            assert_true(n > 96);
            assert_memory_equal(b, "CLATTNKC", 8);
            free(b);
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
    remove_tree(dir);

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
    remove_tree(getenv("XDG_CACHE_HOME"));
    remove_tree(getenv("HOME"));
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
    remove_tree(getenv("XDG_CACHE_HOME"));
    remove_tree(getenv("HOME"));
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
    remove_tree(p);
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

/* ---- main ----------------------------------------------------------------------------------------- */

static void cleanup_root(void)
{
    if (g_root[0]) remove_tree(g_root);
}

int main(void)
{
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
    setenv("CLATTN_CACHE_DIR", "off", 1);
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
    };
    int failed = tu_run_group("cache", tests, sizeof tests / sizeof tests[0]);

    sdpa_data_free(&g_data);
    free(g_ref_out);
    free(g_ref_probs);
    return failed ? 1 : 0;
}
