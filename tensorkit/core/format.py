"""Common base of the tensor formats: the algebra every format offers, and its rank/budget bookkeeping."""

from __future__ import annotations

import math
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

from tensorkit._validation import as_tensor, check_index_range, check_positive_float

F = TypeVar("F", bound="TensorFormat")

Draw = Callable[[Sequence[int], float], torch.Tensor]
"""``draw(shape, std)``: a random component of ``shape`` with entries of spread ``std`` (see :meth:`TensorFormat.random`)."""


class TensorFormat(ABC):
    """A tensor stored as a few small component tensors.

    Subclasses list their components in :meth:`components` and rebuild themselves from a new list in
    :meth:`_from_components`; everything device-, dtype- and norm-related is shared here. Code that works
    over formats calls these methods instead of testing the type: :meth:`take` slices a mode,
    :meth:`einsum_operands` hands the components to an einsum, :meth:`n_parameters` and
    :meth:`resolve_rank` (with :meth:`rank_from_budget`) do the rank bookkeeping of the format.
    """

    component_names: tuple[str, ...]
    """The constructor's arguments, in order: ``type(x)(**x.named_components())`` rebuilds ``x``."""

    @abstractmethod
    def components(self) -> list[torch.Tensor]:
        """The tensors that define this format."""

    def named_components(self) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """The components by constructor argument (a list where the format takes one per mode)."""
        return {name: getattr(self, name) for name in self.component_names}

    @classmethod
    @abstractmethod
    def random(cls: type[F], shape: Sequence[int], rank: Any, std: float, draw: Draw) -> F:
        """A tensor of ``shape`` at resolved ``rank`` whose entries spread about ``std`` at initialisation.

        The format splits ``std`` over its components and calls ``draw(shape, std)`` once per random
        component, in :attr:`component_names` order (a seeded ``draw`` thus gives a reproducible tensor).
        """

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
    def take(self: F, index: torch.Tensor | slice, mode: int) -> F:
        """Entries ``index`` (an index tensor or a slice) along ``mode``, in the same format, nothing densified."""

    @abstractmethod
    def einsum_operands(self, labels: str, rank_labels: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
        """Einsum subscripts and operands whose contraction over the rank labels is this tensor.

        Parameters
        ----------
        labels : str
            One einsum letter per mode of the full tensor.
        rank_labels : str, optional
            Letters for the rank indices, used in order (default: the upper-case letters not in ``labels``).

        Returns
        -------
        subscripts, operands : list of str, list of torch.Tensor
            ``torch.einsum(",".join(subscripts) + "->" + labels, *operands)`` equals :meth:`to_dense`.
        """

    @classmethod
    @abstractmethod
    def n_parameters(cls, shape: Sequence[int], rank: Any) -> int:
        """Number of entries stored by a tensor of ``shape`` in this format with resolved ``rank``."""

    fixed_modes_allowed: bool = False
    """Whether :meth:`resolve_rank` accepts ``fixed_modes``."""

    @classmethod
    def resolve_rank(cls, shape: Sequence[int], rank: Any, fixed_modes: Sequence[int] = ()) -> Any:
        """The format's ranks from a budget fraction (a float) or from explicit ranks.

        Parameters
        ----------
        shape : sequence of int
            Shape of the full tensor.
        rank : float or int or sequence of int
            A float is the target fraction of the dense entry count (``0.1`` = 10× fewer entries), solved
            by :meth:`rank_from_budget`; an int or a sequence gives the ranks explicitly.
        fixed_modes : sequence of int
            Modes kept at full rank, for formats with per-mode ranks that allow it (Tucker).
        """
        shape = tuple(int(n) for n in shape)
        fixed = tuple(sorted({int(m) for m in fixed_modes}))
        for m in fixed:
            if not 0 <= m < len(shape):
                raise ValueError(f"fixed_rank_modes entries must lie in [0, {len(shape) - 1}], got {m}")
        if fixed and not cls.fixed_modes_allowed:
            raise ValueError(f"fixed_rank_modes is not supported by {cls.__name__}")
        if isinstance(rank, float):
            return cls.rank_from_budget(shape, check_positive_float(rank, "rank"), fixed)
        return cls._explicit_rank(shape, rank)

    @classmethod
    def rank_from_budget(cls, shape: Sequence[int], fraction: float, fixed_modes: Sequence[int] = ()) -> Any:
        """Ranks whose :meth:`n_parameters` is closest to ``fraction · prod(shape)``.

        One common scale ``s`` sets every rank (see :meth:`_rank_for_scale`); ``s`` is found by
        bisection on the exact parameter count, then the neighbouring rank closest to the budget is kept.
        """
        shape, fixed = tuple(shape), tuple(fixed_modes)
        budget = fraction * math.prod(shape)

        def cost(scale: float) -> int:
            return cls.n_parameters(shape, cls._rank_for_scale(shape, scale, fixed))

        low, high = 0.0, 1.0
        while cost(high) < budget and high < 1e12:
            low, high = high, high * 2
        for _ in range(100):  # bisection on a monotone step function
            mid = 0.5 * (low + high)
            low, high = (mid, high) if cost(mid) < budget else (low, mid)
        candidates = [cls._rank_for_scale(shape, s, fixed) for s in (low, high)]
        return min(candidates, key=lambda r: abs(cls.n_parameters(shape, r) - budget))

    @classmethod
    def _rank_for_scale(cls, shape: tuple[int, ...], scale: float, fixed: tuple[int, ...]) -> Any:
        """The ranks at common scale ``scale`` (monotone in it), for :meth:`rank_from_budget`."""
        raise NotImplementedError(f"{cls.__name__} has no rank scale")

    @classmethod
    def _explicit_rank(cls, shape: tuple[int, ...], rank: Any) -> Any:
        """Explicit ``rank`` checked against ``shape`` and put in the format's canonical form."""
        raise NotImplementedError(f"{cls.__name__} takes no explicit rank")

    @abstractmethod
    def _inner_same(self, other: Any) -> torch.Tensor:
        """Inner product ``Σ conj(self)·other`` with another object of the same format."""

    @abstractmethod
    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        """Inner product ``Σ conj(self)·dense`` with a dense tensor of the same shape."""

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
        """Frobenius inner product ``Σ conj(self)·other`` with another format or a dense tensor of the same shape."""
        other_shape = tuple(other.shape)
        if other_shape != self.shape:
            raise ValueError(f"other has shape {other_shape}, expected {self.shape}")
        if type(other) is type(self):
            return self._inner_same(other)
        dense = other.to_dense() if isinstance(other, TensorFormat) else other
        return self._inner_dense(dense.to(self.dtype))

    def norm(self) -> torch.Tensor:
        """Frobenius norm, computed from the components (real, also for complex tensors)."""
        return self._inner_same(self).real.clamp_min(0).sqrt()

    def _check_indices(self, indices: Any) -> torch.Tensor:
        idx = as_tensor(indices, "indices", dtype=torch.long, device=self.device, ndim=2, allow_empty=True)
        check_index_range(idx, self.shape, "indices")
        return idx

    def _check_take_mode(self, mode: int) -> None:
        if not 0 <= mode < self.ndim:
            raise ValueError(f"mode must lie in [0, {self.ndim - 1}], got {mode}")

    def _rank_letters(self, labels: str, rank_labels: str | None, count: int) -> str:
        """``count`` einsum letters for rank indices: from ``rank_labels``, else upper case not in ``labels``."""
        if len(labels) != self.ndim:
            raise ValueError(f"labels must have one letter per mode ({self.ndim}), got {labels!r}")
        pool = rank_labels if rank_labels is not None else "".join(c for c in string.ascii_uppercase if c not in labels)
        if len(pool) < count or set(pool[:count]) & set(labels):
            raise ValueError(f"need {count} rank letters distinct from {labels!r}, got {pool!r}")
        return pool[:count]

    def _check_mode(self, matrix: torch.Tensor, mode: int) -> None:
        self._check_take_mode(mode)
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
