/*
 * test_ring (label mpi): clattn_ring_sdpa under `mpirun -np P` (tests/mpi/CMakeLists.txt: P = 2, 3, 4 on
 * the host path, 2 on PoCL). Every rank builds the same global problem from one seed, runs single-process
 * SDPA over the whole sequence (the reference: out and lse), then the ring over its shards, and compares
 * its rows (contiguous or striped) with the reference rows:
 *   max |ring - ref| <= 2e-5 * max(1, max |ref|) for float32 out and lse (finite ones; -inf must match),
 *   1e-3 for float16 out (the merge rounds once more than one call).
 * Cases: no mask, global causal (contiguous and striped), kv padding, boolean and additive masks (local rows
 * over every key), GQA, cross-attention shards (q_len != kv_len), softcap + scale, float16, Lq = 1.
 * CLATTN_TEST_RING_CASES (comma-separated names) runs a subset (the PoCL run).
 * Then the collective errors: one rank's bad shard (a desc that differs from rank 0's, a NULL q, a
 * kv_lengths element out of range) must fail the call on EVERY rank with the same status and a message
 * naming that rank.
 *
 * Not CMocka: a rank that stopped at a failed assertion would leave the others waiting in a collective
 * call. Each rank counts its failures, keeps calling every collective, and the counts are summed at the end
 * (exit 1 on every rank when any failed). The seed is printed; CLATTN_TEST_SEED overrides it.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "clattn_mpi.h"

static int g_rank, g_size, g_fail;
static uint64_t g_seed = 20261205;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "FAIL [rank %d, seed %llu] %s:%d: ", g_rank, (unsigned long long)g_seed, __FILE__, \
                    __LINE__);                                                                               \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            g_fail++;                                                                                        \
        }                                                                                                    \
    } while (0)

static uint64_t rng_state;
static double urand(void) /* [0, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static uint16_t to_half(float f) /* round to nearest even, finite inputs in range */
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    float a = fabsf(f);
    if (a < 6.103515625e-05f) return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    uint32_t mant = (uint32_t)lrintf(m * 2048.0f); /* 11 bits with the hidden one */
    if (mant == 2048) mant = 1024, e++;
    return (uint16_t)(sign | (uint32_t)(e + 14) << 10 | (mant - 1024));
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

typedef struct rcase {
    const char *name;
    int64_t B, Hq, Hkv, Lq, Lk, D, Dv; /* Lq, Lk per rank */
    int causal;
    clattn_ring_sharding sharding;
    int kvl;
    clattn_mask_kind mask_kind;
    int mb, mh, mq; /* mask dims full (1) or broadcast (0) */
    float scale, softcap;
    int f16;
    int lse;
} rcase;

/* global row of local row i on rank r */
static int64_t global_row(clattn_ring_sharding s, int64_t L, int r, int64_t i)
{
    return s == CLATTN_RING_STRIPED ? r + i * g_size : (int64_t)r * L + i;
}

/* Copies local rows of a [B, H, P*L, W] array (element size es) into [B, H, L, W]. */
static void shard_rows(const char *g, char *l, int64_t BH, int64_t L, int64_t W, size_t es, clattn_ring_sharding s)
{
    for (int64_t bh = 0; bh < BH; bh++)
        for (int64_t i = 0; i < L; i++)
            memcpy(l + (size_t)((bh * L + i) * W) * es,
                   g + (size_t)((bh * L * g_size + global_row(s, L, g_rank, i)) * W) * es, (size_t)W * es);
}

static void run_case(clattn_context *ctx, const rcase *c, int idx)
{
    const int P = g_size;
    const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Lq = c->Lq, Lk = c->Lk, D = c->D, Dv = c->Dv;
    const int64_t GLq = P * Lq, GLk = P * Lk;
    const size_t es = c->f16 ? 2 : 4;
    rng_state = g_seed * 1000003u + (uint64_t)idx * 7919u;
    const int64_t ngq = B * Hq * GLq * D, ngk = B * Hkv * GLk * D, ngv = B * Hkv * GLk * Dv, ngo = B * Hq * GLq * Dv;
    float *gq = malloc((size_t)ngq * 4), *gk = malloc((size_t)ngk * 4), *gv = malloc((size_t)ngv * 4);
    for (int64_t i = 0; i < ngq; i++) gq[i] = (float)(2 * urand() - 1);
    for (int64_t i = 0; i < ngk; i++) gk[i] = (float)(2 * urand() - 1);
    for (int64_t i = 0; i < ngv; i++) gv[i] = (float)(2 * urand() - 1);
    /* in float16 cases the inputs are halves everywhere (the reference sees the same values) */
    uint16_t *hq = NULL, *hk = NULL, *hv = NULL;
    if (c->f16) {
        hq = malloc((size_t)ngq * 2), hk = malloc((size_t)ngk * 2), hv = malloc((size_t)ngv * 2);
        for (int64_t i = 0; i < ngq; i++) hq[i] = to_half(gq[i]);
        for (int64_t i = 0; i < ngk; i++) hk[i] = to_half(gk[i]);
        for (int64_t i = 0; i < ngv; i++) hv[i] = to_half(gv[i]);
    }
    const void *Q = c->f16 ? (void *)hq : (void *)gq, *K = c->f16 ? (void *)hk : (void *)gk,
               *V = c->f16 ? (void *)hv : (void *)gv;
    int32_t kvl[64];
    for (int64_t b = 0; b < B; b++) /* 0, full, then random */
        kvl[b] = b == 0 ? 0 : b == 1 ? (int32_t)GLk : (int32_t)(urand() * (double)(GLk + 1));
    const int64_t Bm = c->mb ? B : 1, Hm = c->mh ? Hq : 1, Lqm = c->mq ? GLq : 1;
    const size_t mes = c->mask_kind == CLATTN_MASK_BOOL ? 1 : 4;
    void *gmask = NULL;
    if (c->mask_kind != CLATTN_MASK_NONE) {
        const int64_t n = Bm * Hm * Lqm * GLk;
        gmask = malloc((size_t)n * mes);
        for (int64_t i = 0; i < n; i++) {
            if (c->mask_kind == CLATTN_MASK_BOOL) ((uint8_t *)gmask)[i] = urand() < 0.7;
            else ((float *)gmask)[i] = urand() < 0.2 ? -INFINITY : (float)(urand() * 4 - 2);
        }
    }

    /* the reference: one SDPA over the whole sequence on this rank */
    void *gout = malloc((size_t)ngo * es);
    float *glse = malloc((size_t)(B * Hq * GLq) * 4);
    clattn_sdpa_desc sd;
    clattn_sdpa_desc_init(&sd, B, Hq, Hkv, GLq, GLk, D, Dv);
    sd.causal = c->causal ? CLATTN_CAUSAL_TOP_LEFT : CLATTN_CAUSAL_NONE;
    sd.scale = c->scale;
    sd.softcap = c->softcap;
    sd.data_type = c->f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
    sd.use_kv_lengths = c->kvl;
    sd.want_lse = 1;
    if (gmask) {
        sd.mask_kind = c->mask_kind;
        sd.mask = clattn_tensor_contiguous(Bm, Hm, Lqm, GLk);
    }
    clattn_sdpa_buffers bufs;
    clattn_sdpa_buffers_init(&bufs);
    bufs.q = Q, bufs.k = K, bufs.v = V, bufs.mask = gmask, bufs.kv_lengths = c->kvl ? kvl : NULL;
    bufs.out = gout, bufs.lse = glse;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &sd);
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_execute_buffers(plan, &bufs);
    clattn_sdpa_plan_destroy(plan);
    CHECK(st == CLATTN_SUCCESS, "%s: reference SDPA: %s", c->name, clattn_last_error(ctx));

    /* this rank's shards */
    const int64_t nq = B * Hq * Lq * D, nk = B * Hkv * Lk * D, nv = B * Hkv * Lk * Dv, no = B * Hq * Lq * Dv;
    char *lq = malloc((size_t)nq * es), *lk = malloc((size_t)nk * es), *lv = malloc((size_t)nv * es);
    char *lo = malloc((size_t)no * es);
    float *llse = malloc((size_t)(B * Hq * Lq) * 4);
    shard_rows(Q, lq, B * Hq, Lq, D, es, c->sharding);
    shard_rows(K, lk, B * Hkv, Lk, D, es, c->sharding);
    shard_rows(V, lv, B * Hkv, Lk, Dv, es, c->sharding);
    void *lmask = NULL;
    if (gmask) { /* this rank's query rows over every key */
        const int64_t lqm = c->mq ? Lq : 1;
        lmask = malloc((size_t)(Bm * Hm * lqm * GLk) * mes);
        if (c->mq) shard_rows(gmask, lmask, Bm * Hm, Lq, GLk, mes, c->sharding);
        else memcpy(lmask, gmask, (size_t)(Bm * Hm * GLk) * mes);
    }
    memset(lo, 0xff, (size_t)no * es); /* NaN poison */
    for (int64_t i = 0; i < B * Hq * Lq; i++) llse[i] = NAN;
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, B, Hq, Hkv, Lq, Lk, D, Dv);
    rd.causal = c->causal;
    rd.sharding = c->sharding;
    rd.scale = c->scale;
    rd.softcap = c->softcap;
    rd.use_kv_lengths = c->kvl;
    rd.mask_kind = c->mask_kind;
    rd.mask_dims[0] = Bm, rd.mask_dims[1] = Hm, rd.mask_dims[2] = c->mq ? Lq : 1;
    rd.want_lse = c->lse;
    rd.data_type = sd.data_type;
    st = clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, lq, lk, lv, lmask, c->kvl ? kvl : NULL, lo, c->lse ? llse : NULL);
    CHECK(st == CLATTN_SUCCESS, "%s: clattn_ring_sdpa returned %s: %s", c->name, clattn_status_string(st),
          clattn_last_error(ctx));

    /* compare this rank's rows with the reference rows */
    double maxref = 0, worst = 0;
    int64_t worst_i = -1;
    for (int64_t bh = 0; bh < B * Hq && st == CLATTN_SUCCESS; bh++)
        for (int64_t i = 0; i < Lq; i++) {
            int64_t g = global_row(c->sharding, Lq, g_rank, i);
            for (int64_t e = 0; e < Dv; e++) {
                size_t li = (size_t)((bh * Lq + i) * Dv + e), gi = (size_t)((bh * GLq + g) * Dv + e);
                double a = c->f16 ? half_to_double(((uint16_t *)lo)[li]) : ((float *)lo)[li];
                double r = c->f16 ? half_to_double(((uint16_t *)gout)[gi]) : ((float *)gout)[gi];
                if (fabs(r) > maxref) maxref = fabs(r);
                double err = isnan(a) ? INFINITY : fabs(a - r);
                if (err > worst) worst = err, worst_i = (int64_t)li;
            }
            if (c->lse) {
                float a = llse[bh * Lq + i], r = glse[bh * GLq + g];
                bool ok = isinf(r) ? a == r : fabsf(a - r) <= 2e-5f * fmaxf(1.0f, fabsf(r));
                CHECK(ok, "%s: lse (bh %lld, row %lld = global %lld): %g, reference %g", c->name, (long long)bh,
                      (long long)i, (long long)g, (double)a, (double)r);
            }
        }
    const double tol = (c->f16 ? 1e-3 : 2e-5) * (maxref > 1 ? maxref : 1);
    CHECK(st != CLATTN_SUCCESS || worst <= tol, "%s: out max |ring - ref| %g at local element %lld, bound %g",
          c->name, worst, (long long)worst_i, tol);
    if (g_rank == 0)
        printf("# %-34s P=%d max|err| %.3g (bound %.3g)\n", c->name, P, worst, tol);
    free(gq), free(gk), free(gv), free(hq), free(hk), free(hv), free(gmask), free(gout), free(glse);
    free(lq), free(lk), free(lv), free(lo), free(llse), free(lmask);
}

/* One rank's bad argument must fail the call on every rank with the same status, naming the rank. */
static void bad_shard(clattn_context *ctx, int culprit, int what, clattn_status want, const char *text)
{
    enum { B = 1, H = 2, L = 4, D = 8 };
    float q[B * H * L * D], o[B * H * L * D];
    for (int i = 0; i < B * H * L * D; i++) q[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    int32_t kvl[1] = {L};
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, B, H, H, L, L, D, D);
    rd.use_kv_lengths = 1;
    const void *qp = q;
    if (g_rank == culprit) {
        if (what == 0) rd.head_dim = 4; /* differs from rank 0's (culprit != 0) */
        if (what == 1) qp = NULL;
        if (what == 2) kvl[0] = L * g_size + 1;
    }
    clattn_status st = clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, qp, q, q, NULL, kvl, o, NULL);
    const char *msg = clattn_last_error(ctx);
    char rank_text[32];
    snprintf(rank_text, sizeof rank_text, "rank %d:", culprit);
    CHECK(st == want && strstr(msg, rank_text) && strstr(msg, text),
          "bad shard %d on rank %d: status %s, message '%s'; expected %s with '%s' and '%s'", what, culprit,
          clattn_status_string(st), msg, clattn_status_string(want), rank_text, text);
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    const char *s = getenv("CLATTN_TEST_SEED");
    if (s && *s) g_seed = strtoull(s, NULL, 10);
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create(&ctx, NULL);
    if (st != CLATTN_SUCCESS) {
        fprintf(stderr, "FAIL [rank %d]: clattn_context_create: %s\n", g_rank, clattn_last_error(NULL));
        MPI_Abort(MPI_COMM_WORLD, 1); /* the test's own setup: nothing to agree on */
    }
    if (g_rank == 0) {
        clattn_device_info info;
        clattn_device_info_init(&info);
        clattn_context_get_info(ctx, &info);
        printf("# test_ring: %d ranks, device '%s' (%s), seed %llu\n", g_size, info.device_name, info.platform_name,
               (unsigned long long)g_seed);
    }
    const clattn_ring_sharding C = CLATTN_RING_CONTIGUOUS, S = CLATTN_RING_STRIPED;
    const rcase cases[] = {
        {"full_contiguous", 2, 4, 2, 9, 9, 16, 16, 0, C, 0, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"causal_contiguous", 2, 4, 4, 11, 11, 16, 8, 1, C, 0, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"causal_striped", 2, 4, 2, 11, 11, 16, 16, 1, S, 0, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"causal_striped_kvl", 4, 6, 3, 7, 7, 8, 8, 1, S, 1, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"kvl_contiguous", 4, 2, 1, 5, 5, 8, 8, 0, C, 1, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"bool_mask_contiguous", 2, 4, 2, 6, 6, 8, 8, 0, C, 0, CLATTN_MASK_BOOL, 1, 0, 1, 0, 0, 0, 1},
        {"additive_mask_striped_causal", 1, 4, 2, 8, 8, 8, 8, 1, S, 0, CLATTN_MASK_ADDITIVE, 0, 1, 1, 0, 0, 0, 1},
        {"bool_mask_row_bcast_striped", 2, 2, 2, 5, 5, 8, 8, 0, S, 1, CLATTN_MASK_BOOL, 1, 1, 0, 0, 0, 0, 1},
        {"cross_striped_kvl", 3, 4, 2, 3, 13, 16, 24, 0, S, 1, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"softcap_scale_no_lse", 1, 2, 2, 9, 9, 32, 32, 1, S, 0, CLATTN_MASK_NONE, 0, 0, 0, 0.3f, 4.0f, 0, 0},
        {"decode_lq1", 2, 8, 2, 1, 40, 64, 64, 0, C, 1, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 0, 1},
        {"f16_causal_striped", 2, 4, 2, 10, 10, 16, 16, 1, S, 0, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 1, 1},
        {"f16_contiguous_kvl", 2, 2, 1, 6, 6, 8, 8, 1, C, 1, CLATTN_MASK_NONE, 0, 0, 0, 0, 0, 1, 0},
    };
    /* CLATTN_TEST_RING_CASES=name,name: only those rows (the PoCL run: each new shape compiles kernels) */
    const char *only = getenv("CLATTN_TEST_RING_CASES");
    int ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (only && *only) {
            const char *hit = strstr(only, cases[i].name);
            size_t n = strlen(cases[i].name);
            if (!hit || (hit != only && hit[-1] != ',') || (hit[n] != ',' && hit[n] != '\0')) continue;
        }
        run_case(ctx, &cases[i], (int)i);
        ran++;
    }
    CHECK(ran > 0, "CLATTN_TEST_RING_CASES='%s' names no case", only ? only : "");
    bad_shard(ctx, g_size - 1, 0, CLATTN_ERROR_INVALID_ARGUMENT, "desc.head_dim differs from rank 0's");
    bad_shard(ctx, g_size - 1, 1, CLATTN_ERROR_INVALID_ARGUMENT, "q is NULL");
    bad_shard(ctx, 0, 2, CLATTN_ERROR_INVALID_ARGUMENT, "kv_lengths: element 0 is");
    /* after the failures the ring still works */
    run_case(ctx, &cases[2], 100);
    { /* clattn_ring_stats: steps, bytes, and the steps a contiguous causal rank computes (its own + earlier) */
        enum { B = 1, H = 2, L = 5, D = 8 };
        float q[B * H * L * D], o[B * H * L * D];
        for (int i = 0; i < B * H * L * D; i++) q[i] = (float)((i * 29) % 13) / 13.0f - 0.5f;
        clattn_ring_stats stats;
        memset(&stats, 0xff, sizeof stats);
        clattn_ring_desc rd;
        clattn_ring_desc_init(&rd, B, H, H, L, L, D, D);
        rd.causal = 1;
        rd.stats = &stats;
        st = clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, q, q, q, NULL, NULL, o, NULL);
        CHECK(st == CLATTN_SUCCESS, "stats call: %s", clattn_last_error(ctx));
        CHECK(stats.steps == g_size && stats.steps_computed == g_rank + 1 &&
                  stats.bytes_sent == (uint64_t)(g_size - 1) * 2 * B * H * L * D * sizeof(float) &&
                  stats.total_ms >= stats.compute_ms + stats.merge_ms && stats.compute_ms >= 0 && stats.wait_ms >= 0,
              "stats: steps %d, computed %d (expected %d), bytes %llu, total %g, compute %g, merge %g, wait %g",
              stats.steps, stats.steps_computed, g_rank + 1, (unsigned long long)stats.bytes_sent, stats.total_ms,
              stats.compute_ms, stats.merge_ms, stats.wait_ms);
    }
    clattn_context_destroy(ctx);
    int total = 0;
    MPI_Allreduce(&g_fail, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0) printf("# test_ring: %d ranks, %d failures\n", g_size, total);
    MPI_Finalize();
    return total ? 1 : 0;
}
