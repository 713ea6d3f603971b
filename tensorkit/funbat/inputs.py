"""FunBaT's training inputs: scattered ``N×K`` coordinates and values, or a DataArray, checked."""

from __future__ import annotations

import sys
from typing import Any

import torch

from tensorkit._validation import as_tensor

__all__ = ["is_dataarray", "training_data"]


def is_dataarray(x: Any) -> bool:
    """Whether ``x`` is an ``xarray.DataArray`` (without importing xarray: if it is not imported, x is not one)."""
    xr = sys.modules.get("xarray")
    return xr is not None and isinstance(x, xr.DataArray)


def training_data(coords: Any, values: Any) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], dict[str, dict]]:
    """The observed points and values of a fit, its dim names and how its dates map to numbers.

    Parameters
    ----------
    coords : (N, K) tensor or array, or xarray.DataArray
        Raw coordinates; a DataArray carries its own coordinates and values (NaN = not observed),
        and ``values`` must then be None.
    values : (N,) tensor or array, optional
        Rows with NaN values are dropped.

    Returns
    -------
    X : (N, K) float tensor
    y : (N,) tensor
    dims : tuple of str
        The DataArray's dims, else ``dim_0``, ``dim_1``, ….
    time_encoding : dict
        Per dim, the ``tensorkit_*`` attributes that map its dates to days (empty for numbers).

    Raises
    ------
    ValueError, TypeError
        Naming ``coords`` or ``values``: missing or extra values, a tensor requiring grad, half
        precision, fewer than 2 columns, mismatched lengths, fewer than 2 observed entries.
    """
    if is_dataarray(coords):
        if values is not None:
            raise ValueError("values must be None when coords is an xarray.DataArray")
        from tensorkit.data import Observations

        obs = Observations.from_dataarray(coords)
        encoding = {d: {k: v for k, v in obs.coord_attrs[d].items() if k.startswith("tensorkit_")} for d in obs.dims}
        X, y, dims = obs.points(), obs.values, obs.dims
    else:
        if values is None:
            raise ValueError("values is required when coords is not an xarray.DataArray")
        for value, name in [(coords, "coords"), (values, "values")]:
            if torch.is_tensor(value) and value.requires_grad:
                raise ValueError(f"{name} requires grad; FunBaT is fitted by message passing, pass {name}.detach()")
            if torch.is_tensor(value) and value.dtype in (torch.float16, torch.bfloat16):
                raise TypeError(f"{name} must be float32 or float64 (or integer coordinates), got {value.dtype}")
        X = as_tensor(coords, "coords", dtype=torch.float64 if not torch.is_tensor(coords) else None, ndim=2)
        if not X.is_floating_point():
            X = X.to(torch.float64)
        if X.shape[1] < 2:
            raise ValueError(f"coords has {X.shape[1]} feature(s) but must have at least 2 columns (one per mode); "
                             "one mode is plain GP regression (e.g. tensorkit.gp.smooth)")
        y = as_tensor(values, "values", dtype=X.dtype, device=X.device, ndim=1, allow_nan=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"coords has {X.shape[0]} rows but values has {y.shape[0]} entries")
        keep = ~torch.isnan(y)
        X, y = X[keep], y[keep]
        dims = tuple(f"dim_{k}" for k in range(X.shape[1]))
        encoding = {d: {} for d in dims}
    if y.numel() < 2:
        raise ValueError(f"values must hold at least 2 observed entries, got n_samples={y.numel()}")
    return X, y, dims, encoding
