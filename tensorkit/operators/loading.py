"""Batches for operator training and evaluation: one path for tensors in memory and data streamed from disk.

Training data are either a pair of tensors ``(x, y)`` or a map-style ``Dataset`` of ``(x, y)``
samples that reads a whole batch with ``__getitems__`` (such as
:class:`~tensorkit.data.pde.NetCDFPairs`). Both go through the same ``DataLoader`` with the same
batch plan, so a streamed run sees the batches of the in-memory run in the same order, and under
``torchrun`` every rank reads only its share of each batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tensorkit._validation import check_positive_int
from tensorkit.runtime import distributed as ddp
from tensorkit.operators.normalizer import ChannelMoments

PairData = Union[tuple[torch.Tensor, torch.Tensor], Dataset]


class TensorPairs(Dataset):
    """In-memory ``(x, y)`` tensors (N, C, …) as a ``Dataset`` that returns whole batches."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.x[index], self.y[index]


def as_dataset(data: PairData, name: str = "data") -> Dataset:
    """``data`` as a batch-reading ``Dataset``: a pair of tensors is wrapped, a ``Dataset`` is kept.

    Raises ``TypeError`` naming ``name`` for anything else, or for a ``Dataset`` without
    ``__len__`` and ``__getitems__`` (a batch read).
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return TensorPairs(*data)
    if isinstance(data, Dataset) and hasattr(data, "__len__") and hasattr(data, "__getitems__"):
        return data
    raise TypeError(f"{name} must be a pair of tensors (x, y) or a Dataset with __len__ and __getitems__ returning "
                    f"(x, y) batches, got {type(data).__name__}")  # fmt: skip


class EpochBatchSampler(Sampler[list[int]]):
    """This rank's share of every shuffled global batch of an epoch.

    The epoch's order is ``torch.randperm(n)`` from a generator seeded with ``seed + epoch``, cut
    into global batches of ``batch_size``; batches with fewer samples than ranks are dropped.
    With ``split`` each rank takes its contiguous part (``tensor_split``) of every global batch,
    else every rank takes the whole batch. :meth:`set_epoch` chooses the epoch and the first batch
    (a resume mid-epoch skips the batches already done).
    """

    def __init__(self, n: int, batch_size: int, seed: int, split: bool = True) -> None:
        self.n = int(n)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed, self.split = int(seed), bool(split)
        self.set_epoch(0)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Plan ``epoch``, beginning at its batch ``start``."""
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + int(epoch)))
        self.batches = [b for b in torch.split(order, self.batch_size) if len(b) >= ddp.world_size()]
        self.start = int(start)

    @property
    def global_sizes(self) -> list[int]:
        """Global size of each batch still to come."""
        return [len(b) for b in self.batches[self.start:]]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches[self.start:]:
            yield (batch.tensor_split(ddp.world_size())[ddp.rank()] if self.split else batch).tolist()

    def __len__(self) -> int:
        return len(self.batches) - self.start


class ShardBatchSampler(Sampler[list[int]]):
    """Consecutive batches of this rank's contiguous share of ``n`` samples, in order (scans, evaluation).

    Sets with fewer samples than ranks are not split: every rank takes all (see :attr:`sharded`).
    """

    def __init__(self, n: int, batch_size: int) -> None:
        self.sharded = n >= ddp.world_size() > 1
        share = torch.arange(n).tensor_split(ddp.world_size())[ddp.rank()] if self.sharded else torch.arange(n)
        self.batches = [b.tolist() for b in torch.split(share, check_positive_int(batch_size, "batch_size"))]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _whole_batch(batch: Any) -> Any:
    """``collate_fn`` for datasets whose ``__getitems__`` already returns a stacked batch."""
    return batch


def make_loader(data: Dataset, batch_sampler: Sampler[list[int]], device: torch.device, num_workers: int = 0,
                prefetch_factor: int | None = None) -> DataLoader:
    """A ``DataLoader`` of ``(x, y)`` batches on the host, pinned when ``device`` is CUDA.

    With ``num_workers > 0`` the batches are read by persistent worker processes,
    ``prefetch_factor`` batches ahead each; a dataset holding an open file (``close()``) closes it
    first so that no worker inherits it.
    """
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "prefetch_factor": prefetch_factor}
        if hasattr(data, "close"):
            data.close()
    return DataLoader(data, batch_sampler=batch_sampler, collate_fn=_whole_batch, num_workers=num_workers,
                      pin_memory=device.type == "cuda", **extra)


@dataclass(frozen=True)
class Scan:
    """What one pass over a data set found: output moments and counts of non-finite values."""

    output_moments: ChannelMoments
    nonfinite_inputs: int
    nonfinite_outputs: int


def scan(data: PairData, batch_size: int, device: torch.device, num_workers: int = 0,
         prefetch_factor: int | None = None) -> Scan:
    """One streaming pass over ``data``: per-channel moments of the outputs and non-finite counts.

    Moments accumulate in float64 on ``device`` and merge exactly (:class:`ChannelMoments`), so
    they equal those of the whole set in memory. Under ``torchrun`` each rank reads its contiguous
    share and the ranks' results are merged; every rank gets the same result. The host waits for
    the device once, at the end.
    """
    dataset = as_dataset(data)
    if len(dataset) == 0:
        raise ValueError("cannot scan an empty data set")
    sampler = ShardBatchSampler(len(dataset), batch_size)
    moments, bad = None, torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in make_loader(dataset, sampler, device, num_workers, prefetch_factor):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        bad += torch.stack([(~torch.isfinite(x)).sum(), (~torch.isfinite(y)).sum()]).double()
        part = ChannelMoments.of(y)
        moments = part if moments is None else moments.merge(part)
    assert moments is not None  # a non-empty set has a batch on every rank
    if sampler.sharded:
        count = ddp.all_reduce_sum(moments.count)
        mean = ddp.all_reduce_sum(moments.count * moments.mean) / count
        m2 = ddp.all_reduce_sum(moments.m2 + moments.count * (moments.mean - mean) ** 2)
        moments, bad = ChannelMoments(count, mean, m2), ddp.all_reduce_sum(bad)
    n_x, n_y = bad.tolist()
    return Scan(moments, int(n_x), int(n_y))
