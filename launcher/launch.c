/* hgrid-launch CONFIG -- PROGRAM: validate, then either exec this rank's agent (inside
 * srun or mpirun) or start `mpirun -np WORLD hgrid-agent ...` and supervise it. Both
 * paths build argv arrays; nothing goes through a shell. The agent is the
 * hgrid-agent installed beside this binary (HGRID_AGENT overrides, for tests). */
#include "launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "job.h"
#include "layout.h"
#include "supervisor.h"

typedef struct argv_buf {
    char **v;
    size_t n, cap;
    int failed;
} argv_buf;

static void add(argv_buf *a, const char *s)
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

static void addf(argv_buf *a, const char *fmt, int v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), fmt, v);
    add(a, buf);
}

static void argv_free(argv_buf *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

static int find_agent(char *out, size_t len)
{
    const char *env = getenv("HGRID_AGENT");
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

/* The agent's own arguments: what was given on our command line, absolute paths. */
static void agent_args(argv_buf *a, const hg_cli *cli, const char *agent, const char *config)
{
    add(a, agent);
    if (cli->backend) {
        add(a, "--backend");
        add(a, cli->backend);
    }
    if (cli->timeout_s) {
        add(a, "--timeout");
        addf(a, "%d", cli->timeout_s);
    }
    if (cli->report) {
        char *abs = realpath(".", NULL);
        add(a, "--report");
        if (cli->report[0] == '/' || !abs) {
            add(a, cli->report);
        } else {
            char buf[PATH_MAX * 2];
            snprintf(buf, sizeof(buf), "%s/%s", abs, cli->report);
            add(a, buf);
        }
        free(abs);
    }
    if (cli->verbose)
        add(a, "--verbose");
    if (cli->strict)
        add(a, "--strict");
    if (cli->in_process)
        add(a, "--in-process");
    if (cli->label)
        add(a, "--label");
    if (cli->log_dir) {
        /* The agents write the files; they need the path as seen from here. */
        char *abs = realpath(cli->log_dir, NULL);
        add(a, "--log-dir");
        add(a, abs ? abs : cli->log_dir);
        free(abs);
    }
    add(a, config);
    add(a, "--");
    for (int i = 0; i < cli->nprogram; i++)
        add(a, cli->program[i]);
}

static void print_argv(char *const *v)
{
    fputs("hgrid: running:", stderr);
    for (size_t i = 0; v[i]; i++) {
        /* Quoted only for reading; this line is never parsed by a shell. */
        if (strpbrk(v[i], " \t'\"$\\") || !*v[i])
            fprintf(stderr, " '%s'", v[i]);
        else
            fprintf(stderr, " %s", v[i]);
    }
    fputc('\n', stderr);
}

/* Loads and validates; diagnostics are printed when `speak`. */
static int load_layout(const char *path, const hg_cli *cli, int speak, hg_config **cfg,
                       hg_layout **layout)
{
    hg_diags *d = hg_diags_new(path);
    *cfg = NULL;
    *layout = NULL;
    if (!d)
        return HG_ENOMEM;
    int rc = hg_layout_load(path, cli->strict ? HG_VALIDATE_STRICT : 0, cfg, layout, d);
    if (speak)
        hg_diags_print(d, stderr);
    hg_diags_free(d);
    return rc;
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
        return 2;
    }
    if (job->size > 0 && job->size != world) {
        if (speak)
            fprintf(stderr, "hgrid-launch: the %s has %d tasks but %s describes %d ranks\n",
                    hg_job_name(job->kind), job->size, cli->configs[0], world);
        return 2;
    }
    argv_buf a = { 0 };
    agent_args(&a, cli, agent, config);
    if (a.failed) {
        argv_free(&a);
        fprintf(stderr, "hgrid-launch: out of memory\n");
        return 3;
    }
    if (cli->verbose && speak)
        print_argv(a.v);
    fflush(NULL);
    execv(a.v[0], a.v);
    fprintf(stderr, "hgrid-launch: cannot run %s: %s\n", a.v[0], strerror(errno));
    argv_free(&a);
    return 3;
}

/* mpirun passes the environment to ranks on its own host only; these reach every
 * host, as srun's --export=ALL would (-x NAME for each one set here). */
static int forwarded(const char *name, size_t len)
{
    static const char *const prefixes[] = { "NCCL_", "CUDA_", "HGRID_", "TORCH_", "PYTORCH_",
                                            "UCX_", NULL };
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
        add(a, "-x");
        add(a, name);
    }
}

/* The agents write each rank's plan (HGRID_PLAN) into one directory that the
 * launcher owns and removes after the job, so repeated runs leave nothing in /tmp.
 * Ranks on other hosts create the same path there (mpirun -x); those are not removed. */
static char *make_plan_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    if (asprintf(&dir, "%s/hgrid-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
        return NULL;
    if (!mkdtemp(dir) || setenv("HGRID_PLAN_DIR", dir, 1) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

static void remove_plan_dir(char *dir)
{
    if (!dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static int standalone(const hg_cli *cli, const hg_config *cfg, const hg_layout *layout,
                      const char *agent, const char *config)
{
    int world = hg_layout_world_size(layout);
    char *plan_dir = make_plan_dir();
    if (!plan_dir) {
        fprintf(stderr, "hgrid-launch: cannot create a plan directory: %s\n", strerror(errno));
        return 3;
    }
    argv_buf a = { 0 };
    add(&a, cli->mpirun);
    add(&a, "-np");
    addf(&a, "%d", world);
    /* mpirun refuses root unless told; a root container is the common case for GPU jobs. */
    if (geteuid() == 0)
        add(&a, "--allow-run-as-root");
    if (cli->hostfile) {
        add(&a, "--hostfile");
        add(&a, cli->hostfile);
    }
    if (cli->gpus_per_node) {
        add(&a, "--map-by");
        addf(&a, "ppr:%d:node", cli->gpus_per_node);
    }
    /* Open MPI binds each rank to one core by default; a trainer's data loaders and
     * NCCL's proxy threads need the whole node. A --bind-to of the user's wins. */
    int user_binds = 0;
    for (int i = 0; i < cli->nmpi_args; i++)
        user_binds |= strstr(cli->mpi_args[i], "bind-to") != NULL;
    if (!user_binds) {
        add(&a, "--bind-to");
        add(&a, "none");
    }
    forward_env(&a);
    for (int i = 0; i < cli->nmpi_args; i++)
        add(&a, cli->mpi_args[i]);
    agent_args(&a, cli, agent, config);
    if (a.failed) {
        argv_free(&a);
        remove_plan_dir(plan_dir);
        fprintf(stderr, "hgrid-launch: out of memory\n");
        return 3;
    }
    if (cli->verbose)
        print_argv(a.v);

    hg_supervise_opts o = {
        .argv = a.v,
        .world = world,
        .deadline_s = cli->timeout_s ? cli->timeout_s : (int)cfg->init_timeout_s.v,
        .layout = layout,
        .verbose = cli->verbose,
    };
    hg_error err;
    hg_error_clear(&err);
    int status = 3;
    if (hg_supervise(&o, &status, &err) != 0) {
        fprintf(stderr, "hgrid-launch: %s\n", err.msg);
        status = 3;
    }
    argv_free(&a);
    remove_plan_dir(plan_dir);
    return status;
}

int hg_launch(const hg_cli *cli)
{
    hg_job job;
    hg_job_detect(&job);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    char agent[PATH_MAX] = "hgrid-agent";
    char *config = NULL;
    int status = 2;

    if (load_layout(cli->configs[0], cli, job.rank <= 0, &cfg, &layout) != 0)
        goto out;
    config = realpath(cli->configs[0], NULL);
    if (!config) {
        fprintf(stderr, "hgrid-launch: %s: %s\n", cli->configs[0], strerror(errno));
        goto out;
    }
    if (find_agent(agent, sizeof(agent)) != 0) {
        fprintf(stderr, "hgrid-launch: cannot run the agent '%s' (install hgrid-agent beside "
                "hgrid-launch, or set HGRID_AGENT)\n", agent);
        status = 3;
        goto out;
    }
    if (job.kind != HG_JOB_NONE)
        status = in_job(cli, &job, layout, agent, config);
    else
        status = standalone(cli, cfg, layout, agent, config);
out:
    free(config);
    hg_layout_free(layout);
    hg_config_free(cfg);
    return status;
}
