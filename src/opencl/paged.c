/*
 * The OpenCL paged-KV-cache append (the kv_append_* slots of clattn_backend_i; kernels/paged.cl): new K/V
 * rows copied into their blocks of the pools by one kernel, no host round trip (clattn_kv_append_enqueue
 * on cl_mem, or clattn_kv_append_execute through core's staging).
 *
 *   k_new: [B, Hkv, Lnew, D]  v_new: [B, Hkv, Lnew, Dv]  k_cache: [num_blocks, block_size, Hkv, D]
 *   v_cache: [num_blocks, block_size, Hkv, Dv]  block_table: int32 [B, max_blocks]  positions: int32 [B]
 *
 * Built once per plan with -D ELEM (uint for 4-byte elements, ushort for 2-byte ones: a bit-exact copy)
 * -D PAGE_SHIFT (log2 of the block size). Rows (b, hk, t) are launched in chunks of at most
 * CLATTN_CL_MAX_GRID_GROUPS (grid dim 1). Rows whose position has no valid block are not written (the
 * kernel's banner); core has already refused such rows for host-visible tables.
 */
#include "alloc.h"
#include "kv_cache.h"
#include "launch.h"
#include "opencl.h"

#include <stdio.h>
#include <stdlib.h>

void clattn_cl_kv_append_release(clattn_context *ctx, clattn_kv_append_plan *plan)
{
    (void)ctx;
    if (plan) clattn_cl_kernel_plan_free(&plan->backend_data);
}

clattn_status clattn_cl_kv_append_prepare(clattn_context *ctx, clattn_kv_append_plan *plan)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_kv_append_problem *p = &plan->p;
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_kernel_plan *a = clattn_calloc(1, sizeof *a);
    if (!a) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kv append plan: out of host memory");
    plan->backend_data = a;
    int shift = 0;
    while (((int64_t)1 << shift) < p->block_size) shift++;
    const size_t es = clattn_kv_elem_size(p->data_type);
    /* columns per work-group: max(D, Dv) rounded up to a power of two, at most 64, within the device's limits */
    size_t w = clattn_cl_wg_fit(cl, (uint64_t)clattn_max_i64(p->D, p->Dv));
    char opts[64];
    snprintf(opts, sizeof opts, "-D ELEM=%s -D PAGE_SHIFT=%d", es == 2 ? "ushort" : "uint", shift);
    CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "paged.cl", opts, "clattn_kv_append", &a->kernel));
    size_t kwg = 0;
    CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(a->kernel, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL));
    while (w > 1 && w > kwg) w /= 2;
    a->wg = w;
    return CLATTN_SUCCESS;
cleanup:
    clattn_cl_kv_append_release(ctx, plan);
    return st;
}

clattn_status clattn_cl_kv_append_run(clattn_context *ctx, clattn_kv_append_plan *plan, const clattn_kv_append_bufs *b,
                                      const clattn_sync *sync)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_kv_append_problem *p = &plan->p;
    clattn_cl_kernel_plan *a = plan->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (sync->event) *(cl_event *)sync->event = NULL;
    if (!a) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "kv_append_run: plan was not prepared");
    if (!b->k_new.dev || !b->v_new.dev || !b->block_table.dev || !b->positions.dev || !b->k_cache.dev ||
        !b->v_cache.dev)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "kv append: a required buffer is NULL");
    clattn_cl_launch es = clattn_cl_launch_begin(cl->queue, sync);
    const clattn_cl_view kn = clattn_cl_view_of(b->k_new.dev, &p->k_new, true),
                         vn = clattn_cl_view_of(b->v_new.dev, &p->v_new, true),
                         kc = clattn_cl_view_of(b->k_cache.dev, &p->k_cache, true),
                         vc = clattn_cl_view_of(b->v_cache.dev, &p->v_cache, true);
    const cl_mem bt = b->block_table.dev, pos = b->positions.dev;
    const cl_long Hkv = p->Hkv, Lnew = p->Lnew, D = p->D, Dv = p->Dv, maxb = p->max_blocks, nblk = p->num_blocks;
    const int64_t rows = p->B * p->Hkv * p->Lnew, cols = clattn_max_i64(p->D, p->Dv);
    for (int64_t r0 = 0; r0 < rows; r0 += CLATTN_CL_MAX_GRID_GROUPS) {
        const cl_long row0 = r0, nrows = clattn_min_i64(CLATTN_CL_MAX_GRID_GROUPS, rows - r0);
        const clattn_karg args[] = {KVIEW(kn), KVIEW(vn), KVIEW(kc), KVIEW(vc), KARG(bt),   KARG(pos),  KARG(Hkv),
                                    KARG(Lnew), KARG(D),   KARG(Dv),  KARG(maxb), KARG(nblk), KARG(row0), KARG(nrows)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, a->kernel, "clattn_kv_append", args, sizeof args / sizeof args[0]));
        const size_t local[3] = {a->wg, 1, 1},
                     global[3] = {(size_t)clattn_ceil_div(cols, (int64_t)a->wg) * a->wg, (size_t)nrows, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &es, a->kernel, "clattn_kv_append", global, local));
    }
cleanup:
    return clattn_cl_launch_end(ctx, &es, sync, st);
}
