/*
 * clattn-fused-check — random cross-check of the fast paths against the row-by-row ones.
 *
 *   clattn-fused-check [--device SELECTOR] [--iters N] [--seed S] [--few-dims]
 *
 * For each random problem (B <= 3, Hkv <= 3, group <= 5, Lq <= 4 or more, Lk <= 1500, D and Dv <= 128,
 * causal top-left / bottom-right, window, softcap, bool or additive masks broadcast in any dim,
 * kv_lengths, a NaN query row now and then) it runs one plan without probabilities (the host's fused or
 * decode path, OpenCL's fused path) and one with probabilities (host row-by-row, OpenCL chain) on the same
 * inputs, and compares the outputs: max abs difference <= 2e-5 and NaN in the same places. Prints the
 * failing problems; exit status 1 when any fails. --few-dims draws D, Dv from {8, 40, 64, 128} and
 * Lq = 1 half the time (fewer kernel builds on OpenCL; decode shapes).
 * A debugging and review tool (not part of CTest): the CTest suites hold the stated tolerances.
 */
#include <clattn.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_state = 88172645463325252ULL;

static uint32_t rnd(void)
{
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return (uint32_t)(g_state >> 11);
}

static float frand(void) { return (float)(rnd() % 20001) / 10000.0f - 1.0f; }

/* One random problem; returns 1 on mismatch, 0 on match, -1 on an API error. */
static int one(clattn_context *ctx, int it, bool few_dims)
{
    int64_t Hkv = 1 + rnd() % 3, G = 1 + rnd() % 5, Hq = Hkv * G, B = 1 + rnd() % 3, Lq = 1 + rnd() % 4;
    int64_t Lk = 1 + rnd() % 1500, D = 1 + rnd() % 70, Dv = 1 + rnd() % 70;
    if (rnd() % 3 == 0) D = Dv = 64;
    if (rnd() % 5 == 0) D = Dv = 128;
    if (rnd() % 6 == 0) Lq = 5 + rnd() % 80; /* the tiled paths too */
    if (few_dims) {
        static const int64_t ds[4] = {8, 40, 64, 128};
        D = ds[rnd() % 4];
        Dv = (rnd() % 2) ? D : ds[rnd() % 4];
        if (rnd() % 2) Lq = 1;
    }
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, B, Hq, Hkv, Lq, Lk, D, Dv);
    d.causal = (clattn_causal)(rnd() % 3);
    if (rnd() % 4 == 0) {
        d.window_left = (int64_t)(rnd() % 50) - 1;
        d.window_right = (int64_t)(rnd() % 50) - 1;
    }
    if (rnd() % 4 == 0) d.softcap = 0.5f + (float)(rnd() % 100) / 10.0f;
    if (rnd() % 3 == 0) d.scale = (rnd() % 2) ? 1.0f : 0.05f;
    d.mask_kind = (clattn_mask_kind)(rnd() % 3);
    const int64_t Bm = (rnd() % 2) ? B : 1, Hm = (rnd() % 2) ? Hq : 1, Lqm = (rnd() % 2) ? Lq : 1;
    if (d.mask_kind != CLATTN_MASK_NONE) d.mask = clattn_tensor_contiguous(Bm, Hm, Lqm, Lk);
    d.use_kv_lengths = (int)(rnd() % 2);

    const size_t nq = (size_t)(B * Hq * Lq * D), nk = (size_t)(B * Hkv * Lk * D), nv = (size_t)(B * Hkv * Lk * Dv);
    const size_t no = (size_t)(B * Hq * Lq * Dv), nm = (size_t)(Bm * Hm * Lqm * Lk), np = (size_t)(B * Hq * Lq * Lk);
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nv * 4), *o1 = malloc(no * 4), *o2 = malloc(no * 4);
    float *probs = malloc(np * 4);
    void *mask = malloc(nm * 4 + 1);
    int32_t kvl[3];
    int result = -1;
    clattn_sdpa_plan *p1 = NULL, *p2 = NULL;
    if (!q || !k || !v || !o1 || !o2 || !probs || !mask) goto done;
    for (size_t i = 0; i < nq; i++) q[i] = frand() * (rnd() % 7 == 0 ? 8.0f : 1.0f);
    for (size_t i = 0; i < nk; i++) k[i] = frand();
    for (size_t i = 0; i < nv; i++) v[i] = frand();
    const bool nan_row = rnd() % 6 == 0;
    if (nan_row) q[(size_t)(rnd() % (uint32_t)(B * Hq * Lq)) * (size_t)D] = NAN;
    for (int b = 0; b < 3; b++) kvl[b] = (int32_t)(rnd() % (uint32_t)(Lk + 1));
    const float density = (float)(rnd() % 10) / 10.0f * 0.9f; /* share of masked keys */
    if (d.mask_kind == CLATTN_MASK_BOOL)
        for (size_t i = 0; i < nm; i++) ((uint8_t *)mask)[i] = (float)(rnd() % 1000) / 1000.0f >= density;
    if (d.mask_kind == CLATTN_MASK_ADDITIVE)
        for (size_t i = 0; i < nm; i++) ((float *)mask)[i] = (float)(rnd() % 1000) / 1000.0f < density ? -INFINITY : frand();

    if (clattn_sdpa_plan_create(&p1, ctx, &d) != CLATTN_SUCCESS) goto api_error;
    d.want_probs = 1;
    d.probs = clattn_tensor_contiguous(B, Hq, Lq, Lk);
    if (clattn_sdpa_plan_create(&p2, ctx, &d) != CLATTN_SUCCESS) goto api_error;
    for (size_t i = 0; i < no; i++) o1[i] = -7777.0f, o2[i] = -5555.0f;
    const void *mk = d.mask_kind != CLATTN_MASK_NONE ? mask : NULL;
    const int32_t *kl = d.use_kv_lengths ? kvl : NULL;
    if (clattn_sdpa_execute(p1, q, k, v, mk, kl, o1, NULL) != CLATTN_SUCCESS) goto api_error;
    if (clattn_sdpa_execute(p2, q, k, v, mk, kl, o2, probs) != CLATTN_SUCCESS) goto api_error;
    double err = 0.0;
    int nan_mismatch = 0;
    for (size_t i = 0; i < no; i++) {
        if (isnan(o1[i]) != isnan(o2[i])) nan_mismatch++;
        else if (!isnan(o1[i]) && fabs((double)o1[i] - (double)o2[i]) > err) err = fabs((double)o1[i] - (double)o2[i]);
    }
    result = (err > 2e-5 || nan_mismatch) ? 1 : 0;
    if (result)
        printf("MISMATCH #%d %s vs %s: B=%lld Hq=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld causal=%d window=%lld,%lld "
               "softcap=%g mask=%d kvl=%d nan_row=%d: max diff %.3g, %d NaN mismatches\n",
               it, clattn_sdpa_plan_path(p1), clattn_sdpa_plan_path(p2), (long long)B, (long long)Hq, (long long)Hkv,
               (long long)Lq, (long long)Lk, (long long)D, (long long)Dv, (int)d.causal, (long long)d.window_left,
               (long long)d.window_right, d.softcap, (int)d.mask_kind, d.use_kv_lengths, nan_row, err, nan_mismatch);
    goto done;
api_error:
    printf("API error #%d: %s\n", it, clattn_last_error(ctx));
    result = -1;
done:
    clattn_sdpa_plan_destroy(p1);
    clattn_sdpa_plan_destroy(p2);
    free(q);
    free(k);
    free(v);
    free(o1);
    free(o2);
    free(probs);
    free(mask);
    return result;
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    int iters = 200;
    bool few_dims = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) g_state ^= strtoull(argv[++i], NULL, 10) * 0x9E3779B97F4A7C15ULL;
        else if (!strcmp(argv[i], "--few-dims")) few_dims = true;
        else {
            fprintf(stderr, "usage: clattn-fused-check [--device SELECTOR] [--iters N] [--seed S] [--few-dims]\n");
            return 2;
        }
    }
    clattn_context *ctx = NULL;
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    if (clattn_context_create(&ctx, &o) != CLATTN_SUCCESS) {
        fprintf(stderr, "clattn-fused-check: %s\n", clattn_last_error(NULL));
        return 1;
    }
    int bad = 0, errors = 0;
    for (int it = 0; it < iters; it++) {
        const int r = one(ctx, it, few_dims);
        bad += r == 1;
        errors += r < 0;
    }
    printf("clattn-fused-check: %d problems, %d mismatches, %d API errors\n", iters, bad, errors);
    clattn_context_destroy(ctx);
    return (bad || errors) ? 1 : 0;
}
