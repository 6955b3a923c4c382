/*
 * additive.cl — additive (Bahdanau) attention (clattn.h "Additive (Bahdanau) attention", src/opencl/additive.c),
 * path "additive". Three launches on one in-order queue:
 *   clattn_additive_project     one work-item per (a, row) over the rows of q then k:
 *                               pq[b, i, a] = w_q[a, :]·q[b, i, :],  pk[b, j, a] = w_k[a, :]·k[b, j, :] + bias[a]
 *   clattn_additive_scores      one work-item per (j, i, b): S[b, i, j] = w_e·tanh(pq[b, i, :] + pk[b, j, :]) + the
 *                               additive mask, or -inf where key j is not allowed (kv_lengths, causal, mask); the A
 *                               terms are summed in a register, so no [Lq, Lk, A] tensor exists
 *   clattn_additive_softmax_pv  one work-item per (i, b): masked softmax of S's row (max subtracted; disallowed keys
 *                               exactly 0, also in a NaN row), out = P·V skipping zero weights, probs when wanted
 * q, k, v, out, probs and mask are 3-D views (element offset and three strides); weights contiguous; pq [B, Lq, A],
 * pk [B, Lk, A], S [B, Lq, Lk] contiguous workspace. causal: 0 none, 1 top-left, 2 bottom-right; mask_kind:
 * 0 none, 1 bool (uchar), 2 additive (float).
 */

__kernel void clattn_additive_project(__global const float *q, long q_off, long q0, long q1, long q2,
                                      __global const float *k, long k_off, long k0, long k1, long k2,
                                      __global const float *w_q, __global const float *w_k, __global const float *bias,
                                      int has_bias, long B, long Lq, long Lk, long Dq, long Dk, long A,
                                      __global float *pq, __global float *pk)
{
    const long a = (long)get_global_id(0), row = (long)get_global_id(1);
    if (a >= A) return;
    const long nq = B * Lq;
    float acc = 0.0f;
    if (row < nq) {
        const long b = row / Lq, i = row - (row / Lq) * Lq;
        const __global float *w = w_q + a * Dq;
        for (long d = 0; d < Dq; d++) acc += w[d] * q[q_off + b * q0 + i * q1 + d * q2];
        pq[row * A + a] = acc;
    } else {
        const long r = row - nq, b = r / Lk, j = r - (r / Lk) * Lk;
        const __global float *w = w_k + a * Dk;
        acc = has_bias ? bias[a] : 0.0f;
        for (long d = 0; d < Dk; d++) acc += w[d] * k[k_off + b * k0 + j * k1 + d * k2];
        pk[r * A + a] = acc;
    }
}

__kernel void clattn_additive_scores(__global const float *pq, __global const float *pk, __global const float *w_e,
                                     long A, long Lq, long Lk, int causal, int mask_kind, __global const uchar *bmask,
                                     __global const float *amask, long m_off, long m0, long m1, long m2,
                                     int use_kvl, __global const int *kvl, __global float *S)
{
    const long j = (long)get_global_id(0), i = (long)get_global_id(1), b = (long)get_global_id(2);
    if (j >= Lk || i >= Lq) return;
    const long lk1 = use_kvl ? (long)kvl[b] : Lk;
    bool ok = j < lk1;
    if (causal == 1) ok = ok && j <= i;
    if (causal == 2) ok = ok && j <= i + lk1 - Lq;
    float add = 0.0f;
    const long m = m_off + b * m0 + i * m1 + j * m2;
    if (ok && mask_kind == 1) ok = bmask[m] != 0;
    if (ok && mask_kind == 2) {
        add = amask[m];
        ok = !(add == -INFINITY);
    }
    float e = -INFINITY;
    if (ok) {
        const __global float *x = pq + (b * Lq + i) * A, *y = pk + (b * Lk + j) * A;
        e = 0.0f;
        for (long r = 0; r < A; r++) e += w_e[r] * tanh(x[r] + y[r]);
        e += add;
    }
    S[(b * Lq + i) * Lk + j] = e;
}

__kernel void clattn_additive_softmax_pv(__global float *S, __global const float *v, long v_off, long v0, long v1,
                                         long v2, __global float *out, long o_off, long o0, long o1, long o2,
                                         int want_probs, __global float *probs, long p_off, long p0, long p1, long p2,
                                         long Lq, long Lk, long Dv)
{
    const long i = (long)get_global_id(0), b = (long)get_global_id(1);
    if (i >= Lq) return;
    __global float *s = S + (b * Lq + i) * Lk;
    float mx = -INFINITY;
    bool any = false;
    for (long j = 0; j < Lk; j++) {
        const float x = s[j];
        if (x == -INFINITY) continue;
        any = true;
        mx = isnan(mx) ? mx : (isnan(x) || x > mx) ? x : mx;
    }
    float sum = 0.0f;
    for (long j = 0; j < Lk; j++) {
        const float w = (!any || s[j] == -INFINITY) ? 0.0f : exp(s[j] - mx);
        s[j] = w;
        sum += w;
    }
    for (long e = 0; e < Dv; e++) {
        float acc = 0.0f;
        for (long j = 0; j < Lk; j++)
            if (s[j] != 0.0f) acc += s[j] * v[v_off + b * v0 + j * v1 + e * v2];
        out[o_off + b * o0 + i * o1 + e * o2] = any ? acc / sum : 0.0f;
    }
    if (want_probs)
        for (long j = 0; j < Lk; j++) probs[p_off + b * p0 + i * p1 + j * p2] = any ? s[j] / sum : 0.0f;
}
