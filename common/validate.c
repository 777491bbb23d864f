/* Validation of a parsed config against the rules of Megatron's MIMO example
 * (docs/DESIGN.md, "Validation rules" 1-9). Every rule is checked and every failure
 * reported at the most specific position available: the value that breaks it, else its
 * module; the diagnostics are then put in file order. A rule whose inputs an earlier
 * failure left unknown (a module's size, the graph around a cycle) is skipped rather
 * than reported again. Sizes are multiplied in 64 bits and bounded by HG_MAX_WORLD
 * before narrowing. */
#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const char *hg_role_name(hg_role role)
{
    return role == HG_ROLE_LANGUAGE ? "language" : "encoder";
}

/* The first mark that was given, so a message points at the most specific place. */
static hg_mark pick(hg_mark a, hg_mark b, hg_mark c)
{
    if (a.line)
        return a;
    return b.line ? b : c;
}

#define ERR(d, mk, ...) hg_diags_add((d), HG_DIAG_ERROR, (mk).line, (mk).col, __VA_ARGS__)

/* Rules 2-4 for one module; returns 0 when its shape is sound, else -1 with each of its
 * problems reported. out always holds the name, role and given factors. out->size (and
 * dp) is 0 when the size itself is unknown (tp*cp*pp past the limit, no dp or size, or
 * the two disagree), and every rule that needs it is skipped: saying more would only
 * repeat that problem. An expert-view problem (rules 3, 4) leaves the size known, so
 * the rules between modules (tiling, world_size, bridges, batch) still run. */
static int resolve_module(const hg_module_spec *s, hg_module *out, hg_diags *d)
{
    const char *n = s->name;
    long long size = 0;
    int ok = 1;

    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", s->name);
    out->role = s->role;
    out->tp = (int)s->tp.v;
    out->cp = (int)s->cp.v;
    out->pp = (int)s->pp.v;
    out->ep = (int)s->ep.v;
    out->expert_tp = (int)s->expert_tp.v;
    out->num_experts = (int)s->num_experts.v;

    /* Each factor is at most HG_MAX_WORLD = 2^24, so two multiply safely in 64 bits
     * but three may not: a product past HG_MAX_WORLD stops before the third factor. */
    long long dense = s->tp.v * s->cp.v;
    if (dense <= HG_MAX_WORLD)
        dense *= s->pp.v;
    if (dense > HG_MAX_WORLD) {
        ERR(d, pick(s->pp.at, s->cp.at, pick(s->tp.at, s->at, s->at)),
            "%s: tp*cp*pp = %lld*%lld*%lld is more than %d ranks", n, s->tp.v, s->cp.v,
            s->pp.v, HG_MAX_WORLD);
        dense = 0;
        ok = 0;
    } else if (!s->dp.at.line && !s->size.at.line) {
        ERR(d, s->at, "%s: give dp or size (the other is derived from tp*cp*pp)", n);
        ok = 0;
    } else if (s->size.at.line) {
        if (s->size.v % dense != 0) {
            ERR(d, s->size.at, "%s: size %lld is not divisible by tp*cp*pp = %lld", n,
                s->size.v, dense);
            ok = 0;
        } else if (s->dp.at.line && s->size.v != dense * s->dp.v) {
            ERR(d, s->size.at, "%s: size %lld does not equal tp*cp*pp*dp = %lld", n,
                s->size.v, dense * s->dp.v);
            ok = 0;
        } else {
            size = s->size.v;
        }
    } else if (dense * s->dp.v > HG_MAX_WORLD) {
        ERR(d, s->dp.at, "%s: tp*cp*pp*dp = %lld*%lld*%lld*%lld is more than %d ranks", n,
            s->tp.v, s->cp.v, s->pp.v, s->dp.v, HG_MAX_WORLD);
        ok = 0;
    } else {
        size = dense * s->dp.v;
    }

    /* A tp*cp*pp past the limit is most often a pp past it, which the expert product
     * shares: that one problem is said once. */
    long long expert = s->expert_tp.v * s->ep.v;
    if (expert <= HG_MAX_WORLD)
        expert *= s->pp.v;
    hg_mark expert_at = pick(s->ep.at, s->expert_tp.at, pick(s->moe_at, s->pp.at, s->at));
    if (!dense) {
        /* nothing: see above */
    } else if (expert > HG_MAX_WORLD) {
        ERR(d, expert_at, "%s: expert_tp*ep*pp = %lld*%lld*%lld is more than %d ranks", n,
            s->expert_tp.v, s->ep.v, s->pp.v, HG_MAX_WORLD);
        ok = 0;
    } else if (size && (expert > size || size % expert != 0)) {
        ERR(d, expert_at, "%s: size %lld is not divisible by expert_tp*ep*pp = %lld", n, size,
            expert);
        ok = 0;
    } else if (size) {
        out->expert_dp = (int)(size / expert);
    }
    if (s->num_experts.at.line && s->num_experts.v % s->ep.v != 0) {
        ERR(d, s->num_experts.at, "%s: num_experts %lld is not divisible by ep = %lld", n,
            s->num_experts.v, s->ep.v);
        ok = 0;
    }
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
            hg_mark at = pick(s->cp.at, s->at, s->at);
            hg_diags_add(d, lvl, at.line, at.col,
                         "%s: cp=%d is beyond what the MIMO example runtime supports "
                         "(language cp must be 1)", m->name, m->cp);
        }
        if (m->role == HG_ROLE_ENCODER && (m->cp != 1 || m->pp != 1)) {
            hg_mark at = pick(m->cp != 1 ? s->cp.at : s->pp.at, s->at, s->at);
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

static int find_module(const name_ix *ix, size_t n, const char *name)
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

/* Resolves feeds into edges (encoders without feeds to language_i; none when it is
 * not below the module count), reports unknown names, self edges, repeats and cycles.
 * Returns 0 when the graph is sound. Either way *edges_out holds the sorted, unique
 * edges that resolved (a wrong entry drops only itself), and *cyclic says whether a
 * cycle was found. */
static int build_graph(const hg_config *cfg, size_t language_i, hg_edge **edges_out,
                       size_t *nedges_out, int *cyclic, hg_diags *d)
{
    size_t n = cfg->nmodules, total = 0, ne = 0;
    size_t errors_before = hg_diags_errors(d);
    *edges_out = NULL;
    *nedges_out = 0;
    *cyclic = 0;
    for (size_t i = 0; i < n; i++)
        total += cfg->modules[i].feeds_at.line ? cfg->modules[i].nfeeds
                                                : cfg->modules[i].role == HG_ROLE_ENCODER;
    int defaults = language_i < n; /* no language module (an error of its own): no default */
    name_ix *ix = malloc(n * sizeof(*ix));
    hg_edge *edges = malloc((total ? total : 1) * sizeof(*edges));
    /* Cycle search: out-edge ranges, colours, the path and each node's next edge. */
    size_t *first = malloc((n + 1) * sizeof(*first));
    size_t *next = malloc(n * sizeof(*next));
    int *path = malloc(n * sizeof(*path));
    unsigned char *colour = calloc(n, 1);
    int rc = -1;
    if (!ix || !edges || !first || !next || !path || !colour) {
        hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        ix[i] = (name_ix){ cfg->modules[i].name, (int)i };
    qsort(ix, n, sizeof(*ix), cmp_name_ix);

    for (size_t i = 0; i < n; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        if (!s->feeds_at.line) {
            if (s->role == HG_ROLE_ENCODER && defaults)
                edges[ne++] = (hg_edge){ (int)i, (int)language_i, { 0, 0 } };
            continue;
        }
        for (size_t j = 0; j < s->nfeeds; j++) {
            int t = find_module(ix, n, s->feeds[j]);
            if (t < 0) {
                const char *best = NULL;
                size_t best_d = SIZE_MAX;
                for (size_t k = 0; k < n; k++) {
                    size_t dist = hg_name_distance(s->feeds[j], cfg->modules[k].name);
                    if (dist < best_d) {
                        best_d = dist;
                        best = cfg->modules[k].name;
                    }
                }
                if (best && best_d <= 2 && best_d < strlen(s->feeds[j]))
                    ERR(d, s->feed_at[j], "%s: feeds: no module is named '%s' (did you mean "
                        "'%s'?)", s->name, s->feeds[j], best);
                else
                    ERR(d, s->feed_at[j], "%s: feeds: no module is named '%s'", s->name,
                        s->feeds[j]);
                continue;
            }
            if ((size_t)t == i) {
                ERR(d, s->feed_at[j], "%s: feeds: a module cannot feed itself", s->name);
                continue;
            }
            edges[ne++] = (hg_edge){ (int)i, t, s->feed_at[j] };
        }
    }
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
    ne = u;

    /* Depth-first search, iterative (4096 modules may chain): a back edge closes a
     * cycle, which is on the path from its target to its source. One report per back
     * edge; a cycle always holds a written feeds entry (default edges all end at the
     * language module, which has none by default), and the message points at one. */
    for (size_t i = 0, e = 0; i <= n; i++) {
        while (e < ne && (size_t)edges[e].src < i)
            e++;
        first[i] = e;
    }
    for (size_t root = 0; root < n; root++) {
        if (colour[root])
            continue;
        size_t depth = 0;
        path[depth++] = (int)root;
        colour[root] = 1;
        next[root] = first[root];
        while (depth) {
            int v = path[depth - 1];
            if (next[v] == first[v + 1]) {
                colour[v] = 2;
                depth--;
                continue;
            }
            const hg_edge *ed = &edges[next[v]++];
            int t = ed->dest;
            if (colour[t] == 0) {
                colour[t] = 1;
                next[t] = first[t];
                path[depth++] = t;
            } else if (colour[t] == 1) {
                size_t k = depth;
                while (path[k - 1] != t)
                    k--;
                char text[600];
                cycle_text(cfg, path + k - 1, depth - k + 1, text, sizeof(text));
                hg_mark at = ed->at;
                for (size_t p = k - 1; !at.line && p + 1 < depth; p++) {
                    /* the written edge path[p] -> path[p + 1] */
                    for (size_t x = first[path[p]]; x < first[path[p] + 1]; x++)
                        if (edges[x].dest == path[p + 1] && edges[x].at.line) {
                            at = edges[x].at;
                            break;
                        }
                }
                ERR(d, at, "feeds: the module graph has a cycle: %s (bridges must form an "
                    "acyclic graph)", text);
                *cyclic = 1;
            }
        }
    }
    rc = hg_diags_errors(d) == errors_before ? 0 : -1;
    if (ne) {
        *edges_out = edges;
        *nedges_out = ne;
        edges = NULL;
    }
out:
    free(ix);
    free(edges);
    free(first);
    free(next);
    free(path);
    free(colour);
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
            ERR(d, pick(s->cp.at, s->at, s->at),
                "%s: cp = %d at a bridge end (%s -> %s), which needs cp = 1 (Megatron's "
                "BridgeCommunicator asserts it); set cp: 1, or remove the bridge with "
                "feeds: [] on %s", m->name, m->cp, a->name, b->name, a->name);
        }
        if (!a->size || !b->size)
            continue;
        if (a->dp % b->dp != 0 && b->dp % a->dp != 0) {
            ERR(d, pick(ed->at, sa->dp.at, pick(sa->size.at, sa->at, sa->at)),
                "%s -> %s: %s dp = %d and %s dp = %d do not divide each other, which a "
                "bridge needs (Megatron's BridgeCommunicator raises); change one, or remove "
                "the bridge with feeds: [] on %s", a->name, b->name, a->name, a->dp, b->name,
                b->dp, a->name);
            continue;
        }
        /* Rule 6: a micro-batch of the destination's dp replicas splits evenly over
         * the source's. */
        long long per_step = mbs * b->dp;
        if (!has_batch || per_step % a->dp == 0)
            continue;
        hg_mark at = pick(sa->dp.at, sa->at, sa->at);
        if (a->role == HG_ROLE_ENCODER && b->role == HG_ROLE_LANGUAGE)
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

int hg_validate(const hg_config *cfg, unsigned flags, hg_module *out, int *world,
                hg_diags *d)
{
    return hg_validate_graph(cfg, flags, out, world, NULL, NULL, d);
}

int hg_validate_graph(const hg_config *cfg, unsigned flags, hg_module *out, int *world,
                      hg_edge **edges_out, size_t *nedges_out, hg_diags *d)
{
    size_t errors_before = hg_diags_errors(d);
    size_t first_diag = hg_diags_size(d);
    int tiled = 1; /* every module so far has a size, so next is where the next starts */
    int colocated = cfg->layout == HG_LAYOUT_COLOCATED;
    long long next = 0;
    const hg_module_spec *language = NULL;
    size_t language_i = 0;
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
    for (size_t i = 0; i < cfg->nmodules; i++) {
        const hg_module_spec *s = &cfg->modules[i];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->modules[j].name, s->name) != 0)
                continue;
            /* An alias repeats the very same node, so both carry one position. */
            if (s->name_at.line == cfg->modules[j].name_at.line
                && s->name_at.col == cfg->modules[j].name_at.col)
                ERR(d, cfg->modules_at,
                    "modules: entry %zu repeats entry %zu through an alias, so the name '%s' "
                    "is used twice", i + 1, j + 1, s->name);
            else
                ERR(d, pick(s->name_at, s->at, s->at),
                    "duplicate module name '%s' (first used at %d:%d)", s->name,
                    cfg->modules[j].name_at.line, cfg->modules[j].name_at.col);
            break;
        }
        if (s->role == HG_ROLE_LANGUAGE) {
            if (language)
                ERR(d, pick(s->role_at, s->at, s->at),
                    "%s: a second language module (the first is '%s'); exactly one is allowed",
                    s->name, language->name);
            else {
                language = s;
                language_i = i;
            }
        }
        if (colocated && s->feeds_at.line)
            ERR(d, s->feeds_at,
                "%s: feeds has no meaning in a colocated layout (every module holds every "
                "rank, so there are no bridges)", s->name);
        resolve_module(s, &out[i], d);
        if (colocated) {
            /* Rule 5, colocated: every module spans [0, world) from rank 0. */
            if (s->offset.at.line && s->offset.v != 0)
                ERR(d, s->offset.at,
                    "%s: offset %lld in a colocated layout, where every module starts at "
                    "rank 0", s->name, s->offset.v);
            out[i].offset = 0;
            continue;
        }
        if (!out[i].size) {
            tiled = 0;
            continue;
        }
        /* Rule 5: modules tile [0, world) in order; past a module of unknown size the
         * offsets are unknown too. */
        if (tiled) {
            if (s->offset.at.line && s->offset.v != next)
                ERR(d, s->offset.at,
                    "%s: offset %lld does not match the tiling: modules are placed in order "
                    "with no gap, so it starts at rank %lld", s->name, s->offset.v, next);
            out[i].offset = (int)next;
            next += out[i].size;
            if (next > HG_MAX_WORLD) {
                ERR(d, s->at, "%s: the modules so far need %lld ranks, more than %d", s->name,
                    next, HG_MAX_WORLD);
                tiled = 0;
            }
        }
    }
    if (!language)
        ERR(d, cfg->modules_at, "modules: no module has role: language (exactly one is required)");

    if (colocated) {
        /* The world is world_size when given, else the language module's size; each
         * module of known size is held against it. */
        const hg_module *ref = language ? &out[language_i] : &out[0];
        next = cfg->world_size.at.line ? cfg->world_size.v : ref->size;
        for (size_t i = 0; next && i < cfg->nmodules; i++) {
            const hg_module_spec *s = &cfg->modules[i];
            if (!out[i].size || out[i].size == next)
                continue;
            hg_mark at = pick(s->size.at, s->dp.at, s->at);
            if (cfg->world_size.at.line)
                ERR(d, at, "%s: size %d does not equal world_size %lld (in a colocated layout "
                    "every module spans all ranks)", s->name, out[i].size, next);
            else
                ERR(d, at, "%s: size %d does not equal %s's size %lld (in a colocated layout "
                    "every module spans all ranks)", s->name, out[i].size, ref->name, next);
        }
    } else if (tiled && cfg->world_size.at.line && cfg->world_size.v != next)
        ERR(d, cfg->world_size.at,
            "world_size %lld does not equal the sum of module sizes, %lld", cfg->world_size.v,
            next);

    /* Rule 9: the module graph, disjoint layouts only. A wrong feeds entry drops only
     * itself, so the other bridges are still checked; a cycle leaves which edge is meant
     * open, so no bridge is. */
    int cyclic = 0;
    if (!colocated)
        build_graph(cfg, language ? language_i : SIZE_MAX, &edges, &ne, &cyclic, d);
    unsigned char *cp_told = calloc(cfg->nmodules, 1);
    if (!cyclic)
        check_bridges(cfg, out, edges, ne, cp_told, d);

    /* Rules 6 and 7 need the batch; they bind only when one is given. Rule 6 is per
     * bridge (check_bridges); colocated, each encoder against the language module. */
    int has_batch = cfg->micro_batch_size.at.line || cfg->global_batch_size.at.line;
    if (language && out[language_i].size && has_batch) {
        long long mbs = cfg->micro_batch_size.at.line ? cfg->micro_batch_size.v : 1;
        const hg_module *lm = &out[language_i];
        long long per_step = mbs * lm->dp;
        for (size_t i = 0; colocated && i < cfg->nmodules; i++) {
            const hg_module *m = &out[i];
            if (m->role != HG_ROLE_ENCODER || !m->size || per_step % m->dp == 0)
                continue;
            ERR(d, pick(cfg->modules[i].dp.at, cfg->modules[i].at, cfg->modules[i].at),
                "%s: micro_batch_size*language dp = %lld*%d = %lld is not divisible by encoder "
                "dp = %d (the encoder bridge fans out evenly)", m->name, mbs, lm->dp, per_step,
                m->dp);
        }
        if (cfg->global_batch_size.at.line && cfg->global_batch_size.v % per_step != 0)
            ERR(d, cfg->global_batch_size.at,
                "batch.global_batch_size %lld is not divisible by micro_batch_size*language dp "
                "= %lld*%d = %lld", cfg->global_batch_size.v, mbs, lm->dp, per_step);
    }
    check_mimo_runtime(cfg, out, flags, cp_told, d);
    free(cp_told);

    /* The checks above run rule by rule; the reader gets them top to bottom. */
    hg_diags_sort_from(d, first_diag);
    if (hg_diags_errors(d) != errors_before) {
        free(edges);
        return HG_ECONFIG;
    }
    *world = (int)next;
    if (edges_out) {
        *edges_out = edges;
        *nedges_out = ne;
    } else {
        free(edges);
    }
    return 0;
}
