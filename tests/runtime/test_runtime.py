"""Atomic writes, checkpoints with RNG state, graceful interrupts, device policy."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from tensorkit.runtime import (
    GracefulInterrupt, atomic_save, atomic_write, load_checkpoint, resolve_device, save_checkpoint,
)


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "f.txt"
    with atomic_write(path, "w") as fh:
        fh.write("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as fh:
            fh.write("partial")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_write_respects_umask_and_existing_mode(tmp_path):
    path = tmp_path / "new.txt"
    old = os.umask(0o022)
    try:
        with atomic_write(path, "w") as fh:
            fh.write("x")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        with atomic_write(path, "w") as fh:
            fh.write("y")
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_kill_during_write_keeps_previous_file(tmp_path):
    path = tmp_path / "model.pt"
    atomic_save({"w": torch.zeros(3)}, path)
    script = textwrap.dedent(f"""
        import os, signal, torch
        from tensorkit.runtime import atomic_write
        with atomic_write({str(path)!r}) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    torch.testing.assert_close(torch.load(path, weights_only=True)["w"], torch.zeros(3))


def test_checkpoint_restores_every_rng(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    save_checkpoint(path, {"epoch": 3, "weights": torch.ones(2)})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()  # advance every stream
    state = load_checkpoint(path)
    assert state["epoch"] == 3 and torch.equal(state["weights"], torch.ones(2))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    atomic_save({"a": torch.zeros(10)}, bad)
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(bad)
    plain = tmp_path / "plain.pt"
    atomic_save({"a": 1}, plain)
    with pytest.raises(ValueError, match="not a tensorkit checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", {"rng_state": 1})


def test_graceful_interrupt_turns_sigterm_into_a_flag():
    previous = signal.getsignal(signal.SIGTERM)
    with GracefulInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu7")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
