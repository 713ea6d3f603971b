"""FunBaT on the authors' synthetic set (method note A1) and calibration on its noisy version."""

import numpy as np
import pytest
import torch

from tensorkit.funbat import FunBaT

# the reference notebook's configuration (method note, "Authors' configs"), in the file's [0, 1] units
REFERENCE_CP = dict(
    decomposition="cp", rank=1, kernel="matern32", lengthscale=0.1, variance=0.5, damping=0.1,
    damping_noise=0.2, schedule="jacobi", n_epochs=100, tol=0.0, standardize=False,
)


@pytest.fixture(scope="module")
def synthetic(shared_data):
    with np.load(shared_data / "funbat/data/synthetic/simulation_r1.npz") as d:
        return {k: torch.from_numpy(d[k]) for k in d.files}


def _scores(model, d, y_test=None):
    mean, std = model.predict(d["fold0_te_ind_CONTI"], return_std=True)
    y = d["fold0_te_y"]
    rmse = float((mean - y).pow(2).mean().sqrt())
    mae = float((mean - y).abs().mean())
    target = y if y_test is None else y_test
    coverage = float(((target - mean).abs() <= 1.959964 * std).double().mean())
    return rmse, mae, coverage


def _fit(d, **kwargs):
    return FunBaT(**kwargs).fit(d["fold0_tr_ind_CONTI"], d["fold0_tr_y"])


@pytest.mark.parametrize("seed", [0, 1])
def test_cp_rank1_recovers_the_truth(synthetic, seed):
    model = _fit(synthetic, seed=seed, **REFERENCE_CP)
    rmse, mae, _ = _scores(model, synthetic)
    assert rmse <= 0.004 and mae <= 0.004  # reference 0.0042 / 0.0024
    for k, truth in enumerate(["fold0_U1_traj_true", "fold0_U2_traj_true"]):
        learned = model.bases_[k](synthetic[f"mode{k}_values"])[:, 0]
        r = np.corrcoef(learned.numpy(), synthetic[truth].numpy())[0, 1]
        assert abs(r) >= 0.98


def test_tucker_warm_started_from_cp_matches_cp(synthetic):
    cp_rmse, _, _ = _scores(_fit(synthetic, **REFERENCE_CP), synthetic)
    tucker = {**REFERENCE_CP, "decomposition": "tucker", "warm_start_epochs": 50, "n_epochs": 50, "damping_core": 0.5}
    rmse1, _, _ = _scores(_fit(synthetic, **tucker), synthetic)
    assert abs(rmse1 - cp_rmse) <= 1e-3
    rmse2, _, _ = _scores(_fit(synthetic, **{**tucker, "rank": 2}), synthetic)
    assert rmse2 <= 0.006  # reference prototype 0.0049


def test_cold_started_reference_tucker_collapse_is_flagged(synthetic):
    config = {**REFERENCE_CP, "decomposition": "tucker", "init": "random", "parity_mode": True, "damping_core": 0.5}
    with pytest.warns(RuntimeWarning, match="collapsed"):
        model = _fit(synthetic, **config)
    assert model.collapsed_
    rmse, _, _ = _scores(model, synthetic)
    assert rmse == pytest.approx(float(synthetic["fold0_te_y"].std()), rel=0.05)  # the zero predictor


def test_defaults_work_and_are_calibrated_with_noise(synthetic):
    g = torch.Generator().manual_seed(0)
    sigma = 0.01  # ≈ 16 % of std(y)
    y_train = synthetic["fold0_tr_y"] + sigma * torch.randn(675, generator=g, dtype=torch.float64)
    y_test = synthetic["fold0_te_y"] + sigma * torch.randn(675, generator=g, dtype=torch.float64)
    model = FunBaT(rank=1, seed=0).fit(synthetic["fold0_tr_ind_CONTI"], y_train)
    rmse, _, coverage = _scores(model, synthetic, y_test)
    assert rmse <= 0.006
    assert 0.90 <= coverage <= 0.98
    assert model.noise_precision_ ** -0.5 == pytest.approx(sigma, rel=0.25)
