/*
 * weighted_sum.cl — stage 3 of the SDPA chain: out = P · V for a chunk of (batch, head) pairs.
 *
 *   out[b, h, i, c] = sum over j in [lo(i), hi(i)) with P[bhl, r, j] != 0 of P[bhl, r, j] * v[b, h / group, j, c]
 *   bh = bh0 + bhl, b = bh / Hq, h = bh % Hq, i = i0 + r (0 <= r < nrows), 0 <= c < Dv.
 * P is the dense probability workspace [nbh, nrows, Lk] written by softmax.cl. Terms with p == 0
 * (disallowed keys) are skipped with a select, so a masked V value of inf/NaN never reaches the sum;
 * a row with no allowed key gets 0. v and out are addressed through element strides (s0..s3) and offsets.
 *
 * Launch: local size (WG_N, WG_M, 1) (required), global size
 *   (ceil(Dv / TN) * WG_N, ceil(nrows / TM) * WG_M, nbh), TM = WG_M * WPT_M rows, TN = WG_N * VW columns.
 * Each work-item accumulates WPT_M rows x VW consecutive columns in floatv registers. Keys are walked in
 * chunks of TK through local memory (P tile transposed, V tile), with a barrier before and after each
 * chunk is used; only the tile's structural key range [lo(first row), hi(last row)) is visited.
 * One launch covers keys [kbeg, kend) only: the host splits long key ranges over several launches
 * (accumulate = 0 for the first, which writes out; 1 for the others, which add to it) so that no
 * work-item runs more loop iterations than Mesa llvmpipe allows (65535 shared by all loops, after which
 * it silently leaves them).
 * Build options: -D WG_M -D WG_N -D WPT_M -D VW -D TK; -D ELEM16 (1 binary16, 2 bfloat16: v and out are 16-bit
 * arrays read and written in place through common.cl's LD1 / ST1; P stays float32). A 16-bit build takes three
 * more arguments (psum, psum_off, last): when the keys take several launches, the partial sums stay float32 in
 * psum[psum_off + (bhl * nrows + r) * Dv + c] (the plan's workspace after S, [nbh, nrows, Dv]) and only the
 * launch with last = 1 rounds the total into out, once (a single launch: accumulate 0, last 1, psum unused).
 */
#define TM (WG_M * WPT_M)
#define TN (WG_N * VW)
#if ELEM16
#define WSUM_ACC_ARGS , __global float *psum, long psum_off, int last
#else
#define WSUM_ACC_ARGS
#endif

__kernel __attribute__((reqd_work_group_size(WG_N, WG_M, 1)))
void clattn_weighted_sum(__global const float *P,
                         __global const ELEM_T *v, long v_off, long v_s0, long v_s1, long v_s2, long v_s3,
                         __global ELEM_T *out, long o_off, long o_s0, long o_s1, long o_s2, long o_s3,
                         __global const int *kv_lengths, int use_kv_lengths,
                         long Hq, long group, long Lq, long Lk, long Dv,
                         long bh0, long i0, long nrows, long kbeg, long kend, int accumulate,
                         int causal, long wl, long wr WSUM_ACC_ARGS CLATTN_PAGED_ARGS)
{
    __local float Ps[TK][TM]; /* Ps[j][r]: probabilities of the tile rows, transposed */
    __local float Vs[TK][TN]; /* Vs[j][c]: v rows of the key chunk */

    const int tx = (int)get_local_id(0);
    const int ty = (int)get_local_id(1);
    const long bhl = (long)get_group_id(2);
    const long bh = bh0 + bhl;
    const long b = bh / Hq;
    const long h = bh - b * Hq; /* not %: a div/rem pair becomes an LLVM "freeze" that oclgrind cannot check */
    const long hk = h / group;
    const long r0 = (long)get_group_id(1) * TM;
    const long c0 = (long)get_group_id(0) * TN;
    const long lkv = clattn_kv_len(kv_lengths, use_kv_lengths, b, Lk);
    const long rlast = min(r0 + TM, nrows) - 1;
    const long jlo = max(clattn_key_lo(i0 + r0, Lq, lkv, wl), kbeg);
    const long jhi = min(clattn_key_hi(i0 + rlast, Lq, lkv, causal, wr), min(Lk, kend));

    floatv acc[WPT_M];
    for (int m = 0; m < WPT_M; m++) acc[m] = (floatv)(0.0f);

    __global const float *Pb = P + (bhl * nrows + r0) * Lk;
    CLATTN_BT_ROW(); /* paged V: the sequence's block-table row (common.cl) */
    __global const ELEM_T *vb = v + v_off + CLATTN_KV_HEAD(v_s0, v_s1, v_s2);
    for (long j0 = jlo; j0 < jhi; j0 += TK) {
        /* Neighbouring work-items read neighbouring keys of P and neighbouring columns of V. */
        for (int r = ty; r < TM; r += WG_M) {
            for (int jj = tx; jj < TK; jj += WG_N) {
                float x = 0.0f;
                if (r0 + r < nrows && j0 + jj < jhi) x = Pb[r * Lk + j0 + jj];
                Ps[jj][r] = x;
            }
        }
        for (int jj = ty; jj < TK; jj += WG_M) {
            for (int c = tx; c < TN; c += WG_N) {
                float x = 0.0f;
                if (j0 + jj < jhi && c0 + c < Dv) x = LD1(vb, CLATTN_KV_ROW(j0 + jj, v_s0, v_s1, v_s2) + (c0 + c) * v_s3);
                Vs[jj][c] = x;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int jj = 0; jj < TK; jj++) {
            const floatv vv = vloadv(0, &Vs[jj][tx * VW]);
            for (int m = 0; m < WPT_M; m++) {
                const float p = Ps[jj][ty * WPT_M + m];
                acc[m] += (p != 0.0f) ? p * vv : (floatv)(0.0f);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    __global ELEM_T *ob = out + o_off + b * o_s0 + h * o_s1;
    for (int m = 0; m < WPT_M; m++) {
        const long r = r0 + ty * WPT_M + m;
        if (r >= nrows) break;
        float vals[VW];
        vstorev(acc[m], 0, vals);
        for (int c = 0; c < VW; c++) {
            const long col = c0 + tx * VW + c;
            if (col >= Dv) break;
#if ELEM16
            __global float *a = psum + psum_off + (bhl * nrows + r) * Dv + col; /* float32 partial sums */
            const float x = accumulate ? *a + vals[c] : vals[c];
            if (last) ST1(x, ob, (i0 + r) * o_s2 + col * o_s3);
            else *a = x;
#else
            __global float *o = ob + (i0 + r) * o_s2 + col * o_s3;
            *o = accumulate ? *o + vals[c] : vals[c];
#endif
        }
    }
}
