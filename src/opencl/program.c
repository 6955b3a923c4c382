/*
 * OpenCL program assembly, build and per-context cache.
 *
 * A kernel source's program is built from two files: kernels/common.cl, then the source (scores.cl,
 * softmax.cl, weighted_sum.cl, fused.cl, bias.cl, ...), specialised by -D options. Sources are the copies embedded in
 * the library (clattn_kernel_sources[]) unless CLATTN_KERNEL_DIR names a folder to read them from
 * (development). Built programs are cached on the backend keyed by "common.cl+<source>|<options>", so
 * plans with the same options share one build, and on disk across processes (cache.h: a binary
 * cache keyed by the sources, options, platform, device, driver and clattn version).
 */
#include "alloc.h"
#include "opencl.h"

#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_SOURCE CLATTN_CL_COMMON_SOURCE
#define BASE_OPTIONS CLATTN_CL_BASE_OPTIONS


/* Reads <dir>/<name> into a malloc'd NUL-terminated string. */
static clattn_status read_file(clattn_context *ctx, const char *dir, const char *name, char **text)
{
    clattn_status st = CLATTN_SUCCESS;
    char *path = NULL, *buf = NULL;
    FILE *f = NULL;
    size_t plen = strlen(dir) + strlen(name) + 2;
    *text = NULL;

    path = clattn_malloc(plen);
    if (!path) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kernel source: out of host memory");
    snprintf(path, plen, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        st = clattn_error(ctx, CLATTN_ERROR_IO, "CLATTN_KERNEL_DIR: cannot open '%s': %s", path, strerror(errno));
        goto cleanup;
    }
    size_t cap = 16384, len = 0;
    buf = clattn_malloc(cap);
    for (;;) {
        if (!buf) {
            st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "kernel source '%s': out of host memory", path);
            goto cleanup;
        }
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f)) {
            st = clattn_error(ctx, CLATTN_ERROR_IO, "CLATTN_KERNEL_DIR: cannot read '%s'", path);
            goto cleanup;
        }
        if (feof(f)) break;
        if (len + 1 >= cap) {
            char *bigger = clattn_realloc(buf, cap * 2);
            if (!bigger) free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    *text = buf;
    buf = NULL;

cleanup:
    if (f) fclose(f);
    free(buf);
    free(path);
    return st;
}

/* *text points at the embedded source, or at *owned (malloc'd) when read from CLATTN_KERNEL_DIR. */
static clattn_status get_source(clattn_context *ctx, const char *name, const char **text, char **owned)
{
    *owned = NULL;
    const char *dir = ctx->config.kernel_dir; /* CLATTN_KERNEL_DIR, read when the context was created */
    if (dir) {
        CLATTN_TRY(read_file(ctx, dir, name, owned));
        *text = *owned;
        return CLATTN_SUCCESS;
    }
    for (size_t i = 0; i < clattn_kernel_source_count; i++) {
        if (strcmp(clattn_kernel_sources[i].name, name) == 0) {
            *text = clattn_kernel_sources[i].text;
            return CLATTN_SUCCESS;
        }
    }
    return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "kernel source '%s' is not embedded in the library", name);
}

/* Records a build failure with the options and (as much as fits of) the build log. */
static clattn_status build_failure(clattn_context *ctx, clattn_cl_state *cl, cl_program program,
                                   const char *source, const char *options, cl_int err)
{
    char *log = NULL;
    size_t log_size = 0;
    if (clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) == CL_SUCCESS &&
        log_size > 0) {
        log = clattn_malloc(log_size + 1);
        if (log && clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, log_size, log, NULL) != CL_SUCCESS) {
            free(log);
            log = NULL;
        }
        if (log) log[log_size] = '\0';
    }
    /* The message has a fixed size: keep the head of the log, where the first error is. */
    clattn_status st = clattn_error(ctx, CLATTN_ERROR_KERNEL_BUILD,
                                    "clBuildProgram of " COMMON_SOURCE "+%s failed: %s (%d); options '%s %s'; "
                                    "build log:\n%.*s",
                                    source, clattn_cl_error_string(err), (int)err, BASE_OPTIONS, options,
                                    CLATTN_ERRMSG_MAX - 512, log ? log : "(none)");
    free(log);
    return st;
}

clattn_status clattn_cl_program_get(clattn_context *ctx, clattn_cl_state *cl, const char *source,
                                    const char *options, cl_program *program)
{
    clattn_status st = CLATTN_SUCCESS;
    char *key = NULL, *full_options = NULL, *owned[2] = {NULL, NULL};
    clattn_cl_program_entry *entry = NULL;
    clattn_cl_cache_entry disk = {0};
    cl_program prog = NULL;
    *program = NULL;

    size_t klen = strlen(COMMON_SOURCE) + strlen(source) + strlen(options) + 3;
    key = clattn_malloc(klen);
    if (!key) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "program cache: out of host memory");
    snprintf(key, klen, COMMON_SOURCE "+%s|%s", source, options);
    for (clattn_cl_program_entry *e = cl->programs; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            *program = e->program;
            free(key);
            return CLATTN_SUCCESS;
        }
    }

    const char *texts[2];
    CLATTN_GOTO_IF(get_source(ctx, COMMON_SOURCE, &texts[0], &owned[0]));
    CLATTN_GOTO_IF(get_source(ctx, source, &texts[1], &owned[1]));

    size_t olen = strlen(BASE_OPTIONS) + strlen(options) + 2;
    full_options = clattn_malloc(olen);
    entry = clattn_calloc(1, sizeof *entry);
    if (!full_options || !entry) {
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "program cache: out of host memory");
        goto cleanup;
    }
    snprintf(full_options, olen, "%s %s", BASE_OPTIONS, options);

    if (clattn_cl_cache_open(&disk, ctx, cl->platform, cl->device, texts, 2, full_options,
                             cl->rules.binary_cache))
        prog = clattn_cl_cache_load(&disk, cl->context, cl->device, full_options);
    if (!prog) {
        clattn_log(ctx, CLATTN_LOG_DEBUG, "building %s+%s with '%s'", COMMON_SOURCE, source, full_options);
        CLATTN_CL_CREATE(prog, clCreateProgramWithSource, cl->context, 2, texts, NULL);
        cl_int err = clBuildProgram(prog, 1, &cl->device, full_options, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = build_failure(ctx, cl, prog, source, options, err);
            goto cleanup;
        }
        clattn_cl_cache_store(&disk, prog, cl->device);
    }

    entry->key = key;
    entry->program = prog;
    entry->next = cl->programs;
    cl->programs = entry;
    *program = prog;
    key = NULL;
    prog = NULL;
    entry = NULL;

cleanup:
    clattn_cl_cache_close(&disk);
    if (prog) clReleaseProgram(prog);
    free(entry);
    free(full_options);
    free(owned[0]);
    free(owned[1]);
    free(key);
    return st;
}

clattn_status clattn_cl_kernel_create(clattn_context *ctx, clattn_cl_state *cl, const char *source,
                                      const char *options, const char *name, cl_kernel *kernel)
{
    clattn_status st = CLATTN_SUCCESS;
    cl_program prog = NULL;
    *kernel = NULL;
    CLATTN_GOTO_IF(clattn_cl_program_get(ctx, cl, source, options, &prog));
    cl_int kerr = CL_SUCCESS;
    *kernel = clCreateKernel(prog, name, &kerr);
    if (kerr == CL_INVALID_KERNEL_NAME) { /* a source (e.g. under CLATTN_KERNEL_DIR) lacks the kernel */
        const char *dir = ctx->config.kernel_dir;
        st = clattn_error(ctx, CLATTN_ERROR_KERNEL_BUILD, "kernel '%s' not found in common.cl+%s%s%s%s", name, source,
                          dir ? " (read from CLATTN_KERNEL_DIR '" : "", dir ? dir : "", dir ? "')" : "");
        *kernel = NULL;
    } else if (kerr != CL_SUCCESS) {
        st = clattn_cl_fail(ctx, kerr, "clCreateKernel");
        *kernel = NULL;
    }
cleanup:
    return st;
}

void clattn_cl_program_cache_clear(clattn_cl_state *cl)
{
    clattn_cl_program_entry *e = cl->programs;
    while (e) {
        clattn_cl_program_entry *next = e->next;
        clReleaseProgram(e->program);
        free(e->key);
        free(e);
        e = next;
    }
    cl->programs = NULL;
}
