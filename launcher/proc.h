/* What the launcher reads of another process: its /proc/PID/stat state, parent and
 * start time. The supervisor finds and signals its children by parent; the launcher
 * tells a live plan-directory owner from a reused pid by start time. */
#ifndef HG_PROC_H
#define HG_PROC_H

typedef struct hg_proc_stat {
    char state;               /* 'R', 'S', 'Z', ... */
    int ppid;
    unsigned long long start; /* clock ticks since boot: with the pid, one process for good */
} hg_proc_stat;

/* 0 and *out, or -1 when the process does not exist (any more). */
int hg_proc_stat_read(long pid, hg_proc_stat *out);

#endif
