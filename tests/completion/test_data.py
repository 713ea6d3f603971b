"""Loaders and policies for sparse completion data: TSV, repeated cells, FunBaT folds."""

import numpy as np
import pytest
import torch

from tensorkit.completion import completion_fold, merge_repeated, read_tsv
from tensorkit.data import Observations


def test_read_tsv_roundtrip(tmp_path):
    path = tmp_path / "t.tensor"
    path.write_text("0\t1\t2\t1.5\n3\t0\t1\t-2.25\n")
    obs = read_tsv(path)
    assert obs.shape == (4, 2, 3)
    assert torch.equal(obs.indices, torch.tensor([[0, 1, 2], [3, 0, 1]]))
    assert torch.equal(obs.values, torch.tensor([1.5, -2.25], dtype=torch.float64))
    assert read_tsv(path, shape=(5, 5, 5)).shape == (5, 5, 5)


@pytest.mark.parametrize(("text", "match"), [("0\t1.5\t2\t1\n", "integers"), ("0\t1\n", "two index"),
                                             ("0\ta\t2\t1\n", "tab-separated"), ("-1\t0\t0\t1\n", "integers")])  # fmt: skip
def test_read_tsv_rejects_malformed(tmp_path, text, match):
    path = tmp_path / "bad.tensor"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_tsv(path)


def test_read_tsv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_tsv(tmp_path / "nope.tensor")


def test_merge_repeated_policies():
    obs = Observations.from_indices(torch.tensor([[0, 1], [2, 0], [0, 1]]), torch.tensor([1.0, 5.0, 3.0]), shape=(3, 2))
    merged, counts = merge_repeated(obs, "mean")
    assert len(merged) == 2
    by_cell = {tuple(c.tolist()): (float(v), int(n)) for c, v, n in zip(merged.indices, merged.values, counts)}
    assert by_cell == {(0, 1): (2.0, 2), (2, 0): (5.0, 1)}
    kept, counts = merge_repeated(obs, "keep")
    assert kept is obs and counts.tolist() == [2, 1, 2]
    with pytest.raises(ValueError, match="repeated"):
        merge_repeated(obs, "error")
    with pytest.raises(ValueError, match="policy"):
        merge_repeated(obs, "first")


def test_synthetic_tensor_facts(shared_data):
    obs = read_tsv(shared_data / "dain" / "synthetic_10K.tensor")
    assert obs.shape == (1000, 1000, 1000) and len(obs) == 10_000
    assert float(obs.values.mean()) == pytest.approx(2.8826, abs=1e-4)
    assert torch.unique(obs.indices, dim=0).shape[0] == 10_000


def test_us_temp_fold_merges_cells_and_marks_views(shared_data):
    fold = completion_fold("data/US_temp/DISCT_15x95x267.npz", 0, val_fraction=0.2, seed=0)
    raw = np.load(shared_data / "funbat" / "data" / "US_temp" / "DISCT_15x95x267.npz")
    n_cells = np.unique(raw["fold0_tr_ind"], axis=0).shape[0]
    assert len(fold.train) + len(fold.val) == n_cells
    assert len(fold.test) == 11_189
    assert int((~fold.test_cell_seen).sum()) == 2_198  # genuinely unobserved test rows (method note)
    assert torch.unique(torch.cat([fold.train.indices, fold.val.indices]), dim=0).shape[0] == n_cells
    with pytest.raises(ValueError, match="fold"):
        completion_fold("data/US_temp/DISCT_15x95x267.npz", 5)
