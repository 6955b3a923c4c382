/*
 * Scaled dot-product attention front end: validates a clattn_sdpa_desc into a clattn_sdpa_problem,
 * lets the backend prepare a plan, and binds host pointers to executions (cl_mem buffers are bound by
 * clattn_sdpa_enqueue in src/opencl/interop.c, through clattn_sdpa_run_bound below).
 *
 *   q: [B, Hq, Lq, D]   k: [B or 1, Hkv, Lk, D]   v: [B or 1, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 *   mask: [1|B, 1|Hq, 1|Lq, Lk]   probs: [B, Hq, Lq, Lk]   lse: [B, Hq, Lq]   kv_lengths: int32 [B]
 *   paged (kv_layout CLATTN_KV_PAGED): k [NB, bs, Hkv, D], v [NB, bs, Hkv, Dv] pools, block_table int32
 *   [B, max_blocks], Lk = max_blocks * bs (internal.h; fp16 plans stage the whole pools)
 *
 * data_type CLATTN_DTYPE_F16 / CLATTN_DTYPE_BF16 (q, k, v, out in binary16 / bfloat16): a backend that reads
 * 16-bit data itself (clattn_backend_i.native_dtypes: the host's fused and decode kernels) gets the caller's
 * 16-bit views (clattn_sdpa_problem.data_type); for every other path the plan stages q, k, v into contiguous
 * float32 copies, runs the backend's float32 plan on them and rounds its float32 out into the caller's view
 * (see "16-bit staging" below; the backend asks for it per plan with plan->stage_dtype).
 */
#include "alloc.h"
#include "backend.h"
#include "kv_cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clattn_sdpa_desc_init_sized(clattn_sdpa_desc *desc, size_t struct_size, int64_t batch, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                                 int64_t v_head_dim)
{
    if (!desc) return;
    clattn_sdpa_desc d;
    memset(&d, 0, sizeof d);
    d.q = clattn_tensor_contiguous(batch, num_heads, q_len, head_dim);
    d.k = clattn_tensor_contiguous(batch, num_kv_heads, kv_len, head_dim);
    d.v = clattn_tensor_contiguous(batch, num_kv_heads, kv_len, v_head_dim);
    d.out = clattn_tensor_contiguous(batch, num_heads, q_len, v_head_dim);
    d.probs = clattn_tensor_contiguous(batch, num_heads, q_len, kv_len);
    d.mask = clattn_tensor_contiguous(1, 1, q_len, kv_len);
    d.window_left = CLATTN_WINDOW_UNBOUNDED;
    d.window_right = CLATTN_WINDOW_UNBOUNDED;
    const int64_t lse_dims[3] = {batch, num_heads, q_len};
    d.lse = clattn_tensor_contiguous_nd(3, lse_dims);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

void clattn_sdpa_buffers_init_sized(clattn_sdpa_buffers *b, size_t struct_size)
{
    if (!b) return;
    clattn_struct_out(b, struct_size, NULL, sizeof(clattn_sdpa_buffers));
}

/* clattn_tensor_check for one of the 4-D views of an SDPA problem. */
static clattn_status check_tensor(clattn_context *ctx, const char *name, clattn_tensor *t, size_t elem_size,
                                  int64_t *extent)
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, 4));
    return clattn_tensor_check(ctx, name, t, elem_size, extent);
}

static clattn_status expect_dim(clattn_context *ctx, const char *name, const clattn_tensor *t, int dim,
                                int64_t want, const char *what)
{
    if (t->dims[dim] != want)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld (%s)", name, dim,
                            (long long)t->dims[dim], (long long)want, what);
    return CLATTN_SUCCESS;
}

static clattn_status expect_dim_or_one(clattn_context *ctx, const char *name, const clattn_tensor *t, int dim,
                                       int64_t want, const char *what)
{
    if (t->dims[dim] != 1 && t->dims[dim] != want)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected 1 or %lld (%s)", name,
                            dim, (long long)t->dims[dim], (long long)want, what);
    return CLATTN_SUCCESS;
}

/* Bytes of one q/k/v/out element of a validated data_type. */
static size_t dtype_size(clattn_dtype t)
{
    return clattn_dtype_size(t);
}

static clattn_status validate(clattn_context *ctx, const clattn_sdpa_desc *d, clattn_sdpa_problem *p)
{
    memset(p, 0, sizeof *p);
    if (!clattn_dtype_valid((int)d->data_type))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, CLATTN_DTYPE_INVALID_FMT, (int)d->data_type);
    const size_t qkvo_size = dtype_size(d->data_type);
    p->q = d->q;
    p->k = d->k;
    p->v = d->v;
    p->out = d->out;
    CLATTN_TRY(check_tensor(ctx, "q", &p->q, qkvo_size, &p->q_extent));
    CLATTN_TRY(check_tensor(ctx, "k", &p->k, qkvo_size, &p->k_extent));
    CLATTN_TRY(check_tensor(ctx, "v", &p->v, qkvo_size, &p->v_extent));
    CLATTN_TRY(check_tensor(ctx, "out", &p->out, qkvo_size, &p->out_extent));

    p->B = d->q.dims[0];
    p->Hq = d->q.dims[1];
    p->Lq = d->q.dims[2];
    p->D = d->q.dims[3];
    p->Dv = d->v.dims[3];

    if ((int)d->kv_layout != CLATTN_KV_CONTIGUOUS && (int)d->kv_layout != CLATTN_KV_PAGED)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv_layout: %d is not a clattn_kv_layout value (CLATTN_KV_CONTIGUOUS = 0, CLATTN_KV_PAGED = 1)",
                            (int)d->kv_layout);
    p->paged = d->kv_layout == CLATTN_KV_PAGED;
    if (p->paged) { /* k, v: pools [num_blocks, block_size, Hkv, D|Dv] read through block_table [B, max_blocks] */
        CLATTN_TRY(clattn_kv_check_block_size(ctx, d->kv_block_size));
        p->block_size = d->kv_block_size;
        CLATTN_TRY(clattn_kv_check_max_blocks(ctx, d->max_blocks_per_seq, p->block_size, p->B,
                                              &p->block_table_extent));
        p->max_blocks = d->max_blocks_per_seq;
        p->num_blocks = d->k.dims[0];
        p->Hkv = d->k.dims[2];
        p->Lk = p->max_blocks * p->block_size; /* <= INT32_MAX (checked) */
        CLATTN_TRY(expect_dim(ctx, "k", &p->k, 1, p->block_size, "kv_block_size"));
        CLATTN_TRY(expect_dim(ctx, "k", &p->k, 3, p->D, "head_dim, q dim 3"));
        CLATTN_TRY(expect_dim(ctx, "v", &p->v, 0, p->num_blocks, "num_blocks, k dim 0"));
        CLATTN_TRY(expect_dim(ctx, "v", &p->v, 1, p->block_size, "kv_block_size"));
        CLATTN_TRY(expect_dim(ctx, "v", &p->v, 2, p->Hkv, "num_kv_heads, k dim 2"));
        if (!d->use_kv_lengths)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "use_kv_lengths: 0, but a CLATTN_KV_PAGED plan needs each sequence's length "
                                "(set use_kv_lengths and pass kv_lengths)");
    } else {
        p->Hkv = d->k.dims[1];
        p->Lk = d->k.dims[2];
        CLATTN_TRY(expect_dim_or_one(ctx, "k", &p->k, 0, p->B, "batch, q dim 0"));
        CLATTN_TRY(expect_dim(ctx, "k", &p->k, 3, p->D, "head_dim, q dim 3"));
        CLATTN_TRY(expect_dim_or_one(ctx, "v", &p->v, 0, p->B, "batch, q dim 0"));
        CLATTN_TRY(expect_dim(ctx, "v", &p->v, 1, p->Hkv, "num_kv_heads, k dim 1"));
        CLATTN_TRY(expect_dim(ctx, "v", &p->v, 2, p->Lk, "kv_len, k dim 2"));
    }
    if (p->Hq % p->Hkv != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "k: dim %d (num_kv_heads) is %lld, which does not divide num_heads %lld (q dim 1)",
                            p->paged ? 2 : 1, (long long)p->Hkv, (long long)p->Hq);
    CLATTN_TRY(expect_dim(ctx, "out", &p->out, 0, p->B, "batch, q dim 0"));
    CLATTN_TRY(expect_dim(ctx, "out", &p->out, 1, p->Hq, "num_heads, q dim 1"));
    CLATTN_TRY(expect_dim(ctx, "out", &p->out, 2, p->Lq, "q_len, q dim 2"));
    CLATTN_TRY(expect_dim(ctx, "out", &p->out, 3, p->Dv, "v_head_dim, v dim 3"));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));

    if (!isfinite(d->scale))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scale: %s is not finite",
                            isnan(d->scale) ? "NaN" : d->scale > 0 ? "inf" : "-inf"); /* %g would say -nan */
    p->scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)p->D));
    if (!isfinite(d->softcap) || d->softcap < 0.0f)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "softcap: %g, expected 0 (off) or a finite value > 0",
                            isnan(d->softcap) ? (double)NAN : (double)d->softcap); /* NAN: "nan", never "-nan" */
    p->softcap = d->softcap;
    if ((int)d->causal < CLATTN_CAUSAL_NONE || (int)d->causal > CLATTN_CAUSAL_BOTTOM_RIGHT)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "causal: %d is not a clattn_causal value",
                            (int)d->causal);
    p->causal = d->causal;
    if (d->window_left < -1 || d->window_right < -1)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "window_%s: %lld, expected -1 (unbounded) or >= 0",
                            d->window_left < -1 ? "left" : "right",
                            (long long)(d->window_left < -1 ? d->window_left : d->window_right));
    p->window_left = d->window_left;
    p->window_right = d->window_right;

    if ((int)d->mask_kind < CLATTN_MASK_NONE || (int)d->mask_kind > CLATTN_MASK_ADDITIVE)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "mask_kind: %d is not a clattn_mask_kind value",
                            (int)d->mask_kind);
    p->mask_kind = d->mask_kind;
    if (!clattn_dtype_valid((int)d->mask_data_type))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mask_data_type: %d is not a clattn_dtype value (CLATTN_DTYPE_F32 = 0, "
                            "CLATTN_DTYPE_F16 = 1, CLATTN_DTYPE_BF16 = 2)",
                            (int)d->mask_data_type);
    if (p->mask_kind == CLATTN_MASK_BOOL && d->mask_data_type != CLATTN_DTYPE_F32)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "mask_data_type: %d (%s) with a CLATTN_MASK_BOOL mask, which is uint8: expected "
                            "CLATTN_DTYPE_F32 (0); 16-bit types are for CLATTN_MASK_ADDITIVE",
                            (int)d->mask_data_type, clattn_dtype_name(d->mask_data_type));
    p->mask_type = p->mask_kind == CLATTN_MASK_ADDITIVE ? d->mask_data_type : CLATTN_DTYPE_F32;
    if (p->mask_kind != CLATTN_MASK_NONE) {
        p->mask = d->mask;
        size_t es = CLATTN_MASK_ELEM_SIZE(p);
        CLATTN_TRY(check_tensor(ctx, "mask", &p->mask, es, &p->mask_extent));
        CLATTN_TRY(expect_dim_or_one(ctx, "mask", &p->mask, 0, p->B, "batch"));
        CLATTN_TRY(expect_dim_or_one(ctx, "mask", &p->mask, 1, p->Hq, "num_heads"));
        CLATTN_TRY(expect_dim_or_one(ctx, "mask", &p->mask, 2, p->Lq, "q_len"));
        CLATTN_TRY(expect_dim(ctx, "mask", &p->mask, 3, p->Lk, "kv_len"));
    }
    if ((int)d->kernel_path < CLATTN_KERNEL_PATH_DEFAULT || (int)d->kernel_path > CLATTN_KERNEL_PATH_FUSED)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "kernel_path: %d is not a clattn_kernel_path value",
                            (int)d->kernel_path);
    p->kernel_path = d->kernel_path != CLATTN_KERNEL_PATH_DEFAULT ? d->kernel_path : ctx->config.kernel_path;
    if ((int)d->precision != CLATTN_PRECISION_FP32 && (int)d->precision != CLATTN_PRECISION_REDUCED)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "precision: %d is not a clattn_precision value (CLATTN_PRECISION_FP32 = 0, "
                            "CLATTN_PRECISION_REDUCED = 1)",
                            (int)d->precision);
    p->precision = d->precision;
    p->data_type = d->data_type; /* f16_prepare sets F32 when core stages */
    p->use_kv_lengths = d->use_kv_lengths != 0;
    p->want_probs = d->want_probs != 0;
    if (p->want_probs) {
        p->probs = d->probs;
        CLATTN_TRY(check_tensor(ctx, "probs", &p->probs, sizeof(float), &p->probs_extent));
        CLATTN_TRY(expect_dim(ctx, "probs", &p->probs, 0, p->B, "batch"));
        CLATTN_TRY(expect_dim(ctx, "probs", &p->probs, 1, p->Hq, "num_heads"));
        CLATTN_TRY(expect_dim(ctx, "probs", &p->probs, 2, p->Lq, "q_len"));
        CLATTN_TRY(expect_dim(ctx, "probs", &p->probs, 3, p->Lk, "kv_len"));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "probs", &p->probs));
    }
    p->want_lse = d->want_lse != 0;
    if (p->want_lse) {
        p->lse = d->lse;
        CLATTN_TRY(clattn_tensor_expect_ndim(ctx, "lse", &p->lse, 3));
        CLATTN_TRY(clattn_tensor_check(ctx, "lse", &p->lse, sizeof(float), &p->lse_extent));
        CLATTN_TRY(expect_dim(ctx, "lse", &p->lse, 0, p->B, "batch"));
        CLATTN_TRY(expect_dim(ctx, "lse", &p->lse, 1, p->Hq, "num_heads"));
        CLATTN_TRY(expect_dim(ctx, "lse", &p->lse, 2, p->Lq, "q_len"));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "lse", &p->lse));
        p->lse.ndim = 4; /* [B, Hq, Lq, 1]: the backends index it like the other 4-D views */
        p->lse.dims[3] = 1;
        p->lse.strides[3] = 0;
    }
    return CLATTN_SUCCESS;
}

/* ---- 16-bit staging ------------------------------------------------------------------------------
 * A CLATTN_DTYPE_F16 or CLATTN_DTYPE_BF16 plan keeps the caller's 16-bit views here and hands the backend a float32
 * problem over contiguous copies: q, k, v back to back in `in` (q at element 0, k at nq, v at nq + nk),
 * out in `out32`. Each execution converts q, k, v into `in` (exact), runs the float32 path, and converts
 * `out32` into the caller's out view (round to nearest even). Broadcast dims stay broadcast (a k of
 * batch 1 is staged once), so the copies hold exactly the views' elements. */
typedef struct f16_stage {
    clattn_dtype dtype;                                /* CLATTN_DTYPE_F16 or CLATTN_DTYPE_BF16 */
    clattn_tensor q, k, v, out;                        /* the caller's views (normalised, in halfs) */
    int64_t q_extent, k_extent, v_extent, out_extent;  /* halfs each view reaches */
    int64_t nq, nk, nv, no;                            /* elements of each view */
    clattn_buf in, out32;                              /* float32 staging (plan-owned) */
} f16_stage;

/* C-order view of t's dims at element offset off, size-1 dims with stride 0 (as after validation). */
static clattn_tensor staged_view(const clattn_tensor *t, int64_t off)
{
    clattn_tensor s = clattn_tensor_contiguous(t->dims[0], t->dims[1], t->dims[2], t->dims[3]);
    for (int i = 0; i < 4; i++)
        if (s.dims[i] == 1) s.strides[i] = 0;
    s.offset = off;
    return s;
}

/* Rewrites p's q, k, v and out as the staged float32 copies' views (q at 0, k at nq, v at nq + nk; out
 * its own buffer). */
static void stage_views(clattn_sdpa_problem *p, int64_t nq, int64_t nk)
{
    p->q = staged_view(&p->q, 0);
    p->k = staged_view(&p->k, nq);
    p->v = staged_view(&p->v, nq + nk);
    p->out = staged_view(&p->out, 0);
}

static void f16_release(clattn_context *ctx, f16_stage *s)
{
    if (!s) return;
    if (s->in.host || s->in.dev) ctx->be->buf_free(ctx, &s->in);
    if (s->out32.host || s->out32.dev) ctx->be->buf_free(ctx, &s->out32);
    free(s);
}

/* Moves the caller's views of plan->p into a new plan->f16 and rewrites plan->p as the staged float32
 * problem; allocates the staging and builds the conversion kernels. Before the backend's sdpa_prepare. */
static clattn_status f16_prepare(clattn_context *ctx, clattn_sdpa_plan *plan, clattn_dtype dtype)
{
    clattn_sdpa_problem *p = &plan->p;
    f16_stage *s = clattn_calloc(1, sizeof *s);
    if (!s) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
    plan->f16 = s;
    s->dtype = dtype;
    s->q = p->q;
    s->k = p->k;
    s->v = p->v;
    s->out = p->out;
    s->q_extent = p->q_extent;
    s->k_extent = p->k_extent;
    s->v_extent = p->v_extent;
    s->out_extent = p->out_extent;
    s->nq = clattn_tensor_numel(&p->q);
    s->nk = clattn_tensor_numel(&p->k);
    s->nv = clattn_tensor_numel(&p->v);
    s->no = clattn_tensor_numel(&p->out);
    int64_t n_in, bytes_in, bytes_out, total;
    if (!clattn_add_i64(s->nq, s->nk, &n_in) || !clattn_add_i64(n_in, s->nv, &n_in) ||
        !clattn_mul_i64(n_in, (int64_t)sizeof(float), &bytes_in) ||
        !clattn_mul_i64(s->no, (int64_t)sizeof(float), &bytes_out) || !clattn_add_i64(bytes_in, bytes_out, &total) ||
        (uint64_t)total > (uint64_t)SIZE_MAX / 2)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "data_type: the float32 copies of q, k, v and out (%lld + %lld + %lld + %lld elements) "
                            "overflow the addressable size",
                            (long long)s->nq, (long long)s->nk, (long long)s->nv, (long long)s->no);
    stage_views(p, s->nq, s->nk);
    p->data_type = CLATTN_DTYPE_F32;
    p->q_extent = s->nq;
    p->k_extent = s->nq + s->nk;
    p->v_extent = n_in;
    p->out_extent = s->no;
    if (!ctx->be->convert_view)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "data_type: the %s backend cannot convert %s",
                            ctx->be->name, dtype == CLATTN_DTYPE_BF16 ? "bfloat16" : "float16");
    const clattn_sync none = CLATTN_SYNC_NONE;
    CLATTN_TRY(ctx->be->convert_view(ctx, dtype, false, NULL, NULL, NULL, 0, &none));
    CLATTN_TRY(ctx->be->buf_alloc(ctx, (size_t)bytes_in, &s->in));
    CLATTN_TRY(ctx->be->buf_alloc(ctx, (size_t)bytes_out, &s->out32));
    return CLATTN_SUCCESS;
}

static size_t f16_workspace_bytes(const f16_stage *s)
{
    return s ? (size_t)(s->nq + s->nk + s->nv + s->no) * sizeof(float) : 0;
}

/* Enqueues (or, on a synchronous backend, runs) convert q, k, v (the first waits for sync's wait list),
 * the staged float32 plan, and convert out (whose event is returned through sync). u holds the caller's
 * buffers. */
static clattn_status f16_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *u,
                             const clattn_sync *sync)
{
    f16_stage *s = plan->f16;
    const clattn_backend_i *be = ctx->be;
    const clattn_sync first = {sync->num_wait, sync->wait_list, NULL}, none = CLATTN_SYNC_NONE,
                      last = {0, NULL, sync->event};
    CLATTN_TRY(be->convert_view(ctx, s->dtype, false, &s->q, &u->q, &s->in, 0, &first));
    CLATTN_TRY(be->convert_view(ctx, s->dtype, false, &s->k, &u->k, &s->in, s->nq, &none));
    CLATTN_TRY(be->convert_view(ctx, s->dtype, false, &s->v, &u->v, &s->in, s->nq + s->nk, &none));
    clattn_sdpa_bufs b = {s->in, s->in, s->in, u->mask, u->kv_lengths, s->out32, u->probs, u->lse,
                          u->block_table};
    CLATTN_TRY(be->sdpa_run(ctx, plan, &b, &none));
    return be->convert_view(ctx, s->dtype, true, &s->out, &u->out, &s->out32, 0, &last);
}

clattn_status clattn_sdpa_run_bound(clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b, const clattn_sync *sync)
{
    clattn_context *ctx = plan->ctx;
    if (plan->f16) return f16_run(ctx, plan, b, sync);
    return ctx->be->sdpa_run(ctx, plan, b, sync);
}

clattn_sdpa_extents clattn_sdpa_caller_extents(const clattn_sdpa_plan *plan)
{
    const f16_stage *s = plan->f16; /* staged plans: the caller's views; plan->p is the staged problem */
    const clattn_sdpa_problem *p = &plan->p;
    if (s) return (clattn_sdpa_extents){s->q_extent, s->k_extent, s->v_extent, s->out_extent, sizeof(uint16_t)};
    return (clattn_sdpa_extents){p->q_extent, p->k_extent, p->v_extent, p->out_extent, dtype_size(p->data_type)};
}

clattn_status clattn_sdpa_problem_make(clattn_context *ctx, const clattn_sdpa_desc *desc, clattn_sdpa_problem *p,
                                       bool native, clattn_dtype *staged)
{
    clattn_sdpa_desc d; /* the caller's desc over the defaults, whatever layout it was compiled with */
    clattn_sdpa_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_sdpa_desc, desc, CLATTN_SDPA_DESC_MIN_SIZE, &d));
    CLATTN_TRY(validate(ctx, &d, p));
    *staged = native ? CLATTN_DTYPE_F32 : d.data_type;
    if (native) return CLATTN_SUCCESS; /* the caller's views and data_type */
    p->data_type = CLATTN_DTYPE_F32; /* the staged float32 problem */
    if (d.data_type != CLATTN_DTYPE_F32) stage_views(p, clattn_tensor_numel(&p->q), clattn_tensor_numel(&p->k));
    return CLATTN_SUCCESS;
}

clattn_status clattn_sdpa_plan_create(clattn_sdpa_plan **out, clattn_context *ctx, const clattn_sdpa_desc *desc)
{
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_plan_create: plan is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_plan_create: ctx is NULL");
    if (!desc) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_plan_create: desc is NULL");
    clattn_sdpa_desc d; /* the caller's desc over the defaults, whatever layout it was compiled with */
    clattn_sdpa_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_sdpa_desc, desc, CLATTN_SDPA_DESC_MIN_SIZE, &d));
    clattn_sdpa_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
    plan->ctx = ctx;
    snprintf(plan->path, sizeof plan->path, "%s", ctx->be->name); /* until sdpa_prepare names the path */
    clattn_status st = validate(ctx, &d, &plan->p);
    /* 16-bit data: staged here unless the backend reads it itself (native_dtypes: its sdpa_prepare sees the
     * 16-bit problem first and sets plan->stage_dtype for a path that does not read it natively) */
    const bool wide = d.data_type != CLATTN_DTYPE_F32 && !ctx->be->stages_dtypes;
    if (st == CLATTN_SUCCESS && wide && (!ctx->be->native_dtypes || !ctx->be->sdpa_prepare))
        st = f16_prepare(ctx, plan, d.data_type);
    plan->desc = &d;
    if (st == CLATTN_SUCCESS && ctx->be->sdpa_prepare) st = ctx->be->sdpa_prepare(ctx, plan);
    if (st == CLATTN_SUCCESS && plan->stage_dtype) {
        plan->stage_dtype = false;
        st = plan->f16 || plan->backend_data || !wide
                 ? clattn_error(ctx, CLATTN_ERROR_INTERNAL, "sdpa plan: staging asked for a plan that cannot take it")
                 : f16_prepare(ctx, plan, d.data_type);
        if (st == CLATTN_SUCCESS) st = ctx->be->sdpa_prepare(ctx, plan);
    }
    plan->desc = NULL;
    if (st == CLATTN_SUCCESS) plan->workspace_bytes += f16_workspace_bytes(plan->f16);
    if (st != CLATTN_SUCCESS) {
        clattn_sdpa_plan_destroy(plan);
        return st;
    }
    clattn_log(ctx, CLATTN_LOG_INFO, "sdpa plan [B %lld, Hq %lld, Hkv %lld, Lq %lld, Lk %lld, D %lld, Dv %lld]: path %s "
               "(kernel_path %s), workspace %zu bytes", (long long)plan->p.B, (long long)plan->p.Hq,
               (long long)plan->p.Hkv, (long long)plan->p.Lq, (long long)plan->p.Lk, (long long)plan->p.D,
               (long long)plan->p.Dv, plan->path, clattn_kernel_path_name(plan->p.kernel_path), plan->workspace_bytes);
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_sdpa_plan_destroy(clattn_sdpa_plan *plan)
{
    if (!plan) return;
    if (plan->backend_data && plan->ctx->be->sdpa_release) plan->ctx->be->sdpa_release(plan->ctx, plan);
    f16_release(plan->ctx, plan->f16);
    free(plan);
}

size_t clattn_sdpa_plan_workspace_size(const clattn_sdpa_plan *plan)
{
    return plan ? plan->workspace_bytes : 0;
}

const char *clattn_sdpa_plan_path(const clattn_sdpa_plan *plan)
{
    return plan ? plan->path : "";
}

clattn_status clattn_sdpa_check_bindings(clattn_context *ctx, const clattn_sdpa_problem *p, const char *fn,
                                         const void *q, const void *k, const void *v, const void *mask,
                                         const void *kv_lengths, const void *out, const void *probs,
                                         const void *lse, const void *block_table)
{
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    if ((p->mask_kind != CLATTN_MASK_NONE) != (mask != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: mask is %s but desc.mask_kind is %d", fn,
                            mask ? "given" : "NULL", (int)p->mask_kind);
    if (p->use_kv_lengths != (kv_lengths != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: kv_lengths is %s but desc.use_kv_lengths is %d",
                            fn, kv_lengths ? "given" : "NULL", (int)p->use_kv_lengths);
    if (p->want_probs != (probs != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: probs is %s but desc.want_probs is %d", fn,
                            probs ? "given" : "NULL", (int)p->want_probs);
    if (p->want_lse != (lse != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: lse is %s but desc.want_lse is %d%s", fn,
                            lse ? "given" : "NULL", (int)p->want_lse,
                            lse ? "" : " (bind lse with clattn_sdpa_execute_buffers or clattn_sdpa_enqueue_buffers)");
    if (p->paged != (block_table != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: block_table is %s but desc.kv_layout is %s%s", fn,
                            block_table ? "given" : "NULL", p->paged ? "CLATTN_KV_PAGED" : "CLATTN_KV_CONTIGUOUS",
                            block_table ? ""
                                        : " (bind block_table with clattn_sdpa_execute_buffers or "
                                          "clattn_sdpa_enqueue_buffers)");
    return CLATTN_SUCCESS;
}

/* True when the view covers every element of its extent (so reading the extent back writes nothing
 * the caller did not ask for). */
static bool view_is_dense(const clattn_tensor *t, int64_t extent)
{
    return t->offset == 0 && clattn_tensor_numel(t) == extent;
}

typedef struct staged {
    clattn_buf buf;
    bool owned;
} staged;

static clattn_status stage_in(clattn_context *ctx, staged *s, const void *src, int64_t elems, size_t es)
{
    size_t bytes = (size_t)elems * es;
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &s->buf));
    s->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &s->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

/* clattn_sdpa_execute and clattn_sdpa_execute_buffers, for the function named fn. */
static clattn_status sdpa_execute(clattn_sdpa_plan *plan, const clattn_sdpa_buffers *u, const char *fn)
{
    clattn_context *ctx = plan->ctx;
    const clattn_sdpa_problem *p = &plan->p;
    CLATTN_TRY(clattn_sdpa_check_bindings(ctx, p, fn, u->q, u->k, u->v, u->mask, u->kv_lengths, u->out, u->probs,
                                          u->lse, u->block_table));
    const int32_t *kv_lengths = u->kv_lengths;
    if (kv_lengths)
        for (int64_t b = 0; b < p->B; b++)
            if (kv_lengths[b] < 0 || kv_lengths[b] > p->Lk)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "kv_lengths: element %lld is %d, expected 0..%lld (kv_len)", (long long)b,
                                    (int)kv_lengths[b], (long long)p->Lk);
    if (p->paged) /* the entries the backends will read: blocks within each sequence's length */
        for (int64_t b = 0; b < p->B; b++) {
            const int32_t *row = u->block_table + b * p->max_blocks;
            for (int64_t i = 0; i < ((int64_t)kv_lengths[b] + p->block_size - 1) / p->block_size; i++)
                if (row[i] < 0 || row[i] >= p->num_blocks)
                    return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                        "block_table[%lld][%lld] is %d, expected 0..%lld (num_blocks - 1)",
                                        (long long)b, (long long)i, (int)row[i], (long long)(p->num_blocks - 1));
        }

    if (ctx->be == NULL) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "context has no backend");
    const f16_stage *s16 = plan->f16;
    const clattn_sync none = CLATTN_SYNC_NONE;
    if (ctx->be->host_memory) {
        clattn_sdpa_bufs b = {{(void *)u->q, NULL},    {(void *)u->k, NULL},          {(void *)u->v, NULL},
                              {(void *)u->mask, NULL}, {(void *)kv_lengths, NULL},    {u->out, NULL},
                              {u->probs, NULL},        {u->lse, NULL},                {(void *)u->block_table, NULL}};
        return clattn_sdpa_run_bound(plan, &b, &none);
    }

    /* A device backend: stage through device buffers. Outputs with gaps are copied in first so that
     * reading the whole extent back leaves the caller's gap elements unchanged. */
    /* q, k, v and out in the caller's data_type (fp16 plans: the caller's views, plan->p is staged). */
    size_t mask_es = CLATTN_MASK_ELEM_SIZE(p);
    const clattn_sdpa_extents ext = clattn_sdpa_caller_extents(plan);
    const size_t es = ext.elem_size;
    const clattn_tensor *out_view = s16 ? &s16->out : &p->out;
    const int64_t q_ext = ext.q, k_ext = ext.k, v_ext = ext.v, o_ext = ext.out;
    staged sq = {0}, sk = {0}, sv = {0}, sm = {0}, sl = {0}, so = {0}, sp = {0}, se = {0}, sbt = {0};
    clattn_status st = stage_in(ctx, &sq, u->q, q_ext, es);
    if (!st) st = stage_in(ctx, &sk, u->k, k_ext, es);
    if (!st) st = stage_in(ctx, &sv, u->v, v_ext, es);
    if (!st && u->mask) st = stage_in(ctx, &sm, u->mask, p->mask_extent, mask_es);
    if (!st && kv_lengths) st = stage_in(ctx, &sl, kv_lengths, p->B, sizeof(int32_t));
    if (!st && u->block_table) st = stage_in(ctx, &sbt, u->block_table, p->block_table_extent, sizeof(int32_t));
    if (!st) st = stage_in(ctx, &so, view_is_dense(out_view, o_ext) ? NULL : u->out, o_ext, es);
    if (!st && u->probs)
        st = stage_in(ctx, &sp, view_is_dense(&p->probs, p->probs_extent) ? NULL : u->probs, p->probs_extent,
                      sizeof(float));
    if (!st && u->lse)
        st = stage_in(ctx, &se, view_is_dense(&p->lse, p->lse_extent) ? NULL : u->lse, p->lse_extent, sizeof(float));
    if (!st) {
        clattn_sdpa_bufs b = {sq.buf, sk.buf, sv.buf, sm.buf, sl.buf, so.buf, sp.buf, se.buf, sbt.buf};
        st = clattn_sdpa_run_bound(plan, &b, &none);
    }
    if (!st) st = ctx->be->buf_read(ctx, &so.buf, 0, u->out, (size_t)o_ext * es);
    if (!st && u->probs)
        st = ctx->be->buf_read(ctx, &sp.buf, 0, u->probs, (size_t)p->probs_extent * sizeof(float));
    if (!st && u->lse) st = ctx->be->buf_read(ctx, &se.buf, 0, u->lse, (size_t)p->lse_extent * sizeof(float));
    staged *all[] = {&sq, &sk, &sv, &sm, &sl, &so, &sp, &se, &sbt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    return st;
}

clattn_status clattn_sdpa_execute(clattn_sdpa_plan *plan, const void *q, const void *k, const void *v,
                                  const void *mask, const int32_t *kv_lengths, void *out, float *probs)
{
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_execute: plan is NULL");
    clattn_sdpa_buffers u;
    clattn_sdpa_buffers_init(&u);
    u.q = q;
    u.k = k;
    u.v = v;
    u.mask = mask;
    u.kv_lengths = kv_lengths;
    u.out = out;
    u.probs = probs;
    return sdpa_execute(plan, &u, "clattn_sdpa_execute");
}

clattn_status clattn_sdpa_execute_buffers(clattn_sdpa_plan *plan, const clattn_sdpa_buffers *bufs)
{
    static const char fn[] = "clattn_sdpa_execute_buffers";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    if (!bufs) return clattn_error(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: bufs is NULL", fn);
    clattn_sdpa_buffers u; /* the caller's struct over all-NULL defaults, whatever layout it was compiled with */
    clattn_sdpa_buffers_init(&u);
    CLATTN_TRY(CLATTN_STRUCT_IN(plan->ctx, clattn_sdpa_buffers, bufs, CLATTN_SDPA_BUFFERS_MIN_SIZE, &u));
    return sdpa_execute(plan, &u, fn);
}

clattn_status clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc *desc, const void *q, const void *k,
                          const void *v, const void *mask, const int32_t *kv_lengths, void *out, float *probs)
{
    clattn_sdpa_plan *plan = NULL;
    CLATTN_TRY(clattn_sdpa_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_sdpa_execute(plan, q, k, v, mask, kv_lengths, out, probs);
    clattn_sdpa_plan_destroy(plan);
    return st;
}
