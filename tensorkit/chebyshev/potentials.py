"""Range-separated (RS) canonical representations of the Newton kernel ``1/|x|`` and of charge sums.

``1/ρ = (2/√π) ∫_0^∞ e^{−ρ²t²} dt``; with ``t = sinh(u)`` and the sinc (trapezoidal) rule of step ``h``
folded by symmetry, ``1/ρ ≈ Σ_{k=0}^{M} a_k e^{−t_k²ρ²}``, ``t_k = sinh(kh)``, ``a_0 = h/√π``,
``a_k = 2h·cosh(kh)/√π``. Each term is separable, so the kernel is a canonical (CP) tensor. The
long-range part keeps the broad Gaussians (``t_k ≤ t_cut``); summed, it approximates the smooth
``erf(t_cut·ρ)/ρ``. Factors on a grid are **cell averages** of ``e^{−t²x²}`` (the Galerkin projection
used by the reference data), built from the formula rather than from shipped columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from tensorkit._validation import as_tensor, check_positive_float, check_positive_int
from tensorkit.chebyshev.sources import uniform_grid
from tensorkit.core import CPTensor

__all__ = [
    "sinc_quadrature",
    "long_range_part",
    "gaussian_sum",
    "cell_averaged_gaussians",
    "newton_kernel_cp",
    "charges_long_range_cp",
    "lattice_positions",
]


def sinc_quadrature(n_terms: int, step: float, *, dtype: torch.dtype = torch.float64, device=None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exponents ``t_k = sinh(k·step)`` and weights ``a_k`` (k < n_terms) of ``1/ρ ≈ Σ a_k e^{−t_k²ρ²}``."""
    n_terms = check_positive_int(n_terms, "n_terms")
    step = check_positive_float(step, "step")
    k = torch.arange(n_terms, dtype=dtype, device=device)
    t = torch.sinh(k * step)
    a = 2.0 * step * torch.cosh(k * step) / math.sqrt(math.pi)
    a[0] = step / math.sqrt(math.pi)
    return t, a


def long_range_part(t: torch.Tensor, a: torch.Tensor, *, t_cut: float | None = None, n_long: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The RS long-range terms: those with ``t_k ≤ t_cut``, or the first ``n_long`` (give exactly one)."""
    if (t_cut is None) == (n_long is None):
        raise ValueError("give exactly one of t_cut and n_long")
    keep = t <= check_positive_float(t_cut, "t_cut") if t_cut is not None else (
        torch.arange(len(t), device=t.device) < check_positive_int(n_long, "n_long"))
    return t[keep], a[keep]


def gaussian_sum(t: torch.Tensor, a: torch.Tensor, centres: torch.Tensor | None = None,
                 charges: torch.Tensor | None = None) -> Callable[..., torch.Tensor]:
    """The vectorised function ``(x, y, z, …) ↦ Σ_ν q_ν Σ_k a_k e^{−t_k²|x − c_ν|²}`` (Chebfun calling convention).

    Without ``centres`` it is the single kernel centred at 0 (e.g. the analytic long-range Newton part).
    """
    def f(*xs: torch.Tensor) -> torch.Tensor:
        if centres is None:
            r2 = sum(x**2 for x in xs)[..., None]
            return (a * torch.exp(-(t**2) * r2)).sum(-1)
        out = 0
        for c, q in zip(centres, charges):  # one broadcast pass per charge: memory stays at one grid
            r2 = sum((x - ci) ** 2 for x, ci in zip(xs, c))[..., None]
            out = out + q * (a * torch.exp(-(t**2) * r2)).sum(-1)
        return out
    return f


def cell_averaged_gaussians(centres: np.ndarray, t: np.ndarray, h: float) -> np.ndarray:
    """``(1/h)∫_{x−h/2}^{x+h/2} e^{−t_k²s²} ds`` at cell centres ``x``: an ``(n, K)`` array (``t_k = 0`` gives 1)."""
    from scipy.special import erf

    x = np.asarray(centres, dtype=float)[:, None]
    t = np.asarray(t, dtype=float)[None, :]
    safe = np.where(t > 0, t, 1.0)
    avg = math.sqrt(math.pi) / (2 * safe * h) * (erf(safe * (x + h / 2)) - erf(safe * (x - h / 2)))
    return np.where(t > 0, avg, 1.0)


def newton_kernel_cp(n: int, t: torch.Tensor, a: torch.Tensor, domain: tuple[float, float] = (-1.0, 1.0),
                     ndim: int = 3) -> CPTensor:
    """The cell-averaged CP tensor of ``Σ_k a_k e^{−t_k²|x|²}`` on the ``n^ndim`` cell-centred grid."""
    n = check_positive_int(n, "n")
    h = (domain[1] - domain[0]) / n
    factor = torch.as_tensor(cell_averaged_gaussians(uniform_grid(n, domain), t.cpu().numpy(), h),
                             dtype=t.dtype, device=t.device)
    return CPTensor(a.clone(), [factor] * ndim)


def charges_long_range_cp(positions: torch.Tensor, charges: torch.Tensor, n: int, t: torch.Tensor,
                          a: torch.Tensor, domain: tuple[float, float] = (-1.0, 1.0)) -> CPTensor:
    """Cell-averaged CP tensor of ``Σ_ν q_ν Σ_k a_k e^{−t_k²|x − x_ν|²}`` (CP rank ``N·K``), for the CP path.

    Use long-range ``(t, a)`` (see :func:`long_range_part`): the short-range part stays in RS form.
    """
    positions = as_tensor(positions, "positions", dtype=t.dtype, ndim=2).cpu().numpy()
    charges = as_tensor(charges, "charges", dtype=t.dtype, ndim=1)
    if len(charges) != len(positions):
        raise ValueError(f"charges has {len(charges)} entries, positions {len(positions)}")
    h = (domain[1] - domain[0]) / n
    grid = uniform_grid(n, domain)
    tk = t.cpu().numpy()
    factors = []
    for ell in range(positions.shape[1]):
        shifted = grid[:, None] - positions[:, ell][None, :]  # (n, N)
        flat = cell_averaged_gaussians(shifted.reshape(-1), tk, h).reshape(n, -1)  # (n, N·K), ν slowest
        factors.append(torch.as_tensor(flat, dtype=t.dtype, device=t.device))
    weights = (charges.to(t.device)[:, None] * a[None, :]).reshape(-1)
    return CPTensor(weights, factors)


def lattice_positions(counts: Sequence[int], spacing: float, centre: Sequence[float] | None = None) -> torch.Tensor:
    """Points of a rectangular lattice with ``counts[ℓ]`` sites and ``spacing`` per axis, centred on ``centre``."""
    counts = [check_positive_int(c, f"counts[{k}]") for k, c in enumerate(counts)]
    spacing = check_positive_float(spacing, "spacing")
    centre = [0.0] * len(counts) if centre is None else list(centre)
    axes = [torch.arange(c, dtype=torch.float64) * spacing - (c - 1) * spacing / 2 + o for c, o in zip(counts, centre)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(counts))
