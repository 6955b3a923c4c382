/*
 * NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
 *
 * The reader accepts C-order, little-endian (or single-byte) arrays of a simple dtype ('<f4', '<f2',
 * '|b1', '<i4', ...) and checks every length against the file size: header length, shape entries,
 * element count × itemsize (overflow-checked) against the bytes that follow the header. Fortran
 * order, big-endian and structured dtypes are refused. On failure the functions return -1 and put one
 * line (no newline) naming the file in err.
 */
#ifndef CLATTN_TOOL_NPY_H
#define CLATTN_TOOL_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NPY_MAX_DIMS 32
#define NPY_ERR_MAX 512

typedef enum npy_dtype {
    NPY_DTYPE_OTHER = 0, /* a valid simple dtype the tool does not compute with (e.g. '<i4', '<f8') */
    NPY_DTYPE_F32,       /* '<f4' */
    NPY_DTYPE_F16,       /* '<f2' */
    NPY_DTYPE_BOOL       /* '|b1' (one byte per element, 0 or 1) */
} npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    char descr[64];     /* the dtype as written in the header, e.g. "<f4" */
    size_t itemsize;    /* bytes per element */
    int ndim;           /* 0 (a scalar) .. NPY_MAX_DIMS */
    int64_t shape[NPY_MAX_DIMS];
    int64_t count;      /* product of shape (1 for a scalar) */
    void *data;         /* count * itemsize bytes, C order, little-endian; malloc'ed */
} npy_array;

/* Parses an .npy image of len bytes; name is used in messages. The data is copied. */
int npy_parse(const unsigned char *buf, size_t len, const char *name, npy_array *out, char *err, size_t errlen);

/* Reads and parses a file. */
int npy_read(const char *path, npy_array *out, char *err, size_t errlen);

/* Writes an array of dtype F32, F16 or BOOL in format 1.0 (data aligned to 64 bytes). */
int npy_write(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data, char *err,
              size_t errlen);

/* The same into an open stream (flushed, not closed); path names it in messages. */
int npy_write_stream(FILE *f, const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
                     char *err, size_t errlen);

/* Reads a whole file into a malloc'ed buffer (*buf, *len); shared with the safetensors reader. */
/* Formats "<name>: <message>" into err (when err and errlen are nonzero) as one line (control
 * characters become '?') and returns -1; shared by the .npy and safetensors readers. */
int tool_fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

int tool_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

/* Releases out->data (accepts a zeroed struct). */
void npy_free(npy_array *a);

/* "float32", "float16", "bool", "int32", ... (NumPy names) or the descr (e.g. "<M8[ns]") for others. */
const char *npy_dtype_name(const npy_array *a);

/* Formats a shape as "[4,12,11,32]" into buf. */
const char *npy_shape_str(int ndim, const int64_t *shape, char *buf, size_t buflen);

#endif /* CLATTN_TOOL_NPY_H */
