"""The ``tensorkit chebtucker`` subcommand, model files and the ``da.tk.chebtucker`` accessor."""

import json

import numpy as np
import pytest
import torch
import xarray as xr

import tensorkit  # noqa: F401  (registers da.tk)
from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.io import load_model, save_model
from tensorkit.cli import main


def test_expression_round_trip_through_npz(tmp_path, capsys):
    out = tmp_path / "runge.npz"
    assert main(["chebtucker", "1/(1+x**2+y**2+z**2)", "--degree", "64", "--tol", "1e-12", "--out", str(out),
                 "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ranks"] == [9, 9, 9] and summary["degree"] == [64, 64, 64]
    assert abs(float(load_model(out).integral()) - 4.28685406230184188) < 1e-12


def test_netcdf_grid_input_and_netcdf_model(tmp_path, capsys):
    x, y = np.linspace(0, 1, 40), np.linspace(-2, 2, 50)
    src = tmp_path / "field.nc"
    xr.DataArray(np.exp(x)[:, None] * np.sin(y)[None, :], coords={"x": x, "y": y}, dims=["x", "y"],
                 name="v").to_netcdf(src)
    out = tmp_path / "model.nc"
    assert main(["chebtucker", str(src), "--var", "v", "--degree", "20", "--out", str(out), "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ranks"] == [1, 1] and summary["domain"] == [[0.0, 1.0], [-2.0, 2.0]]
    model = load_model(out)
    pts = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    assert abs(float(model(pts)) - np.exp(0.5) * np.sin(1.0)) < 1e-6


def test_unknown_names_in_expression_are_rejected(capsys):
    assert main(["chebtucker", "foo(x)", "--device", "cpu"]) == 2
    assert "unknown names ['foo']" in capsys.readouterr().err


def test_save_load_is_exact(tmp_path):
    f = ChebTucker(degree=12, tol=1e-12, domain=[(0, 1), (1, 3), (-1, 0)]).fit(lambda x, y, z: x * y + z).function_
    for name in ("m.npz", "m.nc"):
        save_model(f, tmp_path / name)
        g = load_model(tmp_path / name)
        assert g.domain == f.domain and torch.equal(g.core, f.core)
        assert all(torch.equal(a.coeffs, b.coeffs) for a, b in zip(g.bases, f.bases))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_model(tmp_path / "missing.npz")


def test_accessor_fits_a_dataarray():
    x, y = np.linspace(-1, 1, 30), np.linspace(0, 3, 40)
    da = xr.DataArray(np.cos(x)[:, None] + y[None, :] ** 2, coords={"x": x, "y": y}, dims=["x", "y"])
    model = da.tk.chebtucker(degree=24, tol=1e-10)
    assert model.ranks_ == (2, 2)
    back = model.to_dataarray(x=x, y=y)
    np.testing.assert_allclose(back.values, da.values, atol=1e-9)


def test_expression_parser_matches_torch_and_rejects_code():
    import pytest
    import torch

    from tensorkit.chebyshev.expression import parse_expression

    x, y = torch.linspace(-1, 1, 5, dtype=torch.float64), torch.linspace(0, 2, 5, dtype=torch.float64)
    f = parse_expression("-exp(x)*sin(pi*y)/2 + where(x > 0, x**2, 0.5) % 3", ["x", "y"])
    expected = -torch.exp(x) * torch.sin(torch.pi * y) / 2 + torch.where(x > 0, x**2, 0.5) % 3
    torch.testing.assert_close(f(x, y), expected)
    for bad in ["x.__class__", "__import__('os')", "[x]", "x if y else 1", "sin(x=1)", "lambda: 1", "x +"]:
        with pytest.raises(ValueError, match="expression"):
            parse_expression(bad, ["x", "y"])
