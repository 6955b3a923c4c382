/*
 * sdpa_example: causal scaled dot-product attention with clattn's public API.
 *
 *   q: [B, H, L, D]  k: [B, H, L, D]  v: [B, H, L, D]  out: [B, H, L, D]   (C order, float32)
 *
 * The device comes from CLATTN_DEVICE ("host", "pocl", "rusticl::", ... ; unset = first GPU, else
 * first CPU OpenCL device, else the host path). The result is checked against a naive loop.
 * Prints "sdpa_example: OK" and returns 0 on success.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <clattn.h>

enum { B = 1, H = 2, L = 5, D = 4 };

int main(void)
{
    static float q[B * H * L * D], k[B * H * L * D], v[B * H * L * D], out[B * H * L * D];
    for (int i = 0; i < B * H * L * D; i++) {
        q[i] = (float)sin(0.37 * i);
        k[i] = (float)cos(0.23 * i);
        v[i] = (float)(i % 7) - 3.0f;
    }

    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, NULL); /* NULL options: CLATTN_DEVICE */
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn_context_create: %s: %s\n", clattn_status_string(st), clattn_last_error(NULL));
        return 1;
    }
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    printf("clattn %s on %s / %s\n", clattn_version_string(), info.platform_name, info.device_name);

    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, H, H, L, L, D, D); /* contiguous tensors, scale 1/sqrt(D) */
    desc.causal = CLATTN_CAUSAL_TOP_LEFT;
    st = clattn_sdpa(ctx, &desc, q, k, v, NULL, NULL, out, NULL);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn_sdpa: %s: %s\n", clattn_status_string(st), clattn_last_error(ctx));
        clattn_context_destroy(ctx);
        return 1;
    }

    /* naive check */
    double max_err = 0.0;
    for (int h = 0; h < B * H; h++)
        for (int i = 0; i < L; i++) {
            double s[L], m = -INFINITY, sum = 0.0;
            for (int j = 0; j <= i; j++) {
                s[j] = 0.0;
                for (int d = 0; d < D; d++) s[j] += (double)q[(h * L + i) * D + d] * k[(h * L + j) * D + d];
                s[j] /= sqrt((double)D);
                if (s[j] > m) m = s[j];
            }
            for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - m));
            for (int d = 0; d < D; d++) {
                double o = 0.0;
                for (int j = 0; j <= i; j++) o += s[j] / sum * v[(h * L + j) * D + d];
                double e = fabs(o - out[(h * L + i) * D + d]);
                if (e > max_err) max_err = e;
            }
        }
    printf("out[0, 1, %d, :] = %.5f %.5f %.5f %.5f\n", L - 1, out[(1 * L + L - 1) * D + 0],
           out[(1 * L + L - 1) * D + 1], out[(1 * L + L - 1) * D + 2], out[(1 * L + L - 1) * D + 3]);
    clattn_context_destroy(ctx);
    if (max_err > 1e-5) {
        fprintf(stderr, "sdpa_example: max error %.3g vs the naive loop\n", max_err);
        return 1;
    }
    printf("sdpa_example: OK (max error %.2g)\n", max_err);
    return 0;
}
