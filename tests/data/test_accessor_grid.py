"""Every ``da.tk`` method returns its result on the input's coordinates, in the input's order."""

import numpy as np
import pandas as pd
import xarray as xr


def _field() -> xr.DataArray:
    """A rank-2 field, latitude descending (north to south) and datetime time, with 30 % missing."""
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(6, 2)), rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    values = np.einsum("ir,jr,kr->ijk", a, b, c)
    coords = {"time": pd.date_range("2000-01-01", periods=6, freq="6h"), "lat": np.linspace(75.0, 15.0, 7),
              "lon": np.arange(5.0), "station": ("lon", list("abcde"))}
    da = xr.DataArray(values, dims=("time", "lat", "lon"), coords=coords, name="t", attrs={"units": "K"})
    da["lat"].attrs["units"] = "degrees_north"
    return da.where(rng.random(da.shape) > 0.3)


def _check_same_grid(ds: xr.Dataset, da: xr.DataArray) -> None:
    xr.align(ds, da, join="exact")  # raises when coordinates differ in values or order
    for name, coord in da.coords.items():
        xr.testing.assert_identical(ds[name], coord)


def test_tucker_keeps_the_input_grid():
    da = _field()
    ds = da.tk.tucker(rank=2, n_iter_max=500)
    _check_same_grid(ds, da)
    observed = da.notnull().values
    np.testing.assert_allclose(ds["reconstruction"].values[observed], da.values[observed], atol=1e-4)
    assert ds["factor_lat"].dims == ("lat", "rank_lat")


def test_complete_keeps_the_input_grid():
    da = _field()
    ds = da.tk.complete(model="cp", sampler="none", max_epochs=3, model_options={"rank": 2})
    _check_same_grid(ds, da)
    observed = da.notnull().values
    np.testing.assert_array_equal(ds["observed"].values, observed)
    np.testing.assert_array_equal(ds["completed"].values[observed], da.values[observed])


def test_dimension_without_coordinate_stays_without():
    da = _field().drop_vars(["lon", "station"])
    ds = da.tk.tucker(rank=2)
    assert "lon" not in ds.coords
    _check_same_grid(ds, da)

