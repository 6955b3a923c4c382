/*
 * The POSIX-threads host backend: SDPA on the CPU with a persistent thread pool, nn.Linear through
 * OpenBLAS, buffers in malloc'd host memory.
 *
 * SDPA has two paths:
 *  - fused (fused.h, fused_kernel.c): flash-style tiles with an online softmax, no
 *    [Lq, Lk] buffer, fully masked key blocks skipped, vectorised micro-kernels in portable, AVX2+FMA
 *    and AVX-512F variants chosen at run time. Taken whenever probabilities are not wanted and q
 *    (along D) and out (along Dv) have unit stride.
 *  - row by row (below): every other case (want_probs, general strides); also the cross-check.
 * Environment: CLATTN_HOST_ISA=off|portable|avx2|avx512 chooses the fused variant when a plan is
 * created ("off" = always the row-by-row path; a variant the CPU lacks falls back to the best it
 * has; unset or anything else = the best the CPU supports). For testing each path on one machine.
 *
 * Row-by-row SDPA (one flat parallel loop, as in PyTorch's CPU flash-attention kernel):
 *   q: [B, Hq, Lq, D]   k: [B, Hkv, Lk, D]   v: [B, Hkv, Lk, Dv]   out: [B, Hq, Lq, Dv]
 *   probs: [B, Hq, Lq, Lk]   mask: [Bm, Hm, Lqm, Lk], broadcast dims have stride 0
 * A task is one (b, h, block of `qb` query rows). For each row it finds the key range [lo, hi) left
 * by kv_lengths, causal and window limits, computes those scores into a per-thread [qb, Lk] scratch
 * (keys packed transposed in chunks of HOST_KB so the inner loop runs over keys), applies scale,
 * softcap and mask, takes a stable softmax over the allowed keys, and accumulates p·v only for keys
 * with nonzero weight (masked keys have weight exactly 0, so their V rows are never read).
 * Strides are honoured everywhere; unit strides along D/Dv take the vectorisable loops.
 */
#include "alloc.h"
#include "backend.h"
#include "fp16.h"

#include "fused.h"
#include "pool.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_MAX_THREADS 1024
#define HOST_KB 16             /* keys per packed chunk (width of the score micro-kernel) */
#define HOST_QB_MAX 32         /* query rows per task */
#define HOST_ALIGN_FLOATS 16   /* 64-byte alignment of every scratch area */
#define HOST_S_BUDGET ((int64_t)8 << 20) /* bytes of score scratch per thread before qb shrinks */

/* ctx->backend_data */
typedef struct host_state {
    host_pool *pool;
    int num_threads;
    float *scratch;        /* num_threads slices of per-thread scratch, shared by all plans */
    size_t scratch_floats; /* capacity */
} host_state;

/* plan->backend_data: tiling of one problem. */
typedef struct host_plan {
    bool fused;         /* run the fused kernel (fused.h) with `fused_plan`; else the fields below */
    host_fused_plan fused_plan;
    int64_t qb;        /* query rows per task */
    int64_t n_qblocks; /* ceil(Lq / qb) */
    int64_t n_tasks;   /* B * Hq * n_qblocks */
    int64_t lds;       /* row stride of the score scratch: Lk rounded up to HOST_KB */
    /* per-thread slice layout, in floats */
    size_t off_q, off_kt, off_s, off_acc, thread_floats;
    size_t shared_floats; /* scratch before the per-thread slices (fused path: packed K/V) */
} host_plan;

/* ---- small helpers ------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static size_t round_up_floats(size_t n)
{
    return (n + HOST_ALIGN_FLOATS - 1) / HOST_ALIGN_FLOATS * HOST_ALIGN_FLOATS;
}

/* Reads "key : value" fields of the first processor in /proc/cpuinfo. */
static void read_cpuinfo(char *model, size_t model_cap, char *vendor, size_t vendor_cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[512];
    bool have_model = false, have_vendor = false;
    while ((!have_model || !have_vendor) && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL) continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t') val++;
        size_t len = strlen(val);
        while (len > 0 && (val[len - 1] == '\n' || val[len - 1] == ' ' || val[len - 1] == '\r'))
            val[--len] = '\0';
        if (len == 0) continue;
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            copy_str(model, model_cap, val);
            have_model = true;
        } else if (!have_vendor && strncmp(line, "vendor_id", 9) == 0) {
            copy_str(vendor, vendor_cap, val);
            have_vendor = true;
        }
    }
    fclose(f);
}

/* ---- thread count ------------------------------------------------------------------------- */

clattn_status clattn_host_resolve_threads(clattn_context *ctx, int requested, int *threads)
{
    if (threads == NULL) return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "threads: NULL");
    if (requested < 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "num_threads: %d is negative (0 means CLATTN_THREADS, else the online CPUs)",
                            requested);
    if (requested > HOST_MAX_THREADS)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "num_threads: %d is not in 1..%d",
                            requested, HOST_MAX_THREADS);
    if (requested > 0) {
        *threads = requested;
        return CLATTN_SUCCESS;
    }

    const char *env = getenv("CLATTN_THREADS");
    if (env != NULL && env[0] != '\0') {
        char *end = NULL;
        errno = 0;
        const long n = (env[0] >= '0' && env[0] <= '9') || env[0] == '+' ? strtol(env, &end, 10) : -1;
        if (end == NULL || *end != '\0' || errno != 0 || n < 1 || n > HOST_MAX_THREADS)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_THREADS: '%.64s' is not an integer in 1..%d", env, HOST_MAX_THREADS);
        *threads = (int)n;
        return CLATTN_SUCCESS;
    }

    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > HOST_MAX_THREADS) n = HOST_MAX_THREADS;
    *threads = (int)n;
    return CLATTN_SUCCESS;
}

/* ---- scratch ------------------------------------------------------------------------------ */

/* Grows the scratch to at least shared_floats + thread_floats per thread. */
static clattn_status ensure_scratch(clattn_context *ctx, host_state *st, size_t thread_floats,
                                    size_t shared_floats)
{
    int64_t total;
    if (!clattn_mul_i64((int64_t)thread_floats, st->num_threads, &total) ||
        !clattn_add_i64(total, (int64_t)shared_floats, &total) || shared_floats > INT64_MAX / 8 ||
        (uint64_t)total > SIZE_MAX / sizeof(float))
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "host scratch of %zu floats x %d threads overflows size_t", thread_floats,
                            st->num_threads);
    if ((size_t)total <= st->scratch_floats) return CLATTN_SUCCESS;
    void *mem = NULL;
    const size_t bytes = (size_t)total * sizeof(float);
    if (clattn_memalign(&mem, 64, bytes) != 0 || mem == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host scratch: cannot allocate %zu bytes",
                            bytes);
    free(st->scratch);
    st->scratch = mem;
    st->scratch_floats = (size_t)total;
    return CLATTN_SUCCESS;
}

/* ---- SDPA --------------------------------------------------------------------------------- */

/* Key range [lo, hi) allowed for query row i by lk (= Lk'), causal and window (masks come later). */
static void row_range(const clattn_sdpa_problem *p, int64_t i, int64_t lk, int64_t *lo, int64_t *hi)
{
    int64_t a = 0, e = lk;
    const int64_t ip = i + lk - p->Lq; /* bottom-right aligned query position, may be negative */
    if (p->causal == CLATTN_CAUSAL_TOP_LEFT) {
        if (i + 1 < e) e = i + 1;
    } else if (p->causal == CLATTN_CAUSAL_BOTTOM_RIGHT) {
        if (ip + 1 < e) e = ip + 1;
    }
    /* j >= ip - wl and j <= ip + wr, written without overflow for huge window sizes */
    if (p->window_left >= 0 && ip - a > p->window_left) a = ip - p->window_left;
    if (p->window_right >= 0 && e - 1 - ip > p->window_right) e = ip + p->window_right + 1;
    if (e < a) e = a;
    *lo = a;
    *hi = e;
}

/* s0[c] = dot(q0, key c of the chunk) for c < HOST_KB; kt is the chunk transposed, [D][HOST_KB].
 * `unroll 1` keeps GCC from unrolling the key loop and then vectorising over d with shuffles (2x
 * slower); noinline keeps the micro-kernels' code independent of sdpa_task's register pressure. */
__attribute__((noinline)) static void qk_row1(const float *restrict q0, const float *restrict kt, int64_t D,
                                              float *restrict s0)
{
    float a0[HOST_KB] = {0};
    for (int64_t d = 0; d < D; d++) {
        const float x0 = q0[d];
        const float *restrict kd = kt + d * HOST_KB;
#pragma GCC unroll 1
        for (int c = 0; c < HOST_KB; c++) a0[c] += x0 * kd[c];
    }
    memcpy(s0, a0, sizeof a0);
}

/* Two rows at once: each packed key vector is loaded once for both. */
__attribute__((noinline)) static void qk_row2(const float *restrict q0, const float *restrict q1,
                                              const float *restrict kt, int64_t D, float *restrict s0,
                                              float *restrict s1)
{
    float a0[HOST_KB] = {0}, a1[HOST_KB] = {0};
    for (int64_t d = 0; d < D; d++) {
        const float x0 = q0[d], x1 = q1[d];
        const float *restrict kd = kt + d * HOST_KB;
#pragma GCC unroll 1
        for (int c = 0; c < HOST_KB; c++) {
            a0[c] += x0 * kd[c];
            a1[c] += x1 * kd[c];
        }
    }
    memcpy(s0, a0, sizeof a0);
    memcpy(s1, a1, sizeof a1);
}

typedef struct sdpa_args {
    const clattn_sdpa_problem *p;
    const host_plan *hp;
    float *scratch;
    const float *q, *k, *v;
    const uint8_t *mask_bool;
    const float *mask_add;
    const int32_t *kv_lengths;
    float *out, *probs;
} sdpa_args;

/* acc[0..Dv) += sum over allowed keys j in [lo, hi) of w[j] * v_j (w[j] == 0 skips key j). */
static void accumulate_pv(const float *restrict w, const float *restrict vbase, int64_t vs2, int64_t vs3,
                          int64_t lo, int64_t hi, int64_t Dv, float *restrict acc)
{
    if (vs3 == 1 || Dv == 1) {
        int64_t j = lo;
        for (; j + 8 <= hi; j += 8) {
            bool all = true;
            for (int u = 0; u < 8; u++) all = all && w[j + u] != 0.0f;
            const float *restrict v0 = vbase + j * vs2;
            if (all) {
                const float p0 = w[j], p1 = w[j + 1], p2 = w[j + 2], p3 = w[j + 3];
                const float p4 = w[j + 4], p5 = w[j + 5], p6 = w[j + 6], p7 = w[j + 7];
                const float *restrict v1 = v0 + vs2, *restrict v2 = v1 + vs2, *restrict v3 = v2 + vs2;
                const float *restrict v4 = v3 + vs2, *restrict v5 = v4 + vs2, *restrict v6 = v5 + vs2;
                const float *restrict v7 = v6 + vs2;
                for (int64_t e = 0; e < Dv; e++)
                    acc[e] += ((p0 * v0[e] + p1 * v1[e]) + (p2 * v2[e] + p3 * v3[e])) +
                              ((p4 * v4[e] + p5 * v5[e]) + (p6 * v6[e] + p7 * v7[e]));
            } else {
                for (int u = 0; u < 8; u++) {
                    const float pu = w[j + u];
                    if (pu == 0.0f) continue;
                    const float *restrict vu = vbase + (j + u) * vs2;
                    for (int64_t e = 0; e < Dv; e++) acc[e] += pu * vu[e];
                }
            }
        }
        for (; j < hi; j++) {
            const float pj = w[j];
            if (pj == 0.0f) continue;
            const float *restrict vj = vbase + j * vs2;
            for (int64_t e = 0; e < Dv; e++) acc[e] += pj * vj[e];
        }
    } else {
        for (int64_t j = lo; j < hi; j++) {
            const float pj = w[j];
            if (pj == 0.0f) continue;
            const float *vj = vbase + j * vs2;
            for (int64_t e = 0; e < Dv; e++) acc[e] += pj * vj[e * vs3];
        }
    }
}

static void sdpa_task(void *argp, int64_t task, int tid)
{
    const sdpa_args *a = argp;
    const clattn_sdpa_problem *p = a->p;
    const host_plan *hp = a->hp;
    const int64_t D = p->D, Dv = p->Dv, Lk = p->Lk, lds = hp->lds;

    const int64_t qblk = task % hp->n_qblocks, bh = task / hp->n_qblocks;
    const int64_t h = bh % p->Hq, b = bh / p->Hq;
    const int64_t hk = h / (p->Hq / p->Hkv);
    const int64_t i0 = qblk * hp->qb;
    const int64_t rows = p->Lq - i0 < hp->qb ? p->Lq - i0 : hp->qb;

    float *ws = a->scratch + (size_t)tid * hp->thread_floats;
    float *restrict qpack = ws + hp->off_q; /* [qb][D] */
    float *restrict kt = ws + hp->off_kt;   /* [D][HOST_KB] */
    float *restrict sc = ws + hp->off_s;    /* [qb][lds] */
    float *restrict acc = ws + hp->off_acc; /* [Dv] */

    int64_t lk = Lk;
    if (a->kv_lengths != NULL) {
        lk = a->kv_lengths[b];
        if (lk < 0) lk = 0;
        if (lk > Lk) lk = Lk;
    }

    int64_t lo[HOST_QB_MAX], hi[HOST_QB_MAX];
    int64_t jlo = Lk, jhi = 0;
    for (int64_t r = 0; r < rows; r++) {
        row_range(p, i0 + r, lk, &lo[r], &hi[r]);
        if (hi[r] > lo[r]) {
            if (lo[r] < jlo) jlo = lo[r];
            if (hi[r] > jhi) jhi = hi[r];
        }
    }

    /* Pack the query rows that attend anywhere. */
    const float *qbase = a->q + p->q.offset + b * p->q.strides[0] + h * p->q.strides[1];
    for (int64_t r = 0; r < rows; r++) {
        if (hi[r] <= lo[r]) continue;
        const float *qr = qbase + (i0 + r) * p->q.strides[2];
        const int64_t qs3 = p->q.strides[3];
        float *dst = qpack + r * D;
        if (qs3 == 1)
            memcpy(dst, qr, (size_t)D * sizeof(float));
        else
            for (int64_t d = 0; d < D; d++) dst[d] = qr[d * qs3];
    }

    /* Scores, chunk by chunk of HOST_KB keys aligned to HOST_KB (so stores stay inside lds). */
    const float *kbase = a->k + p->k.offset + b * p->k.strides[0] + hk * p->k.strides[1];
    const int64_t ks2 = p->k.strides[2], ks3 = p->k.strides[3];
    for (int64_t j0 = jlo - jlo % HOST_KB; j0 < jhi; j0 += HOST_KB) {
        for (int c = 0; c < HOST_KB; c++) {
            const int64_t j = j0 + c;
            if (j >= jlo && j < jhi) {
                const float *kr = kbase + j * ks2;
                for (int64_t d = 0; d < D; d++) kt[d * HOST_KB + c] = kr[d * ks3];
            } else {
                for (int64_t d = 0; d < D; d++) kt[d * HOST_KB + c] = 0.0f;
            }
        }
        const int64_t j1 = j0 + HOST_KB;
        int64_t r = 0;
        while (r < rows) {
            if (!(lo[r] < j1 && hi[r] > j0 && hi[r] > lo[r])) {
                r++;
                continue;
            }
            if (r + 1 < rows && lo[r + 1] < j1 && hi[r + 1] > j0 && hi[r + 1] > lo[r + 1]) {
                qk_row2(qpack + r * D, qpack + (r + 1) * D, kt, D, sc + r * lds + j0,
                        sc + (r + 1) * lds + j0);
                r += 2;
            } else {
                qk_row1(qpack + r * D, kt, D, sc + r * lds + j0);
                r++;
            }
        }
    }

    /* Softmax and p·v, row by row. */
    const float scale = p->scale, softcap = p->softcap;
    const float *vbase = a->v + p->v.offset + b * p->v.strides[0] + hk * p->v.strides[1];
    float *obase = a->out + p->out.offset + b * p->out.strides[0] + h * p->out.strides[1];
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = i0 + r;
        float *restrict s = sc + r * lds;
        int64_t l = lo[r], e = hi[r];

        if (e > l) {
            float mx = -INFINITY;
            const int64_t mrow = p->mask.offset + b * p->mask.strides[0] + h * p->mask.strides[1] +
                                 i * p->mask.strides[2];
            const int64_t ms3 = p->mask.strides[3];
            for (int64_t j = l; j < e; j++) s[j] *= scale;
            if (softcap > 0.0f)
                for (int64_t j = l; j < e; j++) s[j] = softcap * tanhf(s[j] / softcap);
            if (a->mask_bool != NULL) {
                const uint8_t *m = a->mask_bool + mrow;
                for (int64_t j = l; j < e; j++) s[j] = m[j * ms3] != 0 ? s[j] : -INFINITY;
            } else if (a->mask_add != NULL) {
                const float *m = a->mask_add + mrow;
                for (int64_t j = l; j < e; j++) {
                    const float mj = m[j * ms3];
                    s[j] = mj == -INFINITY ? -INFINITY : s[j] + mj;
                }
            }
            /* four running maxima (NaN compares false and is caught below) */
            float m4[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
            int64_t jm = l;
            for (; jm + 4 <= e; jm += 4)
                for (int u = 0; u < 4; u++) m4[u] = s[jm + u] > m4[u] ? s[jm + u] : m4[u];
            for (; jm < e; jm++) m4[0] = s[jm] > m4[0] ? s[jm] : m4[0];
            mx = m4[0];
            for (int u = 1; u < 4; u++) mx = m4[u] > mx ? m4[u] : mx;
            if (mx == -INFINITY) {
                /* No allowed key with a comparable score: either none at all (zero row) or a NaN
                 * query row, which must come out NaN. */
                bool nan = false;
                for (int64_t j = l; j < e && !nan; j++) nan = isnan(s[j]);
                if (nan)
                    mx = 0.0f;
                else
                    e = l;
            }
            if (e > l) {
                float sum = 0.0f;
                for (int64_t j = l; j < e; j++) {
                    const float t = expf(s[j] - mx); /* exactly 0 for masked keys */
                    s[j] = t;
                    sum += t;
                }
                const float inv = 1.0f / sum;
                /* a zero weight (masked key) stays exactly 0 even when inv is NaN (NaN row) */
                for (int64_t j = l; j < e; j++) s[j] = s[j] != 0.0f ? s[j] * inv : 0.0f;
            }
        }

        float *orow = obase + i * p->out.strides[2];
        const int64_t os3 = p->out.strides[3];
        if (e > l) {
            for (int64_t c = 0; c < Dv; c++) acc[c] = 0.0f;
            accumulate_pv(s, vbase, p->v.strides[2], p->v.strides[3], l, e, Dv, acc);
            if (os3 == 1)
                memcpy(orow, acc, (size_t)Dv * sizeof(float));
            else
                for (int64_t c = 0; c < Dv; c++) orow[c * os3] = acc[c];
        } else {
            for (int64_t c = 0; c < Dv; c++) orow[c * os3] = 0.0f;
        }

        if (a->probs != NULL) {
            float *prow = a->probs + p->probs.offset + b * p->probs.strides[0] + h * p->probs.strides[1] +
                          i * p->probs.strides[2];
            const int64_t ps3 = p->probs.strides[3];
            if (ps3 == 1) {
                if (l > 0) memset(prow, 0, (size_t)l * sizeof(float));
                if (e > l) memcpy(prow + l, s + l, (size_t)(e - l) * sizeof(float));
                const int64_t z = e > l ? e : l;
                if (Lk > z) memset(prow + z, 0, (size_t)(Lk - z) * sizeof(float));
            } else {
                for (int64_t j = 0; j < Lk; j++) prow[j * ps3] = (j >= l && j < e) ? s[j] : 0.0f;
            }
        }
    }
}

/* Chooses the tiling and the scratch layout of plan->p. */
static clattn_status plan_tiling(clattn_context *ctx, const clattn_sdpa_problem *p, int num_threads,
                                 host_plan *hp)
{
    if (p->Lk > INT64_MAX / 2 || p->Lq > INT64_MAX / 2)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa: Lq=%lld or Lk=%lld too large",
                            (long long)p->Lq, (long long)p->Lk);
    const int64_t lds = (p->Lk + HOST_KB - 1) / HOST_KB * HOST_KB;
    int64_t qb = HOST_QB_MAX;
    if (p->Lq < qb) qb = p->Lq < 1 ? 1 : p->Lq;
    /* keep the [qb, Lk] score block within the budget for long key sequences */
    while (qb > 1 && lds > HOST_S_BUDGET / (int64_t)sizeof(float) / qb) qb /= 2;
    int64_t bh, n_qblocks = (p->Lq + qb - 1) / qb, n_tasks, sfl, qfl, ktfl;
    if (!clattn_mul_i64(p->B, p->Hq, &bh))
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa: B*Hq overflows");
    /* enough tasks to balance the threads */
    while (qb > 8 && clattn_mul_i64(bh, n_qblocks, &n_tasks) && n_tasks < 4 * (int64_t)num_threads) {
        qb /= 2;
        n_qblocks = (p->Lq + qb - 1) / qb;
    }
    if (!clattn_mul_i64(bh, n_qblocks, &n_tasks) || !clattn_mul_i64(qb, lds, &sfl) ||
        !clattn_mul_i64(qb, p->D, &qfl) || !clattn_mul_i64(p->D, HOST_KB, &ktfl) ||
        (uint64_t)sfl > SIZE_MAX / 8 || (uint64_t)qfl > SIZE_MAX / 8 || (uint64_t)ktfl > SIZE_MAX / 8 ||
        (uint64_t)p->Dv > SIZE_MAX / 8)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "host sdpa: problem too large for the scratch (Lq=%lld Lk=%lld D=%lld)",
                            (long long)p->Lq, (long long)p->Lk, (long long)p->D);
    hp->qb = qb;
    hp->n_qblocks = n_qblocks;
    hp->n_tasks = n_tasks;
    hp->lds = lds;
    hp->off_q = 0;
    hp->off_kt = hp->off_q + round_up_floats((size_t)qfl);
    hp->off_s = hp->off_kt + round_up_floats((size_t)ktfl);
    hp->off_acc = hp->off_s + round_up_floats((size_t)sfl);
    hp->thread_floats = hp->off_acc + round_up_floats((size_t)p->Dv > 0 ? (size_t)p->Dv : 1);
    return CLATTN_SUCCESS;
}

static clattn_status host_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    host_state *st = ctx->backend_data;
    host_plan *hp = clattn_calloc(1, sizeof *hp);
    if (hp == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host sdpa plan: cannot allocate %zu bytes",
                            sizeof *hp);
    clattn_status s = CLATTN_SUCCESS;
    const host_fused_isa isa = host_fused_select_isa();
    if (isa != HOST_FUSED_OFF && host_fused_supported(&plan->p) &&
        host_fused_make_plan(&plan->p, st->num_threads, isa, &hp->fused_plan)) {
        hp->fused = true;
        snprintf(plan->path, sizeof plan->path, "host-fused-%s", host_fused_isa_name(isa));
        /* both multiples of 64 bytes */
        hp->thread_floats = hp->fused_plan.thread_bytes / sizeof(float);
        hp->shared_floats = hp->fused_plan.shared_bytes / sizeof(float);
    } else {
        snprintf(plan->path, sizeof plan->path, "host-rowwise");
        s = plan_tiling(ctx, &plan->p, st->num_threads, hp);
    }
    if (s == CLATTN_SUCCESS) s = ensure_scratch(ctx, st, hp->thread_floats, hp->shared_floats);
    if (s != CLATTN_SUCCESS) {
        free(hp);
        return s;
    }
    plan->backend_data = hp;
    plan->workspace_bytes = (hp->thread_floats * (size_t)st->num_threads + hp->shared_floats) * sizeof(float);
    return CLATTN_SUCCESS;
}

static void host_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    free(plan->backend_data);
    plan->backend_data = NULL;
}

static clattn_status host_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *bufs,
                                   const clattn_sync *sync)
{
    (void)sync; /* synchronous: nothing to wait for, no event to return */
    host_state *st = ctx->backend_data;
    const clattn_sdpa_problem *p = &plan->p;
    if (plan->backend_data == NULL) CLATTN_TRY(host_sdpa_prepare(ctx, plan));
    const host_plan *hp = plan->backend_data;
    CLATTN_TRY(ensure_scratch(ctx, st, hp->thread_floats, hp->shared_floats));

    if (bufs->q.host == NULL || bufs->k.host == NULL || bufs->v.host == NULL || bufs->out.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "host sdpa: q, k, v and out must be non-NULL");
    if (p->mask_kind != CLATTN_MASK_NONE && bufs->mask.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "host sdpa: mask is NULL but mask_kind is set");
    if (p->use_kv_lengths && bufs->kv_lengths.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: kv_lengths is NULL");
    if (p->want_probs && bufs->probs.host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "host sdpa: probs is NULL");

    if (hp->fused) {
        host_fused_args fargs = {
            .p = p,
            .fp = &hp->fused_plan,
            .scratch = (unsigned char *)st->scratch,
            .q = bufs->q.host,
            .k = bufs->k.host,
            .v = bufs->v.host,
            .mask_bool = p->mask_kind == CLATTN_MASK_BOOL ? bufs->mask.host : NULL,
            .mask_add = p->mask_kind == CLATTN_MASK_ADDITIVE ? bufs->mask.host : NULL,
            .kv_lengths = p->use_kv_lengths ? bufs->kv_lengths.host : NULL,
            .out = bufs->out.host,
        };
        host_fused_run(st->pool, &fargs);
        return CLATTN_SUCCESS;
    }

    sdpa_args args = {
        .p = p,
        .hp = hp,
        .scratch = st->scratch,
        .q = bufs->q.host,
        .k = bufs->k.host,
        .v = bufs->v.host,
        .mask_bool = p->mask_kind == CLATTN_MASK_BOOL ? bufs->mask.host : NULL,
        .mask_add = p->mask_kind == CLATTN_MASK_ADDITIVE ? bufs->mask.host : NULL,
        .kv_lengths = p->use_kv_lengths ? bufs->kv_lengths.host : NULL,
        .out = bufs->out.host,
        .probs = p->want_probs ? bufs->probs.host : NULL,
    };
    host_pool_run(st->pool, hp->n_tasks, sdpa_task, &args);
    return CLATTN_SUCCESS;
}

/* ---- nn.Linear ---------------------------------------------------------------------------- */

static clattn_status host_linear(clattn_context *ctx, int64_t M, int64_t N, int64_t K, const clattn_buf *x,
                                 int64_t x_off, int64_t ldx, const clattn_buf *w, int64_t w_off,
                                 const clattn_buf *bias, int64_t b_off, clattn_buf *y, int64_t y_off,
                                 int64_t ldy)
{
    const int64_t lim = sizeof(blasint) >= sizeof(int64_t) ? INT64_MAX : (int64_t)INT_MAX;
    if (M <= 0 || N <= 0 || K <= 0 || M > lim || N > lim || K > lim || ldx > lim || ldy > lim)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "linear: M=%lld N=%lld K=%lld ldx=%lld ldy=%lld must be in 1..%lld",
                            (long long)M, (long long)N, (long long)K, (long long)ldx, (long long)ldy,
                            (long long)lim);
    /* BLAS wants ld >= row length even when there is one row, where ld is never used. */
    if (M == 1) {
        if (ldx < K) ldx = K;
        if (ldy < N) ldy = N;
    }
    if (ldx < K || ldy < N)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "linear: ldx=%lld < K=%lld or ldy=%lld < N=%lld",
                            (long long)ldx, (long long)K, (long long)ldy, (long long)N);
    if (x == NULL || x->host == NULL || w == NULL || w->host == NULL || y == NULL || y->host == NULL)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "linear: NULL x, w or y buffer");

    const float *xp = (const float *)x->host + x_off;
    const float *wp = (const float *)w->host + w_off;
    float *yp = (float *)y->host + y_off;
    float beta = 0.0f;
    if (bias != NULL && bias->host != NULL) {
        const float *bp = (const float *)bias->host + b_off;
        for (int64_t m = 0; m < M; m++) memcpy(yp + m * ldy, bp, (size_t)N * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f, xp,
                (blasint)ldx, wp, (blasint)K, beta, yp, (blasint)ldy);
    return CLATTN_SUCCESS;
}

/* ---- buffers and lifetime ----------------------------------------------------------------- */

static clattn_status host_buf_alloc(clattn_context *ctx, size_t bytes, clattn_buf *out)
{
    out->host = NULL;
    out->dev = NULL;
    void *mem = clattn_malloc(bytes > 0 ? bytes : 1);
    if (mem == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host buffer: cannot allocate %zu bytes", bytes);
    out->host = mem;
    return CLATTN_SUCCESS;
}

static void host_buf_free(clattn_context *ctx, clattn_buf *buf)
{
    if (buf == NULL) return;
    free(buf->host);
    buf->host = NULL;
    buf->dev = NULL;
}

static clattn_status host_buf_write(clattn_context *ctx, clattn_buf *dst, size_t dst_offset, const void *src,
                                    size_t bytes)
{
    if (bytes > 0) memcpy((char *)dst->host + dst_offset, src, bytes);
    return CLATTN_SUCCESS;
}

static clattn_status host_buf_read(clattn_context *ctx, const clattn_buf *src, size_t src_offset, void *dst,
                                   size_t bytes)
{
    if (bytes > 0) memcpy(dst, (const char *)src->host + src_offset, bytes);
    return CLATTN_SUCCESS;
}

static clattn_status host_finish(clattn_context *ctx)
{
    return CLATTN_SUCCESS;
}

static void host_state_free(host_state *st)
{
    if (st == NULL) return;
    host_pool_destroy(st->pool);
    free(st->scratch);
    free(st);
}

static void host_destroy(clattn_context *ctx)
{
    host_state_free(ctx->backend_data);
    ctx->backend_data = NULL;
}

/* ---- fp16 staging (the convert_view slot; common/half.c with F16C where the fused kernels use SIMD) ---- */

static clattn_status host_convert_view(clattn_context *ctx, bool to_f16, const clattn_tensor *view,
                                       const clattn_buf *f16, const clattn_buf *f32, int64_t f32_off,
                                       const clattn_sync *sync)
{
    (void)ctx;
    (void)sync;
    if (view == NULL) return CLATTN_SUCCESS; /* nothing to build */
    /* CLATTN_HOST_ISA also picks the conversion: F16C only where the AVX2 (or wider) kernels may run. */
    const bool simd = host_fused_select_isa() >= HOST_FUSED_AVX2 && clattn_half_simd_available();
    float *f = (float *)f32->host + f32_off;
    if (to_f16)
        clattn_f32_to_half_view(f, f16->host, view->dims, view->strides, view->offset, simd);
    else
        clattn_half_view_to_f32(f16->host, view->dims, view->strides, view->offset, f, simd);
    return CLATTN_SUCCESS;
}

static const clattn_backend_i host_backend = {
    .name = "host",
    .host_memory = true,
    .destroy = host_destroy,
    .sdpa_prepare = host_sdpa_prepare,
    .sdpa_release = host_sdpa_release,
    .sdpa_run = host_sdpa_run,
    .buf_alloc = host_buf_alloc,
    .buf_free = host_buf_free,
    .buf_write = host_buf_write,
    .buf_read = host_buf_read,
    .linear = host_linear,
    .finish = host_finish,
    .convert_view = host_convert_view,
};

clattn_status clattn_host_backend_open(clattn_context *ctx, int num_threads)
{
    if (num_threads < 1 || num_threads > HOST_MAX_THREADS)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "num_threads: %d is not in 1..%d",
                            num_threads, HOST_MAX_THREADS);
    host_state *st = clattn_calloc(1, sizeof *st);
    if (st == NULL)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "host backend: cannot allocate %zu bytes",
                            sizeof *st);
    st->num_threads = num_threads;
    const int err = host_pool_create(&st->pool, num_threads);
    if (err != 0) {
        host_state_free(st);
        const clattn_status s =
            err == ENOMEM || err == EAGAIN ? CLATTN_ERROR_OUT_OF_MEMORY : CLATTN_ERROR_INTERNAL;
        return clattn_error(ctx, s, "host backend: cannot start %d threads: %s", num_threads - 1,
                            strerror(err));
    }

    clattn_device_info *info = &ctx->info;
    memset(info, 0, sizeof *info);
    info->backend = CLATTN_BACKEND_HOST;
    copy_str(info->platform_name, sizeof info->platform_name, "host");
    copy_str(info->device_name, sizeof info->device_name, "host CPU");
    read_cpuinfo(info->device_name, sizeof info->device_name, info->vendor, sizeof info->vendor);
    copy_str(info->driver_version, sizeof info->driver_version, clattn_version_string());
    info->opencl_c_version[0] = '\0';
    info->num_threads = num_threads;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->global_mem_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;

    ctx->backend_data = st;
    ctx->be = &host_backend;
    return CLATTN_SUCCESS;
}
