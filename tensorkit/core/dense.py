"""Dense format: the full tensor itself, so that code over formats needs no dense special case."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit.core.format import Draw, TensorFormat, check_components
from tensorkit.core.tenalg import mode_dot


class DenseTensor(TensorFormat):
    """A tensor stored entry by entry (one component, the tensor itself).

    Parameters
    ----------
    data : torch.Tensor
        The full tensor (floating point or complex, at least 1-D).
    """

    component_names = ("data",)

    def __init__(self, data: torch.Tensor) -> None:
        check_components([data], "[data]")
        if data.ndim == 0:
            raise ValueError("data must have at least one mode, got a 0-D tensor")
        self.data = data

    def components(self) -> list[torch.Tensor]:
        return [self.data]

    def _from_components(self, tensors: list[torch.Tensor]) -> DenseTensor:
        return DenseTensor(tensors[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def rank(self) -> None:
        """Dense tensors have no rank parameter."""
        return None

    def to_dense(self) -> torch.Tensor:
        return self.data

    def at(self, indices: torch.Tensor) -> torch.Tensor:
        idx = self._check_indices(indices)
        return self.data[tuple(idx.T)]

    def mode_product(self, matrix: torch.Tensor, mode: int) -> DenseTensor:
        self._check_mode(matrix, mode)
        return DenseTensor(mode_dot(self.data, matrix.to(self.dtype), mode))

    def take(self, index: torch.Tensor | slice, mode: int) -> DenseTensor:
        self._check_take_mode(mode)
        return DenseTensor(self.data[(slice(None),) * mode + (index,)])

    def einsum_operands(self, labels: str, rank_labels: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
        self._rank_letters(labels, rank_labels, 0)  # checks labels
        return [labels], [self.data]

    def _inner_same(self, other: DenseTensor) -> torch.Tensor:
        return self._inner_dense(other.data)

    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        return (self.data.conj() * dense).sum()

    @classmethod
    def random(cls, shape: Sequence[int], rank: None, std: float, draw: Draw) -> DenseTensor:
        return DenseTensor(draw(tuple(shape), std))

    @classmethod
    def n_parameters(cls, shape: Sequence[int], rank: Any = None) -> int:
        return math.prod(shape)

    @classmethod
    def resolve_rank(cls, shape: Sequence[int], rank: Any, fixed_modes: Sequence[int] = ()) -> None:
        """Dense tensors take no rank: always None (rank and fixed modes do not apply)."""
        return None
