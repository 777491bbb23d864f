/* Output queues. A write to a pipe of at most PIPE_BUF bytes after POLLOUT does not
 * block, so pipes and sockets get chunks of that size; files and terminals take larger
 * ones. The buffer is compacted when its consumed head outgrows the live part, so a
 * steady stream costs amortized O(1) per byte. */
#include "outq.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hg_outq {
    int fd;
    int broken;
    int lost;        /* out of memory once: said so */
    size_t chunk;
    char *buf;
    size_t off, len, cap;
    FILE *stream;
};

hg_outq *hg_outq_new(int fd)
{
    struct stat st;
    hg_outq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->fd = fd;
    q->chunk = 1 << 16;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        q->chunk = PIPE_BUF;
    return q;
}

void hg_outq_free(hg_outq *q)
{
    if (!q)
        return;
    if (q->stream)
        fclose(q->stream);
    free(q->buf);
    free(q);
}

int hg_outq_fd(const hg_outq *q) { return q->fd; }
size_t hg_outq_pending(const hg_outq *q) { return q->len - q->off; }
int hg_outq_broken(const hg_outq *q) { return q->broken; }

int hg_outq_put(hg_outq *q, const void *data, size_t n)
{
    if (q->broken || n == 0)
        return 0;
    if (q->off > 0 && q->off >= q->len - q->off) {
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        char *b = realloc(q->buf, cap);
        if (!b) {
            if (!q->lost) {
                static const char msg[] = "\nhgrid: out of memory: some of the job's output was lost\n";
                q->lost = 1;
                (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
            }
            return -1;
        }
        q->buf = b;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, data, n);
    q->len += n;
    return 0;
}

void hg_outq_write_some(hg_outq *q)
{
    size_t n = hg_outq_pending(q);
    if (q->broken || n == 0)
        return;
    ssize_t w = write(q->fd, q->buf + q->off, n < q->chunk ? n : q->chunk);
    if (w > 0) {
        q->off += (size_t)w;
        if (q->off == q->len)
            q->off = q->len = 0;
    } else if (w < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        q->broken = 1; /* EPIPE, EBADF, EIO, ENOSPC: nobody can read what follows */
        q->off = q->len = 0;
    }
}

void hg_outq_drain(hg_outq *q)
{
    while (!q->broken && hg_outq_pending(q) > 0) {
        struct pollfd p = { q->fd, POLLOUT, 0 };
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            break;
        hg_outq_write_some(q);
    }
}

static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
    hg_outq_put(cookie, buf, n);
    return (ssize_t)n;
}

FILE *hg_outq_stream(hg_outq *q)
{
    if (!q->stream) {
        cookie_io_functions_t io = { .write = stream_write };
        q->stream = fopencookie(q, "w", io);
        if (q->stream)
            setvbuf(q->stream, NULL, _IONBF, 0);
    }
    return q->stream;
}
