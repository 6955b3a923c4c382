/*
 * IEEE 754 binary16 ("half", fp16) <-> binary32 conversion on the host.
 *
 * The scalar conversions are static inline and depend on nothing but <stdint.h>/<string.h>, so the
 * command-line tool (tools/half.c) uses the same code as the library. The view conversions (half.c)
 * stage a strided 4-D view to or from a contiguous float32 array for the fp16 SDPA path (sdpa.c),
 * with an F16C variant chosen at run time on x86-64.
 *
 * bfloat16 ("bf16", the high half of a binary32; PyTorch's torch.bfloat16) <-> binary32 lives here too:
 *   bf16 -> binary32 is exact (the 16 bits shifted up: subnormals, +-0, +-inf, NaN payloads kept).
 *   binary32 -> bf16 rounds to nearest, ties to even, on the bit pattern (so binary32 subnormals round to
 *   bf16 subnormals or +-0, and values past the largest bf16, 0x7f7f = 3.3895e38, round to +-inf exactly
 *   as IEEE RNE says); NaN stays NaN: the top 16 bits with the quiet bit (0x0040) set, sign and the top 6
 *   payload bits kept (never rounded into an infinity).
 *
 * binary16 rules (both directions, every path):
 *   binary16 -> binary32 is exact: subnormals, +-0, +-inf and NaN (sign and payload) are kept (the F16C
 *   variant sets the quiet bit of a signalling NaN, as VCVTPH2PS does; a NaN stays a NaN either way).
 *   binary32 -> binary16 rounds to nearest, ties to even. |x| >= 65520 gives +-inf, tiny values give
 *   binary16 subnormals or +-0, NaN stays NaN (quiet bit set, sign and the top 9 payload bits kept).
 */
#ifndef CLATTN_HALF_H
#define CLATTN_HALF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float clattn_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu, u;
    if (exp == 0x1f) { /* inf or NaN: keep the payload */
        u = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else { /* subnormal: value = mant * 2^-24; normalise */
            uint32_t e = 0;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                e++;
            }
            u = sign | ((uint32_t)(127 - 15 + 1 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t clattn_float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t exp = (u >> 23) & 0xffu;
    const uint32_t mant = u & 0x7fffffu;
    if (exp == 0xff) {
        if (mant == 0) return (uint16_t)(sign | 0x7c00u);               /* inf */
        return (uint16_t)(sign | 0x7e00u | (mant >> 13));                /* NaN, quiet */
    }
    const int32_t e = (int32_t)exp - 127 + 15; /* biased binary16 exponent */
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u); /* overflow before rounding */
    if (e <= 0) {
        /* binary16 subnormal or zero: value = m * 2^-24 with m = round(|f| * 2^24) */
        if (e < -10) return sign; /* |f| < 2^-25 (2^-25 itself ties to even: 0) */
        const uint32_t m = mant | 0x800000u;      /* value = m * 2^(exp - 150) */
        const uint32_t shift = (uint32_t)(14 - e); /* 14..24 */
        uint32_t q = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q); /* q may reach 0x400, the smallest normal: correct */
    }
    uint32_t q = ((uint32_t)e << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++; /* a carry into inf is correct */
    return (uint16_t)(sign | q);
}

static inline float clattn_bf16_to_float(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t clattn_float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* NaN: quiet, truncated */
    u += 0x7fffu + ((u >> 16) & 1u);                                              /* round to nearest even */
    return (uint16_t)(u >> 16);
}

/* n elements; src and dst must not overlap. use_simd: F16C where the CPU has it (same results). */
void clattn_half_to_float_n(const uint16_t *src, float *dst, size_t n, bool use_simd);
void clattn_float_to_half_n(const float *src, uint16_t *dst, size_t n, bool use_simd);

/* bf16 arrays, n elements, no overlap. use_simd: AVX2 (x86-64, chosen at run time; same bits as the scalar
 * code) where the CPU has it. */
void clattn_bf16_to_float_n(const uint16_t *src, float *dst, size_t n, bool use_simd);
void clattn_float_to_bf16_n(const float *src, uint16_t *dst, size_t n, bool use_simd);

/* Staging of a 4-D view, dims/strides/offset in ELEMENTS (a dim of size 1 must have stride 0, as
 * after validation):
 *   clattn_half_view_to_f32:  dst[C-order index of (a,b,c,e)] = src[offset + a*s0 + b*s1 + c*s2 + e*s3]
 *   clattn_f32_to_half_view:  the reverse; only the view's elements of dst are written.
 * dims and strides are int64_t[4]. */
void clattn_half_view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                             float *dst, bool use_simd);
void clattn_f32_to_half_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                             int64_t offset, bool use_simd);

/* The same for a bf16 view (use_simd: the AVX2 variant, see clattn_bf16_simd_available). */
void clattn_bf16_view_to_f32(const uint16_t *src, const int64_t dims[4], const int64_t strides[4], int64_t offset,
                             float *dst, bool use_simd);
void clattn_f32_to_bf16_view(const float *src, uint16_t *dst, const int64_t dims[4], const int64_t strides[4],
                             int64_t offset, bool use_simd);

/* Whether the CPU can run the AVX2 bf16 variant (x86-64 with AVX2); false elsewhere. */
bool clattn_bf16_simd_available(void);

/* Whether the CPU can run the F16C variant (x86-64 with F16C); false elsewhere. */
bool clattn_half_simd_available(void);

#endif /* CLATTN_HALF_H */
