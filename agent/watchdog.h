/* The phases of pre-flight, and the watchdog that bounds them (watchdog.c): a thread
 * that ends the rank, naming its phase, when go/no-go has not come by its deadline
 * (the agent sets it past the readiness deadline, common/wire/protocol.h). */
#ifndef HG_WATCHDOG_H
#define HG_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>

#include "util/error.h"

/* Phases a rank passes through; the first HG_PHASE_TIMED are timed and reported. */
typedef enum hg_phase {
    HG_PHASE_BOOTSTRAP,
    HG_PHASE_GPU,
    HG_PHASE_WORLD,
    HG_PHASE_GROUPS,
    HG_PHASE_VERIFY,
    HG_PHASE_BRIDGES,
    HG_PHASE_READINESS,
    HG_PHASE_HANDOFF
} hg_phase;
#define HG_PHASE_TIMED 6

const char *hg_phase_name(hg_phase p);

typedef struct hg_watchdog {
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double deadline; /* hg_now() seconds */
    int timeout_s;   /* for the message */
    int stop;
    atomic_int rank; /* the launcher's, then MPI's; -1: unknown */
    atomic_int phase;
} hg_watchdog;

int hg_watchdog_start(hg_watchdog *w, double deadline, int timeout_s, hg_error *err);
void hg_watchdog_rearm(hg_watchdog *w, double deadline, int timeout_s);
void hg_watchdog_phase(hg_watchdog *w, hg_phase p);
void hg_watchdog_stop(hg_watchdog *w);
/* Says the deadline passed and _exit(124)s, so the launcher tears the job down: in one
 * write(2), the line `hgrid: rank R: readiness deadline of S s passed in phase P` (plus
 * ": detail" when given), or under a standalone hgrid-launch (a valid HGRID_STATUS_TOKEN)
 * the status message HG_STATUS_DEADLINE (common/wire/protocol.h), from which the launcher
 * prints one line for all ranks stuck alike. rank < 0: the launcher's rank from the
 * environment (common/wire/launchenv.h), "?" when even that is unknown. */
_Noreturn void hg_deadline_exit(int rank, int timeout_s, hg_phase phase, const char *detail);

#endif
