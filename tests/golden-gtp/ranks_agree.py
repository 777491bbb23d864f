#!/usr/bin/env python3
"""ranks_agree.py WHOLE RANK...: every rank's plan (--dry-run --rank N --format json)
agrees with the whole plan: its module, each group (index, members, its position) and,
in a disjoint layout, its bridge roles (leader, peers, broadcast group, the bridge's
own group) and "bridge_groups" (every bridge's groups) are the whole plan's. Exit 0 when all agree."""
import json
import sys

whole = json.load(open(sys.argv[1]))
mods = {m["name"]: m for m in whole["modules"]}
bad = []


def check_view(rank, view, name):
    groups = whole["groups"][name]
    for kind, g in view["groups"].items():
        holding = [i for i, members in enumerate(groups.get(kind, [])) if rank in members]
        if g is None:
            if holding and kind not in ("embd", "pos_embd"):
                bad.append("rank %d %s %s: null, whole plan has it" % (rank, name, kind))
            continue
        if holding != [g["index"]] or groups[kind][g["index"]] != g["members"] \
                or g["members"][g["rank"]] != rank:
            bad.append("rank %d %s %s: %s" % (rank, name, kind, g))
    if set(view["groups"]) != set(groups):
        bad.append("rank %d %s: kinds %s" % (rank, name, sorted(set(view["groups"]) ^ set(groups))))


seen = set()
for path in sys.argv[2:]:
    p = json.load(open(path))
    r = p["rank"]
    seen.add(r)
    views = p["modules"] if "modules" in p else [p]
    for v in views:
        name = v["module"]["name"]
        want = {k: x for k, x in mods[name].items() if k != "feeds"}
        if v["module"] != want:
            bad.append("rank %d: module %s differs" % (r, name))
        check_view(r, v, name)
    for b in p.get("bridges", []):
        wb = [x for x in whole["bridges"] if x["src"] == b["src"] and x["dest"] == b["dest"]][0]
        side = b["side"]
        leaders = wb["src_leaders" if side == "src" else "dest_leaders"]
        bcast = wb["src_broadcast" if side == "src" else "dest_broadcast"]
        lane = [i for i, g in enumerate(bcast) if r in g]
        if len(lane) != 1 or b["leader"] != leaders[lane[0]] or b["broadcast"] != bcast[lane[0]]:
            bad.append("rank %d bridge %s" % (r, b))
            continue
        if b["group"] != wb["group"]:
            bad.append("rank %d bridge group %s" % (r, b["group"]))
        if b["role"] == "member":
            ok = b["leader"] != r and b["peers"] == []
        else:
            i = 0 if side == "src" else 1
            peers = sorted(link[1 - i] for link in wb["links"] if link[i] == r)
            ok = b["leader"] == r and b["peers"] == peers
        if not ok:
            bad.append("rank %d bridge role %s" % (r, b))
    if "modules" not in p:
        want = [{k: wb[k] for k in ("src", "dest", "group", "src_broadcast", "dest_broadcast")}
                for wb in whole["bridges"]]
        if p.get("bridge_groups") != want:
            bad.append("rank %d: bridge_groups %s" % (r, p.get("bridge_groups")))
if seen != set(range(whole["world_size"])):
    bad.append("ranks missing: %s" % sorted(set(range(whole["world_size"])) - seen))
print("\n".join(bad[:20]))
sys.exit(1 if bad else 0)
