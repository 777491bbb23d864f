/* Check suite for common/stream/iochan.h: a harness that plays the ranks' keepers over real
 * loopback connections and reads what reaches the user's streams, byte for byte. */
#include <check.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "stream/iochan.h"
#include "stream/outq.h"
#include "stream/progress.h"
#include "wire/protocol.h"
#include "wire/record.h"
#include "testutil.h"

#define TOKEN "0123456789abcdef"
#define MAXR 128

typedef struct harness {
    hg_iochan *ch;
    int port;
    int out[2], err[2]; /* pipes behind the queues; [0] is read here */
    hg_outq *out_q, *err_q;
    hg_progress *progress;
    FILE *errf;
    int sock[MAXR];
    char *got[2];
    size_t len[2];
} harness;

static void h_start(harness *h, int world, int label, int shared)
{
    hg_error e;
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < MAXR; i++)
        h->sock[i] = -1;
    ck_assert_int_eq(hg_iochan_listen(&h->ch, world, &e), 0);
    const char *io = getenv(HG_ENV_IO);
    ck_assert_ptr_nonnull(io);
    h->port = atoi(io);
    ck_assert_int_eq(pipe2(h->out, O_NONBLOCK), 0);
    if (shared) {
        h->err[0] = -1;
        h->err[1] = dup(h->out[1]);
    } else {
        ck_assert_int_eq(pipe2(h->err, O_NONBLOCK), 0);
    }
    ck_assert_int_eq(hg_outq_pair(h->out[1], h->err[1], &h->out_q, &h->err_q), 0);
    h->errf = hg_outq_stream(h->err_q);
    h->progress = hg_progress_new(h->errf, world, 0, TOKEN);
    hg_iochan_sinks k = { TOKEN, NULL, label, NULL, h->out_q, h->err_q, h->progress, h->errf };
    hg_iochan_attach(h->ch, &k);
}

static void h_read(harness *h)
{
    for (;;) {
        int more = 0;
        hg_outq_write_some(h->out_q);
        hg_outq_write_some(h->err_q);
        for (int j = 0; j < 2; j++) {
            int fd = j ? h->err[0] : h->out[0];
            char buf[65536];
            ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
            if (n <= 0)
                continue;
            more = 1;
            h->got[j] = realloc(h->got[j], h->len[j] + (size_t)n + 1);
            memcpy(h->got[j] + h->len[j], buf, (size_t)n);
            h->len[j] += (size_t)n;
            h->got[j][h->len[j]] = '\0';
        }
        if (!more && hg_outq_pending(h->out_q) == 0 && hg_outq_pending(h->err_q) == 0)
            return;
    }
}

/* Serves the channel for ms milliseconds, reading the user's streams as it goes. */
static void h_pump(harness *h, int ms)
{
    double end = hg_now() + ms / 1000.0;
    do {
        int n = hg_iochan_nfds(h->ch);
        struct pollfd *fds = calloc((size_t)n, sizeof(*fds));
        n = hg_iochan_pollfds(h->ch, fds, 1);
        poll(fds, (nfds_t)n, 5);
        hg_iochan_serve(h->ch, fds, n, hg_now());
        free(fds);
        h_read(h);
    } while (hg_now() < end);
}

/* One record in one send: with Nagle's algorithm, a header and its payload sent apart
 * wait for the delayed ACK on loopback. */
static void h_send(harness *h, int rank, int type, int stream, unsigned flags, const void *data,
                   size_t n)
{
    char *b = malloc(HG_RECORD_HEADER + n);
    hg_record_header((unsigned char *)b, type, stream, flags, n);
    memcpy(b + HG_RECORD_HEADER, data, n);
    size_t off = 0;
    while (off < HG_RECORD_HEADER + n) {
        ssize_t w = send(h->sock[rank], b + off, HG_RECORD_HEADER + n - off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EAGAIN) {
            h_pump(h, 1);
            continue;
        }
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    free(b);
}

/* Pumps until stream i (0 stdout, 1 stderr) holds n bytes, or 5 s. */
static void h_until(harness *h, int i, size_t n)
{
    for (int k = 0; k < 1000 && h->len[i] < n; k++)
        h_pump(h, 5);
}

static void h_connect(harness *h, int rank)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)h->port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    h->sock[rank] = fd;
    char body[128];
    int n = snprintf(body, sizeof(body), "%s %d %d testhost", TOKEN, rank, 1000 + rank);
    h_send(h, rank, HG_REC_HELLO, 0, 0, body, (size_t)n);
}

/* Connects ranks [from, to) and waits until the channel has them all. */
static void h_connect_range(harness *h, int from, int to)
{
    int want = hg_iochan_connected(h->ch) + (to - from);
    for (int r = from; r < to; r++)
        h_connect(h, r);
    for (int i = 0; i < 400 && hg_iochan_connected(h->ch) < want; i++)
        h_pump(h, 5);
    ck_assert_int_eq(hg_iochan_connected(h->ch), want);
}

static void h_line(harness *h, int rank, int stream, unsigned flags, const char *s)
{
    h_send(h, rank, HG_REC_OUT, stream, flags, s, strlen(s));
}

static void h_hangup(harness *h, int rank)
{
    close(h->sock[rank]);
    h->sock[rank] = -1;
}

static void h_stop(harness *h)
{
    for (int i = 0; i < MAXR; i++)
        if (h->sock[i] >= 0)
            close(h->sock[i]);
    hg_iochan_free(h->ch);
    hg_progress_free(h->progress);
    hg_outq_free(h->out_q);
    hg_outq_free(h->err_q);
    for (int i = 0; i < 2; i++) {
        if (h->out[i] >= 0)
            close(h->out[i]);
        if (h->err[i] >= 0)
            close(h->err[i]);
        free(h->got[i]);
    }
}

#define ck_assert_out(h, i, want)                                                            \
    ck_assert_msg((h)->len[i] == strlen(want) && memcmp((h)->got[i], (want), (h)->len[i]) == 0, \
                  "stream %d: got [%s], want [%s]", (i) + 1, (h)->got[i] ? (h)->got[i] : "",     \
                  (want))

/* issue 23 A.1: a partial line pending while the 65th rank connects (the connections'
 * array grows) and another rank's line after it. Under ASan the old pointer into the
 * array was a heap use-after-free. */
START_TEST(partial_owner_survives_growth)
{
    harness h;
    h_start(&h, 80, 0, 0);
    h_connect_range(&h, 0, 1);
    h_line(&h, 0, 1, HG_REC_PARTIAL, "progress 50%");
    h_until(&h, 0, 12);
    h_connect_range(&h, 1, 70);
    h_line(&h, 69, 1, 0, "rank 69 line\n");
    h_until(&h, 0, 26);
    h_line(&h, 0, 1, 0, " done\n");
    h_until(&h, 0, 32);
    ck_assert_out(&h, 0, "progress 50%\nrank 69 line\n done\n");
    h_stop(&h);
}
END_TEST

/* Waits until rank's connection is closed on the launcher's side. */
static void h_closed(harness *h, int open_left)
{
    for (int k = 0; k < 1000 && hg_iochan_open(h->ch) > open_left; k++)
        h_pump(h, 5);
    ck_assert_int_eq(hg_iochan_open(h->ch), open_left);
}

/* B.1: a program's last line without a newline is ended when its connection closes. */
static void close_ends_partial(int label, const char *want)
{
    harness h;
    h_start(&h, 2, label, 0);
    h_connect_range(&h, 0, 2);
    h_line(&h, 0, 1, HG_REC_PARTIAL, "last words, no newline");
    h_until(&h, 0, 22);
    h_hangup(&h, 0);
    h_closed(&h, 1);
    h_line(&h, 1, 1, 0, "a whole line\n");
    h_until(&h, 0, strlen(want));
    ck_assert_out(&h, 0, want);
    h_stop(&h);
}

START_TEST(close_ends_partial_line)
{
    close_ends_partial(0, "last words, no newline\na whole line\n");
    close_ends_partial(1, "[0 ?] last words, no newline\n[1 ?] a whole line\n");
}
END_TEST

/* B.2: the launcher's own line after a rank's unfinished stderr line starts on a line
 * of its own, and the rank's rest is labelled again. */
static void own_after_partial(int label, const char *want)
{
    harness h;
    h_start(&h, 8, label, 0);
    h_connect_range(&h, 0, 8);
    h_line(&h, 5, 2, HG_REC_PARTIAL, "fatal: bad input");
    h_until(&h, 1, 16);
    fprintf(h.errf, "hgrid: rank 5 (language) failed\n");
    fprintf(h.errf, "hgrid: a second line\n");
    h_line(&h, 5, 2, 0, " and more\n");
    h_until(&h, 1, strlen(want));
    ck_assert_out(&h, 1, want);
    h_stop(&h);
}

START_TEST(own_message_starts_a_line)
{
    own_after_partial(0, "fatal: bad input\nhgrid: rank 5 (language) failed\nhgrid: a second "
                         "line\n and more\n");
    own_after_partial(1, "[5 ?] fatal: bad input\nhgrid: rank 5 (language) failed\nhgrid: a "
                         "second line\n[5 ?]  and more\n");
}
END_TEST

/* B.4: stdout and stderr on one pipe: a stdout partial line is ended before a stderr
 * record, and everything arrives in the order it was put. */
START_TEST(shared_destination_keeps_records_whole)
{
    harness h;
    h_start(&h, 2, 0, 1);
    h_connect_range(&h, 0, 2);
    h_line(&h, 0, 1, HG_REC_PARTIAL, "OUT-1-");
    h_until(&h, 0, 6);
    h_line(&h, 1, 2, 0, "ERR-1\n");
    h_until(&h, 0, 13);
    h_line(&h, 0, 1, 0, "-END\n");
    h_until(&h, 0, 18);
    fprintf(h.errf, "hgrid: done\n");
    h_until(&h, 0, 30);
    ck_assert_out(&h, 0, "OUT-1-\nERR-1\n-END\nhgrid: done\n");
    ck_assert_uint_eq(h.len[1], 0);
    h_stop(&h);
}
END_TEST

/* B.3: redraws ended by a carriage return are shown as they come, each labelled; the
 * bar's line stays open, so another rank's line starts on a new one. */
START_TEST(redraws_are_labelled)
{
    harness h;
    const char *want = "[0 ?]  10%\r[0 ?]  20%\r\n[1 ?] other\n[0 ?] 100%\n";
    h_start(&h, 2, 1, 0);
    h_connect_range(&h, 0, 2);
    h_line(&h, 0, 2, HG_REC_PARTIAL | HG_REC_REDRAW, " 10%\r");
    h_until(&h, 1, 11);
    h_line(&h, 0, 2, HG_REC_PARTIAL | HG_REC_REDRAW, " 20%\r");
    h_until(&h, 1, 22);
    h_line(&h, 1, 2, 0, "other\n");
    h_until(&h, 1, 35);
    h_line(&h, 0, 2, 0, "100%\n");
    h_until(&h, 1, strlen(want));
    ck_assert_out(&h, 1, want);
    h_stop(&h);
}
END_TEST

/* B.6: without --label, each piece of a cut line names its rank: the mark at its end,
 * the tag at the start of the next, whatever came between. */
START_TEST(cut_pieces_are_tagged)
{
    harness h;
    const char *want = "aaaa [hgrid: line of rank 0 continues]\nx\n[hgrid: rank 0 continues] bbbb"
                       " [hgrid: line of rank 0 continues]\n[hgrid: rank 0 continues] cc\n";
    h_start(&h, 2, 0, 0);
    h_connect_range(&h, 0, 2);
    h_line(&h, 0, 1, HG_REC_CUT, "aaaa");
    h_until(&h, 0, 39);
    h_line(&h, 1, 1, 0, "x\n");
    h_until(&h, 0, 41);
    h_line(&h, 0, 1, HG_REC_CUT, "bbbb");
    h_until(&h, 0, 106);
    h_line(&h, 0, 1, 0, "cc\n");
    h_until(&h, 0, strlen(want));
    ck_assert_out(&h, 0, want);
    h_stop(&h);
}
END_TEST

/* D.3: stacks asked of two ranks come out as one block each, headed and closed by a
 * line naming the rank, however their lines interleaved. */
START_TEST(stack_dumps_are_framed)
{
    harness h;
    const char *want = "hgrid: rank 0 (?): stacks, dumped on SIGUSR1:\nThread A\n  File a\n"
                       "hgrid: rank 0: end of stacks\n"
                       "hgrid: rank 1 (?): stacks, dumped on SIGUSR1:\nThread B\n  File b\n"
                       "hgrid: rank 1: end of stacks\n";
    h_start(&h, 2, 0, 0);
    h_connect_range(&h, 0, 2);
    h_send(&h, 0, HG_REC_BEAT, 0, 0, "3 stacks 4242", 13);
    h_send(&h, 1, HG_REC_BEAT, 0, 0, "3 stacks 4343", 13);
    h_pump(&h, 50);
    ck_assert_int_eq(hg_iochan_signal_stacks(h.ch, 10), 2);
    h_line(&h, 0, 2, 0, "Thread A\n");
    h_pump(&h, 20);
    h_line(&h, 1, 2, 0, "Thread B\n");
    h_pump(&h, 20);
    h_line(&h, 0, 2, 0, "  File a\n");
    h_pump(&h, 20);
    h_line(&h, 1, 2, 0, "  File b\n");
    h_pump(&h, 100);
    ck_assert_uint_eq(h.len[1], 0); /* held while it may go on */
    h_until(&h, 1, strlen(want));
    ck_assert_out(&h, 1, want);
    h_stop(&h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iochan");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, partial_owner_survives_growth);
    tcase_add_test(tc, close_ends_partial_line);
    tcase_add_test(tc, own_message_starts_a_line);
    tcase_add_test(tc, shared_destination_keeps_records_whole);
    tcase_add_test(tc, redraws_are_labelled);
    tcase_add_test(tc, cut_pieces_are_tagged);
    tcase_add_test(tc, stack_dumps_are_framed);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
