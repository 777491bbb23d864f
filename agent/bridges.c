/* Bridges in pre-flight (docs/DESIGN.md, "Module graph and bridges"): proof, before go,
 * that every bridge of the layout can carry activations. A bridge needs no
 * communicator of its own: its links run on the world communicator, and its boundary
 * groups are the module's tp_cp groups at that stage (layout.h), whose communicator
 * the rank has already built and verified; so the proof is in two parts, both bounded
 * by the readiness deadline and polled, never blocking:
 *
 *   1. each boundary group broadcasts a known value from its leader over that shared
 *      tp_cp communicator (every member checks it);
 *   2. each sender exchanges a known value with each of its receivers, both ways, on
 *      the backend's world (NCCL send/recv; MPI point-to-point): {magic, bridge,
 *      from, to}, so a value from a wrong peer or another bridge is caught.
 *
 * A peer that sends nothing cannot be told from a slow one by the data path alone, so
 * the ranks of every link also say on the control communicator, once per link, how
 * the link ended on their side: done (it received its peer's value and sent its own)
 * or failed (it gave up). A rank still waiting for a peer that says "done" names that
 * peer after HG_BRIDGE_GRACE_S (the peer's value, sent before its word, has had ample
 * time to arrive): the job fails in about a second, not at the deadline; a rank whose
 * peer says "failed" gives up too, as skipped (HG_EPEER), so the cause is what the
 * coordinator shows; a peer that never says anything is named at the deadline.
 *
 * Links are listed, and the NCCL backend runs them, in one global order (bridge, then
 * sender, then receiver): every rank's earliest unfinished link has both its ranks at
 * it, so a chain of links cannot deadlock. The test hook HGRID_TEST_BRIDGE_SILENT_RANK
 * (testhooks.h) makes one rank skip its sends. */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "testhooks.h"

#define HG_BRIDGE_MAGIC 0x68676272 /* "hgbr" */
#define HG_BRIDGE_GRACE_S 1.0
#define TAG_BRIDGE 7302            /* on ctrl; readiness has 7301 */

enum { WORD_PENDING = 0, WORD_DONE = 1, WORD_FAILED = 2 };

typedef struct link_state {
    const hg_rank_bridge *rb;
    int word_in[2];   /* the peer's word: {bridge, WORD_*} */
    int word_out[2];
    MPI_Request rreq, sreq;
    int peer_word;    /* WORD_*, once word_in arrived */
    double peer_at;   /* when it arrived */
    int said;         /* this rank's word is sent */
} link_state;

static const char *module_name(const hg_agent *a, int m)
{
    const hg_module *mod = hg_layout_module(a->layout, (size_t)m);
    return mod ? mod->name : "?";
}

/* "bridge vision -> language" */
static void bridge_name(const hg_agent *a, const hg_rank_bridge *rb, char *buf, size_t len)
{
    snprintf(buf, len, "bridge %s -> %s", module_name(a, rb->src), module_name(a, rb->dest));
}

static long long bcast_value(const hg_rank_bridge *rb)
{
    return ((long long)(rb->bridge + 1) << 33) | ((long long)rb->side << 32) | (unsigned)rb->leader;
}

/* Part 1: every boundary group of this rank broadcasts from its leader. */
static int broadcasts(hg_agent *a, hg_error *err)
{
    const hg_rank_view *v = &a->view;
    char name[160], members[160];
    for (int i = 0; i < v->nbridges; i++) {
        const hg_rank_bridge *rb = &v->bridges[i];
        const hg_rank_group *g = hg_comm_set_group(&a->comms, a->comms.primary, rb->group_kind);
        int slot = hg_comm_set_slot(&a->comms, a->comms.primary, rb->group_kind), root = -1, rc;
        long long want = bcast_value(rb), got;
        bridge_name(a, rb, name, sizeof(name));
        hg_members_describe(rb->broadcast, rb->nbroadcast, members, sizeof(members));
        /* The boundary group is the tp_cp group at this stage: its communicator is there. */
        if (!g || slot < 0 || g->size != rb->nbroadcast
            || memcmp(g->members, rb->broadcast, (size_t)g->size * sizeof(int)) != 0)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: the boundary group %s is not this "
                                "rank's %s group", a->rank, name, members,
                                hg_kind_name(rb->group_kind));
        for (int j = 0; j < rb->nbroadcast; j++)
            if (rb->broadcast[j] == rb->leader)
                root = j;
        if (root < 0)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: leader rank %d is not in its "
                                "boundary group %s", a->rank, name, rb->leader, members);
        got = a->rank == rb->leader ? want : -1;
        if ((rc = a->be->bcast(&a->bk, slot, root, &got, err)) == HG_ETIMEDOUT)
            return hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: the boundary broadcast from "
                                "leader rank %d over %s did not complete within the %d s init "
                                "timeout", a->rank, name, rb->leader, members, a->timeout_s);
        if (rc != 0)
            return rc;
        if (got != want)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: the boundary broadcast from leader "
                                "rank %d over %s gave %lld, expected %lld", a->rank, name,
                                rb->leader, members, got, want);
        if (a->rank == rb->leader)
            a->bridge_groups++;
    }
    return 0;
}

static int count_links(const hg_rank_view *v)
{
    int n = 0;
    for (int i = 0; i < v->nbridges; i++)
        if (v->bridges[i].role != HG_BRIDGE_MEMBER)
            n += v->bridges[i].npeers;
    return n;
}

/* This rank's word about link i, once (never, for a mute rank: test hook). */
static int say(hg_agent *a, link_state *ls, hg_link_xfer *x, int word, hg_error *err)
{
    int mrc;
    if (ls->said)
        return 0;
    ls->said = 1;
    if (hg_test_bridge_silent(a->rank) == 2)
        return 0;
    ls->word_out[0] = ls->rb->bridge;
    ls->word_out[1] = word;
    if ((mrc = MPI_Isend(ls->word_out, 2, MPI_INT, x->peer, TAG_BRIDGE, a->ctrl, &ls->sreq))
        != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, a->rank, "MPI_Isend(bridge link status)");
    return 0;
}

/* The peers' words that arrived. */
static int hear(hg_agent *a, link_state *ls, int n, hg_error *err)
{
    for (int i = 0; i < n; i++) {
        int flag = 0, mrc;
        if (ls[i].rreq == MPI_REQUEST_NULL)
            continue;
        if ((mrc = MPI_Test(&ls[i].rreq, &flag, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, a->rank, "MPI_Test(bridge link status)");
        if (flag) {
            ls[i].peer_word = ls[i].word_in[1] == WORD_DONE ? WORD_DONE : WORD_FAILED;
            ls[i].peer_at = hg_now();
        }
    }
    return 0;
}

/* Sender and receiver of link i, for messages: the rank of the source side first. */
static void ends(const hg_agent *a, const link_state *ls, const hg_link_xfer *x, int *from, int *to)
{
    int sender = ls->rb->role == HG_BRIDGE_SENDER;
    *from = sender ? a->rank : x->peer;
    *to = sender ? x->peer : a->rank;
}

/* A backend error on the links (NCCL reports it for the whole world communicator)
 * names the first link not done yet, its bridge and both ranks, ahead of the backend's
 * own words. */
static void name_failed_link(hg_agent *a, const link_state *ls, const hg_link_xfer *x, int n,
                             hg_error *err)
{
    char name[256], why[sizeof(err->msg)];
    int from, to;
    for (int i = 0; i < n; i++) {
        if (x[i].done)
            continue;
        bridge_name(a, ls[i].rb, name, sizeof(name));
        ends(a, &ls[i], &x[i], &from, &to);
        snprintf(why, sizeof(why), "%s", err->msg);
        hg_error_set(err, err->code, "rank %d: %s: the link from rank %d to rank %d failed: %s",
                     a->rank, name, from, to, why);
        return;
    }
}

/* Part 2. pre_failed: this rank has failed already (part 1): it only tells its peers. */
static int links(hg_agent *a, int pre_failed, hg_error *err)
{
    const hg_rank_view *v = &a->view;
    int n = count_links(v), rc = 0, started = 0, mrc;
    hg_link_xfer *x = calloc((size_t)(n ? n : 1), sizeof(*x));
    link_state *ls = calloc((size_t)(n ? n : 1), sizeof(*ls));
    unsigned spins = 0;
    char name[160];

    if (!x || !ls) {
        free(x);
        free(ls);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory for %d bridge links", a->rank, n);
    }
    /* The order: bridges in layout order, a rank's peers ascending; as a rank is on one
     * side of a bridge, that is (bridge, sender, receiver) on both ends of each link. */
    for (int i = 0, k = 0; i < v->nbridges; i++) {
        const hg_rank_bridge *rb = &v->bridges[i];
        if (rb->role == HG_BRIDGE_MEMBER)
            continue;
        for (int j = 0; j < rb->npeers; j++, k++) {
            x[k].peer = rb->peers[j];
            x[k].out[0] = HG_BRIDGE_MAGIC;
            x[k].out[1] = rb->bridge;
            x[k].out[2] = a->rank;
            x[k].out[3] = rb->peers[j];
            ls[k].rb = rb;
            ls[k].rreq = ls[k].sreq = MPI_REQUEST_NULL;
        }
    }
    if (pre_failed) {
        rc = HG_EPEER; /* err holds part 1's reason; the peers hear "failed" below */
        goto out;
    }
    for (int i = 0; i < n; i++)
        if ((mrc = MPI_Irecv(ls[i].word_in, 2, MPI_INT, x[i].peer, TAG_BRIDGE, a->ctrl, &ls[i].rreq))
            != MPI_SUCCESS) {
            rc = hg_mpi_fail(err, mrc, a->rank, "MPI_Irecv(bridge link status)");
            goto out;
        }
    if ((rc = a->be->link_start(&a->bk, x, n, hg_test_bridge_silent(a->rank) != 0, err)) != 0)
        goto out;
    started = 1;
    for (;;) {
        int all = 1, from, to;
        double now;
        if ((rc = a->be->link_poll(&a->bk, x, n, err)) != 0) {
            name_failed_link(a, ls, x, n, err);
            goto out;
        }
        if ((rc = hear(a, ls, n, err)) != 0)
            goto out;
        now = hg_now();
        for (int i = 0; i < n; i++) {
            const int *in = x[i].in;
            if (x[i].done) {
                if (in[0] != HG_BRIDGE_MAGIC || in[1] != ls[i].rb->bridge || in[2] != x[i].peer
                    || in[3] != a->rank) {
                    bridge_name(a, ls[i].rb, name, sizeof(name));
                    rc = hg_error_set(err, HG_EVERIFY, "rank %d: %s: the value rank %d received "
                                      "from rank %d is wrong (%d %d %d %d, expected %d %d %d %d)",
                                      a->rank, name, a->rank, x[i].peer, in[0], in[1], in[2],
                                      in[3], HG_BRIDGE_MAGIC, ls[i].rb->bridge, x[i].peer, a->rank);
                    goto out;
                }
                if ((rc = say(a, &ls[i], &x[i], WORD_DONE, err)) != 0)
                    goto out;
                continue;
            }
            all = 0;
            if (ls[i].peer_word == WORD_PENDING && now <= a->deadline)
                continue;
            bridge_name(a, ls[i].rb, name, sizeof(name));
            ends(a, &ls[i], &x[i], &from, &to);
            if (ls[i].peer_word == WORD_FAILED) {
                rc = hg_error_set(err, HG_EPEER, "rank %d: %s: gave up on the link with rank %d, "
                                  "which failed its own bridge checks", a->rank, name, x[i].peer);
                goto out;
            }
            if (ls[i].peer_word == WORD_DONE && now - ls[i].peer_at > HG_BRIDGE_GRACE_S) {
                rc = hg_error_set(err, HG_EVERIFY, "rank %d: %s: rank %d sent nothing to rank %d "
                                  "(rank %d reports the link done)", a->rank, name, x[i].peer,
                                  a->rank, x[i].peer);
                goto out;
            }
            if (now > a->deadline) {
                if (!x[i].connected)
                    rc = hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: the link from rank %d to "
                                      "rank %d did not connect within the %d s init timeout",
                                      a->rank, name, from, to, a->timeout_s);
                else
                    rc = hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: rank %d sent nothing to "
                                      "rank %d within the %d s init timeout", a->rank, name,
                                      x[i].peer, a->rank, a->timeout_s);
                goto out;
            }
        }
        if (all)
            break;
        hg_backoff(&spins);
    }
    for (int i = 0; i < n; i++)
        if (ls[i].rb->role == HG_BRIDGE_SENDER)
            a->bridge_links++;
out:
    /* Peers still waiting on a link learn that this rank gave up on it. */
    for (int i = 0; i < n; i++)
        if (!ls[i].said) {
            hg_error ignored;
            (void)say(a, &ls[i], &x[i], WORD_FAILED, &ignored);
        }
    if (started)
        a->be->link_stop(&a->bk, x, n);
    /* Words that have not come are not waited for (a late one stays unmatched, on a tag
     * nothing else uses); words sent finish on their own. */
    for (int i = 0; i < n; i++) {
        if (ls[i].rreq != MPI_REQUEST_NULL) {
            MPI_Cancel(&ls[i].rreq);
            MPI_Wait(&ls[i].rreq, MPI_STATUS_IGNORE);
        }
        if (ls[i].sreq != MPI_REQUEST_NULL)
            MPI_Request_free(&ls[i].sreq);
    }
    free(x);
    free(ls);
    return rc;
}

int hg_bridges(hg_agent *a, hg_error *err)
{
    int rc = broadcasts(a, err);
    int lrc = links(a, rc != 0, err);
    return rc != 0 ? rc : lrc;
}
