/*
 * Test-only OpenCL fault injection for test_faults (see rel_fault_shim.c): the executable defines the
 * OpenCL entry points that libclattn (linked statically into it) and libclblast.so call; each one counts
 * the call and, when it is the armed n-th one, returns an error without calling the driver. The shim
 * also keeps a balance of the OpenCL objects each module created (create + retain - release), so a test
 * can prove that clattn released everything after an injected failure (LeakSanitizer cannot see driver
 * objects: PoCL's are suppressed, see lsan.supp).
 */
#ifndef CLATTN_REL_FAULT_SHIM_H
#define CLATTN_REL_FAULT_SHIM_H

#include <stdio.h>

#include "clattn_opencl.h"

/* From the next fallible call on, the n-th one (n >= 1) fails, and every later one too when sticky is
 * nonzero; n = 0 disarms (and keeps the record of what the last armed run hit). Resets the call counter
 * (and, when n > 0, the record of the hit). Release calls (clRelease*)
 * only count objects, they never fail. */
void rel_fault_cl_arm(long n, int sticky);
/* Fallible OpenCL calls since the last rel_fault_cl_arm() (the failed one included). */
long rel_fault_cl_count(void);
/* The function the armed fault hit first, its error code and whether the caller was libclattn (1) or another
 * module (0: CLBlast); NULL when nothing was hit since the last arm. */
const char *rel_fault_cl_hit(cl_int *code, int *from_clattn);

/* 1 when msg names a function that was failed since the last arm, or its error code (sticky mode: the
 * call may report a later fault than the first one). */
int rel_fault_cl_names_a_fault(const char *msg);

/* Objects tracked per module. */
typedef enum rel_obj {
    REL_OBJ_MEM,
    REL_OBJ_PROGRAM,
    REL_OBJ_KERNEL,
    REL_OBJ_EVENT,
    REL_OBJ_QUEUE,
    REL_OBJ_CONTEXT,
    REL_OBJ_DEVICE,
    REL_OBJ_COUNT
} rel_obj;
const char *rel_obj_name(rel_obj t);
/* Objects created (or retained) minus released by calls from libclattn (from_clattn = 1) or from other
 * modules (0). */
long rel_fault_live(int from_clattn, rel_obj t);

/* Armed faults so far per function (the n-th calls of every arm; not the later calls a sticky arm also
 * fails), one line per function hit, to f. Returns the total. */
long rel_fault_cl_report(FILE *f, const char *indent);

#endif /* CLATTN_REL_FAULT_SHIM_H */
