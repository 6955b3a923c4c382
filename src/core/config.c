/* A context's configuration: options first, then environment variables, then defaults (see config.h). */
#include "config.h"

#include "alloc.h"
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One spelling per enum value; index = value. */
static const char *const kernel_path_names[] = {"default", "auto", "chain", "fused"};
static const char *const host_isa_names[] = {"default", "auto", "portable", "avx2", "avx512"};
static const char *const log_level_names[] = {"default", "off", "error", "info", "debug"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *clattn_kernel_path_name(clattn_kernel_path path)
{
    return (int)path >= 0 && (int)path < COUNT(kernel_path_names) ? kernel_path_names[path] : "?";
}

const char *clattn_host_isa_name(clattn_host_isa isa)
{
    return (int)isa >= 0 && (int)isa < COUNT(host_isa_names) ? host_isa_names[isa] : "?";
}

/* "a, b or c" of names[1..n) into buf. */
static const char *choices(const char *const *names, int n, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 1; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", names[i], i == n - 1 ? "" : i == n - 2 ? " or " : ", ");
    return buf;
}

/* Resolves one enum setting: the option when nonzero (checked against the names), else the environment
 * variable when set and non-empty (case-insensitive name), else dflt. */
static clattn_status resolve_enum(clattn_context *ctx, const char *option, int value, const char *env,
                                  const char *const *names, int n, int dflt, int *out)
{
    char buf[160];
    if (value != 0) {
        if (value < 1 || value >= n)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_options.%s: %d is not a valid value "
                                                                    "(0 = from %s, or 1..%d)", option, value, env, n - 1);
        *out = value;
        return CLATTN_SUCCESS;
    }
    const char *e = getenv(env);
    if (!e || !e[0]) {
        *out = dflt;
        return CLATTN_SUCCESS;
    }
    for (int i = 1; i < n; i++)
        if (strcasecmp(e, names[i]) == 0) {
            *out = i;
            return CLATTN_SUCCESS;
        }
    return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: '%.64s' is not %s", env, e,
                        choices(names, n, buf, sizeof buf));
}

/* An on/off environment variable: unset, "", "0" = off; "1" = on; anything else is an error. */
static clattn_status resolve_flag(clattn_context *ctx, const char *env, bool *out)
{
    const char *e = getenv(env);
    *out = false;
    if (!e || !e[0] || strcmp(e, "0") == 0) return CLATTN_SUCCESS;
    if (strcmp(e, "1") == 0) {
        *out = true;
        return CLATTN_SUCCESS;
    }
    return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: '%.64s' is not 0 or 1", env, e);
}

/* The cache folder: the option, else CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn, else ~/.cache/clattn;
 * "off" or "0" (either source) turns the cache off (*dir NULL). */
static clattn_status resolve_cache_dir(clattn_context *ctx, const char *option, char **dir)
{
    *dir = NULL;
    const char *v = option && option[0] ? option : getenv("CLATTN_CACHE_DIR");
    const char *what = option && option[0] ? "clattn_context_options.cache_dir" : "CLATTN_CACHE_DIR";
    if (v && v[0]) {
        if (strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) return CLATTN_SUCCESS; /* "0": as 0.1 did */
        if (v[0] != '/')
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "%s: '%.200s' is not an absolute path or \"off\"", what, v);
        *dir = clattn_strdup(v);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && xdg[0] == '/') /* XDG: relative values are ignored */
            *dir = clattn_path_join(xdg, "clattn");
        else if (home && home[0])
            *dir = clattn_path_join(home, ".cache/clattn");
        else
            return CLATTN_SUCCESS; /* nowhere to put it: off */
    }
    if (!*dir) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "cache_dir: out of host memory");
    return CLATTN_SUCCESS;
}

/* CLATTN_DEVICE_PROFILE (test only): a device profile's name, e.g. "gpu-amd". Checked here for its
 * spelling; the OpenCL backend, which owns the table (src/opencl/profiles.c), rejects an unknown name
 * when it opens. The host backend ignores it (it has no device limits to plan from). */
static clattn_status resolve_device_profile(clattn_context *ctx, char **out)
{
    *out = NULL;
    const char *e = getenv("CLATTN_DEVICE_PROFILE");
    if (!e || !e[0]) return CLATTN_SUCCESS;
    size_t n = strlen(e);
    bool ok = n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (e[i] >= 'a' && e[i] <= 'z') || (e[i] >= 'A' && e[i] <= 'Z') || (e[i] >= '0' && e[i] <= '9') ||
             e[i] == '-' || e[i] == '_';
    if (!ok)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "CLATTN_DEVICE_PROFILE: '%.64s' is not a profile name (letters, digits, '-', '_')", e);
    if (!(*out = clattn_strdup(e)))
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "CLATTN_DEVICE_PROFILE: out of host memory");
    return CLATTN_SUCCESS;
}

/* Variables of clattn 0.1 that 0.2.0 replaced: set, they fail context creation with the new spelling rather
 * than being ignored (a test that sets CLATTN_CL_PATH=chain must not silently run the fused kernel). */
static clattn_status reject_renamed(clattn_context *ctx)
{
    static const struct {
        const char *name, *hint;
    } renamed[] = {
        {"CLATTN_CL_PATH", "renamed CLATTN_PATH in 0.2.0 (auto, chain or fused; it now applies to the host path too)"},
        {"CLATTN_CACHE_DEBUG", "replaced in 0.2.0 by CLATTN_LOG_LEVEL=debug (or the log_level option)"},
    };
    for (size_t i = 0; i < sizeof renamed / sizeof renamed[0]; i++) {
        const char *e = getenv(renamed[i].name);
        if (e && e[0])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: '%.64s' is set, but %s", renamed[i].name, e,
                                renamed[i].hint);
    }
    const char *isa = getenv("CLATTN_HOST_ISA");
    if (isa && strcasecmp(isa, "off") == 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "CLATTN_HOST_ISA: 'off' was replaced in 0.2.0 by CLATTN_PATH=chain (the row-by-row path)");
    return CLATTN_SUCCESS;
}

clattn_status clattn_config_resolve(clattn_context *ctx, const clattn_context_options *opts, clattn_config *cfg)
{
    static const clattn_context_options none = {0};
    if (!opts) opts = &none;
    memset(cfg, 0, sizeof *cfg);
    int v = 0;
    /* The log first, so that the errors of the other settings reach it. */
    cfg->log_fn = opts->log_fn;
    cfg->log_user = opts->log_user;
    CLATTN_TRY(resolve_enum(ctx, "log_level", (int)opts->log_level, "CLATTN_LOG_LEVEL", log_level_names,
                            COUNT(log_level_names), CLATTN_LOG_OFF, &v));
    cfg->log_level = (clattn_log_level)v;
    clattn_status st = reject_renamed(ctx);
    if (st == CLATTN_SUCCESS)
        st = resolve_enum(ctx, "kernel_path", (int)opts->kernel_path, "CLATTN_PATH", kernel_path_names,
                          COUNT(kernel_path_names), CLATTN_KERNEL_PATH_AUTO, &v);
    cfg->kernel_path = (clattn_kernel_path)v;
    if (st == CLATTN_SUCCESS)
        st = resolve_enum(ctx, "host_isa", (int)opts->host_isa, "CLATTN_HOST_ISA", host_isa_names,
                          COUNT(host_isa_names), CLATTN_HOST_ISA_AUTO, &v);
    cfg->host_isa = (clattn_host_isa)v;
    cfg->host_isa_source = opts->host_isa != CLATTN_HOST_ISA_DEFAULT ? "clattn_context_options.host_isa" : "CLATTN_HOST_ISA";
    if (st == CLATTN_SUCCESS) st = resolve_flag(ctx, "CLATTN_CACHE_FORCE", &cfg->cache_force);
    if (st == CLATTN_SUCCESS) st = resolve_cache_dir(ctx, opts->cache_dir, &cfg->cache_dir);
    const char *kdir = getenv("CLATTN_KERNEL_DIR");
    if (st == CLATTN_SUCCESS && kdir && kdir[0] && !(cfg->kernel_dir = clattn_strdup(kdir)))
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "CLATTN_KERNEL_DIR: out of host memory");
    if (st == CLATTN_SUCCESS) st = resolve_device_profile(ctx, &cfg->device_profile);
    const char *weights = getenv("CLATTN_DEVICE_WEIGHTS");
    if (st == CLATTN_SUCCESS && weights && weights[0] && !(cfg->device_weights = clattn_strdup(weights)))
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "CLATTN_DEVICE_WEIGHTS: out of host memory");
    if (st != CLATTN_SUCCESS) clattn_config_release(cfg);
    return st;
}

void clattn_config_release(clattn_config *cfg)
{
    free(cfg->cache_dir);
    free(cfg->kernel_dir);
    free(cfg->device_profile);
    free(cfg->device_weights);
    cfg->cache_dir = cfg->kernel_dir = cfg->device_profile = cfg->device_weights = NULL;
}

void clattn_log(const clattn_context *ctx, clattn_log_level level, const char *fmt, ...)
{
    if (!ctx || level > ctx->config.log_level || level <= CLATTN_LOG_OFF) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ctx->config.log_fn)
        ctx->config.log_fn(ctx->config.log_user, level, msg);
    else
        fprintf(stderr, "clattn %s: %s\n", log_level_names[level], msg);
}
