/* Runs the job's top process (mpirun) as a child and stays its supervisor: relays its
 * stdout and stderr (the latter through the progress filter) without ever blocking on
 * a slow reader, delivers SIGINT/SIGTERM/SIGHUP to the ranks and gives them a grace
 * period before SIGKILL (a second signal kills at once), enforces a backstop deadline,
 * and makes sure nothing it started outlives it. Returns the status the launcher should
 * exit with (common/wire/protocol.h). */
#ifndef HG_SUPERVISOR_H
#define HG_SUPERVISOR_H

#include <stdio.h>

#include "util/error.h"
#include "stream/iochan.h"
#include "jobstate.h"
#include "grid/layout.h"

/* How an attempt ended, for the restart loop and the closing lines. */
typedef struct hg_attempt {
    hg_stop stop;        /* why it ended: hgrid's verdict */
    int status;          /* the exit status it stands for (protocol.h, or the workload's) */
    int failed_rank;     /* the first failed rank, -1 when none is known */
    int failed_signal;   /* ... killed by this signal, 0: it exited */
    char failed_host[128]; /* ... on this host, "" when not known */
    double duration_s;
    double go_s;         /* seconds from the start to go, -1 when there was none */
    char why[512];       /* the cause in words, "" on success */
    long launcher_messages; /* mpirun's (srun's) messages kept out of the user's stderr */
} hg_attempt;

/* Asked by hg_supervise once a failed attempt has ended whose stop is restartable,
 * before any closing line: whether the job goes on. */
typedef enum hg_next {
    HG_NEXT_END,     /* the job ends with this attempt: its closing line is printed */
    HG_NEXT_RESTART, /* another attempt follows: the callback said so on out */
    HG_NEXT_ENDED,   /* the job ends for a reason the callback said on out */
} hg_next;
typedef hg_next (*hg_next_fn)(void *ctx, const hg_attempt *a, FILE *out);

typedef struct hg_supervise_opts {
    char *const *argv;        /* argv[0] is looked up on PATH */
    char *const *envp;        /* argv[0]'s environment (childenv.h); NULL: this process's */
    int world;
    int deadline_s;           /* all ranks ready within this, or exit 124; 0: none */
    int grace_s;              /* stop signal to SIGKILL */
    const hg_layout *layout;  /* names the module of a failing rank */
    int verbose;
    const char *token;        /* the job's status token (protocol.h) */
    const char *report_path;  /* --report: written here when the coordinator could not */
    const char *backend;      /* for that report */
    hg_iochan *io;            /* the ranks' channel (listening); NULL: none */
    int in_process;           /* status lines come through the channel too */
    int label;                /* --label: the channel's records get "[RANK MODULE] " */
    const char *log_dir;      /* --log-dir: the channel's records also go there; and
                               * where output spills while the job is stopping */
    int stall_s;              /* --stall-timeout: 0 none */
    int first_beat_s;         /* --first-beat-timeout: from go to each rank's first
                               * heartbeat; 0 none */
    int straggler_pct;        /* --stragglers: PCT % (0: off) over STEPS steps */
    int straggler_steps;
    int host_timeout_s;       /* --host-timeout: 0 none */
    const char *launcher;     /* "mpirun" or "srun": names LOG_DIR/LAUNCHER.stderr */
    hg_next_fn next;          /* NULL: a failed attempt always ends the job */
    void *next_ctx;
} hg_supervise_opts;

/* Returns 0 and fills *result, or an HG_E* code when supervision could not be set up
 * (nothing was started then). */
int hg_supervise(const hg_supervise_opts *opts, hg_attempt *result, hg_error *err);

#endif
