"""Every ``da.tk`` method returns its result on the input's coordinates, in the input's order, with an
``observed`` mask; ``ds.tk`` fits several variables into one Dataset."""

import numpy as np
import pandas as pd
import pytest
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
    np.testing.assert_array_equal(ds["observed"].values, observed)


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



def test_funbat_keeps_the_input_grid_and_names_outputs_as_the_command():
    da = _field()
    ds = da.tk.funbat(rank=2, n_epochs=5, residual=None)
    _check_same_grid(ds, da)
    assert ds["t_mean"].dims == da.dims and ds["t_mean"].attrs["units"] == "K" and ds["t_std"].attrs["units"] == "K"
    assert ds["observed"].dtype == bool
    np.testing.assert_array_equal(ds["observed"].values, da.notnull().values)
    unnamed = da.rename(None).tk.funbat(rank=2, n_epochs=5, residual=None)
    assert {"value_mean", "value_std"} <= set(unnamed.data_vars) and unnamed.attrs["source_variable"] == "value"


def test_dataset_accessor_fits_each_variable_as_the_dataarray_accessor():
    da = _field()
    ds = xr.Dataset({"t": da, "u": 3 * da + 1, "lat_bnds": (("lat", "nv"), np.zeros((7, 2)))})
    ds["lat"].attrs["bounds"] = "lat_bnds"
    both = ds.tk.tucker(rank=2)  # default variables: t and u (lat_bnds is a bounds variable)
    _check_same_grid(both, ds["t"])
    for var in ("t", "u"):
        alone = ds[var].tk.tucker(rank=2)
        np.testing.assert_array_equal(both[f"{var}_reconstruction"].values, alone["reconstruction"].values)
        np.testing.assert_array_equal(both[f"{var}_observed"].values, alone["observed"].values)
        assert both[f"{var}_core"].dims == tuple(f"{var}_rank_{d}" for d in da.dims)
        assert both.attrs[f"{var}_source_variable"] == var
    funbat = ds.tk.funbat(variables=["u"], rank=2, n_epochs=5, residual=None)
    alone = ds["u"].tk.funbat(rank=2, n_epochs=5, residual=None)
    np.testing.assert_array_equal(funbat["u_mean"].values, alone["u_mean"].values)
    assert {"u_mean", "u_std", "u_observed", "u_factor_lat", "u_core"} <= set(funbat.data_vars)
    assert not any(name.startswith("t_") for name in funbat.data_vars)
    cp = ds.tk.funbat(rank=2, n_epochs=5, residual=None, decomposition="cp")  # CP: one rank dim per variable
    assert cp["t_weights"].dims == ("t_rank",) and cp["u_factor_lat"].dims == ("lat", "u_rank")
    with pytest.raises(ValueError, match="variables"):
        ds.tk.funbat(variables=["nope"])
    with pytest.raises(ValueError, match="variables"):
        ds.tk.tucker(variables="t")


def test_funbat_on_a_cftime_file_writes_a_file_that_reopens_on_the_same_grid(tmp_path):
    """The acceptance case: ``da.tk.funbat()`` on a file opened with cftime dates, its output written and reopened."""
    time = xr.date_range("2001-01-01", periods=6, freq="MS", calendar="noleap", use_cftime=True)
    da = _field().assign_coords(time=time)
    da["time"].attrs["standard_name"] = "time"
    da.to_dataset().assign_attrs(title="cftime field").to_netcdf(tmp_path / "in.nc")
    cftime = xr.coders.CFDatetimeCoder(use_cftime=True)
    with xr.open_dataset(tmp_path / "in.nc", decode_times=cftime) as source:
        source["t"].tk.funbat(rank=2, n_epochs=5, residual=None).to_netcdf(tmp_path / "out.nc")
        with xr.open_dataset(tmp_path / "out.nc", decode_times=cftime) as out:
            xr.align(out, source, join="exact")
            assert out["time"].values[0].calendar == "noleap" and out["time"].encoding["calendar"] == "noleap"
            for name, coord in source.coords.items():
                xr.testing.assert_identical(out[name], coord)
            assert out["t_mean"].attrs["units"] == "K" and out["t_mean"].dims == source["t"].dims
            assert np.isfinite(out["t_mean"].values).all()
