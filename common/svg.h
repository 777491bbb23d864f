/* The layout as a picture (hgrid-launch --dry-run --format svg): a self-contained SVG
 * (no scripts, no external fonts) drawn from the same layout code as the JSON plan
 * (plan.h): every rank a cell of its module's grid, bridges as arrows, node boundaries,
 * one highlighted rank. Large layouts draw one cell per tp group instead. */
#ifndef HG_SVG_H
#define HG_SVG_H

#include <stdio.h>

#include "error.h"
#include "layout.h"

/* Up to this many ranks every rank is its own labelled cell; above, one cell per tp
 * group (several tp groups when a module would need more cells than its share of
 * HG_SVG_MAX_GROUP_CELLS), and a caption says so. */
#define HG_SVG_MAX_RANK_CELLS 4096
#define HG_SVG_MAX_GROUP_CELLS 32768

typedef struct hg_svg_opts {
    int rank;          /* the rank to highlight; -1: none */
    int gpus_per_node; /* nodes of this many consecutive ranks; 0: no node lines */
    const char *title; /* the config's name for the title, or NULL */
} hg_svg_opts;

/* Writes the picture of l. Write errors return HG_EIO with err->msg "cannot write the
 * plan: CAUSE", as hg_plan_write_json; memory, HG_ENOMEM. Stable element classes for
 * tools and tests: rect.rank (data-rank), rect.expert-rank, rect.cell (data-first,
 * data-ranks: the large form), path.bridge-link (one per link, data-from, data-to),
 * path.bridge (the large form: one per bridge), rect.boundary, rect.highlight
 * (data-rank), path.node-boundary. */
int hg_plan_write_svg(const hg_layout *l, const hg_svg_opts *opts, FILE *out, hg_error *err);

#endif
