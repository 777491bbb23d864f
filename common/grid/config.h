/* The grid description: YAML bytes parsed (libyaml) into plain structs, exactly as
 * written, with the position of every value so later checks can point at it. No rule
 * that relates two values lives here; that is validate's job. */
#ifndef HG_CONFIG_H
#define HG_CONFIG_H

#include <stddef.h>

#include "grid/dims.h"
#include "grid/settings.h"
#include "util/diag.h"
#include "hgrid/base.h"

#define HG_NAME_MAX 63
#define HG_CONFIG_MAX_BYTES (1024 * 1024)
/* HG_MAX_WORLD, the largest job hgrid plans for: grid/settings.h. */

typedef struct hg_mark {
    int line, col; /* 1-based; line == 0: the key was not given */
} hg_mark;

typedef struct hg_num {
    long long v;
    hg_mark at;
} hg_num;

/* hg_backend and hg_preflight, and their names: grid/settings.h. */

/* Top-level `layout:` (docs/DESIGN.md, "Colocated layouts"); hg_layout_kind (disjoint |
 * colocated) is public: hgrid/base.h. Its name: "disjoint" | "colocated"; "?" otherwise. */
const char *hg_layout_kind_name(hg_layout_kind kind);

typedef struct hg_module_spec {
    char name[HG_NAME_MAX + 1];
    hg_mark at; /* the module's mapping */
    hg_mark name_at;
    hg_role role;
    hg_mark role_at;
    /* Every dim as given (line 0: absent), by module key or by hg_dim (grid/dims.h);
     * the dims that are never given (HG_DIM_RESOLVED) stay absent. */
    union {
        hg_num dim[HG_DIM_COUNT];
        struct { HG_DIMS(HG_DIM_NUM_BY_KEY_) };
    };
    hg_num size, offset;
    hg_mark moe_at;
    hg_num num_experts;
    /* `feeds: [names]`: feeds_at.line == 0 when not given (an encoder then feeds the
     * language module); nfeeds may be 0 (`feeds: []`, no bridge). */
    hg_mark feeds_at;
    size_t nfeeds;
    char (*feeds)[HG_NAME_MAX + 1];
    hg_mark *feed_at; /* position of each name */
} hg_module_spec;

typedef struct hg_config {
    hg_num version;
    hg_num world_size;
    hg_mark modules_at;
    hg_module_spec *modules;
    size_t nmodules;
    hg_num micro_batch_size, global_batch_size;
    hg_backend backend;
    hg_mark backend_at;
    hg_num init_timeout_s; /* default HG_TIMEOUT_DEFAULT_S (grid/settings.h) */
    int verify;            /* default 1 */
    hg_mark verify_at;
    hg_preflight preflight; /* default HG_PREFLIGHT_FULL */
    hg_mark preflight_at;
    hg_num nccl_ranks_per_root; /* 0: one root; default HG_RANKS_PER_ROOT_DEFAULT */
    hg_num max_restarts;   /* default 0; --max-restarts overrides */
    hg_num stall_timeout_s; /* default 0 (off); --stall-timeout overrides */
    hg_num first_beat_timeout_s; /* default 0 (off); --first-beat-timeout overrides */
    int straggler_pct;     /* agent.stragglers (below): default HG_STRAGGLER_PCT_DEFAULT, */
    int straggler_steps;   /* ... HG_STRAGGLER_STEPS_DEFAULT; 0 %: off; --stragglers overrides */
    hg_mark stragglers_at;
    hg_layout_kind layout; /* default HG_LAYOUT_DISJOINT */
    hg_mark layout_at;
} hg_config;

/* Parses len bytes of YAML. Every problem goes to diags; returns 0 and sets *out only
 * when there was none. */
int hg_config_parse(const char *bytes, size_t len, hg_config **out, hg_diags *diags);

/* The straggler setting (--stragglers, agent.stragglers; launcher/straggler.h):
 * "PCT:STEPS", "PCT" (STEPS HG_STRAGGLER_STEPS_DEFAULT) or "off" (and "0"): 0 and *pct
 * (0: off), *steps; -1 for anything else. PCT 0..1000, STEPS 2..HG_STRAGGLER_STEPS_MAX. */
#define HG_STRAGGLER_PCT_DEFAULT 5
#define HG_STRAGGLER_STEPS_DEFAULT 20
#define HG_STRAGGLER_STEPS_MAX 100000
int hg_stragglers_parse(const char *s, int *pct, int *steps);

/* The path that means standard input, and the name diagnostics and plans give it. */
#define HG_CONFIG_STDIN "-"
#define HG_CONFIG_STDIN_NAME "<stdin>"

/* What diagnostics call path: HG_CONFIG_STDIN_NAME for "-", else path itself. */
const char *hg_config_name(const char *path);

/* Reads a whole config (at most HG_CONFIG_MAX_BYTES) into a malloc'd, NUL-terminated
 * buffer. path may be a regular file or anything that reads as a stream (a pipe,
 * /dev/stdin, <(...)); "-" reads standard input, which can therefore be read once. */
int hg_config_read_file(const char *path, char **bytes, size_t *len, hg_diags *diags);

void hg_config_free(hg_config *cfg);

/* Levenshtein distance of two names of at most 32 bytes (SIZE_MAX when longer): "did
 * you mean" suggestions. */
size_t hg_name_distance(const char *a, const char *b);

/* The one merge: each setting is given[id] when given (not HG_SETTING_UNSET; the
 * command line's, or the environment's where that is the rule), else the config's value
 * when it has a key and cfg is not NULL (the config holds the default when the file did
 * not set the key), else the default. given may be NULL: nothing given. */
void hg_settings_merge(const int *given, const hg_config *cfg, hg_setting_values *out);

#endif
