/*
 * clattn — command-line front end of the library.
 *
 *   clattn devices                 list OpenCL platforms/devices and the host path; mark the selected one
 *   clattn kernels                 list every kernel the library can run (the kernel table)
 *   clattn sdpa --query Q.npy ...  scaled dot-product attention on .npy arrays
 *   clattn mha --params P.safetensors ...  multi-head attention (nn.MultiheadAttention / BERT weights)
 *
 * Arrays are NumPy .npy files (C order, little-endian). `sdpa` hands float16 Q/K/V to the library as they
 * are (clattn_sdpa_desc.data_type = CLATTN_DTYPE_F16: the library computes in float32 and rounds the
 * output to float16); elsewhere float16 inputs are converted to float32 on load and float16 outputs are
 * rounded back (the same arithmetic).
 * Outputs (--out, --probs, --lse) are written to temporary files and renamed into place only when the whole
 * run succeeded: a failed or interrupted run leaves an existing file as it was (see "output files").
 * Exit codes (exit_codes_help, printed by clattn --help): 0 success; 1 input or runtime error (a file,
 * the library, the device, --expect over --tol); 2 bad command line, option values included. Never 77.
 * Every option is declared once, in its command's table (name, value placeholder, meaning and default):
 * the parser, --help and `clattn help --markdown` (docs/clattn.md) all read that table.
 * Every failure prints exactly one line "clattn: error: ..." on stderr.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include <clattn_opencl.h> /* cl_mem interop; includes clattn.h */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "half.h"
#include "npy.h"
#include "safetensors.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MSG_MAX 4096

/* ---- messages ------------------------------------------------------------------------------------ */

/* Prints "clattn: error: <msg>" as one line: newlines inside msg become "; ". */
static void print_error_line(const char *msg)
{
    char line[MSG_MAX];
    size_t n = 0;
    for (const char *p = msg; *p && n + 3 < sizeof line; p++) {
        if (*p == '\n' || *p == '\r') {
            while (p[1] == '\n' || p[1] == '\r' || p[1] == ' ' || p[1] == '\t') p++;
            if (p[1] == '\0') break;
            line[n++] = ';';
            line[n++] = ' ';
        } else {
            line[n++] = *p;
        }
    }
    line[n] = '\0';
    fprintf(stderr, "clattn: error: %s\n", line);
}

static int errorf(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int errorf(int code, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error_line(msg);
    return code;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    return npy_shape_str(ndim, shape, buf, len);
}

/* ---- command-line options ------------------------------------------------------------------------- */

typedef struct opt {
    const char *name;  /* without the leading "--" */
    const char *arg;   /* the value's placeholder in the help ("Q.npy"); NULL: a flag, which takes no value */
    const char *help;  /* meaning and default, shown by --help and in docs/clattn.md */
    const char *value; /* NULL if not given ("1" for a flag given); a repeatable option's last value */
} opt;

/* Repeatable options (their help says so): every value, in order, of the one a command line may repeat.
 * A command has at most one (kernels --shape). */
#define OPT_MAX_VALUES 64
static const char *const repeatable_opts[] = {"shape"};
static const char *g_repeated[OPT_MAX_VALUES];
static int g_nrepeated;

static bool opt_repeatable(const char *name)
{
    for (size_t i = 0; i < sizeof repeatable_opts / sizeof repeatable_opts[0]; i++)
        if (strcmp(repeatable_opts[i], name) == 0) return true;
    return false;
}

/* Parses argv (after the subcommand) against opts[]. Options take a value (values may begin with '-';
 * "--name=value" works too), except flags (arg NULL), which take none and get the value "1". Returns
 * EXIT_OK, EXIT_USAGE after printing the error, or -1 for --help. */
static int parse_options(const char *cmd, int argc, char **argv, opt *opts, size_t nopts)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return -1;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return errorf(EXIT_USAGE, "clattn %s: unexpected argument '%s' (see clattn %s --help)", cmd, a, cmd);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        opt *o = NULL;
        for (size_t k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
        if (!o)
            return errorf(EXIT_USAGE, "clattn %s: unknown option '--%.*s' (see clattn %s --help)", cmd, (int)nlen,
                          name, cmd);
        const bool repeat = opt_repeatable(o->name);
        if (o->value && !repeat) return errorf(EXIT_USAGE, "clattn %s: option --%s given twice", cmd, o->name);
        if (repeat && g_nrepeated == OPT_MAX_VALUES)
            return errorf(EXIT_USAGE, "clattn %s: option --%s given more than %d times", cmd, o->name, OPT_MAX_VALUES);
        if (!o->arg) {
            if (eq) return errorf(EXIT_USAGE, "clattn %s: option --%s takes no value", cmd, o->name);
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else {
            if (i + 1 >= argc) return errorf(EXIT_USAGE, "clattn %s: option --%s needs a value", cmd, o->name);
            o->value = argv[++i];
        }
        if (repeat) g_repeated[g_nrepeated++] = o->value;
    }
    return EXIT_OK;
}

static const char *get_opt(const opt *opts, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(opts[k].name, name) == 0) return opts[k].value;
    return NULL;
}

static int parse_double(const char *opt_name, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return errorf(EXIT_USAGE, "--%s: '%s' is not a finite number", opt_name, s);
    *out = v;
    return EXIT_OK;
}

static int parse_i64(const char *opt_name, const char *s, const char *end_of_field, int64_t *out)
{
    char buf[64];
    size_t n = (size_t)(end_of_field - s);
    if (n == 0 || n >= sizeof buf) return errorf(EXIT_USAGE, "--%s: empty or overlong integer in '%s'", opt_name, s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end != '\0' || errno == ERANGE)
        return errorf(EXIT_USAGE, "--%s: '%s' is not an integer", opt_name, buf);
    *out = (int64_t)v;
    return EXIT_OK;
}

/* Comma-separated integers; *vals is malloc'ed. */
static int parse_int_list(const char *opt_name, const char *s, int64_t **vals, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int64_t *v = calloc(cap, sizeof *v);
    if (!v) return errorf(EXIT_FAIL, "out of memory");
    size_t k = 0;
    const char *p = s;
    for (;;) {
        const char *c = strchr(p, ',');
        const char *e = c ? c : p + strlen(p);
        if (parse_i64(opt_name, p, e, &v[k])) {
            free(v);
            return EXIT_USAGE;
        }
        k++;
        if (!c) break;
        p = c + 1;
    }
    *vals = v;
    *n = k;
    return EXIT_OK;
}

static int parse_causal(const char *s, clattn_causal *out)
{
    if (!s) *out = CLATTN_CAUSAL_NONE;
    else if (strcmp(s, "top-left") == 0) *out = CLATTN_CAUSAL_TOP_LEFT;
    else if (strcmp(s, "bottom-right") == 0) *out = CLATTN_CAUSAL_BOTTOM_RIGHT;
    else if (strcmp(s, "none") == 0) *out = CLATTN_CAUSAL_NONE;
    else return errorf(EXIT_USAGE, "--causal: '%s', expected top-left or bottom-right", s);
    return EXIT_OK;
}

static int parse_window(const char *s, int64_t *left, int64_t *right)
{
    *left = *right = CLATTN_WINDOW_UNBOUNDED;
    if (!s) return EXIT_OK;
    int64_t *v = NULL;
    size_t n = 0;
    if (parse_int_list("window", s, &v, &n)) return EXIT_USAGE;
    int rc = EXIT_OK;
    if (n != 2) rc = errorf(EXIT_USAGE, "--window: '%s', expected LEFT,RIGHT (-1 = unbounded)", s);
    else if (v[0] < -1 || v[1] < -1)
        rc = errorf(EXIT_USAGE, "--window: %lld is below -1 (-1 = unbounded)", (long long)(v[0] < -1 ? v[0] : v[1]));
    else {
        *left = v[0];
        *right = v[1];
    }
    free(v);
    return rc;
}

/* --kv-lengths for B batch items, each in [0, Lk]; *out is malloc'ed (NULL when not given). */
static int parse_kv_lengths(const char *s, int64_t B, int64_t Lk, int32_t **out)
{
    *out = NULL;
    if (!s) return EXIT_OK;
    int64_t *v = NULL;
    size_t n = 0;
    if (parse_int_list("kv-lengths", s, &v, &n)) return EXIT_USAGE;
    int rc = EXIT_OK;
    if ((int64_t)n != B) {
        rc = errorf(EXIT_USAGE, "--kv-lengths: %zu values given, expected one per batch item (B = %lld)", n,
                    (long long)B);
    } else {
        for (size_t b = 0; b < n && rc == EXIT_OK; b++)
            if (v[b] < 0 || v[b] > Lk || v[b] > INT32_MAX)
                rc = errorf(EXIT_USAGE, "--kv-lengths: value %lld for batch item %zu is outside [0, Lk = %lld]",
                            (long long)v[b], b, (long long)Lk);
    }
    if (rc == EXIT_OK) {
        *out = malloc((n ? n : 1) * sizeof **out);
        if (!*out) rc = errorf(EXIT_FAIL, "out of memory");
        for (size_t b = 0; b < n && *out; b++) (*out)[b] = (int32_t)v[b];
    }
    free(v);
    return rc;
}

/* Prints a command's --help (from its option table) on stdout; returns EXIT_OK. */
static int print_help(const char *cmd);

/* ---- arrays ------------------------------------------------------------------------------------- */

/* A float input: float32 data (converted from float16 when the file is float16). */
typedef struct farray {
    const char *path;
    npy_dtype dtype; /* F32 or F16: what the file held */
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;
    float *data;
    uint16_t *half; /* float16 file loaded with keep_half: the raw values (then data is NULL) */
} farray;

static void farray_free(farray *a)
{
    free(a->data);
    a->data = NULL;
    free(a->half);
    a->half = NULL;
}

/* An int32 .npy of ndim dims into *out (malloc'ed), shape into shape[]; role names the option in messages. */
static int load_int32(const char *path, const char *role, int ndim, int64_t *shape, int32_t **out)
{
    *out = NULL;
    npy_array a;
    char err[NPY_ERR_MAX], sh[NPY_MAX_DIMS * 24];
    if (npy_read(path, &a, err, sizeof err)) return errorf(EXIT_FAIL, "%s", err);
    shape_str(a.ndim, a.shape, sh, sizeof sh);
    if (strcmp(a.descr, "<i4") != 0 || a.ndim != ndim) {
        int rc = errorf(EXIT_FAIL, "%s: %s must be int32 with %d dimensions, got %s shape %s", path, role, ndim,
                        npy_dtype_name(&a), sh);
        npy_free(&a);
        return rc;
    }
    memcpy(shape, a.shape, (size_t)ndim * sizeof *shape);
    *out = a.data;
    return EXIT_OK;
}

/* keep_half: a float16 file stays float16 (out->half) instead of being converted (out->data). */
static int load_array(const char *path, const char *role, int want_ndim, int keep_half, farray *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    npy_array a;
    char err[NPY_ERR_MAX];
    if (npy_read(path, &a, err, sizeof err)) return errorf(EXIT_FAIL, "%s", err);
    char s[NPY_MAX_DIMS * 24];
    shape_str(a.ndim, a.shape, s, sizeof s);
    if (a.dtype != NPY_DTYPE_F32 && a.dtype != NPY_DTYPE_F16) {
        int rc = errorf(EXIT_FAIL, "%s: dtype %s shape %s is not supported for %s (expected float32 or float16)", path,
                        npy_dtype_name(&a), s, role);
        npy_free(&a);
        return rc;
    }
    if (want_ndim && a.ndim != want_ndim) {
        int rc = errorf(EXIT_FAIL, "%s: %s must have %d dimensions, got shape %s (%s)", path, role, want_ndim, s,
                        npy_dtype_name(&a));
        npy_free(&a);
        return rc;
    }
    out->dtype = a.dtype;
    out->ndim = a.ndim;
    memcpy(out->shape, a.shape, sizeof a.shape);
    out->count = a.count;
    if (a.dtype == NPY_DTYPE_F32) {
        out->data = a.data;
        return EXIT_OK;
    }
    if (keep_half) {
        out->half = a.data;
        return EXIT_OK;
    }
    out->data = malloc((size_t)(a.count ? a.count : 1) * sizeof(float));
    if (!out->data) {
        npy_free(&a);
        return errorf(EXIT_FAIL, "%s: out of memory", path);
    }
    half_to_float_n(a.data, out->data, (size_t)a.count);
    npy_free(&a);
    return EXIT_OK;
}

static int load_float(const char *path, const char *role, int want_ndim, farray *out)
{
    return load_array(path, role, want_ndim, 0, out);
}

static const char *dtype_name(npy_dtype d)
{
    return d == NPY_DTYPE_F16 ? "float16" : d == NPY_DTYPE_BOOL ? "bool" : "float32";
}

/* Product of dims with overflow check; returns -1 on overflow. */
static int64_t checked_count(int n, const int64_t *dims)
{
    int64_t c = 1;
    for (int i = 0; i < n; i++)
        if (dims[i] < 0 || __builtin_mul_overflow(c, dims[i], &c)) return -1;
    return c;
}

static float *alloc_floats(int n, const int64_t *dims, const char *what)
{
    int64_t c = checked_count(n, dims);
    if (c < 0 || (uint64_t)c > SIZE_MAX / sizeof(float)) {
        char s[128];
        errorf(EXIT_FAIL, "%s of shape %s is too large", what, shape_str(n, dims, s, sizeof s));
        return NULL;
    }
    float *p = calloc((size_t)(c ? c : 1), sizeof(float));
    if (!p) {
        char s[128];
        errorf(EXIT_FAIL, "out of memory for %s of shape %s", what, shape_str(n, dims, s, sizeof s));
    }
    return p;
}

/* ---- output files --------------------------------------------------------------------------------
 * An output (--out, --probs, --lse) is written to a temporary file ".<name>.clattn-XXXXXX" in its directory,
 * created before any computation (that is the writability check); outputs_commit() fsyncs and closes
 * every one, then renames them all into place, only when the whole run succeeded. Otherwise, and on
 * SIGINT/SIGTERM/SIGHUP, the temporary files are removed: a file that was there is never lost.
 * A target that exists and is not a regular file (/dev/null, /dev/full, a FIFO) is written directly:
 * renaming over it would replace the device node. */

enum { MAX_OUTPUTS = 3, OUT_PATH_MAX = 4096 };

typedef struct out_file {
    const char *name;  /* option name without "--" */
    const char *path; /* the target */
    const char *dir;  /* its directory, resolved (fsynced after the rename) */
    FILE *f;          /* the temporary file (or the target itself when direct), open for writing */
    int direct;       /* the target exists and is not a regular file (/dev/null, a FIFO): no rename */
} out_file;

static out_file g_out[MAX_OUTPUTS];
static int g_nout;
/* Temporary paths for the signal handler: an entry is complete before g_ntmp counts it. */
static char g_tmp[MAX_OUTPUTS][OUT_PATH_MAX];
static volatile sig_atomic_t g_ntmp;
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Removes the temporary files with async-signal-safe calls, then dies of the signal as before. */
static void on_signal(int sig)
{
    for (sig_atomic_t i = 0; i < g_ntmp; i++)
        if (g_tmp[i][0]) unlink(g_tmp[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void block_signals(int how, sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof g_signals / sizeof g_signals[0]; i++) sigaddset(&set, g_signals[i]);
    sigprocmask(how, &set, old);
}

/* Once per process: the handlers (a signal ignored at start, as under nohup, stays ignored), and
 * SIGXFSZ ignored so that a file-size limit is a write error (EFBIG), not a death leaving temp files. */
static void install_signal_handlers(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof g_signals / sizeof g_signals[0]; i++) sigaddset(&sa.sa_mask, g_signals[i]);
    for (size_t i = 0; i < sizeof g_signals / sizeof g_signals[0]; i++)
        if (sigaction(g_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(g_signals[i], &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

/* Removes every temporary file not yet renamed (any failure path; a no-op after outputs_commit). */
static void outputs_discard(void)
{
    sigset_t old;
    block_signals(SIG_BLOCK, &old);
    for (int i = 0; i < g_nout; i++) {
        if (g_out[i].f) fclose(g_out[i].f);
        g_out[i].f = NULL;
        if (g_tmp[i][0]) unlink(g_tmp[i]);
        g_tmp[i][0] = '\0';
    }
    g_ntmp = 0;
    g_nout = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Splits path into its directory (resolved by realpath) and its last component. */
static int resolve_output(const char *name, const char *path, char *dir, char *base)
{
    const char *slash = strrchr(path, '/');
    const char *leaf = slash ? slash + 1 : path;
    char d[OUT_PATH_MAX];
    snprintf(d, sizeof d, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1, slash ? path : ".");
    struct stat st;
    if (leaf[0] == '\0' || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0 ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return errorf(EXIT_FAIL, "--%s: %s: cannot open for writing: is a directory", name, path);
    if (strlen(leaf) + 16 >= OUT_PATH_MAX || !realpath(d, dir))
        return errorf(EXIT_FAIL, "--%s: %s: cannot open for writing: %s", name, path,
                      strlen(leaf) + 16 >= OUT_PATH_MAX ? "name too long" : strerror(errno));
    snprintf(base, OUT_PATH_MAX, "%s", leaf);
    return EXIT_OK;
}

/* Checks the outputs named by the options in names (those given) and creates their temporary files:
 * a missing or unwritable directory or a directory as target is EXIT_FAIL, two options naming the same
 * file EXIT_USAGE. Call before any computation. */
static int outputs_open(const opt *o, size_t no, const char *const *names)
{
    static char dirs[MAX_OUTPUTS][OUT_PATH_MAX], bases[MAX_OUTPUTS][OUT_PATH_MAX];
    struct stat st[MAX_OUTPUTS];
    int exists[MAX_OUTPUTS];
    int n = 0;
    for (; *names && n < MAX_OUTPUTS; names++) {
        const char *path = get_opt(o, no, *names);
        if (!path) continue;
        if (resolve_output(*names, path, dirs[n], bases[n])) return EXIT_FAIL;
        exists[n] = stat(path, &st[n]) == 0;
        for (int j = 0; j < n; j++) {
            if ((strcmp(dirs[j], dirs[n]) == 0 && strcmp(bases[j], bases[n]) == 0) || (exists[j] && exists[n] && st[j].st_dev == st[n].st_dev &&
                                      st[j].st_ino == st[n].st_ino))
                return errorf(EXIT_USAGE, "--%s and --%s name the same file (%s, %s): give two different paths",
                              g_out[j].name, *names, g_out[j].path, path);
        }
        g_out[n].name = *names;
        g_out[n].path = path;
        g_out[n].dir = dirs[n];
        n++;
    }
    const mode_t mask = umask(0);
    umask(mask);
    install_signal_handlers();
    for (int i = 0; i < n; i++) {
        g_out[i].direct = exists[i] && !S_ISREG(st[i].st_mode);
        if (g_out[i].direct) {
            g_nout = i + 1;
            if (!(g_out[i].f = fopen(g_out[i].path, "wb"))) {
                int saved = errno;
                outputs_discard();
                return errorf(EXIT_FAIL, "--%s: %s: cannot open for writing: %s", g_out[i].name, g_out[i].path,
                              strerror(saved));
            }
            continue;
        }
        char tmp[OUT_PATH_MAX];
        int len = snprintf(tmp, sizeof tmp, "%s/.%s.clattn-XXXXXX", strcmp(dirs[i], "/") ? dirs[i] : "", bases[i]);
        if (len < 0 || len >= (int)sizeof tmp) {
            outputs_discard();
            return errorf(EXIT_FAIL, "--%s: %s: cannot open for writing: name too long", g_out[i].name, g_out[i].path);
        }
        sigset_t old;
        block_signals(SIG_BLOCK, &old); /* the file exists only once the handler knows it */
        int fd = mkstemp(tmp);
        int saved = errno;
        if (fd >= 0) {
            memcpy(g_tmp[i], tmp, (size_t)len + 1);
            g_ntmp = i + 1;
            g_nout = i + 1;
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 || !(g_out[i].f = fdopen(fd, "wb"))) {
            saved = fd < 0 ? saved : errno;
            if (fd >= 0 && !g_out[i].f) close(fd);
            outputs_discard();
            return errorf(EXIT_FAIL, "--%s: %s: cannot open for writing: %s", g_out[i].name, g_out[i].path,
                          strerror(saved));
        }
    }
    return EXIT_OK;
}

/* Writes an array into the temporary file of option name. */
static int output_write(const char *name, npy_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    for (int i = 0; i < g_nout; i++) {
        if (strcmp(g_out[i].name, name) != 0) continue;
        char err[NPY_ERR_MAX];
        if (npy_write_stream(g_out[i].f, g_out[i].path, dtype, ndim, shape, data, err, sizeof err))
            return errorf(EXIT_FAIL, "%s", err);
        return EXIT_OK;
    }
    return errorf(EXIT_FAIL, "--%s: no output file was opened (internal error)", name);
}

/* fsync()s a directory so that a rename into it survives a power loss (POSIX leaves a rename's
 * durability to the directory's sync). Filesystems that cannot sync a directory (EINVAL) are not an error. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc != 0 && saved != EINVAL ? -1 : 0;
}

/* Makes every output durable (fsync, close), then renames them all into place and syncs their
 * directories. Two outputs are renamed one after the other: POSIX has no atomic rename of a pair, so
 * when the second rename fails (it can only fail for reasons the writability check did not see, such
 * as the directory being removed meanwhile) the first output has already been replaced; the error
 * message says which one. */
static int outputs_commit(void)
{
    for (int i = 0; i < g_nout; i++) {
        FILE *f = g_out[i].f;
        g_out[i].f = NULL;
        int bad = fflush(f) != 0 || (!g_out[i].direct && fsync(fileno(f)) != 0);
        int saved = errno;
        if (fclose(f) != 0 && !bad) bad = 1, saved = errno;
        if (bad) {
            outputs_discard();
            return errorf(EXIT_FAIL, "%s: write failed: %s", g_out[i].path, strerror(saved));
        }
    }
    for (int i = 0; i < g_nout; i++) {
        if (g_out[i].direct) continue;
        if (rename(g_tmp[i], g_out[i].path) != 0) {
            int saved = errno;
            outputs_discard();
            return errorf(EXIT_FAIL, "%s: cannot rename the finished output into place: %s%s%s%s", g_out[i].path,
                          strerror(saved), i > 0 ? " (" : "", i > 0 ? g_out[0].path : "",
                          i > 0 ? " was already written)" : "");
        }
        g_tmp[i][0] = '\0';
    }
    for (int i = 0; i < g_nout; i++) { /* each directory once, after all renames */
        int seen = g_out[i].direct;
        for (int j = 0; j < i && !seen; j++) seen = !g_out[j].direct && strcmp(g_out[j].dir, g_out[i].dir) == 0;
        if (!seen && sync_dir(g_out[i].dir) != 0) {
            int saved = errno;
            outputs_discard();
            return errorf(EXIT_FAIL, "%s: renamed into place, but syncing its directory %s failed: %s",
                          g_out[i].path, g_out[i].dir, strerror(saved));
        }
    }
    outputs_discard();
    return EXIT_OK;
}

/* Writes float32 data as dtype (F32 or F16; F16 rounds in place into a temporary) to output name. */
static int write_float(const char *name, npy_dtype dtype, int ndim, const int64_t *shape, float *data)
{
    int64_t n = checked_count(ndim, shape);
    if (dtype == NPY_DTYPE_F16) {
        uint16_t *h = malloc((size_t)(n ? n : 1) * sizeof *h);
        if (!h) return errorf(EXIT_FAIL, "--%s: out of memory", name);
        float_to_half_n(data, h, (size_t)n);
        /* what was written, for --expect */
        half_to_float_n(h, data, (size_t)n);
        int rc = output_write(name, NPY_DTYPE_F16, ndim, shape, h);
        free(h);
        return rc;
    }
    return output_write(name, NPY_DTYPE_F32, ndim, shape, data);
}

/* Loads a mask (bool, or float32/float16 additive) of rank 2..4 and maps it onto clattn's
 * [Bm, Hm, Lqm, Lk] by NumPy broadcasting against [B, H, Lq, Lk]. A last dim of 1 is expanded over the
 * keys (clattn needs mask dim 3 = Lk); other dims of 1 stay broadcast dims. A float16 mask stays binary16
 * (*mtype = CLATTN_DTYPE_F16: clattn_sdpa_desc.mask_data_type, read in place) when mtype is non-NULL, else
 * (mha: float32 masks only) it is widened to float32. */
static int load_mask(const char *path, int64_t B, int64_t H, int64_t Lq, int64_t Lk, clattn_mask_kind *kind,
                     clattn_tensor *t, void **buf, clattn_dtype *mtype)
{
    *buf = NULL;
    if (mtype) *mtype = CLATTN_DTYPE_F32;
    npy_array a;
    char err[NPY_ERR_MAX];
    if (npy_read(path, &a, err, sizeof err)) return errorf(EXIT_FAIL, "%s", err);
    char s[NPY_MAX_DIMS * 24];
    shape_str(a.ndim, a.shape, s, sizeof s);
    int rc = EXIT_OK;
    if (a.dtype != NPY_DTYPE_BOOL && a.dtype != NPY_DTYPE_F32 && a.dtype != NPY_DTYPE_F16) {
        rc = errorf(EXIT_FAIL, "%s: dtype %s shape %s is not supported for --mask (expected bool or float32/float16)",
                    path, npy_dtype_name(&a), s);
        goto done;
    }
    if (a.ndim < 2 || a.ndim > 4) {
        rc = errorf(EXIT_FAIL, "%s: --mask must have 2 to 4 dimensions, got shape %s (%s)", path, s, npy_dtype_name(&a));
        goto done;
    }
    int64_t target[4] = {B, H, Lq, Lk};
    int64_t d[4] = {1, 1, 1, 1};
    for (int i = 0; i < a.ndim; i++) d[4 - a.ndim + i] = a.shape[i];
    for (int i = 0; i < 4; i++) {
        if (d[i] != 1 && d[i] != target[i]) {
            char ts[128];
            rc = errorf(EXIT_FAIL, "%s: mask shape %s does not broadcast to [B,H,Lq,Lk] = %s (dim %d is %lld)", path, s,
                        shape_str(4, target, ts, sizeof ts), i - (4 - a.ndim), (long long)d[i]);
            goto done;
        }
    }
    const bool keep16 = a.dtype == NPY_DTYPE_F16 && mtype != NULL;
    size_t es = a.dtype == NPY_DTYPE_BOOL ? 1 : keep16 ? 2 : sizeof(float);
    *kind = a.dtype == NPY_DTYPE_BOOL ? CLATTN_MASK_BOOL : CLATTN_MASK_ADDITIVE;
    if (keep16) *mtype = CLATTN_DTYPE_F16;
    /* the file's values: bool, float32, float16 kept as is, or float16 converted to float32 */
    void *src = a.data;
    float *conv = NULL;
    if (a.dtype == NPY_DTYPE_F16 && !keep16) {
        conv = malloc((size_t)(a.count ? a.count : 1) * sizeof(float));
        if (!conv) {
            rc = errorf(EXIT_FAIL, "%s: out of memory", path);
            goto done;
        }
        half_to_float_n(a.data, conv, (size_t)a.count);
        src = conv;
    }
    if (d[3] == Lk) {
        if (conv) {
            *buf = conv;
            conv = NULL;
        } else {
            *buf = a.data;
            a.data = NULL;
        }
    } else { /* d[3] == 1, Lk != 1: repeat each value over the keys */
        int64_t rows = d[0] * d[1] * d[2];
        int64_t total;
        if (__builtin_mul_overflow(rows, Lk, &total) || (uint64_t)total > SIZE_MAX / es) {
            rc = errorf(EXIT_FAIL, "%s: mask expanded over %lld keys is too large", path, (long long)Lk);
            free(conv);
            goto done;
        }
        unsigned char *e = malloc((size_t)(total ? total : 1) * es);
        if (!e) {
            rc = errorf(EXIT_FAIL, "%s: out of memory", path);
            free(conv);
            goto done;
        }
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < Lk; j++) memcpy(e + (size_t)(r * Lk + j) * es, (unsigned char *)src + (size_t)r * es, es);
        *buf = e;
        d[3] = Lk;
    }
    free(conv);
    *t = clattn_tensor_contiguous(d[0], d[1], d[2], d[3]);
done:
    npy_free(&a);
    return rc;
}

/* max |out - ref| over all elements (NaN in exactly one of them counts as +inf). */
static double max_abs_err(const float *out, const float *ref, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double a = out[i], b = ref[i];
        double e;
        if (isnan(a) || isnan(b)) e = (isnan(a) && isnan(b)) ? 0.0 : INFINITY;
        else if (a == b) e = 0.0; /* equal infinities */
        else e = fabs(a - b);
        if (e > m || isnan(e)) m = e;
    }
    return m;
}

/* Compares data [ndim, shape] with the reference file; prints "<label>=<value>" to stdout. */
static int check_expect(const char *ref_path, const char *label, const float *data, int ndim, const int64_t *shape,
                        double *err_out)
{
    farray ref;
    if (load_float(ref_path, "--expect", 0, &ref)) return EXIT_FAIL;
    int same = ref.ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = ref.shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        int rc = errorf(EXIT_FAIL, "%s: reference shape %s does not match the output shape %s", ref_path,
                        shape_str(ref.ndim, ref.shape, a, sizeof a), shape_str(ndim, shape, b, sizeof b));
        farray_free(&ref);
        return rc;
    }
    double e = max_abs_err(data, ref.data, ref.count);
    printf("%s=%.6g\n", label, e);
    *err_out = e;
    farray_free(&ref);
    return EXIT_OK;
}

/* --expect / --expect-probs: prints the errors; fails when one exceeds tol. */
static int report_expect(const opt *o, size_t no, double tol, const float *out, int ndim, const int64_t *oshape,
                         const float *probs, const int64_t *pshape)
{
    double e_out = 0.0, e_probs = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_probs = get_opt(o, no, "expect-probs");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, ndim, oshape, &e_out)) return EXIT_FAIL;
    if (ref_probs && check_expect(ref_probs, "max_abs_err_probs", probs, 4, pshape, &e_probs)) return EXIT_FAIL;
    fflush(stdout);
    if (!(e_out <= tol)) return errorf(EXIT_FAIL, "max_abs_err %.6g exceeds --tol %g (%s)", e_out, tol, ref_out);
    if (!(e_probs <= tol))
        return errorf(EXIT_FAIL, "max_abs_err_probs %.6g exceeds --tol %g (%s)", e_probs, tol, ref_probs);
    return EXIT_OK;
}

/* ---- context ------------------------------------------------------------------------------------ */

/* Where the device selection came from, for messages: "--device 'X'", "CLATTN_DEVICE='X'" or the default;
 * only "from --device" / "from CLATTN_DEVICE" when msg (or NULL) already names the selector. */
static const char *selector_origin(const char *device, const char *msg, char *buf, size_t len)
{
    const char *env = getenv("CLATTN_DEVICE");
    const char *sel = device ? device : env && *env ? env : NULL;
    char quoted[300];
    snprintf(quoted, sizeof quoted, "'%s'", sel ? sel : "");
    const bool named = sel && msg && strstr(msg, quoted);
    if (sel) snprintf(buf, len, "selector from %s%s%s", device ? "--device" : "CLATTN_DEVICE", named ? "" : "=", named ? "" : quoted);
    else snprintf(buf, len, "default selector: --device and CLATTN_DEVICE not given");
    return buf;
}

/* The hint for a rusticl selector finding nothing: Mesa's rusticl lists no device unless RUSTICL_ENABLE
 * names a driver. "" when it does not apply. */
static const char *rusticl_hint(const char *selector)
{
    const char *env = getenv("RUSTICL_ENABLE");
    if (!selector || !strstr(selector, "rusticl") || (env && *env)) return "";
    return "; rusticl lists no devices unless RUSTICL_ENABLE names a driver: try RUSTICL_ENABLE=llvmpipe";
}

/* The error of a failed clattn_context_create(): the library's message (which names the selector when
 * the selector is at fault), where the selection came from, and the rusticl hint. */
static int context_error(const char *device, clattn_status st, const char *lib_msg)
{
    char origin[400];
    const char *env = getenv("CLATTN_DEVICE");
    return errorf(EXIT_FAIL, "%s: %s (%s)%s", clattn_status_string(st), lib_msg,
                  selector_origin(device, lib_msg, origin, sizeof origin),
                  st == CLATTN_ERROR_DEVICE_NOT_FOUND ? rusticl_hint(device ? device : env) : "");
}

static int make_context(const char *device, clattn_context **ctx)
{
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    clattn_status st = clattn_context_create(ctx, &o);
    return st == CLATTN_SUCCESS ? EXIT_OK : context_error(device, st, clattn_last_error(NULL));
}

static int lib_error(clattn_context *ctx, const char *call, clattn_status st)
{
    return errorf(EXIT_FAIL, "%s: %s: %s", call, clattn_status_string(st), clattn_last_error(ctx));
}

/* Median of the n (>= 1) timings in t (sorted in place). */
static double median_ms(double *t, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Calls fn(arg) `repeat` (>= 1) times, stopping at the first error: *first_ms is the first call,
 * *warm_ms the median of the others (or -1 when repeat is 1). */
static clattn_status time_calls(clattn_status (*fn)(void *), void *arg, int repeat, double *first_ms,
                                double *warm_ms)
{
    double warm[1000];
    double t0 = now_ms();
    clattn_status st = fn(arg);
    *first_ms = now_ms() - t0;
    int n = 0;
    for (int r = 1; r < repeat && r <= 1000 && st == CLATTN_SUCCESS; r++) {
        double ta = now_ms();
        st = fn(arg);
        warm[n++] = now_ms() - ta;
    }
    *warm_ms = n > 0 ? median_ms(warm, n) : -1.0;
    return st;
}

/* first_ms: the first compute call (on OpenCL it includes compiling kernels the driver has not cached);
 * warm_ms: median of the later calls (--repeat), or < 0 when there were none. */
static void print_result(clattn_context *ctx, double setup_ms, double first_ms, double warm_ms, int ndim,
                         const int64_t *shape, npy_dtype dtype)
{
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    char s[128];
    char warm[48] = "";
    if (warm_ms >= 0) snprintf(warm, sizeof warm, " warm_ms=%.3f", warm_ms);
    printf("backend=%s device=\"%s\" platform=\"%s\" setup_ms=%.3f time_ms=%.3f%s out_shape=%s dtype=%s\n",
           info.backend == CLATTN_BACKEND_HOST ? "host" : info.backend == CLATTN_BACKEND_MULTI ? "multi" : "opencl", info.device_name, info.platform_name, setup_ms,
           first_ms, warm, shape_str(ndim, shape, s, sizeof s), dtype_name(dtype));
}

/* One compute call each of sdpa and mha, for time_calls(). */
typedef struct sdpa_call {
    clattn_sdpa_plan *plan;
    const void *q, *k, *v; /* float or binary16 (desc.data_type) */
    const void *mask;
    const int32_t *kvl;
    void *out;
    float *probs, *lse;
    const int32_t *block_table; /* paged KV cache (--block-table), else NULL */
} sdpa_call;
static clattn_status sdpa_call_run(void *arg)
{
    const sdpa_call *c = arg;
    clattn_sdpa_buffers b;
    clattn_sdpa_buffers_init(&b);
    b.q = c->q;
    b.k = c->k;
    b.v = c->v;
    b.mask = c->mask;
    b.kv_lengths = c->kvl;
    b.out = c->out;
    b.probs = c->probs;
    b.lse = c->lse;
    b.block_table = c->block_table;
    return clattn_sdpa_execute_buffers(c->plan, &b);
}

typedef struct mha_call {
    clattn_mha *mha;
    int64_t B, Lq, Lk;
    const float *x, *k, *v;
    const void *mask;
    const int32_t *kvl;
    const clattn_mha_options *opts;
    float *out, *probs;
} mha_call;
static clattn_status mha_call_run(void *arg)
{
    const mha_call *c = arg;
    return clattn_mha_forward(c->mha, c->B, c->Lq, c->Lk, c->x, c->k, c->v, c->mask, c->kvl, c->opts, c->out,
                              c->probs);
}

/* ---- clattn sdpa ---------------------------------------------------------------------------------- */

/* Options of sdpa and mha after their inputs and output, H being the heads' name in the help. */
#define ATTN_OPTIONS(H)                                                                                                \
    {"mask", "M.npy",                                                                                                 \
     "bool (true = may attend) or float additive (-inf = not allowed) mask of rank 2..4, broadcast to [B," H        \
     ",Lq,Lk] by NumPy rules (default: none)", NULL},                                                                       \
        {"causal", "top-left|bottom-right", "causal mask aligned to that corner of the [Lq,Lk] scores, or none "    \
                                            "(default: none)", NULL},                                                       \
        {"kv-lengths", "N1,N2,...", "valid keys per batch item, one value in 0..Lk per item (default: all Lk)", NULL},     \
        {"scale", "S", "score scale, a non-zero finite number (default: 1/sqrt(head dim))", NULL},                          \
        {"softcap", "C", "soft cap of the scores, C*tanh(score/C); 0 = off (default: 0)", NULL},                           \
        {"window", "LEFT,RIGHT",                                                                                      \
         "sliding window: key j allowed iff i'-LEFT <= j <= i'+RIGHT, i' = i + Lk - Lq; -1 = unbounded "              \
         "(default: -1,-1)", NULL},                                                                                         \
        {"probs", "P.npy", "also write the attention probabilities, float32 [B," H ",Lq,Lk] (default: not written)", NULL}, \
        {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn "   \
                               "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", NULL}, \
        {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", NULL}, \
        {"expect-probs", "REF.npy", "the same for the probabilities: print max_abs_err_probs (default: none)", NULL},      \
        {"tol", "T", "largest max_abs_err accepted by every --expect*, >= 0 (default: 1e-4)", NULL},                \
        {"repeat", "N", "run N times (1..1000): time_ms is the first call (on OpenCL it includes compiling kernels "  \
                        "the driver has not cached), warm_ms the median of the others (default: 1)", NULL}

/* The last line of the notes of sdpa and mha. */
#define OUTPUTS_NOTE "--out/--probs are replaced only when the whole run succeeds (--expect included); they must differ.\n"

static opt sdpa_opts[] = {
    {"query", "Q.npy", "required: queries [B,Hq,Lq,D], float32 or float16", NULL},
    {"key", "K.npy", "required: keys [B or 1,Hkv,Lk,D], Hq a multiple of Hkv, Q's dtype", NULL},
    {"value", "V.npy", "required: values [B or 1,Hkv,Lk,Dv], Q's dtype", NULL},
    {"out", "O.npy", "required: the output [B,Hq,Lq,Dv] in Q's dtype", NULL},
    {"lse", "L.npy",
     "also write each row's log-sum-exp, float32 [B,Hq,Lq]: the natural log of the softmax denominator over the "
     "allowed keys (scaled, softcapped, masked scores), -inf for a row with none (default: not written)", NULL},
    {"expect-lse", "REF.npy", "the same as --expect for the log-sum-exp: print max_abs_err_lse (default: none)", NULL},
    {"block-table", "T.npy",
     "a paged KV cache: int32 [B,max_blocks] block table (vLLM / FlashAttention block_table); --key/--value are then "
     "pools [num_blocks,block_size,Hkv,D] / [..,Dv] and Lk = max_blocks*block_size (default: contiguous K/V)", NULL},
    {"seq-lens", "L.npy", "int32 [B] sequence lengths of a paged cache, each in 0..Lk (or give --kv-lengths; one of "
                          "them is required with --block-table)", NULL},
    ATTN_OPTIONS("Hq"),
};

static const char sdpa_notes[] =
    "float16 Q/K/V go to the library as they are (computed in float32, the output rounded to float16; --lse stays "
    "float32).\n"
    "--block-table: key j of sequence b is row j % block_size of pool block T[b][j / block_size] (block_size = K dim "
    "1, a power of two >= 16); blocks past a sequence's length are not read.\n"
    "--out/--probs/--lse are replaced only when the whole run succeeds (--expect included); they must differ.\n";

/* Options shared by sdpa and mha (the masking part). */
typedef struct attn_opts {
    clattn_causal causal;
    float scale, softcap;
    int64_t wl, wr;
    double tol;
    int repeat; /* compute calls to time (>= 1) */
} attn_opts;

static int parse_attn_opts(const opt *o, size_t n, attn_opts *a)
{
    memset(a, 0, sizeof *a);
    a->tol = 1e-4;
    a->repeat = 1;
    const char *s;
    if ((s = get_opt(o, n, "repeat"))) {
        char *end = NULL;
        long r = strtol(s, &end, 10);
        if (end == s || *end != '\0' || r < 1 || r > 1000)
            return errorf(EXIT_USAGE, "--repeat: '%s' must be an integer in 1..1000", s);
        a->repeat = (int)r;
    }
    if (parse_causal(get_opt(o, n, "causal"), &a->causal)) return EXIT_USAGE;
    if ((s = get_opt(o, n, "scale"))) {
        double v = 0.0;
        if (parse_double("scale", s, &v)) return EXIT_USAGE;
        if (v == 0.0 || !isfinite((float)v))
            return errorf(EXIT_USAGE, "--scale: '%s' must be a non-zero finite float (omit it for 1/sqrt(D))", s);
        a->scale = (float)v;
    }
    if ((s = get_opt(o, n, "softcap"))) {
        double v = 0.0;
        if (parse_double("softcap", s, &v)) return EXIT_USAGE;
        if (v < 0.0 || !isfinite((float)v)) return errorf(EXIT_USAGE, "--softcap: '%s' must be >= 0 (0 = off)", s);
        a->softcap = (float)v;
    }
    if (parse_window(get_opt(o, n, "window"), &a->wl, &a->wr)) return EXIT_USAGE;
    if ((s = get_opt(o, n, "tol"))) {
        if (parse_double("tol", s, &a->tol)) return EXIT_USAGE;
        if (a->tol < 0) return errorf(EXIT_USAGE, "--tol: '%s' must be >= 0", s);
    }
    return EXIT_OK;
}

static int require(const char *cmd, const opt *o, size_t n, const char *const *names)
{
    for (; *names; names++)
        if (!get_opt(o, n, *names)) return errorf(EXIT_USAGE, "clattn %s: missing required option --%s", cmd, *names);
    return EXIT_OK;
}

static int cmd_sdpa(int argc, char **argv)
{
    opt *o = sdpa_opts;
    const size_t no = sizeof sdpa_opts / sizeof sdpa_opts[0];
    int rc = parse_options("sdpa", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("sdpa") : rc;
    static const char *const req[] = {"query", "key", "value", "out", NULL};
    if (require("sdpa", o, no, req)) return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    static const char *const outs[] = {"out", "probs", "lse", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    farray q = {0}, k = {0}, v = {0};
    int32_t *kvl = NULL, *block_table = NULL;
    void *mask = NULL;
    float *out = NULL, *probs = NULL, *lse = NULL;
    uint16_t *out16 = NULL; /* float16 output (float16 inputs) */
    clattn_context *ctx = NULL;
    clattn_sdpa_plan *plan = NULL;
    char s1[128], s2[128];

    rc = EXIT_FAIL;
    if (load_array(get_opt(o, no, "query"), "--query", 4, 1, &q) ||
        load_array(get_opt(o, no, "key"), "--key", 4, 1, &k) || load_array(get_opt(o, no, "value"), "--value", 4, 1, &v))
        goto done;
    if (k.dtype != q.dtype || v.dtype != q.dtype) {
        const farray *x = k.dtype != q.dtype ? &k : &v;
        errorf(EXIT_FAIL, "dtype mismatch: %s is %s but %s is %s (all of Q, K, V must be the same)", q.path,
               dtype_name(q.dtype), x->path, dtype_name(x->dtype));
        goto done;
    }
    const int64_t B = q.shape[0], Hq = q.shape[1], Lq = q.shape[2], D = q.shape[3];
    int64_t Hkv = k.shape[1], Lk = k.shape[2];
    const int64_t Dv = v.shape[3];
    const char *why = NULL;
    const farray *bad = &k;
    /* a paged cache: K/V are pools [num_blocks, block_size, Hkv, D], the table [B, max_blocks] */
    const char *bt_path = get_opt(o, no, "block-table"), *sl_path = get_opt(o, no, "seq-lens");
    int64_t bt_shape[2] = {0, 0};
    if (!bt_path && sl_path) {
        rc = errorf(EXIT_USAGE, "--seq-lens is only for a paged cache (give --block-table too, or use --kv-lengths)");
        goto done;
    }
    if (bt_path) {
        if (load_int32(bt_path, "--block-table", 2, bt_shape, &block_table)) goto done;
        if (bt_shape[0] != B) {
            errorf(EXIT_FAIL, "shape mismatch: %s has %lld rows, expected one per batch item (B = %lld, %s dim 0)",
                   bt_path, (long long)bt_shape[0], (long long)B, q.path);
            goto done;
        }
        Hkv = k.shape[2];
        Lk = k.shape[1] * bt_shape[1];
        if (k.shape[3] != D) why = "head dim (dim 3) differs";
        else if (Hkv == 0 || Hq % Hkv != 0) why = "number of query heads (Q dim 1) is not a multiple of the pool's K dim 2";
        if (!why) {
            bad = &v;
            if (v.shape[0] != k.shape[0] || v.shape[1] != k.shape[1] || v.shape[2] != Hkv)
                why = "pool dims 0..2 (num_blocks, block_size, Hkv) differ from K";
        }
    } else if (k.shape[0] != B && k.shape[0] != 1) why = "batch (dim 0) differs";
    else if (k.shape[3] != D) why = "head dim (dim 3) differs";
    else if (Hkv == 0 || Hq % Hkv != 0) why = "number of query heads (Q dim 1) is not a multiple of K dim 1";
    if (!why && !bt_path) {
        bad = &v;
        if (v.shape[0] != k.shape[0]) why = "batch (dim 0) differs from K";
        else if (v.shape[1] != Hkv) why = "heads (dim 1) differ from K";
        else if (v.shape[2] != Lk) why = "length (dim 2) differs from K";
    }
    if (why) {
        errorf(EXIT_FAIL, "shape mismatch: %s %s vs %s %s: %s", bad->path, shape_str(4, bad->shape, s1, sizeof s1),
               bad == &k ? q.path : k.path, shape_str(4, bad == &k ? q.shape : k.shape, s2, sizeof s2), why);
        goto done;
    }
    if ((rc = parse_kv_lengths(get_opt(o, no, "kv-lengths"), B, Lk, &kvl))) goto done; /* 2: bad value */
    rc = EXIT_FAIL;
    if (sl_path) {
        int64_t sl_shape[1];
        if (kvl) {
            rc = errorf(EXIT_USAGE, "--seq-lens and --kv-lengths both give the lengths: give one");
            goto done;
        }
        if (load_int32(sl_path, "--seq-lens", 1, sl_shape, &kvl)) goto done;
        if (sl_shape[0] != B) {
            errorf(EXIT_FAIL, "shape mismatch: %s has %lld lengths, expected one per batch item (B = %lld)", sl_path,
                   (long long)sl_shape[0], (long long)B);
            goto done;
        }
    }
    if (bt_path && !kvl) {
        rc = errorf(EXIT_USAGE, "--block-table needs the sequence lengths: give --seq-lens or --kv-lengths");
        goto done;
    }

    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, Hq, Hkv, Lq, Lk, D, Dv);
    desc.k = clattn_tensor_contiguous(k.shape[0], Hkv, Lk, D);
    desc.v = clattn_tensor_contiguous(v.shape[0], Hkv, Lk, Dv);
    if (bt_path) { /* the library checks block_size (a power of two >= 16), the lengths and the table's entries */
        desc.kv_layout = CLATTN_KV_PAGED;
        desc.kv_block_size = k.shape[1];
        desc.max_blocks_per_seq = bt_shape[1];
        desc.k = clattn_tensor_contiguous(k.shape[0], k.shape[1], Hkv, D);
        desc.v = clattn_tensor_contiguous(v.shape[0], v.shape[1], Hkv, Dv);
    }
    desc.scale = ao.scale;
    desc.softcap = ao.softcap;
    desc.causal = ao.causal;
    desc.window_left = ao.wl;
    desc.window_right = ao.wr;
    desc.use_kv_lengths = kvl != NULL;
    if (get_opt(o, no, "mask") &&
        load_mask(get_opt(o, no, "mask"), B, Hq, Lq, Lk, &desc.mask_kind, &desc.mask, &mask, &desc.mask_data_type))
        goto done;

    int64_t oshape[4] = {B, Hq, Lq, Dv};
    int64_t pshape[4] = {B, Hq, Lq, Lk};
    if (!(out = alloc_floats(4, oshape, "output"))) goto done;
    const int f16 = q.dtype == NPY_DTYPE_F16;
    if (f16) {
        desc.data_type = CLATTN_DTYPE_F16;
        out16 = calloc((size_t)checked_count(4, oshape) + 1, sizeof *out16); /* out's count fits (alloc_floats) */
        if (!out16) {
            errorf(EXIT_FAIL, "out of memory for the float16 output of shape %s", shape_str(4, oshape, s1, sizeof s1));
            goto done;
        }
    }
    int want_probs = get_opt(o, no, "probs") || get_opt(o, no, "expect-probs");
    if (want_probs) {
        if (!(probs = alloc_floats(4, pshape, "probabilities"))) goto done;
        desc.want_probs = 1;
    }
    const int64_t lshape[3] = {B, Hq, Lq};
    if (get_opt(o, no, "lse") || get_opt(o, no, "expect-lse")) {
        if (!(lse = alloc_floats(3, lshape, "log-sum-exp"))) goto done;
        desc.want_lse = 1; /* desc.lse: contiguous [B, Hq, Lq] (clattn_sdpa_desc_init) */
    }
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;

    double t0 = now_ms();
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &desc);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_sdpa_plan_create", st);
        goto done;
    }
    double t1 = now_ms();
    sdpa_call call = {plan, q.data, k.data, v.data, mask, kvl, out, probs, lse, block_table};
    if (f16) { /* binary16 buffers straight to the library (clattn.h, data_type) */
        call.q = q.half;
        call.k = k.half;
        call.v = v.half;
        call.out = out16;
    }
    double first_ms, warm_ms;
    st = time_calls(sdpa_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_sdpa_execute", st);
        goto done;
    }
    if (f16) {
        if (output_write("out", NPY_DTYPE_F16, 4, oshape, out16)) goto done;
        half_to_float_n(out16, out, (size_t)checked_count(4, oshape)); /* what was written, for --expect */
    } else if (write_float("out", q.dtype, 4, oshape, out)) {
        goto done;
    }
    if (get_opt(o, no, "probs") && write_float("probs", NPY_DTYPE_F32, 4, pshape, probs)) goto done;
    if (get_opt(o, no, "lse") && write_float("lse", NPY_DTYPE_F32, 3, lshape, lse)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 4, oshape, q.dtype);
    if (report_expect(o, no, ao.tol, out, 4, oshape, probs, pshape)) goto done;
    const char *ref_lse = get_opt(o, no, "expect-lse");
    if (ref_lse) {
        double e_lse = 0.0;
        if (check_expect(ref_lse, "max_abs_err_lse", lse, 3, lshape, &e_lse)) goto done;
        fflush(stdout);
        if (!(e_lse <= ao.tol)) {
            errorf(EXIT_FAIL, "max_abs_err_lse %.6g exceeds --tol %g (%s)", e_lse, ao.tol, ref_lse);
            goto done;
        }
    }
    if (outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    clattn_sdpa_plan_destroy(plan);
    clattn_context_destroy(ctx);
    farray_free(&q);
    farray_free(&k);
    farray_free(&v);
    free(kvl);
    free(block_table);
    free(mask);
    free(out);
    free(out16);
    free(probs);
    free(lse);
    return rc;
}

/* ---- clattn mha ----------------------------------------------------------------------------------- */

static opt mha_opts[] = {
    {"params", "P.safetensors", "required: the attention weights (see below)", NULL},
    {"prefix", "STR", "prepended verbatim to every weight name, e.g. encoder.layer.0.attention. (default: empty)", NULL},
    {"num-heads", "H", "required: number of heads, a divisor of the embedding size E", NULL},
    {"query", "X.npy", "required: the input [B,Lq,E] (batch first), float32 or float16", NULL},
    {"key", "K.npy", "keys [B,Lk,kdim], with --value (default: the query)", NULL},
    {"value", "V.npy", "values [B,Lk,vdim], with --key (default: the query)", NULL},
    {"out", "O.npy", "required: the output [B,Lq,E] in X's dtype", NULL},
    ATTN_OPTIONS("H"),
};

static const char mha_notes[] =
    "Weights (float32; float16 converted) named as nn.MultiheadAttention's state_dict (in_proj_weight,\n"
    "in_proj_bias, out_proj.weight, out_proj.bias, or q_proj_weight/k_proj_weight/v_proj_weight) or as\n"
    "Hugging Face BERT's attention block (self.query.weight/bias, self.key.*, self.value.*,\n"
    "output.dense.weight/bias), each name prefixed verbatim by --prefix. kdim/vdim come from the key/value\n"
    "weights ([E,kdim], [E,vdim]; in_proj_weight means kdim = vdim = E).\n"
    OUTPUTS_NOTE;

/* Weights found in the safetensors file (float32 copies). */
typedef struct mha_params {
    float *tensors[8]; /* owned copies */
    int ntensors;
    clattn_mha_weights w;
    const char *naming; /* "nn.MultiheadAttention" or "BERT" */
} mha_params;

static void mha_params_free(mha_params *p)
{
    for (int i = 0; i < p->ntensors; i++) free(p->tensors[i]);
    p->ntensors = 0;
}

/* Finds prefix+suffix; when required and missing, reports. *t NULL when absent and optional. */
static int find_tensor(const st_file *f, const char *prefix, const char *suffix, int required, const st_tensor **t)
{
    char name[1024];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    *t = st_find(f, name);
    if (!*t && required) return errorf(EXIT_FAIL, "%s: tensor '%s' not found", f->path, name);
    return EXIT_OK;
}

/* Loads tensor t as float32 and checks its shape (ndim dims; a dim < 0 in want matches anything). */
static int take_tensor(const st_file *f, const st_tensor *t, int ndim, const int64_t *want, mha_params *p,
                       const float **out)
{
    char s[256], w[256];
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = want[i] < 0 || t->shape[i] == want[i];
    if (!ok) {
        char *pw = w;
        size_t left = sizeof w;
        int n = snprintf(pw, left, "[");
        pw += n;
        left -= (size_t)n;
        for (int i = 0; i < ndim; i++) {
            if (want[i] < 0) n = snprintf(pw, left, "%s*", i ? "," : "");
            else n = snprintf(pw, left, "%s%lld", i ? "," : "", (long long)want[i]);
            pw += n;
            left -= (size_t)n;
        }
        snprintf(pw, left, "]");
        return errorf(EXIT_FAIL, "%s: tensor '%s' has shape %s, expected %s", f->path, t->name,
                      shape_str(t->ndim, t->shape, s, sizeof s), w);
    }
    char err[NPY_ERR_MAX];
    float *d = NULL;
    if (st_get_f32(f, t, &d, err, sizeof err)) return errorf(EXIT_FAIL, "%s", err);
    p->tensors[p->ntensors++] = d;
    *out = d;
    return EXIT_OK;
}

/* Suggests a --prefix from names ending in a known suffix. */
static void suggest_prefix(const st_file *f, char *buf, size_t len)
{
    static const char *const suffixes[] = {"in_proj_weight", "q_proj_weight", "self.query.weight"};
    buf[0] = '\0';
    for (size_t i = 0; i < f->num_tensors; i++) {
        const char *n = f->tensors[i].name;
        size_t nl = strlen(n);
        for (size_t s = 0; s < 3; s++) {
            size_t sl = strlen(suffixes[s]);
            if (nl >= sl && strcmp(n + nl - sl, suffixes[s]) == 0) {
                snprintf(buf, len, "; did you mean --prefix '%.*s'?", (int)(nl - sl), n);
                return;
            }
        }
    }
}

static int load_mha_params(const st_file *f, const char *prefix, mha_params *p)
{
    memset(p, 0, sizeof *p);
    const st_tensor *t_in, *t_q, *t_bert;
    find_tensor(f, prefix, "in_proj_weight", 0, &t_in);
    find_tensor(f, prefix, "q_proj_weight", 0, &t_q);
    find_tensor(f, prefix, "self.query.weight", 0, &t_bert);
    clattn_mha_weights *w = &p->w;
    clattn_mha_weights_init(w);
    const int64_t any2[2] = {-1, -1};
    if (t_in || t_q) {
        const st_tensor *t;
        p->naming = "nn.MultiheadAttention";
        find_tensor(f, prefix, "bias_k", 0, &t);
        if (t) return errorf(EXIT_FAIL, "%s: '%s' found: add_bias_kv is not supported", f->path, t->name);
        int64_t E;
        if (t_in) {
            if (t_in->ndim != 2 || t_in->shape[0] % 3 != 0 || t_in->shape[1] * 3 != t_in->shape[0]) {
                char s[128];
                return errorf(EXIT_FAIL, "%s: tensor '%s' has shape %s, expected [3*E,E]", f->path, t_in->name,
                              shape_str(t_in->ndim, t_in->shape, s, sizeof s));
            }
            E = t_in->shape[1];
            const float *in = NULL;
            if (take_tensor(f, t_in, 2, t_in->shape, p, &in)) return EXIT_FAIL;
            w->w_q = in;
            w->w_k = in + E * E;
            w->w_v = in + 2 * E * E;
            w->kdim = w->vdim = E;
        } else {
            E = t_q->ndim == 2 ? t_q->shape[0] : -1;
            int64_t wq[2] = {E, E};
            if (take_tensor(f, t_q, 2, t_q->ndim == 2 ? wq : any2, p, &w->w_q)) return EXIT_FAIL;
            int64_t wk[2] = {E, -1};
            if (find_tensor(f, prefix, "k_proj_weight", 1, &t) || take_tensor(f, t, 2, wk, p, &w->w_k))
                return EXIT_FAIL;
            w->kdim = t->shape[1];
            if (find_tensor(f, prefix, "v_proj_weight", 1, &t) || take_tensor(f, t, 2, wk, p, &w->w_v))
                return EXIT_FAIL;
            w->vdim = t->shape[1];
        }
        w->embed_dim = E;
        find_tensor(f, prefix, "in_proj_bias", 0, &t);
        if (t) {
            int64_t b3[1] = {3 * E};
            const float *b = NULL;
            if (take_tensor(f, t, 1, b3, p, &b)) return EXIT_FAIL;
            w->b_q = b;
            w->b_k = b + E;
            w->b_v = b + 2 * E;
        }
        int64_t ee[2] = {E, E}, e1[1] = {E};
        if (find_tensor(f, prefix, "out_proj.weight", 1, &t) || take_tensor(f, t, 2, ee, p, &w->w_o)) return EXIT_FAIL;
        find_tensor(f, prefix, "out_proj.bias", 0, &t);
        if (t && take_tensor(f, t, 1, e1, p, &w->b_o)) return EXIT_FAIL;
        return EXIT_OK;
    }
    if (t_bert) {
        p->naming = "BERT";
        const st_tensor *t;
        const int64_t E = t_bert->shape[0];
        int64_t ee[2] = {E, E}, e1[1] = {E};
        static const char *const wn[4] = {"self.query.weight", "self.key.weight", "self.value.weight",
                                          "output.dense.weight"};
        static const char *const bn[4] = {"self.query.bias", "self.key.bias", "self.value.bias", "output.dense.bias"};
        const float **wp[4] = {&w->w_q, &w->w_k, &w->w_v, &w->w_o};
        const float **bp[4] = {&w->b_q, &w->b_k, &w->b_v, &w->b_o};
        if (t_bert->ndim != 2) {
            char s[128];
            return errorf(EXIT_FAIL, "%s: tensor '%s' has shape %s, expected [E,E]", f->path, t_bert->name,
                          shape_str(t_bert->ndim, t_bert->shape, s, sizeof s));
        }
        /* key/value weights map kdim/vdim features to E: [E,kdim], [E,vdim] (kdim/vdim from the file) */
        const int64_t ek[2] = {E, -1};
        const int64_t *wshape[4] = {ee, ek, ek, ee};
        int64_t *dims[4] = {NULL, &w->kdim, &w->vdim, NULL};
        for (int i = 0; i < 4; i++) {
            if (find_tensor(f, prefix, wn[i], 1, &t) || take_tensor(f, t, 2, wshape[i], p, wp[i])) return EXIT_FAIL;
            if (dims[i]) *dims[i] = t->shape[1];
            find_tensor(f, prefix, bn[i], 0, &t);
            if (t && take_tensor(f, t, 1, e1, p, bp[i])) return EXIT_FAIL;
        }
        w->embed_dim = E;
        return EXIT_OK;
    }
    char hint[600];
    suggest_prefix(f, hint, sizeof hint);
    return errorf(EXIT_FAIL,
                  "%s: no attention weights under prefix '%s': expected '%sin_proj_weight', '%sq_proj_weight' or "
                  "'%sself.query.weight' (%zu tensors in the file)%s",
                  f->path, prefix, prefix, prefix, prefix, f->num_tensors, hint);
}

static int cmd_mha(int argc, char **argv)
{
    opt *o = mha_opts;
    const size_t no = sizeof mha_opts / sizeof mha_opts[0];
    int rc = parse_options("mha", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("mha") : rc;
    static const char *const req[] = {"params", "num-heads", "query", "out", NULL};
    if (require("mha", o, no, req)) return EXIT_USAGE;
    if (!get_opt(o, no, "key") != !get_opt(o, no, "value"))
        return errorf(EXIT_USAGE, "clattn mha: --key and --value must be given together");
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    int64_t H = 0;
    const char *hs = get_opt(o, no, "num-heads");
    if (parse_i64("num-heads", hs, hs + strlen(hs), &H)) return EXIT_USAGE;
    if (H <= 0) return errorf(EXIT_USAGE, "--num-heads: %lld, expected a positive integer", (long long)H);
    const char *prefix = get_opt(o, no, "prefix") ? get_opt(o, no, "prefix") : "";
    static const char *const outs[] = {"out", "probs", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    st_file sf = {0};
    mha_params mp = {0};
    farray x = {0}, k = {0}, v = {0};
    int32_t *kvl = NULL;
    void *mask = NULL;
    float *out = NULL, *probs = NULL;
    clattn_context *ctx = NULL;
    clattn_mha *mha = NULL;
    char err[NPY_ERR_MAX], s1[128];
    rc = EXIT_FAIL;

    if (st_open(get_opt(o, no, "params"), &sf, err, sizeof err)) {
        errorf(EXIT_FAIL, "%s", err);
        goto done;
    }
    if (load_mha_params(&sf, prefix, &mp)) goto done;
    const int64_t E = mp.w.embed_dim;
    if (E % H != 0) {
        rc = errorf(EXIT_USAGE, "--num-heads %lld does not divide the embedding size %lld of %s", (long long)H, (long long)E,
               sf.path);
        goto done;
    }
    mp.w.num_heads = H;
    if (load_float(get_opt(o, no, "query"), "--query", 3, &x)) goto done;
    if (x.shape[2] != E) {
        errorf(EXIT_FAIL, "shape mismatch: %s %s: last dim must be the embedding size %lld of %s", x.path,
               shape_str(3, x.shape, s1, sizeof s1), (long long)E, sf.path);
        goto done;
    }
    const int64_t B = x.shape[0], Lq = x.shape[1];
    int64_t Lk = Lq;
    if (get_opt(o, no, "key")) {
        if (load_float(get_opt(o, no, "key"), "--key", 3, &k) || load_float(get_opt(o, no, "value"), "--value", 3, &v))
            goto done;
        const farray *bad = NULL;
        const char *why = NULL;
        if (k.dtype != x.dtype || v.dtype != x.dtype) {
            bad = k.dtype != x.dtype ? &k : &v;
            errorf(EXIT_FAIL, "dtype mismatch: %s is %s but %s is %s (query, key and value must be the same)", x.path,
                   dtype_name(x.dtype), bad->path, dtype_name(bad->dtype));
            goto done;
        }
        if (k.shape[0] != B) bad = &k, why = "batch (dim 0) differs from the query";
        else if (k.shape[2] != mp.w.kdim) bad = &k, why = "last dim is not the key size (kdim) of the weights";
        else if (v.shape[0] != B) bad = &v, why = "batch (dim 0) differs from the query";
        else if (v.shape[1] != k.shape[1]) bad = &v, why = "length (dim 1) differs from the key";
        else if (v.shape[2] != mp.w.vdim) bad = &v, why = "last dim is not the value size (vdim) of the weights";
        if (why) {
            errorf(EXIT_FAIL, "shape mismatch: %s %s: %s", bad->path, shape_str(3, bad->shape, s1, sizeof s1), why);
            goto done;
        }
        Lk = k.shape[1];
    } else if (mp.w.kdim != E || mp.w.vdim != E) {
        rc = errorf(EXIT_USAGE, "%s has kdim %lld / vdim %lld != embed_dim %lld: give --key and --value", sf.path,
               (long long)mp.w.kdim, (long long)mp.w.vdim, (long long)E);
        goto done;
    }
    if ((rc = parse_kv_lengths(get_opt(o, no, "kv-lengths"), B, Lk, &kvl))) goto done; /* 2: bad value */
    rc = EXIT_FAIL;

    clattn_mha_options mo;
    clattn_mha_options_init(&mo);
    mo.scale = ao.scale;
    mo.softcap = ao.softcap;
    mo.causal = ao.causal;
    mo.window_left = ao.wl;
    mo.window_right = ao.wr;
    if (get_opt(o, no, "mask") && load_mask(get_opt(o, no, "mask"), B, H, Lq, Lk, &mo.mask_kind, &mo.mask, &mask, NULL))
        goto done;
    int64_t oshape[3] = {B, Lq, E};
    int64_t pshape[4] = {B, H, Lq, Lk};
    if (!(out = alloc_floats(3, oshape, "output"))) goto done;
    if (get_opt(o, no, "probs") || get_opt(o, no, "expect-probs")) {
        if (!(probs = alloc_floats(4, pshape, "probabilities"))) goto done;
        mo.probs_mode = CLATTN_PROBS_PER_HEAD;
    }
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;

    double t0 = now_ms();
    clattn_status st = clattn_mha_create(&mha, ctx, &mp.w);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_mha_create", st);
        goto done;
    }
    double t1 = now_ms();
    mha_call call = {mha, B, Lq, Lk, x.data, k.data, v.data, mask, kvl, &mo, out, probs};
    double first_ms, warm_ms;
    st = time_calls(mha_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_mha_forward", st);
        goto done;
    }
    if (write_float("out", x.dtype, 3, oshape, out)) goto done;
    if (get_opt(o, no, "probs") && write_float("probs", NPY_DTYPE_F32, 4, pshape, probs)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 3, oshape, x.dtype);
    if (report_expect(o, no, ao.tol, out, 3, oshape, probs, pshape) || outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    clattn_mha_destroy(mha);
    clattn_context_destroy(ctx);
    mha_params_free(&mp);
    st_close(&sf);
    farray_free(&x);
    farray_free(&k);
    farray_free(&v);
    free(kvl);
    free(mask);
    free(out);
    free(probs);
    return rc;
}

/* ---- clattn devices ------------------------------------------------------------------------------- */

static opt devices_opts[] = {
    {"device", "SELECTOR", "the selector to mark and check, overriding CLATTN_DEVICE (default: CLATTN_DEVICE, else "
                           "the library's choice); exit 1 when it selects nothing", NULL},
    {"json", NULL, "one JSON object per device (clattn_device_list_get(): index, selector, backend, type, platform, "
                   "device, limits, flags, extensions, selected) with the kernels the library's planner chooses there "
                   "for the reference shapes (prefill 1,16,16,2048,2048,64 and decode 8,32,8,1,4096,128; see clattn "
                   "kernels --device) (default: the listing below)", NULL},
};

static const char devices_notes[] =
    "Indices are <platform>:<device> in clGetPlatformIDs/clGetDeviceIDs order. The last line says which\n"
    "device is selected and where the selection came from (--device or CLATTN_DEVICE). With --json, each\n"
    "device's \"selector\" picks exactly that device (--device, CLATTN_DEVICE); the host path comes last.\n"
    "Send the --json output with a bug report: it says what clattn builds on your device.\n";

static void cl_str(cl_device_id d, cl_device_info p, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, p, len, buf, NULL) != CL_SUCCESS) snprintf(buf, len, "?");
    buf[len - 1] = '\0';
}

static void cl_pstr(cl_platform_id pl, cl_platform_info p, char *buf, size_t len)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(pl, p, len, buf, NULL) != CL_SUCCESS) snprintf(buf, len, "?");
    buf[len - 1] = '\0';
}

static const char *human_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= (1ull << 30)) snprintf(buf, len, "%.2fGiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20)) snprintf(buf, len, "%.2fMiB", (double)b / (double)(1ull << 20));
    else snprintf(buf, len, "%lluKiB", (unsigned long long)(b >> 10));
    return buf;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static int devices_json(const char *device);

static int cmd_devices(int argc, char **argv)
{
    opt *o = devices_opts;
    int rc = parse_options("devices", argc, argv, o, sizeof devices_opts / sizeof devices_opts[0]);
    if (rc) return rc < 0 ? print_help("devices") : rc;
    if (o[1].value) return devices_json(o[0].value);

    /* What the selector picks. */
    clattn_context *ctx = NULL;
    clattn_context_options co;
    clattn_context_options_init(&co);
    co.device = o[0].value;
    clattn_status sel_st = clattn_context_create(&ctx, &co);
    char sel_err[MSG_MAX] = "";
    if (sel_st != CLATTN_SUCCESS) snprintf(sel_err, sizeof sel_err, "%s", clattn_last_error(NULL));
    clattn_device_info sel_info;
    clattn_device_info_init(&sel_info);
    cl_device_id sel_dev = NULL;
    if (ctx) {
        clattn_context_get_info(ctx, &sel_info);
        clattn_context_get_cl(ctx, NULL, &sel_dev, NULL);
    }
    int marked = 0;
    char selected_desc[600] = "";

    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 || (err == CL_SUCCESS && np == 0)) {
        printf("OpenCL: no platforms (no ICD installed)\n");
        np = 0;
    } else if (err != CL_SUCCESS) {
        printf("OpenCL: clGetPlatformIDs failed (%d)\n", (int)err);
        np = 0;
    }
    cl_platform_id *plats = np ? calloc(np, sizeof *plats) : NULL;
    if (np && (!plats || clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS)) np = 0;
    for (cl_uint p = 0; p < np; p++) {
        char pname[256], pvendor[256], pver[256];
        cl_pstr(plats[p], CL_PLATFORM_NAME, pname, sizeof pname);
        cl_pstr(plats[p], CL_PLATFORM_VENDOR, pvendor, sizeof pvendor);
        cl_pstr(plats[p], CL_PLATFORM_VERSION, pver, sizeof pver);
        cl_uint nd = 0;
        cl_int derr = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (derr != CL_SUCCESS || nd == 0) {
            const char *env = getenv("RUSTICL_ENABLE");
            printf("platform %u: \"%s\" vendor=\"%s\" version=\"%s\" (no devices%s)\n", p, pname, pvendor, pver,
                   strstr(pname, "rusticl") && !(env && *env) ? "; set RUSTICL_ENABLE=llvmpipe to enable its CPU device"
                                                              : "");
            continue;
        }
        printf("platform %u: \"%s\" vendor=\"%s\" version=\"%s\"\n", p, pname, pvendor, pver);
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs || clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) {
            free(devs);
            continue;
        }
        for (cl_uint d = 0; d < nd; d++) {
            char name[256], vendor[256], driver[128], clc[128], g[32], l[32];
            cl_device_type type = 0;
            cl_ulong gmem = 0, lmem = 0;
            size_t wg = 0;
            cl_str(devs[d], CL_DEVICE_NAME, name, sizeof name);
            cl_str(devs[d], CL_DEVICE_VENDOR, vendor, sizeof vendor);
            cl_str(devs[d], CL_DRIVER_VERSION, driver, sizeof driver);
            cl_str(devs[d], CL_DEVICE_OPENCL_C_VERSION, clc, sizeof clc);
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
            clGetDeviceInfo(devs[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
            /* Match the context's cl_device_id; without one, the first device with the same platform
             * and device name. */
            int is_sel = ctx && sel_info.backend == CLATTN_BACKEND_OPENCL && !marked &&
                         (sel_dev ? devs[d] == sel_dev
                                  : strncmp(name, sel_info.device_name, sizeof sel_info.device_name - 1) == 0 &&
                                        strncmp(pname, sel_info.platform_name, sizeof sel_info.platform_name - 1) == 0);
            if (is_sel) {
                marked = 1;
                snprintf(selected_desc, sizeof selected_desc, "opencl %u:%u \"%s\"", p, d, name);
            }
            printf("%s device %u:%u type=%s name=\"%s\" vendor=\"%s\" driver=\"%s\" opencl_c=\"%s\" global_mem=%s "
                   "local_mem=%s max_work_group_size=%zu\n",
                   is_sel ? "*" : " ", p, d, type_name(type), name, vendor, driver, clc,
                   human_bytes(gmem, g, sizeof g), human_bytes(lmem, l, sizeof l), wg);
        }
        free(devs);
    }
    free(plats);

    /* The host path. */
    int host_sel = ctx && sel_info.backend == CLATTN_BACKEND_HOST;
    clattn_context *hctx = NULL;
    clattn_context_options ho;
    clattn_context_options_init(&ho);
    ho.device = "host";
    clattn_device_info hinfo;
    clattn_device_info_init(&hinfo);
    char threads[MSG_MAX];
    if (host_sel) hinfo = sel_info;
    else if (clattn_context_create(&hctx, &ho) == CLATTN_SUCCESS) clattn_context_get_info(hctx, &hinfo);
    if (host_sel || hctx) snprintf(threads, sizeof threads, "threads=%d", hinfo.num_threads);
    else snprintf(threads, sizeof threads, "threads=invalid (%s)", clattn_last_error(NULL)); /* bad CLATTN_THREADS */
    clattn_context_destroy(hctx);
    printf("%s host name=\"%s\" %s\n", host_sel ? "*" : " ", hinfo.device_name[0] ? hinfo.device_name : "cpu",
           threads);
    if (host_sel) {
        marked = 1;
        snprintf(selected_desc, sizeof selected_desc, "host");
    }
    if (ctx && !marked) /* selected device not found by pointer (should not happen): name it anyway */
        snprintf(selected_desc, sizeof selected_desc, "opencl \"%s\" (%s)", sel_info.device_name,
                 sel_info.platform_name);
    char origin[400];
    printf("selected: %s (%s)\n", ctx ? selected_desc : "none", selector_origin(o[0].value, NULL, origin, sizeof origin));
    fflush(stdout);
    clattn_context_destroy(ctx);
    if (sel_st != CLATTN_SUCCESS) return context_error(o[0].value, sel_st, sel_err);
    return EXIT_OK;
}

/* ---- clattn kernels ------------------------------------------------------------------------------- */

static opt kernels_opts[] = {
    {"json", NULL, "one JSON object per line with the keys backend, paths (an array), stage, source, entry, "
                   "description; with --profile or --device the keys of a planned kernel (below) (default: a table)",
     NULL},
    {"backend", "opencl|host", "only that backend's kernels (default: both)", NULL},
    {"profile", "NAME", "instead of the kernel table, every kernel a plan for each shape would build on the device "
                        "profile NAME (gpu-amd, gpu-small, pocl, rusticl: a device class described by its limits), as the "
                        "library's planner chooses it (clattn_kernel_plan_create()); nothing is built", NULL},
    {"device", "SELECTOR", "as --profile, for a device present here (a selector as for CLATTN_DEVICE; the "
                           "\"selector\" of clattn devices --json picks one device)", NULL},
    {"shape", "B,Hq,Hkv,Lq,Lk,D[,Dv]", "with --profile or --device: a problem (Dv defaults to D); repeatable "
                                       "(default: the benchmark's default grid, the rows of tests/cases tagged "
                                       "bench-default, each also bottom-right causal where the benchmark times it)",
     NULL},
    {"causal", NULL, "with --shape: bottom-right causal masking (as the benchmark's causal rows)", NULL},
    {"probs", NULL, "with --shape: plans that also return the attention probabilities (the kernel chain)", NULL},
    {"paged", "BLOCK_SIZE", "with --shape: K/V in a paged KV cache of that block size (CLATTN_KV_PAGED; Lk rounded up "
                            "to whole blocks, pools of B x blocks blocks, kv_lengths): the paged paths' kernels", NULL},
};

static const char kernels_notes[] =
    "Lists every kernel the library can run (clattn_kernel_get()), whatever the device present: the backend,\n"
    "the stage, the entry point (__kernel or C function), its source file, the plan paths that run it\n"
    "(clattn_sdpa_plan_path(); 'mha' = the projections of clattn_mha_forward) and what it computes.\n"
    "With --profile or --device: the kernels SDPA plans would build there, one JSON object per kernel and\n"
    "shape with the keys profile or device, shape ([B, Hq, Hkv, Lq, Lk, D, Dv]), causal, probs, path, rules,\n"
    "device_type, stage, kernel, sources (the files the library joins into the program, in order, relative\n"
    "to the source tree), options (exactly as passed to clBuildProgram), local_size, local_mem_bytes,\n"
    "workspace_bytes, launched, why (and kv_block_size with --paged). tools/gpu_kernel_report.py compiles them\n"
    "for GPU targets. A device\n"
    "whose driver refuses a kernel's work-group size at build time gets a smaller tile than listed.\n"
    "Later versions add JSON keys (e.g. per-kernel compile statistics) and never rename or remove these:\n"
    "readers must ignore keys they do not know.\n";

/* The benchmark's default grid (bench_grid.h, generated by tools/CMakeLists.txt from the rows of
 * tests/cases/cases.c tagged bench-default): {name, {B, Hq, Hkv, Lq, Lk, D, Dv}, causal_too}. */
typedef struct grid_row {
    const char *name;
    int64_t s[7];
    int causal_too;
} grid_row;
#include "bench_grid.h"

typedef struct plan_shape {
    int64_t s[7]; /* B, Hq, Hkv, Lq, Lk, D, Dv */
    bool causal;  /* bottom-right */
    bool probs;   /* attention probabilities wanted */
    int64_t page; /* > 0: a paged KV cache with blocks of this many rows (--paged) */
} plan_shape;

/* "B,Hq,Hkv,Lq,Lk,D[,Dv]" into sh (every size >= 1). */
static int parse_shape(const char *opt_name, const char *text, plan_shape *sh)
{
    int64_t *v = NULL;
    size_t n = 0;
    int rc = parse_int_list(opt_name, text, &v, &n);
    if (rc) return rc;
    if (n != 6 && n != 7) {
        free(v);
        return errorf(EXIT_USAGE, "--%s: '%s' has %zu values, expected B,Hq,Hkv,Lq,Lk,D[,Dv]", opt_name, text, n);
    }
    for (size_t i = 0; i < n; i++)
        if (v[i] < 1) {
            free(v);
            return errorf(EXIT_USAGE, "--%s: '%s': every size must be >= 1", opt_name, text);
        }
    for (size_t i = 0; i < 6; i++) sh->s[i] = v[i];
    sh->s[6] = n == 7 ? v[6] : v[5];
    free(v);
    return EXIT_OK;
}

static const char *device_type_name(clattn_device_type t)
{
    return t == CLATTN_DEVICE_TYPE_GPU ? "gpu" : t == CLATTN_DEVICE_TYPE_CPU ? "cpu"
           : t == CLATTN_DEVICE_TYPE_ACCELERATOR ? "accelerator" : "other";
}

/* A JSON array of the space-separated words of s, added to o as key. */
static bool add_words(cJSON *o, const char *key, const char *s)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (const char *p = s; a && *p; p += strspn(p, " ")) {
        const size_t n = strcspn(p, " ");
        char word[256];
        snprintf(word, sizeof word, "%.*s", (int)n, p);
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(word))) return false;
        p += n;
    }
    return a != NULL;
}

static bool add_i64_array(cJSON *o, const char *key, const int64_t *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]))) return false;
    return a != NULL;
}

/* The keys of one planned kernel (clattn kernels --profile/--device --json, clattn devices --json). */
static bool add_planned(cJSON *o, const clattn_planned_kernel *k)
{
    const int64_t local[3] = {(int64_t)k->local_size[0], (int64_t)k->local_size[1], (int64_t)k->local_size[2]};
    return cJSON_AddStringToObject(o, "path", k->path) && cJSON_AddStringToObject(o, "rules", k->rules) &&
           cJSON_AddStringToObject(o, "device_type", device_type_name(k->device_type)) &&
           cJSON_AddStringToObject(o, "stage", k->stage) && cJSON_AddStringToObject(o, "kernel", k->entry) &&
           add_words(o, "sources", k->sources) && cJSON_AddStringToObject(o, "options", k->options) &&
           add_i64_array(o, "local_size", local, 3) &&
           cJSON_AddNumberToObject(o, "local_mem_bytes", (double)k->local_mem_bytes) &&
           cJSON_AddNumberToObject(o, "workspace_bytes", (double)k->workspace_bytes) &&
           cJSON_AddBoolToObject(o, "launched", k->launched) && cJSON_AddStringToObject(o, "why", k->why);
}

/* The kernel plan for sh on target ("profile:NAME" or a selector); prints the library's error and returns
 * its exit code on failure (2 for an argument the library calls invalid, else 1). */
static int make_kernel_plan(const char *target, const plan_shape *sh, clattn_kernel_plan **kp)
{
    clattn_sdpa_desc d;
    const int64_t bs = sh->page, blocks = bs > 0 ? (sh->s[4] + bs - 1) / bs : 0;
    clattn_sdpa_desc_init(&d, sh->s[0], sh->s[1], sh->s[2], sh->s[3], bs > 0 ? blocks * bs : sh->s[4], sh->s[5],
                          sh->s[6]);
    if (bs > 0) { /* pools [B * blocks, bs, Hkv, D] and [.., Dv], contiguous */
        const int64_t kd[4] = {sh->s[0] * blocks, bs, sh->s[2], sh->s[5]}, vd[4] = {kd[0], bs, sh->s[2], sh->s[6]};
        const int64_t ks[4] = {bs * sh->s[2] * sh->s[5], sh->s[2] * sh->s[5], sh->s[5], 1},
                      vs[4] = {bs * sh->s[2] * sh->s[6], sh->s[2] * sh->s[6], sh->s[6], 1};
        d.k = clattn_tensor_view(4, kd, ks, 0);
        d.v = clattn_tensor_view(4, vd, vs, 0);
        d.kv_layout = CLATTN_KV_PAGED;
        d.kv_block_size = bs;
        d.max_blocks_per_seq = blocks;
        d.use_kv_lengths = 1;
    }
    if (sh->causal) d.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    d.want_probs = sh->probs;
    const clattn_status st = clattn_kernel_plan_create(kp, target, &d);
    if (st == CLATTN_SUCCESS) return EXIT_OK;
    return errorf(st == CLATTN_ERROR_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAIL, "%s: %s%s",
                  clattn_status_string(st), clattn_last_error(NULL),
                  st == CLATTN_ERROR_DEVICE_NOT_FOUND ? rusticl_hint(target) : "");
}

/* clattn kernels --profile NAME | --device SELECTOR [--shape ...]... [--causal] [--json] */
static int kernels_planned(const opt *o, bool json)
{
    const char *profile = o[2].value, *device = o[3].value;
    if (o[1].value) return errorf(EXIT_USAGE, "clattn kernels: --backend lists the kernel table; not with --%s",
                                  profile ? "profile" : "device");
    if (profile && device) return errorf(EXIT_USAGE, "clattn kernels: --profile and --device exclude each other");
    if ((o[5].value || o[6].value || o[7].value) && g_nrepeated == 0)
        return errorf(EXIT_USAGE, "clattn kernels: --%s applies to --shape (the default grid has its causal rows)",
                      o[5].value ? "causal" : o[6].value ? "probs" : "paged");
    int64_t page = 0;
    if (o[7].value) {
        char *end = NULL;
        errno = 0;
        const long long v = strtoll(o[7].value, &end, 10);
        if (errno || !end || *end || v < 1)
            return errorf(EXIT_USAGE, "clattn kernels: --paged is '%s', expected a block size (a power of two >= 16)",
                          o[7].value);
        page = v; /* the library checks the rest (kv_block_size) */
    }
    char target[300];
    if (profile) snprintf(target, sizeof target, "profile:%s", profile);
    else snprintf(target, sizeof target, "%s", device);

    plan_shape shapes[OPT_MAX_VALUES + 2 * (sizeof clattn_bench_grid / sizeof clattn_bench_grid[0])];
    size_t n = 0;
    for (int i = 0; i < g_nrepeated; i++) {
        int rc = parse_shape("shape", g_repeated[i], &shapes[n]);
        if (rc) return rc;
        shapes[n].probs = o[6].value != NULL;
        shapes[n].page = page;
        shapes[n++].causal = o[5].value != NULL;
    }
    for (size_t i = 0; g_nrepeated == 0 && i < sizeof clattn_bench_grid / sizeof clattn_bench_grid[0]; i++) {
        for (int causal = 0; causal <= clattn_bench_grid[i].causal_too; causal++) {
            memcpy(shapes[n].s, clattn_bench_grid[i].s, sizeof shapes[n].s);
            shapes[n].probs = false;
            shapes[n].page = 0;
            shapes[n++].causal = causal;
        }
    }
    for (size_t i = 0; i < n; i++) {
        clattn_kernel_plan *kp = NULL;
        int rc = make_kernel_plan(target, &shapes[i], &kp);
        if (rc) return rc;
        if (!json && i == 0)
            printf("%-28s %-6s %-5s %-5s %-12s %-20s %-11s %s\n", "shape B,Hq,Hkv,Lq,Lk,D,Dv", "causal", "probs",
                   "path", "stage", "kernel", "local_size", "options");
        const int64_t *v = shapes[i].s;
        for (size_t j = 0; j < clattn_kernel_plan_count(kp); j++) {
            const clattn_planned_kernel *k = clattn_kernel_plan_get(kp, j);
            if (json) {
                cJSON *obj = cJSON_CreateObject();
                bool ok = obj && cJSON_AddStringToObject(obj, profile ? "profile" : "device", profile ? profile : device) &&
                          add_i64_array(obj, "shape", v, 7) && cJSON_AddBoolToObject(obj, "causal", shapes[i].causal) &&
                          cJSON_AddBoolToObject(obj, "probs", shapes[i].probs) &&
                          (shapes[i].page == 0 || cJSON_AddNumberToObject(obj, "kv_block_size", (double)shapes[i].page)) &&
                          add_planned(obj, k);
                char *line = ok ? cJSON_PrintUnformatted(obj) : NULL;
                if (line) printf("%s\n", line);
                cJSON_free(line);
                cJSON_Delete(obj);
                if (!line) {
                    clattn_kernel_plan_destroy(kp);
                    return errorf(EXIT_FAIL, "clattn kernels: out of memory");
                }
            } else {
                char shape[96], local[48];
                snprintf(shape, sizeof shape, "%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)v[0], (long long)v[1],
                         (long long)v[2], (long long)v[3], (long long)v[4], (long long)v[5], (long long)v[6]);
                snprintf(local, sizeof local, "%llu,%llu,%llu", (unsigned long long)k->local_size[0],
                         (unsigned long long)k->local_size[1], (unsigned long long)k->local_size[2]);
                printf("%-28s %-6s %-5s %-5s %-12s %-20s %-11s %s\n", shape, shapes[i].causal ? "yes" : "no",
                       shapes[i].probs ? "yes" : "no", k->path, k->stage, k->entry, local, k->options);
            }
        }
        clattn_kernel_plan_destroy(kp);
    }
    if (fflush(stdout) != 0) return errorf(EXIT_FAIL, "clattn kernels: cannot write the output: %s", strerror(errno));
    return EXIT_OK;
}

/* clattn devices --json: one object per device of clattn_device_list_get(), with the planner's kernels for
 * the reference shapes. */
static int devices_json(const char *device)
{
    static const plan_shape refs[2] = {{{1, 16, 16, 2048, 2048, 64, 64}, false, false, 0},
                                       {{8, 32, 8, 1, 4096, 128, 128}, false, false, 0}};
    clattn_context *ctx = NULL;
    clattn_context_options co;
    clattn_context_options_init(&co);
    co.device = device;
    const clattn_status sel_st = clattn_context_create(&ctx, &co);
    char sel_err[MSG_MAX] = "";
    if (sel_st != CLATTN_SUCCESS) snprintf(sel_err, sizeof sel_err, "%s", clattn_last_error(NULL));
    clattn_device_info sel;
    clattn_device_info_init(&sel);
    if (ctx) clattn_context_get_info(ctx, &sel);
    clattn_context_destroy(ctx);

    size_t n = 0;
    if (clattn_device_list_count(&n) != CLATTN_SUCCESS)
        return errorf(EXIT_FAIL, "clattn devices: %s", clattn_last_error(NULL));
    bool marked = false;
    for (size_t i = 0; i < n; i++) {
        clattn_device_info d;
        clattn_device_info_init(&d);
        if (clattn_device_list_get(i, &d) != CLATTN_SUCCESS)
            return errorf(EXIT_FAIL, "clattn devices: %s", clattn_last_error(NULL));
        /* the selected device: the first with the selected context's backend and names */
        const bool is_sel = sel_st == CLATTN_SUCCESS && !marked && d.backend == sel.backend &&
                            strcmp(d.platform_name, sel.platform_name) == 0 && strcmp(d.device_name, sel.device_name) == 0;
        marked = marked || is_sel;
        cJSON *o = cJSON_CreateObject(), *plat = NULL, *dev = NULL, *lim = NULL, *flags = NULL, *kernels = NULL;
        bool ok = o && cJSON_AddNumberToObject(o, "index", (double)d.index) &&
                  cJSON_AddStringToObject(o, "selector", d.selector) &&
                  cJSON_AddStringToObject(o, "backend", d.backend == CLATTN_BACKEND_OPENCL ? "opencl" : "host") &&
                  cJSON_AddBoolToObject(o, "selected", is_sel) && (plat = cJSON_AddObjectToObject(o, "platform")) &&
                  cJSON_AddStringToObject(plat, "name", d.platform_name) &&
                  cJSON_AddStringToObject(plat, "version", d.platform_version) &&
                  (dev = cJSON_AddObjectToObject(o, "device")) && cJSON_AddStringToObject(dev, "name", d.device_name) &&
                  cJSON_AddStringToObject(dev, "type", device_type_name(d.type)) &&
                  cJSON_AddStringToObject(dev, "vendor", d.vendor) &&
                  cJSON_AddStringToObject(dev, "driver_version", d.driver_version) &&
                  cJSON_AddStringToObject(dev, "opencl_c_version", d.opencl_c_version) &&
                  (lim = cJSON_AddObjectToObject(o, "limits")) &&
                  cJSON_AddNumberToObject(lim, "compute_units", d.compute_units) &&
                  cJSON_AddNumberToObject(lim, "threads", d.num_threads) &&
                  cJSON_AddNumberToObject(lim, "max_work_group_size", (double)d.max_work_group_size) &&
                  cJSON_AddNumberToObject(lim, "local_mem_bytes", (double)d.local_mem_bytes) &&
                  cJSON_AddNumberToObject(lim, "global_mem_bytes", (double)d.global_mem_bytes) &&
                  cJSON_AddNumberToObject(lim, "max_alloc_bytes", (double)d.max_alloc_bytes) &&
                  (flags = cJSON_AddObjectToObject(o, "flags")) &&
                  cJSON_AddBoolToObject(flags, "available", d.flags & CLATTN_DEVICE_FLAG_AVAILABLE) &&
                  cJSON_AddBoolToObject(flags, "default", d.flags & CLATTN_DEVICE_FLAG_DEFAULT) &&
                  cJSON_AddBoolToObject(flags, "fma", d.flags & CLATTN_DEVICE_FLAG_FMA) &&
                  cJSON_AddBoolToObject(flags, "fp16", d.flags & CLATTN_DEVICE_FLAG_FP16) &&
                  cJSON_AddBoolToObject(flags, "fp64", d.flags & CLATTN_DEVICE_FLAG_FP64) &&
                  cJSON_AddBoolToObject(flags, "subgroups", d.flags & CLATTN_DEVICE_FLAG_SUBGROUPS) &&
                  cJSON_AddBoolToObject(flags, "intel_subgroups", d.flags & CLATTN_DEVICE_FLAG_INTEL_SUBGROUPS) &&
                  cJSON_AddBoolToObject(flags, "extensions_truncated", d.flags & CLATTN_DEVICE_FLAG_EXTENSIONS_TRUNCATED) &&
                  add_words(o, "extensions", d.extensions) && (kernels = cJSON_AddArrayToObject(o, "kernels"));
        for (int r = 0; ok && d.backend == CLATTN_BACKEND_OPENCL && r < 2; r++) {
            clattn_sdpa_desc desc;
            const int64_t *v = refs[r].s;
            clattn_sdpa_desc_init(&desc, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
            clattn_kernel_plan *kp = NULL;
            cJSON *entry = cJSON_CreateObject();
            ok = entry && cJSON_AddItemToArray(kernels, entry) && add_i64_array(entry, "shape", v, 7);
            if (ok && clattn_kernel_plan_create(&kp, d.selector, &desc) != CLATTN_SUCCESS) {
                ok = cJSON_AddStringToObject(entry, "error", clattn_last_error(NULL)) != NULL;
                continue;
            }
            cJSON *vars = ok ? cJSON_AddArrayToObject(entry, "variants") : NULL;
            ok = vars != NULL;
            for (size_t j = 0; ok && j < clattn_kernel_plan_count(kp); j++) {
                cJSON *kv = cJSON_CreateObject();
                ok = kv && cJSON_AddItemToArray(vars, kv) && add_planned(kv, clattn_kernel_plan_get(kp, j));
            }
            clattn_kernel_plan_destroy(kp);
        }
        char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
        if (line) printf("%s\n", line);
        cJSON_free(line);
        cJSON_Delete(o);
        if (!line) return errorf(EXIT_FAIL, "clattn devices: out of memory");
    }
    if (fflush(stdout) != 0) return errorf(EXIT_FAIL, "clattn devices: cannot write the output: %s", strerror(errno));
    if (sel_st != CLATTN_SUCCESS) return context_error(device, sel_st, sel_err);
    return EXIT_OK;
}

/* Prints one entry as a JSON object on one line (paths as an array). Returns false when out of memory. */
static bool print_kernel_json(const clattn_kernel_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "backend", e->backend);
    cJSON *paths = ok ? cJSON_AddArrayToObject(o, "paths") : NULL;
    ok = paths != NULL;
    for (const char *p = e->paths; ok && *p; p += strspn(p, " ")) {
        const size_t n = strcspn(p, " ");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        ok = cJSON_AddItemToArray(paths, cJSON_CreateString(name));
        p += n;
    }
    ok = ok && cJSON_AddStringToObject(o, "stage", e->stage) && cJSON_AddStringToObject(o, "source", e->source) &&
         cJSON_AddStringToObject(o, "entry", e->entry) &&
         cJSON_AddStringToObject(o, "description", e->description);
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    if (line) printf("%s\n", line);
    cJSON_free(line);
    cJSON_Delete(o);
    return line != NULL;
}

/* Column width: at least s's length. */
static void widen(int *w, const char *s)
{
    if ((int)strlen(s) > *w) *w = (int)strlen(s);
}

static int cmd_kernels(int argc, char **argv)
{
    opt *o = kernels_opts;
    int rc = parse_options("kernels", argc, argv, o, sizeof kernels_opts / sizeof kernels_opts[0]);
    if (rc) return rc < 0 ? print_help("kernels") : rc;
    const bool json = o[0].value != NULL;
    if (o[2].value || o[3].value) return kernels_planned(o, json);
    if (o[4].value || o[5].value || o[6].value)
        return errorf(EXIT_USAGE, "clattn kernels: --%s needs --profile or --device",
                      o[4].value ? "shape" : o[5].value ? "causal" : "probs");
    const char *be = o[1].value;
    if (be && strcmp(be, "opencl") != 0 && strcmp(be, "host") != 0)
        return errorf(EXIT_USAGE, "clattn kernels: --backend '%s' is not opencl or host", be);

    const size_t n = clattn_kernel_count();
    int w_be = 7, w_stage = 5, w_entry = 5, w_source = 6, w_paths = 5; /* the headers' widths */
    for (size_t i = 0; i < n; i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        if (be && strcmp(be, e->backend) != 0) continue;
        widen(&w_be, e->backend);
        widen(&w_stage, e->stage);
        widen(&w_entry, e->entry);
        widen(&w_source, e->source);
        widen(&w_paths, e->paths);
    }
    if (!json)
        printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_be, "backend", w_stage, "stage", w_entry, "entry", w_source,
               "source", w_paths, "paths", "description");
    for (size_t i = 0; i < n; i++) {
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        if (be && strcmp(be, e->backend) != 0) continue;
        if (json) {
            if (!print_kernel_json(e)) return errorf(EXIT_FAIL, "clattn kernels: out of memory");
        } else {
            printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_be, e->backend, w_stage, e->stage, w_entry, e->entry,
                   w_source, e->source, w_paths, e->paths, e->description);
        }
    }
    if (fflush(stdout) != 0) return errorf(EXIT_FAIL, "clattn kernels: cannot write the output: %s", strerror(errno));
    return EXIT_OK;
}

/* ---- main ----------------------------------------------------------------------------------------- */

/* clattn axial | temporal | area */
#include "cmd_views.c"
/* clattn channel */
#include "cmd_channel.c"
/* clattn additive */
#include "cmd_additive.c"
/* clattn global-local */
#include "cmd_global_local.c"
/* clattn sinkhorn */
#include "cmd_sinkhorn.c"

typedef struct command {
    const char *name;
    const char *synopsis; /* after "clattn <name>" */
    const char *summary;  /* one line */
    const opt *opts;
    size_t nopts;
    const char *notes; /* after the options; may be "" */
    int (*run)(int argc, char **argv);
} command;

#define OPTS(t) t, sizeof t / sizeof t[0]
static const command commands[] = {
    {"devices", "[--device SELECTOR] [--json]",
     "list the OpenCL platforms and devices and the host path; '*' marks the selected one", OPTS(devices_opts),
     devices_notes, cmd_devices},
    {"kernels", "[--json] [--backend opencl|host] | --profile NAME|--device SELECTOR [--shape B,Hq,Hkv,Lq,Lk,D[,Dv]]... "
                "[--causal] [--probs] [--json]",
     "list every kernel the library can run, or the kernels its planner chooses for a device and shapes",
     OPTS(kernels_opts), kernels_notes, cmd_kernels},
    {"sdpa", "--query Q.npy --key K.npy --value V.npy --out O.npy [options]",
     "scaled dot-product attention on .npy arrays", OPTS(sdpa_opts), sdpa_notes, cmd_sdpa},
    {"mha", "--params P.safetensors --num-heads H --query X.npy --out O.npy [options]",
     "multi-head attention (nn.MultiheadAttention or BERT weights) on .npy arrays", OPTS(mha_opts), mha_notes,
     cmd_mha},
    VIEW_COMMANDS,
    CHANNEL_COMMAND,
    ADDITIVE_COMMAND,
    GLOBAL_LOCAL_COMMAND,
    SINKHORN_COMMAND,
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const char main_usage[] =
    "usage: clattn <command> [options]     run a command ('clattn <command> --help' for its options)\n"
    "       clattn --help | -h | help      print this help\n"
    "       clattn help <command>          print a command's help\n"
    "       clattn help --markdown         print every command's help as markdown (docs/clattn.md)\n"
    "       clattn --version               print the library version\n";

static const char main_notes[] =
    "Arrays are NumPy .npy files (C order, little-endian), float32 or float16.\n"
    "The first run on an OpenCL device compiles its kernels (seconds on PoCL); the binaries are cached\n"
    "for later runs (see the configuration table of README.md for the cache).\n"
    "Environment: CLATTN_DEVICE (device selector, overridden by --device), CLATTN_THREADS (host threads).\n";

static const char exit_codes_help[] =
    "Exit codes: 0 success; 1 input or runtime error (a file, the library, the device, --expect above --tol);\n"
    "2 bad command line: unknown command or option, missing or repeated option, or an option value that\n"
    "is malformed or does not fit the inputs (e.g. --kv-lengths). Every error is one line on stderr,\n"
    "\"clattn: error: ...\".\n"
    "Output files (--out, --probs) are checked before any computation, written to a temporary file\n"
    "\".<name>.clattn-XXXXXX\" in the same directory and renamed into place (file and directory synced)\n"
    "only when the whole run succeeded: a failed or interrupted (SIGINT, SIGTERM, SIGHUP) run leaves an\n"
    "existing file as it was and no temporary file. Two outputs are renamed one after the other.\n";

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* Prints text with every line indented by indent spaces, broken at spaces before column width. */
static void print_wrapped(const char *text, int indent, int width)
{
    int col = indent;
    for (const char *p = text; *p;) {
        const size_t n = strcspn(p, " ");
        if (col > indent && col + 1 + (int)n > width) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)n, p);
        col += (int)n;
        p += n;
        p += strspn(p, " ");
    }
    putchar('\n');
}

/* One command's help: plain (--help) or markdown (docs/clattn.md). */
static void command_help(const command *c, bool markdown)
{
    if (markdown) printf("## clattn %s\n\n%s.\n\n```\nclattn %s %s\n```\n\n", c->name, c->summary, c->name, c->synopsis);
    else printf("usage: clattn %s %s\n  %s.\noptions:\n", c->name, c->synopsis, c->summary);
    for (size_t i = 0; i <= c->nopts; i++) {
        const char *name = i < c->nopts ? c->opts[i].name : "help";
        const char *arg = i < c->nopts ? c->opts[i].arg : NULL;
        const char *help = i < c->nopts ? c->opts[i].help : "print this help and exit (also -h)";
        char head[96];
        snprintf(head, sizeof head, "--%s%s%s", name, arg ? " " : "", arg ? arg : "");
        if (markdown) {
            printf("- `%s`: %s\n", head, help);
        } else {
            if (strlen(head) > 26) printf("  %s\n%30s", head, ""); /* a long head: its help on the next line */
            else printf("  %-26s  ", head);
            print_wrapped(help, 30, 110);
        }
    }
    if (*c->notes)
        printf(markdown ? "\n%s" : "%s", c->notes);
    if (markdown) putchar('\n');
}

static int print_help(const char *cmd)
{
    command_help(find_command(cmd), false);
    printf("%s", exit_codes_help);
    return EXIT_OK;
}

static void print_main_help(bool markdown)
{
    if (markdown)
        printf("# clattn command-line reference\n\n"
               "<!-- Generated by `clattn help --markdown` from the option tables of tools/clattn.c: do not edit.\n"
               "     Regenerate with: build/tools/clattn help --markdown > docs/clattn.md -->\n\n```\n");
    printf("%s", main_usage);
    if (markdown) printf("```\n\n");
    printf("commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf(markdown ? "- `%s`: %s\n" : "  %-9s %s\n", commands[i].name, commands[i].summary);
    printf(markdown ? "\n%s\n%s\n" : "%s%s", main_notes, exit_codes_help);
    for (size_t i = 0; markdown && i < NCOMMANDS; i++) command_help(&commands[i], true);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return errorf(EXIT_USAGE, "no command given (expected devices, kernels, sdpa, mha, axial, temporal, area, channel, additive, global-local or sinkhorn; see clattn --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || (strcmp(cmd, "help") == 0 && argc == 2)) {
        print_main_help(false);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc == 3 && strcmp(argv[2], "--markdown") == 0) {
            print_main_help(true);
            return fflush(stdout) == 0 ? EXIT_OK : errorf(EXIT_FAIL, "cannot write the help: %s", strerror(errno));
        }
        if (argc == 3 && find_command(argv[2])) return print_help(argv[2]);
        return errorf(EXIT_USAGE, "clattn help: expected a command (devices, kernels, sdpa, mha, axial, temporal, area, channel, additive, global-local, sinkhorn) or --markdown");
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("clattn %s\n", clattn_version_string());
        return EXIT_OK;
    }
    const command *c = find_command(cmd);
    if (c) return c->run(argc - 2, argv + 2);
    return errorf(EXIT_USAGE, "unknown command '%s' (expected devices, kernels, sdpa, mha, axial, temporal, area, channel, additive, global-local or sinkhorn; see clattn --help)", cmd);
}
