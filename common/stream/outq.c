/* Output queues. A write to a pipe of at most PIPE_BUF bytes after POLLOUT does not
 * block, so pipes and sockets get chunks of that size; files and terminals take larger
 * ones. The buffer is compacted when its consumed head outgrows the live part, so a
 * steady stream costs amortized O(1) per byte. With a spill file, bytes beyond mem_max
 * go to the file's end and come back, in order, SPILL_CHUNK at a time once memory has
 * been written out; while the file holds bytes every new byte goes after them. */
#include "stream/outq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hg_outq {
    hg_outq *via;    /* the queue that holds this one's bytes (same destination), or NULL */
    void (*own)(void *); /* called before each write through the stream */
    void *own_arg;
    int fd;
    int broken;
    int lost;        /* out of memory once: said so */
    size_t chunk;
    char *buf;
    size_t off, len, cap;
    FILE *stream;
    char *spill_dir;
    size_t mem_max;
    int spill_fd;
    off_t spill_off, spill_len; /* read and write positions in the spill file */
};

#define SPILL_CHUNK ((size_t)1 << 20)

hg_outq *hg_outq_new(int fd)
{
    struct stat st;
    hg_outq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->fd = fd;
    q->spill_fd = -1;
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
    if (q->spill_fd >= 0)
        close(q->spill_fd);
    free(q->spill_dir);
    free(q->buf);
    free(q);
}

/* Same file or pipe: one queue holds the bytes of both, in the order they were put, and
 * writes them through the first descriptor, so nothing can split a record. */
int hg_outq_pair(int out_fd, int err_fd, hg_outq **out, hg_outq **err)
{
    struct stat a, b;
    *out = hg_outq_new(out_fd);
    *err = hg_outq_new(err_fd);
    if (!*out || !*err) {
        hg_outq_free(*out);
        hg_outq_free(*err);
        *out = *err = NULL;
        return -1;
    }
    if (fstat(out_fd, &a) == 0 && fstat(err_fd, &b) == 0 && a.st_dev == b.st_dev
        && a.st_ino == b.st_ino)
        (*err)->via = *out;
    return 0;
}

int hg_outq_same(const hg_outq *a, const hg_outq *b)
{
    return (a->via ? a->via : a) == (b->via ? b->via : b);
}

void hg_outq_on_own_write(hg_outq *q, void (*fn)(void *), void *arg)
{
    q->own = fn;
    q->own_arg = arg;
}

int hg_outq_fd(const hg_outq *q) { return q->fd; }
static size_t in_memory(const hg_outq *q) { return q->len - q->off; }
size_t hg_outq_spilled(const hg_outq *q)
{
    q = q->via ? q->via : q;
    return (size_t)(q->spill_len - q->spill_off);
}
size_t hg_outq_pending(const hg_outq *q)
{
    q = q->via ? q->via : q;
    return in_memory(q) + hg_outq_spilled(q);
}

void hg_outq_set_spill(hg_outq *q, const char *dir, size_t mem_max)
{
    if (q->via)
        return; /* the queue it writes through has its own */
    free(q->spill_dir);
    q->spill_dir = dir ? strdup(dir) : NULL;
    q->mem_max = mem_max;
}

/* Appends to the spill file (made on first use); -1 when it cannot be used. */
static int spill(hg_outq *q, const void *data, size_t n)
{
    if (q->spill_fd < 0) {
        char path[4096];
        if (!q->spill_dir || (size_t)snprintf(path, sizeof(path), "%s/.hgrid-spill-XXXXXX",
                                              q->spill_dir) >= sizeof(path))
            return -1;
        q->spill_fd = mkostemp(path, O_CLOEXEC);
        if (q->spill_fd < 0)
            return -1;
        unlink(path);
    }
    const char *p = data;
    while (n > 0) {
        ssize_t w = pwrite(q->spill_fd, p, n, q->spill_len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1; /* what was written stays; the rest goes to memory */
        p += w;
        n -= (size_t)w;
        q->spill_len += w;
    }
    return 0;
}

static int put_memory(hg_outq *q, const void *data, size_t n);

int hg_outq_put(hg_outq *q, const void *data, size_t n)
{
    q = q->via ? q->via : q;
    if (q->broken || n == 0)
        return 0;
    if (q->spill_dir && (hg_outq_spilled(q) > 0 || in_memory(q) + n > q->mem_max)) {
        off_t before = q->spill_len;
        if (spill(q, data, n) == 0)
            return 0;
        size_t done = (size_t)(q->spill_len - before);
        data = (const char *)data + done;
        n -= done;
        if (hg_outq_spilled(q) > 0)
            return -1; /* memory would put these bytes before the file's: lost, not reordered */
    }
    return put_memory(q, data, n);
}

static int put_memory(hg_outq *q, const void *data, size_t n)
{
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

/* Memory is empty and the file holds bytes: the next chunk of them into memory. */
static void refill(hg_outq *q)
{
    size_t n = hg_outq_spilled(q) < SPILL_CHUNK ? hg_outq_spilled(q) : SPILL_CHUNK;
    q->off = q->len = 0;
    if (n > q->cap) {
        char *b = realloc(q->buf, n);
        if (!b)
            return;
        q->buf = b;
        q->cap = n;
    }
    ssize_t got = pread(q->spill_fd, q->buf, n, q->spill_off);
    if (got <= 0) { /* the file went bad: what it held is lost, said once */
        static const char msg[] = "\nhgrid: cannot read back spilled output: some was lost\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        q->spill_off = q->spill_len;
    } else {
        q->len = (size_t)got;
        q->spill_off += got;
    }
    if (q->spill_off == q->spill_len) {
        q->spill_off = q->spill_len = 0;
        (void)!ftruncate(q->spill_fd, 0);
    }
}

void hg_outq_write_some(hg_outq *q)
{
    q = q->via ? q->via : q;
    if (in_memory(q) == 0 && hg_outq_spilled(q) > 0 && !q->broken)
        refill(q);
    size_t n = in_memory(q);
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
        q->spill_off = q->spill_len = 0;
    }
}

static ssize_t stream_write(void *cookie, const char *buf, size_t n)
{
    hg_outq *q = cookie;
    if (q->own)
        q->own(q->own_arg);
    hg_outq_put(q, buf, n);
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
