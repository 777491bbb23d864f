/* The placement check (common/grid/placement.c): which tp, cp, ep and expert_tp groups span
 * nodes, with exact members and nodes, on nodes of consecutive ranks and on nodes the
 * ranks report; the formatted line; the diagnostics at the config's keys, warnings and
 * --strict errors; bad arguments; and a 131,072-rank layout. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"
#include "grid/placement.h"
#include "testutil.h"
#include "grid/validate.h"

/* Parses and validates text as "t.yaml"; both outputs are the caller's. */
static hg_layout *load(const char *text, hg_config **cfg)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_layout *l = NULL;
    *cfg = NULL;
    if (hg_config_parse(text, strlen(text), cfg, d) == 0)
        hg_layout_build(*cfg, 0, &l, d);
    if (!l)
        diags_dump(d);
    hg_diags_free(d);
    ck_assert_msg(l != NULL, "the test layout does not validate");
    return l;
}

/* Runs the check, which must succeed. */
static void check(const hg_layout *l, int gpn, const int *node_of_rank, hg_placement *p)
{
    hg_error err;
    hg_error_clear(&err);
    int rc = hg_placement_check(l, gpn, node_of_rank, p, &err);
    ck_assert_msg(rc == 0, "hg_placement_check: %s", err.msg);
}

static void want_group(const hg_placement_finding *f, int j, int index, const char *ranks,
                       const char *nodes, int nnodes)
{
    ck_assert_int_gt(f->nshown, j);
    ck_assert_int_eq(f->shown[j].index, index);
    ck_assert_str_eq(f->shown[j].ranks, ranks);
    ck_assert_str_eq(f->shown[j].nodes, nodes);
    ck_assert_int_eq(f->shown[j].nnodes, nnodes);
}

static void want_finding(const hg_placement_finding *f, int module, const char *name,
                         hg_kind kind, int groups, int total, int min_nodes, int max_nodes)
{
    ck_assert_int_eq(f->module, module);
    ck_assert_str_eq(f->name, name);
    ck_assert_int_eq(f->kind, kind);
    ck_assert_int_eq(f->groups, groups);
    ck_assert_int_eq(f->total, total);
    ck_assert_int_eq(f->min_nodes, min_nodes);
    ck_assert_int_eq(f->max_nodes, max_nodes);
    ck_assert_int_eq(f->nshown, groups < HG_PLACEMENT_SHOWN ? groups : HG_PLACEMENT_SHOWN);
}

static const char *TP8 = "version: 1\n"
                         "modules:\n"
                         "  - name: language\n"
                         "    role: language\n"
                         "    tp: 8\n"
                         "    dp: 2\n";

START_TEST(tp8_on_nodes_of_4)
{
    hg_config *cfg;
    hg_layout *l = load(TP8, &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    check(l, 4, NULL, &p);
    ck_assert_int_eq(p.gpus_per_node, 4);
    ck_assert_int_eq(p.nodes, 4);
    ck_assert_uint_eq(p.nfindings, 1);
    const hg_placement_finding *f = &p.findings[0];
    want_finding(f, 0, "language", HG_KIND_TP, 2, 2, 2, 2);
    ck_assert_int_eq(f->group_size, 8);
    want_group(f, 0, 0, "0-7", "0-1", 2);
    want_group(f, 1, 1, "8-15", "2-3", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 2 of 2 tp groups span 2 nodes (4 GPUs per node): ranks [0-7] "
                     "on nodes 0-1, [8-15] on nodes 2-3; tensor parallelism across nodes is "
                     "slow (it communicates in every layer)");
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

START_TEST(fits_says_nothing)
{
    hg_config *cfg;
    hg_layout *l = load(TP8, &cfg);
    hg_placement p;
    check(l, 8, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 0);
    ck_assert_ptr_null(p.findings);
    ck_assert_int_eq(p.nodes, 2);
    hg_placement_free(&p);
    /* One node holds the whole world. */
    check(l, 64, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 0);
    ck_assert_int_eq(p.nodes, 1);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* The 8-GPU MIMO example: encoder tp2 on ranks 0-3, language tp2 ep4 on ranks 4-7. */
START_TEST(vlm_fits_on_nodes_of_4)
{
    hg_config *cfg = NULL;
    hg_diags *d = hg_diags_new("vlm");
    hg_layout *l = NULL;
    ck_assert_int_eq(hg_layout_load(SRCDIR "/configs/vlm-8gpu-moe.yaml", 0, &cfg, &l, d), 0);
    hg_placement p;
    check(l, 4, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 0);
    hg_placement_free(&p);
    /* Nodes of 2: the language module's ep group (ranks 4-7) spans 2, its tp fits. */
    check(l, 2, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 1, "language", HG_KIND_EP, 1, 1, 2, 2);
    want_group(&p.findings[0], 0, 0, "4-7", "2-3", 2);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
    hg_diags_free(d);
}
END_TEST

/* An encoder of 2 ranks shifts the language module's tp=4 groups off the nodes of 4:
 * each straddles two, and the last node (ranks 16-17) is partial. */
static const char *MISALIGNED = "version: 1\n"
                                "modules:\n"
                                "  - name: vision\n"
                                "    role: encoder\n"
                                "    tp: 2\n"
                                "    dp: 1\n"
                                "  - name: language\n"
                                "    role: language\n"
                                "    tp: 4\n"
                                "    dp: 4\n";

START_TEST(encoder_offset_misaligns)
{
    hg_config *cfg;
    hg_layout *l = load(MISALIGNED, &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    check(l, 4, NULL, &p);
    ck_assert_int_eq(p.nodes, 5);
    ck_assert_uint_eq(p.nfindings, 1);
    const hg_placement_finding *f = &p.findings[0];
    want_finding(f, 1, "language", HG_KIND_TP, 4, 4, 2, 2);
    want_group(f, 0, 0, "2-5", "0-1", 2);
    want_group(f, 1, 1, "6-9", "1-2", 2);
    want_group(f, 2, 2, "10-13", "2-3", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 4 of 4 tp groups span 2 nodes (4 GPUs per node): ranks [2-5] "
                     "on nodes 0-1, [6-9] on nodes 1-2, [10-13] on nodes 2-3 and 1 more; "
                     "tensor parallelism across nodes is slow (it communicates in every layer)");
    hg_placement_free(&p);
    /* Nodes of 2: the encoder's tp=2 fits, no tp=4 group can. */
    check(l, 2, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 1, "language", HG_KIND_TP, 4, 4, 2, 2);
    want_group(&p.findings[0], 0, 0, "2-5", "1-2", 2);
    hg_placement_free(&p);
    /* Nodes of 6 (ranks 0-5, 6-11, 12-17) split one group of four. */
    check(l, 6, NULL, &p);
    ck_assert_int_eq(p.nodes, 3);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 1, "language", HG_KIND_TP, 1, 4, 2, 2);
    want_group(&p.findings[0], 0, 2, "10-13", "1-2", 2);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* Golden dense16_cp: tp2 cp2 dp2 pp2; a cp group is ranks {r, r + 2}. */
START_TEST(cp_groups)
{
    hg_config *cfg;
    hg_layout *l = load("version: 1\n"
                        "modules:\n"
                        "  - name: language\n"
                        "    role: language\n"
                        "    tp: 2\n"
                        "    cp: 2\n"
                        "    dp: 2\n"
                        "    pp: 2\n",
                        &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    check(l, 2, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 1);
    const hg_placement_finding *f = &p.findings[0];
    want_finding(f, 0, "language", HG_KIND_CP, 8, 8, 2, 2);
    ck_assert_int_eq(f->group_size, 2);
    want_group(f, 0, 0, "0, 2", "0-1", 2);
    want_group(f, 1, 1, "1, 3", "0-1", 2);
    want_group(f, 2, 2, "4, 6", "2-3", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 8 of 8 cp groups span 2 nodes (2 GPUs per node): ranks [0, 2] "
                     "on nodes 0-1, [1, 3] on nodes 0-1, [4, 6] on nodes 2-3 and 5 more; "
                     "context parallelism across nodes is slow (it exchanges keys and values "
                     "in every layer)");
    hg_placement_free(&p);
    check(l, 4, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 0);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* tp2, expert_tp 4, ep 2 over 16 ranks: expert_tp groups are 4 consecutive ranks and
 * ep groups {r, r + 4}; on nodes of 2 both kinds cross, tp does not. */
START_TEST(ep_and_expert_tp)
{
    hg_config *cfg;
    hg_layout *l = load("version: 1\n"
                        "modules:\n"
                        "  - name: language\n"
                        "    role: language\n"
                        "    tp: 2\n"
                        "    dp: 8\n"
                        "    moe:\n"
                        "      ep: 2\n"
                        "      expert_tp: 4\n",
                        &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    check(l, 2, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 2);
    const hg_placement_finding *ep = &p.findings[0], *etp = &p.findings[1];
    want_finding(ep, 0, "language", HG_KIND_EP, 8, 8, 2, 2);
    want_group(ep, 0, 0, "0, 4", "0, 2", 2);
    want_group(ep, 1, 1, "1, 5", "0, 2", 2);
    want_group(ep, 2, 2, "2, 6", "1, 3", 2);
    want_finding(etp, 0, "language", HG_KIND_EXPT_TP, 4, 4, 2, 2);
    want_group(etp, 0, 0, "0-3", "0-1", 2);
    want_group(etp, 1, 1, "4-7", "2-3", 2);
    want_group(etp, 2, 2, "8-11", "4-5", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 8 of 8 ep groups span 2 nodes (2 GPUs per node): ranks [0, 4] "
                     "on nodes 0, 2, [1, 5] on nodes 0, 2, [2, 6] on nodes 1, 3 and 5 more; "
                     "expert parallelism's all-to-all then crosses the network in every MoE "
                     "layer");
    ck_assert_str_eq(hg_placement_format(&p, 1, line, sizeof(line)),
                     "language: 4 of 4 expt_tp groups span 2 nodes (2 GPUs per node): ranks "
                     "[0-3] on nodes 0-1, [4-7] on nodes 2-3, [8-11] on nodes 4-5 and 1 more; "
                     "expert tensor parallelism across nodes is slow (it communicates in every "
                     "MoE layer)");
    hg_placement_free(&p);
    /* Nodes of 4: expert_tp fits, ep still spans 2 nodes ({0, 4}: nodes 0 and 1). */
    check(l, 4, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 0, "language", HG_KIND_EP, 8, 8, 2, 2);
    want_group(&p.findings[0], 0, 0, "0, 4", "0-1", 2);
    hg_placement_free(&p);
    check(l, 8, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 0);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* Colocated: every module spans ranks 0-7, and each module's groups are checked. */
static const char *COLOCATED = "version: 1\n"
                               "layout: colocated\n"
                               "modules:\n"
                               "  - name: vision\n"
                               "    role: encoder\n"
                               "    tp: 4\n"
                               "    dp: 2\n"
                               "  - name: language\n"
                               "    role: language\n"
                               "    tp: 2\n"
                               "    pp: 2\n"
                               "    dp: 2\n";

START_TEST(colocated_every_module)
{
    hg_config *cfg;
    hg_layout *l = load(COLOCATED, &cfg);
    hg_placement p;
    check(l, 2, NULL, &p);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 0, "vision", HG_KIND_TP, 2, 2, 2, 2);
    want_group(&p.findings[0], 0, 0, "0-3", "0-1", 2);
    want_group(&p.findings[0], 1, 1, "4-7", "2-3", 2);
    hg_placement_free(&p);
    /* Nodes of 3 (the last one partial): both modules' tp groups cross. */
    check(l, 3, NULL, &p);
    ck_assert_int_eq(p.nodes, 3);
    ck_assert_uint_eq(p.nfindings, 2);
    want_finding(&p.findings[0], 0, "vision", HG_KIND_TP, 2, 2, 2, 2);
    want_group(&p.findings[0], 0, 0, "0-3", "0-1", 2);
    want_group(&p.findings[0], 1, 1, "4-7", "1-2", 2);
    want_finding(&p.findings[1], 1, "language", HG_KIND_TP, 1, 4, 2, 2);
    want_group(&p.findings[1], 0, 1, "2-3", "0-1", 2);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* Nodes the ranks reported (the agents' hosts): round robin over two hosts puts every
 * tp group on both, and no GPU count is claimed. */
START_TEST(reported_nodes_interleaved)
{
    hg_config *cfg;
    hg_layout *l = load(TP8, &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    int node[16];
    for (int r = 0; r < 16; r++)
        node[r] = r % 2;
    check(l, 0, node, &p);
    ck_assert_int_eq(p.gpus_per_node, 0);
    ck_assert_int_eq(p.nodes, 2);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 0, "language", HG_KIND_TP, 2, 2, 2, 2);
    want_group(&p.findings[0], 0, 0, "0-7", "0-1", 2);
    want_group(&p.findings[0], 1, 1, "8-15", "0-1", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 2 of 2 tp groups span 2 nodes: ranks [0-7] on nodes 0-1, "
                     "[8-15] on nodes 0-1; tensor parallelism across nodes is slow (it "
                     "communicates in every layer)");
    hg_placement_free(&p);
    /* Blocks of 8 on hosts 5 and 0 (indexes need not be dense or ordered): fits. */
    for (int r = 0; r < 16; r++)
        node[r] = r < 8 ? 5 : 0;
    check(l, 8, node, &p);
    ck_assert_int_eq(p.nodes, 2);
    ck_assert_uint_eq(p.nfindings, 0);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* Groups spanning different numbers of nodes, and nodes out of rank order. */
START_TEST(reported_nodes_uneven)
{
    hg_config *cfg;
    hg_layout *l = load(TP8, &cfg);
    hg_placement p;
    char line[HG_PLACEMENT_LINE_MAX];
    int node[16] = { 7, 1, 7, 1, 3, 3, 3, 3, 9, 9, 9, 9, 9, 9, 9, 4 };
    check(l, 0, node, &p);
    ck_assert_int_eq(p.nodes, 5);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 0, "language", HG_KIND_TP, 2, 2, 2, 3);
    want_group(&p.findings[0], 0, 0, "0-7", "1, 3, 7", 3);
    want_group(&p.findings[0], 1, 1, "8-15", "4, 9", 2);
    ck_assert_str_eq(hg_placement_format(&p, 0, line, sizeof(line)),
                     "language: 2 of 2 tp groups span 2 to 3 nodes: ranks [0-7] on nodes 1, "
                     "3, 7, [8-15] on nodes 4, 9; tensor parallelism across nodes is slow (it "
                     "communicates in every layer)");
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

START_TEST(bad_arguments)
{
    hg_config *cfg;
    hg_layout *l = load(TP8, &cfg);
    hg_placement p;
    hg_error err;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_placement_check(l, 0, NULL, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "placement: 0 GPUs per node, and no node for each rank");
    ck_assert_uint_eq(p.nfindings, 0);
    hg_placement_free(&p);
    int node[16] = { 0 };
    node[3] = -1;
    ck_assert_int_eq(hg_placement_check(l, 0, node, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "placement: rank 3 is on node -1, outside 0..15");
    hg_placement_free(&p);
    node[3] = 16;
    ck_assert_int_eq(hg_placement_check(l, 0, node, &p, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "placement: rank 3 is on node 16, outside 0..15");
    hg_placement_free(&p);
    hg_placement_free(&p); /* twice is harmless */
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* The launcher's diagnostics: at the kind's key, warnings, errors with strict. */
START_TEST(diagnose_at_keys)
{
    hg_config *cfg;
    hg_layout *l = load("version: 1\n"
                        "modules:\n"
                        "  - name: language\n"
                        "    role: language\n"
                        "    tp: 4\n"
                        "    dp: 4\n"
                        "    moe:\n"
                        "      ep: 8\n",
                        &cfg);
    hg_diags *d = hg_diags_new("t.yaml");
    ck_assert_int_eq(hg_placement_diagnose(l, cfg, 4, 0, d), 0);
    ck_assert_uint_eq(hg_diags_warnings(d), 1);
    ck_assert_uint_eq(hg_diags_errors(d), 0);
    ck_assert_diag(d, "t.yaml:8:11: warning: language: 2 of 2 ep groups span 2 nodes (4 GPUs "
                      "per node): ranks [0-7] on nodes 0-1, [8-15] on nodes 2-3; expert "
                      "parallelism's all-to-all then crosses the network in every MoE layer");
    hg_diags_free(d);

    d = hg_diags_new("t.yaml");
    ck_assert_int_eq(hg_placement_diagnose(l, cfg, 2, HG_VALIDATE_STRICT, d), HG_ECONFIG);
    ck_assert_uint_eq(hg_diags_errors(d), 2);
    ck_assert_uint_eq(hg_diags_warnings(d), 0);
    ck_assert_diag(d, "t.yaml:5:9: error: language: 4 of 4 tp groups span 2 nodes (2 GPUs per "
                      "node): ranks [0-3] on nodes 0-1, [4-7] on nodes 2-3, [8-11] on nodes "
                      "4-5 and 1 more; tensor parallelism across nodes is slow (it "
                      "communicates in every layer)");
    ck_assert_str_eq(hg_diags_text(d, 1),
                     "t.yaml:8:11: error: language: 2 of 2 ep groups span 4 nodes (2 GPUs per "
                     "node): ranks [0-7] on nodes 0-3, [8-15] on nodes 4-7; expert "
                     "parallelism's all-to-all then crosses the network in every MoE layer");
    hg_diags_free(d);

    /* Fits: nothing added, strict or not; no config: no position. */
    d = hg_diags_new("t.yaml");
    ck_assert_int_eq(hg_placement_diagnose(l, cfg, 8, HG_VALIDATE_STRICT, d), 0);
    ck_assert_uint_eq(hg_diags_size(d), 0);
    ck_assert_int_eq(hg_placement_diagnose(l, NULL, 4, 0, d), 0);
    ck_assert_str_eq(hg_diags_text(d, 0),
                     "t.yaml: warning: language: 2 of 2 ep groups span 2 nodes (4 GPUs per "
                     "node): ranks [0-7] on nodes 0-1, [8-15] on nodes 2-3; expert "
                     "parallelism's all-to-all then crosses the network in every MoE layer");
    ck_assert_int_eq(hg_placement_diagnose(l, cfg, 0, 0, d), HG_EINVAL);
    ck_assert_str_eq(hg_diags_text(d, 1),
                     "t.yaml: error: placement: 0 GPUs per node, and no node for each rank");
    hg_diags_free(d);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* A colocated module's finding points at its own key. */
START_TEST(diagnose_colocated)
{
    hg_config *cfg;
    hg_layout *l = load(COLOCATED, &cfg);
    hg_diags *d = hg_diags_new("t.yaml");
    ck_assert_int_eq(hg_placement_diagnose(l, cfg, 3, 0, d), 0);
    ck_assert_uint_eq(hg_diags_size(d), 2);
    ck_assert_str_eq(hg_diags_text(d, 0),
                     "t.yaml:6:9: warning: vision: 2 of 2 tp groups span 2 nodes (3 GPUs per "
                     "node): ranks [0-3] on nodes 0-1, [4-7] on nodes 1-2; tensor parallelism "
                     "across nodes is slow (it communicates in every layer)");
    ck_assert_str_eq(hg_diags_text(d, 1),
                     "t.yaml:10:9: warning: language: 1 of 4 tp groups span 2 nodes (3 GPUs "
                     "per node): ranks [2-3] on nodes 0-1; tensor parallelism across nodes is "
                     "slow (it communicates in every layer)");
    hg_diags_free(d);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

/* scripts/bench-plan's moe-131k: vision tp4 dp2048 (ranks 0-8191), language tp8 pp8
 * dp1920 ep64. On nodes of 8 every tp group fits and every ep group spans 8 nodes. */
START_TEST(large_world)
{
    hg_config *cfg;
    hg_layout *l = load("version: 1\n"
                        "world_size: 131072\n"
                        "modules:\n"
                        "  - {name: vision, role: encoder, tp: 4, dp: 2048, feeds: []}\n"
                        "  - name: language\n"
                        "    role: language\n"
                        "    tp: 8\n"
                        "    pp: 8\n"
                        "    dp: 1920\n"
                        "    moe: {num_experts: 256, ep: 64, expert_tp: 1}\n",
                        &cfg);
    hg_placement p;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    check(l, 8, NULL, &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ck_assert_int_eq(p.nodes, 16384);
    ck_assert_uint_eq(p.nfindings, 1);
    want_finding(&p.findings[0], 1, "language", HG_KIND_EP, 1920, 1920, 8, 8);
    want_group(&p.findings[0], 0, 0, "8192-8255", "1024-1031", 8);
    want_group(&p.findings[0], 2, 2, "8320-8383", "1040-1047", 8);
    /* The target is well under 0.1 s; 1 s leaves room for sanitizers and busy CI. */
    ck_assert_msg(s < 1.0, "the check took %.3f s", s);
    hg_placement_free(&p);
    hg_layout_free(l);
    hg_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("placement");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, tp8_on_nodes_of_4);
    tcase_add_test(tc, fits_says_nothing);
    tcase_add_test(tc, vlm_fits_on_nodes_of_4);
    tcase_add_test(tc, encoder_offset_misaligns);
    tcase_add_test(tc, cp_groups);
    tcase_add_test(tc, ep_and_expert_tp);
    tcase_add_test(tc, colocated_every_module);
    tcase_add_test(tc, reported_nodes_interleaved);
    tcase_add_test(tc, reported_nodes_uneven);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("diagnose");
    tcase_add_test(td, diagnose_at_keys);
    tcase_add_test(td, diagnose_colocated);
    suite_add_tcase(s, td);
    TCase *tl = tcase_create("large");
    tcase_set_timeout(tl, 30);
    tcase_add_test(tl, large_world);
    suite_add_tcase(s, tl);
    return run_suite(s);
}
