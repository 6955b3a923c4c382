/*
 * The backend interface: what core (context.c, sdpa.c, mha.c) asks of a backend, and the context and
 * plan objects both sides share. Backends (src/host/, src/opencl/) include this header; core never
 * includes theirs. Core reaches a backend only through the clattn_backend_i table a context holds and
 * through the entry points declared at the end, which each backend defines. Not installed.
 *
 * Device memory and device events are opaque here (void *): the OpenCL backend stores cl_mem and
 * cl_event values in them, so core needs no OpenCL header.
 */
#ifndef CLATTN_CORE_BACKEND_H
#define CLATTN_CORE_BACKEND_H

#include "config.h"
#include "internal.h"

/* ---- buffers ------------------------------------------------------------------------------ */

/* A backend buffer: a host pointer where the backend works in host memory (host_memory below), else an
 * opaque device handle (a cl_mem on OpenCL). Byte offsets are passed separately to the functions that
 * take buffers. An unused buffer is {NULL, NULL}. */
typedef struct clattn_buf {
    void *host;
    void *dev;
} clattn_buf;

/* Buffers bound to one execution. Unused ones are {NULL, NULL}. */
typedef struct clattn_sdpa_bufs {
    clattn_buf q, k, v, mask, kv_lengths, out, probs;
    clattn_buf lse;         /* float32, through p->lse (want_lse) */
    clattn_buf block_table; /* int32 [B, max_blocks] (p->paged) */
} clattn_sdpa_bufs;

/* Buffers of one merge execution (lse unused unless want_lse). */
typedef struct clattn_merge_bufs {
    clattn_buf parts_out, parts_lse, out, lse;
} clattn_merge_bufs;

/* Ordering of one asynchronous backend call against other device work: wait for the num_wait events of
 * wait_list (an array of the backend's event handles: cl_event on OpenCL) first; when event is non-NULL,
 * store there an event (a new reference the caller releases) that completes when the call's work is
 * done. Backends that run synchronously need none of it. */
typedef struct clattn_sync {
    uint32_t num_wait;
    const void *wait_list; /* const cl_event * on OpenCL */
    void *event;           /* cl_event * on OpenCL, or NULL */
} clattn_sync;

#define CLATTN_SYNC_NONE ((clattn_sync){0, NULL, NULL})

/* ---- plans ----------------------------------------------------------------------------------- */

struct clattn_sdpa_plan {
    clattn_context *ctx;
    clattn_sdpa_problem p;
    size_t workspace_bytes; /* set by the backend's sdpa_prepare */
    char path[48];          /* kernel path chosen, e.g. "chain", "fused", "host-fused-avx512"; set by
                               sdpa_prepare (core presets the backend's name) */
    void *backend_data;     /* owned by the backend; released by sdpa_release */
    void *f16;              /* sdpa.c: 16-bit staging of a CLATTN_DTYPE_F16 / _BF16 plan (then p is the staged
                               float32 problem the backend runs); NULL for float32 plans and for 16-bit plans
                               the backend reads natively (p.data_type 16-bit) */
    bool stage_dtype;       /* set by a native_dtypes backend's sdpa_prepare for a 16-bit p it does not read
                               itself on the path it would take (it then leaves backend_data NULL): core stages
                               p to float32 and calls sdpa_prepare again */
    const clattn_sdpa_desc *desc; /* the caller's descriptor (over the defaults), during sdpa_prepare only;
                                     NULL otherwise */
};

/* Runs a plan on buffers bound in the caller's data type (fp16 plans: the binary16 buffers; core stages
 * them through the backend's convert_view). The one way an execution reaches a backend: used by
 * clattn_sdpa_execute() in core and by clattn_sdpa_enqueue() in src/opencl/interop.c. Checks nothing
 * about the buffers; the caller has. */
clattn_status clattn_sdpa_run_bound(clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b, const clattn_sync *sync);

/* The problem clattn_sdpa_plan_create() hands the backend for desc (validated the same way, with the same
 * messages), without making a plan: for listings of what a plan would build (clattn_kernel_plan_create).
 * native: the caller's views and data_type (what a native_dtypes backend's sdpa_prepare sees first;
 * *staged = CLATTN_DTYPE_F32); else, for a float16 / bfloat16 desc, the staged float32 views with
 * *staged = that data type (what it sees after asking for staging), and *staged = F32 for float32 descs. */
clattn_status clattn_sdpa_problem_make(clattn_context *ctx, const clattn_sdpa_desc *desc, clattn_sdpa_problem *p,
                                       bool native, clattn_dtype *staged);

/* Checks that exactly the buffers the plan needs are given (names the function fn in the message). */
clattn_status clattn_sdpa_check_bindings(clattn_context *ctx, const clattn_sdpa_problem *p, const char *fn,
                                         const void *q, const void *k, const void *v, const void *mask,
                                         const void *kv_lengths, const void *out, const void *probs,
                                         const void *lse, const void *block_table);

/* Elements the caller's q, k, v and out views reach, in the caller's data type (16-bit plans: halfs). */
typedef struct clattn_sdpa_extents {
    int64_t q, k, v, out;
    size_t elem_size; /* 2 (binary16, bfloat16) or 4 (float32) */
} clattn_sdpa_extents;
clattn_sdpa_extents clattn_sdpa_caller_extents(const clattn_sdpa_plan *plan);

struct clattn_merge_plan {
    clattn_context *ctx;
    clattn_merge_problem p;
    void *backend_data; /* owned by the backend; released by merge_release */
};

/* Checks that exactly the buffers the merge plan needs are given (names fn in the message). */
clattn_status clattn_merge_check_bindings(clattn_context *ctx, const clattn_merge_problem *p, const char *fn,
                                          const void *parts_out, const void *parts_lse, const void *out,
                                          const void *lse);

/* ---- backend interface ---------------------------------------------------------------------- */

struct clattn_channel_problem; /* core/channel.h */
struct clattn_channel_bufs;
struct clattn_additive_problem; /* core/additive.h */
struct clattn_additive_bufs;
struct clattn_global_local_problem; /* core/global_local.h */
struct clattn_global_local_bufs;
struct clattn_kv_append_plan; /* core/kv_cache.h */
struct clattn_kv_append_bufs;

typedef struct clattn_backend_i {
    /* Short name: "host" or "opencl". */
    const char *name;
    /* True when buffers are host memory (clattn_buf.host): core then wraps the caller's host pointers
     * instead of copying them into backend buffers. */
    bool host_memory;
    /* True when the backend takes every data_type as given (core does no fp16 staging; the multi-device
     * layer, whose members stage their own). */
    bool stages_dtypes;
    /* True when sdpa_prepare accepts 16-bit problems (p.data_type F16 / BF16) and either prepares a path that
     * reads and writes them itself (no core staging, no float32 copies in the workspace) or sets
     * plan->stage_dtype. False: core always stages 16-bit plans to float32 before sdpa_prepare. */
    bool native_dtypes;
    /* Releases ctx->backend_data. */
    void (*destroy)(clattn_context *ctx);
    /* Prepares a plan for plan->p: builds kernels, picks tile sizes, sets plan->workspace_bytes,
     * plan->path and plan->backend_data. (optional) */
    clattn_status (*sdpa_prepare)(clattn_context *ctx, clattn_sdpa_plan *plan);
    /* Releases plan->backend_data. (optional) */
    void (*sdpa_release)(clattn_context *ctx, clattn_sdpa_plan *plan);
    /* Runs the plan on bound buffers, ordered by sync (see clattn_sync). */
    clattn_status (*sdpa_run)(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b,
                              const clattn_sync *sync);
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
    /* 16-bit <-> float32 staging of one 4-D view of the 16-bit buffer (dims, strides, offset in ELEMENTS;
     * size-1 dims have stride 0), for CLATTN_DTYPE_F16 / CLATTN_DTYPE_BF16 SDPA plans (sdpa.c) in dtype
     * (binary16 or bfloat16); g = C-order index over the view's dims:
     *   to_16 false: f32[f32_off + g] = h16[view element g]                       (exact)
     *   to_16 true:  h16[view element g] = round-to-nearest-even(f32[f32_off + g]) (nothing else written)
     * Ordered by sync. view NULL: only builds what the conversion of dtype needs (at plan creation).
     * (optional: NULL on a native_dtypes backend whose plans never set stage_dtype, as OpenCL's; core answers
     * a staging it cannot do with CLATTN_ERROR_UNSUPPORTED) */
    clattn_status (*convert_view)(clattn_context *ctx, clattn_dtype dtype, bool to_16, const clattn_tensor *view,
                                  const clattn_buf *h16, const clattn_buf *f32, int64_t f32_off,
                                  const clattn_sync *sync);
    /* Channel attention (core/channel.h): pools, MLP, sigmoid, rescale of one validated problem on bound
     * buffers, synchronously. (optional: channel plans are UNSUPPORTED on a backend without it) */
    clattn_status (*channel_run)(clattn_context *ctx, const struct clattn_channel_problem *p,
                                 const struct clattn_channel_bufs *b);
    /* The path name channel plans report on this backend ("channel", "host-channel"). */
    const char *channel_path;
    /* Additive attention (core/additive.h): projections, scores, masked softmax, P·V of one validated problem
     * on bound buffers, synchronously. (optional: additive plans are UNSUPPORTED on a backend without it) */
    clattn_status (*additive_run)(clattn_context *ctx, const struct clattn_additive_problem *p,
                                  const struct clattn_additive_bufs *b);
    /* The path name additive plans report ("additive", "host-additive"). */
    const char *additive_path;
    /* Global-local attention (core/global_local.h): local rows (window + global keys) and global rows (every key)
     * of one validated problem on bound buffers, synchronously. (optional: UNSUPPORTED without it) */
    clattn_status (*global_local_run)(clattn_context *ctx, const struct clattn_global_local_problem *p,
                                      const struct clattn_global_local_bufs *b);
    /* The path name global-local plans report ("global-local", "host-global-local"). */
    const char *global_local_path;
    /* Prepares a merge plan for plan->p (core/merge.c; clattn_merge_problem in internal.h): builds what it
     * needs, sets plan->backend_data. (optional: NULL answers CLATTN_ERROR_UNSUPPORTED) */
    clattn_status (*merge_prepare)(clattn_context *ctx, clattn_merge_plan *plan);
    /* Releases plan->backend_data of a merge plan. (optional) */
    void (*merge_release)(clattn_context *ctx, clattn_merge_plan *plan);
    /* Merges the P partial states of bound buffers into out (and lse), ordered by sync. out may alias one
     * part's slice exactly (in place): a row's inputs are all read before its outputs are written. */
    clattn_status (*merge_run)(clattn_context *ctx, clattn_merge_plan *plan, const clattn_merge_bufs *b,
                               const clattn_sync *sync);
    /* Paged KV cache append (core/kv_cache.h): prepares plan->p (builds kernels, sets plan->backend_data).
     * (optional: NULL answers CLATTN_ERROR_UNSUPPORTED naming the backend) */
    clattn_status (*kv_append_prepare)(clattn_context *ctx, struct clattn_kv_append_plan *plan);
    /* Releases plan->backend_data of an append plan. (optional) */
    void (*kv_append_release)(clattn_context *ctx, struct clattn_kv_append_plan *plan);
    /* Writes the new rows of bound buffers into the pools, ordered by sync. Host-bound positions and tables
     * were validated by core; device-bound ones were not (rows that land out of range are skipped). */
    clattn_status (*kv_append_run)(clattn_context *ctx, struct clattn_kv_append_plan *plan,
                                   const struct clattn_kv_append_bufs *b, const clattn_sync *sync);
} clattn_backend_i;

struct clattn_context {
    const clattn_backend_i *be;
    clattn_config config; /* resolved at creation (config.h); backends read it instead of the environment */
    clattn_device_info info;
    void *backend_data; /* owned by the backend */
    char last_error[CLATTN_ERRMSG_MAX];
};

/* ---- contexts (core/context.c), for backends that create contexts of their own ---------------- */

/* Allocates an empty context (no backend yet) with its configuration resolved from opts (NULL: defaults)
 * and the environment; message for fn on failure (INVALID_ARGUMENT for a setting that does not parse,
 * OUT_OF_MEMORY). */
clattn_status clattn_context_alloc(clattn_context **out, const char *fn, const clattn_context_options *opts);
/* Gives up on a half-built context: moves its message to the thread slot, lets its backend (if any)
 * release what it holds, frees it; returns st. */
clattn_status clattn_context_abandon(clattn_context *ctx, clattn_status st);

/* ---- backend entry points (each backend defines its own; only core/context.c calls them) ------- */

/* Host path with num_threads workers (>= 1): fills ctx->be, ctx->info, ctx->backend_data. */
clattn_status clattn_host_backend_open(clattn_context *ctx, int num_threads);

/* Thread count for the host path: requested > 0, else CLATTN_THREADS, else online CPUs. */
clattn_status clattn_host_resolve_threads(clattn_context *ctx, int requested, int *threads);

/* Resolves a CLATTN_DEVICE-style selector (NULL or "" = default rule) and, when it names an OpenCL device,
 * opens the OpenCL backend on it (fills ctx->be, ctx->info, ctx->backend_data). Sets *use_host instead,
 * opening nothing, for the selector "host" and for the default rule on a machine with no OpenCL device or
 * no ICD. Errors: INVALID_ARGUMENT (malformed selector), DEVICE_NOT_FOUND (message lists every platform and
 * device), OPENCL, OUT_OF_MEMORY. */
clattn_status clattn_opencl_backend_open(clattn_context *ctx, const char *selector, bool *use_host);

/* ---- device enumeration (core/devices.c; each backend describes its own devices) ------------------ */

/* Enumerates the OpenCL devices (platform, then device order; *count of them, 0 without an ICD) and, when
 * info is non-NULL and index < *count, describes device `index` into info (the library's layout, every
 * field; selector "<platform>::<device>"). *has_default: whether the default selector rule picks an OpenCL
 * device (else the host path is the default). Errors (OPENCL, OUT_OF_MEMORY) go to the thread slot. */
clattn_status clattn_opencl_device_describe(size_t index, clattn_device_info *info, size_t *count, bool *has_default);

/* Describes the host path with num_threads workers into info (the library's layout, every field). */
void clattn_host_describe(clattn_device_info *info, int num_threads);

/* ---- kernel tables (each backend defines its own; only core/kernels.c reads them) ------------------ */

/* The kernels each backend can run (see clattn_kernel_entry in clattn.h): one row per OpenCL __kernel
 * (src/opencl/kernel_table.c) and per host stage or kernel function (src/host/kernel_table.c). */
extern const clattn_kernel_entry clattn_opencl_kernels[];
extern const size_t clattn_opencl_kernel_count;
extern const clattn_kernel_entry clattn_host_kernels[];
extern const size_t clattn_host_kernel_count;

/* A row of those tables: struct_size is the library's sizeof (the "## ABI" rule for read-only structs). */
#define CLATTN_KERNEL_ROW(backend, paths, stage, source, entry, description) \
    {sizeof(clattn_kernel_entry), backend, paths, stage, source, entry, description}

#endif /* CLATTN_CORE_BACKEND_H */
