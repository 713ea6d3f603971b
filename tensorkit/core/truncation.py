"""The one truncated HOSVD and HOOI sweep of the core, for any format, to a tolerance or to fixed ranks.

:func:`~tensorkit.core.hosvd`, :func:`~tensorkit.core.hooi`, :func:`~tensorkit.core.tucker_ranks_for_tol`
and Chebyshev–Tucker all truncate here. Every modal singular value is computed accurately, since the
tolerance rule reads the tails of the spectra: unfolding SVDs go through a QR of the tall transposed
unfolding, factored slab by slab for large tensors (never the Gram-eigh shortcut, whose singular values
lose accuracy below ~1e-8 relative). A CP tensor's exact modal singular values come from its QR-reduced
core, without forming the ``m^d`` tensor.

One rule for every input (:func:`eps_rank`): mode ``ℓ`` keeps the fewest singular values whose discarded
tail has norm ``≤ tol·‖C‖_F/√d``, so the truncated HOSVD has ``‖C − C_r‖_F ≤ tol·‖C‖_F``. ``"rhosvd"``
(CP input) is the Chebyshev–Tucker reference code's rule (absolute tail ``tol/d`` on the SVDs of the
unweighted CP factors), kept for parity. Factor columns are signed so that their largest entry is
positive (tensorly's convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tensorkit.core.cp import CPTensor
from tensorkit.core.format import TensorFormat
from tensorkit.core.tenalg import unfold
from tensorkit.core.tucker import TuckerTensor

__all__ = ["TruncatedTucker", "column_signs", "eps_rank", "hooi_sweep", "leading_left_singular_vectors", "modal_svd",
           "thin_svd", "truncate"]

# Largest reduced CP core (entries) formed for exact modal SVDs; beyond it the CP-Gram route is used.
_MAX_REDUCED_CORE = 1 << 24

# Entries of the tensor copied per QR call when the unfolding is factored slab by slab (256 KiB in float64;
# at least 8·m² so each step's new rows outnumber the carried R eightfold and TSQR costs few extra flops).
_QR_BLOCK_ENTRIES = 1 << 15


class TruncatedTucker:
    """Result of :func:`truncate`: the ``tucker`` tensor, modal singular values and the relative error bound."""

    def __init__(self, tucker: TuckerTensor, singular_values: list[torch.Tensor], relative_error_bound: float) -> None:
        self.tucker = tucker
        self.singular_values = singular_values
        self.relative_error_bound = relative_error_bound


def eps_rank(singular_values: torch.Tensor, budget: float) -> int:
    """Fewest leading singular values (at least one) whose discarded tail has norm ``≤ budget``."""
    tail = torch.cumsum(singular_values.flip(0) ** 2, 0).flip(0).sqrt()  # tail[r] = ‖s[r:]‖
    return max(1, int((tail > budget).sum()))


def truncate(x: TensorFormat, rank: Sequence[int] | None = None, tol: float | None = None,
             rule: str = "hosvd", accurate: bool = True) -> TruncatedTucker:
    """Truncated HOSVD of a format: orthonormal factors from its modal SVDs, the core by projection.

    Parameters
    ----------
    x : TensorFormat
        The tensor: a :class:`~tensorkit.core.DenseTensor`, a :class:`~tensorkit.core.CPTensor` or
        :class:`~tensorkit.core.TuckerTensor` (non-orthonormal factors allowed; neither is formed), or any
        format through its dense oracle.
    rank : sequence of int, optional
        Per-mode ranks (capped at the modal ranks when ``accurate``).
    tol : float, optional
        Relative error target. With ``rank`` too, the smaller rank per mode wins.
    rule : {"hosvd", "rhosvd"}
        The relative rule above, or the reference code's RHOSVD rule (CP input only; its bound is the
        exact ``(‖C‖² − ‖G‖²)^{1/2}/‖C‖``).
    accurate : bool
        False (fixed ``rank`` only): the factors of wide unfoldings may come from the Gram matrix when
        the kept spectrum is well conditioned (:func:`leading_left_singular_vectors`, several times
        faster); singular values are then accurate to about 1e-8 relative.
    """
    if rule == "rhosvd":
        if not isinstance(x, CPTensor):
            raise ValueError(f"rule='rhosvd' applies to CP input only, got {type(x).__name__}")
        pairs = [torch.linalg.svd(f, full_matrices=False)[:2] for f in x.factors]
        budget = None if tol is None else tol / x.ndim
    elif accurate:
        pairs, norm = _modal_svds(x)
        budget = None if tol is None else tol * norm / math.sqrt(x.ndim)
    else:
        if rank is None or tol is not None:
            raise ValueError("accurate=False takes fixed ranks only (rank, no tol)")
        dense = x.to_dense()
        pairs = [_leading_pair(unfold(dense, k), r) for k, r in enumerate(rank)]
        norm, budget = float(torch.linalg.vector_norm(dense)), None
    us, svals = [p[0] for p in pairs], [p[1] for p in pairs]
    ranks = [s.shape[0] for s in svals]
    if rank is not None:
        ranks = [min(int(r), m) for r, m in zip(rank, ranks)]
    if budget is not None:
        ranks = [min(r, eps_rank(s, budget)) for r, s in zip(ranks, svals)]
    factors = [u[:, :r] * column_signs(u[:, :r]) for u, r in zip(us, ranks)]
    tucker = TuckerTensor(_project(x, factors), factors)
    if rule == "rhosvd":
        # C_r is the orthogonal projection of C, so ‖C − C_r‖² = ‖C‖² − ‖G‖² (accurate to ~1e-8 relative)
        norm2 = float(x.norm() ** 2)
        gap = max(norm2 - float((tucker.core**2).sum()), 0.0)
        return TruncatedTucker(tucker, svals, math.sqrt(gap / norm2) if norm2 > 0 else 0.0)
    discarded = math.sqrt(sum(float((s[r:] ** 2).sum()) for s, r in zip(svals, ranks)))
    return TruncatedTucker(tucker, svals, discarded / norm if norm > 0 else 0.0)


def hooi_sweep(x: TensorFormat, factors: Sequence[torch.Tensor]) -> TuckerTensor:
    """One HOOI (Tucker-ALS) sweep at fixed ranks from orthonormal ``factors``; returns the new Tucker tensor.

    Mode ``k`` takes the leading left singular vectors of ``x ×_{j≠k} U_jᵀ`` unfolded; the projections over
    the later modes are shared (``suffix[k] = x ×_{j>k} U_jᵀ``), and every product is the format's own
    (for a CP tensor, the ``m^d`` tensor is never formed).
    """
    factors = list(factors)
    suffix = [x]
    for j in range(x.ndim - 1, 0, -1):
        suffix.insert(0, suffix[0].mode_product(factors[j].mT, j))
    for k in range(x.ndim):
        projected = suffix[k]
        for j in range(k):
            projected = projected.mode_product(factors[j].mT, j)
        factors[k] = leading_left_singular_vectors(unfold(projected.to_dense(), k), factors[k].shape[1])
    # the last projection skipped only the last mode, so the core is one mode product away
    return TuckerTensor(projected.mode_product(factors[-1].mT, x.ndim - 1).to_dense(), factors)


def modal_svd(x: torch.Tensor, mode: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left singular vectors and singular values of the mode-``mode`` unfolding, via QR then SVD."""
    m = x.shape[mode]
    if x.numel() > m * m:  # wide unfolding
        r = _unfolding_r(x, mode)  # unfolding = rᵀ qᵀ: same left vectors and singular values as rᵀ
        u, s, _ = torch.linalg.svd(r.mT, full_matrices=False)
    else:
        u, s, _ = torch.linalg.svd(unfold(x, mode), full_matrices=False)
    return u, s


def leading_left_singular_vectors(matrix: torch.Tensor, r: int, amplification: float = 10.0) -> torch.Tensor:
    """Leading ``r`` left singular vectors, signs fixed so each column's largest entry is positive.

    Parameters
    ----------
    matrix : torch.Tensor
        An ``(m, n)`` matrix.
    r : int
        Number of vectors, at most ``min(m, n)``.
    amplification : float
        For a wide matrix (``n ≥ 2m``) the vectors come from the eigendecomposition of the ``m × m``
        Gram matrix ``A Aᵀ``, much cheaper than an SVD. Squaring the matrix multiplies the error bound
        of the leading subspace by about ``σ_1 / (σ_r + σ_{r+1})``; when that exceeds
        ``amplification`` the exact SVD is used instead.
    """
    return _leading_pair(matrix, r, amplification)[0]


def _leading_pair(matrix: torch.Tensor, r: int, amplification: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`leading_left_singular_vectors` and every singular value (from the Gram matrix when it was used)."""
    m, n = matrix.shape
    if r > min(m, n):
        raise ValueError(f"rank {r} exceeds the product of the other modes' sizes or ranks ({min(m, n)})")
    if n >= 2 * m:
        evals, evecs = torch.linalg.eigh(matrix @ matrix.mT)
        s = evals.flip(0).clamp_min(0).sqrt()
        if s[0] <= amplification * (s[r - 1] + (s[r] if r < m else 0)):
            u = evecs[:, m - r:].flip(1)
            return u * column_signs(u), s
    u, s, _ = thin_svd(matrix)
    u = u[:, :r]
    return u * column_signs(u), s


def thin_svd(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD ``(u, s, vh)`` of ``matrix``, computed on its tall orientation.

    LAPACK's SVD of a wide matrix is several times slower than that of its (tall) transpose.
    """
    if matrix.shape[0] >= matrix.shape[1]:
        return torch.linalg.svd(matrix, full_matrices=False)
    u, s, vh = torch.linalg.svd(matrix.mT, full_matrices=False)
    return vh.mT, s, u.mT


def column_signs(u: torch.Tensor) -> torch.Tensor:
    """Signs that make each column's largest-magnitude entry positive (tensorly's ``svd_flip``)."""
    return torch.sign(u.gather(0, u.abs().argmax(0, keepdim=True)))


def _project(x: TensorFormat, factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The core ``x ×_1 U_1ᵀ ⋯ ×_d U_dᵀ``, through the format's mode products."""
    for k, u in enumerate(factors):
        x = x.mode_product(u.mT, k)
    return x.to_dense()


def _modal_svds(x: TensorFormat) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """Left singular vectors and singular values of every unfolding, and ``‖x‖_F``.

    CP and Tucker tensors are reduced first: with ``f_ℓ = q_ℓ r_ℓ``, the tensor over the ``r_ℓ`` has the
    same modal singular values, and its left singular vectors times ``q_ℓ`` are ``x``'s.
    """
    if isinstance(x, (CPTensor, TuckerTensor)):
        qrs = [torch.linalg.qr(f) for f in x.factors]
        if math.prod(r.shape[0] for _, r in qrs) <= _MAX_REDUCED_CORE:
            reduced = [r for _, r in qrs]
            small = (CPTensor(x.weights, reduced) if isinstance(x, CPTensor) else TuckerTensor(x.core, reduced)).to_dense()
            pairs = [modal_svd(small, k) for k in range(small.ndim)]
            return [(q @ u, s) for (q, _), (u, s) in zip(qrs, pairs)], float(torch.linalg.vector_norm(small))
        if isinstance(x, CPTensor):
            return _cp_gram_svds(x)
    dense = x.to_dense()
    return [modal_svd(dense, k) for k in range(dense.ndim)], float(torch.linalg.vector_norm(dense))


def _cp_gram_svds(x: CPTensor) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """Exact modal SVDs of a CP tensor too large to reduce, from the CP Gram matrices."""
    weights, grams = x.weights, [f.mT @ f for f in x.factors]
    pairs = []
    for k, f in enumerate(x.factors):
        hadamard = math.prod(g for j, g in enumerate(grams) if j != k)
        w, q = torch.linalg.eigh(weights[:, None] * hadamard * weights[None, :])
        pairs.append(torch.linalg.svd(f @ (q * w.clamp_min(0).sqrt()), full_matrices=False)[:2])
    return pairs, float(x.norm())


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
