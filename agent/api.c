/* hgrid.h: the in-process API over the agent. hg_ctx is the agent itself; this file
 * only translates options and hands out what the agent holds. */
#include "hgrid.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"

void hg_init_opts_from_env(hg_init_opts *o)
{
    const char *v;
    memset(o, 0, sizeof(*o));
    o->backend = -1;
    o->config = getenv("HGRID_CONFIG");
    o->report = getenv("HGRID_REPORT");
    if ((v = getenv("HGRID_BACKEND")) && *v)
        o->backend = strcmp(v, "mpi") == 0 ? HG_BACKEND_MPI : strcmp(v, "nccl") == 0 ? HG_BACKEND_NCCL : -2;
    if ((v = getenv("HGRID_TIMEOUT")) && *v)
        o->timeout_s = atoi(v) > 0 ? atoi(v) : -1;
    o->verbose = (v = getenv("HGRID_VERBOSE")) && *v && strcmp(v, "0") != 0;
    o->strict = (v = getenv("HGRID_STRICT")) && *v && strcmp(v, "0") != 0;
}

int hg_init(const hg_init_opts *opts, hg_ctx **out, hg_error *err)
{
    hg_agent_opts o;
    const char *handoff = getenv("HGRID_HANDOFF");
    *out = NULL;
    hg_agent_opts_default(&o);
    /* MPI_Init would fail inside Open MPI with a message that names neither cause nor cure. */
    if (handoff && strcmp(handoff, "exec") == 0)
        return hg_error_set(err, HG_EINVAL, "hg_init: this program was started by hgrid's exec "
                            "handoff, after MPI_Finalize in this same process, so MPI cannot "
                            "start again; run it with --in-process (hgrid-launch --in-process or "
                            "hgrid-agent --in-process)");
    if (!opts->config || !*opts->config)
        return hg_error_set(err, HG_EINVAL, "hg_init: no config (set hg_init_opts.config or HGRID_CONFIG)");
    if (opts->backend < -1 || opts->backend > HG_BACKEND_MPI)
        return hg_error_set(err, HG_EINVAL, "hg_init: unknown backend (nccl or mpi)");
    if (opts->timeout_s < 0)
        return hg_error_set(err, HG_EINVAL, "hg_init: the timeout must be a positive number of seconds");
    o.config_path = opts->config;
    o.backend = opts->backend;
    o.timeout_s = opts->timeout_s;
    o.report_path = opts->report;
    o.verbose = opts->verbose;
    o.strict = opts->strict;
    return hg_agent_start(&o, out, err);
}

int hg_exit_status(int rc)
{
    return hg_agent_exit_status(rc);
}

void hg_finalize(hg_ctx *ctx)
{
    hg_agent_free(ctx, 0);
}

const hg_rank_plan *hg_ctx_plan(const hg_ctx *ctx) { return &ctx->plan; }
int hg_ctx_backend(const hg_ctx *ctx) { return ctx->backend; }
int hg_ctx_local_rank(const hg_ctx *ctx) { return ctx->local_rank; }
int hg_ctx_local_size(const hg_ctx *ctx) { return ctx->local_size; }
int hg_ctx_communicators(const hg_ctx *ctx) { return ctx->comms.nslots; }

int hg_ctx_cuda_device(const hg_ctx *ctx)
{
    return ctx->backend == HG_BACKEND_NCCL ? ctx->device : -1;
}

static int slot_of(const hg_ctx *ctx, int kind)
{
    if (kind == HG_WORLD)
        return HG_SLOT_WORLD;
    return kind >= 0 && kind < HG_KIND_COUNT ? ctx->comms.slot[kind] : -1;
}

MPI_Comm hg_ctx_mpi_comm(const hg_ctx *ctx, int kind)
{
    int slot = slot_of(ctx, kind);
    if (slot < 0 || ctx->backend != HG_BACKEND_MPI)
        return MPI_COMM_NULL;
    return *(MPI_Comm *)ctx->ops->comm(ctx, slot);
}

struct ncclComm *hg_ctx_nccl_comm(const hg_ctx *ctx, int kind)
{
    int slot = slot_of(ctx, kind);
    if (slot < 0 || ctx->backend != HG_BACKEND_NCCL)
        return NULL;
    return ctx->ops->comm(ctx, slot);
}
