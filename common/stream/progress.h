/* The job's stderr as the launcher relays it: the coordinator's status lines (common/
 * protocol.h: "hgrid-status TOKEN: ...", this job's token only) become a progress
 * indicator (one redrawn line on a terminal, plain throttled lines otherwise) and are
 * never shown; the ranks' deadline messages become one line per distinct cause; mpirun's
 * own messages about the job's end (below) go to a noise sink; every other byte passes
 * through unchanged. It also notes which rank mpirun names as the first to fail, for the
 * closing summary. */
#ifndef HG_PROGRESS_H
#define HG_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct hg_progress hg_progress;

/* Seconds without a new deadline message after which the held ones are printed
 * (hg_progress_tick); hg_progress_finish prints them in any case. */
#define HG_PROGRESS_DEADLINE_QUIET_S 1.0
/* Seconds the start of a line that may still be one of mpirun's messages (a box's line
 * of dashes, a "mpirun: Forwarding" line) is held before hg_progress_tick passes it on. */
#define HG_PROGRESS_HOLD_S 0.25
/* How often a terminal's progress line is redrawn while ranks get ready. */
#define HG_PROGRESS_REDRAW_S 0.1

/* token: this job's status token; NULL or "": no line is a status line. */
hg_progress *hg_progress_new(FILE *out, int world, int tty, const char *token);
void hg_progress_free(hg_progress *p);

/* Where mpirun's noise goes: Open MPI's boxed messages (a line of 74 dashes above and
 * below) whose first line begins "Primary job  terminated normally", "mpirun detected
 * that one or more processes exited with non-zero status", "mpirun noticed that process
 * rank " or "mpirun noticed that the job aborted", and the lines "mpirun: Forwarding
 * signal N to job". They never reach out; they are written to sink byte for byte, dashes
 * included (sink NULL, the default: dropped; sink == out: shown after all). Every other
 * box (no slots, no executable, ...) passes unchanged. hg_progress_first_failure reads
 * the diverted boxes as before. The caller keeps sink open until hg_progress_free. */
void hg_progress_set_noise(hg_progress *p, FILE *sink);
/* mpirun's process ID: its own lines ("[HOST:PID] ...", e.g. a crash while it tears the
 * job down) are noise too, as are the single lines of PMIx and libevent ("[HOST:PID]
 * PMIX ERROR: ...", "[HOST:PID] pmix_...", "[warn] Epoll ...") and srun's ("srun: error:
 * HOST: tasks ...", "srun: Force Terminated ...", "srun: Job step aborted ..."). */
void hg_progress_set_launcher_pid(hg_progress *p, long pid);
/* How many of those messages (a box or a line each) were kept out of out so far. */
size_t hg_progress_noise_count(const hg_progress *p);

/* Bytes read from the job's stderr; now is seconds since launch. */
void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now);
/* End of the stream: passes any held bytes through and prints the held deadline lines. */
void hg_progress_finish(hg_progress *p);
/* Periodic redraw of the terminal line; prints the held deadline lines once none has
 * come for HG_PROGRESS_DEADLINE_QUIET_S, and passes on a line start held for
 * HG_PROGRESS_HOLD_S. Call it a few times a second. */
void hg_progress_tick(hg_progress *p, double now);
/* Erases the terminal progress line so a message can be printed cleanly. */
void hg_progress_clear(hg_progress *p);

int hg_progress_ready(const hg_progress *p);
/* When hg_progress_tick next has work (in tick's time; < 0: none): held deadline lines
 * or a held line start to release, the terminal's line to redraw. */
double hg_progress_next_due(const hg_progress *p);
/* Rank 0's agent said it runs: the job started. */
int hg_progress_started(const hg_progress *p);
/* The coordinator announced its decision: 1 go, 0 no-go; -1 not yet. */
int hg_progress_decision(const hg_progress *p);
/* The coordinator wrote the --report file. */
int hg_progress_report_written(const hg_progress *p);
/* How many of the ranks' deadline messages came (printed or still held). */
size_t hg_progress_deadlines(const hg_progress *p);
/* The first host mpirun or srun said is gone: Open MPI's boxes "ORTE has lost
 * communication with a remote daemon" (the remote daemon's node), "ORTE was unable to
 * reliably start one or more daemons" and "An ORTE daemon has unexpectedly failed after
 * launch" (the host of the rsh agent's last "ssh: connect to host HOST" line, when
 * there was one), srun's "srun: error: Node failure on HOST" and "srun: error: Nodes
 * HOST are still not ready". Each is noise (the raw text goes to the sink) and becomes
 * one line on out, "hgrid: host HOST lost: HOW". Returns the host or NULL; *how (may be
 * NULL) gets HOW ("mpirun lost its daemon on it", "SLURM reported a node failure"). */
const char *hg_progress_lost_host(const hg_progress *p, const char **how);
/* The first failing rank as mpirun reported it, with its exit status, or the signal
 * that killed it (0 when it exited); returns 0 when mpirun named one. */
int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal);

#endif
