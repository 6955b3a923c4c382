/*
 * The host backend's rows of the kernel table (clattn_kernel_get(), `clattn kernels`): the row-by-row
 * stage functions (scores.c, softmax.c, weighted_sum.c), the fused kernels in each ISA variant
 * (fused_kernel.c compiled as portable and included by fused_avx2.c / fused_avx512.c), the decode merge,
 * fp16 staging, the BLAS GEMM, the merge of partial states (clattn_merge_*) and the paged KV append. tests/test_kernels.c checks
 * that every entry point is named in its source file or a header of its folder, and that every path is one
 * a host plan reports.
 */
#include "backend.h"

#define HOST_ROW(paths, stage, file, entry, description) \
    CLATTN_KERNEL_ROW("host", paths, stage, "src/host/" file, entry, description)

/* The three kernels of one ISA variant of the fused path (host-fused-<isa>). */
#define HOST_FUSED_ROWS(isa, file, lanes)                                                                    \
    HOST_ROW("host-fused-" isa, "pack", file, "host_fused_pack_" isa,                                       \
             "packs K (transposed panels) and V (padded rows) of a wave of (b, kv head) pairs; " lanes),    \
    HOST_ROW("host-fused-" isa, "fused", file, "host_fused_task_" isa,                                      \
             "flash-style Q·Kᵀ, online softmax and P·V over packed K/V tiles for a GQA row block; " lanes), \
    HOST_ROW("host-fused-" isa, "decode", file, "host_fused_decode_" isa,                                   \
             "decode (few queries): one key chunk straight from K/V, partial (max, sum, acc); " lanes)

#define HOST_FUSED_F32 "host-fused-portable host-fused-avx2 host-fused-avx512"
#define HOST_FUSED_ALL HOST_FUSED_F32 " host-fused-avx512bf16"

const clattn_kernel_entry clattn_host_kernels[] = {
    HOST_ROW("host-rowwise", "scores", "scores.c", "host_scores_block",
             "raw scores q·kᵀ of a block of query rows over each row's allowed key range"),
    HOST_ROW("host-rowwise", "scores", "scores.c", "host_scores_finish_row",
             "one score row: times scale, softcap, then the mask (-inf where not allowed)"),
    HOST_ROW("host-rowwise", "softmax", "softmax.c", "host_softmax_row",
             "stable masked softmax of one score row in place"),
    HOST_ROW("host-rowwise", "softmax", "softmax.c", "host_probs_row",
             "writes one probabilities row, exactly 0 outside the allowed keys"),
    HOST_ROW("host-rowwise", "weighted_sum", "weighted_sum.c", "host_weighted_sum_row",
             "out row = P·V, skipping zero-probability keys"),
    HOST_FUSED_ROWS("portable", "fused_kernel.c", "GCC vectors, 4 lanes"),
    HOST_FUSED_ROWS("avx2", "fused_avx2.c", "AVX2 + FMA, 8 lanes"),
    HOST_FUSED_ROWS("avx512", "fused_avx512.c", "AVX-512F, 16 lanes"),
    /* CLATTN_PRECISION_REDUCED plans (decode plans of that precision run host-fused-avx512) */
    HOST_ROW("host-fused-avx512bf16", "pack", "fused_avx512bf16.c", "host_fused_pack_avx512bf16",
             "packs K as bf16 pairs along D (panels) and V as bf16 pairs of keys, flags blocks with inf/NaN V"),
    HOST_ROW("host-fused-avx512bf16", "fused", "fused_avx512bf16.c", "host_fused_task_avx512bf16",
             "flash-style tile with bf16-rounded Q·Kᵀ and P·V operands (VDPBF16PS), float32 accumulation and softmax"),
    HOST_ROW(HOST_FUSED_F32, "decode merge", "fused.c", "decode_merge",
             "combines the decode key chunks' (max, sum, acc) of each row into the output"),
    HOST_ROW("host-rowwise " HOST_FUSED_ALL, "fp16 convert", "backend.c", "host_convert_view",
             "binary16 / bfloat16 <-> float32 staging of fp16 and bf16 plans (src/common/fp16.c; F16C / AVX2 where the CPU has them)"),
    HOST_ROW("mha", "gemm", "gemm.c", "host_linear", "nn.Linear y = x·Wᵀ + bias through OpenBLAS cblas_sgemm"),
    HOST_ROW("host-channel", "channel pool", "channel.c", "host_channel_pool",
             "channel attention: mean (double) and max of x over H·W for one (b, c)"),
    HOST_ROW("host-channel", "channel excite", "channel.c", "host_channel_excite",
             "channel attention: s = sigmoid(sum over pools of w2·relu(w1·p + b1) + b2) for one batch item"),
    HOST_ROW("host-channel", "channel rescale", "channel.c", "host_channel_rescale",
             "channel attention: out = s[b, c]·x over H·W for one (b, c)"),
    HOST_ROW("host-additive", "additive project", "additive.c", "host_additive_project",
             "additive attention: one row of W_q·q or W_k·k + bias"),
    HOST_ROW("host-additive", "additive row", "additive.c", "host_additive_row",
             "additive attention: e_ij = w_e·tanh(Pq_i + Pk_j) over allowed keys, masked softmax, P·V, one query row"),
    HOST_ROW("host-global-local", "global-local local", "global_local.c", "host_gl_local_row",
             "global-local attention: one local query row over its global slots and 2w + 1 window keys"),
    HOST_ROW("host-global-local", "global-local global", "global_local.c", "host_gl_global_row",
             "global-local attention: one global query row over all keys (global projections when given)"),
    HOST_ROW("merge", "merge", "merge.c", "merge_row",
             "merges P partial (out, lse) states of one row: max-shifted exp weights, out and lse in place or not"),
    HOST_ROW("kv-append", "kv append", "kv_append.c", "host_kv_append_run",
             "paged KV cache append: copies each new K/V row into its block-table slot of the pools"),
};

const size_t clattn_host_kernel_count = sizeof clattn_host_kernels / sizeof clattn_host_kernels[0];
