/* Stall lines. At most MAX_NAMED ranks are named one per line; the groups are looked
 * up in the views of the stalled ranks only (O(stalled x kinds x group size)), never in
 * the whole layout. */
#include "stall.h"

#include <stdlib.h>
#include <string.h>

#include "util/ranklist.h"

#define MAX_NAMED 8

void hg_stall_coords(const hg_rank_view *v, char *buf, size_t len)
{
    const struct { const char *name; int at, size; } dims[] = {
        { "tp", v->coords.tp, v->module.tp }, { "cp", v->coords.cp, v->module.cp },
        { "dp", v->coords.dp, v->module.dp }, { "pp", v->coords.pp, v->module.pp },
        { "ep", v->coords.ep, v->module.ep },
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
        if (dims[i].size > 1 && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s %d", used ? " " : "",
                                     dims[i].name, dims[i].at);
    if (!used)
        snprintf(buf, len, "module rank %d", v->module_rank);
}

void hg_stall_rank_words(const hg_layout *l, int rank, char *module, size_t mlen, char *coords,
                         size_t clen)
{
    hg_rank_view v;
    snprintf(module, mlen, "?");
    snprintf(coords, clen, "?");
    if (hg_rank_view_build(l, rank, &v, NULL) != 0)
        return;
    snprintf(module, mlen, "%s", v.module.name);
    hg_stall_coords(&v, coords, clen);
    hg_rank_view_free(&v);
}

static void others_text(const hg_stall_facts *f, char *buf, size_t len)
{
    long lo = f->others[0], hi = f->others[0];
    for (int i = 1; i < f->nothers; i++) {
        lo = f->others[i] < lo ? f->others[i] : lo;
        hi = f->others[i] > hi ? f->others[i] : hi;
    }
    if (lo == hi)
        snprintf(buf, len, "%d other rank%s at step %ld", f->nothers, f->nothers == 1 ? "" : "s",
                 lo);
    else
        snprintf(buf, len, "%d other ranks at steps %ld-%ld", f->nothers, lo, hi);
}

static int is_stalled(const hg_stall_facts *f, int rank)
{
    for (int i = 0; i < f->nstalled; i++)
        if (f->stalled[i] == rank)
            return 1;
    return 0;
}

/* For each kind: the group that holds every stalled rank, if one does. Said as "every
 * rank of" when the group is exactly the stalled ranks, else the smallest such group. */
static void shared_groups(FILE *out, const hg_stall_facts *f, const hg_rank_view *views)
{
    int best = -1;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        const hg_rank_group *g = &views[0].groups[k];
        /* A group of one says nothing the rank's own line does not. */
        int all_in = g->index >= 0 && views[0].module_index >= 0 && g->size > 1;
        for (int i = 1; all_in && i < f->nstalled; i++)
            all_in = views[i].module_index == views[0].module_index
                     && views[i].groups[k].index == g->index;
        if (!all_in)
            continue;
        int exact = g->size == f->nstalled;
        char members[256];
        hg_ranklist_format(g->members, (size_t)g->size, members, sizeof(members));
        if (exact) {
            fprintf(out, "hgrid: the stalled ranks are every rank of %s %s group %d (ranks %s)\n",
                    views[0].module.name, hg_kind_name((hg_kind)k), g->index, members);
            best = -2;
        } else if (best != -2 && (best < 0 || g->size < views[0].groups[best].size)) {
            best = k;
        }
    }
    if (best >= 0) {
        const hg_rank_group *g = &views[0].groups[best];
        int waiting = 0;
        for (int i = 0; i < g->size; i++)
            waiting += !is_stalled(f, g->members[i]);
        char members[256];
        hg_ranklist_format(g->members, (size_t)g->size, members, sizeof(members));
        /* Only that they have not yet been silent for the whole timeout is known: they
         * may be waiting on the stalled ranks and about to stall too. */
        fprintf(out, "hgrid: the stalled rank%s in %s %s group %d (ranks %s), whose other %d "
                "rank%s silent for less than %d s\n", f->nstalled == 1 ? " is" : "s are",
                views[0].module.name, hg_kind_name((hg_kind)best), g->index, members, waiting,
                waiting == 1 ? " was" : "s were", f->timeout_s);
    }
}

void hg_stall_describe(FILE *out, const hg_layout *l, const hg_stall_facts *f)
{
    hg_rank_view *views = calloc((size_t)f->nstalled, sizeof(*views));
    int built = 0;
    char others[96] = "";
    if (f->nothers > 0)
        others_text(f, others, sizeof(others));
    for (; views && built < f->nstalled; built++)
        if (hg_rank_view_build(l, f->stalled[built], &views[built], NULL) != 0)
            break;
    for (int i = 0; i < f->nstalled && i < MAX_NAMED; i++) {
        char where[96] = "?";
        const char *module = "?";
        if (i < built) {
            hg_stall_coords(&views[i], where, sizeof(where));
            module = views[i].module.name;
        }
        if (i > 0) {
            fprintf(out, "hgrid: rank %d (%s, %s) stalled at step %ld\n", f->stalled[i], module,
                    where, f->step[i]);
            continue;
        }
        fprintf(out, "hgrid: rank %d (%s, %s) stalled at step %ld%s%s (no heartbeat for %d s)\n",
                f->stalled[i], module, where, f->step[i], *others ? "; " : "", others,
                f->timeout_s);
    }
    if (f->nstalled > MAX_NAMED)
        fprintf(out, "hgrid: and %d more stalled ranks\n", f->nstalled - MAX_NAMED);
    if (views && built == f->nstalled)
        shared_groups(out, f, views);
    for (int i = 0; i < built; i++)
        hg_rank_view_free(&views[i]);
    free(views);
}
