/*
 * rel_oclgrind_slot_reuse: the Oclgrind 21.10 --uninitialized defect that rel_cl_shim.c (rel_keep_buffers) and
 * rel_oclgrind_keep_buffers.c work around, with two plain kernels (RELIABILITY.md, section 1):
 *   wr(s):    s[i] = 1                        (writes every element)
 *   rd(s, o): if (s[i] != -INFINITY) o[i] = 2 * s[i]   (the branch of clattn_softmax: `if (s != -INFINITY)`)
 * Modes (argv[1]):
 *   reuse  a 16-byte buffer written by the host is released first; the 1024-byte buffer S created next takes
 *          its Oclgrind slot and keeps its 16-byte shadow map, so wr's stores past byte 16 are dropped from
 *          the map and rd reports "Controlflow depends on uninitialized value" for 252 of 256 work-items,
 *          although S is fully written (the program checks the values it reads back: all 2).
 *   real   rd reads S without wr: a true read of unwritten memory, to be reported whatever the workaround.
 * Exit 0 when the values read back are right (reuse) or always (real), 77 without an OpenCL device.
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <string.h>

static const char *source =
    "__kernel void wr(__global float *s) { s[get_global_id(0)] = 1.0f; }\n"
    "__kernel void rd(__global const float *s, __global float *o) {\n"
    "    const size_t i = get_global_id(0);\n"
    "    const float x = s[i];\n"
    "    if (x != -INFINITY) o[i] = 2.0f * x;\n"
    "}\n";

#define N 256

int main(int argc, char **argv)
{
    const int real = argc > 1 && strcmp(argv[1], "real") == 0;
    cl_platform_id platform;
    cl_device_id device;
    cl_int err;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        printf("SKIP: no OpenCL device\n");
        return 77;
    }
    cl_context ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    cl_command_queue queue = clCreateCommandQueue(ctx, device, 0, &err);
    cl_program program = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    if (clBuildProgram(program, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
        printf("build failed\n");
        return 1;
    }
    cl_kernel wr = clCreateKernel(program, "wr", &err), rd = clCreateKernel(program, "rd", &err);
    static float host[N];
    if (!real) { /* occupy a slot with a 16-byte "initialised" map, then free it */
        cl_mem small = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 16, NULL, &err);
        clEnqueueWriteBuffer(queue, small, CL_TRUE, 0, 16, host, 0, NULL, NULL);
        clReleaseMemObject(small);
    }
    cl_mem s = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
    cl_mem o = clCreateBuffer(ctx, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &err);
    const size_t global = N;
    if (!real) {
        clSetKernelArg(wr, 0, sizeof s, &s);
        clEnqueueNDRangeKernel(queue, wr, 1, NULL, &global, NULL, 0, NULL, NULL);
    }
    clSetKernelArg(rd, 0, sizeof s, &s);
    clSetKernelArg(rd, 1, sizeof o, &o);
    clEnqueueNDRangeKernel(queue, rd, 1, NULL, &global, NULL, 0, NULL, NULL);
    err = clEnqueueReadBuffer(queue, o, CL_TRUE, 0, sizeof host, host, 0, NULL, NULL);
    int bad = err != CL_SUCCESS;
    for (int i = 0; i < N && !real && !bad; i++)
        if (host[i] != 2.0f) {
            printf("o[%d] = %g, expected 2\n", i, (double)host[i]);
            bad = 1;
        }
    clReleaseMemObject(o);
    clReleaseMemObject(s);
    clReleaseKernel(rd);
    clReleaseKernel(wr);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(ctx);
    printf("%s: %s\n", real ? "real" : "reuse", real ? "read S unwritten" : bad ? "wrong values" : "values right");
    return bad;
}
