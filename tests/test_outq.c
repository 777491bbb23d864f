/* Check suite for launcher/outq.h: nothing lost or reordered, with a reader that takes
 * bytes slowly, and with a spill file once memory is over its bound. */
#include <check.h>

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/outq.h"
#include "testutil.h"

/* Writes everything queued to a pipe, reading the other end, and returns the bytes. */
static char *drain_through_pipe(hg_outq **qp, int fds[2], size_t *got)
{
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    hg_outq *q = *qp;
    while (hg_outq_pending(q) > 0) {
        hg_outq_write_some(q);
        for (;;) {
            char buf[65536];
            ssize_t n = read(fds[0], buf, sizeof(buf));
            if (n <= 0)
                break;
            if (len + (size_t)n > cap)
                out = realloc(out, cap *= 2);
            memcpy(out + len, buf, (size_t)n);
            len += (size_t)n;
        }
    }
    *got = len;
    return out;
}

START_TEST(spill_keeps_every_byte_in_order)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK), 0);
    hg_outq *q = hg_outq_new(fds[1]);
    hg_outq_set_spill(q, "/tmp", 100000);
    /* 3 MB in records of varied sizes, each marked with its number. */
    size_t total = 0, cap = 4 << 20;
    char *want = malloc(cap);
    for (int i = 0; total < (3u << 20); i++) {
        char rec[7000];
        size_t n = (size_t)snprintf(rec, sizeof(rec), "%d:", i);
        size_t body = (size_t)(i * 37 % 6000);
        memset(rec + n, 'a' + i % 26, body);
        rec[n + body] = '\n';
        n += body + 1;
        ck_assert_int_eq(hg_outq_put(q, rec, n), 0);
        memcpy(want + total, rec, n);
        total += n;
    }
    ck_assert_uint_gt(hg_outq_spilled(q), 2u << 20);
    ck_assert_uint_eq(hg_outq_pending(q), total);
    size_t got;
    char *out = drain_through_pipe(&q, fds, &got);
    ck_assert_uint_eq(got, total);
    ck_assert_mem_eq(out, want, total);
    ck_assert_uint_eq(hg_outq_spilled(q), 0);
    /* After the file drained, memory takes new bytes again. */
    ck_assert_int_eq(hg_outq_put(q, "tail\n", 5), 0);
    ck_assert_uint_eq(hg_outq_spilled(q), 0);
    free(out);
    free(want);
    hg_outq_free(q);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(without_spill_memory_holds_all)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK), 0);
    hg_outq *q = hg_outq_new(fds[1]);
    char block[4096];
    memset(block, 'z', sizeof(block));
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(hg_outq_put(q, block, sizeof(block)), 0);
    ck_assert_uint_eq(hg_outq_spilled(q), 0);
    ck_assert_uint_eq(hg_outq_pending(q), 1000 * sizeof(block));
    size_t got;
    char *out = drain_through_pipe(&q, fds, &got);
    ck_assert_uint_eq(got, 1000 * sizeof(block));
    free(out);
    hg_outq_free(q);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

/* issue 23 B.4: stdout and stderr on one pipe. Records of 10,000 bytes (over PIPE_BUF)
 * put alternately into the two queues and written as poll would let them: each arrives
 * whole, in the order put. */
START_TEST(pair_on_one_pipe_keeps_records_whole)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK), 0);
    int err_fd = dup(fds[1]);
    hg_outq *out, *err;
    ck_assert_int_eq(hg_outq_pair(fds[1], err_fd, &out, &err), 0);
    ck_assert(hg_outq_same(out, err));
    size_t rec = 10000, total = 0;
    char *want = malloc(200 * rec);
    for (int i = 0; i < 200; i++) {
        char *r = want + total;
        memset(r, i % 2 ? 'e' : 'o', rec - 1);
        snprintf(r, 12, "%s-%04d-", i % 2 ? "ERR" : "OUT", i);
        r[10] = i % 2 ? 'e' : 'o';
        r[rec - 1] = '\n';
        ck_assert_int_eq(hg_outq_put(i % 2 ? err : out, r, rec), 0);
        total += rec;
    }
    size_t len = 0;
    char *got = malloc(total + 1);
    while (hg_outq_pending(out) + hg_outq_pending(err) > 0) {
        hg_outq_write_some(out);
        hg_outq_write_some(err);
        ssize_t n;
        while ((n = read(fds[0], got + len, total - len)) > 0)
            len += (size_t)n;
    }
    ck_assert_uint_eq(len, total);
    ck_assert(memcmp(got, want, total) == 0);
    free(got);
    free(want);
    hg_outq_free(err);
    hg_outq_free(out);
    close(fds[0]);
    close(fds[1]);
    close(err_fd);
}
END_TEST

/* Different destinations stay two queues. */
START_TEST(pair_on_two_pipes_is_two_queues)
{
    int a[2], b[2];
    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(pipe(b), 0);
    hg_outq *out, *err;
    ck_assert_int_eq(hg_outq_pair(a[1], b[1], &out, &err), 0);
    ck_assert(!hg_outq_same(out, err));
    hg_outq_put(err, "e\n", 2);
    ck_assert_uint_eq(hg_outq_pending(out), 0);
    ck_assert_uint_eq(hg_outq_pending(err), 2);
    hg_outq_free(err);
    hg_outq_free(out);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, spill_keeps_every_byte_in_order);
    tcase_add_test(tc, without_spill_memory_holds_all);
    tcase_add_test(tc, pair_on_one_pipe_keeps_records_whole);
    tcase_add_test(tc, pair_on_two_pipes_is_two_queues);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
