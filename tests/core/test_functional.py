"""FunctionalTucker, FunctionalCP and bases against the dense Tucker oracle."""

from __future__ import annotations

import pytest
import torch

from tensorkit.core import Basis, CPTensor, FunctionalCP, FunctionalTucker, IndexBasis, TuckerTensor
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


def _functional_cp(dtype: torch.dtype) -> tuple[FunctionalCP, list[torch.Tensor]]:
    """A CP tensor of rank 4 over index bases of widths (2, 3, 2) on a 5×6×7 grid, and the bases' matrices."""
    gen = torch.Generator().manual_seed(2)
    draw = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)  # noqa: E731
    if dtype.is_complex:
        draw = lambda *shape: torch.complex(torch.randn(*shape, generator=gen, dtype=torch.float64),  # noqa: E731
                                             torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)
    features = [draw(n, r) for n, r in zip((5, 6, 7), (2, 3, 2))]
    core = CPTensor(draw(4), [draw(r, 4) for r in (2, 3, 2)])
    return FunctionalCP(core, [IndexBasis(phi) for phi in features]), features


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
def test_functional_cp_equals_the_tucker_of_its_dense_core(dtype):
    f, features = _functional_cp(dtype)
    oracle = TuckerTensor(f.core.to_dense(), features).to_dense()  # the (r_1, r_2, r_3) core, formed
    idx = torch.cartesian_prod(*(torch.arange(n) for n in (5, 6, 7)))
    torch.testing.assert_close(f.at(idx.double()), oracle.reshape(-1))
    torch.testing.assert_close(f.to_dense([torch.arange(n) for n in (5, 6, 7)]), oracle)
    grid = f.on_grid([torch.tensor([4, 0]), torch.arange(6), torch.tensor([3])])
    assert isinstance(grid, CPTensor) and grid.rank == 4
    torch.testing.assert_close(grid.to_dense(), oracle[[4, 0]][:, :, [3]])
    tucker = FunctionalTucker(f.core.to_dense(), f.bases)
    torch.testing.assert_close(f(idx[:9].double()), tucker(idx[:9].double()))


def test_functional_cp_at_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorkit.core import tenalg

    f, _ = _functional_cp(torch.float64)
    gen = torch.Generator().manual_seed(1)
    idx = torch.stack([torch.randint(0, n, (50,), generator=gen) for n in (5, 6, 7)], 1)
    whole = f.at(idx)
    monkeypatch.setattr(tenalg, "BLOCK_ENTRIES", 4 * 3)  # 3 points per block
    torch.testing.assert_close(f.at(idx), whole, rtol=1e-14, atol=0)
    assert f.at(torch.zeros(0, 3)).shape == (0,)


def test_functional_cp_rejects_bad_input():
    core = CPTensor(torch.ones(2, dtype=torch.float64), [torch.eye(2, dtype=torch.float64)] * 2)
    with pytest.raises(TypeError, match="core must be a CPTensor"):
        FunctionalCP(core.to_dense(), [MonomialBasis(2), MonomialBasis(2)])
    with pytest.raises(ValueError, match="bases\\[1\\] has rank 3"):
        FunctionalCP(core, [MonomialBasis(2), MonomialBasis(3)])
    with pytest.raises(ValueError, match="2 modes but 1 bases"):
        FunctionalCP(core, [MonomialBasis(2)])
    f = FunctionalCP(core, [MonomialBasis(2), MonomialBasis(2)])
    with pytest.raises(ValueError, match="columns"):
        f.at(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="grids"):
        f.on_grid([torch.zeros(2)])
