"""Classical decompositions: HOSVD, HOOI (Tucker-ALS), CP-ALS and TT-SVD, optionally masked.

Masked variants fit the observed entries only, by expectation–maximisation: unobserved entries are
filled with the current reconstruction before every sweep (they start at the observed mean). The
reported error is then the relative error on observed entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import as_tensor, check_choice, check_positive_float, check_positive_int, check_rank
from tensorkit.core.cp import CPTensor
from tensorkit.core.tenalg import khatri_rao, multi_mode_dot, unfold
from tensorkit.core.tt import TTTensor
from tensorkit.core.tucker import TuckerTensor

__all__ = ["cp_als", "eps_rank", "hooi", "hosvd", "tt_svd", "tucker_ranks_for_tol"]


def hosvd(x: torch.Tensor, rank: int | Sequence[int]) -> TuckerTensor:
    """Truncated higher-order SVD: leading left singular vectors of every unfolding, then the core."""
    x = _check_dense(x)
    ranks = check_rank(rank, x.shape)
    factors = [_leading_left_singular_vectors(unfold(x, k), r) for k, r in enumerate(ranks)]
    return TuckerTensor(multi_mode_dot(x, factors, transpose=True), factors)


def eps_rank(singular_values: torch.Tensor, budget: float) -> int:
    """Fewest leading singular values (at least one) whose discarded tail has norm ``≤ budget``."""
    tail = torch.cumsum(singular_values.flip(0) ** 2, 0).flip(0).sqrt()  # tail[r] = ‖s[r:]‖
    return max(1, int((tail > budget).sum()))


def tucker_ranks_for_tol(x: torch.Tensor, tol: float) -> tuple[int, ...]:
    """Smallest per-mode ranks whose discarded singular values satisfy the HOSVD error bound.

    Mode ``k`` keeps the fewest singular values such that the discarded tail has norm
    ``≤ tol·‖x‖/√K``; the truncated HOSVD then has relative error ``≤ tol`` (De Lathauwer et al., 2000).
    """
    x = _check_dense(x)
    tol = check_positive_float(tol, "tol")
    budget = tol * float(torch.linalg.vector_norm(x)) / math.sqrt(x.ndim)
    return tuple(eps_rank(torch.linalg.svdvals(unfold(x, k)), budget) for k in range(x.ndim))


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
        factors = hosvd(filled, ranks).factors
    else:
        gen = torch.Generator().manual_seed(seed)
        factors = [
            torch.linalg.qr(torch.randn(n, r, generator=gen, dtype=x.dtype).to(x.device))[0]
            for n, r in zip(x.shape, ranks)
        ]
    errors: list[float] = []
    for _ in range(n_iter_max):
        for k in range(x.ndim):
            others = [u for j, u in enumerate(factors) if j != k]
            projected = multi_mode_dot(filled, others, [j for j in range(x.ndim) if j != k], transpose=True)
            factors[k] = _leading_left_singular_vectors(unfold(projected, k), ranks[k])
        tucker = TuckerTensor(multi_mode_dot(filled, factors, transpose=True), factors)
        filled, error = _em_step(x, mask, filled, tucker)
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
            lead = _leading_left_singular_vectors(unfold(filled, k), min(rank, n))
            noise = torch.cat([lead, noise[:, lead.shape[1]:]], 1)
        factors.append(noise)
    weights = torch.ones(rank, dtype=x.dtype, device=x.device)
    errors: list[float] = []
    for _ in range(n_iter_max):
        for k in range(x.ndim):
            others = [u for j, u in enumerate(factors) if j != k]
            gram = torch.ones(rank, rank, dtype=x.dtype, device=x.device)
            for u in others:
                gram = gram * (u.mT @ u)
            mttkrp = unfold(filled, k) @ khatri_rao(others)
            factor = mttkrp @ torch.linalg.pinv(gram, hermitian=True)
            weights = torch.linalg.vector_norm(factor, dim=0)
            factors[k] = factor / torch.where(weights > 0, weights, torch.ones_like(weights))
        cp = CPTensor(weights, factors)
        filled, error = _em_step(x, mask, filled, cp)
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
        u, s, vh = torch.linalg.svd(rest.reshape(r_prev * n, -1), full_matrices=False)
        r = min(eps_rank(s, budget), max_ranks[k])
        cores.append(u[:, :r].reshape(r_prev, n, r))
        rest, r_prev = s[:r, None] * vh[:r], r
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


def _em_step(x: torch.Tensor, mask: torch.Tensor | None, filled: torch.Tensor, fit: Any) -> tuple[torch.Tensor, float]:
    """Relative error of ``fit`` (on observed entries) and the re-imputed tensor."""
    recon = fit.to_dense()
    if mask is None:
        err = torch.linalg.vector_norm(x - recon) / torch.linalg.vector_norm(x)
        return filled, float(err)
    err = torch.linalg.vector_norm((x - recon)[mask]) / torch.linalg.vector_norm(x[mask])
    return torch.where(mask, x, recon), float(err)


def _resolve_ranks(x: torch.Tensor, rank: Any, tol: float | None) -> tuple[int, ...]:
    if rank is None and tol is None:
        raise ValueError("give rank, tol or both")
    ranks = check_rank(rank, x.shape) if rank is not None else x.shape
    if tol is not None:
        ranks = tuple(min(r, t) for r, t in zip(ranks, tucker_ranks_for_tol(x, tol)))
    return tuple(ranks)


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


def _leading_left_singular_vectors(matrix: torch.Tensor, r: int) -> torch.Tensor:
    """Leading ``r`` left singular vectors, signs fixed so each column's largest entry is positive."""
    u = torch.linalg.svd(matrix, full_matrices=False)[0][:, :r]
    if u.shape[1] < r:
        raise ValueError(f"rank {r} exceeds the product of the other modes' sizes or ranks ({u.shape[1]})")
    pivot = u.gather(0, u.abs().argmax(0, keepdim=True))
    return u * torch.sign(pivot)
