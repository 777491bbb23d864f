/* Plans: what hgrid writes down of a layout, for programs (JSON: the dry-run interface,
 * matching Megatron's golden layouts) and for people (a table): the whole layout, or one
 * rank's view (layout.h; --dry-run --rank N, and the HGRID_PLAN file of the exec
 * handoff). "Plan" means only this written form. JSON strings go through jansson; group
 * arrays are streamed, so memory stays O(one group), not O(output). */
#ifndef HG_PLAN_H
#define HG_PLAN_H

#include <stdio.h>

#include "util/error.h"
#include "grid/layout.h"

/* The schema version of both JSON plans: the value of "hgrid_plan" (the whole layout)
 * and of "hgrid_rank_plan" (one rank). Keys are only ever added within a version; a
 * reader checks it (python/hgrid/_plan.py's RANK_PLAN_VERSION is tested equal). */
#define HG_PLAN_VERSION 1

/* The whole layout's plan, one line: "hgrid_plan", "config":NAME when config is not
 * NULL (so each line of a multi-config dry-run names its file; bytes of a NAME that are
 * not UTF-8 become U+FFFD), "layout", "world_size", "modules", "groups", "bridges",
 * "kinds" (each kind's view and dims). Write errors (a closed pipe, a full disk) return
 * HG_EIO with err->msg "cannot write the plan: CAUSE"; output stops being computed at
 * the first one. */
int hg_plan_write_json_named(const hg_layout *l, const char *config, FILE *out,
                             hg_error *err);
int hg_plan_write_table(const hg_layout *l, FILE *out, hg_error *err);
/* One rank's plan: "hgrid_rank_plan", "kinds" (as above), then the rank's view. */
int hg_plan_write_rank_json(const hg_rank_view *p, FILE *out, hg_error *err);
int hg_plan_write_rank_table(const hg_rank_view *p, FILE *out, hg_error *err);
/* The layout as the command-line arguments of Megatron-LM's MIMO example
 * (examples/mimo/training/args.py), one line: "--encoder-tp N --encoder-dp N
 * --llm-offset N --llm-tp N --llm-cp N --llm-pp N --llm-dp N --llm-ep N --llm-expt-tp N"
 * plus " --num-experts N" when the language module gives moe.num_experts; a layout of
 * the language module alone: "--llm-only" and the --llm-* arguments. A layout the
 * example cannot express (two or more encoders, an encoder with cp, pp or experts, a
 * colocated layout, an encoder that does not feed the language module, a language
 * module not right after the encoder) writes nothing and returns HG_EINVAL, err->msg
 * "--format megatron: WHY". */
int hg_plan_write_megatron(const hg_layout *l, FILE *out, hg_error *err);

#endif
