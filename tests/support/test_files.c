/* File-system helpers shared by the tests; see test_files.h. */
#include "test_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tu_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlink(path);
    chmod(path, 0700); /* a read-only folder (test_cache makes one) can be listed and emptied */
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char child[4096];
            if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) < (int)sizeof child) tu_remove_tree(child);
        }
        closedir(d);
    }
    return rmdir(path);
}
