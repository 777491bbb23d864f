/* The MPI backend: the same groups as the NCCL backend, as MPI communicators, for
 * machines without GPUs (CI) and for CPU-side groups. Not a mock: the world is a
 * duplicate of MPI_COMM_WORLD, every distinct group (each bridge's own group included)
 * an MPI_Comm_create_group of it in split order (groups.h), among its members only,
 * verified with
 * MPI_Allreduce; bridge links are point-to-point messages on that world, boundary
 * broadcasts MPI_Ibcast on the shared tp_cp communicator. All of them return errors
 * (MPI_ERRORS_RETURN) rather than abort the job. Blocking MPI calls cannot be bounded
 * by a deadline; the watchdog bounds them instead; the bridge calls are non-blocking
 * and polled against the deadline. */
#include "backend.h"

#include <stdlib.h>

/* Bridge links' values travel on the backend's world with this tag (the agent's own
 * talk is on ctrl, another communicator). */
#define TAG_LINK 7401

typedef struct mpi_state {
    int nslots;
    MPI_Comm *comm;          /* [nslots] */
    MPI_Request *link_req;   /* bridge links: [2n], receive then send of each link */
    int nlinks;
} mpi_state;

static mpi_state *state_of(hg_backend_rank *b)
{
    if (!b->state) {
        mpi_state *s = calloc(1, sizeof(*s));
        int n = b->comms->nslots;
        if (!s || !(s->comm = malloc((size_t)n * sizeof(MPI_Comm)))) {
            free(s);
            return NULL;
        }
        s->nslots = n;
        for (int i = 0; i < n; i++)
            s->comm[i] = MPI_COMM_NULL;
        b->state = s;
    }
    return b->state;
}

static int mpi_world(hg_backend_rank *b, hg_error *err)
{
    mpi_state *s = state_of(b);
    int mrc;
    if (!s)
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    if ((mrc = MPI_Comm_dup(MPI_COMM_WORLD, &s->comm[HG_SLOT_WORLD])) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Comm_dup(world)");
    /* Errors come back as codes (the duplicate would inherit errors-are-fatal), here and
     * on every group split from this communicator, which inherits the handler. */
    if ((mrc = MPI_Comm_set_errhandler(s->comm[HG_SLOT_WORLD], MPI_ERRORS_RETURN)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Comm_set_errhandler(world)");
    return 0;
}

/* Each new group is an MPI_Comm_create_group of the world, collective over its own
 * members only: a rank's cost is O(its group sizes), where an MPI_Comm_split is
 * collective over the whole world (an all-gather of every rank's color and key per
 * split position), O(world) on every rank for each of the ~17 positions, which
 * oversubscribed hosts pay as O(world^2) (scripts/bench-scale). Every rank creates its
 * groups in ascending split position and the groups of one position are disjoint, so
 * the member that waits longest waits on a lower position, which every member reaches:
 * no order deadlocks. The tag (one per position) keeps two creations apart. */
#define TAG_GROUP_BASE 7500

static int mpi_groups(hg_backend_rank *b, hg_error *err)
{
    mpi_state *s = b->state;
    const hg_comm_set *cs = b->comms;
    MPI_Group world_group = MPI_GROUP_NULL;
    int rc = 0, mrc;
    if ((mrc = MPI_Comm_group(s->comm[HG_SLOT_WORLD], &world_group)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Comm_group(world)");
    for (int p = 0; p < cs->nsplits && rc == 0; p++) {
        if (hg_comm_set_color(cs, p) < 0)
            continue; /* shares an earlier communicator, or is in no group here */
        const hg_rank_group *g = hg_comm_set_split_group(cs, p);
        MPI_Group group = MPI_GROUP_NULL;
        MPI_Comm c = MPI_COMM_NULL;
        const char *call = "MPI_Group_incl";
        /* Members ascend, so the new communicator's rank of each is its group rank. */
        mrc = MPI_Group_incl(world_group, g->size, g->members, &group);
        if (mrc == MPI_SUCCESS) {
            call = "MPI_Comm_create_group";
            mrc = MPI_Comm_create_group(s->comm[HG_SLOT_WORLD], group, TAG_GROUP_BASE + p, &c);
        }
        if (group != MPI_GROUP_NULL)
            MPI_Group_free(&group);
        if (mrc != MPI_SUCCESS) {
            char what[256], text[320];
            hg_comm_set_describe_split(cs, p, what, sizeof(what));
            snprintf(text, sizeof(text), "%s for %s", call, what);
            rc = hg_mpi_fail(err, mrc, b->rank, text);
            break;
        }
        s->comm[hg_comm_set_split_slot(cs, p)] = c;
    }
    MPI_Group_free(&world_group);
    return rc;
}

static int mpi_allreduce(hg_backend_rank *b, long long mine, long long *sums, hg_error *err)
{
    mpi_state *s = b->state;
    /* Slots were made in split order on every member (kinds, then bridges), so every
     * rank meets its communicators in one global order and the blocking all-reduces
     * cannot deadlock: the groups of one position are disjoint, so the members of the
     * lowest position anyone waits at have all passed the lower ones. */
    for (int i = 0; i < b->nverify; i++) {
        int mrc = MPI_Allreduce(&mine, &sums[i], 1, MPI_LONG_LONG, MPI_SUM, s->comm[i]);
        if (mrc != MPI_SUCCESS) {
            char what[256], call[320];
            hg_comm_set_describe_slot(b->comms, i, what, sizeof(what));
            snprintf(call, sizeof(call), "MPI_Allreduce over %s", what);
            return hg_mpi_fail(err, mrc, b->rank, call);
        }
    }
    return 0;
}

static int mpi_shape(hg_backend_rank *b, int slot, int *count, int *rank, hg_error *err)
{
    mpi_state *s = b->state;
    int mrc;
    if ((mrc = MPI_Comm_size(s->comm[slot], count)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Comm_size");
    if ((mrc = MPI_Comm_rank(s->comm[slot], rank)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Comm_rank");
    return 0;
}

/* Bridge links: every receive and send posted at once (MPI orders nothing here, so no
 * order can deadlock); the sends are small and complete on their own. */
static int mpi_link_start(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err)
{
    mpi_state *s = b->state;
    int mrc;
    free(s->link_req);
    s->link_req = NULL;
    s->nlinks = 0;
    if (n <= 0)
        return 0;
    if (!(s->link_req = malloc((size_t)(2 * n + 1) * sizeof(MPI_Request))))
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    for (int i = 0; i < 2 * n; i++)
        s->link_req[i] = MPI_REQUEST_NULL;
    s->nlinks = n;
    for (int i = 0; i < n; i++) {
        x[i].done = 0;
        x[i].connected = 1;
        if ((mrc = MPI_Irecv(x[i].in, HG_LINK_WORDS, MPI_INT, x[i].peer, TAG_LINK,
                             s->comm[HG_SLOT_WORLD], &s->link_req[2 * i])) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, b->rank, "MPI_Irecv(bridge link)");
    }
    for (int i = 0; i < n; i++)
        if ((mrc = MPI_Isend(x[i].out, HG_LINK_WORDS, MPI_INT, x[i].peer, TAG_LINK,
                             s->comm[HG_SLOT_WORLD], &s->link_req[2 * i + 1])) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, b->rank, "MPI_Isend(bridge link)");
    return 0;
}

static int mpi_link_poll(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err)
{
    mpi_state *s = b->state;
    for (int i = 0; i < n && i < s->nlinks; i++) {
        int mrc, flag = 0;
        if (x[i].done)
            continue;
        if ((mrc = MPI_Testall(2, &s->link_req[2 * i], &flag, MPI_STATUSES_IGNORE)) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, b->rank, "MPI_Testall(bridge link)");
        x[i].done = flag;
    }
    return 0;
}

static void mpi_link_stop(hg_backend_rank *b, hg_link_xfer *x, int n)
{
    mpi_state *s = b->state;
    (void)x, (void)n;
    if (!s || !s->link_req)
        return;
    for (int i = 0; i < 2 * s->nlinks; i++) {
        if (s->link_req[i] == MPI_REQUEST_NULL)
            continue;
        if (i % 2 == 0) { /* a receive: cancel it, then it completes at once */
            MPI_Cancel(&s->link_req[i]);
            MPI_Wait(&s->link_req[i], MPI_STATUS_IGNORE);
        } else {          /* a send: let it finish on its own */
            MPI_Request_free(&s->link_req[i]);
        }
    }
    free(s->link_req);
    s->link_req = NULL;
    s->nlinks = 0;
}

/* MPI_Ibcast, polled: a member that never joins cannot hold this rank past the deadline
 * (the request is left behind then; the job is failing). */
static int mpi_bcast(hg_backend_rank *b, int slot, int root, long long *value, hg_error *err)
{
    mpi_state *s = b->state;
    MPI_Request req = MPI_REQUEST_NULL;
    unsigned spins = 0;
    int mrc, flag = 0;
    if ((mrc = MPI_Ibcast(value, 1, MPI_LONG_LONG, root, s->comm[slot], &req)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Ibcast(bridge boundary group)");
    for (;;) {
        if ((mrc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, b->rank, "MPI_Test(bridge boundary broadcast)");
        if (flag)
            return 0;
        if (hg_now() > b->deadline)
            return HG_ETIMEDOUT;
        hg_backoff(&spins);
    }
}

static void mpi_release(hg_backend_rank *b, int abort)
{
    mpi_state *s = b->state;
    (void)abort; /* MPI_Comm_free does not wait for peers */
    if (!s)
        return;
    mpi_link_stop(b, NULL, 0);
    for (int i = s->nslots - 1; i >= 0; i--)
        if (s->comm[i] != MPI_COMM_NULL)
            MPI_Comm_free(&s->comm[i]);
    free(s->comm);
    free(s);
    b->state = NULL;
}

static void *mpi_comm(const hg_backend_rank *b, int slot)
{
    mpi_state *s = b->state;
    return s && slot >= 0 && slot < s->nslots ? &s->comm[slot] : NULL;
}

const hg_backend_ops hg_backend_mpi_ops = {
    .prewarm = NULL,
    .bind = NULL,
    .world = mpi_world,
    .groups = mpi_groups,
    .allreduce = mpi_allreduce,
    .shape = mpi_shape,
    .release = mpi_release,
    .comm = mpi_comm,
    .link_start = mpi_link_start,
    .link_poll = mpi_link_poll,
    .link_stop = mpi_link_stop,
    .bcast = mpi_bcast,
};
