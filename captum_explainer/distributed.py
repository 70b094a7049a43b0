"""``torchrun`` / DistributedDataParallel set-up shared by training and evaluation.

Under ``torchrun --nproc_per_node=N`` the environment names each process's rank; this
module starts the process group (gloo on CPU, NCCL on CUDA), says which process is the
main one (rank 0: the only one that writes files) and averages numbers across ranks so
that every rank takes the same early-stopping decision.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from captum_explainer.machine import check_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size``, its device, whether it writes."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "cpu") -> DistributedContext:
    """Start the process group when launched by ``torchrun`` with more than one process.

    Args:
        device: ``"cpu"`` (gloo) or ``"cuda"`` (NCCL; each process takes ``cuda:LOCAL_RANK``).

    Returns:
        The context; a single process gets rank 0 of 1 and no process group.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    requested = check_device(device)
    if world_size <= 1:
        return DistributedContext(device=requested)
    rank = int(os.environ["RANK"])
    if requested.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        requested = torch.device("cuda", local_rank)
        torch.cuda.set_device(requested)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(rank=rank, world_size=world_size, device=requested)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def distributed_context(device: str = "cpu") -> Iterator[DistributedContext]:
    """:func:`setup_distributed` for the ``with`` block, :func:`cleanup_distributed` after it."""
    context = setup_distributed(device)
    try:
        yield context
    finally:
        cleanup_distributed()


def mean_across_ranks(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Average each number over all ranks (identity for a single process)."""
    if not context.enabled or not values:
        return values
    names = sorted(values)
    tensor = torch.tensor([values[k] for k in names], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= context.world_size
    return dict(zip(names, tensor.tolist()))
