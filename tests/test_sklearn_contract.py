"""DAIN and ChebTucker follow scikit-learn's estimator contract (clone, search, cross-validation, R²);
scikit-learn's own checks are in test_sklearn_estimator_checks.py."""

import numpy as np
import pytest
import sklearn.exceptions
import torch
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from tensorkit import DAIN, ChebTucker
from tensorkit._estimator import NotFittedError

SHAPE = (8, 7, 6)


def _cells(n=200, seed=0):
    """Integer cells of a rank-2 CP tensor and their values."""
    g = np.random.default_rng(seed)
    idx = np.stack(np.unravel_index(g.choice(np.prod(SHAPE), n, replace=False), SHAPE), 1)
    a, b, c = (g.normal(size=(n_k, 2)) for n_k in SHAPE)
    return idx, np.einsum("ir,ir,ir->i", a[idx[:, 0]], b[idx[:, 1]], c[idx[:, 2]]) + 3.0


def _dain(**kw):
    return DAIN("cp", model_options={"rank": 2}, max_epochs=4, patience=2, **kw)


def _cheb(**kw):
    return ChebTucker(degree=8, tol=1e-10, **kw)


def _bump(x, y, z):
    return torch.exp(-(x**2 + y**2)) * (1 + z)


def test_dain_stores_every_argument_as_given():
    options = {"rank": 2}
    est = DAIN("cp", model_options=options, lr=0.01, max_epochs=7, patience=3, min_delta=0, batch_size=64,
               standardize=1, checkpoint_path=None)  # fmt: skip
    params = est.get_params()
    assert params["model_options"] is options and params["lr"] == 0.01 and params["max_epochs"] == 7
    assert params["min_delta"] == 0 and type(params["min_delta"]) is int and params["standardize"] == 1
    assert est.train_config.max_epochs == 7
    twin = clone(est)
    assert twin.get_params()["model_options"] == options and not hasattr(twin, "model_")
    assert "lr=0.01" in repr(est) and "max_epochs=7" in repr(est)


@pytest.mark.parametrize("make", [_dain, _cheb], ids=["DAIN", "ChebTucker"])
def test_set_params_is_validated_at_fit(make):
    est = make().set_params(tol=-1.0) if make is _cheb else make().set_params(max_epochs=0)
    with pytest.raises(ValueError, match="tol|max_epochs"):
        est.fit(*_cells()) if make is _dain else est.fit(_bump)


@pytest.mark.parametrize("make", [_dain, _cheb], ids=["DAIN", "ChebTucker"])
def test_not_fitted_error_is_sklearns_and_a_runtime_error(make):
    X = _cells()[0] if make is _dain else np.zeros((2, 3))
    with pytest.raises(sklearn.exceptions.NotFittedError, match="not fitted"):
        make().predict(X)
    assert issubclass(NotFittedError, RuntimeError)


def test_dain_predict_returns_the_input_type_and_score_is_r2():
    idx, y = _cells()
    est = _dain().fit(idx, y, shape=SHAPE)
    assert est.fit(idx, y, shape=SHAPE) is est
    as_numpy, as_torch = est.predict(idx), est.predict(torch.as_tensor(idx))
    assert isinstance(as_numpy, np.ndarray) and isinstance(as_torch, torch.Tensor)
    np.testing.assert_array_equal(as_numpy, as_torch.numpy())
    assert est.score(idx, y) == pytest.approx(r2_score(y, as_numpy))
    assert est.score(torch.as_tensor(idx), torch.as_tensor(y)) == pytest.approx(est.score(idx, y))


def test_chebtucker_predict_returns_the_input_type_and_score_is_r2():
    est = _cheb().fit(_bump)
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3))
    y = _bump(*torch.as_tensor(X).T).numpy()
    assert isinstance(est.predict(X), np.ndarray) and isinstance(est.predict(torch.as_tensor(X)), torch.Tensor)
    assert est.score(X, y) == pytest.approx(r2_score(y, est.predict(X))) and est.score(X, y) > 0.999


def test_dain_cross_validation_and_grid_search_on_a_small_tensor():
    idx, y = _cells()
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(_dain(), idx, y, cv=cv, params={"shape": SHAPE}, error_score="raise")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    search = GridSearchCV(_dain(), {"max_epochs": [2, 4]}, cv=cv, error_score="raise").fit(idx, y, shape=SHAPE)
    assert search.best_params_["max_epochs"] in (2, 4) and search.best_estimator_.shape_ == SHAPE
