/* The launcher's end of the ranks' channel (common/wire/record.h): a TCP listener that each
 * rank's keeper connects to after go. It is the one writer of the ranks' output: each
 * record reaches the user's stdout or stderr queue whole, in one piece, labelled
 * "[RANK MODULE] " with --label, and byte for byte the rank's --log-dir files; the
 * in-process coordinator's status lines go to the progress filter. It knows each rank's
 * exit status, in the order they arrived, and it carries the stop: a signal to every
 * rank's program, then the release of the statuses the keepers hold. */
#ifndef HG_IOCHAN_H
#define HG_IOCHAN_H

#include <poll.h>
#include <stdio.h>

#include "util/error.h"
#include "grid/layout.h"
#include "stream/outq.h"
#include "stream/progress.h"

typedef struct hg_iochan hg_iochan;

/* Listens on every interface; hg_iochan_address is then HGRID_IO's value (protocol.h)
 * for the ranks' environment (also set in this one, as before). */
int hg_iochan_listen(hg_iochan **out, int world, hg_error *err);
const char *hg_iochan_address(const hg_iochan *ch);
void hg_iochan_free(hg_iochan *ch);

typedef struct hg_iochan_sinks {
    const char *token;        /* the job's status token: HELLOs must carry it */
    const hg_layout *layout;  /* module names for labels and log files */
    int label;                /* --label */
    const char *log_dir;      /* --log-dir, or NULL */
    hg_outq *out_q, *err_q;   /* the user's stdout and stderr */
    hg_progress *progress;    /* status lines; its terminal line is cleared before output */
    FILE *err;                /* the launcher's own messages */
} hg_iochan_sinks;

/* Where the records go; the sinks outlive the channel's use. The launcher's own
 * messages to err_q's stream (hg_outq_stream) start on a line of their own: a rank's
 * partial line open there is ended first (hg_outq_on_own_write). Detach before the
 * queues are freed. */
void hg_iochan_attach(hg_iochan *ch, const hg_iochan_sinks *sinks);
void hg_iochan_detach(hg_iochan *ch);

/* Adds the channel's descriptors to fds (room for hg_iochan_nfds()); the ranks'
 * connections are read only when `read` (the supervisor's back-pressure). Returns how
 * many were added. */
int hg_iochan_nfds(const hg_iochan *ch);
int hg_iochan_pollfds(hg_iochan *ch, struct pollfd *fds, int read);
/* Serves what poll found on the n descriptors that hg_iochan_pollfds added. */
void hg_iochan_serve(hg_iochan *ch, const struct pollfd *fds, int n, double now);

/* Ranks that said HELLO, ranks whose program's status arrived, connections still open. */
int hg_iochan_connected(const hg_iochan *ch);
int hg_iochan_exited(const hg_iochan *ch);
int hg_iochan_open(const hg_iochan *ch);
/* Whether rank's program's final status arrived. */
int hg_iochan_rank_exited(const hg_iochan *ch, int rank);
/* hg_now() when the first failure's status arrived, -1 none. */
double hg_iochan_first_failure_at(const hg_iochan *ch);
/* Ranks whose status arrived or whose host was dropped: nothing more will come. */
int hg_iochan_settled(const hg_iochan *ch);

/* Host liveness. Each keeper sends a record at least every HG_ALIVE_INTERVAL_MS, busy
 * or hung program or not; a host is lost when every one of its ranks that still owes
 * its program's status has been silent for silence_s, or its connection ended without
 * that status (reset). */
typedef struct hg_iochan_lost {
    char host[128];
    int *ranks;   /* room for cap: the host's ranks that were lost, ascending order of */
    int cap, n;   /* ... connection; n of them */
    int reset;    /* every one of them reset (killed) rather than fell silent */
} hg_iochan_lost;
/* Returns 1 and fills *out with the first lost host found, else 0. */
int hg_iochan_lost_host(const hg_iochan *ch, double now, double silence_s, hg_iochan_lost *out);
/* Stops waiting for the host's ranks: their connections are closed and they count as
 * settled. */
void hg_iochan_drop_host(hg_iochan *ch, const char *host);
/* When the channel next has something to do or judge by the clock alone (hg_now()
 * seconds; < 0: nothing): a connection's HELLO running out, a heartbeat's silence
 * reaching stall_s (0: not watched), a keeper's silence reaching silence_s (0: not
 * watched), a held stack dump to write. */
double hg_iochan_next_due(const hg_iochan *ch, double stall_s, double silence_s);
/* Counts every open connection as heard now: after a time in which the launcher did
 * not read them (its own reader was slow), their silence says nothing. */
void hg_iochan_heard_all(hg_iochan *ch, double now);
/* The first rank whose program failed (non-zero status or a signal) and its wait
 * status; returns -1 when none did. */
int hg_iochan_first_failure(const hg_iochan *ch, int *rank, int *wstatus);

/* The root cause a failed rank's keeper found in its program's error file (torch's
 * @record, HG_REC_CAUSE), as torchrun shows it: "hgrid: rank R (MODULE) root cause
 * (TIME): MESSAGE" and, when the traceback has one, "hgrid: rank R (MODULE)   FRAME" (its
 * last frame); TIME is torchrun's local %Y-%m-%d_%H:%M:%S. Nothing when none came. */
void hg_iochan_say_cause(const hg_iochan *ch, int rank, FILE *out);

/* Heartbeats (HG_REC_BEAT): once a rank whose program has beaten and still runs has not
 * beaten for stall_s seconds, it and those silent for half as long (ranks that stall
 * together stop within a step of each other), ascending, with their last steps (room for
 * the world size in each array); the steps of the ranks still beating go to others.
 * Returns how many stalled (0: none yet). Ranks that never beat are in neither list. */
int hg_iochan_stalled(const hg_iochan *ch, double stall_s, int *ranks, long *steps, long *others,
                      int *nothers);
/* Sends sig to the processes whose heartbeats said it dumps their stacks, each alone (not
 * its process group); returns how many. */
int hg_iochan_signal_stacks(hg_iochan *ch, int sig);
/* Stack dumps asked for and still being held (not yet written out). */
int hg_iochan_dumps_pending(const hg_iochan *ch);
/* What the channel knows of one rank's heartbeats and stacks; a rank that never
 * connected has connected 0 and step -1. */
typedef struct hg_iochan_beat {
    int connected, exited;
    int beats;            /* heartbeats seen */
    long step;            /* the latest's step, -1 none */
    long long compute_us; /* the latest's compute time so far (wire/beat.h), -1 none */
    int asks_stacks;      /* its latest heartbeat said it dumps its stacks on SIGUSR1 */
    int asked;            /* it was sent the stacks signal */
    const char *stacks;   /* its dump (the part held so far while one is under way), or */
    size_t stacks_len;    /* ... NULL; valid until the channel next serves */
} hg_iochan_beat;
void hg_iochan_rank_beat(const hg_iochan *ch, int rank, hg_iochan_beat *out);
/* The host a rank's keeper said it runs on, or NULL when it has not connected. */
const char *hg_iochan_host(const hg_iochan *ch, int rank);

/* Sends sig to every rank's program, now and to ranks that connect later. */
void hg_iochan_signal_all(hg_iochan *ch, int sig);
/* Lets every keeper that holds its program's status exit with it, now and later. */
void hg_iochan_release_all(hg_iochan *ch);

#endif
