"""Boxes held out in every time step, shaped like the gaps the data have.

Where some location of modes 2..K (space, for a ``time × lat × lon`` field) is never observed at any
index of mode 1 (land, a cloud or sensor box present in every time step), filling it is extrapolation
through the separable structure. Both the rank selection (:func:`tensorkit.funbat.rank.select_ranks`)
and the interval calibration (:mod:`tensorkit.funbat.gap_calibration`) therefore score FunBaT on such
gaps made on purpose: boxes of modes 2..K held out at every index of mode 1.

The error of that extrapolation grows with the size of the gap, so the boxes take the extent of the
largest never-observed gap (its bounding box), up to :data:`MAX_BOX_FRACTION` of each mode. Measured
on the gap-fill fields (``experiments/funbat/gapfill.py``, a box of a quarter of each spatial size
hidden in every time step), boxes of a fixed 15 % of each mode were easier than the gap: they chose
ranks that extrapolated worse (North American temperature: 1.16 × griddata's RMSE) and intervals that
covered 75 % of the gap (Euro-Atlantic z500).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import torch

__all__ = ["BLOCK_FRACTION", "MAX_BOX_FRACTION", "box_extents", "held_out_boxes", "never_observed"]

#: a box spans at most this fraction of each of modes 2..K, so that most of the field is left to fit on
MAX_BOX_FRACTION = 0.25
#: a box spans this fraction of each of modes 2..K when every location was observed (no gap to copy)
BLOCK_FRACTION = 0.15


def never_observed(shape: tuple[int, ...], cells: torch.Tensor) -> torch.Tensor:
    """Locations of modes 2..K observed at no index of mode 1.

    Parameters
    ----------
    shape : tuple of int
        Grid size per mode.
    cells : (N,) long tensor
        Flat C-order cell of each observed point.

    Returns
    -------
    bool tensor of shape ``shape[1:]``
    """
    tail = math.prod(shape[1:])
    seen = torch.zeros(tail, dtype=torch.bool, device=cells.device)
    seen[cells % tail] = True
    return ~seen.reshape(shape[1:])


def box_extents(shape: tuple[int, ...], cells: torch.Tensor) -> tuple[int, ...]:
    """Extent per mode 2..K of a held-out box: the bounding box of the largest never-observed gap.

    The gap is the largest face-connected set of :func:`never_observed` locations; each extent is at
    least 1 and at most :data:`MAX_BOX_FRACTION` of the mode. Without such a gap the box spans
    :data:`BLOCK_FRACTION` of each mode.
    """
    tail_shape = shape[1:]
    labels, n_gaps = scipy.ndimage.label(never_observed(shape, cells).cpu().numpy())
    if n_gaps == 0:
        return tuple(max(1, round(BLOCK_FRACTION * n)) for n in tail_shape)
    largest = int(np.bincount(labels.reshape(-1))[1:].argmax())
    bounds = scipy.ndimage.find_objects(labels)[largest]
    return tuple(max(1, min(s.stop - s.start, round(MAX_BOX_FRACTION * n))) for s, n in zip(bounds, tail_shape))


def held_out_boxes(shape: tuple[int, ...], cells: torch.Tensor, n_held: int, generator: torch.Generator) -> torch.Tensor:
    """Points inside random boxes of modes 2..K (all of mode 1), boxes added until ``n_held`` are covered.

    The boxes have the :func:`box_extents` of the data; at most all points but one are held out.

    Parameters
    ----------
    shape : tuple of int
        Grid size per mode.
    cells : (N,) long tensor
        Flat C-order cell of each point.
    n_held : int
        Points to cover.
    generator : torch.Generator
        Draws the boxes' positions.

    Returns
    -------
    (M,) long tensor
        Indices into ``cells`` of the held-out points.
    """
    tail_shape = shape[1:]
    extents = box_extents(shape, cells)
    tail_of = cells % math.prod(tail_shape)
    held = torch.zeros(math.prod(tail_shape), dtype=torch.bool, device=cells.device)
    while int(held[tail_of].sum()) < n_held:
        box = torch.zeros(tail_shape, dtype=torch.bool, device=cells.device)
        starts = [int(torch.randint(0, n - e + 1, (1,), generator=generator)) for n, e in zip(tail_shape, extents)]
        box[tuple(slice(s, s + e) for s, e in zip(starts, extents))] = True
        held |= box.reshape(-1)
    return torch.nonzero(held[tail_of])[:, 0][: cells.numel() - 1]
