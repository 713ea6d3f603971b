"""Gap-fill baselines and the masks that hide cells of a (time, lat, lon) field.

Every baseline takes ``values`` of shape ``(T, Y, X)`` with NaN at hidden or missing cells and returns a
new filled array of the same shape (float64); the input is never modified and observed cells are
returned unchanged. A baseline cannot tell land (NaN in every step) from a gap: the spatial baselines and
masked Tucker fill it too, DINEOF leaves every never-observed cell NaN; score hidden cells only. The
masks return a boolean array, True where a cell is hidden.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from scipy.interpolate import griddata
from scipy.spatial import QhullError

from tensorkit._validation import check_rank
from tensorkit.core import hooi
from tensorkit.data.holdout import holdout_mask

__all__ = [
    "BLOCK_FRACTION",
    "TUCKER_RANKS",
    "block_mask",
    "default_box",
    "dineof",
    "griddata_linear",
    "masked_tucker",
    "neighbour_mean",
    "random_mask",
]

BLOCK_FRACTION = 0.25  # the default box spans this fraction of each spatial size
TUCKER_RANKS = (2, 4, 6, 8, 12, 16)  # candidate multilinear ranks of masked_tucker (clipped per mode)


# ----------------------------------------------------------------------------------------------- masks


def random_mask(shape: Sequence[int], fraction: float, seed: int = 0, observed: np.ndarray | None = None) -> np.ndarray:
    """Hide ``max(1, round(fraction · n))`` of the ``n`` observed cells, drawn uniformly without replacement
    (:func:`tensorkit.data.holdout.holdout_mask`).

    Parameters
    ----------
    shape : sequence of int
        ``(T, Y, X)``.
    fraction : float
        In ``(0, 1)``.
    seed : int
        Seed of the draw.
    observed : numpy.ndarray of bool, optional
        True where the field has a value (default: everywhere); only these cells can be hidden.

    Returns
    -------
    numpy.ndarray of bool
        True at the hidden cells.
    """
    return holdout_mask(_check_observed(observed, _check_shape(shape)), fraction, seed)


def default_box(shape: Sequence[int], fraction: float = BLOCK_FRACTION) -> tuple[slice, slice]:
    """The centred box spanning ``round(fraction · n)`` (at least 1) of each spatial size ``n``.

    The box starts at ``(n - size) // 2`` along each of lat and lon.
    """
    shape = _check_shape(shape)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    sizes = [max(1, round(fraction * n)) for n in shape[1:]]
    return tuple(slice((n - size) // 2, (n - size) // 2 + size) for n, size in zip(shape[1:], sizes))


def block_mask(
    shape: Sequence[int], box: tuple[slice, slice] | None = None, observed: np.ndarray | None = None
) -> np.ndarray:
    """Hide a contiguous lat/lon box in every time step.

    Parameters
    ----------
    shape : sequence of int
        ``(T, Y, X)``.
    box : (slice, slice), optional
        Index ranges along lat and lon (step 1, non-empty, within the grid); default :func:`default_box`.
    observed : numpy.ndarray of bool, optional
        True where the field has a value (default: everywhere); only these cells count as hidden.

    Returns
    -------
    numpy.ndarray of bool
        True at the hidden cells.
    """
    shape = _check_shape(shape)
    observed = _check_observed(observed, shape)
    box = default_box(shape) if box is None else box
    if not (isinstance(box, tuple) and len(box) == 2 and all(isinstance(s, slice) for s in box)):
        raise TypeError(f"box must be a pair of slices (lat, lon), got {box!r}")
    for name, s, n in zip(("lat", "lon"), box, shape[1:]):
        start, stop, step = s.indices(n)
        if step != 1 or start >= stop or (s.stop is not None and not -n <= s.stop <= n):
            raise ValueError(f"box's {name} slice must be a non-empty step-1 range inside 0..{n}, got {s}")
    hidden = np.zeros(shape, dtype=bool)
    hidden[:, box[0], box[1]] = True
    return hidden & observed


# ------------------------------------------------------------------------------------------- baselines


def neighbour_mean(values: np.ndarray) -> np.ndarray:
    """Fill each missing cell with the mean of its known 4-neighbours in the same time step.

    Cells are filled in rounds: a round fills every missing cell that has at least one known neighbour
    (up, down, left, right; known = observed or filled in an earlier round), all at once. Rounds repeat
    until no cell can be filled, so the fill grows outward into gaps; only time steps with no observed
    cell stay NaN.
    """
    filled = _check_values(values)
    while True:
        known = ~np.isnan(filled)
        total = _neighbour_sum(np.where(known, filled, 0.0))
        count = _neighbour_sum(known.astype(np.float64))
        frontier = ~known & (count > 0)
        if not frontier.any():
            return filled
        filled[frontier] = total[frontier] / count[frontier]


def griddata_linear(values: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Per time step, linear interpolation over (lat, lon) with a nearest-neighbour fallback.

    :func:`scipy.interpolate.griddata` (``method="linear"``) interpolates on the Delaunay triangulation
    of the observed cells, with lat and lon in degrees treated as plane coordinates (no longitude
    wrap-around); cells outside their convex hull, or every cell when fewer than three non-collinear
    cells are observed, take the nearest observed value. Time steps with no observed cell stay NaN.

    Parameters
    ----------
    values : numpy.ndarray
        ``(T, Y, X)``, NaN where missing.
    lat, lon : numpy.ndarray
        Coordinates of the ``Y`` rows and ``X`` columns (finite, no repeats).
    """
    filled = _check_values(values)
    lat = _check_coordinate(lat, "lat", filled.shape[1])
    lon = _check_coordinate(lon, "lon", filled.shape[2])
    points = np.stack(np.meshgrid(lat, lon, indexing="ij"), axis=-1).reshape(-1, 2)
    for step in filled.reshape(filled.shape[0], -1):  # rows are views: filled in place
        known = ~np.isnan(step)
        if known.all() or not known.any():
            continue
        targets = points[~known]
        try:
            estimate = griddata(points[known], step[known], targets, method="linear")
        except QhullError:  # fewer than three points, or all on a line
            estimate = np.full(len(targets), np.nan)
        outside = np.isnan(estimate)
        if outside.any():
            estimate[outside] = griddata(points[known], step[known], targets[outside], method="nearest")
        step[~known] = estimate
    return filled


def dineof(
    values: np.ndarray,
    rng_seed: int = 0,
    *,
    max_rank: int | None = None,
    patience: int = 3,
    val_fraction: float = 0.03,
    tol: float = 1e-4,
    max_iter: int = 300,
    return_rank: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """DINEOF (Beckers & Rixen 2003): fill by iterated truncated SVD of the (T, Y·X) matrix.

    Each spatial cell is a column. Columns never observed (land, or a box hidden at every time) cannot
    be reconstructed and stay NaN. Missing entries start at their column's observed mean. For k = 1, 2, …
    they are repeatedly replaced by the column mean of the current fill plus the rank-k truncated SVD of
    the centred fill (re-centring every sweep, so that the model is exactly mean + rank k), until their
    rms change is below ``tol`` × the standard deviation of the observed values (or ``max_iter``
    sweeps); each k starts from the fill of k - 1. k is chosen by the rms error on ``val_fraction`` of
    the observed cells, held out at random (``rng_seed``); the search stops after ``patience`` ranks
    without improvement or at ``max_rank``. The fill is then recomputed with every observed cell at the
    chosen k (again through ranks 1…k).

    Parameters
    ----------
    values : numpy.ndarray
        ``(T, Y, X)``, NaN where missing.
    rng_seed : int
        Seed of the validation draw.
    max_rank : int, optional
        Largest k tried; at most (and by default) ``min(T, observed columns) - 1``.
    patience, val_fraction, tol, max_iter
        See above.
    return_rank : bool
        Also return the chosen k.

    Returns
    -------
    numpy.ndarray, or (numpy.ndarray, int)
        The filled array (and k).
    """
    filled = _check_values(values)
    patience = _positive_int(patience, "patience")
    max_iter = _positive_int(max_iter, "max_iter")
    tol = _positive_float(tol, "tol")
    matrix = filled.reshape(filled.shape[0], -1)  # view
    columns = ~np.isnan(matrix).all(axis=0)
    data = matrix[:, columns]
    observed = ~np.isnan(data)
    largest = max(1, min(data.shape) - 1)
    max_rank = largest if max_rank is None else min(_positive_int(max_rank, "max_rank"), largest)
    validation = holdout_mask(observed, val_fraction, rng_seed, name="val_fraction")
    fit = observed & ~validation
    truth = data[validation]
    errors: list[float] = []
    for reconstruction in _dineof_path(data, fit, max_rank, tol, max_iter):
        errors.append(_rmse(reconstruction[validation], truth))
        if len(errors) - 1 - int(np.argmin(errors)) >= patience:
            break
    rank = int(np.argmin(errors)) + 1
    (reconstruction,) = deque(_dineof_path(data, observed, rank, tol, max_iter), maxlen=1)  # the last one
    matrix[:, columns] = np.where(observed, data, reconstruction)
    return (filled, rank) if return_rank else filled


def masked_tucker(
    values: np.ndarray,
    rank: int | Sequence[int] | None = None,
    *,
    candidates: Sequence[int] = TUCKER_RANKS,
    val_fraction: float = 0.03,
    rng_seed: int = 0,
    validation: np.ndarray | None = None,
    n_iter_max: int = 100,
    return_rank: bool = False,
) -> np.ndarray | tuple[np.ndarray, tuple[int, int, int]]:
    """Fill with a Tucker model fitted to the observed cells (:func:`tensorkit.core.hooi` with a mask).

    The masked HOOI imputes the missing cells by expectation-maximisation, starting from the observed
    mean; every cell is filled (also cells never observed, through the separable lat and lon factors).

    Parameters
    ----------
    values : numpy.ndarray
        ``(T, Y, X)``, NaN where missing.
    rank : int or (int, int, int), optional
        Multilinear rank. None: choose among ``candidates`` (an int r means rank ``min(r, size)`` in each
        mode) by the rms error on ``val_fraction`` of the observed cells, held out at random
        (``rng_seed``), then refit with every observed cell. Random cells reward ranks that interpolate
        well, not ranks that extrapolate into a box hidden at every time: for a block gap, pass
        ``validation``.
    validation : numpy.ndarray of bool, optional
        Observed cells to hold out for choosing the rank, instead of the random draw (e.g. another box
        of the gap's size, from :func:`block_mask`).
    n_iter_max : int
        HOOI sweeps per fit.
    return_rank : bool
        Also return the rank used.

    Returns
    -------
    numpy.ndarray, or (numpy.ndarray, tuple of int)
        The filled array (and the rank).
    """
    filled = _check_values(values)
    observed = ~np.isnan(filled)
    if rank is not None:
        rank = check_rank(rank, filled.shape)
    else:
        if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence) or not candidates:
            raise TypeError(f"candidates must be a non-empty sequence of ints, got {candidates!r}")
        options = sorted({tuple(min(_positive_int(r, "candidates"), n) for n in filled.shape) for r in candidates})
        if validation is None:
            validation = holdout_mask(observed, val_fraction, rng_seed, name="val_fraction")
        elif not isinstance(validation, np.ndarray) or validation.dtype != bool or validation.shape != filled.shape:
            raise TypeError(f"validation must be a boolean numpy.ndarray of shape {filled.shape}")
        elif not validation.any() or (validation & ~observed).any() or not (observed & ~validation).any():
            raise ValueError("validation must mark some, but not all, observed cells and no missing one")
        fit = observed & ~validation
        errors = [_rmse(_tucker_fit(filled, fit, r, n_iter_max)[validation], filled[validation]) for r in options]
        rank = options[int(np.argmin(errors))]
    estimate = _tucker_fit(filled, observed, rank, n_iter_max)
    filled[~observed] = estimate[~observed]
    return (filled, rank) if return_rank else filled


# ------------------------------------------------------------------------------------------- helpers


def _neighbour_sum(a: np.ndarray) -> np.ndarray:
    """Sum of the up, down, left and right neighbours in each (lat, lon) slice (outside counts 0)."""
    padded = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    return padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]


def _dineof_path(data: np.ndarray, known: np.ndarray, max_rank: int, tol: float, max_iter: int) -> Iterator[np.ndarray]:
    """Yield the converged fill (observed cells kept, others from column mean + rank k) for k = 1 … ``max_rank``."""
    counts = known.sum(axis=0)
    sums = np.where(known, data, 0.0).sum(axis=0)
    start = np.where(counts > 0, sums / np.maximum(counts, 1), sums.sum() / counts.sum())  # global mean if no cell
    fill = np.where(known, data, start)
    missing = ~known
    scale = np.std(data[known]) or 1.0
    for k in range(1, max_rank + 1):
        for _ in range(max_iter):
            mean = fill.mean(axis=0)
            u, s, vt = np.linalg.svd(fill - mean, full_matrices=False)
            update = (mean + (u[:, :k] * s[:k]) @ vt[:k])[missing]
            change = _rmse(update, fill[missing]) if update.size else 0.0
            fill[missing] = update
            if change <= tol * scale:
                break
        yield fill.copy()


def _rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate - truth) ** 2)))


def _tucker_fit(values: np.ndarray, known: np.ndarray, rank: tuple[int, ...], n_iter_max: int) -> np.ndarray:
    """Dense reconstruction of the masked HOOI fit of ``values`` on the ``known`` cells."""
    x = torch.from_numpy(np.where(known, values, np.nan))
    return hooi(x, rank=rank, mask=torch.from_numpy(known), n_iter_max=n_iter_max).to_dense().numpy()


def _check_values(values: Any) -> np.ndarray:
    """A float64 copy of a (T, Y, X) array with no ±inf and at least one observed cell."""
    if not isinstance(values, np.ndarray):
        raise TypeError(f"values must be a numpy.ndarray, got {type(values).__name__}")
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"values must hold real numbers, got dtype {values.dtype}")
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(f"values must be a non-empty (T, Y, X) array, got shape {values.shape}")
    values = values.astype(np.float64)  # always a copy
    if np.isinf(values).any():
        raise ValueError("values must not contain inf (NaN marks missing cells)")
    if np.isnan(values).all():
        raise ValueError("values has no observed (non-NaN) cell")
    return values


def _check_coordinate(coordinate: Any, name: str, size: int) -> np.ndarray:
    coordinate = np.asarray(coordinate, dtype=np.float64)
    if coordinate.shape != (size,):
        raise ValueError(f"{name} must be 1-D with {size} values (values' axis), got shape {coordinate.shape}")
    if not np.isfinite(coordinate).all() or np.unique(coordinate).size != size:
        raise ValueError(f"{name} must be finite without repeated values")
    return coordinate


def _check_shape(shape: Any) -> tuple[int, int, int]:
    if (
        not isinstance(shape, Sequence)
        or len(shape) != 3
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise ValueError(f"shape must be three positive ints (T, Y, X), got {shape!r}")
    return tuple(int(n) for n in shape)


def _check_observed(observed: Any, shape: tuple[int, int, int]) -> np.ndarray:
    if observed is None:
        return np.ones(shape, dtype=bool)
    if not isinstance(observed, np.ndarray) or observed.dtype != bool:
        raise TypeError(f"observed must be a boolean numpy.ndarray, got {getattr(observed, 'dtype', type(observed))}")
    if observed.shape != shape:
        raise ValueError(f"observed must have shape {shape}, got {observed.shape}")
    return observed


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if not isinstance(value, (float, int)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)
