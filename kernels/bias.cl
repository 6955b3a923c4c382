/*
 * bias.cl — fills the output of nn.Linear with its bias before the GEMM adds x·wᵀ (beta = 1).
 *
 *   y[y_off + m * ldy + n] = has_bias ? bias[b_off + n] : 0      for m < M, n < N
 * Offsets and the row stride ldy are in ELEMENTS (floats).
 * Launch: global size (N, M), any local size (NULL).
 */
__kernel void clattn_bias_fill(__global float *y, long y_off, long ldy,
                               __global const float *bias, long b_off, int has_bias, long M, long N)
{
    const long n = (long)get_global_id(0);
    const long m = (long)get_global_id(1);
    if (n >= N || m >= M) return;
    y[y_off + m * ldy + n] = has_bias ? bias[b_off + n] : 0.0f;
}
