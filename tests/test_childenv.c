/* Check suite for launcher/childenv.c, the environment a launch gives mpirun or srun,
 * and for what the launcher puts there: a job's names go to the array, never into the
 * launcher's own environment (jobdir.c, restart.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "childenv.h"
#include "jobdir.h"
#include "testutil.h"
#include "wire/protocol.h"

START_TEST(set_replaces_in_place_or_appends)
{
    char *from[] = { "A=1", "HGRID_X=old", "B=", NULL };
    hg_childenv e;
    hg_childenv_copy(&e, from);
    ck_assert_int_eq(e.failed, 0);
    ck_assert_uint_eq(e.n, 3);
    ck_assert_str_eq(hg_childenv_get(&e, "HGRID_X"), "old");
    ck_assert_str_eq(hg_childenv_get(&e, "B"), "");
    ck_assert_ptr_null(hg_childenv_get(&e, "HGRID"));
    ck_assert_ptr_null(hg_childenv_get(&e, "C"));
    hg_childenv_set(&e, "HGRID_X", "new", 1);
    hg_childenv_set(&e, "A", "kept", 0);
    hg_childenv_set(&e, "C", "3", 0);
    hg_childenv_set(&e, "D", "a=b", 1);
    ck_assert_uint_eq(e.n, 5);
    ck_assert_str_eq(e.v[0], "A=1");
    ck_assert_str_eq(e.v[1], "HGRID_X=new");
    ck_assert_str_eq(e.v[2], "B=");
    ck_assert_str_eq(e.v[3], "C=3");
    ck_assert_str_eq(e.v[4], "D=a=b");
    ck_assert_ptr_null(e.v[5]);
    ck_assert_str_eq(from[1], "HGRID_X=old"); /* a copy */
    hg_childenv_free(&e);
    hg_childenv_copy(&e, NULL);
    ck_assert_ptr_nonnull(e.v);
    ck_assert_ptr_null(e.v[0]);
    hg_childenv_free(&e);
}
END_TEST

/* The token and the plan directory are the attempt's, given to its mpirun; the
 * launcher reads them from hg_jobdir, not back from its environment. (HGRID_IO is
 * still set here by hg_iochan_listen, which tests/test_iochan.c reads.) */
START_TEST(jobdir_prepare_leaves_this_environment_alone)
{
    unsetenv(HG_ENV_STATUS_TOKEN);
    unsetenv(HG_ENV_PLAN_DIR);
    hg_cli cli;
    memset(&cli, 0, sizeof(cli));
    hg_jobdir f = { 0 };
    ck_assert_int_eq(hg_jobdir_prepare(&cli, 2, "/dev/null", NULL, 0, &f), 0);
    ck_assert_ptr_null(getenv(HG_ENV_STATUS_TOKEN));
    ck_assert_ptr_null(getenv(HG_ENV_PLAN_DIR));
    hg_jobdir_free(&f);
}
END_TEST

START_TEST(jobdir_env_names_the_attempt)
{
    char *from[] = { "HGRID_STATUS_TOKEN=stale", "PATH=/bin", NULL };
    hg_cli cli;
    memset(&cli, 0, sizeof(cli));
    hg_jobdir f = { 0 };
    ck_assert_int_eq(hg_jobdir_prepare(&cli, 2, "/dev/null", NULL, 0, &f), 0);
    hg_childenv e;
    hg_childenv_copy(&e, from);
    hg_jobdir_env(&f, &e);
    ck_assert_int_eq(e.failed, 0);
    ck_assert_uint_eq(strlen(f.token), HG_STATUS_TOKEN_LEN);
    ck_assert_uint_eq(strspn(f.token, "0123456789abcdef"), HG_STATUS_TOKEN_LEN);
    ck_assert_str_eq(e.v[0] + strlen(HG_ENV_STATUS_TOKEN "="), f.token);
    ck_assert_str_eq(hg_childenv_get(&e, HG_ENV_PLAN_DIR), f.plan_dir);
    const char *io = hg_childenv_get(&e, HG_ENV_IO);
    ck_assert_ptr_nonnull(io);
    ck_assert_str_eq(io, hg_iochan_address(f.io));
    int port = 0, n = 0;
    ck_assert_int_eq(sscanf(io, "%d %*s %*s%n", &port, &n), 1);
    ck_assert_int_gt(port, 0);
    ck_assert_str_eq(e.v[1], "PATH=/bin");
    hg_childenv_free(&e);
    hg_jobdir_free(&f);
}
END_TEST

/* HGRID_RUN_ID: the user's stands; else a fresh version-4 UUID. */
START_TEST(run_id_is_the_users_or_a_uuid)
{
    char id[64];
    setenv(HG_ENV_RUN_ID, "mine", 1);
    hg_jobdir_run_id(id, sizeof(id));
    ck_assert_str_eq(id, "mine");
    unsetenv(HG_ENV_RUN_ID);
    hg_jobdir_run_id(id, sizeof(id));
    ck_assert_uint_eq(strlen(id), 36);
    ck_assert_int_eq(id[14], '4');
    ck_assert_ptr_null(getenv(HG_ENV_RUN_ID));
}
END_TEST

static Suite *childenv_suite(void)
{
    Suite *s = suite_create("childenv");
    TCase *t = tcase_create("core");
    tcase_add_test(t, set_replaces_in_place_or_appends);
    tcase_add_test(t, jobdir_prepare_leaves_this_environment_alone);
    tcase_add_test(t, jobdir_env_names_the_attempt);
    tcase_add_test(t, run_id_is_the_users_or_a_uuid);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite(childenv_suite());
}
