/*
 * The OpenCL kernel planner (planner.h): the choices of both SDPA paths, the fused path first.
 *
 *   q: [B, Hq, Lq, D]  k: [B, Hkv, Lk, D]  v: [B, Hkv, Lk, Dv]  out: [B, Hq, Lq, Dv]
 *
 * Fused (kernels/fused.cl, or kernels/fused_gpu.cl on GPU devices: path "fused-gpu", see
 * choose_gpu_kernels; fused.c launches both): serves plans without probabilities with 1 <= D, Dv <= 256
 * unless the kernel path is CHAIN. Rows of one kv pair are its group·Lq query rows; a work-group holds
 * BM = WG·RPW of them. Keys are split into np partitions of kpart keys when that is needed to use the
 * whole device (few row blocks, e.g. decode) or to stay under Mesa llvmpipe's loop limit; partials go to
 * a workspace of [nbh, np, nrr, DVP + 4] floats (at most FLASH_WORKSPACE_CAP = 32 MiB and half of
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE; larger problems run in chunks of kv pairs, or of rows of one pair) and
 * clattn_fused_merge combines them. Where the fused path cannot serve a plan, the chain does.
 *
 * Chain (scores.cl -> softmax.cl -> weighted_sum.cl; chain.c launches it): S lives in a workspace of
 * [nbh, nrows, Lk] floats, bounded by min(CL_DEVICE_MAX_MEM_ALLOC_SIZE / 2, 256 MiB); problems larger than
 * that are processed in chunks of (b, h) pairs, or of query rows when one (b, h) does not fit.
 *
 * Paged K/V (p->paged: k, v are pools [num_blocks, block_size, Hkv, D] read through a block table, Lk =
 * max_blocks * block_size): the same choices over the logical Lk, each kernel that reads K or V built with
 * -D CLATTN_PAGED=1 -D PAGE_SHIFT (problem_options; kernels/common.cl); paths "fused-paged", "fused-gpu-paged",
 * "chain-paged".
 *
 * Every value read from the device rules (rules.c) is named after its evidence tag there (VEC, LOOP, PREF).
 */
#include "planner.h"
#include "launch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CHAIN_WORKSPACE_CAP ((cl_ulong)256 << 20) /* bytes */
/* Partials of split-key runs at most (bytes; the target is <= 64 MiB of extra memory for any
 * problem without probabilities; larger problems run in more launches). */
#define FLASH_WORKSPACE_CAP ((cl_ulong)32 << 20)
#define FLASH_MAX_D 256 /* D and Dv served (q row and accumulator in registers) */
#define FLASH_HDR 4     /* partial header: m, l, has, pad */

static void set_why(clattn_cl_kernel_choice *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_why(clattn_cl_kernel_choice *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->why, sizeof k->why, fmt, ap);
    va_end(ap);
}

/* The options every SDPA kernel that reads q, k, v or writes out takes from the problem (scores.cl,
 * weighted_sum.cl, fused.cl, fused_gpu.cl; not softmax.cl), appended to k's:
 *   paged K/V (p->paged): -D CLATTN_PAGED=1 -D PAGE_SHIFT=log2(block size) (kernels/common.cl: the address of
 *   key j through the block table; the kernels take the table as extra arguments);
 *   16-bit q, k, v, out (p->data_type F16 / BF16): -D ELEM16 = clattn_dtype (common.cl ELEM_T / LD1 / LDN / ST1:
 *   the arrays are read and written in place).
 * Float32 contiguous problems add nothing, so their builds keep the options (and cached binaries) they had. */
static void problem_options(const clattn_sdpa_problem *p, clattn_cl_kernel_choice *k)
{
    if (p->paged) {
        int shift = 0;
        while (((int64_t)1 << shift) < p->block_size) shift++;
        const size_t n = strlen(k->options);
        snprintf(k->options + n, sizeof k->options - n, " -D CLATTN_PAGED=1 -D PAGE_SHIFT=%d", shift);
    }
    if (p->data_type != CLATTN_DTYPE_F32) {
        const size_t n = strlen(k->options);
        snprintf(k->options + n, sizeof k->options - n, " -D ELEM16=%d", (int)p->data_type);
    }
}

/* A 16-bit additive mask (p->mask_type F16 / BF16): the kernels that read the mask (scores.cl, fused.cl,
 * fused_gpu.cl) are built with -D CLATTN_MASK16=1 (binary16) or 2 (bfloat16) and read it in place through
 * kernels/common.cl clattn_mask_add_at; float32 masks keep their options (and their cached builds). */
static void mask_options(const clattn_sdpa_problem *p, clattn_cl_kernel_choice *k)
{
    if (p->mask_kind != CLATTN_MASK_ADDITIVE || p->mask_type == CLATTN_DTYPE_F32) return;
    const size_t n = strlen(k->options);
    snprintf(k->options + n, sizeof k->options - n, " -D CLATTN_MASK16=%d", p->mask_type == CLATTN_DTYPE_F16 ? 1 : 2);
}

static const char *kernel_path_word(clattn_kernel_path path)
{
    return path == CLATTN_KERNEL_PATH_FUSED ? "fused" : path == CLATTN_KERNEL_PATH_CHAIN ? "chain" : "auto";
}

/* ---- the chain ---------------------------------------------------------------------------------- */

static void tile_options(const clattn_cl_tile *t, clattn_cl_kernel_choice *k)
{
    snprintf(k->options, sizeof k->options, "-D WG_M=%d -D WG_N=%d -D WPT_M=%d -D VW=%d -D TK=%d", t->wg_m, t->wg_n,
             t->wpt_m, t->vw, t->tk);
    k->local[0] = (size_t)t->wg_n;
    k->local[1] = (size_t)t->wg_m;
    k->local[2] = 1;
    /* scores.cl Qs[TK][TM] + Ks[TK][TN]; weighted_sum.cl Ps[TK][TM] + Vs[TK][TN] */
    k->local_bytes = (cl_ulong)t->tk * (cl_ulong)(t->wg_m * t->wpt_m + t->wg_n * t->vw) * sizeof(float);
}

/* First guess of a tile for an output of rows x cols, within the device's work-group limits. */
static clattn_cl_tile tile_guess(const clattn_cl_rules *rules, const clattn_cl_limits *lim, int64_t rows, int64_t cols)
{
    clattn_cl_tile t;
    /* float16 on CPUs, float4 on GPUs (rules.c, VEC) */
    int vw_pref = rules->tile_vw;
    t.vw = (int)clattn_pow2_ceil((uint64_t)(cols > 2 ? cols : 2));
    if (t.vw > vw_pref) t.vw = vw_pref;
    t.wpt_m = rows >= 4 ? 4 : (int)clattn_pow2_ceil((uint64_t)(rows > 1 ? rows : 1));
    t.wg_n = (int)clattn_pow2_ceil((uint64_t)clattn_ceil_div(cols > 1 ? cols : 1, t.vw));
    if (t.wg_n > 64 / t.vw) t.wg_n = 64 / t.vw; /* tiles of at most 64 columns */
    t.wg_m = (int)clattn_pow2_ceil((uint64_t)clattn_ceil_div(rows > 1 ? rows : 1, t.wpt_m));
    if (t.wg_m > 16) t.wg_m = 16;
    while ((size_t)t.wg_m * (size_t)t.wg_n > lim->max_wg || (size_t)t.wg_n > lim->max_wi_sizes[0] ||
           (size_t)t.wg_m > lim->max_wi_sizes[1]) {
        if (t.wg_m >= t.wg_n && t.wg_m > 1) t.wg_m /= 2;
        else if (t.wg_n > 1) t.wg_n /= 2;
        else break;
    }
    t.tk = 16;
    while (t.tk > 1 && (cl_ulong)t.tk * (cl_ulong)(t.wg_m * t.wpt_m + t.wg_n * t.vw) * 4 > lim->local_mem / 2) t.tk /= 2;
    return t;
}

/* A tiled chain kernel: the guess, shrunk until the kernel's work-group size and local memory fit. */
static clattn_status plan_tiled(clattn_context *ctx, const clattn_cl_rules *rules, const clattn_cl_limits *lim,
                                const clattn_sdpa_problem *p, clattn_cl_probe_fn probe, void *user, int slot,
                                const char *source,
                                const char *kname, int64_t rows, int64_t cols, clattn_cl_tile *cfg,
                                clattn_cl_kernel_choice *k)
{
    clattn_cl_tile t = tile_guess(rules, lim, rows, cols);
    k->source = source;
    k->name = kname;
    k->launched = true;
    for (;;) {
        size_t kwg = 0;
        cl_ulong klocal = 0;
        tile_options(&t, k);
        problem_options(p, k);
        if (slot == CLATTN_CL_SLOT_SCORES) mask_options(p, k);
        CLATTN_TRY(probe(user, slot, k, &kwg, &klocal));
        bool wg_ok = (size_t)t.wg_m * (size_t)t.wg_n <= kwg;
        bool local_ok = klocal <= lim->local_mem;
        if (wg_ok && local_ok) break;
        if (!local_ok && t.tk > 1) {
            t.tk /= 2;
        } else if (t.wg_m >= t.wg_n && t.wg_m > 1) {
            t.wg_m /= 2;
        } else if (t.wg_n > 1) {
            t.wg_n /= 2;
        } else if (t.tk > 1) {
            t.tk /= 2;
        } else {
            return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                                "%s: even a 1x1 work-group does not fit this device (kernel work-group size %zu, "
                                "local memory %llu of %llu bytes)",
                                kname, kwg, (unsigned long long)klocal, (unsigned long long)lim->local_mem);
        }
    }
    *cfg = t;
    return CLATTN_SUCCESS;
}

/* How many reduction elements (keys for weighted_sum, head-dim elements for scores) one launch of a
 * tiled kernel may cover within the device's chain_loop_budget (rules.c, LOOP). Per TK elements a
 * work-item runs (counting the iterations of inner and outer loops, none assumed unrolled) the two
 * nested tile-load loops, the multiply-add loops and the outer loop; the write-out loops run once. */
static int64_t reduction_chunk(const clattn_cl_rules *rules, const clattn_cl_tile *t)
{
    const int64_t tm = (int64_t)t->wg_m * t->wpt_m, tn = (int64_t)t->wg_n * t->vw;
    const int64_t load_rows = clattn_ceil_div(tm, t->wg_m) * (clattn_ceil_div(t->tk, t->wg_n) + 1); /* q or P tile */
    const int64_t load_k = clattn_ceil_div(tn, t->wg_m) * (clattn_ceil_div(t->tk, t->wg_n) + 1);    /* k tile (scores) */
    const int64_t load_v = clattn_ceil_div(t->tk, t->wg_m) * (clattn_ceil_div(tn, t->wg_n) + 1);    /* V tile (weighted_sum) */
    const int64_t per_step = load_rows + (load_k > load_v ? load_k : load_v) + (int64_t)t->tk * (t->wpt_m + 1) + 1;
    int64_t steps = (rules->chain_loop_budget - (int64_t)t->wpt_m * (t->vw + 1)) / per_step;
    if (steps < 1) steps = 1;
    return steps * t->tk;
}

/* Softmax: where the rules say so (GPUs) one work-group of sm_wg items per row (clattn_softmax); elsewhere
 * one work-item per row with vector loads (clattn_softmax_rows), sm_wg rows per work-group, unless rows
 * are so long that one item would exceed the chain_loop_budget (rules.c). */
static clattn_status plan_softmax(clattn_context *ctx, const clattn_cl_rules *rules, const clattn_cl_limits *lim,
                                  clattn_cl_probe_fn probe, void *user, int64_t Lk, bool want_probs,
                                  clattn_cl_chain_cfg *c, clattn_cl_kernel_choice *k)
{
    /* The per-row kernel runs about Lk / VW * (3 + VW when writing probs) loop iterations per item. */
    const int64_t budget = rules->chain_loop_budget;
    const int sm_vw = rules->softmax_vw;
    const int64_t row_iters = clattn_ceil_div(Lk, sm_vw) * (3 + (want_probs ? sm_vw : 0)) + 4 * sm_vw;
    const bool per_row_group = rules->softmax_row_group || row_iters > budget;
    size_t w = per_row_group ? 256 : 4;
    if (per_row_group) {
        /* Wider groups for very long rows: each item runs about 3 * Lk / w loop iterations. */
        while (w < 4096 && 3 * clattn_ceil_div(Lk, (int64_t)w) + 64 > budget) w *= 2;
        size_t need = clattn_pow2_ceil((uint64_t)(Lk > 1 ? Lk : 1));
        if (w > need) w = need;
    }
    if (w > clattn_pow2_floor(lim->max_wg)) w = clattn_pow2_floor(lim->max_wg);
    if (w > clattn_pow2_floor(lim->max_wi_sizes[0])) w = clattn_pow2_floor(lim->max_wi_sizes[0]);
    k->source = "softmax.cl";
    k->name = per_row_group ? "clattn_softmax" : "clattn_softmax_rows";
    k->launched = true;
    for (;;) {
        size_t kwg = 0;
        cl_ulong klocal = 0;
        snprintf(k->options, sizeof k->options, "-D SM_WG=%zu -D VW=%d", w, sm_vw);
        k->local[0] = w;
        k->local[1] = k->local[2] = 1;
        k->local_bytes = per_row_group ? (cl_ulong)w * (sizeof(float) + sizeof(int)) : 0; /* red[], cnt[] */
        CLATTN_TRY(probe(user, CLATTN_CL_SLOT_SOFTMAX, k, &kwg, &klocal));
        if (w <= kwg && klocal <= lim->local_mem) break;
        if (w == 1)
            return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED, "%s: a 1-item work-group does not fit this device",
                                k->name);
        w /= 2;
    }
    c->sm_wg = w;
    c->sm_per_row_group = per_row_group;
    set_why(k, "%s (rules.c row '%s')", per_row_group ? (rules->softmax_row_group ? "one work-group per score row"
                                                                                   : "one work-group per score row: "
                                                                                     "a row is too long for one "
                                                                                     "work-item's loop budget (LOOP)")
                                                      : "one work-item per score row, float vectors (VEC)",
            rules->row);
    return CLATTN_SUCCESS;
}

static clattn_status plan_chain(clattn_context *ctx, const clattn_cl_rules *rules, const clattn_cl_limits *lim,
                                const clattn_sdpa_problem *p, clattn_cl_probe_fn probe, void *user,
                                const char *reason, clattn_cl_plan_cfg *cfg)
{
    clattn_cl_chain_cfg *c = &cfg->c;
    const int64_t BH = p->B * p->Hq;

    /* Chunks: as many (b, h) pairs as the workspace cap allows, else rows of one pair; and at most
     * CLATTN_CL_MAX_GRID_GROUPS pairs and rows per launch (some GPUs allow no more groups in grid dims 1 and 2). */
    cl_ulong cap = lim->max_alloc / 2;
    if (cap > CHAIN_WORKSPACE_CAP) cap = CHAIN_WORKSPACE_CAP;
    const int64_t row_bytes = p->Lk * (int64_t)sizeof(float);
    int64_t nbh = BH < CLATTN_CL_MAX_GRID_GROUPS ? BH : CLATTN_CL_MAX_GRID_GROUPS;
    int64_t nrows = p->Lq < CLATTN_CL_MAX_GRID_GROUPS ? p->Lq : CLATTN_CL_MAX_GRID_GROUPS;
    if ((cl_ulong)row_bytes > cap) /* row_bytes >= 4: every dim of a validated problem is >= 1 */
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY,
                            "sdpa: one score row of Lk = %lld keys needs %lld bytes, more than the workspace "
                            "limit of %llu bytes on this device",
                            (long long)p->Lk, (long long)row_bytes, (unsigned long long)cap);
    const int64_t rows_fit = (int64_t)(cap / (cl_ulong)row_bytes);
    if (rows_fit < nrows) {
        nrows = rows_fit;
        nbh = 1;
    } else if (rows_fit / nrows < nbh) {
        nbh = rows_fit / nrows;
    }
    nrows = clattn_ceil_div(p->Lq, clattn_ceil_div(p->Lq, nrows)); /* even chunks */
    nbh = clattn_ceil_div(BH, clattn_ceil_div(BH, nbh));
    c->nbh = nbh;
    c->nrows = nrows;
    cfg->workspace_bytes = (size_t)nbh * (size_t)nrows * (size_t)row_bytes;

    clattn_cl_kernel_choice *ks = &cfg->kernels[CLATTN_CL_SLOT_SCORES], *km = &cfg->kernels[CLATTN_CL_SLOT_SOFTMAX],
                            *kw = &cfg->kernels[CLATTN_CL_SLOT_WSUM];
    CLATTN_TRY(plan_tiled(ctx, rules, lim, p, probe, user, CLATTN_CL_SLOT_SCORES, "scores.cl", "clattn_scores", c->nrows,
                          p->Lk, &c->scores_tile, ks));
    CLATTN_TRY(plan_softmax(ctx, rules, lim, probe, user, p->Lk, p->want_probs, c, km));
    CLATTN_TRY(plan_tiled(ctx, rules, lim, p, probe, user, CLATTN_CL_SLOT_WSUM, "weighted_sum.cl", "clattn_weighted_sum",
                          c->nrows, p->Dv, &c->wsum_tile, kw));
    c->kchunk = reduction_chunk(rules, &c->wsum_tile);
    c->dchunk = reduction_chunk(rules, &c->scores_tile);
    /* 16-bit out and keys in several weighted_sum launches: float32 partial sums [nbh, nrows, Dv] after S, so the
     * launches never add through the 16-bit out (weighted_sum.cl; rounded once by the last launch) */
    if (p->data_type != CLATTN_DTYPE_F32 && p->Lk > c->kchunk)
        cfg->workspace_bytes += (size_t)nbh * (size_t)nrows * (size_t)p->Dv * sizeof(float);
    cfg->used[CLATTN_CL_SLOT_SCORES] = cfg->used[CLATTN_CL_SLOT_SOFTMAX] = cfg->used[CLATTN_CL_SLOT_WSUM] = true;

    const clattn_cl_tile *st = &c->scores_tile, *wt = &c->wsum_tile;
    set_why(ks, "chain (%s): %dx%d score tiles per work-group (%dx%d items, %d rows x float%d each, rules.c row '%s', "
                "VEC), %d head-dim elements staged per step; D in %lld launch(es) (LOOP)",
            reason, st->wg_m * st->wpt_m, st->wg_n * st->vw, st->wg_m, st->wg_n, st->wpt_m, st->vw, rules->row, st->tk,
            (long long)clattn_ceil_div(p->D, c->dchunk));
    char sm_why[sizeof km->why];
    snprintf(sm_why, sizeof sm_why, "%s", km->why);
    set_why(km, "chain (%s): %s", reason, sm_why);
    set_why(kw, "chain (%s): %dx%d output tiles of P·V per work-group (%dx%d items, %d rows x float%d each), %d keys "
                "staged per step; keys in %lld launch(es) (LOOP)",
            reason, wt->wg_m * wt->wpt_m, wt->wg_n * wt->vw, wt->wg_m, wt->wg_n, wt->wpt_m, wt->vw, wt->tk,
            (long long)clattn_ceil_div(p->Lk, c->kchunk));
    return CLATTN_SUCCESS;
}

/* ---- the fused path ----------------------------------------------------------------------------- */

/* Loop iterations of one work-item per key tile and once per launch (an over-estimate: every loop
 * is counted as if it were not unrolled). */
static int64_t iters_per_tile(const clattn_cl_fused_cfg *f, int64_t D)
{
    const int64_t nkv = f->tk / f->vk, ndv = f->dvp / f->vv;
    return clattn_ceil_div((int64_t)f->tk * D, f->wg) + clattn_ceil_div((int64_t)f->tk * f->dvp, f->wg) + 2 +
           f->rpw * nkv + D * (1 + nkv * (1 + f->rpw)) + f->rpw * (2 * nkv * (2 + f->vk) + ndv + 2) +
           (int64_t)f->tk * (1 + f->rpw * (1 + ndv)) + (int64_t)f->rpw * f->tk * (D / f->klw + 2) + 4;
}
static int64_t iters_fixed(const clattn_cl_fused_cfg *f, int64_t D, int64_t Dv)
{
    const int64_t ndv = f->dvp / f->vv;
    return f->rpw * (D + ndv + 4) + f->rpw * ndv * (1 + f->vv) + Dv + 64;
}

/* Picks VV (vector width over Dv) <= vmax with at most 25% padding, and DVP. */
static void pick_vv(int64_t Dv, int vmax, int *vv, int *dvp)
{
    int w = vmax;
    while (w > 2 && (clattn_ceil_div(Dv, w) * w - Dv) * 4 > Dv) w /= 2;
    *vv = w;
    *dvp = (int)(clattn_ceil_div(Dv, w) * w);
}

static void fused_options(const clattn_cl_fused_cfg *f, int64_t D, clattn_cl_kernel_choice *k)
{
    const int direct = f->direct && f->wg == 1;
    snprintf(k->options, sizeof k->options,
             "-D DK=%lld -D DVP=%d -D VV=%d -D VK=%d -D TK=%d -D WG=%d -D RPW=%d -D KLW=%d -D KROW=%d "
             "-D USE_FMA=%d -D DIRECT=%d -D SW_PREFETCH=%d",
             (long long)D, f->dvp, f->vv, f->vk, f->tk, f->wg, f->rpw, f->klw, f->krow, f->use_fma, direct,
             direct && f->sw_prefetch);
    k->local[0] = (size_t)f->wg;
    k->local[1] = k->local[2] = 1;
    /* fused.cl: K tile Ks[TK][DK] (KROW) or Kt[DK][TK], V tile Vs[TK][DVP]; none with DIRECT */
    k->local_bytes = direct ? 0 : (cl_ulong)f->tk * (cl_ulong)(D + f->dvp) * sizeof(float);
}

/* Builds the fused kernel and its merge (same program) through the probe; *fits false when the device
 * refuses the fused kernel's work-group size or local memory. */
static clattn_status probe_fused(const clattn_cl_limits *lim, const clattn_sdpa_problem *p, clattn_cl_probe_fn probe,
                                 void *user, clattn_cl_fused_cfg *f, int64_t D, clattn_cl_kernel_choice *kf,
                                 clattn_cl_kernel_choice *km, bool *fits)
{
    size_t kwg = 0;
    cl_ulong klocal = 0;
    *fits = false;
    kf->source = km->source = "fused.cl";
    kf->name = "clattn_fused";
    km->name = "clattn_fused_merge";
    fused_options(f, D, kf);
    problem_options(p, kf);
    mask_options(p, kf);
    CLATTN_TRY(probe(user, CLATTN_CL_SLOT_FUSED, kf, &kwg, &klocal));
    if ((size_t)f->wg > kwg || klocal > lim->local_mem) return CLATTN_SUCCESS;
    memcpy(km->options, kf->options, sizeof km->options);
    km->local_bytes = 0;
    km->local[0] = km->local[1] = km->local[2] = 1; /* probed first, then sized from its work-group limit */
    kwg = 0;
    CLATTN_TRY(probe(user, CLATTN_CL_SLOT_MERGE, km, &kwg, &klocal));
    f->merge_wg = 1;
    while (f->merge_wg * 2 <= (size_t)clattn_min_i64(64, f->dvp) && f->merge_wg * 2 <= kwg &&
           f->merge_wg * 2 <= lim->max_wi_sizes[0])
        f->merge_wg *= 2;
    km->local[0] = f->merge_wg;
    *fits = true;
    return CLATTN_SUCCESS;
}

/* ---- the GPU kernels (kernels/fused_gpu.cl) ------------------------------------------------------ */

/* Decode kernel: at most this many query rows per kv pair (RT <= 4: 122-130 VGPRs on gfx90a at D = 64-128;
 * RT = 8 took 224). More rows take the prefill kernel, split into key partitions all the same. */
#define GPU_MAX_DECODE_ROWS 4

/* The one place that chooses between the GPU kernels and fused.cl: GPU rows of rules.c (GPUK) on a GPU
 * device (or under a GPU CLATTN_DEVICE_PROFILE) take fused_gpu.cl. Plans it declines fall back to
 * fused.cl's planning below (then to the chain): no tile shape fits the device's work-group or
 * local-memory limits (gpu_shape, the probe), or Lk >= 2^31 - 2^16 (the kernels hold key indices in
 * int). The decode kernel serves Lq <= 4 with <= GPU_MAX_DECODE_ROWS rows per kv pair and unit stride
 * along D and Dv; other plans take the prefill kernel (with key partitions when row blocks are few). */
static bool choose_gpu_kernels(const clattn_cl_rules *rules, const clattn_cl_limits *lim)
{
    return rules->fused_gpu && (lim->type & CL_DEVICE_TYPE_GPU) != 0;
}

/* Local memory of a fused_gpu.cl tile shape (bytes; mirrors the kernel's __local arrays). */
static cl_ulong gpu_local_bytes(const clattn_cl_fused_cfg *f, int64_t D)
{
    const cl_ulong br = (cl_ulong)f->tr * (cl_ulong)f->rt, bc = (cl_ulong)f->tc * (cl_ulong)f->ct;
    const cl_ulong dkp = (cl_ulong)(clattn_ceil_div(D, 4) * 4 + 4);
    const cl_ulong kvw = dkp > (cl_ulong)f->dvp ? dkp : (cl_ulong)f->dvp;
    return 4 * (br * dkp + (f->decode ? 0 : bc * kvw) + br * (bc + 4) + br * (cl_ulong)f->tc);
}

/* VW (1, 2 or 4; 1 for decode) with at most 25 % padding of Dv to a multiple of TC·VW, and DVP. */
static void gpu_pick_vw(clattn_cl_fused_cfg *f, int64_t Dv)
{
    int w = f->decode ? 1 : 4;
    while (w > 1 && (clattn_ceil_div(Dv, (int64_t)f->tc * w) * f->tc * w - Dv) * 4 > Dv) w /= 2;
    f->vw = w;
    f->dvp = (int)(clattn_ceil_div(Dv, (int64_t)f->tc * w) * f->tc * w);
}

/* Loop iterations of one work-item per key tile and once per launch (every loop counted as if not
 * unrolled, as iters_per_tile). */
static int64_t gpu_iters_per_tile(const clattn_cl_fused_cfg *f, int64_t D)
{
    const int64_t wg = (int64_t)f->tr * f->tc, bc = (int64_t)f->tc * f->ct, d4 = clattn_ceil_div(D, 4);
    return clattn_ceil_div(bc * d4, wg) + d4 * (1 + f->ct) + f->rt * (f->ct + f->tc / 4 + 2) +
           clattn_ceil_div(bc * f->dvp, wg) + bc / 4 * (1 + 4 * (1 + f->dvp / (f->tc * f->vw))) + 8;
}
static int64_t gpu_iters_fixed(const clattn_cl_fused_cfg *f, int64_t D)
{
    const int64_t wg = (int64_t)f->tr * f->tc;
    return clattn_ceil_div((int64_t)f->tr * f->rt * clattn_ceil_div(D, 4), wg) + f->rt * (f->tc / 4 + 8) + 64;
}

/* Shrinks f's tiles one step: keys per work-item, rows per work-item, then the larger of the Q block and
 * the K/V tile (work-items per row, or row groups); false when nothing is left to shrink. */
static bool gpu_shrink(clattn_cl_fused_cfg *f, int64_t Dv)
{
    const int64_t qrows = (int64_t)f->tr * f->rt, kvkeys = f->decode ? 0 : (int64_t)f->tc * f->ct;
    if (f->ct > 1) f->ct /= 2;
    else if (f->rt > 1) f->rt /= 2;
    else if (f->tc > 4 && (kvkeys > qrows || f->tr == 1)) {
        f->tc /= 2;
        gpu_pick_vw(f, Dv);
    } else if (f->tr > 1) f->tr /= 2;
    else
        return false;
    return true;
}

/* Tile shape for p (before the kernel's own limits are known): prefill 16 x 16 work-items, 2 rows x 2
 * keys each (BR = 32, BC = 32); decode one row group of 64 work-items holding every row, 2 keys each.
 * Then the device's work-group limits and its local memory. False when no shape fits. */
static bool gpu_shape(const clattn_cl_limits *lim, const clattn_sdpa_problem *p, int64_t rows, clattn_cl_fused_cfg *f)
{
    /* Decode reads K and V rows from global memory with vector loads: unit stride along D and Dv. */
    f->decode = p->Lq <= 4 && rows <= GPU_MAX_DECODE_ROWS && (p->D == 1 || p->k.strides[3] == 1) &&
                (p->Dv == 1 || p->v.strides[3] == 1);
    if (f->decode) {
        f->tr = 1;
        f->tc = 64;
        f->rt = (int)clattn_pow2_ceil(rows);
        f->ct = 2;
    } else {
        f->tr = 16;
        f->tc = 16;
        f->rt = 2;
        f->ct = 2;
        while (f->tr > 1 && (int64_t)f->tr * f->rt / 2 >= rows) f->tr /= 2; /* few rows: smaller blocks */
    }
    const size_t maxwg = lim->max_wg < lim->max_wi_sizes[0] ? lim->max_wg : lim->max_wi_sizes[0];
    while ((size_t)f->tr * (size_t)f->tc > maxwg) {
        if (f->tr > 1) f->tr /= 2;
        else if (f->tc > 4) f->tc /= 2;
        else return false;
    }
    gpu_pick_vw(f, p->Dv);
    while (gpu_local_bytes(f, p->D) > lim->local_mem)
        if (!gpu_shrink(f, p->Dv)) return false;
    return true;
}

/* Builds the GPU kernel for f's shape and its merge through the probe; *fits false when the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE or CL_KERNEL_LOCAL_MEM_SIZE (queried, not assumed) does not fit. */
static clattn_status gpu_probe(const clattn_cl_limits *lim, const clattn_sdpa_problem *p, clattn_cl_probe_fn probe,
                               void *user, clattn_cl_fused_cfg *f, int64_t D, clattn_cl_kernel_choice *kf,
                               clattn_cl_kernel_choice *km, bool *fits)
{
    size_t kwg = 0;
    cl_ulong klocal = 0;
    *fits = false;
    f->wg = f->tr * f->tc;
    f->bm = (int64_t)f->tr * f->rt;
    f->tk = f->tc * f->ct;
    kf->source = km->source = "fused_gpu.cl";
    kf->name = f->decode ? "clattn_decode_gpu" : "clattn_fused_gpu";
    km->name = "clattn_fused_gpu_merge";
    snprintf(kf->options, sizeof kf->options,
             "-D DK=%lld -D DVP=%d -D VW=%d -D TR=%d -D TC=%d -D RT=%d -D CT=%d -D DECODE=%d -D USE_FMA=%d", (long long)D,
             f->dvp, f->vw, f->tr, f->tc, f->rt, f->ct, f->decode, f->use_fma);
    problem_options(p, kf);
    mask_options(p, kf);
    kf->local[0] = (size_t)f->wg;
    kf->local[1] = kf->local[2] = 1;
    kf->local_bytes = gpu_local_bytes(f, D);
    CLATTN_TRY(probe(user, CLATTN_CL_SLOT_FUSED, kf, &kwg, &klocal));
    if ((size_t)f->wg > kwg || klocal > lim->local_mem) return CLATTN_SUCCESS;
    memcpy(km->options, kf->options, sizeof km->options);
    km->local_bytes = 0;
    km->local[0] = km->local[1] = km->local[2] = 1; /* probed first, then sized from its work-group limit */
    kwg = 0;
    CLATTN_TRY(probe(user, CLATTN_CL_SLOT_MERGE, km, &kwg, &klocal));
    f->merge_wg = 1;
    while (f->merge_wg * 2 <= (size_t)clattn_min_i64(64, f->dvp) && f->merge_wg * 2 <= kwg &&
           f->merge_wg * 2 <= lim->max_wi_sizes[0] && f->merge_wg * 2 <= lim->max_wg)
        f->merge_wg *= 2;
    km->local[0] = f->merge_wg;
    *fits = true;
    return CLATTN_SUCCESS;
}

/* The GPU kernels' shape for p; *ok false when they decline it (f then left for fused.cl's planning). */
static clattn_status plan_gpu(const clattn_cl_limits *lim, const clattn_sdpa_problem *p, int64_t rows,
                              clattn_cl_probe_fn probe, void *user, clattn_cl_fused_cfg *f, clattn_cl_kernel_choice *kf,
                              clattn_cl_kernel_choice *km, bool *ok)
{
    *ok = false;
    if (p->Lk >= ((int64_t)1 << 31) - ((int64_t)1 << 16)) return CLATTN_SUCCESS;
    f->gpu = true;
    if (gpu_shape(lim, p, rows, f)) {
        for (;;) {
            bool fits = false;
            CLATTN_TRY(gpu_probe(lim, p, probe, user, f, p->D, kf, km, &fits));
            if (fits) {
                *ok = true;
                return CLATTN_SUCCESS;
            }
            if (!gpu_shrink(f, p->Dv)) break;
        }
    }
    const int use_fma = f->use_fma;
    memset(f, 0, sizeof *f);
    f->use_fma = use_fma;
    return CLATTN_SUCCESS;
}

/* The fused path's choices; *served false when the chain should serve the plan (*reason says why). */
static clattn_status plan_fused(const clattn_cl_rules *rules, const clattn_cl_limits *lim, const clattn_sdpa_problem *p,
                                clattn_cl_probe_fn probe, void *user, clattn_cl_plan_cfg *cfg, bool *served,
                                char *reason, size_t reason_len)
{
    clattn_cl_fused_cfg *f = &cfg->f;
    clattn_cl_kernel_choice *kf = &cfg->kernels[CLATTN_CL_SLOT_FUSED], *km = &cfg->kernels[CLATTN_CL_SLOT_MERGE];
    *served = false;
    if (p->kernel_path == CLATTN_KERNEL_PATH_CHAIN) {
        snprintf(reason, reason_len, "kernel path chain");
        return CLATTN_SUCCESS;
    }
    if (p->want_probs) {
        snprintf(reason, reason_len, "probabilities wanted");
        return CLATTN_SUCCESS;
    }
    if (p->D > FLASH_MAX_D || p->Dv > FLASH_MAX_D) { /* sizes are >= 1 (internal.h) */
        snprintf(reason, reason_len, "D = %lld, Dv = %lld: the fused kernel serves up to %d", (long long)p->D,
                 (long long)p->Dv, FLASH_MAX_D);
        return CLATTN_SUCCESS;
    }
    memset(f, 0, sizeof *f);

    const int64_t group = p->Hq / p->Hkv;
    const int64_t rows = p->Lq * group; /* rows per kv pair */
    const int64_t pairs = p->B * p->Hkv;

    f->use_fma = lim->fma ? 1 : 0;
    bool gpu_ok = false;
    if (choose_gpu_kernels(rules, lim)) CLATTN_TRY(plan_gpu(lim, p, rows, probe, user, f, kf, km, &gpu_ok));
    if (!gpu_ok) {
        /* Shapes: on CPUs (PoCL) explicit float16 over keys and Dv, two rows per work-item (independent
         * accumulators); PoCL does not vectorise across work-items. llvmpipe vectorises across work-items
         * itself: narrow vectors, one row each. GPUs: float4, one row per work-item (rules.c, VEC). */
        int vmax = rules->fused_vmax;
        f->vk = vmax;
        pick_vv(p->Dv, vmax, &f->vv, &f->dvp);
        f->klw = vmax;
        while (f->klw > 1 && p->D % f->klw != 0) f->klw /= 2;
        /* Few rows per kv pair (decode): K row-major and one dot product per key, since a transposed
         * tile would cost more to store than the few rows gain from it. */
        f->krow = (rows <= 8 && f->klw >= 4) ? 1 : 0;
        /* Rows per work-item: independent accumulators. Measured on PoCL/AVX-512 (CPU time, D = 64..256):
         * 4 rows x 32 items for Dv <= 128, 2 x 32 above; with <= 8 rows per kv pair (decode) one work-item
         * takes them all (no work-item loop around the tile copies). */
        f->rpw = 1;
        int wg_pref = rules->fused_wg;
        if (rules->fused_multi_row) {
            if (rows <= 8) {
                f->rpw = (int)clattn_pow2_ceil(rows);
                wg_pref = 1;
            } else if (f->dvp <= 128) {
                f->rpw = 4; /* wg 32: 128 rows share each staged K/V tile (12 % less CPU time than 16 at
                             * D = 64, L = 512..2048, measured with clattn-bench cpu_ms on PoCL 3.1) */
            } else {
                f->rpw = 2;
            }
        }
        int64_t want_wg = clattn_ceil_div(rows, f->rpw);
        /* CPU decode with one work-item per group: K and V rows straight from global memory (no tile copy;
         * local memory is ordinary cache there), when both are unit-stride and Dv needs no padding. */
        f->direct = (rules->fused_multi_row && f->krow && wg_pref == 1 && f->klw > 1 && (p->D == 1 || p->k.strides[3] == 1) &&
                     (p->Dv == 1 || p->v.strides[3] == 1) && f->dvp == p->Dv)
                        ? 1
                        : 0;
        /* PoCL (Clang inside): software prefetch in the direct decode kernel (see fused.cl; rules.c, PREF) */
        f->sw_prefetch = rules->sw_prefetch;
        f->wg = (int)clattn_min_i64(wg_pref, (int)clattn_pow2_ceil(want_wg));
        while ((size_t)f->wg > lim->max_wg || (size_t)f->wg > lim->max_wi_sizes[0]) f->wg /= 2;
        if (f->wg < 1) f->wg = 1;
        f->tk = f->direct && rules->fused_tk_direct > 0 ? rules->fused_tk_direct : rules->fused_tk;
        /* Paged direct decode: a tile ends at a block boundary (fused.cl), so tiles of at most one block are full. */
        if (p->paged && f->direct)
            while (f->tk > f->vk && f->tk > p->block_size) f->tk /= 2;
        /* Local memory: K and V tiles, at most half of the device's local memory. */
        while (f->tk > f->vk && (cl_ulong)f->tk * (cl_ulong)(p->D + f->dvp) * 4 > lim->local_mem / 2) f->tk /= 2;
        if ((cl_ulong)f->tk * (cl_ulong)(p->D + f->dvp) * 4 > lim->local_mem) {
            snprintf(reason, reason_len, "K and V tiles of %d keys exceed local memory", f->tk);
            return CLATTN_SUCCESS;
        }

        for (;;) {
            bool fits = false;
            CLATTN_TRY(probe_fused(lim, p, probe, user, f, p->D, kf, km, &fits));
            if (fits) break;
            if (f->wg > 1) f->wg /= 2;
            else if (f->tk > f->vk) f->tk /= 2;
            else {
                snprintf(reason, reason_len, "no work-group of the fused kernel fits the device");
                return CLATTN_SUCCESS;
            }
        }
        f->bm = (int64_t)f->wg * f->rpw;
    }
    const int64_t bm = f->bm;
    const int64_t qblocks = clattn_ceil_div(rows, bm);

    /* Key partitions. */
    int64_t kpart = clattn_max_i64(p->Lk, 1);
    if (rules->fused_loop_budget > 0) {
        const int64_t per = f->gpu ? gpu_iters_per_tile(f, p->D) : iters_per_tile(f, p->D),
                      fixed = f->gpu ? gpu_iters_fixed(f, p->D) : iters_fixed(f, p->D, p->Dv);
        const int64_t tiles = (rules->fused_loop_budget - fixed) / per;
        if (tiles < 1) {
            snprintf(reason, reason_len, "one key tile exceeds the loop budget (LOOP)");
            return CLATTN_SUCCESS;
        }
        kpart = clattn_min_i64(kpart, tiles * f->tk);
    }
    {
        /* Enough work-groups to fill the device: split keys into partitions of >= 256 keys. */
        const int64_t cus = lim->compute_units > 0 ? lim->compute_units : 1;
        const int64_t want_groups = 8 * cus;
        const int64_t groups = qblocks * pairs;
        if (groups < want_groups && p->Lk >= 512) {
            int64_t np = clattn_min_i64(clattn_ceil_div(want_groups, groups), p->Lk / 256);
            int64_t kp = clattn_ceil_div(clattn_ceil_div(p->Lk, np), f->tk) * f->tk;
            if (kp < kpart) kpart = kp;
        }
    }
    const int64_t np = clattn_max_i64(1, clattn_ceil_div(p->Lk, kpart));
    if (np > CLATTN_CL_MAX_GRID_GROUPS) {
        snprintf(reason, reason_len, "%lld key partitions exceed the grid limit", (long long)np);
        return CLATTN_SUCCESS;
    }
    f->kpart = kpart;
    f->np = (int)np;

    /* Chunks of kv pairs and rows; workspace for partials when np > 1. */
    f->nbh = clattn_min_i64(clattn_max_i64(pairs, 1), CLATTN_CL_MAX_GRID_GROUPS);
    f->nrr = rows;
    cfg->workspace_bytes = 0;
    if (np > 1 && pairs > 0 && rows > 0) {
        cl_ulong cap = lim->max_alloc / 2;
        if (cap > FLASH_WORKSPACE_CAP) cap = FLASH_WORKSPACE_CAP;
        const cl_ulong row_bytes = (cl_ulong)np * (cl_ulong)(f->dvp + FLASH_HDR) * sizeof(float);
        const cl_ulong pair_bytes = row_bytes * (cl_ulong)rows;
        if (pair_bytes <= cap) {
            f->nbh = clattn_min_i64(f->nbh, (int64_t)(cap / pair_bytes));
            f->nbh = clattn_ceil_div(pairs, clattn_ceil_div(pairs, f->nbh)); /* even chunks */
        } else {
            f->nbh = 1;
            f->nrr = (int64_t)(cap / row_bytes) / bm * bm;
            if (f->nrr < bm) {
                snprintf(reason, reason_len, "the partials of one row block exceed the workspace limit");
                return CLATTN_SUCCESS;
            }
        }
        cfg->workspace_bytes = (size_t)((cl_ulong)f->nbh * (cl_ulong)f->nrr * row_bytes);
    }
    *served = true;
    cfg->used[CLATTN_CL_SLOT_FUSED] = cfg->used[CLATTN_CL_SLOT_MERGE] = true;
    if (f->gpu) {
        set_why(kf, "fused-gpu (kernel path %s; no probabilities; D, Dv <= %d; rules.c row '%s', GPUK): %s, %d x %d "
                    "work-items, %d row(s) x %d key(s) per work-item (BR = %d, BC = %d), float%d over Dv, %llu B of local "
                    "memory; %s; %d key partition(s) of %lld keys",
                kernel_path_word(p->kernel_path), FLASH_MAX_D, rules->row,
                f->decode ? "decode (Lq <= 4, K/V rows from global memory)" : "prefill (Q, K/V, P in local memory)",
                f->tr, f->tc, f->rt, f->ct, f->tr * f->rt, f->tc * f->ct, f->vw, (unsigned long long)kf->local_bytes,
                f->use_fma ? "fma (CL_FP_FMA)" : "mad (no hardware FMA)", f->np, (long long)f->kpart);
        km->launched = f->np > 1;
        set_why(km, "fused-gpu: merges the (max, sum, acc) partials of the %d key partition(s); built with %s%s", f->np,
                kf->name, f->np > 1 ? "" : ", launched only when keys are split (not for this shape)");
        kf->launched = true;
        return CLATTN_SUCCESS;
    }
    set_why(kf, "fused (kernel path %s; no probabilities; D, Dv <= %d): rules.c row '%s' (VEC): %d work-item(s) x %d "
                "row(s) per group, float%d over keys, float%d over Dv, %d keys per staged tile%s%s; %s; %d key "
                "partition(s) of %lld keys",
            kernel_path_word(p->kernel_path), FLASH_MAX_D, rules->row, f->wg, f->rpw, f->vk, f->vv, f->tk,
            f->krow ? ", K row-major (few rows: decode)" : ", K transposed",
            f->direct && f->wg == 1 ? ", K/V read directly (no local tiles)" : "",
            f->use_fma ? "fma (CL_FP_FMA)" : "mad (no hardware FMA)", f->np, (long long)f->kpart);
    km->launched = f->np > 1;
    set_why(km, "fused: merges the (max, sum, acc) partials of the %d key partition(s); built with clattn_fused%s",
            f->np, f->np > 1 ? "" : ", launched only when keys are split (not for this shape)");
    kf->launched = true;
    return CLATTN_SUCCESS;
}

const char *clattn_cl_plan_path(const clattn_cl_plan_cfg *cfg)
{
    if (cfg->paged) return !cfg->fused ? "chain-paged" : cfg->f.gpu ? "fused-gpu-paged" : "fused-paged";
    return !cfg->fused ? "chain" : cfg->f.gpu ? "fused-gpu" : "fused";
}

clattn_status clattn_cl_plan_choose(clattn_context *ctx, const clattn_cl_rules *rules, const clattn_cl_limits *lim,
                                    const clattn_sdpa_problem *p, clattn_cl_probe_fn probe, void *user,
                                    clattn_cl_plan_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->paged = p->paged;
    const int64_t span = p->Lq + p->Lk;
    cfg->wl = clattn_cl_window_clamp(p->window_left, span);
    cfg->wr = clattn_cl_window_clamp(p->window_right, span);

    char reason[160] = "";
    bool served = false;
    CLATTN_TRY(plan_fused(rules, lim, p, probe, user, cfg, &served, reason, sizeof reason));
    if (served) {
        cfg->fused = true;
        return CLATTN_SUCCESS;
    }
    /* The chain serves the plan: forget the fused candidates (the probe's owner releases their kernels). */
    cfg->used[CLATTN_CL_SLOT_FUSED] = cfg->used[CLATTN_CL_SLOT_MERGE] = false;
    cfg->workspace_bytes = 0;
    return plan_chain(ctx, rules, lim, p, probe, user, reason, cfg);
}
