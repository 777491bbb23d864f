"""A torch gloo trainer for tests/straggler_test.sh: every rank computes COMPUTE_MS a
step (sleeping; with COMPUTE=busy, a fixed count of Python loop turns, about that long
on an idle core, so CPU contention shows), all-reduces and heartbeats; rank SLOW_RANK
computes SLOW_PCT % more. TIMED=0 leaves the collectives untimed (the
heartbeats then say no compute time)."""
import os
import time

import torch
import torch.distributed as dist

import hgrid
import hgrid.torch

rank = int(os.environ["RANK"])
work = float(os.environ.get("COMPUTE_MS", "40")) / 1000
if rank == int(os.environ.get("SLOW_RANK", "-1")):
    work *= 1 + float(os.environ.get("SLOW_PCT", "15")) / 100
busy = os.environ.get("COMPUTE") == "busy"
if os.environ.get("TIMED", "1") == "1":
    hgrid.torch.time_collectives()
dist.init_process_group("gloo")
t = torch.ones(4)
for step in range(int(os.environ.get("STEPS", "80"))):
    hgrid.heartbeat(step)
    if busy:
        for _ in range(int(work * 1e7)):
            pass
    else:
        time.sleep(work)
    dist.all_reduce(t)
dist.destroy_process_group()
