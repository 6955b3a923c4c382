/*
 * Fused SDPA on the host: which problems it takes, its tiling, and the run-time choice of the
 * instruction-set variant (see host_flash.h; the kernel itself is host_flash_kernel.c).
 */
#include "host_flash.h"

#include "host_pool.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static host_flash_isa best_isa(void)
{
#ifdef HOST_FLASH_HAVE_X86
    if (__builtin_cpu_supports("avx512f")) return HOST_FLASH_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return HOST_FLASH_AVX2;
#endif
    return HOST_FLASH_PORTABLE;
}

host_flash_isa host_flash_select_isa(void)
{
    const host_flash_isa best = best_isa();
    const char *env = getenv("CLATTN_HOST_ISA");
    if (env == NULL || env[0] == '\0') return best;
    host_flash_isa want = best;
    if (strcasecmp(env, "off") == 0)
        want = HOST_FLASH_OFF;
    else if (strcasecmp(env, "portable") == 0)
        want = HOST_FLASH_PORTABLE;
    else if (strcasecmp(env, "avx2") == 0)
        want = HOST_FLASH_AVX2;
    else if (strcasecmp(env, "avx512") == 0)
        want = HOST_FLASH_AVX512;
    return want < best ? want : best;
}

const char *host_flash_isa_name(host_flash_isa isa)
{
    switch (isa) {
    case HOST_FLASH_OFF: return "off";
    case HOST_FLASH_PORTABLE: return "portable";
    case HOST_FLASH_AVX2: return "avx2";
    case HOST_FLASH_AVX512: return "avx512";
    }
    return "?";
}

host_flash_kernels host_flash_kernels_for(host_flash_isa isa)
{
    switch (isa) {
#ifdef HOST_FLASH_HAVE_X86
    case HOST_FLASH_AVX512: return (host_flash_kernels){host_flash_pack_avx512, host_flash_task_avx512};
    case HOST_FLASH_AVX2: return (host_flash_kernels){host_flash_pack_avx2, host_flash_task_avx2};
#endif
    default: return (host_flash_kernels){host_flash_pack_portable, host_flash_task_portable};
    }
}

/* Lanes of each ISA's vectors. */
static int64_t isa_lanes(host_flash_isa isa)
{
    return isa == HOST_FLASH_AVX512 ? 16 : isa == HOST_FLASH_AVX2 ? 8 : 4;
}

bool host_flash_supported(const clattn_sdpa_problem *p)
{
    if (p->want_probs) return false;
    if (p->D > 1 && p->q.strides[3] != 1) return false;
    if (p->Dv > 1 && p->out.strides[3] != 1) return false;
    if (p->Hkv < 1 || p->Hq % p->Hkv != 0) return false;
    /* fewer than 4 query rows per kv head (decode without GQA): every packed K/V element would be
     * used by 1-3 rows, and the row-by-row path, which reads K and V once, is faster */
    if (p->Lq < 4 && p->Lq * (p->Hq / p->Hkv) < 4) return false;
    /* int counters inside a block and the per-row lane compare are 32-bit */
    if (p->D > ((int64_t)1 << 24) || p->Dv > ((int64_t)1 << 24)) return false;
    return true;
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

bool host_flash_make_plan(const clattn_sdpa_problem *p, int num_threads, host_flash_isa isa,
                          host_flash_plan *fp)
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
    fp->rows_max = (rows + HOST_FLASH_ROW_ALIGN - 1) / HOST_FLASH_ROW_ALIGN * HOST_FLASH_ROW_ALIGN;
    fp->dvp = (p->Dv + HOST_FLASH_DV_ALIGN - 1) / HOST_FLASH_DV_ALIGN * HOST_FLASH_DV_ALIGN;
    if (fp->dvp < HOST_FLASH_DV_ALIGN) fp->dvp = HOST_FLASH_DV_ALIGN;

    fp->kw = 2 * isa_lanes(isa);
    if (p->Lk > INT64_MAX / 4) return false;
    fp->lkp = (p->Lk + HOST_FLASH_BK - 1) / HOST_FLASH_BK * HOST_FLASH_BK;
    fp->n_bh = n_bh;
    fp->chunks = (fp->lkp + HOST_FLASH_PACK_KEYS - 1) / HOST_FLASH_PACK_KEYS;

    int64_t kp, vp, pair, s, acc;
    if (!clattn_mul_i64(p->D, fp->lkp, &kp) || !clattn_mul_i64(fp->dvp, fp->lkp, &vp) ||
        !clattn_add_i64(kp, vp, &pair) || !clattn_mul_i64(pair, (int64_t)sizeof(float), &pair) ||
        pair > HOST_FLASH_PACK_MAX || !clattn_mul_i64(fp->rows_max, HOST_FLASH_BK, &s) ||
        !clattn_mul_i64(fp->rows_max, fp->dvp, &acc))
        return false;
    fp->wave = pair > 0 ? HOST_FLASH_PACK_BUDGET / pair : n_bh;
    if (fp->wave < 1) fp->wave = 1;
    if (fp->wave > n_bh) fp->wave = n_bh;
    if (fp->wave < 1) fp->wave = 1;
    if (!clattn_mul_i64(kp, fp->wave, &kp) || !clattn_mul_i64(vp, fp->wave, &vp)) return false;
    size_t shared = 0, total = 0;
    if (!take(&shared, &fp->off_kpack, kp, sizeof(float)) ||
        !take(&shared, &fp->off_vpack, vp, sizeof(float)))
        return false;
    fp->shared_bytes = shared;
    if (!(take(&total, &fp->off_s, s, sizeof(float)) && take(&total, &fp->off_acc, acc, sizeof(float)) &&
          take(&total, &fp->off_m, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_l, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_alpha, fp->rows_max, sizeof(float)) &&
          take(&total, &fp->off_flag, fp->rows_max, sizeof(int)) &&
          take(&total, &fp->off_rows, fp->rows_max, sizeof(host_flash_row))))
        return false;
    fp->thread_bytes = total;
    return true;
}

void host_flash_run(host_pool *pool, host_flash_args *a)
{
    const host_flash_plan *fp = a->fp;
    const host_flash_kernels kern = host_flash_kernels_for(fp->isa);
    for (int64_t bh0 = 0; bh0 < fp->n_bh; bh0 += fp->wave) {
        a->bh0 = bh0;
        a->nw = fp->n_bh - bh0 < fp->wave ? fp->n_bh - bh0 : fp->wave;
        host_pool_run(pool, a->nw * fp->chunks, kern.pack, a);
        host_pool_run(pool, a->nw * fp->n_qblocks, kern.attend, a);
    }
}
