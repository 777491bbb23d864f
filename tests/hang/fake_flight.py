"""A stand-in for torch 2.11's flight recorder, for tests/hang_test.sh: no torch, no
collectives. Every rank heartbeats steps 0-3; HANG_RANK then sleeps having entered
all-reduces #1-#3 of the world group (its recorder says so), while the others "wait in"
#4: their recorders hold it scheduled and not retired, their main threads block outside
torch.distributed (as NCCL's waiters do), so only the recorder tells them apart.
The dump is shaped as torch/csrc/distributed/c10d/FlightRecorderDetail.hpp's dump_json
(tests/python/test_flight.py has the fields)."""
import json
import os
import sys
import threading
import time
import types

rank = int(os.environ["RANK"])
world = int(os.environ["WORLD_SIZE"])
behind = rank == int(os.environ.get("HANG_RANK", "-1"))
entered = 3 if behind else 4


def _dump_fr_trace_json(include_collectives=True, only_active=False, backend="gloo"):
    members = ", ".join(str(r) for r in range(world))
    entries = [{"record_id": s - 1, "pg_id": 0, "process_group": ["0", "default_pg"],
                "collective_seq_id": s, "p2p_seq_id": 0, "op_id": s,
                "profiling_name": "gloo:all_reduce", "state": "scheduled",
                "retired": s < 4, "is_p2p": False} for s in range(1, entered + 1)]
    return json.dumps({"version": "2.10", "pg_status": {}, "entries": entries,
                       "pg_config": {"0": {"name": "0", "desc": "default_pg",
                                           "ranks": "[%s]" % members}}})


torch = types.ModuleType("torch")
torch._C = types.SimpleNamespace(
    _distributed_c10d=types.SimpleNamespace(_dump_fr_trace_json=_dump_fr_trace_json))
sys.modules["torch"] = torch

import hgrid  # noqa: E402

for step in range(4):
    hgrid.heartbeat(step)
if behind:
    time.sleep(600)
threading.Event().wait(600)
