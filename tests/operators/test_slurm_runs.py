"""Runs started the way SLURM's ``srun`` starts them (one process per task, no torchrun, ranks and
rendezvous from SLURM's variables): SIGUSR1 on one task → checkpoint → requeue → resume, resumes
under another number of processes, and train-operator writing and printing on rank 0 only."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.runtime.slurm import PORT_BASE, PORT_SPAN, job_port

pytestmark = pytest.mark.distributed

SCRIPT = Path(__file__).with_name("train_tiny.py")
# 24 samples in global batches of 4: 6 steps an epoch, 12 in all; shards of 2 on 2 tasks
COMMON = ["--epochs", "2", "--n-samples", "24", "--batch-size", "4"]
_RENDEZVOUS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _free_job_id() -> str:
    """A job id whose derived rendezvous port is free now (so the port derivation itself is exercised)."""
    for offset in range(PORT_SPAN):
        job_id = 7_000_000 + (os.getpid() * 7 + offset) % PORT_SPAN
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", job_port(str(job_id))))
            except OSError:
                continue
        return str(job_id)
    raise RuntimeError(f"no free port in {PORT_BASE}–{PORT_BASE + PORT_SPAN}")


def _srun(cmd: list[str], n_tasks: int) -> list[subprocess.CompletedProcess]:
    """Start ``cmd`` as ``n_tasks`` tasks of one job step on this host, as ``srun`` does; wait for all."""
    env = {k: v for k, v in os.environ.items() if k not in _RENDEZVOUS}
    env.update(OMP_NUM_THREADS="1", SLURM_JOB_ID=_free_job_id(), SLURM_STEP_NUM_TASKS=str(n_tasks),
               SLURM_NTASKS=str(n_tasks), SLURM_STEP_NODELIST="localhost", SLURM_JOB_NODELIST="localhost")
    procs = [subprocess.Popen(cmd, env={**env, "SLURM_PROCID": str(r), "SLURM_LOCALID": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(n_tasks)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _tiny(*args: str, n_tasks: int = 1) -> list[subprocess.CompletedProcess]:
    tasks = _srun([sys.executable, str(SCRIPT), *COMMON, *args], n_tasks)
    for task in tasks:
        assert task.returncode == 0, task.stderr[-3000:]
    return tasks


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """One process, no interruption: the run every resumed run must reproduce (same global batches)."""
    spec = importlib.util.spec_from_file_location("train_tiny", SCRIPT)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    return tiny.run([*COMMON, "--out", str(tmp_path_factory.mktemp("ref") / "ref.pt")])


def _assert_same_run(result: dict, reference: dict) -> None:
    """Equal up to floating-point summation order (the shards' losses are summed across processes)."""
    assert result["global_step"] == 12 and not result["interrupted"]
    torch.testing.assert_close(result["losses"], reference["losses"], rtol=0, atol=1e-5)
    for key in reference["model"]:
        torch.testing.assert_close(result["model"][key], reference["model"][key], rtol=1e-4, atol=1e-5)


def test_sigusr1_to_one_task_checkpoints_all_and_the_requeued_run_resumes_on_two_or_one(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt.pt"
    cut = _tiny("--checkpoint", str(ckpt), "--out", str(tmp_path / "cut.pt"), "--signal-at", "8", "--signal-rank", "1",
                n_tasks=2)
    # only task 1 got the signal; both stopped after step 8 (epoch 2, step 2) with one checkpoint
    assert [t.stdout.splitlines()[0] for t in cut] == ["interrupted 1 2"] * 2
    assert [t.stdout.count("process group destroyed") for t in cut] == [1, 1]
    first = _load(tmp_path / "cut.pt")
    assert first["interrupted"] and first["global_step"] == 8
    shutil.copy(ckpt, tmp_path / "ckpt_for_one.pt")
    # the requeued job: the same two tasks resume from the checkpoint
    _tiny("--checkpoint", str(ckpt), "--resume", "--out", str(tmp_path / "two.pt"), n_tasks=2)
    two = _load(tmp_path / "two.pt")
    assert torch.equal(two["losses"][:8], first["losses"])
    _assert_same_run(two, uninterrupted)
    # 2 → 1: the same checkpoint resumed by a single process
    _tiny("--checkpoint", str(tmp_path / "ckpt_for_one.pt"), "--resume", "--out", str(tmp_path / "one.pt"))
    _assert_same_run(_load(tmp_path / "one.pt"), uninterrupted)


def test_a_single_process_checkpoint_resumes_on_two_tasks(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt.pt"
    (cut,) = _tiny("--checkpoint", str(ckpt), "--out", str(tmp_path / "cut.pt"), "--signal-at", "3")
    assert cut.stdout.startswith("interrupted 0 3")
    _tiny("--checkpoint", str(ckpt), "--resume", "--out", str(tmp_path / "two.pt"), n_tasks=2)
    _assert_same_run(_load(tmp_path / "two.pt"), uninterrupted)


def test_train_operator_on_two_tasks_prints_and_writes_on_rank_0_only(tmp_path):
    data = tmp_path / "darcy.nc"
    write_dataset(to_dataset(darcy_flow(12, resolution=8, seed=0), {"generator": "darcy_flow"}), data)
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"name": "netcdf", "path": str(data), "n_test": 4, "test_resolutions": []},
        "model": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 1, "batch_size": 4},
    }))
    out = tmp_path / "run"
    tasks = _srun([sys.executable, "-m", "tensorkit", "train-operator", str(config), "--out", str(out),
                   "--device", "cpu"], 2)
    assert [t.returncode for t in tasks] == [0, 0], [t.stderr[-2000:] for t in tasks]
    assert tasks[0].stdout.strip() and not tasks[1].stdout.strip()  # the summary once, from rank 0
    assert json.loads(tasks[0].stdout)["epochs_done"] == 1
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["n_train"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.json", "results.json"]
