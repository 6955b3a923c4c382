/*
 * The host backend's merge of partial attention states (the merge_* slots of clattn_backend_i; core/merge.c
 * validates the problem, see clattn_merge_desc in clattn.h):
 *
 *   parts_out: [P, B, H, L, Dv]   parts_lse: [P, B, H, L]   out: [B, H, L, Dv]   lse: [B, H, L] (as [B, H, L, 1])
 *
 * One task per block of HOST_MERGE_ROWS rows r = (b, h, i). Per row: M = max over parts with lse_p != -inf
 * (a NaN lse_p makes the row NaN), S = sum of w_p = exp(lse_p - M); then, in chunks of HOST_MERGE_CHUNK
 * columns, acc = sum_p w_p·out_p (parts with lse_p = -inf are skipped, their rows never read) and
 * out = acc / S; lse = M + log(S) is written last. Every input of a row is read before that row's outputs
 * are written, so out (lse) may be exactly one part's slice (in place). float32 accumulation; fp16 and bf16
 * parts and out are converted with src/common/fp16.h (round to nearest even).
 */
#include "fp16.h"

#include "host.h"

#include <math.h>

#define HOST_MERGE_ROWS 64   /* rows per task */
#define HOST_MERGE_CHUNK 256 /* columns accumulated at a time (stack) */
#define HOST_MERGE_WMAX 64   /* parts whose weights are kept per row (stack) */

typedef struct host_merge_args {
    const clattn_merge_problem *p;
    const void *parts_out;
    const float *parts_lse;
    void *out;
    float *lse;
} host_merge_args;

static void merge_row(const host_merge_args *a, int64_t b, int64_t h, int64_t i)
{
    const clattn_merge_problem *p = a->p;
    const clattn_tensor *po = &p->parts_out, *pl = &p->parts_lse, *o = &p->out;
    const bool f16 = p->data_type == CLATTN_DTYPE_F16, bf16 = p->data_type == CLATTN_DTYPE_BF16;
    const int64_t P = p->P, Dv = p->Dv;
    const float *lrow = a->parts_lse + pl->offset + b * pl->strides[1] + h * pl->strides[2] + i * pl->strides[3];
    const int64_t ls0 = pl->strides[0];
    float M = -INFINITY;
    bool nan = false, any = false;
    for (int64_t q = 0; q < P; q++) {
        const float x = lrow[q * ls0];
        if (x != x) nan = true;
        else if (x != -INFINITY) {
            any = true;
            if (x > M) M = x;
        }
    }
    const int64_t obase = o->offset + b * o->strides[0] + h * o->strides[1] + i * o->strides[2], os3 = o->strides[3];
    const int64_t pbase = po->offset + b * po->strides[1] + h * po->strides[2] + i * po->strides[3];
    const int64_t ps0 = po->strides[0], ps4 = po->strides[4];
    float S = 0.0f, L = -INFINITY;
    if (nan) {
        S = NAN;
        L = NAN;
    } else if (any) {
        for (int64_t q = 0; q < P; q++) {
            const float x = lrow[q * ls0];
            if (x != -INFINITY) S += expf(x - M); /* M = +inf: NaN, as the row's attention is */
        }
        L = M + logf(S);
    }
    const float inv = any && !nan ? 1.0f / S : 0.0f;
    /* the parts' weights, once per row (up to HOST_MERGE_WMAX parts; more are recomputed per chunk) */
    float wts[HOST_MERGE_WMAX];
    const bool cached = P <= HOST_MERGE_WMAX;
    if (cached && any && !nan)
        for (int64_t q = 0; q < P; q++) {
            const float x = lrow[q * ls0];
            wts[q] = x == -INFINITY ? 0.0f : expf(x - M);
        }
    float acc[HOST_MERGE_CHUNK];
    for (int64_t e0 = 0; e0 < Dv; e0 += HOST_MERGE_CHUNK) {
        const int64_t n = Dv - e0 < HOST_MERGE_CHUNK ? Dv - e0 : HOST_MERGE_CHUNK;
        for (int64_t e = 0; e < n; e++) acc[e] = nan ? NAN : 0.0f;
        if (any && !nan)
            for (int64_t q = 0; q < P; q++) {
                const float x = lrow[q * ls0];
                if (x == -INFINITY) continue; /* no allowed key in this part: never read its row */
                const float w = cached ? wts[q] : expf(x - M);
                const int64_t src = pbase + q * ps0 + e0 * ps4;
                if (f16) {
                    const uint16_t *s = (const uint16_t *)a->parts_out + src;
                    for (int64_t e = 0; e < n; e++) acc[e] += w * clattn_half_to_float(s[e * ps4]);
                } else if (bf16) {
                    const uint16_t *s = (const uint16_t *)a->parts_out + src;
                    for (int64_t e = 0; e < n; e++) acc[e] += w * clattn_bf16_to_float(s[e * ps4]);
                } else if (ps4 == 1) {
                    const float *restrict s = (const float *)a->parts_out + src;
                    for (int64_t e = 0; e < n; e++) acc[e] += w * s[e];
                } else {
                    const float *s = (const float *)a->parts_out + src;
                    for (int64_t e = 0; e < n; e++) acc[e] += w * s[e * ps4];
                }
            }
        const int64_t dst = obase + e0 * os3;
        if (f16) {
            uint16_t *d = (uint16_t *)a->out + dst;
            for (int64_t e = 0; e < n; e++) d[e * os3] = clattn_float_to_half(acc[e] * inv);
        } else if (bf16) {
            uint16_t *d = (uint16_t *)a->out + dst;
            for (int64_t e = 0; e < n; e++) d[e * os3] = clattn_float_to_bf16(acc[e] * inv);
        } else {
            float *d = (float *)a->out + dst;
            if (nan)
                for (int64_t e = 0; e < n; e++) d[e * os3] = NAN;
            else
                for (int64_t e = 0; e < n; e++) d[e * os3] = acc[e] * inv;
        }
    }
    if (a->lse) a->lse[p->lse.offset + b * p->lse.strides[0] + h * p->lse.strides[1] + i * p->lse.strides[2]] = L;
}

static void merge_task(void *argp, int64_t task, int tid)
{
    (void)tid;
    const host_merge_args *a = argp;
    const clattn_merge_problem *p = a->p;
    const int64_t rows = p->B * p->H * p->L;
    const int64_t r1 = (task + 1) * HOST_MERGE_ROWS < rows ? (task + 1) * HOST_MERGE_ROWS : rows;
    for (int64_t r = task * HOST_MERGE_ROWS; r < r1; r++) {
        const int64_t i = r % p->L, bh = r / p->L;
        merge_row(a, bh / p->H, bh % p->H, i);
    }
}

clattn_status host_merge_prepare(clattn_context *ctx, clattn_merge_plan *plan)
{
    (void)ctx;
    (void)plan; /* nothing to build; the tasks need no scratch */
    return CLATTN_SUCCESS;
}

clattn_status host_merge_run(clattn_context *ctx, clattn_merge_plan *plan, const clattn_merge_bufs *b,
                             const clattn_sync *sync)
{
    (void)sync; /* synchronous */
    const host_state *st = ctx->backend_data;
    const clattn_merge_problem *p = &plan->p;
    if (!b->parts_out.host || !b->parts_lse.host || !b->out.host || (p->want_lse && !b->lse.host))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host merge: a required buffer is NULL");
    const host_merge_args a = {p, b->parts_out.host, b->parts_lse.host, b->out.host,
                               p->want_lse ? b->lse.host : NULL};
    const int64_t rows = p->B * p->H * p->L;
    host_pool_run(st->pool, (rows + HOST_MERGE_ROWS - 1) / HOST_MERGE_ROWS, merge_task, (void *)&a);
    return CLATTN_SUCCESS;
}
