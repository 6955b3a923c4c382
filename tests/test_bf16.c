/*
 * test_bf16: SDPA with bfloat16 q, k, v and out (clattn_sdpa_desc.data_type = CLATTN_DTYPE_BF16) on the
 * backend chosen by CLATTN_DEVICE (exit 77 when absent): tests/test_f16.c built for bfloat16 (see its
 * header: the same cases, poisoned outputs and gaps, NaN/inf confinement, ties to even, workspace, errors and
 * cl_mem enqueue; reference = double-precision attention on the bf16 inputs, rounded to bf16; tolerance
 * 1 bf16 ulp at max(|ref|, |got|) + TU_TOL_F32 * max(1, max |ref|)).
 */
#define CLATTN_TEST_BF16 1
#include "test_f16.c"
