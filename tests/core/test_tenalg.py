"""Tensor-algebra primitives against einsum / explicit unfoldings."""

from __future__ import annotations

import pytest
import torch

from tensorkit.core import tenalg
from tensorkit.core.decompose import _mttkrp, _right_contractions
from tensorkit.core.tenalg import khatri_rao, mode_dot, unfold

SHAPE = (4, 5, 6, 3)
LETTERS = "abcd"


@pytest.mark.parametrize("mode", [0, 1, 2, 3, -1])
@pytest.mark.parametrize("contiguous", [True, False])
def test_mode_dot_matches_einsum(mode, contiguous):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(SHAPE if contiguous else SHAPE[::-1], generator=gen, dtype=torch.float64)
    x = x if contiguous else x.permute(3, 2, 1, 0)
    assert x.shape == SHAPE and x.is_contiguous() == contiguous
    m = torch.randn(7, SHAPE[mode], generator=gen, dtype=torch.float64)
    k = mode % len(SHAPE)
    expected = torch.einsum(f"z{LETTERS[k]},{LETTERS}->{LETTERS[:k]}z{LETTERS[k + 1:]}", m, x)
    torch.testing.assert_close(mode_dot(x, m, mode), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", range(len(SHAPE)))
def test_mttkrp_matches_unfolding_times_khatri_rao(mode):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
    factors = [torch.randn(n, 4, generator=gen, dtype=torch.float64) for n in SHAPE]
    expected = unfold(x, mode) @ khatri_rao([u for j, u in enumerate(factors) if j != mode])
    right = _right_contractions(x, factors)[mode]
    torch.testing.assert_close(_mttkrp(x, factors, mode, right), expected, rtol=1e-13, atol=1e-13)


def test_contract_rows_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(0)
    core = torch.randn(3, 4, 5, dtype=torch.float64, generator=g)
    rows = [torch.randn(101, r, dtype=torch.float64, generator=g, requires_grad=True) for r in core.shape]
    whole = tenalg.contract_rows(core, rows)
    whole_grads = torch.autograd.grad(whole.square().sum(), rows)
    monkeypatch.setattr(tenalg, "BLOCK_ENTRIES", 7 * 20)  # 7 points per block, 15 blocks (the last partial)
    assert tenalg.contraction_chunk(core) == 7
    blocked = tenalg.contract_rows(core, rows)
    torch.testing.assert_close(blocked, whole, rtol=1e-14, atol=0)
    for a, b in zip(torch.autograd.grad(blocked.square().sum(), rows), whole_grads):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
    dense = torch.einsum("abc,na,nb,nc->n", core, *rows)
    torch.testing.assert_close(blocked, dense)


def test_ravel_and_unravel_index_match_numpy():
    import numpy as np

    shape = (4, 1, 7, 3)
    idx = torch.stack([torch.randint(0, n, (50,), generator=torch.Generator().manual_seed(n)) for n in shape], 1)
    flat = tenalg.ravel_index(idx, shape)
    assert flat.dtype == torch.int64
    np.testing.assert_array_equal(flat.numpy(), np.ravel_multi_index(tuple(idx.T.numpy()), shape))
    assert torch.equal(tenalg.unravel_index(flat, shape), idx)
    with pytest.raises(ValueError, match="too many cells"):
        tenalg.ravel_index(idx, (2**32, 2**31, 1, 1))


@pytest.mark.parametrize("ranks", [(3,), (3, 4), (3, 4, 2, 5)])
def test_row_products_and_adjoint_match_einsum(monkeypatch: pytest.MonkeyPatch, ranks) -> None:
    g = torch.Generator().manual_seed(2)
    rows = [torch.randn(53, r, dtype=torch.float64, generator=g) for r in ranks]
    values = torch.randn(53, dtype=torch.float64, generator=g)
    letters = LETTERS[: len(ranks)]
    spec = ",".join(f"n{c}" for c in letters)
    kron = torch.einsum(f"{spec}->n{letters}", *rows).reshape(53, -1)
    torch.testing.assert_close(tenalg.kronecker_rows(rows), kron, rtol=1e-14, atol=0)
    adjoint = torch.einsum(f"n,{spec}->{letters}", values, *rows)
    torch.testing.assert_close(tenalg.contract_rows_adjoint(values, rows), adjoint, rtol=1e-13, atol=1e-13)
    monkeypatch.setattr(tenalg, "BLOCK_ENTRIES", 5)  # blocks of a few points, the last partial
    torch.testing.assert_close(tenalg.contract_rows_adjoint(values, rows), adjoint, rtol=1e-13, atol=1e-13)
    # the adjoint of the gather: <values, contract_rows(core, rows)> = <contract_rows_adjoint(values, rows), core>
    core = torch.randn(ranks, dtype=torch.float64, generator=g)
    torch.testing.assert_close(values @ tenalg.contract_rows(core, rows),
                               (tenalg.contract_rows_adjoint(values, rows) * core).sum())
    same = [rows[0][:, :3]] * len(ranks)  # CP: equal widths
    torch.testing.assert_close(tenalg.hadamard_rows(same), torch.einsum(f"{','.join('nr' for _ in ranks)}->nr", *same))
