/* The agent's context and the steps it runs, shared by hgrid-agent (exec handoff) and
 * libhgrid's hg_init (in-process). One struct, hg_agent, owns everything a rank holds
 * between MPI_Init and the handoff; each step is a function over it. Private to agent/
 * (the public face is include/hgrid.h, over api.c). Includes go one way, agent.h ->
 * backend.h -> groups.h -> layout.h (and watchdog.h, clock.h): the backends include
 * backend.h, never this. */
#ifndef HG_AGENT_H
#define HG_AGENT_H

#include <mpi.h>
#include <stdio.h>

#include "backend.h"
#include "util/error.h"
#include "grid/groups.h"
#include "grid/layout.h"
#include "watchdog.h"


typedef struct hg_agent_opts {
    const char *config_path;
    int backend;     /* hg_backend; HG_BACKEND_FROM_CONFIG: the config's agent.backend */
    int timeout_s;   /* 0: the config's agent.init_timeout_s */
    int preflight;   /* hg_preflight; -1: the config's agent.preflight */
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

/* What rank 0 decides after readiness and tells every rank. */
typedef struct hg_decision {
    int go;
    int nfailed;
    int ntimedout;  /* failed ranks whose own step ran past the deadline: no-go is 124 */
    int nusage;     /* failed ranks whose PROGRAM cannot run: when all are, no-go is 2 */
    int placement;  /* --strict refused groups across the hosts the ranks reported: 2 */
    int master_port;
    char master_addr[256];
    char io[1024];      /* relay mode: the output collector's HGRID_IO (collector.h), "": none */
    char io_token[32];  /* ... and the status token its keepers say in their HELLO */
} hg_decision;

/* Who and where this rank is: bootstrap.c learns it, nothing changes it after. */
typedef struct hg_identity {
    int rank, world;
    int local_rank, local_size;
    int node, nodes;    /* this host's index (hosts ordered by their lowest rank), count */
    char host[256];
    MPI_Comm ctrl;      /* a private duplicate of MPI_COMM_WORLD for the agent's own talk */
    MPI_Comm local;     /* the ranks of this host (MPI_COMM_TYPE_SHARED), from ctrl */
    int mpi_owned;      /* this agent called MPI_Init, so it calls MPI_Finalize */
} hg_identity;

/* The layout and this rank's part of it: bootstrap.c parses the layout, agent.c's
 * view step builds the view and the comm set. */
typedef struct hg_grid {
    hg_layout *layout;
    hg_rank_view view;  /* this rank's module, coordinates, groups and bridges; colocated:
                         * the language module's, every module's in view.per_module */
    int have_view;
    hg_comm_set comms;  /* built with the view; its views are the view's (per_module) */
} hg_grid;

/* How the steps ran: agent.c's step runner (the watchdog is told of each phase). */
typedef struct hg_run {
    double t0;          /* hg_now() when the agent started */
    double deadline;    /* t0 + timeout: NCCL init and readiness are bounded by it */
    hg_phase phase;
    hg_phase failed_phase;
    double times[HG_PHASE_TIMED];
    double gpu_mib[HG_PHASE_TIMED]; /* GPU memory taken during each phase (MiB) */
    int gpu_measured;   /* gpu_mib holds measurements (a GPU backend that can tell) */
    hg_watchdog wd;
} hg_run;

/* What the steps found, each field filled by one phase. */
typedef struct hg_results {
    int usage_failed;   /* bootstrap (program step): PROGRAM cannot run: the user's error */
    int device;         /* gpu: the CUDA device this rank bound (bk.device); -1: none */
    int ncomms;         /* world, groups: communicators this rank built (the world and
                         * the bridge groups it leads included) */
    int bridge_links;   /* bridges.c: links this rank proved as their sender */
    int bridge_broadcasts; /* bridges.c: boundary groups whose broadcast this rank led */
    int bridge_groups;  /* verify.c: bridges' own groups this rank is in and proved */
    int bridge_groups_first; /* verify.c: those of them whose lowest member it is */
    hg_decision decision; /* readiness.c: rank 0's, on every rank */
} hg_results;

typedef struct hg_agent {
    hg_agent_opts opts; /* the caller's; bootstrap makes share and strict rank 0's */
    hg_identity id;
    hg_settings set;    /* bootstrap.c: the config under rank 0's overrides (backend.h) */
    hg_grid grid;
    hg_run run;
    const hg_backend_ops *be; /* agent.c: the options' backend before bootstrap (its
                               * prewarm), the settings' after */
    hg_backend_rank bk; /* what the backend sees of this rank (a copy, filled once) */
    hg_results result;
} hg_agent;

/* bootstrap.c: MPI up, local rank and the host's communicator, rank 0's config bytes
 * parsed on every rank, the world size checked. Rank 0 prints config diagnostics. */
int hg_bootstrap(hg_agent *a, hg_error *err);

/* verify.c: one all-reduce per communicator whose sum is known from the layout (each
 * rank adds rank + 1), and every kind's and bridge group's communicator size and rank
 * against the view. */
int hg_verify(hg_agent *a, hg_error *err);

/* bridges.c: proof of this rank's bridges: a broadcast from the leader of each of its
 * boundary groups (the shared tp_cp communicator), then a known value both ways over
 * each of its links (the world communicator), polled against the deadline; a peer that
 * sends nothing is named with this rank and the bridge. Only ranks of a bridge do
 * anything; all others return 0 at once. */
int hg_bridges(hg_agent *a, hg_error *err);

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
/* Exit status for a start() failure (common/wire/protocol.h): 2 config/usage (PROGRAM that
 * cannot run included), 3 pre-flight, 124 deadline. */
int hg_agent_exit_status(int rc);
/* The live communicator of a slot (hg_backend_ops.comm): a pointer to an MPI_Comm with
 * the mpi backend, an ncclComm_t with nccl; NULL outside [0, comms.nslots). */
void *hg_agent_comm(const hg_agent *a, int slot);

/* For api.c: what a rank holds per module (agent.c).
 *
 * The rank's modules are numbered m = 0 .. hg_agent_module_count() - 1: its one module
 * in a disjoint layout (m = 0 is view.module_index of the layout), every module of a
 * colocated one in config order (m is then the layout's module index, and view.
 * module_index the language module's). hg_agent_module_view is the rank's view of
 * module m (its coordinates and groups there; NULL past the end); hg_agent_module_slot
 * its slot of (m, kind) (HG_KIND_WORLD: the world), -1 when the rank is in no group of
 * the kind there. Identical memberships share one slot, across modules too: two (m,
 * kind) with one slot are one communicator. */
int hg_agent_module_count(const hg_agent *a);
const hg_rank_view *hg_agent_module_view(const hg_agent *a, int m);
int hg_agent_module_slot(const hg_agent *a, int m, int kind);


/* handoff.c: the exec-mode environment, the plan file, teardown and execvp. Consumes a
 * (freed on every path). Returns only on failure: HG_ESYS when execvp failed, another
 * HG_E* code when the handoff failed before it; err says why. The status token is
 * removed from the environment: the program is not the agent. */
int hg_handoff_exec(hg_agent *a, char **argv, hg_error *err);

#endif
