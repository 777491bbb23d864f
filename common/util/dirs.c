#include "util/dirs.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int hg_dirs_make(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return errno;
        *p = c;
        if (!c)
            return 0;
    }
}
