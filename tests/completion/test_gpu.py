"""CUDA: the pipeline runs unchanged on the device of the inputs (skipped without CUDA)."""

import pytest
import torch

from tensorkit.completion import DAIN, build_model, cell_scores

pytestmark = pytest.mark.gpu


def _cells(device):
    g = torch.Generator().manual_seed(0)
    idx = torch.unique(torch.stack([torch.randint(0, s, (600,), generator=g) for s in (15, 12, 10)], 1), dim=0)
    return idx.to(device), (idx.sum(1).double() / 10).to(device)


def test_dain_runs_on_cuda_and_matches_cpu_influence():
    idx, y = _cells("cuda")
    est = DAIN("mlp", seed=0, model_options={"layers": [24, 32, 16]}, max_epochs=10).fit(idx, y)
    assert est.augmented_indices_.device.type == "cuda" and est.predict(idx).device.type == "cuda"
    assert all(p.device.type == "cuda" for p in est.entity_importance_)
    model = build_model("tucker", (15, 12, 10), seed=0, rank=3).double()
    cpu = cell_scores(model, idx[:300].cpu(), y[:300].cpu(), idx[300:].cpu(), y[300:].cpu())
    gpu = cell_scores(model.cuda(), idx[:300], y[:300], idx[300:], y[300:])
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-10, atol=1e-12)
