"""zarr stores as input: streamed training and `tensorkit predict` read them exactly like netCDF."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from tensorkit.cli import main
from tensorkit.data.io import is_zarr_store, open_dataset
from tensorkit.data.pde import NetCDFPairs, darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same 12 Darcy samples as netCDF and as a zarr store."""
    pytest.importorskip("zarr")
    folder = tmp_path_factory.mktemp("darcy")
    ds = to_dataset(darcy_flow(12, resolution=8, seed=0), {"generator": "darcy_flow"})
    write_dataset(ds, folder / "darcy.nc")
    write_dataset(ds, folder / "darcy.zarr", chunk_samples=5)
    return folder / "darcy.nc", folder / "darcy.zarr"


def _train(tmp_path, data, name):
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"name": "netcdf", "path": str(data), "n_test": 4, "test_resolutions": [4]},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 2, "batch_size": 3},
    }))
    run = tmp_path / name
    assert main(["train-operator", str(config), "--out", str(run), "--quiet", "--device", "cpu"]) == 0
    return run


def test_a_zarr_store_streams_the_same_samples_as_netcdf(stores):
    nc, store = (NetCDFPairs(p) for p in stores)
    assert len(store) == len(nc) == 12 and store.shape == nc.shape == (1, 8, 8)
    for indices in ([7, 2, 3], list(range(12))):  # across the store's 5-sample chunks, any order
        for a, b in zip(store.__getitems__(indices), nc.__getitems__(indices)):
            assert torch.equal(a, b)
    assert torch.equal(store.subset(range(8, 12)).strided(2).load()[1], nc.subset(range(8, 12)).strided(2).load()[1])


def test_train_operator_and_predict_on_a_zarr_store_equal_the_netcdf_run(tmp_path, stores):
    nc, store = stores
    from_nc, from_zarr = _train(tmp_path, nc, "nc"), _train(tmp_path, store, "zarr")
    results = [json.loads((run / "results.json").read_text()) for run in (from_nc, from_zarr)]
    assert results[0]["streamed"] and results[1]["streamed"]
    same = [{k: v for k, v in r["final"].items() if k != "seconds"} for r in results]
    assert same[1] == same[0] and "4_l2" in same[0]  # the same numbers read, the same run
    preds = []
    for source in (nc, store):
        out = tmp_path / f"pred_{source.suffix[1:]}.nc"
        assert main(["predict", str(from_zarr), str(source), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
        with xr.open_dataset(out) as pred:
            preds.append(pred["u"].values)
            assert pred.attrs["generator"] == "darcy_flow"  # the zarr store's metadata carried over
    np.testing.assert_array_equal(preds[1], preds[0])


def test_zarr_stores_are_recognised_and_missing_zarr_or_bad_folders_are_named(tmp_path, monkeypatch):
    v3, v2, named, plain = (tmp_path / n for n in ("v3", "v2", "fields.zarr", "plain"))
    for folder in (v3, v2, named, plain):
        folder.mkdir()
    (v3 / "zarr.json").write_text("{}")
    (v2 / ".zgroup").write_text("{}")
    assert [is_zarr_store(p) for p in (v3, v2, named, plain, tmp_path / "none.zarr")] == [True, True, True, False, False]
    with pytest.raises(ValueError, match="is a folder but not a zarr store"):
        open_dataset(plain)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "zarr" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"zarr store; reading it needs the zarr package \(pip install 'tensorkit\[zarr\]'\)"):
        NetCDFPairs(v3)
