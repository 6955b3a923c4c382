/*
 * Random SDPA problems described by a small case struct (sizes, layouts, offsets, masks, options),
 * shared by test_sdpa, test_edges and test_cross_backend: build the desc and buffers, run them on a
 * context, check them against the double-precision reference.
 *
 *   q: [B, Hq, Lq, D]  k: [B|1, Hkv, Lk, D]  v: [B|1, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *   mask: [Bm, Hm, Lqm, Lk]  probs: [B, Hq, Lq, Lk]  lse: [B, Hq, Lq]  kv_lengths: int32 [B]
 * A paged case (kv_block_size != 0) keeps k and v as the logical [B, Hkv, Lk, D|Dv] arrays the reference reads,
 * and executes over pools [num_blocks, kv_block_size, Hkv, D|Dv] holding the same rows in shuffled blocks
 * (num_blocks = B · Lk / kv_block_size + 3; blocks no sequence owns are NaN) through a block table.
 */
#ifndef CLATTN_TEST_SDPA_CASE_H
#define CLATTN_TEST_SDPA_CASE_H

#include "test_util.h"

typedef struct sdpa_case {
    const char *name;
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
    tu_layout lq, lk, lv, lo, lp, lm; /* layouts of q, k, v, out, probs, mask */
    int64_t off_q, off_k, off_v, off_o, off_p, off_m;
    int kv_bcast;        /* k and v have dim 0 = 1 (broadcast over the batch) */
    clattn_causal causal;
    int window;          /* nonzero: window_left/right = wl/wr; else both unbounded */
    int64_t wl, wr;
    clattn_mask_kind mask_kind;
    int mb, mh, mq;      /* mask dims 0/1/2: nonzero = full (B, Hq, Lq), zero = 1 (broadcast) */
    double density;      /* fraction of allowed mask entries (0: 0.75) */
    int kvl;             /* nonzero: kv_lengths [Lk, 0, random...] (B == 1: random in 1..Lk) */
    float softcap, scale;
    int probs;           /* nonzero: want probabilities */
    double in_lo, in_hi; /* q/k/v range (both 0: [-1, 1)) */
    double tol;          /* tolerance against the reference (0: TU_TOL_F32), see sdpa_data_check */
    int lse;             /* nonzero: want the log-sum-exp [B, Hq, Lq] (bound with clattn_sdpa_execute_buffers) */
    tu_layout ll;        /* layout of lse (a 4-D layout of [B, Hq, Lq, 1] with dim 3 dropped) */
    int64_t off_l;
    int64_t kv_block_size; /* nonzero: a paged KV cache of blocks of this many rows (a power of two >= 16 that
                            * divides Lk; needs kvl, as paged plans do; not with kv_bcast); the plan's path gets
                            * "-paged" (test_paged) */
} sdpa_case;

/* A built problem: desc plus host buffers. Outputs are poisoned with TU_POISON_BITS. */
typedef struct sdpa_data {
    clattn_sdpa_desc desc;
    float *q, *k, *v, *out, *probs;
    void *mask;
    int32_t *kvl;
    float *lse;                     /* NULL unless the case wants lse */
    clattn_tensor lse4;             /* desc.lse as a 4-D [B, Hq, Lq, 1] view (for the tu_* checks) */
    int64_t nq, nk, nv, no, np, nm, nl; /* buffer lengths (elements) */
    uint32_t poison;                /* bit pattern of unwritten outputs (TU_POISON_BITS) */
    double tol;                     /* the case's tolerance (TU_TOL_F32 unless it says otherwise) */
    /* paged cases: sdpa_data_run executes desc with kv_layout PAGED and the pools as k and v (sdpa_data_paged_desc) */
    int64_t kv_block_size, num_blocks; /* 0 unless paged */
    float *kpool, *vpool;           /* [num_blocks, kv_block_size, Hkv, D|Dv] (NULL unless paged) */
    int32_t *table;                 /* block_table [B, Lk / kv_block_size]: a random permutation's first entries */
    int64_t nkp, nvp;               /* pool lengths (elements) */
} sdpa_data;

/* Builds desc and random buffers for case c. */
void sdpa_data_make(sdpa_data *d, const sdpa_case *c, tu_rng *r);
/* Builds case c (sdpa_data_make) from the seed of (area, idx) (tu_case_seed); returns where its failures are
 * reported: area, name (c->name when name is NULL), that seed. */
tu_where sdpa_data_make_seeded(sdpa_data *d, const sdpa_case *c, const char *area, int idx, const char *name);
/* New random q/k/v/mask/kv_lengths for the same desc; re-poisons the outputs. */
void sdpa_data_refill(sdpa_data *d, const sdpa_case *c, tu_rng *r);
/* Writes d->poison into every element of out and probs. */
void sdpa_data_poison(sdpa_data *d);
void sdpa_data_free(sdpa_data *d);

/* The desc a paged d executes: d->desc with kv_layout PAGED, its block size and table width, and k / v the pools'
 * contiguous [num_blocks, kv_block_size, Hkv, D|Dv] views. d->desc itself unchanged if d is not paged. */
clattn_sdpa_desc sdpa_data_paged_desc(const sdpa_data *d);

/* Reference result for d: out [B,Hq,Lq,Dv] and probs [B,Hq,Lq,Lk] (C order doubles, malloc'd). */
void sdpa_data_reference(const sdpa_data *d, double **out, double **probs);

/* A 3-D view [d0, d1, d2] in layout l at offset off (tu_tensor of [d0, d1, d2, 1] with dim 3 dropped), and
 * the 4-D [d0, d1, d2, 1] view of a 3-D one (for tu_check_view, tu_extent, tu_index). */
clattn_tensor tu_tensor3(tu_layout l, int64_t d0, int64_t d1, int64_t d2, int64_t off);
clattn_tensor tu_tensor3_as4(const clattn_tensor *t3);
/* Checks d's outputs against the reference (tolerance d->tol, the case's: TU_TOL_F32 unless set), that gap elements of the
 * output buffers are untouched, and (exactly, no tolerance) that a row with no allowed key is 0 in
 * out and probs and that every disallowed key has probability 0. */
bool sdpa_data_check(const sdpa_data *d, const tu_where *w);

/* Runs d on ctx: plan_create + execute + destroy (one_shot: clattn_sdpa). Reports a failure. The plan's
 * path is checked with tu_check_plan_path (a wrong path: CLATTN_ERROR_UNSUPPORTED after the execution). */
clattn_status sdpa_data_run(clattn_context *ctx, sdpa_data *d, int one_shot, const tu_where *w);

/* Makes case c's data from the seed of (area, idx), runs it on ctx (sdpa_data_run) and checks it
 * (sdpa_data_check); true when both succeed (failures are reported with the seed). */
bool sdpa_case_run_checked(clattn_context *ctx, const sdpa_case *c, const char *area, int idx, int one_shot);

/* Multiply-adds of a case (B·Hq·Lq·Lk·(D+Dv)), for scaling work per backend. */
double sdpa_case_cost(const sdpa_case *c);

#endif /* CLATTN_TEST_SDPA_CASE_H */
