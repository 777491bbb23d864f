/* Stragglers (--stragglers, issue 25 item 5): a rank that is slow, not stuck. A
 * synchronous collective evens out step times (everyone waits for the slowest), so
 * what is compared is each rank's compute time, the time it spends outside collectives
 * (hgrid.torch times torch.distributed's calls; wire/beat.h "compute US", a running
 * sum). Over a window of at least `steps` steps, a rank whose compute a step is pct %
 * or more above the median of its peers' (the other ranks of its group: its module)
 * is named, once, when every rank of its group has such a window (heartbeats arrive
 * with lag: a median of the first to report is none, and a group with a rank that says
 * no compute is not compared); it is named again only after it recovers (below pct / 2
 * %, so noise at the threshold does not name it over and over) and falls behind again.
 * Compute times are durations on each rank's own clock: no clock sync across hosts.
 *
 * Pure: samples in, events out; the supervisor feeds it the ranks' latest heartbeats. */
#ifndef HG_STRAGGLER_H
#define HG_STRAGGLER_H

#include <stdio.h>

#include <jansson.h>

#include "grid/layout.h"

typedef struct hg_straggler hg_straggler;

/* A detector for ranks 0..world-1; group[r] is rank r's peer group (>= 0; < 0: compared
 * with none). pct > 0, steps >= 2. NULL when out of memory. */
hg_straggler *hg_straggler_new(int world, const int *group, int pct, int steps);
void hg_straggler_free(hg_straggler *d);

/* Rank r's latest heartbeat: its step and compute time so far (microseconds; < 0:
 * none said). A step lower than the last one seen (a restart in place) starts the
 * rank over. */
void hg_straggler_sample(hg_straggler *d, int rank, long step, long long compute_us);

typedef struct hg_straggler_event {
    int rank;
    long from, to;        /* the window: steps from..to (to - from >= steps) */
    double ms, peers_ms;  /* its compute a step over the window, and its peers' median */
    int peers;            /* how many peers the median is of */
    int pct;              /* how much slower, percent, rounded */
} hg_straggler_event;

/* Compares every rank with a full window with its peers now; writes the ranks named
 * by this call (ascending) to out, at most max, and returns how many. */
int hg_straggler_check(hg_straggler *d, hg_straggler_event *out, int max);

/* "hgrid: rank 5 (language, tp 1 dp 2) is a straggler: ..." */
void hg_straggler_describe(FILE *out, const hg_layout *l, const hg_straggler_event *e);

/* One event for --report's "stragglers": {"rank", "module", "coords", "slower_pct",
 * "compute_ms", "peers_median_ms", "peers", "from_step", "to_step"}. */
json_t *hg_straggler_json(const hg_layout *l, const hg_straggler_event *e);

#endif
