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
#include <sys/stat.h>
#include <unistd.h>

#include "intparse.h"
#include "protocol.h"

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

typedef struct stream {
    int in, out, log;
    int at_line_start;
    int out_ok;  /* the reader of out is still there; the log keeps everything anyway */
} stream;

static void log_bytes(stream *s, const char *p, size_t n)
{
    if (s->log >= 0 && write_all(s->log, p, n) != 0) {
        close(s->log);
        s->log = -1;
    }
}

/* Line by line: the label goes before each line that starts here, except before the
 * launcher's status lines (hg_init's coordinator writes them in process, each in one
 * write at a line start), which pass unlabelled and stay out of the logs: they are
 * the launcher's, not PROGRAM's. A labelled line that fits in PIPE_BUF goes out in one
 * write with its label, so whoever merges the ranks' streams (mpirun) cannot put
 * another rank's bytes between the two. */
static void relay_chunk(stream *s, const char *buf, size_t n, const char *label, size_t label_len,
                        const char *status, size_t status_len)
{
    char line[PIPE_BUF];
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        int is_status = s->at_line_start && status_len && nl && len > status_len
                        && memcmp(buf + i, status, status_len) == 0;
        int labelled = s->at_line_start && label_len && !is_status;
        if (!is_status)
            log_bytes(s, buf + i, len);
        if (s->out_ok && labelled && label_len + len <= sizeof(line)) {
            memcpy(line, label, label_len);
            memcpy(line + label_len, buf + i, len);
            s->out_ok = write_all(s->out, line, label_len + len) == 0;
        } else {
            if (s->out_ok && labelled)
                s->out_ok = write_all(s->out, label, label_len) == 0;
            if (s->out_ok)
                s->out_ok = write_all(s->out, buf + i, len) == 0;
        }
        s->at_line_start = nl != NULL;
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

static _Noreturn void run_relay(stream *st, const char *label)
{
    size_t label_len = label ? strlen(label) : 0;
    char status[128] = "";
    const char *token = getenv(HG_ENV_STATUS_TOKEN);
    if (token && *token && strlen(token) < 64)
        snprintf(status, sizeof(status), "%s%s: ", HG_STATUS_PREFIX, token);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    close_others(st);
    for (;;) {
        struct pollfd p[2];
        int n = 0, idx[2];
        for (int i = 0; i < 2; i++)
            if (st[i].in >= 0) {
                idx[n] = i;
                p[n++] = (struct pollfd){ st[i].in, POLLIN, 0 };
            }
        if (n == 0)
            _exit(0);
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        for (int k = 0; k < n; k++) {
            stream *s = &st[idx[k]];
            if (!p[k].revents)
                continue;
            char buf[65536];
            ssize_t got = read(s->in, buf, sizeof(buf));
            if (got > 0) {
                relay_chunk(s, buf, (size_t)got, label, label_len, s->out == STDERR_FILENO ? status : "",
                            s->out == STDERR_FILENO ? strlen(status) : 0);
            } else if (got == 0 || errno != EINTR) {
                close(s->in);
                s->in = -1;
            }
        }
    }
}

/* mkdir -p, as the standalone launcher does before mpirun starts: here every rank of
 * the job makes the same directory at the same moment, so a component someone else
 * has just made (EEXIST) is success. Returns 0 or an errno. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return errno;
        *p = c;
        if (!c)
            return 0;
    }
}

int hg_relay_start(const hg_relay_opts *o, hg_error *err)
{
    static const char *const names[2] = { "stdout", "stderr" };
    stream st[2] = { { -1, STDOUT_FILENO, -1, 1, 1 }, { -1, STDERR_FILENO, -1, 1, 1 } };
    int wr[2] = { -1, -1 }, rc = 0;
    char label[128];

    snprintf(label, sizeof(label), "[%d %s] ", o->rank, o->module);
    if (o->log_dir && (rc = make_dirs(o->log_dir)) != 0)
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
