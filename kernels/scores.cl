/*
 * scores.cl — stage 1 of the SDPA chain: masked, scaled scores of a chunk of (batch, head) pairs.
 *
 *   S[bhl, r, j] = softcap(dot(q[b, h, i, :], k[b, h / group, j, :]) * scale) + additive_mask[b, h, i, j]
 *                  if key j is allowed for query i, else -INFINITY
 *   where bh = bh0 + bhl, b = bh / Hq, h = bh % Hq, i = i0 + r (0 <= r < nrows), 0 <= j < Lk.
 *   softcap(x) = softcap * tanh(x / softcap) when softcap > 0, else x. "Allowed" = inside
 *   [clattn_key_lo, clattn_key_hi) (kv length, causal, window; common.cl) and, for a bool mask, mask != 0,
 *   for an additive mask, mask != -inf.
 *
 * S (the workspace) is a dense float array [nbh, nrows, Lk]. q, k and mask are read through their
 * element strides (s0..s3 for dims 0..3) and element offsets; a mask dim of size 1 has stride 0.
 * The mask buffer is uchar for bool masks; additive ones are float, half or bfloat16 per the build option
 * CLATTN_MASK16, read through common.cl clattn_mask_add_at.
 *
 * Launch: 2-D tiles per (b, h): local size (WG_N, WG_M, 1) (required), global size
 *   (ceil(Lk / TN) * WG_N, ceil(nrows / TM) * WG_M, nbh), TM = WG_M * WPT_M rows, TN = WG_N * VW keys.
 * Each work-item computes WPT_M rows x VW consecutive keys with floatv accumulators (explicit vectors:
 * PoCL does not vectorise loop-carrying kernels across work-items). D is walked in chunks of TK through
 * local memory, with a barrier before and after each chunk is used. A tile whose keys all lie outside
 * the rows' structural key range skips the dot products (uniformly for the whole work-group).
 * One launch sums d in [dbeg, dend) only. For very large D the host splits the dot products over several
 * launches (Mesa llvmpipe leaves every loop once a work-item has run 65535 iterations in total):
 * mode bit 0 (CLATTN_SCORES_ADD) adds the partial sums already in S, bit 1 (CLATTN_SCORES_FINAL) applies
 * scale, softcap and mask; launches without FINAL store raw partial sums. One launch: mode = FINAL.
 * Build options: -D WG_M -D WG_N -D WPT_M -D VW -D TK; -D ELEM16 (1 binary16, 2 bfloat16: q and k are 16-bit
 * arrays read in place through common.cl's LD1; S stays float32).
 */
#define CLATTN_SCORES_ADD 1
#define CLATTN_SCORES_FINAL 2
#define TM (WG_M * WPT_M)
#define TN (WG_N * VW)

__kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1)))
void clattn_scores(__global const ELEM_T *q, long q_off, long q_s0, long q_s1, long q_s2, long q_s3,
                   __global const ELEM_T *k, long k_off, long k_s0, long k_s1, long k_s2, long k_s3,
                   __global const uchar *mask, long m_off, long m_s0, long m_s1, long m_s2, long m_s3,
                   int mask_kind,
                   __global const int *kv_lengths, int use_kv_lengths,
                   __global float *S,
                   long Hq, long group, long Lq, long Lk, long D,
                   long bh0, long i0, long nrows, long dbeg, long dend, int mode,
                   float scale, float softcap, int causal, long wl, long wr CLATTN_PAGED_ARGS)
{
    __local float Qs[TK][TM]; /* Qs[d][r]: q rows of the tile, transposed */
    __local float Ks[TK][TN]; /* Ks[d][c]: k rows of the tile, transposed */

    const int tx = (int)get_local_id(0);
    const int ty = (int)get_local_id(1);
    const long bhl = (long)get_group_id(2);
    const long bh = bh0 + bhl;
    const long b = bh / Hq;
    const long h = bh - b * Hq; /* not %: a div/rem pair becomes an LLVM "freeze" that oclgrind cannot check */
    const long hk = h / group;
    const long r0 = (long)get_group_id(1) * TM; /* first row of the tile, chunk-relative */
    const long j0 = (long)get_group_id(0) * TN; /* first key of the tile */
    const long lkv = clattn_kv_len(kv_lengths, use_kv_lengths, b, Lk);
    CLATTN_BT_ROW(); /* paged K: the sequence's block-table row (common.cl) */
    const long rlast = min(r0 + TM, nrows) - 1;
    const long tile_lo = clattn_key_lo(i0 + r0, Lq, lkv, wl);
    const long tile_hi = clattn_key_hi(i0 + rlast, Lq, lkv, causal, wr);
    const bool skip = (j0 >= tile_hi) || (j0 + TN <= tile_lo);

    floatv acc[WPT_M];
    for (int m = 0; m < WPT_M; m++) acc[m] = (floatv)(0.0f);

    if (!skip) {
        __global const ELEM_T *qb = q + q_off + b * q_s0 + h * q_s1;
        __global const ELEM_T *kb = k + k_off + CLATTN_KV_HEAD(k_s0, k_s1, k_s2);
        const long kend_ld = CLATTN_KV_END(lkv, Lk);
        for (long d0 = dbeg; d0 < dend; d0 += TK) {
            /* Neighbouring work-items read neighbouring d (contiguous when the stride of D is 1). */
            for (int r = ty; r < TM; r += WG_M) {
                for (int dd = tx; dd < TK; dd += WG_N) {
                    const long d = d0 + dd;
                    float x = 0.0f;
                    if (r0 + r < nrows && d < dend) x = LD1(qb, (i0 + r0 + r) * q_s2 + d * q_s3);
                    Qs[dd][r] = x;
                }
            }
            for (int c = ty; c < TN; c += WG_M) {
                for (int dd = tx; dd < TK; dd += WG_N) {
                    const long d = d0 + dd;
                    float x = 0.0f;
                    if (j0 + c < kend_ld && d < dend) x = LD1(kb, CLATTN_KV_ROW(j0 + c, k_s0, k_s1, k_s2) + d * k_s3);
                    Ks[dd][c] = x;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int dd = 0; dd < TK; dd++) {
                const floatv kv = vloadv(0, &Ks[dd][tx * VW]);
                for (int m = 0; m < WPT_M; m++) acc[m] += Qs[dd][ty * WPT_M + m] * kv;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }

    __global float *Sb = S + bhl * nrows * Lk;
    for (int m = 0; m < WPT_M; m++) {
        const long r = r0 + ty * WPT_M + m;
        if (r >= nrows) break;
        const long i = i0 + r;
        const long lo = clattn_key_lo(i, Lq, lkv, wl);
        const long hi = clattn_key_hi(i, Lq, lkv, causal, wr);
        const long mrow = m_off + b * m_s0 + h * m_s1 + i * m_s2;
        float vals[VW];
        vstorev(acc[m], 0, vals);
        for (int c = 0; c < VW; c++) {
            const long j = j0 + tx * VW + c;
            if (j >= Lk) break;
            float x = vals[c];
            if (mode & CLATTN_SCORES_ADD) x += Sb[r * Lk + j];
            if (!(mode & CLATTN_SCORES_FINAL)) {
                Sb[r * Lk + j] = x;
                continue;
            }
            float s = -INFINITY;
#if CLATTN_PAGED
            if (j >= lo && j < hi && CLATTN_KV_OK(j)) { /* paged: a bad block-table entry's keys are not allowed */
#else
            if (j >= lo && j < hi) {
#endif
                s = x * scale;
                if (softcap > 0.0f) s = softcap * tanh(s / softcap);
                if (mask_kind == CLATTN_MASK_BOOL) {
                    if (mask[mrow + j * m_s3] == 0) s = -INFINITY;
                } else if (mask_kind == CLATTN_MASK_ADDITIVE) {
                    const float mv = clattn_mask_add_at(mask, mrow + j * m_s3);
                    s = (mv == -INFINITY) ? -INFINITY : s + mv;
                }
            }
            Sb[r * Lk + j] = s;
        }
    }
}
