"""Batch-job safety of the runtime: stale temporary files, output checks, run-folder locks, damaged
checkpoints, nested graceful stops and the settings record of an interrupted command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

from tensorkit.runtime import (
    GracefulInterrupt, atomic_write, check_outputs, check_run_folder, command_settings, folder_lock, load_checkpoint,
    output_lock, resumable, save_checkpoint,
)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_write_sweeps_temporaries_of_dead_writers_only(tmp_path):
    target = tmp_path / "out.nc"
    host = socket.gethostname()
    stale = tmp_path / f".out.nc.{host}-{_dead_pid()}-abc123.tmp"
    live = tmp_path / f".out.nc.{host}-{os.getpid()}-def456.tmp"
    other_host = tmp_path / f".out.nc.elsewhere-{_dead_pid()}-ghi789.tmp"
    other_file = tmp_path / f".other.nc.{host}-{_dead_pid()}-jkl012.tmp"
    for path in (stale, live, other_host, other_file):
        path.write_text("partial")
    with atomic_write(target, "w") as fh:
        fh.write("done")
    assert target.read_text() == "done"
    assert not stale.exists()
    assert live.exists() and other_host.exists() and other_file.exists()


def test_kill_during_write_then_rewrite_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    script = (f"import os, signal\nfrom tensorkit.runtime import atomic_write\nwith atomic_write({str(target)!r}) as fh:\n"
              "    fh.write(b'x')\n    fh.flush()\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    assert subprocess.run([sys.executable, "-c", script]).returncode == -signal.SIGKILL
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()] == [True]
    with atomic_write(target) as fh:
        fh.write(b"y")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_check_outputs_policy(tmp_path):
    source = tmp_path / "in.nc"
    source.write_text("data")
    link = tmp_path / "link.nc"
    link.symlink_to(source)
    with pytest.raises(ValueError, match="--out .*is the input file"):
        check_outputs({"--out": source}, inputs=[source], overwrite=True)
    with pytest.raises(ValueError, match="is the input file"):
        check_outputs({"--out": link}, inputs=[source], overwrite=True)
    existing = tmp_path / "old.nc"
    existing.write_text("old")
    with pytest.raises(FileExistsError, match="--out .*old.nc.* --overwrite"):
        check_outputs({"--out": existing})
    check_outputs({"--out": existing}, overwrite=True)
    with pytest.raises(ValueError, match="--figure and --out name the same file"):
        check_outputs({"--out": tmp_path / "a.nc", "--figure": tmp_path / "a.nc"})
    with pytest.raises(ValueError, match="is a folder"):
        check_outputs({"--out": tmp_path}, overwrite=True)
    with pytest.raises(ValueError, match="missing.*does not exist"):
        check_outputs({"--out": tmp_path / "missing" / "a.nc"})
    with pytest.raises(ValueError, match="in.nc.*is not a folder"):
        check_outputs({"--out": source / "a.nc"})
    with pytest.raises(ValueError, match="cannot be written: File name too long"):
        check_outputs({"--out": tmp_path / ("n" * 250 + ".nc")})
    check_outputs({"--out": tmp_path / "new.nc", "--figure": None})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nc", "link.nc", "old.nc"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_check_outputs_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="cannot be written"):
        check_outputs({"--out": folder / "a.nc"})


def test_run_folder_is_checked_without_being_created_and_locked(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        check_run_folder(tmp_path / "file")
    with pytest.raises(ValueError, match="cannot be created: '.*file' is a file"):
        check_run_folder(tmp_path / "file" / "run")
    with pytest.raises(ValueError, match="cannot be written: File name too long"):
        check_run_folder(tmp_path / "a" / ("n" * 300))
    folder = check_run_folder(tmp_path / "a" / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # checked, not created
    folder.mkdir(parents=True)
    assert check_run_folder(folder) == folder
    with folder_lock(folder):
        probe = f"from tensorkit.runtime import folder_lock\nwith folder_lock({str(folder)!r}): pass\n"
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        assert proc.returncode != 0 and "is in use by another tensorkit process" in proc.stderr
    with folder_lock(folder):  # released on exit, also within one process
        pass
    assert list(folder.iterdir()) == []  # no lock file left behind


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_checkpoint_is_a_value_error_naming_the_file(tmp_path, fraction):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"w": torch.arange(5000.0), "epoch": 3})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match="ckpt.pt.*truncated or corrupt"):
        load_checkpoint(path)


def test_checkpoint_that_is_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        load_checkpoint(tmp_path)


def test_graceful_interrupts_nest_and_sigint_gives_130():
    with GracefulInterrupt() as outer:
        with GracefulInterrupt() as inner:
            os.kill(os.getpid(), signal.SIGINT)
        assert inner.requested and outer.requested and outer.exit_code == 130
        with GracefulInterrupt() as later:  # entered after the outer block was stopped
            assert later.requested and later.signum == signal.SIGINT
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C twice stops at once
    with GracefulInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
    assert stop.exit_code == 143


class _Killed(BaseException):
    """Stands in for ``kill -9``: no handler sees it."""


def test_resumable_records_settings_before_any_checkpoint_and_refuses_others(tmp_path):
    out, checkpoint, record = tmp_path / "out.nc", tmp_path / "out.nc.ckpt.pt", tmp_path / "out.nc.ckpt.json"
    source = tmp_path / "in.nc"
    source.write_text("data")
    args = argparse.Namespace(input=str(source), rank=[3], seed=0, quiet=True, out=str(out))
    settings = command_settings(args, [source])
    with pytest.raises(_Killed), resumable(out, settings, [checkpoint]):  # killed after its first checkpoint
        assert json.loads(record.read_text())["rank"] == [3]  # recorded before any checkpoint
        checkpoint.write_text("state")
        raise _Killed
    assert json.loads(record.read_text())["rank"] == [3]
    args.quiet = False  # not a setting
    args.input = str(tmp_path / "copy.nc")  # the same content elsewhere
    (tmp_path / "copy.nc").write_text("data")
    with resumable(out, command_settings(args, [args.input]), [checkpoint]):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.nc", "in.nc"]
    with pytest.raises(InterruptedError), resumable(out, settings, [checkpoint]):
        checkpoint.write_text("state")
        raise InterruptedError("stopped")
    args.rank, args.seed = [2], 0
    (tmp_path / "copy.nc").write_text("other data")
    with pytest.raises(ValueError, match=r"out.nc.ckpt.json'.*other settings.*input_sha256 .*, rank \(\[3\] → \[2\]\)"):
        with resumable(out, command_settings(args, [args.input]), [checkpoint]):
            pass
    assert json.loads(record.read_text())["rank"] == [3] and checkpoint.exists()  # the refused run changed nothing
    with pytest.raises(FileNotFoundError, match="input file '.*none.nc' does not exist"):
        command_settings(args, [tmp_path / "none.nc"])


def test_resumable_record_without_a_checkpoint_binds_nothing(tmp_path):
    out, record = tmp_path / "out.nc", tmp_path / "out.nc.ckpt.json"
    checkpoint = tmp_path / "out.nc.ckpt.pt"
    record.write_text('{"rank": [3]}')  # a run killed before its first checkpoint: nothing to resume
    with pytest.raises(ValueError, match="bad input"), resumable(out, {"rank": [2]}, [checkpoint]):
        assert json.loads(record.read_text()) == {"rank": [2]}
        raise ValueError("bad input")  # a run failing before any checkpoint leaves nothing behind
    assert list(tmp_path.iterdir()) == []


def test_resumable_keeps_checkpoints_until_its_block_finishes_and_locks_the_output(tmp_path):
    out, checkpoint = tmp_path / "out.nc", tmp_path / "out.nc.ckpt.pt"
    with pytest.raises(RuntimeError), resumable(out, {}, [checkpoint]):  # a run dying before its output is written
        checkpoint.write_text("state")
        assert (tmp_path / "out.nc.lock").exists()
        with pytest.raises(ValueError, match=r"--out '.*out.nc' is being written by another tensorkit process"):
            with resumable(out, {}, [checkpoint]):
                pass
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc.ckpt.json", "out.nc.ckpt.pt"]  # kept for the next run
    with resumable(out, {}, [checkpoint]):
        out.write_text("result")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_output_lock_takes_over_a_stale_lock_file(tmp_path):
    lock = tmp_path / "out.nc.lock"
    lock.touch()  # left by kill -9: no process holds it
    with output_lock(tmp_path / "out.nc"):
        pass
    assert not lock.exists()
