/* Command-line parsing for hgrid-launch. Hand-written rather than getopt_long so that
 * "--" cleanly separates hgrid's arguments from the program's, and so both
 * `--opt value` and `--opt=value` work for every option. */
#include "cli.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wire/agent_argv.h"
#include "grid/config.h"
#include "grid/settings.h"
#include "util/intparse.h"
#include "wire/protocol.h"

void hg_cli_usage(FILE *out)
{
    fputs("usage: hgrid-launch [OPTIONS] CONFIG -- PROGRAM [ARGS...]\n"
          "       hgrid-launch --dry-run [--format table|json] [--rank N] [--strict]\n"
          "                    [--gpus-per-node N] CONFIG...\n"
          "       hgrid-launch --dry-run --format megatron [--strict] [--gpus-per-node N] CONFIG\n"
          "       hgrid-launch --dry-run --format svg [--rank N] [--gpus-per-node N] CONFIG\n"
          "\n"
          "Validates a grid description, starts one agent per GPU (under mpirun, or as this\n"
          "rank of an srun/mpirun job), builds and verifies every process group, then hands\n"
          "off to PROGRAM. A CONFIG of '-' is read from standard input.\n"
          "\n"
          "Plan (--format and --rank need --dry-run):\n"
          "  --dry-run            validate and print the layout; launch nothing\n"
          "  --format table|json|megatron|svg\n"
          "                       dry-run output format (default table); megatron: one line,\n"
          "                       the Megatron MIMO example's --encoder-*/--llm-* arguments\n"
          "                       (and GTP's --*-num-weight-shards);\n"
          "                       svg: a picture of the layout (--rank N highlights rank N)\n"
          "  --rank N             print only rank N's module, coordinates and groups\n"
          "  --strict             layouts the MIMO runtime does not accept are errors\n"
          "  --gpus-per-node N    nodes of N consecutive ranks; a launch also maps ranks\n"
          "                       that way (mpirun --map-by ppr:N:node)\n"
          "Launch (not with --dry-run):\n"
          "  --backend nccl|mpi   communicator backend (default: the config's agent.backend)\n"
          "  --timeout SECONDS    readiness deadline (default: agent.init_timeout_s)\n"
          "  --preflight full|world|none\n"
          "                       what is proved before go: every group and bridge (full),\n"
          "                       the world communicator and one all-reduce (world), or the\n"
          "                       GPU check only (none); default: agent.preflight\n"
          "  --report FILE        write every rank's readiness record as JSON\n"
          "  --hostfile FILE      the hosts for mpirun; before each attempt the hosts it needs\n"
          "                       are probed through mpirun's rsh agent (5 s) and the\n"
          "                       unreachable ones left out, spares taking their place\n"
          "  --mpirun PATH        the mpirun to start (default: mpirun on PATH)\n"
          "  --mpi-arg ARG        one more argument for mpirun (repeatable)\n"
          "  --launcher mpirun|srun\n"
          "                       what starts the ranks: mpirun (default), or, inside a SLURM\n"
          "                       allocation (salloc, sbatch), one srun step per attempt\n"
          "                       (srun --exclude leaves failed hosts out)\n"
          "  --in-process         PROGRAM links libhgrid and calls hg_init() itself\n"
          "  --label              prefix every line of the ranks with '[RANK MODULE] '\n"
          "  --log-dir DIR        also write each rank's stdout and stderr to files in DIR\n"
          "  --grace SECONDS      after Ctrl-C/SIGTERM, time the workload gets before SIGKILL\n",
          out);
    fprintf(out, "                       (default %d; a second signal kills at once)\n",
            hg_setting_get(HG_SET_GRACE)->def);
    fputs("Resilience (not with --dry-run):\n"
          "  --max-restarts N     start a failed job again, up to N times, each attempt with\n"
          "                       a full pre-flight (default: agent.max_restarts, 0); the\n"
          "                       operator's Ctrl-C/SIGTERM never restarts\n"
          "  --restart-delay SECONDS\n"
          "                       wait between a failed attempt and the next (default 0)\n"
          "  --exclude-failed-hosts\n"
          "                       with --hostfile (or --launcher srun): leave out of the next\n"
          "                       attempt a host whose rank failed pre-flight or died by a\n"
          "                       signal; spare hosts take its place\n"
          "  --stall-timeout SECONDS\n"
          "                       end an attempt whose ranks stop sending heartbeats (hgrid.\n"
          "                       heartbeat, hg_heartbeat) for this long, naming them (default:\n"
          "                       agent.stall_timeout_s, 0: off)\n"
          "  --first-beat-timeout SECONDS\n"
          "                       end an attempt with a rank that sends no first heartbeat\n"
          "                       within this long of go (default: agent.first_beat_timeout_s,\n"
          "                       0: off)\n"
          "  --stragglers PCT[:STEPS]|off\n"
          "                       name a rank whose compute a step (time outside collectives,\n"
          "                       hgrid.torch) is PCT %% above its module's median over STEPS\n"
          "                       steps (default: agent.stragglers, 5:20)\n"
          "  --host-timeout SECONDS\n"
          "                       a host whose ranks' keepers all fall silent for this long,\n"
          "                       or whose connections end without their programs' status,\n",
          out);
    fprintf(out,
            "                       is lost: the attempt ends naming it, exit %d (default %d;\n"
            "                       0: off)\n",
            HG_EXIT_LOST, hg_setting_get(HG_SET_HOST_TIMEOUT)->def);
    fputs("General:\n"
          "  -v, --verbose        print the mpirun command line and every rank's readiness\n"
          "  -h, --help           this text\n"
          "  -V, --version        print the version\n"
          "An option given twice takes its last value; --mpi-arg adds one argument each time.\n"
          "\n",
          out);
    /* The codes are protocol.h's; 128+N is the shell's convention for a death by
     * signal N, which the launcher follows for itself and for the ranks. */
    fprintf(out,
            "Exit status:\n"
            "  %-6d every rank's workload exited 0\n"
            "  %-6d dry-run only: the plan could not be written\n"
            "  %-6d usage error or invalid config (a bad config never launches)\n"
            "  %-6d an agent failed pre-flight\n"
            "  %-6d the job could not be started\n"
            "  %-6d ranks stalled: no heartbeat for --stall-timeout\n"
            "  %-6d too few hosts left for the layout (unreachable or left out)\n"
            "  %-6d a host was lost (--host-timeout), or ranks ended with no exit status\n"
            "  %-6d the readiness deadline passed\n"
            "  128+N  hgrid-launch itself was stopped by signal N\n"
            "  other  the workload's own status: the first failing rank's exit code, or\n"
            "         128+N when a rank was killed by signal N\n",
            HG_EXIT_OK, HG_EXIT_OUTPUT, HG_EXIT_USAGE, HG_EXIT_PREFLIGHT, HG_EXIT_NOT_STARTED,
            HG_EXIT_STALLED, HG_EXIT_NO_HOSTS, HG_EXIT_LOST, HG_EXIT_DEADLINE);
    fputs("With --max-restarts the status is the last attempt's.\n", out);
}

static int parse_pos_int(const char *opt, const char *s, int min, int *out, hg_error *err)
{
    if (hg_int_parse(s, min, INT_MAX, out) != 0)
        return hg_error_set(err, HG_EINVAL, "%s: expected an integer >= %d, got '%s'", opt, min,
                            s);
    return 0;
}

static int push(const char ***arr, int *n, const char *s)
{
    const char **a = realloc(*arr, (size_t)(*n + 1) * sizeof(*a));
    if (!a)
        return -1;
    a[(*n)++] = s;
    *arr = a;
    return 0;
}

/* Which mode an option belongs to. An option of the other mode is a usage error that
 * says so: silently ignoring it would let `--dry-run --timeout 5` look like a check of
 * the timeout, or `--format json` on a launch look like it did something. */
typedef enum { MODE_ANY, MODE_LAUNCH, MODE_DRY_RUN } opt_mode;

typedef struct opt_spec {
    const char *name;
    const char *alias; /* short form, or NULL */
    int valued;
    opt_mode mode;
    const char *what;  /* launch options: what it does, for the dry-run error */
} opt_spec;

/* In the order the help lists them. */
static const opt_spec options[] = {
    { "--dry-run", NULL, 0, MODE_ANY, NULL },
    { "--format", NULL, 1, MODE_DRY_RUN, NULL },
    { "--rank", NULL, 1, MODE_DRY_RUN, NULL },
    { "--strict", NULL, 0, MODE_ANY, NULL },
    { "--backend", NULL, 1, MODE_LAUNCH, "it picks the launch's communicator backend" },
    { "--timeout", NULL, 1, MODE_LAUNCH, "it sets the launch's readiness deadline" },
    { "--preflight", NULL, 1, MODE_LAUNCH, "it sets how much the launch proves before go" },
    { "--report", NULL, 1, MODE_LAUNCH, "it names the launch's readiness report" },
    { "--hostfile", NULL, 1, MODE_LAUNCH, "it is passed to mpirun" },
    { "--gpus-per-node", NULL, 1, MODE_ANY, NULL },
    { "--mpirun", NULL, 1, MODE_LAUNCH, "it picks the mpirun that starts the launch" },
    { "--mpi-arg", NULL, 1, MODE_LAUNCH, "it is passed to mpirun" },
    { "--launcher", NULL, 1, MODE_LAUNCH, "it picks what starts the launch's ranks" },
    { "--in-process", NULL, 0, MODE_LAUNCH, "it says how PROGRAM joins the launch" },
    { "--label", NULL, 0, MODE_LAUNCH, "it labels the ranks' output" },
    { "--log-dir", NULL, 1, MODE_LAUNCH, "it keeps the ranks' output" },
    { "--grace", NULL, 1, MODE_LAUNCH, "it times the workload's shutdown" },
    { "--max-restarts", NULL, 1, MODE_LAUNCH, "it restarts a failed launch" },
    { "--restart-delay", NULL, 1, MODE_LAUNCH, "it paces the launch's restarts" },
    { "--exclude-failed-hosts", NULL, 0, MODE_LAUNCH, "it picks the hosts of a restart" },
    { "--stall-timeout", NULL, 1, MODE_LAUNCH, "it watches the launch's heartbeats" },
    { "--first-beat-timeout", NULL, 1, MODE_LAUNCH, "it watches the launch's heartbeats" },
    { "--stragglers", NULL, 1, MODE_LAUNCH, "it watches the launch's heartbeats" },
    { "--host-timeout", NULL, 1, MODE_LAUNCH, "it watches the launch's hosts" },
    { "--verbose", "-v", 0, MODE_ANY, NULL },
    { "--help", "-h", 0, MODE_ANY, NULL },
    { "--version", "-V", 0, MODE_ANY, NULL },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

const char *hg_cli_option(size_t i)
{
    return i < NOPTIONS ? options[i].name : NULL;
}

/* The option named by arg ("--name" or "--name=value", or a short alias), or NULL. */
static const opt_spec *find_option(const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt_spec *o = &options[i];
        if (strlen(o->name) == n && strncmp(o->name, arg, n) == 0)
            return eq && !o->valued ? NULL : o;
        if (o->alias && !eq && strcmp(o->alias, arg) == 0)
            return o;
    }
    return NULL;
}

/* A string value must not be empty: mpirun aborts on an empty argument, and an empty
 * path fails only later, far from the option that caused it. */
static int nonempty(const char *opt, const char *val, const char *expected, hg_error *err)
{
    if (*val)
        return 0;
    return hg_error_set(err, HG_EINVAL, "%s: expected %s, got ''", opt, expected);
}

/* Where hg_cli keeps each setting that has an option, and what the field holds when
 * the option was not given: a setting the config also sets waits for the merge
 * (hg_cli_settings says it is not given), the others hold the table's default. */
typedef struct cli_field {
    hg_setting_id id;
    size_t off;
    int unset; /* HG_SETTING_UNSET: always given (a flag, or a default of its own) */
} cli_field;

static const cli_field cli_fields[] = {
    { HG_SET_BACKEND, offsetof(hg_cli, backend), HG_BACKEND_FROM_CONFIG },
    { HG_SET_TIMEOUT, offsetof(hg_cli, timeout_s), 0 },
    { HG_SET_PREFLIGHT, offsetof(hg_cli, preflight), -1 },
    { HG_SET_IN_PROCESS, offsetof(hg_cli, in_process), HG_SETTING_UNSET },
    { HG_SET_LABEL, offsetof(hg_cli, label), HG_SETTING_UNSET },
    { HG_SET_GRACE, offsetof(hg_cli, grace_s), HG_SETTING_UNSET },
    { HG_SET_MAX_RESTARTS, offsetof(hg_cli, max_restarts), -1 },
    { HG_SET_RESTART_DELAY, offsetof(hg_cli, restart_delay_s), HG_SETTING_UNSET },
    { HG_SET_STALL_TIMEOUT, offsetof(hg_cli, stall_timeout_s), -1 },
    { HG_SET_FIRST_BEAT_TIMEOUT, offsetof(hg_cli, first_beat_timeout_s), -1 },
    { HG_SET_HOST_TIMEOUT, offsetof(hg_cli, host_timeout_s), HG_SETTING_UNSET },
    { HG_SET_VERBOSE, offsetof(hg_cli, verbose), HG_SETTING_UNSET },
    { HG_SET_STRICT, offsetof(hg_cli, strict), HG_SETTING_UNSET },
};
#define NCLI_FIELDS (sizeof(cli_fields) / sizeof(cli_fields[0]))

static const cli_field *cli_field_of(hg_setting_id id)
{
    for (size_t i = 0; i < NCLI_FIELDS; i++)
        if (cli_fields[i].id == id)
            return &cli_fields[i];
    return NULL;
}

static int *field_int(hg_cli *c, const cli_field *f)
{
    return (int *)(void *)((char *)c + f->off);
}

void hg_cli_settings(const hg_cli *c, int given[HG_NSETTINGS])
{
    hg_settings_none_given(given);
    for (size_t i = 0; i < NCLI_FIELDS; i++) {
        const cli_field *f = &cli_fields[i];
        int v = *(const int *)(const void *)((const char *)c + f->off);
        given[f->id] = f->unset != HG_SETTING_UNSET && v == f->unset ? HG_SETTING_UNSET : v;
    }
}

/* A setting of the table (settings.h): its value, range-checked there. */
static int apply_setting(hg_cli *c, const hg_setting *s, const char *val, hg_error *err)
{
    if (s->kind == HG_SETTING_PATH) {
        const char **p = hg_setting_id_of(s) == HG_SET_REPORT ? &c->report : &c->log_dir;
        *p = val;
        return nonempty(s->option, val, s->expected, err);
    }
    const cli_field *f = cli_field_of(hg_setting_id_of(s));
    if (!f)
        return 0; /* a table option hg_cli does not hold: test_settings.c fails first */
    if (s->kind == HG_SETTING_FLAG) {
        *field_int(c, f) = 1;
        return 0;
    }
    return hg_setting_parse(s, s->option, val, field_int(c, f), err);
}

/* Sets what an option says. A single-valued option given again replaces the earlier
 * value (the last one counts, as with most command lines and their wrapper scripts). */
static int apply_option(hg_cli *c, const char *name, const char *val, hg_error *err)
{
    const hg_setting *s = hg_setting_by_option(name);
    if (s)
        return apply_setting(c, s, val, err);
    if (strcmp(name, "--dry-run") == 0)
        c->dry_run = 1;
    else if (strcmp(name, "--exclude-failed-hosts") == 0)
        c->exclude_failed_hosts = 1;
    else if (strcmp(name, "--help") == 0)
        c->help = 1;
    else if (strcmp(name, "--version") == 0)
        c->version = 1;
    else if (strcmp(name, "--format") == 0) {
        if (strcmp(val, "table") == 0)
            c->format = HG_FORMAT_TABLE;
        else if (strcmp(val, "json") == 0)
            c->format = HG_FORMAT_JSON;
        else if (strcmp(val, "megatron") == 0)
            c->format = HG_FORMAT_MEGATRON;
        else if (strcmp(val, "svg") == 0)
            c->format = HG_FORMAT_SVG;
        else
            return hg_error_set(err, HG_EINVAL,
                                "--format: expected table, json, megatron or svg, got '%s'", val);
    } else if (strcmp(name, "--rank") == 0) {
        return parse_pos_int(name, val, 0, &c->rank, err);
    } else if (strcmp(name, "--launcher") == 0) {
        if (strcmp(val, "mpirun") != 0 && strcmp(val, "srun") != 0)
            return hg_error_set(err, HG_EINVAL, "--launcher: expected mpirun or srun, got '%s'", val);
        c->use_srun = strcmp(val, "srun") == 0;
    } else if (strcmp(name, "--stragglers") == 0) {
        if (hg_stragglers_parse(val, &c->straggler_pct, &c->straggler_steps) != 0)
            return hg_error_set(err, HG_EINVAL, "--stragglers: expected PCT (0..1000), PCT:STEPS "
                                "(STEPS 2..%d) or off, got '%s'", HG_STRAGGLER_STEPS_MAX, val);
    } else if (strcmp(name, "--gpus-per-node") == 0) {
        return parse_pos_int(name, val, 1, &c->gpus_per_node, err);
    } else if (strcmp(name, "--hostfile") == 0) {
        c->hostfile = val;
        return nonempty(name, val, "a file name", err);
    } else if (strcmp(name, "--mpirun") == 0) {
        c->mpirun = val;
        return nonempty(name, val, "a program", err);
    } else if (strcmp(name, "--mpi-arg") == 0) {
        if (nonempty(name, val, "an mpirun argument", err) != 0)
            return HG_EINVAL;
        if (push(&c->mpi_args, &c->nmpi_args, val) != 0)
            return hg_error_set(err, HG_ENOMEM, "out of memory");
    }
    return 0;
}

int hg_cli_parse(int argc, char **argv, hg_cli *c, hg_error *err)
{
    memset(c, 0, sizeof(*c));
    c->rank = -1;
    c->mpirun = "mpirun";
    c->srun = "srun";
    /* The fields of the table's settings: not given, or the table's default. */
    for (size_t k = 0; k < NCLI_FIELDS; k++) {
        const cli_field *f = &cli_fields[k];
        *field_int(c, f) = f->unset != HG_SETTING_UNSET ? f->unset : hg_setting_get(f->id)->def;
    }
    c->straggler_pct = -1;
    /* The first option of each mode, as written, for the error that it does not apply. */
    const char *launch_only = NULL, *dry_run_only = NULL;
    const opt_spec *launch_spec = NULL;
    int stdin_configs = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (strcmp(a, HG_CONFIG_STDIN) == 0 && ++stdin_configs > 1)
                return hg_error_set(err, HG_EINVAL, "'-' (standard input) can be read only once");
            if (push(&c->configs, &c->nconfigs, a) != 0)
                return hg_error_set(err, HG_ENOMEM, "out of memory");
            continue;
        }
        const opt_spec *o = find_option(a);
        if (!o)
            return hg_error_set(err, HG_EINVAL, "unknown option '%s' (see --help)", a);
        const char *val = NULL;
        if (o->valued) {
            const char *eq = strchr(a, '=');
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return hg_error_set(err, HG_EINVAL, "%s needs a value", o->name);
        }
        if (o->mode == MODE_LAUNCH && !launch_only) {
            launch_only = o->name;
            launch_spec = o;
        }
        if (o->mode == MODE_DRY_RUN && !dry_run_only)
            dry_run_only = o->name;
        int rc = apply_option(c, o->name, val, err);
        if (rc != 0)
            return rc;
    }
    c->program = argv + i;
    c->nprogram = argc - i;
    if (c->help || c->version)
        return 0;
    if (c->dry_run && launch_only)
        return hg_error_set(err, HG_EINVAL, "%s does not apply to --dry-run (%s)", launch_only,
                            launch_spec->what);
    if (!c->dry_run && dry_run_only)
        return hg_error_set(err, HG_EINVAL, "%s applies only to --dry-run", dry_run_only);
    if (c->nconfigs == 0)
        return hg_error_set(err, HG_EINVAL, "no config file given (see --help)");
    if (c->dry_run) {
        if (c->nprogram > 0)
            return hg_error_set(err, HG_EINVAL, "--dry-run launches nothing; drop '-- %s'",
                                c->program[0]);
        if (c->format == HG_FORMAT_MEGATRON && c->rank >= 0)
            return hg_error_set(err, HG_EINVAL, "--rank does not apply to --format megatron "
                                "(its arguments describe the whole layout)");
        if (c->format == HG_FORMAT_MEGATRON && c->nconfigs > 1)
            return hg_error_set(err, HG_EINVAL, "--format megatron takes one config, got %d",
                                c->nconfigs);
        if (c->format == HG_FORMAT_SVG && c->nconfigs > 1)
            return hg_error_set(err, HG_EINVAL, "--format svg takes one config, got %d",
                                c->nconfigs);
        if (c->rank >= 0 && c->nconfigs > 1)
            return hg_error_set(err, HG_EINVAL, "--rank takes one config, got %d", c->nconfigs);
        return 0;
    }
    if (c->nconfigs > 1)
        return hg_error_set(err, HG_EINVAL, "one config to launch, got %d (did you forget '--'?)",
                            c->nconfigs);
    if (c->nprogram == 0)
        return hg_error_set(err, HG_EINVAL, "no program to launch: hgrid-launch CONFIG -- PROGRAM "
                            "[ARGS...]");
    if (c->exclude_failed_hosts && !c->hostfile && !c->use_srun)
        return hg_error_set(err, HG_EINVAL, "--exclude-failed-hosts needs --hostfile (the hosts "
                            "to choose from), or --launcher srun inside a SLURM allocation");
    if (c->use_srun && c->hostfile)
        return hg_error_set(err, HG_EINVAL, "--hostfile does not go with --launcher srun (the "
                            "allocation holds the hosts)");
    return hg_agent_check_preflight(c->in_process, c->preflight, err);
}

void hg_cli_free(hg_cli *c)
{
    free(c->configs);
    free(c->mpi_args);
    c->configs = NULL;
    c->mpi_args = NULL;
}
