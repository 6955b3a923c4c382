/*
 * test_merge: the merge of partial attention states (clattn_merge_*) on the backend chosen by CLATTN_DEVICE
 * (exit 77 when absent), on every kernel path its registrations name (the partial SDPA calls take that path).
 *
 * Split-key equivalence (the test): random problems (every mask kind with random broadcast dims,
 * GQA/MQA, kv_lengths with 0 and Lk, windows, both causal alignments, softcap, decode and prefill shapes,
 * strided q/k/v) whose keys are split into 1..5 random contiguous parts; each part is attended on its own
 * (a key view of k and v, and the matching mask view: a view of the same mask and shifted kv_lengths when
 * the structure carries over, else a dense mask holding the full problem's allowed keys of that part, since
 * causal and window rules are relative to the whole key range), writing its slice of a stacked
 * [P, B, Hq, Lq, Dv] / [P, B, Hq, Lq] buffer (padded strides, gaps checked); the merge of the parts must equal
 * the double-precision reference of one call over all keys (out and lse, TU_TOL_F32; rows with no allowed
 * key exactly 0 and -inf) and one clattn call over all keys (2·TU_TOL_F32), out of place and in place (out
 * and lse = part 0's slice), float32, float16 and bfloat16 parts.
 * Also: special values (a part with lse -inf never read, NaN confined to its row, all parts empty), merging
 * with clattn_merge_enqueue on cl_mem (in place on one cl_mem), and argument errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "f16_ref.h"
#include "reference.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv

/* ---- stacked part buffers ------------------------------------------------------------------------ */

/* parts_out [P, B, H, L, Dv] and parts_lse [P, B, H, L] with padded strides (gaps poisoned), and the
 * 4-D / 3-D slice views the SDPA calls write. */
typedef struct stack {
    int64_t P, B, H, L, Dv;
    clattn_tensor po, pl;  /* 5-D, 4-D */
    float *out, *lse;      /* buffers of npo, npl elements */
    int64_t npo, npl;
} stack;

static void stack_make(stack *s, int64_t P, int64_t B, int64_t H, int64_t L, int64_t Dv, int pad)
{
    memset(s, 0, sizeof *s);
    s->P = P, s->B = B, s->H = H, s->L = L, s->Dv = Dv;
    const int64_t po_d[5] = {P, B, H, L, Dv}, pl_d[4] = {P, B, H, L};
    int64_t so[5], sl[4];
    so[4] = 1, so[3] = Dv + (pad ? 3 : 0), so[2] = L * so[3] + (pad ? 1 : 0), so[1] = H * so[2], so[0] = B * so[1] + (pad ? 5 : 0);
    sl[3] = pad ? 2 : 1, sl[2] = L * sl[3] + (pad ? 1 : 0), sl[1] = H * sl[2], sl[0] = B * sl[1] + (pad ? 3 : 0);
    s->po = clattn_tensor_view(5, po_d, so, pad ? 2 : 0);
    s->pl = clattn_tensor_view(4, pl_d, sl, pad ? 1 : 0);
    s->npo = s->po.offset + (P - 1) * so[0] + (B - 1) * so[1] + (H - 1) * so[2] + (L - 1) * so[3] + (Dv - 1) + 1;
    s->npl = s->pl.offset + (P - 1) * sl[0] + (B - 1) * sl[1] + (H - 1) * sl[2] + (L - 1) * sl[3] + 1;
    s->out = tu_alloc_bits(s->npo, TU_POISON_BITS);
    s->lse = tu_alloc_bits(s->npl, TU_POISON_BITS);
}

static void stack_free(stack *s)
{
    free(s->out);
    free(s->lse);
    memset(s, 0, sizeof *s);
}

/* Part p's out slice [B, H, L, Dv] and lse slice [B, H, L]. */
static clattn_tensor slice_out(const stack *s, int64_t p)
{
    const int64_t d[4] = {s->B, s->H, s->L, s->Dv};
    return clattn_tensor_view(4, d, &s->po.strides[1], s->po.offset + p * s->po.strides[0]);
}
static clattn_tensor slice_lse(const stack *s, int64_t p)
{
    const int64_t d[3] = {s->B, s->H, s->L};
    return clattn_tensor_view(3, d, &s->pl.strides[1], s->pl.offset + p * s->pl.strides[0]);
}

/* ---- the double-precision merge of the stacked parts (the merge's own oracle) ---------------------- */

/* out: double [B, H, L, Dv] C order; lse: double [B, H, L]. */
static void ref_merge(const stack *s, const float *po, const float *pl, double *out, double *lse)
{
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t h = 0; h < s->H; h++)
            for (int64_t i = 0; i < s->L; i++) {
                const int64_t r = (b * s->H + h) * s->L + i;
                double M = -INFINITY, S = 0.0;
                int nan = 0;
                for (int64_t p = 0; p < s->P; p++) {
                    const clattn_tensor t = slice_lse(s, p);
                    const double x = pl[t.offset + b * t.strides[0] + h * t.strides[1] + i * t.strides[2]];
                    if (isnan(x)) nan = 1;
                    else if (x > M) M = x;
                }
                for (int64_t e = 0; e < s->Dv; e++) out[r * s->Dv + e] = 0.0;
                if (nan) {
                    lse[r] = NAN;
                    for (int64_t e = 0; e < s->Dv; e++) out[r * s->Dv + e] = NAN;
                    continue;
                }
                if (M == -INFINITY) {
                    lse[r] = -INFINITY;
                    continue;
                }
                for (int64_t p = 0; p < s->P; p++) {
                    const clattn_tensor t = slice_lse(s, p), o = slice_out(s, p);
                    const double x = pl[t.offset + b * t.strides[0] + h * t.strides[1] + i * t.strides[2]];
                    if (x == -INFINITY) continue;
                    const double w = exp(x - M);
                    S += w;
                    for (int64_t e = 0; e < s->Dv; e++)
                        out[r * s->Dv + e] += w * po[tu_index(&o, b, h, i, e)];
                }
                for (int64_t e = 0; e < s->Dv; e++) out[r * s->Dv + e] /= S;
                lse[r] = M + log(S);
            }
}

/* ---- one split-key problem ------------------------------------------------------------------------ */

/* The part desc for keys [a, a + n) of the full problem d, writing slice p of st. *mask_out receives a
 * malloc'd dense mask (when the structure does not carry over), *kvl_out shifted kv_lengths (or NULL). */
static clattn_sdpa_desc part_desc(const sdpa_data *d, const stack *st, int64_t p, int64_t a, int64_t n,
                                  void **mask_out, int32_t **kvl_out)
{
    const clattn_sdpa_desc *f = &d->desc;
    clattn_sdpa_desc pd = *f;
    const int64_t B = f->q.dims[0], Hq = f->q.dims[1], Lq = f->q.dims[2];
    *mask_out = NULL;
    *kvl_out = NULL;
    pd.k.dims[2] = n;
    pd.v.dims[2] = n;
    if (n > 1 || a > 0) { /* a dim of 1 keeps junk strides in the full view only when Lk = 1 (a = 0) */
        pd.k.offset += a * f->k.strides[2];
        pd.v.offset += a * f->v.strides[2];
    }
    pd.out = slice_out(st, p);
    pd.want_lse = 1;
    pd.lse = slice_lse(st, p);
    pd.want_probs = 0;
    const bool carries = f->causal == CLATTN_CAUSAL_NONE && f->window_left < 0 && f->window_right < 0;
    if (carries) {
        /* the same mask, viewed from key a; kv_lengths shifted by a */
        if (f->mask_kind != CLATTN_MASK_NONE) {
            pd.mask.dims[3] = n;
            if (n > 1 || a > 0) pd.mask.offset += a * f->mask.strides[3];
        }
        if (f->use_kv_lengths) {
            int32_t *k = tu_xmalloc((size_t)B * sizeof(int32_t));
            for (int64_t b = 0; b < B; b++) {
                int64_t l = d->kvl[b] - a;
                k[b] = (int32_t)(l < 0 ? 0 : l > n ? n : l);
            }
            *kvl_out = k;
        }
        return pd;
    }
    /* dense [B, Hq, Lq, n] mask of the full problem's allowed keys (additive masks keep their values) */
    const bool add = f->mask_kind == CLATTN_MASK_ADDITIVE;
    const int64_t cnt = B * Hq * Lq * n;
    void *m = tu_xmalloc((size_t)cnt * (add ? sizeof(float) : 1));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Lq; i++)
                for (int64_t j = 0; j < n; j++) {
                    const int64_t e = ((b * Hq + h) * Lq + i) * n + j;
                    const int ok = ref_sdpa_allowed(f, d->mask, d->kvl, b, h, i, a + j);
                    if (add) {
                        const clattn_tensor *t = &f->mask;
                        const float v = ((const float *)d->mask)[tu_index(t, t->dims[0] > 1 ? b : 0, t->dims[1] > 1 ? h : 0,
                                                                          t->dims[2] > 1 ? i : 0, a + j)];
                        ((float *)m)[e] = ok ? v : -INFINITY;
                    } else {
                        ((uint8_t *)m)[e] = (uint8_t)ok;
                    }
                }
    pd.mask_kind = add ? CLATTN_MASK_ADDITIVE : CLATTN_MASK_BOOL;
    pd.mask = clattn_tensor_contiguous(B, Hq, Lq, n);
    pd.causal = CLATTN_CAUSAL_NONE;
    pd.window_left = pd.window_right = CLATTN_WINDOW_UNBOUNDED;
    pd.use_kv_lengths = 0;
    *mask_out = m;
    return pd;
}

/* Runs SDPA desc on host buffers with an lse output. */
static clattn_status run_sdpa(const clattn_sdpa_desc *desc, const sdpa_data *d, const void *mask, const int32_t *kvl,
                              float *out, float *lse, const tu_where *w)
{
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, desc);
    if (st == CLATTN_SUCCESS && !tu_check_plan_path(plan, desc, w)) st = CLATTN_ERROR_UNSUPPORTED;
    if (st == CLATTN_SUCCESS) {
        clattn_sdpa_buffers b;
        clattn_sdpa_buffers_init(&b);
        b.q = d->q, b.k = d->k, b.v = d->v, b.mask = mask, b.kv_lengths = kvl, b.out = out, b.lse = lse;
        st = clattn_sdpa_execute_buffers(plan, &b);
    }
    if (st != CLATTN_SUCCESS) tu_report(w, "sdpa: %d %s", (int)st, clattn_last_error(g_ctx));
    clattn_sdpa_plan_destroy(plan);
    return st;
}

/* Exact zeros in out rows whose reference lse is -inf (no allowed key in any part). */
static bool check_empty_rows(const tu_where *w, const float *out, const clattn_tensor *ot, const double *rl,
                             int64_t B, int64_t H, int64_t L, int64_t Dv)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < L; i++) {
                if (rl[(b * H + h) * L + i] != -INFINITY) continue;
                for (int64_t e = 0; e < Dv; e++)
                    if (out[tu_index(ot, b, h, i, e)] != 0.0f) {
                        tu_report(w, "row (%lld,%lld,%lld) has no allowed key but out[%lld] = %g", (long long)b,
                                  (long long)h, (long long)i, (long long)e, (double)out[tu_index(ot, b, h, i, e)]);
                        return false;
                    }
            }
    return true;
}

/* Merges st into (out, lse) through a plan (data_type f32, f16 or bf16: parts rounded to that type first);
 * in_place: out and lse are part 0's slices of st's buffers. Returns the status; out/lse as float. */
static clattn_status do_merge(stack *st, clattn_dtype dt, bool in_place, float *out, const clattn_tensor *ot, float *lse,
                              const clattn_tensor *lt, int64_t nout, const tu_where *w)
{
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, st->P, st->B, st->H, st->L, st->Dv);
    md.parts_out = st->po;
    md.parts_lse = st->pl;
    md.want_lse = 1;
    md.out = in_place ? slice_out(st, 0) : *ot;
    md.lse = in_place ? slice_lse(st, 0) : *lt;
    md.data_type = dt;
    const bool bf = dt == CLATTN_DTYPE_BF16;
    const uint16_t poison16 = bf ? BF16R_POISON : F16R_POISON;
    clattn_merge_plan *plan = NULL;
    clattn_status s = clattn_merge_plan_create(&plan, g_ctx, &md);
    if (s != CLATTN_SUCCESS) {
        tu_report(w, "merge plan: %d %s", (int)s, clattn_last_error(g_ctx));
        return s;
    }
    if (dt == CLATTN_DTYPE_F32) {
        s = in_place ? clattn_merge_execute(plan, st->out, st->lse, st->out, st->lse)
                     : clattn_merge_execute(plan, st->out, st->lse, out, lse);
    } else {
        uint16_t *h = f16r_alloc(st->npo, poison16), *ho = f16r_alloc(nout, poison16);
        for (int64_t i = 0; i < st->npo; i++) {
            uint32_t bits;
            memcpy(&bits, &st->out[i], sizeof bits);
            if (bits != TU_POISON_BITS)
                h[i] = bf ? bf16r_from_double((double)st->out[i]) : f16r_from_double((double)st->out[i]);
        }
        s = in_place ? clattn_merge_execute(plan, h, st->lse, h, st->lse) : clattn_merge_execute(plan, h, st->lse, ho, lse);
        const uint16_t *src = in_place ? h : ho;
        float *dst = in_place ? st->out : out;
        const int64_t n = in_place ? st->npo : nout;
        for (int64_t i = 0; i < n; i++)
            if (src[i] != poison16) dst[i] = (float)(bf ? bf16r_to_double(src[i]) : f16r_to_double(src[i]));
        free(h);
        free(ho);
    }
    if (s != CLATTN_SUCCESS) tu_report(w, "merge: %d %s", (int)s, clattn_last_error(g_ctx));
    clattn_merge_plan_destroy(plan);
    return s;
}

/* One random split-key problem: see the banner. */
static bool split_case(const sdpa_case *c, tu_rng *r, const tu_where *w)
{
    sdpa_data d;
    sdpa_data_make(&d, c, r);
    const int64_t B = c->B, Hq = c->Hq, Lq = c->Lq, Lk = c->Lk, Dv = c->Dv;
    bool ok = true;

    /* one call over every key (d's own out and lse) and the double reference */
    ok &= run_sdpa(&d.desc, &d, d.mask, d.kvl, d.out, d.lse, w) == CLATTN_SUCCESS && sdpa_data_check(&d, w);
    double *ro = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double)), *rl = tu_xmalloc((size_t)(B * Hq * Lq) * sizeof(double));
    ref_sdpa_lse(&d.desc, d.q, d.k, d.v, d.mask, d.kvl, ro, NULL, rl);

    /* 1..5 parts (never more than Lk), random cut points */
    int64_t P = tu_rng_int(r, 1, 5);
    if (P > Lk) P = Lk;
    int64_t cuts[6] = {0};
    cuts[P] = Lk;
    for (int64_t p = 1; p < P; p++) {
        int64_t x;
        bool dup;
        do { /* distinct interior cut points */
            x = tu_rng_int(r, 1, Lk - 1);
            dup = false;
            for (int64_t q = 1; q < p; q++) dup |= cuts[q] == x;
        } while (dup);
        cuts[p] = x;
    }
    for (int64_t p = 1; p < P; p++) /* sort */
        for (int64_t q = p + 1; q < P; q++)
            if (cuts[q] < cuts[p]) {
                const int64_t t = cuts[p];
                cuts[p] = cuts[q];
                cuts[q] = t;
            }
    stack st;
    stack_make(&st, P, B, Hq, Lq, Dv, (int)tu_rng_int(r, 0, 1));
    for (int64_t p = 0; p < P && ok; p++) {
        void *pm = NULL;
        int32_t *pk = NULL;
        const clattn_sdpa_desc pd = part_desc(&d, &st, p, cuts[p], cuts[p + 1] - cuts[p], &pm, &pk);
        ok &= run_sdpa(&pd, &d, pm ? pm : d.mask, pm ? NULL : pk, st.out, st.lse, w) == CLATTN_SUCCESS;
        free(pm);
        free(pk);
    }
    /* merged outputs: out [B, Hq, Lq, Dv] padded, lse [B, Hq, Lq] strided */
    const clattn_tensor ot = tu_tensor(TU_PAD, B, Hq, Lq, Dv, 1), lt3 = tu_tensor3(TU_PAD, B, Hq, Lq, 2);
    const clattn_tensor lt4 = tu_tensor3_as4(&lt3);
    const int64_t nout = tu_extent(&ot), nlse = tu_extent(&lt4);
    float *mo = tu_alloc_bits(nout, TU_POISON_BITS), *ml = tu_alloc_bits(nlse, TU_POISON_BITS);
    double *rmo = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double)), *rml = tu_xmalloc((size_t)(B * Hq * Lq) * sizeof(double));
    if (ok) {
        ref_merge(&st, st.out, st.lse, rmo, rml);
        double *one = tu_xmalloc((size_t)(B * Hq * Lq * Dv) * sizeof(double)), *onel = tu_xmalloc((size_t)(B * Hq * Lq) * sizeof(double));
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < Hq; h++)
                for (int64_t i = 0; i < Lq; i++) {
                    const int64_t rr = (b * Hq + h) * Lq + i;
                    onel[rr] = d.lse[tu_index(&d.lse4, b, h, i, 0)];
                    for (int64_t e = 0; e < Dv; e++) one[rr * Dv + e] = d.out[tu_index(&d.desc.out, b, h, i, e)];
                }
        /* float32, out of place: against the reference of one call, one clattn call, the parts' own merge */
        ok &= do_merge(&st, CLATTN_DTYPE_F32, false, mo, &ot, ml, &lt3, nout, w) == CLATTN_SUCCESS;
        ok = ok && tu_check_view(w, "merged out vs reference", mo, &ot, ro, TU_TOL_F32) &&
             tu_check_view(w, "merged lse vs reference", ml, &lt4, rl, TU_TOL_F32) &&
             tu_check_view(w, "merged out vs one call", mo, &ot, one, 2 * TU_TOL_F32) &&
             tu_check_view(w, "merged lse vs one call", ml, &lt4, onel, 2 * TU_TOL_F32) &&
             tu_check_view(w, "merged out vs merge of the parts", mo, &ot, rmo, 2e-6) &&
             tu_check_gaps(w, "merged out", mo, nout, &ot, TU_POISON_BITS) &&
             tu_check_gaps(w, "merged lse", ml, nlse, &lt4, TU_POISON_BITS) &&
             check_empty_rows(w, mo, &ot, rl, B, Hq, Lq, Dv);
        /* float16 parts and out (lse float32): within fp16 rounding of the reference */
        if (ok) {
            tu_fill_bits(mo, nout, TU_POISON_BITS);
            tu_fill_bits(ml, nlse, TU_POISON_BITS);
            ok &= do_merge(&st, CLATTN_DTYPE_F16, false, mo, &ot, ml, &lt3, nout, w) == CLATTN_SUCCESS;
            ok = ok && tu_check_view(w, "f16 merged out", mo, &ot, ro, 2e-3) &&
                 tu_check_view(w, "f16 merged lse", ml, &lt4, rl, TU_TOL_F32) &&
                 tu_check_gaps(w, "f16 merged out", mo, nout, &ot, TU_POISON_BITS) &&
                 check_empty_rows(w, mo, &ot, rl, B, Hq, Lq, Dv);
        }
        /* bfloat16 parts and out: 8 significant bits, so 8x the fp16 bound (2^-9 relative per rounding) */
        if (ok) {
            tu_fill_bits(mo, nout, TU_POISON_BITS);
            tu_fill_bits(ml, nlse, TU_POISON_BITS);
            ok &= do_merge(&st, CLATTN_DTYPE_BF16, false, mo, &ot, ml, &lt3, nout, w) == CLATTN_SUCCESS;
            ok = ok && tu_check_view(w, "bf16 merged out", mo, &ot, ro, 1.6e-2) &&
                 tu_check_view(w, "bf16 merged lse", ml, &lt4, rl, TU_TOL_F32) &&
                 tu_check_gaps(w, "bf16 merged out", mo, nout, &ot, TU_POISON_BITS) &&
                 check_empty_rows(w, mo, &ot, rl, B, Hq, Lq, Dv);
        }
        /* in place: into part 0's slices */
        if (ok) {
            const clattn_tensor o0 = slice_out(&st, 0), l03 = slice_lse(&st, 0), l0 = tu_tensor3_as4(&l03);
            ok &= do_merge(&st, CLATTN_DTYPE_F32, true, NULL, NULL, NULL, NULL, 0, w) == CLATTN_SUCCESS;
            ok = ok && tu_check_view(w, "in-place out", st.out, &o0, ro, TU_TOL_F32) &&
                 tu_check_view(w, "in-place lse", st.lse, &l0, rl, TU_TOL_F32) &&
                 check_empty_rows(w, st.out, &o0, rl, B, Hq, Lq, Dv);
        }
        free(one);
        free(onel);
    }
    if (!ok) {
        char cs[64] = "";
        for (int64_t p = 0; p <= P; p++) snprintf(cs + strlen(cs), sizeof cs - strlen(cs), "%lld ", (long long)cuts[p]);
        tu_report(w, "%lld parts, cuts %s(B %lld Hq %lld Hkv %lld Lq %lld Lk %lld D %lld Dv %lld mask %d causal %d "
                     "window %lld/%lld kvl %d)", (long long)P, cs, (long long)B, (long long)Hq, (long long)c->Hkv,
                  (long long)Lq, (long long)Lk, (long long)c->D, (long long)Dv, (int)c->mask_kind, (int)c->causal,
                  (long long)c->wl, (long long)c->wr, c->kvl);
    }
    free(mo);
    free(ml);
    free(rmo);
    free(rml);
    free(ro);
    free(rl);
    stack_free(&st);
    sdpa_data_free(&d);
    return ok;
}

/* A random problem of the split test: sizes, GQA, masks, causal, window, kv_lengths, layouts. */
static sdpa_case random_case(tu_rng *r, int idx, char *name, size_t cap)
{
    static const int64_t Ds[] = {8, 16, 40, 64}, Dvs[] = {8, 24, 64};
    static const tu_layout lays[] = {TU_CONTIG, TU_BLHD, TU_PAD, TU_BLHD_PAD};
    sdpa_case c;
    memset(&c, 0, sizeof c);
    snprintf(name, cap, "split_%02d", idx);
    c.name = name;
    c.B = tu_rng_int(r, 1, 3);
    c.Hkv = tu_rng_int(r, 1, 3);
    c.Hq = c.Hkv * tu_rng_int(r, 1, 4);
    c.Lq = tu_rng_int(r, 0, 2) == 0 ? tu_rng_int(r, 1, 4) : tu_rng_int(r, 5, 40); /* decode or prefill */
    c.Lk = tu_rng_int(r, 0, 3) == 0 ? tu_rng_int(r, 600, 1500) : tu_rng_int(r, 1, 200);
    if (g_backend == TU_RUSTICL && !getenv("CLATTN_TEST_FULL") && c.Lk > 300) c.Lk = 300; /* ~10x slower */
    c.D = Ds[tu_rng_int(r, 0, 3)];
    c.Dv = Dvs[tu_rng_int(r, 0, 2)];
    c.lq = lays[tu_rng_int(r, 0, 3)];
    c.lk = lays[tu_rng_int(r, 0, 3)];
    c.lv = lays[tu_rng_int(r, 0, 3)];
    c.mask_kind = (clattn_mask_kind)tu_rng_int(r, 0, 2);
    c.mb = (int)tu_rng_int(r, 0, 1), c.mh = (int)tu_rng_int(r, 0, 1), c.mq = (int)tu_rng_int(r, 0, 1);
    c.density = 0.6;
    c.causal = (clattn_causal)tu_rng_int(r, 0, 2);
    c.window = tu_rng_int(r, 0, 3) == 0;
    c.wl = tu_rng_int(r, 0, 30);
    c.wr = tu_rng_int(r, 0, 1) ? -1 : tu_rng_int(r, 0, 5);
    c.kvl = (int)tu_rng_int(r, 0, 1);
    c.softcap = tu_rng_int(r, 0, 4) == 0 ? 5.0f : 0.0f;
    c.lse = 1;
    return c;
}

static void test_split(void **state)
{
    (void)state;
    const int n = g_backend == TU_HOST ? 48 : g_backend == TU_RUSTICL ? 12 : 24;
    int bad = 0;
    for (int k = 0; k < n; k++) {
        char name[32];
        tu_rng r;
        tu_rng_init(&r, tu_case_seed("merge", k));
        const sdpa_case c = random_case(&r, k, name, sizeof name);
        const tu_where w = {"merge", c.name, tu_case_seed("merge", k)};
        bad += !split_case(&c, &r, &w);
    }
    if (bad) fail_msg("%d of %d split problems failed", bad, n);
}

/* Hand-made values: a part with lse -inf and NaN out (never read), a NaN lse (confined to its row), every
 * part empty (zeros, -inf), very different lse magnitudes (max-shifted: no overflow). */
static void test_special(void **state)
{
    (void)state;
    enum { P = 3, L = 4, DV = 5 };
    float po[P * L * DV], pl[P * L], out[L * DV], lse[L];
    for (int i = 0; i < P * L * DV; i++) po[i] = (float)(i % 7) - 3.0f;
    /* row 0: part 1 empty (NaN out row must not leak); row 1: NaN lse in part 2; row 2: all empty;
     * row 3: lse 1e30-scale spread (exp of the shifted values underflows for the small ones) */
    const float ninf = -INFINITY;
    const float lv[P][L] = {{0.5f, 1.0f, ninf, 80.0f}, {ninf, 2.0f, ninf, -80.0f}, {1.5f, NAN, ninf, 3.0e4f}};
    for (int p = 0; p < P; p++)
        for (int i = 0; i < L; i++) pl[p * L + i] = lv[p][i];
    for (int e = 0; e < DV; e++) po[(1 * L + 0) * DV + e] = NAN;
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, P, 1, 1, L, DV);
    md.want_lse = 1;
    assert_int_equal(clattn_merge_states(g_ctx, &md, po, pl, out, lse), CLATTN_SUCCESS);
    /* row 0: parts 0 and 2, weights exp(0.5 - 1.5), 1 */
    const double w0 = exp(-1.0), w2 = 1.0;
    for (int e = 0; e < DV; e++) {
        const double want = (w0 * po[e] + w2 * po[(2 * L) * DV + e]) / (w0 + w2);
        if (fabs(out[e] - want) > 1e-6) fail_msg("row 0 out[%d] = %g, expected %g", e, (double)out[e], want);
    }
    if (fabs(lse[0] - (1.5 + log(w0 + w2))) > 1e-6) fail_msg("row 0 lse %g", (double)lse[0]);
    for (int e = 0; e < DV; e++)
        if (!isnan(out[1 * DV + e])) fail_msg("row 1 out[%d] = %g, expected NaN", e, (double)out[1 * DV + e]);
    if (!isnan(lse[1])) fail_msg("row 1 lse %g, expected NaN", (double)lse[1]);
    for (int e = 0; e < DV; e++)
        if (out[2 * DV + e] != 0.0f) fail_msg("row 2 out[%d] = %g, expected 0", e, (double)out[2 * DV + e]);
    if (lse[2] != -INFINITY) fail_msg("row 2 lse %g, expected -inf", (double)lse[2]);
    for (int e = 0; e < DV; e++) /* part 2 dominates completely */
        if (fabsf(out[3 * DV + e] - po[(2 * L + 3) * DV + e]) > 1e-6f) fail_msg("row 3 out[%d] = %g", e, (double)out[3 * DV + e]);
    if (lse[3] != 3.0e4f) fail_msg("row 3 lse %.9g, expected 30000", (double)lse[3]);
    /* P = 1 is a copy; without lse output */
    clattn_merge_desc one;
    clattn_merge_desc_init(&one, 1, 1, 1, L, DV);
    assert_int_equal(clattn_merge_states(g_ctx, &one, po, pl, out, NULL), CLATTN_SUCCESS);
    for (int i = 0; i < L; i++)
        for (int e = 0; e < DV; e++) {
            const float want = lv[0][i] == ninf ? 0.0f : po[i * DV + e];
            if (out[i * DV + e] != want) fail_msg("P=1 out[%d,%d] = %g, expected %g", i, e, (double)out[i * DV + e], (double)want);
        }
}

static void expect_err(clattn_status got, clattn_status want, const char *needle)
{
    if (got != want || (needle && !strstr(clattn_last_error(g_ctx), needle)))
        fail_msg("got status %d (want %d), message '%s' (want '%s')", (int)got, (int)want, clattn_last_error(g_ctx),
                 needle ? needle : "");
}

static void test_errors(void **state)
{
    (void)state;
    clattn_merge_desc md;
    clattn_merge_plan *plan = NULL;
    expect_err(clattn_merge_plan_create(&plan, g_ctx, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "desc is NULL");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.parts_lse = clattn_tensor_contiguous(2, 2, 4, 5);
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT,
               "parts_lse: dim 0 is 2, expected 3 (num_parts, parts_out dim 0)");
    assert_null(plan);
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.out = clattn_tensor_contiguous(2, 4, 5, 9);
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT,
               "out: dim 3 is 9, expected 8 (v_head_dim, parts_out dim 4)");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.parts_out = clattn_tensor_contiguous(2, 4, 5, 8);
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT, "parts_out: ndim is 4, expected 5");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.want_lse = 1;
    md.lse = clattn_tensor_contiguous(2, 4, 5, 1);
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT, "lse: ndim is 4, expected 3");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.data_type = (clattn_dtype)5;
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT, "data_type: 5");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    md.out.strides[0] = 0; /* writes one element twice */
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_ERROR_INVALID_ARGUMENT, "out");
    clattn_merge_desc z;
    memset(&z, 0, sizeof z);
    expect_err(clattn_merge_plan_create(&plan, g_ctx, &z), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_merge_desc: struct_size is 0");
    clattn_merge_desc_init(&md, 3, 2, 4, 5, 8);
    assert_int_equal(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_SUCCESS);
    float po[3 * 2 * 4 * 5 * 8] = {0}, pl[3 * 2 * 4 * 5] = {0}, out[2 * 4 * 5 * 8], lse[2 * 4 * 5];
    expect_err(clattn_merge_execute(plan, po, pl, out, lse), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_merge_execute: lse is given but desc.want_lse is 0");
    expect_err(clattn_merge_execute(plan, NULL, pl, out, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "parts_out is NULL");
    assert_int_equal(clattn_merge_execute(plan, po, pl, out, NULL), CLATTN_SUCCESS);
    for (int i = 0; i < 2 * 4 * 5 * 8; i++) assert_true(out[i] == 0.0f);
    if (g_backend == TU_HOST) {
        expect_err(clattn_merge_enqueue(plan, NULL, NULL, NULL, NULL, 0, NULL, NULL), CLATTN_ERROR_UNSUPPORTED,
                   "host path");
    } else {
        cl_context cc = NULL;
        assert_int_equal(clattn_context_get_cl(g_ctx, &cc, NULL, NULL), CLATTN_SUCCESS);
        cl_int err = CL_SUCCESS;
        cl_mem big = clCreateBuffer(cc, CL_MEM_READ_WRITE, sizeof po, NULL, &err), small =
            clCreateBuffer(cc, CL_MEM_READ_WRITE, sizeof out - 4, NULL, &err);
        assert_int_equal(err, CL_SUCCESS);
        expect_err(clattn_merge_enqueue(plan, big, big, small, NULL, 0, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                   "out: cl_mem holds 1276 bytes, the view needs 1280");
        clReleaseMemObject(big);
        clReleaseMemObject(small);
    }
    clattn_merge_plan_destroy(plan);
}

/* OpenCL: the stacked parts in one cl_mem, merged in place (out = part 0's slice of the same cl_mem). */
static void test_enqueue_in_place(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    cl_context cc = NULL;
    cl_command_queue queue = NULL;
    assert_int_equal(clattn_context_get_cl(g_ctx, &cc, NULL, &queue), CLATTN_SUCCESS);
    tu_rng r;
    tu_rng_init(&r, tu_case_seed("merge", 2000));
    const tu_where w = {"merge", "enqueue_in_place", tu_case_seed("merge", 2000)};
    stack st;
    stack_make(&st, 4, 2, 3, 5, 24, 1);
    double *rmo = tu_xmalloc(2 * 3 * 5 * 24 * sizeof(double)), *rml = tu_xmalloc(2 * 3 * 5 * sizeof(double));
    for (int64_t p = 0; p < 4; p++) {
        const clattn_tensor o = slice_out(&st, p), l3 = slice_lse(&st, p), l = tu_tensor3_as4(&l3);
        for (int64_t b = 0; b < 2; b++)
            for (int64_t h = 0; h < 3; h++)
                for (int64_t i = 0; i < 5; i++) {
                    const bool empty = tu_rng_int(&r, 0, 4) == 0;
                    st.lse[tu_index(&l, b, h, i, 0)] = empty ? -INFINITY : (float)tu_rng_uniform(&r, -20, 20);
                    for (int64_t e = 0; e < 24; e++)
                        st.out[tu_index(&o, b, h, i, e)] = empty ? NAN : (float)tu_rng_uniform(&r, -1, 1);
                }
    }
    ref_merge(&st, st.out, st.lse, rmo, rml);
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, 4, 2, 3, 5, 24);
    md.parts_out = st.po, md.parts_lse = st.pl, md.out = slice_out(&st, 0), md.lse = slice_lse(&st, 0), md.want_lse = 1;
    clattn_merge_plan *plan = NULL;
    assert_int_equal(clattn_merge_plan_create(&plan, g_ctx, &md), CLATTN_SUCCESS);
    cl_int err = CL_SUCCESS;
    cl_mem mo = clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)st.npo * 4, st.out, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_mem ml = clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, (size_t)st.npl * 4, st.lse, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_event gate = clCreateUserEvent(cc, &err), done = NULL;
    assert_int_equal(err, CL_SUCCESS);
    clattn_status s = clattn_merge_enqueue(plan, mo, ml, mo, ml, 1, &gate, &done);
    if (s != CLATTN_SUCCESS) tu_report(&w, "enqueue: %d %s", (int)s, clattn_last_error(g_ctx));
    assert_int_equal(clSetUserEventStatus(gate, CL_COMPLETE), CL_SUCCESS);
    bool ok = s == CLATTN_SUCCESS && done && clWaitForEvents(1, &done) == CL_SUCCESS;
    ok = ok && clEnqueueReadBuffer(queue, mo, CL_TRUE, 0, (size_t)st.npo * 4, st.out, 0, NULL, NULL) == CL_SUCCESS &&
         clEnqueueReadBuffer(queue, ml, CL_TRUE, 0, (size_t)st.npl * 4, st.lse, 0, NULL, NULL) == CL_SUCCESS;
    const clattn_tensor o0 = slice_out(&st, 0), l03 = slice_lse(&st, 0), l0 = tu_tensor3_as4(&l03);
    ok = ok && tu_check_view(&w, "out", st.out, &o0, rmo, 2e-6) && tu_check_view(&w, "lse", st.lse, &l0, rml, 2e-6);
    if (done) clReleaseEvent(done);
    clReleaseEvent(gate);
    clReleaseMemObject(mo);
    clReleaseMemObject(ml);
    clattn_merge_plan_destroy(plan);
    free(rmo);
    free(rml);
    stack_free(&st);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    struct CMUnitTest tests[] = {cmocka_unit_test(test_split), cmocka_unit_test(test_special),
                                 cmocka_unit_test(test_errors), cmocka_unit_test(test_enqueue_in_place)};
    int failed = tu_run_group("merge", tests, sizeof tests / sizeof tests[0]);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
