/* Verification: proof that each communicator holds exactly the members the layout
 * gives its group, in their order, and can move data. Every rank contributes rank + 1
 * to one all-reduce per communicator; the sum over the members is known in advance,
 * and +1 keeps rank 0 visible in it. Then every kind (shared communicators included)
 * has its size and this rank's position checked against the rank's view. The backend
 * runs the all-reduces for all communicators before anything is compared, so a
 * mismatch on one rank never leaves its peers waiting in a collective it skipped. */
#include "agent.h"

#include <stdio.h>

#include "config.h"

static long long expected_sum(const hg_rank_view *v, int slot_kind)
{
    long long sum = 0;
    if (slot_kind < 0)
        return (long long)v->world_size * ((long long)v->world_size + 1) / 2;
    for (int i = 0; i < v->groups[slot_kind].size; i++)
        sum += (long long)v->groups[slot_kind].members[i] + 1;
    return sum;
}

static int check_shape(hg_agent *a, int kind, int slot, hg_error *err)
{
    const hg_rank_view *v = &a->view;
    int want_size = kind < 0 ? v->world_size : v->groups[kind].size;
    int want_pos = kind < 0 ? v->rank : v->groups[kind].pos;
    int count = -1, rank = -1, rc;
    char what[256];
    if ((rc = a->be->shape(&a->bk, slot, &count, &rank, err)) != 0)
        return rc;
    if (count == want_size && rank == want_pos)
        return 0;
    hg_group_describe(v, kind, what, sizeof(what));
    return hg_error_set(err, HG_EVERIFY,
                        "rank %d: verify: the %s communicator for %s has %d ranks and this "
                        "rank at position %d; the layout says %d ranks, position %d",
                        v->rank, hg_backend_name((hg_backend)a->backend), what, count, rank,
                        want_size, want_pos);
}

int hg_verify(hg_agent *a, hg_error *err)
{
    const hg_comm_set *cs = &a->comms;
    long long sums[HG_MAX_SLOTS];
    char what[256];
    int rc;

    if ((rc = a->be->allreduce(&a->bk, (long long)a->rank + 1, sums, err)) != 0)
        return rc;
    for (int s = 0; s < cs->nslots; s++) {
        long long want = expected_sum(&a->view, cs->slot_kind[s]);
        if (sums[s] == want)
            continue;
        hg_group_describe(&a->view, cs->slot_kind[s], what, sizeof(what));
        return hg_error_set(err, HG_EVERIFY,
                            "rank %d: verify: %s all-reduce over %s gave %lld, expected %lld "
                            "(the sum of rank + 1 over the layout's members)",
                            a->rank, hg_backend_name((hg_backend)a->backend), what, sums[s], want);
    }
    if ((rc = check_shape(a, -1, HG_SLOT_WORLD, err)) != 0)
        return rc;
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (cs->slot[k] >= 0 && (rc = check_shape(a, k, cs->slot[k], err)) != 0)
            return rc;
    return 0;
}
