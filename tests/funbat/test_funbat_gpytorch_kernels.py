"""FunBaT takes gpytorch Matérn kernel objects per mode, with lengthscales in the coordinates' units."""

import math

import gpytorch
import numpy as np
import pytest
import torch

from tensorkit import FunBaT
from tensorkit.funbat.gpytorch_kernels import from_gpytorch
from tensorkit.funbat.gpytorch_priors import rebuild_prior
from tensorkit.funbat.hyper import LENGTHSCALE_GRID


def _data():
    """A smooth field on a 12 × 10 grid with 30 % of the cells missing; spans 22 and 9 (not 1)."""
    rng = np.random.default_rng(0)
    x1, x2 = np.linspace(0.0, 22.0, 12), np.linspace(-4.0, 5.0, 10)
    X = np.array([(a, b) for a in x1 for b in x2])
    y = np.sin(X[:, 0] / 4) * np.cos(X[:, 1] / 3) + 0.5 + 0.05 * rng.standard_normal(len(X))
    keep = rng.random(len(X)) > 0.3
    return torch.tensor(X[keep]), torch.tensor(y[keep]), torch.tensor(X)


def _matern(nu, lengthscale, outputscale=None, learned=False, **priors):
    kernel = gpytorch.kernels.MaternKernel(nu=nu, **priors).double()
    kernel.lengthscale = lengthscale
    kernel.raw_lengthscale.requires_grad_(learned)
    if outputscale is None:
        return kernel
    scaled = gpytorch.kernels.ScaleKernel(kernel).double()
    scaled.outputscale = outputscale
    return scaled


SETTINGS = dict(rank=2, residual=None, n_epochs=15, seed=0)


def test_a_fixed_matern_kernel_object_fits_as_its_name_with_the_same_lengthscale_and_variance():
    X, y, grid = _data()
    spans = X.amax(0) - X.amin(0)
    ell, var = [0.3, 0.15], [1.7, 0.8]  # rescaled units, as FunBaT's lengthscale argument
    named = FunBaT(kernel="matern32", lengthscale=ell, variance=var, **SETTINGS).fit(X, y)
    objects = [_matern(1.5, ell[k] * float(spans[k]), var[k]) for k in range(2)]  # gpytorch: coordinate units
    fitted = FunBaT(kernel=objects, **SETTINGS).fit(X, y)
    assert fitted.kernels_ == ["matern32", "matern32"]
    # gpytorch stores softplus⁻¹(ℓ): the value it gives back differs from the one set by ~1e-8
    np.testing.assert_allclose(fitted.lengthscales_, ell, rtol=1e-7)
    np.testing.assert_allclose(fitted.lengthscales_user_, [ell[k] * float(spans[k]) for k in range(2)], rtol=1e-7)
    mean, std = fitted.predict(grid, return_std=True)
    expected_mean, expected_std = named.predict(grid, return_std=True)
    torch.testing.assert_close(mean, expected_mean, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(std, expected_std, rtol=1e-6, atol=1e-6)
    # another smoothness is another fit; a bare MaternKernel takes the variance argument
    rougher = FunBaT(kernel=[_matern(0.5, ell[0] * float(spans[0]), var[0]), objects[1]], **SETTINGS).fit(X, y)
    assert rougher.kernels_[0] == "matern12" and not torch.allclose(rougher.predict(grid), mean, atol=1e-4)
    bare = FunBaT(kernel=[_matern(1.5, ell[0] * float(spans[0])), objects[1]], variance=var[0], **SETTINGS).fit(X, y)
    torch.testing.assert_close(bare.predict(grid), mean, rtol=1e-6, atol=1e-6)


def test_a_learned_lengthscale_follows_the_kernels_prior():
    X, y, _ = _data()
    span = float(X[:, 0].max() - X[:, 0].min())
    candidates = (LENGTHSCALE_GRID * span).tolist()  # the selection grid, in coordinate units
    free = FunBaT(kernel="matern32", **SETTINGS).fit(X, y)
    chosen = free.lengthscales_user_[0]
    target = min(candidates, key=lambda c: -abs(math.log(c / chosen)))  # the candidate farthest from the evidence's choice
    prior = gpytorch.priors.LogNormalPrior(math.log(target), 0.05)
    pulled = FunBaT(kernel=[_matern(1.5, 1.0, learned=True, lengthscale_prior=prior), "matern32"], **SETTINGS).fit(X, y)
    assert pulled.lengthscales_user_[0] == pytest.approx(target, rel=1e-9)
    assert pulled.lengthscales_user_[1] == pytest.approx(free.lengthscales_user_[1], rel=0.5)
    unpulled = FunBaT(kernel=[_matern(1.5, 1.0, learned=True), "matern32"], **SETTINGS).fit(X, y)
    assert unpulled.lengthscales_user_[0] != pytest.approx(target, rel=1e-3)


@pytest.mark.parametrize("kernel, error, match", [
    (gpytorch.kernels.RBFKernel(), TypeError, r"kernel\[1\].*MaternKernel"),
    (gpytorch.kernels.MaternKernel(nu=1.5, ard_num_dims=2), ValueError, r"kernel\[1\].*single lengthscale"),
    (gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=1.5), outputscale_prior=gpytorch.priors.GammaPrior(2.0, 1.0)),
     ValueError, r"kernel\[1\].*outputscale_prior"),
    (3.5, TypeError, "kernel"),
])  # fmt: skip
def test_unsupported_kernel_objects_are_refused_naming_the_entry(kernel, error, match):
    with pytest.raises(error, match=match):
        FunBaT(kernel=["matern32", kernel])


def test_kernel_objects_survive_save_and_load(tmp_path):
    X, y, grid = _data()
    kernel = [_matern(1.5, 6.0, outputscale=2.0), _matern(0.5, 3.0, learned=True)]
    model = FunBaT(kernel=kernel, **SETTINGS).fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = FunBaT.load(tmp_path / "m.npz")
    for a, b in zip(model.predict(grid, return_std=True), loaded.predict(grid, return_std=True)):
        assert torch.equal(a, b)
    for original, restored in zip(kernel, loaded.kernel):
        assert type(restored) is type(original)
        assert from_gpytorch(restored, "k") == from_gpytorch(original, "k")


def test_a_kernel_with_priors_survives_save_and_load(tmp_path):
    X, y, grid = _data()
    gamma = gpytorch.priors.GammaPrior(3.0, 0.5)
    box = gpytorch.priors.SmoothedBoxPrior(0.5, 8.0, sigma=0.1)
    kernel = [_matern(1.5, 6.0, learned=True, lengthscale_prior=gamma), _matern(2.5, 3.0, outputscale=1.5, lengthscale_prior=box)]
    model = FunBaT(kernel=kernel, **SETTINGS).fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = FunBaT.load(tmp_path / "m.npz")
    for a, b in zip(model.predict(grid, return_std=True), loaded.predict(grid, return_std=True)):
        assert torch.equal(a, b)
    for original, restored, names in zip(kernel, loaded.kernel, [("concentration", "rate"), ("a", "b", "sigma")]):
        prior, rebuilt = from_gpytorch(original, "k").prior, from_gpytorch(restored, "k").prior
        assert type(rebuilt) is type(prior)
        for name in names:
            assert torch.equal(getattr(rebuilt, name), getattr(prior, name))
            assert getattr(rebuilt, name).dtype == getattr(prior, name).dtype == torch.float64  # the kernel's .double()
        ell = torch.tensor([0.7, 2.0, 5.0], dtype=torch.float64)
        assert torch.equal(rebuilt.log_prob(ell), prior.log_prob(ell))


class _OwnPrior(gpytorch.priors.GammaPrior):
    """A user's prior class: its code cannot be stored without pickling."""


@pytest.mark.parametrize("prior, match", [
    (_OwnPrior(3.0, 0.5), r"kernel\[1\]'s lengthscale_prior is a .*_OwnPrior, which cannot be stored"),
    (gpytorch.priors.GammaPrior(3.0, 0.5, transform=torch.exp), r"kernel\[1\]'s lengthscale_prior \(GammaPrior\) has a transform"),
])  # fmt: skip
def test_a_prior_that_cannot_be_described_is_refused_naming_the_entry(tmp_path, prior, match):
    X, y, _ = _data()
    model = FunBaT(kernel=["matern32", _matern(1.5, 6.0, learned=True, lengthscale_prior=prior)], **SETTINGS).fit(X, y)
    with pytest.raises(TypeError, match=match):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match=match):  # before any epoch runs
        FunBaT(kernel=model.kernel, **SETTINGS, checkpoint=tmp_path / "fit.ckpt").fit(X, y)


def test_a_checkpoint_resumes_only_with_the_same_kernel_values(tmp_path):
    X, y, grid = _data()
    path = tmp_path / "fit.ckpt"

    def kernel(lengthscale=6.0, rate=0.5):
        return [_matern(1.5, lengthscale, learned=True, lengthscale_prior=gpytorch.priors.GammaPrior(3.0, rate)), "matern32"]

    first = FunBaT(kernel=kernel(), **SETTINGS, checkpoint=path).fit(X, y)
    assert path.exists()  # written when EP finished
    for other in (kernel(lengthscale=7.0), kernel(rate=0.6)):
        with pytest.raises(ValueError, match=r"differing: settings\.kernel\)"):
            FunBaT(kernel=other, **SETTINGS, checkpoint=path).fit(X, y)
    with pytest.raises(ValueError, match=r"differing: settings\.n_epochs\)"):
        FunBaT(kernel=kernel(), **SETTINGS | {"n_epochs": 16}, checkpoint=path).fit(X, y)
    resumed = FunBaT(kernel=kernel(), **SETTINGS, checkpoint=path).fit(X, y)  # equal objects, not the same ones
    assert resumed.n_epochs_run_ == first.n_epochs_run_
    assert torch.equal(resumed.predict(grid), first.predict(grid))


@pytest.mark.parametrize("description, match", [
    ({"class": "LKJPrior", "parameters": {}, "validate_args": False}, "unknown prior class 'LKJPrior'"),
    ({"class": "GammaPrior", "parameters": {"concentration": {"values": 3.0, "dtype": "load"}}, "validate_args": False},
     "GammaPrior parameter 'concentration' has the unknown dtype 'load'"),
])  # fmt: skip
def test_a_file_cannot_name_another_prior_class_or_dtype(description, match):
    with pytest.raises(ValueError, match=match):
        rebuild_prior(description)
