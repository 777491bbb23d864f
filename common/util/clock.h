/* The clock of every deadline and timer in hgrid, the agent's, the keeper's and the
 * launcher's: CLOCK_MONOTONIC, in seconds, so neither an NTP step nor a changed date
 * moves one; and the pause of every loop that polls against one. */
#ifndef HG_CLOCK_H
#define HG_CLOCK_H

#include <sched.h>
#include <time.h>

static inline double hg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pause of a polling loop; *spins counts the polls since the last progress. Yield a
 * few times (init steps can take microseconds), then sleep 0.1 ms, then 1 ms: under
 * mpirun a rank is often bound to one core, which NCCL's own threads (or an
 * oversubscribed host's other ranks) need more than the poller does. */
static inline void hg_backoff(unsigned *spins)
{
    if (++*spins < 16) {
        sched_yield();
    } else {
        struct timespec ts = { 0, *spins < 4096 ? 100000L : 1000000L };
        nanosleep(&ts, NULL);
    }
}

#endif
