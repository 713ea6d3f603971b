"""save/load of DAIN and ChebTucker: exact round trips, and files that could run code are refused."""

import json
import os
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from tensorkit import DAIN, ChebTucker

SHAPE = (8, 7, 6)


def _cells(n=200, seed=0):
    g = np.random.default_rng(seed)
    idx = np.stack(np.unravel_index(g.choice(np.prod(SHAPE), n, replace=False), SHAPE), 1)
    return idx, g.normal(size=n) + idx.sum(1) / 4


@pytest.mark.parametrize("sampler", ["none", "influence"])
def test_dain_round_trip_is_exact(tmp_path, sampler):
    idx, y = _cells()
    est = DAIN("costco", sampler=sampler, standardize=True, model_options={"rank": 3}, max_epochs=4, seed=2)
    est.fit(idx, y, shape=SHAPE)
    est.save(tmp_path / "dain.npz")
    back = DAIN.load(tmp_path / "dain.npz")
    assert back.get_params() == est.get_params()
    every_cell = np.stack(np.unravel_index(np.arange(np.prod(SHAPE)), SHAPE), 1)
    for model in ("final", "base"):
        np.testing.assert_array_equal(back.predict(every_cell, model=model), est.predict(every_cell, model=model))
    assert back.result_.best_epoch == est.result_.best_epoch and back.history_ == est.history_
    torch.testing.assert_close(back.augmented_indices_, est.augmented_indices_, rtol=0, atol=0)
    arm, back_arm = est.with_arm("uniform"), back.with_arm("uniform")
    np.testing.assert_array_equal(back_arm.predict(every_cell), arm.predict(every_cell))


def test_dain_with_a_callable_model_cannot_be_saved(tmp_path):
    from tensorkit.completion.models import build_model

    est = DAIN(lambda shape, seed: build_model("cp", shape, seed=seed, rank=2), sampler="none", max_epochs=2)
    est.fit(*_cells(), shape=SHAPE)
    with pytest.raises(TypeError, match="cannot save model"):
        est.save(tmp_path / "dain.npz")
    assert not os.listdir(tmp_path)  # nothing half-written


def test_chebtucker_round_trip_keeps_dims_coordinates_and_values(tmp_path):
    time = pd.date_range("2001-01-01", periods=9, freq="D").values
    lat, lon = np.linspace(75.0, 15.0, 11), np.linspace(0.0, 180.0, 13)
    values = np.cos(np.arange(9) / 4)[:, None, None] * np.sin(np.radians(lat))[None, :, None] * (1 + lon / 180)
    da = xr.DataArray(values, coords={"time": time, "lat": lat, "lon": lon}, dims=("time", "lat", "lon"))
    model = ChebTucker(degree=(8, 10, 4), tol=1e-9).fit(da)
    model.save(tmp_path / "ct.npz")
    back = ChebTucker.load(tmp_path / "ct.npz")
    assert back.dims_ == model.dims_ and back.ranks_ == model.ranks_ and back.domain_ == model.domain_
    for d in da.dims:
        np.testing.assert_array_equal(back.coords_[d], da[d].values)
    xr.testing.assert_identical(back.to_dataarray(), model.to_dataarray())
    lo, hi = torch.tensor(model.domain_, dtype=torch.float64).T
    pts = lo + (hi - lo) * torch.rand(100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(back(pts), model(pts)) and back.error_estimate_ == model.error_estimate_


def test_chebtucker_of_a_function_round_trip(tmp_path):
    model = ChebTucker(tol=1e-8, domain=[(-1, 1), (0, 2), (-3, 3)]).fit(lambda x, y, z: torch.exp(x * y) + z**2)
    model.save(tmp_path / "ct.npz")
    back = ChebTucker.load(tmp_path / "ct.npz")
    pts = torch.rand(100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(back(pts), model(pts)) and back.dims_ is None and repr(back) == repr(model)


class _Payload:
    """Unpickling this creates a marker file: proof that loading ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_payloads_run_no_code(tmp_path):
    marker = tmp_path / "pwned"
    model = ChebTucker(degree=4).fit(lambda x, y, z: x + y * z)
    good = tmp_path / "good.npz"
    model.save(good)
    evil_npz = tmp_path / "evil.npz"  # a genuine archive with one member replaced by a pickled object array
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil_npz, "w") as dst:
        for name in src.namelist():
            if name != "core.npy":
                dst.writestr(name, src.read(name))
        with dst.open("core.npy", "w") as fh:
            np.lib.format.write_array(fh, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    raw_pickle = tmp_path / "evil.pkl"
    raw_pickle.write_bytes(pickle.dumps(_Payload(str(marker))))
    torch_file = tmp_path / "evil.pt"
    torch.save({"x": _Payload(str(marker))}, torch_file)
    for path in (evil_npz, raw_pickle, torch_file):
        with pytest.raises(ValueError, match="cannot load"):
            ChebTucker.load(path)
    assert not marker.exists()
    with np.load(evil_npz, allow_pickle=True) as npz:  # the payload is live: a pickle-allowing load runs it
        npz["core"]
    assert marker.exists()


def test_version_and_class_are_checked(tmp_path):
    path = tmp_path / "ct.npz"
    ChebTucker(degree=4).fit(lambda x, y, z: x + y * z).save(path)
    with pytest.raises(ValueError, match="not a DAIN"):
        DAIN.load(path)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["__tensorkit__"]))
    arrays["__tensorkit__"] = np.array(json.dumps({**meta, "version": "9.0.0"}))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="tensorkit 9.0.0"):
        ChebTucker.load(path)
    with pytest.raises(FileNotFoundError):
        ChebTucker.load(tmp_path / "missing.npz")


def _funbat_grid(shape=(5, 6, 8), fraction=0.7):
    """A smooth field on a grid of real coordinates (the last mode a longitude that wraps), some cells hidden."""
    g = torch.Generator().manual_seed(0)
    axes = [torch.linspace(0, 2, shape[0], dtype=torch.float64), torch.linspace(-1, 1, shape[1], dtype=torch.float64),
            torch.arange(shape[2], dtype=torch.float64) * 40.0]
    X = torch.cartesian_prod(*axes)
    y = torch.sin(2 * X[:, 0]) * X[:, 1] + torch.cos(torch.deg2rad(X[:, 2])) + 0.05 * torch.randn(len(X), generator=g, dtype=torch.float64)
    keep = torch.rand(len(X), generator=g) < fraction
    return X, y, keep


@pytest.mark.parametrize("settings", [
    dict(rank=(2, 2, 3), kernel=["matern32", "matern52", "periodic"], n_samples=8),  # Tucker core, residual GP
    dict(rank=3, decomposition="cp", residual=None, kernel="matern12", lengthscale=0.5),  # CP, variance from the posteriors
])
def test_funbat_round_trip_is_exact(tmp_path, settings):
    from tensorkit import FunBaT

    X, y, keep = _funbat_grid()
    model = FunBaT(n_epochs=8, seed=1, **settings).fit(X[keep], y[keep])
    model.save(tmp_path / "funbat.npz")
    back = FunBaT.load(tmp_path / "funbat.npz")
    assert repr(back) == repr(model)
    fitted = ("rank_", "kernels_", "residual_", "lengthscales_", "history_", "dims_", "value_offset_", "value_scale_")
    assert all(getattr(back, name) == getattr(model, name) for name in fitted)
    # training cells, hidden cells, and coordinates between the training ones (new Kalman states, a refined residual grid)
    query = torch.cat([X, X[:40] + torch.tensor([0.05, 0.03, 7.0], dtype=torch.float64)])
    for include_noise in (True, False):
        mean, std = model.predict(query, return_std=True, include_noise=include_noise)
        back_mean, back_std = back.predict(query, return_std=True, include_noise=include_noise)
        assert torch.equal(back_mean, mean) and torch.equal(back_std, std)
    assert back.noise_precision_ == model.noise_precision_
    assert torch.equal(back.core_.covariance, model.core_.covariance)
    assert torch.equal(back.bases_[2].std(query[:, 2]), model.bases_[2].std(query[:, 2]))
    with pytest.raises(ValueError, match="holds a 'FunBaT', not a DAIN"):
        DAIN.load(tmp_path / "funbat.npz")


def test_unfitted_funbat_cannot_be_saved(tmp_path):
    from tensorkit import FunBaT
    from tensorkit._estimator import NotFittedError

    with pytest.raises(NotFittedError):
        FunBaT().save(tmp_path / "f.npz")
    assert not os.listdir(tmp_path)
