"""Chebyshev points and values ↔ coefficients transforms, against scipy's DCTs and the definition."""

import math

import numpy as np
import pytest
import scipy.fft
import torch

from tensorkit.chebyshev import chebyshev_points, coeffs_to_vals, vals_to_coeffs


@pytest.mark.parametrize("kind", [1, 2])
@pytest.mark.parametrize("m", [1, 2, 7, 16, 33])
def test_chebyshev_polynomial_maps_to_unit_vector(kind, m):
    s = chebyshev_points(m, kind)
    for k in range(m):
        values = torch.cos(k * torch.arccos(s.clamp(-1, 1)))
        expected = torch.zeros(m, dtype=torch.float64)
        expected[k] = 1
        assert torch.allclose(vals_to_coeffs(values, kind), expected, atol=1e-13)


def test_points_are_increasing_and_second_kind_includes_ends():
    s2 = chebyshev_points(9, 2, (2.0, 5.0))
    s1 = chebyshev_points(9, 1, (2.0, 5.0))
    assert torch.all(s2.diff() > 0) and torch.all(s1.diff() > 0)
    assert s2[0] == 2.0 and s2[-1] == 5.0 and s2[4] == 3.5
    assert s1[0] > 2.0 and s1[-1] < 5.0
    ref = 3.5 - 1.5 * np.cos((np.arange(9) + 0.5) * np.pi / 9)
    np.testing.assert_allclose(s1.numpy(), np.sort(ref), atol=1e-15)


def test_second_kind_equals_scipy_dct1():
    rng = np.random.default_rng(0)
    v = rng.standard_normal(17)
    ref = scipy.fft.dct(v[::-1], type=1) / 16
    ref[[0, -1]] /= 2
    np.testing.assert_allclose(vals_to_coeffs(torch.as_tensor(v), 2).numpy(), ref, atol=1e-14)


def test_first_kind_equals_scipy_dct2():
    rng = np.random.default_rng(1)
    v = rng.standard_normal(12)
    ref = scipy.fft.dct(v[::-1], type=2) / 12
    ref[0] /= 2
    np.testing.assert_allclose(vals_to_coeffs(torch.as_tensor(v), 1).numpy(), ref, atol=1e-14)


@pytest.mark.parametrize("kind", [1, 2])
def test_nd_round_trip_along_selected_modes(kind, device):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, 7, generator=gen, dtype=torch.float64).to(device)
    c = vals_to_coeffs(x, kind)
    assert torch.allclose(coeffs_to_vals(c, kind), x, atol=1e-13)
    partial = vals_to_coeffs(x, kind, dims=1)
    manual = torch.stack([vals_to_coeffs(x[i, :, j], kind) for i in range(5) for j in range(7)]).reshape(5, 7, 6)
    assert torch.allclose(partial, manual.permute(0, 2, 1), atol=1e-13)


def test_interpolant_matches_function_between_nodes():
    m = 40
    c = vals_to_coeffs(torch.exp(chebyshev_points(m)), 2)
    s = torch.linspace(-1, 1, 101, dtype=torch.float64)
    values = torch.cos(torch.arccos(s)[:, None] * torch.arange(m)) @ c
    assert torch.allclose(values, torch.exp(s), atol=1e-14 * math.e)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="kind"):
        vals_to_coeffs(torch.zeros(3, dtype=torch.float64), kind=3)
    with pytest.raises(ValueError, match="n_points"):
        chebyshev_points(0)
    with pytest.raises(ValueError, match="domain"):
        chebyshev_points(5, 2, (1.0, -1.0))
    with pytest.raises(TypeError, match="values"):
        vals_to_coeffs(np.zeros(3))
