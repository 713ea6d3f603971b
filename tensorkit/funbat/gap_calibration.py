"""Interval width where a location was never observed, calibrated by refitting without held-out boxes.

The residual GP's amplitude is calibrated by leave-one-out residuals at observed cells (see
:meth:`tensorkit.gp.grid.GridGP._loo_amplitude`). A cell left out at one time step still has its own
location observed at the neighbouring time steps, so those residuals say how well FunBaT fills
*scattered* gaps. Where a location of modes 2..K was never observed at any index of mode 1 (land, a
cloud or sensor box present in every time step), the fill is an extrapolation through the separable
structure plus a spatial interpolation of the residual, and its error is larger than the GP's
posterior variance says: measured on the gap-fill fields with a box hidden in every time step, the
squared errors were 4× (NCEP air temperature) to 46× (Euro-Atlantic z500) the predictive variance,
at the box's edge as much as at its centre.

That ratio is measured here on the data, the way the errors arise: boxes of modes 2..K shaped like
the data's largest never-observed gap (:func:`tensorkit.funbat.gap_boxes.held_out_boxes`, as in the
block split of :func:`tensorkit.funbat.rank.select_ranks`) are held out in every time step, FunBaT is
refitted without them (same ranks, residual off), the residual GP with the learned kernel is
conditioned on the refit's residuals, and the predictive variance at never-observed locations becomes
``a · v + b``, with ``(a, b)`` fitted to the errors on the boxes (:func:`fit_variance_model`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from tensorkit.funbat.gap_boxes import held_out_boxes, never_observed
from tensorkit.funbat.residual import grid_layout
from tensorkit.gp.grid import GridGP

if TYPE_CHECKING:
    from tensorkit.funbat.estimator import FunBaT

__all__ = ["HELD_OUT", "block_variance_model", "fit_variance_model"]

#: share of the observed cells held out, in boxes, by the refit
HELD_OUT = 0.1


def block_variance_model(model: FunBaT, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float] | None:
    """FunBaT's predictive variance ``v`` made ``a · v + b`` by its errors on boxes held out in every time step.

    Parameters
    ----------
    model : FunBaT
        Fitted, with a residual GP.
    X : (N, K) tensor
        The raw training coordinates.
    y : (N,) tensor
        The raw training values.

    Returns
    -------
    (a, b) or None
        The variance model at locations of modes 2..K never observed (:func:`fit_variance_model`,
        standardised units); ``(1, 0)`` when every location was observed at least once (no such gap to
        calibrate on) or the data have one mode; None when the refit was interrupted (SIGTERM, SIGINT).
    """
    gp = model._residual.gp
    shape = tuple(gp.observed.shape)
    cells = torch.nonzero(gp.observed.reshape(-1))[:, 0]  # C order = the order of gp.values
    if len(shape) < 2 or not bool(never_observed(shape, cells).any()):
        return 1.0, 0.0
    _, point_cells = grid_layout((X - model.coordinate_shift_) / model.coordinate_scale_)
    order = torch.argsort(point_cells)  # the rows of X in the C order of their cells, as gp.values
    generator = torch.Generator().manual_seed(int(model.seed))
    held = held_out_boxes(shape, cells, max(2, round(HELD_OUT * cells.numel())), generator)
    train = torch.ones(cells.numel(), dtype=torch.bool, device=cells.device)
    train[held] = False

    params = model.get_params() | {"rank": model.rank_, "residual": None, "checkpoint": None, "verbose": False}
    refit = type(model)(**params).fit(X[order][train], y[order][train])
    if refit.interrupted_:
        return None
    residuals = (y[order] - refit.predict(X[order])) / model.value_scale_

    fold_observed = torch.zeros(math.prod(shape), dtype=torch.bool, device=cells.device)
    fold_observed[cells[train]] = True
    fold = GridGP(gp.grids, fold_observed.reshape(shape), residuals[train], gp.kinds, gp.periods, gp.n_samples, gp.seed)
    fold.kernel = gp.kernel
    mean, variance = fold.posterior()
    at_held = cells[held]
    errors = residuals[held] - mean.reshape(-1)[at_held]
    return fit_variance_model(errors, variance.reshape(-1)[at_held] + gp.kernel.noise)


def fit_variance_model(errors: torch.Tensor, variances: torch.Tensor) -> tuple[float, float]:
    """``a ≥ 1, b ≥ 0`` maximising the Gaussian likelihood of ``errors`` with variances ``a · variances + b``.

    ``a`` rescales the GP's own variance (right where the GP's error grows across a gap as its variance
    does); ``b`` adds a constant (right where the error comes from the low-rank extrapolation, which a
    smooth GP that is confident across the gap does not see). The model is never narrower than the
    GP's variance (``a ≥ 1``): the held-out boxes are a sample of gaps, and a user's gap may be harder.
    """
    e2, v = errors.detach() ** 2, variances.detach()
    start = max(float((e2 / v).mean()) - 1, 1e-6)
    raw = torch.tensor([math.log(start), math.log(float(e2.mean()) * 1e-3 + 1e-300)], dtype=e2.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([raw], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        total = (1 + torch.exp(raw[0])) * v + torch.exp(raw[1])
        loss = (torch.log(total) + e2 / total).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    excess, b = torch.exp(raw.detach())
    return 1.0 + float(excess), float(b)

