"""FunBaT.predict and ChebTucker.predict on a DataArray: results on its grid, dates in the fitted units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from tensorkit import ChebTucker, FunBaT


def _field(time):
    rng = np.random.default_rng(0)
    lat, lon = np.linspace(60.0, 20.0, 6), np.linspace(200.0, 260.0, 7)  # descending latitude, as in many files
    t = np.arange(len(time))[:, None, None]
    values = 280 + 10 * np.cos(np.deg2rad(lat))[None, :, None] * (1 + 0.05 * t) + 0.05 * lon + 0.1 * rng.normal(size=(len(time), 6, 7))
    values[rng.random(values.shape) < 0.2] = np.nan
    return xr.DataArray(values, coords={"time": time, "lat": lat, "lon": lon}, dims=("time", "lat", "lon"), name="air",
                        attrs={"units": "K"})


@pytest.mark.parametrize("calendar", [None, "noleap"])
def test_funbat_predicts_on_a_dataarray_grid(tmp_path, calendar):
    time = (pd.date_range("2020-02-25", periods=5, freq="D") if calendar is None
            else xr.date_range("2020-02-25", periods=5, freq="D", calendar=calendar, use_cftime=True))
    da = _field(time)
    model = FunBaT(rank=2, n_epochs=5, residual=None, seed=0).fit(da)
    query = da.isel(time=[4, 1], lat=slice(None, None, 2)).transpose("lon", "time", "lat")
    mean, std = model.predict(query, return_std=True)
    xr.align(mean, std, query, join="exact")  # the query's coordinates, order and dims
    assert mean.dims == query.dims and mean.name == "air" and std.name == "air_std" and std.attrs["units"] == "K"
    # the same cells as N×K coordinates: days since the first fitted time (a noleap year has no 29 February)
    days = np.array([4.0, 1.0])
    X = torch.cartesian_prod(torch.tensor(query["lon"].values), torch.tensor(days), torch.tensor(query["lat"].values))[:, [1, 2, 0]]
    expected = model.predict(X).reshape(7, 2, 3)
    np.testing.assert_array_equal(mean.values, expected.numpy())
    model.save(tmp_path / "m.npz")
    xr.testing.assert_identical(FunBaT.load(tmp_path / "m.npz").predict(query), mean)
    with pytest.raises(ValueError, match="fitted dims"):
        model.predict(query.rename(lon="x"))
    with pytest.raises(TypeError, match="'time' must hold"):
        model.predict(query.assign_coords(time=[4.0, 1.0]))


def test_chebtucker_predicts_on_a_dataarray_grid():
    da = _field(pd.date_range("2020-01-01", periods=5, freq="D")).fillna(280.0)
    model = ChebTucker(degree=(4, 5, 6), tol=1e-10).fit(da)
    query = da.isel(lat=[0, 3]).transpose("lat", "lon", "time")
    out = model.predict(query)
    xr.align(out, query, join="exact")
    assert out.dims == query.dims and out.name == "air" and out.attrs["units"] == "K"
    expected = model.to_dataarray(lat=query["lat"].values).transpose(*query.dims)
    np.testing.assert_array_equal(out.values, expected.values)
