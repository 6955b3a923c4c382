/*
 * Merge of partial attention states (clattn_merge_* in clattn.h): validates a clattn_merge_desc into a
 * clattn_merge_problem (internal.h), lets the backend prepare the plan (merge_prepare), and binds host
 * pointers to executions (cl_mem buffers are bound by clattn_merge_enqueue in src/opencl/interop.c, through
 * the backend's merge_run).
 *
 *   parts_out: [P, B, H, L, Dv]   parts_lse: float32 [P, B, H, L]   out: [B, H, L, Dv]   lse: float32 [B, H, L]
 *
 * For each row over the parts with lse_p != -inf: M = max lse_p, w_p = exp(lse_p - M),
 * out = sum w_p·out_p / sum w_p, lse = M + log(sum w_p); no such part: zeros and -inf.
 */
#include "alloc.h"
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clattn_merge_desc_init_sized(clattn_merge_desc *desc, size_t struct_size, int64_t num_parts, int64_t batch,
                                  int64_t num_heads, int64_t q_len, int64_t v_head_dim)
{
    if (!desc) return;
    clattn_merge_desc d;
    memset(&d, 0, sizeof d);
    const int64_t po[5] = {num_parts, batch, num_heads, q_len, v_head_dim};
    const int64_t pl[4] = {num_parts, batch, num_heads, q_len};
    const int64_t lse[3] = {batch, num_heads, q_len};
    d.parts_out = clattn_tensor_contiguous_nd(5, po);
    d.parts_lse = clattn_tensor_contiguous_nd(4, pl);
    d.out = clattn_tensor_contiguous(batch, num_heads, q_len, v_head_dim);
    d.lse = clattn_tensor_contiguous_nd(3, lse);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

/* Checks view name of rank ndim (elements of es bytes) and that its dims are want[0..ndim) (names of them in
 * what[]: "num_parts, parts_out dim 0"). */
static clattn_status check_view(clattn_context *ctx, const char *name, clattn_tensor *t, int ndim, size_t es,
                                int64_t *extent, const int64_t *want, const char *const *what)
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, ndim));
    CLATTN_TRY(clattn_tensor_check(ctx, name, t, es, extent));
    if (want)
        for (int i = 0; i < ndim; i++)
            if (t->dims[i] != want[i])
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld (%s)", name,
                                    i, (long long)t->dims[i], (long long)want[i], what[i]);
    return CLATTN_SUCCESS;
}

static clattn_status merge_validate(clattn_context *ctx, const clattn_merge_desc *d, clattn_merge_problem *p)
{
    memset(p, 0, sizeof *p);
    if (!clattn_dtype_valid((int)d->data_type))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, CLATTN_DTYPE_INVALID_FMT, (int)d->data_type);
    p->data_type = d->data_type;
    const size_t es = clattn_dtype_size(d->data_type);
    p->parts_out = d->parts_out;
    CLATTN_TRY(check_view(ctx, "parts_out", &p->parts_out, 5, es, &p->parts_out_extent, NULL, NULL));
    p->P = p->parts_out.dims[0];
    p->B = p->parts_out.dims[1];
    p->H = p->parts_out.dims[2];
    p->L = p->parts_out.dims[3];
    p->Dv = p->parts_out.dims[4];
    static const char *const lse_what[4] = {"num_parts, parts_out dim 0", "batch, parts_out dim 1",
                                            "num_heads, parts_out dim 2", "q_len, parts_out dim 3"};
    static const char *const out_what[4] = {"batch, parts_out dim 1", "num_heads, parts_out dim 2",
                                            "q_len, parts_out dim 3", "v_head_dim, parts_out dim 4"};
    const int64_t pl[4] = {p->P, p->B, p->H, p->L}, o[4] = {p->B, p->H, p->L, p->Dv};
    p->parts_lse = d->parts_lse;
    CLATTN_TRY(check_view(ctx, "parts_lse", &p->parts_lse, 4, sizeof(float), &p->parts_lse_extent, pl, lse_what));
    p->out = d->out;
    CLATTN_TRY(check_view(ctx, "out", &p->out, 4, es, &p->out_extent, o, out_what));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));
    p->want_lse = d->want_lse != 0;
    if (p->want_lse) {
        p->lse = d->lse;
        CLATTN_TRY(check_view(ctx, "lse", &p->lse, 3, sizeof(float), &p->lse_extent, o, out_what));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "lse", &p->lse));
        p->lse.ndim = 4; /* [B, H, L, 1] like the other 4-D views */
        p->lse.dims[3] = 1;
        p->lse.strides[3] = 0;
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_merge_plan_create(clattn_merge_plan **out, clattn_context *ctx, const clattn_merge_desc *desc)
{
    static const char fn[] = "clattn_merge_plan_create";
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ctx is NULL", fn);
    if (!desc) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    clattn_merge_desc d; /* the caller's desc over the defaults, whatever layout it was compiled with */
    clattn_merge_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_merge_desc, desc, CLATTN_MERGE_DESC_MIN_SIZE, &d));
    if (!ctx->be || !ctx->be->merge_prepare || !ctx->be->merge_run)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "%s: the %s backend cannot merge attention states", fn,
                            ctx->be ? ctx->be->name : "(none)");
    clattn_merge_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    plan->ctx = ctx;
    clattn_status st = merge_validate(ctx, &d, &plan->p);
    if (st == CLATTN_SUCCESS) st = ctx->be->merge_prepare(ctx, plan);
    if (st != CLATTN_SUCCESS) {
        clattn_merge_plan_destroy(plan);
        return st;
    }
    clattn_log(ctx, CLATTN_LOG_INFO, "merge plan [P %lld, B %lld, H %lld, L %lld, Dv %lld, %s]", (long long)plan->p.P,
               (long long)plan->p.B, (long long)plan->p.H, (long long)plan->p.L, (long long)plan->p.Dv,
               clattn_dtype_name(plan->p.data_type));
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_merge_plan_destroy(clattn_merge_plan *plan)
{
    if (!plan) return;
    if (plan->backend_data && plan->ctx->be->merge_release) plan->ctx->be->merge_release(plan->ctx, plan);
    free(plan);
}

clattn_status clattn_merge_check_bindings(clattn_context *ctx, const clattn_merge_problem *p, const char *fn,
                                          const void *parts_out, const void *parts_lse, const void *out,
                                          const void *lse)
{
    const char *missing = !parts_out ? "parts_out" : !parts_lse ? "parts_lse" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    if (p->want_lse != (lse != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: lse is %s but desc.want_lse is %d", fn,
                            lse ? "given" : "NULL", (int)p->want_lse);
    return CLATTN_SUCCESS;
}

/* A staged device copy of one host array (owned by the execution). */
typedef struct mstaged {
    clattn_buf buf;
    bool owned;
} mstaged;

static clattn_status mstage(clattn_context *ctx, mstaged *s, const void *src, size_t bytes)
{
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &s->buf));
    s->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &s->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

/* True when the view covers every element of its extent. */
static bool dense(const clattn_tensor *t, int64_t extent)
{
    return t->offset == 0 && clattn_tensor_numel(t) == extent;
}

clattn_status clattn_merge_execute(clattn_merge_plan *plan, const void *parts_out, const float *parts_lse,
                                   void *out, float *lse)
{
    static const char fn[] = "clattn_merge_execute";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    const clattn_merge_problem *p = &plan->p;
    CLATTN_TRY(clattn_merge_check_bindings(ctx, p, fn, parts_out, parts_lse, out, lse));
    const clattn_sync none = CLATTN_SYNC_NONE;
    if (ctx->be->host_memory) {
        const clattn_merge_bufs b = {{(void *)parts_out, NULL}, {(void *)parts_lse, NULL}, {out, NULL}, {lse, NULL}};
        return ctx->be->merge_run(ctx, plan, &b, &none);
    }
    /* A device backend: stage through device buffers; outputs with gaps are copied in first (so reading the
     * extent back keeps the caller's gap elements, also in place, where the gaps hold other parts). */
    const size_t es = clattn_dtype_size(p->data_type);
    mstaged so = {0}, sl = {0}, sr = {0}, se = {0};
    clattn_status st = mstage(ctx, &so, parts_out, (size_t)p->parts_out_extent * es);
    if (!st) st = mstage(ctx, &sl, parts_lse, (size_t)p->parts_lse_extent * sizeof(float));
    if (!st) st = mstage(ctx, &sr, dense(&p->out, p->out_extent) ? NULL : out, (size_t)p->out_extent * es);
    if (!st && lse)
        st = mstage(ctx, &se, dense(&p->lse, p->lse_extent) ? NULL : lse, (size_t)p->lse_extent * sizeof(float));
    if (!st) {
        const clattn_merge_bufs b = {so.buf, sl.buf, sr.buf, se.buf};
        st = ctx->be->merge_run(ctx, plan, &b, &none);
    }
    if (!st) st = ctx->be->buf_read(ctx, &sr.buf, 0, out, (size_t)p->out_extent * es);
    if (!st && lse) st = ctx->be->buf_read(ctx, &se.buf, 0, lse, (size_t)p->lse_extent * sizeof(float));
    mstaged *all[] = {&so, &sl, &sr, &se};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    return st;
}

clattn_status clattn_merge_states(clattn_context *ctx, const clattn_merge_desc *desc, const void *parts_out,
                                  const float *parts_lse, void *out, float *lse)
{
    clattn_merge_plan *plan = NULL;
    CLATTN_TRY(clattn_merge_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_merge_execute(plan, parts_out, parts_lse, out, lse);
    clattn_merge_plan_destroy(plan);
    return st;
}
