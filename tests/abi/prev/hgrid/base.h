/* hgrid's public vocabulary without MPI: version, export macro, error codes and record,
 * and the enums the API takes (roles, backends, dims, group kinds). Installed as
 * <prefix>/include/hgrid/base.h and reached only through <hgrid.h>; hgrid's own sources
 * include it too, so there is one definition of each. */
#ifndef HGRID_BASE_H
#define HGRID_BASE_H

/* Same major version: programs built against an older minor version keep working. */
#define HG_VERSION_MAJOR 0
#define HG_VERSION_MINOR 2
#define HG_VERSION_PATCH 0
#define HG_VERSION_HEX ((HG_VERSION_MAJOR << 16) | (HG_VERSION_MINOR << 8) | HG_VERSION_PATCH)
#define HG_STRINGIFY_(x) #x
#define HG_STRINGIFY(x) HG_STRINGIFY_(x)
#define HG_VERSION_STRING                                                                      \
    HG_STRINGIFY(HG_VERSION_MAJOR) "." HG_STRINGIFY(HG_VERSION_MINOR) "." HG_STRINGIFY(       \
        HG_VERSION_PATCH)

/* What libhgrid exports; everything else in it is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define HG_API __attribute__((visibility("default")))
#else
#define HG_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes: 0 or one of these, each with the message hg_strerror gives it. One
 * table (libuv's UV_ERRNO_MAP): X(NAME, value, message) makes HG_NAME = value. Values
 * never change within a major version. */
#define HG_ERRORS(X)                                                                           \
    X(OK, 0, "success")                                                                        \
    X(EINVAL, -1, "invalid argument")          /* bad argument or usage */                     \
    X(ENOMEM, -2, "out of memory")                                                             \
    X(EIO, -3, "I/O error")                    /* a file could not be read or written */       \
    X(ECONFIG, -4, "invalid grid description") /* the grid description is invalid */          \
    X(EMPI, -5, "MPI error")                                                                   \
    X(ECUDA, -6, "CUDA error")                                                                 \
    X(ENCCL, -7, "NCCL error")                                                                 \
    X(EVERIFY, -8, "verification failed")      /* a communicator did not match the plan */     \
    X(ETIMEDOUT, -9, "timed out")                                                              \
    X(ESYS, -10, "system call failed")         /* a system call failed (fork, exec, ...) */    \
    X(EPEER, -11, "another rank failed")

#define HG_ERROR_ENUM_(name, value, msg) HG_##name = value,
enum { HG_ERRORS(HG_ERROR_ENUM_) };
#undef HG_ERROR_ENUM_

/* What failed and where, filled by a failing call. Its layout is fixed for the life of
 * the major version (callers allocate it). */
typedef struct hg_error {
    int code;
    char file[256]; /* where: config file, or "" */
    int line;       /* 1-based; 0 when unknown */
    int col;
    char msg[1024];
} hg_error;

/* Empties e (code 0, no message). */
HG_API void hg_error_clear(hg_error *e);
/* "invalid argument", "timed out", ... for an HG_E* code. */
HG_API const char *hg_strerror(int code);

typedef enum hg_role { HG_ROLE_ENCODER = 0, HG_ROLE_LANGUAGE = 1 } hg_role;

typedef enum hg_backend {
    HG_BACKEND_FROM_CONFIG = -1, /* hg_init_opts: the config's agent.backend */
    HG_BACKEND_NCCL = 0,
    HG_BACKEND_MPI = 1
} hg_backend;

/* The seven dimensions of a module's grid, dense view (tp, cp, dp, pp) and expert view
 * (expt_tp, ep, expt_dp; pp shared), in one table: X(NAME, name, module_key) makes
 * HG_DIM_NAME (hg_dim, in this order); `name` is the coordinate's name (the plan's
 * "coords" and a kind's "dims", HGRID_<NAME>_RANK/_SIZE in the environment),
 * `module_key` the module's size along it (the plan's "modules" entries). */
#define HG_DIMS(X)                                                                             \
    X(TP, tp, tp)                                                                              \
    X(CP, cp, cp)                                                                              \
    X(DP, dp, dp)                                                                              \
    X(PP, pp, pp)                                                                              \
    X(EP, ep, ep)                                                                              \
    X(EXPT_TP, expt_tp, expert_tp)                                                             \
    X(EXPT_DP, expt_dp, expert_dp)

/* Coordinates in the dense view (tp, cp, dp, pp) and the expert view (ep, expert tp,
 * expert dp; pp shared): hg_ctx_coord (hgrid.h). */
#define HG_DIM_ENUM_(NAME, name, module_key) HG_DIM_##NAME,
typedef enum hg_dim { HG_DIMS(HG_DIM_ENUM_) } hg_dim;
#undef HG_DIM_ENUM_

/* Group kinds, named and ordered as Megatron's ProcessGroupCollection fields:
 * X(NAME, name) makes HG_KIND_NAME; `name` is the kind's name in the plan. Which dims
 * each spans is common/grid/layout.c's (the plan's "kinds" writes it down); embd and
 * pos_embd are the language module's only. New kinds are added at the end in later
 * minor versions: use hg_kind_count() for the library's number. HG_KIND_WORLD names
 * the world communicator. */
#define HG_KINDS(X)                                                                            \
    X(TP, tp)                                                                                  \
    X(CP, cp)                                                                                  \
    X(PP, pp)                                                                                  \
    X(DP, dp)                                                                                  \
    X(DP_CP, dp_cp)                                                                            \
    X(TP_CP, tp_cp)                                                                            \
    X(MP, mp)                                                                                  \
    X(TP_DP, tp_dp)                                                                            \
    X(TP_DP_CP, tp_dp_cp)                                                                      \
    X(TP_CP_DP_PP, tp_cp_dp_pp)                                                                \
    X(EP, ep)                                                                                  \
    X(EXPT_TP, expt_tp)                                                                        \
    X(EXPT_DP, expt_dp)                                                                        \
    X(TP_EP, tp_ep)                                                                            \
    X(TP_EP_PP, tp_ep_pp)                                                                      \
    X(EMBD, embd)                                                                              \
    X(POS_EMBD, pos_embd)

#define HG_KIND_ENUM_(NAME, name) HG_KIND_##NAME,
typedef enum hg_kind {
    HG_KINDS(HG_KIND_ENUM_)
    HG_KIND_COUNT,
    HG_KIND_WORLD = 0x100
} hg_kind;
#undef HG_KIND_ENUM_

/* Disjoint: modules tile the ranks in order; colocated: every module spans them all. */
typedef enum hg_layout_kind {
    HG_LAYOUT_DISJOINT = 0,
    HG_LAYOUT_COLOCATED = 1
} hg_layout_kind;

/* Bridges carry activations from one module's grid to another's (Megatron's
 * BridgeCommunicator): S source and D destination leaders, one per dp replica. */
typedef enum hg_bridge_mode {
    HG_BRIDGE_ONE_TO_ONE = 0, /* S == D */
    HG_BRIDGE_FAN_IN = 1,     /* S > D */
    HG_BRIDGE_FAN_OUT = 2     /* S < D */
} hg_bridge_mode;
typedef enum hg_bridge_side { HG_BRIDGE_SRC = 0, HG_BRIDGE_DEST = 1 } hg_bridge_side;
typedef enum hg_bridge_role {
    HG_BRIDGE_MEMBER = 0,   /* in a boundary group, not its leader: no peers */
    HG_BRIDGE_SENDER = 1,   /* a source leader */
    HG_BRIDGE_RECEIVER = 2  /* a destination leader */
} hg_bridge_role;

/* "tp", "dp_cp", ..., "world"; "?" for a value that is no kind. */
HG_API const char *hg_kind_name(hg_kind kind);

#ifdef __cplusplus
}
#endif

#endif
