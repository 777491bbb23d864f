/* hgrid-launch --dry-run: config file -> diagnostics -> layout -> plan on stdout.
 * Diagnostics go to stderr, plans to stdout, so `--format json > plan.json` holds only
 * JSON. With several configs, JSON output is one document per line, each naming its
 * file. Once stdout fails (a closed pipe, a full disk), the cause is said once, no more
 * plans are written, and the remaining configs are still checked. */
#include "dryrun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "layout.h"
#include "placement.h"
#include "plan.h"
#include "protocol.h"
#include "svg.h"
#include "validate.h"

typedef struct dryrun_state {
    const hg_dryrun_opts *opts;
    int several;      /* more than one config: banners (table) or "config" keys (JSON) */
    int write_failed; /* stdout failed; its message was printed */
    FILE *out, *errs;
} dryrun_state;

static void write_failed(dryrun_state *s, int errnum)
{
    s->write_failed = 1;
    fprintf(s->errs, "hgrid-launch: cannot write the plan: %s\n", strerror(errnum));
}

/* Returns 0 when the config is valid (whether or not its plan could be written),
 * HG_EXIT_USAGE when it is not. */
static int dryrun_one(dryrun_state *s, const char *path)
{
    const hg_dryrun_opts *opts = s->opts;
    const char *name = hg_config_name(path);
    hg_diags *d = hg_diags_new(name);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_error err;
    int status = HG_EXIT_USAGE;

    hg_error_clear(&err);
    if (!d) {
        fprintf(s->errs, "hgrid-launch: out of memory\n");
        return HG_EXIT_USAGE;
    }
    if (hg_layout_load(path, opts->flags, &cfg, &layout, d) != 0)
        goto out;
    int world = hg_layout_world_size(layout);
    if (opts->rank >= world) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "--rank %d is outside the world of %d rank%s",
                     opts->rank, world, world == 1 ? "" : "s");
        goto out;
    }
    /* Groups across nodes: warnings, errors (no plan) with --strict. */
    if (opts->gpus_per_node > 0
        && hg_placement_diagnose(layout, cfg, opts->gpus_per_node, opts->flags, d) != 0)
        goto out;
    status = HG_EXIT_OK;
    if (s->write_failed)
        goto out;
    /* Warnings go out before the plan they are about. */
    hg_diags_print(d, s->errs);
    hg_diags_free(d);
    d = NULL;

    int table = opts->format == HG_FORMAT_TABLE;
    if (s->several && table)
        fprintf(s->out, "== %s\n", name);
    int rc;
    if (opts->format == HG_FORMAT_MEGATRON) {
        rc = hg_plan_write_megatron(layout, s->out, &err);
    } else if (opts->format == HG_FORMAT_SVG) {
        hg_svg_opts so = { opts->rank, opts->gpus_per_node, name };
        rc = hg_plan_write_svg(layout, &so, s->out, &err);
    } else if (opts->rank >= 0) {
        hg_rank_view p;
        rc = hg_rank_view_build(layout, opts->rank, &p, &err);
        if (rc == 0) {
            rc = table ? hg_plan_write_rank_table(&p, s->out, &err)
                       : hg_plan_write_rank_json(&p, s->out, &err);
            hg_rank_view_free(&p);
        }
    } else {
        rc = table ? hg_plan_write_table(layout, s->out, &err)
                   : hg_plan_write_json_named(layout, s->several ? name : NULL, s->out, &err);
    }
    if (rc == HG_EIO) {
        /* The writer's message already names the cause: print it as it is. */
        s->write_failed = 1;
        fprintf(s->errs, "hgrid-launch: %s\n", err.msg);
    } else if (rc != 0) {
        fprintf(s->errs, "hgrid-launch: %s: %s\n", name, err.msg);
        status = HG_EXIT_USAGE;
    } else if (s->several && table) {
        fputc('\n', s->out);
    }
out:
    if (d)
        hg_diags_print(d, s->errs);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    return status;
}

int hg_dryrun(const char *const *configs, int nconfigs, const hg_dryrun_opts *opts, FILE *out,
              FILE *errs)
{
    dryrun_state s = { opts, nconfigs > 1, 0, out, errs };
    int failed = 0;
    for (int i = 0; i < nconfigs; i++)
        if (dryrun_one(&s, configs[i]) != 0)
            failed++;
    /* What is still buffered (a banner's blank line) fails here at the latest. */
    if (!s.write_failed) {
        errno = 0;
        if (fflush(out) != 0 || ferror(out))
            write_failed(&s, errno ? errno : EIO);
    }
    if (nconfigs > 1 && failed)
        fprintf(errs, "hgrid-launch: %d of %d configs failed\n", failed, nconfigs);
    /* An invalid config is the finding that matters most; a plan that could not be
     * written is the only other failure. */
    if (failed)
        return HG_EXIT_USAGE;
    return s.write_failed ? HG_EXIT_OUTPUT : HG_EXIT_OK;
}
