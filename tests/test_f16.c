/*
 * test_f16: SDPA with binary16 q, k, v and out (clattn_sdpa_desc.data_type = CLATTN_DTYPE_F16) on the
 * backend chosen by CLATTN_DEVICE (exit 77 when absent). test_bf16.c builds this file again with
 * CLATTN_TEST_BF16 defined: the same tests for bfloat16 (CLATTN_DTYPE_BF16), with "fp16" below read as the
 * test's 16-bit type (DT_* macros: bf16 bits, ulp and reference conversions from f16_ref.h). bf16 keeps
 * 8 significant bits, so its tolerance is 1 bf16 ulp (2^-7 relative, at most) at max(|ref|, |got|) plus the
 * float32 tolerance: fp32 compute, only the output rounding differs.
 *
 * Inputs are random fp16 values (uniform doubles rounded to fp16). The reference is the double-precision
 * attention (tests/support/reference.c) on exactly those values, rounded to fp16 (round to nearest even)
 * at the end. Tolerance per element:
 *   |got - fp16(ref)| <= 1 fp16 ulp at max(|ref|, |got|) + TU_TOL_F32 * max(1, max |ref|)
 * (the float32 result is within the float32 tolerance of ref; rounding it and rounding ref to fp16 can
 * then land on neighbouring fp16 values, one ulp apart). NaN matches NaN only, +-inf matches itself.
 * Rows with no allowed key must be exactly 0; disallowed keys exactly 0 probability (float32 probs,
 * TU_TOL_F32). Outputs are poisoned with the fp16 NaN pattern F16_POISON, and every element of the out
 * buffer outside the view (padding, column gaps, before the offset) must keep it.
 *
 * The fp16 <-> double conversions here are independent of the library's (ldexp / nearbyint), so a
 * rounding bug in src/common/fp16.h or kernels/common.cl shows. test_rounding_ties checks exact bits of
 * ties (to even, also for subnormals) and of the largest finite value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f16_ref.h" /* fp16 <-> double independent of the library's conversions */
#include "reference.h"
#include "cases.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

#ifdef CLATTN_TEST_BF16
#define DT_NAME "bf16"
#define DT_DTYPE CLATTN_DTYPE_BF16
#define DT_FROM_DOUBLE bf16r_from_double
#define DT_TO_DOUBLE bf16r_to_double
#define DT_ULP bf16r_ulp
#define F16_POISON BF16R_POISON /* a quiet bf16 NaN: unwritten outputs */
#define F16_GAP 0x7fcbu         /* a quiet bf16 NaN: input elements outside the views (must never be read) */
#define DT_QNAN 0x7fc0u
#define DT_PINF 0x7f80u
#define DT_NINF 0xff80u
#else
#define DT_NAME "f16"
#define DT_DTYPE CLATTN_DTYPE_F16
#define DT_FROM_DOUBLE f16r_from_double
#define DT_TO_DOUBLE f16r_to_double
#define DT_ULP f16r_ulp
#define F16_POISON F16R_POISON /* a quiet fp16 NaN: unwritten outputs */
#define F16_GAP 0x7e0bu    /* a quiet fp16 NaN: input elements outside the views (must never be read) */
#define DT_QNAN 0x7e00u
#define DT_PINF 0x7c00u
#define DT_NINF 0xfc00u
#endif

#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT
#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

/* ---- problems --------------------------------------------------------------------------------- */

/* d: the float32 problem built by sdpa_case (its q/k/v hold the fp16 values exactly, for the
 * reference; desc.data_type = F16); q16..out16: the buffers passed to clattn, same views. */
typedef struct f16_data {
    sdpa_data d;
    uint16_t *q16, *k16, *v16, *out16;
} f16_data;

/* Rounds the float view of f to fp16: h[view] = fp16(f), f[view] = (float)h (exact). */
static void round_view(float *f, uint16_t *h, const clattn_tensor *t)
{
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t e = 0; e < t->dims[3]; e++) {
                    const int64_t i = tu_index(t, a, b, c, e);
                    h[i] = DT_FROM_DOUBLE((double)f[i]);
                    f[i] = (float)DT_TO_DOUBLE(h[i]);
                }
}

static void f16_poison(f16_data *fd)
{
    for (int64_t i = 0; i < fd->d.no; i++) fd->out16[i] = F16_POISON;
    sdpa_data_poison(&fd->d);
}

/* After sdpa_data_make/refill: fp16 copies of the inputs, poisoned outputs. */
static void f16_sync(f16_data *fd)
{
    round_view(fd->d.q, fd->q16, &fd->d.desc.q);
    round_view(fd->d.k, fd->k16, &fd->d.desc.k);
    round_view(fd->d.v, fd->v16, &fd->d.desc.v);
    f16_poison(fd);
}

static void f16_make(f16_data *fd, const sdpa_case *c, tu_rng *r)
{
    memset(fd, 0, sizeof *fd);
    sdpa_data_make(&fd->d, c, r);
    fd->d.desc.data_type = DT_DTYPE;
    fd->q16 = f16r_alloc(fd->d.nq, F16_GAP);
    fd->k16 = f16r_alloc(fd->d.nk, F16_GAP);
    fd->v16 = f16r_alloc(fd->d.nv, F16_GAP);
    fd->out16 = f16r_alloc(fd->d.no, F16_POISON);
    f16_sync(fd);
}

static void f16_refill(f16_data *fd, const sdpa_case *c, tu_rng *r)
{
    sdpa_data_refill(&fd->d, c, r);
    f16_sync(fd);
}

static void f16_free(f16_data *fd)
{
    sdpa_data_free(&fd->d);
    free(fd->q16);
    free(fd->k16);
    free(fd->v16);
    free(fd->out16);
    memset(fd, 0, sizeof *fd);
}

/* ---- checks ----------------------------------------------------------------------------------- */

/* out16 against fp16(ref) within the tolerance above; gaps keep F16_POISON; empty rows exactly 0. */
static bool check_out16(const f16_data *fd, const double *ref, const tu_where *w)
{
    const clattn_sdpa_desc *s = &fd->d.desc;
    const clattn_tensor *t = &s->out;
    const int64_t B = t->dims[0], H = t->dims[1], L = t->dims[2], Dv = t->dims[3], Lk = s->k.dims[2];
    double maxabs = 0.0;
    for (int64_t i = 0; i < B * H * L * Dv; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > maxabs) maxabs = fabs(ref[i]);
    const double tol32 = TU_TOL_F32 * (maxabs > 1.0 ? maxabs : 1.0);
    int64_t bad = 0, bad_zero = 0, bad_gap = 0, n = 0;
    double worst = -1.0;
    char first[256] = "";
    unsigned char *in_view = calloc((size_t)fd->d.no, 1);
    if (!in_view) exit(1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < L; i++) {
                int any = 0;
                for (int64_t j = 0; j < Lk && !any; j++) any = ref_sdpa_allowed(s, fd->d.mask, fd->d.kvl, b, h, i, j);
                for (int64_t e = 0; e < Dv; e++, n++) {
                    const int64_t idx = tu_index(t, b, h, i, e);
                    in_view[idx] = 1;
                    const uint16_t bits = fd->out16[idx];
                    const double got = DT_TO_DOUBLE(bits), r = ref[n], rh = DT_TO_DOUBLE(DT_FROM_DOUBLE(r));
                    bool ok;
                    double err = 0.0, bound = 0.0;
                    if (!any) {
                        ok = bits == 0;
                        if (!ok) bad_zero++;
                    } else if (isnan(r) || isnan(got)) {
                        ok = isnan(r) && isnan(got);
                    } else if (isinf(rh) || isinf(got)) {
                        ok = got == rh;
                    } else {
                        err = fabs(got - rh);
                        bound = DT_ULP(fmax(fabs(r), fabs(got))) + tol32;
                        ok = err <= bound;
                        if (err / bound > worst) worst = err / bound;
                    }
                    if (!ok && !bad++)
                        snprintf(first, sizeof first,
                                 "out[%lld,%lld,%lld,%lld] = 0x%04x (%.9g), reference %.12g -> rounded %.9g, error %.3g > "
                                 "bound %.3g",
                                 (long long)b, (long long)h, (long long)i, (long long)e, (unsigned)bits, got, r, rh,
                                 err, bound);
                }
            }
    int64_t first_gap = -1;
    for (int64_t i = 0; i < fd->d.no; i++)
        if (!in_view[i] && fd->out16[i] != F16_POISON && !bad_gap++) first_gap = i;
    free(in_view);
    if (bad)
        tu_report(w, DT_NAME " out: %lld of %lld elements wrong (%lld rows-without-keys not 0); first: %s",
                  (long long)bad, (long long)n, (long long)bad_zero, first);
    if (bad_gap)
        tu_report(w, DT_NAME " out: %lld gap elements overwritten; first at %lld = 0x%04x", (long long)bad_gap,
                  (long long)first_gap, (unsigned)fd->out16[first_gap]);
    return bad == 0 && bad_gap == 0;
}

static bool check_f16(const f16_data *fd, const tu_where *w)
{
    double *ro = NULL, *rp = NULL;
    sdpa_data_reference(&fd->d, &ro, fd->d.probs ? &rp : NULL);
    bool ok = check_out16(fd, ro, w);
    if (fd->d.probs) {
        ok &= tu_check_view(w, "probs", fd->d.probs, &fd->d.desc.probs, rp, TU_TOL_F32);
        ok &= tu_check_gaps(w, "probs", fd->d.probs, fd->d.np, &fd->d.desc.probs, fd->d.poison);
        /* disallowed keys: exactly 0 */
        const clattn_sdpa_desc *s = &fd->d.desc;
        int64_t bad = 0;
        for (int64_t b = 0; b < s->q.dims[0]; b++)
            for (int64_t h = 0; h < s->q.dims[1]; h++)
                for (int64_t i = 0; i < s->q.dims[2]; i++)
                    for (int64_t j = 0; j < s->k.dims[2]; j++)
                        if (!ref_sdpa_allowed(s, fd->d.mask, fd->d.kvl, b, h, i, j) &&
                            fd->d.probs[tu_index(&s->probs, b, h, i, j)] != 0.0f)
                            bad++;
        if (bad) tu_report(w, "probs: %lld disallowed keys have a probability != 0", (long long)bad);
        ok &= bad == 0;
    }
    free(ro);
    free(rp);
    return ok;
}

static clattn_status run_f16(f16_data *fd, int one_shot, const tu_where *w)
{
    sdpa_data *d = &fd->d;
    clattn_status st;
    bool path_ok = true;
    if (one_shot) {
        st = clattn_sdpa(g_ctx, &d->desc, fd->q16, fd->k16, fd->v16,
                         d->mask, d->kvl, fd->out16, d->probs);
    } else {
        clattn_sdpa_plan *plan = NULL;
        st = clattn_sdpa_plan_create(&plan, g_ctx, &d->desc);
        path_ok = st != CLATTN_SUCCESS || tu_check_plan_path(plan, &d->desc, w);
        if (st == CLATTN_SUCCESS)
            st = clattn_sdpa_execute(plan, fd->q16, fd->k16, fd->v16,
                                     d->mask, d->kvl, fd->out16, d->probs);
        clattn_sdpa_plan_destroy(plan);
    }
    if (st != CLATTN_SUCCESS)
        tu_report(w, DT_NAME " sdpa returned %d (%s): %s", (int)st, clattn_status_string(st), clattn_last_error(g_ctx));
    return st == CLATTN_SUCCESS && !path_ok ? CLATTN_ERROR_UNSUPPORTED : st; /* a wrong path: reported above */
}

/* ---- cases ------------------------------------------------------------------------------------ */

/* The rows tagged f16 in tests/cases/cases.c (position = seed index). */
#define MAX_CASES 256
static const case_row *g_rows[MAX_CASES];

/* rusticl runs about 10x slower than PoCL: keep its work per case small (as test_sdpa). */
static sdpa_case shrink_case(const sdpa_case *c)
{
    sdpa_case s = *c;
    if (g_backend != TU_RUSTICL || getenv("CLATTN_TEST_FULL")) return s;
    const double budget = 2.0e6;
    while (sdpa_case_cost(&s) > budget && s.Hkv > 1 && s.Hq > 2 && s.Hkv % 2 == 0) s.Hkv /= 2, s.Hq /= 2;
    while (sdpa_case_cost(&s) > budget && (s.Lq > 67 || s.Lk > 67)) {
        if (s.Lq > 67) s.Lq /= 4;
        if (s.Lk > 67) s.Lk /= 4;
    }
    return s;
}

static void test_case(void **state)
{
    const case_row *const *row = *state;
    sdpa_case c = shrink_case(&(*row)->c);
    tu_where w = {DT_NAME, c.name, tu_case_seed(DT_NAME, (int)(row - g_rows))};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    f16_data fd;
    f16_make(&fd, &c, &r);
    bool ok = run_f16(&fd, 0, &w) == CLATTN_SUCCESS && check_f16(&fd, &w);
    f16_free(&fd);
    assert_true(ok);
}

/* One plan, several executions with fresh inputs; then the one-shot call. */
static void test_plan_reuse_and_one_shot(void **state)
{
    (void)state;
    sdpa_case c = {"plan_reuse", SZ(3, 4, 2, 7, 67, 40, 40), .lq = TU_PAD, .lk = TU_BLHD, .lv = TU_BLHD,
                   .lo = TU_PAD, .off_o = 3, .causal = BR, .mask_kind = ADDM, .mq = 1, .kvl = 1, .probs = 1};
    tu_where w = {DT_NAME, c.name, tu_case_seed(DT_NAME, 1000)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    f16_data fd;
    f16_make(&fd, &c, &r);
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &fd.d.desc);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "plan_create: %d %s", (int)st, clattn_last_error(g_ctx));
    ok = ok && tu_check_plan_path(plan, &fd.d.desc, &w);
    for (int it = 0; it < 3 && ok; it++) {
        if (it > 0) f16_refill(&fd, &c, &r);
        st = clattn_sdpa_execute(plan, fd.q16, fd.k16, fd.v16, fd.d.mask,
                                 fd.d.kvl, fd.out16, fd.d.probs);
        if (st != CLATTN_SUCCESS) tu_report(&w, "execute #%d: %d %s", it, (int)st, clattn_last_error(g_ctx));
        ok = st == CLATTN_SUCCESS && check_f16(&fd, &w);
    }
    clattn_sdpa_plan_destroy(plan);
    if (ok) {
        f16_refill(&fd, &c, &r);
        w.name = "one_shot";
        ok = run_f16(&fd, 1, &w) == CLATTN_SUCCESS && check_f16(&fd, &w);
    }
    f16_free(&fd);
    assert_true(ok);
}

/* Exact bits: ties round to even (normal and subnormal), the largest finite value stays finite.
 * q = 0 gives every key weight exactly 1/2 (Lk = 2), so out = (v0 + v1) / 2 exactly in float32. */
static void test_rounding_ties(void **state)
{
    (void)state;
    enum { DV = 8 };
    /*                              v0      v1      expected (v0 + v1) / 2 */
#ifdef CLATTN_TEST_BF16
    /* bf16 subnormals are float32 subnormals, which OpenCL devices may flush, and v0 + v1 near the top of the
     * range overflows float32 before the division: the ties here stay well inside the normal range (the
     * conversion test, test_dtype_convert, checks subnormals and the largest finite value bit for bit). */
    static const uint16_t tab[DV][3] = {
        {0x3f80, 0x3f81, 0x3f80}, /* 1 + 2^-8: tie between 0x3f80 and 0x3f81 -> even 0x3f80 */
        {0x3f81, 0x3f82, 0x3f82}, /* 1 + 3*2^-8: tie -> even 0x3f82 */
        {0x4380, 0x4381, 0x4380}, /* 257 between 256 and 258 -> 256 */
        {0xbf81, 0xbf82, 0xbf82}, /* negative tie -> even */
        {0x0101, 0x0100, 0x0100}, /* 2^-125 (1 + 2^-8): tie near the bottom of the normal range -> 0x0100 */
        {0x0103, 0x0100, 0x0102}, /* 2^-125 (1 + 3*2^-8) -> 0x0102 */
        {0x7e7f, 0x7e7f, 0x7e7f}, /* 1.7e38 stays itself */
        {0x3eab, 0x3eab, 0x3eab}, /* identical values: exact */
    };
#else
    static const uint16_t tab[DV][3] = {
        {0x3c00, 0x3c01, 0x3c00}, /* 1 + 2^-11: tie between 0x3c00 and 0x3c01 -> even 0x3c00 */
        {0x3c01, 0x3c02, 0x3c02}, /* 1 + 3*2^-11: tie -> even 0x3c02 */
        {0x6800, 0x6801, 0x6800}, /* 2049 between 2048 and 2050 -> 2048 */
        {0xbc01, 0xbc02, 0xbc02}, /* negative tie -> even */
        {0x0001, 0x0000, 0x0000}, /* 2^-25: subnormal tie between 0 and 2^-24 -> 0 */
        {0x0003, 0x0000, 0x0002}, /* 1.5 * 2^-24 -> 2 * 2^-24 */
        {0x7bff, 0x7bff, 0x7bff}, /* 65504 stays 65504 (not inf) */
        {0x3555, 0x3555, 0x3555}, /* identical values: exact */
    };
#endif
    /* 4 copies of the table (32 columns: whole vectors on every ISA, so the kernels' vector rounding is checked,
     * not only scalar tails), once with 1 query row (the host's decode path: its merge rounds) and once with 5
     * (the tiled path: rounded from registers) */
    enum { NC = 4 * DV, LQMAX = 5 };
    int bad = 0;
    for (int lq = 1; lq <= LQMAX; lq += LQMAX - 1) {
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, 1, 1, 1, lq, 2, 8, NC);
        desc.data_type = DT_DTYPE;
        _Alignas(16) uint16_t q[LQMAX * 8] = {0}, k[16], v[2 * NC], out[LQMAX * NC];
        for (int i = 0; i < 16; i++) k[i] = DT_FROM_DOUBLE(0.125 * (i % 5) - 0.25);
        for (int e = 0; e < NC; e++) {
            v[e] = tab[e % DV][0];
            v[NC + e] = tab[e % DV][1];
        }
        for (int e = 0; e < LQMAX * NC; e++) out[e] = F16_POISON;
        clattn_status st = clattn_sdpa(g_ctx, &desc, q, k, v, NULL, NULL, out, NULL);
        if (st != CLATTN_SUCCESS) fprintf(stderr, "clattn_sdpa: %d %s\n", (int)st, clattn_last_error(g_ctx));
        assert_int_equal(st, CLATTN_SUCCESS);
        for (int i = 0; i < lq; i++)
            for (int e = 0; e < NC; e++)
                if (out[i * NC + e] != tab[e % DV][2] && bad++ < 8)
                    fprintf(stderr, "rounding (Lq %d, row %d, col %d): (0x%04x + 0x%04x) / 2 gave 0x%04x, expected 0x%04x\n",
                            lq, i, e, tab[e % DV][0], tab[e % DV][1], out[i * NC + e], tab[e % DV][2]);
    }
    assert_int_equal(bad, 0);
}

/* fp16 NaN and inf inputs stay in their rows: NaN in q row 1, -inf in q row 4, NaN in K and +inf in V
 * of a key every row masks out, +inf in V of a key row 5 alone may see (causal). */
static void test_nan_inf_confined(void **state)
{
    (void)state;
    sdpa_case c = {"nan_inf", SZ(1, 2, 2, 7, 67, 40, 40), .causal = BR, .mask_kind = BOOLM};
    tu_where w = {DT_NAME, c.name, tu_case_seed(DT_NAME, 1001)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    f16_data fd;
    f16_make(&fd, &c, &r);
    const clattn_sdpa_desc *s = &fd.d.desc;
    uint8_t *mask = fd.d.mask;
    const int64_t jm = 20, jl = 66; /* masked key; the last key, which only the last row may see (BR) */
    mask[tu_index(&s->mask, 0, 0, 0, jm)] = 0;
    mask[tu_index(&s->mask, 0, 0, 0, jl)] = 1;
    for (int64_t h = 0; h < 2; h++) {
        int64_t i;
        i = tu_index(&s->q, 0, h, 1, 3), fd.q16[i] = DT_QNAN, fd.d.q[i] = NAN;
        i = tu_index(&s->q, 0, h, 4, 0), fd.q16[i] = DT_NINF, fd.d.q[i] = -INFINITY;
        i = tu_index(&s->k, 0, h, jm, 5), fd.k16[i] = DT_QNAN, fd.d.k[i] = NAN;
        i = tu_index(&s->v, 0, h, jm, 7), fd.v16[i] = DT_PINF, fd.d.v[i] = INFINITY;
        i = tu_index(&s->v, 0, h, jl, 9), fd.v16[i] = DT_PINF, fd.d.v[i] = INFINITY;
    }
    bool ok = run_f16(&fd, 0, &w) == CLATTN_SUCCESS && check_f16(&fd, &w);
    /* explicit: rows 1 and 4 NaN everywhere, row 6 has inf at e = 9 only, the others finite */
    for (int64_t h = 0; h < 2 && ok; h++)
        for (int64_t i = 0; i < 7; i++)
            for (int64_t e = 0; e < 40; e++) {
                const double got = DT_TO_DOUBLE(fd.out16[tu_index(&s->out, 0, h, i, e)]);
                const bool want_nan = i == 1 || i == 4, want_inf = i == 6 && e == 9;
                if (want_nan != (isnan(got) != 0) || want_inf != (isinf(got) != 0)) {
                    tu_report(&w, "out[0,%lld,%lld,%lld] = %g (expected %s)", (long long)h, (long long)i, (long long)e,
                              got, want_nan ? "NaN" : want_inf ? "+inf" : "finite");
                    ok = false;
                }
            }
    f16_free(&fd);
    assert_true(ok);
}

/* Workspace of a 16-bit plan against the float32 plan of the same (contiguous) problem. The host's fused and
 * decode kernels read 16-bit data natively (host-fused-<isa> paths but avx512bf16, D <= 256), and so does every
 * OpenCL SDPA kernel (-D ELEM16: chain, fused tiles, the direct decode kernel, fused-gpu prefill and decode):
 * exactly the float32 plan's workspace (test_long_keys_chain: the one OpenCL exception, float32 partial sums).
 * The host's row-by-row path (host-rowwise: CLATTN_PATH=chain, probabilities, general strides) reads them in place
 * too (host_ld / host_st). Only the host's fused kernels at D > 256 are staged by core: 4 bytes per q, k, v and
 * out view element more, nothing of size Lq x Lk. Tiled, decode and D > 256 problems; on OpenCL the old code
 * staged all but the direct decode, and on the host the row-by-row path, so this fails there without them. */
static bool workspace_case(const char *what, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D,
                           int64_t Dv)
{
    clattn_sdpa_desc desc;
    clattn_sdpa_desc_init(&desc, B, Hq, Hkv, Lq, Lk, D, Dv);
    clattn_sdpa_plan *p32 = NULL, *p16 = NULL;
    if (clattn_sdpa_plan_create(&p32, g_ctx, &desc) != CLATTN_SUCCESS) return false;
    desc.data_type = DT_DTYPE;
    if (clattn_sdpa_plan_create(&p16, g_ctx, &desc) != CLATTN_SUCCESS) {
        clattn_sdpa_plan_destroy(p32);
        return false;
    }
    const size_t staging = (size_t)(B * Hq * Lq * D + B * Hkv * Lk * D + B * Hkv * Lk * Dv + B * Hq * Lq * Dv) * 4;
    const size_t w32 = clattn_sdpa_plan_workspace_size(p32), w16 = clattn_sdpa_plan_workspace_size(p16);
    const char *path = clattn_sdpa_plan_path(p16);
    const bool native = (g_backend == TU_HOST && strncmp(path, "host-fused-", 11) == 0 &&
                         strcmp(path, "host-fused-avx512bf16") != 0 && D <= 256) ||
                        (g_backend == TU_HOST && strcmp(path, "host-rowwise") == 0) || g_backend != TU_HOST;
    printf("workspace %s: float32 %zu bytes (%s), %s %zu bytes (%s), %s\n", what, w32, clattn_sdpa_plan_path(p32),
           DT_NAME, w16, path, native ? "read natively (expected equal)" : "staged (expected + copies)");
    const bool ok = strcmp(clattn_sdpa_plan_path(p32), path) == 0 && w16 == w32 + (native ? 0 : staging);
    if (!ok) fprintf(stderr, "workspace %s: %zu, expected %zu\n", what, w16, w32 + (native ? 0 : staging));
    clattn_sdpa_plan_destroy(p32);
    clattn_sdpa_plan_destroy(p16);
    return ok;
}

static void test_workspace(void **state)
{
    (void)state;
    bool ok = workspace_case("tiled", 2, 4, 2, 67, 129, 40, 24);
    ok &= workspace_case("decode", 3, 8, 2, 1, 1031, 64, 64);
    ok &= workspace_case("decode_lq4", 1, 4, 1, 4, 300, 33, 17);
    ok &= workspace_case("d264", 1, 2, 2, 9, 33, 264, 8);
    /* the host's default plans of the tiled and decode shapes must be native (no staging fallback there) */
    if (g_backend == TU_HOST && !getenv("CLATTN_PATH") && !getenv("CLATTN_TEST_EXPECT_PATH")) {
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, 3, 8, 2, 1, 1031, 64, 64);
        desc.data_type = DT_DTYPE;
        clattn_sdpa_plan *p16 = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&p16, g_ctx, &desc), CLATTN_SUCCESS);
        ok &= strncmp(clattn_sdpa_plan_path(p16), "host-fused-", 11) == 0;
        clattn_sdpa_plan_destroy(p16);
    }
    assert_true(ok);
}

/* An OpenCL chain whose P·V takes several launches over the keys (Lk = 40000, past the LOOP budget's kchunk on
 * every rules row): the partial sums stay float32 after S in the workspace (B·Hq·Lq·Dv floats more than the
 * float32 plan: the check that the keys were split; nothing staged) and out is rounded once by the last launch,
 * so the result meets the same 1-ulp bound against the double reference. OpenCL only (the host has no such
 * split). */
static void test_long_keys_chain(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    sdpa_case c = {"long_keys_chain", SZ(1, 2, 1, 3, 40000, 8, 8), .causal = BR, .lo = TU_PAD, .off_o = 2};
    tu_where w = {DT_NAME, c.name, tu_case_seed(DT_NAME, 1001)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    f16_data fd;
    f16_make(&fd, &c, &r);
    fd.d.desc.kernel_path = CLATTN_KERNEL_PATH_CHAIN;
    clattn_sdpa_desc d32 = fd.d.desc;
    d32.data_type = CLATTN_DTYPE_F32;
    clattn_sdpa_plan *p16 = NULL, *p32 = NULL;
    bool ok = clattn_sdpa_plan_create(&p32, g_ctx, &d32) == CLATTN_SUCCESS &&
              clattn_sdpa_plan_create(&p16, g_ctx, &fd.d.desc) == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "plan_create: %s", clattn_last_error(g_ctx));
    if (ok) {
        const size_t w32 = clattn_sdpa_plan_workspace_size(p32), w16 = clattn_sdpa_plan_workspace_size(p16);
        const size_t acc = (size_t)(c.B * c.Hq * c.Lq * c.Dv) * sizeof(float);
        printf("long keys: float32 %zu bytes, %s %zu bytes (%s), expected + %zu\n", w32, DT_NAME, w16,
               clattn_sdpa_plan_path(p16), acc);
        ok = w16 == w32 + acc && strcmp(clattn_sdpa_plan_path(p16), "chain") == 0;
        if (!ok) tu_report(&w, "workspace %zu, expected %zu + %zu; path %s", w16, w32, acc, clattn_sdpa_plan_path(p16));
    }
    if (ok) {
        const clattn_status st = clattn_sdpa_execute(p16, fd.q16, fd.k16, fd.v16, NULL, NULL, fd.out16, NULL);
        if (st != CLATTN_SUCCESS) tu_report(&w, "execute: %d %s", (int)st, clattn_last_error(g_ctx));
        ok = st == CLATTN_SUCCESS && check_f16(&fd, &w);
    }
    clattn_sdpa_plan_destroy(p16);
    clattn_sdpa_plan_destroy(p32);
    f16_free(&fd);
    assert_true(ok);
}

/* data_type outside the enum: INVALID_ARGUMENT naming the field; plan stays NULL. */
static void test_errors(void **state)
{
    (void)state;
    const int bad[] = {3, -1, 1000}; /* 0, 1, 2: F32, F16, BF16 */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, 1, 2, 2, 7, 7, 8, 8);
        desc.data_type = (clattn_dtype)bad[i];
        clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)1;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &desc), CLATTN_ERROR_INVALID_ARGUMENT);
        assert_null(plan);
        const char *msg = clattn_last_error(g_ctx);
        char want[32];
        snprintf(want, sizeof want, "data_type: %d", bad[i]);
        if (!strstr(msg, want)) fprintf(stderr, "message '%s' lacks '%s'\n", msg, want);
        assert_non_null(strstr(msg, want));
        float x[64] = {0};
        assert_int_equal(clattn_sdpa(g_ctx, &desc, x, x, x, NULL, NULL, x, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    }
    /* enqueue on the host path is UNSUPPORTED for fp16 plans too */
    if (g_backend == TU_HOST) {
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, 1, 1, 1, 7, 7, 8, 8);
        desc.data_type = DT_DTYPE;
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &desc), CLATTN_SUCCESS);
        assert_int_equal(clattn_sdpa_enqueue(plan, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL),
                         CLATTN_ERROR_UNSUPPORTED);
        clattn_sdpa_plan_destroy(plan);
    }
}

/* OpenCL: clattn_sdpa_enqueue with cl_mem buffers of exactly 2 bytes per element a view reaches, after
 * a user event; one byte fewer is INVALID_ARGUMENT. */
static void test_enqueue(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    cl_context cc = NULL;
    cl_device_id dev = NULL;
    cl_command_queue queue = NULL;
    assert_int_equal(clattn_context_get_cl(g_ctx, &cc, &dev, &queue), CLATTN_SUCCESS);
    sdpa_case c = {"enqueue", SZ(2, 4, 2, 7, 67, 40, 24), .lq = TU_BLHD_PAD, .lk = TU_PAD, .lv = TU_COLSTRIDE,
                   .lo = TU_BLHD_PAD, .off_q = 2, .off_v = 1, .off_o = 6, .mask_kind = BOOLM, .mq = 1,
                   .kvl = 1, .causal = TL, .probs = 1, .lp = TU_PAD, .off_p = 3};
    tu_where w = {DT_NAME, c.name, tu_case_seed(DT_NAME, 1002)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    f16_data fd;
    f16_make(&fd, &c, &r);
    sdpa_data *d = &fd.d;
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d->desc), CLATTN_SUCCESS);
    cl_mem q = tu_cl_mem(cc, (size_t)d->nq * 2, fd.q16), k = tu_cl_mem(cc, (size_t)d->nk * 2, fd.k16);
    cl_mem v = tu_cl_mem(cc, (size_t)d->nv * 2, fd.v16), out = tu_cl_mem(cc, (size_t)d->no * 2, fd.out16);
    cl_mem mask = tu_cl_mem(cc, (size_t)d->nm, d->mask), kvl = tu_cl_mem(cc, (size_t)d->desc.q.dims[0] * 4, d->kvl);
    cl_mem probs = tu_cl_mem(cc, (size_t)d->np * 4, d->probs);
    cl_mem small = tu_cl_mem(cc, (size_t)d->no * 2 - 1, NULL);
    assert_int_equal(clattn_sdpa_enqueue(plan, q, k, v, mask, kvl, small, probs, 0, NULL, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(g_ctx), "out: cl_mem holds"));
    cl_int err = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(cc, &err), done = NULL;
    assert_int_equal(err, CL_SUCCESS);
    clattn_status st = clattn_sdpa_enqueue(plan, q, k, v, mask, kvl, out, probs, 1, &gate, &done);
    if (st != CLATTN_SUCCESS) tu_report(&w, "enqueue: %d %s", (int)st, clattn_last_error(g_ctx));
    assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    bool ok = st == CLATTN_SUCCESS && done != NULL;
    if (ok) ok = clWaitForEvents(1, &done) == CL_SUCCESS;
    if (ok)
        ok = clEnqueueReadBuffer(queue, out, CL_TRUE, 0, (size_t)d->no * 2, fd.out16, 0, NULL, NULL) == CL_SUCCESS &&
             clEnqueueReadBuffer(queue, probs, CL_TRUE, 0, (size_t)d->np * 4, d->probs, 0, NULL, NULL) == CL_SUCCESS;
    ok = ok && check_f16(&fd, &w);
    if (done) clReleaseEvent(done);
    clReleaseEvent(gate);
    cl_mem all[] = {q, k, v, out, mask, kvl, probs, small};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
    clattn_sdpa_plan_destroy(plan);
    f16_free(&fd);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const size_t n_cases = case_rows_tagged(CASE_F16, g_rows, MAX_CASES);
    if (n_cases > MAX_CASES) return 1;
    struct CMUnitTest tests[MAX_CASES + 6];
    size_t n = 0;
    for (size_t i = 0; i < n_cases; i++) {
        struct CMUnitTest t = {g_rows[i]->c.name, test_case, NULL, NULL, (void *)&g_rows[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_plan_reuse_and_one_shot), cmocka_unit_test(test_rounding_ties),
                                 cmocka_unit_test(test_nan_inf_confined),        cmocka_unit_test(test_workspace),
                                 cmocka_unit_test(test_errors),                  cmocka_unit_test(test_enqueue),
                                 cmocka_unit_test(test_long_keys_chain)};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) tests[n++] = extra[i];
    n = tu_tests_only(tests, n); /* CLATTN_TEST_ONLY=name1,name2: run only those (e.g. small cases under Oclgrind) */
    int failed = tu_run_group(DT_NAME, tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
