/*
 * Core internals every layer above common/ may use: error recording, checked size arithmetic, tensor
 * views and the validated SDPA problem. The backend interface is core/backend.h. No OpenCL types:
 * core is compiled without the OpenCL headers' include path in mind and never names a backend. Not installed.
 */
#ifndef CLATTN_INTERNAL_H
#define CLATTN_INTERNAL_H

#include "clattn.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

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

/* Propagate a non-success status. */
#define CLATTN_TRY(expr)                                                                      \
    do {                                                                                      \
        clattn_status try_status_ = (expr);                                                   \
        if (try_status_ != CLATTN_SUCCESS) return try_status_;                                \
    } while (0)

/* ---- checked size arithmetic -------------------------------------------------------------- */

/* *out = a * b; returns false on overflow or negative operands. */
/* ---- element types (clattn_dtype) ---------------------------------------------------------- */

/* Whether t is a clattn_dtype value. */
static inline bool clattn_dtype_valid(int t)
{
    return t == CLATTN_DTYPE_F32 || t == CLATTN_DTYPE_F16 || t == CLATTN_DTYPE_BF16;
}

/* Bytes of one element of a valid dtype: 4 (float32) or 2 (binary16, bfloat16). */
static inline size_t clattn_dtype_size(clattn_dtype t)
{
    return t == CLATTN_DTYPE_F32 ? 4u : 2u;
}

/* "float32", "float16" or "bfloat16". */
static inline const char *clattn_dtype_name(clattn_dtype t)
{
    return t == CLATTN_DTYPE_F16 ? "float16" : t == CLATTN_DTYPE_BF16 ? "bfloat16" : "float32";
}

/* Bytes of one mask element of a validated problem: 1 (BOOL), 4 or 2 (ADDITIVE per mask_type). */
#define CLATTN_MASK_ELEM_SIZE(p) \
    ((p)->mask_kind == CLATTN_MASK_BOOL ? (size_t)1 : clattn_dtype_size((p)->mask_type))

/* The message of an invalid data_type (every function that takes one says the same). */
#define CLATTN_DTYPE_INVALID_FMT \
    "data_type: %d is not a clattn_dtype value (CLATTN_DTYPE_F32 = 0, CLATTN_DTYPE_F16 = 1, CLATTN_DTYPE_BF16 = 2)"

static inline bool clattn_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool clattn_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* ---- tensor views (core/tensor.c) ------------------------------------------------------------ */

/* Number of elements a tensor view reaches (offset + sum (dims-1)*strides + 1 over its ndim dims), 0 if
 * any dim is 0. Returns false on overflow, a negative dim, stride or offset, or ndim outside
 * 1..CLATTN_MAX_DIMS. */
bool clattn_tensor_extent(const clattn_tensor *t, int64_t *extent);

/* Product of the dims of a checked view (cannot overflow: at most its extent). */
int64_t clattn_tensor_numel(const clattn_tensor *t);

/* Checks a caller's view named name in place: ndim 1..CLATTN_MAX_DIMS, dims 1..INT32_MAX (kernels index
 * with 32-bit ids), strides >= 0, offset >= 0, extent * elem_size within SIZE_MAX / 2; sets *extent and
 * normalises: strides of size-1 dims and everything beyond ndim become 0. INVALID_ARGUMENT naming the
 * field otherwise ("q: dim 2 is 0, expected 1..2147483647"). */
clattn_status clattn_tensor_check(clattn_context *ctx, const char *name, clattn_tensor *t, size_t elem_size,
                                  int64_t *extent);

/* INVALID_ARGUMENT "name: ndim is N, expected want" unless t->ndim == want. */
clattn_status clattn_tensor_expect_ndim(clattn_context *ctx, const char *name, const clattn_tensor *t, int want);

/* An output view must not write one element twice (checked views only); INVALID_ARGUMENT otherwise. */
clattn_status clattn_tensor_check_no_overlap(clattn_context *ctx, const char *name, const clattn_tensor *t);

/* ---- versioned public structs (core/abi.c; "## ABI" in clattn.h) ---------------------------------- */

/* Bytes up to the end of field f of type T: the size of a layout whose last field is f. */
#define CLATTN_SIZE_THROUGH(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))

/* The first release (0.2.0) with struct_size: each struct's size then, as the end of its last field
 * (trailing padding excluded). Frozen: appending fields must not change these. */
#define CLATTN_CONTEXT_OPTIONS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_context_options, num_threads)
#define CLATTN_DEVICE_INFO_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_device_info, max_work_group_size)
#define CLATTN_SDPA_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_sdpa_desc, data_type)
#define CLATTN_MHA_WEIGHTS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_mha_weights, b_o)
#define CLATTN_MHA_OPTIONS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_mha_options, probs_mode)
/* Structs added after 0.2.0: their first layout's size (frozen as well). */
#define CLATTN_SDPA_BUFFERS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_sdpa_buffers, lse)
#define CLATTN_MERGE_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_merge_desc, lse)
#define CLATTN_KV_APPEND_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_kv_append_desc, data_type)
#define CLATTN_KV_APPEND_BUFFERS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_kv_append_buffers, v_cache)

/* The largest struct_size any versioned struct may claim (a page, as Linux's copy_struct_from_user): a
 * garbage struct_size from an uninitialised struct is refused instead of reading or writing past it. */
#define CLATTN_STRUCT_SIZE_MAX ((size_t)4096)

/* Reads a caller's input struct of type `type` (name for messages; init_fn the function to tell the
 * caller about) into *local, which holds the library's defaults and is local_size (= sizeof) bytes:
 * copies min(caller's struct_size, local_size) bytes, then sets local's struct_size to local_size.
 * INVALID_ARGUMENT when struct_size < min_size; UNSUPPORTED when struct_size > local_size and a byte
 * beyond local_size is nonzero. caller NULL: keeps the defaults (SUCCESS). On failure *local is unchanged. */
clattn_status clattn_struct_in(clattn_context *ctx, const char *type, const char *init_fn, const void *caller,
                               size_t min_size, void *local, size_t local_size);
/* clattn_struct_in for a struct of public type T, named T and T_init in messages, into T *local. */
#define CLATTN_STRUCT_IN(ctx, T, caller, min_size, local) \
    clattn_struct_in((ctx), #T, #T "_init", (caller), (min_size), (local), sizeof(T))

/* Writes the library's struct (local, local_size bytes; NULL: all zero) to a caller's of caller_size bytes: copies
 * min(caller_size, local_size) bytes, zeroes bytes beyond local_size up to caller_size, and sets the
 * caller's struct_size to caller_size (when that field fits). */
void clattn_struct_out(void *caller, size_t caller_size, const void *local, size_t local_size);

/* ---- the normalised SDPA problem ------------------------------------------------------------ */

/* A validated problem. Every size (B, Hq, Hkv, Lq, Lk, D, Dv) is >= 1 and <= INT32_MAX — validation
 * rejects empty dims, so backends need no empty-problem branches — and Hq is a multiple of Hkv. Tensors
 * are 4-D and keep the caller's dims/strides/offsets (elements), except that the stride of every dim of
 * size 1 is 0, and mask dims of 1 broadcast (stride 0) over B, Hq and Lq. */
typedef struct clattn_sdpa_problem {
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
    clattn_tensor q, k, v, out, mask, probs;
    float scale;   /* resolved: never 0 */
    float softcap; /* 0 = off */
    clattn_causal causal;
    int64_t window_left, window_right; /* -1 = unbounded */
    clattn_mask_kind mask_kind;
    /* Element type of an ADDITIVE mask (clattn_sdpa_desc.mask_data_type, validated): F32, F16 or BF16; F32
     * for BOOL (uint8) and NONE. Backends read 16-bit masks in place, widening each value exactly. */
    clattn_dtype mask_type;
    bool use_kv_lengths;
    bool want_probs;
    clattn_kernel_path kernel_path; /* resolved: the desc's, else the context's; never DEFAULT */
    /* Element extents of each buffer (how many elements the views reach), for copies. */
    int64_t q_extent, k_extent, v_extent, out_extent, mask_extent, probs_extent;
    /* Log-sum-exp output (want_lse): the caller's 3-D [B, Hq, Lq] view as a 4-D [B, Hq, Lq, 1] one (dim 3 of
     * size 1, stride 0), float32; lse_extent elements. */
    bool want_lse;
    clattn_tensor lse;
    int64_t lse_extent;
    /* clattn_sdpa_desc.precision (validated). A backend path without reduced-precision units ignores it
     * (runs float32); the host's fused tiled path takes its avx512bf16 variant for REDUCED. */
    clattn_precision precision;
    /* Element type of the q, k, v and out views the backend receives: the caller's data_type when the backend
     * reads 16-bit data itself (clattn_backend_i.native_dtypes and the plan did not ask for staging), else
     * CLATTN_DTYPE_F32 (core's staged float32 copies; always F32 for float32 plans). */
    clattn_dtype data_type;
    /* Paged KV cache (CLATTN_KV_PAGED): k and v are the caller's pool views [num_blocks, block_size, Hkv, D]
     * and [num_blocks, block_size, Hkv, Dv] (dims and strides as given, size-1 dims stride 0), not
     * [B, Hkv, Lk, D]; Lk = max_blocks * block_size; use_kv_lengths is true. Element d of key j, kv head h,
     * sequence b (table = the int32 block_table buffer [B, max_blocks]):
     *   k.offset + table[b*max_blocks + j/block_size]*k.strides[0] + (j%block_size)*k.strides[1]
     *            + h*k.strides[2] + d*k.strides[3]
     * Host-bound tables are validated by core for every block within kv_lengths[b]; device-bound ones are not. */
    bool paged;
    int64_t block_size;         /* power of two >= 16 */
    int64_t max_blocks;         /* block_table dim 1 */
    int64_t num_blocks;         /* pool dim 0 */
    int64_t block_table_extent; /* B * max_blocks (int32 elements) */
} clattn_sdpa_problem;

/* ---- the validated merge problem (core/merge.c) ------------------------------------------------ */

/* A validated clattn_merge_desc. Every size is >= 1 and <= INT32_MAX. Views keep the caller's strides and
 * offsets (elements; size-1 dims have stride 0): parts_out 5-D [P, B, H, L, Dv]; parts_lse 4-D [P, B, H, L];
 * out 4-D [B, H, L, Dv]; lse as a 4-D [B, H, L, 1] view (dim 3 stride 0). data_type applies to parts_out and
 * out; the lse views are float32. */
typedef struct clattn_merge_problem {
    int64_t P, B, H, L, Dv;
    clattn_tensor parts_out, parts_lse, out, lse;
    bool want_lse;
    clattn_dtype data_type;
    int64_t parts_out_extent, parts_lse_extent, out_extent, lse_extent; /* elements each view reaches */
} clattn_merge_problem;

#endif /* CLATTN_INTERNAL_H */
