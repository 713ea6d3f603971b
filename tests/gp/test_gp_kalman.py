"""The batched Kalman/RTS smoother (parallel scan and sequential) against the exact dense GP posterior."""

import math

import pytest
import torch

from tensorkit.gp import Matern, chain_prior, smooth

NUS = [0.5, 1.5, 2.5]
METHODS = ["parallel", "sequential"]


def _problem(seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.sort(torch.rand(40, generator=g, dtype=torch.float64) * 4.0).values
    x = torch.sort(torch.cat([base, base[::4]])).values  # 50 points, 10 exact duplicates
    noise = 0.05 + 0.1 * torch.rand(x.numel(), generator=g, dtype=torch.float64)  # heteroscedastic
    y = torch.sin(2 * x) + noise.sqrt() * torch.randn(x.numel(), generator=g, dtype=torch.float64)
    # unseen points: left of, between, and right of the data (and one on a training input)
    x_new = torch.tensor([-0.7, -0.01, 0.5 * (base[3] + base[4]), 1.234567, 3.9999, 4.6, 6.0], dtype=torch.float64)
    x_new = torch.cat([x_new, base[7:8]])
    return x, y, noise, x_new


def _dense_posterior(kernel, x, y, noise, x_new):
    K = kernel.covariance(x, x) + torch.diag(noise)
    L = torch.linalg.cholesky(K)
    Ks = kernel.covariance(x_new, x)
    alpha = torch.cholesky_solve(y[:, None], L)[:, 0]
    V = torch.cholesky_solve(Ks.T, L)
    mean = Ks @ alpha
    var = kernel.covariance(x_new, x_new).diagonal() - (Ks * V.T).sum(1)
    log_ml = -0.5 * y @ alpha - torch.log(L.diagonal()).sum() - 0.5 * x.numel() * math.log(2 * math.pi)
    return mean, var, log_ml


def _chain_inputs(x, y, noise, x_new):
    grid, inverse = torch.unique(torch.cat([x, x_new]), return_inverse=True)
    inv_train = inverse[: x.numel()]
    Lam = torch.zeros(grid.numel(), dtype=torch.float64).index_add_(0, inv_train, 1.0 / noise)
    eta = torch.zeros(grid.numel(), dtype=torch.float64).index_add_(0, inv_train, y / noise)
    return grid, inverse, Lam, eta


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("nu", NUS)
def test_smoother_equals_dense_gp_at_training_and_unseen_points(nu, method):
    x, y, noise, x_new = _problem(seed=int(2 * nu))
    kernel = Matern(nu, lengthscale=0.6, variance=1.4)
    grid, inverse, Lam, eta = _chain_inputs(x, y, noise, x_new)
    A, Q, P0, observed = chain_prior(kernel, grid)
    post = smooth(A[None], Q[None], P0[None], Lam[None, :, None, None], eta[None, :, None], observed, evidence=True, method=method)
    chain_mean, chain_var = post.mean[0, :, 0], post.cov[0, :, 0, 0]
    targets = torch.cat([x, x_new])
    mean, var, log_ml = _dense_posterior(kernel, x, y, noise, targets)
    assert torch.allclose(chain_mean[inverse], mean, rtol=1e-6, atol=1e-9)
    assert torch.allclose(chain_var[inverse], var, rtol=1e-6, atol=1e-12)
    # evidence = log marginal likelihood minus the prior-independent Gaussian normaliser of the data
    constant = (-0.5 * (y**2 / noise) - 0.5 * torch.log(2 * torch.pi * noise)).sum()
    assert post.log_evidence[0] + constant == pytest.approx(log_ml.item(), rel=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("nu", NUS)
def test_coupled_functions_equal_dense_joint_gp(nu, method):
    """Two GPs observed through random linear combinations: full r×r information per step."""
    g = torch.Generator().manual_seed(7)
    x = torch.sort(torch.rand(30, generator=g, dtype=torch.float64)).values
    x = torch.cat([x, x[:5]])
    c = torch.randn(x.numel(), 2, generator=g, dtype=torch.float64)
    y = torch.randn(x.numel(), generator=g, dtype=torch.float64)
    tau = 4.0
    kernel = Matern(nu, lengthscale=0.3, variance=0.8)
    grid, inverse = torch.unique(torch.cat([x, torch.tensor([-0.2, 1.3], dtype=torch.float64)]), return_inverse=True)
    inv_train = inverse[: x.numel()]
    Lam = torch.zeros(grid.numel(), 2, 2, dtype=torch.float64).index_add_(0, inv_train, tau * c[:, :, None] * c[:, None, :])
    eta = torch.zeros(grid.numel(), 2, dtype=torch.float64).index_add_(0, inv_train, tau * y[:, None] * c)
    A, Q, P0, observed = chain_prior(kernel, grid, n_functions=2)
    post = smooth(A[None], Q[None], P0[None], Lam[None], eta[None], observed, method=method)
    # dense oracle on the stacked vector (f1(grid), f2(grid))
    K1 = kernel.covariance(grid, grid)
    n = grid.numel()
    K = torch.block_diag(K1, K1)
    design = torch.zeros(x.numel(), 2 * n, dtype=torch.float64)
    design[torch.arange(x.numel()), inv_train] = c[:, 0]
    design[torch.arange(x.numel()), n + inv_train] = c[:, 1]
    gram = design @ K @ design.T + torch.eye(x.numel(), dtype=torch.float64) / tau
    KD = K @ design.T
    mean = KD @ torch.linalg.solve(gram, y)
    cov = K - KD @ torch.linalg.solve(gram, KD.T)
    post_mean = post.mean[0][:, observed].T.reshape(-1)
    assert torch.allclose(post_mean, mean, rtol=1e-6, atol=1e-8)
    cross = post.cov[0][:, observed[0], observed[1]]
    assert torch.allclose(cross, cov[torch.arange(n), n + torch.arange(n)], rtol=1e-6, atol=1e-8)


def test_batch_of_chains_matches_separate_runs():
    x, y, noise, x_new = _problem(seed=3)
    grid, _, Lam, eta = _chain_inputs(x, y, noise, x_new)
    kernel = Matern(1.5, lengthscale=torch.tensor([0.2, 0.6, 2.0], dtype=torch.float64), variance=1.0)
    A, Q, P0, observed = chain_prior(kernel, grid)
    batch = smooth(A, Q, P0, Lam.expand(3, -1)[..., None, None], eta.expand(3, -1)[..., None], observed, evidence=True)
    for b, ell in enumerate([0.2, 0.6, 2.0]):
        A1, Q1, P1, _ = chain_prior(Matern(1.5, lengthscale=ell), grid)
        single = smooth(A1[None], Q1[None], P1[None], Lam[None, :, None, None], eta[None, :, None], observed, evidence=True)
        assert torch.allclose(batch.mean[b], single.mean[0], rtol=1e-12, atol=1e-14)
        assert torch.allclose(batch.log_evidence[b], single.log_evidence[0])


def test_chain_prior_rejects_unsorted_or_duplicated_inputs():
    with pytest.raises(ValueError, match="strictly increasing"):
        chain_prior(Matern(0.5), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("nu", NUS)
def test_parallel_scan_equals_sequential_recursions(nu):
    g = torch.Generator().manual_seed(11)
    x = torch.sort(torch.rand(77, generator=g, dtype=torch.float64)).values
    A, Q, P0, observed = chain_prior(Matern(nu, lengthscale=0.2, variance=0.9), x, n_functions=3)
    Lam = torch.randn(2, 77, 3, 2, generator=g, dtype=torch.float64)
    Lam = Lam @ Lam.transpose(-1, -2)  # rank-2 (singular) information
    Lam[:, ::5] = 0.0
    eta = torch.randn(2, 77, 3, generator=g, dtype=torch.float64)
    eta[:, ::5] = 0.0
    args = (A.expand(2, -1, -1, -1), Q.expand(2, -1, -1, -1), P0.expand(2, -1, -1), Lam, eta, observed)
    seq = smooth(*args, evidence=True, method="sequential")
    par = smooth(*args, evidence=True, method="parallel")
    scale = seq.cov.abs().amax()
    assert torch.allclose(par.mean, seq.mean, rtol=1e-8, atol=1e-9 * scale.sqrt())
    assert torch.allclose(par.cov, seq.cov, rtol=1e-8, atol=1e-9 * scale)
    assert torch.allclose(par.log_evidence, seq.log_evidence, rtol=1e-10)
