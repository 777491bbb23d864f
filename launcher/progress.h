/* The job's stderr as the launcher relays it: the coordinator's status lines (common/
 * protocol.h: "hgrid-status TOKEN: ...", this job's token only) become a progress
 * indicator (one redrawn line on a terminal, plain throttled lines otherwise) and are
 * never shown; every other byte passes through unchanged. It also notes which rank
 * mpirun names as the first to fail, for the closing summary. */
#ifndef HG_PROGRESS_H
#define HG_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct hg_progress hg_progress;

/* token: this job's status token; NULL or "": no line is a status line. */
hg_progress *hg_progress_new(FILE *out, int world, int tty, const char *token);
void hg_progress_free(hg_progress *p);

/* Bytes read from the job's stderr; now is seconds since launch. */
void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now);
/* End of the stream: passes any held bytes through. */
void hg_progress_finish(hg_progress *p);
/* Periodic redraw of the terminal line. */
void hg_progress_tick(hg_progress *p, double now);
/* Erases the terminal progress line so a message can be printed cleanly. */
void hg_progress_clear(hg_progress *p);

int hg_progress_ready(const hg_progress *p);
/* Rank 0's agent said it runs: the job started. */
int hg_progress_started(const hg_progress *p);
/* The coordinator announced its decision: 1 go, 0 no-go; -1 not yet. */
int hg_progress_decision(const hg_progress *p);
/* The coordinator wrote the --report file. */
int hg_progress_report_written(const hg_progress *p);
/* The first failing rank as mpirun reported it, with its exit status, or the signal
 * that killed it (0 when it exited); returns 0 when mpirun named one. */
int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal);

#endif
