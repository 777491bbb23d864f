/* hgrid-agent: one per GPU, started by mpirun or srun (normally through hgrid-launch).
 *
 *   hgrid-agent [--backend nccl|mpi] [--timeout SECONDS] [--report FILE] [--verbose]
 *               [--strict] [--in-process] CONFIG -- PROGRAM [ARGS...]
 *
 * Runs the pre-flight of docs/DESIGN.md, "Launch and the agents" (agent.c), then execs
 * PROGRAM with the environment contract (handoff.c). Every rank checks right after
 * bootstrap that it can run PROGRAM (common/program.h), before any GPU work. Rank 0's
 * config bytes and options win: other ranks never open CONFIG. Under a standalone hgrid-launch
 * (HGRID_STATUS_TOKEN set) rank 0 says "started" on the status channel first thing,
 * before MPI_Init. With --in-process the agent does nothing else itself: it
 * execs PROGRAM at once, before MPI_Init, passing its options as HGRID_CONFIG,
 * HGRID_BACKEND, HGRID_TIMEOUT, HGRID_REPORT, HGRID_VERBOSE and HGRID_STRICT, for a
 * program that links libhgrid and calls hg_init() itself (hgrid.h; one can also start
 * such a program under mpirun directly).
 *
 * An exec-mode PROGRAM must not call MPI_Init: the agent has called MPI_Finalize in the
 * same process, and MPI cannot start twice (Open MPI 4.1 fails in orte_init). NCCL
 * programs (torch.distributed with the nccl backend, MASTER_ADDR/PORT rendezvous) are
 * fine; MPI programs, and anything that calls hg_init(), use --in-process. The handoff
 * sets HGRID_HANDOFF=exec, and hg_init() refuses to run under it with that advice.
 *
 * Exit status (common/protocol.h): 0 or the program's own; 2 usage, invalid config, a
 * world size that differs from the layout's, or a PROGRAM that cannot be executed (on
 * any rank: all ranks exit 2, rank 0 names rank, host and path); 3 a pre-flight failure
 * on any rank (all ranks exit 3, rank 0 lists the failed ranks and their reasons, one
 * line per reason); 124 the readiness deadline passed (agent.init_timeout_s or
 * --timeout: NCCL init, or a rank that never reported).
 *
 * Test hooks (environment; used by tests/agent_test.sh, harmless otherwise):
 *   HGRID_TEST_FAIL_RANK=R   rank R fails pre-flight with an "injected" message, at
 *                            the end of phase HGRID_TEST_FAIL_PHASE (gpu, the default;
 *                            world; groups);
 *   HGRID_TEST_SLOW_RANK=R   rank R's verify step outlives the readiness deadline and
 *                            reports that it timed out (as an NCCL call that never
 *                            settles does): every rank exits 124;
 *   HGRID_TEST_MPI_ERROR_RANK=R  rank R's verify step makes an MPI call fail (a send to
 *                            a rank that does not exist), which must come back as an
 *                            error, not abort the job;
 *   HGRID_TEST_LEAK_FD=1     every rank opens a descriptor without close-on-exec during
 *                            pre-flight, as NCCL does, which PROGRAM must not inherit;
 *   HGRID_TEST_ABORT_RANK=R  rank R calls abort() just before readiness;
 *   HGRID_TEST_HANG_RANK=R   rank R sleeps forever just before readiness;
 *   HGRID_TEST_NO_SHARE=1    one communicator per kind even where members coincide
 *                            (exercises ncclCommSplit on a single GPU);
 *   HGRID_TEST_NCCL_PHANTOM_PEER=1  the NCCL world is declared one rank larger than
 *                            the job, so its init never completes: the deadline and
 *                            ncclCommAbort path, on a single GPU. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "diag.h"
#include "program.h"
#include "protocol.h"
#include "relay.h"
#include "validate.h"
#include "version.h"

typedef struct agent_cli {
    hg_agent_opts opts;
    int help, version, in_process;
    char **program; /* argv of PROGRAM, NULL-terminated */
} agent_cli;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hgrid-agent [--backend nccl|mpi] [--timeout SECONDS] [--report FILE]\n"
            "                   [--verbose] [--strict] [--in-process] CONFIG -- PROGRAM [ARGS...]\n"
            "       hgrid-agent --help | --version\n"
            "\n"
            "One agent per GPU, under mpirun or srun: builds and verifies this rank's NCCL (or\n"
            "MPI) communicators from the grid description CONFIG, waits for every rank's go,\n"
            "then execs PROGRAM with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, HGRID_* and\n"
            "HGRID_PLAN set. MPI is finalized before the exec, so PROGRAM must not call\n"
            "MPI_Init (NCCL programs such as torch.distributed are fine); MPI programs and\n"
            "programs that call hg_init() run with --in-process.\n"
            "\n"
            "  --backend B     nccl (GPUs) or mpi (CPU groups); default: agent.backend\n"
            "  --timeout S     readiness deadline in seconds; default: agent.init_timeout_s\n"
            "  --report FILE   rank 0 writes every rank's readiness record as JSON\n"
            "  --verbose       rank 0 prints each rank's record as it arrives\n"
            "  --strict        layouts beyond what the MIMO runtime accepts are errors\n"
            "  --label         prefix PROGRAM's lines with '[RANK MODULE] '\n"
            "  --log-dir DIR   also write PROGRAM's stdout and stderr to DIR/rankR-MODULE.*\n"
            "  --in-process    exec PROGRAM at once; it calls hg_init() itself (hgrid.h) and\n"
            "                  may use MPI\n"
            "\n"
            "exit: 0 or PROGRAM's status; 2 usage, config, or PROGRAM cannot be executed;\n"
            "3 pre-flight failed; 124 deadline\n");
}

static int parse_positive(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v <= 0 || v > 86400)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse(int argc, char **argv, agent_cli *cli)
{
    static const struct option longs[] = {
        { "backend", required_argument, NULL, 'b' }, { "timeout", required_argument, NULL, 't' },
        { "report", required_argument, NULL, 'r' },  { "verbose", no_argument, NULL, 'v' },
        { "strict", no_argument, NULL, 's' },        { "in-process", no_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'V' },
        { "label", no_argument, NULL, 'l' },         { "log-dir", required_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    memset(cli, 0, sizeof(*cli));
    hg_agent_opts_default(&cli->opts);
    cli->opts.exec_handoff = 1;
    opterr = 0;
    /* "+": stop at CONFIG, so PROGRAM's own options are never taken for ours. */
    while ((c = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (strcmp(optarg, "nccl") == 0)
                cli->opts.backend = HG_BACKEND_NCCL;
            else if (strcmp(optarg, "mpi") == 0)
                cli->opts.backend = HG_BACKEND_MPI;
            else {
                fprintf(stderr, "hgrid-agent: --backend must be nccl or mpi, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 't':
            if (parse_positive(optarg, &cli->opts.timeout_s) != 0) {
                fprintf(stderr, "hgrid-agent: --timeout must be a whole number of seconds in "
                        "1..86400, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'r': cli->opts.report_path = optarg; break;
        case 'v': cli->opts.verbose = 1; break;
        case 's': cli->opts.strict = 1; break;
        case 'i': cli->in_process = 1; break;
        case 'l': cli->opts.label = 1; break;
        case 'L': cli->opts.log_dir = optarg; break;
        case 'h': cli->help = 1; return 0;
        case 'V': cli->version = 1; return 0;
        default:
            fprintf(stderr, "hgrid-agent: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "hgrid-agent: missing CONFIG\n");
        return -1;
    }
    cli->opts.config_path = argv[optind++];
    if (optind >= argc || strcmp(argv[optind], "--") != 0) {
        fprintf(stderr, "hgrid-agent: expected '--' and a PROGRAM after CONFIG\n");
        return -1;
    }
    if (++optind >= argc) {
        fprintf(stderr, "hgrid-agent: missing PROGRAM after '--'\n");
        return -1;
    }
    cli->program = argv + optind;
    cli->opts.program = cli->program[0];
    return 0;
}

/* This process's rank as mpirun, PMIx or srun tell it before MPI_Init; NULL: none. */
static const char *launcher_rank(void)
{
    static const char *const names[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                         "SLURM_PROCID", NULL };
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

/* --in-process with --label or --log-dir: the relay needs this rank's module before
 * MPI exists, so the rank comes from the launcher's environment and the module from
 * the config (which the launcher validated). */
static int start_relay(const hg_agent_opts *o)
{
    const char *r = launcher_rank();
    hg_diags *d = hg_diags_new(o->config_path);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_error err;
    int rc = -1, rank = r ? atoi(r) : -1, mi;
    hg_error_clear(&err);
    if (d && hg_layout_load(o->config_path, o->strict ? HG_VALIDATE_STRICT : 0, &cfg, &layout, d)
                 == 0
        && (mi = hg_layout_module_of(layout, rank)) >= 0) {
        hg_relay_opts relay = { o->label, o->log_dir, rank,
                                hg_layout_module(layout, (size_t)mi)->name };
        rc = hg_relay_start(&relay, &err);
        if (rc != 0)
            fprintf(stderr, "hgrid: %s\n", err.msg);
    } else {
        fprintf(stderr, "hgrid: rank %s: cannot tell this rank's module for --label/--log-dir "
                "from %s\n", r ? r : "?", o->config_path);
    }
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    return rc;
}

/* --in-process: hand the options to the program's hg_init() and become the program. */
static int exec_in_process(const agent_cli *cli)
{
    const hg_agent_opts *o = &cli->opts;
    char num[24];
    int bad = setenv("HGRID_CONFIG", o->config_path, 1);
    bad |= setenv("HGRID_HANDOFF", "in-process", 1); /* not an inherited "exec" */
    if (o->backend >= 0)
        bad |= setenv("HGRID_BACKEND", o->backend == HG_BACKEND_MPI ? "mpi" : "nccl", 1);
    if (o->timeout_s > 0) {
        snprintf(num, sizeof(num), "%d", o->timeout_s);
        bad |= setenv("HGRID_TIMEOUT", num, 1);
    }
    if (o->report_path)
        bad |= setenv("HGRID_REPORT", o->report_path, 1);
    if (o->verbose)
        bad |= setenv("HGRID_VERBOSE", "1", 1);
    if (o->strict)
        bad |= setenv("HGRID_STRICT", "1", 1);
    if (bad) {
        perror("hgrid-agent: setenv");
        return 2;
    }
    if ((o->label || o->log_dir) && start_relay(o) != 0)
        return HG_EXIT_PREFLIGHT;
    execvp(cli->program[0], cli->program);
    /* No coordinator yet to gather this: every rank says it, as pre-flight would, and
     * exits as a usage error (not 127, a shell's code, which readers take for PROGRAM's). */
    int e = errno;
    char host[256];
    const char *rank = launcher_rank();
    hg_error why;
    hg_error_clear(&why);
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown-host");
    host[sizeof(host) - 1] = '\0';
    if (hg_program_resolve(cli->program[0], getenv("PATH"), NULL, 0, &why) == 0)
        hg_error_set(&why, HG_ESYS, "cannot run PROGRAM '%s': %s", cli->program[0], strerror(e));
    fprintf(stderr, "hgrid: rank %s on %s: %s\n", rank ? rank : "?", host, why.msg);
    return HG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    agent_cli cli;
    hg_agent *a = NULL;
    hg_error err;
    int rc;

    const char *rank = launcher_rank();
    /* First thing, so the launcher knows an agent ran, even one that then fails. */
    if (rank && strcmp(rank, "0") == 0)
        hg_status("started");
    if (parse(argc, argv, &cli) != 0) {
        usage(stderr);
        return 2;
    }
    if (cli.help) {
        usage(stdout);
        return 0;
    }
    if (cli.version) {
        printf("hgrid-agent %s\n", HG_VERSION);
        return 0;
    }
    if (cli.in_process) {
        cli.opts.program = NULL; /* exec'd below, before any MPI: its failure says why */
        return exec_in_process(&cli);
    }

    hg_error_clear(&err);
    if ((rc = hg_agent_start(&cli.opts, &a, &err)) != 0)
        return hg_agent_exit_status(rc); /* readiness has reported it */
    rc = hg_handoff_exec(a, cli.program, &err);
    /* execvp failed although pre-flight found PROGRAM runnable (it changed since, or
     * the kernel refused its format): the same usage error, from this rank. */
    fprintf(stderr, "hgrid: %s\n", err.msg);
    return rc == HG_ESYS ? HG_EXIT_USAGE : HG_EXIT_PREFLIGHT;
}
