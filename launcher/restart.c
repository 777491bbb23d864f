/* The restart loop (restart.h): per attempt the restart environment, the hosts
 * (prepare_hosts: probe, then a hostfile of those still in), the log directory, then
 * run_attempt (job directory, mpirun's or srun's argv, hg_supervise). Whether another
 * attempt follows is next_attempt's call, made inside the supervisor before anything is
 * said of the attempt's end, so the failure and "restarting" are said as one line. */
#include "restart.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attempts.h"
#include "util/clock.h"
#include "hostfile.h"
#include "util/intparse.h"
#include "jobdir.h"
#include "launch_argv.h"
#include "wire/protocol.h"
#include "supervisor.h"

/* An attempt's environment before its job directory: this process's, the job's run id
 * and the attempt number the workload sees, as hgrid and as torchrun name it. */
static void attempt_env(hg_childenv *env, const char *run_id, int attempt, int max_restarts)
{
    extern char **environ;
    char n[16], m[16];
    snprintf(n, sizeof(n), "%d", attempt);
    snprintf(m, sizeof(m), "%d", max_restarts);
    hg_childenv_copy(env, environ);
    hg_childenv_set(env, HG_ENV_RUN_ID, run_id, 1);
    hg_childenv_set(env, HG_ENV_RESTART_COUNT, n, 1);
    hg_childenv_set(env, HG_ENV_TE_RESTART_COUNT, n, 1);
    hg_childenv_set(env, HG_ENV_TE_MAX_RESTARTS, m, 1);
}

/* One attempt: prepare, start mpirun under the supervisor, clean up. Fills *a. */
static int run_attempt(const hg_cli *cli, const hg_setting_values *set, const hg_layout *layout,
                       const char *agent, const char *config_path, const char *bytes, size_t len,
                       const char *exclude, hg_childenv *env, hg_next_fn next, void *next_ctx,
                       hg_attempt *a)
{
    int world = hg_layout_world_size(layout);
    hg_jobdir f = { 0 };
    hg_argv argv = { 0 };
    hg_error err;
    *a = (hg_attempt){ .stop = HG_STOP_NOT_STARTED, .status = HG_EXIT_NOT_STARTED,
                       .failed_rank = -1, .go_s = -1 };
    if ((a->status = hg_jobdir_prepare(cli, world, config_path, bytes, len, &f)) != 0)
        goto out;
    hg_jobdir_env(&f, env);
    /* Each rank's grace is the launcher's, given before the keepers are released; what
     * Open MPI tears down after that has exited already, and its own second between
     * SIGTERM and SIGKILL (per kill round) only delays the end. A user's value stands. */
    hg_childenv_set(env, "OMPI_MCA_odls_base_sigkill_timeout", "0", 0);
    if (cli->use_srun)
        hg_launch_srun_argv(&argv, cli, world, agent, f.config, exclude);
    else
        hg_launch_mpirun_argv(&argv, cli, world, agent, f.config, env);
    a->status = HG_EXIT_NOT_STARTED;
    if (argv.failed || env->failed) {
        fprintf(stderr, "hgrid-launch: out of memory\n");
        goto out;
    }
    if (cli->verbose)
        hg_launch_print_argv(argv.v);
    hg_supervise_opts o = {
        .argv = argv.v,
        .envp = env->v,
        .world = world,
        .deadline_s = set->v[HG_SET_TIMEOUT],
        .grace_s = set->v[HG_SET_GRACE],
        .layout = layout,
        .verbose = cli->verbose,
        .token = f.token,
        .report_path = f.report,
        .backend = hg_backend_name((hg_backend)set->v[HG_SET_BACKEND]),
        .io = f.io,
        .in_process = cli->in_process,
        .label = set->v[HG_SET_LABEL],
        .log_dir = f.log_dir,
        .stall_s = set->v[HG_SET_STALL_TIMEOUT],
        .first_beat_s = set->v[HG_SET_FIRST_BEAT_TIMEOUT],
        .host_timeout_s = set->v[HG_SET_HOST_TIMEOUT],
        .straggler_pct = cli->straggler_pct, /* merged by hg_launch */
        .straggler_steps = cli->straggler_steps,
        .launcher = cli->use_srun ? "srun" : "mpirun",
        .next = next,
        .next_ctx = next_ctx,
    };
    hg_error_clear(&err);
    if (hg_supervise(&o, a, &err) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", err.msg);
        a->stop = HG_STOP_NOT_STARTED;
        a->status = HG_EXIT_NOT_STARTED;
    }
out:
    hg_argv_free(&argv);
    hg_jobdir_free(&f);
    return a->status;
}

/* Waits before the next attempt; returns the signal that stopped the wait, 0 if none. */
static int restart_pause(int seconds)
{
    sigset_t mask, old;
    struct timespec ts;
    int sig = 0;
    if (seconds <= 0)
        return 0;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);
    /* On hgrid's monotonic clock, to the nanosecond: a wait cut short by EINTR resumes
     * for what is left, never for a truncated whole second (a busy loop under one). */
    double end = hg_now() + seconds, left;
    while (sig <= 0 && (left = end - hg_now()) > 0) {
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        sig = sigtimedwait(&mask, NULL, &ts);
        if (sig < 0 && errno != EINTR && errno != EAGAIN)
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return sig > 0 ? sig : 0;
}

/* "hgrid: attempt 0 failed after 2.2 s (rank 5 (language) ...) on node3; restarting (1
 * restart left) in 10 s" */
static void say_attempt(FILE *out, int attempt, const hg_attempt *a, int restarts_left,
                        int delay_s)
{
    fprintf(out, "hgrid: attempt %d failed after %.1f s (%s)", attempt, a->duration_s, a->why);
    if (a->failed_host[0])
        fprintf(out, " on %s", a->failed_host);
    if (restarts_left > 0)
        fprintf(out, "; restarting (%d restart%s left)", restarts_left,
                restarts_left == 1 ? "" : "s");
    if (restarts_left > 0 && delay_s > 0)
        fprintf(out, " in %d s", delay_s);
    fputs("\n", out);
}

static void say_too_few_hosts(FILE *out, const hg_hostfile *hosts, int world)
{
    fprintf(out, "hgrid: too few hosts left for the layout: %d slots, %d ranks needed (hosts: ",
            hg_hostfile_slots(hosts), world);
    hg_hostfile_describe(hosts, out);
    fputs(")\n", out);
}

/* What the restart loop decides when an attempt has failed in a way another attempt
 * may mend, before anything is said of its end: whether the next attempt can start. */
typedef struct restart_plan {
    const hg_cli *cli;
    hg_hostfile *hosts;  /* --exclude-failed-hosts, else NULL */
    const char *report;  /* the attempt's readiness report, to read its failures from */
    int world, attempt, max, delay_s;
    int restart;         /* another attempt follows */
    int no_hosts;        /* the job ends: too few hosts are left */
    int *advised;        /* the --no-kill advice was given (once a launch) */
} restart_plan;

static hg_next next_attempt(void *ctx, const hg_attempt *a, FILE *out)
{
    restart_plan *r = ctx;
    /* SLURM ends an allocation that loses a node unless it was made with --no-kill, and
     * the job record does not say whether it was (scontrol show job has no such field):
     * said once, when a node is lost. */
    if (r->cli->use_srun && a->stop == HG_STOP_HOST_LOST && r->advised && !*r->advised) {
        fprintf(out, "hgrid: SLURM ends an allocation that loses a node unless it was made "
                "with --no-kill (salloc --no-kill / sbatch --no-kill): without it no restart "
                "can run\n");
        *r->advised = 1;
    }
    if (r->attempt >= r->max)
        return HG_NEXT_END;
    if (r->hosts) {
        hg_hostfile_exclude_failures(r->hosts, r->report, a);
        if (hg_hostfile_slots(r->hosts) < r->world) {
            say_attempt(out, r->attempt, a, 0, 0);
            say_too_few_hosts(out, r->hosts, r->world);
            r->no_hosts = 1;
            return HG_NEXT_ENDED;
        }
    }
    say_attempt(out, r->attempt, a, r->max - r->attempt, r->delay_s);
    r->restart = 1;
    return HG_NEXT_RESTART;
}

/* With restarts possible (--max-restarts > 0), each attempt's files go to their own
 * LOG_DIR/attempt_N/ (as torchrun's attempt_N), attempt 0's included, so a layout never
 * depends on how the job went; without, to LOG_DIR itself. Returns 0 or the exit status,
 * having said why. */
static int attempt_log_dir(hg_cli *acli, int max, int attempt, char *buf, size_t len)
{
    int e;
    if (!acli->log_dir || max <= 0)
        return 0;
    if ((size_t)snprintf(buf, len, "%s/attempt_%d", acli->log_dir, attempt) >= len)
        e = ENAMETOOLONG;
    else
        e = hg_jobdir_make_log_dir(buf);
    if (e) {
        fprintf(stderr, "hgrid-launch: --log-dir %s: %s\n", buf, strerror(e));
        return HG_EXIT_NOT_STARTED;
    }
    acli->log_dir = buf;
    return 0;
}

/* Seconds each host has to answer the probe before an attempt (probe.h). */
#define HG_PROBE_TIMEOUT_S 5.0

/* Per attempt with --hostfile or --exclude-failed-hosts: the hosts probed, the hostfile
 * of the hosts still in and needed, and a
 * readiness report to read the pre-flight failures from (the user's, else a scratch
 * one). Returns 0, HG_EXIT_NO_HOSTS when too few slots are left, HG_EXIT_NOT_STARTED
 * when the files cannot be made. */
static int prepare_hosts(hg_cli *acli, hg_hostfile *hosts, int world, int attempt,
                         char *hostfile, char *report, size_t len)
{
    const char *tmp = hg_jobdir_tmp();
    int fd, gone = 0;
    if (acli->use_srun)
        gone = hg_hostfile_probe_slurm(hosts, HG_PROBE_TIMEOUT_S, attempt, stderr);
    else if (hg_hostfile_slots(hosts) >= world)
        gone = hg_hostfile_probe(hosts, world, HG_PROBE_TIMEOUT_S, attempt, stderr);
    /* Under SLURM without --exclude-failed-hosts the slots per node are a guess (the
     * world spread over the nodes): srun, which knows the allocation, decides. */
    if (hg_hostfile_slots(hosts) < world && (!acli->use_srun || acli->exclude_failed_hosts)) {
        say_too_few_hosts(stderr, hosts, world);
        return HG_EXIT_NO_HOSTS;
    }
    if (acli->use_srun) {
        hg_hostfile_excluded(hosts, hostfile, len); /* srun --exclude's list, not a file */
        acli->srun_nodes = hostfile[0] ? hg_hostfile_hosts_in(hosts) : 0;
    } else if (hg_hostfile_uses_all(hosts, world)) {
        /* The user's own file, as written: nothing to leave out. */
    } else if (snprintf(hostfile, len, "%s/hgrid-hosts-XXXXXX", tmp) < 0
               || (fd = mkstemp(hostfile)) < 0
               || (close(fd), hg_hostfile_write(hosts, world, hostfile)) != 0) {
        fprintf(stderr, "hgrid-launch: cannot write a hostfile in %s: %s\n", tmp, strerror(errno));
        hostfile[0] = '\0';
        return HG_EXIT_NOT_STARTED;
    }
    if (!acli->use_srun && hostfile[0])
        acli->hostfile = hostfile;
#ifdef HG_TEST_HOOKS
    /* Test builds only: hosts made up by HGRID_TEST_HOSTS_OF cannot run mpirun's ranks;
     * the choice is made and said, and mpirun runs on this machine. */
    if (hg_int_env("HGRID_TEST_HOSTFILE_DRY", 1) == 1)
        acli->hostfile = NULL;
#endif
    if (!acli->report) {
        snprintf(report, len, "%s/hgrid-report-XXXXXX", tmp);
        if ((fd = mkstemp(report)) < 0) {
            report[0] = '\0';
            return HG_EXIT_NOT_STARTED;
        }
        close(fd);
        acli->report = report;
    }
    if (attempt > 0 || gone) {
        fprintf(stderr, "hgrid: attempt %d runs on ", attempt);
        hg_hostfile_describe(hosts, stderr);
        fputc('\n', stderr);
    }
    return 0;
}

/* The hosts to choose from: the hostfile's, or (--launcher srun) the allocation's nodes,
 * each with the tasks per node srun will place: --gpus-per-node, SLURM_NTASKS_PER_NODE,
 * else the world spread over the nodes. */
static int load_hosts(const hg_cli *cli, int world, hg_hostfile **hosts, hg_error *err)
{
    if (!cli->use_srun)
        return hg_hostfile_read(cli->hostfile, hosts, err);
    int nodes = hg_int_env("SLURM_JOB_NUM_NODES", INT_MAX);
    int per = cli->gpus_per_node ? cli->gpus_per_node : hg_int_env("SLURM_NTASKS_PER_NODE", INT_MAX);
    if (per <= 0)
        per = nodes > 0 ? (world + nodes - 1) / nodes : world;
    return hg_hostfile_from_nodelist(getenv("SLURM_JOB_NODELIST"), per, hosts, err);
}

/* Outside any job: attempts, each with a fresh plan directory, channel, token and
 * MASTER_PORT, until one succeeds, one fails for a reason a restart cannot help, the
 * operator stops it, or --max-restarts are spent. The status is the last attempt's. */
int hg_restart_run(const hg_cli *cli, const hg_setting_values *set, const hg_layout *layout,
                   const char *agent, const char *config_path, const char *bytes, size_t len)
{
    int max = set->v[HG_SET_MAX_RESTARTS];
    int world = hg_layout_world_size(layout), status, attempt, advised = 0;
    hg_attempts *log = hg_attempts_new();
    hg_hostfile *hosts = NULL;
    hg_attempt a = { .failed_rank = -1, .go_s = -1 };
    hg_error err;
    char run_id[256];
    status = 0;
    if (!log) {
        /* Nothing ran: never say success. */
        fprintf(stderr, "hgrid-launch: out of memory\n");
        status = HG_EXIT_NOT_STARTED;
        goto out;
    }
    hg_jobdir_run_id(run_id, sizeof(run_id));
    /* With a hostfile the hosts are probed before each attempt (a down spare must not
     * stop the job), --exclude-failed-hosts or not; under SLURM only to leave hosts out. */
    if ((cli->hostfile || cli->exclude_failed_hosts) && load_hosts(cli, world, &hosts, &err) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", err.msg);
        status = HG_EXIT_NOT_STARTED;
        goto out;
    }
    /* Under SLURM the allocation's nodes are checked before each attempt even without
     * --exclude-failed-hosts (a node down at the start must not stop the job); outside
     * an allocation there is nothing to check. */
    if (!hosts && cli->use_srun && getenv("SLURM_JOB_NODELIST")
        && load_hosts(cli, world, &hosts, &err) != 0)
        hosts = NULL;
    for (attempt = 0;; attempt++) {
        hg_cli acli = *cli;
        char hostfile[PATH_MAX] = "", report[PATH_MAX] = "", log_dir[PATH_MAX] = "";
        restart_plan plan = { cli, cli->exclude_failed_hosts ? hosts : NULL, NULL, world, attempt,
                              max, set->v[HG_SET_RESTART_DELAY], 0, 0, &advised };
        hg_childenv env;
        attempt_env(&env, run_id, attempt, max);
        double start = hg_now();
        status = hosts ? prepare_hosts(&acli, hosts, world, attempt, hostfile, report,
                                       sizeof(hostfile)) : 0;
        /* hgrid's own verdicts before an attempt runs; an attempt's status is its own
         * (a workload may exit 6), and only plan says whether the job goes on. */
        plan.no_hosts = status == HG_EXIT_NO_HOSTS;
        if (status == 0)
            status = attempt_log_dir(&acli, max, attempt, log_dir, sizeof(log_dir));
        if (status == 0) {
            plan.report = acli.report;
            status = run_attempt(&acli, set, layout, agent, config_path, bytes, len,
                                 cli->use_srun ? hostfile : NULL, &env, next_attempt, &plan, &a);
            hg_attempts_add(log, &a, start, hg_now());
        }
        hg_childenv_free(&env);
        if (hostfile[0] && !cli->use_srun)
            unlink(hostfile);
        if (report[0])
            unlink(report);
        if (plan.no_hosts)
            status = HG_EXIT_NO_HOSTS;
        if (!plan.restart)
            break;
        int sig = restart_pause(set->v[HG_SET_RESTART_DELAY]);
        if (sig) {
            fprintf(stderr, "hgrid: %s received: no restart\n", strsignal(sig));
            status = 128 + sig;
            break;
        }
    }
    hg_attempts_summary(log, stderr);
    /* A single attempt's report may be missing (the job never started): nothing to add. */
    if (cli->report && hg_attempts_add_to_report(log, cli->report) != 0
        && hg_attempts_count(log) > 1)
        fprintf(stderr, "hgrid: warning: cannot add the attempts to the report %s\n", cli->report);
out:
    hg_hostfile_free(hosts);
    hg_attempts_free(log);
    return status;
}
