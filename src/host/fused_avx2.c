/*
 * AVX2 + FMA instance of the fused host kernel (fused_kernel.c): 8 lanes, Q·Kᵀ micro-kernel of
 * 4 rows x 16 keys, P·V micro-kernel of 4 rows x 16 floats of Dv. Only this file is compiled for
 * the target (by the pragma below; the rest of the library stays baseline and the build never uses
 * -march=native); it runs only where __builtin_cpu_supports reports avx2 and fma (fused.c), and for
 * float16 plans read natively only where the CPU also has F16C (host_fused_reads_dtype).
 */
#if defined(__x86_64__) && defined(__GNUC__)
/* headers first, so that only this file's own functions get the target */
#include "fused.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif
#define HF_ISA avx2
#define HF_W 8
#define HF_QK_R 4
#define HF_PV_NV 2
#define HF_FMA _mm256_fmadd_ps
#define HF_SPLAT _mm256_set1_ps
#define HF_F16C 1 /* fp16 loads/stores with VCVTPH2PS / VCVTPS2PH (16-bit plans run here only with F16C: fused.c) */
#include "fused_kernel.c"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* ISO C forbids an empty translation unit */
typedef int host_simd_avx2_unused;
#endif
