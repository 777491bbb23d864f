/* The agent's context and the steps it runs, shared by hgrid-agent (exec handoff) and
 * libhgrid's hg_init (in-process). One struct, hg_agent, owns everything a rank holds
 * between MPI_Init and the handoff; each step is a function over it. Internal: the
 * public face is hgrid.h. */
#ifndef HG_AGENT_H
#define HG_AGENT_H

#include <mpi.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "error.h"
#include "layout.h"

/* Phases a rank passes through; the first HG_PHASE_TIMED are timed and reported. */
typedef enum hg_phase {
    HG_PHASE_BOOTSTRAP,
    HG_PHASE_GPU,
    HG_PHASE_WORLD,
    HG_PHASE_GROUPS,
    HG_PHASE_VERIFY,
    HG_PHASE_READINESS,
    HG_PHASE_HANDOFF
} hg_phase;
#define HG_PHASE_TIMED 5

const char *hg_phase_name(hg_phase p);

static inline double hg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Slot 0 of a rank's communicators is the world; kinds map onto slots. */
#define HG_SLOT_WORLD 0
#define HG_MAX_SLOTS (HG_KIND_COUNT + 1)

/* Which communicators one rank builds (groups.c). A kind whose group has the same
 * members as an earlier kind's (or the world's) shares that slot instead of a split. */
typedef struct hg_comm_set {
    int slot[HG_KIND_COUNT];        /* -1: this rank is in no group of the kind */
    int nslots;                     /* distinct communicators, the world included */
    int slot_kind[HG_MAX_SLOTS];    /* the kind that created each slot; -1: world */
    unsigned creates;               /* bit k: this rank's split at kind k makes a slot */
    unsigned splits;                /* bit k: some rank anywhere creates at kind k */
} hg_comm_set;

/* Computes this rank's slots; share = 0 builds one communicator per kind. */
void hg_comm_set_build(const hg_rank_view *v, int share, hg_comm_set *out);
/* The split color of this rank at kind k: the group's lowest member, unique across
 * every group of the kind in the world; -1 when this rank makes no communicator there. */
int hg_comm_set_color(const hg_comm_set *cs, const hg_rank_view *v, hg_kind k);
/* "language tp [4, 5]" (long member lists shortened), for messages. */
void hg_group_describe(const hg_rank_view *v, int slot_kind, char *buf, size_t len);

typedef struct hg_watchdog {
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double deadline; /* hg_now() seconds */
    int timeout_s;   /* for the message */
    int stop;
    atomic_int rank; /* -1 until known */
    atomic_int phase;
} hg_watchdog;

int hg_watchdog_start(hg_watchdog *w, double deadline, int timeout_s, hg_error *err);
void hg_watchdog_rearm(hg_watchdog *w, double deadline, int timeout_s);
void hg_watchdog_phase(hg_watchdog *w, hg_phase p);
void hg_watchdog_stop(hg_watchdog *w);
/* Prints the deadline line (`hgrid: rank R: readiness deadline of S s passed in phase
 * P`, plus detail when given) and _exit(124), so the launcher tears the job down. */
_Noreturn void hg_deadline_exit(int rank, int timeout_s, hg_phase phase, const char *detail);

typedef struct hg_agent_opts {
    const char *config_path;
    int backend;     /* -1: the config's agent.backend */
    int timeout_s;   /* 0: the config's agent.init_timeout_s */
    const char *report_path;
    int verbose;
    int strict;
    int share;       /* 1: identical memberships share a communicator (default) */
    int exec_handoff;/* 1: rank 0 picks MASTER_PORT for the exec'd program */
    const char *program; /* exec handoff: PROGRAM (argv[0]), checked on every rank right
                          * after bootstrap; NULL: no check (in-process) */
    int label;           /* --label: PROGRAM's lines get "[RANK MODULE] " (relay.h) */
    const char *log_dir; /* --log-dir: PROGRAM's streams also to files there (relay.h) */
} hg_agent_opts;

struct hg_backend_ops;

/* A GPU context made while MPI_Init runs (backend_nccl.c): CUDA's start-up cost then
 * overlaps MPI's instead of following it. */
typedef struct hg_prewarm {
    pthread_t thread;
    int started;
    int local_rank, local_size; /* the launcher's hints; -1: not given */
} hg_prewarm;

/* What rank 0 decides after readiness and tells every rank. */
typedef struct hg_decision {
    int go;
    int nfailed;
    int ntimedout;  /* failed ranks whose own step ran past the deadline: no-go is 124 */
    int nusage;     /* failed ranks whose PROGRAM cannot run: when all are, no-go is 2 */
    int master_port;
    char master_addr[256];
} hg_decision;

typedef struct hg_agent {
    hg_agent_opts opts;
    double t0;          /* hg_now() when the agent started */
    double deadline;    /* t0 + timeout: NCCL init and readiness are bounded by it */
    int timeout_s;
    int verify;
    int backend;        /* hg_backend */
    int mpi_owned;      /* this agent called MPI_Init, so it calls MPI_Finalize */
    MPI_Comm ctrl;      /* a private duplicate of MPI_COMM_WORLD for the agent's own talk */
    int rank, world;
    int local_rank, local_size;
    MPI_Comm local;     /* the ranks of this host (MPI_COMM_TYPE_SHARED), from ctrl */
    int device;         /* the CUDA device this rank bound; -1: none */
    int usage_failed;   /* this rank's failure is the user's command (PROGRAM cannot run) */
    char host[256];
    hg_layout *layout;
    union {
        hg_rank_view view; /* this rank's module, coordinates and groups */
        hg_rank_view plan; /* its old name, until api.c reads view */
    };
    int have_view;
    hg_comm_set comms;
    const struct hg_backend_ops *ops;
    void *be;           /* the backend's own state */
    hg_prewarm prewarm;
    double times[HG_PHASE_TIMED];
    hg_phase phase;
    hg_phase failed_phase;
    hg_decision decision;
    hg_watchdog wd;
} hg_agent;

/* A backend builds the slot communicators of a.comms, runs the verification
 * all-reduces and releases them. Every call is made by every rank in the same order. */
typedef struct hg_backend_ops {
    const char *name;
    int (*bind)(hg_agent *a, hg_error *err);   /* GPU binding; NULL: none */
    int (*world)(hg_agent *a, hg_error *err);
    int (*groups)(hg_agent *a, hg_error *err);
    /* sums[s] = the sum of `mine` over slot s's members, for every slot. */
    int (*allreduce)(hg_agent *a, long long mine, long long *sums, hg_error *err);
    /* The size of slot s's communicator and this rank's rank in it. */
    int (*shape)(hg_agent *a, int slot, int *count, int *rank, hg_error *err);
    /* Releases everything; abort = 1 when peers may be gone (no collective teardown). */
    void (*release)(hg_agent *a, int abort);
    /* The live communicator of a slot (a pointer to an MPI_Comm, or an ncclComm_t). */
    void *(*comm)(const hg_agent *a, int slot);
} hg_backend_ops;

extern const hg_backend_ops hg_backend_mpi_ops;
#ifdef HG_HAVE_NCCL
extern const hg_backend_ops hg_backend_nccl_ops;
/* Starts creating the CUDA context of the GPU that the launcher's local rank and size
 * hints (OMPI_COMM_WORLD_LOCAL_RANK/_SIZE, SLURM_LOCALID, MPI_LOCALRANKID) choose by
 * hg_gpu_choose's rules, in a thread that prints nothing; bind() joins it and chooses
 * again from the real local rank, whatever the hints said. */
void hg_nccl_prewarm_start(hg_agent *a);
void hg_nccl_prewarm_join(hg_agent *a);
#endif

/* status.c: one status-channel line, "hgrid-status TOKEN: MESSAGE" (common/protocol.h),
 * in one write(2) to stderr; nothing unless HGRID_STATUS_TOKEN is set. Rank 0 only. */
void hg_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bootstrap.c: MPI up, local rank and the host's communicator, rank 0's config bytes
 * parsed on every rank, the world size checked. Rank 0 prints config diagnostics. */
int hg_bootstrap(hg_agent *a, hg_error *err);

/* verify.c: one all-reduce per communicator whose sum is known from the layout (each
 * rank adds rank + 1), and every kind's communicator size and rank against the view. */
int hg_verify(hg_agent *a, hg_error *err);

/* Fills err from an MPI return code; names the call and the rank. */
int hg_mpi_fail(hg_error *err, int mrc, int rank, const char *call);

/* readiness.c: every rank's record to rank 0, the summary and the collective go/no-go.
 * Returns 0 on go; on no-go HG_ETIMEDOUT when any rank failed by running past the
 * deadline, else HG_EPEER (err: this rank's own failure, if it had one). own is this
 * rank's failure so far, or NULL. */
int hg_readiness(hg_agent *a, const hg_error *own, hg_error *err);

/* agent.c: the whole pre-flight, as both modes run it, and the teardown. */
void hg_agent_opts_default(hg_agent_opts *o);
int hg_agent_start(const hg_agent_opts *opts, hg_agent **out, hg_error *err);
/* Releases the communicators (failed = 1: abort them, nothing collective), and
 * finalizes MPI when the agent initialized it. */
void hg_agent_free(hg_agent *a, int failed);
/* Exit status for a start() failure (common/protocol.h): 2 config/usage (PROGRAM that
 * cannot run included), 3 pre-flight, 124 deadline. */
int hg_agent_exit_status(int rc);

/* handoff.c: the exec-mode environment, the plan file, teardown and execvp. Consumes a
 * (freed on every path). Returns only on failure: HG_ESYS when execvp failed, another
 * HG_E* code when the handoff failed before it; err says why. The status token is
 * removed from the environment: the program is not the agent. */
int hg_handoff_exec(hg_agent *a, char **argv, hg_error *err);

#endif
