"""Hostile chebtucker input fails at once with a clear message: bounded expressions and grids,
netCDF by content, no overflowing model written, no output over an input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from tensorkit.chebyshev.expression import MAX_DEPTH, parse_expression
from tensorkit.chebyshev.io import load_model
from tensorkit.cli import main

XYZ = ["x", "y", "z"]


@pytest.mark.parametrize("text, match", [
    ("x + 2**10**10", r"exponent '10 \*\* 10' = 1e\+10 exceeds 1000"),
    ("9**9**9", "exponent '9 \\*\\* 9'"),
    ("x + 1/0", r"'1 / 0' is not finite \(inf\)"),
    ("x + 10**400", "is not finite"),
    ("x + 1" + "0" * 400, "number '1000.* is larger than 1e\\+300"),
    ("sqrt(-1) + x", r"'sqrt\(-1\)' is not finite \(nan\)"),
    ("-" * (MAX_DEPTH + 5) + "x", f"nested deeper than {MAX_DEPTH} levels"),
    ("sin(" * 250 + "x" + ")" * 250, "too many nested parentheses"),
    ("(" * 999 + "x" + ")" * 999, "too many nested parentheses"),
    ("x" + "+x" * 1500, "3001 characters long; at most 2000"),
])
def test_unbounded_expressions_are_refused(text, match):
    with pytest.raises(ValueError, match=match):
        parse_expression(text, XYZ)


def test_bounded_expressions_still_work():
    f = parse_expression("x**-3 + 2**x + where(y < 0, 1, z) + exp(-pi)", XYZ)
    x = torch.tensor([0.5], dtype=torch.float64)
    torch.testing.assert_close(f(x, x, x), 8 + 2**0.5 + 0.5 + np.exp(-np.pi) * torch.ones(1, dtype=torch.float64))
    with pytest.raises(TypeError, match="expression must be a string"):
        parse_expression(3, XYZ)


@pytest.mark.parametrize("args, match", [
    (["x", "--degree", "3000"], "--degree needs a grid of 2.7e\\+10 points"),
    (["x", "--degree", "0"], r"--degree\[0\] must be a positive integer"),
    (["x", "--ndim", "0"], "--ndim must be a positive integer, got 0"),
    (["x0", "--ndim", "8"], "--ndim 8 needs a grid"),
    (["1e300*(x+y+z)", "--degree", "4"], "f's values are too large: their Chebyshev coefficients overflow"),
    (["missing.nc"], "input file 'missing.nc' does not exist"),
])
def test_chebtucker_command_refuses_before_working(tmp_path, capsys, monkeypatch, args, match):
    monkeypatch.chdir(tmp_path)
    assert main(["chebtucker", *args, "--out", "m.npz", "--device", "cpu", "--quiet"]) == 2
    assert len(__import__("re").findall(match, capsys.readouterr().err)) == 1
    assert list(tmp_path.iterdir()) == []


def test_chebtucker_reads_netcdf_by_content_and_refuses_other_files(tmp_path, capsys):
    x = np.linspace(0, 1, 9)
    src = tmp_path / "field.cdf"
    xr.DataArray(np.outer(x, x), coords={"a": x, "b": x}, dims=["a", "b"], name="v").to_netcdf(src)
    assert main(["chebtucker", str(src), "--degree", "4", "--out", str(tmp_path / "m.npz"), "--quiet"]) == 0
    table = tmp_path / "table.nc"
    table.write_text("0\t1\t0.5\n")
    assert main(["chebtucker", str(table), "--quiet"]) == 2
    assert "'" + str(table) + "' is not a netCDF file" in capsys.readouterr().err
    assert main(["chebtucker", str(src), "--degree", "4", "--out", str(src), "--overwrite"]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert main(["chebtucker", str(src), "--degree", "4", "--out", str(tmp_path / "m.npz")]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_a_descending_coordinate_gives_the_same_function(tmp_path):
    a, b = np.linspace(0, 1, 12), np.linspace(-1, 2, 10)
    field = xr.DataArray(np.exp(a)[:, None] * np.cos(b)[None, :], coords={"a": a, "b": b}, dims=["a", "b"], name="v")
    field.to_netcdf(tmp_path / "up.nc")
    field.isel(a=slice(None, None, -1)).to_netcdf(tmp_path / "down.nc")
    for name in ("up", "down"):
        assert main(["chebtucker", str(tmp_path / f"{name}.nc"), "--degree", "11", "9", "--out", str(tmp_path / f"{name}.npz"),
                     "--quiet", "--device", "cpu"]) == 0
    up, down = load_model(tmp_path / "up.npz"), load_model(tmp_path / "down.npz")
    assert down.domain == up.domain
    pts = torch.tensor([[0.3, 0.5], [0.9, -0.7]], dtype=torch.float64)
    torch.testing.assert_close(down(pts), up(pts))
    torch.testing.assert_close(up(pts), torch.exp(pts[:, 0]) * torch.cos(pts[:, 1]), atol=1e-3, rtol=0)  # from 12×10 samples

