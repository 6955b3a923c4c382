/* The kernel table (clattn_kernel_count / clattn_kernel_get in clattn.h): the backends' rows
 * (core/backend.h), OpenCL first, then host. */
#include "backend.h"

size_t clattn_kernel_count(void)
{
    return clattn_opencl_kernel_count + clattn_host_kernel_count;
}

const clattn_kernel_entry *clattn_kernel_get(size_t i)
{
    if (i < clattn_opencl_kernel_count) return &clattn_opencl_kernels[i];
    i -= clattn_opencl_kernel_count;
    return i < clattn_host_kernel_count ? &clattn_host_kernels[i] : NULL;
}
