"""The rank program of test_launch.py, run by hgrid-launch's exec handoff on every rank:
hgrid.plan() from HGRID_PLAN against the dry-run's --rank JSON in argv[1]/RANK.json.
Writes argv[1]/out.RANK ("rank R plan-ok", or what differs): mpirun's output forwarding
may lose lines of a process that exits fast."""
import dataclasses
import json
import os
import sys

import hgrid

exp_dir = sys.argv[1]
p = hgrid.plan()
exp = json.load(open(os.path.join(exp_dir, "%d.json" % p.rank)))


def mp(m):
    return {"module": dataclasses.asdict(m.module), "module_rank": m.module_rank,
            "coords": m.coords,
            "groups": {k: g and {"index": g.index, "rank": g.rank, "members": list(g.members)}
                       for k, g in m.groups.items()}}


def kind(k):
    d = {"view": k.view, "dims": list(k.dims)}
    if k.members is not None:
        d["members"] = k.members
    if k.roles is not None:
        d["roles"] = list(k.roles)
    if k.fields is not None:
        d["fields"] = list(k.fields)
    return d


top = [m for m in p.modules if m.module.name == p.module.name][0]
got = {"hgrid_rank_plan": p.version, "kinds": {n: kind(k) for n, k in p.kinds.items()},
       "world_size": p.world_size, "rank": p.rank, **mp(top),
       "bridges": [{**dataclasses.asdict(b), "group": list(b.group)} for b in p.bridges]}
if p.layout == "colocated":
    got["modules"] = [mp(m) for m in p.modules]
else:
    got["bridge_groups"] = [{"src": b.src, "dest": b.dest, "group": list(b.group),
                             "src_broadcast": [list(x) for x in b.src_broadcast],
                             "dest_broadcast": [list(x) for x in b.dest_broadcast]}
                            for b in p.bridge_groups]
errs = []
if got != exp or list(got["kinds"]) != list(exp["kinds"]):
    errs.append("plan differs from the dry-run: %s" % json.dumps(got))
if json.load(open(os.environ["HGRID_PLAN"])) != exp:
    errs.append("HGRID_PLAN differs from the dry-run")
for var, want in (("RANK", p.rank), ("WORLD_SIZE", p.world_size),
                  ("HGRID_MODULE", p.module.name), ("HGRID_MODULE_RANK", p.module_rank),
                  ("HGRID_TP_RANK", p.coords["tp"]), ("HGRID_DP_SIZE", p.module.dp)):
    if os.environ.get(var) != str(want):
        errs.append("%s=%s, plan says %s" % (var, os.environ.get(var), want))
if os.environ.get("HGRID_MODULES", "").split(",") != [m.module.name for m in p.modules]:
    errs.append("HGRID_MODULES=%s, plan has %s" % (os.environ.get("HGRID_MODULES"),
                                                    [m.module.name for m in p.modules]))
if "torch" in sys.modules:
    errs.append("import hgrid imported torch")
with open(os.path.join(exp_dir, "out.%d" % p.rank), "w") as f:
    f.write("rank %d %s\n" % (p.rank, "; ".join(errs) if errs else "plan-ok"))
sys.exit(1 if errs else 0)
