"""Matérn state-space matrices against their defining equations."""

import gpytorch
import pytest
import scipy.linalg
import torch

from tensorkit.gp import Matern

NUS = [0.5, 1.5, 2.5]


@pytest.mark.parametrize("nu", NUS)
def test_transition_is_matrix_exponential(nu):
    kernel = Matern(nu, lengthscale=0.7, variance=2.3)
    F = kernel.feedback().numpy()
    for delta in [0.0, 1e-3, 0.31, 2.0]:
        A = kernel.transition(torch.tensor(delta, dtype=torch.float64)).numpy()
        assert A == pytest.approx(scipy.linalg.expm(F * delta), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("nu", NUS)
def test_stationary_covariance_solves_lyapunov(nu):
    kernel = Matern(nu, lengthscale=0.4, variance=1.7)
    F, P = kernel.feedback(), kernel.stationary_covariance()
    d = kernel.state_dim
    LQL = torch.zeros(d, d, dtype=torch.float64)
    LQL[-1, -1] = kernel.diffusion()
    residual = F @ P + P @ F.T + LQL
    assert residual.abs().max().item() < 1e-10 * P.abs().max().item()


@pytest.mark.parametrize("nu", NUS)
def test_process_noise_tends_to_stationary_covariance(nu):
    kernel = Matern(nu, lengthscale=0.5, variance=3.0)
    Q = kernel.process_noise(torch.tensor([0.0, 1e3], dtype=torch.float64))
    assert Q[0].abs().max().item() < 1e-14
    assert torch.allclose(Q[1], kernel.stationary_covariance(), atol=1e-12)


@pytest.mark.parametrize("nu", NUS)
def test_state_covariance_reproduces_kernel(nu):
    kernel = Matern(nu, lengthscale=0.9, variance=1.3)
    delta = torch.linspace(0, 3, 7, dtype=torch.float64)
    A = kernel.transition(delta)
    cross = (A @ kernel.stationary_covariance())[:, 0, 0]
    dense = kernel.covariance(delta, torch.zeros(1, dtype=torch.float64))[:, 0]
    assert torch.allclose(cross, dense, rtol=1e-12)


@pytest.mark.parametrize("nu", NUS)
def test_from_gpytorch_matches_kernel_matrix(nu):
    gp_kernel = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=nu)).double()
    gp_kernel.base_kernel.lengthscale = 0.35
    gp_kernel.outputscale = 2.5
    kernel = Matern.from_gpytorch(gp_kernel)
    x = torch.rand(9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = gp_kernel(x[:, None]).to_dense().detach()
    assert torch.allclose(kernel.covariance(x, x), expected, rtol=1e-6)
    bare = Matern.from_gpytorch(gpytorch.kernels.MaternKernel(nu=nu))
    assert bare.variance.item() == 1.0


def test_batched_hyperparameters_broadcast():
    kernel = Matern(1.5, lengthscale=torch.tensor([0.1, 1.0], dtype=torch.float64), variance=1.0)
    A = kernel.transition(torch.rand(5, dtype=torch.float64))
    assert A.shape == (2, 5, 2, 2)
    single = Matern(1.5, lengthscale=1.0).transition(torch.tensor(0.3, dtype=torch.float64))
    assert torch.allclose(kernel.transition(torch.tensor(0.3, dtype=torch.float64))[1], single)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="nu"):
        Matern(1.0)
    with pytest.raises(ValueError, match="lengthscale"):
        Matern(0.5, lengthscale=-1.0)
    with pytest.raises(ValueError, match="variance"):
        Matern(0.5, variance=float("nan"))
    with pytest.raises(TypeError, match="MaternKernel"):
        Matern.from_gpytorch(gpytorch.kernels.RBFKernel())
