/* The ranks' channel, launcher side. One connection per rank; records are decoded
 * with common/record.c and written in arrival order. Lines stay whole on the user's
 * streams: a record goes into its queue in one hg_outq_put, with its label, and when
 * one rank's partial line (a prompt, a progress bar) is followed by another rank's
 * record on the same stream, a newline is put first and the partial rank's next piece
 * gets its label again. Log files get the bytes exactly, without labels or marks.
 * A connection that has not said HELLO with this job's token within HELLO_S is dropped. */
#include "iochan.h"

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

#include "clock.h"
#include "intparse.h"
#include "protocol.h"
#include "record.h"

#define HELLO_S 10.0
#define READ_CHUNK 65536

typedef struct conn {
    int fd;
    hg_record_parser *parser;
    double since;
    int rank;            /* -1 until HELLO */
    long pid;
    char host[128];
    int at_line_start[2];
    int log[2];
    int exited, wstatus, closed;
    int beats;           /* heartbeats seen */
    long stacks_pid;     /* the latest beat's process that dumps its stacks on SIGUSR1, or 0 */
    long step;
    double beat_at;      /* hg_now() of the latest */
    char *cause;         /* the CAUSE record's payload (record.h), or NULL */
} conn;

struct hg_iochan {
    int listen_fd, world;
    hg_iochan_sinks k;
    conn *conns;
    size_t nconns, cap;
    int connected, exited;
    int first_rank, first_wstatus; /* first failure, -1 none */
    int stop_sig, released;
    /* Per user stream: the connection and stream whose partial line was put last. */
    conn *partial_owner[2];
    int partial_stream[2];
    char *scratch;
    size_t scratch_cap;
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
    char host[256], addrs[2048], env[2560];
    hg_iochan *ch = calloc(1, sizeof(*ch));
    *out = NULL;
    if (!ch)
        return hg_error_set(err, HG_ENOMEM, "out of memory");
    ch->world = world;
    ch->first_rank = -1;
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
    snprintf(env, sizeof(env), "%d %s %s", ntohs(sa.sin_port), host, addrs);
    if (setenv(HG_ENV_IO, env, 1) != 0) {
        int rc = hg_error_set(err, HG_ENOMEM, "setenv: %s", strerror(errno));
        hg_iochan_free(ch);
        return rc;
    }
    *out = ch;
    return 0;
}

static void conn_close(hg_iochan *ch, conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    for (int i = 0; i < 2; i++) {
        if (c->log[i] >= 0)
            close(c->log[i]);
        c->log[i] = -1;
        if (ch->partial_owner[i] == c)
            ch->partial_owner[i] = NULL;
    }
    hg_record_parser_free(c->parser);
    c->parser = NULL;
}

void hg_iochan_free(hg_iochan *ch)
{
    if (!ch)
        return;
    for (size_t i = 0; i < ch->nconns; i++) {
        conn_close(ch, &ch->conns[i]);
        free(ch->conns[i].cause);
    }
    if (ch->listen_fd >= 0)
        close(ch->listen_fd);
    free(ch->conns);
    free(ch->scratch);
    free(ch);
}

void hg_iochan_attach(hg_iochan *ch, const hg_iochan_sinks *sinks)
{
    ch->k = *sinks;
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

static void accept_all(hg_iochan *ch, double now)
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
        *c = (conn){ .fd = fd, .since = now, .rank = -1, .log = { -1, -1 } };
        c->at_line_start[0] = c->at_line_start[1] = 1;
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
    for (size_t i = 0; i < ch->nconns; i++)
        if (ch->conns[i].rank == rank && ch->conns[i].fd >= 0)
            return -1;
    c->rank = rank;
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
    char prefix[128];
    int n;
    if (r->stream != 2 || r->flags || !c->at_line_start[1] || !ch->k.token)
        return 0;
    n = snprintf(prefix, sizeof(prefix), "%s%s: ", HG_STATUS_PREFIX, ch->k.token);
    return n > 0 && r->len > (size_t)n && memcmp(r->data, prefix, (size_t)n) == 0;
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

static void on_output(hg_iochan *ch, conn *c, const hg_record *r, double now)
{
    int i = r->stream == 2 ? 1 : 0;
    hg_outq *q = i ? ch->k.err_q : ch->k.out_q;
    if (is_status(ch, c, r)) {
        hg_progress_feed(ch->k.progress, r->data, r->len, now);
        return;
    }
    write_log(c, i, r->data, r->len);
    /* Another rank's partial line on this stream: end it here, label its rest again. */
    conn *owner = ch->partial_owner[i];
    int pre_nl = owner && (owner != c || ch->partial_stream[i] != i);
    if (pre_nl)
        owner->at_line_start[ch->partial_stream[i]] = 1;
    char label[160];
    size_t ll = 0;
    if (ch->k.label && c->at_line_start[i])
        ll = (size_t)snprintf(label, sizeof(label), "[%d %s] ", c->rank, module_of(ch, c->rank));
    const char *mark = (r->flags & HG_REC_CUT) ? HG_LINE_CUT_MARK : "";
    size_t ml = strlen(mark), n = (size_t)pre_nl + ll + r->len + ml;
    char *b = scratch(ch, n);
    if (b) {
        size_t o = 0;
        if (pre_nl)
            b[o++] = '\n';
        memcpy(b + o, label, ll);
        memcpy(b + o + ll, r->data, r->len);
        memcpy(b + o + ll + r->len, mark, ml);
        hg_progress_clear(ch->k.progress);
        hg_outq_put(q, b, n);
    }
    c->at_line_start[i] = !(r->flags & HG_REC_PARTIAL);
    ch->partial_owner[i] = (r->flags & HG_REC_PARTIAL) ? c : NULL;
    ch->partial_stream[i] = i;
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
    if (ch->first_rank < 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        ch->first_rank = c->rank;
        ch->first_wstatus = st;
    }
}

static void on_beat(conn *c, const hg_record *r)
{
    char body[64], rest[16] = "";
    long step, pid = 0;
    if (r->len >= sizeof(body))
        return;
    memcpy(body, r->data, r->len);
    body[r->len] = '\0';
    if (sscanf(body, "%ld %15s %ld", &step, rest, &pid) < 1 || step < 0)
        return;
    c->beats++;
    c->step = step;
    c->stacks_pid = strcmp(rest, HG_BEAT_STACKS) == 0 && pid > 0 ? pid : 0;
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
        conn_close(ch, c);
        return;
    }
    while ((k = hg_record_parser_next(c->parser, &r)) == 1)
        if (on_record(ch, c, &r, now) != 0) {
            k = -1;
            break;
        }
    if (k < 0)
        conn_close(ch, c);
}

void hg_iochan_serve(hg_iochan *ch, const struct pollfd *fds, int n, double now)
{
    size_t before = ch->nconns;
    for (int i = 1; i < n && (size_t)(i - 1) < before; i++) {
        conn *c = &ch->conns[i - 1];
        if (c->fd >= 0 && fds[i].fd == c->fd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
            read_conn(ch, c, now);
        if (c->fd >= 0 && c->rank < 0 && now - c->since > HELLO_S)
            conn_close(ch, c);
    }
    if (n > 0 && (fds[0].revents & POLLIN))
        accept_all(ch, now);
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
            n++;
        }
    }
    return n;
}

const char *hg_iochan_host(const hg_iochan *ch, int rank)
{
    for (size_t i = 0; ch && i < ch->nconns; i++)
        if (ch->conns[i].rank == rank)
            return ch->conns[i].host;
    return NULL;
}
