/* hgrid-launch CONFIG -- PROGRAM: validate, then either exec this rank's agent (inside
 * srun or mpirun) or start `mpirun -np WORLD hgrid-agent ...` and supervise it. Both
 * paths build argv arrays; nothing goes through a shell, and the agent's part is
 * written from its own option table (common/agent_argv.h). The agent is the
 * hgrid-agent installed beside this binary (HGRID_AGENT overrides, for tests). */
#include "launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent_argv.h"
#include "attempts.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "hostfile.h"
#include "probe.h"
#include "intparse.h"
#include "iochan.h"
#include "job.h"
#include "layout.h"
#include "placement.h"
#include "proc.h"
#include "program.h"
#include "protocol.h"
#include "supervisor.h"

typedef struct argv_buf {
    char **v;
    size_t n, cap;
    int failed;
} argv_buf;

static void argv_add(argv_buf *a, const char *s)
{
    if (a->failed)
        return;
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof(*v));
        if (!v) {
            a->failed = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n] = strdup(s);
    if (!a->v[a->n]) {
        a->failed = 1;
        return;
    }
    a->v[++a->n] = NULL;
}

static void argv_addf(argv_buf *a, const char *fmt, int v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), fmt, v);
    argv_add(a, buf);
}

static void argv_free(argv_buf *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

static int find_agent(char *out, size_t len)
{
    const char *env = getenv(HG_ENV_AGENT);
    if (env && *env) {
        snprintf(out, len, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return -1;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
            return -1;
        *slash = '\0';
        if ((size_t)snprintf(out, len, "%.*s/hgrid-agent", (int)(len - 16), self) >= len)
            return -1;
    }
    return access(out, X_OK);
}

static void emit_word(void *ctx, const char *word)
{
    argv_add(ctx, word);
}

/* The agent's command line: what was given on ours, with the paths the agents write
 * made absolute (they may start in another directory). */
static void agent_args(argv_buf *a, const hg_cli *cli, const char *agent, const char *config)
{
    hg_agent_args args;
    char *cwd = realpath(".", NULL), *report = NULL;
    char *log_dir = cli->log_dir ? realpath(cli->log_dir, NULL) : NULL;
    hg_agent_args_init(&args);
    args.backend = cli->backend;
    args.timeout_s = cli->timeout_s;
    args.preflight = cli->preflight;
    args.report = cli->report;
    if (cli->report && cli->report[0] != '/' && cwd
        && asprintf(&report, "%s/%s", cwd, cli->report) >= 0)
        args.report = report;
    args.verbose = cli->verbose;
    args.strict = cli->strict;
    args.in_process = cli->in_process;
    args.label = cli->label;
    args.log_dir = log_dir ? log_dir : cli->log_dir;
    args.config = config;
    args.program = cli->program;
    argv_add(a, agent);
    hg_agent_args_write(&args, emit_word, a);
    free(report);
    free(log_dir);
    free(cwd);
}

char **hg_launch_agent_argv(const hg_cli *cli, const char *agent, const char *config)
{
    argv_buf a = { 0 };
    agent_args(&a, cli, agent, config);
    if (a.failed) {
        argv_free(&a);
        return NULL;
    }
    return a.v;
}

void hg_launch_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* The command line as a POSIX shell would read it back: safe words bare, anything
 * else in single quotes with each ' written as '\''. Only for people to read or paste;
 * nothing here goes through a shell. */
static void print_argv(char *const *v)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "_@%+=:,./-";
    fputs("hgrid: running:", stderr);
    for (size_t i = 0; v[i]; i++) {
        const char *a = v[i];
        if (*a && strspn(a, safe) == strlen(a)) {
            fprintf(stderr, " %s", a);
            continue;
        }
        fputs(" '", stderr);
        for (; *a; a++) {
            if (*a == '\'')
                fputs("'\\''", stderr);
            else
                fputc(*a, stderr);
        }
        fputc('\'', stderr);
    }
    fputc('\n', stderr);
}

/* Reads the config once (a pipe or standard input cannot be read twice) and validates
 * those bytes; diagnostics are printed when `speak`. *bytes is the caller's. */
static int load_layout(const char *path, const hg_cli *cli, int speak, char **bytes,
                       size_t *len, hg_config **cfg, hg_layout **layout)
{
    hg_diags *d = hg_diags_new(hg_config_name(path));
    int rc;
    *cfg = NULL;
    *layout = NULL;
    *bytes = NULL;
    if (!d)
        return HG_ENOMEM;
    rc = hg_config_read_file(path, bytes, len, d);
    if (rc == 0)
        rc = hg_layout_load_bytes(*bytes, *len, cli->strict ? HG_VALIDATE_STRICT : 0, cfg, layout,
                                  d);
    /* Groups across nodes, as the dry-run says them: errors with --strict. */
    if (rc == 0 && cli->gpus_per_node > 0)
        rc = hg_placement_diagnose(*layout, *cfg, cli->gpus_per_node,
                                   cli->strict ? HG_VALIDATE_STRICT : 0, d);
    if (speak)
        hg_diags_print(d, stderr);
    hg_diags_free(d);
    return rc;
}

/* Whether the agents can read CONFIG again themselves: a regular file, named by a
 * path that every host resolves the same way (shared file systems). */
static int rereadable(const char *path)
{
    struct stat st;
    return strcmp(path, HG_CONFIG_STDIN) != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The bytes the launcher validated, for the agents, when CONFIG was a pipe. */
static char *copy_config(const char *dir, const char *bytes, size_t len)
{
    char *path = NULL;
    if (asprintf(&path, "%s/config.yaml", dir) < 0)
        return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f)
        ok &= fclose(f) == 0;
    else if (fd >= 0)
        close(fd);
    if (!ok) {
        free(path);
        return NULL;
    }
    return path;
}

static int in_job(const hg_cli *cli, const hg_job *job, const hg_layout *layout,
                  const char *agent, const char *config)
{
    int speak = job->rank <= 0;
    int world = hg_layout_world_size(layout);
    if (job->kind == HG_JOB_SLURM && !job->has_pmi) {
        if (speak)
            fprintf(stderr, "hgrid-launch: this SLURM step has no PMIx, so MPI cannot bootstrap; "
                    "run it as `srun --mpi=pmix ...`\n");
        return HG_EXIT_USAGE;
    }
    if (job->size > 0 && job->size != world) {
        if (speak)
            fprintf(stderr, "hgrid-launch: the %s has %d task%s but %s describes %d rank%s\n",
                    hg_job_name(job->kind), job->size, job->size == 1 ? "" : "s",
                    hg_config_name(cli->configs[0]), world, world == 1 ? "" : "s");
        return HG_EXIT_USAGE;
    }
    char **argv = hg_launch_agent_argv(cli, agent, config);
    if (!argv) {
        fprintf(stderr, "hgrid-launch: out of memory\n");
        return HG_EXIT_PREFLIGHT;
    }
    if (cli->verbose && speak)
        print_argv(argv);
    fflush(NULL);
    execv(argv[0], argv);
    fprintf(stderr, "hgrid-launch: cannot run %s: %s\n", argv[0], strerror(errno));
    hg_launch_argv_free(argv);
    return HG_EXIT_PREFLIGHT;
}

/* mpirun passes the environment to ranks on its own host only; these reach every
 * host, as srun's --export=ALL would (-x NAME for each one set here). */
static int forwarded(const char *name, size_t len)
{
    static const char *const prefixes[] = { "NCCL_", "CUDA_", HG_ENV_PREFIX, "TORCH_", "TORCHELASTIC_",
                                            "PYTORCH_", "UCX_", NULL };
    static const char *const names[] = { "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", NULL };
    for (size_t i = 0; prefixes[i]; i++)
        if (len > strlen(prefixes[i]) && strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; names[i]; i++)
        if (len == strlen(names[i]) && strncmp(name, names[i], len) == 0)
            return 1;
    return 0;
}

static void forward_env(argv_buf *a)
{
    extern char **environ;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || !forwarded(*e, (size_t)(eq - *e)))
            continue;
        char name[256];
        if ((size_t)(eq - *e) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        argv_add(a, "-x");
        argv_add(a, name);
    }
}

/* A process's start time (hg_proc_stat), or 0 when it does not exist. */
static unsigned long long proc_start_time(long pid)
{
    hg_proc_stat st;
    return hg_proc_stat_read(pid, &st) == 0 ? st.start : 0;
}

static void remove_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

#define PLAN_DIR_PREFIX "hgrid-job-"

/* Plan directories are named hgrid-job-PID-START-XXXXXX after the launcher that owns
 * them. One whose launcher is gone (kill -9 leaves no chance to clean up) is removed
 * by the next launch of the same user. */
static void remove_stale_plan_dirs(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        unsigned long long start;
        int used = 0;
        struct stat st;
        if (strncmp(e->d_name, PLAN_DIR_PREFIX, strlen(PLAN_DIR_PREFIX)) != 0
            || sscanf(e->d_name + strlen(PLAN_DIR_PREFIX), "%ld-%llu-%n", &pid, &start, &used) != 2
            || used == 0 || strlen(e->d_name + strlen(PLAN_DIR_PREFIX) + used) != 6
            || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)
            || st.st_uid != geteuid() || proc_start_time(pid) == start)
            continue;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", tmp, e->d_name) >= 0) {
            remove_dir_files(path);
            free(path);
        }
    }
    closedir(d);
}

static const char *tmp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* The agents write each rank's plan (HGRID_PLAN) into one directory that the
 * launcher owns and removes after the job, so repeated runs leave nothing in /tmp.
 * Ranks on other hosts create the same path there (mpirun -x); those are not removed. */
static char *make_plan_dir(void)
{
    const char *tmp = tmp_dir();
    char *dir = NULL;
    remove_stale_plan_dirs(tmp);
    if (asprintf(&dir, "%s/" PLAN_DIR_PREFIX "%ld-%llu-XXXXXX", tmp, (long)getpid(),
                 proc_start_time((long)getpid())) < 0)
        return NULL;
    if (!mkdtemp(dir) || setenv(HG_ENV_PLAN_DIR, dir, 1) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

static void remove_plan_dir(char *dir)
{
    if (!dir)
        return;
    remove_dir_files(dir);
    free(dir);
}

/* A writable place for FILE: an existing non-directory we may write, or a new name
 * in a directory we may write. Returns 0 or an errno. */
static int check_writable_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? EISDIR : access(path, W_OK) == 0 ? 0 : errno;
    if (errno != ENOENT)
        return errno;
    char *copy = strdup(path);
    if (!copy)
        return ENOMEM;
    char *slash = strrchr(copy, '/');
    const char *dir = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
    int e = stat(dir, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
            : access(dir, W_OK | X_OK) != 0 ? errno : 0;
    free(copy);
    return e;
}

/* mkdir -p, then checks that files can be made there. Returns 0 or an errno. */
static int make_log_dir(const char *dir)
{
    char *copy = strdup(dir);
    struct stat st;
    int e = 0;
    if (!copy)
        return ENOMEM;
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
                e = errno;
                break;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    free(copy);
    if (e)
        return e;
    if (stat(dir, &st) != 0)
        return errno;
    if (!S_ISDIR(st.st_mode))
        return ENOTDIR;
    return access(dir, W_OK | X_OK) == 0 ? 0 : errno;
}

/* A fresh random token per job for the status channel (protocol.h). */
static int set_status_token(void)
{
    unsigned char r[HG_STATUS_TOKEN_LEN / 2];
    char hex[HG_STATUS_TOKEN_LEN + 1];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32)
                               ^ (unsigned long long)ts.tv_sec;
        memcpy(r, &x, sizeof(r) < sizeof(x) ? sizeof(r) : sizeof(x));
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return setenv(HG_ENV_STATUS_TOKEN, hex, 1);
}

/* The job's id for TORCHELASTIC_RUN_ID (protocol.h), the same in every attempt: the
 * user's HGRID_RUN_ID, else a random UUID, as torchrun --standalone makes. */
static int set_run_id(void)
{
    unsigned char r[16];
    char id[40];
    const char *have = getenv(HG_ENV_RUN_ID);
    if (have && *have)
        return 0;
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 32);
        unsigned long long y = (unsigned long long)ts.tv_sec;
        memcpy(r, &x, sizeof(x));
        memcpy(r + 8, &y, sizeof(y));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(id, sizeof(id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
    return setenv(HG_ENV_RUN_ID, id, 1);
}

/* Everything that can be known wrong before mpirun starts is checked here, each with
 * its own exit status and a message that names the path (protocol.h). */
static int preflight_local(const hg_cli *cli)
{
    int e;
    hg_error why;
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    if (cli->report && (e = check_writable_file(cli->report)) != 0) {
        fprintf(stderr, "hgrid-launch: --report %s: cannot write there: %s\n", cli->report,
                strerror(e));
        return HG_EXIT_USAGE;
    }
    if (cli->log_dir && (e = make_log_dir(cli->log_dir)) != 0) {
        fprintf(stderr, "hgrid-launch: --log-dir %s: %s\n", cli->log_dir, strerror(e));
        return HG_EXIT_USAGE;
    }
    /* Ranks on this host only: with a hostfile PROGRAM may exist on the nodes alone,
     * and the agents check it there, right after they start. */
    if (!cli->hostfile && hg_program_resolve(cli->program[0], getenv("PATH"), NULL, 0, &why) != 0) {
        fprintf(stderr, "hgrid-launch: %s\n", why.msg);
        return HG_EXIT_USAGE;
    }
    if (tmp && *tmp) {
        /* errno only where a call failed: a regular file stats fine and is ENOTDIR. */
        e = stat(tmp, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
            : access(tmp, W_OK | X_OK) != 0 ? errno : 0;
        if (e) {
            fprintf(stderr, "hgrid-launch: the job could not be started: TMPDIR=%s: %s (the "
                    "ranks' plans are written there)\n", tmp, strerror(e));
            return HG_EXIT_NOT_STARTED;
        }
    }
    if (cli->hostfile && access(cli->hostfile, R_OK) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot read the hostfile "
                "%s: %s\n", cli->hostfile, strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if (cli->use_srun && !(getenv("SLURM_JOB_ID") && *getenv("SLURM_JOB_ID"))) {
        fprintf(stderr, "hgrid-launch: --launcher srun runs inside a SLURM allocation (salloc, "
                "sbatch): SLURM_JOB_ID is not set\n");
        return HG_EXIT_USAGE;
    }
    if (cli->use_srun && hg_program_resolve(cli->srun, getenv("PATH"), NULL, 0, &why) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot run srun: %s\n",
                why.msg);
        return HG_EXIT_NOT_STARTED;
    }
    if (!cli->use_srun && hg_program_resolve(cli->mpirun, getenv("PATH"), NULL, 0, &why) != 0) {
        /* "cannot run PROGRAM 'x': why" from the shared lookup, said of mpirun here. */
        const char *reason = strstr(why.msg, "': ");
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot run mpirun '%s': "
                "%s (install Open MPI, or name it with --mpirun PATH)\n", cli->mpirun,
                reason ? reason + 3 : why.msg);
        return HG_EXIT_NOT_STARTED;
    }
    return 0;
}

/* What a standalone launch owns until the job has ended. */
typedef struct job_files {
    char *plan_dir;  /* the ranks' plan files; removed with its files */
    char *config;    /* the path the agents read (a copy in plan_dir for a pipe) */
    char *report;    /* --report, absolute */
    char *log_dir;   /* --log-dir, absolute */
    hg_iochan *io;   /* the ranks' channel */
} job_files;

static void job_files_free(job_files *f)
{
    hg_iochan_free(f->io);
    free(f->log_dir);
    free(f->report);
    free(f->config);
    remove_plan_dir(f->plan_dir);
}

/* An absolute version of a path the agents may open from another directory. */
static char *absolute(const char *path)
{
    char *cwd, *abs = NULL;
    if (path[0] == '/')
        return strdup(path);
    if (!(cwd = realpath(".", NULL)))
        return NULL;
    if (asprintf(&abs, "%s/%s", cwd, path) < 0)
        abs = NULL;
    free(cwd);
    return abs;
}

/* Token, plan directory, config, paths and the ranks' channel, before mpirun's command
 * line (HGRID_IO and the token travel with every HGRID_* name). Returns 0 or the exit
 * status, having said why. */
static int prepare_job(const hg_cli *cli, int world, const char *config_path, const char *bytes,
                       size_t len, job_files *f)
{
    hg_error err;
    if (set_status_token() != 0) {
        fprintf(stderr, "hgrid-launch: setenv: %s\n", strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if (!(f->plan_dir = make_plan_dir())) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot create a plan "
                "directory in %s: %s\n", tmp_dir(), strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    f->config = config_path ? strdup(config_path) : copy_config(f->plan_dir, bytes, len);
    if (!f->config) {
        fprintf(stderr, "hgrid-launch: the job could not be started: cannot copy the config "
                "into %s: %s\n", f->plan_dir, strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if ((cli->report && !(f->report = absolute(cli->report)))
        || (cli->log_dir && !(f->log_dir = realpath(cli->log_dir, NULL)))) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", strerror(errno));
        return HG_EXIT_NOT_STARTED;
    }
    if (hg_iochan_listen(&f->io, world, &err) != 0) {
        fprintf(stderr, "hgrid-launch: the job could not be started: %s\n", err.msg);
        return HG_EXIT_NOT_STARTED;
    }
    return 0;
}

/* `srun --mpi=pmix -n WORLD [--exclude=HOSTS] [...] hgrid-agent ... -- PROGRAM`: one step
 * of the allocation. A task's failure does not end the step (the keepers hold it while
 * the others get their grace); the environment passes as srun's --export=ALL default. */
static void srun_argv(argv_buf *a, const hg_cli *cli, int world, const char *agent,
                      const char *config, const char *exclude)
{
    argv_add(a, cli->srun);
    argv_add(a, "--mpi=pmix");
    argv_add(a, "-n");
    argv_addf(a, "%d", world);
    argv_add(a, "--kill-on-bad-exit=0");
    if (cli->gpus_per_node)
        argv_addf(a, "--ntasks-per-node=%d", cli->gpus_per_node);
    if (exclude && *exclude) {
        argv_add(a, "--exclude");
        argv_add(a, exclude);
    }
    if (cli->srun_nodes > 0) {
        argv_add(a, "-N");
        argv_addf(a, "%d", cli->srun_nodes);
        /* The last attempt's step is not complete while its lost node cannot say so,
         * and holds the healthy nodes' resources: without this, "nodes are busy". */
        argv_add(a, "--overlap");
    }
    for (int i = 0; i < cli->nmpi_args; i++)
        argv_add(a, cli->mpi_args[i]);
    agent_args(a, cli, agent, config);
}

/* `mpirun -np WORLD [its options] hgrid-agent [the agent's] CONFIG -- PROGRAM`. */
static void mpirun_argv(argv_buf *a, const hg_cli *cli, int world, const char *agent,
                        const char *config)
{
    argv_add(a, cli->mpirun);
    argv_add(a, "-np");
    argv_addf(a, "%d", world);
    /* mpirun refuses root unless told; a root container is the common case for GPU jobs. */
    if (geteuid() == 0)
        argv_add(a, "--allow-run-as-root");
    if (cli->hostfile) {
        argv_add(a, "--hostfile");
        argv_add(a, cli->hostfile);
    }
    if (cli->gpus_per_node) {
        argv_add(a, "--map-by");
        argv_addf(a, "ppr:%d:node", cli->gpus_per_node);
    }
    /* Open MPI binds each rank to one core by default; a trainer's data loaders and
     * NCCL's proxy threads need the whole node. A --bind-to of the user's wins. */
    int user_binds = 0;
    for (int i = 0; i < cli->nmpi_args; i++)
        user_binds |= strstr(cli->mpi_args[i], "bind-to") != NULL;
    if (!user_binds) {
        argv_add(a, "--bind-to");
        argv_add(a, "none");
    }
    forward_env(a);
    for (int i = 0; i < cli->nmpi_args; i++)
        argv_add(a, cli->mpi_args[i]);
    agent_args(a, cli, agent, config);
}

/* The attempt number the workload sees, as hgrid and as torchrun name it. */
static int set_restart_env(int attempt, int max_restarts)
{
    char n[16], m[16];
    snprintf(n, sizeof(n), "%d", attempt);
    snprintf(m, sizeof(m), "%d", max_restarts);
    return setenv(HG_ENV_RESTART_COUNT, n, 1) | setenv(HG_ENV_TE_RESTART_COUNT, n, 1)
           | setenv(HG_ENV_TE_MAX_RESTARTS, m, 1);
}

/* One attempt: prepare, start mpirun under the supervisor, clean up. Fills *a. */
static int run_attempt(const hg_cli *cli, const hg_config *cfg, const hg_layout *layout,
                       const char *agent, const char *config_path, const char *bytes, size_t len,
                       const char *exclude, hg_next_fn next, void *next_ctx, hg_attempt *a)
{
    int world = hg_layout_world_size(layout);
    job_files f = { 0 };
    argv_buf argv = { 0 };
    hg_error err;
    *a = (hg_attempt){ .stop = HG_STOP_NOT_STARTED, .status = HG_EXIT_NOT_STARTED,
                       .failed_rank = -1, .go_s = -1 };
    if ((a->status = prepare_job(cli, world, config_path, bytes, len, &f)) != 0)
        goto out;
    if (cli->use_srun)
        srun_argv(&argv, cli, world, agent, f.config, exclude);
    else
        mpirun_argv(&argv, cli, world, agent, f.config);
    a->status = HG_EXIT_NOT_STARTED;
    if (argv.failed) {
        fprintf(stderr, "hgrid-launch: out of memory\n");
        goto out;
    }
    if (cli->verbose)
        print_argv(argv.v);
    hg_supervise_opts o = {
        .argv = argv.v,
        .world = world,
        .deadline_s = cli->timeout_s, /* hg_launch filled it from the config if not given */
        .grace_s = cli->grace_s,
        .layout = layout,
        .verbose = cli->verbose,
        .token = getenv(HG_ENV_STATUS_TOKEN),
        .report_path = f.report,
        .backend = hg_backend_name(cli->backend != HG_BACKEND_FROM_CONFIG ? (hg_backend)cli->backend
                                                                           : cfg->backend),
        .io = f.io,
        .in_process = cli->in_process,
        .label = cli->label,
        .log_dir = f.log_dir,
        .stall_s = cli->stall_timeout_s >= 0 ? cli->stall_timeout_s : (int)cfg->stall_timeout_s.v,
        .first_beat_s = cli->first_beat_timeout_s >= 0 ? cli->first_beat_timeout_s
                                                       : (int)cfg->first_beat_timeout_s.v,
        .host_timeout_s = cli->host_timeout_s,
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
    argv_free(&argv);
    job_files_free(&f);
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
    int world, attempt, max;
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
    say_attempt(out, r->attempt, a, r->max - r->attempt, r->cli->restart_delay_s);
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
        e = make_log_dir(buf);
    if (e) {
        fprintf(stderr, "hgrid-launch: --log-dir %s: %s\n", buf, strerror(e));
        return HG_EXIT_NOT_STARTED;
    }
    acli->log_dir = buf;
    return 0;
}

/* Outside any job: attempts, each with a fresh plan directory, channel, token and
 * MASTER_PORT, until one succeeds, one fails for a reason a restart cannot help, the
 * operator stops it, or --max-restarts are spent. The status is the last attempt's. */
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
    const char *tmp = tmp_dir();
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

static int launch_standalone(const hg_cli *cli, const hg_config *cfg, const hg_layout *layout,
                             const char *agent, const char *config_path, const char *bytes,
                             size_t len)
{
    int max = cli->max_restarts >= 0 ? cli->max_restarts : (int)cfg->max_restarts.v;
    int world = hg_layout_world_size(layout), status, attempt, advised = 0;
    hg_attempts *log = hg_attempts_new();
    hg_hostfile *hosts = NULL;
    hg_attempt a = { .failed_rank = -1, .go_s = -1 };
    hg_error err;
    /* mpirun looks up ssh and its own helpers on PATH; under `env -i` use execvp's. */
    if (!getenv("PATH"))
        setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    if ((status = preflight_local(cli)) != 0 || !log)
        goto out;
    if (set_run_id() != 0) {
        fprintf(stderr, "hgrid-launch: setenv: %s\n", strerror(errno));
        status = HG_EXIT_NOT_STARTED;
        goto out;
    }
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
                              max, 0, 0, &advised };
        if (set_restart_env(attempt, max) != 0) {
            fprintf(stderr, "hgrid-launch: setenv: %s\n", strerror(errno));
            status = HG_EXIT_NOT_STARTED;
            break;
        }
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
            status = run_attempt(&acli, cfg, layout, agent, config_path, bytes, len,
                                 cli->use_srun ? hostfile : NULL, next_attempt, &plan, &a);
            hg_attempts_add(log, &a, start, hg_now());
        }
        if (hostfile[0] && !cli->use_srun)
            unlink(hostfile);
        if (report[0])
            unlink(report);
        if (plan.no_hosts)
            status = HG_EXIT_NO_HOSTS;
        if (!plan.restart)
            break;
        int sig = restart_pause(cli->restart_delay_s);
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

/* A launcher started with a standard stream closed would hand that descriptor number
 * to the next file it opens (a pipe, the config), and a later write "to stderr" would
 * land there. Closed streams become /dev/null instead. */
static void open_std_streams(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

int hg_launch(const hg_cli *cli)
{
    hg_job job;
    hg_job_detect(&job);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    char agent[PATH_MAX] = "hgrid-agent";
    char *config = NULL, *bytes = NULL;
    size_t len = 0;
    int status = HG_EXIT_USAGE;
    const char *path = cli->configs[0];

    open_std_streams();
    if (load_layout(path, cli, job.rank <= 0, &bytes, &len, &cfg, &layout) != 0)
        goto out;
    if (rereadable(path) && !(config = realpath(path, NULL))) {
        fprintf(stderr, "hgrid-launch: %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (!config && job.kind != HG_JOB_NONE) {
        /* Every task would read its own pipe (or stdin, which srun gives task 0 only). */
        if (job.rank <= 0)
            fprintf(stderr, "hgrid-launch: inside a %s, CONFIG must be a file every task can "
                    "read, not %s\n", hg_job_name(job.kind), hg_config_name(path));
        goto out;
    }
    if (find_agent(agent, sizeof(agent)) != 0) {
        fprintf(stderr, "hgrid-launch: cannot run the agent '%s' (install hgrid-agent beside "
                "hgrid-launch, or set HGRID_AGENT)\n", agent);
        status = job.kind != HG_JOB_NONE ? HG_EXIT_PREFLIGHT : HG_EXIT_NOT_STARTED;
        goto out;
    }
    /* The agents get the deadline on their command line even when it is the config's:
     * their watchdog runs from before MPI_Init, long before rank 0's config reaches
     * them, and MPI_Init alone can outlast the default at thousands of ranks. */
    hg_cli eff = *cli;
    if (!eff.timeout_s)
        eff.timeout_s = (int)cfg->init_timeout_s.v;
    if (job.kind != HG_JOB_NONE)
        status = in_job(&eff, &job, layout, agent, config);
    else
        status = launch_standalone(&eff, cfg, layout, agent, config, bytes, len);
out:
    free(config);
    free(bytes);
    hg_layout_free(layout);
    hg_config_free(cfg);
    return status;
}
