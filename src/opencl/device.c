/*
 * OpenCL platform/device enumeration and the CLATTN_DEVICE selector.
 *
 * Grammar (see opencl.h for the precise rules):
 *   ""            first GPU over all platforms, else first CPU device, else the host path
 *   "host"        the host path
 *   "<platform>:<type>:<device>"   1-3 fields, each empty, an index (all digits) or a substring
 *   examples: "pocl", "portable", "rusticl::", ":cpu:0", ":gpu:1", "portable:cpu:0", "0:all:0"
 * Platforms without devices (Mesa Clover) are skipped; no ICD at all (-1001) means the host path
 * under the default rule.
 */
#include "alloc.h"
#include "opencl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------------------------------ */

static bool str_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

/* Case-insensitive substring search; an empty needle matches. */
static bool str_icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return true;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return true;
    }
    return false;
}

/* Copies [b, e) trimmed of spaces into out (size CLATTN_SELECTOR_TEXT_MAX). False if too long. */
static bool copy_trimmed(const char *b, const char *e, char *out)
{
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    size_t n = (size_t)(e - b);
    if (n >= CLATTN_SELECTOR_TEXT_MAX) return false;
    memcpy(out, b, n);
    out[n] = '\0';
    return true;
}

static void classify_field(clattn_selector_field *f)
{
    if (f->text[0] == '\0') {
        f->kind = CLATTN_SEL_ANY;
        return;
    }
    uint64_t v = 0;
    for (const char *p = f->text; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            f->kind = CLATTN_SEL_NAME;
            return;
        }
        unsigned d = (unsigned)(*p - '0');
        v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
    }
    f->kind = CLATTN_SEL_INDEX;
    f->index = v;
}

clattn_status clattn_selector_parse(clattn_context *ctx, const char *text, clattn_selector *sel)
{
    if (!sel) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "device selector: NULL output");
    memset(sel, 0, sizeof *sel);
    sel->type = CL_DEVICE_TYPE_ALL;

    char whole[CLATTN_SELECTOR_TEXT_MAX];
    if (!text) text = "";
    if (!copy_trimmed(text, text + strlen(text), whole))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "device selector: longer than %d characters", CLATTN_SELECTOR_TEXT_MAX - 1);
    if (whole[0] == '\0') {
        sel->is_default = true;
        return CLATTN_SUCCESS;
    }
    if (str_ieq(whole, "host")) {
        sel->is_host = true;
        return CLATTN_SUCCESS;
    }

    /* Split into at most 3 fields. */
    const char *starts[3] = {whole, NULL, NULL};
    const char *ends[3] = {NULL, NULL, NULL};
    int nfields = 1;
    for (const char *p = whole;; p++) {
        if (*p == ':' || *p == '\0') {
            ends[nfields - 1] = p;
            if (*p == '\0') break;
            if (nfields == 3)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "device selector '%s': more than 3 fields; expected "
                                    "<platform>:<type>:<device>",
                                    whole);
            starts[nfields++] = p + 1;
        }
    }

    char type_text[CLATTN_SELECTOR_TEXT_MAX] = "";
    /* Every field fits: the whole string did. */
    (void)copy_trimmed(starts[0], ends[0], sel->platform.text);
    if (nfields >= 2) (void)copy_trimmed(starts[1], ends[1], type_text);
    if (nfields >= 3) (void)copy_trimmed(starts[2], ends[2], sel->device.text);
    classify_field(&sel->platform);
    classify_field(&sel->device);

    if (type_text[0] == '\0' || str_ieq(type_text, "all")) {
        sel->type = CL_DEVICE_TYPE_ALL;
    } else if (str_ieq(type_text, "gpu")) {
        sel->type = CL_DEVICE_TYPE_GPU;
    } else if (str_ieq(type_text, "cpu")) {
        sel->type = CL_DEVICE_TYPE_CPU;
    } else if (str_ieq(type_text, "accelerator")) {
        sel->type = CL_DEVICE_TYPE_ACCELERATOR;
    } else {
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "device selector '%s': type field '%s' is not gpu, cpu, accelerator or all",
                            whole, type_text);
    }
    return CLATTN_SUCCESS;
}

/* ---- enumeration -------------------------------------------------------------------------------- */

typedef struct dev_entry {
    cl_device_id id;
    cl_device_type type;
    cl_bool available;
    char name[256];
} dev_entry;

typedef struct plat_entry {
    cl_platform_id id;
    char name[256];
    char vendor[256];
    cl_int devices_err; /* result of clGetDeviceIDs */
    cl_int info_err;    /* first failed name query of the platform or its devices (listed in messages) */
    cl_uint ndev;
    dev_entry *devs;
} plat_entry;

static void free_platforms(plat_entry *plats, cl_uint n)
{
    if (!plats) return;
    for (cl_uint i = 0; i < n; i++) free(plats[i].devs);
    free(plats);
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

/* Serialises enumerate() process-wide. PoCL 3.1 initialises its devices in the first clGetDeviceIDs
 * (pocl_init_devices); a second thread calling it during that initialisation returns at once (its
 * unlocked `init_in_progress` check, meant for recursive calls) and goes on with half-initialised
 * devices: kernels later crash in the device threads (SIGSEGV in the kernel's .so, or the assertion
 * `found->ref_count > 0` in pocl_release_dlhandle_cache). A plain OpenCL program with 8 threads that
 * each enumerate, create a context and launch one kernel crashed in 34 of 40 runs; serialising only
 * clGetDeviceIDs, 0 of 40 (RELIABILITY.md, section 3). Enumeration runs once per context creation, so
 * the lock costs nothing measurable. */
static pthread_mutex_t enumerate_mutex = PTHREAD_MUTEX_INITIALIZER;

static clattn_status enumerate_unlocked(clattn_context *ctx, plat_entry **out, cl_uint *nplat);

/* Enumerates every platform and its devices. *nplat = 0 (success) when there is no ICD. */
static clattn_status enumerate(clattn_context *ctx, plat_entry **out, cl_uint *nplat)
{
    pthread_mutex_lock(&enumerate_mutex);
    clattn_status st = enumerate_unlocked(ctx, out, nplat);
    pthread_mutex_unlock(&enumerate_mutex);
    return st;
}

static clattn_status enumerate_unlocked(clattn_context *ctx, plat_entry **out, cl_uint *nplat)
{
    clattn_status st = CLATTN_SUCCESS;
    cl_platform_id *ids = NULL;
    plat_entry *plats = NULL;
    cl_uint n = 0;
    *out = NULL;
    *nplat = 0;

    cl_int err = clGetPlatformIDs(0, NULL, &n);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: no ICD */ || (err == CL_SUCCESS && n == 0)) return CLATTN_SUCCESS;
    if (err != CL_SUCCESS) return clattn_cl_fail(ctx, err, "clGetPlatformIDs");

    ids = clattn_calloc(n, sizeof *ids);
    plats = clattn_calloc(n, sizeof *plats);
    if (!ids || !plats) {
        st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "device selection: out of host memory");
        goto cleanup;
    }
    CLATTN_CL_CHECK(clGetPlatformIDs(n, ids, NULL));

    for (cl_uint p = 0; p < n; p++) {
        plat_entry *pe = &plats[p];
        pe->id = ids[p];
        /* Name queries are informational; a failure leaves the string empty. */
        cl_int ierr = clGetPlatformInfo(ids[p], CL_PLATFORM_NAME, sizeof pe->name, pe->name, NULL);
        if (ierr != CL_SUCCESS) {
            pe->name[0] = '\0';
            pe->info_err = ierr;
        }
        ierr = clGetPlatformInfo(ids[p], CL_PLATFORM_VENDOR, sizeof pe->vendor, pe->vendor, NULL);
        if (ierr != CL_SUCCESS) {
            pe->vendor[0] = '\0';
            if (!pe->info_err) pe->info_err = ierr;
        }
        pe->name[sizeof pe->name - 1] = pe->vendor[sizeof pe->vendor - 1] = '\0';

        cl_uint nd = 0;
        pe->devices_err = clGetDeviceIDs(ids[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (pe->devices_err != CL_SUCCESS || nd == 0) continue; /* Clover: CL_DEVICE_NOT_FOUND */
        cl_device_id *dids = clattn_calloc(nd, sizeof *dids);
        pe->devs = clattn_calloc(nd, sizeof *pe->devs);
        if (!dids || !pe->devs) {
            free(dids);
            st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "device selection: out of host memory");
            goto cleanup;
        }
        pe->devices_err = clGetDeviceIDs(ids[p], CL_DEVICE_TYPE_ALL, nd, dids, NULL);
        if (pe->devices_err != CL_SUCCESS) {
            free(dids);
            continue;
        }
        for (cl_uint d = 0; d < nd; d++) {
            dev_entry *de = &pe->devs[d];
            de->id = dids[d];
            cl_int derr = clGetDeviceInfo(dids[d], CL_DEVICE_NAME, sizeof de->name, de->name, NULL);
            if (derr != CL_SUCCESS) {
                de->name[0] = '\0';
                if (!pe->info_err) pe->info_err = derr;
            }
            de->name[sizeof de->name - 1] = '\0';
            if (clGetDeviceInfo(dids[d], CL_DEVICE_TYPE, sizeof de->type, &de->type, NULL) != CL_SUCCESS)
                de->type = 0;
            if (clGetDeviceInfo(dids[d], CL_DEVICE_AVAILABLE, sizeof de->available, &de->available, NULL) !=
                CL_SUCCESS)
                de->available = CL_TRUE;
        }
        pe->ndev = nd;
        free(dids);
    }
    *out = plats;
    *nplat = n;
    plats = NULL;

cleanup:
    free(ids);
    free_platforms(plats, n);
    return st;
}

/* Appends printf-style text to buf (size cap), truncating. */
static void appendf(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* "platform 0 'A' (vendor 'V'): device 0 'x' (CPU); platform 1 'B': no devices" */
static void describe_all(char *buf, size_t cap, const plat_entry *plats, cl_uint n)
{
    buf[0] = '\0';
    if (n == 0) {
        appendf(buf, cap, "no OpenCL platforms (no ICD installed)");
        return;
    }
    for (cl_uint p = 0; p < n; p++) {
        const plat_entry *pe = &plats[p];
        appendf(buf, cap, "%splatform %u '%s' (vendor '%s'): ", p ? "; " : "", p, pe->name, pe->vendor);
        if (pe->info_err != CL_SUCCESS)
            appendf(buf, cap, "[a name query failed: %s (%d)] ", clattn_cl_error_string(pe->info_err),
                    (int)pe->info_err);
        if (pe->devices_err != CL_SUCCESS && pe->devices_err != CL_DEVICE_NOT_FOUND) {
            appendf(buf, cap, "clGetDeviceIDs failed: %s (%d)", clattn_cl_error_string(pe->devices_err),
                    (int)pe->devices_err);
            continue;
        }
        if (pe->ndev == 0) {
            appendf(buf, cap, "no devices");
            continue;
        }
        for (cl_uint d = 0; d < pe->ndev; d++)
            appendf(buf, cap, "%sdevice %u '%s' (%s%s)", d ? ", " : "", d, pe->devs[d].name,
                    type_name(pe->devs[d].type), pe->devs[d].available ? "" : ", unavailable");
    }
}

static bool platform_matches(const clattn_selector_field *f, cl_uint index, const plat_entry *pe)
{
    switch (f->kind) {
    case CLATTN_SEL_ANY: return true;
    case CLATTN_SEL_INDEX: return f->index == index;
    case CLATTN_SEL_NAME: return str_icontains(pe->name, f->text) || str_icontains(pe->vendor, f->text);
    }
    return false;
}

/* Default rule: first available GPU, else first available CPU. */
static cl_device_id pick_default(const plat_entry *plats, cl_uint n)
{
    const cl_device_type order[2] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU};
    for (int t = 0; t < 2; t++)
        for (cl_uint p = 0; p < n; p++)
            for (cl_uint d = 0; d < plats[p].ndev; d++)
                if ((plats[p].devs[d].type & order[t]) && plats[p].devs[d].available) return plats[p].devs[d].id;
    return NULL;
}

static cl_device_id pick_selected(const clattn_selector *sel, const plat_entry *plats, cl_uint n)
{
    uint64_t counted = 0; /* devices passing the platform and type filters so far */
    for (cl_uint p = 0; p < n; p++) {
        if (!platform_matches(&sel->platform, p, &plats[p])) continue;
        for (cl_uint d = 0; d < plats[p].ndev; d++) {
            const dev_entry *de = &plats[p].devs[d];
            if (sel->type != CL_DEVICE_TYPE_ALL && !(de->type & sel->type)) continue;
            switch (sel->device.kind) {
            case CLATTN_SEL_ANY: return de->id;
            case CLATTN_SEL_INDEX:
                if (counted == sel->device.index) return de->id;
                break;
            case CLATTN_SEL_NAME:
                if (str_icontains(de->name, sel->device.text)) return de->id;
                break;
            }
            counted++;
        }
    }
    return NULL;
}

clattn_status clattn_device_select(clattn_context *ctx, const char *selector, bool *use_host,
                                   cl_device_id *device)
{
    clattn_status st = CLATTN_SUCCESS;
    plat_entry *plats = NULL;
    cl_uint n = 0;
    char *listing = NULL;
    clattn_selector sel;

    if (!use_host || !device)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_device_select: NULL output");
    *use_host = false;
    *device = NULL;

    CLATTN_GOTO_IF(clattn_selector_parse(ctx, selector, &sel));
    if (sel.is_host) {
        *use_host = true;
        goto cleanup;
    }
    CLATTN_GOTO_IF(enumerate(ctx, &plats, &n));

    if (sel.is_default) {
        *device = pick_default(plats, n);
        if (!*device) *use_host = true; /* no ICD, no platforms, or no GPU/CPU device */
        goto cleanup;
    }

    *device = pick_selected(&sel, plats, n);
    if (!*device) {
        listing = clattn_malloc(CLATTN_ERRMSG_MAX);
        if (!listing) {
            st = clattn_error(ctx, CLATTN_ERROR_DEVICE_NOT_FOUND, "device selector '%s' matched no device",
                              selector);
            goto cleanup;
        }
        describe_all(listing, CLATTN_ERRMSG_MAX, plats, n);
        st = clattn_error(ctx, CLATTN_ERROR_DEVICE_NOT_FOUND,
                          "device selector '%s' matched no device; available: %s", selector, listing);
    }

cleanup:
    free(listing);
    free_platforms(plats, n);
    return st;
}

/* ---- device properties (clattn_cl_device_query, clattn_opencl_device_describe) ---------------------- */

/* Copies a string device/platform property into dst (size n); "" and the error on failure. A value too
 * long for dst is fetched whole and truncated; *truncated (if non-NULL) says so. */
static cl_int info_string(cl_device_id dev, cl_platform_id plat, cl_uint param, char *dst, size_t n, bool *truncated)
{
    if (truncated) *truncated = false;
    cl_int err = plat ? clGetPlatformInfo(plat, param, n, dst, NULL) : clGetDeviceInfo(dev, param, n, dst, NULL);
    if (err != CL_SUCCESS) {
        /* Too long for dst (CL_INVALID_VALUE): fetch it whole and truncate. */
        size_t size = 0;
        err = plat ? clGetPlatformInfo(plat, param, 0, NULL, &size) : clGetDeviceInfo(dev, param, 0, NULL, &size);
        char *tmp = err == CL_SUCCESS && size > 0 ? clattn_malloc(size) : NULL;
        if (err == CL_SUCCESS && size > 0)
            err = !tmp ? CL_OUT_OF_HOST_MEMORY
                  : plat ? clGetPlatformInfo(plat, param, size, tmp, NULL)
                         : clGetDeviceInfo(dev, param, size, tmp, NULL);
        if (err == CL_SUCCESS && tmp) {
            snprintf(dst, n, "%.*s", (int)(size - 1), tmp);
            if (truncated) *truncated = strlen(tmp) >= n;
        } else {
            dst[0] = '\0';
        }
        free(tmp);
    }
    dst[n - 1] = '\0';
    return err;
}

/* Whether the space-separated list `list` names extension `ext`. */
static bool has_extension(const char *list, const char *ext)
{
    const size_t n = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* CL_DEVICE_EXTENSIONS whole (malloc'd; NULL when the query fails or memory is short). */
static char *extensions_whole(cl_device_id dev)
{
    size_t size = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS || size == 0) return NULL;
    char *s = clattn_malloc(size + 1);
    if (s && clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, size, s, NULL) != CL_SUCCESS) {
        free(s);
        return NULL;
    }
    if (s) s[size] = '\0';
    return s;
}

clattn_device_type clattn_cl_public_type(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return CLATTN_DEVICE_TYPE_GPU;
    if (t & CL_DEVICE_TYPE_CPU) return CLATTN_DEVICE_TYPE_CPU;
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return CLATTN_DEVICE_TYPE_ACCELERATOR;
    return CLATTN_DEVICE_TYPE_OTHER;
}

clattn_status clattn_cl_device_query(clattn_context *ctx, cl_device_id device, clattn_cl_state *cl,
                                     clattn_device_info *info)
{
    clattn_status st = CLATTN_SUCCESS;
    char *ext = NULL;
    cl_uint cus = 0;
    cl_bool available = CL_TRUE;
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof cl->platform, &cl->platform, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof cl->type, &cl->type, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof cl->max_wg, &cl->max_wg, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof cl->max_wi_sizes, cl->max_wi_sizes, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof cl->local_mem, &cl->local_mem, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof cl->max_alloc, &cl->max_alloc, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof cl->global_mem, &cl->global_mem, NULL));
    CLATTN_CL_CHECK(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL));
    cl->compute_units = cus;
    {
        cl_device_fp_config fp = 0;
        cl->fma = clGetDeviceInfo(device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS &&
                  (fp & CL_FP_FMA) != 0;
    }
    if (clGetDeviceInfo(device, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL) != CL_SUCCESS)
        available = CL_TRUE;

    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->backend = CLATTN_BACKEND_OPENCL;
    /* The names are not only informational: they choose the device rules (rules.c; the rusticl row holds
     * the loop-budget limits llvmpipe needs for correct results), so failing to read them fails. */
    cl_int name_err = info_string(NULL, cl->platform, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name, NULL);
    if (name_err == CL_SUCCESS)
        name_err = info_string(device, NULL, CL_DEVICE_NAME, info->device_name, sizeof info->device_name, NULL);
    if (name_err != CL_SUCCESS) {
        st = clattn_cl_fail(ctx, name_err, "clGetPlatformInfo/clGetDeviceInfo(CL_PLATFORM_NAME, CL_DEVICE_NAME)");
        goto cleanup;
    }
    cl->rules = clattn_cl_rules_resolve(info->platform_name, info->device_name, cl->type);
    info_string(device, NULL, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor, NULL);
    info_string(device, NULL, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version, NULL);
    info_string(device, NULL, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version, NULL);
    info_string(NULL, cl->platform, CL_PLATFORM_VERSION, info->platform_version, sizeof info->platform_version, NULL);
    info->num_threads = (int)cus;
    info->global_mem_bytes = cl->global_mem;
    info->local_mem_bytes = cl->local_mem;
    info->max_work_group_size = cl->max_wg;
    info->type = clattn_cl_public_type(cl->type);
    info->compute_units = cus;
    info->max_alloc_bytes = cl->max_alloc;
    info->flags = (available ? CLATTN_DEVICE_FLAG_AVAILABLE : 0u) | (cl->fma ? CLATTN_DEVICE_FLAG_FMA : 0u);
    ext = extensions_whole(device);
    if (ext) {
        snprintf(info->extensions, sizeof info->extensions, "%s", ext);
        if (strlen(ext) >= sizeof info->extensions) {
            /* cut at the last whole name */
            char *sp = strrchr(info->extensions, ' ');
            if (sp) *sp = '\0';
            info->flags |= CLATTN_DEVICE_FLAG_EXTENSIONS_TRUNCATED;
        }
        static const struct {
            const char *name;
            uint32_t flag;
        } ext_flags[] = {{"cl_khr_fp16", CLATTN_DEVICE_FLAG_FP16},
                         {"cl_khr_fp64", CLATTN_DEVICE_FLAG_FP64},
                         {"cl_khr_subgroups", CLATTN_DEVICE_FLAG_SUBGROUPS},
                         {"cl_intel_subgroups", CLATTN_DEVICE_FLAG_INTEL_SUBGROUPS}};
        for (size_t i = 0; i < sizeof ext_flags / sizeof ext_flags[0]; i++)
            if (has_extension(ext, ext_flags[i].name)) info->flags |= ext_flags[i].flag;
    }

cleanup:
    free(ext);
    return st;
}

clattn_status clattn_cl_profile_configured(clattn_context *ctx, clattn_cl_state *cl, const char *real_device)
{
    if (!ctx->config.device_profile) return CLATTN_SUCCESS;
    /* CLATTN_DEVICE_PROFILE (test only): plan as on the profile's device, run on this one. */
    const clattn_cl_profile *pr = clattn_cl_profile_find(ctx->config.device_profile);
    if (!pr) {
        char names[128];
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "CLATTN_DEVICE_PROFILE: '%s' is not a device profile (%s)",
                            ctx->config.device_profile, clattn_cl_profile_names(names, sizeof names));
    }
    clattn_cl_profile_apply(pr, cl, true);
    clattn_log(ctx, CLATTN_LOG_INFO,
               "CLATTN_DEVICE_PROFILE=%s: planning as on %s (%s; rules row '%s', work-groups <= %zu, %llu bytes of "
               "local memory, %u CUs), running on %s",
               pr->name, pr->device_name, pr->what, cl->rules.row, cl->max_wg, (unsigned long long)cl->local_mem,
               cl->compute_units, real_device);
    return CLATTN_SUCCESS;
}

clattn_status clattn_opencl_device_describe(size_t index, clattn_device_info *info, size_t *count, bool *has_default)
{
    clattn_status st = CLATTN_SUCCESS;
    plat_entry *plats = NULL;
    cl_uint n = 0;
    *count = 0;
    *has_default = false;
    CLATTN_GOTO_IF(enumerate(NULL, &plats, &n));
    const cl_device_id def = pick_default(plats, n);
    *has_default = def != NULL;
    size_t k = 0;
    for (cl_uint p = 0; p < n; p++) {
        for (cl_uint d = 0; d < plats[p].ndev; d++, k++) {
            if (!info || k != index) continue;
            clattn_cl_state cl;
            memset(&cl, 0, sizeof cl);
            CLATTN_GOTO_IF(clattn_cl_device_query(NULL, plats[p].devs[d].id, &cl, info));
            snprintf(info->selector, sizeof info->selector, "%u::%u", p, d);
            if (plats[p].devs[d].id == def) info->flags |= CLATTN_DEVICE_FLAG_DEFAULT;
        }
    }
    *count = k;

cleanup:
    free_platforms(plats, n);
    return st;
}
