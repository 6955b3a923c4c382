/*
 * The fused SDPA kernel of the host backend (see fused.h for the algorithm), written once with
 * GCC vector extensions and instantiated per instruction set:
 *   compiled on its own            -> host_fused_task_portable (4 lanes: SSE2 on x86-64, NEON, ...)
 *   included by fused_avx2.c   -> host_fused_task_avx2     (8 lanes, AVX2 + FMA)
 *   included by fused_avx512.c -> host_fused_task_avx512   (16 lanes, AVX-512F)
 * An including file defines HF_ISA (name suffix), HF_W (lanes), HF_QK_R (rows of the Q·Kᵀ
 * micro-kernel) and HF_PV_NV (vectors along Dv of the P·V micro-kernel), optionally HF_FMA and
 * HF_SPLAT (intrinsics) and HF_AVX512, after its target pragma (GCC) or `#pragma clang attribute`
 * (Clang, which has no `#pragma GCC target`).
 *
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 * K and V are packed once per wave by the pack tasks (layout in fused.h: K transposed in
 * panels of KW = 2·W keys, V rows padded to dvp). Key blocks are aligned to BK, so the block at
 * j0 starts at kpack + j0·D and vpack + j0·dvp.
 * Scratch of one task (one thread), rows r < Mr = round_up(G·nr, 8), head-major (r = g·nr + ii):
 *   s   [Mr][BK]          scores, then weights p of the block
 *   acc [Mr][dvp]         running un-normalised output
 *   m, l, alpha, flag     running max, running sum, this block's rescale factor, row state
 */
#ifndef HF_ISA
#define HF_ISA portable
#define HF_W 4
#define HF_QK_R 4
#define HF_PV_NV 2
#endif

#include "host.h" /* fused.h, host_row_range */

#include <math.h>
#include <string.h>

#define HF_CAT2(a, b) a##_##b
#define HF_CAT(a, b) HF_CAT2(a, b)
#define HF_TASK HF_CAT(host_fused_task, HF_ISA)
#define HF_PACK HF_CAT(host_fused_pack, HF_ISA)
#define HF_DEC HF_CAT(host_fused_decode, HF_ISA)

#define HF_KW (2 * HF_W)       /* keys per packed panel (two vectors) */
#ifndef HF_PV_R
#define HF_PV_R 4 /* rows of the P·V micro-kernel */
#endif
#define HF_BK HOST_FUSED_BK
/* a row group's P·V takes the unguarded kernel for the keys all its rows see when there are this many */
#define HF_PV_SPLIT_MIN 8

#if HF_BK % HF_KW != 0 || HOST_FUSED_ROW_ALIGN % HF_QK_R != 0 || HOST_FUSED_ROW_ALIGN % HF_PV_R != 0 ||     \
    HOST_FUSED_DV_ALIGN % HF_W != 0
#error "fused_kernel.c: block sizes do not fit this vector width"
#endif

/* Full unrolling of the small register-tile loops (so their vector arrays live in registers). */
#if defined(__clang__)
#define HF_UNROLL _Pragma("clang loop unroll(full)")
#else
#define HF_UNROLL _Pragma("GCC unroll 16")
#endif

typedef float vf __attribute__((vector_size(HF_W * 4)));
typedef int32_t vi __attribute__((vector_size(HF_W * 4)));

/* row flags */
#define HF_ACTIVE 1 /* the row sees at least one key of the block */
#define HF_CLEAN 2  /* ... and every weight of the block is nonzero (fast P·V allowed) */
#define HF_CLEAN_IN 4 /* ... every weight of the row's own key range in the block is nonzero (fast P·V there) */

static inline __attribute__((always_inline)) vf vload(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void vstore(float *p, vf v)
{
    memcpy(p, &v, sizeof v);
}

/* ---- 16-bit storage (F16 / BF16 plans read natively; dt is the clattn_dtype, a constant where it matters) ----
 * Widening is exact (binary16 by VCVTPH2PS or the scalar code, bfloat16 by a 16-bit shift); narrowing rounds to
 * nearest even with NaN kept quiet, the same bits as src/common/fp16.h. */
typedef uint32_t vu __attribute__((vector_size(HF_W * 4)));

static inline __attribute__((always_inline)) float ld16(const uint16_t *p, const int dt)
{
    return dt == CLATTN_DTYPE_BF16 ? clattn_bf16_to_float(*p) : clattn_half_to_float(*p);
}

static inline __attribute__((always_inline)) vf vload16(const uint16_t *p, const int dt)
{
#if HF_W == 16 && defined(HF_AVX512)
    const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    if (dt == CLATTN_DTYPE_BF16) return (vf)_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    return (vf)_mm512_cvtph_ps(h);
#elif HF_W == 8 && defined(HF_F16C)
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (dt == CLATTN_DTYPE_BF16) return (vf)_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    return (vf)_mm256_cvtph_ps(h);
#else
    vf v;
    for (int u = 0; u < HF_W; u++) v[u] = ld16(p + u, dt);
    return v;
#endif
}

static inline __attribute__((always_inline)) void vstore16(uint16_t *p, vf x, const int dt)
{
    if (dt == CLATTN_DTYPE_BF16) {
        const vu u = (vu)x;
        const vu nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);
        const vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, qn = (u >> 16) | 0x40u;
        const vu h = (nan & qn) | (~nan & r); /* each lane <= 0xffff */
#if HF_W == 16 && defined(HF_AVX512)
        _mm256_storeu_si256((__m256i *)(void *)p, _mm512_cvtepi32_epi16((__m512i)h));
#elif HF_W == 8 && defined(HF_F16C)
        _mm_storeu_si128((__m128i *)(void *)p,
                         _mm_packus_epi32(_mm256_castsi256_si128((__m256i)h), _mm256_extracti128_si256((__m256i)h, 1)));
#else
        for (int i = 0; i < HF_W; i++) p[i] = (uint16_t)h[i];
#endif
        return;
    }
#if HF_W == 16 && defined(HF_AVX512)
    _mm256_storeu_si256((__m256i *)(void *)p,
                        _mm512_cvtps_ph((__m512)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif HF_W == 8 && defined(HF_F16C)
    _mm_storeu_si128((__m128i *)(void *)p, _mm256_cvtps_ph((__m256)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
    for (int i = 0; i < HF_W; i++) p[i] = clattn_float_to_half(x[i]);
#endif
}

/* dst[0..n) = widened src[0..n) (unit stride). */
static void widen_row(const uint16_t *restrict src, float *restrict dst, int64_t n, int dt)
{
    int64_t e = 0;
    if (dt == CLATTN_DTYPE_BF16)
        for (; e + HF_W <= n; e += HF_W) vstore(dst + e, vload16(src + e, CLATTN_DTYPE_BF16));
    else
        for (; e + HF_W <= n; e += HF_W) vstore(dst + e, vload16(src + e, CLATTN_DTYPE_F16));
    for (; e < n; e++) dst[e] = ld16(src + e, dt);
}

/* dst[0..n) = src[0..n) rounded to dt (unit stride). */
static void narrow_row(const float *restrict src, uint16_t *restrict dst, int64_t n, int dt)
{
    int64_t e = 0;
    if (dt == CLATTN_DTYPE_BF16) {
        for (; e + HF_W <= n; e += HF_W) vstore16(dst + e, vload(src + e), CLATTN_DTYPE_BF16);
        for (; e < n; e++) dst[e] = clattn_float_to_bf16(src[e]);
    } else {
        for (; e + HF_W <= n; e += HF_W) vstore16(dst + e, vload(src + e), CLATTN_DTYPE_F16);
        for (; e < n; e++) dst[e] = clattn_float_to_half(src[e]);
    }
}

/* Broadcast and fused multiply-add: intrinsics where the instance provides them (the library is
 * built with -std=c11, where GCC does not contract a*b + c), plain vector code otherwise. */
#ifdef HF_SPLAT
#define vsplat(x) ((vf)HF_SPLAT(x))
#else
static inline __attribute__((always_inline)) vf vsplat(float x)
{
#if HF_W == 4
    return (vf){x, x, x, x};
#elif HF_W == 8
    return (vf){x, x, x, x, x, x, x, x};
#else
    return (vf){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
#endif
}
#endif
#ifdef HF_FMA
#define vfma(a, b, c) ((vf)HF_FMA((a), (b), (c)))
#else
#define vfma(a, b, c) ((a) * (b) + (c))
#endif

/* m ? a : b, lane by lane (m lanes are 0 or -1). */
static inline __attribute__((always_inline)) vf vsel(vi m, vf a, vf b)
{
    return (vf)((m & (vi)a) | (~m & (vi)b));
}

/* exp(x) per lane, within a few ulp for -87 <= x <= 88.37 (Cephes expf: round(x·log2 e) range
 * reduction with a two-part ln 2, degree-6 polynomial, exponent by integer add). Exactly 0 for
 * x < -87 (so -inf -> 0; e^-87 = 1.6e-38 is the smallest result, which keeps every intermediate
 * and result normal: subnormals cost microcode assists on Intel cores), +inf above 88.37,
 * NaN -> NaN. */
#ifdef HF_AVX512
/* AVX-512F: the same reduction and polynomial, with vscalefps doing the 2^n scaling (it overflows
 * to inf by itself and keeps NaN: max(c, x) returns x when x is NaN). Lanes below -87 are set to 0
 * by a mask instead of letting vscalefps underflow: a subnormal or underflowing result costs a
 * microcode assist on Intel cores (about 100 cycles), and masked keys (-inf) are common. */
static inline __attribute__((always_inline)) vf vexp(vf x)
{
    const __mmask16 keep = _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-87.0f), _CMP_NLT_UQ);
    /* no clamp to -87 is needed: the lanes below it (and -inf, whose reduction gives NaN) are zeroed by
     * the mask, and the others are unchanged by it */
    const __m512 xc = (__m512)x;
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), xc);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    const __m512 r2 = _mm512_mul_ps(r, r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return (vf)_mm512_maskz_scalef_ps(keep, y, n);
}
#else
static inline __attribute__((always_inline)) vf vexp(vf x)
{
    const vi under = x < vsplat(-87.0f);
    const vi over = x > vsplat(88.37f);
    const vi nan = x != x;
    vf xc = vsel(under | over | nan, vsplat(0.0f), x);
    const vf magic = vsplat(12582912.0f); /* 1.5·2^23: adding it rounds to an integer */
    const vf t = vfma(xc, vsplat(1.44269504088896341f), magic);
    const vf n = t - magic;
    const vi ni = (vi)t - (vi)magic;
    vf r = vfma(n, vsplat(-0.693359375f), xc);
    r = vfma(n, vsplat(2.12194440e-4f), r);
    const vf r2 = r * r;
    vf y = vsplat(1.9875691500e-4f);
    y = vfma(y, r, vsplat(1.3981999507e-3f));
    y = vfma(y, r, vsplat(8.3334519073e-3f));
    y = vfma(y, r, vsplat(4.1665795894e-2f));
    y = vfma(y, r, vsplat(1.6666665459e-1f));
    y = vfma(y, r, vsplat(5.0000001201e-1f));
    y = vfma(y, r2, r + 1.0f);
    const vi e = (ni + 127) << 23;
    vf res = y * (vf)e;
    res = vsel(under, vsplat(0.0f), res);
    res = vsel(over, vsplat(INFINITY), res);
    return vsel(nan, x, res);
}
#endif

/* Butterfly reductions: log2(W) lane swaps. Lanes of the max are never NaN here. */
#if defined(__clang__)
#define HF_SHUF(v, ...) __builtin_shufflevector((v), (v), __VA_ARGS__)
#else
#define HF_SHUF(v, ...) __builtin_shuffle((v), (vi){__VA_ARGS__})
#endif
#if HF_W == 16
#define HF_BUTTERFLY(v, OP)                                                                            \
    do {                                                                                               \
        v = OP(v, HF_SHUF(v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));                    \
        v = OP(v, HF_SHUF(v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));                    \
        v = OP(v, HF_SHUF(v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));                    \
        v = OP(v, HF_SHUF(v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));                    \
    } while (0)
#elif HF_W == 8
#define HF_BUTTERFLY(v, OP)                                                                            \
    do {                                                                                               \
        v = OP(v, HF_SHUF(v, 4, 5, 6, 7, 0, 1, 2, 3));                                                  \
        v = OP(v, HF_SHUF(v, 2, 3, 0, 1, 6, 7, 4, 5));                                                  \
        v = OP(v, HF_SHUF(v, 1, 0, 3, 2, 5, 4, 7, 6));                                                  \
    } while (0)
#elif HF_W == 4
#define HF_BUTTERFLY(v, OP)                                                                            \
    do {                                                                                               \
        v = OP(v, HF_SHUF(v, 2, 3, 0, 1));                                                              \
        v = OP(v, HF_SHUF(v, 1, 0, 3, 2));                                                              \
    } while (0)
#else
#error "fused_kernel.c: unsupported HF_W"
#endif

static inline __attribute__((always_inline)) vf vmax2(vf a, vf b)
{
    return vsel(b > a, b, a);
}
static inline __attribute__((always_inline)) vf vadd2(vf a, vf b)
{
    return a + b;
}
static inline __attribute__((always_inline)) vi vor2(vi a, vi b)
{
    return a | b;
}

#ifdef HF_AVX512
/* The same butterflies as below (lane 0 gets the same pairs in the same order, so the same bits), halving
 * the width at each step: 256- and 128-bit operations instead of full 512-bit shuffles. */
#define HF_HALVE(v, OP256, OP128)                                                                      \
    const __m256 h8_ = OP256(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)(v)), 1)),   \
                             _mm512_castps512_ps256((__m512)(v)));                                     \
    const __m128 h4_ = OP128(_mm256_extractf128_ps(h8_, 1), _mm256_castps256_ps128(h8_));              \
    const __m128 h2_ = OP128(_mm_permute_ps(h4_, _MM_SHUFFLE(1, 0, 3, 2)), h4_);                      \
    const __m128 h1_ = OP128(_mm_permute_ps(h2_, _MM_SHUFFLE(2, 3, 0, 1)), h2_)
/* vmax2(a, b) = b > a ? b : a = maxps(b, a); vadd2(a, b) = a + b */
#define HF_ADD256(b, a) _mm256_add_ps((a), (b))
#define HF_ADD128(b, a) _mm_add_ps((a), (b))
static inline __attribute__((always_inline)) float hmax(vf v)
{
    HF_HALVE(v, _mm256_max_ps, _mm_max_ps);
    return _mm_cvtss_f32(h1_);
}

static inline __attribute__((always_inline)) float hsum(vf v)
{
    HF_HALVE(v, HF_ADD256, HF_ADD128);
    return _mm_cvtss_f32(h1_);
}
#else
static inline __attribute__((always_inline)) float hmax(vf v)
{
    HF_BUTTERFLY(v, vmax2);
    return v[0];
}

static inline __attribute__((always_inline)) float hsum(vf v)
{
    HF_BUTTERFLY(v, vadd2);
    return v[0];
}
#endif

static inline __attribute__((always_inline)) int hany(vi v)
{
    HF_BUTTERFLY(v, vor2);
    return v[0] != 0;
}

/* s[r][c] = scale · (q_r · key c) for HF_QK_R rows and `npanels` panels of kt; smax[r] = the
 * largest of them (NaN never wins), which softmax_row uses when the row sees the whole block. */
static inline __attribute__((always_inline)) void qk_tile_r(const host_fused_row *rows,
                                                            const float *restrict kt, int64_t D, int npanels,
                                                            float scale, float *restrict s,
                                                            float *restrict smax, const int R)
{
    const float *qr[HF_QK_R];
    vf mx[HF_QK_R];
    const vf vscale = vsplat(scale);
    for (int r = 0; r < R; r++) {
        qr[r] = rows[r].q;
        mx[r] = vsplat(-INFINITY);
    }
    for (int pn = 0; pn < npanels; pn++) {
        const float *restrict kp = kt + (int64_t)pn * D * HF_KW;
        vf a0[HF_QK_R], a1[HF_QK_R];
HF_UNROLL
        for (int r = 0; r < R; r++) a0[r] = a1[r] = vsplat(0.0f);
        for (int64_t d = 0; d < D; d++) {
            const vf k0 = vload(kp + d * HF_KW), k1 = vload(kp + d * HF_KW + HF_W);
            __builtin_prefetch(kp + (D + d) * HF_KW);
            __builtin_prefetch(kp + (D + d) * HF_KW + HF_W);
HF_UNROLL
            for (int r = 0; r < R; r++) {
                const vf x = vsplat(qr[r][d]);
                a0[r] = vfma(x, k0, a0[r]);
                a1[r] = vfma(x, k1, a1[r]);
            }
        }
HF_UNROLL
        for (int r = 0; r < R; r++) {
            const vf x0 = a0[r] * vscale, x1 = a1[r] * vscale;
            vstore(s + r * HF_BK + pn * HF_KW, x0);
            vstore(s + r * HF_BK + pn * HF_KW + HF_W, x1);
            mx[r] = vsel(x0 > mx[r], x0, mx[r]);
            mx[r] = vsel(x1 > mx[r], x1, mx[r]);
        }
    }
    for (int r = 0; r < R; r++) smax[r] = hmax(mx[r]);
}

/* qk_tile_r for the first n rows (1 <= n <= HF_QK_R) of a group, with as few padding rows as the
 * row-count variants allow (decode and small GQA groups have fewer rows than HF_QK_R). */
static void qk_tile(const host_fused_row *rows, int n, const float *restrict kt, int64_t D, int npanels,
                    float scale, float *restrict s, float *restrict smax, int dt)
{
    if (dt != CLATTN_DTYPE_F32) {
        /* 16-bit queries: the group's rows widened once per tile (R·D conversions for R·D·keys multiply-adds)
         * into a stack array, so no workspace holds float32 copies (D <= HOST_FUSED_D16_MAX: fused.c) */
        float qf[HF_QK_R][HOST_FUSED_D16_MAX] __attribute__((aligned(64)));
        host_fused_row wr[HF_QK_R];
        for (int r = 0; r < HF_QK_R; r++) {
            wr[r] = rows[r];
            if (r < n) widen_row(rows[r].q16, qf[r], D, dt);
            wr[r].q = qf[r < n ? r : 0];
        }
        qk_tile(wr, n, kt, D, npanels, scale, s, smax, CLATTN_DTYPE_F32);
        return;
    }
    if (n == 1)
        qk_tile_r(rows, kt, D, npanels, scale, s, smax, 1);
    else if (n == 2)
        qk_tile_r(rows, kt, D, npanels, scale, s, smax, 2);
#if HF_QK_R > 4
    else if (n <= 4)
        qk_tile_r(rows, kt, D, npanels, scale, s, smax, 4);
#endif
    else
        qk_tile_r(rows, kt, D, npanels, scale, s, smax, HF_QK_R);
}

/* acc[r][e0 .. e0 + nv·W) = alpha[r] · acc[r][...] + sum over keys c < nb of p[r][c] · vt[c][...],
 * for HF_PV_R rows. guarded: a zero weight skips its V row (masked V never enters the sum). */
static inline __attribute__((always_inline)) void pv_tile(const float *restrict p, const void *restrict vt,
                                                          int64_t vstride, int64_t dvp, int nb, float *restrict acc,
                                                          const float *restrict alpha, int64_t e0,
                                                          const int nv, const int guarded, const int R, const int DT)
{
    vf c[HF_PV_R][HF_PV_NV];
HF_UNROLL
    for (int r = 0; r < R; r++)
HF_UNROLL
        for (int u = 0; u < nv; u++) c[r][u] = vload(acc + r * dvp + e0 + u * HF_W) * alpha[r];
    for (int j = 0; j < nb; j++) {
        vf x[HF_PV_NV];
        if (DT == CLATTN_DTYPE_F32) {
            const float *restrict vr = (const float *)vt + j * vstride + e0;
HF_UNROLL
            for (int u = 0; u < nv; u++) x[u] = vload(vr + u * HF_W);
        } else { /* V rows read as 16-bit (decode over a 16-bit cache), widened in registers */
            const uint16_t *restrict vr = (const uint16_t *)vt + j * vstride + e0;
HF_UNROLL
            for (int u = 0; u < nv; u++) x[u] = vload16(vr + u * HF_W, DT);
        }
HF_UNROLL
        for (int r = 0; r < R; r++) {
            const float w = p[r * HF_BK + j];
            if (guarded && w == 0.0f) continue;
            const vf pb = vsplat(w);
HF_UNROLL
            for (int u = 0; u < nv; u++) c[r][u] = vfma(pb, x[u], c[r][u]);
        }
    }
HF_UNROLL
    for (int r = 0; r < R; r++)
HF_UNROLL
        for (int u = 0; u < nv; u++) vstore(acc + r * dvp + e0 + u * HF_W, c[r][u]);
}

#if HF_PV_NV >= 4
#define HF_PV_CASES(G, R, DT)                                                                          \
    case 4: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 4, G, R, DT); break;                                \
    case 3: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 3, G, R, DT); break;                                \
    case 2: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 2, G, R, DT); break;                                \
    default: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 1, G, R, DT); break;
#else
#define HF_PV_CASES(G, R, DT)                                                                          \
    case 2: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 2, G, R, DT); break;                                \
    default: pv_tile(p, vt, vstride, dvp, nb, acc, alpha, e0, 1, G, R, DT); break;
#endif

/* pv_tile over columns [0, ncol) (a multiple of HF_W) for the first n rows (1 <= n <= HF_PV_R) of
 * a group; V rows vstride elements apart (float, or 16-bit of type dt), acc rows dvp floats apart. */
#define HF_PV_ROWS(DT)                                                                                 \
    do {                                                                                               \
        if (n == 1) {                                                                                  \
            if (guarded) {                                                                             \
                switch (nv) { HF_PV_CASES(1, 1, DT) }                                                  \
            } else {                                                                                   \
                switch (nv) { HF_PV_CASES(0, 1, DT) }                                                  \
            }                                                                                          \
        } else if (guarded) {                                                                          \
            switch (nv) { HF_PV_CASES(1, HF_PV_R, DT) }                                                \
        } else {                                                                                       \
            switch (nv) { HF_PV_CASES(0, HF_PV_R, DT) }                                                \
        }                                                                                              \
    } while (0)
static void pv_rows(const float *restrict p, const void *restrict vt, int64_t vstride, int64_t dvp, int64_t ncol,
                    int nb, float *restrict acc, const float *restrict alpha, int guarded, int n, int dt)
{
    for (int64_t e0 = 0; e0 < ncol; e0 += HF_PV_NV * HF_W) {
        int nv = (int)((ncol - e0) / HF_W);
        if (nv > HF_PV_NV) nv = HF_PV_NV;
        if (dt == CLATTN_DTYPE_F16)
            HF_PV_ROWS(CLATTN_DTYPE_F16);
        else if (dt == CLATTN_DTYPE_BF16)
            HF_PV_ROWS(CLATTN_DTYPE_BF16);
        else
            HF_PV_ROWS(CLATTN_DTYPE_F32);
    }
}

/* The first half of softmax_row: softcap, mask and key range applied to row r's scores s[0..BK) of the
 * block at key j0 (nb keys; columns outside the row's range become -inf); returns the block max (NaN
 * never wins). When the row sees no key of the block: s zeroed, *alpha = 1, *flag = 0, returns false. */
static inline __attribute__((always_inline)) bool softmax_block_max(const host_fused_args *a,
                                                                   const host_fused_row *row, int64_t j0, int nb,
                                                                   float smax, float *restrict s,
                                                                   float *restrict alpha, int *restrict flag,
                                                                   float *restrict bmax_out, const int range_only)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t clo64 = row->lo > j0 ? row->lo - j0 : 0;
    const int64_t chi64 = row->hi - j0 < nb ? row->hi - j0 : nb;
    if (chi64 <= clo64) {
        /* sees no key of this block: no change */
        for (int c = 0; c < HF_BK; c++) s[c] = 0.0f;
        *alpha = 1.0f;
        *flag = 0;
        return false;
    }
    const int32_t clo = (int32_t)clo64, chi = (int32_t)chi64;
    const float softcap = p->softcap;
    vi lane;
    for (int u = 0; u < HF_W; u++) lane[u] = u;
    const vf ninf = vsplat(-INFINITY);
    float bmax;
    if (softcap <= 0.0f && row->mask == NULL && clo == 0 && chi == HF_BK) {
        /* the whole block, scores as qk_tile left them (it computed every panel for this row) */
        bmax = smax;
    } else {
        if (softcap > 0.0f)
            for (int c = clo; c < chi; c++) s[c] = softcap * tanhf(s[c] / softcap);
        if (row->mask != NULL) {
            const int64_t ms3 = p->mask.strides[3];
            if (p->mask_kind == CLATTN_MASK_BOOL) {
                const uint8_t *mk = (const uint8_t *)row->mask + j0 * ms3;
                for (int c = clo; c < chi; c++) s[c] = mk[c * ms3] != 0 ? s[c] : -INFINITY;
            } else {
                const unsigned char *mk =
                    (const unsigned char *)row->mask + (size_t)(j0 * ms3) * clattn_dtype_size(p->mask_type);
                host_mask_add_row(s, mk, p->mask_type, ms3, clo, chi);
            }
        }
        /* keys outside [clo, chi) (and columns qk_tile did not compute) become -inf; range_only: only in
         * the vectors that overlap [clo, chi) (the caller zeroes the weights of the others itself) */
        vf mx = ninf;
        const int v0 = range_only ? clo - clo % HF_W : 0, v1 = range_only ? chi : HF_BK;
        for (int c0 = v0; c0 < v1; c0 += HF_W) {
            const vi ci = lane + c0;
            const vi in = (ci >= clo) & (ci < chi);
            const vf x = vsel(in, vload(s + c0), ninf);
            vstore(s + c0, x);
            mx = vsel(x > mx, x, mx);
        }
        bmax = hmax(mx);
    }
    *bmax_out = bmax;
    return true;
}

/* Turns row r's scores s[0..BK) of the block at key j0 (nb keys) into weights and updates the
 * running max/sum; sets alpha (rescale of the accumulator) and the row flags. Only the vectors that
 * overlap the row's key range [clo, chi) go through exp; the others are set to 0 (exp(-inf) = 0, and
 * adding 0 to the sum changes nothing: the same bits as computing them). */
static void softmax_row(const host_fused_args *a, const host_fused_row *row, int64_t j0, int nb, float smax,
                        float *restrict s, float *restrict m, float *restrict l, float *restrict alpha,
                        int *restrict flag)
{
    float bmax;
    if (!softmax_block_max(a, row, j0, nb, smax, s, alpha, flag, &bmax, 1)) return;
    const int clo = (int)(row->lo > j0 ? row->lo - j0 : 0);
    const int chi = (int)(row->hi - j0 < nb ? row->hi - j0 : nb);
    vi lane;
    for (int u = 0; u < HF_W; u++) lane[u] = u;
    /* NaN scores never win a comparison, so the max is over comparable scores; a NaN then turns
     * into a NaN weight below and makes the row NaN (it stays confined to this row). */
    const float m_old = *m;
    const float m_new = bmax > m_old ? bmax : m_old;
    /* m_old == -inf: nothing (or only NaN) accumulated yet, whatever the new max is */
    const float al = m_old == -INFINITY ? 0.0f : m_new == m_old ? 1.0f : expf(m_old - m_new);
    const float m_exp = m_new == -INFINITY ? 0.0f : m_new;
    vf sum = vsplat(0.0f);
#ifdef HF_AVX512
    /* zero weights among the nb keys tracked in a mask register (no vector compare, blend and OR-reduction) */
    (void)lane;
    __mmask16 zero = 0;
    for (int c0 = 0; c0 < HF_BK; c0 += HF_W) {
        if (c0 + HF_W <= clo || c0 >= chi) { /* no key of the row's range */
            vstore(s + c0, vsplat(0.0f));
            continue;
        }
        const vf w = vexp(vload(s + c0) - m_exp); /* exactly 0 for -inf (masked) scores */
        vstore(s + c0, w);
        sum += w;
        const int lo_in = clo > c0 ? clo - c0 : 0, hi_in = chi - c0 < HF_W ? chi - c0 : HF_W;
        const __mmask16 in = (__mmask16)(((1u << hi_in) - 1u) & ~((1u << lo_in) - 1u));
        zero |= _mm512_mask_cmp_ps_mask(in, (__m512)w, _mm512_setzero_ps(), _CMP_EQ_OQ);
    }
    const int any_zero = zero != 0;
#else
    vi zero = (vi){0};
    for (int c0 = 0; c0 < HF_BK; c0 += HF_W) {
        if (c0 + HF_W <= clo || c0 >= chi) { /* no key of the row's range */
            vstore(s + c0, vsplat(0.0f));
            continue;
        }
        const vf w = vexp(vload(s + c0) - m_exp); /* exactly 0 for -inf (masked) scores */
        vstore(s + c0, w);
        sum += w;
        zero |= (w == vsplat(0.0f)) & ((lane + c0) >= clo) & ((lane + c0) < chi);
    }
    const int any_zero = hany(zero);
#endif
    *m = m_new;
    *l = *l * al + hsum(sum);
    *alpha = al;
    /* CLEAN_IN: no zero weight in [clo, chi); CLEAN: no zero weight among the block's nb keys */
    *flag = HF_ACTIVE | (any_zero ? 0 : HF_CLEAN_IN | (clo == 0 && chi == nb ? HF_CLEAN : 0));
}

/* The calling thread's scratch of a tiled or decode task (fused.c lays it out). */
#define TASK_SCRATCH()                                                                                   \
    unsigned char *ws = a->scratch + fp->shared_bytes + (size_t)tid * fp->thread_bytes;                 \
    float *restrict sc = (float *)(ws + fp->off_s);                                                     \
    float *restrict acc = (float *)(ws + fp->off_acc);                                                  \
    float *restrict rm = (float *)(ws + fp->off_m);                                                     \
    float *restrict rl = (float *)(ws + fp->off_l);                                                     \
    float *restrict ralpha = (float *)(ws + fp->off_alpha);                                             \
    int *restrict rflag = (int *)(ws + fp->off_flag);                                                   \
    host_fused_row *rows = (host_fused_row *)(ws + fp->off_rows)

/* Lk' of batch item b: kv_lengths[b] clamped to [0, Lk], or Lk. */
static int64_t batch_kv_len(const host_fused_args *a, int64_t b)
{
    const int64_t Lk = a->p->Lk;
    if (a->kv_lengths == NULL) return Lk;
    const int64_t lk = a->kv_lengths[b];
    return lk < 0 ? 0 : lk > Lk ? Lk : lk;
}

/* Rows r < M of one (b, kv head): query head hk·G + r / nr, position i0 + r % nr; key range
 * (row_range) clipped to [c0, c1), query and mask pointers; widens [*jlo, *jhi) to every non-empty
 * range. Rows M..Mr-1 are padding that sees no key. */
static void setup_rows(const host_fused_args *a, int64_t b, int64_t hk, int64_t i0, int64_t nr, int64_t M,
                       int64_t Mr, int64_t lk, int64_t c0, int64_t c1, host_fused_row *rows, int64_t *jlo,
                       int64_t *jhi)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t G = p->Hq / p->Hkv;
    const void *mask = a->mask_bool != NULL ? (const void *)a->mask_bool : (const void *)a->mask_add;
    const size_t mask_es = CLATTN_MASK_ELEM_SIZE(p);
    for (int64_t r = 0; r < Mr; r++) {
        host_fused_row *row = &rows[r];
        if (r < M) {
            const int64_t g = r / nr, i = i0 + r % nr, h = hk * G + g;
            host_row_range(p, i, lk, &row->lo, &row->hi);
            if (row->lo < c0) row->lo = c0;
            if (row->hi > c1) row->hi = c1;
            if (row->hi > row->lo) {
                if (row->lo < *jlo) *jlo = row->lo;
                if (row->hi > *jhi) *jhi = row->hi;
            }
            const int64_t qo = p->q.offset + b * p->q.strides[0] + h * p->q.strides[1] + i * p->q.strides[2];
            row->q = a->q16 != NULL ? NULL : a->q + qo;
            row->q16 = a->q16 != NULL ? a->q16 + qo : NULL;
            row->mask = mask == NULL ? NULL
                                     : (const unsigned char *)mask +
                                           (size_t)(p->mask.offset + b * p->mask.strides[0] +
                                                    h * p->mask.strides[1] + i * p->mask.strides[2]) *
                                               mask_es;
        } else {
            row->lo = row->hi = 0;
            row->q = rows[0].q;
            row->q16 = rows[0].q16;
            row->mask = NULL;
        }
    }
}

/* [glo, ghi): the keys of the block at j0 (nb keys) that some row of the HF_QK_R rows from rows may see;
 * false when none does. */
static inline __attribute__((always_inline)) int group_key_range(const host_fused_row *rows, int64_t j0, int nb,
                                                                 int64_t *glo, int64_t *ghi)
{
    int64_t lo = nb, hi = 0;
    for (int r = 0; r < HF_QK_R; r++) {
        const int64_t clo = rows[r].lo > j0 ? rows[r].lo - j0 : 0;
        const int64_t chi = rows[r].hi - j0 < nb ? rows[r].hi - j0 : nb;
        if (chi > clo) {
            if (clo < lo) lo = clo;
            if (chi > hi) hi = chi;
        }
    }
    *glo = lo;
    *ghi = hi;
    return hi > lo;
}

/* The P·V step's view of the block at j0 (nb keys) for the HF_PV_R rows from rows (flags rflag, rescales
 * ralpha): a row the QK step skipped gets zero weights (the wbytes bytes of its weight row, rows wbytes
 * apart from w) and no rescale (alpha 1); [glo, ghi) the keys some active row sees, [ilo, ihi) the keys
 * every active row sees; clean / clean_in: every row, skipped ones too, has HF_CLEAN / HF_CLEAN_IN.
 * False when no row is active. The tiled tasks of fused_kernel.c and fused_avx512bf16.c share it; they
 * differ in their weights' type (float32, bf16 pairs). */
typedef struct {
    int64_t glo, ghi, ilo, ihi;
    int clean, clean_in;
} pv_group;

static inline __attribute__((always_inline)) int pv_group_keys(const host_fused_row *rows, const int *rflag,
                                                               float *ralpha, int64_t j0, int nb,
                                                               unsigned char *w, size_t wbytes, pv_group *g)
{
    int active = 0;
    g->clean = 1, g->clean_in = 1;
    g->glo = nb, g->ghi = 0, g->ilo = 0, g->ihi = nb;
    for (int r = 0; r < HF_PV_R; r++) {
        const host_fused_row *row = &rows[r];
        active |= rflag[r] & HF_ACTIVE;
        g->clean &= (rflag[r] & HF_CLEAN) != 0;
        g->clean_in &= (rflag[r] & HF_CLEAN_IN) != 0;
        if (!(rflag[r] & HF_ACTIVE)) {
            memset(w + r * wbytes, 0, wbytes);
            ralpha[r] = 1.0f;
            continue;
        }
        const int64_t clo = row->lo > j0 ? row->lo - j0 : 0;
        const int64_t chi = row->hi - j0 < nb ? row->hi - j0 : nb;
        if (clo < g->glo) g->glo = clo;
        if (chi > g->ghi) g->ghi = chi;
        if (clo > g->ilo) g->ilo = clo;
        if (chi < g->ihi) g->ihi = chi;
    }
    return active;
}

/* The M rows of a tiled task (query rows i0.. of nr, every head of kv head hk's group, row r = g·nr + i)
 * from their accumulators: out = acc / l, a row that saw no allowed key (l == 0) zero (lse -inf),
 * lse = m + log(l); 16-bit outputs rounded from registers (acc is scratch and is overwritten). */
static void store_task_rows(const host_fused_args *a, int64_t b, int64_t hk, int64_t i0, int64_t nr, int64_t M,
                            float *restrict acc, const float *rm, const float *rl)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t G = p->Hq / p->Hkv, Dv = p->Dv, dvp = a->fp->dvp;
    for (int64_t r = 0; r < M; r++) {
        const int64_t g = r / nr, i = i0 + r % nr, h = hk * G + g;
        const int64_t oo = p->out.offset + b * p->out.strides[0] + h * p->out.strides[1] + i * p->out.strides[2];
        if (a->out16 != NULL) { /* 16-bit out: the normalised row rounded from registers (acc is scratch) */
            if (a->lse != NULL)
                host_store_lse(p, a->lse, b, h, i, rl[r] == 0.0f ? -INFINITY : rm[r] + logf(rl[r]));
            float *ar = acc + r * dvp;
            const float inv = rl[r] == 0.0f ? 0.0f : 1.0f / rl[r];
            if (rl[r] == 0.0f)
                for (int64_t e = 0; e < dvp; e++) ar[e] = 0.0f; /* +0 in both 16-bit types */
            else
                for (int64_t e = 0; e < dvp; e += HF_W) vstore(ar + e, vload(ar + e) * inv);
            narrow_row(ar, a->out16 + oo, Dv, (int)p->data_type);
            continue;
        }
        float *orow = a->out + oo;
        const float *ar = acc + r * dvp;
        if (a->lse != NULL) host_store_lse(p, a->lse, b, h, i, rl[r] == 0.0f ? -INFINITY : rm[r] + logf(rl[r]));
        if (rl[r] == 0.0f) {
            for (int64_t e = 0; e < Dv; e++) orow[e] = 0.0f;
        } else {
            const float inv = 1.0f / rl[r];
            for (int64_t e = 0; e < Dv; e++) orow[e] = ar[e] * inv;
        }
    }
}

#ifndef HF_OWN_ENTRIES /* fused_avx512bf16.c takes the helpers above and defines its own entry points */
/* HF_PACK for 16-bit K and V (a->k16, a->v16): keys [c0, c1) of (b, kv head hk) widened into the same float32
 * panels. A K row is widened into a stack row first (vector loads), then transposed into its panel. */
static void pack16(const host_fused_args *a, int64_t b, int64_t hk, int64_t c0, int64_t c1, int64_t lk,
                   float *kpack, float *vpack)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t D = p->D, Dv = p->Dv, dvp = a->fp->dvp;
    const int dt = (int)p->data_type;
    const int64_t ks3 = p->k.strides[3], vs3 = p->v.strides[3];
    float kw[HOST_FUSED_D16_MAX] __attribute__((aligned(64)));
    for (int64_t j = c0; j < c1; j++) {
        float *restrict kp = kpack + (j / HF_KW) * D * HF_KW + j % HF_KW;
        if (j < lk) {
            const uint16_t *kr = a->k16 + host_kv_off(p, &p->k, a->block_table, b, hk, j);
            if (ks3 == 1 || D == 1)
                widen_row(kr, kw, D, dt);
            else
                for (int64_t d = 0; d < D; d++) kw[d] = ld16(kr + d * ks3, dt);
            for (int64_t d = 0; d < D; d++) kp[d * HF_KW] = kw[d];
            const uint16_t *vr = a->v16 + host_kv_off(p, &p->v, a->block_table, b, hk, j);
            float *restrict dst = vpack + j * dvp;
            if (vs3 == 1 || Dv == 1)
                widen_row(vr, dst, Dv, dt);
            else
                for (int64_t e = 0; e < Dv; e++) dst[e] = ld16(vr + e * vs3, dt);
            for (int64_t e = Dv; e < dvp; e++) dst[e] = 0.0f;
        } else {
            for (int64_t d = 0; d < D; d++) kp[d * HF_KW] = 0.0f;
        }
    }
}

#ifdef HF_AVX512
/* K transposed in registers for the pack: dst[d·ds + i] = src[i][d0 + d] for 16 rows i and 16 dims d
 * (16 loads, 64 in-register shuffles, 16 vector stores instead of 256 scalar stores). */
#define HF_TR_S(a, b, m) _mm512_shuffle_ps(a, b, m)
#define HF_TR_F(a, b, m) _mm512_shuffle_f32x4(a, b, m)
static inline __attribute__((always_inline)) void k_transpose16(const float *const *src, int64_t d0, float *dst,
                                                                int64_t ds)
{
    __m512 r0 = _mm512_loadu_ps(src[0] + d0), r1 = _mm512_loadu_ps(src[1] + d0), r2 = _mm512_loadu_ps(src[2] + d0),
           r3 = _mm512_loadu_ps(src[3] + d0), r4 = _mm512_loadu_ps(src[4] + d0), r5 = _mm512_loadu_ps(src[5] + d0),
           r6 = _mm512_loadu_ps(src[6] + d0), r7 = _mm512_loadu_ps(src[7] + d0), r8 = _mm512_loadu_ps(src[8] + d0),
           r9 = _mm512_loadu_ps(src[9] + d0), r10 = _mm512_loadu_ps(src[10] + d0), r11 = _mm512_loadu_ps(src[11] + d0),
           r12 = _mm512_loadu_ps(src[12] + d0), r13 = _mm512_loadu_ps(src[13] + d0),
           r14 = _mm512_loadu_ps(src[14] + d0), r15 = _mm512_loadu_ps(src[15] + d0);
    __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1), t2 = _mm512_unpacklo_ps(r2, r3),
           t3 = _mm512_unpackhi_ps(r2, r3), t4 = _mm512_unpacklo_ps(r4, r5), t5 = _mm512_unpackhi_ps(r4, r5),
           t6 = _mm512_unpacklo_ps(r6, r7), t7 = _mm512_unpackhi_ps(r6, r7), t8 = _mm512_unpacklo_ps(r8, r9),
           t9 = _mm512_unpackhi_ps(r8, r9), t10 = _mm512_unpacklo_ps(r10, r11), t11 = _mm512_unpackhi_ps(r10, r11),
           t12 = _mm512_unpacklo_ps(r12, r13), t13 = _mm512_unpackhi_ps(r12, r13),
           t14 = _mm512_unpacklo_ps(r14, r15), t15 = _mm512_unpackhi_ps(r14, r15);
    r0 = HF_TR_S(t0, t2, 0x44); r1 = HF_TR_S(t0, t2, 0xEE); r2 = HF_TR_S(t1, t3, 0x44); r3 = HF_TR_S(t1, t3, 0xEE);
    r4 = HF_TR_S(t4, t6, 0x44); r5 = HF_TR_S(t4, t6, 0xEE); r6 = HF_TR_S(t5, t7, 0x44); r7 = HF_TR_S(t5, t7, 0xEE);
    r8 = HF_TR_S(t8, t10, 0x44); r9 = HF_TR_S(t8, t10, 0xEE);
    r10 = HF_TR_S(t9, t11, 0x44); r11 = HF_TR_S(t9, t11, 0xEE);
    r12 = HF_TR_S(t12, t14, 0x44); r13 = HF_TR_S(t12, t14, 0xEE);
    r14 = HF_TR_S(t13, t15, 0x44); r15 = HF_TR_S(t13, t15, 0xEE);
    t0 = HF_TR_F(r0, r4, 0x88); t1 = HF_TR_F(r1, r5, 0x88); t2 = HF_TR_F(r2, r6, 0x88); t3 = HF_TR_F(r3, r7, 0x88);
    t4 = HF_TR_F(r0, r4, 0xDD); t5 = HF_TR_F(r1, r5, 0xDD); t6 = HF_TR_F(r2, r6, 0xDD); t7 = HF_TR_F(r3, r7, 0xDD);
    t8 = HF_TR_F(r8, r12, 0x88); t9 = HF_TR_F(r9, r13, 0x88);
    t10 = HF_TR_F(r10, r14, 0x88); t11 = HF_TR_F(r11, r15, 0x88);
    t12 = HF_TR_F(r8, r12, 0xDD); t13 = HF_TR_F(r9, r13, 0xDD);
    t14 = HF_TR_F(r10, r14, 0xDD); t15 = HF_TR_F(r11, r15, 0xDD);
    _mm512_storeu_ps(dst + 0 * ds, HF_TR_F(t0, t8, 0x88)); _mm512_storeu_ps(dst + 1 * ds, HF_TR_F(t1, t9, 0x88));
    _mm512_storeu_ps(dst + 2 * ds, HF_TR_F(t2, t10, 0x88)); _mm512_storeu_ps(dst + 3 * ds, HF_TR_F(t3, t11, 0x88));
    _mm512_storeu_ps(dst + 4 * ds, HF_TR_F(t4, t12, 0x88)); _mm512_storeu_ps(dst + 5 * ds, HF_TR_F(t5, t13, 0x88));
    _mm512_storeu_ps(dst + 6 * ds, HF_TR_F(t6, t14, 0x88)); _mm512_storeu_ps(dst + 7 * ds, HF_TR_F(t7, t15, 0x88));
    _mm512_storeu_ps(dst + 8 * ds, HF_TR_F(t0, t8, 0xDD)); _mm512_storeu_ps(dst + 9 * ds, HF_TR_F(t1, t9, 0xDD));
    _mm512_storeu_ps(dst + 10 * ds, HF_TR_F(t2, t10, 0xDD)); _mm512_storeu_ps(dst + 11 * ds, HF_TR_F(t3, t11, 0xDD));
    _mm512_storeu_ps(dst + 12 * ds, HF_TR_F(t4, t12, 0xDD)); _mm512_storeu_ps(dst + 13 * ds, HF_TR_F(t5, t13, 0xDD));
    _mm512_storeu_ps(dst + 14 * ds, HF_TR_F(t6, t14, 0xDD)); _mm512_storeu_ps(dst + 15 * ds, HF_TR_F(t7, t15, 0xDD));
}
#undef HF_TR_S
#undef HF_TR_F
#endif

/* V row j of (b, kv head hk) into vpack, padded to dvp with zeros (float32 V). */
static inline __attribute__((always_inline)) void pack_v_row(const host_fused_args *a, int64_t b, int64_t hk,
                                                             int64_t j, float *vpack)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t Dv = p->Dv, dvp = a->fp->dvp, vs3 = p->v.strides[3];
    const float *vr = a->v + host_kv_off(p, &p->v, a->block_table, b, hk, j);
    float *restrict dst = vpack + j * dvp;
    if (vs3 == 1)
        memcpy(dst, vr, (size_t)Dv * sizeof(float));
    else
        for (int64_t e = 0; e < Dv; e++) dst[e] = vr[e * vs3];
    for (int64_t e = Dv; e < dvp; e++) dst[e] = 0.0f;
}

/* Pack task: keys [c0, c0 + PACK_KEYS) of one (b, kv head) of the wave into kpack (transposed
 * panels, zero for keys past Lk') and vpack (rows padded to dvp with zeros). */
void HF_PACK(void *argp, int64_t task, int tid)
{
    const host_fused_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t D = p->D, dvp = fp->dvp;
    const int64_t bhl = task / fp->chunks, bh = a->bh0 + bhl, c0 = task % fp->chunks * HOST_FUSED_PACK_KEYS;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    int64_t lk = p->Lk;
    if (a->kv_lengths != NULL) {
        lk = a->kv_lengths[b];
        if (lk < 0) lk = 0;
        if (lk > p->Lk) lk = p->Lk;
    }
    /* tasks read K up to the panel holding key lk - 1, V up to key lk - 1 */
    const int64_t kend = (lk + HF_KW - 1) / HF_KW * HF_KW;
    const int64_t c1 = c0 + HOST_FUSED_PACK_KEYS < kend ? c0 + HOST_FUSED_PACK_KEYS : kend;
    float *kpack = (float *)(a->scratch + fp->off_kpack) + bhl * fp->lkp * D;
    float *vpack = (float *)(a->scratch + fp->off_vpack) + bhl * fp->lkp * dvp;
    const int64_t ks3 = p->k.strides[3];
    if (a->k16 != NULL) { /* 16-bit K and V, widened while packing (the packed panels are float32 as always) */
        pack16(a, b, hk, c0, c1, lk, kpack, vpack);
        return;
    }
    int64_t j = c0;
#ifdef HF_AVX512
    /* 16 keys at a time (c0 is a multiple of the panel width, so they fill half a panel), transposed in
     * registers; the keys of a partial group (at lk) take the scalar loop below */
    if (ks3 == 1 && D >= 16)
        for (; j + 16 <= c1 && j + 16 <= lk; j += 16) {
            const float *src[16];
            for (int i = 0; i < 16; i++) src[i] = a->k + host_kv_off(p, &p->k, a->block_table, b, hk, j + i);
            float *restrict kp = kpack + (j / HF_KW) * D * HF_KW + j % HF_KW;
            int64_t d0 = 0;
            for (; d0 + 16 <= D; d0 += 16) k_transpose16(src, d0, kp + d0 * HF_KW, HF_KW);
            for (; d0 < D; d0++)
                for (int i = 0; i < 16; i++) kp[d0 * HF_KW + i] = src[i][d0];
            if (!fp->vdirect)
                for (int i = 0; i < 16; i++) pack_v_row(a, b, hk, j + i, vpack);
        }
#endif
    for (; j < c1; j++) {
        float *restrict kp = kpack + (j / HF_KW) * D * HF_KW + j % HF_KW;
        if (j < lk) {
            const float *kr = a->k + host_kv_off(p, &p->k, a->block_table, b, hk, j);
            if (ks3 == 1)
                for (int64_t d = 0; d < D; d++) kp[d * HF_KW] = kr[d];
            else
                for (int64_t d = 0; d < D; d++) kp[d * HF_KW] = kr[d * ks3];
            if (!fp->vdirect) pack_v_row(a, b, hk, j, vpack); /* else V is read in place */
        } else {
            for (int64_t d = 0; d < D; d++) kp[d * HF_KW] = 0.0f;
        }
    }
}

void HF_TASK(void *argp, int64_t task, int tid)
{
    const host_fused_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t D = p->D, Lk = p->Lk, G = p->Hq / p->Hkv, dvp = fp->dvp;

    /* tasks run from the last query block down, so the longest causal blocks start first */
    const int64_t qblk = fp->n_qblocks - 1 - task / a->nw, bhl = task % a->nw, bh = a->bh0 + bhl;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const int64_t i0 = qblk * fp->bq;
    const int64_t nr = p->Lq - i0 < fp->bq ? p->Lq - i0 : fp->bq;
    const int64_t M = G * nr;
    const int64_t Mr = (M + HOST_FUSED_ROW_ALIGN - 1) / HOST_FUSED_ROW_ALIGN * HOST_FUSED_ROW_ALIGN;

    TASK_SCRATCH();
    const int64_t lk = batch_kv_len(a, b);
    if (fp->self_pack) /* the only task of its pair: packs the pair's K and V itself (no pack run) */
        for (int64_t c = 0; c < fp->chunks; c++) HF_PACK(argp, bhl * fp->chunks + c, tid);

    /* rows: ranges, query and mask pointers; padding rows see nothing */
    int64_t jlo = Lk, jhi = 0;
    setup_rows(a, b, hk, i0, nr, M, Mr, lk, 0, Lk, rows, &jlo, &jhi);
    for (int64_t r = 0; r < Mr; r++) rm[r] = -INFINITY, rl[r] = 0.0f;
    memset(acc, 0, (size_t)(Mr * dvp) * sizeof(float));

    const float *kpack = (const float *)(a->scratch + fp->off_kpack) + bhl * fp->lkp * D;
    /* V rows: packed (vs = dvp apart), or the caller's (vdirect: unit stride along Dv, Dv == dvp) */
    const int64_t vs = fp->vdirect ? p->v.strides[2] : dvp;
    const float *vpack = fp->vdirect ? a->v + p->v.offset + b * p->v.strides[0] + hk * p->v.strides[1]
                                     : (const float *)(a->scratch + fp->off_vpack) + bhl * fp->lkp * dvp;

    for (int64_t j0 = jlo - jlo % HF_BK; j0 < jhi; j0 += HF_BK) {
        const int nb = (int)(jhi - j0 < HF_BK ? jhi - j0 : HF_BK);
        const float *restrict kt = kpack + j0 * D;
        const float *restrict vt = vpack + j0 * vs;

        /* scores and weights, QK_R rows at a time, over the panels that hold keys some row of
         * the group may see; row groups that see no key are skipped */
        for (int64_t r0 = 0; r0 < Mr; r0 += HF_QK_R) {
            int64_t glo, ghi;
            if (!group_key_range(rows + r0, j0, nb, &glo, &ghi)) {
                for (int r = 0; r < HF_QK_R; r++) rflag[r0 + r] = 0;
                continue;
            }
            /* columns outside [p0·KW, p1·KW) keep stale values; softmax_row masks them to -inf */
            const int p0 = (int)(glo / HF_KW), p1 = (int)((ghi + HF_KW - 1) / HF_KW);
            float smax[HF_QK_R];
            const int nq = (int)(M - r0 < HF_QK_R ? M - r0 : HF_QK_R); /* real rows of the group */
            qk_tile(&rows[r0], nq, kt + (int64_t)p0 * D * HF_KW, D, p1 - p0, p->scale,
                    sc + r0 * HF_BK + p0 * HF_KW, smax, (int)p->data_type);
            for (int r = 0; r < nq; r++)
                softmax_row(a, &rows[r0 + r], j0, nb, smax[r], sc + (r0 + r) * HF_BK, &rm[r0 + r],
                            &rl[r0 + r], &ralpha[r0 + r], &rflag[r0 + r]);
            for (int r = nq; r < HF_QK_R; r++) rflag[r0 + r] = 0; /* padding rows */
        }

        /* acc = alpha·acc + P·V, PV_R rows at a time, over the keys the group's rows may see: the keys
         * every row of the group sees [ilo, ihi) unguarded when each row's weights there are nonzero
         * (CLEAN_IN), the rest guarded (a causal diagonal, a window edge); each row's accumulator still
         * takes exactly its nonzero weights in key order, so the bits do not depend on the grouping */
        for (int64_t r0 = 0; r0 < Mr; r0 += HF_PV_R) {
            pv_group g; /* rows skipped by the QK step: zero weights, no rescale */
            if (!pv_group_keys(rows + r0, rflag + r0, ralpha + r0, j0, nb, (unsigned char *)(sc + r0 * HF_BK),
                               HF_BK * sizeof(float), &g))
                continue;
            const int64_t glo = g.glo, ghi = g.ghi, ilo = g.ilo, ihi = g.ihi;
            const int npv = M - r0 == 1 ? 1 : HF_PV_R;
            float *restrict ar = acc + r0 * dvp;
            const float *restrict pr = sc + r0 * HF_BK;
            if (g.clean || !g.clean_in || ihi - ilo < HF_PV_SPLIT_MIN) {
                pv_rows(pr + glo, vt + glo * vs, vs, dvp, dvp, (int)(ghi - glo), ar, ralpha + r0, !g.clean, npv,
                        CLATTN_DTYPE_F32);
                continue;
            }
            static const float ones[HF_PV_R] = {1.0f, 1.0f, 1.0f, 1.0f};
            const float *al = ralpha + r0; /* the rescale goes with the first part only */
            if (ilo > glo) {
                pv_rows(pr + glo, vt + glo * vs, vs, dvp, dvp, (int)(ilo - glo), ar, al, 1, npv, CLATTN_DTYPE_F32);
                al = ones;
            }
            pv_rows(pr + ilo, vt + ilo * vs, vs, dvp, dvp, (int)(ihi - ilo), ar, al, 0, npv, CLATTN_DTYPE_F32);
            if (ghi > ihi)
                pv_rows(pr + ihi, vt + ihi * vs, vs, dvp, dvp, (int)(ghi - ihi), ar, ones, 1, npv, CLATTN_DTYPE_F32);
        }
    }

    store_task_rows(a, b, hk, i0, nr, M, acc, rm, rl);
}

/* ---- decode path ------------------------------------------------------------------------------ */

#define HF_DEC_PF 8 /* keys of K prefetched ahead */

/* K element d of row kr (float, or 16-bit of type DT) as float / as a vector of HF_W from d. */
#define HF_KLD(kr, d, DT) ((DT) == CLATTN_DTYPE_F32 ? ((const float *)(kr))[d] : ld16((const uint16_t *)(kr) + (d), (DT)))
#define HF_KLDV(kr, d, DT)                                                                             \
    ((DT) == CLATTN_DTYPE_F32 ? vload((const float *)(kr) + (d)) : vload16((const uint16_t *)(kr) + (d), (DT)))

/* Software prefetch for key c of a run of nb rows (the hardware's stops at page boundaries): its K row
 * HF_DEC_PF keys ahead into L1 (past the run: the next run's rows, knext, another page of a paged cache),
 * and its V row into L2 for the P·V pass that follows (hints only: an address past the arrays does not
 * fault). Measured on the 2-core KVM guest, decode (8, 32/8, 1x4096, 128): 30 ms without, 26 with K only,
 * 20.5 with both (memory-bound). */
static inline __attribute__((always_inline)) void dec_prefetch(const void *k0, int64_t ks2, int64_t D, int nb, int c,
                                                               const void *v0, int64_t vs2, int64_t Dv,
                                                               const void *knext, int64_t es)
{
    const char *kpf = c + HF_DEC_PF < nb ? (const char *)k0 + (int64_t)(c + HF_DEC_PF) * ks2 * es
                                         : (const char *)knext + (int64_t)(c + HF_DEC_PF - nb) * ks2 * es;
    for (int64_t d = 0; d < D * es; d += 64) __builtin_prefetch(kpf + d, 0, 3);
    for (int64_t e = 0; e < Dv * es; e += 64) __builtin_prefetch((const char *)v0 + (int64_t)c * vs2 * es + e, 0, 2);
}

#ifdef HF_AVX512
/* The 16 horizontal sums of v[0..16) in one vector: lane 4·k + j holds the sum of v[k + 4·j]. */
static inline __attribute__((always_inline)) __m512 dec_reduce16(const __m512 *v)
{
    __m512 t[8], u[4], w[2];
HF_UNROLL
    for (int i = 0; i < 8; i++) /* 256-bit halves: [v0 lo+hi chunks 0,1 | v1 chunks 0,1] */
        t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
HF_UNROLL
    for (int i = 0; i < 4; i++) /* 128-bit chunk c: source 4·i + c, 4 partial sums */
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xDD));
HF_UNROLL
    for (int i = 0; i < 2; i++) /* chunk c: sources (c, 4 + c) of the pair, 2 partial sums each */
        w[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
}
#endif

/* s[r][c] = scale · (q_r · k_c) for rows [0, n) and keys c < nb, K rows ks2 elements apart (unit
 * stride along D; float, or 16-bit of type DT widened in registers); smax[r] = the largest (NaN never
 * wins). Each K row is read once for all rows. */
static inline __attribute__((always_inline)) void dec_scores_t(const host_fused_row *rows, int n, const void *k0,
                                                               int64_t ks2, int64_t D, int nb, float scale,
                                                               float *restrict s, float *restrict smax, const void *v0,
                                                               int64_t vs2, int64_t Dv, const void *knext, const int DT)
{
    const int64_t Dw = D - D % HF_W;
    const int64_t es = DT == CLATTN_DTYPE_F32 ? 4 : 2; /* bytes per element */
    for (int r = 0; r < n; r++) smax[r] = -INFINITY;
    int c = 0;
#ifdef HF_AVX512
    /* 4 keys x 4 rows at a time: 16 dot products accumulated as 16 vectors over D, then reduced together by
     * one transpose-and-add tree (15 steps for 16 sums, where one horizontal sum per dot product takes about 8):
     * lane 4·r + j of the result is row r, key j. Each K vector loaded serves the 4 rows. */
    if (Dw == D) {
        __m512 mxv[HOST_FUSED_DEC_MAX_ROWS / 4];
        for (int g = 0; g < HOST_FUSED_DEC_MAX_ROWS / 4; g++) mxv[g] = _mm512_set1_ps(-INFINITY);
        const __m512 vscale = _mm512_set1_ps(scale);
        for (; c + 4 <= nb; c += 4) {
            const char *kr = (const char *)k0 + (int64_t)c * ks2 * es;
HF_UNROLL
            for (int j = 0; j < 4; j++) dec_prefetch(k0, ks2, D, nb, c + j, v0, vs2, Dv, knext, es);
            for (int r0 = 0; r0 < n; r0 += 4) {
                const int R = n - r0 < 4 ? n - r0 : 4;
                const float *q0 = rows[r0].q, *q1 = rows[r0 + (R > 1)].q, *q2 = rows[r0 + (R > 2 ? 2 : 0)].q,
                            *q3 = rows[r0 + (R > 3 ? 3 : 0)].q;
                __m512 acc4[16];
HF_UNROLL
                for (int i = 0; i < 16; i++) acc4[i] = _mm512_setzero_ps();
                for (int64_t d = 0; d < D; d += HF_W) {
                    const __m512 qa = (__m512)vload(q0 + d), qb = (__m512)vload(q1 + d), qc = (__m512)vload(q2 + d),
                                 qd = (__m512)vload(q3 + d);
HF_UNROLL
                    for (int j = 0; j < 4; j++) {
                        const __m512 kv = (__m512)HF_KLDV(kr + (int64_t)j * ks2 * es, d, DT);
                        acc4[4 * j + 0] = _mm512_fmadd_ps(qa, kv, acc4[4 * j + 0]);
                        acc4[4 * j + 1] = _mm512_fmadd_ps(qb, kv, acc4[4 * j + 1]);
                        acc4[4 * j + 2] = _mm512_fmadd_ps(qc, kv, acc4[4 * j + 2]);
                        acc4[4 * j + 3] = _mm512_fmadd_ps(qd, kv, acc4[4 * j + 3]);
                    }
                }
                const __m512 x = _mm512_mul_ps(dec_reduce16(acc4), vscale);
                mxv[r0 / 4] = _mm512_max_ps(x, mxv[r0 / 4]); /* x > mx ? x : mx: NaN never wins */
                float *so = s + r0 * HF_BK + c;
                _mm_storeu_ps(so, _mm512_castps512_ps128(x));
                if (R > 1) _mm_storeu_ps(so + HF_BK, _mm512_extractf32x4_ps(x, 1));
                if (R > 2) _mm_storeu_ps(so + 2 * HF_BK, _mm512_extractf32x4_ps(x, 2));
                if (R > 3) _mm_storeu_ps(so + 3 * HF_BK, _mm512_extractf32x4_ps(x, 3));
            }
        }
        for (int r = 0; r < n; r++) {
            float t[HF_W];
            _mm512_storeu_ps(t, mxv[r / 4]);
            for (int j = 0; j < 4; j++)
                if (t[4 * (r % 4) + j] > smax[r]) smax[r] = t[4 * (r % 4) + j];
        }
    }
#endif
    for (; c < nb; c++) {
        const char *kr = (const char *)k0 + (int64_t)c * ks2 * es;
        dec_prefetch(k0, ks2, D, nb, c, v0, vs2, Dv, knext, es);
        for (int r0 = 0; r0 < n; r0 += 4) {
            const int R = n - r0 < 4 ? n - r0 : 4;
            const float *q0 = rows[r0].q, *q1 = rows[r0 + (R > 1)].q, *q2 = rows[r0 + (R > 2 ? 2 : 0)].q,
                        *q3 = rows[r0 + (R > 3 ? 3 : 0)].q;
            vf a0 = vsplat(0.0f), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t d = 0; d < Dw; d += HF_W) {
                const vf kv = HF_KLDV(kr, d, DT);
                a0 = vfma(vload(q0 + d), kv, a0);
                a1 = vfma(vload(q1 + d), kv, a1);
                a2 = vfma(vload(q2 + d), kv, a2);
                a3 = vfma(vload(q3 + d), kv, a3);
            }
            float t[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
            for (int64_t d = Dw; d < D; d++) {
                const float kd = HF_KLD(kr, d, DT);
                t[0] += q0[d] * kd;
                t[1] += q1[d] * kd;
                t[2] += q2[d] * kd;
                t[3] += q3[d] * kd;
            }
            for (int r = 0; r < R; r++) {
                const float x = t[r] * scale;
                s[(r0 + r) * HF_BK + c] = x;
                if (x > smax[r0 + r]) smax[r0 + r] = x;
            }
        }
    }
}

static void dec_scores(const host_fused_row *rows, int n, const void *k0, int64_t ks2, int64_t D, int nb, float scale,
                       float *restrict s, float *restrict smax, const void *v0, int64_t vs2, int64_t Dv,
                       const void *knext, int dt)
{
    if (dt == CLATTN_DTYPE_F16)
        dec_scores_t(rows, n, k0, ks2, D, nb, scale, s, smax, v0, vs2, Dv, knext, CLATTN_DTYPE_F16);
    else if (dt == CLATTN_DTYPE_BF16)
        dec_scores_t(rows, n, k0, ks2, D, nb, scale, s, smax, v0, vs2, Dv, knext, CLATTN_DTYPE_BF16);
    else
        dec_scores_t(rows, n, k0, ks2, D, nb, scale, s, smax, v0, vs2, Dv, knext, CLATTN_DTYPE_F32);
}

/* Decode task: keys [c·dchunk, (c + 1)·dchunk) of one (b, kv head) for its drows rows (r = g·Lq + i),
 * in blocks of HF_BK keys with the online softmax of the tiled path (softmax_row); K and V are read
 * from the caller's arrays once per block. Writes the chunk's m, l and un-normalised output. */
void HF_DEC(void *argp, int64_t task, int tid)
{
    const host_fused_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t D = p->D, Dv = p->Dv, Lq = p->Lq, dvp = fp->dvp;
    const int64_t bh = task / fp->dn, chunk = task % fp->dn;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const int64_t M = fp->drows, Mr = fp->rows_max;

    TASK_SCRATCH();
    const int64_t lk = batch_kv_len(a, b);
    const int64_t c0 = chunk * fp->dchunk;
    /* a chunk at or past this sequence's length (kv_lengths) sees nothing: no block is walked (its keys, and a
     * paged cache's table entries there, may hold anything) */
    const int64_t c1 = c0 + fp->dchunk < lk ? c0 + fp->dchunk : lk > c0 ? lk : c0;

    int64_t jlo = c1, jhi = c0;
    setup_rows(a, b, hk, 0, Lq, M, Mr, lk, c0, c1, rows, &jlo, &jhi);
    for (int64_t r = 0; r < Mr; r++) rm[r] = -INFINITY, rl[r] = 0.0f;
    memset(acc, 0, (size_t)(Mr * dvp) * sizeof(float));

    const int dt = (int)p->data_type;
    const int64_t es = dt == CLATTN_DTYPE_F32 ? 4 : 2; /* bytes per K/V element */
    const char *kbase = a->k16 != NULL ? (const char *)a->k16 : (const char *)a->k;
    const char *vbase = a->v16 != NULL ? (const char *)a->v16 : (const char *)a->v;
    const int64_t ks2 = host_kv_step(p, &p->k), vs2 = host_kv_step(p, &p->v);
    const int32_t *tbl = a->block_table;
    const int64_t Dvw = Dv - Dv % HF_W;
    float smax[HOST_FUSED_DEC_MAX_ROWS], smax_run[HOST_FUSED_DEC_MAX_ROWS];
    static const float ones[HF_PV_R] = {1.0f, 1.0f, 1.0f, 1.0f}; /* the rescale after a block's first run */
    /* 16-bit queries: the task's rows widened once into a stack array (D <= HOST_FUSED_D16_MAX: fused.c) */
    float qd[HOST_FUSED_DEC_MAX_ROWS][HOST_FUSED_D16_MAX] __attribute__((aligned(64)));
    if (dt != CLATTN_DTYPE_F32)
        for (int64_t r = 0; r < Mr; r++) {
            if (r < M) widen_row(rows[r].q16, qd[r], D, dt);
            rows[r].q = qd[r < M ? r : 0];
        }

    /* blocks start at the first key any row sees; softmax_row takes block-relative ranges. Within a block,
     * K and V are read in runs of evenly spaced rows (the whole block for contiguous K/V; a paged cache's
     * rows only up to the end of their page, host_kv_run): scores column by column, P·V run by run with the
     * accumulator rescaled by the block's alpha once, before the first run. */
    for (int64_t j0 = jlo; j0 < jhi; j0 += HF_BK) {
        const int nb = (int)(jhi - j0 < HF_BK ? jhi - j0 : HF_BK);
        for (int cr = 0; cr < nb;) { /* runs at column cr of the block */
            const int64_t run = host_kv_run(p, j0 + cr);
            const int n = nb - cr < run ? nb - cr : (int)run;
            const char *k0 = kbase + host_kv_off(p, &p->k, tbl, b, hk, j0 + cr) * es;
            /* where the K prefetch goes past this run: the next run's rows (the next page) while this task has any */
            const char *knext = j0 + cr + n < jhi ? kbase + host_kv_off(p, &p->k, tbl, b, hk, j0 + cr + n) * es
                                                  : k0 + (int64_t)n * ks2 * es;
            dec_scores(rows, (int)M, k0, ks2, D, n, p->scale, sc + cr, cr == 0 ? smax : smax_run,
                       vbase + host_kv_off(p, &p->v, tbl, b, hk, j0 + cr) * es, vs2, Dv, knext, dt);
            if (cr > 0)
                for (int64_t r = 0; r < M; r++)
                    if (smax_run[r] > smax[r]) smax[r] = smax_run[r]; /* NaN never wins, as in dec_scores */
            cr += n;
        }
        for (int64_t r = 0; r < Mr; r++)
            softmax_row(a, &rows[r], j0, nb, r < M ? smax[r] : -INFINITY, sc + r * HF_BK, &rm[r], &rl[r],
                        &ralpha[r], &rflag[r]);
        for (int64_t r0 = 0; r0 < M; r0 += HF_PV_R) {
            int active = 0, clean = 1;
            for (int r = 0; r < HF_PV_R && r0 + r < M; r++) { /* padding rows' sums are never used */
                active |= rflag[r0 + r] & HF_ACTIVE;
                clean &= (rflag[r0 + r] & HF_CLEAN) != 0;
            }
            if (!active) continue;
            for (int cr = 0; cr < nb;) {
                const int64_t run = host_kv_run(p, j0 + cr);
                const int n = nb - cr < run ? nb - cr : (int)run;
                const char *vt = vbase + host_kv_off(p, &p->v, tbl, b, hk, j0 + cr) * es;
                const float *al = cr == 0 ? ralpha + r0 : ones;
                if (Dvw > 0)
                    pv_rows(sc + r0 * HF_BK + cr, vt, vs2, dvp, Dvw, n, acc + r0 * dvp, al, !clean,
                            M - r0 == 1 ? 1 : HF_PV_R, dt);
                /* columns past the last full vector (not read as vectors: V rows end at Dv) */
                for (int r = 0; r < HF_PV_R; r++) {
                    float *restrict ar = acc + (r0 + r) * dvp;
                    const float *restrict pr = sc + (r0 + r) * HF_BK + cr;
                    for (int64_t e = Dvw; e < Dv; e++) {
                        float x = ar[e] * al[r];
                        for (int c = 0; c < n; c++)
                            if (pr[c] != 0.0f) x += pr[c] * HF_KLD(vt, c * vs2 + e, dt);
                        ar[e] = x;
                    }
                }
                cr += n;
            }
        }
    }

    float *pml = (float *)(a->scratch + fp->off_pml) + (bh * fp->dn + chunk) * M * 2;
    float *pacc = (float *)(a->scratch + fp->off_pacc) + (bh * fp->dn + chunk) * M * dvp;
    for (int64_t r = 0; r < M; r++) {
        pml[2 * r] = rm[r];
        pml[2 * r + 1] = rl[r];
    }
    memcpy(pacc, acc, (size_t)(M * dvp) * sizeof(float));
}
#endif /* HF_OWN_ENTRIES */
