/* Compiled with -Werror by tests/arch/CMakeLists.txt: an application on OpenCL 3.0 chooses its own
 * CL_TARGET_OPENCL_VERSION and includes clattn_opencl.h without a clash. */
#define CL_TARGET_OPENCL_VERSION 300
#include "clattn_opencl.h"

cl_int opencl_300_uses_the_api(clattn_sdpa_plan *plan, cl_mem q, cl_mem k, cl_mem v, cl_mem out);
cl_int opencl_300_uses_the_api(clattn_sdpa_plan *plan, cl_mem q, cl_mem k, cl_mem v, cl_mem out)
{
    return clattn_sdpa_enqueue(plan, q, k, v, NULL, NULL, out, NULL, 0, NULL, NULL) == CLATTN_SUCCESS ? CL_SUCCESS
                                                                                                      : CL_INVALID_VALUE;
}
