/*
 * clattn_mpi.h — attention over a sequence sharded across MPI ranks (libclattn_mpi, built when CMake finds
 * MPI; link -lclattn_mpi -lclattn and MPI, e.g. with mpicc). Requires an MPI library (Open MPI, MPICH) the
 * caller initialises (MPI_Init / MPI_Init_thread) and finalises; clattn never calls either.
 *
 * Ring attention (Liu, Zaharia, Abbeel, 2023, "Ring Attention with Blockwise Transformers for Near-Infinite
 * Context"): each rank keeps its shard of the queries; the key/value shards travel once around the ring of
 * the communicator's ranks (rank r sends to r + 1 and receives from r - 1, mod P), each transfer a
 * non-blocking send/receive overlapped with the attention of the shard already there. Each step's partial
 * result — out and log-sum-exp over that key shard (clattn_sdpa_desc.want_lse) — is merged into the
 * running one with clattn_merge_execute() (max-shifted log-sum-exp; see clattn_merge_desc in clattn.h), so
 * the result equals single-process SDPA over the whole sequence within float32 rounding.
 *
 * Sharding of the global sequence (positions 0 .. P·q_len - 1 for the queries, 0 .. P·kv_len - 1 for the
 * keys), the same on every rank:
 *   CLATTN_RING_CONTIGUOUS  rank r holds queries r·q_len + i and keys r·kv_len + j (i < q_len, j < kv_len).
 *   CLATTN_RING_STRIPED     rank r holds positions r + i·P and r + j·P (Brandon et al., 2023, "Striped
 *                           Attention"): under a causal mask every rank then does the same work, where the
 *                           contiguous sharding leaves rank P - 1 all of it and rank 0 one block.
 * Causal (causal = 1): key position <= query position, over the global positions (self-attention: q_len ==
 * kv_len required; top-left and bottom-right coincide). With contiguous sharding a rank skips the shards
 * of later ranks entirely (no computation, the transfer still passes them on); with striped sharding every
 * step computes: shard s <= r with a top-left causal mask, shard s > r with the diagonal excluded (key j
 * allowed for query i iff j < i).
 * Key padding (use_kv_lengths): kv_lengths[b] (int32, the same array on every rank) is a GLOBAL key count;
 * keys at global positions >= kv_lengths[b] are ignored. In both shardings the allowed keys of a shard are
 * a prefix of it, passed to SDPA as its kv_lengths.
 * Attention mask (mask_kind BOOL or ADDITIVE, as clattn_sdpa_desc): each rank passes the rows of ITS
 * queries over ALL P·kv_len global keys, [Bm, Hm, Lqm, P·kv_len] with Bm in {1, B}, Hm in {1, Hq}, Lqm in
 * {1, q_len}, contiguous; the ring cuts the columns of each key shard as a view (striped: stride P).
 * Rows with no allowed key output zeros and lse -inf, as SDPA.
 *
 * Layouts (per rank, contiguous, C order): q [B, Hq, q_len, D], k [B, Hkv, kv_len, D], v [B, Hkv, kv_len, Dv],
 * out [B, Hq, q_len, Dv], lse float32 [B, Hq, q_len]; float32, or binary16 (uint16_t) for CLATTN_DTYPE_F16
 * (q, k, v, out; the arithmetic and the transfers' merge in float32, K/V sent as binary16). Grouped-query
 * attention as SDPA: query head h reads kv head h / (Hq / Hkv).
 *
 * Errors are collective: every rank checks its arguments and that its descriptor agrees with rank 0's,
 * then the ranks agree (MPI_Allreduce) before any transfer, so a bad shard on one rank makes the call fail
 * on EVERY rank with the same status and a message "rank R: ..." naming the rank. A failure during the
 * ring (a device error on one rank) is agreed on the same way at the end; the rank keeps forwarding shards
 * meanwhile, so no rank hangs. MPI calls run on a duplicate of comm whose error handler returns
 * (MPI_ERRORS_RETURN); a failed MPI call gives CLATTN_ERROR_COMMUNICATION with MPI's error text (MPI does
 * not promise that every rank sees it). Never MPI_Abort.
 * Memory: two K/V shard buffers for the ring and two [B, Hq, q_len, Dv] + [B, Hq, q_len] float32/dtype
 * result buffers, per call (host memory; the context's device copies what each SDPA step needs).
 */
#ifndef CLATTN_MPI_H
#define CLATTN_MPI_H

#include <mpi.h>

#include "clattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How the global sequence is sharded over the ranks (see the top of this file). Values are pinned. */
typedef enum clattn_ring_sharding {
    CLATTN_RING_CONTIGUOUS = 0,
    CLATTN_RING_STRIPED = 1
} clattn_ring_sharding;

/** What one clattn_ring_sdpa() call did on this rank (clattn_ring_desc.stats); times in milliseconds of
 *  CLOCK_MONOTONIC. compute_ms + merge_ms is this rank's work, wait_ms the communication the ring could not
 *  hide (time in MPI_Waitall after the step's work), so imbalance between ranks shows in compute_ms. */
typedef struct clattn_ring_stats {
    double total_ms;      /**< the whole call */
    double compute_ms;    /**< the steps' SDPA calls */
    double merge_ms;      /**< the merges of the steps' partial results */
    double wait_ms;       /**< waiting for the K/V transfers after a step's work was done */
    int steps_computed;   /**< steps that ran SDPA (contiguous causal skips later shards) */
    int steps;            /**< ring steps (the communicator's size) */
    uint64_t bytes_sent;  /**< K/V bytes this rank sent */
} clattn_ring_stats;

/** One rank's shard sizes and the options; identical on every rank (checked). See "## ABI" in clattn.h. */
typedef struct clattn_ring_desc {
    /** sizeof(clattn_ring_desc) as the caller was compiled; set by clattn_ring_desc_init(). */
    size_t struct_size;
    int64_t batch, num_heads, num_kv_heads; /**< B, Hq, Hkv (Hq a multiple of Hkv) */
    int64_t q_len, kv_len;                  /**< queries and keys PER RANK */
    int64_t head_dim, v_head_dim;           /**< D, Dv */
    float scale;                            /**< 0 = 1/sqrt(D); finite */
    float softcap;                          /**< 0 = off, else > 0 (before masks, as clattn_sdpa_desc) */
    int causal;                             /**< nonzero: global causal mask (q_len == kv_len) */
    clattn_ring_sharding sharding;
    int use_kv_lengths;                     /**< nonzero: kv_lengths (global key counts) are passed */
    clattn_mask_kind mask_kind;             /**< NONE, BOOL (uint8) or ADDITIVE (float32) */
    int64_t mask_dims[3];                   /**< Bm, Hm, Lqm of the local mask rows (see the top) */
    int want_lse;                           /**< nonzero: write lse [B, Hq, q_len] */
    clattn_dtype data_type;                 /**< CLATTN_DTYPE_F32 (default), CLATTN_DTYPE_F16 or CLATTN_DTYPE_BF16 */
    clattn_ring_stats *stats;               /**< optional (NULL default): filled by each call on this rank;
                                                 not compared between ranks */
} clattn_ring_desc;

/** Sets desc->struct_size and the defaults: the sizes given, scale 0, no softcap, not causal, contiguous
 *  sharding, no kv_lengths, no mask (mask_dims 1, 1, 1), no lse, float32. Accepts NULL. */
CLATTN_API void clattn_ring_desc_init_sized(clattn_ring_desc *desc, size_t struct_size, int64_t batch,
                                                int64_t num_heads, int64_t num_kv_heads, int64_t q_len,
                                                int64_t kv_len, int64_t head_dim, int64_t v_head_dim);

/** clattn_ring_desc_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_ring_desc_init(clattn_ring_desc *desc, int64_t batch, int64_t num_heads,
                                         int64_t num_kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                                         int64_t v_head_dim)
{
    clattn_ring_desc_init_sized(desc, sizeof *desc, batch, num_heads, num_kv_heads, q_len, kv_len, head_dim,
                                v_head_dim);
}

/**
 * Ring attention: collective over @p comm (every rank calls it with its own shards; see the top).
 * @param ctx   this rank's context (any device; clattn_context_create); its last error gets the message.
 * @param comm  the caller's communicator (duplicated for the call, not modified).
 * @param desc  identical on every rank.
 * @param q, k, v  this rank's shards (host memory, layouts above; not retained).
 * @param mask  this rank's mask rows over all keys, or NULL when desc->mask_kind is NONE.
 * @param kv_lengths  int32 [B] global key counts (0 .. P·kv_len), or NULL unless use_kv_lengths.
 * @param out   [B, Hq, q_len, Dv] written on success (unspecified after a failure).
 * @param lse   float32 [B, Hq, q_len] when want_lse, else NULL.
 * @return CLATTN_SUCCESS on every rank, or the same error status on every rank: the first failing
 *         rank's CLATTN_ERROR_INVALID_ARGUMENT (NULL or bad argument, a desc that differs from rank 0's,
 *         causal with q_len != kv_len, a kv_lengths element outside 0..P·kv_len), CLATTN_ERROR_UNSUPPORTED,
 *         CLATTN_ERROR_OUT_OF_MEMORY, or a device status (CLATTN_ERROR_OPENCL, ...);
 *         CLATTN_ERROR_COMMUNICATION when an MPI call failed.
 */
CLATTN_API clattn_status clattn_ring_sdpa(clattn_context *ctx, MPI_Comm comm, const clattn_ring_desc *desc,
                                              const void *q, const void *k, const void *v, const void *mask,
                                              const int32_t *kv_lengths, void *out, float *lse);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_MPI_H */
