"""FunBaT estimator: API contract, units invariance, exactness of the functional form, errors."""

import numpy as np
import pytest
import torch
import xarray as xr

import tensorkit
from tensorkit.core import CPTensor, FunctionalCP, FunctionalTucker
from tensorkit.core.tenalg import hadamard_rows
from tensorkit.funbat import FunBaT


def _field(seed=0, n=(12, 10, 8), noise=0.05, missing=0.3):
    """A smooth rank-2 field on an irregular 3-D grid, with missing cells."""
    g = torch.Generator().manual_seed(seed)
    grids = [torch.sort(torch.rand(k, generator=g, dtype=torch.float64)).values for k in n]
    X = torch.cartesian_prod(*grids)
    f = torch.sin(3 * X[:, 0]) * torch.cos(2 * X[:, 1]) * (1 + X[:, 2]) + 0.5 * X[:, 0] * X[:, 2]
    y = f + noise * torch.randn(f.shape, generator=g, dtype=torch.float64)
    keep = torch.rand(f.shape, generator=g) > missing
    return X, y, f, keep


def test_fits_and_predicts_held_out_cells():
    X, y, f, keep = _field()
    model = FunBaT(rank=2, seed=0).fit(X[keep], y[keep])
    mean, std = model.predict(X[~keep], return_std=True)
    rmse = (mean - f[~keep]).pow(2).mean().sqrt()
    assert rmse < 0.15 * f.std()
    assert bool((std > 0).all())
    assert not model.collapsed_
    coverage = ((y[~keep] - mean).abs() < 1.96 * std).double().mean()
    assert 0.85 <= coverage <= 1.0


def test_predictions_do_not_depend_on_coordinate_units():
    X, y, _, keep = _field(seed=1)
    units = torch.tensor([1000.0, 0.01, 86400.0], dtype=torch.float64)
    shift = torch.tensor([-5.0, 300.0, 1e6], dtype=torch.float64)
    a = FunBaT(rank=2, seed=3, decomposition="cp").fit(X[keep], y[keep])
    b = FunBaT(rank=2, seed=3, decomposition="cp").fit(X[keep] * units + shift, 40.0 + 7.0 * y[keep])
    pa, sa = a.predict(X[~keep], return_std=True)
    pb, sb = b.predict(X[~keep] * units + shift, return_std=True)
    assert torch.allclose(40.0 + 7.0 * pa, pb, rtol=1e-6, atol=1e-6)
    assert torch.allclose(7.0 * sa, sb, rtol=1e-6)


def test_functional_tucker_reproduces_the_predictive_mean():
    X, y, _, keep = _field(seed=2)
    model = FunBaT(rank=(2, 3, 2), seed=0, n_epochs=30, residual=None).fit(X[keep], y[keep])
    ft = model.to_functional_tucker()
    assert isinstance(ft, FunctionalTucker) and isinstance(model.to_functional(), FunctionalTucker)
    new = torch.tensor([[-0.1, 0.5, 0.5], [0.37, 1.2, 0.01], [0.5, 0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(ft(new), model.predict(new), rtol=1e-10)
    assert torch.equal(model.to_functional()(new), ft(new))
    assert model.core_.mean.shape == (2, 3, 2)
    assert model.core_.covariance.shape == (12, 12)
    assert model.noise_precision_ > 0


def test_cp_core_is_a_cp_tensor_whose_gather_over_the_bases_is_the_predictive_mean():
    X, y, _, keep = _field(seed=2)
    model = FunBaT(rank=3, decomposition="cp", seed=0, n_epochs=30, residual=None).fit(X[keep], y[keep])
    core = model.core_
    assert isinstance(core.mean, CPTensor) and core.mean.shape == (3, 3, 3)
    assert torch.equal(core.covariance, torch.zeros(3, 3, dtype=torch.float64))
    superdiagonal = torch.zeros(3, 3, 3, dtype=torch.float64)
    superdiagonal[(torch.arange(3),) * 3] = model.value_scale_
    assert torch.equal(core.dense_mean(), superdiagonal)
    new = torch.tensor([[-0.1, 0.5, 0.5], [0.37, 1.2, 0.01], [0.5, 0.5, 0.5]], dtype=torch.float64)
    rows = [basis(new[:, k]) @ u for k, (basis, u) in enumerate(zip(model.bases_, core.mean.factors))]
    values = hadamard_rows(rows) @ core.mean.weights + model.value_offset_
    assert torch.allclose(values, model.predict(new), rtol=1e-10)
    assert torch.allclose(model.to_functional_tucker()(new), model.predict(new), rtol=1e-10)
    functional = model.to_functional()  # no (3, 3, 3) core: one more component carries the offset
    assert isinstance(functional, FunctionalCP) and functional.rank == 4 and model.value_offset_ != 0
    assert torch.allclose(functional(new), model.predict(new), rtol=1e-10)
    assert torch.allclose(core.functional(model.bases_)(new) + model.value_offset_, model.predict(new), rtol=1e-10)


def test_factor_uncertainty_grows_away_from_data():
    X, y, _, keep = _field(seed=4)
    model = FunBaT(rank=2, decomposition="cp", seed=0).fit(X[keep], y[keep])
    basis = model.bases_[0]
    inside = X[keep][:, 0].median().reshape(1)
    far = torch.tensor([5.0], dtype=torch.float64)
    assert bool((basis.std(far) > basis.std(inside)).all())
    mean_far, cov_far = basis.moments(far)
    assert cov_far.shape == (1, 2, 2)
    assert torch.allclose(mean_far, torch.zeros_like(mean_far), atol=1e-3)  # back to the prior mean


def test_top_level_lazy_export_and_determinism():
    X, y, _, keep = _field(seed=5)
    a = tensorkit.FunBaT(rank=2, seed=7, n_epochs=10).fit(X[keep], y[keep]).predict(X[~keep])
    b = FunBaT(rank=2, seed=7, n_epochs=10).fit(X[keep], y[keep]).predict(X[~keep])
    assert torch.equal(a, b)


def test_fits_a_dataarray_with_missing_cells():
    X, y, _, keep = _field(seed=6, n=(6, 5, 4))
    values = torch.where(keep, y, torch.nan).reshape(6, 5, 4).numpy()
    grids = [np.unique(X[:, k].numpy()) for k in range(3)]
    da = xr.DataArray(values, coords={"t": grids[0], "lat": grids[1], "lon": grids[2]}, dims=("t", "lat", "lon"))
    model = FunBaT(rank=2, n_epochs=20).fit(da)
    assert model.dims_ == ("t", "lat", "lon")
    full = FunBaT(rank=2, n_epochs=20).fit(X[keep], y[keep])
    assert torch.allclose(model.predict(X), full.predict(X))


def test_ignores_nan_values_in_tensor_input():
    X, y, _, keep = _field(seed=8)
    a = FunBaT(rank=2, n_epochs=10).fit(X[keep], y[keep]).predict(X[:5])
    b = FunBaT(rank=2, n_epochs=10).fit(X, torch.where(keep, y, torch.nan)).predict(X[:5])
    assert torch.allclose(a, b)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(rank=0), ValueError, "rank"),
        (dict(rank=(2, 0, 1)), ValueError, r"rank\[1\]"),
        (dict(kernel="rbf"), ValueError, "kernel"),
        (dict(decomposition="cp", rank=(2, 3, 2)), ValueError, "rank"),
        (dict(lengthscale=-1.0), ValueError, "lengthscale"),
        (dict(lengthscale="best"), ValueError, "lengthscale"),
        (dict(damping=1.0), ValueError, "damping"),
        (dict(n_epochs=0), ValueError, "n_epochs"),
        (dict(init="zeros"), ValueError, "init"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        FunBaT(**kwargs)


def test_bad_data_is_named():
    X, y, _, _ = _field()
    with pytest.raises(ValueError, match="values"):
        FunBaT().fit(X, y[:-1])
    with pytest.raises(ValueError, match="values is required"):
        FunBaT().fit(X)
    with pytest.raises(ValueError, match="coords"):
        FunBaT().fit(X[:, 0], y)
    with pytest.raises(ValueError, match=r"rank must have one entry per mode \(3\)"):
        FunBaT(rank=(2, 2)).fit(X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        FunBaT().predict(X)
    model = FunBaT(rank=2, n_epochs=3).fit(X, y)
    with pytest.raises(ValueError, match="3 columns"):
        model.predict(X[:, :2])


def test_runs_on_the_device_of_the_inputs(device):
    X, y, _, keep = _field(seed=9, n=(6, 5, 4))
    model = FunBaT(rank=2, n_epochs=5).fit(X[keep].to(device), y[keep].to(device))
    mean, std = model.predict(X[~keep].to(device), return_std=True)
    assert mean.device.type == device.type and std.device.type == device.type
    cpu = FunBaT(rank=2, n_epochs=5).fit(X[keep], y[keep]).predict(X[~keep])
    assert torch.allclose(mean.cpu(), cpu, rtol=1e-6, atol=1e-8)


def test_batched_smoothing_of_all_modes_equals_one_by_one():
    from tensorkit.funbat.chains import ModeChain, update_together
    from tensorkit.gp import Matern

    g = torch.Generator().manual_seed(0)
    chains, copies = [], []
    for T, ell in [(9, 0.2), (14, 0.5), (5, 0.1)]:
        grid = torch.sort(torch.rand(T, generator=g, dtype=torch.float64)).values
        pair = [ModeChain(grid, Matern(1.5, ell, 1.0), 2) for _ in range(2)]
        B = torch.randn(T, 2, 2, generator=g, dtype=torch.float64)
        eta = torch.randn(T, 2, generator=g, dtype=torch.float64)
        for c in pair:
            c.info_matrix, c.info_vector = B @ B.transpose(-1, -2), eta
        chains.append(pair[0])
        copies.append(pair[1])
    update_together(chains)
    for batched, single in zip(chains, copies):
        single.update()
        assert torch.allclose(batched.mean, single.mean, rtol=1e-10, atol=1e-12)
        assert torch.allclose(batched.cov, single.cov, rtol=1e-10, atol=1e-12)


class _StopAfter:
    """Stands in for GracefulInterrupt: reports a SIGTERM once it has been polled ``n`` times."""

    def __init__(self, n):
        self.n, self.polls = n, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    @property
    def requested(self):
        self.polls += 1
        return self.polls > self.n


@pytest.mark.parametrize("stop_after", [7, 33])  # inside the CP warm start, inside the Tucker phase
def test_interrupted_fit_resumes_bit_for_bit(tmp_path, monkeypatch, stop_after):
    import tensorkit.funbat.estimator as estimator_module

    X, y, _, keep = _field(seed=10)
    settings = dict(rank=2, seed=0, n_epochs=25, tol=0.0)
    full = FunBaT(**settings).fit(X[keep], y[keep])
    path = tmp_path / "funbat.ckpt"
    monkeypatch.setattr(estimator_module, "GracefulInterrupt", lambda: _StopAfter(stop_after))
    first = FunBaT(**settings, checkpoint=path).fit(X[keep], y[keep])
    assert first.interrupted_ and path.exists()
    assert first.n_epochs_run_ < full.n_epochs_run_
    monkeypatch.undo()
    with pytest.raises(ValueError, match="other data or settings"):
        FunBaT(**settings, checkpoint=path).fit(X[keep], 2 * y[keep])
    resumed = FunBaT(**settings, checkpoint=path).fit(X[keep], y[keep])
    assert not resumed.interrupted_ and path.exists()  # kept for a rerun killed before the caller's output is written
    assert resumed.n_epochs_run_ == full.n_epochs_run_
    assert resumed.history_ == full.history_
    assert torch.equal(resumed.predict(X), full.predict(X))
    monkeypatch.setattr(estimator_module.ConditionalEP, "epoch", lambda ep: pytest.fail("EP ran again"))
    again = FunBaT(**settings, checkpoint=path).fit(X[keep], y[keep])  # the finished state: no epoch runs
    assert again.n_epochs_run_ == full.n_epochs_run_ and again.converged_ == full.converged_
    assert torch.equal(again.predict(X), full.predict(X))


def test_numpy_integer_rank_is_an_integer_rank():
    g = torch.Generator().manual_seed(0)
    coords, values = torch.rand(30, 2, generator=g, dtype=torch.float64), torch.rand(30, generator=g, dtype=torch.float64)
    model = FunBaT(rank=np.int64(2), n_epochs=2, residual=None).fit(coords, values)
    assert model.rank_ == (2, 2)
