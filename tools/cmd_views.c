/*
 * clattn axial | temporal | area: the attention family over views (clattn.h) on .npy arrays.
 * Part of clattn.c's translation unit (#included there, before the command table): it uses that file's option
 * parser, array loading, output files, --expect checks and context helpers.
 *
 *   axial     Q, K [d0, .., d{n-2}, D], V [.., Dv], --axis A      -> out [.., Dv], probs [batch axes.., L, L]
 *   temporal  Q, K [B, T, S, C] (--num-heads H) or [B, T, S, H, Dh] -> out like V, probs [B, S, H, T, T]
 *   area      Q, K [B, N, C] (--num-heads H) or [B, N, H, Dh], --area A -> out like V, probs [B, A, H, N/A, N/A]
 */

#define VIEW_IO_OPTIONS(SHAPE, VSHAPE)                                                                          \
    {"query", "Q.npy", "required: queries " SHAPE ", float32 or float16", NULL},                               \
        {"key", "K.npy", "required: keys, Q's shape and dtype", NULL},                                          \
        {"value", "V.npy", "required: values " VSHAPE ", Q's dtype", NULL},                                     \
        {"out", "O.npy", "required: the output, V's shape, in Q's dtype", NULL}

#define VIEW_COMMON_OPTIONS(PSHAPE)                                                                             \
    {"scale", "S", "score scale, a non-zero finite number (default: 1/sqrt(head dim))", NULL},                  \
        {"probs", "P.npy", "also write the attention weights, float32 " PSHAPE " (default: not written)", NULL}, \
        {"device", "SELECTOR", "device to run on (host, pocl, rusticl, gpu, <platform>:<device>, ...; see clattn " \
                               "devices); overrides CLATTN_DEVICE (default: CLATTN_DEVICE, else the library's choice)", \
         NULL},                                                                                                 \
        {"expect", "REF.npy", "compare the output with REF: print max_abs_err, exit 1 above --tol (default: none)", \
         NULL},                                                                                                 \
        {"expect-probs", "REF.npy", "the same for the weights: print max_abs_err_probs (default: none)", NULL}, \
        {"tol", "T", "largest max_abs_err accepted by --expect/--expect-probs, >= 0 (default: 1e-4)", NULL},     \
        {"repeat", "N", "run N times (1..1000): time_ms is the first call, warm_ms the median of the others "   \
                        "(default: 1)", NULL}

static opt axial_opts[] = {
    VIEW_IO_OPTIONS("[d0,...,L,...,D] (3 to 8 dims, the last the features)", "[d0,...,Dv]"),
    {"axis", "A", "required: the attention axis, 0..ndim-2 (negative counts from the feature axis: -1 = ndim-2)",
     NULL},
    {"causal", "top-left|bottom-right", "causal along the axis: position i attends to j <= i (both corners are the "
                                        "same here: Lq = Lk) (default: none)", NULL},
    VIEW_COMMON_OPTIONS("[the batch axes of Q in order, L, L]"),
};
static const char axial_notes[] =
    "Axial attention (Ho et al., 2019): every axis but --axis and the last is a batch axis. A [B,H,X,Y,D]\n"
    "array: --axis 2 attends along X (probs [B,H,Y,X,X]), --axis 3 along Y (probs [B,H,X,Y,Y]).\n"
    "The library runs it as SDPA over views of the arrays (no copies, no mask).\n" OUTPUTS_NOTE;

static opt temporal_opts[] = {
    VIEW_IO_OPTIONS("[B,T,S,C] with C = H*Dh, or [B,T,S,H,Dh]", "[B,T,S,H*Dv] or [B,T,S,H,Dv]"),
    {"num-heads", "H", "heads of a 4-D [B,T,S,C] input (required for it; a 5-D input gives H itself)", NULL},
    {"causal", "top-left|bottom-right", "frame t attends to frames <= t (both corners are the same here) "
                                        "(default: none)", NULL},
    VIEW_COMMON_OPTIONS("[B,S,H,T,T]"),
};
static const char temporal_notes[] =
    "Temporal attention (TimeSformer's divided space-time attention, its time step): per spatial position s\n"
    "and head h, attention along the T frames.\n" OUTPUTS_NOTE;

static opt area_opts[] = {
    VIEW_IO_OPTIONS("[B,N,C] with C = H*Dh (N = h*w flattened row-major), or [B,N,H,Dh]", "[B,N,H*Dv] or [B,N,H,Dv]"),
    {"num-heads", "H", "heads of a 3-D [B,N,C] input (required for it; a 4-D input gives H itself)", NULL},
    {"area", "A", "required: segments, >= 1, dividing N (YOLO12 uses 4)", NULL},
    VIEW_COMMON_OPTIONS("[B,A,H,N/A,N/A]"),
};
static const char area_notes[] =
    "Area attention (YOLOv12's A2, ultralytics' AAttn without its convolutions): the N positions split into\n"
    "A equal contiguous segments, each head attending within its segment; N not a multiple of A is an error.\n"
    OUTPUTS_NOTE;

typedef enum view_kind { VIEW_AXIAL, VIEW_TEMPORAL, VIEW_AREA } view_kind;

typedef struct view_call {
    view_kind kind;
    void *plan;
    const void *q, *k, *v;
    void *out;
    float *probs;
} view_call;

static clattn_status view_call_run(void *arg)
{
    const view_call *c = arg;
    if (c->kind == VIEW_AXIAL) return clattn_axial_execute(c->plan, c->q, c->k, c->v, c->out, c->probs);
    if (c->kind == VIEW_TEMPORAL) return clattn_temporal_execute(c->plan, c->q, c->k, c->v, c->out, c->probs);
    return clattn_area_execute(c->plan, c->q, c->k, c->v, c->out, c->probs);
}

static void view_plan_free(view_kind kind, void *plan)
{
    if (kind == VIEW_AXIAL) clattn_axial_plan_destroy(plan);
    else if (kind == VIEW_TEMPORAL) clattn_temporal_plan_destroy(plan);
    else clattn_area_plan_destroy(plan);
}

static int parse_positive(const char *name, const char *s, int64_t *out)
{
    if (parse_i64(name, s, s + strlen(s), out)) return EXIT_USAGE;
    if (*out < 1) return errorf(EXIT_USAGE, "--%s: %lld, expected >= 1", name, (long long)*out);
    return EXIT_OK;
}

static int cmd_view_attn(view_kind kind, const char *cmd, opt *o, size_t no, int argc, char **argv)
{
    int rc = parse_options(cmd, argc, argv, o, no);
    if (rc) return rc < 0 ? print_help(cmd) : rc;
    static const char *const req_axial[] = {"query", "key", "value", "out", "axis", NULL};
    static const char *const req_area[] = {"query", "key", "value", "out", "area", NULL};
    static const char *const req_temporal[] = {"query", "key", "value", "out", NULL};
    if (require(cmd, o, no, kind == VIEW_AXIAL ? req_axial : kind == VIEW_AREA ? req_area : req_temporal))
        return EXIT_USAGE;
    attn_opts ao;
    if (parse_attn_opts(o, no, &ao)) return EXIT_USAGE;
    const bool causal = ao.causal != CLATTN_CAUSAL_NONE;
    int64_t axis = 0, heads = 0, area = 0;
    const char *s;
    if ((s = get_opt(o, no, "axis")) && parse_i64("axis", s, s + strlen(s), &axis)) return EXIT_USAGE;
    if ((s = get_opt(o, no, "num-heads")) && parse_positive("num-heads", s, &heads)) return EXIT_USAGE;
    if ((s = get_opt(o, no, "area")) && parse_positive("area", s, &area)) return EXIT_USAGE;
    static const char *const outs[] = {"out", "probs", NULL};
    if ((rc = outputs_open(o, no, outs))) return rc;

    farray q = {0}, k = {0}, v = {0};
    float *out = NULL, *probs = NULL;
    uint16_t *out16 = NULL;
    clattn_context *ctx = NULL;
    void *plan = NULL;
    char s1[128], s2[128];
    rc = EXIT_FAIL;
    if (load_array(get_opt(o, no, "query"), "--query", 0, 1, &q) || load_array(get_opt(o, no, "key"), "--key", 0, 1, &k) ||
        load_array(get_opt(o, no, "value"), "--value", 0, 1, &v))
        goto done;
    if (k.dtype != q.dtype || v.dtype != q.dtype) {
        const farray *x = k.dtype != q.dtype ? &k : &v;
        errorf(EXIT_FAIL, "dtype mismatch: %s is %s but %s is %s (all of Q, K, V must be the same)", q.path,
               dtype_name(q.dtype), x->path, dtype_name(x->dtype));
        goto done;
    }
    const int n = q.ndim;
    const int lo = kind == VIEW_AXIAL ? 3 : kind == VIEW_TEMPORAL ? 4 : 3;
    const int hi = kind == VIEW_AXIAL ? 8 : lo + 1;
    if (n < lo || n > hi) {
        rc = errorf(EXIT_USAGE, "%s: Q has shape %s, expected %d..%d dims", q.path, shape_str(n, q.shape, s1, sizeof s1),
                    lo, hi);
        goto done;
    }
    bool same = k.ndim == n && v.ndim == n;
    for (int d = 0; same && d < n; d++) same = k.shape[d] == q.shape[d] && (d == n - 1 || v.shape[d] == q.shape[d]);
    if (!same) {
        errorf(EXIT_FAIL, "shape mismatch: Q %s, K %s, V %s (K must equal Q; V may differ in the last dim only)",
               shape_str(n, q.shape, s1, sizeof s1), shape_str(k.ndim, k.shape, s2, sizeof s2), v.path);
        goto done;
    }
    if (kind == VIEW_AXIAL) {
        if (axis < 0) axis += n - 1;
        if (axis < 0 || axis > n - 2) {
            rc = errorf(EXIT_USAGE, "--axis: %s, expected 0..%d for Q of %d dims (the last is the features)",
                        get_opt(o, no, "axis"), n - 2, n);
            goto done;
        }
    } else if (n == lo && !heads) {
        rc = errorf(EXIT_USAGE, "clattn %s: --num-heads is required for a %d-D Q", cmd, n);
        goto done;
    }
    int64_t oshape[NPY_MAX_DIMS];
    memcpy(oshape, v.shape, sizeof oshape);
    const int f16 = q.dtype == NPY_DTYPE_F16;
    const bool want_probs = get_opt(o, no, "probs") || get_opt(o, no, "expect-probs");
    clattn_tensor tq = clattn_tensor_contiguous_nd(n, q.shape), tv = clattn_tensor_contiguous_nd(n, v.shape);
    clattn_tensor tp;
    if (make_context(get_opt(o, no, "device"), &ctx)) goto done;
    double t0 = now_ms();
    clattn_status st;
    const char *create = "";
    if (kind == VIEW_AXIAL) {
        clattn_axial_desc d;
        clattn_axial_desc_init(&d, n, q.shape, (int)axis);
        d.k = tq, d.v = tv, d.out = tv;
        d.causal = causal ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_NONE;
        d.scale = ao.scale;
        d.want_probs = want_probs;
        d.data_type = f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
        tp = d.probs;
        create = "clattn_axial_plan_create";
        st = clattn_axial_plan_create((clattn_axial_plan **)&plan, ctx, &d);
    } else if (kind == VIEW_TEMPORAL) {
        clattn_temporal_desc d;
        const int64_t H = n == 5 ? q.shape[3] : heads;
        clattn_temporal_desc_init(&d, q.shape[0], q.shape[1], q.shape[2], H, 1);
        d.q = tq, d.k = tq, d.v = tv, d.out = tv;
        d.num_heads = heads;
        d.causal = causal ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_NONE;
        d.scale = ao.scale;
        d.want_probs = want_probs;
        d.data_type = f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
        tp = d.probs;
        create = "clattn_temporal_plan_create";
        st = clattn_temporal_plan_create((clattn_temporal_plan **)&plan, ctx, &d);
    } else {
        clattn_area_desc d;
        const int64_t H = n == 4 ? q.shape[2] : heads;
        clattn_area_desc_init(&d, q.shape[0], q.shape[1], H, 1, area);
        d.q = tq, d.k = tq, d.v = tv, d.out = tv;
        d.num_heads = heads;
        d.scale = ao.scale;
        d.want_probs = want_probs;
        d.data_type = f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
        tp = d.probs;
        create = "clattn_area_plan_create";
        st = clattn_area_plan_create((clattn_area_plan **)&plan, ctx, &d);
    }
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, create, st);
        goto done;
    }
    double t1 = now_ms();
    if (!(out = alloc_floats(n, oshape, "output"))) goto done;
    if (f16 && !(out16 = calloc((size_t)checked_count(n, oshape) + 1, sizeof *out16))) {
        errorf(EXIT_FAIL, "out of memory for the float16 output");
        goto done;
    }
    if (want_probs && !(probs = alloc_floats(tp.ndim, tp.dims, "weights"))) goto done;
    view_call call = {kind, plan, q.data, k.data, v.data, out, probs};
    if (f16) call.q = q.half, call.k = k.half, call.v = v.half, call.out = out16;
    double first_ms, warm_ms;
    st = time_calls(view_call_run, &call, ao.repeat, &first_ms, &warm_ms);
    if (st != CLATTN_SUCCESS) {
        lib_error(ctx, kind == VIEW_AXIAL ? "clattn_axial_execute" : kind == VIEW_TEMPORAL ? "clattn_temporal_execute"
                                                                                            : "clattn_area_execute",
                  st);
        goto done;
    }
    if (f16) {
        if (output_write("out", NPY_DTYPE_F16, n, oshape, out16)) goto done;
        half_to_float_n(out16, out, (size_t)checked_count(n, oshape));
    } else if (write_float("out", q.dtype, n, oshape, out)) {
        goto done;
    }
    if (get_opt(o, no, "probs") && write_float("probs", NPY_DTYPE_F32, tp.ndim, tp.dims, probs)) goto done;
    print_result(ctx, t1 - t0, first_ms, warm_ms, n, oshape, q.dtype);
    {
        const char *path = kind == VIEW_AXIAL      ? clattn_axial_plan_path(plan)
                           : kind == VIEW_TEMPORAL ? clattn_temporal_plan_path(plan)
                                                   : clattn_area_plan_path(plan);
        const int64_t count = kind == VIEW_AXIAL      ? clattn_axial_plan_sdpa_count(plan)
                              : kind == VIEW_TEMPORAL ? clattn_temporal_plan_sdpa_count(plan)
                                                      : clattn_area_plan_sdpa_count(plan);
        printf("path=%s sdpa_plans=%lld\n", path, (long long)count);
    }
    double e_out = 0.0, e_probs = 0.0;
    const char *ref_out = get_opt(o, no, "expect"), *ref_probs = get_opt(o, no, "expect-probs");
    if (ref_out && check_expect(ref_out, "max_abs_err", out, n, oshape, &e_out)) goto done;
    if (ref_probs && check_expect(ref_probs, "max_abs_err_probs", probs, tp.ndim, tp.dims, &e_probs)) goto done;
    fflush(stdout);
    if (!(e_out <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err %.6g exceeds --tol %g (%s)", e_out, ao.tol, ref_out);
        goto done;
    }
    if (!(e_probs <= ao.tol)) {
        errorf(EXIT_FAIL, "max_abs_err_probs %.6g exceeds --tol %g (%s)", e_probs, ao.tol, ref_probs);
        goto done;
    }
    if (outputs_commit()) goto done;
    rc = EXIT_OK;
done:
    outputs_discard();
    if (plan) view_plan_free(kind, plan);
    clattn_context_destroy(ctx);
    farray_free(&q);
    farray_free(&k);
    farray_free(&v);
    free(out);
    free(out16);
    free(probs);
    return rc;
}

static int cmd_axial(int argc, char **argv)
{
    return cmd_view_attn(VIEW_AXIAL, "axial", axial_opts, sizeof axial_opts / sizeof axial_opts[0], argc, argv);
}
static int cmd_temporal(int argc, char **argv)
{
    return cmd_view_attn(VIEW_TEMPORAL, "temporal", temporal_opts, sizeof temporal_opts / sizeof temporal_opts[0],
                         argc, argv);
}
static int cmd_area(int argc, char **argv)
{
    return cmd_view_attn(VIEW_AREA, "area", area_opts, sizeof area_opts / sizeof area_opts[0], argc, argv);
}

/* The command table's rows of these commands (clattn.c). */
#define VIEW_COMMANDS                                                                                           \
    {"axial", "--query Q.npy --key K.npy --value V.npy --out O.npy --axis A [options]",                        \
     "axial attention along one axis of N-d .npy arrays", OPTS(axial_opts), axial_notes, cmd_axial},           \
        {"temporal", "--query Q.npy --key K.npy --value V.npy --out O.npy [--num-heads H] [options]",         \
         "temporal (TimeSformer time-step) attention on [B,T,S,C] .npy arrays", OPTS(temporal_opts),           \
         temporal_notes, cmd_temporal},                                                                        \
        {"area", "--query Q.npy --key K.npy --value V.npy --out O.npy --area A [--num-heads H] [options]",    \
         "area attention (YOLOv12 A2) on [B,N,C] .npy arrays", OPTS(area_opts), area_notes, cmd_area}
