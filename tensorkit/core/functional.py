"""Formats over bases: Tucker ``f(x) = G ×_1 φ_1(x_1) … ×_K φ_K(x_K)`` and CP
``f(x) = Σ_r w_r Π_k (φ_k(x_k) U_k)[r]``, evaluable at any coordinates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from tensorkit._validation import as_tensor
from tensorkit.core.basis import Basis
from tensorkit.core.cp import CPTensor
from tensorkit.core.tenalg import contract_rows, contraction_chunk, hadamard_rows, map_rows, row_chunk
from tensorkit.core.tucker import TuckerTensor


class _OverBases(ABC):
    """What a format over bases shares: its core, its checked bases, evaluation by call, dense grids."""

    def __init__(self, core: torch.Tensor | CPTensor, bases: Sequence[Basis]) -> None:
        self.bases = _checked_bases(bases, core.shape)
        self.core = core

    @property
    def ndim(self) -> int:
        return self.core.ndim

    @property
    @abstractmethod
    def rank(self) -> int | tuple[int, ...]: ...

    @abstractmethod
    def at(self, points: torch.Tensor) -> torch.Tensor:
        """Values at an ``N×K`` tensor of coordinates."""

    @abstractmethod
    def on_grid(self, grids: Sequence[torch.Tensor]) -> TuckerTensor | CPTensor:
        """The tensor-product grid ``grids[0] × … × grids[K-1]`` in the core's format (not expanded)."""

    def _points(self, points: torch.Tensor) -> torch.Tensor:
        pts = as_tensor(points, "points", device=self.core.device, ndim=2, allow_empty=True)
        if pts.shape[1] != self.ndim:
            raise ValueError(f"points must have {self.ndim} columns, got {pts.shape[1]}")
        return pts

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return self.at(points)

    def to_dense(self, grids: Sequence[torch.Tensor]) -> torch.Tensor:
        """Dense values on a tensor-product grid."""
        return self.on_grid(grids).to_dense()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, bases={self.bases})"


class FunctionalTucker(_OverBases):
    """A Tucker core whose factor rows come from bases, evaluable at any coordinate.

    Parameters
    ----------
    core : torch.Tensor
        Core of shape ``(r_1, …, r_K)``.
    bases : sequence of Basis
        ``bases[k]`` maps mode-``k`` coordinates to ``(n, r_k)`` features.
    """

    core: torch.Tensor

    @property
    def rank(self) -> tuple[int, ...]:
        return tuple(self.core.shape)

    def at(self, points: torch.Tensor) -> torch.Tensor:
        """Values at an ``N×K`` tensor of coordinates; never forms a grid, and evaluates the bases and
        the core in blocks of points (see :func:`~tensorkit.core.tenalg.contract_rows`), so the memory
        beyond the N values does not grow with N."""
        pts = self._points(points)

        def block(points: slice) -> torch.Tensor:
            rows = [basis(pts[points, k]).to(self.core.dtype) for k, basis in enumerate(self.bases)]
            return contract_rows(self.core, rows)

        return map_rows(block, pts.shape[0], contraction_chunk(self.core))  # memory beyond the result: independent of N

    def on_grid(self, grids: Sequence[torch.Tensor]) -> TuckerTensor:
        """The tensor-product grid ``grids[0] × … × grids[K-1]`` as a :class:`TuckerTensor` (not expanded)."""
        return TuckerTensor(self.core, _features_on_grids(self.bases, grids, self.core))


class FunctionalCP(_OverBases):
    """A CP tensor whose factor rows are bases times factor matrices, evaluable at any coordinate.

    ``f(x_1, …, x_K) = Σ_r w_r Π_k (φ_k(x_k) U_k)[r]``; no ``(r_1, …, r_K)`` core is formed.

    Parameters
    ----------
    core : CPTensor
        Weights ``w`` ``(R,)`` and factors ``U_k`` ``(r_k, R)`` in feature space.
    bases : sequence of Basis
        ``bases[k]`` maps mode-``k`` coordinates to ``(n, r_k)`` features.
    """

    core: CPTensor

    def __init__(self, core: CPTensor, bases: Sequence[Basis]) -> None:
        if not isinstance(core, CPTensor):
            raise TypeError(f"core must be a CPTensor, got {type(core).__name__}")
        super().__init__(core, bases)

    @property
    def rank(self) -> int:
        return self.core.rank

    def at(self, points: torch.Tensor) -> torch.Tensor:
        """Values at an ``N×K`` tensor of coordinates, in blocks of points whose ``(points, R)`` rows hold
        about :data:`~tensorkit.core.tenalg.BLOCK_ENTRIES` numbers; never forms a grid."""
        pts = self._points(points)

        def block(points: slice) -> torch.Tensor:
            rows = [basis(pts[points, k]).to(self.core.dtype) @ u
                    for k, (basis, u) in enumerate(zip(self.bases, self.core.factors))]
            return hadamard_rows(rows) @ self.core.weights

        return map_rows(block, pts.shape[0], row_chunk(max(self.core.rank, *self.core.shape)))

    def on_grid(self, grids: Sequence[torch.Tensor]) -> CPTensor:
        """The tensor-product grid ``grids[0] × … × grids[K-1]`` as a :class:`CPTensor` (not expanded)."""
        features = _features_on_grids(self.bases, grids, self.core.weights)
        return CPTensor(self.core.weights, [phi @ u for phi, u in zip(features, self.core.factors)])


def _checked_bases(bases: Sequence[Basis], ranks: Sequence[int]) -> list[Basis]:
    """``bases`` as a list, each a :class:`Basis` of the rank its mode of the core expects."""
    bases = list(bases)
    if len(bases) != len(ranks):
        raise ValueError(f"core has {len(ranks)} modes but {len(bases)} bases were given")
    for k, basis in enumerate(bases):
        if not isinstance(basis, Basis):
            raise TypeError(f"bases[{k}] does not implement the Basis protocol (rank, __call__)")
        if basis.rank != ranks[k]:
            raise ValueError(f"bases[{k}] has rank {basis.rank}, core expects {ranks[k]}")
    return bases


def _features_on_grids(bases: Sequence[Basis], grids: Sequence[torch.Tensor], like: torch.Tensor) -> list[torch.Tensor]:
    """Per mode, the basis at the 1-D grid, in ``like``'s dtype and on its device."""
    if len(grids) != len(bases):
        raise ValueError(f"grids must have one 1-D tensor per mode ({len(bases)}), got {len(grids)}")
    return [basis(as_tensor(g, f"grids[{k}]", device=like.device, ndim=1)).to(like.dtype)
            for k, (basis, g) in enumerate(zip(bases, grids))]
