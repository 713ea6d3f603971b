"""The grid GP against a dense GP: exact mean, Monte Carlo variance, both solve layouts, refined grids."""

from __future__ import annotations

import math

import pytest
import torch

from tensorkit.gp import grid as grid_module
from tensorkit.gp.grid import GridGP, GridKernel, conjugate_gradients, kernel_matrix

F64 = torch.float64
N_SAMPLES = 4000  # relative standard error of the variance √(2/S) ≈ 2.2 %
MC = math.sqrt(2 / N_SAMPLES)


def _grids() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.sort(torch.rand(n, generator=g, dtype=F64) * span)[0] for n, span in [(6, 1.0), (7, 2.0), (5, 1.0)]]


def _kernel(kinds: list[str], periods: list[float | None]) -> GridKernel:
    return GridKernel(torch.tensor([0.3, 0.5, 0.4], dtype=F64), torch.tensor([1.2, 2.0, 1.6], dtype=F64),
                      torch.tensor([0.7, 0.5, 0.2], dtype=F64), torch.tensor(1.5, dtype=F64), torch.tensor(0.1, dtype=F64), kinds, periods)


def _dense(kernel: GridKernel, grids: list[torch.Tensor]) -> torch.Tensor:
    index = torch.cartesian_prod(*[torch.arange(g.numel()) for g in grids])
    cov = kernel.outputscale
    for k, factor in enumerate(kernel.factors(grids)):
        cov = cov * factor[index[:, k][:, None], index[:, k][None, :]]
    return cov


def _dense_posterior(kernel: GridKernel, grids: list[torch.Tensor], observed: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    K = _dense(kernel, grids)
    o = observed.reshape(-1)
    K_oo = K[o][:, o] + kernel.noise * torch.eye(int(o.sum()), dtype=F64)
    mean = K[:, o] @ torch.linalg.solve(K_oo, y)
    var = K.diagonal() - (K[:, o] * torch.linalg.solve(K_oo, K[o]).T).sum(1)
    return mean, var


def _model(observed: torch.Tensor, kinds=("matern32", "matern52", "periodic"), periods=(None, None, 1.3)) -> GridGP:
    y = torch.randn(int(observed.sum()), generator=torch.Generator().manual_seed(2), dtype=F64)
    gp = GridGP(_grids(), observed, y, list(kinds), list(periods), n_samples=N_SAMPLES, seed=0)
    gp.kernel = _kernel(list(kinds), list(periods))
    return gp


def _observed(never_observed_column: bool) -> torch.Tensor:
    observed = torch.rand(6, 7, 5, generator=torch.Generator().manual_seed(3)) < 0.7
    if never_observed_column:
        observed[:, 2, 3] = False  # a (lat, lon) cell missing at every time: the merged layout
    return observed


@pytest.mark.parametrize("never_observed", [True, False], ids=["merged-modes", "full-kronecker"])
def test_posterior_equals_dense_gp(never_observed):
    gp = _model(_observed(never_observed))
    mean, var = gp.posterior()
    dense_mean, dense_var = _dense_posterior(gp.kernel, gp.grids, gp.observed, gp.values)
    assert torch.allclose(mean.reshape(-1), dense_mean, rtol=0, atol=1e-6 * float(dense_mean.abs().max()))
    rel = (var.reshape(-1) - dense_var) / dense_var
    # Monte Carlo tolerance: E|rel| ≈ 0.8 MC per cell; a bias or a wrong scale would shift the mean.
    assert float(rel.abs().mean()) < 1.5 * MC
    assert abs(float(rel.mean())) < 1.5 * MC
    assert float(rel.abs().max()) < 5 * MC


def test_full_kronecker_layout_when_merging_is_too_large(monkeypatch):
    monkeypatch.setattr(grid_module, "MAX_MERGED_CELLS", 0)
    gp = _model(_observed(True))
    mean, _ = gp.posterior()
    dense_mean, _ = _dense_posterior(gp.kernel, gp.grids, gp.observed, gp.values)
    assert torch.allclose(mean.reshape(-1), dense_mean, rtol=0, atol=1e-6 * float(dense_mean.abs().max()))


@pytest.mark.parametrize("merge", [True, False], ids=["merged-modes", "full-kronecker"])
def test_refined_query_grid_equals_dense_predictive(merge, monkeypatch):
    if not merge:
        monkeypatch.setattr(grid_module, "MAX_MERGED_CELLS", 0)
    gp = _model(_observed(True), kinds=("matern32", "matern32", "matern12"), periods=(None, None, None))
    query = [torch.sort(torch.cat([g, g[:-1] + 0.5 * g.diff()]))[0] if k == 1 else g for k, g in enumerate(gp.grids)]
    mean, var = gp.posterior(query)
    inside = [torch.searchsorted(q, g) for q, g in zip(query, gp.grids)]
    refined = torch.zeros(mean.shape, dtype=torch.bool)
    refined[torch.meshgrid(*inside, indexing="ij")] = gp.observed
    dense_mean, dense_var = _dense_posterior(gp.kernel, query, refined, gp.values)
    assert torch.allclose(mean.reshape(-1), dense_mean, rtol=0, atol=1e-6 * float(dense_mean.abs().max()))
    assert float(((var.reshape(-1) - dense_var) / dense_var).abs().mean()) < 1.5 * MC


def test_query_grid_must_contain_training_coordinates():
    gp = _model(_observed(False))
    with pytest.raises(ValueError, match="contain every training coordinate"):
        gp.posterior([g + 0.01 for g in gp.grids])


def test_fit_amplitude_makes_leave_one_out_residuals_unit_variance():
    """After fit, the brute-force leave-one-out predictions (each observed cell deleted in turn, dense
    GP) have standardised residuals of unit mean square (all cells are used on a grid this small)."""
    grids = [torch.linspace(0, 1, 8, dtype=F64), torch.linspace(0, 1, 9, dtype=F64)]
    truth = torch.sin(4 * grids[0])[:, None] * torch.cos(3 * grids[1])[None, :]
    observed = torch.rand(8, 9, generator=torch.Generator().manual_seed(4)) < 0.8
    y = truth[observed] + 0.05 * torch.randn(int(observed.sum()), generator=torch.Generator().manual_seed(5), dtype=F64)
    gp = GridGP(grids, observed, y, ["matern32", "matern32"], [None, None], n_samples=8)
    assert y.numel() <= grid_module.LOO_CELLS
    kernel = gp.fit(window_cells=30, n_windows=3, max_iter=10)
    o = observed.reshape(-1)
    A = _dense(kernel, grids)[o][:, o] + kernel.noise * torch.eye(y.numel(), dtype=F64)
    standardised = []
    for i in range(y.numel()):
        rest = torch.arange(y.numel()) != i
        weights = torch.linalg.solve(A[rest][:, rest], A[rest, i])
        standardised.append((y[i] - weights @ y[rest]) ** 2 / (A[i, i] - weights @ A[rest, i]))
    assert kernel.short.min() >= gp.spacing.min() * (1 - 1e-9)
    assert torch.all(kernel.long >= 4 * kernel.short * (1 - 1e-9))
    assert float(torch.stack(standardised).mean()) == pytest.approx(1.0, rel=1e-2)


def test_periodic_kernel_is_exp_sine_squared_and_wraps():
    x = torch.tensor([0.0, 0.3, 2.0, 2.3], dtype=F64)
    K = kernel_matrix("periodic", x, x, torch.tensor(0.7, dtype=F64), period=2.0)
    expected = torch.exp(-2 * torch.sin(math.pi * (x[:, None] - x[None, :]).abs() / 2.0) ** 2 / 0.49)
    assert torch.allclose(K, expected)
    assert torch.isclose(K[0, 2], torch.tensor(1.0, dtype=F64)) and torch.isclose(K[1, 3], torch.tensor(1.0, dtype=F64))


def test_conjugate_gradients_matches_a_dense_solve_with_and_without_jacobi():
    g = torch.Generator().manual_seed(6)
    A = torch.randn(40, 40, generator=g, dtype=F64)
    A = A @ A.T + torch.diag(torch.linspace(0.1, 50, 40, dtype=F64))
    b = torch.randn(40, 3, generator=g, dtype=F64)
    for preconditioner in (None, A.diagonal()):
        x = conjugate_gradients(lambda v: A @ v, b, 1e-10, preconditioner=preconditioner)
        assert torch.allclose(x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-10)


def test_conjugate_gradients_retires_converged_columns_and_meets_each_tolerance():
    g = torch.Generator().manual_seed(7)
    A = torch.randn(200, 200, generator=g, dtype=F64)
    A = A @ A.T / 200 + torch.diag(torch.logspace(-3, 1, 200, dtype=F64))
    b = torch.randn(200, 5, generator=g, dtype=F64)
    tol = torch.tensor([1e-10, 1e-1, 1e-1, 1e-1, 1e-1], dtype=F64)
    widths = []

    def product(v):
        widths.append(v.shape[1])
        return A @ v

    x = conjugate_gradients(product, b, tol)
    residual = (A @ x - b).norm(dim=0) / b.norm(dim=0)
    assert (residual <= tol).all()
    assert residual[1:].max() > 1e-6  # the loose columns stopped early ...
    assert widths[0] == 5 and widths[-1] == 1  # ... and left the iteration
