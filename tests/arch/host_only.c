/* Compiled by tests/arch/CMakeLists.txt with tests/arch/no_opencl first on the include path: clattn.h
 * must need no OpenCL header and define nothing of OpenCL's. */
#include "clattn.h"

#ifdef CL_TARGET_OPENCL_VERSION
#error "clattn.h defined CL_TARGET_OPENCL_VERSION"
#endif
#ifdef CL_SUCCESS
#error "clattn.h pulled in OpenCL definitions"
#endif

int host_only_uses_the_api(void);
int host_only_uses_the_api(void)
{
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 2, 2, 3, 3, 4, 4);
    return (int)d.q.dims[0];
}
