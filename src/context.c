/* Context lifetime: picks a backend once, at creation, and reports it. */
#include "alloc.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static clattn_status context_alloc(clattn_context **out)
{
    clattn_context *ctx = clattn_calloc(1, sizeof *ctx);
    if (!ctx)
        return clattn_error(NULL, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_context_create: out of host memory (%zu bytes)",
                            sizeof *ctx);
    *out = ctx;
    return CLATTN_SUCCESS;
}

/* On failure the context's message moves to the thread slot (readable via clattn_last_error(NULL)). */
static clattn_status context_fail(clattn_context *ctx, clattn_status st)
{
    clattn_error_to_thread(ctx);
    if (ctx->be && ctx->be->destroy) ctx->be->destroy(ctx);
    free(ctx);
    return st;
}

clattn_status clattn_context_create(clattn_context **out, const clattn_context_options *opts)
{
    if (!out) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create: ctx is NULL");
    *out = NULL;
    clattn_context_options defaults = {0};
    if (!opts) opts = &defaults;

    clattn_context *ctx = NULL;
    CLATTN_TRY(context_alloc(&ctx));

    const char *selector = opts->device ? opts->device : getenv("CLATTN_DEVICE");
    bool use_host = false;
    cl_device_id device = NULL;
    clattn_status st = clattn_device_select(ctx, selector, &use_host, &device);
    if (st != CLATTN_SUCCESS) return context_fail(ctx, st);

    if (use_host) {
        int threads = 0;
        st = clattn_resolve_threads(ctx, opts->num_threads, &threads);
        if (st == CLATTN_SUCCESS) st = clattn_host_backend_create(ctx, threads);
    } else {
        if (opts->num_threads < 0) {
            st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                              "clattn_context_create: num_threads is %d, expected >= 0", opts->num_threads);
        } else {
            st = clattn_cl_backend_create(ctx, NULL, device, NULL);
        }
    }
    if (st != CLATTN_SUCCESS) return context_fail(ctx, st);
    ctx->last_error[0] = '\0';
    *out = ctx;
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_create_from_cl(clattn_context **out, cl_context context, cl_device_id device,
                                            cl_command_queue queue)
{
    if (!out) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create_from_cl: ctx is NULL");
    *out = NULL;
    if (!context || !device || !queue)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_create_from_cl: %s is NULL",
                            !context ? "context" : !device ? "device" : "queue");
    clattn_context *ctx = NULL;
    CLATTN_TRY(context_alloc(&ctx));
    clattn_status st = clattn_cl_backend_create(ctx, context, device, queue);
    if (st != CLATTN_SUCCESS) return context_fail(ctx, st);
    ctx->last_error[0] = '\0';
    *out = ctx;
    return CLATTN_SUCCESS;
}

void clattn_context_destroy(clattn_context *ctx)
{
    if (!ctx) return;
    if (ctx->be && ctx->be->destroy) ctx->be->destroy(ctx);
    free(ctx);
}

clattn_status clattn_context_get_info(const clattn_context *ctx, clattn_device_info *info)
{
    if (!ctx || !info)
        return clattn_error((clattn_context *)ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_get_info: %s is NULL", !ctx ? "ctx" : "info");
    *info = ctx->info;
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_get_cl(const clattn_context *ctx, cl_context *context, cl_device_id *device,
                                    cl_command_queue *queue)
{
    if (!ctx)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_get_cl: ctx is NULL");
    if (context) *context = ctx->cl_ctx;
    if (device) *device = ctx->cl_device;
    if (queue) *queue = ctx->cl_queue;
    return CLATTN_SUCCESS;
}
