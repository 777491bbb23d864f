/* hgrid.h: the in-process API over the agent. An hg_ctx is the agent itself (an
 * hg_agent behind an opaque name); this file translates options, checks what a caller
 * of any 0.x header can pass, and hands out what the agent holds. Nothing here is
 * exported but the HG_API functions (libhgrid is built with -fvisibility=hidden). */
#include "hgrid.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "grid/config.h"
#include "util/intparse.h"
#include "wire/protocol.h"

#define AGENT(ctx) ((const hg_agent *)(const void *)(ctx))

/* Whether field f lies inside the hg_init_opts the caller compiled (o->size bytes): a
 * program built against an older header passes a shorter struct. */
#define HAS_FIELD(o, size, f) (offsetof(hg_init_opts, f) + sizeof((o)->f) <= (size))

unsigned hg_version(void) { return HG_VERSION_HEX; }
const char *hg_version_string(void) { return HG_VERSION_STRING; }
int hg_kind_count(void) { return HG_KIND_COUNT; }

int hg_has_nccl(void)
{
#ifdef HG_HAVE_NCCL
    return 1;
#else
    return 0;
#endif
}

/* An on/off variable: on when set and not "0". */
static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

void hg_init_opts_from_env_sized(hg_init_opts *o, size_t size)
{
    hg_init_opts full = HG_INIT_OPTS_INIT;
    const char *v;
    full.config = getenv(HG_ENV_CONFIG);
    full.report = getenv(HG_ENV_REPORT);
    /* Values hg_init refuses with a message stay visible as such: -2, -1. */
    if ((v = getenv(HG_ENV_BACKEND)) && *v && hg_backend_from_name(v, &full.backend) != 0)
        full.backend = (hg_backend)-2;
    if ((v = getenv(HG_ENV_TIMEOUT)) && *v
        && hg_int_parse(v, HG_TIMEOUT_MIN_S, HG_TIMEOUT_MAX_S, &full.timeout_s) != 0)
        full.timeout_s = -1;
    full.verbose = env_flag(HG_ENV_VERBOSE);
    full.strict = env_flag(HG_ENV_STRICT);
    /* Only what the caller's struct has room for. */
    full.size = size < sizeof(full) ? size : sizeof(full);
    memcpy(o, &full, full.size);
}

int hg_init(const hg_init_opts *opts, hg_ctx **out, hg_error *err)
{
    hg_agent_opts o;
    hg_agent *a = NULL;
    const char *handoff = getenv(HG_ENV_HANDOFF);
    int rc;
    *out = NULL;
    hg_agent_opts_default(&o);
    /* MPI_Init would fail inside Open MPI with a message that names neither cause nor cure. */
    if (handoff && strcmp(handoff, HG_HANDOFF_EXEC) == 0)
        return hg_error_set(err, HG_EINVAL, "hg_init: this program was started by hgrid's exec "
                            "handoff, after MPI_Finalize in this same process, so MPI cannot "
                            "start again; run it with --in-process (hgrid-launch --in-process or "
                            "hgrid-agent --in-process)");
    if (!opts || opts->size < offsetof(hg_init_opts, config) + sizeof(opts->config))
        return hg_error_set(err, HG_EINVAL, "hg_init: options not initialized (start from "
                            "HG_INIT_OPTS_INIT or hg_init_opts_from_env)");
    size_t size = opts->size;
    if (!opts->config || !*opts->config)
        return hg_error_set(err, HG_EINVAL, "hg_init: no config (set hg_init_opts.config or "
                            HG_ENV_CONFIG ")");
    o.config_path = opts->config;
    if (HAS_FIELD(opts, size, backend)) {
        if (opts->backend < HG_BACKEND_FROM_CONFIG || opts->backend > HG_BACKEND_MPI)
            return hg_error_set(err, HG_EINVAL, "hg_init: unknown backend (nccl or mpi)");
        o.backend = opts->backend;
    }
    if (HAS_FIELD(opts, size, timeout_s)) {
        if (opts->timeout_s < 0)
            return hg_error_set(err, HG_EINVAL, "hg_init: the timeout must be a positive number "
                                "of seconds");
        o.timeout_s = opts->timeout_s;
    }
    if (HAS_FIELD(opts, size, report))
        o.report_path = opts->report;
    if (HAS_FIELD(opts, size, verbose))
        o.verbose = opts->verbose;
    if (HAS_FIELD(opts, size, strict))
        o.strict = opts->strict;
    if ((rc = hg_agent_start(&o, &a, err)) == 0)
        *out = (hg_ctx *)(void *)a;
    return rc;
}

int hg_exit_status(int rc)
{
    return hg_agent_exit_status(rc);
}

void hg_finalize(hg_ctx *ctx)
{
    hg_agent_free((hg_agent *)(void *)ctx, 0);
}

int hg_ctx_rank(const hg_ctx *ctx) { return AGENT(ctx)->id.rank; }
int hg_ctx_world_size(const hg_ctx *ctx) { return AGENT(ctx)->id.world; }
const char *hg_ctx_module(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.module.name; }
hg_role hg_ctx_role(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.module.role; }
int hg_ctx_module_rank(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.module_rank; }
int hg_ctx_module_size(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.module.size; }
hg_backend hg_ctx_backend(const hg_ctx *ctx) { return (hg_backend)AGENT(ctx)->set.backend; }
int hg_ctx_local_rank(const hg_ctx *ctx) { return AGENT(ctx)->id.local_rank; }
int hg_ctx_local_size(const hg_ctx *ctx) { return AGENT(ctx)->id.local_size; }
int hg_ctx_communicators(const hg_ctx *ctx) { return AGENT(ctx)->grid.comms.nslots; }

int hg_ctx_restart_count(const hg_ctx *ctx)
{
    (void)ctx;
    int n = hg_int_env(HG_ENV_RESTART_COUNT, HG_MAX_RESTARTS);
    return n < 0 ? 0 : n;
}

int hg_heartbeat(const hg_ctx *ctx, long step)
{
    char line[32];
    (void)ctx;
    if (step < 0)
        return HG_EINVAL;
    int fd = hg_int_env(HG_ENV_HEARTBEAT_FD, INT_MAX);
    if (fd < 3)
        return 0;
    int n = snprintf(line, sizeof(line), "%ld\n", step);
    ssize_t w;
    while ((w = write(fd, line, (size_t)n)) < 0 && errno == EINTR)
        ;
    return w == n ? 0 : HG_EIO;
}

/* -1 (and *size -1) for a dim the library does not know (layout.h). */
static int view_coord(const hg_rank_view *v, hg_dim dim, int *size)
{
    if (size)
        *size = hg_module_dim(&v->module, dim);
    return hg_coords_dim(&v->coords, dim);
}

int hg_ctx_coord(const hg_ctx *ctx, hg_dim dim, int *size)
{
    return view_coord(&AGENT(ctx)->grid.view, dim, size);
}

static int view_group(const hg_agent *a, const hg_rank_view *v, hg_kind kind, int *members,
                      int max)
{
    if (kind == HG_KIND_WORLD) {
        for (int i = 0; members && i < max && i < a->id.world; i++)
            members[i] = i;
        return a->id.world;
    }
    if ((unsigned)kind >= HG_KIND_COUNT || v->groups[kind].index < 0)
        return 0;
    const hg_rank_group *g = &v->groups[kind];
    for (int i = 0; members && i < max && i < g->size; i++)
        members[i] = g->members[i];
    return g->size;
}

int hg_ctx_group(const hg_ctx *ctx, hg_kind kind, int *members, int max)
{
    return view_group(AGENT(ctx), &AGENT(ctx)->grid.view, kind, members, max);
}

int hg_ctx_group_rank(const hg_ctx *ctx, hg_kind kind)
{
    const hg_agent *a = AGENT(ctx);
    if (kind == HG_KIND_WORLD)
        return a->id.rank;
    if ((unsigned)kind >= HG_KIND_COUNT || a->grid.view.groups[kind].index < 0)
        return -1;
    return a->grid.view.groups[kind].pos;
}

int hg_ctx_cuda_device(const hg_ctx *ctx)
{
    return AGENT(ctx)->set.backend == HG_BACKEND_NCCL ? AGENT(ctx)->result.device : -1;
}

static const hg_rank_view *module_view(const hg_ctx *ctx, int m)
{
    return hg_agent_module_view(AGENT(ctx), m);
}

static int module_slot(const hg_agent *a, int m, hg_kind kind)
{
    return hg_agent_module_slot(a, m, (int)kind);
}

/* The rank's own module (colocated: the language module) is the comm set's primary view:
 * the plain calls are the per-module ones for it. */
MPI_Comm hg_ctx_mpi_comm(const hg_ctx *ctx, hg_kind kind)
{
    return hg_ctx_module_mpi_comm(ctx, AGENT(ctx)->grid.comms.primary, kind);
}

struct ncclComm *hg_ctx_nccl_comm(const hg_ctx *ctx, hg_kind kind)
{
    return hg_ctx_module_nccl_comm(ctx, AGENT(ctx)->grid.comms.primary, kind);
}

/* ---- MIMO topology ---- */

hg_layout_kind hg_ctx_layout(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.layout; }

int hg_ctx_module_count(const hg_ctx *ctx)
{
    return hg_agent_module_count(AGENT(ctx));
}

const char *hg_ctx_module_name(const hg_ctx *ctx, int m)
{
    const hg_rank_view *v = module_view(ctx, m);
    return v ? v->module.name : NULL;
}

int hg_ctx_module_coord(const hg_ctx *ctx, int m, hg_dim dim, int *size)
{
    const hg_rank_view *v = module_view(ctx, m);
    if (!v) {
        if (size)
            *size = -1;
        return -1;
    }
    return view_coord(v, dim, size);
}

int hg_ctx_module_group(const hg_ctx *ctx, int m, hg_kind kind, int *members, int max)
{
    const hg_rank_view *v = module_view(ctx, m);
    return v ? view_group(AGENT(ctx), v, kind, members, max) : 0;
}

MPI_Comm hg_ctx_module_mpi_comm(const hg_ctx *ctx, int m, hg_kind kind)
{
    const hg_agent *a = AGENT(ctx);
    int slot = module_slot(a, m, kind);
    if (slot < 0 || a->set.backend != HG_BACKEND_MPI)
        return MPI_COMM_NULL;
    return *(MPI_Comm *)hg_agent_comm(a, slot);
}

struct ncclComm *hg_ctx_module_nccl_comm(const hg_ctx *ctx, int m, hg_kind kind)
{
    const hg_agent *a = AGENT(ctx);
    int slot = module_slot(a, m, kind);
    if (slot < 0 || a->set.backend != HG_BACKEND_NCCL)
        return NULL;
    return hg_agent_comm(a, slot);
}

int hg_ctx_bridge_count(const hg_ctx *ctx) { return AGENT(ctx)->grid.view.nbridges; }

int hg_ctx_bridge_sized(const hg_ctx *ctx, int i, hg_bridge_info *info, size_t size)
{
    const hg_agent *a = AGENT(ctx);
    if (!info || i < 0 || i >= a->grid.view.nbridges)
        return HG_EINVAL;
    const hg_rank_bridge *b = &a->grid.view.bridges[i];
    hg_bridge_info full = HG_BRIDGE_INFO_INIT;
    full.src = hg_layout_module(a->grid.layout, (size_t)b->src)->name;
    full.dest = hg_layout_module(a->grid.layout, (size_t)b->dest)->name;
    full.mode = b->mode;
    full.side = b->side;
    full.role = b->role;
    full.leader = b->leader;
    full.npeers = b->npeers;
    full.peers = b->peers;
    full.nbroadcast = b->nbroadcast;
    full.broadcast = b->broadcast;
    full.ngroup = b->ngroup;
    full.group = b->group;
    /* Only what the caller's struct has room for. */
    full.size = size < sizeof(full) ? size : sizeof(full);
    memcpy(info, &full, full.size);
    return 0;
}

/* The slot of the rank's bridge i's own group: -1 for a member (not a leader). */
static int bridge_slot(const hg_agent *a, int i)
{
    if (i < 0 || i >= a->grid.view.nbridges)
        return -1;
    return hg_comm_set_bridge_slot(&a->grid.comms, a->grid.view.bridges[i].bridge);
}

MPI_Comm hg_ctx_bridge_mpi_comm(const hg_ctx *ctx, int i)
{
    const hg_agent *a = AGENT(ctx);
    int slot = bridge_slot(a, i);
    if (slot < 0 || a->set.backend != HG_BACKEND_MPI)
        return MPI_COMM_NULL;
    return *(MPI_Comm *)hg_agent_comm(a, slot);
}

struct ncclComm *hg_ctx_bridge_nccl_comm(const hg_ctx *ctx, int i)
{
    const hg_agent *a = AGENT(ctx);
    int slot = bridge_slot(a, i);
    if (slot < 0 || a->set.backend != HG_BACKEND_NCCL)
        return NULL;
    return hg_agent_comm(a, slot);
}
