/* Validation (common/grid/validate.c): each of docs/DESIGN.md's "Validation rules" (1-9)
 * with a good case, whose resolved numbers are checked, and a bad case, whose exact
 * message and location are checked; rule 8 as a warning and, with HG_VALIDATE_STRICT,
 * as an error. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"
#include "testutil.h"
#include "grid/validate.h"

/* Asserts the diagnostics are exactly want[] (NULL-terminated), in order. */
static void check_diags(const hg_diags *d, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    if (hg_diags_size(d) != n)
        diags_dump(d);
    ck_assert_uint_eq(hg_diags_size(d), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(hg_diags_text(d, i), want[i]);
}

/* text must parse; validation must fail with exactly the given errors. */
static void check_invalid(const char *text, unsigned flags, const char *const *want)
{
    hg_diags *d;
    hg_layout *l = layout_of(text, flags, &d);
    if (l)
        diags_dump(d);
    ck_assert_ptr_null(l);
    check_diags(d, want);
    size_t n = 0;
    while (want[n])
        n++;
    ck_assert_uint_eq(hg_diags_errors(d), n);
    hg_diags_free(d);
}

#define INVALID(text, ...) check_invalid((text), 0, (const char *const[]){ __VA_ARGS__, NULL })
#define INVALID_STRICT(text, ...) \
    check_invalid((text), HG_VALIDATE_STRICT, (const char *const[]){ __VA_ARGS__, NULL })

/* text must validate with no diagnostic at all; returns the layout. */
static hg_layout *valid(const char *text, unsigned flags)
{
    hg_diags *d;
    hg_layout *l = layout_of(text, flags, &d);
    if (!l || hg_diags_size(d))
        diags_dump(d);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(hg_diags_size(d), 0);
    hg_diags_free(d);
    return l;
}

/* Every resolved number of module i. */
static void check_module(const hg_layout *l, size_t i, const char *name, hg_role role, int offset,
                         int size, int tp, int cp, int dp, int pp, int ep, int expert_tp,
                         int expert_dp, int num_experts)
{
    const hg_module *m = hg_layout_module(l, i);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->name, name);
    ck_assert_int_eq(m->role, role);
    ck_assert_int_eq(m->offset, offset);
    ck_assert_int_eq(m->size, size);
    ck_assert_int_eq(m->tp, tp);
    ck_assert_int_eq(m->cp, cp);
    ck_assert_int_eq(m->dp, dp);
    ck_assert_int_eq(m->pp, pp);
    ck_assert_int_eq(m->ep, ep);
    ck_assert_int_eq(m->expert_tp, expert_tp);
    ck_assert_int_eq(m->expert_dp, expert_dp);
    ck_assert_int_eq(m->num_experts, num_experts);
}

#define LM "  - name: language\n    role: language\n"
#define ENC "  - name: vision\n    role: encoder\n"

/* ---- rule 1: modules, names, one language ---- */

START_TEST(rule1_good)
{
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    dp: 2\n"
                         "  - name: audio\n    role: encoder\n    dp: 2\n" LM "    dp: 4\n", 0);
    ck_assert_uint_eq(hg_layout_module_count(l), 3);
    ck_assert_int_eq(hg_layout_world_size(l), 8);
    check_module(l, 0, "vision", HG_ROLE_ENCODER, 0, 2, 1, 1, 2, 1, 1, 1, 2, 0);
    check_module(l, 1, "audio", HG_ROLE_ENCODER, 2, 2, 1, 1, 2, 1, 1, 1, 2, 0);
    check_module(l, 2, "language", HG_ROLE_LANGUAGE, 4, 4, 1, 1, 4, 1, 1, 1, 4, 0);
    ck_assert_ptr_null(hg_layout_module(l, 3));
    hg_layout_free(l);
}
END_TEST

START_TEST(rule1_no_modules)
{
    INVALID("version: 1\nmodules: []\n",
            "t.yaml:2:10: error: modules: at least one module is required");
}
END_TEST

START_TEST(rule1_duplicate_names)
{
    INVALID("version: 1\nmodules:\n"
            "  - name: vision\n    role: encoder\n    dp: 1\n"   /* 3-5 */
            "  - name: vision\n    role: encoder\n    dp: 1\n"   /* 6-8 */
            LM "    dp: 2\n",
            "t.yaml:6:11: error: duplicate module name 'vision' (first used at 3:11)");
}
END_TEST

START_TEST(rule1_duplicate_through_alias)
{
    INVALID("version: 1\nmodules:\n"
            "  - &enc {name: vision, role: encoder, dp: 1}\n"
            "  - *enc\n"
            LM "    dp: 2\n",
            "t.yaml:3:3: error: modules: entry 2 repeats entry 1 through an alias, so the name "
            "'vision' is used twice");
}
END_TEST

START_TEST(rule1_no_language)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 2\n",
            "t.yaml:3:3: error: modules: no module has role: language (exactly one is required)");
}
END_TEST

START_TEST(rule1_two_languages)
{
    INVALID("version: 1\nmodules:\n" LM "    dp: 2\n"
            "  - name: language2\n    role: language\n    dp: 2\n",
            "t.yaml:7:11: error: language2: a second language module (the first is 'language'); "
            "exactly one is allowed");
}
END_TEST

/* ---- rule 2: size = tp*cp*pp*dp ---- */

START_TEST(rule2_good_dp_and_size)
{
    /* dp given: size derived. */
    hg_layout *l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    cp: 3\n    pp: 4\n"
                         "    dp: 5\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 120, 2, 3, 5, 4, 1, 1, 30, 0);
    ck_assert_int_eq(hg_layout_world_size(l), 120);
    hg_layout_free(l);
    /* size given: dp derived. */
    l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    cp: 3\n    pp: 4\n    size: 48\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 48, 2, 3, 2, 4, 1, 1, 12, 0);
    hg_layout_free(l);
    /* both given and consistent. */
    l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    size: 8\n    dp: 4\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 8, 2, 1, 4, 1, 1, 1, 8, 0);
    hg_layout_free(l);
}
END_TEST

/* Generalized Tensor Parallelism (issue 20): size = tp*gtp_remat*cp*pp*dp and
 * expert_dp = size / (expert_tp*ep*expert_gtp_remat*pp); the diagnostics name gtp_remat
 * where it is not 1. */
START_TEST(rule2_gtp_remat)
{
    hg_layout *l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    gtp_remat: 2\n    pp: 2\n"
                         "    dp: 2\n    moe:\n      ep: 4\n      expert_gtp_remat: 2\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 16, 2, 1, 2, 2, 4, 1, 1, 0);
    ck_assert_int_eq(hg_layout_module(l, 0)->gtp_remat, 2);
    ck_assert_int_eq(hg_layout_module(l, 0)->expert_gtp_remat, 2);
    hg_layout_free(l);
    /* size given: dp = size / (tp*gtp_remat*cp*pp). */
    l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    gtp_remat: 3\n    size: 12\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 12, 2, 1, 2, 1, 1, 1, 12, 0);
    hg_layout_free(l);
    /* Defaults: 1, and a layout without them reads as before. */
    l = valid("version: 1\nmodules:\n" LM "    dp: 2\n", 0);
    ck_assert_int_eq(hg_layout_module(l, 0)->gtp_remat, 1);
    ck_assert_int_eq(hg_layout_module(l, 0)->expert_gtp_remat, 1);
    hg_layout_free(l);
    INVALID("version: 1\nmodules:\n" LM "    tp: 2\n    gtp_remat: 2\n    size: 10\n",
            "t.yaml:7:11: error: language: size 10 is not divisible by tp*gtp_remat*cp*pp = 4");
    INVALID("version: 1\nmodules:\n" LM "    tp: 2\n    gtp_remat: 2\n    dp: 2\n    size: 4\n",
            "t.yaml:8:11: error: language: size 4 does not equal tp*gtp_remat*cp*pp*dp = 8");
    INVALID("version: 1\nmodules:\n" LM "    dp: 3\n    moe:\n      ep: 2\n      expert_gtp_remat: 2\n",
            "t.yaml:8:25: error: language: size 3 is not divisible by "
            "expert_tp*ep*expert_gtp_remat*pp = 4");
}
END_TEST

/* Bridges elect one leader per dp x gtp_remat lane: the two counts divide one another,
 * and the fan-out batch rule counts lanes. */
START_TEST(rule9_gtp_leaders)
{
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    dp: 2\n" LM "    gtp_remat: 2\n"
                         "    dp: 2\n", 0);
    const hg_bridge *b = hg_layout_bridge(l, 0);
    ck_assert_int_eq(b->nsrc, 2);
    ck_assert_int_eq(b->ndest, 4);
    ck_assert_int_eq(b->mode, HG_BRIDGE_FAN_OUT);
    hg_layout_free(l);
    INVALID("version: 1\nmodules:\n" ENC "    dp: 3\n" LM "    gtp_remat: 2\n    dp: 1\n",
            "t.yaml:5:9: error: vision -> language: the leader counts vision dp*gtp_remat = "
            "3*1 = 3 and language dp*gtp_remat = 1*2 = 2 do not divide each other, which a "
            "bridge needs (Megatron's BridgeCommunicator raises); change one, or remove the "
            "bridge with feeds: [] on vision");
    INVALID("version: 1\nbatch:\n  micro_batch_size: 1\nmodules:\n" ENC "    dp: 4\n" LM
            "    gtp_remat: 2\n    dp: 1\n",
            "t.yaml:7:9: error: vision: micro_batch_size*language dp*gtp_remat = 1*2 = 2 is "
            "not divisible by vision dp*gtp_remat = 4 (the bridge vision -> language fans out "
            "evenly)");
}
END_TEST

START_TEST(rule2_size_not_divisible)
{
    INVALID("version: 1\nmodules:\n" LM "    tp: 4\n    pp: 2\n    size: 12\n",
            "t.yaml:7:11: error: language: size 12 is not divisible by tp*cp*pp = 8");
    /* A size smaller than one model replica. */
    INVALID("version: 1\nmodules:\n" LM "    tp: 8\n    size: 4\n",
            "t.yaml:6:11: error: language: size 4 is not divisible by tp*cp*pp = 8");
}
END_TEST

START_TEST(rule2_size_and_dp_disagree)
{
    INVALID("version: 1\nmodules:\n" LM "    tp: 2\n    dp: 2\n    size: 8\n",
            "t.yaml:7:11: error: language: size 8 does not equal tp*cp*pp*dp = 4");
}
END_TEST

START_TEST(rule2_neither_dp_nor_size)
{
    INVALID("version: 1\nmodules:\n" ENC "    tp: 2\n" LM "    dp: 1\n",
            "t.yaml:3:5: error: vision: give dp or size (the other is derived from tp*cp*pp)");
}
END_TEST

START_TEST(rule2_too_many_ranks)
{
    INVALID("version: 1\nmodules:\n" LM "    tp: 4096\n    cp: 4096\n    pp: 2\n    dp: 1\n",
            "t.yaml:7:9: error: language: tp*cp*pp = 4096*4096*2 is more than 16777216 ranks");
    INVALID("version: 1\nmodules:\n" LM "    tp: 16777216\n    cp: 16777216\n    pp: 16777216\n"
            "    dp: 1\n",
            "t.yaml:7:9: error: language: tp*cp*pp = 16777216*16777216*16777216 is more than "
            "16777216 ranks");
    INVALID("version: 1\nmodules:\n" LM "    tp: 4096\n    dp: 8192\n",
            "t.yaml:6:9: error: language: tp*cp*pp*dp = 4096*1*1*8192 is more than 16777216 ranks");
}
END_TEST

/* The largest world hgrid plans for is accepted. */
START_TEST(rule2_max_world)
{
    hg_layout *l = valid("version: 1\nmodules:\n" LM "    tp: 8\n    pp: 16\n    size: 16777216\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 16777216, 8, 1, 131072, 16, 1, 1,
                 1048576, 0);
    hg_layout_free(l);
}
END_TEST

/* ---- rule 3: the expert view ---- */

START_TEST(rule3_good)
{
    hg_layout *l = valid("version: 1\nmodules:\n" LM "    tp: 2\n    pp: 2\n    dp: 6\n"
                         "    moe:\n      ep: 3\n      expert_tp: 4\n", 0);
    /* size 24 = expert_tp 4 * ep 3 * expert_dp 1 * pp 2 */
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 24, 2, 1, 6, 2, 3, 4, 1, 0);
    hg_layout_free(l);
}
END_TEST

/* The example of issue 2, to the column. */
START_TEST(rule3_not_divisible)
{
    INVALID("version: 1\n"
            "modules:\n"
            "  - name: language\n"
            "    role: language\n"
            "    tp: 2\n"
            "    size: 12\n"
            "    moe:\n"
            "      num_experts: 16\n"
            "      ep: 8\n",
            "t.yaml:9:11: error: language: size 12 is not divisible by expert_tp*ep*pp = 8");
}
END_TEST

/* The location is ep, else expert_tp (with both at 1 the product is pp, which always
 * divides the size). */
START_TEST(rule3_locations)
{
    INVALID("version: 1\nmodules:\n" LM "    dp: 6\n    moe:\n      expert_tp: 4\n",
            "t.yaml:7:18: error: language: size 6 is not divisible by expert_tp*ep*pp = 4");
    /* expert_tp*ep*pp larger than the module */
    INVALID("version: 1\nmodules:\n" LM "    dp: 2\n    moe: {ep: 4}\n",
            "t.yaml:6:15: error: language: size 2 is not divisible by expert_tp*ep*pp = 4");
}
END_TEST

START_TEST(rule3_too_many_ranks)
{
    INVALID("version: 1\nmodules:\n" LM "    dp: 1\n    pp: 2\n"
            "    moe: {ep: 8388608, expert_tp: 4}\n",
            "t.yaml:7:15: error: language: expert_tp*ep*pp = 4*8388608*2 is more than 16777216 ranks");
}
END_TEST

/* ---- rule 4: num_experts % ep ---- */

START_TEST(rule4_good)
{
    hg_layout *l = valid("version: 1\nmodules:\n" LM "    dp: 4\n"
                         "    moe:\n      num_experts: 128\n      ep: 4\n", 0);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 4, 1, 1, 4, 1, 4, 1, 1, 128);
    hg_layout_free(l);
}
END_TEST

START_TEST(rule4_bad)
{
    INVALID("version: 1\nmodules:\n" LM "    dp: 4\n"
            "    moe:\n      num_experts: 6\n      ep: 4\n",
            "t.yaml:7:20: error: language: num_experts 6 is not divisible by ep = 4");
    /* Rules 3 and 4 are both reported, in file order. */
    INVALID("version: 1\nmodules:\n" LM "    dp: 4\n"
            "    moe:\n      num_experts: 7\n      ep: 8\n",
            "t.yaml:7:20: error: language: num_experts 7 is not divisible by ep = 8",
            "t.yaml:8:11: error: language: size 4 is not divisible by expert_tp*ep*pp = 8");
}
END_TEST

/* ---- rule 5: spans tile [0, world) ---- */

START_TEST(rule5_good_offsets_and_world_size)
{
    hg_layout *l = valid("version: 1\nworld_size: 20\nmodules:\n"
                         ENC "    offset: 0\n    tp: 2\n    dp: 2\n"
                         LM "    offset: 4\n    tp: 2\n    dp: 2\n    pp: 4\n", 0);
    ck_assert_int_eq(hg_layout_world_size(l), 20);
    check_module(l, 0, "vision", HG_ROLE_ENCODER, 0, 4, 2, 1, 2, 1, 1, 1, 4, 0);
    check_module(l, 1, "language", HG_ROLE_LANGUAGE, 4, 16, 2, 1, 2, 4, 1, 1, 4, 0);
    hg_layout_free(l);
}
END_TEST

START_TEST(rule5_world_size_mismatch)
{
    INVALID("version: 1\nworld_size: 16\nmodules:\n" ENC "    dp: 4\n" LM "    dp: 8\n",
            "t.yaml:2:13: error: world_size 16 does not equal the sum of module sizes, 12");
}
END_TEST

START_TEST(rule5_offset_mismatch)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 4\n" LM "    offset: 8\n    dp: 8\n",
            "t.yaml:8:13: error: language: offset 8 does not match the tiling: modules are placed "
            "in order with no gap, so it starts at rank 4");
    INVALID("version: 1\nmodules:\n" ENC "    offset: 2\n    dp: 4\n" LM "    dp: 8\n",
            "t.yaml:5:13: error: vision: offset 2 does not match the tiling: modules are placed "
            "in order with no gap, so it starts at rank 0");
}
END_TEST

START_TEST(rule5_world_too_large)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 16777216\n" LM "    dp: 1\n",
            "t.yaml:6:5: error: language: the modules so far need 16777217 ranks, more than 16777216");
}
END_TEST

/* ---- rules 6 and 7: the batch ---- */

START_TEST(rule6_7_good)
{
    /* mbs 2 * language dp 4 = 8 per step: encoder dps 8, 4, 2, 1 all divide it, and
     * global 32 is 4 steps. */
    hg_layout *l = valid("version: 1\nmodules:\n"
                         "  - {name: e8, role: encoder, dp: 8}\n"
                         "  - {name: e4, role: encoder, dp: 4}\n"
                         "  - {name: e2, role: encoder, tp: 2, dp: 2}\n"
                         "  - {name: e1, role: encoder, tp: 4, dp: 1}\n"
                         LM "    tp: 2\n    dp: 4\n"
                         "batch:\n  micro_batch_size: 2\n  global_batch_size: 32\n", 0);
    ck_assert_int_eq(hg_layout_world_size(l), 8 + 4 + 4 + 4 + 8);
    hg_layout_free(l);
}
END_TEST

START_TEST(rule6_bad)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 4\n" LM "    dp: 2\n"
            "batch:\n  micro_batch_size: 1\n",
            "t.yaml:5:9: error: vision: micro_batch_size*language dp = 1*2 = 2 is not divisible by "
            "encoder dp = 4 (the encoder bridge fans out evenly)");
    /* Rule 6 is per bridge: an encoder feeding an encoder, and one with no bridge. */
    INVALID("version: 1\nmodules:\n"
            "  - {name: a, role: encoder, dp: 4, feeds: [b]}\n"
            "  - {name: b, role: encoder, dp: 2}\n"
            "  - {name: c, role: encoder, dp: 8, feeds: []}\n"
            LM "    dp: 2\n"
            "batch:\n  micro_batch_size: 1\n",
            "t.yaml:3:34: error: a: micro_batch_size*b dp = 1*2 = 2 is not divisible by a dp = 4 "
            "(the bridge a -> b fans out evenly)");
    /* A size-only encoder: the location is the module. */
    INVALID("version: 1\nmodules:\n" ENC "    size: 4\n" LM "    dp: 2\n"
            "batch:\n  micro_batch_size: 1\n  global_batch_size: 8\n",
            "t.yaml:3:5: error: vision: micro_batch_size*language dp = 1*2 = 2 is not divisible by "
            "encoder dp = 4 (the encoder bridge fans out evenly)");
}
END_TEST

/* micro_batch_size defaults to 1 in the rules when only global_batch_size is given. */
START_TEST(rule6_default_micro_batch)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 4\n" LM "    dp: 2\n"
            "batch:\n  global_batch_size: 8\n",
            "t.yaml:5:9: error: vision: micro_batch_size*language dp = 1*2 = 2 is not divisible by "
            "encoder dp = 4 (the encoder bridge fans out evenly)");
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    dp: 4\n" LM "    dp: 2\n"
                         "batch:\n  micro_batch_size: 2\n  global_batch_size: 8\n", 0);
    hg_layout_free(l);
}
END_TEST

START_TEST(rule7_bad)
{
    INVALID("version: 1\nmodules:\n" LM "    dp: 4\n"
            "batch:\n  micro_batch_size: 3\n  global_batch_size: 20\n",
            "t.yaml:8:22: error: batch.global_batch_size 20 is not divisible by micro_batch_size*"
            "language dp = 3*4 = 12");
    /* Rules 6 and 7 together. */
    INVALID("version: 1\nmodules:\n" ENC "    dp: 8\n" LM "    dp: 2\n"
            "batch:\n  micro_batch_size: 2\n  global_batch_size: 6\n",
            "t.yaml:5:9: error: vision: micro_batch_size*language dp = 2*2 = 4 is not divisible by "
            "encoder dp = 8 (the encoder bridge fans out evenly)",
            "t.yaml:11:22: error: batch.global_batch_size 6 is not divisible by micro_batch_size*"
            "language dp = 2*2 = 4");
}
END_TEST

/* Without a batch section rules 6 and 7 do not bind. */
START_TEST(rule6_7_without_batch)
{
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    dp: 4\n" LM "    dp: 2\n", 0);
    hg_layout_free(l);
}
END_TEST

/* ---- rule 8: what the MIMO runtime accepts ---- */

/* Encoders with `feeds: []`: no bridge, so rule 9's cp = 1 does not bind; rule 8 does. */
static const char lm_cp2_with_encoder[] =
    "version: 1\nmodules:\n" ENC "    dp: 2\n    feeds: []\n" LM "    cp: 2\n    dp: 2\n";
static const char encoder_pp2[] =
    "version: 1\nmodules:\n" ENC "    pp: 2\n    dp: 2\n" LM "    dp: 2\n";
static const char encoder_cp2_pp2[] =
    "version: 1\nmodules:\n" ENC "    cp: 2\n    pp: 2\n    dp: 1\n    feeds: []\n" LM
    "    dp: 2\n";

START_TEST(rule8_warns)
{
    hg_diags *d;
    hg_layout *l = layout_of(lm_cp2_with_encoder, 0, &d);
    ck_assert_ptr_nonnull(l);
    ck_assert_uint_eq(hg_diags_errors(d), 0);
    ck_assert_uint_eq(hg_diags_warnings(d), 1);
    check_diags(d, (const char *const[]){
                       "t.yaml:9:9: warning: language: cp=2 is beyond what the MIMO example "
                       "runtime supports (language cp must be 1)", NULL });
    check_module(l, 1, "language", HG_ROLE_LANGUAGE, 2, 4, 1, 2, 2, 1, 1, 1, 4, 0);
    hg_layout_free(l);
    hg_diags_free(d);

    l = layout_of(encoder_pp2, 0, &d);
    ck_assert_ptr_nonnull(l);
    check_diags(d, (const char *const[]){
                       "t.yaml:5:9: warning: vision: cp=1 pp=2 is beyond what the MIMO example "
                       "runtime supports (encoder cp and pp must be 1)", NULL });
    hg_layout_free(l);
    hg_diags_free(d);

    l = layout_of(encoder_cp2_pp2, 0, &d);
    ck_assert_ptr_nonnull(l);
    check_diags(d, (const char *const[]){
                       "t.yaml:5:9: warning: vision: cp=2 pp=2 is beyond what the MIMO example "
                       "runtime supports (encoder cp and pp must be 1)", NULL });
    hg_layout_free(l);
    hg_diags_free(d);
}
END_TEST

START_TEST(rule8_strict_is_an_error)
{
    INVALID_STRICT(lm_cp2_with_encoder,
                   "t.yaml:9:9: error: language: cp=2 is beyond what the MIMO example runtime "
                   "supports (language cp must be 1)");
    INVALID_STRICT(encoder_pp2,
                   "t.yaml:5:9: error: vision: cp=1 pp=2 is beyond what the MIMO example runtime "
                   "supports (encoder cp and pp must be 1)");
    INVALID_STRICT(encoder_cp2_pp2,
                   "t.yaml:5:9: error: vision: cp=2 pp=2 is beyond what the MIMO example runtime "
                   "supports (encoder cp and pp must be 1)");
}
END_TEST

/* The supported shapes, strict or not, say nothing: language pp and encoder tp/dp are
 * fine, and a language model alone (not a MIMO layout) may use any cp. */
START_TEST(rule8_good)
{
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    tp: 4\n    dp: 2\n"
                         LM "    pp: 4\n    tp: 2\n    dp: 1\n", HG_VALIDATE_STRICT);
    hg_layout_free(l);
    l = valid("version: 1\nmodules:\n" LM "    cp: 4\n    pp: 2\n    dp: 1\n", HG_VALIDATE_STRICT);
    check_module(l, 0, "language", HG_ROLE_LANGUAGE, 0, 8, 1, 4, 1, 2, 1, 1, 4, 0);
    hg_layout_free(l);
}
END_TEST

/* ---- several problems at once ---- */

/* Every module's problems are reported, in file order; once one module's span is
 * unknown the tiling and world_size, which need every span, are not checked, but the
 * batch rule, which needs only the language module's, is. */
START_TEST(all_rule_errors_reported)
{
    INVALID("version: 1\n"                              /* 1 */
            "world_size: 99\n"                          /* 2 */
            "modules:\n"                                /* 3 */
            "  - name: a\n    role: encoder\n    tp: 3\n    size: 4\n"            /* 4-7 */
            "  - name: a\n    role: language\n    dp: 2\n    moe: {num_experts: 3, ep: 2}\n" /* 8-11 */
            "  - name: c\n    role: language\n"          /* 12-13 */
            "batch: {global_batch_size: 3}\n",
            "t.yaml:7:11: error: a: size 4 is not divisible by tp*cp*pp = 3",
            "t.yaml:8:11: error: duplicate module name 'a' (first used at 4:11)",
            "t.yaml:11:24: error: a: num_experts 3 is not divisible by ep = 2",
            "t.yaml:12:5: error: c: give dp or size (the other is derived from tp*cp*pp)",
            "t.yaml:13:11: error: c: a second language module (the first is 'a'); exactly one is "
            "allowed",
            "t.yaml:14:28: error: batch.global_batch_size 3 is not divisible by "
            "micro_batch_size*language dp = 1*2 = 2");
}
END_TEST

/* A module whose size is unknown because of its own problem still writes one: a
 * world_size that disagrees with the sizes as written is reported in the same run,
 * not only after that module is fixed (issue 23, C.5). */
START_TEST(world_size_reported_beside_a_size_error)
{
    INVALID("version: 1\n"                              /* 1 */
            "world_size: 99\n"                          /* 2 */
            "modules:\n"                                /* 3 */
            "  - {name: v, role: encoder, tp: 3, size: 4}\n" /* 4 */
            "  - {name: l, role: language, tp: 2, dp: 4}\n",  /* 5 */
            "t.yaml:2:13: error: world_size 99 does not equal the sum of module sizes as "
            "written, 12",
            "t.yaml:4:43: error: v: size 4 is not divisible by tp*cp*pp = 3");
    /* size and dp disagreeing: the size: counts */
    INVALID("version: 1\nworld_size: 99\nmodules:\n"
            "  - {name: v, role: encoder, size: 4, dp: 2}\n"
            "  - {name: l, role: language, tp: 2, dp: 4}\n",
            "t.yaml:2:13: error: world_size 99 does not equal the sum of module sizes as "
            "written, 12",
            "t.yaml:4:36: error: v: size 4 does not equal tp*cp*pp*dp = 2");
    /* the sizes as written matching world_size: only the module's own problem */
    INVALID("version: 1\nworld_size: 12\nmodules:\n"
            "  - {name: v, role: encoder, tp: 3, size: 4}\n"
            "  - {name: l, role: language, tp: 2, dp: 4}\n",
            "t.yaml:4:43: error: v: size 4 is not divisible by tp*cp*pp = 3");
    /* size and dp disagreeing, world_size matching the dp reading: it may be right */
    INVALID("version: 1\nworld_size: 10\nmodules:\n"
            "  - {name: v, role: encoder, size: 4, dp: 2}\n"
            "  - {name: l, role: language, tp: 2, dp: 4}\n",
            "t.yaml:4:36: error: v: size 4 does not equal tp*cp*pp*dp = 2");
    /* an expert-view problem leaves the size known: the plain message */
    INVALID("version: 1\nworld_size: 99\nmodules:\n"
            "  - {name: l, role: language, dp: 4, moe: {ep: 3}}\n",
            "t.yaml:2:13: error: world_size 99 does not equal the sum of module sizes, 4",
            "t.yaml:4:48: error: l: size 4 is not divisible by expert_tp*ep*pp = 3");
}
END_TEST

/* With every span known, the tiling, world and batch rules are all reported, and a
 * warning sits among the errors, all in file order. */
START_TEST(all_tiling_and_batch_errors_reported)
{
    hg_diags *d;
    hg_layout *l = layout_of("version: 1\n"                                    /* 1 */
                             "world_size: 10\n"                                /* 2 */
                             "modules:\n"                                      /* 3 */
                             "  - {name: v, role: encoder, offset: 1, dp: 3, pp: 2}\n" /* 4 */
                             "  - {name: l, role: language, offset: 5, dp: 2}\n" /* 5 */
                             "batch:\n  micro_batch_size: 1\n  global_batch_size: 3\n", 0, &d);
    ck_assert_ptr_null(l);
    check_diags(d, (const char *const[]){
                       "t.yaml:2:13: error: world_size 10 does not equal the sum of module sizes, 8",
                       "t.yaml:4:38: error: v: offset 1 does not match the tiling: modules are "
                       "placed in order with no gap, so it starts at rank 0",
                       "t.yaml:4:45: error: v -> l: v dp = 3 and l dp = 2 do not divide each "
                       "other, which a bridge needs (Megatron's BridgeCommunicator raises); change "
                       "one, or remove the bridge with feeds: [] on v",
                       "t.yaml:4:52: warning: v: cp=1 pp=2 is beyond what the MIMO example "
                       "runtime supports (encoder cp and pp must be 1)",
                       "t.yaml:5:39: error: l: offset 5 does not match the tiling: modules are "
                       "placed in order with no gap, so it starts at rank 6",
                       "t.yaml:8:22: error: batch.global_batch_size 3 is not divisible by "
                       "micro_batch_size*language dp = 1*2 = 2", NULL });
    ck_assert_uint_eq(hg_diags_errors(d), 5);
    ck_assert_uint_eq(hg_diags_warnings(d), 1);
    hg_diags_free(d);
}
END_TEST

/* ---- rule 9: the module graph and its bridges ---- */

/* Encoders feed the language module by default; feeds names others or none. Bridges
 * are in source module order, then destination's, with their modes. */
START_TEST(rule9_graph_good)
{
    hg_layout *l = valid("version: 1\nmodules:\n"
                         "  - {name: a, role: encoder, dp: 2, feeds: [b, language]}\n"
                         "  - {name: b, role: encoder, dp: 4}\n"
                         "  - {name: c, role: encoder, dp: 8, feeds: []}\n"
                         "  - {name: d, role: encoder, tp: 2, dp: 1, feeds: [language]}\n"
                         LM "    tp: 2\n    dp: 2\n", 0);
    ck_assert_int_eq(hg_layout_mode(l), HG_LAYOUT_DISJOINT);
    ck_assert_uint_eq(hg_layout_bridge_count(l), 4);
    static const int want[4][5] = {
        /* src, dest, mode, nsrc, ndest */
        { 0, 1, HG_BRIDGE_FAN_OUT, 2, 4 },
        { 0, 4, HG_BRIDGE_ONE_TO_ONE, 2, 2 },
        { 1, 4, HG_BRIDGE_FAN_IN, 4, 2 },
        { 3, 4, HG_BRIDGE_FAN_OUT, 1, 2 },
    };
    for (size_t i = 0; i < 4; i++) {
        const hg_bridge *b = hg_layout_bridge(l, i);
        ck_assert_int_eq(b->src, want[i][0]);
        ck_assert_int_eq(b->dest, want[i][1]);
        ck_assert_int_eq(b->mode, want[i][2]);
        ck_assert_int_eq(b->nsrc, want[i][3]);
        ck_assert_int_eq(b->ndest, want[i][4]);
        ck_assert_int_eq(b->nlinks, want[i][3] > want[i][4] ? want[i][3] : want[i][4]);
    }
    ck_assert_ptr_null(hg_layout_bridge(l, 4));
    size_t first;
    ck_assert_uint_eq(hg_layout_bridges_from(l, 0, &first), 2);
    ck_assert_uint_eq(first, 0);
    ck_assert_uint_eq(hg_layout_bridges_from(l, 2, &first), 0);
    ck_assert_uint_eq(hg_layout_bridges_from(l, 3, &first), 1);
    ck_assert_uint_eq(first, 3);
    ck_assert_uint_eq(hg_layout_bridges_from(l, 4, &first), 0);
    ck_assert_uint_eq(hg_layout_bridges_from(l, 5, &first), 0);
    ck_assert_str_eq(hg_bridge_mode_name(HG_BRIDGE_FAN_IN), "fan-in");
    ck_assert_str_eq(hg_bridge_mode_name(HG_BRIDGE_FAN_OUT), "fan-out");
    ck_assert_str_eq(hg_bridge_mode_name(HG_BRIDGE_ONE_TO_ONE), "one-to-one");
    ck_assert_str_eq(hg_bridge_side_name(HG_BRIDGE_SRC), "src");
    ck_assert_str_eq(hg_bridge_side_name(HG_BRIDGE_DEST), "dest");
    ck_assert_str_eq(hg_bridge_role_name(HG_BRIDGE_SENDER), "sender");
    ck_assert_str_eq(hg_bridge_role_name(HG_BRIDGE_RECEIVER), "receiver");
    ck_assert_str_eq(hg_bridge_role_name(HG_BRIDGE_MEMBER), "member");
    hg_layout_free(l);

    /* A language module may feed a later module; a language model alone has none. */
    l = valid("version: 1\nmodules:\n"
              "  - {name: vision, role: encoder, dp: 2}\n"
              "  - {name: language, role: language, dp: 2, feeds: [decoder]}\n"
              "  - {name: decoder, role: encoder, dp: 1, feeds: []}\n", 0);
    ck_assert_uint_eq(hg_layout_bridge_count(l), 2);
    ck_assert_int_eq(hg_layout_bridge(l, 1)->src, 1);
    ck_assert_int_eq(hg_layout_bridge(l, 1)->dest, 2);
    ck_assert_int_eq(hg_layout_bridge(l, 1)->mode, HG_BRIDGE_FAN_IN);
    hg_layout_free(l);
    l = valid("version: 1\nmodules:\n" LM "    dp: 2\n", 0);
    ck_assert_uint_eq(hg_layout_bridge_count(l), 0);
    hg_layout_free(l);
}
END_TEST

START_TEST(rule9_unknown_self_twice)
{
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 2, feeds: [langauge]}\n"
            "  - {name: audio, role: encoder, dp: 2, feeds: [video]}\n"
            LM "    dp: 2\n",
            "t.yaml:3:50: error: vision: feeds: no module is named 'langauge' (did you mean "
            "'language'?)",
            "t.yaml:4:49: error: audio: feeds: no module is named 'video'");
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 2, feeds: [language, vision]}\n"
            LM "    dp: 2\n",
            "t.yaml:3:60: error: vision: feeds: a module cannot feed itself");
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 2, feeds: [language, language]}\n"
            LM "    dp: 2\n",
            "t.yaml:3:60: error: vision: feeds: 'language' is named twice (first at 3:50)");
}
END_TEST

/* Without a language module (an error of its own) feeds are still checked. */
START_TEST(rule9_without_language)
{
    INVALID("version: 1\nmodules:\n"
            "  - {name: a, role: encoder, dp: 1, feeds: [b]}\n"
            "  - {name: b, role: encoder, dp: 1, feeds: [a, c]}\n",
            "t.yaml:3:3: error: modules: no module has role: language (exactly one is required)",
            "t.yaml:4:45: error: feeds: the module graph has a cycle: a -> b -> a (bridges must "
            "form an acyclic graph)",
            "t.yaml:4:48: error: b: feeds: no module is named 'c'");
}
END_TEST

START_TEST(rule9_cycle)
{
    /* The default edge vision -> language closes a cycle with language's feeds; the
     * message points at the written edge. */
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 2}\n"
            "  - {name: language, role: language, dp: 2, feeds: [vision]}\n",
            "t.yaml:4:53: error: feeds: the module graph has a cycle: vision -> language -> "
            "vision (bridges must form an acyclic graph)");
    INVALID("version: 1\nmodules:\n"
            "  - {name: a, role: encoder, dp: 1, feeds: [b]}\n"
            "  - {name: b, role: encoder, dp: 1, feeds: [c]}\n"
            "  - {name: c, role: encoder, dp: 1, feeds: [a, language]}\n"
            LM "    dp: 1\n",
            "t.yaml:5:45: error: feeds: the module graph has a cycle: a -> b -> c -> a (bridges "
            "must form an acyclic graph)");
}
END_TEST

/* A long cycle is named with its middle elided, one line. */
START_TEST(rule9_long_cycle)
{
    char text[4096];
    int o = snprintf(text, sizeof(text), "version: 1\nmodules:\n");
    for (int i = 0; i < 20; i++)
        o += snprintf(text + o, sizeof(text) - (size_t)o,
                      "  - {name: m%d, role: encoder, dp: 1, feeds: [m%d]}\n", i, (i + 1) % 20);
    snprintf(text + o, sizeof(text) - (size_t)o, LM "    dp: 1\n");
    INVALID(text, "t.yaml:22:47: error: feeds: the module graph has a cycle: m0 -> m1 -> m2 -> "
                  "m3 -> ... (14 more) -> m18 -> m19 -> m0 (bridges must form an acyclic graph)");
}
END_TEST

START_TEST(rule9_cp_at_a_bridge_end)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 2\n" LM "    cp: 2\n    dp: 2\n",
            "t.yaml:8:9: error: language: cp = 2 at a bridge end (vision -> language), which "
            "needs cp = 1 (Megatron's BridgeCommunicator asserts it); set cp: 1, or remove the "
            "bridge with feeds: [] on vision");
    /* Both ends, each named once though it has two bridges; rule 8 does not say it again. */
    INVALID("version: 1\nmodules:\n"
            "  - {name: a, role: encoder, cp: 2, dp: 1}\n"
            "  - {name: b, role: encoder, dp: 1}\n"
            LM "    cp: 2\n    dp: 1\n",
            "t.yaml:3:34: error: a: cp = 2 at a bridge end (a -> language), which needs cp = 1 "
            "(Megatron's BridgeCommunicator asserts it); set cp: 1, or remove the bridge with "
            "feeds: [] on a",
            "t.yaml:7:9: error: language: cp = 2 at a bridge end (a -> language), which needs "
            "cp = 1 (Megatron's BridgeCommunicator asserts it); set cp: 1, or remove the bridge "
            "with feeds: [] on a");
}
END_TEST

START_TEST(rule9_dp_must_divide)
{
    INVALID("version: 1\nmodules:\n" ENC "    dp: 3\n" LM "    dp: 2\n",
            "t.yaml:5:9: error: vision -> language: vision dp = 3 and language dp = 2 do not "
            "divide each other, which a bridge needs (Megatron's BridgeCommunicator raises); "
            "change one, or remove the bridge with feeds: [] on vision");
    /* A written edge: the message points at it. */
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, tp: 2, dp: 4, feeds: [language]}\n"
            LM "    dp: 6\n",
            "t.yaml:3:57: error: vision -> language: vision dp = 4 and language dp = 6 do not "
            "divide each other, which a bridge needs (Megatron's BridgeCommunicator raises); "
            "change one, or remove the bridge with feeds: [] on vision");
    /* feeds: [] removes it. */
    hg_layout *l = valid("version: 1\nmodules:\n" ENC "    dp: 3\n    feeds: []\n" LM
                         "    dp: 2\n", 0);
    ck_assert_uint_eq(hg_layout_bridge_count(l), 0);
    hg_layout_free(l);
}
END_TEST

/* ---- colocated layouts ---- */

static const char colocated8[] = "version: 1\nlayout: colocated\nmodules:\n"
                                 "  - {name: vision, role: encoder, dp: 8}\n"
                                 "  - {name: language, role: language, tp: 2, pp: 2, dp: 2}\n";

START_TEST(colocated_good)
{
    hg_layout *l = valid(colocated8, 0);
    ck_assert_int_eq(hg_layout_mode(l), HG_LAYOUT_COLOCATED);
    ck_assert_int_eq(hg_layout_world_size(l), 8);
    ck_assert_uint_eq(hg_layout_bridge_count(l), 0);
    check_module(l, 0, "vision", HG_ROLE_ENCODER, 0, 8, 1, 1, 8, 1, 1, 1, 8, 0);
    check_module(l, 1, "language", HG_ROLE_LANGUAGE, 0, 8, 2, 1, 2, 2, 1, 1, 4, 0);
    for (int r = 0; r < 8; r++)
        ck_assert_int_eq(hg_layout_module_of(l, r), 1);
    ck_assert_int_eq(hg_layout_module_of(l, 8), -1);
    hg_layout_free(l);
    /* world_size and offset 0 may be said; dp counts need not divide (no bridges). */
    l = valid("version: 1\nlayout: colocated\nworld_size: 6\nmodules:\n"
              "  - {name: vision, role: encoder, tp: 2, dp: 3, offset: 0}\n"
              "  - {name: language, role: language, tp: 3, dp: 2}\n", 0);
    ck_assert_int_eq(hg_layout_world_size(l), 6);
    hg_layout_free(l);
    /* layout: disjoint is the default, said out loud. */
    l = valid("version: 1\nlayout: disjoint\nmodules:\n" LM "    dp: 2\n", 0);
    ck_assert_int_eq(hg_layout_mode(l), HG_LAYOUT_DISJOINT);
    hg_layout_free(l);
    ck_assert_str_eq(hg_layout_kind_name(HG_LAYOUT_DISJOINT), "disjoint");
    ck_assert_str_eq(hg_layout_kind_name(HG_LAYOUT_COLOCATED), "colocated");
    ck_assert_str_eq(hg_layout_kind_name((hg_layout_kind)7), "?");
}
END_TEST

START_TEST(colocated_sizes_differ)
{
    INVALID("version: 1\nlayout: colocated\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 4}\n"
            "  - {name: language, role: language, tp: 2, dp: 4}\n",
            "t.yaml:4:39: error: vision: size 4 does not equal language's size 8 (in a "
            "colocated layout every module spans all ranks)");
    INVALID("version: 1\nlayout: colocated\nworld_size: 16\nmodules:\n"
            "  - {name: vision, role: encoder, size: 16}\n"
            "  - {name: language, role: language, tp: 2, dp: 4}\n",
            "t.yaml:6:49: error: language: size 8 does not equal world_size 16 (in a colocated "
            "layout every module spans all ranks)");
    INVALID("version: 1\nlayout: colocated\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 8, offset: 4}\n"
            "  - {name: language, role: language, dp: 8}\n",
            "t.yaml:4:50: error: vision: offset 4 in a colocated layout, where every module "
            "starts at rank 0");
}
END_TEST

START_TEST(colocated_feeds)
{
    INVALID("version: 1\nlayout: colocated\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 8, feeds: [language]}\n"
            "  - {name: language, role: language, dp: 8, feeds: []}\n",
            "t.yaml:4:49: error: vision: feeds has no meaning in a colocated layout (every module "
            "holds every rank, so there are no bridges)",
            "t.yaml:5:52: error: language: feeds has no meaning in a colocated layout (every "
            "module holds every rank, so there are no bridges)");
}
END_TEST

/* Rule 6 in a colocated layout: each encoder against the language module. */
START_TEST(colocated_rule6)
{
    INVALID("version: 1\nlayout: colocated\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 8}\n"
            "  - {name: language, role: language, tp: 4, dp: 2}\n"
            "batch:\n  micro_batch_size: 2\n",
            "t.yaml:4:39: error: vision: micro_batch_size*language dp = 2*2 = 4 is not divisible "
            "by encoder dp = 8 (the encoder bridge fans out evenly)");
}
END_TEST

/* hg_validate_graph hands back the edges, sorted, when asked for them. */
START_TEST(validate_graph_edges)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_config *cfg = NULL;
    const char *text = "version: 1\nmodules:\n"
                       "  - {name: a, role: encoder, dp: 1, feeds: [language, b]}\n"
                       "  - {name: b, role: encoder, dp: 1}\n" LM "    dp: 1\n";
    ck_assert_int_eq(hg_config_parse(text, strlen(text), &cfg, d), 0);
    hg_module mods[3];
    int world = 0;
    hg_edge *edges = (hg_edge *)0x1;
    size_t ne = 99;
    ck_assert_int_eq(hg_validate_graph(cfg, 0, mods, &world, &edges, &ne, d), 0);
    ck_assert_uint_eq(ne, 3);
    ck_assert_int_eq(edges[0].src, 0);
    ck_assert_int_eq(edges[0].dest, 1);
    ck_assert_int_eq(edges[0].at.line, 3);
    ck_assert_int_eq(edges[1].dest, 2);
    ck_assert_int_eq(edges[2].src, 1);
    ck_assert_int_eq(edges[2].dest, 2);
    ck_assert_int_eq(edges[2].at.line, 0); /* the default */
    free(edges);
    hg_config_free(cfg);
    hg_diags_free(d);
}
END_TEST

/* issue 17: a wrong world_size, a bridge whose dp counts do not divide and num_experts
 * that ep does not divide are three independent problems, all reported, in file order.
 * (Before, the expert problem hid the other two.) */
START_TEST(independent_layout_errors_reported)
{
    INVALID("version: 1\n"                                        /* 1 */
            "world_size: 16\n"                                    /* 2 */
            "modules:\n" ENC "    dp: 4\n"                        /* 3-6 */
            LM "    dp: 6\n    moe: {num_experts: 7, ep: 3}\n",     /* 7-10 */
            "t.yaml:2:13: error: world_size 16 does not equal the sum of module sizes, 10",
            "t.yaml:6:9: error: vision -> language: vision dp = 4 and language dp = 6 do not "
            "divide each other, which a bridge needs (Megatron's BridgeCommunicator raises); "
            "change one, or remove the bridge with feeds: [] on vision",
            "t.yaml:10:24: error: language: num_experts 7 is not divisible by ep = 3");
    /* An expert view that does not fit the size leaves the size known: the tiling
     * after it is still checked. */
    INVALID("version: 1\nworld_size: 9\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 3, moe: {ep: 2}}\n"
            "  - {name: language, role: language, offset: 2, dp: 3}\n",
            "t.yaml:2:13: error: world_size 9 does not equal the sum of module sizes, 6",
            "t.yaml:4:52: error: vision: size 3 is not divisible by expert_tp*ep*pp = 2",
            "t.yaml:5:46: error: language: offset 2 does not match the tiling: modules are "
            "placed in order with no gap, so it starts at rank 3");
}
END_TEST

/* A module whose size is unknown (size and dp disagree) says so once: the later
 * offsets, its bridge and its expert view, which all need the size, are not checked;
 * what needs no size (num_experts % ep), other modules' own rules, and a world_size
 * that matches neither its size: nor its dp (20, not 5 + 3 or 4 + 3) are. */
START_TEST(unknown_size_no_cascade)
{
    INVALID("version: 1\nworld_size: 20\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 4, size: 5, moe: {num_experts: 3, ep: 2}}\n"
            "  - {name: language, role: language, offset: 9, dp: 3, moe: {ep: 2}}\n",
            "t.yaml:2:13: error: world_size 20 does not equal the sum of module sizes as "
            "written, 8",
            "t.yaml:4:48: error: vision: size 5 does not equal tp*cp*pp*dp = 4",
            "t.yaml:4:70: error: vision: num_experts 3 is not divisible by ep = 2",
            "t.yaml:5:66: error: language: size 3 is not divisible by expert_tp*ep*pp = 2");
    /* tp*cp*pp past the limit: pp, shared by the expert product, is not blamed twice. */
    INVALID("version: 1\nmodules:\n"
            "  - {name: language, role: language, tp: 2, dp: 1, pp: 16777216, "
            "moe: {ep: 2, num_experts: 3}}\n",
            "t.yaml:3:56: error: language: tp*cp*pp = 2*1*16777216 is more than 16777216 ranks",
            "t.yaml:3:92: error: language: num_experts 3 is not divisible by ep = 2");
    /* Colocated: the module of unknown size is not compared with the world; the others,
     * and its offset, are. */
    INVALID("version: 1\nlayout: colocated\nworld_size: 8\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 4, size: 6, offset: 2}\n"
            "  - {name: language, role: language, dp: 4}\n",
            "t.yaml:5:48: error: vision: size 6 does not equal tp*cp*pp*dp = 4",
            "t.yaml:5:59: error: vision: offset 2 in a colocated layout, where every module "
            "starts at rank 0",
            "t.yaml:6:42: error: language: size 4 does not equal world_size 8 (in a colocated "
            "layout every module spans all ranks)");
    /* With the reference module's size unknown and no world_size, nothing to compare. */
    INVALID("version: 1\nlayout: colocated\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 2}\n"
            "  - {name: language, role: language, dp: 4, size: 6}\n",
            "t.yaml:5:51: error: language: size 6 does not equal tp*cp*pp*dp = 4");
}
END_TEST

/* A wrong feeds entry drops only itself: the other bridges are still checked. A cycle
 * leaves open which edge is meant, so no bridge is. */
START_TEST(graph_errors_and_bridges)
{
    INVALID("version: 1\nmodules:\n"
            "  - {name: vision, role: encoder, dp: 3}\n"
            "  - {name: audio, role: encoder, dp: 2, feeds: [langauge]}\n"
            "  - {name: language, role: language, dp: 2}\n",
            "t.yaml:3:39: error: vision -> language: vision dp = 3 and language dp = 2 do not "
            "divide each other, which a bridge needs (Megatron's BridgeCommunicator raises); "
            "change one, or remove the bridge with feeds: [] on vision",
            "t.yaml:4:49: error: audio: feeds: no module is named 'langauge' (did you mean "
            "'language'?)");
    INVALID("version: 1\nmodules:\n"
            "  - {name: a, role: encoder, dp: 3, feeds: [b]}\n"
            "  - {name: b, role: encoder, dp: 2, feeds: [a]}\n"
            "  - {name: language, role: language, dp: 2}\n",
            "t.yaml:4:45: error: feeds: the module graph has a cycle: a -> b -> a (bridges must "
            "form an acyclic graph)");
}
END_TEST

/* hg_diags_sort_from orders by line, then column, keeps equal positions in the order
 * they came, puts no position first, leaves what came before first alone, and keeps
 * the "too many" line last. */
START_TEST(diags_sort_by_position)
{
    hg_diags *d = hg_diags_new("t.yaml");
    hg_diags_add(d, HG_DIAG_ERROR, 9, 1, "before");
    hg_diags_add(d, HG_DIAG_ERROR, 5, 2, "b");
    hg_diags_add(d, HG_DIAG_WARNING, 5, 1, "a");
    hg_diags_add(d, HG_DIAG_ERROR, 5, 2, "c");
    hg_diags_add(d, HG_DIAG_ERROR, 0, 0, "none");
    hg_diags_add(d, HG_DIAG_ERROR, 2, 7, "first");
    hg_diags_sort_from(d, 1);
    check_diags(d, (const char *const[]){ "t.yaml:9:1: error: before", "t.yaml: error: none",
                                          "t.yaml:2:7: error: first", "t.yaml:5:1: warning: a",
                                          "t.yaml:5:2: error: b", "t.yaml:5:2: error: c",
                                          NULL });
    hg_diags_free(d);

    d = hg_diags_new("t.yaml");
    for (int i = HG_DIAGS_MAX + 5; i > 0; i--)
        hg_diags_add(d, HG_DIAG_ERROR, i, 1, "e");
    hg_diags_sort_from(d, 0);
    ck_assert_uint_eq(hg_diags_size(d), HG_DIAGS_MAX + 1);
    char want[64];
    snprintf(want, sizeof(want), "t.yaml:%d:1: error: e", 6); /* 1-5 were dropped */
    ck_assert_str_eq(hg_diags_text(d, 0), want);
    snprintf(want, sizeof(want), "t.yaml:%d:1: error: e", HG_DIAGS_MAX + 5);
    ck_assert_str_eq(hg_diags_text(d, HG_DIAGS_MAX - 1), want);
    ck_assert_str_eq(hg_diags_text(d, HG_DIAGS_MAX),
                     "t.yaml: error: too many diagnostics; the rest are not shown");
    hg_diags_free(d);
}
END_TEST

/* hg_validate_graph on its own, without the edges: fills every module and the world,
 * and counts only its own errors (earlier diagnostics in the list do not fail it). */
START_TEST(validate_direct)
{
    const char *text = "version: 1\nmodules:\n" ENC "    dp: 2\n" LM "    tp: 2\n    size: 8\n";
    hg_diags *d = hg_diags_new("t.yaml");
    hg_diags_add(d, HG_DIAG_ERROR, 1, 1, "an earlier error");
    hg_config *cfg = NULL;
    ck_assert_int_eq(hg_config_parse(text, strlen(text), &cfg, d), 0);
    hg_module mods[2];
    int world = -1;
    ck_assert_int_eq(hg_validate_graph(cfg, 0, mods, &world, NULL, NULL, d), 0);
    ck_assert_int_eq(world, 10);
    ck_assert_int_eq(mods[1].offset, 2);
    ck_assert_int_eq(mods[1].dp, 4);
    ck_assert_uint_eq(hg_diags_errors(d), 1);
    hg_config_free(cfg);
    hg_diags_free(d);
}
END_TEST

START_TEST(role_names)
{
    ck_assert_str_eq(hg_role_name(HG_ROLE_ENCODER), "encoder");
    ck_assert_str_eq(hg_role_name(HG_ROLE_LANGUAGE), "language");
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, rule1_good);
    tcase_add_test(tc, rule1_no_modules);
    tcase_add_test(tc, rule1_duplicate_names);
    tcase_add_test(tc, rule1_duplicate_through_alias);
    tcase_add_test(tc, rule1_no_language);
    tcase_add_test(tc, rule1_two_languages);
    tcase_add_test(tc, rule2_good_dp_and_size);
    tcase_add_test(tc, rule2_gtp_remat);
    tcase_add_test(tc, rule9_gtp_leaders);
    tcase_add_test(tc, rule2_size_not_divisible);
    tcase_add_test(tc, rule2_size_and_dp_disagree);
    tcase_add_test(tc, rule2_neither_dp_nor_size);
    tcase_add_test(tc, rule2_too_many_ranks);
    tcase_add_test(tc, rule2_max_world);
    tcase_add_test(tc, rule3_good);
    tcase_add_test(tc, rule3_not_divisible);
    tcase_add_test(tc, rule3_locations);
    tcase_add_test(tc, rule3_too_many_ranks);
    tcase_add_test(tc, rule4_good);
    tcase_add_test(tc, rule4_bad);
    tcase_add_test(tc, rule5_good_offsets_and_world_size);
    tcase_add_test(tc, rule5_world_size_mismatch);
    tcase_add_test(tc, rule5_offset_mismatch);
    tcase_add_test(tc, rule5_world_too_large);
    tcase_add_test(tc, rule6_7_good);
    tcase_add_test(tc, rule6_bad);
    tcase_add_test(tc, rule6_default_micro_batch);
    tcase_add_test(tc, rule7_bad);
    tcase_add_test(tc, rule6_7_without_batch);
    tcase_add_test(tc, rule8_warns);
    tcase_add_test(tc, rule8_strict_is_an_error);
    tcase_add_test(tc, rule8_good);
    tcase_add_test(tc, all_rule_errors_reported);
    tcase_add_test(tc, world_size_reported_beside_a_size_error);
    tcase_add_test(tc, all_tiling_and_batch_errors_reported);
    tcase_add_test(tc, independent_layout_errors_reported);
    tcase_add_test(tc, unknown_size_no_cascade);
    tcase_add_test(tc, graph_errors_and_bridges);
    tcase_add_test(tc, diags_sort_by_position);
    tcase_add_test(tc, validate_direct);
    tcase_add_test(tc, role_names);
    tcase_add_test(tc, rule9_graph_good);
    tcase_add_test(tc, rule9_unknown_self_twice);
    tcase_add_test(tc, rule9_cycle);
    tcase_add_test(tc, rule9_without_language);
    tcase_add_test(tc, rule9_long_cycle);
    tcase_add_test(tc, rule9_cp_at_a_bridge_end);
    tcase_add_test(tc, rule9_dp_must_divide);
    tcase_add_test(tc, colocated_good);
    tcase_add_test(tc, colocated_sizes_differ);
    tcase_add_test(tc, colocated_feeds);
    tcase_add_test(tc, colocated_rule6);
    tcase_add_test(tc, validate_graph_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(validate_suite());
}
