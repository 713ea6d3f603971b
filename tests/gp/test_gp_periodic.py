"""The periodic state-space kernel against its closed form, scipy's Bessel functions and the exact dense GP."""

import math

import gpytorch
import numpy as np
import pytest
import scipy.special
import torch

from tensorkit.gp import Matern, Periodic, chain_prior, smooth
from tensorkit.gp.periodic import harmonic_weights, harmonics_needed

from test_gp_kalman import _chain_inputs, _dense_posterior, _problem

METHODS = ["parallel", "sequential"]
PERIOD = 1.3  # the test inputs span [0, 4]: three periods


def test_weights_are_scaled_bessel_functions():
    lengthscale = torch.tensor([0.05, 0.2, 0.5, 1.0, 3.0, 20.0], dtype=torch.float64)
    weights = harmonic_weights(lengthscale, 60).numpy()
    j = np.arange(61)
    expected = scipy.special.ive(j[None, :], lengthscale.numpy()[:, None] ** -2) * np.where(j == 0, 1.0, 2.0)
    assert weights == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("lengthscale", [0.15, 0.5, 1.0, 4.0])
def test_series_covariance_equals_closed_form_within_truncation_error(lengthscale):
    kernel = Periodic(PERIOD, lengthscale=lengthscale, variance=1.7)
    delta = torch.linspace(0.0, 3.0 * PERIOD, 301, dtype=torch.float64)
    series = (kernel.transition(delta) @ kernel.stationary_covariance())[:, 0, 0]
    exact = kernel.covariance(delta, torch.zeros(1, dtype=torch.float64))[:, 0]
    error = (series - exact).abs().max() / 1.7
    assert error <= kernel.truncation_error() * (1 + 1e-6) + 1e-15  # the bound is the tail …
    assert error == pytest.approx(kernel.truncation_error().item(), rel=1e-6, abs=1e-15)  # … attained at Δ = 0
    assert kernel.truncation_error() <= 1e-9


def test_closed_form_matches_gpytorch_with_squared_lengthscale():
    gp_kernel = gpytorch.kernels.PeriodicKernel().double()
    gp_kernel.period_length = PERIOD
    gp_kernel.lengthscale = 0.6**2
    x = 4.0 * torch.rand(11, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = gp_kernel(x[:, None]).to_dense().detach()
    # gpytorch's constraint transforms round the set values at ~1e-8, so read them back
    kernel = Periodic(gp_kernel.period_length.item(), lengthscale=gp_kernel.lengthscale.item() ** 0.5)
    assert torch.allclose(kernel.covariance(x, x), expected, rtol=1e-10)


def test_stationary_covariance_is_invariant_and_process_noise_vanishes():
    kernel = Periodic(PERIOD, lengthscale=0.4, variance=2.2)
    delta = torch.tensor([0.0, 0.37, 1.3, 5.9], dtype=torch.float64)
    A, P = kernel.transition(delta), kernel.stationary_covariance()
    assert torch.allclose(A @ P @ A.transpose(-1, -2), P.expand_as(A), rtol=0, atol=1e-14 * P.abs().max())
    assert kernel.process_noise(delta, A).abs().max() == 0
    assert torch.allclose(A[0], torch.eye(kernel.state_dim, dtype=torch.float64), atol=0)
    assert torch.allclose(A[2], A[0], atol=1e-12)  # one full period


def test_transition_is_a_flow():
    kernel = Periodic(PERIOD, lengthscale=0.8, n_harmonics=5)
    s, t = torch.tensor(0.21, dtype=torch.float64), torch.tensor(0.94, dtype=torch.float64)
    assert torch.allclose(kernel.transition(s + t), kernel.transition(s) @ kernel.transition(t), atol=1e-14)


def test_automatic_harmonics_grow_as_the_lengthscale_shrinks():
    counts = [Periodic(PERIOD, lengthscale=ell).n_harmonics for ell in (4.0, 1.0, 0.5, 0.2)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert Periodic(PERIOD, lengthscale=1.0, n_harmonics=3).state_dim == 7
    with pytest.raises(ValueError, match="max_harmonics"):
        Periodic(PERIOD, lengthscale=0.01)
    assert harmonics_needed(torch.tensor([0.2, 1.0], dtype=torch.float64)) == harmonics_needed(0.2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("lengthscale", [0.3, 1.0, 3.0])
def test_smoother_equals_dense_gp_at_training_and_unseen_points(lengthscale, method):
    x, y, noise, x_new = _problem(seed=5)
    kernel = Periodic(PERIOD, lengthscale=lengthscale, variance=1.4, tol=1e-12)
    grid, inverse, Lam, eta = _chain_inputs(x, y, noise, x_new)
    A, Q, P0, observed = chain_prior(kernel, grid)
    post = smooth(A[None], Q[None], P0[None], Lam[None, :, None, None], eta[None, :, None], observed, evidence=True, method=method)
    mean, var, log_ml = _dense_posterior(kernel, x, y, noise, torch.cat([x, x_new]))
    assert torch.allclose(post.mean[0, inverse, 0], mean, rtol=1e-6, atol=1e-6 * mean.abs().max())
    assert torch.allclose(post.cov[0, inverse, 0, 0], var, rtol=1e-6, atol=0)
    constant = (-0.5 * (y**2 / noise) - 0.5 * torch.log(2 * torch.pi * noise)).sum()
    assert post.log_evidence[0] + constant == pytest.approx(log_ml.item(), rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_default_tolerance_keeps_posterior_within_a_millionth(method):
    x, y, noise, x_new = _problem(seed=6)
    kernel = Periodic(PERIOD, lengthscale=0.5)
    grid, inverse, Lam, eta = _chain_inputs(x, y, noise, x_new)
    A, Q, P0, observed = chain_prior(kernel, grid)
    post = smooth(A[None], Q[None], P0[None], Lam[None, :, None, None], eta[None, :, None], observed, method=method)
    mean, var, _ = _dense_posterior(kernel, x, y, noise, torch.cat([x, x_new]))
    assert torch.allclose(post.mean[0, inverse, 0], mean, rtol=0, atol=2e-6 * mean.abs().max())
    assert torch.allclose(post.cov[0, inverse, 0, 0], var, rtol=2e-6, atol=0)


def test_batched_hyperparameters_match_single_kernels():
    lengthscales = torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64)
    variances = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    x, y, noise, x_new = _problem(seed=3)
    grid, _, Lam, eta = _chain_inputs(x, y, noise, x_new)
    batch = Periodic(PERIOD, lengthscale=lengthscales, variance=variances)
    A, Q, P0, observed = chain_prior(batch, grid, n_functions=2)
    assert A.shape == (3, grid.numel(), 2 * batch.state_dim, 2 * batch.state_dim)
    Lam2 = Lam[:, None, None] * torch.eye(2, dtype=torch.float64)
    eta2 = eta[:, None].expand(-1, 2)
    post = smooth(A, Q, P0, Lam2.expand(3, -1, -1, -1), eta2.expand(3, -1, -1), observed, evidence=True)
    for b in range(3):
        single = Periodic(PERIOD, lengthscales[b], variances[b], n_harmonics=batch.n_harmonics)
        A1, Q1, P1, _ = chain_prior(single, grid, n_functions=2)
        one = smooth(A1[None], Q1[None], P1[None], Lam2[None], eta2[None], observed, evidence=True)
        assert torch.allclose(post.mean[b], one.mean[0], rtol=1e-12, atol=1e-14)
        assert torch.allclose(post.log_evidence[b], one.log_evidence[0], rtol=1e-12)


def test_with_hyperparameters_copies_both_kernel_kinds():
    periodic = Periodic(PERIOD, lengthscale=1.0, variance=2.0)
    copy = periodic.with_hyperparameters(lengthscale=torch.tensor([0.3, 2.0], dtype=torch.float64))
    assert copy.period == PERIOD and copy.variance.item() == 2.0
    assert copy.n_harmonics == harmonics_needed(0.3) > periodic.n_harmonics  # chosen afresh
    fixed = Periodic(PERIOD, n_harmonics=4).with_hyperparameters(variance=3.0)
    assert fixed.n_harmonics == 4 and fixed.variance.item() == 3.0
    matern = Matern(2.5, 0.4, 1.1).with_hyperparameters(lengthscale=0.9)
    assert (matern.nu, matern.lengthscale.item(), matern.variance.item()) == (2.5, 0.9, 1.1)


def test_follows_dtype_and_device_of_hyperparameters():
    kernel = Periodic(PERIOD, lengthscale=torch.tensor(0.7, dtype=torch.float32), variance=torch.tensor(1.0, dtype=torch.float32))
    delta = torch.tensor([0.1, 0.2], dtype=torch.float64)
    assert kernel.transition(delta).dtype == torch.float32
    assert kernel.stationary_covariance().dtype == torch.float32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="period"):
        Periodic(0.0)
    with pytest.raises(ValueError, match="lengthscale"):
        Periodic(1.0, lengthscale=-1.0)
    with pytest.raises(ValueError, match="n_harmonics"):
        Periodic(1.0, n_harmonics=0)
    with pytest.raises(ValueError, match="delta"):
        Periodic(1.0).transition(torch.tensor([-1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="scalar"):
        Periodic(1.0, lengthscale=torch.tensor([1.0, 2.0], dtype=torch.float64)).covariance(torch.zeros(2), torch.zeros(2))
    assert math.isclose(Periodic(2.0).covariance(torch.zeros(1), torch.ones(1) * 2.0).item(), 1.0)
