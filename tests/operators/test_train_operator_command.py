"""The train-operator subcommand and YAML configs."""

import json

import pytest
import yaml

from tensorkit.cli import main
from tensorkit.operators.experiment import merge_config


def test_train_operator_on_a_darcy_subset(tmp_path, shared_data):
    config = {
        "data": {"name": "darcy", "n_train": 32, "n_test": 8, "test_resolutions": [16, 32]},
        "model": {"n_modes": [8, 8], "hidden_channels": 8, "n_layers": 2, "factorization": "cp", "rank": 0.2},
        "training": {"n_epochs": 2, "batch_size": 16},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert main(["train-operator", str(path), "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["epochs_done"] == 2 and not results["interrupted"]
    assert {"16_l2", "32_l2"} <= set(results["final"])
    assert len(json.loads((out / "metrics.json").read_text())) == 2
    # a second call resumes from the finished checkpoint and trains one more epoch only
    assert main(["train-operator", str(path), "--out", str(out), "--quiet", "--epochs", "3"]) == 0
    assert len(json.loads((out / "metrics.json").read_text())) == 3


def test_unknown_keys_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="training.lr_decay"):
        merge_config({"training": {"lr_decay": 0.5}})
    with pytest.raises(ValueError, match="section"):
        merge_config({"optimiser": {}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"model": {"compression": 0.42}}))
    assert main(["train-operator", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2  # clear error, no run


def test_shipped_configs_load_dense_and_explicit_ranks():
    """``factorization: null`` (dense FNO) and explicit rank lists are valid model settings: the
    typed config check must not reject values whose type differs from the default's."""
    from pathlib import Path

    from tensorkit.operators.experiment import build_operator, load_config

    configs = Path(__file__).resolve().parents[2] / "experiments" / "mgtfno" / "configs"
    for path in sorted(configs.glob("*.yaml")):
        load_config(path)
    assert load_config(configs / "darcy16_fno.yaml")["model"]["factorization"] is None
    cfg = merge_config({"model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 2, "factorization": "tucker",
                                  "rank": [2, 3, 3, 2, 2]}})
    assert build_operator(cfg["model"], 1, 1, 0, seed=0).spectral.weight.rank == (2, 3, 3, 2, 2)
    with pytest.raises(TypeError, match="model.hidden_channels"):
        merge_config({"model": {"hidden_channels": "32"}})
