"""Tucker format: ``core ×_1 U_1 ×_2 U_2 … ×_K U_K``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from tensorkit.core.format import TensorFormat, check_components
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

    def _inner_same(self, other: TuckerTensor) -> torch.Tensor:
        cross = [u.mT @ v for u, v in zip(self.factors, other.factors)]  # (r_k, s_k)
        return (self.core * multi_mode_dot(other.core, cross)).sum()

    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        return (self.core * multi_mode_dot(dense, self.factors, transpose=True)).sum()

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
