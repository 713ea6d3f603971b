"""PDE data sets as xarray Datasets, written to chunked netCDF (or zarr) with their parameters."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

from tensorkit._validation import check_positive_int
from tensorkit.data.io import write_netcdf
from tensorkit.runtime import progress
from tensorkit.runtime.atomic import atomic_path


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


def _encoding(ds: Any, chunk_samples: int) -> dict[str, dict[str, Any]]:
    """netCDF encoding of ``ds``'s data variables: chunks of ``chunk_samples`` along ``sample``, zlib level 1."""
    def chunks(var: Any) -> tuple[int, ...]:
        return tuple(min(chunk_samples, n) if d == "sample" else n for d, n in zip(var.dims, var.shape))

    return {name: {"chunksizes": chunks(var), "zlib": True, "complevel": 1} for name, var in ds.data_vars.items()}


def write_dataset(ds: Any, path: str | os.PathLike, chunk_samples: int = 64) -> None:
    """Write ``ds`` chunked along ``sample``: ``.zarr`` paths with zarr, anything else as netCDF (atomic)."""
    if str(path).endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError as err:
            raise ImportError("writing .zarr needs the zarr package; use a .nc path for netCDF") from err
        ds.chunk({"sample": chunk_samples}).to_zarr(path, mode="w")
        return
    for name, enc in _encoding(ds, chunk_samples).items():
        ds[name].encoding.update(enc)
    write_netcdf(ds, path)


def write_generated(
    path: str | os.PathLike, generate: Callable[..., Mapping[str, torch.Tensor]], n_samples: int, *,
    chunk_samples: int = 256, storage_samples: int = 32, seed: int = 0, verbose: bool | None = None, **params: Any,
) -> None:
    """Generate a data set chunk by chunk, appending each chunk to a netCDF file along ``sample``.

    Only one chunk is ever in memory, so a data set larger than RAM can be made (and then read
    with :class:`~tensorkit.data.pde.NetCDFPairs`). The file is written beside ``path`` under a
    temporary name and renamed when complete: an interrupted run leaves no partial file.

    Parameters
    ----------
    path : path-like
        netCDF file to write.
    generate : callable
        A generator such as :func:`darcy_flow`, :func:`burgers_1d` or :func:`navier_stokes_2d`:
        ``generate(n, seed=..., **params)`` returns ``a`` and ``u`` (and optionally ``t``).
    n_samples : int
        Total number of samples.
    chunk_samples : int
        Samples generated at a time. Chunk ``k`` is ``generate(chunk_samples, seed=seed + k,
        **params)`` (the last one shorter), so the file is fixed by ``seed`` and ``chunk_samples``.
    storage_samples : int
        Samples per netCDF (HDF5) chunk, at most ``chunk_samples``. A shuffled training batch
        decompresses one stored chunk per sample, so small chunks keep streamed reads cheap
        (``benchmarks/results/streaming.md``).
    seed : int
        Seed of the first chunk.
    verbose : bool, optional
        Progress over the chunks (default: only on a terminal).
    **params
        Passed to ``generate`` and stored as global attributes.

    Raises
    ------
    ValueError
        A chunk whose variables or shapes differ from the first chunk's.
    """
    import netCDF4

    n_samples = check_positive_int(n_samples, "n_samples")
    chunk_samples = check_positive_int(chunk_samples, "chunk_samples")
    stored = min(check_positive_int(storage_samples, "storage_samples"), chunk_samples)
    attrs = {**params, "generator": getattr(generate, "__name__", str(generate)), "seed": int(seed),
             "chunk_samples": chunk_samples, "n_samples": n_samples}
    starts = range(0, n_samples, chunk_samples)
    with atomic_path(path) as tmp:
        for k, start in enumerate(progress(starts, desc="generating", verbose=verbose)):
            ds = to_dataset(generate(min(chunk_samples, n_samples - start), seed=int(seed) + k, **params), attrs)
            if k == 0:
                ds.to_netcdf(tmp, engine="netcdf4", unlimited_dims=["sample"], encoding=_encoding(ds, stored))
                layout = {name: var.shape[1:] for name, var in ds.data_vars.items()}
                continue
            found = {name: var.shape[1:] for name, var in ds.data_vars.items()}
            if found != layout:
                raise ValueError(f"{getattr(generate, '__name__', generate)} chunk {k} has variables {found}, "
                                 f"the first chunk {layout}")  # fmt: skip
            with netCDF4.Dataset(tmp, "a") as nc:
                for name, var in ds.data_vars.items():
                    nc[name][start:start + var.shape[0]] = var.values


def read_pairs(path: str | os.PathLike, input_var: str = "a", output_var: str = "u", time_index: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` float32 tensors (N, 1, …) for operator learning from a written data set.

    When ``output_var`` has a ``t`` dim, the snapshot ``time_index`` is used (default: the last).
    The whole file is read; :class:`~tensorkit.data.pde.NetCDFPairs` reads the same samples lazily.
    """
    from tensorkit.data.pde.stream import NetCDFPairs

    return NetCDFPairs(path, input_var, output_var, time_index=time_index).load()
