"""Method note §5.2 and §5.3: the analytic long-range Newton part and erf(ωr)/r (no data files).

Errors are the relative max error on 20,000 uniform random points; tolerances: ranks exact for §5.2
(±1 for §5.3), errors within 3× of the reproduced reference values (reference_numbers.json).
"""

import math

import pytest
import torch

from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.potentials import gaussian_sum, long_range_part, sinc_quadrature


def _points(scale):
    gen = torch.Generator().manual_seed(0)
    return (torch.rand(20000, 3, generator=gen, dtype=torch.float64) * 2 - 1) * scale


@pytest.fixture(scope="module")
def newton_long():
    t, a = sinc_quadrature(10, 0.2621)
    return gaussian_sum(t, a)


def test_long_range_value_at_origin(newton_long):
    zero = torch.zeros(1, dtype=torch.float64)
    assert float(newton_long(zero, zero, zero)) == pytest.approx(6.738422543398533, rel=1e-14)


@pytest.mark.parametrize("tol, rank, ref_err", [(1e-3, 4, 9.7e-4), (1e-5, 6, 3.0e-6), (1e-7, 7, 3.6e-8), (1e-9, 8, 5.0e-11)])
def test_newton_long_range_ranks_and_errors(newton_long, tol, rank, ref_err):
    model = ChebTucker(degree=64, tol=tol).fit(newton_long)
    pts = _points(1.0)
    err = float((model(pts) - newton_long(*pts.unbind(1))).abs().max()) / 6.738422543398533
    assert model.ranks_ == (rank,) * 3
    assert err <= 3 * ref_err
    assert model.truncation_error_ <= tol


def test_long_range_split_by_cut_or_count():
    t, a = sinc_quadrature(26, 0.2621)
    t_n, _ = long_range_part(t, a, n_long=10)
    t_c, _ = long_range_part(t, a, t_cut=float(t[9]))
    assert torch.equal(t_n, t_c) and len(t_n) == 10
    with pytest.raises(ValueError, match="exactly one"):
        long_range_part(t, a)


def _erf_over_r(w):
    def f(x, y, z):
        r = torch.sqrt(x**2 + y**2 + z**2)
        return torch.where(r > 0, torch.erf(w * r) / r.clamp_min(1e-300), torch.full_like(r, 2 * w / math.sqrt(math.pi)))
    return f


ERF_CASES = [
    (0.5, 64, [4, 6, 8, 9], [5.9e-4, 2.6e-6, 5.2e-9, 1.9e-10]),
    (1.0, 128, [5, 8, 10, 12], [6.3e-4, 1.1e-6, 1.5e-8, 1.3e-10]),
]


@pytest.mark.parametrize("w, degree, ranks, errors", ERF_CASES, ids=["w0.5", "w1.0"])
def test_erf_over_r_on_box10(w, degree, ranks, errors):
    f = _erf_over_r(w)
    pts = _points(10.0)
    exact = f(*pts.unbind(1))
    for tol, rank, ref in zip([1e-3, 1e-5, 1e-7, 1e-9], ranks, errors):
        model = ChebTucker(degree=degree, tol=tol, domain=(-10, 10)).fit(f)
        err = float((model(pts) - exact).abs().max()) / (2 * w / math.sqrt(math.pi))
        assert all(abs(r - rank) <= 1 for r in model.ranks_), (tol, model.ranks_)
        assert err <= 3 * ref, (tol, err)


def test_erf_interpolation_error_decays_with_degree():
    f = _erf_over_r(1.0)
    pts = _points(10.0)
    exact = f(*pts.unbind(1))
    errs = {}
    for degree in (32, 64):
        model = ChebTucker(degree=degree, tol=1e-15, domain=(-10, 10)).fit(f)
        errs[degree] = float((model(pts) - exact).abs().max()) / (2 / math.sqrt(math.pi))
    assert errs[32] == pytest.approx(2.8e-3, rel=0.5) and errs[64] == pytest.approx(3.2e-7, rel=0.5)
