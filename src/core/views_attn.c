/*
 * Axial, temporal and area attention (clattn.h, "The attention family over views"): SDPA along one axis of an
 * N-d view, every other axis but the last a batch axis, run as SDPA plans over re-laid-out 4-D views of the
 * caller's arrays (never a copy of the inputs, never a mask).
 *
 *   q, k: [d0 .. d{n-2}, D]   v, out: [d0 .. d{n-2}, Dv]   probs: [batch axes in order, L, L]
 *
 * The batch axes (all but `axis` and the last; size-1 axes dropped) are merged, in order, into groups: axis a
 * joins the group of the next batch axis b when stride[a] = size(group of b)·stride(innermost of that group)
 * in every array (q, k, v, out, and probs when wanted). The two largest groups become SDPA's batch and head
 * dims; every other group is looped over, one SDPA plan per index (a view at its own offset). A contiguous
 * [B, H, X, Y, D] merges into at most two groups along any axis, so it runs as one plan.
 *
 * Temporal attention is axial attention along T of [B, T, S, H, Dh]; area attention along the positions of a
 * segment of [B, area, N/area, H, Dh]: both only build those 5-D views (a 4-D [B, T, S, C] or 3-D [B, N, C]
 * splits its channels into [H, Dh] by strides).
 */
#include "alloc.h"
#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the validated view problem ------------------------------------------------------------- */

typedef struct view_problem {
    clattn_tensor q, k, v, out, probs; /* N-d, checked */
    int axis;
    clattn_causal causal;
    float scale;
    bool want_probs;
    clattn_dtype data_type;
    clattn_kernel_path kernel_path;
    int64_t q_extent, k_extent, v_extent, out_extent, probs_extent; /* in elements */
} view_problem;

typedef struct view_plan {
    clattn_context *ctx;
    view_problem p;
    int64_t count;             /* SDPA plans */
    clattn_sdpa_plan **plans;  /* count plans, differing in their views' offsets only */
} view_plan;

struct clattn_axial_plan {
    view_plan vp;
};
struct clattn_temporal_plan {
    view_plan vp;
};
struct clattn_area_plan {
    view_plan vp;
};

static size_t dtype_size(clattn_dtype t)
{
    return clattn_dtype_size(t);
}

/* Checks the five views of a problem whose q, k, v, out, probs, axis, ... fields are set (fn names the API). */
static clattn_status validate_views(clattn_context *ctx, view_problem *p)
{
    if (!clattn_dtype_valid((int)p->data_type))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, CLATTN_DTYPE_INVALID_FMT, (int)p->data_type);
    const size_t es = dtype_size(p->data_type);
    CLATTN_TRY(clattn_tensor_check(ctx, "q", &p->q, es, &p->q_extent));
    CLATTN_TRY(clattn_tensor_check(ctx, "k", &p->k, es, &p->k_extent));
    CLATTN_TRY(clattn_tensor_check(ctx, "v", &p->v, es, &p->v_extent));
    CLATTN_TRY(clattn_tensor_check(ctx, "out", &p->out, es, &p->out_extent));
    const int n = p->q.ndim;
    if (n < 3)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "q: ndim is %d, expected 3..%d", n, CLATTN_MAX_DIMS);
    if (p->axis < 0 || p->axis > n - 2)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "axis: %d, expected 0..%d (q has %d dims, the last "
                            "being the features)", p->axis, n - 2, n);
    const clattn_tensor *others[3] = {&p->k, &p->v, &p->out};
    const char *names[3] = {"k", "v", "out"};
    for (int t = 0; t < 3; t++) {
        CLATTN_TRY(clattn_tensor_expect_ndim(ctx, names[t], others[t], n));
        for (int d = 0; d < n; d++) {
            int64_t want = d < n - 1 || t == 0 ? p->q.dims[d] : p->v.dims[d];
            if (others[t]->dims[d] != want)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld (%s)",
                                    names[t], d, (long long)others[t]->dims[d], (long long)want,
                                    t == 0 || d < n - 1 ? "q's" : "v's");
        }
    }
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &p->out));
    if ((int)p->causal < CLATTN_CAUSAL_NONE || (int)p->causal > CLATTN_CAUSAL_BOTTOM_RIGHT)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "causal: %d is not a clattn_causal value",
                            (int)p->causal);
    if (!isfinite(p->scale))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scale: %s is not finite",
                            isnan(p->scale) ? "NaN" : p->scale > 0 ? "inf" : "-inf");
    if (p->want_probs) {
        CLATTN_TRY(clattn_tensor_check(ctx, "probs", &p->probs, sizeof(float), &p->probs_extent));
        CLATTN_TRY(clattn_tensor_expect_ndim(ctx, "probs", &p->probs, n));
        const int64_t L = p->q.dims[p->axis];
        for (int d = 0, pd = 0; d < n; d++) {
            if (d == p->axis || d == n - 1) continue;
            if (p->probs.dims[pd] != p->q.dims[d])
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "probs: dim %d is %lld, expected %lld (q dim %d)",
                                    pd, (long long)p->probs.dims[pd], (long long)p->q.dims[d], d);
            pd++;
        }
        for (int d = n - 2; d < n; d++)
            if (p->probs.dims[d] != L)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "probs: dim %d is %lld, expected %lld (the attention axis, q dim %d)", d,
                                    (long long)p->probs.dims[d], (long long)L, p->axis);
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "probs", &p->probs));
    }
    if ((int)p->kernel_path < CLATTN_KERNEL_PATH_DEFAULT || (int)p->kernel_path > CLATTN_KERNEL_PATH_FUSED)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "kernel_path: %d is not a clattn_kernel_path value",
                            (int)p->kernel_path);
    return CLATTN_SUCCESS;
}

/* ---- batch-axis groups and the SDPA plans ---------------------------------------------------- */

#define NARR 5 /* q, k, v, out, probs */

typedef struct group {
    int64_t size;
    int64_t stride[NARR]; /* of its innermost axis, per array */
} group;

/* The arrays of p as a list (probs only when wanted) and, per batch axis of q, its dim in each array. */
static int arrays(const view_problem *p, const clattn_tensor *arr[NARR])
{
    arr[0] = &p->q;
    arr[1] = &p->k;
    arr[2] = &p->v;
    arr[3] = &p->out;
    arr[4] = &p->probs;
    return p->want_probs ? 5 : 4;
}

/* Groups of the batch axes (see the top of this file); returns how many (0 when every batch axis is 1). */
static int make_groups(const view_problem *p, group g[CLATTN_MAX_DIMS])
{
    const clattn_tensor *arr[NARR];
    const int na = arrays(p, arr), n = p->q.ndim;
    int ng = 0;
    /* innermost batch axis first, so that a merge folds an outer axis into the group below it */
    int pd = n - 3; /* probs' dim of the current batch axis */
    for (int d = n - 2; d >= 0; d--) {
        if (d == p->axis) continue;
        const int64_t size = p->q.dims[d];
        int64_t s[NARR];
        for (int a = 0; a < na; a++) s[a] = arr[a]->strides[a == 4 ? pd : d];
        pd--;
        if (size == 1) continue;
        bool merge = ng > 0;
        for (int a = 0; a < na && merge; a++) {
            int64_t want;
            merge = clattn_mul_i64(g[ng - 1].size, g[ng - 1].stride[a], &want) && s[a] == want;
        }
        if (merge) {
            g[ng - 1].size *= size;
            continue;
        }
        g[ng].size = size;
        for (int a = 0; a < na; a++) g[ng].stride[a] = s[a];
        ng++;
    }
    return ng;
}

static void view_plan_release(view_plan *vp)
{
    if (vp->plans)
        for (int64_t i = 0; i < vp->count; i++) clattn_sdpa_plan_destroy(vp->plans[i]);
    free(vp->plans);
    vp->plans = NULL;
}

/* Creates the SDPA plans of a validated problem (fn names the API in messages). */
static clattn_status view_plan_build(clattn_context *ctx, view_plan *vp, const char *fn)
{
    const view_problem *p = &vp->p;
    group g[CLATTN_MAX_DIMS];
    int ng = make_groups(p, g);
    /* the two largest groups are SDPA's batch and head dims (hi = the larger); the rest are looped over */
    int hi = -1, lo = -1;
    for (int i = 0; i < ng; i++) {
        if (hi < 0 || g[i].size > g[hi].size) {
            lo = hi;
            hi = i;
        } else if (lo < 0 || g[i].size > g[lo].size) {
            lo = i;
        }
    }
    int loop[CLATTN_MAX_DIMS], nloop = 0;
    int64_t count = 1;
    for (int i = 0; i < ng; i++)
        if (i != hi && i != lo) {
            loop[nloop++] = i;
            count *= g[i].size; /* at most the numel of q: no overflow */
        }
    vp->plans = clattn_calloc((size_t)count, sizeof *vp->plans);
    if (!vp->plans) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    vp->count = count;

    const clattn_tensor *arr[NARR];
    const int na = arrays(p, arr), n = p->q.ndim;
    const int64_t L = p->q.dims[p->axis];
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 1, 1, L, L, p->q.dims[n - 1], p->v.dims[n - 1]);
    clattn_tensor *views[NARR] = {&d.q, &d.k, &d.v, &d.out, &d.probs};
    for (int a = 0; a < na; a++) {
        clattn_tensor *t = views[a];
        t->dims[0] = hi >= 0 ? g[hi].size : 1;
        t->strides[0] = hi >= 0 ? g[hi].stride[a] : 0;
        t->dims[1] = lo >= 0 ? g[lo].size : 1;
        t->strides[1] = lo >= 0 ? g[lo].stride[a] : 0;
        t->strides[2] = a == 4 ? arr[a]->strides[n - 2] : arr[a]->strides[p->axis];
        t->strides[3] = arr[a]->strides[n - 1];
    }
    d.scale = p->scale;
    d.causal = p->causal;
    d.want_probs = p->want_probs;
    d.data_type = p->data_type;
    d.kernel_path = p->kernel_path;
    for (int64_t i = 0; i < count; i++) {
        int64_t rest = i;
        for (int a = 0; a < na; a++) views[a]->offset = arr[a]->offset;
        for (int l = nloop - 1; l >= 0; l--) {
            const group *gl = &g[loop[l]];
            int64_t idx = rest % gl->size;
            rest /= gl->size;
            for (int a = 0; a < na; a++) views[a]->offset += idx * gl->stride[a]; /* within the checked extent */
        }
        CLATTN_TRY(clattn_sdpa_plan_create(&vp->plans[i], ctx, &d));
    }
    clattn_log(ctx, CLATTN_LOG_INFO, "%s: %lld SDPA plan(s) [%lld, %lld, L %lld, D %lld, Dv %lld], path %s", fn,
               (long long)count, (long long)d.q.dims[0], (long long)d.q.dims[1], (long long)L,
               (long long)d.q.dims[3], (long long)d.v.dims[3], clattn_sdpa_plan_path(vp->plans[0]));
    return CLATTN_SUCCESS;
}

/* Validates p (already filled in vp->p) and builds; on failure releases what was made. */
static clattn_status view_plan_create(clattn_context *ctx, view_plan *vp, const char *fn)
{
    vp->ctx = ctx;
    clattn_status st = validate_views(ctx, &vp->p);
    if (st == CLATTN_SUCCESS) st = view_plan_build(ctx, vp, fn);
    if (st != CLATTN_SUCCESS) view_plan_release(vp);
    return st;
}

/* ---- execution ---------------------------------------------------------------------------------- */

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

static bool view_is_dense(const clattn_tensor *t, int64_t extent)
{
    return t->offset == 0 && clattn_tensor_numel(t) == extent;
}

static clattn_status view_plan_execute(view_plan *vp, const char *fn, const void *q, const void *k, const void *v,
                                       void *out, float *probs)
{
    clattn_context *ctx = vp->ctx;
    const view_problem *p = &vp->p;
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !out ? "out" : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    if (p->want_probs != (probs != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: probs is %s but desc.want_probs is %d", fn,
                            probs ? "given" : "NULL", (int)p->want_probs);
    const clattn_sync none = CLATTN_SYNC_NONE;
    if (ctx->be->host_memory) {
        clattn_sdpa_bufs b = {{(void *)q, NULL}, {(void *)k, NULL}, {(void *)v, NULL}, {NULL, NULL},
                              {NULL, NULL},      {out, NULL},       {probs, NULL},
                              {NULL, NULL}, {NULL, NULL}};
        for (int64_t i = 0; i < vp->count; i++) CLATTN_TRY(clattn_sdpa_run_bound(vp->plans[i], &b, &none));
        return CLATTN_SUCCESS;
    }
    /* a device backend: every array once in (outputs with gaps too, so that reading the extent back keeps
     * the caller's gap elements), every SDPA plan on the same buffers, outputs once out */
    const size_t es = dtype_size(p->data_type);
    staged sq = {0}, sk = {0}, sv = {0}, so = {0}, sp = {0};
    clattn_status st = stage(ctx, &sq, q, p->q_extent, es);
    if (!st) st = stage(ctx, &sk, k, p->k_extent, es);
    if (!st) st = stage(ctx, &sv, v, p->v_extent, es);
    if (!st) st = stage(ctx, &so, view_is_dense(&p->out, p->out_extent) ? NULL : out, p->out_extent, es);
    if (!st && probs)
        st = stage(ctx, &sp, view_is_dense(&p->probs, p->probs_extent) ? NULL : probs, p->probs_extent,
                   sizeof(float));
    if (!st) {
        clattn_sdpa_bufs b = {sq.buf, sk.buf, sv.buf, {NULL, NULL}, {NULL, NULL}, so.buf, sp.buf, {NULL, NULL}, {NULL, NULL}};
        for (int64_t i = 0; i < vp->count && !st; i++) st = clattn_sdpa_run_bound(vp->plans[i], &b, &none);
    }
    if (!st) st = ctx->be->buf_read(ctx, &so.buf, 0, out, (size_t)p->out_extent * es);
    if (!st && probs) st = ctx->be->buf_read(ctx, &sp.buf, 0, probs, (size_t)p->probs_extent * sizeof(float));
    staged *all[] = {&sq, &sk, &sv, &so, &sp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    return st;
}

/* Common front of the three *_plan_create: argument checks and the caller's struct over the defaults. */
#define PLAN_FRONT(fn, out, ctx, desc)                                                                         \
    do {                                                                                                       \
        if (!(out)) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, fn ": plan is NULL");              \
        *(out) = NULL;                                                                                         \
        if (!(ctx)) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, fn ": ctx is NULL");              \
        if (!(desc)) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, fn ": desc is NULL");             \
    } while (0)

/* Allocates a plan struct of type T (a view_plan first), fills it with problem p and builds it. */
#define PLAN_BUILD(T, fn, out, ctx, prob)                                                                      \
    do {                                                                                                       \
        T *plan_ = clattn_calloc(1, sizeof *plan_);                                                            \
        if (!plan_) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, fn ": out of host memory");           \
        plan_->vp.p = (prob);                                                                                  \
        clattn_status st_ = view_plan_create(ctx, &plan_->vp, fn);                                             \
        if (st_ != CLATTN_SUCCESS) {                                                                           \
            free(plan_);                                                                                       \
            return st_;                                                                                        \
        }                                                                                                      \
        *(out) = plan_;                                                                                        \
        return CLATTN_SUCCESS;                                                                                 \
    } while (0)

/* ---- axial ----------------------------------------------------------------------------------------- */

/* Dims of probs for q dims `dims` (n of them) along axis: the batch axes, then [L, L]. */
static clattn_tensor probs_of(int n, const int64_t *dims, int axis)
{
    int64_t pd[CLATTN_MAX_DIMS];
    int m = 0;
    if (n < 2 || n > CLATTN_MAX_DIMS || axis < 0 || axis > n - 2) return clattn_tensor_contiguous_nd(0, NULL);
    for (int d = 0; d < n - 1; d++)
        if (d != axis) pd[m++] = dims[d];
    pd[m++] = dims[axis];
    pd[m++] = dims[axis];
    return clattn_tensor_contiguous_nd(m, pd);
}

void clattn_axial_desc_init_sized(clattn_axial_desc *desc, size_t struct_size, int ndim, const int64_t *dims,
                                  int axis)
{
    if (!desc) return;
    clattn_axial_desc d;
    memset(&d, 0, sizeof d);
    d.q = clattn_tensor_contiguous_nd(ndim, dims);
    d.k = d.v = d.out = d.q;
    d.axis = axis;
    d.probs = dims ? probs_of(ndim, dims, axis) : d.q;
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_AXIAL_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_axial_desc, kernel_path)

clattn_status clattn_axial_plan_create(clattn_axial_plan **out, clattn_context *ctx, const clattn_axial_desc *desc)
{
    PLAN_FRONT("clattn_axial_plan_create", out, ctx, desc);
    clattn_axial_desc d;
    clattn_axial_desc_init_sized(&d, sizeof d, 3, (const int64_t[]){1, 1, 1}, 0);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_axial_desc, desc, CLATTN_AXIAL_DESC_MIN_SIZE, &d));
    view_problem p = {.q = d.q, .k = d.k, .v = d.v, .out = d.out, .probs = d.probs, .axis = d.axis,
                      .causal = d.causal, .scale = d.scale, .want_probs = d.want_probs != 0,
                      .data_type = d.data_type, .kernel_path = d.kernel_path};
    PLAN_BUILD(clattn_axial_plan, "clattn_axial_plan_create", out, ctx, p);
}

void clattn_axial_plan_destroy(clattn_axial_plan *plan)
{
    if (!plan) return;
    view_plan_release(&plan->vp);
    free(plan);
}

const char *clattn_axial_plan_path(const clattn_axial_plan *plan)
{
    return plan ? clattn_sdpa_plan_path(plan->vp.plans[0]) : "";
}

int64_t clattn_axial_plan_sdpa_count(const clattn_axial_plan *plan)
{
    return plan ? plan->vp.count : 0;
}

clattn_status clattn_axial_execute(clattn_axial_plan *plan, const void *q, const void *k, const void *v, void *out,
                                   float *probs)
{
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_axial_execute: plan is NULL");
    return view_plan_execute(&plan->vp, "clattn_axial_execute", q, k, v, out, probs);
}

clattn_status clattn_axial(clattn_context *ctx, const clattn_axial_desc *desc, const void *q, const void *k,
                           const void *v, void *out, float *probs)
{
    clattn_axial_plan *plan = NULL;
    CLATTN_TRY(clattn_axial_plan_create(&plan, ctx, desc));
    clattn_status st = clattn_axial_execute(plan, q, k, v, out, probs);
    clattn_axial_plan_destroy(plan);
    return st;
}

/* ---- heads: [.., C] -> [.., H, Dh] ------------------------------------------------------------------- */

/* A view with its last dim C split into [heads, C / heads] (the features of head h at h·(C/heads)·stride);
 * a view that already has `split_ndim` dims is taken as it is (heads 0 or its dim split_ndim - 2). name for
 * messages. */
static clattn_status split_heads(clattn_context *ctx, const char *name, const clattn_tensor *t, int split_ndim,
                                 int64_t heads, clattn_tensor *outv)
{
    if (t->ndim == split_ndim) {
        if (heads != 0 && heads != t->dims[split_ndim - 2])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "num_heads: %lld, but %s dim %d (the heads of a %d-D view) is %lld; expected 0 or that",
                                (long long)heads, name, split_ndim - 2, split_ndim, (long long)t->dims[split_ndim - 2]);
        *outv = *t;
        return CLATTN_SUCCESS;
    }
    if (t->ndim != split_ndim - 1)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ndim is %d, expected %d or %d", name, t->ndim,
                            split_ndim - 1, split_ndim);
    const int c = split_ndim - 2;
    if (heads < 1 || t->dims[c] < 1 || t->dims[c] % heads != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "num_heads: %lld, expected >= 1 and dividing %s dim %d (%lld channels)", (long long)heads,
                            name, c, (long long)t->dims[c]);
    *outv = *t;
    outv->ndim = split_ndim;
    const int64_t dh = t->dims[c] / heads;
    outv->dims[c] = heads;
    outv->dims[c + 1] = dh;
    outv->strides[c + 1] = t->strides[c];
    if (!clattn_mul_i64(dh, t->strides[c], &outv->strides[c])) outv->strides[c] = INT64_MAX; /* rejected later */
    return CLATTN_SUCCESS;
}

/* The generic plan wrappers of a variant T (temporal, area). */
#define VIEW_PLAN_FUNCS(T)                                                                                     \
    void clattn_##T##_plan_destroy(clattn_##T##_plan *plan)                                                    \
    {                                                                                                          \
        if (!plan) return;                                                                                     \
        view_plan_release(&plan->vp);                                                                          \
        free(plan);                                                                                            \
    }                                                                                                          \
    const char *clattn_##T##_plan_path(const clattn_##T##_plan *plan)                                          \
    {                                                                                                          \
        return plan ? clattn_sdpa_plan_path(plan->vp.plans[0]) : "";                                          \
    }                                                                                                          \
    int64_t clattn_##T##_plan_sdpa_count(const clattn_##T##_plan *plan)                                        \
    {                                                                                                          \
        return plan ? plan->vp.count : 0;                                                                      \
    }                                                                                                          \
    clattn_status clattn_##T##_execute(clattn_##T##_plan *plan, const void *q, const void *k, const void *v,   \
                                       void *out, float *probs)                                                \
    {                                                                                                          \
        if (!plan)                                                                                             \
            return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_" #T "_execute: plan is NULL");   \
        return view_plan_execute(&plan->vp, "clattn_" #T "_execute", q, k, v, out, probs);                    \
    }                                                                                                          \
    clattn_status clattn_##T(clattn_context *ctx, const clattn_##T##_desc *desc, const void *q, const void *k, \
                             const void *v, void *out, float *probs)                                           \
    {                                                                                                          \
        clattn_##T##_plan *plan = NULL;                                                                        \
        CLATTN_TRY(clattn_##T##_plan_create(&plan, ctx, desc));                                                \
        clattn_status st = clattn_##T##_execute(plan, q, k, v, out, probs);                                    \
        clattn_##T##_plan_destroy(plan);                                                                       \
        return st;                                                                                             \
    }

/* ---- temporal ------------------------------------------------------------------------------------------ */

void clattn_temporal_desc_init_sized(clattn_temporal_desc *desc, size_t struct_size, int64_t batch, int64_t frames,
                                     int64_t positions, int64_t num_heads, int64_t head_dim)
{
    if (!desc) return;
    clattn_temporal_desc d;
    memset(&d, 0, sizeof d);
    int64_t c = 0;
    if (!clattn_mul_i64(num_heads, head_dim, &c)) c = INT64_MAX;
    d.q = clattn_tensor_contiguous(batch, frames, positions, c);
    d.k = d.v = d.out = d.q;
    d.num_heads = num_heads;
    const int64_t pd[5] = {batch, positions, num_heads, frames, frames};
    d.probs = clattn_tensor_contiguous_nd(5, pd);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_TEMPORAL_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_temporal_desc, kernel_path)

clattn_status clattn_temporal_plan_create(clattn_temporal_plan **out, clattn_context *ctx,
                                          const clattn_temporal_desc *desc)
{
    PLAN_FRONT("clattn_temporal_plan_create", out, ctx, desc);
    clattn_temporal_desc d;
    clattn_temporal_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_temporal_desc, desc, CLATTN_TEMPORAL_DESC_MIN_SIZE, &d));
    view_problem p = {.probs = d.probs, .axis = 1, .causal = d.causal, .scale = d.scale,
                      .want_probs = d.want_probs != 0, .data_type = d.data_type, .kernel_path = d.kernel_path};
    CLATTN_TRY(split_heads(ctx, "q", &d.q, 5, d.num_heads, &p.q));
    CLATTN_TRY(split_heads(ctx, "k", &d.k, 5, d.num_heads, &p.k));
    CLATTN_TRY(split_heads(ctx, "v", &d.v, 5, d.num_heads, &p.v));
    CLATTN_TRY(split_heads(ctx, "out", &d.out, 5, d.num_heads, &p.out));
    PLAN_BUILD(clattn_temporal_plan, "clattn_temporal_plan_create", out, ctx, p);
}

VIEW_PLAN_FUNCS(temporal)

/* ---- area -------------------------------------------------------------------------------------------- */

void clattn_area_desc_init_sized(clattn_area_desc *desc, size_t struct_size, int64_t batch, int64_t positions,
                                 int64_t num_heads, int64_t head_dim, int64_t area)
{
    if (!desc) return;
    clattn_area_desc d;
    memset(&d, 0, sizeof d);
    int64_t c = 0;
    if (!clattn_mul_i64(num_heads, head_dim, &c)) c = INT64_MAX;
    const int64_t qd[3] = {batch, positions, c};
    d.q = clattn_tensor_contiguous_nd(3, qd);
    d.k = d.v = d.out = d.q;
    d.num_heads = num_heads;
    d.area = area;
    const int64_t seg = area > 0 && positions % area == 0 ? positions / area : positions;
    const int64_t pd[5] = {batch, area, num_heads, seg, seg};
    d.probs = clattn_tensor_contiguous_nd(5, pd);
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_AREA_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_area_desc, kernel_path)

/* [B, N, H, Dh] -> [B, area, N/area, H, Dh] (N a multiple of area, checked by the caller). */
static clattn_tensor split_area(const clattn_tensor *t, int64_t area)
{
    clattn_tensor s = *t;
    s.ndim = 5;
    for (int d = 4; d >= 2; d--) {
        s.dims[d] = t->dims[d - 1];
        s.strides[d] = t->strides[d - 1];
    }
    s.dims[1] = area;
    s.dims[2] = t->dims[1] / area;
    if (!clattn_mul_i64(s.dims[2], t->strides[1], &s.strides[1])) s.strides[1] = INT64_MAX;
    return s;
}

clattn_status clattn_area_plan_create(clattn_area_plan **out, clattn_context *ctx, const clattn_area_desc *desc)
{
    PLAN_FRONT("clattn_area_plan_create", out, ctx, desc);
    clattn_area_desc d;
    clattn_area_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_area_desc, desc, CLATTN_AREA_DESC_MIN_SIZE, &d));
    view_problem p = {.probs = d.probs, .axis = 2, .causal = CLATTN_CAUSAL_NONE, .scale = d.scale,
                      .want_probs = d.want_probs != 0, .data_type = d.data_type, .kernel_path = d.kernel_path};
    clattn_tensor q4, k4, v4, o4;
    CLATTN_TRY(split_heads(ctx, "q", &d.q, 4, d.num_heads, &q4));
    CLATTN_TRY(split_heads(ctx, "k", &d.k, 4, d.num_heads, &k4));
    CLATTN_TRY(split_heads(ctx, "v", &d.v, 4, d.num_heads, &v4));
    CLATTN_TRY(split_heads(ctx, "out", &d.out, 4, d.num_heads, &o4));
    const int64_t N = q4.dims[1];
    if (d.area < 1)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "area: %lld, expected >= 1", (long long)d.area);
    if (N % d.area != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "area: N = %lld positions (q dim 1) is not a multiple of area %lld (as ultralytics' AAttn, "
                            "which fails to reshape)", (long long)N, (long long)d.area);
    const clattn_tensor *in4[4] = {&k4, &v4, &o4, NULL};
    const char *names[3] = {"k", "v", "out"};
    for (int t = 0; in4[t]; t++)
        if (in4[t]->dims[1] != N)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim 1 is %lld, expected %lld (q's)",
                                names[t], (long long)in4[t]->dims[1], (long long)N);
    p.q = split_area(&q4, d.area);
    p.k = split_area(&k4, d.area);
    p.v = split_area(&v4, d.area);
    p.out = split_area(&o4, d.area);
    PLAN_BUILD(clattn_area_plan, "clattn_area_plan_create", out, ctx, p);
}

VIEW_PLAN_FUNCS(area)
