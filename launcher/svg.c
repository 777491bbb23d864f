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
 * Arrows never cross a text. A measuring pass draws the panels nowhere and notes each
 * text's box (svg.h's estimate, by the style table that also writes the style sheet);
 * then each bridge is planned against those boxes: an arrow per link while they are
 * few and clear, else one bundled arrow between the panels, through the column gaps,
 * with its count placed where it covers no text and no arrow. Only then is anything
 * written, the legend saying how each bridge came out.
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
    int silent; /* the measuring pass: nothing is written */
} out;

static void o_printf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_printf(out *o, const char *fmt, ...)
{
    if (o->failed || o->silent)
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
    for (; *s && !o->failed && !o->silent; s++) {
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
    /* Generalized Tensor Parallelism: a column is (tp, gtp_remat), tp fastest; tp columns
     * per gtp_remat coordinate (the view's tp or expert_tp) and gtp_remat's size. */
    int tpc, gtp;
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
        g->tpc = m->tp;
        g->gtp = m->gtp_remat;
        g->cols = per_rank ? m->tp * m->gtp_remat : 1;
        g->clusters = m->cp;
        drows = m->dp;
    } else {
        g->tpc = m->expert_tp;
        g->gtp = m->expert_gtp_remat;
        g->cols = m->expert_tp * m->expert_gtp_remat;
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
        c.a = g->per_rank ? k.tp + m->tp * k.gtp_remat : 0;
        c.c = k.cp;
        c.row = k.dp / g->dp_per_row;
    } else {
        c.a = k.expt_tp + m->expert_tp * k.expt_gtp_remat;
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
static void module_colour(size_t i, double white, char buf[8])
{
    unsigned c = palette[i % NPALETTE], v[3];
    for (int k = 0; k < 3; k++) {
        unsigned x = (c >> (16 - 8 * k)) & 0xff;
        v[k] = (unsigned)(x + (255 - x) * white + 0.5);
    }
    snprintf(buf, 8, "#%02x%02x%02x", v[0], v[1], v[2]);
}

/* Width of text in px: no font metrics here, so a generous average glyph width. */
static double text_width(const char *s, int px, int bold)
{
    return strlen(s) * px * (bold ? HG_SVG_GLYPH_W_BOLD : HG_SVG_GLYPH_W) + 1;
}

static int text_width_px(const char *s, int px, int bold) { return (int)text_width(s, px, bold); }

/* Every text's class, its font and anchor: the style sheet is written from this table
 * and each text's box (svg.h) is measured by it, so the two cannot disagree. */
typedef struct text_style {
    const char *cls;
    int px, bold, middle;
    const char *fill; /* NULL: the default */
} text_style;

enum { T_TITLE, T_LEGEND, T_MH, T_MS, T_AX, T_AXC, T_ST, T_R, T_N, NTEXT_STYLES };

static const text_style text_styles[NTEXT_STYLES] = {
    [T_TITLE] = { "title", 16, 1, 0, NULL },
    [T_LEGEND] = { "legend", 12, 0, 0, NULL },
    [T_MH] = { "mh", 14, 1, 0, NULL },     /* a panel's heading */
    [T_MS] = { "ms", 11, 0, 0, "#444" },   /* captions: panel, expert view, link counts */
    [T_AX] = { "ax", 9, 0, 0, "#666" },    /* axis labels */
    [T_AXC] = { "ac", 9, 0, 1, "#666" },   /* axis labels centred on their column */
    [T_ST] = { "st", 11, 1, 0, "#444" },   /* pp stages */
    [T_R] = { "r", 11, 1, 1, NULL },       /* a cell's rank */
    [T_N] = { "n", 8, 0, 1, "#555" },      /* a cell's node */
};

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
    if (m->gtp_remat > 1)
        n += snprintf(pn->shape + n, sizeof(pn->shape) - (size_t)n, " gtp_remat%d",
                      m->gtp_remat);
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
        int ranks = m->tp * m->gtp_remat * dp_per_row;
        if (m->gtp_remat > 1)
            snprintf(pn->sub + n, sizeof(pn->sub) - (size_t)n,
                     "; a cell: %d tp group%s of one dp replica (%d ranks)",
                     m->gtp_remat * dp_per_row, m->gtp_remat * dp_per_row == 1 ? "" : "s",
                     ranks);
        else if (dp_per_row == 1)
            snprintf(pn->sub + n, sizeof(pn->sub) - (size_t)n, "; a cell: one tp group (%d rank%s)",
                     ranks, ranks == 1 ? "" : "s");
        else
            snprintf(pn->sub + n, sizeof(pn->sub) - (size_t)n,
                     "; a cell: %d tp groups of dp neighbours (%d ranks)", dp_per_row, ranks);
    }

    grid_init(&pn->dense, m, 0, per_rank, dp_per_row);
    /* The expert view is worth a second grid only when it differs from the dense one
     * beyond merging cp into dp. */
    pn->has_expert = per_rank && (m->ep > 1 || m->expert_tp > 1 || m->expert_gtp_remat > 1);
    if (pn->has_expert) {
        grid_init(&pn->expert, m, 1, 1, 1);
        if (m->expert_gtp_remat > 1)
            snprintf(pn->expert_head, sizeof(pn->expert_head), "expert view: expert_tp%d x "
                     "expert_gtp_remat%d across (etp.egtp), ep%d column groups, expert_dp%d down",
                     m->expert_tp, m->expert_gtp_remat, m->ep, m->expert_dp);
        else
            snprintf(pn->expert_head, sizeof(pn->expert_head), "expert view: expert_tp%d "
                     "across, ep%d column groups, expert_dp%d down", m->expert_tp, m->ep,
                     m->expert_dp);
    }

    int w = pn->dense.w;
    if (pn->has_expert && pn->expert.w > w)
        w = pn->expert.w;
    int tw = text_width_px(pn->shape, 14, 1);
    if (text_width_px(pn->sub, 11, 0) > tw)
        tw = text_width_px(pn->sub, 11, 0);
    if (text_width_px(pn->expert_head, 11, 0) > tw)
        tw = text_width_px(pn->expert_head, 11, 0);
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

/* ---- what arrows keep out of: text boxes, and routes through the gaps ---- */

typedef struct box {
    double x0, y0, x1, y1;
} box;

/* The boxes of every text in the panels, bucketed by area so that a segment meets
 * only its neighbours (a 4,096-rank picture holds some 20,000 texts). */
enum { BUCKET = 32 };

typedef struct boxes {
    box *v;
    size_t n, cap;
    int nx, ny;        /* buckets, once indexed */
    size_t *start;     /* bucket b's boxes: item[start[b] .. start[b + 1]) */
    size_t *item;
} boxes;

/* An arrow's path: its "d" and the polyline it is measured by (cubics cut in pieces). */
enum { CUBIC_PIECES = 24, ROUTE_PTS = CUBIC_PIECES + 3 };

typedef struct route {
    char d[160];
    int n;
    double p[ROUTE_PTS][2];
} route;

/* One bridge's drawing: per link, or one bundled arrow with its count beside it. */
typedef struct bridge_plan {
    int bundled;
    route r;
    int label;         /* the count placed, at (lx, ly): a text of class ms */
    int lx, ly;
} bridge_plan;

/* ---- drawing ---- */

typedef struct picture {
    const hg_layout *l;
    const hg_svg_opts *opts;
    char *name;        /* opts->title as ASCII, or NULL; owned */
    out o;
    panel *panels;
    size_t n;
    int world, per_rank;
    /* Per cell of the grid being drawn: its lowest rank; whether a tp group in it spans
     * two nodes (large form). */
    int *first;
    unsigned char *crosses;
    int collect;       /* the measuring pass: note each text's box */
    boxes texts;
    int top;           /* the content's top: arrows may run just above it */
    int bottom;        /* the content's bottom: counts stay above it */
    int width;         /* the document's */
    int *col_x, *col_r; /* each column's left and right edge */
    int *col_w, *col_h; /* each column's width and its panels' stacked height */
    bridge_plan *plans;
    route *links;      /* every per-link arrow, for the counts to keep clear of */
    size_t nlinks;
} picture;

static box text_box(int style, double x, double y, const char *s)
{
    const text_style *t = &text_styles[style];
    double w = text_width(s, t->px, t->bold);
    if (t->middle)
        x -= w / 2;
    return (box){ x, y - HG_SVG_TEXT_ASCENT * t->px, x + w, y + HG_SVG_TEXT_DESCENT * t->px };
}

static void boxes_add(picture *pc, box b)
{
    boxes *bs = &pc->texts;
    if (pc->o.failed)
        return;
    if (bs->n == bs->cap) {
        size_t cap = bs->cap ? 2 * bs->cap : 1024;
        box *v = realloc(bs->v, cap * sizeof(*v));
        if (!v) {
            pc->o.failed = ENOMEM;
            return;
        }
        bs->v = v;
        bs->cap = cap;
    }
    bs->v[bs->n++] = b;
}

/* A text of the given style, its box noted in the measuring pass. */
static void draw_text(picture *pc, int style, int x, int y, const char *fill, const char *s)
{
    out *o = &pc->o;
    o_printf(o, "<text class=\"%s\" x=\"%d\" y=\"%d\"", text_styles[style].cls, x, y);
    if (fill)
        o_printf(o, " style=\"fill:%s\"", fill);
    o_printf(o, ">");
    o_text(o, s);
    o_printf(o, "</text>\n");
    if (pc->collect)
        boxes_add(pc, text_box(style, x, y, s));
}

static void draw_textf(picture *pc, int style, int x, int y, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void draw_textf(picture *pc, int style, int x, int y, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    draw_text(pc, style, x, y, NULL, buf);
}

static int bucket_of(double v, int n)
{
    int b = v < 0 ? 0 : (int)(v / BUCKET);
    return b < n ? b : n - 1;
}

/* Buckets for the boxes noted so far (counting sort: every box in each bucket it
 * touches). 0, or HG_ENOMEM. */
static int boxes_index(boxes *bs)
{
    double mx = 1, my = 1;
    for (size_t i = 0; i < bs->n; i++) {
        mx = bs->v[i].x1 > mx ? bs->v[i].x1 : mx;
        my = bs->v[i].y1 > my ? bs->v[i].y1 : my;
    }
    bs->nx = (int)(mx / BUCKET) + 1;
    bs->ny = (int)(my / BUCKET) + 1;
    size_t nb = (size_t)bs->nx * (size_t)bs->ny, total = 0;
    bs->start = calloc(nb + 1, sizeof(size_t));
    if (!bs->start)
        return HG_ENOMEM;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < bs->n; i++) {
            const box *b = &bs->v[i];
            for (int gy = bucket_of(b->y0, bs->ny); gy <= bucket_of(b->y1, bs->ny); gy++)
                for (int gx = bucket_of(b->x0, bs->nx); gx <= bucket_of(b->x1, bs->nx); gx++) {
                    size_t k = (size_t)gy * (size_t)bs->nx + (size_t)gx;
                    if (pass == 0)
                        bs->start[k + 1]++;
                    else
                        bs->item[bs->start[k]++] = i;
                }
        }
        if (pass == 0) {
            for (size_t k = 0; k < nb; k++)
                bs->start[k + 1] += bs->start[k];
            total = bs->start[nb];
            bs->item = malloc((total ? total : 1) * sizeof(size_t));
            if (!bs->item)
                return HG_ENOMEM;
        } else {
            /* The fill moved each start to the next bucket's: shift back. */
            memmove(bs->start + 1, bs->start, nb * sizeof(size_t));
            bs->start[0] = 0;
        }
    }
    return 0;
}

/* Whether the segment meets the box, grown by a pixel (the arrows' own width, and
 * room for a cubic between its pieces): Liang-Barsky clipping. */
static int segment_meets(double x0, double y0, double x1, double y1, box b)
{
    b.x0 -= 1.5, b.y0 -= 1.5, b.x1 += 1.5, b.y1 += 1.5;
    double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    double p[4] = { -dx, dx, -dy, dy }, q[4] = { x0 - b.x0, b.x1 - x0, y0 - b.y0, b.y1 - y0 };
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0)
                return 0;
        } else {
            double r = q[k] / p[k];
            if (p[k] < 0 && r > t0)
                t0 = r;
            else if (p[k] > 0 && r < t1)
                t1 = r;
            if (t0 > t1)
                return 0;
        }
    }
    return 1;
}

/* Whether the route crosses no text of the panels. */
static int route_clear(const picture *pc, const route *r)
{
    const boxes *bs = &pc->texts;
    for (int i = 0; i + 1 < r->n; i++) {
        double x0 = r->p[i][0], y0 = r->p[i][1], x1 = r->p[i + 1][0], y1 = r->p[i + 1][1];
        int gx0 = bucket_of((x0 < x1 ? x0 : x1) - 2, bs->nx), gx1 = bucket_of((x0 < x1 ? x1 : x0) + 2, bs->nx);
        int gy0 = bucket_of((y0 < y1 ? y0 : y1) - 2, bs->ny), gy1 = bucket_of((y0 < y1 ? y1 : y0) + 2, bs->ny);
        for (int gy = gy0; gy <= gy1; gy++)
            for (int gx = gx0; gx <= gx1; gx++) {
                size_t k = (size_t)gy * (size_t)bs->nx + (size_t)gx;
                for (size_t j = bs->start[k]; j < bs->start[k + 1]; j++)
                    if (segment_meets(x0, y0, x1, y1, bs->v[bs->item[j]]))
                        return 0;
            }
    }
    return 1;
}

/* A cubic from (x1, y1) rightwards into (x2, y2), leaving and arriving level; with
 * xa > x1 or xb < x2, straight from x1 to xa first and from xb to x2 last. */
static void route_cubic_via(route *r, int x1, int xa, int y1, int xb, int x2, int y2)
{
    int len = 0, n = 0;
    len += snprintf(r->d, sizeof(r->d), "M%d %d", x1, y1);
    if (xa > x1) {
        len += snprintf(r->d + len, sizeof(r->d) - (size_t)len, "L%d %d", xa, y1);
        r->p[n][0] = x1, r->p[n++][1] = y1;
    }
    int dx = (xb - xa) / 2 > 30 ? (xb - xa) / 2 : 30;
    double c[4][2] = { { xa, y1 }, { xa + dx, y1 }, { xb - dx, y2 }, { xb, y2 } };
    len += snprintf(r->d + len, sizeof(r->d) - (size_t)len, "C%d %d %d %d %d %d", xa + dx, y1,
                    xb - dx, y2, xb, y2);
    if (x2 > xb)
        snprintf(r->d + len, sizeof(r->d) - (size_t)len, "L%d %d", x2, y2);
    for (int i = 0; i <= CUBIC_PIECES; i++, n++) {
        double t = (double)i / CUBIC_PIECES, u = 1 - t;
        double w[4] = { u * u * u, 3 * t * u * u, 3 * t * t * u, t * t * t };
        r->p[n][0] = r->p[n][1] = 0;
        for (int k = 0; k < 4; k++) {
            r->p[n][0] += w[k] * c[k][0];
            r->p[n][1] += w[k] * c[k][1];
        }
    }
    if (x2 > xb)
        r->p[n][0] = x2, r->p[n++][1] = y2;
    r->n = n;
}

static void route_cubic(route *r, int x1, int y1, int x2, int y2)
{
    route_cubic_via(r, x1, x1, y1, x2, x2, y2);
}

/* Straight lines through the points (x, y pairs). */
static void route_lines(route *r, const int *xy, int n)
{
    int len = 0;
    r->n = n;
    for (int i = 0; i < n; i++) {
        len += snprintf(r->d + len, sizeof(r->d) - (size_t)len, "%s%d %d", i ? "L" : "M",
                        xy[2 * i], xy[2 * i + 1]);
        r->p[i][0] = xy[2 * i];
        r->p[i][1] = xy[2 * i + 1];
    }
}

static int boxes_meet(box a, box b)
{
    return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

static int route_meets_box(const route *r, box b)
{
    for (int i = 0; i + 1 < r->n; i++)
        if (segment_meets(r->p[i][0], r->p[i][1], r->p[i + 1][0], r->p[i + 1][1], b))
            return 1;
    return 0;
}

static int rank_node(const picture *pc, int rank) { return rank / pc->opts->gpus_per_node; }

/* The grid's label bands: stages, blocks (their dp range), clusters, tp columns, and
 * dp rows on the left. */
static void draw_grid_labels(picture *pc, const grid *g)
{
    const char *an = g->expert ? "expt_tp" : "tp", *cn = g->expert ? "ep" : "cp",
               *dn = g->expert ? "expt_dp" : "dp";
    int y = g->y - g->top;
    for (int p = 0; p < g->stages; p++) {
        int yy = y;
        if (g->stages > 1) {
            yy += STAGE_BAND;
            draw_textf(pc, T_ST, stage_x(g, p), yy - 4, "pp %d", p);
        }
        for (int blk = 0; blk < g->blocks; blk++) {
            int yb = yy;
            if (g->blocks > 1) {
                yb += BLOCK_BAND;
                int lo = blk * g->rows_per_block * g->dp_per_row;
                int hi = (blk + 1) * g->rows_per_block;
                hi = (hi > g->rows ? g->rows : hi) * g->dp_per_row - 1;
                if (g->per_rank)
                    draw_textf(pc, T_AX, block_x(g, p, blk), yb - 3, "%s %d-%d", dn, lo, hi);
            }
            for (int c = 0; c < g->clusters; c++) {
                int yc = yb;
                if (g->clusters > 1) {
                    yc += CLUSTER_BAND;
                    draw_textf(pc, T_AX, cluster_x(g, p, blk, c), yc - 3, "%s %d", cn, c);
                }
                if (!g->per_rank)
                    continue;
                for (int a = 0; a < g->cols; a++)
                    if (g->gtp > 1) /* "t.g": the tp and gtp_remat coordinates */
                        draw_textf(pc, T_AXC, cluster_x(g, p, blk, c) + a * g->cw + g->cw / 2,
                                   yc + COL_BAND - 6, "%d.%d", a % g->tpc, a / g->tpc);
                    else
                        draw_textf(pc, T_AXC, cluster_x(g, p, blk, c) + a * g->cw + g->cw / 2,
                                   yc + COL_BAND - 6, "%d", a);
            }
        }
    }
    if (!g->per_rank)
        return;
    int lx = g->labels_right ? g->x + g->cells_w + 8 : g->x - g->left;
    draw_text(pc, T_AX, lx, g->y - 6, NULL,
              g->gtp == 1 ? an : g->expert ? "etp.egtp" : "tp.gtp_remat");
    for (int r = 0; r < g->rows_per_block && r < g->rows; r++)
        draw_textf(pc, T_AX, lx, g->y + r * g->ch + g->ch / 2 + 3, "%s%s%d", dn,
                  g->blocks > 1 ? " +" : " ", r);
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
        int x, y, node = rank_node(pc, pc->first[idx]);
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
        if (rx >= 0 && rank_node(pc, pc->first[cell_index(g, r)]) != node) {
            o_printf(o, started ? "M%d %dv%d" : "<path class=\"node-boundary\" d=\"M%d %dv%d",
                     rx, y, g->ch);
            started = 1;
        }
        /* Down: the next row of the same block. */
        if ((k.row + 1) % g->rows_per_block != 0 && k.row + 1 < g->rows) {
            cell d = k;
            d.row++;
            if (rank_node(pc, pc->first[cell_index(g, d)]) != node) {
                o_printf(o, started ? "M%d %dh%d" : "<path class=\"node-boundary\" d=\"M%d %dh%d",
                         x, y + g->ch, g->cw);
                started = 1;
            }
        }
    }
    if (started)
        o_printf(o, "\"/>\n");
}

/* Per cell of g (module m's): its lowest rank, in pc->first, and in the large form
 * with nodes the placement check's question, in pc->crosses: does a tp group in it
 * leave its node? */
static int index_grid_cells(picture *pc, const hg_module *m, const grid *g, hg_error *err)
{
    int ncells = grid_cells(g);
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
    int ntp = !g->per_rank && pc->opts->gpus_per_node > 0 ? hg_group_count(m, HG_KIND_TP) : 0;
    for (int t = 0; t < ntp; t++) {
        int size = hg_group_size(m, HG_KIND_TP, t);
        hg_group_members(m, HG_KIND_TP, t, members);
        if (rank_node(pc, members[0]) != rank_node(pc, members[size - 1]))
            pc->crosses[cell_index(g, cell_of(g, m, members[0]))] = 1;
    }
    free(members);
    return 0;
}

/* Cell idx of g: a rank with its number (and node), or a cell of per_cell ranks. */
static void write_grid_cell(picture *pc, const grid *g, int idx, int per_cell)
{
    out *o = &pc->o;
    int x, y, r = pc->first[idx];
    cell_xy(g, cell_at(g, idx), &x, &y);
    if (!g->per_rank) {
        o_printf(o, "<rect class=\"cell%s\" data-first=\"%d\" data-ranks=\"%d\" x=\"%d\" "
                 "y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
                 pc->crosses[idx] ? " crosses-node" : "", r, per_cell, x, y, g->cw, g->ch);
        return;
    }
    o_printf(o, "<rect class=\"%s\" data-rank=\"%d\" x=\"%d\" y=\"%d\" width=\"%d\" "
             "height=\"%d\"/>", g->expert ? "expert-rank" : "rank", r, x, y, g->cw, g->ch);
    if (pc->opts->gpus_per_node > 0) {
        draw_textf(pc, T_R, x + g->cw / 2, y + 12, "%d", r);
        draw_textf(pc, T_N, x + g->cw / 2, y + 22, "n%d", rank_node(pc, r));
    } else {
        draw_textf(pc, T_R, x + g->cw / 2, y + g->ch / 2 + 4, "%d", r);
    }
}

/* One grid's cells: every rank of the module placed by its coordinates. */
static int draw_grid(picture *pc, size_t mi, const grid *g, hg_error *err)
{
    out *o = &pc->o;
    const hg_module *m = pc->panels[mi].m;
    int rc = index_grid_cells(pc, m, g, err);
    if (rc != 0)
        return rc;
    char fill[8];
    module_colour(mi, 0.55, fill);
    draw_grid_labels(pc, g);
    o_printf(o, "<g fill=\"%s\">\n", fill);
    int per_cell = g->per_rank ? 1 : m->tp * m->gtp_remat * g->dp_per_row;
    for (int idx = 0; idx < grid_cells(g) && !o->failed; idx++)
        write_grid_cell(pc, g, idx, per_cell);
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
    module_colour(mi, 0, strong);
    module_colour(mi, 0.9, pale);
    o_printf(o, "<g class=\"module\" data-module=\"%s\">\n", pn->m->name);
    o_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" fill=\"%s\" "
             "stroke=\"%s\" stroke-width=\"1.5\"/>\n", pn->x, pn->y, pn->w, pn->h, pale, strong);
    draw_text(pc, T_MH, pn->x + PAD, pn->y + 19, strong, pn->shape);
    draw_text(pc, T_MS, pn->x + PAD, pn->y + 35, NULL, pn->sub);
    int rc = draw_grid(pc, mi, &pn->dense, err);
    if (rc == 0 && pn->has_expert) {
        draw_text(pc, T_MS, pn->x + PAD, pn->expert.y - pn->expert.top - 7, NULL, pn->expert_head);
        rc = draw_grid(pc, mi, &pn->expert, err);
    }
    o_printf(o, "</g>\n");
    return rc;
}

static void rank_cell_xy(const picture *pc, int module, int rank, int *x, int *y)
{
    const grid *g = &pc->panels[module].dense;
    cell_xy(g, cell_of(g, pc->panels[module].m, rank), x, y);
}

/* Link j's arrow: from the right of its sender's cell into the left of its
 * receiver's; where that curve would cross a text (a steep one over its own panel's
 * header), level out of the source's column and into the destination's, curving in
 * the gap between. */
static void link_route(const picture *pc, const hg_bridge *b, int j, route *rt, int *s, int *r)
{
    int x1, y1, x2, y2;
    hg_bridge_link(pc->l, b, j, s, r);
    rank_cell_xy(pc, b->src, *s, &x1, &y1);
    rank_cell_xy(pc, b->dest, *r, &x2, &y2);
    const panel *ps = &pc->panels[b->src], *pd = &pc->panels[b->dest];
    x1 += ps->dense.cw, y1 += ps->dense.ch / 2, x2 -= 4, y2 += pd->dense.ch / 2;
    route_cubic(rt, x1, y1, x2, y2);
    int xa = pc->col_r[ps->column] + 4, xb = pc->col_x[pd->column] - 16;
    if (xa < xb && !route_clear(pc, rt))
        route_cubic_via(rt, x1, xa, y1, xb, x2, y2);
}

/* The height where bundle k of n leaves or enters a grid: spread about the middle of
 * its rows, 16 px apart. */
static int bundle_lane_y(const grid *g, int k, int n)
{
    int span = g->rows_per_block * g->ch, y = g->y + span / 2 + (2 * k - (n - 1)) * 8;
    if (y > g->y + span - 4)
        y = g->y + span - 4;
    return y < g->y + 4 ? g->y + 4 : y;
}

/* Whether b meets no text of the panels. */
static int box_clear_of_texts(const picture *pc, box b)
{
    const boxes *bs = &pc->texts;
    b.x0 -= 2, b.y0 -= 2, b.x1 += 2, b.y1 += 2;
    for (int gy = bucket_of(b.y0, bs->ny); gy <= bucket_of(b.y1, bs->ny); gy++)
        for (int gx = bucket_of(b.x0, bs->nx); gx <= bucket_of(b.x1, bs->nx); gx++) {
            size_t k = (size_t)gy * (size_t)bs->nx + (size_t)gx;
            for (size_t j = bs->start[k]; j < bs->start[k + 1]; j++)
                if (boxes_meet(b, bs->v[bs->item[j]]))
                    return 0;
        }
    return 1;
}

/* "2,048 links" */
static void bridge_count_label(const hg_bridge *b, char buf[32])
{
    char nl[16];
    snprintf(buf, 32, "%s link%s", count_str(b->nlinks, nl), b->nlinks == 1 ? "" : "s");
}

/* Step k of a route's length, as the taxi drives (no libm): for spacing only. */
static double route_step_len(const route *r, int k)
{
    double dx = r->p[k + 1][0] - r->p[k][0], dy = r->p[k + 1][1] - r->p[k][1];
    return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
}

/* The point at length want along route r (want <= its length). */
static void route_point_at(const route *r, double want, double *px, double *py)
{
    *px = r->p[0][0], *py = r->p[0][1];
    for (int k = 0; k + 1 < r->n; k++) {
        double sl = route_step_len(r, k);
        if (sl >= want && sl > 0) {
            *px = r->p[k][0] + (r->p[k + 1][0] - r->p[k][0]) * want / sl;
            *py = r->p[k][1] + (r->p[k + 1][1] - r->p[k][1]) * want / sl;
            return;
        }
        want -= sl;
    }
}

/* Whether a count's box t stays within the content and covers no text, no arrow, no
 * count placed before, and with off_panels no panel. */
static int count_spot_clear(const picture *pc, box t, int off_panels)
{
    char other[32];
    box grown = { t.x0 - 2, t.y0 - 2, t.x1 + 2, t.y1 + 2 };
    int ok = t.x0 >= MARGIN && t.y0 >= pc->top - 16 && t.y1 <= pc->bottom
             && box_clear_of_texts(pc, t);
    for (size_t k = 0; ok && off_panels && k < pc->n; k++) {
        const panel *pn = &pc->panels[k];
        ok = !boxes_meet(grown, (box){ pn->x, pn->y, pn->x + pn->w, pn->y + pn->h });
    }
    for (size_t k = 0; ok && k < pc->nlinks; k++)
        ok = !route_meets_box(&pc->links[k], t);
    for (size_t k = 0; ok && k < hg_layout_bridge_count(pc->l); k++) {
        const bridge_plan *o = &pc->plans[k];
        if (!o->bundled)
            continue;
        ok = !route_meets_box(&o->r, grown);
        if (ok && o->label) {
            bridge_count_label(hg_layout_bridge(pc->l, k), other);
            ok = !boxes_meet(grown, text_box(T_MS, o->lx, o->ly, other));
        }
    }
    return ok;
}

/* A place for bundle i's count beside its arrow, where it covers no text and no
 * arrow: along the arrow from its middle outwards to its ends, centred on it,
 * starting or ending there, above it or below; first off the panels, then anywhere.
 * None found leaves the count to the legend. */
static void place_bundle_count(picture *pc, size_t i)
{
    bridge_plan *pl = &pc->plans[i];
    char text[32];
    bridge_count_label(hg_layout_bridge(pc->l, i), text);
    double len = 0, w = text_width(text, text_styles[T_MS].px, text_styles[T_MS].bold);
    const route *r = &pl->r;
    for (int k = 0; k + 1 < r->n; k++)
        len += route_step_len(r, k);
    static const double at[] = { 0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9, 0, 1 };
    for (int off_panels = 1; off_panels >= 0; off_panels--)
        for (size_t a = 0; a < sizeof(at) / sizeof(at[0]); a++) {
            double px, py;
            route_point_at(r, at[a] * len, &px, &py);
            for (int c = 0; c < 6; c++) {
                int below = c % 2, align = c / 2; /* centred, starting, ending at the point */
                int x = (int)(align == 0 ? px - w / 2 : align == 1 ? px + 4 : px - w - 4);
                int y = below ? (int)py + 16 : (int)py - 7;
                if (count_spot_clear(pc, text_box(T_MS, x, y, text), off_panels)) {
                    pl->label = 1, pl->lx = x, pl->ly = y;
                    return;
                }
            }
        }
}

/* Marks each bridge bundled or not: a bridge keeps an arrow per link while it has
 * few enough to tell apart (HG_SVG_MAX_LINK_ARROWS) and none of them crosses a text.
 * The arrows kept are noted in pc->links. */
static int plan_link_arrows(picture *pc, hg_error *err)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l), cap = 0;
    for (size_t i = 0; i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        bridge_plan *pl = &pc->plans[i];
        pl->bundled = !pc->per_rank || b->nlinks > HG_SVG_MAX_LINK_ARROWS;
        if (pl->bundled)
            continue;
        if (pc->nlinks + (size_t)b->nlinks > cap) {
            cap = 2 * cap + (size_t)b->nlinks;
            route *v = realloc(pc->links, cap * sizeof(*v));
            if (!v)
                return hg_error_set(err, HG_ENOMEM, "out of memory drawing the bridges");
            pc->links = v;
        }
        size_t n0 = pc->nlinks;
        for (int j = 0; j < b->nlinks && !pl->bundled; j++) {
            int s, r;
            link_route(pc, b, j, &pc->links[pc->nlinks], &s, &r);
            pl->bundled = !route_clear(pc, &pc->links[pc->nlinks++]);
        }
        if (pl->bundled)
            pc->nlinks = n0;
    }
    return 0;
}

/* Bundled bridge i's arrow, the ko-th of nout leaving its source panel and the ki-th
 * of nin entering its destination's: level with the middle of their grids, and where
 * that crosses a text (a column between them), up its column gap, along above the
 * panels and down the destination's. */
static void route_bundle(picture *pc, size_t i, int ko, int nout, int ki, int nin)
{
    const hg_bridge *b = hg_layout_bridge(pc->l, i);
    bridge_plan *pl = &pc->plans[i];
    const panel *s = &pc->panels[b->src], *d = &pc->panels[b->dest];
    int x1 = s->x + s->w, y1 = bundle_lane_y(&s->dense, ko, nout);
    int x2 = d->x - 3, y2 = bundle_lane_y(&d->dense, ki, nin);
    route_cubic(&pl->r, x1, y1, x2, y2);
    if (!route_clear(pc, &pl->r)) {
        int xa = pc->col_r[s->column] + 10 + 6 * (ko % 8);
        int xb = pc->col_x[d->column] - 24 - 6 * (ki % 8), yc = pc->top - 6 - 4 * (int)(i % 3);
        int xy[] = { x1, y1, xa, y1, xa, yc, xb, yc, xb, y2, x2, y2 };
        route_lines(&pl->r, xy, 6);
    }
}

/* Every bundled bridge's arrow, spread into lanes where several leave or enter one
 * panel. */
static int route_bundles(picture *pc, hg_error *err)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l);
    int *deg = calloc(4 * pc->n + 1, sizeof(int)); /* out, in; then those used */
    if (!deg)
        return hg_error_set(err, HG_ENOMEM, "out of memory drawing the bridges");
    int *nout = deg, *nin = deg + pc->n, *kout = deg + 2 * pc->n, *kin = deg + 3 * pc->n;
    for (size_t i = 0; i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        if (pc->plans[i].bundled)
            nout[b->src]++, nin[b->dest]++;
    }
    for (size_t i = 0; i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        if (!pc->plans[i].bundled)
            continue;
        int ko = kout[b->src]++, ki = kin[b->dest]++;
        route_bundle(pc, i, ko, nout[b->src], ki, nin[b->dest]);
    }
    free(deg);
    return 0;
}

/* Which bridges are drawn per link, how the bundled ones run and where their counts
 * go. Needs the texts' boxes indexed. */
static int plan_bridges(picture *pc, hg_error *err)
{
    size_t nb = hg_layout_bridge_count(pc->l);
    pc->plans = calloc(nb + 1, sizeof(*pc->plans));
    if (!pc->plans)
        return hg_error_set(err, HG_ENOMEM, "out of memory drawing the bridges");
    int rc = plan_link_arrows(pc, err);
    if (rc == 0)
        rc = route_bundles(pc, err);
    for (size_t i = 0; i < nb && rc == 0; i++)
        if (pc->plans[i].bundled)
            place_bundle_count(pc, i);
    return rc;
}

/* A boundary outline: a leader's broadcast group, one row at the last or first stage,
 * outlined inside the row's height so that neighbouring rows' outlines do not cross
 * each other's labels. k of n: its place among the bridges outlining the same group
 * (two encoders feeding one module's receivers). */
typedef struct outline {
    int x, y, w, h;
    int bridge, side;
    int k, n;
    size_t at; /* drawing order */
} outline;

static int outline_cmp(const void *pa, const void *pb)
{
    const outline *a = pa, *b = pb;
    int d[] = { a->x - b->x, a->y - b->y, a->w - b->w, a->h - b->h, a->bridge - b->bridge };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        if (d[i])
            return d[i] < 0 ? -1 : 1;
    return 0;
}

/* The outline around a broadcast group (its size members, in module mod): the box of
 * their cells in the dense grid. */
static outline broadcast_outline(const picture *pc, int mod, const int *members, int size)
{
    const grid *g = &pc->panels[mod].dense;
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    for (int j = 0; j < size; j++) {
        int x, y;
        rank_cell_xy(pc, mod, members[j], &x, &y);
        if (j == 0 || x < x0)
            x0 = x;
        if (j == 0 || y < y0)
            y0 = y;
        if (j == 0 || x > x1)
            x1 = x;
        if (j == 0 || y > y1)
            y1 = y;
    }
    return (outline){ x0 - 2, y0 + 1, x1 - x0 + g->cw + 4, y1 - y0 + g->ch - 2, 0, 0, 0, 1, 0 };
}

/* Every bridge's outlines into v, in drawing order: by bridge, source side first, by
 * leader. members: room for the largest broadcast group. */
static void collect_outlines(const picture *pc, outline *v, int *members)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l), at = 0;
    for (size_t i = 0; i < nb; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        for (int side = 0; side < 2; side++) {
            int n = side == HG_BRIDGE_SRC ? b->nsrc : b->ndest;
            int size = hg_bridge_broadcast_size(l, b, (hg_bridge_side)side);
            int mod = side == HG_BRIDGE_SRC ? b->src : b->dest;
            for (int r = 0; r < n; r++, at++) {
                hg_bridge_broadcast_members(l, b, (hg_bridge_side)side, r, members);
                v[at] = broadcast_outline(pc, mod, members, size);
                v[at].bridge = (int)i, v[at].side = side, v[at].at = at;
            }
        }
    }
}

/* Each outline's k of n among the outlines of the same box (sorted: scratch). */
static void count_shared_outlines(outline *v, outline *sorted, size_t total)
{
    memcpy(sorted, v, total * sizeof(*v));
    qsort(sorted, total, sizeof(*v), outline_cmp);
    for (size_t a = 0, z; a < total; a = z) {
        for (z = a + 1; z < total && sorted[z].x == sorted[a].x && sorted[z].y == sorted[a].y
                        && sorted[z].w == sorted[a].w && sorted[z].h == sorted[a].h; z++)
            ;
        for (size_t j = a; j < z; j++)
            v[sorted[j].at].k = (int)(j - a), v[sorted[j].at].n = (int)(z - a);
    }
}

/* One outline, in its bridge's colour. One shared by n bridges is drawn n times with
 * one dash pattern of n dashes, each bridge's shifted to its own dash, so every colour
 * shows; an outline of one bridge keeps the style sheet's dashes. */
static void write_outline(picture *pc, const outline *u)
{
    char strong[8];
    module_colour((size_t)hg_layout_bridge(pc->l, (size_t)u->bridge)->src, 0, strong);
    o_printf(&pc->o, "<rect class=\"boundary\" data-bridge=\"%d\" data-side=\"%s\" "
             "x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" stroke=\"%s\"", u->bridge,
             hg_bridge_side_name((hg_bridge_side)u->side), u->x, u->y, u->w, u->h, strong);
    if (u->n > 1) {
        /* The style sheet's 5 on, 3 off, a dash each in turn; a style, since the
         * style sheet's rule would win over an attribute. */
        int period = 8 * u->n;
        o_printf(&pc->o, " style=\"stroke-dasharray:5 %d;stroke-dashoffset:%d\"", period - 5,
                 (period - 8 * u->k) % period);
    }
    o_printf(&pc->o, "/>\n");
}

/* Every bridge's boundary outlines. */
static int draw_outlines(picture *pc, hg_error *err)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l), total = 0;
    int maxb = 1, rc = 0; /* a broadcast group lies within one tp x cp slice */
    for (size_t i = 0; i < pc->n; i++)
        if (pc->panels[i].m->tp * pc->panels[i].m->cp > maxb)
            maxb = pc->panels[i].m->tp * pc->panels[i].m->cp;
    for (size_t i = 0; i < nb; i++)
        total += (size_t)hg_layout_bridge(l, i)->nsrc + (size_t)hg_layout_bridge(l, i)->ndest;
    int *members = malloc((size_t)maxb * sizeof(int));
    outline *v = malloc((total + 1) * sizeof(*v)), *sorted = malloc((total + 1) * sizeof(*v));
    if (!members || !v || !sorted) {
        rc = hg_error_set(err, HG_ENOMEM, "out of memory drawing the bridges");
        goto out;
    }
    collect_outlines(pc, v, members);
    count_shared_outlines(v, sorted, total);
    for (size_t j = 0; j < total && !pc->o.failed; j++)
        write_outline(pc, &v[j]);
out:
    free(members);
    free(v);
    free(sorted);
    return rc;
}

/* The bridges as planned: outlines, arrows, then the bundles' counts over them. */
static int draw_bridges(picture *pc, hg_error *err)
{
    const hg_layout *l = pc->l;
    size_t nb = hg_layout_bridge_count(l);
    int rc = pc->per_rank ? draw_outlines(pc, err) : 0;
    for (size_t i = 0; i < nb && rc == 0 && !pc->o.failed; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        const bridge_plan *pl = &pc->plans[i];
        char strong[8];
        module_colour((size_t)b->src, 0, strong);
        int mk = b->src % (int)NPALETTE;
        if (pl->bundled) {
            o_printf(&pc->o, "<path class=\"bridge\" data-bridge=\"%zu\" data-links=\"%d\" "
                     "d=\"%s\" stroke=\"%s\" marker-end=\"url(#bundle%d)\"/>\n", i, b->nlinks,
                     pl->r.d, strong, mk);
            continue;
        }
        for (int j = 0; j < b->nlinks; j++) {
            route rt;
            int s, r;
            link_route(pc, b, j, &rt, &s, &r);
            o_printf(&pc->o, "<path class=\"bridge-link\" data-bridge=\"%zu\" data-from=\"%d\" "
                     "data-to=\"%d\" d=\"%s\" stroke=\"%s\" marker-end=\"url(#arrow%d)\"/>\n", i,
                     s, r, rt.d, strong, mk);
        }
    }
    for (size_t i = 0; i < nb && rc == 0; i++) {
        char text[32];
        bridge_count_label(hg_layout_bridge(l, i), text);
        if (pc->plans[i].label)
            draw_text(pc, T_MS, pc->plans[i].lx, pc->plans[i].ly, NULL, text);
    }
    return rc;
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

static char *legend_new_line(legend *lg, int swatch)
{
    if (lg->n == LEGEND_MAX)
        return NULL;
    lg->swatch[lg->n] = swatch;
    return lg->text[lg->n++];
}

/* One line on the highlighted rank, from its view: the module(s), coordinates, node,
 * bridge roles. */
static int legend_highlight_line(const picture *pc, char *buf, hg_error *err)
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
        if (u->module.gtp_remat > 1 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " gtp_remat %d", c->gtp_remat);
        if (u->module.cp > 1 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " cp %d", c->cp);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, " dp %d pp %d", c->dp, c->pp);
        if (u->module.ep > 1 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ", ep %d", c->ep);
    }
    if (pc->opts->gpus_per_node > 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "; node %d", rank_node(pc, v.rank));
    for (int i = 0; i < v.nbridges && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "; %s %s \xe2\x86\x92 %s", hg_bridge_role_name(v.bridges[i].role),
                              v.bridges[i].src_name, v.bridges[i].dest_name);
    hg_rank_view_free(&v);
    return 0;
}

/* What a cell is: one rank, or (the large form) one tp group. */
static void legend_cells_line(const picture *pc, legend *lg)
{
    char a[16];
    int any_expert = 0;
    for (size_t i = 0; i < pc->n; i++)
        any_expert |= pc->panels[i].has_expert;
    char *t = legend_new_line(lg, -1);
    if (pc->per_rank)
        snprintf(t, LEGEND_LEN, "Each cell is one rank, labelled with its global rank: tp "
                 "across, dp down, one block per pp stage (cp: column groups)%s.",
                 any_expert ? "; a second grid shows the expert view, ep as column groups" : "");
    else
        snprintf(t, LEGEND_LEN, "Above %s ranks one cell per rank would be unreadable: each "
                 "cell is one tp group (each module's header says how many ranks), tp groups "
                 "of dp neighbours down, one block per pp stage; no rank labels, no expert view.",
                 count_str(HG_SVG_MAX_RANK_CELLS, a));
}

/* How nodes are drawn (--gpus-per-node). */
static void legend_nodes_line(const picture *pc, legend *lg)
{
    int gpn = pc->opts->gpus_per_node;
    char *t = legend_new_line(lg, -1);
    if (pc->per_rank)
        snprintf(t, LEGEND_LEN, "Nodes of %d ranks (--gpus-per-node): a thick line between "
                 "ranks on different nodes; nK under a rank is its node.", gpn);
    else
        snprintf(t, LEGEND_LEN, "Nodes of %d ranks (--gpus-per-node): a thick line between "
                 "cells on different nodes (when a node spans several cells); a cell "
                 "outlined black holds a tp group that spans two nodes or more.", gpn);
}

/* A line per bridge, in its colour, saying how it is drawn, while room is left for
 * the rest: the highlight, and a count of the bridges not listed (every one is still
 * drawn). */
static void legend_bridge_lines(const picture *pc, legend *lg)
{
    const hg_layout *l = pc->l;
    char a[16], b[16], c[16];
    char *t;
    size_t nb = hg_layout_bridge_count(l), listed = 0;
    for (size_t i = 0; i < nb && lg->n < LEGEND_MAX - 2; i++, listed++) {
        const hg_bridge *br = hg_layout_bridge(l, i);
        t = legend_new_line(lg, br->src);
        snprintf(t, LEGEND_LEN, "%s \xe2\x86\x92 %s: %s, %s \xe2\x86\x92 %s leaders, %s link%s%s",
                 hg_layout_module(l, (size_t)br->src)->name,
                 hg_layout_module(l, (size_t)br->dest)->name, hg_bridge_mode_name(br->mode),
                 count_str(br->nsrc, a), count_str(br->ndest, b), count_str(br->nlinks, c),
                 br->nlinks == 1 ? "" : "s",
                 !pc->per_rank ? " (one arrow for all of them)"
                 : pc->plans && pc->plans[i].bundled
                     ? " (one thick arrow for all of them, their count beside it; dashed: the "
                       "boundary groups that broadcast them)"
                     : " (an arrow per link, source leader to receiver; dashed: "
                       "the boundary groups that broadcast them)");
    }
    if (listed < nb && (t = legend_new_line(lg, -1)))
        snprintf(t, LEGEND_LEN, "... and %zu more bridges.", nb - listed);
}

/* The legend's lines: what a cell is, the layout's kind, nodes, bridges (as planned
 * once pc->plans is set), the highlighted rank. */
static int legend_build(const picture *pc, legend *lg, hg_error *err)
{
    char *t;
    int colocated = hg_layout_mode(pc->l) == HG_LAYOUT_COLOCATED;
    memset(lg, 0, sizeof(*lg));
    legend_cells_line(pc, lg);
    if (colocated) {
        t = legend_new_line(lg, -1);
        snprintf(t, LEGEND_LEN, "Colocated: every panel is the same ranks 0-%d, factored by "
                 "one module; activations stay on the rank, so there are no bridges.",
                 pc->world - 1);
    }
    if (pc->opts->gpus_per_node > 0)
        legend_nodes_line(pc, lg);
    legend_bridge_lines(pc, lg);
    if (!colocated && hg_layout_bridge_count(pc->l) == 0 && pc->n > 1
        && (t = legend_new_line(lg, -1)))
        snprintf(t, LEGEND_LEN, "No bridges: no module feeds another.");
    if (pc->opts->rank >= 0 && (t = legend_new_line(lg, -1)))
        return legend_highlight_line(pc, t, err);
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
             "text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;fill:#222}\n");
    for (int i = 0; i < NTEXT_STYLES; i++) {
        const text_style *t = &text_styles[i];
        o_printf(o, ".%s{font-size:%dpx%s%s%s%s}\n", t->cls, t->px,
                 t->bold ? ";font-weight:bold" : "", t->middle ? ";text-anchor:middle" : "",
                 t->fill ? ";fill:" : "", t->fill ? t->fill : "");
    }
    o_printf(o, ".rank,.expert-rank{stroke:#fff;stroke-width:1.5}\n"
             ".cell{stroke:#fff;stroke-width:0.6}\n"
             ".crosses-node{stroke:#000;stroke-width:1.2}\n"
             ".node-boundary{fill:none;stroke:#222;stroke-width:3;stroke-linecap:square}\n"
             ".bridge-link,.bridge{fill:none;stroke-width:1.6;stroke-opacity:0.9}\n"
             ".bridge{stroke-width:4}\n"
             ".boundary{fill:none;stroke-width:1.5;stroke-dasharray:5 3}\n"
             ".highlight{fill:none;stroke:#d6007a;stroke-width:4}\n"
             ".highlight-expert{fill:none;stroke:#d6007a;stroke-width:3;stroke-dasharray:4 2}\n"
             "</style>\n<defs>\n");
    /* One arrowhead per colour in use (a marker cannot take its path's stroke in SVG
     * 1.1); module i's is arrow(i mod the palette). */
    for (size_t i = 0; i < pc->n && i < NPALETTE; i++) {
        char strong[8];
        module_colour(i, 0, strong);
        o_printf(o, "<marker id=\"arrow%zu\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
                 "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" "
                 "fill=\"%s\"/></marker>\n", i, strong);
    }
    /* A bundle's head: as wide as a link's, on a stroke more than twice as thick. */
    for (size_t i = 0; i < pc->n && i < NPALETTE && pc->plans; i++) {
        int used = 0;
        for (size_t k = 0; k < hg_layout_bridge_count(pc->l); k++)
            used |= pc->plans[k].bundled && (size_t)hg_layout_bridge(pc->l, k)->src % NPALETTE == i;
        if (!used)
            continue;
        char strong[8];
        module_colour(i, 0, strong);
        o_printf(o, "<marker id=\"bundle%zu\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
                 "markerWidth=\"3.5\" markerHeight=\"3.5\" orient=\"auto\"><path "
                 "d=\"M0 0L10 5L0 10z\" fill=\"%s\"/></marker>\n", i, strong);
    }
    o_printf(o, "</defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
}

static void write_legend(picture *pc, const legend *lg, const char *title)
{
    out *o = &pc->o;
    draw_text(pc, T_TITLE, MARGIN, MARGIN + 14, NULL, title);
    for (int i = 0; i < lg->n; i++) {
        int y = MARGIN + 24 + (i + 1) * LEGEND_LINE, x = MARGIN;
        if (lg->swatch[i] >= 0) {
            char strong[8];
            module_colour((size_t)lg->swatch[i], 0, strong);
            o_printf(o, "<path d=\"M%d %dh26\" stroke=\"%s\" stroke-width=\"2\" "
                     "marker-end=\"url(#arrow%d)\"/>\n", x, y - 4, strong,
                     lg->swatch[i] % (int)NPALETTE);
            x += 36;
        }
        draw_text(pc, T_LEGEND, x, y, NULL, lg->text[i]);
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
static int pick_dp_per_row(const hg_module *m, long long total_ranks)
{
    long long share = (long long)HG_SVG_MAX_GROUP_CELLS * m->size / total_ranks;
    if (share < 64)
        share = 64;
    for (int d = 1; d <= m->dp; d++)
        if (m->dp % d == 0 && (long long)m->cp * m->pp * (m->dp / d) <= share)
            return d;
    return m->dp;
}

/* The picture's memory: its panels, the title's name and the columns' edges. */
static int picture_alloc(picture *pc, hg_error *err)
{
    pc->n = hg_layout_module_count(pc->l);
    pc->world = hg_layout_world_size(pc->l);
    pc->per_rank = pc->world <= HG_SVG_MAX_RANK_CELLS;
    pc->panels = calloc(pc->n, sizeof(*pc->panels));
    pc->name = ascii_name(pc->opts->title);
    pc->col_w = calloc(pc->n, sizeof(int));
    pc->col_h = calloc(pc->n, sizeof(int));
    pc->col_x = calloc(pc->n, sizeof(int));
    pc->col_r = calloc(pc->n, sizeof(int));
    if (!pc->panels || !pc->col_w || !pc->col_h || !pc->col_x || !pc->col_r
        || (pc->opts->title && !pc->name))
        return hg_error_set(err, HG_ENOMEM, "out of memory drawing the layout");
    return 0;
}

static void picture_free(picture *pc)
{
    free(pc->first);
    free(pc->crosses);
    free(pc->texts.v);
    free(pc->texts.start);
    free(pc->texts.item);
    free(pc->plans);
    free(pc->links);
    free(pc->col_x);
    free(pc->col_r);
    free(pc->col_w);
    free(pc->col_h);
    free(pc->panels);
    free(pc->name);
}

/* Every module's panel and its column. Arrows arrive from the left: a module only
 * receiving keeps its row labels out of their way. */
static void init_panels(picture *pc)
{
    const hg_layout *l = pc->l;
    long long total = 0; /* ranks drawn: the world, once per module when colocated */
    for (size_t i = 0; i < pc->n; i++)
        total += hg_layout_module(l, i)->size;
    for (size_t i = 0; i < pc->n; i++) {
        const hg_module *m = hg_layout_module(l, i);
        panel_init(&pc->panels[i], m, pc->per_rank, pc->per_rank ? 1 : pick_dp_per_row(m, total));
    }
    assign_columns(pc);
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        pc->panels[b->dest].dense.labels_right = pc->panels[b->dest].expert.labels_right = 1;
    }
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        pc->panels[b->src].dense.labels_right = pc->panels[b->src].expert.labels_right = 0;
    }
}

/* Each column's width and stacked height; returns the number of columns. */
static int size_columns(picture *pc)
{
    int ncol = 0;
    for (size_t i = 0; i < pc->n; i++) {
        const panel *pn = &pc->panels[i];
        if (pn->column + 1 > ncol)
            ncol = pn->column + 1;
        if (pn->w > pc->col_w[pn->column])
            pc->col_w[pn->column] = pn->w;
        pc->col_h[pn->column] += (pc->col_h[pn->column] ? PANEL_GAP : 0) + pn->h;
    }
    return ncol;
}

/* The panels below top, column by column: the tallest column sets the content's
 * height, the others are centred on it so arrows stay short. */
static void place_columns(picture *pc, int top)
{
    int ncol = size_columns(pc), content_h = 0;
    for (int c = 0; c < ncol; c++)
        if (pc->col_h[c] > content_h)
            content_h = pc->col_h[c];
    int colgap = hg_layout_bridge_count(pc->l) ? COLUMN_GAP : 40;
    int x = MARGIN;
    for (int c = 0; c < ncol; c++) {
        int y = top + (content_h - pc->col_h[c]) / 2;
        pc->col_x[c] = x;
        pc->col_r[c] = x + pc->col_w[c];
        for (size_t i = 0; i < pc->n; i++) {
            panel *pn = &pc->panels[i];
            if (pn->column != c)
                continue;
            panel_place(pn, x, y);
            y += pn->h + PANEL_GAP;
        }
        x += pc->col_w[c] + (c + 1 < ncol ? colgap : 0);
    }
    pc->top = top;
    pc->bottom = top + content_h;
    pc->width = x + MARGIN;
}

/* The measuring pass: the panels' texts, drawn nowhere, give the boxes that the
 * bridges' arrows are routed around. */
static int measure_texts(picture *pc, hg_error *err)
{
    int rc = 0;
    pc->o.silent = pc->collect = 1;
    for (size_t i = 0; i < pc->n && rc == 0 && !pc->o.failed; i++)
        rc = draw_panel(pc, i, err);
    pc->o.silent = pc->collect = 0;
    if (rc == 0 && (pc->o.failed || boxes_index(&pc->texts) != 0))
        rc = hg_error_set(err, HG_ENOMEM, "out of memory drawing the layout");
    return rc;
}

/* "NAME: 4,096 ranks, 2 modules, disjoint"; the document is made wide enough for it
 * and for every legend line. */
static void title_and_width(picture *pc, const legend *lg, char *title, size_t size)
{
    char a[16];
    snprintf(title, size, "%s%s%s ranks, %zu module%s, %s", pc->name ? pc->name : "",
             pc->name ? ": " : "", count_str(pc->world, a), pc->n, pc->n == 1 ? "" : "s",
             hg_layout_kind_name(hg_layout_mode(pc->l)));
    for (int i = 0; i < lg->n; i++)
        if (text_width_px(lg->text[i], 12, 0) + 2 * MARGIN + 36 > pc->width)
            pc->width = text_width_px(lg->text[i], 12, 0) + 2 * MARGIN + 36;
    if (text_width_px(title, 16, 1) + 2 * MARGIN > pc->width)
        pc->width = text_width_px(title, 16, 1) + 2 * MARGIN;
}

/* Flushes the stream: a write error shows at the latest here. */
static int finish_output(out *o, hg_error *err)
{
    if (!o->failed) {
        errno = 0;
        if (fflush(o->f) != 0 || ferror(o->f))
            o->failed = errno ? errno : EIO;
    }
    if (o->failed)
        return hg_error_set(err, HG_EIO, "cannot write the plan: %s", strerror(o->failed));
    return 0;
}

/* The document, every position decided: head, legend, panels, bridges, highlight. */
static int write_document(picture *pc, const legend *lg, const char *title, hg_error *err)
{
    int rc = 0;
    write_head(pc, pc->width, pc->bottom + MARGIN);
    write_legend(pc, lg, title);
    for (size_t i = 0; i < pc->n && rc == 0 && !pc->o.failed; i++)
        rc = draw_panel(pc, i, err);
    if (rc == 0)
        rc = draw_bridges(pc, err);
    if (rc != 0)
        return rc;
    if (pc->opts->rank >= 0)
        draw_highlight(pc);
    o_printf(&pc->o, "</svg>\n");
    return finish_output(&pc->o, err);
}

int hg_plan_write_svg(const hg_layout *l, const hg_svg_opts *opts, FILE *f, hg_error *err)
{
    picture pc = { .l = l, .opts = opts, .o = { f, 0, 0 } };
    legend *lg = malloc(sizeof(*lg));
    char title[320];
    int rc = picture_alloc(&pc, err);
    if (rc == 0 && !lg)
        rc = hg_error_set(err, HG_ENOMEM, "out of memory drawing the layout");
    if (rc != 0)
        goto out;
    init_panels(&pc);
    /* The legend is built twice: first for its height, which sets where the panels
     * start; then, the bridges planned, saying how each is drawn. */
    if ((rc = legend_build(&pc, lg, err)) != 0)
        goto out;
    place_columns(&pc, MARGIN + 24 + lg->n * LEGEND_LINE + 24);
    if ((rc = measure_texts(&pc, err)) != 0 || (rc = plan_bridges(&pc, err)) != 0
        || (rc = legend_build(&pc, lg, err)) != 0)
        goto out;
    title_and_width(&pc, lg, title, sizeof(title));
    rc = write_document(&pc, lg, title, err);
out:
    picture_free(&pc);
    free(lg);
    return rc;
}
