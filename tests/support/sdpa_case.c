/* Random SDPA problems from case structs; see sdpa_case.h. */
#include "sdpa_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

static void fill_view(tu_rng *r, float *p, const clattn_tensor *t, double lo, double hi)
{
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t c = 0; c < t->dims[2]; c++)
                for (int64_t e = 0; e < t->dims[3]; e++)
                    p[tu_index(t, a, b, c, e)] = (float)tu_rng_uniform(r, lo, hi);
}

static void fill_mask(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    if (c->mask_kind == CLATTN_MASK_NONE) return;
    const clattn_tensor *t = &d->desc.mask;
    double dens = c->density > 0 ? c->density : 0.75;
    for (int64_t a = 0; a < t->dims[0]; a++)
        for (int64_t b = 0; b < t->dims[1]; b++)
            for (int64_t i = 0; i < t->dims[2]; i++)
                for (int64_t j = 0; j < t->dims[3]; j++) {
                    int64_t e = tu_index(t, a, b, i, j);
                    int ok = tu_rng_uniform(r, 0, 1) < dens;
                    if (c->mask_kind == CLATTN_MASK_BOOL)
                        ((uint8_t *)d->mask)[e] = ok ? (uint8_t)tu_rng_int(r, 1, 255) : 0;
                    else
                        ((float *)d->mask)[e] = ok ? (float)tu_rng_uniform(r, -2.0, 2.0) : -INFINITY;
                }
}

static void fill_kvl(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    if (!c->kvl) return;
    for (int64_t b = 0; b < c->B; b++) {
        if (c->B == 1) d->kvl[b] = (int32_t)tu_rng_int(r, 1, c->Lk);
        else if (b == 0) d->kvl[b] = (int32_t)c->Lk;
        else if (b == 1) d->kvl[b] = 0;
        else d->kvl[b] = (int32_t)tu_rng_int(r, 0, c->Lk);
    }
}

void sdpa_data_poison(sdpa_data *d)
{
    tu_fill_bits(d->out, d->no, d->poison);
    if (d->probs) tu_fill_bits(d->probs, d->np, d->poison);
    if (d->lse) tu_fill_bits(d->lse, d->nl, d->poison);
}

clattn_tensor tu_tensor3(tu_layout l, int64_t d0, int64_t d1, int64_t d2, int64_t off)
{
    clattn_tensor t = tu_tensor(l, d0, d1, d2, 1, off);
    t.ndim = 3;
    t.dims[3] = 0;
    t.strides[3] = 0;
    return t;
}

clattn_tensor tu_tensor3_as4(const clattn_tensor *t3)
{
    clattn_tensor t = *t3;
    t.ndim = 4;
    t.dims[3] = 1;
    t.strides[3] = 0;
    return t;
}

/* Paged case: pools of B · mb + 3 blocks (mb = Lk / bs) and a table whose rows are a random permutation's
 * first B · mb entries, so blocks are shuffled and some belong to no sequence (see sdpa_data_paged_desc). */
static void paged_make(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    const int64_t bs = c->kv_block_size;
    if (bs < 16 || (bs & (bs - 1)) || c->Lk % bs || c->kv_bcast || !c->kvl) {
        fprintf(stderr, "sdpa_case %s: kv_block_size %lld must be a power of two >= 16 dividing Lk %lld, with kvl "
                        "(a paged plan needs kv_lengths) and without kv_bcast\n", c->name, (long long)bs, (long long)c->Lk);
        exit(1);
    }
    const int64_t mb = c->Lk / bs, nb = c->B * mb + 3;
    int32_t *perm = tu_xmalloc((size_t)nb * sizeof(int32_t));
    for (int64_t i = 0; i < nb; i++) perm[i] = (int32_t)i;
    for (int64_t i = nb - 1; i > 0; i--) {
        const int64_t j = tu_rng_int(r, 0, i);
        const int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    d->table = perm; /* its first B · mb entries are the table [B, mb] */
    d->kv_block_size = bs;
    d->num_blocks = nb;
    d->nkp = nb * bs * c->Hkv * c->D;
    d->nvp = nb * bs * c->Hkv * c->Dv;
    d->kpool = tu_alloc_bits(d->nkp, 0x7fc00bad);
    d->vpool = tu_alloc_bits(d->nvp, 0x7fc00bad);
}

clattn_sdpa_desc sdpa_data_paged_desc(const sdpa_data *d)
{
    clattn_sdpa_desc p = d->desc;
    if (!d->kpool) return p;
    const int64_t bs = d->kv_block_size, Hkv = d->desc.k.dims[1];
    p.kv_layout = CLATTN_KV_PAGED;
    p.kv_block_size = bs;
    p.max_blocks_per_seq = d->desc.k.dims[2] / bs;
    p.k = clattn_tensor_contiguous(d->num_blocks, bs, Hkv, d->desc.k.dims[3]);
    p.v = clattn_tensor_contiguous(d->num_blocks, bs, Hkv, d->desc.v.dims[3]);
    return p;
}

/* The logical k (v) rows of a paged case into their blocks: pool[table[b][j / bs]][j % bs][h][:] = x[b][h][j][:]. */
static void paged_scatter(float *pool, const clattn_tensor *pv, const float *x, const clattn_tensor *xv,
                          const int32_t *table, int64_t bs)
{
    const int64_t B = xv->dims[0], H = xv->dims[1], L = xv->dims[2], D = xv->dims[3], mb = L / bs;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < L; j++)
                for (int64_t e = 0; e < D; e++)
                    pool[tu_index(pv, table[b * mb + j / bs], j % bs, h, e)] = x[tu_index(xv, b, h, j, e)];
}

void sdpa_data_make(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    memset(d, 0, sizeof *d);
    d->poison = TU_POISON_BITS;
    d->tol = c->tol > 0 ? c->tol : TU_TOL_F32;
    clattn_sdpa_desc *s = &d->desc;
    clattn_sdpa_desc_init(s, c->B, c->Hq, c->Hkv, c->Lq, c->Lk, c->D, c->Dv);
    int64_t bkv = c->kv_bcast ? 1 : c->B;
    s->q = tu_tensor(c->lq, c->B, c->Hq, c->Lq, c->D, c->off_q);
    s->k = tu_tensor(c->lk, bkv, c->Hkv, c->Lk, c->D, c->off_k);
    s->v = tu_tensor(c->lv, bkv, c->Hkv, c->Lk, c->Dv, c->off_v);
    s->out = tu_tensor(c->lo, c->B, c->Hq, c->Lq, c->Dv, c->off_o);
    s->scale = c->scale;
    s->softcap = c->softcap;
    s->causal = c->causal;
    if (c->window) {
        s->window_left = c->wl;
        s->window_right = c->wr;
    }
    s->mask_kind = c->mask_kind;
    if (c->mask_kind != CLATTN_MASK_NONE)
        s->mask = tu_tensor(c->lm, c->mb ? c->B : 1, c->mh ? c->Hq : 1, c->mq ? c->Lq : 1, c->Lk, c->off_m);
    s->use_kv_lengths = c->kvl != 0;
    s->want_probs = c->probs != 0;
    if (c->probs) s->probs = tu_tensor(c->lp, c->B, c->Hq, c->Lq, c->Lk, c->off_p);
    s->want_lse = c->lse != 0;
    if (c->lse) {
        s->lse = tu_tensor3(c->ll, c->B, c->Hq, c->Lq, c->off_l);
        d->lse4 = tu_tensor3_as4(&s->lse);
        d->nl = tu_extent(&d->lse4);
        d->lse = tu_alloc_bits(d->nl, TU_POISON_BITS);
    }

    d->nq = tu_extent(&s->q);
    d->nk = tu_extent(&s->k);
    d->nv = tu_extent(&s->v);
    d->no = tu_extent(&s->out);
    /* inputs: gap elements NaN (a read outside a view shows) */
    d->q = tu_alloc_bits(d->nq, 0x7fc00bad);
    d->k = tu_alloc_bits(d->nk, 0x7fc00bad);
    d->v = tu_alloc_bits(d->nv, 0x7fc00bad);
    d->out = tu_alloc_bits(d->no, TU_POISON_BITS);
    if (c->probs) {
        d->np = tu_extent(&s->probs);
        d->probs = tu_alloc_bits(d->np, TU_POISON_BITS);
    }
    if (c->mask_kind != CLATTN_MASK_NONE) {
        d->nm = tu_extent(&s->mask);
        if (c->mask_kind == CLATTN_MASK_BOOL) {
            d->mask = malloc((size_t)d->nm);
            if (!d->mask) exit(1);
            memset(d->mask, 0xAA, (size_t)d->nm); /* gaps: "allowed" (nonzero) */
        } else {
            d->mask = tu_alloc_bits(d->nm, 0x7fc00bad); /* gaps: NaN */
        }
    }
    if (c->kvl) {
        d->kvl = malloc((size_t)c->B * sizeof(int32_t));
        if (!d->kvl) exit(1);
    }
    if (c->kv_block_size) paged_make(d, c, r);
    sdpa_data_refill(d, c, r);
}

void sdpa_data_refill(sdpa_data *d, const sdpa_case *c, tu_rng *r)
{
    double lo = c->in_lo, hi = c->in_hi;
    if (lo == 0 && hi == 0) lo = -1.0, hi = 1.0;
    fill_view(r, d->q, &d->desc.q, lo, hi);
    fill_view(r, d->k, &d->desc.k, lo, hi);
    fill_view(r, d->v, &d->desc.v, lo, hi);
    fill_mask(d, c, r);
    fill_kvl(d, c, r);
    if (d->kpool) {
        const clattn_sdpa_desc p = sdpa_data_paged_desc(d);
        paged_scatter(d->kpool, &p.k, d->k, &d->desc.k, d->table, d->kv_block_size);
        paged_scatter(d->vpool, &p.v, d->v, &d->desc.v, d->table, d->kv_block_size);
    }
    sdpa_data_poison(d);
}

void sdpa_data_free(sdpa_data *d)
{
    free(d->q);
    free(d->k);
    free(d->v);
    free(d->out);
    free(d->probs);
    free(d->mask);
    free(d->kvl);
    free(d->lse);
    free(d->kpool);
    free(d->vpool);
    free(d->table);
    memset(d, 0, sizeof *d);
}

void sdpa_data_reference(const sdpa_data *d, double **out, double **probs)
{
    const clattn_sdpa_desc *s = &d->desc;
    int64_t B = s->q.dims[0], Hq = s->q.dims[1], Lq = s->q.dims[2], Lk = s->k.dims[2], Dv = s->v.dims[3];
    *out = malloc((size_t)(B * Hq * Lq * Dv) * sizeof(double));
    if (!*out) exit(1);
    if (probs) {
        *probs = malloc((size_t)(B * Hq * Lq * Lk) * sizeof(double));
        if (!*probs) exit(1);
    }
    ref_sdpa(s, d->q, d->k, d->v, d->mask, d->kvl, *out, probs ? *probs : NULL);
}

/* Reference log-sum-exp of d: double [B, Hq, Lq], malloc'd. */
static double *reference_lse(const sdpa_data *d)
{
    const clattn_sdpa_desc *s = &d->desc;
    int64_t B = s->q.dims[0], Hq = s->q.dims[1], Lq = s->q.dims[2], Dv = s->v.dims[3];
    double *out = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double));
    double *lse = tu_xmalloc((size_t)(B * Hq * Lq) * sizeof(double));
    ref_sdpa_lse(s, d->q, d->k, d->v, d->mask, d->kvl, out, NULL, lse);
    free(out);
    return lse;
}

/* Exact checks: empty rows are 0 in out and probs; disallowed keys have probability 0. */
static bool check_exact_zeros(const sdpa_data *d, const tu_where *w)
{
    const clattn_sdpa_desc *s = &d->desc;
    int64_t B = s->q.dims[0], Hq = s->q.dims[1], Lq = s->q.dims[2], Lk = s->k.dims[2], Dv = s->v.dims[3];
    int64_t bad_rows = 0, bad_probs = 0;
    char first_row[160] = "", first_prob[160] = "";
    unsigned char *ok = malloc((size_t)Lk);
    if (!ok) exit(1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++) {
                int any = 0;
                for (int64_t j = 0; j < Lk; j++) {
                    ok[j] = (unsigned char)ref_sdpa_allowed(s, d->mask, d->kvl, b, h, i, j);
                    any |= ok[j];
                }
                if (!any)
                    for (int64_t e = 0; e < Dv; e++) {
                        float v = d->out[tu_index(&s->out, b, h, i, e)];
                        if (v != 0.0f) {
                            if (!bad_rows++)
                                snprintf(first_row, sizeof first_row, "out[%lld,%lld,%lld,%lld] = %.9g",
                                         (long long)b, (long long)h, (long long)i, (long long)e, (double)v);
                            break;
                        }
                    }
                if (!d->probs) continue;
                for (int64_t j = 0; j < Lk; j++) {
                    if (ok[j]) continue;
                    float v = d->probs[tu_index(&s->probs, b, h, i, j)];
                    if (v != 0.0f) {
                        if (!bad_probs++)
                            snprintf(first_prob, sizeof first_prob, "probs[%lld,%lld,%lld,%lld] = %.9g",
                                     (long long)b, (long long)h, (long long)i, (long long)j, (double)v);
                    }
                }
            }
    free(ok);
    if (bad_rows) tu_report(w, "%lld rows with no allowed key are not exactly 0; first: %s", (long long)bad_rows, first_row);
    if (bad_probs)
        tu_report(w, "%lld disallowed keys have a probability != 0; first: %s", (long long)bad_probs, first_prob);
    return bad_rows == 0 && bad_probs == 0;
}

bool sdpa_data_check(const sdpa_data *d, const tu_where *w)
{
    double *ro = NULL, *rp = NULL;
    sdpa_data_reference(d, &ro, d->probs ? &rp : NULL);
    bool ok = tu_check_view(w, "out", d->out, &d->desc.out, ro, d->tol);
    ok &= tu_check_gaps(w, "out", d->out, d->no, &d->desc.out, d->poison);
    if (d->probs) {
        ok &= tu_check_view(w, "probs", d->probs, &d->desc.probs, rp, d->tol);
        ok &= tu_check_gaps(w, "probs", d->probs, d->np, &d->desc.probs, d->poison);
    }
    if (d->lse) {
        /* -inf exactly for a row with no allowed key (tu_check_view matches infinities exactly) */
        double *rl = reference_lse(d);
        ok &= tu_check_view(w, "lse", d->lse, &d->lse4, rl, d->tol);
        ok &= tu_check_gaps(w, "lse", d->lse, d->nl, &d->lse4, d->poison);
        free(rl);
    }
    ok &= check_exact_zeros(d, w);
    free(ro);
    free(rp);
    return ok;
}

clattn_status sdpa_data_run(clattn_context *ctx, sdpa_data *d, int one_shot, const tu_where *w)
{
    clattn_status st;
    const bool paged = d->kpool != NULL;
    const clattn_sdpa_desc run = sdpa_data_paged_desc(d); /* d->desc unless paged */
    /* clattn_sdpa() has no lse or block_table argument: lse and paged cases always take a plan */
    if (one_shot && !d->lse && !paged) {
        st = clattn_sdpa(ctx, &d->desc, d->q, d->k, d->v, d->mask, d->kvl, d->out, d->probs);
        if (st != CLATTN_SUCCESS)
            tu_report(w, "clattn_sdpa returned %d (%s): %s", (int)st, clattn_status_string(st),
                      clattn_last_error(ctx));
        return st;
    }
    clattn_sdpa_plan *plan = NULL;
    st = clattn_sdpa_plan_create(&plan, ctx, &run);
    if (st != CLATTN_SUCCESS) {
        tu_report(w, "clattn_sdpa_plan_create returned %d (%s): %s", (int)st, clattn_status_string(st),
                  clattn_last_error(ctx));
        return st;
    }
    const bool path_ok = tu_check_plan_path(plan, &run, w); /* the path the test's name promises */
    if (d->lse || paged) {
        clattn_sdpa_buffers b;
        clattn_sdpa_buffers_init(&b);
        b.q = d->q;
        b.k = paged ? d->kpool : d->k;
        b.v = paged ? d->vpool : d->v;
        b.block_table = d->table;
        b.mask = d->mask;
        b.kv_lengths = d->kvl;
        b.out = d->out;
        b.probs = d->probs;
        b.lse = d->lse;
        st = clattn_sdpa_execute_buffers(plan, &b);
    } else {
        st = clattn_sdpa_execute(plan, d->q, d->k, d->v, d->mask, d->kvl, d->out, d->probs);
    }
    if (st != CLATTN_SUCCESS)
        tu_report(w, "clattn_sdpa_execute%s returned %d (%s): %s", d->lse || paged ? "_buffers" : "", (int)st,
                  clattn_status_string(st), clattn_last_error(ctx));
    clattn_sdpa_plan_destroy(plan);
    if (st == CLATTN_SUCCESS && !path_ok) return CLATTN_ERROR_UNSUPPORTED; /* reported above */
    return st;
}

tu_where sdpa_data_make_seeded(sdpa_data *d, const sdpa_case *c, const char *area, int idx, const char *name)
{
    const tu_where w = {area, name ? name : c->name, tu_case_seed(area, idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data_make(d, c, &r);
    return w;
}

bool sdpa_case_run_checked(clattn_context *ctx, const sdpa_case *c, const char *area, int idx, int one_shot)
{
    sdpa_data d;
    tu_where w = sdpa_data_make_seeded(&d, c, area, idx, NULL);
    bool ok = sdpa_data_run(ctx, &d, one_shot, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    return ok;
}

double sdpa_case_cost(const sdpa_case *c)
{
    return (double)c->B * (double)c->Hq * (double)c->Lq * (double)c->Lk * (double)(c->D + c->Dv);
}
