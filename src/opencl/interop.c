/*
 * The OpenCL backend's public entry points (include/clattn_opencl.h) and the one core calls to open it:
 *   clattn_opencl_backend_open     core/context.c, for clattn_context_create (CLATTN_DEVICE selection)
 *   clattn_context_create_from_cl[_opts]  a context over the caller's cl_context, device and queue
 *   clattn_context_get_cl          the context's OpenCL objects
 *   clattn_sdpa_enqueue[_buffers]  a plan on cl_mem buffers, through core's clattn_sdpa_run_bound
 *   clattn_merge_enqueue           a merge plan on cl_mem buffers (merge.c of this folder runs it)
 */
#include "kv_cache.h"
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

/* clattn_sdpa_enqueue and clattn_sdpa_enqueue_buffers, for the function named fn (event already NULL). */
static clattn_status sdpa_enqueue(clattn_sdpa_plan *plan, const clattn_sdpa_cl_buffers *u, cl_uint num_wait,
                                  const cl_event *wait_list, cl_event *event, const char *fn)
{
    clattn_context *ctx = plan->ctx;
    const clattn_sdpa_problem *p = &plan->p;
    if (ctx->info.backend != CLATTN_BACKEND_OPENCL)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "%s: the context runs on the %s path, not one OpenCL device; use %s", fn, ctx->be->name,
                            u->lse ? "clattn_sdpa_execute_buffers" : "clattn_sdpa_execute");
    if ((num_wait == 0) != (wait_list == NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: num_wait is %u but wait_list is %s", fn,
                            (unsigned)num_wait, wait_list ? "non-NULL" : "NULL");
    CLATTN_TRY(clattn_sdpa_check_bindings(ctx, p, fn, u->q, u->k, u->v, u->mask, u->kv_lengths, u->out, u->probs,
                                          u->lse, u->block_table));
    const clattn_sdpa_extents ext = clattn_sdpa_caller_extents(plan);
    CLATTN_TRY(check_mem(ctx, "q", u->q, ext.q, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "k", u->k, ext.k, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "v", u->v, ext.v, ext.elem_size));
    CLATTN_TRY(check_mem(ctx, "out", u->out, ext.out, ext.elem_size));
    if (u->mask)
        CLATTN_TRY(check_mem(ctx, "mask", u->mask, p->mask_extent, CLATTN_MASK_ELEM_SIZE(p)));
    if (u->kv_lengths) CLATTN_TRY(check_mem(ctx, "kv_lengths", u->kv_lengths, p->B, sizeof(int32_t)));
    if (u->probs) CLATTN_TRY(check_mem(ctx, "probs", u->probs, p->probs_extent, sizeof(float)));
    if (u->lse) CLATTN_TRY(check_mem(ctx, "lse", u->lse, p->lse_extent, sizeof(float)));
    if (u->block_table) CLATTN_TRY(check_mem(ctx, "block_table", u->block_table, p->block_table_extent, sizeof(int32_t)));
    const clattn_sdpa_bufs b = {{NULL, u->q},   {NULL, u->k},     {NULL, u->v},   {NULL, u->mask},
                                {NULL, u->kv_lengths}, {NULL, u->out}, {NULL, u->probs}, {NULL, u->lse},
                                {NULL, u->block_table}};
    const clattn_sync sync = {num_wait, wait_list, event};
    return clattn_sdpa_run_bound(plan, &b, &sync);
}

clattn_status clattn_sdpa_enqueue(clattn_sdpa_plan *plan, cl_mem q, cl_mem k, cl_mem v, cl_mem mask,
                                  cl_mem kv_lengths, cl_mem out, cl_mem probs, cl_uint num_wait,
                                  const cl_event *wait_list, cl_event *event)
{
    if (event) *event = NULL; /* on every failure too */
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sdpa_enqueue: plan is NULL");
    clattn_sdpa_cl_buffers u;
    clattn_sdpa_cl_buffers_init(&u);
    u.q = q;
    u.k = k;
    u.v = v;
    u.mask = mask;
    u.kv_lengths = kv_lengths;
    u.out = out;
    u.probs = probs;
    return sdpa_enqueue(plan, &u, num_wait, wait_list, event, "clattn_sdpa_enqueue");
}

void clattn_sdpa_cl_buffers_init_sized(clattn_sdpa_cl_buffers *b, size_t struct_size)
{
    if (!b) return;
    clattn_struct_out(b, struct_size, NULL, sizeof(clattn_sdpa_cl_buffers));
}

/* The first layout's size of clattn_sdpa_cl_buffers (frozen; see "## ABI" in clattn.h). */
#define CLATTN_SDPA_CL_BUFFERS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_sdpa_cl_buffers, lse)

clattn_status clattn_sdpa_enqueue_buffers(clattn_sdpa_plan *plan, const clattn_sdpa_cl_buffers *bufs,
                                          cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    static const char fn[] = "clattn_sdpa_enqueue_buffers";
    if (event) *event = NULL; /* on every failure too */
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    if (!bufs) return clattn_error(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: bufs is NULL", fn);
    clattn_sdpa_cl_buffers u;
    clattn_sdpa_cl_buffers_init(&u);
    CLATTN_TRY(CLATTN_STRUCT_IN(plan->ctx, clattn_sdpa_cl_buffers, bufs, CLATTN_SDPA_CL_BUFFERS_MIN_SIZE, &u));
    return sdpa_enqueue(plan, &u, num_wait, wait_list, event, fn);
}

clattn_status clattn_merge_enqueue(clattn_merge_plan *plan, cl_mem parts_out, cl_mem parts_lse, cl_mem out,
                                   cl_mem lse, cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    static const char fn[] = "clattn_merge_enqueue";
    if (event) *event = NULL; /* on every failure too */
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    const clattn_merge_problem *p = &plan->p;
    if (ctx->info.backend != CLATTN_BACKEND_OPENCL)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "%s: the context runs on the %s path, not one OpenCL device; use clattn_merge_execute", fn,
                            ctx->be->name);
    if ((num_wait == 0) != (wait_list == NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: num_wait is %u but wait_list is %s", fn,
                            (unsigned)num_wait, wait_list ? "non-NULL" : "NULL");
    CLATTN_TRY(clattn_merge_check_bindings(ctx, p, fn, parts_out, parts_lse, out, lse));
    const size_t es = clattn_dtype_size(p->data_type);
    CLATTN_TRY(check_mem(ctx, "parts_out", parts_out, p->parts_out_extent, es));
    CLATTN_TRY(check_mem(ctx, "parts_lse", parts_lse, p->parts_lse_extent, sizeof(float)));
    CLATTN_TRY(check_mem(ctx, "out", out, p->out_extent, es));
    if (lse) CLATTN_TRY(check_mem(ctx, "lse", lse, p->lse_extent, sizeof(float)));
    const clattn_merge_bufs b = {{NULL, parts_out}, {NULL, parts_lse}, {NULL, out}, {NULL, lse}};
    const clattn_sync sync = {num_wait, wait_list, event};
    return ctx->be->merge_run(ctx, plan, &b, &sync);
}

void clattn_kv_append_cl_buffers_init_sized(clattn_kv_append_cl_buffers *b, size_t struct_size)
{
    if (!b) return;
    clattn_struct_out(b, struct_size, NULL, sizeof(clattn_kv_append_cl_buffers));
}

/* The first layout's size of clattn_kv_append_cl_buffers (frozen; see "## ABI" in clattn.h). */
#define CLATTN_KV_APPEND_CL_BUFFERS_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_kv_append_cl_buffers, v_cache)

clattn_status clattn_kv_append_enqueue(clattn_kv_append_plan *plan, const clattn_kv_append_cl_buffers *bufs,
                                       cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    static const char fn[] = "clattn_kv_append_enqueue";
    if (event) *event = NULL; /* on every failure too */
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    if (!bufs) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: bufs is NULL", fn);
    clattn_kv_append_cl_buffers u;
    clattn_kv_append_cl_buffers_init(&u);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_kv_append_cl_buffers, bufs, CLATTN_KV_APPEND_CL_BUFFERS_MIN_SIZE, &u));
    const clattn_kv_append_problem *p = &plan->p;
    if (ctx->info.backend != CLATTN_BACKEND_OPENCL)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "%s: the context runs on the %s path, not one OpenCL device; use clattn_kv_append_execute",
                            fn, ctx->be->name);
    if ((num_wait == 0) != (wait_list == NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: num_wait is %u but wait_list is %s", fn,
                            (unsigned)num_wait, wait_list ? "non-NULL" : "NULL");
    CLATTN_TRY(clattn_kv_append_check_bindings(ctx, fn, u.k_new, u.v_new, u.block_table, u.positions, u.k_cache,
                                               u.v_cache));
    const size_t es = clattn_kv_elem_size(p->data_type);
    CLATTN_TRY(check_mem(ctx, "k_new", u.k_new, p->k_new_extent, es));
    CLATTN_TRY(check_mem(ctx, "v_new", u.v_new, p->v_new_extent, es));
    CLATTN_TRY(check_mem(ctx, "block_table", u.block_table, p->block_table_extent, sizeof(int32_t)));
    CLATTN_TRY(check_mem(ctx, "positions", u.positions, p->B, sizeof(int32_t)));
    CLATTN_TRY(check_mem(ctx, "k_cache", u.k_cache, p->k_cache_extent, es));
    CLATTN_TRY(check_mem(ctx, "v_cache", u.v_cache, p->v_cache_extent, es));
    const clattn_kv_append_bufs b = {{NULL, u.k_new},     {NULL, u.v_new},   {NULL, u.block_table},
                                     {NULL, u.positions}, {NULL, u.k_cache}, {NULL, u.v_cache}};
    const clattn_sync sync = {num_wait, wait_list, event};
    return ctx->be->kv_append_run(ctx, plan, &b, &sync);
}
