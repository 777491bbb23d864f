/* What the launcher says when ranks stall (--stall-timeout): each stalled rank with its
 * module, coordinates and last heartbeat step, where the ranks still beating are, and the
 * process groups the stalled ranks make up or share, so "every rank of language dp group
 * 1 waits" reads as such. */
#ifndef HG_STALL_H
#define HG_STALL_H

#include <stdio.h>

#include "grid/layout.h"

typedef struct hg_stall_facts {
    const int *stalled;      /* ranks, ascending */
    const long *step;        /* each stalled rank's last step */
    int nstalled;
    const long *others;      /* the steps of the ranks still beating */
    int nothers;
    int timeout_s;
} hg_stall_facts;

/* "tp 0 dp 1": a rank's coordinates along the dims of size > 1 ("module rank 0" for
 * none). */
void hg_stall_coords(const hg_rank_view *v, char *buf, size_t len);

/* A rank's module name and hg_stall_coords, "?" for each when its view cannot be built
 * (out of memory): the words of every line that names one rank. */
void hg_stall_rank_words(const hg_layout *l, int rank, char *module, size_t mlen, char *coords,
                         size_t clen);

/* Writes the "hgrid: ..." lines to out. */
void hg_stall_describe(FILE *out, const hg_layout *l, const hg_stall_facts *f);

#endif
