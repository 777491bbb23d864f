/* The contract between the agent and a communicator backend (backend_nccl.c,
 * backend_mpi.c): what a backend sees of its rank (hg_backend_rank, which the agent
 * fills), what it must do (hg_backend_ops), and the helpers it may use. A backend
 * includes this and groups.h only: it knows nothing of the agent (agent.h), and the
 * agent nothing of a backend's state. */
#ifndef HG_BACKEND_H
#define HG_BACKEND_H

#include <mpi.h>

#include "util/clock.h"
#include "util/error.h"
#include "grid/groups.h"
#include "grid/layout.h"

/* The run's settings: the config's agent: section under rank 0's command line and
 * environment (bootstrap.c). The agent's own, which a backend may read (nccl: the ranks
 * per bootstrap root of its world). */
typedef struct hg_settings {
    int backend;             /* hg_backend */
    int timeout_s;           /* the readiness deadline's length */
    int verify;              /* prove each communicator (verify.c) */
    int preflight;           /* hg_preflight: the depth this run goes to */
    int nccl_ranks_per_root; /* nccl world init: ranks per bootstrap root; 0: one root */
} hg_settings;

/* What a backend sees of its rank. The agent fills the identity once bootstrap is done
 * (before any backend call but prewarm); the backend fills device and state. */
typedef struct hg_backend_rank {
    int rank, world;
    int local_rank, local_size;
    const char *host;
    MPI_Comm ctrl;            /* the agent's own duplicate of the world (errors return) */
    MPI_Comm local;           /* the ranks of this host, from ctrl */
    double deadline;          /* hg_now(): whatever waits for peers stops here */
    const hg_settings *settings; /* the run's (timeout_s: the deadline's length) */
    const hg_rank_view *view; /* this rank's module, coordinates and groups */
    const hg_comm_set *comms; /* the slots to build; splits is known before groups() */
    int nverify;              /* allreduce() covers slots [0, nverify): all of them after
                               * groups(), the world alone when only it was built */
    int device;               /* bind(): the CUDA device bound; -1: none */
    void *state;              /* the backend's own; release() frees it */
} hg_backend_rank;

/* One bridge link as one of its two ranks proves it (bridges.c): a known value goes to
 * the peer and one comes back from it, on the backend's world communicator. */
#define HG_LINK_WORDS 4
typedef struct hg_link_xfer {
    int peer;                    /* global rank */
    int out[HG_LINK_WORDS];      /* sent to peer */
    int in[HG_LINK_WORDS];       /* what peer sent; valid once done */
    int done;                    /* 1: in[] arrived and this rank's send completed */
    int connected;               /* 0: the link's transfer is not under way yet (nccl:
                                  * its group is still connecting or queued behind an
                                  * earlier link) */
} hg_link_xfer;

/* A backend builds the slot communicators of b->comms, runs the verification
 * all-reduces and releases them. Every call is made by every rank in the same order,
 * except the bridge calls, which only the ranks of a bridge make. */
typedef struct hg_backend_ops {
    /* Before MPI_Init, with nothing of b filled but state: work that may overlap
     * MPI's start (nccl: the GPU's context, on the launcher's local-rank hints). bind()
     * or release() ends it. NULL: none. */
    void (*prewarm)(hg_backend_rank *b);
    int (*bind)(hg_backend_rank *b, hg_error *err);   /* GPU binding; NULL: none */
    int (*world)(hg_backend_rank *b, hg_error *err);
    int (*groups)(hg_backend_rank *b, hg_error *err);
    /* sums[s] = the sum of `mine` over slot s's members, for every slot. */
    int (*allreduce)(hg_backend_rank *b, long long mine, long long *sums, hg_error *err);
    /* The size of slot s's communicator and this rank's rank in it. */
    int (*shape)(hg_backend_rank *b, int slot, int *count, int *rank, hg_error *err);
    /* Releases everything; abort = 1 when peers may be gone (no collective teardown). */
    void (*release)(hg_backend_rank *b, int abort);
    /* The live communicator of a slot (a pointer to an MPI_Comm, or an ncclComm_t). */
    void *(*comm)(const hg_backend_rank *b, int slot);
    /* Bridge links: link_start begins the exchange of x[0..n) with their peers (in that
     * order, which is one global order: bridges.c); link_poll sets done (and in) of the links that completed, without
     * waiting; link_stop gives up on those that did not (after a failure: the
     * transfers may never complete, so nothing collective). Errors of the backend's own
     * calls return as codes; a peer that never sends is not one (done stays 0). */
    int (*link_start)(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err);
    int (*link_poll)(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err);
    void (*link_stop)(hg_backend_rank *b, hg_link_xfer *x, int n);
    /* A broadcast of *value from group position root over slot's communicator, polled
     * until it completes or the deadline passes (HG_ETIMEDOUT, err left to the caller). */
    int (*bcast)(hg_backend_rank *b, int slot, int root, long long *value, hg_error *err);
    /* Bytes of the bound GPU's memory in use now, by anyone (what the communicators cost
     * is the difference over a phase); -1 when unknown. NULL: the backend uses no GPU. */
    long long (*gpu_used)(const hg_backend_rank *b);
    /* The bootstrap roots world() used (nccl: 1 for one ncclCommInitRankConfig, more for
     * ncclCommInitRankScalable); NULL or 0: a world without roots. */
    int (*world_roots)(const hg_backend_rank *b);
} hg_backend_ops;

extern const hg_backend_ops hg_backend_mpi_ops;
#ifdef HG_HAVE_NCCL
extern const hg_backend_ops hg_backend_nccl_ops;
#endif

/* The helpers a backend may use, and the agent too (backend.c). */

/* The ops of a backend (hg_backend), or NULL when this build has none such. */
const hg_backend_ops *hg_backend_ops_of(int backend);
/* Fills err from an MPI return code; names the call and the rank. */
int hg_mpi_fail(hg_error *err, int mrc, int rank, const char *call);

#endif
