/* Test-only OpenCL wrappers for test_oclgrind_cases (see rel_cl_shim.c). Set the flags before creating
 * a context. */
#ifndef CLATTN_REL_CL_SHIM_H
#define CLATTN_REL_CL_SHIM_H

#include <stddef.h>

#include "clattn_opencl.h"

/* Nonzero: clGetDeviceInfo(CL_DEVICE_TYPE) answers CL_DEVICE_TYPE_CPU. */
extern int rel_force_cpu_type;
/* Nonzero: clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE) answers at most this many bytes. */
extern cl_ulong rel_max_alloc;
/* Nonzero: the last clReleaseMemObject of a buffer is deferred to rel_release_kept_buffers(). */
extern int rel_keep_buffers;
/* Releases the buffers kept so far; returns how many. */
size_t rel_release_kept_buffers(void);

#endif /* CLATTN_REL_CL_SHIM_H */
