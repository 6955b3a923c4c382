/*
 * softmax.cl — stage 2 of the SDPA chain: masked softmax of each row of the score workspace, in place.
 *
 *   For a row s[0..Lk) of S[bhl, r, :] (scores.cl; -INFINITY marks a key that is not allowed):
 *     m = max over allowed j of s[j];  l = sum over allowed j of exp(s[j] - m)
 *     p[j] = exp(s[j] - m) / l for allowed j, exactly 0 otherwise; all zeros when no key is allowed.
 *   p overwrites the row; with want_probs it is also written to probs[b, h, i, j] (i = i0 + r,
 *   b = bh / Hq, h = bh % Hq, bh = bh0 + bhl) through the probs element strides and offset; with want_lse
 *   the row's log-sum-exp m + log(l) (-inf when no key is allowed, NaN in a NaN row) to lse[b, h, i]
 *   (strides l_s0..l_s2; l_s3 unused).
 *   A key whose score is -inf carries no weight either way, so "allowed" is s != -inf here. A NaN score
 *   makes its whole row NaN (as the math says) and touches no other row.
 *
 * Two kernels compute the same thing; the host picks one per device type:
 *   clattn_softmax (GPUs): one work-group per row: local size (SM_WG, 1, 1) (required, a power of two),
 *     global size (SM_WG, nrows, nbh). Each work-item strides over the row; max, "any allowed" and sum
 *     are reduced in local memory with barriers between every step (no lock-step assumption).
 *   clattn_softmax_rows (CPUs): one work-item per row, no local memory or barriers; the row is walked
 *     with floatv vectors (PoCL does not vectorise loops across work-items). Global size
 *     (ceil(nrows / SM_WG) * SM_WG, nbh, 1), local size (SM_WG, 1, 1) (required).
 * Build options: -D SM_WG -D VW.
 */
__kernel __attribute__((reqd_work_group_size(SM_WG, 1, 1)))
void clattn_softmax(__global float *S, long Lk, long nrows,
                    long Hq, long bh0, long i0,
                    int want_probs, __global float *probs,
                    long p_off, long p_s0, long p_s1, long p_s2, long p_s3,
                    int want_lse, __global float *lse,
                    long l_off, long l_s0, long l_s1, long l_s2, long l_s3)
{
    __local float red[SM_WG];
    __local int cnt[SM_WG];

    const int lid = (int)get_local_id(0);
    const long r = (long)get_group_id(1);
    const long bhl = (long)get_group_id(2);
    __global float *row = S + (bhl * nrows + r) * Lk;

    /* Pass 1: row max and whether any key is allowed. fmax ignores NaN: a NaN row stays NaN below
     * through exp(NaN - m). */
    float m = -INFINITY;
    int has = 0;
    for (long j = lid; j < Lk; j += SM_WG) {
        const float s = row[j];
        if (s != -INFINITY) {
            has = 1;
            m = fmax(m, s);
        }
    }
    red[lid] = m;
    cnt[lid] = has;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = SM_WG / 2; step > 0; step >>= 1) {
        if (lid < step) {
            red[lid] = fmax(red[lid], red[lid + step]);
            cnt[lid] = cnt[lid] | cnt[lid + step];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = red[0];
    has = cnt[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read red[0] before it is reused */

    /* Pass 2: sum of exponentials. */
    float l = 0.0f;
    if (has) {
        for (long j = lid; j < Lk; j += SM_WG) {
            const float s = row[j];
            if (s != -INFINITY) l += exp(s - m);
        }
    }
    red[lid] = l;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = SM_WG / 2; step > 0; step >>= 1) {
        if (lid < step) red[lid] += red[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    l = red[0];

    /* Pass 3: probabilities, in place and (optionally) to probs; the row's log-sum-exp. */
    const long bh = bh0 + bhl;
    if (want_lse && lid == 0) {
        const long b = bh / Hq;
        lse[l_off + b * l_s0 + (bh - b * Hq) * l_s1 + (i0 + r) * l_s2] = has ? m + log(l) : -INFINITY;
    }
    __global float *prow = probs;
    if (want_probs) {
        const long b = bh / Hq;
        prow = probs + p_off + b * p_s0 + (bh - b * Hq) * p_s1 + (i0 + r) * p_s2;
    }
    for (long j = lid; j < Lk; j += SM_WG) {
        const float s = row[j];
        const float p = (has && s != -INFINITY) ? exp(s - m) / l : 0.0f;
        row[j] = p;
        if (want_probs) prow[j * p_s3] = p;
    }
}

__kernel __attribute__((reqd_work_group_size(SM_WG, 1, 1)))
void clattn_softmax_rows(__global float *S, long Lk, long nrows,
                         long Hq, long bh0, long i0,
                         int want_probs, __global float *probs,
                         long p_off, long p_s0, long p_s1, long p_s2, long p_s3,
                         int want_lse, __global float *lse,
                         long l_off, long l_s0, long l_s1, long l_s2, long l_s3)
{
    const long r = (long)get_global_id(0);
    const long bhl = (long)get_global_id(1);
    if (r >= nrows) return;
    __global float *row = S + (bhl * nrows + r) * Lk;
    const long nvec = Lk / VW;

    /* Pass 1: max (fmax ignores NaN) and whether any key is allowed (s != -inf; NaN counts). */
    floatv mv = (floatv)(-INFINITY);
    int has = 0;
    for (long t = 0; t < nvec; t++) {
        const floatv s = vloadv(t, row);
        mv = fmax(mv, s);
        has |= any(s != (floatv)(-INFINITY));
    }
    float m = -INFINITY;
    float tmp[VW];
    vstorev(mv, 0, tmp);
    for (int c = 0; c < VW; c++) m = fmax(m, tmp[c]);
    for (long j = nvec * VW; j < Lk; j++) {
        const float s = row[j];
        m = fmax(m, s);
        has |= s != -INFINITY;
    }

    /* Pass 2: sum. A disallowed key adds exp(-inf - m) = 0 (m is finite or +inf when any allowed key
     * is not NaN; otherwise the row is NaN anyway). */
    float l = 0.0f;
    if (has) {
        floatv lv = (floatv)(0.0f);
        for (long t = 0; t < nvec; t++) lv += exp(vloadv(t, row) - m);
        vstorev(lv, 0, tmp);
        for (int c = 0; c < VW; c++) l += tmp[c];
        for (long j = nvec * VW; j < Lk; j++) l += exp(row[j] - m);
    }

    /* Pass 3: probabilities; exactly 0 where not allowed. The row's log-sum-exp. */
    const long bh = bh0 + bhl;
    if (want_lse) {
        const long b = bh / Hq;
        lse[l_off + b * l_s0 + (bh - b * Hq) * l_s1 + (i0 + r) * l_s2] = has ? m + log(l) : -INFINITY;
    }
    __global float *prow = probs;
    if (want_probs) {
        const long b = bh / Hq;
        prow = probs + p_off + b * p_s0 + (bh - b * Hq) * p_s1 + (i0 + r) * p_s2;
    }
    for (long t = 0; t < nvec; t++) {
        const floatv s = vloadv(t, row);
        floatv p = (floatv)(0.0f);
        if (has) p = select(exp(s - m) / l, (floatv)(0.0f), s == (floatv)(-INFINITY));
        vstorev(p, t, row);
        if (want_probs) {
            vstorev(p, 0, tmp);
            for (int c = 0; c < VW; c++) prow[(t * VW + c) * p_s3] = tmp[c];
        }
    }
    for (long j = nvec * VW; j < Lk; j++) {
        const float s = row[j];
        const float p = (has && s != -INFINITY) ? exp(s - m) / l : 0.0f;
        row[j] = p;
        if (want_probs) prow[j * p_s3] = p;
    }
}
