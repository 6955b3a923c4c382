/*
 * The one case table of clattn's tests and benchmark (cases.c), CLBlast style: every SDPA problem is a
 * named row, and the tags of a row say which suites run it.
 *
 * A row (case_row):
 *   c          the problem, as tests/support/sdpa_case.h describes it: name; sizes B, Hq, Hkv, Lq, Lk, D, Dv;
 *              layouts and offsets of q, k, v, out, probs, mask (TU_CONTIG, TU_BLHD, TU_PAD, ...); k/v
 *              broadcast over the batch; causal kind; window; mask kind, broadcast dims and density;
 *              kv_lengths; softcap; scale; probabilities wanted; input range; paged KV cache block size
 *              (kv_block_size, paged rows only); dtype (float32 here;
 *              the f16 rows run as binary16 in test_f16); tol, the tolerance of the comparison with the
 *              double-precision reference (0 = TU_TOL_F32: max |got - ref| <= 1e-5 * max(1, max |ref|)).
 *   tags       CASE_* bits below: the suites that run the row.
 *   tweak      (edges rows) the name of the input edit test_edges applies after the random fill.
 *   poison     (edges rows) the bit pattern written into the outputs first (0: TU_POISON_BITS).
 *   causal_too (bench rows) clattn-bench also times the row with bottom-right causal masking.
 *
 * Tags and what they drive:
 *   sdpa             test_sdpa (every backend and kernel path)
 *   edges            test_edges (each row twice: as listed and without probabilities)
 *   f16              test_f16 (binary16 q, k, v, out)
 *   cross-backend    test_cross_backend (every backend present, compared with each other)
 *   oclgrind-sizes, oclgrind-masks, oclgrind-long, oclgrind-chunks, oclgrind-lse
 *                    the groups of reliability/test_oclgrind_cases (under the Oclgrind simulator)
 *   threads          reliability/test_threads (SDPA and MHA rows)
 *   mha, oclgrind-mha  (MHA rows, the second table) test_mha and the oclgrind mha group
 *   multi            test_multi (multi-device contexts; it also runs the cross-backend rows)
 *   lse              test_lse (the log-sum-exp output, want_lse, on every backend and kernel path)
 *   bench-merge      clattn-bench-merge: the row's keys split into parts, attended and merged (clattn_merge_*)
 *   precision        test_precision (CLATTN_PRECISION_REDUCED against FP32 and the double reference)
 *   mask16           test_mask16 (additive masks in binary16 and bfloat16, clattn_sdpa_desc.mask_data_type:
 *                    each row twice, against the reference and bit for bit against the float32-mask plan)
 *   paged            test_paged (the row's K/V in a paged KV cache: kv_block_size, see sdpa_case.h)
 *   bench-paged      clattn-bench-paged's decode and chunked-prefill shapes (--tiny: the rows named *_tiny)
 *   bench-default    clattn-bench's default grid; bench-quick: its --quick subset; bench-tiny: the row
 *                    the bench.tiny CTest test times (so the benchmark's tolerance check runs in CI)
 * `clattn-bench --list-cases --json` prints every row (one JSON object per line); bench/peers ask it.
 *
 * Seeds: a suite seeds the n-th row carrying its tag with tu_case_seed(<area>, n), so appending a row to
 * the end of a suite's block changes no other case's data. A name is unique within a tag.
 */
#ifndef CLATTN_TEST_CASES_H
#define CLATTN_TEST_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "mha_case.h"
#include "sdpa_case.h"

enum case_tag {
    CASE_SDPA = 1u << 0,
    CASE_EDGES = 1u << 1,
    CASE_F16 = 1u << 2,
    CASE_CROSS = 1u << 3,
    CASE_OCL_SIZES = 1u << 4,
    CASE_OCL_MASKS = 1u << 5,
    CASE_OCL_LONG = 1u << 6,
    CASE_OCL_CHUNKS = 1u << 7,
    CASE_THREADS = 1u << 8,
    CASE_MHA = 1u << 9,
    CASE_OCL_MHA = 1u << 10,
    CASE_BENCH_DEFAULT = 1u << 11,
    CASE_BENCH_QUICK = 1u << 12,
    CASE_BENCH_TINY = 1u << 13,
    CASE_MULTI = 1u << 14,
    CASE_LSE = 1u << 15,
    CASE_OCL_LSE = 1u << 16,
    CASE_BENCH_MERGE = 1u << 17,
    CASE_PRECISION = 1u << 18,
    CASE_MASK16 = 1u << 19,
    CASE_PAGED = 1u << 20,
    CASE_BENCH_PAGED = 1u << 21,
};

/* 2^100 (about 1.27e30): the scale of the edges rows whose logits reach +-1e30 exactly. */
#define P2_100 1.2676506002282294e30f

typedef struct case_row {
    sdpa_case c;
    unsigned tags;
    const char *tweak;
    uint32_t poison;
    int causal_too;
} case_row;

typedef struct mha_row {
    mha_case c;
    unsigned tags;
} mha_row;

extern const case_row case_rows[];
extern const size_t case_row_count;
extern const mha_row mha_rows[];
extern const size_t mha_row_count;

/* The rows carrying tag, in table order: stores up to cap pointers in out, returns how many there are. */
size_t case_rows_tagged(unsigned tag, const case_row **out, size_t cap);
size_t mha_rows_tagged(unsigned tag, const mha_case **out, size_t cap);
/* "sdpa", "bench-default", ... for one CASE_* bit (NULL if unknown), and back (0 if unknown). */
const char *case_tag_name(unsigned tag);
unsigned case_tag_from_name(const char *name);

#endif /* CLATTN_TEST_CASES_H */
