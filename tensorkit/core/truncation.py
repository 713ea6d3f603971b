"""Rank truncation of a tensor, given dense or as a CP tensor, to a tolerance or to fixed ranks.

Chebyshev–Tucker truncates its coefficient tensors here; unlike :func:`~tensorkit.core.hosvd`
(whose factors may come from the Gram matrix, fast and sign-fixed) every singular value is computed
accurately, since the tolerance rule reads the tails of the spectra.

One rule for every input (:func:`eps_rank`): mode ``ℓ`` keeps the fewest singular values whose
discarded tail has norm ``≤ tol·‖C‖_F/√d``, so the truncated HOSVD has ``‖C − C_r‖_F ≤ tol·‖C‖_F``.
Unfolding SVDs go through a QR of the tall transposed unfolding (never the Gram-eigh shortcut, whose
singular values lose accuracy below ~1e-8 relative). For CP input the exact modal singular values are
obtained from the QR-reduced core, without forming the ``m^d`` coefficient tensor. ``"rhosvd"`` is the
reference code's rule (absolute tail ``tol/d`` on the unweighted CP factors), kept for parity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tensorkit.core.decompose import eps_rank
from tensorkit.core.tenalg import khatri_rao, multi_mode_dot, unfold

__all__ = ["TruncatedTucker", "modal_svd", "truncate_dense", "truncate_cp", "cp_core", "hooi_cp"]

# Largest reduced CP core (entries) formed for exact modal SVDs; beyond it the CP-Gram route is used.
_MAX_REDUCED_CORE = 1 << 24


class TruncatedTucker:
    """Result of a truncation: ``core``, orthonormal ``factors``, modal singular values and the bound."""

    def __init__(self, core: torch.Tensor, factors: list[torch.Tensor], singular_values: list[torch.Tensor],
                 relative_error_bound: float) -> None:
        self.core = core
        self.factors = factors
        self.singular_values = singular_values
        self.relative_error_bound = relative_error_bound


# Entries of the tensor copied per QR call when the unfolding is factored slab by slab (256 KiB in float64;
# at least 8·m² so each step's new rows outnumber the carried R eightfold and TSQR costs few extra flops).
_QR_BLOCK_ENTRIES = 1 << 15


def modal_svd(x: torch.Tensor, mode: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left singular vectors and singular values of the mode-``mode`` unfolding, via QR then SVD."""
    m = x.shape[mode]
    if x.numel() > m * m:  # wide unfolding
        r = _unfolding_r(x, mode)  # unfolding = rᵀ qᵀ: same left vectors and singular values as rᵀ
        u, s, _ = torch.linalg.svd(r.mT, full_matrices=False)
    else:
        u, s, _ = torch.linalg.svd(unfold(x, mode), full_matrices=False)
    return u, s


def _unfolding_r(x: torch.Tensor, mode: int) -> torch.Tensor:
    """R factor of a QR of the transposed mode-``mode`` unfolding.

    Large tensors are factored slab by slab along another mode (TSQR: ``R ← qr([R; next columns])``),
    so no full-size unfolding or QR workspace is formed. The column order of an unfolding does not
    change its left singular vectors or singular values, so the slabs may come in any order.
    """
    block = max(_QR_BLOCK_ENTRIES, 8 * x.shape[mode] ** 2)
    if x.numel() <= 2 * block or x.ndim < 2:
        return torch.linalg.qr(unfold(x, mode).mT, mode="r")[1]
    along = max((k for k in range(x.ndim) if k != mode), key=lambda k: x.shape[k])
    size, m = x.shape[along], x.shape[mode]
    step = max(1, block * size // x.numel())
    r = None
    for start in range(0, size, step):
        slab = torch.movedim(x.narrow(along, start, min(step, size - start)), mode, -1)  # (..., m) view
        rows = slab.numel() // m
        top = 0 if r is None else r.shape[0]
        stacked = torch.empty(top + rows, m, dtype=x.dtype, device=x.device)  # [R; next columns], one copy
        if r is not None:
            stacked[:top] = r
        stacked[top:].view(slab.shape).copy_(slab)
        r = torch.linalg.qr(stacked, mode="r")[1]
    return r


def _select(us: list[torch.Tensor], svals: list[torch.Tensor], norm: float, tol: float | None,
            rank: Sequence[int] | None, rule: str) -> tuple[list[torch.Tensor], float]:
    d = len(us)
    if rank is not None:
        ranks = [min(int(r), u.shape[1]) for r, u in zip(rank, us)]
    elif rule == "rhosvd":
        ranks = [eps_rank(s, tol / d) for s in svals]
    else:
        ranks = [eps_rank(s, tol * norm / math.sqrt(d)) for s in svals]
    discarded = math.sqrt(sum(float((s[r:] ** 2).sum()) for s, r in zip(svals, ranks)))
    return [u[:, :r] for u, r in zip(us, ranks)], discarded / norm if norm > 0 else 0.0


def truncate_dense(coeffs: torch.Tensor, tol: float | None = None, rank: Sequence[int] | None = None) -> TruncatedTucker:
    """Truncated HOSVD of a dense coefficient tensor (relative rule, or fixed ``rank``)."""
    pairs = [modal_svd(coeffs, k) for k in range(coeffs.ndim)]
    us, svals = [p[0] for p in pairs], [p[1] for p in pairs]
    norm = float(torch.linalg.vector_norm(coeffs))
    factors, bound = _select(us, svals, norm, tol, rank, "relative")
    return TruncatedTucker(multi_mode_dot(coeffs, factors, transpose=True), factors, svals, bound)


def cp_core(weights: torch.Tensor, factors: Sequence[torch.Tensor], projections: Sequence[torch.Tensor]) -> torch.Tensor:
    """``Σ_ν w_ν ⊗_ℓ (P_ℓᵀ f_ℓν)``: the Tucker core of a CP tensor projected on ``P_ℓ`` (one Khatri–Rao GEMM)."""
    small = [p.mT @ f for p, f in zip(projections, factors)]  # (r_ℓ, R)
    shape = [s.shape[0] for s in small]
    if len(small) == 1:
        return small[0] @ weights
    return ((small[0] * weights) @ khatri_rao(small[1:]).mT).reshape(shape)


def _cp_modal_svd(weights: torch.Tensor, factors: Sequence[torch.Tensor]) -> tuple[list, list, float]:
    """Exact modal SVDs of a CP tensor, through QR-reduced factors (or the CP Gram when too large)."""
    qrs = [torch.linalg.qr(f) for f in factors]
    reduced_shape = [r.shape[0] for _, r in qrs]
    if math.prod(reduced_shape) <= _MAX_REDUCED_CORE:
        eye = [torch.eye(k, dtype=weights.dtype, device=weights.device) for k in reduced_shape]
        small = cp_core(weights, [r for _, r in qrs], eye)
        pairs = [modal_svd(small, k) for k in range(small.ndim)]
        us = [q @ u for (q, _), (u, _) in zip(qrs, pairs)]
        return us, [s for _, s in pairs], float(torch.linalg.vector_norm(small))
    grams = [f.mT @ f for f in factors]
    us, svals = [], []
    for k, f in enumerate(factors):
        hadamard = math.prod(g for j, g in enumerate(grams) if j != k)
        inner = weights[:, None] * hadamard * weights[None, :]
        w, q = torch.linalg.eigh(inner)
        u, s, _ = torch.linalg.svd(f @ (q * w.clamp_min(0).sqrt()), full_matrices=False)
        us.append(u)
        svals.append(s)
    norm = float((weights[:, None] * math.prod(grams) * weights[None, :]).sum().clamp_min(0).sqrt())
    return us, svals, norm


def truncate_cp(weights: torch.Tensor, factors: Sequence[torch.Tensor], tol: float | None = None,
                rank: Sequence[int] | None = None, rule: str = "hosvd") -> TruncatedTucker:
    """Tucker truncation of the CP coefficient tensor ``Σ_ν w_ν ⊗_ℓ f_ℓν`` without forming it.

    ``rule="hosvd"`` uses the exact modal singular values and the relative rule; ``rule="rhosvd"`` the
    reference code's RHOSVD (SVDs of the unweighted factors, absolute tail ``tol/d``).
    """
    if rule != "rhosvd":
        us, svals, norm = _cp_modal_svd(weights, factors)
        selected, bound = _select(us, svals, norm, tol, rank, rule)
        return TruncatedTucker(cp_core(weights, factors, selected), selected, svals, bound)
    pairs = [torch.linalg.svd(f, full_matrices=False)[:2] for f in factors]
    us, svals = [p[0] for p in pairs], [p[1] for p in pairs]
    selected, _ = _select(us, svals, 1.0, tol, rank, rule)
    core = cp_core(weights, factors, selected)
    # C_r is the orthogonal projection of C, so ‖C − C_r‖² = ‖C‖² − ‖G‖² (accurate to ~1e-8 relative)
    norm2 = float((weights[:, None] * math.prod(f.mT @ f for f in factors) * weights[None, :]).sum())
    gap = max(norm2 - float((core**2).sum()), 0.0)
    return TruncatedTucker(core, selected, svals, math.sqrt(gap / norm2) if norm2 > 0 else 0.0)


def hooi_cp(weights: torch.Tensor, factors: Sequence[torch.Tensor], init: Sequence[torch.Tensor],
            n_iter: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``n_iter`` HOOI sweeps at fixed ranks on a CP tensor, from orthonormal ``init`` factors.

    The mode-ℓ update takes the leading left singular vectors of ``f_ℓ diag(w) ⊙_{j≠ℓ}(P_jᵀ f_j)ᵀ``,
    an ``m_ℓ × Π_{j≠ℓ} r_j`` matrix; the ``m^d`` tensor is never formed.
    """
    proj = list(init)
    for _ in range(n_iter):
        for k, f in enumerate(factors):
            others = [p.mT @ g for j, (p, g) in enumerate(zip(proj, factors)) if j != k]
            mat = (f * weights) @ khatri_rao(others).mT if others else (f * weights)[:, None]
            u, _ = modal_svd(mat, 0)
            proj[k] = u[:, : proj[k].shape[1]]
    return cp_core(weights, factors, proj), proj
