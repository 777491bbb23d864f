/* Relaying the job's stderr, byte for byte. A line is held only while its start may
 * still be one of the few lines read here: this job's status prefix (at most
 * HG_STATUS_LINE_MAX bytes, until its newline), a line of Open MPI's 74 dashes (which
 * opens or closes a boxed message), the first line of a box that is mpirun's noise, or
 * "mpirun: Forwarding signal N to job". Any other line is passed on as its bytes arrive,
 * whatever its length, so a workload's progress bars (no newline) and megabyte lines
 * arrive unchanged; hg_progress_tick releases a held start after HG_PROGRESS_HOLD_S. A
 * line of dashes is held until the next line shows whether it opens a noise box (then
 * the box, up to its closing line of dashes, goes to the noise sink) or not (then it
 * passes, as it came).
 *
 * Deadline messages (HG_STATUS_DEADLINE) are gathered by cause (timeout, phase, detail)
 * and printed as one line per cause with its ranks, once none has come for
 * HG_PROGRESS_DEADLINE_QUIET_S or at the end; nothing held is lost.
 *
 * A copy of the start of each line (SCAN_MAX bytes), diverted or not, is kept to read
 * mpirun's failure report ("Process name: [[J,S],R]" then "Exit code: N", or "process
 * rank R ... exited on signal N"), which names the first rank to fail. */
#include "stream/progress.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "stream/evloop.h"
#include "wire/line.h"
#include "wire/protocol.h"
#include "util/ranklist.h"

#define SCAN_MAX 512
/* Open MPI's show_help boxes: a line of this many dashes above and below the text. */
#define RULE_LEN 74
/* A noise box that does not close within this many lines was not one: the rest passes. */
#define NOISE_BOX_LINES_MAX 64
#define FORWARD_PREFIX "mpirun: Forwarding signal "

/* First lines of the boxes Open MPI 4.1's mpirun prints when a job ends early, all said
 * better by the launcher's closing line (which rank failed first, how). */
static const char *const noise_openers[] = {
    "Primary job  terminated normally",
    "mpirun detected that one or more processes exited with non-zero status",
    "mpirun noticed that process rank ",
    "mpirun noticed that the job aborted",
    /* Ranks torn down during their start (a deadline, a failed peer) whose shared-memory
     * transport finds its segment already removed. */
    "A system call failed during shared memory initialization that should",
    /* The daemon boxes (daemon_boxes below): one hgrid line each, naming the host. */
    "ORTE was unable to reliably start one or more daemons",
    "An ORTE daemon has unexpectedly failed after launch",
    "ORTE has lost communication with a remote daemon",
    NULL,
};

/* Boxes that mean a host is gone or never came: the opener, and what hgrid says of the
 * host (named in the box as "Remote daemon: [[J,S],D] on node HOST", else by the rsh
 * agent's last "ssh: connect to host HOST ..." line before it, else unknown). */
static const struct {
    const char *opener, *how;
} daemon_boxes[] = {
    { "ORTE was unable to reliably start one or more daemons", "mpirun could not start its daemon on it" },
    { "An ORTE daemon has unexpectedly failed after launch", "mpirun's daemon on it failed" },
    { "ORTE has lost communication with a remote daemon", "mpirun lost its daemon on it" },
    { NULL, NULL },
};

/* Single lines that the MPI runtime's libraries (PMIx, libevent) and srun print while a
 * job is torn down, all said better by the launcher's closing line. %h: a host name,
 * %d: a number; the launcher's own process ("[HOST:PID] " with mpirun's PID, e.g. its
 * crash in PMIx_server_finalize) is added by hg_progress_set_launcher_pid. */
static const char *const noise_lines[] = {
    "[%h:%d] PMIX ERROR: ",
    "[%h:%d] pmix_",
    "[warn] Epoll ",
    "mpirun: abort is already in progress",
    "srun: error: %h: task",
    "srun: Force Terminated ",
    "srun: Job step aborted",
    "srun: error: Node failure on ",
    "srun: error: Nodes %h are still not ready",
    NULL,
};

enum line_mode { LINE_HOLD, LINE_OUT, LINE_NOISE };
/* What the held start of a line may still become. */
enum { MAY_STATUS = 1, MAY_RULE = 2, MAY_FORWARD = 4, MAY_OPENER = 8, MAY_LINE = 16 };

typedef struct deadline_group {
    int timeout_s;
    char *cause; /* "PHASE" or "PHASE: DETAIL" */
    int *ranks;
    size_t n, cap, unknown;
} deadline_group;

struct hg_progress {
    FILE *out, *noise;
    size_t noise_count;
    int world, tty;
    int ready, started, decision, report;
    int drawn;            /* a progress line is on the terminal */
    double last_plain;    /* when the last plain progress line was printed */
    int printed_ready;    /* ready count of that line */
    double now;
    int fail_rank, fail_status, fail_signal, pending_rank;
    char launcher[32];    /* "[%h:PID] ", mpirun's own lines; empty: none */
    char prefix[HG_LINE_PREFIX_MAX]; /* "hgrid-status TOKEN: "; empty: no status lines */
    size_t prefix_len;
    /* The current line: its start held while it may be a line read here (LINE_HOLD),
     * or on its way to out or the noise sink until its newline. */
    enum line_mode mode;
    size_t held;
    char hold[HG_STATUS_LINE_MAX + 1];
    double hold_since;
    int rule_held;        /* a line of dashes is held: the next line says whose it is */
    int in_noise;         /* inside a noise box: up to its closing line of dashes */
    int box_lines;
    size_t scanned;
    char scan[SCAN_MAX + 1];
    int daemon_box;       /* in_noise box is daemon_boxes[daemon_box - 1]; 0: not one */
    char box_host[128];   /* the host a daemon box named */
    char ssh_host[128];   /* the host of the last passed "ssh: ... host HOST" line */
    char lost_host[128];  /* the first host mpirun or srun said is gone; "" none */
    const char *lost_how;
    deadline_group *dl;
    size_t ndl, dl_cap;
    double dl_last;       /* when the last deadline message came */
    size_t deadlines;     /* deadline messages seen in all */
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
    p->prefix_len = hg_line_status_prefix(p->prefix, sizeof(p->prefix), token);
    p->mode = LINE_HOLD;
    return p;
}

static void free_deadlines(hg_progress *p)
{
    for (size_t i = 0; i < p->ndl; i++) {
        free(p->dl[i].cause);
        free(p->dl[i].ranks);
    }
    p->ndl = 0;
}

void hg_progress_free(hg_progress *p)
{
    if (!p)
        return;
    free_deadlines(p);
    free(p->dl);
    free(p);
}

void hg_progress_set_noise(hg_progress *p, FILE *sink)
{
    p->noise = sink;
}

/* Open MPI writes its process name as "[HOST:%05d]": pid 6367 is "[vm:06367]". */
void hg_progress_set_launcher_pid(hg_progress *p, long pid)
{
    snprintf(p->launcher, sizeof(p->launcher), "[%%h:%05ld] ", pid);
}

size_t hg_progress_noise_count(const hg_progress *p)
{
    return p->noise_count;
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

static int by_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

static const char *const phase_names[] = HG_PHASE_NAMES;
#define NPHASES (sizeof(phase_names) / sizeof(phase_names[0]))

/* The position of a cause's phase ("PHASE" or "PHASE: DETAIL") in pre-flight; a phase
 * this launcher does not know (a newer agent's) comes after every known one. */
static size_t phase_of(const char *cause)
{
    size_t len = strcspn(cause, ":");
    for (size_t i = 0; i < NPHASES; i++)
        if (strlen(phase_names[i]) == len && strncmp(cause, phase_names[i], len) == 0)
            return i;
    return NPHASES;
}

/* Earliest phase first (those ranks held up the others: the cause), then the lowest
 * rank, after the groups' ranks are sorted; unknown-only groups last within a phase. */
static int by_phase_then_rank(const void *x, const void *y)
{
    const deadline_group *a = x, *b = y;
    size_t pa = phase_of(a->cause), pb = phase_of(b->cause);
    long ra = a->n ? (long)a->ranks[0] : LONG_MAX, rb = b->n ? (long)b->ranks[0] : LONG_MAX;
    if (pa != pb)
        return pa < pb ? -1 : 1;
    return (ra > rb) - (ra < rb);
}

/* "rank 3", "ranks 0-5, 9", "2 ranks (numbers unknown)", "ranks 0-5 and 1 more (number
 * unknown)": n sorted distinct ranks and unknown more. */
static void describe_ranks(const int *ranks, size_t n, size_t unknown, char *who, size_t len)
{
    char list[1024];
    hg_ranklist_format(ranks, n, list, sizeof(list));
    if (n == 0)
        snprintf(who, len, unknown == 1 ? "rank ?" : "%zu ranks (numbers unknown)", unknown);
    else
        snprintf(who, len, "%s %s", n == 1 ? "rank" : "ranks", list);
    if (n && unknown)
        snprintf(who + strlen(who), len - strlen(who), " and %zu more (number%s unknown)",
                 unknown, unknown == 1 ? "" : "s");
}

/* Who the groups dl[0..k) are together (the earliest phase's, which may differ in
 * timeout or detail): one list, each rank once. */
static void describe_groups(const deadline_group *dl, size_t k, char *who, size_t len)
{
    size_t total = 0, n = 0, unknown = 0;
    for (size_t i = 0; i < k; i++) {
        total += dl[i].n;
        unknown += dl[i].unknown;
    }
    int *all = malloc((total ? total : 1) * sizeof(*all));
    if (!all) {
        snprintf(who, len, "the ranks above");
        return;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < dl[i].n; j++)
            all[n++] = dl[i].ranks[j];
    qsort(all, n, sizeof(*all), by_int);
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (m == 0 || all[j] != all[m - 1])
            all[m++] = all[j];
    describe_ranks(all, m, unknown, who, len);
    free(all);
}

static void print_deadline(hg_progress *p, int rank, int timeout_s, const char *cause)
{
    char who[24];
    if (rank >= 0)
        snprintf(who, sizeof(who), "rank %d", rank);
    else
        snprintf(who, sizeof(who), "rank ?");
    hg_progress_clear(p);
    fprintf(p->out, "hgrid: %s: " HG_DEADLINE_TEXT "\n", who, timeout_s, cause);
}

/* One line per group: "hgrid: ranks 0-5, 9: readiness deadline of 1 s passed in phase
 * bootstrap", as the agent's own line reads for one rank; the earliest phase first. A
 * group in a later phase waited for those ranks (every phase ends in a step all ranks
 * take part in; a rank in bridges or readiness waits for peers or the coordinator), so
 * its line says so instead of reading as a cause of its own: a bridge peer or the
 * coordinator is not to blame for ranks that were slow to start. */
static void flush_deadlines(hg_progress *p)
{
    if (!p->ndl)
        return;
    for (size_t i = 0; i < p->ndl; i++) {
        deadline_group *g = &p->dl[i];
        size_t k = 0;
        if (g->n) /* ranks is NULL in a group of unknown ranks only */
            qsort(g->ranks, g->n, sizeof(*g->ranks), by_int);
        for (size_t j = 0; j < g->n; j++) /* one rank's message twice is one rank */
            if (k == 0 || g->ranks[j] != g->ranks[k - 1])
                g->ranks[k++] = g->ranks[j];
        g->n = k;
    }
    qsort(p->dl, p->ndl, sizeof(*p->dl), by_phase_then_rank);
    size_t first = phase_of(p->dl[0].cause), nfirst = 0;
    char cause[1200] = "";
    while (nfirst < p->ndl && phase_of(p->dl[nfirst].cause) == first)
        nfirst++;
    if (nfirst < p->ndl && first < NPHASES)
        describe_groups(p->dl, nfirst, cause, sizeof(cause));
    hg_progress_clear(p);
    for (size_t i = 0; i < p->ndl; i++) {
        const deadline_group *g = &p->dl[i];
        char who[1100];
        size_t phase = phase_of(g->cause);
        describe_ranks(g->ranks, g->n, g->unknown, who, sizeof(who));
        fprintf(p->out, "hgrid: %s: " HG_DEADLINE_TEXT, who, g->timeout_s, g->cause);
        if (cause[0] && phase > first && phase < NPHASES)
            fprintf(p->out, HG_DEADLINE_BEHIND, cause, phase_names[first]);
        fputc('\n', p->out);
    }
    free_deadlines(p);
    fflush(p->out);
}

static void add_deadline(hg_progress *p, int rank, int timeout_s, const char *cause)
{
    deadline_group *g = NULL;
    p->dl_last = p->now;
    for (size_t i = 0; i < p->ndl && !g; i++)
        if (p->dl[i].timeout_s == timeout_s && strcmp(p->dl[i].cause, cause) == 0)
            g = &p->dl[i];
    if (!g) {
        if (p->ndl == p->dl_cap) {
            size_t cap = p->dl_cap ? 2 * p->dl_cap : 4;
            deadline_group *dl = realloc(p->dl, cap * sizeof(*dl));
            if (!dl)
                goto alone;
            p->dl = dl;
            p->dl_cap = cap;
        }
        g = &p->dl[p->ndl];
        memset(g, 0, sizeof(*g));
        g->timeout_s = timeout_s;
        if (!(g->cause = strdup(cause)))
            goto alone;
        p->ndl++;
    }
    if (rank < 0) {
        g->unknown++;
        return;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        int *r = realloc(g->ranks, cap * sizeof(*r));
        if (!r)
            goto alone;
        g->ranks = r;
        g->cap = cap;
    }
    g->ranks[g->n++] = rank;
    return;
alone:
    print_deadline(p, rank, timeout_s, cause); /* out of memory: said alone, not lost */
}

static void status_line(hg_progress *p, const char *s)
{
    int n, w, off = -1;
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
    } else if (sscanf(s, HG_STATUS_DEADLINE "%n", &n, &w, &off) == 2 && off > 0 && s[off]
               && n >= -1 && (p->world <= 0 || n < p->world) && w > 0) {
        p->started = 1;
        p->deadlines++;
        add_deadline(p, n, w, s + off);
    }
}

/* mpirun or srun said host is gone: one line, the first such host kept for the
 * supervisor (a later one is said too: the job may have lost more than one). */
static void say_lost(hg_progress *p, const char *host, const char *how)
{
    hg_progress_clear(p);
    if (host && *host) {
        fprintf(p->out, "hgrid: host %s lost: %s\n", host, how);
        if (!p->lost_host[0]) {
            snprintf(p->lost_host, sizeof(p->lost_host), "%s", host);
            p->lost_how = how;
        }
    } else {
        fprintf(p->out, "hgrid: %s on a host it does not name (Open MPI's message: "
                "--log-dir's mpirun.stderr)\n", how);
    }
}

/* A daemon box closes (or the stream ends inside one): its line. */
static void end_daemon_box(hg_progress *p)
{
    if (!p->daemon_box)
        return;
    const char *how = daemon_boxes[p->daemon_box - 1].how;
    if (!p->box_host[0] && p->daemon_box != 3)
        snprintf(p->box_host, sizeof(p->box_host), "%s", p->ssh_host);
    if (p->box_host[0])
        say_lost(p, p->box_host, how);
    else
        say_lost(p, NULL, p->daemon_box == 3 ? "mpirun lost its daemon"
                                             : "mpirun could not start its daemon");
    p->daemon_box = 0;
    p->box_host[0] = '\0';
}

/* Host names in what mpirun, srun and ssh print, of a line that ended: srun's single
 * lines and a daemon box's "Remote daemon:" line (diverted, noise), ssh's (passed). */
static void scan_hosts(hg_progress *p, const char *s, int noise)
{
    char host[128];
    const char *q;
    if (!noise) {
        if ((q = strstr(s, "ssh: connect to host ")) && sscanf(q, "ssh: connect to host %127s", host) == 1)
            snprintf(p->ssh_host, sizeof(p->ssh_host), "%s", host);
        else if ((q = strstr(s, "ssh: Could not resolve hostname ")) && sscanf(q, "ssh: Could not resolve hostname %127[^: ]", host) == 1)
            snprintf(p->ssh_host, sizeof(p->ssh_host), "%s", host);
        return;
    }
    if (p->in_noise && p->daemon_box && (q = strstr(s, "Remote daemon:"))
        && (q = strstr(q, " on node ")) && sscanf(q, " on node %127s", host) == 1)
        snprintf(p->box_host, sizeof(p->box_host), "%s", host);
    else if (sscanf(s, "srun: error: Node failure on %127s", host) == 1)
        say_lost(p, host, "SLURM reported a node failure");
    else if (sscanf(s, "srun: error: Nodes %127s are still not ready", host) == 1)
        say_lost(p, host, "SLURM reported it not ready");
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

static void divert(hg_progress *p, const char *s, size_t n)
{
    if (n && p->noise)
        fwrite(s, 1, n, p->noise);
}

/* A line of dashes, which was held or closes a noise box. */
static void rule_to(hg_progress *p, int noise)
{
    char rule[RULE_LEN + 1];
    memset(rule, '-', RULE_LEN);
    rule[RULE_LEN] = '\n';
    if (noise)
        divert(p, rule, sizeof(rule));
    else
        pass(p, rule, sizeof(rule));
}

static void keep_scan(hg_progress *p, const char *s, size_t n)
{
    size_t room = SCAN_MAX - p->scanned;
    n = n < room ? n : room;
    memcpy(p->scan + p->scanned, s, n);
    p->scanned += n;
}

/* A new line begins: held until it shows what it is. */
static void next_line(hg_progress *p)
{
    p->scanned = 0;
    p->held = 0;
    p->mode = LINE_HOLD;
}

/* The end of a line that went to out or the noise sink. */
static void end_line(hg_progress *p)
{
    p->scan[p->scanned] = '\0';
    scan_mpirun(p, p->scan);
    scan_hosts(p, p->scan, p->mode == LINE_NOISE);
    if (p->mode == LINE_NOISE && p->in_noise && ++p->box_lines > NOISE_BOX_LINES_MAX) {
        p->in_noise = 0; /* no closing line: the rest is not mpirun's box */
        end_daemon_box(p);
    }
    next_line(p);
}

/* The held line of dashes opens no noise box (or closes a box that passed): it passes. */
static void release_rule(hg_progress *p)
{
    if (p->rule_held) {
        rule_to(p, 0);
        p->rule_held = 0;
    }
}

/* The held start of the line is no line read here: on with it, and with the rest. */
static void give_up_hold(hg_progress *p)
{
    release_rule(p);
    if (p->in_noise) {
        divert(p, p->hold, p->held);
        p->mode = LINE_NOISE;
    } else {
        pass(p, p->hold, p->held);
        p->mode = LINE_OUT;
    }
    p->held = 0;
}

static int literal_may(const char *held, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return memcmp(held, lit, n < m ? n : m) == 0;
}

/* 2: the n bytes of s begin with pat, 1: they may still, 0: they cannot. %h: a host
 * name (a letter or digit, then those, '.', '-', '_'), so a bar drawn as "[---" is never
 * held; %d: digits. */
static int pattern_may(const char *s, size_t n, const char *pat)
{
    size_t i = 0;
    for (const char *q = pat; *q; q++) {
        if (q[0] == '%' && (q[1] == 'h' || q[1] == 'd')) {
            size_t from = i;
            while (i < n && (q[1] == 'd' ? isdigit((unsigned char)s[i])
                             : isalnum((unsigned char)s[i])
                                   || (i > from && strchr(".-_", s[i]))))
                i++;
            if (i == n)
                return 1;
            if (i == from)
                return 0;
            q++;
            continue;
        }
        if (i == n)
            return 1;
        if (s[i++] != *q)
            return 0;
    }
    return 2;
}

/* The best of the noise lines' answers for the held start: 2, 1 or 0 as pattern_may. */
static int noise_line_may(const hg_progress *p)
{
    int best = 0;
    for (int i = 0; noise_lines[i] && best < 2; i++) {
        int m = pattern_may(p->hold, p->held, noise_lines[i]);
        best = m > best ? m : best;
    }
    if (p->launcher[0] && best < 2) {
        int m = pattern_may(p->hold, p->held, p->launcher);
        best = m > best ? m : best;
    }
    return best;
}

static int held_may(const hg_progress *p)
{
    int may = 0;
    size_t n = p->held;
    if (p->prefix_len && literal_may(p->hold, n, p->prefix))
        may |= MAY_STATUS;
    if (n <= RULE_LEN && strspn(p->hold, "-") == n)
        may |= MAY_RULE;
    if (!p->in_noise && literal_may(p->hold, n, FORWARD_PREFIX))
        may |= MAY_FORWARD;
    if (p->rule_held)
        for (int i = 0; noise_openers[i]; i++)
            if (literal_may(p->hold, n, noise_openers[i]))
                may |= MAY_OPENER;
    if (!p->in_noise && noise_line_may(p))
        may |= MAY_LINE;
    return may;
}

/* A held start that is the first line of a noise box: the box goes to the sink. */
static int opens_noise(const hg_progress *p)
{
    for (int i = 0; noise_openers[i]; i++) {
        size_t m = strlen(noise_openers[i]);
        if (p->held >= m && memcmp(p->hold, noise_openers[i], m) == 0)
            return 1;
    }
    return 0;
}

static int is_rule(const hg_progress *p)
{
    return p->held == RULE_LEN && strspn(p->hold, "-") == RULE_LEN;
}

static int is_forward(const hg_progress *p)
{
    int sig, end = -1;
    return p->held > strlen(FORWARD_PREFIX)
        && sscanf(p->hold, FORWARD_PREFIX "%d to job%n", &sig, &end) == 1
        && end == (int)p->held;
}

/* The newline of a held line: it is complete, say what it was. */
static void end_held_line(hg_progress *p)
{
    p->hold[p->held] = '\0';
    if (p->prefix_len && p->held >= p->prefix_len
        && memcmp(p->hold, p->prefix, p->prefix_len) == 0) {
        status_line(p, p->hold + p->prefix_len);
        next_line(p);
        return;
    }
    if (is_rule(p)) {
        /* Outside a noise box a line of dashes may open one (the next line tells) or
         * close a box that passed, or be a workload's: it is held in every case, so a
         * box that passed can never make the next noise box's opening line look like
         * its end. */
        if (p->in_noise) {
            rule_to(p, 1);
            p->in_noise = 0;
            end_daemon_box(p);
        } else {
            release_rule(p);
            p->rule_held = 1;
            p->hold_since = p->now;
        }
        next_line(p);
        return;
    }
    if (!p->in_noise && is_forward(p)) {
        divert(p, p->hold, p->held);
        divert(p, "\n", 1);
        p->noise_count++;
        next_line(p);
        return;
    }
    give_up_hold(p);
    if (p->mode == LINE_NOISE)
        divert(p, "\n", 1);
    else
        pass(p, "\n", 1);
    end_line(p);
}

void hg_progress_feed(hg_progress *p, const char *buf, size_t n, double now)
{
    size_t i = 0;
    p->now = now;
    while (i < n) {
        if (p->mode != LINE_HOLD) {
            const char *nl = memchr(buf + i, '\n', n - i);
            size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
            int out = p->mode == LINE_OUT;
            if (out)
                pass(p, buf + i, len);
            else
                divert(p, buf + i, len);
            keep_scan(p, buf + i, len);
            i += len;
            if (nl) {
                end_line(p);
                if (out && p->tty && p->ready < p->world && p->ready > 0)
                    draw(p);
            }
            continue;
        }
        char c = buf[i++];
        if (c == '\n') {
            end_held_line(p);
            continue;
        }
        if (p->held == 0 && !p->rule_held)
            p->hold_since = now;
        p->hold[p->held++] = c;
        p->hold[p->held] = '\0';
        keep_scan(p, &c, 1);
        int may = held_may(p);
        if ((may & MAY_LINE) && !(may & MAY_STATUS) && noise_line_may(p) == 2) {
            /* One line of noise: it and the rest of it go to the sink. */
            release_rule(p);
            p->noise_count++;
            divert(p, p->hold, p->held);
            p->held = 0;
            p->mode = LINE_NOISE;
        } else if ((may & MAY_OPENER) && opens_noise(p)) {
            rule_to(p, 1);
            p->rule_held = 0;
            p->in_noise = 1;
            p->box_lines = 0;
            p->daemon_box = 0;
            for (int k = 0; daemon_boxes[k].opener; k++)
                if (p->held >= strlen(daemon_boxes[k].opener)
                    && memcmp(p->hold, daemon_boxes[k].opener, strlen(daemon_boxes[k].opener)) == 0)
                    p->daemon_box = k + 1;
            p->noise_count++;
            divert(p, p->hold, p->held);
            p->held = 0;
            p->mode = LINE_NOISE;
        } else if (!may || p->held >= HG_STATUS_LINE_MAX) {
            give_up_hold(p);
        }
    }
    fflush(p->out);
    if (p->noise && p->noise != p->out)
        fflush(p->noise);
}

/* Whatever is held passes on: the stream ended, or it waited long enough. */
static void release_held(hg_progress *p)
{
    if (p->mode == LINE_HOLD && p->held)
        give_up_hold(p);
    else
        release_rule(p);
}

void hg_progress_finish(hg_progress *p)
{
    release_held(p);
    end_line(p);
    end_daemon_box(p);
    flush_deadlines(p);
    hg_progress_clear(p);
    fflush(p->out);
    if (p->noise && p->noise != p->out)
        fflush(p->noise);
}

void hg_progress_tick(hg_progress *p, double now)
{
    p->now = now;
    if (p->ndl && now - p->dl_last >= HG_PROGRESS_DEADLINE_QUIET_S)
        flush_deadlines(p);
    /* A status line arrives whole (one write): only other held starts wait for time. */
    if ((p->rule_held || (p->mode == LINE_HOLD && p->held && !(held_may(p) & MAY_STATUS)))
        && now - p->hold_since >= HG_PROGRESS_HOLD_S) {
        release_held(p);
        fflush(p->out);
    }
    if (p->tty && p->ready > 0 && p->ready < p->world) {
        draw(p);
        fflush(p->out);
    }
}

double hg_progress_next_due(const hg_progress *p)
{
    double due = -1;
    if (p->ndl)
        due = hg_due_min(due, p->dl_last + HG_PROGRESS_DEADLINE_QUIET_S);
    if (p->rule_held || (p->mode == LINE_HOLD && p->held && !(held_may(p) & MAY_STATUS)))
        due = hg_due_min(due, p->hold_since + HG_PROGRESS_HOLD_S);
    /* The terminal's line counts the seconds while ranks get ready. */
    if (p->tty && p->ready > 0 && p->ready < p->world)
        due = hg_due_min(due, p->now + HG_PROGRESS_REDRAW_S);
    return due;
}

int hg_progress_ready(const hg_progress *p) { return p->ready; }
int hg_progress_started(const hg_progress *p) { return p->started; }
int hg_progress_decision(const hg_progress *p) { return p->decision; }
int hg_progress_report_written(const hg_progress *p) { return p->report; }
size_t hg_progress_deadlines(const hg_progress *p) { return p->deadlines; }

const char *hg_progress_lost_host(const hg_progress *p, const char **how)
{
    if (how)
        *how = p->lost_how;
    return p->lost_host[0] ? p->lost_host : NULL;
}

int hg_progress_first_failure(const hg_progress *p, int *rank, int *status, int *signal)
{
    if (p->fail_rank < 0)
        return -1;
    *rank = p->fail_rank;
    *status = p->fail_status;
    *signal = p->fail_signal;
    return 0;
}
