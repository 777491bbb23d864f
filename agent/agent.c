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

#include "util/program.h"
#include "wire/protocol.h"
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
    return a->run.t0 + hg_deadline_watchdog_s(a->set.timeout_s);
}

static void enter_phase(hg_agent *a, hg_phase p)
{
    a->run.phase = p;
    hg_watchdog_phase(&a->run.wd, p);
}

/* GPU memory in use now, or -1: phases after binding are measured, so what NCCL's
 * communicators and their connections cost shows per phase (the readiness record). */
static long long gpu_used(const hg_agent *a, hg_phase p)
{
    if (p < HG_PHASE_WORLD || p >= HG_PHASE_TIMED || !a->be || !a->be->gpu_used || a->result.device < 0)
        return -1;
    return a->be->gpu_used(&a->bk);
}

/* Runs one timed step unless this rank has failed already; records where it failed. */
static int run_step(hg_agent *a, hg_phase p, int (*fn)(hg_agent *, hg_error *), int rc, hg_error *own)
{
    double t;
    long long before, after;
    if (rc != 0 || !fn)
        return rc;
    enter_phase(a, p);
    before = gpu_used(a, p);
    t = hg_now();
    rc = fn(a, own);
    a->run.times[p] += hg_now() - t;
    if (before >= 0 && (after = gpu_used(a, p)) >= 0) {
        a->run.gpu_mib[p] += (double)(after - before) / (1024.0 * 1024.0);
        a->run.gpu_measured = 1;
    }
    if (rc != 0)
        a->run.failed_phase = p;
    return rc;
}

/* Before MPI_Init: the backend the options name (nccl unless they say mpi) may start
 * its own work, to overlap MPI's start (backend.h, prewarm). */
static void prewarm_backend(hg_agent *a)
{
    a->be = hg_backend_ops_of(a->opts.backend == HG_BACKEND_MPI ? HG_BACKEND_MPI
                                                                 : HG_BACKEND_NCCL);
    if (a->be && a->be->prewarm)
        a->be->prewarm(&a->bk);
}

/* After bootstrap: the settings' backend; the one that prewarmed, if another (the
 * config chose mpi: no GPU after all), lets go of what it started. */
static int pick_backend(hg_agent *a, hg_error *err)
{
    const hg_backend_ops *be = hg_backend_ops_of(a->set.backend);
    if (a->be && a->be != be)
        a->be->release(&a->bk, 1);
    a->be = be;
    if (!be)
        return hg_error_set(err, HG_EINVAL, "this hgrid was built without the NCCL backend (make "
                            "NCCL=0); use --backend mpi or agent.backend: mpi");
    return 0;
}

static int view_step(hg_agent *a, hg_error *err)
{
    int rc = hg_rank_view_build(a->grid.layout, a->id.rank, &a->grid.view, err);
    if (rc == 0) {
        a->grid.have_view = 1;
        rc = hg_comm_set_build(&a->grid.view, a->opts.share, &a->grid.comms, err);
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
    a->result.usage_failed = 1;
    return hg_error_set(err, HG_EINVAL, "rank %d on %s: %s", a->id.rank, a->id.host, why.msg);
}

/* Everyone learns whether anyone failed so far, and at which split positions anyone
 * makes a communicator (the same answer each round: creates is fixed once the view
 * is). Called by every rank at the same points, whatever its own rc; the count is the
 * layout's (hg_comm_set_words), the same on every rank, set or no set. */
static int agree_on_failures(hg_agent *a, int rc, hg_error *own)
{
    int words = hg_comm_set_words(a->grid.layout), mrc;
    unsigned *in = calloc((size_t)words + 1, sizeof(unsigned));
    unsigned *out = calloc((size_t)words + 1, sizeof(unsigned));
    if (!in || !out) {
        /* Cannot take part: the peers wait in this round for the watchdog. */
        free(in);
        free(out);
        if (rc != 0)
            return rc;
        a->run.failed_phase = a->run.phase;
        return hg_error_set(own, HG_ENOMEM, "rank %d: out of memory", a->id.rank);
    }
    in[0] = rc != 0;
    for (int i = 0; i < words && i < a->grid.comms.nwords; i++)
        in[1 + i] = a->grid.comms.creates[i];
    mrc = MPI_Allreduce(in, out, words + 1, MPI_UNSIGNED, MPI_BOR, a->id.ctrl);
    if (mrc != MPI_SUCCESS) {
        free(in);
        free(out);
        if (rc != 0)
            return rc; /* this rank's own failure is the better reason */
        a->run.failed_phase = a->run.phase;
        return hg_mpi_fail(own, mrc, a->id.rank, "MPI_Allreduce(pre-flight status)");
    }
    for (int i = 0; i < words && i < a->grid.comms.nwords; i++)
        a->grid.comms.splits[i] = out[1 + i];
    int any_failed = out[0] != 0;
    free(in);
    free(out);
    if (rc == 0 && any_failed) {
        a->run.failed_phase = a->run.phase;
        return hg_error_set(own, HG_EPEER, "rank %d: skipped the rest of pre-flight after phase "
                            "%s: another rank failed", a->id.rank, hg_phase_name(a->run.phase));
    }
    return rc;
}

/* Test builds: the failure injected at the end of phase p, if any (testhooks.h). */
static int inject_failure(hg_agent *a, hg_phase p, int rc, hg_error *own)
{
    if (rc == 0 && (rc = hg_test_fail(a->id.rank, hg_phase_name(p), own)) != 0)
        a->run.failed_phase = p;
    return rc;
}

/* Test builds: a verification that runs out of time or meets an MPI error (on the MPI
 * backend's world too, an MPI_Comm there: hgrid.h). */
static int test_verify_step(hg_agent *a, hg_error *err)
{
    MPI_Comm world = MPI_COMM_NULL;
    if (a->set.backend == HG_BACKEND_MPI && hg_agent_comm(a, HG_SLOT_WORLD))
        world = *(MPI_Comm *)hg_agent_comm(a, HG_SLOT_WORLD);
    return hg_test_verify(&a->bk, world, err);
}

/* What the backend sees of this rank: a copy of the agent's identity, made once
 * bootstrap has learnt it and before any backend call but prewarm (backend.h). The
 * backend's own fields are the backend's already. */
static void backend_rank_fill(hg_agent *a)
{
    hg_backend_rank *b = &a->bk;
    b->rank = a->id.rank;
    b->world = a->id.world;
    b->local_rank = a->id.local_rank;
    b->local_size = a->id.local_size;
    b->host = a->id.host;
    b->ctrl = a->id.ctrl;
    b->local = a->id.local;
    b->deadline = a->run.deadline;
    b->settings = &a->set;
    b->view = &a->grid.view;
    b->comms = &a->grid.comms;
}

/* The backend's step fn of the GPU phase, then what it bound. */
static int bind_step(hg_agent *a, hg_error *err)
{
    int rc = a->be->bind(&a->bk, err);
    a->result.device = a->bk.device;
    return rc;
}

/* Test builds may declare a world larger than the job (testhooks.h): its init waits
 * for ranks that never come. */
static int world_step(hg_agent *a, hg_error *err)
{
    int phantom = hg_test_phantom_ranks(), rc;
    a->bk.world += phantom;
    rc = a->be->world(&a->bk, err);
    a->bk.world -= phantom;
    return rc;
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
    return a->grid.have_view ? a->grid.comms.nviews : 0;
}

const hg_rank_view *hg_agent_module_view(const hg_agent *a, int m)
{
    return m >= 0 && m < hg_agent_module_count(a) ? &a->grid.comms.views[m] : NULL;
}

int hg_agent_module_slot(const hg_agent *a, int m, int kind)
{
    return m >= 0 && m < hg_agent_module_count(a) ? hg_comm_set_slot(&a->grid.comms, m, kind) : -1;
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
    a->run.t0 = hg_now();
    a->id.ctrl = MPI_COMM_NULL;
    a->id.local = MPI_COMM_NULL;
    a->result.device = a->bk.device = -1;
    a->id.rank = -1;
    /* Until the config says otherwise, the watchdog allows the config's own default
     * (hgrid-launch passes the config's as --timeout): the merge without a config. */
    int given[HG_NSETTINGS];
    hg_setting_values early;
    hg_settings_none_given(given);
    if (opts->timeout_s > 0)
        given[HG_SET_TIMEOUT] = opts->timeout_s;
    hg_settings_merge(given, NULL, &early);
    a->set.timeout_s = early.v[HG_SET_TIMEOUT];
    a->run.deadline = a->run.t0 + a->set.timeout_s;
    if ((rc = hg_watchdog_start(&a->run.wd, watchdog_deadline(a), a->set.timeout_s, err)) != 0) {
        free(a);
        return rc;
    }

    enter_phase(a, HG_PHASE_BOOTSTRAP);
    prewarm_backend(a);
    if ((rc = hg_bootstrap(a, err)) != 0 || (rc = pick_backend(a, err)) != 0) {
        /* Config problems are the same on every rank: all stop here, rank 0 has said why. */
        if (rc != HG_ECONFIG && a->id.rank == 0)
            fprintf(stderr, "hgrid: %s\n", err->msg);
        goto fail;
    }
    hg_test_host(a->id.rank, a->id.host, sizeof(a->id.host));
    hg_test_slow_bootstrap();
    a->run.deadline = a->run.t0 + a->set.timeout_s;
    hg_watchdog_rearm(&a->run.wd, watchdog_deadline(a), a->set.timeout_s);
    backend_rank_fill(a);

    rc = run_step(a, HG_PHASE_BOOTSTRAP, view_step, 0, &own);
    rc = run_step(a, HG_PHASE_BOOTSTRAP, program_step, rc, &own);
    a->run.times[HG_PHASE_BOOTSTRAP] = hg_now() - a->run.t0; /* from the very start */
    rc = agree_on_failures(a, rc, &own);

    enter_phase(a, HG_PHASE_GPU);
    rc = run_step(a, HG_PHASE_GPU, a->be->bind ? bind_step : NULL, rc, &own);
    rc = inject_failure(a, HG_PHASE_GPU, rc, &own);
    rc = agree_on_failures(a, rc, &own);
    /* agent.preflight: none stops after the GPU check; world builds the world alone and
     * verifies it with one all-reduce; full builds and proves everything. */
    if (a->set.preflight != HG_PREFLIGHT_NONE) {
        rc = run_step(a, HG_PHASE_WORLD, world_step, rc, &own);
        rc = inject_failure(a, HG_PHASE_WORLD, rc, &own);
        rc = agree_on_failures(a, rc, &own);
        a->result.ncomms = a->bk.nverify = 1;
    }
    if (a->set.preflight == HG_PREFLIGHT_FULL) {
        rc = run_step(a, HG_PHASE_GROUPS, groups_step, rc, &own);
        rc = inject_failure(a, HG_PHASE_GROUPS, rc, &own);
        rc = agree_on_failures(a, rc, &own);
        a->result.ncomms = a->bk.nverify = a->grid.comms.nslots;
    }
    if (a->set.verify && a->set.preflight != HG_PREFLIGHT_NONE) {
        rc = run_step(a, HG_PHASE_VERIFY, hg_verify, rc, &own);
        /* Every rank knows the layout: all take this branch alike. */
        if (a->set.preflight == HG_PREFLIGHT_FULL && hg_layout_bridge_count(a->grid.layout) > 0) {
            rc = agree_on_failures(a, rc, &own);
            rc = run_step(a, HG_PHASE_BRIDGES, hg_bridges, rc, &own);
        }
        rc = run_step(a, HG_PHASE_VERIFY, test_verify_step, rc, &own);
    }
    hg_test_before_readiness(a->id.rank);

    enter_phase(a, HG_PHASE_READINESS);
    if ((rc = hg_readiness(a, rc != 0 ? &own : NULL, err)) != 0)
        goto fail;
    hg_watchdog_stop(&a->run.wd);
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
    hg_watchdog_stop(&a->run.wd);
    if (a->be)
        a->be->release(&a->bk, failed);
    hg_comm_set_free(&a->grid.comms);
    if (a->grid.have_view)
        hg_rank_view_free(&a->grid.view);
    hg_layout_free(a->grid.layout);
    if (a->id.local != MPI_COMM_NULL)
        MPI_Comm_free(&a->id.local);
    if (a->id.ctrl != MPI_COMM_NULL)
        MPI_Comm_free(&a->id.ctrl);
    if (a->id.mpi_owned)
        MPI_Finalize();
    free(a);
}
