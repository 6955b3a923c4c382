/*
 * test_paged_cl: the OpenCL side of the paged KV cache (issue #13 item 3) on the caller's cl_mem buffers:
 *   - SDPA with k/v pools [num_blocks, block_size, Hkv, D] read through a block_table cl_mem
 *     (clattn_sdpa_enqueue_buffers) and through host pointers (clattn_sdpa_execute_buffers), decode (Lq 1..4)
 *     and chunked prefill (bottom-right causal), sequences of different lengths (0 included), GQA, odd sizes,
 *     K and V interleaved in one allocation, block sizes 16..64, masks, windows, lse, float16; against the naive
 *     double reference (tests/support/reference.c) over the contiguous keys the table describes, tolerance
 *     TU_TOL_F32 (1e-5 relative to max(1, max|ref|); 2e-3 for float16);
 *   - out-of-range block-table entries on enqueue: no crash and no access outside the pools (Oclgrind checks
 *     the same kernels: test_oclgrind_cases "paged"); the OpenCL kernels treat those blocks' keys as not
 *     allowed, which is checked here (the public contract only promises memory safety); execute_buffers
 *     refuses the same table (INVALID_ARGUMENT naming block_table);
 *   - clattn_kv_append_enqueue: rows land in their blocks bit for bit (float32 and float16), rows whose position
 *     has no valid block are not written, nothing else in the pools changes; then an append + decode loop
 *     that never leaves the device.
 * The cases and checks live in tests/support/paged_cl_case.c (shared with the Oclgrind runs).
 * Every plan reports a paged path: CLATTN_TEST_EXPECT_PATH + "-paged" when set (fused, chain, fused-gpu),
 * else one of fused-paged, chain-paged, fused-gpu-paged. On the host path (no cl_mem) the test skips (77).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clattn.h"
#include "clattn_opencl.h"
#include "paged_cl_case.h"
#include "reference.h"

static clattn_context *g_ctx;
static cl_context g_cl;
static cl_command_queue g_q;

static cl_mem upload(const void *host, size_t bytes)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(g_cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    if (host) assert_int_equal(clEnqueueWriteBuffer(g_q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL), CL_SUCCESS);
    return m;
}

static void download(cl_mem m, void *host, size_t bytes)
{
    assert_int_equal(clEnqueueReadBuffer(g_q, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL), CL_SUCCESS);
}

static const pcase g_cases[] = {
    {"decode_gqa", .B = 4, .Hq = 8, .Hkv = 2, .Lq = 1, .D = 64, .Dv = 64, .bs = 16, .maxb = 9, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .zero_len = 1, .wl = -1},
    {"decode_interleaved_lse", .B = 3, .Hq = 4, .Hkv = 4, .Lq = 1, .D = 40, .Dv = 24, .bs = 32, .maxb = 5, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .interleaved = 1, .lse = 1, .wl = -1},
    {"decode_lq4_long", .B = 2, .Hq = 2, .Hkv = 1, .Lq = 4, .D = 128, .Dv = 128, .bs = 64, .maxb = 24, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .wl = -1},
    {"prefill_chunk", .B = 3, .Hq = 4, .Hkv = 2, .Lq = 7, .D = 67, .Dv = 33, .bs = 16, .maxb = 7, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .zero_len = 1, .lse = 1, .wl = -1},
    {"prefill_mask_window", .B = 2, .Hq = 3, .Hkv = 1, .Lq = 33, .D = 16, .Dv = 16, .bs = 16, .maxb = 5, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .mask = 1, .wl = 20, .interleaved = 1},
    {"f16_decode", .B = 2, .Hq = 4, .Hkv = 2, .Lq = 1, .D = 32, .Dv = 32, .bs = 16, .maxb = 6, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .f16 = 1, .wl = -1},
    {"f16_prefill", .B = 2, .Hq = 2, .Hkv = 2, .Lq = 9, .D = 24, .Dv = 24, .bs = 16, .maxb = 4, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .f16 = 1, .interleaved = 1, .wl = -1},
};

static void test_sdpa(void **state)
{
    const pcase *c = *state;
    for (int enq = 0; enq < 2; enq++) {
        tu_where w = {enq ? "paged_cl.enqueue" : "paged_cl.execute", c->name, tu_case_seed("paged_cl", (int)(c - g_cases))};
        tu_rng r;
        tu_rng_init(&r, w.seed);
        pdata d;
        paged_data_make(&d, c, &r);
        bool ok = paged_data_run(g_ctx, &d, c, enq, &w) == CLATTN_SUCCESS && paged_data_check(&d, c, &w);
        paged_data_free(&d);
        assert_true(ok);
    }
}

/* Entries outside 0..num_blocks-1 among the blocks within the kv lengths: enqueue runs (memory-safe) and the
 * OpenCL kernels drop those blocks' keys; execute_buffers refuses the table. */
static void test_bad_entries(void **state)
{
    (void)state;
    static const pcase cs[] = {
        {"bad_decode", .B = 3, .Hq = 4, .Hkv = 2, .Lq = 1, .D = 32, .Dv = 32, .bs = 16, .maxb = 6, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .wl = -1},
        {"bad_prefill", .B = 3, .Hq = 2, .Hkv = 1, .Lq = 19, .D = 16, .Dv = 8, .bs = 16, .maxb = 5, .causal = CLATTN_CAUSAL_BOTTOM_RIGHT, .wl = -1},
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        const pcase *c = &cs[k];
        tu_where w = {"paged_cl.bad_entries", c->name, tu_case_seed("paged_cl.bad", (int)k)};
        tu_rng r;
        tu_rng_init(&r, w.seed);
        pdata d;
        paged_data_make(&d, c, &r);
        paged_data_break_table(&d, c);
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d.desc), CLATTN_SUCCESS);
        clattn_sdpa_buffers hb;
        clattn_sdpa_buffers_init(&hb);
        hb.q = d.q;
        hb.k = hb.v = d.pool;
        hb.out = d.out;
        hb.block_table = d.table;
        hb.kv_lengths = d.lens;
        const clattn_status hst = clattn_sdpa_execute_buffers(plan, &hb);
        clattn_sdpa_plan_destroy(plan);
        if (hst != CLATTN_ERROR_INVALID_ARGUMENT || !strstr(clattn_last_error(g_ctx), "block_table")) {
            tu_report(&w, "execute_buffers with a bad entry: %d '%s', expected INVALID_ARGUMENT naming block_table",
                      (int)hst, clattn_last_error(g_ctx));
            fail();
        }
        bool ok = paged_data_run(g_ctx, &d, c, true, &w) == CLATTN_SUCCESS && paged_data_check(&d, c, &w);
        paged_data_free(&d);
        assert_true(ok);
    }
}

/* clattn_kv_append_enqueue: exact copies into the blocks, skipped rows, untouched rest; float32 and float16. */
static void test_append(void **state)
{
    (void)state;
    for (int f16 = 0; f16 < 2; f16++) {
        tu_where w = {"paged_cl.append", f16 ? "f16" : "f32", tu_case_seed("paged_cl.append", f16)};
        assert_true(paged_append_check(g_ctx, f16, &w));
    }
}

/* A toy decode loop on the device: each step appends one K/V row per sequence (enqueue, positions = lengths)
 * and decodes one query against the pools (enqueue, kv_lengths = lengths + 1), the two ordered by events;
 * checked every step against the reference over the rows appended so far. */
static void test_append_decode_loop(void **state)
{
    (void)state;
    enum { B = 3, HQ = 4, HKV = 2, D = 32, BS = 16, MAXB = 3, NB = 10, STEPS = 5, LK = MAXB * BS };
    tu_where w = {"paged_cl.loop", "append_decode", tu_case_seed("paged_cl.loop", 0)};
    tu_rng r;
    tu_rng_init(&r, w.seed);
    static float kall[B * HKV * LK * D], vall[B * HKV * LK * D], q[B * HQ * D], out[B * HQ * D], pool[NB * BS * HKV * D * 2];
    static double ref[B * HQ * D];
    int32_t table[B * MAXB] = {4, 9, 0, 2, 7, 5, 1, 8, 3}, lens[B] = {3, 17, 31}, newlens[B];
    for (size_t i = 0; i < sizeof kall / sizeof kall[0]; i++) {
        kall[i] = (float)tu_rng_uniform(&r, -1, 1);
        vall[i] = (float)tu_rng_uniform(&r, -1, 1);
    }
    memset(pool, 0, sizeof pool);
    /* the first lens[b] rows are already in the pools */
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < HKV; h++)
            for (int64_t j = 0; j < lens[b]; j++)
                for (int64_t x = 0; x < D; x++) {
                    const int64_t e = table[b * MAXB + j / BS], o = ((e * BS + j % BS) * HKV + h) * D + x;
                    pool[o] = kall[((b * HKV + h) * LK + j) * D + x];
                    pool[NB * BS * HKV * D + o] = vall[((b * HKV + h) * LK + j) * D + x];
                }
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, B, HKV, 1, D, D, NB, BS, MAXB);
    const int64_t nd[4] = {B, HKV, 1, D}, ns[4] = {HKV * D, D, D, 1};
    ad.k_new = ad.v_new = clattn_tensor_view(4, nd, ns, 0);
    const int64_t pd[4] = {NB, BS, HKV, D}, pst[4] = {BS * HKV * D, HKV * D, D, 1};
    ad.v_cache = clattn_tensor_view(4, pd, pst, NB * BS * HKV * D);
    clattn_sdpa_desc sd;
    clattn_sdpa_desc_init(&sd, B, HQ, HKV, 1, LK, D, D);
    sd.kv_layout = CLATTN_KV_PAGED;
    sd.kv_block_size = BS;
    sd.max_blocks_per_seq = MAXB;
    sd.use_kv_lengths = 1;
    sd.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    sd.k = ad.k_cache;
    sd.v = ad.v_cache;
    clattn_kv_append_plan *ap = NULL;
    clattn_sdpa_plan *sp = NULL;
    assert_int_equal(clattn_kv_append_plan_create(&ap, g_ctx, &ad), CLATTN_SUCCESS);
    assert_int_equal(clattn_sdpa_plan_create(&sp, g_ctx, &sd), CLATTN_SUCCESS);
    bool ok = paged_check_path(sp, &sd, &w);
    cl_mem mpool = upload(pool, sizeof pool), mt = upload(table, sizeof table), mpos = upload(lens, sizeof lens);
    cl_mem mlen = upload(NULL, sizeof lens), mnk = upload(NULL, B * HKV * D * 4), mnv = upload(NULL, B * HKV * D * 4);
    cl_mem mq = upload(NULL, sizeof q), mo = upload(NULL, sizeof out);
    for (int s = 0; ok && s < STEPS; s++) {
        static float kn[B * HKV * D], vn[B * HKV * D];
        for (int64_t b = 0; b < B; b++) {
            newlens[b] = lens[b] + 1;
            for (int64_t h = 0; h < HKV; h++)
                for (int64_t x = 0; x < D; x++) {
                    kn[(b * HKV + h) * D + x] = kall[((b * HKV + h) * LK + lens[b]) * D + x];
                    vn[(b * HKV + h) * D + x] = vall[((b * HKV + h) * LK + lens[b]) * D + x];
                }
        }
        for (int64_t i = 0; i < B * HQ * D; i++) q[i] = (float)tu_rng_uniform(&r, -1, 1);
        assert_int_equal(clEnqueueWriteBuffer(g_q, mnk, CL_TRUE, 0, sizeof kn, kn, 0, NULL, NULL), CL_SUCCESS);
        assert_int_equal(clEnqueueWriteBuffer(g_q, mnv, CL_TRUE, 0, sizeof vn, vn, 0, NULL, NULL), CL_SUCCESS);
        assert_int_equal(clEnqueueWriteBuffer(g_q, mpos, CL_TRUE, 0, sizeof lens, lens, 0, NULL, NULL), CL_SUCCESS);
        assert_int_equal(clEnqueueWriteBuffer(g_q, mlen, CL_TRUE, 0, sizeof newlens, newlens, 0, NULL, NULL), CL_SUCCESS);
        assert_int_equal(clEnqueueWriteBuffer(g_q, mq, CL_TRUE, 0, sizeof q, q, 0, NULL, NULL), CL_SUCCESS);
        clattn_kv_append_cl_buffers ab;
        clattn_kv_append_cl_buffers_init(&ab);
        ab.k_new = mnk;
        ab.v_new = mnv;
        ab.k_cache = ab.v_cache = mpool;
        ab.block_table = mt;
        ab.positions = mpos;
        cl_event appended = NULL, done = NULL;
        clattn_status st = clattn_kv_append_enqueue(ap, &ab, 0, NULL, &appended);
        clattn_sdpa_cl_buffers sb;
        clattn_sdpa_cl_buffers_init(&sb);
        sb.q = mq;
        sb.k = sb.v = mpool;
        sb.out = mo;
        sb.block_table = mt;
        sb.kv_lengths = mlen;
        if (st == CLATTN_SUCCESS) st = clattn_sdpa_enqueue_buffers(sp, &sb, 1, &appended, &done);
        if (st != CLATTN_SUCCESS) tu_report(&w, "step %d: %d %s", s, (int)st, clattn_last_error(g_ctx));
        ok = st == CLATTN_SUCCESS && clWaitForEvents(1, &done) == CL_SUCCESS;
        if (appended) clReleaseEvent(appended);
        if (done) clReleaseEvent(done);
        if (!ok) break;
        download(mo, out, sizeof out);
        clattn_sdpa_desc rd;
        clattn_sdpa_desc_init(&rd, B, HQ, HKV, 1, LK, D, D);
        rd.use_kv_lengths = 1;
        rd.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
        ref_sdpa(&rd, q, kall, vall, NULL, newlens, ref, NULL);
        char what[32];
        snprintf(what, sizeof what, "out (step %d)", s);
        ok = tu_check_array(&w, what, out, ref, B * HQ * D, TU_TOL_F32);
        memcpy(lens, newlens, sizeof lens);
    }
    cl_mem all[] = {mpool, mt, mpos, mlen, mnk, mnv, mq, mo};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
    clattn_sdpa_plan_destroy(sp);
    clattn_kv_append_plan_destroy(ap);
    assert_true(ok);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    if (clattn_context_get_cl(g_ctx, &g_cl, NULL, &g_q) != CLATTN_SUCCESS || !g_cl) {
        printf("SKIP: not an OpenCL context (the cl_mem paths are OpenCL only)\n");
        clattn_context_destroy(g_ctx);
        return 77;
    }
    struct CMUnitTest t[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++)
        t[n++] = (struct CMUnitTest){g_cases[i].name, test_sdpa, NULL, NULL, (void *)&g_cases[i]};
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_entries);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_append);
    t[n++] = (struct CMUnitTest)cmocka_unit_test(test_append_decode_loop);
    const int failed = tu_run_group("paged_cl", t, n);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
