/* Fault hooks for the integration tests (tests/agent_test.sh, tests/launch_test.sh,
 * tests/gpu/run.sh), read from HGRID_TEST_* environment variables: the one seam of
 * fault injection. The agent's steps call it (agent.c, bridges.c), never a backend:
 * a fault reaches a backend only as what the agent asks of it (a larger world, links
 * it is not given). They exist only in
 * the test variant, built with -DHG_TEST_HOOKS (build/test/); in the product every
 * function below is a no-op that finds no hook, so the shipped hgrid-agent and libhgrid
 * hold no HGRID_TEST_ name, and a stray variable (the launcher passes every HGRID_* to
 * every host) can neither hang nor kill a real job. Header-only and private to agent/'s
 * steps: the test variant needs no source file of its own, only the define.
 *
 *   HGRID_TEST_FAIL_RANK=R       rank R fails pre-flight with an "injected" message, at
 *                                the end of phase HGRID_TEST_FAIL_PHASE (gpu, the
 *                                default; world; groups); with HGRID_TEST_FAIL_ATTEMPT=K
 *                                only in attempt K of a restarted job (HGRID_RESTART_COUNT);
 *   HGRID_TEST_SLOW_RANK=R       rank R's verify step outlives the readiness deadline
 *                                and reports that it timed out (as an NCCL call that
 *                                never settles does): every rank exits 124;
 *   HGRID_TEST_MPI_ERROR_RANK=R  rank R's verify step makes an MPI call fail (a send to
 *                                a rank that does not exist), which must come back as
 *                                an error, not abort the job;
 *   HGRID_TEST_LEAK_FD=1         every rank opens a descriptor without close-on-exec
 *                                during pre-flight, as NCCL does, which PROGRAM must
 *                                not inherit;
 *   HGRID_TEST_ABORT_RANK=R      rank R calls abort() just before readiness;
 *   HGRID_TEST_HANG_RANK=R       rank R sleeps forever just before readiness;
 *   HGRID_TEST_NO_SHARE=1        one communicator per kind even where members coincide
 *                                (exercises ncclCommSplit on a single GPU);
 *   HGRID_TEST_NCCL_PHANTOM_PEER=1  the backend is told of a world one rank larger
 *                                than the job, so NCCL's init never completes: the
 *                                deadline and ncclCommAbort path, on a single GPU;
 *   HGRID_TEST_BRIDGE_SILENT_RANK=R  rank R leaves its bridge links out of the backend
 *                                (it sends and receives nothing on them) and says its
 *                                side is done: its peers must name it (bridges.c),
 *                                well before the deadline;
 *                                with HGRID_TEST_BRIDGE_MUTE=1 it does not say so either,
 *                                so its peers can name it only at the deadline;
 *   HGRID_TEST_SLOW_BOOTSTRAP=S  every rank spends S more seconds in phase bootstrap
 *                                (after MPI_Init), as 64 ranks starting on a few cores
 *                                do: a deadline that bootstrap ate most of;
 *   HGRID_TEST_HOSTS_OF=N        every rank reports host "testnode<rank / N>" instead of
 *                                its own (nodes of N consecutive ranks): the placement
 *                                check on reported hosts, on one machine.
 *
 * (The GPU tests' HGRID_TEST_REAL_AGENT and HGRID_TEST_VISIBLE are read by their
 * scripts only, never by a program.) */
#ifndef HG_TESTHOOKS_H
#define HG_TESTHOOKS_H

#include "backend.h"
#include "util/error.h"

#ifdef HG_TEST_HOOKS

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/intparse.h"

/* The rank (or the 1 of a switch) a hook variable names; -1: none. */
static inline int hg_test_rank(const char *name)
{
    return hg_int_env(name, INT_MAX);
}

/* HGRID_TEST_NO_SHARE: whether to build one communicator per kind. */
static inline int hg_test_no_share(void)
{
    return hg_test_rank("HGRID_TEST_NO_SHARE") == 1;
}

/* HGRID_TEST_FAIL_RANK/_PHASE: HG_EINVAL, with the injected message, when this is the
 * rank and phase is the phase's name; else 0. */
static inline int hg_test_fail(int rank, const char *phase, hg_error *err)
{
    const char *want = getenv("HGRID_TEST_FAIL_PHASE");
    int attempt = hg_test_rank("HGRID_TEST_FAIL_ATTEMPT");
    if (hg_test_rank("HGRID_TEST_FAIL_RANK") != rank
        || strcmp(want && *want ? want : "gpu", phase) != 0
        || (attempt >= 0 && hg_int_env("HGRID_RESTART_COUNT", INT_MAX) != attempt))
        return 0;
    return hg_error_set(err, HG_EINVAL, "rank %d: injected pre-flight failure "
                        "(HGRID_TEST_FAIL_RANK=%d)", rank, rank);
}

/* After verification, HGRID_TEST_SLOW_RANK: sleep past the deadline and report what a
 * rank whose NCCL all-reduce never settled reports. HGRID_TEST_MPI_ERROR_RANK: a send
 * to a rank that does not exist, on the control communicator and on world (the MPI
 * backend's world communicator; MPI_COMM_NULL with another backend); both must return
 * an error (MPI_ERRORS_RETURN), as an errors-are-fatal communicator would abort the
 * job. Returns 0 when neither names this rank. */
static inline int hg_test_verify(const hg_backend_rank *b, MPI_Comm world, hg_error *err)
{
    if (hg_test_rank("HGRID_TEST_SLOW_RANK") == b->rank) {
        struct timespec ts = { 0, 50000000L };
        while (hg_now() < b->deadline + 0.2)
            nanosleep(&ts, NULL);
        return hg_error_set(err, HG_ETIMEDOUT, "rank %d: verify did not complete within the "
                            "%d s init timeout (HGRID_TEST_SLOW_RANK=%d)", b->rank,
                            b->settings->timeout_s,
                            b->rank);
    }
    if (hg_test_rank("HGRID_TEST_MPI_ERROR_RANK") == b->rank) {
        MPI_Comm comms[2] = { b->ctrl, world };
        int x = 0, mrc = MPI_SUCCESS;
        for (int i = 0; i < 2 && comms[i] != MPI_COMM_NULL; i++)
            if ((mrc = MPI_Send(&x, 1, MPI_INT, b->world, 0, comms[i])) == MPI_SUCCESS)
                return hg_error_set(err, HG_EINVAL, "rank %d: MPI_Send to rank %d succeeded "
                                    "(HGRID_TEST_MPI_ERROR_RANK)", b->rank, b->world);
        return hg_mpi_fail(err, mrc, b->rank,
                           "MPI_Send to a missing rank (HGRID_TEST_MPI_ERROR_RANK)");
    }
    return 0;
}

/* Just before readiness: HGRID_TEST_LEAK_FD, HGRID_TEST_ABORT_RANK, HGRID_TEST_HANG_RANK. */
static inline void hg_test_before_readiness(int rank)
{
    if (hg_test_rank("HGRID_TEST_LEAK_FD") == 1 && open("/dev/null", O_RDONLY) < 0)
        fprintf(stderr, "hgrid: rank %d: HGRID_TEST_LEAK_FD: cannot open /dev/null\n", rank);
    if (hg_test_rank("HGRID_TEST_ABORT_RANK") == rank) {
        fprintf(stderr, "hgrid: rank %d: aborting (HGRID_TEST_ABORT_RANK)\n", rank);
        abort();
    }
    if (hg_test_rank("HGRID_TEST_HANG_RANK") == rank) {
        fprintf(stderr, "hgrid: rank %d: hanging (HGRID_TEST_HANG_RANK)\n", rank);
        for (;;)
            pause();
    }
}

/* HGRID_TEST_NCCL_PHANTOM_PEER: ranks to add to the world the backend builds, which
 * will never come. */
static inline int hg_test_phantom_ranks(void)
{
    return hg_test_rank("HGRID_TEST_NCCL_PHANTOM_PEER") == 1;
}

/* HGRID_TEST_BRIDGE_SILENT_RANK: 0, or 1 when this rank leaves its bridge links out of
 * the backend, 2 when it does not say how they ended either (HGRID_TEST_BRIDGE_MUTE). */
static inline int hg_test_bridge_silent(int rank)
{
    if (hg_test_rank("HGRID_TEST_BRIDGE_SILENT_RANK") != rank)
        return 0;
    return hg_test_rank("HGRID_TEST_BRIDGE_MUTE") == 1 ? 2 : 1;
}

/* HGRID_TEST_HOSTS_OF: this rank's made-up host name (nodes of N ranks), if set. */
static inline void hg_test_host(int rank, char *host, size_t len)
{
    int n = hg_test_rank("HGRID_TEST_HOSTS_OF");
    if (n > 0)
        snprintf(host, len, "testnode%d", rank / n);
}

/* HGRID_TEST_SLOW_BOOTSTRAP: sleeps that many seconds. */
static inline void hg_test_slow_bootstrap(void)
{
    int s = hg_test_rank("HGRID_TEST_SLOW_BOOTSTRAP");
    if (s > 0)
        sleep((unsigned)s);
}

#else /* the product: no hooks */

static inline void hg_test_slow_bootstrap(void)
{
}

static inline void hg_test_host(int rank, char *host, size_t len)
{
    (void)rank, (void)host, (void)len;
}

static inline int hg_test_no_share(void)
{
    return 0;
}

static inline int hg_test_fail(int rank, const char *phase, hg_error *err)
{
    (void)rank, (void)phase, (void)err;
    return 0;
}

static inline int hg_test_verify(const hg_backend_rank *b, MPI_Comm world, hg_error *err)
{
    (void)b, (void)world, (void)err;
    return 0;
}

static inline void hg_test_before_readiness(int rank)
{
    (void)rank;
}

static inline int hg_test_phantom_ranks(void)
{
    return 0;
}

static inline int hg_test_bridge_silent(int rank)
{
    (void)rank;
    return 0;
}

#endif
#endif
