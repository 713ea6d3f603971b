"""DAIN's augmentation applied to classical masked completion (``tensorkit.core.hooi`` / ``cp_als``).

Beyond the paper: the pseudo-labelled cells of a neural model's Step 1 are added to the observed
cells of a masked Tucker or CP fit (EM imputation of the rest). Observed cells always win over
augmented ones; repeated augmented cells are averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tensorkit._validation import check_choice
from tensorkit.core import TensorFormat, cp_als, hooi
from tensorkit.core.tenalg import ravel_index

__all__ = ["masked_completion"]


def masked_completion(
    method: str,
    indices: torch.Tensor,
    values: torch.Tensor,
    shape: Sequence[int],
    rank: int | Sequence[int],
    augmented_indices: torch.Tensor | None = None,
    augmented_values: torch.Tensor | None = None,
    n_iter_max: int = 100,
    seed: int = 0,
) -> TensorFormat:
    """Masked ``hooi`` or ``cp_als`` on observed (plus optional augmented) cells, float64, dense grid.

    Parameters
    ----------
    method : {"hooi", "cp_als"}
        Classical decomposition from :mod:`tensorkit.core`.
    indices, values : torch.Tensor
        Observed cells ``(n, N)`` and values; repeated cells are averaged.
    shape : sequence of int
        Tensor shape (the dense grid is formed: keep ``prod(shape)`` moderate).
    rank : int or sequence of int
        Tucker ranks, or the CP rank.
    augmented_indices, augmented_values : torch.Tensor, optional
        Pseudo-labelled cells; used only where no cell is observed.
    """
    check_choice(method, "method", ("hooi", "cp_als"))
    if math.prod(shape) > 50_000_000:
        raise ValueError(f"shape {tuple(shape)} is too large for a dense masked fit")
    dense, mask = _grid(indices, values, shape)
    if augmented_indices is not None and augmented_indices.shape[0]:
        aug, aug_mask = _grid(augmented_indices, augmented_values, shape)
        fill = aug_mask & ~mask
        dense = torch.where(fill, aug, dense)
        mask = mask | fill
    if method == "hooi":
        return hooi(dense, rank=rank, mask=mask, n_iter_max=n_iter_max, seed=seed)
    return cp_als(dense, rank=rank, mask=mask, n_iter_max=n_iter_max, seed=seed)


def _grid(indices: torch.Tensor, values: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense float64 grid (NaN where unobserved; repeated cells averaged) and its mask."""
    flat = ravel_index(indices, shape)
    total = math.prod(shape)
    sums = torch.zeros(total, dtype=torch.float64, device=indices.device).index_add_(0, flat, values.double())
    counts = torch.bincount(flat, minlength=total)
    mask = counts > 0
    grid = torch.where(mask, sums / counts.clamp_min(1), torch.full_like(sums, float("nan")))
    return grid.reshape(tuple(shape)), mask.reshape(tuple(shape))
