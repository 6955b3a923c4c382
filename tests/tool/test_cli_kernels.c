/*
 * `clattn kernels` prints the whole kernel table: with --json, one valid JSON object per line, one per
 * clattn_kernel_get() entry in order, whose keys match the entry (paths as an array of its words);
 * without, one row per entry naming its entry point and source; --backend keeps that backend's rows.
 * usage: test_cli_kernels CLATTN
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <clattn.h>

static const char *g_cli;

/* Runs `<cli> <args>` and returns its stdout (malloc'd); the exit status must be 0. */
static char *run_cli(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s", g_cli, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t n; (n = fread(buf + len, 1, cap - len - 1, p)) > 0;) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    const int rc = pclose(p);
    if (rc != 0) fail_msg("%s exited with status %d", cmd, rc);
    return buf;
}

static const char *str_key(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v)) fail_msg("key '%s' missing or not a string", key);
    return v->valuestring;
}

static void test_json(void **state)
{
    (void)state;
    char *out = run_cli("kernels --json");
    size_t i = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) fail_msg("line %zu is not a JSON object: %s", i + 1, line);
        const clattn_kernel_entry *e = clattn_kernel_get(i);
        if (!e) fail_msg("line %zu: more lines than the %zu entries", i + 1, clattn_kernel_count());
        assert_string_equal(str_key(o, "backend"), e->backend);
        assert_string_equal(str_key(o, "stage"), e->stage);
        assert_string_equal(str_key(o, "source"), e->source);
        assert_string_equal(str_key(o, "entry"), e->entry);
        assert_string_equal(str_key(o, "description"), e->description);
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(o, "paths");
        assert_true(cJSON_IsArray(paths) && cJSON_GetArraySize(paths) > 0);
        char joined[512] = "";
        const cJSON *p;
        cJSON_ArrayForEach(p, paths)
        {
            assert_true(cJSON_IsString(p));
            snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", joined[0] ? " " : "",
                     p->valuestring);
        }
        assert_string_equal(joined, e->paths);
        cJSON_Delete(o);
    }
    assert_int_equal(i, clattn_kernel_count());
    free(out);
}

static void check_table(const char *args, const char *backend)
{
    char *out = run_cli(args);
    size_t rows = 0;
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "backend ", 8) == 0) continue; /* the header */
        rows++;
        bool found = false;
        for (size_t i = 0; i < clattn_kernel_count() && !found; i++) {
            const clattn_kernel_entry *e = clattn_kernel_get(i);
            char *at = strstr(line, e->entry);
            found = strncmp(line, e->backend, strlen(e->backend)) == 0 && at && at[strlen(e->entry)] == ' ' &&
                    at[-1] == ' ' && strstr(line, e->source) && (!backend || strcmp(backend, e->backend) == 0);
        }
        if (!found) fail_msg("%s: row matches no entry%s: %s", args, backend ? " of that backend" : "", line);
    }
    size_t want = 0;
    for (size_t i = 0; i < clattn_kernel_count(); i++)
        want += !backend || strcmp(clattn_kernel_get(i)->backend, backend) == 0;
    assert_int_equal(rows, want);
    free(out);
}

static void test_table(void **state)
{
    (void)state;
    check_table("kernels", NULL);
    check_table("kernels --backend host", "host");
    check_table("kernels --backend=opencl", "opencl");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_cli_kernels CLATTN\n");
        return 2;
    }
    g_cli = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_json), cmocka_unit_test(test_table)};
    return cmocka_run_group_tests_name("cli_kernels", tests, NULL, NULL);
}
