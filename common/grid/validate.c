/* Validation of a parsed config against the rules of Megatron's MIMO example
 * (docs/DESIGN.md, "Validation rules" 1-9). Every rule is checked and every failure
 * reported at the most specific position available: the value that breaks it, else its
 * module; the diagnostics are then put in file order. A rule whose inputs an earlier
 * failure left unknown (a module's size, the graph around a cycle) is skipped rather
 * than reported again. Sizes are multiplied in 64 bits and bounded by HG_MAX_WORLD
 * before narrowing. */
#include "grid/validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

const char *hg_role_name(hg_role role)
{
    return role == HG_ROLE_LANGUAGE ? "language" : "encoder";
}

/* The first mark that was given, so a message points at the most specific place. */
static hg_mark first_given_mark(hg_mark a, hg_mark b, hg_mark c)
{
    if (a.line)
        return a;
    return b.line ? b : c;
}

#define ERR(d, mk, ...) hg_diags_add((d), HG_DIAG_ERROR, (mk).line, (mk).col, __VA_ARGS__)

/* out gets the module's name, role and the factors as given; sizes stay 0. */
static void copy_given_factors(const hg_module_spec *s, hg_module *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->role = s->role;
    /* The dims with a default (dims.h's absent); dp and expert_dp are resolved below. */
    for (int d = 0; d < HG_DIM_COUNT; d++)
        if (hg_dim_infos[d].absent)
            out->dim[d] = (int)s->dim[d].v;
    out->num_experts = (int)s->num_experts.v;
}

/* The dense factors but dp as a diagnostic writes them: "tp*cp*pp = 2*1*2", with
 * gtp_remat named only when it is not 1 (so a layout without GTP reads as before). */
static const char *dense_label(const hg_module_spec *s, char *buf, size_t len)
{
    if (s->gtp_remat.v == 1)
        snprintf(buf, len, "tp*cp*pp = %lld*%lld*%lld", s->tp.v, s->cp.v, s->pp.v);
    else
        snprintf(buf, len, "tp*gtp_remat*cp*pp = %lld*%lld*%lld*%lld", s->tp.v,
                 s->gtp_remat.v, s->cp.v, s->pp.v);
    return buf;
}

/* The same for the expert view: "expert_tp*ep*pp = 1*4*2" or with expert_gtp_remat. */
static const char *expert_label(const hg_module_spec *s, char *buf, size_t len)
{
    if (s->expert_gtp_remat.v == 1)
        snprintf(buf, len, "expert_tp*ep*pp = %lld*%lld*%lld", s->expert_tp.v, s->ep.v,
                 s->pp.v);
    else
        snprintf(buf, len, "expert_tp*ep*expert_gtp_remat*pp = %lld*%lld*%lld*%lld",
                 s->expert_tp.v, s->ep.v, s->expert_gtp_remat.v, s->pp.v);
    return buf;
}

/* Rule 2: *dense = tp*cp*pp (0 when past the limit) and *size from dp or size (0 when
 * unknown). Returns 0, or -1 with the problem reported. */
static int resolve_dense_size(const hg_module_spec *s, long long *dense_out,
                              long long *size_out, hg_diags *d)
{
    const char *n = s->name;
    char lab[160];
    /* Each factor is at most HG_MAX_WORLD = 2^24, so two multiply safely in 64 bits
     * but three may not: a product past HG_MAX_WORLD stops before the next factor. */
    long long dense = s->tp.v * s->cp.v;
    int ok = 0;
    *size_out = 0;
    if (dense <= HG_MAX_WORLD)
        dense *= s->pp.v;
    if (dense <= HG_MAX_WORLD)
        dense *= s->gtp_remat.v;
    dense_label(s, lab, sizeof(lab));
    if (dense > HG_MAX_WORLD) {
        ERR(d, first_given_mark(s->gtp_remat.at, s->pp.at,
                                first_given_mark(s->cp.at, s->tp.at, s->at)),
            "%s: %s is more than %d ranks", n, lab, HG_MAX_WORLD);
        dense = 0;
    } else if (!s->dp.at.line && !s->size.at.line) {
        ERR(d, s->at, "%s: give dp or size (the other is derived from %s)", n,
            s->gtp_remat.v == 1 ? "tp*cp*pp" : "tp*gtp_remat*cp*pp");
    } else if (s->size.at.line) {
        if (s->size.v % dense != 0) {
            ERR(d, s->size.at, "%s: size %lld is not divisible by %s%s%lld", n, s->size.v,
                s->gtp_remat.v == 1 ? "tp*cp*pp" : "tp*gtp_remat*cp*pp", " = ", dense);
        } else if (s->dp.at.line && s->size.v != dense * s->dp.v) {
            ERR(d, s->size.at, "%s: size %lld does not equal %s = %lld", n, s->size.v,
                s->gtp_remat.v == 1 ? "tp*cp*pp*dp" : "tp*gtp_remat*cp*pp*dp", dense * s->dp.v);
        } else {
            *size_out = s->size.v;
            ok = 1;
        }
    } else if (dense * s->dp.v > HG_MAX_WORLD) {
        if (s->gtp_remat.v == 1)
            ERR(d, s->dp.at, "%s: tp*cp*pp*dp = %lld*%lld*%lld*%lld is more than %d ranks", n,
                s->tp.v, s->cp.v, s->pp.v, s->dp.v, HG_MAX_WORLD);
        else
            ERR(d, s->dp.at, "%s: tp*gtp_remat*cp*pp*dp = %lld*%lld*%lld*%lld*%lld is more "
                "than %d ranks", n, s->tp.v, s->gtp_remat.v, s->cp.v, s->pp.v, s->dp.v,
                HG_MAX_WORLD);
    } else {
        *size_out = dense * s->dp.v;
        ok = 1;
    }
    *dense_out = dense;
    return ok ? 0 : -1;
}

/* Rule 3: out->expert_dp from size / (expert_tp*ep*pp). Skipped when tp*cp*pp was past
 * the limit: that is most often a pp past it, which the expert product shares, and the
 * one problem is said once. Returns 0, or -1 with the problem reported. */
static int resolve_expert_view(const hg_module_spec *s, long long dense, long long size,
                               hg_module *out, hg_diags *d)
{
    char lab[160];
    long long expert = s->expert_tp.v * s->ep.v;
    if (expert <= HG_MAX_WORLD)
        expert *= s->pp.v;
    if (expert <= HG_MAX_WORLD)
        expert *= s->expert_gtp_remat.v;
    hg_mark at = first_given_mark(s->expert_gtp_remat.at, s->ep.at,
                                  first_given_mark(s->expert_tp.at, s->moe_at,
                                                   first_given_mark(s->pp.at, s->at, s->at)));
    if (!dense)
        return 0;
    expert_label(s, lab, sizeof(lab));
    if (expert > HG_MAX_WORLD) {
        ERR(d, at, "%s: %s is more than %d ranks", s->name, lab, HG_MAX_WORLD);
        return -1;
    }
    if (size && (expert > size || size % expert != 0)) {
        ERR(d, at, "%s: size %lld is not divisible by %s%s = %lld", s->name, size,
            s->expert_gtp_remat.v == 1 ? "expert_tp*ep*pp" : "expert_tp*ep*expert_gtp_remat*pp",
            "", expert);
        return -1;
    }
    if (size)
        out->expert_dp = (int)(size / expert);
    return 0;
}

/* Rule 4: ep divides num_experts when it is given. */
static int check_num_experts(const hg_module_spec *s, hg_diags *d)
{
    if (!s->num_experts.at.line || s->num_experts.v % s->ep.v == 0)
        return 0;
    ERR(d, s->num_experts.at, "%s: num_experts %lld is not divisible by ep = %lld", s->name,
        s->num_experts.v, s->ep.v);
    return -1;
}

/* Rules 2-4 for one module; returns 0 when its shape is sound, else -1 with each of its
 * problems reported. out always holds the name, role and given factors. out->size (and
 * dp) is 0 when the size itself is unknown (tp*cp*pp past the limit, no dp or size, or
 * the two disagree), and every rule that needs it is skipped: saying more would only
 * repeat that problem. An expert-view problem (rules 3, 4) leaves the size known, so
 * the rules between modules (tiling, world_size, bridges, batch) still run. */
static int resolve_module(const hg_module_spec *s, hg_module *out, hg_diags *d)
{
    long long dense, size;
    copy_given_factors(s, out);
    int ok = resolve_dense_size(s, &dense, &size, d) == 0;
    ok &= resolve_expert_view(s, dense, size, out, d) == 0;
    ok &= check_num_experts(s, d) == 0;
    if (size) {
        out->size = (int)size;
        out->dp = (int)(size / dense);
    }
    return ok ? 0 : -1;
}

/* Rule 8: what Megatron's MIMO runtime accepts today. Only a layout with an encoder
 * is a MIMO layout; a language model alone may use any cp. */
static void check_mimo_runtime(const hg_config *cfg, const hg_module *mods, unsigned flags,
                               const unsigned char *cp_told, hg_diags *d)
{
    hg_diag_level lvl = (flags & HG_VALIDATE_STRICT) ? HG_DIAG_ERROR : HG_DIAG_WARNING;
    int has_encoder = 0;
    for (size_t i = 0; i < cfg->nmodules; i++)
        has_encoder |= mods[i].role == HG_ROLE_ENCODER;
    if (!has_encoder)
        return;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        const hg_module *m = &mods[i];
        /* A cp that rule 9 already refused (a bridge end) is not said twice. */
        if (cp_told && cp_told[i] && (m->role == HG_ROLE_LANGUAGE || m->pp == 1))
            continue;
        if (m->role == HG_ROLE_LANGUAGE && m->cp != 1) {
            hg_mark at = first_given_mark(s->cp.at, s->at, s->at);
            hg_diags_add(d, lvl, at.line, at.col,
                         "%s: cp=%d is beyond what the MIMO example runtime supports "
                         "(language cp must be 1)", m->name, m->cp);
        }
        if (m->role == HG_ROLE_ENCODER && (m->cp != 1 || m->pp != 1)) {
            hg_mark at = first_given_mark(m->cp != 1 ? s->cp.at : s->pp.at, s->at, s->at);
            hg_diags_add(d, lvl, at.line, at.col,
                         "%s: cp=%d pp=%d is beyond what the MIMO example runtime supports "
                         "(encoder cp and pp must be 1)", m->name, m->cp, m->pp);
        }
    }
}

/* ---- the module graph (rule 9) ---- */

typedef struct name_ix {
    const char *name;
    int i;
} name_ix;

static int cmp_name_ix(const void *a, const void *b)
{
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* ix[0 .. n): every module's name and index, sorted by name for find_module_by_name. */
static void index_module_names(const hg_config *cfg, name_ix *ix)
{
    for (size_t i = 0; i < cfg->nmodules; i++)
        ix[i] = (name_ix){ cfg->modules[i].name, (int)i };
    qsort(ix, cfg->nmodules, sizeof(*ix), cmp_name_ix);
}

/* The index of the first module named name, or -1. */
static int find_module_by_name(const name_ix *ix, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].name, name);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(ix[lo].name, name) == 0 ? ix[lo].i : -1;
}

static int cmp_mark(hg_mark a, hg_mark b)
{
    if (a.line != b.line)
        return (a.line > b.line) - (a.line < b.line);
    return (a.col > b.col) - (a.col < b.col);
}

static int cmp_edge(const void *a, const void *b)
{
    const hg_edge *x = a, *y = b;
    if (x->src != y->src)
        return (x->src > y->src) - (x->src < y->src);
    if (x->dest != y->dest)
        return (x->dest > y->dest) - (x->dest < y->dest);
    return cmp_mark(x->at, y->at);
}

/* "a -> b -> ... -> a" into buf, eliding the middle of a cycle too long for a line. */
static void cycle_text(const hg_config *cfg, const int *path, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= n; i++) {
        const char *name = cfg->modules[path[i % n]].name;
        if (i && i < n && n > 8 && i == 4) {
            o += (size_t)snprintf(buf + o, len - o, " -> ... (%zu more)", n - 6);
            i = n - 3; /* the last two follow */
            continue;
        }
        int k = snprintf(buf + o, len - o, "%s%s", i ? " -> " : "", name);
        if (k < 0 || (size_t)k >= len - o)
            return;
        o += (size_t)k;
    }
}

/* How many edges the feeds can give at most: each written entry, and one per encoder
 * without feeds (its default edge). */
static size_t count_feeds_edges(const hg_config *cfg)
{
    size_t total = 0;
    for (size_t i = 0; i < cfg->nmodules; i++)
        total += cfg->modules[i].feeds_at.line ? cfg->modules[i].nfeeds
                                                : cfg->modules[i].role == HG_ROLE_ENCODER;
    return total;
}

/* Module s's feeds entry j names no module: say so, with the closest name when it is
 * a likely typo. */
static void report_unknown_feed(const hg_config *cfg, const hg_module_spec *s, size_t j,
                                hg_diags *d)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t k = 0; k < cfg->nmodules; k++) {
        size_t dist = hg_name_distance(s->feeds[j], cfg->modules[k].name);
        if (dist < best_d) {
            best_d = dist;
            best = cfg->modules[k].name;
        }
    }
    if (best && best_d <= 2 && best_d < strlen(s->feeds[j]))
        ERR(d, s->feed_at[j], "%s: feeds: no module is named '%s' (did you mean '%s'?)",
            s->name, s->feeds[j], best);
    else
        ERR(d, s->feed_at[j], "%s: feeds: no module is named '%s'", s->name, s->feeds[j]);
}

/* edges[] gets one edge per feeds entry that names another module (the others are
 * reported), and one to language_i per encoder without feeds when language_i is below
 * the module count. Returns how many, in module order. */
static size_t collect_feeds_edges(const hg_config *cfg, const name_ix *ix, size_t language_i,
                                  hg_edge *edges, hg_diags *d)
{
    size_t n = cfg->nmodules, ne = 0;
    int defaults = language_i < n; /* no language module (an error of its own): no default */
    for (size_t i = 0; i < n; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        if (!s->feeds_at.line) {
            if (s->role == HG_ROLE_ENCODER && defaults)
                edges[ne++] = (hg_edge){ (int)i, (int)language_i, { 0, 0 } };
            continue;
        }
        for (size_t j = 0; j < s->nfeeds; j++) {
            int t = find_module_by_name(ix, n, s->feeds[j]);
            if (t < 0) {
                report_unknown_feed(cfg, s, j, d);
                continue;
            }
            if ((size_t)t == i) {
                ERR(d, s->feed_at[j], "%s: feeds: a module cannot feed itself", s->name);
                continue;
            }
            edges[ne++] = (hg_edge){ (int)i, t, s->feed_at[j] };
        }
    }
    return ne;
}

/* Sorts edges[0 .. ne) and drops (reporting) each repeat of an edge; returns how many
 * are left. */
static size_t sort_unique_edges(const hg_config *cfg, hg_edge *edges, size_t ne, hg_diags *d)
{
    qsort(edges, ne, sizeof(*edges), cmp_edge);
    size_t u = 0;
    for (size_t e = 0; e < ne; e++) {
        if (u && edges[u - 1].src == edges[e].src && edges[u - 1].dest == edges[e].dest) {
            ERR(d, edges[e].at, "%s: feeds: '%s' is named twice (first at %d:%d)",
                cfg->modules[edges[e].src].name, cfg->modules[edges[e].dest].name,
                edges[u - 1].at.line, edges[u - 1].at.col);
            continue;
        }
        edges[u++] = edges[e];
    }
    return u;
}

/* The cycle search's work arrays: each module's out-edge range
 * edges[first[v] .. first[v + 1]), its colour (0 unseen, 1 on the path, 2 done), the
 * path from the root, and each path node's next edge to follow. */
typedef struct cycle_search {
    const hg_config *cfg;
    const hg_edge *edges;
    size_t *first;
    size_t *next;
    int *path;
    unsigned char *colour;
} cycle_search;

/* The edge ed closes the cycle path[k - 1 .. depth): report it once, at a written feeds
 * entry on it (ed itself when written). A cycle always holds one: default edges all end
 * at the language module, which has none by default. */
static void report_cycle(const cycle_search *cs, size_t k, size_t depth, const hg_edge *ed,
                         hg_diags *d)
{
    const int *path = cs->path;
    char text[600];
    cycle_text(cs->cfg, path + k - 1, depth - k + 1, text, sizeof(text));
    hg_mark at = ed->at;
    for (size_t p = k - 1; !at.line && p + 1 < depth; p++) {
        /* the written edge path[p] -> path[p + 1] */
        for (size_t x = cs->first[path[p]]; x < cs->first[path[p] + 1]; x++)
            if (cs->edges[x].dest == path[p + 1] && cs->edges[x].at.line) {
                at = cs->edges[x].at;
                break;
            }
    }
    ERR(d, at, "feeds: the module graph has a cycle: %s (bridges must form an acyclic graph)",
        text);
}

/* Depth-first search from root, iterative (4096 modules may chain): a back edge closes
 * a cycle, which is on the path from its target to its source. One report per back
 * edge. Returns whether any was found. */
static int search_cycles_from(cycle_search *cs, int root, hg_diags *d)
{
    size_t depth = 0;
    int cyclic = 0;
    cs->path[depth++] = root;
    cs->colour[root] = 1;
    cs->next[root] = cs->first[root];
    while (depth) {
        int v = cs->path[depth - 1];
        if (cs->next[v] == cs->first[v + 1]) {
            cs->colour[v] = 2;
            depth--;
            continue;
        }
        const hg_edge *ed = &cs->edges[cs->next[v]++];
        int t = ed->dest;
        if (cs->colour[t] == 0) {
            cs->colour[t] = 1;
            cs->next[t] = cs->first[t];
            cs->path[depth++] = t;
        } else if (cs->colour[t] == 1) {
            size_t k = depth;
            while (cs->path[k - 1] != t)
                k--;
            report_cycle(cs, k, depth, ed, d);
            cyclic = 1;
        }
    }
    return cyclic;
}

/* Reports every cycle of the sorted edges[0 .. ne); returns whether there was one. */
static int report_cycles(cycle_search *cs, size_t ne, hg_diags *d)
{
    size_t n = cs->cfg->nmodules;
    int cyclic = 0;
    for (size_t i = 0, e = 0; i <= n; i++) {
        while (e < ne && (size_t)cs->edges[e].src < i)
            e++;
        cs->first[i] = e;
    }
    for (size_t root = 0; root < n; root++)
        if (!cs->colour[root])
            cyclic |= search_cycles_from(cs, (int)root, d);
    return cyclic;
}

/* Resolves feeds into edges (encoders without feeds to language_i; none when it is
 * not below the module count), reports unknown names, self edges, repeats and cycles.
 * Returns 0 when the graph is sound. Either way *edges_out holds the sorted, unique
 * edges that resolved (a wrong entry drops only itself), and *cyclic says whether a
 * cycle was found. */
static int build_graph(const hg_config *cfg, size_t language_i, hg_edge **edges_out,
                       size_t *nedges_out, int *cyclic, hg_diags *d)
{
    size_t n = cfg->nmodules, total = count_feeds_edges(cfg);
    size_t errors_before = hg_diags_errors(d);
    *edges_out = NULL;
    *nedges_out = 0;
    *cyclic = 0;
    name_ix *ix = malloc(n * sizeof(*ix));
    hg_edge *edges = malloc((total ? total : 1) * sizeof(*edges));
    cycle_search cs = { cfg, edges, malloc((n + 1) * sizeof(*cs.first)),
                        malloc(n * sizeof(*cs.next)), malloc(n * sizeof(*cs.path)),
                        calloc(n, 1) };
    int rc = -1;
    if (!ix || !edges || !cs.first || !cs.next || !cs.path || !cs.colour) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "out of memory");
        goto out;
    }
    index_module_names(cfg, ix);
    size_t ne = collect_feeds_edges(cfg, ix, language_i, edges, d);
    ne = sort_unique_edges(cfg, edges, ne, d);
    *cyclic = report_cycles(&cs, ne, d);
    rc = hg_diags_errors(d) == errors_before ? 0 : -1;
    if (ne) {
        *edges_out = edges;
        *nedges_out = ne;
        edges = NULL;
    }
out:
    free(ix);
    free(edges);
    free(cs.first);
    free(cs.next);
    free(cs.path);
    free(cs.colour);
    return rc;
}

/* Rule 9 and, per bridge, rule 6, on the edges of a graph without a cycle. The dp rules
 * need both ends' sizes; a module whose size is unknown (already reported) skips them. */
static void check_bridges(const hg_config *cfg, const hg_module *mods, const hg_edge *edges,
                          size_t ne, unsigned char *cp_told, hg_diags *d)
{
    int has_batch = cfg->micro_batch_size.at.line || cfg->global_batch_size.at.line;
    long long mbs = cfg->micro_batch_size.at.line ? cfg->micro_batch_size.v : 1;
    for (size_t e = 0; e < ne; e++) {
        const hg_edge *ed = &edges[e];
        const hg_module *a = &mods[ed->src], *b = &mods[ed->dest];
        const hg_module_spec *sa = &cfg->modules[ed->src];
        int ends[2] = { ed->src, ed->dest };
        for (int k = 0; k < 2; k++) {
            const hg_module *m = &mods[ends[k]];
            const hg_module_spec *s = &cfg->modules[ends[k]];
            if (m->cp == 1 || (cp_told && cp_told[ends[k]]))
                continue;
            if (cp_told)
                cp_told[ends[k]] = 1;
            ERR(d, first_given_mark(s->cp.at, s->at, s->at),
                "%s: cp = %d at a bridge end (%s -> %s), which needs cp = 1 (Megatron's "
                "BridgeCommunicator asserts it); set cp: 1, or remove the bridge with "
                "feeds: [] on %s", m->name, m->cp, a->name, b->name, a->name);
        }
        if (!a->size || !b->size)
            continue;
        /* Megatron's BridgeCommunicator elects one leader per dp x gtp_remat lane on
         * each side; the two counts must divide one another. */
        int la = a->dp * a->gtp_remat, lb = b->dp * b->gtp_remat;
        int gtp = a->gtp_remat != 1 || b->gtp_remat != 1;
        if (la % lb != 0 && lb % la != 0) {
            hg_mark src_at = first_given_mark(sa->size.at, sa->at, sa->at);
            if (!gtp)
                ERR(d, first_given_mark(ed->at, sa->dp.at, src_at),
                    "%s -> %s: %s dp = %d and %s dp = %d do not divide each other, which a "
                    "bridge needs (Megatron's BridgeCommunicator raises); change one, or "
                    "remove the bridge with feeds: [] on %s", a->name, b->name, a->name, a->dp,
                    b->name, b->dp, a->name);
            else
                ERR(d, first_given_mark(ed->at, sa->dp.at, src_at),
                    "%s -> %s: the leader counts %s dp*gtp_remat = %d*%d = %d and %s "
                    "dp*gtp_remat = %d*%d = %d do not divide each other, which a bridge needs "
                    "(Megatron's BridgeCommunicator raises); change one, or remove the bridge "
                    "with feeds: [] on %s", a->name, b->name, a->name, a->dp, a->gtp_remat, la,
                    b->name, b->dp, b->gtp_remat, lb, a->name);
            continue;
        }
        /* Rule 6: a micro-batch of the destination's leaders (dp x gtp_remat lanes)
         * splits evenly over the source's. */
        long long per_step = mbs * lb;
        if (!has_batch || per_step % la == 0)
            continue;
        hg_mark at = first_given_mark(sa->dp.at, sa->at, sa->at);
        if (gtp)
            ERR(d, first_given_mark(sa->gtp_remat.at, at, at),
                "%s: micro_batch_size*%s dp*gtp_remat = %lld*%d = %lld is not divisible by "
                "%s dp*gtp_remat = %d (the bridge %s -> %s fans out evenly)", a->name, b->name,
                mbs, lb, per_step, a->name, la, a->name, b->name);
        else if (a->role == HG_ROLE_ENCODER && b->role == HG_ROLE_LANGUAGE)
            ERR(d, at,
                "%s: micro_batch_size*language dp = %lld*%d = %lld is not divisible by encoder "
                "dp = %d (the encoder bridge fans out evenly)", a->name, mbs, b->dp, per_step,
                a->dp);
        else
            ERR(d, at,
                "%s: micro_batch_size*%s dp = %lld*%d = %lld is not divisible by %s dp = %d "
                "(the bridge %s -> %s fans out evenly)", a->name, b->name, mbs, b->dp, per_step,
                a->name, a->dp, a->name, b->name);
    }
}

/* Rule 1 for module i: its name is not one an earlier module already has. */
static void check_name_unique(const hg_config *cfg, size_t i, hg_diags *d)
{
    const hg_module_spec *s = &cfg->modules[i];
    for (size_t j = 0; j < i; j++) {
        const hg_module_spec *earlier = &cfg->modules[j];
        if (strcmp(earlier->name, s->name) != 0)
            continue;
        /* An alias repeats the very same node, so both carry one position. */
        if (s->name_at.line == earlier->name_at.line && s->name_at.col == earlier->name_at.col)
            ERR(d, cfg->modules_at,
                "modules: entry %zu repeats entry %zu through an alias, so the name '%s' "
                "is used twice", i + 1, j + 1, s->name);
        else
            ERR(d, first_given_mark(s->name_at, s->at, s->at),
                "duplicate module name '%s' (first used at %d:%d)", s->name,
                earlier->name_at.line, earlier->name_at.col);
        return;
    }
}

/* Where the modules placed so far end (rule 5, disjoint). */
typedef struct tiling {
    int known;      /* every module so far has a size, so next is where the next starts */
    long long next; /* the first rank after them */
    /* The sums of the sizes as written: a module whose size is unknown because of its
     * own problem (size not divisible, size and dp disagreeing) counts its size: in
     * written and dp times its product in written_dp (each the other when only one is
     * given), so a world_size that matches neither is reported in the same run, not
     * only once that module is fixed. written_known is 0 once a module writes no size. */
    int written_known;
    long long written, written_dp;
} tiling;

/* Rule 5, colocated: every module spans [0, world) from rank 0. */
static void place_colocated(const hg_module_spec *s, hg_module *m, hg_diags *d)
{
    if (s->offset.at.line && s->offset.v != 0)
        ERR(d, s->offset.at,
            "%s: offset %lld in a colocated layout, where every module starts at rank 0",
            s->name, s->offset.v);
    m->offset = 0;
}

/* dp times tp*gtp_remat*cp*pp when dp is given and that is within the limit, else 0. */
static long long size_by_dp(const hg_module_spec *s)
{
    if (!s->dp.at.line)
        return 0;
    long long n = s->dp.v;
    const long long f[] = { s->tp.v, s->gtp_remat.v, s->cp.v, s->pp.v };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        n *= f[i]; /* both factors at most HG_MAX_WORLD = 2^24: no overflow in 64 bits */
        if (n > HG_MAX_WORLD)
            return 0;
    }
    return n;
}

/* Rule 5, disjoint: modules tile [0, world) in order; past a module of unknown size the
 * offsets are unknown too. */
static void place_disjoint(const hg_module_spec *s, hg_module *m, tiling *t, hg_diags *d)
{
    long long by_size = m->size, by_dp = m->size;
    if (!m->size) {
        by_dp = size_by_dp(s);
        by_size = s->size.at.line ? s->size.v : by_dp;
        by_dp = by_dp ? by_dp : by_size;
    }
    if (!by_size || t->written + by_size > HG_MAX_WORLD || t->written_dp + by_dp > HG_MAX_WORLD) {
        t->written_known = 0;
    } else {
        t->written += by_size;
        t->written_dp += by_dp;
    }
    if (!m->size) {
        t->known = 0;
        return;
    }
    if (!t->known)
        return;
    if (s->offset.at.line && s->offset.v != t->next)
        ERR(d, s->offset.at,
            "%s: offset %lld does not match the tiling: modules are placed in order with no "
            "gap, so it starts at rank %lld", s->name, s->offset.v, t->next);
    m->offset = (int)t->next;
    t->next += m->size;
    if (t->next > HG_MAX_WORLD) {
        ERR(d, s->at, "%s: the modules so far need %lld ranks, more than %d", s->name, t->next,
            HG_MAX_WORLD);
        t->known = 0;
    }
}

/* Rules 1-5 module by module, in file order: unique names, one language module, feeds
 * only where there are bridges, each module's shape, and its place. Returns the
 * language module's index, SIZE_MAX when there is none. */
static size_t resolve_modules(const hg_config *cfg, hg_module *out, tiling *t, hg_diags *d)
{
    int colocated = cfg->layout == HG_LAYOUT_COLOCATED;
    size_t language_i = SIZE_MAX;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        check_name_unique(cfg, i, d);
        if (s->role == HG_ROLE_LANGUAGE && language_i != SIZE_MAX)
            ERR(d, first_given_mark(s->role_at, s->at, s->at),
                "%s: a second language module (the first is '%s'); exactly one is allowed",
                s->name, cfg->modules[language_i].name);
        else if (s->role == HG_ROLE_LANGUAGE)
            language_i = i;
        if (colocated && s->feeds_at.line)
            ERR(d, s->feeds_at,
                "%s: feeds has no meaning in a colocated layout (every module holds every "
                "rank, so there are no bridges)", s->name);
        resolve_module(s, &out[i], d);
        if (colocated)
            place_colocated(s, &out[i], d);
        else
            place_disjoint(s, &out[i], t, d);
    }
    if (language_i == SIZE_MAX)
        ERR(d, cfg->modules_at, "modules: no module has role: language (exactly one is required)");
    return language_i;
}

/* Colocated: the world is world_size when given, else the language module's size (the
 * first module's without one); each module of known size is held against it. Returns
 * the world, 0 when unknown. */
static long long check_colocated_world(const hg_config *cfg, const hg_module *mods,
                                       size_t language_i, hg_diags *d)
{
    const hg_module *ref = language_i != SIZE_MAX ? &mods[language_i] : &mods[0];
    long long world = cfg->world_size.at.line ? cfg->world_size.v : ref->size;
    for (size_t i = 0; world && i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        if (!mods[i].size || mods[i].size == world)
            continue;
        hg_mark at = first_given_mark(s->size.at, s->dp.at, s->at);
        if (cfg->world_size.at.line)
            ERR(d, at, "%s: size %d does not equal world_size %lld (in a colocated layout "
                "every module spans all ranks)", s->name, mods[i].size, world);
        else
            ERR(d, at, "%s: size %d does not equal %s's size %lld (in a colocated layout "
                "every module spans all ranks)", s->name, mods[i].size, ref->name, world);
    }
    return world;
}

/* Disjoint: the world is where the tiling ends; a world_size given must match it. */
static long long check_disjoint_world(const hg_config *cfg, const tiling *t, hg_diags *d)
{
    if (!cfg->world_size.at.line)
        return t->next;
    if (t->known && cfg->world_size.v != t->next)
        ERR(d, cfg->world_size.at,
            "world_size %lld does not equal the sum of module sizes, %lld", cfg->world_size.v,
            t->next);
    else if (!t->known && t->written_known && cfg->world_size.v != t->written
             && cfg->world_size.v != t->written_dp)
        ERR(d, cfg->world_size.at,
            "world_size %lld does not equal the sum of module sizes as written, %lld",
            cfg->world_size.v, t->written);
    return t->next;
}

/* Rules 6 and 7 need the batch; they bind only when one is given. Rule 6 is per bridge
 * (check_bridges); colocated, each encoder against the language module. */
static void check_batch(const hg_config *cfg, const hg_module *mods, size_t language_i,
                        hg_diags *d)
{
    int has_batch = cfg->micro_batch_size.at.line || cfg->global_batch_size.at.line;
    if (language_i == SIZE_MAX || !mods[language_i].size || !has_batch)
        return;
    int colocated = cfg->layout == HG_LAYOUT_COLOCATED;
    long long mbs = cfg->micro_batch_size.at.line ? cfg->micro_batch_size.v : 1;
    const hg_module *lm = &mods[language_i];
    /* The language module's leaders: one per dp x gtp_remat lane. */
    int lanes = lm->dp * lm->gtp_remat;
    long long per_step = mbs * lanes;
    for (size_t i = 0; colocated && i < cfg->nmodules; i++) {
        const hg_module *m = &mods[i];
        const hg_module_spec *s = &cfg->modules[i];
        int mlanes = m->dp * m->gtp_remat;
        if (m->role != HG_ROLE_ENCODER || !m->size || per_step % mlanes == 0)
            continue;
        if (lm->gtp_remat == 1 && m->gtp_remat == 1)
            ERR(d, first_given_mark(s->dp.at, s->at, s->at),
                "%s: micro_batch_size*language dp = %lld*%d = %lld is not divisible by encoder "
                "dp = %d (the encoder bridge fans out evenly)", m->name, mbs, lm->dp, per_step,
                m->dp);
        else
            ERR(d, first_given_mark(s->gtp_remat.at, s->dp.at, s->at),
                "%s: micro_batch_size*language dp*gtp_remat = %lld*%d = %lld is not divisible "
                "by encoder dp*gtp_remat = %d (the encoder bridge fans out evenly)", m->name,
                mbs, lanes, per_step, mlanes);
    }
    if (cfg->global_batch_size.at.line && cfg->global_batch_size.v % per_step != 0) {
        if (lm->gtp_remat == 1)
            ERR(d, cfg->global_batch_size.at,
                "batch.global_batch_size %lld is not divisible by micro_batch_size*language dp "
                "= %lld*%d = %lld", cfg->global_batch_size.v, mbs, lm->dp, per_step);
        else
            ERR(d, cfg->global_batch_size.at,
                "batch.global_batch_size %lld is not divisible by micro_batch_size*language "
                "dp*gtp_remat = %lld*%d = %lld", cfg->global_batch_size.v, mbs, lanes, per_step);
    }
}

int hg_validate_graph(const hg_config *cfg, unsigned flags, hg_module *out, int *world,
                      hg_edge **edges_out, size_t *nedges_out, hg_diags *d)
{
    size_t errors_before = hg_diags_errors(d);
    size_t first_diag = hg_diags_size(d);
    int colocated = cfg->layout == HG_LAYOUT_COLOCATED;
    hg_edge *edges = NULL;
    size_t ne = 0;

    if (edges_out) {
        *edges_out = NULL;
        *nedges_out = 0;
    }
    if (cfg->nmodules == 0) {
        ERR(d, cfg->modules_at, "modules: at least one module is required");
        return HG_ECONFIG;
    }
    tiling t = { 1, 0, 1, 0, 0 };
    size_t language_i = resolve_modules(cfg, out, &t, d);
    long long world_size = colocated ? check_colocated_world(cfg, out, language_i, d)
                                     : check_disjoint_world(cfg, &t, d);

    /* Rule 9: the module graph, disjoint layouts only. A wrong feeds entry drops only
     * itself, so the other bridges are still checked; a cycle leaves which edge is meant
     * open, so no bridge is. */
    int cyclic = 0;
    if (!colocated)
        build_graph(cfg, language_i, &edges, &ne, &cyclic, d);
    unsigned char *cp_told = calloc(cfg->nmodules, 1);
    if (!cyclic)
        check_bridges(cfg, out, edges, ne, cp_told, d);
    check_batch(cfg, out, language_i, d);
    check_mimo_runtime(cfg, out, flags, cp_told, d);
    free(cp_told);

    /* The checks above run rule by rule; the reader gets them top to bottom. */
    hg_diags_sort_from(d, first_diag);
    if (hg_diags_errors(d) != errors_before) {
        free(edges);
        return HG_ECONFIG;
    }
    *world = (int)world_size;
    if (edges_out) {
        *edges_out = edges;
        *nedges_out = ne;
    } else {
        free(edges);
    }
    return 0;
}
