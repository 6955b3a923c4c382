/*
 * Helpers shared by the clattn tests: a seeded RNG, tensor layouts, poisoned buffers, comparison
 * against the double-precision reference with a stated tolerance, gap checks, and the context of
 * the backend under test (CLATTN_DEVICE; exit 77 when that backend is absent).
 *
 * Seeds: every test derives its case seeds from tu_base_seed() (CLATTN_TEST_SEED, else a fixed
 * default so runs are reproducible); a failure prints the base seed, the case seed and the case.
 */
#ifndef CLATTN_TEST_UTIL_H
#define CLATTN_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clattn_opencl.h" /* the OpenCL interop too: tests drive cl_mem paths; includes clattn.h */

/* Tolerance for float32 results against the double reference:
 *   max |got - ref| <= TU_TOL_F32 * max(1, max |ref|)   over every element of the view.
 * NaN matches only NaN. */
#define TU_TOL_F32 1e-5

/* Exit code that CTest reads as "skipped" (SKIP_RETURN_CODE). */
#define TU_SKIP 77

/* ---- RNG (splitmix64) ---------------------------------------------------------------------- */

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

/* CLATTN_TEST_SEED (decimal or 0x hex) if set, else a fixed default. */
uint64_t tu_base_seed(void);
/* A seed for case number idx of a test area, derived from the base seed. */
uint64_t tu_case_seed(const char *area, int idx);
void tu_rng_init(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
/* Uniform in [lo, hi). */
double tu_rng_uniform(tu_rng *r, double lo, double hi);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t tu_rng_int(tu_rng *r, int64_t lo, int64_t hi);

/* ---- the backend under test ---------------------------------------------------------------- */

typedef enum tu_backend { TU_HOST, TU_POCL, TU_RUSTICL, TU_OTHER_CL } tu_backend;

/* Creates a context from CLATTN_DEVICE (opts NULL). On CLATTN_ERROR_DEVICE_NOT_FOUND prints the
 * reason and exits TU_SKIP; on any other failure prints it and exits 1. Prints the device. Fails
 * (exit 1) when a non-"host" selector silently gave the host path. */
clattn_context *tu_open_context_or_skip(void);
tu_backend tu_backend_of(const clattn_context *ctx);

const char *tu_backend_name(tu_backend b);

/* ---- tensors and buffers ------------------------------------------------------------------- */

typedef enum tu_layout {
    TU_CONTIG = 0, /* C order [d0, d1, d2, d3] */
    TU_BLHD,       /* memory order [d0, d2, d1, d3]: a [B, L, H, D] array viewed as [B, H, L, D] */
    TU_PAD,        /* C order with padding after every row, head and batch (gaps) */
    TU_BLHD_PAD,   /* [B, L, H, D] memory order with padding (gaps) */
    TU_HBLD,       /* memory order [d1, d0, d2, d3] */
    TU_COLSTRIDE,  /* last dim with stride 2, plus row padding (gaps) */
    TU_LAYOUT_COUNT
} tu_layout;

const char *tu_layout_name(tu_layout l);
/* A view of dims [d0..d3] in layout l at element offset off. Strides of size-1 dims are set to
 * junk (they must be ignored). */
clattn_tensor tu_tensor(tu_layout l, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t off);
/* Elements a view reaches (offset + sum (dims-1)*strides + 1; strides of size-1 dims ignored). */
int64_t tu_extent(const clattn_tensor *t);
/* Element index of (i0, i1, i2, i3) in a view (size-1 dims index 0). */
int64_t tu_index(const clattn_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3);
int64_t tu_numel(const clattn_tensor *t);

/* Poison written into outputs before every call: a NaN with a recognisable payload. */
#define TU_POISON_BITS 0x7fc0deadu
float tu_poison_value(void);
/* Fills n floats with the bit pattern bits. */
void tu_fill_bits(float *p, int64_t n, uint32_t bits);
/* malloc(n) (n 0 counts as 1) that exits(1) with a message when memory runs out. */
void *tu_xmalloc(size_t n);
/* malloc'd float buffer of n (>= 1) elements filled with the bit pattern bits. */
float *tu_alloc_bits(int64_t n, uint32_t bits);
/* An input buffer for view t: elements of the view uniform in [lo, hi), every gap element (not in
 * the view) NaN so that a read outside the view shows. *n receives the buffer length. */
float *tu_make_input(tu_rng *r, const clattn_tensor *t, double lo, double hi, int64_t *n);
/* A read-write cl_mem of bytes bytes on context cc, a copy of src when src is not NULL; exits(1) with
 * clCreateBuffer's error when it fails (the tests that drive clattn_sdpa_enqueue*). */
cl_mem tu_cl_mem(cl_context cc, size_t bytes, const void *src);

/* ---- checks ------------------------------------------------------------------------------- */

/* Identifies a case in failure messages. */
typedef struct tu_where {
    const char *area;
    const char *name;
    uint64_t seed;
} tu_where;

/* Compares the float view t of buf with ref (C order over t's dims, doubles) within
 *   max |got - ref| <= tol * max(1, max |ref|)
 * NaN matches NaN only. On failure prints what, the worst index, both values, the error, the bound,
 * the seed and the case; returns false. */
bool tu_check_view(const tu_where *w, const char *what, const float *buf, const clattn_tensor *t,
                   const double *ref, double tol);
/* Same for a contiguous array of n floats. */
bool tu_check_array(const tu_where *w, const char *what, const float *got, const double *ref, int64_t n,
                    double tol);
/* Checks that every element of buf[0..n) outside view t still has the bit pattern bits. */
bool tu_check_gaps(const tu_where *w, const char *what, const float *buf, int64_t n, const clattn_tensor *t,
                   uint32_t bits);
/* Prints a failure line with the seed and case. */
void tu_report(const tu_where *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the kernel path a plan took ----------------------------------------------------------- */

/* CLATTN_TEST_EXPECT_PATH, set by tests/CMakeLists.txt for the path-named tests (<area>.host_avx512,
 * .host_avx2, .host_portable, .host_off, .pocl_chain), names the path the test promises:
 *   host-fused-<isa>  every plan the fused host kernel takes for sure (no probabilities, q and out unit
 *                     stride along D / Dv, at least 4 query rows per kv head) must report exactly that;
 *                     the others report it or "host-rowwise". An ISA the CPU lacks (__builtin_cpu_supports)
 *                     makes tu_open_context_or_skip exit TU_SKIP: never a pass on another kernel.
 *   fused-gpu         (OpenCL under CLATTN_DEVICE_PROFILE) every plan without probabilities with D, Dv <= 256
 *                     must report exactly that; the others "chain".
 *   host-rowwise, chain  every plan must report exactly that.
 * A paged plan (desc.kv_layout CLATTN_KV_PAGED) must report the same path plus "-paged" (and only it).
 * Unset: the path must be one clattn.h documents for the backend ("chain", "fused" or "fused-gpu" on OpenCL;
 * "host-rowwise" or "host-fused-<isa>" on the host, where <isa> must be the best this CPU reports).
 * Reports a failure (tu_report) and returns false otherwise. */
bool tu_check_plan_path(const clattn_sdpa_plan *plan, const clattn_sdpa_desc *desc, const tu_where *w);
/* The same check for a path string (e.g. clattn_mha_path()); fused_sure: the problem certainly fits the
 * fused host kernel (then a host-fused-<isa> promise must be kept exactly). */
bool tu_check_path(const char *got, bool fused_sure, const tu_where *w);
/* Plans checked by tu_check_plan_path that took the promised path (for a summary line). */
long tu_plan_path_hits(void);

/* Runs a dynamically built group with a NULL group state (so each test keeps its prestate). With
 * CLATTN_TEST_EXPECT_PATH set, also fails when plans were checked but none took the promised path. */
int tu_run_group(const char *name, struct CMUnitTest *tests, size_t count);
/* CLATTN_TEST_ONLY=name1,name2 (e.g. the small cases under Oclgrind): keeps only the tests of those names, in
 * their order, at the front of tests and returns how many; count when the variable is unset or empty. */
size_t tu_tests_only(struct CMUnitTest *tests, size_t count);

#endif /* CLATTN_TEST_UTIL_H */
