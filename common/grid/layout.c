/* Layout: rank spans and Megatron HyperCommGrid group enumeration.
 *
 * A module's ranks factor as a mixed-radix number in two views (grid/dims.h), dense
 * [tp, gtp_remat, cp, dp, pp] and expert [expert_tp, ep, expert_gtp_remat, expert_dp,
 * pp], first dim fastest.
 * A group kind is a view plus a subset of its dims: a group holds the ranks that differ
 * only in those dims. HyperCommGrid sorts a kind's dims into grid order, so members
 * ascend (first dim fastest), and groups are ordered by the remaining dims with pp
 * outermost, which is the order of their lowest members. Group g's remaining-dim
 * coordinates are g read in that same mixed radix, so any group is computed in
 * O(its size) without enumerating the others. */
#include "grid/layout.h"

#include <stdlib.h>
#include <string.h>

enum { DENSE = HG_VIEW_DENSE, EXPERT = HG_VIEW_EXPERT };
enum { NV = HG_VIEW_DIMS, PP_AXIS = HG_VIEW_DIMS - 1 }; /* pp is every view's last dim */

/* What a kind spans: a view and the dims of that view that vary within a group. Names
 * and order are base.h's HG_KINDS. */
typedef struct kind_def {
    int view;
    unsigned mask; /* bit i: dim i of the view varies within a group */
} kind_def;

/* Each dim's bit in its view's masks, from its place in the view (dims.h), so a dim put
 * into the middle of a view changes no kind's line. */
#define POS_(D) DPOS_##D,
enum { HG_DENSE_VIEW(POS_) };
#undef POS_
#define POS_(D) EPOS_##D,
enum { HG_EXPERT_VIEW(POS_) };
#undef POS_
/* A dense (D) or expert (E) dim's bit, by its HG_DIMS name: D(TP), E(EXPT_TP). */
#define D(NAME) (1u << DPOS_##NAME)
#define E(NAME) (1u << EPOS_##NAME)
_Static_assert(DPOS_PP == NV - 1 && EPOS_PP == NV - 1, "pp is every view's last dim");

static const kind_def kinds[HG_KIND_COUNT] = {
    [HG_KIND_TP] = { DENSE, D(TP) },
    [HG_KIND_CP] = { DENSE, D(CP) },
    [HG_KIND_PP] = { DENSE, D(PP) },
    [HG_KIND_DP] = { DENSE, D(DP) },
    [HG_KIND_DP_CP] = { DENSE, D(CP) | D(DP) },
    [HG_KIND_TP_CP] = { DENSE, D(TP) | D(CP) },
    /* Megatron's mp, tp_dp, tp_dp_cp and tp_cp_dp_pp (intra_dist_opt) span gtp_remat. */
    [HG_KIND_MP] = { DENSE, D(TP) | D(GTP_REMAT) | D(PP) },
    [HG_KIND_TP_DP] = { DENSE, D(TP) | D(GTP_REMAT) | D(DP) },
    [HG_KIND_TP_DP_CP] = { DENSE, D(TP) | D(GTP_REMAT) | D(CP) | D(DP) },
    [HG_KIND_TP_CP_DP_PP] = { DENSE, D(TP) | D(GTP_REMAT) | D(CP) | D(DP) | D(PP) },
    [HG_KIND_EP] = { EXPERT, E(EP) },
    [HG_KIND_EXPT_TP] = { EXPERT, E(EXPT_TP) },
    [HG_KIND_EXPT_DP] = { EXPERT, E(EXPT_DP) },
    [HG_KIND_TP_EP] = { EXPERT, E(EXPT_TP) | E(EP) },
    [HG_KIND_TP_EP_PP] = { EXPERT, E(EXPT_TP) | E(EP) | E(PP) },
    /* Derived from the pp groups; see embd_* below. */
    [HG_KIND_EMBD] = { DENSE, D(PP) },
    [HG_KIND_POS_EMBD] = { DENSE, D(PP) },
    [HG_KIND_GTP_REMAT] = { DENSE, D(GTP_REMAT) },
    [HG_KIND_GTP_REMAT_DP_CP] = { DENSE, D(GTP_REMAT) | D(CP) | D(DP) },
    [HG_KIND_EXPT_GTP_REMAT] = { EXPERT, E(EXPT_GTP_REMAT) },
    [HG_KIND_TP_EP_GTP_REMAT_PP] = { EXPERT, E(EXPT_TP) | E(EP) | E(EXPT_GTP_REMAT) | E(PP) },
    [HG_KIND_EP_GTP_REMAT_DP] = { EXPERT, E(EXPT_GTP_REMAT) | E(EXPT_DP) },
};
#undef D
#undef E

/* Megatron's ProcessGroupCollection fields each kind fills (pg_collection_from_grid
 * and the MIMO example's topology), the plans' "fields", which python/hgrid reads: the
 * existing kinds their own name (as hgrid.torch has always set it) and their aliases
 * (intra_dp_cp, intra_expt_dp, intra_dist_opt); the GTP kinds Megatron's names. */
static const char *const kind_fields[HG_KIND_COUNT][3] = {
    [HG_KIND_TP] = { "tp" },
    [HG_KIND_CP] = { "cp" },
    [HG_KIND_PP] = { "pp" },
    [HG_KIND_DP] = { "dp" },
    [HG_KIND_DP_CP] = { "dp_cp", "intra_dp_cp" },
    [HG_KIND_TP_CP] = { "tp_cp" },
    [HG_KIND_MP] = { "mp" },
    [HG_KIND_TP_DP] = { "tp_dp" },
    [HG_KIND_TP_DP_CP] = { "tp_dp_cp" },
    [HG_KIND_TP_CP_DP_PP] = { "tp_cp_dp_pp", "intra_dist_opt" },
    [HG_KIND_EP] = { "ep" },
    [HG_KIND_EXPT_TP] = { "expt_tp" },
    [HG_KIND_EXPT_DP] = { "expt_dp", "intra_expt_dp" },
    [HG_KIND_TP_EP] = { "tp_ep" },
    [HG_KIND_TP_EP_PP] = { "tp_ep_pp" },
    [HG_KIND_EMBD] = { "embd" },
    [HG_KIND_POS_EMBD] = { "pos_embd" },
    [HG_KIND_GTP_REMAT] = { "gtp_remat" },
    [HG_KIND_GTP_REMAT_DP_CP] = { "dp_cp_gtp_remat" },
    [HG_KIND_EXPT_GTP_REMAT] = { "expt_gtp_remat" },
    [HG_KIND_TP_EP_GTP_REMAT_PP] = { "tp_ep_pp_with_egtp_remat" },
    [HG_KIND_EP_GTP_REMAT_DP] = { "expt_dp_gtp_remat" },
};

int hg_kind_fields(hg_kind kind, const char *const **fields)
{
    int n = 0;
    *fields = kind_fields[kind];
    while (n < 3 && kind_fields[kind][n])
        n++;
    return n;
}

#define KIND_NAME_(NAME, name) [HG_KIND_##NAME] = HG_STRINGIFY(name),
static const char *const kind_names[HG_KIND_COUNT] = { HG_KINDS(KIND_NAME_) };
#undef KIND_NAME_

const char *hg_kind_name(hg_kind kind)
{
    if (kind == HG_KIND_WORLD)
        return "world";
    return (unsigned)kind < HG_KIND_COUNT ? kind_names[kind] : "?";
}

int hg_kind_dims(hg_kind kind, hg_dim dims[HG_VIEW_DIMS])
{
    int n = 0;
    for (int i = 0; i < HG_VIEW_DIMS; i++)
        if (kinds[kind].mask & (1u << i))
            dims[n++] = hg_view_dim[kinds[kind].view][i];
    return n;
}

const char *hg_kind_view_name(hg_kind kind)
{
    return kinds[kind].view == DENSE ? "dense" : "expert";
}

static int is_embedding_kind(hg_kind kind)
{
    return kind == HG_KIND_EMBD || kind == HG_KIND_POS_EMBD;
}

const char *hg_kind_members(hg_kind kind)
{
    return kind == HG_KIND_EMBD ? "first and last" : kind == HG_KIND_POS_EMBD ? "first" : NULL;
}

int hg_kind_applies(const hg_module *m, hg_kind kind)
{
    return !is_embedding_kind(kind) || m->role == HG_ROLE_LANGUAGE;
}

static void view_dims(const hg_module *m, int view, int dims[NV])
{
    for (int i = 0; i < NV; i++)
        dims[i] = m->dim[hg_view_dim[view][i]];
}

static void view_strides(const int dims[NV], int strides[NV])
{
    strides[0] = 1;
    for (int i = 1; i < NV; i++)
        strides[i] = strides[i - 1] * dims[i - 1];
}

int hg_group_count(const hg_module *m, hg_kind kind)
{
    int dims[NV], n = 1;
    view_dims(m, kinds[kind].view, dims);
    for (int i = 0; i < NV; i++)
        if (!(kinds[kind].mask & (1u << i)))
            n *= dims[i];
    return n;
}

int hg_group_size(const hg_module *m, hg_kind kind, int group)
{
    (void)group; /* every group of a kind has the same size */
    if (kind == HG_KIND_EMBD)
        return m->pp == 1 ? 1 : 2;
    if (kind == HG_KIND_POS_EMBD)
        return 1;
    int dims[NV], n = 1;
    view_dims(m, kinds[kind].view, dims);
    for (int i = 0; i < NV; i++)
        if (kinds[kind].mask & (1u << i))
            n *= dims[i];
    return n;
}

/* out[j] = r + j*step for j < n. FILL_LANES values at a time through a small block, a
 * shape compilers keep in vector registers at -O2 (measured: 32 lanes write 2x faster
 * than 8). A rank's view is mostly such runs (a whole module's ranks), and this is most
 * of its cost. Values stay below r + (n + 32) * step <= 34 * HG_MAX_WORLD < INT_MAX. */
#define FILL_LANES 32
static void fill_run(int *out, int r, int step, int n)
{
    int v[FILL_LANES], j = 0;
    for (int k = 0; k < FILL_LANES; k++)
        v[k] = r + k * step;
    for (; j + FILL_LANES <= n; j += FILL_LANES) {
        memcpy(out + j, v, sizeof(v));
        for (int k = 0; k < FILL_LANES; k++)
            v[k] += FILL_LANES * step;
    }
    for (; j < n; j++)
        out[j] = r + j * step;
}

/* The lowest member of group `group` of kind k: its remaining-dim coordinates are
 * `group` in mixed radix, first remaining dim fastest. */
static int group_base_rank(const hg_module *m, const kind_def *k, const int dims[NV],
                           const int strides[NV], int group)
{
    int base = m->offset, rest = group;
    for (int i = 0; i < NV; i++) {
        if (k->mask & (1u << i))
            continue;
        base += (rest % dims[i]) * strides[i];
        rest /= dims[i];
    }
    return base;
}

/* The varying dims of kind k as runs: size-1 dims dropped and each dim whose stride
 * continues the one before merged into it (same order, so members still ascend). A
 * whole module, or tp x dp when cp = 1, becomes one run of consecutive ranks. Returns
 * how many runs. */
static int varying_runs(const kind_def *k, const int dims[NV], const int strides[NV],
                        int vdims[NV], int vstrides[NV])
{
    int nv = 0;
    for (int i = 0; i < NV; i++) {
        if (!(k->mask & (1u << i)) || dims[i] == 1)
            continue;
        if (nv && vstrides[nv - 1] * vdims[nv - 1] == strides[i]) {
            vdims[nv - 1] *= dims[i];
            continue;
        }
        vdims[nv] = dims[i];
        vstrides[nv] = strides[i];
        nv++;
    }
    return nv;
}

/* members: every rank base + sum c[i] * vstrides[i] (c[i] < vdims[i]), ascending.
 * fill_run writes the fastest run; an odometer over the other runs, first fastest,
 * steps its start. */
static void fill_runs(int *members, int base, const int vdims[NV], const int vstrides[NV],
                      int nv)
{
    int c[NV] = { 0 }, r = base;
    for (int *out = members;; out += vdims[0]) {
        fill_run(out, r, vstrides[0], vdims[0]);
        int i = 1;
        while (i < nv) {
            if (++c[i] < vdims[i]) {
                r += vstrides[i];
                break;
            }
            r -= (vdims[i] - 1) * vstrides[i];
            c[i] = 0;
            i++;
        }
        if (i == nv)
            return;
    }
}

void hg_group_members(const hg_module *m, hg_kind kind, int group, int *members)
{
    const kind_def *k = &kinds[kind];
    int dims[NV], strides[NV];
    view_dims(m, k->view, dims);
    view_strides(dims, strides);
    int base = group_base_rank(m, k, dims, strides, group);
    if (is_embedding_kind(kind)) {
        /* Embedding groups: the first (and, for embd, last) stage of a pp group. */
        members[0] = base;
        if (kind == HG_KIND_EMBD && m->pp > 1)
            members[1] = base + (m->pp - 1) * strides[PP_AXIS];
        return;
    }
    int vdims[NV], vstrides[NV];
    int nv = varying_runs(k, dims, strides, vdims, vstrides);
    if (nv == 0)
        members[0] = base;
    else
        fill_runs(members, base, vdims, vstrides, nv);
}

void hg_group_walk(const hg_module *m, hg_kind kind, int *members,
                   void (*fn)(void *ctx, const int *members, int size), void *ctx)
{
    int count = hg_group_count(m, kind), size = hg_group_size(m, kind, 0);
    if (is_embedding_kind(kind)) {
        for (int g = 0; g < count; g++) {
            hg_group_members(m, kind, g, members);
            fn(ctx, members, size);
        }
        return;
    }
    const kind_def *k = &kinds[kind];
    int dims[NV], strides[NV], vdims[NV], vstrides[NV];
    view_dims(m, k->view, dims);
    view_strides(dims, strides);
    int nv = varying_runs(k, dims, strides, vdims, vstrides);
    /* The other dims as an odometer, first fastest: group g's lowest member without a
     * division per group (group_base_rank's order). */
    int odims[NV], ostrides[NV], c[NV] = { 0 }, no = 0, base = m->offset;
    for (int i = 0; i < NV; i++)
        if (!(k->mask & (1u << i)) && dims[i] > 1) {
            odims[no] = dims[i];
            ostrides[no++] = strides[i];
        }
    for (int g = 0; g < count; g++) {
        if (nv == 0)
            members[0] = base;
        else
            fill_runs(members, base, vdims, vstrides, nv);
        fn(ctx, members, size);
        for (int i = 0; i < no; i++) {
            if (++c[i] < odims[i]) {
                base += ostrides[i];
                break;
            }
            base -= (odims[i] - 1) * ostrides[i];
            c[i] = 0;
        }
    }
}

struct hg_layout {
    int world;
    size_t n;
    hg_module *modules;
    hg_layout_kind mode;
    int language;       /* index of the language module */
    size_t nbridges;
    hg_bridge *bridges; /* plan order: by source module, then destination */
    /* Per module: its outgoing bridges are bridges[out_first[m] .. out_first[m + 1]);
     * its incoming ones are in_list[in_first[m] .. in_first[m + 1]), ascending. */
    int *out_first, *in_first, *in_list;
};

static hg_bridge_mode bridge_mode_of(int S, int D)
{
    return S == D ? HG_BRIDGE_ONE_TO_ONE : S > D ? HG_BRIDGE_FAN_IN : HG_BRIDGE_FAN_OUT;
}

/* Bridges from the graph's edges (already in plan order) and the per-module indexes
 * that give one rank its bridges in O(its bridges). */
static int build_bridges(hg_layout *l, const hg_edge *edges, size_t ne)
{
    size_t n = l->n;
    l->bridges = malloc((ne ? ne : 1) * sizeof(*l->bridges));
    l->out_first = calloc(n + 1, sizeof(int));
    l->in_first = calloc(n + 1, sizeof(int));
    l->in_list = malloc((ne ? ne : 1) * sizeof(int));
    if (!l->bridges || !l->out_first || !l->in_first || !l->in_list)
        return HG_ENOMEM;
    l->nbridges = ne;
    for (size_t e = 0; e < ne; e++) {
        const hg_module *a = &l->modules[edges[e].src], *b = &l->modules[edges[e].dest];
        hg_bridge *br = &l->bridges[e];
        br->src = edges[e].src;
        br->dest = edges[e].dest;
        /* One leader per dp x gtp_remat lane (Megatron's get_leader_rank). */
        br->nsrc = a->dp * a->gtp_remat;
        br->ndest = b->dp * b->gtp_remat;
        br->mode = bridge_mode_of(br->nsrc, br->ndest);
        br->nlinks = br->nsrc > br->ndest ? br->nsrc : br->ndest;
        l->out_first[br->src + 1]++;
        l->in_first[br->dest + 1]++;
    }
    for (size_t m = 0; m < n; m++) {
        l->out_first[m + 1] += l->out_first[m];
        l->in_first[m + 1] += l->in_first[m];
    }
    /* Counting sort by destination keeps each module's list in bridge order. */
    int *fill = malloc((n ? n : 1) * sizeof(int));
    if (!fill)
        return HG_ENOMEM;
    memcpy(fill, l->in_first, n * sizeof(int));
    for (size_t e = 0; e < ne; e++)
        l->in_list[fill[l->bridges[e].dest]++] = (int)e;
    free(fill);
    return 0;
}

int hg_layout_build(const hg_config *cfg, unsigned flags, hg_layout **out, hg_diags *diags)
{
    *out = NULL;
    hg_layout *l = calloc(1, sizeof(*l));
    hg_module *mods = calloc(cfg->nmodules ? cfg->nmodules : 1, sizeof(*mods));
    if (!l || !mods) {
        free(l);
        free(mods);
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory");
        return HG_ENOMEM;
    }
    hg_edge *edges = NULL;
    size_t ne = 0;
    int rc = hg_validate_graph(cfg, flags, mods, &l->world, &edges, &ne, diags);
    if (rc != 0) {
        free(l);
        free(mods);
        return rc;
    }
    l->n = cfg->nmodules;
    l->modules = mods;
    l->mode = cfg->layout;
    for (size_t i = 0; i < l->n; i++)
        if (mods[i].role == HG_ROLE_LANGUAGE)
            l->language = (int)i;
    rc = build_bridges(l, edges, ne);
    free(edges);
    if (rc != 0) {
        hg_layout_free(l);
        hg_diags_add(diags, HG_DIAG_ERROR, 0, 0, "out of memory");
        return rc;
    }
    *out = l;
    return 0;
}

int hg_layout_load_bytes(const char *bytes, size_t len, unsigned flags, hg_config **cfg,
                         hg_layout **out, hg_diags *diags)
{
    *cfg = NULL;
    *out = NULL;
    int rc = hg_config_parse(bytes, len, cfg, diags);
    if (rc == 0)
        rc = hg_layout_build(*cfg, flags, out, diags);
    return rc;
}

int hg_layout_load(const char *path, unsigned flags, hg_config **cfg, hg_layout **out,
                   hg_diags *diags)
{
    char *bytes = NULL;
    size_t len = 0;
    *cfg = NULL;
    *out = NULL;
    int rc = hg_config_read_file(path, &bytes, &len, diags);
    if (rc == 0)
        rc = hg_layout_load_bytes(bytes, len, flags, cfg, out, diags);
    free(bytes);
    return rc;
}

void hg_layout_free(hg_layout *l)
{
    if (!l)
        return;
    free(l->modules);
    free(l->bridges);
    free(l->out_first);
    free(l->in_first);
    free(l->in_list);
    free(l);
}

int hg_layout_world_size(const hg_layout *l) { return l->world; }
size_t hg_layout_module_count(const hg_layout *l) { return l->n; }
const hg_module *hg_layout_module(const hg_layout *l, size_t i)
{
    return i < l->n ? &l->modules[i] : NULL;
}

int hg_layout_module_of(const hg_layout *l, int rank)
{
    if (rank < 0 || rank >= l->world)
        return -1;
    if (l->mode == HG_LAYOUT_COLOCATED)
        return l->language; /* every module holds every rank; the language module leads */
    /* Modules tile [0, world) in order: binary search on offsets. */
    size_t lo = 0, hi = l->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->modules[mid].offset <= rank)
            lo = mid;
        else
            hi = mid;
    }
    return (int)lo;
}

static void view_coords(const hg_module *m, int local, int view, int c[NV])
{
    int dims[NV];
    view_dims(m, view, dims);
    for (int i = 0; i < NV; i++) {
        c[i] = local % dims[i];
        local /= dims[i];
    }
}

static hg_coords coords_of(const int dc[NV], const int ec[NV])
{
    /* pp, in both views, is the same coordinate either way. */
    hg_coords c = { .dim = { 0 } };
    for (int i = 0; i < NV; i++) {
        c.dim[hg_view_dim[EXPERT][i]] = ec[i];
        c.dim[hg_view_dim[DENSE][i]] = dc[i];
    }
    return c;
}

void hg_module_coords(const hg_module *m, int rank, hg_coords *out)
{
    int dc[NV], ec[NV];
    view_coords(m, rank - m->offset, DENSE, dc);
    view_coords(m, rank - m->offset, EXPERT, ec);
    *out = coords_of(dc, ec);
}

/* Which group of `kind` holds a rank with view coordinates c, and its position in it. */
static void locate_in_group(const hg_module *m, hg_kind kind, const int c[NV], int *group, int *pos)
{
    const kind_def *k = &kinds[kind];
    int dims[NV];
    view_dims(m, k->view, dims);
    int g = 0, gs = 1, p = 0, ps = 1;
    for (int i = 0; i < NV; i++) {
        if (k->mask & (1u << i)) {
            p += c[i] * ps;
            ps *= dims[i];
        } else {
            g += c[i] * gs;
            gs *= dims[i];
        }
    }
    *group = g;
    *pos = p;
}

/* rank's view in module mi alone: coordinates and groups. */
static int build_module_view(const hg_layout *l, int rank, int mi, hg_rank_view *out, hg_error *err)
{
    memset(out, 0, sizeof(*out));
    const hg_module *m = &l->modules[mi];
    int local = rank - m->offset;
    int dc[NV], ec[NV];
    view_coords(m, local, DENSE, dc);
    view_coords(m, local, EXPERT, ec);

    size_t total = 0;
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (hg_kind_applies(m, (hg_kind)k))
            total += (size_t)hg_group_size(m, (hg_kind)k, 0);
    int *storage = malloc(total * sizeof(int));
    if (!storage)
        return hg_error_set(err, HG_ENOMEM, "out of memory for rank %d's view", rank);

    out->rank = rank;
    out->world_size = l->world;
    out->layout = l->mode;
    out->module_index = mi;
    out->module = *m;
    out->module_rank = local;
    out->coords = coords_of(dc, ec);
    out->storage = storage;

    int *next = storage;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        hg_rank_group *g = &out->groups[k];
        g->index = -1;
        if (!hg_kind_applies(m, (hg_kind)k))
            continue;
        int group, pos;
        locate_in_group(m, (hg_kind)k, kinds[k].view == DENSE ? dc : ec, &group, &pos);
        if (is_embedding_kind((hg_kind)k)) {
            int last = dc[PP_AXIS] == m->pp - 1;
            if (dc[PP_AXIS] != 0 && !(k == HG_KIND_EMBD && last))
                continue; /* a middle pp stage holds no embedding */
            pos = dc[PP_AXIS] == 0 ? 0 : 1;
        }
        g->index = group;
        g->size = hg_group_size(m, (hg_kind)k, group);
        g->pos = pos;
        g->members = next;
        hg_group_members(m, (hg_kind)k, group, next);
        next += g->size;
    }
    return 0;
}

int hg_rank_view_build_module(const hg_layout *l, int rank, int module_index,
                              hg_rank_view *out, hg_error *err)
{
    memset(out, 0, sizeof(*out));
    if (rank < 0 || rank >= l->world)
        return hg_error_set(err, HG_EINVAL, "rank %d is outside the world [0, %d)", rank,
                            l->world);
    if (module_index < 0 || (size_t)module_index >= l->n)
        return hg_error_set(err, HG_EINVAL, "module %d does not exist (the layout has %zu)",
                            module_index, l->n);
    const hg_module *m = &l->modules[module_index];
    if (rank < m->offset || rank - m->offset >= m->size)
        return hg_error_set(err, HG_EINVAL, "rank %d is not in module %s (ranks %d-%d)", rank,
                            m->name, m->offset, m->offset + m->size - 1);
    return build_module_view(l, rank, module_index, out, err);
}

/* The bridges of a rank, in bridge order: its module's outgoing ones
 * bridges[oi .. o1) when it is on the last pp stage, and its incoming ones
 * in_list[ii .. i1) when it is on the first, merged. */
typedef struct rank_bridge_cursor {
    int oi, o1, ii, i1;
} rank_bridge_cursor;

static rank_bridge_cursor rank_bridges_start(const hg_layout *l, const hg_rank_view *v)
{
    int mi = v->module_index;
    const hg_module *m = &l->modules[mi];
    int last = v->coords.pp == m->pp - 1, first = v->coords.pp == 0;
    rank_bridge_cursor c;
    c.oi = l->out_first[mi];
    c.o1 = last ? l->out_first[mi + 1] : c.oi;
    c.ii = l->in_first[mi];
    c.i1 = first ? l->in_first[mi + 1] : c.ii;
    return c;
}

/* The next bridge's index and the rank's side of it, or -1 after the last. */
static int rank_bridges_next(const hg_layout *l, rank_bridge_cursor *c, hg_bridge_side *side)
{
    if (c->oi >= c->o1 && c->ii >= c->i1)
        return -1;
    if (c->ii >= c->i1 || (c->oi < c->o1 && c->oi < l->in_list[c->ii])) {
        *side = HG_BRIDGE_SRC;
        return c->oi++;
    }
    *side = HG_BRIDGE_DEST;
    return l->in_list[c->ii++];
}

/* A rank's bridge lane: its gtp_remat coordinate, then dp (gtp_remat fastest). */
static int lane_of(const hg_rank_view *v)
{
    return v->coords.gtp_remat + v->module.gtp_remat * v->coords.dp;
}

/* The leader of the rank's dp replica on its side of br. When the rank is that leader,
 * [*lo, *hi) are the other side's replicas it exchanges with; else the range is empty. */
static int rank_bridge_peers(const hg_layout *l, const hg_rank_view *v, const hg_bridge *br,
                             hg_bridge_side side, int *lo, int *hi)
{
    int r = lane_of(v);
    int leader = hg_bridge_leader(l, br, side, r);
    *lo = *hi = 0;
    if (leader != v->rank)
        return leader;
    /* The side with more leaders has one peer each; the other, a range. */
    int mine = side == HG_BRIDGE_SRC ? br->nsrc : br->ndest;
    int theirs = side == HG_BRIDGE_SRC ? br->ndest : br->nsrc;
    if (mine >= theirs) {
        *lo = r / (mine / theirs);
        *hi = *lo + 1;
    } else {
        *lo = r * (theirs / mine);
        *hi = *lo + theirs / mine;
    }
    return leader;
}

/* rb: bridge b as the rank sees it from side; the leaders of its peers are written
 * from peer on. Returns where the next bridge's peers go. */
static int *fill_rank_bridge(const hg_layout *l, const hg_rank_view *v, int b,
                             hg_bridge_side side, hg_rank_bridge *rb, int *peer)
{
    const hg_bridge *br = &l->bridges[b];
    const hg_rank_group *g = &v->groups[HG_KIND_TP_CP];
    hg_bridge_side other = side == HG_BRIDGE_SRC ? HG_BRIDGE_DEST : HG_BRIDGE_SRC;
    int lo, hi;
    int leader = rank_bridge_peers(l, v, br, side, &lo, &hi);
    rb->bridge = b;
    rb->src = br->src;
    rb->dest = br->dest;
    snprintf(rb->src_name, sizeof(rb->src_name), "%s", l->modules[br->src].name);
    snprintf(rb->dest_name, sizeof(rb->dest_name), "%s", l->modules[br->dest].name);
    rb->mode = br->mode;
    rb->side = side;
    rb->role = leader != v->rank ? HG_BRIDGE_MEMBER
               : side == HG_BRIDGE_SRC ? HG_BRIDGE_SENDER : HG_BRIDGE_RECEIVER;
    rb->replica = lane_of(v);
    rb->leader = leader;
    rb->npeers = hi - lo;
    rb->peers = peer;
    for (int p = lo; p < hi; p++)
        *peer++ = hg_bridge_leader(l, br, other, p);
    rb->group_kind = HG_KIND_TP_CP;
    rb->group_index = g->index;
    rb->nbroadcast = g->size;
    rb->broadcast = g->members;
    rb->pos = g->pos;
    rb->ngroup = hg_bridge_group_size(br);
    rb->group = peer;
    hg_bridge_group_members(l, br, peer);
    rb->group_pos = -1;
    for (int i = 0; i < rb->ngroup; i++)
        if (peer[i] == v->rank)
            rb->group_pos = i;
    return peer + rb->ngroup;
}

/* The bridge roles of the rank of view v (its module's view, built): every outgoing
 * bridge when it is on the last pp stage, every incoming one on the first, merged into
 * bridge order. Two passes: count the peers, then fill one block. O(own bridges + their
 * peers). */
static int add_rank_bridges(const hg_layout *l, hg_rank_view *v, hg_error *err)
{
    rank_bridge_cursor start = rank_bridges_start(l, v), c;
    int nb = (start.o1 - start.oi) + (start.i1 - start.ii);
    if (nb == 0)
        return 0;
    int b, lo, hi, npeers = 0;
    hg_bridge_side side;
    for (c = start; (b = rank_bridges_next(l, &c, &side)) >= 0;) {
        rank_bridge_peers(l, v, &l->bridges[b], side, &lo, &hi);
        npeers += hi - lo + hg_bridge_group_size(&l->bridges[b]);
    }
    v->bridges = calloc((size_t)nb, sizeof(*v->bridges));
    v->bridge_storage = malloc((size_t)(npeers ? npeers : 1) * sizeof(int));
    if (!v->bridges || !v->bridge_storage)
        return hg_error_set(err, HG_ENOMEM, "out of memory for rank %d's bridges", v->rank);
    v->nbridges = nb;
    int *peer = v->bridge_storage, k = 0;
    for (c = start; (b = rank_bridges_next(l, &c, &side)) >= 0;)
        peer = fill_rank_bridge(l, v, b, side, &v->bridges[k++], peer);
    return 0;
}

int hg_rank_view_build(const hg_layout *l, int rank, hg_rank_view *out, hg_error *err)
{
    memset(out, 0, sizeof(*out));
    int mi = hg_layout_module_of(l, rank);
    if (mi < 0)
        return hg_error_set(err, HG_EINVAL, "rank %d is outside the world [0, %d)", rank,
                            l->world);
    int rc = build_module_view(l, rank, mi, out, err);
    out->source = l;
    if (rc == 0 && l->nbridges)
        rc = add_rank_bridges(l, out, err);
    if (rc == 0 && l->mode == HG_LAYOUT_COLOCATED) {
        out->per_module = calloc(l->n, sizeof(*out->per_module));
        if (!out->per_module)
            rc = hg_error_set(err, HG_ENOMEM, "out of memory for rank %d's view", rank);
        for (size_t i = 0; rc == 0 && i < l->n; i++) {
            rc = build_module_view(l, rank, (int)i, &out->per_module[i], err);
            if (rc == 0)
                out->nmodules_here = (int)i + 1;
        }
    }
    if (rc != 0)
        hg_rank_view_free(out);
    return rc;
}

void hg_rank_view_free(hg_rank_view *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->nmodules_here; i++)
        hg_rank_view_free(&v->per_module[i]);
    free(v->per_module);
    v->per_module = NULL;
    v->nmodules_here = 0;
    free(v->bridges);
    v->bridges = NULL;
    v->nbridges = 0;
    free(v->bridge_storage);
    v->bridge_storage = NULL;
    free(v->storage);
    v->storage = NULL;
}

/* ---- bridges ---- */

const char *hg_bridge_mode_name(hg_bridge_mode mode)
{
    switch (mode) {
    case HG_BRIDGE_ONE_TO_ONE: return "one-to-one";
    case HG_BRIDGE_FAN_IN: return "fan-in";
    case HG_BRIDGE_FAN_OUT: return "fan-out";
    }
    return "?";
}

const char *hg_bridge_side_name(hg_bridge_side side)
{
    return side == HG_BRIDGE_SRC ? "src" : side == HG_BRIDGE_DEST ? "dest" : "?";
}

const char *hg_bridge_role_name(hg_bridge_role role)
{
    switch (role) {
    case HG_BRIDGE_MEMBER: return "member";
    case HG_BRIDGE_SENDER: return "sender";
    case HG_BRIDGE_RECEIVER: return "receiver";
    }
    return "?";
}

hg_layout_kind hg_layout_mode(const hg_layout *l) { return l->mode; }
size_t hg_layout_bridge_count(const hg_layout *l) { return l->nbridges; }
const hg_bridge *hg_layout_bridge(const hg_layout *l, size_t i)
{
    return i < l->nbridges ? &l->bridges[i] : NULL;
}

size_t hg_layout_bridges_from(const hg_layout *l, int module, size_t *first)
{
    if (module < 0 || (size_t)module >= l->n || !l->out_first) {
        *first = 0;
        return 0;
    }
    *first = (size_t)l->out_first[module];
    return (size_t)(l->out_first[module + 1] - l->out_first[module]);
}

static const hg_module *side_module(const hg_layout *l, const hg_bridge *b,
                                    hg_bridge_side side)
{
    return &l->modules[side == HG_BRIDGE_SRC ? b->src : b->dest];
}

int hg_bridge_leader(const hg_layout *l, const hg_bridge *b, hg_bridge_side side, int r)
{
    const hg_module *m = side_module(l, b, side);
    /* Lane r = g + gtp_remat * d; rank = o + t + tp*(g + gtp_remat*(c + cp*(d + dp*p))). */
    int G = m->gtp_remat, g = r % G, d = r / G;
    if (side == HG_BRIDGE_DEST)
        return m->offset + m->tp * (g + G * m->cp * d);
    return m->offset + (m->tp - 1) +
           m->tp * (g + G * ((m->cp - 1) + m->cp * (d + m->dp * (m->pp - 1))));
}

int hg_bridge_broadcast_group(const hg_layout *l, const hg_bridge *b, hg_bridge_side side,
                              int r)
{
    const hg_module *m = side_module(l, b, side);
    /* tp_cp groups are ordered by (gtp_remat, dp, pp), gtp_remat fastest: lane first. */
    return side == HG_BRIDGE_DEST ? r : r + m->gtp_remat * m->dp * (m->pp - 1);
}

int hg_bridge_broadcast_size(const hg_layout *l, const hg_bridge *b, hg_bridge_side side)
{
    const hg_module *m = side_module(l, b, side);
    return m->tp * m->cp;
}

void hg_bridge_broadcast_members(const hg_layout *l, const hg_bridge *b,
                                 hg_bridge_side side, int r, int *members)
{
    hg_group_members(side_module(l, b, side), HG_KIND_TP_CP,
                     hg_bridge_broadcast_group(l, b, side, r), members);
}

int hg_bridge_group_size(const hg_bridge *b) { return b->nsrc + b->ndest; }

void hg_bridge_group_members(const hg_layout *l, const hg_bridge *b, int *members)
{
    /* Each side's leaders ascend with the lane, and the modules are disjoint: the union
     * is the lower module's leaders, then the other's. */
    int first_src = l->modules[b->src].offset < l->modules[b->dest].offset;
    hg_bridge_side order[2] = { first_src ? HG_BRIDGE_SRC : HG_BRIDGE_DEST,
                                first_src ? HG_BRIDGE_DEST : HG_BRIDGE_SRC };
    int k = 0;
    for (int s = 0; s < 2; s++) {
        int n = order[s] == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
        for (int r = 0; r < n; r++)
            members[k++] = hg_bridge_leader(l, b, order[s], r);
    }
}

void hg_bridge_link(const hg_layout *l, const hg_bridge *b, int j, int *sender,
                    int *receiver)
{
    int s, d;
    if (b->nsrc > b->ndest) { /* fan-in: j runs over source leaders */
        s = j;
        d = j / (b->nsrc / b->ndest);
    } else {                  /* j runs over destination leaders */
        d = j;
        s = j / (b->ndest / b->nsrc);
    }
    *sender = hg_bridge_leader(l, b, HG_BRIDGE_SRC, s);
    *receiver = hg_bridge_leader(l, b, HG_BRIDGE_DEST, d);
}
