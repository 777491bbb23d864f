/* libhgrid, in-process: a C or C++ trainer started under mpirun or srun calls hg_init()
 * on every rank. It runs the agent's whole pre-flight (bootstrap, GPU binding, world and
 * group communicators, verification, collective go/no-go) and returns a context that
 * holds this rank's place in the layout and its live communicators by kind;
 * hg_finalize() releases them. Rank 0 prints the readiness summary to stderr, as the
 * agent does.
 *
 * Build: mpicc prog.c $(pkg-config --cflags --libs hgrid). This header includes only
 * <mpi.h>, <stddef.h> and its own <hgrid/base.h>.
 *
 * Compatibility: libhgrid.so.0 keeps working for programs built against any 0.x header.
 * Structs that may grow (hg_init_opts) start with their size, set by
 * HG_INIT_OPTS_INIT; everything else is reached through functions. */
#ifndef HGRID_H
#define HGRID_H

#include <mpi.h>
#include <stddef.h>

#include "hgrid/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, HG_VERSION_HEX as it was built (compare with the header's to
 * see what the program runs against), and as "MAJOR.MINOR.PATCH". */
HG_API unsigned hg_version(void);
HG_API const char *hg_version_string(void);
/* 1 when this libhgrid has the NCCL backend (built with nccl.h and the CUDA runtime). */
HG_API int hg_has_nccl(void);
/* Group kinds this library knows: kinds in [0, hg_kind_count()) are valid. */
HG_API int hg_kind_count(void);

/* The world communicator, as a kind (source compatibility with hgrid 0.1). */
#define HG_WORLD HG_KIND_WORLD

/* An opaque per-rank context: the agent's state after a successful hg_init. */
typedef struct hg_ctx hg_ctx;

/* Options of hg_init. Initialize with HG_INIT_OPTS_INIT (or hg_init_opts_from_env),
 * which records the size the program was compiled with, so a newer library reads only
 * the fields this program knows. New fields are only ever added at the end. */
typedef struct hg_init_opts {
    size_t size;         /* sizeof(hg_init_opts) as the program saw it */
    const char *config;  /* the grid description (read by rank 0 only) */
    hg_backend backend;  /* HG_BACKEND_NCCL, HG_BACKEND_MPI or HG_BACKEND_FROM_CONFIG */
    int timeout_s;       /* 0: the config's agent.init_timeout_s */
    const char *report;  /* rank 0 writes the readiness records here as JSON; NULL: no */
    int verbose;
    int strict;          /* layouts beyond what the MIMO runtime accepts are errors */
} hg_init_opts;

#define HG_INIT_OPTS_INIT { sizeof(hg_init_opts), NULL, HG_BACKEND_FROM_CONFIG, 0, NULL, 0, 0 }

/* Defaults, then what `hgrid-agent --in-process` passes through the environment:
 * HGRID_CONFIG, HGRID_BACKEND (nccl|mpi), HGRID_TIMEOUT, HGRID_REPORT, HGRID_VERBOSE,
 * HGRID_STRICT. The macro passes the size of the program's struct. */
HG_API void hg_init_opts_from_env_sized(hg_init_opts *o, size_t size);
#define hg_init_opts_from_env(o) hg_init_opts_from_env_sized((o), sizeof(*(o)))

/* Collective over MPI_COMM_WORLD; calls MPI_Init unless MPI is up already (and then
 * hg_finalize calls MPI_Finalize). On failure *out is NULL, err says why on this rank,
 * and every rank has failed alike: exit with hg_exit_status(rc). A rank whose init ran
 * past the readiness deadline fails every rank with HG_ETIMEDOUT; a rank that never
 * reports makes the process exit 124 from inside hg_init, as the agent does.
 * Refused (HG_EINVAL) in a program started by hgrid's exec handoff (HGRID_HANDOFF=exec):
 * MPI was finalized in that process and cannot start again; use --in-process. */
HG_API int hg_init(const hg_init_opts *opts, hg_ctx **out, hg_error *err);
/* 2: usage or invalid config (or world size mismatch); 3: pre-flight failed;
 * 124: the readiness deadline passed; 0 for 0. */
HG_API int hg_exit_status(int rc);
HG_API void hg_finalize(hg_ctx *ctx);

/* Where this rank is. */
HG_API int hg_ctx_rank(const hg_ctx *ctx);
HG_API int hg_ctx_world_size(const hg_ctx *ctx);
HG_API const char *hg_ctx_module(const hg_ctx *ctx);   /* the module's name */
HG_API hg_role hg_ctx_role(const hg_ctx *ctx);
HG_API int hg_ctx_module_rank(const hg_ctx *ctx);      /* rank within the module */
HG_API int hg_ctx_module_size(const hg_ctx *ctx);

/* hg_dim (HG_DIM_TP, ..., HG_DIM_EXPT_DP, then HG_DIM_GTP_REMAT, HG_DIM_EXPT_GTP_REMAT):
 * hgrid/base.h's HG_DIMS. */
/* This rank's coordinate along dim, and in *size (when not NULL) that dim's size;
 * -1 for a dim the library does not know. */
HG_API int hg_ctx_coord(const hg_ctx *ctx, hg_dim dim, int *size);

/* This rank's group of a kind (HG_KIND_WORLD: every rank): the number of members, 0
 * when the rank is in no group of the kind or the kind is unknown. The first min(max,
 * count) global ranks, ascending in group order, go to members (may be NULL). */
HG_API int hg_ctx_group(const hg_ctx *ctx, hg_kind kind, int *members, int max);
/* This rank's position in that group, -1 when it is in none. */
HG_API int hg_ctx_group_rank(const hg_ctx *ctx, hg_kind kind);

/* MIMO topology. hg_ctx_layout says whether modules are disjoint or colocated. In a
 * colocated layout the rank belongs to every module: module m (config order, m <
 * hg_ctx_module_count) has its own coordinates, groups and communicators, and the calls
 * above answer for the language module. Disjoint: one module, m = 0. */
HG_API hg_layout_kind hg_ctx_layout(const hg_ctx *ctx);
HG_API int hg_ctx_module_count(const hg_ctx *ctx);
/* Module m's name, NULL past the end. */
HG_API const char *hg_ctx_module_name(const hg_ctx *ctx, int m);
HG_API int hg_ctx_module_coord(const hg_ctx *ctx, int m, hg_dim dim, int *size);
HG_API int hg_ctx_module_group(const hg_ctx *ctx, int m, hg_kind kind, int *members, int max);
/* Module m's communicator of a kind; communicators with identical members are shared
 * across modules too. MPI_COMM_NULL / NULL as hg_ctx_mpi_comm / hg_ctx_nccl_comm. */
HG_API MPI_Comm hg_ctx_module_mpi_comm(const hg_ctx *ctx, int m, hg_kind kind);
HG_API struct ncclComm *hg_ctx_module_nccl_comm(const hg_ctx *ctx, int m, hg_kind kind);

/* The bridges whose boundary group holds this rank (disjoint layouts), in plan order:
 * which side it is on, whether it sends (a source leader), receives (a destination
 * leader) or only takes part in its boundary group's broadcast, its peers and leader.
 * The boundary group is the module's tp_cp group at that stage: hg_ctx_mpi_comm /
 * hg_ctx_nccl_comm(ctx, HG_KIND_TP_CP) is its communicator, and pre-flight has sent a
 * value over every link and broadcast one over every boundary group. A leader is also
 * in the bridge's own group (group: both sides' leaders, ascending, as Megatron's
 * BridgeCommunicator's bridge_pg), whose communicator hg_ctx_bridge_mpi_comm /
 * hg_ctx_bridge_nccl_comm return and pre-flight all-reduced over. Pointers stay valid
 * until hg_finalize. Start from HG_BRIDGE_INFO_INIT: the struct may grow. */
typedef struct hg_bridge_info {
    size_t size;          /* sizeof(hg_bridge_info) as the program saw it */
    const char *src;      /* source module's name */
    const char *dest;     /* destination module's name */
    hg_bridge_mode mode;
    hg_bridge_side side;  /* which end this rank is on */
    hg_bridge_role role;
    int leader;           /* the leader of this rank's boundary group (a global rank) */
    int npeers;           /* sender: the receivers it sends to; receiver: the senders */
    const int *peers;     /*   it receives from; none for a member */
    int nbroadcast;       /* the boundary group, ascending global ranks */
    const int *broadcast;
    int ngroup;           /* the bridge's own group: every leader of both sides, */
    const int *group;     /*   ascending global ranks (this rank among them or not) */
} hg_bridge_info;

#define HG_BRIDGE_INFO_INIT                                                                    \
    { sizeof(hg_bridge_info), NULL, NULL, HG_BRIDGE_ONE_TO_ONE, HG_BRIDGE_SRC,                 \
      HG_BRIDGE_MEMBER, -1, 0, NULL, 0, NULL, 0, NULL }

HG_API int hg_ctx_bridge_count(const hg_ctx *ctx);
/* Fills *info for bridge i (of hg_ctx_bridge_count): 0, or HG_EINVAL past the end. The
 * macro passes the size of the program's struct. */
HG_API int hg_ctx_bridge_sized(const hg_ctx *ctx, int i, hg_bridge_info *info, size_t size);
#define hg_ctx_bridge(ctx, i, info) hg_ctx_bridge_sized((ctx), (i), (info), sizeof(*(info)))
/* Bridge i's own group's communicator (i of hg_ctx_bridge_count), for its leaders (a
 * sender or receiver): the world's when the group is the whole world. MPI_COMM_NULL /
 * NULL for a member, past the end, or with the other backend; as hg_ctx_mpi_comm /
 * hg_ctx_nccl_comm otherwise (NCCL: non-blocking). */
HG_API MPI_Comm hg_ctx_bridge_mpi_comm(const hg_ctx *ctx, int i);
struct ncclComm; /* ncclComm_t is struct ncclComm * */
HG_API struct ncclComm *hg_ctx_bridge_nccl_comm(const hg_ctx *ctx, int i);

HG_API hg_backend hg_ctx_backend(const hg_ctx *ctx);
HG_API int hg_ctx_local_rank(const hg_ctx *ctx);
HG_API int hg_ctx_local_size(const hg_ctx *ctx);
/* The CUDA device index the agent bound (and left current): the local rank when every
 * rank sees all of the host's GPUs, 0 when each sees one; -1 with the mpi backend. */
HG_API int hg_ctx_cuda_device(const hg_ctx *ctx);
HG_API int hg_ctx_communicators(const hg_ctx *ctx); /* distinct ones, the world included */
/* Which attempt of the job this is: 0 the first, n after n restarts (hgrid-launch
 * --max-restarts; HGRID_RESTART_COUNT). */
HG_API int hg_ctx_restart_count(const hg_ctx *ctx);
/* Tells a standalone hgrid-launch that this rank reached step (>= 0), for its stall
 * detection (--stall-timeout): call it once per training step. A few bytes on a pipe to
 * the rank's keeper (HGRID_HEARTBEAT_FD); a no-op returning 0 without a launcher. It
 * installs no signal handler and asks for no stack dump: a stall sends this process no
 * signal. Returns 0, HG_EINVAL for a negative step, or HG_EIO when the keeper is gone. */
HG_API int hg_heartbeat(const hg_ctx *ctx, long step);

/* The live communicator of a kind (or HG_KIND_WORLD); kinds whose groups have identical
 * members return the same communicator. MPI_COMM_NULL / NULL when this rank is in no
 * group of the kind, or the context runs the other backend. MPI communicators carry
 * MPI_ERRORS_RETURN (the agent reports errors rather than abort): check each call's
 * return code, or set MPI_ERRORS_ARE_FATAL on them yourself. */
HG_API MPI_Comm hg_ctx_mpi_comm(const hg_ctx *ctx, hg_kind kind);
/* NCCL communicators are non-blocking (created with ncclConfig_t.blocking = 0, which
 * is what bounds their init by the deadline, and NCCL fixes it for a communicator's
 * life): every call on them, collectives and group calls included, may return
 * ncclInProgress before it is enqueued. Treat ncclInProgress as success, then poll
 * ncclCommGetAsyncError(comm, &st) until st is no longer ncclInProgress before the next
 * call on that communicator or waiting on the stream; st other than ncclSuccess is the
 * call's error (examples/trainer.c does this). hg_finalize destroys them. NULL from a
 * library without NCCL (hg_has_nccl() == 0). */
HG_API struct ncclComm *hg_ctx_nccl_comm(const hg_ctx *ctx, hg_kind kind);

#ifdef __cplusplus
}
#endif

#endif
