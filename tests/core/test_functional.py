"""FunctionalTucker and bases against the dense Tucker oracle."""

from __future__ import annotations

import pytest
import torch

from tensorkit.core import Basis, FunctionalTucker, IndexBasis, TuckerTensor
from tests.core.test_conformance import make_tucker


class MonomialBasis:
    """x ↦ (1, x, x², …): a real-coordinate basis for testing."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, None] ** torch.arange(self.rank, dtype=x.dtype)


def test_index_bases_reproduce_tucker():
    t = make_tucker((4, 5, 3), (2, 3, 2), torch.Generator().manual_seed(0))
    f = FunctionalTucker(t.core, [IndexBasis(u) for u in t.factors])
    idx = torch.tensor([[0, 1, 2], [3, 4, 0], [1, 1, 1]])
    torch.testing.assert_close(f(idx.double()), t.at(idx))
    grid = f.on_grid([torch.arange(n) for n in t.shape])
    assert isinstance(grid, TuckerTensor)
    torch.testing.assert_close(grid.to_dense(), t.to_dense())


def test_real_coordinate_basis_at_matches_grid():
    core = torch.randn(3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    f = FunctionalTucker(core, [MonomialBasis(3), MonomialBasis(2)])
    assert isinstance(f.bases[0], Basis)
    xs, ys = torch.linspace(-1, 1, 7, dtype=torch.float64), torch.linspace(0, 2, 5, dtype=torch.float64)
    dense = f.to_dense([xs, ys])
    pts = torch.cartesian_prod(xs, ys)
    torch.testing.assert_close(f.at(pts), dense.reshape(-1))
    # p(x, y) = sum_ij core[i, j] x^i y^j, evaluated directly
    x, y = pts[:, 0], pts[:, 1]
    direct = sum(core[i, j] * x**i * y**j for i in range(3) for j in range(2))
    torch.testing.assert_close(f.at(pts), direct)


def test_functional_rejects_bad_input():
    core = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="rank"):
        FunctionalTucker(core, [MonomialBasis(2), MonomialBasis(3)])
    with pytest.raises(TypeError, match="Basis"):
        FunctionalTucker(core, [MonomialBasis(2), object()])
    f = FunctionalTucker(core, [MonomialBasis(2), MonomialBasis(2)])
    with pytest.raises(ValueError, match="columns"):
        f.at(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        f.at(torch.full((1, 2), float("nan")))
    with pytest.raises(ValueError, match="grids"):
        f.on_grid([torch.zeros(2)])
    basis = IndexBasis(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="whole numbers"):
        basis(torch.tensor([0.5]))
    with pytest.raises(IndexError, match="x must lie"):
        basis(torch.tensor([3]))


def test_at_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorkit.core import tenalg

    tucker = make_tucker((5, 6, 7), (2, 3, 4), torch.Generator().manual_seed(0))
    f = FunctionalTucker(tucker.core, [IndexBasis(u) for u in tucker.factors])
    gen = torch.Generator().manual_seed(1)
    idx = torch.stack([torch.randint(0, n, (50,), generator=gen) for n in (5, 6, 7)], 1)
    whole = f.at(idx)
    monkeypatch.setattr(tenalg, "BLOCK_ENTRIES", 12 * 3)  # 3 points per block
    torch.testing.assert_close(f.at(idx), whole, rtol=1e-14, atol=0)
    torch.testing.assert_close(whole, tucker.at(idx))
