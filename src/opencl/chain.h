/*
 * The OpenCL SDPA kernel chain (chain.c: scores.cl -> softmax.cl -> weighted_sum.cl through an [Lq, Lk]
 * score workspace). Serves plans with probabilities and every plan the fused path (fused.h) does not;
 * backend.c decides between them (the plan's kernel_path). Not installed.
 */
#ifndef CLATTN_CL_CHAIN_H
#define CLATTN_CL_CHAIN_H

#include "opencl.h"

typedef struct clattn_cl_chain clattn_cl_chain;

/* Prepares the chain for p: builds the three kernels with tiles that fit the device, allocates the
 * score workspace (*workspace_bytes). On failure *chain is NULL and *workspace_bytes 0. */
clattn_status clattn_cl_chain_prepare(clattn_context *ctx, clattn_cl_state *cl, const clattn_sdpa_problem *p,
                                      clattn_cl_chain **chain, size_t *workspace_bytes);

/* Enqueues the chain (same contract as the backend's sdpa_run; buffers already checked). */
clattn_status clattn_cl_chain_run(clattn_context *ctx, clattn_cl_state *cl, const clattn_cl_chain *chain,
                                  const clattn_sdpa_problem *p, const clattn_sdpa_bufs *bufs, const clattn_sync *sync);

/* Releases everything; accepts NULL. */
void clattn_cl_chain_release(clattn_cl_chain *chain);

#endif /* CLATTN_CL_CHAIN_H */
