/*
 * AVX512_BF16 instance of the fused host kernel, for CLATTN_PRECISION_REDUCED plans (clattn.h,
 * clattn_precision): the Q·Kᵀ and P·V products take bfloat16-rounded operands through VDPBF16PS
 * (_mm512_dpbf16_ps: 16 float32 lanes, each += a0·b0 + a1·b1 over a pair of bf16; Intel SDM vol. 2
 * "VDPBF16PS"), with float32 accumulators. Everything between the two products is the float32 code
 * of fused_kernel.c, included below (softmax_row: softcap, masks, online softmax, NaN rules; the
 * row setup; the output and lse): only the packed layouts and the two micro-kernels differ.
 *
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 * Layouts (fused.h, host_fused_plan): K in panels of 32 keys x dh = ceil(D/2) pairs along D (a word
 * holds k[j][2t] low, k[j][2t+1] high; an odd D pads a zero); V as pairs of keys along Dv (a word
 * holds v[2u][e] low, v[2u+1][e] high; keys past Lk' are zero); Q rows as pairs along D per task;
 * P rounded to bf16 per block just before P·V (the running sum l keeps the float32 weights).
 * Rounding: VCVTNEPS2BF16 (round to nearest even, NaN stays NaN).
 *
 * Zero weights: VDPBF16PS multiplies both keys of a pair, so a zero weight would meet its V value
 * (0·inf = NaN). A block whose packed V is finite (vbad 0, found while packing) takes the fast
 * kernel, where a zero weight adds exactly zero; a block holding inf or NaN in V takes a guarded
 * kernel that multiplies only nonzero weights (the float32 path's rule: masked V never reaches the sum).
 *
 * The decode path (Lq <= 4) stays float32: fused.c gives such plans the AVX512 ISA, and this file
 * has no decode entry. Runs only where
 * __builtin_cpu_supports reports avx512bf16, avx512bw and avx512vl (fused.c).
 */
#if defined(__x86_64__) && defined(__GNUC__)
/* headers first, so that only this file's own functions get the target */
#include "fused.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16"))), \
                             apply_to = function)
#else
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16")
#endif
#define HF_ISA avx512bf16
#define HF_W 16
#define HF_QK_R 8
#define HF_PV_NV 4
#define HF_FMA _mm512_fmadd_ps
#define HF_SPLAT _mm512_set1_ps
#define HF_AVX512 1
#define HF_OWN_ENTRIES 1 /* only the helpers: the pack and tiled task are below, decode plans run AVX512 */
/* the float32 micro-kernels of fused_kernel.c are not used by this instance */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "fused_kernel.c"
#pragma GCC diagnostic pop

#define BF_KW HF_KW /* 32 keys per K panel */

/* 16 floats -> 16 bf16 (round to nearest even) zero-extended into 32-bit lanes. */
static inline __attribute__((always_inline)) __m512i bf_lanes(__m512 x)
{
    return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(x));
}

/* A bf16 word pair's exponent fields all ones (inf or NaN) in either half. */
static inline __attribute__((always_inline)) __mmask16 bf_nonfinite(__m512i w)
{
    const __m512i lo = _mm512_set1_epi32(0x7F80), hi = _mm512_set1_epi32(0x7F800000);
    return _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, lo), lo) |
           _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, hi), hi);
}

/* n (<= 16) elements at x (float, or binary16 / bfloat16 for dt F16 / BF16, widened exactly) with stride st
 * elements, as a float vector (zeros past n). */
static inline __attribute__((always_inline)) __m512 bf_gather(const void *x, int64_t st, int n, const int dt)
{
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    if (dt == CLATTN_DTYPE_F32) {
        const float *xf = x;
        if (st == 1) return _mm512_maskz_loadu_ps(m, xf);
        float t[16] = {0};
        for (int i = 0; i < n; i++) t[i] = xf[i * st];
        return _mm512_loadu_ps(t);
    }
    const uint16_t *xh = x;
    __m256i h;
    if (st == 1) {
        h = _mm256_maskz_loadu_epi16(m, xh);
    } else {
        uint16_t t[16] = {0};
        for (int i = 0; i < n; i++) t[i] = xh[i * st];
        h = _mm256_loadu_si256((const __m256i *)(const void *)t);
    }
    if (dt == CLATTN_DTYPE_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Row of D elements (stride st; dt as bf_gather) -> dh bf16 pair words (an odd D pads a zero). bfloat16
 * inputs come out unchanged (the round trip through float32 is exact). */
static inline __attribute__((always_inline)) void bf_row_pairs_dt(const void *x, int64_t st, int64_t D,
                                                                  uint32_t *restrict out, const int dt)
{
    const int64_t es = dt == CLATTN_DTYPE_F32 ? 4 : 2;
    for (int64_t d = 0; d < D; d += 32) {
        const int n0 = D - d >= 16 ? 16 : (int)(D - d);
        const int n1 = D - d - 16 >= 16 ? 16 : D - d - 16 > 0 ? (int)(D - d - 16) : 0;
        const __m512 a = bf_gather((const char *)x + d * st * es, st, n0, dt);
        const __m512 b = n1 > 0 ? bf_gather((const char *)x + (d + 16) * st * es, st, n1, dt) : _mm512_setzero_ps();
        /* _mm512_cvtne2ps_pbh(hi, lo): bf16 0..15 from lo, 16..31 from hi */
        const __m512i w = (__m512i)_mm512_cvtne2ps_pbh(b, a);
        const int64_t words = (D - d + 1) / 2 < 16 ? (D - d + 1) / 2 : 16;
        _mm512_mask_storeu_epi32(out + d / 2, (__mmask16)((1u << words) - 1u), w);
    }
}

static void bf_row_pairs(const void *x, int64_t st, int64_t D, uint32_t *restrict out, int dt)
{
    if (dt == CLATTN_DTYPE_BF16)
        bf_row_pairs_dt(x, st, D, out, CLATTN_DTYPE_BF16);
    else if (dt == CLATTN_DTYPE_F16)
        bf_row_pairs_dt(x, st, D, out, CLATTN_DTYPE_F16);
    else
        bf_row_pairs_dt(x, st, D, out, CLATTN_DTYPE_F32);
}

/* Pack task (bf16): keys [c0, c0 + PACK_KEYS) of one (b, kv head) of the wave; K pairs along D into
 * panels, V pairs of keys along Dv (keys past Lk' zero), and the vbad flag of each block touched. */
void HF_CAT(host_fused_pack, HF_ISA)(void *argp, int64_t task, int tid)
{
    (void)tid;
    const host_fused_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t D = p->D, Dv = p->Dv, dvp = fp->dvp, dh = fp->dh;
    const int64_t bhl = task / fp->chunks, bh = a->bh0 + bhl, c0 = task % fp->chunks * HOST_FUSED_PACK_KEYS;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const int64_t lk = batch_kv_len(a, b);
    /* tasks read K up to the panel holding key lk - 1, V up to the pair holding it */
    const int64_t kend = (lk + BF_KW - 1) / BF_KW * BF_KW;
    const int64_t c1 = c0 + HOST_FUSED_PACK_KEYS < kend ? c0 + HOST_FUSED_PACK_KEYS : kend;
    uint32_t *kpack = (uint32_t *)(a->scratch + fp->off_kpack) + bhl * fp->lkp * dh;
    uint32_t *vpack = (uint32_t *)(a->scratch + fp->off_vpack) + bhl * (fp->lkp / 2) * dvp;
    unsigned char *vbad = a->scratch + fp->off_vbad + bhl * (fp->lkp / HOST_FUSED_BK);
    /* float32, or the caller's 16-bit K and V (a->k16, a->v16; rounded to bf16 from their exact float32 value) */
    const int dt = a->k16 != NULL ? (int)p->data_type : CLATTN_DTYPE_F32;
    const int64_t es = dt == CLATTN_DTYPE_F32 ? 4 : 2;
    const char *kbase = a->k16 != NULL ? (const char *)a->k16 : (const char *)a->k;
    const char *vbase = a->v16 != NULL ? (const char *)a->v16 : (const char *)a->v;
    const int64_t ks3 = p->k.strides[3], vs3 = p->v.strides[3];

    uint32_t krow[64];
    for (int64_t j = c0; j < c1; j++) {
        uint32_t *restrict kp = kpack + (j / BF_KW) * dh * BF_KW + j % BF_KW;
        if (j < lk) {
            const char *kr = kbase + host_kv_off(p, &p->k, a->block_table, b, hk, j) * es;
            for (int64_t t0 = 0; t0 < dh; t0 += 64) { /* 128 elements of D at a time */
                const int64_t nt = dh - t0 < 64 ? dh - t0 : 64;
                const int64_t nd = D - 2 * t0 < 128 ? D - 2 * t0 : 128;
                bf_row_pairs(kr + 2 * t0 * ks3 * es, ks3, nd, krow, dt);
                for (int64_t t = 0; t < nt; t++) kp[(t0 + t) * BF_KW] = krow[t];
            }
        } else {
            for (int64_t t = 0; t < dh; t++) kp[t * BF_KW] = 0;
        }
    }
    /* V: pairs (j, j + 1), j even; blocks of HOST_FUSED_BK keys get their vbad flag */
    for (int64_t j0 = c0; j0 < c1; j0 += HOST_FUSED_BK) {
        const int64_t j1 = j0 + HOST_FUSED_BK < c1 ? j0 + HOST_FUSED_BK : c1;
        __mmask16 bad = 0;
        for (int64_t j = j0; j < j1; j += 2) {
            uint32_t *restrict dst = vpack + (j / 2) * dvp;
            const int has0 = j < lk, has1 = j + 1 < lk; /* j even: j and j + 1 share a page (block_size even) */
            const char *v0 = has0 ? vbase + host_kv_off(p, &p->v, a->block_table, b, hk, j) * es : NULL;
            const char *v1 = has1 ? vbase + host_kv_off(p, &p->v, a->block_table, b, hk, j + 1) * es : NULL;
            for (int64_t e = 0; e < dvp; e += 16) {
                const int n = Dv - e >= 16 ? 16 : Dv - e > 0 ? (int)(Dv - e) : 0;
                __m512 x0 = _mm512_setzero_ps(), x1 = x0;
                if (dt == CLATTN_DTYPE_BF16) {
                    if (has0 && n > 0) x0 = bf_gather(v0 + e * vs3 * es, vs3, n, CLATTN_DTYPE_BF16);
                    if (has1 && n > 0) x1 = bf_gather(v1 + e * vs3 * es, vs3, n, CLATTN_DTYPE_BF16);
                } else if (dt == CLATTN_DTYPE_F16) {
                    if (has0 && n > 0) x0 = bf_gather(v0 + e * vs3 * es, vs3, n, CLATTN_DTYPE_F16);
                    if (has1 && n > 0) x1 = bf_gather(v1 + e * vs3 * es, vs3, n, CLATTN_DTYPE_F16);
                } else {
                    if (has0 && n > 0) x0 = bf_gather(v0 + e * vs3 * es, vs3, n, CLATTN_DTYPE_F32);
                    if (has1 && n > 0) x1 = bf_gather(v1 + e * vs3 * es, vs3, n, CLATTN_DTYPE_F32);
                }
                const __m512i w = _mm512_or_si512(bf_lanes(x0), _mm512_slli_epi32(bf_lanes(x1), 16));
                bad |= bf_nonfinite(w);
                _mm512_storeu_si512(dst + e, w);
            }
        }
        vbad[j0 / HOST_FUSED_BK] = bad != 0;
    }
}

/* s[r][c] = scale · (q_r · key c) from bf16 pairs for R rows (qb rows dh words apart) and `npanels`
 * panels of kt; smax[r] = the largest (NaN never wins). */
static inline __attribute__((always_inline)) void bf_qk_tile_r(const uint32_t *restrict qb, int64_t dh,
                                                               const uint32_t *restrict kt, int npanels,
                                                               float scale, float *restrict s,
                                                               float *restrict smax, const int R)
{
    __m512 mx[HF_QK_R];
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int r = 0; r < R; r++) mx[r] = _mm512_set1_ps(-INFINITY);
    for (int pn = 0; pn < npanels; pn++) {
        const uint32_t *restrict kp = kt + (int64_t)pn * dh * BF_KW;
        __m512 a0[HF_QK_R], a1[HF_QK_R];
HF_UNROLL
        for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm512_setzero_ps();
        for (int64_t t = 0; t < dh; t++) {
            const __m512bh k0 = (__m512bh)_mm512_loadu_si512(kp + t * BF_KW);
            const __m512bh k1 = (__m512bh)_mm512_loadu_si512(kp + t * BF_KW + 16);
HF_UNROLL
            for (int r = 0; r < R; r++) {
                const __m512bh x = (__m512bh)_mm512_set1_epi32((int)qb[r * dh + t]);
                a0[r] = _mm512_dpbf16_ps(a0[r], x, k0);
                a1[r] = _mm512_dpbf16_ps(a1[r], x, k1);
            }
        }
HF_UNROLL
        for (int r = 0; r < R; r++) {
            const __m512 x0 = _mm512_mul_ps(a0[r], vscale), x1 = _mm512_mul_ps(a1[r], vscale);
            _mm512_storeu_ps(s + r * HF_BK + pn * BF_KW, x0);
            _mm512_storeu_ps(s + r * HF_BK + pn * BF_KW + 16, x1);
            mx[r] = _mm512_mask_mov_ps(mx[r], _mm512_cmp_ps_mask(x0, mx[r], _CMP_GT_OQ), x0);
            mx[r] = _mm512_mask_mov_ps(mx[r], _mm512_cmp_ps_mask(x1, mx[r], _CMP_GT_OQ), x1);
        }
    }
    for (int r = 0; r < R; r++) smax[r] = hmax((vf)mx[r]);
}

static void bf_qk_tile(const uint32_t *restrict qb, int64_t dh, int n, const uint32_t *restrict kt, int npanels,
                       float scale, float *restrict s, float *restrict smax)
{
    if (n == 1)
        bf_qk_tile_r(qb, dh, kt, npanels, scale, s, smax, 1);
    else if (n == 2)
        bf_qk_tile_r(qb, dh, kt, npanels, scale, s, smax, 2);
    else if (n <= 4)
        bf_qk_tile_r(qb, dh, kt, npanels, scale, s, smax, 4);
    else
        bf_qk_tile_r(qb, dh, kt, npanels, scale, s, smax, HF_QK_R);
}

/* acc[r][e0 .. e0 + nv·16) = alpha[r]·acc[r][...] + sum over key pairs u < np of the bf16 pair
 * pw[r][u] · vt[u][...], for R rows (pw rows HF_BK / 2 words apart). guarded: a zero weight never
 * multiplies its V value (the other key of the pair goes through a float32 FMA). */
static inline __attribute__((always_inline)) void bf_pv_tile(const uint32_t *restrict pw,
                                                             const uint32_t *restrict vt, int64_t dvp, int np,
                                                             float *restrict acc, const float *restrict alpha,
                                                             int64_t e0, const int nv, const int guarded,
                                                             const int R)
{
    __m512 c[HF_PV_R][HF_PV_NV];
HF_UNROLL
    for (int r = 0; r < R; r++)
HF_UNROLL
        for (int u = 0; u < nv; u++)
            c[r][u] = _mm512_mul_ps(_mm512_loadu_ps(acc + r * dvp + e0 + u * 16), _mm512_set1_ps(alpha[r]));
    for (int j = 0; j < np; j++) {
        const uint32_t *restrict vr = vt + (int64_t)j * dvp + e0;
        __m512i x[HF_PV_NV];
HF_UNROLL
        for (int u = 0; u < nv; u++) x[u] = _mm512_loadu_si512(vr + u * 16);
HF_UNROLL
        for (int r = 0; r < R; r++) {
            const uint32_t w = pw[r * (HF_BK / 2) + j];
            if (guarded && ((w & 0xFFFFu) == 0 || (w >> 16) == 0)) {
                if (w == 0) continue;
                /* one nonzero weight: that key alone, in float32 (exact bf16·bf16 product) */
                const int hi = (w & 0xFFFFu) == 0;
                uint32_t wb = hi ? (w & 0xFFFF0000u) : (w << 16);
                float wf;
                memcpy(&wf, &wb, sizeof wf);
                const __m512 pb = _mm512_set1_ps(wf);
HF_UNROLL
                for (int u = 0; u < nv; u++) {
                    const __m512i xv = hi ? _mm512_and_si512(x[u], _mm512_set1_epi32((int)0xFFFF0000u))
                                          : _mm512_slli_epi32(x[u], 16);
                    c[r][u] = _mm512_fmadd_ps(pb, _mm512_castsi512_ps(xv), c[r][u]);
                }
                continue;
            }
            const __m512bh pb = (__m512bh)_mm512_set1_epi32((int)w);
HF_UNROLL
            for (int u = 0; u < nv; u++) c[r][u] = _mm512_dpbf16_ps(c[r][u], pb, (__m512bh)x[u]);
        }
    }
HF_UNROLL
    for (int r = 0; r < R; r++)
HF_UNROLL
        for (int u = 0; u < nv; u++) _mm512_storeu_ps(acc + r * dvp + e0 + u * 16, c[r][u]);
}

#define BF_PV_CASES(G, R)                                                                              \
    case 4: bf_pv_tile(pw, vt, dvp, np, acc, alpha, e0, 4, G, R); break;                                  \
    case 3: bf_pv_tile(pw, vt, dvp, np, acc, alpha, e0, 3, G, R); break;                                  \
    case 2: bf_pv_tile(pw, vt, dvp, np, acc, alpha, e0, 2, G, R); break;                                  \
    default: bf_pv_tile(pw, vt, dvp, np, acc, alpha, e0, 1, G, R); break;

/* bf_pv_tile over all dvp columns for the first n rows (1 or HF_PV_R) of a group. */
static void bf_pv_rows(const uint32_t *restrict pw, const uint32_t *restrict vt, int64_t dvp, int np,
                       float *restrict acc, const float *restrict alpha, int guarded, int n)
{
    for (int64_t e0 = 0; e0 < dvp; e0 += HF_PV_NV * 16) {
        int nv = (int)((dvp - e0) / 16);
        if (nv > HF_PV_NV) nv = HF_PV_NV;
        if (n == 1) {
            if (guarded) {
                switch (nv) { BF_PV_CASES(1, 1) }
            } else {
                switch (nv) { BF_PV_CASES(0, 1) }
            }
        } else if (guarded) {
            switch (nv) { BF_PV_CASES(1, HF_PV_R) }
        } else {
            switch (nv) { BF_PV_CASES(0, HF_PV_R) }
        }
    }
}

/* softmax_row of fused_kernel.c for the bf16 tile: the same block max (softmax_block_max: softcap, masks,
 * key range) and online update (float32 max, exp, sum l of the float32 weights), but the weights go
 * straight to bf16 pairs of keys in pw (HF_BK / 2 words, round to nearest even) instead of back to s,
 * and no HF_CLEAN tracking (the P·V kernels here are guarded by the block's V instead). */
static inline __attribute__((always_inline)) void bf_softmax_row(const host_fused_args *a, const host_fused_row *row,
                                                                 int64_t j0, int nb, float smax, float *restrict s,
                                                                 float *restrict m, float *restrict l,
                                                                 float *restrict alpha, int *restrict flag,
                                                                 uint32_t *restrict pw)
{
    float bmax;
    if (!softmax_block_max(a, row, j0, nb, smax, s, alpha, flag, &bmax, 0)) {
        memset(pw, 0, (HF_BK / 2) * sizeof(uint32_t));
        return;
    }
    const float m_old = *m;
    const float m_new = bmax > m_old ? bmax : m_old;
    const float al = m_old == -INFINITY ? 0.0f : m_new == m_old ? 1.0f : expf(m_old - m_new);
    const float m_exp = m_new == -INFINITY ? 0.0f : m_new;
    const __m512 mv = _mm512_set1_ps(m_exp);
    __m512 sum = _mm512_setzero_ps();
    for (int c0 = 0; c0 < HF_BK; c0 += 32) {
        const __m512 w0 = (__m512)vexp((vf)_mm512_sub_ps(_mm512_loadu_ps(s + c0), mv));
        const __m512 w1 = (__m512)vexp((vf)_mm512_sub_ps(_mm512_loadu_ps(s + c0 + 16), mv));
        sum = _mm512_add_ps(sum, _mm512_add_ps(w0, w1));
        _mm512_store_si512(pw + c0 / 2, (__m512i)_mm512_cvtne2ps_pbh(w1, w0));
    }
    *m = m_new;
    *l = *l * al + _mm512_reduce_add_ps(sum);
    *alpha = al;
    *flag = HF_ACTIVE;
}

/* Tiled task (bf16 products): as fused_kernel.c's, with Q rounded once per task, the bf16 Q·Kᵀ tile,
 * and P rounded per block of keys before the bf16 P·V tile. */
void HF_CAT(host_fused_task, HF_ISA)(void *argp, int64_t task, int tid)
{
    const host_fused_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t D = p->D, Lk = p->Lk, G = p->Hq / p->Hkv, dvp = fp->dvp, dh = fp->dh;

    /* tasks run from the last query block down, so the longest causal blocks start first */
    const int64_t qblk = fp->n_qblocks - 1 - task / a->nw, bhl = task % a->nw, bh = a->bh0 + bhl;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const int64_t i0 = qblk * fp->bq;
    const int64_t nr = p->Lq - i0 < fp->bq ? p->Lq - i0 : fp->bq;
    const int64_t M = G * nr;
    const int64_t Mr = (M + HOST_FUSED_ROW_ALIGN - 1) / HOST_FUSED_ROW_ALIGN * HOST_FUSED_ROW_ALIGN;

    TASK_SCRATCH();
    uint32_t *restrict qb = (uint32_t *)(ws + fp->off_qb);
    const int64_t lk = batch_kv_len(a, b);

    int64_t jlo = Lk, jhi = 0;
    setup_rows(a, b, hk, i0, nr, M, Mr, lk, 0, Lk, rows, &jlo, &jhi);
    for (int64_t r = 0; r < Mr; r++) rm[r] = -INFINITY, rl[r] = 0.0f;
    memset(acc, 0, (size_t)(Mr * dvp) * sizeof(float));
    /* query rows as bf16 pairs (q has unit stride along D: host_fused_supported); padding rows repeat row 0;
     * 16-bit plans read the caller's rows (rows[r].q16) */
    for (int64_t r = 0; r < Mr; r++) {
        if (a->q16 != NULL)
            bf_row_pairs(rows[r].q16, 1, D, qb + r * dh, (int)p->data_type);
        else
            bf_row_pairs(rows[r].q, 1, D, qb + r * dh, CLATTN_DTYPE_F32);
    }

    const uint32_t *kpack = (const uint32_t *)(a->scratch + fp->off_kpack) + bhl * fp->lkp * dh;
    const uint32_t *vpack = (const uint32_t *)(a->scratch + fp->off_vpack) + bhl * (fp->lkp / 2) * dvp;
    const unsigned char *vbad = a->scratch + fp->off_vbad + bhl * (fp->lkp / HOST_FUSED_BK);
    uint32_t *restrict pb = (uint32_t *)(ws + fp->off_pb); /* [Mr][HF_BK / 2] */

    for (int64_t j0 = jlo - jlo % HF_BK; j0 < jhi; j0 += HF_BK) {
        const int nb = (int)(jhi - j0 < HF_BK ? jhi - j0 : HF_BK);
        const uint32_t *restrict kt = kpack + j0 * dh;
        const uint32_t *restrict vt = vpack + (j0 / 2) * dvp;
        const int guarded = vbad[j0 / HF_BK];

        for (int64_t r0 = 0; r0 < Mr; r0 += HF_QK_R) {
            int64_t glo, ghi;
            if (!group_key_range(rows + r0, j0, nb, &glo, &ghi)) {
                for (int r = 0; r < HF_QK_R; r++) rflag[r0 + r] = 0;
                continue;
            }
            const int p0 = (int)(glo / BF_KW), p1 = (int)((ghi + BF_KW - 1) / BF_KW);
            float smax[HF_QK_R];
            const int nq = (int)(M - r0 < HF_QK_R ? M - r0 : HF_QK_R);
            bf_qk_tile(qb + r0 * dh, dh, nq, kt + (int64_t)p0 * dh * BF_KW, p1 - p0, p->scale,
                       sc + r0 * HF_BK + p0 * BF_KW, smax);
            for (int r = 0; r < nq; r++)
                bf_softmax_row(a, &rows[r0 + r], j0, nb, smax[r], sc + (r0 + r) * HF_BK, &rm[r0 + r], &rl[r0 + r],
                               &ralpha[r0 + r], &rflag[r0 + r], pb + (r0 + r) * (HF_BK / 2));
            for (int r = nq; r < HF_QK_R; r++) rflag[r0 + r] = 0;
        }

        for (int64_t r0 = 0; r0 < Mr; r0 += HF_PV_R) {
            pv_group g; /* rows skipped by the QK step: zero weight pairs, no rescale */
            if (!pv_group_keys(rows + r0, rflag + r0, ralpha + r0, j0, nb,
                               (unsigned char *)(pb + r0 * (HF_BK / 2)), (HF_BK / 2) * sizeof(uint32_t), &g))
                continue;
            int64_t glo = g.glo, ghi = g.ghi;
            /* whole pairs: columns outside every row's range hold weight 0 (softmax_block_max), and V
             * is zero past Lk' up to the pair boundary */
            glo &= ~(int64_t)1;
            ghi = (ghi + 1) & ~(int64_t)1;
            bf_pv_rows(pb + r0 * (HF_BK / 2) + glo / 2, vt + (glo / 2) * dvp, dvp, (int)((ghi - glo) / 2), acc + r0 * dvp, ralpha + r0,
                       guarded, M - r0 == 1 ? 1 : HF_PV_R);
        }
    }

    store_task_rows(a, b, hk, i0, nr, M, acc, rm, rl);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* ISO C forbids an empty translation unit */
typedef int host_simd_avx512bf16_unused;
#endif
