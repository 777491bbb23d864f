/* The output relay of one rank. It stays in the rank's process group, so the job's
 * teardown reaches it, but ignores the stop signals (SIGINT, SIGTERM, SIGHUP) that the
 * launcher delivers to the whole group: what PROGRAM writes while it saves its state is
 * still relayed, and the relay ends by itself when PROGRAM and every process that
 * inherited its streams have closed them (end of file on both pipes). Writes block:
 * a slow reader slows PROGRAM down, as it would without the relay, and loses nothing. */
#include "relay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/dirs.h"
#include "util/intparse.h"
#include "wire/line.h"
#include "wire/protocol.h"

void hg_relay_log_path(const char *dir, int rank, const char *module, const char *stream,
                       char *buf, size_t len)
{
    snprintf(buf, len, HG_LOG_PATH_FMT, dir, rank, module, stream);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Open MPI's I/O forwarding reads each rank's stream in pieces of at most 4096 bytes
 * (ORTE_IOF_BASE_MSG_MAX) and writes each piece to mpirun's output as it comes, between
 * other ranks' pieces: a line survives only if no such read ends inside it. Whole lines
 * are gathered into writes of at most this size (also PIPE_BUF, so a pipe's reader
 * sees each write all at once or not at all). */
#define OUT_BATCH 4096

typedef struct stream {
    int in, out, log;
    int out_ok;          /* the reader of out is still there; the log keeps everything anyway */
    int out_is_pipe;     /* FIONREAD on out says what its reader has not read yet */
    int at_line_start;   /* nothing of the current line has gone out yet */
    char *line;          /* the current line's bytes, not yet ended by a newline */
    size_t line_len, line_cap;
    char batch[OUT_BATCH];  /* whole lines, labelled, not written yet */
    size_t batch_len;
} stream;

static void log_bytes(stream *s, const char *p, size_t n)
{
    if (s->log >= 0 && write_all(s->log, p, n) != 0) {
        close(s->log);
        s->log = -1;
    }
}

/* Until the reader of a pipe has taken everything written so far: the next read then
 * starts at this write and, the write being at most PIPE_BUF and of whole lines, ends
 * at one of its line ends. A terminal (Open MPI gives a rank's stdout a pty) or a file
 * has no such count: their writes go out at once. */
static void wait_drained(const stream *s)
{
    long ns = 20000;
    int queued;
    while (s->out_is_pipe && ioctl(s->out, FIONREAD, &queued) == 0 && queued > 0) {
        nanosleep(&(struct timespec){ 0, ns }, NULL);
        if (ns < 2000000)
            ns *= 2;
    }
}

static void out_write(stream *s, const char *p, size_t n)
{
    if (s->out_ok) {
        wait_drained(s);
        s->out_ok = write_all(s->out, p, n) == 0;
    }
}

static void flush_batch(stream *s)
{
    if (s->batch_len)
        out_write(s, s->batch, s->batch_len);
    s->batch_len = 0;
}

/* One piece of PROGRAM's output: a whole line (ends in '\n'), or the part of one that
 * waited too long or grew too long. The label goes before a line's first piece, except
 * before the launcher's status lines (hg_init's coordinator writes them in process, each
 * in one write at a line start), which pass unlabelled and stay out of the logs: they
 * are the launcher's, not PROGRAM's. A piece with its label goes out in one write. */
static void emit(stream *s, const char *p, size_t n, const char *label, size_t label_len,
                 const char *status, size_t status_len)
{
    int ends = n > 0 && p[n - 1] == '\n';
    int is_status = s->at_line_start && ends && hg_line_is_status(p, n, status, status_len);
    size_t lab = s->at_line_start && !is_status ? label_len : 0;
    if (!is_status)
        log_bytes(s, p, n);
    s->at_line_start = ends;
    if (s->batch_len + lab + n > OUT_BATCH)
        flush_batch(s);
    if (lab + n <= OUT_BATCH) {
        memcpy(s->batch + s->batch_len, label, lab);
        memcpy(s->batch + s->batch_len + lab, p, n);
        s->batch_len += lab + n;
        return;
    }
    /* Longer than any piece mpirun forwards: one write still, so that at least a
     * reader that takes whole writes (a file, a pipe of hgrid's) gets it whole. */
    char *whole = malloc(lab + n);
    if (!whole) {
        out_write(s, label, lab);
        out_write(s, p, n);
        return;
    }
    memcpy(whole, label, lab);
    memcpy(whole + lab, p, n);
    out_write(s, whole, lab + n);
    free(whole);
}

static int line_add(stream *s, const char *p, size_t n)
{
    if (s->line_len + n > s->line_cap) {
        size_t cap = s->line_cap ? s->line_cap : 4096;
        while (cap < s->line_len + n)
            cap *= 2;
        char *grown = realloc(s->line, cap);
        if (!grown)
            return -1;
        s->line = grown;
        s->line_cap = cap;
    }
    memcpy(s->line + s->line_len, p, n);
    s->line_len += n;
    return 0;
}

/* The part of a line held back: it goes out as it is (a prompt, a progress bar, the
 * last words of a program without a final newline). */
static void emit_partial(stream *s, const char *label, size_t label_len)
{
    if (s->line_len)
        emit(s, s->line, s->line_len, label, label_len, "", 0);
    s->line_len = 0;
}

/* A read's bytes, cut into lines. A line is held until its newline, up to HG_LINE_MAX
 * bytes (then it goes out in pieces of that size, as the keeper's do). */
static void relay_chunk(stream *s, const char *buf, size_t n, const char *label, size_t label_len,
                        const char *status, size_t status_len)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        if (s->line_len + len > HG_LINE_MAX) {
            size_t room = HG_LINE_MAX - s->line_len;
            if (line_add(s, buf + i, room) != 0)
                emit(s, buf + i, room, label, label_len, "", 0);
            emit_partial(s, label, label_len);
            i += room;
            continue;
        }
        if (nl && s->line_len == 0) {
            emit(s, buf + i, len, label, label_len, status, status_len);
        } else if (line_add(s, buf + i, len) != 0) {
            emit_partial(s, label, label_len);
            emit(s, buf + i, len, label, label_len, "", 0);
        } else if (nl) {
            emit(s, s->line, s->line_len, label, label_len, status, status_len);
            s->line_len = 0;
        }
        i += len;
    }
}

/* Everything the agent had open (a library's sockets, say) is closed in the relay,
 * which needs only its pipes, its two outputs and its logs. */
static void close_others(const stream *st)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd, keep = 0;
        if (hg_int_parse(e->d_name, 3, INT_MAX, &fd) != 0 || fd == dirfd(d))
            continue;
        for (int i = 0; i < 2; i++)
            keep |= fd == st[i].in || fd == st[i].log;
        if (!keep)
            close(fd);
    }
    closedir(d);
}

static int now_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Whole lines are gathered while PROGRAM's bytes keep coming and written when the
 * pipes have nothing more to read at once; a part of a line goes out after
 * HG_PARTIAL_FLUSH_MS without new bytes. */
static _Noreturn void run_relay(stream *st, const char *label)
{
    size_t label_len = label ? strlen(label) : 0;
    char status[HG_LINE_PREFIX_MAX];
    size_t status_len = hg_line_status_prefix(status, sizeof(status), getenv(HG_ENV_STATUS_TOKEN));
    struct timespec last_bytes;
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    close_others(st);
    clock_gettime(CLOCK_MONOTONIC, &last_bytes);
    for (;;) {
        struct pollfd p[2];
        int n = 0, idx[2], batched = 0, partial = 0, timeout = -1;
        for (int i = 0; i < 2; i++) {
            batched |= st[i].batch_len > 0;
            partial |= st[i].line_len > 0;
            if (st[i].in >= 0) {
                idx[n] = i;
                p[n++] = (struct pollfd){ st[i].in, POLLIN, 0 };
            }
        }
        if (n == 0)
            _exit(0);
        if (batched) {
            timeout = 0;
        } else if (partial) {
            timeout = HG_PARTIAL_FLUSH_MS - now_ms_since(&last_bytes);
            timeout = timeout < 0 ? 0 : timeout;
        }
        int ready = poll(p, (nfds_t)n, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (ready == 0) {
            int held_long = !batched && partial;
            for (int i = 0; i < 2; i++) {
                if (held_long)
                    emit_partial(&st[i], label, label_len);
                flush_batch(&st[i]);
            }
            continue;
        }
        for (int k = 0; k < n; k++) {
            stream *s = &st[idx[k]];
            if (!p[k].revents)
                continue;
            char buf[65536];
            ssize_t got = read(s->in, buf, sizeof(buf));
            int is_err = s->out == STDERR_FILENO;
            if (got > 0) {
                clock_gettime(CLOCK_MONOTONIC, &last_bytes);
                relay_chunk(s, buf, (size_t)got, label, label_len, is_err ? status : "",
                            is_err ? status_len : 0);
            } else if (got == 0 || errno != EINTR) {
                emit_partial(s, label, label_len);
                flush_batch(s);
                close(s->in);
                s->in = -1;
            }
        }
    }
}

int hg_relay_start(const hg_relay_opts *o, hg_error *err)
{
    static const char *const names[2] = { "stdout", "stderr" };
    stream st[2] = { { .in = -1, .out = STDOUT_FILENO, .log = -1, .out_ok = 1, .at_line_start = 1 },
                     { .in = -1, .out = STDERR_FILENO, .log = -1, .out_ok = 1, .at_line_start = 1 } };
    int wr[2] = { -1, -1 }, rc = 0;
    char label[HG_LINE_LABEL_MAX];

    hg_line_label(label, sizeof(label), o->rank, o->module);
    if (o->log_dir && (rc = hg_dirs_make(o->log_dir)) != 0)
        return hg_error_set(err, HG_EIO, "rank %d: cannot create the log directory %s: %s",
                            o->rank, o->log_dir, strerror(rc));
    for (int i = 0; i < 2; i++) {
        int p[2];
        if (o->log_dir) {
            char path[4096];
            hg_relay_log_path(o->log_dir, o->rank, o->module, names[i], path, sizeof(path));
            st[i].log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (st[i].log < 0) {
                rc = hg_error_set(err, HG_EIO, "rank %d: cannot create the log file %s: %s",
                                  o->rank, path, strerror(errno));
                goto fail;
            }
        }
        struct stat out;
        st[i].out_is_pipe = fstat(st[i].out, &out) == 0 && S_ISFIFO(out.st_mode);
        if (pipe2(p, O_CLOEXEC) != 0) {
            rc = hg_error_set(err, HG_ESYS, "rank %d: pipe: %s", o->rank, strerror(errno));
            goto fail;
        }
        st[i].in = p[0];
        wr[i] = p[1];
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        rc = hg_error_set(err, HG_ESYS, "rank %d: fork: %s", o->rank, strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(wr[0]);
        close(wr[1]);
        run_relay(st, o->label ? label : NULL);
    }
    if (dup2(wr[0], STDOUT_FILENO) < 0 || dup2(wr[1], STDERR_FILENO) < 0) {
        /* The relay sees end of file and exits; nothing was redirected half-way that
         * matters more than this message. */
        rc = hg_error_set(err, HG_ESYS, "rank %d: dup2: %s", o->rank, strerror(errno));
    }
fail:
    for (int i = 0; i < 2; i++) {
        if (st[i].in >= 0)
            close(st[i].in);
        if (st[i].log >= 0)
            close(st[i].log);
        if (wr[i] >= 0)
            close(wr[i]);
    }
    return rc;
}
