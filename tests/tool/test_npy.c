/* .npy reader/writer: round trips for float32/float16/bool at ranks 1..4, NumPy-written files, and a
 * corpus of malformed images (every one refused with a message), plus every truncation of a valid file. */
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
#include "npy.h"
#include "tool_files.h"

static void round_trip(npy_dtype dt, size_t isz, int ndim, const int64_t *shape)
{
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) count *= shape[i];
    unsigned char *data = malloc((size_t)count * isz + 1);
    for (int64_t i = 0; i < (int64_t)(count * (int64_t)isz); i++)
        data[i] = dt == NPY_DTYPE_BOOL ? (unsigned char)(i % 3 == 0) : (unsigned char)(i * 37 + 11);
    char name[64], path[600], err[NPY_ERR_MAX];
    snprintf(name, sizeof name, "rt_%d_%d.npy", (int)dt, ndim);
    tool_tmp_path(path, sizeof path, name);
    assert_int_equal(npy_write(path, dt, ndim, shape, data, err, sizeof err), 0);

    /* the file: format 1.0, data aligned to 64 bytes, header ends with '\n' */
    unsigned char *file = NULL;
    size_t flen = 0;
    assert_int_equal(tool_read_file(path, &file, &flen, err, sizeof err), 0);
    assert_true(flen >= 10);
    assert_memory_equal(file, "\x93NUMPY\x01\x00", 8);
    size_t hlen = file[8] | (file[9] << 8);
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(file[10 + hlen - 1], '\n');
    assert_int_equal(flen, 10 + hlen + (size_t)count * isz);
    free(file);

    npy_array a;
    assert_int_equal(npy_read(path, &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, dt);
    assert_int_equal(a.itemsize, isz);
    assert_int_equal(a.ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(a.shape[i], shape[i]);
    assert_int_equal(a.count, count);
    if (count) assert_memory_equal(a.data, data, (size_t)count * isz);
    npy_free(&a);
    free(data);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t shapes[4][4] = {{7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}};
    const struct {
        npy_dtype dt;
        size_t isz;
    } dts[3] = {{NPY_DTYPE_F32, 4}, {NPY_DTYPE_F16, 2}, {NPY_DTYPE_BOOL, 1}};
    for (int d = 0; d < 3; d++)
        for (int r = 1; r <= 4; r++) round_trip(dts[d].dt, dts[d].isz, r, shapes[r - 1]);
    /* empty arrays */
    static const int64_t empty[2] = {0, 3};
    round_trip(NPY_DTYPE_F32, 4, 2, empty);
}

/* Format 2.0 and 3.0 headers (4-byte length), descr '=f4', a 0-D array. */
static void test_versions(void **state)
{
    (void)state;
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    char err[NPY_ERR_MAX];
    for (int major = 1; major <= 3; major++) {
        size_t len;
        unsigned char *b =
            corpus_npy_image(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six, 24, &len);
        npy_array a;
        assert_int_equal(npy_parse(b, len, "v.npy", &a, err, sizeof err), 0);
        assert_int_equal(a.ndim, 2);
        assert_memory_equal(a.data, six, 24);
        npy_free(&a);
        free(b);
    }
    size_t len;
    unsigned char *b = corpus_npy_image(1, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"=f4\"}", six, 4, &len);
    npy_array a;
    assert_int_equal(npy_parse(b, len, "s.npy", &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, NPY_DTYPE_F32);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    npy_free(&a);
    free(b);
    /* other simple dtypes parse (the tool refuses them later, naming the dtype) */
    b = corpus_npy_image(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }", six, 24, &len);
    assert_int_equal(npy_parse(b, len, "i.npy", &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, NPY_DTYPE_OTHER);
    assert_string_equal(npy_dtype_name(&a), "int32");
    npy_free(&a);
    free(b);
}

/* Files written by NumPy itself (the MiniLM test data), when present. */
static void test_numpy_files(void **state)
{
    (void)state;
    char path[1024], err[NPY_ERR_MAX];
    snprintf(path, sizeof path, "%s/layer0_q.npy", CLATTN_MINILM_DIR);
    if (access(path, R_OK) != 0) skip();
    npy_array a;
    assert_int_equal(npy_read(path, &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, NPY_DTYPE_F32);
    assert_int_equal(a.ndim, 4);
    assert_int_equal(a.shape[0], 4);
    assert_int_equal(a.shape[1], 12);
    assert_int_equal(a.shape[3], 32);
    npy_free(&a);
    snprintf(path, sizeof path, "%s/layer0_q_f16.npy", CLATTN_MINILM_DIR);
    assert_int_equal(npy_read(path, &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, NPY_DTYPE_F16);
    npy_free(&a);
    snprintf(path, sizeof path, "%s/kv_lengths.npy", CLATTN_MINILM_DIR);
    assert_int_equal(npy_read(path, &a, err, sizeof err), 0);
    assert_int_equal(a.dtype, NPY_DTYPE_OTHER);
    assert_int_equal(a.ndim, 1);
    npy_free(&a);
}

static void test_malformed(void **state)
{
    (void)state;
    size_t n;
    corpus_case *c = corpus_npy(&n);
    assert_true(n > 20);
    for (size_t i = 0; i < n; i++) {
        npy_array a;
        char err[NPY_ERR_MAX] = "";
        char name[128];
        snprintf(name, sizeof name, "%s.npy", c[i].name);
        /* exact-size heap copy so that ASan/valgrind catch any read past the end */
        unsigned char *copy = malloc(c[i].len ? c[i].len : 1);
        memcpy(copy, c[i].data, c[i].len);
        int rc = npy_parse(copy, c[i].len, name, &a, err, sizeof err);
        free(copy);
        tool_expect_refused(name, rc, err, c[i].expect);
        assert_null(a.data);
    }
    corpus_free(c, n);
    /* a missing file */
    npy_array a;
    char err[NPY_ERR_MAX];
    assert_int_equal(npy_read("/nonexistent/x.npy", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

/* Every proper prefix of a valid image is refused; single-byte corruptions never crash. */
static void test_truncations_and_flips(void **state)
{
    (void)state;
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    size_t len;
    unsigned char *b = corpus_npy_image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six, 24, &len);
    char err[NPY_ERR_MAX];
    npy_array a;
    for (size_t l = 0; l < len; l++) {
        unsigned char *copy = malloc(l ? l : 1);
        memcpy(copy, b, l);
        assert_int_equal(npy_parse(copy, l, "t.npy", &a, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        free(copy);
    }
    static const unsigned char vals[] = {0x00, 0xff, '(', ')', ',', '\'', '-', '9', '}', ' '};
    for (size_t pos = 0; pos < len - 24; pos++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            unsigned char *copy = malloc(len);
            memcpy(copy, b, len);
            copy[pos] = vals[v];
            if (npy_parse(copy, len, "f.npy", &a, err, sizeof err) == 0) {
                assert_true(a.count * (int64_t)a.itemsize <= (int64_t)len);
                npy_free(&a);
            } else {
                assert_true(err[0] != '\0');
            }
            free(copy);
        }
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_numpy_files),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncations_and_flips),
    };
    return cmocka_run_group_tests(tests, tool_tmpdir_setup, tool_tmpdir_teardown);
}
