/*
 * clattn sinkhorn: sparse Sinkhorn attention (clattn.h) on .npy arrays. Part of clattn.c's translation unit
 * (#included there, before the command table), like cmd_additive.c.
 */

static opt sinkhorn_opts[] = {
    {"query", "Q.npy", "required: queries [B,H,L,D], float32 (float16 files are converted)", NULL},
    {"key", "K.npy", "required: keys [B,H,L,D]", NULL},
    {"value", "V.npy", "required: values [B,H,L,Dv]", NULL},
    {"sort-logits", "R.npy", "required: block-sorting logits [B,H,nb,nb] with nb = L / block size", NULL},
    {"block-size", "b", "required: the block size b, a divisor of L", NULL},
    {"out", "O.npy", "required: the output [B,H,L,Dv], float32", NULL},
    {"tau", "T", "Sinkhorn temperature, finite and > 0 (default: 1)", NULL},
    {"iters", "N", "Sinkhorn iterations (row then column normalisation), >= 0 (default: 8)", NULL},
    {"scale", "S", "score scale (default: 1/sqrt(D))", NULL},
    {"perm", "P.npy", "also write the soft permutation P, float32 [B,H,nb,nb] (default: not written)", NULL},
    {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn "
                           "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", NULL},
    {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", NULL},
    {"expect-perm", "REF.npy", "the same for P: print max_abs_err_perm (default: none)", NULL},
    {"tol", "T", "largest max_abs_err accepted by --expect/--expect-perm, >= 0 (default: 1e-4)", NULL},
    {"repeat", "N", "run N times (1..1000): time_ms is the first call, warm_ms the median of the others "
                    "(default: 1)", NULL},
};
static const char sinkhorn_notes[] =
    "Sparse Sinkhorn attention (Tay et al., 2020), non-causal: P = exp(S) with S = R / tau after --iters rounds of\n"
    "row-then-column log-sum-exp normalisation; sorted blocks K'_i = sum_j P[i,j] K_j (V' alike); query block i\n"
    "attends to its own block and K'_i/V'_i under one softmax.\n"
    "--out/--perm are replaced only when the whole run succeeds (--expect included); they must differ.\n";

typedef struct sinkhorn_call {
    clattn_sinkhorn_plan *plan;
    const float *q, *k, *v, *r;
    float *out, *perm;
} sinkhorn_call;

static clattn_status sinkhorn_call_run(void *arg)
{
    const sinkhorn_call *c = arg;
    return clattn_sinkhorn_execute(c->plan, c->q, c->k, c->v, c->r, c->out, c->perm);
}

static int cmd_sinkhorn(int argc, char **argv)
{
    opt *o = sinkhorn_opts;
    const size_t no = sizeof sinkhorn_opts / sizeof sinkhorn_opts[0];
    int rc = parse_options("sinkhorn", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("sinkhorn") : rc;
    static const char *const req[] = {"query", "key", "value", "sort-logits", "block-size", "out", NULL};
    if (require("sinkhorn", o, no, req)) return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    const char *s;
    int64_t bsz = 0, iters = 8;
    double tau = 1.0;
    s = get_opt(o, no, "block-size");
    if (parse_i64("block-size", s, s + strlen(s), &bsz)) return EXIT_USAGE;
    if (bsz < 1) return errorf(EXIT_USAGE, "--block-size: '%s' must be >= 1", s);
    if ((s = get_opt(o, no, "iters"))) {
        if (parse_i64("iters", s, s + strlen(s), &iters)) return EXIT_USAGE;
        if (iters < 0 || iters > INT32_MAX) return errorf(EXIT_USAGE, "--iters: '%s' must be in 0..%d", s, INT32_MAX);
    }
    if ((s = get_opt(o, no, "tau"))) {
        if (parse_double("tau", s, &tau)) return EXIT_USAGE;
        if (!(tau > 0) || !isfinite((float)tau)) return errorf(EXIT_USAGE, "--tau: '%s' must be finite and > 0", s);
    }
    static const char *const outs[] = {"out", "perm", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    farray q = {0}, k = {0}, v = {0}, r = {0};
    float *out = NULL, *perm = NULL;
    clattn_context *ctx = NULL;
    clattn_sinkhorn_plan *plan = NULL;
    char s1[128], s2[128];
    rc = EXIT_FAIL;
    if (load_float(get_opt(o, no, "query"), "--query", 4, &q) || load_float(get_opt(o, no, "key"), "--key", 4, &k) ||
        load_float(get_opt(o, no, "value"), "--value", 4, &v) ||
        load_float(get_opt(o, no, "sort-logits"), "--sort-logits", 4, &r))
        goto done;
    const int64_t B = q.shape[0], H = q.shape[1], L = q.shape[2], D = q.shape[3], Dv = v.shape[3];
    const int64_t nb = L % bsz == 0 ? L / bsz : 0;
    const char *why = NULL;
    if (memcmp(k.shape, q.shape, 4 * sizeof(int64_t)) != 0) why = "K's shape differs from Q's";
    else if (v.shape[0] != B || v.shape[1] != H || v.shape[2] != L) why = "V's [B,H,L] differs from Q's";
    else if (!nb) why = "--block-size does not divide L (Q dim 2)";
    else if (r.shape[0] != B || r.shape[1] != H || r.shape[2] != nb || r.shape[3] != nb)
        why = "--sort-logits is not [B,H,nb,nb] with nb = L / block size";
    if (why) {
        errorf(EXIT_FAIL, "shape mismatch: Q %s, sort logits %s: %s", shape_str(4, q.shape, s1, sizeof s1),
               shape_str(4, r.shape, s2, sizeof s2), why);
        goto done;
    }
    clattn_sinkhorn_desc d;
    clattn_sinkhorn_desc_init(&d, B, H, L, D, Dv, bsz);
    d.tau = (float)tau;
    d.sinkhorn_iters = (int)iters;
    d.scale = ao.scale;
    const int64_t oshape[4] = {B, H, L, Dv}, pshape[4] = {B, H, nb, nb};
    const bool want_perm = get_opt(o, no, "perm") || get_opt(o, no, "expect-perm");
    d.want_perm = want_perm;
    if (!(out = alloc_floats(4, oshape, "output"))) goto done;
    if (want_perm && !(perm = alloc_floats(4, pshape, "permutation"))) goto done;
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;
    double t0 = now_ms();
    clattn_status st = clattn_sinkhorn_plan_create(&plan, ctx, &d);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_sinkhorn_plan_create", st);
        goto done;
    }
    double t1 = now_ms(), first_ms, warm_ms;
    sinkhorn_call call = {plan, q.data, k.data, v.data, r.data, out, perm};
    st = time_calls(sinkhorn_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_sinkhorn_execute", st);
        goto done;
    }
    if (write_float("out", NPY_DTYPE_F32, 4, oshape, out)) goto done;
    if (get_opt(o, no, "perm") && write_float("perm", NPY_DTYPE_F32, 4, pshape, perm)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 4, oshape, NPY_DTYPE_F32);
    printf("path=%s\n", clattn_sinkhorn_plan_path(plan));
    double e_out = 0.0, e_p = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_p = get_opt(o, no, "expect-perm");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, 4, oshape, &e_out)) goto done;
    if (ref_p && check_expect(ref_p, "max_abs_err_perm", perm, 4, pshape, &e_p)) goto done;
    fflush(stdout);
    if (!(e_out <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err %.6g exceeds --tol %g (%s)", e_out, ao.tol, ref_out);
        goto done;
    }
    if (!(e_p <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err_perm %.6g exceeds --tol %g (%s)", e_p, ao.tol, ref_p);
        goto done;
    }
    if (outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    clattn_sinkhorn_plan_destroy(plan);
    clattn_context_destroy(ctx);
    farray_free(&q), farray_free(&k), farray_free(&v), farray_free(&r);
    free(out);
    free(perm);
    return rc;
}

#define SINKHORN_COMMAND                                                                                         \
    {"sinkhorn", "--query Q.npy --key K.npy --value V.npy --sort-logits R.npy --block-size b --out O.npy "     \
                 "[options]",                                                                                  \
     "sparse Sinkhorn attention on [B,H,L,D] .npy arrays", OPTS(sinkhorn_opts), sinkhorn_notes, cmd_sinkhorn}
