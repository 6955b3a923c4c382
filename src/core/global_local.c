/*
 * Global-local (Longformer) attention front end (clattn.h, "Global-local (Longformer) attention"): validates a
 * clattn_global_local_desc into a clattn_global_local_problem (core/global_local.h), checks each execution's
 * global indices and builds the per-key slot table gslot [B, L] the backends use, binds host pointers (staged
 * through device buffers on OpenCL); and the host-only expansion of the compact weights.
 */
#include "alloc.h"
#include "global_local.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clattn_global_local_plan {
    clattn_context *ctx;
    clattn_global_local_problem p;
};

void clattn_global_local_desc_init_sized(clattn_global_local_desc *desc, size_t struct_size, int64_t batch,
                                         int64_t num_heads, int64_t seq_len, int64_t head_dim, int64_t v_head_dim,
                                         int64_t window, int64_t max_globals)
{
    if (!desc) return;
    clattn_global_local_desc d;
    memset(&d, 0, sizeof d);
    d.q = clattn_tensor_contiguous(batch, num_heads, seq_len, head_dim);
    d.k = d.q;
    d.v = clattn_tensor_contiguous(batch, num_heads, seq_len, v_head_dim);
    d.out = d.v;
    d.window = window;
    d.max_globals = max_globals;
    int64_t cols = 0;
    if (!clattn_mul_i64(window, 2, &cols) || !clattn_add_i64(cols, 1, &cols) || !clattn_add_i64(cols, max_globals, &cols))
        cols = INT64_MAX; /* rejected by validation */
    d.probs = clattn_tensor_contiguous(batch, num_heads, seq_len, cols);
    d.global_probs = clattn_tensor_contiguous(batch, num_heads, max_globals > 0 ? max_globals : 1, seq_len);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_GLOBAL_LOCAL_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_global_local_desc, global_probs)

static clattn_status check4(clattn_context *ctx, const char *name, clattn_tensor *t, int64_t *extent)
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, 4));
    return clattn_tensor_check(ctx, name, t, sizeof(float), extent);
}

static clattn_status dims_are(clattn_context *ctx, const char *name, const clattn_tensor *t, const int64_t *want)
{
    for (int d = 0; d < 4; d++)
        if (t->dims[d] != want[d])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld", name, d,
                                (long long)t->dims[d], (long long)want[d]);
    return CLATTN_SUCCESS;
}

static clattn_status validate(clattn_context *ctx, const clattn_global_local_desc *d, clattn_global_local_problem *p)
{
    memset(p, 0, sizeof *p);
    p->q = d->q, p->k = d->k, p->v = d->v, p->out = d->out;
    CLATTN_TRY(check4(ctx, "q", &p->q, &p->q_extent));
    CLATTN_TRY(check4(ctx, "k", &p->k, &p->k_extent));
    CLATTN_TRY(check4(ctx, "v", &p->v, &p->v_extent));
    CLATTN_TRY(check4(ctx, "out", &p->out, &p->out_extent));
    p->B = p->q.dims[0], p->H = p->q.dims[1], p->L = p->q.dims[2], p->D = p->q.dims[3], p->Dv = p->v.dims[3];
    const int64_t qd[4] = {p->B, p->H, p->L, p->D}, vd[4] = {p->B, p->H, p->L, p->Dv};
    CLATTN_TRY(dims_are(ctx, "k", &p->k, qd));
    CLATTN_TRY(dims_are(ctx, "v", &p->v, vd));
    CLATTN_TRY(dims_are(ctx, "out", &p->out, vd));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));
    if (d->window < 0 || d->window > INT32_MAX / 4)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "window: %lld, expected 0..%d", (long long)d->window,
                            INT32_MAX / 4);
    if (d->max_globals < 0 || d->max_globals > INT32_MAX / 4)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "max_globals: %lld, expected 0..%d",
                            (long long)d->max_globals, INT32_MAX / 4);
    p->w = d->window, p->G = d->max_globals, p->W = 2 * p->w + 1;
    if (!isfinite(d->scale))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scale: %s is not finite",
                            isnan(d->scale) ? "NaN" : d->scale > 0 ? "inf" : "-inf");
    p->scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)p->D));
    p->use_global_proj = d->use_global_proj != 0;
    p->want_probs = d->want_probs != 0;
    if (p->want_probs) {
        p->probs = d->probs;
        CLATTN_TRY(check4(ctx, "probs", &p->probs, &p->probs_extent));
        const int64_t pd[4] = {p->B, p->H, p->L, p->G + p->W};
        CLATTN_TRY(dims_are(ctx, "probs", &p->probs, pd));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "probs", &p->probs));
        if (p->G > 0) {
            p->gprobs = d->global_probs;
            CLATTN_TRY(check4(ctx, "global_probs", &p->gprobs, &p->gprobs_extent));
            const int64_t gd[4] = {p->B, p->H, p->G, p->L};
            CLATTN_TRY(dims_are(ctx, "global_probs", &p->gprobs, gd));
            CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "global_probs", &p->gprobs));
        }
    }
    return CLATTN_SUCCESS;
}

clattn_status clattn_global_local_plan_create(clattn_global_local_plan **out, clattn_context *ctx,
                                              const clattn_global_local_desc *desc)
{
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_global_local_plan_create: plan is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_global_local_plan_create: ctx is NULL");
    if (!desc)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_global_local_plan_create: desc is NULL");
    clattn_global_local_desc d;
    clattn_global_local_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1, 0, 0);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_global_local_desc, desc, CLATTN_GLOBAL_LOCAL_DESC_MIN_SIZE, &d));
    if (!ctx->be->global_local_run)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "global-local attention: the %s backend does not have it",
                            ctx->be->name);
    clattn_global_local_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_global_local_plan_create: out of host memory");
    plan->ctx = ctx;
    clattn_status st = validate(ctx, &d, &plan->p);
    if (st != CLATTN_SUCCESS) {
        free(plan);
        return st;
    }
    const clattn_global_local_problem *p = &plan->p;
    clattn_log(ctx, CLATTN_LOG_INFO, "global-local plan [B %lld, H %lld, L %lld, D %lld, Dv %lld, window %lld, globals "
               "%lld]: path %s", (long long)p->B, (long long)p->H, (long long)p->L, (long long)p->D, (long long)p->Dv,
               (long long)p->w, (long long)p->G, ctx->be->global_local_path);
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_global_local_plan_destroy(clattn_global_local_plan *plan)
{
    free(plan);
}

const char *clattn_global_local_plan_path(const clattn_global_local_plan *plan)
{
    return plan ? plan->ctx->be->global_local_path : "";
}

/* Checks global_idx [B, G] and fills slot [B, L] (-1 or the slot of key j); fn names the API in messages. */
static clattn_status build_slots(clattn_context *ctx, const char *fn, int64_t B, int64_t L, int64_t G,
                                 const int32_t *gidx, int32_t *slot)
{
    for (int64_t i = 0; i < B * L; i++) slot[i] = -1;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < G; c++) {
            const int32_t j = gidx[b * G + c];
            if (j == -1) continue;
            if (j < 0 || j >= L)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "%s: global_idx[%lld, %lld] is %d, expected -1 (unused) or 0..%lld", fn,
                                    (long long)b, (long long)c, (int)j, (long long)(L - 1));
            if (slot[b * L + j] >= 0)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "%s: global_idx[%lld, %lld] is %d, already in slot %d of batch item %lld", fn,
                                    (long long)b, (long long)c, (int)j, (int)slot[b * L + j], (long long)b);
            slot[b * L + j] = (int32_t)c;
        }
    return CLATTN_SUCCESS;
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

clattn_status clattn_global_local_execute(clattn_global_local_plan *plan, const float *q, const float *k,
                                          const float *v, const int32_t *global_idx, const float *q_g,
                                          const float *k_g, const float *v_g, float *out, float *probs,
                                          float *global_probs)
{
    static const char fn[] = "clattn_global_local_execute";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    const clattn_global_local_problem *p = &plan->p;
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    const bool gp = p->use_global_proj, pr = p->want_probs;
    struct {
        const char *name;
        bool want;
        const void *ptr;
    } o[] = {{"global_idx", p->G > 0, global_idx}, {"q_g", gp, q_g}, {"k_g", gp, k_g}, {"v_g", gp, v_g},
             {"probs", pr, probs}, {"global_probs", pr && p->G > 0, global_probs}};
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i].want != (o[i].ptr != NULL))
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is %s, expected %s (desc: max_globals %lld, "
                                "use_global_proj %d, want_probs %d)", fn, o[i].name, o[i].ptr ? "given" : "NULL",
                                o[i].want ? "an array" : "NULL", (long long)p->G, (int)gp, (int)pr);
    int32_t *slot = clattn_malloc((size_t)(p->B * p->L) * sizeof(int32_t));
    if (!slot) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    clattn_status st = build_slots(ctx, fn, p->B, p->L, p->G, global_idx, slot);
    if (st == CLATTN_SUCCESS && ctx->be->host_memory) {
        clattn_global_local_bufs b = {{(void *)q, NULL},   {(void *)k, NULL},   {(void *)v, NULL},
                                      {(void *)global_idx, NULL}, {slot, NULL}, {(void *)q_g, NULL},
                                      {(void *)k_g, NULL}, {(void *)v_g, NULL}, {out, NULL},
                                      {probs, NULL},       {global_probs, NULL}};
        st = ctx->be->global_local_run(ctx, p, &b);
        free(slot);
        return st;
    }
    const size_t f = sizeof(float);
    staged s[11];
    memset(s, 0, sizeof s);
    if (!st) st = stage(ctx, &s[0], q, p->q_extent, f);
    if (!st) st = stage(ctx, &s[1], k, p->k_extent, f);
    if (!st) st = stage(ctx, &s[2], v, p->v_extent, f);
    if (!st && global_idx) st = stage(ctx, &s[3], global_idx, p->B * p->G, sizeof(int32_t));
    if (!st) st = stage(ctx, &s[4], slot, p->B * p->L, sizeof(int32_t));
    if (!st && gp) st = stage(ctx, &s[5], q_g, p->q_extent, f);
    if (!st && gp) st = stage(ctx, &s[6], k_g, p->k_extent, f);
    if (!st && gp) st = stage(ctx, &s[7], v_g, p->v_extent, f);
    if (!st) st = stage(ctx, &s[8], dense(&p->out, p->out_extent) ? NULL : out, p->out_extent, f);
    if (!st && probs) st = stage(ctx, &s[9], dense(&p->probs, p->probs_extent) ? NULL : probs, p->probs_extent, f);
    if (!st && global_probs)
        st = stage(ctx, &s[10], dense(&p->gprobs, p->gprobs_extent) ? NULL : global_probs, p->gprobs_extent, f);
    if (!st) {
        clattn_global_local_bufs b = {s[0].buf, s[1].buf, s[2].buf, s[3].buf, s[4].buf, s[5].buf,
                                      s[6].buf, s[7].buf, s[8].buf, s[9].buf, s[10].buf};
        st = ctx->be->global_local_run(ctx, p, &b);
    }
    if (!st) st = ctx->be->buf_read(ctx, &s[8].buf, 0, out, (size_t)p->out_extent * f);
    if (!st && probs) st = ctx->be->buf_read(ctx, &s[9].buf, 0, probs, (size_t)p->probs_extent * f);
    if (!st && global_probs) st = ctx->be->buf_read(ctx, &s[10].buf, 0, global_probs, (size_t)p->gprobs_extent * f);
    for (int i = 0; i < 11; i++)
        if (s[i].owned) ctx->be->buf_free(ctx, &s[i].buf);
    free(slot);
    return st;
}

clattn_status clattn_global_local(clattn_context *ctx, const clattn_global_local_desc *desc, const float *q,
                                  const float *k, const float *v, const int32_t *global_idx, const float *q_g,
                                  const float *k_g, const float *v_g, float *out, float *probs, float *global_probs)
{
    clattn_global_local_plan *plan = NULL;
    CLATTN_TRY(clattn_global_local_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_global_local_execute(plan, q, k, v, global_idx, q_g, k_g, v_g, out, probs, global_probs);
    clattn_global_local_plan_destroy(plan);
    return st;
}

clattn_status clattn_global_local_expand(int64_t B, int64_t H, int64_t L, int64_t w, int64_t G, const int32_t *gidx,
                                         const float *probs, const float *gprobs, float *dense_out)
{
    static const char fn[] = "clattn_global_local_expand";
    if (!probs || !dense_out || (G > 0 && (!gidx || !gprobs)))
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: a required pointer is NULL", fn);
    int64_t n, W;
    if (B < 1 || H < 1 || L < 1 || w < 0 || G < 0 || !clattn_mul_i64(w, 2, &W) || !clattn_add_i64(W, 1, &W) ||
        !clattn_mul_i64(B * H, L, &n) || !clattn_mul_i64(n, L, &n) || (uint64_t)n > (uint64_t)SIZE_MAX / 8)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: sizes B %lld, H %lld, L %lld, window %lld, globals %lld: expected >= 1 (window, "
                            "globals >= 0) and a dense size that fits", fn, (long long)B, (long long)H, (long long)L,
                            (long long)w, (long long)G);
    int32_t *slot = malloc((size_t)(B * L) * sizeof *slot);
    if (!slot) return clattn_error(NULL, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    clattn_status st = build_slots(NULL, fn, B, L, G, gidx, slot);
    for (int64_t bh = 0; bh < B * H && st == CLATTN_SUCCESS; bh++) {
        const int64_t b = bh / H;
        for (int64_t i = 0; i < L; i++) {
            float *row = dense_out + (bh * L + i) * L;
            const int32_t si = slot[b * L + i];
            if (si >= 0) {
                memcpy(row, gprobs + (bh * G + si) * L, (size_t)L * sizeof(float));
                continue;
            }
            for (int64_t j = 0; j < L; j++) row[j] = 0.0f;
            const float *pr = probs + (bh * L + i) * (G + W);
            for (int64_t c = 0; c < G; c++)
                if (gidx[b * G + c] >= 0) row[gidx[b * G + c]] = pr[c];
            for (int64_t t = 0; t < W; t++) {
                const int64_t j = i - w + t;
                if (j >= 0 && j < L && slot[b * L + j] < 0) row[j] = pr[G + t];
            }
        }
    }
    free(slot);
    return st;
}
