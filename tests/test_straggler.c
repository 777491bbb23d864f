/* Stragglers (launcher/straggler.c, issue 25 item 5): simulated ranks' compute times in,
 * the ranks named (and the step they are named at) out, as a table; the heartbeat
 * line's "compute US" (wire/beat.c) and the --stragglers setting; the line and the
 * report's object. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "straggler.h"
#include "testutil.h"
#include "grid/config.h"
#include "wire/beat.h"

#define MAXW 8

/* One simulated job: world ranks in groups, each step's compute base_us, rank slow
 * doing slow_pct % more from step slow_from to slow_to (exclusive), then slow2_pct %
 * from slow2_from on; every rank's figure varies by +-jitter_pct % (a fixed pattern);
 * the detector sees a heartbeat every `every` steps and is checked after each. */
typedef struct scenario {
    const char *name;
    int world, group[MAXW], pct, steps, total, every;
    long long base_us;
    int slow, slow_pct, slow_from, slow_to, slow2_pct, slow2_from, jitter_pct;
    int named;            /* how many namings */
    int rank[2];          /* who, in order */
    long at[2];           /* at which step (the heartbeat's) */
    int shown_pct;        /* the first naming's figure */
} scenario;

static const scenario cases[] = {
    { "15% slower: named at the window's end", 4, { 0, 0, 0, 0 }, 5, 20, 100, 1, 20000,
      2, 15, 0, 1000, 0, 0, 0, 1, { 2 }, { 20 }, 15 },
    { "balanced with +-2% noise: nobody", 4, { 0, 0, 0, 0 }, 5, 20, 300, 1, 20000,
      -1, 0, 0, 0, 0, 0, 2, 0, { 0 }, { 0 }, 0 },
    { "4% slower, threshold 5%: nobody", 4, { 0, 0, 0, 0 }, 5, 20, 300, 1, 20000,
      1, 4, 0, 1000, 0, 0, 0, 0, { 0 }, { 0 }, 0 },
    { "6% slower, with noise: named", 4, { 0, 0, 0, 0 }, 5, 20, 300, 1, 20000,
      3, 8, 0, 1000, 0, 0, 2, 1, { 3 }, { 20 }, 8 },
    { "threshold 10%: 8% is not named", 4, { 0, 0, 0, 0 }, 10, 20, 300, 1, 20000,
      3, 8, 0, 1000, 0, 0, 0, 0, { 0 }, { 0 }, 0 },
    { "slow from step 50: named once its window is mostly slow", 4, { 0, 0, 0, 0 }, 5, 20, 200,
      1, 20000, 0, 15, 50, 1000, 0, 0, 0, 1, { 0 }, { 57 }, 5 },
    { "beats every 7 steps: named at the first beat 20 steps past one", 4, { 0, 0, 0, 0 }, 5,
      20, 100, 7, 20000, 1, 15, 0, 1000, 0, 0, 0, 1, { 1 }, { 21 }, 15 },
    { "window 40", 4, { 0, 0, 0, 0 }, 5, 40, 100, 1, 20000, 2, 15, 0, 1000, 0, 0, 0, 1,
      { 2 }, { 40 }, 15 },
    { "recovers, falls behind again: named twice", 4, { 0, 0, 0, 0 }, 5, 20, 300, 1, 20000,
      1, 15, 0, 60, 15, 150, 0, 2, { 1, 1 }, { 20, 157 }, 15 },
    { "6%, then 4% (not recovered): named once", 4, { 0, 0, 0, 0 }, 5, 20, 300, 1, 20000,
      1, 6, 0, 100, 4, 100, 0, 1, { 1 }, { 20 }, 6 },
    { "modules compared apart: 10 ms and 20 ms ranks, nobody", 6, { 0, 0, 1, 1, 1, 1 }, 5,
      20, 100, 1, 10000, -1, 0, 0, 0, 0, 0, 0, 0, { 0 }, { 0 }, 0 },
    { "two ranks: the slower one named", 2, { 0, 0 }, 5, 20, 100, 1, 20000,
      1, 10, 0, 1000, 0, 0, 0, 1, { 1 }, { 20 }, 10 },
    { "a module of one: compared with nobody", 3, { 0, 1, 1 }, 5, 20, 100, 1, 20000,
      0, 50, 0, 1000, 0, 0, 0, 0, { 0 }, { 0 }, 0 },
    { "a rank of no group: ignored, and not a peer", 3, { -1, 0, 0 }, 5, 20, 100, 1, 20000,
      0, 50, 0, 1000, 0, 0, 0, 0, { 0 }, { 0 }, 0 },
    { "window of 1000 steps, kept in a small ring", 4, { 0, 0, 0, 0 }, 5, 1000, 1200, 1, 20000,
      2, 15, 0, 100000, 0, 0, 0, 1, { 2 }, { 1000 }, 15 },
};

/* Module 1 of "modules compared apart" does 20 ms. */
static long long compute_of(const scenario *c, int r, int step)
{
    long long us = c->base_us * (c->group[r] == 1 ? 2 : 1);
    if (r == c->slow && step >= c->slow_from && step < c->slow_to)
        us += us * c->slow_pct / 100;
    else if (r == c->slow && c->slow2_pct && step >= c->slow2_from)
        us += us * c->slow2_pct / 100;
    if (c->jitter_pct)
        us += us * c->jitter_pct * ((r * 7 + step * 13) % 5 - 2) / 200;
    return us;
}

START_TEST(table)
{
    const scenario *c = &cases[_i];
    hg_straggler *d = hg_straggler_new(c->world, c->group, c->pct, c->steps);
    ck_assert_ptr_nonnull(d);
    long long sum[MAXW] = { 0 };
    int named = 0;
    hg_straggler_event ev[MAXW], first = { 0 };
    for (int step = 0; step <= c->total; step++) {
        if (step % c->every == 0) {
            for (int r = 0; r < c->world; r++)
                hg_straggler_sample(d, r, step, sum[r]);
            int n = hg_straggler_check(d, ev, MAXW);
            for (int i = 0; i < n; i++) {
                ck_assert_msg(named < 2, "%s: named a third time: rank %d at step %d", c->name,
                              ev[i].rank, step);
                ck_assert_msg(ev[i].rank == c->rank[named] && step == c->at[named],
                              "%s: naming %d: rank %d at step %d, want rank %d at %ld", c->name,
                              named, ev[i].rank, step, c->rank[named], c->at[named]);
                if (!named)
                    first = ev[i];
                named++;
            }
        }
        for (int r = 0; r < c->world; r++)
            sum[r] += compute_of(c, r, step);
    }
    ck_assert_msg(named == c->named, "%s: named %d times, want %d", c->name, named, c->named);
    if (named) {
        ck_assert_int_eq(first.pct, c->shown_pct);
        ck_assert_int_ge(first.to - first.from, c->steps);
        ck_assert_int_eq(first.peers, c->world - 1 - (c->group[0] < 0));
    }
    hg_straggler_free(d);
}
END_TEST

/* Heartbeats arrive with lag (each keeper forwards its latest every 0.5 s): a group is
 * compared only when every member's window is full, so a rank is never named against
 * the one or two peers that happened to report first (found by the straggler test on a
 * loaded machine: "the median of language's other 1 rank"). */
START_TEST(compared_only_when_every_peer_has_a_window)
{
    int group[4] = { 0, 0, 0, 0 };
    hg_straggler *d = hg_straggler_new(4, group, 5, 20);
    hg_straggler_event ev[4];
    ck_assert_ptr_nonnull(d);
    for (int step = 0; step <= 20; step++)
        for (int r = 0; r < 4; r++)
            if (r != 3 || step <= 10)
                hg_straggler_sample(d, r, step, (long long)step * (r == 2 ? 23000 : 20000));
    ck_assert_int_eq(hg_straggler_check(d, ev, 4), 0);
    for (int step = 11; step <= 20; step++)
        hg_straggler_sample(d, 3, step, (long long)step * 20000);
    ck_assert_int_eq(hg_straggler_check(d, ev, 4), 1);
    ck_assert_int_eq(ev[0].rank, 2);
    ck_assert_int_eq(ev[0].peers, 3);
    ck_assert_int_eq(ev[0].pct, 15);
    hg_straggler_free(d);
}
END_TEST

/* A rank whose steps go back (its program started over in place) starts over: no
 * window spanning the two runs, so no naming from the jump in its sum. */
START_TEST(step_going_back_starts_over)
{
    int group[2] = { 0, 0 };
    hg_straggler *d = hg_straggler_new(2, group, 5, 20);
    hg_straggler_event ev[2];
    for (int s = 0; s <= 30; s++) {
        hg_straggler_sample(d, 0, s, 10000LL * s);
        hg_straggler_sample(d, 1, s, 10000LL * s);
    }
    ck_assert_int_eq(hg_straggler_check(d, ev, 2), 0);
    for (int s = 0; s < 15; s++) {
        hg_straggler_sample(d, 0, s, 20000LL * s);
        hg_straggler_sample(d, 1, 31 + s, 10000LL * (31 + s));
        ck_assert_int_eq(hg_straggler_check(d, ev, 2), 0); /* rank 0: no window yet */
    }
    for (int s = 15; s <= 20; s++)
        hg_straggler_sample(d, 0, s, 20000LL * s);
    ck_assert_int_eq(hg_straggler_check(d, ev, 2), 1);
    ck_assert_int_eq(ev[0].rank, 0);
    ck_assert_int_eq(ev[0].pct, 100);
    hg_straggler_free(d);
}
END_TEST

START_TEST(line_and_report)
{
    hg_diags *diags;
    hg_layout *l = layout_of("version: 1\nmodules:\n  - name: language\n    role: language\n"
                             "    tp: 2\n    dp: 2\n", 0, &diags);
    ck_assert_ptr_nonnull(l);
    hg_straggler_event e = { .rank = 3, .from = 40, .to = 61, .ms = 12.34, .peers_ms = 11.31,
                             .peers = 3, .pct = 9 };
    char buf[512] = "";
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    hg_straggler_describe(f, l, &e);
    fclose(f);
    ck_assert_str_eq(buf, "hgrid: rank 3 (language, tp 1 dp 1) is a straggler: 9% slower than "
                          "the median of language's other 3 ranks over steps 40-61 "
                          "(12.3 ms vs 11.3 ms of compute a step)\n");
    json_t *j = hg_straggler_json(l, &e);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
    ck_assert_str_eq(s, "{\"rank\":3,\"module\":\"language\",\"coords\":\"tp 1 dp 1\","
                        "\"slower_pct\":9,\"compute_ms\":12.34,\"peers_median_ms\":11.31,"
                        "\"peers\":3,\"from_step\":40,\"to_step\":61}");
    free(s);
    json_decref(j);
    hg_layout_free(l);
    hg_diags_free(diags);
}
END_TEST

static const struct {
    const char *line;
    int rc;
    long step, pid;
    long long compute;
    const char *out;      /* hg_beat_format's */
} beats[] = {
    { "12", 0, 12, 0, -1, "12" },
    { "12 stacks 345", 0, 12, 345, -1, "12 stacks 345" },
    { "12 stacks 345 compute 678", 0, 12, 345, 678, "12 stacks 345 compute 678" },
    { "12 compute 678", 0, 12, 0, 678, "12 compute 678" },
    { "12 compute 678 stacks 9", 0, 12, 9, 678, "12 stacks 9 compute 678" },
    { "12 stacks", 0, 12, 0, -1, "12" },                 /* no PID: asks for nothing */
    { "12 stacks 0", 0, 12, 0, -1, "12" },
    { "12 stacks 99999999999", 0, 12, 0, -1, "12" },     /* not a pid */
    { "12 newer 5 compute 678", 0, 12, 0, 678, "12 compute 678" }, /* unknown: skipped */
    { "12 compute x stacks 9", 0, 12, 0, -1, "12" },     /* stops at the bad pair */
    { "12 compute -5", 0, 12, 0, -1, "12" },
    { "12 compute 5x", 0, 12, 0, -1, "12" },
    { "12x", -1, 0, 0, 0, NULL },
    { "-1", -1, 0, 0, 0, NULL },
    { "", -1, 0, 0, 0, NULL },
    { " 12", -1, 0, 0, 0, NULL },
    { "99999999999999999999", -1, 0, 0, 0, NULL },
};

START_TEST(beat_lines)
{
    hg_beat b;
    int rc = hg_beat_parse(beats[_i].line, &b);
    ck_assert_msg(rc == beats[_i].rc, "'%s': rc %d", beats[_i].line, rc);
    if (rc)
        return;
    ck_assert_int_eq(b.step, beats[_i].step);
    ck_assert_int_eq(b.stacks_pid, beats[_i].pid);
    ck_assert_int_eq(b.compute_us, beats[_i].compute);
    char buf[128];
    hg_beat_format(&b, buf, sizeof(buf));
    ck_assert_str_eq(buf, beats[_i].out);
}
END_TEST

static const struct {
    const char *s;
    int rc, pct, steps;
} settings[] = {
    { "5:20", 0, 5, 20 }, { "10", 0, 10, 20 }, { "off", 0, 0, 20 }, { "0", 0, 0, 20 },
    { "7:100", 0, 7, 100 }, { "1000:2", 0, 1000, 2 }, { "5:1", -1, 0, 0 },
    { "5:100001", -1, 0, 0 }, { "1001", -1, 0, 0 }, { "-5", -1, 0, 0 }, { "5%", -1, 0, 0 },
    { "5:", -1, 0, 0 }, { ":20", -1, 0, 0 }, { "", -1, 0, 0 }, { "on", -1, 0, 0 },
    { "5:20:3", -1, 0, 0 },
};

START_TEST(setting)
{
    int pct = -7, steps = -7;
    int rc = hg_stragglers_parse(settings[_i].s, &pct, &steps);
    ck_assert_msg(rc == settings[_i].rc, "'%s': rc %d", settings[_i].s, rc);
    if (rc) {
        ck_assert_int_eq(pct, -7);
        return;
    }
    ck_assert_int_eq(pct, settings[_i].pct);
    ck_assert_int_eq(steps, settings[_i].steps);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("straggler");
    TCase *tc = tcase_create("detect");
    tcase_add_loop_test(tc, table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, compared_only_when_every_peer_has_a_window);
    tcase_add_test(tc, step_going_back_starts_over);
    tcase_add_test(tc, line_and_report);
    suite_add_tcase(s, tc);
    TCase *w = tcase_create("wire");
    tcase_add_loop_test(w, beat_lines, 0, (int)(sizeof(beats) / sizeof(beats[0])));
    tcase_add_loop_test(w, setting, 0, (int)(sizeof(settings) / sizeof(settings[0])));
    suite_add_tcase(s, w);
    return run_suite(s);
}
