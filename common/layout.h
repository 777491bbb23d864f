/* The layout: which ranks each module spans and every process group of every kind,
 * with Megatron HyperCommGrid's membership and order. Dense view [tp, cp, dp, pp] and
 * expert view [expert_tp, ep, expert_dp, pp] factor the same span, tp (expert_tp)
 * fastest. Groups are computed on demand, never stored: the whole layout costs
 * O(modules) memory, and one rank's view O(kinds x group size). */
#ifndef HG_LAYOUT_H
#define HG_LAYOUT_H

#include <stddef.h>

#include "config.h"
#include "diag.h"
#include "error.h"
#include "validate.h"

/* hg_kind (the group kinds, named and ordered as Megatron's ProcessGroupCollection
 * fields and the plan JSON) and hg_kind_name are public: hgrid/base.h. */

/* Returns the kind, or -1 for an unknown name. */
int hg_kind_from_name(const char *name);
/* Whether a module has groups of this kind at all (embd kinds: language only). */
int hg_kind_applies(const hg_module *m, hg_kind kind);

/* Group arithmetic on one module, O(1) or O(group size). Group g is in [0, count). */
int hg_group_count(const hg_module *m, hg_kind kind);
int hg_group_size(const hg_module *m, hg_kind kind, int group);
/* Writes the members of group g, ascending, into members[0 .. size). */
void hg_group_members(const hg_module *m, hg_kind kind, int group, int *members);

typedef struct hg_layout hg_layout;

/* Validates cfg and builds its layout; diagnostics as hg_validate. */
int hg_layout_build(const hg_config *cfg, unsigned flags, hg_layout **out, hg_diags *diags);
/* Parses and validates a config's bytes (at most HG_CONFIG_MAX_BYTES, already read
 * from wherever they came from); diagnostics name the file diags was made for. Both
 * outputs are the caller's to free, even on failure (either may be NULL). A launcher
 * reads a pipe once (hg_config_read_file), checks the bytes here, then hands the same
 * bytes to its agents. */
int hg_layout_load_bytes(const char *bytes, size_t len, unsigned flags, hg_config **cfg,
                         hg_layout **out, hg_diags *diags);
/* hg_config_read_file(path) then hg_layout_load_bytes; "-" reads standard input. */
int hg_layout_load(const char *path, unsigned flags, hg_config **cfg, hg_layout **out,
                   hg_diags *diags);
void hg_layout_free(hg_layout *l);
int hg_layout_world_size(const hg_layout *l);
size_t hg_layout_module_count(const hg_layout *l);
const hg_module *hg_layout_module(const hg_layout *l, size_t i);
/* Index of the module holding rank, or -1 when rank is outside [0, world). */
int hg_layout_module_of(const hg_layout *l, int rank);

typedef struct hg_coords {
    int tp, cp, dp, pp;          /* dense view */
    int expt_tp, ep, expt_dp;    /* expert view (pp shared) */
} hg_coords;

typedef struct hg_rank_group {
    int index;          /* which group of its kind; -1: this rank is in none */
    int size;
    int pos;            /* this rank's position among members (its group rank) */
    const int *members; /* ascending global ranks; owned by the view */
} hg_rank_group;

/* One rank's view of the layout: everything it needs about itself, computed without
 * touching other modules' groups. Each agent builds its communicators from it; a rank's
 * plan (plan.h: --dry-run --rank N, the HGRID_PLAN file) is it written down. */
typedef struct hg_rank_view {
    int rank;
    int world_size;
    int module_index;
    hg_module module;
    int module_rank; /* rank - module.offset */
    hg_coords coords;
    hg_rank_group groups[HG_KIND_COUNT];
    int *storage;    /* members of every group, owned */
} hg_rank_view;

int hg_rank_view_build(const hg_layout *l, int rank, hg_rank_view *out, hg_error *err);
void hg_rank_view_free(hg_rank_view *v);

#endif
