/*
 * Persistent POSIX-threads pool (see pool.h).
 *
 * A run is published under the mutex by bumping `generation`; workers sleep on start_cv until they
 * see a new generation, take tasks from the atomic counter `next`, and report back by decrementing
 * `busy` under the mutex (the last one signals done_cv). The mutex hand-offs order the job fields and
 * the tasks' results between threads; the counter itself needs no ordering.
 */
#include "alloc.h"
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct host_worker {
    host_pool *pool;
    int idx; /* thread_idx handed to tasks, 1 .. n-1 */
} host_worker;

struct host_pool {
    int n;             /* threads in all, caller included */
    int started;       /* workers running (joined on destroy) */
    pthread_t *threads; /* [n - 1] */
    host_worker *workers; /* [n - 1] */

    pthread_mutex_t mu;
    pthread_cond_t start_cv; /* a new generation or stop */
    pthread_cond_t done_cv;  /* busy reached 0 */

    /* Guarded by mu. */
    uint64_t generation;
    int busy; /* workers not yet done with the current generation */
    bool stop;
    host_pool_fn fn;
    void *arg;
    int64_t n_tasks;

    _Atomic int64_t next; /* next task to hand out */
};

static void run_tasks(host_pool *pool, host_pool_fn fn, void *arg, int64_t n_tasks, int idx)
{
    for (;;) {
        const int64_t t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
        if (t >= n_tasks) return;
        fn(arg, t, idx);
    }
}

static void *worker_main(void *p)
{
    host_worker *w = p;
    host_pool *pool = w->pool;
    uint64_t seen = 0;

    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->start_cv, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        host_pool_fn fn = pool->fn;
        void *arg = pool->arg;
        const int64_t n_tasks = pool->n_tasks;
        pthread_mutex_unlock(&pool->mu);

        run_tasks(pool, fn, arg, n_tasks, w->idx);

        pthread_mutex_lock(&pool->mu);
        if (--pool->busy == 0) pthread_cond_signal(&pool->done_cv);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Stops and joins the started workers, then frees everything. */
static void pool_teardown(host_pool *pool, bool sync_ready)
{
    if (sync_ready) {
        pthread_mutex_lock(&pool->mu);
        pool->stop = true;
        pthread_cond_broadcast(&pool->start_cv);
        pthread_mutex_unlock(&pool->mu);
        for (int i = 0; i < pool->started; i++) pthread_join(pool->threads[i], NULL);
        pthread_cond_destroy(&pool->done_cv);
        pthread_cond_destroy(&pool->start_cv);
        pthread_mutex_destroy(&pool->mu);
    }
    free(pool->workers);
    free(pool->threads);
    free(pool);
}

int host_pool_create(host_pool **out, int n)
{
    if (out == NULL) return EINVAL;
    *out = NULL;
    if (n < 1) return EINVAL;

    host_pool *pool = clattn_calloc(1, sizeof *pool);
    if (pool == NULL) return ENOMEM;
    pool->n = n;
    atomic_init(&pool->next, 0);
    if (n > 1) {
        pool->threads = clattn_calloc((size_t)(n - 1), sizeof *pool->threads);
        pool->workers = clattn_calloc((size_t)(n - 1), sizeof *pool->workers);
        if (pool->threads == NULL || pool->workers == NULL) {
            pool_teardown(pool, false);
            return ENOMEM;
        }
    }

    int err = pthread_mutex_init(&pool->mu, NULL);
    if (err != 0) {
        pool_teardown(pool, false);
        return err;
    }
    err = pthread_cond_init(&pool->start_cv, NULL);
    if (err != 0) {
        pthread_mutex_destroy(&pool->mu);
        pool_teardown(pool, false);
        return err;
    }
    err = pthread_cond_init(&pool->done_cv, NULL);
    if (err != 0) {
        pthread_cond_destroy(&pool->start_cv);
        pthread_mutex_destroy(&pool->mu);
        pool_teardown(pool, false);
        return err;
    }

    /* Workers block all signals so that the application's handlers run on its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    const bool masked = pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
    for (int i = 0; i < n - 1; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].idx = i + 1;
        err = pthread_create(&pool->threads[i], NULL, worker_main, &pool->workers[i]);
        if (err != 0) break;
        pool->started++;
    }
    if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err != 0) {
        pool_teardown(pool, true);
        return err;
    }
    *out = pool;
    return 0;
}

void host_pool_destroy(host_pool *pool)
{
    if (pool != NULL) pool_teardown(pool, true);
}

int host_pool_size(const host_pool *pool)
{
    return pool->n;
}

void host_pool_run(host_pool *pool, int64_t n_tasks, host_pool_fn fn, void *arg)
{
    if (n_tasks <= 0) return;
    if (pool->n == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }

    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    pool->busy = pool->n - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start_cv);
    pthread_mutex_unlock(&pool->mu);

    run_tasks(pool, fn, arg, n_tasks, 0);

    pthread_mutex_lock(&pool->mu);
    while (pool->busy > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}
