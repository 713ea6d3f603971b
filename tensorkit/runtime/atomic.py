"""Atomic file writes: a crash never leaves a half-written output, and its temporary file is swept.

A write goes to ``.<name>.<host>-<pid>-<random>.tmp`` beside the target and is renamed over it on
success. A process killed mid-write (``kill -9``, out of memory) cannot remove its temporary file;
the next write of the same target on the same host removes every such file whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, fsync and rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that needs a file name (e.g. netCDF).

    The temporary file replaces ``path`` only when the block finishes without an exception. The
    result gets the mode of the file it replaces, or the usual ``0o666 & ~umask`` for a new file.
    Temporary files of earlier writes of ``path`` whose process has died are removed first.
    """
    target = Path(path)
    if not target.parent.exists():
        raise FileNotFoundError(f"output directory {str(target.parent)!r} does not exist")
    remove_stale_temporaries(target)
    tmp = new_temporary(target)
    try:
        yield tmp
        os.chmod(tmp, target.stat().st_mode if target.exists() else 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def new_temporary(target: Path) -> Path:
    """Create an empty temporary file beside ``target``, named after it, this host and this process."""
    fd, name = tempfile.mkstemp(prefix=_prefix(target) + f"{socket.gethostname()}-{os.getpid()}-", suffix=_SUFFIX,
                                dir=target.parent)  # fmt: skip
    os.close(fd)
    return Path(name)


def remove_stale_temporaries(target: Path) -> None:
    """Remove temporary files of ``target`` left by processes of this host that no longer run."""
    prefix, host = _prefix(target), socket.gethostname()
    for tmp in target.parent.glob(f"{_glob_escape(prefix)}*{_SUFFIX}"):
        owner = tmp.name[len(prefix) : -len(_SUFFIX)].rsplit("-", 2)
        if len(owner) == 3 and owner[0] == host and owner[1].isdigit() and not _running(int(owner[1])):
            tmp.unlink(missing_ok=True)


def _prefix(target: Path) -> str:
    return f".{target.name}."


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    with atomic_write(path, "wb") as fh:
        torch.save(obj, fh)
