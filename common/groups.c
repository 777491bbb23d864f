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
 * without any exchange. */
#include "groups.h"

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
    return (int)((views * HG_KIND_COUNT + 31) / 32);
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

int hg_comm_set_slot(const hg_comm_set *cs, int view, int kind)
{
    if (kind == HG_KIND_WORLD)
        return HG_SLOT_WORLD;
    if (view < 0 || view >= cs->nviews || kind < 0 || kind >= HG_KIND_COUNT)
        return -1;
    return cs->view_slot[view * HG_KIND_COUNT + kind];
}

void hg_comm_set_free(hg_comm_set *cs)
{
    free(cs->view_slot);
    free(cs->slot_view);
    free(cs->slot_kind);
    free(cs->creates);
    free(cs->splits);
    memset(cs, 0, sizeof(*cs));
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
    n = out->nviews * HG_KIND_COUNT;
    max_slots = n + 1;
    out->nsplits = n;
    out->nwords = (n + 31) / 32;
    out->view_slot = malloc((size_t)n * sizeof(int));
    out->slot_view = malloc((size_t)max_slots * sizeof(int));
    out->slot_kind = malloc((size_t)max_slots * sizeof(int));
    out->creates = calloc((size_t)out->nwords, sizeof(unsigned));
    out->splits = calloc((size_t)out->nwords, sizeof(unsigned));
    if (!out->view_slot || !out->slot_view || !out->slot_kind || !out->creates || !out->splits) {
        hg_comm_set_free(out);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory for %d communicator slots",
                            v->rank, max_slots);
    }
    out->nslots = 1;
    out->slot_view[HG_SLOT_WORLD] = -1;
    out->slot_kind[HG_SLOT_WORLD] = -1;
    for (int s = 0; s < n; s++) {
        int view = s / HG_KIND_COUNT, k = s % HG_KIND_COUNT;
        const hg_rank_group *g = hg_comm_set_group(out, view, k);
        out->view_slot[s] = -1;
        if (!g)
            continue;
        if (share && g->size == v->world_size) {
            /* Members ascend within [0, world): a group of world size is the world. */
            out->view_slot[s] = HG_SLOT_WORLD;
            continue;
        }
        for (int j = 0; share && j < s; j++) {
            const hg_rank_group *e = hg_comm_set_group(out, j / HG_KIND_COUNT, j % HG_KIND_COUNT);
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
    return hg_comm_set_group(cs, s / HG_KIND_COUNT, s % HG_KIND_COUNT)->members[0];
}

int hg_comm_set_key(const hg_comm_set *cs, int s)
{
    const hg_rank_group *g = hg_comm_set_group(cs, s / HG_KIND_COUNT, s % HG_KIND_COUNT);
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
    hg_group_describe(&cs->views[s / HG_KIND_COUNT], s % HG_KIND_COUNT, buf, len);
}

void hg_comm_set_describe_slot(const hg_comm_set *cs, int slot, char *buf, size_t len)
{
    if (slot <= HG_SLOT_WORLD || slot >= cs->nslots) {
        hg_group_describe(&cs->views[cs->primary], -1, buf, len);
        return;
    }
    hg_group_describe(&cs->views[cs->slot_view[slot]], cs->slot_kind[slot], buf, len);
}
