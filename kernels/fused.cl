/*
 * fused.cl — fused SDPA: scores, online softmax and P·V in one kernel (FlashAttention-style),
 * plus the merge of key partitions. Serves the same contract as the scores/softmax/weighted_sum chain
 * when no probabilities are wanted.
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0); uchar for bool masks; additive float, half
 *   or bfloat16 bits per CLATTN_MASK16 (common.cl clattn_mask_add_at).
 *   All strides and offsets in ELEMENTS; index products in long.
 *
 * Rows. The query rows of one kv pair (b, hk) are its group = Hq / Hkv query heads times Lq rows,
 * interleaved: row rr = i * group + g is query i of head h = hk * group + g. A work-group takes a block of
 * BM = WG * RPW consecutive rows (so the heads of a GQA group share every K/V tile, and a block covers a
 * contiguous range of query positions i); work-item lid holds rows rl0 + lid + t * WG, t < RPW.
 *
 * Launch (clattn_fused): local (WG, 1, 1) (required); global (ceil(nrr / BM) * WG, np, nbh) for a chunk
 * of nbh kv pairs starting at pair bh0 (pair = b * Hkv + hk) and nrr rows starting at row rr0.
 * Group id 1 is the key partition: keys [part * kpart, (part + 1) * kpart). Each group walks only the
 * keys its rows may attend to structurally (kv length, causal, window: clattn_key_lo/hi of common.cl),
 * so key tiles masked for the whole block are never visited. Per tile of TK keys:
 *   barrier; K tile (transposed, Kt[d][j]) and V tile staged in local memory; barrier;
 *   s = q·k (floatVK over keys, RPW rows: independent accumulators) * scale; softcap; masks -> -inf;
 *   m' = max(m, max s); alpha = exp(m - m'); p = exp(s - m') where allowed, else exactly 0 (select);
 *   l = alpha·l + sum p; acc = alpha·acc + sum_j p_j·V_j (floatVV over Dv) for p_j != 0 only, so a masked
 *   V row (inf/NaN) never reaches the sum.
 * A score of -inf counts as "not allowed" (as in the chain, whose softmax treats -inf as masked);
 * a NaN score is allowed and makes its row NaN (fmax ignores it in the max; exp(NaN) spreads it).
 * np == 1: out = acc / l (0 for a row with no allowed key) and, with want_lse, lse[b, h, i] = m + log(l)
 * (-inf for a row with no allowed key; strides l_s0..l_s2, l_s3 unused). np > 1: the group writes its partial
 * (m, l, has, acc[DVP]) to ws[((pairl * np + part) * nrr + rl) * (DVP + 4)], and clattn_fused_merge
 * combines the partitions.
 *
 * Build options: -D DK (D >= 1), -D DVP (Dv rounded up to VV), -D VV, -D VK (2, 4, 8 or 16),
 *   -D TK (keys per tile, multiple of VK), -D WG (work-items per group), -D RPW (rows per work-item),
 *   -D KLW (1, 2, 4, 8 or 16, divides DK: vector width of K loads and of KROW dot products),
 *   -D KROW (0: K tile transposed in local memory, scores as floatVK over keys with no horizontal sums;
 *   1: K tile row-major, one floatKLW dot product per key and row (for few rows per group: decode)).
 *   -D USE_FMA (0/1: fma() for multiply-adds; only where the device does FMA in hardware).
 *   -D DIRECT (0/1, optional: 1 only with KROW, WG == 1, unit stride along D and Dv and DVP == Dv: K and V
 *   rows are read straight from global memory, no local tiles and no barriers; for CPU devices, where
 *   local memory is ordinary cache and the tile copy is pure overhead in a memory-bound decode).
 *   -D SW_PREFETCH (0/1, optional, with DIRECT: Clang's __builtin_prefetch of the next tile, see below).
 *   -D ELEM16 (0 default; 1 binary16, 2 bfloat16 = clattn_dtype; every build, tiled or DIRECT, and the merge):
 *   q, k, v and out are 16-bit arrays read and written in place through common.cl's LD1 / LDN / ST1 (no
 *   staging copies); the local K/V tiles, compute and the partials (ws) stay float32. Float32 builds do not
 *   define it.
 * A tile whose weights are all nonzero for every row of a work-item takes an unguarded P·V loop.
 * Tiles are loaded with vector loads when the last dim of k (resp. v) has stride 1. The short loops over
 * rows, vectors and lanes carry #pragma unroll: without it PoCL keeps s[][] and acc[][] in memory and
 * the kernel runs about 2x slower (measured on PoCL 3.1 / AVX-512).
 * No fp64, no fast/finite math (-INFINITY is relied on).
 */
#ifndef DIRECT
#define DIRECT 0
#endif
#if DIRECT && (!KROW || WG != 1 || KLW < 2)
#error "fused.cl: DIRECT needs KROW, WG == 1 and KLW > 1"
#endif
/* -D SW_PREFETCH=1 (the host sets it for PoCL only) with DIRECT on Clang: software prefetch of the next
 * tile's K and V rows, one key per key of this tile (OpenCL's prefetch() is a no-op in PoCL 3.1; the
 * hardware prefetcher stops at page boundaries; 14 % faster decode). Oclgrind rejects the kernel with
 * it, hence opt-in. */
#ifndef SW_PREFETCH
#define SW_PREFETCH 0
#endif
#if DIRECT && SW_PREFETCH && defined(__clang__) && defined(__has_builtin)
#if __has_builtin(__builtin_prefetch)
#define CLATTN_PREFETCH 1
#endif
#endif
#ifndef CLATTN_PREFETCH
#define CLATTN_PREFETCH 0
#endif
#define BM (WG * RPW)
#define NKV (TK / VK)
#define NDV (DVP / VV)
#define HDR 4

#define floatk CLATTN_CAT(float, VK)
#define intk CLATTN_CAT(int, VK)
#define vloadk CLATTN_CAT(vload, VK)
#define vstorek CLATTN_CAT(vstore, VK)
#define floatvv CLATTN_CAT(float, VV)
#define vloadvv CLATTN_CAT(vload, VV)
#define vstorevv CLATTN_CAT(vstore, VV)

inline float clattn_hmax2(float2 x) { return fmax(x.s0, x.s1); }
inline float clattn_hmax4(float4 x) { return clattn_hmax2(fmax(x.lo, x.hi)); }
inline float clattn_hmax8(float8 x) { return clattn_hmax4(fmax(x.lo, x.hi)); }
inline float clattn_hmax16(float16 x) { return clattn_hmax8(fmax(x.lo, x.hi)); }
inline float clattn_hsum2(float2 x) { return x.s0 + x.s1; }
inline float clattn_hsum4(float4 x) { return clattn_hsum2(x.lo + x.hi); }
inline float clattn_hsum8(float8 x) { return clattn_hsum4(x.lo + x.hi); }
inline float clattn_hsum16(float16 x) { return clattn_hsum8(x.lo + x.hi); }
#define hmaxk CLATTN_CAT(clattn_hmax, VK)
#define hsumk CLATTN_CAT(clattn_hsum, VK)

#if KLW > 1
#define floatd CLATTN_CAT(float, KLW)
#define vloadd CLATTN_CAT(vload, KLW)
#define vstored CLATTN_CAT(vstore, KLW)
#define hsumd CLATTN_CAT(clattn_hsum, KLW)
#endif
#define NKD (DK / KLW)

/* fma where the device has it in hardware (USE_FMA, set by the host from CL_DEVICE_SINGLE_FP_CONFIG),
 * else mad (PoCL does not contract mad into an FMA). */
#if USE_FMA
#define MAD fma
#else
#define MAD mad
#endif

#if VK == 2
#define LANES ((int2)(0, 1))
#elif VK == 4
#define LANES ((int4)(0, 1, 2, 3))
#elif VK == 8
#define LANES ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#elif VK == 16
#define LANES ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void clattn_fused(__global const ELEM_T *q, long q_off, long q_s0, long q_s1, long q_s2, long q_s3,
                  __global const ELEM_T *k, long k_off, long k_s0, long k_s1, long k_s2, long k_s3,
                  __global const ELEM_T *v, long v_off, long v_s0, long v_s1, long v_s2, long v_s3,
                  __global const uchar *mask, long m_off, long m_s0, long m_s1, long m_s2, long m_s3,
                  int mask_kind,
                  __global const int *kv_lengths, int use_kv_lengths,
                  __global ELEM_T *out, long o_off, long o_s0, long o_s1, long o_s2, long o_s3,
                  __global float *ws,
                  long Hkv, long group, long Lq, long Lk, long Dv,
                  long bh0, long rr0, long nrr, long kpart, int np,
                  float scale, float softcap, int causal, long wl, long wr,
                  int want_lse, __global float *lse, long l_off, long l_s0, long l_s1, long l_s2, long l_s3
                  CLATTN_PAGED_ARGS)
{
    /* Vector-typed so that vector accesses are aligned; scalar views below. */
#if DIRECT && CLATTN_PAGED
    /* no tiles; paged: a tile never crosses a block (keys [j0, jend) of one block, rows kt and vt at the slot
     * stride), so the block table is read once per tile; key index clamped into the tile */
#define KROW_AT(jj, c) LDN(KLW, kt + min((long)(jj), nk_1) * k_s1 + (c) * KLW)
#define VROW_AT(jj, c) LDN(VV, vt + (long)(jj) * v_s1 + (c) * VV)
#elif DIRECT
    /* no tiles: rows straight from global memory (key index clamped into the walked range) */
#define KROW_AT(jj, c) LDN(KLW, kb + CLATTN_KV_ROW(min(j0 + (jj), jhi - 1), k_s0, k_s1, k_s2) + (c) * KLW)
#define VROW_AT(jj, c) LDN(VV, vb + CLATTN_KV_ROW(j0 + (jj), v_s0, v_s1, v_s2) + (c) * VV)
#elif KROW
#define KROW_AT(jj, c) Ks[jj][c]
#define VROW_AT(jj, c) Vs[jj][c]
    __local floatd Ks[TK][NKD];  /* k tile, row-major */
#define KS_AT(jj, d) (((__local float *)Ks)[(jj) * DK + (d)])
#else
#define VROW_AT(jj, c) Vs[jj][c]
    __local floatk Kt[DK][NKV];  /* k tile, transposed */
#define KT_AT(d, jj) (((__local float *)Kt)[(d) * TK + (jj)])
#endif
#if !DIRECT
    __local floatvv Vs[TK][NDV]; /* v tile, zero-padded to DVP columns */
#define VS_AT(jj, c) (((__local float *)Vs)[(jj) * DVP + (c)])
#endif

    const int lid = (int)get_local_id(0);
    const long pairl = (long)get_group_id(2);
    const long pair = bh0 + pairl;
    const long b = pair / Hkv;
    const long hk = pair - b * Hkv; /* not %: see scores.cl */
    const long part = (long)get_group_id(1);
    const long rl0 = (long)get_group_id(0) * BM; /* chunk-relative first row of the block */
    const long lkv = clattn_kv_len(kv_lengths, use_kv_lengths, b, Lk);
    const long kbeg = part * kpart;
    const long kend = min(kbeg + kpart, Lk);

    /* Keys the block may attend to (rows are ordered by query position i). */
    const long ifirst = (rr0 + rl0) / group;
    const long ilast = (rr0 + min(rl0 + BM, nrr) - 1) / group;
    const long jlo = max(clattn_key_lo(ifirst, Lq, lkv, wl), kbeg);
    const long jhi = min(clattn_key_hi(ilast, Lq, lkv, causal, wr), kend);

    CLATTN_BT_ROW(); /* paged K/V: the sequence's block-table row (common.cl) */
    __global const ELEM_T *kb = k + k_off + CLATTN_KV_HEAD(k_s0, k_s1, k_s2);
    __global const ELEM_T *vb = v + v_off + CLATTN_KV_HEAD(v_s0, v_s1, v_s2);

#if KROW
    floatd qv[RPW][NKD];
#else
    float qr[RPW][DK];
#endif
    long lo[RPW], hi[RPW], mrow[RPW];
    float m[RPW], l[RPW];
    int has[RPW];
    floatvv acc[RPW][NDV];
    #pragma unroll
    for (int t = 0; t < RPW; t++) {
        const long rl = rl0 + lid + (long)t * WG;
        const bool live = rl < nrr;
        const long rr = rr0 + (live ? rl : 0);
        const long i = rr / group;
        const long h = hk * group + (rr - i * group);
        __global const ELEM_T *qrow = q + q_off + b * q_s0 + h * q_s1 + i * q_s2;
#if KROW
        #pragma unroll
        for (int c = 0; c < NKD; c++) {
            float tmp[KLW];
            #pragma unroll
            for (int u = 0; u < KLW; u++) tmp[u] = live ? LD1(qrow, (c * KLW + u) * q_s3) : 0.0f;
            qv[t][c] = vloadd(0, tmp);
        }
#else
        for (int d = 0; d < DK; d++) qr[t][d] = live ? LD1(qrow, d * q_s3) : 0.0f;
#endif
        lo[t] = live ? max(clattn_key_lo(i, Lq, lkv, wl), kbeg) : 0;
        hi[t] = live ? min(clattn_key_hi(i, Lq, lkv, causal, wr), kend) : 0;
        mrow[t] = m_off + b * m_s0 + h * m_s1 + i * m_s2;
        m[t] = -INFINITY;
        l[t] = 0.0f;
        has[t] = 0;
        #pragma unroll
        for (int c = 0; c < NDV; c++) acc[t][c] = (floatvv)(0.0f);
    }

#if DIRECT && CLATTN_PAGED
    /* Paged: tiles end at block boundaries (the planner makes TK <= the block size, so aligned tiles are full):
     * tile [j0, jend) lies in block bt_row[j0 >> PAGE_SHIFT], read once. */
    for (long j0 = jlo, jend = jlo; j0 < jhi; j0 = jend) {
        jend = min(min(jhi, j0 + TK), (j0 | CLATTN_PAGE_MASK) + 1);
        const long blk = clattn_paged_block(bt_row, j0, num_blocks), nk_1 = jend - j0 - 1;
        __global const ELEM_T *kt = kb + max(blk, 0L) * k_s0 + (j0 & CLATTN_PAGE_MASK) * k_s1;
        __global const ELEM_T *vt = vb + max(blk, 0L) * v_s0 + (j0 & CLATTN_PAGE_MASK) * v_s1;
#define TILE_END jend
#else
    for (long j0 = jlo; j0 < jhi; j0 += TK) {
#define TILE_END jhi
#endif
#if !DIRECT
        barrier(CLK_LOCAL_MEM_FENCE); /* every work-item is done with the previous tile */
#if KLW > 1
        if (k_s3 == 1) {
            for (int e = lid; e < TK * NKD; e += WG) {
                const int jj = e / NKD;
                const int c = e - jj * NKD;
                const long j = j0 + jj;
                const floatd x = j < jhi ? LDN(KLW, kb + CLATTN_KV_ROW(j, k_s0, k_s1, k_s2) + c * KLW) : (floatd)(0.0f);
#if KROW
                Ks[jj][c] = x;
#else
                float tmp[KLW];
                vstored(x, 0, tmp);
                #pragma unroll
                for (int u = 0; u < KLW; u++) KT_AT(c * KLW + u, jj) = tmp[u];
#endif
            }
        } else
#endif
        {
            for (int e = lid; e < TK * DK; e += WG) {
                const int jj = e / DK;
                const int d = e - jj * DK;
                const long j = j0 + jj;
                const float x = j < jhi ? LD1(kb, CLATTN_KV_ROW(j, k_s0, k_s1, k_s2) + d * k_s3) : 0.0f;
#if KROW
                KS_AT(jj, d) = x;
#else
                KT_AT(d, jj) = x;
#endif
            }
        }
        if (v_s3 == 1) {
            for (int e = lid; e < TK * NDV; e += WG) {
                const int jj = e / NDV;
                const int c = e - jj * NDV;
                const long j = j0 + jj;
                floatvv x = (floatvv)(0.0f);
                if (j < jhi) {
                    if ((long)(c + 1) * VV <= Dv) {
                        x = LDN(VV, vb + CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c * VV);
                    } else {
                        float tmp[VV];
                        #pragma unroll
                        for (int u = 0; u < VV; u++) tmp[u] = (long)c * VV + u < Dv ? LD1(vb, CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c * VV + u) : 0.0f;
                        x = vloadvv(0, tmp);
                    }
                }
                Vs[jj][c] = x;
            }
        } else {
            for (int e = lid; e < TK * DVP; e += WG) {
                const int jj = e / DVP;
                const int c = e - jj * DVP;
                const long j = j0 + jj;
                VS_AT(jj, c) = (j < jhi && c < Dv) ? LD1(vb, CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c * v_s3) : 0.0f;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* the tile is loaded */
#endif /* !DIRECT */

        floatk s[RPW][NKV];
#if KROW
        #pragma unroll
        for (int t = 0; t < RPW; t++) {
            #pragma unroll
            for (int kc = 0; kc < NKV; kc++) {
                float tmp[VK];
                #pragma unroll
                for (int u = 0; u < VK; u++) {
#if CLATTN_PREFETCH
                    if (t == 0) {
                        const long jp = j0 + kc * VK + u + TK;
                        if (jp < jhi) {
                            __global const ELEM_T *kp = kb + CLATTN_KV_ROW(jp, k_s0, k_s1, k_s2);
                            __global const ELEM_T *vp = vb + CLATTN_KV_ROW(jp, v_s0, v_s1, v_s2);
                            for (int c = 0; c < DK; c += 16) __builtin_prefetch(kp + c, 0, 3);
                            for (int c = 0; c < DVP; c += 16) __builtin_prefetch(vp + c, 0, 3);
                        }
                    }
#endif
                    floatd a = (floatd)(0.0f);
                    #pragma unroll
                    for (int c = 0; c < NKD; c++) a = MAD(qv[t][c], KROW_AT(kc * VK + u, c), a);
                    tmp[u] = hsumd(a);
                }
                s[t][kc] = vloadk(0, tmp);
            }
        }
#else
        #pragma unroll
        for (int t = 0; t < RPW; t++)
            #pragma unroll
            for (int kc = 0; kc < NKV; kc++) s[t][kc] = (floatk)(0.0f);
        for (int d = 0; d < DK; d++) {
            #pragma unroll
            for (int kc = 0; kc < NKV; kc++) {
                const floatk kv = Kt[d][kc];
                #pragma unroll
                for (int t = 0; t < RPW; t++) s[t][kc] = MAD((floatk)(qr[t][d]), kv, s[t][kc]);
            }
        }
#endif

        const int nk = (int)min((long)TK, TILE_END - j0); /* keys of this tile inside [jlo, jhi) */
        float ptile[RPW][TK];
        /* Some weight of a key < nk is 0 (masked or underflow), in any row: lanes of zf set to 1 for such keys,
         * tested once per tile (hmax). Not an intk accumulated and tested with any() once at the end: that let
         * Oclgrind 21.10 take the unguarded loop for a tile holding a masked key (inf in its V row leaked as
         * NaN). Not any() per vector either: PoCL 3.1 reduces each any() lane by lane with a chain of
         * branches, about 4 % of the prefill kernel's time (perf). */
        floatk zf = (floatk)(0.0f);
#if CLATTN_PAGED
        /* Paged: keys of a block-table entry outside the pool are not allowed (common.cl). */
        intk pok[NKV];
        #pragma unroll
        for (int kc = 0; kc < NKV; kc++) {
            int tmp[VK];
            #pragma unroll
            for (int u = 0; u < VK; u++) {
#if DIRECT
                tmp[u] = (blk >= 0 && kc * VK + u <= nk_1) ? -1 : 0;
#else
                const long j = j0 + kc * VK + u;
                tmp[u] = (j < jhi && CLATTN_KV_OK(j)) ? -1 : 0;
#endif
            }
            pok[kc] = vloadk(0, tmp);
        }
#define PAGE_OK(kc) pok[kc]
#else
#define PAGE_OK(kc) ((intk)(-1))
#endif
        #pragma unroll
        for (int t = 0; t < RPW; t++) {
            /* Structural range of row t relative to the tile, clamped to int. */
            const int a = (int)clamp(lo[t] - j0, -1L, (long)TK + 1);
            const int z = (int)clamp(hi[t] - j0, -1L, (long)TK + 1);
            floatk mx = (floatk)(-INFINITY);
            #pragma unroll
            for (int kc = 0; kc < NKV; kc++) {
                floatk x = s[t][kc] * scale;
                if (softcap > 0.0f) x = softcap * tanh(x / softcap);
                const intk lane = LANES + kc * VK;
                x = select((floatk)(-INFINITY), x, (lane >= (intk)(a)) & (lane < (intk)(z)) & PAGE_OK(kc));
                if (mask_kind != CLATTN_MASK_NONE && a < (kc + 1) * VK && z > kc * VK) {
                    float tmp[VK];
                    vstorek(x, 0, tmp);
                    #pragma unroll
                    for (int u = 0; u < VK; u++) {
                        const long j = j0 + kc * VK + u;
                        if (tmp[u] == -INFINITY) continue;
                        if (mask_kind == CLATTN_MASK_BOOL) {
                            if (mask[mrow[t] + j * m_s3] == 0) tmp[u] = -INFINITY;
                        } else {
                            const float add = clattn_mask_add_at(mask, mrow[t] + j * m_s3);
                            tmp[u] = add == -INFINITY ? -INFINITY : tmp[u] + add;
                        }
                    }
                    x = vloadk(0, tmp);
                }
                s[t][kc] = x;
                mx = fmax(mx, x);
            }
            const float mnew = fmax(m[t], hmaxk(mx));
            const float alpha = (mnew == m[t]) ? 1.0f : exp(m[t] - mnew);
            floatk lsum = (floatk)(0.0f);
            intk valid_any = (intk)(0);
            #pragma unroll
            for (int kc = 0; kc < NKV; kc++) {
                const floatk x = s[t][kc];
                const intk valid = x != (floatk)(-INFINITY); /* NaN is "valid": it spreads to the row */
                const floatk p = select((floatk)(0.0f), exp(x - (floatk)(mnew)), valid);
                valid_any |= valid;
                zf = select(zf, (floatk)(1.0f), (p == (floatk)(0.0f)) & (LANES + kc * VK < (intk)(nk)));
                lsum += p;
                vstorek(p, kc, &ptile[t][0]);
            }
            has[t] |= any(valid_any);
            l[t] = l[t] * alpha + hsumk(lsum);
            m[t] = mnew;
            if (alpha != 1.0f)
                #pragma unroll
                for (int c = 0; c < NDV; c++) acc[t][c] *= alpha;
        }

        if (hmaxk(zf) == 0.0f) {
            /* every weight nonzero: no masked V row in the tile for these rows */
            for (int jj = 0; jj < nk; jj++) {
                #pragma unroll
                for (int t = 0; t < RPW; t++) {
                    const floatvv pj = (floatvv)(ptile[t][jj]);
                    #pragma unroll
                    for (int c = 0; c < NDV; c++) acc[t][c] = MAD(pj, VROW_AT(jj, c), acc[t][c]);
                }
            }
        } else {
            for (int jj = 0; jj < nk; jj++) {
                #pragma unroll
                for (int t = 0; t < RPW; t++) {
                    const float pj = ptile[t][jj];
                    if (pj != 0.0f)
                        #pragma unroll
                        for (int c = 0; c < NDV; c++) acc[t][c] = MAD((floatvv)(pj), VROW_AT(jj, c), acc[t][c]);
                }
            }
        }
    }

    #pragma unroll
    for (int t = 0; t < RPW; t++) {
        const long rl = rl0 + lid + (long)t * WG;
        if (rl >= nrr) break;
        if (np == 1) {
            const long rr = rr0 + rl;
            const long i = rr / group;
            const long h = hk * group + (rr - i * group);
            __global ELEM_T *orow = out + o_off + b * o_s0 + h * o_s1 + i * o_s2;
            const float inv = has[t] ? 1.0f / l[t] : 0.0f;
            if (want_lse) lse[l_off + b * l_s0 + h * l_s1 + i * l_s2] = has[t] ? m[t] + log(l[t]) : -INFINITY;
            #pragma unroll
            for (int c = 0; c < NDV; c++) {
                float tmp[VV];
                vstorevv(has[t] ? acc[t][c] * inv : (floatvv)(0.0f), 0, tmp);
                #pragma unroll
                for (int u = 0; u < VV; u++) {
                    const long col = (long)c * VV + u;
                    if (col < Dv) ST1(tmp[u], orow, col * o_s3);
                }
            }
        } else {
            __global float *w = ws + ((pairl * np + part) * nrr + rl) * (DVP + HDR);
            w[0] = m[t];
            w[1] = l[t];
            w[2] = has[t] ? 1.0f : 0.0f;
            w[3] = 0.0f;
            #pragma unroll
            for (int c = 0; c < NDV; c++) vstorevv(acc[t][c], c, w + HDR);
        }
    }
}

/*
 * clattn_fused_merge: combines the np key partitions of every row of a chunk.
 *   M = max over partitions with an allowed key of m_p; w_p = exp(m_p - M);
 *   out = sum_p w_p·acc_p / sum_p w_p·l_p, or 0 when no partition has an allowed key;
 *   with want_lse the work-item of column 0 writes lse = M + log(sum_p w_p·l_p) (-inf when none has one).
 * Launch: local (MWG, 1, 1); global (ceil(Dv / MWG) * MWG, nrr, nbh): one work-item per output element.
 */
__kernel void clattn_fused_merge(__global const float *ws, __global ELEM_T *out, long o_off, long o_s0, long o_s1,
                                 long o_s2, long o_s3, long Hkv, long group, long Dv, long bh0, long rr0,
                                 long nrr, int np,
                                 int want_lse, __global float *lse, long l_off, long l_s0, long l_s1, long l_s2,
                                 long l_s3)
{
    const long col = (long)get_global_id(0);
    const long rl = (long)get_global_id(1);
    const long pairl = (long)get_global_id(2);
    if (col >= Dv || rl >= nrr) return;
    const long pair = bh0 + pairl;
    const long b = pair / Hkv;
    const long hk = pair - b * Hkv;
    const long rr = rr0 + rl;
    const long i = rr / group;
    const long h = hk * group + (rr - i * group);

    float M = -INFINITY;
    int any_has = 0;
    for (int p = 0; p < np; p++) {
        __global const float *w = ws + ((pairl * np + p) * nrr + rl) * (DVP + HDR);
        if (w[2] != 0.0f) {
            M = fmax(M, w[0]);
            any_has = 1;
        }
    }
    float L = 0.0f, A = 0.0f;
    for (int p = 0; p < np; p++) {
        __global const float *w = ws + ((pairl * np + p) * nrr + rl) * (DVP + HDR);
        if (w[2] != 0.0f) {
            const float f = exp(w[0] - M);
            L += w[1] * f;
            A += w[HDR + col] * f;
        }
    }
    ST1(any_has ? A / L : 0.0f, out, o_off + b * o_s0 + h * o_s1 + i * o_s2 + col * o_s3);
    if (want_lse && col == 0) lse[l_off + b * l_s0 + h * l_s1 + i * l_s2] = any_has ? M + log(L) : -INFINITY;
}
