/* The attempt's state machine and verdict (launcher/jobstate.c): legal and illegal moves,
 * the first stop reason winning, and the verdict as a table: stop reason and facts in,
 * exit status, restartability, blame and words out. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "jobstate.h"
#include "wire/protocol.h"
#include "testutil.h"

/* Each row overrides the BASE facts it differs in: the overriding is the point. */
#pragma GCC diagnostic ignored "-Woverride-init"

START_TEST(states_only_go_forward)
{
    hg_jobstate j;
    hg_jobstate_init(&j);
    ck_assert_int_eq(j.state, HG_JOB_STARTING);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_PREFLIGHT), 0);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_STARTING), -1);
    ck_assert_int_eq(j.state, HG_JOB_PREFLIGHT);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_RUNNING), 0);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_ENDED), 0);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_ENDED), -1);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_STOPPING), -1);
    ck_assert_int_eq(j.state, HG_JOB_ENDED);
    ck_assert_int_eq(hg_jobstate_stop(&j, HG_STOP_OPERATOR, 1.0), 0);
    ck_assert_int_eq(j.stopped, 0);
}
END_TEST

START_TEST(a_stopping_attempt_only_ends)
{
    hg_jobstate j;
    hg_jobstate_init(&j);
    ck_assert_int_eq(hg_jobstate_stop(&j, HG_STOP_DEADLINE, 2.5), 1);
    ck_assert_int_eq(j.state, HG_JOB_STOPPING);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_RUNNING), -1);
    ck_assert_int_eq(j.state, HG_JOB_STOPPING);
    ck_assert_int_eq(hg_jobstate_move(&j, HG_JOB_ENDED), 0);
}
END_TEST

START_TEST(the_first_stop_reason_wins)
{
    hg_jobstate j;
    hg_jobstate_init(&j);
    hg_jobstate_move(&j, HG_JOB_RUNNING);
    ck_assert_int_eq(hg_jobstate_stop(&j, HG_STOP_HOST_LOST, 10.0), 1);
    ck_assert_int_eq(hg_jobstate_stop(&j, HG_STOP_WORKLOAD, 11.0), 0);
    ck_assert_int_eq(hg_jobstate_stop(&j, HG_STOP_OPERATOR, 12.0), 0);
    ck_assert_int_eq(j.stop, HG_STOP_HOST_LOST);
    ck_assert(j.stop_at == 10.0);
}
END_TEST

/* One row: how the attempt ended (stop reason or none) and the facts; the verdict. */
typedef struct row {
    const char *name;
    int stopped;
    hg_stop stop;
    hg_job_facts f;
    hg_stop want_stop;
    int want_status, want_restart, want_blame;
    const char *want_why;
} row;

#define BASE .launcher = "mpirun", .world = 8, .ready = 8, .deadline_s = 120, .stall_s = 30, \
             .started = 1, .decision = 1, .channel = 1, .exited = 8, .first_rank = -1

static const row rows[] = {
    { "success", 0, 0, { BASE }, HG_STOP_NONE, 0, 0, -1, "" },
    { "mpirun missing", 0, 0, { BASE, .exec_errno = ENOENT, .started = 0, .decision = -1 },
      HG_STOP_NOT_STARTED, HG_EXIT_NOT_STARTED, 0, -1,
      "cannot run 'mpirun': No such file or directory" },
    { "mpirun failed before any rank", 0, 0,
      { BASE, .launcher_code = 1, .started = 0, .decision = -1, .exited = 0 },
      HG_STOP_NOT_STARTED, HG_EXIT_NOT_STARTED, 0, -1,
      "mpirun exited with status 1 before any rank started" },
    { "mpirun killed before any rank", 0, 0,
      { BASE, .launcher_code = 137, .launcher_signal = 9, .started = 0, .decision = -1 },
      HG_STOP_NOT_STARTED, HG_EXIT_NOT_STARTED, 0, -1,
      "mpirun was killed by signal 9 before any rank started" },
    { "workload exits 6 (hgrid's too-few-hosts code, but the workload's)", 0, 0,
      { BASE, .launcher_code = 6, .first_rank = 5, .first_code = 6, .first_module = "language" },
      HG_STOP_WORKLOAD, 6, 1, 5, "rank 5 (language) was the first to fail, exit status 6" },
    { "workload exits 124 after go", 0, 0,
      { BASE, .launcher_code = 124, .first_rank = 0, .first_code = 124,
        .first_module = "vision" },
      HG_STOP_WORKLOAD, 124, 1, 0, "rank 0 (vision) was the first to fail, exit status 124" },
    { "workload killed by a signal", 1, HG_STOP_WORKLOAD,
      { BASE, .launcher_code = 1, .first_rank = 3, .first_code = 134, .first_signal = 6,
        .first_module = "vision" },
      HG_STOP_WORKLOAD, 134, 1, 3,
      "rank 3 (vision) was the first to fail, killed by signal 6 (Aborted)" },
    { "mpirun 0 but ranks never reported", 0, 0, { BASE, .exited = 5, .missing = "5-7" },
      HG_STOP_RANK_LOST, HG_EXIT_LOST, 1, -1,
      "ranks 5-7 ended with no exit status from their program" },
    { "one rank never reported", 0, 0, { BASE, .exited = 7, .missing = "4" },
      HG_STOP_RANK_LOST, HG_EXIT_LOST, 1, -1, "rank 4 ended with no exit status from its program" },
    { "without a channel mpirun's 0 stands", 0, 0, { BASE, .channel = 0, .exited = 0 },
      HG_STOP_NONE, 0, 0, -1, "" },
    { "host lost", 1, HG_STOP_HOST_LOST,
      { BASE, .lost_host = "nsc2", .lost_how = "no word from ranks 4-6 (language) for 10 s",
        .exited = 4 },
      HG_STOP_HOST_LOST, HG_EXIT_LOST, 1, -1,
      "host nsc2 lost: no word from ranks 4-6 (language) for 10 s" },
    { "operator", 1, HG_STOP_OPERATOR, { BASE, .operator_signal = SIGTERM, .launcher_code = 143 },
      HG_STOP_OPERATOR, 143, 0, -1, "stopped by Terminated" },
    { "deadline by the backstop", 1, HG_STOP_DEADLINE,
      { BASE, .decision = -1, .ready = 3, .deadline_s = 1, .launcher_code = 137 },
      HG_STOP_DEADLINE, HG_EXIT_DEADLINE, 1, -1,
      "readiness deadline of 1 s passed with 3/8 ranks ready" },
    { "deadline said by an agent, mpirun crashed", 0, 0,
      { BASE, .decision = -1, .ready = 0, .deadline_s = 1, .launcher_code = 139,
        .deadline_reports = 2 },
      HG_STOP_DEADLINE, HG_EXIT_DEADLINE, 1, -1,
      "readiness deadline of 1 s passed with 0/8 ranks ready" },
    { "deadline from the agents' status", 0, 0,
      { BASE, .decision = -1, .ready = 6, .launcher_code = 124 },
      HG_STOP_DEADLINE, HG_EXIT_DEADLINE, 1, -1,
      "readiness deadline of 120 s passed with 6/8 ranks ready" },
    { "usage error from the agents", 0, 0, { BASE, .decision = -1, .ready = 0, .launcher_code = 2 },
      HG_STOP_USAGE, HG_EXIT_USAGE, 0, -1, "pre-flight failed with 0/8 ranks ready" },
    { "pre-flight failure", 0, 0,
      { BASE, .decision = 0, .ready = 7, .launcher_code = 3, .first_rank = 2, .first_code = 3,
        .first_module = "vision" },
      HG_STOP_PREFLIGHT, HG_EXIT_PREFLIGHT, 1, 2,
      "pre-flight failed with 7/8 ranks ready: rank 2 (vision) was the first to fail, exit status 3" },
    { "stall", 1, HG_STOP_STALL, { BASE, .launcher_code = 143 }, HG_STOP_STALL, HG_EXIT_STALLED,
      1, -1, "ranks stalled: no heartbeat for 30 s" },
};

START_TEST(verdict_table)
{
    const row *r = &rows[_i];
    hg_jobstate j;
    hg_verdict v;
    hg_jobstate_init(&j);
    if (r->stopped)
        hg_jobstate_stop(&j, r->stop, 1.0);
    hg_jobstate_move(&j, HG_JOB_ENDED);
    hg_job_verdict(&j, &r->f, &v);
    ck_assert_msg(v.stop == r->want_stop, "%s: stop %s, want %s", r->name, hg_stop_name(v.stop),
                  hg_stop_name(r->want_stop));
    ck_assert_msg(v.status == r->want_status, "%s: status %d, want %d", r->name, v.status,
                  r->want_status);
    ck_assert_msg(v.restartable == r->want_restart, "%s: restartable %d", r->name, v.restartable);
    ck_assert_msg(v.blame_rank == r->want_blame, "%s: blame %d", r->name, v.blame_rank);
    ck_assert_msg(strcmp(v.why, r->want_why) == 0, "%s: why '%s', want '%s'", r->name, v.why,
                  r->want_why);
}
END_TEST

/* The closing lines of a few rows, exactly. */
START_TEST(closing_lines)
{
    static const struct { int row; const char *line; } want[] = {
        { 0, "" },
        { 1, "hgrid: the job could not be started: cannot run 'mpirun': No such file or directory\n" },
        { 4, "hgrid: workload failed: rank 5 (language) was the first to fail, exit status 6; job "
             "exit status 6\n" },
        { 7, "hgrid: the job ended: ranks 5-7 ended with no exit status from their program; exit "
             "status 7\n" },
        { 10, "hgrid: the job ended: host nsc2 lost: no word from ranks 4-6 (language) for 10 s; "
              "exit status 7\n" },
        { 11, "" },
        { 12, "hgrid: readiness deadline of 1 s passed with 3/8 ranks ready; the job ended\n" },
        { 16, "hgrid: the job failed before every rank was ready (7/8): rank 2 (vision) was the "
              "first to fail, exit status 3; exit status 3\n" },
        { 17, "hgrid: the job ended: ranks stalled: no heartbeat for 30 s; exit status 5\n" },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const row *r = &rows[want[i].row];
        hg_jobstate j;
        hg_verdict v;
        char line[1024];
        hg_jobstate_init(&j);
        if (r->stopped)
            hg_jobstate_stop(&j, r->stop, 1.0);
        hg_job_verdict(&j, &r->f, &v);
        hg_job_closing_line(&v, &r->f, line, sizeof(line));
        ck_assert_msg(strcmp(line, want[i].line) == 0, "%s: '%s'", r->name, line);
    }
}
END_TEST

START_TEST(restartable_reasons)
{
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_NONE), 0);
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_OPERATOR), 0);
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_USAGE), 0);
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_NOT_STARTED), 0);
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_HOST_LOST), 1);
    ck_assert_int_eq(hg_stop_restartable(HG_STOP_RANK_LOST), 1);
    ck_assert_str_eq(hg_stop_name(HG_STOP_HOST_LOST), "host_lost");
    ck_assert_str_eq(hg_job_state_name(HG_JOB_PREFLIGHT), "pre-flight");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobstate");
    TCase *tc = tcase_create("machine");
    tcase_add_test(tc, states_only_go_forward);
    tcase_add_test(tc, a_stopping_attempt_only_ends);
    tcase_add_test(tc, the_first_stop_reason_wins);
    tcase_add_loop_test(tc, verdict_table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, closing_lines);
    tcase_add_test(tc, restartable_reasons);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
