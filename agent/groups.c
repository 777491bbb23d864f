/* Groups: which communicators one rank builds, and how every rank keeps its splits in
 * step. Both backends split the world communicator once per kind, in hg_kind order, and
 * a split is collective over the whole world: every rank must make the same calls in
 * the same order. So the decision is in two halves:
 *   - locally, a kind whose group has exactly the members of an earlier kind's group
 *     (or of the world) reuses that communicator; this is decided by comparing member
 *     lists, and all members of a group decide alike, because groups of one kind
 *     partition the ranks that hold one;
 *   - globally, a kind is split only where some rank anywhere needs a new communicator
 *     (`splits`, the OR of every rank's `creates`, one small MPI_Allreduce in the
 *     agent); at those kinds a rank that reuses, or is in no group, passes "no color".
 * The color of a new group is its lowest member: unique among the kind's groups, even
 * across modules, and the same on every member without any exchange. */
#include "groups.h"

#include <stdio.h>
#include <string.h>

static int same_members(const hg_rank_group *a, const hg_rank_group *b)
{
    return a->size == b->size && memcmp(a->members, b->members, (size_t)a->size * sizeof(int)) == 0;
}

void hg_comm_set_build(const hg_rank_view *v, int share, hg_comm_set *out)
{
    memset(out, 0, sizeof(*out));
    out->nslots = 1;
    out->slot_kind[HG_SLOT_WORLD] = -1;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &v->groups[k];
        out->slot[k] = -1;
        if (g->index < 0 || !hg_kind_applies(&v->module, (hg_kind)k))
            continue;
        if (share && g->size == v->world_size) {
            /* Members ascend within [0, world): a group of world size is the world. */
            out->slot[k] = HG_SLOT_WORLD;
            continue;
        }
        for (int j = 0; share && j < k; j++) {
            if (out->slot[j] > HG_SLOT_WORLD && same_members(g, &v->groups[j])) {
                out->slot[k] = out->slot[j];
                break;
            }
        }
        if (out->slot[k] >= 0)
            continue;
        out->slot[k] = out->nslots;
        out->slot_kind[out->nslots] = k;
        out->nslots++;
        out->creates |= 1u << k;
    }
}

int hg_comm_set_color(const hg_comm_set *cs, const hg_rank_view *v, hg_kind k)
{
    if (!(cs->creates & (1u << k)))
        return -1;
    return v->groups[k].members[0];
}

void hg_group_describe(const hg_rank_view *v, int slot_kind, char *buf, size_t len)
{
    const int *m;
    int n, first = 0;
    size_t used;
    if (slot_kind < 0) {
        snprintf(buf, len, "world [0..%d]", v->world_size - 1);
        return;
    }
    m = v->groups[slot_kind].members;
    n = v->groups[slot_kind].size;
    used = (size_t)snprintf(buf, len, "%s %s [", v->module.name, hg_kind_name((hg_kind)slot_kind));
    /* Long groups: the first and last few members are enough to find the group. */
    for (int i = 0; i < n && used < len; i++) {
        if (n > 12 && i == 6) {
            used += (size_t)snprintf(buf + used, len - used, ", ... %d more", n - 10);
            i = n - 5;
        }
        used += (size_t)snprintf(buf + used, len - used, first ? ", %d" : "%d", m[i]);
        first = 1;
    }
    if (used < len)
        snprintf(buf + used, len - used, "]");
}
