/*
 * clattn-ring: ring attention (clattn_ring_sdpa, include/clattn_mpi.h) on .npy files, under mpirun.
 *
 *   mpirun -np P clattn-ring --query Q.npy --key K.npy --value V.npy [--out O.npy] [--lse L.npy]
 *                            [--causal] [--striped] [--kv-lengths n,n,...] [--expect E.npy] [--tol X]
 *
 * Q [B, Hq, P·Lq, D], K [B, Hkv, P·Lk, D], V [B, Hkv, P·Lk, Dv], float32, the WHOLE sequence: every rank reads
 * the files and keeps its shard (contiguous: rows r·L .. r·L + L - 1; --striped: rows r, r + P, ...), the
 * ring computes, and rank 0 gathers the rows into O [B, Hq, P·Lq, Dv] (and L [B, Hq, P·Lq]). Sequence
 * lengths must be multiples of P. --expect compares the gathered output (max |O - E| <= tol·max(1, max|E|),
 * tol default 1e-4). The device is each rank's CLATTN_DEVICE. Exit codes: 0 success; 1 input, runtime or
 * --expect error; 2 bad command line. Every rank exits with the same code. Output files are written
 * directly by rank 0 (this is a demonstration tool; `clattn sdpa` has the safe-output machinery).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "clattn_mpi.h"
#include "npy.h"

static int g_rank, g_size;

/* Every rank agrees on the worst exit code; rank 0 prints the first message of the rank that failed. */
static int finish(int code, const char *msg)
{
    int worst = 0;
    MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (code && msg && msg[0]) fprintf(stderr, "clattn-ring: error: rank %d: %s\n", g_rank, msg);
    MPI_Finalize();
    return worst;
}

/* Rows of this rank of a [A, Lglob, W] array (as [A, P·L, W]) into [A, L, W]. */
static void shard(const float *g, float *l, int64_t A, int64_t L, int64_t W, int striped)
{
    for (int64_t a = 0; a < A; a++)
        for (int64_t i = 0; i < L; i++) {
            int64_t gi = striped ? g_rank + i * g_size : (int64_t)g_rank * L + i;
            memcpy(l + (a * L + i) * W, g + (a * L * g_size + gi) * W, (size_t)W * sizeof(float));
        }
}

/* Inverse of shard for rank r's rows. */
static void unshard(const float *l, float *g, int64_t A, int64_t L, int64_t W, int striped, int r)
{
    for (int64_t a = 0; a < A; a++)
        for (int64_t i = 0; i < L; i++) {
            int64_t gi = striped ? r + i * g_size : (int64_t)r * L + i;
            memcpy(g + (a * L * g_size + gi) * W, l + (a * L + i) * W, (size_t)W * sizeof(float));
        }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    const char *qf = NULL, *kf = NULL, *vf = NULL, *of = NULL, *lf = NULL, *ef = NULL, *kvl_text = NULL;
    int causal = 0, striped = 0;
    double tol = 1e-4;
    char msg[NPY_ERR_MAX + 256] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = !strcmp(a, "--query") ? &qf : !strcmp(a, "--key") ? &kf : !strcmp(a, "--value") ? &vf
                         : !strcmp(a, "--out") ? &of : !strcmp(a, "--lse") ? &lf : !strcmp(a, "--expect") ? &ef
                         : !strcmp(a, "--kv-lengths") ? &kvl_text : NULL;
        if (dst && v) {
            *dst = v, i++;
        } else if (!strcmp(a, "--tol") && v) {
            char *end = NULL;
            tol = strtod(v, &end);
            if (!end || *end || !(tol >= 0)) {
                snprintf(msg, sizeof msg, "--tol: '%s' is not a number >= 0", v);
                return finish(2, msg);
            }
            i++;
        } else if (!strcmp(a, "--causal")) {
            causal = 1;
        } else if (!strcmp(a, "--striped")) {
            striped = 1;
        } else {
            snprintf(msg, sizeof msg, "%s: unknown option or missing value (see the top of tools/clattn_ring.c)", a);
            return finish(2, msg);
        }
    }
    if (!qf || !kf || !vf) return finish(2, "--query, --key and --value are required");
    npy_array q = {0}, k = {0}, v = {0}, e = {0};
    char err[NPY_ERR_MAX];
    if (npy_read(qf, &q, err, sizeof err) || npy_read(kf, &k, err, sizeof err) || npy_read(vf, &v, err, sizeof err) ||
        (ef && npy_read(ef, &e, err, sizeof err)))
        return finish(1, err);
    int code = 0;
    if (q.dtype != NPY_DTYPE_F32 || k.dtype != NPY_DTYPE_F32 || v.dtype != NPY_DTYPE_F32 || q.ndim != 4 ||
        k.ndim != 4 || v.ndim != 4)
        snprintf(msg, sizeof msg, "query, key and value must be 4-D float32 arrays [B, H, L, D]"), code = 1;
    const int64_t B = q.shape[0], Hq = q.shape[1], GLq = q.shape[2], D = q.shape[3];
    const int64_t Hkv = k.shape[1], GLk = k.shape[2], Dv = v.shape[3];
    if (!code && (k.shape[0] != B || v.shape[0] != B || k.shape[3] != D || v.shape[1] != Hkv || v.shape[2] != GLk))
        snprintf(msg, sizeof msg, "shapes disagree: query [%lld,%lld,%lld,%lld], key [%lld,%lld,%lld,%lld], value "
                 "[%lld,%lld,%lld,%lld]", (long long)B, (long long)Hq, (long long)GLq, (long long)D,
                 (long long)k.shape[0], (long long)k.shape[1], (long long)k.shape[2], (long long)k.shape[3],
                 (long long)v.shape[0], (long long)v.shape[1], (long long)v.shape[2], (long long)v.shape[3]), code = 1;
    if (!code && (GLq % g_size || GLk % g_size))
        snprintf(msg, sizeof msg, "q_len %lld and kv_len %lld must be multiples of the %d ranks", (long long)GLq,
                 (long long)GLk, g_size), code = 1;
    int32_t *kvl = NULL;
    if (!code && kvl_text) {
        kvl = calloc((size_t)B, sizeof *kvl);
        const char *p = kvl_text;
        for (int64_t b = 0; b < B && !code; b++) {
            char *end = NULL;
            long x = strtol(p, &end, 10);
            if (end == p || (*end != ',' && *end != '\0') || (*end == '\0') != (b == B - 1))
                snprintf(msg, sizeof msg, "--kv-lengths: '%s' is not %lld comma-separated integers", kvl_text,
                         (long long)B), code = 2;
            kvl[b] = (int32_t)x;
            p = end + 1;
        }
    }
    const int64_t Lq = GLq / g_size, Lk = GLk / g_size;
    const size_t nq = (size_t)(B * Hq * Lq * D), nk = (size_t)(B * Hkv * Lk * D), nv = (size_t)(B * Hkv * Lk * Dv),
                 no = (size_t)(B * Hq * Lq * Dv), nl = (size_t)(B * Hq * Lq);
    float *lq = code ? NULL : malloc(nq * 4), *lk = code ? NULL : malloc(nk * 4), *lv = code ? NULL : malloc(nv * 4);
    float *lo = code ? NULL : malloc(no * 4), *ll = code ? NULL : malloc(nl * 4);
    if (!code && (!lq || !lk || !lv || !lo || !ll)) snprintf(msg, sizeof msg, "out of host memory"), code = 1;
    clattn_context *ctx = NULL;
    if (!code && clattn_context_create(&ctx, NULL) != CLATTN_SUCCESS)
        snprintf(msg, sizeof msg, "%s", clattn_last_error(NULL)), code = 1;
    /* every rank must reach the collective call, or none: agree first */
    int any = 0;
    MPI_Allreduce(&code, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        if (code) fprintf(stderr, "clattn-ring: error: rank %d: %s\n", g_rank, msg);
        clattn_context_destroy(ctx);
        MPI_Finalize();
        return any;
    }
    shard(q.data, lq, B * Hq, Lq, D, striped);
    shard(k.data, lk, B * Hkv, Lk, D, striped);
    shard(v.data, lv, B * Hkv, Lk, Dv, striped);
    clattn_ring_desc rd;
    clattn_ring_desc_init(&rd, B, Hq, Hkv, Lq, Lk, D, Dv);
    rd.causal = causal;
    rd.sharding = striped ? CLATTN_RING_STRIPED : CLATTN_RING_CONTIGUOUS;
    rd.use_kv_lengths = kvl != NULL;
    rd.want_lse = 1;
    double t0 = MPI_Wtime();
    clattn_status st = clattn_ring_sdpa(ctx, MPI_COMM_WORLD, &rd, lq, lk, lv, NULL, kvl, lo, ll);
    double ms = 1e3 * (MPI_Wtime() - t0);
    if (st != CLATTN_SUCCESS) { /* the same status on every rank (collective errors) */
        if (g_rank == 0) fprintf(stderr, "clattn-ring: error: %s\n", clattn_last_error(ctx));
        clattn_context_destroy(ctx);
        MPI_Finalize();
        return 1;
    }
    /* rank 0 gathers every rank's rows */
    float *go = g_rank == 0 ? malloc((size_t)(B * Hq * GLq * Dv) * 4) : NULL;
    float *gl = g_rank == 0 ? malloc((size_t)(B * Hq * GLq) * 4) : NULL;
    float *tmp_o = g_rank == 0 ? malloc(no * 4) : NULL, *tmp_l = g_rank == 0 ? malloc(nl * 4) : NULL;
    if (g_rank == 0) {
        unshard(lo, go, B * Hq, Lq, Dv, striped, 0);
        unshard(ll, gl, B * Hq, Lq, 1, striped, 0);
        for (int r = 1; r < g_size; r++) {
            MPI_Recv(tmp_o, (int)no, MPI_FLOAT, r, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Recv(tmp_l, (int)nl, MPI_FLOAT, r, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            unshard(tmp_o, go, B * Hq, Lq, Dv, striped, r);
            unshard(tmp_l, gl, B * Hq, Lq, 1, striped, r);
        }
    } else {
        MPI_Send(lo, (int)no, MPI_FLOAT, 0, 1, MPI_COMM_WORLD);
        MPI_Send(ll, (int)nl, MPI_FLOAT, 0, 2, MPI_COMM_WORLD);
    }
    if (g_rank == 0) {
        const int64_t shape[4] = {B, Hq, GLq, Dv};
        if (of && npy_write(of, NPY_DTYPE_F32, 4, shape, go, err, sizeof err)) snprintf(msg, sizeof msg, "%s", err), code = 1;
        if (!code && lf && npy_write(lf, NPY_DTYPE_F32, 3, shape, gl, err, sizeof err))
            snprintf(msg, sizeof msg, "%s", err), code = 1;
        double worst = 0, maxref = 0;
        if (!code && ef) {
            if (e.dtype != NPY_DTYPE_F32 || e.count != B * Hq * GLq * Dv) {
                snprintf(msg, sizeof msg, "--expect: %s is not a float32 array of %lld elements", ef,
                         (long long)(B * Hq * GLq * Dv)), code = 1;
            } else {
                for (int64_t i = 0; i < e.count; i++) {
                    double r = ((const float *)e.data)[i], d = fabs((double)go[i] - r);
                    if (fabs(r) > maxref) maxref = fabs(r);
                    if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
                }
                if (worst > tol * (maxref > 1 ? maxref : 1))
                    snprintf(msg, sizeof msg, "max_abs_err %g exceeds --tol %g", worst, tol), code = 1;
            }
        }
        printf("ranks=%d sharding=%s causal=%d time_ms=%.3f out_shape=[%lld,%lld,%lld,%lld]", g_size,
               striped ? "striped" : "contiguous", causal, ms, (long long)B, (long long)Hq, (long long)GLq,
               (long long)Dv);
        if (ef) printf(" max_abs_err=%g", worst);
        printf("\n");
    }
    free(lq), free(lk), free(lv), free(lo), free(ll), free(go), free(gl), free(tmp_o), free(tmp_l), free(kvl);
    npy_free(&q), npy_free(&k), npy_free(&v), npy_free(&e);
    clattn_context_destroy(ctx);
    return finish(code, msg);
}
