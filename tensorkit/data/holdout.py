"""Seeded random splits of observed cells: the one place that decides which cells are held out.

Three draws are kept because committed figures depend on each stream: ``"permutation"`` (a torch
permutation cut at the rounded cumulative fractions, or at a count by :func:`random_rows`; DAIN's
splits, folds and validation rows, FunBaT's rank-selection cells), ``"choice"`` (numpy
draws of ``max(1, round(f·n))`` cells per part; the baselines' validation cells in the gap-fill
table) and ``"bernoulli"`` (each cell of the grid with probability ``f``; the demo, ``tensorkit
funbat --holdout`` and the README's hidden cells).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tensorkit._validation import check_choice

DRAWS = ("permutation", "choice", "bernoulli")


def random_split(
    observed: np.ndarray, fractions: Sequence[float], seed: int, *, draw: str = "permutation"
) -> tuple[np.ndarray, ...]:
    """Disjoint seeded random parts of the observed cells.

    Parameters
    ----------
    observed : numpy.ndarray of bool
        The cells that may be drawn (any shape; rows of a table: ``np.ones(n, bool)``).
    fractions : sequence of float
        Two or more positive fractions summing to 1, one per part.
    seed : int
        Seed of the draw.
    draw : {"permutation", "choice", "bernoulli"}
        ``"permutation"``: ``torch.randperm`` of the observed cells, cut at the rounded cumulative
        fractions (a part may be empty). ``"choice"``: from the last part to the second, numpy's
        ``Generator.choice`` of ``max(1, round(f·n))`` of the cells not yet drawn; the first part is
        the rest. ``"bernoulli"``: one uniform number per cell of the grid; the last part takes those
        below its fraction, the part before the next interval, and so on; the first part is the rest.

    Returns
    -------
    tuple of numpy.ndarray
        Per part, the flat positions of its cells in ``observed`` (int64; in draw order for
        ``"permutation"``, ascending otherwise).

    Raises
    ------
    ValueError
        ``fractions`` are not two or more positive numbers summing to 1, or ``"choice"`` asks for more
        cells than there are.
    """
    check_choice(draw, "draw", DRAWS)
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) < 2 or np.any(fr <= 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"fractions must be ≥ 2 positive numbers summing to 1, got {tuple(fractions)}")
    cells = np.flatnonzero(observed)
    if draw == "permutation":
        perm = cells[_permutation(len(cells), seed)]
        bounds = np.round(np.cumsum(fr) * len(cells)).astype(int)
        return tuple(perm[a:b] for a, b in zip(np.concatenate([[0], bounds[:-1]]), bounds))
    rng = np.random.default_rng(seed)
    if draw == "bernoulli":
        u = rng.random(np.shape(observed)).ravel()[cells]
        upper = np.cumsum(fr[:0:-1])  # intervals of u from 0, the last part first
        part = np.searchsorted(upper, u, side="right")  # 0 = last part, …, len(fr) - 1 = first part
        return tuple(cells[part == len(fr) - 1 - j] for j in range(len(fr)))
    parts, rest = [], cells
    for f in fr[:0:-1]:
        size = max(1, round(f * len(cells)))
        if size >= len(rest):
            raise ValueError(f"fractions {tuple(fractions)} of {len(cells)} observed cells leave none for the first part")
        chosen = rng.choice(rest, size, replace=False)
        parts.insert(0, np.sort(chosen))
        rest = np.setdiff1d(rest, chosen, assume_unique=True)
    return (rest, *parts)


def random_rows(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` of the rows ``0 … n-1`` and the rest, each in the order of the ``"permutation"`` draw.

    Raises
    ------
    ValueError
        ``size`` does not lie in ``[1, n - 1]``.
    """
    if not 0 < size < n:
        raise ValueError(f"size must lie in [1, {n - 1}] to leave rows on both sides, got {size}")
    perm = _permutation(n, seed)
    return perm[:size], perm[size:]


def holdout_mask(observed: np.ndarray, fraction: float, seed: int, *, draw: str = "choice", name: str = "fraction") -> np.ndarray:
    """The held-out cells of a ``(1 - fraction, fraction)`` :func:`random_split`, as a boolean mask.

    Raises
    ------
    ValueError
        ``fraction`` (reported as ``name``) is not a number in (0, 1), or ``"choice"`` would hold out
        every observed cell.
    """
    if not isinstance(fraction, (float, int)) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {fraction!r}")
    held = np.zeros(np.shape(observed), dtype=bool)
    held.flat[random_split(observed, (1 - fraction, fraction), seed, draw=draw)[1]] = True
    return held


def _permutation(n: int, seed: int) -> np.ndarray:
    """The seeded ``torch.randperm(n)`` (CPU generator, so every device draws the same rows)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
