/*
 * clattn-bench-merge: the cost of splitting the keys of an SDPA problem into P parts and merging the parts'
 * (out, lse) with clattn_merge_* (issue #13's target: the merge costs <= 5 % of the attention it merges).
 *
 *   clattn-bench-merge [--tag NAME] [--parts P] [--device SELECTOR] [--repeat N] [--warmup N] [--tol X]
 *
 * For each row of the case table tagged NAME (default bench-merge; tests/cases/cases.c), with random inputs
 * in [-1, 1): one SDPA call over all keys with want_lse ("full"); P SDPA calls over equal contiguous key
 * ranges (key views of the same k and v), each writing its slice of a stacked [P, B, Hq, Lq, Dv] /
 * [P, B, Hq, Lq] buffer ("parts"); one clattn_merge_execute of the stack ("merge"). Times are host wall
 * clock (CLOCK_MONOTONIC) per call, median over --repeat runs after --warmup runs; on OpenCL they include
 * the host copies of clattn_*_execute. Printed per row: full_ms, parts_ms (the P calls), merge_ms,
 * merge_pct = 100 · merge_ms / parts_ms (the merge against the attention it merges) and max_abs_err of the
 * merged out and lse against the full call's (the run fails, exit 1, above --tol · max(1, max|full|),
 * default 1e-5). Ratios are only meaningful between numbers of the same run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "bench_timing.h"

static int report_fail(clattn_context *ctx, const char *what, clattn_status st)
{
    fprintf(stderr, "clattn-bench-merge: %s: %s: %s\n", what, clattn_status_string(st), clattn_last_error(ctx));
    return 1;
}

/* max |a - b| over n (equal infinities 0, NaN in one of them +inf); *mx receives max |b| over finite b. */
static double max_err(const float *a, const float *b, int64_t n, double *mx)
{
    double e = 0.0;
    *mx = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(b[i]) && fabs(b[i]) > *mx) *mx = fabs(b[i]);
        const double d = (isnan(a[i]) || isnan(b[i])) ? (isnan(a[i]) && isnan(b[i]) ? 0.0 : INFINITY)
                         : a[i] == b[i]                ? 0.0
                                                       : fabs((double)a[i] - (double)b[i]);
        if (d > e) e = d;
    }
    return e;
}

static int run_row(clattn_context *ctx, const sdpa_case *c, int64_t P, int repeat, int warmup, double tol)
{
    const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Lq = c->Lq, Lk = c->Lk, D = c->D, Dv = c->Dv;
    if (P > Lk) P = Lk;
    const int64_t nq = B * Hq * Lq * D, nk = B * Hkv * Lk * D, nv = B * Hkv * Lk * Dv, no = B * Hq * Lq * Dv,
                  nl = B * Hq * Lq;
    float *q = malloc((size_t)nq * 4), *k = malloc((size_t)nk * 4), *v = malloc((size_t)nv * 4);
    float *full = malloc((size_t)no * 4), *full_lse = malloc((size_t)nl * 4), *po = malloc((size_t)(P * no) * 4);
    float *pl = malloc((size_t)(P * nl) * 4), *mo = malloc((size_t)no * 4), *ml = malloc((size_t)nl * 4);
    double *t = malloc((size_t)repeat * sizeof(double) * 3);
    clattn_sdpa_plan *fp = NULL, **pp = calloc((size_t)P, sizeof *pp);
    clattn_merge_plan *mp = NULL;
    int rc = 1;
    if (!q || !k || !v || !full || !full_lse || !po || !pl || !mo || !ml || !t || !pp) {
        fprintf(stderr, "clattn-bench-merge: out of memory for %s\n", c->name);
        goto done;
    }
    uint64_t s = 0x9e3779b97f4a7c15ull;
    float *ins[3] = {q, k, v};
    const int64_t ns[3] = {nq, nk, nv};
    for (int a = 0; a < 3; a++)
        for (int64_t i = 0; i < ns[a]; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ins[a][i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
        }
    clattn_status st;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, B, Hq, Hkv, Lq, Lk, D, Dv);
    d.causal = c->causal;
    d.want_lse = 1;
    if ((st = clattn_sdpa_plan_create(&fp, ctx, &d))) {
        rc = report_fail(ctx, "full plan", st);
        goto done;
    }
    for (int64_t p = 0; p < P; p++) { /* keys [a, e) of part p, output slice p */
        const int64_t a = Lk * p / P, e = Lk * (p + 1) / P;
        clattn_sdpa_desc pd = d;
        pd.k.dims[2] = pd.v.dims[2] = e - a;
        pd.k.offset = a * D;
        pd.v.offset = a * Dv;
        pd.out.offset = p * no;
        pd.lse.offset = p * nl;
        if (c->causal != CLATTN_CAUSAL_NONE) {
            fprintf(stderr, "clattn-bench-merge: %s: causal rows are not split (the rule is relative to all keys)\n",
                    c->name);
            goto done;
        }
        if ((st = clattn_sdpa_plan_create(&pp[p], ctx, &pd))) {
            rc = report_fail(ctx, "part plan", st);
            goto done;
        }
    }
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, P, B, Hq, Lq, Dv);
    md.want_lse = 1;
    if ((st = clattn_merge_plan_create(&mp, ctx, &md))) {
        rc = report_fail(ctx, "merge plan", st);
        goto done;
    }
    clattn_sdpa_buffers fb, pb;
    clattn_sdpa_buffers_init(&fb);
    fb.q = q, fb.k = k, fb.v = v, fb.out = full, fb.lse = full_lse;
    pb = fb;
    pb.out = po, pb.lse = pl;
    for (int it = -warmup; it < repeat; it++) {
        double t0 = bench_now_ms();
        if ((st = clattn_sdpa_execute_buffers(fp, &fb))) {
            rc = report_fail(ctx, "full", st);
            goto done;
        }
        double t1 = bench_now_ms();
        for (int64_t p = 0; p < P; p++)
            if ((st = clattn_sdpa_execute_buffers(pp[p], &pb))) {
                rc = report_fail(ctx, "part", st);
                goto done;
            }
        double t2 = bench_now_ms();
        if ((st = clattn_merge_execute(mp, po, pl, mo, ml))) {
            rc = report_fail(ctx, "merge", st);
            goto done;
        }
        double t3 = bench_now_ms();
        if (it >= 0) {
            t[it] = t1 - t0;
            t[repeat + it] = t2 - t1;
            t[2 * repeat + it] = t3 - t2;
        }
    }
    const double full_ms = bench_median(t, repeat), parts_ms = bench_median(t + repeat, repeat),
                 merge_ms = bench_median(t + 2 * repeat, repeat);
    double mo_ref, ml_ref;
    const double eo = max_err(mo, full, no, &mo_ref), el = max_err(ml, full_lse, nl, &ml_ref);
    const bool ok = eo <= tol * (mo_ref > 1 ? mo_ref : 1) && el <= tol * (ml_ref > 1 ? ml_ref : 1);
    printf("%-22s parts=%lld full_ms=%.3f parts_ms=%.3f merge_ms=%.3f merge_pct=%.2f max_abs_err_out=%.3g "
           "max_abs_err_lse=%.3g%s\n",
           c->name, (long long)P, full_ms, parts_ms, merge_ms, 100.0 * merge_ms / parts_ms, eo, el,
           ok ? "" : "  FAIL: above --tol");
    rc = ok ? 0 : 1;
done:
    clattn_sdpa_plan_destroy(fp);
    for (int64_t p = 0; pp && p < P; p++) clattn_sdpa_plan_destroy(pp[p]);
    clattn_merge_plan_destroy(mp);
    free(pp);
    free(q), free(k), free(v), free(full), free(full_lse), free(po), free(pl), free(mo), free(ml), free(t);
    return rc;
}

int main(int argc, char **argv)
{
    const char *tag = "bench-merge", *device = NULL;
    int64_t parts = 4;
    int repeat = 5, warmup = 1;
    double tol = 1e-5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tag") && val) tag = argv[++i];
        else if (!strcmp(a, "--device") && val) device = argv[++i];
        else if (!strcmp(a, "--parts") && val) parts = atoll(argv[++i]);
        else if (!strcmp(a, "--repeat") && val) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && val) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--tol") && val) tol = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: clattn-bench-merge [--tag NAME] [--parts P] [--device SELECTOR] [--repeat N] "
                            "[--warmup N] [--tol X]\n");
            return 2;
        }
    }
    const unsigned t = case_tag_from_name(tag);
    if (!t || parts < 1 || parts > 64 || repeat < 1 || repeat > 1000 || warmup < 0 || !(tol >= 0)) {
        fprintf(stderr, "clattn-bench-merge: bad --tag, --parts (1..64), --repeat (1..1000), --warmup or --tol\n");
        return 2;
    }
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, &o);
    if (st) return report_fail(NULL, "context", st);
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    printf("# clattn-bench-merge: device \"%s\" (%s), median of %d after %d warm-up\n", info.device_name,
           info.backend == CLATTN_BACKEND_HOST ? "host" : "opencl", repeat, warmup);
    const case_row *rows[64];
    const size_t n = case_rows_tagged(t, rows, 64);
    int bad = 0;
    for (size_t i = 0; i < n && i < 64; i++) bad |= run_row(ctx, &rows[i]->c, parts, repeat, warmup, tol);
    clattn_context_destroy(ctx);
    return bad ? 1 : 0;
}
