/* Check suite for common/util/intparse.c: integers from command lines and the environment. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>

#include "util/intparse.h"
#include "testutil.h"

START_TEST(accepts_plain_integers_in_range)
{
    int v = -7;
    ck_assert_int_eq(hg_int_parse("0", 0, 10, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(hg_int_parse("10", 0, 10, &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(hg_int_parse("+3", 0, 10, &v), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(hg_int_parse("-3", -5, 10, &v), 0);
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(hg_int_parse("2147483647", 0, INT_MAX, &v), 0);
    ck_assert_int_eq(v, INT_MAX);
}
END_TEST

START_TEST(refuses_everything_else)
{
    static const char *const bad[] = { "", " 1", "1 ", "1x", "0x10", "+", "-", "+-1", "1.0",
                                       "11", "-1", "99999999999999999999", "2147483648" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int v = 42;
        ck_assert_msg(hg_int_parse(bad[i], 0, 10, &v) == -1, "'%s' taken", bad[i]);
        ck_assert_int_eq(v, 42);
    }
    int v = 42;
    ck_assert_int_eq(hg_int_parse(NULL, 0, 10, &v), -1);
    ck_assert_int_eq(hg_int_parse("2147483648", 0, INT_MAX, &v), -1);
    ck_assert_int_eq(v, 42);
}
END_TEST

START_TEST(env_values)
{
    unsetenv("HG_TEST_INTPARSE");
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 100), -1);
    setenv("HG_TEST_INTPARSE", "", 1);
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 100), -1);
    setenv("HG_TEST_INTPARSE", "7", 1);
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 100), 7);
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 6), -1);
    setenv("HG_TEST_INTPARSE", "-1", 1);
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 100), -1);
    setenv("HG_TEST_INTPARSE", "3rd", 1);
    ck_assert_int_eq(hg_int_env("HG_TEST_INTPARSE", 100), -1);
    unsetenv("HG_TEST_INTPARSE");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("intparse");
    TCase *tc = tcase_create("intparse");
    tcase_add_test(tc, accepts_plain_integers_in_range);
    tcase_add_test(tc, refuses_everything_else);
    tcase_add_test(tc, env_values);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
