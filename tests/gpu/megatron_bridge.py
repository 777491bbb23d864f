#!/usr/bin/env python3
"""Megatron-LM's own BridgeCommunicator on the groups hgrid.torch made (issue 23 E.5), in
every rank of an hgrid-launch exec handoff. argv: OUT_DIR PLAN_JSON (the layout's
whole plan, hgrid-launch --dry-run --format json). Megatron must be importable
(PYTHONPATH; tests/gpu/torch.sh puts the .megatron folder there when it was carried:
megatron/core/hyper_comm_grid.py and pipeline_parallel/bridge_communicator.py of a
Megatron-LM checkout, never committed here).

After hgrid.torch.init(), every rank builds each bridge's HyperCommGrids as Megatron's
MIMO topology does ([tp, gtp_remat, cp, dp, pp] at the module's offset) and constructs
BridgeCommunicator for every bridge, as MultiModulePipelineCommunicator does. It must
create no process group itself (dist.new_group and new_subgroups_by_enumeration are
counted), find its bridge group and boundary groups in the caches hgrid filled, and
compute the same leaders as the plan. Writes "rank N ok ..." or the mismatches to
OUT_DIR/out.N and exits 1 on any mismatch."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import torch.distributed as dist  # noqa: E402

import hgrid  # noqa: E402
import hgrid.torch  # noqa: E402
from megatron.core.hyper_comm_grid import HyperCommGrid  # noqa: E402
from megatron.core.pipeline_parallel.bridge_communicator import BridgeCommunicator  # noqa: E402


def grid_of(m):
    return HyperCommGrid(shape=[m["tp"], m.get("gtp_remat", 1), m["cp"], m["dp"], m["pp"]],
                         dim_names=["tp", "gtp_remat", "cp", "dp", "pp"],
                         rank_offset=m["offset"], backend="nccl")


def main():
    # A hang shows where it is (as torch_groups.py): every thread's stack, then exit.
    import faulthandler
    faulthandler.dump_traceback_later(int(os.environ.get("HGRID_TEST_HANG_S", "75")), exit=True)
    out_dir, plan_path = sys.argv[1], sys.argv[2]
    with open(plan_path) as f:
        whole = json.load(f)
    groups = hgrid.torch.init(hgrid.plan())
    rank = dist.get_rank()
    created = []
    new_group, by_enum = dist.new_group, dist.new_subgroups_by_enumeration

    def counted_new_group(*a, **k):
        created.append(("new_group", a[0] if a else k.get("ranks")))
        return new_group(*a, **k)

    def counted_by_enum(*a, **k):
        created.append(("new_subgroups_by_enumeration", a[0] if a else k.get("ranks_per_subgroup_list")))
        return by_enum(*a, **k)

    dist.new_group, dist.new_subgroups_by_enumeration = counted_new_group, counted_by_enum
    modules = {m["name"]: m for m in whole["modules"]}
    errs = []
    built = 0
    for b in whole["bridges"]:
        bc = BridgeCommunicator(grid_of(modules[b["src"]]), grid_of(modules[b["dest"]]),
                                src_module_name=b["src"], dest_module_name=b["dest"])
        built += 1
        if sorted(bc.src_tp_leaders) != b["src_leaders"] or sorted(bc.dest_tp_leaders) != b["dest_leaders"]:
            errs.append("%s->%s leaders %s %s, plan %s %s" % (b["src"], b["dest"], bc.src_tp_leaders,
                        bc.dest_tp_leaders, b["src_leaders"], b["dest_leaders"]))
        want_member = rank in b["group"]
        got = bc.bridge_pg
        if want_member and (got is None or got is dist.GroupMember.NON_GROUP_MEMBER):
            errs.append("%s->%s: member, but no bridge group" % (b["src"], b["dest"]))
        if want_member and got is not None and got is not dist.GroupMember.NON_GROUP_MEMBER:
            members = dist.get_process_group_ranks(got)
            if sorted(members) != b["group"]:
                errs.append("%s->%s bridge group %s, plan %s" % (b["src"], b["dest"], members, b["group"]))
    dist.new_group, dist.new_subgroups_by_enumeration = new_group, by_enum
    if created:
        errs.append("Megatron created %d groups itself: %s" % (len(created), created[:3]))
    dist.barrier()
    with open(os.path.join(out_dir, "out.%d" % rank), "w") as f:
        if errs:
            f.write("rank %d: %s\n" % (rank, "; ".join(errs)))
        else:
            f.write("rank %d ok: %d BridgeCommunicators, 0 groups created by Megatron\n" % (rank, built))
    groups.destroy()
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
