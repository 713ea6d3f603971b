"""tensorkit: low-rank, uncertainty-aware tensor models of gridded data and tensorized neural operators.

The method estimators and subpackages are imported lazily (``tensorkit.FunBaT`` loads
``tensorkit.funbat``, ``tensorkit.data`` loads the data package, on first use), so ``import tensorkit``
stays light: it imports neither torch nor xarray. Importing tensorkit registers the ``da.tk`` and ``ds.tk``
xarray accessors, at once if xarray is already imported, else right after it is.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from tensorkit import accessor as _accessor
from tensorkit._imports import when_imported as _when_imported

__version__ = "0.1.0"

_LAZY = {
    "FunBaT": "tensorkit.funbat",
    "ChebTucker": "tensorkit.chebyshev",
    "DAIN": "tensorkit.completion",
    "TFNO": "tensorkit.operators",
}

__all__ = ["__version__", *_LAZY]

_when_imported("xarray", _accessor.register)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # ``tensorkit.data`` etc. without an import
    raise AttributeError(f"module 'tensorkit' has no attribute {name!r}")
