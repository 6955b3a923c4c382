/*
 * The case table of axial, temporal and area attention (views_cases.c): rows of views_case
 * (tests/support/views_case.h) tagged for test_variants and for clattn-bench (which also times each bench row's
 * dense equivalent: SDPA over the flattened positions with the structure's boolean mask).
 * Seeds: test_variants seeds the n-th row with tu_case_seed("variants", n); append rows at the end.
 */
#ifndef CLATTN_TEST_VIEWS_CASES_H
#define CLATTN_TEST_VIEWS_CASES_H

#include <stddef.h>

#include "views_case.h"

enum views_tag {
    VIEWS_TEST = 1u << 0,  /* test_variants, every backend */
    VIEWS_BENCH = 1u << 1, /* clattn-bench --variants */
};

typedef struct views_row {
    views_case c;
    unsigned tags;
} views_row;

extern const views_row views_rows[];
extern const size_t views_row_count;

#endif /* CLATTN_TEST_VIEWS_CASES_H */
