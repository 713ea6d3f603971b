"""Operators on Chebyshev coefficient vectors: evaluation, differentiation, integration, Gram matrices.

All operators act on the first axis of a coefficient matrix ``(m, r)`` (one series per column) and are
built as small matrices, so they apply as GEMMs on any device.
"""

from __future__ import annotations

import torch

__all__ = [
    "chebyshev_vandermonde",
    "derivative_matrix",
    "integral_weights",
    "l2_gram",
]


def chebyshev_vandermonde(s: torch.Tensor, n_coeffs: int) -> torch.Tensor:
    """``T_k(s_i)`` for ``k < n_coeffs``: an ``(len(s), n_coeffs)`` matrix; ``s`` must lie in [-1, 1].

    Uses ``T_k(s) = cos(k·arccos s)`` (vectorised; its round-off, ≤ k²·eps, matches the conditioning of
    ``T_k`` itself).
    """
    k = torch.arange(n_coeffs, dtype=s.dtype, device=s.device)
    theta = torch.arccos(s.clamp(-1.0, 1.0))
    return torch.cos(theta[:, None] * k[None, :])


def derivative_matrix(n_coeffs: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """``D`` with ``D @ c`` the coefficients of ``d/ds Σ c_k T_k(s)`` (same length, last entry 0).

    ``c'_j = 2 Σ_{k>j, k-j odd} k c_k``, with ``c'_0`` halved (the recurrence ``c'_{k-1} = c'_{k+1} + 2k c_k``
    written out).
    """
    j = torch.arange(n_coeffs, device=device)
    k = j[None, :]
    odd_gap = ((k - j[:, None]) % 2 == 1) & (k > j[:, None])
    d = torch.where(odd_gap, 2.0 * k.to(dtype), torch.zeros((), dtype=dtype, device=device))
    d[0] /= 2
    return d


def integral_weights(n_coeffs: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """``q_k = ∫_{-1}^{1} T_k(s) ds``: ``2/(1-k²)`` for even k, 0 for odd k (Clenshaw–Curtis on coefficients)."""
    k = torch.arange(n_coeffs, dtype=dtype, device=device)
    even = torch.remainder(k, 2) == 0
    return torch.where(even, 2.0 / (1.0 - k**2), torch.zeros_like(k))


def l2_gram(n_coeffs: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """``M_ij = ∫_{-1}^{1} T_i T_j ds = 1/(1-(i+j)²) + 1/(1-(i-j)²)`` for i+j even, else 0."""
    i = torch.arange(n_coeffs, dtype=dtype, device=device)
    plus, minus = i[:, None] + i[None, :], i[:, None] - i[None, :]
    even = torch.remainder(plus, 2) == 0
    gram = 1.0 / (1.0 - plus**2) + 1.0 / (1.0 - minus**2)
    return torch.where(even, gram, torch.zeros_like(gram))
