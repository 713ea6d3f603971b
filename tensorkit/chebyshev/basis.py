"""A Chebyshev basis: one Chebyshev series per rank column, on an interval ``[a, b]``."""

from __future__ import annotations

import torch

from tensorkit._validation import as_tensor, check_positive_int
from tensorkit.chebyshev.points import check_domain, chebyshev_points, to_unit
from tensorkit.chebyshev.series import chebyshev_vandermonde, derivative_matrix, integral_weights, l2_gram

__all__ = ["ChebyshevBasis"]

# Rows of the Vandermonde block evaluated at once: bounds the memory of ``T(x)`` to ~128 MiB (float64).
_CHUNK_ENTRIES = 1 << 24


class ChebyshevBasis:
    """Column ``a`` is the function ``v_a(x) = Σ_k coeffs[k, a] T_k(s(x))``, ``s`` mapping [a, b] to [-1, 1].

    Implements the :class:`tensorkit.core.Basis` protocol: ``basis(x)`` is the ``(len(x), rank)``
    matrix ``T(s(x)) @ coeffs``, computed in chunks of points so that large ``m·N`` never needs one block.

    Parameters
    ----------
    coeffs : torch.Tensor
        ``(m, r)`` Chebyshev coefficients (degree ``m - 1``), one series per column; real or complex
        (the coordinates are real either way).
    domain : (a, b)
        The interval the series live on.
    """

    def __init__(self, coeffs: torch.Tensor, domain: tuple[float, float] = (-1.0, 1.0)) -> None:
        self.coeffs = as_tensor(coeffs, "coeffs", ndim=2, allow_complex=True)
        if not (self.coeffs.is_floating_point() or self.coeffs.is_complex()):
            raise TypeError(f"coeffs must be floating point or complex, got {self.coeffs.dtype}")
        self.domain = check_domain(domain)

    @property
    def rank(self) -> int:
        return int(self.coeffs.shape[1])

    @property
    def n_coeffs(self) -> int:
        """Number of coefficients ``m`` (degree + 1)."""
        return int(self.coeffs.shape[0])

    @property
    def dtype(self) -> torch.dtype:
        return self.coeffs.dtype

    @property
    def real_dtype(self) -> torch.dtype:
        """The dtype of the coordinates (``dtype``'s real counterpart for complex coefficients)."""
        return self.coeffs.real.dtype

    @property
    def device(self) -> torch.device:
        return self.coeffs.device

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Values of every column at the coordinates ``x`` (1-D, inside the domain)."""
        x = as_tensor(x, "x", dtype=self.real_dtype, device=self.device, ndim=1, allow_empty=True)
        a, b = self.domain
        slack = 1e-12 * (b - a)
        if x.numel() and (x.min() < a - slack or x.max() > b + slack):
            raise ValueError(
                f"x must lie in the domain [{a}, {b}], got range [{float(x.min())}, {float(x.max())}]"
            )
        s = to_unit(x, self.domain)
        step = max(1, _CHUNK_ENTRIES // max(self.n_coeffs, 1))
        blocks = [chebyshev_vandermonde(s[i : i + step], self.n_coeffs).to(self.dtype) @ self.coeffs
                  for i in range(0, len(s), step)]
        return torch.cat(blocks) if blocks else self.coeffs.new_zeros(0, self.rank)

    def values_at_points(self, kind: int = 2) -> torch.Tensor:
        """Values at the ``m`` Chebyshev points of ``kind`` on the domain (an ``(m, r)`` matrix)."""
        return self(chebyshev_points(self.n_coeffs, kind, self.domain, dtype=self.real_dtype, device=self.device))

    def derivative(self, order: int = 1) -> ChebyshevBasis:
        """The basis of ``d^order v_a / dx^order`` (same length and rank)."""
        order = check_positive_int(order, "order")
        a, b = self.domain
        d = derivative_matrix(self.n_coeffs, dtype=self.real_dtype, device=self.device).to(self.dtype) * (2.0 / (b - a))
        coeffs = self.coeffs
        for _ in range(order):
            coeffs = d @ coeffs
        return ChebyshevBasis(coeffs, self.domain)

    def integrals(self) -> torch.Tensor:
        """``∫_a^b v_a(x) dx`` for every column: an ``(r,)`` tensor (exact for the polynomial)."""
        a, b = self.domain
        q = integral_weights(self.n_coeffs, dtype=self.real_dtype, device=self.device).to(self.dtype) * (0.5 * (b - a))
        return q @ self.coeffs

    def l2_gram(self) -> torch.Tensor:
        """``∫_a^b conj(v_a) v_b dx``: the ``(r, r)`` L² Gram matrix of the columns."""
        a, b = self.domain
        m = l2_gram(self.n_coeffs, dtype=self.real_dtype, device=self.device).to(self.dtype) * (0.5 * (b - a))
        return self.coeffs.mH @ m @ self.coeffs

    def with_coeffs(self, coeffs: torch.Tensor) -> ChebyshevBasis:
        """A basis on the same domain with new coefficients."""
        return ChebyshevBasis(coeffs, self.domain)

    def to(self, *args, **kwargs) -> ChebyshevBasis:
        return ChebyshevBasis(self.coeffs.to(*args, **kwargs), self.domain)

    def __repr__(self) -> str:
        return f"ChebyshevBasis(n_coeffs={self.n_coeffs}, rank={self.rank}, domain={self.domain})"
