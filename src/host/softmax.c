/*
 * Row-by-row path, stage 2 (mirrors kernels/softmax.cl): stable softmax of one score row in place (and
 * the row's log-sum-exp), and the probabilities row for probs.
 *
 *   S: one row s[l, e) of the per-thread score scratch   probs: [B, Hq, Lq, Lk]
 *
 * NaN confinement (include/clattn.h): NaN scores never win the max, turn into NaN weights and make only
 * their own row NaN; a row with no allowed key has weight 0 everywhere (its output is zeros); a masked
 * key (score -inf) gets exactly 0 weight, also in a NaN row.
 */
#include "host.h"

#include <math.h>
#include <string.h>

int64_t host_softmax_row(float *restrict s, int64_t l, int64_t e, float *restrict lse)
{
    *lse = -INFINITY;
    if (e <= l) return e;
    /* four running maxima (NaN compares false and is caught below) */
    float m4[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t jm = l;
    for (; jm + 4 <= e; jm += 4)
        for (int u = 0; u < 4; u++) m4[u] = s[jm + u] > m4[u] ? s[jm + u] : m4[u];
    for (; jm < e; jm++) m4[0] = s[jm] > m4[0] ? s[jm] : m4[0];
    float mx = m4[0];
    for (int u = 1; u < 4; u++) mx = m4[u] > mx ? m4[u] : mx;
    if (mx == -INFINITY) {
        /* No allowed key with a comparable score: either none at all (zero row) or a NaN
         * query row, which must come out NaN. */
        bool nan = false;
        for (int64_t j = l; j < e && !nan; j++) nan = isnan(s[j]);
        if (nan)
            mx = 0.0f;
        else
            e = l;
    }
    if (e > l) {
        float sum = 0.0f;
        for (int64_t j = l; j < e; j++) {
            const float t = expf(s[j] - mx); /* exactly 0 for masked keys */
            s[j] = t;
            sum += t;
        }
        *lse = mx + logf(sum); /* NaN for a NaN row (sum is NaN) */
        const float inv = 1.0f / sum;
        /* a zero weight (masked key) stays exactly 0 even when inv is NaN (NaN row) */
        for (int64_t j = l; j < e; j++) s[j] = s[j] != 0.0f ? s[j] * inv : 0.0f;
    }
    return e;
}

void host_probs_row(const host_rowwise_args *a, int64_t b, int64_t h, int64_t i, const float *restrict s,
                    int64_t l, int64_t e)
{
    const clattn_sdpa_problem *p = a->p;
    const int64_t Lk = p->Lk;
    float *prow = a->probs + p->probs.offset + b * p->probs.strides[0] + h * p->probs.strides[1] +
                  i * p->probs.strides[2];
    const int64_t ps3 = p->probs.strides[3];
    if (ps3 == 1) {
        if (l > 0) memset(prow, 0, (size_t)l * sizeof(float));
        if (e > l) memcpy(prow + l, s + l, (size_t)(e - l) * sizeof(float));
        const int64_t z = e > l ? e : l;
        if (Lk > z) memset(prow + z, 0, (size_t)(Lk - z) * sizeof(float));
    } else {
        for (int64_t j = 0; j < Lk; j++) prow[j * ps3] = (j >= l && j < e) ? s[j] : 0.0f;
    }
}
