/*
 * common.cl — prepended to every other clattn kernel file (scores.cl, softmax.cl, weighted_sum.cl, fused.cl,
 * fused_gpu.cl, bias.cl, merge.cl, paged.cl, ...) by src/opencl/program.c.
 *
 * Holds the constants shared with the host (include/clattn.h enums) and the key-range rule that decides
 * which keys a query row may attend to. Index arithmetic is 64-bit (long) throughout: products such as
 * b*stride can exceed 2^31. All strides and offsets are in ELEMENTS (floats, bytes for bool masks, halfs for 16-bit
 * additive masks).
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

/*
 * Additive mask element i (index in ELEMENTS of the mask's type) of the buffer `mask` (passed as uchar*),
 * widened exactly to float. The type is the build option CLATTN_MASK16 (src/opencl/planner.c mask_options,
 * from clattn_sdpa_desc.mask_data_type): absent or 0 float32; 1 IEEE binary16 (vload_half: core OpenCL 1.2,
 * no cl_khr_fp16; exact, -inf/+inf/NaN kept); 2 bfloat16 (the 16 bits shifted into the high half of a float:
 * exact). The one place the SDPA kernels (fused.cl, fused_gpu.cl, scores.cl) read an additive mask value.
 */
#ifndef CLATTN_MASK16
#define CLATTN_MASK16 0
#endif
inline float clattn_mask_add_at(__global const uchar *mask, long i)
{
#if CLATTN_MASK16 == 1
    return vload_half(0, (__global const half *)mask + i);
#elif CLATTN_MASK16 == 2
    return as_float((uint)((__global const ushort *)mask)[i] << 16);
#else
    return ((__global const float *)mask)[i];
#endif
}

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

/*
 * Paged K/V (-D CLATTN_PAGED=1 -D PAGE_SHIFT=log2(block size); the kernels that read K/V then take the
 * block table and the pool size as extra arguments, CLATTN_PAGED_ARGS). k and v are pools
 * [num_blocks, block_size, Hkv, D] (resp. Dv); key j of sequence b lives in block
 * bt_row[j >> PAGE_SHIFT] (bt_row = block_table + b * max_blocks), slot j & (block_size - 1).
 * The table is read only for keys below the sequence's kv length (kv_lengths[b] <= max_blocks * block_size),
 * so its reads stay inside row b. An entry outside [0, num_blocks) is not trusted: its keys are not allowed
 * (clattn_paged_ok is 0) and their rows are read from block 0 instead (always inside the pool), so a bad
 * table read from a cl_mem never leads to an out-of-bounds access.
 * Without CLATTN_PAGED the same macros give the contiguous [B, Hkv, Lk, D] addressing, unchanged.
 * CLATTN_KV_HEAD(s0, s1, s2): offset of the (b, hk) head in a view with strides s0..s2 (uses b, hk);
 * CLATTN_KV_ROW(j, s0, s1, s2): offset of key j's row from there (uses bt_row, num_blocks);
 * CLATTN_KV_OK(j): 0 for a key of a bad entry; CLATTN_KV_END(lkv, Lk): keys a tile load may read (lkv
 * when paged: no block past the kv length is read).
 */
#ifndef CLATTN_PAGED
#define CLATTN_PAGED 0
#endif
#if CLATTN_PAGED
#define CLATTN_PAGED_ARGS , __global const int *block_table, long max_blocks, long num_blocks
#define CLATTN_PAGE_MASK ((1L << PAGE_SHIFT) - 1)
/* Pool block of key j, or -1 when its block-table entry is outside [0, num_blocks). */
inline long clattn_paged_block(__global const int *bt_row, long j, long num_blocks)
{
    const int e = bt_row[j >> PAGE_SHIFT];
    return (e >= 0 && (long)e < num_blocks) ? (long)e : -1L;
}
/* 1 when key j's block-table entry is inside the pool. */
inline int clattn_paged_ok(__global const int *bt_row, long j, long num_blocks)
{
    return clattn_paged_block(bt_row, j, num_blocks) >= 0;
}
/* Offset of key j's row in a pool with block stride s0 and slot stride s1 (block 0 for a bad entry). */
inline long clattn_paged_row(__global const int *bt_row, long j, long num_blocks, long s0, long s1)
{
    return max(clattn_paged_block(bt_row, j, num_blocks), 0L) * s0 + (j & CLATTN_PAGE_MASK) * s1;
}
#define CLATTN_KV_HEAD(s0, s1, s2) (hk * (s2))
#define CLATTN_KV_ROW(j, s0, s1, s2) clattn_paged_row(bt_row, (j), num_blocks, (s0), (s1))
#define CLATTN_KV_OK(j) clattn_paged_ok(bt_row, (j), num_blocks)
#define CLATTN_KV_END(lkv, Lk) (lkv)
#define CLATTN_BT_ROW() __global const int *bt_row = block_table + b * max_blocks
#else
#define CLATTN_PAGED_ARGS
#define CLATTN_KV_HEAD(s0, s1, s2) (b * (s0) + hk * (s1))
#define CLATTN_KV_ROW(j, s0, s1, s2) ((j) * (s2))
#define CLATTN_KV_OK(j) 1
#define CLATTN_KV_END(lkv, Lk) (Lk)
#define CLATTN_BT_ROW() (void)0
#endif

/* Vector type of width VW (2, 4, 8 or 16) for kernels built with -D VW=n. */
#define CLATTN_CAT_(a, b) a##b
#define CLATTN_CAT(a, b) CLATTN_CAT_(a, b)
#ifdef VW
#define floatv CLATTN_CAT(float, VW)
#define vloadv CLATTN_CAT(vload, VW)
#define vstorev CLATTN_CAT(vstore, VW)
#endif

/*
 * Element type of the SDPA kernels' q, k, v and out arrays (-D ELEM16: 0 or absent float32, 1 binary16,
 * 2 bfloat16 = clattn_dtype; scores.cl, weighted_sum.cl, fused.cl, fused_gpu.cl). 16-bit arrays are read and
 * written in place, no staging copies: binary16 with vload_half(n) / vstore_half_rte (core OpenCL 1.2, no
 * cl_khr_fp16), bfloat16 as ushort bits shifted into the high half of a float and rounded back to nearest
 * even (clattn_bf16_bits_to_f32 / clattn_f32_to_bf16_bits above). Compute, local tiles, softmax/probs and
 * partials stay float32. Float32 builds do not define ELEM16 (their options and code are unchanged).
 *   ELEM_T        the array element type (float, half, ushort)
 *   LD1(p, x)     element x of p as a float
 *   ST1(val, p, x) float val rounded into element x of p
 *   LDN(n, p)     n consecutive elements from p as a floatn (n = 2, 4, 8, 16; p element-aligned only)
 */
#ifndef ELEM16
#define ELEM16 0
#endif
#if ELEM16 == 1
#define ELEM_T half
#define LD1(p, x) vload_half(0, (p) + (x))
#define ST1(val, p, x) vstore_half_rte((val), 0, (p) + (x))
#define LDN(n, p) CLATTN_CAT(vload_half, n)(0, (p))
#elif ELEM16 == 2
#define ELEM_T ushort
#define LD1(p, x) clattn_bf16_bits_to_f32((p)[x])
#define ST1(val, p, x) ((p)[x] = clattn_f32_to_bf16_bits(val))
#define LDN(n, p) CLATTN_CAT(as_float, n)(CLATTN_CAT(convert_uint, n)(CLATTN_CAT(vload, n)(0, (p))) << 16)
#elif ELEM16 == 0
#define ELEM_T float
#define LD1(p, x) ((p)[x])
#define ST1(val, p, x) ((p)[x] = (val))
#define LDN(n, p) CLATTN_CAT(vload, n)(0, (p))
#else
#error "common.cl: ELEM16 must be 0, 1 or 2"
#endif
