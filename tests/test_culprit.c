/* Culprits and waiters (launcher/culprit.c): faulthandler dumps in, roles out, as a
 * table; the group comparison that makes a mismatched waiter a culprit; the lines and
 * the report's "stall" object. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "culprit.h"
#include "testutil.h"

#define C10D "/usr/lib/python3/dist-packages/torch/distributed/distributed_c10d.py"

/* A rank waiting in all_reduce (torch 1.13: the collective's own frame is innermost). */
static const char ALL_REDUCE[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"" C10D "\", line 1536 in all_reduce\n"
    "  File \"/job/train.py\", line 30 in step\n"
    "  File \"/job/train.py\", line 41 in <module>\n";

/* torch 2.x: the c10d_logger wrapper outside, work.wait() inside all_reduce. */
static const char ALL_REDUCE_2X[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"/venv/lib/python3.12/site-packages/torch/distributed/distributed_c10d.py\", line 2806 in all_reduce\n"
    "  File \"/venv/lib/python3.12/site-packages/torch/distributed/c10d_logger.py\", line 81 in wrapper\n"
    "  File \"/job/train.py\", line 30 in step\n";

/* A helper thread (listed first) sleeps; the main thread (listed last) loads data. */
static const char DATA_LOADING[] =
    "Thread 0x00007f225527a6c0 (most recent call first):\n"
    "  File \"/usr/lib/python3.11/threading.py\", line 320 in wait\n"
    "  File \"/usr/lib/python3.11/threading.py\", line 975 in run\n"
    "\n"
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"/job/data.py\", line 12 in load_batch\n"
    "  File \"/job/data.py\", line 20 in __next__\n"
    "  File \"/job/train.py\", line 28 in step\n"
    "  File \"/job/train.py\", line 41 in <module>\n";

/* A helper thread in a collective does not make the rank a waiter: the main one counts. */
static const char HELPER_IN_C10D[] =
    "Thread 0x00007f225527a6c0 (most recent call first):\n"
    "  File \"" C10D "\", line 1536 in all_reduce\n"
    "\n"
    "Thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"/job/train.py\", line 9 in spin\n";

/* init_process_group waits in a private helper: named by the public function. */
static const char INIT[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"" C10D "\", line 300 in _store_based_barrier\n"
    "  File \"" C10D "\", line 763 in init_process_group\n"
    "  File \"/job/train.py\", line 5 in <module>\n";

/* all_gather_object: the outermost public c10d function names it. */
static const char GATHER_OBJECT[] =
    "Stack (most recent call first):\n"
    "  File \"" C10D "\", line 2200 in all_gather\n"
    "  File \"" C10D "\", line 1980 in all_gather_object\n"
    "  File \"/job/train.py\", line 30 in step\n";

static const char NO_FRAME[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  <no Python frame>\n";

static const struct {
    const char *name, *text, *no_stack;
    hg_hang_role role;
    const char *collective, *why, *top0;
} cases[] = {
    { "all_reduce", ALL_REDUCE, NULL, HG_HANG_WAITING, "all_reduce", "", C10D ":1536 all_reduce" },
    { "torch 2.x", ALL_REDUCE_2X, NULL, HG_HANG_WAITING, "all_reduce", "", NULL },
    { "data loading", DATA_LOADING, NULL, HG_HANG_CULPRIT, "", "not in a collective",
      "/job/data.py:12 load_batch" },
    { "helper thread in c10d", HELPER_IN_C10D, NULL, HG_HANG_CULPRIT, "", "not in a collective",
      "/job/train.py:9 spin" },
    { "init", INIT, NULL, HG_HANG_WAITING, "init_process_group", "", NULL },
    { "all_gather_object", GATHER_OBJECT, NULL, HG_HANG_WAITING, "all_gather_object", "", NULL },
    { "no Python frame", NO_FRAME, NULL, HG_HANG_CULPRIT, "", "its main thread has no Python frame", NULL },
    { "not a dump", "hello\n", NULL, HG_HANG_CULPRIT, "", "no stack: its dump had none", NULL },
    { "stopped", NULL, "it did not answer SIGUSR1", HG_HANG_CULPRIT, "",
      "no stack: it did not answer SIGUSR1", NULL },
};

START_TEST(classify_table)
{
    hg_rank_role r;
    const char *t = cases[_i].text;
    hg_stack_classify(t, t ? strlen(t) : 0, cases[_i].no_stack, &r);
    ck_assert_msg(r.role == cases[_i].role, "%s: role %d", cases[_i].name, r.role);
    ck_assert_str_eq(r.collective, cases[_i].collective);
    ck_assert_str_eq(r.why, cases[_i].why);
    if (cases[_i].top0) {
        char top[320];
        ck_assert_int_ge(r.nframes, 1);
        snprintf(top, sizeof(top), "%s:%d %s", r.top[0].file, r.top[0].line, r.top[0].func);
        ck_assert_str_eq(top, cases[_i].top0);
    }
}
END_TEST

START_TEST(top_three_innermost_first)
{
    hg_rank_role r;
    hg_stack_classify(DATA_LOADING, strlen(DATA_LOADING), NULL, &r);
    ck_assert_int_eq(r.nframes, 3);
    ck_assert_str_eq(r.top[1].func, "__next__");
    ck_assert_int_eq(r.top[2].line, 28);
    ck_assert_str_eq(r.top[2].file, "/job/train.py");
}
END_TEST

/* One module of 4 ranks, dp 4: one dp group [0, 1, 2, 3]. */
static hg_layout *dp4(void)
{
    hg_diags *d;
    hg_layout *l = layout_of("version: 1\nmodules:\n  - name: language\n    role: language\n"
                             "    dp: 4\n", 0, &d);
    hg_diags_free(d);
    ck_assert_ptr_nonnull(l);
    return l;
}

static const char BROADCAST[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"" C10D "\", line 1400 in broadcast\n"
    "  File \"/job/train.py\", line 31 in step\n";

static const char SEND[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"" C10D "\", line 1100 in send\n";

static void fill(hg_hang_rank *in, const char *const *texts, int n)
{
    for (int i = 0; i < n; i++)
        in[i] = (hg_hang_rank){ i, 4, "node1", texts[i], texts[i] ? strlen(texts[i]) : 0,
                                texts[i] ? NULL : "it did not answer SIGUSR1" };
}

START_TEST(mismatch_is_a_culprit)
{
    hg_layout *l = dp4();
    const char *t[4] = { ALL_REDUCE, ALL_REDUCE, ALL_REDUCE, BROADCAST };
    hg_hang_rank in[4];
    hg_rank_role r[4];
    fill(in, t, 4);
    hg_hang_analyse(l, in, 4, r);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r[i].role, HG_HANG_WAITING);
    ck_assert_int_eq(r[3].role, HG_HANG_CULPRIT);
    ck_assert_str_eq(r[3].why, "in broadcast while the others of its language dp [0, 1, 2, 3] are "
                               "in all_reduce");
    hg_layout_free(l);
}
END_TEST

START_TEST(tie_and_p2p_decide_nothing)
{
    hg_layout *l = dp4();
    const char *t[4] = { ALL_REDUCE, ALL_REDUCE, BROADCAST, BROADCAST };
    const char *p[4] = { ALL_REDUCE, ALL_REDUCE, ALL_REDUCE, SEND };
    hg_hang_rank in[4];
    hg_rank_role r[4];
    fill(in, t, 4);
    hg_hang_analyse(l, in, 4, r);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].role, HG_HANG_WAITING);
    fill(in, p, 4);
    hg_hang_analyse(l, in, 4, r);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].role, HG_HANG_WAITING);
    hg_layout_free(l);
}
END_TEST

static char *describe(const hg_layout *l, const hg_hang_rank *in, const hg_rank_role *r, int n)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    hg_hang_describe(f, l, in, r, n);
    fclose(f);
    return buf;
}

START_TEST(lines_culprit_first)
{
    hg_layout *l = dp4();
    const char *t[4] = { ALL_REDUCE, ALL_REDUCE, DATA_LOADING, ALL_REDUCE };
    hg_hang_rank in[4];
    hg_rank_role r[4];
    fill(in, t, 4);
    in[2].step = 3;
    hg_hang_analyse(l, in, 4, r);
    ck_assert_str_eq(describe(l, in, r, 4),
                     "hgrid: culprit: rank 2 (language, dp 2) on node1, last step 3: not in a collective\n"
                     "hgrid:   /job/data.py:12 in load_batch\n"
                     "hgrid:   /job/data.py:20 in __next__\n"
                     "hgrid:   /job/train.py:28 in step\n"
                     "hgrid: language dp [0, 1, 2, 3] wait for rank 2\n"
                     "hgrid: waiting in all_reduce: 3 ranks (0-1, 3)\n");
    hg_layout_free(l);
}
END_TEST

START_TEST(no_stack_and_never_beat)
{
    hg_layout *l = dp4();
    const char *t[4] = { ALL_REDUCE, NULL, ALL_REDUCE, ALL_REDUCE };
    hg_hang_rank in[4];
    hg_rank_role r[4];
    fill(in, t, 4);
    in[1].step = -1;
    in[1].no_stack = "never heartbeat";
    hg_hang_analyse(l, in, 4, r);
    ck_assert_str_eq(describe(l, in, r, 4),
                     "hgrid: culprit: rank 1 (language, dp 1) on node1, never heartbeat: no stack: "
                     "never heartbeat\n"
                     "hgrid: language dp [0, 1, 2, 3] wait for rank 1\n"
                     "hgrid: waiting in all_reduce: 3 ranks (0, 2-3)\n");
    const char *none[4] = { NULL, NULL, NULL, NULL };
    fill(in, none, 4);
    hg_hang_analyse(l, in, 4, r);
    ck_assert_str_eq(describe(l, in, r, 4),
                     "hgrid: no rank's stack came back (it did not answer SIGUSR1): the culprit "
                     "cannot be told from the waiters\n");
    hg_layout_free(l);
}
END_TEST

START_TEST(report_object)
{
    hg_layout *l = dp4();
    const char *t[4] = { ALL_REDUCE, ALL_REDUCE, ALL_REDUCE, BROADCAST };
    hg_hang_rank in[4];
    hg_rank_role r[4];
    fill(in, t, 4);
    hg_hang_analyse(l, in, 4, r);
    json_t *j = hg_hang_json(l, in, r, 4, 3);
    char *s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT);
    ck_assert_str_eq(s, "{\"timeout_s\":3,\"culprits\":[{\"rank\":3,\"module\":\"language\","
                        "\"coords\":\"dp 3\",\"host\":\"node1\",\"step\":4,\"why\":\"in broadcast "
                        "while the others of its language dp [0, 1, 2, 3] are in all_reduce\","
                        "\"frames\":[\"" C10D ":1400 broadcast\",\"/job/train.py:31 step\"],"
                        "\"waited_for_by\":\"language dp [0, 1, 2, 3]\"}],\"waiting\":[{"
                        "\"collective\":\"all_reduce\",\"count\":3,\"ranks\":\"0-2\"}]}");
    free(s);
    json_decref(j);
    hg_layout_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("culprit");
    TCase *tc = tcase_create("classify");
    tcase_add_loop_test(tc, classify_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, top_three_innermost_first);
    suite_add_tcase(s, tc);
    TCase *g = tcase_create("groups");
    tcase_add_test(g, mismatch_is_a_culprit);
    tcase_add_test(g, tie_and_p2p_decide_nothing);
    tcase_add_test(g, lines_culprit_first);
    tcase_add_test(g, no_stack_and_never_beat);
    tcase_add_test(g, report_object);
    suite_add_tcase(s, g);
    return run_suite(s);
}
