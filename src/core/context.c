/* Context lifetime: picks a backend once, at creation, and reports it. The OpenCL interop entry points
 * (clattn_context_create_from_cl, clattn_context_get_cl) live with the OpenCL backend (src/opencl/interop.c). */
#include "alloc.h"
#include "backend.h"
#include "multi.h"

#include <stdlib.h>
#include <string.h>

clattn_status clattn_context_alloc(clattn_context **out, const char *fn, const clattn_context_options *opts)
{
    clattn_context *ctx = clattn_calloc(1, sizeof *ctx);
    if (!ctx)
        return clattn_error(NULL, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory (%zu bytes)", fn, sizeof *ctx);
    clattn_status st = clattn_config_resolve(ctx, opts, &ctx->config);
    if (st != CLATTN_SUCCESS) return clattn_context_abandon(ctx, st);
    *out = ctx;
    return CLATTN_SUCCESS;
}

/* On failure the context's message moves to the thread slot (readable via clattn_last_error(NULL)). */
clattn_status clattn_context_abandon(clattn_context *ctx, clattn_status st)
{
    clattn_error_to_thread(ctx);
    if (ctx->be && ctx->be->destroy) ctx->be->destroy(ctx);
    clattn_config_release(&ctx->config);
    free(ctx);
    return st;
}

clattn_status clattn_context_create(clattn_context **out, const clattn_context_options *opts)
{
    if (!out) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create: ctx is NULL");
    *out = NULL;
    clattn_context_options local; /* defaults, or the caller's options over them */
    clattn_context_options_init(&local);
    CLATTN_TRY(CLATTN_STRUCT_IN(NULL, clattn_context_options, opts, CLATTN_CONTEXT_OPTIONS_MIN_SIZE, &local));
    opts = &local;

    clattn_context *ctx = NULL;
    CLATTN_TRY(clattn_context_alloc(&ctx, "clattn_context_create", opts));

    const char *selector = opts->device ? opts->device : getenv("CLATTN_DEVICE");
    bool use_host = false;
    clattn_status st;
    if (clattn_selector_is_list(selector)) {
        st = clattn_multi_open(ctx, selector, opts);
    } else if (opts->device_weights) {
        st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                          "clattn_context_options.device_weights: given, but the device selector '%s' is not a list",
                          selector ? selector : "");
    } else {
        st = clattn_opencl_backend_open(ctx, selector, &use_host);
    }
    if (st == CLATTN_SUCCESS && use_host) {
        int threads = 0;
        st = clattn_host_resolve_threads(ctx, opts->num_threads, &threads);
        if (st == CLATTN_SUCCESS) st = clattn_host_backend_open(ctx, threads);
    } else if (st == CLATTN_SUCCESS && opts->num_threads < 0) {
        st = clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create: num_threads is %d, expected >= 0",
                          opts->num_threads);
    }
    if (st != CLATTN_SUCCESS) return clattn_context_abandon(ctx, st);
    ctx->last_error[0] = '\0';
    clattn_log(ctx, CLATTN_LOG_INFO, "context on %s: platform '%s', device '%s', %d threads/compute units",
               ctx->be->name, ctx->info.platform_name, ctx->info.device_name, ctx->info.num_threads);
    *out = ctx;
    return CLATTN_SUCCESS;
}

void clattn_context_destroy(clattn_context *ctx)
{
    if (!ctx) return;
    if (ctx->be && ctx->be->destroy) ctx->be->destroy(ctx);
    clattn_config_release(&ctx->config);
    free(ctx);
}

static clattn_status info_out(const clattn_context *ctx, const clattn_device_info *src, clattn_device_info *info)
{
    size_t size = info->struct_size;
    if (size < CLATTN_DEVICE_INFO_MIN_SIZE || size > CLATTN_STRUCT_SIZE_MAX)
        return clattn_error((clattn_context *)ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_device_info: struct_size is %zu, expected %zu..%zu (initialise the struct with "
                            "clattn_device_info_init())",
                            size, (size_t)CLATTN_DEVICE_INFO_MIN_SIZE, CLATTN_STRUCT_SIZE_MAX);
    clattn_struct_out(info, size, src, sizeof *src);
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_get_info(const clattn_context *ctx, clattn_device_info *info)
{
    if (!ctx || !info)
        return clattn_error((clattn_context *)ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_get_info: %s is NULL", !ctx ? "ctx" : "info");
    return info_out(ctx, &ctx->info, info);
}

int clattn_context_device_count(const clattn_context *ctx)
{
    return ctx ? clattn_multi_count(ctx) : 0;
}

clattn_status clattn_context_get_device_info(const clattn_context *ctx, int index, clattn_device_info *info)
{
    if (!ctx || !info)
        return clattn_error((clattn_context *)ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_get_device_info: %s is NULL", !ctx ? "ctx" : "info");
    int n = clattn_multi_count(ctx);
    if (index < 0 || index >= n)
        return clattn_error((clattn_context *)ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_get_device_info: index is %d, expected 0..%d", index, n - 1);
    return info_out(ctx, &clattn_multi_member(ctx, index)->info, info);
}

clattn_status clattn_context_device_weights(clattn_context *ctx, double *weights, int count)
{
    if (!ctx || !weights)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_device_weights: %s is NULL",
                            !ctx ? "ctx" : "weights");
    int n = clattn_multi_count(ctx);
    if (count != n)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_context_device_weights: count is %d, expected %d (clattn_context_device_count)",
                            count, n);
    return clattn_multi_weights(ctx, weights);
}

void clattn_context_options_init_sized(clattn_context_options *opts, size_t struct_size)
{
    if (!opts) return;
    clattn_struct_out(opts, struct_size, NULL, sizeof(clattn_context_options));
}

void clattn_device_info_init_sized(clattn_device_info *info, size_t struct_size)
{
    if (!info) return;
    clattn_struct_out(info, struct_size, NULL, sizeof(clattn_device_info));
}
