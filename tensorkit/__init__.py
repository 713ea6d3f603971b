"""tensorkit: low-rank, uncertainty-aware tensor models of gridded data and tensorized neural operators.

The method estimators are imported lazily (``tensorkit.FunBaT`` loads ``tensorkit.funbat`` on first
use), so ``import tensorkit`` stays light. Importing tensorkit registers the ``da.tk`` xarray accessor.
"""

from __future__ import annotations

import importlib
from typing import Any

from tensorkit import accessor as _accessor  # noqa: F401  (registers ``DataArray.tk``)

__version__ = "0.1.0"

_LAZY = {
    "FunBaT": "tensorkit.funbat",
    "ChebTucker": "tensorkit.chebyshev",
    "DAIN": "tensorkit.completion",
    "TFNO": "tensorkit.operators",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tensorkit' has no attribute {name!r}")
