/*
 * AVX-512F instance of the fused host kernel (fused_kernel.c): 16 lanes, Q·Kᵀ micro-kernel of
 * 8 rows x 32 keys, P·V micro-kernel of 4 rows x 64 floats of Dv, exp with vscalefps. Only this
 * file is compiled for the target (by the pragma below; the rest of the library stays baseline and
 * the build never uses -march=native); it runs only where __builtin_cpu_supports reports avx512f
 * (fused.c).
 */
#if defined(__x86_64__) && defined(__GNUC__)
/* headers first, so that only this file's own functions get the target */
#include "fused.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,avx512f")
#endif
#define HF_ISA avx512
#define HF_W 16
#define HF_QK_R 8
#define HF_PV_NV 4
#define HF_FMA _mm512_fmadd_ps
#define HF_SPLAT _mm512_set1_ps
#define HF_AVX512 1
#include "fused_kernel.c"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* ISO C forbids an empty translation unit */
typedef int host_simd_avx512_unused;
#endif
