/* The layout as a picture (hgrid-launch --dry-run --format svg): a self-contained SVG
 * (no scripts, no external fonts) drawn from the same layout code as the JSON plan
 * (plan.h): every rank a cell of its module's grid, bridges as arrows routed around
 * every text (bundled when too many), node boundaries, one highlighted rank. Large
 * layouts draw one cell per tp group instead. Only hgrid-launch's dry run draws it, so
 * it lives in launcher/: common/ goes into libhgrid.so, which trainers load. */
#ifndef HG_SVG_H
#define HG_SVG_H

#include <stdio.h>

#include "util/error.h"
#include "grid/layout.h"

/* Up to this many ranks every rank is its own labelled cell; above, one cell per tp
 * group (several tp groups when a module would need more cells than its share of
 * HG_SVG_MAX_GROUP_CELLS), and a caption says so. */
#define HG_SVG_MAX_RANK_CELLS 4096
#define HG_SVG_MAX_GROUP_CELLS 32768

/* A bridge with more links than this is drawn as one bundled arrow with its count,
 * as is one whose per-link arrows would cross a text. */
#define HG_SVG_MAX_LINK_ARROWS 32

/* A text's box, with no font metrics: bytes * font-size * glyph width (bold wider)
 * + 1 px across, from the baseline up ascent * font-size and down descent *
 * font-size. Arrows never cross one; tests/svg_test.sh measures with these. */
#define HG_SVG_GLYPH_W 0.56
#define HG_SVG_GLYPH_W_BOLD 0.64
#define HG_SVG_TEXT_ASCENT 1.0
#define HG_SVG_TEXT_DESCENT 0.3

typedef struct hg_svg_opts {
    int rank;          /* the rank to highlight; -1: none */
    int gpus_per_node; /* nodes of this many consecutive ranks; 0: no node lines */
    const char *title; /* the config's name for the title, or NULL */
} hg_svg_opts;

/* Writes the picture of l. Write errors return HG_EIO with err->msg "cannot write the
 * plan: CAUSE", as hg_plan_write_json_named; memory, HG_ENOMEM. Stable element classes
 * for tools and tests: rect.rank (data-rank), rect.expert-rank, rect.cell (data-first,
 * data-ranks: the large form), path.bridge-link (one per link, data-from, data-to),
 * path.bridge (one per bundled bridge, data-links: every bridge in the large form),
 * rect.boundary (data-bridge, data-side), rect.highlight (data-rank),
 * path.node-boundary. No arrow crosses a text's box. */
int hg_plan_write_svg(const hg_layout *l, const hg_svg_opts *opts, FILE *out, hg_error *err);

#endif
