/* The launcher's wait (launcher/evloop.c): it sleeps until a descriptor is ready or the
 * due time, never less (no early wake-up that would spin) and never at a fixed interval;
 * sources are filled and served in order, each with its own descriptors. */
#include <check.h>
#include <unistd.h>

#include "util/clock.h"
#include "stream/evloop.h"
#include "testutil.h"

typedef struct pipe_src {
    int fd;
    int served, ready;
    char got;
} pipe_src;

static int one(void *arg)
{
    (void)arg;
    return 1;
}

static int fill_pipe(void *arg, struct pollfd *fds)
{
    pipe_src *p = arg;
    fds[0] = (struct pollfd){ p->fd, POLLIN, 0 };
    return 1;
}

static void serve_pipe(void *arg, const struct pollfd *fds, int n, double now)
{
    pipe_src *p = arg;
    (void)now;
    p->served++;
    if (n == 1 && (fds[0].revents & POLLIN) && read(p->fd, &p->got, 1) == 1)
        p->ready++;
}

START_TEST(sleeps_until_the_due_time_not_before)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pipe_src p = { fds[0], 0, 0, 0 };
    hg_evloop *l = hg_evloop_new();
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(hg_evloop_add(l, &(hg_evsource){ one, fill_pipe, serve_pipe, &p }), 0);
    double t0 = hg_now(), due = t0 + 0.3;
    while (hg_now() < due)
        ck_assert_int_eq(hg_evloop_once(l, due), 0);
    /* One wait, not one per 100 ms: the loop woke exactly when it was due. */
    ck_assert_uint_eq(hg_evloop_wakeups(l), 1);
    ck_assert_uint_eq(hg_evloop_timeouts(l), 1);
    ck_assert(hg_now() - t0 >= 0.3);
    ck_assert_int_eq(p.served, 1);
    ck_assert_int_eq(p.ready, 0);
    hg_evloop_free(l);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(a_ready_descriptor_ends_the_wait)
{
    int a[2], b[2];
    ck_assert_int_eq(pipe(a), 0);
    ck_assert_int_eq(pipe(b), 0);
    pipe_src pa = { a[0], 0, 0, 0 }, pb = { b[0], 0, 0, 0 };
    hg_evloop *l = hg_evloop_new();
    hg_evloop_add(l, &(hg_evsource){ one, fill_pipe, serve_pipe, &pa });
    hg_evloop_add(l, &(hg_evsource){ one, fill_pipe, serve_pipe, &pb });
    ck_assert_int_eq(write(b[1], "x", 1), 1);
    double t0 = hg_now();
    /* No due time at all: only the descriptor can end it. */
    ck_assert_int_eq(hg_evloop_once(l, -1), 0);
    ck_assert(hg_now() - t0 < 1.0);
    ck_assert_int_eq(pa.ready, 0);
    ck_assert_int_eq(pb.ready, 1);
    ck_assert_int_eq(pb.got, 'x');
    ck_assert_int_eq(pa.served + pb.served, 2);
    ck_assert_uint_eq(hg_evloop_timeouts(l), 0);
    hg_evloop_free(l);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}
END_TEST

START_TEST(due_min)
{
    ck_assert(hg_due_min(-1, -1) < 0);
    ck_assert(hg_due_min(-1, 2.0) == 2.0);
    ck_assert(hg_due_min(3.0, -1) == 3.0);
    ck_assert(hg_due_min(3.0, 2.0) == 2.0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evloop");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, sleeps_until_the_due_time_not_before);
    tcase_add_test(tc, a_ready_descriptor_ends_the_wait);
    tcase_add_test(tc, due_min);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
