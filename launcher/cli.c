/* Command-line parsing for hgrid-launch. Hand-written rather than getopt_long so that
 * "--" cleanly separates hgrid's arguments from the program's, and so both
 * `--opt value` and `--opt=value` work for every option. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

void hg_cli_usage(FILE *out)
{
    fputs("usage: hgrid-launch [OPTIONS] CONFIG -- PROGRAM [ARGS...]\n"
          "       hgrid-launch --dry-run [--format table|json] [--rank N] [--strict] CONFIG...\n"
          "\n"
          "Validates a grid description, starts one agent per GPU (under mpirun, or as this\n"
          "rank of an srun/mpirun job), builds and verifies every process group, then hands\n"
          "off to PROGRAM.\n"
          "\n"
          "Plan:\n"
          "  --dry-run            validate and print the layout; launch nothing\n"
          "  --format table|json  dry-run output format (default table)\n"
          "  --rank N             print only rank N's module, coordinates and groups\n"
          "  --strict             layouts the MIMO runtime does not accept are errors\n"
          "Launch:\n"
          "  --backend nccl|mpi   communicator backend (default: the config's agent.backend)\n"
          "  --timeout SECONDS    readiness deadline (default: agent.init_timeout_s)\n"
          "  --report FILE        write every rank's readiness record as JSON\n"
          "  --hostfile FILE      passed to mpirun\n"
          "  --gpus-per-node N    ranks per node (mpirun --map-by ppr:N:node)\n"
          "  --mpirun PATH        the mpirun to start (default: mpirun on PATH)\n"
          "  --mpi-arg ARG        one more argument for mpirun (repeatable)\n"
          "  --in-process         PROGRAM links libhgrid and calls hg_init() itself\n"
          "  --label              prefix every line of the ranks with '[RANK MODULE] '\n"
          "  --log-dir DIR        also write each rank's stdout and stderr to files in DIR\n"
          "  --grace SECONDS      after Ctrl-C/SIGTERM, time the workload gets before SIGKILL\n"
          "                       (default 30; a second signal kills at once)\n"
          "  -v, --verbose        print the mpirun command line and every rank's readiness\n"
          "  -h, --help           this text\n"
          "  -V, --version        print the version\n"
          "\n"
          "Exit status: 0 success (or the workload's own); 2 usage or invalid config;\n"
          "3 an agent failed pre-flight; 124 the readiness deadline passed.\n",
          out);
}

static int parse_pos_int(const char *opt, const char *s, int min, int *out, hg_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > INT_MAX)
        return hg_error_set(err, HG_EINVAL, "%s: expected an integer >= %d, got '%s'", opt, min,
                            s);
    *out = (int)v;
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

/* Options that take a value, in the order the help lists them. */
static const char *const valued[] = { "--format", "--rank", "--backend", "--timeout", "--report",
                                      "--hostfile", "--gpus-per-node", "--mpirun", "--mpi-arg",
                                      "--log-dir", "--grace", NULL };

static int takes_value(const char *name)
{
    for (size_t i = 0; valued[i]; i++)
        if (strcmp(valued[i], name) == 0)
            return 1;
    return 0;
}

static int apply(hg_cli *c, const char *name, const char *val, hg_error *err)
{
    if (strcmp(name, "--format") == 0) {
        if (strcmp(val, "table") == 0)
            c->format = HG_FORMAT_TABLE;
        else if (strcmp(val, "json") == 0)
            c->format = HG_FORMAT_JSON;
        else
            return hg_error_set(err, HG_EINVAL, "--format: expected table or json, got '%s'", val);
        return 0;
    }
    if (strcmp(name, "--rank") == 0)
        return parse_pos_int(name, val, 0, &c->rank, err);
    if (strcmp(name, "--backend") == 0) {
        if (strcmp(val, "nccl") != 0 && strcmp(val, "mpi") != 0)
            return hg_error_set(err, HG_EINVAL, "--backend: expected nccl or mpi, got '%s'", val);
        c->backend = val;
        return 0;
    }
    if (strcmp(name, "--timeout") == 0) {
        /* The same range as agent.init_timeout_s, so the agents accept it too. */
        if (parse_pos_int(name, val, 1, &c->timeout_s, err) != 0 || c->timeout_s > 86400)
            return hg_error_set(err, HG_EINVAL, "--timeout: expected seconds in 1..86400, got '%s'",
                                val);
        return 0;
    }
    if (strcmp(name, "--grace") == 0) {
        if (parse_pos_int(name, val, 0, &c->grace_s, err) != 0 || c->grace_s > HG_TIMEOUT_MAX_S)
            return hg_error_set(err, HG_EINVAL, "--grace: expected seconds in 0..%d, got '%s'",
                                HG_TIMEOUT_MAX_S, val);
        return 0;
    }
    if (strcmp(name, "--log-dir") == 0) {
        if (!*val)
            return hg_error_set(err, HG_EINVAL, "--log-dir: expected a directory, got ''");
        c->log_dir = val;
        return 0;
    }
    if (strcmp(name, "--gpus-per-node") == 0)
        return parse_pos_int(name, val, 1, &c->gpus_per_node, err);
    if (strcmp(name, "--report") == 0)
        c->report = val;
    else if (strcmp(name, "--hostfile") == 0)
        c->hostfile = val;
    else if (strcmp(name, "--mpirun") == 0)
        c->mpirun = val;
    else if (push(&c->mpi_args, &c->nmpi_args, val) != 0)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    return 0;
}

int hg_cli_parse(int argc, char **argv, hg_cli *c, hg_error *err)
{
    memset(c, 0, sizeof(*c));
    c->rank = -1;
    c->mpirun = "mpirun";
    c->grace_s = HG_GRACE_DEFAULT_S;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (push(&c->configs, &c->nconfigs, a) != 0)
                return hg_error_set(err, HG_ENOMEM, "out of memory");
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            c->help = 1;
        else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)
            c->version = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            c->verbose = 1;
        else if (strcmp(a, "--dry-run") == 0)
            c->dry_run = 1;
        else if (strcmp(a, "--strict") == 0)
            c->strict = 1;
        else if (strcmp(a, "--in-process") == 0)
            c->in_process = 1;
        else if (strcmp(a, "--label") == 0)
            c->label = 1;
        else {
            char name[64];
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            if (n >= sizeof(name) || !takes_value((snprintf(name, sizeof(name), "%.*s", (int)n, a), name)))
                return hg_error_set(err, HG_EINVAL, "unknown option '%s' (see --help)", a);
            const char *val = eq ? eq + 1 : NULL;
            if (!val) {
                if (i + 1 >= argc)
                    return hg_error_set(err, HG_EINVAL, "%s needs a value", name);
                val = argv[++i];
            }
            int rc = apply(c, name, val, err);
            if (rc != 0)
                return rc;
        }
    }
    c->program = argv + i;
    c->nprogram = argc - i;
    if (c->help || c->version)
        return 0;
    if (c->nconfigs == 0)
        return hg_error_set(err, HG_EINVAL, "no config file given (see --help)");
    if (c->dry_run) {
        if (c->nprogram > 0)
            return hg_error_set(err, HG_EINVAL, "--dry-run launches nothing; drop '-- %s'",
                                c->program[0]);
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
    return 0;
}

void hg_cli_free(hg_cli *c)
{
    free(c->configs);
    free(c->mpi_args);
    c->configs = NULL;
    c->mpi_args = NULL;
}
