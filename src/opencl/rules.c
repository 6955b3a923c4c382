/*
 * One table of device rules: what each driver or device kind needs (for correct results) or runs
 * fastest with. clattn_cl_backend_create() resolves the first matching row into the backend state
 * (clattn_cl_state.rules); planner.c and program.c read the resolved values and test no names.
 *
 * A row matches when one of its name substrings occurs in CL_PLATFORM_NAME or CL_DEVICE_NAME (no
 * names: every device) and the device type has one of its type bits (0: every type). Order matters:
 * driver rows before the generic GPU row, the catch-all last.
 *
 * Evidence behind the values (PoCL 3.1 and Mesa rusticl / llvmpipe on a 2-core Zen 4, AVX-512; no GPU
 * was measured: the GPU rows are the vector widths and work-group sizes the kernels were written for):
 *   LOOP   Mesa llvmpipe (rusticl) shares a limit of 65535 loop iterations between every loop of a
 *          kernel and silently leaves the loops when it is reached (wrong results, no error); keep well
 *          below it: 32768. The chain applies it on every device today (see CHAIN below); the fused
 *          path only where it is needed.
 *   VEC    PoCL does not vectorise a loop-carrying kernel across work-items: explicit float16 with
 *          several independent accumulators per work-item (chain tiles: float16 with 4x16 work-groups
 *          ~1.3x float8; fused: 4 rows x 32 items for Dv <= 128, 2 x 32 above, 12 % less CPU time at
 *          D = 64, L = 512..2048 than 16 items, clattn-bench cpu_ms). llvmpipe vectorises across
 *          work-items itself: narrow vectors, one row per item, 16-key tiles. GPUs: float4, one row
 *          per work-item, a work-group per softmax row.
 *   GPUK   GPU rows take the GPU fused kernels (kernels/fused_gpu.cl, fused.c): a work-group shares a block
 *          of query rows, register tiles indexed by constants; compiled for gfx90a/gfx1030/sm_80 with no
 *          scratch (the CPU kernel fused.cl spills there: 168 VGPRs, 388 B scratch at D = 64 on gfx90a).
 *          CPU rows keep fused.cl. Run on PoCL/Oclgrind under CLATTN_DEVICE_PROFILE (profiles.c).
 *   PREF   PoCL (Clang inside): software prefetch of the next tile in the direct decode kernel
 *          (OpenCL's prefetch() is a no-op in PoCL 3.1; see kernels/fused.cl).
 *   DEC    PoCL compiles a kernel at its first launch, and the direct decode kernel (fused.cl DIRECT) unrolls
 *          its key tile: at B=8, Hq=32, Hkv=8, Lk=4096, D=128 a cold first call took 20.5-24.6 s with 64-key
 *          tiles (past clattn-bench's 20 s limit) and 5.5-6.2 s with 32-key tiles, 4.6 s with 16; median
 *          time warm 8.0-8.9 ms at 64, 8.1-8.9 ms at 32 (same within this shared machine's noise), 12.5 ms
 *          at 16. So 32 on the CPU rows.
 *   CACHE  PoCL answers CL_PROGRAM_BINARY_SIZES by compiling every kernel for a dynamic work-group size
 *          (~1.5 s per program here): storing our binary made a cold first call 8.7-9.9 s instead of
 *          3.4-5.8 s, and PoCL's own cache already gives 0.01-0.02 s warm; skip ours on PoCL. rusticl:
 *          0.06-0.15 s without ours, 0.01-0.02 s with it warm; storing costs nothing measurable
 *          (details in cache.c).
 *   CHAIN  chain_loop_budget is 32768 on every row, though only llvmpipe needs it: on other devices it
 *          only splits very long key / head-dim ranges into more launches. Kept everywhere until a
 *          change of PoCL's launch splits is checked to give identical results.
 */
#include "opencl.h"

#include <string.h>

#define LLVMPIPE_LOOP_BUDGET 32768 /* LOOP */

typedef struct rules_row {
    const char *names[2];  /* substrings of the platform or device name; {NULL} = any */
    cl_device_type type;   /* any of these type bits; 0 = any */
    clattn_cl_rules rules;
} rules_row;

static const rules_row rules_table[] = {
    /* Mesa rusticl on a GPU driver: the loop limit is llvmpipe's (LOOP) but rusticl on a GPU has not
     * been measured, so it is kept; GPU shapes otherwise. */
    {{"rusticl", "llvmpipe"}, CL_DEVICE_TYPE_GPU,
     {.row = "rusticl-gpu", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = LLVMPIPE_LOOP_BUDGET,
      .tile_vw = 4, .softmax_vw = 4, .softmax_row_group = true,
      .fused_vmax = 4, .fused_multi_row = false, .fused_wg = 64, .fused_tk = 32, .sw_prefetch = false, .fused_gpu = true,
      .binary_cache = true}},
    /* Mesa rusticl on llvmpipe (a CPU device): LOOP for correct results; VEC (llvmpipe); CACHE. */
    {{"rusticl", "llvmpipe"}, 0,
     {.row = "rusticl", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = LLVMPIPE_LOOP_BUDGET,
      .tile_vw = 16, .softmax_vw = 8, .softmax_row_group = false,
      .fused_vmax = 4, .fused_multi_row = false, .fused_wg = 32, .fused_tk = 16, .sw_prefetch = false,
      .binary_cache = true}},
    /* PoCL on a GPU (e.g. its CUDA driver): GPU shapes; PREF (used only by the CPU decode kernel); CACHE. */
    {{"Portable Computing Language", NULL}, CL_DEVICE_TYPE_GPU,
     {.row = "pocl-gpu", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = 0,
      .tile_vw = 4, .softmax_vw = 4, .softmax_row_group = true,
      .fused_vmax = 4, .fused_multi_row = false, .fused_wg = 64, .fused_tk = 32, .sw_prefetch = true, .fused_gpu = true,
      .binary_cache = false}},
    /* PoCL on the CPU: VEC (PoCL), PREF, DEC, CACHE. */
    {{"Portable Computing Language", NULL}, 0,
     {.row = "pocl", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = 0,
      .tile_vw = 16, .softmax_vw = 8, .softmax_row_group = false,
      .fused_vmax = 16, .fused_multi_row = true, .fused_wg = 32, .fused_tk = 64, .fused_tk_direct = 32, .sw_prefetch = true,
      .binary_cache = false}},
    /* Any other GPU: VEC (GPU shapes, not measured here). A GPU row tuned per vendor would set tile and
     * work-group sizes from measurements and drop chain_loop_budget (CHAIN). */
    {{NULL, NULL}, CL_DEVICE_TYPE_GPU,
     {.row = "gpu", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = 0,
      .tile_vw = 4, .softmax_vw = 4, .softmax_row_group = true,
      .fused_vmax = 4, .fused_multi_row = false, .fused_wg = 64, .fused_tk = 32, .sw_prefetch = false,
      .fused_gpu = true, .binary_cache = true}},
    /* Everything else (other CPU drivers, accelerators): the PoCL-measured CPU shapes (VEC, DEC). */
    {{NULL, NULL}, 0,
     {.row = "cpu", .chain_loop_budget = LLVMPIPE_LOOP_BUDGET, .fused_loop_budget = 0,
      .tile_vw = 16, .softmax_vw = 8, .softmax_row_group = false,
      .fused_vmax = 16, .fused_multi_row = true, .fused_wg = 32, .fused_tk = 64, .fused_tk_direct = 32, .sw_prefetch = false,
      .binary_cache = true}},
};

static bool row_matches(const rules_row *r, const char *platform_name, const char *device_name, cl_device_type type)
{
    if (r->type != 0 && (type & r->type) == 0) return false;
    if (!r->names[0]) return true;
    for (int i = 0; i < 2 && r->names[i]; i++)
        if (strstr(platform_name, r->names[i]) || strstr(device_name, r->names[i])) return true;
    return false;
}

clattn_cl_rules clattn_cl_rules_resolve(const char *platform_name, const char *device_name, cl_device_type type)
{
    const size_t n = sizeof rules_table / sizeof rules_table[0];
    for (size_t i = 0; i + 1 < n; i++)
        if (row_matches(&rules_table[i], platform_name, device_name, type)) return rules_table[i].rules;
    return rules_table[n - 1].rules;
}
