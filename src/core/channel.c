/*
 * Channel attention front end (clattn.h, "Channel attention"): validates a clattn_channel_attn_desc into a
 * clattn_channel_problem (core/channel.h) and binds host pointers to the backend's channel_run.
 *
 *   x, out: [B, C, H, W]   w1 [R, C]  b1 [R]  w2 [C, R]  b2 [C]   scales: [B, C]
 */
#include "alloc.h"
#include "channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_channel_attn_plan {
    clattn_context *ctx;
    clattn_channel_problem p;
};

void clattn_channel_attn_desc_init_sized(clattn_channel_attn_desc *desc, size_t struct_size, int64_t batch,
                                         int64_t channels, int64_t height, int64_t width, int64_t hidden)
{
    if (!desc) return;
    clattn_channel_attn_desc d;
    memset(&d, 0, sizeof d);
    d.x = clattn_tensor_contiguous(batch, channels, height, width);
    d.out = d.x;
    d.hidden = hidden;
    d.has_b1 = d.has_b2 = 1;
    const int64_t sd[2] = {batch, channels};
    d.scales = clattn_tensor_contiguous_nd(2, sd);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_CHANNEL_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_channel_attn_desc, scales)

static clattn_status validate(clattn_context *ctx, const clattn_channel_attn_desc *d, clattn_channel_problem *p)
{
    memset(p, 0, sizeof *p);
    p->x = d->x;
    p->out = d->out;
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, "x", &p->x, 4));
    CLATTN_TRY(clattn_tensor_check(ctx, "x", &p->x, sizeof(float), &p->x_extent));
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, "out", &p->out, 4));
    CLATTN_TRY(clattn_tensor_check(ctx, "out", &p->out, sizeof(float), &p->out_extent));
    p->B = p->x.dims[0], p->C = p->x.dims[1], p->H = p->x.dims[2], p->W = p->x.dims[3];
    for (int i = 0; i < 4; i++)
        if (p->out.dims[i] != p->x.dims[i])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "out: dim %d is %lld, expected %lld (x's)", i,
                                (long long)p->out.dims[i], (long long)p->x.dims[i]);
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));
    if (d->hidden < 1 || d->hidden > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "hidden: %lld, expected 1..%d (C / reduction ratio)",
                            (long long)d->hidden, INT32_MAX);
    p->R = d->hidden;
    int64_t w_elems;
    if (!clattn_mul_i64(p->R, p->C, &w_elems) || (uint64_t)w_elems > (uint64_t)SIZE_MAX / 8)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "hidden: %lld x %lld channels overflows the weights' size",
                            (long long)p->R, (long long)p->C);
    if ((int)d->pool != CLATTN_CHANNEL_POOL_AVG && (int)d->pool != CLATTN_CHANNEL_POOL_AVG_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "pool: %d is not a clattn_channel_pool value",
                            (int)d->pool);
    p->avg_max = d->pool == CLATTN_CHANNEL_POOL_AVG_MAX;
    p->has_b1 = d->has_b1 != 0;
    p->has_b2 = d->has_b2 != 0;
    p->want_scales = d->want_scales != 0;
    if (p->want_scales) {
        p->scales = d->scales;
        CLATTN_TRY(clattn_tensor_expect_ndim(ctx, "scales", &p->scales, 2));
        CLATTN_TRY(clattn_tensor_check(ctx, "scales", &p->scales, sizeof(float), &p->scales_extent));
        if (p->scales.dims[0] != p->B || p->scales.dims[1] != p->C)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scales: dims are [%lld, %lld], expected [%lld, %lld]",
                                (long long)p->scales.dims[0], (long long)p->scales.dims[1], (long long)p->B,
                                (long long)p->C);
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "scales", &p->scales));
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_channel_attn_plan_create(clattn_channel_attn_plan **out, clattn_context *ctx,
                                              const clattn_channel_attn_desc *desc)
{
    if (!out)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_channel_attn_plan_create: plan is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_channel_attn_plan_create: ctx is NULL");
    if (!desc)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_channel_attn_plan_create: desc is NULL");
    clattn_channel_attn_desc d;
    clattn_channel_attn_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_channel_attn_desc, desc, CLATTN_CHANNEL_DESC_MIN_SIZE, &d));
    if (!ctx->be->channel_run)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "channel attention: the %s backend does not have it",
                            ctx->be->name);
    clattn_channel_attn_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_channel_attn_plan_create: out of host memory");
    plan->ctx = ctx;
    clattn_status st = validate(ctx, &d, &plan->p);
    if (st != CLATTN_SUCCESS) {
        free(plan);
        return st;
    }
    clattn_log(ctx, CLATTN_LOG_INFO, "channel attention plan [B %lld, C %lld, H %lld, W %lld, hidden %lld, %s]: path %s",
               (long long)plan->p.B, (long long)plan->p.C, (long long)plan->p.H, (long long)plan->p.W,
               (long long)plan->p.R, plan->p.avg_max ? "avg+max" : "avg", ctx->be->channel_path);
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_channel_attn_plan_destroy(clattn_channel_attn_plan *plan)
{
    free(plan);
}

const char *clattn_channel_attn_plan_path(const clattn_channel_attn_plan *plan)
{
    return plan ? plan->ctx->be->channel_path : "";
}

typedef struct staged {
    clattn_buf buf;
    bool owned;
} staged;

static clattn_status stage(clattn_context *ctx, staged *s, const void *src, int64_t elems)
{
    size_t bytes = (size_t)elems * sizeof(float);
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &s->buf));
    s->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &s->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

clattn_status clattn_channel_attn_execute(clattn_channel_attn_plan *plan, const float *x, const float *w1,
                                          const float *b1, const float *w2, const float *b2, float *out,
                                          float *scales)
{
    static const char fn[] = "clattn_channel_attn_execute";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    const clattn_channel_problem *p = &plan->p;
    const char *missing = !x ? "x" : !w1 ? "w1" : !w2 ? "w2" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    if (p->has_b1 != (b1 != NULL) || p->has_b2 != (b2 != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is %s but desc.has_%s is %d", fn,
                            p->has_b1 != (b1 != NULL) ? "b1" : "b2",
                            (p->has_b1 != (b1 != NULL) ? b1 : b2) ? "given" : "NULL",
                            p->has_b1 != (b1 != NULL) ? "b1" : "b2",
                            (int)(p->has_b1 != (b1 != NULL) ? p->has_b1 : p->has_b2));
    if (p->want_scales != (scales != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: scales is %s but desc.want_scales is %d", fn,
                            scales ? "given" : "NULL", (int)p->want_scales);
    /* out must be x's exact view (in place) or not overlap it */
    if ((const float *)out == x && !(p->x.offset == p->out.offset && memcmp(p->x.strides, p->out.strides,
                                                                            sizeof p->x.strides) == 0))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: out is x's buffer but not x's view (in place needs the same view)", fn);
    if (ctx->be->host_memory) {
        clattn_channel_bufs b = {{(void *)x, NULL},  {(void *)w1, NULL}, {(void *)b1, NULL}, {(void *)w2, NULL},
                                 {(void *)b2, NULL}, {out, NULL},        {scales, NULL}};
        return ctx->be->channel_run(ctx, p, &b);
    }
    const int64_t nw = p->R * p->C;
    staged sx = {0}, s1 = {0}, sb1 = {0}, s2 = {0}, sb2 = {0}, so = {0}, ss = {0};
    clattn_status st = stage(ctx, &sx, x, p->x_extent);
    if (!st) st = stage(ctx, &s1, w1, nw);
    if (!st && b1) st = stage(ctx, &sb1, b1, p->R);
    if (!st) st = stage(ctx, &s2, w2, nw);
    if (!st && b2) st = stage(ctx, &sb2, b2, p->C);
    const bool out_dense = p->out.offset == 0 && clattn_tensor_numel(&p->out) == p->out_extent;
    if (!st) st = stage(ctx, &so, out_dense ? NULL : out, p->out_extent);
    if (!st && scales) {
        const bool dense = p->scales.offset == 0 && clattn_tensor_numel(&p->scales) == p->scales_extent;
        st = stage(ctx, &ss, dense ? NULL : scales, p->scales_extent);
    }
    if (!st) {
        clattn_channel_bufs b = {sx.buf, s1.buf, sb1.buf, s2.buf, sb2.buf, so.buf, ss.buf};
        st = ctx->be->channel_run(ctx, p, &b);
    }
    if (!st) st = ctx->be->buf_read(ctx, &so.buf, 0, out, (size_t)p->out_extent * sizeof(float));
    if (!st && scales) st = ctx->be->buf_read(ctx, &ss.buf, 0, scales, (size_t)p->scales_extent * sizeof(float));
    staged *all[] = {&sx, &s1, &sb1, &s2, &sb2, &so, &ss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    return st;
}

clattn_status clattn_channel_attn(clattn_context *ctx, const clattn_channel_attn_desc *desc, const float *x,
                                  const float *w1, const float *b1, const float *w2, const float *b2, float *out,
                                  float *scales)
{
    clattn_channel_attn_plan *plan = NULL;
    CLATTN_TRY(clattn_channel_attn_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_channel_attn_execute(plan, x, w1, b1, w2, b2, out, scales);
    clattn_channel_attn_plan_destroy(plan);
    return st;
}
