/* IEEE 754 binary16 <-> binary32 conversion (no hardware support needed). */
#ifndef CLATTN_TOOL_HALF_H
#define CLATTN_TOOL_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Exact: every binary16 value (subnormals, ±inf, NaN with its payload) has a binary32 image. */
float half_to_float(uint16_t h);

/* Round to nearest, ties to even. Overflow gives ±inf, tiny values give binary16 subnormals or ±0,
 * NaN stays NaN (quiet, sign and the top payload bits kept). */
uint16_t float_to_half(float f);

/* Array forms: n elements, src and dst may not overlap. */
void half_to_float_n(const uint16_t *src, float *dst, size_t n);
void float_to_half_n(const float *src, uint16_t *dst, size_t n);

#endif /* CLATTN_TOOL_HALF_H */
