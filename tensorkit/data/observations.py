"""The observation container: scattered values of a tensor with per-mode coordinates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tensorkit._validation import as_tensor, check_same_length
from tensorkit.data.holdout import random_split


@dataclass(frozen=True)
class Observations:
    """Values observed at points of a K-way tensor whose modes carry coordinates.

    Attributes
    ----------
    coords : tuple of torch.Tensor
        Per mode, the sorted unique coordinate values (float64), e.g. latitudes in degrees.
    indices : torch.Tensor
        ``N×K`` long tensor: ``indices[n, k]`` is the position of point ``n``'s coordinate in ``coords[k]``.
    values : torch.Tensor
        The ``N`` observed values.
    dims : tuple of str
        Mode names.
    attrs : dict
        Attributes of the observed variable (name, units, …).
    coord_attrs : dict
        Per-dimension attributes of the coordinates (units, …).
    """

    coords: tuple[torch.Tensor, ...]
    indices: torch.Tensor
    values: torch.Tensor
    dims: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    coord_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.coords) != len(self.dims) or self.indices.shape[1] != len(self.dims):
            raise ValueError(
                f"coords ({len(self.coords)}), dims ({len(self.dims)}) and indices columns "
                f"({self.indices.shape[1]}) must agree"
            )
        check_same_length(indices=self.indices, values=self.values)

    @classmethod
    def from_indices(
        cls,
        indices: Any,
        values: Any,
        *,
        coords: Sequence[Any] | None = None,
        shape: Sequence[int] | None = None,
        dims: Sequence[str] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Observations:
        """Build from integer positions. ``coords`` (sorted, unique) or ``shape`` (coords ``0..n-1``)."""
        idx = as_tensor(indices, "indices", dtype=torch.long, ndim=2)
        vals = as_tensor(values, "values", ndim=1, device=idx.device)
        check_same_length(indices=idx, values=vals)
        if coords is None:
            if shape is None:
                shape = (idx.max(0).values + 1).tolist()
            coords = [torch.arange(n, dtype=torch.float64) for n in shape]
        coords = tuple(_check_coordinate(c, f"coords[{k}]") for k, c in enumerate(coords))
        if len(coords) != idx.shape[1]:
            raise ValueError(f"coords has {len(coords)} modes but indices has {idx.shape[1]} columns")
        for k, c in enumerate(coords):
            lo, hi = int(idx[:, k].min()), int(idx[:, k].max())
            if lo < 0 or hi >= len(c):
                raise IndexError(f"indices[:, {k}] must lie in [0, {len(c) - 1}], got range [{lo}, {hi}]")
        return cls(coords, idx, vals, _dims(dims, len(coords)), dict(attrs or {}))

    @classmethod
    def from_points(
        cls, points: Any, values: Any, *, dims: Sequence[str] | None = None, attrs: Mapping[str, Any] | None = None
    ) -> Observations:
        """Build from ``N×K`` real coordinates. Repeated points are merged by averaging their values."""
        pts = as_tensor(points, "points", dtype=torch.float64, ndim=2)
        vals = as_tensor(values, "values", dtype=torch.float64, ndim=1, device=pts.device)
        check_same_length(points=pts, values=vals)
        uniques, inverses = zip(*(torch.unique(pts[:, k], return_inverse=True) for k in range(pts.shape[1])))
        idx = torch.stack(inverses, 1)
        cells, cell_of = torch.unique(idx, dim=0, return_inverse=True)
        if len(cells) < len(idx):
            sums = torch.zeros(len(cells), dtype=vals.dtype, device=vals.device).index_add_(0, cell_of, vals)
            counts = torch.bincount(cell_of, minlength=len(cells)).to(vals.dtype)
            idx, vals = cells, sums / counts
        return cls(tuple(uniques), idx, vals, _dims(dims, pts.shape[1]), dict(attrs or {}))

    @classmethod
    def from_dataarray(cls, da: Any) -> Observations:
        """Build from an ``xarray.DataArray``; NaN cells are not observed; coordinates must be strictly monotonic.

        Descending coordinates (e.g. latitude from north to south) are flipped to ascending order.
        Datetime and cftime coordinates (any calendar) become float "days since" their first value
        (recorded in ``coord_attrs`` and converted back by :meth:`to_dataarray`); other non-numeric
        coordinates are rejected.
        """
        import xarray as xr

        if not isinstance(da, xr.DataArray):
            raise TypeError(f"da must be an xarray.DataArray, got {type(da).__name__}")
        if da.ndim == 0:
            raise ValueError(f"da is a scalar (variable {da.name!r} has no dimensions); a grid is needed")
        if da.size == 0:
            raise ValueError("da is empty")
        if not np.issubdtype(da.dtype, np.number) or np.issubdtype(da.dtype, np.complexfloating):
            raise TypeError(f"da must be real numeric, got dtype {da.dtype}")
        coords, coord_attrs = [], {}
        for dim in da.dims:
            c = np.asarray(da[dim].values) if dim in da.coords else np.arange(da.sizes[dim], dtype=np.float64)
            attrs_k = dict(da[dim].attrs) if dim in da.coords else {}
            if np.issubdtype(c.dtype, np.datetime64):
                c, attrs_k[_DATETIME_ORIGIN] = _days_since_first(c), str(c.min())
                attrs_k["units"] = f"days since {attrs_k[_DATETIME_ORIGIN]}"
            elif c.dtype == object and len(c) and _is_cftime(c[0]):
                c, attrs_k = _cftime_days(c), {**attrs_k, **_cftime_attrs(c)}
            if not np.issubdtype(c.dtype, np.number) or np.issubdtype(c.dtype, np.complexfloating):
                raise TypeError(f"coordinate {dim!r} must be real numeric, got dtype {c.dtype}; convert it first")
            if len(c) > 1 and np.all(np.diff(c) < 0):
                da, c = da.isel({dim: slice(None, None, -1)}), c[::-1]
            coords.append(_check_coordinate(np.ascontiguousarray(c), f"coordinate {dim!r}"))
            coord_attrs[str(dim)] = attrs_k
        indices, values = _observed_cells(da)
        attrs = {**da.attrs, **({"name": da.name} if da.name is not None else {})}
        return cls(tuple(coords), indices, values, tuple(map(str, da.dims)), attrs, coord_attrs)

    @property
    def shape(self) -> tuple[int, ...]:
        """Size of the full grid spanned by the coordinates."""
        return tuple(len(c) for c in self.coords)

    @property
    def ndim(self) -> int:
        return len(self.coords)

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> torch.Tensor:
        """The ``N×K`` real coordinates of the observations."""
        return torch.stack([c.to(self.indices.device)[self.indices[:, k]] for k, c in enumerate(self.coords)], 1)

    def to_dense(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense values (NaN where unobserved) and the boolean observed mask."""
        dense = torch.full(self.shape, float("nan"), dtype=self.values.dtype, device=self.values.device)
        dense[tuple(self.indices.T)] = self.values
        return dense, ~torch.isnan(dense)

    def to_dataarray(self) -> Any:
        """A dense ``xarray.DataArray`` with NaN where unobserved, keeping dims, coords and attrs."""
        import xarray as xr

        dense = self.to_dense()[0].cpu().numpy()
        attrs = {k: v for k, v in self.attrs.items() if k != "name"}
        coords = {d: _coordinate_variable(d, c.cpu().numpy(), self.coord_attrs.get(d, {}))
                  for d, c in zip(self.dims, self.coords)}
        return xr.DataArray(dense, coords=coords, dims=self.dims, name=self.attrs.get("name"), attrs=attrs)

    def subset(self, rows: torch.Tensor) -> Observations:
        """The observations at ``rows`` (a long or boolean tensor), on the same coordinates."""
        return Observations(self.coords, self.indices[rows], self.values[rows], self.dims, self.attrs, self.coord_attrs)

    def split(self, fractions: Sequence[float] = (0.8, 0.2), seed: int = 0) -> tuple[Observations, ...]:
        """Random disjoint subsets with the given fractions (summing to 1): :func:`~tensorkit.data.holdout.random_split`."""
        parts = random_split(np.ones(len(self), dtype=bool), fractions, seed)
        return tuple(self.subset(torch.from_numpy(rows).to(self.indices.device)) for rows in parts)

    def to(self, device: torch.device | str) -> Observations:
        """A copy with indices and values on ``device`` (coordinates follow)."""
        return Observations(
            tuple(c.to(device) for c in self.coords), self.indices.to(device), self.values.to(device),
            self.dims, self.attrs, self.coord_attrs,
        )


def on_input_grid(ds: Any, da: Any) -> Any:
    """Put ``ds``, built on the grid of ``Observations.from_dataarray(da)``, back on ``da``'s grid.

    Dimensions that :meth:`Observations.from_dataarray` flipped to ascending order are flipped back, and
    ``da``'s own coordinates (values, attributes, non-dimension coordinates) replace the rebuilt ones, so
    the result aligns with ``da`` under ``xarray.align(..., join="exact")``.
    """
    flipped = {d: slice(None, None, -1) for d in da.dims
               if d in da.indexes and da.sizes[d] > 1 and da.indexes[d].is_monotonic_decreasing}
    return ds.isel(flipped).drop_vars([d for d in da.dims if d not in da.coords]).assign_coords(da.coords)


_DATETIME_ORIGIN = "tensorkit_datetime_origin"
_CFTIME_ORIGIN = "tensorkit_cftime_origin"
_CFTIME_CALENDAR = "tensorkit_cftime_calendar"


def _days_since_first(c: np.ndarray) -> np.ndarray:
    return (c - c.min()).astype("timedelta64[ns]").astype(np.float64) / 86_400e9


def _is_cftime(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "cftime"


def _cftime_days(c: np.ndarray) -> np.ndarray:
    """Days since the first date of cftime dates (any calendar: the dates' own arithmetic)."""
    first = min(c)
    return np.array([(x - first).total_seconds() / 86_400 for x in c], dtype=np.float64)


def _cftime_attrs(c: np.ndarray) -> dict[str, str]:
    first = min(c)
    return {_CFTIME_ORIGIN: first.isoformat(), _CFTIME_CALENDAR: first.calendar, "units": f"days since {first.isoformat()}"}


def _coordinate_variable(dim: str, values: np.ndarray, attrs: dict[str, Any]) -> tuple[str, np.ndarray, dict]:
    """Coordinate for xarray; float days go back to datetimes (or cftime dates) when they came from them."""
    if _CFTIME_ORIGIN in attrs:
        import cftime

        plain = {k: v for k, v in attrs.items() if k not in (_CFTIME_ORIGIN, _CFTIME_CALENDAR, "units")}
        dates = cftime.num2date(values, f"days since {attrs[_CFTIME_ORIGIN]}", calendar=attrs[_CFTIME_CALENDAR])
        return dim, np.asarray(dates), plain
    if _DATETIME_ORIGIN not in attrs:
        return dim, values, attrs
    origin = np.datetime64(attrs[_DATETIME_ORIGIN], "ns")
    plain = {k: v for k, v in attrs.items() if k not in (_DATETIME_ORIGIN, "units")}
    return dim, origin + np.round(values * 86_400e9).astype("timedelta64[ns]"), plain


def numeric_coordinate(values: Any, attrs: Mapping[str, Any], name: str) -> np.ndarray:
    """Coordinate values as the float64 numbers a model was fitted on.

    Datetimes and cftime dates become days since the origin that :meth:`Observations.from_dataarray`
    recorded in the fitted coordinate's ``attrs`` (with the same arithmetic, so fitted times map to
    the same numbers); numbers stay numbers.

    Raises
    ------
    TypeError
        Dates for a numeric fitted coordinate, numbers (or another kind of date) for a fitted time,
        or a non-numeric coordinate; ``name`` names it.
    ValueError
        cftime dates of another calendar than the fitted one.
    """
    values = np.asarray(values)
    fitted = "cftime dates" if _CFTIME_ORIGIN in attrs else "datetimes" if _DATETIME_ORIGIN in attrs else "numbers"
    if np.issubdtype(values.dtype, np.datetime64) and fitted == "datetimes":
        origin = np.datetime64(attrs[_DATETIME_ORIGIN], "ns")
        return (values.astype("datetime64[ns]") - origin).astype("timedelta64[ns]").astype(np.float64) / 86_400e9
    if values.dtype == object and values.size and _is_cftime(values.flat[0]) and fitted == "cftime dates":
        import cftime

        calendar = attrs[_CFTIME_CALENDAR]
        if values.flat[0].calendar != calendar:
            raise ValueError(f"coordinate {name!r} has calendar {values.flat[0].calendar!r}; the model was fitted on {calendar!r}")
        origin = cftime.num2date(0.0, f"days since {attrs[_CFTIME_ORIGIN]}", calendar=calendar)
        return np.array([(x - origin).total_seconds() / 86_400 for x in values.ravel()], dtype=np.float64).reshape(values.shape)
    if fitted == "numbers" and np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.complexfloating):
        return values.astype(np.float64)
    raise TypeError(f"coordinate {name!r} must hold {fitted} like the fitted one, got dtype {values.dtype}")


def _check_coordinate(c: Any, name: str) -> torch.Tensor:
    t = as_tensor(c, name, dtype=torch.float64, ndim=1)
    if len(t) > 1 and not bool((t[1:] > t[:-1]).all()):
        dup = bool((t[1:] == t[:-1]).any())
        raise ValueError(f"{name} must be strictly increasing; it is {'duplicated' if dup else 'unsorted'}")
    return t


def _dims(dims: Sequence[str] | None, ndim: int) -> tuple[str, ...]:
    if dims is None:
        return tuple(f"dim_{k}" for k in range(ndim))
    if len(dims) != ndim:
        raise ValueError(f"dims must name {ndim} modes, got {len(dims)}")
    return tuple(map(str, dims))


#: cells of ``da`` read (and converted to float64) at a time by :func:`_observed_cells`
READ_CELLS = 1 << 22


def _observed_cells(da: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and float64 values of the non-NaN cells, read in slabs of the first dimension.

    Only one slab of about :data:`READ_CELLS` cells is dense at a time, so a dask-backed array is
    computed piece by piece and the peak memory is set by the observed cells, not by the grid.
    """
    step = max(1, READ_CELLS // max(1, math.prod(da.shape[1:])))
    dim = da.dims[0]
    indices, values = [], []
    for start in range(0, da.shape[0], step):
        slab = torch.from_numpy(np.ascontiguousarray(da.isel({dim: slice(start, start + step)}).values, dtype=np.float64))
        if torch.isinf(slab).any():
            raise ValueError("da contains infinite values")
        observed = ~torch.isnan(slab)
        index = observed.nonzero()
        index[:, 0] += start
        indices.append(index)
        values.append(slab[observed])
    if not sum(v.numel() for v in values):
        raise ValueError("da has no observed (non-NaN) values")
    return torch.cat(indices), torch.cat(values)
