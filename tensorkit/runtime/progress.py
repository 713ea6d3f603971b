"""Progress bars that stay quiet in batch jobs."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    iterable: Iterable[T], total: int | None = None, desc: str | None = None, verbose: bool | None = None
) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar.

    ``verbose=None`` shows the bar only when stderr is a terminal (so SLURM logs stay clean);
    ``True``/``False`` force it on/off.
    """
    show = sys.stderr.isatty() if verbose is None else verbose
    return tqdm(iterable, total=total, desc=desc, disable=not show, leave=False)
