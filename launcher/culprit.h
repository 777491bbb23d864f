/* Who a hang waits for (--stall-timeout, --first-beat-timeout): each rank's stacks at
 * the stall (the faulthandler dump its SIGUSR1 gave, protocol.h HG_STACKS_*) read into a
 * role. A rank waits when its main thread is inside torch.distributed (a collective, a
 * barrier, init_process_group); it is a culprit when it is anywhere else, when no stack
 * came back, or when it waits in a different collective than the others of one of its
 * groups. Culprits are said first, then who waits for them, by group. Pure functions of
 * their inputs; the launcher (supervisor.c) gathers the inputs. */
#ifndef HG_CULPRIT_H
#define HG_CULPRIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "grid/layout.h"

#define HG_CULPRIT_TOP 3

typedef enum { HG_HANG_CULPRIT, HG_HANG_WAITING } hg_hang_role;

typedef struct hg_frame {
    char file[192];
    int line;
    char func[64];
} hg_frame;

typedef struct hg_rank_role {
    hg_hang_role role;
    char collective[64];           /* waiting: the torch.distributed function */
    int nframes;                   /* innermost first, of the main thread */
    hg_frame top[HG_CULPRIT_TOP];
    char why[160];                 /* culprit: why, in words */
} hg_rank_role;

/* Reads one rank's faulthandler dump (text[0..len)) into out; text NULL: no stack came
 * back, and no_stack says why ("never heartbeat", ...). The thread that counts is the
 * main thread, which faulthandler lists last. */
void hg_stack_classify(const char *text, size_t len, const char *no_stack, hg_rank_role *out);

/* One rank of the stalled attempt, as the launcher knows it. */
typedef struct hg_hang_rank {
    int rank;
    long step;            /* its last heartbeat's step; -1: it never beat */
    const char *host;     /* NULL: unknown */
    const char *stacks;   /* its dump, or NULL */
    size_t len;
    const char *no_stack; /* why there is none, when stacks is NULL */
} hg_hang_rank;

/* Classifies in[0..n) (ascending ranks) into roles[0..n), then makes a culprit of each
 * waiter whose collective differs from the one most of its group's waiters are in (for
 * every group kind; point-to-point waits are left out: pipeline stages differ). Last,
 * the flight recorder's lines in the dumps (flight.h), where they show a divergence,
 * outrank the stacks: those who entered the collective wait, those behind are culprits. */
void hg_hang_analyse(const hg_layout *l, const hg_hang_rank *in, int n, hg_rank_role *roles);

/* "hgrid: flight recorder: ..." lines of the divergences, then "hgrid: culprit: ..."
 * lines (at most 8 named, then counts), each with its top frames,
 * then the waiters: the groups of each named culprit that wait for it, and the waiters
 * by collective, as rank ranges. */
void hg_hang_describe(FILE *out, const hg_layout *l, const hg_hang_rank *in,
                      const hg_rank_role *roles, int n);

/* The report's "stall" object: {"timeout_s", "culprits": [{rank, module, coords, host,
 * step, why, frames}], "waiting": [{collective, count, ranks}]}, and "diverged": [{group,
 * op, seq, behind, waiting}] when the flight recorder shows one; NULL out of memory. */
json_t *hg_hang_json(const hg_layout *l, const hg_hang_rank *in, const hg_rank_role *roles,
                     int n, int timeout_s);

#endif
