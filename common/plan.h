/* Plan output: the layout as JSON (the dry-run interface, matching Megatron's golden
 * layouts) or as a table for people, and one rank's view. JSON strings go through
 * jansson; group arrays are streamed, so memory stays O(one group), not O(output). */
#ifndef HG_PLAN_H
#define HG_PLAN_H

#include <stdio.h>

#include "error.h"
#include "layout.h"

int hg_plan_write_json(const hg_layout *l, FILE *out, hg_error *err);
int hg_plan_write_table(const hg_layout *l, FILE *out, hg_error *err);
int hg_plan_write_rank_json(const hg_rank_plan *p, FILE *out, hg_error *err);
int hg_plan_write_rank_table(const hg_rank_plan *p, FILE *out, hg_error *err);

#endif
