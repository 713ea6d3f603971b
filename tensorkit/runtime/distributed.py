"""Thin helpers around ``torch.distributed`` for runs under ``torchrun`` (or ``srun``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist

from tensorkit.runtime import slurm


def is_distributed() -> bool:
    """True when a process group is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def init_from_env(device: torch.device | None = None, timeout_s: float = 600.0) -> bool:
    """Initialise the default process group from torchrun or SLURM variables, if they are set.

    Uses NCCL when ``device`` is CUDA, gloo otherwise. Tasks that ``srun`` started directly
    (without ``torchrun``) get ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from SLURM's variables (:func:`tensorkit.runtime.slurm.rendezvous_env`: rank
    from ``SLURM_PROCID``, address from the first host of the node list, port from the job id),
    exported into ``os.environ``. Returns True when a process group with more than one rank is active.
    """
    if dist.is_initialized():
        return is_distributed()
    os.environ.update(slurm.rendezvous_env(os.environ))
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if backend(device) == "nccl":
        torch.cuda.set_device(_local_cuda_index())
    dist.init_process_group(backend(device), timeout=timedelta(seconds=timeout_s))
    return True


def backend(device: torch.device | None) -> str:
    """``"nccl"`` for a CUDA ``device``, ``"gloo"`` otherwise (the CPU, or no device given)."""
    return "nccl" if device is not None and device.type == "cuda" else "gloo"


def _local_cuda_index() -> int:
    """``LOCAL_RANK`` modulo the visible GPUs: a task that sees one GPU (``srun --gpus-per-task=1``) uses it."""
    return int(os.environ.get("LOCAL_RANK", "0")) % max(torch.cuda.device_count(), 1)


@contextmanager
def process_group_from_env(device: torch.device | None = None, timeout_s: float = 600.0) -> Iterator[bool]:
    """:func:`init_from_env` for the duration of a ``with`` block, yielding whether DDP is active.

    A process group this call created is destroyed when the block ends (also on error): a process
    that exits with a live gloo group can abort in its teardown ("terminate called without an
    active exception"), which ``torchrun`` reports as a failed run. Objects that hold the group (a
    DDP-wrapped model, a :class:`~tensorkit.operators.trainer.Trainer`) should be released inside
    the block, e.g. by training in a function called there; otherwise the group itself is only
    freed at interpreter teardown. A group that already existed is left alone.
    """
    owned = not (dist.is_available() and dist.is_initialized())
    active = init_from_env(device, timeout_s)
    try:
        yield active
    finally:
        if owned and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """The CUDA device of this rank (``LOCAL_RANK``, modulo the visible GPUs) when ``device`` is CUDA, else ``device``."""
    if device.type == "cuda" and is_distributed():
        return torch.device("cuda", _local_cuda_index())
    return device


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum of ``value`` over ranks (a no-op in a single process)."""
    if is_distributed():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on at least one (e.g. a SIGTERM seen by one rank)."""
    if not is_distributed():
        return flag
    return bool(all_reduce_sum(torch.tensor([float(flag)], device=device)).item() > 0)


def my_share(t: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous share of ``t`` along dim 0 (all of it in a single process)."""
    if not is_distributed():
        return t
    if t.shape[0] % world_size():
        raise ValueError(f"{t.shape[0]} items cannot be split evenly over {world_size()} ranks")
    return t.tensor_split(world_size())[rank()]


def all_gather_cat(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``t`` along dim 0, differentiably (backward sums over ranks)."""
    if not is_distributed():
        return t
    import warnings

    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # deprecated in favour of a private API; still the public one
        warnings.simplefilter("ignore", FutureWarning)
        return torch.cat(all_gather(t), dim=0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()
