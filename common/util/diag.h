/* Diagnostics about one config file, collected rather than stopping at the first,
 * and printed as compilers do: `FILE:LINE:COL: error: MESSAGE`. Line and column are
 * 1-based; 0 means "no position" and is left out of the text. */
#ifndef HG_DIAG_H
#define HG_DIAG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { HG_DIAG_ERROR, HG_DIAG_WARNING } hg_diag_level;

typedef struct hg_diags hg_diags;

/* A cap on stored diagnostics keeps hostile input from growing memory without bound;
 * past it one "too many errors" line stands for the rest (they are still counted). */
#define HG_DIAGS_MAX 200

hg_diags *hg_diags_new(const char *file);
void hg_diags_free(hg_diags *d);

void hg_diags_add(hg_diags *d, hg_diag_level level, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

size_t hg_diags_errors(const hg_diags *d);
size_t hg_diags_warnings(const hg_diags *d);
/* Stored diagnostics, in the order they were added (or sorted), fully formatted. */
size_t hg_diags_size(const hg_diags *d);
const char *hg_diags_text(const hg_diags *d, size_t i);
/* Orders the diagnostics stored from index first on by position (line, then column;
 * no position first), keeping the order of equal positions, so one checker's findings
 * read top to bottom whatever order it found them in. */
void hg_diags_sort_from(hg_diags *d, size_t first);
void hg_diags_print(const hg_diags *d, FILE *out);

#endif
