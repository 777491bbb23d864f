/* Check suite for common/wire/protocol.h: the facts launcher and agents share that are
 * formulas (the deadline's grace, watchdog and backstop), the status messages, the
 * backend names (common/grid/config.h) that configs, both command lines and the environment
 * spell, and the one version the programs and the library report. */
#include <check.h>

#include <string.h>

#include "grid/config.h"
#include "hgrid/base.h"
#include "wire/protocol.h"
#include "testutil.h"
#include "util/version.h"

START_TEST(deadline_grace_is_a_tenth_within_1_to_5_s)
{
    ck_assert(hg_deadline_grace_s(HG_TIMEOUT_MIN_S) == 1.0);
    ck_assert(hg_deadline_grace_s(2) == 1.0);
    ck_assert(hg_deadline_grace_s(30) == 3.0);
    ck_assert(hg_deadline_grace_s(HG_TIMEOUT_DEFAULT_S) == 5.0);
    ck_assert(hg_deadline_grace_s(HG_TIMEOUT_MAX_S) == 5.0);
}
END_TEST

START_TEST(coordinator_then_watchdog_then_backstop)
{
    /* T = 2: records until 3 s, watchdog at 4 s, the launcher at 14 s. */
    ck_assert(hg_deadline_watchdog_s(2) == 4.0);
    ck_assert(hg_deadline_backstop_s(2) == 14.0);
    ck_assert(hg_deadline_watchdog_s(30) == 36.0);
    ck_assert(hg_deadline_backstop_s(HG_TIMEOUT_DEFAULT_S) == 140.0);
    for (int t = HG_TIMEOUT_MIN_S; t <= HG_TIMEOUT_MAX_S; t += t < 200 ? 1 : 997) {
        double g = hg_deadline_grace_s(t);
        ck_assert(t + g < hg_deadline_watchdog_s(t));
        ck_assert(hg_deadline_watchdog_s(t) + HG_BACKSTOP_EXTRA_S <= hg_deadline_backstop_s(t));
    }
}
END_TEST

START_TEST(backend_names_both_ways)
{
    hg_backend b = HG_BACKEND_FROM_CONFIG;
    ck_assert_str_eq(hg_backend_name(HG_BACKEND_NCCL), "nccl");
    ck_assert_str_eq(hg_backend_name(HG_BACKEND_MPI), "mpi");
    ck_assert_str_eq(hg_backend_name(HG_BACKEND_FROM_CONFIG), "?");
    ck_assert_int_eq(hg_backend_from_name("mpi", &b), 0);
    ck_assert_int_eq(b, HG_BACKEND_MPI);
    ck_assert_int_eq(hg_backend_from_name("nccl", &b), 0);
    ck_assert_int_eq(b, HG_BACKEND_NCCL);
    ck_assert_int_eq(hg_backend_from_name("gloo", &b), -1);
    ck_assert_int_eq(hg_backend_from_name("MPI", &b), -1);
    ck_assert_int_eq(hg_backend_from_name("", &b), -1);
    ck_assert_int_eq(hg_backend_from_name(NULL, &b), -1);
    ck_assert_int_eq(b, HG_BACKEND_NCCL);
}
END_TEST

START_TEST(status_messages_parse_back)
{
    char line[HG_STATUS_LINE_MAX];
    int n = -1, w = -1, r = -1;
    snprintf(line, sizeof(line), HG_STATUS_READY, 3, 8);
    ck_assert_str_eq(line, "ready 3/8");
    ck_assert_int_eq(sscanf(line, HG_STATUS_READY, &n, &w), 2);
    ck_assert(n == 3 && w == 8);
    snprintf(line, sizeof(line), HG_STATUS_FAILED, 5);
    ck_assert_str_eq(line, "failed rank 5");
    ck_assert_int_eq(sscanf(line, HG_STATUS_FAILED, &r), 1);
    ck_assert_int_eq(r, 5);
}
END_TEST

/* The programs' --version and the library's hg_version_string() say the same. */
START_TEST(one_version)
{
    ck_assert_str_eq(HG_VERSION, HG_VERSION_STRING);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, deadline_grace_is_a_tenth_within_1_to_5_s);
    tcase_add_test(tc, coordinator_then_watchdog_then_backstop);
    tcase_add_test(tc, backend_names_both_ways);
    tcase_add_test(tc, status_messages_parse_back);
    tcase_add_test(tc, one_version);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
