"""Acceptance A3: streaming TracIn scores equal dot products of per-sample autograd head gradients."""

import copy

import pytest
import torch

from tensorkit.completion import TrainConfig, build_model, cell_scores, train_model

SHAPE = (7, 6, 5)
BACKBONES = [  # CP/Tucker start at unit output scale, so the short runs below move away from epoch 0
    ("mlp", {"layers": [6, 16, 8]}),
    ("costco", {"rank": 4, "channels": 3, "hidden": 5}),
    ("cp", {"rank": 3, "init_scale": 1.0}),
    ("cp", {"rank": 3, "freeze_weights": True, "init_scale": 1.0}),
    ("tucker", {"rank": (2, 3, 2), "init_scale": 1.0}),
]


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, s, (n,), generator=g) for s in SHAPE], 1)
    truth = torch.Generator().manual_seed(99)  # one rank-2 CP tensor shared by all draws
    factors = [torch.randn(s, 2, generator=truth, dtype=torch.float64) for s in SHAPE]
    y = (factors[0][idx[:, 0]] * factors[1][idx[:, 1]] * factors[2][idx[:, 2]]).sum(1)
    return idx, y + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)


def _autograd_scores(model, tr_idx, tr_y, va_idx, va_y, include_bias):
    """Σ_v ⟨∇_w ½(f(x)−y)², ∇_w ½(f(v)−y)²⟩ from per-sample autograd gradients, one cell at a time."""
    params = [model.head.weight] + ([model.head.bias] if include_bias else [])

    def per_sample(idx, y):
        rows = []
        for i in range(idx.shape[0]):
            loss = 0.5 * (model(idx[i : i + 1])[0] - y[i]) ** 2
            grads = torch.autograd.grad(loss, params, allow_unused=False)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        return torch.stack(rows)

    model.head.weight.requires_grad_(True)
    return per_sample(tr_idx, tr_y) @ per_sample(va_idx, va_y).sum(0)


@pytest.mark.parametrize("include_bias", [False, True])
@pytest.mark.parametrize(("name", "options"), BACKBONES)
def test_cell_scores_equal_per_sample_autograd(name, options, include_bias):
    model = build_model(name, SHAPE, seed=3, **options).double()
    tr_idx, tr_y = _data(300, 0)
    va_idx, va_y = _data(60, 1)
    got = cell_scores(model, tr_idx, tr_y, va_idx, va_y, include_bias=include_bias)
    want = _autograd_scores(model, tr_idx, tr_y, va_idx, va_y, include_bias)
    assert got.dtype == torch.float64
    assert torch.linalg.vector_norm(want) > 0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))


@pytest.mark.parametrize("parity", [False, True])
@pytest.mark.parametrize("lr", [3e-3, 1e-1])  # best epoch at the cap / stopped by patience mid-run
@pytest.mark.parametrize(("name", "options"), [BACKBONES[0], BACKBONES[2], BACKBONES[4]])
def test_streamed_influence_sums_checkpoint_scores(name, options, parity, lr):
    """One batch per epoch: θ_{e,b(x)} = θ_e, so I(x) = Σ_{e ∈ E} scores(θ_e) over the documented E."""
    tr_idx, tr_y = _data(200, 2)
    va_idx, va_y = _data(50, 3)
    model = build_model(name, SHAPE, seed=1, **options).double()
    states = []
    config = TrainConfig(lr=lr, batch_size=512, max_epochs=25, patience=4)
    result = train_model(
        model, tr_idx, tr_y, va_idx, va_y, config, seed=0, track_influence=True, include_bias=True, parity=parity,
        epoch_callback=lambda e, m: states.append(copy.deepcopy(m.state_dict())),
    )
    e_star = result.best_epoch
    assert 0 < e_star
    last = e_star + 1 if parity and e_star < len(states) - 1 else e_star
    probe = build_model(name, SHAPE, seed=0, **options).double()
    want = torch.zeros(200, dtype=torch.float64)
    for state in states[:last]:
        probe.load_state_dict(state)
        want += cell_scores(probe, tr_idx, tr_y, va_idx, va_y, include_bias=True)
    torch.testing.assert_close(result.influence, want, rtol=1e-5, atol=1e-7 * float(want.abs().max()))
    # the returned model is the validation-selected state θ_e*
    for key, value in result.model.state_dict().items():
        torch.testing.assert_close(value, states[e_star][key])


def test_best_epoch_zero_gives_zero_influence():
    tr_idx, tr_y = _data(100, 4)
    va_idx, va_y = _data(30, 5)
    model = build_model("mlp", SHAPE, seed=0, layers=[6, 8]).double()
    result = train_model(model, tr_idx, tr_y, va_idx, va_y, TrainConfig(lr=1e3, max_epochs=5, patience=2),
                         track_influence=True)
    assert result.best_epoch == 0
    assert torch.equal(result.influence, torch.zeros(100, dtype=torch.float64))


def test_sigterm_checkpoint_resumes_bit_for_bit(tmp_path):
    import os
    import signal

    tr_idx, tr_y = _data(300, 6)
    va_idx, va_y = _data(60, 7)
    config = TrainConfig(lr=1e-2, batch_size=64, max_epochs=12, patience=50)
    kwargs = dict(seed=3, track_influence=True)
    full = train_model(build_model("mlp", SHAPE, seed=0, layers=[6, 16, 8]), tr_idx, tr_y, va_idx, va_y, config, **kwargs)

    def stop_at_5(epoch, model):
        if epoch == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    path = tmp_path / "ckpt.pt"
    first = train_model(build_model("mlp", SHAPE, seed=0, layers=[6, 16, 8]), tr_idx, tr_y, va_idx, va_y, config,
                        epoch_callback=stop_at_5, checkpoint_path=path, **kwargs)  # fmt: skip
    assert first.stop_reason == "interrupted" and path.exists()
    resumed = train_model(build_model("mlp", SHAPE, seed=9, layers=[6, 16, 8]), tr_idx, tr_y, va_idx, va_y, config,
                          checkpoint_path=path, **kwargs)  # fmt: skip
    assert resumed.stop_reason == full.stop_reason and resumed.best_epoch == full.best_epoch
    assert torch.equal(resumed.influence, full.influence)
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value)
    assert resumed.history["val_loss"] == full.history["val_loss"]


class _Killed(BaseException):
    """Stands in for ``kill -9``: nothing of the run after it is raised gets to happen."""


def test_a_checkpoint_outlives_its_resume_until_the_caller_removes_it(tmp_path):
    import os
    import signal

    tr_idx, tr_y = _data(120, 6)
    va_idx, va_y = _data(30, 7)
    config = TrainConfig(lr=1e-2, batch_size=64, max_epochs=6, patience=50)
    net = lambda: build_model("mlp", SHAPE, seed=0, layers=[6, 8])  # noqa: E731
    full = train_model(net(), tr_idx, tr_y, va_idx, va_y, config, seed=3)

    def stop_at(epoch_to_stop, action):
        def callback(epoch, model):
            if epoch == epoch_to_stop:
                action()
        return callback

    def kill():
        raise _Killed

    path = tmp_path / "ckpt.pt"
    train = lambda **kw: train_model(net(), tr_idx, tr_y, va_idx, va_y, config, seed=3, checkpoint_path=path, **kw)  # noqa: E731
    assert train(epoch_callback=stop_at(2, lambda: os.kill(os.getpid(), signal.SIGTERM))).stop_reason == "interrupted"
    saved = path.read_bytes()
    with pytest.raises(_Killed):  # the resume dies before its next checkpoint ...
        train(epoch_callback=stop_at(4, kill))
    assert path.read_bytes() == saved  # ... and the checkpoint it resumed from is still there, unchanged
    resumed = train()
    assert resumed.history == full.history and resumed.best_epoch == full.best_epoch
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    again = train(epoch_callback=stop_at(0, kill))  # a finished training's checkpoint: no epoch runs again
    assert again.stop_reason == full.stop_reason and again.n_steps == full.n_steps
    assert torch.equal(again.model.head.weight, full.model.head.weight)
    with pytest.raises(ValueError, match=r"ckpt.pt' was written for other data or settings \(differing: fingerprint\)"):
        train_model(net(), tr_idx, tr_y + 1, va_idx, va_y, config, seed=3, checkpoint_path=path)
    with pytest.raises(ValueError, match=r"differing: settings"):
        train_model(net(), tr_idx, tr_y, va_idx, va_y, config, seed=4, checkpoint_path=path)
