/*
 * opencl_example: scaled dot-product attention on the application's own OpenCL objects, through
 * clattn_opencl.h: the application creates the cl_context, queue and cl_mem buffers, wraps them in a
 * clattn context, enqueues a grouped-query plan with a key-padding length per batch item, and reads the
 * result with its own clEnqueueReadBuffer after the returned event.
 *
 *   q: [B, Hq, L, D]  k, v: [B, Hkv, L, D]  out: [B, Hq, L, D]  kv_lengths: int32 [B]   (C order, float32)
 *
 * Device: the first OpenCL device of any type (CLATTN_DEVICE is not read: the application chooses).
 * Prints "opencl_example: OK" and returns 0 on success; returns 77 with "opencl_example: SKIPPED" when
 * the machine has no OpenCL device.
 */
#define CL_TARGET_OPENCL_VERSION 120 /* the application's choice; clattn needs 1.2 or later */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <clattn_opencl.h>

enum { B = 2, HQ = 4, HKV = 2, L = 6, D = 8 };
#define NQ (B * HQ * L * D)
#define NK (B * HKV * L * D)

static int fail(const char *what, cl_int err)
{
    fprintf(stderr, "opencl_example: %s failed (%d)\n", what, (int)err);
    return 1;
}

int main(void)
{
    static float q[NQ], k[NK], v[NK], out[NQ];
    const cl_int kv_lengths[B] = {L, L - 2}; /* batch item 1: the last two keys are padding */
    for (int i = 0; i < NQ; i++) q[i] = (float)sin(0.37 * i);
    for (int i = 0; i < NK; i++) {
        k[i] = (float)cos(0.23 * i);
        v[i] = (float)(i % 7) - 3.0f;
    }

    cl_platform_id plats[8];
    cl_uint np = 0;
    cl_device_id dev = NULL;
    if (clGetPlatformIDs(8, plats, &np) != CL_SUCCESS) np = 0;
    for (cl_uint p = 0; p < np && !dev; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 1, &dev, &nd) != CL_SUCCESS || nd == 0) dev = NULL;
    }
    if (!dev) {
        printf("opencl_example: SKIPPED (no OpenCL device)\n");
        return 77;
    }
    cl_int err = CL_SUCCESS;
    cl_context cl_ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    if (err != CL_SUCCESS) return fail("clCreateContext", err);
    cl_command_queue queue = clCreateCommandQueue(cl_ctx, dev, 0, &err);
    if (err != CL_SUCCESS) return fail("clCreateCommandQueue", err);
    const cl_mem_flags in = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    cl_mem mq = clCreateBuffer(cl_ctx, in, sizeof q, q, &err);
    cl_mem mk = clCreateBuffer(cl_ctx, in, sizeof k, k, &err);
    cl_mem mv = clCreateBuffer(cl_ctx, in, sizeof v, v, &err);
    cl_mem ml = clCreateBuffer(cl_ctx, in, sizeof kv_lengths, (void *)kv_lengths, &err);
    cl_mem mo = clCreateBuffer(cl_ctx, CL_MEM_WRITE_ONLY, sizeof out, NULL, &err);
    if (err != CL_SUCCESS) return fail("clCreateBuffer", err);

    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create_from_cl(&ctx, cl_ctx, dev, queue); /* retains the three */
    clattn_sdpa_plan *plan = NULL;
    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, HQ, HKV, L, L, D, D); /* contiguous, scale 1/sqrt(D) */
    desc.use_kv_lengths = 1;
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_plan_create(&plan, ctx, &desc); /* compiles the kernels once */
    cl_event done = NULL;
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_enqueue(plan, mq, mk, mv, NULL, ml, mo, NULL, 0, NULL, &done);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "opencl_example: %s: %s\n", clattn_status_string(st),
                ctx ? clattn_last_error(ctx) : clattn_last_error(NULL));
        return 1;
    }
    printf("clattn %s, plan path %s\n", clattn_version_string(), clattn_sdpa_plan_path(plan));
    err = clEnqueueReadBuffer(queue, mo, CL_TRUE, 0, sizeof out, out, 1, &done, NULL);
    if (err != CL_SUCCESS) return fail("clEnqueueReadBuffer", err);
    clReleaseEvent(done);
    clattn_sdpa_plan_destroy(plan);
    clattn_context_destroy(ctx); /* releases clattn's references only */

    /* naive check: query head h reads kv head h / (HQ / HKV); keys j < kv_lengths[b] */
    double max_err = 0.0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HQ; h++)
            for (int i = 0; i < L; i++) {
                const float *qi = q + ((b * HQ + h) * L + i) * D;
                const int kvh = h / (HQ / HKV), n = kv_lengths[b];
                double s[L], m = -INFINITY, sum = 0.0;
                for (int j = 0; j < n; j++) {
                    s[j] = 0.0;
                    for (int d = 0; d < D; d++) s[j] += (double)qi[d] * k[((b * HKV + kvh) * L + j) * D + d];
                    s[j] /= sqrt((double)D);
                    if (s[j] > m) m = s[j];
                }
                for (int j = 0; j < n; j++) sum += (s[j] = exp(s[j] - m));
                for (int d = 0; d < D; d++) {
                    double o = 0.0;
                    for (int j = 0; j < n; j++) o += s[j] / sum * v[((b * HKV + kvh) * L + j) * D + d];
                    double e = fabs(o - out[((b * HQ + h) * L + i) * D + d]);
                    if (e > max_err) max_err = e;
                }
            }
    clReleaseMemObject(mq);
    clReleaseMemObject(mk);
    clReleaseMemObject(mv);
    clReleaseMemObject(ml);
    clReleaseMemObject(mo);
    clReleaseCommandQueue(queue);
    clReleaseContext(cl_ctx);
    if (max_err > 1e-5) {
        fprintf(stderr, "opencl_example: max error %.3g vs the naive loop\n", max_err);
        return 1;
    }
    printf("opencl_example: OK (max error %.2g)\n", max_err);
    return 0;
}
