/* Bridges in pre-flight (docs/DESIGN.md, "Module graph and bridges"): proof, before go,
 * that every bridge of the layout can carry activations. A bridge's own group (its
 * leaders, Megatron's bridge_pg) is a communicator of the comm set (groups.h), built
 * in the groups phase and proved by verify.c's all-reduce like every other; its
 * boundary groups are the module's tp_cp groups at that stage (layout.h), whose
 * communicator the rank has already built and verified too. What is left is proved
 * here, in two parts, both bounded by the readiness deadline and polled, never
 * blocking:
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
 * (testhooks.h) keeps one rank's links from the backend (start_links). */
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
    const hg_module *mod = hg_layout_module(a->grid.layout, (size_t)m);
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
static int prove_broadcasts(hg_agent *a, hg_error *err)
{
    const hg_rank_view *v = &a->grid.view;
    char name[160], members[160];
    for (int i = 0; i < v->nbridges; i++) {
        const hg_rank_bridge *rb = &v->bridges[i];
        const hg_rank_group *g = hg_comm_set_group(&a->grid.comms, a->grid.comms.primary, rb->group_kind);
        int slot = hg_comm_set_slot(&a->grid.comms, a->grid.comms.primary, rb->group_kind), root = -1, rc;
        long long want = bcast_value(rb), got;
        bridge_name(a, rb, name, sizeof(name));
        hg_members_describe(rb->broadcast, rb->nbroadcast, members, sizeof(members));
        /* The boundary group is the tp_cp group at this stage: its communicator is there. */
        if (!g || slot < 0 || g->size != rb->nbroadcast
            || memcmp(g->members, rb->broadcast, (size_t)g->size * sizeof(int)) != 0)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: the boundary group %s is not this "
                                "rank's %s group", a->id.rank, name, members,
                                hg_kind_name(rb->group_kind));
        for (int j = 0; j < rb->nbroadcast; j++)
            if (rb->broadcast[j] == rb->leader)
                root = j;
        if (root < 0)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: leader rank %d is not in its "
                                "boundary group %s", a->id.rank, name, rb->leader, members);
        got = a->id.rank == rb->leader ? want : -1;
        if ((rc = a->be->bcast(&a->bk, slot, root, &got, err)) == HG_ETIMEDOUT)
            return hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: the boundary broadcast from "
                                "leader rank %d over %s did not complete within the %d s init "
                                "timeout", a->id.rank, name, rb->leader, members, a->set.timeout_s);
        if (rc != 0)
            return rc;
        if (got != want)
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: the boundary broadcast from leader "
                                "rank %d over %s gave %lld, expected %lld", a->id.rank, name,
                                rb->leader, members, got, want);
        if (a->id.rank == rb->leader)
            a->result.bridge_broadcasts++;
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
static int say_link_end(hg_agent *a, link_state *ls, hg_link_xfer *x, int word, hg_error *err)
{
    int mrc;
    if (ls->said)
        return 0;
    ls->said = 1;
    if (hg_test_bridge_silent(a->id.rank) == 2)
        return 0;
    ls->word_out[0] = ls->rb->bridge;
    ls->word_out[1] = word;
    if ((mrc = MPI_Isend(ls->word_out, 2, MPI_INT, x->peer, TAG_BRIDGE, a->id.ctrl, &ls->sreq))
        != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Isend(bridge link status)");
    return 0;
}

/* The peers' words that arrived. */
static int hear_link_ends(hg_agent *a, link_state *ls, int n, hg_error *err)
{
    for (int i = 0; i < n; i++) {
        int flag = 0, mrc;
        if (ls[i].rreq == MPI_REQUEST_NULL)
            continue;
        if ((mrc = MPI_Test(&ls[i].rreq, &flag, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Test(bridge link status)");
        if (flag) {
            ls[i].peer_word = ls[i].word_in[1] == WORD_DONE ? WORD_DONE : WORD_FAILED;
            ls[i].peer_at = hg_now();
        }
    }
    return 0;
}

/* Sender and receiver of link i, for messages: the rank of the source side first. */
static void link_ends(const hg_agent *a, const link_state *ls, const hg_link_xfer *x, int *from, int *to)
{
    int sender = ls->rb->role == HG_BRIDGE_SENDER;
    *from = sender ? a->id.rank : x->peer;
    *to = sender ? x->peer : a->id.rank;
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
        link_ends(a, &ls[i], &x[i], &from, &to);
        snprintf(why, sizeof(why), "%s", err->msg);
        hg_error_set(err, err->code, "rank %d: %s: the link from rank %d to rank %d failed: %s",
                     a->id.rank, name, from, to, why);
        return;
    }
}

/* The links of this rank into x and ls, in the one global order: bridges in layout
 * order, a rank's peers ascending; as a rank is on one side of a bridge, that is
 * (bridge, sender, receiver) on both ends of each link. */
static void list_links(const hg_agent *a, hg_link_xfer *x, link_state *ls)
{
    const hg_rank_view *v = &a->grid.view;
    for (int i = 0, k = 0; i < v->nbridges; i++) {
        const hg_rank_bridge *rb = &v->bridges[i];
        if (rb->role == HG_BRIDGE_MEMBER)
            continue;
        for (int j = 0; j < rb->npeers; j++, k++) {
            x[k].peer = rb->peers[j];
            x[k].out[0] = HG_BRIDGE_MAGIC;
            x[k].out[1] = rb->bridge;
            x[k].out[2] = a->id.rank;
            x[k].out[3] = rb->peers[j];
            ls[k].rb = rb;
            ls[k].rreq = ls[k].sreq = MPI_REQUEST_NULL;
        }
    }
}

/* Every peer's word about its link, received as it comes (hear_link_ends). */
static int post_word_receives(hg_agent *a, link_state *ls, const hg_link_xfer *x, int n,
                              hg_error *err)
{
    for (int i = 0; i < n; i++) {
        int mrc = MPI_Irecv(ls[i].word_in, 2, MPI_INT, x[i].peer, TAG_BRIDGE, a->id.ctrl,
                            &ls[i].rreq);
        if (mrc != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Irecv(bridge link status)");
    }
    return 0;
}

/* The data path of every link: the backend's exchange (*started = 1), or, for a rank
 * the test hook silences (testhooks.h), none: the backend is not given the links, and
 * each counts as done with the value its peer would have sent. */
static int start_links(hg_agent *a, hg_link_xfer *x, int n, int *started, hg_error *err)
{
    int rc;
    if (hg_test_bridge_silent(a->id.rank)) {
        for (int i = 0; i < n; i++) {
            const int want[HG_LINK_WORDS] = { HG_BRIDGE_MAGIC, x[i].out[1], x[i].peer, a->id.rank };
            memcpy(x[i].in, want, sizeof(want));
            x[i].done = x[i].connected = 1;
        }
        return 0;
    }
    if ((rc = a->be->link_start(&a->bk, x, n, err)) == 0)
        *started = 1;
    return rc;
}

/* Link i's state now: 0 (done and said so, or still waiting: *waiting = 1) or why it
 * failed: a wrong value, a peer that gave up, a peer done whose value never came, the
 * deadline. */
static int check_link(hg_agent *a, link_state *ls, hg_link_xfer *x, double now, int *waiting,
                      hg_error *err)
{
    const int *in = x->in;
    char name[160];
    int from, to;
    if (x->done) {
        if (in[0] != HG_BRIDGE_MAGIC || in[1] != ls->rb->bridge || in[2] != x->peer
            || in[3] != a->id.rank) {
            bridge_name(a, ls->rb, name, sizeof(name));
            return hg_error_set(err, HG_EVERIFY, "rank %d: %s: the value rank %d received "
                                "from rank %d is wrong (%d %d %d %d, expected %d %d %d %d)",
                                a->id.rank, name, a->id.rank, x->peer, in[0], in[1], in[2],
                                in[3], HG_BRIDGE_MAGIC, ls->rb->bridge, x->peer, a->id.rank);
        }
        return say_link_end(a, ls, x, WORD_DONE, err);
    }
    *waiting = 1;
    if (ls->peer_word == WORD_PENDING && now <= a->run.deadline)
        return 0;
    bridge_name(a, ls->rb, name, sizeof(name));
    link_ends(a, ls, x, &from, &to);
    if (ls->peer_word == WORD_FAILED)
        return hg_error_set(err, HG_EPEER, "rank %d: %s: gave up on the link with rank %d, "
                            "which failed its own bridge checks", a->id.rank, name, x->peer);
    if (ls->peer_word == WORD_DONE && now - ls->peer_at > HG_BRIDGE_GRACE_S)
        return hg_error_set(err, HG_EVERIFY, "rank %d: %s: rank %d sent nothing to rank %d "
                            "(rank %d reports the link done)", a->id.rank, name, x->peer,
                            a->id.rank, x->peer);
    if (now <= a->run.deadline)
        return 0;
    if (!x->connected)
        return hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: the link from rank %d to rank %d "
                            "did not connect within the %d s init timeout", a->id.rank, name,
                            from, to, a->set.timeout_s);
    return hg_error_set(err, HG_ETIMEDOUT, "rank %d: %s: rank %d sent nothing to rank %d "
                        "within the %d s init timeout", a->id.rank, name, x->peer, a->id.rank,
                        a->set.timeout_s);
}

/* Polls the backend (when it has the links) and the peers' words until every link is
 * done, or one fails. */
static int wait_for_links(hg_agent *a, link_state *ls, hg_link_xfer *x, int n, int started,
                          hg_error *err)
{
    unsigned spins = 0;
    int rc;
    for (;;) {
        int waiting = 0;
        double now;
        if (started && (rc = a->be->link_poll(&a->bk, x, n, err)) != 0) {
            name_failed_link(a, ls, x, n, err);
            return rc;
        }
        if ((rc = hear_link_ends(a, ls, n, err)) != 0)
            return rc;
        now = hg_now();
        for (int i = 0; i < n; i++)
            if ((rc = check_link(a, &ls[i], &x[i], now, &waiting, err)) != 0)
                return rc;
        if (!waiting)
            return 0;
        hg_backoff(&spins);
    }
}

/* Peers still waiting on a link learn that this rank gave up on it; the backend stops
 * the transfers; words that have not come are not waited for (a late one stays
 * unmatched, on a tag nothing else uses); words sent finish on their own. */
static void end_links(hg_agent *a, link_state *ls, hg_link_xfer *x, int n, int started)
{
    for (int i = 0; i < n; i++)
        if (!ls[i].said) {
            hg_error ignored;
            (void)say_link_end(a, &ls[i], &x[i], WORD_FAILED, &ignored);
        }
    if (started)
        a->be->link_stop(&a->bk, x, n);
    for (int i = 0; i < n; i++) {
        if (ls[i].rreq != MPI_REQUEST_NULL) {
            MPI_Cancel(&ls[i].rreq);
            MPI_Wait(&ls[i].rreq, MPI_STATUS_IGNORE);
        }
        if (ls[i].sreq != MPI_REQUEST_NULL)
            MPI_Request_free(&ls[i].sreq);
    }
}

/* Part 2. pre_failed: this rank has failed already (part 1): it only tells its peers. */
static int prove_links(hg_agent *a, int pre_failed, hg_error *err)
{
    int n = count_links(&a->grid.view), rc = HG_EPEER, started = 0;
    hg_link_xfer *x = calloc((size_t)(n ? n : 1), sizeof(*x));
    link_state *ls = calloc((size_t)(n ? n : 1), sizeof(*ls));

    if (!x || !ls) {
        free(x);
        free(ls);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory for %d bridge links",
                            a->id.rank, n);
    }
    list_links(a, x, ls);
    /* Failed already: err holds part 1's reason; the peers hear "failed" (end_links). */
    if (!pre_failed && (rc = post_word_receives(a, ls, x, n, err)) == 0
        && (rc = start_links(a, x, n, &started, err)) == 0
        && (rc = wait_for_links(a, ls, x, n, started, err)) == 0)
        for (int i = 0; i < n; i++)
            if (ls[i].rb->role == HG_BRIDGE_SENDER)
                a->result.bridge_links++;
    end_links(a, ls, x, n, started);
    free(x);
    free(ls);
    return rc;
}

int hg_bridges(hg_agent *a, hg_error *err)
{
    int rc = prove_broadcasts(a, err);
    int lrc = prove_links(a, rc != 0, err);
    return rc != 0 ? rc : lrc;
}
