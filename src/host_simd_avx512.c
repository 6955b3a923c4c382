/*
 * AVX-512F instance of the fused host kernel (host_flash_kernel.c): 16 lanes, Q·Kᵀ micro-kernel of
 * 8 rows x 32 keys, P·V micro-kernel of 4 rows x 64 floats of Dv. Compiled for the target by the
 * pragma below (the rest of the library stays baseline); run only where __builtin_cpu_supports
 * reports avx512f (host_flash.c).
 */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma,avx512f")
#define HF_ISA avx512
#define HF_W 16
#include <immintrin.h>
#define HF_FMA _mm512_fmadd_ps
#define HF_SPLAT _mm512_set1_ps
#define HF_QK_R 8
#define HF_PV_NV 4
#include "host_flash_kernel.c"
#else
typedef int host_simd_avx512_unused;
#endif
