"""Decompositions against tensorly and exact low-rank truths."""

from __future__ import annotations

import pytest
import tensorly as tl
import torch
from tensorly.datasets import load_kinetic
from tensorly.decomposition import parafac, tensor_train, tucker

from tensorkit.core import cp_als, hooi, hosvd, truncation, tt_svd, tucker_ranks_for_tol
from tests.core.test_conformance import make_cp, make_tt, make_tucker

SHAPE, RANK = (12, 10, 8), (3, 4, 2)


@pytest.fixture
def low_rank():
    return make_tucker(SHAPE, RANK, torch.Generator().manual_seed(1)).to_dense()


@pytest.fixture
def noisy(low_rank):
    return low_rank + 0.1 * low_rank.std() * torch.randn(SHAPE, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def rel_err(approx, x):
    return float(torch.linalg.vector_norm(approx - x) / torch.linalg.vector_norm(x))


def tensorly_tucker_error(x, rank, **kw):
    with tl.backend_context("pytorch"):
        core, factors = tucker(x, rank=list(rank), n_iter_max=100, **kw)
        return tl.tucker_to_tensor((core, factors))


def test_hooi_matches_tensorly_on_exact_low_rank(low_rank):
    ours = rel_err(hooi(low_rank, RANK).to_dense(), low_rank)
    theirs = rel_err(tensorly_tucker_error(low_rank, RANK), low_rank)
    assert ours < 1e-10 and abs(ours - theirs) < 1e-6


def test_hooi_not_worse_than_tensorly_on_noisy(noisy):
    ours = rel_err(hooi(noisy, RANK).to_dense(), noisy)
    theirs = rel_err(tensorly_tucker_error(noisy, RANK), noisy)
    assert ours <= 1.01 * theirs


def test_hooi_factors_orthonormal_and_errors_monotone(noisy):
    t, errors = hooi(noisy, RANK, return_errors=True)
    for u in t.factors:
        torch.testing.assert_close(u.mT @ u, torch.eye(u.shape[1], dtype=u.dtype))
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:]))
    assert errors[-1] == pytest.approx(rel_err(t.to_dense(), noisy), rel=1e-8)


def test_hooi_improves_on_hosvd(noisy):
    assert rel_err(hooi(noisy, RANK).to_dense(), noisy) <= rel_err(hosvd(noisy, RANK).to_dense(), noisy) + 1e-12


@pytest.mark.parametrize("tol", [1e-1, 1e-3])
def test_tol_picks_ranks_meeting_the_error(noisy, tol):
    t = hooi(noisy, tol=tol)
    assert rel_err(t.to_dense(), noisy) <= tol
    # one rank smaller in any mode breaks the HOSVD bound of that mode
    assert t.rank == tucker_ranks_for_tol(noisy, tol)


def test_tol_recovers_exact_ranks(low_rank):
    assert hooi(low_rank, tol=1e-8).rank == RANK


def test_masked_hooi_recovers_exact_low_rank(low_rank):
    mask = torch.rand(SHAPE, generator=torch.Generator().manual_seed(3)) < 0.6
    t, errors = hooi(torch.where(mask, low_rank, float("nan")), RANK, mask=mask, n_iter_max=500, return_errors=True)
    assert errors[-1] < 1e-4  # error on observed entries
    assert rel_err(t.to_dense()[~mask], low_rank[~mask]) < 1e-3


def test_masked_hooi_matches_or_beats_tensorly_on_kinetic():
    data = load_kinetic()
    x = torch.tensor(data.tensor)
    observed = ~torch.tensor(data.missing_values_position)
    held = (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) < 0.1) & observed
    train = observed & ~held
    rank = (3, 3, 3, 3)
    ours = hooi(torch.where(train, x, float("nan")), rank, mask=train).to_dense()
    theirs = tensorly_tucker_error(torch.where(train, x, 0.0), rank, mask=train.double())
    rmse = lambda rec: float((rec - x)[held].pow(2).mean().sqrt())  # noqa: E731
    assert rmse(ours) <= rmse(theirs) * 1.001


def test_cp_als_recovers_exact_cp_and_beats_tensorly_on_noise():
    x = make_cp(SHAPE, 3, torch.Generator().manual_seed(4)).to_dense()
    cp, errors = cp_als(x, 3, n_iter_max=500, tol=1e-14, return_errors=True)
    assert errors[-1] < 1e-6
    noisy = x + 0.05 * x.std() * torch.randn(SHAPE, generator=torch.Generator().manual_seed(5), dtype=x.dtype)
    ours = rel_err(cp_als(noisy, 3, n_iter_max=200).to_dense(), noisy)
    with tl.backend_context("pytorch"):
        theirs = rel_err(tl.cp_to_tensor(parafac(noisy, 3, n_iter_max=200, init="svd")), noisy)
    assert ours <= 1.01 * theirs


def test_masked_cp_als_fills_missing_entries():
    x = make_cp(SHAPE, 2, torch.Generator().manual_seed(6)).to_dense()
    mask = torch.rand(SHAPE, generator=torch.Generator().manual_seed(7)) < 0.5
    cp = cp_als(torch.where(mask, x, float("nan")), 2, mask=mask, n_iter_max=1000, tol=1e-14)
    assert rel_err(cp.to_dense()[~mask], x[~mask]) < 1e-3


def test_cp_als_is_deterministic_per_seed(noisy):
    a = cp_als(noisy, 4, init="random", seed=3, n_iter_max=5).to_dense()
    b = cp_als(noisy, 4, init="random", seed=3, n_iter_max=5).to_dense()
    c = cp_als(noisy, 4, init="random", seed=4, n_iter_max=5).to_dense()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_tt_svd_exact_ranks_and_tolerance():
    x = make_tt((6, 5, 4, 3), 2, torch.Generator().manual_seed(8)).to_dense()
    tt = tt_svd(x, tol=1e-10)
    assert tt.rank == (1, 2, 2, 2, 1) and rel_err(tt.to_dense(), x) < 1e-10
    noisy = x + 0.1 * x.std() * torch.randn(x.shape, generator=torch.Generator().manual_seed(9), dtype=x.dtype)
    assert rel_err(tt_svd(noisy, tol=0.05).to_dense(), noisy) <= 0.05
    with tl.backend_context("pytorch"):
        theirs = rel_err(tl.tt_to_tensor(tensor_train(noisy, rank=[1, 2, 2, 2, 1])), noisy)
    assert rel_err(tt_svd(noisy, rank=2).to_dense(), noisy) == pytest.approx(theirs, rel=1e-8)


def test_decompositions_follow_device_and_dtype(device, low_rank):
    x = low_rank.to(device=device, dtype=torch.float32)
    for fmt in (hooi(x, RANK), cp_als(x, 3, n_iter_max=3), tt_svd(x, rank=2)):
        assert fmt.device.type == device.type and fmt.dtype == torch.float32


def _planted(m, n, singular_values, seed):
    gen = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(m, m, generator=gen, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(n, m, generator=gen, dtype=torch.float64))[0]
    return (u * torch.as_tensor(singular_values, dtype=torch.float64)) @ v.mT


@pytest.mark.parametrize("spectrum, gram", [(torch.linspace(3, 1, 20), True), (torch.logspace(0, -8, 20), False)])
def test_leading_vectors_gram_path_matches_svd(monkeypatch, spectrum, gram):
    a = _planted(20, 400, spectrum, seed=10)
    u = torch.linalg.svd(a, full_matrices=False)[0][:, :5]
    u = u * torch.sign(u.gather(0, u.abs().argmax(0, keepdim=True)))
    calls = []
    monkeypatch.setattr(truncation, "thin_svd", lambda m: calls.append(m) or torch.linalg.svd(m, full_matrices=False))
    torch.testing.assert_close(truncation.leading_left_singular_vectors(a, 5), u, rtol=0, atol=1e-10)
    assert (not calls) == gram  # ill-conditioned kept spectrum: exact SVD


@pytest.mark.parametrize("exact", [False, True])
def test_unmasked_error_identity_matches_dense_error(low_rank, noisy, exact):
    x = low_rank if exact else noisy
    t, t_err = hooi(x, RANK, n_iter_max=3, tol_iter=0.0, return_errors=True)
    cp, cp_err = cp_als(x, 3, n_iter_max=3, tol=0.0, return_errors=True)
    for fit, errors in ((t, t_err), (cp, cp_err)):
        assert errors[-1] == pytest.approx(rel_err(fit.to_dense(), x), rel=1e-10, abs=1e-14)
    assert t_err[-1] < 1e-13 if exact else t_err[-1] > 1e-3  # exact fits fall back to the dense residual


def test_tt_svd_cores_equal_tensorlys():
    x = torch.randn(12, 10, 8, 6, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    with tl.backend_context("pytorch"):
        theirs = tensor_train(x, rank=[1, 5, 6, 4, 1]).factors
    for ours, core in zip(tt_svd(x, rank=[1, 5, 6, 4, 1]).cores, theirs):
        torch.testing.assert_close(ours, core, rtol=0, atol=1e-12)
