/*
 * Device profiles: GPU-shaped limits for planning without the GPU (issue #10 item 4).
 *
 * A profile is what the planner reads of a device — type, CL_DEVICE_MAX_WORK_GROUP_SIZE,
 * CL_DEVICE_MAX_WORK_ITEM_SIZES, CL_DEVICE_LOCAL_MEM_SIZE, CL_DEVICE_MAX_COMPUTE_UNITS, the FMA bit of
 * CL_DEVICE_SINGLE_FP_CONFIG, CL_DEVICE_EXTENSIONS, and the platform/device names that choose the rules
 * row (rules.c). Two uses:
 *   - CLATTN_DEVICE_PROFILE=<name> (test only; parsed by core/config.c into ctx->config.device_profile):
 *     the OpenCL backend plans as on that device while the kernels run on the real one
 *     (clattn_cl_profile_apply), so PoCL and Oclgrind execute and check the GPU kernels;
 *   - planning from a profile alone, with no cl_device_id (the `clattn kernels --profile` report).
 * The values are those of real devices of the class (public specifications), not measurements.
 */
#include "opencl.h"

#include <string.h>
#include <strings.h>

#define KIB ((cl_ulong)1024)
#define GIB ((cl_ulong)1024 * 1024 * 1024)

static const clattn_cl_profile profiles[] = {
    /* AMD Instinct MI210 (CDNA2, gfx90a): 104 CUs, 64 KiB LDS per work-group, work-groups of up to 256
     * (ROCm's default CL_DEVICE_MAX_WORK_GROUP_SIZE), wave64. ROCm reports cl_khr_fp16 on gfx90a; the
     * profile leaves it out so that plans use the portable twins (fp16 profiles come with item 5). */
    {.name = "gpu-amd",
     .what = "AMD Instinct MI210-like: 104 CUs, work-groups <= 256, 64 KiB local memory",
     .platform_name = "AMD Accelerated Parallel Processing",
     .device_name = "gfx90a:sramecc+:xnack-",
     .vendor = "Advanced Micro Devices, Inc.",
     .type = CL_DEVICE_TYPE_GPU,
     .max_wg = 256,
     .max_wi_sizes = {256, 256, 256},
     .local_mem = 64 * KIB,
     .compute_units = 104,
     .max_alloc = 56 * GIB,
     .global_mem = 64 * GIB,
     .fma = true,
     .extensions = "cl_khr_fp64 cl_khr_global_int32_base_atomics cl_khr_global_int32_extended_atomics "
                   "cl_khr_local_int32_base_atomics cl_khr_local_int32_extended_atomics cl_khr_int64_base_atomics "
                   "cl_khr_int64_extended_atomics cl_khr_byte_addressable_store"},
    /* A small GPU (an older integrated or embedded part): work-groups of at most 64, 16 KiB of local
     * memory, 8 CUs. The smallest limits the planner must cope with (tiles shrink to fit). */
    {.name = "gpu-small",
     .what = "small GPU: 8 CUs, work-groups <= 64, 16 KiB local memory",
     .platform_name = "clattn profile",
     .device_name = "gpu-small",
     .vendor = "clattn",
     .type = CL_DEVICE_TYPE_GPU,
     .max_wg = 64,
     .max_wi_sizes = {64, 64, 64},
     .local_mem = 16 * KIB,
     .compute_units = 8,
     .max_alloc = 1 * GIB,
     .global_mem = 4 * GIB,
     .fma = true,
     .extensions = "cl_khr_global_int32_base_atomics cl_khr_local_int32_base_atomics cl_khr_byte_addressable_store"},
    /* The CPU runtimes clattn is tested on, as they reported themselves on the 2-core Zen 4 machine of
     * FIELD-NOTES.md (clattn_device_list_get()), for comparison in plan reports (`clattn kernels --profile`):
     * PoCL 3.1 (pthread device) and Mesa rusticl on llvmpipe. Their rows of rules.c follow from the names. */
    {.name = "pocl",
     .what = "PoCL 3.1 CPU device: 2 CUs, work-groups <= 4096, 1 MiB local memory",
     .platform_name = "Portable Computing Language",
     .device_name = "cpu",
     .vendor = "AuthenticAMD",
     .type = CL_DEVICE_TYPE_CPU,
     .max_wg = 4096,
     .max_wi_sizes = {4096, 4096, 4096},
     .local_mem = 1024 * KIB,
     .compute_units = 2,
     .max_alloc = 8 * GIB,
     .global_mem = 21 * GIB,
     .fma = true,
     .extensions = "cl_khr_byte_addressable_store cl_khr_global_int32_base_atomics cl_khr_fp64"},
    {.name = "rusticl",
     .what = "Mesa rusticl on llvmpipe: 8 CUs, work-groups <= 1024, 32 KiB local memory",
     .platform_name = "rusticl",
     .device_name = "llvmpipe",
     .vendor = "Mesa",
     .type = CL_DEVICE_TYPE_CPU,
     .max_wg = 1024,
     .max_wi_sizes = {1024, 1024, 1024},
     .local_mem = 32 * KIB,
     .compute_units = 8,
     .max_alloc = 2 * GIB,
     .global_mem = 2 * GIB,
     .fma = false,
     .extensions = "cl_khr_byte_addressable_store cl_khr_global_int32_base_atomics"},
};

size_t clattn_cl_profile_count(void)
{
    return sizeof profiles / sizeof profiles[0];
}

const clattn_cl_profile *clattn_cl_profile_at(size_t i)
{
    return i < clattn_cl_profile_count() ? &profiles[i] : NULL;
}

const clattn_cl_profile *clattn_cl_profile_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < clattn_cl_profile_count(); i++)
        if (strcasecmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}

const char *clattn_cl_profile_names(char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < clattn_cl_profile_count() && len + 1 < cap; i++) {
        size_t n = strlen(profiles[i].name);
        if (i > 0 && len + 2 < cap) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        if (len + n >= cap) n = cap - len - 1;
        memcpy(buf + len, profiles[i].name, n);
        len += n;
        buf[len] = '\0';
    }
    return buf;
}

static cl_ulong min_u64(cl_ulong a, cl_ulong b)
{
    return a < b ? a : b;
}

void clattn_cl_profile_apply(const clattn_cl_profile *pr, clattn_cl_state *cl, bool on_device)
{
    const clattn_cl_rules real = cl->rules;
    cl->profile = pr;
    cl->type = pr->type;
    cl->fma = pr->fma;
    cl->rules = clattn_cl_rules_resolve(pr->platform_name, pr->device_name, pr->type);
    if (!on_device) {
        /* Planning from the profile alone: every limit is the profile's. */
        cl->max_wg = pr->max_wg;
        for (int d = 0; d < 3; d++) cl->max_wi_sizes[d] = pr->max_wi_sizes[d];
        cl->local_mem = pr->local_mem;
        cl->max_alloc = pr->max_alloc;
        cl->global_mem = pr->global_mem;
        cl->compute_units = pr->compute_units;
        return;
    }
    /* Kernels still run on the real device, so each limit that running needs is the smaller of the
     * profile's and the device's: work-group sizes (a launch above the device's maximum fails),
     * local memory (Oclgrind has 32 KiB, less than gpu-amd's 64), allocation and global memory sizes.
     * On PoCL (4096 work-items, 1 MiB local memory) the profile's values stand unchanged. The compute
     * unit count is only a planning figure (key partitions), so the profile's is taken as it is. */
    cl->max_wg = (size_t)min_u64(cl->max_wg, pr->max_wg);
    for (int d = 0; d < 3; d++) cl->max_wi_sizes[d] = (size_t)min_u64(cl->max_wi_sizes[d], pr->max_wi_sizes[d]);
    cl->local_mem = min_u64(cl->local_mem, pr->local_mem);
    cl->max_alloc = min_u64(cl->max_alloc, pr->max_alloc);
    cl->global_mem = min_u64(cl->global_mem, pr->global_mem);
    cl->compute_units = pr->compute_units;
    /* Rules that the real driver needs for correct results or that concern building on it, not
     * planning: Mesa llvmpipe's loop limit (LOOP in rules.c; the smaller nonzero budget wins) and
     * whether clattn's binary cache is used (CACHE: a property of the driver that builds). */
    if (real.fused_loop_budget > 0 &&
        (cl->rules.fused_loop_budget == 0 || real.fused_loop_budget < cl->rules.fused_loop_budget))
        cl->rules.fused_loop_budget = real.fused_loop_budget;
    if (real.chain_loop_budget < cl->rules.chain_loop_budget) cl->rules.chain_loop_budget = real.chain_loop_budget;
    cl->rules.binary_cache = real.binary_cache;
}
