/* hgrid-launch --dry-run: config file -> diagnostics -> layout -> plan on stdout.
 * Diagnostics go to stderr, plans to stdout, so `--format json > plan.json` holds only
 * JSON. With several configs, JSON output is one document per line. */
#include "dryrun.h"

#include <stdlib.h>

#include "config.h"
#include "diag.h"
#include "layout.h"
#include "plan.h"
#include "validate.h"

static int dryrun_one(const char *path, const hg_dryrun_opts *opts, int banner, FILE *out,
                      FILE *errs)
{
    hg_diags *d = hg_diags_new(path);
    hg_config *cfg = NULL;
    hg_layout *layout = NULL;
    hg_error err;
    int status = 2;

    hg_error_clear(&err);
    if (!d) {
        fprintf(errs, "hgrid-launch: out of memory\n");
        return 2;
    }
    if (hg_layout_load(path, opts->flags, &cfg, &layout, d) != 0)
        goto out;
    if (opts->rank >= hg_layout_world_size(layout)) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "--rank %d is outside the world of %d ranks",
                     opts->rank, hg_layout_world_size(layout));
        goto out;
    }
    hg_diags_print(d, errs);
    if (banner && opts->format == HG_FORMAT_TABLE)
        fprintf(out, "== %s\n", path);

    int rc;
    if (opts->rank >= 0) {
        hg_rank_plan p;
        rc = hg_rank_plan_build(layout, opts->rank, &p, &err);
        if (rc == 0) {
            rc = opts->format == HG_FORMAT_JSON ? hg_plan_write_rank_json(&p, out, &err)
                                                : hg_plan_write_rank_table(&p, out, &err);
            hg_rank_plan_free(&p);
        }
    } else {
        rc = opts->format == HG_FORMAT_JSON ? hg_plan_write_json(layout, out, &err)
                                            : hg_plan_write_table(layout, out, &err);
    }
    if (rc != 0) {
        fprintf(errs, "hgrid-launch: %s: %s\n", path, err.msg);
        status = rc == HG_EIO ? 1 : 2;
    } else {
        status = 0;
        if (banner && opts->format == HG_FORMAT_TABLE)
            fprintf(out, "\n");
    }
    /* Diagnostics were printed with the plan; only failures before it print here. */
    hg_diags_free(d);
    d = NULL;
out:
    if (d)
        hg_diags_print(d, errs);
    hg_layout_free(layout);
    hg_config_free(cfg);
    hg_diags_free(d);
    return status;
}

int hg_dryrun(const char *const *configs, int nconfigs, const hg_dryrun_opts *opts, FILE *out,
              FILE *errs)
{
    int worst = 0, failed = 0;
    for (int i = 0; i < nconfigs; i++) {
        int s = dryrun_one(configs[i], opts, nconfigs > 1, out, errs);
        if (s != 0) {
            failed++;
            if (worst != 2)
                worst = s;
        }
    }
    if (nconfigs > 1 && failed)
        fprintf(errs, "hgrid-launch: %d of %d configs failed\n", failed, nconfigs);
    return worst;
}
