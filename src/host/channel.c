/*
 * Channel attention on the host path (path "host-channel"; clattn.h, "Channel attention"; core/channel.h):
 *   1. host_channel_pool:    one task per (b, c): mean (in double) and max (NaN propagates) over H·W
 *   2. host_channel_excite:  one task per b: h = relu(w1·p + b1) for each pooled vector, z = w2·h + b2 summed
 *                            over the branches, s = 1 / (1 + exp(-z))
 *   3. host_channel_rescale: one task per (b, c): out = s[b, c]·x over H·W
 * Phases run one after the other on the thread pool, so out may be x itself (in place).
 */
#include "alloc.h"
#include "channel.h"
#include "host.h"

#include <math.h>
#include <stdlib.h>

typedef struct channel_args {
    const clattn_channel_problem *p;
    const float *x, *w1, *b1, *w2, *b2;
    float *out, *scales;  /* scales: the caller's view, or NULL */
    float *pooled;        /* [B, 2, C]: avg, max */
    float *gate;          /* [B, C] */
    float *hidden;        /* [threads, R] scratch */
} channel_args;

static inline int64_t x_at(const clattn_tensor *t, int64_t b, int64_t c, int64_t h, int64_t w)
{
    return t->offset + b * t->strides[0] + c * t->strides[1] + h * t->strides[2] + w * t->strides[3];
}

void host_channel_pool(void *arg, int64_t task, int thread_idx);
void host_channel_excite(void *arg, int64_t task, int thread_idx);
void host_channel_rescale(void *arg, int64_t task, int thread_idx);

void host_channel_pool(void *arg, int64_t task, int thread_idx)
{
    (void)thread_idx;
    const channel_args *a = arg;
    const clattn_channel_problem *p = a->p;
    const int64_t b = task / p->C, c = task % p->C;
    double sum = 0.0;
    float mx = -INFINITY;
    for (int64_t h = 0; h < p->H; h++)
        for (int64_t w = 0; w < p->W; w++) {
            const float v = a->x[x_at(&p->x, b, c, h, w)];
            sum += (double)v;
            if (v > mx || isnan(v)) mx = isnan(mx) ? mx : v;
        }
    a->pooled[(b * 2 + 0) * p->C + c] = (float)(sum / (double)(p->H * p->W));
    a->pooled[(b * 2 + 1) * p->C + c] = mx;
}

void host_channel_excite(void *arg, int64_t b, int thread_idx)
{
    const channel_args *a = arg;
    const clattn_channel_problem *p = a->p;
    float *hid = a->hidden + (int64_t)thread_idx * p->R;
    float *z = a->gate + b * p->C;
    for (int64_t c = 0; c < p->C; c++) z[c] = 0.0f;
    for (int branch = 0; branch < (p->avg_max ? 2 : 1); branch++) {
        const float *pv = a->pooled + (b * 2 + branch) * p->C;
        for (int64_t r = 0; r < p->R; r++) {
            float acc = a->b1 ? a->b1[r] : 0.0f;
            const float *wr = a->w1 + r * p->C;
            for (int64_t c = 0; c < p->C; c++) acc += wr[c] * pv[c];
            hid[r] = acc > 0.0f ? acc : isnan(acc) ? acc : 0.0f; /* relu keeps NaN */
        }
        for (int64_t c = 0; c < p->C; c++) {
            float acc = a->b2 ? a->b2[c] : 0.0f;
            const float *wc = a->w2 + c * p->R;
            for (int64_t r = 0; r < p->R; r++) acc += wc[r] * hid[r];
            z[c] += acc;
        }
    }
    for (int64_t c = 0; c < p->C; c++) {
        z[c] = 1.0f / (1.0f + expf(-z[c]));
        if (a->scales) a->scales[p->scales.offset + b * p->scales.strides[0] + c * p->scales.strides[1]] = z[c];
    }
}

void host_channel_rescale(void *arg, int64_t task, int thread_idx)
{
    (void)thread_idx;
    const channel_args *a = arg;
    const clattn_channel_problem *p = a->p;
    const int64_t b = task / p->C, c = task % p->C;
    const float s = a->gate[task];
    for (int64_t h = 0; h < p->H; h++)
        for (int64_t w = 0; w < p->W; w++) a->out[x_at(&p->out, b, c, h, w)] = s * a->x[x_at(&p->x, b, c, h, w)];
}

clattn_status host_channel_run(clattn_context *ctx, const clattn_channel_problem *p, const clattn_channel_bufs *bufs)
{
    host_state *hs = ctx->backend_data;
    const int threads = host_pool_size(hs->pool);
    channel_args a = {p, bufs->x.host, bufs->w1.host, bufs->b1.host, bufs->w2.host, bufs->b2.host, bufs->out.host,
                      bufs->scales.host, NULL, NULL, NULL};
    const size_t nbc = (size_t)(p->B * p->C); /* <= the numel of x */
    a.pooled = clattn_malloc(2 * nbc * sizeof(float));
    a.gate = clattn_malloc(nbc * sizeof(float));
    a.hidden = clattn_malloc((size_t)threads * (size_t)p->R * sizeof(float));
    clattn_status st = CLATTN_SUCCESS;
    if (!a.pooled || !a.gate || !a.hidden) {
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "channel attention: out of host memory for %zu floats",
                          3 * nbc + (size_t)threads * (size_t)p->R);
    } else {
        host_pool_run(hs->pool, (int64_t)nbc, host_channel_pool, &a);
        host_pool_run(hs->pool, p->B, host_channel_excite, &a);
        host_pool_run(hs->pool, (int64_t)nbc, host_channel_rescale, &a);
    }
    free(a.pooled);
    free(a.gate);
    free(a.hidden);
    return st;
}
