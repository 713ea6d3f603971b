"""A Tucker format over bases: ``f(x_1, …, x_K) = G ×_1 φ_1(x_1) … ×_K φ_K(x_K)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tensorkit._validation import as_tensor
from tensorkit.core.basis import Basis
from tensorkit.core.tenalg import contract_rows, contraction_chunk, map_rows
from tensorkit.core.tucker import TuckerTensor


class FunctionalTucker:
    """A Tucker core whose factor rows come from bases, evaluable at any coordinate.

    Parameters
    ----------
    core : torch.Tensor
        Core of shape ``(r_1, …, r_K)``.
    bases : sequence of Basis
        ``bases[k]`` maps mode-``k`` coordinates to ``(n, r_k)`` features.
    """

    def __init__(self, core: torch.Tensor, bases: Sequence[Basis]) -> None:
        bases = list(bases)
        if core.ndim != len(bases):
            raise ValueError(f"core has {core.ndim} modes but {len(bases)} bases were given")
        for k, basis in enumerate(bases):
            if not isinstance(basis, Basis):
                raise TypeError(f"bases[{k}] does not implement the Basis protocol (rank, __call__)")
            if basis.rank != core.shape[k]:
                raise ValueError(f"bases[{k}] has rank {basis.rank}, core expects {core.shape[k]}")
        self.core = core
        self.bases = bases

    @property
    def ndim(self) -> int:
        return self.core.ndim

    @property
    def rank(self) -> tuple[int, ...]:
        return tuple(self.core.shape)

    def at(self, points: torch.Tensor) -> torch.Tensor:
        """Values at an ``N×K`` tensor of coordinates; never forms a grid, and evaluates the bases and
        the core in blocks of points (see :func:`~tensorkit.core.tenalg.contract_rows`), so the memory
        beyond the N values does not grow with N."""
        pts = as_tensor(points, "points", device=self.core.device, ndim=2, allow_empty=True)
        if pts.shape[1] != self.ndim:
            raise ValueError(f"points must have {self.ndim} columns, got {pts.shape[1]}")

        def block(points: slice) -> torch.Tensor:
            rows = [basis(pts[points, k]).to(self.core.dtype) for k, basis in enumerate(self.bases)]
            return contract_rows(self.core, rows)

        return map_rows(block, pts.shape[0], contraction_chunk(self.core))  # memory beyond the result: independent of N

    __call__ = at

    def on_grid(self, grids: Sequence[torch.Tensor]) -> TuckerTensor:
        """The tensor-product grid ``grids[0] × … × grids[K-1]`` as a :class:`TuckerTensor` (not expanded)."""
        if len(grids) != self.ndim:
            raise ValueError(f"grids must have one 1-D tensor per mode ({self.ndim}), got {len(grids)}")
        factors = [
            basis(as_tensor(g, f"grids[{k}]", device=self.core.device, ndim=1)).to(self.core.dtype)
            for k, (basis, g) in enumerate(zip(self.bases, grids))
        ]
        return TuckerTensor(self.core, factors)

    def to_dense(self, grids: Sequence[torch.Tensor]) -> torch.Tensor:
        """Dense values on a tensor-product grid."""
        return self.on_grid(grids).to_dense()

    def __repr__(self) -> str:
        return f"FunctionalTucker(rank={self.rank}, bases={self.bases})"
