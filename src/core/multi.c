/*
 * Multi-device contexts (issue #15, item 1): one context over several member contexts, each on its own
 * device (a CLATTN_DEVICE list such as "pocl,rusticl::,host"), that splits one SDPA call across them.
 *
 * This is core composing contexts through the public API, not a backend: a member is an ordinary
 * clattn_context (OpenCL or host) and a multi plan holds one ordinary plan per member that received
 * work. The split is by independent units, so each member computes whole rows exactly as it would alone:
 *   - along the batch when B >= the number of members, else along kv-head groups (a kv head and the
 *     Hq / Hkv query heads that read it) when Hkv >= members, else along the longer of the two with only
 *     as many members as units (the fastest ones). Splitting the keys of one head across members needs
 *     the log-sum-exp merge (issue #13); until then a problem with one unit runs on one member.
 *   - in proportion to each member's weight: clattn_context_options.device_weights / CLATTN_DEVICE_WEIGHTS
 *     when given, else a rate measured once per context on a reference problem (calibrate()), at the
 *     first plan.
 * Each member's views are the caller's views cut along the split axis and rebased (offset 0, the caller's
 * pointer advanced), so an OpenCL member copies only the part of each array its views reach. An OpenCL
 * member whose output view has gaps (other members' rows inside its reach) writes a private contiguous
 * output that is scattered into the caller's view afterwards: its stage-out would otherwise write the
 * whole reach back, racing with the other members. Host members write the caller's views directly (the
 * host path writes only view elements).
 * Members run concurrently (one thread each; member 0 on the caller's thread). Any member's failure is
 * the call's failure (its status, the member named in the message); the output is then unspecified.
 */
#include "multi.h"

#include "alloc.h"
#include "backend.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SELECTOR_MAX = 256, MAX_MEMBERS = CLATTN_MAX_DEVICES };

typedef struct member {
    clattn_context *ctx;
    char selector[SELECTOR_MAX];
    double weight; /* > 0 once known */
} member;

typedef struct multi_state {
    int n;
    member *m;
    bool weights_known;
    pthread_mutex_t lock; /* guards the lazy calibration */
} multi_state;

/* One member's share of a plan. */
typedef struct part {
    int member;
    clattn_sdpa_plan *plan;
    /* element shifts added to the caller's pointers (the member's views start at offset 0) */
    int64_t shift_q, shift_k, shift_v, shift_mask, shift_out, shift_probs, shift_lse, shift_kvl;
    /* private contiguous outputs (OpenCL members with gapped output views); NULL = write in place */
    void *priv_out;
    float *priv_probs, *priv_lse;
    clattn_tensor out_view, probs_view, lse_view; /* the caller's views of this part (for the scatter) */
    int64_t key0, nkeys; /* key split: this part's keys [key0, key0 + nkeys) */
} part;

typedef struct multi_plan {
    int nparts;
    part *parts;
    size_t elem_size; /* of q, k, v, out */
    size_t mask_es;
    int64_t B;
    bool key_split;            /* parts over key ranges, merged (parts write parts_out / parts_lse) */
    void *parts_out;           /* key split: [nparts, B, Hq, Lq, Dv] in the caller's data type */
    float *parts_lse;          /* key split: [nparts, B, Hq, Lq] */
    int64_t part_out_elems, part_lse_elems;
    clattn_merge_plan *merge;  /* key split: parts -> the caller's out (and lse), on merge_member */
    int merge_member;
} multi_plan;

static multi_state *state_of(const clattn_context *ctx)
{
    return (multi_state *)ctx->backend_data;
}

/* ---- context -------------------------------------------------------------------------------------- */

static void multi_destroy(clattn_context *ctx)
{
    multi_state *s = state_of(ctx);
    if (!s) return;
    for (int i = 0; i < s->n; i++) clattn_context_destroy(s->m[i].ctx);
    pthread_mutex_destroy(&s->lock);
    free(s->m);
    free(s);
    ctx->backend_data = NULL;
}

static clattn_status multi_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan);
static void multi_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan);
static clattn_status multi_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b,
                                    const clattn_sync *sync);

/* host_memory: clattn_sdpa_execute hands the caller's pointers to sdpa_run unchanged. No buffers, no
 * nn.Linear (MHA answers UNSUPPORTED), no fp16 staging: members stage their own (stages_dtypes). */
static const clattn_backend_i multi_backend = {
    .name = "multi",
    .host_memory = true,
    .stages_dtypes = true,
    .destroy = multi_destroy,
    .sdpa_prepare = multi_sdpa_prepare,
    .sdpa_release = multi_sdpa_release,
    .sdpa_run = multi_sdpa_run,
};

bool clattn_selector_is_list(const char *selector)
{
    return selector && strchr(selector, ',') != NULL;
}

/* Parses CLATTN_DEVICE_WEIGHTS-style text or takes the option's array: n positive finite numbers. */
static clattn_status resolve_weights(clattn_context *ctx, multi_state *s, const clattn_context_options *opts)
{
    if (opts->device_weights) {
        if (opts->num_device_weights != s->n)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "clattn_context_options.num_device_weights: %d, expected %d (one per device of '%s')",
                                opts->num_device_weights, s->n, opts->device ? opts->device : "CLATTN_DEVICE");
        for (int i = 0; i < s->n; i++) {
            double w = opts->device_weights[i];
            if (!(w > 0) || !isfinite(w))
                return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                    "clattn_context_options.device_weights[%d]: %g, expected a finite number > 0", i, w);
            s->m[i].weight = w;
        }
        s->weights_known = true;
        return CLATTN_SUCCESS;
    }
    const char *text = ctx->config.device_weights;
    if (!text) return CLATTN_SUCCESS;
    const char *p = text;
    for (int i = 0; i < s->n; i++) {
        char *end = NULL;
        double w = strtod(p, &end);
        if (end == p || !(w > 0) || !isfinite(w) || (*end != ',' && *end != '\0') || (*end == '\0') != (i == s->n - 1))
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "CLATTN_DEVICE_WEIGHTS: '%s' is not %d comma-separated numbers > 0 (one per device)",
                                text, s->n);
        s->m[i].weight = w;
        p = end + 1;
    }
    s->weights_known = true;
    return CLATTN_SUCCESS;
}

clattn_status clattn_multi_open(clattn_context *ctx, const char *selector, const clattn_context_options *opts)
{
    int n = 1;
    for (const char *c = selector; *c; c++) n += *c == ',';
    if (n > MAX_MEMBERS)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "device selector '%s': %d devices, at most %d", selector,
                            n, MAX_MEMBERS);
    multi_state *s = clattn_calloc(1, sizeof *s);
    if (!s) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_context_create: out of host memory");
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_context_create: cannot create a mutex");
    }
    ctx->backend_data = s;
    ctx->be = &multi_backend; /* from here on, abandoning the context releases s and its members */
    s->m = clattn_calloc((size_t)n, sizeof *s->m);
    if (!s->m) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_context_create: out of host memory");
    const char *p = selector;
    for (int i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= SELECTOR_MAX)
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                                "device selector '%s': element %d is %s (a list is selectors separated by single commas, "
                                "e.g. \"pocl,host\")", selector, i, len == 0 ? "empty" : "too long");
        memcpy(s->m[i].selector, p, len);
        s->m[i].selector[len] = '\0';
        p = end ? end + 1 : p + len;
    }
    for (int i = 0; i < n; i++) {
        clattn_context_options o = *opts;
        o.device = s->m[i].selector;
        o.device_weights = NULL;
        o.num_device_weights = 0;
        clattn_status st = clattn_context_create(&s->m[i].ctx, &o);
        if (st != CLATTN_SUCCESS)
            return clattn_error(ctx, st, "device selector '%s': element %d ('%s'): %s", selector, i, s->m[i].selector,
                                clattn_last_error(NULL));
        s->n = i + 1;
    }
    CLATTN_TRY(resolve_weights(ctx, s, opts));

    clattn_device_info *info = &ctx->info;
    info->backend = CLATTN_BACKEND_MULTI;
    snprintf(info->platform_name, sizeof info->platform_name, "multi");
    size_t len = 0;
    info->num_threads = 0;
    for (int i = 0; i < n; i++) {
        const clattn_device_info *mi = &s->m[i].ctx->info;
        if (len < sizeof info->device_name)
            len += (size_t)snprintf(info->device_name + len, sizeof info->device_name - len, "%s%s", i ? " + " : "",
                                    mi->device_name);
        info->num_threads += mi->num_threads;
        if (i == 0 || mi->global_mem_bytes < info->global_mem_bytes) info->global_mem_bytes = mi->global_mem_bytes;
    }
    return CLATTN_SUCCESS;
}

int clattn_multi_count(const clattn_context *ctx)
{
    return ctx->be == &multi_backend ? state_of(ctx)->n : 1;
}

const clattn_context *clattn_multi_member(const clattn_context *ctx, int i)
{
    return ctx->be == &multi_backend ? state_of(ctx)->m[i].ctx : ctx;
}

/* ---- weights: measured once per context unless given ---------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A member's rate on a reference problem (1, 8, 8, 256, 256, 64, non-causal, float32, its default path):
 * 1 / the fastest of 3 calls after one untimed call (which compiles the kernels on OpenCL). */
static clattn_status calibrate(member *mb)
{
    enum { H = 8, L = 256, D = 64 };
    const size_t n = (size_t)H * L * D;
    float *buf = clattn_malloc(4 * n * sizeof(float));
    if (!buf) return clattn_error(mb->ctx, CLATTN_ERROR_OUT_OF_MEMORY, "device weights: out of host memory");
    uint32_t x = 12345u; /* deterministic, not all zeros */
    for (size_t i = 0; i < 3 * n; i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
    }
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, 1, H, H, L, L, D, D);
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, mb->ctx, &d);
    double best = INFINITY;
    for (int r = 0; r < 4 && st == CLATTN_SUCCESS; r++) {
        double t0 = now_s();
        st = clattn_sdpa_execute(plan, buf, buf + n, buf + 2 * n, NULL, NULL, buf + 3 * n, NULL);
        double t = now_s() - t0;
        if (r > 0 && t < best) best = t;
    }
    clattn_sdpa_plan_destroy(plan);
    free(buf);
    if (st == CLATTN_SUCCESS) mb->weight = 1.0 / (best > 1e-9 ? best : 1e-9);
    return st;
}

static clattn_status ensure_weights(clattn_context *ctx, multi_state *s)
{
    pthread_mutex_lock(&s->lock);
    clattn_status st = CLATTN_SUCCESS;
    for (int i = 0; i < s->n && !s->weights_known && st == CLATTN_SUCCESS; i++) {
        st = calibrate(&s->m[i]);
        if (st != CLATTN_SUCCESS)
            st = clattn_error(ctx, st, "device weights: measuring device %d ('%s') failed: %s", i, s->m[i].selector,
                              clattn_last_error(s->m[i].ctx));
    }
    if (st == CLATTN_SUCCESS && !s->weights_known) {
        s->weights_known = true;
        for (int i = 0; i < s->n; i++)
            clattn_log(ctx, CLATTN_LOG_INFO, "device %d ('%s'): measured weight %.4g (1/s on the reference problem)", i,
                       s->m[i].selector, s->m[i].weight);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

clattn_status clattn_multi_weights(clattn_context *ctx, double *weights)
{
    if (ctx->be != &multi_backend) {
        weights[0] = 1.0;
        return CLATTN_SUCCESS;
    }
    multi_state *s = state_of(ctx);
    CLATTN_TRY(ensure_weights(ctx, s));
    for (int i = 0; i < s->n; i++) weights[i] = s->m[i].weight;
    return CLATTN_SUCCESS;
}

/* ---- plans ---------------------------------------------------------------------------------------- */

/* Cuts dim `dim` of t to [start, start + count) unless it is a broadcast dim (size 1 where the problem
 * has more), then moves the offset into *shift. */
static void cut(clattn_tensor *t, int dim, int64_t full, int64_t start, int64_t count, int64_t *shift)
{
    if (!(t->dims[dim] == 1 && full != 1)) {
        t->offset += start * t->strides[dim];
        t->dims[dim] = count;
    }
    *shift = t->offset;
    t->offset = 0;
}

static int64_t reach(const clattn_tensor *t)
{
    int64_t r = t->offset + 1;
    for (int i = 0; i < t->ndim; i++) r += (t->dims[i] - 1) * t->strides[i];
    return r;
}

static int64_t numel(const clattn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

static clattn_tensor contiguous_like(const clattn_tensor *t)
{
    int64_t d[CLATTN_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) d[i] = t->dims[i];
    return clattn_tensor_contiguous_nd(t->ndim, d);
}

/* Largest-remainder split of units over the members in order[0..k), by weight. */
static void split_units(int64_t units, const member *m, const int *order, int k, int64_t *count)
{
    double total = 0;
    for (int i = 0; i < k; i++) total += m[order[i]].weight;
    int64_t given = 0;
    double rem[MAX_MEMBERS] = {0};
    for (int i = 0; i < k; i++) {
        double exact = (double)units * m[order[i]].weight / total;
        count[i] = (int64_t)floor(exact);
        rem[i] = exact - (double)count[i];
        given += count[i];
    }
    while (given < units) { /* the largest remainders get one more unit each */
        int best = 0;
        for (int i = 1; i < k; i++)
            if (rem[i] > rem[best]) best = i;
        count[best]++;
        rem[best] = -1;
        given++;
    }
}

/* The problem keeps lse as a 4-D [B, Hq, Lq, 1] view; descriptors take the 3-D [B, Hq, Lq] one. */
static clattn_tensor lse_view3(const clattn_tensor *t4)
{
    clattn_tensor t = *t4;
    t.ndim = 3;
    return t;
}

/* A private contiguous copy target for an OpenCL member's gapped output view (else NULL: in place). */
static clattn_status private_output(clattn_context *ctx, bool in_place, clattn_tensor *sub, size_t es, void **priv)
{
    *priv = NULL;
    if (in_place || numel(sub) == reach(sub)) return CLATTN_SUCCESS;
    *sub = contiguous_like(sub);
    *priv = clattn_malloc((size_t)numel(sub) * es);
    return *priv ? CLATTN_SUCCESS
                 : clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
}

/* The key split applies when too few (batch, kv-head) units exist for the members and the mask of a key
 * range is a view of the whole one: no causal mask, no window (their diagonal would move with the range),
 * no probabilities (they need the whole row's denominator). */
static bool key_split_fits(const clattn_sdpa_problem *p, int64_t units, int n)
{
    return units < n && p->Lk >= n && p->causal == CLATTN_CAUSAL_NONE && p->window_left < 0 &&
           p->window_right < 0 && !p->want_probs;
}

static clattn_status prepare_key_split(clattn_context *ctx, clattn_sdpa_plan *plan, multi_plan *mp)
{
    multi_state *s = state_of(ctx);
    const clattn_sdpa_desc *d = plan->desc;
    const clattn_sdpa_problem *p = &plan->p;
    int order[MAX_MEMBERS] = {0};
    int64_t count[MAX_MEMBERS];
    for (int i = 0; i < s->n; i++) order[i] = i;
    split_units(p->Lk, s->m, order, s->n, count);
    int k = 0;
    for (int i = 0; i < s->n; i++) k += count[i] > 0;
    mp->key_split = true;
    mp->part_out_elems = p->B * p->Hq * p->Lq * p->Dv;
    mp->part_lse_elems = p->B * p->Hq * p->Lq;
    mp->parts_out = clattn_malloc((size_t)(k * mp->part_out_elems) * mp->elem_size);
    mp->parts_lse = clattn_malloc((size_t)(k * mp->part_lse_elems) * sizeof(float));
    if (!mp->parts_out || !mp->parts_lse)
        return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
    int64_t key0 = 0;
    for (int i = 0; i < s->n; i++) {
        if (count[i] == 0) continue;
        part *pt = &mp->parts[mp->nparts];
        pt->member = i;
        pt->key0 = key0;
        pt->nkeys = count[i];
        clattn_sdpa_desc sd = *d;
        sd.struct_size = sizeof sd;
        sd.q = p->q, sd.k = p->k, sd.v = p->v, sd.mask = p->mask;
        cut(&sd.q, 0, p->B, 0, p->B, &pt->shift_q);
        cut(&sd.k, 2, p->Lk, key0, count[i], &pt->shift_k);
        cut(&sd.v, 2, p->Lk, key0, count[i], &pt->shift_v);
        cut(&sd.mask, 3, p->Lk, key0, count[i], &pt->shift_mask);
        /* its out and lse: its slice of the stacked parts (dense: an OpenCL stage-out writes just that) */
        sd.out = clattn_tensor_contiguous(p->B, p->Hq, p->Lq, p->Dv);
        pt->shift_out = mp->nparts * mp->part_out_elems;
        sd.want_lse = 1;
        int64_t ldims[3] = {p->B, p->Hq, p->Lq};
        sd.lse = clattn_tensor_contiguous_nd(3, ldims);
        pt->shift_lse = mp->nparts * mp->part_lse_elems;
        key0 += count[i];
        clattn_status st = clattn_sdpa_plan_create(&pt->plan, s->m[i].ctx, &sd);
        if (st != CLATTN_SUCCESS)
            return clattn_error(ctx, st, "clattn_sdpa_plan_create: device %d ('%s'): %s", i, s->m[i].selector,
                                clattn_last_error(s->m[i].ctx));
        plan->workspace_bytes += clattn_sdpa_plan_workspace_size(pt->plan);
        mp->nparts++;
    }
    /* the merge runs on the first host member (no copies), else on member 0 */
    mp->merge_member = 0;
    for (int i = s->n - 1; i >= 0; i--)
        if (s->m[i].ctx->info.backend == CLATTN_BACKEND_HOST) mp->merge_member = i;
    clattn_merge_desc md;
    clattn_merge_desc_init(&md, mp->nparts, p->B, p->Hq, p->Lq, p->Dv);
    md.data_type = d->data_type;
    md.out = p->out;
    md.want_lse = p->want_lse;
    if (p->want_lse) md.lse = lse_view3(&p->lse);
    clattn_context *mctx = s->m[mp->merge_member].ctx;
    clattn_status st = clattn_merge_plan_create(&mp->merge, mctx, &md);
    if (st != CLATTN_SUCCESS)
        return clattn_error(ctx, st, "clattn_sdpa_plan_create: the merge on device %d ('%s'): %s", mp->merge_member,
                            s->m[mp->merge_member].selector, clattn_last_error(mctx));
    plan->workspace_bytes += (size_t)(mp->nparts * mp->part_out_elems) * mp->elem_size +
                             (size_t)(mp->nparts * mp->part_lse_elems) * sizeof(float);
    return CLATTN_SUCCESS;
}

static clattn_status multi_sdpa_prepare(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    multi_state *s = state_of(ctx);
    const clattn_sdpa_desc *d = plan->desc;
    const clattn_sdpa_problem *p = &plan->p;
    if (!d) return clattn_error(ctx, CLATTN_ERROR_INTERNAL, "multi plan without its descriptor");
    if (p->paged)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "kv_layout: the multi-device path cannot read a paged KV cache (use a one-device context)");
    CLATTN_TRY(ensure_weights(ctx, s));

    multi_plan *mp = clattn_calloc(1, sizeof *mp);
    if (!mp) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
    plan->backend_data = mp;
    mp->parts = clattn_calloc((size_t)s->n, sizeof *mp->parts);
    if (!mp->parts) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_sdpa_plan_create: out of host memory");
    mp->elem_size = clattn_dtype_size(d->data_type);
    mp->mask_es = CLATTN_MASK_ELEM_SIZE(p);
    mp->B = p->B;

    /* the axis and the members that get work: all when there are enough units, else the heaviest */
    int64_t units;
    int axis; /* 0 batch, 1 kv-head groups */
    if (p->B >= s->n) axis = 0, units = p->B;
    else if (p->Hkv >= s->n) axis = 1, units = p->Hkv;
    else if (p->B >= p->Hkv) axis = 0, units = p->B;
    else axis = 1, units = p->Hkv;
    if (key_split_fits(p, units, s->n)) {
        CLATTN_TRY(prepare_key_split(ctx, plan, mp));
        axis = 2;
        units = p->Lk;
    } else {
        int order[MAX_MEMBERS] = {0};
        int k = s->n;
        for (int i = 0; i < k; i++) order[i] = i;
        if (units < k) { /* the `units` heaviest members (ties: the earlier one), kept in list order */
            bool chosen[MAX_MEMBERS] = {false};
            for (int64_t c = 0; c < units; c++) {
                int best = -1;
                for (int i = 0; i < s->n; i++)
                    if (!chosen[i] && (best < 0 || s->m[i].weight > s->m[best].weight)) best = i;
                chosen[best] = true;
            }
            k = 0;
            for (int i = 0; i < s->n; i++)
                if (chosen[i]) order[k++] = i;
        }
        int64_t count[MAX_MEMBERS];
        split_units(units, s->m, order, k, count);
        const int64_t G = p->Hq / p->Hkv;
        int64_t start = 0;
        for (int i = 0; i < k; i++) {
            if (count[i] == 0) continue;
            part *pt = &mp->parts[mp->nparts++];
            pt->member = order[i];
            member *mb = &s->m[order[i]];
            clattn_sdpa_desc sd = *d;
            sd.struct_size = sizeof sd;
            sd.q = p->q, sd.k = p->k, sd.v = p->v, sd.out = p->out, sd.mask = p->mask, sd.probs = p->probs;
            sd.lse = p->want_lse ? lse_view3(&p->lse) : d->lse;
            const int64_t c = count[i];
            if (axis == 0) {
                cut(&sd.q, 0, p->B, start, c, &pt->shift_q);
                cut(&sd.k, 0, p->B, start, c, &pt->shift_k);
                cut(&sd.v, 0, p->B, start, c, &pt->shift_v);
                cut(&sd.out, 0, p->B, start, c, &pt->shift_out);
                cut(&sd.probs, 0, p->B, start, c, &pt->shift_probs);
                cut(&sd.lse, 0, p->B, start, c, &pt->shift_lse);
                cut(&sd.mask, 0, p->B, start, c, &pt->shift_mask);
                pt->shift_kvl = start;
            } else {
                cut(&sd.q, 1, p->Hq, start * G, c * G, &pt->shift_q);
                cut(&sd.k, 1, p->Hkv, start, c, &pt->shift_k);
                cut(&sd.v, 1, p->Hkv, start, c, &pt->shift_v);
                cut(&sd.out, 1, p->Hq, start * G, c * G, &pt->shift_out);
                cut(&sd.probs, 1, p->Hq, start * G, c * G, &pt->shift_probs);
                cut(&sd.lse, 1, p->Hq, start * G, c * G, &pt->shift_lse);
                cut(&sd.mask, 1, p->Hq, start * G, c * G, &pt->shift_mask);
                pt->shift_kvl = 0;
            }
            start += c;
            /* an OpenCL member writes back its whole output reach: private outputs when that has gaps */
            const bool in_place = mb->ctx->info.backend == CLATTN_BACKEND_HOST;
            pt->out_view = sd.out, pt->out_view.offset = pt->shift_out;
            pt->probs_view = sd.probs, pt->probs_view.offset = pt->shift_probs;
            pt->lse_view = sd.lse, pt->lse_view.offset = pt->shift_lse;
            CLATTN_TRY(private_output(ctx, in_place, &sd.out, mp->elem_size, &pt->priv_out));
            if (p->want_probs)
                CLATTN_TRY(private_output(ctx, in_place, &sd.probs, sizeof(float), (void **)&pt->priv_probs));
            if (p->want_lse) CLATTN_TRY(private_output(ctx, in_place, &sd.lse, sizeof(float), (void **)&pt->priv_lse));
            clattn_status st = clattn_sdpa_plan_create(&pt->plan, mb->ctx, &sd);
            if (st != CLATTN_SUCCESS)
                return clattn_error(ctx, st, "clattn_sdpa_plan_create: device %d ('%s'): %s", pt->member,
                                    mb->selector, clattn_last_error(mb->ctx));
            plan->workspace_bytes += clattn_sdpa_plan_workspace_size(pt->plan);
        }
    }
    size_t plen = (size_t)snprintf(plan->path, sizeof plan->path, "multi(");
    for (int i = 0; i < mp->nparts && plen < sizeof plan->path; i++)
        plen += (size_t)snprintf(plan->path + plen, sizeof plan->path - plen, "%s%s", i ? "," : "",
                                 clattn_sdpa_plan_path(mp->parts[i].plan));
    if (plen < sizeof plan->path) snprintf(plan->path + plen, sizeof plan->path - plen, ")");
    clattn_log(ctx, CLATTN_LOG_INFO, "multi plan: %d of %d devices, split along %s (%lld units)", mp->nparts, s->n,
               axis == 0 ? "the batch" : axis == 1 ? "kv-head groups" : "the keys (merged by log-sum-exp)",
               (long long)units);
    return CLATTN_SUCCESS;
}

static void multi_sdpa_release(clattn_context *ctx, clattn_sdpa_plan *plan)
{
    (void)ctx;
    multi_plan *mp = plan->backend_data;
    if (!mp) return;
    for (int i = 0; i < mp->nparts; i++) {
        clattn_sdpa_plan_destroy(mp->parts[i].plan);
        free(mp->parts[i].priv_out);
        free(mp->parts[i].priv_probs);
        free(mp->parts[i].priv_lse);
    }
    clattn_merge_plan_destroy(mp->merge);
    free(mp->parts_out);
    free(mp->parts_lse);
    free(mp->parts);
    free(mp);
    plan->backend_data = NULL;
}

/* dst view (up to 4-D, strides in elements) = the contiguous src, es bytes per element. */
static void scatter(void *dst, const clattn_tensor *view, const void *src, size_t es)
{
    int64_t d[4] = {1, 1, 1, 1}, st[4] = {0, 0, 0, 0};
    for (int i = 0; i < view->ndim; i++) d[4 - view->ndim + i] = view->dims[i], st[4 - view->ndim + i] = view->strides[i];
    const char *s = src;
    char *base = dst;
    for (int64_t a = 0; a < d[0]; a++)
        for (int64_t b = 0; b < d[1]; b++)
            for (int64_t c = 0; c < d[2]; c++) {
                int64_t off = view->offset + a * st[0] + b * st[1] + c * st[2];
                for (int64_t e = 0; e < d[3]; e++, s += es) memcpy(base + (size_t)(off + e * st[3]) * es, s, es);
            }
}

static const void *at(const clattn_buf *b, int64_t shift, size_t es)
{
    return b->host ? (const char *)b->host + (size_t)shift * es : NULL;
}

/* One member's share of one execution (on the stack of the call: a plan may run from several threads
 * as far as its members allow). */
typedef struct task {
    const multi_plan *mp;
    const part *pt;
    const clattn_sdpa_bufs *b;
    clattn_status st;
    char msg[CLATTN_ERRMSG_MAX];
} task;

static void run_part(task *t)
{
    const clattn_sdpa_bufs *b = t->b;
    const multi_plan *mp = t->mp;
    const part *pt = t->pt;
    const size_t es = mp->elem_size;
    clattn_sdpa_buffers u;
    clattn_sdpa_buffers_init(&u);
    u.q = at(&b->q, pt->shift_q, es);
    u.k = at(&b->k, pt->shift_k, es);
    u.v = at(&b->v, pt->shift_v, es);
    u.mask = at(&b->mask, pt->shift_mask, mp->mask_es);
    int32_t kvl[256], *kvl_heap = NULL;
    if (mp->key_split) {
        u.out = (char *)mp->parts_out + (size_t)pt->shift_out * es;
        u.lse = mp->parts_lse + pt->shift_lse;
        if (b->kv_lengths.host) { /* this range's allowed keys: the prefix before the caller's length */
            int32_t *k = mp->B <= 256 ? kvl : (kvl_heap = malloc((size_t)mp->B * sizeof *kvl_heap));
            if (!k) {
                t->st = CLATTN_ERROR_OUT_OF_MEMORY;
                snprintf(t->msg, sizeof t->msg, "out of host memory");
                return;
            }
            const int32_t *len = b->kv_lengths.host;
            for (int64_t i = 0; i < mp->B; i++) {
                int64_t n = len[i] - pt->key0;
                k[i] = (int32_t)(n < 0 ? 0 : n > pt->nkeys ? pt->nkeys : n);
            }
            u.kv_lengths = k;
        }
    } else {
        u.kv_lengths = at(&b->kv_lengths, pt->shift_kvl, sizeof(int32_t));
        u.out = pt->priv_out ? pt->priv_out : (void *)at(&b->out, pt->shift_out, es);
        u.probs = pt->priv_probs ? pt->priv_probs : (float *)at(&b->probs, pt->shift_probs, sizeof(float));
        u.lse = pt->priv_lse ? pt->priv_lse : (float *)at(&b->lse, pt->shift_lse, sizeof(float));
    }
    t->st = clattn_sdpa_execute_buffers(pt->plan, &u);
    free(kvl_heap);
    if (t->st != CLATTN_SUCCESS) {
        snprintf(t->msg, sizeof t->msg, "%s", clattn_last_error(pt->plan->ctx));
        return;
    }
    if (pt->priv_out) scatter(b->out.host, &pt->out_view, pt->priv_out, es);
    if (pt->priv_probs) scatter(b->probs.host, &pt->probs_view, pt->priv_probs, sizeof(float));
    if (pt->priv_lse) scatter(b->lse.host, &pt->lse_view, pt->priv_lse, sizeof(float));
}

static void *run_task(void *arg)
{
    run_part(arg);
    return NULL;
}

static clattn_status multi_sdpa_run(clattn_context *ctx, clattn_sdpa_plan *plan, const clattn_sdpa_bufs *b,
                                    const clattn_sync *sync)
{
    (void)sync; /* host memory: synchronous */
    multi_state *s = state_of(ctx);
    const multi_plan *mp = plan->backend_data;
    pthread_t th[MAX_MEMBERS];
    task tk[MAX_MEMBERS];
    bool started[MAX_MEMBERS] = {false};
    for (int i = 0; i < mp->nparts; i++) tk[i] = (task){mp, &mp->parts[i], b, CLATTN_SUCCESS, ""};
    for (int i = 1; i < mp->nparts; i++) started[i] = pthread_create(&th[i], NULL, run_task, &tk[i]) == 0;
    if (mp->nparts > 0) run_part(&tk[0]);
    for (int i = 1; i < mp->nparts; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else run_part(&tk[i]); /* no thread: run it here, in turn */
    }
    for (int i = 0; i < mp->nparts; i++)
        if (tk[i].st != CLATTN_SUCCESS)
            return clattn_error(ctx, tk[i].st, "device %d ('%s'): %s", tk[i].pt->member,
                                s->m[tk[i].pt->member].selector, tk[i].msg);
    if (mp->key_split) {
        const int mm = mp->merge_member;
        clattn_status st = clattn_merge_execute(mp->merge, mp->parts_out, mp->parts_lse, b->out.host,
                                                (float *)b->lse.host);
        if (st != CLATTN_SUCCESS)
            return clattn_error(ctx, st, "device %d ('%s'), merging the key ranges: %s", mm, s->m[mm].selector,
                                clattn_last_error(s->m[mm].ctx));
    }
    return CLATTN_SUCCESS;
}
