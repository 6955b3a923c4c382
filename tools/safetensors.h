/*
 * safetensors reader and writer (https://github.com/huggingface/safetensors, format section):
 *   8-byte little-endian header length N | N bytes of JSON | data
 * The JSON object maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with offsets
 * relative to the first byte after the header; "__metadata__" is ignored. The reader checks what the
 * reference implementation checks: header within the file, known dtypes, end - begin ==
 * product(shape) × itemsize (overflow-checked), and that the tensors tile the data section exactly
 * (no gaps, overlaps or trailing bytes). On failure functions return -1 with one line in err.
 */
#ifndef CLATTN_TOOL_SAFETENSORS_H
#define CLATTN_TOOL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 32
#define ST_MAX_HEADER 100000000u /* the reference implementation's limit */

typedef struct st_tensor {
    char *name;
    char dtype[12]; /* "F32", "F16", "BF16", "I64", ... */
    size_t itemsize;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t count;
    uint64_t begin, end; /* byte offsets into the data section */
} st_tensor;

typedef struct st_file {
    char *path;
    unsigned char *buf; /* the whole file */
    size_t len;
    size_t data_off;    /* 8 + N */
    st_tensor *tensors;
    size_t num_tensors;
} st_file;

/* Parses a safetensors image (copied). name is used in messages. */
int st_parse(const unsigned char *buf, size_t len, const char *name, st_file *out, char *err, size_t errlen);

/* Reads and parses a file. */
int st_open(const char *path, st_file *out, char *err, size_t errlen);

/* Releases everything (accepts a zeroed struct). */
void st_close(st_file *f);

/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);

/* A malloc'ed float32 copy of a tensor's data: F32 copied, F16 converted; other dtypes refused with a
 * message naming the tensor and its dtype. */
int st_get_f32(const st_file *f, const st_tensor *t, float **out, char *err, size_t errlen);

/* One tensor to write. dtype "F32", "F16" or any known dtype; data holds product(shape) items. */
typedef struct st_write_item {
    const char *name;
    const char *dtype;
    int ndim;
    const int64_t *shape;
    const void *data;
} st_write_item;

/* Writes n tensors in the given order (header padded with spaces to a multiple of 8 bytes). */
int st_write(const char *path, size_t n, const st_write_item *items, char *err, size_t errlen);

/* Item size in bytes of a safetensors dtype name, 0 if unknown. */
size_t st_dtype_size(const char *dtype);

#endif /* CLATTN_TOOL_SAFETENSORS_H */
