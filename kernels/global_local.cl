/*
 * global_local.cl — global-local (Longformer) attention (clattn.h "Global-local (Longformer) attention",
 * src/opencl/global_local.c), path "global-local". Two launches on one in-order queue:
 *   clattn_gl_local   one work-item per (i, b·H + h): a local query row's scores over its G global slots and its
 *                     2w + 1 window keys (a key that is global only in its slot) into the row S[.., G + W], masked
 *                     softmax (disallowed exactly 0), out = P·V, the compact probabilities; a global query row
 *                     only writes a zero compact row
 *   clattn_gl_global  one work-item per b·H + h, looping over the G slots: each slot's global query row over all L
 *                     keys (q_g, k_g, v_g when use_gp) into S2[.., L], softmax, out, global_probs; an unused slot
 *                     writes zeros
 * q, k, v, out, probs, gprobs: 4-D views (element offset and four strides); gidx int32 [B, G], slot int32 [B, L]
 * (core/global_local.c); S and S2 contiguous workspace.
 * An unused global slot (-1) is tested as an int, before any conversion to long: Mesa 22.3's rusticl (llvmpipe)
 * let (long)gidx[..] < 0 fail for -1 in clattn_gl_global and the kernel then stored out of bounds (heap
 * corruption in the test process; PoCL, Oclgrind and the host were fine).
 */

/* Softmax in place over the n entries of s that are not -inf (those become 0); 0 when none is allowed. */
inline bool clattn_gl_softmax(__global float *s, long n)
{
    float mx = -INFINITY;
    bool any = false;
    for (long c = 0; c < n; c++) {
        const float x = s[c];
        if (x == -INFINITY) continue;
        any = true;
        mx = isnan(mx) ? mx : (isnan(x) || x > mx) ? x : mx;
    }
    float sum = 0.0f;
    for (long c = 0; c < n; c++) {
        const float e = (!any || s[c] == -INFINITY) ? 0.0f : exp(s[c] - mx);
        s[c] = e;
        sum += e;
    }
    if (any)
        for (long c = 0; c < n; c++) s[c] = s[c] / sum;
    return any;
}

__kernel void clattn_gl_local(__global const float *q, long q_off, long q0, long q1, long q2, long q3,
                              __global const float *k, long k_off, long k0, long k1, long k2, long k3,
                              __global const float *v, long v_off, long v0, long v1, long v2, long v3,
                              __global float *out, long o_off, long o0, long o1, long o2, long o3,
                              int want_probs, __global float *probs, long p_off, long p0, long p1, long p2, long p3,
                              __global const int *gidx, __global const int *slot, long H, long L, long D, long Dv,
                              long w, long G, float scale, __global float *S, long BH)
{
    const long i = (long)get_global_id(0), bh = (long)get_global_id(1);
    if (i >= L || bh >= BH) return;
    const long b = bh / H, h = bh - (bh / H) * H, W = 2 * w + 1;
    if (slot[b * L + i] >= 0) {
        if (want_probs)
            for (long c = 0; c < G + W; c++) probs[p_off + b * p0 + h * p1 + i * p2 + c * p3] = 0.0f;
        return;
    }
    __global float *s = S + (bh * L + i) * (G + W);
    const __global float *qi = q + q_off + b * q0 + h * q1 + i * q2;
    for (long c = 0; c < G + W; c++) {
        const int gj = c < G ? gidx[b * G + c] : 0;
        const bool ok = c < G ? gj >= 0 : (i - w + (c - G) >= 0 && i - w + (c - G) < L && slot[b * L + i - w + (c - G)] < 0);
        const long j = c < G ? (long)(ok ? gj : 0) : i - w + (c - G);
        float acc = -INFINITY;
        if (ok) {
            const __global float *kj = k + k_off + b * k0 + h * k1 + j * k2;
            acc = 0.0f;
            for (long d = 0; d < D; d++) acc += qi[d * q3] * kj[d * k3];
            acc *= scale;
        }
        s[c] = acc;
    }
    const bool any = clattn_gl_softmax(s, G + W);
    for (long e = 0; e < Dv; e++) {
        float acc = 0.0f;
        for (long c = 0; c < G + W && any; c++) {
            const float pc = s[c];
            if (pc == 0.0f) continue;
            const long j = c < G ? (long)gidx[b * G + c] : i - w + (c - G); /* pc != 0: a valid key */
            acc += pc * v[v_off + b * v0 + h * v1 + j * v2 + e * v3];
        }
        out[o_off + b * o0 + h * o1 + i * o2 + e * o3] = acc;
    }
    if (want_probs)
        for (long c = 0; c < G + W; c++) probs[p_off + b * p0 + h * p1 + i * p2 + c * p3] = s[c];
}

__kernel void clattn_gl_global(__global const float *q, long q_off, long q0, long q1, long q2, long q3,
                               __global const float *k, long k_off, long k0, long k1, long k2, long k3,
                               __global const float *v, long v_off, long v0, long v1, long v2, long v3,
                               __global float *out, long o_off, long o0, long o1, long o2, long o3,
                               int want_probs, __global float *gprobs, long g_off, long g0, long g1, long g2, long g3,
                               __global const int *gidx, long H, long L, long D, long Dv, long G, float scale,
                               __global float *S2, long BH)
{
    const long bh = (long)get_global_id(0);
    if (bh >= BH) return;
    const long b = bh / H, h = bh - (bh / H) * H;
    for (long c = 0; c < G; c++) {
        const int gi = gidx[b * G + c]; /* tested as int: see the note on -1 at the top */
        if (gi < 0) {
            if (want_probs)
                for (long j = 0; j < L; j++) gprobs[g_off + b * g0 + h * g1 + c * g2 + j * g3] = 0.0f;
            continue;
        }
        const long i = gi;
        __global float *s = S2 + (bh * G + c) * L;
        const __global float *qi = q + q_off + b * q0 + h * q1 + i * q2;
        for (long j = 0; j < L; j++) {
            const __global float *kj = k + k_off + b * k0 + h * k1 + j * k2;
            float acc = 0.0f;
            for (long d = 0; d < D; d++) acc += qi[d * q3] * kj[d * k3];
            s[j] = acc * scale;
        }
        clattn_gl_softmax(s, L);
        for (long e = 0; e < Dv; e++) {
            float acc = 0.0f;
            for (long j = 0; j < L; j++)
                if (s[j] != 0.0f) acc += s[j] * v[v_off + b * v0 + h * v1 + j * v2 + e * v3];
            out[o_off + b * o0 + h * o1 + i * o2 + e * o3] = acc;
        }
        if (want_probs)
            for (long j = 0; j < L; j++) gprobs[g_off + b * g0 + h * g1 + c * g2 + j * g3] = s[j];
    }
}
