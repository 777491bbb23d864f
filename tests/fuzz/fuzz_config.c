/* libFuzzer target for the whole dry-run path on untrusted bytes: YAML -> hg_config
 * -> validated layout -> plan output (JSON, table, per-rank), as hgrid-launch --dry-run
 * runs it. Any crash, sanitizer report, leak or hang here is a bug in common/.
 *
 * The whole-layout JSON is O(world) per input, so it is written only for worlds up to
 * FUZZ_MAX_JSON_WORLD; a rank plan is O(kinds x group size) and groups can span a whole
 * module, so rank plans stop at FUZZ_MAX_RANK_WORLD. Both keep an input to milliseconds
 * under ASan; larger worlds are covered by the benchmark and the unit tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "diag.h"
#include "error.h"
#include "layout.h"
#include "plan.h"
#include "validate.h"

#define FUZZ_MAX_JSON_WORLD 4096
#define FUZZ_MAX_RANK_WORLD (1 << 18)

static FILE *devnull(void)
{
    static FILE *f; /* opened once for the whole run; output is discarded */
    if (!f) {
        f = fopen("/dev/null", "w");
        if (!f)
            abort();
    }
    return f;
}

static void rank_plan(const hg_layout *l, int rank, FILE *out)
{
    hg_rank_view p;
    hg_error err;
    hg_error_clear(&err);
    if (hg_rank_view_build(l, rank, &p, &err) != 0)
        abort(); /* every rank inside the world has a plan */
    if (p.rank != rank || p.module_rank < 0 || p.module_rank >= p.module.size)
        abort();
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &p.groups[k];
        if (g->index < 0)
            continue;
        /* The plan's own invariants: members ascend and hold this rank at pos. */
        if (g->pos < 0 || g->pos >= g->size || g->members[g->pos] != rank)
            abort();
        for (int i = 1; i < g->size; i++)
            if (g->members[i] <= g->members[i - 1])
                abort();
    }
    if (hg_plan_write_rank_json(&p, out, &err) != 0 || hg_plan_write_rank_table(&p, out, &err) != 0)
        abort();
    hg_rank_view_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *out = devnull();
    hg_diags *d = hg_diags_new("fuzz.yaml");
    hg_config *cfg = NULL;
    hg_layout *l = NULL, *strict = NULL;
    hg_error err;

    hg_error_clear(&err);
    if (!d)
        return 0;
    if (hg_config_parse((const char *)data, size, &cfg, d) != 0)
        goto out;
    if (hg_layout_build(cfg, HG_VALIDATE_STRICT, &strict, d) == 0)
        hg_layout_free(strict);
    if (hg_layout_build(cfg, 0, &l, d) != 0)
        goto out;

    int world = hg_layout_world_size(l);
    if (world <= 0 || hg_layout_module_of(l, 0) != 0
        || hg_layout_module_of(l, world - 1) != (int)hg_layout_module_count(l) - 1
        || hg_layout_module_of(l, world) != -1 || hg_layout_module_of(l, -1) != -1)
        abort();
    if (world <= FUZZ_MAX_JSON_WORLD) {
        if (hg_plan_write_json(l, out, &err) != 0 || hg_plan_write_table(l, out, &err) != 0)
            abort();
    }
    if (world <= FUZZ_MAX_RANK_WORLD) {
        rank_plan(l, 0, out);
        rank_plan(l, world - 1, out);
    }
out:
    hg_layout_free(l);
    hg_config_free(cfg);
    hg_diags_free(d);
    return 0;
}
