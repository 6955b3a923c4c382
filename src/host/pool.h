/*
 * A small persistent POSIX-threads pool for the host backend.
 *
 * host_pool_run() hands tasks 0 .. n_tasks-1 out dynamically (one atomic counter) to the calling
 * thread and n - 1 workers, and returns when every task has finished. Each call of fn gets a
 * thread_idx in [0, n) that no other thread uses during the same run (the caller is 0), so tasks may
 * index per-thread scratch with it. One run at a time per pool: a pool belongs to one context.
 */
#ifndef CLATTN_HOST_POOL_H
#define CLATTN_HOST_POOL_H

#include <stdint.h>

typedef struct host_pool host_pool;

/* One task: task in [0, n_tasks), thread_idx in [0, host_pool_size(pool)). */
typedef void (*host_pool_fn)(void *arg, int64_t task, int thread_idx);

/* Creates a pool of n >= 1 threads in all (the caller of host_pool_run plus n - 1 workers).
 * Returns 0, or EINVAL (n < 1), ENOMEM, or the error of pthread_create / pthread_mutex_init /
 * pthread_cond_init; then *out is NULL and every thread already started has been joined. */
int host_pool_create(host_pool **out, int n);

/* Stops and joins the workers and frees the pool. Accepts NULL. Not during a run. */
void host_pool_destroy(host_pool *pool);

/* Total number of threads (workers + caller). */
int host_pool_size(const host_pool *pool);

/* Runs fn(arg, task, thread_idx) for every task in [0, n_tasks); blocks until all have returned.
 * Writes made by the tasks are visible to the caller on return. n_tasks <= 0 does nothing. */
void host_pool_run(host_pool *pool, int64_t n_tasks, host_pool_fn fn, void *arg);

#endif /* CLATTN_HOST_POOL_H */
