/*
 * Row-by-row path, stage 3 (mirrors kernels/weighted_sum.cl): out = P·V for one query row, skipping
 * zero-probability keys (masked keys have weight exactly 0, so their V rows are never read).
 *
 *   P: one row w[l, e) of the score scratch   v: [B, Hkv, Lk, Dv] (or a paged pool, host_kv_off)
 *   out: [B, Hq, Lq, Dv]; v and out float32, or binary16 / bfloat16 read and written in place (host_ld / host_st)
 */
#include "host.h"

#include <string.h>

/* acc[0..Dv) += sum over allowed keys j in [lo, hi) of w[j] * v_j (w[j] == 0 skips key j). */
static void accumulate_pv(const float *restrict w, const float *restrict vbase, int64_t vs2, int64_t vs3,
                          int64_t lo, int64_t hi, int64_t Dv, float *restrict acc)
{
    if (vs3 == 1 || Dv == 1) {
        int64_t j = lo;
        for (; j + 8 <= hi; j += 8) {
            bool all = true;
            for (int u = 0; u < 8; u++) all = all && w[j + u] != 0.0f;
            const float *restrict v0 = vbase + j * vs2;
            if (all) {
                const float p0 = w[j], p1 = w[j + 1], p2 = w[j + 2], p3 = w[j + 3];
                const float p4 = w[j + 4], p5 = w[j + 5], p6 = w[j + 6], p7 = w[j + 7];
                const float *restrict v1 = v0 + vs2, *restrict v2 = v1 + vs2, *restrict v3 = v2 + vs2;
                const float *restrict v4 = v3 + vs2, *restrict v5 = v4 + vs2, *restrict v6 = v5 + vs2;
                const float *restrict v7 = v6 + vs2;
                for (int64_t e = 0; e < Dv; e++)
                    acc[e] += ((p0 * v0[e] + p1 * v1[e]) + (p2 * v2[e] + p3 * v3[e])) +
                              ((p4 * v4[e] + p5 * v5[e]) + (p6 * v6[e] + p7 * v7[e]));
            } else {
                for (int u = 0; u < 8; u++) {
                    const float pu = w[j + u];
                    if (pu == 0.0f) continue;
                    const float *restrict vu = vbase + (j + u) * vs2;
                    for (int64_t e = 0; e < Dv; e++) acc[e] += pu * vu[e];
                }
            }
        }
        for (; j < hi; j++) {
            const float pj = w[j];
            if (pj == 0.0f) continue;
            const float *restrict vj = vbase + j * vs2;
            for (int64_t e = 0; e < Dv; e++) acc[e] += pj * vj[e];
        }
    } else {
        for (int64_t j = lo; j < hi; j++) {
            const float pj = w[j];
            if (pj == 0.0f) continue;
            const float *vj = vbase + j * vs2;
            for (int64_t e = 0; e < Dv; e++) acc[e] += pj * vj[e * vs3];
        }
    }
}

void host_weighted_sum_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t hk, int64_t i,
                           const float *restrict w, int64_t l, int64_t e, float *restrict acc)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t Dv = p->Dv;
    const clattn_dtype dt = p->data_type;
    const int64_t orow = p->out.offset + b * p->out.strides[0] + h * p->out.strides[1] + i * p->out.strides[2];
    const int64_t os3 = p->out.strides[3];
    if (e > l) {
        for (int64_t c = 0; c < Dv; c++) acc[c] = 0.0f;
        if (dt == CLATTN_DTYPE_F32) {
            /* runs of evenly spaced V rows: all of [l, e) for contiguous V, a page at a time for a paged cache */
            for (int64_t j = l; j < e;) {
                const int64_t run = host_kv_run(p, j), n = e - j < run ? e - j : run;
                accumulate_pv(w + j, (const float *)a->v + host_kv_off(p, &p->v, a->block_table, b, hk, j),
                              host_kv_step(p, &p->v), p->v.strides[3], 0, n, Dv, acc);
                j += n;
            }
        } else { /* 16-bit V read in place, in key order as above (zero weights skip their rows) */
            const int64_t vs3 = p->v.strides[3];
            for (int64_t j = l; j < e; j++) {
                const float pj = w[j];
                if (pj == 0.0f) continue;
                const int64_t vo = host_kv_off(p, &p->v, a->block_table, b, hk, j);
                for (int64_t c = 0; c < Dv; c++) acc[c] += pj * host_ld(a->v, dt, vo + c * vs3);
            }
        }
        if (dt == CLATTN_DTYPE_F32 && os3 == 1)
            memcpy((float *)a->out + orow, acc, (size_t)Dv * sizeof(float));
        else
            for (int64_t c = 0; c < Dv; c++) host_st(a->out, dt, orow + c * os3, acc[c]);
    } else {
        for (int64_t c = 0; c < Dv; c++) host_st(a->out, dt, orow + c * os3, 0.0f);
    }
}
