"""From the three kinds of input to Chebyshev coefficients at a given number of points per mode.

* :class:`FunctionSource` samples a vectorised ``f(x, y, z, …)`` on the Chebyshev tensor grid.
* :class:`GridSource` splines a dense grid tensor to the Chebyshev nodes, one mode at a time.
* :class:`CPSource` splines each CP factor to the nodes: the coefficients stay in CP form
  (``m × R`` factor matrices), so neither ``n^d`` nor ``m^d`` is formed.

Grid data are interpolated with not-a-knot cubic splines that extrapolate to the interval ends
(cell-centred grids stop h/2 short of them); this is O(h⁴) accurate and sets an accuracy floor
(about 1e-12 relative at n = 8192 for the Newton kernel) below which nothing is claimed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from tensorkit.chebyshev.points import chebyshev_points
from tensorkit.chebyshev.transforms import _vals_to_coeffs_inplace, vals_to_coeffs

__all__ = ["FunctionSource", "GridSource", "CPSource", "uniform_grid", "relative_tails"]

Domains = Sequence[tuple[float, float]]

# Points per call of a user function: f's temporaries (each 128 KiB in float64) stay well under 1 MiB
# whatever the grid size; the calls are few enough (≈ m^d / 16384) not to cost time.
_POINTS_PER_CALL = 1 << 14


def uniform_grid(n: int, domain: tuple[float, float], layout: str = "cell") -> np.ndarray:
    """``n`` uniform coordinates on ``domain``: cell centres ``a + (i+½)h`` or vertices incl. both ends."""
    a, b = domain
    if layout == "cell":
        return a + (np.arange(n) + 0.5) * (b - a) / n
    if layout == "vertex":
        return np.linspace(a, b, n)
    raise ValueError(f"grid must be 'cell', 'vertex' or a list of coordinate arrays, got {layout!r}")


def _spline(values: np.ndarray, coords: np.ndarray, nodes: np.ndarray, axis: int) -> np.ndarray:
    return CubicSpline(coords, values, axis=axis, bc_type="not-a-knot", extrapolate=True)(nodes)


class FunctionSource:
    """A vectorised function called as ``f(x_1, …, x_d)`` with one tensor per coordinate (ndgrid order)."""

    def __init__(self, f: Callable, domains: Domains, kind: int, dtype: torch.dtype, device) -> None:
        self.f, self.domains, self.kind, self.dtype, self.device = f, list(domains), kind, dtype, device
        self.ndim = len(self.domains)
        self.n_evaluations = 0

    def coefficients(self, n_points: Sequence[int]) -> torch.Tensor:
        nodes = [chebyshev_points(m, self.kind, d, dtype=self.dtype, device=self.device)
                 for m, d in zip(n_points, self.domains)]
        shape = tuple(n_points)
        values = torch.empty(shape, dtype=self.dtype, device=self.device)
        step = max(1, _POINTS_PER_CALL // max(1, math.prod(shape[1:])))
        for start in range(0, shape[0], step):  # slabs of the grid bound f's temporaries, not the m^d total
            slab = (nodes[0][start : start + step], *nodes[1:])
            values[start : start + step] = self._evaluate(torch.meshgrid(*slab, indexing="ij"))
        self.n_evaluations += math.prod(shape)
        return _vals_to_coeffs_inplace(values, self.kind)  # the samples are ours: transform them in place

    def _evaluate(self, mesh: Sequence[torch.Tensor]) -> torch.Tensor:
        out = torch.as_tensor(self.f(*mesh))
        if out.is_complex():  # a cast to the real dtype would silently drop the imaginary part
            raise TypeError(f"f returned complex values (dtype {out.dtype}); ChebTucker approximates real functions: "
                            "fit the real and imaginary parts as two models (e.g. lambda *x: f(*x).real)")
        out = out.to(dtype=self.dtype, device=self.device)
        shape = tuple(mesh[0].shape)
        try:
            out = torch.broadcast_to(out, shape)
        except RuntimeError as err:
            raise ValueError(f"f returned shape {tuple(out.shape)}, expected {shape} (one value per point)") from err
        if not torch.isfinite(out).all():
            raise ValueError("f returned non-finite values on the Chebyshev grid")
        return out


class GridSource:
    """A dense tensor of values on a tensor grid with coordinates ``coords[ℓ]`` (sorted, 1-D)."""

    def __init__(self, values: np.ndarray, coords: Sequence[np.ndarray], domains: Domains, kind: int,
                 dtype: torch.dtype, device) -> None:
        self.values, self.coords, self.domains = values, list(coords), list(domains)
        self.kind, self.dtype, self.device = kind, dtype, device
        self.ndim = values.ndim

    def coefficients(self, n_points: Sequence[int]) -> torch.Tensor:
        values = self.values
        for axis, (m, d, c) in enumerate(zip(n_points, self.domains, self.coords)):
            nodes = chebyshev_points(m, self.kind, d).numpy()
            values = _spline(values, c, nodes, axis)
        # the splined values are a fresh array of ours: transform them in place (no full-size copies)
        return _vals_to_coeffs_inplace(torch.as_tensor(values, dtype=self.dtype, device=self.device).contiguous(),
                                       self.kind)


class CPSource:
    """A CP tensor ``Σ_ν w_ν ⊗_ℓ u_ℓν`` whose factor ``u_ℓ`` is sampled on the grid ``coords[ℓ]``."""

    def __init__(self, weights: torch.Tensor, factors: Sequence[np.ndarray], coords: Sequence[np.ndarray],
                 domains: Domains, kind: int) -> None:
        self.weights, self.factors, self.coords = weights, list(factors), list(coords)
        self.domains, self.kind = list(domains), kind
        self.ndim = len(self.factors)

    def coefficients(self, n_points: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        coeff_factors = []
        for m, d, c, u in zip(n_points, self.domains, self.coords, self.factors):
            nodes = chebyshev_points(m, self.kind, d).numpy()
            at_nodes = torch.as_tensor(_spline(u, c, nodes, 0), dtype=self.weights.dtype, device=self.weights.device)
            coeff_factors.append(vals_to_coeffs(at_nodes, self.kind, dims=0))
        return self.weights, coeff_factors


def relative_tails(coeffs: torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]], fraction: float = 0.125) -> list[float]:
    """Per mode, ``‖C restricted to the last ⌈fraction·m⌉ (≥ 2) coefficients of that mode‖_F / ‖C‖_F``.

    For CP coefficients the norms are exact, from the factor Gram matrices (``m^d`` is never formed).
    """
    if isinstance(coeffs, torch.Tensor):
        total = torch.linalg.vector_norm(coeffs)
        tails = []
        for k, m in enumerate(coeffs.shape):
            block = torch.narrow(coeffs, k, m - _tail_length(m, fraction), _tail_length(m, fraction))
            tails.append(float(torch.linalg.vector_norm(block) / total) if total > 0 else 0.0)
        return tails
    weights, factors = coeffs
    grams = [f.mT @ f for f in factors]
    total = float((weights[:, None] * math.prod(grams) * weights[None, :]).sum())
    tails = []
    for k, f in enumerate(factors):
        t = f[f.shape[0] - _tail_length(f.shape[0], fraction):]
        others = math.prod(g for j, g in enumerate(grams) if j != k) if len(grams) > 1 else 1.0
        tail = float((weights[:, None] * (t.mT @ t) * others * weights[None, :]).sum())
        tails.append(math.sqrt(max(tail, 0.0) / total) if total > 0 else 0.0)
    return tails


def _tail_length(m: int, fraction: float) -> int:
    return min(m, max(2, math.ceil(fraction * m)))
