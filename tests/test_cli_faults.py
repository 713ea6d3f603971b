"""Faults at the command line: SIGTERM a running ``tensorkit train-operator`` job, rerun the same
command, and reach exactly the weights and metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch
import yaml

from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.runtime import load_checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _experiment(tmp_path):
    data = tmp_path / "darcy.nc"
    write_dataset(to_dataset(darcy_flow(48, resolution=16, seed=0), {"generator": "darcy_flow"}), data)
    config = {
        "data": {"name": "netcdf", "path": str(data), "n_test": 8, "test_resolutions": [8]},
        "model": {"n_modes": [8, 8], "hidden_channels": 8, "n_layers": 2, "factorization": "tucker", "rank": 0.3},
        "training": {"n_epochs": 3, "batch_size": 2, "save_every": 1},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _command(config, out):
    return [sys.executable, "-m", "tensorkit", "train-operator", str(config), "--out", str(out), "--quiet",
            "--device", "cpu"]


def test_sigterm_then_rerun_reaches_the_uninterrupted_result(tmp_path):
    config = _experiment(tmp_path)
    reference = subprocess.run(_command(config, tmp_path / "ref"), env=ENV, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "cut"
    proc = subprocess.Popen(_command(config, out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err  # checkpointed and exited early, as SLURM requeueing expects
    assert json.loads((out / "results.json").read_text())["interrupted"]
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] < 3

    resumed = subprocess.run(_command(config, out), env=ENV, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    ref_state, cut_state = load_checkpoint(tmp_path / "ref" / "checkpoint.pt"), load_checkpoint(out / "checkpoint.pt")
    for key, value in ref_state["model"].items():
        assert torch.equal(value, cut_state["model"][key]), key
    metrics = [json.loads((d / "results.json").read_text())["final"] for d in (tmp_path / "ref", out)]
    for final in metrics:
        final.pop("seconds")  # wall time, the only thing allowed to differ
    assert metrics[0] == metrics[1]
