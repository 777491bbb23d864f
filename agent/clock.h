/* The clock of every deadline in the agent: CLOCK_MONOTONIC, in seconds, so neither an
 * NTP step nor a changed date moves a deadline. */
#ifndef HG_CLOCK_H
#define HG_CLOCK_H

#include <time.h>

static inline double hg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
