"""Method note §5.1: exact ranks, integrals and interpolation (m = 65 second-kind points, HOSVD, relative ε)."""

import math

import pytest
import torch

from tensorkit.chebyshev import ChebTucker, chebyshev_points

RUNGE_INTEGRAL = 4.28685406230184188268  # Chebfun guide ch. 18, sum3 of 1/(1+x²+y²+z²) on [-1, 1]³

EXACT = [
    ("exp(x)", lambda x, y, z: torch.exp(x), 1e-12, (1, 1, 1)),
    ("sin(x+2y+3z)", lambda x, y, z: torch.sin(x + 2 * y + 3 * z), 1e-12, (2, 2, 2)),
    ("xz+x²y", lambda x, y, z: x * z + x**2 * y, 1e-12, (2, 2, 2)),
    ("x²−y³+1/8", lambda x, y, z: x**2 - y**3 + 1 / 8, 1e-12, (2, 2, 1)),
    ("guide 1e-4", lambda x, y, z: torch.exp(x) * torch.log(2 + y) * torch.exp(z) + torch.sin(y) / 1e6, 1e-4, (1, 1, 1)),
    ("guide 1e-8", lambda x, y, z: torch.exp(x) * torch.log(2 + y) * torch.exp(z) + torch.sin(y) / 1e6, 1e-8, (2, 2, 2)),
]


@pytest.mark.parametrize("name, f, tol, ranks", EXACT, ids=[e[0] for e in EXACT])
def test_exact_ranks(name, f, tol, ranks):
    assert ChebTucker(degree=64, tol=tol).fit(f).ranks_ == ranks


@pytest.mark.parametrize("tol, runge, expxyz", [(1e-4, 4, 5), (1e-8, 6, 8), (1e-12, 9, 11)])
def test_approximate_ranks(tol, runge, expxyz):
    assert ChebTucker(degree=64, tol=tol).fit(lambda x, y, z: 1 / (1 + x**2 + y**2 + z**2)).ranks_ == (runge,) * 3
    assert ChebTucker(degree=64, tol=tol).fit(lambda x, y, z: torch.exp(x * y * z)).ranks_ == (expxyz,) * 3


def test_runge_integral_to_1e12():
    model = ChebTucker(degree=64, tol=1e-12).fit(lambda x, y, z: 1 / (1 + x**2 + y**2 + z**2))
    assert isinstance(model.ranks_, tuple)
    assert abs(float(model.integral()) - RUNGE_INTEGRAL) < 1e-12
    assert abs(float(model(torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64))) - 2 / 3) < 1e-12


def test_gaussian_integral():
    model = ChebTucker(degree=64, tol=1e-12).fit(lambda x, y, z: torch.exp(-25 * (x**2 + y**2 + z**2)))
    exact = (math.sqrt(math.pi) * math.erf(5) / 5) ** 3
    assert abs(float(model.integral()) - exact) < 1e-12 * exact + 1e-15


def test_t3_coefficient_recovered_exactly():
    model = ChebTucker(degree=8, tol=1e-14).fit(lambda x, y, z: 4 * x**3 - 3 * x + 0 * y)
    coeffs = model.function_.coefficients().to_dense()
    expected = torch.zeros(9, 9, 9, dtype=torch.float64)
    expected[3, 0, 0] = 1
    assert torch.allclose(coeffs, expected, atol=1e-14)


def test_nodes_reproduced_and_random_points_within_tolerance():
    f = lambda x, y, z: torch.cos(x * y) * torch.exp(-z**2) + x  # noqa: E731
    model = ChebTucker(degree=32, tol=1e-13, domain=[(0, 2), (-1, 3), (-2, 2)]).fit(f)
    nodes = [chebyshev_points(33, 2, d) for d in model.domain_]
    mesh = torch.meshgrid(*nodes, indexing="ij")
    assert (model.to_dense(nodes) - f(*mesh)).abs().max() < 1e-14 * f(*mesh).abs().max() * 10
    gen = torch.Generator().manual_seed(0)
    pts = torch.rand(5000, 3, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 4, 4]) + torch.tensor([0.0, -1, -2])
    exact = f(*pts.unbind(1))
    assert (model(pts) - exact).abs().max() < 1e-11 * exact.abs().max()
