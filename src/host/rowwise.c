/*
 * The host backend's row-by-row SDPA path: the driver that runs the stage files (scores.c, softmax.c,
 * weighted_sum.c) over one flat parallel loop, as in PyTorch's CPU flash-attention kernel.
 *
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 *   probs: [B, Hq, Lq, Lk]   mask: [Bm, Hm, Lqm, Lk], broadcast dims have stride 0
 *
 * A task is one (b, h, block of `qb` query rows). For each row it finds the key range [lo, hi) left
 * by kv_lengths, causal and window limits, computes those scores into a per-thread [qb, Lk] scratch
 * (keys packed transposed in chunks of HOST_KB so the inner loop runs over keys), applies scale,
 * softcap and mask, takes a stable softmax over the allowed keys (and the row's log-sum-exp when lse is
 * wanted), and accumulates p·v only for keys
 * with nonzero weight (masked keys have weight exactly 0, so their V rows are never read).
 * Strides are honoured everywhere; unit strides along D/Dv take the vectorisable loops.
 * Serves every plan the fused path (fused.h) does not: want_probs, general strides, kernel_path CHAIN (CLATTN_PATH=chain).
 */
#include "host.h"

#include <math.h>

#include <stdint.h>

#define HOST_S_BUDGET ((int64_t)8 << 20) /* bytes of score scratch per thread before qb shrinks */

static size_t round_up_floats(size_t n)
{
    return (n + HOST_ALIGN_FLOATS - 1) / HOST_ALIGN_FLOATS * HOST_ALIGN_FLOATS;
}

static void rowwise_task(void *argp, int64_t task, int tid)
{
    const host_rowwise_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_plan *hp = a->hp;
    const int64_t Lk = p->Lk, lds = hp->lds;

    const int64_t qblk = task % hp->n_qblocks, bh = task / hp->n_qblocks;
    const int64_t h = bh % p->Hq, b = bh / p->Hq;
    const int64_t hk = h / (p->Hq / p->Hkv);
    const int64_t i0 = qblk * hp->qb;
    const int64_t rows = p->Lq - i0 < hp->qb ? p->Lq - i0 : hp->qb;

    float *ws = a->scratch + (size_t)tid * hp->thread_floats;
    float *restrict qpack = ws + hp->off_q; /* [qb][D] */
    float *restrict kt = ws + hp->off_kt;   /* [D][HOST_KB] */
    float *restrict sc = ws + hp->off_s;    /* [qb][lds] */
    float *restrict acc = ws + hp->off_acc; /* [Dv] */

    int64_t lk = Lk;
    if (a->kv_lengths != NULL) {
        lk = a->kv_lengths[b];
        if (lk < 0) lk = 0;
        if (lk > Lk) lk = Lk;
    }

    int64_t lo[HOST_QB_MAX] = {0}, hi[HOST_QB_MAX] = {0}; /* zeroed: GCC cannot see rows >= 1 */
    int64_t jlo = Lk, jhi = 0;
    for (int64_t r = 0; r < rows; r++) {
        host_row_range(p, i0 + r, lk, &lo[r], &hi[r]);
        if (hi[r] > lo[r]) {
            if (lo[r] < jlo) jlo = lo[r];
            if (hi[r] > jhi) jhi = hi[r];
        }
    }

    host_scores_block(a, b, h, hk, i0, rows, lo, hi, jlo, jhi, qpack, kt, sc, lds);

    /* Scale, softcap and mask, softmax and p·v, row by row. */
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = i0 + r;
        float *restrict s = sc + r * lds;
        const int64_t l = lo[r];
        int64_t e = hi[r];
        float lse = -INFINITY; /* no allowed key */
        if (e > l) {
            host_scores_finish_row(a, b, h, i, l, e, s);
            e = host_softmax_row(s, l, e, &lse);
        }
        if (a->lse != NULL) host_store_lse(p, a->lse, b, h, i, lse);
        host_weighted_sum_row(a, b, h, hk, i, s, l, e, acc);
        if (a->probs != NULL) host_probs_row(a, b, h, i, s, l, e);
    }
}

void host_rowwise_run(host_pool *pool, const host_rowwise_args *a)
{
    host_pool_run(pool, a->hp->n_tasks, rowwise_task, (void *)a);
}

clattn_status host_rowwise_plan(clattn_context *ctx, const clattn_sdpa_problem *p, int num_threads, host_plan *hp)
{
    if (p->Lk > INT64_MAX / 2 || p->Lq > INT64_MAX / 2)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa: Lq=%lld or Lk=%lld too large",
                            (long long)p->Lq, (long long)p->Lk);
    const int64_t lds = (p->Lk + HOST_KB - 1) / HOST_KB * HOST_KB;
    int64_t qb = HOST_QB_MAX;
    if (p->Lq < qb) qb = p->Lq < 1 ? 1 : p->Lq;
    /* keep the [qb, Lk] score block within the budget for long key sequences */
    while (qb > 1 && lds > HOST_S_BUDGET / (int64_t)sizeof(float) / qb) qb /= 2;
    int64_t bh, n_qblocks = (p->Lq + qb - 1) / qb, n_tasks, sfl, qfl, ktfl;
    if (!clattn_mul_i64(p->B, p->Hq, &bh))
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa: B*Hq overflows");
    /* enough tasks to balance the threads */
    while (qb > 8 && clattn_mul_i64(bh, n_qblocks, &n_tasks) && n_tasks < 4 * (int64_t)num_threads) {
        qb /= 2;
        n_qblocks = (p->Lq + qb - 1) / qb;
    }
    if (!clattn_mul_i64(bh, n_qblocks, &n_tasks) || !clattn_mul_i64(qb, lds, &sfl) ||
        !clattn_mul_i64(qb, p->D, &qfl) || !clattn_mul_i64(p->D, HOST_KB, &ktfl) ||
        (uint64_t)sfl > SIZE_MAX / 8 || (uint64_t)qfl > SIZE_MAX / 8 || (uint64_t)ktfl > SIZE_MAX / 8 ||
        (uint64_t)p->Dv > SIZE_MAX / 8)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "host sdpa: problem too large for the scratch (Lq=%lld Lk=%lld D=%lld)",
                            (long long)p->Lq, (long long)p->Lk, (long long)p->D);
    hp->qb = qb;
    hp->n_qblocks = n_qblocks;
    hp->n_tasks = n_tasks;
    hp->lds = lds;
    hp->off_q = 0;
    hp->off_kt = hp->off_q + round_up_floats((size_t)qfl);
    hp->off_s = hp->off_kt + round_up_floats((size_t)ktfl);
    hp->off_acc = hp->off_s + round_up_floats((size_t)sfl);
    hp->thread_floats = hp->off_acc + round_up_floats((size_t)p->Dv);
    return CLATTN_SUCCESS;
}
