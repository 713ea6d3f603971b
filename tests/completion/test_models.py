"""Backbone interface: forward = head(features), CP/Tucker = dense oracles, Tucker head gradient, errors."""

import pytest
import torch

from tensorkit.completion import MLP, CoSTCo, CPModel, TuckerModel, build_model
from tensorkit.core import CPTensor, TuckerTensor

SHAPE = (5, 4, 6)
IDX = torch.cartesian_prod(*[torch.arange(s) for s in SHAPE])


@pytest.mark.parametrize(
    ("name", "options", "n_features"),
    [("mlp", {"layers": [9, 12, 7]}, 7), ("costco", {"rank": 3, "channels": 4, "hidden": 6}, 6),
     ("cp", {"rank": 3}, 3), ("tucker", {"rank": (2, 3, 2)}, 12)],
)  # fmt: skip
def test_forward_is_head_of_features(name, options, n_features):
    model = build_model(name, SHAPE, seed=0, **options).double()
    assert model.n_features == n_features and model.shape == SHAPE
    h = model.features(IDX)
    assert h.shape == (IDX.shape[0], n_features)
    torch.testing.assert_close(model(IDX), model.head(h).squeeze(-1))
    g = torch.randn(n_features, dtype=torch.float64)
    pred, inner = model.forward_with_inner(IDX, g)
    torch.testing.assert_close(pred, model(IDX))
    torch.testing.assert_close(inner, h @ g)
    r = torch.randn(IDX.shape[0], dtype=torch.float64)
    torch.testing.assert_close(model.head_gradient(IDX, r), r @ h)


def test_cp_and_tucker_models_are_their_dense_tensors():
    cp = build_model("cp", SHAPE, seed=1, rank=3, bias_init=0.5).double()
    dense = CPTensor(cp.head.weight[0].detach(), [u.detach() for u in cp.factors]).to_dense()
    torch.testing.assert_close(cp(IDX).detach(), dense.reshape(-1) + 0.5)
    tk = build_model("tucker", SHAPE, seed=1, rank=(2, 3, 2)).double()
    core = tk.head.weight.detach().reshape(2, 3, 2)
    dense = TuckerTensor(core, [u.detach() for u in tk.factors]).to_dense()
    torch.testing.assert_close(tk(IDX).detach(), dense.reshape(-1) + tk.head.bias.detach())


def test_frozen_cp_weights_stay_one():
    cp = CPModel(SHAPE, rank=3, freeze_weights=True)
    assert not cp.head.weight.requires_grad and torch.equal(cp.head.weight, torch.ones(1, 3))


def test_seeded_init_is_reproducible():
    a, b = build_model("mlp", SHAPE, seed=4, layers=[6, 5]), build_model("mlp", SHAPE, seed=4, layers=[6, 5])
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_model("mlp", SHAPE, seed=5, layers=[6, 5])
    assert not torch.equal(a.embeddings[0].weight, c.embeddings[0].weight)


def test_mlp_default_parity_and_errors():
    mlp = MLP((10, 10, 10))
    assert [m.out_features for m in mlp.body if isinstance(m, torch.nn.Linear)] == [1024, 1024, 128]
    assert mlp.embeddings[0].embedding_dim == 50
    with pytest.raises(ValueError, match="divisible"):
        MLP(SHAPE, layers=[10, 4])
    with pytest.raises(ValueError, match="layers"):
        MLP(SHAPE, layers=[9])
    with pytest.raises(ValueError, match="model"):
        build_model("ntm", SHAPE)
    with pytest.raises(ValueError, match="rank"):
        TuckerModel(SHAPE, rank=(2, 9, 2))
    with pytest.raises(TypeError, match="channels"):
        CoSTCo(SHAPE, channels=2.5)


def test_masked_completion_recovers_low_rank_tensor_and_prefers_observed_cells():
    from tensorkit.completion import masked_completion

    g = torch.Generator().manual_seed(0)
    truth = CPTensor(torch.ones(2, dtype=torch.float64), [torch.randn(s, 2, generator=g, dtype=torch.float64) for s in (8, 7, 6)])
    cells = torch.cartesian_prod(*[torch.arange(s) for s in (8, 7, 6)])
    keep = torch.rand(cells.shape[0], generator=g) < 0.6
    idx, y = cells[keep], truth.at(cells[keep])
    fit = masked_completion("cp_als", idx, y, (8, 7, 6), rank=2, n_iter_max=500)
    torch.testing.assert_close(fit.at(cells[~keep]), truth.at(cells[~keep]), rtol=1e-3, atol=1e-3)
    # wrong pseudo-labels on observed cells are ignored; on missing cells they are used
    bogus = masked_completion("hooi", idx, y, (8, 7, 6), rank=2, augmented_indices=idx, augmented_values=y + 100)
    clean = masked_completion("hooi", idx, y, (8, 7, 6), rank=2)
    torch.testing.assert_close(bogus.to_dense(), clean.to_dense())
    with pytest.raises(ValueError, match="method"):
        masked_completion("svd", idx, y, (8, 7, 6), rank=2)


@pytest.mark.parametrize("name", ["mlp", "costco", "cp", "tucker"])
def test_residual_and_head_gradient_matches_two_pass(name):
    model = build_model(name, SHAPE, seed=2).double()
    y = torch.randn(IDX.shape[0], dtype=torch.float64)
    r, g = model.residual_and_head_gradient(IDX, y)
    torch.testing.assert_close(r, model(IDX) - y)
    torch.testing.assert_close(g, model.head_gradient(IDX, r))
