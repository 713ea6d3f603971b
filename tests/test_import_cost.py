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


IMPORT_ORDERS = {
    "tensorkit first": "import tensorkit\nimport xarray as xr",
    "xarray first": "import xarray as xr\nimport tensorkit",
    # libraries probe for optional packages with find_spec; the probe must not disarm the hook
    "xarray probed first": "import tensorkit, importlib.util\nimportlib.util.find_spec('xarray')\nimport xarray as xr",
}


@pytest.mark.parametrize("order", IMPORT_ORDERS)
def test_accessor_is_registered_whatever_the_import_order(order):
    out = _run(f"""
import warnings
warnings.simplefilter("error")
{IMPORT_ORDERS[order]}
print(hasattr(xr.DataArray, "tk"), hasattr(xr.Dataset, "tk"))
from tensorkit.accessor import TensorkitAccessor, TensorkitDatasetAccessor, register
register()  # a second registration is a no-op, not an xarray override warning
print(type(xr.DataArray([1.0]).tk) is TensorkitAccessor, type(xr.Dataset().tk) is TensorkitDatasetAccessor)
""")
    assert out.split() == ["True"] * 4


def test_subpackages_are_attributes_of_a_bare_import():
    out = _run("import tensorkit\nprint(tensorkit.data.load_air_temperature.__module__, tensorkit.FunBaT.__name__)")
    assert out.split() == ["tensorkit.data.reference", "FunBaT"]
