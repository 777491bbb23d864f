/* The layout picture (launcher/svg.c) and the coordinates it places ranks by
 * (hg_module_coords): cells, arrows, highlight, the large form, write errors.
 * tests/svg_test.sh checks every golden layout's picture through xmllint. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/layout.h"
#include "svg.h"
#include "testutil.h"

static hg_layout *layout_of_text(const char *text)
{
    hg_diags *d;
    hg_layout *l = layout_of(text, 0, &d);
    if (!l)
        diags_dump(d);
    ck_assert_ptr_nonnull(l);
    hg_diags_free(d);
    return l;
}

static const char vlm8[] = "version: 1\nmodules:\n"
                           "  - {name: radio_encoder, role: encoder, tp: 2, dp: 2}\n"
                           "  - {name: language, role: language, tp: 2, dp: 2, moe: {ep: 4}}\n";

static char *svg_of(const hg_layout *l, int rank, int gpus_per_node, const char *title)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    hg_svg_opts o = { rank, gpus_per_node, title };
    hg_error err;
    hg_error_clear(&err);
    ck_assert_msg(hg_plan_write_svg(l, &o, f, &err) == 0, "%s", err.msg);
    fclose(f);
    return buf;
}

/* strstr, in time proportional to the distance to the match: ASan's strstr measures the
 * whole rest of the haystack on every call, which made these scans of a megabyte
 * picture quadratic (14 s for one case under ASan on 2 cores). */
static const char *find(const char *h, const char *n)
{
    size_t nl = strlen(n);
    for (; *h; h++)
        if (*h == *n && strncmp(h, n, nl) == 0)
            return h;
    return NULL;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = find(s, what); p; p = find(p + 1, what))
        n++;
    return n;
}

/* ---- geometry: arrows against the boxes of texts, measured as svg.h says ---- */

typedef struct tbox {
    double x0, y0, x1, y1;
} tbox;

/* The font of a text class, from the picture's own style sheet. */
static void text_font(const char *svg, const char *cls, int *px, int *bold, int *middle)
{
    char key[48];
    snprintf(key, sizeof(key), "\n.%s{", cls);
    const char *p = find(svg, key);
    ck_assert_msg(p != NULL, "no style for class %s", cls);
    const char *end = strchr(p, '}'), *f = find(p, "font-size:");
    ck_assert_msg(f && f < end, "no font-size for class %s", cls);
    *px = atoi(f + 10);
    const char *b = find(p, "font-weight:bold"), *m = find(p, "text-anchor:middle");
    *bold = b && b < end;
    *middle = m && m < end;
}

/* Every <text>'s box; returns how many (at most cap). */
static size_t text_boxes(const char *svg, tbox *v, size_t cap)
{
    size_t n = 0;
    for (const char *p = find(svg, "<text class=\""); p && n < cap; p = find(p + 1, "<text class=\"")) {
        char cls[32];
        double x, y;
        ck_assert_int_eq(sscanf(p, "<text class=\"%31[^\"]\" x=\"%lf\" y=\"%lf\"", cls, &x, &y), 3);
        int px, bold, middle;
        text_font(svg, cls, &px, &bold, &middle);
        const char *t = strchr(p, '>') + 1, *e = find(t, "</text>");
        size_t bytes = 0;
        for (; t < e; t++, bytes++)
            if (*t == '&')
                t = strchr(t, ';'); /* an entity is one character */
        double w = bytes * px * (bold ? HG_SVG_GLYPH_W_BOLD : HG_SVG_GLYPH_W) + 1;
        if (middle)
            x -= w / 2;
        v[n++] = (tbox){ x, y - HG_SVG_TEXT_ASCENT * px, x + w, y + HG_SVG_TEXT_DESCENT * px };
    }
    return n;
}

static int meets(double x0, double y0, double x1, double y1, tbox b)
{
    double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    double p[4] = { -dx, dx, -dy, dy }, q[4] = { x0 - b.x0, b.x1 - x0, y0 - b.y0, b.y1 - y0 };
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0)
                return 0;
            continue;
        }
        double r = q[k] / p[k];
        if (p[k] < 0 && r > t0)
            t0 = r;
        if (p[k] > 0 && r < t1)
            t1 = r;
        if (t0 > t1)
            return 0;
    }
    return 1;
}

/* How many (arrow, text) pairs cross: every bridge and bridge-link path (M, L and C
 * commands, cubics cut in 64) against every text's box. */
static int arrow_text_crossings(const char *svg)
{
    size_t cap = 100000;
    tbox *boxes = malloc(cap * sizeof(*boxes));
    ck_assert_ptr_nonnull(boxes);
    size_t nbox = text_boxes(svg, boxes, cap);
    int crossings = 0;
    for (const char *p = find(svg, "<path class=\"bridge"); p; p = find(p + 1, "<path class=\"bridge")) {
        const char *d = find(p, " d=\"") + 4;
        double cx = 0, cy = 0;
        unsigned char *hit = calloc(nbox + 1, 1);
        while (*d != '"') {
            char cmd = *d++;
            double a[6];
            int n = 0;
            int want = cmd == 'C' ? 6 : 2;
            for (int k = 0; k < want; k++, n++) {
                /* strtod, not sscanf: ASan's sscanf measures the whole rest of the
                 * picture on every call */
                char *end;
                a[k] = strtod(d, &end);
                if (end == d)
                    ck_abort_msg("a path's %c command lacks a number: '%.40s'", cmd, d);
                d = end;
            }
            int pieces = cmd == 'C' ? 64 : 1;
            for (int i = 1; cmd != 'M' && i <= pieces; i++) {
                double t = (double)i / pieces, u = 1 - t, x, y;
                if (cmd == 'C') {
                    x = u * u * u * cx + 3 * t * u * u * a[0] + 3 * t * t * u * a[2] + t * t * t * a[4];
                    y = u * u * u * cy + 3 * t * u * u * a[1] + 3 * t * t * u * a[3] + t * t * t * a[5];
                } else {
                    x = a[0], y = a[1];
                }
                double t0 = (double)(i - 1) / pieces, u0 = 1 - t0, px = cx, py = cy;
                if (cmd == 'C' && i > 1) {
                    px = u0 * u0 * u0 * cx + 3 * t0 * u0 * u0 * a[0] + 3 * t0 * t0 * u0 * a[2] + t0 * t0 * t0 * a[4];
                    py = u0 * u0 * u0 * cy + 3 * t0 * u0 * u0 * a[1] + 3 * t0 * t0 * u0 * a[3] + t0 * t0 * t0 * a[5];
                }
                for (size_t k = 0; k < nbox; k++)
                    if (!hit[k] && meets(px, py, x, y, boxes[k]))
                        hit[k] = 1, crossings++;
            }
            cx = a[n - 2], cy = a[n - 1];
        }
        free(hit);
    }
    free(boxes);
    return crossings;
}

/* configs/large-1024.yaml: 128 links of one fan-in bridge between wrapped blocks. */
static const char large1024[] = "version: 1\nworld_size: 1024\nmodules:\n"
                                "  - {name: vision, role: encoder, tp: 2, dp: 128}\n"
                                "  - {name: language, role: language, tp: 8, pp: 3, dp: 32, "
                                "moe: {num_experts: 64, ep: 8}}\n";

/* hg_module_coords is the rank view's coords, for every rank of both views. */
START_TEST(module_coords_match_views)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - {name: a, role: encoder, tp: 3, dp: 1, feeds: []}\n"
                                  "  - {name: lm, role: language, tp: 2, cp: 2, dp: 2, pp: 2, "
                                  "moe: {ep: 2, expert_tp: 2}}\n");
    for (int r = 0; r < hg_layout_world_size(l); r++) {
        hg_rank_view v;
        ck_assert_int_eq(hg_rank_view_build(l, r, &v, NULL), 0);
        hg_coords c;
        hg_module_coords(hg_layout_module(l, (size_t)v.module_index), r, &c);
        ck_assert_mem_eq(&c, &v.coords, sizeof(c));
        hg_rank_view_free(&v);
    }
    /* lm's last rank, 3 + 15: tp fastest, then cp, dp, pp; expert_tp, ep, expert_dp. */
    hg_coords c;
    hg_module_coords(hg_layout_module(l, 1), 18, &c);
    ck_assert_int_eq(c.tp, 1);
    ck_assert_int_eq(c.cp, 1);
    ck_assert_int_eq(c.dp, 1);
    ck_assert_int_eq(c.pp, 1);
    ck_assert_int_eq(c.expt_tp, 1);
    ck_assert_int_eq(c.ep, 1);
    ck_assert_int_eq(c.expt_dp, 1);
    hg_module_coords(hg_layout_module(l, 1), 3 + 6, &c); /* local 6: tp 0 cp 1 dp 1 */
    ck_assert_int_eq(c.tp, 0);
    ck_assert_int_eq(c.cp, 1);
    ck_assert_int_eq(c.dp, 1);
    ck_assert_int_eq(c.pp, 0);
    hg_layout_free(l);
}
END_TEST

START_TEST(vlm8_cells_arrows_names)
{
    hg_layout *l = layout_of_text(vlm8);
    char *s = svg_of(l, -1, 0, "configs/vlm.yaml");
    ck_assert_int_eq(count(s, "<rect class=\"rank\" "), 8);
    for (int r = 0; r < 8; r++) {
        char want[64];
        snprintf(want, sizeof(want), "<rect class=\"rank\" data-rank=\"%d\" ", r);
        ck_assert_int_eq(count(s, want), 1);
    }
    /* language has experts (ep 4): its expert view is a second grid of its 4 ranks */
    ck_assert_int_eq(count(s, "<rect class=\"expert-rank\" "), 4);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 2);
    /* source leaders: the highest tp of each replica; receivers: the lowest */
    ck_assert_int_eq(count(s, "data-from=\"1\" data-to=\"4\""), 1);
    ck_assert_int_eq(count(s, "data-from=\"3\" data-to=\"6\""), 1);
    ck_assert_int_eq(count(s, "class=\"boundary\""), 4);
    ck_assert_int_eq(count(s, ">radio_encoder: tp2 dp2 pp1<"), 1);
    ck_assert_int_eq(count(s, ">language: tp2 dp2 pp1, ep4<"), 1);
    ck_assert_int_eq(count(s, ">configs/vlm.yaml: 8 ranks, 2 modules, disjoint<"), 1);
    ck_assert_int_eq(count(s, "class=\"highlight\""), 0);
    ck_assert_int_eq(count(s, "node-boundary\" d="), 0);
    ck_assert_int_eq(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44), 0);
    ck_assert_str_eq(s + strlen(s) - 7, "</svg>\n");
    free(s);
    hg_layout_free(l);
}
END_TEST

START_TEST(highlight_and_nodes)
{
    hg_layout *l = layout_of_text(vlm8);
    char *s = svg_of(l, 5, 2, NULL);
    ck_assert_int_eq(count(s, "<rect class=\"highlight\" "), 1);
    ck_assert_int_eq(count(s, "<rect class=\"highlight\" data-rank=\"5\" "), 1);
    ck_assert_int_eq(count(s, "<rect class=\"highlight-expert\" data-rank=\"5\" "), 1);
    ck_assert_int_eq(count(s, ">magenta: rank 5, language tp 1 dp 0 pp 0, ep 1; node 2; "
                              "member radio_encoder \xe2\x86\x92 language<"), 1);
    /* Nodes of 2: each dp row of a tp2 grid is a node, so lines run between rows (one
     * per column) in both modules; the expert view's row of 4 is cut once. */
    ck_assert_int_eq(count(s, "<path class=\"node-boundary\" "), 3);
    ck_assert_int_eq(count(s, ">n3<"), 4); /* ranks 6 and 7, dense and expert */
    free(s);
    hg_layout_free(l);
}
END_TEST

START_TEST(colocated_panels)
{
    hg_layout *l = layout_of_text("version: 1\nlayout: colocated\nmodules:\n"
                                  "  - {name: vision, role: encoder, dp: 8}\n"
                                  "  - {name: language, role: language, tp: 2, pp: 2, dp: 2}\n");
    char *s = svg_of(l, 6, 0, NULL);
    /* every rank once in each module's panel, and highlighted in both */
    ck_assert_int_eq(count(s, "<rect class=\"rank\" "), 16);
    ck_assert_int_eq(count(s, "<rect class=\"rank\" data-rank=\"6\" "), 2);
    ck_assert_int_eq(count(s, "<rect class=\"highlight\" data-rank=\"6\" "), 2);
    ck_assert_int_eq(count(s, "class=\"bridge"), 0);
    ck_assert_int_eq(count(s, ">magenta: rank 6, vision tp 0 dp 6 pp 0; language tp 0 dp 1 pp 1<"), 1);
    free(s);
    hg_layout_free(l);
}
END_TEST

/* Above HG_SVG_MAX_RANK_CELLS: a cell per tp group, an arrow per bridge, a caption. */
START_TEST(large_form)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - {name: vision, role: encoder, tp: 2, dp: 2048}\n"
                                  "  - {name: language, role: language, tp: 4, pp: 2, dp: 1024}\n");
    ck_assert_int_gt(hg_layout_world_size(l), HG_SVG_MAX_RANK_CELLS);
    char *s = svg_of(l, 4097, 6, NULL);
    ck_assert_int_eq(count(s, "<rect class=\"rank\" "), 0);
    ck_assert_int_eq(count(s, "<rect class=\"cell"), 2048 + 2048);
    ck_assert_int_eq(count(s, "data-ranks=\"2\""), 2048);
    ck_assert_int_eq(count(s, "data-ranks=\"4\""), 2048);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 0);
    ck_assert_int_eq(count(s, "<path class=\"bridge\" "), 1);
    ck_assert_int_eq(count(s, ">2,048 links<"), 1);
    ck_assert_int_eq(count(s, "Above 4,096 ranks one cell per rank would be unreadable"), 1);
    /* Nodes of 6: vision's tp groups (2 ranks, from 0) never cross; language's (4
     * ranks, from 4096) do when their ends lie on two nodes. */
    int crossing = 0;
    for (int first = 4096; first < 4096 + 8192; first += 4)
        crossing += first / 6 != (first + 3) / 6;
    ck_assert_int_eq(count(s, "<rect class=\"cell crosses-node\" "), crossing);
    ck_assert_int_eq(count(s, "<rect class=\"highlight\" data-rank=\"4097\" "), 1);
    free(s);
    hg_layout_free(l);
}
END_TEST

/* The legend: a line per bridge with its leaders and links, while room is left. */
START_TEST(legend_bridges)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - {name: audio, role: encoder, dp: 2}\n"
                                  "  - {name: language, role: language, tp: 2, dp: 4}\n");
    char *s = svg_of(l, -1, 0, NULL);
    ck_assert_int_eq(count(s, ">audio \xe2\x86\x92 language: fan-out, 2 \xe2\x86\x92 4 "
                              "leaders, 4 links (an arrow per link"), 1);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 4);
    free(s);
    hg_layout_free(l);

    /* 63 one-rank encoders feed the language module: 61 lines, then a count. */
    char text[8192];
    int n = snprintf(text, sizeof(text), "version: 1\nmodules:\n");
    for (int i = 0; i < 63; i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "  - {name: e%d, role: encoder, dp: 1}\n", i);
    snprintf(text + n, sizeof(text) - (size_t)n, "  - {name: lm, role: language, dp: 1}\n");
    l = layout_of_text(text);
    s = svg_of(l, 63, 0, NULL);
    ck_assert_int_eq(count(s, "leaders, 1 link (an arrow per link"), 61);
    ck_assert_int_eq(count(s, ">... and 2 more bridges.<"), 1);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 63);
    ck_assert_int_eq(count(s, "<marker "), 10); /* one per palette colour */
    ck_assert_int_eq(count(s, ">magenta: rank 63, lm tp 0 dp 0 pp 0; "), 1);
    free(s);
    hg_layout_free(l);
}
END_TEST

/* 128 links drawn one by one crossed the cell labels and the expert view's caption:
 * now one bundled arrow, its count beside it, and no arrow crosses a text. */
START_TEST(many_links_bundled_clear_of_text)
{
    hg_layout *l = layout_of_text(large1024);
    ck_assert_int_le(hg_layout_world_size(l), HG_SVG_MAX_RANK_CELLS); /* the per-rank form */
    char *s = svg_of(l, 300, 8, "configs/large-1024.yaml");
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 0);
    ck_assert_int_eq(count(s, "<path class=\"bridge\" data-bridge=\"0\" data-links=\"128\" "), 1);
    ck_assert_int_eq(count(s, ">128 links<"), 1);
    ck_assert_int_eq(count(s, "128 links (one thick arrow for all of them, their count beside "
                              "it; dashed: the boundary groups that broadcast them)<"), 1);
    ck_assert_int_eq(count(s, "class=\"boundary\""), 128 + 32); /* the leaders still show */
    ck_assert_int_eq(arrow_text_crossings(s), 0);
    free(s);
    hg_layout_free(l);
}
END_TEST

/* Few links, clear of text: an arrow each, as before; one more than
 * HG_SVG_MAX_LINK_ARROWS: bundled even where they would not cross a text. */
START_TEST(few_links_drawn_apart)
{
    hg_layout *l = layout_of_text(vlm8);
    char *s = svg_of(l, 5, 4, NULL);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 2);
    ck_assert_int_eq(count(s, "<path class=\"bridge\" "), 0);
    ck_assert_int_eq(arrow_text_crossings(s), 0);
    free(s);
    hg_layout_free(l);

    char text[256];
    snprintf(text, sizeof(text), "version: 1\nmodules:\n"
             "  - {name: audio, role: encoder, dp: %d}\n"
             "  - {name: language, role: language, dp: %d}\n",
             HG_SVG_MAX_LINK_ARROWS + 1, HG_SVG_MAX_LINK_ARROWS + 1);
    l = layout_of_text(text);
    s = svg_of(l, -1, 0, NULL);
    ck_assert_int_eq(count(s, "class=\"bridge-link\""), 0);
    ck_assert_int_eq(count(s, "<path class=\"bridge\" "), 1);
    ck_assert_int_eq(count(s, ">33 links<"), 1);
    ck_assert_int_eq(arrow_text_crossings(s), 0);
    free(s);
    hg_layout_free(l);
}
END_TEST

/* Two encoders feed the same 4 receivers: each receiver's outline is drawn once per
 * bridge, in one dash pattern shifted per bridge, so both colours show (before, the
 * second covered the first). A receiver's outline of one bridge keeps the plain
 * dashes. */
START_TEST(shared_outline_every_colour)
{
    hg_layout *l = layout_of_text("version: 1\nmodules:\n"
                                  "  - {name: audio, role: encoder, dp: 2}\n"
                                  "  - {name: vision, role: encoder, tp: 2, dp: 2}\n"
                                  "  - {name: language, role: language, tp: 2, dp: 4, moe: {ep: 4}}\n");
    char *s = svg_of(l, -1, 0, NULL);
    ck_assert_int_eq(count(s, "data-bridge=\"0\" data-side=\"dest\""), 4);
    ck_assert_int_eq(count(s, "data-bridge=\"1\" data-side=\"dest\""), 4);
    ck_assert_int_eq(count(s, "stroke=\"#4e79a7\" style=\"stroke-dasharray:5 11;stroke-dashoffset:0\"/>"), 4);
    ck_assert_int_eq(count(s, "stroke=\"#f28e2b\" style=\"stroke-dasharray:5 11;stroke-dashoffset:8\"/>"), 4);
    /* and the style sheet's, for .boundary and .highlight-expert */
    ck_assert_int_eq(count(s, "stroke-dasharray"), 8 + 2);
    ck_assert_int_eq(arrow_text_crossings(s), 0);
    free(s);
    hg_layout_free(l);
}
END_TEST

START_TEST(write_error)
{
    hg_layout *l = layout_of_text(vlm8);
    FILE *f = fopen("/dev/full", "w");
    if (f) {
        hg_svg_opts o = { 5, 4, "x.yaml" };
        hg_error err;
        hg_error_clear(&err);
        ck_assert_int_eq(hg_plan_write_svg(l, &o, f, &err), HG_EIO);
        ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
        fclose(f);
    }
    hg_layout_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("svg");
    TCase *t = tcase_create("svg");
    /* The 1,024-rank pictures take seconds under ASan on a loaded 2-core machine; Check's
     * default of 4 s would fail them for time, not for what they draw. */
    tcase_set_timeout(t, 120);
    tcase_add_test(t, module_coords_match_views);
    tcase_add_test(t, vlm8_cells_arrows_names);
    tcase_add_test(t, highlight_and_nodes);
    tcase_add_test(t, colocated_panels);
    tcase_add_test(t, large_form);
    tcase_add_test(t, legend_bridges);
    tcase_add_test(t, many_links_bundled_clear_of_text);
    tcase_add_test(t, few_links_drawn_apart);
    tcase_add_test(t, shared_outline_every_colour);
    tcase_add_test(t, write_error);
    suite_add_tcase(s, t);
    return run_suite(s);
}
