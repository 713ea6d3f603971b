"""Acceptance A6 (sanity only): on real binned tensors, the no-augmentation and DAIN MLPs beat the
training-mean predictor on every fold. Performance comparisons are reported in experiments/dain/."""

import pytest
import torch

from tensorkit.completion import compare_arms, completion_fold, rmse

pytestmark = pytest.mark.slow

CONFIG = dict(model="mlp", model_options={"layers": [48, 256, 256, 64]}, lr=1e-3, batch_size=512, max_epochs=300,
              patience=10, standardize=True)  # fmt: skip
CASES = [(path, fold) for path in ("data/beijing/beijing_PM2.5/DISCT_50x50x150.npz", "data/US_temp/DISCT_15x95x267.npz")
         for fold in range(5)]  # fmt: skip


@pytest.mark.parametrize(("relpath", "fold"), CASES)
def test_none_and_dain_beat_training_mean(shared_data, relpath, fold):
    data = completion_fold(relpath, fold, val_fraction=0.2, seed=fold)
    observed = torch.cat([data.train.values, data.val.values])
    floor = rmse(torch.full_like(data.test.values, float(observed.mean())), data.test.values)
    unseen = ~data.test_cell_seen
    rows = compare_arms(data.train.indices, data.train.values, data.test.indices, data.test.values, arms=("none", "dain"),
                        shape=data.shape, val_indices=data.val.indices, val_values=data.val.values,
                        test_views={"unseen": unseen}, **CONFIG)  # fmt: skip
    floor_unseen = rmse(torch.full_like(data.test.values[unseen], float(observed.mean())), data.test.values[unseen])
    for row in rows:
        assert row["rmse"] < floor, row
        assert row["rmse_unseen"] < floor_unseen, row
