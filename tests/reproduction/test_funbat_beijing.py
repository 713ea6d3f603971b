"""FunBaT on Beijing PM2.5 with bin-centre coordinates (method note A3): reference numbers, no collapse."""

import pytest

from tensorkit.funbat import FunBaT
from tensorkit.funbat.folds import BEIJING_PM25, load_binned_fold

REFERENCE_CP_RMSE = 0.3481  # the reference code (and an independent prototype) on fold 0, CP R=2
# the shipped PM2.5 FunBaT-CP config; the coordinates are already in the reference's [0, 10] units
REFERENCE_CP = dict(
    decomposition="cp", rank=2, kernel="matern12", lengthscale=0.1, variance=5.0, damping=0.3,
    damping_noise=0.8, schedule="inner", n_epochs=150, tol=0.0, standardize=False, parity_mode=True,
)


@pytest.fixture(scope="module")
def fold0(shared_data):
    return load_binned_fold(BEIJING_PM25, 0)


def _rmse(model, fold):
    mean = model.predict(fold["X_test"])
    return float((mean - fold["y_test"]).pow(2).mean().sqrt())


def _fit(fold, **kwargs):
    return FunBaT(**kwargs).fit(fold["X_train"], fold["y_train"])


@pytest.fixture(scope="module")
def cp_rmse(fold0):
    return _rmse(_fit(fold0, **REFERENCE_CP), fold0)


def test_cp_rank2_reaches_the_reference_rmse(cp_rmse):
    assert cp_rmse <= REFERENCE_CP_RMSE
    assert cp_rmse == pytest.approx(REFERENCE_CP_RMSE, abs=0.01)


def test_tucker_warm_started_from_cp_does_not_collapse(fold0, cp_rmse):
    config = {**REFERENCE_CP, "decomposition": "tucker", "warm_start_epochs": 60, "n_epochs": 60, "damping_core": 0.5}
    model = _fit(fold0, **config)
    rmse = _rmse(model, fold0)
    assert not model.collapsed_ and rmse < 0.9
    assert rmse <= cp_rmse + 0.01


def test_default_cp_beats_the_reference_without_tuning(fold0):
    model = _fit(fold0, rank=2, decomposition="cp", seed=0)
    assert _rmse(model, fold0) <= REFERENCE_CP_RMSE


@pytest.mark.slow
def test_default_tucker_beats_the_reference_without_tuning(fold0):
    model = _fit(fold0, rank=2, seed=0)
    assert not model.collapsed_
    assert _rmse(model, fold0) <= REFERENCE_CP_RMSE


@pytest.mark.slow
@pytest.mark.parametrize("fold", [1, 2, 3, 4])
def test_other_folds_do_not_collapse(shared_data, fold):
    data = load_binned_fold(BEIJING_PM25, fold)
    config = {**REFERENCE_CP, "decomposition": "tucker", "warm_start_epochs": 60, "n_epochs": 60, "damping_core": 0.5}
    model = _fit(data, **config)
    assert not model.collapsed_
    assert _rmse(model, data) < 0.45
