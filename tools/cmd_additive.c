/*
 * clattn additive: additive (Bahdanau) attention (clattn.h) on .npy arrays. Part of clattn.c's translation
 * unit (#included there, before the command table), like cmd_views.c.
 */

static opt additive_opts[] = {
    {"query", "Q.npy", "required: queries [B,Lq,Dq], float32 (float16 files are converted)", NULL},
    {"key", "K.npy", "required: keys [B,Lk,Dk]", NULL},
    {"value", "V.npy", "required: values [B,Lk,Dv]", NULL},
    {"w-q", "WQ.npy", "required: query projection [A,Dq] (nn.Linear weight)", NULL},
    {"w-k", "WK.npy", "required: key projection [A,Dk]", NULL},
    {"w-e", "WE.npy", "required: the energy vector v_a [A] (or [1,A])", NULL},
    {"bias", "B.npy", "the bias b [A] inside the tanh (default: none)", NULL},
    {"out", "O.npy", "required: the output [B,Lq,Dv], float32", NULL},
    {"mask", "M.npy", "bool (true = may attend) or float additive (-inf = not allowed) mask of rank 2..3, "
                      "broadcast to [B,Lq,Lk] (default: none)", NULL},
    {"causal", "top-left|bottom-right", "causal mask aligned to that corner of the [Lq,Lk] scores (default: none)",
     NULL},
    {"kv-lengths", "N1,N2,...", "valid keys per batch item, one value in 0..Lk per item (default: all Lk)", NULL},
    {"probs", "P.npy", "also write the attention weights, float32 [B,Lq,Lk] (default: not written)", NULL},
    {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn "
                           "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", NULL},
    {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", NULL},
    {"expect-probs", "REF.npy", "the same for the weights: print max_abs_err_probs (default: none)", NULL},
    {"tol", "T", "largest max_abs_err accepted by --expect/--expect-probs, >= 0 (default: 1e-4)", NULL},
    {"repeat", "N", "run N times (1..1000): time_ms is the first call, warm_ms the median of the others "
                    "(default: 1)", NULL},
};
static const char additive_notes[] =
    "e_ij = w_e . tanh(W_q q_i + W_k k_j + b), softmax over the allowed keys j, out_i = sum_j p_ij v_j\n"
    "(Bahdanau et al., 2015). Masks, --causal and --kv-lengths as for clattn sdpa.\n"
    "--out/--probs are replaced only when the whole run succeeds (--expect included); they must differ.\n";

typedef struct additive_call {
    clattn_additive_plan *plan;
    const float *q, *k, *v, *wq, *wk, *we, *bias;
    const void *mask;
    const int32_t *kvl;
    float *out, *probs;
} additive_call;

static clattn_status additive_call_run(void *arg)
{
    const additive_call *c = arg;
    return clattn_additive_execute(c->plan, c->q, c->k, c->v, c->mask, c->kvl, c->wq, c->wk, c->we, c->bias, c->out,
                                   c->probs);
}

static int cmd_additive(int argc, char **argv)
{
    opt *o = additive_opts;
    const size_t no = sizeof additive_opts / sizeof additive_opts[0];
    int rc = parse_options("additive", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("additive") : rc;
    static const char *const req[] = {"query", "key", "value", "w-q", "w-k", "w-e", "out", NULL};
    if (require("additive", o, no, req)) return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    static const char *const outs[] = {"out", "probs", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    farray q = {0}, k = {0}, v = {0}, wq = {0}, wk = {0}, we = {0}, bias = {0};
    void *mask = NULL;
    int32_t *kvl = NULL;
    float *out = NULL, *probs = NULL;
    clattn_context *ctx = NULL;
    clattn_additive_plan *plan = NULL;
    char s1[128], s2[128];
    rc = EXIT_FAIL;
    if (load_float(get_opt(o, no, "query"), "--query", 3, &q) || load_float(get_opt(o, no, "key"), "--key", 3, &k) ||
        load_float(get_opt(o, no, "value"), "--value", 3, &v) || load_float(get_opt(o, no, "w-q"), "--w-q", 2, &wq) ||
        load_float(get_opt(o, no, "w-k"), "--w-k", 2, &wk) || load_float(get_opt(o, no, "w-e"), "--w-e", 0, &we) ||
        (get_opt(o, no, "bias") && load_float(get_opt(o, no, "bias"), "--bias", 0, &bias)))
        goto done;
    const int64_t B = q.shape[0], Lq = q.shape[1], Dq = q.shape[2], Lk = k.shape[1], Dk = k.shape[2], Dv = v.shape[2];
    const int64_t A = wq.shape[0];
    const char *why = NULL;
    if (k.shape[0] != B || v.shape[0] != B) why = "batch (dim 0) of K or V differs from Q's";
    else if (v.shape[1] != Lk) why = "V dim 1 differs from K's length";
    else if (wq.shape[1] != Dq) why = "--w-q dim 1 is not Q's feature dim";
    else if (wk.shape[0] != A || wk.shape[1] != Dk) why = "--w-k is not [A, K's feature dim]";
    else if (we.count != A) why = "--w-e does not have A elements";
    else if (bias.data && bias.count != A) why = "--bias does not have A elements";
    if (why) {
        errorf(EXIT_FAIL, "shape mismatch: Q %s, K %s, W_q %s: %s", shape_str(3, q.shape, s1, sizeof s1),
               shape_str(3, k.shape, s2, sizeof s2), wq.path, why);
        goto done;
    }
    if ((rc = parse_kv_lengths(get_opt(o, no, "kv-lengths"), B, Lk, &kvl))) goto done;
    rc = EXIT_FAIL;
    clattn_additive_desc d;
    clattn_additive_desc_init(&d, B, Lq, Lk, Dq, Dk, Dv, A);
    d.has_bias = bias.data != NULL;
    d.causal = ao.causal;
    d.use_kv_lengths = kvl != NULL;
    if (get_opt(o, no, "mask")) {
        clattn_tensor m4;
        /* [B, Lq, Lk] as [1, B, Lq, Lk]: a rank-3 mask then broadcasts by NumPy rules against [B, Lq, Lk] */
        if (load_mask(get_opt(o, no, "mask"), 1, B, Lq, Lk, &d.mask_kind, &m4, &mask, NULL)) goto done;
        const int64_t md[3] = {m4.dims[1], m4.dims[2], m4.dims[3]}, ms[3] = {m4.strides[1], m4.strides[2], m4.strides[3]};
        d.mask = clattn_tensor_view(3, md, ms, m4.offset);
    }
    const int64_t oshape[3] = {B, Lq, Dv}, pshape[3] = {B, Lq, Lk};
    const bool want_probs = get_opt(o, no, "probs") || get_opt(o, no, "expect-probs");
    d.want_probs = want_probs;
    if (!(out = alloc_floats(3, oshape, "output"))) goto done;
    if (want_probs && !(probs = alloc_floats(3, pshape, "weights"))) goto done;
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;
    double t0 = now_ms();
    clattn_status st = clattn_additive_plan_create(&plan, ctx, &d);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_additive_plan_create", st);
        goto done;
    }
    double t1 = now_ms(), first_ms, warm_ms;
    additive_call call = {plan, q.data, k.data, v.data, wq.data, wk.data, we.data, bias.data, mask, kvl, out, probs};
    st = time_calls(additive_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_additive_execute", st);
        goto done;
    }
    if (write_float("out", NPY_DTYPE_F32, 3, oshape, out)) goto done;
    if (get_opt(o, no, "probs") && write_float("probs", NPY_DTYPE_F32, 3, pshape, probs)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 3, oshape, NPY_DTYPE_F32);
    printf("path=%s\n", clattn_additive_plan_path(plan));
    double e_out = 0.0, e_p = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_p = get_opt(o, no, "expect-probs");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, 3, oshape, &e_out)) goto done;
    if (ref_p && check_expect(ref_p, "max_abs_err_probs", probs, 3, pshape, &e_p)) goto done;
    fflush(stdout);
    if (!(e_out <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err %.6g exceeds --tol %g (%s)", e_out, ao.tol, ref_out);
        goto done;
    }
    if (!(e_p <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err_probs %.6g exceeds --tol %g (%s)", e_p, ao.tol, ref_p);
        goto done;
    }
    if (outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    clattn_additive_plan_destroy(plan);
    clattn_context_destroy(ctx);
    farray_free(&q), farray_free(&k), farray_free(&v), farray_free(&wq), farray_free(&wk), farray_free(&we);
    farray_free(&bias);
    free(mask);
    free(kvl);
    free(out);
    free(probs);
    return rc;
}

#define ADDITIVE_COMMAND                                                                                         \
    {"additive", "--query Q.npy --key K.npy --value V.npy --w-q WQ.npy --w-k WK.npy --w-e WE.npy --out O.npy "  \
                 "[options]",                                                                                  \
     "additive (Bahdanau) attention on [B,L,D] .npy arrays", OPTS(additive_opts), additive_notes, cmd_additive}
