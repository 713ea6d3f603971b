"""xarray in/out for completion: fill the NaN cells of a DataArray, sparse results along ``obs``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from tensorkit.completion.arms import rmse
from tensorkit.completion.data import holdout_split
from tensorkit.completion.estimator import DAIN
from tensorkit.core.tenalg import unravel_index
from tensorkit.data import Observations
from tensorkit.data.cf import quantity_attrs
from tensorkit.data.observations import on_input_grid
from tensorkit.runtime import resolve_device

__all__ = ["complete_dataarray", "predict_all_cells", "sparse_dataset"]


@torch.no_grad()
def predict_all_cells(est: DAIN, shape: Sequence[int], chunk: int = 262_144) -> torch.Tensor:
    """Predictions of a fitted estimator at every cell of ``shape`` (row-major), in chunks."""
    total = math.prod(shape)
    device = est.train_indices_.device
    out = []
    for start in range(0, total, chunk):
        out.append(est.predict(unravel_index(torch.arange(start, min(start + chunk, total), device=device), shape)))
    return torch.cat(out)


def complete_dataarray(
    da: xr.DataArray,
    model: str = "mlp",
    sampler: str = "influence",
    augment_ratio: float = 0.5,
    seed: int = 0,
    standardize: bool = True,
    holdout: float = 0.0,
    device: str | torch.device | None = "auto",
    **options: Any,
) -> xr.Dataset:
    """Fit :class:`DAIN` to the observed (non-NaN) cells of ``da`` and fill the missing ones.

    Parameters
    ----------
    da : xarray.DataArray
        The tensor; NaN marks unobserved cells. Coordinates become mode labels.
    model, sampler, augment_ratio, seed : see :class:`DAIN` (``sampler="none"``: no augmentation).
    standardize : bool
        Fit on standardised values (predictions come back in ``da``'s units).
    holdout : float
        Fraction of observed cells hidden from the fit to report a held-out RMSE (0: none).
    device : str or torch.device
        Where to fit (``"auto"``: CUDA when available).
    **options
        Further :class:`DAIN` options (``model_options``, ``max_epochs``, ...).

    Returns
    -------
    xarray.Dataset
        ``completed`` (observed values kept, missing cells predicted), ``prediction`` (the model at
        every cell) and ``observed`` (bool), on ``da``'s grid (its coordinates, in its order); attrs record the settings and metrics.
    """
    est = DAIN(model, augment_ratio=augment_ratio, sampler=sampler, seed=seed, standardize=standardize, **options)
    obs = Observations.from_dataarray(da).to(resolve_device(device))
    fit_obs, test_obs = holdout_split(obs, holdout, seed)
    est.fit(fit_obs.indices, fit_obs.values, shape=obs.shape)
    pred = predict_all_cells(est, obs.shape).double().cpu().numpy().reshape(obs.shape)
    template = obs.to_dataarray()
    observed = ~np.isnan(template.values)
    attrs = {
        "method": f"tensorkit.completion.DAIN (model={model}, sampler={sampler}, augment_ratio={augment_ratio})",
        "seed": seed, "n_observed": int(observed.sum()), "n_augmented": int(est.augmented_indices_.shape[0]),
        "best_epoch": est.result_.best_epoch, "stop_reason": est.result_.stop_reason,
    }  # fmt: skip
    if test_obs is not None:
        attrs["holdout"] = holdout
        attrs["holdout_rmse"] = rmse(est.predict(test_obs.indices), test_obs.values)
    dims, var_attrs = template.dims, dict(template.attrs)
    data = {
        "completed": (dims, np.where(observed, template.values, pred), var_attrs),
        "prediction": (dims, pred, quantity_attrs(var_attrs, f"DAIN ({model}) prediction of {{}} at every cell")),
        "observed": (dims, observed),
    }
    return on_input_grid(xr.Dataset(data, coords=template.coords, attrs=attrs), da)


def sparse_dataset(
    indices: torch.Tensor, values: torch.Tensor, predictions: torch.Tensor, dims: Sequence[str], attrs: dict | None = None
) -> xr.Dataset:
    """Cells along an ``obs`` dimension with one integer index coordinate per mode."""
    coords = {f"index_{d}": ("obs", indices[:, k].cpu().numpy()) for k, d in enumerate(dims)}
    data = {
        "value": ("obs", values.double().cpu().numpy(), {"long_name": "observed value"}),
        "prediction": ("obs", predictions.double().cpu().numpy(), {"long_name": "completed value"}),
    }
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))
