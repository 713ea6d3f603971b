"""Operator-learning pairs read lazily from netCDF: a torch ``Dataset`` whose samples stay on disk."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tensorkit.data.io import dataset_variable, open_dataset


class NetCDFPairs(Dataset):
    """``(input, output)`` samples of a netCDF data set, read from disk only when indexed.

    The input variable has dims ``(sample, space…)``; the output has the same dims, or an extra
    ``t`` dim of which one snapshot is used. Either may also have a channel dim, placed anywhere,
    for several input or output fields. Samples come back as float32 tensors ``(channel, space…)``
    (one channel for a variable without a channel dim, exactly as
    :func:`~tensorkit.data.pde.read_pairs` returns them), so a streamed and an in-memory run see
    the same numbers. Batches are read with
    ``__getitems__`` (what a ``DataLoader`` with a batch sampler calls): one read per variable,
    in file order, for the whole batch. Memory held is that of the batch, never of the file.

    Each process opens the file for itself on first use (a ``DataLoader`` worker reopens it after
    the fork; an open file is never pickled), so the set can be read by any number of workers.

    Parameters
    ----------
    path : path-like
        netCDF file, e.g. written by :func:`~tensorkit.data.pde.write_generated`.
    input_var, output_var : str
        Names of the input and output variables.
    samples : range, optional
        The file's samples this set holds, in order (default: all); e.g. ``range(0, 800)`` for
        a training split.
    time_index : int
        Snapshot of an output with a ``t`` dim (default: the last).
    stride : int
        Keep every ``stride``-th grid point along each spatial dim (a coarser test resolution).
    channel_dim : str
        The dim of the input's channels, and of the output's unless ``output_channel_dim`` is given.
    output_channel_dim : str, optional
        The dim of the output's channels, when it differs from the input's (in one file, a dim has
        one size: 2 input and 3 output channels need two dims).

    Raises
    ------
    FileNotFoundError, KeyError, ValueError
        A missing or damaged file, a missing variable, variables whose dims do not pair up, a
        ``samples`` range outside the file, a bad ``time_index``, ``stride`` or channel dim; every message names
        the file. Reading a damaged part later raises ``ValueError`` naming the file and samples.
    """

    def __init__(self, path: str | os.PathLike, input_var: str = "a", output_var: str = "u", *,
                 samples: range | None = None, time_index: int = -1, stride: int = 1, channel_dim: str = "channel",
                 output_channel_dim: str | None = None) -> None:
        self.path = str(path)
        self.input_var, self.output_var = input_var, output_var
        for name, value in [("channel_dim", channel_dim), ("output_channel_dim", output_channel_dim)]:
            if not (isinstance(value, str) or (value is None and name == "output_channel_dim")):
                raise TypeError(f"{name} must be a dim name, got {value!r}")
        self.channel_dims = (channel_dim, output_channel_dim or channel_dim)
        self.time_index, self.stride = int(time_index), int(stride)
        if self.stride < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}")
        self._handle: tuple[int, Any, Any, Any] | None = None
        ds, x, y = self._open()
        try:
            fields = _fields(x, self.channel_dims[0])
            self.n_file = int(x.sizes[fields[0]])
            self.sample_dim = fields[0]
            self.shape = (x.sizes.get(self.channel_dims[0], 1), *(x.sizes[d] for d in fields[1:]))
        finally:
            ds.close()
        self.samples = range(self.n_file) if samples is None else samples
        if not isinstance(self.samples, range):
            raise TypeError(f"samples must be a range of sample indices, got {type(samples).__name__}")
        if len(self.samples) and (min(self.samples) < 0 or max(self.samples) >= self.n_file):
            raise ValueError(f"samples {self.samples} lie outside the {self.n_file} samples of {self.path!r}")

    # -- opening and checking ----------------------------------------------------------------
    def _open(self) -> tuple[Any, Any, Any]:
        """The open xarray Dataset and the (lazy) input and output arrays, checked and subsampled."""
        ds = open_dataset(self.path)
        try:
            x = dataset_variable(ds, self.input_var, self.path)
            y = dataset_variable(ds, self.output_var, self.path)
            if "t" in y.dims and "t" not in x.dims:
                n_t = y.sizes["t"]
                if not -n_t <= self.time_index < n_t:
                    raise ValueError(f"time_index {self.time_index} is out of range for the {n_t} snapshots of "
                                     f"{self.output_var!r} in {self.path!r}")  # fmt: skip
                y = y.isel(t=self.time_index)
            fields = _fields(x, self.channel_dims[0])
            if len(fields) < 2 or fields != _fields(y, self.channel_dims[1]) or any(x.sizes[d] != y.sizes[d] for d in fields):
                raise ValueError(f"{self.path!r}: {self.input_var!r} and {self.output_var!r} must have the same dims "
                                 f"(sample, space…) and shape besides their channel dims {self.channel_dims[0]!r} and "
                                 f"{self.channel_dims[1]!r}; got {dict(x.sizes)} and {dict(y.sizes)}")  # fmt: skip
            space = {d: slice(None, None, self.stride) for d in fields[1:]}
            return ds, x.isel(space), y.isel(space)
        except BaseException:
            ds.close()
            raise

    def _arrays(self) -> tuple[Any, Any]:
        """The lazy arrays, opened once per process (a forked worker opens its own file)."""
        if self._handle is None or self._handle[0] != os.getpid():
            self._handle = (os.getpid(), *self._open())
        return self._handle[2], self._handle[3]

    def close(self) -> None:
        """Close this process's open file (it is reopened on the next read)."""
        if self._handle is not None and self._handle[0] == os.getpid():
            self._handle[1].close()
        self._handle = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_handle": None}

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]

    def __getitems__(self, indices: list[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples ``indices`` (positions in this set, any order) as ``(x, y)`` of shape (B, channel, space…)."""
        local = np.asarray(indices, dtype=np.int64).reshape(-1)
        if local.size and (local.min() < -len(self) or local.max() >= len(self)):
            raise IndexError(f"sample indices must lie in [0, {len(self)}), got {local.min()}…{local.max()}")
        local %= max(len(self), 1)
        rows = self.samples.start + local * self.samples.step
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        contiguous = ordered.size > 0 and ordered[-1] - ordered[0] == ordered.size - 1
        key = slice(int(ordered[0]), int(ordered[-1]) + 1) if contiguous else ordered
        back = np.argsort(order, kind="stable")
        batches = []
        for da, channel in zip(self._arrays(), self.channel_dims):
            try:
                values = da.isel({self.sample_dim: key}).values
            except (OSError, RuntimeError, ValueError) as err:
                raise ValueError(f"cannot read samples {rows.min()}…{rows.max()} of {self.path!r}: {err}") from err
            fields = _fields(da, channel)  # to (sample, channel, space…), wherever the file puts them
            values = np.transpose(values, da.get_axis_num([fields[0], *([channel] if channel in da.dims else []), *fields[1:]]))
            values = values[back] if channel in da.dims else values[back, None]
            batches.append(torch.from_numpy(np.ascontiguousarray(values)).float())
        return tuple(batches)

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample of this set in memory, ``(x, y)`` of shape (N, channel, space…)."""
        return self.__getitems__(np.arange(len(self)))

    # -- views -----------------------------------------------------------------------------
    def subset(self, samples: range | slice) -> NetCDFPairs:
        """The set of positions ``samples`` of this one (e.g. ``range(800)`` for a training split)."""
        if isinstance(samples, range):
            samples = slice(samples.start, samples.stop, samples.step)
        return self._view(self.samples[samples], self.stride)

    def strided(self, stride: int) -> NetCDFPairs:
        """The same samples on a grid coarser by ``stride`` along each spatial dim."""
        return self._view(self.samples, self.stride * int(stride))

    def _view(self, samples: range, stride: int) -> NetCDFPairs:
        return NetCDFPairs(self.path, self.input_var, self.output_var, samples=samples, time_index=self.time_index,
                           stride=stride, channel_dim=self.channel_dims[0], output_channel_dim=self.channel_dims[1])

    def __repr__(self) -> str:
        return (f"NetCDFPairs({self.path!r}, {self.input_var!r}, {self.output_var!r}, samples={self.samples}, "
                f"shape={self.shape})")


def _fields(da: Any, channel_dim: str) -> list[str]:
    """The dims of ``da`` but its channel dim: (sample, space…)."""
    return [d for d in da.dims if d != channel_dim]
