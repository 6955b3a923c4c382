/*
 * split_kv_example: a toy autoregressive loop over a block-split KV cache with clattn's log-sum-exp output
 * and merge (clattn_sdpa_desc.want_lse, clattn_merge_*), checked against one contiguous SDPA call per step.
 *
 * The "model" is random: token t has a query, key and value row per head from a seeded generator. The cache
 * keeps keys and values in blocks of BLOCK tokens, each its own array [Hkv, BLOCK, D] (as a paged cache's
 * pages would be). The prompt is prefilled in chunks of CHUNK tokens: a chunk's queries attend to the earlier
 * blocks (every key allowed) and to the chunk itself (causal), and the two partial results merge; then
 * STEPS tokens are decoded one at a time: the new query attends to every block on its own (the last block only
 * as far as it is filled: a key view), and the per-block results merge. After every chunk and step the merged
 * output is compared with one SDPA call over the contiguous keys (bottom-right causal): it must agree within
 * 1e-4. Prints one line per step and "split_kv_example: OK"; exits 1 on a mismatch or an error.
 *
 *   q: [1, Hq, Lq, D]   k, v: [1, Hkv, Lk, D]   out: [1, Hq, Lq, D]   lse: [1, Hq, Lq]
 */
#include <clattn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HQ = 8, HKV = 2, D = 32, BLOCK = 16, PROMPT = 40, CHUNK = 16, STEPS = 12, MAXT = PROMPT + STEPS };
#define MAXB ((MAXT + BLOCK - 1) / BLOCK)

static float rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float kcache[MAXB][HKV * BLOCK * D], vcache[MAXB][HKV * BLOCK * D]; /* the blocks */
static float kall[HKV * MAXT * D], vall[HKV * MAXT * D];                   /* the same keys, contiguous */

static int check(clattn_context *ctx, clattn_status st, const char *what)
{
    if (st != CLATTN_SUCCESS) fprintf(stderr, "%s: %s: %s\n", what, clattn_status_string(st), clattn_last_error(ctx));
    return st != CLATTN_SUCCESS;
}

/* out/lse of part p (slot p of the stacks) = attention of q [Lq rows] over n keys starting at key j0 of block
 * array kb/vb (a key view [1, HKV, n, D] of a [HKV, ld, D] array); causal: bottom-right. */
static int attend_part(clattn_context *ctx, const float *q, int64_t Lq, const float *kb, const float *vb, int64_t ld,
                       int64_t j0, int64_t n, int causal, float *po, float *pl, int64_t p)
{
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, HQ, HKV, Lq, n, D, D);
    const int64_t kd[4] = {1, HKV, n, D}, ks[4] = {HKV * ld * D, ld * D, D, 1};
    d.k = clattn_tensor_view(4, kd, ks, j0 * D);
    d.v = clattn_tensor_view(4, kd, ks, j0 * D);
    d.out.offset = p * HQ * Lq * D;
    d.want_lse = 1;
    d.lse.offset = p * HQ * Lq;
    d.causal = causal ? CLATTN_CAUSAL_BOTTOM_RIGHT : CLATTN_CAUSAL_NONE;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &d);
    if (st == CLATTN_SUCCESS) {
        clattn_sdpa_buffers b;
        clattn_sdpa_buffers_init(&b);
        b.q = q, b.k = kb, b.v = vb, b.out = po, b.lse = pl;
        st = clattn_sdpa_execute_buffers(plan, &b);
    }
    clattn_sdpa_plan_destroy(plan);
    return check(ctx, st, "sdpa over a part");
}

/* Merged attention of Lq new queries (positions t0 .. t0 + Lq - 1, keys 0 .. t0 + Lq - 1 in the cache) against
 * one contiguous call; returns the max abs difference, or -1 on an error. */
static double step(clattn_context *ctx, const float *q, int64_t t0, int64_t Lq)
{
    static float po[(MAXB + 1) * HQ * CHUNK * D], pl[(MAXB + 1) * HQ * CHUNK], out[HQ * CHUNK * D],
        ref[HQ * CHUNK * D];
    int64_t P = 0;
    if (Lq > 1) {
        /* chunked prefill: the earlier tokens (whole blocks: prefill chunks are block aligned) without a mask,
         * then the chunk itself causally */
        for (int64_t blk = 0; blk < t0 / BLOCK; blk++)
            if (attend_part(ctx, q, Lq, kcache[blk], vcache[blk], BLOCK, 0, BLOCK, 0, po, pl, P++)) return -1;
        const int64_t blk = t0 / BLOCK; /* the chunk's keys: one block (CHUNK == BLOCK, aligned) */
        if (attend_part(ctx, q, Lq, kcache[blk], vcache[blk], BLOCK, 0, Lq, 1, po, pl, P++)) return -1;
    } else {
        /* decode: each block, the last as far as it is filled */
        const int64_t n = t0 + 1;
        for (int64_t blk = 0; blk * BLOCK < n; blk++) {
            const int64_t len = n - blk * BLOCK < BLOCK ? n - blk * BLOCK : BLOCK;
            if (attend_part(ctx, q, 1, kcache[blk], vcache[blk], BLOCK, 0, len, 0, po, pl, P++)) return -1;
        }
    }
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, P, 1, HQ, Lq, D);
    if (check(ctx, clattn_merge_states(ctx, &md, po, pl, out, NULL), "merge")) return -1;

    /* one call over the contiguous keys 0 .. t0 + Lq - 1, bottom-right causal */
    clattn_sdpa_desc d;
    const int64_t lk = t0 + Lq;
    clattn_sdpa_desc_init(&d, 1, HQ, HKV, Lq, lk, D, D);
    const int64_t kd[4] = {1, HKV, lk, D}, ks[4] = {HKV * MAXT * D, MAXT * D, D, 1};
    d.k = clattn_tensor_view(4, kd, ks, 0);
    d.v = clattn_tensor_view(4, kd, ks, 0);
    d.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    if (check(ctx, clattn_sdpa(ctx, &d, q, kall, vall, NULL, NULL, ref, NULL), "contiguous sdpa")) return -1;
    double e = 0.0;
    for (int64_t i = 0; i < HQ * Lq * D; i++) e = fmax(e, fabs((double)out[i] - (double)ref[i]));
    return e;
}

/* Appends token t's key and value rows (all kv heads) to its block and to the contiguous copy. */
static void append(unsigned *s, int64_t t)
{
    for (int h = 0; h < HKV; h++)
        for (int d = 0; d < D; d++) {
            const float kx = rnd(s), vx = rnd(s);
            kcache[t / BLOCK][(h * BLOCK + t % BLOCK) * D + d] = kx;
            vcache[t / BLOCK][(h * BLOCK + t % BLOCK) * D + d] = vx;
            kall[(h * MAXT + t) * D + d] = kx;
            vall[(h * MAXT + t) * D + d] = vx;
        }
}

int main(void)
{
    clattn_context *ctx = NULL;
    if (check(NULL, clattn_context_create(&ctx, NULL), "clattn_context_create")) return 1;
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    printf("device: %s\n", info.device_name);
    unsigned s = 2024;
    static float q[HQ * CHUNK * D];
    int bad = 0;
    /* prefill in chunks of CHUNK tokens (the last one shorter) */
    for (int64_t t0 = 0; t0 < PROMPT && !bad; t0 += CHUNK) {
        const int64_t n = PROMPT - t0 < CHUNK ? PROMPT - t0 : CHUNK;
        for (int64_t t = t0; t < t0 + n; t++) append(&s, t);
        for (int64_t i = 0; i < HQ * n * D; i++) q[i] = rnd(&s);
        const double e = step(ctx, q, t0, n);
        printf("prefill tokens %3lld..%3lld: max |merged - contiguous| = %.3g\n", (long long)t0,
               (long long)(t0 + n - 1), e);
        bad |= !(e >= 0 && e <= 1e-4);
    }
    /* decode one token at a time */
    for (int64_t t = PROMPT; t < PROMPT + STEPS && !bad; t++) {
        append(&s, t);
        for (int64_t i = 0; i < HQ * D; i++) q[i] = rnd(&s);
        const double e = step(ctx, q, t, 1);
        printf("decode token %3lld (%lld blocks): max |merged - contiguous| = %.3g\n", (long long)t,
               (long long)(t / BLOCK + 1), e);
        bad |= !(e >= 0 && e <= 1e-4);
    }
    clattn_context_destroy(ctx);
    printf("split_kv_example: %s\n", bad ? "FAILED" : "OK");
    return bad ? 1 : 0;
}
