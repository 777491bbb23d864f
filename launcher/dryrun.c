/* hgrid-launch --dry-run: config file -> diagnostics -> layout -> plan on stdout.
 * Diagnostics go to stderr, plans to stdout, so `--format json > plan.json` holds only
 * JSON. With several configs, JSON output is one document per line, each naming its
 * file. Once stdout fails (a closed pipe, a full disk), the cause is said once, no more
 * plans are written, and the remaining configs are still checked. */
#include "dryrun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grid/config.h"
#include "util/diag.h"
#include "grid/layout.h"
#include "grid/placement.h"
#include "grid/plan.h"
#include "wire/protocol.h"
#include "svg.h"
#include "grid/validate.h"

typedef struct dryrun_state {
    const hg_dryrun_opts *opts;
    int several;      /* more than one config: banners (table) or "config" keys (JSON) */
    int write_failed; /* stdout failed; its message was printed */
    FILE *out, *errs;
} dryrun_state;

static void report_write_failed(dryrun_state *s, int errnum)
{
    s->write_failed = 1;
    fprintf(s->errs, "hgrid-launch: cannot write the plan: %s\n", strerror(errnum));
}

/* Loads and checks one config: its layout, the --rank bound, and with --gpus-per-node
 * the groups across nodes (warnings; errors with --strict). 0 when a plan can be
 * written; the findings are in d either way. */
static int dryrun_check_config(const dryrun_state *s, const char *path, hg_diags *d,
                               hg_config **cfg, hg_layout **layout)
{
    const hg_dryrun_opts *opts = s->opts;
    if (hg_layout_load(path, opts->flags, cfg, layout, d) != 0)
        return -1;
    int world = hg_layout_world_size(*layout);
    if (opts->rank >= world) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "--rank %d is outside the world of %d rank%s",
                     opts->rank, world, world == 1 ? "" : "s");
        return -1;
    }
    if (opts->gpus_per_node > 0
        && hg_placement_diagnose(*layout, *cfg, opts->gpus_per_node, opts->flags, d) != 0)
        return -1;
    return 0;
}

/* --rank N in the table or JSON format: that rank's view. */
static int dryrun_write_rank_plan(const dryrun_state *s, const hg_layout *layout, hg_error *err)
{
    hg_rank_view p;
    int rc = hg_rank_view_build(layout, s->opts->rank, &p, err);
    if (rc != 0)
        return rc;
    rc = s->opts->format == HG_FORMAT_TABLE ? hg_plan_write_rank_table(&p, s->out, err)
                                            : hg_plan_write_rank_json(&p, s->out, err);
    hg_rank_view_free(&p);
    return rc;
}

/* The plan in the chosen format; 0 or an HG_E* code with err set. */
static int dryrun_write_plan(const dryrun_state *s, const hg_layout *layout, const char *name,
                             hg_error *err)
{
    const hg_dryrun_opts *opts = s->opts;
    if (opts->format == HG_FORMAT_MEGATRON)
        return hg_plan_write_megatron(layout, s->out, err);
    if (opts->format == HG_FORMAT_SVG) {
        hg_svg_opts so = { opts->rank, opts->gpus_per_node, name };
        return hg_plan_write_svg(layout, &so, s->out, err);
    }
    if (opts->rank >= 0)
        return dryrun_write_rank_plan(s, layout, err);
    return opts->format == HG_FORMAT_TABLE
               ? hg_plan_write_table(layout, s->out, err)
               : hg_plan_write_json_named(layout, s->several ? name : NULL, s->out, err);
}

/* Prints a valid config's plan (a banner around it when several tables are printed)
 * and says how writing went. Returns the config's status: a plan that could not be
 * computed makes it HG_EXIT_USAGE, one that could not be written does not. */
static int dryrun_print_plan(dryrun_state *s, const hg_layout *layout, const char *name)
{
    hg_error err;
    hg_error_clear(&err);
    int banner = s->several && s->opts->format == HG_FORMAT_TABLE;
    if (banner)
        fprintf(s->out, "== %s\n", name);
    int rc = dryrun_write_plan(s, layout, name, &err);
    if (rc == HG_EIO) {
        /* The writer's message already names the cause: print it as it is. */
        s->write_failed = 1;
        fprintf(s->errs, "hgrid-launch: %s\n", err.msg);
    } else if (rc != 0) {
        fprintf(s->errs, "hgrid-launch: %s: %s\n", name, err.msg);
        return HG_EXIT_USAGE;
    } else if (banner) {
        fputc('\n', s->out);
    }
    return HG_EXIT_OK;
}

/* Returns 0 when the config is valid (whether or not its plan could be written),
 * HG_EXIT_USAGE when it is not. */
static int dryrun_one(dryrun_state *s, const char *path)
{
    const char *name = hg_config_name(path);
    hg_diags *d = hg_diags_new(name);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    if (!d) {
        fprintf(s->errs, "hgrid-launch: out of memory\n");
        return HG_EXIT_USAGE;
    }
    int valid = dryrun_check_config(s, path, d, &cfg, &layout) == 0;
    /* Warnings go out before the plan they are about. */
    hg_diags_print(d, s->errs);
    int status = valid ? HG_EXIT_OK : HG_EXIT_USAGE;
    if (valid && !s->write_failed)
        status = dryrun_print_plan(s, layout, name);
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
            report_write_failed(&s, errno ? errno : EIO);
    }
    if (nconfigs > 1 && failed)
        fprintf(errs, "hgrid-launch: %d of %d configs failed\n", failed, nconfigs);
    /* An invalid config is the finding that matters most; a plan that could not be
     * written is the only other failure. */
    if (failed)
        return HG_EXIT_USAGE;
    return s.write_failed ? HG_EXIT_OUTPUT : HG_EXIT_OK;
}
