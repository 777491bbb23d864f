#!/usr/bin/env python3
"""compare.py PLAN GOLDEN: the dry-run JSON plan's modules, groups (every kind) and bridges
equal a ../shared/golden-gtp file's (Megatron-LM's own HyperCommGrid and
BridgeCommunicator), key order aside; prints the first difference. Exit 0 when equal."""
import json
import sys

plan = json.load(open(sys.argv[1]))
golden = json.load(open(sys.argv[2]))
bad = 0
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
