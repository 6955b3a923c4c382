/*
 * Ring attention over MPI (include/clattn_mpi.h): a client of clattn's public API — SDPA with a
 * log-sum-exp output and the merge of partial states — plus MPI, built as its own library
 * (libclattn_mpi) so that libclattn never depends on MPI.
 *
 * Per call, on each of the P ranks (r = this rank):
 *   1. Local checks; an MPI_Allgather of each rank's descriptor signature (every rank compares it with
 *      rank 0's); agreement (agree()): the first failing rank's status and message go to every rank.
 *   2. Step s = 0 .. P-1 holds the K/V shard of rank src = (r - s) mod P in `cur` (one buffer: K then V).
 *      Before computing on it, post MPI_Irecv of the next shard from r - 1 into `nxt` and MPI_Isend of `cur`
 *      to r + 1 (none at the last step); compute; MPI_Waitall; swap. The transfer of step s runs while the
 *      attention of step s does.
 *   3. Step 0 (src = r) writes the running result (part 0 of a [2, B, Hq, q_len, Dv] buffer, lse likewise);
 *      each later step writes part 1 and one clattn_merge_execute() merges part 1 into part 0 in place.
 *   4. Agreement on the steps' statuses (a rank that failed kept forwarding shards), then part 0 is copied
 *      to the caller's out (and lse).
 * Which keys a step allows (global causal, kv padding, mask columns) is worked out in step_views() from the
 * sharding; see clattn_mpi.h.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "clattn_mpi.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_MAX 512
#define CHUNK ((size_t)1 << 30) /* bytes per MPI message: counts are int */
#define MAX_REQ 16               /* requests of one step: receive + send, each in CHUNK pieces */

typedef struct ring {
    clattn_context *ctx;
    MPI_Comm comm;
    int rank, size;
    clattn_ring_desc d;
    size_t es;                    /* bytes per q/k/v/out element */
    size_t mask_es;
    int64_t nq, nk, nv, no, nl;   /* elements of the local q, k, v, out, lse */
    int64_t mask_cols;            /* P * kv_len */
    char msg[MSG_MAX];            /* this rank's first error */
    clattn_status st;
} ring;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static clattn_status fail(ring *R, clattn_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static clattn_status fail(ring *R, clattn_status st, const char *fmt, ...)
{
    if (R->st == CLATTN_SUCCESS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(R->msg, sizeof R->msg, fmt, ap);
        va_end(ap);
        R->st = st;
    }
    return st;
}

static clattn_status mpi_fail(ring *R, const char *call, int err)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", err);
    R->st = CLATTN_SUCCESS; /* an MPI failure replaces any earlier message: it is what stops the call */
    return fail(R, CLATTN_ERROR_COMMUNICATION, "rank %d: %s failed: %s", R->rank, call, text);
}

/* Every rank learns whether some rank failed; the lowest failing rank's status and message go to all. */
static clattn_status agree(ring *R)
{
    int in[2] = {R->st != CLATTN_SUCCESS ? 1 : 0, -R->rank}, outv[2];
    int err = MPI_Allreduce(in, outv, 1, MPI_2INT, MPI_MAXLOC, R->comm);
    if (err != MPI_SUCCESS) return mpi_fail(R, "MPI_Allreduce", err);
    if (outv[0] == 0) return CLATTN_SUCCESS;
    const int root = -outv[1];
    struct {
        int st;
        char msg[MSG_MAX];
    } pkt;
    pkt.st = (int)R->st;
    memcpy(pkt.msg, R->msg, sizeof pkt.msg);
    err = MPI_Bcast(&pkt, (int)sizeof pkt, MPI_BYTE, root, R->comm);
    if (err != MPI_SUCCESS) return mpi_fail(R, "MPI_Bcast", err);
    R->st = (clattn_status)pkt.st;
    memcpy(R->msg, pkt.msg, sizeof R->msg);
    R->msg[MSG_MAX - 1] = '\0';
    return R->st;
}

static bool mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || (b && a > INT64_MAX / b)) return false;
    *out = a * b;
    return true;
}

/* Local checks of the descriptor and the pointers (messages name the argument and the value). */
static void check_local(ring *R, const clattn_ring_desc *in, const void *q, const void *k, const void *v,
                        const void *mask, const int32_t *kvl, const void *out, const float *lse)
{
    if (!in) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: clattn_ring_sdpa: desc is NULL", R->rank);
        return;
    }
    if (in->struct_size < offsetof(clattn_ring_desc, stats) + sizeof in->stats ||
        in->struct_size > 4096) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT,
             "rank %d: clattn_ring_desc: struct_size is %zu, expected %zu..4096 (initialise it with "
             "clattn_ring_desc_init())", R->rank, in->struct_size, sizeof(clattn_ring_desc));
        return;
    }
    clattn_ring_desc_init_sized(&R->d, sizeof R->d, 1, 1, 1, 1, 1, 1, 1);
    memcpy(&R->d, in, in->struct_size < sizeof R->d ? in->struct_size : sizeof R->d);
    R->d.struct_size = sizeof R->d;
    for (size_t i = sizeof R->d; i < in->struct_size; i++)
        if (((const unsigned char *)in)[i]) {
            fail(R, CLATTN_ERROR_UNSUPPORTED, "rank %d: clattn_ring_desc: byte %zu beyond this library's struct is "
                 "nonzero (a newer header's field)", R->rank, i);
            return;
        }
    const clattn_ring_desc *d = &R->d;
    const struct {
        const char *name;
        int64_t v;
    } sizes[] = {{"batch", d->batch},       {"num_heads", d->num_heads}, {"num_kv_heads", d->num_kv_heads},
                 {"q_len", d->q_len},       {"kv_len", d->kv_len},       {"head_dim", d->head_dim},
                 {"v_head_dim", d->v_head_dim}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v < 1 || sizes[i].v > INT32_MAX) {
            fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: %s: %lld, expected 1..%d", R->rank, sizes[i].name,
                 (long long)sizes[i].v, INT32_MAX);
            return;
        }
    if (d->num_heads % d->num_kv_heads != 0) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: num_heads: %lld is not a multiple of num_kv_heads %lld",
             R->rank, (long long)d->num_heads, (long long)d->num_kv_heads);
        return;
    }
    if (!isfinite(d->scale) || !(d->softcap >= 0) || !isfinite(d->softcap)) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: %s: %g, expected finite%s", R->rank,
             !isfinite(d->scale) ? "scale" : "softcap", !isfinite(d->scale) ? (double)d->scale : (double)d->softcap,
             !isfinite(d->scale) ? "" : " and >= 0");
        return;
    }
    if (d->causal && d->q_len != d->kv_len) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: causal: q_len %lld != kv_len %lld (the global causal mask "
             "is for self-attention shards)", R->rank, (long long)d->q_len, (long long)d->kv_len);
        return;
    }
    if ((int)d->sharding != CLATTN_RING_CONTIGUOUS && (int)d->sharding != CLATTN_RING_STRIPED) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: sharding: %d is not a clattn_ring_sharding value", R->rank,
             (int)d->sharding);
        return;
    }
    if (d->data_type != CLATTN_DTYPE_F32 && d->data_type != CLATTN_DTYPE_F16 && d->data_type != CLATTN_DTYPE_BF16) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: data_type: %d is not a clattn_dtype value", R->rank,
             (int)d->data_type);
        return;
    }
    if ((int)d->mask_kind < CLATTN_MASK_NONE || (int)d->mask_kind > CLATTN_MASK_ADDITIVE) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: mask_kind: %d is not a clattn_mask_kind value", R->rank,
             (int)d->mask_kind);
        return;
    }
    const int64_t want[3] = {d->batch, d->num_heads, d->q_len};
    const char *mnames[3] = {"batch", "num_heads", "q_len"};
    for (int i = 0; i < 3 && d->mask_kind != CLATTN_MASK_NONE; i++)
        if (d->mask_dims[i] != 1 && d->mask_dims[i] != want[i]) {
            fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: mask_dims[%d]: %lld, expected 1 or %lld (%s)", R->rank,
                 i, (long long)d->mask_dims[i], (long long)want[i], mnames[i]);
            return;
        }
    R->es = d->data_type == CLATTN_DTYPE_F32 ? 4 : 2;
    R->mask_es = d->mask_kind == CLATTN_MASK_BOOL ? 1 : 4;
    int64_t t;
    if (!mul_ok(d->batch, d->num_heads, &t) || !mul_ok(t, d->q_len, &R->nl) || !mul_ok(R->nl, d->head_dim, &R->nq) ||
        !mul_ok(R->nl, d->v_head_dim, &R->no) || !mul_ok(d->batch, d->num_kv_heads, &t) ||
        !mul_ok(t, d->kv_len, &t) || !mul_ok(t, d->head_dim, &R->nk) ||
        !mul_ok(d->batch * d->num_kv_heads, d->kv_len * d->v_head_dim, &R->nv) ||
        !mul_ok(R->size, d->kv_len, &R->mask_cols) || (uint64_t)(R->nk + R->nv) > SIZE_MAX / 8 ||
        (uint64_t)R->no > SIZE_MAX / 16) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: the shard sizes overflow the addressable size", R->rank);
        return;
    }
    const char *missing = !q ? "q" : !k ? "k" : !v ? "v" : !out ? "out" : NULL;
    if (missing) {
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: clattn_ring_sdpa: %s is NULL", R->rank, missing);
        return;
    }
    if ((d->mask_kind != CLATTN_MASK_NONE) != (mask != NULL) || (d->use_kv_lengths != 0) != (kvl != NULL) ||
        (d->want_lse != 0) != (lse != NULL)) {
        const char *what = (d->mask_kind != CLATTN_MASK_NONE) != (mask != NULL) ? "mask"
                           : (d->use_kv_lengths != 0) != (kvl != NULL)         ? "kv_lengths"
                                                                               : "lse";
        fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: clattn_ring_sdpa: %s is %s but the desc says %s", R->rank, what,
             (what[0] == 'm' ? mask != NULL : what[0] == 'k' ? kvl != NULL : lse != NULL) ? "given" : "NULL",
             (what[0] == 'm' ? mask != NULL : what[0] == 'k' ? kvl != NULL : lse != NULL) ? "none" : "one");
        return;
    }
    for (int64_t b = 0; kvl && b < d->batch; b++)
        if (kvl[b] < 0 || kvl[b] > R->mask_cols) {
            fail(R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: kv_lengths: element %lld is %d, expected 0..%lld (the "
                 "global key count, ranks x kv_len)", R->rank, (long long)b, (int)kvl[b], (long long)R->mask_cols);
            return;
        }
}

/* The fields every rank must agree on, as int64 (rank 0's are the reference). */
enum { SIG_N = 15 };
static void signature(const ring *R, int64_t *s)
{
    const clattn_ring_desc *d = &R->d;
    int64_t v[SIG_N] = {d->batch, d->num_heads, d->num_kv_heads, d->q_len, d->kv_len, d->head_dim, d->v_head_dim,
                        d->causal != 0, (int64_t)d->sharding, d->use_kv_lengths != 0, (int64_t)d->mask_kind,
                        d->want_lse != 0, (int64_t)d->data_type, 0, 0};
    float sc[2] = {d->scale, d->softcap};
    memcpy(&v[13], &sc[0], sizeof(float));
    memcpy(&v[14], &sc[1], sizeof(float));
    memcpy(s, v, sizeof v);
}

static const char *const sig_names[SIG_N] = {"batch", "num_heads", "num_kv_heads", "q_len", "kv_len", "head_dim",
                                             "v_head_dim", "causal", "sharding", "use_kv_lengths", "mask_kind",
                                             "want_lse", "data_type", "scale", "softcap"};

/* Non-blocking transfer of n bytes in messages of at most CHUNK bytes (tags 0, 1, ...). */
static int post(ring *R, bool send, void *buf, size_t n, int peer, MPI_Request *req, int *nreq)
{
    for (size_t off = 0, t = 0; off < n || (n == 0 && t == 0); off += CHUNK, t++) {
        int cnt = (int)(n - off < CHUNK ? n - off : CHUNK);
        int err = send ? MPI_Isend((char *)buf + off, cnt, MPI_BYTE, peer, (int)t, R->comm, &req[*nreq])
                       : MPI_Irecv((char *)buf + off, cnt, MPI_BYTE, peer, (int)t, R->comm, &req[*nreq]);
        if (err != MPI_SUCCESS) return err;
        (*nreq)++;
        if (n == 0) break;
    }
    return MPI_SUCCESS;
}

/* One step's SDPA over the K/V shard of rank src, written into part `part` of the result buffers. */
static clattn_status step(ring *R, int src, const void *q, const void *kv, const void *mask, const int32_t *kvl_global,
                          void *res, float *res_lse, int part, bool *computed)
{
    const clattn_ring_desc *d = &R->d;
    const int P = R->size, r = R->rank;
    const int64_t B = d->batch, Hq = d->num_heads, Hkv = d->num_kv_heads, Lq = d->q_len, Lk = d->kv_len;
    const bool striped = d->sharding == CLATTN_RING_STRIPED;
    *computed = false;
    int shift = 0; /* 1: striped causal with src > r: query i sees keys j < i (rows 1.., keys ..Lk-2) */
    clattn_causal causal = CLATTN_CAUSAL_NONE;
    if (d->causal) {
        if (!striped && src > r) return CLATTN_SUCCESS; /* every key of a later shard is in the future */
        if (src == r || (striped && src < r)) causal = CLATTN_CAUSAL_TOP_LEFT;
        else if (striped) causal = CLATTN_CAUSAL_TOP_LEFT, shift = 1;
        /* contiguous, src < r: every key is in the past: no mask */
    }
    const int64_t lq = Lq - shift, lk = Lk - shift;
    char *out_base = (char *)res + (size_t)part * (size_t)R->no * R->es;
    float *lse_base = res_lse + (size_t)part * (size_t)R->nl;
    if (shift) { /* row 0 of every (b, h) sees no key in this shard */
        for (int64_t bh = 0; bh < B * Hq; bh++) lse_base[bh * Lq] = -INFINITY;
    }
    if (lq < 1 || lk < 1) {
        *computed = shift != 0;
        return CLATTN_SUCCESS;
    }

    clattn_sdpa_desc sd;
    clattn_sdpa_desc_init(&sd, B, Hq, Hkv, lq, lk, d->head_dim, d->v_head_dim);
    sd.q = clattn_tensor_contiguous(B, Hq, Lq, d->head_dim);
    sd.q.dims[2] = lq;
    sd.q.offset = shift * d->head_dim;
    sd.k = clattn_tensor_contiguous(B, Hkv, Lk, d->head_dim);
    sd.k.dims[2] = lk;
    sd.v = clattn_tensor_contiguous(B, Hkv, Lk, d->v_head_dim);
    sd.v.dims[2] = lk;
    sd.v.offset = R->nk; /* V follows K in the shard buffer */
    sd.out = clattn_tensor_contiguous(B, Hq, Lq, d->v_head_dim);
    sd.out.dims[2] = lq;
    sd.out.offset = shift * d->v_head_dim;
    sd.scale = d->scale;
    sd.softcap = d->softcap;
    sd.causal = causal;
    sd.data_type = d->data_type;
    sd.want_lse = 1;
    sd.lse = clattn_tensor_contiguous(B, Hq, Lq, 1);
    sd.lse.ndim = 3;
    sd.lse.dims[2] = lq;
    sd.lse.offset = shift;
    if (d->mask_kind != CLATTN_MASK_NONE) {
        const int64_t *md = d->mask_dims;
        clattn_tensor m = clattn_tensor_contiguous(md[0], md[1], md[2], R->mask_cols);
        /* the columns of src's keys: contiguous src*Lk + j; striped src + j*P */
        m.offset = striped ? src : (int64_t)src * Lk;
        if (striped) m.strides[3] = P;
        m.dims[3] = lk;
        if (md[2] != 1) {
            m.offset += shift * m.strides[2];
            m.dims[2] = lq;
        }
        sd.mask_kind = d->mask_kind;
        sd.mask = m;
    }
    int32_t *kvl = NULL;
    if (kvl_global) {
        sd.use_kv_lengths = 1;
        kvl = malloc((size_t)B * sizeof *kvl);
        if (!kvl) return fail(R, CLATTN_ERROR_OUT_OF_MEMORY, "rank %d: out of host memory", r);
        for (int64_t b = 0; b < B; b++) { /* allowed keys of the shard: a prefix of it */
            int64_t n = striped ? (kvl_global[b] - src + P - 1) / P : kvl_global[b] - (int64_t)src * Lk;
            if (kvl_global[b] <= src) n = 0;
            kvl[b] = (int32_t)(n < 0 ? 0 : n > lk ? lk : n);
        }
    }
    clattn_sdpa_buffers bufs;
    clattn_sdpa_buffers_init(&bufs);
    bufs.q = q;
    bufs.k = kv;
    bufs.v = kv;
    bufs.mask = mask;
    bufs.kv_lengths = kvl;
    bufs.out = out_base;
    bufs.lse = lse_base;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, R->ctx, &sd);
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_execute_buffers(plan, &bufs);
    clattn_sdpa_plan_destroy(plan);
    free(kvl);
    if (st != CLATTN_SUCCESS)
        return fail(R, st, "rank %d: step over rank %d's keys: %s", r, src, clattn_last_error(R->ctx));
    *computed = true;
    return CLATTN_SUCCESS;
}

void clattn_ring_desc_init_sized(clattn_ring_desc *desc, size_t struct_size, int64_t batch, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                                 int64_t v_head_dim)
{
    if (!desc || struct_size < sizeof(size_t)) return;
    memset(desc, 0, struct_size);
    clattn_ring_desc d = {0};
    d.struct_size = struct_size;
    d.batch = batch, d.num_heads = num_heads, d.num_kv_heads = num_kv_heads;
    d.q_len = q_len, d.kv_len = kv_len, d.head_dim = head_dim, d.v_head_dim = v_head_dim;
    d.sharding = CLATTN_RING_CONTIGUOUS;
    d.mask_kind = CLATTN_MASK_NONE;
    d.mask_dims[0] = d.mask_dims[1] = d.mask_dims[2] = 1;
    d.data_type = CLATTN_DTYPE_F32;
    memcpy(desc, &d, struct_size < sizeof d ? struct_size : sizeof d);
}

clattn_status clattn_ring_sdpa(clattn_context *ctx, MPI_Comm comm, const clattn_ring_desc *desc, const void *q,
                               const void *k, const void *v, const void *mask, const int32_t *kv_lengths, void *out,
                               float *lse)
{
    if (!ctx) return clattn_set_last_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_ring_sdpa: ctx is NULL");
    ring R;
    memset(&R, 0, sizeof R);
    R.ctx = ctx;
    const double t_call = now_ms();
    clattn_ring_stats stats = {0};
    int err = MPI_Comm_dup(comm, &R.comm);
    if (err != MPI_SUCCESS) {
        R.rank = -1;
        mpi_fail(&R, "MPI_Comm_dup", err);
        return clattn_set_last_error(ctx, R.st, R.msg);
    }
    MPI_Comm_set_errhandler(R.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(R.comm, &R.rank);
    MPI_Comm_size(R.comm, &R.size);
    char *kvbuf = NULL, *res = NULL;
    float *res_lse = NULL;
    clattn_merge_plan *merge = NULL;

    check_local(&R, desc, q, k, v, mask, kv_lengths, out, lse);
    /* everyone compares its descriptor with rank 0's (a rank that already failed sends zeros) */
    int64_t *sigs = malloc((size_t)R.size * SIG_N * sizeof *sigs);
    if (!sigs) fail(&R, CLATTN_ERROR_OUT_OF_MEMORY, "rank %d: out of host memory", R.rank);
    int64_t mine[SIG_N] = {0};
    if (R.st == CLATTN_SUCCESS) signature(&R, mine);
    int64_t dummy[SIG_N];
    err = MPI_Allgather(mine, SIG_N * (int)sizeof(int64_t), MPI_BYTE, sigs ? sigs : dummy,
                        SIG_N * (int)sizeof(int64_t), MPI_BYTE, R.comm);
    if (err != MPI_SUCCESS) {
        mpi_fail(&R, "MPI_Allgather", err);
    } else if (R.st == CLATTN_SUCCESS && sigs && sigs[0] != 0) {
        for (int i = 0; i < SIG_N; i++)
            if (sigs[i] != mine[i]) {
                fail(&R, CLATTN_ERROR_INVALID_ARGUMENT, "rank %d: desc.%s differs from rank 0's (every rank must pass "
                     "the same clattn_ring_desc)", R.rank, sig_names[i]);
                break;
            }
    }
    free(sigs);
    const size_t kv_bytes = R.st == CLATTN_SUCCESS ? (size_t)(R.nk + R.nv) * R.es : 0;
    if (kv_bytes > MAX_REQ / 2 * CHUNK)
        fail(&R, CLATTN_ERROR_UNSUPPORTED, "rank %d: a K/V shard of %zu bytes is over the %zu bytes one ring step "
             "sends", R.rank, kv_bytes, MAX_REQ / 2 * CHUNK);
    if (R.st == CLATTN_SUCCESS) {
        kvbuf = malloc(2 * kv_bytes);
        res = malloc(2 * (size_t)R.no * R.es);
        res_lse = malloc(2 * (size_t)R.nl * sizeof(float));
        if (!kvbuf || !res || !res_lse) fail(&R, CLATTN_ERROR_OUT_OF_MEMORY, "rank %d: out of host memory", R.rank);
    }
    if (R.st == CLATTN_SUCCESS && R.size > 1) {
        const clattn_ring_desc *d = &R.d;
        clattn_merge_desc md;
        clattn_merge_desc_init(&md, 2, d->batch, d->num_heads, d->q_len, d->v_head_dim);
        md.data_type = d->data_type;
        md.want_lse = 1;
        clattn_status st = clattn_merge_plan_create(&merge, ctx, &md); /* out, lse: part 0 (in place) */
        if (st != CLATTN_SUCCESS)
            fail(&R, st, "rank %d: clattn_merge_plan_create: %s", R.rank, clattn_last_error(ctx));
    }
    clattn_status st = agree(&R);
    if (st == CLATTN_SUCCESS) {
        char *cur = kvbuf, *nxt = kvbuf + kv_bytes;
        memcpy(cur, k, (size_t)R.nk * R.es);
        memcpy(cur + (size_t)R.nk * R.es, v, (size_t)R.nv * R.es);
        const int right = (R.rank + 1) % R.size, left = (R.rank - 1 + R.size) % R.size;
        MPI_Request req[MAX_REQ];
        for (int s = 0; s < R.size && R.st != CLATTN_ERROR_COMMUNICATION; s++) {
            int nreq = 0;
            if (s + 1 < R.size) {
                err = post(&R, false, nxt, kv_bytes, left, req, &nreq);
                if (err == MPI_SUCCESS) err = post(&R, true, cur, kv_bytes, right, req, &nreq);
                if (err != MPI_SUCCESS) {
                    mpi_fail(&R, "MPI_Isend/MPI_Irecv", err);
                    break;
                }
            }
            if (nreq) stats.bytes_sent += kv_bytes;
            const int src = (R.rank - s + R.size) % R.size;
            bool computed = false;
            if (R.st == CLATTN_SUCCESS) { /* after a failure: keep forwarding, compute nothing */
                double t0 = now_ms();
                step(&R, src, q, cur, mask, kv_lengths, res, res_lse, s == 0 ? 0 : 1, &computed);
                stats.compute_ms += now_ms() - t0;
                stats.steps_computed += computed;
                if (R.st == CLATTN_SUCCESS && computed && s > 0) {
                    char *p0 = res;
                    t0 = now_ms();
                    clattn_status ms = clattn_merge_execute(merge, p0, res_lse, p0, res_lse);
                    stats.merge_ms += now_ms() - t0;
                    if (ms != CLATTN_SUCCESS)
                        fail(&R, ms, "rank %d: merging rank %d's part: %s", R.rank, src, clattn_last_error(ctx));
                }
            }
            if (nreq) {
                const double t0 = now_ms();
                err = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
                stats.wait_ms += now_ms() - t0;
                if (err != MPI_SUCCESS) {
                    mpi_fail(&R, "MPI_Waitall", err);
                    break;
                }
            }
            char *t = cur;
            cur = nxt;
            nxt = t;
        }
        st = agree(&R);
        if (st == CLATTN_SUCCESS) {
            memcpy(out, res, (size_t)R.no * R.es);
            if (lse) memcpy(lse, res_lse, (size_t)R.nl * sizeof(float));
        }
    }
    clattn_merge_plan_destroy(merge);
    free(kvbuf);
    free(res);
    free(res_lse);
    MPI_Comm_free(&R.comm);
    if (desc && desc->struct_size >= sizeof(clattn_ring_desc) && desc->stats) {
        stats.steps = R.size;
        stats.total_ms = now_ms() - t_call;
        *desc->stats = stats;
    }
    if (st == CLATTN_SUCCESS) return CLATTN_SUCCESS;
    return clattn_set_last_error(ctx, st, R.msg);
}
