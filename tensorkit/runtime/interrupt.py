"""Graceful stops on SIGTERM/SIGUSR1 (what SLURM sends before a time limit)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s)


class GracefulInterrupt:
    """Context manager that turns SIGTERM/SIGUSR1 into a flag a loop can poll.

    Inside the block, the first such signal sets :attr:`requested` instead of killing the process;
    the loop then checkpoints and returns. Previous handlers are restored on exit. Outside the main
    thread (where handlers cannot be installed) it is a no-op flag.

    Examples
    --------
    >>> with GracefulInterrupt() as stop:
    ...     for step in range(3):
    ...         if stop.requested:
    ...             break
    """

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self.signum = signum

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
