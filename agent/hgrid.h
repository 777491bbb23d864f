/* libhgrid, in-process: a C or C++ trainer started under mpirun or srun calls hg_init()
 * on every rank. It runs the agent's whole pre-flight (bootstrap, GPU binding, world and
 * group communicators, verification, collective go/no-go) and returns a context that
 * holds this rank's plan and its live communicators by kind; hg_finalize() releases
 * them. Build with mpicc; link -lhgrid (plus -lyaml -ljansson, and -lnccl -lcudart when
 * the NCCL backend is built). Rank 0 prints the readiness summary to stderr, as the
 * agent does. */
#ifndef HGRID_H
#define HGRID_H

#include <mpi.h>

#include "config.h"
#include "error.h"
#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pass as a kind: the world communicator. */
#define HG_WORLD HG_KIND_COUNT

typedef struct hg_agent hg_ctx;

typedef struct hg_init_opts {
    const char *config;  /* the grid description (read by rank 0 only) */
    int backend;         /* HG_BACKEND_NCCL, HG_BACKEND_MPI, or -1: the config's */
    int timeout_s;       /* 0: the config's agent.init_timeout_s */
    const char *report;  /* rank 0 writes the readiness records here as JSON; NULL: no */
    int verbose;
    int strict;          /* layouts beyond what the MIMO runtime accepts are errors */
} hg_init_opts;

/* Defaults, then what `hgrid-agent --in-process` passes through the environment:
 * HGRID_CONFIG, HGRID_BACKEND (nccl|mpi), HGRID_TIMEOUT, HGRID_REPORT, HGRID_VERBOSE,
 * HGRID_STRICT. */
void hg_init_opts_from_env(hg_init_opts *o);

/* Collective over MPI_COMM_WORLD; calls MPI_Init unless MPI is up already (and then
 * hg_finalize calls MPI_Finalize). On failure *out is NULL, err says why on this rank,
 * and every rank has failed alike: exit with hg_exit_status(rc). A rank whose init ran
 * past the readiness deadline fails every rank with HG_ETIMEDOUT; a rank that never
 * reports makes the process exit 124 from inside hg_init, as the agent does.
 * Refused (HG_EINVAL) in a program started by hgrid's exec handoff (HGRID_HANDOFF=exec):
 * MPI was finalized in that process and cannot start again; use --in-process. */
int hg_init(const hg_init_opts *opts, hg_ctx **out, hg_error *err);
/* 2: usage or invalid config (or world size mismatch); 3: pre-flight failed;
 * 124: the readiness deadline passed. */
int hg_exit_status(int rc);
void hg_finalize(hg_ctx *ctx);

const hg_rank_plan *hg_ctx_plan(const hg_ctx *ctx);
int hg_ctx_backend(const hg_ctx *ctx);      /* hg_backend */
int hg_ctx_local_rank(const hg_ctx *ctx);
int hg_ctx_local_size(const hg_ctx *ctx);
/* The CUDA device index the agent bound (and left current): the local rank when every
 * rank sees all of the host's GPUs, 0 when each sees one; -1 with the mpi backend. */
int hg_ctx_cuda_device(const hg_ctx *ctx);
int hg_ctx_communicators(const hg_ctx *ctx); /* distinct ones, the world included */

/* The live communicator of a kind (or HG_WORLD); kinds whose groups have identical
 * members return the same communicator. MPI_COMM_NULL / NULL when this rank is in no
 * group of the kind, or the context runs the other backend. MPI communicators carry
 * MPI_ERRORS_RETURN (the agent reports errors rather than abort): check each call's
 * return code, or set MPI_ERRORS_ARE_FATAL on them yourself. */
MPI_Comm hg_ctx_mpi_comm(const hg_ctx *ctx, int kind);
struct ncclComm; /* ncclComm_t is struct ncclComm * */
/* NCCL communicators are non-blocking (created with ncclConfig_t.blocking = 0, which
 * is what bounds their init by the deadline, and NCCL fixes it for a communicator's
 * life): every call on them, collectives and group calls included, may return
 * ncclInProgress before it is enqueued. Treat ncclInProgress as success, then poll
 * ncclCommGetAsyncError(comm, &st) until st is no longer ncclInProgress before the next
 * call on that communicator or waiting on the stream; st other than ncclSuccess is the
 * call's error (examples/trainer.c does this). hg_finalize destroys them. */
struct ncclComm *hg_ctx_nccl_comm(const hg_ctx *ctx, int kind);

#ifdef __cplusplus
}
#endif

#endif
