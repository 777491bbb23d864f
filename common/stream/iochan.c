/* The ranks' channel, launcher side. One connection per rank; records are decoded
 * with common/wire/record.c and written in arrival order. Lines stay whole on the user's
 * streams: a record goes into its queue in one hg_outq_put, with its label. A rank's
 * partial line (a prompt, a progress bar) stays open on its destination (stdout,
 * stderr, or both when they are one file) until that rank ends it; anything else
 * written there first (another rank's record, the launcher's own message) puts a
 * newline before it, as does the rank's connection closing, and the partial rank's
 * next piece gets its label again. Log files get the bytes exactly, without labels or
 * marks. Connections are found by rank (by_rank), never by pointer: the array grows.
 * A connection that has not said HELLO with this job's token within HELLO_S is dropped. */
#include "stream/iochan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "stream/evloop.h"
#include "util/intparse.h"
#include "wire/beat.h"
#include "wire/line.h"
#include "wire/protocol.h"
#include "wire/record.h"

#define HELLO_S 10.0
#define READ_CHUNK 65536

typedef struct conn {
    int fd;
    hg_record_parser *parser;
    double since;        /* hg_now() when accepted */
    int rank;            /* -1 until HELLO */
    long pid;
    char host[128];
    hg_line_writer w[2]; /* its stdout and stderr on the user's streams */
    int log[2];
    int dumping;         /* asked for its stacks: stderr is held in dump (D.3) */
    double dump_at, dump_last;
    char *dump;
    size_t dump_len, dump_cap;
    int asked;           /* sent the stacks signal */
    char *kept;          /* the last dump, whole, for the culprit analysis */
    size_t kept_len;
    int exited, wstatus, closed;
    int beats;           /* heartbeats seen */
    long stacks_pid;     /* the latest beat's process that dumps its stacks on SIGUSR1, or 0 */
    long step;
    long long compute_us; /* the latest beat's "compute US", -1 none (wire/beat.h) */
    double beat_at;      /* hg_now() of the latest */
    double heard;        /* hg_now() of the latest record or reset, for host liveness */
    int reset;           /* the connection ended without the program's status */
    int dropped;         /* its host was lost: it is no longer waited for */
    char *cause;         /* the CAUSE record's payload (record.h), or NULL */
} conn;

struct hg_iochan {
    int listen_fd, world;
    hg_iochan_sinks k;
    conn *conns;
    size_t nconns, cap;
    int *by_rank;        /* world-sized: the index in conns of each rank's connection, -1 */
    int connected, exited;
    int first_rank, first_wstatus; /* first failure, -1 none */
    double first_at;     /* hg_now() when it arrived */
    int stop_sig, released;
    /* Per destination (two, or one when stdout and stderr are the same file): the rank
     * and stream whose partial line is open there. */
    hg_line_dest dest[2];
    int shared;          /* one destination: slot 0 for both streams */
    int dumping;         /* connections holding a stack dump */
    int freeing;         /* the queues may be gone: put nothing */
    char *scratch;
    size_t scratch_cap;
    char address[2560];  /* HGRID_IO's value: "PORT HOST ADDR[,ADDR...]" */
};

/* Every IPv4 address of an interface that is up, loopback left out (keepers on this
 * host use loopback anyway). */
static void local_addrs(char *buf, size_t len)
{
    struct ifaddrs *ifs = NULL;
    size_t used = 0;
    buf[0] = '\0';
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            char a[INET_ADDRSTRLEN];
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)
                || (i->ifa_flags & IFF_LOOPBACK))
                continue;
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof(a));
            int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", a);
            if (n < 0 || (size_t)n >= len - used)
                break;
            used += (size_t)n;
        }
        freeifaddrs(ifs);
    }
    if (!used)
        snprintf(buf, len, "127.0.0.1");
}

int hg_iochan_listen(hg_iochan **out, int world, hg_error *err)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
    socklen_t sl = sizeof(sa);
    char host[256], addrs[2048];
    hg_iochan *ch = calloc(1, sizeof(*ch));
    *out = NULL;
    if (!ch)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    ch->world = world;
    ch->first_rank = -1;
    ch->by_rank = malloc((size_t)(world > 0 ? world : 1) * sizeof(int));
    if (!ch->by_rank) {
        free(ch);
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    }
    for (int r = 0; r < world; r++)
        ch->by_rank[r] = -1;
    for (int i = 0; i < 2; i++)
        ch->dest[i] = (hg_line_dest)HG_LINE_DEST_INIT;
    ch->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ch->listen_fd < 0 || bind(ch->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(ch->listen_fd, world < SOMAXCONN ? world + 8 : SOMAXCONN) != 0
        || getsockname(ch->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        int rc = hg_error_set(err, HG_ESYS, "the ranks' output channel: %s", strerror(errno));
        hg_iochan_free(ch);
        return rc;
    }
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    local_addrs(addrs, sizeof(addrs));
    snprintf(ch->address, sizeof(ch->address), "%d %s %s", ntohs(sa.sin_port), host, addrs);
    /* Also in this environment, for callers that read it there (tests/test_iochan.c);
     * the launch gives it to mpirun from hg_iochan_address (childenv.h). */
    if (setenv(HG_ENV_IO, ch->address, 1) != 0) {
        int rc = hg_error_set(err, HG_ENOMEM, "setenv: %s", strerror(errno));
        hg_iochan_free(ch);
        return rc;
    }
    *out = ch;
    return 0;
}

const char *hg_iochan_address(const hg_iochan *ch)
{
    return ch->address;
}

static int slot_of(const hg_iochan *ch, int stream)
{
    return ch->shared ? 0 : stream;
}

static hg_outq *queue_of(const hg_iochan *ch, int slot)
{
    return slot ? ch->k.err_q : ch->k.out_q;
}

static conn *conn_of(hg_iochan *ch, int rank)
{
    return rank >= 0 && rank < ch->world && ch->by_rank[rank] >= 0 ? &ch->conns[ch->by_rank[rank]]
                                                                    : NULL;
}

/* Ends the partial line open on a destination, if any: a newline, and its rank's next
 * piece there is labelled again. */
static void end_open(hg_iochan *ch, int slot)
{
    hg_line_dest *d = &ch->dest[slot];
    if (d->open_rank < 0)
        return;
    conn *o = conn_of(ch, d->open_rank);
    if (o)
        hg_line_broken(&o->w[d->open_stream]);
    d->open_rank = -1;
    if (!ch->freeing && queue_of(ch, slot))
        hg_outq_put(queue_of(ch, slot), "\n", 1);
}

/* The launcher writes its own message to its stderr (hg_outq_on_own_write): it starts
 * on a line of its own. */
static void before_own_write(void *arg)
{
    hg_iochan *ch = arg;
    int slot = slot_of(ch, 1);
    end_open(ch, slot);
}

static void dump_flush(hg_iochan *ch, conn *c);

static void conn_close(hg_iochan *ch, conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->dumping)
        dump_flush(ch, c);
    free(c->dump);
    c->dump = NULL;
    for (int i = 0; i < 2; i++) {
        if (c->log[i] >= 0)
            close(c->log[i]);
        c->log[i] = -1;
        /* Its program is done: a last line without a newline ends here, not glued to
         * the next rank's. */
        int slot = slot_of(ch, i);
        if (c->rank >= 0 && ch->dest[slot].open_rank == c->rank && ch->dest[slot].open_stream == i)
            end_open(ch, slot);
    }
    hg_record_parser_free(c->parser);
    c->parser = NULL;
}

void hg_iochan_free(hg_iochan *ch)
{
    if (!ch)
        return;
    ch->freeing = 1;
    for (size_t i = 0; i < ch->nconns; i++) {
        conn_close(ch, &ch->conns[i]);
        free(ch->conns[i].cause);
        free(ch->conns[i].kept);
    }
    if (ch->listen_fd >= 0)
        close(ch->listen_fd);
    free(ch->conns);
    free(ch->by_rank);
    free(ch->scratch);
    free(ch);
}

void hg_iochan_attach(hg_iochan *ch, const hg_iochan_sinks *sinks)
{
    ch->k = *sinks;
    ch->shared = ch->k.out_q && ch->k.err_q && hg_outq_same(ch->k.out_q, ch->k.err_q);
    for (int i = 0; i < 2; i++)
        ch->dest[i] = (hg_line_dest)HG_LINE_DEST_INIT;
    if (ch->k.err_q)
        hg_outq_on_own_write(ch->k.err_q, before_own_write, ch);
}

void hg_iochan_detach(hg_iochan *ch)
{
    if (ch && ch->k.err_q)
        hg_outq_on_own_write(ch->k.err_q, NULL, NULL);
    if (ch)
        ch->k.out_q = ch->k.err_q = NULL;
}

int hg_iochan_nfds(const hg_iochan *ch)
{
    return 1 + (int)ch->nconns;
}

int hg_iochan_pollfds(hg_iochan *ch, struct pollfd *fds, int read)
{
    int n = 0;
    fds[n++] = (struct pollfd){ ch->listen_fd, POLLIN, 0 };
    for (size_t i = 0; i < ch->nconns; i++) {
        conn *c = &ch->conns[i];
        /* A connection that has not said HELLO is read anyway: it has nothing to queue. */
        fds[n++] = (struct pollfd){ c->fd, (short)(c->fd >= 0 && (read || c->rank < 0) ? POLLIN : 0),
                                    0 };
    }
    return n;
}

/* Sends one small control record; a keeper always reads its socket, so waiting is
 * bounded, and a keeper that is gone is just skipped. */
static void send_control(conn *c, int type, const char *body)
{
    unsigned char buf[HG_RECORD_HEADER + 32];
    size_t n = body ? strlen(body) : 0, off = 0;
    hg_record_header(buf, type, 0, 0, n);
    memcpy(buf + HG_RECORD_HEADER, body ? body : "", n);
    n += HG_RECORD_HEADER;
    double end = hg_now() + 1.0;
    while (c->fd >= 0 && off < n && hg_now() < end) {
        ssize_t w = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd p = { c->fd, POLLOUT, 0 };
            poll(&p, 1, 50);
        } else {
            break;
        }
    }
}

static void send_signal(conn *c, int sig)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", sig);
    send_control(c, HG_REC_SIGNAL, num);
}

void hg_iochan_signal_all(hg_iochan *ch, int sig)
{
    ch->stop_sig = sig;
    for (size_t i = 0; i < ch->nconns; i++)
        if (ch->conns[i].rank >= 0 && ch->conns[i].fd >= 0)
            send_signal(&ch->conns[i], sig);
}

void hg_iochan_release_all(hg_iochan *ch)
{
    ch->released = 1;
    for (size_t i = 0; i < ch->nconns; i++)
        if (ch->conns[i].rank >= 0 && ch->conns[i].fd >= 0)
            send_control(&ch->conns[i], HG_REC_RELEASE, NULL);
}

static void accept_all(hg_iochan *ch)
{
    for (;;) {
        int fd = accept4(ch->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (ch->nconns == ch->cap) {
            size_t cap = ch->cap ? ch->cap * 2 : 64;
            conn *v = realloc(ch->conns, cap * sizeof(*v));
            if (!v) {
                close(fd);
                return;
            }
            ch->conns = v;
            ch->cap = cap;
        }
        conn *c = &ch->conns[ch->nconns++];
        *c = (conn){ .fd = fd, .since = hg_now(), .rank = -1, .log = { -1, -1 }, .heard = hg_now() };
        c->w[0] = c->w[1] = (hg_line_writer)HG_LINE_WRITER_INIT;
        c->parser = hg_record_parser_new();
        if (!c->parser)
            conn_close(ch, c);
    }
}

static const char *module_of(const hg_iochan *ch, int rank)
{
    int mi = ch->k.layout ? hg_layout_module_of(ch->k.layout, rank) : -1;
    return mi >= 0 ? hg_layout_module(ch->k.layout, (size_t)mi)->name : "?";
}

static void open_logs(hg_iochan *ch, conn *c)
{
    static const char *const names[2] = { "stdout", "stderr" };
    for (int i = 0; i < 2 && ch->k.log_dir; i++) {
        char path[4096];
        snprintf(path, sizeof(path), HG_LOG_PATH_FMT, ch->k.log_dir, c->rank, module_of(ch, c->rank),
                 names[i]);
        c->log[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (c->log[i] < 0 && ch->k.err)
            fprintf(ch->k.err, "hgrid: warning: rank %d: cannot create the log file %s: %s\n",
                    c->rank, path, strerror(errno));
    }
}

/* "TOKEN RANK PID HOST"; a wrong token or rank, or a rank already here, is refused. */
static int on_hello(hg_iochan *ch, conn *c, const hg_record *r)
{
    char body[512], token[128], host[128];
    int rank;
    long pid;
    if (r->len >= sizeof(body))
        return -1;
    memcpy(body, r->data, r->len);
    body[r->len] = '\0';
    if (sscanf(body, "%127s %d %ld %127s", token, &rank, &pid, host) != 4 || !ch->k.token
        || strcmp(token, ch->k.token) != 0 || rank < 0 || rank >= ch->world)
        return -1;
    conn *old = conn_of(ch, rank);
    if (old && old->fd >= 0)
        return -1;
    c->rank = rank;
    ch->by_rank[rank] = (int)(c - ch->conns);
    c->pid = pid;
    snprintf(c->host, sizeof(c->host), "%s", host);
    ch->connected++;
    open_logs(ch, c);
    send_control(c, HG_REC_WELCOME, NULL);
    if (ch->stop_sig)
        send_signal(c, ch->stop_sig);
    if (ch->released)
        send_control(c, HG_REC_RELEASE, NULL);
    return 0;
}

static int is_status(const hg_iochan *ch, const conn *c, const hg_record *r)
{
    char prefix[HG_LINE_PREFIX_MAX];
    if (r->stream != 2 || r->flags || !c->w[1].at_start)
        return 0;
    size_t n = hg_line_status_prefix(prefix, sizeof(prefix), ch->k.token);
    return hg_line_is_status(r->data, r->len, prefix, n);
}

static char *scratch(hg_iochan *ch, size_t n)
{
    if (n > ch->scratch_cap) {
        char *b = realloc(ch->scratch, n);
        if (!b)
            return NULL;
        ch->scratch = b;
        ch->scratch_cap = n;
    }
    return ch->scratch;
}

static void write_log(conn *c, int i, const char *p, size_t n)
{
    while (c->log[i] >= 0 && n > 0) {
        ssize_t w = write(c->log[i], p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(c->log[i]);
            c->log[i] = -1;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* One piece of rank c's stream i onto its destination, in one hg_outq_put: a newline
 * first when another rank's (or stream's) partial line is open there, then the label
 * (--label, at a line's or a redraw's start) or, without labels, the tag naming the rank
 * when it continues a cut line, the bytes, and the mark when the line was cut. raw: the launcher's own block (a stack dump), labelled by its maker. */
static void put_piece(hg_iochan *ch, conn *c, int i, const char *data, size_t len,
                      unsigned flags, int raw)
{
    int slot = slot_of(ch, i);
    hg_outq *q = queue_of(ch, slot);
    if (!q || ch->freeing)
        return;
    hg_progress_clear(ch->k.progress);
    hg_line_dest *d = &ch->dest[slot];
    int pre_nl = hg_line_dest_must_break(d, c->rank, i);
    if (pre_nl) {
        conn *o = conn_of(ch, d->open_rank);
        if (o)
            hg_line_broken(&o->w[d->open_stream]);
    }
    char head[HG_LINE_HEAD_MAX], mark[HG_LINE_TAIL_MAX];
    size_t hl = raw ? 0 : hg_line_head(&c->w[i], ch->k.label, c->rank, module_of(ch, c->rank),
                                       head, sizeof(head));
    size_t ml = hg_line_tail(flags, ch->k.label, c->rank, mark, sizeof(mark));
    size_t n = (size_t)pre_nl + hl + len + ml;
    char *b = scratch(ch, n);
    if (b) {
        size_t o = 0;
        if (pre_nl)
            b[o++] = '\n';
        memcpy(b + o, head, hl);
        memcpy(b + o + hl, data, len);
        memcpy(b + o + hl + len, mark, ml);
        hg_outq_put(q, b, n);
    }
    hg_line_wrote(&c->w[i], flags);
    hg_line_dest_wrote(d, c->rank, i, flags);
}

/* A stack dump held whole (D.3): one block, headed and closed by the launcher's lines
 * naming the rank, each of its lines labelled with --label. */
static void dump_flush(hg_iochan *ch, conn *c)
{
    if (c->dumping)
        ch->dumping--;
    c->dumping = 0;
    if (c->dump_len == 0 || ch->freeing)
        return;
    free(c->kept);
    if ((c->kept = malloc(c->dump_len)))
        memcpy(c->kept, c->dump, c->dump_len);
    c->kept_len = c->kept ? c->dump_len : 0;
    char lab[HG_LINE_LABEL_MAX], head[256], foot[160];
    size_t ll = ch->k.label ? hg_line_label(lab, sizeof(lab), c->rank, module_of(ch, c->rank)) : 0;
    int hn = snprintf(head, sizeof(head), HG_STACKS_HEAD, c->rank, module_of(ch, c->rank));
    int fn = snprintf(foot, sizeof(foot), HG_STACKS_FOOT, c->rank);
    size_t lines = 1;
    for (size_t k = 0; k < c->dump_len; k++)
        lines += c->dump[k] == '\n';
    char *b = malloc((size_t)hn + (size_t)fn + c->dump_len + lines * (ll + 1));
    if (b) {
        size_t o = 0;
        memcpy(b, head, (size_t)hn);
        o += (size_t)hn;
        for (size_t k = 0; k < c->dump_len;) {
            const char *nl = memchr(c->dump + k, '\n', c->dump_len - k);
            size_t n = nl ? (size_t)(nl - (c->dump + k)) + 1 : c->dump_len - k;
            memcpy(b + o, lab, ll);
            memcpy(b + o + ll, c->dump + k, n);
            o += ll + n;
            k += n;
            if (!nl)
                b[o++] = '\n';
        }
        memcpy(b + o, foot, (size_t)fn);
        o += (size_t)fn;
        put_piece(ch, c, 1, b, o, 0, 1);
        c->w[1].at_start = 1;
        free(b);
    }
    c->dump_len = 0;
}

/* Holds a piece of a dumping rank's stderr; 0 when it was held. */
static int dump_hold(hg_iochan *ch, conn *c, const hg_record *r)
{
    if (c->dump_len + r->len > HG_LINE_MAX) {
        dump_flush(ch, c);
        return -1;
    }
    if (c->dump_len + r->len > c->dump_cap) {
        size_t cap = c->dump_cap ? c->dump_cap : 16384;
        while (cap < c->dump_len + r->len)
            cap *= 2;
        char *b = realloc(c->dump, cap);
        if (!b) {
            dump_flush(ch, c);
            return -1;
        }
        c->dump = b;
        c->dump_cap = cap;
    }
    memcpy(c->dump + c->dump_len, r->data, r->len);
    c->dump_len += r->len;
    c->dump_last = hg_now();
    return 0;
}

static void on_output(hg_iochan *ch, conn *c, const hg_record *r, double now)
{
    int i = r->stream == 2 ? 1 : 0;
    if (is_status(ch, c, r)) {
        hg_progress_feed(ch->k.progress, r->data, r->len, now);
        return;
    }
    write_log(c, i, r->data, r->len);
    if (i == 1 && c->dumping && dump_hold(ch, c, r) == 0)
        return;
    put_piece(ch, c, i, r->data, r->len, r->flags, 0);
}

static void on_holder(hg_iochan *ch, conn *c, const hg_record *r)
{
    char body[128], comm[64] = "?";
    long pid;
    if (!ch->k.err || r->len >= sizeof(body))
        return;
    memcpy(body, r->data, r->len);
    body[r->len] = '\0';
    if (sscanf(body, "%ld %63[^\n]", &pid, comm) < 1)
        return;
    hg_progress_clear(ch->k.progress);
    fprintf(ch->k.err, "hgrid: rank %d (%s): its program exited, but process %ld (%s) on %s "
            "still held its output after %d s of silence; killed it\n", c->rank,
            module_of(ch, c->rank), pid, comm, c->host, HG_OUTPUT_LINGER_S);
}

static void on_exit_record(hg_iochan *ch, conn *c, const hg_record *r)
{
    char num[24];
    int st;
    if (c->exited || r->len >= sizeof(num))
        return;
    memcpy(num, r->data, r->len);
    num[r->len] = '\0';
    if (hg_int_parse(num, 0, 0xffff, &st) != 0)
        return;
    c->exited = 1;
    c->wstatus = st;
    ch->exited++;
    if (c->dumping) /* the keeper sends all of PROGRAM's output before its status */
        dump_flush(ch, c);
    if (ch->first_rank < 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        ch->first_rank = c->rank;
        ch->first_wstatus = st;
        ch->first_at = hg_now();
    }
}

static void on_beat(conn *c, const hg_record *r)
{
    char body[128];
    hg_beat b;
    if (r->len >= sizeof(body))
        return;
    memcpy(body, r->data, r->len);
    body[r->len] = '\0';
    if (hg_beat_parse(body, &b) != 0)
        return;
    c->beats++;
    c->step = b.step;
    c->stacks_pid = b.stacks_pid;
    c->compute_us = b.compute_us;
    c->beat_at = hg_now();
}

/* Kept until the failure line asks for it (hg_iochan_say_cause); the first one counts. */
static void on_cause(conn *c, const hg_record *r)
{
    if (c->cause || memchr(r->data, '\0', r->len))
        return;
    if ((c->cause = malloc(r->len + 1))) {
        memcpy(c->cause, r->data, r->len);
        c->cause[r->len] = '\0';
    }
}

void hg_iochan_say_cause(const hg_iochan *ch, int rank, FILE *out)
{
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        const conn *c = &ch->conns[i];
        if (c->rank != rank || !c->cause)
            continue;
        long long when;
        int used = 0;
        char stamp[32] = "?";
        if (sscanf(c->cause, "%lld\n%n", &when, &used) != 1 || used == 0)
            return;
        const char *msg = c->cause + used, *frame = strchr(msg, '\n');
        if (!frame)
            return;
        time_t t = (time_t)when;
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H:%M:%S", &tm); /* torchrun's format */
        fprintf(out, "hgrid: rank %d (%s) root cause (%s): %.*s\n", rank, module_of(ch, rank), stamp,
                (int)(frame - msg), msg);
        if (frame[1])
            fprintf(out, "hgrid: rank %d (%s)   %s\n", rank, module_of(ch, rank), frame + 1);
        return;
    }
}

/* Returns -1 when the connection must be dropped. */
static int on_record(hg_iochan *ch, conn *c, const hg_record *r, double now)
{
    if (c->rank < 0)
        return r->type == HG_REC_HELLO ? on_hello(ch, c, r) : -1;
    switch (r->type) {
    case HG_REC_OUT:
        if (r->stream == 1 || r->stream == 2)
            on_output(ch, c, r, now);
        break;
    case HG_REC_EXIT:
        on_exit_record(ch, c, r);
        break;
    case HG_REC_HOLDER:
        on_holder(ch, c, r);
        break;
    case HG_REC_CLOSED:
        c->closed = 1;
        break;
    case HG_REC_BEAT:
        on_beat(c, r);
        break;
    case HG_REC_CAUSE:
        on_cause(c, r);
        break;
    default:
        break;
    }
    return 0;
}

static void read_conn(hg_iochan *ch, conn *c, double now)
{
    char buf[READ_CHUNK];
    ssize_t got = recv(c->fd, buf, sizeof(buf), 0);
    hg_record r;
    int k;
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0 || hg_record_parser_feed(c->parser, buf, (size_t)got) != 0) {
        c->reset = c->rank >= 0 && !c->exited;
        c->heard = hg_now();
        conn_close(ch, c);
        return;
    }
    c->heard = hg_now();
    while ((k = hg_record_parser_next(c->parser, &r)) == 1)
        if (on_record(ch, c, &r, now) != 0) {
            k = -1;
            break;
        }
    if (k < 0) {
        c->reset = c->rank >= 0 && !c->exited;
        conn_close(ch, c);
    }
}

void hg_iochan_serve(hg_iochan *ch, const struct pollfd *fds, int n, double now)
{
    size_t before = ch->nconns;
    for (int i = 1; i < n && (size_t)(i - 1) < before; i++) {
        conn *c = &ch->conns[i - 1];
        if (c->fd >= 0 && fds[i].fd == c->fd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_conn(ch, c, now);
        if (c->fd >= 0 && c->rank < 0 && hg_now() - c->since > HELLO_S)
            conn_close(ch, c);
    }
    if (n > 0 && (fds[0].revents & POLLIN))
        accept_all(ch);
    double t = hg_now();
    for (size_t i = 0; ch->dumping > 0 && i < ch->nconns; i++) {
        conn *c = &ch->conns[i];
        if (c->dumping && (c->dump_len ? t - c->dump_last >= HG_STACKS_QUIET_MS / 1000.0
                                       : t - c->dump_at >= HG_STACKS_WAIT_S))
            dump_flush(ch, c);
    }
}

int hg_iochan_connected(const hg_iochan *ch)
{
    return ch ? ch->connected : 0;
}

int hg_iochan_exited(const hg_iochan *ch)
{
    return ch ? ch->exited : 0;
}

int hg_iochan_open(const hg_iochan *ch)
{
    int n = 0;
    for (size_t i = 0; ch && i < ch->nconns; i++)
        n += ch->conns[i].fd >= 0 && ch->conns[i].rank >= 0;
    return n;
}

int hg_iochan_rank_exited(const hg_iochan *ch, int rank)
{
    return ch && rank >= 0 && rank < ch->world && ch->by_rank[rank] >= 0
           && ch->conns[ch->by_rank[rank]].exited;
}

double hg_iochan_first_failure_at(const hg_iochan *ch)
{
    return ch && ch->first_rank >= 0 ? ch->first_at : -1;
}

int hg_iochan_settled(const hg_iochan *ch)
{
    int n = 0;
    for (size_t i = 0; ch && i < ch->nconns; i++)
        n += ch->conns[i].rank >= 0 && (ch->conns[i].exited || ch->conns[i].dropped);
    return n;
}

/* A connection whose program has no status yet is gone when it ended (reset) or has
 * been silent for silence_s; alive otherwise. */
static int conn_gone(const conn *c, double now, double silence_s)
{
    return c->reset || (c->fd >= 0 && now - c->heard >= silence_s);
}

/* Whether every rank of host that still owes its status is gone; *since is when the
 * first of them went (last heard, or reset). */
static int host_gone(const hg_iochan *ch, const char *host, double now, double silence_s,
                     double *since)
{
    int any = 0;
    *since = now;
    for (size_t j = 0; j < ch->nconns; j++) {
        const conn *d = &ch->conns[j];
        if (d->rank < 0 || d->exited || d->dropped || strcmp(d->host, host) != 0)
            continue;
        if (!conn_gone(d, now, silence_s))
            return 0;
        any = 1;
        *since = d->heard < *since ? d->heard : *since;
    }
    return any;
}

int hg_iochan_lost_host(const hg_iochan *ch, double now, double silence_s, hg_iochan_lost *out)
{
    const conn *best = NULL;
    double best_since = now;
    /* Cheap when all is well: the per-host look only for connections that are gone. The
     * host blamed is the one whose ranks went first: when mpirun tears the job down after
     * a host died, other hosts' connections end too, later. */
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        const conn *c = &ch->conns[i];
        double since;
        if (c->rank < 0 || c->exited || c->dropped || !conn_gone(c, now, silence_s)
            || (best && strcmp(best->host, c->host) == 0))
            continue;
        if (host_gone(ch, c->host, now, silence_s, &since) && (!best || since < best_since)) {
            best = c;
            best_since = since;
        }
    }
    if (!best)
        return 0;
    int n = 0, resets = 0;
    for (size_t j = 0; j < ch->nconns; j++) {
        const conn *d = &ch->conns[j];
        if (d->rank < 0 || d->exited || d->dropped || strcmp(d->host, best->host) != 0)
            continue;
        if (n < out->cap)
            out->ranks[n] = d->rank;
        n++;
        resets += d->reset;
    }
    snprintf(out->host, sizeof(out->host), "%s", best->host);
    out->n = n < out->cap ? n : out->cap;
    out->reset = resets == n;
    return 1;
}

void hg_iochan_drop_host(hg_iochan *ch, const char *host)
{
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        conn *c = &ch->conns[i];
        if (c->rank >= 0 && !c->exited && strcmp(c->host, host) == 0) {
            c->dropped = 1;
            if (c->fd >= 0)
                conn_close(ch, c);
        }
    }
}

double hg_iochan_next_due(const hg_iochan *ch, double stall_s, double silence_s)
{
    double due = -1;
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        const conn *c = &ch->conns[i];
        if (c->fd >= 0 && c->rank < 0)
            due = hg_due_min(due, c->since + HELLO_S + 0.001);
        if (c->rank < 0 || c->exited)
            continue;
        if (stall_s > 0 && c->beats)
            due = hg_due_min(due, c->beat_at + stall_s);
        if (silence_s > 0 && c->fd >= 0 && !c->dropped)
            due = hg_due_min(due, c->heard + silence_s);
        if (c->dumping)
            due = hg_due_min(due, c->dump_len ? c->dump_last + HG_STACKS_QUIET_MS / 1000.0
                                              : c->dump_at + HG_STACKS_WAIT_S);
    }
    return due;
}

void hg_iochan_heard_all(hg_iochan *ch, double now)
{
    for (size_t i = 0; ch && i < ch->nconns; i++)
        if (ch->conns[i].fd >= 0)
            ch->conns[i].heard = now;
}

int hg_iochan_first_failure(const hg_iochan *ch, int *rank, int *wstatus)
{
    if (!ch || ch->first_rank < 0)
        return -1;
    *rank = ch->first_rank;
    *wstatus = ch->first_wstatus;
    return 0;
}

int hg_iochan_stalled(const hg_iochan *ch, double stall_s, int *ranks, long *steps, long *others,
                      int *nothers)
{
    int n = 0, any = 0;
    double now = hg_now();
    /* Ranks that stall together stop beating within a step of each other: once one has
     * been silent for stall_s, those silent for half of it (and for more than two
     * forwarding intervals) stalled with it. */
    double near = stall_s / 2 > 2.0 * HG_BEAT_FORWARD_MS / 1000 ? stall_s / 2
                                                                  : 2.0 * HG_BEAT_FORWARD_MS / 1000;
    *nothers = 0;
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        const conn *c = &ch->conns[i];
        any |= c->rank >= 0 && c->beats && !c->exited && now - c->beat_at >= stall_s;
    }
    for (size_t i = 0; any && i < ch->nconns; i++) {
        const conn *c = &ch->conns[i];
        if (c->rank < 0 || !c->beats || c->exited)
            continue;
        if (now - c->beat_at >= (near < stall_s ? near : stall_s)) {
            int j = n++;
            for (; j > 0 && ranks[j - 1] > c->rank; j--) {
                ranks[j] = ranks[j - 1];
                steps[j] = steps[j - 1];
            }
            ranks[j] = c->rank;
            steps[j] = c->step;
        } else {
            others[(*nothers)++] = c->step;
        }
    }
    return n;
}

int hg_iochan_signal_stacks(hg_iochan *ch, int sig)
{
    int n = 0;
    for (size_t i = 0; ch && i < ch->nconns; i++) {
        conn *c = &ch->conns[i];
        if (c->rank >= 0 && c->fd >= 0 && c->stacks_pid > 0 && !c->exited) {
            /* To that process alone: its group may hold a wrapper shell (protocol.h). */
            char body[48];
            snprintf(body, sizeof(body), "%d %ld", sig, c->stacks_pid);
            send_control(c, HG_REC_SIGNAL, body);
            c->asked = 1;
            if (!c->dumping) {
                c->dumping = 1;
                ch->dumping++;
                c->dump_at = hg_now();
                c->dump_len = 0;
            }
            n++;
        }
    }
    return n;
}

const char *hg_iochan_host(const hg_iochan *ch, int rank)
{
    if (!ch || rank < 0 || rank >= ch->world || ch->by_rank[rank] < 0)
        return NULL;
    return ch->conns[ch->by_rank[rank]].host;
}

int hg_iochan_dumps_pending(const hg_iochan *ch)
{
    return ch ? ch->dumping : 0;
}

void hg_iochan_rank_beat(const hg_iochan *ch, int rank, hg_iochan_beat *out)
{
    const conn *c = ch && rank >= 0 && rank < ch->world && ch->by_rank[rank] >= 0
                        ? &ch->conns[ch->by_rank[rank]]
                        : NULL;
    *out = (hg_iochan_beat){ .step = -1, .compute_us = -1 };
    if (!c)
        return;
    out->connected = 1;
    out->exited = c->exited;
    out->beats = c->beats;
    out->step = c->beats ? c->step : -1;
    out->compute_us = c->beats ? c->compute_us : -1;
    out->asks_stacks = c->stacks_pid > 0;
    out->asked = c->asked;
    out->stacks = c->dumping && c->dump_len ? c->dump : c->kept;
    out->stacks_len = c->dumping && c->dump_len ? c->dump_len : c->kept_len;
}
