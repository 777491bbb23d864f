/* hgrid-agent: one per GPU, started by mpirun or srun (normally through hgrid-launch).
 *
 *   hgrid-agent [OPTIONS] CONFIG -- PROGRAM [ARGS...]
 *
 * Its options are common/wire/agent_argv.h's table, which hgrid-launch writes from. Runs the
 * pre-flight of docs/DESIGN.md, "Launch and the agents" (agent.c), then execs PROGRAM
 * with the environment contract (handoff.c). Every rank checks right after bootstrap
 * that it can run PROGRAM (common/util/program.h), before any GPU work. Rank 0's config
 * bytes and options win: other ranks never open CONFIG. Under a standalone hgrid-launch
 * (HGRID_STATUS_TOKEN set) rank 0 says "started" on the status channel first thing,
 * before MPI_Init. With --in-process the agent does nothing else itself: it execs
 * PROGRAM at once, before MPI_Init, passing its options in the environment (HG_ENV_*
 * of common/wire/protocol.h: HGRID_CONFIG, HGRID_BACKEND, ...), for a program that links
 * libhgrid and calls hg_init() itself (hgrid.h; one can also start such a program under
 * mpirun directly).
 *
 * An exec-mode PROGRAM must not call MPI_Init: the agent has called MPI_Finalize in the
 * same process, and MPI cannot start twice (Open MPI 4.1 fails in orte_init). NCCL
 * programs (torch.distributed with the nccl backend, MASTER_ADDR/PORT rendezvous) are
 * fine; MPI programs, and anything that calls hg_init(), use --in-process. The handoff
 * sets HGRID_HANDOFF=exec, and hg_init() refuses to run under it with that advice.
 *
 * Exit status (common/wire/protocol.h): 0 or the program's own; 2 usage, invalid config, a
 * world size that differs from the layout's, or a PROGRAM that cannot be executed (on
 * any rank: all ranks exit 2, rank 0 names rank, host and path); 3 a pre-flight failure
 * on any rank (all ranks exit 3, rank 0 lists the failed ranks and their reasons, one
 * line per reason); 124 the readiness deadline passed (agent.init_timeout_s or
 * --timeout: NCCL init, or a rank that never reported).
 *
 * Test builds (-DHG_TEST_HOOKS) also read the HGRID_TEST_* fault hooks: testhooks.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "wire/agent_argv.h"
#include "collector.h"
#include "grid/config.h"
#include "util/diag.h"
#include "util/intparse.h"
#include "keeper.h"
#include "wire/launchenv.h"
#include "util/program.h"
#include "wire/protocol.h"
#include "relay.h"
#include "status.h"
#include "grid/validate.h"
#include "util/version.h"

static void usage(FILE *out)
{
    fputs("usage: hgrid-agent [--backend nccl|mpi] [--timeout SECONDS]\n"
          "                   [--preflight full|world|none] [--report FILE] [--verbose]\n"
          "                   [--strict] [--in-process] [--label] [--log-dir DIR]\n"
          "                   CONFIG -- PROGRAM [ARGS...]\n"
          "       hgrid-agent --help | --version\n"
          "\n"
          "One agent per GPU, under mpirun or srun: builds and verifies this rank's NCCL (or\n"
          "MPI) communicators from the grid description CONFIG, waits for every rank's go,\n"
          "then execs PROGRAM with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, HGRID_* and\n"
          "HGRID_PLAN set. MPI is finalized before the exec, so PROGRAM must not call\n"
          "MPI_Init (NCCL programs such as torch.distributed are fine); MPI programs and\n"
          "programs that call hg_init() run with --in-process.\n"
          "\n",
          out);
    hg_agent_args_usage(out);
    fprintf(out,
            "\n"
            "Exit status: %d or PROGRAM's own; %d usage, invalid config, or PROGRAM cannot be\n"
            "executed; %d pre-flight failed; %d the readiness deadline passed.\n",
            HG_EXIT_OK, HG_EXIT_USAGE, HG_EXIT_PREFLIGHT, HG_EXIT_DEADLINE);
}

/* The command line's options as the agent's (and, --in-process, hg_init's). */
static void to_opts(const hg_agent_args *args, hg_agent_opts *o)
{
    hg_agent_opts_default(o);
    o->config_path = args->config;
    o->backend = args->backend;
    o->timeout_s = args->timeout_s;
    o->preflight = args->preflight;
    o->report_path = args->report;
    o->verbose = args->verbose;
    o->strict = args->strict;
    o->label = args->label;
    o->log_dir = args->log_dir;
    o->exec_handoff = 1;
    o->program = args->program ? args->program[0] : NULL;
}

/* --in-process with --label or --log-dir: the relay needs this rank's module before
 * MPI exists, so the rank comes from the launcher's environment and the module from
 * the config (which the launcher validated). */
static int start_relay(const hg_agent_opts *o)
{
    int rank = hg_launcher_rank(), rc = -1, mi;
    hg_diags *d = hg_diags_new(o->config_path);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_error err;
    hg_error_clear(&err);
    if (d && hg_layout_load(o->config_path, o->strict ? HG_VALIDATE_STRICT : 0, &cfg, &layout, d)
                 == 0
        && (mi = hg_layout_module_of(layout, rank)) >= 0) {
        hg_relay_opts relay = { o->label, o->log_dir, rank,
                                hg_layout_module(layout, (size_t)mi)->name };
        rc = hg_relay_start(&relay, &err);
        if (rc != 0)
            fprintf(stderr, "hgrid: %s\n", err.msg);
    } else if (rank < 0) {
        fprintf(stderr, "hgrid: rank ?: cannot tell this rank's module for --label/--log-dir "
                "from %s\n", o->config_path);
    } else {
        fprintf(stderr, "hgrid: rank %d: cannot tell this rank's module for --label/--log-dir "
                "from %s\n", rank, o->config_path);
    }
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    return rc;
}

/* PROGRAM's streams before it starts (keeper.h): the launcher's keeper when there is
 * one to reach (the parent stays behind as the keeper and never returns), else the
 * relay, which needs the rank's module only to label or name log files. */
static int start_output(const hg_agent_opts *o)
{
    hg_error err;
    int sock = hg_keeper_connect(hg_launcher_rank(), &err);
    if (sock >= 0) {
        if (hg_keeper_start(sock, hg_launcher_rank(), &err) == 0)
            return 0;
        fprintf(stderr, "hgrid: %s\n", err.msg);
        return -1;
    }
    if (err.code)
        fprintf(stderr, "hgrid: warning: %s\n", err.msg);
    if (o->label || o->log_dir)
        return start_relay(o);
    hg_relay_opts relay = { 0, NULL, hg_launcher_rank(), "?" };
    if (hg_relay_start(&relay, &err) != 0) {
        fprintf(stderr, "hgrid: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* --in-process: hand the options to the program's hg_init() (protocol.h's names) and
 * become the program. */
static int exec_in_process(const hg_agent_opts *o, char *const *program)
{
    char num[24], host[256];
    int bad = setenv(HG_ENV_CONFIG, o->config_path, 1);
    bad |= setenv(HG_ENV_HANDOFF, HG_HANDOFF_IN_PROCESS, 1); /* not an inherited "exec" */
    if (o->backend != HG_BACKEND_FROM_CONFIG)
        bad |= setenv(HG_ENV_BACKEND, hg_backend_name((hg_backend)o->backend), 1);
    if (o->timeout_s > 0) {
        snprintf(num, sizeof(num), "%d", o->timeout_s);
        bad |= setenv(HG_ENV_TIMEOUT, num, 1);
    }
    if (o->report_path)
        bad |= setenv(HG_ENV_REPORT, o->report_path, 1);
    if (o->verbose)
        bad |= setenv(HG_ENV_VERBOSE, "1", 1);
    if (o->strict)
        bad |= setenv(HG_ENV_STRICT, "1", 1);
    if (bad) {
        perror("hgrid-agent: setenv");
        return HG_EXIT_USAGE;
    }
    if (start_output(o) != 0)
        return HG_EXIT_PREFLIGHT;
    execvp(program[0], program);
    /* No coordinator yet to gather this: every rank says it, as pre-flight would, and
     * exits as a usage error (not 127, a shell's code, which readers take for PROGRAM's). */
    int e = errno, rank = hg_launcher_rank();
    hg_error why;
    hg_error_clear(&why);
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "unknown-host");
    host[sizeof(host) - 1] = '\0';
    if (hg_program_resolve(program[0], getenv("PATH"), NULL, 0, &why) == 0)
        hg_error_set(&why, HG_ESYS, "cannot run PROGRAM '%s': %s", program[0], strerror(e));
    if (rank < 0)
        fprintf(stderr, "hgrid: rank ? on %s: %s\n", host, why.msg);
    else
        fprintf(stderr, "hgrid: rank %d on %s: %s\n", rank, host, why.msg);
    return HG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    hg_agent_args args;
    hg_agent_opts opts;
    hg_agent *a = NULL;
    hg_error err;
    int rc;

    if (argc > 1 && strcmp(argv[1], HG_COLLECTOR_ARG) == 0)
        return hg_collector_main(argc, argv);
    /* First thing, so the launcher knows an agent ran, even one that then fails. */
    if (hg_launcher_rank() == 0)
        hg_status(HG_STATUS_STARTED);
    hg_error_clear(&err);
    if (hg_agent_args_parse(argc, argv, &args, &err) != 0) {
        fprintf(stderr, "hgrid-agent: %s\n", err.msg);
        usage(stderr);
        return HG_EXIT_USAGE;
    }
    if (args.help) {
        usage(stdout);
        return HG_EXIT_OK;
    }
    if (args.version) {
        printf("hgrid-agent %s\n", HG_VERSION);
        return HG_EXIT_OK;
    }
    to_opts(&args, &opts);
    if (args.in_process) {
        opts.program = NULL; /* exec'd below, before any MPI: its failure says why */
        return exec_in_process(&opts, args.program);
    }

    if ((rc = hg_agent_start(&opts, &a, &err)) != 0)
        return hg_agent_exit_status(rc); /* readiness has reported it */
    rc = hg_handoff_exec(a, (char **)args.program, &err);
    /* execvp failed although pre-flight found PROGRAM runnable (it changed since, or
     * the kernel refused its format): the same usage error, from this rank. */
    fprintf(stderr, "hgrid: %s\n", err.msg);
    return rc == HG_ESYS ? HG_EXIT_USAGE : HG_EXIT_PREFLIGHT;
}
