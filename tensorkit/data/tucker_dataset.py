"""Masked Tucker of a DataArray, returned as an xarray Dataset."""

from __future__ import annotations

from typing import Any

import torch
import xarray as xr

from tensorkit.core import hooi
from tensorkit.data.observations import Observations, on_input_grid


def tucker_dataset(da: xr.DataArray, rank: Any = None, tol: float | None = None, **kwargs: Any) -> xr.Dataset:
    """Fit :func:`tensorkit.core.hooi` to the observed cells of ``da``.

    Returns
    -------
    xarray.Dataset
        ``reconstruction`` and ``observed`` (bool) on ``da``'s grid (its coordinates, in its order),
        ``factor_<dim>`` over each dimension and ``core``;
        attrs record the ranks, the settings and the relative error on observed cells.
    """
    obs = Observations.from_dataarray(da)
    dense, mask = obs.to_dense()
    tucker, errors = hooi(dense, rank=rank, tol=tol, mask=None if mask.all() else mask, return_errors=True, **kwargs)
    template = obs.to_dataarray()
    ranks = [f"rank_{d}" for d in obs.dims]
    data = {
        "reconstruction": (obs.dims, tucker.to_dense().cpu().numpy(), dict(template.attrs)),
        "core": (tuple(ranks), tucker.core.cpu().numpy()),
        "observed": (obs.dims, mask.cpu().numpy(), {"long_name": f"whether the cell of {da.name} was observed (and fitted)"}),
    }
    for d, r, u in zip(obs.dims, ranks, tucker.factors):
        data[f"factor_{d}"] = ((d, r), u.cpu().numpy())
    attrs = {
        "method": "tensorkit.core.hooi (masked Tucker-ALS)",
        "ranks": list(tucker.rank),
        "relative_error_observed": errors[-1],
        "tol": "none" if tol is None else tol,
        "source_variable": str(da.name),
    }
    return on_input_grid(xr.Dataset(data, coords=template.coords, attrs=attrs), da)
