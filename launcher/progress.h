/* The job's stderr as the launcher relays it: `hgrid-status:` lines from the
 * coordinator become a progress indicator (one redrawn line on a terminal, plain
 * throttled lines otherwise); everything else passes through untouched. It also notes
 * which rank mpirun names as the first to fail, for the closing summary. */
#ifndef HG_PROGRESS_H
#define HG_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct hg_progress hg_progress;

hg_progress *hg_progress_new(FILE *out, int world, int tty);
void hg_progress_free(hg_progress *p);

/* Bytes read from the job's stderr; now is seconds since launch. */
void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now);
/* End of the stream: passes any unterminated line through. */
void hg_progress_finish(hg_progress *p);
/* Periodic redraw of the terminal line. */
void hg_progress_tick(hg_progress *p, double now);
/* Erases the terminal progress line so a message can be printed cleanly. */
void hg_progress_clear(hg_progress *p);

int hg_progress_ready(const hg_progress *p);
/* Whether the coordinator has announced its go / no-go decision. */
int hg_progress_decided(const hg_progress *p);
/* The first failing rank as mpirun reported it, with its exit status, or the signal
 * that killed it (0 when it exited); returns 0 when mpirun named one. */
int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal);

#endif
