/*
 * The OpenCL backend's rows of the kernel table (clattn_kernel_get(), `clattn kernels`): one per
 * __kernel in kernels/<name>.cl, plus the CLBlast GEMM driver. Paths ending in -paged are the same kernels built
 * with -D CLATTN_PAGED (paged K/V through the block table, kernels/common.cl). tests/test_kernels.c parses the .cl
 * files and fails on a __kernel without a row here, or a row naming no __kernel: add the row with the
 * kernel.
 */
#include "backend.h"

#define CL_ROW(paths, stage, file, entry, description) \
    CLATTN_KERNEL_ROW("opencl", paths, stage, "kernels/" file, entry, description)

const clattn_kernel_entry clattn_opencl_kernels[] = {
    CL_ROW("chain chain-paged", "scores", "scores.cl", "clattn_scores",
           "S = softcap(Q·Kᵀ·scale) + additive mask, -inf where a key is not allowed, for a chunk of rows"),
    CL_ROW("chain chain-paged", "softmax", "softmax.cl", "clattn_softmax",
           "masked softmax of each score row in place (+ probabilities), one work-group per row"),
    CL_ROW("chain chain-paged", "softmax", "softmax.cl", "clattn_softmax_rows",
           "masked softmax of each score row in place (+ probabilities), one work-item per row"),
    CL_ROW("chain chain-paged", "weighted_sum", "weighted_sum.cl", "clattn_weighted_sum",
           "out = P·V into the output's strided layout, skipping zero-probability keys"),
    CL_ROW("fused fused-paged", "fused", "fused.cl", "clattn_fused",
           "flash-style scores, online softmax and P·V in one kernel; partial results per key partition"),
    CL_ROW("fused fused-paged", "decode merge", "fused.cl", "clattn_fused_merge",
           "combines the key partitions' (max, sum, acc) of each row into the output (split-key, decode)"),
    CL_ROW("fused-gpu fused-gpu-paged", "fused", "fused_gpu.cl", "clattn_fused_gpu",
           "GPU flash-style kernel: a work-group per block of query rows, K/V tiles in local memory, "
           "register tiles of scores and output, online softmax reduced through local memory"),
    CL_ROW("fused-gpu fused-gpu-paged", "decode", "fused_gpu.cl", "clattn_decode_gpu",
           "GPU decode (Lq <= 4, <= 8 rows per kv head): keys split across work-groups, K/V rows from "
           "global memory, partial (max, sum, acc) per key partition"),
    CL_ROW("fused-gpu fused-gpu-paged", "decode merge", "fused_gpu.cl", "clattn_fused_gpu_merge",
           "combines the GPU kernels' key partitions' (max, sum, acc) of each row into the output"),
    CL_ROW("kv-append", "kv append", "paged.cl", "clattn_kv_append",
           "paged KV cache append: row t of sequence b -> slot (positions[b] + t) % block_size of its block; "
           "rows without a valid block are skipped"),
    CL_ROW("merge", "merge", "merge.cl", "clattn_merge",
           "merges P partial (out, lse) states per row: max-shifted exp weights, out and lse in place or not"),
    CL_ROW("mha", "bias", "bias.cl", "clattn_bias_fill",
           "fills nn.Linear's output with its bias (or 0) before the GEMM accumulates"),
    CL_ROW("channel", "channel pool", "channel_attn.cl", "clattn_channel_pool",
           "channel attention: mean and max of x over H·W, one work-group per (b, c), local-memory reduction"),
    CL_ROW("channel", "channel excite", "channel_attn.cl", "clattn_channel_fc1",
           "channel attention: hidden = relu(w1·pooled + b1), one work-item per (r, b, pool)"),
    CL_ROW("channel", "channel excite", "channel_attn.cl", "clattn_channel_fc2",
           "channel attention: gate = sigmoid(sum over pools of w2·hidden + b2), one work-item per (c, b)"),
    CL_ROW("channel", "channel rescale", "channel_attn.cl", "clattn_channel_rescale",
           "channel attention: out = gate[b, c]·x, one work-item per element"),
    CL_ROW("additive", "additive project", "additive.cl", "clattn_additive_project",
           "additive attention: one element of W_q·q or W_k·k + bias"),
    CL_ROW("additive", "additive scores", "additive.cl", "clattn_additive_scores",
           "additive attention: e_ij = w_e·tanh(Pq_i + Pk_j) (+ mask, -inf where not allowed), one work-item per score"),
    CL_ROW("additive", "additive softmax", "additive.cl", "clattn_additive_softmax_pv",
           "additive attention: masked softmax of a score row, out = P·V (+ probabilities), one work-item per row"),
    CL_ROW("global-local", "global-local local", "global_local.cl", "clattn_gl_local",
           "global-local attention: one local query row over its global slots and 2w + 1 window keys"),
    CL_ROW("global-local", "global-local global", "global_local.cl", "clattn_gl_global",
           "global-local attention: one global query row over all keys (global projections when given)"),
    CLATTN_KERNEL_ROW("opencl", "mha", "gemm", "src/opencl/gemm.c", "clattn_cl_linear",
                      "nn.Linear y = x·Wᵀ (+ bias) through CLBlastSgemm"),
};

const size_t clattn_opencl_kernel_count = sizeof clattn_opencl_kernels / sizeof clattn_opencl_kernels[0];
