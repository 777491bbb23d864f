/* Groups as communicators: which communicators one rank builds (hg_comm_set: slots,
 * shared where members coincide, across modules too when the layout is colocated, and
 * each bridge's own group), the split color that makes them, and how a group is named
 * in messages. Pure
 * functions of a rank's view (common/grid/layout.h): no MPI, no backend; both backends and
 * the agent use them. Implemented in groups.c. */
#ifndef HG_GROUPS_H
#define HG_GROUPS_H

#include <stddef.h>

#include "grid/layout.h"

/* Slot 0 of a rank's communicators is the world; (module, kind) pairs map onto slots. */
#define HG_SLOT_WORLD 0

/* Which communicators one rank builds. A rank holds the groups of one module (disjoint
 * layout) or of every module (colocated: the view's per_module, config order); each
 * such module is a "view" of the set. A rank that leads a bridge (a disjoint layout's)
 * also holds that bridge's own group (Megatron's bridge_pg: sorted(src leaders | dest
 * leaders), layout.h's hg_rank_bridge.group). A group whose members equal an earlier
 * group's (an earlier kind of the same module, any kind of an earlier module, an
 * earlier bridge's group) or the world's shares that slot instead of a split.
 *
 * Splits are made at positions s, in ascending order, by every rank of the world (a
 * split is collective): s = view * HG_KIND_COUNT + kind for s < nkind_splits, then one
 * position per bridge of the layout, s = nkind_splits + bridge (layout bridge order).
 * nsplits is the same on every rank (module count when colocated, else 1, times
 * HG_KIND_COUNT, plus the layout's bridge count). */
typedef struct hg_comm_set {
    int nviews;
    const hg_rank_view *views;      /* borrowed from the rank's view */
    int primary;                    /* the view that is the rank's own hg_rank_view: its
                                     * module (the language module when colocated) */
    int slot[HG_KIND_COUNT];        /* the primary view's slot of each kind; -1: none */
    int *view_slot;                 /* [split position]: slot, -1: none */
    int nslots;                     /* distinct communicators, the world included */
    int *slot_view, *slot_kind;     /* [slot]: the (view, kind) that created it; -1: the
                                     * world, or a bridge's group */
    int *slot_split;                /* [slot]: the split position that created it; -1: world */
    int nsplits;                    /* split positions */
    int nkind_splits;               /* the (view, kind) positions: [0, nkind_splits) */
    int nbridges;                   /* the layout's bridges: one position each after those */
    hg_rank_group *bridge_group;    /* [nbridges]: this rank's place in each bridge's own
                                     * group (members borrowed from the view's bridges);
                                     * index -1: not in it (not a leader of the bridge) */
    const hg_rank_bridge **bridge_of; /* [nbridges]: the view's bridge, NULL: none */
    int nwords;                     /* 32-bit words of the two bit sets below */
    unsigned *creates;              /* bit s: this rank's split at position s makes a slot */
    unsigned *splits;               /* bit s: some rank anywhere creates at position s */
} hg_comm_set;

/* The number of 32-bit words of a comm set's bit sets in a layout: the same on every
 * rank, whether or not its own set could be built (the agent's agreement sends them). */
int hg_comm_set_words(const hg_layout *l);

/* Computes this rank's slots; share = 0 builds one communicator per (module, kind).
 * splits is left 0: it is the OR of every rank's creates, which the agent learns
 * collectively. Returns 0 or HG_ENOMEM (err filled). Free with hg_comm_set_free. */
int hg_comm_set_build(const hg_rank_view *v, int share, hg_comm_set *out, hg_error *err);
void hg_comm_set_free(hg_comm_set *cs);

/* Split position s: whether any rank splits there; this rank's color (-1: no color,
 * it makes no communicator there), its key (its position in the group) and the slot
 * the new communicator fills. */
int hg_comm_set_split_needed(const hg_comm_set *cs, int s);
int hg_comm_set_color(const hg_comm_set *cs, int s);
int hg_comm_set_key(const hg_comm_set *cs, int s);
int hg_comm_set_split_slot(const hg_comm_set *cs, int s);

/* The group of (view, kind), or NULL when this rank is in none; the slot of (view,
 * kind), -1 when none (kind HG_KIND_WORLD: the world slot). */
const hg_rank_group *hg_comm_set_group(const hg_comm_set *cs, int view, int kind);
int hg_comm_set_slot(const hg_comm_set *cs, int view, int kind);
/* The group of this rank at split position s, a (view, kind) or a bridge's own, or NULL
 * when it is in none there; the group of the position that created a slot (NULL: the
 * world, or no such slot). */
const hg_rank_group *hg_comm_set_split_group(const hg_comm_set *cs, int s);
const hg_rank_group *hg_comm_set_slot_group(const hg_comm_set *cs, int slot);
/* Bridge b's own group (layout bridge order) as this rank holds it: its group (NULL: not
 * a leader of b) and slot (-1: none; the world slot when the group is the world). */
const hg_rank_group *hg_comm_set_bridge_group(const hg_comm_set *cs, int b);
int hg_comm_set_bridge_slot(const hg_comm_set *cs, int b);

/* "language tp [4, 5]" (long member lists shortened; kind -1: the world), for messages;
 * a bridge's own group: "bridge vision -> language [3, 5, 6]". */
void hg_group_describe(const hg_rank_view *v, int kind, char *buf, size_t len);
/* The same for a split position, and for a slot (named by the group that created it). */
void hg_comm_set_describe_split(const hg_comm_set *cs, int s, char *buf, size_t len);
void hg_comm_set_describe_slot(const hg_comm_set *cs, int slot, char *buf, size_t len);
/* "[2, 3]" with hg_group_describe's shortening. */
void hg_members_describe(const int *m, int n, char *buf, size_t len);

#endif
