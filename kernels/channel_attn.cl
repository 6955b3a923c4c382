/*
 * channel_attn.cl — channel attention (Squeeze-and-Excitation, CBAM's channel module; clattn.h "Channel
 * attention", src/opencl/channel.c), path "channel". Four launches on one in-order queue:
 *   clattn_channel_pool     one work-group of WG items per (b, c): sum and max of x[b, c, :, :] reduced in local
 *                           memory -> pooled[b, 0, c] = mean, pooled[b, 1, c] = max (NaN propagates)
 *   clattn_channel_fc1      one work-item per (r, b, branch): hidden = relu(b1[r] + w1[r, :]·pooled[b, branch, :])
 *   clattn_channel_fc2      one work-item per (c, b): z = sum over branches of b2[c] + w2[c, :]·hidden[b, branch, :],
 *                           gate[b, c] = 1 / (1 + exp(-z)), also written to the scales view when wanted
 *   clattn_channel_rescale  one work-item per element: out[b, c, h, w] = gate[b, c]·x[b, c, h, w]
 * x / out are 4-D views (element offset and strides, as the SDPA kernels take them); weights contiguous
 * (w1 [R, C], w2 [C, R]); pooled [B, 2, C], hidden [B, 2, R], gate [B, C] contiguous workspace. -D WG (a power of
 * two) is the pool's work-group size; -D NBRANCH is 1 (average) or 2 (average and max).
 */

/* max(m, o) that keeps a NaN from either side (torch.amax), whatever the order. */
inline float clattn_nan_max(float m, float o)
{
    return isnan(m) ? m : (isnan(o) || o > m) ? o : m;
}

__kernel void clattn_channel_pool(__global const float *x, long x_off, long s0, long s1, long s2, long s3, long C,
                                  long H, long W, __global float *pooled)
{
    __local float lsum[WG];
    __local float lmax[WG];
    const long bc = (long)get_group_id(0);
    const long b = bc / C, c = bc - (bc / C) * C;
    const int t = (int)get_local_id(0);
    const long n = H * W;
    float sum = 0.0f, mx = -INFINITY;
    for (long i = t; i < n; i += WG) {
        const long h = i / W, w = i - (i / W) * W;
        const float v = x[x_off + b * s0 + c * s1 + h * s2 + w * s3];
        sum += v;
        mx = clattn_nan_max(mx, v);
    }
    lsum[t] = sum;
    lmax[t] = mx;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (t < s) {
            lsum[t] += lsum[t + s];
            lmax[t] = clattn_nan_max(lmax[t], lmax[t + s]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) {
        pooled[(b * 2) * C + c] = lsum[0] / (float)n;
        pooled[(b * 2 + 1) * C + c] = lmax[0];
    }
}

__kernel void clattn_channel_fc1(__global const float *pooled, __global const float *w1, __global const float *b1,
                                 int has_b1, long C, long R, __global float *hidden)
{
    const long r = (long)get_global_id(0), b = (long)get_global_id(1), br = (long)get_global_id(2);
    if (r >= R) return;
    const __global float *p = pooled + (b * 2 + br) * C;
    const __global float *wr = w1 + r * C;
    float acc = has_b1 ? b1[r] : 0.0f;
    for (long c = 0; c < C; c++) acc += wr[c] * p[c];
    hidden[(b * 2 + br) * R + r] = (acc > 0.0f || isnan(acc)) ? acc : 0.0f; /* relu keeps NaN */
}

__kernel void clattn_channel_fc2(__global const float *hidden, __global const float *w2, __global const float *b2,
                                 int has_b2, long C, long R, __global float *gate, int want_scales,
                                 __global float *scales, long sc_off, long sc_s0, long sc_s1)
{
    const long c = (long)get_global_id(0), b = (long)get_global_id(1);
    if (c >= C) return;
    const __global float *wc = w2 + c * R;
    float z = 0.0f;
    for (int br = 0; br < NBRANCH; br++) {
        const __global float *h = hidden + (b * 2 + br) * R;
        float acc = has_b2 ? b2[c] : 0.0f;
        for (long r = 0; r < R; r++) acc += wc[r] * h[r];
        z += acc;
    }
    const float s = 1.0f / (1.0f + exp(-z));
    gate[b * C + c] = s;
    if (want_scales) scales[sc_off + b * sc_s0 + c * sc_s1] = s;
}

__kernel void clattn_channel_rescale(__global const float *x, long x_off, long s0, long s1, long s2, long s3,
                                     __global float *out, long o_off, long o0, long o1, long o2, long o3,
                                     __global const float *gate, long C, long H, long W, long n)
{
    const long g = (long)get_global_id(0);
    if (g >= n) return;
    const long hw = H * W;
    const long bc = g / hw, i = g - (g / hw) * hw;
    const long h = i / W, w = i - (i / W) * W;
    const long b = bc / C, c = bc - (bc / C) * C;
    out[o_off + b * o0 + c * o1 + h * o2 + w * o3] = gate[bc] * x[x_off + b * s0 + c * s1 + h * s2 + w * s3];
}
