/* What hgrid-launch and the agents must agree on: the status channel, the exit codes
 * and the limits both check. One home for each fact (STYLE.md): the launcher's --help,
 * the agent's and the tests take them from here. */
#ifndef HG_PROTOCOL_H
#define HG_PROTOCOL_H

/* Exit codes of hgrid-launch and hgrid-agent. Anything else is the workload's own
 * status (a workload rank killed by signal N gives 128+N, as in a shell), or 128+N
 * when the launcher itself was stopped by signal N. */
#define HG_EXIT_OK 0
#define HG_EXIT_OUTPUT 1       /* dry-run: the plan could not be written */
#define HG_EXIT_USAGE 2        /* usage, invalid config, PROGRAM not found, wrong task count */
#define HG_EXIT_PREFLIGHT 3    /* an agent failed pre-flight (signals included) */
#define HG_EXIT_NOT_STARTED 4  /* the job could not be started: mpirun missing or failing,
                                * bad hostfile, argument list too long, no rank started */
#define HG_EXIT_DEADLINE 124   /* the readiness deadline passed */

/* The status channel. A standalone hgrid-launch puts a random per-job token in the
 * environment of every rank; the coordinator (rank 0) then writes its status to stderr
 * as lines "hgrid-status TOKEN: MESSAGE\n", which the launcher consumes and never
 * shows. Without the variable (srun, mpirun, in-process without a launcher) nothing
 * of the protocol is written: users see only readable lines. A workload's own line
 * can never carry a token it was not given, so it always passes through.
 * Messages: "started" (rank 0's agent is running), "ready N/W", "failed rank R",
 * "go", "no-go", "report" (the readiness report has been written). */
#define HG_ENV_STATUS_TOKEN "HGRID_STATUS_TOKEN"
#define HG_STATUS_PREFIX "hgrid-status "
#define HG_STATUS_TOKEN_LEN 16          /* hex digits */
#define HG_STATUS_LINE_MAX 256          /* longer lines are never status lines */

/* Readiness deadline range, seconds (agent.init_timeout_s, --timeout). */
#define HG_TIMEOUT_MIN_S 1
#define HG_TIMEOUT_MAX_S 86400
#define HG_TIMEOUT_DEFAULT_S 120

/* Seconds a stopping workload gets between the forwarded signal and SIGKILL. */
#define HG_GRACE_DEFAULT_S 30

#endif
