"""Save and load a fitted Chebyshev–Tucker function as a small ``.npz`` or netCDF file (written atomically).

The file holds the core, one coefficient factor ``(m_ℓ, r_ℓ)`` per mode and the box; nothing else is
needed to evaluate the function anywhere. No pickle is used in either format.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from tensorkit.chebyshev.basis import ChebyshevBasis
from tensorkit.chebyshev.function import ChebTuckerFunction
from tensorkit.runtime import atomic_write

__all__ = ["save_model", "load_model"]


def function_arrays(function: ChebTuckerFunction) -> dict[str, np.ndarray]:
    """The arrays that define ``function``: ``core``, ``coeffs_<k>`` per mode and ``domain``."""
    arrays = {"core": function.core.detach().cpu().numpy(), "domain": np.asarray(function.domain, dtype=float)}
    for k, basis in enumerate(function.bases):
        arrays[f"coeffs_{k}"] = basis.coeffs.detach().cpu().numpy()
    return arrays


def save_model(function: ChebTuckerFunction, path: str | os.PathLike, attrs: dict | None = None) -> None:
    """Write ``function`` to ``path`` (``.npz``, or netCDF for ``.nc``), atomically."""
    path = Path(path)
    arrays = function_arrays(function)
    if path.suffix == ".nc":
        import xarray as xr

        from tensorkit.data import write_netcdf

        d = function.ndim
        variables = {"core": ([f"rank_{k}" for k in range(d)], arrays["core"]),
                     "domain": (["mode", "end"], arrays["domain"])}
        for k in range(d):
            variables[f"coeffs_{k}"] = ([f"coeff_{k}", f"rank_{k}"], arrays[f"coeffs_{k}"])
        ds = xr.Dataset(variables, attrs={"format": "tensorkit Chebyshev-Tucker", **(attrs or {})})
        write_netcdf(ds, path)
        return
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_model(path: str | os.PathLike) -> ChebTuckerFunction:
    """Read a function written by :func:`save_model`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    if path.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(path) as ds:
            arrays = {name: np.asarray(ds[name].values) for name in ds.data_vars}
    else:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    return function_from_arrays(arrays)


def function_from_arrays(arrays: dict[str, np.ndarray]) -> ChebTuckerFunction:
    """The function whose ``core``, ``coeffs_<k>`` and ``domain`` arrays are given (exact: no copies cast)."""
    core = torch.as_tensor(arrays["core"])
    bases = [ChebyshevBasis(torch.as_tensor(arrays[f"coeffs_{k}"]), tuple(map(float, arrays["domain"][k])))
             for k in range(core.ndim)]
    return ChebTuckerFunction(core, bases)
