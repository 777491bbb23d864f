#!/usr/bin/env python3
"""compare.py PLAN GOLDEN: the dry-run JSON plan's modules, groups (every kind) and bridges
equal a ../shared/golden-gtp file's (Megatron-LM's own HyperCommGrid and
BridgeCommunicator), key order aside; prints the first difference. Exit 0 when equal.
Each bridge's "group" (hgrid's addition: the bridge's own group) must be Megatron's
bridge_ranks, sorted(set(src_leaders) | set(dest_leaders)) of the golden's leaders; it is
then left out of the comparison, as the golden files predate it."""
import json
import sys

plan = json.load(open(sys.argv[1]))
golden = json.load(open(sys.argv[2]))
bad = 0
for pb, gb in zip(plan.get("bridges", []), golden.get("bridges", [])):
    want = sorted(set(gb["src_leaders"]) | set(gb["dest_leaders"]))
    if pb.pop("group", None) != want:
        print("bridge %s -> %s: group is not sorted(src_leaders | dest_leaders) %s"
              % (gb["src"], gb["dest"], want))
        bad = 1
for key in ("layout", "world_size", "modules", "bridges"):
    if plan.get(key, []) != golden.get(key, []):
        print("%s differs:\n  plan   %s\n  golden %s" % (key, json.dumps(plan.get(key))[:600],
                                                       json.dumps(golden.get(key))[:600]))
        bad = 1
for mod, kinds in golden["groups"].items():
    got = plan["groups"].get(mod, {})
    if set(got) != set(kinds):
        print("%s: kinds differ: plan %s, golden %s" % (mod, sorted(got), sorted(kinds)))
        bad = 1
    for kind, groups in kinds.items():
        if got.get(kind) != groups:
            print("%s %s differs:\n  plan   %s\n  golden %s" % (mod, kind, got.get(kind), groups))
            bad = 1
if set(plan["groups"]) != set(golden["groups"]):
    print("modules of groups differ")
    bad = 1
sys.exit(bad)
