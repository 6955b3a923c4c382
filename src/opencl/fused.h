/*
 * The fused OpenCL SDPA path (kernels/fused.cl): one kernel computes scores, online softmax and
 * P·V per block of query rows; long key ranges (decode, or Mesa llvmpipe's loop limit) are split into
 * partitions across work-groups and merged by a second kernel. Serves plans without probabilities;
 * backend.c decides between it and the kernel chain (the plan's kernel_path: clattn_sdpa_problem.kernel_path). Not installed.
 */
#ifndef CLATTN_CL_FLASH_H
#define CLATTN_CL_FLASH_H

#include "opencl.h"

typedef struct clattn_cl_fused clattn_cl_fused;


/* Prepares the fused path for plan->p when `path` and the problem allow it: on success *fl is the
 * prepared path (kernels built, workspace allocated, *workspace_bytes set) or NULL when the chain
 * should serve the plan (probabilities wanted, D or Dv outside [1, 256], kernel_path CHAIN, or
 * auto on a device where the fused path is not enabled). */
clattn_status clattn_cl_fused_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_sdpa_problem *p,
                                      clattn_kernel_path path, clattn_cl_fused **fl, size_t *workspace_bytes);

/* Enqueues the fused path (same contract as the backend's sdpa_run; buffers already checked). */
clattn_status clattn_cl_fused_run(clattn_context *ctx, clattn_cl_state *cl, clattn_cl_fused *fl,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync);

/* Releases everything; accepts NULL. */
void clattn_cl_fused_release(clattn_cl_fused *fl);

#endif /* CLATTN_CL_FLASH_H */
