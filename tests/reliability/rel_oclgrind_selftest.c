/*
 * rel_oclgrind_selftest: proves that the oclgrind.* tests can fail. Runs two deliberately wrong kernels
 * (an out-of-bounds write and a write-write race) on the first OpenCL device, which is Oclgrind's when
 * started as `oclgrind ... rel_oclgrind_selftest`. Registered with WILL_FAIL and the same
 * FAIL_REGULAR_EXPRESSION as the real groups: it passes only if Oclgrind intercepted the program and its
 * reports reached CTest. Exit 77 without an OpenCL platform.
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>

static const char *source =
    "__kernel void oob(__global float *a, int n) { a[get_global_id(0) + n] = 1.0f; }\n"
    "__kernel void race(__global float *a) { a[0] = (float)get_global_id(0); }\n";

int main(void)
{
    cl_platform_id platform;
    cl_device_id device;
    cl_int err;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        printf("SKIP: no OpenCL device\n");
        return 77;
    }
    char name[128] = "";
    clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name, name, NULL);
    printf("# platform '%s'\n", name);
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    cl_command_queue queue = clCreateCommandQueue(ctx, device, 0, &err);
    cl_program program = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    if (clBuildProgram(program, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
        printf("build failed\n");
        return 1;
    }
    cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 16 * sizeof(float), NULL, &err);
    const char *names[] = {"oob", "race"};
    for (int i = 0; i < 2; i++) {
        cl_kernel k = clCreateKernel(program, names[i], &err);
        cl_int n = 14;
        clSetKernelArg(k, 0, sizeof buf, &buf);
        if (i == 0) clSetKernelArg(k, 1, sizeof n, &n);
        size_t global = 4, local = 4;
        clEnqueueNDRangeKernel(queue, k, 1, NULL, &global, &local, 0, NULL, NULL);
        clFinish(queue);
        clReleaseKernel(k);
    }
    clReleaseMemObject(buf);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(ctx);
    printf("ran the faulty kernels (Oclgrind must have reported them)\n");
    return 0;
}
