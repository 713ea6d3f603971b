"""The posterior of a fitted FunBaT's core, in the units of the values."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tensorkit.core import CPTensor, TensorFormat
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


def core_posterior(ep: ConditionalEP, value_scale: float) -> CorePosterior:
    """The core posterior of a fitted EP, scaled to data units (CP: a CP tensor of equal weights, zero covariance)."""
    if ep.core_mean is None:
        eye = torch.eye(ep.chains[0].rank, dtype=ep.y.dtype, device=ep.y.device)
        weights = eye.new_full((eye.shape[0],), value_scale)
        return CorePosterior(CPTensor(weights, [eye] * len(ep.chains)), eye.new_zeros(eye.shape))
    return CorePosterior(value_scale * ep.core_mean, value_scale**2 * ep.core_cov)
