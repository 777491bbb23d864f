/* Runs the job's top process (mpirun) as a child and stays its supervisor: relays its
 * stderr through the progress filter, forwards SIGINT/SIGTERM/SIGHUP (a second one
 * kills), enforces the readiness deadline, and makes sure nothing it started outlives
 * it. Returns the status the launcher should exit with. */
#ifndef HG_SUPERVISOR_H
#define HG_SUPERVISOR_H

#include "error.h"
#include "layout.h"

typedef struct hg_supervise_opts {
    char *const *argv;        /* argv[0] is looked up on PATH */
    int world;
    int deadline_s;           /* all ranks ready within this, or exit 124; 0: none */
    const hg_layout *layout;  /* names the module of a failing rank */
    int verbose;
} hg_supervise_opts;

/* Returns 0 and sets *status (DESIGN.md exit codes), or an HG_E* code when the job
 * could not be started at all. */
int hg_supervise(const hg_supervise_opts *opts, int *status, hg_error *err);

#endif
