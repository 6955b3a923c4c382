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
