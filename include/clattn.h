/*
 * clattn — attention on any OpenCL device, or on a POSIX-threads host path.
 *
 * The public header: host pointers, plans, multi-head attention. It needs no OpenCL headers and defines
 * nothing of OpenCL's; OpenCL interop (wrapping the caller's cl_context/queue, enqueueing on cl_mem
 * buffers) is in clattn_opencl.h. All functions return a clattn_status; details of the last failure on
 * a context are in clattn_last_error(ctx).
 *
 * Math (Vaswani et al., 2017, "Attention Is All You Need", eq. 1 and sec. 3.2.2):
 *   Attention(Q, K, V) = softmax(Q·Kᵀ·scale + mask)·V,       scale defaults to 1/sqrt(head_dim)
 *   MultiHead(Q, K, V) = Concat(head_1 .. head_h)·W_Oᵀ + b_O,  head_i = Attention(Q·W_Qiᵀ, K·W_Kiᵀ, V·W_Viᵀ)
 * Weights follow PyTorch's nn.Linear layout: W is [out_features, in_features] and y = x·Wᵀ + b.
 *
 * Threads: a clattn_context may be used by one thread at a time; use one context per thread
 * (contexts share nothing mutable). Plans and MHA modules belong to their context and follow
 * the same rule.
 * clattn_status_string(), clattn_version_string(), clattn_version_number(), clattn_kernel_count(),
 * clattn_kernel_get(), clattn_device_list_count(), clattn_device_list_get() and
 * clattn_kernel_plan_create() are thread-safe (a kernel plan itself follows the rule of plans: one thread
 * at a time).
 *
 * ## ABI
 * Every struct the caller allocates and passes in (clattn_context_options, clattn_sdpa_desc,
 * clattn_mha_weights, clattn_mha_options; after 0.2.0 also clattn_sdpa_buffers, clattn_merge_desc,
 * clattn_kv_append_desc, clattn_kv_append_buffers and, in clattn_opencl.h, clattn_sdpa_cl_buffers and
 * clattn_kv_append_cl_buffers) and the one the library fills (clattn_device_info) starts with
 * `size_t struct_size`: the sizeof of the struct as the CALLER was compiled (Win32's cbSize; Vulkan's
 * sType/size; Linux's copy_struct_from_user). One pattern for all of them, so a release can append fields
 * without breaking binaries built against an older header:
 *   - Initialise with the *_init() functions. They are static inline here and pass sizeof as the caller
 *     sees it to an exported *_init_sized(ptr, struct_size) (call that one directly from other languages),
 *     so a newer program on an older library gets struct_size = its own, larger size, not the library's.
 *   - Input structs: the library copies min(struct_size, its own sizeof) bytes over a copy holding its
 *     defaults, so fields the caller's (older) layout lacks take their defaults. struct_size below the
 *     first release's size (0.2.0, or the release that added the struct; 0 = never initialised) is
 *     CLATTN_ERROR_INVALID_ARGUMENT, and the
 *     message names the struct, the value and the init function to call. struct_size above the library's
 *     own sizeof (a newer header) is accepted only when the extra bytes are all zero (fields left at their
 *     defaults); otherwise CLATTN_ERROR_UNSUPPORTED, naming the offset of the first nonzero byte.
 *     A NULL options pointer still means "all defaults" where it did before.
 *   - Output struct (clattn_device_info): the caller sets struct_size (clattn_device_info_init()); the
 *     library writes min(struct_size, its own sizeof) bytes, zeroes any bytes beyond its own sizeof up to
 *     struct_size (so fields an older library lacks read as 0 / ""), and leaves struct_size as it was.
 *     Sizes below the first release's are CLATTN_ERROR_INVALID_ARGUMENT, as for inputs.
 *   - Any struct_size above 4096 (a page; no clattn struct will be that large) is taken for an uninitialised
 *     struct: CLATTN_ERROR_INVALID_ARGUMENT, before a byte beyond the caller's struct is read or written.
 *   - Fields are only appended, never moved, resized or removed; a new field's default is what zero
 *     bytes mean or what *_init() sets. A field that would fit in the previous layout's trailing padding
 *     is preceded by explicit padding, so every layout change changes sizeof.
 *   - clattn_tensor is a plain value type embedded in these structs; its layout (CLATTN_MAX_DIMS = 8) is
 *     fixed for a SONAME.
 *   - Library-owned read-only structs (clattn_kernel_entry, clattn_planned_kernel): the library hands out
 *     pointers to its own storage (static, or owned by a clattn_kernel_plan), and struct_size is the
 *     LIBRARY's sizeof. The same append-only rule holds; a field added later is present only when its end
 *     lies within struct_size (CLATTN_KERNEL_ENTRY_HAS(), CLATTN_PLANNED_KERNEL_HAS()), so a program built
 *     against a newer header can run on an older library without reading past the entry.
 * SONAME policy: libclattn.so.N changes only when a binary built against an older header could stop
 * working (a field moved or removed, a function removed or changed); appended fields and new functions
 * never change it. 0.2.0 is libclattn.so.1 (it introduced struct_size and N-D tensors).
 *
 * Numerical behaviour (tests/test_edges.c, every backend and kernel path, with and without probabilities):
 *   - Scores are computed in float32. Logits of about +-1e4 and +-1e30 (from the inputs, the scale, softcap or
 *     an additive mask) give finite outputs and probabilities: the row maximum is subtracted before exp().
 *     q.k is accumulated in float32 before it is scaled: if the dot product (or a partial sum of it)
 *     exceeds FLT_MAX (3.4e38) the score is +-inf (NaN for inf - inf) even when q.k * scale would be
 *     finite, and the row rules below apply; with softcap > 0 an infinite score becomes +-softcap.
 *   - Denormal inputs, scales and mask values are accepted; results may be flushed to zero (OpenCL devices
 *     may flush denormals), within the usual tolerance.
 *   - Disallowed keys (masks, kv_lengths, causal, window) get exactly zero weight and their K and V rows are
 *     never used: a masked key's V of 1e30, inf or NaN does not reach the output.
 *   - A row with no allowed key outputs zeros and zero probabilities (also when every row is masked).
 *   - NaN stays in the rows it belongs to: a NaN or +-inf in query row i, or a NaN or +inf additive mask
 *     entry of row i, makes row i's output NaN and no other row's; a NaN or inf in V of an allowed key j
 *     reaches exactly the rows allowed to attend to j. In a row whose output is NaN, the probabilities
 *     are NaN, except that a key whose weight is exactly zero (score -inf, or exp() underflow next to a +inf
 *     score) may get 0 instead.
 */
#ifndef CLATTN_H
#define CLATTN_H

#include <stddef.h>
#include <stdint.h>

#include "clattn_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kept in step with project(VERSION) in CMakeLists.txt (checked when CMake configures). */
#define CLATTN_VERSION_MAJOR 0
#define CLATTN_VERSION_MINOR 2
#define CLATTN_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH of this header (0.2.0 -> 200), for #if comparisons. */
#define CLATTN_VERSION_NUMBER (CLATTN_VERSION_MAJOR * 10000 + CLATTN_VERSION_MINOR * 100 + CLATTN_VERSION_PATCH)

/** @return "MAJOR.MINOR.PATCH" of the library actually linked. Static storage. */
CLATTN_API const char *clattn_version_string(void);

/** @return MAJOR*10000 + MINOR*100 + PATCH of the library actually linked (compare with
 *          CLATTN_VERSION_NUMBER, the header's, to detect an older or newer library at run time). */
CLATTN_API int clattn_version_number(void);

/* ------------------------------------------------------------------------------------------ */
/* Status                                                                                      */

/** Status codes. Values are pinned: they will not change between releases. */
typedef enum clattn_status {
    CLATTN_SUCCESS = 0,
    CLATTN_ERROR_INVALID_ARGUMENT = 1, /**< a NULL pointer, bad dimension, stride, option or size overflow */
    CLATTN_ERROR_UNSUPPORTED = 2,      /**< valid request this device/backend cannot do (a normal answer) */
    CLATTN_ERROR_OUT_OF_MEMORY = 3,    /**< host or device allocation failed, or the problem exceeds device limits */
    CLATTN_ERROR_DEVICE_NOT_FOUND = 4, /**< the device selector matched no device */
    CLATTN_ERROR_OPENCL = 5,           /**< an OpenCL call failed; the message names the call and its code */
    CLATTN_ERROR_KERNEL_BUILD = 6,     /**< a kernel failed to compile; the message carries the build log */
    CLATTN_ERROR_IO = 7,               /**< a file (e.g. under CLATTN_KERNEL_DIR) could not be read */
    CLATTN_ERROR_INTERNAL = 8,         /**< a bug in clattn; please report it with the message */
    CLATTN_ERROR_COMMUNICATION = 9     /**< a communication library call failed (MPI, clattn_mpi.h); the
                                            message names the call and the library's error text */
} clattn_status;

/** @return fixed English text for a status ("invalid argument", ...). Never NULL; static storage. */
CLATTN_API const char *clattn_status_string(clattn_status status);

/* ------------------------------------------------------------------------------------------ */
/* Context and device selection                                                               */

typedef struct clattn_context clattn_context;

/** Which backend a context runs on. */
typedef enum clattn_backend {
    CLATTN_BACKEND_HOST = 0,   /**< POSIX-threads CPU path */
    CLATTN_BACKEND_OPENCL = 1, /**< an OpenCL device */
    CLATTN_BACKEND_MULTI = 2   /**< several devices (a selector list, see clattn_context_options.device);
                                    clattn_context_get_device_info() describes each (added with
                                    multi-device contexts) */
} clattn_backend;

/** Options for clattn_context_create(). Initialise with clattn_context_options_init(), then set what
 *  you need (see "## ABI" above). */
/**
 * The kernel path plans take (clattn_context_options.kernel_path for a context's plans,
 * clattn_sdpa_desc.kernel_path for one plan). Values are pinned. clattn_sdpa_plan_path() reports the path
 * a plan took: OpenCL "chain", "fused" (CPU devices) or "fused-gpu" (GPU devices); host "host-rowwise" or
 * "host-fused-<isa>".
 */
typedef enum clattn_kernel_path {
    CLATTN_KERNEL_PATH_DEFAULT = 0, /**< sdpa_desc: the context's path; context options: the CLATTN_PATH
                                         environment variable ("auto", "chain", "fused"), else AUTO */
    CLATTN_KERNEL_PATH_AUTO = 1,    /**< per plan, the path clattn measured fastest for that shape and device
                                         (the fused kernel where it serves the plan, else the chain) */
    CLATTN_KERNEL_PATH_CHAIN = 2,   /**< the stage chain: scores, masked softmax, weighted sum (OpenCL "chain",
                                         host "host-rowwise"); the reference path for cross-checks */
    CLATTN_KERNEL_PATH_FUSED = 3    /**< the fused flash-style kernel (with its decode variant for few queries)
                                         wherever it can serve the plan; plans it cannot serve (attention
                                         probabilities, unusual strides on the host, head dims over 256 on
                                         OpenCL) take the chain. In 0.2.0 AUTO makes the same choice; AUTO may
                                         later choose other paths by shape and device, FUSED will not */
} clattn_kernel_path;

/** The host path's SIMD variant of the fused kernel (clattn_context_options.host_isa). Values are pinned. */
typedef enum clattn_host_isa {
    CLATTN_HOST_ISA_DEFAULT = 0,  /**< the CLATTN_HOST_ISA environment variable ("auto", "portable", "avx2",
                                       "avx512"), else AUTO */
    CLATTN_HOST_ISA_AUTO = 1,     /**< the widest the CPU runs */
    CLATTN_HOST_ISA_PORTABLE = 2, /**< plain C, any CPU */
    CLATTN_HOST_ISA_AVX2 = 3,     /**< AVX2 + FMA */
    CLATTN_HOST_ISA_AVX512 = 4    /**< AVX-512F */
} clattn_host_isa;

/** How much a context reports through its log sink (clattn_context_options.log_level). Values are pinned. */
typedef enum clattn_log_level {
    CLATTN_LOG_DEFAULT = 0, /**< the CLATTN_LOG_LEVEL environment variable ("off", "error", "info", "debug"),
                                 else OFF */
    CLATTN_LOG_OFF = 1,     /**< nothing */
    CLATTN_LOG_ERROR = 2,   /**< the message of every failed call on the context (the text clattn_last_error()
                                 returns), from the moment its log settings are read at creation: a
                                 failure before that (a bad struct_size or log_level) is only returned */
    CLATTN_LOG_INFO = 3,    /**< and the device chosen, each plan's path and workspace */
    CLATTN_LOG_DEBUG = 4    /**< and kernel builds and kernel binary cache events */
} clattn_log_level;

/**
 * Receives a context's log messages (one line, no newline, valid only during the call) from the thread
 * that made the call that logs. Must not call clattn functions on the same context.
 */
typedef void (*clattn_log_fn)(void *user, clattn_log_level level, const char *message);

typedef struct clattn_context_options {
    /** sizeof(clattn_context_options) as the caller was compiled; set by clattn_context_options_init(). */
    size_t struct_size;
    /** Device selector; NULL means "read the CLATTN_DEVICE environment variable".
     *  ""/unset: first GPU, else first CPU OpenCL device, else the host path.
     *  "host": the POSIX-threads path even when OpenCL exists.
     *  "<platform>:<type>:<device>": each field empty, an index (all digits) or a case-insensitive
     *  substring of the platform name/vendor (resp. device name); type is gpu|cpu|accelerator|all.
     *  Fewer fields are allowed ("pocl", "rusticl::", ":gpu:1", "portable:cpu:0").
     *  A comma-separated list of such selectors ("pocl,rusticl::,host", at most CLATTN_MAX_DEVICES): a
     *  multi-device context, one member context per element, each created with these options. Its SDPA
     *  plans split every call across the members: by independent units, along the batch (U = B units) when
     *  B >= n, the number of devices, else along kv-head groups (U = Hkv units: a kv head and the Hq / Hkv
     *  query heads reading it) when Hkv >= n, else along the batch when B >= Hkv, else the kv-head groups.
     *  When U < n and the problem has no causal mask, no window and no probabilities, the KEYS are split
     *  instead (U = Lk units, every member, Lk >= n): each member attends all rows to a consecutive key
     *  range with a log-sum-exp output, and clattn_merge_execute() (on the first host member, else member
     *  0) combines the ranges into out (and lse): equal to one device's result within float32 rounding,
     *  not bit-identical. Otherwise, when U < n, only the U heaviest members (ties: the earlier) take part.
     *  The members taking part, in list order, get consecutive runs of units: member i gets
     *  floor(U * w_i / sum w) units, and the units left over go one each to the members with the largest
     *  fractional parts (ties: the earlier), w being the weights below (clattn_context_device_weights()).
     *  Split by batch or heads, every member computes whole (batch, head) rows exactly as it would alone,
     *  so each output row is bit-identical to that member's single-device result. The members run
     *  concurrently (one thread each); a member's failure fails the call with its status and a message
     *  naming the member (the output is then unspecified). Supported: clattn_sdpa_plan_create,
     *  clattn_sdpa_execute(_buffers), clattn_sdpa, every SDPA option (lse included) and data type. Not
     *  supported: clattn_mha_create, clattn_sdpa_enqueue, clattn_merge_plan_create
     *  (CLATTN_ERROR_UNSUPPORTED); clattn_context_get_cl gives NULL handles. */
    const char *device;
    /** Host-path worker threads; 0 means CLATTN_THREADS, else the number of online CPUs. */
    int num_threads;
    /* ---- since 0.2.0's first layout (appended; see "## ABI") ---- */
    int reserved_0; /**< padding of the first 0.2.0 layout; ignored */
    /** Folder of the compiled-kernel binary cache (an absolute path), or "off"; NULL means the
     *  CLATTN_CACHE_DIR environment variable, else $XDG_CACHE_HOME/clattn, else ~/.cache/clattn. Copied at
     *  creation. The cache serves drivers without one of their own (see README); CLATTN_CACHE_FORCE=1 uses it
     *  on every driver. */
    const char *cache_dir;
    /** Default kernel path of the context's plans (a plan's clattn_sdpa_desc.kernel_path overrides it). */
    clattn_kernel_path kernel_path;
    /** SIMD variant of the host path's fused kernel; one the CPU lacks fails clattn_context_create() with
     *  CLATTN_ERROR_UNSUPPORTED on a host context (an OpenCL context ignores it after parsing). */
    clattn_host_isa host_isa;
    /** What the context reports through log_fn. */
    clattn_log_level log_level;
    /** Log sink; NULL means one line per message on stderr ("clattn <level>: <message>"). */
    clattn_log_fn log_fn;
    /** Passed to log_fn unchanged; the caller owns it and keeps it valid while the context lives. */
    void *log_user;
    /* ---- appended for multi-device contexts (see "## ABI") ---- */
    /** Relative speeds of a device list's members (num_device_weights = the list's length, each finite and
     *  > 0; read at creation, not retained): member i gets about weights[i] / sum(weights) of the units.
     *  NULL: the CLATTN_DEVICE_WEIGHTS environment variable ("2,1,0.5"), else a rate measured once per
     *  context at its first plan (each member runs a reference problem [1, 8, 256, 64] once untimed — on
     *  OpenCL that compiles its kernels — then three times; weight = 1 / the fastest time). Given for a
     *  single-device selector: CLATTN_ERROR_INVALID_ARGUMENT. */
    const double *device_weights;
    int num_device_weights;
    int reserved_1; /**< padding; ignored */
} clattn_context_options;

/** Sets opts->struct_size = @p struct_size and every field to its default (device NULL, num_threads 0);
 *  bytes beyond the library's sizeof, up to struct_size, are zeroed. Accepts NULL (does nothing). */
CLATTN_API void clattn_context_options_init_sized(clattn_context_options *opts, size_t struct_size);

/** Defaults for clattn_context_create() with struct_size = sizeof as compiled here. Accepts NULL. */
static inline void clattn_context_options_init(clattn_context_options *opts)
{
    clattn_context_options_init_sized(opts, sizeof *opts);
}

/**
 * Creates a context on the device chosen by opts->device (or CLATTN_DEVICE). The choice is made
 * once, here, and never changes. Platforms without devices are skipped; no OpenCL ICD at all
 * (clGetPlatformIDs returns -1001) selects the host path.
 *
 * @param[out] ctx   receives the context; set to NULL on failure.
 * @param[in]  opts  may be NULL (all defaults); else initialised by clattn_context_options_init().
 *                   Not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx NULL, opts->struct_size too small,
 *         malformed selector, bad thread count); CLATTN_ERROR_UNSUPPORTED (opts->struct_size larger than
 *         this library's and a field it lacks is nonzero); CLATTN_ERROR_DEVICE_NOT_FOUND (selector matched nothing; the message lists what
 *         exists — read it with clattn_last_error(NULL)); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 * @warning The caller owns *ctx and releases it with clattn_context_destroy().
 */
CLATTN_API clattn_status clattn_context_create(clattn_context **ctx, const clattn_context_options *opts);

/** Releases a context and everything it owns. Accepts NULL. */
CLATTN_API void clattn_context_destroy(clattn_context *ctx);

/**
 * @return the message of the last failed call on @p ctx ("" if none). With ctx == NULL, the message of
 *         the last failed clattn_context_create*() on this thread. Valid until the next call on ctx.
 */
CLATTN_API const char *clattn_last_error(const clattn_context *ctx);

/**
 * Records @p message (copied; NULL = "") as the last error of @p ctx (NULL: of this thread), as clattn's
 * own functions do, and sends it to the context's log at CLATTN_LOG_ERROR. For libraries layered on
 * clattn (libclattn_mpi, clattn_mpi.h) that report their errors through clattn_last_error().
 * @return @p status, unchanged.
 */
CLATTN_API clattn_status clattn_set_last_error(clattn_context *ctx, clattn_status status, const char *message);

/** Kind of device (clattn_device_info.type). Values are pinned. */
typedef enum clattn_device_type {
    CLATTN_DEVICE_TYPE_OTHER = 0,      /**< none of the below (or unknown: a library that predates the field) */
    CLATTN_DEVICE_TYPE_CPU = 1,        /**< CL_DEVICE_TYPE_CPU, and the host path */
    CLATTN_DEVICE_TYPE_GPU = 2,        /**< CL_DEVICE_TYPE_GPU */
    CLATTN_DEVICE_TYPE_ACCELERATOR = 3 /**< CL_DEVICE_TYPE_ACCELERATOR */
} clattn_device_type;

/** Bits of clattn_device_info.flags. Values are pinned. */
#define CLATTN_DEVICE_FLAG_AVAILABLE (1u << 0)  /**< CL_DEVICE_AVAILABLE (always set on the host path) */
#define CLATTN_DEVICE_FLAG_DEFAULT (1u << 1)    /**< the device the default rule picks (CLATTN_DEVICE unset or
                                                     ""): first GPU, else first CPU device, else the host path */
#define CLATTN_DEVICE_FLAG_FMA (1u << 2)        /**< hardware fused multiply-add (CL_FP_FMA in
                                                     CL_DEVICE_SINGLE_FP_CONFIG) */
#define CLATTN_DEVICE_FLAG_FP16 (1u << 3)       /**< cl_khr_fp16 */
#define CLATTN_DEVICE_FLAG_FP64 (1u << 4)       /**< cl_khr_fp64 */
#define CLATTN_DEVICE_FLAG_SUBGROUPS (1u << 5)  /**< cl_khr_subgroups */
#define CLATTN_DEVICE_FLAG_INTEL_SUBGROUPS (1u << 6) /**< cl_intel_subgroups */
#define CLATTN_DEVICE_FLAG_EXTENSIONS_TRUNCATED (1u << 7) /**< CL_DEVICE_EXTENSIONS did not fit in extensions[];
                                                               the flags above are read from the whole string */

/** What a context runs on, or one device of the enumeration (clattn_device_list_get()). Strings are
 *  NUL-terminated and truncated to fit. An output struct: set struct_size with clattn_device_info_init()
 *  before clattn_context_get_info() or clattn_device_list_get() (see "## ABI" above). */
typedef struct clattn_device_info {
    /** sizeof(clattn_device_info) as the caller was compiled; set by clattn_device_info_init(). */
    size_t struct_size;
    clattn_backend backend;
    char platform_name[128];    /**< OpenCL platform name; "host" on the host path */
    char device_name[128];      /**< CL_DEVICE_NAME; CPU model on the host path when known */
    char vendor[128];           /**< CL_DEVICE_VENDOR */
    char driver_version[64];    /**< CL_DRIVER_VERSION */
    char opencl_c_version[64];  /**< CL_DEVICE_OPENCL_C_VERSION; "" on the host path */
    int num_threads;            /**< host path worker threads; compute units on OpenCL */
    uint64_t global_mem_bytes;  /**< device global memory (bytes); 0 if unknown */
    uint64_t local_mem_bytes;   /**< device local memory (bytes); 0 on the host path */
    uint64_t max_work_group_size; /**< CL_DEVICE_MAX_WORK_GROUP_SIZE; 0 on the host path */
    /* ---- appended after 0.2.0's first layout (device enumeration; see "## ABI") ---- */
    /** Position of the device in the enumeration (clattn_device_list_get() order); valid when selector[]
     *  is not empty. */
    uint32_t index;
    clattn_device_type type;    /**< CPU, GPU or accelerator; the host path is CPU */
    uint32_t compute_units;     /**< CL_DEVICE_MAX_COMPUTE_UNITS; online CPUs on the host path */
    uint32_t flags;             /**< CLATTN_DEVICE_FLAG_* bits */
    uint64_t max_alloc_bytes;   /**< CL_DEVICE_MAX_MEM_ALLOC_SIZE; 0 on the host path */
    /** A CLATTN_DEVICE / clattn_context_options.device value that selects exactly this device:
     *  "<platform index>::<device index within the platform>" for OpenCL devices, "host" for the host path.
     *  "" from clattn_context_get_info() (a context does not know its place in the enumeration). */
    char selector[64];
    char platform_version[128]; /**< CL_PLATFORM_VERSION; "" on the host path */
    char extensions[2048];      /**< CL_DEVICE_EXTENSIONS, space-separated (CLATTN_DEVICE_FLAG_EXTENSIONS_TRUNCATED
                                     when cut); "" on the host path */
} clattn_device_info;

/** Zeroes @p info and sets info->struct_size = @p struct_size (zeroing at most the library's sizeof
 *  plus the bytes up to struct_size). Accepts NULL (does nothing). */
CLATTN_API void clattn_device_info_init_sized(clattn_device_info *info, size_t struct_size);

/** Prepares @p info for clattn_context_get_info() with struct_size = sizeof as compiled here. */
static inline void clattn_device_info_init(clattn_device_info *info)
{
    clattn_device_info_init_sized(info, sizeof *info);
}

/**
 * Fills @p info (caller-owned; info->struct_size set beforehand, see "## ABI"): writes min(struct_size,
 * the library's sizeof) bytes, zeroes the rest up to struct_size, leaves struct_size unchanged.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx or info NULL, info->struct_size below the
 *         first release's size, e.g. 0 when clattn_device_info_init() was not called).
 */
CLATTN_API clattn_status clattn_context_get_info(const clattn_context *ctx, clattn_device_info *info);

/** Most members of a multi-device context (a device selector list). */
#define CLATTN_MAX_DEVICES 16

/** Devices a context runs on: the members of a multi-device context, else 1 (0 for ctx NULL). */
CLATTN_API int clattn_context_device_count(const clattn_context *ctx);

/**
 * Fills @p info (as clattn_context_get_info()) for device @p index of the context: member `index` of a
 * multi-device context (in the selector list's order), or the context's own device for index 0 of a
 * single-device one.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx or info NULL, index outside
 *         0..clattn_context_device_count() - 1, info->struct_size as for clattn_context_get_info()).
 */
CLATTN_API clattn_status clattn_context_get_device_info(const clattn_context *ctx, int index,
                                                        clattn_device_info *info);

/**
 * The relative weights the context splits work by (see clattn_context_options.device_weights), one per
 * device, into caller-owned weights[0..count): given ones, else measured (now, if no plan measured them
 * yet: the reference problem on every member; unitless, 1/s of that problem). Single-device context: 1.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx or weights NULL, count not
 *         clattn_context_device_count()); a member's status when measuring it failed.
 */
CLATTN_API clattn_status clattn_context_device_weights(clattn_context *ctx, double *weights, int count);

/**
 * The number of devices clattn can run on: every device of every OpenCL platform (in clGetPlatformIDs, then
 * clGetDeviceIDs order; platforms without devices contribute none), then the host path, always present and
 * always last. Enumerates afresh at each call; needs no context and builds nothing. Thread-safe.
 * @param[out] count  receives the number (>= 1).
 * @return CLATTN_SUCCESS (also with no OpenCL ICD installed: then only the host path);
 *         CLATTN_ERROR_INVALID_ARGUMENT (count NULL); CLATTN_ERROR_OPENCL (clGetPlatformIDs failed other than
 *         with "no platform"); CLATTN_ERROR_OUT_OF_MEMORY. Messages: clattn_last_error(NULL).
 */
CLATTN_API clattn_status clattn_device_list_count(size_t *count);

/**
 * Describes device @p index (0 <= index < clattn_device_list_count()) of the enumeration: every field of
 * @p info, including index, type, compute units, limits, flags, the extensions and the selector that picks exactly
 * this device for clattn_context_create() (so a listing can be turned into a choice). Output-struct rules
 * as clattn_context_get_info() (info->struct_size set beforehand). Enumerates afresh (a device added or
 * removed between calls shifts the indices; the selector of a listing names the device it describes).
 * Thread-safe; needs no context and builds nothing.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (info NULL, info->struct_size out of range, index out of
 *         range: the message gives the count); CLATTN_ERROR_OPENCL (a device query failed: the message names
 *         the query and the device); CLATTN_ERROR_OUT_OF_MEMORY. Messages: clattn_last_error(NULL).
 */
CLATTN_API clattn_status clattn_device_list_get(size_t index, clattn_device_info *info);

/* ------------------------------------------------------------------------------------------ */
/* Tensors                                                                                     */

/** Most dims a tensor view can have. Part of the ABI (fixes sizeof(clattn_tensor)). */
#define CLATTN_MAX_DIMS 8

/**
 * A view of an N-D array (1 <= ndim <= CLATTN_MAX_DIMS) of float32, binary16 or uint8 elements (the
 * function taking it says which): dims[0..ndim-1] and strides[0..ndim-1] in ELEMENTS, plus an element
 * offset from the start of the buffer. Element (i0, .., i{n-1}) is at offset + sum(i_d * strides[d]).
 * A dim of size 1 ignores its stride (broadcast). Strides must be >= 0. dims/strides beyond ndim are
 * ignored. Every function that takes tensors checks them (ndim, dims >= 1, strides >= 0, offset >= 0, the
 * reach without overflow) and says which rank it needs: SDPA and MHA take 4-D views only
 * ("q: ndim is 5, expected 4"). A plain value: the caller owns it, no function retains a pointer to it.
 */
typedef struct clattn_tensor {
    int ndim;                          /**< number of dims used, 1..CLATTN_MAX_DIMS */
    int64_t dims[CLATTN_MAX_DIMS];     /**< sizes, outermost first */
    int64_t strides[CLATTN_MAX_DIMS];  /**< in elements; >= 0 */
    int64_t offset;                    /**< element offset of element (0, .., 0); >= 0 */
} clattn_tensor;

/** @return a 4-D C-order tensor of dims [d0, d1, d2, d3] (strides d1·d2·d3, d2·d3, d3, 1), offset 0.
 *  Same as clattn_tensor_contiguous_nd(4, dims) (strides saturate at INT64_MAX on overflow or negative
 *  dims, so validation rejects the view with a message). */
CLATTN_API clattn_tensor clattn_tensor_contiguous(int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/**
 * @return a C-order (row-major) tensor of @p ndim dims read from @p dims[0..ndim-1]: strides[ndim-1] = 1,
 * strides[d] = dims[d+1]·strides[d+1] (saturating at INT64_MAX on overflow or a negative dim), offset 0,
 * unused dims and strides 0. ndim outside 1..CLATTN_MAX_DIMS gives a tensor of that ndim and no dims;
 * dims NULL gives ndim 0; both are rejected (INVALID_ARGUMENT, "ndim is ...") by any function given them.
 * Nothing is retained.
 */
CLATTN_API clattn_tensor clattn_tensor_contiguous_nd(int ndim, const int64_t *dims);

/**
 * @return a view of @p ndim dims with the given dims[0..ndim-1], strides[0..ndim-1] (ELEMENTS) and element
 * @p offset, unused dims and strides 0. Checks nothing beyond the rank (values are checked by the function
 * the view is given to): ndim outside 1..CLATTN_MAX_DIMS gives a tensor of that ndim and no dims; dims or
 * strides NULL gives ndim 0. Nothing is retained.
 */
CLATTN_API clattn_tensor clattn_tensor_view(int ndim, const int64_t *dims, const int64_t *strides, int64_t offset);

/* ------------------------------------------------------------------------------------------ */
/* Scaled dot-product attention                                                                */

typedef enum clattn_causal {
    CLATTN_CAUSAL_NONE = 0,
    CLATTN_CAUSAL_TOP_LEFT = 1,     /**< key j allowed iff j <= i (PyTorch SDPA is_causal, OpenVINO) */
    CLATTN_CAUSAL_BOTTOM_RIGHT = 2  /**< key j allowed iff j <= i + Lk' - Lq (FlashAttention, ONNX, KV-cache decode) */
} clattn_causal;

typedef enum clattn_mask_kind {
    CLATTN_MASK_NONE = 0,
    CLATTN_MASK_BOOL = 1,    /**< uint8 array; nonzero = may attend (PyTorch SDPA / ONNX convention) */
    CLATTN_MASK_ADDITIVE = 2 /**< float32 array (or binary16 / bfloat16: clattn_sdpa_desc.mask_data_type) added to
                                  the scores; only -inf means "not allowed" */
} clattn_mask_kind;

/**
 * Element type of q, k, v and out in a clattn_sdpa_desc (clattn_sdpa_desc.data_type), and of an additive
 * mask (clattn_sdpa_desc.mask_data_type, its own field); probabilities are always float32. Values are pinned.
 */
typedef enum clattn_dtype {
    CLATTN_DTYPE_F32 = 0, /**< IEEE binary32 (float) */
    CLATTN_DTYPE_F16 = 1, /**< IEEE binary16 stored as uint16_t (PyTorch/NumPy float16, ONNX FLOAT16) */
    /** bfloat16 stored as uint16_t: the high 16 bits of an IEEE binary32 (1 sign, 8 exponent, 7 fraction
     *  bits; binary32's range, 8 significant bits). PyTorch torch.bfloat16, ONNX BFLOAT16, Intel's "BF16". */
    CLATTN_DTYPE_BF16 = 2
} clattn_dtype;

/**
 * Arithmetic precision of a plan's products (clattn_sdpa_desc.precision). Values are pinned.
 *
 * CLATTN_PRECISION_REDUCED is an opt-in, like PyTorch's
 * torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction / torch.set_float32_matmul_precision
 * ("medium" = bfloat16 products): it allows a path to form the Q·Kᵀ and P·V products from operands rounded
 * to bfloat16 (round to nearest even, 8 significant bits: unit roundoff u = 2^-8), with float32
 * accumulation and everything else unchanged: the softmax (running max, exp, sum, 1/l) stays float32, P is
 * the float32 weight exp(s - m) rounded to bfloat16 just before P·V (the sum l is of the unrounded float32
 * weights), masks, softcap, kv_lengths, the NaN and zero-row rules, lse (float32, from the float32
 * softmax) and the output dtype are as for FP32. Source of the instruction: Intel AVX512_BF16
 * VDPBF16PS (Intel SDM vol. 2, "VDPBF16PS": fp32 += bf16·bf16 + bf16·bf16, round to nearest even,
 * denormal inputs and outputs flushed to zero; Cooper Lake, Sapphire Rapids, AMD Zen 4 and later).
 *
 * Which paths use it (clattn_sdpa_plan_path() says which ran):
 *   - host, fused (non-decode) plans of any data_type on a CPU with AVX512_BF16 (and AVX-512
 *     BW/VL), when the context's host_isa is AUTO: path "host-fused-avx512bf16". K is packed as bf16
 *     pairs along D (an odd D is zero-padded to even), Q rounded per query row, V packed as bf16 pairs
 *     along keys (an odd key count zero-padded), P rounded per block of keys.
 *   - every other path (decode plans with Lq <= 4, the row-by-row path, host_isa forced to portable, avx2
 *     or avx512, CPUs without AVX512_BF16, OpenCL devices: PoCL and rusticl here have no cl_khr_fp16)
 *     runs float32 exactly as CLATTN_PRECISION_FP32 does: the path name is the float32 one, the results
 *     are bit-identical to an FP32 plan's.
 *
 * Error bound of REDUCED (tested in tests/test_precision.c against a double-precision reference; float16
 * inputs are converted exactly to float32 first, so their bound is float32's). For query row i, with A_i = scale · max over allowed j of sum_d |q_id|·|k_jd| (the largest
 * possible |score| before softcap) and V_e = max over allowed j of |v_je|:
 *   δ_i = A_i · (2u + u² + (D + 2)·2^-24)                 (score error; softcap is 1-Lipschitz)
 *   |out_ie - exact_ie| <= ((e^(2 δ_i) - 1) + 2u + u² + (Lk + 4)·2^-24) · V_e
 * i.e. about 2·δ_i + 0.0079 relative to the largest allowed |v| (a worst case: clattn-bench's inputs,
 * uniform in [-1, 1) with scale = 1/sqrt(D), showed max errors of 6e-5 to 1.9e-3 at L = 2048 and 4096;
 * FP32 1e-7). bfloat16 inputs (CLATTN_DTYPE_BF16) are exact in bfloat16, so only P's rounding remains:
 *   |out_ie - exact_ie| <= ((e^(2 δ'_i) - 1) + u + (Lk + 4)·2^-24) · V_e,   δ'_i = A_i·(D + 2)·2^-24.
 * float16 / bfloat16 outputs add their own rounding (2^-11 / 2^-8 relative to |out|).
 * lse: |lse_i - exact| <= δ_i + 1e-5·max(1, |lse_i|). Rows that see no key, NaN rows
 * and NaN/inf values in V behave exactly as under FP32 (a zero weight never multiplies a V row that holds
 * inf or NaN). Values of magnitude >= 3.39e38 round to inf in bfloat16.
 */
typedef enum clattn_precision {
    CLATTN_PRECISION_FP32 = 0,   /**< float32 products (default, set by clattn_sdpa_desc_init) */
    CLATTN_PRECISION_REDUCED = 1 /**< bfloat16-rounded operands of Q·Kᵀ and P·V where the path has the unit
                                      (see above); float32 elsewhere */
} clattn_precision;

/**
 * Where an SDPA plan's keys and values live (clattn_sdpa_desc.kv_layout). Values are pinned.
 */
typedef enum clattn_kv_layout {
    CLATTN_KV_CONTIGUOUS = 0, /**< k [B or 1, Hkv, Lk, D], v [B or 1, Hkv, Lk, Dv] (the default) */
    CLATTN_KV_PAGED = 1       /**< a paged KV cache: k/v are block pools read through a block table (see
                                   "Paged KV cache" at clattn_sdpa_desc) */
} clattn_kv_layout;

/** Sentinel for an unbounded side of the sliding window. */
#define CLATTN_WINDOW_UNBOUNDED (-1)

/**
 * Describes one scaled dot-product attention problem. Initialise with clattn_sdpa_desc_init() (see
 * "## ABI" above). Every tensor is a 4-D view (ndim 4).
 *
 *   q:   [B, Hq,  Lq, D]       k: [B, Hkv, Lk, D]      v: [B, Hkv, Lk, Dv]
 *   out: [B, Hq,  Lq, Dv]      probs (optional): [B, Hq, Lq, Lk]
 *   mask (optional): [Bm, Hm, Lqm, Lk] with Bm in {1,B}, Hm in {1,Hq}, Lqm in {1,Lq}  (broadcast by dims of 1)
 *   kv_lengths (optional, given at execution): int32 [B], 0 <= kv_lengths[b] <= Lk
 *
 * Grouped-query attention: Hq must be a multiple of Hkv; query head h reads kv head h / (Hq / Hkv).
 * For batch b, Lk' = kv_lengths[b] if use_kv_lengths else Lk. Key j is allowed for query i iff
 *   j < Lk'; and causal: TOP_LEFT j <= i, BOTTOM_RIGHT j <= i + Lk' - Lq;
 *   and window: i' - window_left <= j <= i' + window_right with i' = i + Lk' - Lq (-1 = unbounded side);
 *   and mask: BOOL nonzero, ADDITIVE != -inf.
 * Score s_ij = (q_i·k_j)·scale; with softcap c > 0, s_ij = c·tanh(s_ij / c) (before the mask); then
 * an additive mask is added. Probabilities are the softmax over allowed keys; disallowed keys get exactly
 * zero weight; a row with no allowed key outputs zeros (and zero probabilities).
 *
 * Log-sum-exp (want_lse; optional float32 lse [B, Hq, Lq]): the natural log of the row's softmax denominator,
 *   lse[b, h, i] = log( sum over allowed j of exp(s_ij) )    (s_ij after scale, softcap and additive mask)
 * so that out_i = sum_j exp(s_ij - lse_i)·v_j — FlashAttention's softmax_lse, FlashInfer's "s" (natural
 * log, not log2). A row with no allowed key has lse = -inf (its out is zeros); a row whose out is NaN has
 * lse NaN. Computed in float32 from the max-shifted sum (lse = m + log(sum_j exp(s_ij - m))), so it is
 * finite whenever a finite score is allowed. Two results over disjoint key sets merge into the result over
 * their union with clattn_merge_plan_create() (below). Every kernel path writes it (chain, fused, decode;
 * host and OpenCL); it is not a probability, so it does not force the chain.
 *
 * Paged KV cache (kv_layout = CLATTN_KV_PAGED; the vLLM / FlashAttention block_table convention, as
 * flash_attn_with_kvcache(k_cache [num_blocks, page_block_size, nheads_k, headdim], block_table int32
 * [batch, max_num_blocks_per_seq], cache_seqlens)): keys and values live in fixed-size blocks of a shared pool,
 * and each sequence lists its blocks in a block table.
 *   k: the key pool   [num_blocks, block_size, Hkv, D]   (4-D, any strides in elements; e.g. K and V
 *   v: the value pool [num_blocks, block_size, Hkv, Dv]   interleaved in one allocation)
 *   block_table (given at execution, clattn_sdpa_buffers.block_table): int32 [B, max_blocks_per_seq],
 *      row-major, contiguous: entry [b][i] is the pool block holding keys i·block_size .. (i+1)·block_size-1
 *      of sequence b.
 *   kv_lengths (required: use_kv_lengths nonzero): int32 [B], sequence b's current length, 0..Lk.
 * num_blocks = k dim 0 (v dim 0 must match); block_size = k dim 1 = v dim 1 = kv_block_size, a power of two
 * >= 16; Lk = max_blocks_per_seq · kv_block_size is the logical kv_len (pass it as kv_len to
 * clattn_sdpa_desc_init: the mask's and probs' last dim are Lk, and key positions are logical positions).
 * Key j of sequence b is row j % block_size of pool block block_table[b][j / block_size]; blocks at or past
 * ceil(kv_lengths[b] / block_size) are never read (their entries may hold anything). Causal BOTTOM_RIGHT with
 * kv_lengths is chunked prefill: query i of Lq new queries sits at position kv_lengths[b] - Lq + i. Every other
 * field (masks, window, softcap, GQA, lse, probs, data_type) keeps its meaning over the logical keys.
 * Host arrays (clattn_sdpa_execute_buffers): every entry that will be read is checked (0 <= entry < num_blocks,
 * else CLATTN_ERROR_INVALID_ARGUMENT "block_table[1][3] is 9, expected 0..7 (num_blocks - 1)"). cl_mem
 * (clattn_sdpa_enqueue_buffers): entries are not read back; a row whose keys reach an out-of-range entry gets
 * unspecified output (memory-safe: those keys are not read). clattn_sdpa_execute() and clattn_sdpa_enqueue() have
 * no block_table argument and refuse a paged plan (CLATTN_ERROR_INVALID_ARGUMENT). New rows are written into
 * the pools with clattn_kv_append_plan_create() (below).
 */
typedef struct clattn_sdpa_desc {
    /** sizeof(clattn_sdpa_desc) as the caller was compiled; set by clattn_sdpa_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;
    float scale;               /**< 0 means 1/sqrt(D); must be finite */
    float softcap;             /**< 0 = off; else > 0 */
    clattn_causal causal;
    int64_t window_left;       /**< >= -1; -1 unbounded (default) */
    int64_t window_right;      /**< >= -1; -1 unbounded (default) */
    clattn_mask_kind mask_kind;
    clattn_tensor mask;        /**< used when mask_kind != NONE; last dim must be Lk */
    int use_kv_lengths;        /**< nonzero: kv_lengths are passed at execution */
    int want_probs;            /**< nonzero: write probabilities to the probs tensor */
    clattn_tensor probs;       /**< used when want_probs; dims [B, Hq, Lq, Lk] */
    /**
     * Element type of q, k, v and out (all four; default CLATTN_DTYPE_F32). Strides and offsets stay in
     * ELEMENTS of that type. With CLATTN_DTYPE_F16:
     *   - q, k, v, out are IEEE binary16 arrays (uint16_t, 2-byte aligned) passed to
     *     clattn_sdpa_execute()/clattn_sdpa(), and to clattn_sdpa_enqueue() (clattn_opencl.h) as cl_mem holding offset + reach of each view in halfs
     *     (2 bytes each). The mask keeps its own type (uint8 bool; additive float32, or binary16 / bfloat16
     *     per mask_data_type, independent of data_type); kv_lengths int32;
     *     probs stay float32.
     *   - Compute is float32, exactly as for float32 inputs: q, k, v are widened exactly to float32, the
     *     float32 kernels run, and the float32 result is rounded to binary16 (round-to-nearest-even) into
     *     the out view (only the view's elements are written). Where the widening happens depends on the
     *     path: the host's fused and decode paths (host-fused-portable / -avx2 / -avx512 / -avx512bf16, head
     *     size D <= 256), its row-by-row path (host-rowwise) and every OpenCL path (chain, fused, fused-gpu and their -paged forms) read the 16-bit
     *     arrays themselves (while loading K/V tiles or rows, in the dot products) and round out from
     *     registers, so clattn_sdpa_plan_workspace_size() equals the float32 plan's (one exception: an
     *     OpenCL chain plan whose P·V takes several launches over the keys, at thousands of keys, keeps its
     *     partial sums in float32 and needs 4 bytes x Dv more per query row of a workspace chunk). The host's
     *     fused paths at D > 256 get contiguous float32 copies made by the plan in its
     *     workspace on each execution, and their workspace size includes them (4 bytes x the elements of the
     *     q, k, v and out views). The results are the same either way. No fp16 arithmetic is used, so no
     *     cl_khr_fp16 is needed (vload_half / vstore_half_rte are core OpenCL 1.2).
     *   - Special values as for float32 (see the top of this file): fp16 NaN and +-inf inputs become the
     *     same float32 values and follow the float32 rules (a NaN stays in its rows). An output is a convex
     *     combination of V rows, so finite V never overflows (|out| <= 65504); +-inf outputs come only from
     *     +-inf in V. NaN outputs are quiet fp16 NaNs. Outputs below 2^-14 in magnitude round to fp16
     *     subnormals or +-0.
     *   - Statuses: clattn_sdpa_plan_create() returns CLATTN_ERROR_INVALID_ARGUMENT for a data_type that
     *     is not a clattn_dtype ("data_type: 7 is not a clattn_dtype value") and when a view's reach x 2
     *     bytes overflows; CLATTN_ERROR_OUT_OF_MEMORY when the float32 copies cannot be allocated (host
     *     or device); CLATTN_ERROR_KERNEL_BUILD / CLATTN_ERROR_OPENCL when the 16-bit kernel builds fail; CLATTN_ERROR_IO as for float32. clattn_sdpa_enqueue()
     *     returns CLATTN_ERROR_INVALID_ARGUMENT when a q/k/v/out cl_mem holds fewer than
     *     2 x (offset + reach) bytes. Otherwise the statuses of the float32 functions apply unchanged.
     * With CLATTN_DTYPE_BF16 everything above holds with bfloat16 in place of binary16 (uint16_t arrays,
     * 2-byte elements, the same staging, workspace and statuses; no device extension needed: bfloat16 is
     * handled as 16-bit integers shifted into the high half of a float), except the special values:
     *   - bf16 -> float32 is exact (the bits shifted up by 16), so bf16 inputs are float32 values exactly,
     *     subnormals, +-0, +-inf and NaN included; compute is float32 as for float32 inputs.
     *   - The float32 result is rounded to nearest, ties to even, into bfloat16 (8 significant bits: a
     *     relative rounding error of at most 2^-9 per element, so |out - exact| <= 2^-8 x max|out| plus the
     *     float32 error). bf16 has float32's range: a finite float32 result above 3.3895e38 (0x7f7f, the
     *     largest bf16) in magnitude rounds to +-inf; results in float32's subnormal range round to bf16
     *     subnormals or +-0. NaN outputs are quiet bf16 NaNs (the float32 NaN's top bits, 0x0040 set).
     * clattn_mha_* is float32 only (its inputs and weights are float arrays; no data_type there).
     */
    clattn_dtype data_type;
    /* ---- since 0.2.0's first layout (appended; see "## ABI") ---- */
    int reserved_0; /**< padding of the first 0.2.0 layout; ignored */
    /** This plan's kernel path; CLATTN_KERNEL_PATH_DEFAULT (0, set by clattn_sdpa_desc_init) means the
     *  context's (clattn_context_options.kernel_path). */
    clattn_kernel_path kernel_path;
    /* ---- appended after 0.2.0 (see "## ABI"): the log-sum-exp output ---- */
    int reserved_1; /**< padding after kernel_path (the trailing padding of the previous layout); ignored */
    /** Nonzero: write each row's log-sum-exp to the lse view (see "Log-sum-exp" above). lse is bound at
     *  execution with clattn_sdpa_execute_buffers() (clattn_sdpa_buffers.lse) or clattn_sdpa_enqueue_buffers()
     *  (clattn_opencl.h); clattn_sdpa_execute() and clattn_sdpa_enqueue() have no lse argument and refuse such a
     *  plan (CLATTN_ERROR_INVALID_ARGUMENT). Default 0. */
    int want_lse;
    /** Used when want_lse: a 3-D float32 view [B, Hq, Lq] (ndim 3, strides in elements); must not write one
     *  element twice. clattn_sdpa_desc_init() sets it contiguous. Stays float32 for CLATTN_DTYPE_F16 and
     *  CLATTN_DTYPE_BF16 plans. */
    clattn_tensor lse;
    /* ---- appended after the log-sum-exp output (see "## ABI"): reduced-precision products ---- */
    /** CLATTN_PRECISION_FP32 (0, the default) or CLATTN_PRECISION_REDUCED (see clattn_precision: which paths
     *  use it, the error bound). Another value is CLATTN_ERROR_INVALID_ARGUMENT ("precision: 7 is not a
     *  clattn_precision value"). */
    clattn_precision precision;
    int reserved_2; /**< explicit padding after precision (keeps sizeof a multiple of 8); ignored */
    /* ---- appended after the precision field (see "## ABI"): the paged KV cache ---- */
    /** CLATTN_KV_CONTIGUOUS (0, default) or CLATTN_KV_PAGED (see "Paged KV cache" above); another value is
     *  CLATTN_ERROR_INVALID_ARGUMENT. */
    clattn_kv_layout kv_layout;
    int reserved_3; /**< padding before kv_block_size; ignored */
    /** CLATTN_KV_PAGED: rows per pool block; a power of two >= 16, equal to k dim 1 and v dim 1
     *  (else CLATTN_ERROR_INVALID_ARGUMENT naming kv_block_size and the value). Ignored when contiguous. */
    int64_t kv_block_size;
    /** CLATTN_KV_PAGED: block_table dim 1, >= 1; Lk = max_blocks_per_seq · kv_block_size must equal the k/v
     *  views' logical kv_len (mask and probs dim 3) and be <= INT32_MAX. Ignored when contiguous. */
    int64_t max_blocks_per_seq;
    /* ---- appended after the paged KV cache (see "## ABI"): 16-bit additive masks ---- */
    /**
     * Element type of an ADDITIVE mask (mask_kind == CLATTN_MASK_ADDITIVE), independent of data_type (a
     * float32 problem may have a bfloat16 mask and a float16 problem a float32 one):
     *   - CLATTN_DTYPE_F32 (0: the default of clattn_sdpa_desc_init() and what the zero bytes of an older
     *     caller's layout mean): a float array, as before;
     *   - CLATTN_DTYPE_F16: an IEEE binary16 array (uint16_t, 2-byte aligned; PyTorch SDPA's attn_mask of a
     *     torch.float16 query, ONNX Attention's mask of type T = FLOAT16);
     *   - CLATTN_DTYPE_BF16: a bfloat16 array (uint16_t; torch.bfloat16, ONNX BFLOAT16).
     * The mask view keeps its shape [Bm, Hm, Lqm, Lk] (Bm in {1,B}, Hm in {1,Hq}, Lqm in {1,Lq}; dims of 1
     * broadcast) and its strides and offset count ELEMENTS of this type; a host buffer must hold every
     * element the view reaches (2 bytes each for F16 / BF16), a cl_mem (clattn_sdpa_enqueue*) 2 x (offset +
     * reach) bytes, else CLATTN_ERROR_INVALID_ARGUMENT. Every backend and path reads the 16-bit mask where it
     * lies (no copy, no workspace): each value is widened exactly to float32 where it is read, so a plan with
     * a 16-bit mask gives results bit for bit equal to the same plan with the mask widened to float32.
     * Special values are those of the widened float32: only -inf means "not allowed" (fp16 0xfc00, bf16
     * 0xff80); NaN and +inf follow the float32 rules at the top of this file (a NaN or +inf entry of row i
     * makes row i's output NaN and no other row's); fp16's largest finite value is 65504 (a large finite negative such as -65504 does not
     * disallow a key: it weighs it by about exp(-65504) = 0).
     * A BOOL mask is uint8 and keeps CLATTN_DTYPE_F32 (0) here; another value with a BOOL mask (or a value
     * that is not a clattn_dtype) is CLATTN_ERROR_INVALID_ARGUMENT ("mask_data_type: 7 is not a clattn_dtype
     * value ..."). With mask_kind NONE a valid value is ignored (an invalid one is still refused).
     */
    clattn_dtype mask_data_type;
    int reserved_4; /**< explicit padding after mask_data_type (keeps sizeof a multiple of 8); ignored */
} clattn_sdpa_desc;

/**
 * Sets desc->struct_size = @p struct_size and defaults: contiguous 4-D tensors from the sizes given,
 * scale 0 (= 1/sqrt(D)), no softcap, no causal mask, unbounded window, no mask (mask set contiguous
 * [1, 1, q_len, kv_len]), no kv_lengths, no probabilities (probs set contiguous for later use), float32.
 * Bytes beyond the library's sizeof, up to struct_size, are zeroed. Accepts NULL (does nothing).
 */
CLATTN_API void clattn_sdpa_desc_init_sized(clattn_sdpa_desc *desc, size_t struct_size, int64_t batch,
                                            int64_t num_heads, int64_t num_kv_heads, int64_t q_len,
                                            int64_t kv_len, int64_t head_dim, int64_t v_head_dim);

/** clattn_sdpa_desc_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_sdpa_desc_init(clattn_sdpa_desc *desc, int64_t batch, int64_t num_heads,
                                         int64_t num_kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                                         int64_t v_head_dim)
{
    clattn_sdpa_desc_init_sized(desc, sizeof *desc, batch, num_heads, num_kv_heads, q_len, kv_len, head_dim,
                                v_head_dim);
}

typedef struct clattn_sdpa_plan clattn_sdpa_plan;

/**
 * Validates @p desc, chooses the kernel path, and compiles what the device needs.
 * @param[out] plan  set to NULL on failure; release with clattn_sdpa_plan_destroy().
 * @param[in]  desc  initialised by clattn_sdpa_desc_init(); copied, not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (the message names the field and value, e.g.
 *         "mask: dim 1 is 5, expected 1 or 12", "q: ndim is 5, expected 4", or desc->struct_size too
 *         small); CLATTN_ERROR_UNSUPPORTED (also: desc->struct_size larger than this library's and a
 *         field it lacks is nonzero; a CLATTN_KV_PAGED plan on a backend or path that cannot read a paged
 *         cache, the message naming it); CLATTN_ERROR_KERNEL_BUILD;
 *         CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY; CLATTN_ERROR_IO.
 */
CLATTN_API clattn_status clattn_sdpa_plan_create(clattn_sdpa_plan **plan, clattn_context *ctx,
                                                 const clattn_sdpa_desc *desc);

/** Releases a plan. Accepts NULL. */
CLATTN_API void clattn_sdpa_plan_destroy(clattn_sdpa_plan *plan);

/** Device (or host) scratch bytes the plan uses per execution (0 when none). */
CLATTN_API size_t clattn_sdpa_plan_workspace_size(const clattn_sdpa_plan *plan);

/**
 * The kernel path the plan chose, for reports and benchmarks: on OpenCL "chain" (scores, softmax,
 * weighted sum) or a fused path; on the host "host-fused-<isa>" or "host-rowwise". Static or
 * plan-owned storage, valid while the plan lives; "" for NULL.
 */
CLATTN_API const char *clattn_sdpa_plan_path(const clattn_sdpa_plan *plan);

/**
 * Runs the plan on host arrays, synchronously, on any backend (OpenCL backends copy in and out; to
 * pass cl_mem buffers without copies, see clattn_sdpa_enqueue() in clattn_opencl.h).
 * Pointers address element 0 of each buffer; tensor offsets and strides apply from there. Buffers
 * must hold every element the tensor views reach. q, k, v, out: float arrays, or uint16_t binary16
 * arrays when desc->data_type is CLATTN_DTYPE_F16 (uint16_t bfloat16 for CLATTN_DTYPE_BF16), aligned to
 * their element type. mask: uint8 for
 * BOOL, float for ADDITIVE (uint16_t binary16 / bfloat16 when desc->mask_data_type is F16 / BF16), NULL if
 * none; kv_lengths: int32 [B] or NULL if !use_kv_lengths; probs NULL unless want_probs.
 * out and probs must not overlap the inputs. Nothing is retained after return.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (NULL required buffer, kv_lengths[b] outside
 *         [0, Lk], a want_lse or paged plan: bind lse / block_table with clattn_sdpa_execute_buffers());
 *         CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_sdpa_execute(clattn_sdpa_plan *plan, const void *q, const void *k,
                                             const void *v, const void *mask, const int32_t *kv_lengths,
                                             void *out, float *probs);

/** One-shot convenience: plan_create + execute + plan_destroy. Same statuses as those. */
CLATTN_API clattn_status clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc, const void *q,
                                     const void *k, const void *v, const void *mask,
                                     const int32_t *kv_lengths, void *out, float *probs);

/**
 * The buffers of one execution of an SDPA plan, by name: the arguments of clattn_sdpa_execute() plus the
 * outputs appended since 0.2.0 (lse). Initialise with clattn_sdpa_buffers_init() (struct_size, every pointer
 * NULL; see "## ABI" above), then set what the plan needs. Host pointers, as for clattn_sdpa_execute(): each
 * addresses element 0 of its buffer, tensor offsets and strides apply from there.
 */
typedef struct clattn_sdpa_buffers {
    /** sizeof(clattn_sdpa_buffers) as the caller was compiled; set by clattn_sdpa_buffers_init(). */
    size_t struct_size;
    const void *q, *k, *v;     /**< float, or uint16_t binary16 / bfloat16 for CLATTN_DTYPE_F16 / _BF16 plans */
    const void *mask;          /**< uint8 (BOOL) or float / uint16_t per mask_data_type (ADDITIVE); NULL when
                                    mask_kind is NONE */
    const int32_t *kv_lengths; /**< int32 [B]; NULL unless use_kv_lengths */
    void *out;                 /**< float, or uint16_t binary16 / bfloat16 for CLATTN_DTYPE_F16 / _BF16 plans */
    float *probs;              /**< NULL unless want_probs */
    float *lse;                /**< float32 [B, Hq, Lq] through desc.lse; NULL unless want_lse */
    /** Appended after 0.2.0: int32 [B, max_blocks_per_seq], row-major, contiguous; NULL unless desc.kv_layout
     *  is CLATTN_KV_PAGED. Entries read (the blocks within kv_lengths[b]) must be 0..num_blocks-1. */
    const int32_t *block_table;
} clattn_sdpa_buffers;

/** Sets b->struct_size = @p struct_size and every pointer to NULL (bytes beyond the library's sizeof, up to
 *  struct_size, zeroed). Accepts NULL (does nothing). */
CLATTN_API void clattn_sdpa_buffers_init_sized(clattn_sdpa_buffers *b, size_t struct_size);

/** clattn_sdpa_buffers_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_sdpa_buffers_init(clattn_sdpa_buffers *b)
{
    clattn_sdpa_buffers_init_sized(b, sizeof *b);
}

/**
 * clattn_sdpa_execute() with the buffers named in a struct, which also carries the outputs clattn_sdpa_execute()
 * has no argument for (lse). Synchronous; nothing is retained after return; out, probs and lse must not
 * overlap the inputs or each other.
 * @param[in] bufs initialised by clattn_sdpa_buffers_init(); exactly the buffers the plan needs are non-NULL.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan or bufs NULL, bufs->struct_size out of range, a
 *         buffer the plan needs is NULL or one it does not use is set, kv_lengths[b] outside [0, Lk], a paged
 *         plan's block_table entry outside [0, num_blocks) among those kv_lengths reaches);
 *         CLATTN_ERROR_UNSUPPORTED (bufs->struct_size larger than this library's and a field it lacks is
 *         nonzero); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_sdpa_execute_buffers(clattn_sdpa_plan *plan, const clattn_sdpa_buffers *bufs);

/* ------------------------------------------------------------------------------------------ */
/* Merge of partial attention states (split keys: split-KV decode, chunked prefill, ring)     */

/**
 * Describes a merge of P partial attention results of the same query rows, each computed over a disjoint
 * subset of the keys (an SDPA call over a key view, with want_lse), into the result over the union of the
 * subsets (FlashInfer merge_states / merge_state_in_place, vLLM merge_attn_states; FlashAttention's split-KV
 * combine). Initialise with clattn_merge_desc_init() (see "## ABI" above). Strides in elements.
 *
 *   parts_out: [P, B, H, L, Dv] (ndim 5)      parts_lse: float32 [P, B, H, L] (ndim 4)
 *   out:       [B, H, L, Dv]    (ndim 4)      lse (optional, want_lse): float32 [B, H, L] (ndim 3)
 *
 * Part p's slice of parts_out / parts_lse is exactly the out / lse view an SDPA call over the p-th key
 * subset writes (offset + p·stride of dim 0), so P calls can write a stacked buffer and one merge combines
 * it. For each row r = (b, h, i), over the parts with lse_p(r) != -inf:
 *   M = max_p lse_p;  w_p = exp(lse_p - M);  out(r) = sum_p w_p·out_p(r) / sum_p w_p;  lse(r) = M + log(sum_p w_p)
 * (max-shifted: no overflow for any finite lse). A part with lse_p(r) = -inf saw no allowed key: weight
 * exactly 0, and its out row is never read (a NaN there does not leak). A row whose lse is -inf in every
 * part gets out = zeros and lse = -inf (what SDPA gives a row with no allowed key). A NaN lse_p(r) makes the
 * row's out and lse NaN, and no other row's. The result equals one SDPA call over all the keys within
 * float32 rounding (tests/test_merge.c: random splits into 1..5 parts with every mask kind, GQA, kv_lengths
 * and windows, on every backend).
 *
 * In place: out (and lse) may be the same view of the same buffer as one part's slice (for example a running
 * result merged with a new part); every other overlap between an output and the parts, or between out and
 * lse, is undefined. Merging two results A, B is P = 2 with A and B as the two slices.
 */
typedef struct clattn_merge_desc {
    /** sizeof(clattn_merge_desc) as the caller was compiled; set by clattn_merge_desc_init(). */
    size_t struct_size;
    clattn_tensor parts_out; /**< [P, B, H, L, Dv], data_type */
    clattn_tensor parts_lse; /**< float32 [P, B, H, L] */
    clattn_tensor out;       /**< [B, H, L, Dv], data_type; must not write one element twice */
    int want_lse;            /**< nonzero: write the merged lse */
    /** Element type of parts_out and out (CLATTN_DTYPE_F32 default, or CLATTN_DTYPE_F16 / CLATTN_DTYPE_BF16:
     *  uint16_t binary16 / bfloat16 arrays, read exactly, combined in float32 and rounded to nearest even, NaN
     *  kept quiet; see clattn_sdpa_desc.data_type for the special values); the lse views are always float32. */
    clattn_dtype data_type;
    clattn_tensor lse;       /**< used when want_lse: float32 [B, H, L]; must not write one element twice */
} clattn_merge_desc;

/**
 * Sets desc->struct_size = @p struct_size and defaults: contiguous views from the sizes given (parts_out
 * [P, B, H, L, Dv], parts_lse [P, B, H, L], out [B, H, L, Dv], lse [B, H, L]), want_lse 0, float32. Bytes
 * beyond the library's sizeof, up to struct_size, are zeroed. Accepts NULL (does nothing).
 */
CLATTN_API void clattn_merge_desc_init_sized(clattn_merge_desc *desc, size_t struct_size, int64_t num_parts,
                                             int64_t batch, int64_t num_heads, int64_t q_len, int64_t v_head_dim);

/** clattn_merge_desc_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_merge_desc_init(clattn_merge_desc *desc, int64_t num_parts, int64_t batch,
                                          int64_t num_heads, int64_t q_len, int64_t v_head_dim)
{
    clattn_merge_desc_init_sized(desc, sizeof *desc, num_parts, batch, num_heads, q_len, v_head_dim);
}

typedef struct clattn_merge_plan clattn_merge_plan;

/**
 * Validates @p desc and prepares the merge (on OpenCL, builds kernels/merge.cl).
 * @param[out] plan  set to NULL on failure; release with clattn_merge_plan_destroy().
 * @param[in]  desc  initialised by clattn_merge_desc_init(); copied, not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx, plan or desc NULL; a view of the wrong rank,
 *         a dim that disagrees, e.g. "parts_lse: dim 0 is 3, expected 4 (num_parts, parts_out dim 0)", an
 *         output that writes one element twice, a bad data_type, desc->struct_size too small);
 *         CLATTN_ERROR_UNSUPPORTED (desc->struct_size larger than this library's and a field it lacks is
 *         nonzero); CLATTN_ERROR_KERNEL_BUILD; CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY; CLATTN_ERROR_IO.
 */
CLATTN_API clattn_status clattn_merge_plan_create(clattn_merge_plan **plan, clattn_context *ctx,
                                                  const clattn_merge_desc *desc);

/** Releases a merge plan. Accepts NULL. */
CLATTN_API void clattn_merge_plan_destroy(clattn_merge_plan *plan);

/**
 * Runs the merge on host arrays, synchronously, on any backend (OpenCL copies in and out; see
 * clattn_merge_enqueue() in clattn_opencl.h for cl_mem buffers). Each pointer addresses element 0 of its
 * buffer; views apply from there. parts_out and out: float, or uint16_t binary16 for CLATTN_DTYPE_F16,
 * uint16_t bfloat16 for CLATTN_DTYPE_BF16.
 * lse NULL unless desc.want_lse. In place (out == parts_out with out's view equal to one part's slice) is
 * allowed, see clattn_merge_desc.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan or a required buffer NULL, lse given or missing
 *         against want_lse); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_merge_execute(clattn_merge_plan *plan, const void *parts_out,
                                              const float *parts_lse, void *out, float *lse);

/** One-shot convenience: clattn_merge_plan_create + clattn_merge_execute + destroy. Same statuses. */
CLATTN_API clattn_status clattn_merge_states(clattn_context *ctx, const clattn_merge_desc *desc,
                                             const void *parts_out, const float *parts_lse, void *out, float *lse);

/* ------------------------------------------------------------------------------------------ */
/* Paged KV cache: appending new rows (see "Paged KV cache" at clattn_sdpa_desc)              */

/**
 * Describes writing Lnew new key/value rows of each of B sequences into a paged KV cache (vLLM's
 * reshape_and_cache, FlashAttention's k/v arguments of flash_attn_with_kvcache). Initialise with
 * clattn_kv_append_desc_init() (see "## ABI" above). Strides in elements of data_type.
 *
 *   k_new:   [B, Hkv, Lnew, D]                  v_new:   [B, Hkv, Lnew, Dv]    (SDPA's k/v layout, any strides)
 *   k_cache: [num_blocks, block_size, Hkv, D]   v_cache: [num_blocks, block_size, Hkv, Dv]  (the SDPA pools)
 *   block_table (at execution): int32 [B, max_blocks_per_seq], row-major, contiguous (as for SDPA)
 *   positions   (at execution): int32 [B]
 *
 * Row t of sequence b (k_new[b, :, t, :], v_new[b, :, t, :]) is written to logical position
 * pos = positions[b] + t: row pos % block_size of pool block block_table[b][pos / block_size]. A caller passes
 * the lengths before the append as positions, then kv_lengths = positions + Lnew to SDPA. Nothing else in the
 * pools is written. k_cache and v_cache may be views of one allocation (K and V interleaved) as long as they do
 * not share elements; the new rows must not overlap the pools. Two sequences whose rows map to the same pool
 * row: unspecified which one is kept.
 */
typedef struct clattn_kv_append_desc {
    /** sizeof(clattn_kv_append_desc) as the caller was compiled; set by clattn_kv_append_desc_init(). */
    size_t struct_size;
    clattn_tensor k_new;   /**< [B, Hkv, Lnew, D] */
    clattn_tensor v_new;   /**< [B, Hkv, Lnew, Dv] */
    clattn_tensor k_cache; /**< [num_blocks, block_size, Hkv, D]; must not write one element twice */
    clattn_tensor v_cache; /**< [num_blocks, block_size, Hkv, Dv]; must not write one element twice */
    int64_t kv_block_size;      /**< rows per block: a power of two >= 16, = k_cache/v_cache dim 1 */
    int64_t max_blocks_per_seq; /**< block_table dim 1, >= 1 */
    /** Element type of all four views (CLATTN_DTYPE_F32 default, CLATTN_DTYPE_F16, CLATTN_DTYPE_BF16): rows
     *  are copied bit for bit, no conversion. */
    clattn_dtype data_type;
} clattn_kv_append_desc;

/**
 * Sets desc->struct_size = @p struct_size and defaults: contiguous views from the sizes given (k_new
 * [batch, num_kv_heads, new_len, head_dim], v_new [.., v_head_dim], k_cache [num_blocks, block_size,
 * num_kv_heads, head_dim], v_cache [.., v_head_dim]), kv_block_size = block_size, max_blocks_per_seq, float32.
 * Bytes beyond the library's sizeof, up to struct_size, are zeroed. Accepts NULL (does nothing).
 */
CLATTN_API void clattn_kv_append_desc_init_sized(clattn_kv_append_desc *desc, size_t struct_size, int64_t batch,
                                                 int64_t num_kv_heads, int64_t new_len, int64_t head_dim,
                                                 int64_t v_head_dim, int64_t num_blocks, int64_t block_size,
                                                 int64_t max_blocks_per_seq);

/** clattn_kv_append_desc_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_kv_append_desc_init(clattn_kv_append_desc *desc, int64_t batch, int64_t num_kv_heads,
                                              int64_t new_len, int64_t head_dim, int64_t v_head_dim,
                                              int64_t num_blocks, int64_t block_size, int64_t max_blocks_per_seq)
{
    clattn_kv_append_desc_init_sized(desc, sizeof *desc, batch, num_kv_heads, new_len, head_dim, v_head_dim,
                                     num_blocks, block_size, max_blocks_per_seq);
}

typedef struct clattn_kv_append_plan clattn_kv_append_plan;

/**
 * Validates @p desc and prepares the append (on OpenCL, builds its kernel).
 * @param[out] plan  set to NULL on failure; release with clattn_kv_append_plan_destroy().
 * @param[in]  desc  initialised by clattn_kv_append_desc_init(); copied, not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx, plan or desc NULL; a view of the wrong rank or a
 *         dim that disagrees, e.g. "v_cache: dim 2 is 3, expected 4 (num_kv_heads, k_new dim 1)"; kv_block_size
 *         not a power of two >= 16 or not the pools' dim 1; max_blocks_per_seq < 1; sizes that overflow; a pool
 *         view that writes one element twice; a bad data_type; desc->struct_size too small);
 *         CLATTN_ERROR_UNSUPPORTED (a backend without append, named in the message; desc->struct_size larger
 *         than this library's and a field it lacks is nonzero); CLATTN_ERROR_KERNEL_BUILD; CLATTN_ERROR_OPENCL;
 *         CLATTN_ERROR_OUT_OF_MEMORY; CLATTN_ERROR_IO.
 */
CLATTN_API clattn_status clattn_kv_append_plan_create(clattn_kv_append_plan **plan, clattn_context *ctx,
                                                      const clattn_kv_append_desc *desc);

/** Releases an append plan. Accepts NULL. */
CLATTN_API void clattn_kv_append_plan_destroy(clattn_kv_append_plan *plan);

/**
 * The buffers of one append, by name. Initialise with clattn_kv_append_buffers_init() (struct_size, every
 * pointer NULL; see "## ABI" above). Host pointers: each addresses element 0 of its buffer; views apply from
 * there. All six are required.
 */
typedef struct clattn_kv_append_buffers {
    /** sizeof(clattn_kv_append_buffers) as the caller was compiled; set by clattn_kv_append_buffers_init(). */
    size_t struct_size;
    const void *k_new, *v_new;   /**< float, or uint16_t binary16 / bfloat16 for CLATTN_DTYPE_F16 / _BF16 */
    const int32_t *block_table;  /**< int32 [B, max_blocks_per_seq], row-major, contiguous */
    const int32_t *positions;    /**< int32 [B]: where row 0 of each sequence goes (its length so far) */
    void *k_cache, *v_cache;     /**< the pools, updated in place; may be the same pointer (interleaved views) */
} clattn_kv_append_buffers;

/** Sets b->struct_size = @p struct_size and every pointer to NULL (bytes beyond the library's sizeof, up to
 *  struct_size, zeroed). Accepts NULL (does nothing). */
CLATTN_API void clattn_kv_append_buffers_init_sized(clattn_kv_append_buffers *b, size_t struct_size);

/** clattn_kv_append_buffers_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_kv_append_buffers_init(clattn_kv_append_buffers *b)
{
    clattn_kv_append_buffers_init_sized(b, sizeof *b);
}

/**
 * Writes the new rows into the pools, synchronously, on any backend (OpenCL copies the pools in and out: use
 * clattn_kv_append_enqueue() in clattn_opencl.h to keep them on the device). Every position is checked before
 * anything is written: positions[b] >= 0, positions[b] + Lnew <= max_blocks_per_seq · kv_block_size, and
 * each block_table entry the rows land in within 0..num_blocks-1. Nothing is retained after return.
 * k_cache and v_cache must either be the same pointer or not overlap (the OpenCL copy-back relies on it).
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan, bufs or a buffer NULL; bufs->struct_size out of
 *         range; "positions[1] is 70: rows 70..73 pass max_blocks_per_seq x kv_block_size = 64";
 *         "block_table[1][2] is 9, expected 0..7 (num_blocks - 1)"); CLATTN_ERROR_UNSUPPORTED
 *         (bufs->struct_size larger than this library's with a nonzero field it lacks); CLATTN_ERROR_OPENCL;
 *         CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_kv_append_execute(clattn_kv_append_plan *plan, const clattn_kv_append_buffers *bufs);

/* ------------------------------------------------------------------------------------------ */
/* Multi-head attention module (PyTorch nn.MultiheadAttention semantics, batch first)          */

typedef struct clattn_mha clattn_mha;

/**
 * Weights of a multi-head attention block. All float32, C order, PyTorch nn.Linear layout [out, in].
 *   w_q [E, E], w_k [E, kdim], w_v [E, vdim], w_o [E, E]; biases b_q, b_k, b_v, b_o [E] or NULL.
 * E = embed_dim, head_dim = E / num_heads (E must be a multiple of num_heads).
 * Initialise with clattn_mha_weights_init() (see "## ABI" above). The arrays stay the caller's.
 */
typedef struct clattn_mha_weights {
    /** sizeof(clattn_mha_weights) as the caller was compiled; set by clattn_mha_weights_init(). */
    size_t struct_size;
    int64_t embed_dim, num_heads, kdim, vdim;  /**< kdim/vdim 0 means embed_dim */
    const float *w_q, *w_k, *w_v, *w_o;
    const float *b_q, *b_k, *b_v, *b_o;
} clattn_mha_weights;

/** Sets w->struct_size = @p struct_size and every other field to 0 / NULL (bytes beyond the library's
 *  sizeof, up to struct_size, zeroed). Accepts NULL (does nothing). */
CLATTN_API void clattn_mha_weights_init_sized(clattn_mha_weights *w, size_t struct_size);

/** clattn_mha_weights_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_mha_weights_init(clattn_mha_weights *w)
{
    clattn_mha_weights_init_sized(w, sizeof *w);
}

/**
 * Creates a module; the weights are copied (to the device on OpenCL), so the caller may free them.
 * @param[out] mha  receives the module; set to NULL on failure; release with clattn_mha_destroy().
 * @param[in]  w    initialised by clattn_mha_weights_init(); not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (a NULL argument or required weight, bad sizes,
 *         w->struct_size too small); CLATTN_ERROR_UNSUPPORTED (w->struct_size larger than this library's
 *         and a field it lacks is nonzero); CLATTN_ERROR_OUT_OF_MEMORY; CLATTN_ERROR_OPENCL.
 */
CLATTN_API clattn_status clattn_mha_create(clattn_mha **mha, clattn_context *ctx, const clattn_mha_weights *w);

/** Releases a module. Accepts NULL. */
CLATTN_API void clattn_mha_destroy(clattn_mha *mha);

typedef enum clattn_probs_mode {
    CLATTN_PROBS_NONE = 0,
    CLATTN_PROBS_PER_HEAD = 1, /**< probs [B, H, Lq, Lk] */
    CLATTN_PROBS_AVERAGED = 2  /**< probs [B, Lq, Lk], mean over heads (PyTorch average_attn_weights) */
} clattn_probs_mode;

/**
 * Options for one forward pass. Same masking semantics as clattn_sdpa_desc (H = num_heads,
 * Hkv = H). mask: 4-D [Bm, Hm, Lqm, Lk], each leading dim 1 or full; its strides are honoured.
 * Initialise with clattn_mha_options_init() (see "## ABI" above).
 */
typedef struct clattn_mha_options {
    /** sizeof(clattn_mha_options) as the caller was compiled; set by clattn_mha_options_init(). */
    size_t struct_size;
    float scale;               /**< 0 means 1/sqrt(head_dim) */
    float softcap;             /**< 0 = off */
    clattn_causal causal;
    int64_t window_left, window_right; /**< -1 unbounded (set by clattn_mha_options_init) */
    clattn_mask_kind mask_kind;
    clattn_tensor mask;
    clattn_probs_mode probs_mode;
} clattn_mha_options;

/** Sets opts->struct_size = @p struct_size and defaults: no mask (mask contiguous [1, 1, 1, 1]),
 *  unbounded window, default scale, no softcap, no causal mask, no probabilities. Bytes beyond the
 *  library's sizeof, up to struct_size, are zeroed. Accepts NULL (does nothing). */
CLATTN_API void clattn_mha_options_init_sized(clattn_mha_options *opts, size_t struct_size);

/** clattn_mha_options_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_mha_options_init(clattn_mha_options *opts)
{
    clattn_mha_options_init_sized(opts, sizeof *opts);
}

/**
 * out = MultiHead(query, key, value) with host arrays, synchronous.
 *   query [B, Lq, E]; key [B, Lk, kdim]; value [B, Lk, vdim] (key/value NULL means self-attention:
 *   both = query, Lk = Lq, which requires kdim = vdim = E); out [B, Lq, E]; all C order.
 *   mask: uint8 or float per opts->mask_kind; kv_lengths: int32 [B] or NULL (key padding);
 *   probs: per opts->probs_mode, or NULL when PROBS_NONE.
 * @param opts NULL means defaults; else initialised by clattn_mha_options_init(). Not retained.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (also opts->struct_size too small, a mask that is
 *         not 4-D); CLATTN_ERROR_UNSUPPORTED (opts->struct_size larger than this library's and a field it
 *         lacks is nonzero); CLATTN_ERROR_OUT_OF_MEMORY; CLATTN_ERROR_OPENCL; CLATTN_ERROR_KERNEL_BUILD.
 */
CLATTN_API clattn_status clattn_mha_forward(clattn_mha *mha, int64_t batch, int64_t q_len, int64_t kv_len,
                                            const float *query, const float *key, const float *value,
                                            const void *mask, const int32_t *kv_lengths,
                                            const clattn_mha_options *opts, float *out, float *probs);

/**
 * The kernel path of the attention in @p mha's last successful clattn_mha_forward() (the path its SDPA plan
 * reports, see clattn_sdpa_plan_path(): "chain", "fused", "fused-gpu", "host-rowwise", "host-fused-<isa>"), for reports
 * and tests. Module-owned storage, valid until the next forward or clattn_mha_destroy(); "" before the
 * first forward and for NULL.
 */
CLATTN_API const char *clattn_mha_path(const clattn_mha *mha);

/* ------------------------------------------------------------------------------------------ */
/* The attention family over views: axial, temporal and area attention (src/core/views_attn.c)  */
/*
 * Three variants that are scaled dot-product attention along one axis of an N-d view, every other axis
 * (except the last, the features) a batch axis. clattn runs them as SDPA plans over re-laid-out 4-D views of
 * the caller's arrays: no copy of the inputs, no mask, the SDPA kernels and paths unchanged (so each
 * inherits SDPA's speed, numerics — see the top of this file — and fp16 support; plan paths as
 * clattn_sdpa_plan_path()). Batch axes are merged into SDPA's two leading dims where their strides allow
 * (axis a merges with the next batch axis b when stride[a] = dims[b]·stride[b] in q, k, v, out and probs); when
 * more than two groups remain (a view whose batch axes cannot be merged, e.g. permuted or padded), the plan
 * holds one SDPA plan per index of the extra groups, each a view at its own offset (never a copy), and
 * runs them one after the other: *_plan_sdpa_count() says how many. Inputs are bound once per execution
 * (on OpenCL: one copy in and out of each array per execution, as clattn_sdpa_execute does).
 *
 * Common rules: views as clattn_tensor (dims >= 1, strides >= 0 in elements, offset); q and k have the
 * same dims, v the same except the last (Dv), out = v's dims; k and v are never broadcast; scale 0 means
 * 1/sqrt(D); causal along the attention axis (TOP_LEFT and BOTTOM_RIGHT are the same there: Lq = Lk);
 * data_type as clattn_sdpa_desc's (F16 / BF16: q, k, v, out binary16 / bfloat16, probs float32). No mask, kv_lengths,
 * window or softcap (use clattn_sdpa on a view for those). Statuses: as clattn_sdpa_plan_create() and
 * clattn_sdpa_execute(); INVALID_ARGUMENT messages name the field ("axis: 4, expected 0..3").
 * Threads: as SDPA plans (one thread at a time per context).
 */

/**
 * Axial attention (Ho et al., 2019, "Axial Attention in Multidimensional Transformers"): attention along
 * one axis of an N-d view, every other axis but the last a batch axis.
 *   q, k: [d0, .., d{n-2}, D]   v: [d0, .., d{n-2}, Dv]   out: [d0, .., d{n-2}, Dv]   3 <= n <= 8
 *   axis: 0 <= axis <= n-2, the attention axis, L = dims[axis]
 *   probs (optional, float32): q's dims without axis and without the last, then [L, L]
 *     e.g. q [B, H, X, Y, D], axis 2 (along X): probs [B, H, Y, X, X]; axis 3 (along Y): [B, H, X, Y, Y]
 * For each index of the batch axes, out[.., i, .., :] = softmax_j(q_i·k_j·scale)·V_j over j along the axis
 * (j <= i with causal). The two-layer axial block of the paper (row then column attention) is two plans on
 * the same arrays: axis = Y then axis = X, the second taking the first's output (after its projections).
 */
typedef struct clattn_axial_desc {
    /** sizeof(clattn_axial_desc) as the caller was compiled; set by clattn_axial_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;
    int axis;                   /**< the attention axis, 0..ndim-2 */
    clattn_causal causal;       /**< along the axis: NONE (default), TOP_LEFT = BOTTOM_RIGHT (j <= i) */
    float scale;                /**< 0 means 1/sqrt(D); must be finite */
    int want_probs;             /**< nonzero: write the attention weights to probs */
    clattn_tensor probs;        /**< see above; set contiguous by clattn_axial_desc_init */
    clattn_dtype data_type;     /**< of q, k, v, out (default F32) */
    clattn_kernel_path kernel_path; /**< of the SDPA plans (DEFAULT: the context's) */
} clattn_axial_desc;

/** Sets desc->struct_size = @p struct_size and defaults: contiguous q, k, v, out of @p ndim dims @p dims
 *  (v and out too; set their last dim for Dv != D), the given axis, no causal mask, scale 0, no probs (probs
 *  set contiguous), float32, kernel_path DEFAULT. Accepts NULL (does nothing). */
CLATTN_API void clattn_axial_desc_init_sized(clattn_axial_desc *desc, size_t struct_size, int ndim,
                                             const int64_t *dims, int axis);
static inline void clattn_axial_desc_init(clattn_axial_desc *desc, int ndim, const int64_t *dims, int axis)
{
    clattn_axial_desc_init_sized(desc, sizeof *desc, ndim, dims, axis);
}

typedef struct clattn_axial_plan clattn_axial_plan;

/** Validates @p desc and creates its SDPA plan(s). Statuses as clattn_sdpa_plan_create(). */
CLATTN_API clattn_status clattn_axial_plan_create(clattn_axial_plan **plan, clattn_context *ctx,
                                                  const clattn_axial_desc *desc);
/** Releases a plan. Accepts NULL. */
CLATTN_API void clattn_axial_plan_destroy(clattn_axial_plan *plan);
/** The path of its SDPA plans (clattn_sdpa_plan_path(): "fused", "chain", "host-fused-<isa>", ...); "" for NULL. */
CLATTN_API const char *clattn_axial_plan_path(const clattn_axial_plan *plan);
/** How many SDPA plans it runs: 1 when the batch axes merge into two dims, else the product of the
 *  sizes of the groups that did not fit (0 for NULL). */
CLATTN_API int64_t clattn_axial_plan_sdpa_count(const clattn_axial_plan *plan);
/** Runs the plan on host arrays (q, k, v, out float, binary16 or bfloat16 per data_type; probs float32 or NULL unless
 *  want_probs), synchronously. Statuses as clattn_sdpa_execute(). */
CLATTN_API clattn_status clattn_axial_execute(clattn_axial_plan *plan, const void *q, const void *k, const void *v,
                                              void *out, float *probs);
/** One shot: plan_create + execute + plan_destroy. */
CLATTN_API clattn_status clattn_axial(clattn_context *ctx, const clattn_axial_desc *desc, const void *q,
                                      const void *k, const void *v, void *out, float *probs);

/**
 * Temporal attention (Bertasius et al., 2021, "Is Space-Time Attention All You Need for Video
 * Understanding?", TimeSformer's divided space-time attention, its time step): for every spatial position s
 * and head h, attention along the time axis T.
 *   q, k: [B, T, S, C] with C = num_heads·Dh (head h owns channels h·Dh .. h·Dh + Dh - 1),
 *         or 5-D [B, T, S, H, Dh] (num_heads 0 or H) — any strides, so TimeSformer's token order
 *         "b (s t) c" or a fused qkv projection's interleaving are views too
 *   v, out: the same with Dv per head
 *   probs (optional, float32): [B, S, H, T, T]
 * Axial attention along T of the 5-D view [B, T, S, H, Dh] (a contiguous [B, T, S, C] array runs as one SDPA
 * plan [B, S·H, T, Dh]). The spatial step of divided attention is axial attention along S (or SDPA).
 */
typedef struct clattn_temporal_desc {
    /** sizeof(clattn_temporal_desc) as the caller was compiled; set by clattn_temporal_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;
    int64_t num_heads;          /**< heads for 4-D views (C = num_heads·Dh); 0 or dims[3] for 5-D views */
    clattn_causal causal;       /**< along T: NONE or TOP_LEFT = BOTTOM_RIGHT (frame t sees frames <= t) */
    float scale;                /**< 0 means 1/sqrt(Dh) */
    int want_probs;
    clattn_tensor probs;        /**< [B, S, H, T, T] */
    clattn_dtype data_type;
    clattn_kernel_path kernel_path;
} clattn_temporal_desc;

/** Defaults: contiguous [B, T, S, num_heads·head_dim] q, k, v, out, probs contiguous [B, S, H, T, T], no
 *  causal mask, scale 0, no probs, float32. Accepts NULL. */
CLATTN_API void clattn_temporal_desc_init_sized(clattn_temporal_desc *desc, size_t struct_size, int64_t batch,
                                                int64_t frames, int64_t positions, int64_t num_heads,
                                                int64_t head_dim);
static inline void clattn_temporal_desc_init(clattn_temporal_desc *desc, int64_t batch, int64_t frames,
                                             int64_t positions, int64_t num_heads, int64_t head_dim)
{
    clattn_temporal_desc_init_sized(desc, sizeof *desc, batch, frames, positions, num_heads, head_dim);
}

typedef struct clattn_temporal_plan clattn_temporal_plan;
CLATTN_API clattn_status clattn_temporal_plan_create(clattn_temporal_plan **plan, clattn_context *ctx,
                                                     const clattn_temporal_desc *desc);
CLATTN_API void clattn_temporal_plan_destroy(clattn_temporal_plan *plan);
CLATTN_API const char *clattn_temporal_plan_path(const clattn_temporal_plan *plan);
CLATTN_API int64_t clattn_temporal_plan_sdpa_count(const clattn_temporal_plan *plan);
CLATTN_API clattn_status clattn_temporal_execute(clattn_temporal_plan *plan, const void *q, const void *k,
                                                 const void *v, void *out, float *probs);
CLATTN_API clattn_status clattn_temporal(clattn_context *ctx, const clattn_temporal_desc *desc, const void *q,
                                         const void *k, const void *v, void *out, float *probs);

/**
 * Area attention (Tian et al., 2025, "YOLOv12: Attention-Centric Real-Time Object Detectors", the A2 module;
 * ultralytics' AAttn): the N = h·w positions of a feature map, flattened row-major, are split into `area`
 * equal contiguous segments of N / area positions, and each head attends within its segment only.
 *   q, k: [B, N, C] with C = num_heads·Dh, or 4-D [B, N, H, Dh] (num_heads 0 or H); any strides (AAttn's
 *         fused qkv, [B, N, H, 3·Dh] after its view, is three 4-D views at offsets 0, Dh, 2·Dh)
 *   v, out: the same with Dv per head
 *   probs (optional, float32): [B, area, H, N/area, N/area]
 * N must be a multiple of area: otherwise CLATTN_ERROR_INVALID_ARGUMENT ("area: N = 10 is not a multiple
 * of area 4"), as ultralytics' AAttn fails (its qkv.reshape(B * area, N // area, C * 3) raises). area = 1 is
 * plain self-attention over all N positions. Only the attention: AAttn's qkv and proj 1x1 convolutions and
 * its positional-encoding depthwise convolution (pe(v)) stay the caller's. No causal option (an
 * image model's; set causal to NONE).
 */
typedef struct clattn_area_desc {
    /** sizeof(clattn_area_desc) as the caller was compiled; set by clattn_area_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;
    int64_t num_heads;          /**< heads for 3-D views; 0 or dims[2] for 4-D views */
    int64_t area;               /**< segments, >= 1, dividing N (ultralytics' default for YOLO12: 4) */
    float scale;                /**< 0 means 1/sqrt(Dh) (AAttn's head_dim ** -0.5) */
    int want_probs;
    clattn_tensor probs;        /**< [B, area, H, N/area, N/area] */
    clattn_dtype data_type;
    clattn_kernel_path kernel_path;
} clattn_area_desc;

/** Defaults: contiguous [B, N, num_heads·head_dim] q, k, v, out, the given area, probs contiguous
 *  [B, area, H, N/area, N/area] (when area divides N), scale 0, no probs, float32. Accepts NULL. */
CLATTN_API void clattn_area_desc_init_sized(clattn_area_desc *desc, size_t struct_size, int64_t batch,
                                            int64_t positions, int64_t num_heads, int64_t head_dim, int64_t area);
static inline void clattn_area_desc_init(clattn_area_desc *desc, int64_t batch, int64_t positions,
                                         int64_t num_heads, int64_t head_dim, int64_t area)
{
    clattn_area_desc_init_sized(desc, sizeof *desc, batch, positions, num_heads, head_dim, area);
}

typedef struct clattn_area_plan clattn_area_plan;
CLATTN_API clattn_status clattn_area_plan_create(clattn_area_plan **plan, clattn_context *ctx,
                                                 const clattn_area_desc *desc);
CLATTN_API void clattn_area_plan_destroy(clattn_area_plan *plan);
CLATTN_API const char *clattn_area_plan_path(const clattn_area_plan *plan);
CLATTN_API int64_t clattn_area_plan_sdpa_count(const clattn_area_plan *plan);
CLATTN_API clattn_status clattn_area_execute(clattn_area_plan *plan, const void *q, const void *k, const void *v,
                                             void *out, float *probs);
CLATTN_API clattn_status clattn_area(clattn_context *ctx, const clattn_area_desc *desc, const void *q,
                                     const void *k, const void *v, void *out, float *probs);

/* ------------------------------------------------------------------------------------------ */
/* Channel attention: Squeeze-and-Excitation and CBAM's channel module (src/core/channel.c)     */

/** Pooling of channel attention's squeeze step (clattn_channel_attn_desc.pool). Values are pinned. */
typedef enum clattn_channel_pool {
    CLATTN_CHANNEL_POOL_AVG = 0,    /**< Squeeze-and-Excitation: global average pooling */
    CLATTN_CHANNEL_POOL_AVG_MAX = 1 /**< CBAM's channel attention: average and max pooling through the shared MLP */
} clattn_channel_pool;

/**
 * Channel attention (Hu et al., 2018, "Squeeze-and-Excitation Networks"; with CLATTN_CHANNEL_POOL_AVG_MAX,
 * the channel module of Woo et al., 2018, "CBAM: Convolutional Block Attention Module"):
 *   x, out: [B, C, H, W] float32 views (NCHW; any strides, so NHWC data is a view too); out may be x itself
 *           (the same buffer and view: in place), otherwise it must not overlap x
 *   w1 [R, C], b1 [R] (or NULL), w2 [C, R], b2 [C] (or NULL): contiguous float32, nn.Linear layout, which is
 *           also torchvision's SqueezeExcitation fc1/fc2 (1x1 Conv2d) weights [R, C, 1, 1] / [C, R, 1, 1]
 *   scales (optional, float32): [B, C], the gates s below (the attention weights, issue item 8)
 *   avg[b, c] = mean over (h, w) of x[b, c, h, w];  max[b, c] = its maximum (AVG_MAX only)
 *   MLP(p) = w2·relu(w1·p + b1) + b2
 *   AVG:     s[b] = sigmoid(MLP(avg[b]))                      (torchvision.ops.SqueezeExcitation)
 *   AVG_MAX: s[b] = sigmoid(MLP(avg[b]) + MLP(max[b]))        (CBAM; b2 counts once per branch, as a shared
 *                                                              nn.Sequential MLP applied twice does)
 *   out[b, c, h, w] = s[b, c]·x[b, c, h, w]
 * Units: R = C / r for reduction ratio r (any R >= 1 is accepted). Float32 arithmetic (the host path pools in
 * double). NaN: a NaN in batch item b's x (average or max) makes b's scales and outputs NaN and no other
 * item's; max pooling propagates NaN (as torch.amax). Statuses: CLATTN_ERROR_INVALID_ARGUMENT (views, sizes,
 * hidden < 1, a NULL required pointer, bias pointers not matching has_b1/has_b2, struct_size),
 * CLATTN_ERROR_UNSUPPORTED (struct_size of a newer header with nonzero new fields), CLATTN_ERROR_OUT_OF_MEMORY,
 * CLATTN_ERROR_OPENCL, CLATTN_ERROR_KERNEL_BUILD. Paths (clattn_channel_attn_plan_path()): OpenCL "channel"
 * (kernels/channel_attn.cl), host "host-channel" (src/host/channel.c).
 */
typedef struct clattn_channel_attn_desc {
    /** sizeof(clattn_channel_attn_desc) as the caller was compiled; set by clattn_channel_attn_desc_init(). */
    size_t struct_size;
    clattn_tensor x, out;       /**< 4-D [B, C, H, W] */
    int64_t hidden;             /**< R, the squeeze channels (torchvision's squeeze_channels), >= 1 */
    clattn_channel_pool pool;   /**< AVG (default) or AVG_MAX */
    int has_b1, has_b2;         /**< nonzero: b1 / b2 are given at execution (default: both 1) */
    int want_scales;            /**< nonzero: write s to scales */
    clattn_tensor scales;       /**< 2-D [B, C]; set contiguous by clattn_channel_attn_desc_init */
} clattn_channel_attn_desc;

/** Defaults: contiguous [B, C, H, W] x and out, scales [B, C], the given hidden, AVG pooling, both biases,
 *  no scales. Accepts NULL. */
CLATTN_API void clattn_channel_attn_desc_init_sized(clattn_channel_attn_desc *desc, size_t struct_size, int64_t batch,
                                                    int64_t channels, int64_t height, int64_t width, int64_t hidden);
static inline void clattn_channel_attn_desc_init(clattn_channel_attn_desc *desc, int64_t batch, int64_t channels,
                                                 int64_t height, int64_t width, int64_t hidden)
{
    clattn_channel_attn_desc_init_sized(desc, sizeof *desc, batch, channels, height, width, hidden);
}

typedef struct clattn_channel_attn_plan clattn_channel_attn_plan;
/** Validates @p desc (copied; not retained). @param[out] plan NULL on failure; release with
 *  clattn_channel_attn_plan_destroy(). On OpenCL the kernels are compiled at the first execution (then kept
 *  in the context's program cache and the binary cache). */
CLATTN_API clattn_status clattn_channel_attn_plan_create(clattn_channel_attn_plan **plan, clattn_context *ctx,
                                                         const clattn_channel_attn_desc *desc);
/** Releases a plan. Accepts NULL. */
CLATTN_API void clattn_channel_attn_plan_destroy(clattn_channel_attn_plan *plan);
/** "channel" (OpenCL) or "host-channel"; "" for NULL. */
CLATTN_API const char *clattn_channel_attn_plan_path(const clattn_channel_attn_plan *plan);
/** Runs the plan on host arrays, synchronously (OpenCL backends copy in and out). b1 / b2 NULL exactly when
 *  has_b1 / has_b2 is 0; scales NULL unless want_scales. Nothing is retained. */
CLATTN_API clattn_status clattn_channel_attn_execute(clattn_channel_attn_plan *plan, const float *x, const float *w1,
                                                     const float *b1, const float *w2, const float *b2, float *out,
                                                     float *scales);
/** One shot: plan_create + execute + plan_destroy. */
CLATTN_API clattn_status clattn_channel_attn(clattn_context *ctx, const clattn_channel_attn_desc *desc, const float *x,
                                             const float *w1, const float *b1, const float *w2, const float *b2,
                                             float *out, float *scales);

/* ------------------------------------------------------------------------------------------ */
/* Additive (Bahdanau) attention (src/core/additive.c)                                          */

/**
 * Additive attention (Bahdanau, Cho and Bengio, 2015, "Neural Machine Translation by Jointly Learning to Align
 * and Translate", eq. 6 with the alignment model of appendix A.1.2):
 *   e_ij = w_eᵀ·tanh(W_q·q_i + W_k·k_j + bias)      (the paper's vₐᵀ tanh(Wₐ s_{i-1} + Uₐ h_j))
 *   p_ij = softmax over the allowed keys j of (e_ij + additive mask),   out_i = Σ_j p_ij·v_j
 * Shapes (float32 views, any strides):
 *   q [B, Lq, Dq]   k [B, Lk, Dk]   v [B, Lk, Dv]   out [B, Lq, Dv]   probs (optional) [B, Lq, Lk]
 *   mask (optional) [1|B, 1|Lq, Lk] (dims of 1 broadcast), BOOL (nonzero = may attend) or ADDITIVE (-inf = not)
 *   kv_lengths (optional, at execution) int32 [B], 0 <= kv_lengths[b] <= Lk
 * Weights, contiguous float32, nn.Linear layout: w_q [A, Dq], w_k [A, Dk], w_e [A], bias [A] (or NULL).
 * Key j is allowed for query i exactly as in clattn_sdpa_desc (kv_lengths, causal TOP_LEFT / BOTTOM_RIGHT with
 * Lk' = kv_lengths[b], mask); disallowed keys get exactly zero weight (their k and v rows never reach the output); a
 * row with no allowed key outputs zeros (and zero probabilities). NaN stays in its rows as for SDPA.
 * Cost O(B·(Lq·Dq + Lk·Dk)·A) for the projections and O(B·Lq·Lk·A) for the scores; the [Lq, Lk, A] tensor is
 * never formed (each score sums its A terms in a register); workspace (B·(Lq + Lk)·A + B·Lq·Lk floats on
 * OpenCL, the projections only on the host). Float32 arithmetic. Paths (clattn_additive_plan_path()):
 * OpenCL "additive" (kernels/additive.cl), host "host-additive" (src/host/additive.c). Statuses as
 * clattn_sdpa_plan_create() / clattn_sdpa_execute() (INVALID_ARGUMENT names the field and value; UNSUPPORTED
 * on a backend without it, e.g. a multi-device context).
 */
typedef struct clattn_additive_desc {
    /** sizeof(clattn_additive_desc) as the caller was compiled; set by clattn_additive_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;  /**< 3-D, see above */
    int64_t attn_dim;            /**< A, the alignment model's hidden size, >= 1 */
    int has_bias;                /**< nonzero: bias [A] is given at execution (default 1) */
    clattn_causal causal;        /**< NONE (default), TOP_LEFT or BOTTOM_RIGHT, as for SDPA */
    clattn_mask_kind mask_kind;  /**< NONE (default), BOOL or ADDITIVE */
    clattn_tensor mask;          /**< 3-D [1|B, 1|Lq, Lk] when mask_kind != NONE */
    int use_kv_lengths;          /**< nonzero: kv_lengths are given at execution */
    int want_probs;              /**< nonzero: write the attention weights to probs */
    clattn_tensor probs;         /**< 3-D [B, Lq, Lk] */
} clattn_additive_desc;

/** Defaults: contiguous q [B, Lq, Dq], k [B, Lk, Dk], v [B, Lk, Dv], out [B, Lq, Dv], probs [B, Lq, Lk], mask
 *  [1, Lq, Lk]; the given A, a bias, no causal mask, no mask, no kv_lengths, no probs. Accepts NULL. */
CLATTN_API void clattn_additive_desc_init_sized(clattn_additive_desc *desc, size_t struct_size, int64_t batch,
                                                int64_t q_len, int64_t kv_len, int64_t q_dim, int64_t k_dim,
                                                int64_t v_dim, int64_t attn_dim);
static inline void clattn_additive_desc_init(clattn_additive_desc *desc, int64_t batch, int64_t q_len, int64_t kv_len,
                                             int64_t q_dim, int64_t k_dim, int64_t v_dim, int64_t attn_dim)
{
    clattn_additive_desc_init_sized(desc, sizeof *desc, batch, q_len, kv_len, q_dim, k_dim, v_dim, attn_dim);
}

typedef struct clattn_additive_plan clattn_additive_plan;
/** Validates @p desc (copied). @param[out] plan NULL on failure. On OpenCL the kernels are compiled at the first
 *  execution (then cached). */
CLATTN_API clattn_status clattn_additive_plan_create(clattn_additive_plan **plan, clattn_context *ctx,
                                                     const clattn_additive_desc *desc);
CLATTN_API void clattn_additive_plan_destroy(clattn_additive_plan *plan);
/** "additive" (OpenCL) or "host-additive"; "" for NULL. */
CLATTN_API const char *clattn_additive_plan_path(const clattn_additive_plan *plan);
/** Runs the plan on host arrays, synchronously. mask NULL unless mask_kind != NONE (uint8 for BOOL, float for
 *  ADDITIVE); kv_lengths NULL unless use_kv_lengths; bias NULL unless has_bias; probs NULL unless want_probs. */
CLATTN_API clattn_status clattn_additive_execute(clattn_additive_plan *plan, const float *q, const float *k,
                                                 const float *v, const void *mask, const int32_t *kv_lengths,
                                                 const float *w_q, const float *w_k, const float *w_e,
                                                 const float *bias, float *out, float *probs);
/** One shot: plan_create + execute + plan_destroy. */
CLATTN_API clattn_status clattn_additive(clattn_context *ctx, const clattn_additive_desc *desc, const float *q,
                                         const float *k, const float *v, const void *mask, const int32_t *kv_lengths,
                                         const float *w_q, const float *w_k, const float *w_e, const float *bias,
                                         float *out, float *probs);

/* ------------------------------------------------------------------------------------------ */
/* Sparse Sinkhorn attention (src/core/sinkhorn.c)                                              */

/**
 * Sparse Sinkhorn attention (Tay, Bahri, Yang, Metzler and Juan, 2020, "Sparse Sinkhorn Attention", ICML, sec. 3),
 * the non-causal variant with given block-sorting logits. Shapes (4-D views, strides in elements):
 *   q, k: float32 [B, H, L, D]     v, out: float32 [B, H, L, Dv]
 *   sort_logits R: float32 [B, H, nb, nb]     perm (optional output P): float32 [B, H, nb, nb]
 * with L = nb·b for the block size b (block_size >= 1 must divide L: otherwise INVALID_ARGUMENT; no padding).
 * Block j is rows j·b .. j·b + b - 1 along L.
 *   Sinkhorn balancing in log space (the paper's eq. 5-7, S^0 = exp(R / tau)): S = R / tau; then sinkhorn_iters
 *   times: S[i,j] -= logsumexp_j' S[i,j'] (rows), then S[i,j] -= logsumexp_i' S[i',j] (columns); P = exp(S).
 *   With sinkhorn_iters = 0, P = exp(R / tau) unnormalised (S^0); after >= 1 iteration every column of P sums to 1
 *   and the rows approach 1 (a doubly stochastic soft permutation). Computed in double precision.
 *   Soft-sorted blocks: K'_i = sum_j P[i,j]·K_j and V'_i = sum_j P[i,j]·V_j.
 *   Query block i attends to 2b keys, its own block K_i and the sorted block K'_i, under one softmax:
 *   out rows of block i = softmax(scale·q·[K_i; K'_i]ᵀ)·[V_i; V'_i]  (the paper's local + sorted attention).
 * No causal variant (the paper's causal Sinkhorn, with its masked sorting, is absent here), no masks.
 * Special values: a NaN or +-inf in q row i stays in out row i; a NaN in R of (b, h), or in k/v of any block of (b, h),
 * can reach every row of that (b, h) (the soft sort mixes all blocks, 0·NaN = NaN) and no other (b, h). With
 * sinkhorn_iters = 0 a large R / tau overflows exp (inf in P, then inf or NaN in that (b, h)). R = -inf gives
 * P = 0 for that block pair when its row and column also hold a finite logit; a row or column of R entirely -inf
 * (or +inf anywhere) makes that (b, h) NaN.
 * Execution: the Sinkhorn balancing and the soft sort (cost O(B·H·nb²·b·(D + Dv)), workspace B·H·L·(D + 3·Dv + 2)
 * floats) run in core on the host for every backend; the attention runs as two SDPA plans on the context's backend
 * (own block: views [B, H·nb, b, D] of the caller's arrays; sorted block: the workspace copy), each with want_lse, and
 * one merge plan (clattn_merge_*) combines them by log-sum-exp into out. So q·k work is O(B·H·L·2b·(D + Dv)), never
 * L². The [B, H·nb, b, D] views need H = 1, nb = 1, or stride(H) = nb·b·stride(L) in q, k and v (true for
 * C-order arrays; otherwise INVALID_ARGUMENT naming the array). Path (clattn_sinkhorn_plan_path()): the SDPA
 * plans' path ("fused", "fused-gpu", "chain", "host-fused-<isa>", "host-rowwise").
 * Statuses: INVALID_ARGUMENT (a NULL argument, a view of the wrong rank or dims, block_size < 1 or not dividing L,
 * tau not finite and > 0, sinkhorn_iters < 0, scale not finite, a view the [B, H·nb, b, D] form cannot take,
 * desc->struct_size too small; the message names the field and value); UNSUPPORTED (a backend without
 * want_lse SDPA or merge, e.g. a multi-device context without it; desc->struct_size too large with nonzero extra
 * bytes); OUT_OF_MEMORY; and the statuses of clattn_sdpa_plan_create / clattn_sdpa_execute_buffers /
 * clattn_merge_execute.
 */
typedef struct clattn_sinkhorn_desc {
    /** sizeof(clattn_sinkhorn_desc) as the caller was compiled; set by clattn_sinkhorn_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;  /**< 4-D, see above */
    clattn_tensor sort_logits;   /**< 4-D [B, H, nb, nb], float32 */
    int64_t block_size;          /**< b >= 1, divides L */
    float tau;                   /**< Sinkhorn temperature, finite and > 0 (default 1) */
    int sinkhorn_iters;          /**< >= 0 (default 8) */
    float scale;                 /**< 0 (default) means 1/sqrt(D); else finite */
    int want_perm;               /**< nonzero: write P to the perm view at execution */
    clattn_tensor perm;          /**< 4-D [B, H, nb, nb] float32; used when want_perm */
    /** Nonzero: write the attention weights in the compact layout (issue #11 item 8) to the weights view:
     *  weights[b, h, r, t] for query row r in block i = r / b is, for t < b, the weight of its own key i·b + t and,
     *  for b <= t < 2b, the weight of the sorted slot K'_i row t - b; each row sums to 1 (the one softmax over the
     *  2b keys). Needs the SDPA plans to write probabilities (on OpenCL the "chain" path, on the host
     *  "host-rowwise"); clattn_sinkhorn_weights_expand() turns weights + P into dense [B, H, L, L] value weights.
     *  Default 0. */
    int want_weights;
    clattn_tensor weights;       /**< 4-D [B, H, L, 2b] float32; used when want_weights (init: contiguous) */
} clattn_sinkhorn_desc;

/** Defaults: contiguous q, k [B, H, L, D], v, out [B, H, L, Dv], sort_logits and perm [B, H, L/b, L/b] (for b
 *  dividing L; else [B, H, 1, 1], refused at plan creation), the given block_size b, tau 1, 8 iterations, scale 0,
 *  no perm. Accepts NULL. */
CLATTN_API void clattn_sinkhorn_desc_init_sized(clattn_sinkhorn_desc *desc, size_t struct_size, int64_t batch,
                                                int64_t num_heads, int64_t seq_len, int64_t head_dim,
                                                int64_t v_head_dim, int64_t block_size);
static inline void clattn_sinkhorn_desc_init(clattn_sinkhorn_desc *desc, int64_t batch, int64_t num_heads,
                                             int64_t seq_len, int64_t head_dim, int64_t v_head_dim, int64_t block_size)
{
    clattn_sinkhorn_desc_init_sized(desc, sizeof *desc, batch, num_heads, seq_len, head_dim, v_head_dim, block_size);
}

typedef struct clattn_sinkhorn_plan clattn_sinkhorn_plan;
/** Validates @p desc (copied), builds the two SDPA plans and the merge plan and allocates the host workspace.
 *  @param[out] plan NULL on failure; release with clattn_sinkhorn_plan_destroy(). */
CLATTN_API clattn_status clattn_sinkhorn_plan_create(clattn_sinkhorn_plan **plan, clattn_context *ctx,
                                                     const clattn_sinkhorn_desc *desc);
/** Releases a plan. Accepts NULL. */
CLATTN_API void clattn_sinkhorn_plan_destroy(clattn_sinkhorn_plan *plan);
/** The SDPA plans' path (see above); "" for NULL. Valid while the plan lives. */
CLATTN_API const char *clattn_sinkhorn_plan_path(const clattn_sinkhorn_plan *plan);
/** Runs the plan on host arrays (float32, views as in the desc), synchronously; perm NULL unless want_perm.
 *  out and perm must not overlap the inputs. Nothing is retained. Without the compact weights: a plan with
 *  want_weights is refused (INVALID_ARGUMENT); see clattn_sinkhorn_execute_weights(). clattn_sinkhorn() (one shot)
 *  runs this function, so it takes no want_weights desc either. */
CLATTN_API clattn_status clattn_sinkhorn_execute(clattn_sinkhorn_plan *plan, const float *q, const float *k,
                                                 const float *v, const float *sort_logits, float *out, float *perm);
/** clattn_sinkhorn_execute() that also writes the compact weights (weights NULL unless desc.want_weights: then
 *  required). Same statuses. */
CLATTN_API clattn_status clattn_sinkhorn_execute_weights(clattn_sinkhorn_plan *plan, const float *q, const float *k,
                                                         const float *v, const float *sort_logits, float *out,
                                                         float *perm, float *weights);
/**
 * Expands compact Sinkhorn weights (contiguous float32 [B, H, L, 2b], see clattn_sinkhorn_desc.want_weights) and the
 * soft permutation P (contiguous float32 [B, H, nb, nb]) into the dense value weights W, contiguous float32
 * [B, H, L, L], with out = W·V exactly in real arithmetic: for row r in block i and key j·b + t,
 *   W[r, j·b + t] = [j = i]·weights[r, t] + weights[r, b + t]·P[i, j]
 * (for plotting; O(L²) memory per (b, h) by nature). Host-only, needs no context.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (a NULL pointer, a size < 1, block_size not dividing
 *         seq_len, or B·H·L·L overflowing; message via clattn_last_error(NULL)).
 */
CLATTN_API clattn_status clattn_sinkhorn_weights_expand(int64_t batch, int64_t num_heads, int64_t seq_len,
                                                        int64_t block_size, const float *weights, const float *perm,
                                                        float *dense);
/** One shot: plan_create + execute + plan_destroy. */
CLATTN_API clattn_status clattn_sinkhorn(clattn_context *ctx, const clattn_sinkhorn_desc *desc, const float *q,
                                         const float *k, const float *v, const float *sort_logits, float *out,
                                         float *perm);

/* ------------------------------------------------------------------------------------------ */
/* Global-local (Longformer) attention (src/core/global_local.c)                                */

/**
 * Global-local attention (Beltagy, Peters and Cohan, 2020, "Longformer: The Long-Document Transformer",
 * sec. 3.1: sliding window + global attention, non-dilated): key j is allowed for query i iff |i - j| <= window,
 * or i is a global token, or j is a global token; global tokens are given per batch item.
 *   q, k: [B, H, L, D]   v, out: [B, H, L, Dv]   float32 views, any strides (a [B, L, H, D] array is a view)
 *   global_idx (at execution): int32 [B, max_globals], each row's global token indices in 0..L-1, no repeats
 *     within a row, -1 = unused slot (a row may have fewer globals than max_globals; order is free)
 *   with use_global_proj (Longformer's separate query_global / key_global / value_global projections):
 *     q_g, k_g [B, H, L, D], v_g [B, H, L, Dv]: a GLOBAL query row i uses q_g[i] and attends over k_g / v_g of
 *     every key; local rows use q, k, v throughout (also for the global keys they see), as Longformer does
 *   s_ij = q_i·k_j·scale (scale 0 = 1/sqrt(D)); out_i = softmax over the allowed j of s_ij, times v
 * Weights (want_probs), a compact layout with G = max_globals, W = 2·window + 1:
 *   probs [B, H, L, G + W]: row i, column c < G: the weight of global slot c's key (0 for unused slots);
 *     column G + t: the weight of key i - window + t (0 outside 0..L-1 and for a key that is global: its weight
 *     is in its global column, never twice); for a global query row i every column is 0 (its row is below)
 *   global_probs [B, H, G, L]: slot c's global query row over all L keys (rows of unused slots are 0)
 *   clattn_global_local_expand() turns both into dense [B, H, L, L] for plotting.
 * Cost O(B·H·L·(W + G)·(D + Dv)) for the local rows and O(B·H·G·L·(D + Dv)) for the global ones; extra memory
 * O(B·H·L·(W + G)) (score rows; on the host only a row per thread). Paths (clattn_global_local_plan_path()):
 * OpenCL "global-local" (kernels/global_local.cl), host "host-global-local" (src/host/global_local.c). Statuses as
 * SDPA's; INVALID_ARGUMENT also for a global index outside -1..L-1 or repeated in its row (the message names
 * batch item and slot), checked at execution.
 */
typedef struct clattn_global_local_desc {
    /** sizeof(clattn_global_local_desc) as the caller was compiled; set by clattn_global_local_desc_init(). */
    size_t struct_size;
    clattn_tensor q, k, v, out;     /**< 4-D, see above */
    int64_t window;                 /**< one-sided window w >= 0 (Longformer's attention_window / 2) */
    int64_t max_globals;            /**< G >= 0: the columns of global_idx */
    float scale;                    /**< 0 means 1/sqrt(D) */
    int use_global_proj;            /**< nonzero: q_g, k_g, v_g given at execution for the global rows */
    int want_probs;                 /**< nonzero: probs and global_probs (compact layout above) */
    clattn_tensor probs;            /**< [B, H, L, G + 2w + 1] */
    clattn_tensor global_probs;     /**< [B, H, G, L] (ignored when G = 0) */
} clattn_global_local_desc;

/** Defaults: contiguous q, k, v, out [B, H, L, D] (v and out with Dv), the given window and G, scale 0, no
 *  global projections, no probs (probs and global_probs set contiguous). Accepts NULL. */
CLATTN_API void clattn_global_local_desc_init_sized(clattn_global_local_desc *desc, size_t struct_size,
                                                    int64_t batch, int64_t num_heads, int64_t seq_len,
                                                    int64_t head_dim, int64_t v_head_dim, int64_t window,
                                                    int64_t max_globals);
static inline void clattn_global_local_desc_init(clattn_global_local_desc *desc, int64_t batch, int64_t num_heads,
                                                 int64_t seq_len, int64_t head_dim, int64_t v_head_dim, int64_t window,
                                                 int64_t max_globals)
{
    clattn_global_local_desc_init_sized(desc, sizeof *desc, batch, num_heads, seq_len, head_dim, v_head_dim, window,
                                        max_globals);
}

typedef struct clattn_global_local_plan clattn_global_local_plan;
/** Validates @p desc (copied). On OpenCL the kernels are compiled at the first execution (then cached). */
CLATTN_API clattn_status clattn_global_local_plan_create(clattn_global_local_plan **plan, clattn_context *ctx,
                                                         const clattn_global_local_desc *desc);
CLATTN_API void clattn_global_local_plan_destroy(clattn_global_local_plan *plan);
/** "global-local" (OpenCL) or "host-global-local"; "" for NULL. */
CLATTN_API const char *clattn_global_local_plan_path(const clattn_global_local_plan *plan);
/** Runs the plan on host arrays, synchronously. global_idx int32 [B, max_globals] (NULL when max_globals is 0);
 *  q_g, k_g, v_g NULL unless use_global_proj (then read through the same views as q, k, v);
 *  probs, global_probs NULL unless want_probs (global_probs also NULL when max_globals is 0). */
CLATTN_API clattn_status clattn_global_local_execute(clattn_global_local_plan *plan, const float *q, const float *k,
                                                     const float *v, const int32_t *global_idx, const float *q_g,
                                                     const float *k_g, const float *v_g, float *out, float *probs,
                                                     float *global_probs);
/** One shot: plan_create + execute + plan_destroy. */
CLATTN_API clattn_status clattn_global_local(clattn_context *ctx, const clattn_global_local_desc *desc, const float *q,
                                             const float *k, const float *v, const int32_t *global_idx,
                                             const float *q_g, const float *k_g, const float *v_g, float *out,
                                             float *probs, float *global_probs);

/**
 * Expands the compact weights of a global-local execution (contiguous probs [B, H, L, G + 2w + 1] and
 * global_probs [B, H, G, L], as clattn_global_local_desc_init sets them) into dense [B, H, L, L] (C order), for
 * plotting: dense[b, h, i, j] = the weight of key j for query i. Host-only, no context.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (a NULL pointer, sizes < 0 or overflowing, a bad index).
 */
CLATTN_API clattn_status clattn_global_local_expand(int64_t batch, int64_t num_heads, int64_t seq_len, int64_t window,
                                                    int64_t max_globals, const int32_t *global_idx, const float *probs,
                                                    const float *global_probs, float *dense);

/* ------------------------------------------------------------------------------------------ */
/* Kernel table                                                                                */

/**
 * One kernel the library can run: an OpenCL `__kernel` in kernels/<name>.cl, or a host-path stage or kernel
 * (a C function in src/host/). The table lists every one of them, whatever the device present; it is
 * what `clattn kernels` prints, and tests keep it true (tests/test_kernels.c parses kernels/<name>.cl and
 * runs plans on each path). Read-only and library-owned: entries and their strings are static storage,
 * valid for the life of the process; never write to or free them.
 *
 * ABI (see "## ABI" above): struct_size is the library's sizeof(clattn_kernel_entry). Fields are only
 * appended; before reading a field added after 0.2.0, check CLATTN_KERNEL_ENTRY_HAS(e, field).
 */
typedef struct clattn_kernel_entry {
    /** sizeof(clattn_kernel_entry) as the LIBRARY was compiled (fields ending beyond it are absent). */
    size_t struct_size;
    /** "opencl" or "host". */
    const char *backend;
    /** The plan paths that run it, space-separated, as clattn_sdpa_plan_path() reports them ("chain",
     *  "fused", "fused-gpu", "host-rowwise", "host-fused-<isa>"); "mha" for the projections of clattn_mha_forward();
     *  "channel" / "host-channel" as clattn_channel_attn_plan_path() reports them, "additive" /
     *  "host-additive" as clattn_additive_plan_path() does, "global-local" / "host-global-local" as
     *  clattn_global_local_plan_path() does; "merge" for clattn_merge_* (not an SDPA
     *  plan path). */
    const char *paths;
    /** The stage it computes: "scores", "softmax", "weighted_sum", "fused", "pack", "decode",
     *  "decode merge", "fp16 convert", "bias", "gemm", or channel attention's "channel pool", "channel excite",
     *  "channel rescale", additive attention's "additive project", "additive scores", "additive softmax",
     *  "additive row", global-local attention's "global-local local", "global-local global", the merge of partial
     *  states' "merge" (later releases may add stages). */
    const char *stage;
    /** Its source file, relative to the source tree: "kernels/<x>.cl" or "src/<backend>/<x>.c". */
    const char *source;
    /** The entry point: the __kernel name (OpenCL) or the C function (host; also the OpenCL GEMM's
     *  driver, which calls CLBlast). Unique within its backend. */
    const char *entry;
    /** One line: what it computes. */
    const char *description;
} clattn_kernel_entry;

/** Nonzero when entry @p e (a clattn_kernel_entry *) has @p field: the library that filled it knows it. */
#define CLATTN_KERNEL_ENTRY_HAS(e, field) \
    (offsetof(clattn_kernel_entry, field) + sizeof((e)->field) <= (e)->struct_size)

/** @return the number of entries in the kernel table (> 0). Thread-safe; needs no context. */
CLATTN_API size_t clattn_kernel_count(void);

/** @return entry @p i (0 <= i < clattn_kernel_count()) of the kernel table, OpenCL entries first, or NULL
 *  when @p i is out of range. Static storage; thread-safe; needs no context. */
CLATTN_API const clattn_kernel_entry *clattn_kernel_get(size_t i);

/* ------------------------------------------------------------------------------------------ */
/* Kernel plans: what an SDPA plan would build on a device, without building it                */

/**
 * One OpenCL kernel an SDPA plan builds: the program (source files joined in order, built with the
 * options) and the __kernel in it, as the library's planner chose it for a device and a shape. Read-only and
 * library-owned (owned by its clattn_kernel_plan; valid until clattn_kernel_plan_destroy()). struct_size is
 * the LIBRARY's sizeof; fields are only appended (check CLATTN_PLANNED_KERNEL_HAS(k, field) for one added
 * later), as for clattn_kernel_entry.
 */
typedef struct clattn_planned_kernel {
    /** sizeof(clattn_planned_kernel) as the LIBRARY was compiled. */
    size_t struct_size;
    /** The __kernel ("clattn_fused", "clattn_scores", ...): an entry of the kernel table (clattn_kernel_get()). */
    const char *entry;
    /** Its stage, as in the kernel table ("fused", "decode", "decode merge", "scores", "softmax",
     *  "weighted_sum", "fp16 convert"). */
    const char *stage;
    /** The files joined into its program, in the order the library joins them (no separator), relative to
     *  the source tree, space-separated: "kernels/common.cl kernels/fused.cl". */
    const char *sources;
    /** The options passed to clBuildProgram, exactly ("-cl-std=CL1.2 -D DK=64 ..."). */
    const char *options;
    /** One line: why the planner chose this kernel with these options for this device and shape. */
    const char *why;
    /** The plan's path, as clattn_sdpa_plan_path() would report it: "chain", "fused" or "fused-gpu". */
    const char *path;
    /** The device-rules row the device matched (rules.c: "gpu", "pocl", "rusticl", ...). */
    const char *rules;
    /** The kind of device planned for. */
    clattn_device_type device_type;
    /** 0 when the kernel is built with the plan but not launched for this shape (the fused path's merge
     *  kernel when the keys are not split); 1 otherwise. */
    int launched;
    /** Work-group size of its launches; {0, 0, 0} when the driver chooses (clEnqueueNDRangeKernel with a NULL
     *  local size). */
    uint64_t local_size[3];
    /** Bytes of __local memory its declarations take (the planner's figure, from the options). */
    uint64_t local_mem_bytes;
    /** Device workspace the plan allocates (bytes; the same in every entry of a plan, fp16 staging excluded). */
    uint64_t workspace_bytes;
} clattn_planned_kernel;

/** Nonzero when planned kernel @p k (a clattn_planned_kernel *) has @p field (the library knows it). */
#define CLATTN_PLANNED_KERNEL_HAS(k, field) \
    (offsetof(clattn_planned_kernel, field) + sizeof((k)->field) <= (k)->struct_size)

typedef struct clattn_kernel_plan clattn_kernel_plan;

/**
 * Lists the OpenCL kernels clattn_sdpa_plan_create() would build for @p desc on a device, from the same
 * planning code, without building anything (no OpenCL context is created; no kernel is compiled):
 * for reports, for offline compilation and resource checks (tools/gpu_kernel_report.py), and for bug
 * reports from machines the developers do not have.
 * Plan creation on a real device checks each kernel's CL_KERNEL_WORK_GROUP_SIZE and local memory after
 * building it and shrinks a tile the driver refuses; without building, the planner assumes the device's
 * maximum work-group size and its own local-memory figures, so a driver with stricter per-kernel limits can
 * end with smaller tiles than listed here.
 * @param[out] plan   receives the list; NULL on failure. Release with clattn_kernel_plan_destroy().
 * @param[in]  target "profile:<name>" for a device profile (a device class described by its limits, e.g.
 *                    "profile:gpu-amd", "profile:gpu-small", "profile:pocl", "profile:rusticl"; the names are
 *                    in the message of an unknown one), or a device selector as for clattn_context_options.device
 *                    (NULL or "" for the default rule; clattn_device_info.selector picks one enumerated device).
 *                    Under CLATTN_DEVICE_PROFILE (tests), a device target is planned as plan creation would
 *                    plan on it: with the profile applied.
 * @param[in]  desc   as for clattn_sdpa_plan_create(), validated the same way; not retained. float16 and
 *                    bfloat16 plans (data_type CLATTN_DTYPE_F16 / _BF16) list the same kernels, those that
 *                    read q, k, v or write out built with "-D ELEM16=1" / "=2" in options (the 16-bit arrays
 *                    are read and written in place; no conversion kernel).
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan or desc NULL, an invalid desc: the same messages
 *         as clattn_sdpa_plan_create(); an unknown profile, listing the known ones; a malformed selector);
 *         CLATTN_ERROR_UNSUPPORTED (the target is the host path, which builds no OpenCL kernel; a desc
 *         struct_size above the library's with a nonzero field it lacks; no work-group fits the device);
 *         CLATTN_ERROR_DEVICE_NOT_FOUND (the selector matched no device; the message lists the devices);
 *         CLATTN_ERROR_OPENCL (a device query failed); CLATTN_ERROR_OUT_OF_MEMORY (host memory, or one score
 *         row exceeds the device's workspace limit, as plan creation would say). Messages:
 *         clattn_last_error(NULL).
 */
CLATTN_API clattn_status clattn_kernel_plan_create(clattn_kernel_plan **plan, const char *target,
                                                   const clattn_sdpa_desc *desc);

/** Releases a kernel plan and every entry it handed out. Accepts NULL. */
CLATTN_API void clattn_kernel_plan_destroy(clattn_kernel_plan *plan);

/** @return the number of kernels in @p plan (in build order); 0 for NULL. */
CLATTN_API size_t clattn_kernel_plan_count(const clattn_kernel_plan *plan);

/** @return kernel @p i (0 <= i < clattn_kernel_plan_count()) of @p plan, or NULL when out of range or plan is
 *  NULL. Owned by the plan. */
CLATTN_API const clattn_planned_kernel *clattn_kernel_plan_get(const clattn_kernel_plan *plan, size_t i);

#ifdef __cplusplus
}
#endif
#endif /* CLATTN_H */
