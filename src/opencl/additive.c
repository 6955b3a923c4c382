/*
 * Additive (Bahdanau) attention on OpenCL (path "additive"; clattn.h, core/additive.h): the three launches of
 * kernels/additive.cl (projections, scores, masked softmax + P·V) on the context's in-order queue, with a
 * per-execution workspace of B·(Lq + Lk)·A + B·Lq·Lk floats (the projections and the score rows: never the
 * [Lq, Lk, A] tensor).
 */
#include "launch.h"
#include "opencl.h"

#include "additive.h"

clattn_status clattn_cl_additive_run(clattn_context *ctx, const clattn_additive_problem *p,
                                     const clattn_additive_bufs *bf);

clattn_status clattn_cl_additive_run(clattn_context *ctx, const clattn_additive_problem *p,
                                     const clattn_additive_bufs *bf)
{
    static const char *const names[3] = {"clattn_additive_project", "clattn_additive_scores",
                                         "clattn_additive_softmax_pv"};
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel k[3] = {NULL, NULL, NULL};
    cl_mem pq = NULL, pk = NULL, S = NULL;
    const clattn_sync none = CLATTN_SYNC_NONE;
    clattn_cl_launch l = clattn_cl_launch_begin(cl->queue, &none);
    for (int i = 0; i < 3; i++) CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "additive.cl", "", names[i], &k[i]));
    const cl_long B = p->B, Lq = p->Lq, Lk = p->Lk, Dq = p->Dq, Dk = p->Dk, Dv = p->Dv, A = p->A;
    CLATTN_CL_CREATE(pq, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * Lq * A) * sizeof(float), NULL);
    CLATTN_CL_CREATE(pk, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * Lk * A) * sizeof(float), NULL);
    CLATTN_CL_CREATE(S, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * Lq * Lk) * sizeof(float), NULL);
    const cl_mem qm = bf->q.dev, km = bf->k.dev, vm = bf->v.dev, om = bf->out.dev, wq = bf->w_q.dev,
                 wk = bf->w_k.dev, we = bf->w_e.dev, bias = bf->bias.dev, kvl = bf->kv_lengths.dev;
    const cl_mem bmask = p->mask_kind == CLATTN_MASK_BOOL ? bf->mask.dev : NULL,
                 amask = p->mask_kind == CLATTN_MASK_ADDITIVE ? bf->mask.dev : NULL, pm = bf->probs.dev;
    const cl_long q_off = p->q.offset, q0 = p->q.strides[0], q1 = p->q.strides[1], q2 = p->q.strides[2];
    const cl_long k_off = p->k.offset, k0 = p->k.strides[0], k1 = p->k.strides[1], k2 = p->k.strides[2];
    const cl_long v_off = p->v.offset, v0 = p->v.strides[0], v1 = p->v.strides[1], v2 = p->v.strides[2];
    const cl_long o_off = p->out.offset, o0 = p->out.strides[0], o1 = p->out.strides[1], o2 = p->out.strides[2];
    const bool hm = p->mask_kind != CLATTN_MASK_NONE, hp = p->want_probs;
    const cl_long m_off = hm ? p->mask.offset : 0, m0 = hm ? p->mask.strides[0] : 0, m1 = hm ? p->mask.strides[1] : 0,
                  m2 = hm ? p->mask.strides[2] : 0;
    const cl_long p_off = hp ? p->probs.offset : 0, p0 = hp ? p->probs.strides[0] : 0,
                  p1 = hp ? p->probs.strides[1] : 0, p2 = hp ? p->probs.strides[2] : 0;
    const cl_int has_bias = p->has_bias, causal = (cl_int)p->causal, mask_kind = (cl_int)p->mask_kind,
                 use_kvl = p->use_kv_lengths, want_probs = p->want_probs;
    {
        const clattn_karg a[] = {KARG(qm),   KARG(q_off), KARG(q0), KARG(q1),   KARG(q2), KARG(km), KARG(k_off),
                                 KARG(k0),   KARG(k1),    KARG(k2), KARG(wq),   KARG(wk), KARG(bias), KARG(has_bias),
                                 KARG(B),    KARG(Lq),    KARG(Lk), KARG(Dq),   KARG(Dk), KARG(A),  KARG(pq),
                                 KARG(pk)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[0], names[0], a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)A, (size_t)(B * (Lq + Lk)), 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[0], names[0], g, NULL));
    }
    {
        const clattn_karg a[] = {KARG(pq),    KARG(pk),    KARG(we), KARG(A),  KARG(Lq),   KARG(Lk),
                                 KARG(causal), KARG(mask_kind), KARG(bmask), KARG(amask), KARG(m_off), KARG(m0),
                                 KARG(m1),    KARG(m2),    KARG(use_kvl), KARG(kvl), KARG(S)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[1], names[1], a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)Lk, (size_t)Lq, (size_t)B};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[1], names[1], g, NULL));
    }
    {
        const clattn_karg a[] = {KARG(S),    KARG(vm),  KARG(v_off), KARG(v0), KARG(v1),  KARG(v2),
                                 KARG(om),   KARG(o_off), KARG(o0),  KARG(o1), KARG(o2),  KARG(want_probs),
                                 KARG(pm),   KARG(p_off), KARG(p0),  KARG(p1), KARG(p2),  KARG(Lq),
                                 KARG(Lk),   KARG(Dv)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, k[2], names[2], a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)Lq, (size_t)B, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, k[2], names[2], g, NULL));
    }
    CLATTN_CL_CHECK(clFinish(cl->queue));
cleanup:
    st = clattn_cl_launch_end(ctx, &l, &none, st);
    for (int i = 0; i < 3; i++)
        if (k[i]) clReleaseKernel(k[i]);
    if (pq) clReleaseMemObject(pq);
    if (pk) clReleaseMemObject(pk);
    if (S) clReleaseMemObject(S);
    return st;
}
