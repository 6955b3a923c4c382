/*
 * rel_oclgrind_keep_buffers: an LD_PRELOAD module for test programs run under `oclgrind --uninitialized` that
 * do not link rel_cl_shim.c (test_mask16, test_channel, ...). Its clReleaseMemObject keeps every buffer whose
 * last reference is being released (the program's other releases are forwarded); the kept buffers are freed
 * with the process. Same workaround as rel_cl_shim.c's rel_keep_buffers, for the same Oclgrind 21.10 defect
 * (RELIABILITY.md, section 1; rel_oclgrind_slot_reuse.c reproduces it):
 *
 *   Oclgrind numbers buffers by slot and reuses the slot of a released buffer (core/Memory.cpp, a FIFO of free
 *   slots). Its Uninitialized plugin keeps one shadow ("initialised") map per slot and has no hook for a
 *   release, so a new buffer in a reused slot keeps the old buffer's map, with the old size:
 *   Uninitialized::kernelBegin allocates a fresh, poisoned map only when the slot has none, and
 *   ShadowMemory::store drops every kernel store past the map's size while ShadowMemory::load answers
 *   "poisoned" there. Every byte past the old size then reads as uninitialised even after a kernel wrote it.
 *
 * Keeping the buffers means no slot is reused, so a fresh buffer is still poisoned until written: a read of
 * memory no kernel or host call wrote is still reported (test oclgrind.slot_reuse.keep_buffers_real).
 *
 * Use (the oclgrind launcher puts its runtime first in LD_PRELOAD, so this module has to be put in front of it
 * after the launcher ran):
 *   oclgrind --uninitialized sh -c 'LD_PRELOAD=<this .so>:$LD_PRELOAD exec "$0" "$@"' <program> [args]
 */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>

typedef cl_int(CL_API_CALL *release_mem_fn)(cl_mem);

CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem mem)
{
    static release_mem_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "clReleaseMemObject");
        real = *(release_mem_fn *)&sym;
    }
    if (!real) return CL_INVALID_MEM_OBJECT;
    cl_uint refs = 0;
    if (mem && clGetMemObjectInfo(mem, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL) == CL_SUCCESS && refs == 1)
        return CL_SUCCESS; /* kept: its Oclgrind slot is never reused */
    return real(mem);
}
