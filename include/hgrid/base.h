/* hgrid's public vocabulary without MPI: version, export macro, error codes and record,
 * and the enums the API takes (roles, backends, group kinds). Installed as
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

/* Return codes: 0 or one of these. */
enum {
    HG_OK = 0,
    HG_EINVAL = -1,    /* bad argument or usage */
    HG_ENOMEM = -2,
    HG_EIO = -3,       /* a file could not be read or written */
    HG_ECONFIG = -4,   /* the grid description is invalid */
    HG_EMPI = -5,
    HG_ECUDA = -6,
    HG_ENCCL = -7,
    HG_EVERIFY = -8,   /* a communicator did not match the plan */
    HG_ETIMEDOUT = -9,
    HG_ESYS = -10,     /* a system call failed (fork, exec, ...) */
    HG_EPEER = -11     /* another rank failed */
};

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

/* Group kinds, named and ordered as Megatron's ProcessGroupCollection fields. New
 * kinds are added before HG_KIND_COUNT in later minor versions: use hg_kind_count() for
 * the library's number. HG_KIND_WORLD names the world communicator. */
typedef enum hg_kind {
    HG_KIND_TP,
    HG_KIND_CP,
    HG_KIND_PP,
    HG_KIND_DP,
    HG_KIND_DP_CP,
    HG_KIND_TP_CP,
    HG_KIND_MP,
    HG_KIND_TP_DP,
    HG_KIND_TP_DP_CP,
    HG_KIND_TP_CP_DP_PP,
    HG_KIND_EP,
    HG_KIND_EXPT_TP,
    HG_KIND_EXPT_DP,
    HG_KIND_TP_EP,
    HG_KIND_TP_EP_PP,
    HG_KIND_EMBD,     /* language module only */
    HG_KIND_POS_EMBD, /* language module only */
    HG_KIND_COUNT,
    HG_KIND_WORLD = 0x100
} hg_kind;

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
