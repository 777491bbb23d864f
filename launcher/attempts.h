/* The attempts of one job (--max-restarts): each attempt's outcome as the supervisor
 * concluded it and when it ran, the closing summary that lists them, and the "attempts"
 * the --report file gains. */
#ifndef HG_ATTEMPTS_H
#define HG_ATTEMPTS_H

#include <stdio.h>

#include "supervisor.h"

typedef struct hg_attempts hg_attempts;

hg_attempts *hg_attempts_new(void);
void hg_attempts_free(hg_attempts *l);
/* Records an attempt that ran from start to end (CLOCK_MONOTONIC seconds); returns -1
 * when out of memory (the attempt is then missing from the summary). */
int hg_attempts_add(hg_attempts *l, const hg_attempt *a, double start, double end);
int hg_attempts_count(const hg_attempts *l);
/* "hgrid: 2 attempts: ..." one line per attempt, with the time from each failure to
 * the next attempt's go. Nothing for a single attempt. */
void hg_attempts_summary(const hg_attempts *l, FILE *out);
/* Adds "launcher_messages" (how many of mpirun's or srun's messages were kept out of the
 * user's stderr, in all attempts) and, after more than one attempt, "attempts" and
 * "restarts" to the JSON report at path, written by the last attempt's coordinator or
 * the launcher; returns -1 when it cannot be read or written. */
int hg_attempts_add_to_report(const hg_attempts *l, const char *path);

#endif
