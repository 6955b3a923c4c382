/*
 * test_dtype_convert: the host's 16-bit conversions (src/common/fp16.h, fp16.c) bit for bit, for bfloat16
 * (CLATTN_DTYPE_BF16) and the binary16 array paths, each scalar and SIMD variant the CPU can run:
 *   - every one of the 65536 bf16 patterns widens to exactly its bits << 16 (NaN payloads, subnormals, -0);
 *   - float -> bf16 against an independent reference (tests/support/f16_ref.h bf16r_from_double: frexp /
 *     nearbyint, round to nearest even) on specials (ties to even, the largest finite bf16 and the rounding
 *     of FLT_MAX to inf, subnormal ties, +-0, +-inf) and 200000 random bit patterns; NaN inputs must give a
 *     quiet NaN (0x0040 set) with the input's sign and top bits, never an infinity;
 *   - array lengths 0..67 (the SIMD variants' tails) and strided 4-D views (gaps untouched).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f16_ref.h"
#include "fp16.h" /* src/common: the library's conversions (compiled into this test) */

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The bf16 a correct conversion gives for the float with bits u. */
static uint16_t want_bf16(uint32_t u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    return bf16r_from_double((double)bitsf(u));
}

static uint64_t g_state = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void)
{
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return (uint32_t)(g_state >> 16);
}

static void test_bf16_widen_all(void **state)
{
    (void)state;
    uint16_t *h = malloc(65536 * sizeof *h);
    float *f = malloc(65536 * sizeof *f);
    assert_non_null(h);
    assert_non_null(f);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++)
        if (fbits(clattn_bf16_to_float((uint16_t)i)) != i << 16) bad++;
    for (int simd = 0; simd <= (clattn_bf16_simd_available() ? 1 : 0); simd++) {
        for (size_t n = 0; n <= 67; n++) { /* tails */
            memset(f, 0xff, 68 * sizeof *f);
            clattn_bf16_to_float_n(h + 1000, f, n, simd);
            for (size_t i = 0; i < n; i++) bad += fbits(f[i]) != (uint32_t)(1000 + i) << 16;
            bad += fbits(f[n]) != 0xffffffffu; /* nothing past n */
        }
        clattn_bf16_to_float_n(h, f, 65536, simd);
        for (uint32_t i = 0; i < 65536; i++)
            if (fbits(f[i]) != i << 16 && !bad++) fprintf(stderr, "simd %d: 0x%04x -> 0x%08x\n", simd, i, fbits(f[i]));
    }
    free(h);
    free(f);
    assert_int_equal(bad, 0);
}

static const uint32_t k_special[] = {
    0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, /* +-0, +-inf */
    0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, /* NaNs: quiet, and signalling with only low bits */
    0x7fbfffffu, 0x7fffffffu, 0xffa5a5a5u,              /* NaNs whose truncation would round upward */
    0x3f808000u, 0x3f818000u, 0xbf808000u, 0xbf818000u, /* ties: 1 + 2^-8 -> 1, 1 + 3*2^-8 -> 1 + 2^-6 */
    0x3f807fffu, 0x3f808001u,                           /* just below / above a tie */
    0x7f7f0000u, 0x7f7f7fffu, 0x7f7f8000u, 0x7f7fffffu, /* largest bf16; below half; tie to inf; FLT_MAX -> inf */
    0xff7f8000u,                                        /* negative: -inf */
    0x00800000u, 0x00808000u, 0x00818000u,              /* smallest normal, ties there */
    0x00008000u, 0x00018000u, 0x00007fffu, 0x00008001u, /* subnormal: tie -> 0, tie -> 2, below, above */
    0x007fffffu, 0x007f8000u, 0x80008000u,              /* largest subnormal rounds up to the smallest normal */
    0x3eaaaaabu, 0x42f6e979u, 0xc2f6e979u,              /* ordinary values */
};

static int check_narrow(uint32_t u, uint16_t got, const char *where)
{
    const uint16_t want = want_bf16(u);
    if (got == want) return 0;
    fprintf(stderr, "%s: float 0x%08x -> bf16 0x%04x, expected 0x%04x\n", where, u, got, want);
    return 1;
}

static void test_bf16_narrow(void **state)
{
    (void)state;
    enum { NR = 200000 };
    const size_t ns = sizeof k_special / sizeof k_special[0], n = ns + NR;
    float *f = malloc(n * sizeof *f);
    uint16_t *h = malloc((n + 1) * sizeof *h);
    assert_non_null(f);
    assert_non_null(h);
    for (size_t i = 0; i < ns; i++) f[i] = bitsf(k_special[i]);
    for (size_t i = ns; i < n; i++) f[i] = bitsf(next_u32());
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += check_narrow(fbits(f[i]), clattn_float_to_bf16(f[i]), "scalar");
    /* the reference's own sanity on the specials that matter most */
    bad += want_bf16(0x7f7fffffu) != 0x7f80u;
    bad += want_bf16(0x7f7f7fffu) != 0x7f7fu;
    bad += want_bf16(0x00008000u) != 0x0000u;
    bad += want_bf16(0x007f8000u) != 0x0080u;
    bad += want_bf16(0x7f800001u) != 0x7fc0u;
    for (int simd = 0; simd <= (clattn_bf16_simd_available() ? 1 : 0); simd++) {
        const char *where = simd ? "avx2" : "array";
        clattn_float_to_bf16_n(f, h, n, simd);
        for (size_t i = 0; i < n && bad < 20; i++) bad += check_narrow(fbits(f[i]), h[i], where);
        for (size_t len = 0; len <= 67; len++) { /* tails: nothing past len */
            for (size_t i = 0; i <= len; i++) h[i] = 0x1234;
            clattn_float_to_bf16_n(f, h, len, simd);
            for (size_t i = 0; i < len; i++) bad += h[i] != want_bf16(fbits(f[i]));
            bad += h[len] != 0x1234;
        }
    }
    free(f);
    free(h);
    assert_int_equal(bad, 0);
}

/* A strided 4-D view [2, 3, 5, 7] with gaps in both directions; widen then narrow gives the view's bits
 * back and leaves the gaps as they were. */
static void test_bf16_views(void **state)
{
    (void)state;
    const int64_t dims[4] = {2, 3, 5, 7}, strides[4] = {3 * 6 * 9, 6 * 9, 9, 1}, off = 4;
    const int64_t extent = off + 2 * strides[0], n = 2 * 3 * 5 * 7;
    uint16_t *src = malloc((size_t)extent * 2), *dst = malloc((size_t)extent * 2);
    float *f = malloc((size_t)n * 4);
    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(f);
    int bad = 0;
    for (int simd = 0; simd <= (clattn_bf16_simd_available() ? 1 : 0); simd++)
        for (int col = 0; col < 2; col++) { /* col 1: dim 3 strided (the scalar loop) */
            int64_t st[4] = {strides[0], strides[1], strides[2], col ? 1 : 1};
            int64_t dm[4] = {dims[0], dims[1], dims[2], col ? 4 : dims[3]};
            if (col) st[3] = 2;
            for (int64_t i = 0; i < extent; i++) src[i] = (uint16_t)next_u32(), dst[i] = 0xabcd;
            clattn_bf16_view_to_f32(src, dm, st, off, f, simd);
            clattn_f32_to_bf16_view(f, dst, dm, st, off, simd);
            int64_t g = 0;
            unsigned char *in = calloc((size_t)extent, 1);
            assert_non_null(in);
            for (int64_t a = 0; a < dm[0]; a++)
                for (int64_t b = 0; b < dm[1]; b++)
                    for (int64_t c = 0; c < dm[2]; c++)
                        for (int64_t e = 0; e < dm[3]; e++, g++) {
                            const int64_t x = off + a * st[0] + b * st[1] + c * st[2] + e * st[3];
                            in[x] = 1;
                            bad += fbits(f[g]) != (uint32_t)src[x] << 16;
                            /* a NaN comes back quiet; everything else exactly */
                            const uint16_t want = ((src[x] & 0x7fffu) > 0x7f80u) ? (uint16_t)(src[x] | 0x40u) : src[x];
                            bad += dst[x] != want;
                        }
            for (int64_t i = 0; i < extent; i++) bad += !in[i] && dst[i] != 0xabcd;
            free(in);
        }
    free(src);
    free(dst);
    free(f);
    assert_int_equal(bad, 0);
}

/* binary16 array paths (scalar vs F16C) agree bit for bit on every pattern (signalling NaNs: up to the quiet
 * bit, which F16C sets), tails included. */
static void test_half_arrays(void **state)
{
    (void)state;
    uint16_t *h = malloc(65536 * 2), *h2 = malloc(65536 * 2);
    float *f = malloc(65536 * 4), *f2 = malloc(65536 * 4);
    assert_true(h && h2 && f && f2);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    int bad = 0;
    clattn_half_to_float_n(h, f, 65536, false);
    for (uint32_t i = 0; i < 65536; i++) {
        const double want = f16r_to_double((uint16_t)i);
        bad += isnan(want) ? !isnan(f[i]) : (double)f[i] != want;
    }
    if (clattn_half_simd_available()) {
        clattn_half_to_float_n(h, f2, 65535, true); /* odd length: the tail */
        /* F16C's VCVTPH2PS quiets signalling NaNs (sets 0x00400000); the scalar code keeps the payload as is */
        for (uint32_t i = 0; i < 65535; i++)
            bad += isnan(f[i]) ? (fbits(f[i]) | 0x00400000u) != fbits(f2[i]) : fbits(f[i]) != fbits(f2[i]);
        for (uint32_t i = 0; i < 65536; i++) f[i] = bitsf(next_u32());
        clattn_float_to_half_n(f, h, 65533, false);
        clattn_float_to_half_n(f, h2, 65533, true);
        for (uint32_t i = 0; i < 65533; i++) bad += h[i] != h2[i];
    }
    free(h);
    free(h2);
    free(f);
    free(f2);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bf16_widen_all), cmocka_unit_test(test_bf16_narrow),
                                       cmocka_unit_test(test_bf16_views), cmocka_unit_test(test_half_arrays)};
    printf("bf16 AVX2 variant: %s; F16C: %s\n", clattn_bf16_simd_available() ? "tested" : "absent (scalar only)",
           clattn_half_simd_available() ? "tested" : "absent");
    return tu_run_group("dtype_convert", (struct CMUnitTest *)tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
