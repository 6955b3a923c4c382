/*
 * The OpenCL kernel planner: for one SDPA problem on one device, which path (fused or chain) serves it,
 * which kernels it builds (source file, __kernel, -D options, work-group size) and how the work is cut
 * (tiles, key partitions, chunks, workspace). One function, clattn_cl_plan_choose(), over
 *   rules   the device's row of rules.c (what the driver needs or is fastest with),
 *   limits  the device's CL_DEVICE_* limits (clattn_cl_limits),
 *   p       the validated problem (shape, mask kind, strides, probabilities, kernel path),
 * with no OpenCL object of its own: every build goes through a probe callback. Plan creation
 * (backend.c) passes a probe that builds the kernel and answers CL_KERNEL_WORK_GROUP_SIZE and
 * CL_KERNEL_LOCAL_MEM_SIZE, so the planner shrinks a tile the device refuses; the kernel list
 * (kernel_plan.c: clattn_kernel_plan_create(), `clattn kernels --profile`) passes one that builds
 * nothing and answers the device limit and the planner's own estimate of the kernel's __local bytes.
 * chain.c and fused.c then only allocate the workspace and launch. Not installed.
 */
#ifndef CLATTN_CL_PLANNER_H
#define CLATTN_CL_PLANNER_H

#include "opencl.h"

/* What the planner reads of a device (backend.c reads them from the device; a profile states them). */
typedef struct clattn_cl_limits {
    cl_device_type type;
    size_t max_wg;          /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_wi_sizes[3]; /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    cl_ulong local_mem;     /* CL_DEVICE_LOCAL_MEM_SIZE (bytes) */
    cl_ulong max_alloc;     /* CL_DEVICE_MAX_MEM_ALLOC_SIZE (bytes) */
    int compute_units;      /* CL_DEVICE_MAX_COMPUTE_UNITS */
    bool fma;               /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG */
} clattn_cl_limits;

/* The limits a backend state plans with: its device's, or under CLATTN_DEVICE_PROFILE the profile's
 * (backend.c). */
clattn_cl_limits clattn_cl_state_limits(const clattn_cl_state *cl);

/* Tile of scores.cl / weighted_sum.cl: work-group (wg_n, wg_m); each work-item wpt_m rows x vw columns;
 * tk = reduction chunk staged in local memory. */
typedef struct clattn_cl_tile {
    int wg_m, wg_n, wpt_m, vw, tk;
} clattn_cl_tile;

/* The kernel chain (chain.c): scores.cl -> softmax.cl -> weighted_sum.cl through an [nbh, nrows, Lk]
 * score workspace. */
typedef struct clattn_cl_chain_cfg {
    clattn_cl_tile scores_tile, wsum_tile;
    size_t sm_wg;           /* softmax work-group size */
    bool sm_per_row_group;  /* clattn_softmax (a work-group per row), else clattn_softmax_rows */
    int64_t nbh, nrows;     /* chunk of (b, h) pairs and of query rows */
    int64_t kchunk;         /* keys per weighted_sum launch (rules.c, LOOP) */
    int64_t dchunk;         /* head-dim elements per scores launch (rules.c, LOOP) */
} clattn_cl_chain_cfg;

/* The fused path (fused.c; kernels/fused.cl, or kernels/fused_gpu.cl when gpu). */
typedef struct clattn_cl_fused_cfg {
    bool gpu;      /* fused_gpu.cl (path "fused-gpu"; GPU devices, see planner.c choose_gpu_kernels) */
    int decode;    /* fused_gpu.cl: clattn_decode_gpu, else clattn_fused_gpu */
    int tr, tc, rt, ct, vw; /* fused_gpu.cl tiles (its banner) */
    int64_t bm;    /* query rows per work-group (fused.cl WG·RPW, fused_gpu.cl TR·RT) */
    int wg, rpw, tk, vk, vv, dvp, klw, krow, use_fma, direct, sw_prefetch;
    size_t merge_wg;
    int64_t kpart; /* keys per partition */
    int np;        /* partitions (1: the fused kernel writes out directly) */
    int64_t nbh;   /* kv pairs per launch */
    int64_t nrr;   /* rows per launch (multiple of BM unless it is all rows of a pair) */
} clattn_cl_fused_cfg;

/* The kernels a plan builds, by role. */
enum {
    CLATTN_CL_SLOT_FUSED,
    CLATTN_CL_SLOT_MERGE,
    CLATTN_CL_SLOT_SCORES,
    CLATTN_CL_SLOT_SOFTMAX,
    CLATTN_CL_SLOT_WSUM,
    CLATTN_CL_SLOTS
};

/* One kernel: the program common.cl + source built with options (program.c), and the __kernel in it. */
typedef struct clattn_cl_kernel_choice {
    const char *source;     /* file under kernels/, joined after common.cl */
    const char *name;       /* the __kernel */
    char options[256];      /* the -D options (program.c puts -cl-std=CL1.2 in front) */
    size_t local[3];        /* work-group size of its launches */
    cl_ulong local_bytes;   /* __local bytes of its declarations, as the planner computes them */
    bool launched;          /* false: built with the plan but launched only in some runs (see why) */
    char why[320];          /* why this kernel with these options, one line */
} clattn_cl_kernel_choice;

/* Builds (or checks) candidate k for slot; answers CL_KERNEL_WORK_GROUP_SIZE and CL_KERNEL_LOCAL_MEM_SIZE.
 * The planner probes a slot again with a smaller candidate when the answer does not fit; the last probe
 * of each slot of the chosen path is the kernel the plan uses. A failure status stops planning. */
typedef clattn_status (*clattn_cl_probe_fn)(void *user, int slot, const clattn_cl_kernel_choice *k,
                                            size_t *kernel_wg, cl_ulong *kernel_local);

typedef struct clattn_cl_plan_cfg {
    bool fused;                  /* the fused path, else the chain */
    bool paged;                  /* paged K/V (p->paged): kernels built with -D CLATTN_PAGED (common.cl) */
    clattn_cl_fused_cfg f;       /* when fused */
    clattn_cl_chain_cfg c;       /* when not */
    int64_t wl, wr;              /* window clamped to [-1, Lq + Lk] */
    size_t workspace_bytes;      /* device workspace the path allocates */
    bool used[CLATTN_CL_SLOTS];  /* the slots the chosen path builds */
    clattn_cl_kernel_choice kernels[CLATTN_CL_SLOTS];
} clattn_cl_plan_cfg;

/* The plan path cfg takes, as clattn_sdpa_plan_path() reports it ("fused", "fused-gpu", "chain"; with paged
 * K/V "fused-paged", "fused-gpu-paged", "chain-paged"). */
const char *clattn_cl_plan_path(const clattn_cl_plan_cfg *cfg);

/* Chooses the path, the kernels and the cuts for p (see the top of this file). Errors: what the probe
 * returns; CLATTN_ERROR_OUT_OF_MEMORY when one score row exceeds the workspace limit; UNSUPPORTED when no
 * work-group fits. Messages on ctx (may be NULL). */
clattn_status clattn_cl_plan_choose(clattn_context *ctx, const clattn_cl_rules *rules, const clattn_cl_limits *lim,
                                    const clattn_sdpa_problem *p, clattn_cl_probe_fn probe, void *user,
                                    clattn_cl_plan_cfg *cfg);

#endif /* CLATTN_CL_PLANNER_H */
