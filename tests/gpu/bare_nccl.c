/* bare_nccl: the floor for scripts/bench-ready. The same communicators as hgrid, built
 * the same way, by a plain program that does nothing else (issue 12: the floor must be
 * the best NCCL allows for the same groups, or "hgrid / floor" measures the floor).
 *
 * What the floor does, each as hgrid-agent does it (agent/backend_nccl.c, agent.c):
 *   - the CUDA context of its GPU is created in a thread while MPI_Init runs (the
 *     launcher's local-rank hints, common/util/gpu_choice.h's rule), joined after it;
 *   - the layout from libhgrid_core, read and built on every rank;
 *   - which communicators: common/grid/groups.c itself (linked below, so the rule has one
 *     home): one per distinct membership, a group equal to the world or to an earlier
 *     group shares it (--per-kind: one per (module, kind)), colocated modules too; one
 *     MPI_Allreduce tells every rank at which split positions anyone needs one (hgrid's
 *     first agreement round carries the same bits);
 *   - the ncclConfig_t of comm_config(): blocking = 0, splitShare = 1; the world by
 *     ncclCommInitRankConfig, then one ncclCommSplit of the world per such position in
 *     order, each polled to completion (the world, then the child) before the next,
 *     with hgrid's backoff (a few sched_yield, then 0.1 ms, later 1 ms sleeps), which
 *     leaves the core to NCCL's own threads: under mpirun a rank is often bound to one;
 *   - verify: one int64 all-reduce (rank + 1) per communicator, each on its own
 *     non-blocking stream, one at a time: the call polled until enqueued (the first
 *     collective connects the peers), then cudaStreamQuery with the same backoff; the
 *     sums compared with the layout's, ncclCommCount/ncclCommUserRank read.
 *
 * What hgrid does beyond this, and so the difference that remains (its cost, not the
 * floor's): MPI_Comm_dup of the world with MPI_ERRORS_RETURN; rank 0 alone reads the
 * config and broadcasts it (two MPI_Bcast); three more agreement rounds (an
 * MPI_Allreduce after gpu, world and groups, so one rank's failure stops every rank
 * at once); the GPU identity check (cudaGetDeviceProperties and an MPI_Allgather over
 * the host's ranks, so no two share a GPU); the PROGRAM check; the watchdog thread; a
 * deadline test in every poll, and ncclCommAbort on expiry; the GPU memory read around
 * each phase; and readiness: every rank's record gathered at rank 0, the summary, the
 * go broadcast. The floor compares with agent.preflight: full (the default), and uses
 * one NCCL bootstrap root, as hgrid does below agent.nccl_ranks_per_root ranks (above
 * it hgrid spreads the bootstrap with ncclCommInitRankScalable). hgrid's "ready in"
 * is rank 0's time at the go decision, after the gather (so the slowest rank's time
 * plus that exchange); the floor's is the slowest rank's own, reduced after the clock
 * stops. The wall times (whole mpirun) include everything on both sides.
 *
 * Variants, to explain differences, not floors:
 *   --naive       the previous floor: no CUDA start during MPI_Init (cudaSetDevice and
 *                 cudaFree(0) after it), blocking communicators, all verification
 *                 all-reduces on one blocking stream with cudaStreamSynchronize after
 *                 each (which spins by default), busy polling; the same communicators
 *                 (common/grid/groups.c) as the floor. Its figures against the floor's price
 *                 those choices; issue 12 measured it at 2.1x hgrid on 2 GPUs.
 *   --nonblocking with --naive: the same with blocking = 0, polled without backoff
 *                 (the old "bare-nb"). Without --naive it changes nothing: the floor
 *                 is non-blocking already, as hgrid is.
 *   --blocking    the floor with blocking = 1: NCCL's calls return when done, no
 *                 polling; against the floor it prices non-blocking init by itself.
 *
 *   mpirun -np N bare_nccl CONFIG [--per-kind] [--naive [--nonblocking] | --blocking]
 *   bare_nccl --plan CONFIG     (no MPI: the layout as plan JSON, for bench_torch.py)
 * Rank 0 prints: bare: N ranks ready in S s (mpi_init a, gpu b, world c, groups d,
 * verify e; K communicators/rank), where each figure is the slowest rank's; mpi_init
 * is MPI_Init through the split positions' MPI_Allreduce (hgrid's "bootstrap"). */
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grid/config.h"
#include "util/gpu_choice.h"
#include "util/intparse.h"
#include "grid/layout.h"
#include "grid/plan.h"

/* hgrid's own rule of which communicators a rank builds (common/grid/groups.h, in
 * libhgrid_core), so the floor cannot drift from it. */
#include "grid/groups.h"
/* hgrid's clock and polling pause (hg_now, hg_backoff), the same as the agent's. */
#include "util/clock.h"

#define CUDA(call)                                                                       \
    do {                                                                                 \
        cudaError_t e_ = (call);                                                         \
        if (e_ != cudaSuccess) {                                                         \
            fprintf(stderr, "bare: %s: %s\n", #call, cudaGetErrorString(e_));            \
            MPI_Abort(MPI_COMM_WORLD, 3);                                                \
        }                                                                                \
    } while (0)
#define NCCL(call)                                                                       \
    do {                                                                                 \
        ncclResult_t r_ = (call);                                                        \
        if (r_ != ncclSuccess) {                                                         \
            fprintf(stderr, "bare: %s: %s\n", #call, ncclGetErrorString(r_));            \
            MPI_Abort(MPI_COMM_WORLD, 3);                                                \
        }                                                                                \
    } while (0)

typedef struct opts {
    int per_kind, naive, nonblocking, blocking;
} opts;

/* Polls until the communicator's last operation settles (a blocking one is settled
 * already); busy = 1: without backoff, as the naive variant did. A non-blocking
 * ncclCommSplit can return ncclSuccess while its job still runs, so poll always. comm
 * is a pointer, read after the call (an argument beside it) has filled it. */
static ncclResult_t settle(ncclResult_t r, const ncclComm_t *comm, int busy)
{
    unsigned spins = 0;
    if (r != ncclSuccess && r != ncclInProgress)
        return r;
    for (;;) {
        if (ncclCommGetAsyncError(*comm, &r) != ncclSuccess)
            return ncclInternalError;
        if (r != ncclInProgress)
            return r;
        if (!busy)
            hg_backoff(&spins);
    }
}

/* The CUDA context of the GPU the launcher's hints choose, made while MPI_Init runs
 * (agent/backend_nccl.c's prewarm: the same hints, the same rule, silent). */
typedef struct prewarm {
    pthread_t thread;
    int started, local_rank, local_size;
} prewarm;

static void *prewarm_main(void *arg)
{
    const prewarm *p = arg;
    hg_gpu_view v = { .rank = -1, .host = "", .local_rank = p->local_rank,
                      .local_size = p->local_size > p->local_rank ? p->local_size : p->local_rank + 1 };
    int device = -1;
    if (cudaGetDeviceCount(&v.visible) == cudaSuccess && hg_gpu_choose(&v, &device, NULL) == 0
        && cudaSetDevice(device) == cudaSuccess)
        (void)cudaFree(NULL);
    return NULL;
}

static int env_hint(const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        int r = hg_int_env(names[i], 1023);
        if (r >= 0)
            return r;
    }
    return -1;
}

static void prewarm_start(prewarm *p)
{
    static const char *const ranks[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                         "MPI_LOCALRANKID", NULL };
    static const char *const sizes[] = { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", NULL };
    p->started = 0;
    p->local_rank = env_hint(ranks);
    p->local_size = env_hint(sizes);
    if (p->local_rank >= 0 && pthread_create(&p->thread, NULL, prewarm_main, p) == 0)
        p->started = 1;
}

static int dump_plan(const char *path)
{
    char *bytes = NULL;
    size_t len;
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_diags *d = hg_diags_new(path);
    int rc = 1;
    if (hg_config_read_file(path, &bytes, &len, d) == 0 && hg_config_parse(bytes, len, &cfg, d) == 0
        && hg_layout_build(cfg, 0, &layout, d) == 0 && hg_plan_write_json_named(layout, NULL, stdout, NULL) == 0)
        rc = 0;
    hg_diags_print(d, stderr);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(bytes);
    return rc;
}

/* The floor's verification: hgrid's (nccl_allreduce), one stream per communicator. */
static void verify_floor(ncclComm_t *comms, int n, long long mine, long long *sums, int busy)
{
    long long *dev;
    cudaStream_t *stream = calloc((size_t)n, sizeof(*stream));
    if (!stream)
        MPI_Abort(MPI_COMM_WORLD, 3);
    CUDA(cudaMalloc((void **)&dev, sizeof(long long) * (size_t)(n + 1)));
    for (int i = 0; i < n; i++)
        CUDA(cudaStreamCreateWithFlags(&stream[i], cudaStreamNonBlocking));
    /* Landed before any all-reduce reads it: non-blocking streams do not wait for the
     * legacy one, and a copy from pageable memory may return before its DMA. */
    CUDA(cudaMemcpyAsync(dev, &mine, sizeof(mine), cudaMemcpyHostToDevice, stream[0]));
    CUDA(cudaStreamSynchronize(stream[0]));
    for (int i = 0; i < n; i++) {
        cudaError_t e;
        unsigned spins = 0;
        NCCL(settle(ncclAllReduce(dev, dev + 1 + i, 1, ncclInt64, ncclSum, comms[i], stream[i]),
                    &comms[i], busy));
        while ((e = cudaStreamQuery(stream[i])) == cudaErrorNotReady)
            if (!busy)
                hg_backoff(&spins);
        CUDA(e);
    }
    CUDA(cudaMemcpy(sums, dev + 1, sizeof(long long) * (size_t)n, cudaMemcpyDeviceToHost));
    for (int i = 0; i < n; i++)
        cudaStreamDestroy(stream[i]);
    cudaFree(dev);
    free(stream);
}

/* The naive variant's: one blocking stream, a synchronize after each all-reduce. */
static void verify_naive(ncclComm_t *comms, int n, long long mine, long long *sums, int busy)
{
    long long *dev;
    cudaStream_t stream;
    CUDA(cudaMalloc((void **)&dev, sizeof(long long) * (size_t)(n + 1)));
    CUDA(cudaStreamCreate(&stream));
    CUDA(cudaMemcpy(dev, &mine, sizeof(mine), cudaMemcpyHostToDevice));
    for (int i = 0; i < n; i++) {
        NCCL(settle(ncclAllReduce(dev, dev + 1 + i, 1, ncclInt64, ncclSum, comms[i], stream),
                    &comms[i], busy));
        CUDA(cudaStreamSynchronize(stream));
    }
    CUDA(cudaMemcpy(sums, dev + 1, sizeof(long long) * (size_t)n, cudaMemcpyDeviceToHost));
    cudaStreamDestroy(stream);
    cudaFree(dev);
}

/* The sum of rank + 1 over slot's members, and whether NCCL agrees on its shape. */
static int slot_wrong(const hg_comm_set *cs, const hg_rank_view *plan, ncclComm_t comm, int slot,
                      long long sum)
{
    const hg_rank_group *g = slot == HG_SLOT_WORLD ? NULL
                             : hg_comm_set_slot_group(cs, slot);
    long long want = 0;
    int size = g ? g->size : plan->world_size, pos = g ? g->pos : plan->rank, count = -1, me = -1;
    if (!g)
        want = (long long)size * (size + 1) / 2;
    for (int j = 0; g && j < g->size; j++)
        want += g->members[j] + 1;
    NCCL(ncclCommCount(comm, &count));
    NCCL(ncclCommUserRank(comm, &me));
    return sum != want || count != size || me != pos;
}

int main(int argc, char **argv)
{
    double t0 = hg_now(), t[5];
    int rank, world, local, local_size;
    opts o = { 0, 0, 0, 0 };
    prewarm pw = { .started = 0 };
    if (argc == 3 && strcmp(argv[1], "--plan") == 0)
        return dump_plan(argv[2]);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--per-kind") == 0)
            o.per_kind = 1;
        else if (strcmp(argv[i], "--naive") == 0)
            o.naive = 1;
        else if (strcmp(argv[i], "--nonblocking") == 0)
            o.nonblocking = 1;
        else if (strcmp(argv[i], "--blocking") == 0)
            o.blocking = 1;
        else
            argc = 0; /* usage below */
    }
    if (argc < 2 || argv[1][0] == '-' || (o.naive && o.blocking)) {
        fprintf(stderr, "usage: bare_nccl CONFIG [--per-kind] [--naive [--nonblocking] | --blocking]\n"
                        "       bare_nccl --plan CONFIG\n");
        return 2;
    }
    int busy = o.naive, blocking = o.naive ? !o.nonblocking : o.blocking;

    if (!o.naive)
        prewarm_start(&pw);
    MPI_Init(&argc, &argv);
    MPI_Comm node;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_size(node, &local_size);

    /* The layout, this rank's view and its communicator set. */
    char *bytes = NULL;
    size_t len;
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_rank_view plan;
    hg_comm_set cs;
    hg_diags *d = hg_diags_new(argv[1]);
    if (hg_config_read_file(argv[1], &bytes, &len, d) != 0 || hg_config_parse(bytes, len, &cfg, d) != 0
        || hg_layout_build(cfg, 0, &layout, d) != 0 || hg_layout_world_size(layout) != world
        || hg_rank_view_build(layout, rank, &plan, NULL) != 0
        || hg_comm_set_build(&plan, !o.per_kind, &cs, NULL) != 0) {
        hg_diags_print(d, stderr);
        fprintf(stderr, "bare: bad config or world size\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* Which split positions any rank needs (words: the same count on every rank). */
    MPI_Allreduce(cs.creates, cs.splits, cs.nwords, MPI_UNSIGNED, MPI_BOR, MPI_COMM_WORLD);
    t[0] = hg_now();

    /* The GPU: the rule hgrid's bind applies, on this thread (the device is per
     * thread; the prewarm's context is the device's primary one, so this is cheap). */
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    hg_gpu_view v = { .rank = rank, .host = host, .local_rank = local, .local_size = local_size,
                      .visible_env = getenv("CUDA_VISIBLE_DEVICES") };
    hg_error gerr;
    int device = -1;
    hg_error_clear(&gerr);
    if (pw.started)
        pthread_join(pw.thread, NULL);
    CUDA(cudaGetDeviceCount(&v.visible));
    if (hg_gpu_choose(&v, &device, &gerr) != 0) {
        fprintf(stderr, "bare: %s\n", gerr.msg);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }
    CUDA(cudaSetDevice(device));
    CUDA(cudaFree(NULL));
    t[1] = hg_now();

    ncclComm_t *comms = calloc((size_t)cs.nslots, sizeof(*comms));
    ncclUniqueId id;
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.splitShare = 1;
    config.blocking = blocking;
    if (!comms)
        MPI_Abort(MPI_COMM_WORLD, 3);
    if (rank == 0)
        NCCL(ncclGetUniqueId(&id));
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    NCCL(settle(ncclCommInitRankConfig(&comms[HG_SLOT_WORLD], world, id, rank, &config),
                &comms[HG_SLOT_WORLD], busy));
    t[2] = hg_now();

    for (int p = 0; p < cs.nsplits; p++) {
        if (!hg_comm_set_split_needed(&cs, p))
            continue;
        int color = hg_comm_set_color(&cs, p);
        ncclComm_t c = NULL;
        ncclConfig_t cfg_split = config;
        /* The split is a job of the world: it settles first, on colorless ranks too. */
        NCCL(settle(ncclCommSplit(comms[HG_SLOT_WORLD], color < 0 ? NCCL_SPLIT_NOCOLOR : color,
                                  hg_comm_set_key(&cs, p), &c, &cfg_split),
                    &comms[HG_SLOT_WORLD], busy));
        if (color < 0) {
            if (c)
                ncclCommAbort(c);
            continue;
        }
        if (!c) {
            fprintf(stderr, "bare: rank %d: ncclCommSplit at position %d made no communicator\n",
                    rank, p);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
        NCCL(settle(ncclInProgress, &c, busy));
        comms[hg_comm_set_split_slot(&cs, p)] = c;
    }
    t[3] = hg_now();

    int n = cs.nslots, wrong = 0;
    long long *sums = calloc((size_t)n, sizeof(*sums));
    if (!sums)
        MPI_Abort(MPI_COMM_WORLD, 3);
    if (o.naive)
        verify_naive(comms, n, (long long)rank + 1, sums, busy);
    else
        verify_floor(comms, n, (long long)rank + 1, sums, busy);
    for (int i = 0; i < n; i++)
        wrong |= slot_wrong(&cs, &plan, comms[i], i, sums[i]);
    t[4] = hg_now();

    double phase[6] = { t[0] - t0, t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], t[4] - t0 };
    double worst[6];
    int nmax = 0, bad = 0;
    MPI_Reduce(phase, worst, 6, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&n, &nmax, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&wrong, &bad, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("bare: %d ranks ready in %.3f s (mpi_init %.3f, gpu %.3f, world %.3f, groups %.3f, "
               "verify %.3f; %d communicators/rank)%s\n",
               world, worst[5], worst[0], worst[1], worst[2], worst[3], worst[4], nmax,
               bad ? " WRONG SUMS" : "");

    /* Children before the world they share resources with; a non-blocking
     * communicator is finalized (and that polled) before it is destroyed. */
    for (int i = n - 1; i >= 0; i--) {
        if (!comms[i])
            continue;
        if (settle(ncclCommFinalize(comms[i]), &comms[i], 0) == ncclSuccess)
            ncclCommDestroy(comms[i]);
        else
            ncclCommAbort(comms[i]);
    }
    free(sums);
    free(comms);
    hg_comm_set_free(&cs);
    hg_rank_view_free(&plan);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(bytes);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return bad ? 1 : 0;
}
