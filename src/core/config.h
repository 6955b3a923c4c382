/*
 * A context's configuration, resolved once when the context is created: each setting from
 * clattn_context_options when the caller set it, else from its environment variable, else the default.
 * A value that does not parse — from either source — fails context creation with a message naming the
 * option or variable and the value. Backends read ctx->config instead of the environment; the
 * only other getenv() calls are the device selector's (CLATTN_DEVICE, core/context.c) and the thread
 * count's (CLATTN_THREADS, host/backend.c), both also options. Not installed.
 */
#ifndef CLATTN_CORE_CONFIG_H
#define CLATTN_CORE_CONFIG_H

#include "internal.h"

typedef struct clattn_config {
    clattn_kernel_path kernel_path; /* never CLATTN_KERNEL_PATH_DEFAULT */
    clattn_host_isa host_isa;       /* never CLATTN_HOST_ISA_DEFAULT */
    const char *host_isa_source;    /* static: the option's or the variable's name, for messages */
    char *cache_dir;                /* malloc'd folder of the kernel binary cache, or NULL = cache off */
    bool cache_force;               /* CLATTN_CACHE_FORCE: use the binary cache on every platform */
    char *kernel_dir;               /* malloc'd CLATTN_KERNEL_DIR, or NULL = the embedded kernel sources */
    char *device_profile;           /* malloc'd CLATTN_DEVICE_PROFILE (test only: the OpenCL backend plans
                                     * as on that profile's device, src/opencl/profiles.c; it rejects an
                                     * unknown name), or NULL */
    char *device_weights;           /* malloc'd CLATTN_DEVICE_WEIGHTS, or NULL; parsed by core/multi.c, which
                                       knows how many devices the list has */
    clattn_log_level log_level;     /* never CLATTN_LOG_DEFAULT */
    clattn_log_fn log_fn;           /* NULL = one line per message to stderr */
    void *log_user;
} clattn_config;

/* Fills *cfg from opts (NULL = all defaults) and the environment. Errors: INVALID_ARGUMENT (an option or
 * environment value out of range or not parsing; the message names it), OUT_OF_MEMORY. On failure *cfg
 * holds nothing to free. Messages go to ctx. */
clattn_status clattn_config_resolve(clattn_context *ctx, const clattn_context_options *opts, clattn_config *cfg);

/* Releases what clattn_config_resolve allocated; accepts a zeroed config. */
void clattn_config_release(clattn_config *cfg);

/* Names of the enum values, as the options and environment variables spell them ("auto", "chain", ...). */
const char *clattn_kernel_path_name(clattn_kernel_path path);
const char *clattn_host_isa_name(clattn_host_isa isa);

/* Sends a message at `level` to the context's log sink when level <= the context's log level. */
void clattn_log(const clattn_context *ctx, clattn_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* CLATTN_CORE_CONFIG_H */
