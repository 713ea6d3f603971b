"""The observation container: xarray round trips, merging rules and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.data import Observations, load_air_temperature


@pytest.fixture
def da():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 4))
    values[0, 1] = values[2, 3] = np.nan
    return xr.DataArray(values, dims=("lat", "lon"), name="t2m", attrs={"units": "K"},
                        coords={"lat": ("lat", [50.0, 40.0, 30.0], {"units": "degrees_north"}),
                                "lon": [0.0, 1.0, 2.5, 4.0]})


def test_from_dataarray_keeps_observed_cells_and_metadata(da):
    obs = Observations.from_dataarray(da)
    assert len(obs) == 10 and obs.shape == (3, 4) and obs.dims == ("lat", "lon")
    torch.testing.assert_close(obs.coords[0], torch.tensor([30.0, 40.0, 50.0], dtype=torch.float64))
    assert obs.coord_attrs["lat"]["units"] == "degrees_north" and obs.attrs["units"] == "K"
    for (i, j), v, (la, lo) in zip(obs.indices.tolist(), obs.values.tolist(), obs.points().tolist()):
        assert da.sel(lat=la, lon=lo).item() == v
    back = obs.to_dataarray()
    xr.testing.assert_identical(back, da.sortby("lat"))


def test_datetime_coordinates_round_trip():
    da = load_air_temperature()
    obs = Observations.from_dataarray(da)
    assert obs.coords[0][1].item() == pytest.approx(0.25)  # 6-hourly, in days
    assert obs.coord_attrs["time"]["units"].startswith("days since 2014-02-24")
    back = obs.to_dataarray()
    np.testing.assert_array_equal(back.time.values, da.time.values)
    np.testing.assert_array_equal(back.sortby("lat").values, da.sortby("lat").values)


def test_from_points_merges_duplicates_by_mean():
    pts = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 1.0]])
    obs = Observations.from_points(pts, torch.tensor([1.0, 3.0, 5.0]))
    assert len(obs) == 2
    torch.testing.assert_close(obs.values.sort().values, torch.tensor([2.0, 5.0], dtype=torch.float64))


def test_split_is_seeded_and_disjoint(da):
    obs = Observations.from_dataarray(da)
    a, b = obs.split((0.7, 0.3), seed=1)
    a2, _ = obs.split((0.7, 0.3), seed=1)
    assert len(a) + len(b) == len(obs) and torch.equal(a.indices, a2.indices)
    cells = {tuple(r) for r in a.indices.tolist()} & {tuple(r) for r in b.indices.tolist()}
    assert not cells


def test_to_dense_marks_observed(da):
    dense, mask = Observations.from_dataarray(da).to_dense()
    assert int(mask.sum()) == 10 and torch.isnan(dense[~mask]).all()


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 1000),
       frac=st.floats(0.1, 1.0))
def test_dataarray_round_trip_property(shape, seed, frac):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=shape)
    values[rng.random(shape) > frac] = np.nan
    if np.isnan(values).all():
        values.flat[0] = 1.0
    da = xr.DataArray(values, dims=[f"d{k}" for k in range(len(shape))],
                      coords={f"d{k}": np.sort(rng.choice(100, n, replace=False)).astype(float) for k, n in enumerate(shape)})
    obs = Observations.from_dataarray(da)
    assert len(obs) == int((~np.isnan(values)).sum())
    xr.testing.assert_equal(obs.to_dataarray(), da)


def test_cftime_coordinates_round_trip_with_their_calendar():
    import xarray as xr

    time = xr.date_range("2000-01-01", periods=5, freq="MS", calendar="360_day", use_cftime=True)
    da = xr.DataArray(np.arange(15.0).reshape(5, 3), dims=("time", "x"), coords={"time": time, "x": [0.0, 1.0, 2.0]})
    obs = Observations.from_dataarray(da)
    assert obs.coords[0].tolist() == [0.0, 30.0, 60.0, 90.0, 120.0]  # 360-day calendar: 30-day months
    back = obs.to_dataarray()
    assert list(back["time"].values) == list(time) and back["time"].values[0].calendar == "360_day"


def test_dask_array_is_read_in_slabs_with_the_same_result(monkeypatch):
    """A dask-backed, float32 DataArray read a few time steps at a time gives the observations of the
    in-memory float64 array, and the lazy input is left lazy."""
    from tensorkit.data import observations

    rng = np.random.default_rng(0)
    values = rng.normal(size=(7, 5, 6)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    dims = ("time", "lat", "lon")
    coords = {"time": np.arange(7.0), "lat": np.linspace(50, 40, 5), "lon": np.arange(6.0)}
    eager = Observations.from_dataarray(xr.DataArray(values.astype(np.float64), dims=dims, coords=coords))
    lazy = xr.DataArray(values, dims=dims, coords=coords).chunk({"time": 2})
    monkeypatch.setattr(observations, "READ_CELLS", 2 * 5 * 6)
    read = Observations.from_dataarray(lazy)
    assert torch.equal(read.indices, eager.indices) and torch.equal(read.values, eager.values)
    assert read.values.dtype == torch.float64 and lazy.chunks is not None
