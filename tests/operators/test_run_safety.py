"""train-operator in batch jobs: a locked run folder, non-finite data and losses, resumes that refuse
a changed configuration, the YAML seed, and the warning for a finished cosine schedule."""

from __future__ import annotations

import json

import pytest
import torch
import xarray as xr
import yaml

from tensorkit.cli import main
from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.operators import TFNO
from tensorkit.operators.trainer import Trainer
from tensorkit.runtime import folder_lock, load_checkpoint


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("darcy") / "darcy.nc"
    write_dataset(to_dataset(darcy_flow(12, resolution=8, seed=0), {"generator": "darcy_flow"}), path)
    return path


def _config(tmp_path, data, name="exp.yaml", **training):
    config = {
        "data": {"name": "netcdf", "path": str(data), "n_test": 4, "test_resolutions": []},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 1, "batch_size": 4, **training},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def _train(config, out, *extra):
    return main(["train-operator", str(config), "--out", str(out), "--quiet", "--device", "cpu", *extra])


def test_a_locked_run_folder_is_refused(tmp_path, darcy, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with folder_lock(out):
        assert _train(_config(tmp_path, darcy), out) == 2
    assert "in use by another tensorkit process" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_run_folder_that_is_a_file_is_refused_before_reading_data(tmp_path, capsys):
    out = tmp_path / "run"
    out.write_text("x")
    assert _train(_config(tmp_path, tmp_path / "missing.nc"), out) == 2
    assert "is a file; a run folder is needed" in capsys.readouterr().err


def test_non_finite_training_data_is_rejected_up_front(tmp_path, darcy, capsys):
    with xr.open_dataset(darcy) as ds:
        bad = ds.load()
    bad["a"][0, 0, 0] = float("nan")
    path = tmp_path / "nan.nc"
    bad.to_netcdf(path)
    out = tmp_path / "run"
    assert _train(_config(tmp_path, path), out) == 2
    err = capsys.readouterr().err
    assert "nan.nc" in err and "training inputs holds NaN or infinite values" in err
    assert not (out / "checkpoint.pt").exists()


def test_resume_refuses_a_changed_configuration_and_names_the_keys(tmp_path, darcy, capsys):
    out = tmp_path / "run"
    assert _train(_config(tmp_path, darcy), out) == 0
    before = (out / "checkpoint.pt").read_bytes()
    changed = _config(tmp_path, darcy, "changed.yaml", lr=0.1, n_epochs=2)
    assert _train(changed, out) == 2
    err = capsys.readouterr().err
    assert "training.lr (0.008 → 0.1)" in err and "n_epochs" not in err
    assert _train(_config(tmp_path, darcy), out, "--seed", "5") == 2
    assert "training.seed (0 → 5)" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == before
    assert _train(changed, out, "--restart") == 0


def test_yaml_seed_holds_unless_seed_is_given(tmp_path, darcy):
    config = _config(tmp_path, darcy, seed=7)
    assert _train(config, tmp_path / "a") == 0
    assert json.loads((tmp_path / "a" / "results.json").read_text())["config"]["training"]["seed"] == 7
    assert _train(config, tmp_path / "b", "--seed", "3") == 0
    assert json.loads((tmp_path / "b" / "results.json").read_text())["config"]["training"]["seed"] == 3


def test_more_epochs_after_a_finished_cosine_schedule_warn(tmp_path, darcy):
    config = _config(tmp_path, darcy)
    assert _train(config, tmp_path / "run") == 0
    with pytest.warns(RuntimeWarning, match="cosine schedule that ends at epoch 1"):
        assert _train(config, tmp_path / "run", "--epochs", "2") == 0


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model = TFNO((4, 4), 1, 1, 4, n_layers=1)
    ckpt = tmp_path / "checkpoint.pt"
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), train_loss="l2", batch_size=4,
                      checkpoint_path=ckpt)
    trainer.fit((x, x), 1)
    good = ckpt.read_bytes()
    trainer.optimizer.param_groups[0]["lr"] = float("nan")
    with pytest.raises(FloatingPointError, match="training loss is nan at epoch 2.*last good checkpoint"):
        trainer.fit((x, x), 3)
    assert ckpt.read_bytes() == good
    trainer.save_every = 1  # the step that makes the weights NaN still has a finite loss: the save refuses
    trainer.load_state_dict(load_checkpoint(ckpt))
    trainer.optimizer.param_groups[0]["lr"] = float("nan")
    with pytest.raises(FloatingPointError, match="weights became non-finite"):
        trainer.fit((x, x), 3)
    assert ckpt.read_bytes() == good
    state = load_checkpoint(ckpt)
    state["model"] = {k: torch.full_like(v, float("nan")) for k, v in state["model"].items()}
    fresh = TFNO((4, 4), 1, 1, 4, n_layers=1)
    with pytest.raises(ValueError, match="checkpoint.pt.*non-finite weights"):
        Trainer(fresh, torch.optim.Adam(fresh.parameters()), checkpoint_path=ckpt).load_state_dict(state)
