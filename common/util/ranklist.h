/* Rank lists as people read them: "0-7, 9, 12-15". Messages that name many ranks
 * (the coordinator's grouped failures, ranks sharing a GPU) print them this way, so a
 * line stays short at any scale. */
#ifndef HG_RANKLIST_H
#define HG_RANKLIST_H

#include <stddef.h>

/* Past this many runs the list ends in ", ...". */
#define HG_RANKLIST_MAX_RUNS 32

/* Writes ranks[0..n) (ascending) into buf as runs; truncates to fit len. Returns buf. */
char *hg_ranklist_format(const int *ranks, size_t n, char *buf, size_t len);

#endif
