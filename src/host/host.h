/*
 * Private to the host backend: what backend.c (context, buffers, dispatch), rowwise.c (the row-by-row
 * driver) and its stage files share. The stage files mirror kernels/:
 *   scores.c        S = masked softcap(q·kᵀ·scale) + additive mask  (-inf where not allowed)
 *   softmax.c       P = stable softmax(S) per row, in place; the probabilities row for probs
 *   weighted_sum.c  out = P·V, skipping zero-probability keys
 *   gemm.c          nn.Linear through BLAS (the only cblas.h include)
 *   merge.c         merge of partial attention states (clattn_merge_*), row blocks over the pool
 *   kv_append.c     paged KV cache append (clattn_kv_append_*): row copies into the block pools
 * All of them are built at -O3 (src/CMakeLists.txt). Not installed.
 */
#ifndef CLATTN_HOST_HOST_H
#define CLATTN_HOST_HOST_H

#include "backend.h"

#include "fp16.h"
#include "fused.h"
#include "pool.h"

#define HOST_KB 16             /* keys per packed chunk (width of the score micro-kernel) */
#define HOST_QB_MAX 32         /* query rows per task */
#define HOST_ALIGN_FLOATS 16   /* 64-byte alignment of every scratch area */

/* ctx->backend_data */
typedef struct host_state {
    host_pool *pool;
    int num_threads;
    float *scratch;        /* num_threads slices of per-thread scratch, shared by all plans */
    size_t scratch_floats; /* capacity */
} host_state;

/* plan->backend_data: tiling of one problem. */
typedef struct host_plan {
    bool fused;         /* run the fused kernel (fused.h) with `fused_plan`; else the fields below */
    host_fused_plan fused_plan;
    int64_t qb;        /* query rows per task */
    int64_t n_qblocks; /* ceil(Lq / qb) */
    int64_t n_tasks;   /* B * Hq * n_qblocks */
    int64_t lds;       /* row stride of the score scratch: Lk rounded up to HOST_KB */
    /* per-thread slice layout, in floats */
    size_t off_q, off_kt, off_s, off_acc, thread_floats;
    size_t shared_floats; /* scratch before the per-thread slices (fused path: packed K/V) */
} host_plan;

/* One row-by-row run: the problem, its tiling, the scratch and the bound host buffers (absent ones NULL). */
typedef struct host_rowwise_args {
    const clattn_sdpa_problem *p;
    const host_plan *hp;
    float *scratch;
    const void *q, *k, *v; /* float, or binary16 / bfloat16 (uint16_t) per p->data_type: read in place (host_ld) */
    const uint8_t *mask_bool;
    const void *mask_add; /* float / uint16_t per p->mask_type (host_mask_add_row) */
    const int32_t *kv_lengths;
    const int32_t *block_table; /* NULL unless p->paged (host_kv_off in fused.h) */
    void *out;                  /* p->data_type, as q (host_st rounds 16-bit results to nearest even) */
    float *probs;
    float *lse; /* NULL unless want_lse */
} host_rowwise_args;

/* Element idx of a q / k / v / out array of data type dt, widened exactly to float; and a float stored into one
 * (16-bit types rounded to nearest, ties to even: common/fp16.h). The row-by-row path reads 16-bit data in place
 * with these, so its plans need no float32 copies (no staging). */
static inline float host_ld(const void *base, clattn_dtype dt, int64_t idx)
{
    if (dt == CLATTN_DTYPE_F16) return clattn_half_to_float(((const uint16_t *)base)[idx]);
    if (dt == CLATTN_DTYPE_BF16) return clattn_bf16_to_float(((const uint16_t *)base)[idx]);
    return ((const float *)base)[idx];
}

static inline void host_st(void *base, clattn_dtype dt, int64_t idx, float x)
{
    if (dt == CLATTN_DTYPE_F16) ((uint16_t *)base)[idx] = clattn_float_to_half(x);
    else if (dt == CLATTN_DTYPE_BF16) ((uint16_t *)base)[idx] = clattn_float_to_bf16(x);
    else ((float *)base)[idx] = x;
}

/* ---- rowwise.c ---------------------------------------------------------------------------------- */

/* Chooses the row-by-row tiling and the scratch layout of p for num_threads threads. */
clattn_status host_rowwise_plan(clattn_context *ctx, const clattn_sdpa_problem *p, int num_threads, host_plan *hp);

/* Runs the row-by-row path on the pool (one task per (b, h, block of qb query rows)). */
void host_rowwise_run(host_pool *pool, const host_rowwise_args *a);

struct clattn_channel_problem;
struct clattn_channel_bufs;
/* Channel attention (channel.c): the backend's channel_run slot (path "host-channel"). */
clattn_status host_channel_run(clattn_context *ctx, const struct clattn_channel_problem *p,
                               const struct clattn_channel_bufs *bufs);

struct clattn_additive_problem;
struct clattn_additive_bufs;
/* Additive attention (additive.c): the backend's additive_run slot (path "host-additive"). */
clattn_status host_additive_run(clattn_context *ctx, const struct clattn_additive_problem *p,
                                const struct clattn_additive_bufs *bf);

struct clattn_global_local_problem;
struct clattn_global_local_bufs;
/* Global-local attention (global_local.c): the backend's global_local_run slot (path "host-global-local"). */
clattn_status host_global_local_run(clattn_context *ctx, const struct clattn_global_local_problem *p,
                                    const struct clattn_global_local_bufs *bf);

/* ---- scores.c ------------------------------------------------------------------------------------ */

/* Key range [lo, hi) allowed for query row i by lk (= Lk'), causal and window (masks come later).
 * Shared with the fused kernels (fused_kernel.c), hence inline here. */
static inline void host_row_range(const clattn_sdpa_problem *p, int64_t i, int64_t lk, int64_t *lo, int64_t *hi)
{
    int64_t a = 0, e = lk;
    const int64_t ip = i + lk - p->Lq; /* bottom-right aligned query position, may be negative */
    if (p->causal == CLATTN_CAUSAL_TOP_LEFT) {
        if (i + 1 < e) e = i + 1;
    } else if (p->causal == CLATTN_CAUSAL_BOTTOM_RIGHT) {
        if (ip + 1 < e) e = ip + 1;
    }
    /* j >= ip - wl and j <= ip + wr, written without overflow for huge window sizes */
    if (p->window_left >= 0 && ip - a > p->window_left) a = ip - p->window_left;
    if (p->window_right >= 0 && e - 1 - ip > p->window_right) e = ip + p->window_right + 1;
    if (e < a) e = a;
    *lo = a;
    *hi = e;
}

/* Raw scores q·kᵀ of query rows i0 .. i0+rows-1 of (b, h) (kv head hk) for the keys [lo[r], hi[r]) of
 * each row r (rows with hi <= lo are skipped), into sc[r * lds + j]; keys are packed transposed in
 * chunks of HOST_KB aligned to HOST_KB (so stores stay inside lds), covering [jlo, jhi). qpack: [rows][D]
 * and kt: [D][HOST_KB] scratch. */
void host_scores_block(const host_rowwise_args *a, int64_t b, int64_t h, int64_t hk, int64_t i0, int64_t rows,
                       const int64_t *lo, const int64_t *hi, int64_t jlo, int64_t jhi, float *restrict qpack,
                       float *restrict kt, float *restrict sc, int64_t lds);

/* s[l, e) of query row i of (b, h): times scale, then softcap, then the mask (-inf where not allowed;
 * an additive -inf stays -inf). e > l. */
void host_scores_finish_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t i, int64_t l, int64_t e,
                            float *restrict s);

/* ---- softmax.c ------------------------------------------------------------------------------------- */

/* Stable softmax of s[l, e) in place. Returns the end of the weighted range: l when no key has a
 * comparable score (a zero row), else e; a NaN row stays NaN; masked keys get exactly 0. *lse receives
 * the row's log-sum-exp, max + log(sum of exp(s - max)): -inf for a zero row, NaN for a NaN row. */
int64_t host_softmax_row(float *restrict s, int64_t l, int64_t e, float *restrict lse);


/* Probabilities row of query row i of (b, h): s[j] for j in [l, e), exactly 0 elsewhere over [0, Lk). */
void host_probs_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t i, const float *restrict s,
                    int64_t l, int64_t e);

/* ---- weighted_sum.c --------------------------------------------------------------------------------- */

/* Output row i of (b, h) (kv head hk): sum over j in [l, e) of w[j] · v_j, accumulated in acc[0, Dv);
 * zeros when e <= l. A key with w[j] == 0 is skipped (its V row is never read). */
void host_weighted_sum_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t hk, int64_t i,
                           const float *restrict w, int64_t l, int64_t e, float *restrict acc);

/* ---- merge.c ---------------------------------------------------------------------------------------- */

/* The backend's merge_prepare / merge_run slots (see clattn_backend_i in core/backend.h). */
clattn_status host_merge_prepare(clattn_context *ctx, clattn_merge_plan *plan);
clattn_status host_merge_run(clattn_context *ctx, clattn_merge_plan *plan, const clattn_merge_bufs *b,
                             const clattn_sync *sync);

/* ---- kv_append.c ------------------------------------------------------------------------------------ */

/* The backend's kv_append_prepare / kv_append_run slots (core/kv_cache.h): bit-for-bit row copies into the
 * pools on the calling thread; core has checked positions and block entries. */
struct clattn_kv_append_plan;
struct clattn_kv_append_bufs;
clattn_status host_kv_append_prepare(clattn_context *ctx, struct clattn_kv_append_plan *plan);
clattn_status host_kv_append_run(clattn_context *ctx, struct clattn_kv_append_plan *plan,
                                 const struct clattn_kv_append_bufs *b, const clattn_sync *sync);

/* ---- gemm.c ----------------------------------------------------------------------------------------- */

/* The backend's `linear` slot (see clattn_backend_i in core/backend.h): cblas_sgemm plus the bias. */
clattn_status host_linear(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                          int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off, const clattn_buf *bias,
                          int64_t b_off, clattn_buf *y, int64_t y_off, int64_t ldy);

#endif /* CLATTN_HOST_HOST_H */
