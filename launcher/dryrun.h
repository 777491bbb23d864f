/* Dry-run: load, validate and print the plan of one or more configs, for people
 * (table) and CI pipelines (JSON). Nothing is launched. */
#ifndef HG_DRYRUN_H
#define HG_DRYRUN_H

#include <stdio.h>

typedef enum { HG_FORMAT_TABLE, HG_FORMAT_JSON } hg_format;

typedef struct hg_dryrun_opts {
    hg_format format;
    int rank;          /* -1: the whole layout */
    unsigned flags;    /* HG_VALIDATE_* */
} hg_dryrun_opts;

/* Checks every config (all of them, even after one fails), printing plans to out and
 * diagnostics to errs; "-" is standard input, named "<stdin>". Returns the exit status:
 * HG_EXIT_USAGE when any config failed, else HG_EXIT_OUTPUT when out could not be
 * written (said once on errs, with its cause), else HG_EXIT_OK. The caller ignores
 * SIGPIPE so that a closed pipe is such a write error and not a silent death. */
int hg_dryrun(const char *const *configs, int nconfigs, const hg_dryrun_opts *opts, FILE *out,
              FILE *errs);

#endif
