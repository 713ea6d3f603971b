"""The xarray front door (``da.tk.funbat``), the ``tensorkit funbat`` command and the figure."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import tensorkit  # noqa: F401  (registers da.tk)
from tensorkit.cli import main


def _dataarray(seed=0):
    rng = np.random.default_rng(seed)
    time = pd.date_range("2020-01-01", periods=9, freq="6h")
    lat = np.linspace(60.0, 20.0, 7)  # descending, as in many climate files
    lon = np.linspace(200.0, 260.0, 8)
    t = np.arange(9)[:, None, None]
    values = 280 + 10 * np.cos(np.deg2rad(lat))[None, :, None] * (1 + 0.05 * t) + 0.05 * lon[None, None, :]
    values = values + 0.2 * rng.standard_normal(values.shape)
    values[rng.random(values.shape) < 0.25] = np.nan
    return xr.DataArray(values, coords={"time": time, "lat": lat, "lon": lon}, dims=("time", "lat", "lon"),
                        name="air", attrs={"units": "K"})


def test_accessor_returns_mean_std_and_factor_functions_on_the_input_grid():
    da = _dataarray()
    ds = da.tk.funbat(rank=2, n_epochs=60)
    assert ds["air_mean"].dims == da.dims and ds["air_std"].dims == da.dims
    np.testing.assert_array_equal(ds["lat"].values, da["lat"].values)  # descending order kept
    np.testing.assert_array_equal(ds["time"].values, da["time"].values)
    observed = np.isfinite(da.values)
    err = ds["air_mean"].values[observed] - da.values[observed]
    assert np.sqrt(np.mean(err**2)) < 0.5  # noise std 0.2, field std ≈ 5 K
    assert (ds["air_std"].values > 0).all()
    for dim in da.dims:
        assert ds[f"factor_{dim}"].dims == (dim, f"rank_{dim}")
        assert (ds[f"factor_{dim}_std"].values >= 0).all()
    np.testing.assert_array_equal(ds["observed"].values, observed)
    assert ds.attrs["ranks"] == [2, 2, 2] and ds.attrs["source_variable"] == "air"
    assert ds["air_mean"].attrs["units"] == "K"


@pytest.mark.parametrize("decomposition", ["tucker", "cp"])
def test_factors_and_core_in_the_output_rebuild_the_low_rank_mean(decomposition):
    ds = _dataarray().tk.funbat(rank=2, n_epochs=30, decomposition=decomposition, residual=None)
    factors = [ds[f"factor_{dim}"].values for dim in ("time", "lat", "lon")]
    if decomposition == "cp":  # one shared rank dim and the components' weights; no R^K core is written
        assert "core" not in ds and ds["weights"].dims == ("rank",) and ds["factor_lat"].dims == ("lat", "rank")
        low_rank = np.einsum("r,ir,jr,kr->ijk", ds["weights"].values, *factors)
    else:
        assert "weights" not in ds and ds["core"].dims == ("rank_time", "rank_lat", "rank_lon")
        low_rank = np.einsum("abc,ia,jb,kc->ijk", ds["core"].values, *factors)
    shift = ds["air_mean"].values - low_rank  # the model's constant offset, nothing else
    assert np.ptp(shift) < 1e-8 * np.abs(low_rank).max()
    assert ds.attrs["ranks"] == [2, 2, 2]


def test_accessor_predicts_on_a_finer_grid():
    da = _dataarray(seed=1)
    fine_lat = np.linspace(15.0, 65.0, 21)  # beyond the data on both sides
    fine_time = pd.date_range("2020-01-01", periods=17, freq="3h")
    coarse = da.tk.funbat(rank=2, n_epochs=40, seed=0)
    fine = da.tk.funbat(rank=2, n_epochs=40, seed=0, grid={"lat": fine_lat, "time": fine_time})
    assert fine["air_mean"].shape == (17, 21, 8)
    # on shared coordinates the finer grid gives the same posterior
    where = dict(lat=[20.0, 60.0], time=da["time"].values)
    np.testing.assert_allclose(fine["air_mean"].sel(where).values, coarse["air_mean"].sel(where).values, rtol=1e-8)
    np.testing.assert_allclose(fine["air_std"].sel(where).values, coarse["air_std"].sel(where).values, rtol=1e-8)
    # observed: the input's observed cells where the fine grid has the input's coordinates, False elsewhere
    shared = np.intersect1d(fine_lat, da["lat"].values)
    assert list(shared) == [20.0, 40.0, 60.0]
    np.testing.assert_array_equal(fine["observed"].sel(lat=shared, time=da["time"]).values, da.notnull().sel(lat=shared).values)
    assert int(fine["observed"].sum()) == int(da.notnull().sel(lat=shared).sum()) and fine["observed"].attrs.get("units") is None
    with pytest.raises(ValueError, match="depth"):
        da.tk.funbat(rank=2, n_epochs=5, grid={"depth": [1.0]})


def test_command_writes_netcdf_and_figure_and_reports_heldout_skill(tmp_path, capsys):
    path = tmp_path / "in.nc"
    _dataarray(seed=2).to_netcdf(path)
    out, fig = tmp_path / "out.nc", tmp_path / "fig.png"
    code = main(["funbat", str(path), "--var", "air", "--rank", "2", "--holdout", "0.3", "--epochs", "40",
                 "--out", str(out), "--figure", str(fig)])
    assert code == 0
    text = capsys.readouterr().out
    assert "RMSE" in text and "MAE" in text and "coverage" in text
    with xr.open_dataset(out) as ds:
        assert {"air_mean", "air_std", "observed", "factor_lat", "core"} <= set(ds.variables)
        assert not {"mean", "std"} & set(ds.variables)  # no copies under the names of older outputs
        assert 0.0 <= ds.attrs["heldout_coverage95"] <= 1.0 and ds.attrs["heldout_rmse"] < 1.0
    assert fig.stat().st_size > 10_000 and fig.read_bytes()[:4] == b"\x89PNG"


def test_command_rejects_a_missing_variable(tmp_path, capsys):
    path = tmp_path / "in.nc"
    _dataarray().to_netcdf(path)
    assert main(["funbat", str(path), "--var", "nope", "--out", str(tmp_path / "o.nc")]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()


def test_figure_reads_an_output_file_of_older_tensorkit_with_mean_and_std(tmp_path):
    from tensorkit.funbat.plotting import save_funbat_figure
    from tensorkit.funbat.xarray_io import predictive_moments

    ds = _dataarray(seed=3).tk.funbat(rank=2, n_epochs=5, residual=None)
    old = ds.rename({"air_mean": "mean", "air_std": "std"}).drop_vars("observed")  # as written before <var>_mean
    old.to_netcdf(tmp_path / "old.nc")
    with xr.open_dataset(tmp_path / "old.nc") as back:
        mean, std = predictive_moments(back)
        np.testing.assert_allclose(mean.values, ds["air_mean"].values)
        np.testing.assert_allclose(std.values, ds["air_std"].values)
        save_funbat_figure(back, tmp_path / "old.png")
    assert (tmp_path / "old.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(KeyError, match="air_mean"):
        predictive_moments(ds.drop_vars("air_mean"))
