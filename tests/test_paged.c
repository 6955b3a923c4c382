/*
 * test_paged: the paged KV cache (issue #13 item 3; clattn_sdpa_desc.kv_layout = CLATTN_KV_PAGED and
 * clattn_kv_append_*) on the backend chosen by CLATTN_DEVICE (exit 77 when absent).
 *
 * Validation: every descriptor and execution error names the argument and its value (kv_layout, kv_block_size,
 * max_blocks_per_seq and its overflow, pool dims, use_kv_lengths, block_table bound or missing, out-of-range
 * entries among the blocks kv_lengths reaches; the append's dims, positions past the table and bad entries).
 * SDPA (test_sdpa, 48 random cases on the host, 20 on OpenCL): decode (Lq 1..4, GQA) and prefill shapes with odd D/Dv, block sizes 16..256,
 * sequences of lengths 0, 1, Lk and random in one call, blocks in a random permutation of a NaN-poisoned pool
 * (table entries past each sequence's blocks hold -7 / 1000003: never read), pools separate, interleaved (K and V in
 * one allocation), padded or head-major inside a block; every mask kind with random broadcast dims, both causal
 * alignments, windows, softcap, lse, probs, fp16 and bf16 (on OpenCL also: the 16-bit plan's workspace is the
 * float32 plan's, nothing staged). Each against the double reference over the gathered K/V
 * (TU_TOL_F32; fp16 / bf16: 1 ulp + TU_TOL_F32) and against a contiguous clattn call on the gathered K/V; the plan path
 * is the contiguous one's + "-paged" (CLATTN_TEST_EXPECT_PATH). Chunked prefill: a 130-token prompt appended and
 * attended in chunks of 29 (bottom-right causal at each sequence's end) equals one causal call.
 * Append: random pools with every slot poisoned (NaN payload), rows of B sequences appended at positions that
 * cross block boundaries through a shuffled block table, separate or interleaved K/V pools (one allocation),
 * float32, float16 and bfloat16: every appended element lands bit for bit at its slot, every other slot
 * keeps its poison. A multi-device context refuses paged plans and appends (UNSUPPORTED naming the path).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "f16_ref.h"
#include "reference.h"

static clattn_context *g_ctx;
static tu_backend g_backend;

static void expect_err(clattn_status got, clattn_status want, const char *needle)
{
    if (got != want || (needle && !strstr(clattn_last_error(g_ctx), needle)))
        fail_msg("got status %d (want %d), message '%s' (want '%s')", (int)got, (int)want, clattn_last_error(g_ctx),
                 needle ? needle : "");
}

/* A paged desc: B sequences of Hq query heads over Hkv kv heads, Lq queries, pools of nb blocks of bs rows. */
static void paged_desc(clattn_sdpa_desc *d, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t D, int64_t Dv,
                       int64_t nb, int64_t bs, int64_t max_blocks)
{
    clattn_sdpa_desc_init(d, B, Hq, Hkv, Lq, max_blocks * bs, D, Dv);
    d->kv_layout = CLATTN_KV_PAGED;
    d->kv_block_size = bs;
    d->max_blocks_per_seq = max_blocks;
    d->use_kv_lengths = 1;
    d->k = clattn_tensor_contiguous(nb, bs, Hkv, D);
    d->v = clattn_tensor_contiguous(nb, bs, Hkv, Dv);
}

static void test_desc_errors(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_plan *plan = NULL;
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.kv_layout = (clattn_kv_layout)7;
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "kv_layout: 7 is not a clattn_kv_layout value");
    assert_null(plan);
    const int64_t bad_bs[] = {0, 8, 24, -16};
    for (size_t i = 0; i < sizeof bad_bs / sizeof bad_bs[0]; i++) {
        paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
        d.kv_block_size = bad_bs[i];
        char want[64];
        snprintf(want, sizeof want, "kv_block_size: %lld, expected a power of two >= 16", (long long)bad_bs[i]);
        expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, want);
    }
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.kv_block_size = 32; /* the pools' dim 1 is 16 */
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "k: dim 1 is 16, expected 32 (kv_block_size)");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.max_blocks_per_seq = 0;
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "max_blocks_per_seq: 0");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.max_blocks_per_seq = (int64_t)1 << 28; /* x 16 keys > INT32_MAX */
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "max_blocks_per_seq: 268435456 x kv_block_size 16 keys per sequence exceeds 2147483647");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.max_blocks_per_seq = INT64_MAX;
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "max_blocks_per_seq: ");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.v = clattn_tensor_contiguous(7, 16, 2, 8);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "v: dim 0 is 7, expected 8 (num_blocks, k dim 0)");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.v = clattn_tensor_contiguous(8, 16, 1, 8);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "v: dim 2 is 1, expected 2 (num_kv_heads, k dim 2)");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.k = clattn_tensor_contiguous(8, 16, 3, 8);
    d.v = clattn_tensor_contiguous(8, 16, 3, 8);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "k: dim 2 (num_kv_heads) is 3, which does not divide num_heads 4");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.k = clattn_tensor_contiguous(8, 16, 2, 9);
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "k: dim 3 is 9, expected 8 (head_dim, q dim 3)");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.use_kv_lengths = 0;
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "use_kv_lengths: 0, but a CLATTN_KV_PAGED plan needs");
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    d.mask_kind = CLATTN_MASK_BOOL;
    d.mask = clattn_tensor_contiguous(1, 1, 1, 60); /* Lk is 4 x 16 = 64 */
    expect_err(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "mask: dim 3 is 60, expected 64 (kv_len)");
    /* contiguous plans ignore the paged fields */
    clattn_sdpa_desc_init(&d, 1, 1, 1, 1, 5, 4, 4);
    d.kv_block_size = 3;
    d.max_blocks_per_seq = -1;
    assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
    float q[4] = {0}, k[20] = {0}, v[20] = {0}, out[4];
    const int32_t table[1] = {0};
    clattn_sdpa_buffers u;
    clattn_sdpa_buffers_init(&u);
    u.q = q, u.k = k, u.v = v, u.out = out, u.block_table = table;
    expect_err(clattn_sdpa_execute_buffers(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_sdpa_execute_buffers: block_table is given but desc.kv_layout is CLATTN_KV_CONTIGUOUS");
    clattn_sdpa_plan_destroy(plan);
}

/* The paged plan's execution errors (host arrays), on a backend that runs paged plans; until this backend has
 * paged kernels, plan creation says which path cannot (CLATTN_ERROR_UNSUPPORTED naming kv_layout). */
static void test_exec_errors(void **state)
{
    (void)state;
    clattn_sdpa_desc d;
    clattn_sdpa_plan *plan = NULL;
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d);
    if (st == CLATTN_ERROR_UNSUPPORTED) {
        expect_err(st, CLATTN_ERROR_UNSUPPORTED, "kv_layout: the ");
        assert_null(plan);
        if (g_backend == TU_HOST) fail_msg("the host path must run paged plans");
        return;
    }
    assert_int_equal(st, CLATTN_SUCCESS);
    float q[2 * 4 * 8] = {0}, k[8 * 16 * 2 * 8] = {0}, v[8 * 16 * 2 * 8] = {0}, out[2 * 4 * 8];
    int32_t table[2 * 4] = {0, 1, 2, 3, 4, 5, 6, 7}, lens[2] = {64, 33};
    expect_err(clattn_sdpa_execute(plan, q, k, v, NULL, lens, out, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_sdpa_execute: block_table is NULL but desc.kv_layout is CLATTN_KV_PAGED (bind block_table with "
               "clattn_sdpa_execute_buffers");
    clattn_sdpa_buffers u;
    clattn_sdpa_buffers_init(&u);
    u.q = q, u.k = k, u.v = v, u.out = out, u.kv_lengths = lens, u.block_table = table;
    assert_int_equal(clattn_sdpa_execute_buffers(plan, &u), CLATTN_SUCCESS);
    table[6] = 8; /* sequence 1, block 2: keys 32..47, within length 33 */
    expect_err(clattn_sdpa_execute_buffers(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "block_table[1][2] is 8, expected 0..7 (num_blocks - 1)");
    table[6] = -1;
    expect_err(clattn_sdpa_execute_buffers(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT, "block_table[1][2] is -1");
    lens[1] = 32; /* block 2 is no longer read: its entry may hold anything */
    table[7] = 1000;
    assert_int_equal(clattn_sdpa_execute_buffers(plan, &u), CLATTN_SUCCESS);
    lens[1] = 65;
    expect_err(clattn_sdpa_execute_buffers(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "kv_lengths: element 1 is 65, expected 0..64");
    lens[1] = 0;
    u.block_table = NULL;
    expect_err(clattn_sdpa_execute_buffers(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT, "block_table is NULL");
    clattn_sdpa_plan_destroy(plan);
}

/* ---- append ------------------------------------------------------------------------------------------ */

static void append_desc(clattn_kv_append_desc *d, int64_t B, int64_t Hkv, int64_t Lnew, int64_t D, int64_t Dv,
                        int64_t nb, int64_t bs, int64_t max_blocks)
{
    clattn_kv_append_desc_init(d, B, Hkv, Lnew, D, Dv, nb, bs, max_blocks);
}

static void test_append_errors(void **state)
{
    (void)state;
    clattn_kv_append_desc d;
    clattn_kv_append_plan *plan = NULL;
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "desc is NULL");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.kv_block_size = 12;
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "kv_block_size: 12, expected a power of two >= 16");
    assert_null(plan);
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.kv_block_size = 32;
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "k_cache: dim 1 is 16, expected 32 (kv_block_size)");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.v_new = clattn_tensor_contiguous(2, 2, 2, 4);
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "v_new: dim 2 is 2, expected 3 (new_len, k_new dim 2)");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.v_cache = clattn_tensor_contiguous(5, 16, 2, 4);
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "v_cache: dim 0 is 5, expected 6 (num_blocks, k_cache dim 0)");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.k_cache = clattn_tensor_contiguous(6, 16, 2, 7);
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
               "k_cache: dim 3 is 7, expected 8 (head_dim, k_new dim 3)");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.k_cache.strides[0] = 0; /* every block on the same rows */
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "k_cache: stride 0 is 0");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.max_blocks_per_seq = -3;
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "max_blocks_per_seq: -3");
    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    d.data_type = (clattn_dtype)9;
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT, "data_type: 9");
    clattn_kv_append_desc z;
    memset(&z, 0, sizeof z);
    expect_err(clattn_kv_append_plan_create(&plan, g_ctx, &z), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_kv_append_desc: struct_size is 0");

    append_desc(&d, 2, 2, 3, 8, 4, 6, 16, 3);
    clattn_status st = clattn_kv_append_plan_create(&plan, g_ctx, &d);
    if (st == CLATTN_ERROR_UNSUPPORTED) { /* a backend without append names itself */
        expect_err(st, CLATTN_ERROR_UNSUPPORTED, "backend cannot append to a paged KV cache");
        if (g_backend == TU_HOST) fail_msg("the host path must append");
        return;
    }
    assert_int_equal(st, CLATTN_SUCCESS);
    float kn[2 * 2 * 3 * 8] = {0}, vn[2 * 2 * 3 * 4] = {0}, kc[6 * 16 * 2 * 8], vc[6 * 16 * 2 * 4];
    int32_t table[2 * 3] = {5, 4, 3, 2, 1, 0}, pos[2] = {14, 45};
    clattn_kv_append_buffers u;
    clattn_kv_append_buffers_init(&u);
    u.k_new = kn, u.v_new = vn, u.block_table = table, u.positions = pos, u.k_cache = kc, u.v_cache = vc;
    assert_int_equal(clattn_kv_append_execute(plan, &u), CLATTN_SUCCESS);
    pos[1] = 46; /* rows 46..48 pass 3 x 16 */
    expect_err(clattn_kv_append_execute(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "positions[1] is 46: rows 46..48 pass max_blocks_per_seq x kv_block_size = 48");
    pos[1] = -1;
    expect_err(clattn_kv_append_execute(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT, "positions[1] is -1");
    pos[1] = 0;
    table[1] = 6; /* sequence 0 rows 14..16 reach block 1 */
    expect_err(clattn_kv_append_execute(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "block_table[0][1] is 6, expected 0..5 (num_blocks - 1)");
    table[1] = 4;
    u.positions = NULL;
    expect_err(clattn_kv_append_execute(plan, &u), CLATTN_ERROR_INVALID_ARGUMENT,
               "clattn_kv_append_execute: positions is NULL");
    expect_err(clattn_kv_append_execute(plan, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "bufs is NULL");
    assert_int_equal(clattn_kv_append_execute(NULL, &u), CLATTN_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(clattn_last_error(NULL), "clattn_kv_append_execute: plan is NULL"));
    clattn_kv_append_plan_destroy(plan);
}

/* Appends random rows in nsteps steps of Lnew rows at each sequence's running length (starting at a random
 * position that crosses a block boundary), through a shuffled table; pools poisoned, K and V interleaved in one
 * allocation when interleave. Checks every slot: an appended element bit for bit, every other slot poison. */
static void append_case(int idx, clattn_dtype dt, bool interleave)
{
    const uint64_t seed = tu_case_seed("paged.append", idx);
    tu_rng r;
    tu_rng_init(&r, seed);
    const int64_t B = tu_rng_int(&r, 1, 4), Hkv = tu_rng_int(&r, 1, 3), D = tu_rng_int(&r, 1, 9) * (idx % 2 ? 1 : 7),
                  Dv = tu_rng_int(&r, 1, 12), bs = (int64_t)16 << tu_rng_int(&r, 0, 2), mb = tu_rng_int(&r, 2, 5),
                  Lnew = tu_rng_int(&r, 1, bs + 3), nb = B * mb + tu_rng_int(&r, 0, 3);
    const bool f16 = dt != CLATTN_DTYPE_F32; /* 16-bit elements (binary16 or bfloat16): copied bit for bit */
    const size_t es = f16 ? 2 : 4;
    /* pools: interleaved [nb, bs, Hkv, D + Dv] (K then V in each row), else separate contiguous ones */
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, B, Hkv, Lnew, D, Dv, nb, bs, mb);
    d.data_type = dt;
    int64_t nk = nb * bs * Hkv * D, nv = nb * bs * Hkv * Dv;
    if (interleave) {
        const int64_t w = D + Dv, dk[4] = {nb, bs, Hkv, D}, dv[4] = {nb, bs, Hkv, Dv};
        const int64_t st[4] = {bs * Hkv * w, Hkv * w, w, 1};
        d.k_cache = clattn_tensor_view(4, dk, st, 0);
        d.v_cache = clattn_tensor_view(4, dv, st, D);
        nk = nb * bs * Hkv * w, nv = 0;
    }
    /* k_new with padded strides: [B, Hkv, Lnew, D] in a [B, Lnew, Hkv, D + 1] buffer */
    const int64_t dkn[4] = {B, Hkv, Lnew, D}, skn[4] = {Lnew * Hkv * (D + 1), D + 1, Hkv * (D + 1), 1};
    d.k_new = clattn_tensor_view(4, dkn, skn, 0);
    const int64_t nkn = B * Lnew * Hkv * (D + 1), nvn = B * Hkv * Lnew * Dv;
    unsigned char *kn = tu_xmalloc((size_t)nkn * es), *vn = tu_xmalloc((size_t)nvn * es);
    unsigned char *kc = tu_xmalloc((size_t)(nk + nv) * es);
    unsigned char *vc = interleave ? kc : kc + (size_t)nk * es;
    for (int64_t i = 0; i < (nk + nv) * (int64_t)es; i++) kc[i] = 0xA5; /* poison: NaN in float32 and fp16 */
    /* the table: a random permutation of the pool's blocks, each sequence its own mb of them */
    int32_t *perm = tu_xmalloc((size_t)nb * sizeof(int32_t)), *table = tu_xmalloc((size_t)(B * mb) * sizeof(int32_t));
    for (int64_t i = 0; i < nb; i++) perm[i] = (int32_t)i;
    for (int64_t i = nb - 1; i > 0; i--) {
        const int64_t j = tu_rng_int(&r, 0, i);
        const int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int64_t i = 0; i < B * mb; i++) table[i] = perm[i];
    int32_t *pos = tu_xmalloc((size_t)B * sizeof(int32_t));
    /* where each logical row of each sequence has been written (-1 none), by step and row */
    int64_t *written = tu_xmalloc((size_t)(B * mb * bs) * sizeof(int64_t));
    for (int64_t i = 0; i < B * mb * bs; i++) written[i] = -1;
    for (int64_t b = 0; b < B; b++) pos[b] = (int32_t)tu_rng_int(&r, bs - Lnew > 0 ? bs - Lnew + 1 : 0, bs - 1);
    clattn_kv_append_plan *plan = NULL;
    clattn_status st = clattn_kv_append_plan_create(&plan, g_ctx, &d);
    if (st != CLATTN_SUCCESS) fail_msg("seed %llu: %s", (unsigned long long)seed, clattn_last_error(g_ctx));
    /* every step's new rows are kept to check against */
    const int nsteps = 3;
    unsigned char *hist_k = tu_xmalloc((size_t)(nsteps * nkn) * es), *hist_v = tu_xmalloc((size_t)(nsteps * nvn) * es);
    int steps = 0;
    for (int s = 0; s < nsteps; s++) {
        bool fits = true;
        for (int64_t b = 0; b < B; b++) fits = fits && pos[b] + Lnew <= mb * bs;
        if (!fits) break;
        for (int64_t i = 0; i < nkn * (int64_t)es; i++) kn[i] = (unsigned char)tu_rng_int(&r, 0, 255);
        for (int64_t i = 0; i < nvn * (int64_t)es; i++) vn[i] = (unsigned char)tu_rng_int(&r, 0, 255);
        memcpy(hist_k + (size_t)(s * nkn) * es, kn, (size_t)nkn * es);
        memcpy(hist_v + (size_t)(s * nvn) * es, vn, (size_t)nvn * es);
        clattn_kv_append_buffers u;
        clattn_kv_append_buffers_init(&u);
        u.k_new = kn, u.v_new = vn, u.block_table = table, u.positions = pos, u.k_cache = kc, u.v_cache = vc;
        st = clattn_kv_append_execute(plan, &u);
        if (st != CLATTN_SUCCESS) fail_msg("seed %llu step %d: %s", (unsigned long long)seed, s, clattn_last_error(g_ctx));
        for (int64_t b = 0; b < B; b++) {
            for (int64_t t = 0; t < Lnew; t++) written[(b * mb * bs) + pos[b] + t] = s * Lnew + t;
            pos[b] += (int32_t)Lnew;
        }
        steps++;
    }
    assert_true(steps >= 1);
    /* expected pools: poison everywhere, then every written row */
    unsigned char *want = tu_xmalloc((size_t)(nk + nv) * es);
    memset(want, 0xA5, (size_t)(nk + nv) * es);
    unsigned char *want_v = interleave ? want : want + (size_t)nk * es;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < mb * bs; j++) {
            const int64_t w = written[b * mb * bs + j];
            if (w < 0) continue;
            const int64_t s = w / Lnew, t = w % Lnew, blk = table[b * mb + j / bs];
            for (int64_t h = 0; h < Hkv; h++) {
                for (int64_t e = 0; e < D; e++) {
                    const int64_t src = b * skn[0] + h * skn[1] + t * skn[2] + e;
                    const int64_t dst = d.k_cache.offset + blk * d.k_cache.strides[0] + (j % bs) * d.k_cache.strides[1] +
                                        h * d.k_cache.strides[2] + e * d.k_cache.strides[3];
                    memcpy(want + (size_t)dst * es, hist_k + (size_t)(s * nkn + src) * es, es);
                }
                for (int64_t e = 0; e < Dv; e++) {
                    const int64_t src = ((b * Hkv + h) * Lnew + t) * Dv + e;
                    const int64_t dst = d.v_cache.offset + blk * d.v_cache.strides[0] + (j % bs) * d.v_cache.strides[1] +
                                        h * d.v_cache.strides[2] + e * d.v_cache.strides[3];
                    memcpy(want_v + (size_t)dst * es, hist_v + (size_t)(s * nvn + src) * es, es);
                }
            }
        }
    for (int64_t i = 0; i < (nk + nv) * (int64_t)es; i++)
        if (kc[i] != want[i])
            fail_msg("seed %llu (B %lld Hkv %lld D %lld Dv %lld bs %lld Lnew %lld%s%s): pool byte %lld is 0x%02x, "
                     "expected 0x%02x",
                     (unsigned long long)seed, (long long)B, (long long)Hkv, (long long)D, (long long)Dv, (long long)bs,
                     (long long)Lnew, dt == CLATTN_DTYPE_F16 ? ", fp16" : dt == CLATTN_DTYPE_BF16 ? ", bf16" : "", interleave ? ", interleaved" : "", (long long)i, kc[i],
                     want[i]);
    clattn_kv_append_plan_destroy(plan);
    free(kn), free(vn), free(kc), free(perm), free(table), free(pos), free(written), free(hist_k), free(hist_v);
    free(want);
}

static void test_append(void **state)
{
    (void)state;
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, 1, 1, 1, 1, 1, 1, 16, 1);
    clattn_kv_append_plan *plan = NULL;
    if (clattn_kv_append_plan_create(&plan, g_ctx, &d) == CLATTN_ERROR_UNSUPPORTED) {
        if (g_backend == TU_HOST) fail_msg("the host path must append");
        skip(); /* an OpenCL backend without the append kernel yet */
    }
    clattn_kv_append_plan_destroy(plan);
    for (int i = 0; i < 24; i++)
        append_case(i, i % 3 == 1 ? CLATTN_DTYPE_F16 : i % 3 == 2 ? CLATTN_DTYPE_BF16 : CLATTN_DTYPE_F32, i % 4 >= 2);
}

/* ---- SDPA over a paged cache -------------------------------------------------------------------------- */

/* Pool layouts: K and V pools [nb, bs, Hkv, D|Dv] as separate contiguous arrays; interleaved in one allocation
 * (each row K then V); padded strides and offsets; head-major inside a block ([nb, Hkv, bs, D] in memory). */
enum { POOL_SEPARATE, POOL_INTERLEAVED, POOL_PADDED, POOL_HEAD_MAJOR, POOL_LAYOUTS };
static const char *const pool_names[POOL_LAYOUTS] = {"separate", "interleaved", "padded", "head-major"};

/* A random paged problem: q/k/v values (fp16-exact when f16), sequences of random lengths (0, 1 and Lk among
 * them) in shuffled blocks of a NaN-poisoned pool (table entries past each sequence's blocks hold garbage), every
 * mask kind, causal alignment, window, softcap, GQA, lse and probs. Checked against the double reference over the
 * gathered K/V, and against a contiguous clattn call on the gathered K/V (the same path but for "-paged"). */
typedef struct pcase {
    int64_t B, Hq, Hkv, Lq, D, Dv, bs, mb;
    int layout;
    int f16; /* 0 float32, 1 binary16, 2 bfloat16 (clattn_dtype) */
} pcase;

/* x rounded to the case's 16-bit type and back (x itself for float32) */
static float pc_round(const pcase *c, double x)
{
    if (c->f16 == 2) return (float)bf16r_to_double(bf16r_from_double(x));
    if (c->f16 == 1) return (float)f16r_to_double(f16r_from_double(x));
    return (float)x;
}
static uint16_t pc_bits(const pcase *c, double x) /* x in the case's 16-bit type; NaN: the type's poison */
{
    if (c->f16 == 2) return isnan(x) ? BF16R_POISON : bf16r_from_double(x);
    return isnan(x) ? F16R_POISON : f16r_from_double(x);
}

/* 4-D view of a pool of the layout, row width w floats for the interleaved one, off its element offset */
static clattn_tensor pool_view(int layout, int64_t nb, int64_t bs, int64_t H, int64_t D, int64_t w, int64_t off,
                               int64_t *reach)
{
    const int64_t dims[4] = {nb, bs, H, D};
    int64_t st[4];
    switch (layout) {
    case POOL_INTERLEAVED: st[3] = 1, st[2] = w, st[1] = H * w, st[0] = bs * H * w; break;
    case POOL_PADDED: st[3] = 1, st[2] = D + 3, st[1] = H * (D + 3) + 1, st[0] = bs * st[1] + 5, off += 2; break;
    case POOL_HEAD_MAJOR: st[3] = 1, st[1] = D, st[2] = bs * D, st[0] = H * bs * D; break;
    default: st[3] = 1, st[2] = D, st[1] = H * D, st[0] = bs * H * D; break;
    }
    clattn_tensor t = clattn_tensor_view(4, dims, st, off);
    *reach = tu_extent(&t);
    return t;
}

static int g_cases_run;

/* Skips the calling test where this backend has no paged kernels yet (OpenCL until they land); the host must. */
static void skip_unless_paged(void)
{
    clattn_sdpa_desc d;
    paged_desc(&d, 1, 1, 1, 1, 4, 4, 1, 16, 1);
    clattn_sdpa_plan *plan = NULL;
    const clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, &d);
    clattn_sdpa_plan_destroy(plan);
    if (st == CLATTN_ERROR_UNSUPPORTED && g_backend != TU_HOST) skip();
}

static void paged_case(int idx, const pcase *c, uint64_t seed, tu_rng *r)
{
    const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Lq = c->Lq, D = c->D, Dv = c->Dv, bs = c->bs, mb = c->mb;
    const int64_t Lk = bs * mb;
    char name[200];
    snprintf(name, sizeof name, "case %d: B %lld Hq %lld Hkv %lld Lq %lld D %lld Dv %lld bs %lld max_blocks %lld %s%s", idx,
             (long long)B, (long long)Hq, (long long)Hkv, (long long)Lq, (long long)D, (long long)Dv, (long long)bs,
             (long long)mb, pool_names[c->layout], c->f16 == 1 ? " fp16" : c->f16 == 2 ? " bf16" : "");
    const tu_where w = {"paged", name, seed};

    /* lengths: 0, 1 and Lk appear whenever B allows, the rest random */
    int32_t *lens = tu_xmalloc((size_t)B * sizeof(int32_t));
    for (int64_t b = 0; b < B; b++) {
        const int64_t k = (b + idx) % 5;
        lens[b] = (int32_t)(k == 0 ? 0 : k == 1 ? 1 : k == 2 ? Lk : tu_rng_int(r, 0, Lk));
    }
    /* blocks: sequence b's used blocks are the next ones of a random permutation of the pool */
    int64_t used = 0;
    for (int64_t b = 0; b < B; b++) used += (lens[b] + bs - 1) / bs;
    const int64_t nb = used + tu_rng_int(r, 1, 3);
    int32_t *perm = tu_xmalloc((size_t)nb * sizeof(int32_t)), *table = tu_xmalloc((size_t)(B * mb) * sizeof(int32_t));
    for (int64_t i = 0; i < nb; i++) perm[i] = (int32_t)i;
    for (int64_t i = nb - 1; i > 0; i--) {
        const int64_t j = tu_rng_int(r, 0, i);
        const int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int64_t next = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < mb; i++)
            table[b * mb + i] = i < (lens[b] + bs - 1) / bs ? perm[next++] : (int32_t)(i % 2 ? -7 : 1000003); /* never read */

    /* pools */
    int64_t kreach, vreach, wrow = D + Dv;
    clattn_tensor kt = pool_view(c->layout, nb, bs, Hkv, D, wrow, 0, &kreach);
    clattn_tensor vt = pool_view(c->layout, nb, bs, Hkv, Dv, wrow, c->layout == POOL_INTERLEAVED ? D : 0, &vreach);
    const bool one = c->layout == POOL_INTERLEAVED;
    const int64_t npool = one ? (kreach > vreach ? kreach : vreach) : kreach + vreach;
    float *pool = tu_alloc_bits(npool, TU_POISON_BITS);
    float *kpool = pool, *vpool = one ? pool : pool + kreach;
    /* gathered K/V [B, Hkv, Lk, D|Dv]: NaN past each length (never read) */
    float *kg = tu_alloc_bits(B * Hkv * Lk * D, TU_POISON_BITS), *vg = tu_alloc_bits(B * Hkv * Lk * Dv, TU_POISON_BITS);
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < lens[b]; j++) {
            const int64_t blk = table[b * mb + j / bs];
            for (int64_t h = 0; h < Hkv; h++) {
                for (int64_t d = 0; d < D; d++) {
                    float x = (float)tu_rng_uniform(r, -1.0, 1.0);
                    x = pc_round(c, x);
                    kg[((b * Hkv + h) * Lk + j) * D + d] = x;
                    kpool[tu_index(&kt, blk, j % bs, h, d)] = x;
                }
                for (int64_t d = 0; d < Dv; d++) {
                    float x = (float)tu_rng_uniform(r, -1.0, 1.0);
                    x = pc_round(c, x);
                    vg[((b * Hkv + h) * Lk + j) * Dv + d] = x;
                    vpool[tu_index(&vt, blk, j % bs, h, d)] = x;
                }
            }
        }
    const int64_t nq = B * Hq * Lq * D, nout = B * Hq * Lq * Dv, nlse = B * Hq * Lq, nprobs = B * Hq * Lq * Lk;
    float *q = tu_xmalloc((size_t)nq * sizeof(float));
    for (int64_t i = 0; i < nq; i++) {
        q[i] = (float)tu_rng_uniform(r, -1.5, 1.5);
        q[i] = pc_round(c, q[i]);
    }

    /* the desc: features drawn from the case index and the seed */
    clattn_sdpa_desc d;
    paged_desc(&d, B, Hq, Hkv, Lq, D, Dv, nb, bs, mb);
    d.k = kt, d.v = vt;
    d.causal = (clattn_causal)(idx % 3 == 2 ? CLATTN_CAUSAL_BOTTOM_RIGHT : idx % 3);
    if (idx % 4 == 3) d.window_left = tu_rng_int(r, 0, Lk / 2), d.window_right = tu_rng_int(r, 0, 3);
    if (idx % 5 == 4) d.softcap = 2.5f;
    d.mask_kind = (clattn_mask_kind)(idx / 2 % 3);
    void *mask = NULL;
    if (d.mask_kind != CLATTN_MASK_NONE) {
        const int64_t mB = tu_rng_int(r, 0, 1) ? B : 1, mH = tu_rng_int(r, 0, 1) ? Hq : 1, mL = tu_rng_int(r, 0, 1) ? Lq : 1;
        d.mask = clattn_tensor_contiguous(mB, mH, mL, Lk);
        const int64_t n = mB * mH * mL * Lk;
        if (d.mask_kind == CLATTN_MASK_BOOL) {
            uint8_t *m = tu_xmalloc((size_t)n);
            for (int64_t i = 0; i < n; i++) m[i] = tu_rng_int(r, 0, 9) != 0;
            mask = m;
        } else {
            float *m = tu_xmalloc((size_t)n * sizeof(float));
            for (int64_t i = 0; i < n; i++) m[i] = tu_rng_int(r, 0, 9) == 0 ? -INFINITY : (float)tu_rng_uniform(r, -1, 1);
            mask = m;
        }
    }
    d.want_lse = idx % 2;
    d.want_probs = idx % 7 == 6 && !c->f16;
    d.data_type = (clattn_dtype)c->f16; /* CLATTN_DTYPE_F32 0, _F16 1, _BF16 2 */
    /* REDUCED precision (host-fused-avx512bf16 where the CPU has it, else float32): the paged pack must give the
     * contiguous plan's bf16 operands, so the two agree to float32 rounding; the reference within 3e-2 */
    if (idx % 8 == 5) d.precision = CLATTN_PRECISION_REDUCED;
    const double tol_ref = d.precision == CLATTN_PRECISION_REDUCED ? 3e-2 : TU_TOL_F32;

    /* the same problem over the gathered K/V */
    clattn_sdpa_desc dc = d;
    dc.kv_layout = CLATTN_KV_CONTIGUOUS;
    dc.k = clattn_tensor_contiguous(B, Hkv, Lk, D);
    dc.v = clattn_tensor_contiguous(B, Hkv, Lk, Dv);

    double *ref = tu_xmalloc((size_t)nout * sizeof(double)), *ref_lse = tu_xmalloc((size_t)nlse * sizeof(double));
    double *ref_probs = d.want_probs ? tu_xmalloc((size_t)nprobs * sizeof(double)) : NULL;
    clattn_sdpa_desc dr = dc;
    dr.data_type = CLATTN_DTYPE_F32;
    ref_sdpa_lse(&dr, q, kg, vg, mask, lens, ref, ref_probs, ref_lse);

    /* run paged and contiguous; fp16: the arrays in binary16 */
    const void *qa = q, *kpa = pool, *kga = kg, *vga = vg;
    uint16_t *qh = NULL, *poolh = NULL, *kgh = NULL, *vgh = NULL;
    if (c->f16) {
        qh = tu_xmalloc((size_t)nq * 2), poolh = tu_xmalloc((size_t)npool * 2);
        kgh = tu_xmalloc((size_t)(B * Hkv * Lk * D) * 2), vgh = tu_xmalloc((size_t)(B * Hkv * Lk * Dv) * 2);
        for (int64_t i = 0; i < nq; i++) qh[i] = pc_bits(c, q[i]);
        for (int64_t i = 0; i < npool; i++) poolh[i] = pc_bits(c, pool[i]);
        for (int64_t i = 0; i < B * Hkv * Lk * D; i++) kgh[i] = pc_bits(c, kg[i]);
        for (int64_t i = 0; i < B * Hkv * Lk * Dv; i++) vgh[i] = pc_bits(c, vg[i]);
        qa = qh, kpa = poolh, kga = kgh, vga = vgh;
    }
    const size_t es = c->f16 ? 2 : 4;
    const void *vpa = one ? kpa : (const char *)kpa + (size_t)kreach * es;
    void *out[2];
    float *lse[2], *probs[2];
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        out[k] = c->f16 ? (void *)f16r_alloc(nout, c->f16 == 2 ? BF16R_POISON : F16R_POISON)
                        : (void *)tu_alloc_bits(nout, TU_POISON_BITS);
        lse[k] = tu_alloc_bits(nlse, TU_POISON_BITS);
        probs[k] = d.want_probs ? tu_alloc_bits(nprobs, TU_POISON_BITS) : NULL;
        const clattn_sdpa_desc *dk = k == 0 ? &d : &dc;
        clattn_sdpa_plan *plan = NULL;
        clattn_status st = clattn_sdpa_plan_create(&plan, g_ctx, dk);
        if (st != CLATTN_SUCCESS) {
            tu_report(&w, "%s plan: %s", k ? "contiguous" : "paged", clattn_last_error(g_ctx));
            ok = false;
            break;
        }
        ok &= tu_check_plan_path(plan, dk, &w);
        if (k == 0 && c->f16 && g_backend != TU_HOST) {
            /* OpenCL reads 16-bit pools in place (-D ELEM16): no staging, the float32 plan's workspace */
            clattn_sdpa_desc d32 = d;
            d32.data_type = CLATTN_DTYPE_F32;
            clattn_sdpa_plan *p32 = NULL;
            if (clattn_sdpa_plan_create(&p32, g_ctx, &d32) != CLATTN_SUCCESS) {
                tu_report(&w, "float32 paged plan: %s", clattn_last_error(g_ctx));
                ok = false;
            } else if (clattn_sdpa_plan_workspace_size(plan) != clattn_sdpa_plan_workspace_size(p32) ||
                       strcmp(clattn_sdpa_plan_path(plan), clattn_sdpa_plan_path(p32)) != 0) {
                tu_report(&w, "16-bit paged plan staged: workspace %zu bytes (%s), float32 plan's %zu (%s)",
                          clattn_sdpa_plan_workspace_size(plan), clattn_sdpa_plan_path(plan),
                          clattn_sdpa_plan_workspace_size(p32), clattn_sdpa_plan_path(p32));
                ok = false;
            }
            clattn_sdpa_plan_destroy(p32);
        }
        clattn_sdpa_buffers u;
        clattn_sdpa_buffers_init(&u);
        u.q = qa, u.k = k == 0 ? kpa : kga, u.v = k == 0 ? vpa : vga, u.mask = mask, u.kv_lengths = lens;
        u.out = out[k], u.lse = d.want_lse ? lse[k] : NULL, u.probs = probs[k];
        u.block_table = k == 0 ? table : NULL;
        st = clattn_sdpa_execute_buffers(plan, &u);
        if (st != CLATTN_SUCCESS) {
            tu_report(&w, "%s execute: %s", k ? "contiguous" : "paged", clattn_last_error(g_ctx));
            ok = false;
        }
        clattn_sdpa_plan_destroy(plan);
    }
    if (ok) {
        /* vs the double reference */
        if (c->f16 && d.precision != CLATTN_PRECISION_REDUCED)
            ok &= h16r_check_view(&w, "paged out", out[0], &d.out, ref, c->f16 == 2);
        else if (!c->f16) ok &= tu_check_view(&w, "paged out", out[0], &d.out, ref, tol_ref);
        if (d.want_lse) {
            const int64_t ld[4] = {B, Hq, Lq, 1};
            const clattn_tensor lt = clattn_tensor_view(4, ld, (int64_t[4]){Hq * Lq, Lq, 1, 0}, 0);
            ok &= tu_check_view(&w, "paged lse", lse[0], &lt, ref_lse, tol_ref);
        }
        if (d.want_probs) ok &= tu_check_view(&w, "paged probs", probs[0], &d.probs, ref_probs, TU_TOL_F32);
        /* vs the contiguous call (same kernels, rows read in another order at most) */
        double *other = tu_xmalloc((size_t)nout * sizeof(double));
        for (int64_t i = 0; i < nout; i++)
            other[i] = c->f16 == 2   ? bf16r_to_double(((uint16_t *)out[1])[i])
                       : c->f16 == 1 ? f16r_to_double(((uint16_t *)out[1])[i])
                                     : (double)((float *)out[1])[i];
        if (c->f16) ok &= h16r_check_view(&w, "paged out vs contiguous", out[0], &d.out, other, c->f16 == 2);
        else ok &= tu_check_view(&w, "paged out vs contiguous", out[0], &d.out, other, TU_TOL_F32);
        if (d.want_lse) {
            for (int64_t i = 0; i < nlse; i++) other[i] = lse[1][i];
            ok &= tu_check_array(&w, "paged lse vs contiguous", lse[0], other, nlse, TU_TOL_F32);
        }
        free(other);
    }
    if (!ok) fail_msg("%s (seed %llu)", name, (unsigned long long)seed);
    g_cases_run++;
    for (int k = 0; k < 2; k++) free(out[k]), free(lse[k]), free(probs[k]);
    free(lens), free(perm), free(table), free(pool), free(kg), free(vg), free(q), free(mask), free(ref), free(ref_lse);
    free(ref_probs), free(qh), free(poolh), free(kgh), free(vgh);
}

/* Random shapes: decode (Lq 1..4, GQA groups up to 16 rows: the host decode path) and prefill (odd Lq), odd D/Dv,
 * block sizes 16..256, every pool layout, fp16 every third case. */
static void test_sdpa(void **state)
{
    (void)state;
    skip_unless_paged();
    static const int64_t dims[] = {1, 7, 16, 64, 67, 128};
    /* OpenCL: the first 20 (every pool layout, fp16, decode and prefill, each block size still among them):
     * each case's shape is a new PoCL kernel build, and 48 took 301 s cold (a 900 s timeout once, with other
     * tests building beside it) */
    const int n = g_backend == TU_HOST ? 48 : 20;
    for (int idx = 0; idx < n; idx++) {
        const uint64_t seed = tu_case_seed("paged.sdpa", idx);
        tu_rng r;
        tu_rng_init(&r, seed);
        pcase c;
        c.B = tu_rng_int(&r, 1, 5);
        c.Hkv = tu_rng_int(&r, 1, 3);
        c.Hq = c.Hkv * (idx % 3 == 0 ? 1 : idx % 3 == 1 ? 4 : tu_rng_int(&r, 2, 3));
        c.Lq = idx % 2 == 0 ? tu_rng_int(&r, 1, 4) : (int64_t[]){7, 33, 67, 129}[tu_rng_int(&r, 0, 3)];
        c.D = dims[tu_rng_int(&r, 0, 5)];
        c.Dv = idx % 4 == 1 ? dims[tu_rng_int(&r, 0, 5)] : c.D;
        c.bs = (int64_t)16 << tu_rng_int(&r, 0, 4);
        c.mb = tu_rng_int(&r, 1, c.bs >= 128 ? 3 : 6);
        if (c.bs * c.mb > 256 && c.Lq > 33) c.Lq = 33; /* keeps the double reference quick */
        c.layout = idx % POOL_LAYOUTS;
        c.f16 = idx % 3 != 2 ? 0 : idx % 4 < 2 ? 2 : 1; /* OpenCL's 20: fp16 at 2, 11, 14, bf16 at 5, 8, 17 */
        paged_case(idx, &c, seed, &r);
    }
    printf("paged sdpa: %d cases\n", g_cases_run);
}

/* The shared case table's paged rows (tests/cases, tag paged): each row's K/V in shuffled blocks of a NaN-poisoned
 * pool (sdpa_case.h), checked against the double reference on the logical K/V with the suites' usual checks (poisoned
 * outputs and gaps, exact zeros for rows with no allowed key), the plan's path "<expected>-paged". */
static void test_table_rows(void **state)
{
    (void)state;
    skip_unless_paged();
    const case_row *rows[32];
    const size_t n = case_rows_tagged(CASE_PAGED, rows, 32);
    assert_true(n >= 1 && n <= 32);
    bool ok = true;
    for (size_t i = 0; i < n; i++) ok &= sdpa_case_run_checked(g_ctx, &rows[i]->c, "paged.rows", (int)i, 0);
    if (!ok) fail_msg("paged case-table rows failed (see above)");
    printf("paged table rows: %zu\n", n);
}

/* Chunked prefill against a paged cache: a prompt of P tokens attended in chunks of Lq new queries, each chunk
 * bottom-right causal at the end of each sequence's current length (kv_lengths = length after the chunk), must
 * equal the rows of one causal call over the whole prompt. Also decode (Lq = 1) steps after it. */
static void test_chunked_prefill(void **state)
{
    (void)state;
    skip_unless_paged();
    const int64_t B = 3, Hq = 4, Hkv = 2, D = 32, bs = 16, mb = 9, P = 130, chunk = 29, Lk = bs * mb;
    const uint64_t seed = tu_case_seed("paged.chunked", 0);
    tu_rng r;
    tu_rng_init(&r, seed);
    const tu_where w = {"paged", "chunked prefill", seed};
    const int64_t nb = B * mb;
    int32_t table[3 * 9];
    for (int64_t i = 0; i < nb; i++) table[i] = (int32_t)((i * 7 + 3) % nb); /* 7 is prime to 27: a permutation */
    float *kpool = tu_alloc_bits(nb * bs * Hkv * D, TU_POISON_BITS), *vpool = tu_alloc_bits(nb * bs * Hkv * D, TU_POISON_BITS);
    float *q = tu_xmalloc((size_t)(B * Hq * P * D) * sizeof(float)), *kc = tu_xmalloc((size_t)(B * Hkv * P * D) * sizeof(float));
    float *vc = tu_xmalloc((size_t)(B * Hkv * P * D) * sizeof(float));
    for (int64_t i = 0; i < B * Hq * P * D; i++) q[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (int64_t i = 0; i < B * Hkv * P * D; i++) kc[i] = (float)tu_rng_uniform(&r, -1, 1), vc[i] = (float)tu_rng_uniform(&r, -1, 1);
    /* the one-call reference: causal over the whole prompt, contiguous */
    clattn_sdpa_desc d1;
    clattn_sdpa_desc_init(&d1, B, Hq, Hkv, P, P, D, D);
    d1.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    float *want = tu_xmalloc((size_t)(B * Hq * P * D) * sizeof(float));
    assert_int_equal(clattn_sdpa(g_ctx, &d1, q, kc, vc, NULL, NULL, want, NULL), CLATTN_SUCCESS);
    /* append + attend chunk by chunk */
    float *got = tu_alloc_bits(B * Hq * P * D, TU_POISON_BITS);
    int32_t pos[3] = {0, 0, 0}, lens[3];
    for (int64_t c0 = 0; c0 < P; c0 += chunk) {
        const int64_t n = P - c0 < chunk ? P - c0 : chunk;
        clattn_kv_append_desc ad;
        clattn_kv_append_desc_init(&ad, B, Hkv, n, D, D, nb, bs, mb);
        const int64_t nd[4] = {B, Hkv, n, D}, ns[4] = {Hkv * P * D, P * D, D, 1};
        ad.k_new = clattn_tensor_view(4, nd, ns, c0 * D);
        ad.v_new = ad.k_new;
        clattn_kv_append_plan *ap = NULL;
        assert_int_equal(clattn_kv_append_plan_create(&ap, g_ctx, &ad), CLATTN_SUCCESS);
        clattn_kv_append_buffers ab;
        clattn_kv_append_buffers_init(&ab);
        ab.k_new = kc, ab.v_new = vc, ab.block_table = table, ab.positions = pos, ab.k_cache = kpool, ab.v_cache = vpool;
        assert_int_equal(clattn_kv_append_execute(ap, &ab), CLATTN_SUCCESS);
        clattn_kv_append_plan_destroy(ap);
        for (int b = 0; b < B; b++) lens[b] = pos[b] + (int32_t)n;
        clattn_sdpa_desc d;
        paged_desc(&d, B, Hq, Hkv, n, D, D, nb, bs, mb);
        d.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
        const int64_t qd[4] = {B, Hq, n, D}, qs[4] = {Hq * P * D, P * D, D, 1};
        d.q = clattn_tensor_view(4, qd, qs, c0 * D);
        d.out = d.q;
        clattn_sdpa_plan *plan = NULL;
        assert_int_equal(clattn_sdpa_plan_create(&plan, g_ctx, &d), CLATTN_SUCCESS);
        if (!tu_check_plan_path(plan, &d, &w)) fail_msg("path");
        clattn_sdpa_buffers u;
        clattn_sdpa_buffers_init(&u);
        u.q = q, u.k = kpool, u.v = vpool, u.kv_lengths = lens, u.block_table = table, u.out = got;
        if (clattn_sdpa_execute_buffers(plan, &u) != CLATTN_SUCCESS) fail_msg("%s", clattn_last_error(g_ctx));
        clattn_sdpa_plan_destroy(plan);
        for (int b = 0; b < B; b++) pos[b] = lens[b];
    }
    double *ref = tu_xmalloc((size_t)(B * Hq * P * D) * sizeof(double));
    for (int64_t i = 0; i < B * Hq * P * D; i++) ref[i] = want[i];
    if (!tu_check_array(&w, "chunked prefill vs one causal call", got, ref, B * Hq * P * D, TU_TOL_F32))
        fail_msg("chunked prefill (seed %llu)", (unsigned long long)seed);
    (void)Lk;
    free(kpool), free(vpool), free(q), free(kc), free(vc), free(want), free(got), free(ref);
}

/* A multi-device context ("host,host") refuses paged plans and appends (CLATTN_ERROR_UNSUPPORTED naming the path). */
static void test_multi_refuses(void **state)
{
    (void)state;
    if (g_backend != TU_HOST) skip(); /* once is enough */
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = "host,host";
    clattn_context *m = NULL;
    if (clattn_context_create(&m, &o) != CLATTN_SUCCESS) fail_msg("host,host: %s", clattn_last_error(NULL));
    clattn_sdpa_desc d;
    paged_desc(&d, 2, 4, 2, 1, 8, 8, 8, 16, 4);
    clattn_sdpa_plan *plan = NULL;
    const clattn_status st = clattn_sdpa_plan_create(&plan, m, &d);
    if (st != CLATTN_ERROR_UNSUPPORTED || !strstr(clattn_last_error(m), "multi-device path cannot read a paged KV cache"))
        fail_msg("multi-device paged plan: status %d, '%s'", (int)st, clattn_last_error(m));
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, 1, 1, 1, 4, 4, 2, 16, 2);
    clattn_kv_append_plan *ap = NULL;
    const clattn_status sa = clattn_kv_append_plan_create(&ap, m, &ad);
    if (sa != CLATTN_ERROR_UNSUPPORTED || !strstr(clattn_last_error(m), "cannot append to a paged KV cache"))
        fail_msg("multi-device append: status %d, '%s'", (int)sa, clattn_last_error(m));
    clattn_context_destroy(m);
}

/* test_paged: every test but the table rows; test_paged --rows: the case table's paged rows only (CTest paged_rows.*,
 * registered apart so that each run stays inside its timeout when every shape is a cold PoCL kernel build). */
int main(int argc, char **argv)
{
    const bool rows = argc > 1 && strcmp(argv[1], "--rows") == 0;
    if (argc > 1 && !rows) {
        fprintf(stderr, "usage: test_paged [--rows]\n");
        return 2;
    }
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    struct CMUnitTest tests[] = {cmocka_unit_test(test_desc_errors),   cmocka_unit_test(test_exec_errors),
                                 cmocka_unit_test(test_append_errors), cmocka_unit_test(test_append),
                                 cmocka_unit_test(test_sdpa),          cmocka_unit_test(test_chunked_prefill),
                                 cmocka_unit_test(test_multi_refuses)};
    struct CMUnitTest row_tests[] = {cmocka_unit_test(test_table_rows)};
    int failed = rows ? tu_run_group("paged_rows", row_tests, 1) : tu_run_group("paged", tests, sizeof tests / sizeof tests[0]);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
