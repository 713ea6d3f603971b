"""Common base of the low-rank tensor formats."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, TypeVar

import torch

from tensorkit._validation import as_tensor

F = TypeVar("F", bound="TensorFormat")


class TensorFormat(ABC):
    """A tensor stored as a few small component tensors.

    Subclasses list their components in :meth:`components` and rebuild themselves from a new list in
    :meth:`_from_components`; everything device-, dtype- and norm-related is shared here.
    """

    @abstractmethod
    def components(self) -> list[torch.Tensor]:
        """The tensors that define this format."""

    @abstractmethod
    def _from_components(self: F, tensors: list[torch.Tensor]) -> F:
        """A new object of the same format built from ``tensors``."""

    @property
    @abstractmethod
    def shape(self) -> tuple[int, ...]:
        """Shape of the full tensor."""

    @abstractmethod
    def to_dense(self) -> torch.Tensor:
        """The full tensor (the dense oracle)."""

    @abstractmethod
    def at(self, indices: torch.Tensor) -> torch.Tensor:
        """Values at an ``N×K`` integer index tensor, without forming the dense tensor."""

    @abstractmethod
    def mode_product(self: F, matrix: torch.Tensor, mode: int) -> F:
        """``self ×_mode matrix`` for ``matrix`` of shape ``(m, shape[mode])``, in the same format."""

    @abstractmethod
    def _inner_same(self, other: Any) -> torch.Tensor:
        """Inner product with another object of the same format."""

    @abstractmethod
    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        """Inner product with a dense tensor of the same shape."""

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self.components()[0].dtype

    @property
    def device(self) -> torch.device:
        return self.components()[0].device

    def to(self: F, *args: Any, **kwargs: Any) -> F:
        """Move/cast every component, with :meth:`torch.Tensor.to`'s arguments."""
        return self._from_components([t.to(*args, **kwargs) for t in self.components()])

    def inner(self, other: TensorFormat | torch.Tensor) -> torch.Tensor:
        """Frobenius inner product with another format or a dense tensor of the same shape."""
        other_shape = tuple(other.shape)
        if other_shape != self.shape:
            raise ValueError(f"other has shape {other_shape}, expected {self.shape}")
        if type(other) is type(self):
            return self._inner_same(other)
        dense = other.to_dense() if isinstance(other, TensorFormat) else other
        return self._inner_dense(dense.to(self.dtype))

    def norm(self) -> torch.Tensor:
        """Frobenius norm, computed from the components."""
        return self._inner_same(self).clamp_min(0).sqrt()

    def _check_indices(self, indices: Any) -> torch.Tensor:
        idx = as_tensor(indices, "indices", dtype=torch.long, device=self.device, ndim=2, allow_empty=True)
        if idx.shape[1] != self.ndim:
            raise ValueError(f"indices must have {self.ndim} columns, got {idx.shape[1]}")
        if idx.numel():
            low, high = idx.min(0).values, idx.max(0).values
            for k, (lo, hi, n) in enumerate(zip(low.tolist(), high.tolist(), self.shape)):
                if lo < 0 or hi >= n:
                    raise IndexError(f"indices[:, {k}] must lie in [0, {n - 1}], got range [{lo}, {hi}]")
        return idx

    def _check_mode(self, matrix: torch.Tensor, mode: int) -> None:
        if not 0 <= mode < self.ndim:
            raise ValueError(f"mode must lie in [0, {self.ndim - 1}], got {mode}")
        if matrix.ndim != 2 or matrix.shape[1] != self.shape[mode]:
            raise ValueError(
                f"matrix must have shape (m, {self.shape[mode]}) for mode {mode}, got {tuple(matrix.shape)}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, rank={self.rank}, dtype={self.dtype})"  # type: ignore[attr-defined]


def check_components(tensors: list[torch.Tensor], name: str) -> None:
    """All components must be floating tensors on one device with one dtype."""
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(t).__name__}")
        if not (t.is_floating_point() or t.is_complex()):
            raise TypeError(f"{name}[{i}] must be floating point, got {t.dtype}")
    if len({(t.dtype, t.device) for t in tensors}) > 1:
        raise ValueError(f"{name} must share one dtype and device, got {[(t.dtype, str(t.device)) for t in tensors]}")
