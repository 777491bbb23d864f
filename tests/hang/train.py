"""A torch gloo trainer for tests/hang_test.sh: every rank heartbeats and all-reduces
each step; HANG_RANK hangs at HANG_STEP in the way HANG says (sleep, lock, mismatch,
stop, cloop, prebeat). HANG_BACKEND=nccl (tests/gpu/torch.sh) all-reduces on the
rank's GPU instead of gloo on CPU. Its collectives are timed (hgrid.torch.time_collectives,
as hgrid.torch.init does), so the waiters' stacks hold hgrid's wrapper frame too."""
import ctypes
import os
import signal
import sys
import threading
import time

import torch
import torch.distributed as dist

import hgrid
import hgrid.torch

rank = int(os.environ["RANK"])
hang = os.environ.get("HANG", "")
hang_rank = int(os.environ.get("HANG_RANK", "-1"))
hang_step = int(os.environ.get("HANG_STEP", "3"))
me = rank == hang_rank


def load_batch():
    time.sleep(600)  # data loading that never returns


def deadlock():
    a, b = threading.Lock(), threading.Lock()

    def other():
        with b:
            time.sleep(0.2)
            with a:
                pass

    threading.Thread(target=other, daemon=True).start()
    with a:
        time.sleep(0.2)
        with b:
            pass


def c_loop():
    ctypes.CDLL(os.environ["HANG_SPIN_SO"]).hang_spin()


def mark():
    with open(os.environ["HANG_MARK"], "w") as f:
        f.write("%.6f\n" % time.time())


if me and hang == "prebeat":
    mark()
    load_batch()
backend = os.environ.get("HANG_BACKEND", "gloo")
if backend == "nccl":
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
hgrid.torch.time_collectives()
dist.init_process_group(backend)
t = torch.ones(4, device="cuda" if backend == "nccl" else "cpu")
for step in range(1000):
    hgrid.heartbeat(step)
    if me and step == hang_step:
        mark()
        if hang == "sleep":
            load_batch()
        elif hang == "lock":
            deadlock()
        elif hang == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        elif hang == "cloop":
            c_loop()
        elif hang == "mismatch":
            dist.broadcast(t, src=rank)
            continue
    dist.all_reduce(t)
    time.sleep(0.05)
