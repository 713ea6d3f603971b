"""The layers point the right way: lower floors never import a method package, methods never import each other,
and neither imports the top floor.

Floors, bottom up: the shared helpers (``_validation``, ``_estimator``), ``core``, ``gp``, ``data`` and
``runtime``; then the four method packages; then the top floor (``accessor``, ``cli``, ``demo``, …) that
may import anything. Imports are read with :mod:`ast`, function-local ones included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tensorkit"
METHODS = frozenset({"funbat", "completion", "chebyshev", "operators"})
LOWER = frozenset({"_validation", "_estimator", "_imports", "core", "gp", "data", "runtime"})
TOP = frozenset({"accessor", "baselines", "cli", "demo", "testing", "__main__"})


def _module_name(path: Path, root: Path) -> list[str]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (a file under ``root``), relative ones resolved."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module))
            if node.module is None or module == "tensorkit":  # ``from tensorkit import funbat`` names a package
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _floor(parts: list[str]) -> str | None:
    """The top-level package (or module) of tensorkit a dotted name lies in; None outside tensorkit."""
    return parts[1] if len(parts) > 1 and parts[0] == "tensorkit" else None


def layering_violations(root: Path = PACKAGE) -> list[str]:
    """Every import from a lower floor into a method package, from one method package into another, or from
    either into the top floor."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        own = _floor(_module_name(path, root))
        for line, module in imported_modules(path, root):
            target = _floor(module.split("."))
            if target not in METHODS | TOP or target == own:
                continue
            if own in LOWER or own in METHODS:
                bad.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return bad


def test_layers_point_the_right_way():
    assert layering_violations() == []


@pytest.mark.parametrize("source, expected", [
    ("from tensorkit.funbat import FunBaT\n", ["imports tensorkit.funbat"]),
    ("def f():\n    from ..operators.tfno import TFNO\n", ["imports tensorkit.operators.tfno"]),
    ("from tensorkit import chebyshev\n", ["imports tensorkit.chebyshev"]),
    ("import tensorkit.completion.models\n", ["imports tensorkit.completion.models"]),
    ("from tensorkit.core import hooi\nfrom . import tucker\n", []),
    ("from tensorkit.baselines import dineof\nfrom .. import testing\n", ["imports tensorkit.baselines", "imports tensorkit.testing"]),
])
def test_the_check_sees_every_import_form(tmp_path, source, expected):
    core = tmp_path / "tensorkit" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text(source)
    found = layering_violations(tmp_path / "tensorkit")
    assert [v.split(" ", 1)[1] for v in found] == expected
