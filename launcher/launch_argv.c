/* The command lines of a launch (launch_argv.h). The agent's part comes from
 * hg_agent_args_write, the one writer both programs share, so the launcher never spells
 * an agent option itself; mpirun's and srun's options are only the ones hgrid needs. */
#include "launch_argv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/agent_argv.h"
#include "wire/protocol.h"

static void argv_add(hg_argv *a, const char *s)
{
    if (!a->failed)
        hg_strv_push(a, strdup(s));
}

static void argv_addf(hg_argv *a, const char *fmt, int v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), fmt, v);
    argv_add(a, buf);
}

int hg_launch_find_agent(char *out, size_t len)
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
static void agent_args(hg_argv *a, const hg_cli *cli, const char *agent, const char *config)
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
    hg_argv a = { 0 };
    agent_args(&a, cli, agent, config);
    if (a.failed) {
        hg_argv_free(&a);
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
void hg_launch_print_argv(char *const *v)
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

static void forward_env(hg_argv *a, const hg_childenv *env)
{
    for (char **e = env->v; e && *e; e++) {
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

/* `srun --mpi=pmix -n WORLD [--exclude=HOSTS] [...] hgrid-agent ... -- PROGRAM`: one step
 * of the allocation. A task's failure does not end the step (the keepers hold it while
 * the others get their grace); the environment passes as srun's --export=ALL default. */
void hg_launch_srun_argv(hg_argv *a, const hg_cli *cli, int world, const char *agent,
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
void hg_launch_mpirun_argv(hg_argv *a, const hg_cli *cli, int world, const char *agent,
                        const char *config, const hg_childenv *env)
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
    forward_env(a, env);
    for (int i = 0; i < cli->nmpi_args; i++)
        argv_add(a, cli->mpi_args[i]);
    agent_args(a, cli, agent, config);
}
