/*
 * libFuzzer target: the .npy reader (tools/npy.c) on arbitrary bytes, through npy_parse (the same
 * code npy_read runs after reading the file).
 *
 * Checks beyond the sanitizers: on failure the message is one non-empty line that starts with the
 * name and the struct holds no data; on success the result is consistent (ndim in range, count =
 * product of shape, data = exactly the bytes after the header) and the helpers that print it
 * (npy_dtype_name, npy_shape_str) work.
 */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_npy: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    npy_array a;
    char err[NPY_ERR_MAX];
    /* A copy of exactly `size` bytes, so ASan sees any read past the end. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    int rc = npy_parse(buf, size, "fuzz.npy", &a, err, sizeof err);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(a.data == NULL);
        CHECK(strncmp(err, "fuzz.npy: ", 10) == 0 && err[10] != '\0');
        CHECK(strchr(err, '\n') == NULL);
        /* A small err buffer truncates without overflowing. */
        char small[12];
        memset(&a, 0xAB, sizeof a);
        CHECK(npy_parse(buf, size, "fuzz.npy", &a, small, sizeof small) == -1);
        CHECK(strlen(small) < sizeof small);
        CHECK(npy_parse(buf, size, "fuzz.npy", &a, NULL, 0) == -1);
        free(buf);
        return 0;
    }
    CHECK(a.ndim >= 0 && a.ndim <= NPY_MAX_DIMS);
    CHECK(a.itemsize >= 1);
    CHECK(a.data != NULL);
    CHECK(memchr(a.descr, '\0', sizeof a.descr) != NULL);
    int64_t count = 1;
    for (int i = 0; i < a.ndim; i++) {
        CHECK(a.shape[i] >= 0);
        count *= a.shape[i];
    }
    CHECK(count == a.count);
    size_t bytes = (size_t)a.count * a.itemsize;
    CHECK(bytes <= size);
    /* the data is the tail of the file */
    CHECK(bytes == 0 || memcmp(a.data, buf + size - bytes, bytes) == 0);
    if (a.dtype == NPY_DTYPE_F32) CHECK(a.itemsize == 4);
    if (a.dtype == NPY_DTYPE_F16) CHECK(a.itemsize == 2);
    if (a.dtype == NPY_DTYPE_BOOL) CHECK(a.itemsize == 1);
    const char *name = npy_dtype_name(&a);
    CHECK(name && name[0]);
    char shape[NPY_MAX_DIMS * 24];
    npy_shape_str(a.ndim, a.shape, shape, sizeof shape);
    CHECK(shape[0] == '[' && shape[strlen(shape) - 1] == ']');
    char tiny[5];
    npy_shape_str(a.ndim, a.shape, tiny, sizeof tiny);
    CHECK(strlen(tiny) < sizeof tiny);
    npy_free(&a);
    CHECK(a.data == NULL);
    free(buf);
    return 0;
}
