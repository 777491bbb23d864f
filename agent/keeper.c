/* The keeper: one poll loop over PROGRAM's two pipes, the launcher's socket and a
 * signalfd. Lines: bytes gather per stream until a newline, a carriage return not
 * followed by one (a PARTIAL REDRAW piece: a progress bar's redraw shows at once),
 * HG_LINE_MAX bytes (a CUT piece) or HG_PARTIAL_FLUSH_MS of silence (a PARTIAL piece),
 * and each goes out as one record. Back-pressure: while more than OUT_HIGH bytes wait for the socket the pipes
 * are not read, so a slow launcher slows PROGRAM and nothing is dropped. Signals the
 * keeper itself receives (mpirun tearing the job down) go to PROGRAM's group once;
 * PROGRAM dies with the keeper (PR_SET_PDEATHSIG), so nothing outlives a SIGKILLed
 * keeper. The stall's stacks signal is the exception: it goes to the one process whose
 * heartbeat asked for it, never to the group. */
#include "keeper.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/clock.h"
#include "util/intparse.h"
#include "wire/beat.h"
#include "wire/launchenv.h"
#include "wire/line.h"
#include "wire/protocol.h"
#include "wire/record.h"
#include "relay.h"

#define OUT_HIGH (4u << 20)
/* A stream's buffer: one byte past HG_LINE_MAX, so that a line of exactly HG_LINE_MAX
 * bytes goes whole with its newline instead of as a CUT piece and an empty line. */
#define LINE_BUF (HG_LINE_MAX + 1)
#define CONNECT_TIMEOUT_MS 3000
#define MAX_HOLDERS 8

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One address, bounded in time: a host that drops packets must not hold the rank. */
static int connect_one(const char *addr, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
    struct addrinfo *res = NULL;
    int fd = -1;
    if (getaddrinfo(addr, port, &hints, &res) != 0)
        return -1;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        struct pollfd p = { fd, POLLOUT, 0 };
        int e = 0;
        socklen_t el = sizeof(e);
        if (errno != EINPROGRESS || poll(&p, 1, CONNECT_TIMEOUT_MS) != 1
            || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Waits for the launcher's WELCOME: whatever answered on that port may not be it. Reads
 * its 8 bytes and no more: a SIGNAL may follow at once, for the loop to read. */
static int welcomed(int fd)
{
    unsigned char got[HG_RECORD_HEADER], want[HG_RECORD_HEADER];
    size_t have = 0;
    double end = hg_now() + CONNECT_TIMEOUT_MS / 1000.0;
    hg_record_header(want, HG_REC_WELCOME, 0, 0, 0);
    while (have < sizeof(got) && hg_now() < end) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)((end - hg_now()) * 1000) + 1) <= 0)
            continue;
        ssize_t n = recv(fd, got + have, sizeof(got) - have, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return 0;
        have += (size_t)n;
    }
    return have == sizeof(got) && memcmp(got, want, sizeof(want)) == 0;
}

static int say_hello(int fd, int rank)
{
    char host[256], body[512];
    unsigned char hdr[HG_RECORD_HEADER];
    const char *token = hg_status_token();
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = '\0';
    int n = snprintf(body, sizeof(body), "%s %d %ld %s", token ? token : "-", rank, (long)getpid(),
                     host);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    hg_record_header(hdr, HG_REC_HELLO, 0, 0, (size_t)n);
    return send_all(fd, hdr, sizeof(hdr)) == 0 && send_all(fd, body, (size_t)n) == 0 ? 0 : -1;
}

int hg_keeper_connect(int rank, hg_error *err)
{
    const char *io = getenv(HG_ENV_IO);
    char port[16], host[256], addrs[2048], me[256];
    hg_error_clear(err);
    if (!io || !*io)
        return -1;
    if (sscanf(io, "%15s %255s %2047s", port, host, addrs) != 3)
        return hg_error_set(err, HG_EINVAL, "rank %d: %s=%s is not PORT HOST ADDRS", rank,
                            HG_ENV_IO, io), -1;
    if (gethostname(me, sizeof(me) - 1) != 0)
        me[0] = '\0';
    me[sizeof(me) - 1] = '\0';
    /* On the launcher's own host, loopback first: no interface or firewall in the way. */
    char list[2304];
    snprintf(list, sizeof(list), "%s%s", strcmp(me, host) == 0 ? "127.0.0.1," : "", addrs);
    char *save = NULL;
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        int fd = connect_one(a, port);
        if (fd < 0)
            continue;
        if (say_hello(fd, rank) == 0 && welcomed(fd))
            return fd;
        close(fd);
    }
    hg_error_set(err, HG_ESYS, "rank %d: cannot reach hgrid-launch on %s port %s (%s); its "
                 "output goes through mpirun instead", rank, host, port, addrs);
    return -1;
}

typedef struct kstream {
    int fd;
    char *line;       /* bytes of the current line, LINE_BUF at most */
    size_t len;
    size_t scanned;   /* line[0, scanned) holds no end of a piece */
    double last;      /* when bytes last arrived */
    ino_t ino;        /* the pipe, to find who else holds it */
} kstream;

typedef struct keeper {
    int rank, sock, sfd;
    kstream st[2];
    char *out;        /* records waiting for the socket */
    size_t off, len, cap;
    hg_record_parser *in;
    pid_t child;
    int child_done, wstatus;
    int stopping;     /* a stop signal came (from the launcher or to us): hold the status */
    int released, gone, closed_sent;
    double exited_at;
    int beat_fd;      /* PROGRAM's heartbeat pipe (HG_ENV_HEARTBEAT_FD), -1 once closed */
    char beat_buf[128];
    size_t beat_len;
    char beat_last[128]; /* the latest whole line, not yet sent when beat_due */
    pid_t stacks_pid;   /* the latest line's "stacks PID", 0 when it asked for none */
    int beat_due;
    double beat_sent;
    double queued_at; /* when the latest record was queued: ALIVE after a silence */
} keeper;

static void queue(keeper *k, int type, int stream, unsigned flags, const void *data, size_t n)
{
    unsigned char hdr[HG_RECORD_HEADER];
    if (k->gone)
        return;
    k->queued_at = hg_now();
    if (k->off > 0 && k->off >= k->len - k->off) {
        memmove(k->out, k->out + k->off, k->len - k->off);
        k->len -= k->off;
        k->off = 0;
    }
    size_t need = k->len + sizeof(hdr) + n;
    if (need > k->cap) {
        size_t cap = k->cap ? k->cap : 65536;
        while (cap < need)
            cap *= 2;
        char *b = realloc(k->out, cap);
        if (!b)
            return; /* out of memory in a process this small: the record is lost */
        k->out = b;
        k->cap = cap;
    }
    hg_record_header(hdr, type, stream, flags, n);
    memcpy(k->out + k->len, hdr, sizeof(hdr));
    if (n)
        memcpy(k->out + k->len + sizeof(hdr), data, n);
    k->len += sizeof(hdr) + n;
}

static void queuef(keeper *k, int type, const char *fmt, long v)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), fmt, v);
    queue(k, type, 0, 0, buf, (size_t)n);
}

/* Whole pieces out of s->line (hg_line_piece: lines, redraws, CUT pieces). */
static void emit_lines(keeper *k, int i)
{
    kstream *s = &k->st[i];
    size_t start = 0, n;
    unsigned flags;
    while ((n = hg_line_piece(s->line + start, s->len - start, &s->scanned, &flags)) > 0) {
        queue(k, HG_REC_OUT, i + 1, flags, s->line + start, n);
        start += n;
    }
    memmove(s->line, s->line + start, s->len - start);
    s->len -= start;
}

static void flush_partial(keeper *k, int i)
{
    kstream *s = &k->st[i];
    if (s->len > 0)
        queue(k, HG_REC_OUT, i + 1, hg_line_partial_flags(s->line, s->len), s->line, s->len);
    s->len = 0;
    s->scanned = 0;
}

static void close_stream(keeper *k, int i)
{
    flush_partial(k, i);
    if (k->st[i].fd >= 0)
        close(k->st[i].fd);
    k->st[i].fd = -1;
}

/* Reads what the pipe has; returns 0 when it may have more. */
static int read_stream(keeper *k, int i, double now)
{
    kstream *s = &k->st[i];
    while (s->fd >= 0) {
        size_t room = LINE_BUF - s->len;
        ssize_t got = read(s->fd, s->line + s->len, room < 65536 ? room : 65536);
        if (got > 0) {
            s->len += (size_t)got;
            s->last = now;
            emit_lines(k, i);
            return 0;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        close_stream(k, i);
    }
    return 1;
}

static void signal_program(keeper *k, int sig)
{
    if (kill(-k->child, sig) != 0 && !k->child_done)
        kill(k->child, sig);
}

/* Whether pid is PROGRAM's: in its process group, or a descendant (/proc's parent
 * links). A heartbeat names the pid; the check keeps a reused or made-up pid from
 * aiming the signal at a process that is not the rank's. */
static int is_programs(const keeper *k, pid_t pid)
{
    pid_t at = pid;
    for (int hops = 0; at > 1 && hops < 64; hops++) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)at);
        FILE *f = fopen(path, "r");
        if (!f)
            return 0;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* "PID (COMM) STATE PPID PGRP ...": COMM may hold blanks and parentheses. */
        char *close_paren = strrchr(buf, ')');
        long ppid, pgrp;
        char state;
        if (!close_paren || sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            return 0;
        if (at == k->child || pgrp == (long)k->child)
            return 1;
        at = (pid_t)ppid;
    }
    return 0;
}

/* The stacks signal: to the process whose heartbeat asked for it, never to the group. */
static void signal_stacks(keeper *k, int sig, long pid)
{
    if (pid > 0 && pid == (long)k->stacks_pid && !k->child_done && is_programs(k, (pid_t)pid))
        kill((pid_t)pid, sig);
}

static void on_control(keeper *k)
{
    char buf[4096];
    ssize_t got = recv(k->sock, buf, sizeof(buf), 0);
    hg_record r;
    int rc;
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (got <= 0 || hg_record_parser_feed(k->in, buf, (size_t)got) != 0) {
        /* The launcher is gone: nobody will read, release or stop us. Its job ends. */
        k->gone = 1;
        k->len = k->off = 0;
        signal_program(k, SIGKILL);
        return;
    }
    while ((rc = hg_record_parser_next(k->in, &r)) == 1) {
        int sig;
        long pid = 0;
        char body[48], num[16];
        if (r.type == HG_REC_RELEASE) {
            k->released = 1;
        } else if (r.type == HG_REC_SIGNAL && r.len < sizeof(body)) {
            memcpy(body, r.data, r.len);
            body[r.len] = '\0';
            if (sscanf(body, "%15s %ld", num, &pid) < 1 || hg_int_parse(num, 1, 64, &sig) != 0)
                continue;
            /* Either way the job is stopping: hold the status for the launcher. */
            k->stopping = 1;
            if (pid)
                signal_stacks(k, sig, pid);
            else
                signal_program(k, sig);
        }
    }
}

/* "PID COMM" of every other process that has one of PROGRAM's pipes open. */
static int report_holders(keeper *k)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    int found = 0;
    if (!proc)
        return 0;
    while ((e = readdir(proc)) && found < MAX_HOLDERS) {
        int pid;
        if (hg_int_parse(e->d_name, 1, INT_MAX, &pid) != 0 || pid == getpid())
            continue;
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
        DIR *fds = opendir(dir);
        if (!fds)
            continue;
        struct dirent *f;
        int holds = 0;
        while (!holds && (f = readdir(fds))) {
            char path[384], link[64];
            snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
            ssize_t n = readlink(path, link, sizeof(link) - 1);
            if (n <= 0)
                continue;
            link[n] = '\0';
            for (int i = 0; i < 2; i++) {
                char want[48];
                snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)k->st[i].ino);
                holds |= strcmp(link, want) == 0;
            }
        }
        closedir(fds);
        if (!holds)
            continue;
        char comm[64] = "?", body[96], cpath[64];
        snprintf(cpath, sizeof(cpath), "/proc/%d/comm", pid);
        FILE *c = fopen(cpath, "r");
        if (c) {
            if (fgets(comm, sizeof(comm), c))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(c);
        }
        int n = snprintf(body, sizeof(body), "%d %s", pid, comm);
        queue(k, HG_REC_HOLDER, 0, 0, body, (size_t)n);
        kill(pid, SIGKILL); /* it may have left PROGRAM's group (setsid) */
        found++;
    }
    closedir(proc);
    return found;
}

/* Heartbeat lines "STEP" or "STEP stacks PID" (protocol.h); only the latest matters,
 * and it goes out at most every HG_BEAT_FORWARD_MS. A line too long or not a number is
 * ignored. */
static void read_beats(keeper *k)
{
    char buf[512];
    ssize_t got = read(k->beat_fd, buf, sizeof(buf));
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (got <= 0) {
        close(k->beat_fd);
        k->beat_fd = -1;
        return;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (buf[i] != '\n') {
            if (k->beat_len < sizeof(k->beat_buf) - 1)
                k->beat_buf[k->beat_len++] = buf[i];
            else
                k->beat_len = sizeof(k->beat_buf); /* too long: dropped at its newline */
            continue;
        }
        hg_beat b;
        if (k->beat_len < sizeof(k->beat_buf)) {
            k->beat_buf[k->beat_len] = '\0';
            if (hg_beat_parse(k->beat_buf, &b) == 0) {
                k->stacks_pid = (pid_t)b.stacks_pid;
                hg_beat_format(&b, k->beat_last, sizeof(k->beat_last));
                k->beat_due = 1;
            }
        }
        k->beat_len = 0;
    }
}

static void forward_beat(keeper *k, double now)
{
    if (!k->beat_due || now - k->beat_sent < HG_BEAT_FORWARD_MS / 1000.0)
        return;
    queue(k, HG_REC_BEAT, 0, 0, k->beat_last, strlen(k->beat_last));
    k->beat_due = 0;
    k->beat_sent = now;
}

/* One line of at most max bytes from p (up to its first newline), blanks at both ends
 * dropped, control characters as '?': a field of the CAUSE record. */
static void one_line(char *out, size_t max, const char *p)
{
    size_t n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    for (; *p && *p != '\n' && *p != '\r' && n + 1 < max; p++)
        out[n++] = (unsigned char)*p < ' ' || *p == 0x7f ? '?' : *p;
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* The traceback's last frame: its last line that starts with 'File "'. */
static void last_frame(char *out, size_t max, const char *stack)
{
    const char *last = NULL;
    out[0] = '\0';
    for (const char *l = stack; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *t = l + strspn(l, " \t");
        if (strncmp(t, "File \"", 6) == 0)
            last = t;
    }
    if (last)
        one_line(out, max, last);
}

/* After a failed PROGRAM: the root cause torch's @record wrote (protocol.h,
 * HG_ENV_TE_ERROR_FILE) as one CAUSE record, before the EXIT. No file, an empty one or
 * one that is not torch's JSON sends nothing. */
static void send_cause(keeper *k)
{
    const char *path = getenv(HG_ENV_TE_ERROR_FILE);
    struct stat st;
    if (!path || !*path || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0
        || (unsigned long long)st.st_size > HG_ERROR_FILE_MAX)
        return;
    json_t *root = json_load_file(path, 0, NULL);
    json_t *m = json_object_get(root, "message");
    const char *text = json_string_value(m), *stack = NULL;
    long long when = (long long)st.st_mtime;
    if (json_is_object(m)) {
        json_t *extra = json_object_get(m, "extraInfo"), *ts = json_object_get(extra, "timestamp");
        text = json_string_value(json_object_get(m, "message"));
        stack = json_string_value(json_object_get(extra, "py_callstack"));
        if (json_is_integer(ts))
            when = json_integer_value(ts);
        else if (json_is_string(ts))
            when = strtoll(json_string_value(ts), NULL, 10);
    }
    if (text) {
        char msg[1024], frame[1024], body[2100];
        one_line(msg, sizeof(msg), text);
        last_frame(frame, sizeof(frame), stack);
        int n = snprintf(body, sizeof(body), "%lld\n%s\n%s", when, msg, frame);
        if (n > 0 && (size_t)n < sizeof(body))
            queue(k, HG_REC_CAUSE, 0, 0, body, (size_t)n);
    }
    json_decref(root);
}

static void reap(keeper *k, double now)
{
    int st;
    if (k->child_done || waitpid(k->child, &st, WNOHANG) != k->child)
        return;
    k->child_done = 1;
    k->wstatus = st;
    k->exited_at = now;
    /* Everything PROGRAM wrote comes before its status. */
    for (int i = 0; i < 2; i++) {
        read_stream(k, i, now);
        flush_partial(k, i);
    }
    if (k->beat_fd >= 0)
        read_beats(k);
    k->beat_sent = 0;
    forward_beat(k, now);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        send_cause(k);
    queuef(k, HG_REC_EXIT, "%ld", st);
}

static void on_signals(keeper *k, double now)
{
    struct signalfd_siginfo si;
    while (read(k->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            reap(k, now);
        } else {
            k->stopping = 1;
            signal_program(k, (int)si.ssi_signo);
        }
    }
    reap(k, now);
}

/* After PROGRAM: streams that stay open and silent are held by something it left. */
static void linger(keeper *k, double now)
{
    int open_ = (k->st[0].fd >= 0) + (k->st[1].fd >= 0);
    if (!k->child_done || !open_)
        return;
    double last = k->exited_at;
    for (int i = 0; i < 2; i++)
        if (k->st[i].last > last)
            last = k->st[i].last;
    if (now - last < HG_OUTPUT_LINGER_S)
        return;
    report_holders(k);
    kill(-k->child, SIGKILL);
    for (int i = 0; i < 2; i++)
        close_stream(k, i);
}

static _Noreturn void exit_as(int wstatus)
{
    if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        struct rlimit none = { 0, 0 };
        sigset_t set;
        setrlimit(RLIMIT_CORE, &none); /* PROGRAM dumped its core, if any; not ours */
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1);
}

static int done(const keeper *k)
{
    int held = k->stopping || !WIFEXITED(k->wstatus) || WEXITSTATUS(k->wstatus) != 0;
    return k->child_done && k->st[0].fd < 0 && k->st[1].fd < 0 && (k->gone || k->len == k->off)
           && (!held || k->released || k->gone);
}

/* The launcher tells a lost host from a busy one by silence: say something at least
 * every HG_ALIVE_INTERVAL_MS, whatever PROGRAM does. Nothing while records still wait
 * for the socket: they will say it when they go. */
static void keep_alive(keeper *k, double now)
{
    if (!k->gone && k->len == k->off && now - k->queued_at >= HG_ALIVE_INTERVAL_MS / 1000.0)
        queue(k, HG_REC_ALIVE, 0, 0, NULL, 0);
}

static int poll_timeout(const keeper *k, double now)
{
    double wait = k->beat_due ? k->beat_sent + HG_BEAT_FORWARD_MS / 1000.0 - now : 1.0;
    double alive = k->queued_at + HG_ALIVE_INTERVAL_MS / 1000.0 - now;
    if (!k->gone && k->len == k->off && alive < wait)
        wait = alive;
    for (int i = 0; i < 2; i++)
        if (k->st[i].fd >= 0 && k->st[i].len > 0) {
            double left = k->st[i].last + HG_PARTIAL_FLUSH_MS / 1000.0 - now;
            wait = left < wait ? left : wait;
        }
    return wait <= 0 ? 0 : (int)(wait * 1000) + 1;
}

static _Noreturn void run(keeper *k)
{
    for (;;) {
        double now = hg_now();
        for (int i = 0; i < 2; i++)
            if (k->st[i].len > 0 && now - k->st[i].last >= HG_PARTIAL_FLUSH_MS / 1000.0)
                flush_partial(k, i);
        linger(k, now);
        if (k->child_done && !k->closed_sent && k->st[0].fd < 0 && k->st[1].fd < 0) {
            queue(k, HG_REC_CLOSED, 0, 0, NULL, 0);
            k->closed_sent = 1;
        }
        if (done(k))
            exit_as(k->wstatus);
        forward_beat(k, now);
        keep_alive(k, now);
        struct pollfd p[5];
        int n = 0, ix[2] = { -1, -1 }, isock = -1, ibeat = -1;
        p[n++] = (struct pollfd){ k->sfd, POLLIN, 0 };
        if (!k->gone) {
            isock = n;
            p[n++] = (struct pollfd){ k->sock, (short)(POLLIN | (k->len > k->off ? POLLOUT : 0)), 0 };
        }
        for (int i = 0; i < 2; i++)
            if (k->st[i].fd >= 0 && (k->gone || k->len - k->off < OUT_HIGH)) {
                ix[i] = n;
                p[n++] = (struct pollfd){ k->st[i].fd, POLLIN, 0 };
            }
        if (k->beat_fd >= 0) {
            ibeat = n;
            p[n++] = (struct pollfd){ k->beat_fd, POLLIN, 0 };
        }
        if (poll(p, (nfds_t)n, poll_timeout(k, now)) < 0 && errno != EINTR)
            _exit(HG_EXIT_PREFLIGHT);
        now = hg_now();
        if (p[0].revents)
            on_signals(k, now);
        if (isock >= 0 && (p[isock].revents & (POLLIN | POLLHUP | POLLERR)))
            on_control(k);
        if (isock >= 0 && !k->gone && (p[isock].revents & POLLOUT)) {
            ssize_t w = send(k->sock, k->out + k->off, k->len - k->off, MSG_NOSIGNAL);
            if (w > 0)
                k->off += (size_t)w;
            else if (w < 0 && errno != EINTR && errno != EAGAIN)
                k->gone = 1;
        }
        for (int i = 0; i < 2; i++)
            if (ix[i] >= 0 && p[ix[i]].revents)
                read_stream(k, i, now);
        if (ibeat >= 0 && p[ibeat].revents)
            read_beats(k);
    }
}

/* In the child: the heartbeat pipe's write end at a descriptor below 10 (so any shell
 * can write to it: dash takes one digit; what held 9 then is the agent's, about to be
 * closed by the exec anyway), not close-on-exec, named in HG_ENV_HEARTBEAT_FD. */
static void child_heartbeat_fd(const int beat[2])
{
    char num[16];
    close(beat[0]);
    int fd = fcntl(beat[1], F_DUPFD, 3);
    if (fd > 9) {
        close(fd);
        fd = beat[1] == 9 ? 9 : dup2(beat[1], 9);
    }
    if (beat[1] != fd)
        close(beat[1]);
    snprintf(num, sizeof(num), "%d", fd);
    if (fd < 0 || setenv(HG_ENV_HEARTBEAT_FD, num, 1) != 0)
        unsetenv(HG_ENV_HEARTBEAT_FD);
}

/* In the child, to become PROGRAM: its own process group, dying with the keeper, its
 * streams on the pipes, nothing of the keeper's left open. */
static void become_program(pid_t keeper_pid, const int out[2], const int errp[2],
                           const int beat[2], int sock, const sigset_t *old)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper_pid)
        _exit(128 + SIGKILL);
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(errp[1], STDERR_FILENO) < 0)
        _exit(HG_EXIT_PREFLIGHT);
    child_heartbeat_fd(beat);
    close(out[0]);
    close(out[1]);
    close(errp[0]);
    close(errp[1]);
    close(sock);
    sigprocmask(SIG_SETMASK, old, NULL);
    unsetenv(HG_ENV_IO);
}

/* In the keeper: the read ends, the signalfd and the buffers; returns -1 when any is
 * missing. */
static int keeper_init(keeper *k, const int out[2], const int errp[2], const int beat[2],
                       const sigset_t *mask)
{
    int pipes[2] = { out[0], errp[0] };
    setpgid(k->child, k->child);
    close(out[1]);
    close(errp[1]);
    close(beat[1]);
    k->beat_fd = beat[0];
    fcntl(k->beat_fd, F_SETFL, fcntl(k->beat_fd, F_GETFL) | O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    k->sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
    k->in = hg_record_parser_new();
    for (int i = 0; i < 2; i++) {
        struct stat st;
        k->st[i].fd = pipes[i];
        k->st[i].line = malloc(LINE_BUF);
        k->st[i].ino = fstat(pipes[i], &st) == 0 ? st.st_ino : 0;
        fcntl(pipes[i], F_SETFL, fcntl(pipes[i], F_GETFL) | O_NONBLOCK);
    }
    fcntl(k->sock, F_SETFL, fcntl(k->sock, F_GETFL) | O_NONBLOCK);
    return k->sfd < 0 || !k->in || !k->st[0].line || !k->st[1].line ? -1 : 0;
}

int hg_keeper_start(int sock, int rank, hg_error *err)
{
    int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, beat[2] = { -1, -1 };
    sigset_t mask, old;
    keeper k = { .rank = rank, .sock = sock, .sfd = -1, .beat_fd = -1 };
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(beat, O_CLOEXEC) != 0)
        goto fail;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);
    fflush(NULL);
    pid_t parent = getpid();
    k.child = fork();
    if (k.child < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        goto fail;
    }
    if (k.child == 0) {
        become_program(parent, out, errp, beat, sock, &old);
        return 0;
    }
    if (keeper_init(&k, out, errp, beat, &mask) != 0) {
        /* PROGRAM runs; without a loop the best left is to wait for it. */
        int st;
        fprintf(stderr, "hgrid: rank %d: keeper: out of resources; PROGRAM's output is lost\n",
                rank);
        while (waitpid(k.child, &st, 0) < 0 && errno == EINTR)
            ;
        exit_as(st);
    }
    run(&k);
fail:
    hg_error_set(err, HG_ESYS, "rank %d: keeper: %s", rank, strerror(errno));
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (beat[i] >= 0)
            close(beat[i]);
    }
    return HG_ESYS;
}

/* PROGRAM's streams: to the keeper when a standalone launcher can be reached (the
 * parent keeps the rank and never returns here), else through the relay. */
int hg_output_start(const hg_relay_opts *relay, hg_error *err)
{
    hg_error why;
    int sock = hg_keeper_connect(relay->rank, &why);
    if (sock >= 0)
        return hg_keeper_start(sock, relay->rank, err);
    if (why.code)
        fprintf(stderr, "hgrid: warning: %s\n", why.msg);
    return hg_relay_start(relay, err);
}
