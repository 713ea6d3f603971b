"""Potentials: sinc quadrature of 1/r, cell averages, charge sums, lattices (against direct formulas)."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.potentials import (
    cell_averaged_gaussians,
    charges_long_range_cp,
    gaussian_sum,
    lattice_positions,
    long_range_part,
    newton_kernel_cp,
    sinc_quadrature,
)
from tensorkit.chebyshev.sources import uniform_grid


def test_sinc_quadrature_approximates_one_over_r():
    t, a = sinc_quadrature(60, 0.25)
    r = torch.linspace(0.05, 1.0, 50, dtype=torch.float64)
    approx = (a * torch.exp(-(t**2) * r[:, None] ** 2)).sum(1)
    assert (approx * r - 1).abs().max() < 1e-7


def test_long_range_part_approximates_erf_over_r():
    t, a = sinc_quadrature(40, 0.2)
    t_l, a_l = long_range_part(t, a, t_cut=3.0)
    r = torch.linspace(0.01, 2.0, 50, dtype=torch.float64)
    approx = (a_l * torch.exp(-(t_l**2) * r[:, None] ** 2)).sum(1)
    t_cut = float(t_l[-1])  # the quadrature's long part is close to erf(t_cut·r)/r, within a step's worth
    assert (approx - torch.erf(t_cut * r) / r).abs().max() / approx.max() < 0.1


def test_cell_averages_match_quadrature():
    x, t, h = np.array([-0.3, 0.0, 0.41]), np.array([0.0, 2.0, 40.0]), 0.05
    got = cell_averaged_gaussians(x, t, h)
    for i, xi in enumerate(x):
        for k, tk in enumerate(t):
            ref = quad(lambda s: math.exp(-tk**2 * s**2), xi - h / 2, xi + h / 2, epsabs=1e-15)[0] / h
            assert got[i, k] == pytest.approx(ref, rel=1e-12)


def test_newton_kernel_cp_is_voxel_average_of_gaussian_sum():
    t, a = sinc_quadrature(5, 0.3)
    cp = newton_kernel_cp(32, t, a)
    assert cp.shape == (32, 32, 32) and cp.rank == 5
    x, h = uniform_grid(32, (-1, 1)), 2 / 32
    for idx in [(0, 5, 31), (15, 16, 16), (3, 20, 9)]:
        ref = sum(ak * math.prod(quad(lambda s: math.exp(-tk**2 * s**2), x[i] - h / 2, x[i] + h / 2, epsabs=1e-15)[0] / h
                                 for i in idx) for tk, ak in zip(t.tolist(), a.tolist()))
        assert float(cp.at(torch.tensor([idx]))) == pytest.approx(ref, rel=1e-12)


def test_charge_sum_cp_matches_direct_sum_and_compresses():
    t, a = sinc_quadrature(6, 0.3)
    pos = lattice_positions([3, 2, 2], spacing=0.3)
    assert pos.shape == (12, 3) and torch.allclose(pos.mean(0), torch.zeros(3, dtype=torch.float64))
    q = torch.linspace(-1, 1, 12, dtype=torch.float64)
    cp = charges_long_range_cp(pos, q, 24, t, a)
    assert cp.rank == 12 * 6
    x = torch.as_tensor(uniform_grid(24, (-1, 1)))
    mesh = torch.meshgrid(x, x, x, indexing="ij")
    direct = gaussian_sum(t, a, pos, q)(*mesh)
    assert (cp.to_dense() - direct).abs().max() < 2e-2 * direct.abs().max()
    model = ChebTucker(degree=40, tol=1e-8).fit(cp)
    assert max(model.ranks_) < 12 * 6


def test_bad_potential_arguments():
    with pytest.raises(ValueError, match="step"):
        sinc_quadrature(5, 0.0)
    with pytest.raises(ValueError, match="charges"):
        t, a = sinc_quadrature(3, 0.3)
        charges_long_range_cp(torch.zeros(2, 3), torch.ones(3), 8, t, a)
