/*
 * Kernel plans (clattn_kernel_plan_create in clattn.h): the kernels an SDPA plan would build on a device or
 * a device profile, from the planner (planner.c) with a probe that builds nothing. A device target is read
 * (clattn_cl_device_query) as the backend reads it when it opens, CLATTN_DEVICE_PROFILE applied the same
 * way; a profile target takes every limit from the profile (profiles.c). No context, no kernel build.
 */
#include "alloc.h"
#include "opencl.h"
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KERNELS CLATTN_CL_SLOTS

struct clattn_kernel_plan {
    size_t n;
    clattn_planned_kernel k[MAX_KERNELS];
    char sources[MAX_KERNELS][96];
    char options[MAX_KERNELS][320];
    char why[MAX_KERNELS][352];
};

/* The probe without a device: every candidate fits the device's largest work-group, and its local memory
 * is the planner's own figure (so a tile over the device's local memory still shrinks). */
static clattn_status dry_probe(void *user, int slot, const clattn_cl_kernel_choice *k, size_t *kernel_wg,
                               cl_ulong *kernel_local)
{
    const clattn_cl_limits *lim = user;
    (void)slot;
    *kernel_wg = lim->max_wg;
    *kernel_local = k->local_bytes;
    return CLATTN_SUCCESS;
}

/* The kernel table's row of OpenCL __kernel `entry` (stage, source file). */
static const clattn_kernel_entry *table_row(const char *entry)
{
    for (size_t i = 0; i < clattn_opencl_kernel_count; i++)
        if (strcmp(clattn_opencl_kernels[i].entry, entry) == 0) return &clattn_opencl_kernels[i];
    return NULL;
}

static clattn_status add_kernel(clattn_kernel_plan *kp, const clattn_cl_kernel_choice *c, const clattn_cl_plan_cfg *cfg,
                                const char *path, const clattn_cl_rules *rules, cl_device_type type)
{
    const clattn_kernel_entry *row = table_row(c->name);
    if (!row)
        return clattn_error(NULL, CLATTN_ERROR_INTERNAL, "kernel plan: __kernel '%s' has no row in the kernel table",
                            c->name);
    const size_t i = kp->n++;
    clattn_planned_kernel *k = &kp->k[i];
    k->struct_size = sizeof *k;
    k->entry = row->entry;
    k->stage = row->stage;
    snprintf(kp->sources[i], sizeof kp->sources[i], "kernels/%s %s", CLATTN_CL_COMMON_SOURCE, row->source);
    k->sources = kp->sources[i];
    snprintf(kp->options[i], sizeof kp->options[i], "%s%s%s", CLATTN_CL_BASE_OPTIONS, c->options[0] ? " " : "",
             c->options);
    k->options = kp->options[i];
    snprintf(kp->why[i], sizeof kp->why[i], "%s", c->why);
    k->why = kp->why[i];
    k->path = path;
    k->rules = rules->row;
    k->device_type = clattn_cl_public_type(type);
    k->launched = c->launched ? 1 : 0;
    for (int d = 0; d < 3; d++) k->local_size[d] = c->local[d];
    k->local_mem_bytes = c->local_bytes;
    k->workspace_bytes = cfg ? cfg->workspace_bytes : 0;
    return CLATTN_SUCCESS;
}

/* The planner's state for target: a profile's limits alone, or a device's as the backend reads them. */
static clattn_status target_state(clattn_context *ctx, const char *target, clattn_cl_state *cl)
{
    memset(cl, 0, sizeof *cl);
    if (target && strncasecmp(target, "profile:", 8) == 0) {
        const clattn_cl_profile *pr = clattn_cl_profile_find(target + 8);
        if (!pr) {
            char names[160];
            return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_kernel_plan_create: '%s' is not a device "
                                "profile (profile:NAME with NAME one of %s)",
                                target + 8, clattn_cl_profile_names(names, sizeof names));
        }
        clattn_cl_profile_apply(pr, cl, false);
        return CLATTN_SUCCESS;
    }
    bool use_host = false;
    cl_device_id device = NULL;
    CLATTN_TRY(clattn_device_select(ctx, target, &use_host, &device));
    if (use_host)
        return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                            "clattn_kernel_plan_create: target '%s' is the host path, which builds no OpenCL kernel",
                            target ? target : "");
    clattn_device_info info;
    CLATTN_TRY(clattn_cl_device_query(ctx, device, cl, &info));
    return clattn_cl_profile_configured(ctx, cl, info.device_name);
}

static clattn_status plan_create(clattn_context *ctx, clattn_kernel_plan **out, const char *target,
                                 const clattn_sdpa_desc *desc)
{
    clattn_cl_state cl;
    clattn_sdpa_problem p;
    clattn_dtype staged = CLATTN_DTYPE_F32;
    /* the caller's data type: every OpenCL SDPA kernel reads 16-bit data in place (-D ELEM16), nothing is staged */
    CLATTN_TRY(clattn_sdpa_problem_make(ctx, desc, &p, true, &staged));
    CLATTN_TRY(target_state(ctx, target, &cl));
    const clattn_cl_limits lim = clattn_cl_state_limits(&cl);
    clattn_cl_plan_cfg cfg;
    CLATTN_TRY(clattn_cl_plan_choose(ctx, &cl.rules, &lim, &p, dry_probe, (void *)&lim, &cfg));

    clattn_kernel_plan *kp = clattn_calloc(1, sizeof *kp);
    if (!kp) return clattn_error(ctx, CLATTN_ERROR_OUT_OF_MEMORY, "clattn_kernel_plan_create: out of host memory");
    clattn_status st = CLATTN_SUCCESS;
    const char *path = clattn_cl_plan_path(&cfg); /* what plan creation reports */
    for (int s = 0; s < CLATTN_CL_SLOTS && st == CLATTN_SUCCESS; s++)
        if (cfg.used[s]) st = add_kernel(kp, &cfg.kernels[s], &cfg, path, &cl.rules, cl.type);
    if (st != CLATTN_SUCCESS) {
        free(kp);
        return st;
    }
    *out = kp;
    return CLATTN_SUCCESS;
}

clattn_status clattn_kernel_plan_create(clattn_kernel_plan **plan, const char *target, const clattn_sdpa_desc *desc)
{
    if (!plan) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_kernel_plan_create: plan is NULL");
    *plan = NULL;
    if (!desc) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_kernel_plan_create: desc is NULL");
    /* A context without a backend: the configuration (CLATTN_PATH, CLATTN_DEVICE_PROFILE) as a context
     * created now would resolve it, and a place for messages, moved to the thread slot at the end. */
    clattn_context *ctx = NULL;
    CLATTN_TRY(clattn_context_alloc(&ctx, "clattn_kernel_plan_create", NULL));
    clattn_status st = plan_create(ctx, plan, target, desc);
    if (st != CLATTN_SUCCESS) return clattn_context_abandon(ctx, st);
    clattn_context_destroy(ctx);
    return CLATTN_SUCCESS;
}

void clattn_kernel_plan_destroy(clattn_kernel_plan *plan)
{
    free(plan);
}

size_t clattn_kernel_plan_count(const clattn_kernel_plan *plan)
{
    return plan ? plan->n : 0;
}

const clattn_planned_kernel *clattn_kernel_plan_get(const clattn_kernel_plan *plan, size_t i)
{
    return plan && i < plan->n ? &plan->k[i] : NULL;
}
