/*
 * Additive (Bahdanau) attention on the host path (path "host-additive"; clattn.h, core/additive.h):
 *   1. host_additive_project: one task per row of q or k: Pq[b, i, :] = w_q·q_i, Pk[b, j, :] = w_k·k_j + bias
 *   2. host_additive_row:     one task per (b, i): e_ij = w_e·tanh(Pq_i + Pk_j) over the allowed keys (the A terms
 *                             summed in a register: no [Lq, Lk, A] tensor), + additive mask, masked softmax
 *                             (max subtracted), out_i = Σ p_ij·v_j, probabilities when wanted
 * Workspace: Pq and Pk (B·(Lq + Lk)·A floats) and one score row per thread.
 */
#include "additive.h"
#include "alloc.h"
#include "host.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct additive_args {
    const clattn_additive_problem *p;
    const float *q, *k, *v, *w_q, *w_k, *w_e, *bias;
    const uint8_t *bmask;
    const float *amask;
    const int32_t *kvl;
    float *out, *probs;
    float *pq, *pk; /* [B, Lq, A], [B, Lk, A] */
    float *scratch; /* [threads, Lk] */
} additive_args;

void host_additive_project(void *arg, int64_t task, int thread_idx);
void host_additive_row(void *arg, int64_t task, int thread_idx);

static inline int64_t at3(const clattn_tensor *t, int64_t a, int64_t b, int64_t c)
{
    return t->offset + a * t->strides[0] + b * t->strides[1] + c * t->strides[2];
}

void host_additive_project(void *arg, int64_t task, int thread_idx)
{
    (void)thread_idx;
    const additive_args *a = arg;
    const clattn_additive_problem *p = a->p;
    const int64_t nq = p->B * p->Lq;
    const bool is_q = task < nq;
    const int64_t row = is_q ? task : task - nq, L = is_q ? p->Lq : p->Lk, D = is_q ? p->Dq : p->Dk;
    const int64_t b = row / L, l = row % L;
    const clattn_tensor *t = is_q ? &p->q : &p->k;
    const float *x = is_q ? a->q : a->k, *w = is_q ? a->w_q : a->w_k;
    float *dst = (is_q ? a->pq : a->pk) + row * p->A;
    for (int64_t r = 0; r < p->A; r++) {
        float acc = !is_q && a->bias ? a->bias[r] : 0.0f;
        const float *wr = w + r * D;
        for (int64_t d = 0; d < D; d++) acc += wr[d] * x[at3(t, b, l, d)];
        dst[r] = acc;
    }
}

void host_additive_row(void *arg, int64_t task, int thread_idx)
{
    const additive_args *a = arg;
    const clattn_additive_problem *p = a->p;
    const int64_t b = task / p->Lq, i = task % p->Lq, A = p->A;
    const int64_t lk1 = a->kvl ? a->kvl[b] : p->Lk;
    float *s = a->scratch + (int64_t)thread_idx * p->Lk;
    const float *pq = a->pq + task * A;
    float mx = -INFINITY;
    bool any = false;
    for (int64_t j = 0; j < p->Lk; j++) {
        bool ok = clattn_additive_causal_ok(p, i, j, lk1);
        float add = 0.0f;
        if (ok && a->bmask) ok = a->bmask[at3(&p->mask, b, i, j)] != 0;
        if (ok && a->amask) {
            add = a->amask[at3(&p->mask, b, i, j)];
            ok = !(add == -INFINITY);
        }
        if (!ok) {
            s[j] = -INFINITY;
            continue;
        }
        const float *pk = a->pk + (b * p->Lk + j) * A;
        float e = 0.0f;
        for (int64_t r = 0; r < A; r++) e += a->w_e[r] * tanhf(pq[r] + pk[r]);
        s[j] = e + add;
        any = true;
        if (s[j] > mx || isnan(s[j])) mx = isnan(mx) ? mx : s[j];
    }
    float sum = 0.0f;
    if (any) {
        for (int64_t j = 0; j < p->Lk; j++) {
            if (s[j] == -INFINITY) { /* disallowed: exactly 0, also in a NaN row */
                s[j] = 0.0f;
                continue;
            }
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
    }
    for (int64_t e = 0; e < p->Dv; e++) {
        float acc = 0.0f;
        if (any)
            for (int64_t j = 0; j < p->Lk; j++)
                if (s[j] != 0.0f) acc += s[j] * a->v[at3(&p->v, b, j, e)];
        a->out[at3(&p->out, b, i, e)] = any ? acc / sum : 0.0f;
    }
    if (a->probs)
        for (int64_t j = 0; j < p->Lk; j++) a->probs[at3(&p->probs, b, i, j)] = any ? s[j] / sum : 0.0f;
}

clattn_status host_additive_run(clattn_context *ctx, const clattn_additive_problem *p, const clattn_additive_bufs *bf)
{
    host_state *hs = ctx->backend_data;
    const int threads = host_pool_size(hs->pool);
    additive_args a = {p, bf->q.host, bf->k.host, bf->v.host, bf->w_q.host, bf->w_k.host, bf->w_e.host,
                       bf->bias.host, NULL, NULL, bf->kv_lengths.host, bf->out.host, bf->probs.host,
                       NULL, NULL, NULL};
    if (p->mask_kind == CLATTN_MASK_BOOL) a.bmask = bf->mask.host;
    if (p->mask_kind == CLATTN_MASK_ADDITIVE) a.amask = bf->mask.host;
    const size_t nq = (size_t)(p->B * p->Lq), nk = (size_t)(p->B * p->Lk), A = (size_t)p->A;
    a.pq = clattn_malloc(nq * A * sizeof(float));
    a.pk = clattn_malloc(nk * A * sizeof(float));
    a.scratch = clattn_malloc((size_t)threads * (size_t)p->Lk * sizeof(float));
    clattn_status st = CLATTN_SUCCESS;
    if (!a.pq || !a.pk || !a.scratch) {
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "additive attention: out of host memory for the projections "
                          "(%zu floats)", (nq + nk) * A);
    } else {
        host_pool_run(hs->pool, (int64_t)(nq + nk), host_additive_project, &a);
        host_pool_run(hs->pool, (int64_t)nq, host_additive_row, &a);
    }
    free(a.pq);
    free(a.pk);
    free(a.scratch);
    return st;
}
