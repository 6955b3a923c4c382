/* IEEE 754 binary16 <-> binary32 conversion: the library's own code (src/common/fp16.h, static inline, no
 * symbols of libclattn needed), so the tool and the fp16 SDPA path round identically. */
#include "half.h"

#include "fp16.h" /* src/common/fp16.h */

float half_to_float(uint16_t h)
{
    return clattn_half_to_float(h);
}

uint16_t float_to_half(float f)
{
    return clattn_float_to_half(f);
}

void half_to_float_n(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = clattn_half_to_float(src[i]);
}

void float_to_half_n(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = clattn_float_to_half(src[i]);
}
