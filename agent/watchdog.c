/* Watchdog: the promise that no rank hangs. A thread sleeps on a condition variable
 * until the readiness deadline; if the agent has not reached go/no-go by then, whatever
 * it is blocked in (an MPI collective with a rank that never came, an NCCL call, a
 * broadcast from a coordinator that died), the thread prints which phase it was stuck
 * in and _exit(124)s, and mpirun or srun tears down the rest of the job. The main
 * thread only publishes its rank and phase (atomics) and moves the deadline. Before
 * MPI_Init the rank is the launcher's (launchenv.h). Under a standalone hgrid-launch the
 * line is a status message (protocol.h), so the launcher can group every rank's. */
#include "watchdog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "wire/launchenv.h"
#include "wire/line.h"
#include "wire/protocol.h"

/* protocol.h's list, which the launcher orders deadline lines by. */
static const char *const phase_names[] = HG_PHASE_NAMES;
_Static_assert(sizeof(phase_names) / sizeof(phase_names[0]) == HG_PHASE_HANDOFF + 1,
               "HG_PHASE_NAMES names every hg_phase");

const char *hg_phase_name(hg_phase p)
{
    return (unsigned)p <= HG_PHASE_HANDOFF ? phase_names[p] : "?";
}

/* The readable line, or under a standalone launcher the status message that lets it
 * print one line for every rank stuck alike; n bytes in line. */
static int deadline_line(char *line, size_t len, int rank, int timeout_s, hg_phase phase,
                         const char *detail)
{
    const char *sep = detail ? ": " : "";
    char who[32], prefix[HG_LINE_PREFIX_MAX];
    size_t pl = hg_line_status_prefix(prefix, sizeof(prefix), hg_status_token());
    int n;
    detail = detail ? detail : "";
    if (pl) {
        n = snprintf(line, len, "%s" HG_STATUS_DEADLINE "%s%s%s\n", prefix, rank, timeout_s,
                     hg_phase_name(phase), sep, detail);
        if (n > 0 && n <= HG_STATUS_LINE_MAX && (size_t)n < len)
            return n;
        /* Too long for the status channel: the launcher passes the readable line on. */
    }
    if (rank >= 0)
        snprintf(who, sizeof(who), "rank %d", rank);
    else
        snprintf(who, sizeof(who), "rank ?");
    n = snprintf(line, len, "hgrid: %s: " HG_DEADLINE_TEXT "%s%s\n", who, timeout_s,
                 hg_phase_name(phase), sep, detail);
    if (n < 0)
        return 0;
    return n > (int)len - 1 ? (int)len - 1 : n;
}

_Noreturn void hg_deadline_exit(int rank, int timeout_s, hg_phase phase, const char *detail)
{
    char line[1400];
    int n = deadline_line(line, sizeof(line), rank >= 0 ? rank : hg_launcher_rank(), timeout_s,
                          phase, detail);
    /* One write(2): the line survives even if stdio holds a lock we interrupted. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing left to tell */
    }
    _exit(HG_EXIT_DEADLINE);
}

static struct timespec to_timespec(double deadline)
{
    /* The condition variable runs on CLOCK_MONOTONIC, the clock hg_now() reads. */
    struct timespec ts;
    ts.tv_sec = (time_t)deadline;
    ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void *watch(void *arg)
{
    hg_watchdog *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (hg_now() >= w->deadline) {
            int timeout_s = w->timeout_s;
            pthread_mutex_unlock(&w->mu);
            hg_deadline_exit(atomic_load(&w->rank), timeout_s, (hg_phase)atomic_load(&w->phase),
                             NULL);
        }
        struct timespec ts = to_timespec(w->deadline);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int hg_watchdog_start(hg_watchdog *w, double deadline, int timeout_s, hg_error *err)
{
    pthread_condattr_t attr;
    int rc;
    w->deadline = deadline;
    w->timeout_s = timeout_s;
    w->stop = 0;
    w->running = 0;
    /* The launcher's rank until MPI's is known: a rank stuck in MPI_Init is named too. */
    atomic_init(&w->rank, hg_launcher_rank());
    atomic_init(&w->phase, HG_PHASE_BOOTSTRAP);
    if ((rc = pthread_mutex_init(&w->mu, NULL)) != 0)
        return hg_error_set(err, HG_ESYS, "pthread_mutex_init: %s", strerror(rc));
    if ((rc = pthread_condattr_init(&attr)) != 0
        || (rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0
        || (rc = pthread_cond_init(&w->cv, &attr)) != 0) {
        pthread_mutex_destroy(&w->mu);
        return hg_error_set(err, HG_ESYS, "watchdog condition variable: %s", strerror(rc));
    }
    pthread_condattr_destroy(&attr);
    if ((rc = pthread_create(&w->thread, NULL, watch, w)) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return hg_error_set(err, HG_ESYS, "pthread_create (watchdog): %s", strerror(rc));
    }
    w->running = 1;
    return 0;
}

void hg_watchdog_rearm(hg_watchdog *w, double deadline, int timeout_s)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->deadline = deadline;
    w->timeout_s = timeout_s;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void hg_watchdog_phase(hg_watchdog *w, hg_phase p)
{
    atomic_store(&w->phase, (int)p);
}

void hg_watchdog_stop(hg_watchdog *w)
{
    if (!w->running)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->running = 0;
}
