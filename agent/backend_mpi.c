/* The MPI backend: the same groups as the NCCL backend, as MPI communicators, for
 * machines without GPUs (CI) and for CPU-side groups. Not a mock: the world is a
 * duplicate of MPI_COMM_WORLD, every distinct group an MPI_Comm_split of it in hg_kind
 * order (MPI_UNDEFINED where this rank makes nothing), verified with MPI_Allreduce.
 * All of them return errors (MPI_ERRORS_RETURN) rather than abort the job. MPI calls
 * cannot be bounded by a deadline; the watchdog bounds them instead. */
#include "backend.h"

#include <stdlib.h>

typedef struct mpi_state {
    MPI_Comm comm[HG_MAX_SLOTS];
} mpi_state;

static mpi_state *state(hg_backend_rank *b)
{
    if (!b->state) {
        mpi_state *s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        for (int i = 0; i < HG_MAX_SLOTS; i++)
            s->comm[i] = MPI_COMM_NULL;
        b->state = s;
    }
    return b->state;
}

static int mpi_world(hg_backend_rank *b, hg_error *err)
{
    mpi_state *s = state(b);
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

static int mpi_groups(hg_backend_rank *b, hg_error *err)
{
    mpi_state *s = b->state;
    const hg_comm_set *cs = b->comms;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        if (!(cs->splits & (1u << k)))
            continue;
        int color = hg_comm_set_color(cs, b->view, (hg_kind)k);
        int key = color < 0 ? 0 : b->view->groups[k].pos;
        MPI_Comm c = MPI_COMM_NULL;
        int mrc = MPI_Comm_split(s->comm[HG_SLOT_WORLD], color < 0 ? MPI_UNDEFINED : color, key, &c);
        if (mrc != MPI_SUCCESS) {
            char what[256], call[320];
            hg_group_describe(b->view, k, what, sizeof(what));
            snprintf(call, sizeof(call), "MPI_Comm_split for %s", what);
            return hg_mpi_fail(err, mrc, b->rank, call);
        }
        if (color >= 0)
            s->comm[cs->slot[k]] = c;
    }
    return 0;
}

static int mpi_allreduce(hg_backend_rank *b, long long mine, long long *sums, hg_error *err)
{
    mpi_state *s = b->state;
    /* Slots were made in hg_kind order on every member, so every rank meets its
     * communicators in one global order and the blocking all-reduces cannot deadlock. */
    for (int i = 0; i < b->comms->nslots; i++) {
        int mrc = MPI_Allreduce(&mine, &sums[i], 1, MPI_LONG_LONG, MPI_SUM, s->comm[i]);
        if (mrc != MPI_SUCCESS) {
            char what[256], call[320];
            hg_group_describe(b->view, b->comms->slot_kind[i], what, sizeof(what));
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

static void mpi_release(hg_backend_rank *b, int abort)
{
    mpi_state *s = b->state;
    (void)abort; /* MPI_Comm_free does not wait for peers */
    if (!s)
        return;
    for (int i = HG_MAX_SLOTS - 1; i >= 0; i--)
        if (s->comm[i] != MPI_COMM_NULL)
            MPI_Comm_free(&s->comm[i]);
    free(s);
    b->state = NULL;
}

static void *mpi_comm(const hg_backend_rank *b, int slot)
{
    mpi_state *s = b->state;
    return s && slot >= 0 && slot < HG_MAX_SLOTS ? &s->comm[slot] : NULL;
}

const hg_backend_ops hg_backend_mpi_ops = {
    .bind = NULL,
    .world = mpi_world,
    .groups = mpi_groups,
    .allreduce = mpi_allreduce,
    .shape = mpi_shape,
    .release = mpi_release,
    .comm = mpi_comm,
};
