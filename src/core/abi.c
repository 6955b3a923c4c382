/* Versioned public structs ("## ABI" in clattn.h): every caller-allocated struct starts with
 * size_t struct_size, the sizeof the caller was compiled with. Input structs are read over a copy that
 * holds the library's defaults (older, shorter callers get defaults for what they lack; newer, longer
 * ones are accepted when what this library lacks is zero, as Linux's copy_struct_from_user); the output
 * struct is written up to the caller's size. The *_init_sized functions live with their structs. */
#include "internal.h"

#include <string.h>

clattn_status clattn_struct_in(clattn_context *ctx, const char *type, const char *init_fn, const void *caller,
                               size_t min_size, void *local, size_t local_size)
{
    if (!caller) return CLATTN_SUCCESS;
    size_t size;
    memcpy(&size, caller, sizeof size); /* struct_size is the first member of every versioned struct */
    if (size < min_size || size > CLATTN_STRUCT_SIZE_MAX)
        return clattn_error(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s: struct_size is %zu, expected %zu..%zu (initialise the struct with %s())", type, size,
                            min_size, CLATTN_STRUCT_SIZE_MAX, init_fn);
    const unsigned char *bytes = caller;
    for (size_t i = local_size; i < size; i++)
        if (bytes[i] != 0)
            return clattn_error(ctx, CLATTN_ERROR_UNSUPPORTED,
                                "%s: struct_size is %zu but this clattn %s knows %zu bytes, and byte %zu is nonzero "
                                "(a field this version does not have: link a newer clattn, or leave it zero)",
                                type, size, clattn_version_string(), local_size, i);
    memcpy(local, caller, size < local_size ? size : local_size);
    memcpy(local, &local_size, sizeof local_size);
    return CLATTN_SUCCESS;
}

void clattn_struct_out(void *caller, size_t caller_size, const void *local, size_t local_size)
{
    unsigned char *dst = caller;
    if (caller_size > CLATTN_STRUCT_SIZE_MAX) { /* garbage: store only the size, which every later call refuses */
        memcpy(dst, &caller_size, sizeof caller_size);
        return;
    }
    const size_t n = caller_size < local_size ? caller_size : local_size;
    if (local) memcpy(dst, local, n);
    else memset(dst, 0, n);
    if (caller_size > local_size) memset(dst + local_size, 0, caller_size - local_size);
    if (caller_size >= sizeof caller_size) memcpy(dst, &caller_size, sizeof caller_size);
}
