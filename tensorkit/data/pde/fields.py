"""Gaussian random fields used as PDE inputs (periodic Fourier sampling and Neumann cosine series)."""

from __future__ import annotations

import math

import torch


def wavenumbers(n: int, device: torch.device | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """FFT wavenumbers ``0, 1, …, n/2−1, −n/2, …, −1`` (integers, as floats)."""
    return torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype)


def periodic_grf(
    n_samples: int, resolution: int, dim: int, alpha: float, tau: float, sigma: float | None = None,
    generator: torch.Generator | None = None, device: torch.device | None = None, dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Samples of ``N(0, σ²(−Δ + τ²)^(−α))`` on the periodic grid of ``[0, 1]^dim`` (the FNO recipe).

    Fourier coefficients have std ``resolution^dim · √2 · σ · (4π²|k|² + τ²)^(−α/2)`` (mean mode
    zero); the field is the real part of the inverse FFT. ``σ`` defaults to ``τ^(α − dim/2)``
    (FNO's ``τ^(0.5(2α−2))`` in 2-D).
    """
    if sigma is None:
        sigma = tau ** (alpha - dim / 2.0)
    k = torch.meshgrid(*[wavenumbers(resolution, device, dtype)] * dim, indexing="ij")
    k2 = sum(ki**2 for ki in k)
    sqrt_eig = resolution**dim * math.sqrt(2.0) * sigma * (4 * math.pi**2 * k2 + tau**2) ** (-alpha / 2.0)
    sqrt_eig.reshape(-1)[0] = 0.0
    shape = (n_samples, *(resolution,) * dim)
    noise = torch.complex(torch.randn(shape, generator=generator, dtype=dtype),
                          torch.randn(shape, generator=generator, dtype=dtype)).to(device)
    return torch.fft.ifftn(sqrt_eig * noise, dim=tuple(range(1, dim + 1))).real


def neumann_grf_2d(
    n_samples: int, resolution: int, alpha: float = 2.0, tau: float = 3.0,
    generator: torch.Generator | None = None, device: torch.device | None = None, dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """GRF with covariance ``(−Δ + τ²)^(−α)`` and Neumann conditions on ``[0, 1]²`` (the Darcy recipe).

    Karhunen–Loève series in cosines ``cos(π k_1 x) cos(π k_2 y)`` with coefficients
    ``τ^(α−1) (π²|k|² + τ²)^(−α/2) ξ_k`` (``ξ`` standard normal, the constant mode dropped),
    evaluated at cell centres ``(i + ½)/resolution``.
    """
    k = torch.arange(resolution, device=device, dtype=dtype)
    k1, k2 = torch.meshgrid(k, k, indexing="ij")
    coef = tau ** (alpha - 1) * (math.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2.0)
    coef[0, 0] = 0.0
    xi = torch.randn(n_samples, resolution, resolution, generator=generator, dtype=dtype).to(device)
    x = (torch.arange(resolution, device=device, dtype=dtype) + 0.5) / resolution
    basis = torch.cos(math.pi * k[:, None] * x[None, :])  # (k, x)
    return torch.einsum("nab,ai,bj->nij", coef * xi, basis, basis)
