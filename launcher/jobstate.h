/* One attempt of a job as a state machine: the state it is in, the first stop reason
 * (which wins and is never rebuilt later), and the verdict, a pure function of the stop
 * reason and the facts gathered: exit status, whether another attempt may help, whom to
 * blame, the cause in words. The supervisor feeds it events; nothing here does I/O. */
#ifndef HG_JOBSTATE_H
#define HG_JOBSTATE_H

#include <stddef.h>

/* The attempt's life. STARTING: mpirun (srun) runs, no agent spoke yet; PREFLIGHT: the
 * agents bootstrap and prove their groups; RUNNING: go was given, the programs run;
 * STOPPING: a stop reason is set and the ranks are being ended; ENDED: mpirun is gone
 * and every stream has ended. */
typedef enum hg_job_state {
    HG_JOB_STARTING,
    HG_JOB_PREFLIGHT,
    HG_JOB_RUNNING,
    HG_JOB_STOPPING,
    HG_JOB_ENDED,
} hg_job_state;

/* Why an attempt ended: hgrid's own verdict, carried apart from the exit status. A
 * workload's status is whatever its program chose (6, 124, ...) and is never read as
 * one of hgrid's codes. */
typedef enum hg_stop {
    HG_STOP_NONE,        /* every rank's program exited 0 */
    HG_STOP_WORKLOAD,    /* a rank's program failed after go: status is its exit status */
    HG_STOP_PREFLIGHT,   /* pre-flight no-go, or a rank failed before go */
    HG_STOP_DEADLINE,    /* the readiness deadline passed */
    HG_STOP_STALL,       /* ranks stopped beating (--stall-timeout) */
    HG_STOP_OPERATOR,    /* the operator's signal */
    HG_STOP_USAGE,       /* the agents refused the config or PROGRAM */
    HG_STOP_NOT_STARTED, /* mpirun (srun) could not start the job */
    HG_STOP_HOST_LOST,   /* a host went silent or reset, or the scheduler said it failed */
    HG_STOP_RANK_LOST,   /* the job ended with ranks whose program's status never came */
} hg_stop;

const char *hg_job_state_name(hg_job_state s);
const char *hg_stop_name(hg_stop s);

/* Whether another attempt may help after an attempt that ended so: a rank's failure,
 * a pre-flight no-go or deadline, a stall, a lost host or rank; never success, the
 * operator's stop, a usage error or a job that could not start. */
int hg_stop_restartable(hg_stop stop);

typedef struct hg_jobstate {
    hg_job_state state;
    hg_stop stop;        /* HG_STOP_NONE until the first stop reason */
    int stopped;         /* a stop reason was set */
    double stop_at;      /* when it was set */
} hg_jobstate;

void hg_jobstate_init(hg_jobstate *j);
/* Moves to state `to`; returns 0, or -1 (nothing changed) when the move is not legal:
 * states only go forward, and ENDED is final. */
int hg_jobstate_move(hg_jobstate *j, hg_job_state to);
/* Sets the stop reason if none is set yet and moves to STOPPING (unless ENDED); returns
 * 1 when this call set it, 0 when an earlier reason stands. */
int hg_jobstate_stop(hg_jobstate *j, hg_stop why, double now);

/* What is known when the attempt has ended. */
typedef struct hg_job_facts {
    const char *launcher;    /* argv[0] of mpirun / srun */
    int exec_errno;          /* the launcher could not be executed, else 0 */
    int launcher_code;       /* its exit status, 128+N when killed by signal N */
    int launcher_signal;     /* ... N, 0 when it exited */
    int started;             /* an agent spoke (rank 0's "started" or a decision) */
    int decision;            /* -1 none, 0 no-go, 1 go */
    int deadline_reports;    /* ranks that reported their readiness deadline */
    int world, ready;
    int deadline_s, stall_s, liveness_s;
    int operator_signal;     /* the first signal the operator sent, 0 none */
    int channel;             /* the ranks' statuses come through hgrid's channel */
    int exited;              /* ranks whose program's status arrived */
    int first_rank;          /* first failed rank, -1 none */
    int first_code, first_signal; /* its status as a shell says it, and the signal */
    const char *first_module;
    const char *lost_host;   /* the lost host, NULL none */
    const char *lost_ranks;  /* its ranks, "4-6 (language)" */
    const char *lost_how;    /* "no word from ranks 4-6 (language) for 10 s" */
    const char *missing;     /* ranks with no final status, "4-7", when any */
} hg_job_facts;

typedef struct hg_verdict {
    hg_stop stop;
    int status;              /* what hgrid-launch exits with */
    int restartable;
    int blame_rank;          /* -1 none */
    char why[512];           /* the cause in words, "" on success */
} hg_verdict;

/* The verdict of an attempt whose stop reason is j->stop when one was set (stopped),
 * else found from the facts: the launcher's exec failure, no agent ever speaking, a
 * failure before go (usage, deadline, pre-flight), a rank's failure after go, ranks that
 * never reported a status (no false success), else success. */
void hg_job_verdict(const hg_jobstate *j, const hg_job_facts *f, hg_verdict *v);

/* The job's closing line ("hgrid: ...\n") for a verdict that ends the job, into buf;
 * "" when there is none (success, the operator's stop, which was said when it came). */
void hg_job_closing_line(const hg_verdict *v, const hg_job_facts *f, char *buf, size_t len);

#endif
