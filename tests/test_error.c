/* Error codes (include/hgrid/base.h's HG_ERRORS) and hg_error (common/util/error.c): every
 * code keeps its value (public ABI) and its message, and hg_error_set fills a record. */
#include <check.h>
#include <string.h>

#include "util/error.h"
#include "testutil.h"

START_TEST(codes_and_messages)
{
    static const struct {
        int code, value;
        const char *msg;
    } want[] = {
        { HG_OK, 0, "success" },
        { HG_EINVAL, -1, "invalid argument" },
        { HG_ENOMEM, -2, "out of memory" },
        { HG_EIO, -3, "I/O error" },
        { HG_ECONFIG, -4, "invalid grid description" },
        { HG_EMPI, -5, "MPI error" },
        { HG_ECUDA, -6, "CUDA error" },
        { HG_ENCCL, -7, "NCCL error" },
        { HG_EVERIFY, -8, "verification failed" },
        { HG_ETIMEDOUT, -9, "timed out" },
        { HG_ESYS, -10, "system call failed" },
        { HG_EPEER, -11, "another rank failed" },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_eq(want[i].code, want[i].value);
        ck_assert_str_eq(hg_strerror(want[i].code), want[i].msg);
    }
    ck_assert_str_eq(hg_strerror(-12), "unknown error");
    ck_assert_str_eq(hg_strerror(1), "unknown error");
}
END_TEST

START_TEST(error_set)
{
    hg_error e;
    memset(&e, 'x', sizeof(e));
    ck_assert_int_eq(hg_error_set(&e, HG_EIO, "cannot read %s: %d", "f", 3), HG_EIO);
    ck_assert_int_eq(e.code, HG_EIO);
    ck_assert_str_eq(e.msg, "cannot read f: 3");
    ck_assert_str_eq(e.file, "");
    ck_assert_int_eq(e.line, 0);
    ck_assert_int_eq(e.col, 0);
    ck_assert_int_eq(hg_error_set(NULL, HG_EPEER, "ignored"), HG_EPEER);
    hg_error_clear(&e);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(e.msg, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("error");
    tcase_add_test(tc, codes_and_messages);
    tcase_add_test(tc, error_set);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
