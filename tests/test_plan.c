/* Plans (common/grid/plan.c), the contract python/hgrid reads: the exact JSON of a small
 * layout's whole plan and of one rank's plan, key order included, and how a plan that
 * cannot be written fails. "kinds" (each kind's view and dims) is checked for its
 * names only: its shape is layout.h's to say. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "grid/layout.h"
#include "grid/plan.h"
#include "testutil.h"

/* One encoder (dp 2) feeding a language module (tp 2): 4 ranks, one fan-in bridge. */
static const char small_yaml[] =
    "version: 1\n"
    "modules:\n"
    "  - name: enc\n"
    "    role: encoder\n"
    "    dp: 2\n"
    "  - name: lm\n"
    "    role: language\n"
    "    tp: 2\n"
    "    dp: 1\n";

#define SMALL_MODULES                                                                          \
    "\"modules\":[{\"name\":\"enc\",\"role\":\"encoder\",\"offset\":0,\"size\":2,\"tp\":1,"      \
    "\"cp\":1,\"dp\":2,\"pp\":1,\"ep\":1,\"expert_tp\":1,\"expert_dp\":2,\"gtp_remat\":1,"   \
    "\"expert_gtp_remat\":1,\"feeds\":[\"lm\"]},"                                              \
    "{\"name\":\"lm\",\"role\":\"language\",\"offset\":2,\"size\":2,\"tp\":2,\"cp\":1,"         \
    "\"dp\":1,\"pp\":1,\"ep\":1,\"expert_tp\":1,\"expert_dp\":2,\"gtp_remat\":1,"             \
    "\"expert_gtp_remat\":1,\"feeds\":[]}]"

/* The whole plan as the writer streams it, up to "kinds". */
static const char small_plan[] =
    "{\"hgrid_plan\":1,\"layout\":\"disjoint\",\"world_size\":4," SMALL_MODULES ","
    "\"groups\":{\"enc\":{\"tp\":[[0],[1]],\"cp\":[[0],[1]],\"pp\":[[0],[1]],\"dp\":[[0,1]],"
    "\"dp_cp\":[[0,1]],\"tp_cp\":[[0],[1]],\"mp\":[[0],[1]],\"tp_dp\":[[0,1]],"
    "\"tp_dp_cp\":[[0,1]],\"tp_cp_dp_pp\":[[0,1]],\"ep\":[[0],[1]],\"expt_tp\":[[0],[1]],"
    "\"expt_dp\":[[0,1]],\"tp_ep\":[[0],[1]],\"tp_ep_pp\":[[0],[1]],\"gtp_remat\":[[0],[1]],"
    "\"gtp_remat_dp_cp\":[[0,1]],\"expt_gtp_remat\":[[0],[1]],\"tp_ep_gtp_remat_pp\":[[0],[1]],"
    "\"ep_gtp_remat_dp\":[[0,1]]},"
    "\"lm\":{\"tp\":[[2,3]],\"cp\":[[2],[3]],\"pp\":[[2],[3]],\"dp\":[[2],[3]],"
    "\"dp_cp\":[[2],[3]],\"tp_cp\":[[2,3]],\"mp\":[[2,3]],\"tp_dp\":[[2,3]],"
    "\"tp_dp_cp\":[[2,3]],\"tp_cp_dp_pp\":[[2,3]],\"ep\":[[2],[3]],\"expt_tp\":[[2],[3]],"
    "\"expt_dp\":[[2,3]],\"tp_ep\":[[2],[3]],\"tp_ep_pp\":[[2],[3]],\"embd\":[[2],[3]],"
    "\"pos_embd\":[[2],[3]],\"gtp_remat\":[[2],[3]],\"gtp_remat_dp_cp\":[[2],[3]],"
    "\"expt_gtp_remat\":[[2],[3]],\"tp_ep_gtp_remat_pp\":[[2],[3]],\"ep_gtp_remat_dp\":[[2,3]]}},"
    "\"bridges\":[{\"src\":\"enc\",\"dest\":\"lm\",\"mode\":\"fan-in\",\"src_leaders\":[0,1],"
    "\"dest_leaders\":[2],\"group\":[0,1,2],\"src_broadcast\":[[0],[1]],\"dest_broadcast\":[[2,3]],"
    "\"links\":[[0,2],[1,2]]}]";

/* Rank 2's plan without "kinds", compact. */
static const char rank2_plan[] =
    "{\"hgrid_rank_plan\":1,\"world_size\":4,\"rank\":2,\"module\":{\"name\":\"lm\","
    "\"role\":\"language\",\"offset\":2,\"size\":2,\"tp\":2,\"cp\":1,\"dp\":1,\"pp\":1,\"ep\":1,"
    "\"expert_tp\":1,\"expert_dp\":2,\"gtp_remat\":1,\"expert_gtp_remat\":1},\"module_rank\":0,"
    "\"coords\":{\"tp\":0,\"cp\":0,\"dp\":0,"
    "\"pp\":0,\"ep\":0,\"expt_tp\":0,\"expt_dp\":0,\"gtp_remat\":0,\"expt_gtp_remat\":0},"
    "\"groups\":{"
    "\"tp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"cp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"pp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"dp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"dp_cp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"tp_cp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"mp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"tp_dp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"tp_dp_cp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"tp_cp_dp_pp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"ep\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"expt_tp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"expt_dp\":{\"index\":0,\"rank\":0,\"members\":[2,3]},"
    "\"tp_ep\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"tp_ep_pp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"embd\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"pos_embd\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"gtp_remat\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"gtp_remat_dp_cp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"expt_gtp_remat\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"tp_ep_gtp_remat_pp\":{\"index\":0,\"rank\":0,\"members\":[2]},"
    "\"ep_gtp_remat_dp\":{\"index\":0,\"rank\":0,\"members\":[2,3]}},"
    "\"bridges\":[{\"src\":\"enc\",\"dest\":\"lm\",\"side\":\"dest\",\"role\":\"receiver\","
    "\"peers\":[0,1],\"leader\":2,\"broadcast\":[2,3],\"group\":[0,1,2]}],"
    "\"bridge_groups\":[{\"src\":\"enc\",\"dest\":\"lm\",\"group\":[0,1,2],"
    "\"src_broadcast\":[[0],[1]],\"dest_broadcast\":[[2,3]]}]}";

/* Rank 0's: a sender of the same bridge, whose encoder has no embd groups. */
static const char rank0_bridges[] =
    "[{\"src\":\"enc\",\"dest\":\"lm\",\"side\":\"src\",\"role\":\"sender\",\"peers\":[2],"
    "\"leader\":0,\"broadcast\":[0],\"group\":[0,1,2]}]";

static hg_layout *small_layout(void)
{
    hg_diags *d = NULL;
    hg_layout *l = layout_of(small_yaml, 0, &d);
    if (!l)
        diags_dump(d);
    hg_diags_free(d);
    ck_assert_ptr_nonnull(l);
    return l;
}

/* What write(ctx, f, err) wrote, NUL-terminated; *rc its return. */
typedef int (*writer_fn)(const void *ctx, FILE *f, hg_error *err);

static char *capture(writer_fn write, const void *ctx, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    hg_error err;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    hg_error_clear(&err);
    *rc = write(ctx, f, &err);
    fclose(f);
    return buf;
}

static int whole(const void *l, FILE *f, hg_error *err)
{
    return hg_plan_write_json_named(l, NULL, f, err);
}

static int one_rank(const void *v, FILE *f, hg_error *err)
{
    return hg_plan_write_rank_json(v, f, err);
}

/* "kinds", when there: one entry per kind, named and ordered as hg_kind. Removed from
 * root, so what is left can be compared exactly. */
static void take_kinds(json_t *root)
{
    json_t *kinds = json_object_get(root, "kinds");
    const char *name;
    json_t *value;
    int k = 0;
    if (!kinds)
        return;
    ck_assert(json_is_object(kinds));
    json_object_foreach(kinds, name, value) {
        ck_assert_int_lt(k, HG_KIND_COUNT);
        ck_assert_str_eq(name, hg_kind_name((hg_kind)k));
        ck_assert(json_is_object(value));
        k++;
    }
    ck_assert_int_eq(k, HG_KIND_COUNT);
    json_object_del(root, "kinds");
}

/* The parsed text with "kinds" taken out, compact, keys in their written order. */
static char *without_kinds(const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    ck_assert_msg(root != NULL, "not JSON (%s): %s", jerr.text, text);
    take_kinds(root);
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(whole_plan_exact)
{
    hg_layout *l = small_layout();
    int rc;
    char *text = capture(whole, l, &rc);
    ck_assert_int_eq(rc, 0);
    /* The writer streams the groups itself: its own bytes are the contract up to "kinds",
     * and the line ends there or after "kinds". */
    ck_assert_msg(strncmp(text, small_plan, strlen(small_plan)) == 0, "got %s", text);
    const char *rest = text + strlen(small_plan);
    ck_assert_msg(strcmp(rest, "}\n") == 0 || strncmp(rest, ",\"kinds\":{", 10) == 0,
                  "after bridges: %s", rest);
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    ck_assert_ptr_null(memchr(text, '\n', strlen(text) - 1)); /* one line */
    char *compact = without_kinds(text);
    ck_assert_int_eq(strlen(compact), strlen(small_plan) + 1); /* the same, closed */
    ck_assert_int_eq(strncmp(compact, small_plan, strlen(small_plan)), 0);
    free(compact);
    free(text);
    hg_layout_free(l);
}
END_TEST

/* "config": NAME comes right after "hgrid_plan", as a JSON string. */
START_TEST(whole_plan_names_its_config)
{
    hg_layout *l = small_layout();
    char *buf = NULL;
    size_t len = 0;
    hg_error err;
    FILE *f = open_memstream(&buf, &len);
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_json_named(l, "configs/a \"b\".yaml", f, &err), 0);
    fclose(f);
    ck_assert_msg(strncmp(buf, "{\"hgrid_plan\":1,\"config\":\"configs/a \\\"b\\\".yaml\","
                               "\"layout\":\"disjoint\",", 61) == 0, "got %s", buf);
    free(buf);
    hg_layout_free(l);
}
END_TEST

START_TEST(rank_plan_exact)
{
    hg_layout *l = small_layout();
    hg_rank_view v;
    hg_error err;
    int rc;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_rank_view_build(l, 2, &v, &err), 0);
    char *text = capture(one_rank, &v, &rc);
    ck_assert_int_eq(rc, 0);
    char *compact = without_kinds(text);
    ck_assert_str_eq(compact, rank2_plan);
    free(compact);
    free(text);
    hg_rank_view_free(&v);
    hg_layout_free(l);
}
END_TEST

START_TEST(rank_plan_of_a_sender)
{
    hg_layout *l = small_layout();
    hg_rank_view v;
    hg_error err;
    int rc;
    hg_error_clear(&err);
    ck_assert_int_eq(hg_rank_view_build(l, 0, &v, &err), 0);
    char *text = capture(one_rank, &v, &rc);
    ck_assert_int_eq(rc, 0);
    json_t *root = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(root);
    char *bridges = json_dumps(json_object_get(root, "bridges"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_eq(bridges, rank0_bridges);
    json_t *groups = json_object_get(root, "groups");
    ck_assert_ptr_null(json_object_get(groups, "embd"));
    ck_assert_ptr_null(json_object_get(groups, "pos_embd"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(groups, "dp"), "rank")), 0);
    ck_assert_int_eq(json_object_size(groups), HG_KIND_COUNT - 2);
    free(bridges);
    json_decref(root);
    free(text);
    hg_rank_view_free(&v);
    hg_layout_free(l);
}
END_TEST

/* A full disk: HG_EIO, "cannot write the plan: CAUSE". */
START_TEST(write_error)
{
    hg_layout *l = small_layout();
    hg_error err;
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        hg_layout_free(l);
        return; /* no /dev/full here */
    }
    hg_error_clear(&err);
    ck_assert_int_eq(hg_plan_write_json_named(l, NULL, f, &err), HG_EIO);
    fclose(f);
    ck_assert_int_eq(err.code, HG_EIO);
    ck_assert_str_eq(err.msg, "cannot write the plan: No space left on device");
    hg_layout_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, whole_plan_exact);
    tcase_add_test(tc, whole_plan_names_its_config);
    tcase_add_test(tc, rank_plan_exact);
    tcase_add_test(tc, rank_plan_of_a_sender);
    tcase_add_test(tc, write_error);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
