/*
 * Row-by-row path, stage 1 (mirrors kernels/scores.cl): raw scores q·kᵀ for a block of query rows,
 * then per row scale, softcap and mask.
 *
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   mask: [Bm, Hm, Lqm, Lk] (broadcast dims have stride 0)
 *   q and k float32, or binary16 / bfloat16 read in place (widened while packing: host_ld)
 *   S: [qb, lds] per-thread scratch, lds = Lk rounded up to HOST_KB
 *
 * Keys are packed transposed in chunks of HOST_KB so the micro-kernels' inner loop runs over keys.
 * Softcap (c·tanh(s/c)) comes after the scale and before the mask; a masked key's score is -inf.
 */
#include "host.h"

#include <math.h>
#include <string.h>

/* s0[c] = dot(q0, key c of the chunk) for c < HOST_KB; kt is the chunk transposed, [D][HOST_KB].
 * `unroll 1` keeps GCC from unrolling the key loop and then vectorising over d with shuffles (2x
 * slower); noinline keeps the micro-kernels' code independent of the caller's register pressure. */
__attribute__((noinline)) static void qk_row1(const float *restrict q0, const float *restrict kt, int64_t D,
                                              float *restrict s0)
{
    float a0[HOST_KB] = {0};
    for (int64_t d = 0; d < D; d++) {
        const float x0 = q0[d];
        const float *restrict kd = kt + d * HOST_KB;
#pragma GCC unroll 1
        for (int c = 0; c < HOST_KB; c++) a0[c] += x0 * kd[c];
    }
    memcpy(s0, a0, sizeof a0);
}

/* Two rows at once: each packed key vector is loaded once for both. */
__attribute__((noinline)) static void qk_row2(const float *restrict q0, const float *restrict q1,
                                              const float *restrict kt, int64_t D, float *restrict s0,
                                              float *restrict s1)
{
    float a0[HOST_KB] = {0}, a1[HOST_KB] = {0};
    for (int64_t d = 0; d < D; d++) {
        const float x0 = q0[d], x1 = q1[d];
        const float *restrict kd = kt + d * HOST_KB;
#pragma GCC unroll 1
        for (int c = 0; c < HOST_KB; c++) {
            a0[c] += x0 * kd[c];
            a1[c] += x1 * kd[c];
        }
    }
    memcpy(s0, a0, sizeof a0);
    memcpy(s1, a1, sizeof a1);
}

void host_scores_block(const host_rowwise_args *a, int64_t b, int64_t h, int64_t hk, int64_t i0, int64_t rows,
                       const int64_t *lo, const int64_t *hi, int64_t jlo, int64_t jhi, float *restrict qpack,
                       float *restrict kt, float *restrict sc, int64_t lds)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t D = p->D;

    /* Pack the query rows that attend anywhere (16-bit q widened here: read in place, no staging copy). */
    const clattn_dtype dt = p->data_type;
    const int64_t qoff = p->q.offset + b * p->q.strides[0] + h * p->q.strides[1];
    for (int64_t r = 0; r < rows; r++) {
        if (hi[r] <= lo[r]) continue;
        const int64_t qr = qoff + (i0 + r) * p->q.strides[2];
        const int64_t qs3 = p->q.strides[3];
        float *dst = qpack + r * D;
        if (dt == CLATTN_DTYPE_F32 && qs3 == 1)
            memcpy(dst, (const float *)a->q + qr, (size_t)D * sizeof(float));
        else
            for (int64_t d = 0; d < D; d++) dst[d] = host_ld(a->q, dt, qr + d * qs3);
    }

    /* Scores, chunk by chunk of HOST_KB keys aligned to HOST_KB (so stores stay inside lds). */
    const int64_t ks3 = p->k.strides[3];
    for (int64_t j0 = jlo - jlo % HOST_KB; j0 < jhi; j0 += HOST_KB) {
        for (int c = 0; c < HOST_KB; c++) {
            const int64_t j = j0 + c;
            if (j >= jlo && j < jhi) {
                const int64_t kr = host_kv_off(p, &p->k, a->block_table, b, hk, j);
                if (dt == CLATTN_DTYPE_F32)
                    for (int64_t d = 0; d < D; d++) kt[d * HOST_KB + c] = ((const float *)a->k)[kr + d * ks3];
                else
                    for (int64_t d = 0; d < D; d++) kt[d * HOST_KB + c] = host_ld(a->k, dt, kr + d * ks3);
            } else {
                for (int64_t d = 0; d < D; d++) kt[d * HOST_KB + c] = 0.0f;
            }
        }
        const int64_t j1 = j0 + HOST_KB;
        int64_t r = 0;
        while (r < rows) {
            if (!(lo[r] < j1 && hi[r] > j0 && hi[r] > lo[r])) {
                r++;
                continue;
            }
            if (r + 1 < rows && lo[r + 1] < j1 && hi[r + 1] > j0 && hi[r + 1] > lo[r + 1]) {
                qk_row2(qpack + r * D, qpack + (r + 1) * D, kt, D, sc + r * lds + j0,
                        sc + (r + 1) * lds + j0);
                r += 2;
            } else {
                qk_row1(qpack + r * D, kt, D, sc + r * lds + j0);
                r++;
            }
        }
    }
}

void host_scores_finish_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t i, int64_t l, int64_t e,
                            float *restrict s)
{
    const clattn_sdpa_problem *p = a->p;
    const float scale = p->scale, softcap = p->softcap;
    const int64_t mrow = p->mask.offset + b * p->mask.strides[0] + h * p->mask.strides[1] + i * p->mask.strides[2];
    const int64_t ms3 = p->mask.strides[3];
    for (int64_t j = l; j < e; j++) s[j] *= scale;
    if (softcap > 0.0f)
        for (int64_t j = l; j < e; j++) s[j] = softcap * tanhf(s[j] / softcap);
    if (a->mask_bool != NULL) {
        const uint8_t *m = a->mask_bool + mrow;
        for (int64_t j = l; j < e; j++) s[j] = m[j * ms3] != 0 ? s[j] : -INFINITY;
    } else if (a->mask_add != NULL) {
        host_mask_add_row(s, (const unsigned char *)a->mask_add + (size_t)mrow * clattn_dtype_size(p->mask_type),
                          p->mask_type, ms3, l, e);
    }
}
