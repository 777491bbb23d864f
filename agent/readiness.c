/* Readiness: every rank's fixed-size record to the coordinator (rank 0), which prints
 * progress as records arrive, then the summary or the list of failed ranks, writes the
 * --report JSON, and broadcasts one decision, go or no-go, that every rank obeys.
 *
 * Progress goes to the launcher on the status channel (status.c; nothing without its
 * token): `ready N/WORLD` as records arrive, `failed rank R` for a failed one, then
 * `go` or `no-go`, then `report` once the --report file is written. Users read the
 * summary, or the failures: ranks that failed for the same reason in the same phase
 * share one line, so a job without GPUs says so once, not once per rank.
 *
 * The coordinator receives with one MPI_ANY_SOURCE request at a time (O(1) requests at
 * any scale) and polls it against the deadline. A rank that never
 * reports (hung, or stuck in a collective with one that is) cannot be told no-go: the
 * coordinator names the missing ranks and exits 124, and mpirun tears the job down.
 * A no-go where some rank's own step ran past the deadline (its record's code is
 * HG_ETIMEDOUT, as after an NCCL init that never settled) is a deadline too: every rank
 * returns HG_ETIMEDOUT and exits 124, while the coordinator still lists each reason.
 * A no-go where every failed rank's PROGRAM cannot run is a usage error: exit 2. */
#include "agent.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector.h"
#include "grid/config.h"
#include "grid/placement.h"
#include "wire/protocol.h"
#include "util/ranklist.h"
#include "wire/report.h"
#include "status.h"

enum { REC_READY = 0, REC_FAILED = 1, REC_SKIPPED = 2, REC_MISSING = 3 };
static const char *const status_names[] = { "ready", "failed", "skipped", "missing" };

#define TAG_READY 7301

/* Sent as bytes: agents of one job run one build on one kind of host. */
typedef struct hg_record {
    int32_t rank, status, code, phase, ncomms, local_rank;
    int32_t usage; /* the failure is PROGRAM's (it cannot run): the user's, exit 2 */
    int32_t links; /* bridge links proved with this rank as their sender */
    int32_t bgroups, bgroups_first; /* bridges' own groups proved with this rank in them,
                                     * and those whose lowest member it is */
    int32_t roots; /* NCCL bootstrap roots of its world init (0: no NCCL world) */
    int32_t gpu_measured;
    double times[HG_PHASE_TIMED];
    double gpu_mib[HG_PHASE_TIMED]; /* GPU memory taken in each phase, MiB */
    double elapsed;
    char host[64];
    char error[416];
} hg_record;

/* Past this many ranks, progress lines are throttled (the last one always shows). */
#define PROGRESS_EVERY_RANK 256
#define PROGRESS_INTERVAL_S 0.1

typedef struct coordinator {
    hg_agent *a;
    hg_record *rec; /* world records, indexed by rank */
    int arrived, ready, failed, skipped;
    double last_line;
    double elapsed;
} coordinator;

/* Truncating copy: a record has fixed-size text fields, and a cut message beats none. */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void fill_record(const hg_agent *a, const hg_error *own, hg_record *r)
{
    memset(r, 0, sizeof(*r));
    r->rank = a->id.rank;
    r->status = !own ? REC_READY : own->code == HG_EPEER ? REC_SKIPPED : REC_FAILED;
    r->code = own ? own->code : 0;
    r->phase = own ? (int)a->run.failed_phase : (int)HG_PHASE_READINESS;
    r->ncomms = own ? 0 : a->result.ncomms;
    r->roots = a->be->world_roots ? a->be->world_roots(&a->bk) : 0;
    r->gpu_measured = a->run.gpu_measured;
    memcpy(r->gpu_mib, a->run.gpu_mib, sizeof(r->gpu_mib));
    r->local_rank = a->id.local_rank;
    r->usage = own && a->result.usage_failed;
    r->links = a->result.bridge_links;
    r->bgroups = a->result.bridge_groups;
    r->bgroups_first = a->result.bridge_groups_first;
    memcpy(r->times, a->run.times, sizeof(r->times));
    r->elapsed = hg_now() - a->run.t0;
    copy_text(r->host, sizeof(r->host), a->id.host);
    if (own)
        copy_text(r->error, sizeof(r->error), own->msg);
}

static const char *module_of(const hg_agent *a, int rank)
{
    int mi = hg_layout_module_of(a->grid.layout, rank);
    return mi < 0 ? "?" : hg_layout_module(a->grid.layout, (size_t)mi)->name;
}

/* ", 3 bridge links sent" for a rank's line, or "" for none. */
static const char *links_text(int n)
{
    static __thread char buf[64];
    if (n == 0)
        return "";
    snprintf(buf, sizeof(buf), ", %d bridge link%s sent", n, n == 1 ? "" : "s");
    return buf;
}

/* ", 2 bridge links and 1 bridge group verified" (verb): the links, then the bridges'
 * own groups (one per bridge). */
static void bridges_text(int links, int groups, const char *verb, char *buf, size_t len)
{
    snprintf(buf, len, ", %d bridge link%s and %d bridge group%s %s", links, links == 1 ? "" : "s",
             groups, groups == 1 ? "" : "s", verb);
}

/* ", 1 bridge group" for a rank's line, or "" for none. */
static const char *groups_text(int n)
{
    static __thread char buf[64];
    if (n == 0)
        return "";
    snprintf(buf, sizeof(buf), ", %d bridge group%s", n, n == 1 ? "" : "s");
    return buf;
}

/* Every link of the layout's bridges (each leader of a bridge's larger side has one). */
static int layout_links(const hg_layout *l)
{
    int n = 0;
    for (size_t i = 0; i < hg_layout_bridge_count(l); i++)
        n += hg_layout_bridge(l, i)->nlinks;
    return n;
}

static void count_arrival(coordinator *c, const hg_record *r)
{
    hg_agent *a = c->a;
    double now = hg_now();
    c->arrived++;
    if (r->status == REC_READY)
        c->ready++;
    else if (r->status == REC_FAILED)
        c->failed++;
    else
        c->skipped++;
    if (r->status == REC_FAILED)
        hg_status(HG_STATUS_FAILED, r->rank);
    if (a->opts.verbose)
        fprintf(stderr, "hgrid: rank %d (%s) %s on %s, local rank %d, after %.2f s: bootstrap %.2f, "
                "gpu %.2f, world %.2f, groups %.2f, verify %.2f, bridges %.2f; %d communicators%s%s\n",
                r->rank, module_of(a, r->rank), status_names[r->status], r->host, r->local_rank,
                r->elapsed, r->times[0], r->times[1], r->times[2], r->times[3], r->times[4],
                r->times[5], r->ncomms, groups_text(r->bgroups), links_text(r->links));
    if (r->status == REC_READY
        && (a->opts.verbose || a->id.world <= PROGRESS_EVERY_RANK || c->ready == a->id.world
            || now - c->last_line >= PROGRESS_INTERVAL_S)) {
        hg_status(HG_STATUS_READY, c->ready, a->id.world);
        c->last_line = now;
    }
}

static int receive_all(coordinator *c, double deadline, hg_error *err)
{
    hg_agent *a = c->a;
    hg_record buf;
    MPI_Request req = MPI_REQUEST_NULL;
    unsigned spins = 0;
    int mrc;
    while (c->arrived < a->id.world) {
        int flag = 0;
        MPI_Status st;
        if (req == MPI_REQUEST_NULL
            && (mrc = MPI_Irecv(&buf, (int)sizeof(buf), MPI_BYTE, MPI_ANY_SOURCE, TAG_READY, a->id.ctrl, &req))
                   != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Irecv(readiness record)");
        if ((mrc = MPI_Test(&req, &flag, &st)) != MPI_SUCCESS)
            return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Test(readiness record)");
        if (flag) {
            int from = st.MPI_SOURCE;
            buf.rank = from; /* the sender is who MPI says it is */
            buf.status = buf.status < REC_READY || buf.status > REC_SKIPPED ? REC_FAILED : buf.status;
            buf.host[sizeof(buf.host) - 1] = buf.error[sizeof(buf.error) - 1] = '\0';
            if (c->rec[from].status == REC_MISSING) {
                c->rec[from] = buf;
                count_arrival(c, &buf);
            }
            spins = 0;
            continue;
        }
        if (hg_now() > deadline) {
            MPI_Cancel(&req);
            MPI_Request_free(&req);
            return HG_ETIMEDOUT;
        }
        /* Oversubscribed hosts (CI) need the core more than the coordinator does. */
        if (++spins > 100) {
            struct timespec ts = { 0, spins < 2000 ? 20000L : 200000L };
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/* The GPU memory a rank's communicators took: the sum over the phases that build or
 * first use them. */
static double gpu_total(const hg_record *r)
{
    double t = 0;
    for (int p = HG_PHASE_WORLD; p < HG_PHASE_TIMED; p++)
        t += r->gpu_mib[p];
    return t;
}

/* Every bridge's own group, for the report: members[b][0 .. size[b]), ascending. */
typedef struct bridge_groups {
    int n;
    int **members;
    int *size;
} bridge_groups;

static void bridge_groups_free(bridge_groups *bg)
{
    for (int i = 0; bg->members && i < bg->n; i++)
        free(bg->members[i]);
    free(bg->members);
    free(bg->size);
    memset(bg, 0, sizeof(*bg));
}

/* Returns 0, or -1 out of memory (then the report lists no groups). */
static int bridge_groups_of(const hg_layout *l, bridge_groups *bg)
{
    memset(bg, 0, sizeof(*bg));
    bg->n = (int)hg_layout_bridge_count(l);
    if (bg->n == 0)
        return 0;
    bg->members = calloc((size_t)bg->n, sizeof(*bg->members));
    bg->size = calloc((size_t)bg->n, sizeof(*bg->size));
    if (!bg->members || !bg->size) {
        bridge_groups_free(bg);
        return -1;
    }
    for (int i = 0; i < bg->n; i++) {
        const hg_bridge *b = hg_layout_bridge(l, (size_t)i);
        bg->size[i] = hg_bridge_group_size(b);
        if (!(bg->members[i] = malloc((size_t)bg->size[i] * sizeof(int)))) {
            bridge_groups_free(bg);
            return -1;
        }
        hg_bridge_group_members(l, b, bg->members[i]);
    }
    return 0;
}

static int by_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return a < b ? -1 : a > b;
}

/* The bridges' own groups that hold rank (its leaders'), layout order, as JSON arrays. */
static json_t *rank_bridge_groups(const bridge_groups *bg, int rank)
{
    json_t *out = json_array();
    for (int i = 0; out && i < bg->n; i++) {
        json_t *m;
        if (!bsearch(&rank, bg->members[i], (size_t)bg->size[i], sizeof(int), by_int))
            continue;
        if (!(m = json_array()) || json_array_append_new(out, m) != 0) {
            json_decref(out);
            return NULL;
        }
        for (int j = 0; j < bg->size[i]; j++)
            json_array_append_new(m, json_integer(bg->members[i][j]));
    }
    return out;
}

static json_t *record_json(const hg_agent *a, const bridge_groups *bg, const hg_record *r)
{
    json_t *times = json_object(), *mem = NULL;
    for (int p = 0; times && p < HG_PHASE_TIMED; p++)
        json_object_set_new(times, hg_phase_name((hg_phase)p),
                            r->status == REC_MISSING ? json_null() : json_real(r->times[p]));
    if (r->gpu_measured && r->status != REC_MISSING && (mem = json_object())) {
        for (int p = HG_PHASE_WORLD; p < HG_PHASE_TIMED; p++)
            json_object_set_new(mem, hg_phase_name((hg_phase)p), json_real(r->gpu_mib[p]));
        json_object_set_new(mem, "total", json_real(gpu_total(r)));
    }
    json_t *entry = hg_report_rank(r->rank, module_of(a, r->rank), status_names[r->status]);
    json_t *groups = rank_bridge_groups(bg, r->rank);
    json_t *rest = json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:o, s:i, s:o, s:o, s:f, s:s?}",
                             "host", r->host, "local_rank", r->local_rank, "phase",
                             r->status == REC_MISSING ? "?" : hg_phase_name((hg_phase)r->phase),
                             "communicators", r->ncomms, "nccl_roots", r->roots, "bridge_links",
                             r->links, "bridge_groups", groups ? groups : json_array(),
                             "bridge_groups_verified", r->bgroups, "times", times, "gpu_mib",
                             mem ? mem : json_null(), "elapsed_s", r->elapsed, "error",
                             r->error[0] ? r->error : NULL);
    if (hg_report_add(entry, rest) != 0) {
        json_decref(entry);
        return NULL;
    }
    return entry;
}

/* Over the ready ranks: communicators and GPU MiB per rank, lowest and highest; the
 * bootstrap roots of the NCCL world (the same on every rank). gpu_lo > gpu_hi: none
 * measured. */
typedef struct budget {
    int comms_lo, comms_hi, roots;
    double gpu_lo, gpu_hi;
} budget;

static budget budget_of(const coordinator *c)
{
    budget b = { 1 << 30, 0, 0, 1e300, -1e300 };
    for (int i = 0; i < c->a->id.world; i++) {
        const hg_record *r = &c->rec[i];
        if (r->status != REC_READY)
            continue;
        b.comms_lo = r->ncomms < b.comms_lo ? r->ncomms : b.comms_lo;
        b.comms_hi = r->ncomms > b.comms_hi ? r->ncomms : b.comms_hi;
        b.roots = r->roots > b.roots ? r->roots : b.roots;
        if (r->gpu_measured) {
            double t = gpu_total(r);
            b.gpu_lo = t < b.gpu_lo ? t : b.gpu_lo;
            b.gpu_hi = t > b.gpu_hi ? t : b.gpu_hi;
        }
    }
    if (b.comms_lo > b.comms_hi)
        b.comms_lo = b.comms_hi = 0;
    return b;
}

/* Returns 0 when the file is written. */
static int write_report(const coordinator *c, int go)
{
    const hg_agent *a = c->a;
    json_t *ranks = json_array();
    bridge_groups bg;
    (void)bridge_groups_of(a->grid.layout, &bg);
    for (int i = 0; ranks && i < a->id.world; i++)
        if (json_array_append_new(ranks, record_json(a, &bg, &c->rec[i])) != 0)
            break;
    bridge_groups_free(&bg);
    int verified = 0, groups_verified = 0;
    for (int i = 0; i < a->id.world; i++) {
        verified += c->rec[i].status == REC_READY ? c->rec[i].links : 0;
        groups_verified += c->rec[i].status == REC_READY ? c->rec[i].bgroups_first : 0;
    }
    budget b = budget_of(c);
    json_t *gpu = b.gpu_lo <= b.gpu_hi ? json_pack("{s:f, s:f}", "min", b.gpu_lo, "max", b.gpu_hi)
                                       : json_null();
    hg_report_head head = { a->id.world, hg_backend_name((hg_backend)a->set.backend),
                            hg_preflight_name((hg_preflight)a->set.preflight), b.roots,
                            a->set.timeout_s, go };
    json_t *root = hg_report_new(&head);
    json_t *rest = json_pack("{s:f, s:i, s:i, s:i, s:i, s:{s:i, s:i}, s:o, s:i, s:i, s:i, s:i, "
                             "s:o}",
                             "elapsed_s", c->elapsed, "ready", c->ready, "failed", c->failed,
                             "skipped", c->skipped, "missing", a->id.world - c->arrived,
                             "communicators_per_rank", "min", b.comms_lo, "max", b.comms_hi,
                             "gpu_mib_per_rank", gpu, "bridge_links",
                             layout_links(a->grid.layout), "bridge_links_verified", verified,
                             "bridge_groups", (int)hg_layout_bridge_count(a->grid.layout),
                             "bridge_groups_verified", groups_verified, "ranks", ranks);
    if (hg_report_add(root, rest) != 0) {
        json_decref(root);
        root = NULL;
    }
    return hg_report_write(root, a->opts.report_path, stderr) != 0;
}

/* The decision on the status channel, then the report (when asked for) and its line. */
static void announce(const coordinator *c, int go)
{
    hg_status("%s", go ? HG_STATUS_GO : HG_STATUS_NO_GO);
    if (c->a->opts.report_path && write_report(c, go) == 0)
        hg_status(HG_STATUS_REPORT);
}

/* One line: the slowest rank's time in each phase (bridges, only when the layout has
 * one: proving every bridge's links and boundary broadcasts), communicators per rank
 * (a bridge's own group is one on each of its leaders, unless its members are the
 * world's), and, when the layout has bridges, how many of their links and their own
 * groups were proved (each link counted once, by its sender; each group once, by its
 * lowest member; verify.c proves the groups with their all-reduce). */
static void print_summary(const coordinator *c)
{
    const hg_agent *a = c->a;
    double worst[HG_PHASE_TIMED] = { 0 };
    int links = 0, total = layout_links(a->grid.layout), groups = 0;
    int ngroups = (int)hg_layout_bridge_count(a->grid.layout);
    budget b = budget_of(c);
    char comms[32], bridges[96] = "", roots[64] = "", gpu[64] = "", depth[32] = "";
    char bridge_time[32] = "";
    for (int i = 0; i < a->id.world; i++) {
        for (int p = 0; p < HG_PHASE_TIMED; p++)
            if (c->rec[i].times[p] > worst[p])
                worst[p] = c->rec[i].times[p];
        links += c->rec[i].links;
        groups += c->rec[i].bgroups_first;
    }
    if (b.comms_lo == b.comms_hi)
        snprintf(comms, sizeof(comms), "%d", b.comms_lo);
    else
        snprintf(comms, sizeof(comms), "%d-%d", b.comms_lo, b.comms_hi);
    if (total > 0 && a->set.verify && a->set.preflight == HG_PREFLIGHT_FULL)
        bridges_text(links, groups, "verified", bridges, sizeof(bridges));
    else if (total > 0)
        bridges_text(total, ngroups, "not verified", bridges, sizeof(bridges));
    /* A layout without bridges has no bridges phase: "bridges 0.00" would read as a
     * phase that ran, fast. */
    if (hg_layout_bridge_count(a->grid.layout) > 0)
        snprintf(bridge_time, sizeof(bridge_time), ", bridges %.2f", worst[5]);
    if (b.roots == 1)
        snprintf(roots, sizeof(roots), ", 1 NCCL root");
    else if (b.roots > 1)
        snprintf(roots, sizeof(roots), ", %d NCCL roots (ncclCommInitRankScalable)", b.roots);
    /* Whole MiB: the driver hands out memory in 2 MiB pages. */
    if (b.gpu_lo <= b.gpu_hi && (long)(b.gpu_lo + 0.5) == (long)(b.gpu_hi + 0.5))
        snprintf(gpu, sizeof(gpu), ", %.0f MiB GPU memory/rank", b.gpu_lo);
    else if (b.gpu_lo <= b.gpu_hi)
        snprintf(gpu, sizeof(gpu), ", %.0f-%.0f MiB GPU memory/rank", b.gpu_lo, b.gpu_hi);
    if (a->set.preflight != HG_PREFLIGHT_FULL)
        snprintf(depth, sizeof(depth), ", pre-flight %s",
                 hg_preflight_name((hg_preflight)a->set.preflight));
    fprintf(stderr, "hgrid: %d/%d ranks ready in %.2f s (bootstrap %.2f, gpu %.2f, world %.2f, "
            "groups %.2f, verify %.2f%s; %s communicator%s/rank%s, %s backend%s%s%s)\n",
            c->ready, a->id.world, c->elapsed, worst[0], worst[1], worst[2], worst[3], worst[4],
            bridge_time, comms, b.comms_lo == 1 && b.comms_hi == 1 ? "" : "s", bridges,
            hg_backend_name((hg_backend)a->set.backend), roots, gpu, depth);
}

/* A record's message names its rank for the rank's own sake ("rank 5 on h: ..."); the
 * coordinator's line names it already, and lines of ranks that failed alike must read
 * alike. (The host ends at the first ": ": host names have no colon, and the record's
 * copy of the host may be cut.) */
static const char *failure_reason(const hg_record *r)
{
    char own[96];
    int n = snprintf(own, sizeof(own), "rank %d on ", r->rank);
    const char *end;
    if (n > 0 && strncmp(r->error, own, (size_t)n) == 0 && (end = strstr(r->error + n, ": ")))
        return end + 2;
    n = snprintf(own, sizeof(own), "rank %d: ", r->rank);
    if (n > 0 && strncmp(r->error, own, (size_t)n) == 0)
        return r->error + n;
    return r->error;
}

/* Failed records sorted by reason, then phase, then rank: a group of equal reasons is
 * one run. */
static int same_failure(const hg_record *a, const hg_record *b)
{
    return a->phase == b->phase && strcmp(failure_reason(a), failure_reason(b)) == 0;
}

static int by_reason(const void *x, const void *y)
{
    const hg_record *a = *(const hg_record *const *)x, *b = *(const hg_record *const *)y;
    int d = strcmp(failure_reason(a), failure_reason(b));
    if (d)
        return d;
    if (a->phase != b->phase)
        return a->phase < b->phase ? -1 : 1;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static int by_first_rank(const void *x, const void *y)
{
    const hg_record *const *a = *(const hg_record *const *const *)x;
    const hg_record *const *b = *(const hg_record *const *const *)y;
    return (*a)->rank < (*b)->rank ? -1 : (*a)->rank > (*b)->rank;
}

static int by_host(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* "host h" or "3 hosts: a, b, c" (sorted; shortened past a few). */
static void describe_hosts(const hg_record *const *g, size_t n, char *buf, size_t len)
{
    const char **h = malloc(n * sizeof(*h));
    size_t distinct = 0, used = 0;
    if (!h) {
        snprintf(buf, len, "host %s", g[0]->host);
        return;
    }
    for (size_t i = 0; i < n; i++)
        h[i] = g[i]->host;
    qsort(h, n, sizeof(*h), by_host);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(h[i], h[i - 1]) != 0)
            h[distinct++] = h[i];
    if (distinct == 1) {
        snprintf(buf, len, "host %s", h[0]);
    } else {
        used = (size_t)snprintf(buf, len, "%zu hosts: ", distinct);
        for (size_t i = 0; i < distinct && i < 4 && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", h[i]);
        if (distinct > 4 && used < len)
            snprintf(buf + used, len - used, ", ...");
    }
    free(h);
}

/* One line for ranks g[0..n) (by rank) that failed alike: their ranks, count, modules
 * (in config order), the reason, the phase and the hosts. */
static void print_group(const coordinator *c, const hg_record *const *g, size_t n)
{
    const hg_agent *a = c->a;
    size_t nmod = hg_layout_module_count(a->grid.layout), used = 0;
    char ranks[512], mods[512] = "", hosts[512];
    unsigned char *seen = calloc(nmod ? nmod : 1, 1);
    int *list = malloc(n * sizeof(*list));
    if (!seen || !list) {
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "hgrid: rank %d: %s\n", g[i]->rank, failure_reason(g[i]));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int mi = hg_layout_module_of(a->grid.layout, g[i]->rank);
        list[i] = g[i]->rank;
        if (mi >= 0 && (size_t)mi < nmod)
            seen[mi] = 1;
    }
    for (size_t m = 0; m < nmod && used < sizeof(mods); m++)
        if (seen[m])
            used += (size_t)snprintf(mods + used, sizeof(mods) - used, "%s%s", used ? ", " : "",
                                     hg_layout_module(a->grid.layout, m)->name);
    hg_ranklist_format(list, n, ranks, sizeof(ranks));
    describe_hosts(g, n, hosts, sizeof(hosts));
    fprintf(stderr, "hgrid: ranks %s (%zu ranks: %s): %s [phase %s, %s]\n", ranks, n, mods,
            failure_reason(g[0]), hg_phase_name((hg_phase)g[0]->phase), hosts);
out:
    free(seen);
    free(list);
}

/* A no-go with ranks out of time: the deadline first, then where the time went (the
 * slowest rank's time in each phase that ran), before the failure lines. A rank that ran
 * out of time in bridges or verify says its peer "sent nothing" or its step "did not
 * complete": true of that rank, yet when most of the time went to an earlier phase (64
 * ranks starting on a few cores), the cause is that phase, not the peer it names; the
 * line says so, so it is read first. */
static void print_deadline_cause(const coordinator *c)
{
    const hg_agent *a = c->a;
    double worst[HG_PHASE_TIMED] = { 0 };
    int late = HG_PHASE_TIMED, big = 0, nphase = hg_layout_bridge_count(a->grid.layout) > 0
                                                     ? HG_PHASE_TIMED : HG_PHASE_BRIDGES;
    char line[512];
    size_t used;
    for (int i = 0; i < a->id.world; i++) {
        const hg_record *r = &c->rec[i];
        if (r->status == REC_MISSING)
            continue;
        for (int p = 0; p < HG_PHASE_TIMED; p++)
            if (r->times[p] > worst[p])
                worst[p] = r->times[p];
        if (r->status == REC_FAILED && r->code == HG_ETIMEDOUT && r->phase < late)
            late = r->phase;
    }
    fprintf(stderr, "hgrid: readiness deadline of %d s passed on %d of %d ranks\n",
            a->set.timeout_s, a->result.decision.ntimedout, a->id.world);
    used = (size_t)snprintf(line, sizeof(line), "hgrid: where the %d s went (the slowest rank in "
                            "each phase):", a->set.timeout_s);
    for (int p = 0; p < nphase && used < sizeof(line); p++) {
        used += (size_t)snprintf(line + used, sizeof(line) - used, "%s %s %.2f s", p ? "," : "",
                                 hg_phase_name((hg_phase)p), worst[p]);
        if (worst[p] > worst[big])
            big = p;
    }
    if (big < late && late < HG_PHASE_TIMED && worst[big] >= 0.5 * a->set.timeout_s
        && used < sizeof(line))
        snprintf(line + used, sizeof(line) - used, "; most of it in %s: the ranks below ran out "
                 "of time in %s, which does not make the peers they name slow",
                 hg_phase_name((hg_phase)big), hg_phase_name((hg_phase)late));
    fprintf(stderr, "%s\n", line);
}

static void print_failures(const coordinator *c)
{
    const hg_agent *a = c->a;
    if (a->result.decision.ntimedout)
        print_deadline_cause(c);
    const hg_record **f = malloc((size_t)(c->failed ? c->failed : 1) * sizeof(*f));
    const hg_record ***groups = malloc((size_t)(c->failed ? c->failed : 1) * sizeof(*groups));
    size_t n = 0, ng = 0;
    for (int i = 0; f && groups && i < a->id.world; i++)
        if (c->rec[i].status == REC_FAILED)
            f[n++] = &c->rec[i];
    if (f && groups) {
        qsort(f, n, sizeof(*f), by_reason);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || !same_failure(f[i - 1], f[i]))
                groups[ng++] = &f[i];
        /* Groups in the order of their lowest rank, as the old per-rank list was. */
        qsort(groups, ng, sizeof(*groups), by_first_rank);
        for (size_t k = 0; k < ng; k++) {
            const hg_record **g = groups[k], **end = g + 1;
            while (end < f + n && same_failure(*g, *end))
                end++;
            if (end - g == 1)
                fprintf(stderr, "hgrid: rank %d (%s): %s [phase %s, host %s]\n", g[0]->rank,
                        module_of(a, g[0]->rank), failure_reason(g[0]), hg_phase_name((hg_phase)g[0]->phase),
                        g[0]->host);
            else
                print_group(c, g, (size_t)(end - g));
        }
    } else {
        for (int i = 0; i < a->id.world; i++)
            if (c->rec[i].status == REC_FAILED)
                fprintf(stderr, "hgrid: rank %d: %s\n", c->rec[i].rank, failure_reason(&c->rec[i]));
    }
    free(f);
    free(groups);
    fprintf(stderr, "hgrid: no-go: pre-flight failed on %d of %d ranks (%d skipped, %d ready)\n",
            c->failed, a->id.world, c->skipped, c->ready);
}

/* "3, 7-9": the missing ranks, shortened past a few dozen. */
static void list_missing(const coordinator *c, char *buf, size_t len)
{
    int *missing = malloc((size_t)c->a->id.world * sizeof(*missing));
    size_t n = 0;
    buf[0] = '\0';
    if (!missing)
        return;
    for (int i = 0; i < c->a->id.world; i++)
        if (c->rec[i].status == REC_MISSING)
            missing[n++] = i;
    hg_ranklist_format(missing, n, buf, len);
    free(missing);
}

static int by_record_host(const void *x, const void *y)
{
    const hg_record *a = *(const hg_record *const *)x, *b = *(const hg_record *const *)y;
    int d = strcmp(a->host, b->host);
    return d ? d : (a->rank > b->rank) - (a->rank < b->rank);
}

/* "nodes: 0 = host-a, 1 = host-b, ...": what the node numbers of the placement lines
 * are; by is the records sorted by host, so node n is the n-th distinct host. */
static void print_nodes(const hg_record *const *by, int world)
{
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof(line), "hgrid: nodes:");
    int n = 0;
    for (int i = 0; i < world && used < sizeof(line); i++) {
        if (i > 0 && strcmp(by[i]->host, by[i - 1]->host) == 0)
            continue;
        if (n == 8) {
            snprintf(line + used, sizeof(line) - used, " ...");
            break;
        }
        used += (size_t)snprintf(line + used, sizeof(line) - used, "%s %d = %s", n ? "," : "",
                                 n, by[i]->host);
        n++;
    }
    fprintf(stderr, "%s\n", line);
}

/* The placement check on the hosts the ranks reported (common/grid/placement.h): tp, cp,
 * ep and expert_tp groups with members on several hosts are warnings, or with --strict
 * a no-go. Returns 1 when the layout is refused. */
static int check_placement(const coordinator *c)
{
    hg_agent *a = c->a;
    const hg_record **by = malloc((size_t)a->id.world * sizeof(*by));
    int *node = malloc((size_t)a->id.world * sizeof(*node)), refused = 0, n = 0;
    hg_placement pl;
    hg_error err;
    memset(&pl, 0, sizeof(pl));
    hg_error_clear(&err);
    if (!by || !node) {
        free(by);
        free(node);
        return 0; /* a check that cannot run is no reason to stop the job */
    }
    for (int i = 0; i < a->id.world; i++)
        by[i] = &c->rec[i];
    qsort(by, (size_t)a->id.world, sizeof(*by), by_record_host);
    for (int i = 0; i < a->id.world; i++) {
        if (i > 0 && strcmp(by[i]->host, by[i - 1]->host) != 0)
            n++;
        node[by[i]->rank] = n;
    }
    if (n > 0 && hg_placement_check(a->grid.layout, 0, node, &pl, &err) == 0) {
        char *line = malloc(HG_PLACEMENT_LINE_MAX);
        for (size_t i = 0; line && i < pl.nfindings; i++)
            fprintf(stderr, "hgrid: %s: placement on the hosts the ranks reported: %s\n",
                    a->opts.strict ? "error" : "warning",
                    hg_placement_format(&pl, i, line, HG_PLACEMENT_LINE_MAX));
        if (pl.nfindings > 0)
            print_nodes(by, a->id.world);
        refused = a->opts.strict && pl.nfindings > 0;
        if (refused)
            fprintf(stderr, "hgrid: no-go: --strict refuses groups across hosts\n");
        free(line);
    }
    hg_placement_free(&pl);
    free(by);
    free(node);
    return refused;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int port = 0, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
        && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Relay mode (no standalone launcher named in HGRID_IO): the output collector, whose
 * address goes out with the go (collector.h). Without it each rank relays its own
 * output (relay.h), as before. */
static void start_collector(hg_agent *a)
{
    const char *io = getenv(HG_ENV_IO);
    hg_collector_opts o = { a->id.world, a->opts.label, a->opts.log_dir, a->opts.config_path };
    hg_decision *d = &a->result.decision;
    hg_error err;
    if ((io && *io) || !o.config)
        return;
    if (hg_collector_start(&o, d->io, sizeof(d->io), d->io_token, sizeof(d->io_token), &err) != 0) {
        d->io[0] = d->io_token[0] = '\0';
        fprintf(stderr, "hgrid: warning: %s; each rank relays its own output\n", err.msg);
    }
}

static int coordinate(hg_agent *a, const hg_record *mine, hg_error *err)
{
    coordinator c;
    int rc;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.rec = calloc((size_t)a->id.world, sizeof(hg_record));
    if (!c.rec)
        return hg_error_set(err, HG_ENOMEM, "rank 0: out of memory for %d readiness records", a->id.world);
    for (int i = 0; i < a->id.world; i++) {
        c.rec[i].rank = i;
        c.rec[i].status = REC_MISSING;
    }
    c.rec[0] = *mine;
    count_arrival(&c, mine);
    /* Ranks that ran out of init time themselves report right after the deadline; the
     * grace lets their reasons arrive before the coordinator calls them missing. */
    rc = receive_all(&c, a->run.deadline + hg_deadline_grace_s(a->set.timeout_s), err);
    c.elapsed = hg_now() - a->run.t0;
    if (rc == HG_ETIMEDOUT) {
        char missing[512], detail[640];
        list_missing(&c, missing, sizeof(missing));
        snprintf(detail, sizeof(detail), "%d of %d ranks never reported (rank%s %s)",
                 a->id.world - c.arrived, a->id.world, a->id.world - c.arrived == 1 ? "" : "s", missing);
        if (c.failed)
            print_failures(&c);
        announce(&c, 0);
        fflush(stderr);
        free(c.rec);
        hg_deadline_exit(a->id.rank, a->set.timeout_s, HG_PHASE_READINESS, detail);
    }
    if (rc != 0) {
        free(c.rec);
        return rc;
    }
    a->result.decision.go = c.failed == 0 && c.skipped == 0;
    if (a->result.decision.go && check_placement(&c)) {
        a->result.decision.go = 0;
        a->result.decision.placement = 1;
    }
    a->result.decision.nfailed = c.failed;
    for (int i = 0; i < a->id.world; i++) {
        a->result.decision.ntimedout += c.rec[i].status == REC_FAILED && c.rec[i].code == HG_ETIMEDOUT;
        a->result.decision.nusage += c.rec[i].status == REC_FAILED && c.rec[i].usage;
    }
    if (a->result.decision.go)
        print_summary(&c);
    else if (!a->result.decision.placement)
        print_failures(&c);
    announce(&c, a->result.decision.go);
    if (a->result.decision.go && a->opts.exec_handoff) {
        snprintf(a->result.decision.master_addr, sizeof(a->result.decision.master_addr), "%s", a->id.host);
        if (!(a->result.decision.master_port = free_port())) {
            a->result.decision.master_port = 29500;
            fprintf(stderr, "hgrid: warning: could not find a free port on %s; MASTER_PORT=29500\n",
                    a->id.host);
        }
        start_collector(a);
    }
    free(c.rec);
    return 0;
}

int hg_readiness(hg_agent *a, const hg_error *own, hg_error *err)
{
    hg_record mine;
    int rc = 0, mrc, code;
    fill_record(a, own, &mine);
    if (a->id.rank == 0) {
        rc = coordinate(a, &mine, err);
        if (rc != 0)
            a->result.decision.go = 0; /* still tell the others, or they wait for the watchdog */
    } else if ((mrc = MPI_Send(&mine, (int)sizeof(mine), MPI_BYTE, 0, TAG_READY, a->id.ctrl)) != MPI_SUCCESS) {
        return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Send(readiness record)");
    }
    if ((mrc = MPI_Bcast(&a->result.decision, (int)sizeof(a->result.decision), MPI_BYTE, 0, a->id.ctrl)) != MPI_SUCCESS)
        return hg_mpi_fail(err, mrc, a->id.rank, "MPI_Bcast(go/no-go)");
    if (rc != 0)
        return rc;
    if (a->result.decision.go)
        return 0;
    /* No-go is one verdict for every rank, whatever this rank's own error: a deadline
     * (exit 124) when any rank ran out of time; a usage error (exit 2) when every failed
     * rank's PROGRAM cannot run; else a pre-flight failure (exit 3). */
    if (a->result.decision.placement)
        return hg_error_set(err, HG_EINVAL, "rank %d: no-go: --strict refuses tp, cp, ep or "
                            "expert_tp groups across hosts", a->id.rank);
    code = a->result.decision.ntimedout ? HG_ETIMEDOUT
         : a->result.decision.nfailed > 0 && a->result.decision.nusage == a->result.decision.nfailed ? HG_EINVAL
                                                                               : HG_EPEER;
    if (own)
        return hg_error_set(err, code, "%s", own->msg);
    if (a->result.decision.ntimedout)
        return hg_error_set(err, code, "rank %d: no-go: the readiness deadline of %d s passed on "
                            "%d rank%s", a->id.rank, a->set.timeout_s, a->result.decision.ntimedout,
                            a->result.decision.ntimedout == 1 ? "" : "s");
    return hg_error_set(err, code, "rank %d: no-go: pre-flight failed on %d rank%s", a->id.rank,
                        a->result.decision.nfailed, a->result.decision.nfailed == 1 ? "" : "s");
}
