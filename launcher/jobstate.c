/* The attempt's state machine and its verdict. The verdict is a pure function: the same
 * stop reason and facts always give the same status and words (tests/test_jobstate.c
 * holds the table). One meaning per exit code (protocol.h): a job that never started is
 * 4 whatever mpirun said; a failure before go is a pre-flight failure (3), a usage error
 * (2) when the agents said so, and the deadline (124) whenever any rank's deadline
 * passed, whatever its peers made of the silence first; after go the status is the
 * workload's own, whatever its value; a lost host or a rank whose status never came is
 * 7, never success. */
#include "jobstate.h"

#include <stdio.h>
#include <string.h>

#include "wire/protocol.h"

const char *hg_job_state_name(hg_job_state s)
{
    static const char *const names[] = { "starting", "pre-flight", "running", "stopping",
                                         "ended" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *hg_stop_name(hg_stop s)
{
    static const char *const names[] = { "none",     "workload", "preflight",   "deadline",
                                         "stall",    "operator", "usage",       "not_started",
                                         "host_lost", "rank_lost" };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int hg_stop_restartable(hg_stop stop)
{
    switch (stop) {
    case HG_STOP_WORKLOAD:
    case HG_STOP_PREFLIGHT:
    case HG_STOP_DEADLINE:
    case HG_STOP_STALL:
    case HG_STOP_HOST_LOST:
    case HG_STOP_RANK_LOST:
        return 1;
    default:
        return 0;
    }
}

void hg_jobstate_init(hg_jobstate *j)
{
    *j = (hg_jobstate){ .state = HG_JOB_STARTING, .stop = HG_STOP_NONE };
}

int hg_jobstate_move(hg_jobstate *j, hg_job_state to)
{
    if (j->state == HG_JOB_ENDED || to < j->state || to > HG_JOB_ENDED)
        return -1;
    /* A stopping attempt only ends: the ranks that report go meanwhile change nothing. */
    if (j->state == HG_JOB_STOPPING && to != HG_JOB_STOPPING && to != HG_JOB_ENDED)
        return -1;
    j->state = to;
    return 0;
}

int hg_jobstate_stop(hg_jobstate *j, hg_stop why, double now)
{
    if (j->stopped || j->state == HG_JOB_ENDED)
        return 0;
    j->stopped = 1;
    j->stop = why;
    j->stop_at = now;
    j->state = HG_JOB_STOPPING;
    return 1;
}

/* "rank 3 (radio_encoder) was the first to fail, killed by signal 6 (Aborted)" */
static void first_words(const hg_job_facts *f, char *buf, size_t len)
{
    if (f->first_rank < 0) {
        buf[0] = '\0';
    } else if (f->first_signal) {
        snprintf(buf, len, "rank %d (%s) was the first to fail, killed by signal %d (%s)",
                 f->first_rank, f->first_module ? f->first_module : "?", f->first_signal,
                 strsignal(f->first_signal));
    } else {
        snprintf(buf, len, "rank %d (%s) was the first to fail, exit status %d", f->first_rank,
                 f->first_module ? f->first_module : "?", f->first_code);
    }
}

/* The stop reason of an attempt that ended without one being set: from how it ended. */
static hg_stop found_stop(const hg_job_facts *f)
{
    if (f->exec_errno)
        return HG_STOP_NOT_STARTED;
    if (f->started && f->decision != 1 && f->launcher_code != 0
        && (f->launcher_code == HG_EXIT_DEADLINE || f->deadline_reports > 0))
        return HG_STOP_DEADLINE;
    if (!f->started)
        return HG_STOP_NOT_STARTED;
    if (f->decision != 1 && f->launcher_code != 0)
        return f->launcher_code == HG_EXIT_USAGE ? HG_STOP_USAGE : HG_STOP_PREFLIGHT;
    if (f->first_rank >= 0 || f->launcher_code != 0)
        return HG_STOP_WORKLOAD;
    /* mpirun said 0 and no rank failed: success only when every rank's status came. */
    if (f->channel && f->exited < f->world)
        return HG_STOP_RANK_LOST;
    return HG_STOP_NONE;
}

void hg_job_verdict(const hg_jobstate *j, const hg_job_facts *f, hg_verdict *v)
{
    char first[256];
    size_t wl = sizeof(v->why);
    hg_stop stop = j->stopped ? j->stop : found_stop(f);
    first_words(f, first, sizeof(first));
    *v = (hg_verdict){ .stop = stop, .blame_rank = -1 };
    switch (stop) {
    case HG_STOP_NOT_STARTED:
        v->status = HG_EXIT_NOT_STARTED;
        if (f->exec_errno)
            snprintf(v->why, wl, "cannot run '%s': %s", f->launcher, strerror(f->exec_errno));
        else if (f->launcher_signal)
            snprintf(v->why, wl, "%s was killed by signal %d before any rank started",
                     f->launcher, f->launcher_signal);
        else
            snprintf(v->why, wl, "%s exited with status %d before any rank started", f->launcher,
                     f->launcher_code);
        break;
    case HG_STOP_OPERATOR:
        v->status = 128 + f->operator_signal;
        snprintf(v->why, wl, "stopped by %s", strsignal(f->operator_signal));
        break;
    case HG_STOP_DEADLINE:
        v->status = HG_EXIT_DEADLINE;
        snprintf(v->why, wl, "readiness deadline of %d s passed with %d/%d ranks ready",
                 f->deadline_s, f->ready, f->world);
        break;
    case HG_STOP_STALL:
        v->status = HG_EXIT_STALLED;
        snprintf(v->why, wl, "ranks stalled: no heartbeat for %d s", f->stall_s);
        break;
    case HG_STOP_USAGE:
    case HG_STOP_PREFLIGHT:
        v->status = stop == HG_STOP_USAGE ? HG_EXIT_USAGE : HG_EXIT_PREFLIGHT;
        v->blame_rank = f->first_rank;
        snprintf(v->why, wl, "pre-flight failed with %d/%d ranks ready%s%s", f->ready, f->world,
                 first[0] ? ": " : "", first);
        break;
    case HG_STOP_HOST_LOST:
        v->status = HG_EXIT_LOST;
        snprintf(v->why, wl, "host %s lost: %s", f->lost_host ? f->lost_host : "?",
                 f->lost_how ? f->lost_how : "no word from its ranks");
        break;
    case HG_STOP_RANK_LOST:
        v->status = HG_EXIT_LOST;
        snprintf(v->why, wl, "rank%s %s ended with no exit status from %s program",
                 f->missing && strpbrk(f->missing, ",-") ? "s" : "",
                 f->missing ? f->missing : "?",
                 f->missing && strpbrk(f->missing, ",-") ? "their" : "its");
        break;
    case HG_STOP_WORKLOAD:
        /* The workload's own status: the first failed rank's, which mpirun may not have
         * seen first, as the keepers are released together. */
        v->status = f->first_rank >= 0 ? f->first_code : f->launcher_code;
        v->blame_rank = f->first_rank;
        if (v->status == 0) /* stopped for a rank that failed, whatever mpirun said */
            v->status = 1;
        snprintf(v->why, wl, "%s", first[0] ? first : "the workload failed");
        break;
    case HG_STOP_NONE:
        break;
    }
    v->restartable = hg_stop_restartable(stop);
}

void hg_job_closing_line(const hg_verdict *v, const hg_job_facts *f, char *buf, size_t len)
{
    char first[256];
    first_words(f, first, sizeof(first));
    buf[0] = '\0';
    switch (v->stop) {
    case HG_STOP_NONE:
    case HG_STOP_OPERATOR:
        break;
    case HG_STOP_NOT_STARTED:
        snprintf(buf, len, "hgrid: the job could not be started: %s\n", v->why);
        break;
    case HG_STOP_DEADLINE:
        snprintf(buf, len, "hgrid: %s; the job ended\n", v->why);
        break;
    case HG_STOP_STALL:
    case HG_STOP_HOST_LOST:
    case HG_STOP_RANK_LOST:
        snprintf(buf, len, "hgrid: the job ended: %s; exit status %d\n", v->why, v->status);
        break;
    case HG_STOP_PREFLIGHT:
    case HG_STOP_USAGE:
        snprintf(buf, len, "hgrid: the job failed before every rank was ready (%d/%d)%s%s; exit "
                 "status %d\n", f->ready, f->world, first[0] ? ": " : "", first, v->status);
        break;
    case HG_STOP_WORKLOAD:
        if (first[0])
            snprintf(buf, len, "hgrid: workload failed: %s; job exit status %d\n", first,
                     v->status);
        else
            snprintf(buf, len, "hgrid: workload failed with exit status %d\n", v->status);
        break;
    }
}
