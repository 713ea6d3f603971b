"""A post-import hook: run a callback once a module has been imported, without importing it first."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["when_imported"]


def when_imported(name: str, callback: Callable[[], None]) -> None:
    """Call ``callback()`` right after module ``name`` is imported, or now if it already is.

    Lets tensorkit register its xarray accessor on ``import tensorkit`` without paying for importing
    xarray (and pandas) when the process never uses it, e.g. in ``tensorkit --help``.

    Parameters
    ----------
    name : str
        Absolute name of a top-level module, e.g. ``"xarray"``.
    callback : callable
        Called with no arguments once the module has executed.
    """
    if name in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of one module so that a callback runs after it."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self._name = name
        self._callback = callback
        self._searching = False

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if fullname != self._name or self._searching:
            return None
        self._searching = True  # the search below must find the real spec, not come back here
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._searching = False
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            exec_module = spec.loader.exec_module  # the spec's own loader instance, made by this search

            def exec_then_call(module: ModuleType) -> None:
                exec_module(module)
                if self in sys.meta_path:  # one shot, but only once the module has really executed:
                    sys.meta_path.remove(self)  # a mere ``importlib.util.find_spec`` probe must not disarm it
                self._callback()

            spec.loader.exec_module = exec_then_call  # type: ignore[method-assign]
        return spec
