"""Ranks of a factorized tensor from a parameter budget (a fraction of the dense count)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tensorkit._validation import check_positive_float, check_positive_int, check_rank

FACTORIZATIONS = ("dense", "tucker", "cp", "tt")
_TUCKER_TOLERANCE = 0.15  # beyond this budget error, the tltorch rule yields to the exact search


def n_parameters(factorization: str, shape: Sequence[int], rank: Any) -> int:
    """Number of entries stored by a tensor of ``shape`` in ``factorization`` with resolved ``rank``.

    ``rank`` is the tuple of Tucker ranks, the CP rank (an int, weights included), or the TT ranks
    ``(1, r_1, …, r_{K-1}, 1)``; it is ignored for ``"dense"``.
    """
    shape = tuple(shape)
    if factorization == "dense":
        return math.prod(shape)
    if factorization == "tucker":
        return math.prod(rank) + sum(n * r for n, r in zip(shape, rank))
    if factorization == "cp":
        return rank * (1 + sum(shape))
    if factorization == "tt":
        return sum(rank[k] * n * rank[k + 1] for k, n in enumerate(shape))
    raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")


def resolve_rank(
    factorization: str,
    shape: Sequence[int],
    rank: Any,
    fixed_rank_modes: Sequence[int] = (),
) -> Any:
    """Turn ``rank`` (a budget fraction in (0, ∞) or explicit ranks) into the ranks of the format.

    Parameters
    ----------
    factorization : {"dense", "tucker", "cp", "tt"}
    shape : sequence of int
        Shape of the full tensor.
    rank : float or int or sequence of int
        A float is the target fraction of the dense entry count (``0.1`` = 10× fewer entries). An int
        or a sequence gives the ranks explicitly (Tucker: per mode; CP: one int; TT: the ``K+1``
        ranks with unit ends, or the ``K-1`` inner ranks).
    fixed_rank_modes : sequence of int
        Tucker modes kept at full rank (their factor is square), e.g. ``(0,)`` for the layer mode.

    Returns
    -------
    None for dense; a tuple for Tucker/TT; an int for CP.

    Notes
    -----
    Fractions are solved with one common scale ``s``. Tucker: ``r_k = round(s·n_k)`` where ``s``
    solves the continuous budget ``prod(n)·s^K + Σ n_k² s = fraction·prod(n)`` (the rule of
    tensorly/tltorch, so ranks match theirs); when rounding puts that more than 15 % off the
    budget (small shapes), ranks are grown one mode at a time (the mode with the smallest
    ``r_k/n_k`` first) from all ones up to the budget instead. CP: ``R = round(s)``; TT: ``r_k = round(s·(n_k +
    n_{k+1}))``, capped at the largest useful TT rank ``min(prod(shape[:k]), prod(shape[k:]))``;
    for these two ``s`` is found by bisection on the exact :func:`n_parameters`.
    """
    shape = tuple(int(n) for n in shape)
    if factorization == "dense":
        return None
    fixed = tuple(sorted(set(int(m) for m in fixed_rank_modes)))
    for m in fixed:
        if not 0 <= m < len(shape):
            raise ValueError(f"fixed_rank_modes entries must lie in [0, {len(shape) - 1}], got {m}")
    if fixed and factorization != "tucker":
        raise ValueError(f"fixed_rank_modes is only supported for factorization='tucker', got {factorization!r}")
    if isinstance(rank, float):
        fraction = check_positive_float(rank, "rank")
        return _solve_fraction(factorization, shape, fraction, fixed)
    if factorization == "tucker":
        return check_rank(rank, shape)
    if factorization == "cp":
        return check_positive_int(rank, "rank")
    if factorization == "tt":
        return _explicit_tt_rank(rank, shape)
    raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")


def _rank_for_scale(factorization: str, shape: tuple[int, ...], scale: float, fixed: tuple[int, ...]) -> Any:
    if factorization == "tucker":
        return tuple(n if k in fixed else min(n, max(1, round(scale * n))) for k, n in enumerate(shape))
    if factorization == "cp":
        return max(1, round(scale))
    caps = [min(math.prod(shape[:k]), math.prod(shape[k:])) for k in range(1, len(shape))]
    inner = [min(cap, max(1, round(scale * (shape[k - 1] + shape[k])))) for k, cap in enumerate(caps, start=1)]
    return (1, *inner, 1)


def _solve_fraction(factorization: str, shape: tuple[int, ...], fraction: float, fixed: tuple[int, ...]) -> Any:
    budget = fraction * math.prod(shape)
    if factorization == "tucker":
        rank = _rank_for_scale("tucker", shape, _tucker_scale(shape, fraction, fixed), fixed)
        if abs(n_parameters("tucker", shape, rank) / budget - 1) <= _TUCKER_TOLERANCE:
            return rank
        return _fill_tucker_budget(shape, budget, fixed)

    def cost(scale: float) -> int:
        return n_parameters(factorization, shape, _rank_for_scale(factorization, shape, scale, fixed))

    low, high = 0.0, 1.0
    while cost(high) < budget and high < 1e12:
        low, high = high, high * 2
    for _ in range(100):  # bisection on a monotone step function
        mid = 0.5 * (low + high)
        low, high = (mid, high) if cost(mid) < budget else (low, mid)
    # pick whichever neighbouring rank is closest to the budget
    candidates = [_rank_for_scale(factorization, shape, s, fixed) for s in (low, high)]
    return min(candidates, key=lambda r: abs(n_parameters(factorization, shape, r) - budget))


def _fill_tucker_budget(shape: tuple[int, ...], budget: float, fixed: tuple[int, ...]) -> tuple[int, ...]:
    rank = [n if k in fixed else 1 for k, n in enumerate(shape)]
    best = tuple(rank)
    while True:
        free = [k for k in range(len(shape)) if k not in fixed and rank[k] < shape[k]]
        if not free:
            return best
        k = min(free, key=lambda m: (rank[m] + 1) / shape[m])
        rank[k] += 1
        cost = n_parameters("tucker", shape, rank)
        if cost > budget:
            over = abs(cost - budget) < abs(n_parameters("tucker", shape, best) - budget)
            return tuple(rank) if over else best
        best = tuple(rank)


def _tucker_scale(shape: tuple[int, ...], fraction: float, fixed: tuple[int, ...]) -> float:
    """Root of ``prod(n)·s^K' + (Σ_free n_k² + Σ_fixed n_k²)·s − fraction·prod(n)`` (K' free modes)."""
    total = math.prod(shape)
    n_free = len(shape) - len(fixed)
    linear = sum(n * n for n in shape)

    def excess(s: float) -> float:
        return total * s**n_free + linear * s - fraction * total

    low, high = 0.0, max(1.0, fraction)
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) < 0 else (low, mid)
    return 0.5 * (low + high)


def _explicit_tt_rank(rank: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    order = len(shape)
    if isinstance(rank, int) and not isinstance(rank, bool):
        ranks = (1, *(check_positive_int(rank, "rank"),) * (order - 1), 1)
    elif isinstance(rank, Sequence) and not isinstance(rank, str):
        ranks = tuple(rank)
        if len(ranks) == order - 1:
            ranks = (1, *ranks, 1)
        if len(ranks) != order + 1 or ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"TT rank must have {order - 1} inner entries or {order + 1} entries with unit ends, got {rank!r}")
        for k, r in enumerate(ranks):
            check_positive_int(r, f"rank[{k}]")
    else:
        raise TypeError(f"rank must be a float, an int or a sequence of ints, got {rank!r}")
    return tuple(int(r) for r in ranks)
