/* The layout picture (svg.h). Every position comes from the layout code: a rank's cell
 * from hg_module_coords, bridge ends from hg_bridge_link, boundary outlines from
 * hg_bridge_broadcast_members, the highlighted rank's caption from its hg_rank_view.
 * Nothing about the grid is computed twice, so the picture cannot disagree with the
 * JSON plan.
 *
 * Geometry: a module is a panel; its dense view [tp, cp, dp, pp] is a grid with tp
 * across (cp as column groups), dp down and one block per pp stage, left to right;
 * modules with experts laid out differently get a second grid for the expert view
 * [expert_tp, ep, expert_dp, pp]. Many dp rows wrap into side-by-side blocks so a
 * stage stays roughly square. Disjoint modules stand in columns by their depth in
 * the feeds graph, so bridge arrows run left to right; colocated modules stand side
 * by side. Above HG_SVG_MAX_RANK_CELLS ranks a cell is a tp group (or several), the
 * arrows one per bridge, and the legend says so: 131,072 ranks stay a few MB.
 *
 * Output is small fixed-format elements through stdio; only the config's name is
 * escaped (module names are validated to letters, digits, '_', '-', '.'). */
#include "svg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- output: stops at the first write error and keeps its cause ---- */

typedef struct out {
    FILE *f;
    int failed; /* errno of the first failed write */
} out;

static void o_printf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_printf(out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    if (vfprintf(o->f, fmt, ap) < 0)
        o->failed = errno ? errno : EIO;
    va_end(ap);
}

/* Text for XML: markup characters as entities, control bytes as '?'. Bytes above
 * ASCII pass: hgrid's own text is UTF-8, and a file name goes through ascii_name. */
static void o_text(out *o, const char *s)
{
    for (; *s && !o->failed; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            o_printf(o, "&amp;");
        else if (c == '<')
            o_printf(o, "&lt;");
        else if (c == '>')
            o_printf(o, "&gt;");
        else if (c == '"')
            o_printf(o, "&quot;");
        else if (c < 0x20 || c == 0x7f)
            o_printf(o, "?");
        else
            o_printf(o, "%c", c);
    }
}

/* A copy of a file name with every byte outside ASCII as '?' (Linux names are bytes,
 * the document is UTF-8). NULL for NULL or out of memory. */
static char *ascii_name(const char *s)
{
    char *t = s ? strdup(s) : NULL;
    for (char *p = t; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    return t;
}

/* ---- geometry ---- */

enum {
    MARGIN = 16,
    PAD = 12,          /* inside a module panel */
    HEAD = 44,         /* a panel's two header lines */
    EXPERT_HEAD = 24,  /* the expert view's label line */
    STAGE_BAND = 15,   /* label bands above a grid's cells */
    BLOCK_BAND = 12,
    CLUSTER_BAND = 12,
    COL_BAND = 13,
    ROW_LABELS = 52,   /* left margin for "expt_dp N" */
    ROWS_MIN = 16,     /* rows before a stage wraps into blocks */
    PANEL_GAP = 28,    /* between panels of one column */
    COLUMN_GAP = 110,  /* between columns: room for the bridge arrows */
    LEGEND_LINE = 18,
};

typedef struct grid {
    int expert;        /* 0: dense [tp, cp, dp, pp]; 1: expert [expert_tp, ep, expert_dp, pp] */
    int per_rank;      /* 1: a cell per rank; 0: a cell per dp_per_row tp groups */
    int cols, clusters, rows, stages; /* cell columns per cluster, cell rows */
    int dp_per_row;
    int rows_per_block, blocks;
    int cw, ch, cluster_gap, block_gap, stage_gap;
    int cluster_w, block_w, stage_w;
    int top, left;     /* label bands above, row labels left of the cells */
    int labels_right;  /* row labels right of the cells instead (arrows come from the left) */
    int cells_w;
    int w, h;          /* bands and cells */
    int x, y;          /* the first cell's top-left corner, once placed */
} grid;

static void grid_init(grid *g, const hg_module *m, int expert, int per_rank, int dp_per_row)
{
    memset(g, 0, sizeof(*g));
    g->expert = expert;
    g->per_rank = per_rank;
    g->dp_per_row = dp_per_row;
    int drows;
    if (!expert) {
        g->cols = per_rank ? m->tp : 1;
        g->clusters = m->cp;
        drows = m->dp;
    } else {
        g->cols = m->expert_tp;
        g->clusters = m->ep;
        drows = m->expert_dp;
    }
    g->rows = drows / dp_per_row;
    g->stages = m->pp;
    if (per_rank) {
        g->cw = 40, g->ch = 26, g->cluster_gap = 6, g->block_gap = 12, g->stage_gap = 26;
    } else {
        g->cw = 12, g->ch = 9, g->cluster_gap = 3, g->block_gap = 4, g->stage_gap = 14;
    }
    g->cluster_w = g->cols * g->cw;
    g->block_w = g->clusters * g->cluster_w + (g->clusters - 1) * g->cluster_gap;
    int r = g->rows;
    if (r > ROWS_MIN) {
        /* Blocks side by side until the stage is about as wide as it is tall. */
        long long area = (long long)g->rows * (g->block_w + g->block_gap);
        r = ROWS_MIN;
        while (r < g->rows && (long long)r * r * g->ch < area)
            r++;
    }
    g->blocks = (g->rows + r - 1) / r;
    g->rows_per_block = (g->rows + g->blocks - 1) / g->blocks;
    g->stage_w = g->blocks * g->block_w + (g->blocks - 1) * g->block_gap;
    g->top = (g->stages > 1 ? STAGE_BAND : 0) + (g->blocks > 1 ? BLOCK_BAND : 0)
             + (g->clusters > 1 ? CLUSTER_BAND : 0) + (per_rank ? COL_BAND : 0);
    g->left = per_rank ? ROW_LABELS : 0;
    g->cells_w = g->stages * g->stage_w + (g->stages - 1) * g->stage_gap;
    g->w = g->left + g->cells_w;
    g->h = g->top + g->rows_per_block * g->ch;
}

static void grid_place(grid *g, int x, int y)
{
    g->x = x + (g->labels_right ? 0 : g->left);
    g->y = y + g->top;
}

static int grid_cells(const grid *g) { return g->cols * g->clusters * g->rows * g->stages; }

static int stage_x(const grid *g, int p) { return g->x + p * (g->stage_w + g->stage_gap); }

static int block_x(const grid *g, int p, int blk)
{
    return stage_x(g, p) + blk * (g->block_w + g->block_gap);
}

static int cluster_x(const grid *g, int p, int blk, int c)
{
    return block_x(g, p, blk) + c * (g->cluster_w + g->cluster_gap);
}

/* A cell's index (a, c, row, p; first fastest) and its top-left corner. */
typedef struct cell {
    int a, c, row, p;
} cell;

static int cell_index(const grid *g, cell k)
{
    return k.a + g->cols * (k.c + g->clusters * (k.row + g->rows * k.p));
}

static cell cell_at(const grid *g, int idx)
{
    cell k;
    k.a = idx % g->cols;
    idx /= g->cols;
    k.c = idx % g->clusters;
    idx /= g->clusters;
    k.row = idx % g->rows;
    k.p = idx / g->rows;
    return k;
}

static void cell_xy(const grid *g, cell k, int *x, int *y)
{
    int blk = k.row / g->rows_per_block;
    *x = cluster_x(g, k.p, blk, k.c) + k.a * g->cw;
    *y = g->y + (k.row % g->rows_per_block) * g->ch;
}

/* The cell holding rank (in the grid's module), from the layout's coordinates. */
static cell cell_of(const grid *g, const hg_module *m, int rank)
{
    hg_coords k;
    hg_module_coords(m, rank, &k);
    cell c;
    if (!g->expert) {
        c.a = g->per_rank ? k.tp : 0;
        c.c = k.cp;
        c.row = k.dp / g->dp_per_row;
    } else {
        c.a = k.expt_tp;
        c.c = k.ep;
        c.row = k.expt_dp;
    }
    c.p = k.pp;
    return c;
}

/* ---- colours: a categorical palette (Tableau 10), cells in a lighter tint ---- */

static const unsigned palette[] = {
    0x4e79a7, 0xf28e2b, 0x59a14f, 0xe15759, 0xb07aa1,
    0x76b7b2, 0xedc948, 0x9c755f, 0xff9da7, 0xbab0ac,
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* "#rrggbb" of module i's colour mixed with white (0: the colour, 1: white). */
static void colour(size_t i, double white, char buf[8])
{
    unsigned c = palette[i % NPALETTE], v[3];
    for (int k = 0; k < 3; k++) {
        unsigned x = (c >> (16 - 8 * k)) & 0xff;
        v[k] = (unsigned)(x + (255 - x) * white + 0.5);
    }
    snprintf(buf, 8, "#%02x%02x%02x", v[0], v[1], v[2]);
}

/* Width of text in px: no font metrics here, so a generous average glyph width. */
static int text_w(const char *s, int px, int bold)
{
    return (int)(strlen(s) * px * (bold ? 0.64 : 0.56)) + 1;
}

/* n with thousands separators: "131,072". */
static const char *count_str(int n, char buf[16])
{
    char tmp[16];
    int len = snprintf(tmp, sizeof(tmp), "%d", n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

/* ---- modules as panels ---- */

typedef struct panel {
    const hg_module *m;
    grid dense, expert;
    int has_expert;
    int column;
    int x, y, w, h;
    char shape[192]; /* "language: tp2 dp2 pp1, ep4" */
    char sub[192];   /* role, ranks, what a cell is */
    char expert_head[128];
} panel;

static void panel_init(panel *pn, const hg_module *m, int per_rank, int dp_per_row)
{
    memset(pn, 0, sizeof(*pn));
    pn->m = m;
    int n = snprintf(pn->shape, sizeof(pn->shape), "%s: tp%d", m->name, m->tp);
    if (m->cp > 1)
        n += snprintf(pn->shape + n, sizeof(pn->shape) - (size_t)n, " cp%d", m->cp);
    n += snprintf(pn->shape + n, sizeof(pn->shape) - (size_t)n, " dp%d pp%d", m->dp, m->pp);
    if (m->ep > 1)
        n += snprintf(pn->shape + n, sizeof(pn->shape) - (size_t)n, ", ep%d", m->ep);
    if (m->expert_tp > 1)
        snprintf(pn->shape + n, sizeof(pn->shape) - (size_t)n, "%s expert_tp%d",
                 m->ep > 1 ? "" : ",", m->expert_tp);

    char a[16], b[16];
    n = snprintf(pn->sub, sizeof(pn->sub), "%s, ranks %s-%s",
                 m->role == HG_ROLE_LANGUAGE ? "language model" : hg_role_name(m->role),
                 count_str(m->offset, a), count_str(m->offset + m->size - 1, b));
    if (!per_rank) {
        int ranks = m->tp * dp_per_row;
        if (dp_per_row == 1)
            snprintf(pn->sub + n, sizeof(pn->sub) - (size_t)n, "; a cell: one tp group (%d rank%s)",
                     ranks, ranks == 1 ? "" : "s");
        else
            snprintf(pn->sub + n, sizeof(pn->sub) - (size_t)n,
                     "; a cell: %d tp groups of dp neighbours (%d ranks)", dp_per_row, ranks);
    }

    grid_init(&pn->dense, m, 0, per_rank, dp_per_row);
    /* The expert view is worth a second grid only when it differs from the dense one
     * beyond merging cp into dp. */
    pn->has_expert = per_rank && (m->ep > 1 || m->expert_tp > 1);
    if (pn->has_expert) {
        grid_init(&pn->expert, m, 1, 1, 1);
        snprintf(pn->expert_head, sizeof(pn->expert_head), "expert view: expert_tp%d across, "
                 "ep%d column groups, expert_dp%d down", m->expert_tp, m->ep, m->expert_dp);
    }

    int w = pn->dense.w;
    if (pn->has_expert && pn->expert.w > w)
        w = pn->expert.w;
    int tw = text_w(pn->shape, 14, 1);
    if (text_w(pn->sub, 11, 0) > tw)
        tw = text_w(pn->sub, 11, 0);
    if (text_w(pn->expert_head, 11, 0) > tw)
        tw = text_w(pn->expert_head, 11, 0);
    pn->w = 2 * PAD + (w > tw ? w : tw);
    pn->h = HEAD + pn->dense.h + PAD;
    if (pn->has_expert)
        pn->h += EXPERT_HEAD + pn->expert.h;
}

static void panel_place(panel *pn, int x, int y)
{
    pn->x = x;
    pn->y = y;
    grid_place(&pn->dense, x + PAD, y + HEAD);
    if (pn->has_expert)
        grid_place(&pn->expert, x + PAD, y + HEAD + pn->dense.h + EXPERT_HEAD);
}

/* ---- drawing ---- */

typedef struct picture {
    const hg_layout *l;
    const hg_svg_opts *opts;
    const char *name;  /* opts->title as ASCII, or NULL */
    out o;
    panel *panels;
    size_t n;
    int world, per_rank;
    /* Per cell of the grid being drawn: its lowest rank; whether a tp group in it spans
     * two nodes (large form). */
    int *first;
    unsigned char *crosses;
} picture;

static int node_of(const picture *pc, int rank) { return rank / pc->opts->gpus_per_node; }

/* The grid's label bands: stages, blocks (their dp range), clusters, tp columns, and
 * dp rows on the left. */
static void draw_grid_labels(picture *pc, const grid *g)
{
    out *o = &pc->o;
    const char *an = g->expert ? "expt_tp" : "tp", *cn = g->expert ? "ep" : "cp",
               *dn = g->expert ? "expt_dp" : "dp";
    int y = g->y - g->top;
    for (int p = 0; p < g->stages; p++) {
        int yy = y;
        if (g->stages > 1) {
            yy += STAGE_BAND;
            o_printf(o, "<text class=\"st\" x=\"%d\" y=\"%d\">pp %d</text>\n", stage_x(g, p),
                     yy - 4, p);
        }
        for (int blk = 0; blk < g->blocks; blk++) {
            int yb = yy;
            if (g->blocks > 1) {
                yb += BLOCK_BAND;
                int lo = blk * g->rows_per_block * g->dp_per_row;
                int hi = (blk + 1) * g->rows_per_block;
                hi = (hi > g->rows ? g->rows : hi) * g->dp_per_row - 1;
                if (g->per_rank)
                    o_printf(o, "<text class=\"ax\" x=\"%d\" y=\"%d\">%s %d-%d</text>\n",
                             block_x(g, p, blk), yb - 3, dn, lo, hi);
            }
            for (int c = 0; c < g->clusters; c++) {
                int yc = yb;
                if (g->clusters > 1) {
                    yc += CLUSTER_BAND;
                    o_printf(o, "<text class=\"ax\" x=\"%d\" y=\"%d\">%s %d</text>\n",
                             cluster_x(g, p, blk, c), yc - 3, cn, c);
                }
                if (!g->per_rank)
                    continue;
                for (int a = 0; a < g->cols; a++)
                    o_printf(o, "<text class=\"ax c\" x=\"%d\" y=\"%d\">%d</text>\n",
                             cluster_x(g, p, blk, c) + a * g->cw + g->cw / 2, yc + COL_BAND - 6,
                             a);
            }
        }
    }
    if (!g->per_rank)
        return;
    int lx = g->labels_right ? g->x + g->cells_w + 8 : g->x - g->left;
    o_printf(o, "<text class=\"ax\" x=\"%d\" y=\"%d\">%s</text>\n", lx, g->y - 6, an);
    for (int r = 0; r < g->rows_per_block && r < g->rows; r++)
        o_printf(o, "<text class=\"ax\" x=\"%d\" y=\"%d\">%s%s%d</text>\n", lx,
                 g->y + r * g->ch + g->ch / 2 + 3, dn, g->blocks > 1 ? " +" : " ", r);
}

/* Lines where neighbouring cells lie on different nodes: one path per grid. Drawn
 * when a node is larger than a cell (else every line would be one). */
static void draw_node_lines(picture *pc, const grid *g, int ranks_per_cell)
{
    out *o = &pc->o;
    if (pc->opts->gpus_per_node <= 0 || pc->opts->gpus_per_node <= ranks_per_cell)
        return;
    int started = 0, ncells = grid_cells(g);
    for (int idx = 0; idx < ncells && !o->failed; idx++) {
        cell k = cell_at(g, idx);
        int x, y, node = node_of(pc, pc->first[idx]);
        cell_xy(g, k, &x, &y);
        /* Right: the next column, or the first of the next cluster across the gap. */
        cell r = k;
        int rx = -1;
        if (k.a + 1 < g->cols) {
            r.a++;
            rx = x + g->cw;
        } else if (k.c + 1 < g->clusters) {
            r.a = 0;
            r.c++;
            rx = x + g->cw + g->cluster_gap / 2;
        }
        if (rx >= 0 && node_of(pc, pc->first[cell_index(g, r)]) != node) {
            o_printf(o, started ? "M%d %dv%d" : "<path class=\"node-boundary\" d=\"M%d %dv%d",
                     rx, y, g->ch);
            started = 1;
        }
        /* Down: the next row of the same block. */
        if ((k.row + 1) % g->rows_per_block != 0 && k.row + 1 < g->rows) {
            cell d = k;
            d.row++;
            if (node_of(pc, pc->first[cell_index(g, d)]) != node) {
                o_printf(o, started ? "M%d %dh%d" : "<path class=\"node-boundary\" d=\"M%d %dh%d",
                         x, y + g->ch, g->cw);
                started = 1;
            }
        }
    }
    if (started)
        o_printf(o, "\"/>\n");
}

/* One grid's cells: every rank of the module placed by its coordinates. */
static int draw_grid(picture *pc, size_t mi, const grid *g, hg_error *err)
{
    out *o = &pc->o;
    const hg_module *m = pc->panels[mi].m;
    int ncells = grid_cells(g);
    int gpn = pc->opts->gpus_per_node;
    pc->first = malloc((size_t)ncells * sizeof(int));
    pc->crosses = calloc((size_t)ncells, 1);
    int *members = malloc((size_t)m->tp * sizeof(int));
    if (!pc->first || !pc->crosses || !members) {
        free(members);
        return hg_error_set(err, HG_ENOMEM, "out of memory drawing module '%s'", m->name);
    }
    for (int i = 0; i < ncells; i++)
        pc->first[i] = -1;
    for (int r = m->offset; r < m->offset + m->size; r++) {
        int idx = cell_index(g, cell_of(g, m, r));
        if (pc->first[idx] < 0)
            pc->first[idx] = r;
    }
    /* The placement check's question, per cell: does a tp group leave its node? */
    int ntp = !g->per_rank && gpn > 0 ? hg_group_count(m, HG_KIND_TP) : 0;
    for (int t = 0; t < ntp; t++) {
        int size = hg_group_size(m, HG_KIND_TP, t);
        hg_group_members(m, HG_KIND_TP, t, members);
        if (node_of(pc, members[0]) != node_of(pc, members[size - 1]))
            pc->crosses[cell_index(g, cell_of(g, m, members[0]))] = 1;
    }
    free(members);

    char fill[8];
    colour(mi, 0.55, fill);
    draw_grid_labels(pc, g);
    o_printf(o, "<g fill=\"%s\">\n", fill);
    int per_cell = g->per_rank ? 1 : m->tp * g->dp_per_row;
    for (int idx = 0; idx < ncells && !o->failed; idx++) {
        int x, y, r = pc->first[idx];
        cell_xy(g, cell_at(g, idx), &x, &y);
        if (g->per_rank) {
            o_printf(o, "<rect class=\"%s\" data-rank=\"%d\" x=\"%d\" y=\"%d\" width=\"%d\" "
                     "height=\"%d\"/>", g->expert ? "expert-rank" : "rank", r, x, y, g->cw, g->ch);
            if (gpn > 0)
                o_printf(o, "<text class=\"r\" x=\"%d\" y=\"%d\">%d</text><text class=\"n\" "
                         "x=\"%d\" y=\"%d\">n%d</text>\n", x + g->cw / 2, y + 12, r,
                         x + g->cw / 2, y + 22, node_of(pc, r));
            else
                o_printf(o, "<text class=\"r\" x=\"%d\" y=\"%d\">%d</text>\n", x + g->cw / 2,
                         y + g->ch / 2 + 4, r);
        } else {
            o_printf(o, "<rect class=\"cell%s\" data-first=\"%d\" data-ranks=\"%d\" x=\"%d\" "
                     "y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
                     pc->crosses[idx] ? " crosses-node" : "", r, per_cell, x, y, g->cw, g->ch);
        }
    }
    o_printf(o, "</g>\n");
    draw_node_lines(pc, g, per_cell);
    free(pc->first);
    free(pc->crosses);
    pc->first = NULL;
    pc->crosses = NULL;
    return 0;
}

static int draw_panel(picture *pc, size_t mi, hg_error *err)
{
    out *o = &pc->o;
    panel *pn = &pc->panels[mi];
    char strong[8], pale[8];
    colour(mi, 0, strong);
    colour(mi, 0.9, pale);
    o_printf(o, "<g class=\"module\" data-module=\"%s\">\n", pn->m->name);
    o_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" fill=\"%s\" "
             "stroke=\"%s\" stroke-width=\"1.5\"/>\n", pn->x, pn->y, pn->w, pn->h, pale, strong);
    o_printf(o, "<text class=\"mh\" x=\"%d\" y=\"%d\" style=\"fill:%s\">%s</text>\n",
             pn->x + PAD, pn->y + 19, strong, pn->shape);
    o_printf(o, "<text class=\"ms\" x=\"%d\" y=\"%d\">%s</text>\n", pn->x + PAD, pn->y + 35,
             pn->sub);
    int rc = draw_grid(pc, mi, &pn->dense, err);
    if (rc == 0 && pn->has_expert) {
        o_printf(o, "<text class=\"ms\" x=\"%d\" y=\"%d\">%s</text>\n", pn->x + PAD,
                 pn->expert.y - pn->expert.top - 7, pn->expert_head);
        rc = draw_grid(pc, mi, &pn->expert, err);
    }
    o_printf(o, "</g>\n");
    return rc;
}

/* A cubic from (x1, y1) rightwards into (x2, y2). */
static void arrow(picture *pc, const char *cls, int from, int to, int bridge, int x1, int y1,
                  int x2, int y2, int src)
{
    char strong[8];
    colour((size_t)src, 0, strong);
    int dx = (x2 - x1) / 2 > 30 ? (x2 - x1) / 2 : 30;
    o_printf(&pc->o, "<path class=\"%s\" data-bridge=\"%d\"", cls, bridge);
    if (from >= 0)
        o_printf(&pc->o, " data-from=\"%d\" data-to=\"%d\"", from, to);
    o_printf(&pc->o, " d=\"M%d %dC%d %d %d %d %d %d\" stroke=\"%s\" marker-end=\"url(#arrow%d)\"/>\n",
             x1, y1, x1 + dx, y1, x2 - dx, y2, x2, y2, strong, src % (int)NPALETTE);
}

static void rank_xy(const picture *pc, int module, int rank, int *x, int *y)
{
    const grid *g = &pc->panels[module].dense;
    cell_xy(g, cell_of(g, pc->panels[module].m, rank), x, y);
}

static int draw_bridges(picture *pc, hg_error *err)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l);
    int maxb = 1;
    for (size_t i = 0; i < pc->n; i++)
        if (pc->panels[i].m->tp * pc->panels[i].m->cp > maxb)
            maxb = pc->panels[i].m->tp * pc->panels[i].m->cp;
    int *members = malloc((size_t)maxb * sizeof(int));
    if (!members)
        return hg_error_set(err, HG_ENOMEM, "out of memory drawing the bridges");
    for (size_t i = 0; i < nb && !pc->o.failed; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        if (!pc->per_rank) {
            const panel *s = &pc->panels[b->src], *d = &pc->panels[b->dest];
            int x1 = s->x + s->w, y1 = s->y + s->h / 2, x2 = d->x - 3, y2 = d->y + d->h / 2;
            arrow(pc, "bridge", -1, -1, (int)i, x1, y1, x2, y2, b->src);
            char nl[16];
            o_printf(&pc->o, "<text class=\"ms\" x=\"%d\" y=\"%d\">%s links</text>\n",
                     (x1 + x2) / 2 - 30, (y1 + y2) / 2 - 6, count_str(b->nlinks, nl));
            continue;
        }
        char strong[8];
        colour((size_t)b->src, 0, strong);
        /* Boundary groups: one row (cp = 1 at bridge ends) at the last or first stage,
         * outlined inside the row's height so that neighbouring rows' outlines do not
         * cross each other's labels. */
        for (int side = 0; side < 2; side++) {
            int n = side == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
            int size = hg_bridge_broadcast_size(l, b, (hg_bridge_side)side);
            int mod = side == HG_BRIDGE_SRC ? b->src : b->dest;
            const grid *g = &pc->panels[mod].dense;
            for (int r = 0; r < n; r++) {
                hg_bridge_broadcast_members(l, b, (hg_bridge_side)side, r, members);
                int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
                for (int j = 0; j < size; j++) {
                    int x, y;
                    rank_xy(pc, mod, members[j], &x, &y);
                    if (j == 0 || x < x0)
                        x0 = x;
                    if (j == 0 || y < y0)
                        y0 = y;
                    if (j == 0 || x > x1)
                        x1 = x;
                    if (j == 0 || y > y1)
                        y1 = y;
                }
                o_printf(&pc->o, "<rect class=\"boundary\" data-bridge=\"%zu\" data-side=\"%s\" "
                         "x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" stroke=\"%s\"/>\n", i,
                         hg_bridge_side_name((hg_bridge_side)side), x0 - 2, y0 + 1,
                         x1 - x0 + g->cw + 4, y1 - y0 + g->ch - 2, strong);
            }
        }
        for (int j = 0; j < b->nlinks; j++) {
            int s, r, x1, y1, x2, y2;
            hg_bridge_link(l, b, j, &s, &r);
            rank_xy(pc, b->src, s, &x1, &y1);
            rank_xy(pc, b->dest, r, &x2, &y2);
            const grid *gs = &pc->panels[b->src].dense, *gd = &pc->panels[b->dest].dense;
            arrow(pc, "bridge-link", s, r, (int)i, x1 + gs->cw, y1 + gs->ch / 2, x2 - 4,
                  y2 + gd->ch / 2, b->src);
        }
    }
    free(members);
    return 0;
}

static void draw_highlight(picture *pc)
{
    int rank = pc->opts->rank;
    for (size_t i = 0; i < pc->n; i++) {
        const panel *pn = &pc->panels[i];
        const hg_module *m = pn->m;
        if (rank < m->offset || rank >= m->offset + m->size)
            continue;
        int x, y;
        const grid *g = &pn->dense;
        cell_xy(g, cell_of(g, m, rank), &x, &y);
        o_printf(&pc->o, "<rect class=\"highlight\" data-rank=\"%d\" x=\"%d\" y=\"%d\" "
                 "width=\"%d\" height=\"%d\"/>\n", rank, x - 2, y - 2, g->cw + 4, g->ch + 4);
        if (pn->has_expert) {
            g = &pn->expert;
            cell_xy(g, cell_of(g, m, rank), &x, &y);
            o_printf(&pc->o, "<rect class=\"highlight-expert\" data-rank=\"%d\" x=\"%d\" "
                     "y=\"%d\" width=\"%d\" height=\"%d\"/>\n", rank, x - 1, y - 1, g->cw + 2,
                     g->ch + 2);
        }
    }
}

/* ---- the legend: one line each, above the modules ---- */

#define LEGEND_MAX 64
#define LEGEND_LEN 512

typedef struct legend {
    int n;
    char text[LEGEND_MAX][LEGEND_LEN];
    int swatch[LEGEND_MAX]; /* -1: none; else the bridge source module (an arrow) */
} legend;

static char *legend_add(legend *lg, int swatch)
{
    if (lg->n == LEGEND_MAX)
        return NULL;
    lg->swatch[lg->n] = swatch;
    return lg->text[lg->n++];
}

/* One line on the highlighted rank, from its view: the module(s), coordinates, node,
 * bridge roles. */
static int highlight_line(const picture *pc, char *buf, hg_error *err)
{
    hg_rank_view v;
    int rc = hg_rank_view_build(pc->l, pc->opts->rank, &v, err);
    if (rc != 0)
        return rc;
    size_t cap = LEGEND_LEN, n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "magenta: rank %d", v.rank);
    int nview = v.nmodules_here > 0 ? v.nmodules_here : 1;
    for (int i = 0; i < nview && n < cap; i++) {
        const hg_rank_view *u = v.nmodules_here > 0 ? &v.per_module[i] : &v;
        const hg_coords *c = &u->coords;
        n += (size_t)snprintf(buf + n, cap - n, "%s %s tp %d", i ? ";" : ",", u->module.name, c->tp);
        if (u->module.cp > 1 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " cp %d", c->cp);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " dp %d pp %d", c->dp, c->pp);
        if (u->module.ep > 1 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ", ep %d", c->ep);
    }
    if (pc->opts->gpus_per_node > 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "; node %d", node_of(pc, v.rank));
    for (int i = 0; i < v.nbridges && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "; %s %s \xe2\x86\x92 %s", hg_bridge_role_name(v.bridges[i].role),
                              v.bridges[i].src_name, v.bridges[i].dest_name);
    hg_rank_view_free(&v);
    return 0;
}

static int legend_build(const picture *pc, legend *lg, hg_error *err)
{
    const hg_layout *l = pc->l;
    char a[16], b[16], c[16];
    char *t;
    int colocated = hg_layout_mode(l) == HG_LAYOUT_COLOCATED;
    int any_expert = 0;
    for (size_t i = 0; i < pc->n; i++)
        any_expert |= pc->panels[i].has_expert;
    memset(lg, 0, sizeof(*lg));

    if (pc->per_rank) {
        t = legend_add(lg, -1);
        snprintf(t, LEGEND_LEN, "Each cell is one rank, labelled with its global rank: tp "
                 "across, dp down, one block per pp stage (cp: column groups)%s.",
                 any_expert ? "; a second grid shows the expert view, ep as column groups" : "");
    } else {
        t = legend_add(lg, -1);
        snprintf(t, LEGEND_LEN, "Above %s ranks one cell per rank would be unreadable: each "
                 "cell is one tp group (each module's header says how many ranks), tp groups "
                 "of dp neighbours down, one block per pp stage; no rank labels, no expert view.",
                 count_str(HG_SVG_MAX_RANK_CELLS, a));
    }
    if (colocated) {
        t = legend_add(lg, -1);
        snprintf(t, LEGEND_LEN, "Colocated: every panel is the same ranks 0-%d, factored by "
                 "one module; activations stay on the rank, so there are no bridges.",
                 pc->world - 1);
    }
    int gpn = pc->opts->gpus_per_node;
    if (gpn > 0) {
        t = legend_add(lg, -1);
        if (pc->per_rank)
            snprintf(t, LEGEND_LEN, "Nodes of %d ranks (--gpus-per-node): a thick line between "
                     "ranks on different nodes; nK under a rank is its node.", gpn);
        else
            snprintf(t, LEGEND_LEN, "Nodes of %d ranks (--gpus-per-node): a thick line between "
                     "cells on different nodes (when a node spans several cells); a cell "
                     "outlined black holds a tp group that spans two nodes or more.", gpn);
    }
    size_t nb = hg_layout_bridge_count(l);
    /* A line per bridge while room is left for the rest: the highlight, and a count
     * of the bridges not listed (every one is still drawn). */
    size_t listed = 0;
    for (size_t i = 0; i < nb && lg->n < LEGEND_MAX - 2; i++, listed++) {
        const hg_bridge *br = hg_layout_bridge(l, i);
        t = legend_add(lg, br->src);
        snprintf(t, LEGEND_LEN, "%s \xe2\x86\x92 %s: %s, %s \xe2\x86\x92 %s leaders, %s link%s%s",
                 hg_layout_module(l, (size_t)br->src)->name,
                 hg_layout_module(l, (size_t)br->dest)->name, hg_bridge_mode_name(br->mode),
                 count_str(br->nsrc, a), count_str(br->ndest, b), count_str(br->nlinks, c),
                 br->nlinks == 1 ? "" : "s",
                 pc->per_rank ? " (an arrow per link, source leader to receiver; dashed: "
                                "the boundary groups that broadcast them)"
                              : " (one arrow for all of them)");
    }
    if (listed < nb && (t = legend_add(lg, -1)))
        snprintf(t, LEGEND_LEN, "... and %zu more bridges.", nb - listed);
    if (!colocated && nb == 0 && pc->n > 1 && (t = legend_add(lg, -1)))
        snprintf(t, LEGEND_LEN, "No bridges: no module feeds another.");
    if (pc->opts->rank >= 0 && (t = legend_add(lg, -1)))
        return highlight_line(pc, t, err);
    return 0;
}

/* ---- the document ---- */

static void write_head(picture *pc, int width, int height)
{
    out *o = &pc->o;
    o_printf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\">\n<title>hgrid layout", width, height, width, height);
    if (pc->name) {
        o_printf(o, ": ");
        o_text(o, pc->name);
    }
    o_printf(o, "</title>\n<style>\n"
             "text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;fill:#222}\n"
             ".title{font-size:16px;font-weight:bold}\n"
             ".legend{font-size:12px}\n"
             ".mh{font-size:14px;font-weight:bold}\n"
             ".ms{font-size:11px;fill:#444}\n"
             ".ax{font-size:9px;fill:#666}\n"
             ".c{text-anchor:middle}\n"
             ".st{font-size:11px;font-weight:bold;fill:#444}\n"
             ".r{font-size:11px;font-weight:bold;text-anchor:middle}\n"
             ".n{font-size:8px;text-anchor:middle;fill:#555}\n"
             ".rank,.expert-rank{stroke:#fff;stroke-width:1.5}\n"
             ".cell{stroke:#fff;stroke-width:0.6}\n"
             ".crosses-node{stroke:#000;stroke-width:1.2}\n"
             ".node-boundary{fill:none;stroke:#222;stroke-width:3;stroke-linecap:square}\n"
             ".bridge-link,.bridge{fill:none;stroke-width:1.6;stroke-opacity:0.9}\n"
             ".bridge{stroke-width:3}\n"
             ".boundary{fill:none;stroke-width:1.5;stroke-dasharray:5 3}\n"
             ".highlight{fill:none;stroke:#d6007a;stroke-width:4}\n"
             ".highlight-expert{fill:none;stroke:#d6007a;stroke-width:3;stroke-dasharray:4 2}\n"
             "</style>\n<defs>\n");
    /* One arrowhead per colour in use (a marker cannot take its path's stroke in SVG
     * 1.1); module i's is arrow(i mod the palette). */
    for (size_t i = 0; i < pc->n && i < NPALETTE; i++) {
        char strong[8];
        colour(i, 0, strong);
        o_printf(o, "<marker id=\"arrow%zu\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
                 "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" "
                 "fill=\"%s\"/></marker>\n", i, strong);
    }
    o_printf(o, "</defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
}

static void write_legend(picture *pc, const legend *lg, const char *title)
{
    out *o = &pc->o;
    o_printf(o, "<text class=\"title\" x=\"%d\" y=\"%d\">", MARGIN, MARGIN + 14);
    o_text(o, title);
    o_printf(o, "</text>\n");
    for (int i = 0; i < lg->n; i++) {
        int y = MARGIN + 24 + (i + 1) * LEGEND_LINE, x = MARGIN;
        if (lg->swatch[i] >= 0) {
            char strong[8];
            colour((size_t)lg->swatch[i], 0, strong);
            o_printf(o, "<path d=\"M%d %dh26\" stroke=\"%s\" stroke-width=\"2\" "
                     "marker-end=\"url(#arrow%d)\"/>\n", x, y - 4, strong,
                     lg->swatch[i] % (int)NPALETTE);
            x += 36;
        }
        o_printf(o, "<text class=\"legend\" x=\"%d\" y=\"%d\">", x, y);
        o_text(o, lg->text[i]);
        o_printf(o, "</text>\n");
    }
}

/* Disjoint: a module's column is its depth in the feeds graph (a DAG, validated), so
 * every bridge points right. Colocated: one column each. */
static void assign_columns(picture *pc)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l);
    for (size_t i = 0; i < pc->n; i++)
        pc->panels[i].column = hg_layout_mode(l) == HG_LAYOUT_COLOCATED ? (int)i : 0;
    for (size_t pass = 0; pass < pc->n; pass++)
        for (size_t i = 0; i < nb; i++) {
            const hg_bridge *b = hg_layout_bridge(l, i);
            if (pc->panels[b->dest].column < pc->panels[b->src].column + 1)
                pc->panels[b->dest].column = pc->panels[b->src].column + 1;
        }
}

/* Large form: a module's cells are dp_per_row tp groups each, the smallest divisor of
 * its dp that keeps it within its share (by ranks) of HG_SVG_MAX_GROUP_CELLS. */
static int dp_per_row(const hg_module *m, long long total_ranks)
{
    long long share = (long long)HG_SVG_MAX_GROUP_CELLS * m->size / total_ranks;
    if (share < 64)
        share = 64;
    for (int d = 1; d <= m->dp; d++)
        if (m->dp % d == 0 && (long long)m->cp * m->pp * (m->dp / d) <= share)
            return d;
    return m->dp;
}

int hg_plan_write_svg(const hg_layout *l, const hg_svg_opts *opts, FILE *f, hg_error *err)
{
    picture pc = { .l = l, .opts = opts, .o = { f, 0 } };
    legend *lg = NULL;
    int *colw = NULL, *colh = NULL;
    int rc = 0;
    pc.n = hg_layout_module_count(l);
    pc.world = hg_layout_world_size(l);
    pc.per_rank = pc.world <= HG_SVG_MAX_RANK_CELLS;
    pc.panels = calloc(pc.n, sizeof(*pc.panels));
    char *name = ascii_name(opts->title);
    pc.name = name;
    lg = malloc(sizeof(*lg));
    colw = calloc(pc.n, sizeof(int));
    colh = calloc(pc.n, sizeof(int));
    if (!pc.panels || !lg || !colw || !colh || (opts->title && !name)) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory drawing the layout");
        goto out;
    }

    long long total = 0; /* ranks drawn: the world, once per module when colocated */
    for (size_t i = 0; i < pc.n; i++)
        total += hg_layout_module(l, i)->size;
    for (size_t i = 0; i < pc.n; i++) {
        const hg_module *m = hg_layout_module(l, i);
        panel_init(&pc.panels[i], m, pc.per_rank, pc.per_rank ? 1 : dp_per_row(m, total));
    }
    assign_columns(&pc);
    /* Arrows arrive from the left: a module only receiving keeps its row labels out of
     * their way. */
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        pc.panels[b->dest].dense.labels_right = pc.panels[b->dest].expert.labels_right = 1;
    }
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        pc.panels[b->src].dense.labels_right = pc.panels[b->src].expert.labels_right = 0;
    }
    if ((rc = legend_build(&pc, lg, err)) != 0)
        goto out;

    /* Columns: widths, stacked heights; the tallest sets the content's height, the
     * others are centred on it so arrows stay short. */
    int ncol = 0, content_h = 0;
    for (size_t i = 0; i < pc.n; i++) {
        panel *pn = &pc.panels[i];
        if (pn->column + 1 > ncol)
            ncol = pn->column + 1;
        if (pn->w > colw[pn->column])
            colw[pn->column] = pn->w;
        colh[pn->column] += (colh[pn->column] ? PANEL_GAP : 0) + pn->h;
    }
    for (int c = 0; c < ncol; c++)
        if (colh[c] > content_h)
            content_h = colh[c];
    int colgap = hg_layout_bridge_count(l) ? COLUMN_GAP : 40;
    int top = MARGIN + 24 + lg->n * LEGEND_LINE + 24;
    int x = MARGIN, width = 0;
    for (int c = 0; c < ncol; c++) {
        int y = top + (content_h - colh[c]) / 2;
        for (size_t i = 0; i < pc.n; i++) {
            panel *pn = &pc.panels[i];
            if (pn->column != c)
                continue;
            panel_place(pn, x, y);
            y += pn->h + PANEL_GAP;
        }
        x += colw[c] + (c + 1 < ncol ? colgap : 0);
    }
    width = x + MARGIN;

    char title[320], a[16];
    snprintf(title, sizeof(title), "%s%s%s ranks, %zu module%s, %s", pc.name ? pc.name : "",
             pc.name ? ": " : "", count_str(pc.world, a), pc.n, pc.n == 1 ? "" : "s",
             hg_layout_kind_name(hg_layout_mode(l)));
    for (int i = 0; i < lg->n; i++)
        if (text_w(lg->text[i], 12, 0) + 2 * MARGIN + 36 > width)
            width = text_w(lg->text[i], 12, 0) + 2 * MARGIN + 36;
    if (text_w(title, 16, 1) + 2 * MARGIN > width)
        width = text_w(title, 16, 1) + 2 * MARGIN;

    write_head(&pc, width, top + content_h + MARGIN);
    write_legend(&pc, lg, title);
    for (size_t i = 0; i < pc.n && rc == 0 && !pc.o.failed; i++)
        rc = draw_panel(&pc, i, err);
    if (rc == 0)
        rc = draw_bridges(&pc, err);
    if (rc != 0)
        goto out;
    if (opts->rank >= 0)
        draw_highlight(&pc);
    o_printf(&pc.o, "</svg>\n");
    if (!pc.o.failed) {
        errno = 0;
        if (fflush(f) != 0 || ferror(f))
            pc.o.failed = errno ? errno : EIO;
    }
    if (pc.o.failed)
        rc = hg_error_set(err, HG_EIO, "cannot write the plan: %s", strerror(pc.o.failed));
out:
    free(pc.first);
    free(pc.crosses);
    free(pc.panels);
    free(name);
    free(lg);
    free(colw);
    free(colh);
    return rc;
}
