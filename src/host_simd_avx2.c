/*
 * AVX2 + FMA instance of the fused host kernel (host_flash_kernel.c): 8 lanes, Q·Kᵀ micro-kernel of
 * 4 rows x 16 keys, P·V micro-kernel of 4 rows x 16 floats of Dv. Compiled for the target by the
 * pragma below (the rest of the library stays baseline); run only where __builtin_cpu_supports
 * reports avx2 and fma (host_flash.c).
 */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma")
#define HF_ISA avx2
#define HF_W 8
#include <immintrin.h>
#define HF_FMA _mm256_fmadd_ps
#define HF_SPLAT _mm256_set1_ps
#define HF_QK_R 4
#define HF_PV_NV 2
#include "host_flash_kernel.c"
#else
/* ISO C forbids an empty translation unit */
typedef int host_simd_avx2_unused;
#endif
