"""Grouped reductions over observed cells against the straightforward per-point sums (dense oracle)."""

import pytest
import torch

import tensorkit.core.sparse as sparse
import tensorkit.core.tenalg as tenalg
from tensorkit.core.sparse import SparseCells
from tensorkit.core.tenalg import contract_rows, contract_rows_diagonal, paired


def _points(shape, n, seed):
    g = torch.Generator().manual_seed(seed)
    indices = [torch.randint(0, s, (n,), generator=g) for s in shape]
    indices = [torch.cat([i, i[:5]]) for i in indices]  # repeated cells
    rows = [torch.randn(s, w, generator=g, dtype=torch.float64) for s, w in zip(shape, (3, 2, 4, 2)[: len(shape)])]
    weights = torch.randn(n + 5, generator=g, dtype=torch.float64)
    return indices, rows, weights


def _oracle(indices, rows, weights, mode, kronecker):
    gathered = [r[i] for r, i in zip(rows, indices)]
    prod = None
    for j, g in enumerate(gathered):
        if j == mode:
            continue
        if prod is None:
            prod = g
        elif kronecker:
            prod = (prod[:, :, None] * g[:, None, :]).reshape(g.shape[0], -1)
        else:
            prod = prod * g
    out = prod.new_zeros(rows[mode].shape[0], prod.shape[1])
    return out.index_add_(0, indices[mode], weights[:, None] * prod)


@pytest.mark.parametrize("shape", [(4, 5), (4, 3, 6), (3, 4, 2, 5)])
@pytest.mark.parametrize("block_entries", [tenalg.BLOCK_ENTRIES, 24])
def test_reductions_equal_per_point_sums(shape, block_entries, monkeypatch):
    monkeypatch.setattr(sparse, "BLOCK_ENTRIES", block_entries)  # blocks of a few cells: many blocks
    indices, rows, weights = _points(shape, 40, seed=len(shape))
    cells = SparseCells(indices, shape)
    for mode in range(len(shape)):
        expected = _oracle(indices, rows, weights, mode, kronecker=True)
        assert torch.allclose(cells.reduce(rows, mode, weights, kronecker=True), expected, rtol=1e-12, atol=1e-12)
        square = [torch.randn(s, 3, dtype=torch.float64) for s in shape]
        ones = torch.ones_like(weights)
        expected = _oracle(indices, square, ones, mode, kronecker=False)
        assert torch.allclose(cells.reduce(square, mode), expected, rtol=1e-12, atol=1e-12)


def test_hadamard_needs_equal_widths():
    indices, rows, _ = _points((4, 3, 6), 10, seed=0)
    with pytest.raises(ValueError, match="one width"):
        SparseCells(indices, (4, 3, 6)).reduce(rows, 0)


@pytest.mark.parametrize("block_entries", [tenalg.BLOCK_ENTRIES, 30])
def test_indexed_row_contractions_equal_gathered_rows(block_entries, monkeypatch):
    monkeypatch.setattr(tenalg, "BLOCK_ENTRIES", block_entries)
    g = torch.Generator().manual_seed(0)
    tables = [torch.randn(n, 3, generator=g, dtype=torch.float64) for n in (5, 4, 6)]
    indices = [torch.randint(0, t.shape[0], (50,), generator=g) for t in tables]
    gathered = [t[i] for t, i in zip(tables, indices)]
    core = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(contract_rows(core, tables, indices), contract_rows(core, gathered), rtol=1e-12)
    assert torch.allclose(contract_rows_diagonal(tables, indices), (gathered[0] * gathered[1] * gathered[2]).sum(1), rtol=1e-12)
    # second moments through the paired core: E[f²] = <E[W ⊗ W], ⊗_k M_k>
    second = torch.einsum("abc,def->abcdef", core, core)
    M = [torch.einsum("na,nb->nab", r, r).reshape(50, -1) for r in gathered]
    assert torch.allclose(contract_rows(paired(second), M), contract_rows(core, gathered) ** 2, rtol=1e-10)
