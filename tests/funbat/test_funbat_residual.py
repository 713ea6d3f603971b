"""FunBaT's defaults: the residual GP (against a dense GP), automatic ranks, per-mode kernels, the Tucker warm start."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from tensorkit import FunBaT
from tensorkit.funbat.gap_calibration import HELD_OUT, fit_variance_model
from tensorkit.funbat.kernels import mode_kernels
from tensorkit.funbat.gap_boxes import held_out_boxes
from tensorkit.gp.grid import kernel_matrix

F64 = torch.float64


def _grid_data(shape=(8, 9, 10), fraction=0.8, seed=0, ridges=0.0):
    """A smooth rank-2 field plus a local bump, diagonal ridges (not low-rank) and noise, on a grid of real
    coordinates; some cells hidden."""
    g = torch.Generator().manual_seed(seed)
    axes = [torch.linspace(0, 1, n, dtype=F64) * (k + 1) for k, n in enumerate(shape)]
    X = torch.cartesian_prod(*axes)
    u = X / torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    y = (torch.sin(3 * u[:, 0]) * torch.cos(2 * u[:, 1]) * u[:, 2] + 0.5 * torch.cos(u[:, 0] + u[:, 1] + 2 * u[:, 2])
         + 0.4 * torch.exp(-((u - 0.5) ** 2).sum(1) / 0.02) + ridges * torch.cos(12 * (u[:, 1] - u[:, 2])) * (1 + u[:, 0])
         + 0.01 * torch.randn(X.shape[0], generator=g, dtype=F64))
    keep = torch.rand(X.shape[0], generator=g) < fraction
    return X, y, keep


def _dense_residual_posterior(model: FunBaT, X: torch.Tensor, residuals: torch.Tensor, query: torch.Tensor):
    """Exact GP posterior of the residual at ``query`` with the model's learned kernel (rescaled units)."""
    kernel = model._residual.kernel
    Xs = (X - model.coordinate_shift_) / model.coordinate_scale_
    Qs = (query - model.coordinate_shift_) / model.coordinate_scale_

    def cov(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        out = kernel.outputscale
        for k, kind in enumerate(kernel.kinds):
            w = kernel.weights[k]
            out = out * (w * kernel_matrix(kind, A[:, k], B[:, k], kernel.short[k], kernel.periods[k])
                         + (1 - w) * kernel_matrix(kind, A[:, k], B[:, k], kernel.long[k], kernel.periods[k]))
        return out

    K = cov(Xs, Xs) + kernel.noise * torch.eye(Xs.shape[0], dtype=F64)
    K_q = cov(Qs, Xs)
    mean = K_q @ torch.linalg.solve(K, residuals)
    var = cov(Qs, Qs).diagonal() - (K_q * torch.linalg.solve(K, K_q.T).T).sum(1)
    return mean, var


def test_residual_gp_equals_a_dense_gp_on_the_low_rank_residuals():
    X, y, keep = _grid_data()
    fit = dict(rank=2, seed=0, n_epochs=60, n_samples=3000)
    model = FunBaT(**fit).fit(X[keep], y[keep])
    low_rank = FunBaT(**fit, residual=None).fit(X[keep], y[keep])
    assert model.residual_ is not None and low_rank.residual_ is None
    residuals = (y[keep] - low_rank.predict(X[keep])) / model.value_scale_
    g_mean, g_var = _dense_residual_posterior(model, X[keep], residuals, X[~keep])
    mean, std = model.predict(X[~keep], return_std=True)
    expected = low_rank.predict(X[~keep]) + model.value_scale_ * g_mean
    assert torch.allclose(mean, expected, rtol=0, atol=1e-6 * float(y.abs().max()))
    expected_var = model.value_scale_**2 * (g_var + model._residual.kernel.noise)
    rel = std**2 / expected_var - 1
    assert float(rel.abs().mean()) < 1.5 * math.sqrt(2 / 3000) and float(rel.abs().max()) < 5 * math.sqrt(2 / 3000)
    # it helps: the residual corrects the low rank on the hidden cells
    truth = y[~keep]
    assert float((mean - truth).pow(2).mean()) < 0.5 * float((low_rank.predict(X[~keep]) - truth).pow(2).mean())


def test_intervals_widen_inside_a_gap():
    X, y, keep = _grid_data(shape=(6, 14, 14), fraction=0.9, ridges=0.3)
    box = (X[:, 1] > 0.7) & (X[:, 1] < 1.3) & (X[:, 2] > 1.0) & (X[:, 2] < 2.0)
    keep = keep & ~box
    model = FunBaT(rank=2, seed=0, n_epochs=40, n_samples=256).fit(X[keep], y[keep])
    _, std = model.predict(X, return_std=True)
    scattered = ~keep & ~box
    assert float(std[box].mean()) > 2 * float(std[scattered].mean())
    assert model.residual_["noise_variance"] > 0 and len(model.residual_["lengthscales_short_user_units"]) == 3


def test_scattered_coordinates_switch_the_residual_off_with_a_warning():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(300, 3, generator=g, dtype=F64)
    y = X.sum(1) + 0.1 * torch.randn(300, generator=g, dtype=F64)
    with pytest.warns(UserWarning, match="residual='gp' is switched off.*grid"):
        model = FunBaT(seed=0, n_epochs=20).fit(X, y)
    assert model.residual_ is None and model.rank_ == (3, 3, 3)  # not a grid: the documented fallback rank
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = FunBaT(seed=0, n_epochs=20, residual=None).fit(X, y)
    assert torch.equal(model.predict(X), plain.predict(X))


def test_auto_rank_is_the_held_out_choice_and_reported():
    X, y, keep = _grid_data()
    model = FunBaT(seed=0, n_epochs=30, residual=None).fit(X[keep], y[keep])
    assert model.rank == "auto"
    assert isinstance(model.rank_, tuple) and len(model.rank_) == 3 and all(1 <= r <= 5 for r in model.rank_)
    assert tuple(c.rank for c in model._ep.chains) == model.rank_


def test_tucker_warm_start_uses_components_beyond_the_cp_rank():
    """Planted Tucker (3, 6, 6): the fit must beat rank (3, 3, 3) clearly, which it could not if the
    extra components stayed at zero (the old warm start returned the rank-3 fit to four decimals)."""
    g = torch.Generator().manual_seed(0)
    axes = [torch.linspace(0, 1, n, dtype=F64) for n in (12, 20, 20)]
    bases = [torch.stack([torch.cos(math.pi * j * x) for j in range(r)], 1) for x, r in zip(axes, (3, 6, 6))]
    core = torch.randn(3, 6, 6, generator=g, dtype=F64)
    field = torch.einsum("abc,ia,jb,kc->ijk", core, *bases)
    X = torch.cartesian_prod(*axes)
    y = field.reshape(-1) + 0.01 * torch.randn(field.numel(), generator=g, dtype=F64)
    keep = torch.rand(y.numel(), generator=g) < 0.8
    settings = dict(seed=0, residual=None, n_epochs=80)
    full = FunBaT(rank=(3, 6, 6), **settings).fit(X[keep], y[keep])
    small = FunBaT(rank=3, **settings).fit(X[keep], y[keep])
    rmse = {name: float((m.predict(X[~keep]) - y[~keep]).pow(2).mean().sqrt()) for name, m in [("full", full), ("small", small)]}
    assert rmse["full"] < 0.5 * rmse["small"], rmse
    extra = full.core_.mean[:, 3:, 3:].norm() / full.core_.mean.norm()
    assert float(extra) > 0.05


def test_kernel_names_per_mode_and_periods():
    lon = torch.arange(0, 360, 10, dtype=F64)
    X = torch.cartesian_prod(torch.arange(4, dtype=F64), lon)
    assert mode_kernels(["matern32", "periodic"], X) == (["matern32", "periodic"], [None, 360.0])
    assert mode_kernels("matern52", X) == (["matern52", "matern52"], [None, None])
    assert mode_kernels(["matern12", "periodic:400"], X)[1] == [None, 400.0]
    with pytest.raises(ValueError, match="span"):
        mode_kernels(["matern32", "periodic:100"], X)
    with pytest.raises(ValueError, match="one entry per mode"):
        mode_kernels(["matern32"], X)
    for bad in ("rbf", "matern32:3", "periodic:-1", "periodic:x"):
        with pytest.raises(ValueError, match="kernel"):
            FunBaT(kernel=["matern32", bad])
    with pytest.raises(ValueError, match="residual"):
        FunBaT(residual="kriging")
    with pytest.raises(ValueError, match="rank"):
        FunBaT(rank="best")


def test_periodic_mode_wraps_around():
    """A field periodic in longitude, observed at 0°…340°: the periodic prior predicts 350° from both 340° and 0°."""
    time, lon = torch.arange(6, dtype=F64), torch.arange(0, 360, 20, dtype=F64)
    X = torch.cartesian_prod(time, lon)
    field = lambda x: torch.cos(torch.deg2rad(x[:, 1]) * 3 + 0.3) * (1 + 0.2 * x[:, 0]) + 0.5 * torch.sin(torch.deg2rad(x[:, 1]))
    y = field(X)
    query = torch.cartesian_prod(time, torch.tensor([350.0], dtype=F64))
    errors = {}
    for kernel in ("periodic", "matern32"):
        model = FunBaT(rank=2, kernel=["matern32", kernel], seed=0, n_epochs=40, residual=None).fit(X, y)
        errors[kernel] = float((model.predict(query) - field(query)).abs().max())
    assert errors["periodic"] < 0.5 * errors["matern32"], errors


def test_scikit_learn_contract():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.model_selection import KFold, cross_val_score

    X, y, _ = _grid_data(shape=(6, 7, 8))
    model = FunBaT(rank=2, kernel=["matern32", "matern32", "matern52"], noise_prior=(1, 2), seed=0, n_epochs=15)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and "residual='gp'" not in repr(model)  # defaults not repeated
    with pytest.raises(NotFittedError):
        model.predict(X.numpy())
    scores = cross_val_score(model, X.numpy(), y.numpy(), cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and all(s > 0.9 for s in scores)  # R² on cells hidden at random
    fitted = model.fit(X.numpy(), y.numpy())
    assert type(fitted.predict(X.numpy())).__module__ == "numpy" and torch.is_tensor(fitted.predict(X))


def _boxed_data():
    """A field with ridges (not low-rank) and a lat/lon box hidden in every time step."""
    X, y, keep = _grid_data(shape=(6, 14, 14), fraction=0.9, ridges=0.3)
    box = (X[:, 1] > 0.7) & (X[:, 1] < 1.3) & (X[:, 2] > 1.0) & (X[:, 2] < 2.0)
    return X, y, keep & ~box, box


def test_gap_variance_model_is_fitted_on_boxes_held_out_in_every_time_step():
    X, y, keep, _ = _boxed_data()
    fit = dict(rank=2, seed=0, n_epochs=40, n_samples=3000)
    model = FunBaT(**fit).fit(X[keep], y[keep])
    # the oracle: the same boxes held out, the same refit, an exact (dense) residual posterior
    Xk, yk = X[keep], y[keep]
    order = torch.argsort((Xk[:, 0] * 100 + Xk[:, 1]) * 100 + Xk[:, 2])  # C order of the grid cells
    Xk, yk = Xk[order], yk[order]
    gp = model._residual.gp
    assert not gp.observed.reshape(gp.observed.shape[0], -1).any(0).all()  # a box is never observed
    cells = torch.nonzero(gp.observed.reshape(-1))[:, 0]
    held = held_out_boxes(tuple(gp.observed.shape), cells, round(HELD_OUT * cells.numel()), torch.Generator().manual_seed(0))
    train = torch.ones(cells.numel(), dtype=torch.bool)
    train[held] = False
    refit = FunBaT(**fit, residual=None).fit(Xk[train], yk[train])
    residuals = (yk - refit.predict(Xk)) / model.value_scale_
    g_mean, g_var = _dense_residual_posterior(model, Xk[train], residuals[train], Xk[held])
    v = g_var + model._residual.kernel.noise
    a, b = fit_variance_model(residuals[held] - g_mean, v)
    calibrated = model._residual.block_scale * v + model._residual.block_variance
    assert float(calibrated.mean()) == pytest.approx(float((a * v + b).mean()), rel=5 * math.sqrt(2 / 3000))
    assert model._residual.block_scale >= 1.0 and model._residual.block_variance >= 0.0  # never narrower than the GP
    assert model.residual_["gap_variance_scale"] == model._residual.block_scale


def test_variance_model_recovers_planted_scale_and_offset():
    g = torch.Generator().manual_seed(3)
    v = torch.rand(40_000, generator=g, dtype=F64) * 2 + 0.01
    errors = torch.randn(40_000, generator=g, dtype=F64) * (3.0 * v + 0.5).sqrt()
    a, b = fit_variance_model(errors, v)
    assert a == pytest.approx(3.0, rel=0.05) and b == pytest.approx(0.5, rel=0.1)
    a, b = fit_variance_model(0.3 * errors, v)  # an over-dispersed GP: the floor a = 1, b ≈ 0
    assert a == pytest.approx(1.0, abs=1e-3) and b < 0.01


def test_gap_variance_model_widens_only_never_observed_locations():
    X, y, keep, box = _boxed_data()
    model = FunBaT(rank=2, seed=0, n_epochs=40, n_samples=256).fit(X[keep], y[keep])
    _, std = model.predict(X, return_std=True)
    a, b = model._residual.block_scale, model._residual.block_variance
    model._residual.block_scale, model._residual.block_variance = 1.0, 0.0
    _, plain = model.predict(X, return_std=True)
    expected = torch.where(box, a * plain**2 + b * model.value_scale_**2, plain**2)
    assert torch.allclose(std**2, expected, rtol=1e-12)
    off_grid = X[box][:1] + torch.tensor([0.0, 1e-3, 0.0], dtype=F64)  # a latitude never seen
    on_grid = X[~box][:1]
    Xs = (torch.cat([off_grid, on_grid]) - model.coordinate_shift_) / model.coordinate_scale_
    model._residual.block_scale, model._residual.block_variance = 3.0, 2.0
    assert model._residual.calibrate(Xs, torch.ones(2, dtype=F64)).tolist() == [5.0, 1.0]


def test_no_gap_variance_model_when_every_location_is_observed_at_some_time():
    X, y, keep = _grid_data()
    model = FunBaT(rank=2, seed=0, n_epochs=20, n_samples=64).fit(X[keep], y[keep])
    assert (model._residual.block_scale, model._residual.block_variance) == (1.0, 0.0)
