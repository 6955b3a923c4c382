/*
 * convert.cl — binary16 / bfloat16 <-> float32 staging for the 16-bit SDPA paths (src/core/sdpa.c,
 * src/opencl/backend.c).
 *
 * Core OpenCL 1.2 only: vload_half / vstore_half_rte on `half` pointers need no cl_khr_fp16; bfloat16 is
 * plain ushort bits (the high half of a float: as_float(bits << 16)).
 *   clattn_f16_to_f32:  dst[dst_off + g] = (float)src[view element g]      (exact)
 *   clattn_f32_to_f16:  dst[view element g] = round_to_nearest_even(src[src_off + g])
 *   clattn_bf16_to_f32, clattn_f32_to_bf16: the same for bfloat16 (RNE on the bit pattern; NaN stays a quiet
 *   NaN: the top 16 bits | 0x0040, see clattn_f32_to_bf16_bits in common.cl)
 * where g is the C-order index of (a, b, c, e) over the view's dims [d0, d1, d2, d3]; the view's
 * strides s0..s3 and offset are in elements (halfs). One work-item per element; the grid is n rounded
 * up, items with g >= n do nothing. Only the view's elements of dst are written (gaps stay untouched).
 */

/* Element index into the view of C-order index g. (Remainders as x - q * d, not %: LLVM turns a / and
 * % pair into an IR `freeze`, which Oclgrind's uninitialized-value checker cannot simulate.) */
inline long clattn_view_index(long g, long off, long s0, long s1, long s2, long s3, long d1, long d2, long d3)
{
    const long r3 = g / d3, r2 = r3 / d2, a = r2 / d1;
    const long e = g - r3 * d3, c = r3 - r2 * d2, b = r2 - a * d1;
    return off + a * s0 + b * s1 + c * s2 + e * s3;
}

__kernel void clattn_f16_to_f32(__global const half *src, long off, long s0, long s1, long s2, long s3, long d1,
                                long d2, long d3, long n, __global float *dst, long dst_off)
{
    const long g = (long)get_global_id(0);
    if (g >= n) return;
    dst[dst_off + g] = vload_half(0, src + clattn_view_index(g, off, s0, s1, s2, s3, d1, d2, d3));
}

__kernel void clattn_f32_to_f16(__global half *dst, long off, long s0, long s1, long s2, long s3, long d1, long d2,
                                long d3, long n, __global const float *src, long src_off)
{
    const long g = (long)get_global_id(0);
    if (g >= n) return;
    vstore_half_rte(src[src_off + g], 0, dst + clattn_view_index(g, off, s0, s1, s2, s3, d1, d2, d3));
}

__kernel void clattn_bf16_to_f32(__global const ushort *src, long off, long s0, long s1, long s2, long s3, long d1,
                                 long d2, long d3, long n, __global float *dst, long dst_off)
{
    const long g = (long)get_global_id(0);
    if (g >= n) return;
    dst[dst_off + g] = clattn_bf16_bits_to_f32(src[clattn_view_index(g, off, s0, s1, s2, s3, d1, d2, d3)]);
}

__kernel void clattn_f32_to_bf16(__global ushort *dst, long off, long s0, long s1, long s2, long s3, long d1,
                                 long d2, long d3, long n, __global const float *src, long src_off)
{
    const long g = (long)get_global_id(0);
    if (g >= n) return;
    dst[clattn_view_index(g, off, s0, s1, s2, s3, d1, d2, d3)] = clattn_f32_to_bf16_bits(src[src_off + g]);
}
