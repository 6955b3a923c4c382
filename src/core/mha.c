/*
 * Multi-head attention module (PyTorch nn.MultiheadAttention semantics, batch first), driven through
 * the backend interface so every backend gets it: three nn.Linear projections, SDPA over strided
 * per-head views of the projections (no copies), and the output projection of the head concat.
 *
 *   query [B, Lq, E] · W_qᵀ + b_q  -> Qp [B, Lq, E] viewed as q   [B, H, Lq, hd] (strides Lq·E, hd, E, 1)
 *   key   [B, Lk, kdim] · W_kᵀ + b_k -> Kp [B, Lk, E] viewed as k   [B, H, Lk, hd]
 *   value [B, Lk, vdim] · W_vᵀ + b_v -> Vp [B, Lk, E] viewed as v   [B, H, Lk, hd]
 *   SDPA -> Ctx [B, Lq, E] (= Concat(head_1..head_H)) viewed as out [B, H, Lq, hd]
 *   out [B, Lq, E] = Ctx · W_oᵀ + b_o
 */
#include "alloc.h"
#include "backend.h"

#include <stdlib.h>
#include <string.h>

enum { W_Q, W_K, W_V, W_O, B_Q, B_K, B_V, B_O, N_PARAMS };

struct clattn_mha {
    clattn_context *ctx;
    int64_t E, H, hd, kdim, vdim;
    clattn_buf params[N_PARAMS]; /* empty buffer for an absent bias */
    clattn_sdpa_plan *plan;      /* cached for the last forward's shape and options */
    clattn_sdpa_desc plan_desc;
};

void clattn_mha_options_init_sized(clattn_mha_options *opts, size_t struct_size)
{
    if (!opts) return;
    clattn_mha_options o;
    memset(&o, 0, sizeof o);
    o.window_left = CLATTN_WINDOW_UNBOUNDED;
    o.window_right = CLATTN_WINDOW_UNBOUNDED;
    o.mask = clattn_tensor_contiguous(1, 1, 1, 1);
    clattn_struct_out(opts, struct_size, &o, sizeof o);
}

void clattn_mha_weights_init_sized(clattn_mha_weights *w, size_t struct_size)
{
    if (!w) return;
    clattn_struct_out(w, struct_size, NULL, sizeof(clattn_mha_weights));
}

static clattn_status upload(clattn_context *ctx, clattn_buf *dst, const float *src, int64_t elems)
{
    size_t bytes = (size_t)elems * sizeof(float);
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, dst));
    return ctx->be->buf_write(ctx, dst, 0, src, bytes);
}

clattn_status clattn_mha_create(clattn_mha **out, clattn_context *ctx, const clattn_mha_weights *weights)
{
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_create: mha is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_create: ctx is NULL");
    if (!weights) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_create: weights is NULL");
    if (!ctx->be->linear)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "clattn_mha_create: the %s context runs SDPA only (a multi-device context has no one device "
                            "for the projections); create the MHA on a single-device context", ctx->be->name);
    clattn_mha_weights local; /* the caller's weights over the defaults, whatever layout it was compiled with */
    clattn_mha_weights_init_sized(&local, sizeof local);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_mha_weights, weights, CLATTN_MHA_WEIGHTS_MIN_SIZE, &local));
    const clattn_mha_weights *w = &local;
    int64_t E = w->embed_dim, H = w->num_heads;
    int64_t kdim = w->kdim ? w->kdim : E, vdim = w->vdim ? w->vdim : E;
    if (E < 1 || E > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "embed_dim: %lld, expected 1..%d", (long long)E,
                            INT32_MAX);
    if (H < 1 || E % H != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "num_heads: %lld, expected >= 1 and a divisor of embed_dim %lld", (long long)H,
                            (long long)E);
    if (kdim < 1 || kdim > INT32_MAX || vdim < 1 || vdim > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %lld, expected 0 (= embed_dim) or 1..%d",
                            kdim < 1 || kdim > INT32_MAX ? "kdim" : "vdim",
                            (long long)(kdim < 1 || kdim > INT32_MAX ? w->kdim : w->vdim), INT32_MAX);
    const float *src[N_PARAMS] = {w->w_q, w->w_k, w->w_v, w->w_o, w->b_q, w->b_k, w->b_v, w->b_o};
    static const char *names[N_PARAMS] = {"w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o"};
    int64_t elems[N_PARAMS] = {E * E, E * kdim, E * vdim, E * E, E, E, E, E};
    for (int i = 0; i < W_O + 1; i++)
        if (!src[i]) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_create: %s is NULL", names[i]);
    for (int i = 0; i < N_PARAMS; i++) /* E, kdim, vdim <= 2^31 so products fit; check bytes */
        if ((uint64_t)elems[i] > (uint64_t)(SIZE_MAX / 2 / sizeof(float)))
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %lld elements overflow the addressable size",
                                names[i], (long long)elems[i]);

    clattn_mha *m = clattn_calloc(1, sizeof *m);
    if (!m) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_mha_create: out of host memory");
    m->ctx = ctx;
    m->E = E;
    m->H = H;
    m->hd = E / H;
    m->kdim = kdim;
    m->vdim = vdim;
    for (int i = 0; i < N_PARAMS; i++) {
        if (!src[i]) continue;
        clattn_status st = upload(ctx, &m->params[i], src[i], elems[i]);
        if (st != CLATTN_SUCCESS) {
            clattn_mha_destroy(m);
            return st;
        }
    }
    *out = m;
    return CLATTN_SUCCESS;
}

void clattn_mha_destroy(clattn_mha *m)
{
    if (!m) return;
    for (int i = 0; i < N_PARAMS; i++)
        if (m->params[i].host || m->params[i].dev) m->ctx->be->buf_free(m->ctx, &m->params[i]);
    clattn_sdpa_plan_destroy(m->plan);
    free(m);
}

/* Returns the cached SDPA plan for desc, rebuilding it when the shape or options changed. */
static clattn_status get_plan(clattn_mha *m, const clattn_sdpa_desc *desc, clattn_sdpa_plan **plan)
{
    if (m->plan && memcmp(&m->plan_desc, desc, sizeof *desc) == 0) {
        *plan = m->plan;
        return CLATTN_SUCCESS;
    }
    clattn_sdpa_plan_destroy(m->plan);
    m->plan = NULL;
    CLATTN_TRY(clattn_sdpa_plan_create(&m->plan, m->ctx, desc));
    m->plan_desc = *desc;
    *plan = m->plan;
    return CLATTN_SUCCESS;
}

/* A buffer for one forward pass: on the host path a caller's pointer is wrapped (no copy). */
typedef struct fwd_buf {
    clattn_buf buf;
    bool owned;
} fwd_buf;

static clattn_status fwd_in(clattn_context *ctx, fwd_buf *b, const void *src, size_t bytes)
{
    if (ctx->be->host_memory && src) {
        b->buf.host = (void *)src;
        return CLATTN_SUCCESS;
    }
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &b->buf));
    b->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &b->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

clattn_status clattn_mha_forward(clattn_mha *m, int64_t B, int64_t Lq, int64_t Lk, const float *query,
                                 const float *key, const float *value, const void *mask,
                                 const int32_t *kv_lengths, const clattn_mha_options *opts, float *out,
                                 float *probs)
{
    if (!m) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_forward: mha is NULL");
    clattn_context *ctx = m->ctx;
    clattn_mha_options local; /* defaults, or the caller's options over them */
    clattn_mha_options_init(&local);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_mha_options, opts, CLATTN_MHA_OPTIONS_MIN_SIZE, &local));
    opts = &local;
    if (!query || !out)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_forward: %s is NULL",
                            !query ? "query" : "out");
    if ((key == NULL) != (value == NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_forward: key is %s but value is %s (give both, or neither for self-attention)",
                            key ? "given" : "NULL", value ? "given" : "NULL");
    bool self = key == NULL;
    if (self) {
        if (m->kdim != m->E || m->vdim != m->E)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "clattn_mha_forward: self-attention (key/value NULL) needs kdim = vdim = embed_dim, "
                                "module has kdim %lld, vdim %lld", (long long)m->kdim, (long long)m->vdim);
        if (Lk != Lq)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "kv_len: %lld, expected q_len %lld for self-attention", (long long)Lk, (long long)Lq);
        key = value = query;
    }
    const char *bad = B < 1 || B > INT32_MAX ? "batch" : Lq < 1 || Lq > INT32_MAX ? "q_len"
                      : Lk < 1 || Lk > INT32_MAX ? "kv_len" : NULL;
    if (bad)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %lld, expected 1..%d", bad,
                            (long long)(bad[0] == 'b' ? B : bad[0] == 'q' ? Lq : Lk), INT32_MAX);
    if ((int)opts->probs_mode < CLATTN_PROBS_NONE || (int)opts->probs_mode > CLATTN_PROBS_AVERAGED)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "probs_mode: %d is not a clattn_probs_mode value",
                            (int)opts->probs_mode);
    if ((opts->probs_mode != CLATTN_PROBS_NONE) != (probs != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_forward: probs is %s but probs_mode is %d",
                            probs ? "given" : "NULL", (int)opts->probs_mode);

    int64_t E = m->E, H = m->H, hd = m->hd;
    int64_t rows_q, rows_k, n_q, n_k, n_kin, n_vin, rows_qh, n_probs = 0;
    if (!clattn_mul_i64(B, Lq, &rows_q) || !clattn_mul_i64(B, Lk, &rows_k) || !clattn_mul_i64(rows_q, E, &n_q) ||
        !clattn_mul_i64(rows_k, E, &n_k) || !clattn_mul_i64(rows_k, m->kdim, &n_kin) ||
        !clattn_mul_i64(rows_k, m->vdim, &n_vin) || (uint64_t)n_q > SIZE_MAX / 8 || (uint64_t)n_k > SIZE_MAX / 8 ||
        (uint64_t)n_kin > SIZE_MAX / 8 || (uint64_t)n_vin > SIZE_MAX / 8)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_mha_forward: batch %lld, q_len %lld, kv_len %lld overflow the addressable size",
                            (long long)B, (long long)Lq, (long long)Lk);
    /* The probabilities' element count matters only when they are asked for. */
    if (opts->probs_mode != CLATTN_PROBS_NONE &&
        (!clattn_mul_i64(rows_q, H, &rows_qh) || !clattn_mul_i64(rows_qh, Lk, &n_probs) ||
         (uint64_t)n_probs > SIZE_MAX / 8))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "probs: batch %lld x num_heads %lld x q_len %lld x kv_len %lld elements overflow the "
                            "addressable size",
                            (long long)B, (long long)H, (long long)Lq, (long long)Lk);

    /* The SDPA problem over strided head views of the projections. */
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, B, H, H, Lq, Lk, hd, hd);
    clattn_tensor qv = clattn_tensor_view(4, (const int64_t[]){B, H, Lq, hd}, (const int64_t[]){Lq * E, hd, E, 1}, 0);
    clattn_tensor kv = clattn_tensor_view(4, (const int64_t[]){B, H, Lk, hd}, (const int64_t[]){Lk * E, hd, E, 1}, 0);
    d.q = qv;
    d.out = qv;
    d.k = kv;
    d.v = kv;
    d.scale = opts->scale;
    d.softcap = opts->softcap;
    d.causal = opts->causal;
    d.window_left = opts->window_left;
    d.window_right = opts->window_right;
    d.mask_kind = opts->mask_kind;
    if (opts->mask_kind != CLATTN_MASK_NONE) d.mask = opts->mask;
    else memset(&d.mask, 0, sizeof d.mask);
    d.use_kv_lengths = kv_lengths != NULL;
    d.want_probs = opts->probs_mode != CLATTN_PROBS_NONE;
    if (!d.want_probs) memset(&d.probs, 0, sizeof d.probs);
    if ((opts->mask_kind != CLATTN_MASK_NONE) != (mask != NULL))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mha_forward: mask is %s but mask_kind is %d",
                            mask ? "given" : "NULL", (int)opts->mask_kind);
    if (kv_lengths)
        for (int64_t b = 0; b < B; b++)
            if (kv_lengths[b] < 0 || kv_lengths[b] > Lk)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "kv_lengths: element %lld is %d, expected 0..%lld (kv_len)", (long long)b,
                                    (int)kv_lengths[b], (long long)Lk);
    clattn_sdpa_plan *plan = NULL;
    CLATTN_TRY(get_plan(m, &d, &plan));
    const clattn_sdpa_problem *p = &plan->p;

    float *avg_tmp = NULL;
    const size_t fs = sizeof(float);
    fwd_buf x = {0}, kin = {0}, vin = {0}, qp = {0}, kp = {0}, vp = {0}, cat = {0}, o = {0}, mk = {0}, kl = {0},
            pr = {0};
    clattn_status st = fwd_in(ctx, &x, query, (size_t)n_q * fs);
    if (!st && !self) st = fwd_in(ctx, &kin, key, (size_t)n_kin * fs);
    if (!st && !self) st = fwd_in(ctx, &vin, value, (size_t)n_vin * fs);
    if (!st) st = fwd_in(ctx, &qp, NULL, (size_t)n_q * fs);
    if (!st) st = fwd_in(ctx, &kp, NULL, (size_t)n_k * fs);
    if (!st) st = fwd_in(ctx, &vp, NULL, (size_t)n_k * fs);
    if (!st) st = fwd_in(ctx, &cat, NULL, (size_t)n_q * fs);
    if (!st) st = fwd_in(ctx, &o, ctx->be->host_memory ? out : NULL, (size_t)n_q * fs);
    if (!st && mask)
        st = fwd_in(ctx, &mk, mask, (size_t)p->mask_extent * (p->mask_kind == CLATTN_MASK_BOOL ? 1 : fs));
    if (!st && kv_lengths) st = fwd_in(ctx, &kl, kv_lengths, (size_t)B * sizeof(int32_t));
    if (!st && d.want_probs) {
        float *dst = probs;
        if (opts->probs_mode == CLATTN_PROBS_AVERAGED) {
            dst = avg_tmp = clattn_malloc((size_t)n_probs * fs);
            if (!avg_tmp)
                st = clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_mha_forward: out of host memory (%zu bytes)",
                                  (size_t)n_probs * fs);
        }
        if (!st) st = fwd_in(ctx, &pr, ctx->be->host_memory ? dst : NULL, (size_t)n_probs * fs);
    }
    const clattn_buf *kx = self ? &x.buf : &kin.buf, *vx = self ? &x.buf : &vin.buf;
    if (!st)
        st = ctx->be->linear(ctx, rows_q, E, E, &x.buf, 0, E, &m->params[W_Q], 0, &m->params[B_Q], 0, &qp.buf, 0, E);
    if (!st)
        st = ctx->be->linear(ctx, rows_k, E, m->kdim, kx, 0, m->kdim, &m->params[W_K], 0, &m->params[B_K], 0, &kp.buf,
                             0, E);
    if (!st)
        st = ctx->be->linear(ctx, rows_k, E, m->vdim, vx, 0, m->vdim, &m->params[W_V], 0, &m->params[B_V], 0, &vp.buf,
                             0, E);
    if (!st) {
        clattn_sdpa_bufs sb = {qp.buf, kp.buf, vp.buf, mk.buf, kl.buf, cat.buf, pr.buf, {NULL, NULL}, {NULL, NULL}};
        const clattn_sync none = CLATTN_SYNC_NONE;
        st = clattn_sdpa_run_bound(plan, &sb, &none);
    }
    if (!st)
        st = ctx->be->linear(ctx, rows_q, E, E, &cat.buf, 0, E, &m->params[W_O], 0, &m->params[B_O], 0, &o.buf, 0, E);
    if (!st && o.owned) st = ctx->be->buf_read(ctx, &o.buf, 0, out, (size_t)n_q * fs);
    if (!st && d.want_probs) {
        float *dst = avg_tmp ? avg_tmp : probs;
        if (pr.owned) st = ctx->be->buf_read(ctx, &pr.buf, 0, dst, (size_t)n_probs * fs);
        if (!st && avg_tmp) { /* mean over heads: [B, H, Lq, Lk] -> [B, Lq, Lk] */
            int64_t plane = Lq * Lk;
            for (int64_t b = 0; b < B; b++)
                for (int64_t e = 0; e < plane; e++) {
                    float s = 0.0f;
                    for (int64_t h = 0; h < H; h++) s += avg_tmp[(b * H + h) * plane + e];
                    probs[b * plane + e] = s / (float)H;
                }
        }
    }
    if (!st) st = ctx->be->finish(ctx);
    fwd_buf *all[] = {&x, &kin, &vin, &qp, &kp, &vp, &cat, &o, &mk, &kl, &pr};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    free(avg_tmp);
    return st;
}

const char *clattn_mha_path(const clattn_mha *m)
{
    return m && m->plan ? m->plan->path : "";
}
