/* The layout: which ranks each module spans, every process group of every kind, with
 * Megatron HyperCommGrid's membership and order, and the bridges between modules
 * (Megatron BridgeCommunicator). Dense view [tp, gtp_remat, cp, dp, pp] and expert view
 * [expert_tp, ep, expert_gtp_remat, expert_dp, pp] factor the same span, tp (expert_tp)
 * fastest. Groups, leaders and links are computed on demand, never stored: the whole
 * layout costs O(modules + bridges) memory, and one rank's view O(kinds x group size +
 * its own bridges' peers). */
#ifndef HG_LAYOUT_H
#define HG_LAYOUT_H

#include <stddef.h>

#include "grid/config.h"
#include "grid/dims.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/validate.h"

/* hg_kind (the group kinds, named and ordered as Megatron's ProcessGroupCollection
 * fields and the plan JSON; HG_KINDS), hg_kind_name and hg_dim (HG_DIMS) are public:
 * hgrid/base.h. */

/* hg_dim_name, hg_dim_module_key, hg_dim_env_name: grid/dims.h. */

/* The dims a kind's groups span, in grid order (first fastest), into dims; returns how
 * many (1 to HG_VIEW_DIMS). embd and pos_embd span pp: they hold some ranks of each pp group
 * (hg_group_size). The view they are dims of: "dense" or "expert". */
int hg_kind_dims(hg_kind kind, hg_dim dims[HG_VIEW_DIMS]);
/* Megatron's ProcessGroupCollection fields a kind fills (the plans' "fields"): *fields
 * points at them; returns how many (0 to 3). */
int hg_kind_fields(hg_kind kind, const char *const **fields);
const char *hg_kind_view_name(hg_kind kind);
/* Which ranks of each group of its dims a kind holds: NULL for all of them; "first and
 * last" (embd) and "first" (pos_embd) of each pp group. Such kinds are the language
 * module's only (hg_kind_applies). */
const char *hg_kind_members(hg_kind kind);
/* Whether a module has groups of this kind at all (embd kinds: language only). */
int hg_kind_applies(const hg_module *m, hg_kind kind);

/* Group arithmetic on one module, O(1) or O(group size). Group g is in [0, count). */
int hg_group_count(const hg_module *m, hg_kind kind);
int hg_group_size(const hg_module *m, hg_kind kind, int group);
/* Writes the members of group g, ascending, into members[0 .. size). */
void hg_group_members(const hg_module *m, hg_kind kind, int group, int *members);
/* Every group of a kind in order, as hg_group_members gives it: fn(ctx, members, size)
 * once per group, members written into members (room for the largest group). O(total
 * members), with no per-group division: what whole-plan writers use. */
void hg_group_walk(const hg_module *m, hg_kind kind, int *members,
                   void (*fn)(void *ctx, const int *members, int size), void *ctx);

typedef struct hg_layout hg_layout;

/* Validates cfg and builds its layout; diagnostics as hg_validate_graph (validate.h). */
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
/* Index of the module holding rank, or -1 when rank is outside [0, world). In a
 * colocated layout every module holds every rank: the language module's index. */
int hg_layout_module_of(const hg_layout *l, int rank);

/* A rank's coordinate along every dim, both views (pp shared): c.tp, ..., c.expt_dp by
 * the dims' coordinate names, or c.dim[d] by hg_dim. */
typedef struct hg_coords {
    union {
        int dim[HG_DIM_COUNT];
        struct { HG_DIMS(HG_DIM_FIELD_BY_NAME_) };
    };
} hg_coords;

/* A coordinate, and a module's size, along one dim; -1 for no dim. */
int hg_coords_dim(const hg_coords *c, hg_dim dim);
int hg_module_dim(const hg_module *m, hg_dim dim);

/* Coordinates of rank in module m (m->offset <= rank < m->offset + m->size), both
 * views: the coords of hg_rank_view_build, in O(1) and without groups, for callers
 * that place every rank of a large layout (the SVG picture). */
void hg_module_coords(const hg_module *m, int rank, hg_coords *out);

typedef struct hg_rank_group {
    int index;          /* which group of its kind; -1: this rank is in none */
    int size;
    int pos;            /* this rank's position among members (its group rank) */
    const int *members; /* ascending global ranks; owned by the view */
} hg_rank_group;

/* One rank's view of the layout: everything it needs about itself, computed without
 * touching other modules' groups. Each agent builds its communicators from it; a rank's
 * plan (plan.h: --dry-run --rank N, the HGRID_PLAN file) is it written down. */
typedef struct hg_rank_bridge hg_rank_bridge;

typedef struct hg_rank_view {
    int rank;
    int world_size;
    int module_index;
    hg_module module;
    int module_rank; /* rank - module.offset */
    hg_coords coords;
    hg_rank_group groups[HG_KIND_COUNT];
    int *storage;    /* members of every group, owned */
    /* Added for bridges and colocated layouts (docs/DESIGN.md, "Module graph and
     * bridges", "Colocated layouts"); everything above keeps its meaning. */
    hg_layout_kind layout;
    /* The bridges whose boundary group holds this rank, in layout bridge order
     * (hg_layout_bridge): 0 and NULL when none (always so when colocated). Owned. */
    int nbridges;
    hg_rank_bridge *bridges;
    /* Colocated only: one view per module, config order (nmodules_here = module
     * count), each as hg_rank_view_build_module gives it; the fields above are the
     * language module's (per_module[module_index] equals them). Disjoint: 0 and NULL.
     * Owned. */
    int nmodules_here;
    struct hg_rank_view *per_module;
    int *bridge_storage; /* peers and bridge groups of every bridge, owned */
    /* The layout the view was built from, borrowed (valid while that layout lives): the
     * rank plan's "bridge_groups" lists every bridge of the layout, not only this rank's,
     * because torch programs construct every bridge on every rank (docs/DESIGN.md,
     * "The bridge's own group"). NULL in a zeroed view. */
    const hg_layout *source;
} hg_rank_view;

/* This rank's view. In a disjoint layout: its module's, with its bridge roles. In a
 * colocated one: the language module's, plus per_module. O(kinds x group size + own
 * bridges' peers) per module; never touches another rank's bridges or groups. */
int hg_rank_view_build(const hg_layout *l, int rank, hg_rank_view *out, hg_error *err);
/* One module's view of rank alone (no bridges, no per_module): in a colocated layout
 * any module (offset 0); in a disjoint one only the module holding rank (else HG_EINVAL
 * naming both). Freed with hg_rank_view_free. */
int hg_rank_view_build_module(const hg_layout *l, int rank, int module_index,
                              hg_rank_view *out, hg_error *err);
/* Frees everything the view owns, per_module and bridges included; safe on a zeroed or
 * already freed view. */
void hg_rank_view_free(hg_rank_view *v);

/* ---- Bridges (Megatron BridgeCommunicator) ----
 * One per edge of the module graph (feeds), disjoint layouts only. Both ends have
 * cp = 1 and lane counts dividing each other (validated). Replica r of a side is its
 * module's lane r = g + gtp_remat * d (gtp_remat coordinate g, dp coordinate d); the
 * side has as many leaders as its module's dp x gtp_remat (dp when gtp_remat is 1). */
/* hg_bridge_mode, hg_bridge_side and hg_bridge_role are public: hgrid/base.h. */
/* "one-to-one" | "fan-in" | "fan-out"; "src" | "dest"; "member" | "sender" | "receiver". */
const char *hg_bridge_mode_name(hg_bridge_mode mode);
const char *hg_bridge_side_name(hg_bridge_side side);
const char *hg_bridge_role_name(hg_bridge_role role);

typedef struct hg_bridge {
    int src, dest;       /* module indexes */
    hg_bridge_mode mode;
    int nsrc, ndest;     /* leaders (= dp x gtp_remat) on each side: S and D */
    int nlinks;          /* max(S, D): each leader of the larger side has one link */
} hg_bridge;

/* Disjoint or colocated (hg_layout_kind: hgrid/base.h). */
hg_layout_kind hg_layout_mode(const hg_layout *l);
size_t hg_layout_bridge_count(const hg_layout *l);
/* Bridge i in plan order (source module order, then destination's); NULL past the end. */
const hg_bridge *hg_layout_bridge(const hg_layout *l, size_t i);
/* The bridges a module feeds (its `feeds`, resolved) are bridges [*first, *first +
 * count), contiguous in plan order. O(1). */
size_t hg_layout_bridges_from(const hg_layout *l, int module, size_t *first);
/* Leader of replica r (0 <= r < nsrc or ndest) on one side, a global rank: source, the
 * highest tp, cp, pp coordinates of the replica's lane; destination, the lowest. O(1). */
int hg_bridge_leader(const hg_layout *l, const hg_bridge *b, hg_bridge_side side, int r);
/* Boundary broadcast group of replica r on one side: the module's tp_cp group at its
 * last (source) or first (destination) pp stage. Its kind is always HG_KIND_TP_CP; its
 * index among the module's tp_cp groups is returned; size is tp*cp of that module. */
int hg_bridge_broadcast_group(const hg_layout *l, const hg_bridge *b, hg_bridge_side side,
                              int r);
int hg_bridge_broadcast_size(const hg_layout *l, const hg_bridge *b, hg_bridge_side side);
/* Writes that group's members, ascending, into members[0 .. size). */
void hg_bridge_broadcast_members(const hg_layout *l, const hg_bridge *b,
                                 hg_bridge_side side, int r, int *members);
/* The bridge's own group (Megatron's bridge_pg, over which the leaders exchange
 * activations): every leader of both sides, ascending, i.e. sorted(src leaders | dest
 * leaders); nsrc + ndest ranks, as the two modules are disjoint. */
int hg_bridge_group_size(const hg_bridge *b);
/* Writes its members, ascending, into members[0 .. hg_bridge_group_size). O(size). */
void hg_bridge_group_members(const hg_layout *l, const hg_bridge *b, int *members);
/* Link j in [0, nlinks), plan order (by sender, then receiver): its sender (a source
 * leader) and receiver (a destination leader) as global ranks. O(1). */
void hg_bridge_link(const hg_layout *l, const hg_bridge *b, int j, int *sender,
                    int *receiver);

/* One bridge as one rank sees it (hg_rank_view.bridges). */
struct hg_rank_bridge {
    int bridge;          /* index for hg_layout_bridge */
    int src, dest;       /* module indexes */
    char src_name[HG_NAME_MAX + 1], dest_name[HG_NAME_MAX + 1];
    hg_bridge_mode mode;
    hg_bridge_side side; /* which end this rank is on (its module is src or dest) */
    hg_bridge_role role;
    int replica;         /* dp replica of this rank's boundary group */
    int npeers;          /* sender: the receivers it sends to; receiver: the senders */
    const int *peers;    /* it receives from; ascending global ranks; owned by the view */
    int leader;          /* leader of this rank's boundary group (== rank: a leader) */
    /* The boundary broadcast group: the module's tp_cp group at this stage, i.e. this
     * view's groups[group_kind] (group_kind is always HG_KIND_TP_CP and group_index
     * that group's index), so the agent shares that communicator; members points at
     * that group's members in this view (disjoint) and pos is this rank's position. */
    hg_kind group_kind;
    int group_index;
    int nbroadcast;
    const int *broadcast;
    int pos;
    /* The bridge's own group (hg_bridge_group_members), ascending, owned by the view;
     * group_pos is this rank's position in it, -1 for a member (only leaders are in
     * it). */
    int ngroup;
    const int *group;
    int group_pos;
};

#endif
