"""Sparse observations for tensor completion: the DAIN text format, repeated cells, FunBaT folds.

The container is :class:`tensorkit.data.Observations` (integer positions via ``from_indices``);
this module adds the loaders and policies that completion needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from tensorkit._validation import check_choice, check_probability
from tensorkit.core.tenalg import ravel_index
from tensorkit.data import Observations
from tensorkit.data.reference import funbat_fold

__all__ = ["CompletionFold", "completion_fold", "holdout_split", "merge_repeated", "read_tsv"]


def read_tsv(path: str | os.PathLike, shape: tuple[int, ...] | None = None) -> Observations:
    """Read the DAIN tab-separated format: one cell per line, ``i<TAB>j<TAB>…<TAB>value``, 0-based.

    The shape defaults to ``max index + 1`` per mode. Malformed lines raise ``ValueError`` with the
    file name; no pickle, no pandas.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"tensor file {str(path)!r} does not exist")
    try:
        table = np.loadtxt(path, delimiter="\t", ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{str(path)!r} is not a tab-separated index/value table: {err}") from err
    if table.shape[1] < 3:
        raise ValueError(f"{str(path)!r} needs at least two index columns and a value column, got {table.shape[1]}")
    raw = table[:, :-1]
    if not np.all(raw == np.round(raw)) or raw.min() < 0:
        raise ValueError(f"{str(path)!r}: index columns must hold non-negative integers")
    return Observations.from_indices(torch.from_numpy(raw.astype(np.int64)), torch.from_numpy(table[:, -1]), shape=shape)


def holdout_split(obs: Observations, holdout: float, seed: int, name: str = "holdout") -> tuple[Observations, Observations | None]:
    """Split off a seeded ``holdout`` fraction of the cells (``None`` for ``holdout=0``); both parts non-empty.

    Raises
    ------
    TypeError, ValueError
        ``holdout`` is not a number in ``[0, 1)``, or leaves fewer than 2 cells to fit or none held out.
    """
    holdout = check_probability(holdout, name)
    if holdout == 1:
        raise ValueError(f"{name} must lie in [0, 1), got {holdout}")
    if holdout == 0:
        return obs, None
    fit, test = obs.split((1 - holdout, holdout), seed=seed)
    if len(fit) < 2 or len(test) == 0:
        raise ValueError(f"{name}={holdout} splits the {len(obs)} observed cells into {len(fit)} to fit and "
                         f"{len(test)} held out; at least 2 and 1 are needed")  # fmt: skip
    return fit, test


def merge_repeated(obs: Observations, policy: str = "mean") -> tuple[Observations, torch.Tensor]:
    """Apply a repeated-cell policy; returns the observations and the row count of every cell.

    ``"mean"`` averages the rows of each cell (one row per cell after), ``"keep"`` leaves them,
    ``"error"`` raises if any cell is repeated.
    """
    check_choice(policy, "policy", ("mean", "keep", "error"))
    cells, inverse, counts = torch.unique(obs.indices, dim=0, return_inverse=True, return_counts=True)
    if policy == "keep":
        return obs, counts[inverse]
    if policy == "error":
        if cells.shape[0] != len(obs):
            raise ValueError(f"{len(obs) - cells.shape[0]} repeated cells found (policy='error')")
        return obs, torch.ones(len(obs), dtype=torch.long, device=obs.indices.device)
    sums = torch.zeros(cells.shape[0], dtype=obs.values.dtype, device=obs.values.device).index_add_(0, inverse, obs.values)
    merged = Observations(obs.coords, cells, sums / counts.to(sums.dtype), obs.dims, obs.attrs, obs.coord_attrs)
    return merged, counts


@dataclass
class CompletionFold:
    """One fold: training (repeated cells merged), validation carved from it, and the raw test rows."""

    train: Observations
    val: Observations
    test: Observations
    test_cell_seen: torch.Tensor  # True where the test row's cell has a training row
    test_warm: torch.Tensor  # True where every entity of the test row occurs in training

    @property
    def shape(self) -> tuple[int, ...]:
        return self.train.shape


def completion_fold(relpath: str, fold: int, val_fraction: float = 0.2, seed: int = 0) -> CompletionFold:
    """Fold ``fold`` of a binned FunBaT archive (read by :func:`tensorkit.data.funbat_fold`) for completion.

    Training rows are merged per cell (``"mean"`` policy); a seeded ``val_fraction`` of the merged
    training cells becomes validation. Test rows stay raw; masks mark the rows whose cell has a
    training row and the rows whose entities are all seen in training (warm).
    """
    check_probability(val_fraction, "val_fraction")
    train_rows, test = funbat_fold(relpath, fold)
    shape = train_rows.shape
    merged, _ = merge_repeated(train_rows, "mean")
    train, val = merged.split((1 - val_fraction, val_fraction), seed=seed)
    seen = torch.isin(ravel_index(test.indices, shape), ravel_index(merged.indices, shape))
    warm = torch.ones(len(test), dtype=torch.bool)
    for k, n in enumerate(shape):
        present = torch.bincount(train.indices[:, k], minlength=n) > 0
        warm &= present[test.indices[:, k]]
    return CompletionFold(train, val, test, seen, warm)
