/* Each rank keeps its latest sample and up to RING older ones spaced at least
 * `spacing` steps apart (steps / (RING - 2), rounded up), so memory is O(world x RING)
 * whatever the window, and the window a check sees spans between steps and steps +
 * spacing steps (plus what the keeper's forwarding interval skips). A check sorts each
 * group's window means once: O(world log world). */
#include "straggler.h"

#include <stdlib.h>
#include <string.h>

#include "stall.h"

#define RING 34

typedef struct sample {
    long step;
    long long us;
} sample;

typedef struct rank_state {
    sample ring[RING];    /* kept samples, oldest first at [head] */
    int head, n;
    sample last;          /* the latest; valid when have_last */
    int have_last;
    int named;            /* named and not yet recovered */
    double mean;          /* this check's compute a step (us), < 0: no window */
    long from;
} rank_state;

typedef struct entry {
    int group;
    double mean;
    int rank;
} entry;

struct hg_straggler {
    int world, pct, steps, spacing;
    int *group;
    int *members;         /* members[g]: how many ranks group g has (g < world) */
    rank_state *r;
    entry *order;         /* ranks with a window, by (group, mean): a check's scratch */
};

hg_straggler *hg_straggler_new(int world, const int *group, int pct, int steps)
{
    hg_straggler *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->world = world;
    d->pct = pct;
    d->steps = steps;
    /* RING samples s apart span (RING - 1) s steps, which must hold steps + s. */
    d->spacing = (steps + RING - 3) / (RING - 2);
    d->group = malloc((size_t)world * sizeof(int));
    d->r = calloc((size_t)world, sizeof(rank_state));
    d->order = malloc((size_t)world * sizeof(entry));
    d->members = calloc((size_t)world, sizeof(int));
    if (!d->group || !d->r || !d->order || !d->members) {
        hg_straggler_free(d);
        return NULL;
    }
    memcpy(d->group, group, (size_t)world * sizeof(int));
    for (int r = 0; r < world; r++) {
        if (d->group[r] >= world) /* a group id past the ranks: compared with none */
            d->group[r] = -1;
        if (d->group[r] >= 0)
            d->members[d->group[r]]++;
    }
    return d;
}

void hg_straggler_free(hg_straggler *d)
{
    if (!d)
        return;
    free(d->group);
    free(d->r);
    free(d->order);
    free(d->members);
    free(d);
}

static sample *ring_at(rank_state *s, int i)
{
    return &s->ring[(s->head + i) % RING];
}

void hg_straggler_sample(hg_straggler *d, int rank, long step, long long compute_us)
{
    if (!d || rank < 0 || rank >= d->world || step < 0 || compute_us < 0)
        return;
    rank_state *s = &d->r[rank];
    if (s->have_last && (step < s->last.step || compute_us < s->last.us)) {
        int named = s->named;
        memset(s, 0, sizeof(*s));
        s->named = named; /* the same program started over: not named twice for it */
    }
    if (s->have_last && step == s->last.step)
        return;
    /* The previous latest becomes a kept sample when far enough from the newest kept. */
    if (s->have_last && (s->n == 0 || s->last.step - ring_at(s, s->n - 1)->step >= d->spacing)) {
        if (s->n == RING) {
            s->head = (s->head + 1) % RING;
            s->n--;
        }
        *ring_at(s, s->n++) = s->last;
    }
    s->last = (sample){ step, compute_us };
    s->have_last = 1;
}

/* Rank r's compute a step over the shortest window of >= steps steps its samples make. */
static void window_mean(const hg_straggler *d, rank_state *s)
{
    s->mean = -1;
    if (!s->have_last)
        return;
    for (int i = s->n - 1; i >= 0; i--) {
        const sample *o = &s->ring[(s->head + i) % RING];
        if (s->last.step - o->step >= d->steps) {
            s->mean = (double)(s->last.us - o->us) / (double)(s->last.step - o->step);
            s->from = o->step;
            return;
        }
    }
}

static int by_group_mean(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->group != y->group)
        return (x->group > y->group) - (x->group < y->group);
    if (x->mean != y->mean)
        return (x->mean > y->mean) - (x->mean < y->mean);
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The median of the means of a[0..n-1] without a[skip] (n >= 2, a ascending). */
static double median_without(const entry *a, int n, int skip)
{
    int m = n - 1;
#define OTHER(k) a[(k) < skip ? (k) : (k) + 1].mean
    return m % 2 ? OTHER(m / 2) : (OTHER(m / 2 - 1) + OTHER(m / 2)) / 2;
#undef OTHER
}

static int cmp_event(const void *a, const void *b)
{
    int x = ((const hg_straggler_event *)a)->rank, y = ((const hg_straggler_event *)b)->rank;
    return (x > y) - (x < y);
}

int hg_straggler_check(hg_straggler *d, hg_straggler_event *out, int max)
{
    if (!d)
        return 0;
    int n = 0, named = 0;
    for (int r = 0; r < d->world; r++) {
        window_mean(d, &d->r[r]);
        if (d->r[r].mean >= 0 && d->group[r] >= 0)
            d->order[n++] = (entry){ d->group[r], d->r[r].mean, r };
    }
    qsort(d->order, (size_t)n, sizeof(entry), by_group_mean);
    for (int lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo; hi < n && d->order[hi].group == d->order[lo].group; hi++)
            ;
        /* Every member's window, or none: heartbeats arrive with lag, and a median of the
         * first one or two to report is no median of the module. */
        if (hi - lo < 2 || hi - lo < d->members[d->order[lo].group])
            continue;
        for (int i = lo; i < hi; i++) {
            rank_state *s = &d->r[d->order[i].rank];
            double med = median_without(d->order + lo, hi - lo, i - lo);
            if (med <= 0)
                continue;
            double slower = (s->mean - med) * 100 / med;
            if (slower < d->pct / 2.0) {
                s->named = 0;
            } else if (slower >= d->pct && !s->named && named < max) {
                s->named = 1;
                out[named++] = (hg_straggler_event){
                    .rank = d->order[i].rank, .from = s->from, .to = s->last.step,
                    .ms = s->mean / 1000, .peers_ms = med / 1000, .peers = hi - lo - 1,
                    .pct = (int)(slower + 0.5) };
            }
        }
    }
    qsort(out, (size_t)named, sizeof(*out), cmp_event);
    return named;
}

void hg_straggler_describe(FILE *out, const hg_layout *l, const hg_straggler_event *e)
{
    char module[64], coords[96];
    hg_stall_rank_words(l, e->rank, module, sizeof(module), coords, sizeof(coords));
    fprintf(out, "hgrid: rank %d (%s, %s) is a straggler: %d%% slower than the median of "
            "%s's other %d rank%s over steps %ld-%ld (%.1f ms vs %.1f ms of compute a step)\n",
            e->rank, module, coords, e->pct, module, e->peers, e->peers == 1 ? "" : "s", e->from,
            e->to, e->ms, e->peers_ms);
}

json_t *hg_straggler_json(const hg_layout *l, const hg_straggler_event *e)
{
    char module[64], coords[96];
    hg_stall_rank_words(l, e->rank, module, sizeof(module), coords, sizeof(coords));
    return json_pack("{s:i, s:s, s:s, s:i, s:f, s:f, s:i, s:I, s:I}", "rank", e->rank,
                     "module", module, "coords", coords, "slower_pct", e->pct,
                     "compute_ms", e->ms, "peers_median_ms", e->peers_ms, "peers", e->peers,
                     "from_step", (json_int_t)e->from, "to_step", (json_int_t)e->to);
}
