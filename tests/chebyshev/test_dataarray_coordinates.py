"""ChebTucker fitted on a DataArray samples back by dimension name, with datetimes kept as datetimes."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tensorkit.chebyshev import ChebTucker


def _field(t_days, lat, lon):
    """A polynomial of low degree per coordinate, so degree 6 interpolates it to rounding."""
    return (1 + 0.1 * t_days)[:, None, None] * (1 + (lat / 90) ** 2)[None, :, None] * (lon / 180)[None, None, :] ** 3


@pytest.fixture(scope="module")
def fitted():
    time = pd.date_range("2001-01-01", periods=9, freq="D").values
    lat, lon = np.linspace(75.0, 15.0, 11), np.linspace(0.0, 180.0, 13)  # latitude north to south
    values = _field((time - time[0]) / np.timedelta64(1, "D"), lat, lon)
    da = xr.DataArray(values, coords={"time": time, "latitude": lat, "longitude": lon},
                      dims=("time", "latitude", "longitude"))
    return da, ChebTucker(degree=6, tol=1e-12).fit(da)


def test_keywords_are_matched_by_name_not_order(fitted):
    da, model = fitted
    time = np.array(["2001-01-02T12", "2001-01-05"], dtype="datetime64[ns]")
    lon, lat = np.array([10.0, 100.0, 170.0]), np.array([20.0, 60.0])
    out = model.to_dataarray(time=time, longitude=lon, latitude=lat)
    assert out.dims == ("time", "latitude", "longitude") and out.shape == (2, 2, 3)
    assert out["time"].dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(out["time"].values, time)
    np.testing.assert_allclose(out.values, _field(np.array([1.5, 4.0]), lat, lon), rtol=1e-9, atol=1e-12)


def test_left_out_dimensions_keep_the_fitted_coordinates(fitted):
    da, model = fitted
    assert model.dims_ == da.dims
    xr.testing.assert_allclose(model.to_dataarray(), da, rtol=1e-9, atol=1e-12)
    xr.align(model.to_dataarray(longitude=[30.0]), da.isel(longitude=[2]), join="exact")


def test_wrong_names_and_types_are_rejected(fitted):
    _, model = fitted
    with pytest.raises(ValueError, match="lat"):
        model.to_dataarray(lat=[10.0])
    with pytest.raises(TypeError, match="datetimes"):
        model.to_dataarray(time=[1.0, 2.0])
