/* Check suite for launcher/progress.c: how the job's stderr is relayed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/progress.h"
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

/* --- deadline messages: one line per cause ------------------------------------------ */

#define ST "hgrid-status 0123abcd: "

START_TEST(deadline_messages_become_one_line)
{
    sink s;
    char line[128];
    hg_progress *p = open_sink(&s, 16, 0);
    static const int order[] = { 3, 0, 15, 7, 1, 2, 4, 5, 6, 8, 10, 11, 12, 13, 14 };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        snprintf(line, sizeof(line), ST "deadline %d 1 bootstrap\n", order[i]);
        feed(p, line, 3.0 + 0.01 * (double)i);
    }
    feed(p, "hello\n", 3.2);
    ck_assert_str_eq(text(&s), "hello\n");
    /* Held while more may come... */
    hg_progress_tick(p, 3.5);
    ck_assert_str_eq(text(&s), "hello\n");
    /* ...and said once, when none has come for HG_PROGRESS_DEADLINE_QUIET_S. */
    hg_progress_tick(p, 3.14 + HG_PROGRESS_DEADLINE_QUIET_S + 0.01);
    ck_assert_str_eq(text(&s), "hello\nhgrid: ranks 0-8, 10-15: readiness deadline of 1 s passed "
                               "in phase bootstrap\n");
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "hello\nhgrid: ranks 0-8, 10-15: readiness deadline of 1 s passed "
                               "in phase bootstrap\n");
    ck_assert_int_eq(hg_progress_started(p), 1);
    close_sink(&s, p);
}
END_TEST

START_TEST(deadline_causes_each_get_a_line_at_finish)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, ST "deadline 5 1 readiness\n" ST "deadline -1 1 bootstrap\n"
            ST "deadline 0 1 readiness: 1 of 8 ranks never reported (rank 3)\n"
            ST "deadline 2 1 readiness\n" ST "deadline -1 1 bootstrap\n"
            ST "deadline 6 2 readiness\n" ST "deadline 5 1 readiness\n", 3.0);
    ck_assert_str_eq(text(&s), "");
    hg_progress_finish(p);
    /* The ranks still in bootstrap held up the rest: their line first, the others' as
     * what followed from it. */
    ck_assert_str_eq(text(&s),
                     "hgrid: 2 ranks (numbers unknown): readiness deadline of 1 s passed in phase "
                     "bootstrap\n"
                     "hgrid: rank 0: readiness deadline of 1 s passed in phase readiness: 1 of 8 "
                     "ranks never reported (rank 3) (a consequence: 2 ranks (numbers unknown) "
                     "had not finished phase bootstrap)\n"
                     "hgrid: ranks 2, 5: readiness deadline of 1 s passed in phase readiness (a "
                     "consequence: 2 ranks (numbers unknown) had not finished phase bootstrap)\n"
                     "hgrid: rank 6: readiness deadline of 2 s passed in phase readiness (a "
                     "consequence: 2 ranks (numbers unknown) had not finished phase bootstrap)\n");
    close_sink(&s, p);
}
END_TEST

/* 64 ranks, most still in bootstrap when the deadline passed: the few that got as far as
 * bridges (and the coordinator, in readiness) report first, in the order the messages
 * happen to arrive; the lines still lead with the ranks that were the cause, and the
 * bridge waiters' line does not read as the bridge's (or its peer's) fault. */
START_TEST(deadline_lines_put_the_earliest_phase_first)
{
    sink s;
    char line[160];
    hg_progress *p = open_sink(&s, 64, 0);
    feed(p, ST "deadline 0 1 readiness: 4 of 64 ranks never reported (ranks 60-63)\n", 2.0);
    for (int r = 60; r < 64; r++) {
        snprintf(line, sizeof(line), ST "deadline %d 1 bridges: vision -> language\n", r);
        feed(p, line, 2.0);
    }
    for (int r = 1; r < 60; r++) {
        snprintf(line, sizeof(line), ST "deadline %d %d bootstrap\n", r, r == 7 ? 2 : 1);
        feed(p, line, 2.1);
    }
    feed(p, ST "deadline -1 1 bootstrap\n", 2.1);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s),
                     "hgrid: ranks 1-6, 8-59 and 1 more (number unknown): readiness deadline of 1 s "
                     "passed in phase bootstrap\n"
                     "hgrid: rank 7: readiness deadline of 2 s passed in phase bootstrap\n"
                     "hgrid: ranks 60-63: readiness deadline of 1 s passed in phase bridges: vision "
                     "-> language (a consequence: ranks 1-59 and 1 more (number unknown) had not "
                     "finished phase bootstrap)\n"
                     "hgrid: rank 0: readiness deadline of 1 s passed in phase readiness: 4 of 64 "
                     "ranks never reported (ranks 60-63) (a consequence: ranks 1-59 and 1 more "
                     "(number unknown) had not finished phase bootstrap)\n");
    close_sink(&s, p);
}
END_TEST

/* All in one phase, or a phase this launcher does not know: nothing is called a
 * consequence of anything. */
START_TEST(deadline_lines_of_one_phase_blame_no_one)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, ST "deadline 5 1 newphase\n" ST "deadline 3 1 verify\n" ST "deadline 2 1 verify: x\n",
         1.0);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "hgrid: rank 2: readiness deadline of 1 s passed in phase verify: x\n"
                               "hgrid: rank 3: readiness deadline of 1 s passed in phase verify\n"
                               "hgrid: rank 5: readiness deadline of 1 s passed in phase newphase\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(deadline_unknown_rank_and_late_arrivals)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    feed(p, ST "deadline -1 3 gpu\n", 1.0);
    hg_progress_tick(p, 2.5);
    ck_assert_str_eq(text(&s), "hgrid: rank ?: readiness deadline of 3 s passed in phase gpu\n");
    /* One that comes after the line was printed is not lost: it gets its own. */
    feed(p, ST "deadline 2 3 gpu\n" ST "deadline -1 3 gpu\n", 3.0);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "hgrid: rank ?: readiness deadline of 3 s passed in phase gpu\n"
                               "hgrid: rank 2 and 1 more (number unknown): readiness deadline of 3 "
                               "s passed in phase gpu\n");
    close_sink(&s, p);
}
END_TEST

START_TEST(bogus_deadline_messages_are_ignored)
{
    sink s;
    hg_progress *p = open_sink(&s, 4, 0);
    feed(p, ST "deadline 4 1 bootstrap\n" ST "deadline -2 1 bootstrap\n" ST "deadline 1 0 gpu\n"
            ST "deadline 1 1 \n" ST "deadline x 1 gpu\n", 1.0);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "");
    close_sink(&s, p);
}
END_TEST

/* --- mpirun's noise ------------------------------------------------------------------- */

#define RULE "--------------------------------------------------------------------------\n"
#define BOX_PRIMARY RULE "Primary job  terminated normally, but 1 process returned\n" \
    "a non-zero exit code. Per user-direction, the job has been aborted.\n" RULE
#define BOX_EXIT7 RULE "mpirun detected that one or more processes exited with non-zero " \
    "status, thus causing\nthe job to be terminated. The first process to do so was:\n\n" \
    "  Process name: [[29032,1],5]\n  Exit code:    7\n" RULE
#define BOX_SIGNAL RULE "mpirun noticed that process rank 6 with PID 0 on node vm exited on " \
    "signal 11 (Segmentation fault).\n" RULE
#define BOX_NO_EXEC RULE "mpirun was unable to find the specified executable file, and " \
    "therefore\ndid not launch the job.  This error was first reported for process\nrank 0; it " \
    "may have occurred for other processes as well.\n\nNode:       vm\nExecutable: nonexist\n" RULE

typedef struct two_sinks {
    sink out, noise;
    hg_progress *p;
} two_sinks;

static void open_two(two_sinks *t)
{
    t->p = open_sink(&t->out, 8, 0);
    t->noise.buf = NULL;
    t->noise.len = 0;
    t->noise.f = open_memstream(&t->noise.buf, &t->noise.len);
    ck_assert_ptr_nonnull(t->noise.f);
    hg_progress_set_noise(t->p, t->noise.f);
}

static void close_two(two_sinks *t)
{
    close_sink(&t->out, t->p);
    fclose(t->noise.f);
    free(t->noise.buf);
}

/* Seen when 64 ranks were stopped by the readiness deadline while starting. */
#define BOX_SHM RULE "A system call failed during shared memory initialization that should\n" \
    "not have.  It is likely that your MPI job will now either abort or\nexperience " \
    "performance degradation.\n\n  Local host:  vm\n  System call: open(2) \n  Error:       " \
    "No such file or directory (errno 2)\n" RULE

START_TEST(teardown_shared_memory_box_goes_to_the_sink)
{
    two_sinks t;
    open_two(&t);
    for (const char *c = BOX_SHM "hgrid: ranks 0-41: readiness deadline of 1 s passed\n"; *c; c++)
        hg_progress_feed(t.p, c, 1, 1.0);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "hgrid: ranks 0-41: readiness deadline of 1 s passed\n");
    ck_assert_str_eq(text(&t.noise), BOX_SHM);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 1);
    close_two(&t);
}
END_TEST

START_TEST(mpirun_end_of_job_boxes_go_to_the_sink)
{
    two_sinks t;
    int rank, status, sig;
    open_two(&t);
    feed(t.p, "hgrid: 8/8 ranks ready\n" BOX_PRIMARY BOX_EXIT7 "mpirun: Forwarding signal 18 "
              "to job\nrank 2 says bye\n", 1.0);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "hgrid: 8/8 ranks ready\nrank 2 says bye\n");
    ck_assert_str_eq(text(&t.noise), BOX_PRIMARY BOX_EXIT7 "mpirun: Forwarding signal 18 to job\n");
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 3);
    /* The diverted box still names the first rank to fail. */
    ck_assert_int_eq(hg_progress_first_failure(t.p, &rank, &status, &sig), 0);
    ck_assert_int_eq(rank, 5);
    ck_assert_int_eq(status, 7);
    ck_assert_int_eq(sig, 0);
    close_two(&t);
}
END_TEST

START_TEST(signal_box_diverted_byte_by_byte)
{
    two_sinks t;
    int rank, status, sig;
    const char *in = BOX_PRIMARY BOX_SIGNAL "after\n";
    open_two(&t);
    /* One byte a read: nothing may depend on where a read ends. */
    for (size_t i = 0; in[i]; i++)
        hg_progress_feed(t.p, in + i, 1, 1.0);
    ck_assert_str_eq(text(&t.out), "after\n");
    ck_assert_str_eq(text(&t.noise), BOX_PRIMARY BOX_SIGNAL);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 2);
    ck_assert_int_eq(hg_progress_first_failure(t.p, &rank, &status, &sig), 0);
    ck_assert_int_eq(rank, 6);
    ck_assert_int_eq(sig, 11);
    close_two(&t);
}
END_TEST

START_TEST(runtime_and_srun_lines_go_to_the_sink)
{
    two_sinks t;
    const char *noise =
        "[vm:26259] PMIX ERROR: UNREACHABLE in file ../../src/mca/ptl/base/ptl_base_connection_"
        "hdlr.c at line 388\n"
        "[vm:26259] pmix_ptl_base: send_msg: write failed: Broken pipe (32) [sd = 160]\n"
        "[warn] Epoll MOD(1) on fd 27 failed. Old events were 6; read change was 0 (none); "
        "write change was 2 (del): Bad file descriptor\n"
        "mpirun: abort is already in progress...hit ctrl-c again to forcibly terminate\n"
        "srun: error: vm: tasks 0-7: Terminated\n"
        "srun: Force Terminated StepId=12.0\n"
        "[node-3.cluster:04242] *** Process received signal ***\n"
        "[vm:04242] mpirun: SIGPIPE detected on fd 13 - aborting\n";
    const char *passes = "[vm:26259] a rank's own line\n"
                         "[warn] a warning of the workload\n"
                         "[vm:04243] *** Process received signal ***\n"
                         "[vm:4242] not Open MPI's way of writing its pid\n"
                         "srun: error: no task here\n"
                         "PMIX ERROR: not prefixed\n";
    char in[2048];
    snprintf(in, sizeof(in), "%s%s", noise, passes);
    open_two(&t);
    hg_progress_set_launcher_pid(t.p, 4242);
    /* One byte a read: nothing may depend on where a read ends. */
    for (size_t i = 0; in[i]; i++)
        hg_progress_feed(t.p, in + i, 1, 1.0);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), passes);
    ck_assert_str_eq(text(&t.noise), noise);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 8);
    close_two(&t);
}
END_TEST

START_TEST(other_boxes_and_lookalikes_pass_unchanged)
{
    two_sinks t;
    const char *in = BOX_NO_EXEC "2 total processes failed to start\n"
                     RULE "| a table the workload draws |\n" RULE
                     RULE RULE "---\n" "mpirun: Forwarding signal x to job\n"
                     "mpirun: Forwarding signal 15 to job now\n"
                     "Primary job  terminated normally, outside any box\n"
                     "-------------------------------------------------------------------------\n";
    open_two(&t);
    feed(t.p, in, 1.0);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), in);
    ck_assert_str_eq(text(&t.noise), "");
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 0);
    close_two(&t);
}
END_TEST

START_TEST(a_box_that_passed_hides_no_noise_box)
{
    two_sinks t;
    open_two(&t);
    /* A workload's lone line of dashes is no box that the next one's top line closes. */
    feed(t.p, RULE "workload banner\n" BOX_PRIMARY BOX_NO_EXEC BOX_SIGNAL, 1.0);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), RULE "workload banner\n" BOX_NO_EXEC);
    ck_assert_str_eq(text(&t.noise), BOX_PRIMARY BOX_SIGNAL);
    close_two(&t);
}
END_TEST

START_TEST(noise_is_dropped_without_a_sink)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    feed(p, BOX_PRIMARY "mpirun: Forwarding signal 18 to job\n" ST "deadline 1 1 gpu\n" "x\n", 1.0);
    hg_progress_finish(p);
    ck_assert_str_eq(text(&s), "x\nhgrid: rank 1: readiness deadline of 1 s passed in phase gpu\n");
    ck_assert_uint_eq(hg_progress_noise_count(p), 2);
    close_sink(&s, p);
}
END_TEST

START_TEST(held_dashes_pass_after_a_while)
{
    sink s;
    hg_progress *p = open_sink(&s, 8, 0);
    /* A workload's line of dashes, then nothing for a while: it must not wait for the
     * next line, nor must a progress bar drawn in dashes. */
    feed(p, RULE, 1.0);
    ck_assert_str_eq(text(&s), "");
    hg_progress_tick(p, 1.0 + HG_PROGRESS_HOLD_S + 0.01);
    ck_assert_str_eq(text(&s), RULE);
    feed(p, "[---", 2.0);
    hg_progress_tick(p, 2.1);
    ck_assert_str_eq(text(&s), RULE "[---");
    feed(p, "]\n----", 3.0);
    ck_assert_str_eq(text(&s), RULE "[---]\n");
    hg_progress_tick(p, 3.0 + HG_PROGRESS_HOLD_S + 0.01);
    ck_assert_str_eq(text(&s), RULE "[---]\n----");
    close_sink(&s, p);
}
END_TEST

/* --- hosts mpirun and srun say are gone ----------------------------------------------- */

#define BOX_NODE_DIED RULE "ORTE has lost communication with a remote daemon.\n\n" \
    "  HNP daemon   : [[59427,0],0] on node nsc1\n  Remote daemon: [[59427,0],2] on node nsc2\n\n" \
    "This is usually due to either a failure of the TCP network\nconnection to the node, or " \
    "possibly an internal failure of\nthe daemon itself. We cannot recover from this failure, " \
    "and\ntherefore will terminate the job.\n" RULE
#define BOX_NO_START RULE "ORTE was unable to reliably start one or more daemons.\n" \
    "This usually is caused by:\n\n* not finding the required libraries and/or binaries on\n" \
    "  one or more nodes. Please check your PATH and LD_LIBRARY_PATH\n" RULE
#define BOX_FAILED RULE "An ORTE daemon has unexpectedly failed after launch and before\n" \
    "communicating back to mpirun. This could be caused by a number\nof factors.\n" RULE

static void feed_bytes(hg_progress *p, const char *in)
{
    for (size_t i = 0; in[i]; i++)
        hg_progress_feed(p, in + i, 1, 1.0);
}

START_TEST(lost_daemon_box_becomes_one_line_naming_the_host)
{
    two_sinks t;
    const char *how = NULL;
    open_two(&t);
    ck_assert_ptr_null(hg_progress_lost_host(t.p, &how));
    feed_bytes(t.p, "rank 1 step 3\n" BOX_NODE_DIED "rank 2 step 3\n");
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "rank 1 step 3\nhgrid: host nsc2 lost: mpirun lost its "
                                   "daemon on it\nrank 2 step 3\n");
    ck_assert_str_eq(text(&t.noise), BOX_NODE_DIED);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 1);
    ck_assert_str_eq(hg_progress_lost_host(t.p, &how), "nsc2");
    ck_assert_str_eq(how, "mpirun lost its daemon on it");
    close_two(&t);
}
END_TEST

START_TEST(daemon_start_boxes_name_the_host_ssh_named)
{
    two_sinks t;
    open_two(&t);
    feed_bytes(t.p, "ssh: connect to host nsc3 port 22: No route to host\n" BOX_NO_START);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "ssh: connect to host nsc3 port 22: No route to host\n"
                                   "hgrid: host nsc3 lost: mpirun could not start its daemon "
                                   "on it\n");
    ck_assert_str_eq(text(&t.noise), BOX_NO_START);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 1);
    ck_assert_str_eq(hg_progress_lost_host(t.p, NULL), "nsc3");
    close_two(&t);

    /* No host named anywhere: one line all the same, and no host to blame. */
    open_two(&t);
    feed_bytes(t.p, BOX_FAILED);
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "hgrid: mpirun could not start its daemon on a host it does "
                                   "not name (Open MPI's message: --log-dir's mpirun.stderr)\n");
    ck_assert_str_eq(text(&t.noise), BOX_FAILED);
    ck_assert_ptr_null(hg_progress_lost_host(t.p, NULL));
    close_two(&t);
}
END_TEST

START_TEST(srun_node_failure_lines_name_the_host)
{
    two_sinks t;
    const char *how = NULL;
    const char *noise = "srun: error: Node failure on nsc2\n"
                        "srun: error: Nodes nsc3 are still not ready\n";
    open_two(&t);
    feed_bytes(t.p, "a\n");
    feed_bytes(t.p, noise);
    feed_bytes(t.p, "srun: error: Node failures are rare\n");
    hg_progress_finish(t.p);
    ck_assert_str_eq(text(&t.out), "a\nhgrid: host nsc2 lost: SLURM reported a node failure\n"
                                   "hgrid: host nsc3 lost: SLURM reported it not ready\n"
                                   "srun: error: Node failures are rare\n");
    ck_assert_str_eq(text(&t.noise), noise);
    ck_assert_uint_eq(hg_progress_noise_count(t.p), 2);
    /* The first host said is the one kept. */
    ck_assert_str_eq(hg_progress_lost_host(t.p, &how), "nsc2");
    ck_assert_str_eq(how, "SLURM reported a node failure");
    close_two(&t);
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
    tcase_add_test(tc, deadline_messages_become_one_line);
    tcase_add_test(tc, deadline_causes_each_get_a_line_at_finish);
    tcase_add_test(tc, deadline_lines_put_the_earliest_phase_first);
    tcase_add_test(tc, deadline_lines_of_one_phase_blame_no_one);
    tcase_add_test(tc, deadline_unknown_rank_and_late_arrivals);
    tcase_add_test(tc, bogus_deadline_messages_are_ignored);
    tcase_add_test(tc, mpirun_end_of_job_boxes_go_to_the_sink);
    tcase_add_test(tc, teardown_shared_memory_box_goes_to_the_sink);
    tcase_add_test(tc, signal_box_diverted_byte_by_byte);
    tcase_add_test(tc, other_boxes_and_lookalikes_pass_unchanged);
    tcase_add_test(tc, runtime_and_srun_lines_go_to_the_sink);
    tcase_add_test(tc, a_box_that_passed_hides_no_noise_box);
    tcase_add_test(tc, noise_is_dropped_without_a_sink);
    tcase_add_test(tc, held_dashes_pass_after_a_while);
    tcase_add_test(tc, lost_daemon_box_becomes_one_line_naming_the_host);
    tcase_add_test(tc, daemon_start_boxes_name_the_host_ssh_named);
    tcase_add_test(tc, srun_node_failure_lines_name_the_host);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
