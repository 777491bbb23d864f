/* The layout picture (common/svg.c) and the coordinates it places ranks by
 * (hg_module_coords): cells, arrows, highlight, the large form, write errors.
 * tests/svg_test.sh checks every golden layout's picture through xmllint. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
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

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

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
    tcase_add_test(t, module_coords_match_views);
    tcase_add_test(t, vlm8_cells_arrows_names);
    tcase_add_test(t, highlight_and_nodes);
    tcase_add_test(t, colocated_panels);
    tcase_add_test(t, large_form);
    tcase_add_test(t, legend_bridges);
    tcase_add_test(t, write_error);
    suite_add_tcase(s, t);
    return run_suite(s);
}
