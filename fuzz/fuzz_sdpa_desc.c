/*
 * libFuzzer target: SDPA descriptor validation and the host path.
 *
 * The input bytes are decoded into a clattn_sdpa_desc (fuzz_decode below): tiny dims 0..9 with
 * occasional boundary values (16..257, INT32_MAX, INT64_MAX, negatives), per tensor a layout
 * (contiguous, permuted, padded, broadcast with stride 0, raw small strides, or wild strides and
 * offsets chosen to overflow), random scale/softcap (mostly sane, sometimes raw float bits),
 * causal mode, window sizes, mask kind and dims, kv_lengths and want_probs, plus the fused-kernel
 * variant (a host context per variant: host_isa, or kernel_path chain for "off"), the data seed and the thread count. Then, on a host context (device
 * "host", 1 or 2 worker threads; both created once):
 *
 *  1. clattn_sdpa_plan_create must agree with an independent model of the documented rules
 *     (expect_valid): a descriptor the model rejects must fail, one it accepts must not fail with
 *     INVALID_ARGUMENT. Every failure must leave plan == NULL and a non-empty clattn_last_error.
 *  2. On success with small extents, clattn_sdpa_execute runs on buffers of exactly the extent each
 *     view reaches (so ASan reports any access outside a view) and the result is compared with a
 *     double-precision reference (ref_row): out and probs within 1e-4 relative (+1e-4 absolute for
 *     out, 1e-6 for probabilities, plus the float score error bound, which matters only for long D),
 *     disallowed probabilities exactly 0, NaN exactly where the reference has NaN,
 *     and output elements outside the out/probs views untouched. V (and optionally K) elements that
 *     no allowed (query, key) pair reads are set to NaN: they must never reach the result.
 *     Out-of-range kv_lengths must be refused with INVALID_ARGUMENT.
 *
 * Any disagreement prints the decoded problem and calls abort(), which libFuzzer reports as a crash.
 * Set FUZZ_SDPA_VERBOSE=1 to print every decoded problem (for reproducing a crash input).
 */
#include "clattn.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference and the checks are the harness's own code: no coverage feedback (speed, and the
 * corpus should grow for library behaviour only). ASan and UBSan still apply. */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

/* Largest problem executed: elements per buffer and multiply-adds of the reference. */
#define EXEC_MAX_ELEMS ((int64_t)1 << 20)
#define EXEC_MAX_WORK ((int64_t)4 << 20)

/* ---- byte reader --------------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t rd_u8(reader *r)
{
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

static uint32_t rd_u32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)rd_u8(r) << (8 * i);
    return v;
}

static uint64_t rd_u64(reader *r)
{
    return (uint64_t)rd_u32(r) | ((uint64_t)rd_u32(r) << 32);
}

/* Boundary values for dims, strides, offsets and windows. */
static const int64_t specials[] = {
    0, -1, -2, 16, 17, 31, 32, 33, 64, 127, 128, 129, 257,
    INT32_MAX, (int64_t)INT32_MAX + 1, INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MAX / 2, INT64_MAX / 4 + 1,
    INT64_MAX / 3, (int64_t)1 << 62, (int64_t)1 << 61, (int64_t)1 << 40, (int64_t)1 << 32, (int64_t)1 << 31,
    (int64_t)1 << 30, 65536, 4, 8, 1, 2, 12, 20, 24, 40, 48, 3,
};
#define NSPECIALS ((int)(sizeof specials / sizeof specials[0]))

static int64_t rd_special(reader *r)
{
    return specials[rd_u8(r) % NSPECIALS];
}

/* A problem size: mostly 1..9, sometimes 0 or a boundary value. */
static int64_t rd_dim(reader *r)
{
    uint8_t b = rd_u8(r);
    if (b < 216) return 1 + b % 9;
    if (b < 224) return 0;
    return rd_special(r);
}

/* ---- data generator ------------------------------------------------------------------------------ */

static uint64_t rng_state;

NO_COVERAGE static uint64_t rng_next(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

NO_COVERAGE static float rng_uniform(float lo, float hi) /* [lo, hi) */
{
    return lo + (hi - lo) * (float)((rng_next() >> 40) * (1.0 / 16777216.0));
}

/* ---- decoding ------------------------------------------------------------------------------------- */

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return INT64_MAX;
    return r;
}

#ifndef FUZZ_CONTIGUOUS_HUGE_DIMS
/* Whether clattn_tensor_contiguous(x, a, b, c) computes (a·b)·c and b·c without overflow. */
static bool prod3_ok(int64_t a, int64_t b, int64_t c)
{
    int64_t ab, abc, bc;
    return !__builtin_mul_overflow(a, b, &ab) && !__builtin_mul_overflow(ab, c, &abc) &&
           !__builtin_mul_overflow(b, c, &bc);
}
#endif

/* Fills t with dims want[] (sometimes perturbed) in a layout chosen by the input. */
static void rd_tensor(reader *r, const int64_t want[4], clattn_tensor *t)
{
    for (int i = 0; i < 4; i++) t->dims[i] = want[i];
    uint8_t pert = rd_u8(r);
    if (pert >= 244) {
        int i = pert % 4;
        uint8_t how = rd_u8(r);
        int64_t next;
        if (__builtin_add_overflow(t->dims[i], how & 1 ? 1 : -1, &next)) next = t->dims[i];
        t->dims[i] = how < 128 ? rd_special(r) : next;
    }
    int perm[4] = {0, 1, 2, 3};
    int64_t pad[4] = {0, 0, 0, 0};
    uint8_t mode = rd_u8(r) % 8;
    if (mode == 3 || mode == 4) {
        int code = rd_u8(r) % 24; /* a permutation of 4 in factorial base */
        int avail[4] = {0, 1, 2, 3}, navail = 4;
        for (int i = 0; i < 4; i++) {
            int f = i == 0 ? 6 : i == 1 ? 2 : 1, pick = i == 3 ? 0 : (code / f) % navail;
            if (i < 3) code %= f;
            perm[i] = avail[pick];
            for (int k = pick; k < navail - 1; k++) avail[k] = avail[k + 1];
            navail--;
        }
        if (mode == 4) {
            uint8_t pb = rd_u8(r);
            for (int i = 0; i < 4; i++) pad[i] = (pb >> (2 * i)) & 3;
        }
    }
    /* contiguous strides for dims in the order perm[0] (outermost) .. perm[3] (innermost) */
    int64_t s = 1;
    for (int k = 3; k >= 0; k--) {
        int i = perm[k];
        t->strides[i] = s;
        int64_t len;
        if (__builtin_add_overflow(t->dims[i], pad[i], &len)) len = INT64_MAX;
        s = sat_mul(s, len > 0 ? len : 1);
    }
    if (mode == 5) { /* broadcast some dims (stride 0) */
        uint8_t z = rd_u8(r);
        for (int i = 0; i < 4; i++)
            if (z & (1u << i)) t->strides[i] = 0;
    } else if (mode == 6) { /* raw small strides (may overlap or leave gaps) */
        for (int i = 0; i < 4; i++) t->strides[i] = rd_u8(r) % 24;
    } else if (mode == 7) { /* wild strides */
        uint8_t w = rd_u8(r);
        for (int i = 0; i < 4; i++)
            if (w & (1u << i)) t->strides[i] = rd_special(r);
    }
    uint8_t o = rd_u8(r);
    t->offset = o < 160 ? 0 : o < 240 ? o % 16 : rd_special(r);
}

static float rd_float(reader *r, bool softcap)
{
    uint8_t m = rd_u8(r);
    if (softcap) {
        if (m < 160) return 0.0f;
        if (m < 232) return rng_uniform(0.25f, 12.0f) * (float)(1 + (m & 1)); /* sane */
        if (m < 240) return -1.0f;
    } else {
        if (m < 96) return 0.0f; /* default 1/sqrt(D) */
        if (m < 232) return rng_uniform(-3.0f, 3.0f);
    }
    uint32_t bits = rd_u32(r); /* raw: NaN, inf, huge, tiny, negative */
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int64_t rd_window(reader *r)
{
    uint8_t b = rd_u8(r);
    if (b < 128) return -1;
    if (b < 232) return b % 12;
    return rd_special(r);
}

typedef struct fuzz_case {
    clattn_sdpa_desc d;
    int isa;              /* index into isa_names */
    int32_t kvl[16];      /* kv_lengths (first B used), valid when B <= 16 */
    uint64_t seed;
    unsigned data_flags;  /* bit 0: poison unread K too; bit 1: a NaN in q; bits 2-3: mask density;
                           * bit 4: the 2-thread context (else 1 thread) */
} fuzz_case;

static const char *const isa_names[] = {"", "off", "portable", "avx2", "avx512"};

static void fuzz_decode(reader *r, fuzz_case *c)
{
    memset(c, 0, sizeof *c);
    clattn_sdpa_desc *d = &c->d;
    c->isa = rd_u8(r) % 5;
    int64_t B = rd_dim(r), Hkv = rd_dim(r), G = rd_dim(r), Lq = rd_dim(r), Lk = rd_dim(r), D = rd_dim(r),
            Dv = rd_dim(r);
    int64_t Hq = sat_mul(Hkv, G);
    uint8_t hq_raw = rd_u8(r);
    if (hq_raw >= 248) Hq = rd_dim(r); /* often not a multiple of Hkv */
    /* Every tensor is overwritten below; desc_init sets the defaults of the other fields. Known issue:
     * clattn_tensor_contiguous (src/core/sdpa.c) multiplies dims without overflow checks (signed overflow,
     * UB, for e.g. dims [1, 2^62-1, 7, 1]), so huge dims bypass it unless the build defines
     * FUZZ_CONTIGUOUS_HUGE_DIMS (to check a fix). */
    bool init_ok = true;
#ifndef FUZZ_CONTIGUOUS_HUGE_DIMS
    init_ok = prod3_ok(Hq, Lq, D) && prod3_ok(Hkv, Lk, D) && prod3_ok(Hkv, Lk, Dv) && prod3_ok(Hq, Lq, Dv) &&
              prod3_ok(Hq, Lq, Lk) && prod3_ok(1, Lq, Lk);
#endif
    if (init_ok)
        clattn_sdpa_desc_init(d, B, Hq, Hkv, Lq, Lk, D, Dv);
    else
        clattn_sdpa_desc_init(d, 1, 1, 1, 1, 1, 1, 1);
    int64_t wq[4] = {B, Hq, Lq, D}, wk[4] = {B, Hkv, Lk, D}, wv[4] = {B, Hkv, Lk, Dv}, wo[4] = {B, Hq, Lq, Dv};
    uint8_t kvb = rd_u8(r); /* k/v broadcast over the batch (dim 0 of 1) */
    if (kvb & 1) wk[0] = 1;
    if (kvb & 2) wv[0] = 1;
    rd_tensor(r, wq, &d->q);
    rd_tensor(r, wk, &d->k);
    rd_tensor(r, wv, &d->v);
    rd_tensor(r, wo, &d->out);

    c->seed = rd_u64(r) | 1;
    rng_state = c->seed;
    d->scale = rd_float(r, false);
    d->softcap = rd_float(r, true);
    uint8_t cz = rd_u8(r);
    d->causal = cz < 248 ? (clattn_causal)(cz % 3) : (clattn_causal)(int32_t)rd_u32(r);
    d->window_left = rd_window(r);
    d->window_right = rd_window(r);
    uint8_t mk = rd_u8(r);
    d->mask_kind = mk < 248 ? (clattn_mask_kind)(mk % 3) : (clattn_mask_kind)(int32_t)rd_u32(r);
    uint8_t mb = rd_u8(r);
    int64_t wm[4] = {mb & 1 ? B : 1, mb & 2 ? Hq : 1, mb & 4 ? Lq : 1, Lk};
    rd_tensor(r, wm, &d->mask);
    uint8_t fl = rd_u8(r);
    d->use_kv_lengths = fl & 1;
    d->want_probs = (fl & 2) ? (int)(fl >> 2) + 1 : 0; /* any nonzero value means yes */
    int64_t wp[4] = {B, Hq, Lq, Lk};
    rd_tensor(r, wp, &d->probs);
    for (int b = 0; b < 16; b++) {
        uint8_t k = rd_u8(r);
        int64_t lk = Lk >= 0 && Lk <= INT32_MAX ? Lk : 0;
        c->kvl[b] = k < 250 ? (int32_t)(k % (lk + 1)) : k == 250 ? -1 : k == 251 ? (int32_t)(lk + 1)
                                                      : k == 252 ? INT32_MAX : k == 253 ? INT32_MIN : (int32_t)lk;
    }
    c->data_flags = rd_u8(r);
}

/* ---- the independent model of the validation rules ----------------------------------------------- */

/* Element extent of a view (dims >= 1, strides >= 0 already checked; size-1 dims ignore their stride);
 * false when extent * es exceeds INT64_MAX. */
static bool model_extent(const clattn_tensor *t, int64_t es, int64_t *extent)
{
    __int128 last = t->offset;
    for (int i = 0; i < 4; i++)
        if (t->dims[i] > 1) last += (__int128)(t->dims[i] - 1) * t->strides[i];
    __int128 bytes = (last + 1) * es;
    if (bytes > INT64_MAX) return false;
    *extent = (int64_t)(last + 1);
    return true;
}

static bool model_tensor(const clattn_tensor *t, int64_t es, int64_t *extent)
{
    for (int i = 0; i < 4; i++)
        if (t->dims[i] < 1 || t->dims[i] > INT32_MAX || t->strides[i] < 0) return false;
    if (t->offset < 0) return false;
    return model_extent(t, es, extent);
}

/* The documented rule for output views: ordered by stride, each stride (of a dim > 1) is at least the
 * span of the smaller ones. */
static bool model_no_overlap(const clattn_tensor *t)
{
    bool used[4] = {false, false, false, false};
    __int128 span = 1;
    for (int k = 0; k < 4; k++) {
        int best = -1;
        for (int i = 0; i < 4; i++)
            if (!used[i] && t->dims[i] > 1 && (best < 0 || t->strides[i] < t->strides[best])) best = i;
        if (best < 0) break;
        used[best] = true;
        if (t->strides[best] < span) return false;
        span = (__int128)t->strides[best] * t->dims[best];
    }
    return true;
}

static bool dims_eq(const clattn_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d)
{
    return t->dims[0] == a && t->dims[1] == b && t->dims[2] == c && t->dims[3] == d;
}

static bool one_or(int64_t x, int64_t full)
{
    return x == 1 || x == full;
}

typedef struct model {
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
    int64_t ext_q, ext_k, ext_v, ext_out, ext_mask, ext_probs;
} model;

static bool expect_valid(const clattn_sdpa_desc *d, model *m)
{
    memset(m, 0, sizeof *m);
    if (!model_tensor(&d->q, 4, &m->ext_q) || !model_tensor(&d->k, 4, &m->ext_k) ||
        !model_tensor(&d->v, 4, &m->ext_v) || !model_tensor(&d->out, 4, &m->ext_out))
        return false;
    m->B = d->q.dims[0];
    m->Hq = d->q.dims[1];
    m->Lq = d->q.dims[2];
    m->D = d->q.dims[3];
    m->Hkv = d->k.dims[1];
    m->Lk = d->k.dims[2];
    m->Dv = d->v.dims[3];
    if (!one_or(d->k.dims[0], m->B) || d->k.dims[3] != m->D) return false;
    if (!one_or(d->v.dims[0], m->B) || d->v.dims[1] != m->Hkv || d->v.dims[2] != m->Lk) return false;
    if (m->Hq % m->Hkv != 0) return false;
    if (!dims_eq(&d->out, m->B, m->Hq, m->Lq, m->Dv) || !model_no_overlap(&d->out)) return false;
    if (!isfinite(d->scale) || !isfinite(d->softcap) || d->softcap < 0.0f) return false;
    if ((int)d->causal < 0 || (int)d->causal > 2) return false;
    if (d->window_left < -1 || d->window_right < -1) return false;
    if ((int)d->mask_kind < 0 || (int)d->mask_kind > 2) return false;
    if (d->mask_kind != CLATTN_MASK_NONE) {
        if (!model_tensor(&d->mask, d->mask_kind == CLATTN_MASK_BOOL ? 1 : 4, &m->ext_mask)) return false;
        if (!one_or(d->mask.dims[0], m->B) || !one_or(d->mask.dims[1], m->Hq) || !one_or(d->mask.dims[2], m->Lq) ||
            d->mask.dims[3] != m->Lk)
            return false;
    }
    if (d->want_probs) {
        if (!model_tensor(&d->probs, 4, &m->ext_probs)) return false;
        if (!dims_eq(&d->probs, m->B, m->Hq, m->Lq, m->Lk) || !model_no_overlap(&d->probs)) return false;
    }
    return true;
}

/* ---- reference ------------------------------------------------------------------------------------ */

/* Element index of (i0, i1, i2, i3) in a view; size-1 dims broadcast. */
NO_COVERAGE static int64_t at(const clattn_tensor *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3)
{
    const int64_t ix[4] = {i0, i1, i2, i3};
    int64_t e = t->offset;
    for (int i = 0; i < 4; i++)
        if (t->dims[i] > 1) e += ix[i] * t->strides[i];
    return e;
}

typedef struct run_ctx {
    const clattn_sdpa_desc *d;
    const model *m;
    float scale;
    const float *q, *k, *v;
    const void *mask;
    const int32_t *kvl;
} run_ctx;

/* Whether key j is allowed for row (b, h, i); 128-bit arithmetic so huge windows cannot overflow. */
NO_COVERAGE static bool allowed(const run_ctx *rc, int64_t b, int64_t h, int64_t i, int64_t j)
{
    const clattn_sdpa_desc *d = rc->d;
    const model *m = rc->m;
    int64_t lk = d->use_kv_lengths ? rc->kvl[b] : m->Lk;
    if (lk < 0) lk = 0;
    if (lk > m->Lk) lk = m->Lk;
    if (j >= lk) return false;
    __int128 ip = (__int128)i + lk - m->Lq;
    if (d->causal == CLATTN_CAUSAL_TOP_LEFT && j > i) return false;
    if (d->causal == CLATTN_CAUSAL_BOTTOM_RIGHT && j > ip) return false;
    if (d->window_left != -1 && (__int128)j < ip - d->window_left) return false;
    if (d->window_right != -1 && (__int128)j > ip + d->window_right) return false;
    if (d->mask_kind == CLATTN_MASK_BOOL)
        return ((const uint8_t *)rc->mask)[at(&d->mask, b, h, i, j)] != 0;
    if (d->mask_kind == CLATTN_MASK_ADDITIVE)
        return ((const float *)rc->mask)[at(&d->mask, b, h, i, j)] != -INFINITY;
    return true;
}

/* out_row[Dv], prob_row[Lk] and ok_row[Lk] (allowed keys) of row (b, h, i) in double. *score_err is
 * the worst-case error of a float score of the row: recursive float summation of D products errs by
 * at most about D·2^-24·sum|q_d·k_d| (Higham, gamma_D), times |scale|. For the tiny D this target
 * mostly draws it is far below the 1e-4 tolerance; for D in the thousands it dominates. */
NO_COVERAGE static void ref_row(const run_ctx *rc, int64_t b, int64_t h, int64_t i, double *out_row, double *prob_row,
                    bool *ok_row, double *score_err)
{
    *score_err = 0.0;
    const clattn_sdpa_desc *d = rc->d;
    const model *m = rc->m;
    const int64_t hk = h / (m->Hq / m->Hkv);
    double mx = -INFINITY;
    bool any = false;
    for (int64_t j = 0; j < m->Lk; j++) {
        ok_row[j] = allowed(rc, b, h, i, j);
        if (!ok_row[j]) continue;
        any = true;
        double s = 0.0, sabs = 0.0;
        for (int64_t e = 0; e < m->D; e++) {
            const double t = (double)rc->q[at(&d->q, b, h, i, e)] * (double)rc->k[at(&d->k, b, hk, j, e)];
            s += t;
            sabs += fabs(t);
        }
        s *= (double)rc->scale;
        const double err = sabs * fabs((double)rc->scale) * (double)m->D * 0x1p-24;
        if (err > *score_err) *score_err = err;
        if (d->softcap > 0.0f) s = (double)d->softcap * tanh(s / (double)d->softcap);
        if (d->mask_kind == CLATTN_MASK_ADDITIVE) s += (double)((const float *)rc->mask)[at(&d->mask, b, h, i, j)];
        prob_row[j] = s;
        if (s > mx) mx = s;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < m->Lk; j++) {
        if (!ok_row[j]) {
            prob_row[j] = 0.0;
            continue;
        }
        prob_row[j] = exp(prob_row[j] - mx);
        sum += prob_row[j];
    }
    for (int64_t j = 0; j < m->Lk; j++)
        if (ok_row[j]) prob_row[j] /= sum;
    for (int64_t e = 0; e < m->Dv; e++) {
        double acc = 0.0;
        for (int64_t j = 0; j < m->Lk; j++)
            if (ok_row[j]) acc += prob_row[j] * (double)rc->v[at(&d->v, b, hk, j, e)];
        out_row[e] = any ? acc : 0.0;
    }
}

/* ---- reporting ------------------------------------------------------------------------------------ */

static void print_tensor(const char *name, const clattn_tensor *t)
{
    fprintf(stderr, "  %-5s dims [%lld, %lld, %lld, %lld] strides [%lld, %lld, %lld, %lld] offset %lld\n", name,
            (long long)t->dims[0], (long long)t->dims[1], (long long)t->dims[2], (long long)t->dims[3],
            (long long)t->strides[0], (long long)t->strides[1], (long long)t->strides[2], (long long)t->strides[3],
            (long long)t->offset);
}

static void print_case(const fuzz_case *c)
{
    const clattn_sdpa_desc *d = &c->d;
    fprintf(stderr, "sdpa case: kernel variant '%s' threads %d seed %llu data_flags 0x%x\n", isa_names[c->isa],
            1 + (int)((c->data_flags >> 4) & 1), (unsigned long long)c->seed, c->data_flags);
    print_tensor("q", &d->q);
    print_tensor("k", &d->k);
    print_tensor("v", &d->v);
    print_tensor("out", &d->out);
    fprintf(stderr, "  scale %.9g softcap %.9g causal %d window [%lld, %lld] mask_kind %d use_kv_lengths %d "
            "want_probs %d\n", (double)d->scale, (double)d->softcap, (int)d->causal, (long long)d->window_left,
            (long long)d->window_right, (int)d->mask_kind, d->use_kv_lengths, d->want_probs);
    if (d->mask_kind != CLATTN_MASK_NONE) print_tensor("mask", &d->mask);
    if (d->want_probs) print_tensor("probs", &d->probs);
    if (d->use_kv_lengths) {
        fprintf(stderr, "  kv_lengths");
        for (int b = 0; b < 16 && b < d->q.dims[0]; b++) fprintf(stderr, " %d", (int)c->kvl[b]);
        fprintf(stderr, "\n");
    }
}

static const fuzz_case *current;
/* Counters printed at exit when FUZZ_SDPA_STATS is set: inputs, plans created, executions checked
 * against the reference, executions refused for bad kv_lengths. */
static unsigned long long n_inputs, n_plans, n_checked, n_kvl_refused;
/* Host contexts with 1 and 2 worker threads, for each kernel variant of isa_names[] (created once;
 * NULL where the CPU lacks the ISA: the default context stands in). */
static clattn_context *ctxs[2][5];
static clattn_context *ctx;     /* the one the current input uses */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_sdpa_desc: " __VA_ARGS__);                                           \
        fprintf(stderr, "\n");                                                                     \
        print_case(current);                                                                       \
        abort();                                                                                   \
    } while (0)

/* ---- execution ------------------------------------------------------------------------------------ */

static const uint32_t SENTINEL = 0x7fa5a5a5u; /* a NaN payload nothing computes */

NO_COVERAGE static void fill_sentinel(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++) memcpy(&p[i], &SENTINEL, 4);
}

NO_COVERAGE static bool is_sentinel(const float *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return u == SENTINEL;
}

NO_COVERAGE static bool close_enough(double ref, float got, double rel, double abs_tol)
{
    if (isnan(ref)) return isnan(got);
    if (!isfinite(got)) return false;
    return fabs((double)got - ref) <= rel * fabs(ref) + abs_tol;
}

NO_COVERAGE static void run_case(clattn_sdpa_plan *plan, const fuzz_case *c, const model *m)
{
    const clattn_sdpa_desc *d = &c->d;
    const int64_t B = m->B, Hq = m->Hq, Lq = m->Lq, Lk = m->Lk, D = m->D, Dv = m->Dv;
    const int64_t mask_es = d->mask_kind == CLATTN_MASK_BOOL ? 1 : 4;
    float *q = malloc((size_t)m->ext_q * 4), *k = malloc((size_t)m->ext_k * 4), *v = malloc((size_t)m->ext_v * 4);
    float *out = malloc((size_t)m->ext_out * 4);
    float *probs = d->want_probs ? malloc((size_t)m->ext_probs * 4) : NULL;
    void *mask = d->mask_kind != CLATTN_MASK_NONE ? malloc((size_t)(m->ext_mask * mask_es)) : NULL;
    int32_t *kvl = d->use_kv_lengths ? malloc((size_t)B * sizeof(int32_t)) : NULL;
    bool *v_read = calloc((size_t)m->ext_v, 1), *k_read = calloc((size_t)m->ext_k, 1);
    bool *out_seen = calloc((size_t)m->ext_out, 1), *probs_seen = probs ? calloc((size_t)m->ext_probs, 1) : NULL;
    double *ref_out = malloc((size_t)Dv * sizeof(double)), *ref_p = malloc((size_t)Lk * sizeof(double));
    if (!q || !k || !v || !out || (d->want_probs && !probs) || (d->mask_kind && !mask) ||
        (d->use_kv_lengths && !kvl) || !v_read || !k_read || !out_seen || (probs && !probs_seen) ||
        !ref_out || !ref_p)
        goto done;

    /* data */
    for (int64_t i = 0; i < m->ext_q; i++) q[i] = rng_uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < m->ext_k; i++) k[i] = rng_uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < m->ext_v; i++) v[i] = rng_uniform(-1.0f, 1.0f);
    const unsigned density = (c->data_flags >> 2) & 3; /* share of masked-out entries: 0, 1/4, 1/2, 7/8 */
    const uint64_t cut = density == 0 ? 0 : density == 1 ? 64 : density == 2 ? 128 : 224;
    if (d->mask_kind == CLATTN_MASK_BOOL) {
        uint8_t *mb = mask;
        for (int64_t i = 0; i < m->ext_mask; i++) {
            uint64_t x = rng_next();
            mb[i] = (x & 255) < cut ? 0 : (uint8_t)(1 + (x >> 8) % 255);
        }
    } else if (d->mask_kind == CLATTN_MASK_ADDITIVE) {
        float *ma = mask;
        for (int64_t i = 0; i < m->ext_mask; i++) {
            uint64_t x = rng_next();
            ma[i] = (x & 255) < cut ? -INFINITY : (x & 0x700) == 0x700 ? -1e30f : rng_uniform(-3.0f, 3.0f);
        }
    }
    bool kvl_bad = false;
    if (kvl)
        for (int64_t b = 0; b < B; b++) {
            kvl[b] = c->kvl[b];
            kvl_bad = kvl_bad || kvl[b] < 0 || kvl[b] > Lk;
        }
    if ((c->data_flags & 2) && m->ext_q > 0) q[rng_next() % (uint64_t)m->ext_q] = NAN;
    fill_sentinel(out, m->ext_out);
    if (probs) fill_sentinel(probs, m->ext_probs);

    clattn_status st = clattn_sdpa_execute(plan, q, k, v, mask, kvl, out, probs);
    if (kvl_bad) {
        if (st != CLATTN_ERROR_INVALID_ARGUMENT) FAIL("kv_lengths out of range but execute returned %d", (int)st);
        if (clattn_last_error(ctx)[0] == '\0') FAIL("kv_lengths refused with an empty message");
        n_kvl_refused++;
        goto done;
    }
    if (st == CLATTN_ERROR_OUT_OF_MEMORY) goto done;
    if (st != CLATTN_SUCCESS) FAIL("execute failed: %d", (int)st);

    /* Which K and V elements allowed pairs read; poison the rest and run again. */
    run_ctx rc = {d, m, d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)D)), q, k, v, mask, kvl};
    bool any_unread = false;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++) {
            const int64_t hk = h / (Hq / m->Hkv);
            for (int64_t i = 0; i < Lq; i++)
                for (int64_t j = 0; j < Lk; j++) {
                    if (!allowed(&rc, b, h, i, j)) continue;
                    for (int64_t e = 0; e < Dv; e++) v_read[at(&d->v, b, hk, j, e)] = true;
                    for (int64_t e = 0; e < D; e++) k_read[at(&d->k, b, hk, j, e)] = true;
                }
        }
    for (int64_t i = 0; i < m->ext_v; i++)
        if (!v_read[i]) v[i] = NAN, any_unread = true;
    if (c->data_flags & 1)
        for (int64_t i = 0; i < m->ext_k; i++)
            if (!k_read[i]) k[i] = NAN, any_unread = true;
    if (any_unread) {
        fill_sentinel(out, m->ext_out);
        if (probs) fill_sentinel(probs, m->ext_probs);
        st = clattn_sdpa_execute(plan, q, k, v, mask, kvl, out, probs);
        if (st != CLATTN_SUCCESS) FAIL("execute with poisoned unread K/V failed: %d", (int)st);
    }

    /* Compare with the reference. Numbers are compared only for sane scale and softcap (the float
     * pipeline may overflow where the double reference does not); structure is always checked. */
    const bool numeric = fabsf(rc.scale) <= 8.0f && isfinite(d->softcap);
    bool *ok_row = malloc((size_t)Lk);
    if (!ok_row) goto done;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++) {
                double serr;
                ref_row(&rc, b, h, i, ref_out, ref_p, ok_row, &serr);
                /* softmax: a score error of serr changes p_j by at most ~2·serr relative, out by 2·serr·max|v| */
                for (int64_t e = 0; e < Dv; e++) {
                    const int64_t ix = at(&d->out, b, h, i, e);
                    if (out_seen[ix]) FAIL("out element %lld written by two (b,h,i,e): overlap accepted", (long long)ix);
                    out_seen[ix] = true;
                    const float g = out[ix];
                    if (is_sentinel(&out[ix]))
                        FAIL("out[%lld,%lld,%lld,%lld] (element %lld) not written", (long long)b, (long long)h,
                             (long long)i, (long long)e, (long long)ix);
                    if (numeric && !close_enough(ref_out[e], g, 1e-4, 1e-4 + 2.0 * serr))
                        FAIL("out[%lld,%lld,%lld,%lld] = %.9g, reference %.9g", (long long)b, (long long)h,
                             (long long)i, (long long)e, (double)g, ref_out[e]);
                }
                if (!probs) continue;
                for (int64_t j = 0; j < Lk; j++) {
                    const int64_t ix = at(&d->probs, b, h, i, j);
                    if (probs_seen[ix]) FAIL("probs element %lld written twice: overlap accepted", (long long)ix);
                    probs_seen[ix] = true;
                    const float g = probs[ix];
                    if (is_sentinel(&probs[ix]))
                        FAIL("probs[%lld,%lld,%lld,%lld] not written", (long long)b, (long long)h, (long long)i,
                             (long long)j);
                    if (!ok_row[j]) {
                        if (g != 0.0f)
                            FAIL("probs[%lld,%lld,%lld,%lld] = %.9g for a disallowed key (expected exactly 0)",
                                 (long long)b, (long long)h, (long long)i, (long long)j, (double)g);
                    } else if (numeric && !isnan(ref_p[j]) && !close_enough(ref_p[j], g, 1e-4 + 2.0 * serr, 1e-6)) {
                        FAIL("probs[%lld,%lld,%lld,%lld] = %.9g, reference %.9g", (long long)b, (long long)h,
                             (long long)i, (long long)j, (double)g, ref_p[j]);
                    }
                }
            }
    free(ok_row);
    n_checked++;
    /* Elements outside the views stay untouched. */
    for (int64_t i = 0; i < m->ext_out; i++)
        if (!out_seen[i] && !is_sentinel(&out[i])) FAIL("out element %lld outside the view was written", (long long)i);
    if (probs)
        for (int64_t i = 0; i < m->ext_probs; i++)
            if (!probs_seen[i] && !is_sentinel(&probs[i]))
                FAIL("probs element %lld outside the view was written", (long long)i);

done:
    free(q);
    free(k);
    free(v);
    free(out);
    free(probs);
    free(mask);
    free(kvl);
    free(v_read);
    free(k_read);
    free(out_seen);
    free(probs_seen);
    free(ref_out);
    free(ref_p);
}

/* ---- entry point ---------------------------------------------------------------------------------- */

/* A valid problem may be huge (dims up to INT32_MAX with stride-0 inputs), and the host backend sizes
 * its scratch from the problem at plan time. Allocations above 2 GiB fail (return NULL) instead of
 * stopping the fuzzer, which exercises the library's CLATTN_ERROR_OUT_OF_MEMORY paths; the limit is
 * at libFuzzer's default -malloc_limit_mb (= -rss_limit_mb = 2048), so that never fires first. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=2048";
}

static void print_stats(void)
{
    fprintf(stderr, "fuzz_sdpa_desc: %llu inputs, %llu plans created, %llu executions checked, %llu bad "
            "kv_lengths refused\n", n_inputs, n_plans, n_checked, n_kvl_refused);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (getenv("FUZZ_SDPA_STATS")) atexit(print_stats);
    static const clattn_host_isa isas[] = {CLATTN_HOST_ISA_DEFAULT, CLATTN_HOST_ISA_DEFAULT, CLATTN_HOST_ISA_PORTABLE,
                                           CLATTN_HOST_ISA_AVX2, CLATTN_HOST_ISA_AVX512};
    for (int i = 0; i < 2; i++)
        for (int v = 0; v < 5; v++) {
            clattn_context_options o;
            clattn_context_options_init(&o);
            o.device = "host";
            o.num_threads = i + 1;
            o.host_isa = isas[v];
            if (v == 1) o.kernel_path = CLATTN_KERNEL_PATH_CHAIN; /* "off": the row-by-row path */
            clattn_status st = clattn_context_create(&ctxs[i][v], &o);
            if (st == CLATTN_ERROR_UNSUPPORTED && v > 1) continue; /* the CPU lacks this ISA */
            if (st != CLATTN_SUCCESS) {
                fprintf(stderr, "fuzz_sdpa_desc: cannot create a host context: %s\n", clattn_last_error(NULL));
                abort();
            }
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    fuzz_case c;
    fuzz_decode(&r, &c);
    current = &c;
    n_inputs++;
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_SDPA_VERBOSE") != NULL;
    if (verbose) print_case(&c);

    ctx = ctxs[(c.data_flags >> 4) & 1][c.isa] ? ctxs[(c.data_flags >> 4) & 1][c.isa] : ctxs[(c.data_flags >> 4) & 1][0];
    model m;
    const bool valid = expect_valid(&c.d, &m);

    clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)1; /* must become NULL on failure */
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &c.d);
    if (st != CLATTN_SUCCESS) {
        const char *msg = clattn_last_error(ctx);
        if (plan != NULL) FAIL("plan_create failed (%d) but left plan non-NULL", (int)st);
        if (msg == NULL || msg[0] == '\0') FAIL("plan_create failed (%d) with an empty message", (int)st);
        if (strlen(msg) >= 8192) FAIL("message not terminated");
        if (valid && st == CLATTN_ERROR_INVALID_ARGUMENT)
            FAIL("a valid descriptor was refused: %s", msg);
        if (st != CLATTN_ERROR_INVALID_ARGUMENT && st != CLATTN_ERROR_OUT_OF_MEMORY && st != CLATTN_ERROR_UNSUPPORTED)
            FAIL("unexpected status %d: %s", (int)st, msg);
        return 0;
    }
    if (plan == NULL) FAIL("plan_create succeeded with plan NULL");
    if (!valid) FAIL("an invalid descriptor was accepted");
    n_plans++;
    (void)clattn_sdpa_plan_workspace_size(plan);

    /* Execute only what is small enough to check. */
    const double work = (double)m.B * (double)m.Hq * (double)m.Lq * (double)m.Lk * ((double)m.D + (double)m.Dv + 1.0);
    const int64_t exts[] = {m.ext_q, m.ext_k, m.ext_v, m.ext_out, m.ext_mask, m.ext_probs};
    bool small = work <= (double)EXEC_MAX_WORK && m.B <= 16;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) small = small && exts[i] <= EXEC_MAX_ELEMS;
    if (small) run_case(plan, &c, &m);
    clattn_sdpa_plan_destroy(plan);
    return 0;
}
