/* Culprits and waiters. A dump is faulthandler's text: blocks headed "Thread 0x...
 * (most recent call first):", "Current thread 0x... (most recent call first):" or
 * "Stack (most recent call first):", each a list of '  File "PATH", line N in FUNC'
 * lines, innermost first. faulthandler lists threads newest first, so the main thread,
 * the one a training loop runs in, is the last block; helper threads (a data loader
 * blocked on its queue) say nothing of where the step is. The group comparison builds
 * each rank's view once (O(ranks x kinds x group size)), at a stall only. */
#include "culprit.h"

#include <stdlib.h>
#include <string.h>

#include "flight.h"
#include "grid/groups.h"
#include "util/ranklist.h"
#include "stall.h"

#define MAX_NAMED 8

static int starts(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

static int contains(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* '  File "PATH", line N in FUNC' into f; 0 when the line is one. */
static int parse_frame(const char *p, const char *end, hg_frame *f)
{
    char line[512];
    size_t n = (size_t)(end - p) < sizeof(line) - 1 ? (size_t)(end - p) : sizeof(line) - 1;
    memcpy(line, p, n);
    line[n] = '\0';
    const char *q = line;
    while (*q == ' ')
        q++;
    if (strncmp(q, "File \"", 6) != 0)
        return -1;
    q += 6;
    const char *close = strstr(q, "\", line ");
    if (!close)
        return -1;
    size_t fl = (size_t)(close - q) < sizeof(f->file) - 1 ? (size_t)(close - q) : sizeof(f->file) - 1;
    memcpy(f->file, q, fl);
    f->file[fl] = '\0';
    q = close + 8;
    f->line = atoi(q); /* "???" when unknown: 0 */
    const char *in = strstr(q, " in ");
    snprintf(f->func, sizeof(f->func), "%s", in ? in + 4 : "?");
    return 0;
}

static int is_header(const char *p, const char *end)
{
    return starts(p, end, "Thread 0x") || starts(p, end, "Current thread 0x")
           || starts(p, end, "Stack (most recent call first)");
}

/* What the main thread's frames tell, gathered frame by frame, innermost first. */
typedef struct thread_look {
    int nframes;
    hg_frame top[HG_CULPRIT_TOP];
    int in_dist;           /* some frame is in torch/distributed */
    char dist_inner[64];   /* the innermost torch/distributed frame's function */
    char c10d_public[64];  /* the outermost public distributed_c10d.py function */
} thread_look;

static void look_at(thread_look *t, const hg_frame *f)
{
    if (t->nframes < HG_CULPRIT_TOP)
        t->top[t->nframes] = *f;
    t->nframes++;
    if (!contains(f->file, "/torch/distributed/"))
        return;
    if (!t->in_dist)
        snprintf(t->dist_inner, sizeof(t->dist_inner), "%s", f->func);
    t->in_dist = 1;
    if (ends_with(f->file, "/distributed_c10d.py") && f->func[0] != '_')
        snprintf(t->c10d_public, sizeof(t->c10d_public), "%s", f->func);
}

void hg_stack_classify(const char *text, size_t len, const char *no_stack, hg_rank_role *out)
{
    thread_look cur = { 0 };
    int blocks = 0;
    memset(out, 0, sizeof(*out));
    out->role = HG_HANG_CULPRIT;
    if (!text) {
        snprintf(out->why, sizeof(out->why), "no stack: %s", no_stack ? no_stack : "none came back");
        return;
    }
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        hg_frame f;
        if (is_header(p, le)) {
            memset(&cur, 0, sizeof(cur));
            blocks++;
        } else if (blocks && parse_frame(p, le, &f) == 0) {
            look_at(&cur, &f);
        }
        p = nl ? nl + 1 : end;
    }
    out->nframes = cur.nframes < HG_CULPRIT_TOP ? cur.nframes : HG_CULPRIT_TOP;
    memcpy(out->top, cur.top, sizeof(out->top));
    if (cur.in_dist) {
        out->role = HG_HANG_WAITING;
        snprintf(out->collective, sizeof(out->collective), "%s",
                 cur.c10d_public[0] ? cur.c10d_public : cur.dist_inner);
    } else if (!blocks) {
        snprintf(out->why, sizeof(out->why), "no stack: its dump had none");
    } else if (!cur.nframes) {
        snprintf(out->why, sizeof(out->why), "its main thread has no Python frame");
    } else {
        snprintf(out->why, sizeof(out->why), "not in a collective");
    }
}

/* Point-to-point waits differ between pipeline stages by design. */
static int is_p2p(const char *collective)
{
    static const char *const p2p[] = { "send", "recv", "isend", "irecv", "batch_isend_irecv" };
    for (size_t i = 0; i < sizeof(p2p) / sizeof(p2p[0]); i++)
        if (strcmp(collective, p2p[i]) == 0)
            return 1;
    return 0;
}

typedef struct member {
    int i;            /* index into in/roles */
    int module, group;
    const char *name;
} member;

static int cmp_member(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->module != y->module)
        return x->module < y->module ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* One group's waiters, m[0..n) sorted by name: when one collective holds more of them
 * than any other, those in another are culprits; a tie decides nothing. */
static void judge_group(const hg_layout *l, const hg_hang_rank *in, hg_rank_role *roles,
                        const member *m, int n, int kind)
{
    int best = -1, best_n = 0, tie = 0;
    for (int a = 0; a < n;) {
        int b = a;
        while (b < n && strcmp(m[b].name, m[a].name) == 0)
            b++;
        if (b - a > best_n) {
            best = a;
            best_n = b - a;
            tie = 0;
        } else if (b - a == best_n) {
            tie = 1;
        }
        a = b;
    }
    if (best < 0 || tie || best_n == n)
        return;
    const char *majority = m[best].name;
    for (int a = 0; a < n; a++) {
        hg_rank_role *r = &roles[m[a].i];
        if (strcmp(m[a].name, majority) == 0 || r->role != HG_HANG_WAITING)
            continue;
        hg_rank_view v;
        char group[128] = "?";
        if (hg_rank_view_build(l, in[m[a].i].rank, &v, NULL) == 0) {
            hg_group_describe(&v, kind, group, sizeof(group));
            hg_rank_view_free(&v);
        }
        r->role = HG_HANG_CULPRIT;
        snprintf(r->why, sizeof(r->why), "in %s while the others of its %s are in %s",
                 r->collective, group, majority);
    }
}

static int index_of(const hg_hang_rank *in, int n, int rank)
{
    for (int i = 0; i < n; i++)
        if (in[i].rank == rank)
            return i;
    return -1;
}

/* The flight recorder outranks the stacks (flight.h): with NCCL a rank waiting for a
 * collective's kernel may be anywhere in Python, and one that never entered it may look
 * like a waiter in another. Its waiters wait; its ranks behind are culprits, said once
 * (the first group that has them behind). */
static void flight_roles(const hg_layout *l, const hg_hang_rank *in, int n, hg_rank_role *roles)
{
    hg_flight_div *d;
    int nd = hg_flight_diverged(l, in, n, &d);
    for (int k = 0; k < nd; k++)
        for (int j = 0; j < d[k].nwaiting; j++) {
            int i = index_of(in, n, d[k].waiting[j]);
            if (i >= 0 && roles[i].role == HG_HANG_CULPRIT) {
                roles[i].role = HG_HANG_WAITING;
                roles[i].why[0] = '\0';
                snprintf(roles[i].collective, sizeof(roles[i].collective), "%s", d[k].op);
            }
        }
    char *said = calloc((size_t)(n ? n : 1), 1);
    for (int k = 0; said && k < nd; k++)
        for (int j = 0; j < d[k].nbehind; j++) {
            int i = index_of(in, n, d[k].behind[j]);
            if (i < 0 || said[i])
                continue;
            said[i] = 1;
            roles[i].role = HG_HANG_CULPRIT;
            roles[i].collective[0] = '\0';
            snprintf(roles[i].why, sizeof(roles[i].why), "did not enter %.32s #%ld of %.80s (flight recorder)",
                     d[k].op, d[k].seq, d[k].group);
        }
    free(said);
    hg_flight_free(d, nd > 0 ? nd : 0);
}

void hg_hang_analyse(const hg_layout *l, const hg_hang_rank *in, int n, hg_rank_role *roles)
{
    for (int i = 0; i < n; i++)
        hg_stack_classify(in[i].stacks, in[i].len, in[i].no_stack, &roles[i]);
    int *gi = malloc((size_t)(n ? n : 1) * HG_KIND_COUNT * sizeof(int));
    int *mi = malloc((size_t)(n ? n : 1) * sizeof(int));
    member *m = malloc((size_t)(n ? n : 1) * sizeof(member));
    if (!gi || !mi || !m)
        goto out;
    for (int i = 0; i < n; i++) {
        hg_rank_view v;
        mi[i] = -1;
        for (int k = 0; k < HG_KIND_COUNT; k++)
            gi[i * HG_KIND_COUNT + k] = -1;
        if (roles[i].role != HG_HANG_WAITING || is_p2p(roles[i].collective)
            || hg_rank_view_build(l, in[i].rank, &v, NULL) != 0)
            continue;
        mi[i] = v.module_index;
        for (int k = 0; k < HG_KIND_COUNT; k++)
            if (v.groups[k].size > 1)
                gi[i * HG_KIND_COUNT + k] = v.groups[k].index;
        hg_rank_view_free(&v);
    }
    for (int k = 0; k < HG_KIND_COUNT; k++) {
        int nm = 0;
        for (int i = 0; i < n; i++)
            if (gi[i * HG_KIND_COUNT + k] >= 0)
                m[nm++] = (member){ i, mi[i], gi[i * HG_KIND_COUNT + k], roles[i].collective };
        qsort(m, (size_t)nm, sizeof(member), cmp_member);
        for (int a = 0; a < nm;) {
            int b = a;
            while (b < nm && m[b].module == m[a].module && m[b].group == m[a].group)
                b++;
            judge_group(l, in, roles, m + a, b - a, k);
            a = b;
        }
    }
out:
    flight_roles(l, in, n, roles);
    free(gi);
    free(mi);
    free(m);
}

static int is_waiting(const hg_hang_rank *in, const hg_rank_role *roles, int n, int rank)
{
    for (int i = 0; i < n; i++)
        if (in[i].rank == rank)
            return roles[i].role == HG_HANG_WAITING;
    return 0;
}

/* "language tp [4, 5] and dp [5, 7]": culprit's groups (of more than one rank, each
 * member list once) that hold a waiter. "" when none does. */
static void waiting_groups(const hg_layout *l, const hg_hang_rank *in, const hg_rank_role *roles,
                           int n, int rank, char *buf, size_t len)
{
    hg_rank_view v;
    size_t used = 0;
    int said[HG_KIND_COUNT], nsaid = 0;
    buf[0] = '\0';
    if (hg_rank_view_build(l, rank, &v, NULL) != 0)
        return;
    for (int k = 0; k < HG_KIND_COUNT && used < len; k++) {
        const hg_rank_group *g = &v.groups[k];
        int waiter = 0, dup = 0;
        for (int j = 0; g->index >= 0 && j < g->size && !waiter; j++)
            waiter = g->members[j] != rank && is_waiting(in, roles, n, g->members[j]);
        for (int s = 0; s < nsaid && !dup; s++)
            dup = v.groups[said[s]].size == g->size
                  && memcmp(v.groups[said[s]].members, g->members, (size_t)g->size * sizeof(int)) == 0;
        if (g->size <= 1 || !waiter || dup)
            continue;
        char members[96];
        hg_members_describe(g->members, g->size, members, sizeof(members));
        int w = nsaid ? snprintf(buf + used, len - used, " and %s %s", hg_kind_name((hg_kind)k), members)
                      : snprintf(buf, len, "%s %s %s", v.module.name, hg_kind_name((hg_kind)k), members);
        used = w < 0 ? len : used + (size_t)w > len ? len : used + (size_t)w;
        said[nsaid++] = k;
    }
    hg_rank_view_free(&v);
}

/* The distinct collectives the waiters are in, in first-seen order; returns the count. */
static int collectives(const hg_rank_role *roles, int n, const char **names, int cap)
{
    int nn = 0;
    for (int i = 0; i < n; i++) {
        if (roles[i].role != HG_HANG_WAITING)
            continue;
        int seen = 0;
        for (int j = 0; j < nn && !seen; j++)
            seen = strcmp(names[j], roles[i].collective) == 0;
        if (!seen && nn < cap)
            names[nn++] = roles[i].collective;
    }
    return nn;
}

/* The ranks waiting in collective (NULL: every culprit) as "0-2, 4-7"; returns how many. */
static int ranks_of(const hg_hang_rank *in, const hg_rank_role *roles, int n, const char *collective,
                    char *buf, size_t len)
{
    int *r = malloc((size_t)(n ? n : 1) * sizeof(int)), c = 0;
    buf[0] = '\0';
    if (!r)
        return 0;
    for (int i = 0; i < n; i++)
        if (collective ? roles[i].role == HG_HANG_WAITING && strcmp(roles[i].collective, collective) == 0
                       : roles[i].role == HG_HANG_CULPRIT)
            r[c++] = in[i].rank;
    hg_ranklist_format(r, (size_t)c, buf, len);
    free(r);
    return c;
}

void hg_hang_describe(FILE *out, const hg_layout *l, const hg_hang_rank *in,
                      const hg_rank_role *roles, int n)
{
    int culprits = 0, stacks = 0, named = 0;
    for (int i = 0; i < n; i++) {
        culprits += roles[i].role == HG_HANG_CULPRIT;
        stacks += in[i].stacks != NULL;
    }
    if (!stacks) {
        fprintf(out, "hgrid: no rank's stack came back (%s): the culprit cannot be told from "
                "the waiters\n", n && in[0].no_stack ? in[0].no_stack : "none asked");
        return;
    }
    hg_flight_div *d;
    int nd = hg_flight_diverged(l, in, n, &d);
    for (int k = 0; k < nd; k++) {
        char behind[256], waiting[256];
        hg_ranklist_format(d[k].behind, (size_t)d[k].nbehind, behind, sizeof(behind));
        hg_ranklist_format(d[k].waiting, (size_t)d[k].nwaiting, waiting, sizeof(waiting));
        fprintf(out, "hgrid: flight recorder: rank%s %s did not enter %s #%ld of %s; rank%s %s "
                "wait%s in it\n", d[k].nbehind == 1 ? "" : "s", behind, d[k].op, d[k].seq,
                d[k].group, d[k].nwaiting == 1 ? "" : "s", waiting, d[k].nwaiting == 1 ? "s" : "");
    }
    hg_flight_free(d, nd > 0 ? nd : 0);
    if (!culprits)
        fprintf(out, "hgrid: no culprit found: every rank whose stack came back waits in a "
                "collective\n");
    for (int i = 0; i < n && named < MAX_NAMED; i++) {
        const hg_rank_role *r = &roles[i];
        char module[64], coords[96], step[32] = "never heartbeat";
        if (r->role != HG_HANG_CULPRIT)
            continue;
        named++;
        hg_stall_rank_words(l, in[i].rank, module, sizeof(module), coords, sizeof(coords));
        if (in[i].step >= 0)
            snprintf(step, sizeof(step), "last step %ld", in[i].step);
        fprintf(out, "hgrid: culprit: rank %d (%s, %s) on %s, %s: %s\n", in[i].rank, module,
                coords, in[i].host ? in[i].host : "?", step, r->why);
        for (int f = 0; f < r->nframes; f++)
            fprintf(out, "hgrid:   %s:%d in %s\n", r->top[f].file, r->top[f].line, r->top[f].func);
    }
    if (culprits > named) {
        char list[256];
        ranks_of(in, roles, n, NULL, list, sizeof(list));
        fprintf(out, "hgrid: %d culprits in all (ranks %s)\n", culprits, list);
    }
    named = 0;
    for (int i = 0; i < n && named < MAX_NAMED; i++) {
        char groups[512];
        if (roles[i].role != HG_HANG_CULPRIT)
            continue;
        named++;
        waiting_groups(l, in, roles, n, in[i].rank, groups, sizeof(groups));
        if (groups[0])
            fprintf(out, "hgrid: %s wait for rank %d\n", groups, in[i].rank);
    }
    const char *names[16];
    int nn = collectives(roles, n, names, 16);
    for (int c = 0; c < nn; c++) {
        char list[256];
        int k = ranks_of(in, roles, n, names[c], list, sizeof(list));
        fprintf(out, "hgrid: waiting in %s: %d rank%s (%s)\n", names[c], k, k == 1 ? "" : "s", list);
    }
}

static json_t *int_array(const int *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* [{group, op, seq, behind, waiting}] of the flight recorder's divergences. */
static json_t *flight_json(const hg_layout *l, const hg_hang_rank *in, int n)
{
    hg_flight_div *d;
    int nd = hg_flight_diverged(l, in, n, &d);
    json_t *a = nd >= 0 ? json_array() : NULL;
    for (int k = 0; a && k < nd; k++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:o, s:o}", "group", d[k].group, "op",
                                           d[k].op, "seq", (json_int_t)d[k].seq, "behind",
                                           int_array(d[k].behind, d[k].nbehind), "waiting",
                                           int_array(d[k].waiting, d[k].nwaiting)));
    hg_flight_free(d, nd > 0 ? nd : 0);
    return a;
}

json_t *hg_hang_json(const hg_layout *l, const hg_hang_rank *in, const hg_rank_role *roles,
                     int n, int timeout_s)
{
    json_t *culprits = json_array(), *waiting = json_array();
    for (int i = 0; culprits && i < n; i++) {
        const hg_rank_role *r = &roles[i];
        char module[64], coords[96], groups[512];
        if (r->role != HG_HANG_CULPRIT)
            continue;
        hg_stall_rank_words(l, in[i].rank, module, sizeof(module), coords, sizeof(coords));
        json_t *frames = json_array();
        for (int f = 0; frames && f < r->nframes; f++) {
            char fr[320];
            snprintf(fr, sizeof(fr), "%s:%d %s", r->top[f].file, r->top[f].line, r->top[f].func);
            json_array_append_new(frames, json_string(fr));
        }
        json_t *c = json_pack("{s:i, s:s, s:s, s:s?, s:I, s:s, s:o}", "rank", in[i].rank, "module",
                              module, "coords", coords, "host", in[i].host, "step",
                              (json_int_t)in[i].step, "why", r->why, "frames",
                              frames ? frames : json_array());
        if (c && i < 64 * MAX_NAMED) {
            waiting_groups(l, in, roles, n, in[i].rank, groups, sizeof(groups));
            if (groups[0])
                json_object_set_new(c, "waited_for_by", json_string(groups));
        }
        json_array_append_new(culprits, c);
    }
    const char *names[16];
    int nn = collectives(roles, n, names, 16);
    for (int c = 0; waiting && c < nn; c++) {
        char list[1024];
        int k = ranks_of(in, roles, n, names[c], list, sizeof(list));
        json_array_append_new(waiting, json_pack("{s:s, s:i, s:s}", "collective", names[c],
                                                 "count", k, "ranks", list));
    }
    if (!culprits || !waiting) {
        json_decref(culprits);
        json_decref(waiting);
        return NULL;
    }
    json_t *stall = json_pack("{s:i, s:o, s:o}", "timeout_s", timeout_s, "culprits", culprits,
                              "waiting", waiting);
    json_t *diverged = flight_json(l, in, n);
    if (stall && diverged && json_array_size(diverged))
        json_object_set(stall, "diverged", diverged);
    json_decref(diverged);
    return stall;
}
