# PyTorch's way to the same communicators, for scripts/bench-ready: under mpirun (rank
# and size from Open MPI's environment), init_process_group(nccl), then new_group for
# every distinct group of the layout (as Megatron does, every rank calls new_group for
# every group), then one all_reduce on each of this rank's groups and the world.
#
#   mpirun -np N python3 bench_torch.py PLAN.json [--per-kind]
# PLAN.json: the layout's plan JSON (`bare_nccl --plan CONFIG`, the same as hgrid-launch
# --dry-run --format json). --per-kind makes one group
# per kind even where members coincide (hgrid's HGRID_TEST_NO_SHARE=1). Rank 0 prints:
# torch: N ranks ready in S s (import a, init b, groups c, verify d; K groups/rank),
# each figure the slowest rank's, from the first line of this script.
import time

T0 = time.monotonic()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

T_IMPORT = time.monotonic()


def main():
    plan = json.load(open(sys.argv[1]))
    per_kind = "--per-kind" in sys.argv[2:]
    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    world = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    device = torch.device("cuda", local)
    torch.cuda.set_device(device)
    # device_id makes the world communicator eager and lets new_group split it.
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=device)
    t_init = time.monotonic()

    # Every rank makes the same calls in the same order.
    seen, mine = set(), []
    for module in plan["modules"]:
        for kind, groups in plan["groups"][module["name"]].items():
            for g in groups:
                key = (kind, tuple(g)) if per_kind else tuple(g)
                if key in seen or (not per_kind and len(g) == world):
                    continue
                seen.add(key)
                pg = dist.new_group(ranks=g)
                if rank in g:
                    mine.append((g, pg))
    t_groups = time.monotonic()

    bad = 0
    x = torch.empty(1, dtype=torch.int64, device=device)
    for g, pg in [(list(range(world)), None)] + mine:
        x.fill_(rank + 1)
        dist.all_reduce(x, group=pg)
        torch.cuda.synchronize()
        bad |= int(x.item() != sum(m + 1 for m in g))
    t_ready = time.monotonic()

    phases = torch.tensor(
        [T_IMPORT - T0, t_init - T_IMPORT, t_groups - t_init, t_ready - t_groups,
         t_ready - T0, len(mine) + 1, bad], dtype=torch.float64, device=device)
    dist.all_reduce(phases, op=dist.ReduceOp.MAX)
    p = phases.tolist()
    if rank == 0:
        print("torch: %d ranks ready in %.3f s (import %.3f, init %.3f, groups %.3f, "
              "verify %.3f; %d groups/rank)%s"
              % (world, p[4], p[0], p[1], p[2], p[3], int(p[5]), " WRONG SUMS" if p[6] else ""),
              flush=True)
    dist.destroy_process_group()
    return 1 if p[6] else 0


if __name__ == "__main__":
    sys.exit(main())
