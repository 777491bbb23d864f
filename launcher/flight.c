/* Divergence from the flight recorder's summary lines. A group is keyed by its member
 * list (torch's group name when a line has none), so the same group seen by its members
 * is one group whatever torch called it on each. A rank that wrote a group twice (two
 * recorders: NCCL's and the one gloo records into) counts with the higher numbers.
 * "Waits in a collective" is a line with entered > completed: such a rank behind in
 * another group is stuck, not a culprit (the waiters of one collective are often behind
 * in their other groups' next one). Work: a sort of the lines, O(lines log lines x group
 * size), at a stall only (three times: roles, lines, report). */
#include "flight.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "grid/groups.h"
#include "wire/protocol.h"

typedef struct rec {
    int i;            /* index into in */
    hg_flight_line f;
} rec;

static int field(const char *p, const char *end, const char *key, char *buf, size_t len)
{
    size_t kl = strlen(key);
    for (const char *q = p; q < end;) {
        const char *sp = memchr(q, ' ', (size_t)(end - q));
        const char *we = sp ? sp : end;
        if ((size_t)(we - q) > kl && memcmp(q, key, kl) == 0 && q[kl] == '=') {
            size_t n = (size_t)(we - q) - kl - 1;
            if (n >= len)
                n = len - 1;
            memcpy(buf, q + kl + 1, n);
            buf[n] = '\0';
            return 0;
        }
        q = sp ? sp + 1 : end;
    }
    return -1;
}

static int parse_long(const char *s, long *out)
{
    char *e;
    long v = strtol(s, &e, 10);
    if (!*s || *e || v < -1)
        return -1;
    *out = v;
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

int hg_flight_parse_line(const char *line, size_t len, hg_flight_line *out)
{
    const char *end = line + len;
    size_t tl = strlen(HG_FLIGHT_TAG);
    char ranks[4096], num[32];
    memset(out, 0, sizeof(*out));
    while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if ((size_t)(end - line) <= tl || memcmp(line, HG_FLIGHT_TAG, tl) != 0 || line[tl] != ' ')
        return -1;
    line += tl + 1;
    if (field(line, end, "pg", out->pg, sizeof(out->pg)) || field(line, end, "desc", out->desc, sizeof(out->desc))
        || field(line, end, "op", out->op, sizeof(out->op))
        || field(line, end, "entered", num, sizeof(num)) || parse_long(num, &out->entered)
        || field(line, end, "completed", num, sizeof(num)) || parse_long(num, &out->completed)
        || field(line, end, "ranks", ranks, sizeof(ranks)))
        return -1;
    if (strcmp(ranks, "-") == 0)
        return 0;
    int cap = 1;
    for (const char *c = ranks; *c; c++)
        cap += *c == ',';
    if (!(out->ranks = malloc((size_t)cap * sizeof(int))))
        return -1;
    for (char *c = ranks, *tok; (tok = strsep(&c, ","));) {
        long r;
        if (parse_long(tok, &r) || r < 0 || r > INT_MAX) {
            hg_flight_line_free(out);
            return -1;
        }
        out->ranks[out->nranks++] = (int)r;
    }
    qsort(out->ranks, (size_t)out->nranks, sizeof(int), cmp_int);
    return 0;
}

void hg_flight_line_free(hg_flight_line *f)
{
    free(f->ranks);
    f->ranks = NULL;
    f->nranks = 0;
}

void hg_flight_free(hg_flight_div *d, int n)
{
    for (int i = 0; d && i < n; i++) {
        free(d[i].behind);
        free(d[i].waiting);
    }
    free(d);
}

static int same_group(const hg_flight_line *a, const hg_flight_line *b)
{
    if (!a->ranks || !b->ranks)
        return !a->ranks && !b->ranks && strcmp(a->pg, b->pg) == 0;
    return a->nranks == b->nranks && memcmp(a->ranks, b->ranks, (size_t)a->nranks * sizeof(int)) == 0;
}

/* Every summary line of every rank's dump into *out; returns the count, -1 out of memory. */
static int read_all(const hg_hang_rank *in, int n, rec **out)
{
    int nr = 0, cap = 0;
    rec *r = NULL;
    for (int i = 0; i < n; i++) {
        const char *t = in[i].stacks, *end = t ? t + in[i].len : NULL;
        for (const char *p = t; p && p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            hg_flight_line f;
            if (hg_flight_parse_line(p, (size_t)(le - p), &f) == 0) {
                int dup = -1;
                for (int k = nr - 1; k >= 0 && r[k].i == i && dup < 0; k--)
                    if (same_group(&r[k].f, &f))
                        dup = k;
                if (dup >= 0) {
                    if (f.entered > r[dup].f.entered) {
                        r[dup].f.entered = f.entered;
                        memcpy(r[dup].f.op, f.op, sizeof(f.op));
                    }
                    if (f.completed > r[dup].f.completed)
                        r[dup].f.completed = f.completed;
                    hg_flight_line_free(&f);
                } else {
                    if (nr == cap) {
                        rec *g = realloc(r, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(rec));
                        if (!g) {
                            hg_flight_line_free(&f);
                            goto fail;
                        }
                        r = g;
                    }
                    r[nr++] = (rec){ i, f };
                }
            }
            p = nl ? nl + 1 : end;
        }
    }
    *out = r;
    return nr;
fail:
    for (int k = 0; k < nr; k++)
        hg_flight_line_free(&r[k].f);
    free(r);
    return -1;
}

static int members_equal(const hg_rank_group *g, const hg_flight_line *f)
{
    return g->index >= 0 && g->size == f->nranks
           && memcmp(g->members, f->ranks, (size_t)f->nranks * sizeof(int)) == 0;
}

/* hgrid's name of the group: a kind of the first member's module (of any module, when
 * colocated) with exactly these members; else the world; else torch's. */
static void group_name(const hg_layout *l, const hg_flight_line *f, char *buf, size_t len)
{
    char members[128];
    hg_rank_view v;
    if (f->ranks && hg_rank_view_build(l, f->ranks[0], &v, NULL) == 0) {
        int found = 0;
        int nviews = v.nmodules_here > 0 ? v.nmodules_here : 1;
        for (int m = 0; m < nviews && !found; m++) {
            const hg_rank_view *mv = v.nmodules_here > 0 ? &v.per_module[m] : &v;
            for (int k = 0; k < HG_KIND_COUNT && !found; k++)
                if (mv->groups[k].size > 1 && members_equal(&mv->groups[k], f)) {
                    hg_group_describe(mv, k, buf, len);
                    found = 1;
                }
        }
        if (!found && f->nranks == v.world_size && f->ranks[f->nranks - 1] == v.world_size - 1)
            hg_group_describe(&v, -1, buf, len), found = 1;
        hg_rank_view_free(&v);
        if (found)
            return;
    }
    if (f->ranks)
        hg_members_describe(f->ranks, f->nranks, members, sizeof(members));
    snprintf(buf, len, "torch group %.40s %.120s", strcmp(f->desc, "undefined") && strcmp(f->desc, "-") ? f->desc : f->pg,
             f->ranks ? members : "[?]");
}

static int in_rank(const hg_hang_rank *in, const rec *r)
{
    return in[r->i].rank;
}

/* Groups in member order (element by element, a prefix first; groups without members
 * after, by torch's name), then by rank: each group's records are one run. */
static int cmp_rec(const void *a, const void *b)
{
    const rec *x = *(const rec *const *)a, *y = *(const rec *const *)b;
    if (!x->f.ranks != !y->f.ranks)
        return x->f.ranks ? -1 : 1;
    if (!x->f.ranks) {
        int c = strcmp(x->f.pg, y->f.pg);
        if (c)
            return c;
    }
    for (int k = 0; x->f.ranks && k < x->f.nranks && k < y->f.nranks; k++)
        if (x->f.ranks[k] != y->f.ranks[k])
            return x->f.ranks[k] < y->f.ranks[k] ? -1 : 1;
    if (x->f.nranks != y->f.nranks)
        return x->f.nranks < y->f.nranks ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int push(int **list, int *n, int v)
{
    int *g = realloc(*list, (size_t)(*n + 1) * sizeof(int));
    if (!g)
        return -1;
    g[(*n)++] = v;
    *list = g;
    return 0;
}

int hg_flight_diverged(const hg_layout *l, const hg_hang_rank *in, int n, hg_flight_div **out)
{
    rec *r = NULL, **by = NULL;
    hg_flight_div *d = NULL;
    int nd = 0, nr = read_all(in, n, &r);
    char *blocked = NULL; /* in[i] waits in some collective: entered one it has not finished */
    *out = NULL;
    if (nr < 0)
        return -1;
    if (nr && (!(blocked = calloc((size_t)n, 1)) || !(by = malloc((size_t)nr * sizeof(*by)))))
        goto fail;
    for (int k = 0; k < nr; k++) {
        by[k] = &r[k];
        blocked[r[k].i] |= r[k].f.entered > r[k].f.completed;
    }
    if (nr)
        qsort(by, (size_t)nr, sizeof(*by), cmp_rec);
    for (int a = 0, z; a < nr; a = z) {
        long top = -1;
        int at_top = a, behind_any = 0;
        for (z = a; z < nr && same_group(&by[a]->f, &by[z]->f); z++)
            if (by[z]->f.entered > top)
                top = by[z]->f.entered, at_top = z;
        hg_flight_div dv = { .seq = top };
        for (int b = a; b < z; b++) {
            if (by[b]->f.entered < top && !blocked[by[b]->i]) {
                behind_any = 1;
                if (push(&dv.behind, &dv.nbehind, in_rank(in, by[b])))
                    goto fail_dv;
            } else if (by[b]->f.entered == top && by[b]->f.completed < top
                       && push(&dv.waiting, &dv.nwaiting, in_rank(in, by[b]))) {
                goto fail_dv;
            }
        }
        if (!behind_any || !dv.nwaiting) {
            free(dv.behind);
            free(dv.waiting);
            continue;
        }
        qsort(dv.behind, (size_t)dv.nbehind, sizeof(int), cmp_int);
        qsort(dv.waiting, (size_t)dv.nwaiting, sizeof(int), cmp_int);
        const char *colon = strrchr(by[at_top]->f.op, ':');
        snprintf(dv.op, sizeof(dv.op), "%s", colon ? colon + 1 : by[at_top]->f.op);
        group_name(l, &by[a]->f, dv.group, sizeof(dv.group));
        hg_flight_div *g = realloc(d, (size_t)(nd + 1) * sizeof(*d));
        if (!g)
            goto fail_dv;
        d = g;
        d[nd++] = dv;
        continue;
fail_dv:
        free(dv.behind);
        free(dv.waiting);
        goto fail;
    }
    for (int k = 0; k < nr; k++)
        hg_flight_line_free(&r[k].f);
    free(r);
    free(by);
    free(blocked);
    *out = d;
    return nd;
fail:
    for (int k = 0; k < nr; k++)
        hg_flight_line_free(&r[k].f);
    free(r);
    free(by);
    free(blocked);
    hg_flight_free(d, nd);
    return -1;
}
