/* The launch settings, one declaration each (NCCL's NCCL_PARAM is the model): the
 * setting's name, hgrid-launch's option, the config's key under `agent:`, the
 * environment name, range, default, the words of its range error and one line of doc.
 * hg_settings_merge (grid/config.h) is the one place where a value given on a command line (or in the
 * environment) is chosen over the config's, and the config's over the default. It sits
 * in grid/ because the config (grid/config.c) takes its keys, ranges and defaults here. */
#ifndef HG_SETTINGS_H
#define HG_SETTINGS_H

#include <limits.h>

#include "hgrid/base.h"
#include "util/error.h"

/* The numbers other headers and messages name (protocol.h includes this header). */
#define HG_TIMEOUT_MIN_S 1         /* the readiness deadline's range */
#define HG_TIMEOUT_MAX_S 86400     /* ... and every other setting in seconds */
#define HG_TIMEOUT_DEFAULT_S 120
#define HG_GRACE_DEFAULT_S 30      /* a stopping workload's time before SIGKILL */
#define HG_HOST_TIMEOUT_S 10       /* --host-timeout's default */
#define HG_MAX_RESTARTS 1000       /* --max-restarts, agent.max_restarts: at most this */
#define HG_RANKS_PER_ROOT_DEFAULT 128 /* PyTorch's and XLA's (NCCL's multi-root init) */

/* The settings' environment names. What `hgrid-agent --in-process` passes on to the
 * program's hg_init() (agent/main.c, agent/api.c): backend, timeout, report, verbose,
 * strict ("on when set and not 0"). HGRID_NCCL_RANKS_PER_ROOT overrides
 * agent.nccl_ranks_per_root, as TORCH_NCCL_RANKS_PER_ROOT does PyTorch's; rank 0's
 * value counts. */
#define HG_ENV_BACKEND "HGRID_BACKEND"
#define HG_ENV_TIMEOUT "HGRID_TIMEOUT"
#define HG_ENV_RANKS_PER_ROOT "HGRID_NCCL_RANKS_PER_ROOT"
#define HG_ENV_REPORT "HGRID_REPORT"
#define HG_ENV_VERBOSE "HGRID_VERBOSE"
#define HG_ENV_STRICT "HGRID_STRICT"

/* What a setting's value is. INT, ENUM and FLAG values are ints the merge chooses;
 * a PATH (a file or directory name) is only given or not, on the command line. */
typedef enum {
    HG_SETTING_INT,  /* min..max */
    HG_SETTING_ENUM, /* 0..max, by name (hg_backend, hg_preflight) */
    HG_SETTING_FLAG, /* 0 or 1: an option without a value, a config boolean */
    HG_SETTING_PATH,
} hg_setting_kind;

/* The largest job hgrid plans for; keeps every product of sizes inside int. */
#define HG_MAX_WORLD (1 << 24)

/* hg_role and hg_backend are public: hgrid/base.h. */

/* A backend's name as configs, command lines and the environment spell it: "nccl",
 * "mpi"; "?" for a value that is no backend. */
const char *hg_backend_name(hg_backend backend);
/* The backend called name: 0 and *out, or -1 when no backend has that name. */
int hg_backend_from_name(const char *name, hg_backend *out);

/* `agent.preflight`: how much the agents prove before go. FULL: every group and bridge;
 * WORLD: the world communicator and one all-reduce over it (a dead GPU or link still
 * fails before go, for one communicator's cost); NONE: bootstrap, GPU check, plan. */
typedef enum { HG_PREFLIGHT_FULL, HG_PREFLIGHT_WORLD, HG_PREFLIGHT_NONE } hg_preflight;
/* "full" | "world" | "none"; "?" for a value that is none of them. */
const char *hg_preflight_name(hg_preflight p);
/* The depth called name: 0 and *out, or -1. */
int hg_preflight_from_name(const char *name, hg_preflight *out);

/* X(ID, name, option, key, env, kind, min, max, default, expected, doc):
 * option, key, env NULL where the setting has none; expected: the words of the range
 * error ("%s: expected EXPECTED in MIN..MAX, got '%s'"), for an ENUM its names
 * ("expected nccl or mpi"). The order is --help's. HG_MAX_WORLD is grid/config.h's:
 * expand the list where config.h is included. */
#define HG_SETTINGS(X)                                                                        \
    X(BACKEND, "backend", "--backend", "backend", HG_ENV_BACKEND, HG_SETTING_ENUM, 0, 1, 0,  \
      "nccl or mpi", "communicator backend")                                                  \
    X(TIMEOUT, "timeout", "--timeout", "init_timeout_s", HG_ENV_TIMEOUT, HG_SETTING_INT,      \
      HG_TIMEOUT_MIN_S, HG_TIMEOUT_MAX_S, HG_TIMEOUT_DEFAULT_S, "seconds",                    \
      "readiness deadline")                                                                   \
    X(PREFLIGHT, "preflight", "--preflight", "preflight", NULL, HG_SETTING_ENUM, 0, 2, 0,     \
      "full, world or none", "what is proved before go")                                      \
    X(VERIFY, "verify", NULL, "verify", NULL, HG_SETTING_FLAG, 0, 1, 1, NULL,               \
      "check every group with a collective before go")                                        \
    X(RANKS_PER_ROOT, "nccl_ranks_per_root", NULL, "nccl_ranks_per_root",                     \
      HG_ENV_RANKS_PER_ROOT, HG_SETTING_INT, 0, HG_MAX_WORLD,                          \
      HG_RANKS_PER_ROOT_DEFAULT, "a number of ranks", "ranks per NCCL root (0: one root)")    \
    X(REPORT, "report", "--report", NULL, HG_ENV_REPORT, HG_SETTING_PATH, 0, 0, 0,           \
      "a file name", "every rank's readiness record as JSON")                                 \
    X(IN_PROCESS, "in_process", "--in-process", NULL, NULL, HG_SETTING_FLAG, 0, 1, 0, NULL,   \
      "PROGRAM calls hg_init() itself")                                                       \
    X(LABEL, "label", "--label", NULL, NULL, HG_SETTING_FLAG, 0, 1, 0, NULL,                  \
      "'[RANK MODULE] ' before every line of the ranks")                                      \
    X(LOG_DIR, "log_dir", "--log-dir", NULL, NULL, HG_SETTING_PATH, 0, 0, 0, "a directory",   \
      "each rank's stdout and stderr also to files there")                                    \
    X(GRACE, "grace", "--grace", NULL, NULL, HG_SETTING_INT, 0, HG_TIMEOUT_MAX_S,             \
      HG_GRACE_DEFAULT_S, "seconds", "after Ctrl-C/SIGTERM, the workload's time before "      \
      "SIGKILL")                                                                              \
    X(MAX_RESTARTS, "max_restarts", "--max-restarts", "max_restarts", NULL, HG_SETTING_INT,   \
      0, HG_MAX_RESTARTS, 0, "a count", "start a failed job again, up to this many times")    \
    X(RESTART_DELAY, "restart_delay", "--restart-delay", NULL, NULL, HG_SETTING_INT, 0,       \
      HG_TIMEOUT_MAX_S, 0, "seconds", "wait between a failed attempt and the next")           \
    X(STALL_TIMEOUT, "stall_timeout", "--stall-timeout", "stall_timeout_s", NULL,             \
      HG_SETTING_INT, 0, HG_TIMEOUT_MAX_S, 0, "seconds",                                      \
      "end an attempt whose ranks send no heartbeat for this long (0: off)")                  \
    X(FIRST_BEAT_TIMEOUT, "first_beat_timeout", "--first-beat-timeout",                       \
      "first_beat_timeout_s", NULL, HG_SETTING_INT, 0, HG_TIMEOUT_MAX_S, 0, "seconds",        \
      "end an attempt with a rank that sends no heartbeat this long after go (0: off)")       \
    X(HOST_TIMEOUT, "host_timeout", "--host-timeout", NULL, NULL, HG_SETTING_INT, 0,          \
      HG_TIMEOUT_MAX_S, HG_HOST_TIMEOUT_S, "seconds",                                         \
      "a host whose keepers are all silent this long is lost (0: off)")                       \
    X(VERBOSE, "verbose", "--verbose", NULL, HG_ENV_VERBOSE, HG_SETTING_FLAG, 0, 1, 0, NULL, \
      "print the mpirun command line and every rank's readiness")                             \
    X(STRICT, "strict", "--strict", NULL, HG_ENV_STRICT, HG_SETTING_FLAG, 0, 1, 0, NULL,     \
      "layouts the MIMO runtime does not accept are errors")

#define HG_SETTING_ID(ID, ...) HG_SET_##ID,
typedef enum { HG_SETTINGS(HG_SETTING_ID) HG_NSETTINGS } hg_setting_id;
#undef HG_SETTING_ID

typedef struct hg_setting {
    const char *name;
    const char *option;   /* hgrid-launch's, NULL: none */
    const char *key;      /* under the config's `agent:`, NULL: none */
    const char *env;      /* NULL: none */
    hg_setting_kind kind;
    int min, max, def;
    const char *expected; /* the range error's words; NULL for a FLAG option */
    const char *doc;
} hg_setting;

/* The declaration of id; NULL for an id out of range. */
const hg_setting *hg_setting_get(hg_setting_id id);
/* The setting whose option (or config key) is name, or NULL. */
const hg_setting *hg_setting_by_option(const char *option);
const hg_setting *hg_setting_by_key(const char *key);
/* id's index in the table, from its declaration. */
hg_setting_id hg_setting_id_of(const hg_setting *s);

/* An INT or ENUM setting's value from text (a command line's or the environment's):
 * 0 and *out, or HG_EINVAL with "WHO: expected EXPECTED in MIN..MAX, got 'TEXT'" (an
 * ENUM: "WHO: expected NAMES, got 'TEXT'"), WHO the option, or the caller's name for
 * the source (an environment variable). */
int hg_setting_parse(const hg_setting *s, const char *who, const char *text, int *out,
                     hg_error *err);

/* Not given: where a value was not given, in hg_settings_merge's given[]. */
#define HG_SETTING_UNSET INT_MIN

/* Where a merged value came from. */
typedef enum { HG_FROM_DEFAULT, HG_FROM_CONFIG, HG_FROM_GIVEN } hg_setting_from;

/* The effective value of every setting (PATHs: 0). */
typedef struct hg_setting_values {
    int v[HG_NSETTINGS];
    hg_setting_from from[HG_NSETTINGS];
} hg_setting_values;

/* given[] with nothing given. */
void hg_settings_none_given(int given[HG_NSETTINGS]);

/* The one merge with a config, hg_settings_merge: grid/config.h. */

#endif
