/*
 * clattn channel: channel attention (Squeeze-and-Excitation, CBAM's channel module; clattn.h) on .npy arrays.
 * Part of clattn.c's translation unit (#included there, before the command table), like cmd_views.c.
 */

static opt channel_opts[] = {
    {"input", "X.npy", "required: the feature map [B,C,H,W] (NCHW), float32 or float16 (computed in float32)", NULL},
    {"w1", "W1.npy", "required: first FC weight [R,C] (or torchvision's fc1.weight [R,C,1,1])", NULL},
    {"b1", "B1.npy", "first FC bias [R] (default: none)", NULL},
    {"w2", "W2.npy", "required: second FC weight [C,R] (or fc2.weight [C,R,1,1])", NULL},
    {"b2", "B2.npy", "second FC bias [C] (default: none)", NULL},
    {"pool", "avg|avg-max", "avg: Squeeze-and-Excitation; avg-max: CBAM's channel attention (default: avg)", NULL},
    {"out", "O.npy", "required: the rescaled map [B,C,H,W], float32", NULL},
    {"scales", "S.npy", "also write the gates sigmoid(...) [B,C], float32 (default: not written)", NULL},
    {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn "
                           "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", NULL},
    {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", NULL},
    {"expect-scales", "REF.npy", "the same for the gates: print max_abs_err_scales (default: none)", NULL},
    {"tol", "T", "largest max_abs_err accepted by --expect/--expect-scales, >= 0 (default: 1e-4)", NULL},
    {"repeat", "N", "run N times (1..1000): time_ms is the first call, warm_ms the median of the others "
                    "(default: 1)", NULL},
};
static const char channel_notes[] =
    "out = x * sigmoid(W2 relu(W1 avgpool(x) + b1) + b2) per channel (Hu et al., 2018; torchvision's\n"
    "SqueezeExcitation); avg-max adds the same MLP of the max-pooled vector before the sigmoid (CBAM).\n"
    "--out/--scales are replaced only when the whole run succeeds (--expect included); they must differ.\n";

typedef struct channel_call {
    clattn_channel_attn_plan *plan;
    const float *x, *w1, *b1, *w2, *b2;
    float *out, *scales;
} channel_call;

static clattn_status channel_call_run(void *arg)
{
    const channel_call *c = arg;
    return clattn_channel_attn_execute(c->plan, c->x, c->w1, c->b1, c->w2, c->b2, c->out, c->scales);
}

/* A weight of shape [a, b] or [a, b, 1, 1] (1x1 convolution); *ok false after printing the error. */
static bool weight_shape(const farray *w, const char *opt_name, int64_t a, int64_t b)
{
    char s[128];
    const bool ok = (w->ndim == 2 || (w->ndim == 4 && w->shape[2] == 1 && w->shape[3] == 1)) && w->shape[0] == a &&
                    w->shape[1] == b;
    if (!ok)
        errorf(EXIT_FAIL, "%s: --%s has shape %s, expected [%lld,%lld] or [%lld,%lld,1,1]", w->path, opt_name,
               shape_str(w->ndim, w->shape, s, sizeof s), (long long)a, (long long)b, (long long)a, (long long)b);
    return ok;
}

static int cmd_channel(int argc, char **argv)
{
    opt *o = channel_opts;
    const size_t no = sizeof channel_opts / sizeof channel_opts[0];
    int rc = parse_options("channel", argc, argv, o, no);
    if (rc) return rc < 0 ? print_help("channel") : rc;
    static const char *const req[] = {"input", "w1", "w2", "out", NULL};
    if (require("channel", o, no, req)) return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    const char *pool = get_opt(o, no, "pool");
    if (pool && strcmp(pool, "avg") != 0 && strcmp(pool, "avg-max") != 0)
        return errorf(EXIT_USAGE, "--pool: '%s', expected avg or avg-max", pool);
    static const char *const outs[] = {"out", "scales", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    farray x = {0}, w1 = {0}, b1 = {0}, w2 = {0}, b2 = {0};
    float *out = NULL, *scales = NULL;
    clattn_context *ctx = NULL;
    clattn_channel_attn_plan *plan = NULL;
    char s1[128];
    rc = EXIT_FAIL;
    if (load_float(get_opt(o, no, "input"), "--input", 4, &x) || load_float(get_opt(o, no, "w1"), "--w1", 0, &w1) ||
        load_float(get_opt(o, no, "w2"), "--w2", 0, &w2) ||
        (get_opt(o, no, "b1") && load_float(get_opt(o, no, "b1"), "--b1", 1, &b1)) ||
        (get_opt(o, no, "b2") && load_float(get_opt(o, no, "b2"), "--b2", 1, &b2)))
        goto done;
    const int64_t B = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], R = w1.shape[0];
    if (!weight_shape(&w1, "w1", R, C) || !weight_shape(&w2, "w2", C, R)) goto done;
    if ((b1.data && b1.shape[0] != R) || (b2.data && b2.shape[0] != C)) {
        const farray *bad = b1.data && b1.shape[0] != R ? &b1 : &b2;
        errorf(EXIT_FAIL, "%s: shape %s, expected [%lld]", bad->path, shape_str(1, bad->shape, s1, sizeof s1),
               (long long)(bad == &b1 ? R : C));
        goto done;
    }
    const int64_t oshape[4] = {B, C, H, W}, sshape[2] = {B, C};
    const bool want_scales = get_opt(o, no, "scales") || get_opt(o, no, "expect-scales");
    if (!(out = alloc_floats(4, oshape, "output"))) goto done;
    if (want_scales && !(scales = alloc_floats(2, sshape, "scales"))) goto done;
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;
    clattn_channel_attn_desc d;
    clattn_channel_attn_desc_init(&d, B, C, H, W, R);
    d.pool = pool && strcmp(pool, "avg-max") == 0 ? CLATTN_CHANNEL_POOL_AVG_MAX : CLATTN_CHANNEL_POOL_AVG;
    d.has_b1 = b1.data != NULL;
    d.has_b2 = b2.data != NULL;
    d.want_scales = want_scales;
    double t0 = now_ms();
    clattn_status st = clattn_channel_attn_plan_create(&plan, ctx, &d);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_channel_attn_plan_create", st);
        goto done;
    }
    double t1 = now_ms(), first_ms, warm_ms;
    channel_call call = {plan, x.data, w1.data, b1.data, w2.data, b2.data, out, scales};
    st = time_calls(channel_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, "clattn_channel_attn_execute", st);
        goto done;
    }
    if (write_float("out", NPY_DTYPE_F32, 4, oshape, out)) goto done;
    if (get_opt(o, no, "scales") && write_float("scales", NPY_DTYPE_F32, 2, sshape, scales)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, 4, oshape, NPY_DTYPE_F32);
    printf("path=%s\n", clattn_channel_attn_plan_path(plan));
    double e_out = 0.0, e_s = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_s = get_opt(o, no, "expect-scales");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, 4, oshape, &e_out)) goto done;
    if (ref_s && check_expect(ref_s, "max_abs_err_scales", scales, 2, sshape, &e_s)) goto done;
    fflush(stdout);
    if (!(e_out <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err %.6g exceeds --tol %g (%s)", e_out, ao.tol, ref_out);
        goto done;
    }
    if (!(e_s <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err_scales %.6g exceeds --tol %g (%s)", e_s, ao.tol, ref_s);
        goto done;
    }
    if (outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    clattn_channel_attn_plan_destroy(plan);
    clattn_context_destroy(ctx);
    farray_free(&x), farray_free(&w1), farray_free(&b1), farray_free(&w2), farray_free(&b2);
    free(out);
    free(scales);
    return rc;
}

#define CHANNEL_COMMAND                                                                                          \
    {"channel", "--input X.npy --w1 W1.npy --w2 W2.npy --out O.npy [options]",                                \
     "channel attention (Squeeze-and-Excitation, CBAM) on a [B,C,H,W] .npy array", OPTS(channel_opts),        \
     channel_notes, cmd_channel}
