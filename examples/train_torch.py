#!/usr/bin/env python3
"""A minimal PyTorch trainer on hgrid's groups, started by hgrid-launch's exec handoff:

    hgrid-launch CONFIG -- python3 examples/train_torch.py
    hgrid-launch --backend mpi --mpi-arg=--oversubscribe CONFIG -- python3 examples/train_torch.py

hgrid.torch.init() makes the default group (nccl on GPUs, gloo on CPUs) and only this
rank's groups. Then, per module of the rank (colocated: every module), a toy model
takes one step whose gradient is averaged over the module's dp group, and each bridge
of the plan moves an activation from the encoder to the language module: the sender
leaders send to their peers (point to point on the default group), the receiver leaders
check what arrived and broadcast it in their boundary group. One line per rank; exit 1
on any mismatch. Needs python/ on PYTHONPATH (or hgrid installed) and torch >= 2.1.
"""
import os
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import hgrid  # noqa: E402
import hgrid.torch  # noqa: E402

WIDTH = 4


def step(name, pgc, members, device):
    """One training step of a toy linear model of module `name`: the same weights on
    every replica (seeded by the name), input from the global rank, the gradient summed
    over dp and divided by its size. The gradient of sum(W x) is ones x^T, so the
    averaged one is known: ones (mean of x over the dp members)^T."""
    torch.manual_seed(zlib.crc32(name.encode()))
    model = torch.nn.Linear(WIDTH, WIDTH, bias=False).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.arange(WIDTH, dtype=torch.float32, device=device) + dist.get_rank()
    loss = model(x).sum()
    loss.backward()
    g = model.weight.grad
    dist.all_reduce(g, group=pgc.dp)
    g /= len(members)
    opt.step()
    want = (torch.arange(WIDTH, dtype=torch.float32) + sum(members) / len(members)).expand(WIDTH, WIDTH)
    ok = torch.allclose(g.cpu(), want)
    return ok, "%s step loss %.4f grad over dp %s %s" % (name, loss.item(), members, "ok" if ok else "WRONG")


def bridge(b, groups, device):
    """One bridge of the rank: the sender sends (its rank + 1) to each peer; a receiver
    checks each value, sums them and broadcasts the sum in its boundary group; a member
    takes the sum from the broadcast."""
    me = dist.get_rank()
    t = torch.empty(WIDTH, dtype=torch.float32, device=device)
    if b.side == "src":
        if b.role == "sender":
            for peer in b.peers:
                dist.send(torch.full_like(t, me + 1.0), dst=peer)
            return True, "%s->%s sender to %s ok" % (b.src, b.dest, b.peers)
        return True, "%s->%s src member (leader %d)" % (b.src, b.dest, b.leader)
    ok = True
    total = torch.zeros_like(t)
    if b.role == "receiver":
        for peer in b.peers:
            dist.recv(t, src=peer)
            ok &= bool(torch.all(t == peer + 1.0))
            total += t
    if len(b.broadcast) > 1:
        dist.broadcast(total, src=b.leader, group=groups.group(b.broadcast))
    ok &= bool(torch.all(total > 0))
    what = "from %s" % b.peers if b.role == "receiver" else "via leader %d" % b.leader
    return ok, "%s->%s %s %s %s (sum %g)" % (b.src, b.dest, b.role, what, "ok" if ok else "WRONG",
                                             total[0].item())


def main():
    plan = hgrid.plan()
    groups = hgrid.torch.init(plan)
    device = torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")
    ok, parts = True, []
    for mp in plan.modules:
        good, text = step(mp.module.name, groups[mp.module.name], mp.groups["dp"].members, device)
        ok &= good
        parts.append(text)
    for b in groups.bridges:
        good, text = bridge(b, groups, device)
        ok &= good
        parts.append(text)
    flag = torch.tensor([0 if ok else 1], dtype=torch.int32, device=device)
    dist.all_reduce(flag)
    print("train_torch: rank %d (%s, %s): %s; %s" % (
        plan.rank, plan.module.name, dist.get_backend(), "; ".join(parts),
        "all ranks ok" if flag.item() == 0 else "%d rank(s) WRONG" % flag.item()), flush=True)
    groups.destroy()
    return 0 if flag.item() == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
