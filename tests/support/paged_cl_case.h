/*
 * Paged KV cache cases on OpenCL cl_mem buffers (issue #13 item 3), shared by tests/test_paged_cl.c and the
 * Oclgrind runs (tests/reliability/test_oclgrind_cases.c, group "paged"). Public API only.
 *
 * A case builds k/v pools [num_blocks, block_size, Hkv, D] / [.., Dv] (contiguous, or K and V interleaved in
 * one allocation), a shuffled block table whose entries past each sequence's length hold garbage (never read),
 * lengths per sequence (0 and max_blocks·block_size included), and the contiguous [B, Hkv, Lk, D] keys and
 * values the table describes, for the double-precision reference (reference.h). float16 cases round every
 * input to binary16 first, so that the reference sees what the kernels see.
 */
#ifndef CLATTN_TEST_PAGED_CL_CASE_H
#define CLATTN_TEST_PAGED_CL_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "clattn.h"
#include "clattn_opencl.h"
#include "test_util.h"

typedef struct pcase {
    const char *name;
    int64_t B, Hq, Hkv, Lq, D, Dv, bs, maxb; /* bs = kv_block_size; Lk = maxb * bs */
    clattn_causal causal;
    int interleaved; /* K and V rows interleaved in one pool allocation */
    int f16;
    int mask;        /* a bool mask [B, 1, Lq, Lk] */
    int64_t wl;      /* window_left, or -1 */
    int lse;
    int zero_len;    /* sequence 0 has length 0 (sequence B - 1 always has Lk) */
} pcase;

typedef struct pdata {
    clattn_sdpa_desc desc, ref; /* paged; the contiguous equivalent for ref_sdpa */
    int64_t Lk, nb, pool_n, nq, no;
    float *q, *pool, *kc, *vc, *out, *lse;
    uint16_t *q16, *pool16, *out16;
    uint8_t *mask;
    int32_t *table, *lens;
    double *rout, *rlse;
} pdata;

/* Builds case c from r. */
void paged_data_make(pdata *d, const pcase *c, tu_rng *r);
void paged_data_free(pdata *d);
/* Puts entries outside 0..num_blocks-1 into the last sequence's first and last blocks (it holds all max_blocks
 * blocks) and masks their keys in the reference (the OpenCL kernels do not allow them). Cases without a mask. */
void paged_data_break_table(pdata *d, const pcase *c);
/* Plans and runs d on ctx: cl_mem buffers (clattn_sdpa_enqueue_buffers) when enqueue, else host pointers
 * (clattn_sdpa_execute_buffers); the plan's path checked by paged_check_path. Results in d->out, d->lse. */
clattn_status paged_data_run(clattn_context *ctx, pdata *d, const pcase *c, bool enqueue, const tu_where *w);
/* Compares d's results with the reference (TU_TOL_F32; 2e-3 for float16). */
bool paged_data_check(pdata *d, const pcase *c, const tu_where *w);
/* A paged plan's path: CLATTN_TEST_EXPECT_PATH + "-paged" when set (tu_check_plan_path), else one of
 * fused-paged, chain-paged, fused-gpu-paged. */
bool paged_check_path(const clattn_sdpa_plan *plan, const clattn_sdpa_desc *desc, const tu_where *w);
/* clattn_kv_append_enqueue of a fixed problem (5 sequences, 3 kv heads, 7 new rows, D 20, Dv 12, block size 16,
 * K and V interleaved, k_new a permuted view) whose positions and table send some rows nowhere (negative
 * position, an entry of -1, an entry past num_blocks, a position past max_blocks·block_size): the pools must
 * come back with exactly the valid rows written, bit for bit, float32 or float16. */
bool paged_append_check(clattn_context *ctx, bool f16, const tu_where *w);

#endif /* CLATTN_TEST_PAGED_CL_CASE_H */
