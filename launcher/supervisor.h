/* Runs the job's top process (mpirun) as a child and stays its supervisor: relays its
 * stdout and stderr (the latter through the progress filter) without ever blocking on
 * a slow reader, delivers SIGINT/SIGTERM/SIGHUP to the ranks and gives them a grace
 * period before SIGKILL (a second signal kills at once), enforces a backstop deadline,
 * and makes sure nothing it started outlives it. Returns the status the launcher should
 * exit with (common/protocol.h). */
#ifndef HG_SUPERVISOR_H
#define HG_SUPERVISOR_H

#include "error.h"
#include "iochan.h"
#include "layout.h"

typedef struct hg_supervise_opts {
    char *const *argv;        /* argv[0] is looked up on PATH */
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
} hg_supervise_opts;

/* How an attempt ended, for the restart loop and the closing lines. */
typedef struct hg_attempt {
    int status;          /* the exit status it stands for (protocol.h) */
    int restartable;     /* failed in a way another attempt may not: a rank's failure, a
                          * pre-flight no-go or deadline, a stall; never the operator's stop,
                          * a usage error or a job that could not start */
    int operator_stop;   /* ended by the operator's signal */
    int failed_rank;     /* the first failed rank, -1 when none is known */
    int failed_signal;   /* ... killed by this signal, 0: it exited */
    char failed_host[128]; /* ... on this host, "" when not known */
    double duration_s;
    double go_s;         /* seconds from the start to go, -1 when there was none */
    char why[512];       /* the cause in words, "" on success */
} hg_attempt;

/* Returns 0 and fills *result, or an HG_E* code when supervision could not be set up
 * (nothing was started then). */
int hg_supervise(const hg_supervise_opts *opts, hg_attempt *result, hg_error *err);

#endif
