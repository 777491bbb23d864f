/* The collector's process (collector.h): the launcher's channel (iochan.h) with rank
 * 0's stdout and stderr as its queues (outq.h). Every keeper is released at once: there
 * is no grace period to hold statuses for, mpirun or srun decides the job's end. The
 * stop signals are ignored, as the relay ignores them: what the programs write while
 * they save their state still arrives, and the collector ends by itself. */
#include "collector.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/diag.h"
#include "util/dirs.h"
#include "util/intparse.h"
#include "stream/iochan.h"
#include "grid/layout.h"
#include "stream/outq.h"
#include "stream/progress.h"
#include "wire/protocol.h"
#include "relay.h"

/* Bytes waiting for mpirun beyond which the keepers are not read (they then stop
 * reading their programs: a slow reader slows the job and loses nothing). */
#define QUEUE_HIGH (8u << 20)

typedef struct collector {
    hg_iochan *ch;
    hg_outq *out_q, *err_q;
    hg_progress *progress;
    hg_layout *layout;
    hg_config *cfg;
    FILE *err;             /* err_q's stream: hg_outq_free closes it */
    int world;
    pid_t parent;
    double parent_gone_at; /* -1 while rank 0's process lives */
} collector;

static int make_token(char *hex, size_t len)
{
    unsigned char r[HG_STATUS_TOKEN_LEN / 2];
    if (len < sizeof(r) * 2 + 1 || getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return 0;
}

static int finished(collector *c, double now)
{
    if (c->parent_gone_at < 0 && getppid() != c->parent)
        c->parent_gone_at = now;
    if (hg_iochan_open(c->ch) > 0)
        return 0;
    return hg_iochan_connected(c->ch) >= c->world
           || (c->parent_gone_at >= 0 && now - c->parent_gone_at >= HG_COLLECTOR_LATE_S);
}

static void serve(collector *c)
{
    hg_outq *qs[2] = { c->out_q, c->err_q };
    int nio = hg_iochan_nfds(c->ch), nf = 0, iq[2] = { -1, -1 };
    struct pollfd *fds = calloc((size_t)nio + 2, sizeof(*fds));
    if (!fds)
        return;
    for (int i = 0; i < 2; i++)
        if (hg_outq_pending(qs[i]) > 0 && (i == 0 || !hg_outq_same(qs[0], qs[1]))) {
            iq[i] = nf;
            fds[nf++] = (struct pollfd){ hg_outq_fd(qs[i]), POLLOUT, 0 };
        }
    int ix = nf;
    int read = hg_outq_pending(qs[0]) < QUEUE_HIGH && hg_outq_pending(qs[1]) < QUEUE_HIGH;
    nf += hg_iochan_pollfds(c->ch, fds + nf, read);
    if (poll(fds, (nfds_t)nf, 100) >= 0) {
        for (int i = 0; i < 2; i++)
            if (iq[i] >= 0 && fds[iq[i]].revents)
                hg_outq_write_some(qs[i]);
        hg_iochan_serve(c->ch, fds + ix, nf - ix, hg_now());
    }
    hg_progress_tick(c->progress, hg_now());
    free(fds);
}

/* Everything queued goes out before the collector lets go of rank 0's streams. A
 * reader that is gone (EIO, EPIPE) breaks its queue, which then has nothing pending. */
static void drain(collector *c)
{
    hg_outq *qs[2] = { c->out_q, c->err_q };
    while (hg_outq_pending(qs[0]) + hg_outq_pending(qs[1]) > 0) {
        struct pollfd p[2];
        for (int i = 0; i < 2; i++)
            p[i] = (struct pollfd){ hg_outq_fd(qs[i]), hg_outq_pending(qs[i]) ? POLLOUT : 0, 0 };
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return;
        for (int i = 0; i < 2; i++)
            if (p[i].revents)
                hg_outq_write_some(qs[i]);
    }
}

static int setup(collector *c, int report, int label, const char *config, const char *log_dir,
                 char *token)
{
    hg_diags *d = hg_diags_new(config);
    hg_error err;
    if (d)
        (void)hg_layout_load(config, 0, &c->cfg, &c->layout, d); /* labels say "?" without */
    hg_diags_free(d);
    if (log_dir && *log_dir) {
        int e = hg_dirs_make(log_dir);
        if (e)
            fprintf(stderr, "hgrid: warning: cannot create the log directory %s: %s\n", log_dir,
                    strerror(e));
    }
    if (make_token(token, HG_STATUS_TOKEN_LEN + 1) != 0
        || hg_iochan_listen(&c->ch, c->world, &err) != 0)
        return -1;
    if (hg_outq_pair(STDOUT_FILENO, STDERR_FILENO, &c->out_q, &c->err_q) != 0)
        return -1;
    c->err = hg_outq_stream(c->err_q);
    c->progress = hg_progress_new(c->err ? c->err : stderr, c->world, 0, token);
    if (!c->err || !c->progress)
        return -1;
    hg_iochan_sinks sinks = { .token = token, .layout = c->layout, .label = label,
                              .log_dir = log_dir && *log_dir ? log_dir : NULL,
                              .out_q = c->out_q, .err_q = c->err_q, .progress = c->progress,
                              .err = c->err };
    hg_iochan_attach(c->ch, &sinks);
    hg_iochan_release_all(c->ch);
    dprintf(report, "%s\n%s\n", getenv(HG_ENV_IO), token);
    return 0;
}

int hg_collector_main(int argc, char **argv)
{
    collector c = { .parent = getppid(), .parent_gone_at = -1 };
    char token[HG_STATUS_TOKEN_LEN + 1];
    int report, label, rc = 0;
    if (argc < 6 || hg_int_parse(argv[2], 0, 1 << 20, &report) != 0
        || hg_int_parse(argv[3], 1, 1 << 24, &c.world) != 0
        || hg_int_parse(argv[4], 0, 1, &label) != 0)
        return HG_EXIT_USAGE;
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (setup(&c, report, label, argv[5], argc > 6 ? argv[6] : NULL, token) != 0) {
        rc = HG_EXIT_PREFLIGHT; /* the report pipe closes empty: rank 0 relays instead */
    } else {
        close(report);
        while (!finished(&c, hg_now()))
            serve(&c);
        hg_progress_finish(c.progress);
    }
    hg_iochan_detach(c.ch);
    hg_iochan_free(c.ch);
    drain(&c);
    hg_progress_free(c.progress);
    hg_outq_free(c.err_q);
    hg_outq_free(c.out_q);
    hg_layout_free(c.layout);
    hg_config_free(c.cfg);
    return rc;
}
