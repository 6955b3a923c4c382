/*
 * Additive (Bahdanau) attention front end (clattn.h, "Additive (Bahdanau) attention"): validates a
 * clattn_additive_desc into a clattn_additive_problem (core/additive.h) and binds host pointers to the backend's
 * additive_run (staged through device buffers on OpenCL, as clattn_sdpa_execute does).
 *
 *   q [B, Lq, Dq]  k [B, Lk, Dk]  v [B, Lk, Dv]  out [B, Lq, Dv]  probs [B, Lq, Lk]  mask [1|B, 1|Lq, Lk]
 *   w_q [A, Dq]  w_k [A, Dk]  w_e [A]  bias [A]
 */
#include "additive.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_additive_plan {
    clattn_context *ctx;
    clattn_additive_problem p;
};

void clattn_additive_desc_init_sized(clattn_additive_desc *desc, size_t struct_size, int64_t batch, int64_t q_len,
                                     int64_t kv_len, int64_t q_dim, int64_t k_dim, int64_t v_dim, int64_t attn_dim)
{
    if (!desc) return;
    clattn_additive_desc d;
    memset(&d, 0, sizeof d);
    const int64_t qd[3] = {batch, q_len, q_dim}, kd[3] = {batch, kv_len, k_dim}, vd[3] = {batch, kv_len, v_dim},
                  od[3] = {batch, q_len, v_dim}, pd[3] = {batch, q_len, kv_len}, md[3] = {1, q_len, kv_len};
    d.q = clattn_tensor_contiguous_nd(3, qd);
    d.k = clattn_tensor_contiguous_nd(3, kd);
    d.v = clattn_tensor_contiguous_nd(3, vd);
    d.out = clattn_tensor_contiguous_nd(3, od);
    d.probs = clattn_tensor_contiguous_nd(3, pd);
    d.mask = clattn_tensor_contiguous_nd(3, md);
    d.attn_dim = attn_dim;
    d.has_bias = 1;
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_ADDITIVE_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_additive_desc, probs)

static clattn_status check3(clattn_context *ctx, const char *name, clattn_tensor *t, size_t es, int64_t *extent)
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, 3));
    return clattn_tensor_check(ctx, name, t, es, extent);
}

static clattn_status want_dim(clattn_context *ctx, const char *name, const clattn_tensor *t, int d, int64_t want,
                              bool or_one, const char *what)
{
    if (t->dims[d] == want || (or_one && t->dims[d] == 1)) return CLATTN_SUCCESS;
    return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %s%lld (%s)", name, d,
                        (long long)t->dims[d], or_one ? "1 or " : "", (long long)want, what);
}

static clattn_status validate(clattn_context *ctx, const clattn_additive_desc *d, clattn_additive_problem *p)
{
    memset(p, 0, sizeof *p);
    p->q = d->q, p->k = d->k, p->v = d->v, p->out = d->out;
    CLATTN_TRY(check3(ctx, "q", &p->q, sizeof(float), &p->q_extent));
    CLATTN_TRY(check3(ctx, "k", &p->k, sizeof(float), &p->k_extent));
    CLATTN_TRY(check3(ctx, "v", &p->v, sizeof(float), &p->v_extent));
    CLATTN_TRY(check3(ctx, "out", &p->out, sizeof(float), &p->out_extent));
    p->B = p->q.dims[0], p->Lq = p->q.dims[1], p->Dq = p->q.dims[2];
    p->Lk = p->k.dims[1], p->Dk = p->k.dims[2], p->Dv = p->v.dims[2];
    CLATTN_TRY(want_dim(ctx, "k", &p->k, 0, p->B, false, "batch, q dim 0"));
    CLATTN_TRY(want_dim(ctx, "v", &p->v, 0, p->B, false, "batch, q dim 0"));
    CLATTN_TRY(want_dim(ctx, "v", &p->v, 1, p->Lk, false, "kv_len, k dim 1"));
    CLATTN_TRY(want_dim(ctx, "out", &p->out, 0, p->B, false, "batch, q dim 0"));
    CLATTN_TRY(want_dim(ctx, "out", &p->out, 1, p->Lq, false, "q_len, q dim 1"));
    CLATTN_TRY(want_dim(ctx, "out", &p->out, 2, p->Dv, false, "v dim 2"));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));
    if (d->attn_dim < 1 || d->attn_dim > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "attn_dim: %lld, expected 1..%d", (long long)d->attn_dim,
                            INT32_MAX);
    p->A = d->attn_dim;
    int64_t w;
    if (!clattn_mul_i64(p->A, p->Dq > p->Dk ? p->Dq : p->Dk, &w) || (uint64_t)w > (uint64_t)SIZE_MAX / 8)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "attn_dim: %lld overflows the weights' size",
                            (long long)p->A);
    if ((int)d->causal < CLATTN_CAUSAL_NONE || (int)d->causal > CLATTN_CAUSAL_BOTTOM_RIGHT)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "causal: %d is not a clattn_causal value", (int)d->causal);
    p->causal = d->causal;
    if ((int)d->mask_kind < CLATTN_MASK_NONE || (int)d->mask_kind > CLATTN_MASK_ADDITIVE)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "mask_kind: %d is not a clattn_mask_kind value",
                            (int)d->mask_kind);
    p->mask_kind = d->mask_kind;
    if (p->mask_kind != CLATTN_MASK_NONE) {
        p->mask = d->mask;
        CLATTN_TRY(check3(ctx, "mask", &p->mask, p->mask_kind == CLATTN_MASK_BOOL ? 1 : sizeof(float), &p->mask_extent));
        CLATTN_TRY(want_dim(ctx, "mask", &p->mask, 0, p->B, true, "batch"));
        CLATTN_TRY(want_dim(ctx, "mask", &p->mask, 1, p->Lq, true, "q_len"));
        CLATTN_TRY(want_dim(ctx, "mask", &p->mask, 2, p->Lk, false, "kv_len"));
    }
    p->has_bias = d->has_bias != 0;
    p->use_kv_lengths = d->use_kv_lengths != 0;
    p->want_probs = d->want_probs != 0;
    if (p->want_probs) {
        p->probs = d->probs;
        CLATTN_TRY(check3(ctx, "probs", &p->probs, sizeof(float), &p->probs_extent));
        CLATTN_TRY(want_dim(ctx, "probs", &p->probs, 0, p->B, false, "batch"));
        CLATTN_TRY(want_dim(ctx, "probs", &p->probs, 1, p->Lq, false, "q_len"));
        CLATTN_TRY(want_dim(ctx, "probs", &p->probs, 2, p->Lk, false, "kv_len"));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "probs", &p->probs));
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_additive_plan_create(clattn_additive_plan **out, clattn_context *ctx,
                                          const clattn_additive_desc *desc)
{
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_additive_plan_create: plan is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_additive_plan_create: ctx is NULL");
    if (!desc) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_additive_plan_create: desc is NULL");
    clattn_additive_desc d;
    clattn_additive_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_additive_desc, desc, CLATTN_ADDITIVE_DESC_MIN_SIZE, &d));
    if (!ctx->be->additive_run)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "additive attention: the %s backend does not have it",
                            ctx->be->name);
    clattn_additive_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_additive_plan_create: out of host memory");
    plan->ctx = ctx;
    clattn_status st = validate(ctx, &d, &plan->p);
    if (st != CLATTN_SUCCESS) {
        free(plan);
        return st;
    }
    const clattn_additive_problem *p = &plan->p;
    clattn_log(ctx, CLATTN_LOG_INFO, "additive plan [B %lld, Lq %lld, Lk %lld, Dq %lld, Dk %lld, Dv %lld, A %lld]: path %s",
               (long long)p->B, (long long)p->Lq, (long long)p->Lk, (long long)p->Dq, (long long)p->Dk,
               (long long)p->Dv, (long long)p->A, ctx->be->additive_path);
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_additive_plan_destroy(clattn_additive_plan *plan)
{
    free(plan);
}

const char *clattn_additive_plan_path(const clattn_additive_plan *plan)
{
    return plan ? plan->ctx->be->additive_path : "";
}

typedef struct staged {
    clattn_buf buf;
    bool owned;
} staged;

static clattn_status stage(clattn_context *ctx, staged *s, const void *src, int64_t elems, size_t es)
{
    size_t bytes = (size_t)elems * es;
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &s->buf));
    s->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &s->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

static bool dense(const clattn_tensor *t, int64_t extent)
{
    return t->offset == 0 && clattn_tensor_numel(t) == extent;
}

clattn_status clattn_additive_execute(clattn_additive_plan *plan, const float *q, const float *k, const float *v,
                                      const void *mask, const int32_t *kv_lengths, const float *w_q, const float *w_k,
                                      const float *w_e, const float *bias, float *out, float *probs)
{
    static const char fn[] = "clattn_additive_execute";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    const clattn_additive_problem *p = &plan->p;
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !w_q ? "w_q" : !w_k ? "w_k" : !w_e ? "w_e" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    struct {
        const char *name;
        bool want;
        const void *ptr;
        const char *field;
    } opt[] = {{"mask", p->mask_kind != CLATTN_MASK_NONE, mask, "mask_kind"},
               {"kv_lengths", p->use_kv_lengths, kv_lengths, "use_kv_lengths"},
               {"bias", p->has_bias, bias, "has_bias"},
               {"probs", p->want_probs, probs, "want_probs"}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i].want != (opt[i].ptr != NULL))
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is %s but desc.%s is %s", fn, opt[i].name,
                                opt[i].ptr ? "given" : "NULL", opt[i].field, opt[i].want ? "set" : "not set");
    if (kv_lengths)
        for (int64_t b = 0; b < p->B; b++)
            if (kv_lengths[b] < 0 || kv_lengths[b] > p->Lk)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "kv_lengths: element %lld is %d, expected 0..%lld (kv_len)", (long long)b,
                                    (int)kv_lengths[b], (long long)p->Lk);
    if (ctx->be->host_memory) {
        clattn_additive_bufs b = {{(void *)q, NULL},   {(void *)k, NULL},   {(void *)v, NULL},
                                  {(void *)mask, NULL}, {(void *)kv_lengths, NULL}, {(void *)w_q, NULL},
                                  {(void *)w_k, NULL}, {(void *)w_e, NULL}, {(void *)bias, NULL},
                                  {out, NULL},         {probs, NULL}};
        return ctx->be->additive_run(ctx, p, &b);
    }
    const size_t f = sizeof(float);
    staged s[11];
    memset(s, 0, sizeof s);
    clattn_status st = stage(ctx, &s[0], q, p->q_extent, f);
    if (!st) st = stage(ctx, &s[1], k, p->k_extent, f);
    if (!st) st = stage(ctx, &s[2], v, p->v_extent, f);
    if (!st && mask) st = stage(ctx, &s[3], mask, p->mask_extent, p->mask_kind == CLATTN_MASK_BOOL ? 1 : f);
    if (!st && kv_lengths) st = stage(ctx, &s[4], kv_lengths, p->B, sizeof(int32_t));
    if (!st) st = stage(ctx, &s[5], w_q, p->A * p->Dq, f);
    if (!st) st = stage(ctx, &s[6], w_k, p->A * p->Dk, f);
    if (!st) st = stage(ctx, &s[7], w_e, p->A, f);
    if (!st && bias) st = stage(ctx, &s[8], bias, p->A, f);
    if (!st) st = stage(ctx, &s[9], dense(&p->out, p->out_extent) ? NULL : out, p->out_extent, f);
    if (!st && probs) st = stage(ctx, &s[10], dense(&p->probs, p->probs_extent) ? NULL : probs, p->probs_extent, f);
    if (!st) {
        clattn_additive_bufs b = {s[0].buf, s[1].buf, s[2].buf, s[3].buf, s[4].buf, s[5].buf,
                                  s[6].buf, s[7].buf, s[8].buf, s[9].buf, s[10].buf};
        st = ctx->be->additive_run(ctx, p, &b);
    }
    if (!st) st = ctx->be->buf_read(ctx, &s[9].buf, 0, out, (size_t)p->out_extent * f);
    if (!st && probs) st = ctx->be->buf_read(ctx, &s[10].buf, 0, probs, (size_t)p->probs_extent * f);
    for (int i = 0; i < 11; i++)
        if (s[i].owned) ctx->be->buf_free(ctx, &s[i].buf);
    return st;
}

clattn_status clattn_additive(clattn_context *ctx, const clattn_additive_desc *desc, const float *q, const float *k,
                              const float *v, const void *mask, const int32_t *kv_lengths, const float *w_q,
                              const float *w_k, const float *w_e, const float *bias, float *out, float *probs)
{
    clattn_additive_plan *plan = NULL;
    CLATTN_TRY(clattn_additive_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_additive_execute(plan, q, k, v, mask, kv_lengths, w_q, w_k, w_e, bias, out, probs);
    clattn_additive_plan_destroy(plan);
    return st;
}
