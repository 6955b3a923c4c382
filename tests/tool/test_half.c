/* binary16 conversion: exact decode of all 65536 patterns, round-to-nearest-even encode checked at every
 * midpoint between neighbouring binary16 values, subnormals, overflow, inf and NaN. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "half.h"

static double half_value(uint16_t h) /* reference decode in double */
{
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static void test_decode_all(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = half_to_float((uint16_t)h);
        double r = half_value((uint16_t)h);
        if (isnan(r)) {
            assert_true(isnan(f));
            assert_int_equal(signbit(f) != 0, (h >> 15) != 0);
            assert_true((float_to_half(f) & 0x7fffu) > 0x7c00u); /* still NaN */
            continue;
        }
        assert_true((double)f == r);
        assert_int_equal(signbit(f) != 0, (h >> 15) != 0);
        assert_int_equal(float_to_half(f), h); /* exact round trip */
    }
}

static void test_round_nearest_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) { /* positive finite neighbours h, h+1 */
        double a = half_value((uint16_t)h), b = half_value((uint16_t)(h + 1));
        float mid = (float)((a + b) / 2); /* exact in float */
        assert_true((double)mid == (a + b) / 2);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(float_to_half(mid), even);
        assert_int_equal(float_to_half(-mid), even | 0x8000u);
        assert_int_equal(float_to_half(nextafterf(mid, 0.0f)), h);
        assert_int_equal(float_to_half(nextafterf(mid, INFINITY)), h + 1);
    }
    /* overflow: 65504 is the largest; the midpoint to 65536 rounds (to even) to inf */
    assert_int_equal(float_to_half(65504.0f), 0x7bff);
    assert_int_equal(float_to_half(65519.996f), 0x7bff);
    assert_int_equal(float_to_half(65520.0f), 0x7c00);
    assert_int_equal(float_to_half(1e10f), 0x7c00);
    assert_int_equal(float_to_half(-1e10f), 0xfc00);
    assert_int_equal(float_to_half(INFINITY), 0x7c00);
    assert_int_equal(float_to_half(-INFINITY), 0xfc00);
    /* underflow: half of the smallest subnormal ties to 0; a little more gives it */
    assert_int_equal(float_to_half(ldexpf(1.0f, -25)), 0x0000);
    assert_int_equal(float_to_half(nextafterf(ldexpf(1.0f, -25), 1.0f)), 0x0001);
    assert_int_equal(float_to_half(ldexpf(1.0f, -30)), 0x0000);
    assert_int_equal(float_to_half(-ldexpf(1.0f, -30)), 0x8000);
    assert_int_equal(float_to_half(1e-45f), 0x0000); /* float subnormal */
    assert_int_equal(float_to_half(-0.0f), 0x8000);
    assert_true(float_to_half(NAN) != 0x7c00 && (float_to_half(NAN) & 0x7c00u) == 0x7c00u);
    uint16_t buf[3];
    float in[3] = {1.0f, -2.5f, 0.1f}, out[3];
    float_to_half_n(in, buf, 3);
    half_to_float_n(buf, out, 3);
    assert_true(out[0] == 1.0f && out[1] == -2.5f && fabsf(out[2] - 0.1f) < 1e-4f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_all),
        cmocka_unit_test(test_round_nearest_even),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
