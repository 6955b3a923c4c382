/*
 * The fused OpenCL SDPA path (kernels/fused.cl on CPU devices, kernels/fused_gpu.cl on GPU devices:
 * path "fused-gpu"): one kernel computes scores, online softmax and
 * P·V per block of query rows; long key ranges (decode, or Mesa llvmpipe's loop limit) are split into
 * partitions across work-groups and merged by a second kernel. Serves plans without probabilities;
 * the planner (planner.c) decides between it and the kernel chain. Not installed.
 */
#ifndef CLATTN_CL_FLASH_H
#define CLATTN_CL_FLASH_H

#include "planner.h"

typedef struct clattn_cl_fused clattn_cl_fused;


/* Prepares the fused path the planner chose (cfg->fused): allocates the partials' workspace
 * (cfg->workspace_bytes, none when it is 0) and takes the fused and merge kernels out of kernels[] (built
 * by the planner's probe; set to NULL there). On failure *fl is NULL and kernels[] is untouched. */
clattn_status clattn_cl_fused_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_plan_cfg *cfg,
                                      cl_kernel kernels[CLATTN_CL_SLOTS], clattn_cl_fused **fl);

/* Enqueues the fused path (same contract as the backend's sdpa_run; buffers already checked). */
clattn_status clattn_cl_fused_run(clattn_context *ctx, clattn_cl_state *cl, clattn_cl_fused *fl,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync);

/* Releases everything; accepts NULL. */
void clattn_cl_fused_release(clattn_cl_fused *fl);

#endif /* CLATTN_CL_FLASH_H */
