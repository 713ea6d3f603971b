"""Automatic rank selection for FunBaT: held-out error of masked Tucker/CP fits on the training grid.

When the training points lie on a grid (a gridded field with gaps), the values are placed on the
grid of unique coordinates, a seeded fraction of the observed cells is held out, and classical
masked decompositions (:func:`tensorkit.core.decompose.hooi`, :func:`~tensorkit.core.decompose.cp_als`)
of increasing rank are scored by their error on those cells. The held-out cells are drawn the way the
data are missing: when some cells of modes 2..K (space, for a ``time × lat × lon`` field) are never
observed at any index of mode 1 (land, a sensor or cloud gap present in every time step), filling them
is extrapolation from the separable structure, so whole boxes of modes 2..K are held out in every time
step; otherwise single cells are. The chosen ranks are the smallest ones
whose held-out mean squared error is within one standard error of the best (the "one-standard-error
rule", Breiman et al. 1984; Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*, §7.10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from tensorkit._validation import as_tensor, check_choice, check_positive_int, check_same_length, check_value_type
from tensorkit.core import FORMATS
from tensorkit.core.cp import CPTensor
from tensorkit.core.decompose import cp_als, hooi
from tensorkit.core.tucker import TuckerTensor
from tensorkit.data.holdout import random_rows
from tensorkit.funbat.gap_boxes import held_out_boxes, never_observed
from tensorkit.funbat.residual import grid_layout

__all__ = ["FALLBACK_RANK", "resolve_ranks", "select_ranks"]

#: rank per mode returned when no selection is possible (the estimator's former default ``rank=3``)
FALLBACK_RANK = 3
#: independent block draws whose held-out errors are pooled (one box layout is a noisy score)
BLOCK_DRAWS = 3
#: sweeps and tolerance of each fit: enough to order the candidates, not to converge CP-ALS fully
_SWEEPS, _TOL = 50, 1e-6
#: the threshold's floor, as a fraction of the held-out values' mean square: on noise-free data the
#: fits' convergence, not their rank, sets smaller differences
_TIE = 1e-6


def select_ranks(
    X: torch.Tensor,
    y: torch.Tensor,
    decomposition: str = "tucker",
    max_rank: int = 8,
    holdout: float = 0.1,
    seed: int = 0,
    split: str = "auto",
) -> tuple[int, ...]:
    """Ranks per mode chosen by the held-out error of masked decompositions on the grid of the points.

    Parameters
    ----------
    X : (N, K) torch.Tensor
        Coordinates (any units; only which points share a coordinate matters).
    y : (N,) torch.Tensor
        Floating-point values, standardised.
    decomposition : {"tucker", "cp"}
        Tucker: per-mode ranks. CP: one rank, repeated for every mode.
    max_rank : int
        Largest rank tried in any mode.
    holdout : float
        Fraction of the points held out for scoring, in (0, 1); at least two are held out.
    seed : int
        Seed of the held-out draw (and of :func:`cp_als`'s padding).
    split : {"auto", "cells", "blocks"}
        ``"cells"`` holds out single points at random; ``"blocks"`` holds out every point inside
        random boxes of modes 2..K shaped like the data's largest never-observed gap
        (:func:`tensorkit.funbat.gap_boxes.held_out_boxes`), in every index
        of mode 1, until a ``holdout`` fraction of the points is held out; ``"auto"`` picks
        ``"blocks"`` when some cell of modes 2..K is never observed, else ``"cells"``.

    Returns
    -------
    tuple of int
        One rank per mode. :data:`FALLBACK_RANK` for every mode when :func:`grid_layout` says the
        points are not a grid, or when there are too few points to hold two out and keep one.

    Notes
    -----
    Candidates are walked by growing every mode together, ``r = 1, 2, …`` (each mode capped by its
    size, by the product of the other modes' ranks, and by ``max_rank``; CP ranks by the largest
    possible CP rank ``min_k ∏_{j≠k} n_j``), stopping once two steps in a row have not beaten the
    best held-out error. For Tucker the chosen tuple is then shrunk greedily one mode at a time while
    the error stays within the rule's threshold. Among all candidates scored, the one with the
    fewest parameters whose held-out mean squared error is at most ``best + SE(best)`` is returned,
    where ``SE`` is the standard error of the best candidate's mean of squared held-out errors.
    Unlike a fixed relative margin, this threshold follows what the held-out sample can resolve: it
    is wide for noisy data or few held-out cells and narrow otherwise.
    """
    X = as_tensor(X, "X", ndim=2)
    y = as_tensor(y, "y", ndim=1, device=X.device)
    if not y.is_floating_point():
        raise TypeError(f"y must be a floating-point tensor, got {y.dtype}")
    n_points = check_same_length(X=X, y=y)
    check_choice(decomposition, "decomposition", ("tucker", "cp"))
    max_rank = check_positive_int(max_rank, "max_rank")
    holdout = check_value_type(holdout, float, "holdout")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout}")
    seed = check_value_type(seed, int, "seed")
    check_choice(split, "split", ("auto", "cells", "blocks"))

    n_modes = X.shape[1]
    layout = grid_layout(X)
    n_held = max(2, round(holdout * n_points))
    if isinstance(layout, str) or n_held >= n_points:
        return (FALLBACK_RANK,) * n_modes
    grids, cells = layout
    shape = tuple(g.numel() for g in grids)
    if decomposition == "cp":
        largest = min(max_rank, min(math.prod(shape[:k] + shape[k + 1:]) for k in range(n_modes)))
        path = [(r,) * n_modes for r in range(1, largest + 1)]
    else:
        path = list(dict.fromkeys(_feasible([min(r, n) for n in shape]) for r in range(1, max_rank + 1)))
    if len(path) == 1:  # one mode, or modes of size one: nothing to choose
        return path[0]
    if split == "blocks" or (split == "auto" and n_modes > 1 and bool(never_observed(shape, cells).any())):
        generator = torch.Generator().manual_seed(seed)
        folds = [held_out_boxes(shape, cells, n_held, generator) for _ in range(BLOCK_DRAWS)]
    else:
        folds = [torch.from_numpy(random_rows(n_points, n_held, seed)[0]).to(X.device)]
    scorer = _HeldOutScorer(shape, cells, y, folds, decomposition, seed)
    _grow(scorer, path)
    if decomposition == "tucker":
        _shrink(scorer)
    return scorer.choice()


def resolve_ranks(rank: object, X: torch.Tensor, y: torch.Tensor, decomposition: str, max_rank: int, seed: int) -> list[int]:
    """FunBaT's ``rank`` argument as one rank per mode: ``"auto"`` through :func:`select_ranks`."""
    if rank == "auto":
        return list(select_ranks(X, y, decomposition, max_rank=max_rank, seed=seed))
    n_modes = X.shape[1]
    ranks = [int(rank)] * n_modes if isinstance(rank, (int, np.integer)) else list(rank)
    if len(ranks) != n_modes:
        raise ValueError(f"rank must have one entry per mode ({n_modes}), got {len(ranks)}")
    return ranks


class _HeldOutScorer:
    """Fits masked decompositions without each fold's points and keeps their pooled squared errors on them.

    Parameters
    ----------
    shape : tuple of int
        Grid size per mode.
    cells : (N,) long tensor
        Flat C-order cell of each point.
    y : (N,) tensor
        Values.
    folds : list of (M,) long tensors
        The points held out by each fit.
    decomposition : {"tucker", "cp"}
    seed : int
        Seed of :func:`cp_als`.
    """

    def __init__(self, shape: tuple[int, ...], cells: torch.Tensor, y: torch.Tensor, folds: list[torch.Tensor],
                 decomposition: str, seed: int) -> None:
        values = y.new_zeros(math.prod(shape))
        values[cells] = y
        self.values = values.reshape(shape)
        self.folds = []
        for held in folds:
            train = torch.zeros(math.prod(shape), dtype=torch.bool, device=y.device)
            train[cells] = True
            train[cells[held]] = False
            self.folds.append((train.reshape(shape), cells[held]))
        self.held_values = torch.cat([y[held] for held in folds])
        self.decomposition, self.seed = decomposition, seed
        self.squared_errors: dict[tuple[int, ...], torch.Tensor] = {}

    def mse(self, ranks: tuple[int, ...]) -> float:
        """Held-out mean squared error of the fit with ``ranks`` (fitted once, then remembered)."""
        if ranks not in self.squared_errors:
            predicted = torch.cat([self._fit(ranks, train).to_dense().reshape(-1)[held] for train, held in self.folds])
            self.squared_errors[ranks] = (predicted - self.held_values) ** 2
        return float(self.squared_errors[ranks].mean())

    def _fit(self, ranks: tuple[int, ...], train: torch.Tensor) -> CPTensor | TuckerTensor:
        if self.decomposition == "cp":
            return cp_als(self.values, ranks[0], mask=train, n_iter_max=_SWEEPS, tol=_TOL, seed=self.seed)
        return hooi(self.values, rank=ranks, mask=train, n_iter_max=_SWEEPS, tol_iter=_TOL)

    def threshold(self) -> float:
        """Best held-out MSE plus its standard error (at least a tie tolerance)."""
        best = min(self.squared_errors.values(), key=lambda e: float(e.mean()))
        se = float(best.std() / math.sqrt(best.numel()))
        return float(best.mean()) + max(se, _TIE * float((self.held_values**2).mean()))

    def choice(self) -> tuple[int, ...]:
        """The candidate with the fewest parameters among those within :meth:`threshold`."""
        threshold = self.threshold()
        within = [r for r, e in self.squared_errors.items() if float(e.mean()) <= threshold]
        return min(within, key=lambda r: (self.n_parameters(r), self.mse(r)))

    def n_parameters(self, ranks: tuple[int, ...]) -> int:
        """Entries of the factor matrices plus the core (CP: its weights), as the core's format counts them."""
        rank = ranks[0] if self.decomposition == "cp" else ranks
        return FORMATS[self.decomposition].n_parameters(self.values.shape, rank)


def _grow(scorer: _HeldOutScorer, path: Sequence[tuple[int, ...]], patience: int = 2) -> None:
    """Score ``path`` in order until ``patience`` candidates in a row fail to beat the best so far."""
    best, stale = math.inf, 0
    for ranks in path:
        mse = scorer.mse(ranks)
        best, stale = (mse, 0) if mse < best else (best, stale + 1)
        if stale == patience:
            return


def _shrink(scorer: _HeldOutScorer) -> None:
    """Lower one Tucker mode's rank at a time from the current choice until the choice stops changing."""
    current = None
    while (choice := scorer.choice()) != current:
        current = choice
        for k in range(len(current)):
            lower = current[:k] + (current[k] - 1,) + current[k + 1:]
            if current[k] > 1 and _feasible(lower) == lower:
                scorer.mse(lower)


def _feasible(ranks: Sequence[int]) -> tuple[int, ...]:
    """Lower ranks until each is at most the product of the others (a Tucker core's constraint)."""
    ranks = list(ranks)
    while True:
        capped = [min(r, math.prod(ranks[:k] + ranks[k + 1:])) for k, r in enumerate(ranks)]
        if capped == ranks:
            return tuple(ranks)
        ranks = capped
