"""CP/Tucker backbones reach the masked-ALS optimum of the same rank; init scale; lr decays; index checks."""

import pytest
import torch

from tensorkit.completion import DAIN, TrainConfig, build_model, masked_completion, train_model
from tensorkit.core import CPTensor, TuckerTensor

SHAPE = (12, 14, 16)


def _planted(kind: str, seed: int = 0):
    """A CP rank-3 or Tucker (2,3,3) tensor (std 2) plus 10 % noise; half the cells observed."""
    g = torch.Generator().manual_seed(seed)
    if kind == "cp":
        truth = CPTensor(torch.ones(3, dtype=torch.float64), [torch.randn(n, 3, generator=g, dtype=torch.float64) for n in SHAPE])
    else:
        truth = TuckerTensor(torch.randn(2, 3, 3, generator=g, dtype=torch.float64),
                             [torch.randn(n, r, generator=g, dtype=torch.float64) for n, r in zip(SHAPE, (2, 3, 3))])  # fmt: skip
    dense = truth.to_dense()
    dense = 2.0 * dense / dense.std()
    noisy = (dense + 0.2 * torch.randn(SHAPE, generator=g, dtype=torch.float64)).reshape(-1)
    cells = torch.cartesian_prod(*[torch.arange(n) for n in SHAPE])
    seen = torch.rand(cells.shape[0], generator=g) < 0.5
    return cells[seen], noisy[seen], cells[~seen], noisy[~seen]


@pytest.mark.parametrize(("kind", "method", "rank"), [("cp", "cp_als", 3), ("tucker", "hooi", (2, 3, 3))])
def test_default_training_matches_masked_als_of_the_same_rank(kind, method, rank):
    """Default settings: held-out RMSE ≤ 1.05 × masked ALS fitted on the same observed cells.

    The estimator holds out 20 % of those cells for early stopping, so it fits on fewer than the ALS.
    """
    idx, y, test_idx, test_y = _planted(kind)
    est = DAIN(kind, sampler="none", seed=0, model_options={"rank": rank}).fit(idx, y, shape=SHAPE)
    als = masked_completion(method, idx, y, SHAPE, rank, n_iter_max=500)
    neural_rmse = (est.predict(test_idx).double() - test_y).square().mean().sqrt()
    als_rmse = (als.at(test_idx) - test_y).square().mean().sqrt()
    assert als_rmse < 0.35 * test_y.std()  # the ALS baseline itself recovers the planted tensor
    assert neural_rmse <= 1.05 * als_rmse


@pytest.mark.parametrize(("name", "rank"), [("cp", 8), ("tucker", (2, 3, 4))])
@pytest.mark.parametrize("init_scale", [0.1, 1.0])
def test_init_scale_is_the_output_std_at_init(name, rank, init_scale):
    model = build_model(name, (40, 50, 60), seed=0, rank=rank, init_scale=init_scale).double()
    g = torch.Generator().manual_seed(1)
    cells = torch.stack([torch.randint(0, n, (20000,), generator=g) for n in (40, 50, 60)], 1)
    with torch.no_grad():
        std = model(cells).std()
    assert 0.6 * init_scale < std < 1.4 * init_scale


def test_lr_decays_extend_training_by_one_patience_window_each():
    """lr = 1e3 never improves on θ_0: stop after `patience` epochs, or after (1 + lr_decays) windows."""
    idx, y, _, _ = _planted("cp")
    for decays in (0, 2):
        config = TrainConfig(lr=1e3, batch_size=256, patience=3, lr_decays=decays, lr_decay_factor=1.5)
        model = build_model("cp", SHAPE, seed=0, rank=3)
        result = train_model(model, idx[:500], y[:500].float(), idx[500:], y[500:].float(), config)
        assert result.best_epoch == 0 and result.stop_reason == "patience"
        assert result.n_epochs == 3 * (1 + decays)
    with pytest.raises(ValueError, match="lr_decays"):
        TrainConfig(lr_decays=-1)
    with pytest.raises(ValueError, match="lr_decay_factor"):
        TrainConfig(lr_decay_factor=0.5)


def test_train_model_checks_index_range_once_up_front():
    idx, y, _, _ = _planted("tucker")
    bad = idx.clone()
    bad[7, 2] = SHAPE[2]
    with pytest.raises(IndexError, match=r"train_idx\[:, 2\]"):
        train_model(build_model("tucker", SHAPE, rank=2), bad, y.float(), idx[:10], y[:10].float())
    with pytest.raises(IndexError, match=r"val_idx\[:, 2\]"):
        train_model(build_model("tucker", SHAPE, rank=2), idx, y.float(), bad[:10], y[:10].float())
