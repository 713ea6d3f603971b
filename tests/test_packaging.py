"""environment.yml and pyproject.toml declare the same packages with the same lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch", "netcdf4": "netcdf4"}


def _parse(specs):
    out = {}
    for spec in specs:
        name, bound = re.match(r"^([A-Za-z0-9_.-]+)\s*(?:>=\s*([\w.]+))?", spec).groups()
        out[CONDA_TO_PYPI.get(name.lower(), name.lower())] = bound
    return out


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _parse(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = [d for d in env if isinstance(d, str) and not d.startswith(("python=", "pip"))]
    pip = [d for d in next(d["pip"] for d in env if isinstance(d, dict)) if not d.startswith("-e")]
    assert _parse(conda + pip) == declared


def test_constraints_pin_every_declared_package():
    pins = {line.split("==")[0].lower().replace("_", "-") for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = _parse(project["dependencies"] + project["optional-dependencies"]["test"])
    assert {n.replace("_", "-") for n in names} <= pins
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().splitlines()


def test_test_modules_have_unique_basenames():
    # pytest's default import mode puts each test directory on sys.path, so two test
    # files with the same name in different directories fail collection on a clean clone.
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == []
