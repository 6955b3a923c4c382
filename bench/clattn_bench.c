/*
 * clattn-bench — times scaled dot-product attention through the public API on any device.
 *
 *   clattn-bench [--quick] [--shape B,Hq,Hkv,Lq,Lk,D[,Dv]]... [--causal | --both]
 *                [--device SELECTOR | --all-devices] [--repeat N] [--warmup N] [--max-seconds S]
 *                [--threads N] [--peak] [--plan-only] [--json | --csv] [--tag NAME] [--tol X]
 *                [--precision fp32|reduced|both] [--dtype f32|f16|bf16[,...]]
 *   clattn-bench --list-cases [--json]
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv], float32 (or --dtype), C order.
 *
 * What each number is (all times are host wall clock, CLOCK_MONOTONIC, median and min over --repeat
 * runs after --warmup runs):
 *   ms_host   clattn_sdpa_execute() on host arrays with a prepared plan (synchronous; on OpenCL this
 *             includes the copies to and from the device).
 *   ms        device-resident: on OpenCL, clattn_sdpa_enqueue() on cl_mem buffers followed by clFinish()
 *             (no transfers); on the host path the same as ms_host.
 *   cpu_ms    process CPU time (every thread, CLOCK_PROCESS_CPUTIME_ID) per device-resident run, averaged
 *             over the timed runs: on CPU devices a measure that other processes on the machine disturb
 *             much less than wall time (it still grows with memory-bandwidth contention).
 *   first_call_ms  clattn_sdpa_plan_create() + the first clattn_sdpa_execute(), in this process (kernel
 *             compilation included; a cold process/cache is out of scope). plan_ms is the create part.
 *   flops     2·D + 2·Dv per allowed (query, key) pair, times B·Hq; softmax not counted. Non-causal:
 *             pairs = Lq·Lk, i.e. 4·B·Hq·Lq·Lk·D for D = Dv. Causal (bottom-right) counts only the
 *             allowed pairs, about half for Lq = Lk.
 *   gflops    flops / ms (gflops_host: flops / ms_host).
 *   bytes     Q, K, V and O, each moved once (4 bytes per element); gbps = bytes / ms.
 *   workspace_bytes  clattn_sdpa_plan_workspace_size().
 *   rss_growth_bytes  the process's real peak memory growth over plan create, the first run and the
 *             timed device-resident runs: the peak resident set (VmHWM, reset through
 *             /proc/self/clear_refs) minus the resident set just before plan create, when q, k, v, out
 *             (and on OpenCL their cl_mem copies) already exist. It counts everything clattn and the
 *             driver touch (workspace, kernel build, driver buffers); not the host-array runs (ms_host),
 *             whose OpenCL staging copies of q, k, v, out are the caller's choice of API. Linux only
 *             (null elsewhere). first_call_ms is plan create + the first device-resident run.
 *   max_abs_err  |out - reference| on four sampled rows (the tests' double-precision reference, ref_sdpa);
 *             above the case's tolerance (the table row's, 1e-5; --tol) the case fails and the exit code is 1.
 *   precision fp32 (default) or reduced (clattn_sdpa_desc.precision = CLATTN_PRECISION_REDUCED: bf16-rounded
 *             products where the path has them, e.g. host-fused-avx512bf16); --precision both times every
 *             case in both, one after the other in the same process. A reduced case's default tolerance is
 *             3e-2 (the bf16 error, clattn.h's bound; --tol overrides); flops are counted the same.
 *   dtype     f32 (default), f16 or bf16 (clattn_sdpa_desc.data_type: q, k, v and out as binary16 / bfloat16
 *             arrays, on the host and in the cl_mem buffers); the float32 inputs are rounded to that type first,
 *             so the reference (double, on the rounded inputs) sees exactly what clattn sees; the tolerance gains
 *             the output rounding (f16 2^-10, bf16 2^-7 relative, --tol overrides); bytes count 2 bytes per
 *             element. --dtype f32,f16,bf16 times every case in each, one after the other in the same process.
 *   peak_*    with --peak: a measured fp32 FMA rate and a triad bandwidth for the device (see peak_*()).
 *
 * Exit codes: 0 success (skipped cases included); 1 a device or case failed; 2 bad command line.
 */
#include <clattn_opencl.h> /* cl_mem interop; includes clattn.h */

#include "cases.h"     /* the one case table (tests/cases): the grid */
#include "f16_ref.h"   /* the tests' binary16 / bfloat16 <-> double conversions (--dtype) */
#include "reference.h" /* the tests' double-precision reference */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_timing.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- cases ---------------------------------------------------------------------------------------- */

typedef struct shape {
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
} shape;

/* The default grid: the rows of tests/cases/cases.c tagged bench-default (--quick: bench-quick); a row's
 * causal_too also times it bottom-right causal. `--list-cases --json` prints every row of the table. */

typedef struct bench_case {
    shape s;
    bool causal;
    const char *name; /* the table row's, or "shape" for --shape */
    double tol;       /* max_abs_err must be <= tol * max(1, max |ref|) over the sampled rows */
    clattn_precision prec;
    clattn_dtype dt; /* --dtype: element type of q, k, v, out */
} bench_case;

/* Default tolerance of a --precision reduced case (bf16 products: errors of a few 1e-3 on the bench's inputs;
 * clattn.h, clattn_precision, states the bound). */
#define REDUCED_TOL 3e-2

typedef enum causal_mode { MODE_DEFAULT, MODE_NONE, MODE_CAUSAL, MODE_BOTH } causal_mode;
typedef enum out_format { FMT_TABLE, FMT_JSON, FMT_CSV } out_format;

typedef struct options {
    bench_case *cases;
    int ncases;
    shape *shapes; /* from --shape */
    int nshapes;
    bool quick;
    causal_mode mode;
    const char *device; /* NULL: CLATTN_DEVICE */
    bool all_devices;
    int repeat, warmup;
    double max_seconds;
    int threads;
    bool peak;
    bool plan_only; /* --plan-only: create the plan, report path, workspace and memory, run nothing */
    bool list_cases; /* --list-cases: print the case table and exit */
    unsigned tag;    /* rows of this tag (default bench-default; --quick bench-quick; --tag NAME) */
    double tol;      /* --tol: overrides every case's tolerance (0: the row's, TU_TOL_F32 for --shape) */
    out_format fmt;
    unsigned precisions; /* --precision: bit 0 fp32 (default), bit 1 reduced */
    unsigned dtypes;     /* --dtype: bit 0 f32 (default), bit 1 f16, bit 2 bf16 */
} options;

static const char *dtype_name(clattn_dtype t)
{
    return t == CLATTN_DTYPE_F16 ? "f16" : t == CLATTN_DTYPE_BF16 ? "bf16" : "f32";
}

/* ---- small helpers -------------------------------------------------------------------------------- */

static void fill_uniform(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f; /* [-1, 1) */
    }
}

static bool parse_i64_list(const char *text, int64_t *vals, int maxn, int *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        if (*n == maxn) return false;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0) return false;
        vals[(*n)++] = (int64_t)v;
        if (*end == ',') {
            p = end + 1;
            if (!*p) return false;
        } else if (*end == '\0') {
            p = end;
        } else {
            return false;
        }
    }
    return *n > 0;
}

/* Allowed (query, key) pairs of one (b, h) with bottom-right causal alignment (no kv_lengths). */
static double allowed_pairs(const shape *s, bool causal)
{
    if (!causal) return (double)s->Lq * (double)s->Lk;
    double n = 0;
    for (int64_t i = 0; i < s->Lq; i++) {
        int64_t a = i + s->Lk - s->Lq + 1; /* keys j <= i + Lk - Lq */
        if (a < 0) a = 0;
        if (a > s->Lk) a = s->Lk;
        n += (double)a;
    }
    return n;
}

/* ---- results -------------------------------------------------------------------------------------- */

/* One row of output; NAN numbers print as null / empty / "-". */
typedef struct result {
    char device[300];   /* "platform / device name" or "host (CPU model)" */
    char device_tag[32]; /* short: host, pocl, rusticl, ... */
    char selector[64];
    const char *backend; /* host | opencl */
    char path[48];       /* the kernel path clattn ran (clattn_sdpa_plan_path) */
    bench_case c;
    int threads;
    char status[512]; /* "ok", "skipped: too slow (...)", "error: ..." */
    double ms, ms_min, ms_host, ms_host_min, first_ms, plan_ms;
    double flops, gflops, gflops_host, bytes, gbps, workspace, rss_growth, cpu_ms, max_abs_err;
    double peak_gflops, peak_gbps;
} result;

typedef struct peak_info {
    double gflops, gbps;
    char flops_how[160], bw_how[160];
} peak_info;

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double x)
{
    if (isfinite(x)) fprintf(f, "%.6g", x);
    else fputs("null", f);
}

static void csv_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static double ratio_or_nan(double a, double b) { return (isfinite(a) && isfinite(b) && b > 0) ? a / b : NAN; }

/* Field order shared by JSON and CSV (and by the peers in bench/peers/). */
static const char *const csv_header =
    "impl,device,device_tag,selector,backend,path,precision,B,Hq,Hkv,Lq,Lk,D,Dv,causal,threads,warmup,repeat,status,"
    "ms,ms_min,ms_host,ms_host_min,first_call_ms,plan_ms,flops,gflops,gflops_host,bytes,gbps,"
    "workspace_bytes,max_abs_err,peak_gflops,peak_gbps,pct_peak_flops,pct_peak_bw,rss_growth_bytes,cpu_ms,dtype";

/* The table's mask column: full / causal, with /r for --precision reduced and /h, /b for --dtype f16, bf16. */
static const char *mask_label(const bench_case *c)
{
    static char buf[16];
    const bool red = c->prec == CLATTN_PRECISION_REDUCED;
    if (!red && c->dt == CLATTN_DTYPE_F32) return c->causal ? "causal" : "full";
    snprintf(buf, sizeof buf, "%s/%s%s", c->causal ? "caus" : "full", red ? "r" : "",
             c->dt == CLATTN_DTYPE_F16 ? "h" : c->dt == CLATTN_DTYPE_BF16 ? "b" : "");
    return buf;
}

static void emit_record(FILE *f, out_format fmt, const result *r, const options *o)
{
    const double nums[] = {r->ms,     r->ms_min, r->ms_host, r->ms_host_min, r->first_ms, r->plan_ms,
                           r->flops,  r->gflops, r->gflops_host, r->bytes,   r->gbps,     r->workspace,
                           r->max_abs_err, r->peak_gflops, r->peak_gbps,
                           100.0 * ratio_or_nan(r->gflops, r->peak_gflops),
                           100.0 * ratio_or_nan(r->gbps, r->peak_gbps), r->rss_growth, r->cpu_ms};
    static const char *const num_names[] = {"ms",          "ms_min",      "ms_host",     "ms_host_min",
                                            "first_call_ms", "plan_ms",   "flops",       "gflops",
                                            "gflops_host", "bytes",       "gbps",        "workspace_bytes",
                                            "max_abs_err", "peak_gflops", "peak_gbps",   "pct_peak_flops",
                                            "pct_peak_bw", "rss_growth_bytes", "cpu_ms"};
    const int nnum = (int)(sizeof nums / sizeof nums[0]);
    const shape *s = &r->c.s;
    if (fmt == FMT_JSON) {
        fputs("{\"record\":\"case\",\"impl\":\"clattn\",\"device\":", f);
        json_string(f, r->device);
        fputs(",\"device_tag\":", f);
        json_string(f, r->device_tag);
        fputs(",\"selector\":", f);
        json_string(f, r->selector);
        fprintf(f, ",\"backend\":\"%s\",\"path\":\"%s\",\"precision\":\"%s\"", r->backend, r->path,
                r->c.prec == CLATTN_PRECISION_REDUCED ? "reduced" : "fp32");
        fprintf(f, ",\"B\":%lld,\"Hq\":%lld,\"Hkv\":%lld,\"Lq\":%lld,\"Lk\":%lld,\"D\":%lld,\"Dv\":%lld", (long long)s->B,
                (long long)s->Hq, (long long)s->Hkv, (long long)s->Lq, (long long)s->Lk, (long long)s->D,
                (long long)s->Dv);
        fprintf(f, ",\"causal\":%s,\"threads\":%d,\"warmup\":%d,\"repeat\":%d,\"status\":", r->c.causal ? "true" : "false",
                r->threads, o->warmup, o->repeat);
        json_string(f, r->status);
        for (int i = 0; i < nnum; i++) {
            fprintf(f, ",\"%s\":", num_names[i]);
            json_num(f, nums[i]);
        }
        fprintf(f, ",\"dtype\":\"%s\"}\n", dtype_name(r->c.dt));
    } else if (fmt == FMT_CSV) {
        fputs("clattn,", f);
        csv_string(f, r->device);
        fputc(',', f);
        csv_string(f, r->device_tag);
        fputc(',', f);
        csv_string(f, r->selector);
        fprintf(f, ",%s,%s,%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d,%d,%d,%d,", r->backend, r->path,
                r->c.prec == CLATTN_PRECISION_REDUCED ? "reduced" : "fp32", (long long)s->B,
                (long long)s->Hq, (long long)s->Hkv, (long long)s->Lq, (long long)s->Lk, (long long)s->D,
                (long long)s->Dv, r->c.causal ? 1 : 0, r->threads, o->warmup, o->repeat);
        csv_string(f, r->status);
        for (int i = 0; i < nnum; i++) {
            fputc(',', f);
            if (isfinite(nums[i])) fprintf(f, "%.6g", nums[i]);
        }
        fprintf(f, ",%s\n", dtype_name(r->c.dt));
    } else {
        char buf[19][24];
        for (int i = 0; i < nnum; i++) {
            if (!isfinite(nums[i])) snprintf(buf[i], sizeof buf[i], "-");
            else if (i == 12) snprintf(buf[i], sizeof buf[i], "%.1e", nums[i]);
            else if (i == 11 || i == 17) snprintf(buf[i], sizeof buf[i], "%.1f", nums[i] / 1048576.0);
            else if (nums[i] >= 1000) snprintf(buf[i], sizeof buf[i], "%.0f", nums[i]);
            else snprintf(buf[i], sizeof buf[i], "%.3g", nums[i]);
        }
        fprintf(f, "%3lld %4lld %4lld %6lld %6lld %4lld %4lld %-6s %-6s %9s %9s %9s %8s %8s %6s %7s %5s %8s %8s %9s %8s %s\n",
                (long long)s->B, (long long)s->Hq, (long long)s->Hkv, (long long)s->Lq, (long long)s->Lk,
                (long long)s->D, (long long)s->Dv,
                mask_label(&r->c),
                r->path, buf[0], buf[1],
                buf[2], buf[18], buf[7], buf[15], buf[10], buf[16], buf[11], buf[17], buf[4], buf[12], r->status);
    }
    fflush(f);
}

static void emit_table_header(FILE *f)
{
    fprintf(f, "%3s %4s %4s %6s %6s %4s %4s %-6s %-6s %9s %9s %9s %8s %8s %6s %7s %5s %8s %8s %9s %8s %s\n", "B", "Hq",
            "Hkv", "Lq", "Lk", "D", "Dv", "mask", "path", "ms", "ms_min", "ms_host", "cpu_ms", "GFLOP/s", "%pkF", "GB/s",
            "%pkB", "ws_MiB", "rss_MiB", "first_ms", "max_err", "status");
}

static void emit_peak(FILE *f, out_format fmt, const result *dev, const peak_info *pk)
{
    if (fmt == FMT_JSON) {
        fputs("{\"record\":\"peak\",\"impl\":\"clattn-bench\",\"device\":", f);
        json_string(f, dev->device);
        fputs(",\"device_tag\":", f);
        json_string(f, dev->device_tag);
        fputs(",\"selector\":", f);
        json_string(f, dev->selector);
        fputs(",\"peak_gflops\":", f);
        json_num(f, pk->gflops);
        fputs(",\"peak_flops_how\":", f);
        json_string(f, pk->flops_how);
        fputs(",\"peak_gbps\":", f);
        json_num(f, pk->gbps);
        fputs(",\"peak_bw_how\":", f);
        json_string(f, pk->bw_how);
        fputs("}\n", f);
    } else {
        FILE *to = fmt == FMT_CSV ? stderr : f; /* keep CSV output a plain table */
        fprintf(to, "# peak fp32 FMA: %.1f GFLOP/s (%s)\n", pk->gflops, pk->flops_how);
        fprintf(to, "# peak memory:   %.1f GB/s (%s)\n", pk->gbps, pk->bw_how);
    }
    fflush(f);
}

/* ---- reference check ------------------------------------------------------------------------------ */

/* Max |out - ref| over a few (b, h, i) rows, with the tests' double-precision reference (ref_sdpa,
 * tests/support/reference.c) on a view of that one query row and the keys it may see: bottom-right causal
 * allows keys j <= i + Lk - Lq, so the row's problem is [1, 1, 1, D] against the first nallow keys.
 * *ref_max receives max |ref| over those rows (for the relative tolerance). */
static double sampled_error(const shape *s, bool causal, const float *q, const float *k, const float *v,
                            const float *out, double *ref_max)
{
    *ref_max = 0.0;
    const int64_t rows = s->B * s->Hq * s->Lq;
    if (rows == 0 || s->Lk == 0) return 0.0;
    const int64_t picks[4] = {0, rows - 1, rows / 2, (rows * 7) / 13};
    double *ref = malloc((size_t)(s->Dv ? s->Dv : 1) * sizeof *ref);
    double err = 0.0;
    if (!ref) return NAN;
    for (int p = 0; p < 4; p++) {
        const int64_t r = picks[p];
        const int64_t i = r % s->Lq, bh = r / s->Lq, h = bh % s->Hq, b = bh / s->Hq;
        const int64_t hk = h / (s->Hq / s->Hkv);
        int64_t nallow = causal ? i + s->Lk - s->Lq + 1 : s->Lk;
        if (nallow > s->Lk) nallow = s->Lk;
        for (int64_t d = 0; d < s->Dv; d++) ref[d] = 0.0; /* no allowed key: exactly 0 */
        if (nallow > 0) {
            clattn_sdpa_desc desc;
            clattn_sdpa_desc_init(&desc, 1, 1, 1, 1, nallow, s->D, s->Dv);
            desc.q.offset = ((b * s->Hq + h) * s->Lq + i) * s->D;
            desc.k.offset = (b * s->Hkv + hk) * s->Lk * s->D;
            desc.v.offset = (b * s->Hkv + hk) * s->Lk * s->Dv;
            ref_sdpa(&desc, q, k, v, NULL, NULL, ref, NULL);
        }
        const float *oi = out + ((b * s->Hq + h) * s->Lq + i) * s->Dv;
        for (int64_t d = 0; d < s->Dv; d++) {
            double e = fabs((double)oi[d] - ref[d]);
            if (!(e <= err)) err = e; /* NaN propagates */
            if (fabs(ref[d]) > *ref_max) *ref_max = fabs(ref[d]);
        }
    }
    free(ref);
    return err;
}

/* ---- peak: host ----------------------------------------------------------------------------------- */

/* Independent FMA chains a = a·c + d in GCC vector-extension registers, one function per ISA so the
 * accumulators fit the register file (10 × zmm; 10 × ymm; 8 × xmm without FMA, counted as 2 flops). */
#define FMA_BODY(VT, NACC)                                                                                \
    VT a[NACC];                                                                                           \
    const VT c = (VT){0} + m, d = (VT){0} + (1.0f - m);                                                   \
    for (int j = 0; j < NACC; j++) a[j] = (VT){0} + (float)j * 0.01f;                                     \
    for (long it = 0; it < iters; it++)                                                                   \
        for (int j = 0; j < NACC; j++) a[j] = a[j] * c + d;                                               \
    VT s = a[0];                                                                                          \
    for (int j = 1; j < NACC; j++) s += a[j];                                                             \
    float r = 0.0f;                                                                                       \
    for (size_t l = 0; l < sizeof(VT) / sizeof(float); l++) r += s[l];                                    \
    return r;

typedef float v4sf __attribute__((vector_size(16)));
#define FMA_ACC_GENERIC 8
static float fma_loop_generic(long iters, float m) { FMA_BODY(v4sf, FMA_ACC_GENERIC) }

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X86_VARIANTS 1
typedef float v8sf __attribute__((vector_size(32)));
typedef float v16sf __attribute__((vector_size(64)));
#define FMA_ACC_X86 10
__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iters, float m) { FMA_BODY(v8sf, FMA_ACC_X86) }
__attribute__((target("avx512f"))) static float fma_loop_avx512(long iters, float m) { FMA_BODY(v16sf, FMA_ACC_X86) }
#endif

typedef float (*fma_fn)(long, float);

static fma_fn pick_fma(int *lanes, int *nacc, const char **isa)
{
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *lanes = 16, *nacc = FMA_ACC_X86, *isa = "AVX-512";
        return fma_loop_avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *lanes = 8, *nacc = FMA_ACC_X86, *isa = "AVX2+FMA";
        return fma_loop_avx2;
    }
#endif
    *lanes = 4, *nacc = FMA_ACC_GENERIC, *isa = "generic 4-wide";
    return fma_loop_generic;
}

typedef struct host_job {
    fma_fn fn;
    long iters;
    float sink;
    float *a, *b, *c; /* triad slice */
    size_t n;
} host_job;

static void *fma_thread(void *arg)
{
    host_job *j = arg;
    j->sink = j->fn(j->iters, 0.999f);
    return NULL;
}

static void *triad_thread(void *arg)
{
    host_job *j = arg;
    float *restrict a = j->a;
    const float *restrict b = j->b, *restrict c = j->c;
    for (size_t i = 0; i < j->n; i++) a[i] = b[i] + 0.5f * c[i];
    return NULL;
}

static void *init_thread(void *arg)
{
    host_job *j = arg;
    for (size_t i = 0; i < j->n; i++) j->a[i] = j->b[i] = j->c[i] = 1.0f;
    return NULL;
}

/* Runs fn on nthreads threads (the calling one included) and returns the wall time in ms. */
static double run_threads(int nthreads, host_job *jobs, void *(*fn)(void *))
{
    pthread_t tid[256];
    bool started[256] = {false};
    double t0 = bench_now_ms();
    for (int t = 1; t < nthreads; t++) {
        started[t] = pthread_create(&tid[t], NULL, fn, &jobs[t]) == 0;
        if (!started[t]) fn(&jobs[t]); /* no thread: do its share here */
    }
    fn(&jobs[0]);
    for (int t = 1; t < nthreads; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    return bench_now_ms() - t0;
}

static void peak_host(int nthreads, peak_info *pk)
{
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 256) nthreads = 256;
    host_job jobs[256];
    int lanes, nacc;
    const char *isa;
    fma_fn fn = pick_fma(&lanes, &nacc, &isa);
    memset(jobs, 0, sizeof jobs);

    /* FMA: calibrate to about 0.3 s, best of 3. */
    long iters = 1 << 16;
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        for (int t = 0; t < nthreads; t++) jobs[t].fn = fn, jobs[t].iters = iters;
        double ms = run_threads(nthreads, jobs, fma_thread);
        double fl = 2.0 * (double)lanes * nacc * (double)iters * nthreads;
        if (rep >= 2 && fl / ms * 1e-6 > best) best = fl / ms * 1e-6;
        if (rep < 2 && ms > 0) iters = (long)((double)iters * 300.0 / ms) + 1;
    }
    pk->gflops = best;
    snprintf(pk->flops_how, sizeof pk->flops_how,
             "%s, %d independent %d-lane FMA chains per thread, %d threads, best of 3", isa, nacc, lanes, nthreads);

    /* Triad a = b + s·c over 3 × 128 MiB, first-touched by the same threads; bytes = 3·N·4. */
    size_t n = (size_t)32 << 20;
    float *a = aligned_alloc(64, n * sizeof(float)), *b = aligned_alloc(64, n * sizeof(float)),
          *c = aligned_alloc(64, n * sizeof(float));
    pk->gbps = NAN;
    if (a && b && c) {
        size_t per = (n / (size_t)nthreads) & ~(size_t)15;
        for (int t = 0; t < nthreads; t++) {
            size_t off = per * (size_t)t;
            jobs[t].a = a + off, jobs[t].b = b + off, jobs[t].c = c + off;
            jobs[t].n = t == nthreads - 1 ? n - off : per;
        }
        run_threads(nthreads, jobs, init_thread);
        double best_ms = INFINITY;
        for (int rep = 0; rep < 6; rep++) {
            double ms = run_threads(nthreads, jobs, triad_thread);
            if (rep > 0 && ms < best_ms) best_ms = ms;
        }
        pk->gbps = 3.0 * (double)n * sizeof(float) / best_ms * 1e-6;
        snprintf(pk->bw_how, sizeof pk->bw_how, "triad a=b+s*c, 3 x %zu MiB, %d threads, best of 5, 3 arrays counted",
                 n * sizeof(float) >> 20, nthreads);
    }
    free(a);
    free(b);
    free(c);
}

/* ---- peak: OpenCL --------------------------------------------------------------------------------- */

static const char *const peak_cl_src =
    "__kernel void peak_fma(__global VEC *out, const int iters, const float m)\n"
    "{\n"
    "    const float g = (float)get_global_id(0) * 1e-7f;\n"
    "    VEC a0 = (VEC)(g), a1 = (VEC)(g + 0.01f), a2 = (VEC)(g + 0.02f), a3 = (VEC)(g + 0.03f);\n"
    "    VEC a4 = (VEC)(g + 0.04f), a5 = (VEC)(g + 0.05f), a6 = (VEC)(g + 0.06f), a7 = (VEC)(g + 0.07f);\n"
    "    const VEC c = (VEC)(m), d = (VEC)(1.0f - m);\n"
    "    for (int i = 0; i < iters; i++) {\n"
    "        a0 = mad(a0, c, d); a1 = mad(a1, c, d); a2 = mad(a2, c, d); a3 = mad(a3, c, d);\n"
    "        a4 = mad(a4, c, d); a5 = mad(a5, c, d); a6 = mad(a6, c, d); a7 = mad(a7, c, d);\n"
    "    }\n"
    "    out[get_global_id(0)] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));\n"
    "}\n"
    "__kernel void triad(__global float4 *a, __global const float4 *b, __global const float4 *c)\n"
    "{\n"
    "    const size_t i = get_global_id(0);\n"
    "    a[i] = b[i] + 0.5f * c[i];\n"
    "}\n"
    "__kernel void triad_strided(__global float4 *a, __global const float4 *b, __global const float4 *c,\n"
    "                            const uint n)\n"
    "{\n"
    "    for (uint i = get_global_id(0); i < n; i += get_global_size(0)) a[i] = b[i] + 0.5f * c[i];\n"
    "}\n";

#define CL_TRY(call)                                                                                      \
    do {                                                                                                  \
        cl_int e_ = (call);                                                                               \
        if (e_ != CL_SUCCESS) {                                                                           \
            fprintf(stderr, "clattn-bench: peak: %s failed (%d)\n", #call, (int)e_);                      \
            goto cleanup;                                                                                 \
        }                                                                                                 \
    } while (0)

/* One FMA kernel: 8 independent mad() chains of floatW per work-item, 2 flops each; calibrated to about
 * 0.25 s, best of 3. Host clock around clFinish(). Returns GFLOP/s or NAN. */
static double peak_cl_fma(cl_context context, cl_device_id device, cl_command_queue queue, int width, size_t global)
{
    cl_program prog = NULL;
    cl_kernel kern = NULL;
    cl_mem out = NULL;
    cl_int err;
    const char *src = peak_cl_src;
    char opts[64];
    double best = NAN;
    snprintf(opts, sizeof opts, "-D VEC=float%d", width);
    prog = clCreateProgramWithSource(context, 1, &src, NULL, &err);
    CL_TRY(err);
    CL_TRY(clBuildProgram(prog, 1, &device, opts, NULL, NULL));
    kern = clCreateKernel(prog, "peak_fma", &err);
    CL_TRY(err);
    out = clCreateBuffer(context, CL_MEM_WRITE_ONLY, global * (size_t)width * sizeof(float), NULL, &err);
    CL_TRY(err);
    int iters = 64;
    const float m = 0.999f;
    best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        CL_TRY(clSetKernelArg(kern, 0, sizeof out, &out));
        CL_TRY(clSetKernelArg(kern, 1, sizeof iters, &iters));
        CL_TRY(clSetKernelArg(kern, 2, sizeof m, &m));
        double t0 = bench_now_ms();
        CL_TRY(clEnqueueNDRangeKernel(queue, kern, 1, NULL, &global, NULL, 0, NULL, NULL));
        CL_TRY(clFinish(queue));
        double ms = bench_now_ms() - t0;
        double fl = 2.0 * 8.0 * width * (double)iters * (double)global;
        if (rep >= 2 && fl / ms * 1e-6 > best) best = fl / ms * 1e-6;
        if (rep < 2 && ms > 0) {
            double scaled = (double)iters * 250.0 / ms;
            iters = scaled > (double)(1 << 20) ? 1 << 20 : (int)scaled + 1;
        }
    }
cleanup:
    if (out) clReleaseMemObject(out);
    if (kern) clReleaseKernel(kern);
    if (prog) clReleaseProgram(prog);
    return best;
}

/* A float4 triad a = b + s·c over 3 buffers of up to 128 MiB, best of 5; 3 arrays counted. GB/s or NAN.
 * strided: cu·256 work-items each loop over the array with a grid stride (some CPU drivers pay much per
 * work-item); else one work-item per float4. */
static double peak_cl_triad(cl_context context, cl_device_id device, cl_command_queue queue, bool strided,
                            size_t *bytes_out)
{
    cl_program prog = NULL;
    cl_kernel kern = NULL;
    cl_mem buf[3] = {NULL, NULL, NULL};
    cl_int err;
    const char *src = peak_cl_src;
    cl_ulong max_alloc = 0;
    double gbps = NAN;
    clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    size_t bytes = (size_t)128 << 20;
    while (max_alloc && bytes > max_alloc) bytes >>= 1;
    *bytes_out = bytes;
    const size_t n4 = bytes / (4 * sizeof(float));
    prog = clCreateProgramWithSource(context, 1, &src, NULL, &err);
    CL_TRY(err);
    CL_TRY(clBuildProgram(prog, 1, &device, "-D VEC=float4", NULL, NULL));
    kern = clCreateKernel(prog, strided ? "triad_strided" : "triad", &err);
    CL_TRY(err);
    cl_uint cu = 1;
    clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    const size_t global = strided ? (size_t)(cu ? cu : 1) * 256 : n4;
    const cl_uint n4u = (cl_uint)n4;
    if (strided) CL_TRY(clSetKernelArg(kern, 3, sizeof n4u, &n4u));
    for (int i = 0; i < 3; i++) {
        buf[i] = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &err);
        CL_TRY(err);
        const float one = 1.0f;
        CL_TRY(clEnqueueFillBuffer(queue, buf[i], &one, sizeof one, 0, bytes, 0, NULL, NULL));
    }
    CL_TRY(clFinish(queue));
    for (int i = 0; i < 3; i++) CL_TRY(clSetKernelArg(kern, (cl_uint)i, sizeof buf[i], &buf[i]));
    double best_ms = INFINITY;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = bench_now_ms();
        CL_TRY(clEnqueueNDRangeKernel(queue, kern, 1, NULL, &global, NULL, 0, NULL, NULL));
        CL_TRY(clFinish(queue));
        double ms = bench_now_ms() - t0;
        if (rep > 0 && ms < best_ms) best_ms = ms;
    }
    gbps = 3.0 * (double)bytes / best_ms * 1e-6;
cleanup:
    for (int i = 0; i < 3; i++)
        if (buf[i]) clReleaseMemObject(buf[i]);
    if (kern) clReleaseKernel(kern);
    if (prog) clReleaseProgram(prog);
    return gbps;
}

/* The better of a float8 and a float16 FMA kernel, and the triad. */
static void peak_opencl(cl_context context, cl_device_id device, cl_command_queue queue, peak_info *pk)
{
    cl_uint cu = 1;
    clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    const size_t global = (size_t)(cu ? cu : 1) * 1024;
    pk->gflops = NAN;
    for (int width = 8; width <= 16; width *= 2) {
        double g = peak_cl_fma(context, device, queue, width, global);
        if (isfinite(g) && !(g <= pk->gflops)) {
            pk->gflops = g;
            snprintf(pk->flops_how, sizeof pk->flops_how,
                     "OpenCL kernel, 8 independent float%d mad() chains per work-item, %zu work-items, best of 3",
                     width, global);
        }
    }
    pk->gbps = NAN;
    for (int strided = 0; strided < 2; strided++) {
        size_t bytes = 0;
        double g = peak_cl_triad(context, device, queue, strided, &bytes);
        if (isfinite(g) && !(g <= pk->gbps)) {
            pk->gbps = g;
            snprintf(pk->bw_how, sizeof pk->bw_how,
                     "OpenCL float4 triad a=b+s*c, 3 x %zu MiB, %s, best of 5, 3 arrays counted", bytes >> 20,
                     strided ? "grid-stride loop" : "one work-item per float4");
        }
    }
}

/* ---- memory --------------------------------------------------------------------------------------- */

/* A "Vm...:  123 kB" field of /proc/self/status in bytes, or -1. */
static double proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    const size_t n = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            long long kb = 0;
            if (sscanf(line + n + 1, "%lld", &kb) == 1) v = (double)kb * 1024.0;
            break;
        }
    }
    fclose(f);
    return v;
}

/* Resets the peak resident set (VmHWM) to the current one (Linux >= 4.0: "5" > /proc/self/clear_refs)
 * and returns the current resident set in bytes, or -1 when that is not possible. */
static double rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    bool ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? proc_status_bytes("VmRSS") : -1;
}

/* Peak resident-set growth since rss_reset() returned base (NAN if unknown). */
static double rss_growth_since(double base)
{
    if (base < 0) return NAN;
    const double hwm = proc_status_bytes("VmHWM");
    return hwm < 0 ? NAN : (hwm > base ? hwm - base : 0.0);
}

/* ---- one case ------------------------------------------------------------------------------------- */

/* Times one execution function call; returns its ms. */
typedef struct run_ctx {
    clattn_sdpa_plan *plan;
    const void *q, *k, *v; /* float, or uint16_t for --dtype f16 / bf16 */
    void *out;
    cl_command_queue queue;
    cl_mem mq, mk, mv, mo;
    clattn_status st;
    cl_int cl_err;
} run_ctx;

static double time_execute(run_ctx *r)
{
    double t0 = bench_now_ms();
    r->st = clattn_sdpa_execute(r->plan, r->q, r->k, r->v, NULL, NULL, r->out, NULL);
    return bench_now_ms() - t0;
}

static double time_enqueue(run_ctx *r)
{
    double t0 = bench_now_ms();
    r->st = clattn_sdpa_enqueue(r->plan, r->mq, r->mk, r->mv, NULL, NULL, r->mo, NULL, 0, NULL, NULL);
    if (r->st == CLATTN_SUCCESS) r->cl_err = clFinish(r->queue);
    return bench_now_ms() - t0;
}

/* Warm-up then repeats of fn; false (with r->status set) on failure or when one run exceeds the limit. */
static double cpu_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return NAN;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool timed_loop(double (*fn)(run_ctx *), run_ctx *rc, const options *o, clattn_context *ctx, result *r,
                       double *times, double *med, double *mn, double *cpu_ms, const char *what)
{
    double cpu0 = NAN;
    for (int i = 0; i < o->warmup + o->repeat; i++) {
        if (i == o->warmup) cpu0 = cpu_now_ms();
        double ms = fn(rc);
        if (rc->st != CLATTN_SUCCESS) {
            snprintf(r->status, sizeof r->status, "error: %s: %s: %s", what, clattn_status_string(rc->st),
                     clattn_last_error(ctx));
            return false;
        }
        if (rc->cl_err != CL_SUCCESS) {
            snprintf(r->status, sizeof r->status, "error: %s: clFinish failed (%d)", what, (int)rc->cl_err);
            return false;
        }
        if (ms > o->max_seconds * 1e3) {
            snprintf(r->status, sizeof r->status, "skipped: too slow (one %s took %.1f s > --max-seconds %g)", what,
                     ms * 1e-3, o->max_seconds);
            return false;
        }
        if (i >= o->warmup) times[i - o->warmup] = ms;
    }
    if (cpu_ms) *cpu_ms = (cpu_now_ms() - cpu0) / o->repeat;
    bench_median_min(times, o->repeat, med, mn);
    return true;
}

/* The OpenCL objects a context runs on (all NULL on the host path). */
typedef struct cl_objs {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue;
} cl_objs;

static bool run_case(clattn_context *ctx, const clattn_device_info *info, const cl_objs *cl, const options *o,
                     result *r)
{
    const shape *s = &r->c.s;
    const size_t nq = (size_t)(s->B * s->Hq * s->Lq * s->D), nk = (size_t)(s->B * s->Hkv * s->Lk * s->D),
                 nv = (size_t)(s->B * s->Hkv * s->Lk * s->Dv), no = (size_t)(s->B * s->Hq * s->Lq * s->Dv);
    float *q = malloc((nq ? nq : 1) * sizeof(float)), *k = malloc((nk ? nk : 1) * sizeof(float)),
          *v = malloc((nv ? nv : 1) * sizeof(float)), *out = malloc((no ? no : 1) * sizeof(float));
    const bool wide = r->c.dt != CLATTN_DTYPE_F32, bf = r->c.dt == CLATTN_DTYPE_BF16;
    const size_t es = wide ? 2 : sizeof(float);
    uint16_t *h[4] = {NULL, NULL, NULL, NULL}; /* --dtype f16 / bf16: q, k, v, out as the library gets them */
    double *times = malloc((size_t)o->repeat * sizeof(double));
    clattn_sdpa_plan *plan = NULL;
    run_ctx rc;
    bool ok = false;
    const bool opencl = info->backend == CLATTN_BACKEND_OPENCL;
    memset(&rc, 0, sizeof rc);

    r->flops = (double)s->B * (double)s->Hq * allowed_pairs(s, r->c.causal) * 2.0 * (double)(s->D + s->Dv);
    r->bytes = (double)es * (double)(nq + nk + nv + no);
    snprintf(r->status, sizeof r->status, "ok");
    if (!q || !k || !v || !out || !times) {
        snprintf(r->status, sizeof r->status, "error: out of host memory");
        goto cleanup;
    }
    fill_uniform(q, nq, 1);
    fill_uniform(k, nk, 2);
    fill_uniform(v, nv, 3);
    for (size_t i = 0; i < no; i++) out[i] = 0.0f; /* touched: part of the baseline */
    if (wide) { /* round the inputs to the 16-bit type in place (the reference sees the same values) */
        float *src[4] = {q, k, v, out};
        const size_t cnt[4] = {nq, nk, nv, no};
        for (int i = 0; i < 4; i++) {
            h[i] = malloc((cnt[i] ? cnt[i] : 1) * sizeof(uint16_t));
            if (!h[i]) {
                snprintf(r->status, sizeof r->status, "error: out of host memory");
                goto cleanup;
            }
            for (size_t j = 0; j < cnt[i]; j++) {
                h[i][j] = bf ? bf16r_from_double((double)src[i][j]) : f16r_from_double((double)src[i][j]);
                src[i][j] = (float)(bf ? bf16r_to_double(h[i][j]) : f16r_to_double(h[i][j]));
            }
        }
    }

    /* Device-resident buffers first, so that the memory baseline holds them. */
    if (opencl) {
        cl_int err = CL_SUCCESS;
        rc.queue = cl->queue;
        cl_mem *mems[4] = {&rc.mq, &rc.mk, &rc.mv, &rc.mo};
        const void *src[4] = {q, k, v, out};
        if (wide) src[0] = h[0], src[1] = h[1], src[2] = h[2], src[3] = h[3];
        const size_t cnt[4] = {nq, nk, nv, no};
        for (int i = 0; i < 4 && err == CL_SUCCESS; i++) {
            *mems[i] = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, (cnt[i] ? cnt[i] : 1) * es, NULL, &err);
            if (err == CL_SUCCESS && cnt[i])
                err = clEnqueueWriteBuffer(rc.queue, *mems[i], CL_TRUE, 0, cnt[i] * es, src[i], 0, NULL, NULL);
        }
        if (err != CL_SUCCESS) {
            snprintf(r->status, sizeof r->status, "error: creating device buffers failed (%d)", (int)err);
            goto cleanup;
        }
    }

    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, s->B, s->Hq, s->Hkv, s->Lq, s->Lk, s->D, s->Dv);
    desc.causal = r->c.causal ? CLATTN_CAUSAL_BOTTOM_RIGHT : CLATTN_CAUSAL_NONE;
    desc.precision = r->c.prec;
    desc.data_type = r->c.dt;

    /* First call in this process: plan create + first device-resident run. */
    const double rss_base = rss_reset();
    double t0 = bench_now_ms();
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &desc);
    double t1 = bench_now_ms();
    if (st != CLATTN_SUCCESS) {
        snprintf(r->status, sizeof r->status, "error: plan_create: %s: %s", clattn_status_string(st),
                 clattn_last_error(ctx));
        goto cleanup;
    }
    r->plan_ms = t1 - t0;
    r->workspace = (double)clattn_sdpa_plan_workspace_size(plan);
    snprintf(r->path, sizeof r->path, "%s", clattn_sdpa_plan_path(plan));
    if (o->plan_only) {
        r->rss_growth = rss_growth_since(rss_base);
        snprintf(r->status, sizeof r->status, "plan only (not run)");
        ok = true;
        goto cleanup;
    }
    rc.plan = plan, rc.q = q, rc.k = k, rc.v = v, rc.out = out;
    if (wide) rc.q = h[0], rc.k = h[1], rc.v = h[2], rc.out = h[3];
    double (*resident)(run_ctx *) = opencl ? time_enqueue : time_execute;
    const char *resident_what = opencl ? "enqueue+clFinish" : "execute";
    double first_run = resident(&rc);
    r->first_ms = r->plan_ms + first_run;
    if (rc.st != CLATTN_SUCCESS || rc.cl_err != CL_SUCCESS) {
        if (rc.st != CLATTN_SUCCESS)
            snprintf(r->status, sizeof r->status, "error: %s: %s: %s", resident_what, clattn_status_string(rc.st),
                     clattn_last_error(ctx));
        else
            snprintf(r->status, sizeof r->status, "error: %s: clFinish failed (%d)", resident_what, (int)rc.cl_err);
        goto cleanup;
    }
    if (first_run > o->max_seconds * 1e3) {
        r->rss_growth = rss_growth_since(rss_base);
        snprintf(r->status, sizeof r->status, "skipped: too slow (first run took %.1f s > --max-seconds %g)",
                 first_run * 1e-3, o->max_seconds);
        ok = true;
        goto cleanup;
    }
    if (!timed_loop(resident, &rc, o, ctx, r, times, &r->ms, &r->ms_min, &r->cpu_ms, resident_what)) {
        r->rss_growth = rss_growth_since(rss_base);
        ok = strncmp(r->status, "skipped", 7) == 0;
        goto cleanup;
    }
    r->rss_growth = rss_growth_since(rss_base);
    r->gflops = r->flops / r->ms * 1e-6;
    r->gbps = r->bytes / r->ms * 1e-6;

    if (opencl) {
        /* host arrays (copies included); its output is the one checked */
        if (!timed_loop(time_execute, &rc, o, ctx, r, times, &r->ms_host, &r->ms_host_min, NULL, "execute")) {
            if (strncmp(r->status, "skipped", 7) == 0) {
                ok = true;
                snprintf(r->status, sizeof r->status, "ok (ms_host skipped: too slow)");
            }
            goto cleanup;
        }
    } else {
        r->ms_host = r->ms;
        r->ms_host_min = r->ms_min;
    }
    r->gflops_host = r->flops / r->ms_host * 1e-6;
    double ref_max = 0.0;
    if (wide)
        for (size_t i = 0; i < no; i++) out[i] = (float)(bf ? bf16r_to_double(h[3][i]) : f16r_to_double(h[3][i]));
    r->max_abs_err = sampled_error(s, r->c.causal, q, k, v, out, &ref_max);
    const double bound = r->c.tol * (ref_max > 1.0 ? ref_max : 1.0);
    if (!(r->max_abs_err <= bound)) {
        snprintf(r->status, sizeof r->status, "error: case %s: max_abs_err %.3g exceeds the tolerance %.3g (%g x max(1, %.3g))",
                 r->c.name, r->max_abs_err, bound, r->c.tol, ref_max);
        fprintf(stderr, "clattn-bench: FAIL %s on %s: max_abs_err %.3g > tolerance %.3g\n", r->c.name, r->device_tag,
                r->max_abs_err, bound);
        goto cleanup;
    }
    ok = true;

cleanup:
    if (rc.mq) clReleaseMemObject(rc.mq);
    if (rc.mk) clReleaseMemObject(rc.mk);
    if (rc.mv) clReleaseMemObject(rc.mv);
    if (rc.mo) clReleaseMemObject(rc.mo);
    clattn_sdpa_plan_destroy(plan);
    free(q);
    free(k);
    free(v);
    free(out);
    for (int i = 0; i < 4; i++) free(h[i]);
    free(times);
    return ok;
}

/* ---- devices -------------------------------------------------------------------------------------- */

static void lowercase_word(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    while (*in == ' ') in++;
    for (; *in && *in != ' ' && n + 1 < cap; in++) {
        char ch = *in;
        out[n++] = (char)((ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch);
    }
    out[n] = '\0';
}

/* Workaround: clattn 0.1.0's clattn_context_get_cl() returns NULL objects for a context made by
 * clattn_context_create() (src/core/context.c reads fields the OpenCL backend never sets). The device-resident
 * timing needs the context and queue, so find the chosen device by platform and device name, make our own
 * cl_context and in-order queue, and re-create the clattn context on them with
 * clattn_context_create_from_cl() (public API; same device, same kernels). */
static bool rewrap_context(clattn_context **ctx, clattn_device_info *info, cl_objs *cl)
{
    cl_uint np = 0;
    cl_device_id found = NULL;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0) return false;
    cl_platform_id *plats = malloc(np * sizeof *plats);
    if (!plats || clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) {
        free(plats);
        return false;
    }
    for (cl_uint p = 0; p < np && !found; p++) {
        char pname[128] = "";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        pname[sizeof pname - 1] = '\0';
        if (strncmp(pname, info->platform_name, sizeof pname - 1) != 0) continue;
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS) continue;
        for (cl_uint d = 0; d < nd && d < 64; d++) {
            char dname[128] = "";
            clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof dname, dname, NULL);
            dname[sizeof dname - 1] = '\0';
            if (strncmp(dname, info->device_name, sizeof dname - 1) == 0) {
                found = devs[d];
                break;
            }
        }
    }
    free(plats);
    if (!found) {
        fprintf(stderr, "clattn-bench: cannot find OpenCL device '%s' again for device-resident timing\n",
                info->device_name);
        return false;
    }
    cl_int err;
    cl->device = found;
    cl->context = clCreateContext(NULL, 1, &found, NULL, NULL, &err);
    if (err != CL_SUCCESS) return false;
    cl->queue = clCreateCommandQueue(cl->context, found, 0, &err);
    if (err != CL_SUCCESS) return false;
    clattn_context *wrapped = NULL;
    clattn_status st = clattn_context_create_from_cl(&wrapped, cl->context, found, cl->queue);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn-bench: clattn_context_create_from_cl: %s: %s\n", clattn_status_string(st),
                clattn_last_error(NULL));
        return false;
    }
    clattn_context_destroy(*ctx);
    *ctx = wrapped;
    clattn_context_get_info(wrapped, info);
    return true;
}

/* Runs every case on one device; false if the device or a case failed. */
static bool bench_device(const char *selector, const options *o, bool *header_done)
{
    clattn_context *ctx = NULL;
    clattn_context_options copts;
    clattn_context_options_init(&copts);
    copts.device = selector;
    copts.num_threads = o->threads;
    const char *shown = selector ? selector : getenv("CLATTN_DEVICE");
    if (!shown || !*shown) shown = "(default)";
    clattn_status st = clattn_context_create(&ctx, &copts);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn-bench: device '%s': %s: %s\n", shown, clattn_status_string(st),
                clattn_last_error(NULL));
        return false;
    }
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    cl_objs cl = {NULL, NULL, NULL}, own = {NULL, NULL, NULL};
    if (info.backend == CLATTN_BACKEND_OPENCL) {
        clattn_context_get_cl(ctx, &cl.context, &cl.device, &cl.queue);
        if (!cl.context || !cl.queue) {
            bool rewrapped = rewrap_context(&ctx, &info, &own);
            if (own.queue) clReleaseCommandQueue(own.queue); /* the clattn context retains them */
            if (own.context) clReleaseContext(own.context);
            if (!rewrapped) {
                clattn_context_destroy(ctx);
                return false;
            }
            cl = own;
        }
    }

    result base;
    memset(&base, 0, sizeof base);
    snprintf(base.selector, sizeof base.selector, "%s", shown);
    if (info.backend == CLATTN_BACKEND_HOST) {
        snprintf(base.device, sizeof base.device, "host (%s)", info.device_name);
        snprintf(base.device_tag, sizeof base.device_tag, "host");
        base.backend = "host";
        snprintf(base.path, sizeof base.path, "host"); /* replaced by the plan's path per case */
    } else {
        snprintf(base.device, sizeof base.device, "%s / %s", info.platform_name, info.device_name);
        if (strstr(info.platform_name, "Portable Computing Language")) snprintf(base.device_tag, sizeof base.device_tag, "pocl");
        else lowercase_word(info.platform_name, base.device_tag, sizeof base.device_tag);
        base.backend = "opencl";
        snprintf(base.path, sizeof base.path, "chain"); /* replaced by the plan's path per case */
    }
    base.threads = info.num_threads;
    base.peak_gflops = base.peak_gbps = NAN;

    if (o->fmt == FMT_TABLE)
        printf("\n# device: %s [%s], selector '%s', %d %s; driver %s\n", base.device, base.device_tag, shown,
               info.num_threads, info.backend == CLATTN_BACKEND_HOST ? "threads" : "compute units",
               info.driver_version);
    fflush(stdout);
    if (o->peak) {
        peak_info pk;
        memset(&pk, 0, sizeof pk);
        fprintf(stderr, "clattn-bench: measuring peak on %s ...\n", base.device_tag);
        if (info.backend == CLATTN_BACKEND_HOST) {
            peak_host(info.num_threads, &pk);
        } else {
            peak_opencl(cl.context, cl.device, cl.queue, &pk);
        }
        base.peak_gflops = pk.gflops;
        base.peak_gbps = pk.gbps;
        emit_peak(stdout, o->fmt, &base, &pk);
    }
    if (o->fmt == FMT_TABLE) {
        printf("# ms: device-resident (OpenCL: enqueue + clFinish on cl_mem; host: execute); ms_host: "
               "clattn_sdpa_execute on host arrays; median of %d after %d warm-up; GFLOP/s from ms, causal counts "
               "allowed pairs only (about half)\n",
               o->repeat, o->warmup);
        emit_table_header(stdout);
        fflush(stdout);
    } else if (o->fmt == FMT_CSV && !*header_done) {
        printf("%s\n", csv_header);
        *header_done = true;
    }

    bool all_ok = true;
    for (int i = 0; i < o->ncases; i++) {
        result r = base;
        r.c = o->cases[i];
        r.ms = r.ms_min = r.ms_host = r.ms_host_min = r.first_ms = r.plan_ms = NAN;
        r.gflops = r.gflops_host = r.gbps = r.workspace = r.rss_growth = r.cpu_ms = r.max_abs_err = NAN;
        const shape *s = &r.c.s;
        fprintf(stderr, "[%d/%d] %s B=%lld Hq=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld %s ...", i + 1, o->ncases,
                base.device_tag, (long long)s->B, (long long)s->Hq, (long long)s->Hkv, (long long)s->Lq,
                (long long)s->Lk, (long long)s->D, (long long)s->Dv, r.c.causal ? "causal" : "full");
        fflush(stderr);
        bool ok = run_case(ctx, &info, &cl, o, &r);
        all_ok = all_ok && ok;
        if (isfinite(r.ms))
            fprintf(stderr, " %.3f ms (host ptrs %.3f ms), %.1f GFLOP/s\n", r.ms, r.ms_host, r.gflops);
        else
            fprintf(stderr, " %s\n", r.status);
        emit_record(stdout, o->fmt, &r, o);
    }
    clattn_context_destroy(ctx);
    return all_ok;
}

/* "host" plus "<platform>:all:<device>" for every OpenCL device. Caller frees each string and the array. */
static int list_all_devices(char ***out)
{
    int n = 0;
    char **sel = malloc(sizeof *sel);
    if (!sel) return 0;
    sel[n++] = strdup("host");
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == CL_SUCCESS && np > 0) {
        cl_platform_id *plats = malloc(np * sizeof *plats);
        if (plats && clGetPlatformIDs(np, plats, NULL) == CL_SUCCESS) {
            for (cl_uint p = 0; p < np; p++) {
                cl_uint nd = 0;
                if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS) continue;
                for (cl_uint d = 0; d < nd; d++) {
                    char **grown = realloc(sel, (size_t)(n + 1) * sizeof *sel);
                    if (!grown) break;
                    sel = grown;
                    char buf[48];
                    snprintf(buf, sizeof buf, "%u:all:%u", p, d);
                    sel[n++] = strdup(buf);
                }
            }
        }
        free(plats);
    } else if (err != CL_SUCCESS && err != -1001) {
        fprintf(stderr, "clattn-bench: clGetPlatformIDs failed (%d); benchmarking the host path only\n", (int)err);
    }
    *out = sel;
    return n;
}

/* ---- the case table ------------------------------------------------------------------------------ */

/* Every row of tests/cases/cases.c: with --json one object per line (what bench/peers/common.py reads),
 * else a table. */
static void list_cases(FILE *f, out_format fmt)
{
    static const char *const causal_names[] = {"none", "top_left", "bottom_right"};
    static const char *const mask_names[] = {"none", "bool", "additive"};
    for (size_t i = 0; i < case_row_count; i++) {
        const case_row *row = &case_rows[i];
        const sdpa_case *c = &row->c;
        char tags[256] = "";
        size_t len = 0;
        for (unsigned bit = 1; bit; bit <<= 1) {
            const char *t = (row->tags & bit) ? case_tag_name(bit) : NULL;
            if (t && len < sizeof tags)
                len += (size_t)snprintf(tags + len, sizeof tags - len, fmt == FMT_JSON ? "%s\"%s\"" : "%s%s",
                                        len ? "," : "", t);
        }
        const double tol = c->tol > 0 ? c->tol : TU_TOL_F32;
        const char *causal = (unsigned)c->causal < 3 ? causal_names[c->causal] : "?";
        const char *mask = (unsigned)c->mask_kind < 3 ? mask_names[c->mask_kind] : "?";
        if (fmt == FMT_JSON) {
            fprintf(f, "{\"record\":\"case_row\",\"name\":\"%s\",\"tags\":[%s]", c->name, tags);
            fprintf(f, ",\"B\":%lld,\"Hq\":%lld,\"Hkv\":%lld,\"Lq\":%lld,\"Lk\":%lld,\"D\":%lld,\"Dv\":%lld",
                    (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->Lq, (long long)c->Lk,
                    (long long)c->D, (long long)c->Dv);
            fprintf(f, ",\"causal\":\"%s\",\"causal_too\":%s,\"mask\":\"%s\",\"window\":", causal,
                    row->causal_too ? "true" : "false", mask);
            if (c->window) fprintf(f, "[%lld,%lld]", (long long)c->wl, (long long)c->wr);
            else fputs("null", f);
            fprintf(f, ",\"softcap\":%g,\"scale\":%g,\"kv_lengths\":%s,\"probs\":%s,\"kv_bcast\":%s,\"dtype\":\"%s\"",
                    (double)c->softcap, (double)c->scale, c->kvl ? "true" : "false", c->probs ? "true" : "false",
                    c->kv_bcast ? "true" : "false", (row->tags & CASE_F16) ? "float16" : "float32");
            fprintf(f, ",\"kv_block_size\":%lld,\"tol\":%g}\n", (long long)c->kv_block_size, tol);
        } else {
            fprintf(f, "%-34s %3lld %3lld %3lld %5lld %5lld %5lld %5lld %-12s %-8s tol %g  [%s]\n", c->name,
                    (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->Lq, (long long)c->Lk,
                    (long long)c->D, (long long)c->Dv, causal, mask, tol, tags);
        }
    }
}

/* ---- command line --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: clattn-bench [options]\n"
          "  --shape B,Hq,Hkv,Lq,Lk,D[,Dv]  a case (repeatable); default: the built-in grid\n"
          "  --quick              only the rows tagged bench-quick (the first three shapes of the grid)\n"
          "  --tag NAME           the rows of another tag of the case table (e.g. bench-tiny)\n"
          "  --list-cases         print the case table (tests/cases) and exit; with --json one object per line\n"
          "  --tol X              fail a case when max_abs_err > X * max(1, max|ref|) (default: the row's, 1e-5)\n"
          "  --causal             bottom-right causal only;  --both  each shape causal and not\n"
          "                       (built-in grid default: both, decode non-causal; --shape default: not causal)\n"
          "  --device SELECTOR    e.g. host, pocl, rusticl::, 0:all:0 (default: CLATTN_DEVICE, then the library's rule)\n"
          "  --all-devices        the host path and every OpenCL device (rusticl needs RUSTICL_ENABLE=llvmpipe)\n"
          "  --repeat N           timed runs per case (default 10);  --warmup N  untimed runs first (default 2)\n"
          "  --max-seconds S      skip a case when one execution takes longer than S seconds (default 20)\n"
          "  --threads N          host-path worker threads (default: CLATTN_THREADS, else online CPUs)\n"
          "  --peak               measure the device's fp32 FMA rate and memory bandwidth; report % of peak\n"
          "  --plan-only          create each case's plan and report its path, workspace and memory; run nothing\n"
          "  --json | --csv       JSON lines or CSV instead of a table (progress goes to stderr)\n"
          "  --precision P        fp32 (default), reduced (CLATTN_PRECISION_REDUCED; mask column full/r, caus/r;\n"
          "                       default tolerance 3e-2) or both (each case in fp32, then reduced)\n"
          "  --dtype T[,T...]     f32 (default), f16, bf16: q, k, v, out of that type (mask column /h, /b;\n"
          "                       tolerance + the output rounding); a list times each case in each type\n",
          f);
}

static bool parse_int(const char *s, int lo, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > 1000000) return false;
    *out = (int)v;
    return true;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->repeat = 10;
    o->warmup = 2;
    o->max_seconds = 20.0;
    o->mode = MODE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = (i + 1 < argc) ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                                        \
    do {                                                                                                  \
        if (!val) {                                                                                       \
            fprintf(stderr, "clattn-bench: %s needs a value\n", a);                                       \
            return EXIT_USAGE;                                                                            \
        }                                                                                                 \
        i++;                                                                                              \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(EXIT_OK);
        } else if (!strcmp(a, "--quick")) {
            o->quick = true;
        } else if (!strcmp(a, "--list-cases")) {
            o->list_cases = true;
        } else if (!strcmp(a, "--tag")) {
            NEED_VALUE;
            if (!(o->tag = case_tag_from_name(val))) goto bad_value;
        } else if (!strcmp(a, "--tol")) {
            NEED_VALUE;
            char *end;
            o->tol = strtod(val, &end);
            if (end == val || *end || !(o->tol > 0)) goto bad_value;
        } else if (!strcmp(a, "--causal")) {
            o->mode = MODE_CAUSAL;
        } else if (!strcmp(a, "--both")) {
            o->mode = MODE_BOTH;
        } else if (!strcmp(a, "--all-devices")) {
            o->all_devices = true;
        } else if (!strcmp(a, "--peak")) {
            o->peak = true;
        } else if (!strcmp(a, "--plan-only")) {
            o->plan_only = true;
        } else if (!strcmp(a, "--precision")) {
            NEED_VALUE;
            if (!strcmp(val, "fp32")) o->precisions = 1;
            else if (!strcmp(val, "reduced")) o->precisions = 2;
            else if (!strcmp(val, "both")) o->precisions = 3;
            else goto bad_value;
        } else if (!strcmp(a, "--dtype")) {
            NEED_VALUE;
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s", val);
            for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "f32")) o->dtypes |= 1;
                else if (!strcmp(t, "f16")) o->dtypes |= 2;
                else if (!strcmp(t, "bf16")) o->dtypes |= 4;
                else goto bad_value;
            }
        } else if (!strcmp(a, "--json")) {
            o->fmt = FMT_JSON;
        } else if (!strcmp(a, "--csv")) {
            o->fmt = FMT_CSV;
        } else if (!strcmp(a, "--device")) {
            NEED_VALUE;
            o->device = val;
        } else if (!strcmp(a, "--repeat")) {
            NEED_VALUE;
            if (!parse_int(val, 1, &o->repeat)) goto bad_value;
        } else if (!strcmp(a, "--warmup")) {
            NEED_VALUE;
            if (!parse_int(val, 0, &o->warmup)) goto bad_value;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE;
            if (!parse_int(val, 1, &o->threads)) goto bad_value;
        } else if (!strcmp(a, "--max-seconds")) {
            NEED_VALUE;
            char *end;
            o->max_seconds = strtod(val, &end);
            if (end == val || *end || !(o->max_seconds > 0)) goto bad_value;
        } else if (!strcmp(a, "--shape")) {
            NEED_VALUE;
            int64_t d[7];
            int n;
            if (!parse_i64_list(val, d, 7, &n) || n < 6) {
                fprintf(stderr, "clattn-bench: --shape wants B,Hq,Hkv,Lq,Lk,D[,Dv] (got '%s')\n", val);
                return EXIT_USAGE;
            }
            if (d[1] == 0 || d[2] == 0 || d[1] % d[2] != 0) {
                fprintf(stderr, "clattn-bench: --shape '%s': Hq must be a non-zero multiple of Hkv\n", val);
                return EXIT_USAGE;
            }
            shape *grown = realloc(o->shapes, (size_t)(o->nshapes + 1) * sizeof *grown);
            if (!grown) return EXIT_FAIL;
            o->shapes = grown;
            o->shapes[o->nshapes++] = (shape){d[0], d[1], d[2], d[3], d[4], d[5], n == 7 ? d[6] : d[5]};
        } else {
            fprintf(stderr, "clattn-bench: unknown option '%s'\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        continue;
    bad_value:
        fprintf(stderr, "clattn-bench: bad value for %s: '%s'\n", a, val);
        return EXIT_USAGE;
#undef NEED_VALUE
    }
    if (o->all_devices && o->device) {
        fprintf(stderr, "clattn-bench: --device and --all-devices exclude each other\n");
        return EXIT_USAGE;
    }

    /* Expand the shapes (or the table's rows) into cases. */
    if (!o->tag) o->tag = o->quick ? CASE_BENCH_QUICK : CASE_BENCH_DEFAULT;
    const case_row *rows[64];
    const size_t nrows = case_rows_tagged(o->tag, rows, 64);
    if (nrows > 64) return EXIT_FAIL;
    if (!o->precisions) o->precisions = 1;
    int cap = 4 * (o->nshapes ? o->nshapes : (int)nrows);
    o->cases = malloc((size_t)(cap ? cap : 1) * sizeof *o->cases);
    if (!o->cases) return EXIT_FAIL;
    const double shape_tol = o->tol > 0 ? o->tol : TU_TOL_F32;
    if (o->nshapes) {
        for (int i = 0; i < o->nshapes; i++) {
            if (o->mode != MODE_CAUSAL) o->cases[o->ncases++] = (bench_case){o->shapes[i], false, "shape", shape_tol, 0, CLATTN_DTYPE_F32};
            if (o->mode == MODE_CAUSAL || o->mode == MODE_BOTH)
                o->cases[o->ncases++] = (bench_case){o->shapes[i], true, "shape", shape_tol, 0, CLATTN_DTYPE_F32};
        }
    } else {
        for (size_t i = 0; i < nrows; i++) {
            const sdpa_case *c = &rows[i]->c;
            const shape sh = {c->B, c->Hq, c->Hkv, c->Lq, c->Lk, c->D, c->Dv};
            const double tol = o->tol > 0 ? o->tol : c->tol > 0 ? c->tol : TU_TOL_F32;
            bool full = o->mode != MODE_CAUSAL || !rows[i]->causal_too;
            bool causal = rows[i]->causal_too && o->mode != MODE_NONE;
            if (full) o->cases[o->ncases++] = (bench_case){sh, false, c->name, tol, 0, CLATTN_DTYPE_F32};
            if (causal) o->cases[o->ncases++] = (bench_case){sh, true, c->name, tol, 0, CLATTN_DTYPE_F32};
        }
    }
    /* --precision and --dtype: each case in fp32 and/or reduced, in each data type, one after the other */
    if (!o->dtypes) o->dtypes = 1;
    int n = 0;
    bench_case *all = malloc((size_t)(6 * o->ncases + 1) * sizeof *all);
    if (!all) return EXIT_FAIL;
    static const clattn_dtype dts[3] = {CLATTN_DTYPE_F32, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16};
    /* output rounding of the 16-bit types, relative: one ulp of binary16 (2^-10), of bfloat16 (2^-7) */
    static const double dt_tol[3] = {0.0, 9.765625e-4, 7.8125e-3};
    for (int i = 0; i < o->ncases; i++)
        for (int t = 0; t < 3; t++) {
            if (!(o->dtypes >> t & 1)) continue;
            bench_case c = o->cases[i];
            c.dt = dts[t];
            if (o->precisions & 1) {
                all[n] = c;
                if (o->tol <= 0) all[n].tol += dt_tol[t];
                n++;
            }
            if (o->precisions & 2) {
                all[n] = c;
                all[n].prec = CLATTN_PRECISION_REDUCED;
                all[n++].tol = o->tol > 0 ? o->tol : REDUCED_TOL + dt_tol[t];
            }
        }
    free(o->cases);
    o->cases = all;
    o->ncases = n;
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != EXIT_OK) return rc;
    if (o.list_cases) {
        list_cases(stdout, o.fmt);
        free(o.cases);
        free(o.shapes);
        return EXIT_OK;
    }

    if (o.fmt == FMT_TABLE)
        printf("# clattn-bench, clattn %s; %d case(s), repeat %d, warm-up %d, --max-seconds %g\n",
               clattn_version_string(), o.ncases, o.repeat, o.warmup, o.max_seconds);
    fflush(stdout);
    bool ok = true, header_done = false;
    if (o.all_devices) {
        char **sel = NULL;
        int n = list_all_devices(&sel);
        for (int i = 0; i < n; i++) {
            if (sel[i]) ok = bench_device(sel[i], &o, &header_done) && ok;
            free(sel[i]);
        }
        free(sel);
    } else {
        ok = bench_device(o.device, &o, &header_done);
    }
    free(o.cases);
    free(o.shapes);
    return ok ? EXIT_OK : EXIT_FAIL;
}
