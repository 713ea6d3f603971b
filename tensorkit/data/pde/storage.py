"""PDE data sets as xarray Datasets, written to chunked netCDF (or zarr) with their parameters."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from tensorkit.data.io import write_netcdf


def to_dataset(result: Mapping[str, torch.Tensor], attrs: Mapping[str, Any]) -> Any:
    """An ``xarray.Dataset`` from a generator's output (``a``, ``u``, optional ``t``).

    Spatial dims are ``x`` (and ``y``), on ``[0, 1)``; ``u`` of shape (sample, t, space…) gets a
    ``t`` dim. ``attrs`` (the generator's parameters) become global attributes.
    """
    import xarray as xr

    a, u = result["a"].numpy(), result["u"].numpy()
    space = ["x", "y", "z"][: a.ndim - 1]
    coords: dict[str, Any] = {d: torch.arange(n).numpy() / n for d, n in zip(space, a.shape[1:])}
    u_dims = ["sample", *space]
    if u.ndim == a.ndim + 1:  # trajectories: (sample, t, space…)
        u_dims.insert(1, "t")
        coords["t"] = result["t"].numpy() if "t" in result else torch.arange(u.shape[1]).numpy()
    clean = {k: (str(v) if isinstance(v, (bool, torch.dtype)) or v is None else v) for k, v in attrs.items()}
    return xr.Dataset({"a": (["sample", *space], a), "u": (u_dims, u)}, coords=coords, attrs=clean)


def write_dataset(ds: Any, path: str | os.PathLike, chunk_samples: int = 64) -> None:
    """Write ``ds`` chunked along ``sample``: ``.zarr`` paths with zarr, anything else as netCDF (atomic)."""
    chunks = {name: tuple(min(chunk_samples, n) if d == "sample" else n for d, n in zip(var.dims, var.shape))
              for name, var in ds.data_vars.items()}
    if str(path).endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError as err:
            raise ImportError("writing .zarr needs the zarr package; use a .nc path for netCDF") from err
        ds.chunk({"sample": chunk_samples}).to_zarr(path, mode="w")
        return
    for name, var in ds.data_vars.items():
        var.encoding.update(chunksizes=chunks[name], zlib=True, complevel=1)
    write_netcdf(ds, path)


def read_pairs(path: str | os.PathLike, input_var: str = "a", output_var: str = "u", time_index: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` float32 tensors (N, 1, …) for operator learning from a written data set.

    When ``output_var`` has a ``t`` dim, the snapshot ``time_index`` is used (default: the last).
    """
    from tensorkit.data.io import open_dataarray

    x = open_dataarray(path, input_var).load()
    y = open_dataarray(path, output_var).load()
    if "t" in y.dims:
        y = y.isel(t=time_index)
    return (torch.from_numpy(x.values).float().unsqueeze(1), torch.from_numpy(y.values).float().unsqueeze(1))
