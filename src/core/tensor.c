/* Tensor views (clattn_tensor): constructors and the checks every function that takes views shares.
 * A view has ndim (1..CLATTN_MAX_DIMS) dims and strides in ELEMENTS plus an element offset; entries
 * beyond ndim are ignored (and zeroed by clattn_tensor_check). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Largest size of one dim: kernels index rows and columns with 32-bit work-item ids. */
#define CLATTN_MAX_DIM INT32_MAX

static bool ndim_ok(int ndim)
{
    return ndim >= 1 && ndim <= CLATTN_MAX_DIMS;
}

clattn_tensor clattn_tensor_view(int ndim, const int64_t *dims, const int64_t *strides, int64_t offset)
{
    clattn_tensor t;
    memset(&t, 0, sizeof t);
    t.offset = offset;
    if (!dims || !strides) return t; /* ndim 0: rejected wherever it is used */
    t.ndim = ndim;
    if (!ndim_ok(ndim)) return t;
    memcpy(t.dims, dims, (size_t)ndim * sizeof *dims);
    memcpy(t.strides, strides, (size_t)ndim * sizeof *strides);
    return t;
}

clattn_tensor clattn_tensor_contiguous_nd(int ndim, const int64_t *dims)
{
    /* Strides saturate at INT64_MAX on overflow (or negative dims), so validation rejects the view
     * with a message instead of this function overflowing. */
    int64_t strides[CLATTN_MAX_DIMS];
    if (dims && ndim_ok(ndim)) {
        strides[ndim - 1] = 1;
        for (int i = ndim - 2; i >= 0; i--)
            if (!clattn_mul_i64(dims[i + 1], strides[i + 1], &strides[i])) strides[i] = INT64_MAX;
    }
    return clattn_tensor_view(ndim, dims, dims ? strides : NULL, 0);
}

clattn_tensor clattn_tensor_contiguous(int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    const int64_t dims[4] = {d0, d1, d2, d3};
    return clattn_tensor_contiguous_nd(4, dims);
}

bool clattn_tensor_extent(const clattn_tensor *t, int64_t *extent)
{
    int64_t last = t->offset;
    if (last < 0 || !ndim_ok(t->ndim)) return false;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] == 0) {
            *extent = 0;
            return true;
        }
        int64_t span;
        if (t->dims[i] < 0 || t->strides[i] < 0) return false;
        if (!clattn_mul_i64(t->dims[i] - 1, t->strides[i], &span)) return false;
        if (!clattn_add_i64(last, span, &last)) return false;
    }
    return clattn_add_i64(last, 1, extent);
}

int64_t clattn_tensor_numel(const clattn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

clattn_status clattn_tensor_expect_ndim(clattn_context *ctx, const char *name, const clattn_tensor *t, int want)
{
    if (t->ndim != want)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ndim is %d, expected %d", name, t->ndim, want);
    return CLATTN_SUCCESS;
}

/* "[a, b, c]" of n values into buf. */
static void format_list(char *buf, size_t size, const int64_t *v, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)v[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

clattn_status clattn_tensor_check(clattn_context *ctx, const char *name, clattn_tensor *t, size_t elem_size,
                                  int64_t *extent)
{
    if (!ndim_ok(t->ndim))
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: ndim is %d, expected 1..%d", name, t->ndim,
                            CLATTN_MAX_DIMS);
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 1 || t->dims[i] > CLATTN_MAX_DIM)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected 1..%d", name, i,
                                (long long)t->dims[i], CLATTN_MAX_DIM);
        if (t->strides[i] < 0)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: stride %d is %lld, expected >= 0", name,
                                i, (long long)t->strides[i]);
        if (t->dims[i] == 1) t->strides[i] = 0;
    }
    for (int i = t->ndim; i < CLATTN_MAX_DIMS; i++) t->dims[i] = t->strides[i] = 0;
    if (t->offset < 0)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s: offset is %lld, expected >= 0", name,
                            (long long)t->offset);
    int64_t bytes;
    if (!clattn_tensor_extent(t, extent) || !clattn_mul_i64(*extent, (int64_t)elem_size, &bytes) ||
        (uint64_t)bytes > (uint64_t)SIZE_MAX / 2) {
        char dims[CLATTN_MAX_DIMS * 24], strides[CLATTN_MAX_DIMS * 24];
        format_list(dims, sizeof dims, t->dims, t->ndim);
        format_list(strides, sizeof strides, t->strides, t->ndim);
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: the view [%s] with strides [%s] and offset %lld overflows the addressable size",
                            name, dims, strides, (long long)t->offset);
    }
    return CLATTN_SUCCESS;
}

/* Sorted by stride, each stride must be at least the span of the dims below it. (Sufficient, and what
 * every dense or padded layout satisfies.) */
clattn_status clattn_tensor_check_no_overlap(clattn_context *ctx, const char *name, const clattn_tensor *t)
{
    int order[CLATTN_MAX_DIMS];
    for (int a = 0; a < t->ndim; a++) order[a] = a;
    for (int a = 1; a < t->ndim; a++)
        for (int b = a; b > 0 && t->strides[order[b]] < t->strides[order[b - 1]]; b--) {
            int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
    int64_t span = 1;
    for (int a = 0; a < t->ndim; a++) {
        int i = order[a];
        if (t->dims[i] == 1) continue;
        if (t->strides[i] < span)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "%s: stride %d is %lld, which makes output elements overlap (expected >= %lld)",
                                name, i, (long long)t->strides[i], (long long)span);
        span = t->strides[i] * t->dims[i]; /* cannot overflow: the extent check passed */
    }
    return CLATTN_SUCCESS;
}
