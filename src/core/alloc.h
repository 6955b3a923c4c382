/*
 * Every host allocation of libclattn goes through these wrappers, so a test can make the n-th one
 * fail (fault injection, issue "Reliability", item 4) and prove that each error path returns a
 * status, leaks nothing and leaves the context usable. Release with plain free().
 */
#ifndef CLATTN_ALLOC_H
#define CLATTN_ALLOC_H

#include <stddef.h>

void *clattn_malloc(size_t size);
void *clattn_calloc(size_t count, size_t size);
void *clattn_realloc(void *ptr, size_t size);
char *clattn_strdup(const char *s);
/* "<a>/<b>" in memory from clattn_malloc, or NULL when out of memory. */
char *clattn_path_join(const char *a, const char *b);
/* posix_memalign(): 0 on success, else ENOMEM (and *out untouched). */
int clattn_memalign(void **out, size_t alignment, size_t size);

/* ---- test hook (internal: reachable only when linking libclattn statically) -------------------- */

/* From the next allocation on, the n-th allocation (n >= 1) returns NULL, as do all later ones while
 * `sticky` is nonzero; n = 0 disables injection. Resets the counter. Thread-safe (atomics). */
void clattn_fault_alloc_arm(long n, int sticky);
/* Allocations attempted since the last clattn_fault_alloc_arm() (failed ones included). */
long clattn_fault_alloc_count(void);

#endif
