/*
 * File-system helpers shared by the tests (test_cache, test_threads, tests/tool). Plain POSIX, no clattn
 * and no CMocka: the library target clattn_test_files, which clattn_test_support and tests/tool link.
 */
#ifndef CLATTN_TEST_FILES_H
#define CLATTN_TEST_FILES_H

/* rm -r path: removes a file, or a folder and everything below it (folders made writable first, so
 * read-only ones go too; links are removed, never followed). Returns 0 when path no longer exists. */
int tu_remove_tree(const char *path);

#endif /* CLATTN_TEST_FILES_H */
