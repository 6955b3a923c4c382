/*
 * clattn OpenCL interop: contexts over the caller's OpenCL objects, and plans enqueued on cl_mem buffers
 * with the OpenCL (num_wait, wait_list, event) convention. Include it instead of (or after) clattn.h when
 * the program uses OpenCL itself; programs that pass host pointers need only clattn.h.
 *
 * This header includes <CL/cl.h> and defines nothing of OpenCL's: choose CL_TARGET_OPENCL_VERSION (clattn
 * needs 1.2 or later; the functions below use only OpenCL 1.2 types) before including it, as for any
 * OpenCL program, and link the OpenCL ICD loader (CMake: OpenCL::OpenCL; pkg-config: OpenCL) yourself.
 * The semantics of every plan are those documented in clattn.h.
 */
#ifndef CLATTN_OPENCL_H
#define CLATTN_OPENCL_H

#include "clattn.h"

#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Creates a context over the caller's OpenCL objects. clattn retains them (clRetain*) and releases its
 * references in clattn_context_destroy(); the caller keeps its own. Work is enqueued on @p queue, which
 * must be an in-order queue of @p context on @p device.
 * @param[out] ctx  receives the context; set to NULL on failure (message: clattn_last_error(NULL)).
 * Its configuration (kernel path, cache folder, log, ...) comes from the environment variables, read here;
 * to pass options, use clattn_context_create_from_cl_opts().
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (a NULL argument, a queue of another context or
 *         device, an out-of-order queue, an environment value that does not parse); CLATTN_ERROR_OPENCL;
 *         CLATTN_ERROR_OUT_OF_MEMORY.
 * @warning The caller owns *ctx and releases it with clattn_context_destroy().
 */
CLATTN_API clattn_status clattn_context_create_from_cl(clattn_context **ctx, cl_context context,
                                                       cl_device_id device, cl_command_queue queue);

/**
 * clattn_context_create_from_cl() with options (kernel path, host ISA, cache folder, log; see
 * clattn_context_options): clattn_context_create_from_cl() is this with @p opts NULL, where every setting
 * comes from its environment variable. opts->device must be NULL and opts->num_threads 0 (the caller's
 * device is used).
 * @return as clattn_context_create_from_cl(); also CLATTN_ERROR_INVALID_ARGUMENT for opts->struct_size out of
 *         range, opts->device or num_threads set, or a setting that does not parse (the message names it);
 *         CLATTN_ERROR_UNSUPPORTED for a struct_size above this library's with a nonzero field it lacks.
 */
CLATTN_API clattn_status clattn_context_create_from_cl_opts(clattn_context **ctx, cl_context context,
                                                            cl_device_id device, cl_command_queue queue,
                                                            const clattn_context_options *opts);

/**
 * The context's OpenCL objects; each output may be NULL (not wanted). On a host-path context all three are
 * set to NULL. Not retained: do not release them; valid while the context lives.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (ctx NULL).
 */
CLATTN_API clattn_status clattn_context_get_cl(const clattn_context *ctx, cl_context *context,
                                               cl_device_id *device, cl_command_queue *queue);

/**
 * Enqueues the plan on the context's OpenCL queue with cl_mem buffers (zero copy). Only on an OpenCL
 * context. Each cl_mem holds the view of the same name (clattn.h, clattn_sdpa_desc): element 0 of the
 * buffer is element 0 of the view's offset arithmetic; a q/k/v/out buffer holds (offset + reach) elements
 * of the plan's data type, mask uint8 (BOOL) or float32 / binary16 / bfloat16 (ADDITIVE, per desc.mask_data_type;
 * 2 bytes per element for the 16-bit ones), kv_lengths int32 [B] (or NULL), probs float32 (or NULL
 * unless desc.want_probs). The call returns after enqueueing; it first waits for the num_wait events of
 * wait_list, and *event (if non-NULL; a new reference the caller releases) completes when out and probs
 * are written. Values of kv_lengths are not validated on the host here (they are clamped to [0, Lk] on
 * the device). Nothing is retained after the returned event completes.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan NULL, a missing or unexpected buffer, a buffer
 *         smaller than its view, num_wait and wait_list disagreeing); CLATTN_ERROR_UNSUPPORTED (a host-path
 *         context: use clattn_sdpa_execute); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_sdpa_enqueue(clattn_sdpa_plan *plan, cl_mem q, cl_mem k, cl_mem v,
                                             cl_mem mask, cl_mem kv_lengths, cl_mem out, cl_mem probs,
                                             cl_uint num_wait, const cl_event *wait_list,
                                             cl_event *event);

/**
 * The cl_mem buffers of one enqueued SDPA execution, by name: the arguments of clattn_sdpa_enqueue() plus the
 * outputs appended since 0.2.0 (lse). Initialise with clattn_sdpa_cl_buffers_init() (struct_size, every
 * buffer NULL; see "## ABI" in clattn.h), then set what the plan needs. Each cl_mem holds its view as for
 * clattn_sdpa_enqueue(); lse: float32, (offset + reach) of desc.lse elements.
 */
typedef struct clattn_sdpa_cl_buffers {
    /** sizeof(clattn_sdpa_cl_buffers) as the caller was compiled; set by clattn_sdpa_cl_buffers_init(). */
    size_t struct_size;
    cl_mem q, k, v, mask, kv_lengths, out, probs;
    cl_mem lse; /**< float32 [B, Hq, Lq] through desc.lse; NULL unless desc.want_lse */
    /** Appended after 0.2.0: int32 [B, max_blocks_per_seq] (row-major, contiguous) of a CLATTN_KV_PAGED plan;
     *  NULL otherwise. Entries are not read back on the host: a row whose keys reach an entry outside
     *  0..num_blocks-1 gets unspecified output (those keys are not read). */
    cl_mem block_table;
} clattn_sdpa_cl_buffers;

/** Sets b->struct_size = @p struct_size and every buffer to NULL (bytes beyond the library's sizeof, up to
 *  struct_size, zeroed). Accepts NULL (does nothing). */
CLATTN_API void clattn_sdpa_cl_buffers_init_sized(clattn_sdpa_cl_buffers *b, size_t struct_size);

/** clattn_sdpa_cl_buffers_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_sdpa_cl_buffers_init(clattn_sdpa_cl_buffers *b)
{
    clattn_sdpa_cl_buffers_init_sized(b, sizeof *b);
}

/**
 * clattn_sdpa_enqueue() with the buffers named in a struct, which also carries lse. Same ordering, events
 * and statuses as clattn_sdpa_enqueue(); *event completes when out, probs and lse are written. Also
 * CLATTN_ERROR_INVALID_ARGUMENT for bufs NULL or bufs->struct_size out of range (or a block_table cl_mem
 * smaller than B x max_blocks_per_seq int32), and CLATTN_ERROR_UNSUPPORTED for a struct_size above this
 * library's with a nonzero field it lacks.
 */
CLATTN_API clattn_status clattn_sdpa_enqueue_buffers(clattn_sdpa_plan *plan, const clattn_sdpa_cl_buffers *bufs,
                                                     cl_uint num_wait, const cl_event *wait_list, cl_event *event);

/**
 * Enqueues a merge plan (clattn_merge_plan_create(), clattn.h) on the context's queue with cl_mem buffers
 * (zero copy): parts_out / out hold (offset + reach) elements of their views in desc.data_type, parts_lse /
 * lse float32 (lse NULL unless desc.want_lse). In place: out may be the same cl_mem as parts_out with out's
 * view equal to one part's slice (likewise lse and parts_lse). Waits for the num_wait events of wait_list;
 * *event (if non-NULL; a new reference the caller releases) completes when out and lse are written.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan NULL, a missing or unexpected buffer, a buffer
 *         smaller than its view, num_wait and wait_list disagreeing); CLATTN_ERROR_UNSUPPORTED (a host-path
 *         context: use clattn_merge_execute); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_merge_enqueue(clattn_merge_plan *plan, cl_mem parts_out, cl_mem parts_lse,
                                              cl_mem out, cl_mem lse, cl_uint num_wait,
                                              const cl_event *wait_list, cl_event *event);

/**
 * The cl_mem buffers of one enqueued append (clattn_kv_append_plan_create(), clattn.h). Initialise with
 * clattn_kv_append_cl_buffers_init() (struct_size, every buffer NULL; see "## ABI" in clattn.h). k_new, v_new,
 * k_cache, v_cache hold (offset + reach) elements of their views in desc.data_type; block_table int32
 * [B, max_blocks_per_seq]; positions int32 [B]. k_cache and v_cache may be the same cl_mem (interleaved views).
 */
typedef struct clattn_kv_append_cl_buffers {
    /** sizeof(clattn_kv_append_cl_buffers) as the caller was compiled; set by clattn_kv_append_cl_buffers_init(). */
    size_t struct_size;
    cl_mem k_new, v_new, block_table, positions, k_cache, v_cache;
} clattn_kv_append_cl_buffers;

/** Sets b->struct_size = @p struct_size and every buffer to NULL (bytes beyond the library's sizeof, up to
 *  struct_size, zeroed). Accepts NULL (does nothing). */
CLATTN_API void clattn_kv_append_cl_buffers_init_sized(clattn_kv_append_cl_buffers *b, size_t struct_size);

/** clattn_kv_append_cl_buffers_init_sized() with struct_size = sizeof as compiled here. */
static inline void clattn_kv_append_cl_buffers_init(clattn_kv_append_cl_buffers *b)
{
    clattn_kv_append_cl_buffers_init_sized(b, sizeof *b);
}

/**
 * Enqueues an append plan on the context's queue with cl_mem buffers (zero copy; the append kernel writes the
 * rows on the device, no host round trip). positions and block_table are not read back on the host: a row
 * whose position is negative, at or past max_blocks_per_seq x kv_block_size, or whose block entry is outside
 * 0..num_blocks-1 is not written (nothing else is). Waits for the num_wait events of wait_list; *event (if
 * non-NULL; a new reference the caller releases) completes when the pools are written.
 * @return CLATTN_SUCCESS; CLATTN_ERROR_INVALID_ARGUMENT (plan or bufs NULL, bufs->struct_size out of range, a
 *         missing buffer, a buffer smaller than its view, num_wait and wait_list disagreeing);
 *         CLATTN_ERROR_UNSUPPORTED (a host-path context: use clattn_kv_append_execute; a struct_size above this
 *         library's with a nonzero field it lacks); CLATTN_ERROR_OPENCL; CLATTN_ERROR_OUT_OF_MEMORY.
 */
CLATTN_API clattn_status clattn_kv_append_enqueue(clattn_kv_append_plan *plan, const clattn_kv_append_cl_buffers *bufs,
                                                  cl_uint num_wait, const cl_event *wait_list, cl_event *event);

#ifdef __cplusplus
}
#endif
#endif /* CLATTN_OPENCL_H */
