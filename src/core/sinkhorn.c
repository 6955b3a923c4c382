/*
 * Sparse Sinkhorn attention (clattn.h, "Sparse Sinkhorn attention"; Tay et al., 2020). No backend slot and no kernel:
 * the Sinkhorn balancing of the block-sorting logits and the soft sort of the key/value blocks run here on the host
 * (they are O(B·H·nb²·b·(D + Dv)), small next to attention for nb << L), and the attention itself is two SDPA plans
 * with want_lse on the context's backend, merged by log-sum-exp with a merge plan:
 *
 *   own block:    q, k, v as [B, H·nb, b, D] views of the caller's arrays     -> parts_out[0], parts_lse[0]
 *   sorted block: q as above, K', V' contiguous [B, H·nb, b, D] in workspace  -> parts_out[1], parts_lse[1]
 *   merge:        parts [2, B, H, L, Dv] (the same memory as [2, B, H·nb, b, Dv]) -> the caller's out view
 *
 * The merge of the two partial results is exactly the softmax over the concatenated 2b keys (clattn_merge_desc).
 */
#include "alloc.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct clattn_sinkhorn_plan {
    clattn_context *ctx;
    clattn_sinkhorn_desc d;                      /* validated and normalised */
    int64_t B, H, L, D, Dv, b, nb;
    clattn_sdpa_plan *own, *sorted;
    clattn_merge_plan *merge;
    float *kp, *vp, *parts_out, *parts_lse;     /* workspace */
    double *logp, *pexp;                         /* [nb, nb] for one (b, h): log P and P */
    double *acc;                                 /* [b, max(D, Dv)] soft-sort accumulator */
    float *probs, *mlse;                         /* want_weights: parts' probabilities [2, B·H·L, b], merged lse */
};

void clattn_sinkhorn_desc_init_sized(clattn_sinkhorn_desc *desc, size_t struct_size, int64_t batch,
                                     int64_t num_heads, int64_t seq_len, int64_t head_dim, int64_t v_head_dim,
                                     int64_t block_size)
{
    if (!desc) return;
    clattn_sinkhorn_desc d;
    memset(&d, 0, sizeof d);
    const int64_t nb = block_size >= 1 && seq_len >= 1 && seq_len % block_size == 0 ? seq_len / block_size : 1;
    d.q = clattn_tensor_contiguous(batch, num_heads, seq_len, head_dim);
    d.k = d.q;
    d.v = clattn_tensor_contiguous(batch, num_heads, seq_len, v_head_dim);
    d.out = d.v;
    d.sort_logits = clattn_tensor_contiguous(batch, num_heads, nb, nb);
    d.perm = d.sort_logits;
    d.weights = clattn_tensor_contiguous(batch, num_heads, seq_len, block_size >= 1 ? 2 * block_size : 2);
    d.block_size = block_size;
    d.tau = 1.0f;
    d.sinkhorn_iters = 8;
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

#define CLATTN_SINKHORN_DESC_MIN_SIZE CLATTN_SIZE_THROUGH(clattn_sinkhorn_desc, perm)

static clattn_status check4(clattn_context *ctx, const char *name, clattn_tensor *t, int64_t *extent)
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, 4));
    return clattn_tensor_check(ctx, name, t, sizeof(float), extent);
}

static clattn_status expect_dims(clattn_context *ctx, const char *name, const clattn_tensor *t, const int64_t want[4],
                                 const char *why[4])
{
    for (int i = 0; i < 4; i++)
        if (t->dims[i] != want[i])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld (%s)", name, i,
                                (long long)t->dims[i], (long long)want[i], why[i]);
    return CLATTN_SUCCESS;
}

/* The [B, H·nb, b, last] view of a checked [B, H, L, last] view, or INVALID_ARGUMENT when it has none. */
static clattn_status block_view(clattn_context *ctx, const char *name, const clattn_tensor *t, int64_t nb, int64_t b,
                                clattn_tensor *o)
{
    *o = *t;
    if (nb == 1) return CLATTN_SUCCESS;
    const int64_t H = t->dims[1];
    int64_t want = 0;
    if (H > 1 && (!clattn_mul_i64(nb * b, t->strides[2], &want) || t->strides[1] != want))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: stride 1 (heads) is %lld, expected nb·b·stride 2 = %lld so that [B, H, L, .] splits into "
                            "[B, H·nb, b, .] blocks (H = %lld, nb = %lld, b = %lld)",
                            name, (long long)t->strides[1], (long long)want, (long long)H, (long long)nb, (long long)b);
    o->dims[1] = H * nb;
    o->dims[2] = b;
    o->strides[1] = b * t->strides[2];
    return CLATTN_SUCCESS;
}

static clattn_status validate(clattn_context *ctx, clattn_sinkhorn_plan *p)
{
    clattn_sinkhorn_desc *d = &p->d;
    int64_t ext;
    CLATTN_TRY(check4(ctx, "q", &d->q, &ext));
    CLATTN_TRY(check4(ctx, "k", &d->k, &ext));
    CLATTN_TRY(check4(ctx, "v", &d->v, &ext));
    CLATTN_TRY(check4(ctx, "out", &d->out, &ext));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "out", &d->out));
    p->B = d->q.dims[0], p->H = d->q.dims[1], p->L = d->q.dims[2], p->D = d->q.dims[3], p->Dv = d->v.dims[3];
    if (d->block_size < 1 || d->block_size > p->L || p->L % d->block_size != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "block_size: %lld, expected a divisor of L = %lld (q dim 2; no padding)",
                            (long long)d->block_size, (long long)p->L);
    p->b = d->block_size;
    p->nb = p->L / p->b;
    {
        const int64_t kw[4] = {p->B, p->H, p->L, p->D}, vw[4] = {p->B, p->H, p->L, p->Dv};
        const char *kwhy[4] = {"q's B", "q's H", "q's L", "q's D"}, *vwhy[4] = {"q's B", "q's H", "q's L", "v's Dv"};
        CLATTN_TRY(expect_dims(ctx, "k", &d->k, kw, kwhy));
        CLATTN_TRY(expect_dims(ctx, "v", &d->v, vw, vwhy));
        CLATTN_TRY(expect_dims(ctx, "out", &d->out, vw, vwhy));
    }
    const int64_t rw[4] = {p->B, p->H, p->nb, p->nb};
    const char *rwhy[4] = {"q's B", "q's H", "nb = L / block_size", "nb = L / block_size"};
    CLATTN_TRY(check4(ctx, "sort_logits", &d->sort_logits, &ext));
    CLATTN_TRY(expect_dims(ctx, "sort_logits", &d->sort_logits, rw, rwhy));
    if (d->want_perm) {
        CLATTN_TRY(check4(ctx, "perm", &d->perm, &ext));
        CLATTN_TRY(expect_dims(ctx, "perm", &d->perm, rw, rwhy));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "perm", &d->perm));
    }
    if (d->want_weights) {
        const int64_t ww[4] = {p->B, p->H, p->L, 2 * p->b};
        const char *wwhy[4] = {"q's B", "q's H", "q's L", "2·block_size"};
        CLATTN_TRY(check4(ctx, "weights", &d->weights, &ext));
        CLATTN_TRY(expect_dims(ctx, "weights", &d->weights, ww, wwhy));
        CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "weights", &d->weights));
    }
    if (!(isfinite(d->tau) && d->tau > 0))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "tau: %g, expected finite and > 0", (double)d->tau);
    if (d->sinkhorn_iters < 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "sinkhorn_iters: %d, expected >= 0", d->sinkhorn_iters);
    if (!isfinite(d->scale))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "scale: %g is not finite", (double)d->scale);
    /* workspace sizes: K' B·H·L·D, V' B·H·L·Dv, parts 2·B·H·L·Dv and 2·B·H·L */
    int64_t bhl, n;
    if (!clattn_mul_i64(p->B * p->H, p->L, &bhl) || !clattn_mul_i64(bhl, p->D + 3 * p->Dv + 2, &n) ||
        (uint64_t)n > SIZE_MAX / 4 / sizeof(float))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "q: [%lld, %lld, %lld, %lld] with Dv %lld: the workspace size overflows", (long long)p->B,
                            (long long)p->H, (long long)p->L, (long long)p->D, (long long)p->Dv);
    return CLATTN_SUCCESS;
}

static clattn_status build(clattn_context *ctx, clattn_sinkhorn_plan *p)
{
    const clattn_sinkhorn_desc *d = &p->d;
    const int64_t B = p->B, HN = p->H * p->nb, b = p->b, bhl = B * p->H * p->L;
    p->kp = clattn_malloc((size_t)bhl * (size_t)p->D * sizeof(float));
    p->vp = clattn_malloc((size_t)bhl * (size_t)p->Dv * sizeof(float));
    p->parts_out = clattn_malloc((size_t)bhl * (size_t)p->Dv * 2 * sizeof(float));
    p->parts_lse = clattn_malloc((size_t)bhl * 2 * sizeof(float));
    p->logp = clattn_malloc((size_t)(p->nb * p->nb) * sizeof(double));
    p->pexp = clattn_malloc((size_t)(p->nb * p->nb) * sizeof(double));
    p->acc = clattn_malloc((size_t)(p->b * (p->D > p->Dv ? p->D : p->Dv)) * sizeof(double));
    if (d->want_weights) {
        p->probs = clattn_malloc((size_t)bhl * (size_t)b * 2 * sizeof(float));
        p->mlse = clattn_malloc((size_t)bhl * sizeof(float));
        if (!p->probs || !p->mlse)
            return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sinkhorn_plan_create: out of host memory");
    }
    if (!p->kp || !p->vp || !p->parts_out || !p->parts_lse || !p->logp || !p->pexp || !p->acc)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sinkhorn_plan_create: out of host memory");

    clattn_sdpa_desc s;
    clattn_sdpa_desc_init(&s, B, HN, HN, b, b, p->D, p->Dv);
    CLATTN_TRY(block_view(ctx, "q", &d->q, p->nb, b, &s.q));
    CLATTN_TRY(block_view(ctx, "k", &d->k, p->nb, b, &s.k));
    CLATTN_TRY(block_view(ctx, "v", &d->v, p->nb, b, &s.v));
    s.scale = d->scale;
    s.want_lse = 1;
    s.want_probs = d->want_weights; /* probs: contiguous [B, H·nb, b, b] (init); part 1 at + B·H·L·b */
    /* s.out, s.lse: contiguous [B, H·nb, b, Dv] / [B, H·nb, b] at offset 0 (part 0), set by init */
    CLATTN_TRY(clattn_sdpa_plan_create(&p->own, ctx, &s));
    s.k = clattn_tensor_contiguous(B, HN, b, p->D);
    s.v = clattn_tensor_contiguous(B, HN, b, p->Dv);
    /* s.out, s.lse unchanged: part 1 is passed as parts_out + B·H·L·Dv, parts_lse + B·H·L at execution */
    CLATTN_TRY(clattn_sdpa_plan_create(&p->sorted, ctx, &s));

    clattn_merge_desc m;
    clattn_merge_desc_init(&m, 2, B, p->H, p->L, p->Dv);
    m.out = d->out;
    m.want_lse = d->want_weights; /* lse: contiguous [B, H, L] (init) */
    CLATTN_TRY(clattn_merge_plan_create(&p->merge, ctx, &m));
    return CLATTN_SUCCESS;
}

clattn_status clattn_sinkhorn_plan_create(clattn_sinkhorn_plan **out, clattn_context *ctx,
                                          const clattn_sinkhorn_desc *desc)
{
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_plan_create: plan is NULL");
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_plan_create: ctx is NULL");
    if (!desc) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_plan_create: desc is NULL");
    clattn_sinkhorn_plan *p = clattn_calloc(1, sizeof *p);
    if (!p) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sinkhorn_plan_create: out of host memory");
    p->ctx = ctx;
    clattn_sinkhorn_desc_init_sized(&p->d, sizeof p->d, 1, 1, 1, 1, 1, 1);
    clattn_status st = CLATTN_STRUCT_IN(ctx, clattn_sinkhorn_desc, desc, CLATTN_SINKHORN_DESC_MIN_SIZE, &p->d);
    if (st == CLATTN_SUCCESS) st = validate(ctx, p);
    if (st == CLATTN_SUCCESS) st = build(ctx, p);
    if (st != CLATTN_SUCCESS) {
        clattn_sinkhorn_plan_destroy(p);
        return st;
    }
    *out = p;
    return CLATTN_SUCCESS;
}

void clattn_sinkhorn_plan_destroy(clattn_sinkhorn_plan *p)
{
    if (!p) return;
    clattn_sdpa_plan_destroy(p->own);
    clattn_sdpa_plan_destroy(p->sorted);
    clattn_merge_plan_destroy(p->merge);
    free(p->kp);
    free(p->vp);
    free(p->parts_out);
    free(p->parts_lse);
    free(p->logp);
    free(p->pexp);
    free(p->acc);
    free(p->probs);
    free(p->mlse);
    free(p);
}

const char *clattn_sinkhorn_plan_path(const clattn_sinkhorn_plan *p)
{
    return p ? clattn_sdpa_plan_path(p->own) : "";
}

static inline int64_t at4(const clattn_tensor *t, int64_t a, int64_t b, int64_t c, int64_t e)
{
    return t->offset + a * t->strides[0] + b * t->strides[1] + c * t->strides[2] + e * t->strides[3];
}

/* Log-space Sinkhorn of R[bi, h] / tau into p->logp (nb x nb, row-major). */
static void sinkhorn_log(const clattn_sinkhorn_plan *p, const float *R, int64_t bi, int64_t h)
{
    const clattn_sinkhorn_desc *d = &p->d;
    const int64_t nb = p->nb;
    double *S = p->logp;
    for (int64_t i = 0; i < nb; i++)
        for (int64_t j = 0; j < nb; j++) S[i * nb + j] = (double)R[at4(&d->sort_logits, bi, h, i, j)] / d->tau;
    for (int it = 0; it < d->sinkhorn_iters; it++) {
        for (int pass = 0; pass < 2; pass++) /* 0: rows, 1: columns */
            for (int64_t x = 0; x < nb; x++) {
                const int64_t s0 = pass ? x : x * nb, st = pass ? nb : 1;
                double m = -INFINITY;
                for (int64_t y = 0; y < nb; y++) m = fmax(m, S[s0 + y * st]);
                if (isnan(m) || isinf(m)) { /* NaN propagates; +-inf rows: subtract m itself (inf - inf = NaN) */
                    bool has_nan = false;
                    for (int64_t y = 0; y < nb; y++) has_nan |= isnan(S[s0 + y * st]);
                    const double lse = has_nan ? NAN : m;
                    for (int64_t y = 0; y < nb; y++) S[s0 + y * st] -= lse;
                    continue;
                }
                double sum = 0;
                bool has_nan = false;
                for (int64_t y = 0; y < nb; y++) {
                    has_nan |= isnan(S[s0 + y * st]);
                    sum += exp(S[s0 + y * st] - m);
                }
                const double lse = has_nan ? NAN : m + log(sum);
                for (int64_t y = 0; y < nb; y++) S[s0 + y * st] -= lse;
            }
    }
}

/* dst (contiguous [L, n] of one (b, h)) = the soft-sorted blocks of src's (bi, h) slice, through acc [b·n]. */
static void soft_sort(double *acc, const double *P, int64_t nb, int64_t b, int64_t n, const float *src,
                      const clattn_tensor *t, int64_t bi, int64_t h, float *dst)
{
    for (int64_t i = 0; i < nb; i++) {
        memset(acc, 0, (size_t)(b * n) * sizeof(double));
        for (int64_t j = 0; j < nb; j++) {
            const double w = P[i * nb + j];
            for (int64_t r = 0; r < b; r++) {
                const float *row = src + at4(t, bi, h, j * b + r, 0);
                double *a = acc + r * n;
                for (int64_t c = 0; c < n; c++) a[c] += w * row[c * t->strides[3]];
            }
        }
        for (int64_t x = 0; x < b * n; x++) dst[i * b * n + x] = (float)acc[x];
    }
}

clattn_status clattn_sinkhorn_execute(clattn_sinkhorn_plan *p, const float *q, const float *k, const float *v,
                                      const float *sort_logits, float *out, float *perm)
{
    if (p && p->d.want_weights)
        return clattn_error(p->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_sinkhorn_execute: the plan has want_weights; use clattn_sinkhorn_execute_weights");
    return clattn_sinkhorn_execute_weights(p, q, k, v, sort_logits, out, perm, NULL);
}

clattn_status clattn_sinkhorn_execute_weights(clattn_sinkhorn_plan *p, const float *q, const float *k, const float *v,
                                              const float *sort_logits, float *out, float *perm, float *weights)
{
    if (!p) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_execute: plan is NULL");
    clattn_context *ctx = p->ctx;
    const clattn_sinkhorn_desc *d = &p->d;
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !sort_logits ? "sort_logits" : !out ? "out" : NULL;
    if (missing)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_execute: %s is NULL", missing);
    if (d->want_perm && !perm)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_execute: perm is NULL (want_perm)");
    if (!d->want_perm && perm)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_sinkhorn_execute: perm given but the plan has want_perm 0");
    if (!d->want_weights != !weights)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_execute_weights: weights %s",
                            weights ? "given but the plan has want_weights 0" : "is NULL (want_weights)");
    const int64_t H = p->H, L = p->L, D = p->D, Dv = p->Dv, b = p->b, nb = p->nb;
    for (int64_t bi = 0; bi < p->B; bi++)
        for (int64_t h = 0; h < H; h++) {
            sinkhorn_log(p, sort_logits, bi, h);
            const double *P = p->pexp;
            for (int64_t i = 0; i < nb * nb; i++) p->pexp[i] = exp(p->logp[i]);
            if (perm)
                for (int64_t i = 0; i < nb; i++)
                    for (int64_t j = 0; j < nb; j++) perm[at4(&d->perm, bi, h, i, j)] = (float)P[i * nb + j];
            /* K'_i = sum_j P[i,j] K_j, V'_i likewise: a double accumulator per sorted block, read along the rows */
            soft_sort(p->acc, P, nb, b, D, k, &d->k, bi, h, p->kp + (bi * H + h) * L * D);
            soft_sort(p->acc, P, nb, b, Dv, v, &d->v, bi, h, p->vp + (bi * H + h) * L * Dv);
        }
    clattn_sdpa_buffers sb;
    clattn_sdpa_buffers_init(&sb);
    sb.q = q, sb.k = k, sb.v = v, sb.out = p->parts_out, sb.lse = p->parts_lse, sb.probs = p->probs;
    CLATTN_TRY(clattn_sdpa_execute_buffers(p->own, &sb));
    const int64_t bhl = p->B * H * L;
    sb.k = p->kp, sb.v = p->vp, sb.out = p->parts_out + bhl * Dv, sb.lse = p->parts_lse + bhl;
    if (weights) sb.probs = p->probs + bhl * b;
    CLATTN_TRY(clattn_sdpa_execute_buffers(p->sorted, &sb));
    CLATTN_TRY(clattn_merge_execute(p->merge, p->parts_out, p->parts_lse, out, p->mlse));
    if (weights) /* each part's probabilities times exp(lse_part - lse_merged): the weights of the one softmax */
        for (int64_t bi = 0; bi < p->B; bi++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t r = 0; r < L; r++) {
                    const int64_t row = (bi * H + h) * L + r;
                    for (int part = 0; part < 2; part++) {
                        const double f = exp((double)p->parts_lse[part * bhl + row] - (double)p->mlse[row]);
                        const float *pr = p->probs + part * bhl * b + row * b;
                        for (int64_t t = 0; t < b; t++)
                            weights[at4(&d->weights, bi, h, r, part * b + t)] = (float)(pr[t] * f);
                    }
                }
    return CLATTN_SUCCESS;
}

clattn_status clattn_sinkhorn_weights_expand(int64_t B, int64_t H, int64_t L, int64_t b, const float *weights,
                                             const float *perm, float *dense)
{
    if (!weights || !perm || !dense)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_sinkhorn_weights_expand: %s is NULL",
                            !weights ? "weights" : !perm ? "perm" : "dense");
    int64_t bh, ll, n;
    if (B < 1 || H < 1 || L < 1 || b < 1 || L % b != 0)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_sinkhorn_weights_expand: sizes B %lld, H %lld, L %lld, block_size %lld: expected "
                            ">= 1 with block_size dividing L", (long long)B, (long long)H, (long long)L, (long long)b);
    if (!clattn_mul_i64(B, H, &bh) || !clattn_mul_i64(L, L, &ll) || !clattn_mul_i64(bh, ll, &n) ||
        (uint64_t)n > SIZE_MAX / sizeof(float))
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_sinkhorn_weights_expand: B·H·L·L = %lld·%lld·%lld·%lld overflows", (long long)B,
                            (long long)H, (long long)L, (long long)L);
    const int64_t nb = L / b;
    for (int64_t x = 0; x < bh; x++)
        for (int64_t r = 0; r < L; r++) {
            const int64_t i = r / b;
            const float *w = weights + (x * L + r) * 2 * b;
            const float *P = perm + x * nb * nb + i * nb;
            float *o = dense + (x * L + r) * L;
            for (int64_t j = 0; j < nb; j++)
                for (int64_t t = 0; t < b; t++)
                    o[j * b + t] = (j == i ? w[t] : 0.0f) + w[b + t] * P[j];
        }
    return CLATTN_SUCCESS;
}

clattn_status clattn_sinkhorn(clattn_context *ctx, const clattn_sinkhorn_desc *desc, const float *q, const float *k,
                              const float *v, const float *sort_logits, float *out, float *perm)
{
    clattn_sinkhorn_plan *p;
    CLATTN_TRY(clattn_sinkhorn_plan_create(&p, ctx, desc));
    clattn_status st = clattn_sinkhorn_execute(p, q, k, v, sort_logits, out, perm);
    clattn_sinkhorn_plan_destroy(p);
    return st;
}
