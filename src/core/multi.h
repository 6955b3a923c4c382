/*
 * Multi-device contexts (core/multi.c): a context over several member contexts that splits each SDPA
 * call across their devices. Core only; members are ordinary contexts. Not installed.
 */
#ifndef CLATTN_CORE_MULTI_H
#define CLATTN_CORE_MULTI_H

#include "internal.h"

/* True when a device selector is a list ("pocl,host"): clattn_context_create then opens a multi context. */
bool clattn_selector_is_list(const char *selector);

/* Opens one member context per element of the comma-separated selector (each with opts, device replaced)
 * and makes ctx a multi context (ctx->be, ctx->info, ctx->backend_data). Errors: INVALID_ARGUMENT (an
 * empty or too long element, more than CLATTN_MAX_DEVICES, bad weights), a member's creation status
 * (the element named), OUT_OF_MEMORY. On failure ctx may hold members: abandon it. */
clattn_status clattn_multi_open(clattn_context *ctx, const char *selector, const clattn_context_options *opts);

/* Members of ctx (1 for a single-device context) and member i (ctx itself for a single-device one). */
int clattn_multi_count(const clattn_context *ctx);
const clattn_context *clattn_multi_member(const clattn_context *ctx, int i);

/* The members' weights (measured now if neither given nor measured yet) into weights[0..count). */
clattn_status clattn_multi_weights(clattn_context *ctx, double *weights);

#endif
