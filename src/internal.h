/*
 * Internal interfaces shared by the front end (status.c, context.c, sdpa.c, mha.c) and the
 * backends (host_backend.c, cl_backend.c). Not installed.
 */
#ifndef CLATTN_INTERNAL_H
#define CLATTN_INTERNAL_H

#include "clattn.h"

#include <stdarg.h>
#include <stdbool.h>

/* ---- errors ------------------------------------------------------------------------------ */

#define CLATTN_ERRMSG_MAX 8192

/* Records a formatted message on ctx (or in the thread-local slot when ctx is NULL) and returns
 * status, so callers write `return clattn_error(ctx, CLATTN_ERROR_..., "q: dim %d is %lld", ...)`. */
clattn_status clattn_error(clattn_context *ctx, clattn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Copies ctx's last message into the thread-local slot (used when a context is torn down on failure). */
void clattn_error_to_thread(const clattn_context *ctx);
/* Text for an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "unknown OpenCL error". */
const char *clattn_cl_error_string(cl_int err);

/* Propagate a non-success status. */
#define CLATTN_TRY(expr)                                                                      \
    do {                                                                                      \
        clattn_status try_status_ = (expr);                                                   \
        if (try_status_ != CLATTN_SUCCESS) return try_status_;                                \
    } while (0)

/* ---- checked size arithmetic -------------------------------------------------------------- */

/* *out = a * b; returns false on overflow or negative operands. */
static inline bool clattn_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool clattn_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Number of elements a tensor view reaches (offset + sum (dims-1)*strides + 1), 0 if any dim is 0.
 * Returns false on overflow. */
bool clattn_tensor_extent(const clattn_tensor *t, int64_t *extent);

/* ---- buffers ------------------------------------------------------------------------------ */

/* A backend buffer: a host pointer on the host backend, a cl_mem on OpenCL. Byte offsets are
 * passed separately to the functions that take buffers. */
typedef struct clattn_buf {
    void *host;
    cl_mem mem;
} clattn_buf;

/* ---- the normalised SDPA problem ------------------------------------------------------------ */

/* A validated problem. Tensors keep the caller's dims/strides/offsets (elements), except that the
 * stride of every dim of size 1 is 0, and mask dims of 1 broadcast (stride 0) over B, Hq and Lq. */
typedef struct clattn_sdpa_problem {
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
    clattn_tensor q, k, v, out, mask, probs;
    float scale;   /* resolved: never 0 */
    float softcap; /* 0 = off */
    clattn_causal causal;
    int64_t window_left, window_right; /* -1 = unbounded */
    clattn_mask_kind mask_kind;
    bool use_kv_lengths;
    bool want_probs;
    /* Element extents of each buffer (how many elements the views reach), for copies. */
    int64_t q_extent, k_extent, v_extent, out_extent, mask_extent, probs_extent;
} clattn_sdpa_problem;

/* Buffers bound to one execution. Unused ones are {NULL, NULL}. */
typedef struct clattn_sdpa_bufs {
    clattn_buf q, k, v, mask, kv_lengths, out, probs;
} clattn_sdpa_bufs;

struct clattn_sdpa_plan {
    clattn_context *ctx;
    clattn_sdpa_problem p;
    size_t workspace_bytes; /* set by the backend's sdpa_prepare */
    char path[48];          /* kernel path chosen, e.g. "chain", "fused", "host-fused-avx512"; set by
                               sdpa_prepare (the front end presets the backend's name) */
    void *backend_data;     /* owned by the backend; released by sdpa_release */
    void *f16;              /* sdpa.c: fp16 staging of a CLATTN_DTYPE_F16 plan (then p is the staged
                               float32 problem the backend runs); NULL for float32 plans */
};

/* ---- backend interface ---------------------------------------------------------------------- */

typedef struct clattn_backend_i {
    /* Short name: "host" or "opencl". */
    const char *name;
    /* Releases ctx->backend_data. */
    void (*destroy)(clattn_context *ctx);
    /* Prepares a plan for plan->p: builds kernels, picks tile sizes, sets plan->workspace_bytes and
     * plan->backend_data. (optional) */
    clattn_status (*sdpa_prepare)(clattn_context *ctx, clattn_sdpa_plan *plan);
    /* Releases plan->backend_data. (optional) */
    void (*sdpa_release)(clattn_context *ctx, clattn_sdpa_plan *plan);
    /* Runs the plan on bound buffers. On OpenCL, enqueues after wait_list and returns an event in
     * *event when event != NULL; the host backend runs synchronously and ignores the event args. */
    clattn_status (*sdpa_run)(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b,
                              cl_uint num_wait, const cl_event *wait_list, cl_event *event);
    /* Allocates bytes (> 0) of backend memory. */
    clattn_status (*buf_alloc)(clattn_context *ctx, size_t bytes, clattn_buf *out);
    /* Frees a buffer made by buf_alloc; accepts an empty buffer. */
    void (*buf_free)(clattn_context *ctx, clattn_buf *buf);
    /* Blocking copies between host memory and a buffer, at a byte offset into the buffer. */
    clattn_status (*buf_write)(clattn_context *ctx, clattn_buf *dst, size_t dst_offset, const void *src,
                               size_t bytes);
    clattn_status (*buf_read)(clattn_context *ctx, const clattn_buf *src, size_t src_offset, void *dst,
                              size_t bytes);
    /* nn.Linear on row-major data (all offsets and leading dims in ELEMENTS):
     *   y[m, n] = sum_k x[m, k] * w[n, k] + bias[n],  m < M, n < N, k < K
     *   x at x_off with row stride ldx; w at w_off, [N, K] contiguous; bias at b_off or NULL buffer;
     *   y at y_off with row stride ldy. M, N, K > 0. */
    clattn_status (*linear)(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                            int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off,
                            const clattn_buf *bias, int64_t b_off, clattn_buf *y, int64_t y_off,
                            int64_t ldy);
    /* Waits until all enqueued work is done. */
    clattn_status (*finish)(clattn_context *ctx);
    /* binary16 <-> float32 staging of one 4-D view of the fp16 buffer (dims, strides, offset in ELEMENTS;
     * size-1 dims have stride 0), for fp16 SDPA plans (sdpa.c); g = C-order index over the view's dims:
     *   to_f16 false: f32[f32_off + g] = f16[view element g]                       (exact)
     *   to_f16 true:  f16[view element g] = round-to-nearest-even(f32[f32_off + g]) (nothing else written)
     * Enqueued after wait_list; *event (if non-NULL) completes when done. view NULL: only builds what the
     * conversion needs (at plan creation). Optional: NULL on the host backend (sdpa.c converts there). */
    clattn_status (*convert_view)(clattn_context *ctx, bool to_f16, const clattn_tensor *view, const clattn_buf *f16,
                                  const clattn_buf *f32, int64_t f32_off, cl_uint num_wait, const cl_event *wait_list,
                                  cl_event *event);
} clattn_backend_i;

struct clattn_context {
    const clattn_backend_i *be;
    clattn_device_info info;
    void *backend_data;
    /* The OpenCL objects in use (NULL on the host path); owned by the backend. */
    cl_context cl_ctx;
    cl_device_id cl_device;
    cl_command_queue cl_queue;
    char last_error[CLATTN_ERRMSG_MAX];
};

/* ---- backend constructors (each fills ctx->be, ctx->info, ctx->backend_data) ---------------- */

/* Host path with num_threads workers (>= 1). */
clattn_status clattn_host_backend_create(clattn_context *ctx, int num_threads);

/* OpenCL backend on (context, device, queue). When queue is NULL, clattn creates the context and an
 * in-order queue itself for device (context must be NULL then); otherwise it retains the caller's
 * three objects. */
clattn_status clattn_cl_backend_create(clattn_context *ctx, cl_context context, cl_device_id device,
                                       cl_command_queue queue);

/* device.c: resolves a CLATTN_DEVICE-style selector (NULL or "" = default rule).
 * On success either *use_host is true (selector "host", or default rule with no OpenCL device or no
 * ICD), or *device is the chosen device. Errors: INVALID_ARGUMENT for a malformed selector,
 * DEVICE_NOT_FOUND (message lists every platform and device), OPENCL. Messages go to ctx (may be NULL). */
clattn_status clattn_device_select(clattn_context *ctx, const char *selector, bool *use_host,
                                   cl_device_id *device);

/* Thread count for the host path: requested > 0, else CLATTN_THREADS, else online CPUs. */
clattn_status clattn_resolve_threads(clattn_context *ctx, int requested, int *threads);

/* ---- embedded kernel sources (generated at build time from kernels/\*.cl) ------------------ */

typedef struct clattn_kernel_source {
    const char *name; /* file name, e.g. "softmax.cl" */
    const char *text;
} clattn_kernel_source;

extern const clattn_kernel_source clattn_kernel_sources[];
extern const size_t clattn_kernel_source_count;

#endif /* CLATTN_INTERNAL_H */
