"""The settings of a resumable command, kept beside its checkpoints from its start, so that a rerun
with other settings is refused by name instead of silently continuing the old run."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tensorkit.runtime.atomic import atomic_write
from tensorkit.runtime.lock import output_lock
from tensorkit.runtime.outputs import check_writable

__all__ = ["command_settings", "resumable"]

# options that do not change a command's result (the input enters by its content, the output names the record);
# private entries ("_command_line") neither
_NOT_SETTINGS = {"command", "config", "quiet", "overwrite", "input", "out", "figure", "float64"}


def command_settings(args: argparse.Namespace, inputs: Sequence[str | os.PathLike] = ()) -> dict[str, Any]:
    """The options of a parsed command line that shape its result, plus the SHA-256 of each input file."""
    settings = {key: value for key, value in vars(args).items() if key not in _NOT_SETTINGS and not key.startswith("_")}
    settings["input_sha256"] = [_file_digest(path) for path in inputs]
    return settings


@contextlib.contextmanager
def resumable(out: str | os.PathLike, settings: Mapping[str, Any],
              checkpoints: Sequence[str | os.PathLike] = ()) -> Iterator[None]:  # fmt: skip
    """Run a command's work that checkpoints beside ``out``, keeping its settings in ``OUT.ckpt.json``.

    The checkpoint and record paths are checked to be writable first. For the block, ``out`` is
    locked (:func:`~tensorkit.runtime.lock.output_lock`): a second process with the same output is
    refused. On entry, if a checkpoint of an earlier run is there, a record of other settings beside
    it is refused (``ValueError`` naming each changed setting); then ``settings`` are recorded,
    before any checkpoint can be written, so a run stopped in any way (also ``kill -9``) leaves its
    checkpoints with their settings. The checkpoints stay until the block finishes, i.e. until the
    command's final output is written: a resumed run killed at any point before that can resume
    again. Then they and the record are removed; the record alone is also removed when the block
    fails before any checkpoint was written.

    Parameters
    ----------
    out : path-like
        The command's final output.
    settings : mapping
        What shapes the result (see :func:`command_settings`).
    checkpoints : sequence of path-like
        The checkpoint files the block's work may write.
    """
    record = Path(f"{os.fspath(out)}.ckpt.json")
    for path in (*checkpoints, record):
        check_writable(path, "checkpoint")
    current = json.loads(json.dumps(dict(settings)))  # as a record holds them (lists, not tuples)
    with output_lock(out):
        if record.exists() and _any_exists(checkpoints):
            _check_same(record, current)
        with atomic_write(record, "w") as fh:
            json.dump(current, fh, indent=1, sort_keys=True)
        try:
            yield
        except BaseException:
            if not _any_exists(checkpoints):
                record.unlink()
            raise
        for path in (*checkpoints, record):
            Path(path).unlink(missing_ok=True)


def _any_exists(paths: Sequence[str | os.PathLike]) -> bool:
    return any(Path(path).exists() for path in paths)


def _check_same(record: Path, current: dict[str, Any]) -> None:
    try:
        saved = json.loads(record.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"resume record {str(record)!r} is damaged ({err}); remove it and the checkpoint beside it") from None
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
        detail = ", ".join(f"{k} ({saved.get(k)!r} → {current.get(k)!r})" for k in changed)
        raise ValueError(f"{str(record)!r}: an interrupted run with other settings left its checkpoint here: {detail}; "
                         "rerun with its settings to resume, or remove its checkpoint and this record")  # fmt: skip


def _file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise FileNotFoundError(f"input file {os.fspath(path)!r} does not exist") from None
    except OSError as err:
        raise ValueError(f"cannot read input file {os.fspath(path)!r}: {err.strerror or err}") from None
    return digest.hexdigest()
