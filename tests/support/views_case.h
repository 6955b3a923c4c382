/*
 * Axial, temporal and area attention cases (clattn.h, "The attention family over views") for the tests and the
 * benchmark: the arrays of one problem in a chosen memory layout, the call through the public API, and a naive
 * double-precision reference written from the definitions (not through the library's view arithmetic).
 *
 * A case gives the API's dims (api_ndim, api_dims): axial q [d0 .. d{n-2}, D]; temporal [B, T, S, C] (or
 * [B, T, S, H, Dh] with split) with heads; area [B, N, C] (or [B, N, H, Dh] with split) with heads and area.
 * dv: the value/out per-head dim (0 = D). Layouts of q, k, v, out (and probs):
 *   VC_CONTIG    C order
 *   VC_PERMUTED  the non-feature dims in reverse memory order, features innermost: batch axes that do not
 *                merge, so the plan loops over SDPA plans
 *   VC_PAD       C order with one element of padding after every dim (gaps, checked untouched)
 */
#ifndef CLATTN_TEST_VIEWS_CASE_H
#define CLATTN_TEST_VIEWS_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "test_util.h"

typedef enum vc_kind { VC_AXIAL, VC_TEMPORAL, VC_AREA } vc_kind;
typedef enum vc_layout { VC_CONTIG, VC_PERMUTED, VC_PAD } vc_layout;

typedef struct views_case {
    const char *name;
    vc_kind kind;
    int api_ndim;
    int64_t api_dims[CLATTN_MAX_DIMS]; /* of q (k the same; v, out with the per-head dim dv) */
    int axis;                          /* axial */
    int64_t heads;                     /* temporal, area: heads (dims split from C unless the view is split) */
    int64_t area;                      /* area */
    int64_t dv;                        /* per-head dim of v and out; 0 = the same as q's */
    clattn_causal causal;
    int probs;
    vc_layout layout;
    int nan_row;                       /* NaN in one query row (the NaN confinement edge) */
    int64_t want_count;                /* expected *_plan_sdpa_count (0: not checked) */
} views_case;

/* The arrays and views of one case. */
typedef struct views_data {
    views_case c;
    int n;                                           /* API ndim */
    clattn_tensor q, k, v, out, probs;               /* API views */
    float *bq, *bk, *bv, *bout, *bprobs;             /* buffers */
    int64_t nq, nk, nv, nout, nprobs;                /* their lengths */
    double *ref_out, *ref_probs;                     /* C order over out's / probs' dims */
} views_data;

/* Builds the data of c (inputs uniform in [-1, 1), gaps NaN, outputs poisoned) and its reference. */
void views_data_make(views_data *d, const views_case *c, tu_rng *r);
/* The same; with_reference false leaves ref_out / ref_probs unset (benchmarks of large rows). */
void views_data_make_ex(views_data *d, const views_case *c, tu_rng *r, bool with_reference);
void views_data_free(views_data *d);
/* Recomputes the reference from the current inputs (after a test changed them). */
void views_data_reference(views_data *d);
/* Runs c through its plan API (plan_create, checks the path and the SDPA plan count, execute, destroy):
 * repeat executions; *path receives the path (static within the plan; copied into path_buf). */
clattn_status views_data_run(clattn_context *ctx, views_data *d, int repeat, const tu_where *w, char *path_buf,
                             size_t path_size, int64_t *sdpa_count);
/* Compares out (and probs) with the reference (tolerance TU_TOL_F32) and checks the gaps. */
bool views_data_check(const views_data *d, const tu_where *w);
/* Multiply-adds of the structure's work: 2·(batch·L·L·(D + Dv)) summed over the attention rows. */
double views_case_flops(const views_case *c);
/* The dense equivalent as an SDPA problem: the same rows attending over all positions of the flattened
 * non-batch axes with a boolean mask of the structure. Fills desc (contiguous views, a [1, 1, Lf, Lf] bool
 * mask in *mask, malloc'd) for benchmarks; returns false when the case has no such equivalent. */
bool views_case_dense(const views_case *c, clattn_sdpa_desc *desc, uint8_t **mask);

#endif /* CLATTN_TEST_VIEWS_CASE_H */
