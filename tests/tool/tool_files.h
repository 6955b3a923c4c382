/* File helpers shared by the readers' unit tests (test_npy.c, test_safetensors.c): a temporary folder
 * for a CMocka group, paths inside it, and the check every malformed image goes through (reading a file
 * back: tool_read_file in tools/npy.h). Include after <cmocka.h>. */
#ifndef CLATTN_TEST_TOOL_FILES_H
#define CLATTN_TEST_TOOL_FILES_H

#include <stddef.h>

/* CMocka group setup: creates a fresh folder $TMPDIR/clattn_test_tool_XXXXXX (/tmp when TMPDIR is
 * unset). Leaves *state alone (a non-NULL group state would override each test's own state). */
int tool_tmpdir_setup(void **state);
/* CMocka group teardown: removes that folder and everything in it. */
int tool_tmpdir_teardown(void **state);
/* dst = "<temporary folder>/<name>" (fails the test when it does not fit in n bytes). */
void tool_tmp_path(char *dst, size_t n, const char *name);

/* A malformed image named file (e.g. "npy_bad_magic.npy") must be refused (rc != 0) with one line in
 * err that names the file and contains expect; fails the test otherwise, naming the case. */
void tool_expect_refused(const char *file, int rc, const char *err, const char *expect);

#endif
