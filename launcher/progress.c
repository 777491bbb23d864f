/* Relaying the job's stderr. Lines are split here; a partial line is passed through
 * at once unless it could still become an `hgrid-status:` line, so a workload's own
 * progress bars (no newline) are not held back. mpirun's failure report
 * ("Process name: [[J,S],R]" then "Exit code: N", or "process rank R ... exited on
 * signal N") names the first rank to fail. */
#include "progress.h"

#include <stdlib.h>
#include <string.h>

#define STATUS_PREFIX "hgrid-status: "
#define LINE_MAX_BYTES 4096

struct hg_progress {
    FILE *out;
    int world, tty;
    int ready;
    int decided;          /* the coordinator said go or no-go */
    int drawn;            /* a progress line is on the terminal */
    double last_plain;    /* when the last plain progress line was printed */
    int printed_ready;    /* ready count of that line */
    double now;
    int fail_rank, fail_status, fail_signal, pending_rank;
    size_t n;
    char line[LINE_MAX_BYTES];
};

hg_progress *hg_progress_new(FILE *out, int world, int tty)
{
    hg_progress *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->out = out;
    p->world = world;
    p->tty = tty;
    p->fail_rank = p->pending_rank = -1;
    p->last_plain = -1;
    p->printed_ready = -1;
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
        fflush(p->out);
    } else if (p->ready != p->printed_ready
               && (p->ready == p->world || p->now - p->last_plain >= 1.0)) {
        /* Throttled: at 10,000 ranks one line per arrival would drown the log. */
        fprintf(p->out, "hgrid: %d/%d ranks ready, %.1f s\n", p->ready, p->world, p->now);
        p->last_plain = p->now;
        p->printed_ready = p->ready;
        fflush(p->out);
    }
}

static void status_line(hg_progress *p, const char *s)
{
    int n, w;
    if (strcmp(s, "go") == 0 || strcmp(s, "no-go") == 0) {
        p->decided = 1;
    } else if (sscanf(s, "ready %d/%d", &n, &w) == 2 && n >= 0 && n <= p->world) {
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
    hg_progress_clear(p);
    fwrite(s, 1, n, p->out);
}

static void complete_line(hg_progress *p)
{
    p->line[p->n] = '\0';
    if (strncmp(p->line, STATUS_PREFIX, strlen(STATUS_PREFIX)) == 0) {
        status_line(p, p->line + strlen(STATUS_PREFIX));
    } else {
        scan_mpirun(p, p->line);
        pass(p, p->line, p->n);
        fputc('\n', p->out);
        if (p->tty && p->ready < p->world && p->ready > 0)
            draw(p);
    }
    p->n = 0;
}

/* Whether the partial line could still turn out to be a status line. */
static int maybe_status(const hg_progress *p)
{
    size_t k = strlen(STATUS_PREFIX);
    return strncmp(p->line, STATUS_PREFIX, p->n < k ? p->n : k) == 0;
}

void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now)
{
    p->now = now;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            complete_line(p);
            continue;
        }
        if (p->n == sizeof(p->line) - 1)
            complete_line(p); /* an overlong line is passed through in pieces */
        p->line[p->n++] = buf[i];
    }
    if (p->n && !maybe_status(p)) {
        pass(p, p->line, p->n);
        p->n = 0;
    }
    fflush(p->out);
}

void hg_progress_finish(hg_progress *p)
{
    if (p->n)
        complete_line(p);
    hg_progress_clear(p);
    fflush(p->out);
}

void hg_progress_tick(hg_progress *p, double now)
{
    p->now = now;
    if (p->tty && p->ready > 0 && p->ready < p->world)
        draw(p);
}

int hg_progress_ready(const hg_progress *p) { return p->ready; }
int hg_progress_decided(const hg_progress *p) { return p->decided; }

int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal)
{
    if (p->fail_rank < 0)
        return -1;
    *rank = p->fail_rank;
    *status = p->fail_status;
    *signal = p->fail_signal;
    return 0;
}
