/*
 * clattn-bench-ring: ring attention (clattn_ring_sdpa, include/clattn_mpi.h) under mpirun, with what the
 * scaling model needs, measured in the same run:
 *
 *   mpirun -np P clattn-bench-ring [--batch B] [--heads H] [--kv-heads Hkv] [--local L] [--dim D]
 *                                  [--causal] [--striped] [--repeat N] [--json]
 *
 * Each rank holds L queries and L keys (weak scaling: fix L, vary P; strong scaling: fix P·L). Reported
 * by rank 0 (medians over --repeat calls after one warm-up; every rank's time is the max over ranks):
 *   ring_ms       one clattn_ring_sdpa call
 *   step_ms       one local SDPA (L queries over one shard of L keys, with lse) — a ring step's compute
 *   comm_ms       one ring step's transfer alone (MPI_Sendrecv of the K/V shard to the right neighbour)
 *   bytes/step    K/V shard bytes each rank sends per step
 *   work_ms       per rank, the ring's own account (clattn_ring_stats): its steps' SDPA + merges; printed as
 *                 the mean over ranks, and
 *   imbalance     (largest work_ms - mean) / mean over the ranks (causal: striped sharding evens it out)
 *   wait_ms       per rank, time in MPI_Waitall after a step's work (communication not hidden); the max
 *   hidden        1 - wait_ms / ((P-1)·comm_ms), clamped to [0, 1]: the fraction of the transfers that ran
 *                 behind computation
 *   P*step/ring   the full-mask ideal (P steps of full shards) over the measured call; > 1 for causal runs
 *   model_ms      the model: max over ranks of work + (P-1)·max(0, comm - work/P): each step's transfer
 *                 overlaps that step's work, so a step waits only for what the transfer takes longer
 * Weak-scaling efficiency against one rank (same L per rank; the work per rank grows P-fold with the keys):
 * P·ring_ms(1 rank) / ring_ms(P ranks), from two runs of this program.
 * The numbers are for this machine (its cores are shared by the ranks); the model turns them into a
 * prediction for another one: put its measured link latency/bandwidth into comm = lat + bytes/bw.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "clattn_mpi.h"
#include "bench_timing.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    int64_t B = 1, H = 8, Hkv = 8, L = 2048, D = 64;
    int causal = 0, striped = 0, repeat = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--batch") && v) B = atoll(v), i++;
        else if (!strcmp(a, "--heads") && v) H = atoll(v), i++;
        else if (!strcmp(a, "--kv-heads") && v) Hkv = atoll(v), i++;
        else if (!strcmp(a, "--local") && v) L = atoll(v), i++;
        else if (!strcmp(a, "--dim") && v) D = atoll(v), i++;
        else if (!strcmp(a, "--repeat") && v) repeat = atoi(v), i++;
        else if (!strcmp(a, "--causal")) causal = 1;
        else if (!strcmp(a, "--striped")) striped = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else {
            if (rank == 0) fprintf(stderr, "clattn-bench-ring: unknown or incomplete option '%s' (see the top of "
                                           "bench/ring_bench.c)\n", a);
            MPI_Finalize();
            return 2;
        }
    }
    if (B < 1 || H < 1 || Hkv < 1 || H % Hkv || L < 1 || D < 1 || repeat < 1) {
        if (rank == 0) fprintf(stderr, "clattn-bench-ring: sizes must be >= 1 and heads a multiple of kv-heads\n");
        MPI_Finalize();
        return 2;
    }
    clattn_context *ctx = NULL;
    if (clattn_context_create(&ctx, NULL) != CLATTN_SUCCESS) {
        fprintf(stderr, "rank %d: clattn_context_create: %s\n", rank, clattn_last_error(NULL));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const size_t nq = (size_t)(B * H * L * D), nk = (size_t)(B * Hkv * L * D);
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4), *o = malloc(nq * 4), *lse = malloc(nq / D * 4);
    uint64_t s = 12345u + (uint64_t)rank;
    for (size_t i = 0; i < nq; i++) s = s * 6364136223846793005ull + 1, q[i] = (float)(s >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < nk; i++) s = s * 6364136223846793005ull + 1, k[i] = (float)(s >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < nk; i++) s = s * 6364136223846793005ull + 1, v[i] = (float)(s >> 40) / 16777216.0f - 0.5f;

    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, B, H, Hkv, L, L, D, D);
    rd.causal = causal;
    rd.sharding = striped ? CLATTN_RING_STRIPED : CLATTN_RING_CONTIGUOUS;
    double *t_ring = malloc((size_t)repeat * sizeof(double)), *t_step = malloc((size_t)repeat * sizeof(double)),
           *t_comm = malloc((size_t)repeat * sizeof(double));
    int bad = 0;
    for (int r = -1; r < repeat; r++) { /* r = -1: warm-up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = bench_now_ms();
        bad |= clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, q, k, v, NULL, NULL, o, NULL) != CLATTN_SUCCESS;
        double mine = bench_now_ms() - t0, all;
        MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) t_ring[r] = all;
    }
    /* the ring's own account of one more call: work and waiting per rank */
    double sum = 0, mx = 0, wait_max = 0;
    {
        clattn_ring_stats st;
        rd.stats = &st;
        MPI_Barrier(MPI_COMM_WORLD);
        bad |= clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, q, k, v, NULL, NULL, o, NULL) != CLATTN_SUCCESS;
        rd.stats = NULL;
        double work = st.compute_ms + st.merge_ms;
        MPI_Allreduce(&work, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(&work, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&st.wait_ms, &wait_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    }
    /* one step's compute: a full (non-causal) shard with lse, as the ring runs it */
    clattn_sdpa_desc sd;
    clattn_sdpa_desc_init(&sd, B, H, Hkv, L, L, D, D);
    sd.want_lse = 1;
    clattn_sdpa_plan *plan = NULL;
    bad |= clattn_sdpa_plan_create(&plan, ctx, &sd) != CLATTN_SUCCESS;
    clattn_sdpa_buffers bufs;
    clattn_sdpa_buffers_init(&bufs);
    bufs.q = q, bufs.k = k, bufs.v = v, bufs.out = o, bufs.lse = lse;
    for (int r = -1; r < repeat && plan; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = bench_now_ms();
        bad |= clattn_sdpa_execute_buffers(plan, &bufs) != CLATTN_SUCCESS;
        double mine = bench_now_ms() - t0, all;
        MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) t_step[r] = all;
    }
    clattn_sdpa_plan_destroy(plan);
    /* one step's transfer alone */
    const size_t bytes = 2 * nk * 4;
    char *sb = malloc(bytes), *rb = malloc(bytes);
    memcpy(sb, k, nk * 4), memcpy(sb + nk * 4, v, nk * 4);
    for (int r = -1; r < repeat; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = bench_now_ms();
        if (P > 1) {
            for (size_t off = 0; off < bytes; off += (size_t)1 << 30) {
                int cnt = (int)(bytes - off < ((size_t)1 << 30) ? bytes - off : ((size_t)1 << 30));
                MPI_Sendrecv(sb + off, cnt, MPI_BYTE, (rank + 1) % P, 7, rb + off, cnt, MPI_BYTE, (rank + P - 1) % P,
                             7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
        double mine = bench_now_ms() - t0, all;
        MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) t_comm[r] = all;
    }
    int anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        const double ring = bench_median(t_ring, repeat), stp = bench_median(t_step, repeat), comm = bench_median(t_comm, repeat);
        const double mean = sum / P, imb = (mx - mean) / mean;
        const double model = mx + (P - 1) * fmax(0.0, comm - mx / P);
        const double hidden = P > 1 && comm > 0 ? fmin(1.0, fmax(0.0, 1.0 - wait_max / ((P - 1) * comm))) : NAN;
        const double flops = 4.0 * (double)B * (double)H * (double)(L * P) * (double)(L * P) * (double)D *
                             (causal ? 0.5 : 1.0);
        if (json)
            printf("{\"ranks\": %d, \"B\": %lld, \"H\": %lld, \"Hkv\": %lld, \"local\": %lld, \"D\": %lld, \"causal\": %d, "
                   "\"striped\": %d, \"ring_ms\": %.3f, \"step_ms\": %.3f, \"comm_ms\": %.3f, \"bytes_per_step\": %zu, "
                   "\"work_ms\": %.3f, \"wait_ms\": %.3f, \"hidden\": %.3f, \"ideal_over_ring\": %.3f, "
                   "\"model_ms\": %.3f, \"imbalance\": %.4f, \"gflops\": %.2f, \"ok\": %s}\n",
                   P, (long long)B, (long long)H, (long long)Hkv, (long long)L, (long long)D, causal, striped, ring, stp,
                   comm, bytes, mean, wait_max, hidden, P * stp / ring, model, imb, flops / ring * 1e-6,
                   anybad ? "false" : "true");
        else
            printf("ranks %d  B %lld H %lld/%lld local %lld D %lld %s%s: ring %.2f ms, step %.2f ms, comm %.2f ms "
                   "(%zu bytes/step), work %.2f ms (mean), wait %.2f ms (max), hidden %.2f, P*step/ring %.3f, "
                   "model %.2f ms, imbalance %.2f%%, %.1f GFLOP/s%s\n",
                   P, (long long)B, (long long)H, (long long)Hkv, (long long)L, (long long)D, causal ? "causal" : "full",
                   striped ? " striped" : "", ring, stp, comm, bytes, mean, wait_max, hidden, P * stp / ring, model,
                   100 * imb, flops / ring * 1e-6, anybad ? "  FAILED" : "");
    }
    free(q), free(k), free(v), free(o), free(lse), free(sb), free(rb), free(t_ring), free(t_step), free(t_comm);
    clattn_context_destroy(ctx);
    MPI_Finalize();
    return anybad ? 1 : 0;
}
