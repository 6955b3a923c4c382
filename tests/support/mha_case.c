/* Random multi-head attention problems from case structs; see mha_case.h. */
#include "mha_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

static float *rand_array(tu_rng *r, int64_t n, double lo, double hi)
{
    float *p = tu_alloc_bits(n, 0);
    for (int64_t i = 0; i < n; i++) p[i] = (float)tu_rng_uniform(r, lo, hi);
    return p;
}

void mha_data_make(mha_data *d, const mha_case *c, tu_rng *r)
{
    memset(d, 0, sizeof *d);
    clattn_mha_weights_init(&d->w);
    const int64_t E = c->E, kd = c->kdim ? c->kdim : E, vd = c->vdim ? c->vdim : E;
    d->w.embed_dim = E;
    d->w.num_heads = c->H;
    d->w.kdim = c->kdim;
    d->w.vdim = c->vdim;
    /* nn.Linear-like init: U(-1/sqrt(in), 1/sqrt(in)) */
    const int64_t in[4] = {E, kd, vd, E};
    for (int i = 0; i < 4; i++) {
        const double a = 1.0 / sqrt((double)in[i]);
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
        d->n_probs = c->B * (c->probs == CLATTN_PROBS_PER_HEAD ? c->H : 1) * c->Lq * c->Lk;
        d->probs = tu_alloc_bits(d->n_probs, TU_POISON_BITS);
    }
    d->opts.mask_kind = c->mask_kind;
    if (c->mask_kind != CLATTN_MASK_NONE) {
        const clattn_tensor t = tu_tensor(c->lm, c->mb ? c->B : 1, c->mh ? c->H : 1, c->mq ? c->Lq : 1, c->Lk, 0);
        d->opts.mask = t;
        const int64_t n = tu_extent(&t);
        if (c->mask_kind == CLATTN_MASK_BOOL) {
            uint8_t *m = tu_xmalloc((size_t)n);
            memset(m, 0xAA, (size_t)n); /* gaps */
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
        d->kvl = tu_xmalloc((size_t)c->B * sizeof(int32_t));
        for (int64_t b = 0; b < c->B; b++)
            d->kvl[b] = (int32_t)(b == 0 ? c->Lk : b == 1 ? 0 : tu_rng_int(r, 0, c->Lk));
    }
}

void mha_data_free(mha_data *d)
{
    for (int i = 0; i < 8; i++) free(d->params[i]);
    free(d->query);
    free(d->key);
    free(d->value);
    free(d->out);
    free(d->probs);
    free(d->mask);
    free(d->kvl);
    memset(d, 0, sizeof *d);
}

clattn_status mha_data_forward(clattn_context *ctx, clattn_mha *m, const mha_case *c, mha_data *d,
                               const tu_where *w)
{
    tu_fill_bits(d->out, d->n_out, TU_POISON_BITS);
    if (d->probs) tu_fill_bits(d->probs, d->n_probs, TU_POISON_BITS);
    clattn_status st = clattn_mha_forward(m, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key,
                                          c->self ? NULL : d->value, d->mask, d->kvl, &d->opts, d->out, d->probs);
    if (st != CLATTN_SUCCESS) {
        tu_report(w, "clattn_mha_forward returned %d (%s): %s", (int)st, clattn_status_string(st),
                  clattn_last_error(ctx));
        return st;
    }
    /* Sure to fit the fused host kernel: no probabilities and at least 4 query rows (the heads are
     * unit-stride views of [B, L, E]); otherwise the row-by-row path is allowed too. */
    if (!tu_check_path(clattn_mha_path(m), d->opts.probs_mode == CLATTN_PROBS_NONE && c->Lq >= 4, w))
        return CLATTN_ERROR_INTERNAL; /* reported */
    return st;
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

bool mha_data_check(const mha_case *c, const mha_data *d, const clattn_mha_weights *ref_w, const tu_where *w)
{
    double *ro = tu_xmalloc((size_t)d->n_out * sizeof(double));
    double *rp = d->probs ? tu_xmalloc((size_t)d->n_probs * sizeof(double)) : NULL;
    ref_mha(ref_w ? ref_w : &d->w, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key, c->self ? NULL : d->value,
            d->mask, d->kvl, &d->opts, ro, rp);
    bool ok = tu_check_array(w, "out [B, Lq, E]", d->out, ro, d->n_out, TU_TOL_F32);
    if (rp) {
        ok &= tu_check_array(w, c->probs == CLATTN_PROBS_PER_HEAD ? "probs [B, H, Lq, Lk]" : "probs averaged [B, Lq, Lk]",
                             d->probs, rp, d->n_probs, TU_TOL_F32);
        ok &= check_zero_probs(w, d->probs, rp, d->n_probs);
    }
    free(ro);
    free(rp);
    return ok;
}

bool mha_case_run_checked(clattn_context *ctx, const mha_case *c, const char *area, int idx)
{
    tu_where w = {area, c->name, tu_case_seed(area, idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    mha_data d;
    mha_data_make(&d, c, &r);
    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, ctx, &d.w);
    bool ok = st == CLATTN_SUCCESS;
    if (!ok)
        tu_report(&w, "clattn_mha_create returned %d (%s): %s", (int)st, clattn_status_string(st),
                  clattn_last_error(ctx));
    if (ok) ok = mha_data_forward(ctx, m, c, &d, &w) == CLATTN_SUCCESS && mha_data_check(c, &d, &d.w, &w);
    clattn_mha_destroy(m);
    mha_data_free(&d);
    return ok;
}
