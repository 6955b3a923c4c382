/*
 * common.cl — prepended to every other clattn kernel file (scores.cl, softmax.cl, weighted_sum.cl, fused.cl,
 * bias.cl, convert.cl) by src/opencl/program.c.
 *
 * Holds the constants shared with the host (include/clattn.h enums) and the key-range rule that decides
 * which keys a query row may attend to. Index arithmetic is 64-bit (long) throughout: products such as
 * b*stride can exceed 2^31. All strides and offsets are in ELEMENTS (floats, or bytes for bool masks).
 * No fp64, and no fast/finite math: -INFINITY is used as "no weight" and must survive.
 */

/* clattn_causal */
#define CLATTN_CAUSAL_NONE 0
#define CLATTN_CAUSAL_TOP_LEFT 1
#define CLATTN_CAUSAL_BOTTOM_RIGHT 2

/* clattn_mask_kind */
#define CLATTN_MASK_NONE 0
#define CLATTN_MASK_BOOL 1
#define CLATTN_MASK_ADDITIVE 2

/* Effective key count Lk' of batch b: clamp(kv_lengths[b], 0, Lk), or Lk without kv_lengths. */
inline long clattn_kv_len(__global const int *kv_lengths, int use_kv_lengths, long b, long Lk)
{
    if (!use_kv_lengths) return Lk;
    return clamp((long)kv_lengths[b], 0L, Lk);
}

/*
 * Structural key range of query row i (0 <= i < Lq), from kv length, causal mode and window:
 * key j may be allowed only if clattn_key_lo(..) <= j < clattn_key_hi(..) (the range may be empty).
 * With i' = i + lkv - Lq (may be negative):
 *   lo = max(0, i' - wl) if wl >= 0, else 0
 *   hi = min(lkv, i + 1 [TOP_LEFT], i' + 1 [BOTTOM_RIGHT], i' + wr + 1 [wr >= 0])
 * Both are nondecreasing in i, so a tile of rows [ia, ib] needs keys [lo(ia), hi(ib)) at most.
 * The host clamps wl, wr to <= Lq + Lk (or -1) so nothing here overflows.
 */
inline long clattn_key_lo(long i, long Lq, long lkv, long wl)
{
    if (wl < 0) return 0;
    return max(i + lkv - Lq - wl, 0L);
}

inline long clattn_key_hi(long i, long Lq, long lkv, int causal, long wr)
{
    const long ip = i + lkv - Lq;
    long hi = lkv;
    if (causal == CLATTN_CAUSAL_TOP_LEFT) hi = min(hi, i + 1);
    else if (causal == CLATTN_CAUSAL_BOTTOM_RIGHT) hi = min(hi, ip + 1);
    if (wr >= 0) hi = min(hi, ip + wr + 1);
    return hi;
}

/* bfloat16 (the high half of a float) as ushort bits: widening is exact; narrowing rounds to nearest even
 * on the bit pattern (as src/common/fp16.h clattn_float_to_bf16): a NaN keeps its sign and top payload bits
 * with the quiet bit (0x0040) set instead of rounding into an infinity. */
inline float clattn_bf16_bits_to_f32(ushort h)
{
    return as_float((uint)h << 16);
}

inline ushort clattn_f32_to_bf16_bits(float f)
{
    const uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x0040u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Vector type of width VW (2, 4, 8 or 16) for kernels built with -D VW=n. */
#define CLATTN_CAT_(a, b) a##b
#define CLATTN_CAT(a, b) CLATTN_CAT_(a, b)
#ifdef VW
#define floatv CLATTN_CAT(float, VW)
#define vloadv CLATTN_CAT(vload, VW)
#define vstorev CLATTN_CAT(vstore, VW)
#endif
