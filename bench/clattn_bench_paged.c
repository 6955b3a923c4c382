/*
 * clattn-bench-paged: SDPA over a paged KV cache (issue #13 item 4) against the same attention over contiguous
 * K/V, on the device CLATTN_DEVICE (or --device) selects.
 *
 *   clattn-bench-paged [--device SELECTOR] [--threads N] [--block-size BS[,BS...]] [--repeat N] [--warmup N]
 *                      [--tol X] [--tiny]
 *
 * decode: B = 8 sequences of lengths spread evenly over 512..8192, one query each, Hq 32 over Hkv 8 (GQA),
 *   D = Dv = 128, float32. The paged call reads the keys through a block table over a pool whose blocks are a
 *   random permutation (block size BS); the contiguous call reads the same keys from [B, Hkv, 8192, D] arrays with
 *   the same kv_lengths, for two pool layouts: nhd [num_blocks, block_size, Hkv, D] (vLLM / FlashAttention) and
 *   hnd [num_blocks, Hkv, block_size, D] (FlashInfer's HND: a head's rows of a block contiguous); for nhd also a
 *   contiguous call over [B, Lk, Hkv, D] K/V (PyTorch's BLHD: the heads interleaved as in an nhd pool), so the
 *   cost of paging can be told from the cost of that layout. Printed: both times (median of --repeat after --warmup), paged/contig, the K+V bytes the
 *   call must read (sum of lengths · Hkv · (D + Dv) · 4), GB/s of each, and bound = GB/s / the measured read
 *   bandwidth (a host read of 512 MiB split over the context's threads, best of 5: the memory a CPU device reads
 *   too; on a GPU this bound is not the device's).
 * prefill: one sequence of 4096 tokens, Hq = Hkv = 8, D = 64: one causal call over contiguous K/V ("single")
 *   against 8 chunks of 512 queries, each appended to the paged cache (clattn_kv_append_execute) and attended
 *   bottom-right causal at the sequence's end ("chunked": the 8 attention calls; "append": the 8 appends).
 * Every paged result is compared with the contiguous one (max_abs_err, exit 1 above --tol · max(1, max|ref|),
 * default 1e-4). Times are host wall clock (CLOCK_MONOTONIC); on OpenCL they include the host copies of
 * clattn_*_execute (the pools are copied in on every call there). Ratios are only meaningful within one run.
 * --tiny: small shapes (CTest bench.paged.tiny), same checks.
 * The shapes are the case table's rows tagged bench-paged (tests/cases/cases.c; --tiny: those named *_tiny): the
 * decode row gives B, Hq, Hkv, D and Lk (lengths spread over Lk/16..Lk), the prefill row Hq, D, the prompt (Lk)
 * and the chunk (Lq); without --block-size, the decode row's kv_block_size and 256 are timed.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_timing.h"
#include "cases.h" /* the shapes: rows tagged bench-paged */
#include "clattn.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float urand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "clattn-bench-paged: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static int bench_fail(clattn_context *ctx, const char *what, clattn_status st)
{
    fprintf(stderr, "clattn-bench-paged: %s: %s: %s\n", what, clattn_status_string(st), clattn_last_error(ctx));
    return 1;
}

/* max |a - b| over n; *mx = max |b| */
static double max_err(const float *a, const float *b, int64_t n, double *mx)
{
    double e = 0.0;
    *mx = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(b[i]) > *mx) *mx = fabs(b[i]);
        const double d = isnan(a[i]) != isnan(b[i]) ? INFINITY : isnan(a[i]) ? 0.0 : fabs((double)a[i] - b[i]);
        if (d > e) e = d;
    }
    return e;
}

/* ---- read bandwidth ---------------------------------------------------------------------------------- */

typedef struct bw_part {
    const float *p;
    size_t n;
    double sum;
} bw_part;

static void *bw_read(void *arg)
{
    bw_part *b = arg;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (size_t i = 0; i + 8 <= b->n; i += 8) {
        s0 += b->p[i], s1 += b->p[i + 1], s2 += b->p[i + 2], s3 += b->p[i + 3];
        s4 += b->p[i + 4], s5 += b->p[i + 5], s6 += b->p[i + 6], s7 += b->p[i + 7];
    }
    b->sum = (double)(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)));
    return NULL;
}

/* GB/s of reading `bytes` split over `threads` threads, best of 5 (after one warm pass). */
static double read_bandwidth(int threads, size_t bytes)
{
    const size_t n = bytes / sizeof(float);
    float *buf = xmalloc(bytes);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t th[64];
    bw_part parts[64];
    double best = INFINITY, sink = 0;
    for (int rep = 0; rep < 6; rep++) {
        const double t0 = bench_now_ms();
        for (int t = 0; t < threads; t++) {
            parts[t].p = buf + n / (size_t)threads * (size_t)t;
            parts[t].n = n / (size_t)threads;
            pthread_create(&th[t], NULL, bw_read, &parts[t]);
        }
        for (int t = 0; t < threads; t++) pthread_join(th[t], NULL), sink += parts[t].sum;
        const double ms = bench_now_ms() - t0;
        if (rep > 0 && ms < best) best = ms;
    }
    free(buf);
    if (sink == 1.2345) printf(" ");
    return (double)(n / (size_t)threads * (size_t)threads) * sizeof(float) / best * 1e-6;
}

/* ---- decode ------------------------------------------------------------------------------------------- */

typedef struct shape {
    int64_t B, Hq, Hkv, D, Lmin, Lmax;    /* decode */
    int64_t P, chunk, pH, pD;              /* prefill: tokens, chunk, heads, head dim */
} shape;

/* Pool layouts: "nhd" [num_blocks, block_size, Hkv, D] (vLLM, FlashAttention's k_cache; FlashInfer NHD), "hnd"
 * [num_blocks, Hkv, block_size, D] (FlashInfer HND: each head's rows of a block contiguous). Both are 4-D views
 * [num_blocks, block_size, Hkv, D] to clattn, with different strides. */
static int bench_decode(clattn_context *ctx, const shape *s, int64_t bs, bool hnd, int repeat, int warmup, double tol,
                        double bw)
{
    const int64_t B = s->B, Hq = s->Hq, Hkv = s->Hkv, D = s->D, Dv = s->D, Lk = s->Lmax, mb = Lk / bs;
    int32_t *lens = xmalloc((size_t)B * sizeof(int32_t));
    int64_t used = 0, keys = 0;
    for (int64_t b = 0; b < B; b++) {
        lens[b] = (int32_t)(s->Lmin + (B > 1 ? (s->Lmax - s->Lmin) * b / (B - 1) : 0));
        used += (lens[b] + bs - 1) / bs;
        keys += lens[b];
    }
    /* pool: a random permutation of `used` blocks */
    const int64_t nb = used;
    int32_t *perm = xmalloc((size_t)nb * sizeof(int32_t)), *table = xmalloc((size_t)(B * mb) * sizeof(int32_t));
    for (int64_t i = 0; i < nb; i++) perm[i] = (int32_t)i;
    for (int64_t i = nb - 1; i > 0; i--) {
        g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
        const int64_t j = (int64_t)((g_rng >> 33) % (uint64_t)(i + 1));
        const int32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int64_t next = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < mb; i++) table[b * mb + i] = i < (lens[b] + bs - 1) / bs ? perm[next++] : 0;
    const int64_t rowk = Hkv * D, nk = B * Hkv * Lk * D, npool = nb * bs * rowk, nq = B * Hq * D, no = B * Hq * Dv;
    float *k = xmalloc((size_t)nk * 4), *v = xmalloc((size_t)nk * 4), *kp = xmalloc((size_t)npool * 4),
          *vp = xmalloc((size_t)npool * 4), *q = xmalloc((size_t)nq * 4), *o1 = xmalloc((size_t)no * 4),
          *o2 = xmalloc((size_t)no * 4);
    for (int64_t i = 0; i < nk; i++) k[i] = 0.0f, v[i] = 0.0f;
    for (int64_t i = 0; i < nq; i++) q[i] = urand();
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < lens[b]; j++)
            for (int64_t h = 0; h < Hkv; h++)
                for (int64_t d = 0; d < D; d++) {
                    const float x = urand(), y = urand();
                    k[((b * Hkv + h) * Lk + j) * D + d] = x;
                    v[((b * Hkv + h) * Lk + j) * D + d] = y;
                    const int64_t blk = table[b * mb + j / bs];
                    const int64_t at = hnd ? ((blk * Hkv + h) * bs + j % bs) * D + d : (blk * bs + j % bs) * rowk + h * D + d;
                    kp[at] = x, vp[at] = y;
                }
    clattn_sdpa_desc dc, dp;
    clattn_sdpa_desc_init(&dc, B, Hq, Hkv, 1, Lk, D, Dv);
    dc.use_kv_lengths = 1;
    dp = dc;
    dp.kv_layout = CLATTN_KV_PAGED;
    dp.kv_block_size = bs;
    dp.max_blocks_per_seq = mb;
    dp.k = clattn_tensor_contiguous(nb, bs, Hkv, D);
    if (hnd) {
        const int64_t st[4] = {Hkv * bs * D, D, bs * D, 1};
        dp.k = clattn_tensor_view(4, dp.k.dims, st, 0);
    }
    dp.v = dp.k; /* D = Dv */
    /* nhd: also contiguous K/V with the heads interleaved the same way, [B, Lk, Hkv, D] (PyTorch's BLHD), so the
     * paged read can be compared with a contiguous one of the same access pattern */
    float *kb = NULL, *vb = NULL;
    clattn_sdpa_desc dl = dc;
    if (!hnd) {
        kb = xmalloc((size_t)nk * 4), vb = xmalloc((size_t)nk * 4);
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < Hkv; h++)
                for (int64_t j = 0; j < Lk; j++)
                    for (int64_t d = 0; d < D; d++) {
                        kb[((b * Lk + j) * Hkv + h) * D + d] = k[((b * Hkv + h) * Lk + j) * D + d];
                        vb[((b * Lk + j) * Hkv + h) * D + d] = v[((b * Hkv + h) * Lk + j) * D + d];
                    }
        const int64_t st4[4] = {Lk * Hkv * D, D, Hkv * D, 1};
        dl.k = clattn_tensor_view(4, dc.k.dims, st4, 0);
        dl.v = clattn_tensor_view(4, dc.v.dims, st4, 0);
    }
    clattn_sdpa_plan *pc = NULL, *pp = NULL, *pl = NULL;
    clattn_status st;
    int rc = 1;
    double *t = xmalloc((size_t)repeat * 3 * sizeof(double));
    float *o3 = xmalloc((size_t)no * 4);
    if ((st = clattn_sdpa_plan_create(&pc, ctx, &dc))) {
        rc = bench_fail(ctx, "decode contiguous plan", st);
        goto done;
    }
    if ((st = clattn_sdpa_plan_create(&pp, ctx, &dp))) {
        rc = bench_fail(ctx, "decode paged plan", st);
        goto done;
    }
    if (!hnd && (st = clattn_sdpa_plan_create(&pl, ctx, &dl))) {
        rc = bench_fail(ctx, "decode contiguous BLHD plan", st);
        goto done;
    }
    clattn_sdpa_buffers uc, up;
    clattn_sdpa_buffers_init(&uc);
    uc.q = q, uc.k = k, uc.v = v, uc.kv_lengths = lens, uc.out = o1;
    up = uc;
    up.k = kp, up.v = vp, up.block_table = table, up.out = o2;
    for (int it = -warmup; it < repeat; it++) { /* alternate, so that load changes hit both alike */
        const double t0 = bench_now_ms();
        if ((st = clattn_sdpa_execute_buffers(pc, &uc))) {
            rc = bench_fail(ctx, "decode contiguous", st);
            goto done;
        }
        const double t1 = bench_now_ms();
        if ((st = clattn_sdpa_execute_buffers(pp, &up))) {
            rc = bench_fail(ctx, "decode paged", st);
            goto done;
        }
        const double t2 = bench_now_ms();
        if (pl) {
            clattn_sdpa_buffers ul = uc;
            ul.k = kb, ul.v = vb, ul.out = o3;
            if ((st = clattn_sdpa_execute_buffers(pl, &ul))) {
                rc = bench_fail(ctx, "decode contiguous BLHD", st);
                goto done;
            }
        }
        const double t3 = bench_now_ms();
        if (it >= 0) t[it] = t1 - t0, t[repeat + it] = t2 - t1, t[2 * repeat + it] = t3 - t2;
    }
    const double mc = bench_median(t, repeat), mp = bench_median(t + repeat, repeat), ml = pl ? bench_median(t + 2 * repeat, repeat) : 0;
    const double bytes = (double)keys * (double)Hkv * (double)(D + Dv) * 4.0;
    double mx;
    const double err = max_err(o2, o1, no, &mx);
    const bool ok = err <= tol * (mx > 1 ? mx : 1);
    printf("decode  B=%lld Hq=%lld Hkv=%lld D=%lld lengths %lld..%lld bs=%-4lld %s path=%s contig_ms=%.3f paged_ms=%.3f "
           "paged/contig=%.3f MB=%.1f contig_GBps=%.2f paged_GBps=%.2f contig_bound=%.2f paged_bound=%.2f "
           "max_abs_err=%.3g%s\n",
           (long long)B, (long long)Hq, (long long)Hkv, (long long)D, (long long)s->Lmin, (long long)s->Lmax,
           (long long)bs, hnd ? "hnd" : "nhd", clattn_sdpa_plan_path(pp), mc, mp, mp / mc, bytes * 1e-6, bytes / mc * 1e-6,
           bytes / mp * 1e-6, bytes / mc * 1e-6 / bw, bytes / mp * 1e-6 / bw, err, ok ? "" : "  FAIL: above --tol");
    if (pl) {
        double mx3;
        const double e3 = max_err(o3, o1, no, &mx3);
        printf("decode  (nhd bs=%lld) contiguous with the heads interleaved alike, [B,Lk,Hkv,D]: contig_blhd_ms=%.3f "
               "paged/contig_blhd=%.3f contig_blhd_bound=%.2f max_abs_err=%.3g\n",
               (long long)bs, ml, mp / ml, bytes / ml * 1e-6 / bw, e3);
    }
    rc = ok ? 0 : 1;
done:
    clattn_sdpa_plan_destroy(pc);
    clattn_sdpa_plan_destroy(pp);
    clattn_sdpa_plan_destroy(pl);
    free(lens), free(perm), free(table), free(k), free(v), free(kp), free(vp), free(q), free(o1), free(o2), free(t);
    free(kb), free(vb), free(o3);
    return rc;
}

/* ---- chunked prefill ------------------------------------------------------------------------------------ */

static int bench_prefill(clattn_context *ctx, const shape *s, int64_t bs, int repeat, int warmup, double tol)
{
    const int64_t P = s->P, C = s->chunk, H = s->pH, D = s->pD, mb = (P + bs - 1) / bs, nb = mb;
    const int64_t n = H * P * D, npool = nb * bs * H * D;
    float *q = xmalloc((size_t)n * 4), *k = xmalloc((size_t)n * 4), *v = xmalloc((size_t)n * 4),
          *o1 = xmalloc((size_t)n * 4), *o2 = xmalloc((size_t)n * 4), *kp = xmalloc((size_t)npool * 4),
          *vp = xmalloc((size_t)npool * 4);
    int32_t *table = xmalloc((size_t)mb * sizeof(int32_t));
    for (int64_t i = 0; i < mb; i++) table[i] = (int32_t)((i * 5 + 3) % mb); /* not in order */
    for (int64_t i = 0; i < mb; i++) /* a permutation only when gcd(5, mb) = 1: else the identity */
        for (int64_t j = 0; j < i; j++)
            if (table[j] == table[i]) {
                for (int64_t x = 0; x < mb; x++) table[x] = (int32_t)(mb - 1 - x);
                i = mb, j = mb;
            }
    for (int64_t i = 0; i < n; i++) q[i] = urand(), k[i] = urand(), v[i] = urand();
    clattn_sdpa_desc d1;
    clattn_sdpa_desc_init(&d1, 1, H, H, P, P, D, D);
    d1.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    clattn_sdpa_desc dc;
    clattn_sdpa_desc_init(&dc, 1, H, H, C, mb * bs, D, D);
    dc.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    dc.use_kv_lengths = 1;
    dc.kv_layout = CLATTN_KV_PAGED;
    dc.kv_block_size = bs;
    dc.max_blocks_per_seq = mb;
    dc.k = clattn_tensor_contiguous(nb, bs, H, D);
    dc.v = dc.k;
    const int64_t qd[4] = {1, H, C, D}, qs[4] = {H * P * D, P * D, D, 1};
    dc.q = clattn_tensor_view(4, qd, qs, 0);
    dc.out = dc.q;
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, 1, H, C, D, D, nb, bs, mb);
    ad.k_new = dc.q;
    ad.v_new = dc.q;
    clattn_sdpa_plan *p1 = NULL, *pc = NULL;
    clattn_kv_append_plan *pa = NULL;
    clattn_status st;
    int rc = 1;
    double *t = xmalloc((size_t)repeat * 3 * sizeof(double));
    if ((st = clattn_sdpa_plan_create(&p1, ctx, &d1)) || (st = clattn_sdpa_plan_create(&pc, ctx, &dc)) ||
        (st = clattn_kv_append_plan_create(&pa, ctx, &ad))) {
        rc = bench_fail(ctx, "prefill plans", st);
        goto done;
    }
    for (int it = -warmup; it < repeat; it++) {
        const double t0 = bench_now_ms();
        if ((st = clattn_sdpa_execute(p1, q, k, v, NULL, NULL, o1, NULL))) {
            rc = bench_fail(ctx, "prefill single", st);
            goto done;
        }
        const double t1 = bench_now_ms();
        double ta = 0, tc = 0;
        for (int64_t c0 = 0; c0 < P; c0 += C) { /* P is a multiple of C (checked in main) */
            const int32_t pos = (int32_t)c0, len = (int32_t)(c0 + C);
            clattn_kv_append_buffers ab;
            clattn_kv_append_buffers_init(&ab);
            ab.k_new = k + c0 * D, ab.v_new = v + c0 * D, ab.block_table = table, ab.positions = &pos;
            ab.k_cache = kp, ab.v_cache = vp;
            const double a0 = bench_now_ms();
            if ((st = clattn_kv_append_execute(pa, &ab))) {
                rc = bench_fail(ctx, "prefill append", st);
                goto done;
            }
            clattn_sdpa_buffers u;
            clattn_sdpa_buffers_init(&u);
            u.q = q + c0 * D, u.k = kp, u.v = vp, u.kv_lengths = &len, u.block_table = table, u.out = o2 + c0 * D;
            const double a1 = bench_now_ms();
            if ((st = clattn_sdpa_execute_buffers(pc, &u))) {
                rc = bench_fail(ctx, "prefill chunk", st);
                goto done;
            }
            const double a2 = bench_now_ms();
            ta += a1 - a0, tc += a2 - a1;
        }
        (void)t1;
        if (it >= 0) t[it] = t1 - t0, t[repeat + it] = tc, t[2 * repeat + it] = ta;
    }
    const double m1 = bench_median(t, repeat), mc = bench_median(t + repeat, repeat), ma = bench_median(t + 2 * repeat, repeat);
    double mx;
    const double err = max_err(o2, o1, n, &mx);
    const bool ok = err <= tol * (mx > 1 ? mx : 1);
    printf("prefill tokens=%lld chunk=%lld H=%lld D=%lld bs=%-4lld path=%s single_ms=%.2f chunked_ms=%.2f "
           "append_ms=%.2f chunked/single=%.3f (chunked+append)/single=%.3f max_abs_err=%.3g%s\n",
           (long long)P, (long long)C, (long long)H, (long long)D, (long long)bs, clattn_sdpa_plan_path(pc), m1, mc,
           ma, mc / m1, (mc + ma) / m1, err, ok ? "" : "  FAIL: above --tol");
    rc = ok ? 0 : 1;
done:
    clattn_sdpa_plan_destroy(p1);
    clattn_sdpa_plan_destroy(pc);
    clattn_kv_append_plan_destroy(pa);
    free(q), free(k), free(v), free(o1), free(o2), free(kp), free(vp), free(table), free(t);
    return rc;
}

int main(int argc, char **argv)
{
    const char *device = NULL, *bss = NULL;
    int repeat = 7, warmup = 1, threads = 0;
    double tol = 1e-4;
    bool tiny = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--device") && val) device = argv[++i];
        else if (!strcmp(a, "--threads") && val) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--block-size") && val) bss = argv[++i];
        else if (!strcmp(a, "--repeat") && val) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && val) warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--tol") && val) tol = atof(argv[++i]);
        else if (!strcmp(a, "--tiny")) tiny = true;
        else {
            fprintf(stderr, "usage: clattn-bench-paged [--device SELECTOR] [--threads N] [--block-size BS[,BS...]] "
                            "[--repeat N] [--warmup N] [--tol X] [--tiny]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000 || warmup < 0 || threads < 0 || !(tol >= 0)) {
        fprintf(stderr, "clattn-bench-paged: bad --repeat (1..1000), --warmup, --threads or --tol\n");
        return 2;
    }
    /* the shapes from the case table: the decode and prefill rows tagged bench-paged (the *_tiny ones with --tiny) */
    const case_row *rows[16];
    const size_t nrows = case_rows_tagged(CASE_BENCH_PAGED, rows, 16);
    const sdpa_case *dec = NULL, *pre = NULL;
    for (size_t i = 0; i < nrows && i < 16; i++) {
        const sdpa_case *c = &rows[i]->c;
        const size_t nl = strlen(c->name);
        if ((nl >= 5 && !strcmp(c->name + nl - 5, "_tiny")) != tiny) continue;
        if (c->Lq == 1 && !dec) dec = c;
        else if (c->Lq > 1 && !pre) pre = c;
    }
    if (!dec || !pre) {
        fprintf(stderr, "clattn-bench-paged: the case table has no%s decode and prefill rows tagged bench-paged\n",
                tiny ? " *_tiny" : "");
        return 2;
    }
    const shape sh = {dec->B, dec->Hq, dec->Hkv, dec->D, dec->Lk / 16 > 0 ? dec->Lk / 16 : 1, dec->Lk,
                      pre->Lk, pre->Lq, pre->Hq, pre->D};
    const shape *s = &sh;
    char bss_default[48];
    if (!bss) {
        snprintf(bss_default, sizeof bss_default, dec->kv_block_size == 256 ? "%lld" : "%lld,256",
                 (long long)dec->kv_block_size);
        bss = bss_default;
    }
    clattn_context_options o;
    clattn_context_options_init(&o);
    o.device = device;
    o.num_threads = threads;
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, &o);
    if (st) return bench_fail(NULL, "context", st);
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    const double bw = read_bandwidth((int)info.num_threads, tiny ? (size_t)16 << 20 : (size_t)512 << 20);
    printf("# clattn-bench-paged: device '%s' (%s), %u threads; host read bandwidth %.2f GB/s (%u threads, best of 5)\n",
           info.device_name, info.selector, (unsigned)info.num_threads, bw, (unsigned)info.num_threads);
    int rc = 0;
    for (const char *p = bss; *p;) {
        char *end = NULL;
        const long bs = strtol(p, &end, 10);
        if (end == p || bs < 16 || (bs & (bs - 1)) || s->Lmax % bs || s->P % s->chunk) {
            fprintf(stderr, "clattn-bench-paged: --block-size '%s': powers of two >= 16 dividing %lld\n", bss,
                    (long long)s->Lmax);
            rc = 2;
            break;
        }
        rc |= bench_decode(ctx, s, bs, false, repeat, warmup, tol, bw);
        rc |= bench_decode(ctx, s, bs, true, repeat, warmup, tol, bw);
        rc |= bench_prefill(ctx, s, bs, tiny ? 1 : (repeat < 3 ? repeat : 3), tiny ? 0 : 1, tol);
        p = *end == ',' ? end + 1 : end;
    }
    clattn_context_destroy(ctx);
    return rc;
}
