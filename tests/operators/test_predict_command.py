"""TFNO.from_checkpoint and `tensorkit predict`: a run folder's operator predicts what its trainer evaluated."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from tensorkit.cli import main
from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.operators import TFNO, relative_lp


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("darcy") / "darcy.nc"
    write_dataset(to_dataset(darcy_flow(12, resolution=8, seed=0), {"generator": "darcy_flow"}), path)
    return path


def _train(tmp_path, data, patching):
    config = {
        "data": {"name": "netcdf", "path": str(data), "n_test": 4, "test_resolutions": []},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 2, "batch_size": 4},
        "patching": patching,
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["train-operator", str(path), "--out", str(run), "--quiet", "--device", "cpu"]) == 0
    return run


@pytest.mark.parametrize("patching", [{}, {"levels": 1, "padding_fraction": 0.125, "chunk_size": 3}])
def test_predict_equals_the_trained_operator_and_keeps_the_input_metadata(tmp_path, darcy, patching, capsys):
    run = _train(tmp_path, darcy, patching)
    operator = TFNO.from_checkpoint(run)
    assert operator.epochs_done == 2 and (operator.patching is None) == (not patching)
    with xr.open_dataset(darcy) as ds:
        x = torch.from_numpy(ds["a"].values).float().unsqueeze(1)
        y = torch.from_numpy(ds["u"].values).float().unsqueeze(1)
    # the trainer's own last evaluation, on the 4 test samples, with the model it held in memory
    final = json.loads((run / "metrics.json").read_text())[-1]
    assert relative_lp(operator.predict(x[-4:]), y[-4:], 2, reduction="mean").item() == pytest.approx(final["8_l2"], rel=1e-6)

    out = tmp_path / "pred.nc"
    assert main(["predict", str(run), str(darcy), "--out", str(out), "--batch-size", "5", "--device", "cpu", "--quiet"]) == 0
    with xr.open_dataset(out) as pred:
        np.testing.assert_array_equal(pred["u"].values, operator.predict(x, batch_size=5)[:, 0].numpy())
        assert pred["u"].dims == ("sample", "x", "y") and pred["u"].dtype == np.float32
        assert pred["u"].encoding["zlib"] and pred.attrs["Conventions"] == "CF-1.8"
        assert pred.attrs["generator"] == "darcy_flow" and pred.attrs["epochs_trained"] == 2
        assert pred.attrs["history"].endswith(f"UTC: tensorkit predict {run} {darcy} --out {out} --batch-size 5 --device cpu --quiet")
        np.testing.assert_array_equal(pred["x"].values, np.arange(8) / 8)
    # the overwrite policy of every command, and bad inputs named
    assert main(["predict", str(run), str(darcy), "--out", str(out), "--quiet"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["predict", str(run), str(darcy), "--out", str(out), "--quiet", "--overwrite", "--var", "u"]) == 0
    assert main(["predict", str(tmp_path), str(darcy), "--out", str(tmp_path / "o.nc"), "--quiet"]) == 2
    assert "holds no checkpoint.pt" in capsys.readouterr().err
    assert main(["predict", str(run), str(darcy), "--out", str(tmp_path / "o.nc"), "--var", "nope", "--quiet"]) == 2
    assert "'nope' not found" in capsys.readouterr().err and not (tmp_path / "o.nc").exists()


def test_a_single_field_without_a_sample_dim(tmp_path, darcy):
    run = _train(tmp_path, darcy, {})
    with xr.open_dataset(darcy) as ds:
        field = ds[["a"]].isel(sample=0).load()
    field.to_netcdf(tmp_path / "one.nc")
    assert main(["predict", str(run), str(tmp_path / "one.nc"), "--out", str(tmp_path / "o.nc"), "--quiet"]) == 0
    expected = TFNO.from_checkpoint(run).predict(torch.from_numpy(field["a"].values).float()[None, None])[0, 0]
    with xr.open_dataset(tmp_path / "o.nc") as pred:
        assert pred["u"].dims == ("x", "y") and pred["u"].dtype == np.float32
        np.testing.assert_array_equal(pred["u"].values, expected.numpy())


@pytest.mark.parametrize("patching", [{}, {"levels": 1, "padding_fraction": 0.125, "chunk_size": 3}])
def test_a_multichannel_operator_predicts_along_the_channel_dim(tmp_path, monkeypatch, patching, capsys):
    from tensorkit.operators import experiment

    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, 8, 8, generator=g)
    y = torch.stack([x[:, 0] * x[:, 1], x[:, 0], x[:, 1] ** 2], 1)
    monkeypatch.setattr(experiment, "load_data", lambda data: ((x[:8], y[:8]), {"8": (x[8:], y[8:])}))
    config = {"model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
              "training": {"n_epochs": 1, "batch_size": 4}, "patching": patching}
    experiment.run_experiment(config, tmp_path / "run", device="cpu", verbose=False)
    operator = TFNO.from_checkpoint(tmp_path / "run")
    assert operator.in_channels == 2 and operator.model.out_channels == 3
    expected = operator.predict(x).numpy()
    # the input's channels may lie between its space dims; the output's follow the sample dim
    a = xr.DataArray(x.numpy(), dims=("sample", "band", "x", "y"), coords={"x": np.arange(8) / 8, "band": ["p", "q"]})
    a.transpose("sample", "x", "band", "y").to_dataset(name="a").to_netcdf(tmp_path / "in.nc")
    out = tmp_path / "pred.nc"
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.nc"), "--channel-dim", "band", "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0
    with xr.open_dataset(out) as pred:
        assert pred["u"].dims == ("sample", "band", "x", "y") and pred.sizes["band"] == 3 and "band" not in pred.coords
        np.testing.assert_allclose(pred["u"].values, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(pred["x"].values, np.arange(8) / 8)
    a.isel(sample=0).to_dataset(name="a").to_netcdf(tmp_path / "one.nc")  # one field: (band, x, y)
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "one.nc"), "--channel-dim", "band", "--out",
                 str(tmp_path / "one_pred.nc"), "--device", "cpu", "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "one_pred.nc") as pred:
        assert pred["u"].dims == ("band", "x", "y")
        np.testing.assert_allclose(pred["u"].values, expected[0], rtol=1e-5, atol=1e-6)
    # without --channel-dim the default name 'channel' is missing: refused, naming the option
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.nc"), "--out", str(tmp_path / "o.nc"), "--quiet"]) == 2
    assert "takes 2 input channels" in capsys.readouterr().err and not (tmp_path / "o.nc").exists()


def test_a_multichannel_netcdf_trains_and_its_run_predicts(tmp_path):
    """2 input fields along 'band' (between the space dims), 3 output fields along 'field': train-operator, then predict."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, 8, 8, generator=g)  # (sample, band, x, y)
    y = torch.stack([x[:, 0] * x[:, 1], x[:, 0], x[:, 1] ** 2], 1)  # (sample, field, x, y)
    xr.Dataset({"a": (("sample", "x", "band", "y"), x.permute(0, 2, 1, 3).numpy()), "u": (("sample", "field", "x", "y"), y.numpy())},
               coords={"x": np.arange(8) / 8}).to_netcdf(tmp_path / "pairs.nc")  # fmt: skip
    config = {
        "data": {"name": "netcdf", "path": str(tmp_path / "pairs.nc"), "n_test": 2, "test_resolutions": [], "output_channel_dim": "field"},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 2, "batch_size": 4},
    }  # fmt: skip
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["train-operator", str(tmp_path / "exp.yaml"), "--channel-dim", "band", "--out", str(run), "--quiet", "--device", "cpu"]) == 0
    operator = TFNO.from_checkpoint(run)
    assert operator.in_channels == 2 and operator.model.out_channels == 3 and operator.config["data"]["channel_dim"] == "band"
    final = json.loads((run / "metrics.json").read_text())[-1]  # the trainer read the channels in this order
    assert relative_lp(operator.predict(x[-2:]), y[-2:], 2, reduction="mean").item() == pytest.approx(final["8_l2"], rel=1e-6)
    out = tmp_path / "pred.nc"  # --channel-dim defaults to the run's
    assert main(["predict", str(run), str(tmp_path / "pairs.nc"), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    with xr.open_dataset(out) as pred:
        assert pred["u"].dims == ("sample", "band", "x", "y") and pred.sizes["band"] == 3
        np.testing.assert_allclose(pred["u"].values, operator.predict(x).numpy(), rtol=1e-5, atol=1e-6)
