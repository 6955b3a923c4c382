/*
 * Fused flash-style SDPA for the host backend (used by backend.c).
 *
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 *   mask: [Bm, Hm, Lqm, Lk], broadcast dims have stride 0 (clattn_sdpa_problem after normalisation)
 *
 * A run packs K (transposed into panels of 2 vector widths of keys) and V (rows padded to a
 * multiple of 16 floats; float32 V that is contiguous along Dv with Dv a multiple of 16 is read in place
 * instead, host_fused_plan.vdirect) once per (b, kv head), in waves that bound the packed size, then runs the
 * attention tasks of the wave. A task is one (b, kv head, block of `bq` query rows) and covers
 * the rows of every query head of that kv group (G = Hq / Hkv heads, M = G·bq rows), so the packed
 * tiles are shared by the group. Keys are walked in BK-aligned blocks of HOST_FUSED_BK from the
 * first to the last key any row of the task may see (kv_lengths, causal and window ranges per row);
 * row groups that see no key of a block are skipped, and within a block only the key panels the
 * group's rows may see are computed. Per block: S = scale·Q·Kᵀ (micro-kernel, 8x32 on AVX-512),
 * then per row softcap, mask, block max, online-softmax rescale (running max m, running sum l,
 * float accumulator), p = exp(s − m) with a vectorised expf, then acc += P·V (micro-kernel; a row
 * group with any p == 0 takes a guarded kernel that never multiplies a V row by a zero weight, so
 * masked V rows never reach the sum). No [Lq, Lk] buffer exists; the rest of the scratch is per
 * thread. NaN handling matches the row-by-row path: NaN scores never win the max, turn into NaN
 * weights and make only their own row NaN; a row with no allowed key outputs zeros.
 *
 * Decode path (Lq <= 4 and G·Lq <= HOST_FUSED_DEC_MAX_ROWS, K and V unit-stride along D / Dv): no
 * packing, since each K/V element would serve only a few rows. A task is one (b, kv head, chunk of
 * dchunk keys) for all G·Lq rows of the group: per block of HOST_FUSED_BK keys, dot products straight
 * from the caller's K rows (each read once for every row; K prefetched ahead, the block's V rows
 * prefetched into L2), the same softmax_row, then P·V from the caller's V rows (guarded as above).
 * Each task writes (m, l, acc) of its chunk; a merge task per (b, kv head) combines the chunks
 * (exp(m_c - max) weights; a chunk with l == 0 saw no allowed key). Keys are split into chunks so
 * that there are about 8 tasks per thread (a single decode query still uses every thread).
 *
 * 16-bit plans (p->data_type F16 / BF16, D <= HOST_FUSED_D16_MAX; host_fused_reads_dtype): the same kernels
 * read the caller's 16-bit arrays (host_fused_args q16, k16, v16, out16): the pack tasks widen K and V into the
 * usual float32 panels, a Q·Kᵀ tile widens its query rows into a stack array, the decode task widens its
 * query rows once and K/V in registers (VCVTPH2PS, or a 16-bit shift for bf16), and out is rounded to nearest
 * even (NaN kept quiet) from the float32 result. No float32 copy of q, k, v or out exists, so the workspace is
 * the float32 plan's. Everything else stays float32.
 *
 * The kernels are compiled three times from fused_kernel.c: portable (plain GCC vector
 * extensions, 4 lanes), AVX2+FMA (8 lanes) and AVX-512F (16 lanes), the last two through
 * `#pragma GCC target` in fused_avx2.c / fused_avx512.c, and chosen at run time with
 * __builtin_cpu_supports (never -march=native). The context's host_isa (option or CLATTN_HOST_ISA) overrides the choice (see
 * host_fused_select_isa).
 */
#ifndef CLATTN_HOST_FUSED_H
#define CLATTN_HOST_FUSED_H

#include "backend.h"
#include "fp16.h" /* common/: binary16 and bfloat16 scalar conversions (16-bit plans read natively) */

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_FUSED_BK 128      /* keys per block (a multiple of every ISA's panel width, 32 max) */
#define HOST_FUSED_ROW_ALIGN 8 /* rows of a task are padded to a multiple of this (>= every R) */
#define HOST_FUSED_DV_ALIGN 16 /* Dv is padded to a multiple of this (>= every vector width) */
#define HOST_FUSED_PACK_KEYS 256 /* keys per packing task (a multiple of HOST_FUSED_BK) */
/* Packed K/V of (b, kv head) pairs are processed in waves that fit this many bytes (at least one
 * pair per wave; a pair needing more than HOST_FUSED_PACK_MAX takes the row-by-row path). */
#ifndef HOST_FUSED_PACK_BUDGET /* (overridable for tests) */
#define HOST_FUSED_PACK_BUDGET ((int64_t)32 << 20)
#endif
#define HOST_FUSED_PACK_MAX ((int64_t)256 << 20)
/* Decode path (few query rows per kv head: Lq <= 4 and Hq / Hkv · Lq <= HOST_FUSED_DEC_MAX_ROWS):
 * no packing; each task streams K and V of one key chunk of one (b, kv head) straight from the
 * caller's arrays (read once for all rows of the group), and a merge combines the chunks. */
#define HOST_FUSED_DEC_MAX_ROWS 16
#define HOST_FUSED_DEC_MIN_CHUNK 512 /* keys per decode task at least (when Lk allows) */
#define HOST_FUSED_DEC_PART_MAX ((int64_t)64 << 20) /* bytes of decode partials at most */
/* 16-bit plans (CLATTN_DTYPE_F16 / _BF16) are read natively (no staging) when D is at most this: query rows
 * are widened per Q·Kᵀ tile (tiled path) or per task (decode) into stack arrays of this many floats per row,
 * so the workspace stays the float32 plan's. */
#define HOST_FUSED_D16_MAX 256

/* Instruction-set variants of the kernels. */
typedef enum host_fused_isa {
    HOST_FUSED_OFF = 0, /* not fused: use the row-by-row host path */
    HOST_FUSED_PORTABLE = 1,
    HOST_FUSED_AVX2 = 2,
    HOST_FUSED_AVX512 = 3,
    /* AVX-512 with AVX512_BF16 (VDPBF16PS): bf16-rounded Q·Kᵀ and P·V operands, float32 accumulation
     * (fused_avx512bf16.c). Only for CLATTN_PRECISION_REDUCED tiled plans, never chosen by the ISA
     * order above: host_fused_make_plan turns it into AVX512 for decode plans (which stay float32). */
    HOST_FUSED_AVX512BF16 = 4
} host_fused_isa;

/* Tiling of one problem and the layout of one thread's scratch (byte offsets, 64-byte aligned). */
typedef struct host_fused_plan {
    host_fused_isa isa;
    int decode;        /* 1: the decode path (fields d*, off_pml, off_pacc), else the tiled one */
    int64_t drows;     /* decode: rows per (b, kv head) = G · Lq */
    int64_t dchunk;    /* decode: keys per task (a multiple of HOST_FUSED_BK) */
    int64_t dn;        /* decode: chunks per (b, kv head) */
    int64_t bq;        /* query rows per head per task */
    int64_t n_qblocks; /* ceil(Lq / bq) */
    int64_t n_tasks;   /* n_qblocks * B * Hkv (over all waves) */
    int64_t rows_max;  /* G * bq rounded up to HOST_FUSED_ROW_ALIGN */
    int64_t dvp;       /* Dv rounded up to HOST_FUSED_DV_ALIGN */
    int64_t kw;        /* keys per packed K panel of this ISA (2 vectors) */
    int64_t lkp;       /* Lk rounded up to HOST_FUSED_BK */
    int64_t n_bh;      /* B * Hkv */
    int64_t wave;      /* (b, kv head) pairs per wave */
    int64_t chunks;    /* pack tasks per pair: ceil(lkp / HOST_FUSED_PACK_KEYS) */
    int vdirect;       /* 1: float32 V with unit stride along Dv, not paged, Dv == dvp: the tasks read V rows in
                        * place (rows v.strides[2] apart) and vpack is empty (the pack tasks copy K only) */
    int self_pack;     /* 1: one query block per pair (n_qblocks == 1), so each task packs its own pair's
                        * K and V first and the wave needs one pool run instead of two (small problems) */
    /* Shared area, packed once per wave by the pack tasks, then read by the wave's tasks:
     *   kpack [wave][lkp / kw][D][kw]  K transposed in panels (keys past Lk' are zero)
     *   vpack [wave][lkp][dvp]         V with rows padded to dvp (keys past Lk' never read) */
    size_t off_kpack, off_vpack, shared_bytes;
    /* Decode path's shared area instead: partial results of every task,
     *   pml  [n_bh][dn][drows][2]    running max m and sum l
     *   pacc [n_bh][dn][drows][dvp]  un-normalised output (relative to m) */
    size_t off_pml, off_pacc;
    /* AVX512BF16 plans (bf16 pairs as uint32 words; dh = ceil(D / 2) pairs per K row, zero-padded):
     *   kpack [wave][lkp / kw][dh][kw]      K panels, one word = (k[j][2t], k[j][2t + 1])
     *   vpack [wave][lkp / 2][dvp]           one word = (v[2u][e], v[2u + 1][e]); keys past Lk' are zero
     *   vbad  [wave][lkp / HOST_FUSED_BK]    bytes: 1 when the block's packed V holds an inf or NaN
     * and per thread qb [rows_max][dh] (the task's query rows rounded to bf16 pairs) and pb
 * [rows_max][HOST_FUSED_BK / 2] (the block's weights P as bf16 pairs of keys). */
    int64_t dh;
    size_t off_vbad, off_qb, off_pb;
    /* Per-thread area after the shared one (offsets relative to the thread's slice). */
    size_t off_s, off_acc, off_m, off_l, off_alpha, off_flag, off_rows;
    size_t thread_bytes;
} host_fused_plan;

/* Arguments of one run (shared read-only by all tasks). */
typedef struct host_fused_args {
    const clattn_sdpa_problem *p;
    const host_fused_plan *fp;
    unsigned char *scratch; /* shared area [0, fp->shared_bytes), then thread t's slice at
                             * fp->shared_bytes + t * fp->thread_bytes */
    const float *q, *k, *v;
    const uint8_t *mask_bool; /* NULL unless mask_kind == BOOL */
    const void *mask_add;     /* NULL unless mask_kind == ADDITIVE: float, or uint16_t binary16 / bfloat16
                               * per p->mask_type (read in place through host_mask_add_row) */
    const int32_t *kv_lengths; /* NULL unless use_kv_lengths */
    const int32_t *block_table; /* NULL unless p->paged: int32 [B, max_blocks] (host_kv_off) */
    float *out;
    float *lse;      /* NULL unless want_lse: each row's m + log(l) (-inf when l == 0) */
    int64_t bh0, nw; /* the current wave: pairs bh0 .. bh0 + nw - 1 (set by host_fused_run) */
    /* 16-bit plans read natively (p->data_type F16 / BF16; then q, k, v and out above are NULL): the caller's
     * arrays, same views. K and V are widened while packing (tiled path) or in the dot products (decode),
     * queries per tile into stack arrays, and out is rounded to nearest even from the float32 result. */
    const uint16_t *q16, *k16, *v16;
    uint16_t *out16;
    bool simd16; /* the decode merge's output rows through the F16C / AVX2 array conversions */
} host_fused_args;

/* lse[b, h, i] = x through the problem's lse view (want_lse); used by every host path. */
static inline void host_store_lse(const clattn_sdpa_problem *p, float *lse, int64_t b, int64_t h, int64_t i, float x)
{
    lse[p->lse.offset + b * p->lse.strides[0] + h * p->lse.strides[1] + i * p->lse.strides[2]] = x;
}

/* The element offset of key (or value) row j of sequence b, kv head hk, in view t (&p->k or &p->v):
 * t.offset + b·t.strides[0] + hk·t.strides[1] + j·t.strides[2] for contiguous [B, Hkv, Lk, D] views; for a
 * paged cache (p->paged: pools [num_blocks, block_size, Hkv, D], internal.h) row j % block_size of block
 * table[b][j / block_size]. Only for keys j < kv_lengths[b] (table entries past them are never read).
 * Rows j .. j + host_kv_run(p, j) - 1 lie host_kv_step(p, t) elements apart (a page holds its rows evenly
 * spaced; the next page may be anywhere). Every host path reaches K and V rows through these three. */
static inline int64_t host_kv_off(const clattn_sdpa_problem *p, const clattn_tensor *t, const int32_t *table,
                                  int64_t b, int64_t hk, int64_t j)
{
    if (!p->paged) return t->offset + b * t->strides[0] + hk * t->strides[1] + j * t->strides[2];
    const int64_t blk = table[b * p->max_blocks + j / p->block_size];
    return t->offset + blk * t->strides[0] + (j & (p->block_size - 1)) * t->strides[1] + hk * t->strides[2];
}
static inline int64_t host_kv_step(const clattn_sdpa_problem *p, const clattn_tensor *t)
{
    return p->paged ? t->strides[1] : t->strides[2];
}
static inline int64_t host_kv_run(const clattn_sdpa_problem *p, int64_t j)
{
    return p->paged ? p->block_size - (j & (p->block_size - 1)) : INT64_MAX / 4;
}

/* Per-row bookkeeping inside a task's scratch. */
typedef struct host_fused_row {
    const float *q;     /* query row, D contiguous floats */
    const void *mask;   /* mask row base (element j at j * mask stride), or NULL */
    int64_t lo, hi;     /* allowed key range from kv_lengths, causal and window */
    const uint16_t *q16; /* 16-bit plans: the query row (q is then NULL until widened) */
} host_fused_row;

/* Adds row m's additive mask (element c at m[c * ms3], of type t: float32, binary16 or bfloat16, each widened
 * exactly to float32) to s[c] for c in [lo, hi); a -inf entry makes the score -inf (disallowed even when s[c]
 * is +inf or NaN). One loop per type, so the float32 loop is the one it always was. The host's only additive
 * mask reader (the fused/decode softmax_block_max and the row-by-row host_scores_finish_row). */
static inline void host_mask_add_row(float *restrict s, const void *m, clattn_dtype t, int64_t ms3, int64_t lo,
                                     int64_t hi)
{
    if (t == CLATTN_DTYPE_F16) {
        const uint16_t *mk = (const uint16_t *)m;
        for (int64_t c = lo; c < hi; c++) {
            const float mv = clattn_half_to_float(mk[c * ms3]);
            s[c] = mv == -INFINITY ? -INFINITY : s[c] + mv;
        }
    } else if (t == CLATTN_DTYPE_BF16) {
        const uint16_t *mk = (const uint16_t *)m;
        for (int64_t c = lo; c < hi; c++) {
            const float mv = clattn_bf16_to_float(mk[c * ms3]);
            s[c] = mv == -INFINITY ? -INFINITY : s[c] + mv;
        }
    } else {
        const float *mk = (const float *)m;
        for (int64_t c = lo; c < hi; c++) {
            const float mv = mk[c * ms3];
            s[c] = mv == -INFINITY ? -INFINITY : s[c] + mv;
        }
    }
}

/* The ISA of the fused kernel for a context's plans: the one cfg->host_isa names, or (AUTO) the widest
 * the CPU runs (by __builtin_cpu_supports). Never HOST_FUSED_OFF: the kernel path decides that. */
host_fused_isa host_fused_select_isa(const clattn_config *cfg);
/* The ISA for a plan of precision `prec` when the context's ISA is `isa`: HOST_FUSED_AVX512BF16 for
 * CLATTN_PRECISION_REDUCED when cfg->host_isa is AUTO (or DEFAULT without CLATTN_HOST_ISA forcing one) and
 * the CPU has AVX512_BF16, AVX512BW and AVX512VL; else `isa` unchanged. */
host_fused_isa host_fused_precision_isa(const clattn_config *cfg, host_fused_isa isa, clattn_precision prec);
/* CLATTN_ERROR_UNSUPPORTED, naming both, when the context's host_isa asks for more than the CPU runs. */
clattn_status host_fused_check_isa(clattn_context *ctx);
const char *host_fused_isa_name(host_fused_isa isa);

/* Whether the fused path handles p: no probabilities, unit stride along D of q and along Dv of
 * out, and at least 4 query rows per kv head (Lq · Hq / Hkv >= 4) unless the decode path takes it
 * (K and V unit-stride); everything else is general. */
bool host_fused_supported(const clattn_sdpa_problem *p);

/* Whether a fused plan fp reads p's data type itself: always for float32; for F16 / BF16 on the portable, AVX2
 * (fp16: with F16C), AVX-512 and AVX512BF16 kernels with D <= HOST_FUSED_D16_MAX (the AVX512BF16 pack widens
 * K and V exactly, then rounds to bf16: bfloat16 data comes through unchanged). The row-by-row path is staged
 * by core. */
bool host_fused_reads_dtype(const clattn_sdpa_problem *p, const host_fused_plan *fp);

/* Fills *fp for p with num_threads workers. Returns false when a size overflows. */
bool host_fused_make_plan(const clattn_sdpa_problem *p, int num_threads, host_fused_isa isa,
                          host_fused_plan *fp);

/* Runs the plan: for each wave, the pack tasks then the attention tasks, on the pool (self_pack plans:
 * the attention tasks only, each packing its own pair first). `a` is filled except bh0/nw. */
struct host_pool;
void host_fused_run(struct host_pool *pool, host_fused_args *a);

/* Task functions of one ISA for host_pool_run (arg is a host_fused_args): nw·chunks pack tasks,
 * then n_qblocks·nw attention tasks per wave; or (decode plans) n_bh·dn decode tasks. */
typedef void (*host_fused_task_fn)(void *arg, int64_t task, int thread_idx);
typedef struct host_fused_kernels {
    host_fused_task_fn pack, attend, decode;
} host_fused_kernels;
host_fused_kernels host_fused_kernels_for(host_fused_isa isa);

/* One instance per ISA (fused_kernel.c, fused_avx2.c, fused_avx512.c). */
void host_fused_pack_portable(void *arg, int64_t task, int thread_idx);
void host_fused_task_portable(void *arg, int64_t task, int thread_idx);
void host_fused_decode_portable(void *arg, int64_t task, int thread_idx);
#if defined(__x86_64__) && defined(__GNUC__)
#define HOST_FUSED_HAVE_X86 1
void host_fused_pack_avx2(void *arg, int64_t task, int thread_idx);
void host_fused_task_avx2(void *arg, int64_t task, int thread_idx);
void host_fused_decode_avx2(void *arg, int64_t task, int thread_idx);
void host_fused_pack_avx512(void *arg, int64_t task, int thread_idx);
void host_fused_task_avx512(void *arg, int64_t task, int thread_idx);
void host_fused_decode_avx512(void *arg, int64_t task, int thread_idx);
/* fused_avx512bf16.c: the bf16 pack and tiled task (decode plans take the AVX512 ISA). */
void host_fused_pack_avx512bf16(void *arg, int64_t task, int thread_idx);
void host_fused_task_avx512bf16(void *arg, int64_t task, int thread_idx);
#endif

#endif /* CLATTN_HOST_FUSED_H */
