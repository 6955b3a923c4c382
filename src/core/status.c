/* Status strings, the version string, per-context and thread-local error messages. */
#include "backend.h" /* struct clattn_context */

#include <stdio.h>
#include <string.h>

#define CLATTN_STR2(x) #x
#define CLATTN_STR(x) CLATTN_STR2(x)

const char *clattn_version_string(void)
{
    return CLATTN_STR(CLATTN_VERSION_MAJOR) "." CLATTN_STR(CLATTN_VERSION_MINOR) "." CLATTN_STR(
        CLATTN_VERSION_PATCH);
}

int clattn_version_number(void)
{
    return CLATTN_VERSION_NUMBER;
}

const char *clattn_status_string(clattn_status status)
{
    switch (status) {
    case CLATTN_SUCCESS: return "success";
    case CLATTN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case CLATTN_ERROR_UNSUPPORTED: return "unsupported";
    case CLATTN_ERROR_OUT_OF_MEMORY: return "out of memory";
    case CLATTN_ERROR_DEVICE_NOT_FOUND: return "device not found";
    case CLATTN_ERROR_OPENCL: return "OpenCL error";
    case CLATTN_ERROR_KERNEL_BUILD: return "kernel build failed";
    case CLATTN_ERROR_IO: return "I/O error";
    case CLATTN_ERROR_INTERNAL: return "internal error";
    case CLATTN_ERROR_COMMUNICATION: return "communication error";
    }
    return "unknown status";
}

/* Messages of failures that have no context (context creation). */
static _Thread_local char thread_error[CLATTN_ERRMSG_MAX];

clattn_status clattn_error(clattn_context *ctx, clattn_status status, const char *fmt, ...)
{
    char *dst = ctx ? ctx->last_error : thread_error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, CLATTN_ERRMSG_MAX, fmt, ap);
    va_end(ap);
    if (ctx) clattn_log(ctx, CLATTN_LOG_ERROR, "%s: %s", clattn_status_string(status), dst);
    return status;
}

void clattn_error_to_thread(const clattn_context *ctx)
{
    if (ctx) snprintf(thread_error, sizeof thread_error, "%s", ctx->last_error);
}

const char *clattn_last_error(const clattn_context *ctx)
{
    return ctx ? ctx->last_error : thread_error;
}

clattn_status clattn_set_last_error(clattn_context *ctx, clattn_status status, const char *message)
{
    return clattn_error(ctx, status, "%s", message ? message : "");
}
