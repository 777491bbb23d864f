/* Exec handoff: after go, the program gets the torchrun-compatible environment (RANK,
 * WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, GROUP_RANK,
 * GROUP_WORLD_SIZE, ROLE_RANK, ROLE_WORLD_SIZE, ROLE_NAME, TORCHELASTIC_RUN_ID and a
 * per-rank TORCHELASTIC_ERROR_FILE for torch's @record: protocol.h), hgrid's own
 * (HGRID_MODULE, HGRID_ROLE, HGRID_MODULE_RANK/_SIZE, HGRID_{TP,CP,DP,PP,EP,EXPT_TP,
 * EXPT_DP}_RANK/_SIZE: the language module's in a colocated layout), HGRID_MODULES (the
 * modules this rank belongs to, comma-separated in config order: every module when
 * colocated, else its own), HGRID_CUDA_DEVICE (the GPU index pre-flight bound, nccl
 * backend only: under srun --gpus-per-task=1 it is 0, not LOCAL_RANK), HGRID_PLAN, the
 * path of this rank's plan as JSON in a private temp file (mode 0600, left for the
 * program: nothing outlives exec to remove it; it has the rank's bridge roles and,
 * colocated, every module's coordinates and groups: plan.h), and HGRID_HANDOFF=exec;
 * HGRID_STATUS_TOKEN is removed. The agent then releases its communicators, finalizes
 * MPI and becomes the program (same pid, so mpirun and srun see the program's exit
 * status as the rank's).
 *
 * MPI_Finalize has run in this very process, so the program cannot start MPI again
 * (Open MPI fails in orte_init); HGRID_HANDOFF=exec lets hg_init() say so plainly.
 * Libraries leave descriptors open without close-on-exec (NCCL's RAS thread keeps
 * listening sockets and a pipe after ncclCommDestroy); every descriptor above stderr
 * is marked close-on-exec just before execvp, so the program starts with 0, 1, 2. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/intparse.h"
#include "keeper.h"
#include "grid/plan.h"
#include "wire/protocol.h"
#include "relay.h"
#include "grid/validate.h"


static int set_int(const char *name, int v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", v);
    return setenv(name, buf, 1);
}

/* HGRID_PLAN_DIR (set by a standalone hgrid-launch, which removes it after the job)
 * holds rankN.json; without it, a private file in $TMPDIR that the program owns. */
static int open_plan(const hg_agent *a, char *path, size_t len)
{
    const char *dir = getenv(HG_ENV_PLAN_DIR);
    if (dir && *dir) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        snprintf(path, len, "%s/rank%d.json", dir, a->id.rank);
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(path, len, "%s/hgrid-plan-rank%d-XXXXXX.json", dir, a->id.rank);
    return mkstemps(path, 5);
}

static int write_plan(const hg_agent *a, char *path, size_t len, hg_error *err)
{
    FILE *f;
    int fd, rc;
    if ((fd = open_plan(a, path, len)) < 0)
        return hg_error_set(err, HG_EIO, "rank %d: cannot create the plan file %s: %s", a->id.rank,
                            path, strerror(errno));
    if (!(f = fdopen(fd, "w"))) {
        close(fd);
        return hg_error_set(err, HG_EIO, "rank %d: fdopen %s: %s", a->id.rank, path, strerror(errno));
    }
    rc = hg_plan_write_rank_json(&a->grid.view, f, err);
    if (fclose(f) != 0 && rc == 0)
        rc = hg_error_set(err, HG_EIO, "rank %d: writing %s: %s", a->id.rank, path, strerror(errno));
    return rc;
}

/* HGRID_MODULES: "vision,language" (colocated: every module, config order), or the
 * rank's own module. */
static int set_modules(const hg_agent *a)
{
    size_t n = hg_layout_module_count(a->grid.layout), len = 1, used = 0;
    char *list;
    int rc;
    if (a->grid.view.nmodules_here == 0)
        return setenv(HG_ENV_MODULES, a->grid.view.module.name, 1);
    for (size_t i = 0; i < n; i++)
        len += strlen(hg_layout_module(a->grid.layout, i)->name) + 1;
    if (!(list = malloc(len)))
        return -1;
    list[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(list + used, len - used, "%s%s", i ? "," : "",
                                 hg_layout_module(a->grid.layout, i)->name);
    rc = setenv(HG_ENV_MODULES, list, 1);
    free(list);
    return rc;
}

/* TORCHELASTIC_ERROR_FILE: beside the plan in a standalone launch's directory (one per
 * attempt, read by the keeper after a failure, removed with the directory), else a
 * private file made in $TMPDIR as the plan file is (never a name another user could
 * have planted a link at), left for the program. */
static int set_error_file(const hg_agent *a)
{
    char path[4096];
    const char *dir = getenv(HG_ENV_PLAN_DIR);
    if (dir && *dir) {
        snprintf(path, sizeof(path), HG_ERROR_FILE_FMT, dir, a->id.rank);
    } else {
        dir = getenv("TMPDIR");
        snprintf(path, sizeof(path), HG_ERROR_FILE_TMP_FMT, dir && *dir ? dir : "/tmp", a->id.rank);
        int fd = mkstemps(path, 5);
        if (fd < 0)
            return unsetenv(HG_ENV_TE_ERROR_FILE); /* @record then only logs */
        close(fd);
    }
    return setenv(HG_ENV_TE_ERROR_FILE, path, 1);
}

static const char *run_id(void)
{
    const char *id = getenv(HG_ENV_RUN_ID);
    if (!id || !*id)
        id = getenv("SLURM_JOB_ID");
    return id && *id ? id : HG_TE_RUN_ID_NONE;
}

static int set_env(const hg_agent *a, const char *plan_path)
{
    const hg_rank_view *p = &a->grid.view;
    const hg_module *m = &p->module;
    int bad = 0;
    bad |= set_int("RANK", a->id.rank);
    bad |= set_int("WORLD_SIZE", a->id.world);
    bad |= set_int("LOCAL_RANK", a->id.local_rank);
    bad |= set_int("LOCAL_WORLD_SIZE", a->id.local_size);
    bad |= setenv("MASTER_ADDR", a->result.decision.master_addr, 1);
    bad |= set_int("MASTER_PORT", a->result.decision.master_port);
    bad |= setenv(HG_ENV_MODULE, m->name, 1);
    bad |= setenv(HG_ENV_ROLE, hg_role_name(m->role), 1);
    bad |= set_int(HG_ENV_MODULE_RANK, p->module_rank);
    bad |= set_int(HG_ENV_MODULE_SIZE, m->size);
    bad |= set_int("GROUP_RANK", a->id.node);
    bad |= set_int("GROUP_WORLD_SIZE", a->id.nodes);
    bad |= set_int("ROLE_RANK", a->id.rank);
    bad |= set_int("ROLE_WORLD_SIZE", a->id.world);
    bad |= setenv(HG_ENV_TE_ROLE_NAME, HG_TE_ROLE_NAME, 1);
    bad |= setenv(HG_ENV_TE_RUN_ID, run_id(), 1);
    bad |= set_error_file(a);
    if (!getenv(HG_ENV_TORCH_FR_BUFFER) && !getenv(HG_ENV_TORCH_TRACE_BUFFER))
        bad |= setenv(HG_ENV_TORCH_FR_BUFFER, HG_TORCH_FR_BUFFER_DEFAULT, 1);
    bad |= set_modules(a);
    for (int d = 0; d < HG_DIM_COUNT; d++) { /* HGRID_TP_RANK, ..., base.h's HG_DIMS */
        char name[32];
        snprintf(name, sizeof(name), HG_ENV_DIM_RANK, hg_dim_env_name((hg_dim)d));
        bad |= set_int(name, hg_coords_dim(&p->coords, (hg_dim)d));
        snprintf(name, sizeof(name), HG_ENV_DIM_SIZE, hg_dim_env_name((hg_dim)d));
        bad |= set_int(name, hg_module_dim(m, (hg_dim)d));
    }
    if (a->result.device >= 0)
        bad |= set_int(HG_ENV_CUDA_DEVICE, a->result.device);
    else
        bad |= unsetenv(HG_ENV_CUDA_DEVICE);
    bad |= setenv(HG_ENV_PLAN, plan_path, 1);
    bad |= setenv(HG_ENV_HANDOFF, HG_HANDOFF_EXEC, 1);
    return bad;
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2) /* linux/close_range.h, Linux 5.11 */
#endif

/* Marks every descriptor from 3 up close-on-exec: close_range(2) where the kernel has
 * it (called through syscall(2), as older C libraries lack the wrapper), else each
 * entry of /proc/self/fd. Best effort: a descriptor this misses only leaks. */
static void cloexec_from_3(void)
{
    DIR *d;
    struct dirent *e;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
#endif
    if (!(d = opendir("/proc/self/fd")))
        return;
    while ((e = readdir(d))) {
        int fd, flags;
        if (hg_int_parse(e->d_name, 3, INT_MAX, &fd) != 0 || fd == dirfd(d))
            continue;
        if ((flags = fcntl(fd, F_GETFD)) >= 0)
            (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(d);
}

/* The keeper's heartbeat pipe (HG_ENV_HEARTBEAT_FD) is PROGRAM's to keep. */
static void keep_heartbeat_fd(void)
{
    int fd = hg_int_env(HG_ENV_HEARTBEAT_FD, INT_MAX);
    int flags = fd >= 3 ? fcntl(fd, F_GETFD) : -1;
    if (flags >= 0)
        (void)fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

int hg_handoff_exec(hg_agent *a, char **argv, hg_error *err)
{
    char plan_path[4096], host[sizeof(a->id.host)];
    int rank = a->id.rank, rc;
    memcpy(host, a->id.host, sizeof(host)); /* a is freed before the exec */
    hg_watchdog_phase(&a->run.wd, HG_PHASE_HANDOFF);
    if ((rc = write_plan(a, plan_path, sizeof(plan_path), err)) != 0) {
        hg_agent_free(a, 1);
        return rc;
    }
    if (set_env(a, plan_path) != 0) {
        rc = hg_error_set(err, HG_ENOMEM, "rank %d: setenv: %s", rank, strerror(errno));
        hg_agent_free(a, 1);
        return rc;
    }
    /* Relay mode with rank 0's collector: every rank's keeper connects to it, as to a
     * standalone launcher (collector.h). */
    if (a->result.decision.io[0]
        && (setenv(HG_ENV_IO, a->result.decision.io, 1) != 0
            || setenv(HG_ENV_STATUS_TOKEN, a->result.decision.io_token, 1) != 0)) {
        rc = hg_error_set(err, HG_ENOMEM, "rank %d: setenv: %s", rank, strerror(errno));
        hg_agent_free(a, 1);
        return rc;
    }
    char module[64];
    hg_relay_opts relay = { a->opts.label, a->opts.log_dir, rank, module };
    snprintf(module, sizeof(module), "%s", a->grid.view.module.name);
    hg_agent_free(a, 0);
    fflush(NULL);
    if ((rc = hg_output_start(&relay, err)) != 0)
        return rc;
    /* The status channel is the agents' (the keeper and the relay have read the token);
     * a line the program writes must never pass for one (common/wire/protocol.h). */
    unsetenv(HG_ENV_STATUS_TOKEN);
    cloexec_from_3();
    keep_heartbeat_fd();
    execvp(argv[0], argv);
    return hg_error_set(err, HG_ESYS, "rank %d on %s: cannot run PROGRAM '%s': %s", rank, host,
                        argv[0], strerror(errno));
}
