/* The NCCL backend: GPU binding (common/util/gpu_choice.h's rules, then a check over the
 * host's ranks that no two share a GPU), the world communicator and one ncclCommSplit
 * per split position (kind, then each bridge's own group) where some rank needs a new
 * group, every rank of the world calling each (NCCL_SPLIT_NOCOLOR where it is in no
 * new group), verified with one all-reduce per communicator.
 *
 * Every communicator is non-blocking (ncclConfig_t.blocking = 0): each call returns at
 * once and the agent polls ncclCommGetAsyncError until it settles or the readiness
 * deadline passes, then aborts the communicator (ncclCommAbort) and names the rank, the
 * kind and the members in its error. That is what bounds NCCL init, where a blocking
 * call would wait forever for a peer that never comes.
 *
 * Calls are made one at a time and each waits for the last: splits share the world's
 * bootstrap and resources (splitShare = 1), so overlapping them is not safe, and all
 * ranks issue them in split order (groups.h), so the verification all-reduces (one
 * CUDA stream per communicator) can never wait on each other in a cycle. */
#include "backend.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/gpu_choice.h"
#include "util/intparse.h"

typedef struct nccl_state {
    /* prewarm(): a GPU context made while MPI_Init runs, so CUDA's start-up cost
     * overlaps MPI's instead of following it; on the launcher's local rank and size
     * hints (-1: not given); joined by bind() or release(). */
    pthread_t prewarm;
    int prewarm_started;
    int hint_local_rank, hint_local_size;
    int roots;              /* world(): the bootstrap roots it used */
    int nslots;
    ncclComm_t *comm;       /* [nslots] */
    cudaStream_t *stream;   /* [nslots] */
    long long *dev; /* [0]: this rank's contribution; [1 + s]: slot s's sum */
    int device;
    /* Bridges (link_start, bcast): one stream; link i's values at link_dev[i * W] (out)
     * and link_dev[(n + i) * W] (in), W = HG_LINK_WORDS; one event per link. */
    cudaStream_t bridge_stream;
    int *link_dev;
    cudaEvent_t *link_ev;
    int nlinks, issued, enqueuing;
    long long *bcast_dev;
} nccl_state;

/* How long a clean teardown may wait for peers before aborting instead. */
#define HG_TEARDOWN_S 30.0

static int cuda_fail(hg_backend_rank *b, hg_error *err, cudaError_t e, const char *call)
{
    return hg_error_set(err, HG_ECUDA, "rank %d on %s: %s: %s", b->rank, b->host, call,
                        cudaGetErrorString(e));
}

/* The first of names set to a number in 0..1023, or -1. */
static int env_hint(const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        int r = hg_int_env(names[i], 1023);
        if (r >= 0)
            return r;
    }
    return -1;
}

static void *prewarm_gpu(void *arg)
{
    const nccl_state *s = arg;
    hg_gpu_view v = { .rank = -1, .host = "", .local_rank = s->hint_local_rank,
                      .local_size = s->hint_local_size > s->hint_local_rank ? s->hint_local_size
                                                                              : s->hint_local_rank + 1 };
    int device = -1;
    /* Silent: errors are left for bind(), which repeats every call on the main thread
     * and says once what is wrong. */
    if (cudaGetDeviceCount(&v.visible) == cudaSuccess && hg_gpu_choose(&v, &device, NULL) == 0
        && cudaSetDevice(device) == cudaSuccess)
        (void)cudaFree(NULL);
    return NULL;
}

/* Starts creating the CUDA context of the GPU that the launcher's local rank and size
 * hints (OMPI_COMM_WORLD_LOCAL_RANK/_SIZE, SLURM_LOCALID, MPI_LOCALRANKID) choose by
 * hg_gpu_choose's rules, in a thread that prints nothing; bind() joins it and chooses
 * again from the real local rank, whatever the hints said. */
static void nccl_prewarm(hg_backend_rank *b)
{
    static const char *const ranks[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                         "MPI_LOCALRANKID", NULL };
    static const char *const sizes[] = { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", NULL };
    nccl_state *s = b->state ? b->state : calloc(1, sizeof(*s));
    if (!s)
        return; /* bind() tries again, and says so */
    b->state = s;
    s->device = -1;
    s->hint_local_rank = env_hint(ranks);
    s->hint_local_size = env_hint(sizes);
    if (!s->prewarm_started && s->hint_local_rank >= 0
        && pthread_create(&s->prewarm, NULL, prewarm_gpu, s) == 0)
        s->prewarm_started = 1;
}

static void prewarm_join(nccl_state *s)
{
    if (s->prewarm_started)
        pthread_join(s->prewarm, NULL);
    s->prewarm_started = 0;
}

/* Aborts a communicator whose operation failed or ran past the deadline and forgets it,
 * so release() does not touch it again. */
static void abort_slot(nccl_state *s, ncclComm_t *c)
{
    for (int i = 0; i < s->nslots; i++)
        if (s->comm[i] == *c)
            s->comm[i] = NULL;
    ncclCommAbort(*c);
    *c = NULL;
}

/* Names the group of a slot, or (slot < 0) of split position split, for messages. */
static void describe_group(const hg_backend_rank *b, int slot, int split, char *buf, size_t len)
{
    if (slot < 0)
        hg_comm_set_describe_split(b->comms, split, buf, len);
    else
        hg_comm_set_describe_slot(b->comms, slot, buf, len);
}

/* Waits until c's last operation settles or the deadline passes. what: the call, for
 * messages; slot names the group (or, slot < 0, split position split). */
static int wait_comm(hg_backend_rank *b, ncclComm_t *c, const char *what, int slot, int split,
                     double deadline, hg_error *err)
{
    nccl_state *s = b->state;
    unsigned spins = 0;
    char group[256];
    for (;;) {
        ncclResult_t st = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(*c, &st);
        if (r == ncclSuccess && st == ncclSuccess)
            return 0;
        if (r != ncclSuccess || st != ncclInProgress) {
            describe_group(b, slot, split, group, sizeof(group));
            hg_error_set(err, HG_ENCCL, "rank %d on %s: %s for %s failed: %s (%s)", b->rank,
                         b->host, what, group, ncclGetErrorString(r != ncclSuccess ? r : st),
                         ncclGetLastError(*c));
            abort_slot(s, c);
            return HG_ENCCL;
        }
        if (hg_now() > deadline) {
            describe_group(b, slot, split, group, sizeof(group));
            abort_slot(s, c);
            return hg_error_set(err, HG_ETIMEDOUT,
                                "rank %d on %s: %s for %s did not complete within the %d s "
                                "init timeout; communicator aborted",
                                b->rank, b->host, what, group, b->settings->timeout_s);
        }
        hg_backoff(&spins);
    }
}

static int nccl_fail(hg_backend_rank *b, hg_error *err, ncclResult_t r, const char *call,
                     int slot, int split)
{
    char group[256];
    describe_group(b, slot, split, group, sizeof(group));
    return hg_error_set(err, HG_ENCCL, "rank %d on %s: %s for %s: %s (%s)", b->rank, b->host,
                        call, group, ncclGetErrorString(r), ncclGetLastError(NULL));
}

/* Errors with which CUDA says there is no GPU to use here, rather than a broken one. */
static int no_gpu(cudaError_t e)
{
    return e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary;
}

/* This rank's part of binding: choose by the rules, make the context, learn the GPU's
 * identity for the host-wide check. */
static int bind_local(hg_backend_rank *b, hg_gpu_view *v, hg_gpu_id *id, hg_error *err)
{
    struct cudaDeviceProp prop;
    cudaError_t e;
    int device = -1, rc;
    if ((e = cudaGetDeviceCount(&v->visible)) != cudaSuccess) {
        if (!no_gpu(e))
            return cuda_fail(b, err, e, "cudaGetDeviceCount");
        v->visible = 0;
        v->cuda_error = cudaGetErrorString(e);
        v->driver_too_old = e == cudaErrorInsufficientDriver
                            && access("/proc/driver/nvidia/version", F_OK) == 0;
    }
    if ((rc = hg_gpu_choose(v, &device, err)) != 0)
        return rc;
    if ((e = cudaSetDevice(device)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaSetDevice");
    /* Create the context now, so its cost shows as "gpu" rather than inside NCCL init. */
    if ((e = cudaFree(NULL)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaFree(0) (context creation)");
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaGetDeviceProperties");
    id->bound = 1;
    id->device = device;
    memcpy(id->uuid, prop.uuid.bytes, sizeof(id->uuid));
    snprintf(id->pci, sizeof(id->pci), "%04x:%02x:%02x.0", (unsigned)prop.pciDomainID & 0xffffu,
             (unsigned)prop.pciBusID & 0xffu, (unsigned)prop.pciDeviceID & 0xffu);
    return 0;
}

static int nccl_bind(hg_backend_rank *b, hg_error *err)
{
    nccl_state *s = b->state ? b->state : calloc(1, sizeof(*s));
    int nslots = b->comms->nslots;
    hg_gpu_id mine, *all = calloc((size_t)b->local_size, sizeof(*all));
    hg_gpu_view v = { .rank = b->rank, .host = b->host, .local_rank = b->local_rank,
                      .local_size = b->local_size, .visible_env = getenv("CUDA_VISIBLE_DEVICES") };
    int rc, mrc;
    b->state = s;
    /* (Out of memory here, a rank skips the exchange below, and its host's peers wait
     * in it for the watchdog: a few hundred bytes that cannot be had end the job anyway.) */
    if (s) {
        prewarm_join(s);
        s->nslots = nslots;
        s->comm = calloc((size_t)nslots, sizeof(*s->comm));
        s->stream = calloc((size_t)nslots, sizeof(*s->stream));
    }
    if (!s || !all || !s->comm || !s->stream) {
        free(all);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    }
    s->device = -1;
    memset(&mine, 0, sizeof(mine));
    rc = bind_local(b, &v, &mine, err);
    /* Every rank of the host takes part, bound or not, so none waits here for another. */
    mrc = MPI_Allgather(&mine, (int)sizeof(mine), MPI_BYTE, all, (int)sizeof(mine), MPI_BYTE,
                        b->local);
    if (rc == 0 && mrc != MPI_SUCCESS)
        rc = hg_mpi_fail(err, mrc, b->rank, "MPI_Allgather(GPU identities, host-local)");
    if (rc == 0)
        rc = hg_gpu_check_shared(all, b->local_size, b->local_rank, &v, err);
    if (rc == 0)
        b->device = s->device = mine.device;
    free(all);
    return rc;
}

static ncclConfig_t comm_config(void)
{
    ncclConfig_t c = NCCL_CONFIG_INITIALIZER;
    c.blocking = 0;
    c.splitShare = 1;
    return c;
}

/* ncclCommInitRankScalable (NCCL 2.23) spreads the bootstrap over several roots; a
 * single root's bootstrap takes minutes at some thousands of ranks (NVIDIA/nccl#1156). */
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 23, 0)
#define HG_NCCL_SCALABLE 1
#else
#define HG_NCCL_SCALABLE 0
#endif

typedef struct root_id {
    ncclUniqueId id;
    int32_t ok;
    int32_t rank;
} root_id;

/* Roots are ranks 0, k, 2k, ... (k = ranks per root): one unique id each, gathered by
 * every rank with one MPI_Allgatherv in which only the roots contribute, so a rank
 * receives nroots ids, not one per rank. */
static int exchange_ids(hg_backend_rank *b, int nroots, int k, root_id *ids, hg_error *err)
{
    root_id mine;
    int *counts = calloc((size_t)b->world, sizeof(int)), *displs = calloc((size_t)b->world, sizeof(int));
    int is_root = b->rank % k == 0 && b->rank / k < nroots, mrc;
    ncclResult_t r = ncclSuccess;
    if (!counts || !displs) {
        free(counts);
        free(displs);
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    }
    for (int i = 0; i < nroots; i++) {
        counts[i * k] = (int)sizeof(root_id);
        displs[i * k] = i * (int)sizeof(root_id);
    }
    memset(&mine, 0, sizeof(mine));
    mine.rank = b->rank;
    if (is_root) {
        r = ncclGetUniqueId(&mine.id);
        mine.ok = r == ncclSuccess;
    }
    /* Sent even when a root failed, so the others fail now instead of at the deadline. */
    mrc = MPI_Allgatherv(&mine, is_root ? (int)sizeof(mine) : 0, MPI_BYTE, ids, counts, displs,
                         MPI_BYTE, b->ctrl);
    free(counts);
    free(displs);
    if (mrc != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, b->rank, "MPI_Allgatherv(ncclUniqueId of each root)");
    if (is_root && !mine.ok)
        return nccl_fail(b, err, r, "ncclGetUniqueId", HG_SLOT_WORLD, -1);
    for (int i = 0; i < nroots; i++)
        if (!ids[i].ok)
            return hg_error_set(err, HG_EPEER, "rank %d: skipped NCCL init: rank %d (bootstrap "
                                "root %d of %d) could not create its NCCL unique id", b->rank,
                                ids[i].rank, i, nroots);
    return 0;
}

static int nccl_world(hg_backend_rank *b, hg_error *err)
{
    nccl_state *s = b->state;
    ncclConfig_t cfg = comm_config();
    ncclResult_t r = ncclSuccess;
    int k = b->settings->nccl_ranks_per_root, rc;
    /* Above k ranks, one root per k ranks; k = 0, or NCCL without the scalable call: one. */
    int nroots = HG_NCCL_SCALABLE && k > 0 && b->world > k ? (b->world + k - 1) / k : 1;
    root_id *ids = calloc((size_t)nroots, sizeof(*ids));
    const char *call = nroots > 1 ? "ncclCommInitRankScalable" : "ncclCommInitRankConfig";
    if (!ids)
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    if ((rc = exchange_ids(b, nroots, nroots > 1 ? k : b->world, ids, err)) != 0) {
        free(ids);
        return rc;
    }
    int nranks = b->world;
#if HG_NCCL_SCALABLE
    if (nroots > 1) {
        ncclUniqueId *uid = malloc((size_t)nroots * sizeof(*uid));
        if (!uid) {
            free(ids);
            return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
        }
        for (int i = 0; i < nroots; i++)
            uid[i] = ids[i].id;
        r = ncclCommInitRankScalable(&s->comm[HG_SLOT_WORLD], nranks, b->rank, nroots, uid, &cfg);
        free(uid);
    } else
#endif
    {
        r = ncclCommInitRankConfig(&s->comm[HG_SLOT_WORLD], nranks, ids[0].id, b->rank, &cfg);
    }
    free(ids);
    s->roots = nroots;
    if (r != ncclSuccess && r != ncclInProgress) {
        if (s->comm[HG_SLOT_WORLD])
            abort_slot(s, &s->comm[HG_SLOT_WORLD]);
        return nccl_fail(b, err, r, call, HG_SLOT_WORLD, -1);
    }
    return wait_comm(b, &s->comm[HG_SLOT_WORLD], call, HG_SLOT_WORLD, -1, b->deadline, err);
}

static int nccl_groups(hg_backend_rank *b, hg_error *err)
{
    nccl_state *s = b->state;
    const hg_comm_set *cs = b->comms;
    int rc;
    for (int p = 0; p < cs->nsplits; p++) {
        if (!hg_comm_set_split_needed(cs, p))
            continue;
        int color = hg_comm_set_color(cs, p), slot = hg_comm_set_split_slot(cs, p);
        ncclConfig_t cfg = comm_config();
        ncclComm_t c = NULL;
        ncclResult_t r = ncclCommSplit(s->comm[HG_SLOT_WORLD], color < 0 ? NCCL_SPLIT_NOCOLOR : color,
                                       hg_comm_set_key(cs, p), &c, &cfg);
        if (r != ncclSuccess && r != ncclInProgress) {
            if (c)
                ncclCommAbort(c);
            return nccl_fail(b, err, r, "ncclCommSplit", -1, p);
        }
        /* The split runs as a job of the parent: the world settles when it is done, on
         * ranks that pass no color too; then the new communicator settles itself. */
        if ((rc = wait_comm(b, &s->comm[HG_SLOT_WORLD], "ncclCommSplit", -1, p, b->deadline, err)) != 0) {
            if (c)
                ncclCommAbort(c);
            return rc;
        }
        if (color < 0) {
            if (c)
                ncclCommAbort(c);
            continue;
        }
        if (!c) {
            char group[256];
            hg_comm_set_describe_split(cs, p, group, sizeof(group));
            return hg_error_set(err, HG_ENCCL, "rank %d on %s: ncclCommSplit for %s returned no "
                                "communicator", b->rank, b->host, group);
        }
        s->comm[slot] = c;
        if ((rc = wait_comm(b, &s->comm[slot], "ncclCommSplit", slot, -1, b->deadline, err)) != 0)
            return rc;
    }
    return 0;
}

static int nccl_allreduce(hg_backend_rank *b, long long mine, long long *sums, hg_error *err)
{
    nccl_state *s = b->state;
    int n = b->nverify, rc;
    cudaError_t e;
    if ((e = cudaMalloc((void **)&s->dev, (size_t)(n + 1) * sizeof(long long))) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMalloc");
    for (int i = 0; i < n; i++)
        if (!s->stream[i] && (e = cudaStreamCreateWithFlags(&s->stream[i], cudaStreamNonBlocking)) != cudaSuccess)
            return cuda_fail(b, err, e, "cudaStreamCreate");
    /* The input must have landed before any all-reduce reads it: a copy from pageable
     * memory may return before its DMA does, and non-blocking streams do not wait for
     * the legacy stream. So copy on slot 0's stream and wait for it; the all-reduces on
     * every stream are then enqueued after the data is in place. */
    if ((e = cudaMemcpyAsync(s->dev, &mine, sizeof(mine), cudaMemcpyHostToDevice, s->stream[0]))
            != cudaSuccess
        || (e = cudaStreamSynchronize(s->stream[0])) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMemcpyAsync (verification input)");
    for (int i = 0; i < n; i++) {
        unsigned spins = 0;
        ncclResult_t r = ncclAllReduce(s->dev, s->dev + 1 + i, 1, ncclInt64, ncclSum, s->comm[i],
                                       s->stream[i]);
        if (r != ncclSuccess && r != ncclInProgress)
            return nccl_fail(b, err, r, "ncclAllReduce", i, -1);
        /* The first collective connects the peers (NCCL connects lazily). */
        if ((rc = wait_comm(b, &s->comm[i], "ncclAllReduce", i, -1, b->deadline, err)) != 0)
            return rc;
        while ((e = cudaStreamQuery(s->stream[i])) == cudaErrorNotReady) {
            if (hg_now() > b->deadline) {
                char group[256];
                hg_comm_set_describe_slot(b->comms, i, group, sizeof(group));
                abort_slot(s, &s->comm[i]);
                return hg_error_set(err, HG_ETIMEDOUT,
                                    "rank %d on %s: ncclAllReduce for %s did not finish within the "
                                    "%d s init timeout; communicator aborted",
                                    b->rank, b->host, group, b->settings->timeout_s);
            }
            hg_backoff(&spins);
        }
        if (e != cudaSuccess)
            return cuda_fail(b, err, e, "cudaStreamQuery (verification all-reduce)");
    }
    if ((e = cudaMemcpy(sums, s->dev + 1, (size_t)n * sizeof(long long), cudaMemcpyDeviceToHost))
        != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMemcpy");
    return 0;
}

static int nccl_shape(hg_backend_rank *b, int slot, int *count, int *rank, hg_error *err)
{
    nccl_state *s = b->state;
    ncclResult_t r;
    if ((r = ncclCommCount(s->comm[slot], count)) != ncclSuccess)
        return nccl_fail(b, err, r, "ncclCommCount", slot, -1);
    if ((r = ncclCommUserRank(s->comm[slot], rank)) != ncclSuccess)
        return nccl_fail(b, err, r, "ncclCommUserRank", slot, -1);
    return 0;
}

/* Bridges. The links go one NCCL group each (send, then receive, to one peer), all on
 * one stream, in the order given, which is one global order (bridges.c): every rank's
 * earliest unfinished link then has both its ranks at it, so the chain cannot deadlock,
 * and an event after each group tells which link completed, so a peer that sends
 * nothing is named, not just "the exchange". A non-blocking communicator takes one
 * operation at a time: a group is issued once the last one is enqueued (which may wait
 * for the peer to connect), so link_poll moves the chain on as it can. */
static int bridge_stream(hg_backend_rank *b, hg_error *err)
{
    nccl_state *s = b->state;
    cudaError_t e;
    if (!s->bridge_stream
        && (e = cudaStreamCreateWithFlags(&s->bridge_stream, cudaStreamNonBlocking)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaStreamCreate (bridges)");
    return 0;
}

static int link_issue(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err)
{
    nccl_state *s = b->state;
    int i = s->issued, *out = s->link_dev + (size_t)i * HG_LINK_WORDS;
    int *in = s->link_dev + (size_t)(n + i) * HG_LINK_WORDS;
    ncclResult_t r = ncclGroupStart();
    if (r == ncclSuccess)
        r = ncclSend(out, HG_LINK_WORDS, ncclInt32, x[i].peer, s->comm[HG_SLOT_WORLD], s->bridge_stream);
    if (r == ncclSuccess)
        r = ncclRecv(in, HG_LINK_WORDS, ncclInt32, x[i].peer, s->comm[HG_SLOT_WORLD], s->bridge_stream);
    ncclResult_t g = ncclGroupEnd();
    if (r == ncclSuccess)
        r = g;
    if (r != ncclSuccess && r != ncclInProgress)
        return nccl_fail(b, err, r, "ncclSend/ncclRecv (bridge link)", HG_SLOT_WORLD, -1);
    s->issued++;
    s->enqueuing = 1;
    return 0;
}

static int nccl_link_poll(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err)
{
    nccl_state *s = b->state;
    cudaError_t e;
    int rc;
    for (;;) {
        if (s->enqueuing) {
            ncclResult_t st = ncclSuccess, r = ncclCommGetAsyncError(s->comm[HG_SLOT_WORLD], &st);
            if (r == ncclSuccess && st == ncclInProgress)
                break;
            if (r != ncclSuccess || st != ncclSuccess)
                return nccl_fail(b, err, r != ncclSuccess ? r : st, "ncclSend/ncclRecv (bridge link)",
                                 HG_SLOT_WORLD, -1);
            if ((e = cudaEventRecord(s->link_ev[s->issued - 1], s->bridge_stream)) != cudaSuccess)
                return cuda_fail(b, err, e, "cudaEventRecord (bridge link)");
            x[s->issued - 1].connected = 1;
            s->enqueuing = 0;
        }
        if (s->issued == n)
            break;
        if ((rc = link_issue(b, x, n, err)) != 0)
            return rc;
    }
    for (int i = 0; i < n; i++) {
        if (x[i].done || !x[i].connected)
            continue;
        if ((e = cudaEventQuery(s->link_ev[i])) == cudaErrorNotReady)
            break; /* one stream: the later links are not done either */
        if (e != cudaSuccess)
            return cuda_fail(b, err, e, "cudaEventQuery (bridge link)");
        if ((e = cudaMemcpy(x[i].in, s->link_dev + (size_t)(n + i) * HG_LINK_WORDS,
                            sizeof(x[i].in), cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cuda_fail(b, err, e, "cudaMemcpy (bridge link)");
        x[i].done = 1;
    }
    return 0;
}

static int nccl_link_start(hg_backend_rank *b, hg_link_xfer *x, int n, hg_error *err)
{
    nccl_state *s = b->state;
    cudaError_t e;
    int rc, *host;
    size_t bytes = (size_t)(2 * n) * HG_LINK_WORDS * sizeof(int);
    if (n <= 0)
        return 0;
    if ((rc = bridge_stream(b, err)) != 0)
        return rc;
    if (!(s->link_ev = calloc((size_t)n, sizeof(*s->link_ev))) || !(host = malloc(bytes / 2)))
        return hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", b->rank);
    s->nlinks = n;
    s->issued = s->enqueuing = 0;
    for (int i = 0; i < n; i++) {
        x[i].done = x[i].connected = 0;
        memcpy(host + (size_t)i * HG_LINK_WORDS, x[i].out, sizeof(x[i].out));
    }
    if ((e = cudaMalloc((void **)&s->link_dev, bytes)) != cudaSuccess
        || (e = cudaMemcpy(s->link_dev, host, bytes / 2, cudaMemcpyHostToDevice)) != cudaSuccess) {
        free(host);
        return cuda_fail(b, err, e, "cudaMalloc/cudaMemcpy (bridge links)");
    }
    free(host);
    for (int i = 0; i < n; i++)
        if ((e = cudaEventCreateWithFlags(&s->link_ev[i], cudaEventDisableTiming)) != cudaSuccess)
            return cuda_fail(b, err, e, "cudaEventCreate (bridge links)");
    return nccl_link_poll(b, x, n, err);
}

/* The links that never completed hold kernels that wait for their peers: only the
 * communicators' abort (release) ends them, so their memory waits for it too. */
static void nccl_link_stop(hg_backend_rank *b, hg_link_xfer *x, int n)
{
    (void)b, (void)x, (void)n;
}

static int nccl_bcast(hg_backend_rank *b, int slot, int root, long long *value, hg_error *err)
{
    nccl_state *s = b->state;
    unsigned spins = 0;
    hg_error ignored;
    cudaError_t e;
    ncclResult_t r;
    int rc;
    if ((rc = bridge_stream(b, err)) != 0)
        return rc;
    if (!s->bcast_dev && (e = cudaMalloc((void **)&s->bcast_dev, sizeof(long long))) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMalloc (bridge broadcast)");
    if ((e = cudaMemcpy(s->bcast_dev, value, sizeof(*value), cudaMemcpyHostToDevice)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMemcpy (bridge broadcast)");
    r = ncclBroadcast(s->bcast_dev, s->bcast_dev, 1, ncclInt64, root, s->comm[slot], s->bridge_stream);
    if (r != ncclSuccess && r != ncclInProgress)
        return nccl_fail(b, err, r, "ncclBroadcast (bridge boundary group)", slot, -1);
    hg_error_clear(&ignored);
    if ((rc = wait_comm(b, &s->comm[slot], "ncclBroadcast", slot, -1, b->deadline, &ignored)) != 0) {
        if (rc != HG_ETIMEDOUT)
            *err = ignored;
        return rc;
    }
    while ((e = cudaStreamQuery(s->bridge_stream)) == cudaErrorNotReady) {
        if (hg_now() > b->deadline) {
            abort_slot(s, &s->comm[slot]);
            return HG_ETIMEDOUT;
        }
        hg_backoff(&spins);
    }
    if (e != cudaSuccess)
        return cuda_fail(b, err, e, "cudaStreamQuery (bridge broadcast)");
    if ((e = cudaMemcpy(value, s->bcast_dev, sizeof(*value), cudaMemcpyDeviceToHost)) != cudaSuccess)
        return cuda_fail(b, err, e, "cudaMemcpy (bridge broadcast)");
    return 0;
}

static void nccl_release(hg_backend_rank *b, int abort)
{
    nccl_state *s = b->state;
    hg_error ignored;
    if (!s)
        return;
    prewarm_join(s); /* bootstrap failed, or the config chose another backend, before bind() */
    /* Children before the world they share resources with. A clean teardown finalizes
     * each communicator (all members do, in one order) before destroying it; after a
     * failure peers may be gone, so only the local abort is safe. */
    for (int i = s->nslots - 1; s->comm && i >= 0; i--) {
        if (!s->comm[i])
            continue;
        if (!abort) {
            ncclResult_t r = ncclCommFinalize(s->comm[i]);
            if ((r == ncclSuccess || r == ncclInProgress)
                && wait_comm(b, &s->comm[i], "ncclCommFinalize", i, -1,
                             hg_now() + HG_TEARDOWN_S, &ignored) == 0) {
                ncclCommDestroy(s->comm[i]);
                s->comm[i] = NULL;
                continue;
            }
        }
        if (s->comm[i]) {
            ncclCommAbort(s->comm[i]);
            s->comm[i] = NULL;
        }
    }
    for (int i = 0; s->stream && i < s->nslots; i++)
        if (s->stream[i])
            cudaStreamDestroy(s->stream[i]);
    for (int i = 0; s->link_ev && i < s->nlinks; i++)
        if (s->link_ev[i])
            cudaEventDestroy(s->link_ev[i]);
    if (s->bridge_stream)
        cudaStreamDestroy(s->bridge_stream);
    if (s->dev)
        cudaFree(s->dev);
    if (s->link_dev)
        cudaFree(s->link_dev);
    if (s->bcast_dev)
        cudaFree(s->bcast_dev);
    free(s->link_ev);
    free(s->comm);
    free(s->stream);
    free(s);
    b->state = NULL;
}

static long long nccl_gpu_used(const hg_backend_rank *b)
{
    size_t free_b = 0, total_b = 0;
    if (b->device < 0 || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
        return -1;
    return (long long)(total_b - free_b);
}

static int nccl_world_roots(const hg_backend_rank *b)
{
    const nccl_state *s = b->state;
    return s ? s->roots : 0;
}

static void *nccl_comm(const hg_backend_rank *b, int slot)
{
    nccl_state *s = b->state;
    return s && slot >= 0 && slot < s->nslots ? (void *)s->comm[slot] : NULL;
}

const hg_backend_ops hg_backend_nccl_ops = {
    .prewarm = nccl_prewarm,
    .bind = nccl_bind,
    .world = nccl_world,
    .groups = nccl_groups,
    .allreduce = nccl_allreduce,
    .shape = nccl_shape,
    .release = nccl_release,
    .comm = nccl_comm,
    .link_start = nccl_link_start,
    .link_poll = nccl_link_poll,
    .link_stop = nccl_link_stop,
    .bcast = nccl_bcast,
    .gpu_used = nccl_gpu_used,
    .world_roots = nccl_world_roots,
};
