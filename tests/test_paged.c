/*
 * test_paged: the paged KV cache (issue #13 item 3; clattn_sdpa_desc.kv_layout = CLATTN_KV_PAGED and
 * clattn_kv_append_*) on the backend chosen by CLATTN_DEVICE (exit 77 when absent).
 *
 * Validation: every descriptor and execution error names the argument and its value (kv_layout, kv_block_size,
 * max_blocks_per_seq and its overflow, pool dims, use_kv_lengths, block_table bound or missing, out-of-range
 * entries among the blocks kv_lengths reaches; the append's dims, positions past the table and bad entries).
 * Append: random pools with every slot poisoned (NaN payload), rows of B sequences appended at positions that
 * cross block boundaries through a shuffled block table, float32 and float16, interleaved K/V pools (one
 * allocation): every appended element lands bit for bit at its slot, every other slot keeps its poison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
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
static void append_case(int idx, bool f16, bool interleave)
{
    const uint64_t seed = tu_case_seed("paged.append", idx);
    tu_rng r;
    tu_rng_init(&r, seed);
    const int64_t B = tu_rng_int(&r, 1, 4), Hkv = tu_rng_int(&r, 1, 3), D = tu_rng_int(&r, 1, 9) * (idx % 2 ? 1 : 7),
                  Dv = tu_rng_int(&r, 1, 12), bs = (int64_t)16 << tu_rng_int(&r, 0, 2), mb = tu_rng_int(&r, 2, 5),
                  Lnew = tu_rng_int(&r, 1, bs + 3), nb = B * mb + tu_rng_int(&r, 0, 3);
    const size_t es = f16 ? 2 : 4;
    /* pools: interleaved [nb, bs, Hkv, D + Dv] (K then V in each row), else separate contiguous ones */
    clattn_kv_append_desc d;
    clattn_kv_append_desc_init(&d, B, Hkv, Lnew, D, Dv, nb, bs, mb);
    d.data_type = f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
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
                     (long long)Lnew, f16 ? ", fp16" : "", interleave ? ", interleaved" : "", (long long)i, kc[i],
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
    for (int i = 0; i < 24; i++) append_case(i, i % 3 == 1, i % 4 >= 2);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    g_backend = tu_backend_of(g_ctx);
    struct CMUnitTest tests[] = {cmocka_unit_test(test_desc_errors), cmocka_unit_test(test_exec_errors),
                                 cmocka_unit_test(test_append_errors), cmocka_unit_test(test_append)};
    int failed = tu_run_group("paged", tests, sizeof tests / sizeof tests[0]);
    clattn_context_destroy(g_ctx);
    return failed ? 1 : 0;
}
