/* Test helpers: RNG, layouts, poisoned buffers, tolerance checks, the backend under test. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RNG ----------------------------------------------------------------------------------- */

#define TU_DEFAULT_SEED 20240607ull

uint64_t tu_base_seed(void)
{
    static int have = 0;
    static uint64_t seed = TU_DEFAULT_SEED;
    if (!have) {
        const char *s = getenv("CLATTN_TEST_SEED");
        if (s && *s) {
            char *end = NULL;
            unsigned long long v = strtoull(s, &end, 0);
            if (end && *end == '\0') {
                seed = v;
            } else {
                fprintf(stderr, "CLATTN_TEST_SEED='%s' is not a number; using %llu\n", s,
                        (unsigned long long)seed);
            }
        }
        have = 1;
    }
    return seed;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t tu_case_seed(const char *area, int idx)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the area name */
    for (const char *p = area; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return mix64(tu_base_seed() ^ mix64(h + (uint64_t)idx));
}

void tu_rng_init(tu_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t tu_rng_next(tu_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

double tu_rng_uniform(tu_rng *r, double lo, double hi)
{
    double u = (double)(tu_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

int64_t tu_rng_int(tu_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(tu_rng_next(r) % span);
}

/* ---- backend under test -------------------------------------------------------------------- */

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && (hay[i] | 32) == (needle[i] | 32)) i++;
        if (i == n) return 1;
    }
    return 0;
}

tu_backend tu_backend_of(const clattn_context *ctx)
{
    clattn_device_info info;
    clattn_device_info_init(&info);
    if (clattn_context_get_info(ctx, &info) != CLATTN_SUCCESS) return TU_OTHER_CL;
    if (info.backend == CLATTN_BACKEND_HOST) return TU_HOST;
    if (contains_ci(info.platform_name, "rusticl")) return TU_RUSTICL;
    if (contains_ci(info.platform_name, "portable") || contains_ci(info.platform_name, "pocl")) return TU_POCL;
    return TU_OTHER_CL;
}

const char *tu_backend_name(tu_backend b)
{
    switch (b) {
    case TU_HOST: return "host";
    case TU_POCL: return "pocl";
    case TU_RUSTICL: return "rusticl";
    case TU_OTHER_CL: return "opencl";
    }
    return "?";
}

/* The fused host ISA this CPU supports best, by the CPU's own report (as src/host/fused.c picks it). */
static const char *cpu_best_isa(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "portable";
}

/* Whether the CPU runs ISA isa ("portable" always). */
static bool cpu_has_isa(const char *isa)
{
    if (strcmp(isa, "portable") == 0) return true;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    if (strcmp(isa, "avx512") == 0) return __builtin_cpu_supports("avx512f");
    if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(isa, "avx512bf16") == 0) /* src/host/fused.c, host_fused_precision_isa */
        return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f");
#endif
    return false;
}

static const char *expected_path(void)
{
    const char *e = getenv("CLATTN_TEST_EXPECT_PATH");
    return e && *e ? e : NULL;
}

static long g_path_hits, g_path_checks;

long tu_plan_path_hits(void)
{
    return g_path_hits;
}

/* Sure to take the fused host kernel (src/host/fused.c, host_fused_supported: a subset of its rule). */
/* Hkv of a desc: k dim 1, or dim 2 of a paged cache's pool [num_blocks, block_size, Hkv, D]. */
static int64_t desc_kv_heads(const clattn_sdpa_desc *d)
{
    return d->kv_layout == CLATTN_KV_PAGED ? d->k.dims[2] : d->k.dims[1];
}

static bool host_fused_sure(const clattn_sdpa_desc *d)
{
    if (d->want_probs) return false;
    const int64_t D = d->q.dims[3], Dv = d->out.dims[3], Lq = d->q.dims[2], G = d->q.dims[1] / desc_kv_heads(d);
    if (d->data_type != CLATTN_DTYPE_F16) { /* f16 plans stage q and out contiguously */
        if (D > 1 && d->q.strides[3] != 1) return false;
        if (Dv > 1 && d->out.strides[3] != 1) return false;
    }
    return Lq >= 4 || Lq * G >= 4;
}

/* Sure to take the GPU fused kernels (src/opencl/fused.c: every plan without probabilities with D, Dv <= 256
 * on a GPU device, e.g. under CLATTN_DEVICE_PROFILE). */
static bool gpu_fused_sure(const clattn_sdpa_desc *d)
{
    return !d->want_probs && d->kernel_path != CLATTN_KERNEL_PATH_CHAIN && d->q.dims[3] <= 256 && d->out.dims[3] <= 256;
}

/* The host decode shape (src/host/fused.c, decode_fits), which stays float32 under CLATTN_PRECISION_REDUCED. */
static bool host_decode_shape(const clattn_sdpa_desc *d)
{
    const int64_t Lq = d->q.dims[2], G = d->q.dims[1] / desc_kv_heads(d);
    if (Lq < 1 || Lq > 4 || Lq * G > 16) return false;
    if (d->data_type != CLATTN_DTYPE_F16) { /* f16 plans stage k and v contiguously */
        if (d->k.dims[3] > 1 && d->k.strides[3] != 1) return false;
        if (d->v.dims[3] > 1 && d->v.strides[3] != 1) return false;
    }
    return true;
}

/* The path a host plan of desc must take under CLATTN_PRECISION_REDUCED when its float32 path is f32_path:
 * host-fused-avx512bf16 instead of host-fused-avx512 for tiled plans, on a CPU with AVX512_BF16, unless
 * CLATTN_HOST_ISA forces an ISA (src/host/fused.c, host_fused_precision_isa); else f32_path. */
static const char *reduced_path(const clattn_sdpa_desc *d, const char *f32_path)
{
    const char *isa_env = getenv("CLATTN_HOST_ISA");
    const bool forced = isa_env && *isa_env && strcmp(isa_env, "auto") != 0;
    if (d->precision == CLATTN_PRECISION_REDUCED && !forced && strcmp(f32_path, "host-fused-avx512") == 0 &&
        !host_decode_shape(d) && cpu_has_isa("avx512bf16"))
        return "host-fused-avx512bf16";
    return f32_path;
}

bool tu_check_plan_path(const clattn_sdpa_plan *plan, const clattn_sdpa_desc *desc, const tu_where *w)
{
    const char *want = expected_path();
    const bool gpu = want && strcmp(want, "fused-gpu") == 0;
    const char *got = clattn_sdpa_plan_path(plan);
    /* a paged KV cache: the path the same problem takes over contiguous K/V, plus "-paged" */
    char unpaged[64];
    const size_t n = strlen(got);
    const bool suffix = n >= 6 && strcmp(got + n - 6, "-paged") == 0;
    if (suffix != (desc->kv_layout == CLATTN_KV_PAGED)) {
        g_path_checks++;
        tu_report(w, "plan path '%s': a %s plan's path must %s in -paged", got,
                  desc->kv_layout == CLATTN_KV_PAGED ? "paged" : "contiguous",
                  desc->kv_layout == CLATTN_KV_PAGED ? "end" : "not end");
        return false;
    }
    if (suffix) {
        snprintf(unpaged, sizeof unpaged, "%.*s", (int)(n - 6), got);
        got = unpaged;
    }
    if (strncmp(got, "host", 4) == 0) {
        /* precision: a REDUCED plan reports host-fused-avx512bf16 exactly where its float32 twin would report
         * host-fused-avx512 on a CPU with AVX512_BF16 (tiled plans); an FP32 plan never does. Under
         * CLATTN_TEST_EXPECT_PATH=host-fused-avx512bf16 an FP32 plan (or a decode plan) must take the float32
         * path host-fused-avx512. */
        if (want && strcmp(want, "host-fused-avx512bf16") == 0) {
            const char *w32 = "host-fused-avx512";
            const char *need = reduced_path(desc, w32);
            const bool sure = host_fused_sure(desc);
            const bool ok = strcmp(got, need) == 0 || (!sure && strcmp(got, "host-rowwise") == 0);
            if (ok && strcmp(got, want) == 0) g_path_hits++;
            g_path_checks++;
            if (!ok)
                tu_report(w, "plan path '%s', but a %s plan under CLATTN_TEST_EXPECT_PATH='%s' must take '%s'", got,
                          desc->precision == CLATTN_PRECISION_REDUCED ? "REDUCED" : "FP32", want, need);
            return ok;
        }
        if (!want && desc->precision == CLATTN_PRECISION_REDUCED && cpu_has_isa("avx512bf16")) {
            char best[32];
            snprintf(best, sizeof best, "host-fused-%s", cpu_best_isa());
            const char *need = reduced_path(desc, best);
            if (strcmp(need, best) != 0) { /* the bf16 variant is due wherever the float32 kernel would run */
                g_path_checks++;
                const bool ok = strcmp(got, need) == 0 || (!host_fused_sure(desc) && strcmp(got, "host-rowwise") == 0);
                if (!ok) tu_report(w, "plan path '%s': a REDUCED plan here must take '%s' (or host-rowwise)", got, need);
                return ok;
            }
        }
    }
    return tu_check_path(got, gpu ? gpu_fused_sure(desc) : host_fused_sure(desc), w);
}

bool tu_check_path(const char *got, bool fused_sure, const tu_where *w)
{
    if (strncmp(got, "multi(", 6) == 0) { /* a multi-device plan: every member's path must be valid */
        char buf[64];
        snprintf(buf, sizeof buf, "%s", got + 6);
        char *close = strrchr(buf, ')');
        if (!close) {
            tu_report(w, "plan path '%s': a multi-device path must be multi(<path>,...)", got);
            return false;
        }
        *close = '\0';
        bool ok = true;
        for (char *save = NULL, *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save))
            ok &= tu_check_path(e, false, w);
        return ok;
    }
    const char *want = expected_path();
    const bool host = strncmp(got, "host", 4) == 0;
    g_path_checks++;
    if (want) {
        bool ok = strcmp(got, want) == 0;
        if (ok) g_path_hits++;
        if (!ok && strncmp(want, "host-fused-", 11) == 0)
            ok = strcmp(got, "host-rowwise") == 0 && !fused_sure;
        if (!ok && strcmp(want, "fused-gpu") == 0) /* plans with probabilities take the chain */
            ok = strcmp(got, "chain") == 0 && !fused_sure;
        if (!ok)
            tu_report(w, "plan path '%s', but CLATTN_TEST_EXPECT_PATH promises '%s'%s", got, want,
                      strncmp(want, "host-fused-", 11) == 0 ? " (the case fits the fused host kernel)"
                      : strcmp(want, "fused-gpu") == 0     ? " (the case fits the GPU fused kernels)"
                                                           : "");
        return ok;
    }
    if (host) {
        if (strcmp(got, "host-rowwise") == 0) return true;
        char best[32];
        snprintf(best, sizeof best, "host-fused-%s", cpu_best_isa());
        if (strcmp(got, best) == 0) return true;
        const char *isa_env = getenv("CLATTN_HOST_ISA"); /* set by hand without an expectation: any ISA the CPU has */
        if (isa_env && *isa_env && strncmp(got, "host-fused-", 11) == 0 && cpu_has_isa(got + 11)) return true;
        tu_report(w, "plan path '%s': expected host-rowwise or %s (the best ISA this CPU reports)", got, best);
        return false;
    }
    if (strcmp(got, "chain") == 0 || strcmp(got, "fused") == 0 || strcmp(got, "fused-gpu") == 0) return true;
    tu_report(w, "plan path '%s' is none of the documented OpenCL paths (chain, fused, fused-gpu)", got);
    return false;
}

clattn_context *tu_open_context_or_skip(void)
{
    const char *sel = getenv("CLATTN_DEVICE");
    const char *want = expected_path();
    if (want && strncmp(want, "host-fused-", 11) == 0 && !cpu_has_isa(want + 11)) {
        printf("SKIP: CLATTN_TEST_EXPECT_PATH='%s' but this CPU lacks %s (__builtin_cpu_supports)\n", want,
               want + 11);
        exit(TU_SKIP);
    }
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, NULL);
    if (st == CLATTN_ERROR_DEVICE_NOT_FOUND) {
        printf("SKIP: CLATTN_DEVICE='%s' matches no device here: %s\n", sel ? sel : "",
               clattn_last_error(NULL));
        exit(TU_SKIP);
    }
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "FAIL: clattn_context_create (CLATTN_DEVICE='%s') returned %d (%s): %s\n",
                sel ? sel : "", (int)st, clattn_status_string(st), clattn_last_error(NULL));
        exit(1);
    }
    clattn_device_info info;
    clattn_device_info_init(&info);
    if (clattn_context_get_info(ctx, &info) != CLATTN_SUCCESS) {
        fprintf(stderr, "FAIL: clattn_context_get_info: %s\n", clattn_last_error(ctx));
        exit(1);
    }
    printf("# clattn %s, CLATTN_DEVICE='%s': backend %s, platform '%s', device '%s', %d threads/CUs, seed %llu\n",
           clattn_version_string(), sel ? sel : "", info.backend == CLATTN_BACKEND_HOST ? "host" : "opencl",
           info.platform_name, info.device_name, info.num_threads, (unsigned long long)tu_base_seed());
    if (sel && *sel && strcmp(sel, "host") != 0 && info.backend == CLATTN_BACKEND_HOST) {
        fprintf(stderr, "FAIL: CLATTN_DEVICE='%s' gave the host path instead of an OpenCL device\n", sel);
        exit(1);
    }
    return ctx;
}

/* ---- tensors ------------------------------------------------------------------------------- */

const char *tu_layout_name(tu_layout l)
{
    static const char *names[] = {"contig", "blhd", "pad", "blhd_pad", "hbld", "colstride"};
    return (unsigned)l < TU_LAYOUT_COUNT ? names[l] : "?";
}

clattn_tensor tu_tensor(tu_layout l, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t off)
{
    clattn_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 4;
    t.dims[0] = d0;
    t.dims[1] = d1;
    t.dims[2] = d2;
    t.dims[3] = d3;
    t.offset = off;
    int64_t *s = t.strides;
    switch (l) {
    case TU_CONTIG:
        s[3] = 1, s[2] = d3, s[1] = d2 * d3, s[0] = d1 * d2 * d3;
        break;
    case TU_BLHD:
        s[3] = 1, s[1] = d3, s[2] = d1 * d3, s[0] = d2 * d1 * d3;
        break;
    case TU_PAD:
        s[3] = 1, s[2] = d3 + 3, s[1] = d2 * s[2] + 5, s[0] = d1 * s[1] + 7;
        break;
    case TU_BLHD_PAD:
        s[3] = 1, s[1] = d3 + 2, s[2] = d1 * s[1] + 3, s[0] = d2 * s[2] + 1;
        break;
    case TU_HBLD:
        s[3] = 1, s[2] = d3, s[0] = d2 * d3, s[1] = d0 * d2 * d3;
        break;
    case TU_COLSTRIDE:
    default:
        s[3] = 2, s[2] = 2 * d3 + 1, s[1] = d2 * s[2], s[0] = d1 * s[1];
        break;
    }
    /* A dim of size 1 ignores its stride: give it junk to check that. */
    for (int i = 0; i < 4; i++)
        if (t.dims[i] == 1) t.strides[i] = 1000003;
    return t;
}

int64_t tu_extent(const clattn_tensor *t)
{
    int64_t last = t->offset;
    for (int i = 0; i < 4; i++) {
        if (t->dims[i] <= 0) return 0;
        if (t->dims[i] > 1) last += (t->dims[i] - 1) * t->strides[i];
    }
    return last + 1;
}

int64_t tu_index(const clattn_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    int64_t idx[4] = {i0, i1, i2, i3};
    int64_t e = t->offset;
    for (int i = 0; i < 4; i++)
        if (t->dims[i] > 1) e += idx[i] * t->strides[i];
    return e;
}

int64_t tu_numel(const clattn_tensor *t)
{
    return t->dims[0] * t->dims[1] * t->dims[2] * t->dims[3];
}

float tu_poison_value(void)
{
    uint32_t bits = TU_POISON_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void tu_fill_bits(float *p, int64_t n, uint32_t bits)
{
    for (int64_t i = 0; i < n; i++) memcpy(&p[i], &bits, sizeof bits);
}

cl_mem tu_cl_mem(cl_context cc, size_t bytes, const void *src)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(cc, CL_MEM_READ_WRITE | (src ? CL_MEM_COPY_HOST_PTR : 0), bytes, (void *)src, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "clCreateBuffer(%zu): %d\n", bytes, (int)err);
        exit(1);
    }
    return m;
}

void *tu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

float *tu_alloc_bits(int64_t n, uint32_t bits)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory (%lld floats)\n", (long long)n);
        exit(1);
    }
    tu_fill_bits(p, n > 0 ? n : 1, bits);
    return p;
}

float *tu_make_input(tu_rng *r, const clattn_tensor *t, double lo, double hi, int64_t *n)
{
    int64_t ext = tu_extent(t);
    float *p = tu_alloc_bits(ext, 0x7fc00bad); /* gaps: NaN */
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t d = 0; d < t->dims[3]; d++)
                    p[tu_index(t, a, b, c, d)] = (float)tu_rng_uniform(r, lo, hi);
    if (n) *n = ext;
    return p;
}

/* ---- checks -------------------------------------------------------------------------------- */

void tu_report(const tu_where *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL [%s/%s] ", w ? w->area : "?", w ? w->name : "?");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n    reproduce: CLATTN_TEST_SEED=%llu (case seed 0x%016llx)\n",
            (unsigned long long)tu_base_seed(), (unsigned long long)(w ? w->seed : 0));
    fflush(stderr);
}

typedef struct cmp_state {
    double max_ref, worst_err;
    int64_t worst, nan_mismatch, n_bad_nan;
    double worst_got, worst_ref, nan_got, nan_ref;
} cmp_state;

static void cmp_init(cmp_state *c)
{
    memset(c, 0, sizeof *c);
    c->worst = -1;
    c->nan_mismatch = -1;
}

static void cmp_ref_scan(cmp_state *c, double ref)
{
    if (isfinite(ref) && fabs(ref) > c->max_ref) c->max_ref = fabs(ref);
}

static void cmp_one(cmp_state *c, int64_t i, double got, double ref)
{
    if (isnan(ref) || isnan(got) || isinf(ref) || isinf(got)) {
        bool same = (isnan(ref) && isnan(got)) || (got == ref);
        if (!same) {
            if (c->nan_mismatch < 0) {
                c->nan_mismatch = i;
                c->nan_got = got;
                c->nan_ref = ref;
            }
            c->n_bad_nan++;
        }
        return;
    }
    double err = fabs(got - ref);
    if (c->worst < 0 || err > c->worst_err) {
        c->worst_err = err;
        c->worst = i;
        c->worst_got = got;
        c->worst_ref = ref;
    }
}

static bool cmp_finish(const tu_where *w, const char *what, const cmp_state *c, double tol,
                       void (*fmt_index)(const void *, int64_t, char *, size_t), const void *ctx)
{
    double bound = tol * (c->max_ref > 1.0 ? c->max_ref : 1.0);
    bool ok = c->n_bad_nan == 0 && c->worst_err <= bound;
    if (!ok) {
        char where_nan[96] = "", where_worst[96] = "";
        if (c->nan_mismatch >= 0) fmt_index(ctx, c->nan_mismatch, where_nan, sizeof where_nan);
        if (c->worst >= 0) fmt_index(ctx, c->worst, where_worst, sizeof where_worst);
        if (c->n_bad_nan)
            tu_report(w, "%s: %lld non-finite mismatches, first at %s: got %.9g, reference %.9g", what,
                      (long long)c->n_bad_nan, where_nan, c->nan_got, c->nan_ref);
        if (c->worst_err > bound)
            tu_report(w, "%s: max abs error %.3e > bound %.3e (tol %.1e x max(1, max|ref| = %.4g)) at %s: got %.9g, "
                      "reference %.9g",
                      what, c->worst_err, bound, tol, c->max_ref, where_worst, c->worst_got, c->worst_ref);
    }
    return ok;
}

static void fmt_view_index(const void *ctx, int64_t flat, char *buf, size_t n)
{
    const clattn_tensor *t = ctx;
    int64_t i3 = flat % t->dims[3], r = flat / t->dims[3];
    int64_t i2 = r % t->dims[2];
    r /= t->dims[2];
    int64_t i1 = r % t->dims[1], i0 = r / t->dims[1];
    snprintf(buf, n, "[%lld,%lld,%lld,%lld]", (long long)i0, (long long)i1, (long long)i2, (long long)i3);
}

static void fmt_flat_index(const void *ctx, int64_t flat, char *buf, size_t n)
{
    (void)ctx;
    snprintf(buf, n, "[%lld]", (long long)flat);
}

bool tu_check_view(const tu_where *w, const char *what, const float *buf, const clattn_tensor *t,
                   const double *ref, double tol)
{
    cmp_state c;
    cmp_init(&c);
    int64_t n = tu_numel(t);
    for (int64_t i = 0; i < n; i++) cmp_ref_scan(&c, ref[i]);
    int64_t flat = 0;
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t cc = 0; cc < t->dims[2]; cc++)
                for (int64_t d = 0; d < t->dims[3]; d++, flat++)
                    cmp_one(&c, flat, (double)buf[tu_index(t, a, b, cc, d)], ref[flat]);
    return cmp_finish(w, what, &c, tol, fmt_view_index, t);
}

bool tu_check_array(const tu_where *w, const char *what, const float *got, const double *ref, int64_t n,
                    double tol)
{
    cmp_state c;
    cmp_init(&c);
    for (int64_t i = 0; i < n; i++) cmp_ref_scan(&c, ref[i]);
    for (int64_t i = 0; i < n; i++) cmp_one(&c, i, (double)got[i], ref[i]);
    return cmp_finish(w, what, &c, tol, fmt_flat_index, NULL);
}

bool tu_check_gaps(const tu_where *w, const char *what, const float *buf, int64_t n, const clattn_tensor *t,
                   uint32_t bits)
{
    unsigned char *in_view = calloc((size_t)n, 1);
    if (!in_view) exit(1);
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t d = 0; d < t->dims[3]; d++) {
                    int64_t e = tu_index(t, a, b, c, d);
                    if (e >= 0 && e < n) in_view[e] = 1;
                }
    int64_t bad = 0, first = -1;
    uint32_t first_bits = 0;
    for (int64_t i = 0; i < n; i++) {
        if (in_view[i]) continue;
        uint32_t v;
        memcpy(&v, &buf[i], sizeof v);
        if (v != bits) {
            if (first < 0) first = i, first_bits = v;
            bad++;
        }
    }
    free(in_view);
    if (bad) {
        float f;
        memcpy(&f, &first_bits, sizeof f);
        tu_report(w, "%s: %lld gap elements (outside the view) were overwritten; first at buffer element %lld: "
                  "0x%08x (%g), expected 0x%08x",
                  what, (long long)bad, (long long)first, first_bits, (double)f, bits);
    }
    return bad == 0;
}

size_t tu_tests_only(struct CMUnitTest *tests, size_t count)
{
    const char *only = getenv("CLATTN_TEST_ONLY");
    if (!only || !*only) return count;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        const char *p = strstr(only, tests[i].name);
        const size_t len = strlen(tests[i].name);
        if (p && (p == only || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) tests[kept++] = tests[i];
    }
    return kept;
}

int tu_run_group(const char *name, struct CMUnitTest *tests, size_t count)
{
    int failed = _cmocka_run_group_tests(name, tests, count, NULL, NULL);
    const char *want = expected_path();
    if (want && g_path_checks == 0) {
        printf("FAIL: group '%s' checked no plan path, but CLATTN_TEST_EXPECT_PATH promises '%s'\n", name, want);
        failed++;
    } else if (want) {
        printf("# %ld of %ld plans took the promised path '%s'\n", g_path_hits, g_path_checks, want);
        if (g_path_hits == 0) {
            printf("FAIL: no plan of group '%s' took the path '%s' its test name promises\n", name, want);
            failed++;
        }
    }
    return failed;
}
