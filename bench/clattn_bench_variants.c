/*
 * clattn-bench-variants — times axial, temporal and area attention (clattn.h, "The attention family over
 * views") next to their dense equivalent: SDPA over the flattened positions with the structure's boolean mask
 * ([1, 1, Lf, Lf], true where the structure allows the pair), on the same arrays.
 *
 *   clattn-bench-variants [--device SELECTOR] [--repeat N] [--warmup N] [--tiny] [--json]
 *
 * Rows: tests/cases/views_cases.c tagged VIEWS_BENCH (--tiny: only bench_tiny_area2, for CI). For each row:
 *   ms, gflops          the variant's plan (clattn_<variant>_execute on host arrays: on OpenCL including the
 *                       copies in and out), median over --repeat runs after --warmup; gflops counts only the
 *                       work the structure needs: 2·(D + Dv) per allowed (query, key) pair
 *   dense_ms            clattn_sdpa_execute() of the dense equivalent (same copies); dense_gflops counts the
 *                       same structural flops, so speedup = dense_ms / ms
 *   path, sdpa_plans    the variant's SDPA path and plan count; dense_path the dense plan's
 *   max_abs_diff        |variant - dense| over the whole output: both compute the same function, so a
 *                       difference above 1e-5·max(1, max|dense|) fails the row (exit 1)
 * Then channel attention (clattn_channel_attn_*: SE and CBAM's avg+max) on [B, C, H, W] = [8, 256, 56, 56] (a
 * ResNet-50 stage-1 map), R = C/16 (--tiny: [1, 8, 5, 5], R 2): ms and gbps = (read x + write out) bytes / ms,
 * the memory-bound part (no dense equivalent). Its result is checked by test_channel, not here.
 * Then additive (Bahdanau) attention, [B, Lq, Lk, Dq = Dk = Dv, A] = [8, 64, 256, 256, 128] (an NMT decoder
 * over a source sentence batch; --tiny: [1, 3, 5, 4, 4]): ms and gflops counting 2·(Lq·Dq + Lk·Dk)·A per batch
 * item for the projections and 3·A (add, tanh, multiply-add; tanh counted as one) + 2·Dv per (query, key) pair.
 * No dense equivalent (SDPA cannot express it). Checked by test_additive, not here.
 * Then global-local (Longformer) attention, [B, H, L, D] = [1, 12, 4096, 64], window 256 (Longformer-base's
 * attention_window 512), 2 global tokens (--tiny: [1, 2, 33, 8], window 2, 1 global), next to its dense
 * equivalent (SDPA with the [1, 1, L, L] boolean mask of the structure), gflops counting 2·(D + Dv) per allowed
 * pair for both; the outputs must agree within 1e-5·max(1, max|dense|) (exit 1 otherwise).
 * Then sparse Sinkhorn attention, [B, H, L, D] = [1, 12, 4096, 64], block 64, 8 iterations (--tiny: [1, 2, 32, 8],
 * block 8), next to full SDPA over all L keys (not the same function: the time of the attention it replaces; no
 * max_abs_diff, the output only checked finite; test_sinkhorn checks the values): gflops counts 2·2b·(D + Dv) per
 * query row plus the soft sort's 2·nb²·b·(D + Dv) per (b, h); full_gflops 2·L·(D + Dv) per query row.
 * Exit codes: 0 success; 1 a row failed; 2 bad command line.
 */
#include "views_cases.h"
#include "bench_timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    const char *device = NULL;
    int repeat = 5, warmup = 1, json = 0, tiny = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--tiny")) tiny = 1;
        else {
            fprintf(stderr, "usage: clattn-bench-variants [--device SELECTOR] [--repeat N] [--warmup N] [--tiny] [--json]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000 || warmup < 0) {
        fprintf(stderr, "clattn-bench-variants: --repeat 1..1000, --warmup >= 0\n");
        return 2;
    }
    clattn_context_options opts;
    clattn_context_options_init(&opts);
    opts.device = device;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, &opts);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn-bench-variants: %s\n", clattn_last_error(NULL));
        return 1;
    }
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    if (!json)
        printf("# clattn-bench-variants, clattn %s, device \"%s\" (%s), repeat %d, warm-up %d\n"
               "%-32s %10s %8s %10s %8s %8s %-20s %5s %-20s %12s\n",
               clattn_version_string(), info.device_name, info.platform_name, repeat, warmup, "case", "ms", "gflops",
               "dense_ms", "dense_gf", "speedup", "path", "plans", "dense_path", "max_abs_diff");
    bool ok = true;
    double *t = malloc((size_t)repeat * sizeof *t), *td = malloc((size_t)repeat * sizeof *td);
    for (size_t r = 0; r < views_row_count; r++) {
        const views_case *c = &views_rows[r].c;
        if (!(views_rows[r].tags & VIEWS_BENCH) || (tiny && strcmp(c->name, "bench_tiny_area2") != 0)) continue;
        tu_rng rng;
        tu_rng_init(&rng, tu_case_seed("bench-variants", (int)r));
        views_data d;
        views_data_make_ex(&d, c, &rng, false);
        char path[64] = "";
        int64_t count = 0;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = views_data_run(ctx, &d, 1, NULL, path, sizeof path, &count) == CLATTN_SUCCESS;
            if (i >= warmup) t[i - warmup] = bench_now_ms() - t0;
        }
        if (!ok) fprintf(stderr, "%s: %s\n", c->name, clattn_last_error(ctx));
        clattn_sdpa_desc dd;
        uint8_t *mask = NULL;
        float *dense_out = tu_xmalloc((size_t)d.nout * sizeof(float));
        const char *dense_path = "-";
        double dense_ms = -1, diff = 0, mx = 0;
        clattn_sdpa_plan *plan = NULL;
        if (ok && views_case_dense(c, &dd, &mask)) {
            ok = clattn_sdpa_plan_create(&plan, ctx, &dd) == CLATTN_SUCCESS;
            for (int i = 0; i < warmup + repeat && ok; i++) {
                double t0 = bench_now_ms();
                ok = clattn_sdpa_execute(plan, d.bq, d.bk, d.bv, mask, NULL, dense_out, NULL) == CLATTN_SUCCESS;
                if (i >= warmup) td[i - warmup] = bench_now_ms() - t0;
            }
            if (!ok) fprintf(stderr, "%s (dense): %s\n", c->name, clattn_last_error(ctx));
            if (ok) {
                dense_path = clattn_sdpa_plan_path(plan);
                dense_ms = bench_median(td, repeat);
                for (int64_t i = 0; i < d.nout; i++) {
                    double e = fabs((double)d.bout[i] - (double)dense_out[i]);
                    if (!(e <= diff)) diff = e; /* NaN propagates */
                    if (fabs((double)dense_out[i]) > mx) mx = fabs((double)dense_out[i]);
                }
                if (!(diff <= 1e-5 * (mx > 1 ? mx : 1))) {
                    fprintf(stderr, "%s: max_abs_diff %g against the dense equivalent\n", c->name, diff);
                    ok = false;
                }
            }
        }
        if (ok) {
            const double ms = bench_median(t, repeat), fl = views_case_flops(c);
            if (json)
                printf("{\"case\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"gflops\":%.3f,\"dense_ms\":%.4f,"
                       "\"dense_gflops\":%.3f,\"path\":\"%s\",\"sdpa_plans\":%lld,\"dense_path\":\"%s\","
                       "\"max_abs_diff\":%.3g}\n",
                       c->name, info.device_name, ms, fl / ms * 1e-6, dense_ms, dense_ms > 0 ? fl / dense_ms * 1e-6 : 0,
                       path, (long long)count, dense_path, diff);
            else
                printf("%-32s %10.3f %8.2f %10.3f %8.2f %8.2f %-20s %5lld %-20s %12.3g\n", c->name, ms,
                       fl / ms * 1e-6, dense_ms, dense_ms > 0 ? fl / dense_ms * 1e-6 : 0,
                       dense_ms > 0 ? dense_ms / ms : 0, path, (long long)count, dense_path, diff);
            fflush(stdout);
        }
        clattn_sdpa_plan_destroy(plan);
        free(mask);
        free(dense_out);
        views_data_free(&d);
        if (!ok) break;
    }
    /* channel attention */
    for (int pool = 0; pool < 2 && ok; pool++) {
        const int64_t B = tiny ? 1 : 8, C = tiny ? 8 : 256, H = tiny ? 5 : 56, W = H, R = C / (tiny ? 4 : 16);
        const int64_t n = B * C * H * W;
        float *x = tu_xmalloc((size_t)n * sizeof(float)), *out = tu_xmalloc((size_t)n * sizeof(float));
        float *w1 = tu_xmalloc((size_t)(R * C) * sizeof(float)), *w2 = tu_xmalloc((size_t)(R * C) * sizeof(float));
        tu_rng rng;
        tu_rng_init(&rng, tu_case_seed("bench-channel", pool));
        for (int64_t i = 0; i < n; i++) x[i] = (float)tu_rng_uniform(&rng, -1, 1);
        for (int64_t i = 0; i < R * C; i++) w1[i] = (float)tu_rng_uniform(&rng, -0.1, 0.1), w2[i] = w1[i];
        clattn_channel_attn_desc cd;
        clattn_channel_attn_desc_init(&cd, B, C, H, W, R);
        cd.pool = pool ? CLATTN_CHANNEL_POOL_AVG_MAX : CLATTN_CHANNEL_POOL_AVG;
        cd.has_b1 = cd.has_b2 = 0;
        clattn_channel_attn_plan *cp = NULL;
        ok = clattn_channel_attn_plan_create(&cp, ctx, &cd) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_channel_attn_execute(cp, x, w1, NULL, w2, NULL, out, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) t[i - warmup] = bench_now_ms() - t0;
        }
        if (!ok) fprintf(stderr, "channel: %s\n", clattn_last_error(ctx));
        if (ok) {
            const double ms = bench_median(t, repeat), gbps = 2.0 * (double)n * 4 / ms * 1e-6;
            char name[64];
            snprintf(name, sizeof name, "channel_%s_%lldx%lldx%lldx%lld", pool ? "cbam" : "se", (long long)B,
                     (long long)C, (long long)H, (long long)W);
            if (json)
                printf("{\"case\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"gbps\":%.3f,\"path\":\"%s\"}\n", name,
                       info.device_name, ms, gbps, clattn_channel_attn_plan_path(cp));
            else
                printf("%-32s %10.3f %6.2f GB/s %-20s\n", name, ms, gbps, clattn_channel_attn_plan_path(cp));
        }
        clattn_channel_attn_plan_destroy(cp);
        free(x), free(out), free(w1), free(w2);
    }
    /* additive attention */
    if (ok) {
        const int64_t B = tiny ? 1 : 8, Lq = tiny ? 3 : 64, Lk = tiny ? 5 : 256, D = tiny ? 4 : 256, A = tiny ? 4 : 128;
        const int64_t nq = B * Lq * D, nk = B * Lk * D;
        float *q = tu_xmalloc((size_t)nq * sizeof(float)), *k = tu_xmalloc((size_t)nk * sizeof(float));
        float *out = tu_xmalloc((size_t)nq * sizeof(float)), *w = tu_xmalloc((size_t)(A * D + A) * sizeof(float));
        tu_rng rng;
        tu_rng_init(&rng, tu_case_seed("bench-additive", 0));
        for (int64_t i = 0; i < nq; i++) q[i] = (float)tu_rng_uniform(&rng, -1, 1);
        for (int64_t i = 0; i < nk; i++) k[i] = (float)tu_rng_uniform(&rng, -1, 1);
        for (int64_t i = 0; i < A * D + A; i++) w[i] = (float)tu_rng_uniform(&rng, -0.1, 0.1);
        clattn_additive_desc ad;
        clattn_additive_desc_init(&ad, B, Lq, Lk, D, D, D, A);
        ad.has_bias = 0;
        clattn_additive_plan *ap = NULL;
        ok = clattn_additive_plan_create(&ap, ctx, &ad) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_additive_execute(ap, q, k, k, NULL, NULL, w, w, w + A * D, NULL, out, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) t[i - warmup] = bench_now_ms() - t0;
        }
        if (!ok) fprintf(stderr, "additive: %s\n", clattn_last_error(ctx));
        if (ok) {
            const double ms = bench_median(t, repeat);
            const double fl = (double)B * (2.0 * (double)(Lq + Lk) * (double)D * (double)A +
                                           (double)Lq * (double)Lk * (3.0 * (double)A + 2.0 * (double)D));
            char name[64];
            snprintf(name, sizeof name, "additive_%lldx%lldx%lldx%lld_a%lld", (long long)B, (long long)Lq,
                     (long long)Lk, (long long)D, (long long)A);
            if (json)
                printf("{\"case\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"gflops\":%.3f,\"path\":\"%s\"}\n", name,
                       info.device_name, ms, fl / ms * 1e-6, clattn_additive_plan_path(ap));
            else
                printf("%-32s %10.3f %8.2f %10s %8s %8s %-20s\n", name, ms, fl / ms * 1e-6, "-", "-", "-",
                       clattn_additive_plan_path(ap));
        }
        clattn_additive_plan_destroy(ap);
        free(q), free(k), free(out), free(w);
    }
    /* global-local attention next to SDPA with its dense mask */
    if (ok) {
        const int64_t B = 1, H = tiny ? 2 : 12, L = tiny ? 33 : 4096, D = tiny ? 8 : 64, w = tiny ? 2 : 256;
        const int64_t G = tiny ? 1 : 2;
        const int32_t gidx[2] = {0, (int32_t)(L / 2)};
        const int64_t n = B * H * L * D;
        float *q = tu_xmalloc((size_t)n * sizeof(float)), *out = tu_xmalloc((size_t)n * sizeof(float));
        float *out2 = tu_xmalloc((size_t)n * sizeof(float));
        uint8_t *mask = tu_xmalloc((size_t)(L * L));
        tu_rng rng;
        tu_rng_init(&rng, tu_case_seed("bench-global-local", 0));
        for (int64_t i = 0; i < n; i++) q[i] = (float)tu_rng_uniform(&rng, -1, 1);
        double pairs = 0;
        for (int64_t i = 0; i < L; i++)
            for (int64_t j = 0; j < L; j++) {
                bool gi = false, gj = false;
                for (int64_t c = 0; c < G; c++) gi = gi || gidx[c] == i, gj = gj || gidx[c] == j;
                mask[i * L + j] = gi || gj || (i > j ? i - j : j - i) <= w;
                pairs += mask[i * L + j];
            }
        const double fl = 2.0 * (double)(B * H) * pairs * (double)(2 * D);
        clattn_global_local_desc gd;
        clattn_global_local_desc_init(&gd, B, H, L, D, D, w, G);
        clattn_global_local_plan *gp = NULL;
        ok = clattn_global_local_plan_create(&gp, ctx, &gd) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_global_local_execute(gp, q, q, q, gidx, NULL, NULL, NULL, out, NULL, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) t[i - warmup] = bench_now_ms() - t0;
        }
        clattn_sdpa_desc sd;
        clattn_sdpa_desc_init(&sd, B, H, H, L, L, D, D);
        sd.mask_kind = CLATTN_MASK_BOOL;
        sd.mask = clattn_tensor_contiguous(1, 1, L, L);
        clattn_sdpa_plan *sp = NULL;
        if (ok) ok = clattn_sdpa_plan_create(&sp, ctx, &sd) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_sdpa_execute(sp, q, q, q, mask, NULL, out2, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) td[i - warmup] = bench_now_ms() - t0;
        }
        if (!ok) fprintf(stderr, "global-local: %s\n", clattn_last_error(ctx));
        double diff = 0, mx = 0;
        for (int64_t i = 0; i < n && ok; i++) {
            const double e = fabs((double)out[i] - (double)out2[i]);
            if (!(e <= diff)) diff = e;
            if (fabs((double)out2[i]) > mx) mx = fabs((double)out2[i]);
        }
        if (ok && !(diff <= 1e-5 * (mx > 1 ? mx : 1))) {
            fprintf(stderr, "global-local: max_abs_diff %g against the dense equivalent\n", diff);
            ok = false;
        }
        if (ok) {
            const double ms = bench_median(t, repeat), dms = bench_median(td, repeat);
            char name[64];
            snprintf(name, sizeof name, "global_local_%lldx%lldx%lld_w%lld_g%lld", (long long)B, (long long)H,
                     (long long)L, (long long)w, (long long)G);
            if (json)
                printf("{\"case\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"gflops\":%.3f,\"dense_ms\":%.4f,"
                       "\"dense_gflops\":%.3f,\"path\":\"%s\",\"dense_path\":\"%s\",\"max_abs_diff\":%.3g}\n",
                       name, info.device_name, ms, fl / ms * 1e-6, dms, fl / dms * 1e-6, clattn_global_local_plan_path(gp),
                       clattn_sdpa_plan_path(sp), diff);
            else
                printf("%-32s %10.3f %8.2f %10.3f %8.2f %8.2f %-20s %5s %-20s %12.3g\n", name, ms, fl / ms * 1e-6, dms,
                       fl / dms * 1e-6, dms / ms, clattn_global_local_plan_path(gp), "-", clattn_sdpa_plan_path(sp), diff);
        }
        clattn_global_local_plan_destroy(gp);
        clattn_sdpa_plan_destroy(sp);
        free(q), free(out), free(out2), free(mask);
    }
    /* sparse Sinkhorn attention next to full (unstructured) SDPA over all L keys: a different function, so no
     * max_abs_diff; the time of the attention Sinkhorn replaces */
    if (ok) {
        const int64_t B = 1, H = tiny ? 2 : 12, L = tiny ? 32 : 4096, D = tiny ? 8 : 64, b = tiny ? 8 : 64, nb = L / b;
        const int64_t n = B * H * L * D, nr = B * H * nb * nb;
        float *q = tu_xmalloc((size_t)n * sizeof(float)), *out = tu_xmalloc((size_t)n * sizeof(float));
        float *out2 = tu_xmalloc((size_t)n * sizeof(float)), *R = tu_xmalloc((size_t)nr * sizeof(float));
        tu_rng rng;
        tu_rng_init(&rng, tu_case_seed("bench-sinkhorn", 0));
        for (int64_t i = 0; i < n; i++) q[i] = (float)tu_rng_uniform(&rng, -1, 1);
        for (int64_t i = 0; i < nr; i++) R[i] = (float)tu_rng_uniform(&rng, -2, 2);
        /* attention: 2b keys per query row, 2·(D + Dv) each; soft sort: 2·nb²·b·(D + Dv) per (b, h) */
        const double fl = (double)(B * H) * (2.0 * (double)L * (double)(2 * b) * (double)(2 * D) +
                                             2.0 * (double)(nb * nb * b) * (double)(2 * D));
        const double dfl = 2.0 * (double)(B * H) * (double)L * (double)L * (double)(2 * D);
        clattn_sinkhorn_desc kd;
        clattn_sinkhorn_desc_init(&kd, B, H, L, D, D, b);
        clattn_sinkhorn_plan *kp = NULL;
        ok = clattn_sinkhorn_plan_create(&kp, ctx, &kd) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_sinkhorn_execute(kp, q, q, q, R, out, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) t[i - warmup] = bench_now_ms() - t0;
        }
        clattn_sdpa_desc sd;
        clattn_sdpa_desc_init(&sd, B, H, H, L, L, D, D);
        clattn_sdpa_plan *sp = NULL;
        if (ok) ok = clattn_sdpa_plan_create(&sp, ctx, &sd) == CLATTN_SUCCESS;
        for (int i = 0; i < warmup + repeat && ok; i++) {
            double t0 = bench_now_ms();
            ok = clattn_sdpa_execute(sp, q, q, q, NULL, NULL, out2, NULL) == CLATTN_SUCCESS;
            if (i >= warmup) td[i - warmup] = bench_now_ms() - t0;
        }
        if (!ok) fprintf(stderr, "sinkhorn: %s\n", clattn_last_error(ctx));
        for (int64_t i = 0; i < n && ok; i++)
            if (!isfinite(out[i])) {
                fprintf(stderr, "sinkhorn: non-finite output at %lld\n", (long long)i);
                ok = false;
            }
        if (ok) {
            const double ms = bench_median(t, repeat), dms = bench_median(td, repeat);
            char name[64];
            snprintf(name, sizeof name, "sinkhorn_%lldx%lldx%lld_b%lld", (long long)B, (long long)H, (long long)L,
                     (long long)b);
            if (json)
                printf("{\"case\":\"%s\",\"device\":\"%s\",\"ms\":%.4f,\"gflops\":%.3f,\"full_ms\":%.4f,"
                       "\"full_gflops\":%.3f,\"path\":\"%s\",\"full_path\":\"%s\"}\n",
                       name, info.device_name, ms, fl / ms * 1e-6, dms, dfl / dms * 1e-6, clattn_sinkhorn_plan_path(kp),
                       clattn_sdpa_plan_path(sp));
            else
                printf("%-32s %10.3f %8.2f %10.3f %8.2f %8.2f %-20s %5s %-20s %12s\n", name, ms, fl / ms * 1e-6, dms,
                       dfl / dms * 1e-6, dms / ms, clattn_sinkhorn_plan_path(kp), "-", clattn_sdpa_plan_path(sp), "-");
        }
        clattn_sinkhorn_plan_destroy(kp);
        clattn_sdpa_plan_destroy(sp);
        free(q), free(out), free(out2), free(R);
    }
    free(t);
    free(td);
    clattn_context_destroy(ctx);
    return ok ? 0 : 1;
}
