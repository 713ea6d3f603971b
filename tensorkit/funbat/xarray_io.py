"""FunBaT on an ``xarray.DataArray``: posterior mean, std and factor functions as an ``xarray.Dataset``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr

from tensorkit.data.cf import quantity_attrs
from tensorkit.data.observations import Observations, numeric_coordinate, on_input_grid
from tensorkit.funbat.estimator import FunBaT

__all__ = ["funbat_dataset", "output_prefix", "predict_on_grid", "predictive_moments"]

_LARGEST_VALUE = float(np.sqrt(np.finfo(np.float64).max)) / 1e3  # squares and sums of squares stay finite


def funbat_dataset(
    da: xr.DataArray,
    rank: Any = "auto",
    grid: Mapping[str, Any] | None = None,
    chunk: int = 65536,
    **kwargs: Any,
) -> xr.Dataset:
    """Fit :class:`FunBaT` to the observed (non-NaN) cells of ``da`` and describe the posterior.

    Parameters
    ----------
    da : xarray.DataArray
        Values on a grid whose coordinates are the FunBaT indexes (numbers or datetimes).
    rank : "auto", int or sequence of int
    grid : mapping of dim → coordinate values, optional
        Predict on these coordinates instead of ``da``'s (e.g. a finer grid); other dims keep theirs.
    chunk : int
        Cells predicted per batch.
    **kwargs
        Passed to :class:`FunBaT` (``kernel``, ``lengthscale``, ``decomposition``, ``n_epochs``, …).

    Returns
    -------
    xarray.Dataset
        ``<name>_mean`` and ``<name>_std`` (predictive, noise included; ``<name>`` is ``da.name``, or
        ``value``) with the input's CF quantity attributes over the (new) grid, in ``da``'s dims order;
        ``observed`` (bool: the cell is an observed cell of ``da``, so False at new coordinates); per dimension
        ``factor_<dim>`` and ``factor_<dim>_std`` over ``(dim, rank_<dim>)`` and the Tucker ``core`` (CP:
        over ``(dim, rank)``, and the components' ``weights`` over ``rank``); attrs with
        the settings, the selected lengthscales and the noise standard deviation.

    Raises
    ------
    ValueError
        If ``da`` holds values so large (≳1e151) that their second moments overflow float64.
    InterruptedError
        If SIGTERM/SIGUSR1/SIGINT stopped the fit (its state is in ``checkpoint`` when one is given;
        calling again with the same arguments resumes it).
    """
    obs = Observations.from_dataarray(da)
    largest = float(obs.values.abs().max())
    if largest > _LARGEST_VALUE:
        raise ValueError(f"da ({da.name!r}) holds values up to {largest:.3g}; FunBaT's float64 moments overflow above "
                         f"{_LARGEST_VALUE:.3g}: rescale the data (e.g. change its units)")  # fmt: skip
    grid = dict(grid or {})
    unknown = set(grid) - set(obs.dims)
    if unknown:
        raise ValueError(f"grid has dimensions {sorted(unknown)} that da does not have {obs.dims}")
    model = FunBaT(rank=rank, **kwargs).fit(obs.points(), obs.values)
    if model.interrupted_:
        saved = f"state saved to {str(model.checkpoint)!r}" if model.checkpoint is not None else "no checkpoint given"
        raise InterruptedError(f"FunBaT fit stopped after {model.n_epochs_run_} epochs; {saved}; run again to resume")
    template = obs.to_dataarray()
    coords, numeric = {}, []
    for k, dim in enumerate(obs.dims):
        if dim in grid:
            values = np.asarray(grid[dim])
            if values.ndim != 1 or values.size == 0:
                raise ValueError(f"grid[{dim!r}] must be a non-empty 1-D array")
            coords[dim] = values
            numeric.append(torch.from_numpy(numeric_coordinate(values, obs.coord_attrs.get(dim, {}), f"grid[{dim!r}]")))
        else:
            coords[dim] = template[dim].values
            numeric.append(obs.coords[k].cpu())
    shape = tuple(len(c) for c in numeric)
    points = torch.cartesian_prod(*numeric) if len(numeric) > 1 else numeric[0][:, None]
    means, stds = zip(*(model.predict(points[i : i + chunk], return_std=True) for i in range(0, len(points), chunk)))
    mean = torch.cat(means).reshape(shape).cpu().numpy()
    std = torch.cat(stds).reshape(shape).cpu().numpy()
    name = output_prefix(da)
    data = {
        f"{name}_mean": (obs.dims, mean, quantity_attrs(da.attrs, "FunBaT posterior predictive mean of {}")),
        f"{name}_std": (obs.dims, std, quantity_attrs(
            da.attrs, "FunBaT posterior predictive standard deviation of {} (noise included)", standard_error=True)),
    }
    core = model.core_.mean
    if model.decomposition == "cp":  # a CPTensor: the components share one rank dim, and the core is its weights
        rank_dims = ("rank",) * len(obs.dims)
        data["weights"] = ("rank", core.weights.cpu().numpy(), {"long_name": "CP component weights (value units)"})
    else:
        rank_dims = tuple(f"rank_{d}" for d in obs.dims)
        data["core"] = (rank_dims, core.cpu().numpy(), {"long_name": "posterior mean of the Tucker core (value units)"})
    for k, dim in enumerate(obs.dims):
        f_mean, f_cov = model.bases_[k].moments(numeric[k].to(model._ep.y.device))
        f_std = f_cov.diagonal(dim1=-2, dim2=-1).clamp_min(0).sqrt()
        data[f"factor_{dim}"] = ((dim, rank_dims[k]), f_mean.cpu().numpy(), {"long_name": f"posterior mean of the {dim} factor functions"})
        data[f"factor_{dim}_std"] = ((dim, rank_dims[k]), f_std.cpu().numpy(), {"long_name": f"posterior std of the {dim} factor functions"})
    attrs = {
        "method": "tensorkit.FunBaT (functional Bayesian Tucker, conditional EP with state-space GPs)",
        "source_variable": name,
        "decomposition": model.decomposition,
        "ranks": list(model.rank_),
        "kernel": " ".join(model.kernels_),
        "residual": model.residual or "none",
        "lengthscales_rescaled": list(model.lengthscales_),
        "lengthscales_user_units": model.lengthscales_user_,
        "lengthscale_setting": str(model.lengthscale),
        "variance": str(model.variance),
        "standardize": int(model.standardize),
        "noise_std": float(model.noise_precision_**-0.5),
        "n_epochs_run": model.n_epochs_run_,
        "converged": int(model.converged_),
        "collapsed": int(model.collapsed_),
        "seed": model.seed,
        "n_observed": len(obs),
    }
    if model.residual_ is not None:
        attrs.update({f"residual_{key}": value for key, value in model.residual_.items() if key != "kernels"})
    ds = xr.Dataset(data, coords={d: (d, coords[d], template[d].attrs if d not in grid else {}) for d in obs.dims}, attrs=attrs)
    if grid:  # the input's own coordinate order on the other dims (Observations sorts them ascending)
        ds = ds.sel({d: da[d].values for d in obs.dims if d not in grid and d in da.coords})
    else:
        ds = on_input_grid(ds, da)
    observed = da.notnull().drop_vars([c for c in da.coords if c not in da.dims]).reindex({d: ds[d] for d in grid}, fill_value=False)
    ds["observed"] = observed.transpose(*obs.dims).copy(deep=False)
    ds["observed"].attrs = {"long_name": f"whether the cell of {name} was observed (and fitted)"}
    return ds


def output_prefix(da: xr.DataArray) -> str:
    """The prefix of the output variables made from ``da``: its name, or ``"value"`` when it has none."""
    return "value" if da.name is None else str(da.name)


def predictive_moments(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """The predictive mean and std of a FunBaT Dataset or output file: ``<var>_mean`` and ``<var>_std``, or
    ``mean`` and ``std`` in files that tensorkit wrote before those names."""
    name = ds.attrs.get("source_variable", "value")
    for mean, std in ((f"{name}_mean", f"{name}_std"), ("mean", "std")):
        if mean in ds and std in ds:
            return ds[mean], ds[std]
    raise KeyError(f"no FunBaT predictive mean and std in this Dataset: neither {name}_mean/{name}_std nor mean/std "
                   f"among its variables {sorted(map(str, ds.data_vars))}")


def predict_on_grid(model: FunBaT, da: xr.DataArray, return_std: bool = False, include_noise: bool = True) -> Any:
    """Predictive mean (and std) of a fitted ``model`` on the grid of ``da`` (its values are not used).

    Parameters
    ----------
    model : FunBaT
    da : xarray.DataArray
        The fitted dims, in any order, with coordinates in the fitted units (datetimes, or cftime
        dates of the fitted calendar, for a fitted time).
    return_std, include_noise
        As in :meth:`FunBaT.predict`.

    Returns
    -------
    xarray.DataArray or (DataArray, DataArray)
        On ``da``'s dims, in its order, with its coordinates (``xarray.align(..., join="exact")``
        holds); the mean keeps ``da``'s name and attributes, the std is named ``<name>_std`` with its units.
    """
    if not isinstance(da, xr.DataArray) or sorted(map(str, da.dims)) != sorted(model.dims_):
        raise ValueError(f"da must be a DataArray with the fitted dims {model.dims_}, got {getattr(da, 'dims', type(da).__name__)}")
    axes = [torch.from_numpy(numeric_coordinate(da[d].values if d in da.coords else np.arange(da.sizes[d], dtype=float),
                                                model.time_encoding_[d], d)) for d in model.dims_]
    result = model.predict(torch.cartesian_prod(*axes), return_std=return_std, include_noise=include_noise)

    def on_grid(values: torch.Tensor, name: Any, attrs: dict) -> xr.DataArray:
        out = xr.DataArray(values.reshape([len(a) for a in axes]).cpu().numpy(), dims=model.dims_, name=name, attrs=attrs)
        return out.transpose(*da.dims).assign_coords(da.coords)

    if not return_std:
        return on_grid(result, da.name, dict(da.attrs))
    units = {"units": da.attrs["units"]} if "units" in da.attrs else {}
    return on_grid(result[0], da.name, dict(da.attrs)), on_grid(result[1], f"{da.name or 'value'}_std", units)
