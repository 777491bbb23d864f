/* /proc/PID/stat: the command name (field 2) may hold spaces and parentheses, so the
 * fields resume after the last ')': state (3), ppid (4), ..., starttime (22). */
#include "proc.h"

#include <stdio.h>
#include <string.h>

int hg_proc_stat_read(long pid, hg_proc_stat *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                     "%*d %*d %*d %llu", &out->state, &out->ppid, &out->start) != 3)
        return -1;
    return 0;
}
