/* Layout: rank spans and Megatron HyperCommGrid group enumeration.
 *
 * A module's ranks factor as a 4-dim mixed-radix number in two views, dense
 * [tp, cp, dp, pp] and expert [expert_tp, ep, expert_dp, pp], first dim fastest.
 * A group kind is a view plus a subset of its dims: a group holds the ranks that differ
 * only in those dims. HyperCommGrid sorts a kind's dims into grid order, so members
 * ascend (first dim fastest), and groups are ordered by the remaining dims with pp
 * outermost, which is the order of their lowest members. Group g's remaining-dim
 * coordinates are g read in that same mixed radix, so any group is computed in
 * O(its size) without enumerating the others. */
#include "layout.h"

#include <stdlib.h>
#include <string.h>

enum { DENSE = 0, EXPERT = 1 };

typedef struct kind_def {
    const char *name;
    int view;
    unsigned mask; /* bit i: dim i of the view varies within a group */
} kind_def;

static const kind_def kinds[HG_KIND_COUNT] = {
    [HG_KIND_TP] = { "tp", DENSE, 1u << 0 },
    [HG_KIND_CP] = { "cp", DENSE, 1u << 1 },
    [HG_KIND_PP] = { "pp", DENSE, 1u << 3 },
    [HG_KIND_DP] = { "dp", DENSE, 1u << 2 },
    [HG_KIND_DP_CP] = { "dp_cp", DENSE, (1u << 1) | (1u << 2) },
    [HG_KIND_TP_CP] = { "tp_cp", DENSE, (1u << 0) | (1u << 1) },
    [HG_KIND_MP] = { "mp", DENSE, (1u << 0) | (1u << 3) },
    [HG_KIND_TP_DP] = { "tp_dp", DENSE, (1u << 0) | (1u << 2) },
    [HG_KIND_TP_DP_CP] = { "tp_dp_cp", DENSE, (1u << 0) | (1u << 1) | (1u << 2) },
    [HG_KIND_TP_CP_DP_PP] = { "tp_cp_dp_pp", DENSE, 0xFu },
    [HG_KIND_EP] = { "ep", EXPERT, 1u << 1 },
    [HG_KIND_EXPT_TP] = { "expt_tp", EXPERT, 1u << 0 },
    [HG_KIND_EXPT_DP] = { "expt_dp", EXPERT, 1u << 2 },
    [HG_KIND_TP_EP] = { "tp_ep", EXPERT, (1u << 0) | (1u << 1) },
    [HG_KIND_TP_EP_PP] = { "tp_ep_pp", EXPERT, (1u << 0) | (1u << 1) | (1u << 3) },
    /* Derived from the pp groups; see embd_* below. */
    [HG_KIND_EMBD] = { "embd", DENSE, 1u << 3 },
    [HG_KIND_POS_EMBD] = { "pos_embd", DENSE, 1u << 3 },
};

const char *hg_kind_name(hg_kind kind)
{
    if (kind == HG_KIND_WORLD)
        return "world";
    return (unsigned)kind < HG_KIND_COUNT ? kinds[kind].name : "?";
}

int hg_kind_from_name(const char *name)
{
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -1;
}

static int is_embd(hg_kind kind)
{
    return kind == HG_KIND_EMBD || kind == HG_KIND_POS_EMBD;
}

int hg_kind_applies(const hg_module *m, hg_kind kind)
{
    return !is_embd(kind) || m->role == HG_ROLE_LANGUAGE;
}

static void view_dims(const hg_module *m, int view, int dims[4])
{
    if (view == DENSE) {
        dims[0] = m->tp, dims[1] = m->cp, dims[2] = m->dp, dims[3] = m->pp;
    } else {
        dims[0] = m->expert_tp, dims[1] = m->ep, dims[2] = m->expert_dp, dims[3] = m->pp;
    }
}

static void view_strides(const int dims[4], int strides[4])
{
    strides[0] = 1;
    for (int i = 1; i < 4; i++)
        strides[i] = strides[i - 1] * dims[i - 1];
}

int hg_group_count(const hg_module *m, hg_kind kind)
{
    int dims[4], n = 1;
    view_dims(m, kinds[kind].view, dims);
    for (int i = 0; i < 4; i++)
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
    int dims[4], n = 1;
    view_dims(m, kinds[kind].view, dims);
    for (int i = 0; i < 4; i++)
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

void hg_group_members(const hg_module *m, hg_kind kind, int group, int *members)
{
    const kind_def *k = &kinds[kind];
    int dims[4], strides[4];
    view_dims(m, k->view, dims);
    view_strides(dims, strides);

    /* The group's lowest member: its remaining-dim coordinates are `group` in mixed
     * radix, first remaining dim fastest. */
    int base = m->offset, rest = group;
    for (int i = 0; i < 4; i++) {
        if (k->mask & (1u << i))
            continue;
        base += (rest % dims[i]) * strides[i];
        rest /= dims[i];
    }
    if (is_embd(kind)) {
        /* Embedding groups: the first (and, for embd, last) stage of a pp group. */
        members[0] = base;
        if (kind == HG_KIND_EMBD && m->pp > 1)
            members[1] = base + (m->pp - 1) * strides[3];
        return;
    }
    /* The varying dims, size-1 dims dropped and each dim whose stride continues the
     * one before merged into it (same order, so members still ascend). A whole module,
     * or tp x dp when cp = 1, becomes one run of consecutive ranks. */
    int vdims[4], vstrides[4], nv = 0;
    for (int i = 0; i < 4; i++) {
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
    if (nv == 0) {
        members[0] = base;
        return;
    }
    /* fill_run writes the fastest run; an odometer over the other runs, first fastest,
     * steps its start. */
    int c[4] = { 0, 0, 0, 0 }, r = base;
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

struct hg_layout {
    int world;
    size_t n;
    hg_module *modules;
    hg_layout_kind mode;
    size_t nbridges;
    hg_bridge *bridges; /* plan order */
};

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
    int rc = hg_validate(cfg, flags, mods, &l->world, diags);
    if (rc != 0) {
        free(l);
        free(mods);
        return rc;
    }
    l->n = cfg->nmodules;
    l->modules = mods;
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

static void coords_in(const hg_module *m, int local, int view, int c[4])
{
    int dims[4];
    view_dims(m, view, dims);
    for (int i = 0; i < 4; i++) {
        c[i] = local % dims[i];
        local /= dims[i];
    }
}

/* Which group of `kind` holds a rank with view coordinates c, and its position in it. */
static void locate(const hg_module *m, hg_kind kind, const int c[4], int *group, int *pos)
{
    const kind_def *k = &kinds[kind];
    int dims[4];
    view_dims(m, k->view, dims);
    int g = 0, gs = 1, p = 0, ps = 1;
    for (int i = 0; i < 4; i++) {
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

int hg_rank_view_build(const hg_layout *l, int rank, hg_rank_view *out, hg_error *err)
{
    memset(out, 0, sizeof(*out));
    int mi = hg_layout_module_of(l, rank);
    if (mi < 0)
        return hg_error_set(err, HG_EINVAL, "rank %d is outside the world [0, %d)", rank,
                            l->world);
    const hg_module *m = &l->modules[mi];
    int local = rank - m->offset;
    int dc[4], ec[4];
    coords_in(m, local, DENSE, dc);
    coords_in(m, local, EXPERT, ec);

    size_t total = 0;
    for (int k = 0; k < HG_KIND_COUNT; k++)
        if (hg_kind_applies(m, (hg_kind)k))
            total += (size_t)hg_group_size(m, (hg_kind)k, 0);
    int *storage = malloc(total * sizeof(int));
    if (!storage)
        return hg_error_set(err, HG_ENOMEM, "out of memory for rank %d's view", rank);

    out->rank = rank;
    out->world_size = l->world;
    out->module_index = mi;
    out->module = *m;
    out->module_rank = local;
    out->coords = (hg_coords){ .tp = dc[0], .cp = dc[1], .dp = dc[2], .pp = dc[3],
                               .expt_tp = ec[0], .ep = ec[1], .expt_dp = ec[2] };
    out->storage = storage;

    int *next = storage;
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        hg_rank_group *g = &out->groups[k];
        g->index = -1;
        if (!hg_kind_applies(m, (hg_kind)k))
            continue;
        int group, pos;
        locate(m, (hg_kind)k, kinds[k].view == DENSE ? dc : ec, &group, &pos);
        if (is_embd((hg_kind)k)) {
            int last = dc[3] == m->pp - 1;
            if (dc[3] != 0 && !(k == HG_KIND_EMBD && last))
                continue; /* a middle pp stage holds no embedding */
            pos = dc[3] == 0 ? 0 : 1;
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
    (void)module_index; /* stub: the module holding rank */
    return hg_rank_view_build(l, rank, out, err);
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

static const hg_module *side_module(const hg_layout *l, const hg_bridge *b,
                                    hg_bridge_side side)
{
    return &l->modules[side == HG_BRIDGE_SRC ? b->src : b->dest];
}

int hg_bridge_leader(const hg_layout *l, const hg_bridge *b, hg_bridge_side side, int r)
{
    const hg_module *m = side_module(l, b, side);
    if (side == HG_BRIDGE_DEST)
        return m->offset + m->tp * m->cp * r;
    return m->offset + (m->tp - 1) + m->tp * ((m->cp - 1) + m->cp * (r + m->dp * (m->pp - 1)));
}

int hg_bridge_broadcast_group(const hg_layout *l, const hg_bridge *b, hg_bridge_side side,
                              int r)
{
    const hg_module *m = side_module(l, b, side);
    /* tp_cp groups are ordered by (dp, pp), dp fastest. */
    return side == HG_BRIDGE_DEST ? r : r + m->dp * (m->pp - 1);
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
