/* Axial, temporal and area attention cases: data, the API call, the naive double reference (views_case.h). */
#include "views_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- views of any rank ------------------------------------------------------------------------- */

/* A view of dims in layout l; *len receives the buffer length. */
static clattn_tensor make_view(int n, const int64_t *dims, vc_layout l, int64_t *len)
{
    int64_t strides[CLATTN_MAX_DIMS];
    int order[CLATTN_MAX_DIMS]; /* memory order, outermost first */
    for (int i = 0; i < n; i++) order[i] = i;
    if (l == VC_PERMUTED)
        for (int i = 0; i < n - 1; i++) order[i] = n - 2 - i;
    int64_t s = 1;
    for (int o = n - 1; o >= 0; o--) {
        int d = order[o];
        strides[d] = s;
        s = dims[d] * s + (l == VC_PAD ? 1 : 0);
    }
    *len = s;
    return clattn_tensor_view(n, dims, strides, 0);
}

static int64_t numel(const clattn_tensor *t)
{
    int64_t e = 1;
    for (int i = 0; i < t->ndim; i++) e *= t->dims[i];
    return e;
}

/* Buffer index of the g-th element (C order over t's dims). */
static int64_t elem(const clattn_tensor *t, int64_t g)
{
    int64_t e = t->offset;
    for (int i = t->ndim - 1; i >= 0; i--) {
        e += (g % t->dims[i]) * t->strides[i];
        g /= t->dims[i];
    }
    return e;
}

/* Buffer index of idx[0..ndim-1]. */
static int64_t at(const clattn_tensor *t, const int64_t *idx)
{
    int64_t e = t->offset;
    for (int i = 0; i < t->ndim; i++) e += idx[i] * t->strides[i];
    return e;
}

static float *alloc_poison(int64_t n)
{
    return tu_alloc_bits(n, TU_POISON_BITS);
}

static float *alloc_input(tu_rng *r, const clattn_tensor *t, int64_t n)
{
    float *b = tu_xmalloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) b[i] = NAN;
    const int64_t m = numel(t);
    for (int64_t g = 0; g < m; g++) b[elem(t, g)] = (float)tu_rng_uniform(r, -1.0, 1.0);
    return b;
}

/* ---- the logical problem: (batch row, position, head, feature) ----------------------------------- */

/* Every kind as: for each of nb "rows" (batch index) and position i of L, query vector of D features; keys are
 * positions j of the same row. loc() maps (row, position, feature, is_v) to an index of the API views'
 * multi-index. */
typedef struct logical {
    int64_t nb, L, D, Dv;
} logical;

static logical logical_of(const views_case *c)
{
    logical g = {1, 0, 0, 0};
    const int n = c->api_ndim;
    const int64_t *a = c->api_dims;
    if (c->kind == VC_AXIAL) {
        g.L = a[c->axis];
        g.D = a[n - 1];
        for (int i = 0; i < n - 1; i++)
            if (i != c->axis) g.nb *= a[i];
    } else if (c->kind == VC_TEMPORAL) {
        g.L = a[1];
        g.D = n == 5 ? a[4] : a[3] / c->heads;
        g.nb = a[0] * a[2] * c->heads;
    } else {
        g.L = a[1] / c->area;
        g.D = n == 4 ? a[3] : a[2] / c->heads;
        g.nb = a[0] * c->area * c->heads;
    }
    g.Dv = c->dv ? c->dv : g.D;
    return g;
}

/* The API multi-index of (row, position, feature f) for a view of per-head dim hd. */
static void loc(const views_case *c, int64_t row, int64_t pos, int64_t f, int64_t hd, int64_t *idx)
{
    const int n = c->api_ndim;
    const int64_t *a = c->api_dims;
    if (c->kind == VC_AXIAL) {
        for (int i = n - 2; i >= 0; i--) {
            if (i == c->axis) {
                idx[i] = pos;
                continue;
            }
            idx[i] = row % a[i];
            row /= a[i];
        }
        idx[n - 1] = f;
    } else if (c->kind == VC_TEMPORAL) { /* row = (b, s, h) */
        int64_t h = row % c->heads, s = (row / c->heads) % a[2], b = row / c->heads / a[2];
        idx[0] = b, idx[1] = pos, idx[2] = s;
        if (n == 5) idx[3] = h, idx[4] = f;
        else idx[3] = h * hd + f;
    } else { /* area: row = (b, area, h) */
        int64_t seg = a[1] / c->area;
        int64_t h = row % c->heads, ar = (row / c->heads) % c->area, b = row / c->heads / c->area;
        idx[0] = b, idx[1] = ar * seg + pos;
        if (n == 4) idx[2] = h, idx[3] = f;
        else idx[2] = h * hd + f;
    }
}

/* C-order index into out's dims of an API multi-index. */
static int64_t corder(const clattn_tensor *t, const int64_t *idx)
{
    int64_t g = 0;
    for (int i = 0; i < t->ndim; i++) g = g * t->dims[i] + idx[i];
    return g;
}

/* ---- data ---------------------------------------------------------------------------------------------- */

static void dims_with_dv(const views_case *c, int64_t *dims)
{
    memcpy(dims, c->api_dims, sizeof c->api_dims);
    if (!c->dv) return;
    const int n = c->api_ndim;
    const bool split = (c->kind == VC_TEMPORAL && n == 5) || (c->kind == VC_AREA && n == 4);
    if (c->kind == VC_AXIAL || split) dims[n - 1] = c->dv;
    else dims[n - 1] = c->heads * c->dv;
}

static void probs_dims(const views_case *c, int64_t *pd)
{
    const logical g = logical_of(c);
    const int n = c->api_ndim;
    const int64_t *a = c->api_dims;
    if (c->kind == VC_AXIAL) {
        int m = 0;
        for (int i = 0; i < n - 1; i++)
            if (i != c->axis) pd[m++] = a[i];
        pd[m++] = g.L;
        pd[m++] = g.L;
    } else if (c->kind == VC_TEMPORAL) {
        const int64_t p[5] = {a[0], a[2], c->heads, g.L, g.L};
        memcpy(pd, p, sizeof p);
    } else {
        const int64_t p[5] = {a[0], c->area, c->heads, g.L, g.L};
        memcpy(pd, p, sizeof p);
    }
}

static int probs_ndim(const views_case *c)
{
    return c->kind == VC_AXIAL ? c->api_ndim : 5;
}

/* The C-order index into probs of (row, i, j). */
static int64_t probs_index(const views_case *c, int64_t row, int64_t i, int64_t j)
{
    const logical g = logical_of(c);
    return (row * g.L + i) * g.L + j; /* rows enumerate the batch axes in probs' order */
}

void views_data_reference(views_data *d)
{
    const views_case *c = &d->c;
    const logical g = logical_of(c);
    const double scale = (double)(float)(1.0 / sqrt((double)g.D));
    double *s = tu_xmalloc((size_t)g.L * sizeof(double));
    int64_t iq[CLATTN_MAX_DIMS], ik[CLATTN_MAX_DIMS];
    for (int64_t row = 0; row < g.nb; row++)
        for (int64_t i = 0; i < g.L; i++) {
            double mx = -INFINITY;
            int64_t hi = c->causal != CLATTN_CAUSAL_NONE ? i : g.L - 1;
            bool nan = false;
            for (int64_t j = 0; j <= hi; j++) {
                double acc = 0;
                for (int64_t f = 0; f < g.D; f++) {
                    loc(c, row, i, f, g.D, iq);
                    loc(c, row, j, f, g.D, ik);
                    acc += (double)d->bq[at(&d->q, iq)] * (double)d->bk[at(&d->k, ik)];
                }
                s[j] = acc * scale;
                if (isnan(s[j])) nan = true;
                if (s[j] > mx) mx = s[j];
            }
            double sum = 0;
            for (int64_t j = 0; j <= hi; j++) {
                s[j] = nan ? NAN : exp(s[j] - mx);
                sum += s[j];
            }
            for (int64_t j = 0; j <= hi; j++) s[j] /= sum;
            for (int64_t e = 0; e < g.Dv; e++) {
                double acc = 0;
                for (int64_t j = 0; j <= hi; j++) {
                    loc(c, row, j, e, g.Dv, ik);
                    acc += s[j] * (double)d->bv[at(&d->v, ik)];
                }
                loc(c, row, i, e, g.Dv, iq);
                d->ref_out[corder(&d->out, iq)] = acc;
            }
            if (d->ref_probs)
                for (int64_t j = 0; j < g.L; j++) d->ref_probs[probs_index(c, row, i, j)] = j <= hi ? s[j] : 0.0;
        }
    free(s);
}

/* c with heads read from the dims of a split (5-D temporal, 4-D area) view. */
static views_case normalised(const views_case *c)
{
    views_case n = *c;
    if ((c->kind == VC_TEMPORAL && c->api_ndim == 5) || (c->kind == VC_AREA && c->api_ndim == 4))
        n.heads = c->api_dims[c->api_ndim - 2];
    return n;
}

void views_data_make(views_data *d, const views_case *c0, tu_rng *r)
{
    views_data_make_ex(d, c0, r, true);
}

void views_data_make_ex(views_data *d, const views_case *c0, tu_rng *r, bool with_reference)
{
    memset(d, 0, sizeof *d);
    d->c = normalised(c0);
    const views_case *c = &d->c;
    d->n = c->api_ndim;
    int64_t vd[CLATTN_MAX_DIMS], pd[CLATTN_MAX_DIMS];
    dims_with_dv(c, vd);
    d->q = make_view(d->n, c->api_dims, c->layout, &d->nq);
    d->k = make_view(d->n, c->api_dims, c->layout, &d->nk);
    d->v = make_view(d->n, vd, c->layout, &d->nv);
    d->out = make_view(d->n, vd, c->layout, &d->nout);
    d->bq = alloc_input(r, &d->q, d->nq);
    d->bk = alloc_input(r, &d->k, d->nk);
    d->bv = alloc_input(r, &d->v, d->nv);
    d->bout = alloc_poison(d->nout);
    if (c->nan_row) {
        const logical g = logical_of(c);
        int64_t idx[CLATTN_MAX_DIMS];
        loc(c, 0, g.L / 2, 0, g.D, idx);
        d->bq[at(&d->q, idx)] = NAN;
    }
    d->ref_out = tu_xmalloc((size_t)numel(&d->out) * sizeof(double));
    if (c->probs) {
        probs_dims(c, pd);
        d->probs = make_view(probs_ndim(c), pd, c->layout, &d->nprobs);
        d->bprobs = alloc_poison(d->nprobs);
        d->ref_probs = tu_xmalloc((size_t)numel(&d->probs) * sizeof(double));
    }
    if (with_reference) views_data_reference(d);
}

void views_data_free(views_data *d)
{
    free(d->bq), free(d->bk), free(d->bv), free(d->bout), free(d->bprobs);
    free(d->ref_out), free(d->ref_probs);
    memset(d, 0, sizeof *d);
}

/* ---- the call -------------------------------------------------------------------------------------------- */

clattn_status views_data_run(clattn_context *ctx, views_data *d, int repeat, const tu_where *w, char *path_buf,
                             size_t path_size, int64_t *sdpa_count)
{
    const views_case *c = &d->c;
    clattn_status st = CLATTN_SUCCESS;
    const char *path = "";
    int64_t count = 0;
    if (repeat < 1) repeat = 1;
    if (c->kind == VC_AXIAL) {
        clattn_axial_desc desc;
        clattn_axial_desc_init(&desc, d->n, c->api_dims, c->axis);
        desc.q = d->q, desc.k = d->k, desc.v = d->v, desc.out = d->out;
        desc.causal = c->causal;
        desc.want_probs = c->probs;
        if (c->probs) desc.probs = d->probs;
        clattn_axial_plan *plan = NULL;
        st = clattn_axial_plan_create(&plan, ctx, &desc);
        if (st == CLATTN_SUCCESS) {
            path = clattn_axial_plan_path(plan), count = clattn_axial_plan_sdpa_count(plan);
            snprintf(path_buf, path_size, "%s", path);
            for (int i = 0; i < repeat && !st; i++)
                st = clattn_axial_execute(plan, d->bq, d->bk, d->bv, d->bout, d->bprobs);
        }
        clattn_axial_plan_destroy(plan);
    } else if (c->kind == VC_TEMPORAL) {
        clattn_temporal_desc desc;
        clattn_temporal_desc_init(&desc, 1, 1, 1, 1, 1);
        desc.q = d->q, desc.k = d->k, desc.v = d->v, desc.out = d->out;
        desc.num_heads = d->n == 5 ? 0 : c->heads;
        desc.causal = c->causal;
        desc.want_probs = c->probs;
        if (c->probs) desc.probs = d->probs;
        clattn_temporal_plan *plan = NULL;
        st = clattn_temporal_plan_create(&plan, ctx, &desc);
        if (st == CLATTN_SUCCESS) {
            path = clattn_temporal_plan_path(plan), count = clattn_temporal_plan_sdpa_count(plan);
            snprintf(path_buf, path_size, "%s", path);
            for (int i = 0; i < repeat && !st; i++)
                st = clattn_temporal_execute(plan, d->bq, d->bk, d->bv, d->bout, d->bprobs);
        }
        clattn_temporal_plan_destroy(plan);
    } else {
        clattn_area_desc desc;
        clattn_area_desc_init(&desc, 1, 1, 1, 1, 1);
        desc.q = d->q, desc.k = d->k, desc.v = d->v, desc.out = d->out;
        desc.num_heads = d->n == 4 ? 0 : c->heads;
        desc.area = c->area;
        desc.want_probs = c->probs;
        if (c->probs) desc.probs = d->probs;
        clattn_area_plan *plan = NULL;
        st = clattn_area_plan_create(&plan, ctx, &desc);
        if (st == CLATTN_SUCCESS) {
            path = clattn_area_plan_path(plan), count = clattn_area_plan_sdpa_count(plan);
            snprintf(path_buf, path_size, "%s", path);
            for (int i = 0; i < repeat && !st; i++)
                st = clattn_area_execute(plan, d->bq, d->bk, d->bv, d->bout, d->bprobs);
        }
        clattn_area_plan_destroy(plan);
    }
    if (sdpa_count) *sdpa_count = count;
    if (st != CLATTN_SUCCESS && w) tu_report(w, "status %d: %s", (int)st, clattn_last_error(ctx));
    return st;
}

/* ---- checks -------------------------------------------------------------------------------------------- */

static bool check_one(const tu_where *w, const char *what, const float *buf, int64_t n, const clattn_tensor *t,
                      const double *ref)
{
    const int64_t m = numel(t);
    float *got = tu_xmalloc((size_t)m * sizeof(float));
    unsigned char *in_view = calloc((size_t)n, 1);
    if (!in_view) exit(1);
    for (int64_t g = 0; g < m; g++) {
        got[g] = buf[elem(t, g)];
        in_view[elem(t, g)] = 1;
    }
    bool ok = tu_check_array(w, what, got, ref, m, TU_TOL_F32);
    for (int64_t i = 0; i < n && ok; i++) {
        uint32_t bits;
        memcpy(&bits, &buf[i], sizeof bits);
        if (!in_view[i] && bits != TU_POISON_BITS) {
            tu_report(w, "%s: gap element %lld (outside the view) was overwritten", what, (long long)i);
            ok = false;
        }
    }
    free(got);
    free(in_view);
    return ok;
}

bool views_data_check(const views_data *d, const tu_where *w)
{
    bool ok = check_one(w, "out", d->bout, d->nout, &d->out, d->ref_out);
    if (d->c.probs) ok = check_one(w, "probs", d->bprobs, d->nprobs, &d->probs, d->ref_probs) && ok;
    return ok;
}

double views_case_flops(const views_case *c0)
{
    const views_case n = normalised(c0), *c = &n;
    const logical g = logical_of(c);
    double pairs = c->causal != CLATTN_CAUSAL_NONE ? (double)g.L * (double)(g.L + 1) / 2 : (double)g.L * (double)g.L;
    return 2.0 * (double)g.nb * pairs * (double)(g.D + g.Dv);
}

bool views_case_dense(const views_case *c0, clattn_sdpa_desc *desc, uint8_t **mask)
{
    const views_case n = normalised(c0), *c = &n;
    const logical g = logical_of(c);
    const int64_t *a = c->api_dims;
    int64_t B, H, Lf, sB, sH, sL, svB, svH, svL;
    if (c->layout != VC_CONTIG || g.Dv != g.D) return false;
    if (c->kind == VC_AXIAL) {
        if (c->api_ndim != 5 || c->axis < 2) return false; /* [B, H, X, Y, D] along X or Y */
        B = a[0], H = a[1], Lf = a[2] * a[3];
        sL = g.D, sH = Lf * g.D, sB = H * sH;
        svB = sB, svH = sH, svL = sL;
    } else if (c->kind == VC_TEMPORAL) {
        if (c->api_ndim != 4) return false; /* [B, T, S, C]: positions t·S + s */
        B = a[0], H = c->heads, Lf = a[1] * a[2];
        sB = Lf * a[3], sH = g.D, sL = a[3];
        svB = sB, svH = sH, svL = sL;
    } else {
        if (c->api_ndim != 3) return false; /* [B, N, C] */
        B = a[0], H = c->heads, Lf = a[1];
        sB = Lf * a[2], sH = g.D, sL = a[2];
        svB = sB, svH = sH, svL = sL;
    }
    clattn_sdpa_desc_init(desc, B, H, H, Lf, Lf, g.D, g.D);
    const int64_t st[4] = {sB, sH, sL, 1}, sv[4] = {svB, svH, svL, 1};
    const int64_t dq[4] = {B, H, Lf, g.D};
    desc->q = clattn_tensor_view(4, dq, st, 0);
    desc->k = desc->q;
    desc->v = clattn_tensor_view(4, dq, sv, 0);
    desc->out = desc->v;
    desc->mask_kind = CLATTN_MASK_BOOL;
    desc->mask = clattn_tensor_contiguous(1, 1, Lf, Lf);
    uint8_t *m = tu_xmalloc((size_t)(Lf * Lf));
    for (int64_t i = 0; i < Lf; i++)
        for (int64_t j = 0; j < Lf; j++) {
            int64_t pi, pj; /* positions along the attention axis; same-row test */
            bool same;
            if (c->kind == VC_AXIAL && c->axis == 2) { /* flat = x·Y + y: same y, along x */
                same = i % a[3] == j % a[3], pi = i / a[3], pj = j / a[3];
            } else if (c->kind == VC_AXIAL) { /* along y: same x */
                same = i / a[3] == j / a[3], pi = i % a[3], pj = j % a[3];
            } else if (c->kind == VC_TEMPORAL) { /* flat = t·S + s: same s */
                same = i % a[2] == j % a[2], pi = i / a[2], pj = j / a[2];
            } else { /* same segment */
                same = i / g.L == j / g.L, pi = i, pj = j;
            }
            m[i * Lf + j] = same && (c->causal == CLATTN_CAUSAL_NONE || pj <= pi);
        }
    *mask = m;
    return true;
}
