/* hg_placement: the groups of a layout that cross nodes. Each group is computed into one
 * reused buffer (hg_group_members) and its nodes counted at once, so the check costs
 * O(sum of the checked groups' sizes) = O(kinds x world) time and two buffers of one
 * group's size, plus one stamp per node when the nodes come from the ranks' hosts. */
#include "grid/placement.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ranklist.h"

/* The kinds whose traffic runs in every layer (tp, cp) or every MoE layer (ep,
 * expt_tp); dp and pp communicate once a step or point to point and may cross nodes. */
static const hg_kind checked[] = { HG_KIND_TP, HG_KIND_CP, HG_KIND_EP, HG_KIND_EXPT_TP };
#define NCHECKED (sizeof(checked) / sizeof(checked[0]))

typedef struct nodemap {
    int gpn;          /* nodes of gpn consecutive ranks, when of is NULL */
    const int *of;    /* else rank -> node */
    unsigned *seen;   /* of only: seen[node] == stamp when counted for this group */
    unsigned stamp;
    int nnodes;
} nodemap;

static int node_at(const nodemap *m, int rank)
{
    return m->of ? m->of[rank] : rank / m->gpn;
}

/* Distinct nodes of members[0 .. n), ascending ranks. With consecutive nodes a rank's
 * node never decreases as the rank grows, so changes are counted; reported nodes may
 * interleave, so each node is stamped once per group instead. */
static int count_nodes(nodemap *m, const int *members, int n)
{
    int k = 1;
    if (!m->of) {
        int last = members[0] / m->gpn;
        for (int j = 1; j < n; j++) {
            int node = members[j] / m->gpn;
            k += node != last;
            last = node;
        }
        return k;
    }
    if (++m->stamp == 0) { /* wrapped: no stale stamp may equal the new one */
        memset(m->seen, 0, (size_t)m->nnodes * sizeof(*m->seen));
        m->stamp = 1;
    }
    k = 0;
    for (int j = 0; j < n; j++) {
        int node = m->of[members[j]];
        if (m->seen[node] != m->stamp) {
            m->seen[node] = m->stamp;
            k++;
        }
    }
    return k;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* One shown group: its members and its nodes (sorted, without repeats) as rank lists. */
static void show_group(const nodemap *m, const int *members, int n, int *scratch,
                       hg_placement_group *g)
{
    for (int j = 0; j < n; j++)
        scratch[j] = node_at(m, members[j]);
    if (m->of)
        qsort(scratch, (size_t)n, sizeof(*scratch), cmp_int);
    int k = 0;
    for (int j = 0; j < n; j++)
        if (k == 0 || scratch[j] != scratch[k - 1])
            scratch[k++] = scratch[j];
    hg_ranklist_format(members, (size_t)n, g->ranks, sizeof(g->ranks));
    hg_ranklist_format(scratch, (size_t)k, g->nodes, sizeof(g->nodes));
}

static hg_placement_finding *add_finding(hg_placement *p, size_t *cap)
{
    if (p->nfindings == *cap) {
        size_t n = *cap ? *cap * 2 : 4;
        hg_placement_finding *f = realloc(p->findings, n * sizeof(*f));
        if (!f)
            return NULL;
        p->findings = f;
        *cap = n;
    }
    hg_placement_finding *f = &p->findings[p->nfindings++];
    memset(f, 0, sizeof(*f));
    return f;
}

/* Every group of one kind of one module; adds a finding when any spans nodes. */
static int check_kind(hg_placement *p, size_t *cap, nodemap *m, const hg_module *mod,
                      int module, hg_kind kind, int *members, int *scratch)
{
    int size = hg_group_size(mod, kind, 0), count = hg_group_count(mod, kind);
    hg_placement_finding *f = NULL;
    for (int g = 0; g < count; g++) {
        hg_group_members(mod, kind, g, members);
        int nodes = count_nodes(m, members, size);
        if (nodes < 2)
            continue;
        if (!f) {
            if (!(f = add_finding(p, cap)))
                return HG_ENOMEM;
            f->module = module;
            snprintf(f->name, sizeof(f->name), "%s", mod->name);
            f->kind = kind;
            f->group_size = size;
            f->total = count;
            f->min_nodes = f->max_nodes = nodes;
        }
        f->groups++;
        if (nodes < f->min_nodes)
            f->min_nodes = nodes;
        if (nodes > f->max_nodes)
            f->max_nodes = nodes;
        if (f->nshown < HG_PLACEMENT_SHOWN) {
            hg_placement_group *s = &f->shown[f->nshown++];
            s->index = g;
            s->nnodes = nodes;
            show_group(m, members, size, scratch, s);
        }
    }
    return 0;
}

int hg_placement_check(const hg_layout *l, int gpus_per_node, const int *node_of_rank,
                       hg_placement *out, hg_error *err)
{
    memset(out, 0, sizeof(*out));
    out->gpus_per_node = gpus_per_node;
    int world = hg_layout_world_size(l);
    size_t nmod = hg_layout_module_count(l), cap = 0;
    nodemap m = { gpus_per_node, node_of_rank, NULL, 0, 0 };
    int *members = NULL, *scratch = NULL, rc = 0, biggest = 1;

    if (!node_of_rank) {
        if (gpus_per_node < 1)
            return hg_error_set(err, HG_EINVAL, "placement: %d GPUs per node, and no node "
                                "for each rank", gpus_per_node);
        m.nnodes = (int)((world + (long long)gpus_per_node - 1) / gpus_per_node);
    } else {
        for (int r = 0; r < world; r++) {
            if (node_of_rank[r] < 0 || node_of_rank[r] >= world)
                return hg_error_set(err, HG_EINVAL, "placement: rank %d is on node %d, "
                                    "outside 0..%d", r, node_of_rank[r], world - 1);
            if (node_of_rank[r] >= m.nnodes)
                m.nnodes = node_of_rank[r] + 1;
        }
        m.seen = calloc((size_t)m.nnodes, sizeof(*m.seen));
        if (!m.seen)
            return hg_error_set(err, HG_ENOMEM, "out of memory");
    }
    out->nodes = m.nnodes;
    if (m.seen) {
        /* Reported node indexes may leave gaps: count the nodes that hold a rank. */
        out->nodes = 0;
        for (int r = 0; r < world; r++)
            if (!m.seen[node_of_rank[r]]++)
                out->nodes++;
        memset(m.seen, 0, (size_t)m.nnodes * sizeof(*m.seen));
    }

    for (size_t i = 0; i < nmod; i++)
        for (size_t k = 0; k < NCHECKED; k++) {
            const hg_module *mod = hg_layout_module(l, i);
            int s = hg_kind_applies(mod, checked[k]) ? hg_group_size(mod, checked[k], 0) : 1;
            if (s > biggest)
                biggest = s;
        }
    members = malloc((size_t)biggest * sizeof(*members));
    scratch = malloc((size_t)biggest * sizeof(*scratch));
    if (!members || !scratch) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nmod; i++) {
        const hg_module *mod = hg_layout_module(l, i);
        for (size_t k = 0; k < NCHECKED; k++) {
            /* A group of one rank is on one node: skip the module's whole span. */
            if (!hg_kind_applies(mod, checked[k]) || hg_group_size(mod, checked[k], 0) < 2)
                continue;
            rc = check_kind(out, &cap, &m, mod, (int)i, checked[k], members, scratch);
            if (rc != 0) {
                hg_error_set(err, rc, "out of memory");
                goto out;
            }
        }
    }
out:
    free(members);
    free(scratch);
    free(m.seen);
    return rc;
}

void hg_placement_free(hg_placement *p)
{
    if (!p)
        return;
    free(p->findings);
    p->findings = NULL;
    p->nfindings = 0;
}

/* Appends to buf[0 .. len) at *used; past the end, snprintf truncates and *used stops. */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t len,
                                                          size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (w > 0)
        *used = *used + (size_t)w < len ? *used + (size_t)w : len - 1;
}

/* What crossing nodes costs, per kind. */
static const char *cost(hg_kind kind)
{
    switch (kind) {
    case HG_KIND_TP:
        return "tensor parallelism across nodes is slow (it communicates in every layer)";
    case HG_KIND_CP:
        return "context parallelism across nodes is slow (it exchanges keys and values in "
               "every layer)";
    case HG_KIND_EP:
        return "expert parallelism's all-to-all then crosses the network in every MoE layer";
    default:
        return "expert tensor parallelism across nodes is slow (it communicates in every "
               "MoE layer)";
    }
}

char *hg_placement_format(const hg_placement *p, size_t i, char *buf, size_t len)
{
    const hg_placement_finding *f = &p->findings[i];
    size_t used = 0;
    if (!len)
        return buf;
    buf[0] = '\0';
    appendf(buf, len, &used, "%s: %d of %d %s groups span ", f->name, f->groups, f->total,
            hg_kind_name(f->kind));
    if (f->min_nodes == f->max_nodes)
        appendf(buf, len, &used, "%d nodes", f->min_nodes);
    else
        appendf(buf, len, &used, "%d to %d nodes", f->min_nodes, f->max_nodes);
    if (p->gpus_per_node > 0)
        appendf(buf, len, &used, " (%d GPU%s per node)", p->gpus_per_node,
                p->gpus_per_node == 1 ? "" : "s");
    appendf(buf, len, &used, ": ranks ");
    for (int j = 0; j < f->nshown; j++)
        appendf(buf, len, &used, "%s[%s] on nodes %s", j ? ", " : "", f->shown[j].ranks,
                f->shown[j].nodes);
    if (f->groups > f->nshown)
        appendf(buf, len, &used, " and %d more", f->groups - f->nshown);
    appendf(buf, len, &used, "; %s", cost(f->kind));
    return buf;
}

/* The finding's key in the config: the kind's own, else `moe:` (expert kinds), else the
 * module's mapping. */
static hg_mark finding_mark(const hg_config *cfg, const hg_placement_finding *f)
{
    hg_mark none = { 0, 0 };
    if (!cfg || (size_t)f->module >= cfg->nmodules)
        return none;
    const hg_module_spec *s = &cfg->modules[f->module];
    int expert = f->kind == HG_KIND_EP || f->kind == HG_KIND_EXPT_TP;
    hg_mark at = f->kind == HG_KIND_TP   ? s->tp.at
                 : f->kind == HG_KIND_CP ? s->cp.at
                 : f->kind == HG_KIND_EP ? s->ep.at
                                         : s->expert_tp.at;
    if (!at.line && expert)
        at = s->moe_at;
    return at.line ? at : s->at;
}

int hg_placement_diagnose(const hg_layout *l, const hg_config *cfg, int gpus_per_node,
                          unsigned flags, hg_diags *d)
{
    hg_placement p;
    hg_error err;
    hg_error_clear(&err);
    int rc = hg_placement_check(l, gpus_per_node, NULL, &p, &err);
    if (rc != 0) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "%s", err.msg);
        hg_placement_free(&p);
        return rc;
    }
    char *line = malloc(HG_PLACEMENT_LINE_MAX);
    if (!line && p.nfindings) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "out of memory");
        hg_placement_free(&p);
        return HG_ENOMEM;
    }
    int strict = (flags & HG_VALIDATE_STRICT) != 0;
    for (size_t i = 0; i < p.nfindings; i++) {
        hg_mark at = finding_mark(cfg, &p.findings[i]);
        hg_diags_add(d, strict ? HG_DIAG_ERROR : HG_DIAG_WARNING, at.line, at.col, "%s",
                     hg_placement_format(&p, i, line, HG_PLACEMENT_LINE_MAX));
    }
    rc = strict && p.nfindings ? HG_ECONFIG : 0;
    free(line);
    hg_placement_free(&p);
    return rc;
}
