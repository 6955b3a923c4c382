/*
 * Paged KV cache append (clattn_kv_append_* in clattn.h, src/core/kv_cache.c): the validated problem, the
 * buffers of one execution and the plan object, which backends receive through clattn_backend_i's
 * kv_append_prepare / kv_append_run / kv_append_release (backend.h). Not installed.
 *
 * Row t of sequence b goes to logical position pos = positions[b] + t, i.e. row pos % block_size of pool
 * block table[b * max_blocks + pos / block_size]; element d of kv head h of that row is
 *   k_cache.offset + blk*k_cache.strides[0] + (pos%block_size)*k_cache.strides[1] + h*k_cache.strides[2]
 *                  + d*k_cache.strides[3]
 * (likewise v_cache with Dv), read from k_new.offset + b*k_new.strides[0] + h*k_new.strides[1]
 * + t*k_new.strides[2] + d*k_new.strides[3].
 */
#ifndef CLATTN_CORE_KV_CACHE_H
#define CLATTN_CORE_KV_CACHE_H

#include "backend.h"

/* Every size >= 1 and <= INT32_MAX; max_blocks * block_size <= INT32_MAX. Views 4-D with the caller's dims,
 * strides and offsets (elements of data_type; size-1 dims stride 0). */
typedef struct clattn_kv_append_problem {
    int64_t B, Hkv, Lnew, D, Dv, block_size, max_blocks, num_blocks;
    clattn_tensor k_new, v_new, k_cache, v_cache; /* 4-D views as in the public desc */
    clattn_dtype data_type;                       /* same type for new rows and pools */
    int64_t k_new_extent, v_new_extent, k_cache_extent, v_cache_extent, block_table_extent; /* elements */
} clattn_kv_append_problem;

/* Buffers of one append: block_table int32 [B, max_blocks], positions int32 [B]; the rest in data_type. */
typedef struct clattn_kv_append_bufs {
    clattn_buf k_new, v_new, block_table, positions, k_cache, v_cache;
} clattn_kv_append_bufs;

struct clattn_kv_append_plan {
    clattn_context *ctx;
    clattn_kv_append_problem p;
    void *backend_data; /* owned by the backend; released by kv_append_release */
};

/* Bytes of one element of a validated data_type. */
static inline size_t clattn_kv_elem_size(clattn_dtype t)
{
    return clattn_dtype_size(t);
}

/* INVALID_ARGUMENT "kv_block_size: ..." unless block_size is a power of two in 16..2^30 (SDPA and append). */
clattn_status clattn_kv_check_block_size(clattn_context *ctx, int64_t block_size);

/* Checks max_blocks_per_seq (1..INT32_MAX, max_blocks * block_size <= INT32_MAX) and sets *table_extent =
 * B * max_blocks, the block table's int32 elements (bounded by SIZE_MAX / 8). INVALID_ARGUMENT naming it. */
clattn_status clattn_kv_check_max_blocks(clattn_context *ctx, int64_t max_blocks, int64_t block_size, int64_t B,
                                         int64_t *table_extent);

/* Checks that exactly the buffers an append needs are given (all six; names fn in the message). */
clattn_status clattn_kv_append_check_bindings(clattn_context *ctx, const char *fn, const void *k_new,
                                              const void *v_new, const void *block_table, const void *positions,
                                              const void *k_cache, const void *v_cache);

/* Checks host-visible positions and block-table entries of an append (see clattn_kv_append_execute). */
clattn_status clattn_kv_append_check_positions(clattn_context *ctx, const clattn_kv_append_problem *p,
                                               const int32_t *block_table, const int32_t *positions);

#endif /* CLATTN_CORE_KV_CACHE_H */
