"""Several processes, one model: PyTorch's DistributedDataParallel under ``torchrun``.

    torchrun --nproc-per-node 2 -m autoencode train --preset conv --batch-size 16 ...

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; with more than one process the
trainer joins the process group (NCCL on GPUs, gloo on CPUs), wraps the model in DDP, gives each
process its shard of every epoch's shuffled order (``--batch-size`` is per process), and only
rank 0 writes the run folder. Without ``torchrun`` nothing here is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = World(0, 1)


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def main_from_env() -> bool:
    """Whether this process is rank 0 (or the only one), before the process group is joined."""
    return int(os.environ.get("RANK", "0")) == 0


def join(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group that torchrun set up (once); returns this process's place and device."""
    if world_size_from_env() <= 1:
        return SINGLE, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size()), device


def current() -> World:
    """This process's place: rank 0 of 1 outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return SINGLE


def shard(order: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's equal share of an epoch's order: every ``size``-th index from ``rank``
    (a step's batches on all ranks together are one consecutive slice of the order)."""
    usable = len(order) - len(order) % world.size
    return order[world.rank : usable : world.size]


def sum_over_ranks(values: torch.Tensor, world: World) -> torch.Tensor:
    if world.size > 1:
        dist.all_reduce(values)
    return values


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def leave() -> None:
    """Leave the process group (at the end of a torchrun command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def max_over_ranks(values: list[int], world: World, device: torch.device) -> list[int]:
    """Each value's largest over the ranks (every rank gets the same answer, so they act
    together: a flag set on any rank, a signal any rank received)."""
    if world.size == 1:
        return values
    reduced = torch.tensor(values, dtype=torch.int64, device=device)
    dist.all_reduce(reduced, op=dist.ReduceOp.MAX)
    return reduced.tolist()


def gather(value, world: World) -> list:
    """Every rank's ``value`` (picklable, made by this code: RNG states and loss sums), in rank
    order, on every rank."""
    if world.size == 1:
        return [value]
    gathered = [None] * world.size
    dist.all_gather_object(gathered, value)
    return gathered
