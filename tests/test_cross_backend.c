/*
 * test_cross_backend (label opencl, runs once): the same random problems (masks, GQA, kv_lengths,
 * strided layouts, probabilities) on every backend present — host, PoCL ("portable"), rusticl
 * ("rusticl", RUSTICL_ENABLE=llvmpipe set before the first OpenCL call) — must agree with the
 * reference and with each other: max |a - b| <= 1e-5 * max(1, max|b|) (TU_TOL_F32) for every pair.
 * Exits 77 (skip) when fewer than two backends exist here. CLATTN_TEST_NO_PROBS=1 drops every case's
 * probabilities (the GPU-profile runs: then the OpenCL contexts take the GPU fused kernels).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"

/* The rows tagged cross-backend in tests/cases/cases.c (position = seed index). */
#define MAX_CASES 64
static const case_row *g_rows[MAX_CASES];

typedef struct backend {
    const char *selector;
    clattn_context *ctx;
    char name[160];
} backend;

/* CLATTN_TEST_NO_PROBS=1: every case without probabilities, so that the fused paths (which serve no plan
 * with probabilities) run all of them (set for the GPU-profile runs, tests/CMakeLists.txt). */
static bool g_no_probs;

static backend g_be[3] = {{"host", NULL, ""}, {"portable", NULL, ""}, {"rusticl", NULL, ""}};
static int g_nbe;
static backend *g_active[3];

/* The other backend's result as the "reference" (doubles in C order of the view dims). */
static double *view_to_doubles(const float *buf, const clattn_tensor *t)
{
    double *r = malloc((size_t)tu_numel(t) * sizeof(double));
    int64_t f = 0;
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t e = 0; e < t->dims[3]; e++) r[f++] = (double)buf[tu_index(t, a, b, c, e)];
    return r;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    sdpa_case nc = (*row)->c;
    if (g_no_probs) nc.probs = 0;
    const sdpa_case *c = &nc;
    int idx = (int)(row - g_rows);
    uint64_t seed = tu_case_seed("cross", idx);
    tu_rng r;
    tu_rng_init(&r, seed);
    sdpa_data d;
    sdpa_data_make(&d, c, &r);
    float *outs[3] = {0}, *probs[3] = {0};
    float *own_out = d.out, *own_probs = d.probs;
    bool ok = true;
    for (int i = 0; i < g_nbe; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s on %s", c->name, g_active[i]->name);
        tu_where w = {"cross_backend", name, seed};
        outs[i] = tu_alloc_bits(d.no, TU_POISON_BITS);
        if (d.probs) probs[i] = tu_alloc_bits(d.np, TU_POISON_BITS);
        d.out = outs[i];
        d.probs = probs[i];
        if (sdpa_data_run(g_active[i]->ctx, &d, 0, &w) != CLATTN_SUCCESS) {
            ok = false;
            continue;
        }
        ok &= sdpa_data_check(&d, &w); /* vs the double reference */
    }
    /* pairwise: every backend against the first one (host when present) */
    for (int i = 1; i < g_nbe && ok; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s: %s vs %s", c->name, g_active[i]->name, g_active[0]->name);
        tu_where w = {"cross_backend", name, seed};
        double *ro = view_to_doubles(outs[0], &d.desc.out);
        ok &= tu_check_view(&w, "out", outs[i], &d.desc.out, ro, TU_TOL_F32);
        free(ro);
        if (probs[0]) {
            double *rp = view_to_doubles(probs[0], &d.desc.probs);
            ok &= tu_check_view(&w, "probs", probs[i], &d.desc.probs, rp, TU_TOL_F32);
            free(rp);
        }
    }
    for (int i = 0; i < 3; i++) {
        free(outs[i]);
        free(probs[i]);
    }
    d.out = own_out;
    d.probs = own_probs;
    sdpa_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_no_probs = getenv("CLATTN_TEST_NO_PROBS") && strcmp(getenv("CLATTN_TEST_NO_PROBS"), "1") == 0;
    setenv("RUSTICL_ENABLE", "llvmpipe", 1); /* read when the ICD loader starts: before any CL call */
    for (int i = 0; i < 3; i++) {
        clattn_context_options o;
        clattn_context_options_init(&o);
        o.device = g_be[i].selector;
        clattn_status st = clattn_context_create(&g_be[i].ctx, &o);
        if (st == CLATTN_ERROR_DEVICE_NOT_FOUND) {
            printf("# backend '%s' absent here: %s\n", g_be[i].selector, clattn_last_error(NULL));
            continue;
        }
        if (st != CLATTN_SUCCESS) {
            fprintf(stderr, "FAIL: clattn_context_create('%s') returned %d (%s): %s\n", g_be[i].selector, (int)st,
                    clattn_status_string(st), clattn_last_error(NULL));
            return 1;
        }
        clattn_device_info info;
        clattn_device_info_init(&info);
        clattn_context_get_info(g_be[i].ctx, &info);
        snprintf(g_be[i].name, sizeof g_be[i].name, "%s (%s)", g_be[i].selector, info.device_name);
        printf("# backend %s: platform '%s'\n", g_be[i].name, info.platform_name);
        g_active[g_nbe++] = &g_be[i];
    }
    if (g_nbe < 2) {
        printf("SKIP: fewer than two backends here (%d)\n", g_nbe);
        for (int i = 0; i < 3; i++) clattn_context_destroy(g_be[i].ctx);
        return TU_SKIP;
    }
    const size_t n_cases = case_rows_tagged(CASE_CROSS, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES];
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[i] = t;
    }
    int failed = tu_run_group("cross_backend", tests, n_cases);
    for (int i = 0; i < 3; i++) clattn_context_destroy(g_be[i].ctx);
    return failed ? 1 : 0;
}
