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

/* Declares `real` (the next definition of the current function) and `mine` (caller is libclattn). */
#define REAL(type, name)                                                                                      \
    static type real;                                                                                         \
    if (!real) {                                                                                              \
        void *sym_ = next_fn(name);                                                                           \
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

/* ---- platforms and devices ----------------------------------------------------------------------------- */

typedef cl_int(CL_API_CALL *get_platform_ids_fn)(cl_uint, cl_platform_id *, cl_uint *);
CL_API_ENTRY cl_int CL_API_CALL clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms)
{
    REAL(get_platform_ids_fn, "clGetPlatformIDs");
    FAIL_INT(F_GetPlatformIDs);
    return real(num_entries, platforms, num_platforms);
}

typedef cl_int(CL_API_CALL *get_platform_info_fn)(cl_platform_id, cl_platform_info, size_t, void *, size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetPlatformInfo(cl_platform_id p, cl_platform_info param, size_t size, void *value,
                                                  size_t *size_ret)
{
    REAL(get_platform_info_fn, "clGetPlatformInfo");
    FAIL_INT(F_GetPlatformInfo);
    return real(p, param, size, value, size_ret);
}

typedef cl_int(CL_API_CALL *get_device_ids_fn)(cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *);
CL_API_ENTRY cl_int CL_API_CALL clGetDeviceIDs(cl_platform_id p, cl_device_type type, cl_uint num_entries,
                                               cl_device_id *devices, cl_uint *num_devices)
{
    REAL(get_device_ids_fn, "clGetDeviceIDs");
    FAIL_INT(F_GetDeviceIDs);
    return real(p, type, num_entries, devices, num_devices);
}

typedef cl_int(CL_API_CALL *get_device_info_fn)(cl_device_id, cl_device_info, size_t, void *, size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id d, cl_device_info param, size_t size, void *value,
                                                size_t *size_ret)
{
    REAL(get_device_info_fn, "clGetDeviceInfo");
    FAIL_INT(F_GetDeviceInfo);
    return real(d, param, size, value, size_ret);
}

typedef cl_int(CL_API_CALL *obj_fn)(void *);
#define RETAIN_RELEASE(fn, F, T, d)                                                                           \
    {                                                                                                         \
        REAL(obj_fn, #fn);                                                                                    \
        if ((F) >= 0) FAIL_INT(F);                                                                            \
        cl_int err_ = real((void *)obj);                                                                      \
        if (err_ == CL_SUCCESS) count_obj(mine, T, d);                                                        \
        return err_;                                                                                          \
    }

CL_API_ENTRY cl_int CL_API_CALL clRetainDevice(cl_device_id obj) RETAIN_RELEASE(clRetainDevice, F_RetainDevice, REL_OBJ_DEVICE, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseDevice(cl_device_id obj) RETAIN_RELEASE(clReleaseDevice, -1, REL_OBJ_DEVICE, -1)

/* ---- contexts and queues ----------------------------------------------------------------------------------- */

typedef void(CL_CALLBACK *ctx_notify_fn)(const char *, const void *, size_t, void *);
typedef cl_context(CL_API_CALL *create_context_fn)(const cl_context_properties *, cl_uint, const cl_device_id *,
                                                   ctx_notify_fn, void *, cl_int *);
CL_API_ENTRY cl_context CL_API_CALL clCreateContext(const cl_context_properties *props, cl_uint num_devices,
                                                    const cl_device_id *devices, ctx_notify_fn notify,
                                                    void *user_data, cl_int *errcode_ret)
{
    REAL(create_context_fn, "clCreateContext");
    FAIL_CREATE(F_CreateContext, errcode_ret);
    cl_context c = real(props, num_devices, devices, notify, user_data, errcode_ret);
    if (c) count_obj(mine, REL_OBJ_CONTEXT, 1);
    return c;
}

CL_API_ENTRY cl_int CL_API_CALL clRetainContext(cl_context obj) RETAIN_RELEASE(clRetainContext, F_RetainContext, REL_OBJ_CONTEXT, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseContext(cl_context obj) RETAIN_RELEASE(clReleaseContext, -1, REL_OBJ_CONTEXT, -1)

typedef cl_command_queue(CL_API_CALL *create_queue_fn)(cl_context, cl_device_id, cl_command_queue_properties, cl_int *);
CL_API_ENTRY cl_command_queue CL_API_CALL clCreateCommandQueue(cl_context c, cl_device_id d,
                                                               cl_command_queue_properties props, cl_int *errcode_ret)
{
    REAL(create_queue_fn, "clCreateCommandQueue");
    FAIL_CREATE(F_CreateCommandQueue, errcode_ret);
    cl_command_queue q = real(c, d, props, errcode_ret);
    if (q) count_obj(mine, REL_OBJ_QUEUE, 1);
    return q;
}

CL_API_ENTRY cl_int CL_API_CALL clRetainCommandQueue(cl_command_queue obj)
    RETAIN_RELEASE(clRetainCommandQueue, F_RetainCommandQueue, REL_OBJ_QUEUE, 1)
CL_API_ENTRY cl_int CL_API_CALL clReleaseCommandQueue(cl_command_queue obj)
    RETAIN_RELEASE(clReleaseCommandQueue, -1, REL_OBJ_QUEUE, -1)

typedef cl_int(CL_API_CALL *get_queue_info_fn)(cl_command_queue, cl_command_queue_info, size_t, void *, size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetCommandQueueInfo(cl_command_queue q, cl_command_queue_info param, size_t size,
                                                      void *value, size_t *size_ret)
{
    REAL(get_queue_info_fn, "clGetCommandQueueInfo");
    FAIL_INT(F_GetCommandQueueInfo);
    return real(q, param, size, value, size_ret);
}

/* ---- buffers ------------------------------------------------------------------------------------------------- */

typedef cl_mem(CL_API_CALL *create_buffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context c, cl_mem_flags flags, size_t size, void *host,
                                               cl_int *errcode_ret)
{
    REAL(create_buffer_fn, "clCreateBuffer");
    FAIL_CREATE(F_CreateBuffer, errcode_ret);
    cl_mem m = real(c, flags, size, host, errcode_ret);
    if (m) count_obj(mine, REL_OBJ_MEM, 1);
    return m;
}

CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem obj) RETAIN_RELEASE(clReleaseMemObject, -1, REL_OBJ_MEM, -1)

typedef cl_int(CL_API_CALL *get_mem_info_fn)(cl_mem, cl_mem_info, size_t, void *, size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetMemObjectInfo(cl_mem m, cl_mem_info param, size_t size, void *value,
                                                   size_t *size_ret)
{
    REAL(get_mem_info_fn, "clGetMemObjectInfo");
    FAIL_INT(F_GetMemObjectInfo);
    return real(m, param, size, value, size_ret);
}

/* ---- programs and kernels ------------------------------------------------------------------------------------- */

typedef cl_program(CL_API_CALL *create_prog_src_fn)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithSource(cl_context c, cl_uint count, const char **strings,
                                                              const size_t *lengths, cl_int *errcode_ret)
{
    REAL(create_prog_src_fn, "clCreateProgramWithSource");
    FAIL_CREATE(F_CreateProgramWithSource, errcode_ret);
    cl_program p = real(c, count, strings, lengths, errcode_ret);
    if (p) count_obj(mine, REL_OBJ_PROGRAM, 1);
    return p;
}

typedef cl_program(CL_API_CALL *create_prog_bin_fn)(cl_context, cl_uint, const cl_device_id *, const size_t *,
                                                    const unsigned char **, cl_int *, cl_int *);
CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithBinary(cl_context c, cl_uint num_devices,
                                                              const cl_device_id *devices, const size_t *lengths,
                                                              const unsigned char **binaries, cl_int *binary_status,
                                                              cl_int *errcode_ret)
{
    REAL(create_prog_bin_fn, "clCreateProgramWithBinary");
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

typedef void(CL_CALLBACK *build_notify_fn)(cl_program, void *);
typedef cl_int(CL_API_CALL *build_program_fn)(cl_program, cl_uint, const cl_device_id *, const char *,
                                              build_notify_fn, void *);
CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program p, cl_uint num_devices, const cl_device_id *devices,
                                               const char *options, build_notify_fn notify, void *user_data)
{
    REAL(build_program_fn, "clBuildProgram");
    FAIL_INT(F_BuildProgram);
    return real(p, num_devices, devices, options, notify, user_data);
}

typedef cl_int(CL_API_CALL *get_program_info_fn)(cl_program, cl_program_info, size_t, void *, size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetProgramInfo(cl_program p, cl_program_info param, size_t size, void *value,
                                                 size_t *size_ret)
{
    REAL(get_program_info_fn, "clGetProgramInfo");
    FAIL_INT(F_GetProgramInfo);
    return real(p, param, size, value, size_ret);
}

typedef cl_int(CL_API_CALL *get_build_info_fn)(cl_program, cl_device_id, cl_program_build_info, size_t, void *,
                                               size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetProgramBuildInfo(cl_program p, cl_device_id d, cl_program_build_info param,
                                                      size_t size, void *value, size_t *size_ret)
{
    REAL(get_build_info_fn, "clGetProgramBuildInfo");
    FAIL_INT(F_GetProgramBuildInfo);
    return real(p, d, param, size, value, size_ret);
}

typedef cl_kernel(CL_API_CALL *create_kernel_fn)(cl_program, const char *, cl_int *);
CL_API_ENTRY cl_kernel CL_API_CALL clCreateKernel(cl_program p, const char *name, cl_int *errcode_ret)
{
    REAL(create_kernel_fn, "clCreateKernel");
    FAIL_CREATE(F_CreateKernel, errcode_ret);
    cl_kernel k = real(p, name, errcode_ret);
    if (k) count_obj(mine, REL_OBJ_KERNEL, 1);
    return k;
}

CL_API_ENTRY cl_int CL_API_CALL clReleaseKernel(cl_kernel obj) RETAIN_RELEASE(clReleaseKernel, -1, REL_OBJ_KERNEL, -1)

typedef cl_int(CL_API_CALL *set_arg_fn)(cl_kernel, cl_uint, size_t, const void *);
CL_API_ENTRY cl_int CL_API_CALL clSetKernelArg(cl_kernel k, cl_uint index, size_t size, const void *value)
{
    REAL(set_arg_fn, "clSetKernelArg");
    FAIL_INT(F_SetKernelArg);
    return real(k, index, size, value);
}

typedef cl_int(CL_API_CALL *get_kwg_info_fn)(cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void *,
                                             size_t *);
CL_API_ENTRY cl_int CL_API_CALL clGetKernelWorkGroupInfo(cl_kernel k, cl_device_id d, cl_kernel_work_group_info param,
                                                         size_t size, void *value, size_t *size_ret)
{
    REAL(get_kwg_info_fn, "clGetKernelWorkGroupInfo");
    FAIL_INT(F_GetKernelWorkGroupInfo);
    return real(k, d, param, size, value, size_ret);
}

/* ---- commands and events ------------------------------------------------------------------------------------- */

/* After an enqueue that succeeded and returned an event. */
#define COUNT_EVENT(err, event)                                                                               \
    if ((err) == CL_SUCCESS && (event) && *(event)) count_obj(mine, REL_OBJ_EVENT, 1)

typedef cl_int(CL_API_CALL *enqueue_nd_fn)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                                           const size_t *, cl_uint, const cl_event *, cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dim,
                                                       const size_t *offset, const size_t *global, const size_t *local,
                                                       cl_uint num_wait, const cl_event *wait_list, cl_event *event)
{
    REAL(enqueue_nd_fn, "clEnqueueNDRangeKernel");
    FAIL_INT(F_EnqueueNDRangeKernel);
    cl_int err = real(q, k, dim, offset, global, local, num_wait, wait_list, event);
    COUNT_EVENT(err, event);
    return err;
}

typedef cl_int(CL_API_CALL *enqueue_read_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                                             const cl_event *, cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clEnqueueReadBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t offset,
                                                    size_t size, void *ptr, cl_uint num_wait, const cl_event *wait_list,
                                                    cl_event *event)
{
    REAL(enqueue_read_fn, "clEnqueueReadBuffer");
    FAIL_INT(F_EnqueueReadBuffer);
    cl_int err = real(q, m, blocking, offset, size, ptr, num_wait, wait_list, event);
    COUNT_EVENT(err, event);
    return err;
}

typedef cl_int(CL_API_CALL *enqueue_write_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                                              const cl_event *, cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, size_t offset,
                                                     size_t size, const void *ptr, cl_uint num_wait,
                                                     const cl_event *wait_list, cl_event *event)
{
    REAL(enqueue_write_fn, "clEnqueueWriteBuffer");
    FAIL_INT(F_EnqueueWriteBuffer);
    cl_int err = real(q, m, blocking, offset, size, ptr, num_wait, wait_list, event);
    COUNT_EVENT(err, event);
    return err;
}

typedef cl_int(CL_API_CALL *enqueue_copy_fn)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint,
                                             const cl_event *, cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clEnqueueCopyBuffer(cl_command_queue q, cl_mem src, cl_mem dst, size_t src_offset,
                                                    size_t dst_offset, size_t size, cl_uint num_wait,
                                                    const cl_event *wait_list, cl_event *event)
{
    REAL(enqueue_copy_fn, "clEnqueueCopyBuffer");
    FAIL_INT(F_EnqueueCopyBuffer);
    cl_int err = real(q, src, dst, src_offset, dst_offset, size, num_wait, wait_list, event);
    COUNT_EVENT(err, event);
    return err;
}

typedef cl_int(CL_API_CALL *enqueue_marker_fn)(cl_command_queue, cl_uint, const cl_event *, cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clEnqueueMarkerWithWaitList(cl_command_queue q, cl_uint num_wait,
                                                            const cl_event *wait_list, cl_event *event)
{
    REAL(enqueue_marker_fn, "clEnqueueMarkerWithWaitList");
    FAIL_INT(F_EnqueueMarkerWithWaitList);
    cl_int err = real(q, num_wait, wait_list, event);
    COUNT_EVENT(err, event);
    return err;
}

typedef cl_int(CL_API_CALL *finish_fn)(cl_command_queue);
CL_API_ENTRY cl_int CL_API_CALL clFinish(cl_command_queue q)
{
    REAL(finish_fn, "clFinish");
    FAIL_INT(F_Finish);
    return real(q);
}

typedef cl_int(CL_API_CALL *wait_fn)(cl_uint, const cl_event *);
CL_API_ENTRY cl_int CL_API_CALL clWaitForEvents(cl_uint n, const cl_event *events)
{
    REAL(wait_fn, "clWaitForEvents");
    FAIL_INT(F_WaitForEvents);
    return real(n, events);
}

CL_API_ENTRY cl_int CL_API_CALL clReleaseEvent(cl_event obj) RETAIN_RELEASE(clReleaseEvent, -1, REL_OBJ_EVENT, -1)
