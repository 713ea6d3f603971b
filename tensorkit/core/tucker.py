"""Tucker format: ``core ×_1 U_1 ×_2 U_2 … ×_K U_K``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import check_rank
from tensorkit.core.format import Draw, TensorFormat, check_components
from tensorkit.core.tenalg import contract_rows, multi_mode_dot


class TuckerTensor(TensorFormat):
    """A tensor in Tucker format.

    Parameters
    ----------
    core : torch.Tensor
        Core tensor of shape ``(r_1, …, r_K)``.
    factors : sequence of torch.Tensor
        Factor matrices; ``factors[k]`` has shape ``(n_k, r_k)``.
    """

    component_names = ("core", "factors")

    def __init__(self, core: torch.Tensor, factors: Sequence[torch.Tensor]) -> None:
        factors = list(factors)
        check_components([core, *factors], "[core, *factors]")
        if core.ndim != len(factors):
            raise ValueError(f"core has {core.ndim} modes but {len(factors)} factors were given")
        for k, u in enumerate(factors):
            if u.ndim != 2 or u.shape[1] != core.shape[k]:
                raise ValueError(f"factors[{k}] must have shape (n, {core.shape[k]}), got {tuple(u.shape)}")
        self.core = core
        self.factors = factors

    def components(self) -> list[torch.Tensor]:
        return [self.core, *self.factors]

    def _from_components(self, tensors: list[torch.Tensor]) -> TuckerTensor:
        return TuckerTensor(tensors[0], tensors[1:])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(u.shape[0] for u in self.factors)

    @property
    def rank(self) -> tuple[int, ...]:
        return tuple(self.core.shape)

    def to_dense(self) -> torch.Tensor:
        return multi_mode_dot(self.core, self.factors)

    def at(self, indices: torch.Tensor) -> torch.Tensor:
        idx = self._check_indices(indices)
        return contract_rows(self.core, [u[idx[:, k]] for k, u in enumerate(self.factors)])

    def mode_product(self, matrix: torch.Tensor, mode: int) -> TuckerTensor:
        self._check_mode(matrix, mode)
        factors = list(self.factors)
        factors[mode] = matrix.to(self.dtype) @ factors[mode]
        return TuckerTensor(self.core, factors)

    def take(self, index: torch.Tensor | slice, mode: int) -> TuckerTensor:
        self._check_take_mode(mode)
        factors = list(self.factors)
        factors[mode] = factors[mode][index]
        return TuckerTensor(self.core, factors)

    def einsum_operands(self, labels: str, rank_labels: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
        ranks = self._rank_letters(labels, rank_labels, self.ndim)
        return [ranks, *(m + r for m, r in zip(labels, ranks))], [self.core, *self.factors]

    fixed_modes_allowed = True

    @classmethod
    def random(cls, shape: Sequence[int], rank: Sequence[int], std: float, draw: Draw) -> TuckerTensor:
        """Core and factors share the spread ``s``: ``std = s^(K+1)·√(Π r)``."""
        s = (std / math.sqrt(math.prod(rank))) ** (1.0 / (len(shape) + 1))
        core = draw(tuple(rank), s)
        return TuckerTensor(core, [draw((n, r), s) for n, r in zip(shape, rank)])

    @classmethod
    def n_parameters(cls, shape: Sequence[int], rank: Sequence[int]) -> int:
        """``prod(rank) + Σ n_k r_k`` (core and factor matrices)."""
        return math.prod(rank) + sum(n * r for n, r in zip(shape, rank))

    @classmethod
    def rank_from_budget(cls, shape: Sequence[int], fraction: float, fixed_modes: Sequence[int] = ()) -> tuple[int, ...]:
        """Tucker ranks ``r_k = round(s·n_k)`` for the budget ``fraction · prod(shape)``.

        ``s`` solves the continuous budget ``prod(n)·s^K' + Σ n_k² s = fraction·prod(n)`` (``K'`` modes
        not in ``fixed_modes``, which keep ``r_k = n_k``): the rule of tensorly/tltorch, so ranks match
        theirs. When rounding puts that more than 15 % off the budget (small shapes), ranks are grown one
        mode at a time (the mode with the smallest ``r_k/n_k`` first) from all ones up to the budget.
        """
        shape, fixed = tuple(shape), tuple(fixed_modes)
        budget = fraction * math.prod(shape)
        rank = cls._rank_for_scale(shape, _tucker_scale(shape, fraction, fixed), fixed)
        if abs(cls.n_parameters(shape, rank) / budget - 1) <= _TUCKER_TOLERANCE:
            return rank
        return _fill_tucker_budget(shape, budget, fixed)

    @classmethod
    def _rank_for_scale(cls, shape: tuple[int, ...], scale: float, fixed: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(n if k in fixed else min(n, max(1, round(scale * n))) for k, n in enumerate(shape))

    @classmethod
    def _explicit_rank(cls, shape: tuple[int, ...], rank: Any) -> tuple[int, ...]:
        return check_rank(rank, shape)

    def _inner_same(self, other: TuckerTensor) -> torch.Tensor:
        cross = [u.mH @ v for u, v in zip(self.factors, other.factors)]  # (r_k, s_k)
        return (self.core.conj() * multi_mode_dot(other.core, cross)).sum()

    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        return (self.core.conj() * multi_mode_dot(dense, [u.conj() for u in self.factors], transpose=True)).sum()

    def to_tensorly(self) -> Any:
        """A ``tensorly.tucker_tensor.TuckerTensor`` sharing these tensors."""
        from tensorly.tucker_tensor import TuckerTensor as TlTucker

        return TlTucker((self.core, list(self.factors)))

    @classmethod
    def from_tensorly(cls, obj: Any) -> TuckerTensor:
        """Build from a tensorly ``TuckerTensor`` or a ``(core, factors)`` pair (NumPy or torch)."""
        core, factors = obj
        core = torch.as_tensor(core)
        return cls(core, [torch.as_tensor(u, device=core.device) for u in factors])


_TUCKER_TOLERANCE = 0.15  # beyond this budget error, the tltorch rule yields to the exact search


def _fill_tucker_budget(shape: tuple[int, ...], budget: float, fixed: tuple[int, ...]) -> tuple[int, ...]:
    rank = [n if k in fixed else 1 for k, n in enumerate(shape)]
    best = tuple(rank)
    while True:
        free = [k for k in range(len(shape)) if k not in fixed and rank[k] < shape[k]]
        if not free:
            return best
        k = min(free, key=lambda m: (rank[m] + 1) / shape[m])
        rank[k] += 1
        cost = TuckerTensor.n_parameters(shape, rank)
        if cost > budget:
            over = abs(cost - budget) < abs(TuckerTensor.n_parameters(shape, best) - budget)
            return tuple(rank) if over else best
        best = tuple(rank)


def _tucker_scale(shape: tuple[int, ...], fraction: float, fixed: tuple[int, ...]) -> float:
    """Root of ``prod(n)·s^K' + (Σ_free n_k² + Σ_fixed n_k²)·s − fraction·prod(n)`` (K' free modes)."""
    total = math.prod(shape)
    n_free = len(shape) - len(fixed)
    linear = sum(n * n for n in shape)

    def excess(s: float) -> float:
        return total * s**n_free + linear * s - fraction * total

    low, high = 0.0, max(1.0, fraction)
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) < 0 else (low, mid)
    return 0.5 * (low + high)
