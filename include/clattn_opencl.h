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
 * of the plan's data type, mask uint8 or float32, kv_lengths int32 [B] (or NULL), probs float32 (or NULL
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

#ifdef __cplusplus
}
#endif
#endif /* CLATTN_OPENCL_H */
