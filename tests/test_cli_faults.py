"""Faults at the command line: SIGTERM (or SIGINT) a running ``tensorkit`` job, rerun the same
command, and reach exactly the result of an uninterrupted run; the stopped run exits 143 (130),
writes no final output and leaves a checkpoint; nothing hidden is left behind."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from tensorkit.cli import main
from tensorkit.completion import command as complete_command
from tensorkit.completion import training
from tensorkit.data.cf import write_cf_netcdf
from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.funbat.inference import ConditionalEP
from tensorkit.runtime import load_checkpoint, output_lock
from tests.conftest import SMALL_AIR

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads signal handlers from /proc")


def _handles_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has installed a SIGTERM handler (tensorkit's, once its command starts)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            caught = next(line for line in fh if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _stop_when_ready(command: list[str], signum: int) -> subprocess.Popen:
    """Start ``command``, send ``signum`` as soon as its handler is in place, and wait for the end."""
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while proc.poll() is None and not _handles_sigterm(proc.pid) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signum)
    proc.stdout_text, proc.stderr_text = proc.communicate(timeout=300)
    return proc


def _tensorkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "tensorkit", *args, "--quiet", "--device", "cpu"]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)


def _grid(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    t, x = np.arange(15.0), np.linspace(0, 1, 12)
    values = np.sin(t / 3)[:, None] * np.cos(3 * x)[None, :] + 0.1 * rng.standard_normal((15, 12))
    path = tmp_path / "field.nc"
    xr.DataArray(values, dims=("t", "x"), coords={"t": t, "x": x}, name="v").to_netcdf(path)
    return path


def _assert_same_data(a: Path, b: Path) -> None:
    with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
        assert set(da.data_vars) == set(db.data_vars)
        for name in da.data_vars:
            np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)


_SMALL_FIELD = f"""import os, signal, sys
import tensorkit.data
from tensorkit.cli import main
small = tensorkit.data.load_air_temperature().isel(**{SMALL_AIR!r})
tensorkit.data.load_air_temperature = lambda: small
"""  # the head of a script that runs ``tensorkit`` with the demo on the small field


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@needs_proc
@pytest.mark.parametrize("command, checkpoints", [
    (["funbat", "--epochs", "8"], [".ckpt.pt"]),
    (["complete", "--model", "cp", "--rank", "2", "--epochs", "4"], [".ckpt.step1.pt"]),
])
def test_sigterm_checkpoints_without_output_and_the_rerun_matches(tmp_path, command, checkpoints):
    data = _grid(tmp_path)
    name, options = command[0], command[1:]
    ref, cut = tmp_path / "ref.nc", tmp_path / "cut.nc"
    reference = _run(_tensorkit(name, str(data), *options, "--out", str(ref)))
    assert reference.returncode == 0, reference.stderr

    stopped = _stop_when_ready(_tensorkit(name, str(data), *options, "--out", str(cut)), signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stderr_text
    assert "stopped by SIGTERM" in stopped.stderr_text and "resume" in stopped.stderr_text
    assert not cut.exists()
    assert all(Path(f"{cut}{suffix}").exists() for suffix in [*checkpoints, ".ckpt.json"])

    changed = _run(_tensorkit(name, str(data), *options, "--seed", "1", "--out", str(cut)))
    assert changed.returncode == 2 and "other settings" in changed.stderr and "seed (0 → 1)" in changed.stderr

    resumed = _run(_tensorkit(name, str(data), *options, "--out", str(cut)))
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_data(ref, cut)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.nc", "field.nc", "ref.nc"]  # checkpoints gone
    assert _hidden(tmp_path) == []


class _Killed(BaseException):
    """Stands in for ``kill -9``: the run ends where it is raised, no handler of tensorkit's sees it."""


def _kill() -> None:
    raise _Killed


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def _on_call(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, actions: dict[int, Callable[[], None]]) -> None:
    """Run ``actions[n]`` at the start of the ``n``-th call (0-based) of ``owner.name``."""
    calls, real = itertools.count(), getattr(owner, name)

    def wrapped(*args, **kwargs):
        actions.get(next(calls), lambda: None)()
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


def _at_validation(monkeypatch: pytest.MonkeyPatch, actions: dict[int, Callable[[], None]]) -> None:
    """``actions[n]`` at the start of the ``n``-th validation pass of a DAIN fit (one per epoch, Step 1 first)."""
    _on_call(monkeypatch, training, "validation_pass", actions)


def test_complete_stopped_mid_training_resumes_bit_for_bit_also_after_a_second_kill(tmp_path, monkeypatch, capsys):
    data = _grid(tmp_path)
    ref, out = tmp_path / "ref.nc", tmp_path / "out.nc"
    command = ["complete", str(data), "--model", "cp", "--rank", "2", "--epochs", "4", "--quiet", "--device", "cpu"]
    assert main([*command, "--out", str(ref)]) == 0
    step1, retrain = Path(f"{out}.ckpt.step1.pt"), Path(f"{out}.ckpt.retrain.pt")

    _at_validation(monkeypatch, {1: _sigterm})  # SIGTERM in Step 1's second epoch
    assert main([*command, "--out", str(out)]) == 143
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert not out.exists() and step1.exists() and not retrain.exists()
    assert load_checkpoint(step1, restore_rng=False)["epoch"] == 2
    saved = step1.read_bytes()

    _at_validation(monkeypatch, {1: _kill})  # the resumed run dies before its next checkpoint ...
    with pytest.raises(_Killed):
        main([*command, "--out", str(out)])
    assert step1.read_bytes() == saved and not out.exists()  # ... and can resume again from the same state

    _at_validation(monkeypatch, {})
    monkeypatch.setattr(complete_command, "write_cf_netcdf", lambda *args, **kwargs: _kill())  # killed writing the output
    with pytest.raises(_Killed):
        main([*command, "--out", str(out)])
    assert step1.exists() and retrain.exists() and not out.exists()  # both trainings finished and kept

    _at_validation(monkeypatch, {0: _kill})  # nothing is trained again
    monkeypatch.setattr(complete_command, "write_cf_netcdf", write_cf_netcdf)
    assert main([*command, "--out", str(out)]) == 0
    _assert_same_data(ref, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.nc", "out.nc", "ref.nc"]  # checkpoints gone


@pytest.mark.parametrize("command", [
    ["funbat", "GRID", "--rank", "1", "--epochs", "2"],
    ["complete", "GRID", "--model", "cp", "--rank", "2", "--epochs", "2"],
    ["demo"],
], ids=lambda c: c[0])
def test_a_second_run_with_the_same_out_is_refused_while_the_first_runs(tmp_path, capsys, command):
    data, out = _grid(tmp_path), tmp_path / "out.nc"
    command = [str(data) if arg == "GRID" else arg for arg in command] + ["--quiet", "--device", "cpu", "--out", str(out)]
    with output_lock(out):  # held as a first run holds it (flock: a second open file conflicts, also in one process)
        assert main(command) == 2
    assert f"--out {str(out)!r} is being written by another tensorkit process" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.nc"]  # nothing written, nothing left


@needs_proc
def test_sigint_stops_funbat_with_130_and_a_checkpoint(tmp_path):
    data = _grid(tmp_path)
    out = tmp_path / "out.nc"
    stopped = _stop_when_ready(_tensorkit("funbat", str(data), "--epochs", "8", "--out", str(out)), signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr_text
    assert not out.exists() and Path(f"{out}.ckpt.pt").exists() and Path(f"{out}.ckpt.json").exists()


@needs_proc
def test_sigterm_stops_the_demo_without_outputs_and_the_rerun_finishes(tmp_path):
    out = tmp_path / "demo.nc"
    demo = [sys.executable, "-c", _SMALL_FIELD + "sys.exit(main(sys.argv[1:]))", "demo", "--rank", "1", "--quiet", "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    stopped = _stop_when_ready(demo, signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stderr_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.nc.ckpt.json", "demo.nc.ckpt.pt"]  # no netCDF, no figure
    resumed = _run(demo)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.nc", "demo.png"]


def test_demo_stopped_mid_fit_by_sigusr1_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, capsys, small_air):
    command = ["demo", "--rank", "1", "--quiet", "--device", "cpu"]
    assert main([*command, "--out", str(tmp_path / "ref.nc")]) == 0
    out = tmp_path / "out.nc"

    _on_call(monkeypatch, ConditionalEP, "epoch", {1: lambda: os.kill(os.getpid(), signal.SIGUSR1)})  # SLURM's --signal
    assert main([*command, "--out", str(out)]) == 143
    assert "stopped by SIGUSR1" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc.ckpt.json", "out.nc.ckpt.pt", "ref.nc", "ref.png"]

    _on_call(monkeypatch, ConditionalEP, "epoch", {})
    assert main([*command, "--out", str(out)]) == 0
    _assert_same_data(tmp_path / "ref.nc", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "out.png", "ref.nc", "ref.png"]


def _experiment(tmp_path: Path, n_samples: int = 48) -> Path:
    data = tmp_path / "darcy.nc"
    write_dataset(to_dataset(darcy_flow(n_samples, resolution=16, seed=0), {"generator": "darcy_flow"}), data)
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
    assert "stopped by SIGTERM" in err
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


_KILLED_WRITE = _SMALL_FIELD + """replace = os.replace
def killing_replace(source, target, *args, **kwargs):  # the temporary file written in full, then SIGKILL before its rename
    if os.path.basename(target) == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(source, target, *args, **kwargs)
os.replace = killing_replace
main(sys.argv[2:])
"""


@pytest.mark.parametrize("options, out, final, outputs", [
    (["funbat", "GRID", "--rank", "1", "--epochs", "2"], "out/out.nc", "out/out.nc", ["out.nc"]),
    (["complete", "GRID", "--model", "cp", "--rank", "2", "--epochs", "2"], "out/out.nc", "out/out.nc", ["out.nc"]),
    (["demo", "--rank", "1"], "out/out.nc", "out/out.nc", ["out.nc", "out.png"]),
    (["train-operator", "EXPERIMENT", "--epochs", "1"], "run", "run/results.json",
     ["checkpoint.pt", "metrics.json", "results.json"]),
], ids=["funbat", "complete", "demo", "train-operator"])
def test_kill_9_writing_the_output_keeps_the_previous_one_and_the_rerun_sweeps_its_temporary(tmp_path, capsys, small_air,
                                                                                             options, out, final, outputs):  # fmt: skip
    inputs = {"GRID": _grid, "EXPERIMENT": lambda folder: _experiment(folder, n_samples=12)}
    command = [str(inputs[arg](tmp_path)) if arg in inputs else arg for arg in options]
    command += ["--overwrite", "--quiet", "--device", "cpu", "--out", str(tmp_path / out)]
    final = tmp_path / final
    final.parent.mkdir()
    final.write_bytes(b"previous result")
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITE, final.name, *command], env=ENV, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert final.read_bytes() == b"previous result" and len(_hidden(final.parent)) == 1  # the killed write's temporary
    assert main([*command, "--seed", "1"]) == 2  # the killed run's checkpoint binds a rerun to its settings, by name
    assert "seed (0 → 1)" in capsys.readouterr().err and final.read_bytes() == b"previous result"
    assert main(command) == 0  # the rerun
    assert sorted(p.name for p in final.parent.iterdir()) == outputs  # no temporary, checkpoint, record or lock left
    if final.suffix == ".nc":
        xr.open_dataset(final).close()  # the new result, complete
    else:
        assert json.loads(final.read_text())["epochs_done"] == 1


def test_a_rerun_sweeps_the_temporary_file_of_a_killed_write(tmp_path):
    out = tmp_path / "model.npz"
    script = ("import os, signal\nfrom tensorkit.runtime import atomic_write\n"
              f"with atomic_write({str(out)!r}) as fh:\n    fh.write(b'half')\n    fh.flush()\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")  # a write killed half-way, as by the OOM killer
    assert subprocess.run([sys.executable, "-c", script], env=ENV).returncode == -signal.SIGKILL
    assert not out.exists() and len(_hidden(tmp_path)) == 1
    done = _run(_tensorkit("chebtucker", "x*y + z", "--degree", "4", "--out", str(out)))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]

