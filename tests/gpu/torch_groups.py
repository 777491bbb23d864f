#!/usr/bin/env python3
"""hgrid.torch.init() checked against the plan, in every rank (started by hgrid-launch's
exec handoff; tests/gpu/torch.sh runs it with gloo at 8, 20 and 64 ranks and with nccl
on 2 GPUs): for every module of the rank and every ProcessGroupCollection field,
get_process_group_ranks equals the plan's members (None where the plan has none);
identical memberships are one group object; one all-reduce on every distinct group
(and the default group) gives sum(members + 1). With Megatron importable, its
ProcessGroupCollection's unset_fields are exactly the fields no plan kind fills (the
gtp_remat fields among the set ones). HGRID_TEST_HIGH_PRIORITY=dp,ep,...: init() gets
them as high_priority_stream_groups; on NCCL exactly their groups have
is_high_priority_stream, on gloo Groups.notes says they were ignored. Writes "rank N ok
..." or the mismatches to DIR/out.N (argv[1]) and exits 1 on any mismatch; destroy() at
the end."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import hgrid  # noqa: E402
import hgrid.torch  # noqa: E402
from hgrid import _groups  # noqa: E402


GTP_FIELDS = ("gtp_remat", "expt_gtp_remat", "dp_cp_gtp_remat", "expt_dp_gtp_remat",
              "tp_ep_pp_with_egtp_remat", "intra_dist_opt")


def main():
    out_dir = sys.argv[1]
    # A hang shows where it is: every thread's Python stack, then exit.
    import faulthandler
    faulthandler.dump_traceback_later(int(os.environ.get("HGRID_TEST_HANG_S", "75")), exit=True)
    plan = hgrid.plan()
    hp = [n for n in os.environ.get("HGRID_TEST_HIGH_PRIORITY", "").split(",") if n]
    t0 = time.monotonic()
    groups = hgrid.torch.init(plan, high_priority_stream_groups=hp or None)
    t_init = time.monotonic() - t0
    device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")
    backend = dist.get_backend()
    errs = []
    by_id = {}
    nfields = 0
    for mp in plan.modules:
        pgc = groups[mp.module.name]
        megatron = not isinstance(pgc, hgrid.torch.ProcessGroups)
        names = hgrid.torch.collection_fields(type(pgc)) if megatron else None
        values, unset_want = groups.spec.fields(mp.module.name, names)
        if megatron and pgc.unset_fields != unset_want:
            errs.append("%s unset_fields %s, want %s" % (mp.module.name, pgc.unset_fields,
                                                         unset_want))
        # Megatron's topology sets these (issue 20); a plan of today gives each.
        for f in GTP_FIELDS:
            if f not in values and (f in (names or ()) or not megatron):
                errs.append("%s.%s: no plan kind gives it" % (mp.module.name, f))
        nfields += len(values)
        for f, members in values.items():
            pg = getattr(pgc, f, "missing")
            if members is None:
                if pg is not None:
                    errs.append("%s.%s should be None" % (mp.module.name, f))
                continue
            if pg is None or pg == "missing":
                errs.append("%s.%s is %s, plan has %s" % (mp.module.name, f, pg, list(members)))
                continue
            got = dist.get_process_group_ranks(pg)
            if got != list(members):
                errs.append("%s.%s ranks %s, plan %s" % (mp.module.name, f, got, list(members)))
            prev = by_id.setdefault(tuple(members), pg)
            if prev is not pg:
                errs.append("%s.%s: members %s not shared" % (mp.module.name, f, list(members)))
        unset = getattr(pgc, "unset_fields", [])
    nreduce = 0
    x = torch.empty(1, dtype=torch.int64, device=device)
    for members in [None] + groups.spec.create:
        pg = None if members is None else groups.group(members)
        want = sum(m + 1 for m in (members or range(plan.world_size)))
        x.fill_(plan.rank + 1)
        dist.all_reduce(x, group=pg)
        nreduce += 1
        if x.item() != want:
            errs.append("all_reduce over %s: %d, want %d" % (members or "world", x.item(), want))
    if device.type == "cuda":
        torch.cuda.synchronize()
    nhp = 0
    if hp and backend == "nccl":
        for members, pg in groups.created.items():
            want = members in groups.spec.high_priority
            got = pg._get_backend(torch.device("cuda")).options.is_high_priority_stream
            nhp += got
            if got != want:
                errs.append("group %s is_high_priority_stream %s, want %s"
                            % (list(members), got, want))
        if not groups.spec.high_priority:
            errs.append("high_priority_stream_groups %s named no group" % hp)
    elif hp and not groups.notes:
        errs.append("high_priority_stream_groups on %s: no note" % backend)
    n_created = len(groups.created)
    hp_kinds = _groups.priority_kinds(hp, plan.kinds)[0] if backend == "nccl" else ()
    spec = _groups.group_spec(plan, high_priority=hp_kinds)
    # A bridge leader also creates its bridges' own groups (those no module group equals).
    ncalls = len(spec.create) + sum(1 for m in _groups.bridge_spec(plan).create
                                    if m not in spec.create and not spec.is_world(m))
    if n_created != ncalls:
        errs.append("created %d groups, spec says %d" % (n_created, ncalls))
    groups.destroy()
    faulthandler.cancel_dump_traceback_later()
    with open(os.path.join(out_dir, "out.%d" % plan.rank), "w") as f:
        if errs:
            f.write("rank %d WRONG: %s\n" % (plan.rank, "; ".join(errs)))
        else:
            f.write("rank %d ok: %s %s, %d modules, %d groups created, %d all-reduces, "
                    "init %.3f s, pgc %s, %d fields = plan, unset %s%s\n"
                    % (plan.rank, backend,
                       torch.__version__, len(plan.modules), n_created, nreduce, t_init,
                       type(groups.pgc).__name__, nfields, unset,
                       ", high-priority %s: %s" % (",".join(hp), "%d groups" % nhp
                                                   if backend == "nccl" else "ignored, noted")
                       if hp else ""))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
