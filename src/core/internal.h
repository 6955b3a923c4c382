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

#endif /* CLATTN_INTERNAL_H */
