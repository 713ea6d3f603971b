"""Acceptance A1/A2 (method note): DAIN on the reference's synthetic_10K tensor, 5 seeds.

Configuration of the note: MLP [48, 256, 256, 64], Adam 1e-3, batch 1024, ≤ 200 epochs, patience 10,
seeded 72/18/10 split, augmentation ratio 0.5. Measured independently: ratio 0.934, 5/5 seeds.
"""

import pytest
import torch

from tensorkit.completion import compare_arms, read_tsv

pytestmark = pytest.mark.slow

CONFIG = dict(model="mlp", model_options={"layers": [48, 256, 256, 64]}, lr=1e-3, batch_size=1024, max_epochs=200,
              patience=10, augment_ratio=0.5)  # fmt: skip
SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def rows(shared_data):
    obs = read_tsv(shared_data / "dain" / "synthetic_10K.tensor")
    out = []
    for seed in SEEDS:
        train, val, test = obs.split((0.72, 0.18, 0.10), seed=seed)
        out += compare_arms(train.indices, train.values, test.indices, test.values, arms=("none", "dain", "uniform"),
                            seeds=[seed], shape=obs.shape, val_indices=val.indices, val_values=val.values, **CONFIG)  # fmt: skip
    return out


def _by_seed(rows, arm):
    return torch.tensor([next(r["rmse"] for r in rows if r["seed"] == s and r["arm"] == arm) for s in SEEDS])


def test_a1_dain_beats_no_augmentation(rows):
    none, dain = _by_seed(rows, "none"), _by_seed(rows, "dain")
    assert dain.mean() <= 0.96 * none.mean(), (dain.tolist(), none.tolist())
    assert int((dain < none).sum()) >= 4, (dain.tolist(), none.tolist())


def test_a2_dain_matches_random_augmentation(rows):
    dain, uniform = _by_seed(rows, "dain"), _by_seed(rows, "uniform")
    assert abs(dain.mean() - uniform.mean()) <= 0.02 * uniform.mean(), (dain.tolist(), uniform.tolist())
