/*
 * nn.Linear on the OpenCL backend through CLBlast — the only file that includes CLBlast.
 *
 *   y[m, n] = sum_k x[m, k] * w[n, k] + bias[n]      x: [M, K] (row stride ldx), w: [N, K], y: [M, N] (ldy)
 *
 * With a bias, y is first filled with the bias (kernels/bias.cl) and the GEMM accumulates (beta = 1);
 * without one, the GEMM overwrites y (beta = 0). CLBlast 1.5.3 is not thread-safe while it compiles a
 * routine for the first time ("object already in cache", fixed in 1.6.1), so every CLBlast call is
 * serialised by one process-wide mutex.
 */
#include "opencl.h"

#include <clblast_c.h>

static pthread_mutex_t clblast_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Names of CLBlast's own status codes (clblast_c.h), for messages. */
static const char *clblast_code_name(CLBlastStatusCode code)
{
    switch ((int)code) {
#define CLBLAST_NAME(x) \
    case x: return #x;
        CLBLAST_NAME(CLBlastNotImplemented) CLBLAST_NAME(CLBlastInvalidMatrixA)
        CLBLAST_NAME(CLBlastInvalidMatrixB) CLBLAST_NAME(CLBlastInvalidMatrixC)
        CLBLAST_NAME(CLBlastInvalidDimension) CLBLAST_NAME(CLBlastInvalidLeadDimA)
        CLBLAST_NAME(CLBlastInvalidLeadDimB) CLBLAST_NAME(CLBlastInvalidLeadDimC)
        CLBLAST_NAME(CLBlastInsufficientMemoryA) CLBLAST_NAME(CLBlastInsufficientMemoryB)
        CLBLAST_NAME(CLBlastInsufficientMemoryC) CLBLAST_NAME(CLBlastInsufficientMemoryTemp)
        CLBLAST_NAME(CLBlastInvalidLocalMemUsage) CLBLAST_NAME(CLBlastNoHalfPrecision)
        CLBLAST_NAME(CLBlastNoDoublePrecision) CLBLAST_NAME(CLBlastDatabaseError)
        CLBLAST_NAME(CLBlastUnknownError) CLBLAST_NAME(CLBlastUnexpectedError)
#undef CLBLAST_NAME
    }
    return "CLBlast-specific status";
}

static clattn_status clblast_status(clattn_context *ctx, CLBlastStatusCode code, int64_t M, int64_t N, int64_t K)
{
    clattn_status st;
    switch ((int)code) {
    case CLBlastTempBufferAllocFailure:
    case CLBlastOpenCLOutOfHostMemory:
    case CLBlastOpenCLOutOfResources: st = CLATTN_ERROR_OUT_OF_MEMORY; break;
    case CLBlastOpenCLBuildProgramFailure: st = CLATTN_ERROR_KERNEL_BUILD; break;
    case CLBlastNotImplemented:
    case CLBlastNoHalfPrecision:
    case CLBlastNoDoublePrecision:
    case CLBlastInvalidLocalMemUsage: st = CLATTN_ERROR_UNSUPPORTED; break;
    case CLBlastInvalidDimension:
    case CLBlastInvalidLeadDimA:
    case CLBlastInvalidLeadDimB:
    case CLBlastInvalidLeadDimC:
    case CLBlastInsufficientMemoryA:
    case CLBlastInsufficientMemoryB:
    case CLBlastInsufficientMemoryC: st = CLATTN_ERROR_INVALID_ARGUMENT; break;
    default: st = CLATTN_ERROR_OPENCL; break;
    }
    const char *hint = (int)code > -1000 ? clattn_cl_error_string((cl_int)code) : clblast_code_name(code);
    return clattn_error(ctx, st, "CLBlastSgemm (M=%lld, N=%lld, K=%lld) failed with CLBlast status %d (%s)",
                        (long long)M, (long long)N, (long long)K, (int)code, hint);
}

/* y = bias broadcast over rows (or 0), through kernels/bias.cl. */
static clattn_status fill_bias(clattn_context *ctx, clattn_cl_state *cl, int64_t M, int64_t N,
                               const clattn_buf *bias, int64_t b_off, clattn_buf *y, int64_t y_off, int64_t ldy)
{
    clattn_status st = CLATTN_SUCCESS;
    if (!cl->bias_kernel)
        CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "bias.cl", "", "clattn_bias_fill", &cl->bias_kernel));
    cl_mem ym = y->dev, bm = bias ? bias->dev : NULL;
    const cl_long yo = y_off, ld = ldy, bo = b_off, m = M, n = N;
    const cl_int has_bias = bm != NULL;
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 0, sizeof ym, &ym));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 1, sizeof yo, &yo));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 2, sizeof ld, &ld));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 3, sizeof bm, &bm));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 4, sizeof bo, &bo));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 5, sizeof has_bias, &has_bias));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 6, sizeof m, &m));
    CLATTN_CL_CHECK(clSetKernelArg(cl->bias_kernel, 7, sizeof n, &n));
    const size_t global[2] = {(size_t)N, (size_t)M};
    CLATTN_CL_CHECK(clEnqueueNDRangeKernel(cl->queue, cl->bias_kernel, 2, NULL, global, NULL, 0, NULL, NULL));
cleanup:
    return st;
}

clattn_status clattn_cl_linear(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                               int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off,
                               const clattn_buf *bias, int64_t b_off, clattn_buf *y, int64_t y_off,
                               int64_t ldy)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    if (M < 0 || N < 0 || K < 0 || x_off < 0 || w_off < 0 || b_off < 0 || y_off < 0 || ldx < K || ldy < N ||
        !y || (M > 0 && N > 0 && !y->dev) || (M > 0 && N > 0 && K > 0 && (!x || !x->dev || !w || !w->dev)))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "linear: bad arguments (M=%lld N=%lld K=%lld ldx=%lld ldy=%lld)", (long long)M,
                            (long long)N, (long long)K, (long long)ldx, (long long)ldy);
    if (M == 0 || N == 0) return CLATTN_SUCCESS; /* CLBlast rejects empty GEMMs */

    const bool has_bias = bias && bias->dev;
    if (has_bias || K == 0) CLATTN_GOTO_IF(fill_bias(ctx, cl, M, N, has_bias ? bias : NULL, b_off, y, y_off, ldy));
    if (K == 0) goto cleanup; /* y = bias (or 0) */

    pthread_mutex_lock(&clblast_mutex);
    CLBlastStatusCode code = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)M,
                                          (size_t)N, (size_t)K, 1.0f, x->dev, (size_t)x_off, (size_t)ldx, w->dev,
                                          (size_t)w_off, (size_t)K, has_bias ? 1.0f : 0.0f, y->dev, (size_t)y_off,
                                          (size_t)ldy, &cl->queue, NULL);
    pthread_mutex_unlock(&clblast_mutex);
    if (code != CLBlastSuccess) st = clblast_status(ctx, code, M, N, K);

cleanup:
    return st;
}
