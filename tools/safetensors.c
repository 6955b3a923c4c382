/* safetensors reader and writer; the JSON header is parsed with cJSON. */
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "half.h"
#include "npy.h"


static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
    {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},     {"U32", 4},     {"F32", 4},
    {"F64", 8},  {"I64", 8}, {"U64", 8},
};

size_t st_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(dtype, st_dtypes[i].name) == 0) return st_dtypes[i].size;
    return 0;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->num_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (size_t i = 0; i < f->num_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* A JSON number that is a non-negative integer below 2^53 (exactly representable). */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int parse_tensor(const cJSON *item, const char *name, st_tensor *t, uint64_t data_len, char *err,
                        size_t errlen)
{
    const char *tn = item->string;
    if (!cJSON_IsObject(item)) return tool_fail(err, errlen, name, "tensor '%s': entry is not a JSON object", tn);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype) return tool_fail(err, errlen, name, "tensor '%s': missing key 'dtype'", tn);
    if (!shape) return tool_fail(err, errlen, name, "tensor '%s': missing key 'shape'", tn);
    if (!offs) return tool_fail(err, errlen, name, "tensor '%s': missing key 'data_offsets'", tn);
    if (!cJSON_IsString(dtype) || !dtype->valuestring)
        return tool_fail(err, errlen, name, "tensor '%s': 'dtype' is not a string", tn);
    size_t isz = st_dtype_size(dtype->valuestring);
    if (!isz) return tool_fail(err, errlen, name, "tensor '%s': unknown dtype '%.40s'", tn, dtype->valuestring);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype->valuestring);
    t->itemsize = isz;
    if (!cJSON_IsArray(shape)) return tool_fail(err, errlen, name, "tensor '%s': 'shape' is not an array", tn);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS) return tool_fail(err, errlen, name, "tensor '%s': %d dimensions (at most %d)", tn, nd, ST_MAX_DIMS);
    t->ndim = 0;
    int64_t count = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        uint64_t v;
        if (!json_uint(d, &v))
            return tool_fail(err, errlen, name, "tensor '%s': shape entry %d is not a non-negative integer below 2^53", tn,
                        t->ndim);
        t->shape[t->ndim++] = (int64_t)v;
        if (__builtin_mul_overflow(count, (int64_t)v, &count))
            return tool_fail(err, errlen, name, "tensor '%s': element count overflows", tn);
    }
    t->count = count;
    uint64_t bytes;
    if (__builtin_mul_overflow((uint64_t)count, (uint64_t)isz, &bytes))
        return tool_fail(err, errlen, name, "tensor '%s': byte size overflows", tn);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &t->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &t->end))
        return tool_fail(err, errlen, name, "tensor '%s': 'data_offsets' is not [begin, end] of non-negative integers", tn);
    if (t->begin > t->end)
        return tool_fail(err, errlen, name, "tensor '%s': data_offsets [%llu, %llu] begin after end", tn,
                    (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return tool_fail(err, errlen, name, "tensor '%s': data_offsets end %llu is past the end of the data (%llu bytes)",
                    tn, (unsigned long long)t->end, (unsigned long long)data_len);
    if (t->end - t->begin != bytes) {
        char s[ST_MAX_DIMS * 24];
        return tool_fail(err, errlen, name, "tensor '%s': data_offsets span %llu bytes but shape %s of %s needs %llu", tn,
                    (unsigned long long)(t->end - t->begin), npy_shape_str(t->ndim, t->shape, s, sizeof s),
                    t->dtype, (unsigned long long)bytes);
    }
    t->name = strdup(tn);
    if (!t->name) return tool_fail(err, errlen, name, "out of memory");
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Takes ownership of buf. */
static int parse_owned(unsigned char *buf, size_t len, const char *name, st_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->buf = buf;
    out->len = len;
    out->path = strdup(name);
    cJSON *root = NULL;
    st_tensor **order = NULL;
    int rc = -1;
    if (!out->path) {
        tool_fail(err, errlen, name, "out of memory");
        goto done;
    }
    if (len < 8) {
        tool_fail(err, errlen, name, "not a safetensors file (%zu bytes, shorter than the 8-byte header length)", len);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > len - 8) {
        tool_fail(err, errlen, name, "header length %llu exceeds the file (%zu bytes after the length field)",
             (unsigned long long)n, len - 8);
        goto done;
    }
    if (n > ST_MAX_HEADER) {
        tool_fail(err, errlen, name, "header length %llu exceeds the limit of %u bytes", (unsigned long long)n,
             ST_MAX_HEADER);
        goto done;
    }
    if (n < 2 || buf[8] != '{') {
        tool_fail(err, errlen, name, "header is not a JSON object (it must start with '{')");
        goto done;
    }
    const char *json = (const char *)buf + 8;
    const char *json_end = NULL;
    root = cJSON_ParseWithLengthOpts(json, (size_t)n, &json_end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = (at && at >= json && at <= json + n) ? (long)(at - json) : -1;
        tool_fail(err, errlen, name, "header is not valid JSON (error near byte %ld of %llu)", off, (unsigned long long)n);
        goto done;
    }
    for (const char *p = json_end; p && p < json + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            tool_fail(err, errlen, name, "unexpected bytes after the JSON header object");
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        tool_fail(err, errlen, name, "header is not a JSON object");
        goto done;
    }
    out->data_off = 8 + (size_t)n;
    uint64_t data_len = len - out->data_off;
    size_t count = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) count++;
    out->tensors = calloc(count ? count : 1, sizeof *out->tensors);
    order = calloc(count ? count : 1, sizeof *order);
    if (!out->tensors || !order) {
        tool_fail(err, errlen, name, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(item, root)
    {
        if (!item->string) {
            tool_fail(err, errlen, name, "header entry without a name");
            goto done;
        }
        if (strcmp(item->string, "__metadata__") == 0) continue;
        if (st_find(out, item->string)) {
            tool_fail(err, errlen, name, "tensor '%s' appears twice in the header", item->string);
            goto done;
        }
        st_tensor *t = &out->tensors[out->num_tensors];
        if (parse_tensor(item, name, t, data_len, err, errlen)) goto done;
        order[out->num_tensors] = t;
        out->num_tensors++;
    }
    qsort(order, out->num_tensors, sizeof *order, cmp_begin);
    uint64_t pos = 0;
    for (size_t i = 0; i < out->num_tensors; i++) {
        if (order[i]->begin != pos) {
            tool_fail(err, errlen, name, "tensor '%s': data_offsets [%llu, %llu] %s (expected begin %llu)", order[i]->name,
                 (unsigned long long)order[i]->begin, (unsigned long long)order[i]->end,
                 order[i]->begin < pos ? "overlap another tensor" : "leave a gap", (unsigned long long)pos);
            goto done;
        }
        pos = order[i]->end;
    }
    if (pos != data_len) {
        tool_fail(err, errlen, name, "data section has %llu bytes but the tensors cover %llu",
             (unsigned long long)data_len, (unsigned long long)pos);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    free(order);
    if (rc) st_close(out);
    return rc;
}

int st_parse(const unsigned char *buf, size_t len, const char *name, st_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return tool_fail(err, errlen, name, "out of memory");
    if (len) memcpy(copy, buf, len);
    return parse_owned(copy, len, name, out, err, errlen);
}

int st_open(const char *path, st_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (tool_read_file(path, &buf, &len, err, errlen)) return -1;
    return parse_owned(buf, len, path, out, err, errlen);
}

int st_get_f32(const st_file *f, const st_tensor *t, float **out, char *err, size_t errlen)
{
    *out = NULL;
    int is32 = strcmp(t->dtype, "F32") == 0, is16 = strcmp(t->dtype, "F16") == 0;
    if (!is32 && !is16)
        return tool_fail(err, errlen, f->path, "tensor '%s' has dtype %s; expected F32 (or F16)", t->name, t->dtype);
    size_t n = (size_t)t->count;
    float *dst = malloc(n ? n * sizeof(float) : 1);
    if (!dst) return tool_fail(err, errlen, f->path, "tensor '%s': out of memory", t->name);
    const unsigned char *src = f->buf + f->data_off + t->begin;
    if (is32) {
        memcpy(dst, src, n * sizeof(float));
    } else {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            dst[i] = half_to_float(h);
        }
    }
    *out = dst;
    return 0;
}

int st_write(const char *path, size_t n, const st_write_item *items, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    FILE *f = NULL;
    int rc = -1;
    uint64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    if (!root || !sizes) {
        tool_fail(err, errlen, path, "out of memory");
        goto done;
    }
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t isz = st_dtype_size(items[i].dtype);
        if (!isz || items[i].ndim < 0 || items[i].ndim > ST_MAX_DIMS) {
            tool_fail(err, errlen, path, "tensor '%s': cannot write dtype %s / %d dims", items[i].name, items[i].dtype,
                 items[i].ndim);
            goto done;
        }
        uint64_t count = 1;
        cJSON *t = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        cJSON *offs = cJSON_CreateArray();
        if (!t || !shape || !offs) {
            cJSON_Delete(t);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            tool_fail(err, errlen, path, "out of memory");
            goto done;
        }
        cJSON_AddItemToObject(root, items[i].name, t);
        cJSON_AddStringToObject(t, "dtype", items[i].dtype);
        for (int d = 0; d < items[i].ndim; d++) {
            count *= (uint64_t)items[i].shape[d];
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)items[i].shape[d]));
        }
        cJSON_AddItemToObject(t, "shape", shape);
        sizes[i] = count * isz;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)pos));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(pos + sizes[i])));
        cJSON_AddItemToObject(t, "data_offsets", offs);
        pos += sizes[i];
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) {
        tool_fail(err, errlen, path, "out of memory");
        goto done;
    }
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) / 8 * 8;
    unsigned char lenbuf[8];
    for (int b = 0; b < 8; b++) lenbuf[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    f = fopen(path, "wb");
    if (!f) {
        tool_fail(err, errlen, path, "cannot open for writing: %s", strerror(errno));
        goto done;
    }
    int ok = fwrite(lenbuf, 1, 8, f) == 8 && fwrite(json, 1, jlen, f) == jlen;
    for (size_t p = jlen; ok && p < hlen; p++) ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < n; i++)
        ok = sizes[i] == 0 || fwrite(items[i].data, 1, (size_t)sizes[i], f) == (size_t)sizes[i];
    if (fclose(f) != 0) ok = 0;
    f = NULL;
    if (!ok) {
        remove(path);
        tool_fail(err, errlen, path, "write failed: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(json);
    free(sizes);
    cJSON_Delete(root);
    return rc;
}
