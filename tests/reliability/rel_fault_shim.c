/*
 * OpenCL fault injection for test_faults (see rel_fault_shim.h).
 *
 * The executable links libclattn statically and is built with ENABLE_EXPORTS, so its definitions of the
 * OpenCL entry points below are the ones both libclattn (resolved at link time) and libclblast.so (through
 * its PLT) call. Each wrapper counts the call; the armed n-th fallible call returns an error code chosen
 * for the function, WITHOUT calling the driver (creators return NULL and set *errcode_ret); every other
 * call forwards to the next definition (the ICD loader, dlsym(RTLD_NEXT)).
 *
 *   error injected                       functions
 *   CL_BUILD_PROGRAM_FAILURE             clBuildProgram
 *   CL_MEM_OBJECT_ALLOCATION_FAILURE     clCreateBuffer, clEnqueueRead/Write/CopyBuffer
 *   CL_OUT_OF_HOST_MEMORY                clGetPlatformIDs, clCreateContext, clCreateProgramWithSource,
 *                                        clCreateKernel, every clGet*Info, clRetain*
 *   CL_INVALID_BINARY                    clCreateProgramWithBinary (a stale cache entry)
 *   CL_OUT_OF_RESOURCES                  clCreateCommandQueue, clSetKernelArg, clEnqueueNDRangeKernel,
 *                                        clEnqueueMarkerWithWaitList, clFinish, clWaitForEvents
 *   (never failed, only counted)         clRelease* — a failed release cannot be handled by a caller
 *
 * The list covers every OpenCL function of the sources in src/ and libclblast.so.1 (1.5.3, `nm -D --undefined-only`)
 * call. Objects are counted per calling module (the caller's return address, dladdr): +1 for each object
 * a create/enqueue returns and each retain, -1 for each release.
 */
#define _GNU_SOURCE
#include "rel_fault_shim.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

enum {
    F_GetPlatformIDs, F_GetPlatformInfo, F_GetDeviceIDs, F_GetDeviceInfo, F_CreateContext, F_RetainContext,
    F_CreateCommandQueue, F_RetainCommandQueue, F_GetCommandQueueInfo, F_RetainDevice, F_CreateBuffer,
    F_GetMemObjectInfo, F_CreateProgramWithSource, F_CreateProgramWithBinary, F_BuildProgram, F_GetProgramInfo,
    F_GetProgramBuildInfo, F_CreateKernel, F_SetKernelArg, F_GetKernelWorkGroupInfo, F_EnqueueNDRangeKernel,
    F_EnqueueReadBuffer, F_EnqueueWriteBuffer, F_EnqueueCopyBuffer, F_EnqueueMarkerWithWaitList, F_Finish,
    F_WaitForEvents, F_COUNT
};

static const struct {
    const char *name;
    cl_int code;
} fn_info[F_COUNT] = {
    [F_GetPlatformIDs] = {"clGetPlatformIDs", CL_OUT_OF_HOST_MEMORY},
    [F_GetPlatformInfo] = {"clGetPlatformInfo", CL_OUT_OF_HOST_MEMORY},
    [F_GetDeviceIDs] = {"clGetDeviceIDs", CL_OUT_OF_HOST_MEMORY},
    [F_GetDeviceInfo] = {"clGetDeviceInfo", CL_OUT_OF_HOST_MEMORY},
    [F_CreateContext] = {"clCreateContext", CL_OUT_OF_HOST_MEMORY},
    [F_RetainContext] = {"clRetainContext", CL_OUT_OF_HOST_MEMORY},
    [F_CreateCommandQueue] = {"clCreateCommandQueue", CL_OUT_OF_RESOURCES},
    [F_RetainCommandQueue] = {"clRetainCommandQueue", CL_OUT_OF_HOST_MEMORY},
    [F_GetCommandQueueInfo] = {"clGetCommandQueueInfo", CL_OUT_OF_HOST_MEMORY},
    [F_RetainDevice] = {"clRetainDevice", CL_OUT_OF_HOST_MEMORY},
    [F_CreateBuffer] = {"clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE},
    [F_GetMemObjectInfo] = {"clGetMemObjectInfo", CL_OUT_OF_HOST_MEMORY},
    [F_CreateProgramWithSource] = {"clCreateProgramWithSource", CL_OUT_OF_HOST_MEMORY},
    [F_CreateProgramWithBinary] = {"clCreateProgramWithBinary", CL_INVALID_BINARY},
    [F_BuildProgram] = {"clBuildProgram", CL_BUILD_PROGRAM_FAILURE},
    [F_GetProgramInfo] = {"clGetProgramInfo", CL_OUT_OF_HOST_MEMORY},
    [F_GetProgramBuildInfo] = {"clGetProgramBuildInfo", CL_OUT_OF_HOST_MEMORY},
    [F_CreateKernel] = {"clCreateKernel", CL_OUT_OF_HOST_MEMORY},
    [F_SetKernelArg] = {"clSetKernelArg", CL_OUT_OF_RESOURCES},
    [F_GetKernelWorkGroupInfo] = {"clGetKernelWorkGroupInfo", CL_OUT_OF_HOST_MEMORY},
    [F_EnqueueNDRangeKernel] = {"clEnqueueNDRangeKernel", CL_OUT_OF_RESOURCES},
    [F_EnqueueReadBuffer] = {"clEnqueueReadBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE},
    [F_EnqueueWriteBuffer] = {"clEnqueueWriteBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE},
    [F_EnqueueCopyBuffer] = {"clEnqueueCopyBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE},
    [F_EnqueueMarkerWithWaitList] = {"clEnqueueMarkerWithWaitList", CL_OUT_OF_RESOURCES},
    [F_Finish] = {"clFinish", CL_OUT_OF_RESOURCES},
    [F_WaitForEvents] = {"clWaitForEvents", CL_OUT_OF_RESOURCES},
};

static atomic_long armed_target; /* 0 = off */
static atomic_long armed_count;
static atomic_int armed_sticky;
static atomic_ullong failed_mask; /* functions failed since the last arm (bit = F_*) */
static atomic_int hit_fn = -1;
static atomic_int hit_from_clattn;
static atomic_long injected[F_COUNT][2]; /* [function][from_clattn] */
static atomic_long live[2][REL_OBJ_COUNT];

void rel_fault_cl_arm(long n, int sticky)
{
    atomic_store(&armed_target, 0);
    atomic_store(&armed_count, 0);
    if (n > 0) { /* disarming keeps the record of the last armed run */
        atomic_store(&hit_fn, -1);
        atomic_store(&failed_mask, 0);
    }
    atomic_store(&armed_sticky, sticky);
    atomic_store(&armed_target, n > 0 ? n : 0);
}

long rel_fault_cl_count(void) { return atomic_load(&armed_count); }

const char *rel_fault_cl_hit(cl_int *code, int *from_clattn)
{
    int f = atomic_load(&hit_fn);
    if (f < 0) return NULL;
    if (code) *code = fn_info[f].code;
    if (from_clattn) *from_clattn = atomic_load(&hit_from_clattn);
    return fn_info[f].name;
}

const char *rel_obj_name(rel_obj t)
{
    static const char *names[REL_OBJ_COUNT] = {"cl_mem", "cl_program", "cl_kernel", "cl_event",
                                               "cl_command_queue", "cl_context", "cl_device_id"};
    return (unsigned)t < REL_OBJ_COUNT ? names[t] : "?";
}

long rel_fault_live(int from_clattn, rel_obj t) { return atomic_load(&live[from_clattn ? 1 : 0][t]); }

static const char *code_name(cl_int c)
{
    switch (c) {
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    }
    return "?";
}

int rel_fault_cl_names_a_fault(const char *msg)
{
    unsigned long long mask = atomic_load(&failed_mask);
    for (int i = 0; i < F_COUNT; i++)
        if ((mask >> i & 1) && (strstr(msg, fn_info[i].name) || strstr(msg, code_name(fn_info[i].code)))) return 1;
    return 0;
}

long rel_fault_cl_report(FILE *f, const char *indent)
{
    long total = 0;
    for (int i = 0; i < F_COUNT; i++) {
        long a = atomic_load(&injected[i][1]), b = atomic_load(&injected[i][0]);
        if (!a && !b) continue;
        if (f) fprintf(f, "%s%-28s %6ld from clattn, %6ld from CLBlast (%s)\n", indent, fn_info[i].name, a, b,
                       code_name(fn_info[i].code));
        total += a + b;
    }
    return total;
}

/* 1 when the caller at return address ret is in this executable (libclattn is linked into it). */
static int from_exe(const void *ret)
{
    static uintptr_t self_base;
    if (!self_base) {
        Dl_info di;
        if (dladdr((void *)&from_exe, &di) && di.dli_fbase) self_base = (uintptr_t)di.dli_fbase;
    }
    Dl_info di;
    if (!dladdr(ret, &di)) return 1;
    return (uintptr_t)di.dli_fbase == self_base;
}

/* Counts one fallible call; 1 when it must fail. */
static int fault_now(int f, int mine)
{
    long target = atomic_load(&armed_target);
    if (target == 0) return 0;
    long n = atomic_fetch_add(&armed_count, 1) + 1;
    if (n < target || (n > target && !atomic_load(&armed_sticky))) return 0;
    if (n == target) { /* the armed fault (sticky: later calls fail too, they are not counted here) */
        atomic_store(&hit_from_clattn, mine);
        atomic_store(&hit_fn, f);
        atomic_fetch_add(&injected[f][mine ? 1 : 0], 1);
    }
    atomic_fetch_or(&failed_mask, 1ull << f);
    return 1;
}

static void count_obj(int mine, rel_obj t, long d) { atomic_fetch_add(&live[mine ? 1 : 0][t], d); }

static void *next_fn(const char *name) { return dlsym(RTLD_NEXT, name); }

/* Declares `real` (the next definition of fn, with fn's type) and `mine` (caller is libclattn). */
#define REAL(fn)                                                                                              \
    static __typeof__(&fn) real;                                                                              \
    if (!real) {                                                                                              \
        void *sym_ = next_fn(#fn);                                                                            \
        memcpy(&real, &sym_, sizeof real);                                                                    \
    }                                                                                                         \
    const int mine = from_exe(__builtin_return_address(0));                                                   \
    (void)mine

/* A fallible call returning cl_int. */
#define FAIL_INT(F)                                                                                           \
    if (fault_now(F, mine)) return fn_info[F].code
/* A creator (errcode_ret last). */
#define FAIL_CREATE(F, errcode_ret)                                                                           \
    if (fault_now(F, mine)) {                                                                                 \
        if (errcode_ret) *(errcode_ret) = fn_info[F].code;                                                    \
        return NULL;                                                                                          \
    }

/* The bodies of the wrappers below; the arguments after the first ones are the call's parameters, passed
 * on unchanged. FORWARD_INT: a fallible call returning cl_int. FORWARD_ENQUEUE: the same for an enqueue
 * (its last parameter `event`), counting the event it returns. FORWARD_CREATE: a creator whose last
 * parameter is errcode_ret, counting the object of type T it returns. RETAIN_RELEASE: adds d to the count
 * of T when the call succeeds; F < 0: never fails (a release). */
#define FORWARD_INT(fn, F, ...)                                                                               \
    {                                                                                                         \
        REAL(fn);                                                                                             \
        FAIL_INT(F);                                                                                          \
        return real(__VA_ARGS__);                                                                             \
    }
#define FORWARD_ENQUEUE(fn, F, ...)                                                                           \
    {                                                                                                         \
        REAL(fn);                                                                                             \
        FAIL_INT(F);                                                                                          \
        cl_int err_ = real(__VA_ARGS__);                                                                      \
        if (err_ == CL_SUCCESS && event && *event) count_obj(mine, REL_OBJ_EVENT, 1);                         \
        return err_;                                                                                          \
    }
#define FORWARD_CREATE(fn, F, T, ...)                                                                         \
    {                                                                                                         \
        REAL(fn);                                                                                             \
        FAIL_CREATE(F, errcode_ret);                                                                          \
        __typeof__(real(__VA_ARGS__)) obj_ = real(__VA_ARGS__);                                               \
        if (obj_) count_obj(mine, T, 1);                                                                      \
        return obj_;                                                                                          \
    }
#define RETAIN_RELEASE(fn, F, T, d)                                                                           \
    {                                                                                                         \
        REAL(fn);                                                                                             \
        if ((F) >= 0) FAIL_INT(F);                                                                            \
        cl_int err_ = real(obj);                                                                              \
        if (err_ == CL_SUCCESS) count_obj(mine, T, d);                                                        \
        return err_;                                                                                          \
    }

/* ---- platforms and devices ----------------------------------------------------------------------------- */

CL_API_ENTRY cl_int CL_API_CALL clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms)
    FORWARD_INT(clGetPlatformIDs, F_GetPlatformIDs, num_entries, platforms, num_platforms)

CL_API_ENTRY cl_int CL_API_CALL clGetPlatformInfo(cl_platform_id p, cl_platform_info param, size_t size, void *value,
                                                  size_t *size_ret)
    FORWARD_INT(clGetPlatformInfo, F_GetPlatformInfo, p, param, size, value, size_ret)

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceIDs(cl_platform_id p, cl_device_type type, cl_uint num_entries,
                                               cl_device_id *devices, cl_uint *num_devices)
    FORWARD_INT(clGetDeviceIDs, F_GetDeviceIDs, p, type, num_entries, devices, num_devices)

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id d, cl_device_info param, size_t size, void *value,
                                                size_t *size_ret)
    FORWARD_INT(clGetDeviceInfo, F_GetDeviceInfo, d, param, size, value, size_ret)

CL_API_ENTRY cl_int CL_API_CALL clRetainDevice(cl_device_id obj) RETAIN_RELEASE(clRetainDevice, F_RetainDevice, REL_OBJ_DEVICE, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseDevice(cl_device_id obj) RETAIN_RELEASE(clReleaseDevice, -1, REL_OBJ_DEVICE, -1)

/* ---- contexts and queues ----------------------------------------------------------------------------------- */

CL_API_ENTRY cl_context CL_API_CALL clCreateContext(const cl_context_properties *props, cl_uint num_devices,
                                                    const cl_device_id *devices,
                                                    void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *),
                                                    void *user_data, cl_int *errcode_ret)
    FORWARD_CREATE(clCreateContext, F_CreateContext, REL_OBJ_CONTEXT, props, num_devices, devices, notify, user_data,
                   errcode_ret)

CL_API_ENTRY cl_int CL_API_CALL clRetainContext(cl_context obj) RETAIN_RELEASE(clRetainContext, F_RetainContext, REL_OBJ_CONTEXT, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseContext(cl_context obj) RETAIN_RELEASE(clReleaseContext, -1, REL_OBJ_CONTEXT, -1)

CL_API_ENTRY cl_command_queue CL_API_CALL clCreateCommandQueue(cl_context c, cl_device_id d,
                                                               cl_command_queue_properties props, cl_int *errcode_ret)
    FORWARD_CREATE(clCreateCommandQueue, F_CreateCommandQueue, REL_OBJ_QUEUE, c, d, props, errcode_ret)

CL_API_ENTRY cl_int CL_API_CALL clRetainCommandQueue(cl_command_queue obj)
    RETAIN_RELEASE(clRetainCommandQueue, F_RetainCommandQueue, REL_OBJ_QUEUE, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseCommandQueue(cl_command_queue obj)
    RETAIN_RELEASE(clReleaseCommandQueue, -1, REL_OBJ_QUEUE, -1)

CL_API_ENTRY cl_int CL_API_CALL clGetCommandQueueInfo(cl_command_queue q, cl_command_queue_info param, size_t size,
                                                      void *value, size_t *size_ret)
    FORWARD_INT(clGetCommandQueueInfo, F_GetCommandQueueInfo, q, param, size, value, size_ret)

/* ---- buffers ------------------------------------------------------------------------------------------------- */

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context c, cl_mem_flags flags, size_t size, void *host,
                                               cl_int *errcode_ret)
    FORWARD_CREATE(clCreateBuffer, F_CreateBuffer, REL_OBJ_MEM, c, flags, size, host, errcode_ret)

CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem obj) RETAIN_RELEASE(clReleaseMemObject, -1, REL_OBJ_MEM, -1)

CL_API_ENTRY cl_int CL_API_CALL clGetMemObjectInfo(cl_mem m, cl_mem_info param, size_t size, void *value,
                                                   size_t *size_ret)
    FORWARD_INT(clGetMemObjectInfo, F_GetMemObjectInfo, m, param, size, value, size_ret)

/* ---- programs and kernels ------------------------------------------------------------------------------------- */

CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithSource(cl_context c, cl_uint count, const char **strings,
                                                              const size_t *lengths, cl_int *errcode_ret)
    FORWARD_CREATE(clCreateProgramWithSource, F_CreateProgramWithSource, REL_OBJ_PROGRAM, c, count, strings, lengths,
                   errcode_ret)

/* Also marks every device's binary_status invalid when it fails. */
CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithBinary(cl_context c, cl_uint num_devices,
                                                              const cl_device_id *devices, const size_t *lengths,
                                                              const unsigned char **binaries, cl_int *binary_status,
                                                              cl_int *errcode_ret)
{
    REAL(clCreateProgramWithBinary);
    if (fault_now(F_CreateProgramWithBinary, mine)) {
        if (binary_status)
            for (cl_uint i = 0; i < num_devices; i++) binary_status[i] = CL_INVALID_BINARY;
        if (errcode_ret) *errcode_ret = fn_info[F_CreateProgramWithBinary].code;
        return NULL;
    }
    cl_program p = real(c, num_devices, devices, lengths, binaries, binary_status, errcode_ret);
    if (p) count_obj(mine, REL_OBJ_PROGRAM, 1);
    return p;
}

CL_API_ENTRY cl_int CL_API_CALL clReleaseProgram(cl_program obj) RETAIN_RELEASE(clReleaseProgram, -1, REL_OBJ_PROGRAM, -1)

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program p, cl_uint num_devices, const cl_device_id *devices,
                                               const char *options, void(CL_CALLBACK *notify)(cl_program, void *),
                                               void *user_data)
    FORWARD_INT(clBuildProgram, F_BuildProgram, p, num_devices, devices, options, notify, user_data)

CL_API_ENTRY cl_int CL_API_CALL clGetProgramInfo(cl_program p, cl_program_info param, size_t size, void *value,
                                                 size_t *size_ret)
    FORWARD_INT(clGetProgramInfo, F_GetProgramInfo, p, param, size, value, size_ret)

CL_API_ENTRY cl_int CL_API_CALL clGetProgramBuildInfo(cl_program p, cl_device_id d, cl_program_build_info param,
                                                      size_t size, void *value, size_t *size_ret)
    FORWARD_INT(clGetProgramBuildInfo, F_GetProgramBuildInfo, p, d, param, size, value, size_ret)

CL_API_ENTRY cl_kernel CL_API_CALL clCreateKernel(cl_program p, const char *name, cl_int *errcode_ret)
    FORWARD_CREATE(clCreateKernel, F_CreateKernel, REL_OBJ_KERNEL, p, name, errcode_ret)

CL_API_ENTRY cl_int CL_API_CALL clReleaseKernel(cl_kernel obj) RETAIN_RELEASE(clReleaseKernel, -1, REL_OBJ_KERNEL, -1)

CL_API_ENTRY cl_int CL_API_CALL clSetKernelArg(cl_kernel k, cl_uint index, size_t size, const void *value)
    FORWARD_INT(clSetKernelArg, F_SetKernelArg, k, index, size, value)

CL_API_ENTRY cl_int CL_API_CALL clGetKernelWorkGroupInfo(cl_kernel k, cl_device_id d, cl_kernel_work_group_info param,
                                                         size_t size, void *value, size_t *size_ret)
    FORWARD_INT(clGetKernelWorkGroupInfo, F_GetKernelWorkGroupInfo, k, d, param, size, value, size_ret)

/* ---- commands and events ------------------------------------------------------------------------------------- */

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dim,
                                                       const size_t *offset, const size_t *global, const size_t *local,
                                                       cl_uint num_wait, const cl_event *wait_list, cl_event *event)
    FORWARD_ENQUEUE(clEnqueueNDRangeKernel, F_EnqueueNDRangeKernel, q, k, dim, offset, global, local, num_wait,
                    wait_list, event)

CL_API_ENTRY cl_int CL_API_CALL clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t offset,
                                                    size_t size, void *ptr, cl_uint num_wait, const cl_event *wait_list,
                                                    cl_event *event)
    FORWARD_ENQUEUE(clEnqueueReadBuffer, F_EnqueueReadBuffer, q, m, blocking, offset, size, ptr, num_wait, wait_list,
                    event)

CL_API_ENTRY cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t offset,
                                                     size_t size, const void *ptr, cl_uint num_wait,
                                                     const cl_event *wait_list, cl_event *event)
    FORWARD_ENQUEUE(clEnqueueWriteBuffer, F_EnqueueWriteBuffer, q, m, blocking, offset, size, ptr, num_wait, wait_list,
                    event)

CL_API_ENTRY cl_int CL_API_CALL clEnqueueCopyBuffer(cl_command_queue q, cl_mem src, cl_mem dst, size_t src_offset,
                                                    size_t dst_offset, size_t size, cl_uint num_wait,
                                                    const cl_event *wait_list, cl_event *event)
    FORWARD_ENQUEUE(clEnqueueCopyBuffer, F_EnqueueCopyBuffer, q, src, dst, src_offset, dst_offset, size, num_wait,
                    wait_list, event)

CL_API_ENTRY cl_int CL_API_CALL clEnqueueMarkerWithWaitList(cl_command_queue q, cl_uint num_wait,
                                                            const cl_event *wait_list, cl_event *event)
    FORWARD_ENQUEUE(clEnqueueMarkerWithWaitList, F_EnqueueMarkerWithWaitList, q, num_wait, wait_list, event)

CL_API_ENTRY cl_int CL_API_CALL clFinish(cl_command_queue q) FORWARD_INT(clFinish, F_Finish, q)

CL_API_ENTRY cl_int CL_API_CALL clWaitForEvents(cl_uint n, const cl_event *events)
    FORWARD_INT(clWaitForEvents, F_WaitForEvents, n, events)

CL_API_ENTRY cl_int CL_API_CALL clReleaseEvent(cl_event obj) RETAIN_RELEASE(clReleaseEvent, -1, REL_OBJ_EVENT, -1)
