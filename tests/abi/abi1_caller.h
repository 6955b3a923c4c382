/*
 * A program compiled against the 0.2.0 layouts (clattn_abi1.h), as test_abi.c drives it: each function
 * does what such a program does, through structs of the frozen sizes, and returns the clattn status.
 * Plain types only, so test_abi.c (compiled against the live clattn.h) can call them.
 */
#ifndef CLATTN_ABI1_CALLER_H
#define CLATTN_ABI1_CALLER_H

#include <stddef.h>
#include <stdint.h>

/* clattn_context_create with a 0.2.0 clattn_context_options (device NULL: CLATTN_DEVICE), then
 * clattn_context_get_info into a 0.2.0 clattn_device_info; copies its backend and device_name out. */
int abi1_open(void **ctx, int *backend, char *device_name, size_t name_size);

/* clattn_sdpa with a 0.2.0 desc: contiguous [B, H, L, D] q, k, v, out, causal (a clattn_causal value),
 * window_left (-1 unbounded). */
int abi1_sdpa(void *ctx, int64_t B, int64_t H, int64_t L, int64_t D, int causal, int64_t window_left,
              const float *q, const float *k, const float *v, float *out);

/* clattn_mha_create with 0.2.0 weights (E, H, self-attention sizes; no biases) and clattn_mha_forward
 * with 0.2.0 options (causal), query [B, L, E] -> out [B, L, E]. */
int abi1_mha(void *ctx, int64_t E, int64_t H, const float *w_q, const float *w_k, const float *w_v,
             const float *w_o, int64_t B, int64_t L, int causal, const float *query, float *out);

/* Last error of ctx (NULL: the thread's). */
const char *abi1_last_error(const void *ctx);

#endif /* CLATTN_ABI1_CALLER_H */
