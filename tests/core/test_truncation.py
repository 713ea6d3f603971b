"""The core's one truncated HOSVD and HOOI sweep, against dense SVD oracles, for dense and CP input."""

from __future__ import annotations

import math

import pytest
import torch

from tensorkit.core import CPTensor, DenseTensor, TuckerTensor, hooi, hosvd, tucker_ranks_for_tol
from tensorkit.core.tenalg import unfold
from tensorkit.core.truncation import hooi_sweep, truncate
from tests.core.test_conformance import make_cp

SHAPE = (14, 11, 9)


@pytest.fixture
def cp():
    """A CP tensor with graded weights, so tolerances cut its modal spectra."""
    factors = make_cp(SHAPE, 8, torch.Generator().manual_seed(4)).factors
    return CPTensor(torch.logspace(0, -4, 8, dtype=torch.float64), factors)


def as_tucker_with_raw_factors(cp):
    """The same tensor as a Tucker tensor with a super-diagonal core and non-orthonormal factors."""
    core = torch.zeros((cp.rank,) * cp.ndim, dtype=cp.dtype)
    core[(torch.arange(cp.rank),) * cp.ndim] = cp.weights
    return TuckerTensor(core, cp.factors)


def signed_leading_vectors(x, k, r):
    u = torch.linalg.svd(unfold(x, k), full_matrices=False)[0][:, :r]
    return u * torch.sign(u.gather(0, u.abs().argmax(0, keepdim=True)))


def test_hosvd_factors_are_the_signed_leading_singular_vectors(cp):
    x, rank = cp.to_dense(), (3, 4, 2)
    t = hosvd(x, rank)
    for k, u in enumerate(t.factors):
        torch.testing.assert_close(u, signed_leading_vectors(x, k, rank[k]), rtol=0, atol=1e-10)
    core = torch.einsum("ijk,ia,jb,kc->abc", x, *t.factors)
    torch.testing.assert_close(t.core, core, rtol=0, atol=1e-12)


@pytest.mark.parametrize("tol", [1e-1, 1e-3])
def test_tolerance_rule_bounds_the_error_and_reports_it(cp, tol):
    x = cp.to_dense()
    cut = truncate(DenseTensor(x), tol=tol)
    error = float(torch.linalg.vector_norm(cut.tucker.to_dense() - x) / torch.linalg.vector_norm(x))
    assert error <= cut.relative_error_bound * (1 + 1e-9) <= tol
    assert min(cut.tucker.rank) < 8  # the tolerance did cut
    svals = [torch.linalg.svdvals(unfold(x, k)) for k in range(x.ndim)]
    for s, ours in zip(svals, cut.singular_values):
        torch.testing.assert_close(ours, s, rtol=0, atol=1e-12 * float(s[0]))
    # fewest values whose discarded tail is within tol·‖x‖/√d, mode by mode
    budget = tol * float(torch.linalg.vector_norm(x)) / math.sqrt(x.ndim)
    expected = tuple(min(r for r in range(1, len(s) + 1) if float(s[r:].norm()) <= budget) for s in svals)
    assert cut.tucker.rank == expected == tucker_ranks_for_tol(x, tol)


def test_rank_and_tolerance_take_the_smaller_rank(cp):
    x = DenseTensor(cp.to_dense())
    assert truncate(x, rank=(2, 9, 9), tol=1e-3).tucker.rank == (2, *truncate(x, tol=1e-3).tucker.rank[1:])


@pytest.mark.parametrize("rank, tol", [(None, 1e-4), ((3, 5, 2), None)])
@pytest.mark.parametrize("as_tucker", [False, True], ids=["cp", "tucker"])
def test_factored_input_equals_its_dense_oracle(cp, rank, tol, as_tucker):
    x = as_tucker_with_raw_factors(cp) if as_tucker else cp
    ours, dense = truncate(x, rank=rank, tol=tol), truncate(DenseTensor(cp.to_dense()), rank=rank, tol=tol)
    assert ours.tucker.rank == dense.tucker.rank
    for a, b in zip(ours.tucker.factors, dense.tucker.factors):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    torch.testing.assert_close(ours.tucker.core, dense.tucker.core, rtol=0, atol=1e-9)
    assert ours.relative_error_bound == pytest.approx(dense.relative_error_bound, rel=1e-8, abs=1e-14)


def test_rhosvd_bound_is_the_true_error_and_needs_cp_input(cp):
    cut = truncate(cp, tol=1e-2, rule="rhosvd")
    x = cp.to_dense()
    true = float(torch.linalg.vector_norm(cut.tucker.to_dense() - x) / torch.linalg.vector_norm(x))
    assert cut.relative_error_bound == pytest.approx(true, rel=1e-6)
    with pytest.raises(ValueError, match="CP input only"):
        truncate(DenseTensor(x), tol=1e-2, rule="rhosvd")


def test_hooi_sweep_on_cp_equals_dense_and_hooi(cp):
    x = cp.to_dense() + 0.05 * torch.randn(SHAPE, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    start = hosvd(x, (3, 3, 3)).factors
    dense = DenseTensor(x)
    two = hooi_sweep(dense, hooi_sweep(dense, start).factors)
    reference = hooi(x, (3, 3, 3), n_iter_max=2, tol_iter=0.0)
    torch.testing.assert_close(two.to_dense(), reference.to_dense(), rtol=0, atol=1e-12)
    exact = CPTensor(cp.weights, cp.factors)
    start = hosvd(cp.to_dense(), (3, 3, 3)).factors
    torch.testing.assert_close(hooi_sweep(exact, start).to_dense(), hooi_sweep(DenseTensor(cp.to_dense()), start).to_dense(),
                               rtol=0, atol=1e-10)
