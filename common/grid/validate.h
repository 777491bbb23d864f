/* Validation: every rule relating the numbers of a parsed config (docs/DESIGN.md,
 * "Validation rules" 1-9), resolving what was left implicit (dp or size, offsets,
 * expert_dp). Each message names the module, the numbers and the rule. */
#ifndef HG_VALIDATE_H
#define HG_VALIDATE_H

#include "grid/config.h"
#include "grid/dims.h"
#include "util/diag.h"

/* Rule 8 (layouts beyond what the MIMO runtime accepts) is an error, not a warning. */
#define HG_VALIDATE_STRICT 1u

/* One module with every size resolved. Plain data: the layout and the agent read it. */
typedef struct hg_module {
    char name[HG_NAME_MAX + 1];
    hg_role role;
    int offset, size;
    /* Its size along every dim: m.tp, ..., m.expert_gtp_remat by the dims' module keys,
     * or m.dim[d] by hg_dim (grid/dims.h). */
    union {
        int dim[HG_DIM_COUNT];
        struct { HG_DIMS(HG_DIM_FIELD_BY_KEY_) };
    };
    int num_experts; /* 0 when not given */
} hg_module;

/* One edge of the module graph (a bridge of a disjoint layout): src feeds dest. */
typedef struct hg_edge {
    int src, dest; /* module indexes */
    hg_mark at;    /* the name in src's feeds; line 0: the encoder default */
} hg_edge;

/* Checks cfg; fills out[0 .. cfg->nmodules) and *world. Returns 0 when no error was
 * reported (warnings allowed; errors already in diags do not count), HG_ECONFIG
 * otherwise. The diagnostics it adds are in file order.
 * With edges non-NULL it also hands back the module graph (rule 9; docs/DESIGN.md
 * "Module graph and bridges"): on success *edges (malloc'd, the caller's to free; NULL
 * when there is no edge, always so in a colocated layout) holds *nedges edges sorted by
 * source module, then destination. On failure *edges is NULL. */
int hg_validate_graph(const hg_config *cfg, unsigned flags, hg_module *out, int *world,
                      hg_edge **edges, size_t *nedges, hg_diags *diags);

const char *hg_role_name(hg_role role);

#endif
