"""CP (canonical polyadic) format: ``sum_r w_r a_r^(1) ∘ … ∘ a_r^(K)``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import check_positive_int
from tensorkit.core.format import Draw, TensorFormat, check_components
from tensorkit.core.tenalg import hadamard_rows, khatri_rao


class CPTensor(TensorFormat):
    """A tensor in CP format.

    Parameters
    ----------
    weights : torch.Tensor
        Component weights, shape ``(R,)``.
    factors : sequence of torch.Tensor
        Factor matrices; ``factors[k]`` has shape ``(n_k, R)``.
    """

    component_names = ("weights", "factors")

    def __init__(self, weights: torch.Tensor, factors: Sequence[torch.Tensor]) -> None:
        factors = list(factors)
        check_components([weights, *factors], "[weights, *factors]")
        if weights.ndim != 1:
            raise ValueError(f"weights must be 1-D, got shape {tuple(weights.shape)}")
        if not factors:
            raise ValueError("factors must not be empty")
        for k, u in enumerate(factors):
            if u.ndim != 2 or u.shape[1] != weights.shape[0]:
                raise ValueError(f"factors[{k}] must have shape (n, {weights.shape[0]}), got {tuple(u.shape)}")
        self.weights = weights
        self.factors = factors

    def components(self) -> list[torch.Tensor]:
        return [self.weights, *self.factors]

    def _from_components(self, tensors: list[torch.Tensor]) -> CPTensor:
        return CPTensor(tensors[0], tensors[1:])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(u.shape[0] for u in self.factors)

    @property
    def rank(self) -> int:
        return int(self.weights.shape[0])

    def to_dense(self) -> torch.Tensor:
        # (n_1⋯n_{K-1}, R) · (R, n_K): one dense result, no (n_1⋯n_K, R) Khatri–Rao product
        last = self.factors[-1] * self.weights
        if len(self.factors) == 1:
            return last.sum(1)
        return (khatri_rao(self.factors[:-1]) @ last.mT).reshape(self.shape)

    def at(self, indices: torch.Tensor) -> torch.Tensor:
        idx = self._check_indices(indices)
        return hadamard_rows([u[idx[:, k]] for k, u in enumerate(self.factors)]) @ self.weights

    def mode_product(self, matrix: torch.Tensor, mode: int) -> CPTensor:
        self._check_mode(matrix, mode)
        factors = list(self.factors)
        factors[mode] = matrix.to(self.dtype) @ factors[mode]
        return CPTensor(self.weights, factors)

    def take(self, index: torch.Tensor | slice, mode: int) -> CPTensor:
        self._check_take_mode(mode)
        factors = list(self.factors)
        factors[mode] = factors[mode][index]
        return CPTensor(self.weights, factors)

    def einsum_operands(self, labels: str, rank_labels: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
        r = self._rank_letters(labels, rank_labels, 1)
        return [r, *(m + r for m in labels)], [self.weights, *self.factors]

    @classmethod
    def random(cls, shape: Sequence[int], rank: int, std: float, draw: Draw) -> CPTensor:
        """Unit weights and factors of spread ``s``: ``std = s^K·√R``."""
        s = (std / math.sqrt(rank)) ** (1.0 / len(shape))
        factors = [draw((n, rank), s) for n in shape]
        return CPTensor(factors[0].new_ones(rank), factors)

    @classmethod
    def n_parameters(cls, shape: Sequence[int], rank: int) -> int:
        """``R · (1 + Σ n_k)`` (weights and factor matrices)."""
        return rank * (1 + sum(shape))

    @classmethod
    def _rank_for_scale(cls, shape: tuple[int, ...], scale: float, fixed: tuple[int, ...]) -> int:
        return max(1, round(scale))

    @classmethod
    def _explicit_rank(cls, shape: tuple[int, ...], rank: Any) -> int:
        return check_positive_int(rank, "rank")

    def _inner_same(self, other: CPTensor) -> torch.Tensor:
        gram = torch.outer(self.weights.conj(), other.weights)
        for u, v in zip(self.factors, other.factors):
            gram = gram * (u.mH @ v)
        return gram.sum()

    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        return dense.reshape(-1) @ khatri_rao([u.conj() for u in self.factors]) @ self.weights.conj()

    def to_tensorly(self) -> Any:
        """A ``tensorly.cp_tensor.CPTensor`` sharing these tensors."""
        from tensorly.cp_tensor import CPTensor as TlCP

        return TlCP((self.weights, list(self.factors)))

    @classmethod
    def from_tensorly(cls, obj: Any) -> CPTensor:
        """Build from a tensorly ``CPTensor`` or a ``(weights, factors)`` pair (NumPy or torch)."""
        weights, factors = obj
        factors = [torch.as_tensor(u) for u in factors]
        if weights is None:
            weights = torch.ones(factors[0].shape[1], dtype=factors[0].dtype)
        return cls(torch.as_tensor(weights, device=factors[0].device), factors)
