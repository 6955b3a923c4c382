/*
 * Host binary16 <-> binary32 staging for the fp16 SDPA path (see half.h for the rounding rules).
 *
 * Rows (the last dim) are converted with the array forms; with unit stride along the last dim the
 * F16C variant (x86-64, chosen at run time from CPUID, never -march) converts 8
 * values per instruction. F16C's VCVTPS2PH with round-to-nearest-even gives the same bits as the
 * portable code, NaN included (quiet bit set, top payload bits kept).
 */
#include "fp16.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define CLATTN_HAVE_F16C_BUILD 1
#include <cpuid.h>
#include <immintrin.h>
#endif

bool clattn_half_simd_available(void)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    /* F16C from CPUID leaf 1 (ECX bit 29): Clang 14's __builtin_cpu_supports does not know "f16c".
     * "avx" also covers the OS saving the YMM state. */
    unsigned a, b, c, d;
    __builtin_cpu_init();
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1u) && __builtin_cpu_supports("avx");
#else
    return false;
#endif
}

#ifdef CLATTN_HAVE_F16C_BUILD
__attribute__((target("avx,f16c"))) static void h2f_f16c(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) dst[i] = clattn_half_to_float(src[i]);
}

__attribute__((target("avx,f16c"))) static void f2h_f16c(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = clattn_float_to_half(src[i]);
}
#endif

void clattn_half_to_float_n(const uint16_t *src, float *dst, size_t n, bool use_simd)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    if (use_simd) {
        h2f_f16c(src, dst, n);
        return;
    }
#else
    (void)use_simd;
#endif
    for (size_t i = 0; i < n; i++) dst[i] = clattn_half_to_float(src[i]);
}

void clattn_float_to_half_n(const float *src, uint16_t *dst, size_t n, bool use_simd)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    if (use_simd) {
        f2h_f16c(src, dst, n);
        return;
    }
#else
    (void)use_simd;
#endif
    for (size_t i = 0; i < n; i++) dst[i] = clattn_float_to_half(src[i]);
}

void clattn_half_view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                             float *dst, bool use_simd)
{
    const int64_t n3 = dims[3], s3 = strides[3];
    for (int64_t a = 0; a < dims[0]; a++)
        for (int64_t b = 0; b < dims[1]; b++)
            for (int64_t c = 0; c < dims[2]; c++) {
                const uint16_t *row = src + offset + a * strides[0] + b * strides[1] + c * strides[2];
                if (s3 == 1 || n3 == 1) {
                    clattn_half_to_float_n(row, dst, (size_t)n3, use_simd);
                } else {
                    for (int64_t e = 0; e < n3; e++) dst[e] = clattn_half_to_float(row[e * s3]);
                }
                dst += n3;
            }
}

void clattn_f32_to_half_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                             int64_t offset, bool use_simd)
{
    const int64_t n3 = dims[3], s3 = strides[3];
    for (int64_t a = 0; a < dims[0]; a++)
        for (int64_t b = 0; b < dims[1]; b++)
            for (int64_t c = 0; c < dims[2]; c++) {
                uint16_t *row = dst + offset + a * strides[0] + b * strides[1] + c * strides[2];
                if (s3 == 1 || n3 == 1) {
                    clattn_float_to_half_n(src, row, (size_t)n3, use_simd);
                } else {
                    for (int64_t e = 0; e < n3; e++) row[e * s3] = clattn_float_to_half(src[e]);
                }
                src += n3;
            }
}
