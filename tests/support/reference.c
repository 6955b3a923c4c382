/* Naive double-precision SDPA and MHA references; see reference.h. */
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* A read-only 4-D view of float or double data. */
typedef struct rview {
    const float *f;
    const double *d;
    clattn_tensor t;
} rview;

static int64_t rv_index(const clattn_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    int64_t idx[4] = {i0, i1, i2, i3};
    int64_t e = t->offset;
    for (int a = 0; a < 4; a++)
        if (t->dims[a] > 1) e += idx[a] * t->strides[a]; /* a dim of size 1 ignores its stride */
    return e;
}

static double rv_get(const rview *v, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    int64_t e = rv_index(&v->t, i0, i1, i2, i3);
    return v->f ? (double)v->f[e] : v->d[e];
}

/* Everything the core needs; sizes are the logical problem sizes. */
typedef struct rproblem {
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
    rview q, k, v;
    clattn_mask_kind mask_kind;
    const void *mask;
    clattn_tensor mask_t;
    const int32_t *kv_lengths;
    double scale, softcap;
    clattn_causal causal;
    int64_t window_left, window_right;
} rproblem;

static int64_t kv_len_of(const rproblem *p, int64_t b)
{
    if (!p->kv_lengths) return p->Lk;
    int64_t l = p->kv_lengths[b];
    return l < 0 ? 0 : l > p->Lk ? p->Lk : l;
}

static int64_t bidx(int64_t dim, int64_t i)
{
    return dim == 1 ? 0 : i;
}

/* Mask value: for BOOL 1/0 (allowed), for ADDITIVE the float. */
static double mask_at(const rproblem *p, int64_t b, int64_t h, int64_t i, int64_t j)
{
    const clattn_tensor *t = &p->mask_t;
    int64_t e = rv_index(t, bidx(t->dims[0], b), bidx(t->dims[1], h), bidx(t->dims[2], i), j);
    if (p->mask_kind == CLATTN_MASK_BOOL) return ((const uint8_t *)p->mask)[e] != 0 ? 1.0 : 0.0;
    return (double)((const float *)p->mask)[e];
}

static int allowed(const rproblem *p, int64_t b, int64_t h, int64_t i, int64_t j)
{
    int64_t lk = kv_len_of(p, b);
    if (j >= lk) return 0;
    int64_t ip = i + lk - p->Lq; /* 64-bit, may be negative */
    if (p->causal == CLATTN_CAUSAL_TOP_LEFT && j > i) return 0;
    if (p->causal == CLATTN_CAUSAL_BOTTOM_RIGHT && j > ip) return 0;
    if (p->window_left != -1 && j < ip - p->window_left) return 0;
    if (p->window_right != -1 && j > ip + p->window_right) return 0;
    if (p->mask_kind == CLATTN_MASK_BOOL && mask_at(p, b, h, i, j) == 0.0) return 0;
    if (p->mask_kind == CLATTN_MASK_ADDITIVE) {
        double m = mask_at(p, b, h, i, j);
        if (isinf(m) && m < 0) return 0;
    }
    return 1;
}

/* out: [B, Hq, Lq, Dv] C order; probs: [B, Hq, Lq, Lk] C order or NULL; lse: [B, Hq, Lq] C order or NULL. */
static void ref_core(const rproblem *p, double *out, double *probs, double *lse)
{
    int64_t group = p->Hq / p->Hkv;
    double *s = tu_xmalloc((size_t)p->Lk * sizeof(double));
    unsigned char *ok = tu_xmalloc((size_t)p->Lk);
    for (int64_t b = 0; b < p->B; b++) {
        int64_t bk = bidx(p->k.t.dims[0], b), bv = bidx(p->v.t.dims[0], b);
        for (int64_t h = 0; h < p->Hq; h++) {
            int64_t hk = h / group;
            for (int64_t i = 0; i < p->Lq; i++) {
                double *o = out + ((b * p->Hq + h) * p->Lq + i) * p->Dv;
                double *pr = probs ? probs + ((b * p->Hq + h) * p->Lq + i) * p->Lk : NULL;
                double *ls = lse ? lse + (b * p->Hq + h) * p->Lq + i : NULL;
                double mx = -INFINITY;
                int any = 0, nan_row = 0;
                for (int64_t j = 0; j < p->Lk; j++) {
                    ok[j] = (unsigned char)allowed(p, b, h, i, j);
                    if (!ok[j]) continue;
                    any = 1;
                    double dot = 0.0;
                    for (int64_t d = 0; d < p->D; d++)
                        dot += rv_get(&p->q, b, h, i, d) * rv_get(&p->k, bk, hk, j, d);
                    double sc = dot * p->scale;
                    if (p->softcap > 0.0) sc = p->softcap * tanh(sc / p->softcap);
                    if (p->mask_kind == CLATTN_MASK_ADDITIVE) sc += mask_at(p, b, h, i, j);
                    s[j] = sc;
                    if (isnan(sc)) nan_row = 1;
                    else if (sc > mx) mx = sc;
                }
                for (int64_t d = 0; d < p->Dv; d++) o[d] = 0.0;
                if (pr)
                    for (int64_t j = 0; j < p->Lk; j++) pr[j] = 0.0;
                if (ls) *ls = -INFINITY;
                if (!any) continue; /* no allowed key: zeros (lse -inf) */
                if (nan_row) {      /* a NaN score makes the whole row NaN (lse too) */
                    if (ls) *ls = NAN;
                    for (int64_t d = 0; d < p->Dv; d++) o[d] = NAN;
                    if (pr)
                        for (int64_t j = 0; j < p->Lk; j++)
                            if (ok[j]) pr[j] = NAN;
                    continue;
                }
                double sum = 0.0;
                for (int64_t j = 0; j < p->Lk; j++)
                    if (ok[j]) {
                        s[j] = exp(s[j] - mx);
                        sum += s[j];
                    }
                if (ls) *ls = mx + log(sum); /* log-sum-exp of the allowed scores */
                for (int64_t j = 0; j < p->Lk; j++) {
                    if (!ok[j]) continue; /* never read V of a disallowed key */
                    double w = s[j] / sum;
                    if (pr) pr[j] = w;
                    for (int64_t d = 0; d < p->Dv; d++) o[d] += w * rv_get(&p->v, bv, hk, j, d);
                }
            }
        }
    }
    free(s);
    free(ok);
}

static void problem_from_desc(rproblem *p, const clattn_sdpa_desc *desc, const float *q, const float *k,
                              const float *v, const void *mask, const int32_t *kv_lengths)
{
    memset(p, 0, sizeof *p);
    p->B = desc->q.dims[0];
    p->Hq = desc->q.dims[1];
    p->Lq = desc->q.dims[2];
    p->D = desc->q.dims[3];
    p->Hkv = desc->k.dims[1];
    p->Lk = desc->k.dims[2];
    p->Dv = desc->v.dims[3];
    p->q.f = q;
    p->q.t = desc->q;
    p->k.f = k;
    p->k.t = desc->k;
    p->v.f = v;
    p->v.t = desc->v;
    p->mask_kind = desc->mask_kind;
    p->mask = mask;
    p->mask_t = desc->mask;
    p->kv_lengths = desc->use_kv_lengths ? kv_lengths : NULL;
    float scale = desc->scale != 0.0f ? desc->scale : (float)(1.0 / sqrt((double)p->D));
    p->scale = (double)scale;
    p->softcap = (double)desc->softcap;
    p->causal = desc->causal;
    p->window_left = desc->window_left;
    p->window_right = desc->window_right;
}

void ref_sdpa(const clattn_sdpa_desc *desc, const float *q, const float *k, const float *v, const void *mask,
              const int32_t *kv_lengths, double *out, double *probs)
{
    rproblem p;
    problem_from_desc(&p, desc, q, k, v, mask, kv_lengths);
    ref_core(&p, out, probs, NULL);
}

void ref_sdpa_lse(const clattn_sdpa_desc *desc, const float *q, const float *k, const float *v, const void *mask,
                  const int32_t *kv_lengths, double *out, double *probs, double *lse)
{
    rproblem p;
    problem_from_desc(&p, desc, q, k, v, mask, kv_lengths);
    ref_core(&p, out, probs, lse);
}

int ref_sdpa_allowed(const clattn_sdpa_desc *desc, const void *mask, const int32_t *kv_lengths, int64_t b,
                     int64_t h, int64_t i, int64_t j)
{
    rproblem p;
    problem_from_desc(&p, desc, NULL, NULL, NULL, mask, kv_lengths);
    return allowed(&p, b, h, i, j);
}

/* y[m, n] = sum_k x[m, k] * w[n, k] + bias[n] (nn.Linear), in double. */
static void linear(int64_t M, int64_t N, int64_t K, const float *x, const double *xd, const float *w,
                   const float *bias, double *y)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = bias ? (double)bias[n] : 0.0;
            for (int64_t kk = 0; kk < K; kk++)
                acc += (x ? (double)x[m * K + kk] : xd[m * K + kk]) * (double)w[n * K + kk];
            y[m * N + n] = acc;
        }
}

void ref_mha(const clattn_mha_weights *w, int64_t B, int64_t Lq, int64_t Lk, const float *query, const float *key,
             const float *value, const void *mask, const int32_t *kv_lengths, const clattn_mha_options *opts,
             double *out, double *probs)
{
    clattn_mha_options defaults;
    clattn_mha_options_init(&defaults);
    if (!opts) opts = &defaults;
    int64_t E = w->embed_dim, H = w->num_heads, hd = E / H;
    int64_t kdim = w->kdim ? w->kdim : E, vdim = w->vdim ? w->vdim : E;
    if (!key) {
        key = value = query;
        Lk = Lq;
    }
    double *qp = tu_xmalloc((size_t)(B * Lq * E) * sizeof(double));
    double *kp = tu_xmalloc((size_t)(B * Lk * E) * sizeof(double));
    double *vp = tu_xmalloc((size_t)(B * Lk * E) * sizeof(double));
    double *heads = tu_xmalloc((size_t)(B * H * Lq * hd) * sizeof(double));
    double *cat = tu_xmalloc((size_t)(B * Lq * E) * sizeof(double));
    double *ph = NULL;
    if (opts->probs_mode != CLATTN_PROBS_NONE && probs)
        ph = opts->probs_mode == CLATTN_PROBS_PER_HEAD ? probs : tu_xmalloc((size_t)(B * H * Lq * Lk) * sizeof(double));

    linear(B * Lq, E, E, query, NULL, w->w_q, w->b_q, qp);
    linear(B * Lk, E, kdim, key, NULL, w->w_k, w->b_k, kp);
    linear(B * Lk, E, vdim, value, NULL, w->w_v, w->b_v, vp);

    rproblem p;
    memset(&p, 0, sizeof p);
    p.B = B;
    p.Hq = p.Hkv = H;
    p.Lq = Lq;
    p.Lk = Lk;
    p.D = p.Dv = hd;
    clattn_tensor qt = {.ndim = 4, .dims = {B, H, Lq, hd}, .strides = {Lq * E, hd, E, 1}};
    clattn_tensor kt = {.ndim = 4, .dims = {B, H, Lk, hd}, .strides = {Lk * E, hd, E, 1}};
    p.q.d = qp;
    p.q.t = qt;
    p.k.d = kp;
    p.k.t = kt;
    p.v.d = vp;
    p.v.t = kt;
    p.mask_kind = opts->mask_kind;
    p.mask = mask;
    p.mask_t = opts->mask;
    p.kv_lengths = kv_lengths;
    float scale = opts->scale != 0.0f ? opts->scale : (float)(1.0 / sqrt((double)hd));
    p.scale = (double)scale;
    p.softcap = (double)opts->softcap;
    p.causal = opts->causal;
    p.window_left = opts->window_left;
    p.window_right = opts->window_right;
    ref_core(&p, heads, ph, NULL);

    /* concat [B, Lq, E]: cat[b, i, h*hd + d] = head h row i */
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Lq; i++)
                for (int64_t d = 0; d < hd; d++)
                    cat[(b * Lq + i) * E + h * hd + d] = heads[((b * H + h) * Lq + i) * hd + d];
    linear(B * Lq, E, E, NULL, cat, w->w_o, w->b_o, out);

    if (ph && opts->probs_mode == CLATTN_PROBS_AVERAGED) {
        for (int64_t b = 0; b < B; b++)
            for (int64_t e = 0; e < Lq * Lk; e++) {
                double s = 0.0;
                for (int64_t h = 0; h < H; h++) s += ph[(b * H + h) * Lq * Lk + e];
                probs[b * Lq * Lk + e] = s / (double)H;
            }
        free(ph);
    }
    free(qp);
    free(kp);
    free(vp);
    free(heads);
    free(cat);
}
