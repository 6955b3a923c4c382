/*
 * clattn global-local: global-local (Longformer) attention (clattn.h) on .npy arrays. Part of clattn.c's
 * translation unit (#included there, before the command table), like cmd_views.c.
 */

static opt global_local_opts[] = {
    {"query", "Q.npy", "required: queries [B,H,L,D], float32 (float16 files are converted)", NULL},
    {"key", "K.npy", "required: keys [B,H,L,D]", NULL},
    {"value", "V.npy", "required: values [B,H,L,Dv]", NULL},
    {"out", "O.npy", "required: the output [B,H,L,Dv], float32", NULL},
    {"local-window", "W", "required: one-sided window w >= 0: key j allowed for query i iff |i-j| <= w (Longformer's "
                    "attention_window / 2)", NULL},
    {"globals", "I1,I2,...", "global token indices in 0..L-1, the same for every batch item (default: none)", NULL},
    {"global-query", "QG.npy", "Longformer's separate global projections: queries of the global rows [B,H,L,D] "
                               "(with --global-key and --global-value; default: the global rows use Q, K, V)", NULL},
    {"global-key", "KG.npy", "keys the global rows attend over [B,H,L,D]", NULL},
    {"global-value", "VG.npy", "values of the global rows [B,H,L,Dv]", NULL},
    {"probs", "P.npy", "also write the attention weights expanded to dense float32 [B,H,L,L] "
                       "(clattn_global_local_expand; default: not written)", NULL},
    {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn "
                           "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", NULL},
    {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", NULL},
    {"expect-probs", "REF.npy", "the same for the dense weights: print max_abs_err_probs (default: none)", NULL},
    {"tol", "T", "largest max_abs_err accepted by --expect/--expect-probs, >= 0 (default: 1e-4)", NULL},
    {"repeat", "N", "run N times (1..1000): time_ms is the first call, warm_ms the median of the others "
                    "(default: 1)", NULL},
};
static const char global_local_notes[] =
    "Longformer's attention (Beltagy et al., 2020): a sliding window plus global tokens that attend to and are\n"
    "attended by every position. The library returns the weights in a compact layout (clattn.h); --probs\n"
    "expands them. --out/--probs are replaced only when the whole run succeeds; they must differ.\n";

typedef struct global_local_call {
    clattn_global_local_plan *plan;
    const float *q, *k, *v, *qg, *kg, *vg;
    const int32_t *gidx;
    float *out, *probs, *gprobs;
} global_local_call;

static clattn_status global_local_call_run(void *arg)
{
    const global_local_call *c = arg;
    return clattn_global_local_execute(c->plan, c->q, c->k, c->v, c->gidx, c->qg, c->kg, c->vg, c->out, c->probs,
                                       c->gprobs);
}

static int cmd_global_local(int argc, char **argv)
{
    opt *o = global_local_opts;
    const size_t no = sizeof global_local_opts / sizeof global_local_opts[0];
    int rc = parse_options("global-local", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("global-local") : rc;
    static const char *const req[] = {"query", "key", "value", "out", "local-window", NULL};
    if (require("global-local", o, no, req)) return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    int64_t window = 0;
    const char *s = get_opt(o, no, "local-window");
    if (parse_i64("local-window", s, s + strlen(s), &window)) return EXIT_USAGE;
    if (window < 0) return errorf(EXIT_USAGE, "--local-window: %lld, expected >= 0", (long long)window);
    const int ngp = !!get_opt(o, no, "global-query") + !!get_opt(o, no, "global-key") + !!get_opt(o, no, "global-value");
    if (ngp != 0 && ngp != 3)
        return errorf(EXIT_USAGE, "--global-query, --global-key and --global-value go together (%d of 3 given)", ngp);
    int64_t *gl = NULL;
    size_t G = 0;
    if (get_opt(o, no, "globals") && parse_int_list("globals", get_opt(o, no, "globals"), &gl, &G)) return EXIT_USAGE;
    static const char *const outs[] = {"out", "probs", NULL};
    if ((rc = outputs_open(o, no, outs))) {
        free(gl);
        return rc;
    }
    farray q = {0}, k = {0}, v = {0}, qg = {0}, kg = {0}, vg = {0};
    int32_t *gidx = NULL;
    float *out = NULL, *probs = NULL, *gprobs = NULL, *dense = NULL;
    clattn_context *ctx = NULL;
    clattn_global_local_plan *plan = NULL;
    char s1[128], s2[128];
    rc = EXIT_FAIL;
    if (load_float(get_opt(o, no, "query"), "--query", 4, &q) || load_float(get_opt(o, no, "key"), "--key", 4, &k) ||
        load_float(get_opt(o, no, "value"), "--value", 4, &v) ||
        (ngp && (load_float(get_opt(o, no, "global-query"), "--global-query", 4, &qg) ||
                 load_float(get_opt(o, no, "global-key"), "--global-key", 4, &kg) ||
                 load_float(get_opt(o, no, "global-value"), "--global-value", 4, &vg))))
        goto done;
    const int64_t B = q.shape[0], H = q.shape[1], L = q.shape[2], D = q.shape[3], Dv = v.shape[3];
    bool same = true;
    for (int d = 0; d < 4; d++) {
        same = same && k.shape[d] == q.shape[d] && (d == 3 || v.shape[d] == q.shape[d]);
        if (ngp) same = same && qg.shape[d] == q.shape[d] && kg.shape[d] == q.shape[d] && vg.shape[d] == v.shape[d];
    }
    if (!same) {
        errorf(EXIT_FAIL, "shape mismatch: Q %s, K %s (K, and the global arrays, must match Q; V and the global V "
               "may differ in the last dim only)", shape_str(4, q.shape, s1, sizeof s1), shape_str(4, k.shape, s2, sizeof s2));
        goto done;
    }
    for (size_t c = 0; c < G; c++)
        if (gl[c] < -1 || gl[c] >= L) {
            rc = errorf(EXIT_USAGE, "--globals: %lld is outside -1..%lld (L - 1)", (long long)gl[c], (long long)(L - 1));
            goto done;
        }
    if (G) {
        gidx = malloc((size_t)B * G * sizeof *gidx);
        if (!gidx) goto done;
        for (int64_t b = 0; b < B; b++)
            for (size_t c = 0; c < G; c++) gidx[b * (int64_t)G + (int64_t)c] = (int32_t)gl[c];
    }
    const int64_t oshape[4] = {B, H, L, Dv}, dshape[4] = {B, H, L, L};
    const bool want_probs = get_opt(o, no, "probs") || get_opt(o, no, "expect-probs");
    const int64_t cols = (int64_t)G + 2 * window + 1, pshape[4] = {B, H, L, cols}, gshape[4] = {B, H, (int64_t)G, L};
    if (!(out = alloc_floats(4, oshape, "output"))) goto done;
    if (want_probs && (!(probs = alloc_floats(4, pshape, "weights")) || !(dense = alloc_floats(4, dshape, "weights")) ||
                       (G && !(gprobs = alloc_floats(4, gshape, "global weights")))))
        goto done;
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;
    clattn_global_local_desc d;
    clattn_global_local_desc_init(&d, B, H, L, D, Dv, window, (int64_t)G);
    d.scale = ao.scale;
    d.use_global_proj = ngp == 3;
    d.want_probs = want_probs;
    double t0 = now_ms();
    clattn_status st = clattn_global_local_plan_create(&plan, ctx, &d);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_global_local_plan_create", st);
        goto done;
    }
    double t1 = now_ms(), first_ms, warm_ms;
    global_local_call call = {plan, q.data, k.data, v.data, qg.data, kg.data, vg.data, gidx, out, probs, gprobs};
    st = time_calls(global_local_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_global_local_execute", st);
        goto done;
    }
    if (want_probs && (st = clattn_global_local_expand(B, H, L, window, (int64_t)G, gidx, probs, gprobs, dense))) {
        lib_error(NULL, "clattn_global_local_expand", st);
        goto done;
    }
    if (write_float("out", NPY_DTYPE_F32, 4, oshape, out)) goto done;
    if (get_opt(o, no, "probs") && write_float("probs", NPY_DTYPE_F32, 4, dshape, dense)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 4, oshape, NPY_DTYPE_F32);
    printf("path=%s\n", clattn_global_local_plan_path(plan));
    double e_out = 0.0, e_p = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_p = get_opt(o, no, "expect-probs");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, 4, oshape, &e_out)) goto done;
    if (ref_p && check_expect(ref_p, "max_abs_err_probs", dense, 4, dshape, &e_p)) goto done;
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
    clattn_global_local_plan_destroy(plan);
    clattn_context_destroy(ctx);
    farray_free(&q), farray_free(&k), farray_free(&v), farray_free(&qg), farray_free(&kg), farray_free(&vg);
    free(gl), free(gidx), free(out), free(probs), free(gprobs), free(dense);
    return rc;
}

#define GLOBAL_LOCAL_COMMAND                                                                                     \
    {"global-local", "--query Q.npy --key K.npy --value V.npy --out O.npy --local-window W [--globals I,...] [options]", \
     "global-local (Longformer) attention on [B,H,L,D] .npy arrays", OPTS(global_local_opts), global_local_notes,  \
     cmd_global_local}
