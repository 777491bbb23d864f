/* The placement check (issue 12): which tp, cp, ep and expert_tp groups of a layout
 * have members on more than one node, where those kinds' every-layer traffic crosses
 * the network. Nodes are either N consecutive ranks each (--gpus-per-node, what mpirun
 * --map-by ppr:N:node gives) or whatever node each rank reported (the agents' hosts).
 * Pure: no I/O; the launcher turns findings into diagnostics, the agent into lines. */
#ifndef HG_PLACEMENT_H
#define HG_PLACEMENT_H

#include <stddef.h>

#include "grid/config.h"
#include "util/diag.h"
#include "util/error.h"
#include "grid/layout.h"

/* A finding names its first few groups; the rest are counted. */
#define HG_PLACEMENT_SHOWN 3
/* Room for a rank list of HG_RANKLIST_MAX_RUNS runs of ranks below HG_MAX_WORLD. */
#define HG_PLACEMENT_LIST_MAX 640
/* Room for one formatted finding with every list at its longest. */
#define HG_PLACEMENT_LINE_MAX (HG_PLACEMENT_SHOWN * (2 * HG_PLACEMENT_LIST_MAX + 16) + 512)

typedef struct hg_placement_group {
    int index;                         /* among its module's groups of the kind */
    int nnodes;                        /* distinct nodes its members lie on (> 1) */
    char ranks[HG_PLACEMENT_LIST_MAX]; /* members, as hg_ranklist_format writes them */
    char nodes[HG_PLACEMENT_LIST_MAX]; /* the nodes, ascending, the same way */
} hg_placement_group;

/* One kind of one module with groups across nodes. */
typedef struct hg_placement_finding {
    int module; /* index in the layout (hg_layout_module), config order */
    char name[HG_NAME_MAX + 1];
    hg_kind kind;   /* HG_KIND_TP, HG_KIND_CP, HG_KIND_EP or HG_KIND_EXPT_TP */
    int group_size; /* ranks per group */
    int groups;     /* groups that span more than one node (>= 1) */
    int total;      /* groups of this kind in the module */
    int min_nodes, max_nodes; /* fewest and most nodes one of those groups spans */
    int nshown;               /* min(groups, HG_PLACEMENT_SHOWN) */
    hg_placement_group shown[HG_PLACEMENT_SHOWN]; /* the first ones, by group index */
} hg_placement_finding;

typedef struct hg_placement {
    int gpus_per_node; /* as passed (0 when node_of_rank was given) */
    int nodes;         /* nodes the world lies on, the last one possibly partial */
    size_t nfindings;  /* 0: every checked group fits on one node */
    hg_placement_finding *findings; /* module order, then tp, cp, ep, expt_tp; owned */
} hg_placement;

/* Finds, in every module (all of them in a colocated layout), the groups of kinds tp,
 * cp, ep and expt_tp whose members lie on more than one node. node_of_rank NULL: rank
 * r is on node r / gpus_per_node (gpus_per_node >= 1), so when it does not divide the
 * world the last node holds the rest, as mpirun fills it. Otherwise node_of_rank[r]
 * (r < world) is rank r's node, an index in [0, world), and gpus_per_node is only
 * echoed in messages (0: not known). O(world x kinds) time, O(world) memory at most.
 * *out is zeroed first and is the caller's to free, even on failure. */
int hg_placement_check(const hg_layout *l, int gpus_per_node, const int *node_of_rank,
                       hg_placement *out, hg_error *err);
void hg_placement_free(hg_placement *p);

/* Finding i (< p->nfindings) as one line without a level, e.g. "language: 4 of 4 tp groups span 2 nodes
 * (4 GPUs per node): ranks [0-7] on nodes 0-1, [8-15] on nodes 2-3, [16-23] on nodes
 * 4-5 and 1 more; tensor parallelism across nodes is slow (it communicates in every
 * layer)". Truncated to fit len (HG_PLACEMENT_LINE_MAX always fits). Returns buf. */
char *hg_placement_format(const hg_placement *p, size_t i, char *buf, size_t len);

/* The launcher's use, dry-run and launch alike: checks nodes of gpus_per_node
 * consecutive ranks and adds each finding to d at its key in cfg (the module's `tp:`,
 * `cp:`, `moe.ep:` or `moe.expert_tp:`, else the module), as a warning, or as an error
 * when flags hold HG_VALIDATE_STRICT. cfg may be NULL (no positions). Returns 0, or
 * HG_ECONFIG when it added an error; a failure of the check itself is added to d as an
 * error and its code returned. */
int hg_placement_diagnose(const hg_layout *l, const hg_config *cfg, int gpus_per_node,
                          unsigned flags, hg_diags *d);

#endif
