/* The dims' table (dims.h) and names (HG_DIMS). */
#include "grid/dims.h"

#include "grid/layout.h"

const hg_dim_info hg_dim_infos[HG_DIM_COUNT] = {
    /*                         given                absent quiet  widths: module rank gap */
    [HG_DIM_TP] =             { HG_DIM_GIVEN_MODULE, 1, 0, 4, 4, 1 },
    [HG_DIM_CP] =             { HG_DIM_GIVEN_MODULE, 1, 0, 4, 4, 1 },
    [HG_DIM_DP] =             { HG_DIM_GIVEN_MODULE, 0, 0, 5, 4, 1 },
    [HG_DIM_PP] =             { HG_DIM_GIVEN_MODULE, 1, 0, 4, 4, 1 },
    [HG_DIM_EP] =             { HG_DIM_GIVEN_MOE, 1, 0, 4, 4, 2 },
    [HG_DIM_EXPT_TP] =        { HG_DIM_GIVEN_MOE, 1, 0, 9, 7, 1 },
    [HG_DIM_EXPT_DP] =        { HG_DIM_RESOLVED, 0, 0, 9, 7, 1 },
    [HG_DIM_GTP_REMAT] =      { HG_DIM_GIVEN_MODULE, 1, 1, 9, 9, 1 },
    [HG_DIM_EXPT_GTP_REMAT] = { HG_DIM_GIVEN_MOE, 1, 1, 16, 14, 1 },
};

#define VIEW_DIM_(D) HG_DIM_##D,
const hg_dim hg_view_dim[HG_VIEW_COUNT][HG_VIEW_DIMS] = {
    [HG_VIEW_DENSE] = { HG_DENSE_VIEW(VIEW_DIM_) },
    [HG_VIEW_EXPERT] = { HG_EXPERT_VIEW(VIEW_DIM_) },
};
#undef VIEW_DIM_

#define DIM_NAME_(NAME, name, module_key) [HG_DIM_##NAME] = HG_STRINGIFY(name),
static const char *const dim_names[] = { HG_DIMS(DIM_NAME_) };
#undef DIM_NAME_
#define DIM_KEY_(NAME, name, module_key) [HG_DIM_##NAME] = HG_STRINGIFY(module_key),
static const char *const dim_module_keys[] = { HG_DIMS(DIM_KEY_) };
#undef DIM_KEY_
#define DIM_ENV_(NAME, name, module_key) [HG_DIM_##NAME] = #NAME,
static const char *const dim_env_names[] = { HG_DIMS(DIM_ENV_) };
#undef DIM_ENV_

const char *hg_dim_name(hg_dim dim)
{
    return (unsigned)dim < HG_DIM_COUNT ? dim_names[dim] : "?";
}

const char *hg_dim_module_key(hg_dim dim)
{
    return (unsigned)dim < HG_DIM_COUNT ? dim_module_keys[dim] : "?";
}

const char *hg_dim_env_name(hg_dim dim)
{
    return (unsigned)dim < HG_DIM_COUNT ? dim_env_names[dim] : "?";
}

int hg_coords_dim(const hg_coords *c, hg_dim dim)
{
    return (unsigned)dim < HG_DIM_COUNT ? c->dim[dim] : -1;
}

int hg_module_dim(const hg_module *m, hg_dim dim)
{
    return (unsigned)dim < HG_DIM_COUNT ? m->dim[dim] : -1;
}
