"""A tiny distributed job for ``dist.ddp``: an all_reduce, then a few data-parallel steps (gloo).

Run it with ``torchrun-core run dist.ddp -j 1x2 --script examples/ddp_allreduce.py``
(or any launcher that sets torchrun's env: RANK, WORLD_SIZE, MASTER_ADDR, ...).
Every rank prints one line the tests read back:

    rank=R world_size=W local_rank=L allreduce=S params_in_sync=True

``allreduce`` is the sum over ranks of ``rank + 1``, which must be
``W * (W + 1) / 2``; ``params_in_sync`` says whether every rank holds the same
model parameters after the training steps. The script exits 1 when either is wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist


def all_reduce_ranks() -> int:
    """The sum over all ranks of ``rank + 1``."""
    value = torch.tensor([dist.get_rank() + 1], dtype=torch.int64)
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return int(value.item())


def train_steps(steps: int, lr: float = 0.1) -> bool:
    """A few data-parallel SGD steps; True when every rank ends with the same parameters.

    Each rank computes gradients on its own data, then averages them with
    all_reduce (what DistributedDataParallel does) and updates its copy of the
    model. Neither the DDP wrapper nor torch.optim is used: in torch 2.13 both
    keep the gloo process group alive past destroy_process_group, and its
    threads, torn down at interpreter exit instead, can abort the process.
    """
    torch.manual_seed(0)  # the same initial model on every rank
    model = torch.nn.Linear(4, 1)
    data = torch.full((8, 4), float(dist.get_rank() + 1))  # each rank sees different data
    world_size = dist.get_world_size()
    for _ in range(steps):
        model.zero_grad()
        model(data).pow(2).mean().backward()
        with torch.no_grad():
            for param in model.parameters():
                assert param.grad is not None
                dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
                param.sub_(param.grad, alpha=lr / world_size)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world_size)]
    dist.all_gather(gathered, flat)
    return all(torch.equal(flat, other) for other in gathered)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="data-parallel training steps")
    parser.add_argument("--timeout", type=float, default=60, help="collective timeout, seconds")
    args = parser.parse_args()
    # Without a timeout a rank whose peer died would wait for 30 minutes.
    dist.init_process_group("gloo", timeout=timedelta(seconds=args.timeout))
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        total = all_reduce_ranks()
        in_sync = train_steps(args.steps)
        local_rank = os.environ.get("LOCAL_RANK", "?")
        # One write per line: the workers of a node share its stdout, and print()
        # writes the text and its newline separately when output is unbuffered.
        sys.stdout.write(
            f"rank={rank} world_size={world_size} local_rank={local_rank} "
            f"allreduce={total} params_in_sync={in_sync}\n"
        )
        sys.stdout.flush()
    finally:
        dist.destroy_process_group()
    return 0 if total == world_size * (world_size + 1) // 2 and in_sync else 1


if __name__ == "__main__":
    raise SystemExit(main())
