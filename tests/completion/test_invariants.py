"""Acceptance A4: invariants of entity importance, sampling, labelling and the estimator."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.completion import DAIN, cell_keys, entity_importance, rmse, sample_cells, sampling_distribution

SHAPE = (12, 10, 9)  # the last entity of every mode never occurs in the data below


def _tensor(n=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, s - 1, (n,), generator=g) for s in SHAPE], 1)
    idx = torch.unique(idx, dim=0)
    f = [torch.randn(s, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64) for s in SHAPE]
    y = (f[0][idx[:, 0]] * f[1][idx[:, 1]] * f[2][idx[:, 2]]).sum(1) + 3.0
    return idx, y


SMALL = dict(model_options={"layers": [24, 32, 16]}, max_epochs=20, patience=5, batch_size=128)


@pytest.fixture(scope="module")
def fitted():
    idx, y = _tensor()
    return DAIN("mlp", sampler="influence", seed=0, **SMALL).fit(idx, y, shape=SHAPE)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**31 - 1), st.sampled_from(["abs", "positive"]))
def test_entity_importance_is_a_distribution(n, seed, transform):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, s - 1, (n,), generator=g) for s in SHAPE], 1)
    scores = torch.randn(n, generator=g, dtype=torch.float64)
    scores[0] = abs(scores[0]) + 0.1  # at least one proponent
    for k, p in enumerate(entity_importance(scores, idx, SHAPE, transform)):
        assert p.shape == (SHAPE[k],)
        assert (p >= 0).all()
        assert abs(float(p.sum()) - 1) < 1e-9
        assert p[-1] == 0  # unseen entity
        absent = torch.bincount(idx[:, k], minlength=SHAPE[k]) == 0
        assert (p[absent] == 0).all()


def test_entity_importance_matches_bruteforce():
    idx, _ = _tensor(60)
    scores = torch.randn(idx.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = entity_importance(scores, idx, SHAPE)
    for k in range(3):
        want = torch.tensor([scores[idx[:, k] == i].abs().sum() for i in range(SHAPE[k])]) / scores.abs().sum()
        torch.testing.assert_close(got[k], want, rtol=1e-12, atol=0)


def test_degenerate_scores_fall_back_or_raise():
    idx, _ = _tensor(50)
    zeros = torch.zeros(idx.shape[0], dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="falling back"):
        probs = entity_importance(zeros, idx, SHAPE)
    assert all(torch.isfinite(p).all() and abs(float(p.sum()) - 1) < 1e-9 for p in probs)
    with pytest.raises(ValueError, match="degenerate"):
        entity_importance(zeros, idx, SHAPE, fallback="raise")
    with pytest.raises(ValueError, match="degenerate"):
        entity_importance(torch.full_like(zeros, float("nan")), idx, SHAPE, fallback="raise")


def test_sampling_respects_support_dedup_exclusion_and_seed():
    idx, _ = _tensor()
    probs = sampling_distribution("frequency", idx, SHAPE)
    plain = sample_cells(probs, 400, torch.Generator().manual_seed(3))
    again = sample_cells(probs, 400, torch.Generator().manual_seed(3))
    assert torch.equal(plain, again)
    assert plain.shape == (400, 3)
    for k, s in enumerate(SHAPE):
        assert plain[:, k].min() >= 0 and plain[:, k].max() < s - 1  # never an unseen entity
    new = sample_cells(probs, 200, torch.Generator().manual_seed(3), dedup=True, exclude=idx)
    keys = cell_keys(new, SHAPE)
    assert keys.unique().numel() == 200
    assert not torch.isin(keys, cell_keys(idx, SHAPE)).any()
    tiny = [torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])]
    with pytest.raises(RuntimeError, match="could not draw"):
        sample_cells(tiny, 3, torch.Generator().manual_seed(0), dedup=True)


def test_uniform_sampler_covers_seen_entities():
    idx, _ = _tensor(30)
    for k, p in enumerate(sampling_distribution("uniform", idx, SHAPE)):
        seen = torch.bincount(idx[:, k], minlength=SHAPE[k]) > 0
        torch.testing.assert_close(p, seen.double() / seen.sum())
    assert all(torch.allclose(p, torch.full_like(p, 1 / len(p))) for p in
               sampling_distribution("uniform", idx, SHAPE, all_entities=True))  # fmt: skip


def test_estimator_invariants(fitted):
    n_train = fitted.train_indices_.shape[0]
    assert fitted.augmented_indices_.shape == (math.floor(0.5 * n_train), 3)
    assert fitted.augmented_values_.shape == (math.floor(0.5 * n_train),)
    for k, p in enumerate(fitted.entity_importance_):
        assert (p >= 0).all() and abs(float(p.sum()) - 1) < 1e-9 and p[-1] == 0
    fitted.base_model_.eval()
    with torch.no_grad():
        labels = fitted.base_model_(fitted.augmented_indices_)
    assert torch.equal(fitted.augmented_values_, labels)  # labels are the selected Step-1 model's outputs
    assert fitted.model_ is not fitted.base_model_
    assert fitted.base_result_.best_epoch > 0
    assert fitted.influence_.shape == (n_train,) and fitted.influence_.dtype == torch.float64


def test_selected_checkpoint_has_the_best_validation_loss(fitted):
    from tensorkit.completion import validation_pass

    val = validation_pass(fitted.base_model_, fitted.val_indices_, fitted.val_values_.float(), with_gradient=False)
    assert val.loss == pytest.approx(min(fitted.base_result_.history["val_loss"]), rel=1e-6)
    assert val.loss == pytest.approx(fitted.base_result_.history["val_loss"][fitted.base_result_.best_epoch], rel=1e-6)


def test_fixed_seed_is_bit_identical(fitted):
    idx, y = _tensor()
    again = DAIN("mlp", sampler="influence", seed=0, **SMALL).fit(idx, y, shape=SHAPE)
    assert torch.equal(again.augmented_indices_, fitted.augmented_indices_)
    assert torch.equal(again.augmented_values_, fitted.augmented_values_)
    assert torch.equal(again.predict(idx), fitted.predict(idx))
    other = DAIN("mlp", sampler="influence", seed=1, **{**SMALL, "max_epochs": 3}).fit(idx, y, shape=SHAPE)
    assert not torch.equal(other.augmented_indices_, fitted.augmented_indices_)


def test_arms_share_step1_and_none_skips_augmentation(fitted):
    none = fitted.with_arm("none")
    assert none.model_ is fitted.base_model_ and none.augmented_indices_.shape == (0, 3)
    const = fitted.with_arm("influence", "constant")
    assert torch.equal(const.augmented_indices_, fitted.augmented_indices_)  # same cells, other labels
    assert torch.allclose(const.augmented_values_, torch.full_like(const.augmented_values_, float(fitted.train_values_.mean())))
    uniform = fitted.with_arm("uniform")
    assert uniform.base_model_ is fitted.base_model_


def test_exclude_observed_and_dedup_in_estimator():
    idx, y = _tensor()
    est = DAIN("cp", seed=0, dedup=True, exclude_observed=True, model_options={"rank": 2}, max_epochs=10).fit(idx, y, shape=SHAPE)
    keys = cell_keys(est.augmented_indices_, SHAPE)
    assert keys.unique().numel() == keys.numel()
    observed = cell_keys(torch.cat([est.train_indices_, est.val_indices_]), SHAPE)
    assert not torch.isin(keys, observed).any()


def test_best_epoch_zero_falls_back_without_nan():
    idx, y = _tensor(200)
    with pytest.warns(RuntimeWarning, match="falling back"):
        est = DAIN("mlp", seed=0, lr=1e3, max_epochs=4, patience=2, model_options={"layers": [6, 8]}).fit(idx, y, shape=SHAPE)
    assert est.base_result_.best_epoch == 0
    assert all(torch.isfinite(p).all() for p in est.entity_importance_)
    with pytest.raises(ValueError, match="degenerate"):
        DAIN("mlp", seed=0, lr=1e3, max_epochs=4, patience=2, fallback="raise", model_options={"layers": [6, 8]}).fit(idx, y, shape=SHAPE)


def test_rmse_is_root_of_mse():
    pred, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 0.0, 0.0])
    assert rmse(pred, target) == pytest.approx(math.sqrt((0 + 4 + 16) / 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "svd"}, ValueError, "model"),
        ({"sampler": "random"}, ValueError, "sampler"),
        ({"augment_ratio": -0.5}, ValueError, "augment_ratio"),
        ({"labeler": "mean"}, ValueError, "labeler"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
    ],
)
def test_constructor_rejects_bad_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        DAIN(**kwargs)


def test_fit_and_predict_reject_bad_input(fitted):
    idx, y = _tensor(40)
    with pytest.raises(ValueError, match="values"):
        DAIN().fit(idx, torch.full((idx.shape[0],), float("nan")))
    with pytest.raises(ValueError, match="mismatched"):
        DAIN().fit(idx, y[:-1])
    with pytest.raises(IndexError, match="indices"):
        DAIN().fit(idx, y, shape=(3, 3, 3))
    with pytest.raises(TypeError, match="indices"):
        DAIN().fit(idx.double(), y)
    with pytest.raises(RuntimeError, match="not fitted"):
        DAIN().predict(idx)
    with pytest.raises(ValueError, match="columns"):
        fitted.predict(idx[:, :2])
    with pytest.raises(ValueError, match="layers"):
        DAIN(model_options={"layers": [10, 8]}).fit(idx, y, shape=SHAPE)


def test_interrupted_fit_resumes_to_the_same_result(tmp_path):
    import os
    import signal

    from tensorkit.completion import MLP

    class SignalAfter(MLP):
        calls = 0

        def features(self, idx):
            SignalAfter.calls += 1
            if SignalAfter.calls == 25:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().features(idx)

    def factory(shape, seed):
        torch.manual_seed(seed)
        return SignalAfter(shape, layers=[24, 32, 16])

    idx, y = _tensor()
    options = dict(max_epochs=12, patience=5, batch_size=128)
    SignalAfter.calls = 0
    with pytest.raises(InterruptedError, match="nothing saved"):
        DAIN(factory, seed=0, **options).fit(idx, y, shape=SHAPE)
    SignalAfter.calls = 10**6
    with torch.random.fork_rng():
        full = DAIN(factory, seed=0, **options).fit(idx, y, shape=SHAPE)
    SignalAfter.calls = 0
    est = DAIN(factory, seed=0, checkpoint_path=tmp_path / "run", **options)
    with torch.random.fork_rng():
        with pytest.raises(InterruptedError, match="resume"):
            est.fit(idx, y, shape=SHAPE)
        assert (tmp_path / "run.step1.pt").exists()
        SignalAfter.calls = 10**6  # no further signal
        est.fit(idx, y, shape=SHAPE)
    assert torch.equal(est.influence_, full.influence_)
    assert torch.equal(est.augmented_indices_, full.augmented_indices_)
    assert torch.equal(est.predict(idx), full.predict(idx))
