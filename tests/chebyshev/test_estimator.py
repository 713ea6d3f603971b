"""ChebTucker inputs (function, dense grid, CP), degree adaptivity, rank override, HOOI, errors."""

import math

import numpy as np
import pytest
import torch
import xarray as xr

import tensorkit
from tensorkit.chebyshev import ChebTucker, ChebTuckerFunction
from tensorkit.chebyshev.potentials import newton_kernel_cp, sinc_quadrature
from tensorkit.chebyshev.sources import uniform_grid
from tensorkit.core import CPTensor, FunctionalTucker, TuckerTensor


def gauss_bump(x, y, z):
    return torch.exp(-(x**2 + 2 * y**2 + 3 * z**2)) + 0.1 * x * y


def test_top_level_export_and_fitted_model_is_functional_tucker():
    model = tensorkit.ChebTucker(degree=24).fit(gauss_bump)
    assert isinstance(model.function_, FunctionalTucker) and isinstance(model.function_, ChebTuckerFunction)
    assert len(model.bases_) == 3 and model.core_.shape == model.ranks_ and model.degree_ == (24, 24, 24)


def test_adaptive_degree_resolves_and_is_anisotropic():
    f = lambda x, y, z: torch.cos(8 * x) + y  # noqa: E731
    model = ChebTucker(tol=1e-10).fit(f)
    assert model.degree_[0] > model.degree_[1] == model.degree_[2] == 16
    pts = torch.rand(2000, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    assert (model(pts) - f(*pts.unbind(1))).abs().max() < 1e-9
    assert model.interpolation_error_ < 1e-10 and model.error_estimate_ >= model.truncation_error_


def test_adaptive_cap_warns():
    with pytest.warns(RuntimeWarning, match="max_degree"):
        ChebTucker(tol=1e-12, max_degree=16).fit(lambda x, y, z: torch.cos(30 * x) + 0 * y)


def test_fixed_rank_override_and_hooi_do_not_increase_error():
    f = lambda x, y, z: 1 / (1 + x**2 + y**2 + z**2)  # noqa: E731
    pts = torch.rand(3000, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2 - 1
    exact = f(*pts.unbind(1))
    plain = ChebTucker(degree=40, rank=(3, 4, 5)).fit(f)
    refined = ChebTucker(degree=40, rank=(3, 4, 5), hooi_iters=3).fit(f)
    assert plain.ranks_ == refined.ranks_ == (3, 4, 5)
    full = refined.function_.coefficients()
    c = ChebTucker(degree=40, tol=1e-15).fit(f).function_.coefficients().to_dense()
    err_plain = torch.linalg.norm(plain.function_.coefficients().to_dense() - c)
    err_refined = torch.linalg.norm(full.to_dense() - c)
    assert err_refined <= err_plain * (1 + 1e-12)
    assert (refined(pts) - exact).abs().max() < 1e-2


def test_dense_grid_and_cp_inputs_agree_with_function_path():
    """A cell-centred grid tensor, its CP form and the function itself give the same ChebTucker."""
    t, a = sinc_quadrature(6, 0.3)
    cp = newton_kernel_cp(64, t, a)
    dense = cp.to_dense()
    from_cp = ChebTucker(degree=32, tol=1e-10).fit(cp)
    from_grid = ChebTucker(degree=32, tol=1e-10).fit(dense)
    assert from_cp.ranks_ == from_grid.ranks_
    x = torch.as_tensor(uniform_grid(64, (-1, 1)))
    # at n = 64 the cubic spline from the cell centres limits accuracy to ~1e-6 (the O(h⁴) floor)
    np.testing.assert_allclose(from_cp.to_dense([x, x, x]).numpy(), dense.numpy(), atol=5e-6 * float(dense.abs().max()))
    np.testing.assert_allclose(from_grid.to_dense([x, x, x]).numpy(), from_cp.to_dense([x, x, x]).numpy(), atol=1e-11)
    pair = ChebTucker(degree=32, tol=1e-10).fit((cp.weights, cp.factors))
    assert pair.ranks_ == from_cp.ranks_


def test_cp_path_hosvd_rule_matches_dense_hosvd():
    gen = torch.Generator().manual_seed(3)
    cp = CPTensor(torch.rand(7, generator=gen, dtype=torch.float64),
                  [torch.rand(40, 7, generator=gen, dtype=torch.float64) for _ in range(3)])
    a = ChebTucker(degree=20, tol=1e-4).fit(cp)
    b = ChebTucker(degree=20, tol=1e-4).fit(cp.to_dense())
    assert a.ranks_ == b.ranks_
    for sa, sb in zip(a.singular_values_, b.singular_values_):
        torch.testing.assert_close(sa[:7], sb[:7], rtol=1e-9, atol=1e-12)


def test_cp_hooi_sweeps_keep_ranks():
    t, a = sinc_quadrature(8, 0.3)
    cp = newton_kernel_cp(48, t, a)
    m0 = ChebTucker(degree=24, rank=4).fit(cp)
    m1 = ChebTucker(degree=24, rank=4, hooi_iters=2).fit(cp)
    ref = ChebTucker(degree=24, tol=1e-14).fit(cp).function_.coefficients().to_dense()
    e0 = torch.linalg.norm(m0.function_.coefficients().to_dense() - ref)
    e1 = torch.linalg.norm(m1.function_.coefficients().to_dense() - ref)
    assert m1.ranks_ == (4, 4, 4) and e1 <= e0 * (1 + 1e-12)


def test_dataarray_input_uses_its_coordinates():
    x, y = np.linspace(0, 2, 30), np.linspace(-1, 1, 25)
    da = xr.DataArray(np.sin(x)[:, None] * np.cos(y)[None, :], coords={"x": x, "y": y}, dims=["x", "y"])
    model = ChebTucker(degree=20, tol=1e-10).fit(da)
    assert model.domain_ == ((0.0, 2.0), (-1.0, 1.0)) and model.ranks_ == (1, 1)
    pts = torch.tensor([[1.0, 0.3]], dtype=torch.float64)
    assert abs(float(model(pts)) - math.sin(1.0) * math.cos(0.3)) < 1e-6


def test_grid_evaluation_returns_tucker_and_first_kind_points_work():
    model = ChebTucker(degree=30, tol=1e-12, kind=1).fit(gauss_bump)
    grid = [torch.linspace(-1, 1, n, dtype=torch.float64) for n in (11, 12, 13)]
    tucker = model.on_grid(grid)
    assert isinstance(tucker, TuckerTensor) and tucker.shape == (11, 12, 13)
    mesh = torch.meshgrid(*grid, indexing="ij")
    assert (tucker.to_dense() - gauss_bump(*mesh)).abs().max() < 1e-10


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="tol"):
        ChebTucker(tol=-1)
    with pytest.raises(ValueError, match="truncation"):
        ChebTucker(truncation="svd")
    with pytest.raises(RuntimeError, match="not fitted"):
        ChebTucker()(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="rhosvd"):
        ChebTucker(degree=8, truncation="rhosvd").fit(torch.rand(9, 9, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="rank"):
        ChebTucker(degree=8, rank=20).fit(gauss_bump)
    with pytest.raises(ValueError, match="shape"):
        ChebTucker(degree=8).fit(lambda x, y, z: torch.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        ChebTucker(degree=8).fit(lambda x, y, z: 1 / (x * 0))
    with pytest.raises(ValueError, match="f contains NaN"):
        ChebTucker(degree=8).fit(torch.full((5, 5, 5), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="domain"):
        ChebTucker(degree=8, domain=[(0, 1), (0, 1)]).fit(torch.rand(5, 5, 5, dtype=torch.float64))


def test_rhosvd_reports_its_true_truncation_error():
    t, a = sinc_quadrature(8, 0.3)
    cp = newton_kernel_cp(48, t, a)
    model = ChebTucker(degree=24, tol=1e-3, truncation="rhosvd").fit(cp)
    full = ChebTucker(degree=24, tol=1e-15).fit(cp).function_.coefficients().to_dense()
    true = float(torch.linalg.norm(model.function_.coefficients().to_dense() - full) / torch.linalg.norm(full))
    assert model.truncation_error_ == pytest.approx(true, rel=1e-3)


def test_device_follows_argument(device):
    model = ChebTucker(degree=16, tol=1e-10, device=device).fit(gauss_bump)
    pts = torch.zeros(4, 3, dtype=torch.float64, device=device)
    out = model(pts)
    assert out.device.type == device.type and model.core_.device.type == device.type
    assert torch.allclose(out.cpu(), torch.full((4,), 1.0, dtype=torch.float64), atol=1e-10)
