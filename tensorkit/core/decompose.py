"""Classical decompositions: HOSVD, HOOI (Tucker-ALS), CP-ALS and TT-SVD, optionally masked.

Masked variants fit the observed entries only, by expectation–maximisation: unobserved entries are
filled with the current reconstruction before every sweep (they start at the observed mean). The
reported error is then the relative error on observed entries. The imputed tensor is rebuilt in
place of the previous one and compared with the data slab by slab, so a sweep holds about one dense
copy of the tensor besides the data and the mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import as_tensor, check_choice, check_positive_float, check_positive_int, check_rank
from tensorkit.core.cp import CPTensor
from tensorkit.core.dense import DenseTensor
from tensorkit.core.tenalg import khatri_rao, unfold
from tensorkit.core.truncation import column_signs, eps_rank, hooi_sweep, leading_left_singular_vectors, thin_svd, truncate
from tensorkit.core.tt import TTTensor
from tensorkit.core.tucker import TuckerTensor

__all__ = ["cp_als", "hooi", "hosvd", "tt_svd", "tucker_ranks_for_tol"]


def hosvd(x: torch.Tensor, rank: int | Sequence[int]) -> TuckerTensor:
    """Truncated higher-order SVD: leading left singular vectors of every unfolding, then the core."""
    x = _check_dense(x)
    return truncate(DenseTensor(x), rank=_core_ranks(rank, x.shape), accurate=False).tucker


def tucker_ranks_for_tol(x: torch.Tensor, tol: float) -> tuple[int, ...]:
    """Smallest per-mode ranks whose discarded singular values satisfy the HOSVD error bound.

    Mode ``k`` keeps the fewest singular values such that the discarded tail has norm
    ``≤ tol·‖x‖/√K``; the truncated HOSVD then has relative error ``≤ tol`` (De Lathauwer et al., 2000).
    """
    x = _check_dense(x)
    return truncate(DenseTensor(x), tol=check_positive_float(tol, "tol")).tucker.rank


def hooi(
    x: torch.Tensor,
    rank: int | Sequence[int] | None = None,
    tol: float | None = None,
    mask: torch.Tensor | None = None,
    n_iter_max: int = 100,
    tol_iter: float = 1e-10,
    init: str = "svd",
    seed: int = 0,
    return_errors: bool = False,
) -> TuckerTensor | tuple[TuckerTensor, list[float]]:
    """Tucker decomposition by higher-order orthogonal iteration (Tucker-ALS).

    Parameters
    ----------
    x : torch.Tensor
        Dense tensor. May hold NaN where ``mask`` is False.
    rank : int or sequence of int, optional
        Per-mode ranks (an int applies to every mode).
    tol : float, optional
        Relative error target: ranks are chosen by :func:`tucker_ranks_for_tol` (on the filled tensor
        when masked). Give ``rank`` or ``tol``; with both, the smaller rank per mode wins.
    mask : torch.Tensor of bool, optional
        True where ``x`` is observed; the fit uses observed entries only.
    n_iter_max : int
        Maximum number of sweeps.
    tol_iter : float
        Stop when the relative error changes by less than this between sweeps.
    init : {"svd", "random"}
        HOSVD initialisation, or random orthonormal factors drawn from ``seed``.
    seed : int
        Seed for ``init="random"``.
    return_errors : bool
        Also return the relative error after each sweep (on observed entries when masked).

    Returns
    -------
    TuckerTensor, or (TuckerTensor, list of float)
        Orthonormal factors and the core.
    """
    x, mask = _check_dense(x, mask), _check_mask(mask, x)
    n_iter_max = check_positive_int(n_iter_max, "n_iter_max")
    check_choice(init, "init", ("svd", "random"))
    filled = _initial_fill(x, mask)
    ranks = _resolve_ranks(filled, rank, tol)
    if init == "svd":
        factors = truncate(DenseTensor(filled), rank=ranks, accurate=False).tucker.factors
    else:
        gen = torch.Generator().manual_seed(seed)
        factors = [
            torch.linalg.qr(torch.randn(n, r, generator=gen, dtype=x.dtype).to(x.device))[0]
            for n, r in zip(x.shape, ranks)
        ]
    x_sq = _squared_norm(x) if mask is None else _observed_squared_norm(x, mask)
    errors: list[float] = []
    for _ in range(n_iter_max):
        tucker = hooi_sweep(DenseTensor(filled), factors)
        factors = tucker.factors
        core_sq = _squared_norm(tucker.core)  # = <x, tucker> = ||tucker||^2 (orthonormal factors)
        filled = None  # free the old imputation before the new one is formed
        filled, error = _em_step(x, mask, tucker, x_sq, core_sq, core_sq)
        errors.append(error)
        if len(errors) > 1 and abs(errors[-2] - errors[-1]) < tol_iter:
            break
    return (tucker, errors) if return_errors else tucker


def cp_als(
    x: torch.Tensor,
    rank: int,
    mask: torch.Tensor | None = None,
    n_iter_max: int = 100,
    tol: float = 1e-8,
    init: str = "svd",
    seed: int = 0,
    return_errors: bool = False,
) -> CPTensor | tuple[CPTensor, list[float]]:
    """CP decomposition by alternating least squares.

    Parameters
    ----------
    x : torch.Tensor
        Dense tensor; may hold NaN where ``mask`` is False.
    rank : int
        Number of components.
    mask : torch.Tensor of bool, optional
        True where observed; unobserved entries are imputed by EM.
    n_iter_max : int
        Maximum number of sweeps.
    tol : float
        Stop when the relative error changes by less than this between sweeps.
    init : {"svd", "random"}
        Leading singular vectors of the unfoldings (padded with seeded noise when ``rank`` exceeds a
        mode's size), or seeded Gaussian factors.
    seed : int
        Seed of every random draw.
    return_errors : bool
        Also return the relative error after each sweep.

    Returns
    -------
    CPTensor, or (CPTensor, list of float)
        Unit-norm factor columns and the weights.
    """
    x, mask = _check_dense(x, mask), _check_mask(mask, x)
    rank = check_positive_int(rank, "rank")
    n_iter_max = check_positive_int(n_iter_max, "n_iter_max")
    check_choice(init, "init", ("svd", "random"))
    gen = torch.Generator().manual_seed(seed)
    filled = _initial_fill(x, mask)
    factors = []
    for k, n in enumerate(x.shape):
        noise = torch.randn(n, rank, generator=gen, dtype=x.dtype).to(x.device)
        if init == "svd":
            lead = leading_left_singular_vectors(unfold(filled, k), min(rank, n))
            noise = torch.cat([lead, noise[:, lead.shape[1]:]], 1)
        factors.append(noise)
    x_sq = _squared_norm(x) if mask is None else _observed_squared_norm(x, mask)
    errors: list[float] = []
    for _ in range(n_iter_max):
        right = _right_contractions(filled, factors)
        for k in range(x.ndim):
            gram = torch.ones(rank, rank, dtype=x.dtype, device=x.device)
            for j, u in enumerate(factors):
                if j != k:
                    gram = gram * (u.mT @ u)
            mttkrp = _mttkrp(filled, factors, k, right[k])
            factor = mttkrp @ torch.linalg.pinv(gram, hermitian=True)
            weights = torch.linalg.vector_norm(factor, dim=0)
            factors[k] = factor / torch.where(weights > 0, weights, torch.ones_like(weights))
        cp = CPTensor(weights, factors)
        # <x, cp> and ||cp||^2 from the last mode's MTTKRP and Gram matrix
        inner, cp_sq = (mttkrp * factor).sum(), (gram * (factor.mT @ factor)).sum()
        right = filled = None  # free the old imputation before the new one is formed
        filled, error = _em_step(x, mask, cp, x_sq, inner, cp_sq)
        errors.append(error)
        if len(errors) > 1 and abs(errors[-2] - errors[-1]) < tol:
            break
    return (cp, errors) if return_errors else cp


def tt_svd(x: torch.Tensor, rank: int | Sequence[int] | None = None, tol: float | None = None) -> TTTensor:
    """Tensor-train decomposition by sequential truncated SVDs (Oseledets, 2011).

    Parameters
    ----------
    x : torch.Tensor
        Dense tensor with ``K ≥ 2`` modes.
    rank : int or sequence of int, optional
        Maximum TT rank (int), or the ``K-1`` inner ranks (or all ``K+1`` with ones at both ends).
    tol : float, optional
        Relative error target: each of the ``K-1`` SVDs discards a tail of norm ``≤ tol·‖x‖/√(K-1)``.

    Returns
    -------
    TTTensor
        Left-orthonormal cores; each SVD's singular vectors are signed so that the largest entry of
        every left vector is positive (tensorly's convention).
    """
    x = _check_dense(x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 modes for tt_svd, got {x.ndim}")
    if rank is None and tol is None:
        raise ValueError("give rank, tol or both")
    max_ranks = _tt_max_ranks(rank, x.ndim)
    budget = 0.0 if tol is None else check_positive_float(tol, "tol") * float(torch.linalg.vector_norm(x)) / math.sqrt(x.ndim - 1)
    cores, rest, r_prev = [], x, 1
    for k, n in enumerate(x.shape[:-1]):
        u, s, vh = thin_svd(rest.reshape(r_prev * n, -1))
        r = min(eps_rank(s, budget), max_ranks[k])
        sign = column_signs(u[:, :r])
        cores.append((u[:, :r] * sign).reshape(r_prev, n, r))
        rest, r_prev = (sign * s[:r]).mT * vh[:r], r
    cores.append(rest.reshape(r_prev, x.shape[-1], 1))
    return TTTensor(cores)


def _check_dense(x: Any, mask: torch.Tensor | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    return as_tensor(x, "x", allow_nan=mask is not None)


def _check_mask(mask: Any, x: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if mask.shape != x.shape:
        raise ValueError(f"mask must have x's shape {tuple(x.shape)}, got {tuple(mask.shape)}")
    mask = mask.to(x.device)
    if not mask.any():
        raise ValueError("mask has no observed (True) entries")
    if torch.isnan(x[mask]).any():
        raise ValueError("x contains NaN at observed entries (where mask is True)")
    return mask


def _initial_fill(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x
    return torch.where(mask, x, x[mask].mean())


def _em_step(
    x: torch.Tensor,
    mask: torch.Tensor | None,
    fit: Any,
    x_sq: torch.Tensor,
    inner: torch.Tensor,
    fit_sq: torch.Tensor,
) -> tuple[torch.Tensor, float]:
    """Relative error of ``fit`` (on observed entries) and the re-imputed tensor (``x`` unmasked).

    Parameters
    ----------
    x, mask : torch.Tensor
        Data and observation mask (None: fully observed).
    fit : TensorFormat
        The current decomposition.
    x_sq, inner, fit_sq : torch.Tensor
        ``‖x‖²`` (on observed entries when masked), ``⟨x, fit⟩`` and ``‖fit‖²`` (the last two are
        used unmasked only).

    Notes
    -----
    Unmasked, ``‖x − fit‖² = ‖x‖² − 2⟨x, fit⟩ + ‖fit‖²`` gives the error without reconstructing
    ``fit``. The identity loses about ``log10(‖x‖² / ‖x − fit‖²)`` digits to cancellation, so when
    the relative squared error falls below ``√eps`` the dense residual is used instead. Masked, the
    reconstruction is the new imputed tensor: observed entries are overwritten with the data slab
    by slab, so the only dense temporary is the reconstruction itself.
    """
    if mask is None:
        rel_sq = float((x_sq - 2 * inner + fit_sq) / x_sq)
        if rel_sq >= torch.finfo(x.dtype).eps ** 0.5:
            return x, math.sqrt(rel_sq)
        return x, float(torch.linalg.vector_norm(x - fit.to_dense()) / x_sq.sqrt())
    filled = fit.to_dense()
    residual_sq = x.new_zeros(())
    for rows in _slabs(x):
        observed, data, recon = mask[rows], x[rows], filled[rows]
        residual_sq += torch.linalg.vector_norm((data - recon)[observed]) ** 2
        filled[rows] = torch.where(observed, data, recon)
    return filled, float((residual_sq / x_sq).sqrt())


def _slabs(x: torch.Tensor, entries: int = 1 << 20) -> list[slice]:
    """Blocks of the first mode holding about ``entries`` entries of ``x`` each (at least one row)."""
    step = max(1, entries // max(x[0].numel(), 1)) if x.ndim else 1
    return [slice(i, i + step) for i in range(0, x.shape[0], step)]


def _observed_squared_norm(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``‖x[mask]‖²``, slab by slab (no compacted copy of the observed entries)."""
    return sum(torch.linalg.vector_norm(x[rows][mask[rows]]) ** 2 for rows in _slabs(x))


def _squared_norm(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x) ** 2


def _right_contractions(x: torch.Tensor, factors: Sequence[torch.Tensor]) -> list[torch.Tensor | None]:
    """``out[k]`` is ``x`` contracted over the modes after ``k`` with ``khatri_rao(factors[k+1:])``.

    ``out[k]`` has shape ``(n_0 ⋯ n_k, rank)``; ``out[K-1]`` is None (nothing to contract). Each is one
    cheap step from the next, so a CP sweep reads all of ``x`` only twice.
    """
    out: list[torch.Tensor | None] = [None] * x.ndim
    if x.ndim > 1:
        out[-2] = x.reshape(-1, x.shape[-1]) @ factors[-1]
    for k in range(x.ndim - 3, -1, -1):
        out[k] = torch.einsum("lnr,nr->lr", out[k + 1].reshape(-1, x.shape[k + 1], out[k + 1].shape[1]), factors[k + 1])
    return out


def _mttkrp(x: torch.Tensor, factors: Sequence[torch.Tensor], mode: int, right: torch.Tensor | None) -> torch.Tensor:
    """``unfold(x, mode) @ khatri_rao(factors without mode)`` without a permuted copy of ``x``.

    ``right`` is ``_right_contractions(x, factors)[mode]``, computed with the current ``factors[mode+1:]``.
    """
    n, left = x.shape[mode], factors[:mode]
    if right is None:
        return x.reshape(-1, n).mT @ khatri_rao(left)
    right = right.reshape(-1, n, right.shape[1])
    return torch.einsum("lnr,lr->nr", right, khatri_rao(left)) if left else right[0]


def _resolve_ranks(x: torch.Tensor, rank: Any, tol: float | None) -> tuple[int, ...]:
    if rank is None and tol is None:
        raise ValueError("give rank, tol or both")
    ranks = _core_ranks(rank, x.shape) if rank is not None else x.shape
    if tol is not None:
        ranks = tuple(min(r, t) for r, t in zip(ranks, tucker_ranks_for_tol(x, tol)))
    return tuple(ranks)


def _core_ranks(rank: Any, shape: Sequence[int]) -> tuple[int, ...]:
    """Checked Tucker ranks: one per mode, each at most its mode's size and the product of the other sizes."""
    ranks = check_rank(rank, shape)
    for k, r in enumerate(ranks):
        others = math.prod(shape) // shape[k]
        if r > others:
            raise ValueError(f"rank {r} exceeds the product of the other modes' sizes or ranks ({others})")
    return ranks


def _tt_max_ranks(rank: Any, ndim: int) -> list[int]:
    if rank is None:
        return [math.inf] * (ndim - 1)  # type: ignore[list-item]
    if isinstance(rank, int) and not isinstance(rank, bool):
        return [check_positive_int(rank, "rank")] * (ndim - 1)
    ranks = list(rank)
    if len(ranks) == ndim + 1:
        if ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"rank with {ndim + 1} entries must start and end with 1, got {ranks}")
        ranks = ranks[1:-1]
    if len(ranks) != ndim - 1:
        raise ValueError(f"rank must have {ndim - 1} inner entries (or {ndim + 1} with the ones), got {len(ranks)}")
    return [check_positive_int(r, f"rank[{k}]") for k, r in enumerate(ranks)]
