"""The ``da.tk`` accessor: one-line tensor methods on xarray DataArrays.

``import tensorkit`` registers it, through :func:`register` as soon as xarray is imported (at once when
it already is), so that importing tensorkit does not import xarray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["TensorkitAccessor", "register"]


def register() -> None:
    """Register :class:`TensorkitAccessor` as ``xarray.DataArray.tk`` (once; later calls do nothing)."""
    import xarray as xr

    if getattr(xr.DataArray, "tk", None) is not TensorkitAccessor:
        xr.register_dataarray_accessor("tk")(TensorkitAccessor)


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

    def complete(self, model: str = "mlp", sampler: str = "influence", **kwargs: Any) -> xr.Dataset:
        """Fill the NaN cells with neural tensor completion, optionally with DAIN augmentation.

        Parameters
        ----------
        model : {"mlp", "costco", "cp", "tucker"}
            Completion backbone.
        sampler : {"influence", "uniform", "frequency", "none"}
            Augmentation sampler (``"influence"`` is DAIN, ``"none"`` no augmentation).
        **kwargs
            Passed to :func:`tensorkit.completion.xarray_io.complete_dataarray`.
        """
        from tensorkit.completion.xarray_io import complete_dataarray

        return complete_dataarray(self._da, model=model, sampler=sampler, **kwargs)

    def chebtucker(self, **kwargs: Any) -> Any:
        """Fit a mesh-free Chebyshev–Tucker model to this gridded field (its coordinates give the box).

        Returns the fitted :class:`tensorkit.chebyshev.ChebTucker`; sample it back onto coordinates named
        by this DataArray's dimensions, in any order, with ``model.to_dataarray(lat=..., lon=...)``.

        Parameters
        ----------
        **kwargs
            Passed to :class:`tensorkit.chebyshev.ChebTucker` (``degree``, ``tol``, ``rank``, …).
        """
        from tensorkit.chebyshev import ChebTucker

        return ChebTucker(**kwargs).fit(self._da)

    def funbat(self, rank: Any = "auto", grid: Any = None, **kwargs: Any) -> xr.Dataset:
        """FunBaT (functional Bayesian Tucker with GP factor functions); Dataset with ``mean``, ``std``, factors.

        Parameters
        ----------
        rank : "auto", int or sequence of int
        grid : mapping of dim → coordinates, optional
            Predict on these coordinates (e.g. a finer grid) instead of the input's.
        **kwargs
            Passed to :class:`tensorkit.FunBaT`.
        """
        from tensorkit.funbat.xarray_io import funbat_dataset

        return funbat_dataset(self._da, rank=rank, grid=grid, **kwargs)
