/*
 * Global-local (Longformer) attention on OpenCL (path "global-local"; clattn.h, core/global_local.h): the two
 * launches of kernels/global_local.cl (local rows, then the global rows of each (b, h); a global row's output overwrites nothing the
 * local launch wrote, since the local kernel skips global rows) on the context's in-order queue, with a
 * per-execution workspace of B·H·(L·(G + 2w + 1) + G·L) floats (the score rows).
 */
#include "launch.h"
#include "opencl.h"

#include "global_local.h"

clattn_status clattn_cl_global_local_run(clattn_context *ctx, const clattn_global_local_problem *p,
                                         const clattn_global_local_bufs *bf);

clattn_status clattn_cl_global_local_run(clattn_context *ctx, const clattn_global_local_problem *p,
                                         const clattn_global_local_bufs *bf)
{
    clattn_cl_state *cl = ctx->backend_data;
    clattn_status st = CLATTN_SUCCESS;
    cl_kernel kl = NULL, kg = NULL;
    cl_mem S = NULL, S2 = NULL;
    const clattn_sync none = CLATTN_SYNC_NONE;
    clattn_cl_launch l = clattn_cl_launch_begin(cl->queue, &none);
    CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "global_local.cl", "", "clattn_gl_local", &kl));
    const cl_long B = p->B, H = p->H, L = p->L, D = p->D, Dv = p->Dv, w = p->w, G = p->G, W = p->W;
    const cl_float scale = p->scale;
    const cl_long BH = B * H;
    const cl_int want = p->want_probs;
    CLATTN_CL_CREATE(S, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * H * L * (G + W)) * sizeof(float),
                     NULL);
    const clattn_cl_view qv = clattn_cl_view_of(bf->q.dev, &p->q, true), kv = clattn_cl_view_of(bf->k.dev, &p->k, true),
                         vv = clattn_cl_view_of(bf->v.dev, &p->v, true), ov = clattn_cl_view_of(bf->out.dev, &p->out, true),
                         pv = clattn_cl_view_of(bf->probs.dev, &p->probs, p->want_probs);
    const cl_mem gidx = bf->gidx.dev, slot = bf->gslot.dev;
    {
        const clattn_karg a[] = {KVIEW(qv),   KVIEW(kv), KVIEW(vv), KVIEW(ov), KARG(want), KVIEW(pv), KARG(gidx),
                                 KARG(slot),  KARG(H),   KARG(L),   KARG(D),   KARG(Dv),   KARG(w),   KARG(G),
                                 KARG(scale), KARG(S),   KARG(BH)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, kl, "clattn_gl_local", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)L, (size_t)(B * H), 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, kl, "clattn_gl_local", g, NULL));
    }
    if (G > 0) {
        CLATTN_GOTO_IF(clattn_cl_kernel_create(ctx, cl, "global_local.cl", "", "clattn_gl_global", &kg));
        CLATTN_CL_CREATE(S2, clCreateBuffer, cl->context, CL_MEM_READ_WRITE, (size_t)(B * H * G * L) * sizeof(float),
                         NULL);
        const bool gp = p->use_global_proj;
        const clattn_cl_view qgv = clattn_cl_view_of(gp ? bf->q_g.dev : bf->q.dev, &p->q, true),
                             kgv = clattn_cl_view_of(gp ? bf->k_g.dev : bf->k.dev, &p->k, true),
                             vgv = clattn_cl_view_of(gp ? bf->v_g.dev : bf->v.dev, &p->v, true),
                             gpv = clattn_cl_view_of(bf->gprobs.dev, &p->gprobs, p->want_probs);
        const clattn_karg a[] = {KVIEW(qgv), KVIEW(kgv), KVIEW(vgv), KVIEW(ov), KARG(want), KVIEW(gpv), KARG(gidx),
                                 KARG(H),    KARG(L),    KARG(D),    KARG(Dv), KARG(G),    KARG(scale), KARG(S2), KARG(BH)};
        CLATTN_GOTO_IF(clattn_cl_set_args(ctx, kg, "clattn_gl_global", a, sizeof a / sizeof a[0]));
        const size_t g[3] = {(size_t)(B * H), 1, 1};
        CLATTN_GOTO_IF(clattn_cl_launch_kernel(ctx, &l, kg, "clattn_gl_global", g, NULL));
    }
    CLATTN_CL_CHECK(clFinish(cl->queue));
cleanup:
    st = clattn_cl_launch_end(ctx, &l, &none, st);
    if (kl) clReleaseKernel(kl);
    if (kg) clReleaseKernel(kg);
    if (S) clReleaseMemObject(S);
    if (S2) clReleaseMemObject(S2);
    return st;
}
