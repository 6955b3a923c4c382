/*
 * Internals of the OpenCL backend: device.c (selector parsing, device choice), backend.c (context,
 * buffers, fp16 staging, dispatch), planner.c (which kernels, tiles and cuts a plan takes), chain.c and
 * fused.c (the two SDPA paths), launch.h/.c (launch helpers they share), rules.c (the table of device
 * rules), profiles.c (GPU-shaped device profiles), program.c (kernel sources, builds, program cache) and
 * gemm.c (nn.Linear through CLBlast). Not installed.
 */
#ifndef CLATTN_CL_INTERNAL_H
#define CLATTN_CL_INTERNAL_H

#include "backend.h"

#include <CL/cl.h>
#include <pthread.h>

/* Text for an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "unknown OpenCL error". */
const char *clattn_cl_error_string(cl_int err);

/* ---- embedded kernel sources (generated at build time from kernels/\*.cl) ------------------ */

typedef struct clattn_kernel_source {
    const char *name; /* file name, e.g. "softmax.cl" */
    const char *text;
} clattn_kernel_source;

extern const clattn_kernel_source clattn_kernel_sources[];
extern const size_t clattn_kernel_source_count;


/* ---- error macros ------------------------------------------------------------------------------
 * Both expect, in the calling function, `clattn_context *ctx`, `clattn_status st` and a `cleanup:`
 * label that copes with half-built objects.
 *
 *   CLATTN_CL_CHECK(clFinish(queue));                                  // calls returning cl_int
 *   CLATTN_CL_CREATE(mem, clCreateBuffer, context, flags, bytes, NULL); // calls with errcode_ret last
 *
 * On failure they record "<function> failed: <CL_NAME> (<code>)" on ctx and jump to cleanup.
 */
#define CLATTN_CL_CHECK(call)                                                                  \
    do {                                                                                       \
        cl_int cl_err_ = (call);                                                               \
        if (cl_err_ != CL_SUCCESS) {                                                           \
            st = clattn_cl_fail(ctx, cl_err_, #call);                                          \
            goto cleanup;                                                                      \
        }                                                                                      \
    } while (0)

#define CLATTN_CL_CREATE(lhs, fn, ...)                                                         \
    do {                                                                                       \
        cl_int cl_err_ = CL_SUCCESS;                                                           \
        (lhs) = fn(__VA_ARGS__, &cl_err_);                                                     \
        if (cl_err_ != CL_SUCCESS) {                                                           \
            st = clattn_cl_fail(ctx, cl_err_, #fn);                                            \
            goto cleanup;                                                                      \
        }                                                                                      \
    } while (0)

/* Propagate a clattn_status to the cleanup label. */
#define CLATTN_GOTO_IF(expr)                                                                   \
    do {                                                                                       \
        st = (expr);                                                                           \
        if (st != CLATTN_SUCCESS) goto cleanup;                                                \
    } while (0)

/* Records "<call name> failed: <CL_NAME> (<code>)" on ctx. Returns CLATTN_ERROR_OUT_OF_MEMORY for
 * allocation failures (CL_OUT_OF_HOST_MEMORY, CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_INVALID_BUFFER_SIZE)
 * and CLATTN_ERROR_OPENCL for everything else. `what` may be the call's text; only the part before
 * the first '(' is printed. */
clattn_status clattn_cl_fail(clattn_context *ctx, cl_int err, const char *what);

/* ---- device selector (device.c) -----------------------------------------------------------------
 * CLATTN_DEVICE grammar: "" | "host" | <platform>[:<type>[:<device>]], each field optional (empty).
 * platform: empty = any; all digits = index into clGetPlatformIDs order (device-less platforms count);
 *           else a case-insensitive substring of CL_PLATFORM_NAME or CL_PLATFORM_VENDOR.
 * type:     empty or "all" = any; "gpu", "cpu", "accelerator" (case-insensitive).
 * device:   empty = the first; all digits = index among the devices that pass the platform and type
 *           filters, counted over all matching platforms in enumeration order; else a case-insensitive
 *           substring of CL_DEVICE_NAME (the first such device wins). */

#define CLATTN_SELECTOR_TEXT_MAX 256

typedef enum clattn_selector_field_kind {
    CLATTN_SEL_ANY = 0,   /* empty field */
    CLATTN_SEL_INDEX = 1, /* all digits */
    CLATTN_SEL_NAME = 2   /* substring, case-insensitive */
} clattn_selector_field_kind;

typedef struct clattn_selector_field {
    clattn_selector_field_kind kind;
    uint64_t index;                      /* CLATTN_SEL_INDEX (saturates at UINT64_MAX) */
    char text[CLATTN_SELECTOR_TEXT_MAX]; /* CLATTN_SEL_NAME, trimmed */
} clattn_selector_field;

typedef struct clattn_selector {
    bool is_default;              /* NULL, "" or only spaces: first GPU, else first CPU, else host */
    bool is_host;                 /* "host" */
    clattn_selector_field platform;
    cl_device_type type;          /* CL_DEVICE_TYPE_ALL when empty or "all" */
    clattn_selector_field device;
} clattn_selector;

/* Pure parsing, no OpenCL calls. Returns CLATTN_SUCCESS or CLATTN_ERROR_INVALID_ARGUMENT (message on
 * ctx, which may be NULL, naming the field). Leading/trailing spaces of each field are ignored. */
clattn_status clattn_selector_parse(clattn_context *ctx, const char *text, clattn_selector *sel);

/* ---- opening the backend (device.c, backend.c; the public entry points are in interop.c) ---------- */

/* Resolves a CLATTN_DEVICE-style selector (NULL or "" = default rule). On success either *use_host is true
 * (selector "host", or default rule with no OpenCL device or no ICD), or *device is the chosen device.
 * Errors: INVALID_ARGUMENT for a malformed selector, DEVICE_NOT_FOUND (message lists every platform and
 * device), OPENCL. Messages go to ctx (may be NULL). */
clattn_status clattn_device_select(clattn_context *ctx, const char *selector, bool *use_host,
                                   cl_device_id *device);

/* Opens the backend on (context, device, queue): fills ctx->be, ctx->info, ctx->backend_data. When queue is
 * NULL, clattn creates the context and an in-order queue itself for device (context must be NULL then);
 * otherwise it retains the caller's three objects. */
clattn_status clattn_cl_backend_create(clattn_context *ctx, cl_context context, cl_device_id device,
                                       cl_command_queue queue);

/* ---- backend state ------------------------------------------------------------------------------ */

typedef struct clattn_cl_program_entry {
    struct clattn_cl_program_entry *next;
    char *key; /* "<source>+<source>|<options>" */
    cl_program program;
} clattn_cl_program_entry;

/* ---- device rules (rules.c) --------------------------------------------------------------------
 * What a driver or device kind needs or is fastest with, resolved once when the backend opens (the
 * first row of rules.c's table that matches the device). Kernel code paths read these values; none
 * tests a device or platform name itself. */
typedef struct clattn_cl_rules {
    const char *row;          /* the matching row's name, e.g. "rusticl", "pocl-cpu", "gpu" */
    /* Loop iterations one work-item may run in one launch, summed over its loops. */
    int64_t chain_loop_budget; /* chain.c: long key / head-dim ranges are split into launches */
    int64_t fused_loop_budget; /* fused.c: keys are split into partitions; 0 = no limit */
    /* The kernel chain (chain.c). */
    int tile_vw;              /* widest vector of scores.cl / weighted_sum.cl tiles */
    int softmax_vw;           /* vector width of softmax.cl */
    bool softmax_row_group;   /* one work-group per row (clattn_softmax) rather than one work-item */
    /* The fused path (fused.c). */
    int fused_vmax;           /* vector width over keys and Dv */
    bool fused_multi_row;     /* several rows per work-item, and the direct decode kernel */
    int fused_wg;             /* preferred work-group size */
    int fused_tk;             /* keys per staged tile */
    int fused_tk_direct;      /* keys per tile of the direct decode kernel (DEC); 0 = fused_tk */
    bool sw_prefetch;         /* software prefetch in the direct decode kernel (fused.cl SW_PREFETCH) */
    bool fused_gpu;           /* the GPU fused/decode kernels (fused_gpu.cl) instead of fused.cl */
    /* Programs (program.c, cache.c). */
    bool binary_cache;        /* clattn's on-disk program-binary cache (CLATTN_CACHE_FORCE=1 overrides) */
} clattn_cl_rules;

/* The rules of the device named platform_name / device_name of type `type` (never fails: the last row
 * matches every device). */
clattn_cl_rules clattn_cl_rules_resolve(const char *platform_name, const char *device_name, cl_device_type type);

/* ---- device profiles (profiles.c) ---------------------------------------------------------------
 * What the planner reads of a device, for a device class it cannot query (a GPU on a machine without
 * one): the OpenCL backend under CLATTN_DEVICE_PROFILE=<name> (test only: plans as on that device,
 * kernels run on the real one), and plan reports from a profile alone, with no cl_device_id. */
typedef struct clattn_cl_profile {
    const char *name;          /* "gpu-amd", "gpu-small" */
    const char *what;          /* one line for listings */
    const char *platform_name; /* CL_PLATFORM_NAME-like; with device_name and type chooses the rules row */
    const char *device_name;   /* CL_DEVICE_NAME-like */
    const char *vendor;        /* CL_DEVICE_VENDOR-like */
    cl_device_type type;       /* CL_DEVICE_TYPE */
    size_t max_wg;             /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_wi_sizes[3];    /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    cl_ulong local_mem;        /* CL_DEVICE_LOCAL_MEM_SIZE (bytes) */
    cl_uint compute_units;     /* CL_DEVICE_MAX_COMPUTE_UNITS */
    cl_ulong max_alloc;        /* CL_DEVICE_MAX_MEM_ALLOC_SIZE (bytes) */
    cl_ulong global_mem;       /* CL_DEVICE_GLOBAL_MEM_SIZE (bytes) */
    bool fma;                  /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG */
    const char *extensions;    /* CL_DEVICE_EXTENSIONS-like, space-separated */
} clattn_cl_profile;

/* The profile named `name` (case-insensitive), or NULL. Needs no OpenCL device or context. */
const clattn_cl_profile *clattn_cl_profile_find(const char *name);
/* Profiles in table order: count, and the i-th (NULL past the end). */
size_t clattn_cl_profile_count(void);
const clattn_cl_profile *clattn_cl_profile_at(size_t i);
/* "gpu-amd, gpu-small" into buf (for messages); returns buf. */
const char *clattn_cl_profile_names(char *buf, size_t cap);

struct clattn_cl_state;
/* Makes cl plan as on the profile's device: type, FMA, compute units, the rules row (resolved from the
 * profile's names and type) and the limits. on_device: cl holds a real device's limits and runs the
 * kernels there, so each limit running needs (work-group and work-item sizes, local memory, allocation
 * and global memory) becomes the smaller of the two and the real row's loop budget and binary-cache
 * rules are kept; otherwise every value is the profile's (a plan report without a device). */
void clattn_cl_profile_apply(const clattn_cl_profile *pr, struct clattn_cl_state *cl, bool on_device);

/* ctx->backend_data of an OpenCL context. */
typedef struct clattn_cl_state {
    cl_platform_id platform;
    cl_context context;
    cl_device_id device;
    cl_command_queue queue;
    cl_device_type type;
    size_t max_wg;            /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_wi_sizes[3];   /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    cl_ulong local_mem;       /* CL_DEVICE_LOCAL_MEM_SIZE (bytes) */
    cl_ulong max_alloc;       /* CL_DEVICE_MAX_MEM_ALLOC_SIZE (bytes) */
    cl_ulong global_mem;      /* CL_DEVICE_GLOBAL_MEM_SIZE (bytes) */
    cl_uint compute_units;    /* CL_DEVICE_MAX_COMPUTE_UNITS */
    bool fma;                 /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG (hardware fma) */
    const clattn_cl_profile *profile; /* CLATTN_DEVICE_PROFILE's profile, or NULL: the fields above (from
                                       * type on) and rules are then the profile's (profiles.c) */
    clattn_cl_rules rules;    /* resolved from rules.c's table when the backend opens */
    clattn_cl_program_entry *programs; /* cache, owned */
    cl_kernel bias_kernel;    /* bias.cl, built on the first linear() with a bias */
} clattn_cl_state;

/* Reads what clattn needs of `device` into cl (platform, type, limits, compute units, FMA and the rules
 * row its names choose) and into info (every field of the library's layout but selector; no profile
 * applied). Errors: OPENCL (a limit or name query failed), OUT_OF_MEMORY; messages on ctx (may be NULL).
 * device.c; used when the backend opens and by the device enumeration and kernel plans. */
clattn_status clattn_cl_device_query(clattn_context *ctx, cl_device_id device, clattn_cl_state *cl,
                                     clattn_device_info *info);

/* The public clattn_device_type of an OpenCL device type (GPU before CPU before accelerator). device.c. */
clattn_device_type clattn_cl_public_type(cl_device_type t);

/* Applies ctx's CLATTN_DEVICE_PROFILE (if set) to cl as for a real device (clattn_cl_profile_apply with
 * on_device) and logs it; INVALID_ARGUMENT, listing the profiles, for an unknown name. device.c. */
clattn_status clattn_cl_profile_configured(clattn_context *ctx, clattn_cl_state *cl, const char *real_device);

/* ---- programs (program.c) ---------------------------------------------------------------------- */

/* Every program is CLATTN_CL_COMMON_SOURCE followed by one kernel source, built with
 * CLATTN_CL_BASE_OPTIONS followed by the kernel's -D options (also what clattn_kernel_plan_create reports). */
#define CLATTN_CL_COMMON_SOURCE "common.cl"
#define CLATTN_CL_BASE_OPTIONS "-cl-std=CL1.2"

/* Returns (in *program, NOT retained: the cache owns it) the program built from common.cl followed by
 * `source` (e.g. "scores.cl") with `options` (the -D list; "-cl-std=CL1.2" is added). Sources come from
 * clattn_kernel_sources[] or, when the environment variable CLATTN_KERNEL_DIR is set, from files in that
 * folder. Errors: CLATTN_ERROR_IO (file missing), CLATTN_ERROR_KERNEL_BUILD (options and build log in the
 * message), CLATTN_ERROR_OPENCL, CLATTN_ERROR_OUT_OF_MEMORY. */
clattn_status clattn_cl_program_get(clattn_context *ctx, clattn_cl_state *cl, const char *source,
                                    const char *options, cl_program *program);

/* Creates kernel `name` of a cached program (caller releases it). */
clattn_status clattn_cl_kernel_create(clattn_context *ctx, clattn_cl_state *cl, const char *source,
                                      const char *options, const char *name, cl_kernel *kernel);

/* Releases every cached program. */
void clattn_cl_program_cache_clear(clattn_cl_state *cl);

/* ---- paged KV cache append (paged.c, kernels/paged.cl) ------------------------------------------- */

struct clattn_kv_append_plan;
struct clattn_kv_append_bufs;
/* The backend's kv_append_prepare / kv_append_release / kv_append_run slots (core/backend.h, core/kv_cache.h). */
clattn_status clattn_cl_kv_append_prepare(clattn_context *ctx, struct clattn_kv_append_plan *plan);
void clattn_cl_kv_append_release(clattn_context *ctx, struct clattn_kv_append_plan *plan);
clattn_status clattn_cl_kv_append_run(clattn_context *ctx, struct clattn_kv_append_plan *plan,
                                      const struct clattn_kv_append_bufs *b, const clattn_sync *sync);

/* ---- merge of partial attention states (merge.c, kernels/merge.cl) ----------------------------- */

/* The backend's merge_prepare / merge_release / merge_run slots (see clattn_backend_i in core/backend.h). */
clattn_status clattn_cl_merge_prepare(clattn_context *ctx, clattn_merge_plan *plan);
void clattn_cl_merge_release(clattn_context *ctx, clattn_merge_plan *plan);
clattn_status clattn_cl_merge_run(clattn_context *ctx, clattn_merge_plan *plan, const clattn_merge_bufs *b,
                                  const clattn_sync *sync);

/* ---- GEMM (gemm.c) ------------------------------------------------------------------------------ */

/* The backend's `linear` slot (see clattn_backend_i in internal.h). */
clattn_status clattn_cl_linear(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                               int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off,
                               const clattn_buf *bias, int64_t b_off, clattn_buf *y, int64_t y_off,
                               int64_t ldy);

/* One kernel argument for clattn_cl_set_args: KARG(x) passes sizeof(x) and &x. */
typedef struct clattn_karg {
    size_t size;
    const void *ptr;
} clattn_karg;
#define KARG(x) {sizeof(x), &(x)}

/* A tensor view as kernel arguments: the buffer, then its element offset and four strides as long (the
 * kernels' `global T *x, long x_off, long x_s0, ..., long x_s3`). An absent view (no mask, no probs)
 * passes a NULL buffer and zeros. KVIEW(v) expands to its six KARG entries. */
typedef struct clattn_cl_view {
    cl_mem mem;
    cl_long off, s[4];
} clattn_cl_view;
static inline clattn_cl_view clattn_cl_view_of(cl_mem mem, const clattn_tensor *t, bool present)
{
    clattn_cl_view v = {present ? mem : NULL, 0, {0, 0, 0, 0}};
    if (present) {
        v.off = t->offset;
        for (int d = 0; d < 4; d++) v.s[d] = t->strides[d];
    }
    return v;
}
#define KVIEW(v) KARG((v).mem), KARG((v).off), KARG((v).s[0]), KARG((v).s[1]), KARG((v).s[2]), KARG((v).s[3])

/* clSetKernelArg for args[0..n) of kernel k (named kname in the error message). */
clattn_status clattn_cl_set_args(clattn_context *ctx, cl_kernel k, const char *kname, const clattn_karg *args,
                                 cl_uint n);

#endif /* CLATTN_CL_INTERNAL_H */
