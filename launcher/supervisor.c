/* Supervision of a standalone launch.
 *
 * The launcher makes itself a child subreaper, so ranks that mpirun forks (each in its
 * own process group) and anything they leave behind are re-parented here when their
 * parent dies; after mpirun exits, whatever is still a child of ours is killed and
 * reaped. mpirun runs in its own process group with its stdout and stderr on pipes
 * to us, so a terminal's Ctrl-C reaches only the launcher, and neither mpirun nor a
 * rank ever writes to the terminal (with `stty tostop` a background group that did
 * would be stopped by SIGTTOU).
 *
 * Stopping. Open MPI cannot forward SIGINT, SIGTERM or SIGHUP (it answers them by
 * killing the job: SIGTERM, then SIGKILL one second later), and it kills every rank as
 * soon as one exits non-zero. A workload that saves a checkpoint on a signal needs
 * that signal and time. So on the first signal the launcher stops mpirun (SIGSTOP),
 * sends the signal itself to the process group of every rank on this host (the
 * children of mpirun), and resumes mpirun once they have all exited, or kills
 * everything when the grace period ends; a second signal kills at once. Ranks on
 * other hosts are reached only through mpirun once it resumes: SIGTERM, then SIGKILL.
 * While mpirun is stopped it does not relay the ranks' output: each rank's pipe holds
 * 64 KiB, and a rank that writes more waits until the end of the grace period.
 *
 * Output. Every stream is read to its end, however slow our own reader is: bytes
 * wait in hg_outq queues, written when poll says the reader takes more, and reading
 * from mpirun pauses while a queue is over QUEUE_HIGH (mpirun then waits, as it would
 * on a slow terminal). Signals are read through a signalfd in the same poll loop, so
 * no work happens in signal handlers and a stalled reader never delays a stop. */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "intparse.h"
#include "outq.h"
#include "proc.h"
#include "progress.h"
#include "protocol.h"

#define BACKSTOP_KILL_GRACE_S 5.0
#define QUEUE_HIGH (8u << 20)
/* After mpirun and everything we started are gone, a stream still open can only be
 * held by a process outside the job; stop waiting for it after this long in silence. */
#define ORPHAN_STREAM_S 10.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls fn(pid, state, arg) for every process whose parent is ppid; returns the count. */
static int each_child(pid_t ppid, void (*fn)(pid_t, char, void *), void *arg)
{
    int found = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        hg_proc_stat st;
        if (hg_int_parse(e->d_name, 1, INT_MAX, &pid) != 0 || hg_proc_stat_read(pid, &st) != 0
            || st.ppid != ppid)
            continue;
        found++;
        if (fn)
            fn((pid_t)pid, st.state, arg);
    }
    closedir(d);
    return found;
}

static void kill_one(pid_t pid, char state, void *arg)
{
    (void)state;
    kill(pid, *(int *)arg);
}

/* Kills and reaps every remaining child (re-parented orphans included). Bounded:
 * each pass can only find processes that were already descendants. */
static void sweep_children(void)
{
    int sig = SIGKILL;
    for (int pass = 0; pass < 50; pass++) {
        int found = each_child(getpid(), kill_one, &sig);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!found)
            return;
        usleep(20000);
    }
}

/* A rank is a child of mpirun in a process group of its own (Open MPI puts it there);
 * the whole group gets the signal, as a terminal's Ctrl-C reaches a foreground job's
 * helpers too (data loaders, a log relay). */
static void signal_rank(pid_t pid, char state, void *arg)
{
    int sig = *(int *)arg;
    if (state == 'Z')
        return;
    if (getpgid(pid) == pid)
        kill(-pid, sig);
    else
        kill(pid, sig);
}

static void count_live(pid_t pid, char state, void *arg)
{
    (void)pid;
    if (state != 'Z' && state != 'X')
        ++*(int *)arg;
}

typedef struct sup {
    const hg_supervise_opts *o;
    FILE *err;            /* our stderr, through its queue */
    hg_outq *out_q, *err_q;
    pid_t child;
    int child_done, child_status;
    int exec_errno;       /* mpirun could not be executed */
    int stop_signal;      /* the first signal received, 0 when none */
    int signals_seen;
    int deadline_hit;
    int mpirun_stopped;   /* SIGSTOPped while local ranks finish */
    double kill_at;       /* when to SIGKILL a job that is being stopped; 0: not stopping */
    hg_progress *progress;
    double start;
} sup;

static void kill_now(sup *s)
{
    if (!s->child_done) {
        int sig = SIGKILL;
        each_child(s->child, signal_rank, &sig);
        kill(-s->child, SIGKILL);
        kill(s->child, SIGKILL);
    }
    s->mpirun_stopped = 0;
    s->kill_at = 0;
}

/* Delivers sig to the ranks on this host and holds mpirun back while they finish;
 * with no rank to reach (mpirun is still starting them), mpirun gets it. */
static void begin_stop(sup *s, int sig, double grace, double now)
{
    if (!s->child_done) {
        int ranks = each_child(s->child, NULL, NULL);
        if (ranks > 0 && kill(s->child, SIGSTOP) == 0) {
            s->mpirun_stopped = 1;
            each_child(s->child, signal_rank, &sig);
        } else {
            kill(s->child, sig);
        }
    }
    if (s->kill_at == 0)
        s->kill_at = now + grace;
}

/* mpirun resumes once no rank of this host is left running: it reaps them, and
 * stops the ranks elsewhere or exits. */
static void maybe_resume(sup *s)
{
    int live = 0;
    if (!s->mpirun_stopped || s->child_done)
        return;
    each_child(s->child, count_live, &live);
    if (live == 0) {
        kill(s->child, SIGCONT);
        s->mpirun_stopped = 0;
    }
}

static void reap(sup *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (pid == s->child) {
            s->child_done = 1;
            s->child_status = st;
        }
    }
}

static void on_signal(sup *s, int sig, double now)
{
    if (sig == SIGCHLD)
        return;
    s->signals_seen++;
    hg_progress_clear(s->progress);
    if (s->signals_seen == 1) {
        s->stop_signal = sig;
        if (s->o->grace_s > 0)
            fprintf(s->err, "hgrid: %s received: passed to the job, which has %d s to exit "
                    "(again to kill it now)\n", strsignal(sig), s->o->grace_s);
        else
            fprintf(s->err, "hgrid: %s received, stopping the job\n", strsignal(sig));
        begin_stop(s, sig, s->o->grace_s, now);
    } else {
        fprintf(s->err, "hgrid: %s received again, killing the job\n", strsignal(sig));
        kill_now(s);
    }
}

static void child_exec(const hg_supervise_opts *o, int outfd, int errfd, int execfd,
                       const sigset_t *oldmask, pid_t parent)
{
    int e;
    setpgid(0, 0);
    /* If the launcher dies (even SIGKILL), mpirun is told to stop its job; if it died
     * before this line, nobody would tell it, so do not start at all. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(HG_EXIT_NOT_STARTED);
    if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
        goto fail;
    /* A background process group reading the terminal would stop on SIGTTIN. */
    if (isatty(STDIN_FILENO)) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0 && dup2(null, STDIN_FILENO) >= 0 && null != STDIN_FILENO)
            close(null);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    execvp(o->argv[0], o->argv);
fail:
    e = errno;
    (void)!write(execfd, &e, sizeof(e));
    _exit(HG_EXIT_NOT_STARTED); /* the parent reads e and says why */
}

static const char *module_name(const sup *s, int rank)
{
    int mi = hg_layout_module_of(s->o->layout, rank);
    return mi >= 0 ? hg_layout_module(s->o->layout, (size_t)mi)->name : "?";
}

/* "rank 3 (radio_encoder) was the first to fail, killed by signal 6 (Aborted)" */
static int describe_first_failure(const sup *s, char *buf, size_t len)
{
    int rank, code, sig;
    if (hg_progress_first_failure(s->progress, &rank, &code, &sig) != 0)
        return -1;
    if (sig)
        snprintf(buf, len, "rank %d (%s) was the first to fail, killed by signal %d (%s)", rank,
                 module_name(s, rank), sig, strsignal(sig));
    else
        snprintf(buf, len, "rank %d (%s) was the first to fail, exit status %d", rank,
                 module_name(s, rank), code);
    return 0;
}

/* The coordinator writes the readiness report; when the job ended before it could
 * (a rank killed during pre-flight takes the job down with it), the launcher writes
 * what it knows, so a --report file always exists after a failed pre-flight. */
static void write_fallback_report(const sup *s, int status, const char *why)
{
    const hg_supervise_opts *o = s->o;
    int rank, code, sig;
    json_t *ranks = json_array();
    if (ranks && hg_progress_first_failure(s->progress, &rank, &code, &sig) == 0)
        json_array_append_new(ranks, json_pack("{s:i, s:s, s:s, s:i, s:i}", "rank", rank,
                                               "module", module_name(s, rank), "status",
                                               "failed", "exit_status", sig ? -1 : code,
                                               "signal", sig));
    json_t *root = json_pack("{s:i, s:i, s:s, s:i, s:b, s:s, s:s, s:i, s:i, s:o}", "hgrid_ready",
                             1, "world_size", o->world, "backend", o->backend ? o->backend : "?",
                             "timeout_s", o->deadline_s, "go", 0, "written_by", "hgrid-launch",
                             "error", why, "exit_status", status, "ready",
                             hg_progress_ready(s->progress), "ranks", ranks);
    if (!root || json_dump_file(root, o->report_path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0)
        fprintf(s->err, "hgrid: warning: cannot write the readiness report %s\n", o->report_path);
    json_decref(root);
}

/* The exit status and the closing lines, from what the job told us. One meaning per
 * code (protocol.h): a job that never started is 4 whatever mpirun said, a failure
 * before go is a pre-flight failure (3) unless the agents chose 2 or 124. */
static int conclude(sup *s)
{
    const hg_supervise_opts *o = s->o;
    int ready = hg_progress_ready(s->progress);
    int decision = hg_progress_decision(s->progress);
    int started = hg_progress_started(s->progress) || decision >= 0;
    char first[256], why[512];
    int named = describe_first_failure(s, first, sizeof(first)) == 0;
    int raw = WIFEXITED(s->child_status) ? WEXITSTATUS(s->child_status)
                                         : 128 + WTERMSIG(s->child_status);
    int st;

    why[0] = '\0';
    if (s->exec_errno) {
        st = HG_EXIT_NOT_STARTED;
        snprintf(why, sizeof(why), "cannot run '%s': %s", o->argv[0], strerror(s->exec_errno));
        fprintf(s->err, "hgrid: the job could not be started: %s\n", why);
    } else if (s->stop_signal) {
        st = 128 + s->stop_signal;
        snprintf(why, sizeof(why), "stopped by %s", strsignal(s->stop_signal));
    } else if (s->deadline_hit) {
        st = HG_EXIT_DEADLINE;
        snprintf(why, sizeof(why), "readiness deadline of %d s passed with %d/%d ranks ready",
                 o->deadline_s, ready, o->world);
        fprintf(s->err, "hgrid: %s; the job ended\n", why);
    } else if (!started) {
        st = HG_EXIT_NOT_STARTED;
        snprintf(why, sizeof(why), "%s %s %d before any rank started", o->argv[0],
                 WIFEXITED(s->child_status) ? "exited with status" : "was killed by signal",
                 WIFEXITED(s->child_status) ? raw : WTERMSIG(s->child_status));
        fprintf(s->err, "hgrid: the job could not be started: %s\n", why);
    } else if (decision != 1 && raw != 0) {
        st = raw == HG_EXIT_USAGE || raw == HG_EXIT_DEADLINE ? raw : HG_EXIT_PREFLIGHT;
        snprintf(why, sizeof(why), "pre-flight failed with %d/%d ranks ready%s%s", ready,
                 o->world, named ? ": " : "", named ? first : "");
        if (raw == HG_EXIT_DEADLINE)
            fprintf(s->err, "hgrid: readiness deadline of %d s passed with %d/%d ranks ready; "
                    "the job ended\n", o->deadline_s, ready, o->world);
        else
            fprintf(s->err, "hgrid: the job failed before every rank was ready (%d/%d)%s%s; exit "
                    "status %d\n", ready, o->world, named ? ": " : "", named ? first : "", st);
    } else {
        st = raw; /* the workload's own status */
        if (st != 0 && named)
            fprintf(s->err, "hgrid: workload failed: %s; job exit status %d\n", first, st);
        else if (st != 0)
            fprintf(s->err, "hgrid: workload failed with exit status %d\n", st);
    }
    if (o->report_path && decision != 1 && !hg_progress_report_written(s->progress)
        && st != 0)
        write_fallback_report(s, st, why);
    return st;
}

static int want_read(int fd, const hg_outq *q)
{
    return fd >= 0 && hg_outq_pending(q) < QUEUE_HIGH;
}

int hg_supervise(const hg_supervise_opts *o, int *status, hg_error *err)
{
    sup s = { .o = o };
    sigset_t mask, oldmask;
    int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 }, sfd = -1, rc = 0;

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* A reader of our output going away (`| head`) must not kill the supervisor and
     * orphan the job: its queue is dropped instead. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, &oldmask) != 0)
        return hg_error_set(err, HG_ESYS, "sigprocmask: %s", strerror(errno));
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0
        || pipe2(execp, O_CLOEXEC) != 0) {
        rc = hg_error_set(err, HG_ESYS, "signalfd/pipe: %s", strerror(errno));
        goto out;
    }
    s.out_q = hg_outq_new(STDOUT_FILENO);
    s.err_q = hg_outq_new(STDERR_FILENO);
    s.err = s.err_q ? hg_outq_stream(s.err_q) : NULL;
    s.progress = s.err ? hg_progress_new(s.err, o->world, isatty(STDERR_FILENO), o->token) : NULL;
    if (!s.progress) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory");
        goto out;
    }
    s.start = now_s();
    fflush(NULL);
    pid_t parent = getpid();
    s.child = fork();
    if (s.child < 0) {
        rc = hg_error_set(err, HG_ESYS, "fork: %s", strerror(errno));
        goto out;
    }
    if (s.child == 0)
        child_exec(o, outp[1], errp[1], execp[1], &oldmask, parent);
    setpgid(s.child, s.child); /* also here: no race with the child's own call */
    close(outp[1]);
    close(errp[1]);
    close(execp[1]);
    outp[1] = errp[1] = execp[1] = -1;
    /* EOF once exec succeeded (close-on-exec), or the errno of the failed exec. */
    while (read(execp[0], &s.exec_errno, sizeof(s.exec_errno)) < 0 && errno == EINTR)
        ;

    int fds_in[2] = { outp[0], errp[0] };
    double quiet_since = 0;   /* everything we started is gone; streams still open */
    for (;;) {
        double now = now_s();
        /* The backstop, well after the agents' own deadline lines (protocol.h). */
        if (!s.child_done && !s.deadline_hit && !s.stop_signal && o->deadline_s > 0
            && hg_progress_decision(s.progress) < 0 && hg_progress_ready(s.progress) < o->world
            && now - s.start > hg_deadline_backstop_s(o->deadline_s)) {
            s.deadline_hit = 1;
            hg_progress_clear(s.progress);
            fprintf(s.err, "hgrid: readiness deadline passed (%d/%d ranks ready), stopping "
                    "the job\n", hg_progress_ready(s.progress), o->world);
            begin_stop(&s, SIGTERM, BACKSTOP_KILL_GRACE_S, now);
        }
        if (s.kill_at > 0 && now >= s.kill_at) {
            hg_progress_clear(s.progress);
            fprintf(s.err, "hgrid: the job did not exit within %s; killing it\n",
                    s.deadline_hit ? "5 s" : "the grace period");
            kill_now(&s);
        }
        maybe_resume(&s);
        if (s.child_done && quiet_since == 0) {
            /* Whatever mpirun left behind would keep the streams open: kill it. */
            sweep_children();
            quiet_since = now;
        }
        int open_in = (fds_in[0] >= 0) + (fds_in[1] >= 0);
        if (s.child_done && open_in && now - quiet_since > ORPHAN_STREAM_S) {
            fprintf(s.err, "hgrid: warning: a process outside the job still holds its output "
                    "open; stopped relaying it\n");
            break;
        }
        if (s.child_done && !open_in)
            break;

        struct pollfd fds[5];
        int nf = 0, ix_in[2] = { -1, -1 }, ix_out[2] = { -1, -1 };
        hg_outq *qs[2] = { s.out_q, s.err_q };
        fds[nf++] = (struct pollfd){ sfd, POLLIN, 0 };
        for (int i = 0; i < 2; i++) {
            if (want_read(fds_in[i], qs[i])) {
                ix_in[i] = nf;
                fds[nf++] = (struct pollfd){ fds_in[i], POLLIN, 0 };
            }
            if (hg_outq_pending(qs[i]) > 0) {
                ix_out[i] = nf;
                fds[nf++] = (struct pollfd){ hg_outq_fd(qs[i]), POLLOUT, 0 };
            }
        }
        int n = poll(fds, (nfds_t)nf, 200);
        if (n < 0 && errno != EINTR) {
            rc = hg_error_set(err, HG_ESYS, "poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                on_signal(&s, (int)si.ssi_signo, now_s());
        }
        /* SIGCHLD coalesces and orphans arrive unannounced: reap on every wake-up. */
        reap(&s);
        for (int i = 0; n > 0 && i < 2; i++) {
            if (ix_out[i] >= 0 && (fds[ix_out[i]].revents & (POLLOUT | POLLERR | POLLHUP)))
                hg_outq_write_some(qs[i]);
            if (ix_in[i] < 0 || !(fds[ix_in[i]].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t got = read(fds_in[i], buf, sizeof(buf));
            if (got > 0) {
                quiet_since = s.child_done ? now_s() : quiet_since;
                if (i == 0) {
                    hg_progress_clear(s.progress);
                    hg_outq_put(s.out_q, buf, (size_t)got);
                } else {
                    hg_progress_feed(s.progress, buf, (size_t)got, now_s() - s.start);
                }
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(fds_in[i]);
                fds_in[i] = -1;
                if (i == 1)
                    hg_progress_finish(s.progress);
            }
        }
        hg_progress_tick(s.progress, now_s() - s.start);
    }
    outp[0] = fds_in[0];
    errp[0] = fds_in[1];
    if (errp[0] >= 0)
        hg_progress_finish(s.progress);
    if (!s.child_done) {
        kill_now(&s);
        waitpid(s.child, &s.child_status, 0);
        s.child_done = 1;
    }
    sweep_children();
    *status = conclude(&s);

    /* What is still queued reaches the reader, however slow; a signal now means the
     * user no longer wants to wait. */
    while (hg_outq_pending(s.out_q) + hg_outq_pending(s.err_q) > 0) {
        struct pollfd fds[3] = { { sfd, POLLIN, 0 },
                                 { hg_outq_fd(s.out_q), hg_outq_pending(s.out_q) ? POLLOUT : 0, 0 },
                                 { hg_outq_fd(s.err_q), hg_outq_pending(s.err_q) ? POLLOUT : 0, 0 } };
        if (poll(fds, 3, -1) < 0 && errno != EINTR)
            break;
        int stop = 0;
        struct signalfd_siginfo si;
        while ((fds[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            stop |= si.ssi_signo != SIGCHLD;
        if (stop)
            break;
        if (fds[1].revents)
            hg_outq_write_some(s.out_q);
        if (fds[2].revents)
            hg_outq_write_some(s.err_q);
    }
out:
    hg_progress_free(s.progress);
    hg_outq_free(s.out_q);
    hg_outq_free(s.err_q);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (execp[i] >= 0)
            close(execp[i]);
    }
    if (sfd >= 0)
        close(sfd);
    /* Signals that came after the job ended were handled by ending it; delivering
     * them now would kill the launcher before it cleans up. */
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&mask, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return rc;
}
