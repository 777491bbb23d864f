/* Verification: proof that each communicator (the world alone, when agent.preflight is
 * world) holds exactly the members the layout
 * gives its group, in their order, and can move data. Every rank contributes rank + 1
 * to one all-reduce per communicator; the sum over the members is known in advance,
 * and +1 keeps rank 0 visible in it. Then every (module, kind) of the rank (shared
 * communicators included, across the modules of a colocated layout too) and every
 * bridge's own group it leads has its size and this rank's position checked against
 * the rank's view. The bridge groups so proved are counted for readiness (the record's
 * bridge groups; each counted once in the summary, by its lowest member). The backend runs the
 * all-reduces for all communicators before anything is compared, so a mismatch on one
 * rank never leaves its peers waiting in a collective it skipped. */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>

#include "grid/config.h"

static long long expected_sum(const hg_comm_set *cs, int slot)
{
    const hg_rank_group *g;
    long long sum = 0;
    if (slot == HG_SLOT_WORLD) {
        long long w = cs->views[cs->primary].world_size;
        return w * (w + 1) / 2;
    }
    g = hg_comm_set_slot_group(cs, slot);
    for (int i = 0; g && i < g->size; i++)
        sum += (long long)g->members[i] + 1;
    return sum;
}

/* view < 0: the world; kind < 0 (view not): bridge view's own group. */
static int check_shape(hg_agent *a, int view, int kind, int slot, hg_error *err)
{
    const hg_comm_set *cs = &a->grid.comms;
    const hg_rank_group *g = view < 0 ? NULL
                             : kind < 0 ? hg_comm_set_bridge_group(cs, view)
                                        : hg_comm_set_group(cs, view, kind);
    int want_size = g ? g->size : a->grid.view.world_size;
    int want_pos = g ? g->pos : a->grid.view.rank;
    int count = -1, rank = -1, rc;
    char what[256];
    if ((rc = a->be->shape(&a->bk, slot, &count, &rank, err)) != 0)
        return rc;
    if (count == want_size && rank == want_pos)
        return 0;
    if (view >= 0 && kind < 0)
        hg_comm_set_describe_split(cs, cs->nkind_splits + view, what, sizeof(what));
    else
        hg_group_describe(&cs->views[view < 0 ? cs->primary : view], view < 0 ? -1 : kind, what,
                          sizeof(what));
    return hg_error_set(err, HG_EVERIFY,
                        "rank %d: verify: the %s communicator for %s has %d ranks and this "
                        "rank at position %d; the layout says %d ranks, position %d",
                        a->id.rank, hg_backend_name((hg_backend)a->set.backend), what, count, rank,
                        want_size, want_pos);
}

int hg_verify(hg_agent *a, hg_error *err)
{
    const hg_comm_set *cs = &a->grid.comms;
    long long *sums = malloc((size_t)cs->nslots * sizeof(long long));
    char what[256];
    int rc;

    if (!sums)
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", a->id.rank);
    if ((rc = a->be->allreduce(&a->bk, (long long)a->id.rank + 1, sums, err)) != 0)
        goto out;
    for (int s = 0; s < a->bk.nverify; s++) {
        long long want = expected_sum(cs, s);
        if (sums[s] == want)
            continue;
        hg_comm_set_describe_slot(cs, s, what, sizeof(what));
        rc = hg_error_set(err, HG_EVERIFY,
                          "rank %d: verify: %s all-reduce over %s gave %lld, expected %lld "
                          "(the sum of rank + 1 over the layout's members)",
                          a->id.rank, hg_backend_name((hg_backend)a->set.backend), what, sums[s], want);
        goto out;
    }
    if ((rc = check_shape(a, -1, -1, HG_SLOT_WORLD, err)) != 0)
        goto out;
    /* agent.preflight: world: the world is all there is. */
    for (int v = 0; a->bk.nverify == cs->nslots && v < cs->nviews; v++)
        for (int k = 0; k < HG_KIND_COUNT; k++) {
            int slot = hg_comm_set_slot(cs, v, k);
            if (slot >= 0 && (rc = check_shape(a, v, k, slot, err)) != 0)
                goto out;
        }
    for (int b = 0; a->bk.nverify == cs->nslots && b < cs->nbridges; b++) {
        const hg_rank_group *g = hg_comm_set_bridge_group(cs, b);
        int slot = hg_comm_set_bridge_slot(cs, b);
        if (!g || slot < 0)
            continue;
        if ((rc = check_shape(a, b, -1, slot, err)) != 0)
            goto out;
        a->result.bridge_groups++;
        if (g->pos == 0)
            a->result.bridge_groups_first++;
    }
out:
    free(sums);
    return rc;
}
