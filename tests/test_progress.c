/* Check suite for launcher/progress.c: how the job's stderr is relayed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "testutil.h"

typedef struct sink {
    FILE *f;
    char *buf;
    size_t len;
} sink;

static hg_progress *open_sink(sink *s, int world, int tty)
{
    s->buf = NULL;
    s->len = 0;
    s->f = open_memstream(&s->buf, &s->len);
    ck_assert_ptr_nonnull(s->f);
    hg_progress *p = hg_progress_new(s->f, world, tty, "0123abcd");
    ck_assert_ptr_nonnull(p);
    return p;
}

static const char *text(sink *s)
{
    fflush(s->f);
    return s->buf;
}

static void close_sink(sink *s, hg_progress *p)
{
    hg_progress_free(p);
    fclose(s->f);
    free(s->buf);
}

static void feed(hg_progress *p, const char *str, double now)
{
    hg_progress_feed(p, str, strlen(str), now);
}

START_TEST(other_lines_pass_through_unchanged)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, "rank 3: loading\nwarning: x\n", 0.1);
    ck_assert_str_eq(text(&s), "rank 3: loading\nwarning: x\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(status_lines_become_progress)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, "hgrid-status 0123abcd: ready 3/8\n", 0.5);
    ck_assert_int_eq(hg_progress_ready(p), 3);
    ck_assert_str_eq(text(&s), "hgrid: 3/8 ranks ready, 0.5 s\n");
    /* Throttled to one plain line a second, but the last one always prints. */
    feed(p, "hgrid-status 0123abcd: ready 5/8\n", 0.9);
    ck_assert_str_eq(text(&s), "hgrid: 3/8 ranks ready, 0.5 s\n");
    feed(p, "hgrid-status 0123abcd: ready 8/8\nhgrid-status 0123abcd: go\n", 1.0);
    ck_assert_int_eq(hg_progress_ready(p), 8);
    ck_assert_str_eq(text(&s), "hgrid: 3/8 ranks ready, 0.5 s\nhgrid: 8/8 ranks ready, 1.0 s\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(status_line_split_across_reads)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    feed(p, "hgrid-status 0123", 0.1);
    ck_assert_int_eq((int)s.len, 0); /* held: it may still be a status line */
    feed(p, "abcd: ready 4/4\n", 0.2);
    ck_assert_int_eq(hg_progress_ready(p), 4);
    ck_assert_str_eq(text(&s), "hgrid: 4/4 ranks ready, 0.2 s\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(partial_line_is_not_held_back)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    feed(p, "step 10/100\r", 0.1);
    ck_assert_str_eq(text(&s), "step 10/100\r");
    feed(p, "step 20/100", 0.2);
    ck_assert_str_eq(text(&s), "step 10/100\rstep 20/100");
    close_sink(&s, p);
}
END_TEST

START_TEST(terminal_line_is_redrawn_and_erased)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 1);
    feed(p, "hgrid-status 0123abcd: ready 2/8\n", 0.3);
    ck_assert_str_eq(text(&s), "\r\033[Khgrid: 2/8 ranks ready, 0.3 s");
    feed(p, "hello\n", 0.4);
    ck_assert_str_eq(text(&s), "\r\033[Khgrid: 2/8 ranks ready, 0.3 s\r\033[Khello\n"
                               "\r\033[Khgrid: 2/8 ranks ready, 0.4 s");
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "\r\033[Khgrid: 2/8 ranks ready, 0.3 s\r\033[Khello\n"
                               "\r\033[Khgrid: 2/8 ranks ready, 0.4 s\r\033[K");
    close_sink(&s, p);
}
END_TEST

START_TEST(bogus_status_counts_are_ignored)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, "hgrid-status 0123abcd: ready 9/8\nhgrid-status 0123abcd: ready x\nhgrid-status 0123abcd: ready -1/8\n", 0.1);
    ck_assert_int_eq(hg_progress_ready(p), 0);
    close_sink(&s, p);
}
END_TEST

START_TEST(mpirun_first_failure_exit_code)
{
    sink s;
    int rank, status, sig;
    hg_progress *p = open_sink(&s, 8, 0);
    ck_assert_int_eq(hg_progress_first_failure(p, &rank, &status, &sig), -1);
    feed(p, "mpirun detected that one or more processes exited with non-zero status, thus "
            "causing\nthe job to be terminated. The first process to do so was:\n\n"
            "  Process name: [[29962,1],5]\n  Exit code:    7\n", 1.0);
    ck_assert_int_eq(hg_progress_first_failure(p, &rank, &status, &sig), 0);
    ck_assert_int_eq(rank, 5);
    ck_assert_int_eq(status, 7);
    ck_assert_int_eq(sig, 0);
    /* The first one named stays. */
    feed(p, "  Process name: [[29962,1],2]\n  Exit code:    9\n", 1.1);
    hg_progress_first_failure(p, &rank, &status, &sig);
    ck_assert_int_eq(rank, 5);
    close_sink(&s, p);
}
END_TEST

START_TEST(mpirun_first_failure_signal)
{
    sink s;
    int rank, status, sig;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, "mpirun noticed that process rank 3 with PID 0 on node vm exited on signal 6 "
            "(Aborted).\n", 1.0);
    ck_assert_int_eq(hg_progress_first_failure(p, &rank, &status, &sig), 0);
    ck_assert_int_eq(rank, 3);
    ck_assert_int_eq(sig, 6);
    close_sink(&s, p);
}
END_TEST


START_TEST(long_line_passes_byte_exact)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    size_t n = 10000;
    char *line = malloc(n + 2);
    ck_assert_ptr_nonnull(line);
    for (size_t i = 0; i < n; i++)
        line[i] = (char)('a' + i % 26);
    line[n] = '\n';
    line[n + 1] = '\0';
    /* In odd-sized reads, as a pipe delivers them. */
    for (size_t i = 0; i <= n; i += 777)
        hg_progress_feed(p, line + i, i + 777 <= n + 1 ? 777 : n + 1 - i, 0.1);
    ck_assert_uint_eq(s.len, n + 1);
    ck_assert_str_eq(text(&s), line);
    free(line);
    close_sink(&s, p);
}
END_TEST

START_TEST(other_tokens_and_old_prefix_pass_through)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    const char *in = "hgrid-status: ready 4/4\nhgrid-status ffffffff: go\nhgrid-status 0123abcd:x\n"
                     "hgrid-status 0123abc\n";
    feed(p, in, 0.1);
    ck_assert_str_eq(text(&s), in);
    ck_assert_int_eq(hg_progress_ready(p), 0);
    ck_assert_int_eq(hg_progress_decision(p), -1);
    close_sink(&s, p);
}
END_TEST

START_TEST(status_prefix_in_mid_line_passes)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    feed(p, "x hgrid-status 0123abcd: go\n", 0.1);
    ck_assert_str_eq(text(&s), "x hgrid-status 0123abcd: go\n");
    ck_assert_int_eq(hg_progress_decision(p), -1);
    close_sink(&s, p);
}
END_TEST

START_TEST(without_token_nothing_is_status)
{
    sink s;
    s.buf = NULL;
    s.len = 0;
    s.f = open_memstream(&s.buf, &s.len);
    hg_progress *p = hg_progress_new(s.f, 4, 0, NULL);
    feed(p, "hgrid-status : ready 4/4\nhgrid-status: go\n", 0.1);
    ck_assert_str_eq(text(&s), "hgrid-status : ready 4/4\nhgrid-status: go\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(started_decision_and_report)
{
    sink s;
    hg_progress *p = open_sink(&s, 2, 0);
    ck_assert_int_eq(hg_progress_started(p), 0);
    feed(p, "hgrid-status 0123abcd: started\n", 0.1);
    ck_assert_int_eq(hg_progress_started(p), 1);
    feed(p, "hgrid-status 0123abcd: no-go\nhgrid-status 0123abcd: report\n", 0.2);
    ck_assert_int_eq(hg_progress_decision(p), 0);
    ck_assert_int_eq(hg_progress_report_written(p), 1);
    ck_assert_str_eq(text(&s), "");
    close_sink(&s, p);
}
END_TEST

START_TEST(held_prefix_is_released_at_end)
{
    sink s;
    hg_progress *p = open_sink(&s, 2, 0);
    feed(p, "hgrid-status 01", 0.1);
    ck_assert_int_eq((int)s.len, 0);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "hgrid-status 01");
    close_sink(&s, p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("relay");
    tcase_add_test(tc, other_lines_pass_through_unchanged);
    tcase_add_test(tc, status_lines_become_progress);
    tcase_add_test(tc, status_line_split_across_reads);
    tcase_add_test(tc, partial_line_is_not_held_back);
    tcase_add_test(tc, terminal_line_is_redrawn_and_erased);
    tcase_add_test(tc, bogus_status_counts_are_ignored);
    tcase_add_test(tc, mpirun_first_failure_exit_code);
    tcase_add_test(tc, mpirun_first_failure_signal);
    tcase_add_test(tc, long_line_passes_byte_exact);
    tcase_add_test(tc, other_tokens_and_old_prefix_pass_through);
    tcase_add_test(tc, status_prefix_in_mid_line_passes);
    tcase_add_test(tc, without_token_nothing_is_status);
    tcase_add_test(tc, started_decision_and_report);
    tcase_add_test(tc, held_prefix_is_released_at_end);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
