/*
 * The OpenCL backend's public entry points (include/clattn_opencl.h) and the one core calls to open it:
 *   clattn_opencl_backend_open     core/context.c, for clattn_context_create (CLATTN_DEVICE selection)
 *   clattn_context_create_from_cl[_opts]  a context over the caller's cl_context, device and queue
 *   clattn_context_get_cl          the context's OpenCL objects
 *   clattn_sdpa_enqueue            a plan on cl_mem buffers, through core's clattn_sdpa_run_bound
 */
#include "opencl.h"

#include "clattn_opencl.h"

clattn_status clattn_opencl_backend_open(clattn_context *ctx, const char *selector, bool *use_host)
{
    cl_device_id device = NULL;
    *use_host = false;
    CLATTN_TRY(clattn_device_select(ctx, selector, use_host, &device));
    if (*use_host) return CLATTN_SUCCESS;
    return clattn_cl_backend_create(ctx, NULL, device, NULL);
}

clattn_status clattn_context_create_from_cl(clattn_context **out, cl_context context, cl_device_id device,
                                            cl_command_queue queue)
{
    return clattn_context_create_from_cl_opts(out, context, device, queue, NULL);
}

clattn_status clattn_context_create_from_cl_opts(clattn_context **out, cl_context context, cl_device_id device,
                                                 cl_command_queue queue, const clattn_context_options *opts)
{
    static const char fn[] = "clattn_context_create_from_cl";
    if (!out) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ctx is NULL", fn);
    *out = NULL;
    if (!context || !device || !queue)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                            !context ? "context" : !device ? "device" : "queue");
    clattn_context_options local; /* defaults, or the caller's options over them */
    clattn_context_options_init(&local);
    CLATTN_TRY(CLATTN_STRUCT_IN(NULL, clattn_context_options, opts, CLATTN_CONTEXT_OPTIONS_MIN_SIZE, &local));
    if (local.device || local.num_threads)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: opts->%s is set, but the caller's device is used (leave device NULL, num_threads 0)",
                            fn, local.device ? "device" : "num_threads");
    clattn_context *ctx = NULL;
    CLATTN_TRY(clattn_context_alloc(&ctx, fn, &local));
    clattn_status st = clattn_cl_backend_create(ctx, context, device, queue);
    if (st != CLATTN_SUCCESS) return clattn_context_abandon(ctx, st);
    ctx->last_error[0] = '\0';
    *out = ctx;
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_get_cl(const clattn_context *ctx, cl_context *context, cl_device_id *device,
                                    cl_command_queue *queue)
{
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_get_cl: ctx is NULL");
    const clattn_cl_state *cl = ctx->info.backend == CLATTN_BACKEND_OPENCL ? ctx->backend_data : NULL;
    if (context) *context = cl ? cl->context : NULL;
    if (device) *device = cl ? cl->device : NULL;
    if (queue) *queue = cl ? cl->queue : NULL;
    return CLATTN_SUCCESS;
}

/* Checks that a cl_mem holds the bytes a view reaches. */
static clattn_status check_mem(clattn_context *ctx, const char *name, cl_mem m, int64_t elems, size_t es)
{
    size_t size = 0;
    cl_int err = clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err != CL_SUCCESS) /* only a bad handle is the caller's fault; the rest are runtime failures */
        return clattn_error(ctx, err == CL_INVALID_MEM_OBJECT  ? CLATTN_ERROR_INVALID_ARGUMENT
                                 : err == CL_OUT_OF_HOST_MEMORY ? CLATTN_ERROR_OUT_OF_MEMORY
                                                                : CLATTN_ERROR_OPENCL,
                            "%s: clGetMemObjectInfo failed with %s (%d)", name, clattn_cl_error_string(err), (int)err);
    if ((uint64_t)size < (uint64_t)elems * es)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: cl_mem holds %zu bytes, the view needs %llu",
                            name, size, (unsigned long long)((uint64_t)elems * es));
    return CLATTN_SUCCESS;
}

clattn_status clattn_sdpa_enqueue(clattn_sdpa_plan *plan, cl_mem q, cl_mem k, cl_mem v, cl_mem mask,
                                  cl_mem kv_lengths, cl_mem out, cl_mem probs, cl_uint num_wait,
                                  const cl_event *wait_list, cl_event *event)
{
    if (event) *event = NULL; /* on every failure too */
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_enqueue: plan is NULL");
    clattn_context *ctx = plan->ctx;
    const clattn_sdpa_problem *p = &plan->p;
    if (ctx->info.backend != CLATTN_BACKEND_OPENCL)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "clattn_sdpa_enqueue: the context runs on the %s path, not "
                                                           "one OpenCL device; use clattn_sdpa_execute", ctx->be->name);
    if ((num_wait == 0) != (wait_list == NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_sdpa_enqueue: num_wait is %u but wait_list is %s", (unsigned)num_wait,
                            wait_list ? "non-NULL" : "NULL");
    CLATTN_TRY(clattn_sdpa_check_bindings(ctx, p, "clattn_sdpa_enqueue", q, k, v, mask, kv_lengths, out, probs));
    const clattn_sdpa_extents ext = clattn_sdpa_caller_extents(plan);
    CLATTN_TRY(check_mem(ctx, "q", q, ext.q, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "k", k, ext.k, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "v", v, ext.v, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "out", out, ext.out, ext.elem_size));
    if (mask)
        CLATTN_TRY(check_mem(ctx, "mask", mask, p->mask_extent, p->mask_kind == CLATTN_MASK_BOOL ? 1 : sizeof(float)));
    if (kv_lengths) CLATTN_TRY(check_mem(ctx, "kv_lengths", kv_lengths, p->B, sizeof(int32_t)));
    if (probs) CLATTN_TRY(check_mem(ctx, "probs", probs, p->probs_extent, sizeof(float)));
    const clattn_sdpa_bufs b = {{NULL, q}, {NULL, k}, {NULL, v}, {NULL, mask}, {NULL, kv_lengths}, {NULL, out},
                                {NULL, probs}};
    const clattn_sync sync = {num_wait, wait_list, event};
    return clattn_sdpa_run_bound(plan, &b, &sync);
}
