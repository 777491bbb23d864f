/* The agent's pre-flight, the same steps for hgrid-agent (exec handoff) and hg_init
 * (in-process): bootstrap with this rank's view and (exec handoff) PROGRAM's check, GPU binding,
 * world and group communicators, each followed by an agreement round, verification,
 * readiness. Each step runs only while this rank has not failed, but every rank reaches
 * readiness, so the coordinator hears of every failure.
 *
 * An agreement round is one small MPI_Allreduce over the control communicator that
 * tells every rank whether any rank has failed so far (the first also says which kinds
 * need a split anywhere, groups.c). Every rank makes it after bootstrap (view, PROGRAM),
 * after GPU, after world and after groups, failed or not, so the collective order is the
 * same everywhere; each phase before it is bounded (NCCL by the deadline, the rest by the
 * watchdog). A rank whose PROGRAM cannot run so keeps every rank off the GPUs, and a
 * rank that cannot bind its GPU, or whose world or group init fails, makes its peers
 * skip the NCCL steps that would wait for it until the deadline: the job fails at once.
 *
 * Test hooks, read here and documented in main.c: HGRID_TEST_FAIL_RANK (and _PHASE),
 * HGRID_TEST_SLOW_RANK, HGRID_TEST_MPI_ERROR_RANK, HGRID_TEST_LEAK_FD,
 * HGRID_TEST_ABORT_RANK, HGRID_TEST_HANG_RANK, HGRID_TEST_NO_SHARE. */
#include "agent.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program.h"
#include "protocol.h"


static int env_rank(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long r;
    if (!v || !*v)
        return -1;
    r = strtol(v, &end, 10);
    return *end || r < 0 || r > INT_MAX ? -1 : (int)r;
}

void hg_agent_opts_default(hg_agent_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backend = -1;
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

/* Runs one timed step unless this rank has failed already; records where it failed. */
static int step(hg_agent *a, hg_phase p, int (*fn)(hg_agent *, hg_error *), int rc, hg_error *own)
{
    double t;
    if (rc != 0 || !fn)
        return rc;
    enter(a, p);
    t = hg_now();
    rc = fn(a, own);
    a->times[p] += hg_now() - t;
    if (rc != 0)
        a->failed_phase = p;
    return rc;
}

static int pick_backend(hg_agent *a, hg_error *err)
{
    if (a->backend == HG_BACKEND_MPI) {
        a->ops = &hg_backend_mpi_ops;
        return 0;
    }
#ifdef HG_HAVE_NCCL
    (void)err;
    a->ops = &hg_backend_nccl_ops;
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
        hg_comm_set_build(&a->view, a->opts.share, &a->comms);
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

/* Everyone learns whether anyone failed so far, and which kinds anyone splits (the
 * same answer each round: creates is fixed once the view is). Called by every rank at
 * the same points, whatever its own rc. */
static int agree(hg_agent *a, int rc, hg_error *own)
{
    int in[2] = { rc != 0, (int)a->comms.creates }, out[2] = { 0, 0 };
    int mrc = MPI_Allreduce(in, out, 2, MPI_INT, MPI_BOR, a->ctrl);
    if (mrc != MPI_SUCCESS) {
        if (rc != 0)
            return rc; /* this rank's own failure is the better reason */
        a->failed_phase = a->phase;
        return hg_mpi_fail(own, mrc, a->rank, "MPI_Allreduce(pre-flight status)");
    }
    a->comms.splits = (unsigned)out[1];
    if (rc == 0 && out[0]) {
        a->failed_phase = a->phase;
        return hg_error_set(own, HG_EPEER, "rank %d: skipped the rest of pre-flight after phase "
                            "%s: another rank failed", a->rank, hg_phase_name(a->phase));
    }
    return rc;
}

/* HGRID_TEST_FAIL_RANK: this rank fails at the end of HGRID_TEST_FAIL_PHASE. */
static int inject_failure(hg_agent *a, hg_phase p, int rc, hg_error *own)
{
    const char *want = getenv("HGRID_TEST_FAIL_PHASE");
    if (rc != 0 || env_rank("HGRID_TEST_FAIL_RANK") != a->rank
        || strcmp(want && *want ? want : "gpu", hg_phase_name(p)) != 0)
        return rc;
    a->failed_phase = p;
    return hg_error_set(own, HG_EINVAL, "rank %d: injected pre-flight failure "
                        "(HGRID_TEST_FAIL_RANK=%d)", a->rank, a->rank);
}

/* HGRID_TEST_SLOW_RANK: verification done, this rank sleeps past the deadline and
 * reports what a rank whose NCCL all-reduce never settled reports. */
static int slow_verify(hg_agent *a, hg_error *err)
{
    struct timespec ts = { 0, 50000000L };
    while (hg_now() < a->deadline + 0.2)
        nanosleep(&ts, NULL);
    return hg_error_set(err, HG_ETIMEDOUT, "rank %d: verify did not complete within the %d s "
                        "init timeout (HGRID_TEST_SLOW_RANK=%d)", a->rank, a->timeout_s, a->rank);
}

/* HGRID_TEST_MPI_ERROR_RANK: a send to a rank that does not exist, on the control
 * communicator and, with the MPI backend, on the backend's world. Both must return an
 * error (MPI_ERRORS_RETURN); an errors-are-fatal communicator would abort the job. */
static int mpi_error(hg_agent *a, hg_error *err)
{
    MPI_Comm comms[2] = { a->ctrl, MPI_COMM_NULL };
    int x = 0, mrc = MPI_SUCCESS;
    if (a->backend == HG_BACKEND_MPI)
        comms[1] = *(MPI_Comm *)a->ops->comm(a, HG_SLOT_WORLD);
    for (int i = 0; i < 2 && comms[i] != MPI_COMM_NULL; i++)
        if ((mrc = MPI_Send(&x, 1, MPI_INT, a->world, 0, comms[i])) == MPI_SUCCESS)
            return hg_error_set(err, HG_EINVAL, "rank %d: MPI_Send to rank %d succeeded "
                                "(HGRID_TEST_MPI_ERROR_RANK)", a->rank, a->world);
    return hg_mpi_fail(err, mrc, a->rank, "MPI_Send to a missing rank (HGRID_TEST_MPI_ERROR_RANK)");
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
    if (env_rank("HGRID_TEST_NO_SHARE") == 1)
        a->opts.share = 0; /* rank 0's choice reaches every rank with the config */
    a->t0 = hg_now();
    a->ctrl = MPI_COMM_NULL;
    a->local = MPI_COMM_NULL;
    a->device = -1;
    a->rank = -1;
    /* Until the config says otherwise, the watchdog allows the config's own default. */
    a->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : HG_TIMEOUT_DEFAULT_S;
    a->deadline = a->t0 + a->timeout_s;
    if ((rc = hg_watchdog_start(&a->wd, watchdog_deadline(a), a->timeout_s, err)) != 0) {
        free(a);
        return rc;
    }

    enter(a, HG_PHASE_BOOTSTRAP);
#ifdef HG_HAVE_NCCL
    if (opts->backend != HG_BACKEND_MPI)
        hg_nccl_prewarm_start(a);
#endif
    if ((rc = hg_bootstrap(a, err)) != 0 || (rc = pick_backend(a, err)) != 0) {
        /* Config problems are the same on every rank: all stop here, rank 0 has said why. */
        if (rc != HG_ECONFIG && a->rank == 0)
            fprintf(stderr, "hgrid: %s\n", err->msg);
        goto fail;
    }
#ifdef HG_HAVE_NCCL
    if (a->backend == HG_BACKEND_MPI)
        hg_nccl_prewarm_join(a); /* the config chose mpi: no GPU needed after all */
#endif
    a->deadline = a->t0 + a->timeout_s;
    hg_watchdog_rearm(&a->wd, watchdog_deadline(a), a->timeout_s);

    rc = step(a, HG_PHASE_BOOTSTRAP, view_step, 0, &own);
    rc = step(a, HG_PHASE_BOOTSTRAP, program_step, rc, &own);
    a->times[HG_PHASE_BOOTSTRAP] = hg_now() - a->t0; /* from the very start */
    rc = agree(a, rc, &own);

    enter(a, HG_PHASE_GPU);
    rc = step(a, HG_PHASE_GPU, a->ops->bind, rc, &own);
    rc = inject_failure(a, HG_PHASE_GPU, rc, &own);
    rc = agree(a, rc, &own);
    rc = step(a, HG_PHASE_WORLD, a->ops->world, rc, &own);
    rc = inject_failure(a, HG_PHASE_WORLD, rc, &own);
    rc = agree(a, rc, &own);
    rc = step(a, HG_PHASE_GROUPS, a->ops->groups, rc, &own);
    rc = inject_failure(a, HG_PHASE_GROUPS, rc, &own);
    rc = agree(a, rc, &own);
    if (a->verify) {
        rc = step(a, HG_PHASE_VERIFY, hg_verify, rc, &own);
        if (env_rank("HGRID_TEST_SLOW_RANK") == a->rank)
            rc = step(a, HG_PHASE_VERIFY, slow_verify, rc, &own);
        if (env_rank("HGRID_TEST_MPI_ERROR_RANK") == a->rank)
            rc = step(a, HG_PHASE_VERIFY, mpi_error, rc, &own);
    }
    if (env_rank("HGRID_TEST_LEAK_FD") == 1 && open("/dev/null", O_RDONLY) < 0)
        fprintf(stderr, "hgrid: rank %d: HGRID_TEST_LEAK_FD: cannot open /dev/null\n", a->rank);

    if (env_rank("HGRID_TEST_ABORT_RANK") == a->rank) {
        fprintf(stderr, "hgrid: rank %d: aborting (HGRID_TEST_ABORT_RANK)\n", a->rank);
        abort();
    }
    if (env_rank("HGRID_TEST_HANG_RANK") == a->rank) {
        fprintf(stderr, "hgrid: rank %d: hanging (HGRID_TEST_HANG_RANK)\n", a->rank);
        for (;;)
            pause();
    }

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
    hg_nccl_prewarm_join(a); /* bootstrap failed before bind() */
#endif
    if (a->ops && a->ops->release)
        a->ops->release(a, failed);
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
