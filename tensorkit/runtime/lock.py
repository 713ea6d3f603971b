"""An exclusive lock on a run folder, so two jobs never interleave their checkpoints."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

__all__ = ["folder_lock"]


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
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"run folder {os.fspath(path)!r} is in use by another tensorkit process; "
                             "wait for it or choose another --out") from None  # fmt: skip
        yield
    finally:
        os.close(fd)
