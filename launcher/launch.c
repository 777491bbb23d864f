/* hgrid-launch CONFIG -- PROGRAM: validate, then either exec this rank's agent (inside
 * srun or mpirun) or check what can be checked before anything starts and hand over to
 * the restart loop (restart.h), which starts `mpirun -np WORLD hgrid-agent ...` (or srun)
 * and supervises it. The command lines are launch_argv.h's, the files of a job
 * jobdir.h's. The agent is the hgrid-agent installed beside this binary (HGRID_AGENT
 * overrides, for tests). */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grid/config.h"
#include "grid/settings.h"
#include "util/diag.h"
#include "job.h"
#include "jobdir.h"
#include "launch_argv.h"
#include "grid/layout.h"
#include "grid/placement.h"
#include "util/program.h"
#include "wire/protocol.h"
#include "restart.h"

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
        hg_launch_print_argv(argv);
    fflush(NULL);
    execv(argv[0], argv);
    fprintf(stderr, "hgrid-launch: cannot run %s: %s\n", argv[0], strerror(errno));
    hg_launch_argv_free(argv);
    return HG_EXIT_PREFLIGHT;
}

/* Everything that can be known wrong before mpirun starts is checked here, each with
 * its own exit status and a message that names the path (protocol.h). */
static int preflight_local(const hg_cli *cli)
{
    int e;
    hg_error why;
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    if (cli->report && (e = hg_jobdir_check_writable(cli->report)) != 0) {
        fprintf(stderr, "hgrid-launch: --report %s: cannot write there: %s\n", cli->report,
                strerror(e));
        return HG_EXIT_USAGE;
    }
    if (cli->log_dir && (e = hg_jobdir_make_log_dir(cli->log_dir)) != 0) {
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

/* Outside any job: what can be known wrong is checked once, then the attempts run. */
static int launch_standalone(const hg_cli *cli, const hg_setting_values *set,
                             const hg_layout *layout, const char *agent, const char *config_path,
                             const char *bytes, size_t len)
{
    int status;
    /* mpirun looks up ssh and its own helpers on PATH; under `env -i` use execvp's. */
    if (!getenv("PATH"))
        setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
    if ((status = preflight_local(cli)) != 0)
        return status;
    return hg_restart_run(cli, set, layout, agent, config_path, bytes, len);
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
    if (hg_launch_find_agent(agent, sizeof(agent)) != 0) {
        fprintf(stderr, "hgrid-launch: cannot run the agent '%s' (install hgrid-agent beside "
                "hgrid-launch, or set HGRID_AGENT)\n", agent);
        status = job.kind != HG_JOB_NONE ? HG_EXIT_PREFLIGHT : HG_EXIT_NOT_STARTED;
        goto out;
    }
    /* The agents get the deadline on their command line even when it is the config's:
     * their watchdog runs from before MPI_Init, long before rank 0's config reaches
     * them, and MPI_Init alone can outlast the default at thousands of ranks. */
    int given[HG_NSETTINGS];
    hg_setting_values set;
    hg_cli_settings(cli, given);
    hg_settings_merge(given, cfg, &set);
    hg_cli eff = *cli;
    eff.timeout_s = set.v[HG_SET_TIMEOUT];
    /* --stragglers is a pair, so no row of the settings table: merged here, the same rule. */
    if (eff.straggler_pct < 0) {
        eff.straggler_pct = cfg ? cfg->straggler_pct : HG_STRAGGLER_PCT_DEFAULT;
        eff.straggler_steps = cfg ? cfg->straggler_steps : HG_STRAGGLER_STEPS_DEFAULT;
    }
    if (job.kind != HG_JOB_NONE)
        status = in_job(&eff, &job, layout, agent, config);
    else
        status = launch_standalone(&eff, &set, layout, agent, config, bytes, len);
out:
    free(config);
    free(bytes);
    hg_layout_free(layout);
    hg_config_free(cfg);
    return status;
}
