"""A mode's learned functions as a :class:`tensorkit.core.Basis`: the GP posterior at any coordinate."""

from __future__ import annotations

import torch

from tensorkit._validation import as_tensor
from tensorkit.funbat.chains import ModeChain

__all__ = ["GPBasis", "OffsetBasis"]


class GPBasis:
    """Posterior of one mode's ``rank`` latent functions, evaluated at raw (user-unit) coordinates.

    ``__call__`` returns the posterior mean (the Basis protocol); :meth:`moments` and :meth:`std`
    add the posterior covariance. Coordinates that were not seen in training are inserted into the
    Kalman chain as zero-information states, so the posterior there is exact.

    Parameters
    ----------
    chain : ModeChain
        The fitted chain (on rescaled coordinates).
    shift, scale : float
        The mode's rescaling, ``x_rescaled = (x - shift) / scale``.
    extra_precision : float
        Pseudo-observation shrinkage (parity mode only).
    """

    def __init__(self, chain: ModeChain, shift: float, scale: float, extra_precision: float = 0.0) -> None:
        self.chain = chain
        self.shift = shift
        self.scale = scale
        self.extra_precision = extra_precision

    @property
    def rank(self) -> int:
        return self.chain.rank

    def moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean (n, r) and covariance (n, r, r) at coordinates ``x`` (n,)."""
        x = as_tensor(x, "x", dtype=self.chain.grid.dtype, device=self.chain.grid.device, ndim=1, allow_empty=True)
        if not len(x):  # no points: empty moments, like every Basis
            return x.new_zeros(0, self.rank), x.new_zeros(0, self.rank, self.rank)
        return self.chain.posterior((x - self.shift) / self.scale, self.extra_precision)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.moments(x)[0]

    def std(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior standard deviation (n, r) of each function at ``x``."""
        return self.moments(x)[1].diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt()

    def __repr__(self) -> str:
        return f"GPBasis(rank={self.rank}, kernel={self.chain.kernel})"


class OffsetBasis:
    """A basis with one extra constant column of ones (carries a global offset in a Tucker core)."""

    def __init__(self, basis: GPBasis) -> None:
        self.basis = basis

    @property
    def rank(self) -> int:
        return self.basis.rank + 1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        values = self.basis(x)
        return torch.cat([values, torch.ones_like(values[:, :1])], 1)

    def __repr__(self) -> str:
        return f"OffsetBasis({self.basis!r} + constant)"
