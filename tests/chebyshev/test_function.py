"""Calculus and algebra of fitted Chebyshev–Tucker functions against analytic truths."""

import math

import numpy as np
import pytest
import torch

from tensorkit.chebyshev import ChebTucker, to_dataarray

PTS = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1


def fit(f, degree=40, tol=1e-13):
    return ChebTucker(degree=degree, tol=tol).fit(f).function_


def test_partial_derivatives_and_laplacian():
    f = fit(lambda x, y, z: torch.sin(x) * torch.exp(y) * z**2)
    x, y, z = PTS.unbind(1)
    assert (f.diff(0)(PTS) - torch.cos(x) * torch.exp(y) * z**2).abs().max() < 1e-10
    assert (f.diff(2, 2)(PTS) - 2 * torch.sin(x) * torch.exp(y)).abs().max() < 1e-9
    lap = f.laplacian()
    exact = -torch.sin(x) * torch.exp(y) * z**2 + torch.sin(x) * torch.exp(y) * z**2 + 2 * torch.sin(x) * torch.exp(y)
    assert (lap(PTS) - exact).abs().max() < 1e-8
    assert [g.rank for g in f.gradient()] == [f.rank] * 3


def test_sum_and_product_with_recompression():
    f = fit(lambda x, y, z: torch.cos(x + y))
    g = fit(lambda x, y, z: torch.exp(z) * y)
    x, y, z = PTS.unbind(1)
    s, p = f + g, f * g
    assert (s(PTS) - (torch.cos(x + y) + torch.exp(z) * y)).abs().max() < 1e-12
    assert (p(PTS) - torch.cos(x + y) * torch.exp(z) * y).abs().max() < 1e-12
    assert p.rank == (2, 2, 1)
    assert ((f - f).core.abs().max()) < 1e-12
    assert ((2.0 * f + 1.0)(PTS) - (2 * torch.cos(x + y) + 1)).abs().max() < 1e-12


def test_integral_mean_and_l2_norm():
    f = ChebTucker(degree=30, tol=1e-14, domain=[(0, 1), (0, 2), (0, 3)]).fit(lambda x, y, z: x * y * z + 1)
    assert float(f.integral()) == pytest.approx(0.5 * 2 * 4.5 + 6, rel=1e-13)
    assert float(f.function_.mean()) == pytest.approx((0.5 * 2 * 4.5 + 6) / 6, rel=1e-13)
    # ∫ (xyz + 1)² = ∫x²∫y²∫z² + 2∫x∫y∫z + 6 = (1/3)(8/3)(9) + 2(0.5)(2)(4.5) + 6
    assert float(f.function_.norm()) ** 2 == pytest.approx(8 + 9 + 6, rel=1e-12)


def test_continuous_hosvd_is_l2_orthonormal_and_preserves_the_function():
    f = fit(lambda x, y, z: 1 / (1 + x**2 + 2 * y**2 + z**2), degree=48, tol=1e-12)
    svals, g = f.hosvd()
    for basis in g.bases:
        torch.testing.assert_close(basis.l2_gram(), torch.eye(basis.rank, dtype=torch.float64), atol=1e-10, rtol=0)
    assert (g(PTS) - f(PTS)).abs().max() < 1e-12
    for s in svals:
        assert float((s**2).sum().sqrt()) == pytest.approx(float(f.norm()), rel=1e-10)


def test_to_dataarray_has_coordinates():
    model = ChebTucker(degree=20, tol=1e-12).fit(lambda x, y, z: x + 2 * y + 3 * z)
    da = to_dataarray(model, x=np.linspace(-1, 1, 5), y=np.linspace(-1, 1, 4), lat=np.array([0.0, 0.5]))
    assert da.dims == ("x", "y", "lat") and da.shape == (5, 4, 2)
    np.testing.assert_allclose(da.sel(x=1.0, y=-1.0, lat=0.5).item(), 1 - 2 + 1.5, atol=1e-12)
    with pytest.raises(ValueError, match="one coordinate array per mode"):
        model.to_dataarray(x=np.zeros(3))
