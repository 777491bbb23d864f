/* Relaying the job's stderr, byte for byte. Only a line that begins with this job's
 * status prefix is held (at most HG_STATUS_LINE_MAX bytes) until its newline; any
 * other line is passed on as its bytes arrive, whatever its length, so a workload's
 * progress bars (no newline) and megabyte lines arrive unchanged. A copy of the start
 * of each line (SCAN_MAX bytes) is kept to read mpirun's failure report ("Process
 * name: [[J,S],R]" then "Exit code: N", or "process rank R ... exited on signal N"),
 * which names the first rank to fail. */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include "protocol.h"

#define SCAN_MAX 512

struct hg_progress {
    FILE *out;
    int world, tty;
    int ready, started, decision, report;
    int drawn;            /* a progress line is on the terminal */
    double last_plain;    /* when the last plain progress line was printed */
    int printed_ready;    /* ready count of that line */
    double now;
    int fail_rank, fail_status, fail_signal, pending_rank;
    char prefix[64];      /* "hgrid-status TOKEN: "; empty: no status lines */
    size_t prefix_len;
    /* The current line: held bytes while it may be a status line (passing = 0), or
     * already passed on (passing = 1) until its newline. */
    int passing;
    size_t held;
    char hold[HG_STATUS_LINE_MAX + 1];
    size_t scanned;
    char scan[SCAN_MAX + 1];
};

hg_progress *hg_progress_new(FILE *out, int world, int tty, const char *token)
{
    hg_progress *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->out = out;
    p->world = world;
    p->tty = tty;
    p->decision = -1;
    p->fail_rank = p->pending_rank = -1;
    p->last_plain = -1;
    p->printed_ready = -1;
    if (token && *token && strlen(token) < sizeof(p->prefix) - 32) {
        snprintf(p->prefix, sizeof(p->prefix), "%s%s: ", HG_STATUS_PREFIX, token);
        p->prefix_len = strlen(p->prefix);
    }
    p->passing = p->prefix_len == 0;
    return p;
}

void hg_progress_free(hg_progress *p)
{
    free(p);
}

void hg_progress_clear(hg_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        p->drawn = 0;
    }
}

static void draw(hg_progress *p)
{
    if (p->tty) {
        fprintf(p->out, "\r\033[Khgrid: %d/%d ranks ready, %.1f s", p->ready, p->world, p->now);
        p->drawn = 1;
    } else if (p->ready != p->printed_ready
               && (p->ready == p->world || p->now - p->last_plain >= 1.0)) {
        /* Throttled: at 10,000 ranks one line per arrival would drown the log. */
        fprintf(p->out, "hgrid: %d/%d ranks ready, %.1f s\n", p->ready, p->world, p->now);
        p->last_plain = p->now;
        p->printed_ready = p->ready;
    }
}

static void status_line(hg_progress *p, const char *s)
{
    int n, w;
    if (strcmp(s, HG_STATUS_STARTED) == 0)
        p->started = 1;
    else if (strcmp(s, HG_STATUS_GO) == 0)
        p->decision = 1;
    else if (strcmp(s, HG_STATUS_NO_GO) == 0)
        p->decision = 0;
    else if (strcmp(s, HG_STATUS_REPORT) == 0)
        p->report = 1;
    else if (sscanf(s, HG_STATUS_READY, &n, &w) == 2 && n >= 0 && n <= p->world) {
        p->started = 1;
        p->ready = n;
        draw(p);
    }
}

/* mpirun names the first failing process in a block of lines; keep the first. */
static void scan_mpirun(hg_progress *p, const char *s)
{
    const char *q;
    int a, b, r, code;
    if ((q = strstr(s, "Process name: [[")) && sscanf(q, "Process name: [[%d,%d],%d]", &a, &b, &r) == 3)
        p->pending_rank = r;
    else if ((q = strstr(s, "process rank ")) && sscanf(q, "process rank %d with PID %*d on node %*s exited on signal %d", &r, &code) == 2) {
        if (p->fail_rank < 0) {
            p->fail_rank = r;
            p->fail_signal = code;
        }
    } else if (p->pending_rank >= 0 && (q = strstr(s, "Exit code:")) && sscanf(q, "Exit code: %d", &code) == 1) {
        if (p->fail_rank < 0) {
            p->fail_rank = p->pending_rank;
            p->fail_status = code;
        }
        p->pending_rank = -1;
    }
}

static void pass(hg_progress *p, const char *s, size_t n)
{
    if (n == 0)
        return;
    hg_progress_clear(p);
    fwrite(s, 1, n, p->out);
}

static void end_line(hg_progress *p)
{
    p->scan[p->scanned] = '\0';
    scan_mpirun(p, p->scan);
    p->scanned = 0;
    p->held = 0;
    p->passing = p->prefix_len == 0;
}

static void keep_scan(hg_progress *p, const char *s, size_t n)
{
    size_t room = SCAN_MAX - p->scanned;
    n = n < room ? n : room;
    memcpy(p->scan + p->scanned, s, n);
    p->scanned += n;
}

/* The held bytes turned out not to be a status line: pass them on, and the rest. */
static void give_up_hold(hg_progress *p)
{
    pass(p, p->hold, p->held);
    p->held = 0;
    p->passing = 1;
}

void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now)
{
    size_t i = 0;
    p->now = now;
    while (i < n) {
        if (p->passing) {
            const char *nl = memchr(buf + i, '\n', n - i);
            size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
            pass(p, buf + i, len);
            keep_scan(p, buf + i, len);
            i += len;
            if (nl) {
                end_line(p);
                if (p->tty && p->ready < p->world && p->ready > 0)
                    draw(p);
            }
            continue;
        }
        char c = buf[i++];
        if (c == '\n') {
            if (p->held >= p->prefix_len) {
                p->hold[p->held] = '\0';
                status_line(p, p->hold + p->prefix_len);
                p->held = 0;
                p->scanned = 0;
                p->passing = 0;
            } else {
                give_up_hold(p);
                pass(p, "\n", 1);
                end_line(p);
            }
            continue;
        }
        p->hold[p->held++] = c;
        keep_scan(p, &c, 1);
        if ((p->held <= p->prefix_len && c != p->prefix[p->held - 1])
            || p->held >= HG_STATUS_LINE_MAX)
            give_up_hold(p);
    }
    fflush(p->out);
}

void hg_progress_finish(hg_progress *p)
{
    if (!p->passing && p->held)
        give_up_hold(p);
    end_line(p);
    hg_progress_clear(p);
    fflush(p->out);
}

void hg_progress_tick(hg_progress *p, double now)
{
    p->now = now;
    if (p->tty && p->ready > 0 && p->ready < p->world) {
        draw(p);
        fflush(p->out);
    }
}

int hg_progress_ready(const hg_progress *p) { return p->ready; }
int hg_progress_started(const hg_progress *p) { return p->started; }
int hg_progress_decision(const hg_progress *p) { return p->decision; }
int hg_progress_report_written(const hg_progress *p) { return p->report; }

int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal)
{
    if (p->fail_rank < 0)
        return -1;
    *rank = p->fail_rank;
    *status = p->fail_status;
    *signal = p->fail_signal;
    return 0;
}
