"""netCDF outputs of `tensorkit funbat` and `tensorkit complete` respect CF and the input's metadata."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tensorkit.cli import main

HISTORY = "Tue Jan 02 03:04:05 2024: ncks -O -d time,0,5 big.nc small.nc"


def _input(path):
    """A small CF file: noleap-calendar time, latitude with bounds, global attributes and history, some gaps."""
    rng = np.random.default_rng(0)
    time = xr.date_range("2001-01-01", periods=6, freq="MS", calendar="noleap", use_cftime=True)
    lat, lon = np.array([-20.0, -10.0, 0.0, 10.0, 20.0]), np.arange(7) * 50.0
    values = 280 + 10 * np.cos(np.radians(lat))[None, :, None] + np.sin(np.arange(6))[:, None, None] + 0.1 * rng.normal(size=(6, 5, 7))
    values[rng.random(values.shape) < 0.15] = np.nan
    ds = xr.Dataset(
        {"tas": (("time", "lat", "lon"), values, {"standard_name": "air_temperature", "long_name": "Near-surface air temperature",
                                                  "units": "K"}),
         "lat_bnds": (("lat", "bnds"), np.stack([lat - 5, lat + 5], 1))},
        coords={"time": time, "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north", "bounds": "lat_bnds"}),
                "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"})},
        attrs={"title": "test field", "institution": "nowhere", "history": HISTORY})
    ds.to_netcdf(path)
    return ds


def _check_carried(out, source, command):
    assert out.attrs["title"] == "test field" and out.attrs["institution"] == "nowhere"
    assert out.attrs["Conventions"] == "CF-1.8"
    first, second = out.attrs["history"].split("\n")
    assert first.endswith(" UTC: tensorkit " + command) and second == HISTORY
    assert out["lat"].attrs["bounds"] == "lat_bnds" and out["lon"].attrs["units"] == "degrees_east"
    np.testing.assert_array_equal(out["lat_bnds"].values, source["lat_bnds"].values)
    assert out["lat_bnds"].dtype == np.float64  # bounds keep their coordinate's precision
    assert out["time"].encoding["calendar"] == "noleap"
    np.testing.assert_array_equal(out["time"].values, source["time"].values)


def test_funbat_output_is_cf_and_keeps_the_input_metadata(tmp_path):
    path, out_path = tmp_path / "in.nc", tmp_path / "out.nc"
    source = _input(path)
    args = ["funbat", str(path), "--rank", "2", "--residual", "none", "--epochs", "5", "--holdout", "0.2", "--quiet",
            "--out", str(out_path)]
    assert main(args) == 0
    with xr.open_dataset(out_path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as out:
        _check_carried(out, source, " ".join(args))
        mean, std = out["tas_mean"], out["tas_std"]
        assert mean.attrs["standard_name"] == "air_temperature" and mean.attrs["units"] == "K"
        assert "Near-surface air temperature" in mean.attrs["long_name"]
        assert std.attrs["standard_name"] == "air_temperature standard_error" and std.attrs["units"] == "K"
        assert mean.dtype == np.float32 and mean.encoding["zlib"] and out["core"].dtype == np.float32
        assert "mean" not in out and "std" not in out  # no copies under the names of older outputs
        flags = out["observed"]
        assert flags.attrs["flag_meanings"] == "missing fitted held_out" and list(flags.attrs["flag_values"]) == [0, 1, 2]
        missing = np.isnan(source["tas"].values)
        assert ((flags.values == 0) == missing).all() and (flags.values == 2).sum() == out.attrs["n_heldout"] > 0


def test_complete_output_is_cf_and_keeps_the_input_metadata(tmp_path):
    path, out_path = tmp_path / "in.nc", tmp_path / "out.nc"
    source = _input(path)
    args = ["complete", str(path), "--var", "tas", "--model", "cp", "--rank", "2", "--epochs", "3", "--augment", "none",
            "--quiet", "--out", str(out_path)]
    assert main(args) == 0
    with xr.open_dataset(out_path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as out:
        _check_carried(out, source, " ".join(args))
        assert out["completed"].attrs["standard_name"] == "air_temperature" and out["completed"].dtype == np.float32
        assert out["prediction"].attrs["units"] == "K" and "DAIN (cp) prediction" in out["prediction"].attrs["long_name"]
        flags = out["observed"]
        assert flags.attrs["flag_meanings"] == "missing observed"
        np.testing.assert_array_equal(flags.values, ~np.isnan(source["tas"].values))


@pytest.mark.parametrize("bounds_kept", [True, False])
def test_bounds_follow_only_an_unchanged_coordinate(bounds_kept):
    from tensorkit.data.cf import carry_metadata

    lat = np.array([0.0, 10.0])
    source = xr.Dataset({"lat_bnds": (("lat", "bnds"), [[-5.0, 5.0], [5.0, 15.0]])},
                        coords={"lat": ("lat", lat, {"bounds": "lat_bnds"})})
    result = xr.Dataset({"v": ("lat", [1.0, 2.0])}, coords={"lat": lat if bounds_kept else lat + 1})
    out = carry_metadata(result, source, "x")
    assert ("lat_bnds" in out) == bounds_kept and ("bounds" in out["lat"].attrs) == bounds_kept


@pytest.mark.parametrize("float64", [False, True])
def test_float32_by_default_and_float64_on_request(tmp_path, float64):
    from tensorkit.data.cf import write_cf_netcdf

    ds = xr.Dataset({"v": ("x", np.linspace(0, 1, 50)), "n": ("x", np.arange(50))}, coords={"x": np.arange(50.0) / 7})
    write_cf_netcdf(ds, tmp_path / "o.nc", float64=float64)
    with xr.open_dataset(tmp_path / "o.nc") as out:
        assert out["v"].dtype == (np.float64 if float64 else np.float32) and out["n"].dtype == np.int64
        assert out["x"].dtype == np.float64 and out["v"].encoding["zlib"] and out["n"].encoding["zlib"]
    assert not ds["v"].encoding  # the caller's Dataset is left as it was


def test_chunks_set_the_stored_chunks_of_the_variables_with_those_dims(tmp_path):
    from tensorkit.data.cf import write_cf_netcdf

    ds = xr.Dataset({"v": (("t", "x"), np.ones((10, 3))), "w": ("x", np.ones(3))})
    write_cf_netcdf(ds, tmp_path / "o.nc", chunks={"t": 4})
    with xr.open_dataset(tmp_path / "o.nc") as out:
        assert out["v"].encoding["chunksizes"] == (4, 3) and out["w"].encoding["chunksizes"] == (3,)
