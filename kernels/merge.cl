/*
 * merge.cl — merge of partial attention states (clattn_merge_* in clattn.h; src/opencl/merge.c launches it):
 * P results of attention over disjoint key subsets of the same query rows, each an output row and its
 * log-sum-exp, combined into the result over the union of the subsets (FlashInfer merge_states).
 *
 *   parts_out: [P, B, H, L, Dv]   parts_lse: float [P, B, H, L]   out: [B, H, L, Dv]   lse: float [B, H, L]
 *   parts_out and out are float, or binary16 (half pointers, vload_half / vstore_half_rte: core OpenCL 1.2,
 *   no cl_khr_fp16) with -D MERGE_DTYPE=1, or bfloat16 (ushort bits, common.cl's clattn_bf16_bits_to_f32 /
 *   clattn_f32_to_bf16_bits: round to nearest even) with -D MERGE_DTYPE=2. Strides and offsets in ELEMENTS; index products in long. lse is
 *   passed as a 4-D view [B, H, L, 1] (l_s3 unused).
 *
 * Per row r = (b, h, i), over the parts with lse_p != -inf: M = max lse_p; w_p = exp(lse_p - M);
 *   out = sum_p w_p·out_p / sum_p w_p;  lse = M + log(sum_p w_p).
 * A part with lse_p = -inf saw no allowed key: weight 0 and its out row is never read. No such part at all:
 * out = 0, lse = -inf. A NaN lse_p makes the row's out and lse NaN (no other row's).
 *
 * Launch (clattn_merge): local (WG, 1, 1) (required), global (ceil(nrows / WG) * WG, 1, 1): one work-item per
 * row, rows r0 .. r0 + nrows - 1 in C order of (b, h, i), each walking its Dv columns. (A work-group per row
 * with work-items over Dv took PoCL 304 ms for 32768 rows of 64 columns and 4 parts; this layout with the
 * weights in registers 24 ms, both including clattn_merge_execute's copies; clattn-bench-merge on a loaded
 * 2-core machine.) In place: out may be exactly one part's slice and lse one part's lse: only the work-item of
 * a row reads or writes that row, and it reads every input of the row before it writes its lse (no barrier).
 * Build options: -D WG (a power of two), -D MERGE_DTYPE (0 float32, 1 binary16, 2 bfloat16: clattn_dtype), -D NP (P when it is at most 16: the weights are
 * computed once per row into registers; 0: P read at run time, each weight recomputed per column).
 */
#ifndef MERGE_DTYPE
#define MERGE_DTYPE 0
#endif
#ifndef NP
#define NP 0
#endif
#if MERGE_DTYPE == 1
#define ELEM half
#define LOADE(p, x) vload_half(0, (p) + (x))
#define STOREE(v, p, x) vstore_half_rte((v), 0, (p) + (x))
#elif MERGE_DTYPE == 2
#define ELEM ushort
#define LOADE(p, x) clattn_bf16_bits_to_f32((p)[x])
#define STOREE(v, p, x) ((p)[x] = clattn_f32_to_bf16_bits(v))
#else
#define ELEM float
#define LOADE(p, x) ((p)[x])
#define STOREE(v, p, x) ((p)[x] = (v))
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void clattn_merge(__global const ELEM *po, long po_off, long po_s0, long po_s1, long po_s2, long po_s3, long po_s4,
                  __global const float *pl, long pl_off, long pl_s0, long pl_s1, long pl_s2, long pl_s3,
                  __global ELEM *out, long o_off, long o_s0, long o_s1, long o_s2, long o_s3,
                  int want_lse, __global float *lse, long l_off, long l_s0, long l_s1, long l_s2, long l_s3,
                  long P, long H, long L, long Dv, long r0, long nrows)
{
    const long rl = (long)get_global_id(0);
    if (rl >= nrows) return;
    const long r = r0 + rl;
    const long bh = r / L;
    const long i = r - bh * L; /* not %: see convert.cl */
    const long b = bh / H;
    const long h = bh - b * H;
    __global const float *lrow = pl + pl_off + b * pl_s1 + h * pl_s2 + i * pl_s3;

    float M = -INFINITY;
    int nan_row = 0, any = 0;
    for (long p = 0; p < P; p++) {
        const float x = lrow[p * pl_s0];
        if (x != x) {
            nan_row = 1;
        } else if (x != -INFINITY) {
            any = 1;
            M = fmax(M, x);
        }
    }
    const int live = any && !nan_row;
    float S = 0.0f;
    if (live)
        for (long p = 0; p < P; p++) {
            const float x = lrow[p * pl_s0];
            if (x != -INFINITY) S += exp(x - M); /* M = +inf: NaN, as the row's attention is */
        }
    const float inv = live ? 1.0f / S : 0.0f;
    const float L_out = nan_row ? NAN : live ? M + log(S) : -INFINITY;

    const long ob = o_off + b * o_s0 + h * o_s1 + i * o_s2;
    const long pb = po_off + b * po_s1 + h * po_s2 + i * po_s3;
#if NP > 0
    /* P = NP known at build time: the weights once per row, in registers (loops over parts unrolled) */
    float w[NP];
    int use[NP]; /* lse_p != -inf: only those out rows are read */
#pragma unroll
    for (int p = 0; p < NP; p++) {
        const float x = lrow[p * pl_s0];
        use[p] = x != -INFINITY;
        w[p] = use[p] ? exp(x - M) : 0.0f;
    }
    for (long e = 0; e < Dv; e++) {
        float acc = nan_row ? NAN : 0.0f;
        if (live)
#pragma unroll
            for (int p = 0; p < NP; p++)
                if (use[p]) acc += w[p] * LOADE(po, pb + p * po_s0 + e * po_s4);
        STOREE(acc * inv, out, ob + e * o_s3);
    }
#else
    for (long e = 0; e < Dv; e++) {
        float acc = nan_row ? NAN : 0.0f;
        if (live)
            for (long p = 0; p < P; p++) {
                const float x = lrow[p * pl_s0];
                if (x != -INFINITY) acc += exp(x - M) * LOADE(po, pb + p * po_s0 + e * po_s4);
            }
        STOREE(acc * inv, out, ob + e * o_s3);
    }
#endif
    if (want_lse) lse[l_off + b * l_s0 + h * l_s1 + i * l_s2] = L_out; /* after every read of the row's inputs */
}
