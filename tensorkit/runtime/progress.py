"""Progress of long loops: a tqdm bar on a terminal, ``logging`` lines in batch jobs."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

LOG_EVERY_S = 30.0


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a record arrives (pytest, Jupyter swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def get_logger() -> logging.Logger:
    """The ``"tensorkit"`` logger, given a stderr handler at INFO level if logging is not configured.

    Configure logging (``logging.basicConfig(...)``, or handlers on ``"tensorkit"``) before the first
    fit to route or silence these lines; ``verbose=False`` on an estimator silences them too.
    """
    logger = logging.getLogger("tensorkit")
    if not logger.hasHandlers():
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


def milestone(verbose: bool | None, message: str, *args: object) -> None:
    """Log a stage of a fit (``message % args``, INFO, ``"tensorkit"`` logger) unless ``verbose`` is False."""
    if verbose is not False:
        get_logger().info(message, *args)


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str | None = None, verbose: bool | None = None,
    log_every: float = LOG_EVERY_S,
) -> Iterable[T]:
    """Report the progress of a loop over ``iterable``.

    Parameters
    ----------
    iterable : iterable
    total : int, optional
        Number of items, when ``iterable`` has no length.
    desc : str, optional
        What the loop does (starts every line).
    verbose : bool, optional
        ``None``: a tqdm bar when stderr is a terminal, else (batch jobs, notebooks) one INFO line on the
        ``"tensorkit"`` logger every ``log_every`` seconds and one at the end of a loop that lasted that
        long. ``True``: always a bar; ``False``: nothing.
    log_every : float
        Seconds between log lines.
    """
    if verbose is None and not sys.stderr.isatty():
        return _logged(iterable, total, desc or "progress", log_every)
    return tqdm(iterable, total=total, desc=desc, disable=verbose is False, leave=False)


def _logged(iterable: Iterable[T], total: int | None, desc: str, every: float) -> Iterator[T]:
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    of = "" if total is None else f"/{total}"
    start = last = time.monotonic()
    done = 0
    try:
        for item in iterable:
            yield item
            done += 1
            if time.monotonic() - last >= every:
                last = time.monotonic()
                get_logger().info("%s: %d%s after %.0f s", desc, done, of, last - start)
    finally:  # also when the loop stops early (early stopping, interrupts)
        elapsed = time.monotonic() - start
        if elapsed >= every:
            get_logger().info("%s: finished %d%s in %.0f s", desc, done, of, elapsed)
