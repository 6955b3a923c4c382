/*
 * test_mha: clattn_mha_create / clattn_mha_forward against the double-precision nn.MultiheadAttention
 * reference (ref_mha), on the backend chosen by CLATTN_DEVICE (exit 77 when absent): self- and
 * cross-attention (kdim != vdim != E), with and without biases, bool/additive masks (broadcast and
 * strided), kv_lengths (0 and Lk included), both causal alignments, window, softcap, explicit scale,
 * per-head and averaged probabilities, odd sizes; the module reused across shapes; weights copied.
 * Tolerance: max abs error <= 1e-5 * max(1, max|ref|) (TU_TOL_F32); where the reference
 * probability is exactly 0 (a disallowed key) the result must be exactly 0 too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "test_util.h"

static clattn_context *g_ctx;

typedef struct mha_case {
    const char *name;
    int64_t B, Lq, Lk, E, H, kdim, vdim; /* kdim/vdim 0 = E */
    int self;                            /* key = value = NULL (self-attention) */
    int bias;
    clattn_causal causal;
    int window;
    int64_t wl, wr;
    float softcap, scale;
    clattn_mask_kind mask_kind;
    int mb, mh, mq; /* mask dims full (1) or broadcast (0) */
    tu_layout lm;
    int kvl;
    clattn_probs_mode probs;
} mha_case;

#define PH CLATTN_PROBS_PER_HEAD
#define AV CLATTN_PROBS_AVERAGED

static const mha_case cases[] = {
    {"self_bias", 2, 7, 7, 32, 4, 0, 0, .self = 1, .bias = 1},
    {"self_nobias_perhead", 1, 67, 67, 40, 5, 0, 0, .self = 1, .probs = PH},
    {"self_bias_averaged", 2, 13, 13, 24, 3, 0, 0, .self = 1, .bias = 1, .probs = AV},
    {"cross_kdim_vdim_bias", 2, 5, 9, 24, 3, 10, 17, .bias = 1, .probs = AV},
    {"cross_kdim_vdim_nobias", 1, 7, 67, 64, 1, 33, 5, .probs = PH},
    {"cross_same_dims", 2, 7, 129, 32, 4, 32, 32, .bias = 1, .probs = PH},
    {"mask_bool_bcast", 2, 7, 7, 32, 4, 0, 0, .self = 1, .bias = 1, .mask_kind = CLATTN_MASK_BOOL, .mq = 1,
     .probs = PH},
    {"mask_bool_full", 2, 7, 11, 32, 4, 16, 8, .bias = 1, .mask_kind = CLATTN_MASK_BOOL, .mb = 1, .mh = 1, .mq = 1,
     .probs = AV},
    {"mask_additive_strided", 2, 7, 9, 24, 3, 0, 0, .bias = 1, .mask_kind = CLATTN_MASK_ADDITIVE, .mb = 1, .mh = 1,
     .mq = 1, .lm = TU_PAD, .probs = AV},
    {"mask_additive_heads", 1, 13, 13, 48, 6, 0, 0, .self = 1, .mask_kind = CLATTN_MASK_ADDITIVE, .mh = 1,
     .lm = TU_BLHD, .probs = PH},
    {"kv_lengths", 3, 7, 67, 32, 4, 20, 12, .bias = 1, .kvl = 1, .probs = PH},
    {"kv_lengths_self_causal", 3, 13, 13, 32, 2, 0, 0, .self = 1, .bias = 1, .kvl = 1,
     .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = AV},
    {"causal_tl_self", 2, 67, 67, 32, 4, 0, 0, .self = 1, .bias = 1, .causal = CLATTN_CAUSAL_TOP_LEFT, .probs = AV},
    {"causal_br_cross", 2, 7, 67, 32, 4, 0, 0, .bias = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .probs = PH},
    {"window_softcap_scale", 1, 67, 67, 32, 4, 0, 0, .self = 1, .bias = 1, .window = 1, .wl = 4, .wr = 1,
     .softcap = 3.0f, .scale = 0.4f, .probs = PH},
    {"odd_e6_h3_l1", 1, 1, 1, 6, 3, 0, 0, .self = 1, .bias = 1, .probs = PH},
    {"odd_e129_h3", 1, 13, 7, 129, 3, 7, 129, .bias = 1, .probs = AV},
    {"odd_e40_h5_lq1_decode", 3, 1, 129, 40, 5, 0, 0, .bias = 1, .kvl = 1, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT},
    {"larger_e64_h8", 2, 129, 129, 64, 8, 0, 0, .self = 1, .bias = 1, .probs = PH},
    {"minilm_like_e384_h12", 2, 67, 67, 384, 12, 0, 0, .self = 1, .bias = 1, .kvl = 1, .probs = AV},
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct mha_data {
    clattn_mha_weights w;
    float *params[8];
    float *query, *key, *value, *out, *probs;
    void *mask;
    int32_t *kvl;
    clattn_mha_options opts;
    int64_t n_out, n_probs;
} mha_data;

static float *rand_array(tu_rng *r, int64_t n, double lo, double hi)
{
    float *p = tu_alloc_bits(n, 0);
    for (int64_t i = 0; i < n; i++) p[i] = (float)tu_rng_uniform(r, lo, hi);
    return p;
}

static void mha_data_make(mha_data *d, const mha_case *c, tu_rng *r)
{
    memset(d, 0, sizeof *d);
    int64_t E = c->E, kd = c->kdim ? c->kdim : E, vd = c->vdim ? c->vdim : E;
    d->w.embed_dim = E;
    d->w.num_heads = c->H;
    d->w.kdim = c->kdim;
    d->w.vdim = c->vdim;
    /* nn.Linear-like init: U(-1/sqrt(in), 1/sqrt(in)) */
    int64_t in[4] = {E, kd, vd, E};
    for (int i = 0; i < 4; i++) {
        double a = 1.0 / sqrt((double)in[i]);
        d->params[i] = rand_array(r, E * in[i], -a, a);
    }
    if (c->bias)
        for (int i = 4; i < 8; i++) d->params[i] = rand_array(r, E, -0.5, 0.5);
    d->w.w_q = d->params[0];
    d->w.w_k = d->params[1];
    d->w.w_v = d->params[2];
    d->w.w_o = d->params[3];
    d->w.b_q = d->params[4];
    d->w.b_k = d->params[5];
    d->w.b_v = d->params[6];
    d->w.b_o = d->params[7];
    d->query = rand_array(r, c->B * c->Lq * E, -1, 1);
    if (!c->self) {
        d->key = rand_array(r, c->B * c->Lk * kd, -1, 1);
        d->value = rand_array(r, c->B * c->Lk * vd, -1, 1);
    }
    d->n_out = c->B * c->Lq * E;
    d->out = tu_alloc_bits(d->n_out, TU_POISON_BITS);
    clattn_mha_options_init(&d->opts);
    d->opts.causal = c->causal;
    if (c->window) {
        d->opts.window_left = c->wl;
        d->opts.window_right = c->wr;
    }
    d->opts.softcap = c->softcap;
    d->opts.scale = c->scale;
    d->opts.probs_mode = c->probs;
    if (c->probs != CLATTN_PROBS_NONE) {
        d->n_probs = c->B * (c->probs == PH ? c->H : 1) * c->Lq * c->Lk;
        d->probs = tu_alloc_bits(d->n_probs, TU_POISON_BITS);
    }
    d->opts.mask_kind = c->mask_kind;
    if (c->mask_kind != CLATTN_MASK_NONE) {
        clattn_tensor t = tu_tensor(c->lm, c->mb ? c->B : 1, c->mh ? c->H : 1, c->mq ? c->Lq : 1, c->Lk, 0);
        d->opts.mask = t;
        int64_t n = tu_extent(&t);
        if (c->mask_kind == CLATTN_MASK_BOOL) {
            uint8_t *m = malloc((size_t)n);
            memset(m, 0xAA, (size_t)n);
            for (int64_t a = 0; a < t.dims[0]; a++)
                for (int64_t b = 0; b < t.dims[1]; b++)
                    for (int64_t i = 0; i < t.dims[2]; i++)
                        for (int64_t j = 0; j < t.dims[3]; j++)
                            m[tu_index(&t, a, b, i, j)] = tu_rng_uniform(r, 0, 1) < 0.7 ? 1 : 0;
            d->mask = m;
        } else {
            float *m = tu_alloc_bits(n, 0x7fc00bad); /* gaps NaN */
            for (int64_t a = 0; a < t.dims[0]; a++)
                for (int64_t b = 0; b < t.dims[1]; b++)
                    for (int64_t i = 0; i < t.dims[2]; i++)
                        for (int64_t j = 0; j < t.dims[3]; j++)
                            m[tu_index(&t, a, b, i, j)] =
                                tu_rng_uniform(r, 0, 1) < 0.7 ? (float)tu_rng_uniform(r, -2, 2) : -INFINITY;
            d->mask = m;
        }
    }
    if (c->kvl) {
        d->kvl = malloc((size_t)c->B * sizeof(int32_t));
        for (int64_t b = 0; b < c->B; b++)
            d->kvl[b] = (int32_t)(b == 0 ? c->Lk : b == 1 ? 0 : tu_rng_int(r, 0, c->Lk));
    }
}

static void mha_data_free(mha_data *d)
{
    for (int i = 0; i < 8; i++) free(d->params[i]);
    free(d->query);
    free(d->key);
    free(d->value);
    free(d->out);
    free(d->probs);
    free(d->mask);
    free(d->kvl);
}

/* Where the reference probability is exactly 0, the result must be exactly 0. */
static bool check_zero_probs(const tu_where *w, const float *got, const double *ref, int64_t n)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (ref[i] == 0.0 && got[i] != 0.0f) {
            if (first < 0) first = i;
            bad++;
        }
    if (bad)
        tu_report(w, "probs: %lld elements that must be exactly 0 (disallowed keys) are not; first [%lld] = %.9g",
                  (long long)bad, (long long)first, (double)got[first]);
    return bad == 0;
}

/* Runs one forward and checks it. ref_w: the weights the reference uses (may differ from the
 * arrays passed at create when testing that weights are copied). */
static bool run_and_check(clattn_mha *m, const mha_case *c, mha_data *d, const clattn_mha_weights *ref_w,
                          const tu_where *w)
{
    tu_fill_bits(d->out, d->n_out, TU_POISON_BITS);
    if (d->probs) tu_fill_bits(d->probs, d->n_probs, TU_POISON_BITS);
    clattn_status st = clattn_mha_forward(m, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key,
                                          c->self ? NULL : d->value, d->mask, d->kvl, &d->opts, d->out, d->probs);
    if (st != CLATTN_SUCCESS) {
        tu_report(w, "clattn_mha_forward returned %d (%s): %s", (int)st, clattn_status_string(st),
                  clattn_last_error(g_ctx));
        return false;
    }
    double *ro = malloc((size_t)d->n_out * sizeof(double));
    double *rp = d->probs ? malloc((size_t)d->n_probs * sizeof(double)) : NULL;
    ref_mha(ref_w, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key, c->self ? NULL : d->value, d->mask,
            d->kvl, &d->opts, ro, rp);
    bool ok = tu_check_array(w, "out [B, Lq, E]", d->out, ro, d->n_out, TU_TOL_F32);
    if (rp) {
        ok &= tu_check_array(w, c->probs == PH ? "probs [B, H, Lq, Lk]" : "probs averaged [B, Lq, Lk]", d->probs, rp,
                             d->n_probs, TU_TOL_F32);
        ok &= check_zero_probs(w, d->probs, rp, d->n_probs);
    }
    free(ro);
    free(rp);
    return ok;
}

static void test_case(void **state)
{
    const mha_case *c = *state;
    int idx = (int)(c - cases);
    tu_where w = {"mha", c->name, tu_case_seed("mha", idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, c, &r);
    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &d.w);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok)
        tu_report(&w, "clattn_mha_create returned %d (%s): %s", (int)st, clattn_status_string(st),
                  clattn_last_error(g_ctx));
    if (ok) ok = run_and_check(m, c, &d, &d.w, &w);
    clattn_mha_destroy(m);
    mha_data_free(&d);
    assert_true(ok);
}

/* The weights are copied at create: the caller may overwrite them afterwards. One module is also
 * reused across shapes (q_len, kv_len, batch, options change) and back. */
static void test_weights_copied_and_reuse(void **state)
{
    (void)state;
    mha_case c = {"reuse", 2, 7, 9, 32, 4, 12, 20, .bias = 1, .probs = PH};
    tu_where w = {"mha", "weights_copied_and_reuse", tu_case_seed("mha", 1000)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, &c, &r);
    clattn_mha_weights orig = d.w;
    float *saved[8];
    int64_t sizes[8] = {32 * 32, 32 * 12, 32 * 20, 32 * 32, 32, 32, 32, 32};
    for (int i = 0; i < 8; i++) {
        saved[i] = malloc((size_t)sizes[i] * sizeof(float));
        memcpy(saved[i], d.params[i], (size_t)sizes[i] * sizeof(float));
    }
    clattn_mha_weights ref_w = orig;
    ref_w.w_q = saved[0], ref_w.w_k = saved[1], ref_w.w_v = saved[2], ref_w.w_o = saved[3];
    ref_w.b_q = saved[4], ref_w.b_k = saved[5], ref_w.b_v = saved[6], ref_w.b_o = saved[7];

    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &d.w);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok) tu_report(&w, "clattn_mha_create: %d %s", (int)st, clattn_last_error(g_ctx));
    /* scribble over the caller's weights */
    for (int i = 0; i < 8; i++) tu_fill_bits(d.params[i], sizes[i], 0x7fc0beef);
    if (ok) ok = run_and_check(m, &c, &d, &ref_w, &w);

    /* different shapes and options with the same module: Lq 3, Lk 5, batch 1, causal, averaged */
    if (ok) {
        mha_case c2 = c;
        c2.B = 1, c2.Lq = 3, c2.Lk = 5, c2.causal = CLATTN_CAUSAL_BOTTOM_RIGHT, c2.probs = AV;
        mha_data d2;
        mha_data_make(&d2, &c2, &r);
        tu_where w2 = w;
        w2.name = "weights_copied_and_reuse(second shape)";
        ok = run_and_check(m, &c2, &d2, &ref_w, &w2);
        mha_data_free(&d2);
    }
    if (ok) { /* and back to the first shape with new inputs */
        for (int64_t i = 0; i < c.B * c.Lq * c.E; i++) d.query[i] = (float)tu_rng_uniform(&r, -1, 1);
        tu_where w3 = w;
        w3.name = "weights_copied_and_reuse(first shape again)";
        ok = run_and_check(m, &c, &d, &ref_w, &w3);
    }
    clattn_mha_destroy(m);
    for (int i = 0; i < 8; i++) free(saved[i]);
    mha_data_free(&d);
    assert_true(ok);
}

/* kdim = vdim = 0 in the weights mean embed_dim; opts NULL means defaults. */
static void test_defaults(void **state)
{
    (void)state;
    mha_case c = {"defaults", 2, 7, 7, 16, 2, 0, 0, .self = 1, .bias = 1};
    tu_where w = {"mha", "defaults_opts_null", tu_case_seed("mha", 1001)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, &c, &r);
    clattn_mha *m = NULL;
    bool ok = clattn_mha_create(&m, g_ctx, &d.w) == CLATTN_SUCCESS;
    if (ok) {
        clattn_status st = clattn_mha_forward(m, c.B, c.Lq, c.Lk, d.query, NULL, NULL, NULL, NULL, NULL, d.out, NULL);
        ok = st == CLATTN_SUCCESS;
        if (!ok) tu_report(&w, "forward with opts NULL: %d %s", (int)st, clattn_last_error(g_ctx));
    } else {
        tu_report(&w, "create: %s", clattn_last_error(g_ctx));
    }
    if (ok) {
        double *ro = malloc((size_t)d.n_out * sizeof(double));
        ref_mha(&d.w, c.B, c.Lq, c.Lk, d.query, NULL, NULL, NULL, NULL, NULL, ro, NULL);
        ok = tu_check_array(&w, "out", d.out, ro, d.n_out, TU_TOL_F32);
        free(ro);
    }
    clattn_mha_destroy(m);
    mha_data_free(&d);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    struct CMUnitTest tests[N_CASES + 2];
    size_t n = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        struct CMUnitTest t = {cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest extra[] = {cmocka_unit_test(test_weights_copied_and_reuse), cmocka_unit_test(test_defaults)};
    tests[n++] = extra[0];
    tests[n++] = extra[1];
    int failed = tu_run_group("mha", tests, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
