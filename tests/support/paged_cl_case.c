/*
 * Paged KV cache cases on OpenCL cl_mem buffers: see paged_cl_case.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "f16_ref.h"
#include "paged_cl_case.h"
#include "reference.h"

static cl_context g_cl; /* the context of the latest run (upload / download) */
static cl_command_queue g_q;

static void use_ctx(clattn_context *ctx)
{
    assert_int_equal(clattn_context_get_cl(ctx, &g_cl, NULL, &g_q), CLATTN_SUCCESS);
    assert_non_null(g_cl);
}


static cl_mem upload(const void *host, size_t bytes)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(g_cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    if (host) assert_int_equal(clEnqueueWriteBuffer(g_q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL), CL_SUCCESS);
    return m;
}

static void download(cl_mem m, void *host, size_t bytes)
{
    assert_int_equal(clEnqueueReadBuffer(g_q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL), CL_SUCCESS);
}

bool paged_check_path(const clattn_sdpa_plan *plan, const clattn_sdpa_desc *desc, const tu_where *w)
{
    const char *got = clattn_sdpa_plan_path(plan), *want = getenv("CLATTN_TEST_EXPECT_PATH");
    if (want && *want) return tu_check_plan_path(plan, desc, w); /* the promised path + "-paged" */
    if (!strcmp(got, "fused-paged") || !strcmp(got, "chain-paged") || !strcmp(got, "fused-gpu-paged")) return true;
    tu_report(w, "plan path '%s' is not a paged OpenCL path", got);
    return false;
}


void paged_data_make(pdata *d, const pcase *c, tu_rng *r)
{
    memset(d, 0, sizeof *d);
    const int64_t B = c->B, Hkv = c->Hkv, D = c->D, Dv = c->Dv, bs = c->bs;
    d->Lk = c->maxb * bs;
    d->nb = B * c->maxb + 3;
    clattn_sdpa_desc *ds = &d->desc;
    clattn_sdpa_desc_init(ds, B, c->Hq, Hkv, c->Lq, d->Lk, D, Dv);
    ds->kv_layout = CLATTN_KV_PAGED;
    ds->kv_block_size = bs;
    ds->max_blocks_per_seq = c->maxb;
    ds->use_kv_lengths = 1;
    ds->causal = c->causal;
    ds->window_left = c->wl;
    ds->want_lse = c->lse;
    ds->data_type = c->f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
    const int64_t row = c->interleaved ? D + Dv : 0;
    if (c->interleaved) {
        const int64_t dk[4] = {d->nb, bs, Hkv, D}, dv[4] = {d->nb, bs, Hkv, Dv};
        const int64_t st[4] = {bs * Hkv * row, Hkv * row, row, 1};
        ds->k = clattn_tensor_view(4, dk, st, 0);
        ds->v = clattn_tensor_view(4, dv, st, D);
        d->pool_n = d->nb * bs * Hkv * row;
    } else {
        const int64_t dk[4] = {d->nb, bs, Hkv, D}, sk[4] = {bs * Hkv * D, Hkv * D, D, 1};
        const int64_t dv[4] = {d->nb, bs, Hkv, Dv}, sv[4] = {bs * Hkv * Dv, Hkv * Dv, Dv, 1};
        ds->k = clattn_tensor_view(4, dk, sk, 0);
        ds->v = clattn_tensor_view(4, dv, sv, d->nb * bs * Hkv * D);
        d->pool_n = d->nb * bs * Hkv * (D + Dv);
    }
    d->pool = tu_xmalloc((size_t)d->pool_n * 4);
    for (int64_t i = 0; i < d->pool_n; i++) d->pool[i] = (float)tu_rng_uniform(r, -1, 1);
    /* lengths and table */
    d->lens = tu_xmalloc((size_t)B * 4);
    d->table = tu_xmalloc((size_t)(B * c->maxb) * 4);
    int64_t *perm = tu_xmalloc((size_t)d->nb * 8);
    for (int64_t i = 0; i < d->nb; i++) perm[i] = i;
    for (int64_t i = d->nb - 1; i > 0; i--) {
        const int64_t j = tu_rng_int(r, 0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t b = 0; b < B; b++) {
        d->lens[b] = (int32_t)(b == 0 && c->zero_len ? 0 : b == B - 1 ? d->Lk : tu_rng_int(r, 1, d->Lk));
        const int64_t used = (d->lens[b] + bs - 1) / bs;
        for (int64_t i = 0; i < c->maxb; i++)
            d->table[b * c->maxb + i] = i < used ? (int32_t)perm[b * c->maxb + i] : (i % 2 ? -7 : (int32_t)(d->nb + 1000));
    }
    free(perm);
    /* the reference's contiguous K/V */
    clattn_sdpa_desc *rf = &d->ref;
    clattn_sdpa_desc_init(rf, B, c->Hq, Hkv, c->Lq, d->Lk, D, Dv);
    rf->use_kv_lengths = 1;
    rf->causal = c->causal;
    rf->window_left = c->wl;
    d->kc = tu_xmalloc((size_t)(B * Hkv * d->Lk * D) * 4);
    d->vc = tu_xmalloc((size_t)(B * Hkv * d->Lk * Dv) * 4);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hkv; h++)
            for (int64_t j = 0; j < d->Lk; j++) {
                const int64_t e = j < d->lens[b] ? d->table[b * c->maxb + j / bs] : -1;
                for (int64_t x = 0; x < D; x++)
                    d->kc[((b * Hkv + h) * d->Lk + j) * D + x] =
                        e < 0 ? 0.0f : d->pool[tu_index(&ds->k, e, j % bs, h, x)];
                for (int64_t x = 0; x < Dv; x++)
                    d->vc[((b * Hkv + h) * d->Lk + j) * Dv + x] =
                        e < 0 ? 0.0f : d->pool[tu_index(&ds->v, e, j % bs, h, x)];
            }
    d->nq = B * c->Hq * c->Lq * D;
    d->no = B * c->Hq * c->Lq * Dv;
    d->q = tu_xmalloc((size_t)d->nq * 4);
    for (int64_t i = 0; i < d->nq; i++) d->q[i] = (float)tu_rng_uniform(r, -1, 1);
    d->out = tu_alloc_bits(d->no, 0x7fc00bad);
    d->lse = tu_alloc_bits(B * c->Hq * c->Lq, 0x7fc00bad);
    if (c->mask) {
        const int64_t md[4] = {B, 1, c->Lq, d->Lk}, ms[4] = {c->Lq * d->Lk, 0, d->Lk, 1};
        ds->mask_kind = rf->mask_kind = CLATTN_MASK_BOOL;
        ds->mask = rf->mask = clattn_tensor_view(4, md, ms, 0);
        d->mask = tu_xmalloc((size_t)(B * c->Lq * d->Lk));
        for (int64_t i = 0; i < B * c->Lq * d->Lk; i++) d->mask[i] = tu_rng_int(r, 0, 4) != 0;
    }
    if (c->f16) { /* round the inputs to binary16 so that the reference sees what the kernels see */
        d->q16 = tu_xmalloc((size_t)d->nq * 2);
        d->pool16 = tu_xmalloc((size_t)d->pool_n * 2);
        d->out16 = tu_xmalloc((size_t)d->no * 2);
        for (int64_t i = 0; i < d->nq; i++) d->q[i] = (float)f16r_to_double(d->q16[i] = f16r_from_double(d->q[i]));
        for (int64_t i = 0; i < d->pool_n; i++)
            d->pool[i] = (float)f16r_to_double(d->pool16[i] = f16r_from_double(d->pool[i]));
        for (int64_t i = 0; i < B * Hkv * d->Lk * D; i++) d->kc[i] = (float)f16r_to_double(f16r_from_double(d->kc[i]));
        for (int64_t i = 0; i < B * Hkv * d->Lk * Dv; i++) d->vc[i] = (float)f16r_to_double(f16r_from_double(d->vc[i]));
    }
    d->rout = tu_xmalloc((size_t)d->no * 8);
    d->rlse = tu_xmalloc((size_t)(B * c->Hq * c->Lq) * 8);
}

void paged_data_free(pdata *d)
{
    free(d->q);
    free(d->pool);
    free(d->kc);
    free(d->vc);
    free(d->out);
    free(d->lse);
    free(d->q16);
    free(d->pool16);
    free(d->out16);
    free(d->mask);
    free(d->table);
    free(d->lens);
    free(d->rout);
    free(d->rlse);
}

/* Runs d on cl_mem buffers (enqueue_buffers) or host pointers (execute_buffers), result into d->out / d->lse. */
clattn_status paged_data_run(clattn_context *ctx, pdata *d, const pcase *c, bool enqueue, const tu_where *w)
{
    use_ctx(ctx);
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &d->desc);
    if (st != CLATTN_SUCCESS) {
        tu_report(w, "plan_create: %d %s", (int)st, clattn_last_error(ctx));
        return st;
    }
    if (!paged_check_path(plan, &d->desc, w)) {
        clattn_sdpa_plan_destroy(plan);
        return CLATTN_ERROR_INTERNAL;
    }
    const size_t es = c->f16 ? 2 : 4;
    const void *qh = c->f16 ? (const void *)d->q16 : d->q, *ph = c->f16 ? (const void *)d->pool16 : d->pool;
    void *oh = c->f16 ? (void *)d->out16 : d->out;
    const int64_t nl = c->B * c->Hq * c->Lq;
    if (enqueue) {
        cl_mem mq = upload(qh, (size_t)d->nq * es), mp = upload(ph, (size_t)d->pool_n * es);
        cl_mem mo = upload(NULL, (size_t)d->no * es), mt = upload(d->table, (size_t)(c->B * c->maxb) * 4);
        cl_mem ml = upload(d->lens, (size_t)c->B * 4), mm = c->mask ? upload(d->mask, (size_t)(c->B * c->Lq * d->Lk)) : NULL;
        cl_mem mlse = c->lse ? upload(NULL, (size_t)nl * 4) : NULL;
        clattn_sdpa_cl_buffers b;
        clattn_sdpa_cl_buffers_init(&b);
        b.q = mq;
        b.k = b.v = mp;
        b.out = mo;
        b.block_table = mt;
        b.kv_lengths = ml;
        b.mask = mm;
        b.lse = mlse;
        cl_event ev = NULL;
        st = clattn_sdpa_enqueue_buffers(plan, &b, 0, NULL, &ev);
        if (st == CLATTN_SUCCESS) {
            assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
            clReleaseEvent(ev);
            download(mo, oh, (size_t)d->no * es);
            if (c->lse) download(mlse, d->lse, (size_t)nl * 4);
        } else {
            tu_report(w, "enqueue_buffers: %d %s", (int)st, clattn_last_error(ctx));
        }
        cl_mem all[] = {mq, mp, mo, mt, ml, mm, mlse};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i]) clReleaseMemObject(all[i]);
    } else {
        clattn_sdpa_buffers b;
        clattn_sdpa_buffers_init(&b);
        b.q = qh;
        b.k = b.v = ph;
        b.out = oh;
        b.block_table = d->table;
        b.kv_lengths = d->lens;
        b.mask = d->mask;
        b.lse = c->lse ? d->lse : NULL;
        st = clattn_sdpa_execute_buffers(plan, &b);
        if (st != CLATTN_SUCCESS) tu_report(w, "execute_buffers: %d %s", (int)st, clattn_last_error(ctx));
    }
    if (st == CLATTN_SUCCESS && c->f16)
        for (int64_t i = 0; i < d->no; i++) d->out[i] = (float)f16r_to_double(d->out16[i]);
    clattn_sdpa_plan_destroy(plan);
    return st;
}

bool paged_data_check(pdata *d, const pcase *c, const tu_where *w)
{
    ref_sdpa_lse(&d->ref, d->q, d->kc, d->vc, d->mask, d->lens, d->rout, NULL, d->rlse);
    const double tol = c->f16 ? 2e-3 : TU_TOL_F32;
    bool ok = tu_check_array(w, "out", d->out, d->rout, d->no, tol);
    if (c->lse) ok = tu_check_array(w, "lse", d->lse, d->rlse, c->B * c->Hq * c->Lq, tol) && ok;
    return ok;
}

void paged_data_break_table(pdata *d, const pcase *c)
{
    const int64_t b = c->B - 1;
    d->table[b * c->maxb] = -3;
    d->table[b * c->maxb + c->maxb - 1] = (int32_t)(d->nb + 5);
    free(d->mask);
    d->mask = tu_xmalloc((size_t)(c->B * c->Lq * d->Lk));
    for (int64_t bb = 0; bb < c->B; bb++)
        for (int64_t i = 0; i < c->Lq; i++)
            for (int64_t j = 0; j < d->Lk; j++) {
                const int32_t e = d->table[bb * c->maxb + j / c->bs];
                d->mask[(bb * c->Lq + i) * d->Lk + j] = !(j < d->lens[bb] && (e < 0 || e >= d->nb));
            }
    const int64_t md[4] = {c->B, 1, c->Lq, d->Lk}, ms[4] = {c->Lq * d->Lk, 0, d->Lk, 1};
    d->ref.mask_kind = CLATTN_MASK_BOOL;
    d->ref.mask = clattn_tensor_view(4, md, ms, 0);
}

/* paged_cl_case.h */
bool paged_append_check(clattn_context *ctx, bool f16, const tu_where *w0)
{
    use_ctx(ctx);
    {
        enum { B = 5, HKV = 3, LNEW = 7, D = 20, DV = 12, BS = 16, MAXB = 4, NB = 24 };
        const tu_where w = *w0;
        tu_rng r;
        tu_rng_init(&r, w.seed);
        const size_t es = f16 ? 2 : 4;
        clattn_kv_append_desc ad;
        clattn_kv_append_desc_init(&ad, B, HKV, LNEW, D, DV, NB, BS, MAXB);
        ad.data_type = f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
        /* k_new as [B, Lnew, Hkv, D] memory (a permuted view); pools K and V interleaved */
        const int64_t kd[4] = {B, HKV, LNEW, D}, ks[4] = {LNEW * HKV * D, D, HKV * D, 1};
        ad.k_new = clattn_tensor_view(4, kd, ks, 0);
        const int64_t row = D + DV, pk[4] = {NB, BS, HKV, D}, pv[4] = {NB, BS, HKV, DV};
        const int64_t ps[4] = {BS * HKV * row, HKV * row, row, 1};
        ad.k_cache = clattn_tensor_view(4, pk, ps, 0);
        ad.v_cache = clattn_tensor_view(4, pv, ps, D);
        const int64_t nk = B * HKV * LNEW * D, nv = B * HKV * LNEW * DV, npool = NB * BS * HKV * row;
        uint8_t *kn = tu_xmalloc((size_t)nk * es), *vn = tu_xmalloc((size_t)nv * es);
        uint8_t *pool = tu_xmalloc((size_t)npool * es), *want = tu_xmalloc((size_t)npool * es);
        for (int64_t i = 0; i < nk * (int64_t)es; i++) kn[i] = (uint8_t)tu_rng_int(&r, 0, 255);
        for (int64_t i = 0; i < nv * (int64_t)es; i++) vn[i] = (uint8_t)tu_rng_int(&r, 0, 255);
        for (int64_t i = 0; i < npool * (int64_t)es; i++) pool[i] = want[i] = (uint8_t)(0xA5 ^ (i * 7));
        int32_t table[B * MAXB], pos[B] = {0, 13, 40, -2, 58};
        /* unique blocks: one sequence's rows never overwrite another's */
        for (int i = 0; i < B * MAXB; i++) table[i] = (int32_t)((i * 5 + 3) % NB);
        table[1 * MAXB + 1] = -1;       /* sequence 1: rows at 16..19 have no valid block */
        table[2 * MAXB + 2] = NB + 100; /* sequence 2: rows at 40..46 (block 2) not written */
        /* sequence 3 starts at -2: rows 0, 1 not written; sequence 4: rows at 64.. pass MAXB * BS */
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < LNEW; t++) {
                const int64_t p = (int64_t)pos[b] + t;
                if (p < 0 || p / BS >= MAXB) continue;
                const int32_t e = table[b * MAXB + p / BS];
                if (e < 0 || e >= NB) continue;
                for (int64_t h = 0; h < HKV; h++) {
                    for (int64_t x = 0; x < D; x++)
                        memcpy(want + tu_index(&ad.k_cache, e, p % BS, h, x) * (int64_t)es,
                               kn + tu_index(&ad.k_new, b, h, t, x) * (int64_t)es, es);
                    for (int64_t x = 0; x < DV; x++)
                        memcpy(want + tu_index(&ad.v_cache, e, p % BS, h, x) * (int64_t)es,
                               vn + tu_index(&ad.v_new, b, h, t, x) * (int64_t)es, es);
                }
            }
        clattn_kv_append_plan *plan = NULL;
        clattn_status st = clattn_kv_append_plan_create(&plan, ctx, &ad);
        if (st != CLATTN_SUCCESS) tu_report(&w, "append plan: %d %s", (int)st, clattn_last_error(ctx));
        assert_int_equal(st, CLATTN_SUCCESS);
        cl_mem mk = upload(kn, (size_t)nk * es), mv = upload(vn, (size_t)nv * es), mp = upload(pool, (size_t)npool * es);
        cl_mem mt = upload(table, sizeof table), mpos = upload(pos, sizeof pos);
        clattn_kv_append_cl_buffers b;
        clattn_kv_append_cl_buffers_init(&b);
        b.k_new = mk;
        b.v_new = mv;
        b.k_cache = b.v_cache = mp;
        b.block_table = mt;
        b.positions = mpos;
        cl_event ev = NULL;
        st = clattn_kv_append_enqueue(plan, &b, 0, NULL, &ev);
        if (st != CLATTN_SUCCESS) tu_report(&w, "append enqueue: %d %s", (int)st, clattn_last_error(ctx));
        assert_int_equal(st, CLATTN_SUCCESS);
        assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
        clReleaseEvent(ev);
        download(mp, pool, (size_t)npool * es);
        int64_t bad = -1;
        for (int64_t i = 0; i < npool * (int64_t)es && bad < 0; i++)
            if (pool[i] != want[i]) bad = i;
        if (bad >= 0) tu_report(&w, "pool byte %lld is 0x%02x, expected 0x%02x", (long long)bad, pool[bad], want[bad]);
        clattn_kv_append_plan_destroy(plan);
        cl_mem all[] = {mk, mv, mp, mt, mpos};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
        free(kn);
        free(vn);
        free(pool);
        free(want);
        return bad < 0;
    }
}

