/*
 * fused_gpu.cl — fused SDPA for GPU devices (CL_DEVICE_TYPE_GPU): scores, online softmax and P·V in one
 * kernel, partitioned for GPUs in the spirit of FlashAttention-2 (Dao, 2023), plus a split-key decode
 * kernel and the merge of key partitions. Same contract and semantics as kernels/fused.cl (the CPU
 * kernel, kept for CPU devices), which the host side (src/opencl/fused.c) also launches the same way.
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   mask: [Bm, Hm, Lqm, Lk] (dims of 1 broadcast, stride 0); uchar for bool masks; additive float, half
 *   or bfloat16 bits per CLATTN_MASK16 (common.cl clattn_mask_add_at).
 *   All strides and offsets in ELEMENTS; index products in long.
 *
 * Rows, as in fused.cl: the query rows of kv pair (b, hk) are its group = Hq / Hkv heads times Lq rows,
 * interleaved (row rr = i * group + g is query i of head hk * group + g), so a block of consecutive rows
 * shares every K/V tile across the heads of a GQA group.
 *
 * Work partition. A work-group of WG = TR x TC work-items (lid = tr * TC + tc) owns a block of BR = TR * RT
 * rows; work-item (tr, tc) holds rows tr + t * TR (t < RT). A key tile has BC = TC * CT keys; the
 * work-item holds the scores of its rows for keys tc + c * TC (c < CT): an RT x CT register tile. Its
 * output columns are the NCG groups of VW columns g = tc + cg * TC (an RT x NCG·VW register tile), so the
 * TC work-items of a row group share the row's head dimension. Every private array is indexed only by
 * compile-time constants in fully unrolled loops (nothing is spilled or kept in scratch).
 *
 * clattn_fused_gpu (prefill, -D DECODE=0): Q block, K tile, P tile and row reductions in local memory:
 *   stage Q[BR][DKP] once; per tile of BC keys:
 *     barrier; K tile -> KV[BC][DKP] (coalesced loads); barrier;
 *     s = q·k (float4 over D) * scale; softcap; structural range, masks -> -inf;
 *     row max of the work-item's keys -> RED[row][tc]; barrier;
 *     m' = max(m, max over RED[row][*]); alpha = exp(m - m'); p = exp(s - m') where allowed, else
 *     exactly 0; P -> PS[row][key]; l_own = alpha·l_own + sum p; acc *= alpha;
 *     V tile -> KV[BC][DVP] (K is no longer read: every work-item passed the barrier); barrier;
 *     acc += p·V over the tile's keys, adding only where p != 0 (a masked V row with inf/NaN never
 *     reaches the sum: select, not multiply).
 *   Every reuse of local memory is behind a barrier; nothing relies on lock-step execution.
 * clattn_decode_gpu (-D DECODE=1, Lq <= 4 and few rows per kv pair, K and V unit-stride along D and Dv):
 *   TR = 1, VW = 1, K and V rows read straight from global memory (each key row once per work-group;
 *   V loads coalesced across the row group), only
 *   Q, P and the reductions in local memory; keys are split into np partitions across work-groups
 *   (group id 1) and merged by clattn_fused_gpu_merge.
 * After the last tile l = sum over the row group of l_own (local memory, same order in every
 * work-item). A row has an allowed key iff l != 0 (the key with the final maximum contributes exp(0) = 1,
 * a NaN makes l NaN), so no separate flag is reduced.
 * A score of -inf counts as "not allowed" (as in the chain and fused.cl); a NaN score is allowed and
 * makes its row NaN (fmax ignores it in the max; exp(NaN) spreads it).
 * np == 1: out = acc / l (0 for a row with no allowed key); with want_lse, lse[b, h, i] = m + log(l) (-inf for a
 * row with no allowed key; strides l_s0..l_s2). np > 1: the partial (m, l, has, 0, acc[DVP])
 * goes to ws[((pairl * np + part) * nrr + rl) * (DVP + 4)], as fused.cl's, for clattn_fused_gpu_merge.
 *
 * Launch (clattn_fused_gpu, clattn_decode_gpu): local (WG, 1, 1) (required); global
 * (ceil(nrr / BR) * WG, np, nbh), arguments exactly as clattn_fused (fused.cl).
 * Build options: -D DK (D >= 1), -D DVP (Dv rounded up to TC * VW), -D VW (1, 2 or 4: vector width over
 *   Dv columns), -D TR, -D TC (4, 8, 16, 32 or 64), -D RT (rows per work-item), -D CT (keys per
 *   work-item and tile), -D DECODE (0/1), -D USE_FMA (0/1), -D ELEM16 (0 default; 1 binary16, 2 bfloat16:
 *   q, k, v and out are 16-bit arrays read and written in place through common.cl's LD1 / LDN / ST1, in every
 *   kernel here; local memory, compute and the partials stay float32).
 * No fp64, no fast/finite math (-INFINITY is relied on), no extension.
 */
#define WG (TR * TC)
#define BR (TR * RT)
#define BC (TC * CT)
#define DK4 ((DK + 3) / 4 * 4)  /* D rounded up to whole float4s (the tail is zero in Q and K) */
#define DKP (DK4 + 4)           /* Q and K row stride in local memory: one float4 of padding moves the
                                 * rows that a wave reads at once onto different banks */
#define NCG (DVP / (TC * VW))   /* column groups per work-item */
#define BCP (BC + 4)            /* P row stride */
#define KVW (DKP > DVP ? DKP : DVP)
#define HDR 4
#ifndef UNROLL_D
#define UNROLL_D 1 /* the score loop over D: unrolled, the compiler hoists the loads into registers */
#endif

#if (TC % 4) != 0 || (DVP % (TC * VW)) != 0 || (BC % 4) != 0
#error "fused_gpu.cl: TC and BC must be multiples of 4 and DVP of TC * VW"
#endif
#if DECODE && (TR != 1 || VW != 1)
#error "fused_gpu.cl: DECODE needs TR == 1 and VW == 1"
#endif

#if USE_FMA
#define MAD fma
#else
#define MAD mad
#endif

#if VW == 1
#define floatw float
#define vloadw(i, p) ((p)[i])
#define vstorew(x, i, p) ((p)[i] = (x))
#else
#define floatw CLATTN_CAT(float, VW)
#define vloadw CLATTN_CAT(vload, VW)
#define vstorew CLATTN_CAT(vstore, VW)
#endif

/* s = softcap(q·k · scale), then the structural range [lo, hi) and the mask: -inf where not allowed. */
inline float clattn_gpu_score(float s, int j, int lo, int hi, float scale, float softcap, int mask_kind,
                              __global const uchar *mask, long mrow, long m_s3)
{
    float x = s * scale;
    if (softcap > 0.0f) x = softcap * tanh(x / softcap);
    if (j < lo || j >= hi || x == -INFINITY) return -INFINITY;
    if (mask_kind == CLATTN_MASK_BOOL) {
        if (mask[mrow + j * m_s3] == 0) x = -INFINITY;
    } else if (mask_kind == CLATTN_MASK_ADDITIVE) {
        const float add = clattn_mask_add_at(mask, mrow + j * m_s3);
        x = add == -INFINITY ? -INFINITY : x + add;
    }
    return x;
}

/* The arguments of clattn_fused_gpu and clattn_decode_gpu (those of fused.cl's clattn_fused). */
#define CLATTN_GPU_ARGS                                                                                      \
    __global const ELEM_T *q, long q_off, long q_s0, long q_s1, long q_s2, long q_s3,                        \
    __global const ELEM_T *k, long k_off, long k_s0, long k_s1, long k_s2, long k_s3,                        \
    __global const ELEM_T *v, long v_off, long v_s0, long v_s1, long v_s2, long v_s3,                        \
    __global const uchar *mask, long m_off, long m_s0, long m_s1, long m_s2, long m_s3, int mask_kind,       \
    __global const int *kv_lengths, int use_kv_lengths,                                                      \
    __global ELEM_T *out, long o_off, long o_s0, long o_s1, long o_s2, long o_s3, __global float *ws,        \
    long Hkv, long group, long Lq, long Lk, long Dv, long bh0, long rr0, long nrr, long kpart, int np,      \
    float scale, float softcap, int causal, long wl, long wr,                                                \
    int want_lse, __global float *lse, long l_off, long l_s0, long l_s1, long l_s2, long l_s3 CLATTN_PAGED_ARGS

/* One body, two entry points (the program holds the one its DECODE option selects). */
#if DECODE
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void clattn_decode_gpu(CLATTN_GPU_ARGS)
#else
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void clattn_fused_gpu(CLATTN_GPU_ARGS)
#endif
{
    __local float4 QS[BR * DKP / 4];   /* q rows of the block, zero past D */
#if !DECODE
    __local float4 KV[BC * KVW / 4];   /* the K tile (stride DKP), then the V tile (stride DVP) */
#define KS4(jj, d4) KV[(jj) * (DKP / 4) + (d4)]
#define VS_ROW(jj) ((__local float *)KV + (jj) * DVP)
#endif
    __local float4 PS[BR * BCP / 4];   /* p of the tile */
    __local float4 RED[BR * TC / 4];   /* per-row partial maxima, then partial sums */
#define PS_AT(r, jj) (((__local float *)PS)[(r) * BCP + (jj)])
#define RED_AT(r, u) (((__local float *)RED)[(r) * TC + (u)])

    const int lid = (int)get_local_id(0);
    const int tr = lid / TC;
    const int tc = lid - tr * TC;
    const long pairl = (long)get_group_id(2);
    const long pair = bh0 + pairl;
    const long b = pair / Hkv;
    const long hk = pair - b * Hkv; /* not %: see scores.cl */
    const long part = (long)get_group_id(1);
    const long rl0 = (long)get_group_id(0) * BR; /* chunk-relative first row of the block */
    const long lkv = clattn_kv_len(kv_lengths, use_kv_lengths, b, Lk);
    const long kbeg = part * kpart;
    const long kend = min(kbeg + kpart, Lk);

    /* Keys the block may attend to (rows are ordered by query position i). */
    const long ifirst = (rr0 + rl0) / group;
    const long ilast = (rr0 + min(rl0 + BR, nrr) - 1) / group;
    const long jlo = max(clattn_key_lo(ifirst, Lq, lkv, wl), kbeg);
    const long jhi = min(clattn_key_hi(ilast, Lq, lkv, causal, wr), kend);

    CLATTN_BT_ROW(); /* paged K/V: the sequence's block-table row (common.cl) */
    __global const ELEM_T *kb = k + k_off + CLATTN_KV_HEAD(k_s0, k_s1, k_s2);
    __global const ELEM_T *vb = v + v_off + CLATTN_KV_HEAD(v_s0, v_s1, v_s2);

    /* Q block -> local memory (zero past D and for rows past the chunk). */
    for (int e = lid; e < BR * (DK4 / 4); e += WG) {
        const int r = e / (DK4 / 4);
        const int d4 = e - r * (DK4 / 4);
        const long rl = rl0 + r;
        float4 x = (float4)(0.0f);
        if (rl < nrr) {
            const long rr = rr0 + rl;
            const long i = rr / group;
            const long h = hk * group + (rr - i * group);
            __global const ELEM_T *qrow = q + q_off + b * q_s0 + h * q_s1 + i * q_s2;
            if (q_s3 == 1 && (d4 + 1) * 4 <= DK) {
                x = LDN(4, qrow + d4 * 4);
            } else {
                float tmp[4];
#pragma unroll
                for (int u = 0; u < 4; u++) tmp[u] = d4 * 4 + u < DK ? LD1(qrow, (d4 * 4 + u) * q_s3) : 0.0f;
                x = vload4(0, tmp);
            }
        }
        QS[r * (DKP / 4) + d4] = x;
    }

    int lo[RT], hi[RT]; /* key indices fit in int (the host declines Lk >= 2^31 - 2^16) */
    long mrow[RT];
    float m[RT], l[RT];
    floatw acc[RT][NCG];
#pragma unroll
    for (int t = 0; t < RT; t++) {
        const long rl = rl0 + tr + t * TR;
        const bool live = rl < nrr;
        const long rr = rr0 + (live ? rl : 0);
        const long i = rr / group;
        const long h = hk * group + (rr - i * group);
        lo[t] = live ? (int)max(clattn_key_lo(i, Lq, lkv, wl), kbeg) : 0;
        hi[t] = live ? (int)min(clattn_key_hi(i, Lq, lkv, causal, wr), kend) : 0;
        mrow[t] = m_off + b * m_s0 + h * m_s1 + i * m_s2;
        m[t] = -INFINITY;
        l[t] = 0.0f;
#pragma unroll
        for (int cg = 0; cg < NCG; cg++) acc[t][cg] = (floatw)(0.0f);
    }

    const int jhi_i = (int)jhi;
    for (int j0 = (int)jlo; j0 < jhi_i; j0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* every work-item is done with the previous tile (and Q is staged) */
#if !DECODE
        /* K tile -> KV (row-major, stride DKP; zero past D and for keys past jhi). */
        for (int e = lid; e < BC * (DK4 / 4); e += WG) {
            const int jj = e / (DK4 / 4);
            const int d4 = e - jj * (DK4 / 4);
            const long j = j0 + jj;
            float4 x = (float4)(0.0f);
            if (j < jhi) {
                if (k_s3 == 1 && (d4 + 1) * 4 <= DK) {
                    x = LDN(4, kb + CLATTN_KV_ROW(j, k_s0, k_s1, k_s2) + d4 * 4);
                } else {
                    float tmp[4];
#pragma unroll
                    for (int u = 0; u < 4; u++) tmp[u] = d4 * 4 + u < DK ? LD1(kb, CLATTN_KV_ROW(j, k_s0, k_s1, k_s2) + (d4 * 4 + u) * k_s3) : 0.0f;
                    x = vload4(0, tmp);
                }
            }
            KS4(jj, d4) = x;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* the K tile is loaded */
#endif

        /* Scores: RT rows x CT keys, float4 over D. */
        float s[RT][CT];
#pragma unroll
        for (int t = 0; t < RT; t++)
#pragma unroll
            for (int c = 0; c < CT; c++) s[t][c] = 0.0f;
#if DECODE
        /* K rows from global memory (unit stride along D: the host's condition for this kernel); a key
         * past jhi reads row jhi - 1 (in bounds) and is masked below. Whole float4s, then the DK % 4 tail. */
        __global const ELEM_T *krow[CT];
#pragma unroll
        for (int c = 0; c < CT; c++) krow[c] = kb + CLATTN_KV_ROW((long)min(j0 + tc + c * TC, jhi_i - 1), k_s0, k_s1, k_s2);
#if DK % 4
#pragma unroll
        for (int c = 0; c < CT; c++)
#pragma unroll
            for (int u = DK / 4 * 4; u < DK; u++) {
                const float kx = LD1(krow[c], u);
#pragma unroll
                for (int t = 0; t < RT; t++) s[t][c] = MAD(((__local float *)QS)[(tr + t * TR) * DKP + u], kx, s[t][c]);
            }
#endif
#pragma unroll UNROLL_D
        for (int d4 = 0; d4 < DK / 4; d4++) {
#else
#pragma unroll UNROLL_D
        for (int d4 = 0; d4 < DK4 / 4; d4++) {
#endif
            float4 qv[RT];
#pragma unroll
            for (int t = 0; t < RT; t++) qv[t] = QS[(tr + t * TR) * (DKP / 4) + d4];
#pragma unroll
            for (int c = 0; c < CT; c++) {
#if DECODE
                const float4 kv = LDN(4, krow[c] + d4 * 4);
#else
                const float4 kv = KS4(tc + c * TC, d4);
#endif
#pragma unroll
                for (int t = 0; t < RT; t++) {
                    float a = s[t][c];
                    a = MAD(qv[t].x, kv.x, a);
                    a = MAD(qv[t].y, kv.y, a);
                    a = MAD(qv[t].z, kv.z, a);
                    a = MAD(qv[t].w, kv.w, a);
                    s[t][c] = a;
                }
            }
        }

        /* Scale, softcap, range and masks; the work-item's row maxima -> RED. */
#if CLATTN_PAGED
        /* Paged: keys of a block-table entry outside the pool are not allowed (common.cl). */
        int pok[CT];
#pragma unroll
        for (int c = 0; c < CT; c++) pok[c] = j0 + tc + c * TC < jhi_i && CLATTN_KV_OK(j0 + tc + c * TC);
#endif
#pragma unroll
        for (int t = 0; t < RT; t++) {
            float mx = -INFINITY;
#pragma unroll
            for (int c = 0; c < CT; c++) {
#if CLATTN_PAGED
                const float x = pok[c] ? clattn_gpu_score(s[t][c], j0 + tc + c * TC, lo[t], hi[t], scale, softcap,
                                                          mask_kind, mask, mrow[t], m_s3)
                                       : -INFINITY;
#else
                const float x = clattn_gpu_score(s[t][c], j0 + tc + c * TC, lo[t], hi[t], scale, softcap, mask_kind,
                                                 mask, mrow[t], m_s3);
#endif
                s[t][c] = x;
                mx = fmax(mx, x);
            }
            RED_AT(tr + t * TR, tc) = mx;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* maxima written; the K tile is no longer read */

        /* Row maxima, weights p -> PS, rescaled accumulators. */
#pragma unroll
        for (int t = 0; t < RT; t++) {
            const int r = tr + t * TR;
            float tmax = -INFINITY;
#pragma unroll 2 /* fully unrolled, the reads of every row are hoisted (224 VGPRs at RT = 8) */
            for (int u4 = 0; u4 < TC / 4; u4++) {
                const float4 x = RED[r * (TC / 4) + u4];
                tmax = fmax(tmax, fmax(fmax(x.x, x.y), fmax(x.z, x.w)));
            }
            const float mnew = fmax(m[t], tmax);
            const float alpha = (mnew == m[t]) ? 1.0f : exp(m[t] - mnew);
            float lsum = 0.0f;
#pragma unroll
            for (int c = 0; c < CT; c++) {
                const float x = s[t][c];
                const float p = x != -INFINITY ? exp(x - mnew) : 0.0f; /* NaN is allowed: it spreads */
                lsum += p;
                PS_AT(r, tc + c * TC) = p;
            }
            l[t] = l[t] * alpha + lsum;
            m[t] = mnew;
#pragma unroll
            for (int cg = 0; cg < NCG; cg++) acc[t][cg] *= alpha; /* exact when alpha == 1 */
        }
#if !DECODE
        /* V tile -> KV (row-major, stride DVP; zero past Dv and for keys past jhi). */
#if (DVP % 4) == 0
        if (v_s3 == 1) {
            for (int e = lid; e < BC * (DVP / 4); e += WG) {
                const int jj = e / (DVP / 4);
                const int c4 = e - jj * (DVP / 4);
                const long j = j0 + jj;
                float4 x = (float4)(0.0f);
                if (j < jhi) {
                    if ((long)(c4 + 1) * 4 <= Dv) {
                        x = LDN(4, vb + CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c4 * 4);
                    } else {
                        float tmp[4];
#pragma unroll
                        for (int u = 0; u < 4; u++) tmp[u] = (long)c4 * 4 + u < Dv ? LD1(vb, CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c4 * 4 + u) : 0.0f;
                        x = vload4(0, tmp);
                    }
                }
                vstore4(x, 0, VS_ROW(jj) + c4 * 4);
            }
        } else
#endif
        {
            for (int e = lid; e < BC * DVP; e += WG) {
                const int jj = e / DVP;
                const int c = e - jj * DVP;
                const long j = j0 + jj;
                VS_ROW(jj)[c] = (j < jhi && c < Dv) ? LD1(vb, CLATTN_KV_ROW(j, v_s0, v_s1, v_s2) + c * v_s3) : 0.0f;
            }
        }
#endif
        barrier(CLK_LOCAL_MEM_FENCE); /* P (and the V tile) written */

        /* acc += p·V over the tile's keys (4 at a time; keys past jhi have p == 0). */
        const int nk4 = (min(BC, jhi_i - j0) + 3) / 4;
#pragma unroll 1
        for (int k4 = 0; k4 < nk4; k4++) {
            float4 p4[RT];
#pragma unroll
            for (int t = 0; t < RT; t++) p4[t] = PS[(tr + t * TR) * (BCP / 4) + k4];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int jj = k4 * 4 + u;
#if DECODE
                /* V rows from global memory, unit stride along Dv (the host's condition), one column per
                 * work-item and group (VW == 1; consecutive work-items, consecutive columns); key and
                 * column clamped in bounds (p == 0 past jhi; columns past Dv are never stored). */
                __global const ELEM_T *vrow = vb + CLATTN_KV_ROW((long)min(j0 + jj, jhi_i - 1), v_s0, v_s1, v_s2);
#endif
#pragma unroll
                for (int cg = 0; cg < NCG; cg++) {
                    const int col = (tc + cg * TC) * VW;
#if DECODE
                    const floatw vv = LD1(vrow, min(col, (int)Dv - 1));
#else
                    const floatw vv = vloadw(0, VS_ROW(jj) + col);
#endif
#pragma unroll
                    for (int t = 0; t < RT; t++) {
                        const float p = u == 0 ? p4[t].x : u == 1 ? p4[t].y : u == 2 ? p4[t].z : p4[t].w;
                        /* only allowed keys: 0 · inf would be NaN */
                        acc[t][cg] = p != 0.0f ? MAD((floatw)(p), vv, acc[t][cg]) : acc[t][cg];
                    }
                }
            }
        }
    }

    /* l over the row group: RED (the last tile's readers are past the barrier below). */
    barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
    for (int t = 0; t < RT; t++) RED_AT(tr + t * TR, tc) = l[t];
    barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
    for (int t = 0; t < RT; t++) {
        const int r = tr + t * TR;
        float lsum = 0.0f;
#pragma unroll 2
        for (int u4 = 0; u4 < TC / 4; u4++) {
            const float4 x = RED[r * (TC / 4) + u4];
            lsum += (x.x + x.y) + (x.z + x.w);
        }
        l[t] = lsum;
    }

#pragma unroll
    for (int t = 0; t < RT; t++) {
        const long rl = rl0 + tr + t * TR;
        if (rl >= nrr) break; /* rows grow with t */
        const bool has = l[t] != 0.0f;
        if (np == 1) {
            const long rr = rr0 + rl;
            const long i = rr / group;
            const long h = hk * group + (rr - i * group);
            __global ELEM_T *orow = out + o_off + b * o_s0 + h * o_s1 + i * o_s2;
            const float inv = has ? 1.0f / l[t] : 0.0f;
            if (want_lse && tc == 0) lse[l_off + b * l_s0 + h * l_s1 + i * l_s2] = has ? m[t] + log(l[t]) : -INFINITY;
#pragma unroll
            for (int cg = 0; cg < NCG; cg++) {
                float tmp[VW];
                vstorew(has ? acc[t][cg] * inv : (floatw)(0.0f), 0, tmp);
#pragma unroll
                for (int w = 0; w < VW; w++) {
                    const long col = (long)(tc + cg * TC) * VW + w;
                    if (col < Dv) ST1(tmp[w], orow, col * o_s3);
                }
            }
        } else {
            __global float *wp = ws + ((pairl * np + part) * nrr + rl) * (DVP + HDR);
            if (tc == 0) {
                wp[0] = m[t];
                wp[1] = l[t];
                wp[2] = has ? 1.0f : 0.0f;
                wp[3] = 0.0f;
            }
#pragma unroll
            for (int cg = 0; cg < NCG; cg++) vstorew(acc[t][cg], 0, wp + HDR + (tc + cg * TC) * VW);
        }
    }
}

/*
 * clattn_fused_gpu_merge: combines the np key partitions of every row of a chunk (as fused.cl's merge).
 *   M = max over partitions with an allowed key of m_p; w_p = exp(m_p - M);
 *   out = sum_p w_p·acc_p / sum_p w_p·l_p, or 0 when no partition has an allowed key.
 * Launch: local (MWG, 1, 1); global (ceil(Dv / MWG) * MWG, nrr, nbh): one work-item per output element
 * (consecutive work-items read consecutive columns of each partial).
 */
__kernel void clattn_fused_gpu_merge(__global const float *ws, __global ELEM_T *out, long o_off, long o_s0,
                                     long o_s1, long o_s2, long o_s3, long Hkv, long group, long Dv, long bh0,
                                     long rr0, long nrr, int np, int want_lse, __global float *lse, long l_off,
                                     long l_s0, long l_s1, long l_s2, long l_s3)
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
