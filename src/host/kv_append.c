/*
 * Paged KV cache append on the host (clattn_kv_append_*, core/kv_cache.h): copies row t of each sequence's
 * k_new / v_new (each kv head's D / Dv elements) into row pos % block_size of block
 * block_table[b][pos / block_size], pos = positions[b] + t. Core has checked every position and block
 * entry; elements are copied bit for bit (float32 or binary16), nothing else in the pools is touched.
 * Rows are few per step (decode appends one per sequence), so this runs on the calling thread.
 */
#include "host.h"
#include "kv_cache.h"

#include <string.h>

/* Copies n elements of es bytes from src (stride ss) to dst (stride ds), strides in elements. */
static void copy_row(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n, size_t es)
{
    if (ds == 1 && ss == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    for (int64_t d = 0; d < n; d++) memcpy(dst + (size_t)(d * ds) * es, src + (size_t)(d * ss) * es, es);
}

static void append_one(const clattn_kv_append_problem *p, const clattn_tensor *nw, const char *src,
                       const clattn_tensor *cache, char *dst, int64_t dim, const int32_t *table,
                       const int32_t *positions, size_t es)
{
    for (int64_t b = 0; b < p->B; b++)
        for (int64_t t = 0; t < p->Lnew; t++) {
            const int64_t pos = (int64_t)positions[b] + t;
            const int64_t blk = table[b * p->max_blocks + pos / p->block_size];
            for (int64_t h = 0; h < p->Hkv; h++) {
                const int64_t so = nw->offset + b * nw->strides[0] + h * nw->strides[1] + t * nw->strides[2];
                const int64_t dof = cache->offset + blk * cache->strides[0] +
                                    (pos % p->block_size) * cache->strides[1] + h * cache->strides[2];
                copy_row(dst + (size_t)dof * es, cache->strides[3], src + (size_t)so * es, nw->strides[3], dim, es);
            }
        }
}

clattn_status host_kv_append_prepare(clattn_context *ctx, clattn_kv_append_plan *plan)
{
    (void)ctx;
    (void)plan; /* nothing to build */
    return CLATTN_SUCCESS;
}

clattn_status host_kv_append_run(clattn_context *ctx, clattn_kv_append_plan *plan,
                                        const clattn_kv_append_bufs *b, const clattn_sync *sync)
{
    (void)ctx;
    (void)sync; /* synchronous */
    const clattn_kv_append_problem *p = &plan->p;
    const size_t es = clattn_kv_elem_size(p->data_type);
    append_one(p, &p->k_new, b->k_new.host, &p->k_cache, b->k_cache.host, p->D, b->block_table.host,
               b->positions.host, es);
    append_one(p, &p->v_new, b->v_new.host, &p->v_cache, b->v_cache.host, p->Dv, b->block_table.host,
               b->positions.host, es);
    return CLATTN_SUCCESS;
}
