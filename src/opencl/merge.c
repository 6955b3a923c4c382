/*
 * The OpenCL merge of partial attention states (the merge_* slots of clattn_backend_i; kernels/merge.cl):
 * one work-item per row (WG rows per work-group), built once per plan with -D WG -D MERGE_DTYPE -D NP.
 *
 *   parts_out: [P, B, H, L, Dv]   parts_lse: [P, B, H, L]   out: [B, H, L, Dv]   lse: [B, H, L] (as [B, H, L, 1])
 *
 * Rows are launched in chunks of at most MERGE_MAX_ROWS work-items (global sizes stay far below 2^32).
 */
#include "alloc.h"
#include "launch.h"
#include "opencl.h"

#include <stdio.h>
#include <stdlib.h>

#define MERGE_MAX_ROWS ((int64_t)1 << 24)

void clattn_cl_merge_release(clattn_context *ctx, clattn_merge_plan *plan)
{
    (void)ctx;
    if (plan) clattn_cl_kernel_plan_free(&plan->backend_data);
}

clattn_status clattn_cl_merge_prepare(clattn_context *ctx, clattn_merge_plan *plan)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_merge_problem *p = &plan->p;
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_kernel_plan *m = clattn_calloc(1, sizeof *m);
    if (!m) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "merge plan: out of host memory");
    plan->backend_data = m;
    /* rows per work-group: 64, or fewer rows in all, a power of two within the device's limits */
    const int64_t rows = p->B * p->H * p->L;
    size_t w = clattn_cl_wg_fit(cl, (uint64_t)rows);
    for (;;) {
        char opts[64];
        size_t kwg = 0;
        snprintf(opts, sizeof opts, "-D WG=%zu -D MERGE_DTYPE=%d -D NP=%d", w, (int)p->data_type,
                 p->P <= 16 ? (int)p->P : 0);
        CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "merge.cl", opts, "clattn_merge", &m->kernel));
        CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(m->kernel, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
        if (w <= kwg) break;
        clReleaseKernel(m->kernel);
        m->kernel = NULL;
        if (w == 1) {
            st = clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "clattn_merge: a 1-item work-group does not fit this device");
            goto cleanup;
        }
        w /= 2;
    }
    m->wg = w;
    return CLATTN_SUCCESS;
cleanup:
    clattn_cl_merge_release(ctx, plan);
    return st;
}

clattn_status clattn_cl_merge_run(clattn_context *ctx, clattn_merge_plan *plan, const clattn_merge_bufs *b,
                                  const clattn_sync *sync)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_merge_problem *p = &plan->p;
    clattn_cl_kernel_plan *m = plan->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (sync->event) *(cl_event *)sync->event = NULL;
    if (!m) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "merge_run: plan was not prepared");
    if (!b->parts_out.dev || !b->parts_lse.dev || !b->out.dev || (p->want_lse && !b->lse.dev))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "merge: a required buffer is NULL");
    clattn_cl_launch es = clattn_cl_launch_begin(cl->queue, sync);
    const clattn_tensor *t = &p->parts_out;
    const cl_mem po = b->parts_out.dev;
    const cl_long po_off = t->offset, po_s0 = t->strides[0], po_s1 = t->strides[1], po_s2 = t->strides[2],
                  po_s3 = t->strides[3], po_s4 = t->strides[4];
    const clattn_cl_view lv4 = clattn_cl_view_of(b->parts_lse.dev, &p->parts_lse, true),
                         ov = clattn_cl_view_of(b->out.dev, &p->out, true),
                         lv = clattn_cl_view_of(b->lse.dev, &p->lse, p->want_lse);
    const cl_int want_lse = p->want_lse ? 1 : 0;
    const cl_long P = p->P, H = p->H, L = p->L, Dv = p->Dv;
    const int64_t rows = p->B * p->H * p->L;
    for (int64_t r0 = 0; r0 < rows; r0 += MERGE_MAX_ROWS) {
        const int64_t n = clattn_min_i64(MERGE_MAX_ROWS, rows - r0);
        const cl_long c_r0 = r0, c_n = n;
        const clattn_karg a[] = {KARG(po),       KARG(po_off), KARG(po_s0), KARG(po_s1), KARG(po_s2), KARG(po_s3),
                                 KARG(po_s4),    KVIEW(lv4),   KVIEW(ov),   KARG(want_lse), KVIEW(lv),
                                 KARG(P),        KARG(H),      KARG(L),     KARG(Dv),    KARG(c_r0), KARG(c_n)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, m->kernel, "clattn_merge", a, sizeof a / sizeof a[0]));
        const size_t local[3] = {m->wg, 1, 1},
                     global[3] = {(size_t)clattn_ceil_div(n, (int64_t)m->wg) * m->wg, 1, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, m->kernel, "clattn_merge", global, local));
    }
cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
