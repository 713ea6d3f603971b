"""The ``da.tk`` and ``ds.tk`` accessors: one-line tensor methods on xarray DataArrays and Datasets.

A DataArray method returns a Dataset on the input's coordinates, in the input's order, named as the
matching command's output file (``<var>_mean``/``<var>_std`` for FunBaT, ``completed``/``prediction``
for completion, ``reconstruction`` for Tucker) with an ``observed`` mask. A Dataset method fits each
chosen variable on its own and merges the results, each output variable prefixed ``<var>_``.

``import tensorkit`` registers both, through :func:`register` as soon as xarray is imported (at once when
it already is), so that importing tensorkit does not import xarray.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["TensorkitAccessor", "TensorkitDatasetAccessor", "register"]


def register() -> None:
    """Register :class:`TensorkitAccessor` as ``xarray.DataArray.tk`` and :class:`TensorkitDatasetAccessor`
    as ``xarray.Dataset.tk`` (once; later calls do nothing)."""
    import xarray as xr

    if getattr(xr.DataArray, "tk", None) is not TensorkitAccessor:
        xr.register_dataarray_accessor("tk")(TensorkitAccessor)
    if getattr(xr.Dataset, "tk", None) is not TensorkitDatasetAccessor:
        xr.register_dataset_accessor("tk")(TensorkitDatasetAccessor)


class TensorkitAccessor:
    """tensorkit methods on a DataArray (NaN = not observed); results keep dims, coords and attrs."""

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def tucker(self, rank: Any = None, tol: float | None = None, **kwargs: Any) -> xr.Dataset:
        """Masked Tucker (HOOI) fit; returns a Dataset with ``reconstruction``, ``observed``, the factors and core.

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
        """Fill the NaN cells with neural tensor completion, optionally with DAIN augmentation; returns a
        Dataset with ``completed``, ``prediction`` and ``observed``.

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
        """FunBaT (functional Bayesian Tucker with GP factor functions): a Dataset with ``<name>_mean``,
        ``<name>_std``, ``observed``, the factor functions and the core (see :func:`~tensorkit.funbat.xarray_io.funbat_dataset`).

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


class TensorkitDatasetAccessor:
    """tensorkit methods on several variables of a Dataset: each is fitted on its own, as by ``da.tk``.

    Every method takes ``variables`` (default: the floating-point data variables that are not a
    coordinate's ``bounds``) and the keyword arguments of the DataArray method, and returns one Dataset:
    a variable's output ``x`` is named ``<var>_x`` (``<var>_mean`` stays ``<var>_mean``), its ``rank_<dim>``
    (CP: ``rank``) dimensions ``<var>_rank_<dim>`` (``<var>_rank``), and its fit's attributes ``<var>_<attr>``.
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def tucker(self, variables: Sequence[str] | None = None, **kwargs: Any) -> xr.Dataset:
        """:meth:`TensorkitAccessor.tucker` of each variable, merged into one Dataset."""
        return self._per_variable("tucker", variables, kwargs)

    def complete(self, variables: Sequence[str] | None = None, **kwargs: Any) -> xr.Dataset:
        """:meth:`TensorkitAccessor.complete` of each variable, merged into one Dataset."""
        return self._per_variable("complete", variables, kwargs)

    def funbat(self, variables: Sequence[str] | None = None, **kwargs: Any) -> xr.Dataset:
        """:meth:`TensorkitAccessor.funbat` of each variable, merged into one Dataset."""
        return self._per_variable("funbat", variables, kwargs)

    def _per_variable(self, method: str, variables: Sequence[str] | None, kwargs: dict[str, Any]) -> xr.Dataset:
        import numpy as np
        import xarray as xr

        ds = self._ds
        if variables is None:
            bounds = {ds[c].attrs.get("bounds") for c in ds.coords}
            variables = [str(v) for v, da in ds.data_vars.items() if np.issubdtype(da.dtype, np.floating) and v not in bounds]
        if isinstance(variables, str) or not variables:
            raise ValueError(f"variables must be a non-empty list of data variable names, got {variables!r}")
        unknown = [v for v in variables if v not in ds.data_vars]
        if unknown:
            raise ValueError(f"variables {unknown} are not data variables of the Dataset {sorted(map(str, ds.data_vars))}")
        parts, attrs = [], {}
        for var in variables:
            out = getattr(ds[var].tk, method)(**kwargs)
            out = out.rename({n: n if str(n).startswith(f"{var}_") else f"{var}_{n}" for n in out.data_vars})
            parts.append(out.rename_dims({d: f"{var}_{d}" for d in out.dims if str(d) == "rank" or str(d).startswith("rank_")}))
            attrs.update({f"{var}_{key}": value for key, value in out.attrs.items()})
        merged = xr.merge(parts, join="exact", combine_attrs="override")
        merged.attrs = attrs
        return merged
