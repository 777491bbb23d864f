/* Errors shared by every hgrid module: negative HG_E* codes, and a caller-owned
 * record of what failed and where. Functions that can fail return 0 or a code and
 * fill an hg_error; only main() prints and picks the exit status. */
#ifndef HG_ERROR_H
#define HG_ERROR_H

#include "hgrid/base.h" /* HG_E* codes and hg_error, public */

/* Sets e (when not NULL) and returns code, so callers can `return hg_error_set(...)`. */
int hg_error_set(hg_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
