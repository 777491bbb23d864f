/* Rank lists (common/util/ranklist.c): runs, single ranks, the cut past
 * HG_RANKLIST_MAX_RUNS, and truncation to the buffer. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "util/ranklist.h"
#include "testutil.h"

START_TEST(runs_and_singles)
{
    int r[] = { 0, 1, 2, 3, 5, 7, 8 };
    char buf[64];
    ck_assert_str_eq(hg_ranklist_format(r, 7, buf, sizeof(buf)), "0-3, 5, 7-8");
    ck_assert_str_eq(hg_ranklist_format(r, 1, buf, sizeof(buf)), "0");
    ck_assert_str_eq(hg_ranklist_format(r, 0, buf, sizeof(buf)), "");
}
END_TEST

START_TEST(many_runs_end_in_dots)
{
    int r[40];
    char buf[512], want[512];
    size_t used = 0;
    for (int i = 0; i < 40; i++)
        r[i] = 2 * i; /* 40 runs of one */
    for (int i = 0; i < HG_RANKLIST_MAX_RUNS; i++)
        used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%d", i ? ", " : "", 2 * i);
    snprintf(want + used, sizeof(want) - used, ", ...");
    ck_assert_str_eq(hg_ranklist_format(r, 40, buf, sizeof(buf)), want);
}
END_TEST

START_TEST(small_buffer_truncates)
{
    int r[] = { 100, 200, 300 };
    char buf[8];
    ck_assert_str_eq(hg_ranklist_format(r, 3, buf, sizeof(buf)), "100, 20");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ranklist");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, runs_and_singles);
    tcase_add_test(tc, many_runs_end_in_dots);
    tcase_add_test(tc, small_buffer_truncates);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
