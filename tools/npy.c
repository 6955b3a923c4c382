/* NumPy .npy reader and writer; the format is described in numpy/lib/format.py (NEP 1). */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

int tool_fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s: ", name);
        if (n < 0) n = 0;
        if ((size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
        /* One line whatever the file holds: names and dtypes quoted from a file may carry control
         * characters (found by fuzz_safetensors). */
        for (char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    }
    return -1;
}

void npy_free(npy_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

const char *npy_dtype_name(const npy_array *a)
{
    switch (a->dtype) {
    case NPY_DTYPE_F32: return "float32";
    case NPY_DTYPE_F16: return "float16";
    case NPY_DTYPE_BOOL: return "bool";
    default: break;
    }
    static const struct {
        const char *descr, *name;
    } known[] = {{"<f8", "float64"}, {"<i8", "int64"}, {"<i4", "int32"}, {"<i2", "int16"}, {"|i1", "int8"},
                 {"<u8", "uint64"},  {"<u4", "uint32"}, {"<u2", "uint16"}, {"|u1", "uint8"}, {"<c8", "complex64"},
                 {"<c16", "complex128"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(a->descr, known[i].descr) == 0) return known[i].name;
    return a->descr;
}

const char *npy_shape_str(int ndim, const int64_t *shape, char *buf, size_t buflen)
{
    size_t pos = 0;
    if (!buflen) return buf;
    buf[0] = '\0';
    int n = snprintf(buf, buflen, "[");
    pos = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < ndim && pos < buflen; i++) {
        n = snprintf(buf + pos, buflen - pos, "%s%lld", i ? "," : "", (long long)shape[i]);
        if (n < 0) break;
        pos += (size_t)n;
    }
    if (pos < buflen) snprintf(buf + pos, buflen - pos, "]");
    return buf;
}

/* ---- header dictionary parser ------------------------------------------------------------------ */

typedef struct hdr_parser {
    const char *p, *end;
} hdr_parser;

static void skip_ws(hdr_parser *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int accept_char(hdr_parser *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes; copies at most cap-1 chars. Returns 0 on failure. */
static int parse_str(hdr_parser *h, char *out, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || *h->p == '\n') return 0;
        if (n + 1 >= cap) return 0;
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    out[n] = '\0';
    return 1;
}

static int accept_word(hdr_parser *h, const char *w)
{
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        const char *after = h->p + n;
        if (after < h->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                               (*after >= '0' && *after <= '9') || *after == '_'))
            return 0;
        h->p = after;
        return 1;
    }
    return 0;
}

/* Parses the dtype string: byte order, kind letter, item size, optional "[unit]". */
static int parse_descr(const char *d, const char *name, npy_array *a, char *err, size_t errlen)
{
    size_t len = strlen(d);
    if (len < 3 || !strchr("<>|=", d[0]) || !((d[1] >= 'a' && d[1] <= 'z') || (d[1] >= 'A' && d[1] <= 'Z') || d[1] == '?'))
        return tool_fail(err, errlen, name, "unsupported dtype '%s'", d);
    const char *p = d + 2;
    uint64_t size = 0;
    if (!(*p >= '0' && *p <= '9')) return tool_fail(err, errlen, name, "unsupported dtype '%s'", d);
    while (*p >= '0' && *p <= '9') {
        size = size * 10 + (uint64_t)(*p - '0');
        if (size > 1u << 20) return tool_fail(err, errlen, name, "unsupported dtype '%s' (item size too large)", d);
        p++;
    }
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close[1] != '\0') return tool_fail(err, errlen, name, "unsupported dtype '%s'", d);
    } else if (*p != '\0') {
        return tool_fail(err, errlen, name, "unsupported dtype '%s'", d);
    }
    if (size == 0) return tool_fail(err, errlen, name, "unsupported dtype '%s' (item size 0)", d);
    if (d[1] == 'O') return tool_fail(err, errlen, name, "object arrays ('%s') are not supported", d);
    if (d[0] == '>' && size > 1)
        return tool_fail(err, errlen, name, "big-endian dtype '%s' is not supported (use little-endian '<')", d);
    a->itemsize = (size_t)size;
    snprintf(a->descr, sizeof a->descr, "%s", d);
    char norm[64];
    snprintf(norm, sizeof norm, "%s", d);
    if (norm[0] == '=') norm[0] = '<';
    if (strcmp(norm, "<f4") == 0) a->dtype = NPY_DTYPE_F32;
    else if (strcmp(norm, "<f2") == 0) a->dtype = NPY_DTYPE_F16;
    else if (strcmp(norm + 1, "b1") == 0) a->dtype = NPY_DTYPE_BOOL;
    else a->dtype = NPY_DTYPE_OTHER;
    return 0;
}

static int parse_shape(hdr_parser *h, const char *name, npy_array *a, char *err, size_t errlen)
{
    if (!accept_char(h, '(')) return tool_fail(err, errlen, name, "malformed header: 'shape' is not a tuple");
    int n = 0;
    int trailing_comma = 0;
    for (;;) {
        skip_ws(h);
        if (accept_char(h, ')')) break;
        if (h->p < h->end && *h->p == '-')
            return tool_fail(err, errlen, name, "malformed header: negative dimension in 'shape'");
        if (h->p >= h->end || !(*h->p >= '0' && *h->p <= '9'))
            return tool_fail(err, errlen, name, "malformed header: bad 'shape' entry");
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            int digit = *h->p - '0';
            if (v > (INT64_MAX - digit) / 10)
                return tool_fail(err, errlen, name, "malformed header: dimension %d of 'shape' overflows", n);
            v = v * 10 + digit;
            h->p++;
        }
        if (n >= NPY_MAX_DIMS) return tool_fail(err, errlen, name, "shape has more than %d dimensions", NPY_MAX_DIMS);
        a->shape[n++] = v;
        trailing_comma = 0;
        if (accept_char(h, ',')) {
            trailing_comma = 1;
            continue;
        }
        if (accept_char(h, ')')) break;
        return tool_fail(err, errlen, name, "malformed header: bad 'shape' tuple");
    }
    if (n == 1 && !trailing_comma) return tool_fail(err, errlen, name, "malformed header: 'shape' is not a tuple");
    a->ndim = n;
    return 0;
}

static int parse_header(const char *text, size_t len, const char *name, npy_array *a, char *err, size_t errlen)
{
    hdr_parser h = {text, text + len};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    int fortran = 0;
    char descr[64];
    if (!accept_char(&h, '{')) return tool_fail(err, errlen, name, "malformed header: not a dictionary");
    for (;;) {
        if (accept_char(&h, '}')) break;
        char key[32];
        if (!parse_str(&h, key, sizeof key)) return tool_fail(err, errlen, name, "malformed header: bad key");
        if (!accept_char(&h, ':')) return tool_fail(err, errlen, name, "malformed header: expected ':' after '%s'", key);
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) return tool_fail(err, errlen, name, "malformed header: duplicate key 'descr'");
            skip_ws(&h);
            if (h.p < h.end && *h.p == '[')
                return tool_fail(err, errlen, name, "structured dtypes are not supported");
            if (!parse_str(&h, descr, sizeof descr))
                return tool_fail(err, errlen, name, "malformed header: 'descr' is not a dtype string");
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) return tool_fail(err, errlen, name, "malformed header: duplicate key 'fortran_order'");
            if (accept_word(&h, "True")) fortran = 1;
            else if (accept_word(&h, "False")) fortran = 0;
            else return tool_fail(err, errlen, name, "malformed header: 'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) return tool_fail(err, errlen, name, "malformed header: duplicate key 'shape'");
            if (parse_shape(&h, name, a, err, errlen)) return -1;
        } else {
            return tool_fail(err, errlen, name, "malformed header: unexpected key '%s'", key);
        }
        if (accept_char(&h, ',')) continue;
        if (accept_char(&h, '}')) break;
        return tool_fail(err, errlen, name, "malformed header: expected ',' or '}'");
    }
    skip_ws(&h);
    if (h.p != h.end) {
        /* NumPy pads with spaces and ends with '\n'; tolerate NUL padding written by some tools. */
        while (h.p < h.end && *h.p == '\0') h.p++;
        if (h.p != h.end) return tool_fail(err, errlen, name, "malformed header: trailing characters after '}'");
    }
    if (!have_descr || !have_fortran || !have_shape)
        return tool_fail(err, errlen, name, "malformed header: missing key '%s'",
                    !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if (parse_descr(descr, name, a, err, errlen)) return -1;
    if (fortran) /* refused even for 0-D/1-D arrays (same bytes) for a simple contract */
        return tool_fail(err, errlen, name, "fortran_order is True; save the array in C order (np.ascontiguousarray)");
    return 0;
}

int npy_parse(const unsigned char *buf, size_t len, const char *name, npy_array *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (len < 8 || memcmp(buf, npy_magic, sizeof npy_magic) != 0)
        return tool_fail(err, errlen, name, "not a .npy file (bad magic, %zu bytes)", len);
    unsigned major = buf[6], minor = buf[7];
    size_t pre;
    uint64_t hlen;
    if (major == 1) {
        pre = 10;
        if (len < pre) return tool_fail(err, errlen, name, "truncated .npy preamble (%zu bytes)", len);
        hlen = (uint64_t)buf[8] | ((uint64_t)buf[9] << 8);
    } else if (major == 2 || major == 3) {
        pre = 12;
        if (len < pre) return tool_fail(err, errlen, name, "truncated .npy preamble (%zu bytes)", len);
        hlen = (uint64_t)buf[8] | ((uint64_t)buf[9] << 8) | ((uint64_t)buf[10] << 16) | ((uint64_t)buf[11] << 24);
    } else {
        return tool_fail(err, errlen, name, "unsupported .npy format version %u.%u (expected 1.0, 2.0 or 3.0)", major,
                    minor);
    }
    if (minor != 0)
        return tool_fail(err, errlen, name, "unsupported .npy format version %u.%u (expected 1.0, 2.0 or 3.0)", major,
                    minor);
    if (hlen > len - pre)
        return tool_fail(err, errlen, name, "header length %llu exceeds the file (%zu bytes after the preamble)",
                    (unsigned long long)hlen, len - pre);
    if (parse_header((const char *)buf + pre, (size_t)hlen, name, out, err, errlen)) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    int64_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        if (__builtin_mul_overflow(count, out->shape[i], &count)) {
            char s[NPY_MAX_DIMS * 24];
            return tool_fail(err, errlen, name, "shape %s: element count overflows",
                        npy_shape_str(out->ndim, out->shape, s, sizeof s));
        }
    }
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)count, (uint64_t)out->itemsize, &bytes)) {
        char s[NPY_MAX_DIMS * 24];
        return tool_fail(err, errlen, name, "shape %s × itemsize %zu overflows", npy_shape_str(out->ndim, out->shape, s, sizeof s),
                    out->itemsize);
    }
    size_t data_off = pre + (size_t)hlen;
    size_t avail = len - data_off;
    if (bytes != avail) {
        char s[NPY_MAX_DIMS * 24];
        npy_shape_str(out->ndim, out->shape, s, sizeof s);
        if (bytes > avail)
            return tool_fail(err, errlen, name, "truncated: shape %s of %s needs %llu data bytes, file has %zu", s,
                        out->descr, (unsigned long long)bytes, avail);
        return tool_fail(err, errlen, name, "%zu unexpected bytes after the data of shape %s (%s)", avail - (size_t)bytes,
                    s, out->descr);
    }
    out->count = count;
    out->data = malloc(bytes ? (size_t)bytes : 1);
    if (!out->data) return tool_fail(err, errlen, name, "out of memory (%llu bytes)", (unsigned long long)bytes);
    if (bytes) memcpy(out->data, buf + data_off, (size_t)bytes);
    return 0;
}

int tool_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return tool_fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (S_ISDIR(sb.st_mode) || S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        fclose(f);
        return tool_fail(err, errlen, path, "cannot read: %s", S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return tool_fail(err, errlen, path, "out of memory");
    }
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                free(b);
                fclose(f);
                return tool_fail(err, errlen, path, "file too large");
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return tool_fail(err, errlen, path, "out of memory reading the file (%zu bytes)", cap * 2);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        free(b);
        fclose(f);
        return tool_fail(err, errlen, path, "read error: %s", strerror(e));
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

int npy_read(const char *path, npy_array *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (tool_read_file(path, &buf, &len, err, errlen)) return -1;
    int rc = npy_parse(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

int npy_write_stream(FILE *f, const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
                     char *err, size_t errlen)
{
    const char *descr;
    size_t itemsize;
    switch (dtype) {
    case NPY_DTYPE_F32: descr = "<f4"; itemsize = 4; break;
    case NPY_DTYPE_F16: descr = "<f2"; itemsize = 2; break;
    case NPY_DTYPE_BOOL: descr = "|b1"; itemsize = 1; break;
    default: return tool_fail(err, errlen, path, "cannot write this dtype");
    }
    if (ndim < 0 || ndim > NPY_MAX_DIMS) return tool_fail(err, errlen, path, "cannot write %d dimensions", ndim);
    char dict[64 + NPY_MAX_DIMS * 24];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t pos = (size_t)n;
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(count, shape[i], &count))
            return tool_fail(err, errlen, path, "bad shape to write");
        n = snprintf(dict + pos, sizeof dict - pos, "%s%lld", i ? ", " : "", (long long)shape[i]);
        pos += (size_t)n;
    }
    n = snprintf(dict + pos, sizeof dict - pos, "%s), }", ndim == 1 ? "," : "");
    pos += (size_t)n;
    /* Pad with spaces so that the data starts at a multiple of 64 bytes; end with '\n'. */
    size_t pre = 10;
    size_t total = pre + pos + 1;
    size_t hlen = pos + 1 + (64 - total % 64) % 64;
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)count, (uint64_t)itemsize, &bytes) || bytes > SIZE_MAX)
        return tool_fail(err, errlen, path, "array too large to write");
    unsigned char preamble[12];
    memcpy(preamble, npy_magic, 6);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (unsigned char)(hlen & 0xff);
    preamble[9] = (unsigned char)(hlen >> 8);
    char header[sizeof dict + 64];
    memcpy(header, dict, pos);
    memset(header + pos, ' ', hlen - pos - 1);
    header[hlen - 1] = '\n';

    errno = 0;
    int ok = fwrite(preamble, 1, pre, f) == pre && fwrite(header, 1, hlen, f) == hlen &&
             (bytes == 0 || fwrite(data, 1, (size_t)bytes, f) == (size_t)bytes) && fflush(f) == 0;
    if (!ok) return tool_fail(err, errlen, path, "write failed: %s", strerror(errno ? errno : EIO));
    return 0;
}

int npy_write(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data, char *err,
              size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) return tool_fail(err, errlen, path, "cannot open for writing: %s", strerror(errno));
    int rc = npy_write_stream(f, path, dtype, ndim, shape, data, err, errlen);
    if (fclose(f) != 0 && rc == 0) rc = tool_fail(err, errlen, path, "write failed: %s", strerror(errno));
    if (rc) remove(path);
    return rc;
}
