/* Supervision of a standalone launch.
 *
 * The launcher makes itself a child subreaper, so ranks that mpirun forks (each in
 * its own process group) and anything they leave behind are re-parented here when
 * their parent dies; after mpirun exits, whatever is still a child of ours is killed
 * and reaped. mpirun runs in its own process group, so a terminal's Ctrl-C reaches
 * only the launcher, which decides: the first signal is forwarded (mpirun tears the
 * job down), a second one, or a stop that takes longer than KILL_GRACE_S, kills.
 * Signals are read through a signalfd in one poll loop with the stderr pipe, so no
 * work happens in signal handlers. */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "progress.h"

#define KILL_GRACE_S 5.0
/* The launcher's deadline is a backstop, well past the agents' own: their
 * coordinator gives up at T + g and their watchdogs at T + 2g, g = clamp(T/10, 1, 5),
 * counted from each agent's start, which comes after ours; their message names the
 * rank and the phase, ours cannot. */
static double backstop_s(int deadline_s)
{
    double g = deadline_s / 10.0;
    g = g < 1 ? 1 : g > 5 ? 5 : g;
    return deadline_s + 2 * g + 10;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Kills and reaps every remaining child (re-parented orphans included). Bounded:
 * each pass can only find processes that were already descendants. */
static void sweep_children(void)
{
    for (int pass = 0; pass < 50; pass++) {
        int found = 0;
        DIR *d = opendir("/proc");
        if (!d)
            return;
        struct dirent *e;
        pid_t self = getpid();
        while ((e = readdir(d))) {
            char path[300], buf[512];
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            /* The command name may hold spaces: fields resume after the last ')'. */
            char *rp = strrchr(buf, ')');
            char state;
            int ppid;
            if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != self)
                continue;
            found = 1;
            kill((pid_t)atoi(e->d_name), SIGKILL);
        }
        closedir(d);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (!found)
            return;
        usleep(20000);
    }
}

typedef struct sup {
    const hg_supervise_opts *o;
    pid_t child;
    int child_done, child_status;
    int stop_signal;      /* the first forwarded signal, 0 when none */
    int signals_seen;
    int deadline_hit;
    double kill_at;       /* when to SIGKILL a job that is being stopped; 0: not stopping */
    hg_progress *progress;
    double start;
} sup;

static void begin_stop(sup *s, int sig, double now)
{
    if (!s->child_done)
        kill(s->child, sig);
    if (s->kill_at == 0)
        s->kill_at = now + KILL_GRACE_S;
}

static void kill_now(sup *s)
{
    if (!s->child_done)
        kill(-s->child, SIGKILL);
    s->kill_at = 0;
}

static void on_signal(sup *s, int sig, double now)
{
    if (sig == SIGCHLD) {
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            if (pid == s->child) {
                s->child_done = 1;
                s->child_status = st;
            }
        }
        return;
    }
    s->signals_seen++;
    hg_progress_clear(s->progress);
    if (s->signals_seen == 1) {
        s->stop_signal = sig;
        fprintf(stderr, "hgrid: %s received, stopping the job (again to kill it)\n",
                strsignal(sig));
        begin_stop(s, sig, now);
    } else {
        fprintf(stderr, "hgrid: %s received again, killing the job\n", strsignal(sig));
        kill_now(s);
    }
}

static void child_exec(const hg_supervise_opts *o, int errfd, const sigset_t *oldmask,
                       pid_t parent)
{
    setpgid(0, 0);
    /* If the launcher dies (even SIGKILL), mpirun is told to stop its job; if it died
     * before this line, nobody would tell it, so do not start at all. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    if (dup2(errfd, STDERR_FILENO) < 0)
        _exit(127);
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
    sigprocmask(SIG_SETMASK, oldmask, NULL);
    execvp(o->argv[0], o->argv);
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "hgrid: cannot run '%s': %s\n", o->argv[0], strerror(errno));
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        _exit(127);
    _exit(127);
}

/* "rank 3 (radio_encoder) was the first to fail, killed by signal 6 (Aborted)" */
static int describe_first_failure(const sup *s, char *buf, size_t len)
{
    int rank, code, sig;
    if (hg_progress_first_failure(s->progress, &rank, &code, &sig) != 0)
        return -1;
    int mi = hg_layout_module_of(s->o->layout, rank);
    const char *module = mi >= 0 ? hg_layout_module(s->o->layout, (size_t)mi)->name : "?";
    if (sig)
        snprintf(buf, len, "rank %d (%s) was the first to fail, killed by signal %d (%s)", rank,
                 module, sig, strsignal(sig));
    else
        snprintf(buf, len, "rank %d (%s) was the first to fail, exit status %d", rank, module,
                 code);
    return 0;
}

static void summarize(sup *s, int status)
{
    const hg_supervise_opts *o = s->o;
    int ready = hg_progress_ready(s->progress);
    char first[256];
    int named = describe_first_failure(s, first, sizeof(first)) == 0;
    if (status == 0 || s->stop_signal)
        return;
    if (s->deadline_hit || (status == 124 && ready < o->world)) {
        fprintf(stderr, "hgrid: readiness deadline of %d s passed with %d/%d ranks ready; "
                "the job ended\n", o->deadline_s, ready, o->world);
    } else if (ready < o->world) {
        fprintf(stderr, "hgrid: the job failed before every rank was ready (%d/%d)%s%s; exit "
                "status %d\n", ready, o->world, named ? ": " : "", named ? first : "", status);
    } else if (named) {
        fprintf(stderr, "hgrid: workload failed: %s; job exit status %d\n", first, status);
    } else {
        fprintf(stderr, "hgrid: workload failed with exit status %d\n", status);
    }
}

int hg_supervise(const hg_supervise_opts *o, int *status, hg_error *err)
{
    sup s = { .o = o };
    sigset_t mask, oldmask;
    int pipefd[2] = { -1, -1 }, sfd = -1, rc = 0;

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* A reader of our stderr going away (`| head`) must not kill the supervisor and
     * orphan the job: failed writes are dropped instead. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, &oldmask) != 0)
        return hg_error_set(err, HG_ESYS, "sigprocmask: %s", strerror(errno));
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = hg_error_set(err, HG_ESYS, "signalfd/pipe: %s", strerror(errno));
        goto out;
    }
    s.progress = hg_progress_new(stderr, o->world, isatty(STDERR_FILENO));
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
        child_exec(o, pipefd[1], &oldmask, parent);
    setpgid(s.child, s.child); /* also here: no race with the child's own call */
    close(pipefd[1]);
    pipefd[1] = -1;

    int pipe_fd = pipefd[0];
    double drain_until = 0;
    for (;;) {
        double now = now_s();
        if (!s.child_done && !s.deadline_hit && !s.stop_signal && o->deadline_s > 0
            && !hg_progress_decided(s.progress) && hg_progress_ready(s.progress) < o->world
            && now - s.start > backstop_s(o->deadline_s)) {
            s.deadline_hit = 1;
            hg_progress_clear(s.progress);
            fprintf(stderr, "hgrid: readiness deadline passed (%d/%d ranks ready), stopping "
                    "the job\n", hg_progress_ready(s.progress), o->world);
            begin_stop(&s, SIGTERM, now);
        }
        if (s.kill_at && now >= s.kill_at)
            kill_now(&s);
        if (s.child_done) {
            /* Whatever mpirun left behind would keep the pipe open: kill it, then
             * drain what is already written, briefly. */
            if (drain_until == 0) {
                sweep_children();
                drain_until = now + 1.0;
            }
            if (pipe_fd < 0 || now >= drain_until)
                break;
        }
        struct pollfd fds[2] = { { pipe_fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
        int n = poll(fds, 2, 200);
        if (n < 0 && errno != EINTR) {
            rc = hg_error_set(err, HG_ESYS, "poll: %s", strerror(errno));
            break;
        }
        if (n > 0 && (fds[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                on_signal(&s, (int)si.ssi_signo, now_s());
        }
        /* SIGCHLD coalesces and orphans arrive unannounced: reap on every wake-up. */
        on_signal(&s, SIGCHLD, now_s());
        if (n > 0 && pipe_fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[8192];
            ssize_t got = read(pipe_fd, buf, sizeof(buf));
            if (got > 0)
                hg_progress_feed(s.progress, buf, (size_t)got, now_s() - s.start);
            else if (got == 0 || errno != EINTR)
                pipe_fd = -1;
        }
        hg_progress_tick(s.progress, now_s() - s.start);
    }
    hg_progress_finish(s.progress);
    if (!s.child_done) {
        kill_now(&s);
        waitpid(s.child, &s.child_status, 0);
        s.child_done = 1;
    }
    sweep_children();

    int st;
    if (s.stop_signal)
        st = 128 + s.stop_signal;
    else if (s.deadline_hit)
        st = 124;
    else if (WIFEXITED(s.child_status))
        st = WEXITSTATUS(s.child_status);
    else
        st = 128 + WTERMSIG(s.child_status);
    summarize(&s, st);
    *status = st;
out:
    hg_progress_free(s.progress);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
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
