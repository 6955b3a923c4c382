/*
 * Host binary16 <-> binary32 staging for the fp16 SDPA path (see half.h for the rounding rules).
 *
 * Rows (the last dim) are converted with the array forms; with unit stride along the last dim the
 * F16C variant (x86-64, chosen at run time from CPUID, never -march) converts 8
 * values per instruction. F16C's VCVTPS2PH with round-to-nearest-even gives the same bits as the
 * portable code, NaN included (quiet bit set, top payload bits kept).
 *
 * bf16 rows: the AVX2 variant (chosen at run time) widens 8 values per instruction (zero-extend, shift by
 * 16) and rounds 8 per step with the scalar code's integer recipe (add 0x7fff + lsb, NaN lanes take the
 * truncated bits | 0x0040), so both give the same bits.
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

typedef void (*row_in_fn)(const uint16_t *src, float *dst, size_t n, bool use_simd);
typedef void (*row_out_fn)(const float *src, uint16_t *dst, size_t n, bool use_simd);

static void view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                        float *dst, bool use_simd, row_in_fn row_fn, float (*one)(uint16_t))
{
    const int64_t n3 = dims[3], s3 = strides[3];
    for (int64_t a = 0; a < dims[0]; a++)
        for (int64_t b = 0; b < dims[1]; b++)
            for (int64_t c = 0; c < dims[2]; c++) {
                const uint16_t *row = src + offset + a * strides[0] + b * strides[1] + c * strides[2];
                if (s3 == 1 || n3 == 1) {
                    row_fn(row, dst, (size_t)n3, use_simd);
                } else {
                    for (int64_t e = 0; e < n3; e++) dst[e] = one(row[e * s3]);
                }
                dst += n3;
            }
}

static void f32_to_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                        int64_t offset, bool use_simd, row_out_fn row_fn, uint16_t (*one)(float))
{
    const int64_t n3 = dims[3], s3 = strides[3];
    for (int64_t a = 0; a < dims[0]; a++)
        for (int64_t b = 0; b < dims[1]; b++)
            for (int64_t c = 0; c < dims[2]; c++) {
                uint16_t *row = dst + offset + a * strides[0] + b * strides[1] + c * strides[2];
                if (s3 == 1 || n3 == 1) {
                    row_fn(src, row, (size_t)n3, use_simd);
                } else {
                    for (int64_t e = 0; e < n3; e++) row[e * s3] = one(src[e]);
                }
                src += n3;
            }
}

static float half_one(uint16_t h) { return clattn_half_to_float(h); }
static uint16_t half_out_one(float f) { return clattn_float_to_half(f); }
static float bf16_one(uint16_t h) { return clattn_bf16_to_float(h); }
static uint16_t bf16_out_one(float f) { return clattn_float_to_bf16(f); }

void clattn_half_view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                             float *dst, bool use_simd)
{
    view_to_f32(src, dims, strides, offset, dst, use_simd, clattn_half_to_float_n, half_one);
}

void clattn_f32_to_half_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                             int64_t offset, bool use_simd)
{
    f32_to_view(src, dst, dims, strides, offset, use_simd, clattn_float_to_half_n, half_out_one);
}

void clattn_bf16_view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                             float *dst, bool use_simd)
{
    view_to_f32(src, dims, strides, offset, dst, use_simd, clattn_bf16_to_float_n, bf16_one);
}

void clattn_f32_to_bf16_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                             int64_t offset, bool use_simd)
{
    f32_to_view(src, dst, dims, strides, offset, use_simd, clattn_float_to_bf16_n, bf16_out_one);
}

/* ---- bf16 ------------------------------------------------------------------------------------- */

bool clattn_bf16_simd_available(void)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

#ifdef CLATTN_HAVE_F16C_BUILD
__attribute__((target("avx2"))) static void bf2f_avx2(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(src + i)));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_slli_epi32(w, 16));
    }
    for (; i < n; i++) dst[i] = clattn_bf16_to_float(src[i]);
}

__attribute__((target("avx2"))) static void f2bf_avx2(const float *src, uint16_t *dst, size_t n)
{
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), absm = _mm256_set1_epi32(0x7fffffff),
                  inf = _mm256_set1_epi32(0x7f800000), quiet = _mm256_set1_epi32(0x0040);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)), 16);
        const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
        const __m256i h = _mm256_blendv_epi8(r, q, nan); /* each lane <= 0xffff */
        const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), packed);
    }
    for (; i < n; i++) dst[i] = clattn_float_to_bf16(src[i]);
}
#endif

void clattn_bf16_to_float_n(const uint16_t *src, float *dst, size_t n, bool use_simd)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    if (use_simd) {
        bf2f_avx2(src, dst, n);
        return;
    }
#else
    (void)use_simd;
#endif
    for (size_t i = 0; i < n; i++) dst[i] = clattn_bf16_to_float(src[i]);
}

void clattn_float_to_bf16_n(const float *src, uint16_t *dst, size_t n, bool use_simd)
{
#ifdef CLATTN_HAVE_F16C_BUILD
    if (use_simd) {
        f2bf_avx2(src, dst, n);
        return;
    }
#else
    (void)use_simd;
#endif
    for (size_t i = 0; i < n; i++) dst[i] = clattn_float_to_bf16(src[i]);
}
