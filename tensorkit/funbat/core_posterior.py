"""The posterior of a fitted FunBaT's core, in the units of the values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tensorkit.core import Basis, CPTensor, FunctionalCP, FunctionalTucker, TensorFormat
from tensorkit.funbat.basis import OffsetBasis
from tensorkit.funbat.inference import ConditionalEP

__all__ = ["CorePosterior", "core_posterior"]


@dataclass(frozen=True)
class CorePosterior:
    """Gaussian posterior of the core in data units.

    Tucker: ``mean`` is the ``(r_1, …, r_K)`` core and ``covariance`` that of its C-order vec (``R × R``,
    ``R = Π r_k``). CP: the core is the fixed super-diagonal ``λ·I``, so ``mean`` is a
    :class:`~tensorkit.core.CPTensor` (weights ``λ``, identity factors; never formed) and ``covariance``
    the zero ``(r, r)`` covariance of its weights.
    """

    mean: torch.Tensor | CPTensor
    covariance: torch.Tensor

    def dense_mean(self) -> torch.Tensor:
        """The mean as a dense ``(r_1, …, r_K)`` tensor (CP: the super-diagonal core, formed)."""
        return self.mean.to_dense() if isinstance(self.mean, TensorFormat) else self.mean

    def functional(self, bases: Sequence[Basis], offset: float = 0.0, *, tucker: bool = False) -> FunctionalTucker | FunctionalCP:
        """The mean over ``bases`` plus a constant ``offset``: a :class:`~tensorkit.core.FunctionalCP` for a
        CP mean (no ``(r_1, …, r_K)`` core) unless ``tucker``, else a :class:`~tensorkit.core.FunctionalTucker`.

        A non-zero ``offset`` is carried by one extra constant column per basis, so each rank grows by one
        (CP: one more component, of weight ``offset``).
        """
        cp = isinstance(self.mean, TensorFormat) and not tucker
        if offset == 0.0:
            return FunctionalCP(self.mean, bases) if cp else FunctionalTucker(self.dense_mean(), bases)
        bases = [OffsetBasis(b) for b in bases]
        if cp:
            weights = torch.cat([self.mean.weights, self.mean.weights.new_tensor([offset])])
            return FunctionalCP(CPTensor(weights, [torch.block_diag(u, u.new_ones(1, 1)) for u in self.mean.factors]), bases)
        core = self.dense_mean()
        padded = core.new_zeros([r + 1 for r in core.shape])
        padded[tuple(slice(0, r) for r in core.shape)] = core
        padded[tuple(core.shape)] = offset
        return FunctionalTucker(padded, bases)


def core_posterior(ep: ConditionalEP, value_scale: float) -> CorePosterior:
    """The core posterior of a fitted EP, scaled to data units (CP: a CP tensor of equal weights, zero covariance)."""
    if ep.core_mean is None:
        eye = torch.eye(ep.chains[0].rank, dtype=ep.y.dtype, device=ep.y.device)
        weights = eye.new_full((eye.shape[0],), value_scale)
        return CorePosterior(CPTensor(weights, [eye] * len(ep.chains)), eye.new_zeros(eye.shape))
    return CorePosterior(value_scale * ep.core_mean, value_scale**2 * ep.core_cov)
