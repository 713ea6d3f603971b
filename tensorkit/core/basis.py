"""Bases: maps from one mode's index values to feature rows."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from tensorkit._validation import as_tensor


@runtime_checkable
class Basis(Protocol):
    """Maps a 1-D tensor of ``n`` index values (integers or real coordinates) to an ``(n, rank)`` matrix."""

    @property
    def rank(self) -> int:
        """Number of features (columns)."""
        ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class IndexBasis:
    """The classical basis: row ``i`` of a factor matrix for integer index ``i``.

    Parameters
    ----------
    matrix : torch.Tensor
        Factor matrix of shape ``(n, rank)``.
    """

    def __init__(self, matrix: torch.Tensor) -> None:
        if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2:
            raise ValueError(f"matrix must be a 2-D tensor, got {getattr(matrix, 'shape', type(matrix))}")
        self.matrix = matrix

    @property
    def rank(self) -> int:
        return int(self.matrix.shape[1])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Rows of the matrix at ``x``, which must hold integers (an integer dtype or whole floats)."""
        x = as_tensor(x, "x", device=self.matrix.device, ndim=1, allow_empty=True)
        if x.is_floating_point():
            if not torch.equal(x, x.round()):
                raise ValueError("x must hold whole numbers for an IndexBasis")
            x = x.long()
        n = self.matrix.shape[0]
        if x.numel() and (x.min() < 0 or x.max() >= n):
            raise IndexError(f"x must lie in [0, {n - 1}], got range [{int(x.min())}, {int(x.max())}]")
        return self.matrix[x]

    def __repr__(self) -> str:
        return f"IndexBasis(n={self.matrix.shape[0]}, rank={self.rank})"
