/*
 * nn.Linear for the host backend through BLAS (the only cblas.h include of src/host):
 *   y[m, n] = sum_k x[m, k] * w[n, k] + bias[n]   (x: [M, K] with row stride ldx, w: [N, K], y: [M, N]
 *   with row stride ldy; all in elements). One cblas_sgemm with w transposed; the bias is copied into y
 *   first and added through beta = 1.
 */
#include "host.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

clattn_status host_linear(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                          int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off, const clattn_buf *bias,
                          int64_t b_off, clattn_buf *y, int64_t y_off, int64_t ldy)
{
    const int64_t lim = sizeof(blasint) >= sizeof(int64_t) ? INT64_MAX : (int64_t)INT_MAX;
    if (M <= 0 || N <= 0 || K <= 0 || M > lim || N > lim || K > lim || ldx > lim || ldy > lim)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "linear: M=%lld N=%lld K=%lld ldx=%lld ldy=%lld must be in 1..%lld",
                            (long long)M, (long long)N, (long long)K, (long long)ldx, (long long)ldy,
                            (long long)lim);
    /* BLAS wants ld >= row length even when there is one row, where ld is never used. */
    if (M == 1) {
        if (ldx < K) ldx = K;
        if (ldy < N) ldy = N;
    }
    if (ldx < K || ldy < N)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "linear: ldx=%lld < K=%lld or ldy=%lld < N=%lld",
                            (long long)ldx, (long long)K, (long long)ldy, (long long)N);
    if (x == NULL || x->host == NULL || w == NULL || w->host == NULL || y == NULL || y->host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "linear: NULL x, w or y buffer");

    const float *xp = (const float *)x->host + x_off;
    const float *wp = (const float *)w->host + w_off;
    float *yp = (float *)y->host + y_off;
    float beta = 0.0f;
    if (bias != NULL && bias->host != NULL) {
        const float *bp = (const float *)bias->host + b_off;
        for (int64_t m = 0; m < M; m++) memcpy(yp + m * ldy, bp, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f, xp,
                (blasint)ldx, wp, (blasint)K, beta, yp, (blasint)ldy);
    return CLATTN_SUCCESS;
}
