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
 * Output. After go, each rank's program writes to its keeper (agent/keeper.h), which
 * sends whole lines to us over the ranks' channel (iochan.h); mpirun's own streams
 * carry only what mpirun and the agents say before the handoff. Every stream is read to
 * its end, however slow our own reader is: bytes wait in hg_outq queues, written when
 * poll says the reader takes more, and reading pauses while a queue is over QUEUE_HIGH
 * (the ranks then wait, as they would on a slow terminal), except while the job is
 * being stopped: then everything is read, and what the reader cannot take yet waits in
 * memory up to SPILL_MEM and beyond that in a file (--log-dir, else TMPDIR), so a rank
 * that logs while it saves its checkpoint is never blocked. Program output waits until
 * the coordinator's decision has arrived, so the readiness summary comes first.
 *
 * Stopping. Open MPI kills every rank (SIGTERM, then SIGKILL a second later) as soon as
 * one exits non-zero, and cannot forward SIGINT, SIGTERM or SIGHUP. The keepers are what
 * mpirun sees of the ranks: a keeper whose program failed, or that is being stopped,
 * holds the status until we release it, so mpirun learns of nothing while the stop is
 * under way. On the first signal, or the first rank that fails, every rank's program,
 * on every host, gets SIGTERM (the operator's signal) through its keeper; once every
 * program has exited, or the grace period has passed and SIGKILL has followed, the
 * keepers are released and mpirun ends the job. A second signal kills at once. Before
 * any keeper has connected (pre-flight), the ranks on this host are signalled directly
 * while mpirun is held with SIGSTOP, and resumed once they have exited.
 * Signals are read through a signalfd in the same poll loop, so no work happens in
 * signal handlers and a stalled reader never delays a stop. */
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

#include "util/clock.h"
#include "culprit.h"
#include "stream/evloop.h"
#include "util/intparse.h"
#include "stream/iochan.h"
#include "stream/outq.h"
#include "proc.h"
#include "stream/progress.h"
#include "wire/protocol.h"
#include "util/ranklist.h"
#include "wire/report.h"
#include "stall.h"
#include "straggler.h"

#define BACKSTOP_KILL_GRACE_S 5.0
#define QUEUE_HIGH (8u << 20)
/* While stopping: bytes held in memory per stream before the rest goes to a file. */
#define SPILL_MEM (64u << 20)
/* After the keepers are released (or SIGKILL was sent through them), mpirun has this
 * long to end the job before it is killed. */
#define RELEASE_BACKSTOP_S 10.0
/* ... or this long when a host was lost: mpirun cannot end the job cleanly without it. */
#define LOST_HOST_BACKSTOP_S 3.0
/* How often the ranks' compute times are compared (--stragglers): heartbeats come
 * every HG_BEAT_FORWARD_MS at most, and a window is tens of steps. */
#define STRAGGLER_CHECK_S (HG_BEAT_FORWARD_MS / 1000.0)
/* After stalled ranks were asked for their stacks, this long before the stop. */
#define STACKS_WAIT_S 2.0
/* After mpirun and everything we started are gone, a stream still open can only be
 * held by a process outside the job; stop waiting for it after this long in silence. */
#define ORPHAN_STREAM_S 10.0

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
    hg_iochan *io;        /* the ranks' channel; NULL: output comes through mpirun */
    pid_t child;
    int child_done, child_status;
    int exec_errno;       /* mpirun could not be executed */
    int stop_signal;      /* the first signal received, 0 when none */
    int signals_seen;
    int deadline_hit;
    int mpirun_stopped;   /* SIGSTOPped while local ranks finish (before any keeper) */
    int stopping;         /* the ranks were told to stop (a signal, a failed rank) */
    int chan_stop;        /* ... through the channel */
    int chan_killed, released;
    double kill_at;       /* when to SIGKILL a job that is being stopped; 0: not stopping */
    double stop_started;  /* when the first begin_stop ran */
    double backstop_at;   /* when to kill mpirun after the release; 0: none */
    hg_progress *progress;
    double start;
    int mpi[2];           /* mpirun's stdout and stderr; -1 once ended */
    FILE *noise;          /* --log-dir/mpirun.stderr: mpirun's boxed messages */
    int stalled;          /* ranks stopped beating: the attempt ends (HG_EXIT_STALLED) */
    int *stall_ranks;     /* --stall-timeout with a channel: hg_iochan_stalled's arrays, */
    long *stall_steps, *stall_others; /* world-sized, made once; NULL: stalls not watched */
    double stall_stop_at; /* when to stop the stalled attempt (after the stacks) */
    int first_beat_checked; /* --first-beat-timeout's deadline was looked at */
    int first_beat_hit;   /* ... and it made the stall */
    hg_straggler *strag;  /* --stragglers with a channel; NULL: not watched */
    hg_straggler_event *strag_ev; /* world-sized: one check's namings */
    json_t *strag_named;  /* every naming of the attempt, for --report's "stragglers" */
    double strag_at;      /* the next comparison */
    double go_at;         /* when go was seen, 0 none */
    double quiet_since;   /* mpirun is gone since then; streams may still be open */
    hg_jobstate js;       /* the attempt's state and first stop reason */
    hg_job_facts facts;   /* what the verdict was made of (conclude) */
    char missing[256];    /* ranks with no final status, for facts */
    char lost_host[128];  /* the host lost, "" none */
    char lost_how[400];   /* how it was lost, in words */
    int *lost_ranks;      /* world-sized, for hg_iochan_lost_host */
    int sfd;              /* the signalfd */
    int ix_in[2], ix_out[2]; /* where fill_streams put mpirun's streams and the queues */
    int reading_paused;   /* the ranks' channel was not read (slow reader): silence void */
} sup;

static void kill_now(sup *s)
{
    if (s->io) {
        hg_iochan_signal_all(s->io, SIGKILL);
        hg_iochan_release_all(s->io);
        /* Killed already: the grace's own end has nothing left to kill or say. */
        s->chan_killed = 1;
    }
    if (!s->child_done) {
        int sig = SIGKILL;
        each_child(s->child, signal_rank, &sig);
        kill(-s->child, SIGKILL);
        kill(s->child, SIGKILL);
    }
    s->mpirun_stopped = 0;
    s->kill_at = 0;
}

/* Delivers sig to every rank and starts the grace period. Through the channel once any
 * keeper is there (ranks that connect later get it on arrival); before that, to the
 * ranks on this host while mpirun is held back, or to mpirun while it is still
 * starting them. */
static void begin_stop(sup *s, int sig, double grace, double now)
{
    if (!s->stopping)
        s->stop_started = now;
    s->stopping = 1;
    if (s->io && hg_iochan_connected(s->io) > 0) {
        s->chan_stop = 1;
        hg_iochan_signal_all(s->io, sig);
    } else if (!s->child_done) {
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
        hg_jobstate_stop(&s->js, HG_STOP_OPERATOR, now);
        if (s->o->grace_s > 0)
            fprintf(s->err, "hgrid: %s received: passed to the job, which has %d s to exit "
                    "(again to kill it now)\n", strsignal(sig), s->o->grace_s);
        else
            fprintf(s->err, "hgrid: %s received, stopping the job\n", strsignal(sig));
        begin_stop(s, sig, s->o->grace_s, now);
    } else {
        fprintf(s->err, "hgrid: %s received again, killing the job now\n", strsignal(sig));
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
    execvpe(o->argv[0], o->argv, o->envp ? o->envp : environ);
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

/* A rank's wait status as a shell reports it: *code (128+N after signal N) and *sig. */
static void decode_wait(int st, int *code, int *sig)
{
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + *sig;
}

/* "exit status 9" or "killed by signal 6 (Aborted)" */
static void status_words(int code, int sig, char *buf, size_t len)
{
    if (sig)
        snprintf(buf, len, "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(buf, len, "exit status %d", code);
}

/* The first rank whose program failed: as its keeper said (exact, in the order the
 * statuses arrived), else as mpirun named it. */
static int first_failure(const sup *s, int *rank, int *code, int *sig)
{
    int st;
    if (hg_iochan_first_failure(s->io, rank, &st) == 0) {
        decode_wait(st, code, sig);
        return 0;
    }
    return hg_progress_first_failure(s->progress, rank, code, sig);
}


/* The coordinator writes the readiness report; when the job ended before it could
 * (a rank killed during pre-flight takes the job down with it), the launcher writes
 * what it knows, so a --report file always exists after a failed pre-flight. */
static void write_fallback_report(const sup *s, int status, const char *why)
{
    const hg_supervise_opts *o = s->o;
    hg_report_head head = { o->world, o->backend ? o->backend : "?", NULL, 0, o->deadline_s, 0 };
    int rank, code, sig;
    json_t *ranks = json_array();
    if (ranks && first_failure(s, &rank, &code, &sig) == 0) {
        json_t *r = hg_report_rank(rank, module_name(s, rank), "failed");
        if (hg_report_add(r, json_pack("{s:i, s:i}", "exit_status", sig ? -1 : code, "signal",
                                       sig)) == 0)
            json_array_append(ranks, r);
        json_decref(r);
    }
    json_t *root = hg_report_new(&head);
    if (hg_report_add(root, json_pack("{s:s, s:s, s:i, s:i, s:o}", "written_by", "hgrid-launch",
                                      "error", why, "exit_status", status, "ready",
                                      hg_progress_ready(s->progress), "ranks", ranks)) != 0) {
        json_decref(root);
        root = NULL;
    }
    hg_report_write(root, o->report_path, s->err);
}

/* The failed rank of the attempt, as far as it is known, into a; never a rank that
 * failed after the attempt's stop began for another reason: hgrid's own stop ended it,
 * and its host is not to blame. */
static void attribute_failure(const sup *s, hg_attempt *a)
{
    int rank, code, sig;
    double at = hg_iochan_first_failure_at(s->io);
    a->failed_rank = -1;
    if (s->js.stopped && s->js.stop != HG_STOP_WORKLOAD && at >= s->js.stop_at)
        return;
    if (first_failure(s, &rank, &code, &sig) != 0)
        return;
    const char *host = hg_iochan_host(s->io, rank);
    a->failed_rank = rank;
    a->failed_signal = sig;
    snprintf(a->failed_host, sizeof(a->failed_host), "%s", host ? host : "");
}

/* The ranks with no final status, "4-7", into buf ("" when every rank's came). */
static void missing_ranks(const sup *s, char *buf, size_t len)
{
    int *r = malloc((size_t)s->o->world * sizeof(int));
    int n = 0;
    buf[0] = '\0';
    if (!r)
        return;
    for (int i = 0; i < s->o->world; i++)
        if (!hg_iochan_rank_exited(s->io, i))
            r[n++] = i;
    hg_ranklist_format(r, n, buf, len);
    free(r);
}

/* The facts the verdict is made of, as the job left them. */
static void gather_facts(const sup *s, hg_job_facts *f, char *missing, size_t mlen)
{
    const hg_supervise_opts *o = s->o;
    int rank = -1, code = 0, sig = 0;
    int raw = WIFEXITED(s->child_status) ? WEXITSTATUS(s->child_status)
                                         : 128 + WTERMSIG(s->child_status);
    if (first_failure(s, &rank, &code, &sig) != 0)
        rank = -1;
    missing_ranks(s, missing, mlen);
    *f = (hg_job_facts){
        .launcher = o->argv[0],
        .exec_errno = s->exec_errno,
        .launcher_code = raw,
        .launcher_signal = WIFSIGNALED(s->child_status) ? WTERMSIG(s->child_status) : 0,
        .started = hg_progress_started(s->progress) || hg_progress_decision(s->progress) >= 0,
        .decision = hg_progress_decision(s->progress),
        .deadline_reports = hg_progress_deadlines(s->progress),
        .world = o->world,
        .ready = hg_progress_ready(s->progress),
        .deadline_s = o->deadline_s,
        .stall_s = s->first_beat_hit ? o->first_beat_s : o->stall_s,
        .operator_signal = s->stop_signal,
        .channel = s->io != NULL,
        .exited = hg_iochan_exited(s->io),
        .first_rank = rank,
        .first_code = code,
        .first_signal = sig,
        .first_module = rank >= 0 ? module_name(s, rank) : NULL,
        .lost_host = s->lost_host[0] ? s->lost_host : NULL,
        .lost_how = s->lost_how[0] ? s->lost_how : NULL,
        .missing = missing[0] ? missing : NULL,
    };
}

/* The attempt's verdict (jobstate.h), exit status and cause; nothing is printed yet
 * (the closing line depends on whether another attempt follows). */
static void conclude(sup *s, hg_attempt *a)
{
    const hg_supervise_opts *o = s->o;
    hg_verdict v;
    hg_jobstate_move(&s->js, HG_JOB_ENDED);
    gather_facts(s, &s->facts, s->missing, sizeof(s->missing));
    hg_job_verdict(&s->js, &s->facts, &v);
    a->stop = v.stop;
    a->status = v.status;
    snprintf(a->why, sizeof(a->why), "%s", v.why);
    if (o->report_path && s->facts.decision != 1 && !hg_progress_report_written(s->progress)
        && v.status != 0)
        write_fallback_report(s, v.status, v.why);
    if (v.stop == HG_STOP_HOST_LOST)
        snprintf(a->failed_host, sizeof(a->failed_host), "%s", s->lost_host);
    else if (v.status != 0)
        attribute_failure(s, a);
}

/* The job's closing line for an attempt that ends it. */
static void say_verdict(sup *s, const hg_attempt *a)
{
    hg_verdict v = { .stop = a->stop, .status = a->status };
    char line[1024];
    snprintf(v.why, sizeof(v.why), "%s", a->why);
    hg_job_closing_line(&v, &s->facts, line, sizeof(line));
    fputs(line, s->err);
}

/* A failed rank stops the others with the grace a signal would give; once every
 * connected rank's program has exited, or SIGKILL went out at the end of the grace, the
 * keepers are released and mpirun ends the job (within RELEASE_BACKSTOP_S). */
static void advance_stop(sup *s, double now)
{
    int rank, st;
    if (!s->io)
        return;
    if (!s->stopping && !s->child_done && hg_iochan_first_failure(s->io, &rank, &st) == 0) {
        char how[96];
        int code, sig;
        decode_wait(st, &code, &sig);
        status_words(code, sig, how, sizeof(how));
        /* Before go (an in-process pre-flight) every rank is ending already, and what
         * the failure was (usage, deadline, pre-flight) is found when the job has ended. */
        if (hg_progress_decision(s->progress) == 1)
            hg_jobstate_stop(&s->js, HG_STOP_WORKLOAD, now);
        if (hg_progress_decision(s->progress) == 1 && s->o->world > 1) {
            hg_progress_clear(s->progress);
            fprintf(s->err, "hgrid: rank %d (%s) failed, %s; stopping the other ranks "
                    "(SIGTERM, %d s to exit)\n", rank, module_name(s, rank), how, s->o->grace_s);
            hg_iochan_say_cause(s->io, rank, s->err);
        }
        begin_stop(s, SIGTERM, s->o->grace_s, now);
    }
    if (!s->chan_stop || s->released)
        return;
    int connected = hg_iochan_connected(s->io);
    if (hg_iochan_settled(s->io) >= connected
        && (connected == s->o->world || now - s->stop_started > 2.0)) {
        hg_iochan_release_all(s->io);
        s->released = 1;
        /* mpirun waits in vain for a lost host's daemon. */
        s->backstop_at = now + (s->lost_host[0] ? LOST_HOST_BACKSTOP_S : RELEASE_BACKSTOP_S);
    } else if (!s->chan_killed && now >= s->kill_at) {
        hg_progress_clear(s->progress);
        fprintf(s->err, "hgrid: the job did not exit within the grace period; killing it\n");
        hg_iochan_signal_all(s->io, SIGKILL);
        s->chan_killed = 1;
        s->backstop_at = now + RELEASE_BACKSTOP_S;
    }
}

static void ranks_by_module(const sup *s, int *r, int n, char *buf, size_t len);

/* Every rank of the stalled attempt still running, classified by its stacks
 * (culprit.h): the culprits and who waits for them said, and put in the report. */
static void name_culprits(sup *s)
{
    const hg_supervise_opts *o = s->o;
    hg_hang_rank *in = calloc((size_t)o->world, sizeof(*in));
    hg_rank_role *roles = calloc((size_t)o->world, sizeof(*roles));
    int n = 0;
    for (int r = 0; in && roles && r < o->world; r++) {
        hg_iochan_beat b;
        hg_iochan_rank_beat(s->io, r, &b);
        if (b.exited)
            continue;
        const char *why = !b.connected ? "its program never connected"
                          : !b.beats ? "never heartbeat"
                          : !b.asks_stacks ? "its heartbeats ask for none (not hgrid.heartbeat)"
                          : "it did not answer SIGUSR1 (stopped, or blocking it)";
        in[n++] = (hg_hang_rank){ r, b.step, hg_iochan_host(s->io, r), b.stacks, b.stacks_len,
                                  b.stacks ? NULL : why };
    }
    if (in && roles) {
        hg_hang_analyse(o->layout, in, n, roles);
        hg_progress_clear(s->progress);
        hg_hang_describe(s->err, o->layout, in, roles, n);
        if (o->report_path
            && hg_report_merge(o->report_path, "stall",
                               hg_hang_json(o->layout, in, roles, n,
                                            s->first_beat_hit ? o->first_beat_s : o->stall_s)) != 0)
            fprintf(s->err, "hgrid: warning: cannot add the stall to the report %s\n",
                    o->report_path);
    }
    free(in);
    free(roles);
}

/* --first-beat-timeout: the ranks still running with no heartbeat at the deadline
 * after go, into s->stall_ranks; returns how many. Looked at once: a rank that beats
 * later was still late. */
static int first_beat_missed(sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    int n = 0;
    if (o->first_beat_s <= 0 || !s->stall_ranks || s->first_beat_checked || s->go_at == 0
        || now < s->go_at + o->first_beat_s)
        return 0;
    s->first_beat_checked = 1;
    for (int r = 0; r < o->world; r++) {
        hg_iochan_beat b;
        hg_iochan_rank_beat(s->io, r, &b);
        if (!b.exited && !b.beats)
            s->stall_ranks[n++] = r;
    }
    return n;
}

/* Ranks that beat and then went silent for --stall-timeout, or never beat within
 * --first-beat-timeout of go: named, every rank asked for its stacks; once they are
 * in (or STACKS_WAIT_S passed) the culprits are named and the attempt is stopped as a
 * failure. */
static void check_stall(sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    if (s->stalled && !s->stopping
        && (now >= s->stall_stop_at || hg_iochan_dumps_pending(s->io) == 0)) {
        name_culprits(s);
        hg_progress_clear(s->progress);
        fprintf(s->err, "hgrid: ending the attempt: every rank gets SIGTERM and %d s to exit\n",
                o->grace_s);
        begin_stop(s, SIGTERM, o->grace_s, now);
    }
    if (!s->stall_ranks || s->stalled || s->stopping || s->child_done)
        return;
    int nothers = 0, late = first_beat_missed(s, now);
    int n = late || o->stall_s <= 0 ? 0 : hg_iochan_stalled(s->io, o->stall_s, s->stall_ranks, s->stall_steps,
                                         s->stall_others, &nothers);
    if (n > 0 || late > 0) {
        s->stalled = 1;
        hg_jobstate_stop(&s->js, HG_STOP_STALL, now);
        hg_progress_clear(s->progress);
        if (late) {
            char list[300];
            s->first_beat_hit = 1;
            ranks_by_module(s, s->stall_ranks, late, list, sizeof(list));
            fprintf(s->err, "hgrid: rank%s %s sent no heartbeat within %d s of go "
                    "(--first-beat-timeout)\n", late == 1 ? "" : "s", list, o->first_beat_s);
        } else {
            hg_stall_facts f = { s->stall_ranks, s->stall_steps, n, s->stall_others, nothers,
                                 o->stall_s };
            hg_stall_describe(s->err, o->layout, &f);
        }
        int asked = hg_iochan_signal_stacks(s->io, SIGUSR1);
        if (asked)
            fprintf(s->err, "hgrid: asked %d rank%s for their stacks (SIGUSR1: in their stderr%s)\n",
                    asked, asked == 1 ? "" : "s", o->log_dir ? " and its log file" : "");
        s->stall_stop_at = now + (asked ? STACKS_WAIT_S : 0);
    }
}

/* Every STRAGGLER_CHECK_S while the attempt runs: the ranks' latest heartbeats into
 * the detector (straggler.h); each rank it names is said once, and the report gets
 * every naming so far. */
static void check_stragglers(sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    if (!s->strag || s->go_at == 0 || s->stalled || s->stopping || s->child_done
        || now < s->strag_at)
        return;
    s->strag_at = now + STRAGGLER_CHECK_S;
    for (int r = 0; r < o->world; r++) {
        hg_iochan_beat b;
        hg_iochan_rank_beat(s->io, r, &b);
        if (b.beats && !b.exited)
            hg_straggler_sample(s->strag, r, b.step, b.compute_us);
    }
    int n = hg_straggler_check(s->strag, s->strag_ev, o->world);
    if (!n)
        return;
    hg_progress_clear(s->progress);
    for (int i = 0; i < n; i++) {
        hg_straggler_describe(s->err, o->layout, &s->strag_ev[i]);
        json_array_append_new(s->strag_named, hg_straggler_json(o->layout, &s->strag_ev[i]));
    }
    if (o->report_path
        && hg_report_merge(o->report_path, "stragglers", json_incref(s->strag_named)) != 0)
        fprintf(s->err, "hgrid: warning: cannot add the stragglers to the report %s\n",
                o->report_path);
}

static int read_ranks(const sup *s);

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* "4-6 (language)" or "3 (vision), 4-6 (language)": ranks, ascending, by module. */
static void ranks_by_module(const sup *s, int *r, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    qsort(r, (size_t)n, sizeof(int), cmp_int);
    for (int i = 0; i < n;) {
        int mi = hg_layout_module_of(s->o->layout, r[i]), j = i;
        char list[256];
        while (j < n && hg_layout_module_of(s->o->layout, r[j]) == mi)
            j++;
        hg_ranklist_format(r + i, j - i, list, sizeof(list));
        int w = snprintf(buf + used, len - used, "%s%s (%s)", used ? ", " : "", list,
                         module_name(s, r[i]));
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
        i = j;
    }
}

/* The attempt ends for a lost host, whoever found it: the stop reason set once, its
 * connections dropped (nothing more is awaited from them), the other ranks given the
 * grace. `said`: its line was printed already (the progress relay names a host that
 * mpirun or srun reported), so only the stop is said. */
static void lose_host(sup *s, const char *host, const char *how, int said, double now)
{
    snprintf(s->lost_host, sizeof(s->lost_host), "%s", host);
    snprintf(s->lost_how, sizeof(s->lost_how), "%s", how ? how : "");
    hg_jobstate_stop(&s->js, HG_STOP_HOST_LOST, now);
    if (s->io)
        hg_iochan_drop_host(s->io, host);
    if (s->child_done)
        return;
    if (said)
        fprintf(s->err, "hgrid: stopping the other ranks (SIGTERM, %d s to exit)\n", s->o->grace_s);
    else
        fprintf(s->err, "hgrid: host %s lost: %s; stopping the other ranks (SIGTERM, %d s to "
                "exit)\n", s->lost_host, s->lost_how, s->o->grace_s);
    begin_stop(s, SIGTERM, s->o->grace_s, now);
}

/* A host whose ranks' keepers all fell silent or reset (iochan.h): named in one line,
 * dropped (nothing more is awaited from it) and the attempt stopped. Silence counts only
 * while the channel is read: a slow reader of ours pauses every keeper alike. */
static void check_liveness(sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    const char *how = NULL, *gone = hg_progress_lost_host(s->progress, &how);
    /* mpirun or srun said a host is gone (progress.h): a host lost at once, said already
     * by the progress relay's one line, with no wait for its silence. */
    if (gone && !s->js.stopped) {
        lose_host(s, gone, how, 1, now);
        return;
    }
    if (!s->io || o->host_timeout_s <= 0 || !s->lost_ranks || s->js.stopped || s->child_done)
        return;
    if (!read_ranks(s)) {
        s->reading_paused = 1;
        return;
    }
    if (s->reading_paused) {
        hg_iochan_heard_all(s->io, now);
        s->reading_paused = 0;
        return;
    }
    hg_iochan_lost lost = { .ranks = s->lost_ranks, .cap = o->world };
    if (!hg_iochan_lost_host(s->io, now, o->host_timeout_s, &lost))
        return;
    char ranks[300], why[400];
    int n = lost.n;
    ranks_by_module(s, lost.ranks, n, ranks, sizeof(ranks));
    if (lost.reset)
        snprintf(why, sizeof(why), "the connection%s of rank%s %s ended without an exit status",
                 n == 1 ? "" : "s", n == 1 ? "" : "s", ranks);
    else
        snprintf(why, sizeof(why), "no word from rank%s %s for %d s", n == 1 ? "" : "s", ranks,
                 o->host_timeout_s);
    lose_host(s, lost.host, why, 0, now);
}

/* The deadlines: the readiness backstop, the grace period, mpirun after the release. */
static void check_timers(sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    /* The backstop, well after the agents' own deadline lines (protocol.h). */
    if (!s->child_done && !s->deadline_hit && !s->stop_signal && o->deadline_s > 0
        && hg_progress_decision(s->progress) < 0 && hg_progress_ready(s->progress) < o->world
        && now - s->start > hg_deadline_backstop_s(o->deadline_s)) {
        s->deadline_hit = 1;
        hg_jobstate_stop(&s->js, HG_STOP_DEADLINE, now);
        hg_progress_clear(s->progress);
        fprintf(s->err, "hgrid: readiness deadline passed (%d/%d ranks ready), stopping "
                "the job\n", hg_progress_ready(s->progress), o->world);
        begin_stop(s, SIGTERM, BACKSTOP_KILL_GRACE_S, now);
    }
    if (s->go_at == 0 && hg_progress_decision(s->progress) == 1)
        s->go_at = now;
    if (hg_progress_started(s->progress) || hg_progress_decision(s->progress) >= 0)
        hg_jobstate_move(&s->js, HG_JOB_PREFLIGHT);
    if (hg_progress_decision(s->progress) == 1)
        hg_jobstate_move(&s->js, HG_JOB_RUNNING);
    check_stall(s, now);
    check_stragglers(s, now);
    check_liveness(s, now);
    advance_stop(s, now);
    if (!s->chan_stop && s->kill_at > 0 && now >= s->kill_at) {
        hg_progress_clear(s->progress);
        fprintf(s->err, "hgrid: the job did not exit within %s; killing it\n",
                s->deadline_hit ? "5 s" : "the grace period");
        kill_now(s);
    }
    if (!s->child_done && s->backstop_at > 0 && now >= s->backstop_at) {
        s->backstop_at = 0;
        kill_now(s);
    }
    maybe_resume(s);
}

static int want_read(int fd, const hg_outq *q)
{
    return fd >= 0 && hg_outq_pending(q) < QUEUE_HIGH;
}

/* The ranks' output is read while the user's reader keeps up, always while stopping,
 * and (exec handoff) once the decision that precedes it has been shown. */
static int read_ranks(const sup *s)
{
    if (s->stopping || s->child_done)
        return 1;
    if (hg_outq_pending(s->out_q) >= QUEUE_HIGH || hg_outq_pending(s->err_q) >= QUEUE_HIGH)
        return 0;
    return s->o->in_process || hg_progress_decision(s->progress) >= 0 || s->mpi[1] < 0;
}

/* One of mpirun's streams: stdout passes through, stderr through the progress filter. */
static void read_mpirun(sup *s, int i, double now)
{
    char buf[65536];
    ssize_t got = read(s->mpi[i], buf, sizeof(buf));
    if (got > 0) {
        s->quiet_since = s->child_done ? now : s->quiet_since;
        if (i == 0) {
            hg_progress_clear(s->progress);
            hg_outq_put(s->out_q, buf, (size_t)got);
        } else {
            hg_progress_feed(s->progress, buf, (size_t)got, now - s->start);
        }
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(s->mpi[i]);
        s->mpi[i] = -1;
        if (i == 1)
            hg_progress_finish(s->progress);
    }
}

/* The loop's sources (evloop.h), served in this order: the signals, then mpirun's
 * streams and the user's queues, then the ranks' channel. */
static int count_signals(void *arg)
{
    (void)arg;
    return 1;
}

static int fill_signals(void *arg, struct pollfd *fds)
{
    fds[0] = (struct pollfd){ ((sup *)arg)->sfd, POLLIN, 0 };
    return 1;
}

static void serve_signals(void *arg, const struct pollfd *fds, int n, double now)
{
    sup *s = arg;
    if (n == 1 && (fds[0].revents & POLLIN)) {
        struct signalfd_siginfo si;
        while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            on_signal(s, (int)si.ssi_signo, now);
    }
    /* SIGCHLD coalesces and orphans arrive unannounced: reap on every wake-up. */
    reap(s);
}

static int count_streams(void *arg)
{
    (void)arg;
    return 4;
}

static int fill_streams(void *arg, struct pollfd *fds)
{
    sup *s = arg;
    hg_outq *qs[2] = { s->out_q, s->err_q };
    int nf = 0;
    for (int i = 0; i < 2; i++) {
        s->ix_in[i] = s->ix_out[i] = -1;
        if (want_read(s->mpi[i], qs[i]) || (s->stopping && s->mpi[i] >= 0)) {
            s->ix_in[i] = nf;
            fds[nf++] = (struct pollfd){ s->mpi[i], POLLIN, 0 };
        }
        if (hg_outq_pending(qs[i]) > 0) {
            s->ix_out[i] = nf;
            fds[nf++] = (struct pollfd){ hg_outq_fd(qs[i]), POLLOUT, 0 };
        }
    }
    return nf;
}

static void serve_streams(void *arg, const struct pollfd *fds, int n, double now)
{
    sup *s = arg;
    hg_outq *qs[2] = { s->out_q, s->err_q };
    (void)n;
    for (int i = 0; i < 2; i++) {
        if (s->ix_out[i] >= 0 && (fds[s->ix_out[i]].revents & (POLLOUT | POLLERR | POLLHUP)))
            hg_outq_write_some(qs[i]);
        if (s->ix_in[i] >= 0 && (fds[s->ix_in[i]].revents & (POLLIN | POLLHUP | POLLERR)))
            read_mpirun(s, i, now);
    }
}

static int count_channel(void *arg)
{
    sup *s = arg;
    return s->io ? hg_iochan_nfds(s->io) : 0;
}

static int fill_channel(void *arg, struct pollfd *fds)
{
    sup *s = arg;
    return s->io ? hg_iochan_pollfds(s->io, fds, read_ranks(s)) : 0;
}

static void serve_channel(void *arg, const struct pollfd *fds, int n, double now)
{
    sup *s = arg;
    if (s->io)
        hg_iochan_serve(s->io, fds, n, now - s->start);
    hg_progress_tick(s->progress, hg_now() - s->start);
}

/* When the supervisor next has something to do by the clock alone, if nothing wakes
 * it before (hg_now() seconds, < 0: nothing): the backstop deadline, the end of a
 * grace or of mpirun's time after the release, the stop after the stacks, a silence
 * becoming a stall or a lost host, the channel's and the progress filter's own timed
 * work, a stream held open after mpirun. Every check this feeds compares with > or >=,
 * and the wait rounds up, so the wake-up finds it due. */
static double next_due(const sup *s, double now)
{
    const hg_supervise_opts *o = s->o;
    double due = -1, p = hg_progress_next_due(s->progress);
    if (!s->child_done && !s->deadline_hit && !s->stop_signal && o->deadline_s > 0
        && hg_progress_decision(s->progress) < 0)
        due = hg_due_min(due, s->start + hg_deadline_backstop_s(o->deadline_s) + 0.001);
    if (s->kill_at > 0)
        due = hg_due_min(due, s->kill_at);
    if (s->backstop_at > 0)
        due = hg_due_min(due, s->backstop_at);
    if (s->stalled && !s->stopping)
        due = hg_due_min(due, s->stall_stop_at);
    if (o->first_beat_s > 0 && s->stall_ranks && !s->first_beat_checked && s->go_at > 0
        && !s->stalled)
        due = hg_due_min(due, s->go_at + o->first_beat_s);
    if (s->chan_stop && !s->released)
        due = hg_due_min(due, s->stop_started + 2.001);
    if (s->strag && s->go_at > 0 && !s->stalled && !s->stopping && !s->child_done)
        due = hg_due_min(due, s->strag_at);
    if (s->quiet_since > 0)
        due = hg_due_min(due, s->quiet_since + ORPHAN_STREAM_S + 0.001);
    /* Ranks on this host finishing while mpirun is held: they are mpirun's children,
     * not ours, and no event says when the last is gone. */
    if (s->mpirun_stopped)
        due = hg_due_min(due, now + 0.05);
    if (s->io)
        due = hg_due_min(due, hg_iochan_next_due(s->io, s->stall_ranks && !s->stalled ? o->stall_s : 0,
                                                  s->lost_ranks && !s->js.stopped ? o->host_timeout_s : 0));
    if (p >= 0)
        due = hg_due_min(due, s->start + p);
    return due;
}

/* Done when mpirun has exited and every stream (mpirun's, the ranks') has ended; after
 * mpirun, what it left behind is killed, and a stream that stays open in silence can
 * only be held by a process outside the job. */
static int finished(sup *s, double now)
{
    if (!s->child_done)
        return 0;
    if (s->quiet_since == 0) {
        sweep_children();
        s->quiet_since = now;
    }
    int open_in = (s->mpi[0] >= 0) + (s->mpi[1] >= 0) + hg_iochan_open(s->io);
    if (open_in && now - s->quiet_since > ORPHAN_STREAM_S) {
        fprintf(s->err, "hgrid: warning: a process outside the job still holds its output "
                "open; stopped relaying it\n");
        return 1;
    }
    return !open_in;
}

static void set_spill(const sup *s)
{
    const char *dir = s->o->log_dir;
    size_t mem = SPILL_MEM;
    if (!dir) {
        dir = getenv("TMPDIR");
        dir = dir && *dir ? dir : "/tmp";
    }
#ifdef HG_TEST_HOOKS
    /* Test builds only: a small memory part, so a test can make the queues spill. */
    int test_mem = hg_int_env("HGRID_TEST_SPILL_MEM", 1 << 30);
    if (test_mem > 0)
        mem = (size_t)test_mem;
#endif
    hg_outq_set_spill(s->out_q, dir, mem);
    hg_outq_set_spill(s->err_q, dir, mem);
}

/* What is still queued reaches the reader, however slow; a signal now means the user
 * no longer wants to wait. */
static void drain_queues(sup *s, int sfd)
{
    while (hg_outq_pending(s->out_q) + hg_outq_pending(s->err_q) > 0) {
        struct pollfd fds[3] = { { sfd, POLLIN, 0 },
                                 { hg_outq_fd(s->out_q), hg_outq_pending(s->out_q) ? POLLOUT : 0, 0 },
                                 { hg_outq_fd(s->err_q), hg_outq_pending(s->err_q) ? POLLOUT : 0, 0 } };
        if (poll(fds, 3, -1) < 0 && errno != EINTR)
            break;
        int stop = 0;
        struct signalfd_siginfo si;
        while ((fds[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            stop |= si.ssi_signo != SIGCHLD;
        if (stop)
            break;
        if (fds[1].revents)
            hg_outq_write_some(s->out_q);
        if (fds[2].revents)
            hg_outq_write_some(s->err_q);
    }
}

/* Queues, progress filter and the channel's sinks. */
static int setup_output(sup *s, hg_error *err)
{
    const hg_supervise_opts *o = s->o;
    if (hg_outq_pair(STDOUT_FILENO, STDERR_FILENO, &s->out_q, &s->err_q) != 0)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    s->err = hg_outq_stream(s->err_q);
    s->progress = s->err ? hg_progress_new(s->err, o->world, isatty(STDERR_FILENO), o->token) : NULL;
    if (!s->progress)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    set_spill(s);
    /* Open MPI's boxed end-of-job messages, PMIx's, libevent's and srun's lines say
     * less than our closing line: with a log directory they are kept there (mpirun.stderr
     * or srun.stderr), else dropped; the report counts them. */
    if (o->log_dir) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.stderr", o->log_dir,
                 o->launcher ? o->launcher : "mpirun");
        s->noise = fopen(path, "we");
        hg_progress_set_noise(s->progress, s->noise);
    }
    if (s->io && o->host_timeout_s > 0 && !(s->lost_ranks = malloc((size_t)o->world * sizeof(int))))
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    if (s->io && (o->stall_s > 0 || o->first_beat_s > 0)) {
        s->stall_ranks = malloc((size_t)o->world * sizeof(int));
        s->stall_steps = malloc((size_t)o->world * sizeof(long));
        s->stall_others = malloc((size_t)o->world * sizeof(long));
        if (!s->stall_ranks || !s->stall_steps || !s->stall_others)
            return hg_error_set(err, HG_ENOMEM, "out of memory");
    }
    if (s->io && o->straggler_pct > 0) {
        int *group = malloc((size_t)o->world * sizeof(int));
        for (int r = 0; group && r < o->world; r++)
            group[r] = hg_layout_module_of(o->layout, r);
        s->strag = group ? hg_straggler_new(o->world, group, o->straggler_pct, o->straggler_steps)
                         : NULL;
        free(group);
        s->strag_ev = malloc((size_t)o->world * sizeof(*s->strag_ev));
        s->strag_named = json_array();
        if (!s->strag || !s->strag_ev || !s->strag_named)
            return hg_error_set(err, HG_ENOMEM, "out of memory");
    }
    if (s->io) {
        hg_iochan_sinks k = { o->token, o->layout, o->label, o->log_dir,
                              s->out_q, s->err_q, s->progress, s->err };
        hg_iochan_attach(s->io, &k);
    }
    return 0;
}

/* Forks mpirun with its streams on pipes to us; exec_errno says whether it ran. */
static int start_mpirun(sup *s, const sigset_t *oldmask, hg_error *err)
{
    int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 };
    int rc = 0;
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(execp, O_CLOEXEC) != 0) {
        rc = hg_error_set(err, HG_ESYS, "pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid_t parent = getpid();
    s->child = fork();
    if (s->child < 0) {
        rc = hg_error_set(err, HG_ESYS, "fork: %s", strerror(errno));
        goto out;
    }
    if (s->child == 0)
        child_exec(s->o, outp[1], errp[1], execp[1], oldmask, parent);
    setpgid(s->child, s->child); /* also here: no race with the child's own call */
    close(execp[1]);
    execp[1] = -1;
    /* EOF once exec succeeded (close-on-exec), or the errno of the failed exec. */
    while (read(execp[0], &s->exec_errno, sizeof(s->exec_errno)) < 0 && errno == EINTR)
        ;
    s->mpi[0] = outp[0];
    s->mpi[1] = errp[0];
    outp[0] = errp[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (execp[i] >= 0)
            close(execp[i]);
    }
    return rc;
}

int hg_supervise(const hg_supervise_opts *o, hg_attempt *result, hg_error *err)
{
    sup s = { .o = o, .io = o->io, .mpi = { -1, -1 }, .sfd = -1 };
    hg_jobstate_init(&s.js);
    sigset_t mask, oldmask;
    int rc = 0;
    hg_evloop *loop = NULL;

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
    s.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sfd < 0) {
        rc = hg_error_set(err, HG_ESYS, "signalfd: %s", strerror(errno));
        goto out;
    }
    if ((rc = setup_output(&s, err)) != 0)
        goto out;
    if (!(loop = hg_evloop_new())
        || hg_evloop_add(loop, &(hg_evsource){ count_signals, fill_signals, serve_signals, &s }) != 0
        || hg_evloop_add(loop, &(hg_evsource){ count_streams, fill_streams, serve_streams, &s }) != 0
        || hg_evloop_add(loop, &(hg_evsource){ count_channel, fill_channel, serve_channel, &s }) != 0) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory");
        goto out;
    }
    s.start = hg_now();
    if ((rc = start_mpirun(&s, &oldmask, err)) != 0)
        goto out;
    if (s.exec_errno)
        hg_jobstate_stop(&s.js, HG_STOP_NOT_STARTED, hg_now());
    hg_progress_set_launcher_pid(s.progress, (long)s.child);
    while (!finished(&s, hg_now())) {
        check_timers(&s, hg_now());
        if (hg_evloop_once(loop, next_due(&s, hg_now())) != 0) {
            rc = hg_error_set(err, HG_ESYS, "poll: %s", strerror(errno));
            break;
        }
    }
#ifdef HG_TEST_HOOKS
    /* Test builds only: how often the loop woke, and how often for a due time alone. */
    if (getenv("HGRID_TEST_WAKEUPS"))
        fprintf(stderr, "hgrid-test: %lu wakeups, %lu timeouts\n", hg_evloop_wakeups(loop),
                hg_evloop_timeouts(loop));
#endif
    if (s.mpi[1] >= 0)
        hg_progress_finish(s.progress);
    if (!s.child_done) {
        kill_now(&s);
        waitpid(s.child, &s.child_status, 0);
        s.child_done = 1;
    }
    /* A host mpirun or srun named gone as it ended (its last words) still lost it. */
    check_liveness(&s, hg_now());
    sweep_children();
    *result = (hg_attempt){ .failed_rank = -1, .go_s = s.go_at > 0 ? s.go_at - s.start : -1 };
    conclude(&s, result);
    result->duration_s = hg_now() - s.start;
    result->launcher_messages = (long)hg_progress_noise_count(s.progress);
    /* Whether the job goes on is decided before anything is said of its end: a job
     * exit status only when the job ends. */
    hg_next next = HG_NEXT_END;
    if (hg_stop_restartable(result->stop) && o->next)
        next = o->next(o->next_ctx, result, s.err);
    if (next == HG_NEXT_END)
        say_verdict(&s, result);
    drain_queues(&s, s.sfd);
out:
    free(s.lost_ranks);
    free(s.stall_ranks);
    free(s.stall_steps);
    free(s.stall_others);
    hg_straggler_free(s.strag);
    free(s.strag_ev);
    json_decref(s.strag_named);
    hg_progress_free(s.progress);
    if (s.noise)
        fclose(s.noise);
    if (s.io)
        hg_iochan_detach(s.io);
    hg_outq_free(s.err_q);
    hg_outq_free(s.out_q);
    for (int i = 0; i < 2; i++)
        if (s.mpi[i] >= 0)
            close(s.mpi[i]);
    if (s.sfd >= 0)
        close(s.sfd);
    hg_evloop_free(loop);
    /* Signals that came after the job ended were handled by ending it; delivering
     * them now would kill the launcher before it cleans up. */
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&mask, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return rc;
}
