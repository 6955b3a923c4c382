/*
 * libFuzzer target: the CLATTN_DEVICE selector parser (clattn_selector_parse in src/opencl/device.c, a
 * pure function declared in src/opencl/opencl.h). The input is the selector text (cut at the first
 * NUL byte).
 *
 * Checks beyond the sanitizers: failures return INVALID_ARGUMENT with a non-empty message (on a
 * context and in the thread slot); successes give a consistent selector: exactly one of default /
 * host / fields, field texts NUL-terminated, trimmed and shorter than CLATTN_SELECTOR_TEXT_MAX, an
 * INDEX field all digits with the saturated value, an ANY field empty, a known device type; and
 * parsing is deterministic and agrees between a NULL and a real context.
 */
#include "opencl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "fuzz_selector: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

static void check_field(const clattn_selector_field *f)
{
    size_t n = strnlen(f->text, CLATTN_SELECTOR_TEXT_MAX);
    CHECK(n < CLATTN_SELECTOR_TEXT_MAX);
    if (n) CHECK(!isspace((unsigned char)f->text[0]) && !isspace((unsigned char)f->text[n - 1]));
    CHECK(strchr(f->text, ':') == NULL);
    switch (f->kind) {
    case CLATTN_SEL_ANY: CHECK(n == 0); break;
    case CLATTN_SEL_INDEX: {
        CHECK(n > 0);
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(isdigit((unsigned char)f->text[i]));
            unsigned d = (unsigned)(f->text[i] - '0');
            v = (v > (UINT64_MAX - d) / 10) ? UINT64_MAX : v * 10 + d;
        }
        CHECK(v == f->index);
        break;
    }
    case CLATTN_SEL_NAME: {
        CHECK(n > 0);
        bool digits = true;
        for (size_t i = 0; i < n; i++) digits = digits && isdigit((unsigned char)f->text[i]);
        CHECK(!digits);
        break;
    }
    default: CHECK(!"bad field kind");
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static clattn_context ctx; /* zeroed; clattn_error only writes last_error */
    /* exactly strlen + 1 bytes, so ASan sees any read past the terminator */
    size_t len = strnlen((const char *)data, size);
    char *text = malloc(len + 1);
    if (!text) return 0;
    memcpy(text, data, len);
    text[len] = '\0';

    clattn_selector sel, sel2;
    memset(&sel, 0x5A, sizeof sel);
    clattn_last_error(NULL);
    clattn_status st = clattn_selector_parse(NULL, text, &sel);
    ctx.last_error[0] = '\0';
    clattn_status st2 = clattn_selector_parse(&ctx, text, &sel2);
    CHECK(st == st2);
    if (st != CLATTN_SUCCESS) {
        CHECK(st == CLATTN_ERROR_INVALID_ARGUMENT);
        const char *msg = clattn_last_error(NULL);
        CHECK(msg[0] != '\0' && strlen(msg) < CLATTN_ERRMSG_MAX);
        CHECK(strcmp(msg, ctx.last_error) == 0);
        CHECK(strncmp(msg, "device selector", 15) == 0);
        free(text);
        return 0;
    }
    CHECK(memcmp(&sel, &sel2, sizeof sel) == 0 || (sel.is_default && sel2.is_default) ||
          (sel.is_host && sel2.is_host));
    CHECK(!(sel.is_default && sel.is_host));
    /* what the trimmed text looks like */
    const char *b = text, *e = text + len;
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    if (sel.is_default) {
        CHECK(b == e);
    } else if (sel.is_host) {
        CHECK(e - b == 4 && strncasecmp(b, "host", 4) == 0);
    } else {
        CHECK(b < e);
        check_field(&sel.platform);
        check_field(&sel.device);
        CHECK(sel.type == CL_DEVICE_TYPE_ALL || sel.type == CL_DEVICE_TYPE_GPU || sel.type == CL_DEVICE_TYPE_CPU ||
              sel.type == CL_DEVICE_TYPE_ACCELERATOR);
        int colons = 0;
        for (const char *p = b; p < e; p++) colons += *p == ':';
        CHECK(colons <= 2);
        if (colons < 2) CHECK(sel.device.kind == CLATTN_SEL_ANY);
        if (colons == 0) CHECK(sel.type == CL_DEVICE_TYPE_ALL);
    }
    free(text);
    return 0;
}
