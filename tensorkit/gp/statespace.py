"""Matérn Gaussian processes as linear stochastic differential equations.

A Matérn kernel with smoothness ν = p + ½ (p = 0, 1, 2) is the covariance of the first component of
the state ``z(x) = (f, f', …, f^(p))`` of the linear SDE ``dz/dx = F z + L w(x)``. Between two inputs
a gap ``Δ ≥ 0`` apart the state evolves as ``z(x + Δ) = A(Δ) z(x) + q`` with ``q ~ N(0, Q(Δ))``.

``F`` has the single eigenvalue ``-λ`` (λ = √(2ν)/ℓ) with multiplicity p + 1, so ``N = F + λI`` is
nilpotent and the transition has the closed form

    A(Δ) = e^{-λΔ} (I + NΔ + (NΔ)²/2 + …),        Q(Δ) = P∞ - A(Δ) P∞ A(Δ)ᵀ,

with no matrix exponential. Lengthscale and variance may be tensors: every output then carries
their shape as leading batch dimensions, so a whole grid of hyper-parameters runs as one batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from tensorkit._validation import check_choice

__all__ = ["Matern", "KERNELS"]

#: kernel names accepted by the estimators, mapped to ν.
KERNELS = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}


def _as_parameter(value: Any, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float64) if not torch.is_tensor(value) else value
    if not torch.is_floating_point(tensor):
        tensor = tensor.to(torch.float64)
    if not bool(torch.isfinite(tensor).all()) or bool((tensor <= 0).any()):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return tensor


class Matern:
    """A Matérn-ν kernel ``σ² k_ν(|x - x'| / ℓ)`` in state-space form.

    Parameters
    ----------
    nu : {0.5, 1.5, 2.5}
        Smoothness.
    lengthscale, variance : float or tensor
        ℓ and σ²; tensors of one common shape give a batch of kernels.
    """

    def __init__(self, nu: float = 1.5, lengthscale: Any = 1.0, variance: Any = 1.0) -> None:
        self.nu = float(check_choice(float(nu), "nu", (0.5, 1.5, 2.5)))
        self.lengthscale = _as_parameter(lengthscale, "lengthscale")
        self.variance = _as_parameter(variance, "variance")
        self.order = int(self.nu - 0.5)

    @classmethod
    def from_name(cls, name: str, lengthscale: Any = 1.0, variance: Any = 1.0) -> "Matern":
        """Build from ``"matern12"``, ``"matern32"`` or ``"matern52"``."""
        check_choice(name, "kernel", tuple(KERNELS))
        return cls(KERNELS[name], lengthscale, variance)

    @classmethod
    def from_gpytorch(cls, kernel: Any) -> "Matern":
        """Build from a gpytorch ``MaternKernel``, optionally wrapped in a ``ScaleKernel``.

        ν and the lengthscale come from the Matérn kernel, the variance from the ScaleKernel's
        ``outputscale`` (1 without one). One-dimensional (non-ARD, unbatched) kernels only.
        """
        import gpytorch

        variance = torch.tensor(1.0, dtype=torch.float64)
        if isinstance(kernel, gpytorch.kernels.ScaleKernel):
            variance = kernel.outputscale.detach().to(torch.float64).reshape(())
            kernel = kernel.base_kernel
        if not isinstance(kernel, gpytorch.kernels.MaternKernel):
            raise TypeError(f"kernel must be a gpytorch MaternKernel or ScaleKernel(MaternKernel), got {type(kernel).__name__}")
        lengthscale = kernel.lengthscale.detach().to(torch.float64)
        if lengthscale.numel() != 1:
            raise ValueError("kernel must have a single lengthscale (no ARD, no batch)")
        return cls(kernel.nu, lengthscale.reshape(()), variance)

    def with_hyperparameters(self, lengthscale: Any = None, variance: Any = None) -> "Matern":
        """A copy with a new lengthscale and/or variance (None keeps the current one)."""
        return Matern(self.nu, self.lengthscale if lengthscale is None else lengthscale, self.variance if variance is None else variance)

    # ------------------------------------------------------------------ state-space matrices
    @property
    def state_dim(self) -> int:
        """Dimension p + 1 of the state."""
        return self.order + 1

    @property
    def rate(self) -> torch.Tensor:
        """λ = √(2ν) / ℓ."""
        return math.sqrt(2.0 * self.nu) / self.lengthscale

    def _batch(self) -> tuple[torch.Size, torch.dtype, torch.device]:
        shape = torch.broadcast_shapes(self.lengthscale.shape, self.variance.shape)
        return shape, self.lengthscale.dtype, self.lengthscale.device

    def feedback(self) -> torch.Tensor:
        """The feedback matrix ``F``, shape ``(*batch, d, d)``."""
        shape, dtype, device = self._batch()
        lam = self.rate.expand(shape)
        d = self.state_dim
        F = torch.zeros(*shape, d, d, dtype=dtype, device=device)
        if d > 1:
            F[..., torch.arange(d - 1), torch.arange(1, d)] = 1.0
        # Last row: -binom(d, j) λ^(d-j), j = 0..d-1 (the companion form of (s + λ)^d).
        for j in range(d):
            F[..., d - 1, j] = -math.comb(d, j) * lam ** (d - j)
        return F

    def measurement(self) -> torch.Tensor:
        """The measurement row ``H = [1, 0, …, 0]``, shape ``(1, d)``."""
        _, dtype, device = self._batch()
        H = torch.zeros(1, self.state_dim, dtype=dtype, device=device)
        H[0, 0] = 1.0
        return H

    def diffusion(self) -> torch.Tensor:
        """The white-noise spectral density ``Qc`` (noise enters the last state component)."""
        shape, _, _ = self._batch()
        coeff = {0: 2.0, 1: 4.0, 2: 16.0 / 3.0}[self.order]
        return (coeff * self.variance * self.rate ** (2 * self.order + 1)).expand(shape)

    def stationary_covariance(self) -> torch.Tensor:
        """``P∞``, the solution of ``F P + P Fᵀ + L Qc Lᵀ = 0``, shape ``(*batch, d, d)``."""
        shape, dtype, device = self._batch()
        s2 = self.variance.expand(shape)
        lam = self.rate.expand(shape)
        d = self.state_dim
        P = torch.zeros(*shape, d, d, dtype=dtype, device=device)
        P[..., 0, 0] = s2
        if d == 2:
            P[..., 1, 1] = lam**2 * s2
        elif d == 3:
            P[..., 1, 1] = lam**2 * s2 / 3.0
            P[..., 0, 2] = P[..., 2, 0] = -(lam**2) * s2 / 3.0
            P[..., 2, 2] = lam**4 * s2
        return P

    def transition(self, delta: torch.Tensor) -> torch.Tensor:
        """``A(Δ) = expm(FΔ)`` in closed form, shape ``(*batch, *delta.shape, d, d)``."""
        delta = torch.as_tensor(delta, dtype=self.lengthscale.dtype, device=self.lengthscale.device)
        if bool((delta < 0).any()):
            raise ValueError("delta must be ≥ 0")
        shape, _, _ = self._batch()
        d = self.state_dim
        lam = self.rate.expand(shape).reshape(*shape, *([1] * delta.ndim), 1, 1)
        eye = torch.eye(d, dtype=delta.dtype, device=delta.device)
        nil = self.feedback().reshape(*shape, *([1] * delta.ndim), d, d) + lam * eye
        step = nil * delta[..., None, None]
        term = eye.expand_as(step)
        total = term
        for i in range(1, d):
            term = term @ step / i
            total = total + term
        return torch.exp(-lam * delta[..., None, None]) * total

    def process_noise(self, delta: torch.Tensor, transition: torch.Tensor | None = None) -> torch.Tensor:
        """``Q(Δ) = P∞ - A(Δ) P∞ A(Δ)ᵀ``, same shape as :meth:`transition`."""
        delta = torch.as_tensor(delta, dtype=self.lengthscale.dtype, device=self.lengthscale.device)
        A = self.transition(delta) if transition is None else transition
        shape, _, _ = self._batch()
        P = self.stationary_covariance().reshape(*shape, *([1] * delta.ndim), self.state_dim, self.state_dim)
        Q = P - A @ P @ A.transpose(-1, -2)
        return 0.5 * (Q + Q.transpose(-1, -2))

    # ------------------------------------------------------------------ dense kernel
    def covariance(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The dense kernel matrix ``k(x1, x2)`` (unbatched kernels only), for checks and oracles."""
        if self.lengthscale.ndim or self.variance.ndim:
            raise ValueError("covariance needs a scalar lengthscale and variance")
        r = (x1[:, None] - x2[None, :]).abs() * self.rate
        poly = {0: torch.ones_like(r), 1: 1.0 + r, 2: 1.0 + r + r**2 / 3.0}[self.order]
        return self.variance * poly * torch.exp(-r)

    def __repr__(self) -> str:
        return f"Matern(nu={self.nu}, lengthscale={self.lengthscale.tolist()}, variance={self.variance.tolist()})"
