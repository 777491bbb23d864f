/* PyTorch's flight recorder at a stall (issue 25): the summary lines each rank writes
 * after its stacks (protocol.h HG_FLIGHT_TAG, python/hgrid/_flight.py) compared across
 * each process group's members. Where some members entered collective N of a group and
 * others did not, those others are the culprits, unless they wait in a collective
 * themselves (then they are stuck behind someone else). The group is named by its
 * members with hgrid's kind name. Pure functions of their inputs (culprit.c uses them). */
#ifndef HG_FLIGHT_H
#define HG_FLIGHT_H

#include "culprit.h"
#include "grid/layout.h"

typedef struct hg_flight_div {
    char group[192];  /* "language dp [1, 3, 5, 7]"; a group hgrid did not make:
                       * "torch group DESC [members]" */
    char op[64];      /* "all_reduce": the profiling name, its backend prefix left out */
    long seq;         /* the collective sequence number some entered and some did not */
    int *behind;      /* ascending: did not enter it and wait in no collective */
    int nbehind;
    int *waiting;     /* ascending: entered it and have not finished it */
    int nwaiting;
} hg_flight_div;

/* One rank's summary line, parsed; 0 when line[0..len) is one. */
typedef struct hg_flight_line {
    char pg[64], desc[64], op[64];
    int *ranks;       /* global ranks as written (NULL: "-", unknown); owned */
    int nranks;
    long entered, completed;
} hg_flight_line;
int hg_flight_parse_line(const char *line, size_t len, hg_flight_line *out);
void hg_flight_line_free(hg_flight_line *f);

/* The divergences among in[0..n)'s dumps, one per group whose members' last entered
 * collective differs and where someone behind waits in nothing, in the order of the
 * groups' first members: *out (NULL when none; free with hg_flight_free) and the count,
 * or -1 out of memory. */
int hg_flight_diverged(const hg_layout *l, const hg_hang_rank *in, int n, hg_flight_div **out);
void hg_flight_free(hg_flight_div *d, int n);

#endif
