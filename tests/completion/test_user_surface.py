"""xarray accessor, CLI subcommand and the lazy top-level export."""

import numpy as np
import pytest
import xarray as xr

import tensorkit
from tensorkit.cli import main

FAST = dict(max_epochs=15, patience=3, model_options={"layers": [12, 16]})


def _field(seed=0):
    g = np.random.default_rng(seed)
    a, b, c = g.normal(size=(6, 2)), g.normal(size=(5, 2)), g.normal(size=(4, 2))
    values = np.einsum("ir,jr,kr->ijk", a, b, c) + 10.0
    da = xr.DataArray(values, dims=("time", "lat", "lon"),
                      coords={"time": np.arange(6.0), "lat": np.linspace(50, 40, 5), "lon": np.arange(4.0)},
                      name="t", attrs={"units": "K"})  # fmt: skip
    return da.where(g.random(da.shape) > 0.3)


def test_lazy_top_level_export():
    from tensorkit.completion import DAIN

    assert tensorkit.DAIN is DAIN


def test_accessor_fills_only_missing_cells():
    da = _field()
    ds = da.tk.complete(model="mlp", sampler="influence", **FAST)
    assert set(ds.data_vars) == {"completed", "prediction", "observed"}
    assert ds["completed"].dims == da.dims and ds["completed"].attrs["units"] == "K"
    observed = ~np.isnan(da.values)  # the result is on da's grid, descending latitude included
    np.testing.assert_array_equal(ds["observed"].values, observed)
    np.testing.assert_array_equal(ds["completed"].values[observed], da.values[observed])
    assert np.isfinite(ds["completed"].values).all()
    assert ds.attrs["n_augmented"] == int(0.5 * round(0.8 * observed.sum()))


def test_accessor_without_augmentation_and_holdout():
    ds = _field(1).tk.complete(model="cp", sampler="none", holdout=0.2, model_options={"rank": 2}, max_epochs=5)
    assert ds.attrs["n_augmented"] == 0 and ds.attrs["holdout_rmse"] > 0


def test_cli_netcdf_roundtrip(tmp_path):
    src, out = tmp_path / "in.nc", tmp_path / "out.nc"
    _field().to_netcdf(src)
    code = main(["complete", str(src), "--model", "costco", "--rank", "3", "--epochs", "5", "--augment", "uniform",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    ds = xr.open_dataset(out)
    assert ds["completed"].shape == (6, 5, 4) and np.isfinite(ds["completed"].values).all()
    assert "holdout_rmse" in ds.attrs


def test_cli_tsv_and_errors(tmp_path, capsys):
    path = tmp_path / "t.tensor"
    g = np.random.default_rng(0)
    idx = np.unique(np.stack([g.integers(0, s, 300) for s in (8, 7, 6)], 1), axis=0)
    path.write_text("".join("\t".join(map(str, r)) + f"\t{r.sum() / 4:.3f}\n" for r in idx))
    out = tmp_path / "o.nc"
    assert main(["complete", str(path), "--epochs", "3", "--rank", "2", "--layers", "8", "--out", str(out), "--quiet"]) == 0
    ds = xr.open_dataset(out)
    n_fit = len(idx) - round(0.1 * len(idx))
    n_train = n_fit - round(0.2 * n_fit)
    assert ds.attrs["n_augmented"] == n_train // 2
    assert ds.sizes["obs"] == len(idx) + n_train // 2
    assert main(["complete", str(tmp_path / "missing.tensor"), "--out", str(tmp_path / "other.nc"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["complete", str(path), "--holdout", "1.5", "--quiet"]) == 2
    with pytest.raises(SystemExit):
        main(["complete", str(path), "--model", "ntm"])
