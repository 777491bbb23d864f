/* bare_nccl: the floor for scripts/bench-ready. The least a program can do to have the
 * same communicators as hgrid, written plainly the way nccl-tests does it: MPI_Init,
 * GPU = local rank, NCCL world (blocking), one ncclCommSplit per kind that some rank
 * needs (identical memberships shared, as hgrid does; --per-kind: one per kind), one
 * all-reduce per communicator. No deadlines, no verification of sizes, no readiness
 * exchange, no handoff. --nonblocking: the same with blocking = 0, each call polled to
 * completion (what hgrid does, to bound init by a deadline), to price that alone. The groups come from libhgrid_core, before anything is timed
 * but the config read.
 *
 *   mpirun -np N bare_nccl CONFIG [--per-kind] [--nonblocking]
 *   bare_nccl --plan CONFIG     (no MPI: the layout as plan JSON, for bench_torch.py)
 * Rank 0 prints: bare: N ranks ready in S s (mpi_init a, gpu b, world c, groups d,
 * verify e; K communicators/rank), where each figure is the slowest rank's. */
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "layout.h"
#include "plan.h"

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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Polls until the communicator settles. Always: a non-blocking ncclCommSplit can return
 * ncclSuccess while its job still runs (blocking calls are settled at once). comm is read
 * after the call has filled it. */
static ncclResult_t settle(ncclResult_t r, const ncclComm_t *comm)
{
    if (r != ncclSuccess && r != ncclInProgress)
        return r;
    do {
        if (ncclCommGetAsyncError(*comm, &r) != ncclSuccess)
            return ncclInternalError;
    } while (r == ncclInProgress);
    return r;
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
        && hg_layout_build(cfg, 0, &layout, d) == 0 && hg_plan_write_json(layout, stdout, NULL) == 0)
        rc = 0;
    hg_diags_print(d, stderr);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(bytes);
    return rc;
}

int main(int argc, char **argv)
{
    double t0 = now(), t[6];
    int rank, world, local, per_kind = 0, nonblocking = 0;
    for (int i = 2; i < argc; i++) {
        per_kind |= strcmp(argv[i], "--per-kind") == 0;
        nonblocking |= strcmp(argv[i], "--nonblocking") == 0;
    }
    MPI_Comm node;
    if (argc < 2) {
        fprintf(stderr, "usage: bare_nccl CONFIG [--per-kind] | bare_nccl --plan CONFIG\n");
        return 2;
    }
    if (strcmp(argv[1], "--plan") == 0 && argc == 3)
        return dump_plan(argv[2]);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    t[0] = now();

    /* The plan (not the point of this program). */
    char *bytes;
    size_t len;
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_rank_view plan;
    hg_diags *d = hg_diags_new(argv[1]);
    if (hg_config_read_file(argv[1], &bytes, &len, d) != 0 || hg_config_parse(bytes, len, &cfg, d) != 0
        || hg_layout_build(cfg, 0, &layout, d) != 0 || hg_layout_world_size(layout) != world
        || hg_rank_view_build(layout, rank, &plan, NULL) != 0) {
        hg_diags_print(d, stderr);
        fprintf(stderr, "bare: bad config or world size\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    CUDA(cudaSetDevice(local));
    CUDA(cudaFree(NULL));
    t[1] = now();

    ncclUniqueId id;
    ncclComm_t comms[HG_KIND_COUNT + 1];
    int owner[HG_KIND_COUNT + 1]; /* the kind whose group each comm is; -1: world */
    int n = 0;
    if (rank == 0)
        NCCL(ncclGetUniqueId(&id));
    MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.splitShare = 1;
    config.blocking = !nonblocking;
    NCCL(settle(ncclCommInitRankConfig(&comms[n], world, id, rank, &config), &comms[n]));
    owner[n++] = -1;
    t[2] = now();

    /* Which kinds make a new communicator here, and which anywhere. */
    unsigned mine = 0, any = 0;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &plan.groups[k];
        int shared = g->index < 0 || (!per_kind && g->size == world);
        for (int j = 0; !per_kind && !shared && j < k; j++)
            shared = (mine & (1u << j)) && plan.groups[j].size == g->size
                     && memcmp(plan.groups[j].members, g->members, sizeof(int) * (size_t)g->size) == 0;
        if (!shared)
            mine |= 1u << k;
    }
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED, MPI_BOR, MPI_COMM_WORLD);
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        if (!(any & (1u << k)))
            continue;
        int color = (mine & (1u << k)) ? plan.groups[k].members[0] : NCCL_SPLIT_NOCOLOR;
        ncclComm_t c = NULL;
        NCCL(settle(ncclCommSplit(comms[0], color, color < 0 ? 0 : plan.groups[k].pos, &c, &config),
                    &comms[0]));
        if (c)
            NCCL(settle(ncclInProgress, &c));
        if (c) {
            owner[n] = k;
            comms[n++] = c;
        }
    }
    t[3] = now();

    long long *buf;
    long long contrib = rank + 1, sums[HG_KIND_COUNT + 1];
    cudaStream_t stream;
    CUDA(cudaMalloc((void **)&buf, sizeof(long long) * (size_t)(n + 1)));
    CUDA(cudaStreamCreate(&stream));
    CUDA(cudaMemcpy(buf, &contrib, sizeof(contrib), cudaMemcpyHostToDevice));
    for (int i = 0; i < n; i++) {
        NCCL(settle(ncclAllReduce(buf, buf + 1 + i, 1, ncclInt64, ncclSum, comms[i], stream), &comms[i]));
        CUDA(cudaStreamSynchronize(stream));
    }
    CUDA(cudaMemcpy(sums, buf + 1, sizeof(long long) * (size_t)n, cudaMemcpyDeviceToHost));
    t[4] = now();

    int wrong = 0;
    for (int i = 0; i < n; i++) {
        long long want = 0;
        if (owner[i] < 0)
            want = (long long)world * (world + 1) / 2;
        else
            for (int j = 0; j < plan.groups[owner[i]].size; j++)
                want += plan.groups[owner[i]].members[j] + 1;
        wrong |= sums[i] != want;
    }
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

    for (int i = n - 1; i >= 0; i--)
        ncclCommDestroy(comms[i]);
    cudaStreamDestroy(stream);
    cudaFree(buf);
    hg_rank_view_free(&plan);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    free(bytes);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return bad ? 1 : 0;
}
