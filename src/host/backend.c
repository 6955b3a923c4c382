/*
 * The POSIX-threads host backend: context, buffers in malloc'd host memory, the thread count, the
 * clattn_backend_i table, and the dispatch between the two SDPA paths:
 *  - fused (fused.h, fused_kernel.c): flash-style tiles with an online softmax, no
 *    [Lq, Lk] buffer, fully masked key blocks skipped, vectorised micro-kernels in portable, AVX2+FMA
 *    and AVX-512F variants chosen at run time. Taken whenever probabilities are not wanted and q
 *    (along D) and out (along Dv) have unit stride.
 *  - row by row (rowwise.c driving scores.c, softmax.c, weighted_sum.c): every other case
 *    (want_probs, general strides); also the cross-check.
 * nn.Linear is gemm.c (BLAS). The context's configuration (core/config.c: options, else CLATTN_PATH and
 * CLATTN_HOST_ISA) chooses: kernel_path CHAIN = always the row-by-row path; host_isa = the fused kernel's
 * variant (AUTO: the widest the CPU runs; one the CPU lacks fails clattn_context_create with
 * CLATTN_ERROR_UNSUPPORTED).
 */
#include "alloc.h"
#include "fp16.h"

#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_MAX_THREADS 1024

/* ---- small helpers ------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Reads "key : value" fields of the first processor in /proc/cpuinfo. */
static void read_cpuinfo(char *model, size_t model_cap, char *vendor, size_t vendor_cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[512];
    bool have_model = false, have_vendor = false;
    while ((!have_model || !have_vendor) && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL) continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t') val++;
        size_t len = strlen(val);
        while (len > 0 && (val[len - 1] == '\n' || val[len - 1] == ' ' || val[len - 1] == '\r'))
            val[--len] = '\0';
        if (len == 0) continue;
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            copy_str(model, model_cap, val);
            have_model = true;
        } else if (!have_vendor && strncmp(line, "vendor_id", 9) == 0) {
            copy_str(vendor, vendor_cap, val);
            have_vendor = true;
        }
    }
    fclose(f);
}

/* ---- thread count ------------------------------------------------------------------------- */

clattn_status clattn_host_resolve_threads(clattn_context *ctx, int requested, int *threads)
{
    if (threads == NULL) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "threads: NULL");
    if (requested < 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "num_threads: %d is negative (0 means CLATTN_THREADS, else the online CPUs)",
                            requested);
    if (requested > HOST_MAX_THREADS)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "num_threads: %d is not in 1..%d",
                            requested, HOST_MAX_THREADS);
    if (requested > 0) {
        *threads = requested;
        return CLATTN_SUCCESS;
    }

    const char *env = getenv("CLATTN_THREADS");
    if (env != NULL && env[0] != '\0') {
        char *end = NULL;
        errno = 0;
        const long n = (env[0] >= '0' && env[0] <= '9') || env[0] == '+' ? strtol(env, &end, 10) : -1;
        if (end == NULL || *end != '\0' || errno != 0 || n < 1 || n > HOST_MAX_THREADS)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_THREADS: '%.64s' is not an integer in 1..%d", env, HOST_MAX_THREADS);
        *threads = (int)n;
        return CLATTN_SUCCESS;
    }

    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > HOST_MAX_THREADS) n = HOST_MAX_THREADS;
    *threads = (int)n;
    return CLATTN_SUCCESS;
}

/* ---- scratch ------------------------------------------------------------------------------ */

/* Grows the scratch to at least shared_floats + thread_floats per thread. */
static clattn_status ensure_scratch(clattn_context *ctx, host_state *st, size_t thread_floats,
                                    size_t shared_floats)
{
    int64_t total;
    if (!clattn_mul_i64((int64_t)thread_floats, st->num_threads, &total) ||
        !clattn_add_i64(total, (int64_t)shared_floats, &total) || shared_floats > INT64_MAX / 8 ||
        (uint64_t)total > SIZE_MAX / sizeof(float))
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "host scratch of %zu floats x %d threads overflows size_t", thread_floats,
                            st->num_threads);
    if ((size_t)total <= st->scratch_floats) return CLATTN_SUCCESS;
    void *mem = NULL;
    const size_t bytes = (size_t)total * sizeof(float);
    if (clattn_memalign(&mem, 64, bytes) != 0 || mem == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host scratch: cannot allocate %zu bytes",
                            bytes);
    free(st->scratch);
    st->scratch = mem;
    st->scratch_floats = (size_t)total;
    return CLATTN_SUCCESS;
}

/* ---- SDPA: dispatch between the fused path (fused.h) and the row-by-row path (rowwise.c) ---- */

static clattn_status host_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    host_state *st = ctx->backend_data;
    host_plan *hp = clattn_calloc(1, sizeof *hp);
    if (hp == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa plan: cannot allocate %zu bytes",
                            sizeof *hp);
    clattn_status s = CLATTN_SUCCESS;
    /* The chain path on the host is the row-by-row stage files (rowwise.c); AUTO and FUSED take the fused
     * kernel wherever host_fused_supported says it serves the plan. */
    host_fused_isa isa =
        plan->p.kernel_path == CLATTN_KERNEL_PATH_CHAIN ? HOST_FUSED_OFF : host_fused_select_isa(&ctx->config);
    /* CLATTN_PRECISION_REDUCED: the AVX512_BF16 variant where the CPU has it (make_plan keeps decode float32) */
    isa = host_fused_precision_isa(&ctx->config, isa, plan->p.precision);
    const bool wide = plan->p.data_type != CLATTN_DTYPE_F32;
    if (isa != HOST_FUSED_OFF && host_fused_supported(&plan->p) &&
        host_fused_make_plan(&plan->p, st->num_threads, isa, &hp->fused_plan)) {
        if (wide && !host_fused_reads_dtype(&plan->p, &hp->fused_plan)) {
            free(hp);
            plan->stage_dtype = true; /* core stages to float32 and prepares again */
            return CLATTN_SUCCESS;
        }
        hp->fused = true;
        snprintf(plan->path, sizeof plan->path, "host-fused-%s", host_fused_isa_name(hp->fused_plan.isa));
        /* both multiples of 64 bytes */
        hp->thread_floats = hp->fused_plan.thread_bytes / sizeof(float);
        hp->shared_floats = hp->fused_plan.shared_bytes / sizeof(float);
    } else { /* the row-by-row path reads 16-bit q, k, v and writes out in place (host_ld / host_st) */
        snprintf(plan->path, sizeof plan->path, "host-rowwise");
        s = host_rowwise_plan(ctx, &plan->p, st->num_threads, hp);
    }
    /* a paged KV cache (rows through the block table, fused.h host_kv_off): the same kernels, path "<path>-paged" */
    if (s == CLATTN_SUCCESS && plan->p.paged) strncat(plan->path, "-paged", sizeof plan->path - strlen(plan->path) - 1);
    if (s == CLATTN_SUCCESS) s = ensure_scratch(ctx, st, hp->thread_floats, hp->shared_floats);
    if (s != CLATTN_SUCCESS) {
        free(hp);
        return s;
    }
    plan->backend_data = hp;
    plan->workspace_bytes = (hp->thread_floats * (size_t)st->num_threads + hp->shared_floats) * sizeof(float);
    return CLATTN_SUCCESS;
}

static void host_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    free(plan->backend_data);
    plan->backend_data = NULL;
}

static clattn_status host_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *bufs,
                                   const clattn_sync *sync)
{
    (void)sync; /* synchronous: nothing to wait for, no event to return */
    host_state *st = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    if (plan->backend_data == NULL) CLATTN_TRY(host_sdpa_prepare(ctx, plan));
    const host_plan *hp = plan->backend_data;
    CLATTN_TRY(ensure_scratch(ctx, st, hp->thread_floats, hp->shared_floats));

    if (bufs->q.host == NULL || bufs->k.host == NULL || bufs->v.host == NULL || bufs->out.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "host sdpa: q, k, v and out must be non-NULL");
    if (p->mask_kind != CLATTN_MASK_NONE && bufs->mask.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "host sdpa: mask is NULL but mask_kind is set");
    if (p->use_kv_lengths && bufs->kv_lengths.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: kv_lengths is NULL");
    if (p->want_probs && bufs->probs.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: probs is NULL");
    if (p->want_lse && bufs->lse.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: lse is NULL");
    if (p->paged && bufs->block_table.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: block_table is NULL");

    if (hp->fused) {
        const bool wide = p->data_type != CLATTN_DTYPE_F32; /* 16-bit q, k, v, out read natively */
        host_fused_args fargs = {
            .p = p,
            .fp = &hp->fused_plan,
            .scratch = (unsigned char *)st->scratch,
            .q = wide ? NULL : bufs->q.host,
            .k = wide ? NULL : bufs->k.host,
            .v = wide ? NULL : bufs->v.host,
            .mask_bool = p->mask_kind == CLATTN_MASK_BOOL ? bufs->mask.host : NULL,
            .mask_add = p->mask_kind == CLATTN_MASK_ADDITIVE ? bufs->mask.host : NULL,
            .kv_lengths = p->use_kv_lengths ? bufs->kv_lengths.host : NULL,
            .block_table = p->paged ? bufs->block_table.host : NULL,
            .out = wide ? NULL : bufs->out.host,
            .lse = p->want_lse ? bufs->lse.host : NULL,
            .q16 = wide ? bufs->q.host : NULL,
            .k16 = wide ? bufs->k.host : NULL,
            .v16 = wide ? bufs->v.host : NULL,
            .out16 = wide ? bufs->out.host : NULL,
            .simd16 = wide && hp->fused_plan.isa >= HOST_FUSED_AVX2 &&
                      (p->data_type == CLATTN_DTYPE_BF16 ? clattn_bf16_simd_available() : clattn_half_simd_available()),
        };
        host_fused_run(st->pool, &fargs);
        return CLATTN_SUCCESS;
    }

    const host_rowwise_args args = {
        .p = p,
        .hp = hp,
        .scratch = st->scratch,
        .q = bufs->q.host,
        .k = bufs->k.host,
        .v = bufs->v.host,
        .mask_bool = p->mask_kind == CLATTN_MASK_BOOL ? bufs->mask.host : NULL,
        .mask_add = p->mask_kind == CLATTN_MASK_ADDITIVE ? bufs->mask.host : NULL,
        .kv_lengths = p->use_kv_lengths ? bufs->kv_lengths.host : NULL,
        .block_table = p->paged ? bufs->block_table.host : NULL,
        .out = bufs->out.host,
        .probs = p->want_probs ? bufs->probs.host : NULL,
        .lse = p->want_lse ? bufs->lse.host : NULL,
    };
    host_rowwise_run(st->pool, &args);
    return CLATTN_SUCCESS;
}

/* ---- buffers and lifetime ----------------------------------------------------------------- */

static clattn_status host_buf_alloc(clattn_context *ctx, size_t bytes, clattn_buf *out)
{
    out->host = NULL;
    out->dev = NULL;
    void *mem = clattn_malloc(bytes > 0 ? bytes : 1);
    if (mem == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host buffer: cannot allocate %zu bytes", bytes);
    out->host = mem;
    return CLATTN_SUCCESS;
}

static void host_buf_free(clattn_context *ctx, clattn_buf *buf)
{
    if (buf == NULL) return;
    free(buf->host);
    buf->host = NULL;
    buf->dev = NULL;
}

static clattn_status host_buf_write(clattn_context *ctx, clattn_buf *dst, size_t dst_offset, const void *src,
                                    size_t bytes)
{
    if (bytes > 0) memcpy((char *)dst->host + dst_offset, src, bytes);
    return CLATTN_SUCCESS;
}

static clattn_status host_buf_read(clattn_context *ctx, const clattn_buf *src, size_t src_offset, void *dst,
                                   size_t bytes)
{
    if (bytes > 0) memcpy(dst, (const char *)src->host + src_offset, bytes);
    return CLATTN_SUCCESS;
}

static clattn_status host_finish(clattn_context *ctx)
{
    return CLATTN_SUCCESS;
}

static void host_state_free(host_state *st)
{
    if (st == NULL) return;
    host_pool_destroy(st->pool);
    free(st->scratch);
    free(st);
}

static void host_destroy(clattn_context *ctx)
{
    host_state_free(ctx->backend_data);
    ctx->backend_data = NULL;
}

/* ---- fp16 / bf16 staging (the convert_view slot; common/fp16.c with F16C / AVX2 where the fused kernels use
 * SIMD) ---- */

static clattn_status host_convert_view(clattn_context *ctx, clattn_dtype dtype, bool to_16, const clattn_tensor *view,
                                       const clattn_buf *h16, const clattn_buf *f32, int64_t f32_off,
                                       const clattn_sync *sync)
{
    (void)sync;
    if (view == NULL) return CLATTN_SUCCESS; /* nothing to build */
    /* host_isa also picks the conversion: F16C / AVX2 only where the AVX2 (or wider) kernels may run. */
    const bool bf16 = dtype == CLATTN_DTYPE_BF16;
    const bool simd = host_fused_select_isa(&ctx->config) >= HOST_FUSED_AVX2 &&
                      (bf16 ? clattn_bf16_simd_available() : clattn_half_simd_available());
    float *f = (float *)f32->host + f32_off;
    if (to_16 && bf16)
        clattn_f32_to_bf16_view(f, h16->host, view->dims, view->strides, view->offset, simd);
    else if (to_16)
        clattn_f32_to_half_view(f, h16->host, view->dims, view->strides, view->offset, simd);
    else if (bf16)
        clattn_bf16_view_to_f32(h16->host, view->dims, view->strides, view->offset, f, simd);
    else
        clattn_half_view_to_f32(h16->host, view->dims, view->strides, view->offset, f, simd);
    return CLATTN_SUCCESS;
}

static const clattn_backend_i host_backend = {
    .name = "host",
    .host_memory = true,
    .native_dtypes = true, /* the fused and decode kernels read fp16 / bf16 (host_fused_reads_dtype) */
    .destroy = host_destroy,
    .sdpa_prepare = host_sdpa_prepare,
    .sdpa_release = host_sdpa_release,
    .sdpa_run = host_sdpa_run,
    .buf_alloc = host_buf_alloc,
    .buf_free = host_buf_free,
    .buf_write = host_buf_write,
    .buf_read = host_buf_read,
    .linear = host_linear,
    .finish = host_finish,
    .convert_view = host_convert_view,
    .channel_run = host_channel_run,
    .channel_path = "host-channel",
    .additive_run = host_additive_run,
    .additive_path = "host-additive",
    .global_local_run = host_global_local_run,
    .global_local_path = "host-global-local",
    .merge_prepare = host_merge_prepare,
    .merge_run = host_merge_run,
    .kv_append_prepare = host_kv_append_prepare,
    .kv_append_run = host_kv_append_run,
};

void clattn_host_describe(clattn_device_info *info, int num_threads)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->backend = CLATTN_BACKEND_HOST;
    copy_str(info->platform_name, sizeof info->platform_name, "host");
    copy_str(info->device_name, sizeof info->device_name, "host CPU");
    read_cpuinfo(info->device_name, sizeof info->device_name, info->vendor, sizeof info->vendor);
    copy_str(info->driver_version, sizeof info->driver_version, clattn_version_string());
    info->opencl_c_version[0] = '\0';
    info->num_threads = num_threads;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->global_mem_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->type = CLATTN_DEVICE_TYPE_CPU;
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    info->compute_units = cpus > 0 ? (uint32_t)cpus : 1;
    info->flags = CLATTN_DEVICE_FLAG_AVAILABLE;
    copy_str(info->selector, sizeof info->selector, "host");
}

clattn_status clattn_host_backend_open(clattn_context *ctx, int num_threads)
{
    if (num_threads < 1 || num_threads > HOST_MAX_THREADS)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "num_threads: %d is not in 1..%d",
                            num_threads, HOST_MAX_THREADS);
    CLATTN_TRY(host_fused_check_isa(ctx));
    host_state *st = clattn_calloc(1, sizeof *st);
    if (st == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host backend: cannot allocate %zu bytes",
                            sizeof *st);
    st->num_threads = num_threads;
    const int err = host_pool_create(&st->pool, num_threads);
    if (err != 0) {
        host_state_free(st);
        const clattn_status s =
            err == ENOMEM || err == EAGAIN ? CLATTN_ERROR_OUT_OF_MEMORY : CLATTN_ERROR_INTERNAL;
        return clattn_error(ctx, s, "host backend: cannot start %d threads: %s", num_threads - 1,
                            strerror(err));
    }

    clattn_host_describe(&ctx->info, num_threads);
    ctx->backend_data = st;
    ctx->be = &host_backend;
    return CLATTN_SUCCESS;
}
