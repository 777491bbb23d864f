/* Comm sets (common/grid/groups.c): which communicators one rank builds, which (module,
 * kind) pairs share one, the split color and key of each, and how groups are named in
 * messages. Ranks of the golden layouts (tests/golden), whose groups are Megatron's. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/groups.h"
#include "grid/layout.h"
#include "testutil.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* One rank of a golden layout: its layout, view and comm set. */
typedef struct fixture {
    hg_layout *l;
    hg_rank_view v;
    hg_comm_set cs;
} fixture;

static void setup_rank(fixture *fx, const char *golden, int rank, int share)
{
    char path[512];
    hg_diags *d = NULL;
    hg_error err;
    hg_error_clear(&err);
    /* "golden-gtp/NAME": a layout of tests/golden-gtp; else tests/golden/NAME. */
    snprintf(path, sizeof(path), strchr(golden, '/') ? "%s/tests/%s.yaml"
                                                      : "%s/tests/golden/%s.yaml",
             SRCDIR, golden);
    char *text = slurp(path);
    fx->l = layout_of(text, 0, &d);
    free(text);
    if (!fx->l)
        diags_dump(d);
    hg_diags_free(d);
    ck_assert_ptr_nonnull(fx->l);
    ck_assert_int_eq(hg_rank_view_build(fx->l, rank, &fx->v, &err), 0);
    ck_assert_int_eq(hg_comm_set_build(&fx->v, share, &fx->cs, &err), 0);
}

static void teardown(fixture *fx)
{
    hg_comm_set_free(&fx->cs);
    hg_rank_view_free(&fx->v);
    hg_layout_free(fx->l);
}

static int creates(const hg_comm_set *cs, int s)
{
    return (cs->creates[s / 32] >> (s % 32)) & 1u;
}

/* vlm8_moe rank 4 (language tp2 dp2 ep4): tp = tp_cp = mp [4, 5]; the one-rank groups
 * (cp, pp, expt_tp, expt_dp, embd, pos_embd) one communicator; dp = dp_cp [4, 6]; the
 * module's span (tp_dp, tp_dp_cp, tp_cp_dp_pp, ep, tp_ep, tp_ep_pp) one: 5 with the world;
 * and, a leader of the layout's one bridge, its own group [1, 3, 4, 6]: 6. */
START_TEST(shared_slots_of_one_module)
{
    fixture fx;
    setup_rank(&fx, "vlm8_moe", 4, 1);
    const hg_comm_set *cs = &fx.cs;
    ck_assert_int_eq(cs->nviews, 1);
    ck_assert_int_eq(cs->primary, 0);
    ck_assert_int_eq(cs->nkind_splits, HG_KIND_COUNT);
    ck_assert_int_eq(cs->nbridges, 1);
    ck_assert_int_eq(cs->nsplits, HG_KIND_COUNT + 1);
    ck_assert_int_eq(cs->nwords, 1);
    ck_assert_int_eq(cs->nslots, 6); /* as before the five GTP kinds, and the bridge's */
    static const int want[HG_KIND_COUNT] = {
        [HG_KIND_TP] = 1, [HG_KIND_CP] = 2, [HG_KIND_PP] = 2, [HG_KIND_DP] = 3,
        [HG_KIND_DP_CP] = 3, [HG_KIND_TP_CP] = 1, [HG_KIND_MP] = 1, [HG_KIND_TP_DP] = 4,
        [HG_KIND_TP_DP_CP] = 4, [HG_KIND_TP_CP_DP_PP] = 4, [HG_KIND_EP] = 4,
        [HG_KIND_EXPT_TP] = 2, [HG_KIND_EXPT_DP] = 2, [HG_KIND_TP_EP] = 4,
        [HG_KIND_TP_EP_PP] = 4, [HG_KIND_EMBD] = 2, [HG_KIND_POS_EMBD] = 2,
        /* gtp_remat = expert_gtp_remat = 1: the GTP kinds add no communicator (issue 20):
         * gtp_remat, expt_gtp_remat and ep_gtp_remat_dp are one rank, gtp_remat_dp_cp is
         * dp_cp, tp_ep_gtp_remat_pp is tp_ep_pp. */
        [HG_KIND_GTP_REMAT] = 2, [HG_KIND_GTP_REMAT_DP_CP] = 3, [HG_KIND_EXPT_GTP_REMAT] = 2,
        [HG_KIND_TP_EP_GTP_REMAT_PP] = 4, [HG_KIND_EP_GTP_REMAT_DP] = 2,
    };
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        ck_assert_msg(cs->slot[k] == want[k], "kind %s: slot %d, expected %d",
                      hg_kind_name((hg_kind)k), cs->slot[k], want[k]);
        ck_assert_int_eq(hg_comm_set_slot(cs, 0, k), want[k]);
    }
    /* A slot is made where its first (module, kind) is: tp, cp, dp, tp_dp; then the
     * bridge's. */
    for (int s = 0; s < cs->nsplits; s++)
        ck_assert_int_eq(creates(cs, s), s == HG_KIND_TP || s == HG_KIND_CP || s == HG_KIND_DP
                                             || s == HG_KIND_TP_DP || s == HG_KIND_COUNT);
    ck_assert_int_eq(cs->slot_kind[1], HG_KIND_TP);
    ck_assert_int_eq(cs->slot_kind[2], HG_KIND_CP);
    ck_assert_int_eq(cs->slot_kind[3], HG_KIND_DP);
    ck_assert_int_eq(cs->slot_kind[4], HG_KIND_TP_DP);
    ck_assert_int_eq(cs->slot_view[HG_SLOT_WORLD], -1);
    ck_assert_int_eq(cs->slot_kind[HG_SLOT_WORLD], -1);
    teardown(&fx);
}
END_TEST

/* gtp_llm_only16 rank 5 (language tp2 gtp_remat2 pp2 dp2; experts ep4 expert_gtp_remat2):
 * t1 g0 d1 p0. Nine distinct memberships and the world: tp = tp_cp [4, 5]; gtp_remat
 * [5, 7]; the singletons (cp, expt_tp, expt_dp, pos_embd); pp = embd [5, 13]; dp =
 * dp_cp = expt_gtp_remat = ep_gtp_remat_dp [1, 5]; gtp_remat_dp_cp [1, 3, 5, 7]; mp =
 * tp_ep_pp [4-7, 12-15]; tp_dp = tp_dp_cp [0-7]; ep = tp_ep [4-7]; tp_cp_dp_pp and
 * tp_ep_gtp_remat_pp span the module, which is the world: the agent's "10
 * communicators/rank" (tests/agent_test.sh). */
START_TEST(gtp_kinds_share)
{
    fixture fx;
    setup_rank(&fx, "golden-gtp/gtp_llm_only16", 5, 1);
    const hg_comm_set *cs = &fx.cs;
    const int *s = cs->slot;
    ck_assert_int_eq(cs->nslots, 10);
    ck_assert_int_eq(s[HG_KIND_TP], s[HG_KIND_TP_CP]);
    ck_assert_int_ne(s[HG_KIND_GTP_REMAT], s[HG_KIND_TP]);
    ck_assert_int_eq(s[HG_KIND_CP], s[HG_KIND_EXPT_TP]);
    ck_assert_int_eq(s[HG_KIND_CP], s[HG_KIND_POS_EMBD]);
    ck_assert_int_eq(s[HG_KIND_PP], s[HG_KIND_EMBD]);
    ck_assert_int_eq(s[HG_KIND_DP], s[HG_KIND_EXPT_GTP_REMAT]);
    ck_assert_int_eq(s[HG_KIND_DP], s[HG_KIND_EP_GTP_REMAT_DP]);
    ck_assert_int_ne(s[HG_KIND_GTP_REMAT_DP_CP], s[HG_KIND_DP_CP]);
    ck_assert_int_eq(s[HG_KIND_MP], s[HG_KIND_TP_EP_PP]);
    ck_assert_int_eq(s[HG_KIND_TP_DP], s[HG_KIND_TP_DP_CP]);
    ck_assert_int_eq(s[HG_KIND_EP], s[HG_KIND_TP_EP]);
    ck_assert_int_eq(s[HG_KIND_TP_CP_DP_PP], HG_SLOT_WORLD);
    ck_assert_int_eq(s[HG_KIND_TP_EP_GTP_REMAT_PP], HG_SLOT_WORLD);
    const hg_rank_group *g = &fx.v.groups[HG_KIND_GTP_REMAT_DP_CP];
    ck_assert_int_eq(g->size, 4);
    ck_assert_int_eq(g->members[0], 1);
    ck_assert_int_eq(g->members[3], 7);
    teardown(&fx);
}
END_TEST

/* gtp_remat = expert_gtp_remat = 1: on every rank of every golden layout each GTP kind
 * shares the communicator of a kind that existed before them (issue 20: they add none). */
START_TEST(gtp_kinds_add_no_communicator_at_1)
{
    static const char *const goldens[] = {
        "big128", "bridge_fanin_pp16", "bridge_fanout12", "colocated8", "dense16_cp",
        "enc4_llm_pp4_20", "expert_tp_differs12", "llm_only8", "two_encoders14", "vlm8_moe",
    };
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        fixture fx;
        setup_rank(&fx, goldens[i], 0, 1);
        int world = fx.v.world_size;
        teardown(&fx);
        for (int r = 0; r < world; r++) {
            setup_rank(&fx, goldens[i], r, 1);
            const hg_comm_set *cs = &fx.cs;
            for (int s = 0; s < cs->nsplits; s++) {
                int k = s % HG_KIND_COUNT;
                if (k < HG_KIND_GTP_REMAT || cs->view_slot[s] < 0)
                    continue;
                ck_assert_msg(!(cs->creates[s / 32] & (1u << (s % 32))),
                              "%s rank %d: kind %s makes a communicator", goldens[i], r,
                              hg_kind_name((hg_kind)k));
                /* the slot's maker: the world (-1) or a kind from before */
                ck_assert_int_lt(cs->slot_kind[cs->view_slot[s]], HG_KIND_GTP_REMAT);
            }
            teardown(&fx);
        }
    }
}
END_TEST

/* The color is the group's lowest member, the key the rank's position in it; a
 * position where the rank reuses a slot has no color (and key 0). */
START_TEST(color_and_key)
{
    fixture fx;
    setup_rank(&fx, "vlm8_moe", 6, 1);
    const hg_comm_set *cs = &fx.cs;
    ck_assert_int_eq(hg_comm_set_color(cs, HG_KIND_TP), 6);   /* tp [6, 7] */
    ck_assert_int_eq(hg_comm_set_key(cs, HG_KIND_TP), 0);
    ck_assert_int_eq(hg_comm_set_color(cs, HG_KIND_DP), 4);   /* dp [4, 6] */
    ck_assert_int_eq(hg_comm_set_key(cs, HG_KIND_DP), 1);
    ck_assert_int_eq(hg_comm_set_color(cs, HG_KIND_DP_CP), -1); /* shares dp's */
    ck_assert_int_eq(hg_comm_set_key(cs, HG_KIND_DP_CP), 0);
    ck_assert_int_eq(hg_comm_set_split_slot(cs, HG_KIND_DP), 3);
    ck_assert_int_eq(hg_comm_set_split_slot(cs, HG_KIND_DP_CP), 3);
    ck_assert_int_eq(hg_comm_set_color(cs, -1), -1);
    ck_assert_int_eq(hg_comm_set_color(cs, cs->nsplits), -1);
    ck_assert_int_eq(hg_comm_set_split_slot(cs, -1), -1);
    ck_assert_int_eq(hg_comm_set_split_slot(cs, cs->nsplits), -1);
    teardown(&fx);
}
END_TEST

/* splits is the agent's to fill (the OR of every rank's creates): none until then. */
START_TEST(split_needed_follows_splits)
{
    fixture fx;
    setup_rank(&fx, "vlm8_moe", 0, 1);
    hg_comm_set *cs = &fx.cs;
    for (int s = 0; s < cs->nsplits; s++)
        ck_assert_int_eq(hg_comm_set_split_needed(cs, s), 0);
    cs->splits[0] = 1u << HG_KIND_EP;
    ck_assert_int_eq(hg_comm_set_split_needed(cs, HG_KIND_EP), 1);
    ck_assert_int_eq(hg_comm_set_split_needed(cs, HG_KIND_TP), 0);
    ck_assert_int_eq(hg_comm_set_split_needed(cs, -1), 0);
    ck_assert_int_eq(hg_comm_set_split_needed(cs, cs->nsplits), 0);
    teardown(&fx);
}
END_TEST

/* An encoder has no embd groups; out-of-range views and kinds have no group or slot;
 * HG_KIND_WORLD is the world slot. */
START_TEST(groups_that_do_not_exist)
{
    fixture fx;
    setup_rank(&fx, "vlm8_moe", 0, 1);
    const hg_comm_set *cs = &fx.cs;
    ck_assert_ptr_null(hg_comm_set_group(cs, 0, HG_KIND_EMBD));
    ck_assert_int_eq(hg_comm_set_slot(cs, 0, HG_KIND_EMBD), -1);
    ck_assert_int_eq(hg_comm_set_slot(cs, 0, HG_KIND_POS_EMBD), -1);
    ck_assert_ptr_null(hg_comm_set_group(cs, 1, HG_KIND_TP));
    ck_assert_ptr_null(hg_comm_set_group(cs, -1, HG_KIND_TP));
    ck_assert_ptr_null(hg_comm_set_group(cs, 0, HG_KIND_COUNT));
    ck_assert_int_eq(hg_comm_set_slot(cs, 1, HG_KIND_TP), -1);
    ck_assert_int_eq(hg_comm_set_slot(cs, 0, -1), -1);
    ck_assert_int_eq(hg_comm_set_slot(cs, 0, HG_KIND_WORLD), HG_SLOT_WORLD);
    ck_assert_int_eq(hg_comm_set_slot(cs, 7, HG_KIND_WORLD), HG_SLOT_WORLD);
    const hg_rank_group *g = hg_comm_set_group(cs, 0, HG_KIND_TP);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->size, 2);
    ck_assert_int_eq(g->members[0], 0);
    ck_assert_int_eq(g->members[1], 1);
    ck_assert_int_eq(cs->nslots, 5); /* an encoder: the same sharing, without embd */
    teardown(&fx);
}
END_TEST

/* share = 0 (HGRID_TEST_NO_SHARE): one slot per (module, kind) the rank has. */
START_TEST(no_sharing)
{
    fixture fx;
    setup_rank(&fx, "vlm8_moe", 4, 0);
    ck_assert_int_eq(fx.cs.nslots, 1 + HG_KIND_COUNT + 1); /* and the bridge's group */
    ck_assert_int_eq(hg_comm_set_bridge_slot(&fx.cs, 0), 1 + HG_KIND_COUNT);
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        ck_assert_int_eq(fx.cs.slot[k], 1 + k);
        ck_assert_int_eq(creates(&fx.cs, k), 1);
    }
    teardown(&fx);
    setup_rank(&fx, "vlm8_moe", 0, 0); /* an encoder: no embd, pos_embd */
    ck_assert_int_eq(fx.cs.nslots, 1 + HG_KIND_COUNT - 2);
    ck_assert_int_eq(fx.cs.slot[HG_KIND_EMBD], -1);
    teardown(&fx);
}
END_TEST

/* A group of the world's size is the world: no slot of its own. */
START_TEST(world_sized_group_is_the_world)
{
    hg_diags *d = NULL;
    hg_rank_view v;
    hg_comm_set cs;
    hg_error err;
    hg_error_clear(&err);
    hg_layout *l = layout_of("version: 1\nmodules:\n  - name: lm\n    role: language\n"
                             "    tp: 2\n    dp: 2\n", 0, &d);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(hg_rank_view_build(l, 3, &v, &err), 0);
    ck_assert_int_eq(hg_comm_set_build(&v, 1, &cs, &err), 0);
    ck_assert_int_eq(cs.slot[HG_KIND_TP_DP], HG_SLOT_WORLD);
    ck_assert_int_eq(cs.slot[HG_KIND_TP_CP_DP_PP], HG_SLOT_WORLD);
    ck_assert_int_eq(creates(&cs, HG_KIND_TP_DP), 0);
    ck_assert_int_eq(cs.slot[HG_KIND_TP], 1);  /* [2, 3] */
    ck_assert_int_eq(cs.slot[HG_KIND_CP], 2);  /* [3] */
    ck_assert_int_eq(cs.slot[HG_KIND_DP], 3);  /* [1, 3] */
    ck_assert_int_eq(cs.nslots, 4);
    ck_assert_int_eq(hg_comm_set_color(&cs, HG_KIND_DP), 1);
    ck_assert_int_eq(hg_comm_set_key(&cs, HG_KIND_DP), 1);
    hg_comm_set_free(&cs);
    hg_rank_view_free(&v);
    hg_layout_free(l);
    hg_diags_free(d);
}
END_TEST

/* Colocated: one view per module, config order; the language module is the primary;
 * identical memberships share a slot across modules too. */
START_TEST(colocated_shares_across_modules)
{
    fixture fx;
    setup_rank(&fx, "colocated8", 0, 1);
    const hg_comm_set *cs = &fx.cs;
    ck_assert_int_eq(cs->nviews, 2);
    ck_assert_int_eq(cs->primary, 1);
    ck_assert_int_eq(cs->nsplits, 2 * HG_KIND_COUNT);
    ck_assert_int_eq(cs->nwords, 2);
    ck_assert_int_eq(hg_comm_set_words(fx.l), 2);
    /* vision dp8: its dp is the world; its tp [0] is language's cp [0]. */
    ck_assert_int_eq(hg_comm_set_slot(cs, 0, HG_KIND_DP), HG_SLOT_WORLD);
    ck_assert_int_eq(hg_comm_set_slot(cs, 1, HG_KIND_CP), hg_comm_set_slot(cs, 0, HG_KIND_TP));
    ck_assert_int_eq(hg_comm_set_color(cs, HG_KIND_COUNT + HG_KIND_CP), -1);
    /* The primary's slots are the language module's. */
    for (int k = 0; k < HG_KIND_COUNT; k++)
        ck_assert_int_eq(cs->slot[k], hg_comm_set_slot(cs, 1, k));
    ck_assert_int_eq(cs->slot_view[hg_comm_set_slot(cs, 1, HG_KIND_TP)], 1);
    teardown(&fx);
}
END_TEST

START_TEST(words_of_a_disjoint_layout)
{
    fixture fx;
    setup_rank(&fx, "two_encoders14", 0, 1);
    ck_assert_int_eq(hg_comm_set_words(fx.l), 1);
    teardown(&fx);
}
END_TEST

START_TEST(describe_groups)
{
    fixture fx;
    char buf[256];
    setup_rank(&fx, "vlm8_moe", 4, 1);
    hg_group_describe(&fx.v, HG_KIND_TP, buf, sizeof(buf));
    ck_assert_str_eq(buf, "language tp [4, 5]");
    hg_group_describe(&fx.v, -1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "world [0..7]");
    hg_comm_set_describe_split(&fx.cs, HG_KIND_DP, buf, sizeof(buf));
    ck_assert_str_eq(buf, "language dp [4, 6]");
    /* A slot is named by the group that created it: slot 4 by tp_dp, not ep. */
    hg_comm_set_describe_slot(&fx.cs, 4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "language tp_dp [4, 5, 6, 7]");
    hg_comm_set_describe_slot(&fx.cs, HG_SLOT_WORLD, buf, sizeof(buf));
    ck_assert_str_eq(buf, "world [0..7]");
    hg_comm_set_describe_slot(&fx.cs, 99, buf, sizeof(buf));
    ck_assert_str_eq(buf, "world [0..7]");
    /* Cut, never overrun. */
    hg_group_describe(&fx.v, HG_KIND_TP, buf, 10);
    ck_assert_str_eq(buf, "language ");
    teardown(&fx);
}
END_TEST

/* Each bridge's own group (Megatron's bridge_pg: sorted src | dest leaders) has a split
 * position after every kind's, in layout bridge order; only its leaders make it there,
 * every other rank passes no color. two_encoders14: audio -> language [0, 1, 6, 8, 10,
 * 12], vision -> language [3, 5, 6, 8, 10, 12]. */
START_TEST(bridge_groups)
{
    fixture fx;
    char buf[256];
    setup_rank(&fx, "two_encoders14", 6, 1); /* a language leader of both bridges */
    const hg_comm_set *cs = &fx.cs;
    int base = cs->nkind_splits;
    ck_assert_int_eq(cs->nbridges, 2);
    ck_assert_int_eq(cs->nsplits, HG_KIND_COUNT + 2);
    for (int b = 0; b < 2; b++) {
        const hg_rank_group *g = hg_comm_set_bridge_group(cs, b);
        int slot = hg_comm_set_bridge_slot(cs, b);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->size, 6);
        ck_assert_int_eq(g->pos, 2);
        ck_assert_int_eq(creates(cs, base + b), 1);
        ck_assert_int_eq(hg_comm_set_color(cs, base + b), b == 0 ? 0 : 3);
        ck_assert_int_eq(hg_comm_set_key(cs, base + b), 2);
        ck_assert_int_eq(hg_comm_set_split_slot(cs, base + b), slot);
        ck_assert_ptr_eq(hg_comm_set_slot_group(cs, slot), g);
        ck_assert_ptr_eq(hg_comm_set_split_group(cs, base + b), g);
        ck_assert_int_eq(cs->slot_split[slot], base + b);
        ck_assert_int_eq(cs->slot_view[slot], -1);
        ck_assert_int_eq(cs->slot_kind[slot], -1);
    }
    ck_assert_int_eq(hg_comm_set_bridge_slot(cs, 1), hg_comm_set_bridge_slot(cs, 0) + 1);
    ck_assert_int_eq(hg_comm_set_bridge_slot(cs, 1), cs->nslots - 1);
    hg_comm_set_describe_split(cs, base, buf, sizeof(buf));
    ck_assert_str_eq(buf, "bridge audio -> language [0, 1, 6, 8, 10, 12]");
    hg_comm_set_describe_slot(cs, hg_comm_set_bridge_slot(cs, 1), buf, sizeof(buf));
    ck_assert_str_eq(buf, "bridge vision -> language [3, 5, 6, 8, 10, 12]");
    ck_assert_ptr_null(hg_comm_set_bridge_group(cs, 2));
    ck_assert_int_eq(hg_comm_set_bridge_slot(cs, 2), -1);
    ck_assert_int_eq(hg_comm_set_bridge_slot(cs, -1), -1);
    teardown(&fx);

    /* A member of both boundary groups, a leader of neither: no color, no slot. */
    setup_rank(&fx, "two_encoders14", 7, 1);
    for (int b = 0; b < 2; b++) {
        ck_assert_ptr_null(hg_comm_set_bridge_group(&fx.cs, b));
        ck_assert_int_eq(hg_comm_set_bridge_slot(&fx.cs, b), -1);
        ck_assert_int_eq(hg_comm_set_color(&fx.cs, fx.cs.nkind_splits + b), -1);
    }
    teardown(&fx);
    /* The audio encoder's rank 1 leads the first bridge only. */
    setup_rank(&fx, "two_encoders14", 1, 1);
    ck_assert_ptr_nonnull(hg_comm_set_bridge_group(&fx.cs, 0));
    ck_assert_ptr_null(hg_comm_set_bridge_group(&fx.cs, 1));
    ck_assert_int_eq(hg_comm_set_bridge_group(&fx.cs, 0)->pos, 1);
    teardown(&fx);
}
END_TEST

/* A bridge's group whose members are the world's (two one-rank modules) is the world. */
START_TEST(bridge_group_of_the_world)
{
    hg_diags *d = NULL;
    hg_layout *l = layout_of("version: 1\nmodules:\n  - name: enc\n    role: encoder\n    dp: 1\n"
                             "  - name: language\n    role: language\n    dp: 1\n", 0, &d);
    hg_rank_view v;
    hg_comm_set cs;
    hg_error err;
    if (!l)
        diags_dump(d);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(hg_rank_view_build(l, 1, &v, &err), 0);
    ck_assert_int_eq(hg_comm_set_build(&v, 1, &cs, &err), 0);
    ck_assert_int_eq(cs.nbridges, 1);
    ck_assert_int_eq(hg_comm_set_bridge_group(&cs, 0)->size, 2);
    ck_assert_int_eq(hg_comm_set_bridge_slot(&cs, 0), HG_SLOT_WORLD);
    ck_assert_int_eq(creates(&cs, cs.nkind_splits), 0);
    ck_assert_int_eq(cs.nslots, 2); /* the world and [1], every group of its module... */
    hg_comm_set_free(&cs);
    ck_assert_int_eq(hg_comm_set_build(&v, 0, &cs, &err), 0); /* ...and without sharing */
    ck_assert_int_eq(hg_comm_set_bridge_slot(&cs, 0), cs.nslots - 1);
    ck_assert_int_eq(creates(&cs, cs.nkind_splits), 1);
    hg_comm_set_free(&cs);
    hg_rank_view_free(&v);
    hg_layout_free(l);
    hg_diags_free(d);
}
END_TEST

START_TEST(describe_members)
{
    char buf[256];
    int m[20];
    for (int i = 0; i < 20; i++)
        m[i] = i;
    hg_members_describe(m, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[]");
    hg_members_describe(m, 12, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]");
    /* Past 12: the first six and the last five. */
    hg_members_describe(m, 20, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[0, 1, 2, 3, 4, 5, ... 10 more, 15, 16, 17, 18, 19]");
    hg_members_describe(m, 20, buf, 8);
    ck_assert_str_eq(buf, "[0, 1, ");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("groups");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, shared_slots_of_one_module);
    tcase_add_test(tc, gtp_kinds_share);
    tcase_add_test(tc, gtp_kinds_add_no_communicator_at_1);
    tcase_add_test(tc, color_and_key);
    tcase_add_test(tc, split_needed_follows_splits);
    tcase_add_test(tc, groups_that_do_not_exist);
    tcase_add_test(tc, no_sharing);
    tcase_add_test(tc, world_sized_group_is_the_world);
    tcase_add_test(tc, colocated_shares_across_modules);
    tcase_add_test(tc, words_of_a_disjoint_layout);
    tcase_add_test(tc, describe_groups);
    tcase_add_test(tc, bridge_groups);
    tcase_add_test(tc, bridge_group_of_the_world);
    tcase_add_test(tc, describe_members);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
