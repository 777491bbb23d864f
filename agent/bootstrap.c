/* Bootstrap: MPI up, where this rank sits on its host, and the one grid description
 * every rank agrees on. Rank 0 alone reads the config file and broadcasts its bytes
 * together with its own command-line overrides, so a rank whose local copy differs (or
 * is missing) cannot diverge: rank 0's bytes and options win. Every rank then parses
 * and validates the same bytes; they reach the same verdict without another round trip,
 * and rank 0 alone prints the diagnostics. Building this rank's view and everything
 * after it is the agent's (agent.c). */
#include "agent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/intparse.h"
#include "wire/protocol.h"

/* What rank 0 broadcasts before the config bytes. */
typedef struct cfg_header {
    int64_t len;     /* config bytes that follow; -1: rank 0 could not read the file */
    int32_t backend; /* rank 0's --backend, -1: none */
    int32_t timeout_s; /* rank 0's --timeout, 0: none */
    int32_t strict;
    int32_t share;
    int32_t preflight;      /* rank 0's --preflight, -1: none */
    int32_t ranks_per_root; /* rank 0's HGRID_NCCL_RANKS_PER_ROOT, -1: none */
} cfg_header;

#define MPI_TRY(call, what)                                 \
    do {                                                    \
        int mrc_ = (call);                                  \
        if (mrc_ != MPI_SUCCESS) {                          \
            rc = hg_mpi_fail(err, mrc_, a->id.rank, what);     \
            goto out;                                       \
        }                                                   \
    } while (0)

/* Where a config error is, for hg_error's file, line and col (a program using hg_init
 * can point at the YAML line): the config, at the first error diagnostic's position
 * ("FILE:LINE:COL: error: ..." as diag.h writes it; line 0: none given). */
static void locate_config_error(const hg_diags *diags, const char *file, hg_error *err)
{
    size_t flen = strlen(file);
    snprintf(err->file, sizeof(err->file), "%s", file);
    for (size_t i = 0; diags && i < hg_diags_size(diags); i++) {
        const char *t = hg_diags_text(diags, i);
        int line = 0, col = 0, n = 0;
        if (strncmp(t, file, flen) != 0 || t[flen] != ':')
            continue;
        t += flen + 1;
        if (sscanf(t, "%d:%d: error: %n", &line, &col, &n) == 2 && n > 0) {
            err->line = line;
            err->col = col;
            return;
        }
        n = 0;
        if (sscanf(t, "%d: error: %n", &line, &n) == 1 && n > 0) {
            err->line = line;
            return;
        }
        if (strncmp(t, " error: ", 8) == 0)
            return; /* an error without a position */
    }
}

/* Rank 0: the file's bytes and its overrides into h; diagnostics into diags. */
static char *read_on_root(hg_agent *a, cfg_header *h, hg_diags *diags)
{
    char *bytes = NULL;
    size_t len = 0;
    h->backend = a->opts.backend;
    h->timeout_s = a->opts.timeout_s;
    h->strict = a->opts.strict;
    h->share = a->opts.share;
    h->preflight = a->opts.preflight;
    const char *rpr = getenv(HG_ENV_RANKS_PER_ROOT);
    int k = -1;
    const hg_setting *s = hg_setting_get(HG_SET_RANKS_PER_ROOT);
    if (rpr && *rpr && hg_int_parse(rpr, s->min, s->max, &k) != 0)
        fprintf(stderr, "hgrid: warning: %s=%s is not %s in %d..%d; using agent.%s\n",
                s->env, rpr, s->expected, s->min, s->max, s->key);
    h->ranks_per_root = k;
    h->len = hg_config_read_file(a->opts.config_path, &bytes, &len, diags) == 0 ? (int64_t)len : -1;
    return bytes;
}

int hg_bootstrap(hg_agent *a, hg_error *err)
{
    int rc = 0, initialized = 0;
    char *bytes = NULL;
    hg_config *cfg = NULL;
    hg_diags *diags = NULL;
    cfg_header h;
    memset(&h, 0, sizeof(h));
    a->id.rank = -1;

    MPI_Initialized(&initialized);
    if (!initialized) {
        MPI_TRY(MPI_Init(NULL, NULL), "MPI_Init");
        a->id.mpi_owned = 1;
    }
    MPI_TRY(MPI_Comm_dup(MPI_COMM_WORLD, &a->id.ctrl), "MPI_Comm_dup");
    /* MPI_COMM_WORLD's errors are fatal and a duplicate inherits that: every error here
     * would abort the job with MPI's status instead of reaching the coordinator. The
     * communicators split from ctrl inherit this handler. */
    MPI_TRY(MPI_Comm_set_errhandler(a->id.ctrl, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_TRY(MPI_Comm_rank(a->id.ctrl, &a->id.rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(a->id.ctrl, &a->id.world), "MPI_Comm_size");
    atomic_store(&a->run.wd.rank, a->id.rank);
    /* Kept: the NCCL backend checks over it that no two ranks of a host share a GPU. */
    MPI_TRY(MPI_Comm_split_type(a->id.ctrl, MPI_COMM_TYPE_SHARED, a->id.rank, MPI_INFO_NULL, &a->id.local),
            "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
    MPI_TRY(MPI_Comm_rank(a->id.local, &a->id.local_rank), "MPI_Comm_rank(local)");
    MPI_TRY(MPI_Comm_size(a->id.local, &a->id.local_size), "MPI_Comm_size(local)");
    /* torchrun's GROUP_RANK and GROUP_WORLD_SIZE: each host's first rank numbers the
     * hosts among themselves and tells the rest of its host. */
    {
        MPI_Comm firsts = MPI_COMM_NULL;
        int node[2] = { 0, 1 };
        MPI_TRY(MPI_Comm_split(a->id.ctrl, a->id.local_rank == 0 ? 0 : MPI_UNDEFINED, a->id.rank,
                               &firsts), "MPI_Comm_split(hosts)");
        if (firsts != MPI_COMM_NULL) {
            MPI_Comm_rank(firsts, &node[0]);
            MPI_Comm_size(firsts, &node[1]);
            MPI_Comm_free(&firsts);
        }
        MPI_TRY(MPI_Bcast(node, 2, MPI_INT, 0, a->id.local), "MPI_Bcast(host index)");
        a->id.node = node[0];
        a->id.nodes = node[1];
    }
    if (gethostname(a->id.host, sizeof(a->id.host) - 1) != 0)
        snprintf(a->id.host, sizeof(a->id.host), "unknown-host");

    diags = hg_diags_new(a->opts.config_path);
    if (!diags) {
        rc = hg_error_set(err, HG_ENOMEM, "rank %d: out of memory", a->id.rank);
        goto out;
    }
    if (a->id.rank == 0)
        bytes = read_on_root(a, &h, diags);
    MPI_TRY(MPI_Bcast(&h, (int)sizeof(h), MPI_BYTE, 0, a->id.ctrl), "MPI_Bcast(config header)");
    if (h.len < 0) {
        if (a->id.rank == 0)
            hg_diags_print(diags, stderr);
        rc = hg_error_set(err, HG_ECONFIG, "rank 0 could not read the config %s",
                          a->opts.config_path);
        locate_config_error(diags, a->opts.config_path, err);
        goto out;
    }
    if (a->id.rank != 0 && !(bytes = malloc((size_t)h.len + 1))) {
        rc = hg_error_set(err, HG_ENOMEM, "rank %d: out of memory for the config", a->id.rank);
        goto out;
    }
    MPI_TRY(MPI_Bcast(bytes, (int)h.len, MPI_CHAR, 0, a->id.ctrl), "MPI_Bcast(config bytes)");
    bytes[h.len] = '\0';

    if (hg_config_parse(bytes, (size_t)h.len, &cfg, diags) == 0)
        hg_layout_build(cfg, h.strict ? HG_VALIDATE_STRICT : 0, &a->grid.layout, diags);
    if (a->id.rank == 0)
        hg_diags_print(diags, stderr); /* warnings too */
    if (!a->grid.layout) {
        rc = hg_error_set(err, HG_ECONFIG, "%s: invalid config (%zu error%s)", a->opts.config_path,
                          hg_diags_errors(diags), hg_diags_errors(diags) == 1 ? "" : "s");
        locate_config_error(diags, a->opts.config_path, err);
        goto out;
    }
    if (hg_layout_world_size(a->grid.layout) != a->id.world) {
        rc = hg_error_set(err, HG_ECONFIG,
                          "%s: the layout needs %d rank%s (world_size), but the job has %d MPI "
                          "rank%s", a->opts.config_path, hg_layout_world_size(a->grid.layout),
                          hg_layout_world_size(a->grid.layout) == 1 ? "" : "s", a->id.world,
                          a->id.world == 1 ? "" : "s");
        if (a->id.rank == 0)
            fprintf(stderr, "hgrid: %s\n", err->msg);
        goto out;
    }
    /* Rank 0's command line and environment over the config (the one merge). */
    int given[HG_NSETTINGS];
    hg_setting_values set;
    hg_settings_none_given(given);
    if (h.backend >= 0)
        given[HG_SET_BACKEND] = h.backend;
    if (h.timeout_s > 0)
        given[HG_SET_TIMEOUT] = h.timeout_s;
    if (h.preflight >= 0)
        given[HG_SET_PREFLIGHT] = h.preflight;
    if (h.ranks_per_root >= 0)
        given[HG_SET_RANKS_PER_ROOT] = h.ranks_per_root;
    hg_settings_merge(given, cfg, &set);
    a->set.backend = set.v[HG_SET_BACKEND];
    a->set.timeout_s = set.v[HG_SET_TIMEOUT];
    a->set.verify = set.v[HG_SET_VERIFY];
    a->set.preflight = set.v[HG_SET_PREFLIGHT];
    a->set.nccl_ranks_per_root = set.v[HG_SET_RANKS_PER_ROOT];
    a->opts.share = h.share;
    a->opts.strict = h.strict;
    /* An in-process program gets hgrid's communicators (hgrid.h): they are the handoff. */
    if (a->set.preflight != HG_PREFLIGHT_FULL && !a->opts.exec_handoff) {
        rc = hg_error_set(err, HG_ECONFIG, "%s: pre-flight '%s' (%s) applies to the exec "
                          "handoff; an in-process program (hg_init) uses hgrid's communicators, "
                          "which only the full pre-flight builds", a->opts.config_path,
                          hg_preflight_name((hg_preflight)a->set.preflight),
                          set.from[HG_SET_PREFLIGHT] == HG_FROM_GIVEN ? "--preflight"
                                                                      : "agent.preflight");
        if (a->id.rank == 0)
            fprintf(stderr, "hgrid: %s\n", err->msg);
        goto out;
    }
out:
    hg_config_free(cfg);
    hg_diags_free(diags);
    free(bytes);
    return rc;
}
