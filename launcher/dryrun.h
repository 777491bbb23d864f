/* Dry-run: load, validate and print the plan of one or more configs, for people
 * (table), CI pipelines (JSON) and Megatron's MIMO example (its arguments). Nothing is launched. */
#ifndef HG_DRYRUN_H
#define HG_DRYRUN_H

#include <stdio.h>

/* MEGATRON: the layout as Megatron-LM MIMO example arguments (hg_plan_write_megatron);
 * one config, no --rank (hg_cli_parse refuses both). */
/* SVG: the layout as a picture (hg_plan_write_svg, svg.h); one config, --rank highlights. */
typedef enum { HG_FORMAT_TABLE, HG_FORMAT_JSON, HG_FORMAT_MEGATRON, HG_FORMAT_SVG } hg_format;

typedef struct hg_dryrun_opts {
    hg_format format;
    int rank;          /* -1: the whole layout */
    unsigned flags;    /* HG_VALIDATE_* */
    int gpus_per_node; /* --gpus-per-node N: nodes of N consecutive ranks; 0: not given */
} hg_dryrun_opts;

/* Checks every config (all of them, even after one fails), printing plans to out and
 * diagnostics to errs; "-" is standard input, named "<stdin>". Returns the exit status:
 * HG_EXIT_USAGE when any config failed, else HG_EXIT_OUTPUT when out could not be
 * written (said once on errs, with its cause), else HG_EXIT_OK. The caller ignores
 * SIGPIPE so that a closed pipe is such a write error and not a silent death. */
int hg_dryrun(const char *const *configs, int nconfigs, const hg_dryrun_opts *opts, FILE *out,
              FILE *errs);

#endif
