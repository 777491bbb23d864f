/* libFuzzer target for the whole dry-run path on untrusted bytes: YAML -> hg_config
 * -> validated layout -> plan output (JSON, table, per-rank), as hgrid-launch --dry-run
 * runs it. Any crash, sanitizer report, leak or hang here is a bug in common/.
 *
 * The whole-layout JSON is O(world) per input, so it is written only for worlds up to
 * FUZZ_MAX_JSON_WORLD; a rank plan is O(kinds x group size) and groups can span a whole
 * module, so rank plans stop at FUZZ_MAX_RANK_WORLD. A colocated layout counts its world
 * once per module for both (every module spans it). Both keep an input to milliseconds
 * under ASan; larger worlds are covered by the benchmark and the unit tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"
#include "grid/plan.h"
#include "grid/validate.h"

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

/* Validation reports every problem, top to bottom: a failed build said at least one
 * error, and the diagnostics it added from index first on are in position order (no
 * position first; the "too many" line, which has none, ends a full list). */
static void check_diags_from(const hg_diags *d, size_t first, size_t errors_before, int rc)
{
    if (rc != 0 && hg_diags_errors(d) == errors_before)
        abort();
    size_t end = hg_diags_size(d);
    if (end == HG_DIAGS_MAX + 1)
        end--;
    int pl = 0, pc = 0;
    for (size_t i = first; i < end; i++) {
        int line = 0, col = 0;
        sscanf(hg_diags_text(d, i), "fuzz.yaml:%d:%d:", &line, &col);
        if (line < pl || (line == pl && col < pc))
            abort();
        pl = line;
        pc = col;
    }
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
    /* Bridge roles: in bridge order, on the side of this rank's module, the leader and
     * this rank in the broadcast group (the view's tp_cp group), peers only for leaders
     * and ascending. */
    for (int i = 0; i < p.nbridges; i++) {
        const hg_rank_bridge *b = &p.bridges[i];
        const hg_bridge *lb = hg_layout_bridge(l, (size_t)b->bridge);
        if (!lb || lb->src != b->src || lb->dest != b->dest || (i && b->bridge <= p.bridges[i - 1].bridge)
            || (b->side == HG_BRIDGE_SRC ? b->src : b->dest) != p.module_index
            || b->broadcast != p.groups[HG_KIND_TP_CP].members || b->broadcast[b->pos] != rank
            || (b->role == HG_BRIDGE_MEMBER) != (b->leader != rank)
            || (b->role == HG_BRIDGE_MEMBER) != (b->npeers == 0)
            || (b->role == HG_BRIDGE_SENDER && b->side != HG_BRIDGE_SRC)
            || (b->role == HG_BRIDGE_RECEIVER && b->side != HG_BRIDGE_DEST))
            abort();
        for (int j = 1; j < b->npeers; j++)
            if (b->peers[j] <= b->peers[j - 1])
                abort();
    }
    if (hg_layout_mode(l) == HG_LAYOUT_COLOCATED) {
        if (p.nbridges || p.nmodules_here != (int)hg_layout_module_count(l))
            abort();
        for (int i = 0; i < p.nmodules_here; i++)
            if (p.per_module[i].module_rank != rank || p.per_module[i].module.offset != 0)
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
    size_t from = hg_diags_size(d), errors = hg_diags_errors(d);
    int rc = hg_layout_build(cfg, HG_VALIDATE_STRICT, &strict, d);
    check_diags_from(d, from, errors, rc);
    if (rc == 0)
        hg_layout_free(strict);
    from = hg_diags_size(d);
    errors = hg_diags_errors(d);
    rc = hg_layout_build(cfg, 0, &l, d);
    check_diags_from(d, from, errors, rc);
    if (rc != 0)
        goto out;

    int world = hg_layout_world_size(l);
    int colocated = hg_layout_mode(l) == HG_LAYOUT_COLOCATED;
    int first = colocated ? hg_layout_module_of(l, 0) : 0;
    int last = colocated ? first : (int)hg_layout_module_count(l) - 1;
    if (world <= 0 || hg_layout_module_of(l, 0) != first
        || hg_layout_module_of(l, world - 1) != last
        || hg_layout_module_of(l, world) != -1 || hg_layout_module_of(l, -1) != -1)
        abort();
    if (colocated && (hg_layout_bridge_count(l) != 0
                      || hg_layout_module(l, (size_t)first)->role != HG_ROLE_LANGUAGE))
        abort();
    /* Bridges: plan order, dp counts dividing, a link per leader of the larger side. */
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++) {
        const hg_bridge *b = hg_layout_bridge(l, i), *prev = i ? hg_layout_bridge(l, i - 1) : NULL;
        if (b->src == b->dest || (prev && (prev->src > b->src || (prev->src == b->src && prev->dest >= b->dest)))
            || (b->nsrc % b->ndest && b->ndest % b->nsrc)
            || b->nlinks != (b->nsrc > b->ndest ? b->nsrc : b->ndest)
            || hg_layout_module(l, (size_t)b->src)->cp != 1 || hg_layout_module(l, (size_t)b->dest)->cp != 1)
            abort();
    }
    long long span = colocated ? (long long)world * (long long)hg_layout_module_count(l) : world;
    if (span <= FUZZ_MAX_JSON_WORLD) {
        if (hg_plan_write_json_named(l, NULL, out, &err) != 0 || hg_plan_write_table(l, out, &err) != 0)
            abort();
    }
    if (span <= FUZZ_MAX_RANK_WORLD) {
        rank_plan(l, 0, out);
        rank_plan(l, world - 1, out);
        /* Both ends of the first and last link of the first bridge. */
        const hg_bridge *b = hg_layout_bridge(l, 0);
        if (b) {
            int s, r;
            hg_bridge_link(l, b, 0, &s, &r);
            rank_plan(l, s, out);
            rank_plan(l, r, out);
            hg_bridge_link(l, b, b->nlinks - 1, &s, &r);
            rank_plan(l, s, out);
            rank_plan(l, r, out);
        }
    }
out:
    hg_layout_free(l);
    hg_config_free(cfg);
    hg_diags_free(d);
    return 0;
}
