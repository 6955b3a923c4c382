/* Malformed .npy and .safetensors images, built in memory; each must be refused with a message. */
#ifndef CLATTN_TEST_TOOL_CORPUS_H
#define CLATTN_TEST_TOOL_CORPUS_H

#include <stddef.h>

typedef struct corpus_case {
    const char *name;   /* file stem, e.g. "npy_bad_magic" */
    unsigned char *data; /* malloc'ed image */
    size_t len;
    const char *expect; /* substring the error message must contain */
} corpus_case;

/* Build the tables; *n receives the count. Free with corpus_free. */
corpus_case *corpus_npy(size_t *n);
corpus_case *corpus_safetensors(size_t *n);
void corpus_free(corpus_case *c, size_t n);

/* A valid .npy image of a float32 array shaped [2,3] (header given as the dict text, padded). */
unsigned char *corpus_npy_image(int major, const char *dict, const void *data, size_t data_len, size_t *len);
/* A safetensors image: 8-byte length + json (padded to 8) + data. */
unsigned char *corpus_st_image(const char *json, const void *data, size_t data_len, size_t *len);

/* Writes every case to dir/<name>.npy or dir/<name>.safetensors. Returns 0 on success. */
int corpus_write_all(const char *dir);

#endif
