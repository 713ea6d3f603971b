"""netCDF I/O, the reference loader and the accessor."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tensorkit.data import funbat_fold, load_air_temperature, load_funbat_folds, open_dataarray, write_netcdf


@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_netcdf_round_trip(tmp_path, engine):
    da = load_air_temperature()
    path = tmp_path / "air.nc"
    write_netcdf(da.to_dataset(), path, engine=engine)
    back = open_dataarray(path, "air", engine=engine)
    xr.testing.assert_identical(back.load(), da)
    assert [p.name for p in tmp_path.iterdir()] == ["air.nc"]  # no temp files left


def test_open_dataarray_errors(tmp_path):
    path = tmp_path / "two.nc"
    xr.Dataset({"a": ("x", [1.0]), "b": ("x", [2.0])}).to_netcdf(path)
    with pytest.raises(KeyError, match="'c' not found.*available"):
        open_dataarray(path, "c")
    with pytest.raises(ValueError, match="choose one with var"):
        open_dataarray(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_dataarray(tmp_path / "none.nc")
    bad = tmp_path / "truncated.nc"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot read"):
        open_dataarray(bad, "a")


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "out.nc"
    write_netcdf(xr.DataArray([1.0], dims="x", name="v"), path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_netcdf(xr.DataArray([object()], dims="x", name="v"), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["out.nc"]


def test_builtin_dataset():
    da = load_air_temperature()
    assert da.dims == ("time", "lat", "lon") and da.shape == (20, 25, 53)
    assert 200 < float(da.min()) < float(da.max()) < 320


def test_reference_loader(shared_data):
    folds = load_funbat_folds("data/synthetic/simulation_r1.npz")
    assert int(folds["n_folds"]) == 1 and folds["fold0_tr_ind_CONTI"].shape[1] == 2


def test_funbat_fold_observations(shared_data):
    train, test = funbat_fold("data/synthetic/simulation_r1.npz")
    raw = load_funbat_folds("data/synthetic/simulation_r1.npz")
    assert len(train) == 675 and len(test) == 675
    np.testing.assert_array_equal(train.points().numpy(), raw["fold0_tr_ind_CONTI"])
    np.testing.assert_array_equal(test.values.numpy(), raw["fold0_te_y"])
    binned, _ = funbat_fold("data/US_temp/DISCT_15x95x267.npz", fold=4)
    assert binned.shape == (15, 95, 267) and len(binned) == 44_755
    with pytest.raises(ValueError, match="fold"):
        funbat_fold("data/synthetic/simulation_r1.npz", fold=1)


def test_reference_loader_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORKIT_SHARED_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TENSORKIT_SHARED_DATA"):
        load_funbat_folds("data/none.npz")


def test_accessor_tucker_recovers_low_rank_field():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(6, 2)), rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    full = np.einsum("ir,jr,kr->ijk", a, b, c)
    da = xr.DataArray(np.where(rng.random(full.shape) < 0.7, full, np.nan), dims=("t", "y", "x"), name="f")
    ds = da.tk.tucker(rank=2, n_iter_max=500)
    np.testing.assert_allclose(ds["reconstruction"].values, full, atol=1e-4)
    assert ds["factor_y"].dims == ("y", "rank_y") and ds.attrs["ranks"] == [2, 2, 2]
