/* File helpers shared by the readers' unit tests; see tool_files.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_files.h"
#include "tool_files.h"

static char tmpdir[512];

int tool_tmpdir_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clattn_test_tool_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

int tool_tmpdir_teardown(void **state)
{
    (void)state;
    return tmpdir[0] ? tu_remove_tree(tmpdir) : 0;
}

void tool_tmp_path(char *dst, size_t n, const char *name)
{
    int len = snprintf(dst, n, "%s/%s", tmpdir, name);
    assert_true(len > 0 && (size_t)len < n);
}

void tool_expect_refused(const char *file, int rc, const char *err, const char *expect)
{
    if (rc == 0 || !strstr(err, expect) || !strstr(err, file) || strchr(err, '\n')) {
        print_error("case %s: rc %d, message '%s', expected '%s'\n", file, rc, err, expect);
        fail();
    }
}
