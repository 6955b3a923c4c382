/*
 * test_oclgrind_cases: tiny SDPA and MHA problems meant to run under the Oclgrind device simulator
 *   oclgrind --check-api --data-races --uninitialized test_oclgrind_cases <group>[:cpu]
 * with CLATTN_DEVICE=oclgrind. Oclgrind checks every work-item of every kernel launch for
 * out-of-bounds and unaligned accesses, data races in local and global memory, uses of uninitialised
 * values, barrier divergence, and every OpenCL API call for errors; it prints what it finds on stderr
 * (CTest fails the test on those lines: see CMakeLists.txt). This program also checks each result
 * against the double-precision reference (tests/support, tolerance TU_TOL_F32 = 1e-5 relative to
 * max(1, max|ref|), exact zeros for disallowed keys, untouched gaps), so a kernel that the simulator
 * finds clean must also be right.
 *
 * Groups (one CTest test each, every one well under a minute under the simulator):
 *   sizes   odd sizes around the tile edges (1, 3, 5, 9, 17, 33, 70), Lq != Lk, Dv != D, GQA and MQA,
 *           strided [B, L, H, D] / padded / column-strided layouts with offsets, k/v broadcast over the
 *           batch, explicit and negative scale, plan reuse
 *   masks   both causal alignments, windows (0, -1, both sides), bool and additive masks with broadcast
 *           combinations and strided layouts, kv_lengths (Lk, 0, random), softcap, strided probs,
 *           fully masked rows, inf/NaN in masked V rows, everything combined
 *   long    launches split over the reduction: keys (weighted_sum, kv length > one launch's budget) and
 *           head dim (scores with a partial-sum pass, D > one launch's budget)
 *   chunks  workspace chunking over (batch, head) pairs and over query rows (a small max allocation is
 *           reported to clattn, see rel_cl_shim.c)
 *   mha     the multi-head module: projections through CLBlast SGEMM plus kernels/bias.cl, self and
 *           cross attention, with and without biases, masks, kv_lengths, per-head and averaged probs
 *   enqueue the zero-copy clattn_sdpa_enqueue path on caller cl_mem buffers, with a wait list and event
 *   lse     the log-sum-exp output (want_lse) of the chain's softmax, the fused kernel and its partition merge
 *   merge   kernels/merge.cl (clattn_merge_*): float32, float16 and bfloat16, out of place and in place (one
 *           work-item owns each row), against a double-precision merge; and 16-bit SDPA (fp16 and bf16 calls
 *           on strided views, prefill and decode shapes, against the double reference): the -D ELEM16 builds
 *           that read and write the 16-bit arrays in place (fused.cl tiled and direct with :cpu, fused_gpu.cl
 *           otherwise, the chain in merge.chain)
 *   paged   the paged KV cache (-D CLATTN_PAGED builds of the SDPA kernels, kernels/paged.cl): decode and chunked
 *           prefill on cl_mem pools through a block table (tests/support/paged_cl_case.c), with out-of-range
 *           table entries (their keys must be dropped without any access outside the pools), and the append
 *           with rows that have no valid block (not written)
 * A ":cpu" suffix makes clGetDeviceInfo(CL_DEVICE_TYPE) answer CPU (rel_cl_shim.c): Oclgrind reports
 * every device type, so clattn otherwise takes its GPU kernel variants only. Buffers are released only at
 * exit (rel_keep_buffers): Oclgrind 21.10's --uninitialized check misreports a reused buffer slot.
 * Arguments: <group>[:cpu] [cmocka test filter, e.g. "kvl*"]. REL_TRACE_LAUNCHES=1 prints every launch;
 * REL_NO_PROBS=1 drops the probabilities of every case (so the fused paths take them all).
 * No argument runs every group except chunks (which needs its own allocation limit).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "f16_ref.h"
#include "paged_cl_case.h"
#include "mha_case.h"
#include "reference.h"
#include "rel_cl_shim.h"
#include "cases.h"

static clattn_context *g_ctx;

#define SZ(b, hq, hkv, lq, lk, d, dv) .B = b, .Hq = hq, .Hkv = hkv, .Lq = lq, .Lk = lk, .D = d, .Dv = dv
#define BOOLM CLATTN_MASK_BOOL
#define ADDM CLATTN_MASK_ADDITIVE
#define TL CLATTN_CAUSAL_TOP_LEFT
#define BR CLATTN_CAUSAL_BOTTOM_RIGHT




/* Workspace chunking: the "chunks" group reports a max allocation of CHUNK_MAX_ALLOC bytes (rel_cl_shim.c),
 * so the score workspace (max alloc / 2 = 16384 floats here) holds only some (b, h) pairs, or only some
 * query rows of one pair. */
#define CHUNK_MAX_ALLOC (128u << 10)

/* The cases: rows tagged oclgrind-* in tests/cases/cases.c. */
#define MAX_TESTS 64
static const mha_case *g_mha[MAX_TESTS]; /* the oclgrind-mha rows */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct sdpa_group_case {
    const sdpa_case *c;
    const char *area;
    int idx;
} sdpa_group_case;

/* REL_NO_PROBS=1: every case runs without probabilities, so that the fused paths (which serve no plan
 * with probabilities) run all of them; set for the GPU-profile runs (CMakeLists.txt). */
static bool g_no_probs;

static bool run_sdpa_case(const sdpa_case *c0, const char *area, int idx, int reuse)
{
    sdpa_case nc = *c0;
    if (g_no_probs) nc.probs = 0;
    const sdpa_case *c = &nc;
    tu_where w = {area, c->name, tu_case_seed(area, idx)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, c, &r);
    bool ok;
    if (!reuse) {
        ok = sdpa_data_run(g_ctx, &d, idx % 2, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    } else {
        clattn_sdpa_plan *plan = NULL;
        clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d.desc);
        ok = st == CLATTN_SUCCESS;
        if (!ok) tu_report(&w, "plan_create: %d %s", (int)st, clattn_last_error(g_ctx));
        for (int it = 0; ok && it < 2; it++) {
            if (it > 0) sdpa_data_refill(&d, c, &r);
            st = clattn_sdpa_execute(plan, d.q, d.k, d.v, d.mask, d.kvl, d.out, d.probs);
            if (st != CLATTN_SUCCESS) tu_report(&w, "execute #%d: %d %s", it, (int)st, clattn_last_error(g_ctx));
            ok = st == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
        }
        clattn_sdpa_plan_destroy(plan);
    }
    sdpa_data_free(&d);
    return ok;
}

static void test_sdpa_case(void **state)
{
    const sdpa_group_case *g = *state;
    assert_true(run_sdpa_case(g->c, g->area, g->idx, 0));
}

static void test_plan_reuse(void **state)
{
    (void)state;
    const sdpa_case c = {"plan_reuse", SZ(2, 2, 1, 5, 9, 8, 8), .lk = TU_BLHD, .causal = BR, .mask_kind = ADDM,
                         .mq = 1, .kvl = 1, .probs = 1, .lp = TU_PAD};
    assert_true(run_sdpa_case(&c, "oclgrind.reuse", 0, 1));
}

/* A masked V row holding inf / NaN must not reach the output (weighted_sum skips p == 0). */
static void test_masked_v_nonfinite(void **state)
{
    (void)state;
    const sdpa_case c = {"masked_v_inf_nan", SZ(2, 2, 2, 5, 9, 4, 4), .mask_kind = BOOLM, .mb = 1, .mh = 1,
                         .mq = 1, .kvl = 1, .probs = 1};
    tu_where w = {"oclgrind.masks", c.name, tu_case_seed("oclgrind.masks", 100)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    /* Key 8 of batch 1 is beyond its kv length (0) and key 0 is masked for every row: poison their V. */
    uint8_t *m = d.mask;
    for (int64_t b = 0; b < c.B; b++)
        for (int64_t h = 0; h < c.Hq; h++)
            for (int64_t i = 0; i < c.Lq; i++) m[tu_index(&d.desc.mask, b, h, i, 0)] = 0;
    for (int64_t b = 0; b < c.B; b++)
        for (int64_t h = 0; h < c.Hkv; h++)
            for (int64_t e = 0; e < c.Dv; e++) {
                d.v[tu_index(&d.desc.v, b, h, 0, e)] = e % 2 ? NAN : INFINITY;
                d.v[tu_index(&d.desc.v, b, h, 8, e)] = b == 1 ? NAN : d.v[tu_index(&d.desc.v, b, h, 8, e)];
            }
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* The same without probabilities, so the fused kernel runs it (cases with probabilities take the chain):
 * bottom-right causal + a broadcast bool mask hiding key 20 of 67, whose V rows hold +inf / NaN; several
 * key tiles, D = 40 (not a multiple of the vector width). */
static void test_masked_v_nonfinite_fused(void **state)
{
    (void)state;
    const sdpa_case c = {"masked_v_inf_nan_noprobs", SZ(1, 2, 2, 7, 67, 40, 40), .causal = BR, .mask_kind = BOOLM};
    tu_where w = {"oclgrind.masks", c.name, tu_case_seed("oclgrind.masks", 101)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    uint8_t *m = d.mask;
    for (int64_t j = 0; j < c.Lk; j++) m[tu_index(&d.desc.mask, 0, 0, 0, j)] = 1;
    m[tu_index(&d.desc.mask, 0, 0, 0, 20)] = 0;
    for (int64_t h = 0; h < c.Hkv; h++)
        for (int64_t e = 0; e < c.Dv; e++) d.v[tu_index(&d.desc.v, 0, h, 20, e)] = e % 3 ? INFINITY : NAN;
    bool ok = sdpa_data_run(g_ctx, &d, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&d, &w);
    sdpa_data_free(&d);
    assert_true(ok);
}

static void test_mha_case(void **state)
{
    const mha_case *const *row = *state;
    assert_true(mha_case_run_checked(g_ctx, *row, "oclgrind.mha", (int)(row - g_mha)));
}

/* ---- zero-copy enqueue on caller buffers ----------------------------------------------------------- */

static cl_mem upload(cl_context cl, cl_command_queue q, const void *host, size_t bytes, bool *ok)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        *ok = false;
        return NULL;
    }
    if (host) err = clEnqueueWriteBuffer(q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS) *ok = false;
    return m;
}

static void test_enqueue(void **state)
{
    (void)state;
    const sdpa_case c = {"enqueue", SZ(2, 4, 2, 5, 9, 8, 4), .lq = TU_BLHD, .lo = TU_PAD, .off_o = 3,
                         .mask_kind = BOOLM, .mq = 1, .kvl = 1, .causal = TL, .probs = 1, .lp = TU_BLHD_PAD};
    tu_where w = {"oclgrind.enqueue", c.name, tu_case_seed("oclgrind.enqueue", 0)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    sdpa_data d;
    sdpa_data_make(&d, &c, &r);
    cl_context cl = NULL;
    cl_device_id dev = NULL;
    cl_command_queue q = NULL;
    bool ok = clattn_context_get_cl(g_ctx, &cl, &dev, &q) == CLATTN_SUCCESS && cl && q;
    /* out and probs are uploaded poisoned: their gaps must come back untouched. */
    cl_mem mq = upload(cl, q, d.q, (size_t)d.nq * 4, &ok), mk = upload(cl, q, d.k, (size_t)d.nk * 4, &ok);
    cl_mem mv = upload(cl, q, d.v, (size_t)d.nv * 4, &ok), mm = upload(cl, q, d.mask, (size_t)d.nm, &ok);
    cl_mem ml = upload(cl, q, d.kvl, (size_t)c.B * 4, &ok), mo = upload(cl, q, d.out, (size_t)d.no * 4, &ok);
    cl_mem mp = upload(cl, q, d.probs, (size_t)d.np * 4, &ok);
    clattn_sdpa_plan *plan = NULL;
    if (ok && clattn_sdpa_plan_create(&plan, g_ctx, &d.desc) != CLATTN_SUCCESS) {
        tu_report(&w, "plan_create: %s", clattn_last_error(g_ctx));
        ok = false;
    }
    cl_event before = NULL, done = NULL;
    if (ok) {
        cl_int err = CL_SUCCESS;
        before = clCreateUserEvent(cl, &err);
        ok = err == CL_SUCCESS;
    }
    if (ok) {
        clattn_status st = clattn_sdpa_enqueue(plan, mq, mk, mv, mm, ml, mo, mp, 1, &before, &done);
        if (st != CLATTN_SUCCESS) tu_report(&w, "enqueue: %d %s", (int)st, clattn_last_error(g_ctx));
        ok = clSetUserEventStatus(before, CL_COMPLETE) == CL_SUCCESS && st == CLATTN_SUCCESS;
    }
    if (ok) ok = clWaitForEvents(1, &done) == CL_SUCCESS;
    if (ok) ok = clEnqueueReadBuffer(q, mo, CL_TRUE, 0, (size_t)d.no * 4, d.out, 0, NULL, NULL) == CL_SUCCESS;
    if (ok) ok = clEnqueueReadBuffer(q, mp, CL_TRUE, 0, (size_t)d.np * 4, d.probs, 0, NULL, NULL) == CL_SUCCESS;
    if (ok) ok = sdpa_data_check(&d, &w);
    else tu_report(&w, "an OpenCL call around clattn_sdpa_enqueue failed");
    if (done) clReleaseEvent(done);
    if (before) clReleaseEvent(before);
    clattn_sdpa_plan_destroy(plan);
    cl_mem all[] = {mq, mk, mv, mm, ml, mo, mp};
    for (size_t i = 0; i < COUNT(all); i++)
        if (all[i]) clReleaseMemObject(all[i]);
    sdpa_data_free(&d);
    assert_true(ok);
}

/* ---- merge of partial states (kernels/merge.cl) ---------------------------------------------------- */

/* Stacked parts [P, B, H, L, Dv] / [P, B, H, L] (contiguous), some rows of some parts empty (lse -inf, out NaN:
 * never read); merged out of place (float32, float16) and in place into part 0, against a double merge. */
static void test_merge(void **state)
{
    (void)state;
    enum { P = 3, B = 2, H = 3, L = 5, DV = 12, ROWS = B * H * L };
    tu_where w = {"oclgrind.merge", "merge", tu_case_seed("oclgrind.merge", 0)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    static float po[P * ROWS * DV], pl[P * ROWS], out[ROWS * DV], lse[ROWS];
    static uint16_t po16[P * ROWS * DV], out16[ROWS * DV];
    static double ro[ROWS * DV], rl[ROWS];
    for (int i = 0; i < P * ROWS; i++) pl[i] = tu_rng_int(&r, 0, 4) == 0 ? -INFINITY : (float)tu_rng_uniform(&r, -9, 9);
    for (int i = 0; i < P * ROWS * DV; i++) {
        po[i] = pl[i / DV] == -INFINITY ? NAN : (float)tu_rng_uniform(&r, -1, 1);
        po16[i] = f16r_from_double((double)po[i]);
    }
    for (int rr = 0; rr < ROWS; rr++) {
        double M = -INFINITY, S = 0.0;
        for (int p = 0; p < P; p++)
            if (pl[p * ROWS + rr] > M) M = pl[p * ROWS + rr];
        for (int e = 0; e < DV; e++) ro[rr * DV + e] = 0.0;
        rl[rr] = -INFINITY;
        if (M == -INFINITY) continue;
        for (int p = 0; p < P; p++) {
            if (pl[p * ROWS + rr] == -INFINITY) continue;
            const double wgt = exp(pl[p * ROWS + rr] - M);
            S += wgt;
            for (int e = 0; e < DV; e++) ro[rr * DV + e] += wgt * po[(p * ROWS + rr) * DV + e];
        }
        for (int e = 0; e < DV; e++) ro[rr * DV + e] /= S;
        rl[rr] = M + log(S);
    }
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, P, B, H, L, DV);
    md.want_lse = 1;
    clattn_status st = clattn_merge_states(g_ctx, &md, po, pl, out, lse);
    if (st != CLATTN_SUCCESS) tu_report(&w, "merge: %d %s", (int)st, clattn_last_error(g_ctx));
    bool ok = st == CLATTN_SUCCESS && tu_check_array(&w, "out", out, ro, ROWS * DV, 2e-6) &&
              tu_check_array(&w, "lse", lse, rl, ROWS, 2e-6);
    /* float16 parts and out: vload_half / vstore_half_rte under the simulator, within fp16 rounding */
    md.data_type = CLATTN_DTYPE_F16;
    st = clattn_merge_states(g_ctx, &md, po16, pl, out16, lse);
    if (st != CLATTN_SUCCESS) tu_report(&w, "f16 merge: %d %s", (int)st, clattn_last_error(g_ctx));
    for (int i = 0; i < ROWS * DV; i++) out[i] = (float)f16r_to_double(out16[i]);
    ok = ok && st == CLATTN_SUCCESS && tu_check_array(&w, "f16 out", out, ro, ROWS * DV, 2e-3);
    /* bfloat16 parts and out: ushort shifts and the RNE of common.cl under the simulator */
    for (int i = 0; i < P * ROWS * DV; i++) po16[i] = bf16r_from_double((double)po[i]);
    md.data_type = CLATTN_DTYPE_BF16;
    st = clattn_merge_states(g_ctx, &md, po16, pl, out16, lse);
    if (st != CLATTN_SUCCESS) tu_report(&w, "bf16 merge: %d %s", (int)st, clattn_last_error(g_ctx));
    for (int i = 0; i < ROWS * DV; i++) out[i] = (float)bf16r_to_double(out16[i]);
    ok = ok && st == CLATTN_SUCCESS && tu_check_array(&w, "bf16 out", out, ro, ROWS * DV, 1.6e-2);
    /* in place: out and lse are part 0's slices */
    md.data_type = CLATTN_DTYPE_F32;
    const int64_t od[4] = {B, H, L, DV}, os[4] = {H * L * DV, L * DV, DV, 1}, ld[3] = {B, H, L}, ls[3] = {H * L, L, 1};
    md.out = clattn_tensor_view(4, od, os, 0);
    md.lse = clattn_tensor_view(3, ld, ls, 0);
    st = clattn_merge_states(g_ctx, &md, po, pl, po, pl);
    if (st != CLATTN_SUCCESS) tu_report(&w, "in-place merge: %d %s", (int)st, clattn_last_error(g_ctx));
    ok = ok && st == CLATTN_SUCCESS && tu_check_array(&w, "in-place out", po, ro, ROWS * DV, 2e-6) &&
         tu_check_array(&w, "in-place lse", pl, rl, ROWS, 2e-6);
    assert_true(ok);
}

/* 16-bit SDPA read and written in place (-D ELEM16 builds of every SDPA kernel, no staging): q, k, v from
 * 16-bit views with gaps (k with a padded row stride, out at an offset inside a larger
 * buffer), for float16 and bfloat16, a prefill shape (17 query rows: fused.cl's tiled kernel under :cpu,
 * fused_gpu.cl's prefill kernel otherwise, or the chain) and a decode shape (1 row: fused.cl's direct kernel /
 * clattn_decode_gpu), against the double reference on the rounded inputs; the out buffer's gap elements keep
 * their poison. */
static void test_dtype16_sdpa(void **state)
{
    (void)state;
    enum { B = 1, H = 2, LMAX = 17, LK = 7, D = 8, KS = 11, OFF = 3, NO = OFF + B * H * LMAX * D + 4 };
    tu_where w = {"oclgrind.merge", "dtype16_sdpa", tu_case_seed("oclgrind.merge", 1)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    static float q[B * H * LMAX * D], k[B * H * LK * KS], v[B * H * LK * D], outf[B * H * LMAX * D];
    static uint16_t q16[B * H * LMAX * D], k16[B * H * LK * KS], v16[B * H * LK * D], out16[NO];
    static double ro[B * H * LMAX * D];
    bool ok = true;
    for (int c = 0; c < 4 && ok; c++) {
        const int bf = c % 2, L = c < 2 ? LMAX : 1;
        for (int i = 0; i < B * H * L * D; i++) q[i] = (float)tu_rng_uniform(&r, -1, 1);
        for (int i = 0; i < B * H * LK * KS; i++) k[i] = (float)tu_rng_uniform(&r, -1, 1);
        for (int i = 0; i < B * H * LK * D; i++) v[i] = (float)tu_rng_uniform(&r, -1, 1);
#define RND16(x, h)                                                                          \
    do {                                                                                     \
        (h) = bf ? bf16r_from_double((double)(x)) : f16r_from_double((double)(x));           \
        (x) = (float)(bf ? bf16r_to_double(h) : f16r_to_double(h));                          \
    } while (0)
        for (int i = 0; i < B * H * L * D; i++) RND16(q[i], q16[i]);
        for (int i = 0; i < B * H * LK * KS; i++) RND16(k[i], k16[i]);
        for (int i = 0; i < B * H * LK * D; i++) RND16(v[i], v16[i]);
#undef RND16
        const uint16_t poison = bf ? BF16R_POISON : F16R_POISON;
        for (int i = 0; i < NO; i++) out16[i] = poison;
        clattn_sdpa_desc desc;
        clattn_sdpa_desc_init(&desc, B, H, H, L, LK, D, D);
        desc.data_type = bf ? CLATTN_DTYPE_BF16 : CLATTN_DTYPE_F16;
        desc.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
        const int64_t kd[4] = {B, H, LK, D}, kst[4] = {H * LK * KS, LK * KS, KS, 1};
        desc.k = clattn_tensor_view(4, kd, kst, 0);
        desc.out.offset = OFF;
        ref_sdpa(&desc, q, k, v, NULL, NULL, ro, NULL);
        clattn_status st = clattn_sdpa(g_ctx, &desc, q16, k16, v16, NULL, NULL, out16, NULL);
        if (st != CLATTN_SUCCESS)
            tu_report(&w, "%s sdpa (L %d): %d %s", bf ? "bf16" : "f16", L, (int)st, clattn_last_error(g_ctx));
        ok = st == CLATTN_SUCCESS;
        for (int i = 0; i < B * H * L * D && ok; i++)
            outf[i] = (float)(bf ? bf16r_to_double(out16[OFF + i]) : f16r_to_double(out16[OFF + i]));
        ok = ok && tu_check_array(&w, bf ? "bf16 out" : "f16 out", outf, ro, B * H * L * D, bf ? 8e-3 : 1e-3);
        for (int i = 0; i < NO && ok; i++)
            if ((i < OFF || i >= OFF + B * H * L * D) && out16[i] != poison) {
                tu_report(&w, "out gap element %d overwritten: 0x%04x (L %d)", i, (unsigned)out16[i], L);
                ok = false;
            }
    }
    assert_true(ok);
}

/* ---- paged KV cache (tests/support/paged_cl_case.c) ------------------------------------------------ */

static const pcase g_paged[] = {
    {"paged_decode", .B = 3, .Hq = 4, .Hkv = 2, .Lq = 1, .D = 8, .Dv = 5, .bs = 16, .maxb = 3,
     .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .interleaved = 1, .zero_len = 1, .lse = 1, .wl = -1},
    {"paged_prefill", .B = 2, .Hq = 2, .Hkv = 2, .Lq = 5, .D = 6, .Dv = 8, .bs = 16, .maxb = 2,
     .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .mask = 1, .wl = -1},
    {"paged_f16", .B = 2, .Hq = 2, .Hkv = 1, .Lq = 2, .D = 4, .Dv = 4, .bs = 16, .maxb = 2,
     .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .f16 = 1, .wl = -1},
};

static void test_paged_case(void **state)
{
    const pcase *c = *state;
    tu_where w = {"oclgrind.paged", c->name, tu_case_seed("oclgrind.paged", (int)(c - g_paged))};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    pdata d;
    paged_data_make(&d, c, &r);
    bool ok = paged_data_run(g_ctx, &d, c, true, &w) == CLATTN_SUCCESS && paged_data_check(&d, c, &w);
    paged_data_free(&d);
    assert_true(ok);
}

/* Out-of-range entries in the blocks of the longest sequence, decode and prefill. */
static void test_paged_bad_entries(void **state)
{
    (void)state;
    static const pcase cs[] = {
        {"bad_decode", .B = 2, .Hq = 2, .Hkv = 1, .Lq = 1, .D = 4, .Dv = 4, .bs = 16, .maxb = 3,
         .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .wl = -1},
        {"bad_prefill", .B = 2, .Hq = 1, .Hkv = 1, .Lq = 3, .D = 4, .Dv = 3, .bs = 16, .maxb = 3,
         .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .wl = -1},
    };
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        tu_where w = {"oclgrind.paged", cs[k].name, tu_case_seed("oclgrind.paged.bad", k)};
        tu_rng r;
        tu_rng_init(&r, w.seed);
        pdata d;
        paged_data_make(&d, &cs[k], &r);
        paged_data_break_table(&d, &cs[k]);
        ok = paged_data_run(g_ctx, &d, &cs[k], true, &w) == CLATTN_SUCCESS && paged_data_check(&d, &cs[k], &w) && ok;
        paged_data_free(&d);
    }
    assert_true(ok);
}

static void test_paged_append(void **state)
{
    (void)state;
    bool ok = true;
    for (int f16 = 0; f16 < 2; f16++) {
        tu_where w = {"oclgrind.paged", f16 ? "append_f16" : "append_f32", tu_case_seed("oclgrind.paged.append", f16)};
        ok = paged_append_check(g_ctx, f16, &w) && ok;
    }
    assert_true(ok);
}

/* ---- groups ---------------------------------------------------------------------------------------- */


/* Adds the rows tagged tag (seed index: position among them) as tests of area. */
static size_t add_sdpa(struct CMUnitTest *t, size_t n, sdpa_group_case *store, unsigned tag, const char *area)
{
    const case_row *rows[MAX_TESTS];
    const size_t count = case_rows_tagged(tag, rows, MAX_TESTS);
    for (size_t i = 0; i < count && n < MAX_TESTS; i++, n++) {
        store[i] = (sdpa_group_case){&rows[i]->c, area, (int)i};
        t[n] = (struct CMUnitTest){rows[i]->c.name, test_sdpa_case, NULL, NULL, &store[i]};
    }
    return n;
}

static int run_group(const char *group)
{
    static sdpa_group_case store[5][MAX_TESTS];
    struct CMUnitTest t[MAX_TESTS];
    size_t n = 0;
    const bool all = strcmp(group, "all") == 0;
    if (all || !strcmp(group, "sizes")) {
        n = add_sdpa(t, n, store[0], CASE_OCL_SIZES, "oclgrind.sizes");
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_plan_reuse);
    }
    if (all || !strcmp(group, "masks")) {
        n = add_sdpa(t, n, store[1], CASE_OCL_MASKS, "oclgrind.masks");
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_masked_v_nonfinite);
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_masked_v_nonfinite_fused);
    }
    if (all || !strcmp(group, "long")) n = add_sdpa(t, n, store[2], CASE_OCL_LONG, "oclgrind.long");
    if (!strcmp(group, "chunks"))
        n = add_sdpa(t, n, store[3], CASE_OCL_CHUNKS, "oclgrind.chunks");
    if (all || !strcmp(group, "mha"))
        for (size_t i = 0, m = mha_rows_tagged(CASE_OCL_MHA, g_mha, MAX_TESTS); i < m && n < MAX_TESTS; i++)
            t[n++] = (struct CMUnitTest){g_mha[i]->name, test_mha_case, NULL, NULL, (void *)&g_mha[i]};
    if (all || !strcmp(group, "enqueue")) t[n++] = (struct CMUnitTest)cmocka_unit_test(test_enqueue);
    if (all || !strcmp(group, "lse")) n = add_sdpa(t, n, store[4], CASE_OCL_LSE, "oclgrind.lse");
    if (all || !strcmp(group, "merge")) {
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_merge);
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_dtype16_sdpa);
    }
    if (all || !strcmp(group, "paged")) {
        for (size_t i = 0; i < COUNT(g_paged); i++)
            t[n++] = (struct CMUnitTest){g_paged[i].name, test_paged_case, NULL, NULL, (void *)&g_paged[i]};
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_paged_bad_entries);
        t[n++] = (struct CMUnitTest)cmocka_unit_test(test_paged_append);
    }
    if (n == 0) {
        fprintf(stderr, "unknown group '%s' (sizes, masks, long, chunks, mha, enqueue, lse, merge, paged, all; suffix :cpu)\n",
                group);
        return 2;
    }
    return tu_run_group(group, t, n);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* interleave with Oclgrind's stderr in the log */
    char group[64] = "all";
    if (argc > 1) snprintf(group, sizeof group, "%s", argv[1]);
    char *suffix = strchr(group, ':');
    if (suffix) {
        if (strcmp(suffix, ":cpu") != 0) {
            fprintf(stderr, "unknown suffix '%s' (only :cpu)\n", suffix);
            return 2;
        }
        *suffix = '\0';
        rel_force_cpu_type = 1;
    }
    if (argc > 2) cmocka_set_test_filter(argv[2]); /* e.g. "kvl*" (debugging) */
    rel_keep_buffers = getenv("REL_NO_KEEP_BUFFERS") == NULL; /* set it to see Oclgrind's false reports */
    g_no_probs = getenv("REL_NO_PROBS") && strcmp(getenv("REL_NO_PROBS"), "1") == 0;
    if (!strcmp(group, "chunks")) rel_max_alloc = CHUNK_MAX_ALLOC;
    g_ctx = tu_open_context_or_skip();
    printf("# device type reported to clattn: %s\n", rel_force_cpu_type ? "CPU (forced)" : "as the driver says");
    int failed = run_group(group);
    printf("# %zu buffers released at exit\n", rel_release_kept_buffers());
    clattn_context_destroy(g_ctx);
    /* CLBlast keeps its compiled programs in a static cache and releases them from a destructor at exit,
     * after Oclgrind's runtime is gone (heap corruption inside Oclgrind's ~Program): release them now. */
    CLBlastClearCache();
    return failed ? 1 : 0;
}
