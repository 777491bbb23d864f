/* Verification: proof that each communicator holds exactly the plan's members, in the
 * plan's order, and can move data. Every rank contributes rank + 1 to one all-reduce
 * per communicator; the sum over the plan's members is known in advance, and +1 keeps
 * rank 0 visible in it. Then every kind (shared communicators included) has its size
 * and this rank's position checked against the plan. The backend runs the all-reduces
 * for all communicators before anything is compared, so a mismatch on one rank never
 * leaves its peers waiting in a collective it skipped. */
#include "agent.h"

#include <stdio.h>

static long long expected_sum(const hg_rank_plan *p, int slot_kind)
{
    long long sum = 0;
    if (slot_kind < 0)
        return (long long)p->world_size * ((long long)p->world_size + 1) / 2;
    for (int i = 0; i < p->groups[slot_kind].size; i++)
        sum += (long long)p->groups[slot_kind].members[i] + 1;
    return sum;
}

static int check_shape(hg_agent *a, int kind, int slot, hg_error *err)
{
    const hg_rank_plan *p = &a->plan;
    int want_size = kind < 0 ? p->world_size : p->groups[kind].size;
    int want_pos = kind < 0 ? p->rank : p->groups[kind].pos;
    int count = -1, rank = -1, rc;
    char what[256];
    if ((rc = a->ops->shape(a, slot, &count, &rank, err)) != 0)
        return rc;
    if (count == want_size && rank == want_pos)
        return 0;
    hg_group_describe(p, kind, what, sizeof(what));
    return hg_error_set(err, HG_EVERIFY,
                        "rank %d: verify: the %s communicator for %s has %d ranks and this "
                        "rank at position %d; the plan says %d ranks, position %d",
                        p->rank, a->ops->name, what, count, rank, want_size, want_pos);
}

int hg_verify(hg_agent *a, hg_error *err)
{
    const hg_comm_plan *cp = &a->comms;
    long long sums[HG_MAX_SLOTS];
    char what[256];
    int rc;

    if ((rc = a->ops->allreduce(a, (long long)a->rank + 1, sums, err)) != 0)
        return rc;
    for (int s = 0; s < cp->nslots; s++) {
        long long want = expected_sum(&a->plan, cp->slot_kind[s]);
        if (sums[s] == want)
            continue;
        hg_group_describe(&a->plan, cp->slot_kind[s], what, sizeof(what));
        return hg_error_set(err, HG_EVERIFY,
                            "rank %d: verify: %s all-reduce over %s gave %lld, expected %lld "
                            "(the sum of rank + 1 over the plan's members)",
                            a->rank, a->ops->name, what, sums[s], want);
    }
    if ((rc = check_shape(a, -1, HG_SLOT_WORLD, err)) != 0)
        return rc;
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (cp->slot[k] >= 0 && (rc = check_shape(a, k, cp->slot[k], err)) != 0)
            return rc;
    return 0;
}
