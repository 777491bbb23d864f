/* Groups: which communicators one rank builds, and how every rank keeps its splits in
 * step. The NCCL backend splits the world communicator once per split position (module,
 * kind; groups.h), in ascending order, and a split is collective over the whole world:
 * every rank must make the same calls in the same order. (The MPI backend creates each
 * new group among its members only, in the same order: backend_mpi.c; it needs only
 * the first half below.) So the decision is in two halves:
 *   - locally, a group that has exactly the members of an earlier group of this rank
 *     (an earlier kind, or in a colocated layout any kind of an earlier module), or of
 *     the world, reuses that communicator; this is decided by comparing member lists,
 *     and all members of a group decide alike, because the groups of one (module, kind)
 *     partition the ranks that hold one, so every member finds the same earlier match;
 *   - globally, a position is split only where some rank anywhere needs a new
 *     communicator (`splits`, the OR of every rank's `creates`, one small
 *     MPI_Allreduce in the agent); there a rank that reuses, or is in no group, passes
 *     "no color".
 * The color of a new group is its lowest member: unique among the groups of one split
 * position, even across the modules of a disjoint layout, and the same on every member
 * without any exchange.
 *
 * Each bridge's own group (Megatron's bridge_pg, the leaders of both sides) has a
 * position of its own after every (view, kind) one, in layout bridge order, so that
 * every rank of the world makes the same splits in the same order, leaders or not (as
 * Megatron's every rank calls new_group for every bridge). Its members are the same
 * list on every leader, so they decide alike too: it spans two disjoint modules, so it
 * can equal no module's group, only the world (two modules of one leader each, say),
 * whose slot it then shares; the same rule as hgrid.torch's (_groups.bridge_spec). */
#include "grid/groups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_members(const hg_rank_group *a, const hg_rank_group *b)
{
    return a->size == b->size && memcmp(a->members, b->members, (size_t)a->size * sizeof(int)) == 0;
}

int hg_comm_set_words(const hg_layout *l)
{
    size_t views = hg_layout_mode(l) == HG_LAYOUT_COLOCATED ? hg_layout_module_count(l) : 1;
    return (int)((views * HG_KIND_COUNT + hg_layout_bridge_count(l) + 31) / 32);
}

const hg_rank_group *hg_comm_set_group(const hg_comm_set *cs, int view, int kind)
{
    const hg_rank_view *v;
    if (view < 0 || view >= cs->nviews || kind < 0 || kind >= HG_KIND_COUNT)
        return NULL;
    v = &cs->views[view];
    if (v->groups[kind].index < 0 || !hg_kind_applies(&v->module, (hg_kind)kind))
        return NULL;
    return &v->groups[kind];
}

const hg_rank_group *hg_comm_set_bridge_group(const hg_comm_set *cs, int b)
{
    if (b < 0 || b >= cs->nbridges || cs->bridge_group[b].index < 0)
        return NULL;
    return &cs->bridge_group[b];
}

const hg_rank_group *hg_comm_set_split_group(const hg_comm_set *cs, int s)
{
    if (s < 0 || s >= cs->nsplits)
        return NULL;
    if (s >= cs->nkind_splits)
        return hg_comm_set_bridge_group(cs, s - cs->nkind_splits);
    return hg_comm_set_group(cs, s / HG_KIND_COUNT, s % HG_KIND_COUNT);
}

const hg_rank_group *hg_comm_set_slot_group(const hg_comm_set *cs, int slot)
{
    if (slot <= HG_SLOT_WORLD || slot >= cs->nslots)
        return NULL;
    return hg_comm_set_split_group(cs, cs->slot_split[slot]);
}

int hg_comm_set_slot(const hg_comm_set *cs, int view, int kind)
{
    if (kind == HG_KIND_WORLD)
        return HG_SLOT_WORLD;
    if (view < 0 || view >= cs->nviews || kind < 0 || kind >= HG_KIND_COUNT)
        return -1;
    return cs->view_slot[view * HG_KIND_COUNT + kind];
}

int hg_comm_set_bridge_slot(const hg_comm_set *cs, int b)
{
    if (b < 0 || b >= cs->nbridges)
        return -1;
    return cs->view_slot[cs->nkind_splits + b];
}

void hg_comm_set_free(hg_comm_set *cs)
{
    free(cs->view_slot);
    free(cs->slot_view);
    free(cs->slot_kind);
    free(cs->slot_split);
    free(cs->bridge_group);
    free(cs->bridge_of);
    free(cs->creates);
    free(cs->splits);
    memset(cs, 0, sizeof(*cs));
}

/* The bridges' own groups of this rank (its view's bridges where it is a leader), by
 * layout bridge index. */
static void fill_bridge_groups(hg_comm_set *cs, const hg_rank_view *v)
{
    for (int b = 0; b < cs->nbridges; b++) {
        cs->bridge_group[b].index = -1;
        cs->bridge_of[b] = NULL;
    }
    for (int i = 0; i < v->nbridges; i++) {
        const hg_rank_bridge *rb = &v->bridges[i];
        if (rb->bridge < 0 || rb->bridge >= cs->nbridges)
            continue;
        cs->bridge_of[rb->bridge] = rb;
        if (rb->group_pos < 0)
            continue;
        cs->bridge_group[rb->bridge].index = 0; /* one group per bridge */
        cs->bridge_group[rb->bridge].size = rb->ngroup;
        cs->bridge_group[rb->bridge].pos = rb->group_pos;
        cs->bridge_group[rb->bridge].members = rb->group;
    }
}

int hg_comm_set_build(const hg_rank_view *v, int share, hg_comm_set *out, hg_error *err)
{
    int n, max_slots;
    memset(out, 0, sizeof(*out));
    if (v->nmodules_here > 0) {
        out->nviews = v->nmodules_here;
        out->views = v->per_module;
        out->primary = v->module_index;
    } else {
        out->nviews = 1;
        out->views = v;
        out->primary = 0;
    }
    out->nkind_splits = out->nviews * HG_KIND_COUNT;
    out->nbridges = v->source ? (int)hg_layout_bridge_count(v->source) : 0;
    n = out->nkind_splits + out->nbridges;
    max_slots = n + 1;
    out->nsplits = n;
    out->nwords = (n + 31) / 32;
    out->view_slot = malloc((size_t)n * sizeof(int));
    out->slot_view = malloc((size_t)max_slots * sizeof(int));
    out->slot_kind = malloc((size_t)max_slots * sizeof(int));
    out->slot_split = malloc((size_t)max_slots * sizeof(int));
    out->bridge_group = calloc((size_t)(out->nbridges ? out->nbridges : 1), sizeof(hg_rank_group));
    out->bridge_of = calloc((size_t)(out->nbridges ? out->nbridges : 1), sizeof(*out->bridge_of));
    out->creates = calloc((size_t)out->nwords, sizeof(unsigned));
    out->splits = calloc((size_t)out->nwords, sizeof(unsigned));
    if (!out->view_slot || !out->slot_view || !out->slot_kind || !out->slot_split
        || !out->bridge_group || !out->bridge_of || !out->creates || !out->splits) {
        hg_comm_set_free(out);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory for %d communicator slots",
                            v->rank, max_slots);
    }
    fill_bridge_groups(out, v);
    out->nslots = 1;
    out->slot_view[HG_SLOT_WORLD] = -1;
    out->slot_kind[HG_SLOT_WORLD] = -1;
    out->slot_split[HG_SLOT_WORLD] = -1;
    for (int s = 0; s < n; s++) {
        int bridge = s >= out->nkind_splits;
        int view = bridge ? -1 : s / HG_KIND_COUNT, k = bridge ? -1 : s % HG_KIND_COUNT;
        const hg_rank_group *g = hg_comm_set_split_group(out, s);
        out->view_slot[s] = -1;
        if (!g)
            continue;
        if (share && g->size == v->world_size) {
            /* Members ascend within [0, world): a group of world size is the world. */
            out->view_slot[s] = HG_SLOT_WORLD;
            continue;
        }
        for (int j = 0; share && j < s; j++) {
            const hg_rank_group *e = hg_comm_set_split_group(out, j);
            if (out->view_slot[j] > HG_SLOT_WORLD && same_members(g, e)) {
                out->view_slot[s] = out->view_slot[j];
                break;
            }
        }
        if (out->view_slot[s] >= 0)
            continue;
        out->view_slot[s] = out->nslots;
        out->slot_view[out->nslots] = view;
        out->slot_kind[out->nslots] = k;
        out->slot_split[out->nslots] = s;
        out->nslots++;
        out->creates[s / 32] |= 1u << (s % 32);
    }
    for (int k = 0; k < HG_KIND_COUNT; k++)
        out->slot[k] = out->view_slot[out->primary * HG_KIND_COUNT + k];
    return 0;
}

int hg_comm_set_split_needed(const hg_comm_set *cs, int s)
{
    return s >= 0 && s < cs->nsplits && (cs->splits[s / 32] & (1u << (s % 32)));
}

int hg_comm_set_color(const hg_comm_set *cs, int s)
{
    if (s < 0 || s >= cs->nsplits || !(cs->creates[s / 32] & (1u << (s % 32))))
        return -1;
    return hg_comm_set_split_group(cs, s)->members[0];
}

int hg_comm_set_key(const hg_comm_set *cs, int s)
{
    const hg_rank_group *g = hg_comm_set_split_group(cs, s);
    return hg_comm_set_color(cs, s) < 0 || !g ? 0 : g->pos;
}

int hg_comm_set_split_slot(const hg_comm_set *cs, int s)
{
    return s >= 0 && s < cs->nsplits ? cs->view_slot[s] : -1;
}

void hg_members_describe(const int *m, int n, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    int first = 0;
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

void hg_group_describe(const hg_rank_view *v, int kind, char *buf, size_t len)
{
    size_t used;
    if (kind < 0) {
        snprintf(buf, len, "world [0..%d]", v->world_size - 1);
        return;
    }
    used = (size_t)snprintf(buf, len, "%s %s ", v->module.name, hg_kind_name((hg_kind)kind));
    if (used < len)
        hg_members_describe(v->groups[kind].members, v->groups[kind].size, buf + used, len - used);
}

void hg_comm_set_describe_split(const hg_comm_set *cs, int s, char *buf, size_t len)
{
    if (s >= cs->nkind_splits && s < cs->nsplits) {
        int b = s - cs->nkind_splits;
        const hg_rank_bridge *rb = cs->bridge_of[b];
        const hg_rank_group *g = hg_comm_set_bridge_group(cs, b);
        size_t used;
        if (!rb) {
            snprintf(buf, len, "bridge %d", b);
            return;
        }
        used = (size_t)snprintf(buf, len, "bridge %s -> %s ", rb->src_name, rb->dest_name);
        if (used < len)
            hg_members_describe(g ? g->members : rb->group, g ? g->size : rb->ngroup, buf + used,
                                len - used);
        return;
    }
    hg_group_describe(&cs->views[s / HG_KIND_COUNT], s % HG_KIND_COUNT, buf, len);
}

void hg_comm_set_describe_slot(const hg_comm_set *cs, int slot, char *buf, size_t len)
{
    if (slot <= HG_SLOT_WORLD || slot >= cs->nslots) {
        hg_group_describe(&cs->views[cs->primary], -1, buf, len);
        return;
    }
    hg_comm_set_describe_split(cs, cs->slot_split[slot], buf, len);
}
