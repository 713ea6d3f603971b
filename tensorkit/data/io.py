"""netCDF input and output through xarray (zarr stores read as well); writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tensorkit.data.filetype import check_netcdf_size
from tensorkit.runtime.atomic import atomic_path

ENGINES = ("netcdf4", "h5netcdf")
_ZARR_METADATA = ("zarr.json", ".zgroup", ".zmetadata")


def is_zarr_store(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding a zarr store (v2 or v3 metadata) or named ``*.zarr``."""
    folder = Path(path)
    return folder.is_dir() and (folder.suffix == ".zarr" or any((folder / m).exists() for m in _ZARR_METADATA))


def open_dataset(path: str | os.PathLike, engine: str | None = None, chunks: Any = None) -> Any:
    """Open a netCDF file or a zarr store as a lazily read ``xarray.Dataset`` (nothing is loaded until indexed).

    Parameters
    ----------
    path : path-like
        netCDF file, or a zarr store (a folder, see :func:`is_zarr_store`; needs the ``zarr``
        package: ``pip install tensorkit[zarr]``).
    engine : {"netcdf4", "h5netcdf"}, optional
        xarray backend of a netCDF file; default lets xarray choose. Not used for a zarr store.
    chunks : optional
        Dask chunks for lazy reading of large files (e.g. ``{"time": 100}``).

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, unreadable file, a classic netCDF file shorter than its header declares
        (truncated), a folder that is not a zarr store.
    ImportError
        A zarr store without the ``zarr`` package installed.
    """
    import xarray as xr

    if not os.path.exists(path):
        raise FileNotFoundError(f"input file {str(path)!r} does not exist")
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if os.path.isdir(path):
        return _open_zarr(path, chunks)
    check_netcdf_size(path)
    try:
        return xr.open_dataset(path, engine=engine, chunks=chunks)
    except (OSError, ValueError, RuntimeError) as err:
        raise ValueError(f"cannot read {str(path)!r} as netCDF: {err}") from err


def _open_zarr(path: str | os.PathLike, chunks: Any) -> Any:
    import importlib.util

    import xarray as xr

    if not is_zarr_store(path):
        raise ValueError(f"{str(path)!r} is a folder but not a zarr store (no {'/'.join(_ZARR_METADATA)}); "
                         "give a netCDF file or a zarr store")  # fmt: skip
    if importlib.util.find_spec("zarr") is None:
        raise ImportError(f"{str(path)!r} is a zarr store; reading it needs the zarr package "
                          "(pip install 'tensorkit[zarr]')")  # fmt: skip
    try:
        return xr.open_dataset(path, engine="zarr", chunks=chunks)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise ValueError(f"cannot read {str(path)!r} as a zarr store: {err}") from err


def dataset_variable(ds: Any, var: str | None, path: str | os.PathLike) -> Any:
    """Variable ``var`` of ``ds`` (opened from ``path``); ``None`` takes the only data variable.

    Raises
    ------
    KeyError, ValueError
        A missing variable (the message names ``path`` and lists the available ones), or
        ``var=None`` with several data variables.
    """
    bounds = {v.attrs.get("bounds") for v in ds.variables.values()}
    names = [name for name in ds.data_vars if name not in bounds]  # CF bounds variables describe coordinates
    if var is None:
        if len(names) != 1:
            raise ValueError(f"{str(path)!r} holds variables {names}: choose one with var=")
        var = names[0]
    if var not in ds.data_vars:
        raise KeyError(f"variable {var!r} not found in {str(path)!r}; available: {names}")
    return ds[var]


def open_dataarray(path: str | os.PathLike, var: str | None = None, engine: str | None = None, chunks: Any = None) -> Any:
    """Open one variable of a netCDF file or zarr store as a DataArray (``path``, ``engine``, ``chunks`` as in :func:`open_dataset`).

    ``var`` may be omitted when the file holds exactly one data variable (not counting the bounds
    variables of coordinates).

    Raises
    ------
    FileNotFoundError, KeyError, ValueError
        Missing file, missing variable (the message lists the available ones), unreadable file,
        a classic netCDF file shorter than its header declares (truncated).
    """
    return dataset_variable(open_dataset(path, engine, chunks), var, path)


def write_netcdf(obj: Any, path: str | os.PathLike, engine: str = "netcdf4", encoding: Any = None) -> None:
    """Write an xarray Dataset or DataArray to ``path`` atomically (temp file + rename).

    ``encoding`` maps variable names to xarray encodings (``dtype``, ``zlib``, …).
    """
    import xarray as xr

    if not isinstance(obj, (xr.Dataset, xr.DataArray)):
        raise TypeError(f"obj must be an xarray Dataset or DataArray, got {type(obj).__name__}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    with atomic_path(path) as tmp:
        obj.to_netcdf(tmp, engine=engine, encoding=encoding)
