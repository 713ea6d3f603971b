"""The ``da.tk`` accessor: one-line tensor methods on xarray DataArrays."""

from __future__ import annotations

from typing import Any

import xarray as xr


@xr.register_dataarray_accessor("tk")
class TensorkitAccessor:
    """tensorkit methods on a DataArray (NaN = not observed); results keep dims, coords and attrs."""

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def tucker(self, rank: Any = None, tol: float | None = None, **kwargs: Any) -> xr.Dataset:
        """Masked Tucker (HOOI) fit; returns a Dataset with the reconstruction, factors and core.

        Parameters
        ----------
        rank : int or sequence of int, optional
            Per-mode Tucker ranks.
        tol : float, optional
            Relative error target that picks the ranks.
        **kwargs
            Passed to :func:`tensorkit.core.hooi`.
        """
        from tensorkit.data.tucker_dataset import tucker_dataset

        return tucker_dataset(self._da, rank=rank, tol=tol, **kwargs)
