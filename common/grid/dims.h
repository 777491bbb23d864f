/* What the grid model knows of each dim besides its names (hgrid/base.h's HG_DIMS): its
 * place in each view's grid order, where a config gives it, and how the plan shows it.
 * Each view's grid order is HG_DENSE_VIEW and HG_EXPERT_VIEW below.
 * The structs that carry one value per dim (hg_module_spec, hg_module, hg_coords) are
 * made from HG_DIMS too, so every loop over dims (parsing, defaults, coordinates, the
 * plan's JSON and tables) reads this table, and a new dim is a line in HG_DIMS, a row
 * here and the rules that are its own (docs/INTERNALS.md, "Adding a dim"). */
#ifndef HG_DIMS_H
#define HG_DIMS_H

#include "hgrid/base.h"

/* The number of dims, from HG_DIMS. */
#define HG_DIM_ONE_(NAME, name, module_key) +1
enum { HG_DIM_COUNT = 0 HG_DIMS(HG_DIM_ONE_) };
#undef HG_DIM_ONE_

/* A dim's coordinate name ("tp", ..., "expt_dp"), its module key in the plan and the
 * config ("tp", ..., "expert_dp") and its part of environment names ("TP", ...,
 * "EXPT_DP"); "?" for a value that is no dim. */
const char *hg_dim_name(hg_dim dim);
const char *hg_dim_module_key(hg_dim dim);
const char *hg_dim_env_name(hg_dim dim);

/* Each view's dims in grid order, first fastest (Megatron HyperCommGrid's): dense [tp,
 * gtp_remat, cp, dp, pp], expert [expert_tp, ep, expert_gtp_remat, expert_dp, pp]; both
 * views factor the same span and share pp, their last (slowest) dim. gtp_remat sits
 * after tp because Megatron puts it there, though HG_DIMS appends it. */
#define HG_DENSE_VIEW(X) X(TP) X(GTP_REMAT) X(CP) X(DP) X(PP)
#define HG_EXPERT_VIEW(X) X(EXPT_TP) X(EP) X(EXPT_GTP_REMAT) X(EXPT_DP) X(PP)
enum { HG_VIEW_DENSE = 0, HG_VIEW_EXPERT = 1, HG_VIEW_COUNT = 2 };

/* Dims per view. */
#define HG_VIEW_ONE_(D) +1
enum { HG_VIEW_DIMS = 0 HG_DENSE_VIEW(HG_VIEW_ONE_) };
_Static_assert(HG_VIEW_DIMS == 0 HG_EXPERT_VIEW(HG_VIEW_ONE_), "both views have as many dims");
#undef HG_VIEW_ONE_

/* The same as a table: hg_view_dim[view][i] is the view's dim i, grid order. */
extern const hg_dim hg_view_dim[HG_VIEW_COUNT][HG_VIEW_DIMS];

/* Where a config gives a dim, under its module key (hg_dim_module_key). */
typedef enum hg_dim_given {
    HG_DIM_GIVEN_MODULE, /* a key of the module's mapping: `tp: 2` */
    HG_DIM_GIVEN_MOE,    /* a key of its `moe:` mapping: `moe: {ep: 2}` */
    HG_DIM_RESOLVED      /* never written; validate works it out (expert_dp) */
} hg_dim_given;

typedef struct hg_dim_info {
    hg_dim_given given;
    /* The value when the key is absent: 1, or 0 where validate resolves it (dp from
     * size, expert_dp from the span). */
    int absent;
    /* Dims that layouts written before them never name (Generalized Tensor Parallelism):
     * the table's columns and a rank's coordinate line show them only where some
     * module has one of them other than 1, so such layouts read as before. */
    int quiet;
    /* Its columns in --format table: the module table's (headed by the module key) and
     * the rank table's (headed by the coordinate name) minimum widths, and the spaces
     * before both. */
    unsigned char module_width, rank_width, gap;
} hg_dim_info;

/* One row per dim, indexed by hg_dim. Read-only. */
extern const hg_dim_info hg_dim_infos[HG_DIM_COUNT];

/* One int per dim, named as HG_DIMS names them: `int tp; int cp; ...` with the module
 * keys (hg_module's sizes) or the coordinate names (hg_coords). An anonymous union with
 * an array of HG_DIM_COUNT of the same type lets a loop index what a rule names. */
#define HG_DIM_FIELD_BY_KEY_(NAME, name, module_key) int module_key;
#define HG_DIM_FIELD_BY_NAME_(NAME, name, module_key) int name;
#define HG_DIM_NUM_BY_KEY_(NAME, name, module_key) hg_num module_key;
/* The named ints lie as the array does (one after another, no padding). */
struct hg_dim_fields_check_ { HG_DIMS(HG_DIM_FIELD_BY_KEY_) };
_Static_assert(sizeof(struct hg_dim_fields_check_) == HG_DIM_COUNT * sizeof(int),
               "a dim's named field aliases its element of dim[]");

#endif
