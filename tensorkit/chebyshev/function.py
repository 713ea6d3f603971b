"""A fitted Chebyshev–Tucker function: a :class:`~tensorkit.core.FunctionalTucker` over Chebyshev bases,
with Chebfun3-style calculus (integrals, norms, derivatives, continuous HOSVD) and algebra with
recompression."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorkit._validation import check_positive_float, check_positive_int
from tensorkit.chebyshev.basis import ChebyshevBasis
from tensorkit.chebyshev.points import chebyshev_points
from tensorkit.chebyshev.transforms import vals_to_coeffs
from tensorkit.core.truncation import truncate
from tensorkit.core import DenseTensor, FunctionalTucker, TuckerTensor
from tensorkit.core.tenalg import khatri_rao, multi_mode_dot

__all__ = ["ChebTuckerFunction"]


class ChebTuckerFunction(FunctionalTucker):
    """``f(x) = Σ G[a_1..a_d] Π_ℓ v^ℓ_{a_ℓ}(x_ℓ)``, each ``v^ℓ_a`` a Chebyshev series on ``[a_ℓ, b_ℓ]``.

    Parameters
    ----------
    core : torch.Tensor
        Tucker core ``(r_1, …, r_d)``.
    bases : sequence of ChebyshevBasis
        One basis per mode; ``bases[ℓ].coeffs`` is the ``(m_ℓ, r_ℓ)`` coefficient factor ``V_ℓ``.
    """

    def __init__(self, core: torch.Tensor, bases: Sequence[ChebyshevBasis]) -> None:
        for k, basis in enumerate(bases):
            if not isinstance(basis, ChebyshevBasis):
                raise TypeError(f"bases[{k}] must be a ChebyshevBasis, got {type(basis).__name__}")
        super().__init__(core, bases)

    # ------------------------------------------------------------------ structure
    @property
    def domain(self) -> tuple[tuple[float, float], ...]:
        return tuple(b.domain for b in self.bases)

    @property
    def n_coeffs(self) -> tuple[int, ...]:
        return tuple(b.n_coeffs for b in self.bases)

    def coefficients(self) -> TuckerTensor:
        """The Chebyshev coefficient tensor ``C = [G; V_1, …, V_d]`` as a (not expanded) Tucker tensor."""
        return TuckerTensor(self.core, [b.coeffs for b in self.bases])

    def to(self, *args: Any, **kwargs: Any) -> ChebTuckerFunction:
        return ChebTuckerFunction(self.core.to(*args, **kwargs), [b.to(*args, **kwargs) for b in self.bases])

    # ------------------------------------------------------------------ calculus
    def integral(self) -> torch.Tensor:
        """``∫_Ω f``: Clenshaw–Curtis weights on the coefficients, ``G ×_ℓ (q_ℓᵀ V_ℓ)``."""
        return multi_mode_dot(self.core, [b.integrals()[None, :] for b in self.bases]).reshape(())

    def mean(self) -> torch.Tensor:
        """``∫_Ω f / |Ω|``."""
        return self.integral() / math.prod(b - a for a, b in self.domain)

    def norm(self) -> torch.Tensor:
        """L² norm over the box, ``(∫_Ω f²)^{1/2}``, from the factors' L² Gram matrices."""
        grams = [b.l2_gram() for b in self.bases]
        return (self.core * multi_mode_dot(self.core, grams)).sum().clamp_min(0).sqrt()

    def diff(self, mode: int, order: int = 1) -> ChebTuckerFunction:
        """``∂^order f / ∂x_mode^order`` (same ranks: only factor ``mode`` changes)."""
        if not 0 <= mode < self.ndim:
            raise ValueError(f"mode must lie in [0, {self.ndim - 1}], got {mode}")
        bases = list(self.bases)
        bases[mode] = bases[mode].derivative(check_positive_int(order, "order"))
        return ChebTuckerFunction(self.core, bases)

    def gradient(self) -> list[ChebTuckerFunction]:
        """``[∂f/∂x_1, …, ∂f/∂x_d]``."""
        return [self.diff(k) for k in range(self.ndim)]

    def laplacian(self, tol: float = 1e-12) -> ChebTuckerFunction:
        """``Σ_ℓ ∂²f/∂x_ℓ²``, recompressed to relative coefficient tolerance ``tol``."""
        terms = [self.diff(k, 2) for k in range(self.ndim)]
        return _concatenate(terms).recompress(tol)

    # ------------------------------------------------------------------ algebra
    def recompress(self, tol: float | None = 1e-12, rank: Sequence[int] | None = None) -> ChebTuckerFunction:
        """Truncated HOSVD of the coefficient Tucker tensor (to ``tol``, or to ``rank`` if given)."""
        if tol is not None:
            tol = check_positive_float(tol, "tol")
        cut = truncate(self.coefficients(), rank=rank, tol=tol if rank is None else None).tucker
        return ChebTuckerFunction(cut.core, [b.with_coeffs(u) for b, u in zip(self.bases, cut.factors)])

    def __add__(self, other: Any) -> ChebTuckerFunction:
        return _concatenate([self, self._coerce(other)]).recompress()

    __radd__ = __add__

    def __neg__(self) -> ChebTuckerFunction:
        return ChebTuckerFunction(-self.core, self.bases)

    def __sub__(self, other: Any) -> ChebTuckerFunction:
        return self + (-self._coerce(other))

    def __rsub__(self, other: Any) -> ChebTuckerFunction:
        return self._coerce(other) - self

    def __mul__(self, other: Any) -> ChebTuckerFunction:
        if isinstance(other, (int, float)):
            return ChebTuckerFunction(self.core * other, self.bases)
        return _product(self, self._coerce(other)).recompress()

    __rmul__ = __mul__

    def _coerce(self, other: Any) -> ChebTuckerFunction:
        if isinstance(other, (int, float)):
            one = torch.ones((1,) * self.ndim, dtype=self.core.dtype, device=self.core.device) * other
            bases = [ChebyshevBasis(torch.ones(1, 1, dtype=self.core.dtype, device=self.core.device), d) for d in self.domain]
            return ChebTuckerFunction(one, bases)
        if not isinstance(other, ChebTuckerFunction):
            raise TypeError(f"cannot combine a ChebTuckerFunction with {type(other).__name__}")
        if other.domain != self.domain:
            raise ValueError(f"domains differ: {self.domain} and {other.domain}")
        return other

    # ------------------------------------------------------------------ continuous HOSVD
    def hosvd(self) -> tuple[list[torch.Tensor], ChebTuckerFunction]:
        """Continuous HOSVD: modal singular values (L² sense) and an equal function whose factor
        columns are L²-orthonormal over their intervals and whose core is all-orthogonal.

        The L² inner products are computed exactly with Gauss–Legendre quadrature and a QR of the
        weighted values (no Gram matrix is squared).
        """
        whitened, bases = [], []
        for b in self.bases:
            nodes, weights = np.polynomial.legendre.leggauss(b.n_coeffs + 1)
            a, c = b.domain
            x = torch.as_tensor(0.5 * (c - a) * nodes + 0.5 * (a + c), dtype=b.real_dtype, device=b.device)
            w = torch.as_tensor(weights * 0.5 * (c - a), dtype=b.real_dtype, device=b.device).sqrt()
            r = torch.linalg.qr(w[:, None] * b(x), mode="r")[1]  # L² Gram = rᵀ r
            whitened.append(r)
            bases.append(b.with_coeffs(torch.linalg.solve_triangular(r, b.coeffs, upper=True, left=False)))
        core = multi_mode_dot(self.core, whitened)
        cut = truncate(DenseTensor(core), rank=core.shape)
        bases = [b.with_coeffs(b.coeffs @ u) for b, u in zip(bases, cut.tucker.factors)]
        return cut.singular_values, ChebTuckerFunction(cut.tucker.core, bases)

    # ------------------------------------------------------------------ sampling
    def to_dataarray(self, name: str | None = None, **coords: Any):
        """Sample on the tensor grid of named coordinates (one keyword per mode, in mode order).

        Example: ``f.to_dataarray(x=np.linspace(-1, 1, 50), y=..., z=...)`` → an ``xarray.DataArray``.
        """
        import xarray as xr

        if len(coords) != self.ndim:
            raise ValueError(f"give one coordinate array per mode ({self.ndim}), got {list(coords)}")
        grids = [torch.as_tensor(np.asarray(v, dtype=float), dtype=self.core.dtype, device=self.core.device)
                 for v in coords.values()]
        values = self.to_dense(grids).cpu().numpy()
        return xr.DataArray(values, coords={k: np.asarray(v, dtype=float) for k, v in coords.items()},
                            dims=list(coords), name=name, attrs={"ranks": list(self.rank)})


def _concatenate(terms: Sequence[ChebTuckerFunction]) -> ChebTuckerFunction:
    """The exact sum of several functions: factor columns side by side, cores block-diagonal."""
    d = terms[0].ndim
    bases = []
    for k in range(d):
        m = max(t.bases[k].n_coeffs for t in terms)
        cols = [torch.nn.functional.pad(t.bases[k].coeffs, (0, 0, 0, m - t.bases[k].n_coeffs)) for t in terms]
        bases.append(terms[0].bases[k].with_coeffs(torch.cat(cols, dim=1)))
    core = terms[0].core.new_zeros([b.rank for b in bases])
    offsets = [0] * d
    for t in terms:
        core[tuple(slice(o, o + r) for o, r in zip(offsets, t.rank))] = t.core
        offsets = [o + r for o, r in zip(offsets, t.rank)]
    return ChebTuckerFunction(core, bases)


def _product(f: ChebTuckerFunction, g: ChebTuckerFunction) -> ChebTuckerFunction:
    """The exact product: column products of the factors (by values at enough points) ⊗ Kronecker core."""
    bases = []
    for bf, bg in zip(f.bases, g.bases):
        m = bf.n_coeffs + bg.n_coeffs - 1
        x = chebyshev_points(m, 2, bf.domain, dtype=bf.real_dtype, device=bf.device)
        values = khatri_rao([bf(x).mT, bg(x).mT]).mT  # (m, r_f r_g), column (a, b) = v_a w_b
        bases.append(bf.with_coeffs(vals_to_coeffs(values, 2, dims=0)))
    d = f.ndim
    core = torch.einsum(f.core, list(range(d)), g.core, list(range(d, 2 * d)), list(range(2 * d)))
    perm = [i for k in range(d) for i in (k, k + d)]
    core = core.permute(perm).reshape([a * b for a, b in zip(f.rank, g.rank)])
    return ChebTuckerFunction(core, bases)

