/*
 * test_threads: clattn from many threads at once, on the backend chosen by CLATTN_DEVICE (exit 77 when
 * absent). The header's rule: a context (and its plans and modules) is used by one thread at a time;
 * contexts share nothing mutable.
 *
 *   separate_contexts  REL_THREADS (8) threads, each on its own context, loop over a mix of SDPA shapes
 *                      (masks, GQA, kv_lengths, windows, softcap, probabilities, strided layouts) and
 *                      multi-head attention modules (CLBlast on OpenCL) for CLATTN_TEST_SECONDS (2 s);
 *                      thread t starts at shape t, so different shapes run at the same time.
 *   shared_context     REL_THREADS threads on ONE context, every call serialised by a mutex (what the
 *                      header allows): per-thread plans, one plan and one module shared by all threads.
 *   cold_start         runs first, before anything else in the process touches OpenCL: REL_THREADS
 *                      threads pass a barrier and each creates its context at the same instant, then runs
 *                      every shape once (one-shot SDPA on the fused path and, with probabilities, the
 *                      chain; MHA create + forward), with no warm-up of any kind. On PoCL 3.1 this
 *                      crashed the process (concurrent first clGetDeviceIDs; src/opencl/device.c serialises the
 *                      enumeration). REL_COLD_CACHE=1 also points PoCL's kernel cache (POCL_CACHE_DIR,
 *                      XDG_CACHE_HOME) at a new empty folder, removed at exit, so every kernel is compiled
 *                      during the phase. Results are compared after the join, like the other phases.
 *   first_use_at_once  REL_THREADS threads, each with a new context, start an MHA forward at the same
 *                      instant (a barrier) right after CLBlastClearCache(): on OpenCL every thread's
 *                      first SGEMM must compile CLBlast's kernels, which CLBlast 1.5.3 cannot do from two
 *                      threads at once ("object already in cache"); clattn must serialise it
 *                      (src/opencl/gemm.c).
 * Every result is compared with the single-threaded result of the same problem, computed first on its
 * own context and checked against the double-precision reference: bit for bit on the host path
 * (outputs, probabilities and untouched gap elements), within TU_TOL_F32 on OpenCL.
 * CLATTN_TEST_SECONDS sets the duration of each timed phase (RELIABILITY.md records a longer run).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <clblast_c.h>

#include "mha_case.h"
#include "reference.h"
#include "cases.h"
#include "test_files.h"

#define MAX_THREADS 64


/* The rows tagged threads in tests/cases/cases.c: N_SDPA SDPA rows, then N_MHA MHA rows (seeds in that
 * order). main() checks the counts. */
#define N_SDPA 4
#define N_MHA 2
static const case_row *sdpa_rows[N_SDPA];
static const mha_case *mha_rows_t[N_MHA];
#define N_SHAPES (N_SDPA + N_MHA)

/* One problem: shared read-only inputs and the single-threaded result. */
typedef struct shape {
    int is_mha;
    const sdpa_case *sc;
    const mha_case *mc;
    sdpa_data sd;        /* SDPA inputs; sd.out / sd.probs hold the expected result */
    mha_data md;     /* MHA weights and inputs; md.out / md.probs hold the expected result */
    int64_t n_out, n_probs;
    const float *exp_out, *exp_probs;
} shape;

static shape g_shapes[N_SHAPES];
static int g_threads = 8;
static double g_seconds = 2.0;
static bool g_host;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *shape_name(const shape *s)
{
    return s->is_mha ? s->mc->name : s->sc->name;
}

/* ---- results ------------------------------------------------------------------------------------ */

/* Host path: identical bits (NaN poison in gaps included). OpenCL: within TU_TOL_F32 of the
 * single-threaded result (NaN only where it has NaN). Returns false and prints the first difference. */
static bool same_result(const char *what, const char *name, const float *got, const float *exp, int64_t n)
{
    if (g_host) {
        if (memcmp(got, exp, (size_t)n * sizeof(float)) == 0) return true;
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&got[i], &exp[i], sizeof(float)) != 0) {
                printf("FAIL %s %s: element %lld is %.9g, single-threaded %.9g (bits differ)\n", name, what,
                       (long long)i, (double)got[i], (double)exp[i]);
                break;
            }
        return false;
    }
    double scale = 1.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(exp[i]) && fabs(exp[i]) > scale) scale = fabs(exp[i]);
    for (int64_t i = 0; i < n; i++) {
        const bool both_nan = isnan(got[i]) && isnan(exp[i]);
        if (!both_nan && !(fabs((double)got[i] - (double)exp[i]) <= TU_TOL_F32 * scale)) {
            printf("FAIL %s %s: element %lld is %.9g, single-threaded %.9g\n", name, what, (long long)i,
                   (double)got[i], (double)exp[i]);
            return false;
        }
    }
    return true;
}

/* Per-thread output buffers for every shape. */
typedef struct outbufs {
    float *out[N_SHAPES], *probs[N_SHAPES];
} outbufs;

static void outbufs_init(outbufs *o)
{
    for (size_t s = 0; s < N_SHAPES; s++) {
        o->out[s] = tu_alloc_bits(g_shapes[s].n_out, TU_POISON_BITS);
        o->probs[s] = g_shapes[s].n_probs ? tu_alloc_bits(g_shapes[s].n_probs, TU_POISON_BITS) : NULL;
    }
}

static void outbufs_free(outbufs *o)
{
    for (size_t s = 0; s < N_SHAPES; s++) {
        free(o->out[s]);
        free(o->probs[s]);
    }
}

/* Runs shape s with the given plan (SDPA; NULL = one-shot clattn_sdpa) or module (MHA) into o, then
 * compares. lock (may be NULL) is held around the clattn calls only. */
static bool run_shape(clattn_context *ctx, size_t s, clattn_sdpa_plan *plan, clattn_mha *mha, outbufs *o,
                      pthread_mutex_t *lock)
{
    shape *sh = &g_shapes[s];
    float *out = o->out[s], *probs = o->probs[s];
    tu_fill_bits(out, sh->n_out, TU_POISON_BITS);
    if (probs) tu_fill_bits(probs, sh->n_probs, TU_POISON_BITS);
    clattn_status st;
    char err[256] = "";
    if (lock) pthread_mutex_lock(lock);
    if (sh->is_mha) {
        const mha_case *c = sh->mc;
        const mha_data *d = &sh->md;
        st = clattn_mha_forward(mha, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key, c->self ? NULL : d->value,
                                d->mask, d->kvl, &d->opts, out, probs);
    } else {
        const sdpa_data *d = &sh->sd;
        st = plan ? clattn_sdpa_execute(plan, d->q, d->k, d->v, d->mask, d->kvl, out, probs)
                  : clattn_sdpa(ctx, &d->desc, d->q, d->k, d->v, d->mask, d->kvl, out, probs);
    }
    if (st != CLATTN_SUCCESS) snprintf(err, sizeof err, "%s", clattn_last_error(ctx));
    if (lock) pthread_mutex_unlock(lock);
    if (st != CLATTN_SUCCESS) {
        printf("FAIL %s: status %d (%s): %s\n", shape_name(sh), (int)st, clattn_status_string(st), err);
        return false;
    }
    bool ok = same_result("out", shape_name(sh), out, sh->exp_out, sh->n_out);
    if (probs) ok &= same_result("probs", shape_name(sh), probs, sh->exp_probs, sh->n_probs);
    return ok;
}

/* ---- the single-threaded results ----------------------------------------------------------------- */

static clattn_context *open_context(void)
{
    clattn_context *ctx = NULL;
    clattn_context_options opts;
    clattn_context_options_init(&opts);
    opts.num_threads = g_host ? 2 : 0; /* the same worker count everywhere: results must match bit for bit */
    clattn_status st = clattn_context_create(&ctx, &opts);
    if (st != CLATTN_SUCCESS) printf("FAIL clattn_context_create: %d %s\n", (int)st, clattn_last_error(NULL));
    return ctx;
}

/* Inputs of every shape (no runs yet). */
static void make_shapes(void)
{
    for (size_t i = 0; i < N_SHAPES; i++) {
        shape *sh = &g_shapes[i];
        tu_rng r;
        tu_rng_init(&r, tu_case_seed("threads", (int)i));
        if (i < N_SDPA) {
            sh->sc = &sdpa_rows[i]->c;
            sdpa_data_make(&sh->sd, sh->sc, &r);
            sh->n_out = sh->sd.no;
            sh->n_probs = sh->sd.probs ? sh->sd.np : 0;
            sh->exp_out = sh->sd.out;
            sh->exp_probs = sh->sd.probs;
        } else {
            sh->is_mha = 1;
            sh->mc = mha_rows_t[i - N_SDPA];
            mha_data_make(&sh->md, sh->mc, &r);
            sh->n_out = sh->md.n_out;
            sh->n_probs = sh->md.n_probs;
            sh->exp_out = sh->md.out;
            sh->exp_probs = sh->md.probs;
        }
    }
}

/* The single-threaded result of every shape (into its exp_out / exp_probs), on a context of its own,
 * checked against the double-precision reference. Once. */
static bool compute_expected(void)
{
    static int done; /* 1 ok, -1 failed */
    if (done) return done > 0;
    clattn_context *ctx = open_context();
    bool ok = ctx != NULL;
    for (size_t i = 0; ok && i < N_SHAPES; i++) {
        shape *sh = &g_shapes[i];
        tu_where w = {"threads", shape_name(sh), tu_case_seed("threads", (int)i)};
        if (!sh->is_mha) {
            ok &= sdpa_data_run(ctx, &sh->sd, 0, &w) == CLATTN_SUCCESS && sdpa_data_check(&sh->sd, &w);
        } else {
            clattn_mha *m = NULL;
            clattn_status st = clattn_mha_create(&m, ctx, &sh->md.w);
            if (st != CLATTN_SUCCESS) tu_report(&w, "clattn_mha_create: %s", clattn_last_error(ctx));
            ok &= st == CLATTN_SUCCESS && mha_data_forward(ctx, m, sh->mc, &sh->md, &w) == CLATTN_SUCCESS &&
                  mha_data_check(sh->mc, &sh->md, NULL, &w);
            clattn_mha_destroy(m);
        }
    }
    clattn_context_destroy(ctx);
    done = ok ? 1 : -1;
    return ok;
}

static void free_shapes(void)
{
    for (size_t i = 0; i < N_SHAPES; i++) {
        if (g_shapes[i].is_mha) mha_data_free(&g_shapes[i].md);
        else sdpa_data_free(&g_shapes[i].sd);
    }
}

/* ---- separate contexts -------------------------------------------------------------------------- */

typedef struct worker {
    int idx;
    double deadline;
    long runs, failures;
    /* shared_context */
    clattn_context *shared_ctx;
    pthread_mutex_t *lock;
    clattn_sdpa_plan *shared_plan; /* for shape 0 */
    clattn_mha *shared_mha[N_MHA]; /* for shapes N_SDPA.. */
    /* first_use_at_once */
    pthread_barrier_t *barrier;
    struct outbufs *keep;
} worker;

static void *separate_main(void *arg)
{
    worker *w = arg;
    clattn_context *ctx = open_context();
    if (!ctx) {
        w->failures++;
        return NULL;
    }
    clattn_sdpa_plan *plans[N_SHAPES] = {0};
    clattn_mha *mods[N_SHAPES] = {0};
    outbufs o;
    outbufs_init(&o);
    for (size_t i = (size_t)w->idx;; i++) {
        const size_t s = i % N_SHAPES;
        /* Plans and modules are made lazily, so creation also overlaps other threads' runs; odd threads
         * use the one-shot clattn_sdpa for SDPA shapes. */
        if (g_shapes[s].is_mha && !mods[s]) {
            clattn_status st = clattn_mha_create(&mods[s], ctx, &g_shapes[s].md.w);
            if (st != CLATTN_SUCCESS) {
                printf("FAIL thread %d: clattn_mha_create: %s\n", w->idx, clattn_last_error(ctx));
                w->failures++;
                break;
            }
        } else if (!g_shapes[s].is_mha && !plans[s] && w->idx % 2 == 0) {
            clattn_status st = clattn_sdpa_plan_create(&plans[s], ctx, &g_shapes[s].sd.desc);
            if (st != CLATTN_SUCCESS) {
                printf("FAIL thread %d: plan_create: %s\n", w->idx, clattn_last_error(ctx));
                w->failures++;
                break;
            }
        }
        if (!run_shape(ctx, s, plans[s], mods[s], &o, NULL)) w->failures++;
        w->runs++;
        if (w->failures || (i + 1 - (size_t)w->idx >= N_SHAPES && now_s() >= w->deadline)) break;
    }
    for (size_t s = 0; s < N_SHAPES; s++) {
        clattn_sdpa_plan_destroy(plans[s]);
        clattn_mha_destroy(mods[s]);
    }
    outbufs_free(&o);
    clattn_context_destroy(ctx);
    return NULL;
}

/* ---- one shared context -------------------------------------------------------------------------- */

static void *shared_main(void *arg)
{
    worker *w = arg;
    outbufs o;
    outbufs_init(&o);
    for (size_t i = (size_t)w->idx;; i++) {
        const size_t s = i % N_SHAPES;
        bool ok;
        if (g_shapes[s].is_mha) {
            ok = run_shape(w->shared_ctx, s, NULL, w->shared_mha[s - N_SDPA], &o, w->lock);
        } else if (s == 0) {
            ok = run_shape(w->shared_ctx, s, w->shared_plan, NULL, &o, w->lock);
        } else {
            /* A plan of this thread's own on the shared context: created, run and destroyed under the lock. */
            clattn_sdpa_plan *plan = NULL;
            pthread_mutex_lock(w->lock);
            clattn_status st = clattn_sdpa_plan_create(&plan, w->shared_ctx, &g_shapes[s].sd.desc);
            pthread_mutex_unlock(w->lock);
            ok = st == CLATTN_SUCCESS && run_shape(w->shared_ctx, s, plan, NULL, &o, w->lock);
            if (st != CLATTN_SUCCESS) printf("FAIL thread %d: plan_create on the shared context\n", w->idx);
            pthread_mutex_lock(w->lock);
            clattn_sdpa_plan_destroy(plan);
            pthread_mutex_unlock(w->lock);
        }
        w->runs++;
        if (!ok) w->failures++;
        if (w->failures || (i + 1 - (size_t)w->idx >= N_SHAPES && now_s() >= w->deadline)) break;
    }
    outbufs_free(&o);
    return NULL;
}

/* ---- first use at the same instant --------------------------------------------------------------- */

/* Each thread keeps its output in w->keep; main compares after the join. */
static void *first_use_main(void *arg)
{
    worker *w = arg;
    const size_t s = N_SDPA + (size_t)w->idx % N_MHA;
    const mha_case *c = g_shapes[s].mc;
    const mha_data *d = &g_shapes[s].md;
    clattn_context *ctx = open_context();
    pthread_barrier_wait(w->barrier); /* every thread has its context; go together */
    clattn_mha *m = NULL;
    clattn_status st = ctx ? clattn_mha_create(&m, ctx, &d->w) : CLATTN_ERROR_INTERNAL;
    if (st == CLATTN_SUCCESS)
        st = clattn_mha_forward(m, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key, c->self ? NULL : d->value,
                                d->mask, d->kvl, &d->opts, w->keep->out[s], w->keep->probs[s]);
    if (st != CLATTN_SUCCESS) {
        printf("FAIL thread %d: first MHA forward: %d %s\n", w->idx, (int)st,
               ctx ? clattn_last_error(ctx) : clattn_last_error(NULL));
        w->failures++;
    }
    w->runs++;
    clattn_mha_destroy(m);
    clattn_context_destroy(ctx);
    return NULL;
}

/* ---- cold start: the very first OpenCL use of the process, from every thread at once ------------- */

typedef struct cold_worker {
    int idx;
    pthread_barrier_t *barrier;
    outbufs out;
    clattn_status create_status;
    char create_msg[512];
    long failures;
} cold_worker;

static cold_worker g_cold[MAX_THREADS];
static bool g_cold_ran;
static double g_cold_seconds;

static void *cold_main(void *arg)
{
    cold_worker *w = arg;
    clattn_context *ctx = NULL;
    clattn_context_options opts;
    clattn_context_options_init(&opts);
    opts.num_threads = 2; /* as open_context() on the host path (ignored on OpenCL) */
    pthread_barrier_wait(w->barrier);
    w->create_status = clattn_context_create(&ctx, &opts);
    if (w->create_status != CLATTN_SUCCESS) {
        snprintf(w->create_msg, sizeof w->create_msg, "%s", clattn_last_error(NULL));
        return NULL;
    }
    for (size_t k = 0; k < N_SHAPES; k++) {
        const size_t s = (k + (size_t)w->idx) % N_SHAPES; /* different shapes at the same time */
        shape *sh = &g_shapes[s];
        clattn_status st;
        if (sh->is_mha) {
            const mha_case *c = sh->mc;
            const mha_data *d = &sh->md;
            clattn_mha *m = NULL;
            st = clattn_mha_create(&m, ctx, &d->w);
            if (st == CLATTN_SUCCESS)
                st = clattn_mha_forward(m, c->B, c->Lq, c->Lk, d->query, c->self ? NULL : d->key,
                                        c->self ? NULL : d->value, d->mask, d->kvl, &d->opts, w->out.out[s],
                                        w->out.probs[s]);
            clattn_mha_destroy(m);
        } else {
            const sdpa_data *d = &sh->sd;
            st = clattn_sdpa(ctx, &d->desc, d->q, d->k, d->v, d->mask, d->kvl, w->out.out[s], w->out.probs[s]);
        }
        if (st != CLATTN_SUCCESS) {
            printf("FAIL cold_start thread %d, %s: status %d (%s): %s\n", w->idx, shape_name(sh), (int)st,
                   clattn_status_string(st), clattn_last_error(ctx));
            w->failures++;
        }
    }
    clattn_context_destroy(ctx);
    return NULL;
}

/* Runs before any other OpenCL call of the process. Exits 77 when the backend is absent. */
static void run_cold_start(void)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)g_threads);
    pthread_t tid[MAX_THREADS];
    const double t0 = now_s();
    int started = 0;
    for (; started < g_threads; started++) {
        g_cold[started] = (cold_worker){.idx = started, .barrier = &barrier};
        outbufs_init(&g_cold[started].out);
        if (pthread_create(&tid[started], NULL, cold_main, &g_cold[started]) != 0) break;
    }
    if (started < g_threads) {
        printf("FAIL pthread_create\n");
        exit(1);
    }
    for (int i = 0; i < g_threads; i++) pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    g_cold_seconds = now_s() - t0;
    /* Skip only when the device is really absent: every thread got DEVICE_NOT_FOUND and so does a
     * single-threaded creation afterwards. Some threads not finding the device while others did is one
     * symptom of the PoCL initialisation race this phase exists to catch: that fails (test_cold_start). */
    int not_found = 0;
    for (int i = 0; i < g_threads; i++) not_found += g_cold[i].create_status == CLATTN_ERROR_DEVICE_NOT_FOUND;
    if (not_found == g_threads) {
        clattn_context *probe = NULL;
        clattn_status st = clattn_context_create(&probe, NULL);
        if (st == CLATTN_ERROR_DEVICE_NOT_FOUND) {
            printf("SKIP: CLATTN_DEVICE='%s' matches no device here: %s\n",
                   getenv("CLATTN_DEVICE") ? getenv("CLATTN_DEVICE") : "", g_cold[0].create_msg);
            exit(TU_SKIP);
        }
        clattn_context_destroy(probe);
    }
    g_cold_ran = true;
}

static void test_cold_start(void **state)
{
    (void)state;
    assert_true(g_cold_ran);
    bool ok = compute_expected();
    long failures = 0;
    for (int i = 0; i < g_threads; i++) {
        if (g_cold[i].create_status != CLATTN_SUCCESS) {
            printf("FAIL cold_start thread %d: clattn_context_create: %d (%s): %s\n", i, (int)g_cold[i].create_status,
                   clattn_status_string(g_cold[i].create_status), g_cold[i].create_msg);
            failures++;
            continue;
        }
        failures += g_cold[i].failures;
        for (size_t s = 0; ok && !g_cold[i].failures && s < N_SHAPES; s++) {
            const shape *sh = &g_shapes[s];
            ok &= same_result("out", shape_name(sh), g_cold[i].out.out[s], sh->exp_out, sh->n_out);
            if (sh->n_probs) ok &= same_result("probs", shape_name(sh), g_cold[i].out.probs[s], sh->exp_probs, sh->n_probs);
        }
    }
    printf("# cold_start: %d threads created their contexts at once and ran %zu shapes each: %.2f s, %ld failures\n",
           g_threads, (size_t)N_SHAPES, g_cold_seconds, failures);
    for (int i = 0; i < g_threads; i++) outbufs_free(&g_cold[i].out);
    assert_true(ok && failures == 0);
}

/* REL_COLD_CACHE: PoCL's kernel cache in a new empty folder (removed at exit). */
static char g_cold_cache[256];

static void remove_cold_cache(void)
{
    if (g_cold_cache[0]) tu_remove_tree(g_cold_cache);
}

static void use_cold_cache(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_cold_cache, sizeof g_cold_cache, "%s/clattn_threads_cold.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_cold_cache)) {
        printf("FAIL mkdtemp(%s)\n", g_cold_cache);
        exit(1);
    }
    atexit(remove_cold_cache);
    char p[300];
    snprintf(p, sizeof p, "%s/pocl", g_cold_cache);
    setenv("POCL_CACHE_DIR", p, 1);
    snprintf(p, sizeof p, "%s/xdg", g_cold_cache);
    setenv("XDG_CACHE_HOME", p, 1);
    printf("# REL_COLD_CACHE: PoCL's kernel cache starts empty in %s\n", g_cold_cache);
}

/* ---- driver ---------------------------------------------------------------------------------------- */

static bool run_workers(const char *phase, void *(*fn)(void *), worker *proto, int n)
{
    pthread_t tid[MAX_THREADS];
    worker ws[MAX_THREADS];
    const double t0 = now_s();
    for (int i = 0; i < n; i++) {
        ws[i] = *proto;
        ws[i].idx = i;
        ws[i].deadline = t0 + g_seconds;
        if (pthread_create(&tid[i], NULL, fn, &ws[i]) != 0) {
            printf("FAIL pthread_create\n");
            for (int j = 0; j < i; j++) pthread_join(tid[j], NULL);
            return false;
        }
    }
    long runs = 0, failures = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        runs += ws[i].runs;
        failures += ws[i].failures;
    }
    printf("# %s: %d threads x %.1f s: %ld runs, %ld failures\n", phase, n, now_s() - t0, runs, failures);
    return failures == 0 && runs > 0;
}

static void test_separate_contexts(void **state)
{
    (void)state;
    assert_true(compute_expected());
    worker proto = {0};
    assert_true(run_workers("separate_contexts", separate_main, &proto, g_threads));
}

static void test_shared_context(void **state)
{
    (void)state;
    assert_true(compute_expected());
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    worker proto = {0};
    proto.lock = &lock;
    proto.shared_ctx = open_context();
    assert_non_null(proto.shared_ctx);
    bool ok = clattn_sdpa_plan_create(&proto.shared_plan, proto.shared_ctx, &g_shapes[0].sd.desc) == CLATTN_SUCCESS;
    for (size_t m = 0; ok && m < N_MHA; m++)
        ok = clattn_mha_create(&proto.shared_mha[m], proto.shared_ctx, &g_shapes[N_SDPA + m].md.w) == CLATTN_SUCCESS;
    if (!ok) printf("FAIL shared plan/module: %s\n", clattn_last_error(proto.shared_ctx));
    if (ok) ok = run_workers("shared_context", shared_main, &proto, g_threads);
    clattn_sdpa_plan_destroy(proto.shared_plan);
    for (size_t m = 0; m < N_MHA; m++) clattn_mha_destroy(proto.shared_mha[m]);
    clattn_context_destroy(proto.shared_ctx);
    pthread_mutex_destroy(&lock);
    assert_true(ok);
}

static void test_first_use_at_once(void **state)
{
    (void)state;
    /* The single-threaded results come first: they also load every kernel once into the driver (PoCL 3.1
     * crashes when several contexts launch a kernel it has not loaded yet at the same time; see
     * RELIABILITY.md; REL_NO_WARMUP=1 skips this to show it). Then CLBlast forgets its compiled programs,
     * so that the threads below start cold on CLBlast's side. */
    if (!getenv("REL_NO_WARMUP")) assert_true(compute_expected());
    CLBlastClearCache();
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)g_threads);
    outbufs keep[MAX_THREADS];
    worker ws[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < g_threads; i++) {
        outbufs_init(&keep[i]);
        ws[i] = (worker){.idx = i, .barrier = &barrier, .keep = &keep[i]};
    }
    const double t0 = now_s();
    int started = 0;
    for (; started < g_threads; started++)
        if (pthread_create(&tid[started], NULL, first_use_main, &ws[started]) != 0) break;
    if (started < g_threads) { /* the barrier would never open: give up loudly */
        printf("FAIL pthread_create\n");
        exit(1);
    }
    long failures = 0;
    for (int i = 0; i < g_threads; i++) {
        pthread_join(tid[i], NULL);
        failures += ws[i].failures;
    }
    printf("# first_use_at_once: %d threads started their first MHA forward together: %.2f s\n", g_threads,
           now_s() - t0);
    bool ok = failures == 0 && compute_expected();
    for (int i = 0; ok && i < g_threads; i++) {
        const size_t s = N_SDPA + (size_t)i % N_MHA;
        ok &= same_result("out", shape_name(&g_shapes[s]), keep[i].out[s], g_shapes[s].exp_out, g_shapes[s].n_out);
        if (g_shapes[s].n_probs)
            ok &= same_result("probs", shape_name(&g_shapes[s]), keep[i].probs[s], g_shapes[s].exp_probs,
                              g_shapes[s].n_probs);
    }
    for (int i = 0; i < g_threads; i++) outbufs_free(&keep[i]);
    pthread_barrier_destroy(&barrier);
    assert_true(ok);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *env = getenv("CLATTN_TEST_SECONDS");
    if (env && atof(env) > 0) g_seconds = atof(env);
    env = getenv("REL_THREADS");
    if (env && atoi(env) > 0) g_threads = atoi(env) < MAX_THREADS ? atoi(env) : MAX_THREADS;
    env = getenv("REL_COLD_CACHE");
    if (env && env[0] && strcmp(env, "0") != 0) use_cold_cache();
    if (case_rows_tagged(CASE_THREADS, sdpa_rows, N_SDPA) != N_SDPA ||
        mha_rows_tagged(CASE_THREADS, mha_rows_t, N_MHA) != N_MHA) {
        fprintf(stderr, "FAIL: tests/cases has not %d SDPA and %d MHA rows tagged threads\n", N_SDPA, N_MHA);
        return 1;
    }
    make_shapes();
    run_cold_start(); /* first: nothing may touch OpenCL before it (exit 77 when the backend is absent) */
    clattn_context *probe = tu_open_context_or_skip();
    g_host = tu_backend_of(probe) == TU_HOST;
    clattn_context_destroy(probe);
    printf("# %d threads, %.1f s per timed phase, results compared %s\n", g_threads, g_seconds,
           g_host ? "bit for bit" : "within TU_TOL_F32");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_start),
        cmocka_unit_test(test_first_use_at_once),
        cmocka_unit_test(test_separate_contexts),
        cmocka_unit_test(test_shared_context),
    };
    /* REL_PHASES=cold: only the cold start (for repeated runs; see RELIABILITY.md). */
    env = getenv("REL_PHASES");
    if (env && strcmp(env, "cold") == 0) cmocka_set_test_filter("test_cold_start");
    int failed = cmocka_run_group_tests_name("threads", tests, NULL, NULL);
    free_shapes();
    return failed ? 1 : 0;
}
