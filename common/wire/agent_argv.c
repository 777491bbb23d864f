/* The agent's options: the table, a reader and a writer over it. Hand-written rather
 * than getopt_long: the reader is a pure function (getopt keeps its state in globals),
 * and its spelling of an option is exactly the writer's. */
#include "wire/agent_argv.h"

#include <string.h>

#include "grid/config.h"
#include "util/intparse.h"
#include "wire/protocol.h"

static const hg_agent_opt_spec specs[HG_AGENT_OPT_COUNT] = {
    [HG_AGENT_OPT_BACKEND] = { "--backend", "B",
                               "nccl (GPUs) or mpi (CPU groups); default: agent.backend" },
    [HG_AGENT_OPT_TIMEOUT] = { "--timeout", "S",
                               "readiness deadline in seconds; default: agent.init_timeout_s" },
    [HG_AGENT_OPT_PREFLIGHT] = { "--preflight", "D",
                                 "full (every group and bridge), world (the world communicator\n"
                                 "and one all-reduce) or none; default: agent.preflight" },
    [HG_AGENT_OPT_REPORT] = { "--report", "FILE",
                              "rank 0 writes every rank's readiness record as JSON" },
    [HG_AGENT_OPT_VERBOSE] = { "--verbose", NULL,
                               "rank 0 prints each rank's record as it arrives" },
    [HG_AGENT_OPT_STRICT] = { "--strict", NULL,
                              "layouts beyond what the MIMO runtime accepts are errors" },
    [HG_AGENT_OPT_IN_PROCESS] = { "--in-process", NULL,
                                  "exec PROGRAM at once; it calls hg_init() itself (hgrid.h) and\n"
                                  "may use MPI" },
    [HG_AGENT_OPT_LABEL] = { "--label", NULL, "prefix PROGRAM's lines with '[RANK MODULE] '" },
    [HG_AGENT_OPT_LOG_DIR] = { "--log-dir", "DIR",
                               "also write PROGRAM's stdout and stderr to DIR/rankR-MODULE.*" },
    [HG_AGENT_OPT_HELP] = { "--help", NULL, "this text" },
    [HG_AGENT_OPT_VERSION] = { "--version", NULL, "print the version" },
};

const hg_agent_opt_spec *hg_agent_opt_spec_of(hg_agent_opt opt)
{
    return (unsigned)opt < HG_AGENT_OPT_COUNT ? &specs[opt] : NULL;
}

void hg_agent_args_init(hg_agent_args *a)
{
    memset(a, 0, sizeof(*a));
    a->backend = HG_BACKEND_FROM_CONFIG;
    a->preflight = -1;
}

/* The option arg names ("--name" or "--name=value"), or -1. */
static int find(const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    for (int i = 0; i < HG_AGENT_OPT_COUNT; i++)
        if (strlen(specs[i].name) == n && strncmp(specs[i].name, arg, n) == 0)
            return eq && !specs[i].value ? -1 : i;
    return -1;
}

static int apply(hg_agent_args *a, hg_agent_opt opt, const char *val, hg_error *err)
{
    hg_backend b;
    hg_preflight p;
    switch (opt) {
    case HG_AGENT_OPT_BACKEND:
        if (hg_backend_from_name(val, &b) != 0)
            return hg_error_set(err, HG_EINVAL, "--backend must be nccl or mpi, not '%s'", val);
        a->backend = b;
        break;
    case HG_AGENT_OPT_TIMEOUT:
        if (hg_int_parse(val, HG_TIMEOUT_MIN_S, HG_TIMEOUT_MAX_S, &a->timeout_s) != 0)
            return hg_error_set(err, HG_EINVAL, "--timeout must be a whole number of seconds in "
                                "%d..%d, not '%s'", HG_TIMEOUT_MIN_S, HG_TIMEOUT_MAX_S, val);
        break;
    case HG_AGENT_OPT_PREFLIGHT:
        if (hg_preflight_from_name(val, &p) != 0)
            return hg_error_set(err, HG_EINVAL, "--preflight must be full, world or none, not '%s'",
                                val);
        a->preflight = p;
        break;
    case HG_AGENT_OPT_REPORT: a->report = val; break;
    case HG_AGENT_OPT_VERBOSE: a->verbose = 1; break;
    case HG_AGENT_OPT_STRICT: a->strict = 1; break;
    case HG_AGENT_OPT_LABEL: a->label = 1; break;
    case HG_AGENT_OPT_LOG_DIR: a->log_dir = val; break;
    case HG_AGENT_OPT_IN_PROCESS: a->in_process = 1; break;
    case HG_AGENT_OPT_HELP: a->help = 1; break;
    case HG_AGENT_OPT_VERSION: a->version = 1; break;
    default: break;
    }
    return 0;
}

int hg_agent_args_parse(int argc, char *const *argv, hg_agent_args *out, hg_error *err)
{
    int i = 1, rc;
    hg_agent_args_init(out);
    for (; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        if (strcmp(arg, "--") == 0) { /* options end; CONFIG follows */
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break; /* CONFIG */
        int opt = find(arg);
        if (opt < 0)
            return hg_error_set(err, HG_EINVAL, "unknown option '%s'", arg);
        if (specs[opt].value) {
            const char *eq = strchr(arg, '=');
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return hg_error_set(err, HG_EINVAL, "%s needs a value (%s)", specs[opt].name,
                                    specs[opt].value);
        }
        if ((rc = apply(out, (hg_agent_opt)opt, val, err)) != 0)
            return rc;
        if (out->help || out->version)
            return 0;
    }
    if (i >= argc)
        return hg_error_set(err, HG_EINVAL, "missing CONFIG");
    out->config = argv[i++];
    if (i >= argc || strcmp(argv[i], "--") != 0)
        return hg_error_set(err, HG_EINVAL, "expected '--' and a PROGRAM after CONFIG");
    if (++i >= argc)
        return hg_error_set(err, HG_EINVAL, "missing PROGRAM after '--'");
    if ((rc = hg_agent_check_preflight(out->in_process, out->preflight, err)) != 0)
        return rc;
    out->program = argv + i;
    return 0;
}

int hg_agent_check_preflight(int in_process, int preflight, hg_error *err)
{
    if (in_process && preflight > HG_PREFLIGHT_FULL)
        return hg_error_set(err, HG_EINVAL, "--preflight %s does not apply to --in-process (the "
                            "program uses hgrid's communicators, which only the full pre-flight "
                            "builds)", hg_preflight_name((hg_preflight)preflight));
    return 0;
}

/* How a writes opt: its value, "" for a flag that is set, NULL when not given. */
static const char *given(const hg_agent_args *a, hg_agent_opt opt, char *num, size_t len)
{
    switch (opt) {
    case HG_AGENT_OPT_BACKEND:
        if (a->backend == HG_BACKEND_FROM_CONFIG)
            return NULL;
        return hg_backend_name((hg_backend)a->backend);
    case HG_AGENT_OPT_TIMEOUT:
        if (!a->timeout_s)
            return NULL;
        snprintf(num, len, "%d", a->timeout_s);
        return num;
    case HG_AGENT_OPT_PREFLIGHT:
        return a->preflight < 0 ? NULL : hg_preflight_name((hg_preflight)a->preflight);
    case HG_AGENT_OPT_REPORT: return a->report;
    case HG_AGENT_OPT_VERBOSE: return a->verbose ? "" : NULL;
    case HG_AGENT_OPT_STRICT: return a->strict ? "" : NULL;
    case HG_AGENT_OPT_IN_PROCESS: return a->in_process ? "" : NULL;
    case HG_AGENT_OPT_LABEL: return a->label ? "" : NULL;
    case HG_AGENT_OPT_LOG_DIR: return a->log_dir;
    default: return NULL; /* --help and --version are the agent's own business */
    }
}

void hg_agent_args_write(const hg_agent_args *a, void (*emit)(void *ctx, const char *word),
                         void *ctx)
{
    char num[16];
    for (int i = 0; i < HG_AGENT_OPT_COUNT; i++) {
        const char *v = given(a, (hg_agent_opt)i, num, sizeof(num));
        if (!v)
            continue;
        emit(ctx, specs[i].name);
        if (specs[i].value)
            emit(ctx, v);
    }
    emit(ctx, a->config);
    emit(ctx, "--");
    for (char *const *p = a->program; p && *p; p++)
        emit(ctx, *p);
}

void hg_agent_args_usage(FILE *out)
{
    for (int i = 0; i < HG_AGENT_OPT_COUNT; i++) {
        char head[32];
        const char *h = specs[i].help, *nl;
        snprintf(head, sizeof(head), "%s%s%s", specs[i].name, specs[i].value ? " " : "",
                 specs[i].value ? specs[i].value : "");
        fprintf(out, "  %-15s ", head);
        while ((nl = strchr(h, '\n'))) {
            fprintf(out, "%.*s\n%18s", (int)(nl - h), h, "");
            h = nl + 1;
        }
        fprintf(out, "%s\n", h);
    }
}
