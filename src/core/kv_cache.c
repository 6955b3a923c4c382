/*
 * Paged KV cache append (clattn_kv_append_* in clattn.h): validates a clattn_kv_append_desc into a
 * clattn_kv_append_problem (core/kv_cache.h), lets the backend prepare the plan (kv_append_prepare), checks
 * host positions and block tables, and binds host pointers to executions (cl_mem buffers are bound by
 * clattn_kv_append_enqueue in src/opencl/interop.c, through the backend's kv_append_run).
 *
 *   k_new [B, Hkv, Lnew, D]   v_new [B, Hkv, Lnew, Dv]   k_cache [NB, bs, Hkv, D]   v_cache [NB, bs, Hkv, Dv]
 *   block_table int32 [B, max_blocks]   positions int32 [B]
 */
#include "alloc.h"
#include "kv_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clattn_kv_append_desc_init_sized(clattn_kv_append_desc *desc, size_t struct_size, int64_t batch,
                                      int64_t num_kv_heads, int64_t new_len, int64_t head_dim, int64_t v_head_dim,
                                      int64_t num_blocks, int64_t block_size, int64_t max_blocks_per_seq)
{
    if (!desc) return;
    clattn_kv_append_desc d;
    memset(&d, 0, sizeof d);
    d.k_new = clattn_tensor_contiguous(batch, num_kv_heads, new_len, head_dim);
    d.v_new = clattn_tensor_contiguous(batch, num_kv_heads, new_len, v_head_dim);
    d.k_cache = clattn_tensor_contiguous(num_blocks, block_size, num_kv_heads, head_dim);
    d.v_cache = clattn_tensor_contiguous(num_blocks, block_size, num_kv_heads, v_head_dim);
    d.kv_block_size = block_size;
    d.max_blocks_per_seq = max_blocks_per_seq;
    d.data_type = CLATTN_DTYPE_F32;
    clattn_struct_out(desc, struct_size, &d, sizeof d);
}

void clattn_kv_append_buffers_init_sized(clattn_kv_append_buffers *b, size_t struct_size)
{
    if (!b) return;
    clattn_struct_out(b, struct_size, NULL, sizeof(clattn_kv_append_buffers));
}

/* Checks a 4-D view and that dims[i] == want[i] wherever want[i] >= 0 (what[i] names the expectation). */
static clattn_status check_view(clattn_context *ctx, const char *name, clattn_tensor *t, size_t es, int64_t *extent,
                                const int64_t want[4], const char *const what[4])
{
    CLATTN_TRY(clattn_tensor_expect_ndim(ctx, name, t, 4));
    CLATTN_TRY(clattn_tensor_check(ctx, name, t, es, extent));
    for (int i = 0; i < 4; i++)
        if (want[i] >= 0 && t->dims[i] != want[i])
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld (%s)", name, i,
                                (long long)t->dims[i], (long long)want[i], what[i]);
    return CLATTN_SUCCESS;
}

static clattn_status append_validate(clattn_context *ctx, const clattn_kv_append_desc *d, clattn_kv_append_problem *p)
{
    memset(p, 0, sizeof *p);
    if (!clattn_dtype_valid((int)d->data_type))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, CLATTN_DTYPE_INVALID_FMT, (int)d->data_type);
    p->data_type = d->data_type;
    const size_t es = clattn_kv_elem_size(d->data_type);
    static const char *const none[4] = {"", "", "", ""};
    const int64_t any[4] = {-1, -1, -1, -1};
    p->k_new = d->k_new;
    CLATTN_TRY(check_view(ctx, "k_new", &p->k_new, es, &p->k_new_extent, any, none));
    p->B = p->k_new.dims[0];
    p->Hkv = p->k_new.dims[1];
    p->Lnew = p->k_new.dims[2];
    p->D = p->k_new.dims[3];
    static const char *const vn_what[4] = {"batch, k_new dim 0", "num_kv_heads, k_new dim 1", "new_len, k_new dim 2",
                                           ""};
    const int64_t vn[4] = {p->B, p->Hkv, p->Lnew, -1};
    p->v_new = d->v_new;
    CLATTN_TRY(check_view(ctx, "v_new", &p->v_new, es, &p->v_new_extent, vn, vn_what));
    p->Dv = p->v_new.dims[3];

    CLATTN_TRY(clattn_kv_check_block_size(ctx, d->kv_block_size));
    p->block_size = d->kv_block_size;
    static const char *const kc_what[4] = {"", "kv_block_size", "num_kv_heads, k_new dim 1", "head_dim, k_new dim 3"};
    const int64_t kc[4] = {-1, p->block_size, p->Hkv, p->D};
    p->k_cache = d->k_cache;
    CLATTN_TRY(check_view(ctx, "k_cache", &p->k_cache, es, &p->k_cache_extent, kc, kc_what));
    p->num_blocks = p->k_cache.dims[0];
    static const char *const vc_what[4] = {"num_blocks, k_cache dim 0", "kv_block_size", "num_kv_heads, k_new dim 1",
                                           "v_head_dim, v_new dim 3"};
    const int64_t vc[4] = {p->num_blocks, p->block_size, p->Hkv, p->Dv};
    p->v_cache = d->v_cache;
    CLATTN_TRY(check_view(ctx, "v_cache", &p->v_cache, es, &p->v_cache_extent, vc, vc_what));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "k_cache", &p->k_cache));
    CLATTN_TRY(clattn_tensor_check_no_overlap(ctx, "v_cache", &p->v_cache));
    CLATTN_TRY(clattn_kv_check_max_blocks(ctx, d->max_blocks_per_seq, p->block_size, p->B, &p->block_table_extent));
    p->max_blocks = d->max_blocks_per_seq;
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_check_block_size(clattn_context *ctx, int64_t block_size)
{
    if (block_size < 16 || block_size > ((int64_t)1 << 30) || (block_size & (block_size - 1)) != 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "kv_block_size: %lld, expected a power of two >= 16 (and <= 2^30)", (long long)block_size);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_check_max_blocks(clattn_context *ctx, int64_t max_blocks, int64_t block_size, int64_t B,
                                         int64_t *table_extent)
{
    int64_t lk;
    if (max_blocks < 1 || max_blocks > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "max_blocks_per_seq: %lld, expected 1..%d",
                            (long long)max_blocks, INT32_MAX);
    if (!clattn_mul_i64(max_blocks, block_size, &lk) || lk > INT32_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "max_blocks_per_seq: %lld x kv_block_size %lld keys per sequence exceeds %d",
                            (long long)max_blocks, (long long)block_size, INT32_MAX);
    if (!clattn_mul_i64(B, max_blocks, table_extent) ||
        (uint64_t)*table_extent > (uint64_t)SIZE_MAX / 2 / sizeof(int32_t))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "max_blocks_per_seq: a block table of batch %lld x %lld entries overflows the addressable "
                            "size",
                            (long long)B, (long long)max_blocks);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_append_plan_create(clattn_kv_append_plan **out, clattn_context *ctx,
                                           const clattn_kv_append_desc *desc)
{
    static const char fn[] = "clattn_kv_append_plan_create";
    if (!out) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    *out = NULL;
    if (!ctx) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ctx is NULL", fn);
    if (!desc) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    clattn_kv_append_desc d; /* the caller's desc over the defaults, whatever layout it was compiled with */
    clattn_kv_append_desc_init_sized(&d, sizeof d, 1, 1, 1, 1, 1, 1, 16, 1);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_kv_append_desc, desc, CLATTN_KV_APPEND_DESC_MIN_SIZE, &d));
    clattn_kv_append_plan *plan = clattn_calloc(1, sizeof *plan);
    if (!plan) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    plan->ctx = ctx;
    clattn_status st = append_validate(ctx, &d, &plan->p);
    if (st == CLATTN_SUCCESS && (!ctx->be || !ctx->be->kv_append_prepare || !ctx->be->kv_append_run))
        st = clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "%s: the %s backend cannot append to a paged KV cache", fn,
                          ctx->be ? ctx->be->name : "(none)");
    if (st == CLATTN_SUCCESS) st = ctx->be->kv_append_prepare(ctx, plan);
    if (st != CLATTN_SUCCESS) {
        clattn_kv_append_plan_destroy(plan);
        return st;
    }
    clattn_log(ctx, CLATTN_LOG_INFO, "kv append plan [B %lld, Hkv %lld, Lnew %lld, D %lld, Dv %lld, blocks %lld x %lld, "
               "max_blocks %lld, %s]", (long long)plan->p.B, (long long)plan->p.Hkv, (long long)plan->p.Lnew,
               (long long)plan->p.D, (long long)plan->p.Dv, (long long)plan->p.num_blocks,
               (long long)plan->p.block_size, (long long)plan->p.max_blocks,
               clattn_dtype_name(plan->p.data_type));
    *out = plan;
    return CLATTN_SUCCESS;
}

void clattn_kv_append_plan_destroy(clattn_kv_append_plan *plan)
{
    if (!plan) return;
    if (plan->backend_data && plan->ctx->be && plan->ctx->be->kv_append_release)
        plan->ctx->be->kv_append_release(plan->ctx, plan);
    free(plan);
}

clattn_status clattn_kv_append_check_bindings(clattn_context *ctx, const char *fn, const void *k_new,
                                              const void *v_new, const void *block_table, const void *positions,
                                              const void *k_cache, const void *v_cache)
{
    const char *missing = !k_new         ? "k_new"
                          : !v_new       ? "v_new"
                          : !block_table ? "block_table"
                          : !positions   ? "positions"
                          : !k_cache     ? "k_cache"
                          : !v_cache     ? "v_cache"
                                         : NULL;
    if (missing) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, missing);
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_append_check_positions(clattn_context *ctx, const clattn_kv_append_problem *p,
                                               const int32_t *block_table, const int32_t *positions)
{
    const int64_t cap = p->max_blocks * p->block_size; /* <= INT32_MAX (validated) */
    for (int64_t b = 0; b < p->B; b++) {
        const int64_t pos = positions[b];
        if (pos < 0 || pos + p->Lnew > cap)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "positions[%lld] is %lld: rows %lld..%lld pass max_blocks_per_seq x kv_block_size = %lld",
                                (long long)b, (long long)pos, (long long)pos, (long long)(pos + p->Lnew - 1),
                                (long long)cap);
        const int32_t *row = block_table + b * p->max_blocks;
        for (int64_t i = pos / p->block_size; i <= (pos + p->Lnew - 1) / p->block_size; i++)
            if (row[i] < 0 || row[i] >= p->num_blocks)
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "block_table[%lld][%lld] is %d, expected 0..%lld (num_blocks - 1)", (long long)b,
                                    (long long)i, (int)row[i], (long long)(p->num_blocks - 1));
    }
    return CLATTN_SUCCESS;
}

/* A staged device copy of one host array (owned by the execution). */
typedef struct kstaged {
    clattn_buf buf;
    bool owned;
} kstaged;

static clattn_status kstage(clattn_context *ctx, kstaged *s, const void *src, size_t bytes)
{
    CLATTN_TRY(ctx->be->buf_alloc(ctx, bytes, &s->buf));
    s->owned = true;
    if (src) CLATTN_TRY(ctx->be->buf_write(ctx, &s->buf, 0, src, bytes));
    return CLATTN_SUCCESS;
}

clattn_status clattn_kv_append_execute(clattn_kv_append_plan *plan, const clattn_kv_append_buffers *bufs)
{
    static const char fn[] = "clattn_kv_append_execute";
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    clattn_context *ctx = plan->ctx;
    if (!bufs) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: bufs is NULL", fn);
    clattn_kv_append_buffers u; /* the caller's struct over all-NULL defaults, whatever layout it was compiled with */
    clattn_kv_append_buffers_init(&u);
    CLATTN_TRY(CLATTN_STRUCT_IN(ctx, clattn_kv_append_buffers, bufs, CLATTN_KV_APPEND_BUFFERS_MIN_SIZE, &u));
    const clattn_kv_append_problem *p = &plan->p;
    CLATTN_TRY(clattn_kv_append_check_bindings(ctx, fn, u.k_new, u.v_new, u.block_table, u.positions, u.k_cache,
                                               u.v_cache));
    CLATTN_TRY(clattn_kv_append_check_positions(ctx, p, u.block_table, u.positions));
    const clattn_sync none = CLATTN_SYNC_NONE;
    if (ctx->be->host_memory) {
        const clattn_kv_append_bufs b = {{(void *)u.k_new, NULL},     {(void *)u.v_new, NULL},
                                         {(void *)u.block_table, NULL}, {(void *)u.positions, NULL},
                                         {u.k_cache, NULL},            {u.v_cache, NULL}};
        return ctx->be->kv_append_run(ctx, plan, &b, &none);
    }
    /* A device backend: copy everything in (the pools whole, so that reading them back keeps every row the
     * append does not write) and the pools back out. One pointer for both pools (interleaved views): one copy,
     * so the second read-back cannot undo the first's rows. */
    const size_t es = clattn_kv_elem_size(p->data_type);
    const bool shared = u.k_cache == u.v_cache;
    const int64_t pool_ext = shared && p->v_cache_extent > p->k_cache_extent ? p->v_cache_extent : p->k_cache_extent;
    kstaged sk = {0}, sv = {0}, st_ = {0}, sp = {0}, skc = {0}, svc = {0};
    clattn_status st = kstage(ctx, &sk, u.k_new, (size_t)p->k_new_extent * es);
    if (!st) st = kstage(ctx, &sv, u.v_new, (size_t)p->v_new_extent * es);
    if (!st) st = kstage(ctx, &st_, u.block_table, (size_t)p->block_table_extent * sizeof(int32_t));
    if (!st) st = kstage(ctx, &sp, u.positions, (size_t)p->B * sizeof(int32_t));
    if (!st) st = kstage(ctx, &skc, u.k_cache, (size_t)pool_ext * es);
    if (!st && !shared) st = kstage(ctx, &svc, u.v_cache, (size_t)p->v_cache_extent * es);
    if (!st) {
        const clattn_kv_append_bufs b = {sk.buf, sv.buf, st_.buf, sp.buf, skc.buf, shared ? skc.buf : svc.buf};
        st = ctx->be->kv_append_run(ctx, plan, &b, &none);
    }
    if (!st) st = ctx->be->buf_read(ctx, &skc.buf, 0, u.k_cache, (size_t)pool_ext * es);
    if (!st && !shared) st = ctx->be->buf_read(ctx, &svc.buf, 0, u.v_cache, (size_t)p->v_cache_extent * es);
    kstaged *all[] = {&sk, &sv, &st_, &sp, &skc, &svc};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->owned) ctx->be->buf_free(ctx, &all[i]->buf);
    return st;
}
