/* The launcher's one wait: descriptor sources (each fills its pollfds before the wait
 * and serves what poll found) and a time to wake up by, so nothing is polled at a fixed
 * interval: the loop sleeps until a descriptor is ready or the earliest thing that is
 * due (a deadline, a grace period, a silence turning into a stall or a lost host). In
 * the manner of SLURM's eio and Redis's ae, without their generality. */
#ifndef HG_EVLOOP_H
#define HG_EVLOOP_H

#include <poll.h>

typedef struct hg_evloop hg_evloop;

typedef struct hg_evsource {
    /* At most how many descriptors fill adds. */
    int (*count)(void *arg);
    /* Adds the descriptors to wait for into fds; returns how many (<= count). */
    int (*fill)(void *arg, struct pollfd *fds);
    /* Serves what the wait found on the n descriptors fill added; now is hg_now(). */
    void (*serve)(void *arg, const struct pollfd *fds, int n, double now);
    void *arg;
} hg_evsource;

/* Returns NULL when out of memory. */
hg_evloop *hg_evloop_new(void);
void hg_evloop_free(hg_evloop *l);
/* Sources are served in the order they were added. Returns -1 when out of memory. */
int hg_evloop_add(hg_evloop *l, const hg_evsource *src);
/* One wait: until a descriptor is ready or hg_now() reaches until (until < 0: no
 * limit), then every source is served. Returns 0, or -1 with errno when poll failed
 * (EINTR is not a failure). */
int hg_evloop_once(hg_evloop *l, double until);
/* How many waits ended, and how many of them with nothing ready (a due time). */
unsigned long hg_evloop_wakeups(const hg_evloop *l);
unsigned long hg_evloop_timeouts(const hg_evloop *l);

/* The earlier of two due times, either of which may be < 0 (none). */
static inline double hg_due_min(double a, double b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

#endif
