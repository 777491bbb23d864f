/* Example in-process trainer: links libhgrid, calls hg_init() (the agent's whole
 * pre-flight), then does one real all-reduce on every group kind of its rank, through
 * the communicator hg_ctx hands out for that kind, and checks the result against the
 * plan: each rank adds rank + 1, so the sum over the plan's members is known. Prints one
 * line per kind; exits non-zero on any mismatch.
 *
 *   mpirun -np 8 hgrid-example-trainer [--backend nccl|mpi] [--timeout S] CONFIG
 *   mpirun -np 8 hgrid-agent --in-process CONFIG -- hgrid-example-trainer
 *
 * Without CONFIG it takes HGRID_CONFIG (and the other HGRID_* options) from the
 * environment, as hgrid-agent --in-process sets them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hgrid.h"

#ifdef HG_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#include <sched.h>

/* One all-reduce of one int64 on a non-blocking NCCL communicator. */
static int allreduce_nccl(ncclComm_t comm, long long mine, long long *sum)
{
    long long *dev = NULL;
    cudaStream_t stream = NULL;
    ncclResult_t r, st = ncclInProgress;
    int rc = -1;
    if (cudaMalloc((void **)&dev, 2 * sizeof(long long)) != cudaSuccess
        || cudaStreamCreate(&stream) != cudaSuccess
        || cudaMemcpy(dev, &mine, sizeof(mine), cudaMemcpyHostToDevice) != cudaSuccess)
        goto out;
    r = ncclAllReduce(dev, dev + 1, 1, ncclInt64, ncclSum, comm, stream);
    if (r != ncclSuccess && r != ncclInProgress) {
        fprintf(stderr, "trainer: ncclAllReduce: %s\n", ncclGetErrorString(r));
        goto out;
    }
    /* hgrid's communicators are non-blocking: wait for the call to be enqueued. */
    while (ncclCommGetAsyncError(comm, &st) == ncclSuccess && st == ncclInProgress)
        sched_yield();
    if (st != ncclSuccess) {
        fprintf(stderr, "trainer: ncclAllReduce: %s\n", ncclGetErrorString(st));
        goto out;
    }
    if (cudaStreamSynchronize(stream) != cudaSuccess
        || cudaMemcpy(sum, dev + 1, sizeof(*sum), cudaMemcpyDeviceToHost) != cudaSuccess)
        goto out;
    rc = 0;
out:
    if (stream)
        cudaStreamDestroy(stream);
    cudaFree(dev);
    return rc;
}
#endif

/* One all-reduce on module m's communicator of a kind (colocated layouts hold every
 * module on every rank; disjoint ones have m = 0 only). */
static int allreduce(const hg_ctx *ctx, int m, hg_kind kind, long long mine, long long *sum,
                     int *member)
{
    *member = 0;
#ifdef HG_HAVE_NCCL
    if (hg_ctx_backend(ctx) == HG_BACKEND_NCCL) {
        ncclComm_t c = hg_ctx_module_nccl_comm(ctx, m, kind);
        if (!c)
            return 0;
        *member = 1;
        return allreduce_nccl(c, mine, sum);
    }
#endif
    MPI_Comm c = hg_ctx_module_mpi_comm(ctx, m, kind);
    if (c == MPI_COMM_NULL)
        return 0;
    *member = 1;
    return MPI_Allreduce(&mine, sum, 1, MPI_LONG_LONG, MPI_SUM, c) == MPI_SUCCESS ? 0 : -1;
}

/* One all-reduce on the rank's bridge i's own group (a leader's; *member 0 otherwise). */
static int allreduce_bridge(const hg_ctx *ctx, int i, long long mine, long long *sum, int *member)
{
    *member = 0;
#ifdef HG_HAVE_NCCL
    if (hg_ctx_backend(ctx) == HG_BACKEND_NCCL) {
        ncclComm_t c = hg_ctx_bridge_nccl_comm(ctx, i);
        if (!c)
            return 0;
        *member = 1;
        return allreduce_nccl(c, mine, sum);
    }
#endif
    MPI_Comm c = hg_ctx_bridge_mpi_comm(ctx, i);
    if (c == MPI_COMM_NULL)
        return 0;
    *member = 1;
    return MPI_Allreduce(&mine, sum, 1, MPI_LONG_LONG, MPI_SUM, c) == MPI_SUCCESS ? 0 : -1;
}

/* Each member adds its rank + 1: the sum over the group's members, as hgrid says they are. */
static long long expected(const hg_ctx *ctx, int m, hg_kind kind)
{
    int n = hg_ctx_module_group(ctx, m, kind, NULL, 0);
    int *members = n > 0 ? malloc((size_t)n * sizeof(*members)) : NULL;
    long long sum = 0;
    if (n > 0 && !members)
        return -1;
    hg_ctx_module_group(ctx, m, kind, members, n);
    for (int i = 0; i < n; i++)
        sum += members[i] + 1;
    free(members);
    return sum;
}

int main(int argc, char **argv)
{
    hg_init_opts o = HG_INIT_OPTS_INIT;
    hg_ctx *ctx = NULL;
    hg_error err;
    int rc, bad = 0;

    hg_init_opts_from_env(&o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            i++;
            o.backend = strcmp(argv[i], "mpi") == 0 ? HG_BACKEND_MPI
                        : strcmp(argv[i], "nccl") == 0 ? HG_BACKEND_NCCL : (hg_backend)-2;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            o.timeout_s = atoi(argv[++i]);
        } else if (argv[i][0] != '-') {
            o.config = argv[i];
        } else {
            fprintf(stderr, "usage: %s [--backend nccl|mpi] [--timeout S] [CONFIG]\n", argv[0]);
            return 2;
        }
    }
    hg_error_clear(&err);
    if ((rc = hg_init(&o, &ctx, &err)) != 0) {
        fprintf(stderr, "trainer: %s\n", err.msg);
        if (err.line > 0) /* a config error: where in the YAML */
            fprintf(stderr, "trainer: %s:%d:%d: the first error\n", err.file, err.line, err.col);
        return hg_exit_status(rc);
    }

    int rank = hg_ctx_rank(ctx);
    for (int m = 0; m < hg_ctx_module_count(ctx); m++) {
        const char *module = hg_ctx_module_name(ctx, m);
        int language = strcmp(module, hg_ctx_module(ctx)) == 0 && hg_ctx_role(ctx) == HG_ROLE_LANGUAGE;
        /* Every kind this library knows, then the world. */
        for (int i = 0; i <= hg_kind_count(); i++) {
            hg_kind k = i < hg_kind_count() ? (hg_kind)i : HG_KIND_WORLD;
            const char *name = hg_kind_name(k);
            long long sum = 0, want = expected(ctx, m, k);
            int member = 0;
            /* The embedding groups exist in the language module only. */
            if ((k == HG_KIND_EMBD || k == HG_KIND_POS_EMBD) && !language)
                continue;
            int in_plan = hg_ctx_module_group(ctx, m, k, NULL, 0) > 0;
            if (allreduce(ctx, m, k, (long long)rank + 1, &sum, &member) != 0) {
                printf("trainer: rank %d %s %s: all-reduce failed\n", rank, module, name);
                bad = 1;
            } else if (member != in_plan) {
                printf("trainer: rank %d %s %s: %s communicator, but the plan says %s\n", rank,
                       module, name, member ? "has a" : "no", in_plan ? "member" : "not a member");
                bad = 1;
            } else if (!member) {
                printf("trainer: rank %d %s %s: not a member\n", rank, module, name);
            } else {
                printf("trainer: rank %d %s %s: sum %lld expected %lld %s\n", rank, module, name,
                       sum, want, sum == want ? "ok" : "MISMATCH");
                bad |= sum != want;
            }
        }
    }
    /* The bridges this rank takes part in, as pre-flight proved them. */
    for (int i = 0; i < hg_ctx_bridge_count(ctx); i++) {
        hg_bridge_info b = HG_BRIDGE_INFO_INIT;
        if (hg_ctx_bridge(ctx, i, &b) != 0) {
            bad = 1;
            continue;
        }
        printf("trainer: rank %d bridge %s -> %s: %s, leader %d, peers [", rank, b.src, b.dest,
               b.role == HG_BRIDGE_SENDER ? "sender" : b.role == HG_BRIDGE_RECEIVER ? "receiver"
                                                                                : "member",
               b.leader);
        for (int j = 0; j < b.npeers; j++)
            printf("%s%d", j ? ", " : "", b.peers[j]);
        printf("], broadcast [");
        for (int j = 0; j < b.nbroadcast; j++)
            printf("%s%d", j ? ", " : "", b.broadcast[j]);
        printf("]\n");
    }
    /* A leader's bridges' own groups (Megatron's bridge_pg), in bridge order, which is
     * every leader's: each all-reduces to the sum over the members hgrid names. */
    for (int i = 0; i < hg_ctx_bridge_count(ctx); i++) {
        hg_bridge_info b = HG_BRIDGE_INFO_INIT;
        long long sum = -1, want = 0;
        int member = 0;
        if (hg_ctx_bridge(ctx, i, &b) != 0 || b.role == HG_BRIDGE_MEMBER)
            continue;
        if (allreduce_bridge(ctx, i, rank + 1, &sum, &member) != 0 || !member) {
            printf("trainer: rank %d bridge_group %s -> %s: no communicator\n", rank, b.src, b.dest);
            bad = 1;
            continue;
        }
        printf("trainer: rank %d bridge_group %s -> %s [", rank, b.src, b.dest);
        for (int j = 0; j < b.ngroup; j++) {
            printf("%s%d", j ? ", " : "", b.group[j]);
            want += b.group[j] + 1;
        }
        printf("]: sum %lld expected %lld %s\n", sum, want, sum == want ? "ok" : "MISMATCH");
        bad |= sum != want;
    }
    printf("trainer: rank %d done: %d communicators, %s\n", rank, hg_ctx_communicators(ctx),
           bad ? "FAILED" : "all kinds ok");
    hg_finalize(ctx);
    return bad;
}
