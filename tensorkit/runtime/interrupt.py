"""Graceful stops on SIGTERM/SIGUSR1 (what SLURM sends before a time limit) and SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

_SIGNALS = tuple(s for s in (getattr(signal, name, None) for name in ("SIGTERM", "SIGUSR1", "SIGINT")) if s)


class GracefulInterrupt:
    """Context manager that turns SIGTERM/SIGUSR1/SIGINT into a flag a loop can poll.

    Inside the block, the first such signal sets :attr:`requested` instead of killing the process;
    the loop then checkpoints and returns. A second SIGINT raises ``KeyboardInterrupt`` (Ctrl-C
    twice stops at once). Blocks nest: a signal caught by an inner block is also reported to the
    enclosing one, and an inner block entered after the enclosing one was signalled starts out
    stopped (a signal during a command's data loading stops the estimator it then runs). Previous handlers are
    restored on exit. Outside the main thread (where handlers cannot be installed) it is a no-op flag.

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

    @property
    def exit_code(self) -> int:
        """The exit status a stopped command reports: 130 after SIGINT, else 143 (as after SIGTERM)."""
        return 128 + (signal.SIGINT if self.signum == signal.SIGINT else signal.SIGTERM)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT == self.signum:
            raise KeyboardInterrupt
        self.requested = True
        self.signum = signum
        outer = self._previous.get(signum)
        if isinstance(getattr(outer, "__self__", None), GracefulInterrupt):
            outer(signum, frame)

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
                outer = getattr(self._previous[sig], "__self__", None)
                if isinstance(outer, GracefulInterrupt) and outer.requested:
                    self.requested, self.signum = True, outer.signum
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
