"""Streamed operator data: the same run as in memory, one-pass statistics, and per-rank shards under torchrun."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tensorkit.data.pde import NetCDFPairs, read_pairs, to_dataset, write_dataset
from tensorkit.operators.experiment import run_experiment
from tensorkit.operators.loading import scan
from tensorkit.operators.normalizer import ChannelMoments, GaussianNormalizer

SCRIPT = Path(__file__).with_name("train_tiny.py")


def _write(path, x, y, chunk_samples=4):
    write_dataset(to_dataset({"a": x[:, 0], "u": y[:, 0]}, {}), path, chunk_samples=chunk_samples)
    return path


def test_moments_merged_over_batches_equal_those_of_the_whole_set():
    g = torch.Generator().manual_seed(0)
    x = 3.0 + 1e3 * torch.randn(53, 3, 5, 4, generator=g)  # large mean: naive sums would lose digits
    merged = ChannelMoments.of(x[:7])
    for part in torch.split(x[7:], 9):
        merged = merged.merge(ChannelMoments.of(part))
    x64 = x.double().transpose(0, 1).reshape(3, -1)
    assert torch.allclose(merged.mean, x64.mean(1), rtol=1e-10, atol=0)
    assert torch.allclose(merged.std, x64.std(1), rtol=1e-10, atol=0)
    assert merged.count.item() == 53 * 20


def test_streamed_statistics_equal_the_in_memory_statistics(tmp_path):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(37, 1, 8, 8, generator=g)
    path = _write(tmp_path / "d.nc", x, 5.0 + 2.0 * x**2, chunk_samples=5)
    streamed = scan(NetCDFPairs(path), batch_size=6, device=torch.device("cpu"))
    _, y = read_pairs(path)
    y64 = y.double().reshape(-1)
    assert torch.allclose(streamed.output_moments.mean, y64.mean()[None], rtol=1e-10, atol=0)
    assert torch.allclose(streamed.output_moments.std, y64.std()[None], rtol=1e-10, atol=0)
    assert streamed.nonfinite_inputs == streamed.nonfinite_outputs == 0
    memory = GaussianNormalizer(1).fit(y)
    normalizer = GaussianNormalizer(1).fit_moments(streamed.output_moments)
    assert torch.equal(memory.mean, normalizer.mean) and torch.equal(memory.std, normalizer.std)


def test_streamed_run_equals_the_in_memory_run(tmp_path):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 1, 8, 8, generator=g)
    path = _write(tmp_path / "d.nc", x, torch.roll(x, 2, dims=-1) + 0.3 * x**2)
    config = {
        "data": {"name": "netcdf", "path": str(path), "n_test": 5, "test_resolutions": [4]},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 2, "batch_size": 4, "scheduler": "none"},
    }
    runs = {}
    for name, data in {"memory": {"streaming": False}, "stream": {}, "workers": {"num_workers": 1}}.items():
        cfg = {**config, "data": {**config["data"], **data}}
        runs[name] = run_experiment(cfg, out_dir=tmp_path / name, device="cpu", verbose=False)
        runs[name]["metrics"] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert not runs["memory"]["streamed"] and runs["stream"]["streamed"] and runs["stream"]["n_train"] == 11
    assert runs["stream"]["output_normalizer"] == runs["memory"]["output_normalizer"]
    for name in ("stream", "workers"):
        for mine, ref in zip(runs[name]["metrics"], runs["memory"]["metrics"]):
            for key in ("train_loss", "8_l2", "8_h1", "4_l2", "4_h1"):
                assert mine[key] == pytest.approx(ref[key], rel=1e-6, abs=0), (name, key)
    # how the data are read is not part of the run: a streamed run resumes an in-memory checkpoint
    more = {**config, "training": {**config["training"], "n_epochs": 3}}
    assert run_experiment(more, out_dir=tmp_path / "memory", device="cpu", verbose=False)["epochs_done"] == 3


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.distributed
def test_two_process_streamed_run_reads_shards_and_equals_one_process(tmp_path):
    spec = importlib.util.spec_from_file_location("train_tiny", SCRIPT)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    common = ["--epochs", "2", "--n-samples", "18", "--batch-size", "8"]  # last batch of 2: shards of 1
    one = tiny.run([*common, "--out", str(tmp_path / "one.pt")])  # in memory, one process
    path = _write(tmp_path / "d.nc", *tiny.data(18, 8))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(SCRIPT), *common, "--netcdf", str(path), "--out", str(tmp_path / "two.pt")]
    double = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert double.returncode == 0, double.stderr[-3000:]
    assert double.stdout.count("process group destroyed") == 2, double.stdout
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    assert torch.allclose(two["losses"], one["losses"], rtol=0, atol=1e-5)
    for key in one["model"]:
        assert torch.allclose(two["model"][key], one["model"][key], rtol=1e-4, atol=1e-5), key
    reads = [torch.load(tmp_path / f"two.pt.rank{r}", weights_only=True) for r in (0, 1)]
    assert len(reads[0]) == len(reads[1]) == 18  # 2 epochs × 9 samples: half of every batch each
    for epoch in (slice(0, 9), slice(9, 18)):
        first, second = set(reads[0][epoch].tolist()), set(reads[1][epoch].tolist())
        assert not first & second and first | second == set(range(18))


def test_bad_streaming_settings_and_data_are_named(tmp_path):
    from tensorkit.operators import TFNO, Trainer
    from tensorkit.operators.experiment import load_data, merge_config

    data = merge_config({})["data"]
    with pytest.raises(TypeError, match="data.streaming must be true, false or null"):
        load_data({**data, "streaming": "yes"})
    with pytest.raises(ValueError, match="data.streaming: true needs file-backed data"):
        load_data({**data, "streaming": True})
    with pytest.raises(ValueError, match="data.path must name the netCDF file"):
        load_data({**data, "name": "netcdf"})
    path = _write(tmp_path / "d.nc", torch.zeros(6, 1, 4, 4), torch.zeros(6, 1, 4, 4))
    with pytest.raises(ValueError, match="must be ≤ the 6 samples of .*d.nc"):
        load_data({**data, "name": "netcdf", "path": str(path), "n_test": 4, "n_train": 3})
    model = TFNO((2, 2), 1, 1, 4, n_layers=1)
    with pytest.raises(ValueError, match="num_workers must be ≥ 0"):
        Trainer(model, torch.optim.Adam(model.parameters()), num_workers=-1)
    with pytest.raises(TypeError, match="train must be a pair of tensors"):
        Trainer(model, torch.optim.Adam(model.parameters())).fit([torch.zeros(2, 1, 4, 4)], 1)
