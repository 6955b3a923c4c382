/*
 * The OpenCL SDPA kernel chain (chain.c: scores.cl -> softmax.cl -> weighted_sum.cl through an [Lq, Lk]
 * score workspace). Serves plans with probabilities and every plan the fused path (fused.h) does not;
 * backend.c decides between them (the plan's kernel_path). Not installed.
 */
#ifndef CLATTN_CL_CHAIN_H
#define CLATTN_CL_CHAIN_H

#include "planner.h"

typedef struct clattn_cl_chain clattn_cl_chain;

/* Prepares the chain the planner chose (cfg: cfg->fused false): allocates the score workspace
 * (cfg->workspace_bytes) and takes the scores, softmax and weighted-sum kernels out of kernels[] (built by
 * the planner's probe; set to NULL there). On failure *chain is NULL and kernels[] is untouched. */
clattn_status clattn_cl_chain_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_plan_cfg *cfg,
                                      cl_kernel kernels[CLATTN_CL_SLOTS], clattn_cl_chain **chain);

/* Enqueues the chain (same contract as the backend's sdpa_run; buffers already checked). */
clattn_status clattn_cl_chain_run(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_chain *chain,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync);

/* Releases everything; accepts NULL. */
void clattn_cl_chain_release(clattn_cl_chain *chain);

#endif /* CLATTN_CL_CHAIN_H */
