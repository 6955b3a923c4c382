/*
 * The OpenCL backend: context/queue ownership, buffers, fp16 staging, the clattn_backend_i table, and
 * the dispatch of each SDPA plan to the kernel chain (chain.c: scores.cl -> softmax.cl ->
 * weighted_sum.cl through an [Lq, Lk] workspace; serves every plan) or to the fused path.
 *
 * Plans without probabilities may instead take the fused path (fused.c: one kernel with online
 * softmax, plus a merge kernel when keys are split into partitions; kernels/fused.cl on CPU devices,
 * path "fused", kernels/fused_gpu.cl on GPU devices, path "fused-gpu"). The plan's
 * kernel_path (clattn_sdpa_desc.kernel_path, else the context's: option or CLATTN_PATH) chooses:
 *   AUTO   fused where the shape fits (no probs, 1 <= D, Dv <= 256), else the chain
 *   CHAIN  always the chain (the reference path for cross-checks and benchmarks)
 *   FUSED  fused whenever the shape fits; plans with probs still use the chain
 * Paged K/V (p->paged) takes the same choice with the kernels built for the block table (paths "fused-paged",
 * "fused-gpu-paged", "chain-paged"; kernels/common.cl CLATTN_PAGED); the append is paged.c.
 */
#include "alloc.h"
#include "opencl.h"
#include "chain.h"
#include "fused.h"
#include "launch.h"
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------------- */

clattn_status clattn_cl_set_args(clattn_context *ctx, cl_kernel k, const char *kname, const clattn_karg *args,
                                 cl_uint n)
{
    for (cl_uint i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(k, i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS)
            return clattn_error(ctx, CLATTN_ERROR_OPENCL, "clSetKernelArg(%s, %u) failed: %s (%d)", kname, i,
                                clattn_cl_error_string(err), (int)err);
    }
    return CLATTN_SUCCESS;
}

/* ---- buffers ------------------------------------------------------------------------------------- */

static clattn_status cl_buf_alloc(clattn_context *ctx, size_t bytes, clattn_buf *out)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    out->host = NULL;
    out->dev = NULL;
    if (bytes == 0) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "buffer: size 0");
    if (bytes > cl->max_alloc)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "buffer of %zu bytes exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE (%llu bytes)", bytes,
                            (unsigned long long)cl->max_alloc);
    CLATTN_CL_CREATE(out->dev, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, bytes, NULL);
cleanup:
    return st;
}

static void cl_buf_free(clattn_context *ctx, clattn_buf *buf)
{
    if (!buf) return;
    if (buf->dev) clReleaseMemObject(buf->dev);
    buf->dev = NULL;
    buf->host = NULL;
}

static clattn_status cl_buf_write(clattn_context *ctx, clattn_buf *dst, size_t dst_offset, const void *src,
                                  size_t bytes)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (bytes == 0) return CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clEnqueueWriteBuffer(cl->queue, dst->dev, CL_TRUE, dst_offset, bytes, src, 0, NULL, NULL));
cleanup:
    return st;
}

static clattn_status cl_buf_read(clattn_context *ctx, const clattn_buf *src, size_t src_offset, void *dst,
                                 size_t bytes)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (bytes == 0) return CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clEnqueueReadBuffer(cl->queue, src->dev, CL_TRUE, src_offset, bytes, dst, 0, NULL, NULL));
cleanup:
    return st;
}

static clattn_status cl_finish(clattn_context *ctx)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    CLATTN_CL_CHECK(clFinish(cl->queue));
cleanup:
    return st;
}

/* ---- SDPA plan: the chain (chain.c) or the fused path (fused.c) ------------------------------------ */

typedef struct cl_plan {
    clattn_cl_fused *fused; /* the fused path, when it serves this plan */
    clattn_cl_chain *chain; /* else the kernel chain */
} cl_plan;

static void cl_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    cl_plan *pd = plan ? plan->backend_data : NULL;
    if (!pd) return;
    clattn_cl_fused_release(pd->fused);
    clattn_cl_chain_release(pd->chain);
    free(pd);
    plan->backend_data = NULL;
}

/* The planner's probe on a real device (planner.h): builds the candidate (program cache: candidates with
 * the same options share one build) and answers the kernel's work-group limit and local memory; the
 * slot keeps the latest candidate's kernel. */
typedef struct cl_probe_state {
    clattn_context *ctx;
    clattn_cl_state *cl;
    cl_kernel kernels[CLATTN_CL_SLOTS];
} cl_probe_state;

static clattn_status cl_probe(void *user, int slot, const clattn_cl_kernel_choice *k, size_t *kernel_wg,
                              cl_ulong *kernel_local)
{
    cl_probe_state *ps = user;
    clattn_context *ctx = ps->ctx;
    clattn_status st = CLATTN_SUCCESS;
    if (ps->kernels[slot]) clReleaseKernel(ps->kernels[slot]);
    ps->kernels[slot] = NULL;
    CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, ps->cl, k->source, k->options, k->name, &ps->kernels[slot]));
    CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(ps->kernels[slot], ps->cl->device, CL_KERNEL_WORK_GROUP_SIZE,
                                             sizeof *kernel_wg, kernel_wg, NULL));
    CLATTN_CL_CHECK(clGetKernelWorkGroupInfo(ps->kernels[slot], ps->cl->device, CL_KERNEL_LOCAL_MEM_SIZE,
                                             sizeof *kernel_local, kernel_local, NULL));
cleanup:
    return st;
}

clattn_cl_limits clattn_cl_state_limits(const clattn_cl_state *cl)
{
    clattn_cl_limits lim = {.type = cl->type,
                            .max_wg = cl->max_wg,
                            .max_wi_sizes = {cl->max_wi_sizes[0], cl->max_wi_sizes[1], cl->max_wi_sizes[2]},
                            .local_mem = cl->local_mem,
                            .max_alloc = cl->max_alloc,
                            .compute_units = (int)cl->compute_units,
                            .fma = cl->fma};
    return lim;
}

static clattn_status cl_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    clattn_status st = CLATTN_SUCCESS;
    cl_probe_state ps = {ctx, cl, {NULL}};
    clattn_cl_plan_cfg cfg;
    cl_plan *pd = clattn_calloc(1, sizeof *pd);
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "sdpa plan: out of host memory");

    const clattn_cl_limits lim = clattn_cl_state_limits(cl);
    CLATTN_GOTO_IF(clattn_cl_plan_choose(ctx, &cl->rules, &lim, p, cl_probe, &ps, &cfg));
    if (cfg.fused) CLATTN_GOTO_IF(clattn_cl_fused_prepare(ctx, cl, &cfg, ps.kernels, &pd->fused));
    else CLATTN_GOTO_IF(clattn_cl_chain_prepare(ctx, cl, &cfg, ps.kernels, &pd->chain));
    snprintf(plan->path, sizeof plan->path, "%s", clattn_cl_plan_path(&cfg));
    plan->workspace_bytes = cfg.workspace_bytes;
    plan->backend_data = pd;
    pd = NULL;

cleanup:
    for (int i = 0; i < CLATTN_CL_SLOTS; i++) /* candidates of the path not taken */
        if (ps.kernels[i]) clReleaseKernel(ps.kernels[i]);
    free(pd);
    return st;
}

static clattn_status cl_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *bufs,
                                 const clattn_sync *sync)
{
    const cl_uint num_wait = sync->num_wait;
    const cl_event *wait_list = sync->wait_list;
    cl_event *event = sync->event;
    clattn_cl_state *cl = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    cl_plan *pd = plan->backend_data;
    if (event) *event = NULL;
    if (!pd) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "sdpa_run: plan was not prepared");
    if ((num_wait > 0) != (wait_list != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "wait list: num_wait is %u but wait_list is %s",
                            num_wait, wait_list ? "non-NULL" : "NULL");

    /* Every dim of a validated problem is >= 1 (internal.h), so q, k, v and out are always needed. */
    if (!bufs->q.dev || !bufs->k.dev || !bufs->v.dev || !bufs->out.dev ||
        (p->mask_kind != CLATTN_MASK_NONE && !bufs->mask.dev) || (p->use_kv_lengths && !bufs->kv_lengths.dev) ||
        (p->want_probs && !bufs->probs.dev) || (p->want_lse && !bufs->lse.dev) || (p->paged && !bufs->block_table.dev))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "sdpa: a required buffer is NULL");
    if (pd->fused) return clattn_cl_fused_run(ctx, cl, pd->fused, p, bufs, sync);
    return clattn_cl_chain_run(ctx, cl, pd->chain, p, bufs, sync);
}

/* ---- context ------------------------------------------------------------------------------------- */

static void cl_destroy(clattn_context *ctx)
{
    clattn_cl_state *cl = ctx ? ctx->backend_data : NULL;
    if (!cl) return;
    if (cl->queue) clFinish(cl->queue);
    if (cl->bias_kernel) clReleaseKernel(cl->bias_kernel);
    clattn_cl_program_cache_clear(cl);
    if (cl->queue) clReleaseCommandQueue(cl->queue);
    if (cl->context) clReleaseContext(cl->context);
    if (cl->device) clReleaseDevice(cl->device);
    free(cl);
    ctx->backend_data = NULL;
}

clattn_status clattn_cl_channel_run(clattn_context *ctx, const struct clattn_channel_problem *p,
                                    const struct clattn_channel_bufs *bf); /* channel.c */
clattn_status clattn_cl_additive_run(clattn_context *ctx, const struct clattn_additive_problem *p,
                                     const struct clattn_additive_bufs *bf); /* additive.c */
clattn_status clattn_cl_global_local_run(clattn_context *ctx, const struct clattn_global_local_problem *p,
                                         const struct clattn_global_local_bufs *bf); /* global_local.c */

static const clattn_backend_i cl_backend_iface = {
    .name = "opencl",
    .host_memory = false,
    .native_dtypes = true, /* every SDPA kernel reads fp16 / bf16 in place (-D ELEM16): no plan asks for staging */
    .destroy = cl_destroy,
    .sdpa_prepare = cl_sdpa_prepare,
    .sdpa_release = cl_sdpa_release,
    .sdpa_run = cl_sdpa_run,
    .buf_alloc = cl_buf_alloc,
    .buf_free = cl_buf_free,
    .buf_write = cl_buf_write,
    .buf_read = cl_buf_read,
    .linear = clattn_cl_linear,
    .finish = cl_finish,
    .channel_run = clattn_cl_channel_run,
    .channel_path = "channel",
    .additive_run = clattn_cl_additive_run,
    .additive_path = "additive",
    .global_local_run = clattn_cl_global_local_run,
    .global_local_path = "global-local",
    .merge_prepare = clattn_cl_merge_prepare,
    .merge_release = clattn_cl_merge_release,
    .merge_run = clattn_cl_merge_run,
    .kv_append_prepare = clattn_cl_kv_append_prepare,
    .kv_append_release = clattn_cl_kv_append_release,
    .kv_append_run = clattn_cl_kv_append_run,
};

clattn_status clattn_cl_backend_create(clattn_context *ctx, cl_context context, cl_device_id device,
                                       cl_command_queue queue)
{
    clattn_status st = CLATTN_SUCCESS;
    clattn_cl_state *cl = NULL;
    if (!ctx || !device || (queue && !context) || (!queue && context))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_cl_backend_create: need a device, and either a context and a queue or neither");

    cl = clattn_calloc(1, sizeof *cl);
    if (!cl) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "OpenCL backend: out of host memory");

    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof cl->platform, &cl->platform, NULL));
    if (queue) {
        cl_context qctx = NULL;
        cl_device_id qdev = NULL;
        cl_command_queue_properties props = 0;
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL));
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL));
        CLATTN_CL_CHECK(clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL));
        if (qctx != context || qdev != device) {
            st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "queue: belongs to a different %s than the one passed", qctx != context ? "context" : "device");
            goto cleanup;
        }
        if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
            st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "queue: must be in-order (CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE is set)");
            goto cleanup;
        }
        CLATTN_CL_CHECK(clRetainContext(context));
        cl->context = context;
        CLATTN_CL_CHECK(clRetainCommandQueue(queue));
        cl->queue = queue;
        CLATTN_CL_CHECK(clRetainDevice(device));
        cl->device = device;
    } else {
        CLATTN_CL_CHECK(clRetainDevice(device));
        cl->device = device;
        cl_context_properties cprops[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)cl->platform, 0};
        CLATTN_CL_CREATE(cl->context, clCreateContext, cprops, 1, &device, NULL, NULL);
        CLATTN_CL_CREATE(cl->queue, clCreateCommandQueue, cl->context, device, 0);
    }

    clattn_device_info *info = &ctx->info;
    CLATTN_GOTO_IF(clattn_cl_device_query(ctx, device, cl, info));
    CLATTN_GOTO_IF(clattn_cl_profile_configured(ctx, cl, info->device_name));
    info->num_threads = (int)cl->compute_units;
    info->global_mem_bytes = cl->global_mem;
    info->local_mem_bytes = cl->local_mem;
    info->max_work_group_size = cl->max_wg;

    ctx->be = &cl_backend_iface;
    ctx->backend_data = cl;
    cl = NULL;

cleanup:
    if (cl) {
        if (cl->queue) clReleaseCommandQueue(cl->queue);
        if (cl->context) clReleaseContext(cl->context);
        if (cl->device) clReleaseDevice(cl->device);
        free(cl);
    }
    return st;
}
