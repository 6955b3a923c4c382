/*
 * Kernel launches chained on one in-order queue against the caller's clattn_sync (see launch.h).
 */
#include "launch.h"

clattn_cl_launch clattn_cl_launch_begin(cl_command_queue queue, const clattn_sync *sync)
{
    cl_event *event = sync->event;
    if (event) *event = NULL;
    return (clattn_cl_launch){queue, sync->num_wait, sync->wait_list, event != NULL, true, NULL};
}

clattn_status clattn_cl_launch_kernel(clattn_context *ctx, clattn_cl_launch *l, cl_kernel k, const char *kname,
                                      const size_t global[3], const size_t local[3])
{
    cl_event ev = NULL;
    cl_uint nw = l->first ? l->num_wait : 0;
    cl_int err = clEnqueueNDRangeKernel(l->queue, k, 3, NULL, global, local, nw, nw ? l->wait_list : NULL,
                                        l->want_event ? &ev : NULL);
    if (err != CL_SUCCESS)
        return clattn_error(ctx, err == CL_OUT_OF_HOST_MEMORY || err == CL_MEM_OBJECT_ALLOCATION_FAILURE
                                     ? CLATTN_ERROR_OUT_OF_MEMORY
                                     : CLATTN_ERROR_OPENCL,
                            "clEnqueueNDRangeKernel(%s, global %zux%zux%zu, local %zux%zux%zu) failed: %s (%d)", kname,
                            global[0], global[1], global[2], local[0], local[1], local[2],
                            clattn_cl_error_string(err), (int)err);
    if (l->last) clReleaseEvent(l->last);
    l->last = ev;
    l->first = false;
    return CLATTN_SUCCESS;
}

clattn_status clattn_cl_launch_end(clattn_context *ctx, clattn_cl_launch *l, const clattn_sync *sync, clattn_status st)
{
    cl_event *event = sync->event;
    if (st == CLATTN_SUCCESS && l->first && (l->num_wait > 0 || l->want_event)) {
        /* Nothing enqueued (no validated problem gets here, every size is >= 1; kept so that the event
         * contract holds for any caller): still honour the wait list and return an event. */
        CLATTN_CL_CHECK(clEnqueueMarkerWithWaitList(l->queue, l->num_wait, l->num_wait ? l->wait_list : NULL,
                                                    l->want_event ? &l->last : NULL));
    }
    if (st == CLATTN_SUCCESS && event) {
        *event = l->last;
        l->last = NULL;
    }
cleanup:
    if (l->last) clReleaseEvent(l->last);
    l->last = NULL;
    return st;
}
