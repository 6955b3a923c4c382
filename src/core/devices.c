/*
 * Device enumeration (clattn_device_list_count, clattn_device_list_get in clattn.h): the OpenCL backend's devices
 * in platform/device order, then the host path, always last. Each call enumerates afresh; nothing is
 * created or built.
 */
#include "backend.h"

#include <string.h>

clattn_status clattn_device_list_count(size_t *count)
{
    if (!count) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_device_list_count: count is NULL");
    size_t n = 0;
    bool has_default = false;
    CLATTN_TRY(clattn_opencl_device_describe(0, NULL, &n, &has_default));
    *count = n + 1; /* + the host path */
    return CLATTN_SUCCESS;
}

clattn_status clattn_device_list_get(size_t index, clattn_device_info *info)
{
    if (!info) return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_device_list_get: info is NULL");
    const size_t size = info->struct_size;
    if (size < CLATTN_DEVICE_INFO_MIN_SIZE || size > CLATTN_STRUCT_SIZE_MAX)
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_device_info: struct_size is %zu, expected %zu..%zu (initialise the struct with "
                            "clattn_device_info_init())",
                            size, (size_t)CLATTN_DEVICE_INFO_MIN_SIZE, CLATTN_STRUCT_SIZE_MAX);
    clattn_device_info local;
    memset(&local, 0, sizeof local);
    size_t n = 0;
    bool has_default = false;
    CLATTN_TRY(clattn_opencl_device_describe(index, &local, &n, &has_default));
    if (index == n) {
        /* The host path: the threads a host context would start (0 when CLATTN_THREADS does not parse;
         * clattn_last_error(NULL) then says why). */
        int threads = 0;
        if (clattn_host_resolve_threads(NULL, 0, &threads) != CLATTN_SUCCESS) threads = 0;
        clattn_host_describe(&local, threads);
        if (!has_default) local.flags |= CLATTN_DEVICE_FLAG_DEFAULT;
    } else if (index > n) {
        return clattn_error(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "clattn_device_list_get: index %zu is out of range (%zu devices: 0..%zu)", index, n + 1,
                            n);
    }
    local.index = (uint32_t)index;
    clattn_struct_out(info, size, &local, sizeof local);
    return CLATTN_SUCCESS;
}
