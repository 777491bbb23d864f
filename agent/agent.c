/* The agent's pre-flight, the same steps for hgrid-agent (exec handoff) and hg_init
 * (in-process): bootstrap with this rank's view and (exec handoff) PROGRAM's check, GPU
 * binding, world and group communicators, each followed by an agreement round,
 * verification, bridges (after one more round, when the layout has any), readiness. Each step runs only while this rank has not failed, but
 * every rank reaches readiness, so the coordinator hears of every failure.
 *
 * An agreement round is one small MPI_Allreduce over the control communicator that
 * tells every rank whether any rank has failed so far (the first also says which kinds
 * need a split anywhere, groups.c). Every rank makes it after bootstrap (view, PROGRAM),
 * after GPU, after world and after groups, failed or not, so the collective order is the
 * same everywhere; each phase before it is bounded (NCCL by the deadline, the rest by the
 * watchdog). A rank whose PROGRAM cannot run so keeps every rank off the GPUs, and a
 * rank that cannot bind its GPU, or whose world or group init fails, makes its peers
 * skip the NCCL steps that would wait for it until the deadline: the job fails at once.
 * The round before bridges does the same for a rank whose verification failed: its
 * bridge peers would otherwise wait for it until the deadline.
 *
 * The test variant's fault hooks (testhooks.h) are called where they act; in the
 * product they are no-ops. */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "protocol.h"
#include "testhooks.h"


void hg_agent_opts_default(hg_agent_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backend = -1;
    o->preflight = -1;
    o->share = 1;
}

int hg_agent_exit_status(int rc)
{
    switch (rc) {
    case 0:
        return HG_EXIT_OK;
    case HG_EINVAL:
    case HG_ECONFIG:
    case HG_EIO:
        return HG_EXIT_USAGE;
    case HG_ETIMEDOUT:
        return HG_EXIT_DEADLINE;
    default:
        return HG_EXIT_PREFLIGHT;
    }
}

/* The watchdog fires after the coordinator's own grace has passed too (protocol.h). */
static double watchdog_deadline(const hg_agent *a)
{
    return a->t0 + hg_deadline_watchdog_s(a->timeout_s);
}

static void enter(hg_agent *a, hg_phase p)
{
    a->phase = p;
    hg_watchdog_phase(&a->wd, p);
}

/* GPU memory in use now, or -1: phases after binding are measured, so what NCCL's
 * communicators and their connections cost shows per phase (the readiness record). */
static long long gpu_used(const hg_agent *a, hg_phase p)
{
    if (p < HG_PHASE_WORLD || p >= HG_PHASE_TIMED || !a->be || !a->be->gpu_used || a->device < 0)
        return -1;
    return a->be->gpu_used(&a->bk);
}

/* Runs one timed step unless this rank has failed already; records where it failed. */
static int step(hg_agent *a, hg_phase p, int (*fn)(hg_agent *, hg_error *), int rc, hg_error *own)
{
    double t;
    long long before, after;
    if (rc != 0 || !fn)
        return rc;
    enter(a, p);
    before = gpu_used(a, p);
    t = hg_now();
    rc = fn(a, own);
    a->times[p] += hg_now() - t;
    if (before >= 0 && (after = gpu_used(a, p)) >= 0) {
        a->gpu_mib[p] += (double)(after - before) / (1024.0 * 1024.0);
        a->gpu_measured = 1;
    }
    if (rc != 0)
        a->failed_phase = p;
    return rc;
}

static int pick_backend(hg_agent *a, hg_error *err)
{
    if (a->backend == HG_BACKEND_MPI) {
        a->be = &hg_backend_mpi_ops;
        return 0;
    }
#ifdef HG_HAVE_NCCL
    (void)err;
    a->be = &hg_backend_nccl_ops;
    return 0;
#else
    return hg_error_set(err, HG_EINVAL, "this hgrid was built without the NCCL backend (make "
                        "NCCL=0); use --backend mpi or agent.backend: mpi");
#endif
}

static int view_step(hg_agent *a, hg_error *err)
{
    int rc = hg_rank_view_build(a->layout, a->rank, &a->view, err);
    if (rc == 0) {
        a->have_view = 1;
        rc = hg_comm_set_build(&a->view, a->opts.share, &a->comms, err);
    }
    return rc;
}

/* Exec handoff: PROGRAM must be runnable here, as execvp will look for it after go.
 * Checked on every rank (PATH and files differ between hosts), before any GPU work. */
static int program_step(hg_agent *a, hg_error *err)
{
    hg_error why;
    if (!a->opts.program)
        return 0;
    hg_error_clear(&why);
    if (hg_program_resolve(a->opts.program, getenv("PATH"), NULL, 0, &why) == 0)
        return 0;
    a->usage_failed = 1;
    return hg_error_set(err, HG_EINVAL, "rank %d on %s: %s", a->rank, a->host, why.msg);
}

/* Everyone learns whether anyone failed so far, and at which split positions anyone
 * makes a communicator (the same answer each round: creates is fixed once the view
 * is). Called by every rank at the same points, whatever its own rc; the count is the
 * layout's (hg_comm_set_words), the same on every rank, set or no set. */
static int agree(hg_agent *a, int rc, hg_error *own)
{
    int words = hg_comm_set_words(a->layout), mrc;
    unsigned *in = calloc((size_t)words + 1, sizeof(unsigned));
    unsigned *out = calloc((size_t)words + 1, sizeof(unsigned));
    if (!in || !out) {
        /* Cannot take part: the peers wait in this round for the watchdog. */
        free(in);
        free(out);
        if (rc != 0)
            return rc;
        a->failed_phase = a->phase;
        return hg_error_set(own, HG_ENOMEM, "rank %d: out of memory", a->rank);
    }
    in[0] = rc != 0;
    for (int i = 0; i < words && i < a->comms.nwords; i++)
        in[1 + i] = a->comms.creates[i];
    mrc = MPI_Allreduce(in, out, words + 1, MPI_UNSIGNED, MPI_BOR, a->ctrl);
    if (mrc != MPI_SUCCESS) {
        free(in);
        free(out);
        if (rc != 0)
            return rc; /* this rank's own failure is the better reason */
        a->failed_phase = a->phase;
        return hg_mpi_fail(own, mrc, a->rank, "MPI_Allreduce(pre-flight status)");
    }
    for (int i = 0; i < words && i < a->comms.nwords; i++)
        a->comms.splits[i] = out[1 + i];
    int any_failed = out[0] != 0;
    free(in);
    free(out);
    if (rc == 0 && any_failed) {
        a->failed_phase = a->phase;
        return hg_error_set(own, HG_EPEER, "rank %d: skipped the rest of pre-flight after phase "
                            "%s: another rank failed", a->rank, hg_phase_name(a->phase));
    }
    return rc;
}

/* Test builds: the failure injected at the end of phase p, if any (testhooks.h). */
static int inject_failure(hg_agent *a, hg_phase p, int rc, hg_error *own)
{
    if (rc == 0 && (rc = hg_test_fail(a->rank, hg_phase_name(p), own)) != 0)
        a->failed_phase = p;
    return rc;
}

/* Test builds: a verification that runs out of time or meets an MPI error. */
static int test_verify_step(hg_agent *a, hg_error *err)
{
    return hg_test_verify(&a->bk, a->be, err);
}

/* What the backend sees of this rank: a copy of the agent's identity, made once
 * bootstrap has learnt it and before any backend call (backend.h). The prewarm and the
 * backend's own fields are the backend's already. */
static void backend_rank_fill(hg_agent *a)
{
    hg_backend_rank *b = &a->bk;
    b->rank = a->rank;
    b->world = a->world;
    b->local_rank = a->local_rank;
    b->local_size = a->local_size;
    b->host = a->host;
    b->ctrl = a->ctrl;
    b->local = a->local;
    b->deadline = a->deadline;
    b->timeout_s = a->timeout_s;
    b->view = &a->view;
    b->comms = &a->comms;
}

/* The backend's step fn of the GPU phase, then what it bound. */
static int bind_step(hg_agent *a, hg_error *err)
{
    int rc = a->be->bind(&a->bk, err);
    a->device = a->bk.device;
    return rc;
}

static int world_step(hg_agent *a, hg_error *err)
{
    return a->be->world(&a->bk, err);
}

static int groups_step(hg_agent *a, hg_error *err)
{
    return a->be->groups(&a->bk, err);
}

void *hg_agent_comm(const hg_agent *a, int slot)
{
    return a->be ? a->be->comm(&a->bk, slot) : NULL;
}

int hg_agent_module_count(const hg_agent *a)
{
    return a->have_view ? a->comms.nviews : 0;
}

const hg_rank_view *hg_agent_module_view(const hg_agent *a, int m)
{
    return m >= 0 && m < hg_agent_module_count(a) ? &a->comms.views[m] : NULL;
}

int hg_agent_module_slot(const hg_agent *a, int m, int kind)
{
    return m >= 0 && m < hg_agent_module_count(a) ? hg_comm_set_slot(&a->comms, m, kind) : -1;
}

void *hg_agent_comm_of_module(const hg_agent *a, int m, int kind)
{
    int slot = hg_agent_module_slot(a, m, kind);
    return slot < 0 ? NULL : hg_agent_comm(a, slot);
}

int hg_agent_bridge_count(const hg_agent *a)
{
    return a->have_view ? a->view.nbridges : 0;
}

const hg_rank_bridge *hg_agent_bridge(const hg_agent *a, int i)
{
    return i >= 0 && i < hg_agent_bridge_count(a) ? &a->view.bridges[i] : NULL;
}

void *hg_agent_bridge_comm(const hg_agent *a, int i)
{
    const hg_rank_bridge *rb = hg_agent_bridge(a, i);
    /* Bridges are disjoint layouts' only: the rank's one module is m = 0. */
    return rb ? hg_agent_comm_of_module(a, a->comms.primary, rb->group_kind) : NULL;
}

int hg_agent_start(const hg_agent_opts *opts, hg_agent **out, hg_error *err)
{
    hg_agent *a = calloc(1, sizeof(*a));
    hg_error own;
    int rc;

    *out = NULL;
    hg_error_clear(&own);
    if (!a)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    a->opts = *opts;
    if (hg_test_no_share())
        a->opts.share = 0; /* rank 0's choice reaches every rank with the config */
    a->t0 = hg_now();
    a->ctrl = MPI_COMM_NULL;
    a->local = MPI_COMM_NULL;
    a->device = a->bk.device = -1;
    a->rank = -1;
    /* Until the config says otherwise, the watchdog allows the config's own default
     * (hgrid-launch passes the config's as --timeout). */
    a->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : HG_TIMEOUT_DEFAULT_S;
    a->deadline = a->t0 + a->timeout_s;
    if ((rc = hg_watchdog_start(&a->wd, watchdog_deadline(a), a->timeout_s, err)) != 0) {
        free(a);
        return rc;
    }

    enter(a, HG_PHASE_BOOTSTRAP);
#ifdef HG_HAVE_NCCL
    if (opts->backend != HG_BACKEND_MPI)
        hg_nccl_prewarm_start(&a->bk.prewarm);
#endif
    if ((rc = hg_bootstrap(a, err)) != 0 || (rc = pick_backend(a, err)) != 0) {
        /* Config problems are the same on every rank: all stop here, rank 0 has said why. */
        if (rc != HG_ECONFIG && a->rank == 0)
            fprintf(stderr, "hgrid: %s\n", err->msg);
        goto fail;
    }
#ifdef HG_HAVE_NCCL
    if (a->backend == HG_BACKEND_MPI)
        hg_nccl_prewarm_join(&a->bk.prewarm); /* the config chose mpi: no GPU after all */
#endif
    a->deadline = a->t0 + a->timeout_s;
    hg_watchdog_rearm(&a->wd, watchdog_deadline(a), a->timeout_s);
    backend_rank_fill(a);

    rc = step(a, HG_PHASE_BOOTSTRAP, view_step, 0, &own);
    rc = step(a, HG_PHASE_BOOTSTRAP, program_step, rc, &own);
    a->times[HG_PHASE_BOOTSTRAP] = hg_now() - a->t0; /* from the very start */
    rc = agree(a, rc, &own);

    enter(a, HG_PHASE_GPU);
    rc = step(a, HG_PHASE_GPU, a->be->bind ? bind_step : NULL, rc, &own);
    rc = inject_failure(a, HG_PHASE_GPU, rc, &own);
    rc = agree(a, rc, &own);
    /* agent.preflight: none stops after the GPU check; world builds the world alone and
     * verifies it with one all-reduce; full builds and proves everything. */
    if (a->preflight != HG_PREFLIGHT_NONE) {
        rc = step(a, HG_PHASE_WORLD, world_step, rc, &own);
        rc = inject_failure(a, HG_PHASE_WORLD, rc, &own);
        rc = agree(a, rc, &own);
        a->ncomms = a->bk.nverify = 1;
    }
    if (a->preflight == HG_PREFLIGHT_FULL) {
        rc = step(a, HG_PHASE_GROUPS, groups_step, rc, &own);
        rc = inject_failure(a, HG_PHASE_GROUPS, rc, &own);
        rc = agree(a, rc, &own);
        a->ncomms = a->bk.nverify = a->comms.nslots;
    }
    if (a->verify && a->preflight != HG_PREFLIGHT_NONE) {
        rc = step(a, HG_PHASE_VERIFY, hg_verify, rc, &own);
        /* Every rank knows the layout: all take this branch alike. */
        if (a->preflight == HG_PREFLIGHT_FULL && hg_layout_bridge_count(a->layout) > 0) {
            rc = agree(a, rc, &own);
            rc = step(a, HG_PHASE_BRIDGES, hg_bridges, rc, &own);
        }
        rc = step(a, HG_PHASE_VERIFY, test_verify_step, rc, &own);
    }
    hg_test_before_readiness(a->rank);

    enter(a, HG_PHASE_READINESS);
    if ((rc = hg_readiness(a, rc != 0 ? &own : NULL, err)) != 0)
        goto fail;
    hg_watchdog_stop(&a->wd);
    *out = a;
    return 0;
fail:
    hg_agent_free(a, 1);
    return rc;
}

void hg_agent_free(hg_agent *a, int failed)
{
    if (!a)
        return;
    hg_watchdog_stop(&a->wd);
#ifdef HG_HAVE_NCCL
    hg_nccl_prewarm_join(&a->bk.prewarm); /* bootstrap failed before bind() */
#endif
    if (a->be)
        a->be->release(&a->bk, failed);
    hg_comm_set_free(&a->comms);
    if (a->have_view)
        hg_rank_view_free(&a->view);
    hg_layout_free(a->layout);
    if (a->local != MPI_COMM_NULL)
        MPI_Comm_free(&a->local);
    if (a->ctrl != MPI_COMM_NULL)
        MPI_Comm_free(&a->ctrl);
    if (a->mpi_owned)
        MPI_Finalize();
    free(a);
}
