"""``import tensorkit`` and ``tensorkit --help`` import neither torch nor xarray nor a method; ``da.tk`` still works.

Each check runs in a fresh interpreter (this process has long imported everything). Timing lives in
``benchmarks/cli_startup.py``, not here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tensorkit.cli import COMMANDS

HEAVY = ("torch", "xarray", "scipy", "tensorkit.funbat", "tensorkit.operators", "tensorkit.completion",
         "tensorkit.chebyshev")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_lists_every_command_without_importing_it():
    out = _run(f"""
import sys
from tensorkit.cli import main
try:
    main(["--help"])
except SystemExit as exc:
    assert exc.code == 0
print("HEAVY", sorted(m for m in {HEAVY!r} if m in sys.modules))
""")
    assert "HEAVY []" in out
    assert all(summary[:40] in " ".join(out.split()) for _, summary in COMMANDS.values())


@pytest.mark.parametrize("order", ["tensorkit first", "xarray first"])
def test_accessor_is_registered_whatever_the_import_order(order):
    imports = "import tensorkit\nimport xarray as xr" if order == "tensorkit first" else "import xarray as xr\nimport tensorkit"
    out = _run(f"""
import warnings
warnings.simplefilter("error")
{imports}
from tensorkit.accessor import TensorkitAccessor, register
register()  # a second registration is a no-op, not an xarray override warning
print(type(xr.DataArray([1.0]).tk) is TensorkitAccessor)
""")
    assert out.strip() == "True"
