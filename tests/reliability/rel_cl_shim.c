/*
 * Test-only wrappers of a few OpenCL entry points, linked into test_oclgrind_cases only. The
 * executable's definitions come first in symbol lookup (libclattn.so and libclblast.so call them through
 * their PLT; the target is linked with ENABLE_EXPORTS); each forwards to the next definition: Oclgrind's
 * runtime (LD_PRELOAD) or the ICD loader.
 *
 *   clGetDeviceInfo         with rel_force_cpu_type, CL_DEVICE_TYPE answers CPU: Oclgrind reports
 *                           CPU|GPU|ACCELERATOR|DEFAULT, so clattn otherwise takes its GPU kernel variants
 *                           only (float4 tiles, a work-group per softmax row); with rel_max_alloc != 0,
 *                           CL_DEVICE_MAX_MEM_ALLOC_SIZE answers that (forces workspace chunking).
 *   clReleaseMemObject      with rel_keep_buffers, the release that would free a buffer is deferred to
 *                           rel_release_kept_buffers(). Oclgrind 21.10 reuses the slot of a freed buffer
 *                           but keeps the old, smaller "initialised" shadow map of its --uninitialized
 *                           check, so every byte past the old size reads as uninitialised in the new
 *                           buffer (a false "Uninitialized value" report; reproduced with two plain
 *                           kernels, see RELIABILITY.md). Keeping buffers alive avoids slot reuse.
 *   clEnqueueNDRangeKernel  with REL_TRACE_LAUNCHES in the environment, prints each launch to stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "rel_cl_shim.h"

int rel_force_cpu_type;
cl_ulong rel_max_alloc;
int rel_keep_buffers;

static cl_mem *kept;
static size_t n_kept, cap_kept;

/* The next definition of `name` after this executable's. */
static void *next_fn(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

#define FORWARD(type, var, name)                                                                              \
    static type var;                                                                                          \
    if (!var) {                                                                                               \
        void *sym_ = next_fn(name);                                                                           \
        var = *(type *)&sym_;                                                                                 \
    }

typedef cl_int(CL_API_CALL *get_device_info_fn)(cl_device_id, cl_device_info, size_t, void *, size_t *);

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id device, cl_device_info param, size_t size, void *value,
                                                size_t *size_ret)
{
    FORWARD(get_device_info_fn, real, "clGetDeviceInfo");
    if (!real) return CL_INVALID_DEVICE;
    cl_int err = real(device, param, size, value, size_ret);
    if (err != CL_SUCCESS || !value) return err;
    if (rel_force_cpu_type && param == CL_DEVICE_TYPE && size >= sizeof(cl_device_type))
        *(cl_device_type *)value = CL_DEVICE_TYPE_CPU;
    if (rel_max_alloc && param == CL_DEVICE_MAX_MEM_ALLOC_SIZE && size >= sizeof(cl_ulong) &&
        *(cl_ulong *)value > rel_max_alloc)
        *(cl_ulong *)value = rel_max_alloc;
    return err;
}

typedef cl_int(CL_API_CALL *release_mem_fn)(cl_mem);

CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem mem)
{
    FORWARD(release_mem_fn, real, "clReleaseMemObject");
    if (!real) return CL_INVALID_MEM_OBJECT;
    cl_uint refs = 0;
    if (rel_keep_buffers && mem &&
        clGetMemObjectInfo(mem, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL) == CL_SUCCESS && refs == 1) {
        if (n_kept == cap_kept) {
            size_t cap = cap_kept ? 2 * cap_kept : 256;
            cl_mem *p = realloc(kept, cap * sizeof *p);
            if (!p) return real(mem);
            kept = p;
            cap_kept = cap;
        }
        kept[n_kept++] = mem;
        return CL_SUCCESS;
    }
    return real(mem);
}

size_t rel_release_kept_buffers(void)
{
    FORWARD(release_mem_fn, real, "clReleaseMemObject");
    size_t n = n_kept;
    for (size_t i = 0; i < n_kept; i++) real(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = cap_kept = 0;
    return n;
}

typedef cl_int(CL_API_CALL *enqueue_nd_fn)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                                           const size_t *, cl_uint, const cl_event *, cl_event *);

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dim,
                                                       const size_t *offset, const size_t *global,
                                                       const size_t *local, cl_uint num_wait,
                                                       const cl_event *wait_list, cl_event *event)
{
    FORWARD(enqueue_nd_fn, real, "clEnqueueNDRangeKernel");
    if (!real) return CL_INVALID_OPERATION;
    if (getenv("REL_TRACE_LAUNCHES")) {
        char name[128] = "?";
        clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        fprintf(stderr, "launch %s global", name);
        for (cl_uint i = 0; i < dim; i++) fprintf(stderr, " %zu", global[i]);
        fprintf(stderr, " local");
        for (cl_uint i = 0; i < dim; i++) fprintf(stderr, " %zu", local ? local[i] : 0);
        fprintf(stderr, "\n");
    }
    return real(queue, kernel, dim, offset, global, local, num_wait, wait_list, event);
}
