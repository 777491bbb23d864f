/* What hgrid-launch and the agents must agree on: the exit codes, the status channel,
 * the environment names, the limits both check and the deadline arithmetic. One home
 * for each fact (docs/INTERNALS.md, "One home for each shared fact"): the launcher's
 * --help, the agent's and the tests take them from here. The agent's command line has its own home, common/wire/agent_argv.h. */
#ifndef HG_PROTOCOL_H
#define HG_PROTOCOL_H

/* The launch settings' ranges, defaults and environment names (HG_TIMEOUT_*_S,
 * HG_GRACE_DEFAULT_S, HG_HOST_TIMEOUT_S, HG_MAX_RESTARTS, HG_ENV_TIMEOUT, ...): one
 * declaration each, in the settings table. */
#include "grid/settings.h"

/* Exit codes of hgrid-launch and hgrid-agent. Anything else is the workload's own
 * status (a workload rank killed by signal N gives 128+N, as in a shell), or 128+N
 * when the launcher itself was stopped by signal N. */
#define HG_EXIT_OK 0
#define HG_EXIT_OUTPUT 1       /* dry-run: the plan could not be written */
#define HG_EXIT_USAGE 2        /* usage, invalid config, PROGRAM not found, wrong task count */
#define HG_EXIT_PREFLIGHT 3    /* an agent failed pre-flight (signals included) */
#define HG_EXIT_NOT_STARTED 4  /* the job could not be started: mpirun missing or failing,
                                * bad hostfile, argument list too long, no rank started */
#define HG_EXIT_STALLED 5      /* ranks stopped sending heartbeats (--stall-timeout) */
#define HG_EXIT_NO_HOSTS 6     /* --exclude-failed-hosts left too few hosts for the layout */
#define HG_EXIT_LOST 7         /* a host was lost, or ranks ended with no exit status */
#define HG_EXIT_DEADLINE 124   /* the readiness deadline passed */

/* The status channel. A standalone hgrid-launch puts a random per-job token in the
 * environment of every rank; the coordinator (rank 0) then writes its status to stderr
 * as lines "hgrid-status TOKEN: MESSAGE\n", which the launcher consumes and never
 * shows. Without the variable (srun, mpirun, in-process without a launcher) nothing
 * of the protocol is written: users see only readable lines. A workload's own line
 * can never carry a token it was not given, so it always passes through. */
#define HG_ENV_STATUS_TOKEN "HGRID_STATUS_TOKEN"
#define HG_STATUS_PREFIX "hgrid-status "
#define HG_STATUS_TOKEN_LEN 16          /* hex digits */
#define HG_STATUS_LINE_MAX 256          /* longer lines are never status lines */
/* The messages, in the order a job sends them (READY and FAILED are printf formats). */
#define HG_STATUS_STARTED "started"     /* rank 0's agent runs (before MPI_Init) */
#define HG_STATUS_READY "ready %d/%d"   /* N of W ranks are ready */
#define HG_STATUS_FAILED "failed rank %d"
#define HG_STATUS_GO "go"
#define HG_STATUS_NO_GO "no-go"
#define HG_STATUS_REPORT "report"       /* the --report file has been written */
/* Any rank's watchdog (and the coordinator when ranks never reported), in place of its
 * readable deadline line: "deadline RANK TIMEOUT_S " then "PHASE" or "PHASE: DETAIL" to
 * the end of the line; RANK -1 when not known. The launcher prints one line per distinct
 * (TIMEOUT_S, PHASE, DETAIL) with its ranks. A message too long for a status line is
 * written as the readable line instead. A printf and an sscanf format (then "%n"). */
#define HG_STATUS_DEADLINE "deadline %d %d "
/* The readable deadline line after "hgrid: rank R: " or "hgrid: ranks LIST: ", with
 * ": DETAIL" when there is one: TIMEOUT_S, PHASE. */
#define HG_DEADLINE_TEXT "readiness deadline of %d s passed in phase %s"
/* The phases of pre-flight by name, in the order every rank passes them (the agent's
 * hg_phase, agent/watchdog.h, in the same order): the launcher orders deadline lines by
 * them, earliest first. Each phase ends in a step every rank takes part in, so ranks
 * still in an earlier phase at the deadline held up those in a later one. */
#define HG_PHASE_NAMES { "bootstrap", "gpu", "world", "groups", "verify", "bridges", \
                         "readiness", "handoff" }
/* After a deadline line of a later phase than the earliest one reported: the ranks
 * (printf: RANKS, PHASE) whose lines came first, which are the cause. */
#define HG_DEADLINE_BEHIND " (a consequence: %s had not finished phase %s)"

/* The ranks' channel (record.h): a standalone launch listens on TCP and puts
 * "PORT HOST ADDR[,ADDR...]" here; each rank's keeper connects (HOST's loopback when it
 * runs on HOST, else each ADDR in turn), says HELLO with the status token and its rank,
 * and from then on sends PROGRAM's output as records. Not passed on to PROGRAM. */
#define HG_ENV_IO "HGRID_IO"
/* Output framing, one home for the keeper, the relay and the launcher: a line travels
 * whole up to HG_LINE_MAX bytes; a longer one is sent in pieces of that size, and on the
 * user's streams each piece but the last ends with HG_LINE_CUT_MARK (log files keep the
 * bytes exact). A partial line (no newline yet: a prompt, a progress bar) is sent after
 * HG_PARTIAL_FLUSH_MS without new bytes: long enough that a program writing one line in
 * several writes (Python's print() unbuffered, one per argument) and descheduled between
 * them on a loaded host keeps its line whole, short enough for a prompt to show. */
#define HG_LINE_MAX (1u << 20)
/* Host liveness: each keeper sends a record at least this often, whatever its program
 * does, and the launcher holds a host lost when every rank on it that still owes its
 * status has been silent for the host timeout (--host-timeout, HG_HOST_TIMEOUT_S), or its
 * connection ended without that status. */
#define HG_ALIVE_INTERVAL_MS 1000
#define HG_LINE_CUT_MARK " [hgrid: line continues]\n"
#define HG_PARTIAL_FLUSH_MS 250
/* Without --label, where other ranks' lines may come between a cut line's pieces, the
 * pieces name their rank (printf: RANK) so that they can be put back together: each
 * piece but the last ends with HG_LINE_CUT_MARK_RANK, each but the first starts with
 * HG_LINE_CONT_TAG. (With --label, the label names the rank and HG_LINE_CUT_MARK is
 * used.) A carriage return ends a piece too (HG_REC_REDRAW in record.h): a progress
 * bar's redraws are shown as they come, each labelled with --label. */
#define HG_LINE_CUT_MARK_RANK " [hgrid: line of rank %d continues]\n"
#define HG_LINE_CONT_TAG "[hgrid: rank %d continues] "
/* Stack dumps (SIGUSR1 after --stall-timeout): the launcher holds a rank's stderr from
 * the signal until it has been quiet for HG_STACKS_QUIET_MS (or the rank ends), then
 * writes it as one block between these lines (printf: RANK MODULE, RANK); a rank that
 * writes nothing within HG_STACKS_WAIT_S is not held. Log files get the bytes as they
 * come. */
#define HG_STACKS_HEAD "hgrid: rank %d (%s): stacks, dumped on SIGUSR1:\n"
#define HG_STACKS_FOOT "hgrid: rank %d: end of stacks\n"
#define HG_STACKS_QUIET_MS 500
#define HG_STACKS_WAIT_S 5.0
/* Flight recorder summaries (issue 25): after its stacks, a rank whose torch has
 * PyTorch's flight recorder writes into the same stderr block one line per process group
 * it recorded (python/hgrid/_flight.py): HG_FLIGHT_TAG, then space-separated KEY=VALUE
 * fields, values without spaces: pg (torch's group name), desc (its description), ranks
 * (global ranks, "0,2,4"; "-": unknown), entered (the highest collective sequence number
 * of the group this rank entered; -1: none), completed (the highest it finished; -1:
 * none), op (the last entered one's profiling name, "gloo:all_reduce"). Read by
 * launcher/flight.c. */
#define HG_FLIGHT_TAG "hgrid-flight:"
/* Heartbeats (--stall-timeout): under a standalone launch PROGRAM finds the write end of
 * a pipe to its keeper in this descriptor and writes one line per step, "STEP\n" (a
 * decimal integer), or "STEP stacks PID\n" when SIGUSR1 sent to process PID (the one
 * writing) dumps its threads' stacks to stderr (hgrid.heartbeat registers faulthandler
 * so); hg_heartbeat() writes the first, hgrid.heartbeat() the second. The stacks signal
 * goes to PID alone, never to PROGRAM's process group: a wrapper shell, or a program
 * that has no handler, would die of it. "stacks" without a PID asks for nothing.
 * Unset without a launcher: heartbeats are then no-ops. The keeper passes on the latest
 * line at most every HG_BEAT_FORWARD_MS. A line may also say " compute US", the rank's
 * time outside collectives so far, for the straggler detector (wire/beat.h). */
#define HG_ENV_HEARTBEAT_FD "HGRID_HEARTBEAT_FD"
#define HG_BEAT_STACKS "stacks"
#define HG_BEAT_FORWARD_MS 500
/* --log-dir: each rank's streams, byte for byte (dir, rank, module, "stdout"/"stderr"). */
#define HG_LOG_PATH_FMT "%s/rank%d-%s.%s"
/* After PROGRAM exits, its streams are read while bytes flow; a process it left behind
 * that holds them open in silence this long is named and killed, and the rank ends. */
#define HG_OUTPUT_LINGER_S 2

/* Environment names. The launcher passes every HGRID_* variable to every host. */
#define HG_ENV_PREFIX "HGRID_"
#define HG_ENV_AGENT "HGRID_AGENT"       /* the hgrid-agent to run; default: beside hgrid-launch */
#define HG_ENV_PLAN_DIR "HGRID_PLAN_DIR" /* a standalone launch's directory for the ranks'
                                          * plan files, which it removes after the job */
#define HG_ENV_PLAN "HGRID_PLAN"         /* exec handoff: the path of this rank's plan */
#define HG_ENV_HANDOFF "HGRID_HANDOFF"   /* how the agent started the program: */
#define HG_HANDOFF_EXEC "exec"           /*   exec handoff, MPI finalized in that process */
#define HG_HANDOFF_IN_PROCESS "in-process" /* --in-process: it calls hg_init() itself */
/* What `hgrid-agent --in-process` passes on to the program's hg_init(): CONFIG here,
 * the settings' names (HGRID_BACKEND, HGRID_TIMEOUT, HGRID_REPORT, HGRID_VERBOSE,
 * HGRID_STRICT; HGRID_NCCL_RANKS_PER_ROOT) with their settings in grid/settings.h. */
#define HG_ENV_CONFIG "HGRID_CONFIG"     /* CONFIG */
/* What the exec handoff gives the program besides torchrun's RANK, WORLD_SIZE,
 * LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, GROUP_RANK, GROUP_WORLD_SIZE,
 * ROLE_RANK and ROLE_WORLD_SIZE, which agent/handoff.c names itself (docs/LAUNCHING.md
 * lists all; tests/python/test_package.py holds python/hgrid to these names): */
#define HG_ENV_MODULE "HGRID_MODULE"
#define HG_ENV_MODULES "HGRID_MODULES" /* the rank's modules, comma-separated, config order */
#define HG_ENV_ROLE "HGRID_ROLE"
#define HG_ENV_MODULE_RANK "HGRID_MODULE_RANK"
#define HG_ENV_MODULE_SIZE "HGRID_MODULE_SIZE"
#define HG_ENV_DIM_RANK "HGRID_%s_RANK"  /* printf formats over every dim of HG_DIMS */
#define HG_ENV_DIM_SIZE "HGRID_%s_SIZE"  /*   (TP, ..., GTP_REMAT, EXPT_GTP_REMAT) */
#define HG_ENV_CUDA_DEVICE "HGRID_CUDA_DEVICE" /* nccl: the GPU bound; unset with mpi */

/* Restarts of a failed job (--max-restarts, agent.max_restarts: at most HG_MAX_RESTARTS,
 * grid/settings.h). The workload learns its attempt from HGRID_RESTART_COUNT and
 * torchrun's names. */
#define HG_ENV_RESTART_COUNT "HGRID_RESTART_COUNT"
#define HG_ENV_TE_RESTART_COUNT "TORCHELASTIC_RESTART_COUNT"
#define HG_ENV_TE_MAX_RESTARTS "TORCHELASTIC_MAX_RESTARTS"

/* The rest of torchrun's worker environment, set by the exec handoff. One role, the
 * world: ROLE_RANK is RANK, ROLE_WORLD_SIZE is WORLD_SIZE, ROLE_NAME torchrun's
 * "default"; GROUP_RANK is the host's index (hosts ordered by their lowest rank),
 * GROUP_WORLD_SIZE the number of hosts. TORCHELASTIC_RUN_ID is HGRID_RUN_ID: a standalone
 * launch sets it once for all attempts (a UUID, as torchrun --standalone does) unless
 * the user did; without it, SLURM_JOB_ID, else torchrun's default "none". */
#define HG_ENV_RUN_ID "HGRID_RUN_ID"
#define HG_ENV_TE_RUN_ID "TORCHELASTIC_RUN_ID"
#define HG_TE_RUN_ID_NONE "none"
#define HG_ENV_TE_ROLE_NAME "ROLE_NAME"
#define HG_TE_ROLE_NAME "default"
/* Where torch's @record (torch.distributed.elastic.multiprocessing.errors) writes the
 * exception that ended PROGRAM, as JSON {"message": {"message": "TYPE: TEXT",
 * "extraInfo": {"py_callstack": TRACEBACK, "timestamp": "SECONDS"}}}: one file per rank
 * and attempt on the rank's host, HG_ERROR_FILE_FMT in a standalone launch's plan
 * directory (removed with it), else HG_ERROR_FILE_TMP_FMT made in $TMPDIR (empty, left
 * for the program as its plan file is). After a failed PROGRAM the keeper reads
 * it and sends its root cause to the launcher (HG_REC_CAUSE, record.h), which prints it
 * after the rank's failure line. Files over HG_ERROR_FILE_MAX bytes are not read. */
#define HG_ENV_TE_ERROR_FILE "TORCHELASTIC_ERROR_FILE"
/* PyTorch's flight recorder: entries kept per process group, so that a hang's dump
 * says which collective each rank last entered (issue 25). HG_ENV_TORCH_FR_BUFFER is set
 * in each rank's env to 2000 (what PyTorch's flight recorder docs use) unless the user
 * set it or its older name HG_ENV_TORCH_TRACE_BUFFER. Only the new name: torch 2.11
 * warns on every rank that the old one is deprecated, even beside the new; a torch too
 * old for the new name (the recorder was NCCL's alone then) needs the old name set by
 * the user (docs/HANGS.md). */
#define HG_ENV_TORCH_FR_BUFFER "TORCH_FR_BUFFER_SIZE"
#define HG_ENV_TORCH_TRACE_BUFFER "TORCH_NCCL_TRACE_BUFFER_SIZE"
#define HG_TORCH_FR_BUFFER_DEFAULT "2000"
#define HG_ERROR_FILE_FMT "%s/rank%d-error.json"          /* plan dir, rank */
#define HG_ERROR_FILE_TMP_FMT "%s/hgrid-error-rank%d-XXXXXX.json" /* $TMPDIR, rank */
#define HG_ERROR_FILE_MAX (4u << 20)

/* Past the readiness deadline T (seconds, counted by each agent from its own start),
 * three parties give up in turn, each g = clamp(T / 10, 1, 5) seconds after the last:
 * the coordinator stops waiting for records at T + g (a rank that ran out of time
 * reports just after T, and its reason should arrive); every agent's watchdog ends its
 * rank at T + 2g, naming the phase it was stuck in; a standalone launcher, whose clock
 * starts before any agent's and whose message can name neither rank nor phase, stops
 * the job itself only at T + 2g + HG_BACKSTOP_EXTRA_S. */
#define HG_BACKSTOP_EXTRA_S 10

static inline double hg_deadline_grace_s(int timeout_s)
{
    double g = timeout_s / 10.0;
    return g < 1.0 ? 1.0 : g > 5.0 ? 5.0 : g;
}

/* When an agent's watchdog fires: seconds after the agent started. */
static inline double hg_deadline_watchdog_s(int timeout_s)
{
    return timeout_s + 2 * hg_deadline_grace_s(timeout_s);
}

/* When the launcher's backstop stops the job: seconds after the launcher started it. */
static inline double hg_deadline_backstop_s(int timeout_s)
{
    return hg_deadline_watchdog_s(timeout_s) + HG_BACKSTOP_EXTRA_S;
}

#endif
