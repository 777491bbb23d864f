/* Culprits and waiters (launcher/culprit.c): faulthandler dumps in, roles out, as a
 * table; the group comparison that makes a mismatched waiter a culprit; the lines and
 * the report's "stall" object. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "culprit.h"
#include "flight.h"
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


/* ---- The flight recorder's lines (flight.h) ---- */

static const struct {
    const char *line;
    int ok;
    const char *pg, *op;
    long entered, completed;
    int nranks, last_rank;
} lines[] = {
    { "hgrid-flight: pg=1 desc=undefined ranks=1,3,5,7 entered=42 completed=41 op=gloo:all_reduce\n",
      0, "1", "gloo:all_reduce", 42, 41, 4, 7 },
    { "hgrid-flight: pg=0 desc=default_pg ranks=3,0 entered=-1 completed=-1 op=-", 0, "0", "-", -1,
      -1, 2, 3 },
    { "hgrid-flight: op=x completed=0 entered=1 ranks=- desc=d pg=p\n", 0, "p", "x", 1, 0, 0, -1 },
    { "hgrid-flight: pg=1 desc=d ranks=1 entered=2 op=x\n", -1, "", "", 0, 0, 0, -1 },
    { "hgrid-flight: pg=1 desc=d ranks=1,x entered=2 completed=1 op=x\n", -1, "", "", 0, 0, 0, -1 },
    { "hgrid-flight: pg=1 desc=d ranks=1 entered=-2 completed=1 op=x\n", -1, "", "", 0, 0, 0, -1 },
    { "hgrid-flight: pg=1 desc=d ranks=1 entered=2x completed=1 op=x\n", -1, "", "", 0, 0, 0, -1 },
    { "hgrid-flightX pg=1 desc=d ranks=1 entered=2 completed=1 op=x\n", -1, "", "", 0, 0, 0, -1 },
    { "  File \"/job/train.py\", line 30 in step\n", -1, "", "", 0, 0, 0, -1 },
};

START_TEST(parse_line_table)
{
    hg_flight_line f;
    const char *t = lines[_i].line;
    int rc = hg_flight_parse_line(t, strlen(t), &f);
    ck_assert_msg(rc == lines[_i].ok, "%s: rc %d", t, rc);
    if (rc == 0) {
        ck_assert_str_eq(f.pg, lines[_i].pg);
        ck_assert_str_eq(f.op, lines[_i].op);
        ck_assert_int_eq(f.entered, lines[_i].entered);
        ck_assert_int_eq(f.completed, lines[_i].completed);
        ck_assert_int_eq(f.nranks, lines[_i].nranks);
        if (f.nranks)
            ck_assert_int_eq(f.ranks[f.nranks - 1], lines[_i].last_rank);
        else
            ck_assert_ptr_null(f.ranks);
        hg_flight_line_free(&f);
    }
}
END_TEST

/* A dump: stacks, then the recorder's lines (as the rank writes them); kept in a pool
 * that lives for the test. */
static const char *dump_of(const char *stacks, const char *flight)
{
    static char pool[16][2048];
    static int next;
    char *b = pool[next++ % 16];
    snprintf(b, sizeof(pool[0]), "%s%s", stacks, flight);
    return b;
}

/* tp 2, dp 4: tp groups [0, 1], [2, 3], ...; dp groups [0, 2, 4, 6] and [1, 3, 5, 7]. */
static hg_layout *tp2dp4(void)
{
    hg_diags *d;
    hg_layout *l = layout_of("version: 1\nmodules:\n  - name: language\n    role: language\n"
                             "    tp: 2\n    dp: 4\n", 0, &d);
    hg_diags_free(d);
    ck_assert_ptr_nonnull(l);
    return l;
}

#define FL(pg, ranks, e, c) "hgrid-flight: pg=" pg " desc=undefined ranks=" ranks " entered=" #e \
                            " completed=" #c " op=gloo:all_reduce\n"
#define DP_EVEN(e, c) FL("1", "0,2,4,6", e, c)
#define DP_ODD(e, c) FL("2", "1,3,5,7", e, c)
#define TP(pg, ranks, e, c) FL(pg, ranks, e, c)

/* NCCL's waiters: the collective is a kernel, Python has moved on and blocks elsewhere. */
static const char SYNC[] =
    "Current thread 0x00007f2255535040 (most recent call first):\n"
    "  File \"/job/train.py\", line 33 in step\n";

/* Rank 5 sleeps after dp #41 and tp #10: 1, 3, 7 wait in dp #42; 4 waits in tp #11 for
 * 5; 0, 2, 6 wait in tp #11 for 1, 3, 7, which are behind in tp but stuck in dp. */
static void chain(const char **t)
{
    t[0] = dump_of(ALL_REDUCE, DP_EVEN(41, 41) TP("3", "0,1", 11, 10));
    t[1] = dump_of(SYNC, DP_ODD(42, 41) TP("3", "0,1", 10, 10));
    t[2] = dump_of(ALL_REDUCE, DP_EVEN(41, 41) TP("4", "2,3", 11, 10));
    t[3] = dump_of(SYNC, DP_ODD(42, 41) TP("4", "2,3", 10, 10));
    t[4] = dump_of(ALL_REDUCE, DP_EVEN(41, 41) TP("5", "4,5", 11, 10));
    t[5] = dump_of(DATA_LOADING, DP_ODD(41, 41) TP("5", "4,5", 10, 10));
    t[6] = dump_of(ALL_REDUCE, DP_EVEN(41, 41) TP("6", "6,7", 11, 10));
    t[7] = dump_of(SYNC, DP_ODD(42, 41) TP("6", "6,7", 10, 10));
}

START_TEST(flight_names_the_rank_behind)
{
    hg_layout *l = tp2dp4();
    hg_hang_rank in[8];
    hg_rank_role r[8];
    hg_flight_div *d;
    const char *t[8];
    chain(t);
    fill(in, t, 8);
    int nd = hg_flight_diverged(l, in, 8, &d);
    ck_assert_int_eq(nd, 2);
    ck_assert_str_eq(d[0].group, "language dp [1, 3, 5, 7]");
    ck_assert_str_eq(d[0].op, "all_reduce");
    ck_assert_int_eq(d[0].seq, 42);
    ck_assert_int_eq(d[0].nbehind, 1);
    ck_assert_int_eq(d[0].behind[0], 5);
    ck_assert_int_eq(d[0].nwaiting, 3);
    ck_assert_int_eq(d[0].waiting[2], 7);
    ck_assert_str_eq(d[1].group, "language tp [4, 5]");
    ck_assert_int_eq(d[1].seq, 11);
    hg_flight_free(d, nd);
    hg_hang_analyse(l, in, 8, r);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(r[i].role == (i == 5 ? HG_HANG_CULPRIT : HG_HANG_WAITING), "rank %d", i);
    ck_assert_str_eq(r[5].why, "did not enter all_reduce #42 of language dp [1, 3, 5, 7] "
                               "(flight recorder)");
    ck_assert_str_eq(r[1].collective, "all_reduce"); /* from the recorder: its stack is SYNC */
    ck_assert_str_eq(describe(l, in, r, 8),
                     "hgrid: flight recorder: rank 5 did not enter all_reduce #42 of language dp "
                     "[1, 3, 5, 7]; ranks 1, 3, 7 wait in it\n"
                     "hgrid: flight recorder: rank 5 did not enter all_reduce #11 of language tp "
                     "[4, 5]; rank 4 waits in it\n"
                     "hgrid: culprit: rank 5 (language, tp 1 dp 2) on node1, last step 4: did not "
                     "enter all_reduce #42 of language dp [1, 3, 5, 7] (flight recorder)\n"
                     "hgrid:   /job/data.py:12 in load_batch\n"
                     "hgrid:   /job/data.py:20 in __next__\n"
                     "hgrid:   /job/train.py:28 in step\n"
                     "hgrid: language tp [4, 5] and dp [1, 3, 5, 7] and tp_dp [0, 1, 2, 3, 4, 5, 6, 7] "
                     "wait for rank 5\n"
                     "hgrid: waiting in all_reduce: 7 ranks (0-4, 6-7)\n");
    json_t *j = hg_hang_json(l, in, r, 8, 2);
    char *s = json_dumps(json_object_get(j, "diverged"), JSON_PRESERVE_ORDER | JSON_COMPACT);
    ck_assert_str_eq(s, "[{\"group\":\"language dp [1, 3, 5, 7]\",\"op\":\"all_reduce\",\"seq\":42,"
                        "\"behind\":[5],\"waiting\":[1,3,7]},{\"group\":\"language tp [4, 5]\","
                        "\"op\":\"all_reduce\",\"seq\":11,\"behind\":[5],\"waiting\":[4]}]");
    free(s);
    json_decref(j);
    hg_layout_free(l);
}
END_TEST

/* Without the recorder's lines the same stacks name the NCCL waiters culprits: the
 * recorder is what tells them apart. */
START_TEST(without_flight_stacks_decide)
{
    hg_layout *l = tp2dp4();
    const char *t[8] = { ALL_REDUCE, SYNC, ALL_REDUCE, SYNC, ALL_REDUCE, DATA_LOADING, ALL_REDUCE, SYNC };
    hg_hang_rank in[8];
    hg_rank_role r[8];
    hg_flight_div *d;
    fill(in, t, 8);
    ck_assert_int_eq(hg_flight_diverged(l, in, 8, &d), 0);
    ck_assert_ptr_null(d);
    hg_hang_analyse(l, in, 8, r);
    ck_assert_int_eq(r[1].role, HG_HANG_CULPRIT);
    ck_assert_str_eq(r[5].why, "not in a collective");
    json_t *j = hg_hang_json(l, in, r, 8, 2);
    ck_assert_ptr_null(json_object_get(j, "diverged"));
    json_decref(j);
    hg_layout_free(l);
}
END_TEST

/* Everyone entered the same collective: nothing diverged, whatever completed; a rank
 * that wrote a group twice (two recorders) counts with its higher numbers; a group
 * hgrid did not make is named by torch. */
START_TEST(flight_no_divergence_and_torch_groups)
{
    hg_layout *l = dp4();
    const char *same[4] = { dump_of(ALL_REDUCE, FL("0", "0,1,2,3", 7, 6)),
                            dump_of(ALL_REDUCE, FL("0", "0,1,2,3", 7, 6)),
                            dump_of(ALL_REDUCE, FL("0", "0,1,2,3", 6, 6) FL("0", "0,1,2,3", 7, 6)),
                            dump_of(ALL_REDUCE, FL("0", "0,1,2,3", 7, 7)) };
    const char *mine[4] = { dump_of(ALL_REDUCE, "hgrid-flight: pg=9 desc=my_pairs ranks=0,2 "
                                                "entered=3 completed=2 op=nccl:broadcast\n"),
                            ALL_REDUCE,
                            dump_of(DATA_LOADING, "hgrid-flight: pg=9 desc=my_pairs ranks=0,2 "
                                                  "entered=2 completed=2 op=nccl:broadcast\n"),
                            ALL_REDUCE };
    hg_hang_rank in[4];
    hg_flight_div *d;
    fill(in, same, 4);
    ck_assert_int_eq(hg_flight_diverged(l, in, 4, &d), 0);
    fill(in, mine, 4);
    ck_assert_int_eq(hg_flight_diverged(l, in, 4, &d), 1);
    ck_assert_str_eq(d[0].group, "torch group my_pairs [0, 2]");
    ck_assert_str_eq(d[0].op, "broadcast");
    ck_assert_int_eq(d[0].behind[0], 2);
    hg_flight_free(d, 1);
    const char *world[4] = { FL("0", "0,1,2,3", 5, 4), FL("0", "0,1,2,3", 4, 4), FL("0", "0,1,2,3", 5, 4),
                             FL("0", "0,1,2,3", 5, 4) };
    fill(in, world, 4);
    ck_assert_int_eq(hg_flight_diverged(l, in, 4, &d), 1);
    ck_assert_str_eq(d[0].group, "language dp [0, 1, 2, 3]");
    hg_flight_free(d, 1);
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
    TCase *f = tcase_create("flight");
    tcase_add_loop_test(f, parse_line_table, 0, (int)(sizeof(lines) / sizeof(lines[0])));
    tcase_add_test(f, flight_names_the_rank_behind);
    tcase_add_test(f, without_flight_stacks_decide);
    tcase_add_test(f, flight_no_divergence_and_torch_groups);
    suite_add_tcase(s, f);
    return run_suite(s);
}
