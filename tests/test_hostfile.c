/* Check suite for launcher/hostfile.h: Open MPI hostfiles and SLURM node lists read into
 * hosts with slots, hosts left out (short and qualified names alike), what is written
 * back for mpirun and srun --exclude, and the failures of an attempt that leave a host
 * out. */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostfile.h"
#include "testutil.h"

static char *describe(const hg_hostfile *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hg_hostfile_describe(h, f);
    fclose(f);
    return buf;
}

START_TEST(hostfile_lines_slots_and_write_back)
{
    char path[] = "/tmp/hgrid-hostfile-test-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "# rack 1\nn0 slots=4 max_slots=8\n\nn1.cluster slots=4  # comment\nn2\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    hg_hostfile *h;
    hg_error err;
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), 0);
    ck_assert_int_eq(hg_hostfile_slots(h), 9);
    ck_assert_int_eq(hg_hostfile_exclude(h, "n1", "rank 5 killed by signal 9"), 1);
    ck_assert_int_eq(hg_hostfile_exclude(h, "n1", "again"), 0);
    ck_assert_int_eq(hg_hostfile_exclude(h, "n7", "unknown"), 0);
    ck_assert_int_eq(hg_hostfile_slots(h), 5);
    char *d = describe(h);
    ck_assert_str_eq(d, "n0, n2; left out: n1.cluster (rank 5 killed by signal 9)");
    free(d);
    ck_assert_int_eq(hg_hostfile_write(h, 0, path), 0);
    FILE *f = fopen(path, "r");
    char got[256] = "";
    size_t n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    got[n] = '\0';
    ck_assert_str_eq(got, "n0 slots=4 max_slots=8\nn2\n");
    char excluded[64];
    hg_hostfile_excluded(h, excluded, sizeof(excluded));
    ck_assert_str_eq(excluded, "n1.cluster");
    hg_hostfile_free(h);
    unlink(path);
}
END_TEST

/* Entries and reported hosts compared by what they are: case, an address of this
 * machine against its own name, a lost host's name; never another host. */
START_TEST(hosts_match_by_what_they_are)
{
    char path[] = "/tmp/hgrid-hostfile-test-XXXXXX", self[256] = "";
    int fd = mkstemp(path);
    const char text[] = "127.0.0.1 slots=8\nNODE7 slots=4\nnode8 slots=4\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    hg_hostfile *h;
    hg_error err;
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), 0);
    ck_assert_int_eq(gethostname(self, sizeof(self) - 1), 0);
    ck_assert_int_eq(hg_hostfile_exclude(h, "node7.cluster", "rank 5 killed by signal 9"), 1);
    ck_assert_int_eq(hg_hostfile_exclude(h, "Node8", "host lost"), 1);
    ck_assert_int_eq(hg_hostfile_slots(h), 8);
    /* The ranks on this machine report its name; the entry says 127.0.0.1. */
    ck_assert_int_eq(hg_hostfile_exclude(h, self, "rank 0 killed by signal 9"), 1);
    ck_assert_int_eq(hg_hostfile_slots(h), 0);
    hg_hostfile_free(h);
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), 0);
    ck_assert_int_eq(hg_hostfile_exclude(h, "node9", "unknown"), 0);
    ck_assert_int_eq(hg_hostfile_slots(h), 16);
    hg_hostfile_free(h);
    unlink(path);
}
END_TEST

START_TEST(hostfile_bad_line_named)
{
    char path[] = "/tmp/hgrid-hostfile-test-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "n0 slots=4\nn1 slots=x\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    hg_hostfile *h = (hg_hostfile *)0x1;
    hg_error err;
    ck_assert_int_eq(hg_hostfile_read(path, &h, &err), HG_EINVAL);
    ck_assert_ptr_null(h);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: not a hostfile line", path);
    ck_assert_str_eq(err.msg, want);
    unlink(path);
    ck_assert_int_eq(hg_hostfile_read("/nonexistent/hosts", &h, &err), HG_EIO);
}
END_TEST

START_TEST(slurm_node_lists_expand)
{
    hg_hostfile *h;
    hg_error err;
    ck_assert_int_eq(hg_hostfile_from_nodelist("gpu[01-03,7],cpu9,a[2]-ib", 8, &h, &err), 0);
    ck_assert_int_eq(hg_hostfile_slots(h), 48);
    char *d = describe(h);
    ck_assert_str_eq(d, "gpu01, gpu02, gpu03, gpu7, cpu9, a2-ib");
    free(d);
    hg_hostfile_exclude(h, "gpu02.example.org", "rank 9 failed pre-flight in phase gpu");
    char excluded[64];
    hg_hostfile_excluded(h, excluded, sizeof(excluded));
    ck_assert_str_eq(excluded, "gpu02");
    hg_hostfile_free(h);
    ck_assert_int_eq(hg_hostfile_from_nodelist("n[3-1]", 1, &h, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "cannot read the SLURM node list 'n[3-1]' (at 'n[3-1]')");
    ck_assert_int_eq(hg_hostfile_from_nodelist("", 1, &h, &err), HG_EINVAL);
    ck_assert_str_eq(err.msg, "the SLURM node list is empty");
}
END_TEST

START_TEST(failures_that_leave_a_host_out)
{
    char path[] = "/tmp/hgrid-report-test-XXXXXX";
    int fd = mkstemp(path);
    const char report[] = "{\"hgrid_ready\": 1, \"ranks\": ["
                          "{\"rank\": 1, \"status\": \"failed\", \"phase\": \"gpu\", \"host\": \"n1\"},"
                          "{\"rank\": 2, \"status\": \"failed\", \"phase\": \"bootstrap\", \"host\": \"n2\"},"
                          "{\"rank\": 3, \"status\": \"skipped\", \"phase\": \"verify\", \"host\": \"n3\"}]}";
    ck_assert_int_eq(write(fd, report, sizeof(report) - 1), (int)sizeof(report) - 1);
    close(fd);
    hg_hostfile *h;
    hg_error err;
    ck_assert_int_eq(hg_hostfile_from_nodelist("n[0-4]", 2, &h, &err), 0);
    hg_attempt a = { .failed_rank = 7, .failed_signal = 9 };
    snprintf(a.failed_host, sizeof(a.failed_host), "n4");
    ck_assert_int_eq(hg_hostfile_exclude_failures(h, path, &a), 2);
    char *d = describe(h);
    ck_assert_str_eq(d, "n0, n2, n3; left out: n1 (rank 1 failed pre-flight in phase gpu), "
                        "n4 (rank 7 killed by signal 9)");
    free(d);
    hg_hostfile_free(h);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostfile");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hostfile_lines_slots_and_write_back);
    tcase_add_test(tc, hosts_match_by_what_they_are);
    tcase_add_test(tc, hostfile_bad_line_named);
    tcase_add_test(tc, slurm_node_lists_expand);
    tcase_add_test(tc, failures_that_leave_a_host_out);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
