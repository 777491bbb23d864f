/* Check suite for launcher/probe.h and hg_hostfile_probe: hosts probed through the rsh
 * agent Open MPI would use (a fake "ssh" here, named by OMPI_MCA_plm_rsh_agent), all at
 * once, the dead ones left out of the attempt with a line and spares used in order. */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "hostfile.h"
#include "probe.h"
#include "testutil.h"

static char dir[64];

static void new_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hgrid-probe-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* A fake ssh: "up*" answers, "slow*" never does, any other host is unreachable; each
 * call is noted in DIR/calls. */
static void fake_agent(void)
{
    char path[256];
    new_dir();
    snprintf(path, sizeof(path), "%s/ssh", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\necho \"$1 $2\" >>%s/calls\n"
               "case \"$1\" in up*) exit 0;; slow*) exec sleep 30;; esac\n"
               "echo \"ssh: connect to host $1 port 22: No route to host\" >&2\nexit 255\n", dir);
    fclose(f);
    chmod(path, 0755);
    ck_assert_int_eq(setenv("OMPI_MCA_plm_rsh_agent", path, 1), 0);
}

static char *slurp(const char *name)
{
    char path[256], *buf = calloc(1, 4096);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, 4095, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static void cleanup(void)
{
    char path[256];
    const char *names[] = { "ssh", "calls", "hosts", "out", NULL };
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

START_TEST(probe_in_parallel_with_a_timeout)
{
    const char *hosts[] = { "up1", "down2", "slow3", "slow4" };
    int ok[4];
    char why[4][HG_PROBE_WHY_MAX];
    fake_agent();
    double t0 = hg_now();
    ck_assert_int_eq(hg_probe_hosts(hosts, 4, 1.0, ok, why), 0);
    double took = hg_now() - t0;
    ck_assert_int_eq(ok[0], 1);
    ck_assert_str_eq(why[0], "");
    ck_assert_int_eq(ok[1], 0);
    ck_assert_str_eq(why[1], "ssh exit 255: ssh: connect to host down2 port 22: No route to host");
    ck_assert_int_eq(ok[2], 0);
    ck_assert_str_eq(why[2], "no answer from ssh in 1 s");
    ck_assert_int_eq(ok[3], 0);
    /* Two slow hosts cost one timeout, not two. */
    ck_assert(took >= 1.0 && took < 1.9);
    /* The agent is run as mpirun runs it: HOST then the command. */
    char *calls = slurp("calls");
    ck_assert_ptr_nonnull(strstr(calls, "up1 true\n"));
    free(calls);
    cleanup();
}
END_TEST

START_TEST(no_agent_to_run)
{
    const char *hosts[] = { "up1" };
    int ok[1] = { 7 };
    char why[1][HG_PROBE_WHY_MAX];
    setenv("OMPI_MCA_plm_rsh_agent", "/nonexistent/ssh -x : /nonexistent/rsh", 1);
    ck_assert_int_eq(hg_probe_hosts(hosts, 1, 1.0, ok, why), -1);
    ck_assert_int_eq(ok[0], 7);
    ck_assert_str_eq(why[0], "no rsh agent to reach the hosts with (/nonexistent/ssh -x : "
                             "/nonexistent/rsh)");
}
END_TEST

/* A dead host among those needed: left out with a line, the first spare in its place;
 * a dead spare beyond what the layout needs is never probed, nor written for mpirun. */
START_TEST(dead_hosts_left_out_spares_in_order)
{
    char path[256], *text;
    hg_hostfile *h;
    hg_error err;
    fake_agent();
    snprintf(path, sizeof(path), "%s/hosts", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "up1 slots=4\ndown2 slots=4 max_slots=8\nup3 slots=4\ndown4 slots=4\n");
    fclose(f);
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), 0);
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    ck_assert_int_eq(hg_hostfile_probe(h, 8, 2.0, 1, o), 1);
    fclose(o);
    ck_assert_str_eq(out, "hgrid: host down2 unreachable (ssh exit 255: ssh: connect to host "
                          "down2 port 22: No route to host); left out of attempt 1\n");
    free(out);
    ck_assert_int_eq(hg_hostfile_slots(h), 12);
    ck_assert_int_eq(hg_hostfile_uses_all(h, 8), 0);
    ck_assert_int_eq(hg_hostfile_write(h, 8, path), 0);
    text = slurp("hosts");
    ck_assert_str_eq(text, "up1 slots=4\nup3 slots=4\n");
    free(text);
    text = slurp("calls");
    ck_assert_ptr_null(strstr(text, "down4"));
    free(text);
    /* The next attempt probes again: a host down once is not out for good. */
    o = open_memstream(&out, &len);
    ck_assert_int_eq(hg_hostfile_probe(h, 4, 2.0, 2, o), 0);
    fclose(o);
    ck_assert_str_eq(out, "");
    free(out);
    ck_assert_int_eq(hg_hostfile_slots(h), 16);
    hg_hostfile_free(h);
    cleanup();
}
END_TEST

/* Every host needed and answering: the user's hostfile is used as written. */
START_TEST(all_hosts_up_and_needed)
{
    char path[256];
    hg_hostfile *h;
    hg_error err;
    fake_agent();
    snprintf(path, sizeof(path), "%s/hosts", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "up1 slots=4\nup2 slots=4\n");
    fclose(f);
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), 0);
    FILE *o = fopen("/dev/null", "w");
    ck_assert_int_eq(hg_hostfile_probe(h, 8, 2.0, 0, o), 0);
    fclose(o);
    ck_assert_int_eq(hg_hostfile_uses_all(h, 8), 1);
    ck_assert_int_eq(hg_hostfile_uses_all(h, 4), 0);
    hg_hostfile_free(h);
    cleanup();
}
END_TEST

/* Under SLURM: sinfo's states; not responding ('*'), down, drained or failing are not up. */
START_TEST(slurm_nodes_not_up)
{
    char path[8192], oldpath[4096];
    const char *nodes[] = { "n1", "n2", "n3", "n4", "n5" };
    int ok[5];
    char why[5][HG_PROBE_WHY_MAX];
    new_dir();
    snprintf(path, sizeof(path), "%s/sinfo", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n[ \"$*\" = '-h -N -n n1,n2,n3,n4,n5 -o %%N %%t' ] || exit 1\n"
               "printf 'n1 mix\\nn2 down*\\nn3 idle*\\nn4 alloc\\nn5 drain\\n'\n");
    fclose(f);
    chmod(path, 0755);
    snprintf(oldpath, sizeof(oldpath), "%s", getenv("PATH"));
    snprintf(path, sizeof(path), "%s:%s", dir, oldpath);
    setenv("PATH", path, 1);
    ck_assert_int_eq(hg_probe_slurm_nodes(nodes, 5, 5.0, ok, why), 0);
    setenv("PATH", oldpath, 1);
    ck_assert_int_eq(ok[0], 1);
    ck_assert_int_eq(ok[1], 0);
    ck_assert_str_eq(why[1], "sinfo: down*");
    ck_assert_int_eq(ok[2], 0);
    ck_assert_str_eq(why[2], "sinfo: idle*");
    ck_assert_int_eq(ok[3], 1);
    ck_assert_int_eq(ok[4], 0);
    snprintf(path, sizeof(path), "%s/sinfo", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, probe_in_parallel_with_a_timeout);
    tcase_add_test(tc, no_agent_to_run);
    tcase_add_test(tc, dead_hosts_left_out_spares_in_order);
    tcase_add_test(tc, all_hosts_up_and_needed);
    tcase_add_test(tc, slurm_nodes_not_up);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
