/* safetensors reader/writer: round trips (F32, F16 converted, other dtypes as raw bytes) at ranks 1..4,
 * the MiniLM weight files, and a corpus of malformed images each refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "corpus.h"
#include "half.h"
#include "safetensors.h"
#include "tool_files.h"

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t shapes[4][4] = {{7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}};
    float f32[4][120];
    uint16_t f16[4][120];
    int32_t i32[16];
    unsigned char bools[5] = {1, 0, 1, 1, 0};
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 120; i++) {
            f32[r][i] = (float)(i * 0.25 - r);
            f16[r][i] = float_to_half(f32[r][i]);
        }
    for (int i = 0; i < 16; i++) i32[i] = i * 1000 - 7;
    st_write_item items[11];
    char names[11][32];
    size_t n = 0;
    for (int r = 0; r < 4; r++) {
        snprintf(names[n], sizeof names[n], "layer.f32.r%d", r + 1);
        items[n] = (st_write_item){names[n], "F32", r + 1, shapes[r], f32[r]};
        n++;
        snprintf(names[n], sizeof names[n], "layer.f16.r%d", r + 1);
        items[n] = (st_write_item){names[n], "F16", r + 1, shapes[r], f16[r]};
        n++;
    }
    static const int64_t s16[2] = {4, 4}, s5[1] = {5}, s0[2] = {0, 3};
    items[n++] = (st_write_item){"ints", "I32", 2, s16, i32};
    items[n++] = (st_write_item){"mask", "BOOL", 1, s5, bools};
    items[n++] = (st_write_item){"empty", "F32", 2, s0, NULL};
    char path[600], err[512];
    tool_tmp_path(path, sizeof path, "rt.safetensors");
    assert_int_equal(st_write(path, n, items, err, sizeof err), 0);

    st_file f;
    assert_int_equal(st_open(path, &f, err, sizeof err), 0);
    assert_int_equal(f.num_tensors, n);
    assert_int_equal((f.data_off - 8) % 8, 0);
    for (int r = 0; r < 4; r++) {
        for (int h = 0; h < 2; h++) {
            const st_tensor *t = st_find(&f, items[2 * r + h].name);
            assert_non_null(t);
            assert_string_equal(t->dtype, h ? "F16" : "F32");
            assert_int_equal(t->ndim, r + 1);
            for (int d = 0; d <= r; d++) assert_int_equal(t->shape[d], shapes[r][d]);
            float *v;
            assert_int_equal(st_get_f32(&f, t, &v, err, sizeof err), 0);
            for (int64_t i = 0; i < t->count; i++) assert_true(v[i] == f32[r][i]); /* exact in f16 too */
            free(v);
        }
    }
    const st_tensor *t = st_find(&f, "ints");
    assert_non_null(t);
    assert_memory_equal(f.buf + f.data_off + t->begin, i32, sizeof i32);
    float *v = NULL;
    assert_int_equal(st_get_f32(&f, t, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "'ints'"));
    assert_non_null(strstr(err, "I32"));
    t = st_find(&f, "mask");
    assert_memory_equal(f.buf + f.data_off + t->begin, bools, 5);
    t = st_find(&f, "empty");
    assert_int_equal(t->count, 0);
    assert_int_equal(st_get_f32(&f, t, &v, err, sizeof err), 0);
    free(v);
    assert_null(st_find(&f, "nope"));
    st_close(&f);
}

static void test_metadata_and_order(void **state)
{
    (void)state;
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    /* __metadata__ ignored; tensors listed out of data order; header padded with spaces */
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    size_t len;
    unsigned char *img = corpus_st_image(json, six, 24, &len);
    st_file f;
    char err[512];
    assert_int_equal(st_parse(img, len, "m.safetensors", &f, err, sizeof err), 0);
    assert_int_equal(f.num_tensors, 2);
    float *v;
    assert_int_equal(st_get_f32(&f, st_find(&f, "b"), &v, err, sizeof err), 0);
    assert_true(v[0] == 5 && v[1] == 6);
    free(v);
    st_close(&f);
    free(img);
    /* BF16 is a known dtype but refused for weights */
    img = corpus_st_image("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", six, 6, &len);
    assert_int_equal(st_parse(img, len, "bf.safetensors", &f, err, sizeof err), 0);
    assert_int_equal(st_get_f32(&f, st_find(&f, "w"), &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "'w'"));
    assert_non_null(strstr(err, "BF16"));
    st_close(&f);
    free(img);
    /* an empty header object is a valid file with no tensors */
    img = corpus_st_image("{}", NULL, 0, &len);
    assert_int_equal(st_parse(img, len, "e.safetensors", &f, err, sizeof err), 0);
    assert_int_equal(f.num_tensors, 0);
    st_close(&f);
    free(img);
}

static void test_minilm_files(void **state)
{
    (void)state;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/layer0_attn.safetensors", CLATTN_MINILM_DIR);
    if (access(path, R_OK) != 0) skip();
    st_file f;
    assert_int_equal(st_open(path, &f, err, sizeof err), 0);
    assert_int_equal(f.num_tensors, 8);
    const st_tensor *t = st_find(&f, "encoder.layer.0.attention.self.query.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 384);
    st_close(&f);
    snprintf(path, sizeof path, "%s/layer0_mha_torch.safetensors", CLATTN_MINILM_DIR);
    assert_int_equal(st_open(path, &f, err, sizeof err), 0);
    t = st_find(&f, "in_proj_weight");
    assert_non_null(t);
    assert_int_equal(t->shape[0], 1152);
    st_close(&f);
}

static void test_malformed(void **state)
{
    (void)state;
    size_t n;
    corpus_case *c = corpus_safetensors(&n);
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        st_file f;
        char err[512] = "";
        char name[128];
        snprintf(name, sizeof name, "%s.safetensors", c[i].name);
        int rc = st_parse(c[i].data, c[i].len, name, &f, err, sizeof err);
        tool_expect_refused(name, rc, err, c[i].expect);
        assert_null(f.tensors);
        assert_null(f.buf);
    }
    corpus_free(c, n);
    st_file f;
    char err[512];
    assert_int_equal(st_open("/nonexistent/x.safetensors", &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void test_truncations(void **state)
{
    (void)state;
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    size_t len;
    unsigned char *img = corpus_st_image(
        "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", six,
        24, &len);
    st_file f;
    char err[512];
    for (size_t l = 0; l < len; l++) {
        assert_int_equal(st_parse(img, l, "t.safetensors", &f, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* single-byte corruptions of the header never crash */
    for (size_t pos = 0; pos < len - 24; pos++) {
        for (int v = 0; v < 256; v += 17) {
            unsigned char save = img[pos];
            img[pos] = (unsigned char)v;
            if (st_parse(img, len, "f.safetensors", &f, err, sizeof err) == 0) st_close(&f);
            img[pos] = save;
        }
    }
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_metadata_and_order),
        cmocka_unit_test(test_minilm_files),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, tool_tmpdir_setup, tool_tmpdir_teardown);
}
