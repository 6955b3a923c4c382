/*
 * Channel attention (clattn_channel_attn_*, src/core/channel.c): the validated problem and the buffers of one
 * execution, which backends receive through clattn_backend_i.channel_run (backend.h). Not installed.
 */
#ifndef CLATTN_CORE_CHANNEL_H
#define CLATTN_CORE_CHANNEL_H

#include "backend.h"

/* Every size >= 1 (validation rejects empty dims). x, out: 4-D [B, C, H, W] (size-1 dims stride 0);
 * scales 2-D [B, C]; weights contiguous: w1 [R, C], b1 [R], w2 [C, R], b2 [C]. */
typedef struct clattn_channel_problem {
    int64_t B, C, H, W, R;
    clattn_tensor x, out, scales;
    bool avg_max, has_b1, has_b2, want_scales;
    int64_t x_extent, out_extent, scales_extent; /* elements each view reaches */
} clattn_channel_problem;

typedef struct clattn_channel_bufs {
    clattn_buf x, w1, b1, w2, b2, out, scales; /* b1, b2, scales {NULL, NULL} when absent */
} clattn_channel_bufs;

#endif /* CLATTN_CORE_CHANNEL_H */
