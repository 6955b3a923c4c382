/* Malformed .npy / .safetensors images (see corpus.h). */
#include "corpus.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *corpus_npy_image(int major, const char *dict, const void *data, size_t data_len, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t hlen = dl + 1;
    hlen += (64 - (pre + hlen) % 64) % 64;
    *len = pre + hlen + data_len;
    unsigned char *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)(hlen & 0xff);
        b[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    }
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hlen - dl - 1);
    b[pre + hlen - 1] = '\n';
    if (data_len) memcpy(b + pre + hlen, data, data_len);
    return b;
}

unsigned char *corpus_st_image(const char *json, const void *data, size_t data_len, size_t *len)
{
    size_t jl = strlen(json);
    size_t hl = (jl + 7) / 8 * 8;
    *len = 8 + hl + data_len;
    unsigned char *b = malloc(*len ? *len : 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, jl);
    memset(b + 8 + jl, ' ', hl - jl);
    if (data_len) memcpy(b + 8 + hl, data, data_len);
    return b;
}

static const float six[6] = {1, 2, 3, 4, 5, 6};

#define GOOD_DICT "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

static void add(corpus_case *c, size_t *n, const char *name, unsigned char *data, size_t len, const char *expect)
{
    c[*n].name = name;
    c[*n].data = data;
    c[*n].len = len;
    c[*n].expect = expect;
    (*n)++;
}

static void add_npy(corpus_case *c, size_t *n, const char *name, const char *dict, size_t data_len,
                    const char *expect)
{
    size_t len;
    unsigned char *b = corpus_npy_image(1, dict, six, data_len, &len);
    add(c, n, name, b, len, expect);
}

corpus_case *corpus_npy(size_t *n)
{
    corpus_case *c = calloc(64, sizeof *c);
    *n = 0;
    size_t len;
    unsigned char *b;

    add(c, n, "npy_empty", calloc(1, 1), 0, "bad magic");
    b = corpus_npy_image(1, GOOD_DICT, six, 24, &len);
    b[1] = 'X';
    add(c, n, "npy_bad_magic", b, len, "bad magic");
    b = corpus_npy_image(1, GOOD_DICT, six, 24, &len);
    b[6] = 4;
    add(c, n, "npy_version_4", b, len, "version 4.0");
    b = corpus_npy_image(1, GOOD_DICT, six, 24, &len);
    b[7] = 1;
    add(c, n, "npy_version_1_1", b, len, "version 1.1");
    b = corpus_npy_image(1, GOOD_DICT, six, 24, &len);
    b[8] = 0xff;
    b[9] = 0xff;
    add(c, n, "npy_header_past_end", b, len, "header length 65535 exceeds");
    b = corpus_npy_image(2, GOOD_DICT, six, 24, &len);
    b[11] = 0x7f;
    add(c, n, "npy_v2_header_past_end", b, len, "exceeds the file");
    b = corpus_npy_image(1, GOOD_DICT, six, 24, &len);
    add(c, n, "npy_preamble_only", b, 9, "truncated");
    add_npy(c, n, "npy_truncated_data", GOOD_DICT, 23, "truncated");
    add_npy(c, n, "npy_no_data", GOOD_DICT, 0, "truncated");
    add_npy(c, n, "npy_trailing_bytes", GOOD_DICT, 24, "unexpected bytes"); /* fixed below */
    {
        corpus_case *t = &c[*n - 1];
        t->data = realloc(t->data, t->len + 3);
        memset(t->data + t->len, 0, 3);
        t->len += 3;
    }
    add_npy(c, n, "npy_negative_shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", 24,
            "negative");
    add_npy(c, n, "npy_huge_shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
            24, "overflows");
    add_npy(c, n, "npy_bytes_overflow", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387905,), }",
            24, "overflows");
    add_npy(c, n, "npy_dim_overflow", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
            24, "overflows");
    add_npy(c, n, "npy_huge_but_no_data", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }",
            24, "truncated");
    add_npy(c, n, "npy_fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran_order");
    add_npy(c, n, "npy_big_endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "big-endian");
    add_npy(c, n, "npy_structured", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24,
            "structured");
    add_npy(c, n, "npy_object", "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", 24, "dtype");
    add_npy(c, n, "npy_bad_descr", "{'descr': 'float32', 'fortran_order': False, 'shape': (2, 3), }", 24, "dtype");
    add_npy(c, n, "npy_missing_shape", "{'descr': '<f4', 'fortran_order': False, }", 24, "missing key 'shape'");
    add_npy(c, n, "npy_missing_descr", "{'fortran_order': False, 'shape': (2, 3), }", 24, "missing key 'descr'");
    add_npy(c, n, "npy_extra_key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24,
            "unexpected key");
    add_npy(c, n, "npy_duplicate_key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
            24, "duplicate");
    add_npy(c, n, "npy_not_dict", "[1, 2, 3]", 24, "not a dictionary");
    add_npy(c, n, "npy_unterminated", "{'descr': '<f4", 24, "malformed header");
    add_npy(c, n, "npy_unclosed_dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24,
            "malformed header");
    add_npy(c, n, "npy_shape_int", "{'descr': '<f4', 'fortran_order': False, 'shape': 6, }", 24, "not a tuple");
    add_npy(c, n, "npy_shape_paren", "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24, "not a tuple");
    add_npy(c, n, "npy_shape_float", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3), }", 24,
            "shape");
    add_npy(c, n, "npy_bad_bool", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", 24, "True or False");
    add_npy(c, n, "npy_trailing_text", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", 24,
            "trailing characters");
    add_npy(c, n, "npy_too_many_dims",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
            "1,1,1,6), }",
            24, "more than 32");
    return c;
}

static void add_st(corpus_case *c, size_t *n, const char *name, const char *json, size_t data_len, const char *expect)
{
    size_t len;
    unsigned char *b = corpus_st_image(json, six, data_len, &len);
    add(c, n, name, b, len, expect);
}

#define ST_T(extra) "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}" extra "}"

corpus_case *corpus_safetensors(size_t *n)
{
    corpus_case *c = calloc(64, sizeof *c);
    *n = 0;
    size_t len;
    unsigned char *b;

    add(c, n, "st_empty", calloc(1, 1), 0, "shorter than the 8-byte");
    b = calloc(3, 1);
    b[0] = 0x10;
    add(c, n, "st_short", b, 3, "shorter than the 8-byte");
    b = corpus_st_image(ST_T(""), six, 24, &len);
    b[0] = 0xf0;
    b[1] = 0xff;
    add(c, n, "st_header_past_end", b, len, "exceeds the file");
    b = corpus_st_image(ST_T(""), six, 24, &len);
    memset(b, 0xff, 8);
    add(c, n, "st_header_len_huge", b, len, "exceeds the file");
    b = corpus_st_image(ST_T(""), six, 24, &len);
    add(c, n, "st_truncated_data", b, len - 1, "past the end");
    add_st(c, n, "st_not_json", "{\"w\": nope}", 24, "not valid JSON");
    add_st(c, n, "st_array", "[1, 2, 3]", 24, "not a JSON object");
    add_st(c, n, "st_string", "\"weights\"", 24, "not a JSON object");
    add_st(c, n, "st_entry_not_object", "{\"w\": 5}", 24, "not a JSON object");
    add_st(c, n, "st_missing_dtype", "{\"w\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, "missing key 'dtype'");
    add_st(c, n, "st_missing_shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", 24, "missing key 'shape'");
    add_st(c, n, "st_missing_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", 24,
           "missing key 'data_offsets'");
    add_st(c, n, "st_unknown_dtype", "{\"w\":{\"dtype\":\"Q7\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24,
           "unknown dtype 'Q7'");
    add_st(c, n, "st_dtype_number", "{\"w\":{\"dtype\":4,\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24,
           "not a string");
    add_st(c, n, "st_negative_shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,3],\"data_offsets\":[0,24]}}", 24,
           "non-negative integer");
    add_st(c, n, "st_fraction_shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5,4],\"data_offsets\":[0,24]}}", 24,
           "non-negative integer");
    add_st(c, n, "st_huge_shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,24]}}", 24,
           "non-negative integer");
    add_st(c, n, "st_overflow_shape",
           "{\"w\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,4503599627370496],\"data_offsets\":[0,24]}}", 24,
           "overflows");
    add_st(c, n, "st_overflow_bytes", "{\"w\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,512],\"data_offsets\":[0,24]}}",
           24, "overflows");
    add_st(c, n, "st_offsets_past_end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,48]}}", 24,
           "past the end");
    add_st(c, n, "st_offsets_reversed", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,0]}}", 24,
           "begin after end");
    add_st(c, n, "st_offsets_arity", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0]}}", 24,
           "data_offsets");
    add_st(c, n, "st_size_mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,24]}}", 24,
           "needs 16");
    add_st(c, n, "st_overlap",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
           24, "overlap");
    add_st(c, n, "st_gap",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
           24, "gap");
    add_st(c, n, "st_uncovered_tail", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 24,
           "cover");
    add_st(c, n, "st_duplicate_name",
           "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
           "\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}",
           24, "twice");
    add_st(c, n, "st_trailing_garbage", ST_T("") " xx", 24, "after the JSON");
    add_st(c, n, "st_unterminated", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 24,
           "not valid JSON");
    return c;
}

void corpus_free(corpus_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) free(c[i].data);
    free(c);
}

static int write_cases(const char *dir, corpus_case *c, size_t n, const char *ext)
{
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s%s", dir, c[i].name, ext);
        FILE *f = fopen(path, "wb");
        if (!f) return -1;
        if (c[i].len && fwrite(c[i].data, 1, c[i].len, f) != c[i].len) {
            fclose(f);
            return -1;
        }
        if (fclose(f)) return -1;
    }
    return 0;
}

int corpus_write_all(const char *dir)
{
    size_t n1, n2;
    corpus_case *a = corpus_npy(&n1), *b = corpus_safetensors(&n2);
    int rc = write_cases(dir, a, n1, ".npy") || write_cases(dir, b, n2, ".safetensors");
    corpus_free(a, n1);
    corpus_free(b, n2);
    return rc ? -1 : 0;
}
