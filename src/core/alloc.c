/* Allocation wrappers with a fault-injection counter (see alloc.h). */
#define _POSIX_C_SOURCE 200809L
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fault_target; /* 0 = off, else the index (1-based) of the first failing allocation */
static atomic_long fault_count;  /* allocations since arming */
static atomic_int fault_sticky;

/* True when this allocation must fail. One relaxed load when injection is off. */
static int fault_hit(void)
{
    long target = atomic_load_explicit(&fault_target, memory_order_relaxed);
    if (target == 0) return 0;
    long n = atomic_fetch_add(&fault_count, 1) + 1;
    return n == target || (n > target && atomic_load(&fault_sticky));
}

void clattn_fault_alloc_arm(long n, int sticky)
{
    atomic_store(&fault_target, 0);
    atomic_store(&fault_count, 0);
    atomic_store(&fault_sticky, sticky);
    atomic_store(&fault_target, n > 0 ? n : 0);
}

long clattn_fault_alloc_count(void) { return atomic_load(&fault_count); }

void *clattn_malloc(size_t size) { return fault_hit() ? NULL : malloc(size); }

void *clattn_calloc(size_t count, size_t size) { return fault_hit() ? NULL : calloc(count, size); }

void *clattn_realloc(void *ptr, size_t size) { return fault_hit() ? NULL : realloc(ptr, size); }

char *clattn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = clattn_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

char *clattn_path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = clattn_malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

int clattn_memalign(void **out, size_t alignment, size_t size)
{
    if (fault_hit()) return ENOMEM;
    return posix_memalign(out, alignment, size);
}
