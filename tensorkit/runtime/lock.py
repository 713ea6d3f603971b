"""Exclusive locks on a run folder or an output file, so two jobs never interleave their work."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["folder_lock", "output_lock"]


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder ``path`` for the block; refuse if another process holds it.

    The lock lives on the folder itself (no lock file is left behind) and the kernel releases it
    when its process ends, also by ``kill -9``.

    Raises
    ------
    ValueError
        If another process (a second job with the same run folder) holds the lock.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        _lock(fd, f"run folder {os.fspath(path)!r} is in use by another tensorkit process; "
                  "wait for it or choose another --out")  # fmt: skip
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, name: str = "--out") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` for the block; refuse if another process holds it.

    The lock file is removed when the block ends. One left by a killed process (the kernel releases
    its lock, also after ``kill -9``) is taken over and removed by the next run.

    Parameters
    ----------
    path : path-like
        The output file the block writes.
    name : str
        The option that named ``path``, for the message.

    Raises
    ------
    ValueError
        If another process (a second job with the same output) holds the lock.
    """
    lock = Path(f"{os.fspath(path)}.lock")
    message = (f"{name} {os.fspath(path)!r} is being written by another tensorkit process (it holds "
               f"{str(lock)!r}); wait for it to finish or choose another {name}")  # fmt: skip
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _lock(fd, message)
        except ValueError:
            os.close(fd)
            raise
        if _is_current(fd, lock):
            break
        os.close(fd)  # locked a file its finishing holder had just removed: lock the new one
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _lock(fd: int, message: str) -> None:
    """Take an exclusive ``flock`` on ``fd`` without waiting; ``ValueError(message)`` if it is held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ValueError(message) from None


def _is_current(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), path.stat())
    except FileNotFoundError:
        return False
