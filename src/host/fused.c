/*
 * Fused SDPA on the host: which problems it takes, its tiling, and the run-time choice of the
 * instruction-set variant (see fused.h; the kernel itself is fused_kernel.c).
 */
#include "fused.h"

#include "pool.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static host_fused_isa best_isa(void)
{
#ifdef HOST_FUSED_HAVE_X86
    if (__builtin_cpu_supports("avx512f")) return HOST_FUSED_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HOST_FUSED_AVX2;
#endif
    return HOST_FUSED_PORTABLE;
}

/* The variant the configuration names (AUTO: none in particular). */
static host_fused_isa wanted_isa(const clattn_config *cfg)
{
    switch (cfg->host_isa) {
    case CLATTN_HOST_ISA_PORTABLE: return HOST_FUSED_PORTABLE;
    case CLATTN_HOST_ISA_AVX2: return HOST_FUSED_AVX2;
    case CLATTN_HOST_ISA_AVX512: return HOST_FUSED_AVX512;
    default: return best_isa();
    }
}

host_fused_isa host_fused_select_isa(const clattn_config *cfg)
{
    const host_fused_isa want = wanted_isa(cfg), best = best_isa();
    return want < best ? want : best; /* host_fused_check_isa refused anything wider when the context opened */
}

host_fused_isa host_fused_precision_isa(const clattn_config *cfg, host_fused_isa isa, clattn_precision prec)
{
#ifdef HOST_FUSED_HAVE_X86
    if (prec == CLATTN_PRECISION_REDUCED && cfg->host_isa == CLATTN_HOST_ISA_AUTO && isa == HOST_FUSED_AVX512 &&
        __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return HOST_FUSED_AVX512BF16;
#else
    (void)cfg, (void)prec;
#endif
    return isa;
}

clattn_status host_fused_check_isa(clattn_context *ctx)
{
    const host_fused_isa want = wanted_isa(&ctx->config), best = best_isa();
    if (want > best)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "%s: %s is not supported by this CPU (the widest it runs is %s)",
                            ctx->config.host_isa_source, host_fused_isa_name(want), host_fused_isa_name(best));
    return CLATTN_SUCCESS;
}

const char *host_fused_isa_name(host_fused_isa isa)
{
    switch (isa) {
    case HOST_FUSED_OFF: return "off";
    case HOST_FUSED_PORTABLE: return "portable";
    case HOST_FUSED_AVX2: return "avx2";
    case HOST_FUSED_AVX512: return "avx512";
    case HOST_FUSED_AVX512BF16: return "avx512bf16";
    }
    return "?";
}

host_fused_kernels host_fused_kernels_for(host_fused_isa isa)
{
    switch (isa) {
#ifdef HOST_FUSED_HAVE_X86
    case HOST_FUSED_AVX512BF16:
        /* no decode entry: host_fused_make_plan gives decode plans the AVX512 ISA */
        return (host_fused_kernels){host_fused_pack_avx512bf16, host_fused_task_avx512bf16,
                                    host_fused_decode_avx512};
    case HOST_FUSED_AVX512:
        return (host_fused_kernels){host_fused_pack_avx512, host_fused_task_avx512, host_fused_decode_avx512};
    case HOST_FUSED_AVX2:
        return (host_fused_kernels){host_fused_pack_avx2, host_fused_task_avx2, host_fused_decode_avx2};
#endif
    default:
        return (host_fused_kernels){host_fused_pack_portable, host_fused_task_portable,
                                    host_fused_decode_portable};
    }
}

/* Lanes of each ISA's vectors. */
static int64_t isa_lanes(host_fused_isa isa)
{
    return isa == HOST_FUSED_AVX512 || isa == HOST_FUSED_AVX512BF16 ? 16 : isa == HOST_FUSED_AVX2 ? 8 : 4;
}

/* Whether the decode path takes p (few rows per kv head; K and V rows contiguous along D / Dv). */
static bool decode_fits(const clattn_sdpa_problem *p)
{
    if (p->Hkv < 1 || p->Hq % p->Hkv != 0 || p->Lq < 1 || p->Lq > 4) return false;
    if (p->Lq * (p->Hq / p->Hkv) > HOST_FUSED_DEC_MAX_ROWS) return false;
    if (p->D > 1 && p->k.strides[3] != 1) return false;
    if (p->Dv > 1 && p->v.strides[3] != 1) return false;
    return true;
}

bool host_fused_supported(const clattn_sdpa_problem *p)
{
    if (p->want_probs) return false;
    if (p->D > 1 && p->q.strides[3] != 1) return false;
    if (p->Dv > 1 && p->out.strides[3] != 1) return false;
    if (p->Hkv < 1 || p->Hq % p->Hkv != 0) return false;
    /* fewer than 4 query rows per kv head (decode without GQA): every packed K/V element would be
     * used by 1-3 rows, and the row-by-row path, which reads K and V once, is faster */
    if (p->Lq < 4 && p->Lq * (p->Hq / p->Hkv) < 4 && !decode_fits(p)) return false;
    /* int counters inside a block and the per-row lane compare are 32-bit */
    if (p->D > ((int64_t)1 << 24) || p->Dv > ((int64_t)1 << 24)) return false;
    return true;
}

bool host_fused_reads_dtype(const clattn_sdpa_problem *p, const host_fused_plan *fp)
{
    if (p->data_type == CLATTN_DTYPE_F32) return true;
    if (p->D > HOST_FUSED_D16_MAX) return false;
    switch (fp->isa) {
    case HOST_FUSED_PORTABLE: return true;
    case HOST_FUSED_AVX512: return true; /* VCVTPH2PS / VCVTPS2PH zmm are AVX-512F */
    case HOST_FUSED_AVX512BF16: return true; /* its pack widens K/V (VCVTPH2PS / shift) before rounding to bf16 */
    case HOST_FUSED_AVX2: return p->data_type == CLATTN_DTYPE_BF16 || clattn_half_simd_available();
    default: return false;
    }
}

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* *off = running total; total += bytes (64-byte aligned). false on overflow. */
static bool take(size_t *total, size_t *off, int64_t count, size_t elem)
{
    if (count < 0 || (uint64_t)count > (SIZE_MAX / 2) / elem) return false;
    const size_t bytes = align64((size_t)count * elem);
    if (*total > SIZE_MAX / 2 - bytes) return false;
    *off = *total;
    *total += bytes;
    return true;
}

/* Per-thread scratch of a task (tiled or decode): scores s, accumulator acc, and per-row m, l,
 * rescale factor, flag and row descriptors for rows_max rows. Sets the offsets and thread_bytes. */
static bool layout_thread_scratch(host_fused_plan *fp, int64_t s, int64_t acc)
{
    size_t total = 0;
    if (!(take(&total, &fp->off_s, s, sizeof(float)) && take(&total, &fp->off_acc, acc, sizeof(float)) &&
          take(&total, &fp->off_m, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_l, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_alpha, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_flag, fp->rows_max, sizeof(int)) &&
          take(&total, &fp->off_rows, fp->rows_max, sizeof(host_fused_row))))
        return false;
    fp->thread_bytes = total;
    return true;
}

/* The tiled plan of an AVX512BF16 kernel (layout in fused.h): bf16 pairs of K and V, the blocks' V flags,
 * and the per-thread bf16 query rows after the float32 task scratch. */
static bool make_bf16_plan(const clattn_sdpa_problem *p, host_fused_plan *fp)
{
    fp->dh = (p->D + 1) / 2;
    const int64_t nblk = fp->lkp / HOST_FUSED_BK;
    int64_t kp, vp, pair, s, acc, qb;
    if (!clattn_mul_i64(fp->dh * 2, fp->lkp, &kp) || !clattn_mul_i64(fp->dvp, fp->lkp, &vp) ||
        !clattn_add_i64(kp, vp, &pair) || !clattn_mul_i64(pair, (int64_t)sizeof(uint16_t), &pair) ||
        !clattn_add_i64(pair, nblk, &pair) || pair > HOST_FUSED_PACK_MAX ||
        !clattn_mul_i64(fp->rows_max, HOST_FUSED_BK, &s) || !clattn_mul_i64(fp->rows_max, fp->dvp, &acc) ||
        !clattn_mul_i64(fp->rows_max, fp->dh, &qb))
        return false;
    fp->wave = pair > 0 ? HOST_FUSED_PACK_BUDGET / pair : fp->n_bh;
    if (fp->wave > fp->n_bh) fp->wave = fp->n_bh;
    if (fp->wave < 1) fp->wave = 1;
    int64_t nb;
    if (!clattn_mul_i64(kp, fp->wave, &kp) || !clattn_mul_i64(vp, fp->wave, &vp) ||
        !clattn_mul_i64(nblk, fp->wave, &nb))
        return false;
    size_t shared = 0;
    if (!take(&shared, &fp->off_kpack, kp, sizeof(uint16_t)) || !take(&shared, &fp->off_vpack, vp, sizeof(uint16_t)) ||
        !take(&shared, &fp->off_vbad, nb, 1))
        return false;
    fp->shared_bytes = shared;
    if (!layout_thread_scratch(fp, s, acc)) return false;
    size_t total = fp->thread_bytes;
    if (!take(&total, &fp->off_qb, qb, sizeof(uint32_t)) ||
        !take(&total, &fp->off_pb, fp->rows_max * (HOST_FUSED_BK / 2), sizeof(uint32_t)))
        return false;
    fp->thread_bytes = total;
    return true;
}

bool host_fused_make_plan(const clattn_sdpa_problem *p, int num_threads, host_fused_isa isa,
                          host_fused_plan *fp)
{
    memset(fp, 0, sizeof *fp);
    fp->isa = isa;
    const int64_t G = p->Hq / p->Hkv;
    int64_t n_bh;
    if (!clattn_mul_i64(p->B, p->Hkv, &n_bh)) return false;

    /* 64 query rows per head, fewer when the group is large (about 256 rows per task at most),
     * halved down to 16 while there are too few tasks to balance the threads */
    int64_t bq = 64;
    while (bq > 8 && G * bq > 256) bq /= 2;
    const int64_t lq = p->Lq < 1 ? 1 : p->Lq;
    while (bq > 16 && n_bh * ((lq + bq - 1) / bq) < 4 * (int64_t)num_threads) bq /= 2;
    if (bq > lq) bq = lq;
    fp->bq = bq;
    fp->n_qblocks = (p->Lq + bq - 1) / bq;
    int64_t rows;
    if (!clattn_mul_i64(fp->n_qblocks, n_bh, &fp->n_tasks) || !clattn_mul_i64(G, bq, &rows)) return false;
    fp->rows_max = (rows + HOST_FUSED_ROW_ALIGN - 1) / HOST_FUSED_ROW_ALIGN * HOST_FUSED_ROW_ALIGN;
    fp->dvp = (p->Dv + HOST_FUSED_DV_ALIGN - 1) / HOST_FUSED_DV_ALIGN * HOST_FUSED_DV_ALIGN;
    if (fp->dvp < HOST_FUSED_DV_ALIGN) fp->dvp = HOST_FUSED_DV_ALIGN;

    if (isa == HOST_FUSED_AVX512BF16 && decode_fits(p)) fp->isa = isa = HOST_FUSED_AVX512; /* decode: float32 */
    fp->kw = 2 * isa_lanes(isa);
    if (decode_fits(p)) {
        /* decode: rows_max rows of one (b, kv head) per task, keys split into dn chunks so that
         * there are about 8 tasks per thread, each of HOST_FUSED_DEC_MIN_CHUNK keys at least */
        fp->decode = 1;
        fp->drows = rows = G * p->Lq;
        fp->rows_max = (rows + HOST_FUSED_ROW_ALIGN - 1) / HOST_FUSED_ROW_ALIGN * HOST_FUSED_ROW_ALIGN;
        fp->n_bh = n_bh;
        int64_t dn = (8 * (int64_t)(num_threads > 0 ? num_threads : 1) + n_bh - 1) / n_bh;
        const int64_t dn_max = (p->Lk + HOST_FUSED_DEC_MIN_CHUNK - 1) / HOST_FUSED_DEC_MIN_CHUNK;
        if (dn > dn_max) dn = dn_max;
        if (dn < 1) dn = 1;
        int64_t per_chunk; /* bytes of partials per chunk of every pair */
        if (!clattn_mul_i64(n_bh, rows, &per_chunk) || !clattn_mul_i64(per_chunk, fp->dvp + 2, &per_chunk) ||
            !clattn_mul_i64(per_chunk, (int64_t)sizeof(float), &per_chunk) || per_chunk > HOST_FUSED_DEC_PART_MAX)
            return false;
        while (dn > 1 && per_chunk * dn > HOST_FUSED_DEC_PART_MAX) dn--;
        int64_t ck = (p->Lk + dn - 1) / dn;
        ck = (ck + HOST_FUSED_BK - 1) / HOST_FUSED_BK * HOST_FUSED_BK;
        fp->dchunk = ck;
        fp->dn = (p->Lk + ck - 1) / ck;
        fp->n_tasks = n_bh * fp->dn;
        int64_t nml, nacc, s, acc;
        if (!clattn_mul_i64(n_bh * fp->dn, rows * 2, &nml) || !clattn_mul_i64(n_bh * fp->dn * rows, fp->dvp, &nacc) ||
            !clattn_mul_i64(fp->rows_max, HOST_FUSED_BK, &s) || !clattn_mul_i64(fp->rows_max, fp->dvp, &acc))
            return false;
        size_t shared = 0;
        if (!take(&shared, &fp->off_pml, nml, sizeof(float)) || !take(&shared, &fp->off_pacc, nacc, sizeof(float)))
            return false;
        fp->shared_bytes = shared;
        return layout_thread_scratch(fp, s, acc);
    }
    if (p->Lk > INT64_MAX / 4) return false;
    fp->lkp = (p->Lk + HOST_FUSED_BK - 1) / HOST_FUSED_BK * HOST_FUSED_BK;
    fp->n_bh = n_bh;
    fp->chunks = (fp->lkp + HOST_FUSED_PACK_KEYS - 1) / HOST_FUSED_PACK_KEYS;
    if (isa == HOST_FUSED_AVX512BF16) return make_bf16_plan(p, fp);

    /* Small problems (short sequences, enough pairs to balance the threads): one query block per pair, so
     * each task packs its own pair's K/V and a wave is one pool run (the barrier between a pack run and an
     * attend run costs about as much as a small task) */
    if (lq > fp->bq && lq <= 2 * fp->bq && G * lq <= 256 && n_bh >= 4 * (int64_t)num_threads) {
        fp->bq = lq;
        fp->n_qblocks = 1;
        fp->n_tasks = n_bh;
        fp->rows_max = (G * lq + HOST_FUSED_ROW_ALIGN - 1) / HOST_FUSED_ROW_ALIGN * HOST_FUSED_ROW_ALIGN;
    }
    fp->self_pack = fp->n_qblocks == 1;
    /* float32 V rows that are already contiguous and a multiple of the padding long are read in place */
    fp->vdirect = p->data_type == CLATTN_DTYPE_F32 && !p->paged && p->v.strides[3] == 1 && p->Dv == fp->dvp;

    int64_t kp, vp, pair, s, acc;
    if (!clattn_mul_i64(p->D, fp->lkp, &kp) || !clattn_mul_i64(fp->vdirect ? 0 : fp->dvp, fp->lkp, &vp) ||
        !clattn_add_i64(kp, vp, &pair) || !clattn_mul_i64(pair, (int64_t)sizeof(float), &pair) ||
        pair > HOST_FUSED_PACK_MAX || !clattn_mul_i64(fp->rows_max, HOST_FUSED_BK, &s) ||
        !clattn_mul_i64(fp->rows_max, fp->dvp, &acc))
        return false;
    fp->wave = pair > 0 ? HOST_FUSED_PACK_BUDGET / pair : n_bh;
    if (fp->wave < 1) fp->wave = 1;
    if (fp->wave > n_bh) fp->wave = n_bh;
    if (fp->wave < 1) fp->wave = 1;
    if (!clattn_mul_i64(kp, fp->wave, &kp) || !clattn_mul_i64(vp, fp->wave, &vp)) return false;
    size_t shared = 0;
    if (!take(&shared, &fp->off_kpack, kp, sizeof(float)) ||
        !take(&shared, &fp->off_vpack, vp, sizeof(float)))
        return false;
    fp->shared_bytes = shared;
    return layout_thread_scratch(fp, s, acc);
}

/* decode_merge for a 16-bit out (a->out16): each row is merged in float32 in place of chunk 0's partial row
 * (read before it is overwritten, element by element), then rounded to nearest even into out. */
static void decode_merge16(const host_fused_args *a, int64_t bh)
{
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t G = p->Hq / p->Hkv, Lq = p->Lq, Dv = p->Dv, dvp = fp->dvp, M = fp->drows, dn = fp->dn;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const float *pml = (const float *)(a->scratch + fp->off_pml) + bh * dn * M * 2;
    float *pacc = (float *)(a->scratch + fp->off_pacc) + bh * dn * M * dvp;
    for (int64_t r = 0; r < M; r++) {
        const int64_t g = r / Lq, i = r % Lq, h = hk * G + g;
        uint16_t *o16 = a->out16 + p->out.offset + b * p->out.strides[0] + h * p->out.strides[1] + i * p->out.strides[2];
        float *restrict t = pacc + r * dvp; /* chunk 0's row */
        float mx = -INFINITY;
        for (int64_t c = 0; c < dn; c++) {
            const float mc = pml[(c * M + r) * 2];
            if (mc > mx) mx = mc;
        }
        float l = 0.0f;
        for (int64_t c = 0; c < dn; c++) {
            const float mc = pml[(c * M + r) * 2], lc = pml[(c * M + r) * 2 + 1];
            const float w = mc == -INFINITY ? 1.0f : mc == mx ? 1.0f : expf(mc - mx);
            if (c == 0) { /* t = w·chunk 0 (or 0 when it saw no allowed key) */
                for (int64_t e = 0; e < Dv; e++) t[e] = lc == 0.0f ? 0.0f : w * t[e];
                if (lc != 0.0f) l += w * lc;
                continue;
            }
            if (lc == 0.0f) continue;
            const float *restrict ac = pacc + (c * M + r) * dvp;
            l += w * lc;
            for (int64_t e = 0; e < Dv; e++) t[e] += w * ac[e];
        }
        if (a->lse != NULL) host_store_lse(p, a->lse, b, h, i, l == 0.0f ? -INFINITY : mx + logf(l));
        const float inv = l == 0.0f ? 0.0f : 1.0f / l;
        for (int64_t e = 0; e < Dv; e++) t[e] = l == 0.0f ? 0.0f : t[e] * inv; /* no allowed key: zeros */
        if (p->data_type == CLATTN_DTYPE_BF16)
            clattn_float_to_bf16_n(t, o16, (size_t)Dv, a->simd16);
        else
            clattn_float_to_half_n(t, o16, (size_t)Dv, a->simd16);
    }
}

/* Decode merge task: the dn partial results of each row of one (b, kv head) into out (and lse =
 * max + log(sum of weighted l), -inf when no chunk saw an allowed key). A chunk
 * with l == 0 saw no allowed key and is left out; one whose m is -inf but l is not 0 saw only
 * NaN scores (a NaN query row) and makes the row NaN; the others are weighted by exp(m_c - max). */
static void decode_merge(void *argp, int64_t bh, int tid)
{
    (void)tid;
    const host_fused_args *a = argp;
    if (a->out16 != NULL) {
        decode_merge16(a, bh);
        return;
    }
    const clattn_sdpa_problem *p = a->p;
    const host_fused_plan *fp = a->fp;
    const int64_t G = p->Hq / p->Hkv, Lq = p->Lq, Dv = p->Dv, dvp = fp->dvp, M = fp->drows, dn = fp->dn;
    const int64_t hk = bh % p->Hkv, b = bh / p->Hkv;
    const float *pml = (const float *)(a->scratch + fp->off_pml) + bh * dn * M * 2;
    const float *pacc = (const float *)(a->scratch + fp->off_pacc) + bh * dn * M * dvp;
    for (int64_t r = 0; r < M; r++) {
        const int64_t g = r / Lq, i = r % Lq, h = hk * G + g;
        float *restrict orow = a->out + p->out.offset + b * p->out.strides[0] + h * p->out.strides[1] +
                               i * p->out.strides[2];
        float mx = -INFINITY;
        for (int64_t c = 0; c < dn; c++) {
            const float mc = pml[(c * M + r) * 2];
            if (mc > mx) mx = mc;
        }
        float l = 0.0f;
        for (int64_t e = 0; e < Dv; e++) orow[e] = 0.0f;
        for (int64_t c = 0; c < dn; c++) {
            const float mc = pml[(c * M + r) * 2], lc = pml[(c * M + r) * 2 + 1];
            if (lc == 0.0f) continue;
            const float w = mc == -INFINITY ? 1.0f : mc == mx ? 1.0f : expf(mc - mx);
            const float *restrict ac = pacc + (c * M + r) * dvp;
            l += w * lc;
            for (int64_t e = 0; e < Dv; e++) orow[e] += w * ac[e];
        }
        if (a->lse != NULL) host_store_lse(p, a->lse, b, h, i, l == 0.0f ? -INFINITY : mx + logf(l));
        if (l == 0.0f) continue; /* no allowed key: zeros */
        const float inv = 1.0f / l;
        for (int64_t e = 0; e < Dv; e++) orow[e] *= inv;
    }
}

void host_fused_run(host_pool *pool, host_fused_args *a)
{
    const host_fused_plan *fp = a->fp;
    const host_fused_kernels kern = host_fused_kernels_for(fp->isa);
    if (fp->decode) {
        a->bh0 = 0;
        a->nw = fp->n_bh;
        host_pool_run(pool, fp->n_bh * fp->dn, kern.decode, a);
        host_pool_run(pool, fp->n_bh, decode_merge, a);
        return;
    }
    for (int64_t bh0 = 0; bh0 < fp->n_bh; bh0 += fp->wave) {
        a->bh0 = bh0;
        a->nw = fp->n_bh - bh0 < fp->wave ? fp->n_bh - bh0 : fp->wave;
        if (!fp->self_pack) host_pool_run(pool, a->nw * fp->chunks, kern.pack, a);
        host_pool_run(pool, a->nw * fp->n_qblocks, kern.attend, a);
    }
}
