/*
 * Global-local (Longformer) attention on the host path (path "host-global-local"; clattn.h, core/global_local.h):
 *   host_gl_local_row:  one task per (b, h, i) of a local query row: scores of its G global slots and 2w + 1
 *                       window keys (a key that is global only in its slot), masked softmax, out = P·V, the
 *                       compact probabilities; a global query row writes a zero compact row (its weights are in
 *                       global_probs)
 *   host_gl_global_row: one task per (b, h, slot): the slot's global query row over all L keys (q_g, k_g, v_g with
 *                       global projections), out and global_probs; an unused slot writes a zero global_probs row
 * Scratch: one score row of max(G + 2w + 1, L) floats and one Dv accumulator per thread; unit-stride rows take
 * vectorisable loops (dot products with eight partial sums, P·V as axpy over the keys).
 */
#include "alloc.h"
#include "global_local.h"
#include "host.h"

#include <math.h>
#include <stdlib.h>

typedef struct gl_args {
    const clattn_global_local_problem *p;
    const float *q, *k, *v, *qg, *kg, *vg;
    const int32_t *gidx, *slot;
    float *out, *probs, *gprobs;
    float *scratch;
    int64_t row_cap;
} gl_args;

void host_gl_local_row(void *arg, int64_t task, int thread_idx);
void host_gl_global_row(void *arg, int64_t task, int thread_idx);

static inline int64_t at4(const clattn_tensor *t, int64_t b, int64_t h, int64_t i, int64_t d)
{
    return t->offset + b * t->strides[0] + h * t->strides[1] + i * t->strides[2] + d * t->strides[3];
}

/* Softmax of s[0..n) in place over the entries that are not -inf (those become exactly 0); returns false when
 * none is allowed (then all are 0). */
static bool softmax(float *s, int64_t n)
{
    float mx = -INFINITY;
    bool any = false;
    for (int64_t c = 0; c < n; c++) {
        if (s[c] == -INFINITY) continue;
        any = true;
        if (isnan(mx)) continue;
        if (isnan(s[c]) || s[c] > mx) mx = s[c];
    }
    float sum = 0.0f;
    for (int64_t c = 0; c < n; c++) {
        s[c] = (!any || s[c] == -INFINITY) ? 0.0f : expf(s[c] - mx);
        sum += s[c];
    }
    for (int64_t c = 0; c < n && any; c++) s[c] /= sum;
    return any;
}

/* a·b over n elements with strides sa, sb; unit strides take an unrolled loop (eight partial sums) that GCC
 * vectorises. */
static float dot(const float *a, int64_t sa, const float *b, int64_t sb, int64_t n)
{
    if (sa == 1 && sb == 1) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t d = 0;
        for (; d + 8 <= n; d += 8)
            for (int u = 0; u < 8; u++) acc[u] += a[d + u] * b[d + u];
        float r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; d < n; d++) r += a[d] * b[d];
        return r;
    }
    float r = 0.0f;
    for (int64_t d = 0; d < n; d++) r += a[d * sa] * b[d * sb];
    return r;
}

/* acc[0..n) += w·x (stride sx). */
static void axpy(float *restrict acc, float w, const float *restrict x, int64_t sx, int64_t n)
{
    if (sx == 1)
        for (int64_t e = 0; e < n; e++) acc[e] += w * x[e];
    else
        for (int64_t e = 0; e < n; e++) acc[e] += w * x[e * sx];
}

void host_gl_local_row(void *arg, int64_t task, int thread_idx)
{
    const gl_args *a = arg;
    const clattn_global_local_problem *p = a->p;
    const int64_t i = task % p->L, bh = task / p->L, h = bh % p->H, b = bh / p->H, G = p->G, W = p->W;
    float *s = a->scratch + (int64_t)thread_idx * (a->row_cap + p->Dv), *acc = s + a->row_cap;
    if (a->slot[b * p->L + i] >= 0) { /* a global query row: host_gl_global_row computes it */
        if (a->probs)
            for (int64_t c = 0; c < G + W; c++) a->probs[at4(&p->probs, b, h, i, c)] = 0.0f;
        return;
    }
    const float *qi = a->q + at4(&p->q, b, h, i, 0);
    for (int64_t c = 0; c < G + W; c++) {
        const int64_t j = c < G ? a->gidx[b * G + c] : i - p->w + (c - G);
        const bool ok = c < G ? j >= 0 : (j >= 0 && j < p->L && a->slot[b * p->L + j] < 0);
        s[c] = ok ? dot(qi, p->q.strides[3], a->k + at4(&p->k, b, h, j, 0), p->k.strides[3], p->D) * p->scale
                  : -INFINITY;
    }
    const bool any = softmax(s, G + W);
    for (int64_t e = 0; e < p->Dv; e++) acc[e] = 0.0f;
    for (int64_t c = 0; c < G + W && any; c++) {
        if (s[c] == 0.0f) continue;
        const int64_t j = c < G ? a->gidx[b * G + c] : i - p->w + (c - G);
        axpy(acc, s[c], a->v + at4(&p->v, b, h, j, 0), p->v.strides[3], p->Dv);
    }
    for (int64_t e = 0; e < p->Dv; e++) a->out[at4(&p->out, b, h, i, e)] = acc[e];
    if (a->probs)
        for (int64_t c = 0; c < G + W; c++) a->probs[at4(&p->probs, b, h, i, c)] = s[c];
}

void host_gl_global_row(void *arg, int64_t task, int thread_idx)
{
    const gl_args *a = arg;
    const clattn_global_local_problem *p = a->p;
    const int64_t c = task % p->G, bh = task / p->G, h = bh % p->H, b = bh / p->H;
    const int32_t gi = a->gidx[b * p->G + c];
    float *s = a->scratch + (int64_t)thread_idx * (a->row_cap + p->Dv), *acc = s + a->row_cap;
    if (gi < 0) {
        if (a->gprobs)
            for (int64_t j = 0; j < p->L; j++) a->gprobs[at4(&p->gprobs, b, h, c, j)] = 0.0f;
        return;
    }
    const int64_t i = gi;
    const float *q = a->qg ? a->qg : a->q, *k = a->kg ? a->kg : a->k, *v = a->vg ? a->vg : a->v;
    const float *qi = q + at4(&p->q, b, h, i, 0);
    for (int64_t j = 0; j < p->L; j++)
        s[j] = dot(qi, p->q.strides[3], k + at4(&p->k, b, h, j, 0), p->k.strides[3], p->D) * p->scale;
    softmax(s, p->L);
    for (int64_t e = 0; e < p->Dv; e++) acc[e] = 0.0f;
    for (int64_t j = 0; j < p->L; j++)
        if (s[j] != 0.0f) axpy(acc, s[j], v + at4(&p->v, b, h, j, 0), p->v.strides[3], p->Dv);
    for (int64_t e = 0; e < p->Dv; e++) a->out[at4(&p->out, b, h, i, e)] = acc[e];
    if (a->gprobs)
        for (int64_t j = 0; j < p->L; j++) a->gprobs[at4(&p->gprobs, b, h, c, j)] = s[j];
}

clattn_status host_global_local_run(clattn_context *ctx, const clattn_global_local_problem *p,
                                    const clattn_global_local_bufs *bf)
{
    host_state *hs = ctx->backend_data;
    const int threads = host_pool_size(hs->pool);
    gl_args a = {p,  bf->q.host,    bf->k.host,     bf->v.host,   bf->q_g.host, bf->k_g.host, bf->v_g.host,
                 bf->gidx.host, bf->gslot.host, bf->out.host, bf->probs.host, bf->gprobs.host, NULL, 0};
    a.row_cap = p->G + p->W > p->L ? p->G + p->W : p->L;
    a.scratch = clattn_malloc((size_t)threads * (size_t)(a.row_cap + p->Dv) * sizeof(float));
    if (!a.scratch)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "global-local attention: out of host memory");
    host_pool_run(hs->pool, p->B * p->H * p->L, host_gl_local_row, &a);
    if (p->G > 0) host_pool_run(hs->pool, p->B * p->H * p->G, host_gl_global_row, &a);
    free(a.scratch);
    return CLATTN_SUCCESS;
}
