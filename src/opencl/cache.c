/*
 * On-disk cache of compiled OpenCL programs: folder resolution, key, entry format, atomic writes and
 * validation. The contract (where, key, format, trust, policy) is in cache.h.
 */
#include "alloc.h"
#include "cache.h"
#include "opencl.h" /* the context's configuration (folder, force) and log */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Header-only (XXH_INLINE_ALL, set by the clattn::xxhash target; defined here too for other builds):
 * libclattn gains no link dependency, and the one-shot XXH3_128bits() allocates nothing. */
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>
#if XXH_VERSION_NUMBER < 800
#error "clattn needs xxHash 0.8.0 or later (XXH3_128bits); Debian: libxxhash-dev"
#endif

#define CACHE_MAGIC "CLATTNKC"
#define CACHE_FORMAT 2u /* 1: SHA-256 digests, 96-byte header; 2: XXH3-128 digests, 64-byte header */
#define CACHE_HEADER 64u
#define CACHE_KEY_DIGEST 32u     /* header offset of the key text's digest */
#define CACHE_PAYLOAD_DIGEST 48u /* header offset of the payload's digest */
_Static_assert(CACHE_PAYLOAD_DIGEST + CLATTN_CL_CACHE_DIGEST == CACHE_HEADER, "header layout");
#define CACHE_SUFFIX ".clbin"
#define CACHE_MAX_FILE ((uint64_t)1 << 30) /* larger files are not entries of ours */
#define NOTE_MAX 512

/* ---- notes ---------------------------------------------------------------------------------------- */

static _Thread_local char note_buf[NOTE_MAX];

const char *clattn_cl_cache_note(void)
{
    return note_buf;
}

/* Records a cache event (clattn_cl_cache_note) and logs it at CLATTN_LOG_DEBUG on the entry's context. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void note(const clattn_cl_cache_entry *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note_buf, sizeof note_buf, fmt, ap);
    va_end(ap);
    clattn_log(e->ctx, CLATTN_LOG_DEBUG, "kernel cache: %s", note_buf);
}

/* ---- digests ------------------------------------------------------------------------------------- */

void clattn_cl_cache_digest(const void *data, size_t n, unsigned char digest[CLATTN_CL_CACHE_DIGEST])
{
    /* The one-shot form: no state to allocate (XXH3_createState would bypass clattn_malloc). */
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, n));
    memcpy(digest, c.digest, CLATTN_CL_CACHE_DIGEST);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- little-endian fields ------------------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- growable text -------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

/* Appends "<name> <len>:<value>\n" (length-prefixed, so no value can forge another field). */
static void sb_field(sbuf *s, const char *name, const char *value)
{
    if (s->oom) return;
    size_t vlen = strlen(value);
    size_t need = s->len + strlen(name) + vlen + 32;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 512;
        while (cap < need) cap *= 2;
        char *p = clattn_realloc(s->p, cap);
        if (!p) {
            s->oom = true;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    s->len += (size_t)snprintf(s->p + s->len, s->cap - s->len, "%s %zu:%s\n", name, vlen, value);
}

/* Platform or device string property, malloc'd ("" when the query fails); NULL only when out of memory. */
static char *cl_string(cl_platform_id plat, cl_device_id dev, cl_uint param)
{
    size_t size = 0;
    cl_int err = plat ? clGetPlatformInfo(plat, param, 0, NULL, &size) : clGetDeviceInfo(dev, param, 0, NULL, &size);
    if (err != CL_SUCCESS || size == 0) size = 1;
    char *s = clattn_calloc(size + 1, 1);
    if (!s) return NULL;
    if (err == CL_SUCCESS && size > 1) {
        err = plat ? clGetPlatformInfo(plat, param, size, s, NULL) : clGetDeviceInfo(dev, param, size, s, NULL);
        if (err != CL_SUCCESS) s[0] = '\0';
    }
    s[size] = '\0';
    return s;
}

/* ---- folder --------------------------------------------------------------------------------------- */

/* The cache folder (malloc'd) from the context's configuration (cache_dir option, CLATTN_CACHE_DIR,
 * XDG_CACHE_HOME or HOME: core/config.c), or NULL when the cache is off or no folder can be named. */
static char *cache_dir(const clattn_cl_cache_entry *e)
{
    const char *dir = e->ctx->config.cache_dir;
    if (!dir) {
        note(e, "off (cache_dir \"off\", or no CLATTN_CACHE_DIR, XDG_CACHE_HOME or HOME)");
        return NULL;
    }
    return clattn_strdup(dir);
}

/* mkdir -p with mode 0700 for every folder it creates. Returns 0 or an errno value. */
static int mkdir_p(const char *dir)
{
    char *p = clattn_strdup(dir);
    if (!p) return ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                rc = errno;
                break;
            }
            *s = saved;
            if (saved == '\0') break;
        }
    }
    free(p);
    if (rc) return rc;
    struct stat sb;
    if (stat(dir, &sb) != 0) return errno;
    return S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
}

/* ---- policy --------------------------------------------------------------------------------------- */

/* Whether our cache is used: where the device rules say so (rules.c binary_cache, CACHE: off on PoCL),
 * and on every platform with CLATTN_CACHE_FORCE=1.
 *
 * Measured on the 2-core Zen 4 machine (a plan of 1x8x128x64: 3 programs on PoCL, 5 on rusticl; fresh
 * process; plan_create + first execute):
 *   PoCL 3.1: its own cache warm: 0.14 s without ours, 0.01-0.02 s with ours warm. But PoCL answers
 *     CL_PROGRAM_BINARY_SIZES by compiling every kernel of the program for a dynamic work-group size
 *     (~1.5 s per program here) unless its own cache already holds that, so storing an entry made a cold
 *     first call take 8.7-9.9 s instead of 3.4-5.8 s, and it does again after every clattn or driver
 *     upgrade. PoCL's cache alone already meets the < 0.3 s warm target: skip ours on PoCL.
 *   rusticl (Mesa 22.3, llvmpipe): with Mesa's shader cache warm, plan_create 0.06-0.15 s without ours,
 *     0.01-0.02 s with ours warm; storing costs nothing measurable: use ours. */
static bool cache_policy(const clattn_cl_cache_entry *e, bool rule)
{
    return rule || e->ctx->config.cache_force;
}

/* ---- lookup --------------------------------------------------------------------------------------- */

void clattn_cl_cache_close(clattn_cl_cache_entry *e)
{
    if (!e) return;
    free(e->path);
    free(e->dir);
    free(e->key);
    memset(e, 0, sizeof *e);
}

bool clattn_cl_cache_open(clattn_cl_cache_entry *e, const clattn_context *ctx, cl_platform_id platform,
                          cl_device_id device, const char *const *sources, size_t count, const char *options, bool use)
{
    sbuf s = {0};
    char *pname = NULL, *pver = NULL, *dname = NULL, *dver = NULL, *drv = NULL;
    bool ok = false;
    memset(e, 0, sizeof *e);
    e->ctx = ctx;

    e->dir = cache_dir(e);
    if (!e->dir) goto cleanup;
    pname = cl_string(platform, NULL, CL_PLATFORM_NAME);
    pver = cl_string(platform, NULL, CL_PLATFORM_VERSION);
    dname = cl_string(NULL, device, CL_DEVICE_NAME);
    dver = cl_string(NULL, device, CL_DEVICE_VERSION);
    drv = cl_string(NULL, device, CL_DRIVER_VERSION);
    if (!pname || !pver || !dname || !dver || !drv) goto cleanup;
    if (!cache_policy(e, use)) {
        note(e, "skipped on platform '%s' (its driver caches; CLATTN_CACHE_FORCE=1 overrides)", pname);
        goto cleanup;
    }

    char num[32];
    snprintf(num, sizeof num, "%u", CACHE_FORMAT);
    sb_field(&s, "clattn-kernel-cache", num);
    sb_field(&s, "clattn", clattn_version_string());
    sb_field(&s, "platform", pname);
    sb_field(&s, "platform-version", pver);
    sb_field(&s, "device", dname);
    sb_field(&s, "device-version", dver);
    sb_field(&s, "driver", drv);
    sb_field(&s, "options", options);
    snprintf(num, sizeof num, "%zu", count);
    sb_field(&s, "sources", num);
    for (size_t i = 0; i < count; i++) {
        unsigned char d[CLATTN_CL_CACHE_DIGEST];
        char field[2 * CLATTN_CL_CACHE_DIGEST + 32];
        clattn_cl_cache_digest(sources[i], strlen(sources[i]), d);
        hex(d, sizeof d, field);
        snprintf(field + 2 * sizeof d, sizeof field - 2 * sizeof d, " %zu", strlen(sources[i]));
        sb_field(&s, "source-xxh3-128-len", field);
    }
    if (s.oom) goto cleanup;

    clattn_cl_cache_digest(s.p, s.len, e->key_digest);
    char name[2 * CLATTN_CL_CACHE_DIGEST + sizeof CACHE_SUFFIX];
    hex(e->key_digest, sizeof e->key_digest, name);
    strcat(name, CACHE_SUFFIX);
    e->path = clattn_path_join(e->dir, name);
    if (!e->path) goto cleanup;
    e->key = s.p;
    e->key_len = s.len;
    s.p = NULL;
    ok = true;

cleanup:
    if (!ok) clattn_cl_cache_close(e);
    free(s.p);
    free(pname);
    free(pver);
    free(dname);
    free(dver);
    free(drv);
    return ok;
}

/* Reads the whole file at path into *data (malloc'd). 0, ENOENT (no entry), or another errno value
 * (EFBIG for a file too large to be ours). */
static int read_all(const char *path, unsigned char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errno;
    int rc = 0;
    struct stat sb;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        rc = errno;
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = EISDIR;
        goto done;
    }
    if ((uint64_t)sb.st_size > CACHE_MAX_FILE) {
        rc = EFBIG;
        goto done;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    buf = clattn_malloc(n ? n : 1);
    if (!buf) {
        rc = ENOMEM;
        goto done;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = errno;
            goto done;
        }
        if (r == 0) break; /* shrank meanwhile: the size check below rejects it */
        got += (size_t)r;
    }
    *data = buf;
    *size = got;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

/* Deletes an invalid entry and records why. */
static void discard(const clattn_cl_cache_entry *e, const char *why)
{
    int rc = unlink(e->path) == 0 ? 0 : errno;
    note(e, "discarded %s: %s%s%s", e->path, why, rc ? "; unlink failed: " : "", rc ? strerror(rc) : "");
}

cl_program clattn_cl_cache_load(clattn_cl_cache_entry *e, cl_context context, cl_device_id device,
                                const char *options)
{
    unsigned char *data = NULL;
    size_t size = 0;
    cl_program prog = NULL;
    if (!e->path) return NULL;

    int rc = read_all(e->path, &data, &size);
    if (rc == ENOENT || rc == ENOTDIR) {
        note(e, "miss %s", e->path);
        goto done;
    }
    if (rc == EFBIG || rc == EISDIR) {
        /* Not an entry of ours: leave it alone (a folder or a huge file is not something we wrote). */
        note(e, "miss %s: %s", e->path, rc == EFBIG ? "file too large" : "not a regular file");
        goto done;
    }
    if (rc != 0) {
        note(e, "miss %s: cannot read: %s", e->path, strerror(rc));
        goto done;
    }
    if (size < CACHE_HEADER) {
        discard(e, "truncated header");
        goto done;
    }
    if (memcmp(data, CACHE_MAGIC, 8) != 0) {
        discard(e, "bad magic");
        goto done;
    }
    if (get_u32(data + 8) != CACHE_FORMAT || get_u32(data + 12) != CACHE_HEADER) {
        discard(e, "other format version");
        goto done;
    }
    uint64_t klen = get_u64(data + 16), plen = get_u64(data + 24);
    if (klen > size || plen > size || CACHE_HEADER + klen + plen != size) {
        discard(e, "size mismatch");
        goto done;
    }
    if (klen != e->key_len || memcmp(data + CACHE_KEY_DIGEST, e->key_digest, CLATTN_CL_CACHE_DIGEST) != 0 ||
        memcmp(data + CACHE_HEADER, e->key, e->key_len) != 0) {
        discard(e, "key mismatch");
        goto done;
    }
    if (plen == 0) {
        discard(e, "empty binary");
        goto done;
    }
    const unsigned char *payload = data + CACHE_HEADER + klen;
    unsigned char digest[CLATTN_CL_CACHE_DIGEST];
    clattn_cl_cache_digest(payload, (size_t)plen, digest);
    if (memcmp(digest, data + CACHE_PAYLOAD_DIGEST, sizeof digest) != 0) {
        discard(e, "checksum mismatch");
        goto done;
    }

    size_t bin_size = (size_t)plen;
    cl_int bin_status = CL_SUCCESS, err = CL_SUCCESS;
    prog = clCreateProgramWithBinary(context, 1, &device, &bin_size, &payload, &bin_status, &err);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS || !prog) {
        char why[96];
        snprintf(why, sizeof why, "clCreateProgramWithBinary failed (%d, binary status %d)", (int)err, (int)bin_status);
        if (prog) clReleaseProgram(prog);
        prog = NULL;
        discard(e, why);
        goto done;
    }
    err = clBuildProgram(prog, 1, &device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        char why[64];
        snprintf(why, sizeof why, "clBuildProgram of the binary failed (%d)", (int)err);
        clReleaseProgram(prog);
        prog = NULL;
        discard(e, why);
        goto done;
    }
    note(e, "hit %s", e->path);

done:
    free(data);
    return prog;
}

/* Writes n bytes, retrying short writes. Returns 0 or an errno value. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void clattn_cl_cache_store(clattn_cl_cache_entry *e, cl_program program, cl_device_id device)
{
    unsigned char *bin = NULL, header[CACHE_HEADER];
    char *tmp = NULL;
    int fd = -1;
    if (!e->path) return;

    /* One device per program: CL_PROGRAM_BINARY_SIZES / CL_PROGRAM_BINARIES hold one element. */
    cl_uint ndev = 0;
    cl_device_id pdev = NULL;
    size_t bin_size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof ndev, &ndev, NULL) != CL_SUCCESS || ndev != 1 ||
        clGetProgramInfo(program, CL_PROGRAM_DEVICES, sizeof pdev, &pdev, NULL) != CL_SUCCESS || pdev != device ||
        clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof bin_size, &bin_size, NULL) != CL_SUCCESS ||
        bin_size == 0 || (uint64_t)bin_size > CACHE_MAX_FILE / 2) {
        note(e, "not stored %s: the driver gives no program binary", e->path);
        goto done;
    }
    bin = clattn_malloc(bin_size);
    if (!bin) {
        note(e, "not stored %s: out of host memory", e->path);
        goto done;
    }
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        note(e, "not stored %s: clGetProgramInfo(CL_PROGRAM_BINARIES) failed", e->path);
        goto done;
    }

    int rc = mkdir_p(e->dir);
    if (rc) {
        note(e, "not stored: cannot create folder %s: %s", e->dir, strerror(rc));
        goto done;
    }
    /* A unique temporary name in the same folder, so rename() is atomic. */
    tmp = clattn_malloc(strlen(e->path) + 16);
    if (!tmp) goto done;
    sprintf(tmp, "%s.tmp.XXXXXX", e->path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        note(e, "not stored %s: cannot create a temporary file: %s", e->path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }

    memset(header, 0, sizeof header);
    memcpy(header, CACHE_MAGIC, 8);
    put_u32(header + 8, CACHE_FORMAT);
    put_u32(header + 12, CACHE_HEADER);
    put_u64(header + 16, e->key_len);
    put_u64(header + 24, bin_size);
    memcpy(header + CACHE_KEY_DIGEST, e->key_digest, CLATTN_CL_CACHE_DIGEST);
    clattn_cl_cache_digest(bin, bin_size, header + CACHE_PAYLOAD_DIGEST);
    rc = write_all(fd, header, sizeof header);
    if (!rc) rc = write_all(fd, (const unsigned char *)e->key, e->key_len);
    if (!rc) rc = write_all(fd, bin, bin_size);
    /* No fsync: after a crash a torn entry fails its size or checksum test and is rebuilt. */
    if (close(fd) != 0 && !rc) rc = errno;
    fd = -1;
    if (rc) {
        note(e, "not stored %s: write failed: %s", e->path, strerror(rc));
        goto done;
    }
    if (rename(tmp, e->path) != 0) {
        note(e, "not stored %s: rename failed: %s", e->path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    note(e, "stored %s (%zu bytes of binary)", e->path, bin_size);

done:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    free(tmp);
    free(bin);
}
