/* Groups as communicators: which communicators one rank builds (hg_comm_set: slots,
 * shared where members coincide), the split color that makes them, and how a group is
 * named in messages. Pure functions of a rank's view (common/layout.h): no MPI, no
 * backend; both backends and the agent use them. Implemented in groups.c. */
#ifndef HG_GROUPS_H
#define HG_GROUPS_H

#include <stddef.h>

#include "layout.h"

/* Slot 0 of a rank's communicators is the world; kinds map onto slots. */
#define HG_SLOT_WORLD 0
#define HG_MAX_SLOTS (HG_KIND_COUNT + 1)

/* Which communicators one rank builds. A kind whose group has the same members as an
 * earlier kind's (or the world's) shares that slot instead of a split. */
typedef struct hg_comm_set {
    int slot[HG_KIND_COUNT];        /* -1: this rank is in no group of the kind */
    int nslots;                     /* distinct communicators, the world included */
    int slot_kind[HG_MAX_SLOTS];    /* the kind that created each slot; -1: world */
    unsigned creates;               /* bit k: this rank's split at kind k makes a slot */
    unsigned splits;                /* bit k: some rank anywhere creates at kind k */
} hg_comm_set;

/* Computes this rank's slots; share = 0 builds one communicator per kind. splits is
 * left 0: it is the OR of every rank's creates, which the agent learns collectively. */
void hg_comm_set_build(const hg_rank_view *v, int share, hg_comm_set *out);
/* The split color of this rank at kind k: the group's lowest member, unique across
 * every group of the kind in the world; -1 when this rank makes no communicator there. */
int hg_comm_set_color(const hg_comm_set *cs, const hg_rank_view *v, hg_kind k);
/* "language tp [4, 5]" (long member lists shortened; slot_kind -1: the world), for
 * messages. */
void hg_group_describe(const hg_rank_view *v, int slot_kind, char *buf, size_t len);

#endif
