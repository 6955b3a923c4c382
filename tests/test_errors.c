/*
 * test_errors: invalid arguments on the backend chosen by CLATTN_DEVICE (exit 77 when absent).
 * Every row of the tables checks the exact status AND that clattn_last_error names the argument
 * (a substring such as "mask: dim 1"); failed constructors must leave their output NULL.
 * Also: device selectors, clattn_status_string for every status, destroy(NULL), enqueue on a host
 * context (UNSUPPORTED), enqueue argument checks on OpenCL contexts, MHA create/forward arguments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

/* Checks status and message; prints and returns false on mismatch. */
static bool expect(const char *what, clattn_status got, clattn_status want, const char *msg, const char *needle)
{
    bool ok = got == want && (!needle || (msg && strstr(msg, needle)));
    if (!ok)
        fprintf(stderr, "FAIL [errors/%s] status %d (%s), expected %d (%s); message \"%s\" %s \"%s\"\n", what,
                (int)got, clattn_status_string(got), (int)want, clattn_status_string(want), msg ? msg : "(null)",
                needle ? "should contain" : "", needle ? needle : "");
    return ok;
}

/* ---- the SDPA descriptor table ------------------------------------------------------------- */

/* Valid base problem: B 2, Hq 4, Hkv 2, Lq 5, Lk 6, D 8, Dv 3. */
enum { B_ = 2, HQ = 4, HKV = 2, LQ = 5, LK = 6, D_ = 8, DV = 3 };

static void base_desc(clattn_sdpa_desc *d)
{
    clattn_sdpa_desc_init(d, B_, HQ, HKV, LQ, LK, D_, DV);
}

typedef struct desc_case {
    const char *name;
    void (*mod)(clattn_sdpa_desc *d);
    clattn_status want;
    const char *needle; /* must occur in clattn_last_error(ctx) */
} desc_case;

#define MOD(fn, body) \
    static void fn(clattn_sdpa_desc *d) { body; }

static void with_bool_mask(clattn_sdpa_desc *d)
{
    d->mask_kind = CLATTN_MASK_BOOL;
    d->mask = clattn_tensor_contiguous(B_, HQ, LQ, LK);
}
static void with_probs(clattn_sdpa_desc *d)
{
    d->want_probs = 1;
    d->probs = clattn_tensor_contiguous(B_, HQ, LQ, LK);
}

MOD(m_q_dim0_zero, d->q.dims[0] = 0)
MOD(m_q_dim3_neg, d->q.dims[3] = -8)
MOD(m_q_dim2_huge, d->q.dims[2] = (int64_t)1 << 40)
MOD(m_q_dim1_int64max, d->q.dims[1] = INT64_MAX)
MOD(m_k_dim2_zero, d->k.dims[2] = 0)
MOD(m_v_dim3_neg, d->v.dims[3] = -1)
MOD(m_out_dim1_zero, d->out.dims[1] = 0)
MOD(m_hkv_not_dividing, d->k.dims[1] = 3; d->v.dims[1] = 3)
MOD(m_k_batch, d->k.dims[0] = 3)
MOD(m_k_headdim, d->k.dims[3] = 7)
MOD(m_v_batch, d->v.dims[0] = 3)
MOD(m_v_heads, d->v.dims[1] = 1)
MOD(m_v_len, d->v.dims[2] = 5)
MOD(m_out_batch_bcast, d->out.dims[0] = 1)
MOD(m_out_heads, d->out.dims[1] = 2)
MOD(m_out_len, d->out.dims[2] = 4)
MOD(m_out_dv, d->out.dims[3] = 8)
MOD(m_mask_dim0, with_bool_mask(d); d->mask.dims[0] = 3)
MOD(m_mask_dim1, with_bool_mask(d); d->mask.dims[1] = 5)
MOD(m_mask_dim2, with_bool_mask(d); d->mask.dims[2] = 2)
MOD(m_mask_dim3, with_bool_mask(d); d->mask.dims[3] = 5)
MOD(m_mask_dim3_one, with_bool_mask(d); d->mask.dims[3] = 1)
MOD(m_mask_dim0_zero, with_bool_mask(d); d->mask.dims[0] = 0)
MOD(m_mask_add_dim1, d->mask_kind = CLATTN_MASK_ADDITIVE; d->mask = clattn_tensor_contiguous(1, 2, 1, LK))
MOD(m_probs_dim0, with_probs(d); d->probs.dims[0] = 1)
MOD(m_probs_dim1, with_probs(d); d->probs.dims[1] = 2)
MOD(m_probs_dim3, with_probs(d); d->probs.dims[3] = 5)
MOD(m_q_stride_neg, d->q.strides[2] = -8)
MOD(m_v_stride_neg, d->v.strides[0] = -1)
MOD(m_mask_stride_neg, with_bool_mask(d); d->mask.strides[3] = -1)
MOD(m_probs_stride_neg, with_probs(d); d->probs.strides[1] = -30)
MOD(m_out_overlap_rows, d->out.strides[2] = 2)
MOD(m_out_overlap_zero, d->out.strides[3] = 0)
MOD(m_out_overlap_heads, d->out.strides[1] = 3)
MOD(m_probs_overlap, with_probs(d); d->probs.strides[3] = 0)
MOD(m_q_offset_neg, d->q.offset = -1)
MOD(m_q_offset_overflow, d->q.offset = INT64_MAX - 3)
MOD(m_k_stride_overflow, d->k.strides[0] = INT64_MAX / 2)
MOD(m_out_offset_overflow, d->out.offset = INT64_MAX)
MOD(m_mask_offset_overflow, with_bool_mask(d); d->mask.offset = INT64_MAX - 1)
MOD(m_probs_offset_overflow, with_probs(d); d->probs.offset = INT64_MAX - 100)
MOD(m_v_stride_huge, d->v.strides[2] = INT64_MAX / 4)
MOD(m_window_left, d->window_left = -2)
MOD(m_window_right, d->window_right = INT64_MIN)
MOD(m_softcap_neg, d->softcap = -1.0f)
MOD(m_softcap_nan, d->softcap = NAN)
MOD(m_softcap_inf, d->softcap = INFINITY)
MOD(m_scale_nan, d->scale = NAN)
MOD(m_scale_inf, d->scale = INFINITY)
MOD(m_scale_ninf, d->scale = -INFINITY)
MOD(m_causal_bad, d->causal = (clattn_causal)3)
MOD(m_causal_neg, d->causal = (clattn_causal)-1)
MOD(m_mask_kind_bad, d->mask_kind = (clattn_mask_kind)3)
MOD(m_mask_kind_neg, d->mask_kind = (clattn_mask_kind)-1)

#define INV CLATTN_ERROR_INVALID_ARGUMENT
static const desc_case desc_cases[] = {
    {"q dim 0 = 0", m_q_dim0_zero, INV, "q: dim 0"},
    {"q dim 3 < 0", m_q_dim3_neg, INV, "q: dim 3"},
    {"q dim 2 huge", m_q_dim2_huge, INV, "q: dim 2"},
    {"q dim 1 INT64_MAX", m_q_dim1_int64max, INV, "q: dim 1"},
    {"k dim 2 = 0", m_k_dim2_zero, INV, "k: dim 2"},
    {"v dim 3 < 0", m_v_dim3_neg, INV, "v: dim 3"},
    {"out dim 1 = 0", m_out_dim1_zero, INV, "out: dim 1"},
    {"Hkv does not divide Hq", m_hkv_not_dividing, INV, "k: dim 1"},
    {"k batch mismatch", m_k_batch, INV, "k: dim 0"},
    {"k head_dim mismatch", m_k_headdim, INV, "k: dim 3"},
    {"v batch mismatch", m_v_batch, INV, "v: dim 0"},
    {"v heads mismatch", m_v_heads, INV, "v: dim 1"},
    {"v kv_len mismatch", m_v_len, INV, "v: dim 2"},
    {"out batch 1 (no broadcast)", m_out_batch_bcast, INV, "out: dim 0"},
    {"out heads mismatch", m_out_heads, INV, "out: dim 1"},
    {"out q_len mismatch", m_out_len, INV, "out: dim 2"},
    {"out Dv mismatch", m_out_dv, INV, "out: dim 3"},
    {"mask dim 0", m_mask_dim0, INV, "mask: dim 0"},
    {"mask dim 1", m_mask_dim1, INV, "mask: dim 1"},
    {"mask dim 2", m_mask_dim2, INV, "mask: dim 2"},
    {"mask dim 3", m_mask_dim3, INV, "mask: dim 3"},
    {"mask dim 3 = 1 (must be Lk)", m_mask_dim3_one, INV, "mask: dim 3"},
    {"mask dim 0 = 0", m_mask_dim0_zero, INV, "mask: dim 0"},
    {"additive mask dim 1", m_mask_add_dim1, INV, "mask: dim 1"},
    {"probs dim 0", m_probs_dim0, INV, "probs: dim 0"},
    {"probs dim 1", m_probs_dim1, INV, "probs: dim 1"},
    {"probs dim 3", m_probs_dim3, INV, "probs: dim 3"},
    {"q negative stride", m_q_stride_neg, INV, "q: stride 2"},
    {"v negative stride", m_v_stride_neg, INV, "v: stride 0"},
    {"mask negative stride", m_mask_stride_neg, INV, "mask: stride 3"},
    {"probs negative stride", m_probs_stride_neg, INV, "probs: stride 1"},
    {"out overlapping rows", m_out_overlap_rows, INV, "out: stride"},
    {"out zero last stride", m_out_overlap_zero, INV, "out: stride"},
    {"out overlapping heads", m_out_overlap_heads, INV, "out: stride"},
    {"probs overlapping", m_probs_overlap, INV, "probs: stride"},
    {"q negative offset", m_q_offset_neg, INV, "q: offset"},
    {"q offset overflows int64", m_q_offset_overflow, INV, "q:"},
    {"k stride overflows", m_k_stride_overflow, INV, "k:"},
    {"out offset INT64_MAX", m_out_offset_overflow, INV, "out:"},
    {"mask offset overflows", m_mask_offset_overflow, INV, "mask:"},
    {"probs offset overflows", m_probs_offset_overflow, INV, "probs:"},
    {"v stride beyond size_t", m_v_stride_huge, INV, "v:"},
    {"window_left -2", m_window_left, INV, "window_left"},
    {"window_right INT64_MIN", m_window_right, INV, "window_right"},
    {"softcap < 0", m_softcap_neg, INV, "softcap"},
    {"softcap NaN", m_softcap_nan, INV, "softcap"},
    {"softcap inf", m_softcap_inf, INV, "softcap"},
    {"scale NaN", m_scale_nan, INV, "scale"},
    {"scale inf", m_scale_inf, INV, "scale"},
    {"scale -inf", m_scale_ninf, INV, "scale"},
    {"causal 3", m_causal_bad, INV, "causal"},
    {"causal -1", m_causal_neg, INV, "causal"},
    {"mask_kind 3", m_mask_kind_bad, INV, "mask_kind"},
    {"mask_kind -1", m_mask_kind_neg, INV, "mask_kind"},
};
#define N_DESC_CASES (sizeof desc_cases / sizeof desc_cases[0])

static void test_desc_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < N_DESC_CASES; i++) {
        clattn_sdpa_desc d;
        base_desc(&d);
        desc_cases[i].mod(&d);
        clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)0x1;
        clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d);
        if (!expect(desc_cases[i].name, st, desc_cases[i].want, clattn_last_error(g_ctx), desc_cases[i].needle))
            bad++;
        if (st != CLATTN_SUCCESS && plan != NULL) {
            fprintf(stderr, "FAIL [errors/%s] plan not set to NULL on failure\n", desc_cases[i].name);
            bad++;
        }
        if (st == CLATTN_SUCCESS) {
            clattn_sdpa_plan_destroy(plan);
            continue; /* never execute a desc that should have been rejected */
        }
        /* the one-shot call validates the same way */
        static float dummy[4096];
        st = clattn_sdpa(g_ctx, &d, dummy, dummy, dummy, d.mask_kind ? dummy : NULL, NULL, dummy,
                         d.want_probs ? dummy : NULL);
        char name[128];
        snprintf(name, sizeof name, "clattn_sdpa: %s", desc_cases[i].name);
        if (!expect(name, st, desc_cases[i].want, clattn_last_error(g_ctx), desc_cases[i].needle)) bad++;
    }
    printf("# %zu descriptor cases, %d failures\n", N_DESC_CASES, bad);
    assert_int_equal(bad, 0);
}

/* The base problem itself is valid (so every row above fails for its own reason). */
static void test_desc_base_valid(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    base_desc(&d);
    with_bool_mask(&d);
    with_probs(&d);
    d.use_kv_lengths = 1;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d);
    if (st != CLATTN_SUCCESS) fprintf(stderr, "base desc rejected: %s\n", clattn_last_error(g_ctx));
    assert_int_equal(st, CLATTN_SUCCESS);
    assert_non_null(plan);
    clattn_sdpa_plan_destroy(plan);
}

/* ---- NULL handles and execute-time arguments ------------------------------------------------ */

/* Sizes whose contiguous strides overflow int64 (found by fuzz_sdpa_desc): desc_init must not
 * overflow, and the plan must be refused with a message naming the tensor. */
static void test_desc_init_huge_dims(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, 1, 1, INT64_C(4611686018427387903), 7, 7, 1);
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d);
    assert_int_equal(st, CLATTN_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_non_null(strstr(clattn_last_error(g_ctx), "q: dim 2"));
    clattn_tensor t = clattn_tensor_contiguous(2, INT64_C(1) << 40, INT64_C(1) << 40, 8);
    assert_true(t.strides[0] == INT64_MAX); /* saturated, not wrapped */
}

static void test_plan_create_nulls(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    base_desc(&d);
    int bad = 0;
    clattn_sdpa_plan *plan = (clattn_sdpa_plan *)(uintptr_t)0x1;
    bad += !expect("plan_create(plan NULL)", clattn_sdpa_plan_create(NULL, g_ctx, &d), INV, clattn_last_error(g_ctx),
                   "plan");
    bad += !expect("plan_create(ctx NULL)", clattn_sdpa_plan_create(&plan, NULL, &d), INV, clattn_last_error(NULL),
                   "ctx");
    bad += plan != NULL;
    plan = (clattn_sdpa_plan *)(uintptr_t)0x1;
    bad += !expect("plan_create(desc NULL)", clattn_sdpa_plan_create(&plan, g_ctx, NULL), INV,
                   clattn_last_error(g_ctx), "desc");
    bad += plan != NULL;
    bad += !expect("execute(plan NULL)", clattn_sdpa_execute(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), INV,
                   clattn_last_error(NULL), "plan");
    bad += !expect("enqueue(plan NULL)",
                   clattn_sdpa_enqueue(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL), INV,
                   clattn_last_error(NULL), "plan");
    bad += !expect("clattn_sdpa(ctx NULL)", clattn_sdpa(NULL, &d, NULL, NULL, NULL, NULL, NULL, NULL, NULL), INV,
                   clattn_last_error(NULL), "ctx");
    bad += clattn_sdpa_plan_workspace_size(NULL) != 0;
    assert_int_equal(bad, 0);
}

static void test_execute_args(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    base_desc(&d);
    clattn_sdpa_plan *plain = NULL, *full = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plain, g_ctx, &d), CLATTN_SUCCESS);
    with_bool_mask(&d);
    with_probs(&d);
    d.use_kv_lengths = 1;
    assert_int_equal(clattn_sdpa_plan_create(&full, g_ctx, &d), CLATTN_SUCCESS);

    static float q[B_ * HQ * LQ * D_], k[B_ * HKV * LK * D_], v[B_ * HKV * LK * DV], out[B_ * HQ * LQ * DV],
        probs[B_ * HQ * LQ * LK];
    static uint8_t mask[B_ * HQ * LQ * LK];
    int32_t kvl[B_] = {LK, 0}, kvl_neg[B_] = {-1, 2}, kvl_big[B_] = {3, LK + 1};
    const char *e = NULL;
    int bad = 0;
#define EX(name, plan, qq, kk, vv, mm, ll, oo, pp, want, needle)                                        \
    do {                                                                                                 \
        clattn_status st_ = clattn_sdpa_execute(plan, qq, kk, vv, mm, ll, oo, pp);                     \
        e = clattn_last_error(g_ctx);                                                                    \
        bad += !expect(name, st_, want, e, needle);                                                      \
    } while (0)
    EX("q NULL", plain, NULL, k, v, NULL, NULL, out, NULL, INV, "q is NULL");
    EX("k NULL", plain, q, NULL, v, NULL, NULL, out, NULL, INV, "k is NULL");
    EX("v NULL", plain, q, k, NULL, NULL, NULL, out, NULL, INV, "v is NULL");
    EX("out NULL", plain, q, k, v, NULL, NULL, NULL, NULL, INV, "out is NULL");
    EX("mask given with MASK_NONE", plain, q, k, v, mask, NULL, out, NULL, INV, "mask");
    EX("kv_lengths given without use_kv_lengths", plain, q, k, v, NULL, kvl, out, NULL, INV, "kv_lengths");
    EX("probs given without want_probs", plain, q, k, v, NULL, NULL, out, probs, INV, "probs");
    EX("mask NULL with MASK_BOOL", full, q, k, v, NULL, kvl, out, probs, INV, "mask");
    EX("kv_lengths NULL with use_kv_lengths", full, q, k, v, mask, NULL, out, probs, INV, "kv_lengths");
    EX("probs NULL with want_probs", full, q, k, v, mask, kvl, out, NULL, INV, "probs");
    EX("kv_lengths[0] = -1", full, q, k, v, mask, kvl_neg, out, probs, INV, "kv_lengths: element 0");
    EX("kv_lengths[1] = Lk + 1", full, q, k, v, mask, kvl_big, out, probs, INV, "kv_lengths: element 1");
    EX("valid call", full, q, k, v, mask, kvl, out, probs, CLATTN_SUCCESS, NULL);
    EX("valid call without options", plain, q, k, v, NULL, NULL, out, NULL, CLATTN_SUCCESS, NULL);
#undef EX
    clattn_sdpa_plan_destroy(plain);
    clattn_sdpa_plan_destroy(full);
    assert_int_equal(bad, 0);
}

/* ---- enqueue --------------------------------------------------------------------------------- */

static void test_enqueue_host_unsupported(void **state)
{
    (void)state;
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = "host";
    clattn_context *host = NULL;
    assert_int_equal(clattn_context_create(&host, &o), CLATTN_SUCCESS);
    cl_context c = (cl_context)(uintptr_t)1;
    cl_device_id dev = (cl_device_id)(uintptr_t)1;
    cl_command_queue qu = (cl_command_queue)(uintptr_t)1;
    assert_int_equal(clattn_context_get_cl(host, &c, &dev, &qu), CLATTN_SUCCESS);
    assert_null(c);
    assert_null(dev);
    assert_null(qu);
    clattn_sdpa_desc d;
    base_desc(&d);
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, host, &d), CLATTN_SUCCESS);
    clattn_status st = clattn_sdpa_enqueue(plan, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL);
    bool ok = expect("enqueue on a host context", st, CLATTN_ERROR_UNSUPPORTED, clattn_last_error(host), NULL);
    clattn_sdpa_plan_destroy(plan);
    clattn_context_destroy(host);
    assert_true(ok);
}

/* On OpenCL contexts: wait-list consistency and cl_mem sizes are checked. */
static void test_enqueue_args_opencl(void **state)
{
    (void)state;
    if (g_backend == TU_HOST) skip();
    cl_context c = NULL;
    cl_device_id dev = NULL;
    cl_command_queue qu = NULL;
    assert_int_equal(clattn_context_get_cl(g_ctx, &c, &dev, &qu), CLATTN_SUCCESS);
    if (!c || !dev || !qu)
        fail_msg("clattn_context_get_cl on an OpenCL context returned (%p, %p, %p): the enqueue checks need the "
                 "context's cl_context",
                 (void *)c, (void *)dev, (void *)qu);
    clattn_sdpa_desc d;
    base_desc(&d);
    clattn_sdpa_plan *plan = NULL;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    cl_int err = 0;
    size_t bq = sizeof(float) * B_ * HQ * LQ * D_, bk = sizeof(float) * B_ * HKV * LK * D_,
           bv = sizeof(float) * B_ * HKV * LK * DV, bo = sizeof(float) * B_ * HQ * LQ * DV;
    cl_mem mq = clCreateBuffer(c, CL_MEM_READ_WRITE, bq, NULL, &err);
    cl_mem mk = clCreateBuffer(c, CL_MEM_READ_WRITE, bk, NULL, &err);
    cl_mem mv = clCreateBuffer(c, CL_MEM_READ_WRITE, bv, NULL, &err);
    cl_mem mo = clCreateBuffer(c, CL_MEM_READ_WRITE, bo, NULL, &err);
    cl_mem small = clCreateBuffer(c, CL_MEM_READ_WRITE, 16, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    cl_event ev = NULL;
    int bad = 0;
    bad += !expect("enqueue num_wait 1, wait_list NULL",
                   clattn_sdpa_enqueue(plan, mq, mk, mv, NULL, NULL, mo, NULL, 1, NULL, NULL), INV,
                   clattn_last_error(g_ctx), "num_wait");
    bad += !expect("enqueue q NULL", clattn_sdpa_enqueue(plan, NULL, mk, mv, NULL, NULL, mo, NULL, 0, NULL, NULL),
                   INV, clattn_last_error(g_ctx), "q");
    bad += !expect("enqueue q too small",
                   clattn_sdpa_enqueue(plan, small, mk, mv, NULL, NULL, mo, NULL, 0, NULL, NULL), INV,
                   clattn_last_error(g_ctx), "q:");
    bad += !expect("enqueue out too small",
                   clattn_sdpa_enqueue(plan, mq, mk, mv, NULL, NULL, small, NULL, 0, NULL, NULL), INV,
                   clattn_last_error(g_ctx), "out:");
    bad += !expect("enqueue mask given with MASK_NONE",
                   clattn_sdpa_enqueue(plan, mq, mk, mv, small, NULL, mo, NULL, 0, NULL, NULL), INV,
                   clattn_last_error(g_ctx), "mask");
    clattn_status st = clattn_sdpa_enqueue(plan, mq, mk, mv, NULL, NULL, mo, NULL, 0, NULL, &ev);
    bad += !expect("enqueue valid", st, CLATTN_SUCCESS, clattn_last_error(g_ctx), NULL);
    if (st == CLATTN_SUCCESS) {
        if (!ev) {
            fprintf(stderr, "FAIL [errors/enqueue valid] no event returned\n");
            bad++;
        } else {
            bad += clWaitForEvents(1, &ev) != CL_SUCCESS;
            clReleaseEvent(ev);
        }
    }
    clReleaseMemObject(mq);
    clReleaseMemObject(mk);
    clReleaseMemObject(mv);
    clReleaseMemObject(mo);
    clReleaseMemObject(small);
    clattn_sdpa_plan_destroy(plan);
    assert_int_equal(bad, 0);
}

/* ---- contexts and device selectors --------------------------------------------------------- */

/* Names of every OpenCL device visible here (for checking the DEVICE_NOT_FOUND listing). */
static int list_cl_devices(char names[][256], int max)
{
    cl_platform_id plats[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS) return 0;
    int n = 0;
    for (cl_uint p = 0; p < np && p < 16; p++) {
        cl_device_id devs[16];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) != CL_SUCCESS) continue;
        for (cl_uint i = 0; i < nd && i < 16 && n < max; i++)
            if (clGetDeviceInfo(devs[i], CL_DEVICE_NAME, 256, names[n], NULL) == CL_SUCCESS) n++;
    }
    return n;
}

static void test_context_errors(void **state)
{
    (void)state;
    int bad = 0;
    bad += !expect("context_create(NULL)", clattn_context_create(NULL, NULL), INV, clattn_last_error(NULL), "ctx");
    clattn_context *c = (clattn_context *)(uintptr_t)1;
    clattn_context_options o;
    clattn_context_options_init(&o);

    o.device = "nosuchplatform";
    clattn_status st = clattn_context_create(&c, &o);
    const char *msg = clattn_last_error(NULL);
    bad += !expect("selector 'nosuchplatform'", st, CLATTN_ERROR_DEVICE_NOT_FOUND, msg, "nosuchplatform");
    bad += c != NULL;
    char names[32][256];
    int nd = list_cl_devices(names, 32);
    for (int i = 0; i < nd; i++)
        if (!strstr(msg, names[i])) {
            fprintf(stderr, "FAIL [errors/selector 'nosuchplatform'] message does not list device '%s': %s\n",
                    names[i], msg);
            bad++;
        }

    c = (clattn_context *)(uintptr_t)1;
    o.device = ":bogus:0";
    bad += !expect("selector ':bogus:0'", clattn_context_create(&c, &o), INV, clattn_last_error(NULL), "bogus");
    bad += c != NULL;
    o.device = ":::";
    bad += !expect("selector ':::' (4 fields)", clattn_context_create(&c, &o), INV, clattn_last_error(NULL),
                   "selector");
    o.device = "nosuchplatform:cpu:0";
    bad += !expect("selector 'nosuchplatform:cpu:0'", clattn_context_create(&c, &o), CLATTN_ERROR_DEVICE_NOT_FOUND,
                   clattn_last_error(NULL), "nosuchplatform");
    o.device = ":cpu:99";
    bad += !expect("selector ':cpu:99'", clattn_context_create(&c, &o), CLATTN_ERROR_DEVICE_NOT_FOUND,
                   clattn_last_error(NULL), NULL);
    o.device = ":accelerator:";
    bad += !expect("selector ':accelerator:'", clattn_context_create(&c, &o), CLATTN_ERROR_DEVICE_NOT_FOUND,
                   clattn_last_error(NULL), NULL);

    /* "::" is three empty fields: any platform, any type, any device (valid per clattn.h). */
    if (nd > 0) {
        o.device = "::";
        st = clattn_context_create(&c, &o);
        bad += !expect("selector '::' (all fields empty)", st, CLATTN_SUCCESS, clattn_last_error(NULL), NULL);
        if (st == CLATTN_SUCCESS) clattn_context_destroy(c);
    }
    o.device = "host";
    o.num_threads = -1;
    bad += !expect("host num_threads -1", clattn_context_create(&c, &o), INV, clattn_last_error(NULL),
                   "num_threads");
    o.num_threads = 0;

    bad += !expect("create_from_cl(NULL ctx)", clattn_context_create_from_cl(NULL, NULL, NULL, NULL), INV,
                   clattn_last_error(NULL), "ctx");
    c = (clattn_context *)(uintptr_t)1;
    bad += !expect("create_from_cl(NULL objects)", clattn_context_create_from_cl(&c, NULL, NULL, NULL), INV,
                   clattn_last_error(NULL), "context");
    bad += c != NULL;
    clattn_device_info info;
    clattn_device_info_init(&info);
    bad += !expect("get_info(ctx NULL)", clattn_context_get_info(NULL, &info), INV, clattn_last_error(NULL), "ctx");
    bad += !expect("get_info(info NULL)", clattn_context_get_info(g_ctx, NULL), INV, clattn_last_error(g_ctx),
                   "info");
    bad += !expect("get_cl(ctx NULL)", clattn_context_get_cl(NULL, NULL, NULL, NULL), INV, clattn_last_error(NULL),
                   "ctx");
    assert_int_equal(bad, 0);
}

static void test_status_strings(void **state)
{
    (void)state;
    static const struct {
        clattn_status s;
        int value;
        const char *text;
    } all[] = {
        {CLATTN_SUCCESS, 0, "success"},
        {CLATTN_ERROR_INVALID_ARGUMENT, 1, "invalid argument"},
        {CLATTN_ERROR_UNSUPPORTED, 2, "unsupported"},
        {CLATTN_ERROR_OUT_OF_MEMORY, 3, "out of memory"},
        {CLATTN_ERROR_DEVICE_NOT_FOUND, 4, "device not found"},
        {CLATTN_ERROR_OPENCL, 5, "OpenCL"},
        {CLATTN_ERROR_KERNEL_BUILD, 6, "kernel build"},
        {CLATTN_ERROR_IO, 7, "I/O"},
        {CLATTN_ERROR_INTERNAL, 8, "internal"},
        {CLATTN_ERROR_COMMUNICATION, 9, "communication"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *t = clattn_status_string(all[i].s);
        if ((int)all[i].s != all[i].value || !t || !*t || !strstr(t, all[i].text)) {
            fprintf(stderr, "FAIL [errors/status_string] status %d: '%s', expected value %d and text with '%s'\n",
                    (int)all[i].s, t ? t : "(null)", all[i].value, all[i].text);
            bad++;
        }
        for (size_t j = 0; j < i; j++)
            if (t && strcmp(t, clattn_status_string(all[j].s)) == 0) bad++;
    }
    const char *u = clattn_status_string((clattn_status)42);
    bad += !u || !*u;
    u = clattn_status_string((clattn_status)-1);
    bad += !u || !*u;
    const char *ver = clattn_version_string();
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CLATTN_VERSION_MAJOR, CLATTN_VERSION_MINOR, CLATTN_VERSION_PATCH);
    if (!ver || strcmp(ver, want) != 0) {
        fprintf(stderr, "FAIL [errors/version] '%s', expected '%s'\n", ver ? ver : "(null)", want);
        bad++;
    }
    assert_int_equal(bad, 0);
}

static void test_destroy_null(void **state)
{
    (void)state;
    clattn_context_destroy(NULL);
    clattn_sdpa_plan_destroy(NULL);
    clattn_mha_destroy(NULL);
    clattn_sdpa_desc_init(NULL, 1, 1, 1, 1, 1, 1, 1);
    clattn_mha_options_init(NULL);
}

/* ---- MHA ------------------------------------------------------------------------------------ */

enum { ME = 8, MH = 2, MKD = 5, MVD = 3 };
static float w_q[ME * ME], w_k[ME * MKD], w_v[ME * MVD], w_o[ME * ME], bias[ME];

static clattn_mha_weights mha_weights(void)
{
    clattn_mha_weights w;
    clattn_mha_weights_init(&w);
    w.embed_dim = ME;
    w.num_heads = MH;
    w.kdim = MKD;
    w.vdim = MVD;
    w.w_q = w_q;
    w.w_k = w_k;
    w.w_v = w_v;
    w.w_o = w_o;
    w.b_q = w.b_k = w.b_v = w.b_o = bias;
    return w;
}

typedef struct mha_create_case {
    const char *name;
    void (*mod)(clattn_mha_weights *w);
    const char *needle;
} mha_create_case;

#define WMOD(fn, body) \
    static void fn(clattn_mha_weights *w) { body; }
WMOD(w_e0, w->embed_dim = 0)
WMOD(w_eneg, w->embed_dim = -4)
WMOD(w_ehuge, w->embed_dim = (int64_t)1 << 40)
WMOD(w_h0, w->num_heads = 0)
WMOD(w_h3, w->num_heads = 3)
WMOD(w_hneg, w->num_heads = -2)
WMOD(w_kneg, w->kdim = -1)
WMOD(w_vneg, w->vdim = -2)
WMOD(w_wq, w->w_q = NULL)
WMOD(w_wk, w->w_k = NULL)
WMOD(w_wv, w->w_v = NULL)
WMOD(w_wo, w->w_o = NULL)

static const mha_create_case mha_create_cases[] = {
    {"embed_dim 0", w_e0, "embed_dim"},   {"embed_dim < 0", w_eneg, "embed_dim"},
    {"embed_dim huge", w_ehuge, "embed_dim"}, {"num_heads 0", w_h0, "num_heads"},
    {"num_heads does not divide E", w_h3, "num_heads"}, {"num_heads < 0", w_hneg, "num_heads"},
    {"kdim < 0", w_kneg, "kdim"},          {"vdim < 0", w_vneg, "vdim"},
    {"w_q NULL", w_wq, "w_q"},             {"w_k NULL", w_wk, "w_k"},
    {"w_v NULL", w_wv, "w_v"},             {"w_o NULL", w_wo, "w_o"},
};

static void test_mha_create_errors(void **state)
{
    (void)state;
    int bad = 0;
    clattn_mha_weights w = mha_weights();
    clattn_mha *m = (clattn_mha *)(uintptr_t)1;
    bad += !expect("mha_create(mha NULL)", clattn_mha_create(NULL, g_ctx, &w), INV, clattn_last_error(g_ctx), "mha");
    bad += !expect("mha_create(ctx NULL)", clattn_mha_create(&m, NULL, &w), INV, clattn_last_error(NULL), "ctx");
    bad += m != NULL;
    m = (clattn_mha *)(uintptr_t)1;
    bad += !expect("mha_create(weights NULL)", clattn_mha_create(&m, g_ctx, NULL), INV, clattn_last_error(g_ctx),
                   "weights");
    bad += m != NULL;
    for (size_t i = 0; i < sizeof mha_create_cases / sizeof mha_create_cases[0]; i++) {
        w = mha_weights();
        mha_create_cases[i].mod(&w);
        m = (clattn_mha *)(uintptr_t)1;
        bad += !expect(mha_create_cases[i].name, clattn_mha_create(&m, g_ctx, &w), INV, clattn_last_error(g_ctx),
                       mha_create_cases[i].needle);
        bad += m != NULL;
    }
    /* biases are optional */
    w = mha_weights();
    w.b_q = w.b_k = w.b_v = w.b_o = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &w);
    bad += !expect("mha_create without biases", st, CLATTN_SUCCESS, clattn_last_error(g_ctx), NULL);
    if (st == CLATTN_SUCCESS) clattn_mha_destroy(m);
    assert_int_equal(bad, 0);
}

static void test_mha_forward_errors(void **state)
{
    (void)state;
    int bad = 0;
    clattn_mha_weights w = mha_weights();
    clattn_mha *cross = NULL, *self = NULL;
    assert_int_equal(clattn_mha_create(&cross, g_ctx, &w), CLATTN_SUCCESS);
    w.kdim = w.vdim = 0;
    w.w_k = w_q, w.w_v = w_q;
    assert_int_equal(clattn_mha_create(&self, g_ctx, &w), CLATTN_SUCCESS);
    enum { B = 2, LQ_ = 3, LK_ = 4 };
    static float query[B * LQ_ * ME], key[B * LK_ * MKD], value[B * LK_ * MVD], out[B * LQ_ * ME],
        probs[B * MH * LQ_ * LK_];
    static uint8_t mask[B * MH * LQ_ * LK_];
    int32_t kvl_big[B] = {LK_, LK_ + 1};
    clattn_mha_options o, ph;
    clattn_mha_options_init(&o);
    clattn_mha_options_init(&ph);
    ph.probs_mode = CLATTN_PROBS_PER_HEAD;
    clattn_mha_options bm = o;
    bm.mask_kind = CLATTN_MASK_BOOL;
    bm.mask = clattn_tensor_contiguous(1, 3, LQ_, LK_); /* heads 3 != 2 */
    clattn_mha_options bad_probs = o, bad_causal = o, bad_win = o, bad_cap = o, bad_scale = o, bmk = o;
    bad_probs.probs_mode = (clattn_probs_mode)7;
    bad_causal.causal = (clattn_causal)9;
    bad_win.window_left = -3;
    bad_cap.softcap = -1.0f;
    bad_scale.scale = NAN;
    bmk.mask_kind = (clattn_mask_kind)5;
#define FW(name, m, b, lq, lk, qq, kk, vv, mm, ll, op, oo, pp, needle)                                   \
    bad += !expect(name, clattn_mha_forward(m, b, lq, lk, qq, kk, vv, mm, ll, op, oo, pp), INV,        \
                   clattn_last_error(m ? g_ctx : NULL), needle)
    FW("forward(mha NULL)", NULL, B, LQ_, LK_, query, key, value, NULL, NULL, &o, out, NULL, "mha");
    FW("query NULL", cross, B, LQ_, LK_, NULL, key, value, NULL, NULL, &o, out, NULL, "query");
    FW("out NULL", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &o, NULL, NULL, "out");
    FW("key given, value NULL", cross, B, LQ_, LK_, query, key, NULL, NULL, NULL, &o, out, NULL, "value");
    FW("value given, key NULL", cross, B, LQ_, LK_, query, NULL, value, NULL, NULL, &o, out, NULL, "key");
    FW("self-attention with kdim != E", cross, B, LQ_, LQ_, query, NULL, NULL, NULL, NULL, &o, out, NULL, "kdim");
    FW("self-attention with kv_len != q_len", self, B, LQ_, LK_, query, NULL, NULL, NULL, NULL, &o, out, NULL,
       "kv_len");
    FW("batch 0", cross, 0, LQ_, LK_, query, key, value, NULL, NULL, &o, out, NULL, "batch");
    FW("q_len -1", cross, B, -1, LK_, query, key, value, NULL, NULL, &o, out, NULL, "q_len");
    FW("kv_len 0", cross, B, LQ_, 0, query, key, value, NULL, NULL, &o, out, NULL, "kv_len");
    FW("batch huge", cross, (int64_t)1 << 40, LQ_, LK_, query, key, value, NULL, NULL, &o, out, NULL, "batch");
    FW("probs_mode 7", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bad_probs, out, probs, "probs_mode");
    FW("probs given with PROBS_NONE", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &o, out, probs, "probs");
    FW("probs NULL with PER_HEAD", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &ph, out, NULL, "probs");
    FW("mask given with MASK_NONE", cross, B, LQ_, LK_, query, key, value, mask, NULL, &o, out, NULL, "mask");
    FW("mask NULL with MASK_BOOL", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bm, out, NULL, "mask");
    FW("mask heads 3 != 2", cross, B, LQ_, LK_, query, key, value, mask, NULL, &bm, out, NULL, "mask: dim 1");
    FW("mask_kind 5", cross, B, LQ_, LK_, query, key, value, mask, NULL, &bmk, out, NULL, "mask_kind");
    FW("kv_lengths[1] = Lk + 1", cross, B, LQ_, LK_, query, key, value, NULL, kvl_big, &o, out, NULL,
       "kv_lengths: element 1");
    FW("causal 9", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bad_causal, out, NULL, "causal");
    FW("window_left -3", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bad_win, out, NULL, "window_left");
    FW("softcap -1", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bad_cap, out, NULL, "softcap");
    FW("scale NaN", cross, B, LQ_, LK_, query, key, value, NULL, NULL, &bad_scale, out, NULL, "scale");
#undef FW
    clattn_status st = clattn_mha_forward(cross, B, LQ_, LK_, query, key, value, NULL, NULL, &ph, out, probs);
    bad += !expect("valid cross forward", st, CLATTN_SUCCESS, clattn_last_error(g_ctx), NULL);
    clattn_mha_destroy(cross);
    clattn_mha_destroy(self);
    assert_int_equal(bad, 0);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desc_base_valid),        cmocka_unit_test(test_desc_table),
        cmocka_unit_test(test_plan_create_nulls),      cmocka_unit_test(test_execute_args),
        cmocka_unit_test(test_enqueue_host_unsupported), cmocka_unit_test(test_enqueue_args_opencl),
        cmocka_unit_test(test_context_errors),         cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_destroy_null),           cmocka_unit_test(test_mha_create_errors),
        cmocka_unit_test(test_mha_forward_errors),     cmocka_unit_test(test_desc_init_huge_dims),
    };
    int failed = cmocka_run_group_tests_name("errors", tests, NULL, NULL);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
