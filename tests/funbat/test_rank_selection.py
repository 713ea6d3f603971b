"""select_ranks: recovers planted Tucker and CP ranks from gridded data with gaps; fallback; errors."""

import pytest
import torch

from tensorkit.core.cp import CPTensor
from tensorkit.core.tucker import TuckerTensor
from tensorkit.funbat import rank
from tensorkit.funbat.gap_boxes import BLOCK_FRACTION, MAX_BOX_FRACTION, box_extents, held_out_boxes
from tensorkit.funbat.rank import FALLBACK_RANK, select_ranks

SHAPE = (15, 18, 20)


def _on_grid(f, noise, observed, g):
    """Points of ``f`` (standardised) on a grid of random real coordinates, with noise and missing cells."""
    f = f / f.std()
    grids = [torch.sort(torch.rand(n, generator=g, dtype=torch.float64)).values for n in f.shape]
    X = torch.cartesian_prod(*grids)
    y = f.reshape(-1) + noise * torch.randn(f.numel(), generator=g, dtype=torch.float64)
    keep = torch.rand(f.numel(), generator=g) < observed
    return X[keep], y[keep]


def _planted_tucker(ranks, noise=0.05, observed=0.7, seed=0):
    """A Tucker tensor of multilinear rank ``ranks`` (Gaussian core, orthonormal factors)."""
    g = torch.Generator().manual_seed(seed)
    core = torch.randn(ranks, generator=g, dtype=torch.float64)
    factors = [torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64))[0] for n, r in zip(SHAPE, ranks)]
    return _on_grid(TuckerTensor(core, factors).to_dense(), noise, observed, g)


def _planted_cp(rank, noise=0.05, observed=0.7, seed=0):
    """A CP tensor of ``rank`` Gaussian components."""
    g = torch.Generator().manual_seed(seed)
    factors = [torch.randn(n, rank, generator=g, dtype=torch.float64) for n in SHAPE]
    return _on_grid(CPTensor(torch.ones(rank, dtype=torch.float64), factors).to_dense(), noise, observed, g)


@pytest.mark.parametrize("ranks", [(3, 3, 3), (2, 3, 4), (4, 2, 3)])
def test_recovers_planted_tucker_ranks_per_mode(ranks):
    X, y = _planted_tucker(ranks)
    assert select_ranks(X, y) == ranks


def test_recovers_planted_tucker_ranks_without_noise():
    X, y = _planted_tucker((2, 3, 4), noise=0.0)
    assert select_ranks(X, y) == (2, 3, 4)


def test_recovers_planted_cp_rank():
    X, y = _planted_cp(4)
    assert select_ranks(X, y, decomposition="cp") == (4, 4, 4)


def test_tucker_ranks_respect_max_rank():
    X, y = _planted_tucker((2, 3, 4))
    assert select_ranks(X, y, max_rank=3) == (2, 3, 3)


def test_one_mode_has_rank_one():
    X = torch.linspace(0, 1, 30, dtype=torch.float64)[:, None]
    y = torch.sin(6 * X[:, 0])
    assert select_ranks(X, y) == (1,)
    assert select_ranks(X, y, decomposition="cp") == (1,)


@pytest.mark.parametrize("decomposition", ["tucker", "cp"])
def test_scattered_points_get_the_fallback(decomposition):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 3, generator=g, dtype=torch.float64)
    y = torch.randn(200, generator=g, dtype=torch.float64)
    assert select_ranks(X, y, decomposition=decomposition) == (FALLBACK_RANK,) * 3


def test_too_few_points_get_the_fallback():
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    assert select_ranks(X, torch.tensor([1.0, -1.0], dtype=torch.float64)) == (FALLBACK_RANK,) * 2


def test_deterministic_and_inputs_untouched():
    X, y = _planted_tucker((2, 3, 4), noise=0.3, observed=0.5, seed=1)
    X0, y0 = X.clone(), y.clone()
    first = select_ranks(X, y, seed=7)
    assert select_ranks(X, y, seed=7) == first
    assert torch.equal(X, X0) and torch.equal(y, y0)


def _with_hole(X, y):
    """Drop every point whose modes 2..3 fall in a box (a gap present at every index of mode 1)."""
    grids = [torch.unique(X[:, k]) for k in range(3)]
    keep = ~((X[:, 1] >= grids[1][5]) & (X[:, 1] <= grids[1][9]) & (X[:, 2] >= grids[2][4]) & (X[:, 2] <= grids[2][10]))
    return X[keep], y[keep]


def test_block_split_holds_out_whole_boxes_of_the_later_modes():
    shape = (6, 20, 30)
    cells = torch.arange(6 * 20 * 30)
    held = held_out_boxes(shape, cells, 500, torch.Generator().manual_seed(0))
    assert held.numel() >= 500
    spatial = torch.zeros(20 * 30, dtype=torch.long).index_add_(0, cells[held] % 600, torch.ones_like(held))
    assert set(spatial.unique().tolist()) <= {0, 6}  # a held cell of modes 2..3 is held at every index of mode 1
    box_area = round(BLOCK_FRACTION * 20) * round(BLOCK_FRACTION * 30)
    assert int((spatial == 6).sum()) % box_area == 0 or int((spatial == 6).sum()) > box_area  # unions of whole boxes


def _cells_without(shape, *gaps):
    """Flat cells of a full grid minus the given boxes of modes 2..3, in every index of mode 1."""
    observed = torch.ones(shape, dtype=torch.bool)
    for gap in gaps:
        observed[(slice(None), *gap)] = False
    return torch.nonzero(observed.reshape(-1))[:, 0]


def test_boxes_take_the_extent_of_the_largest_never_observed_gap():
    shape = (6, 40, 60)
    cells = _cells_without(shape, (slice(3, 8), slice(10, 17)), (slice(30, 33), slice(50, 52)))
    assert box_extents(shape, cells) == (5, 7)
    held = held_out_boxes(shape, cells, 400, torch.Generator().manual_seed(0))
    spatial = torch.zeros(shape[1:], dtype=torch.bool)
    spatial.view(-1)[cells[held] % (40 * 60)] = True
    rows, cols = torch.nonzero(spatial).T
    first = (int(rows.min()), int(cols[rows == rows.min()].min()))  # a corner of the first box in C order
    assert spatial[first[0]:first[0] + 5, first[1]:first[1] + 7].all()


def test_boxes_are_capped_and_default_without_a_gap():
    shape = (4, 20, 40)
    assert box_extents(shape, _cells_without(shape, (slice(0, 15), slice(2, 4)))) == (round(MAX_BOX_FRACTION * 20), 2)
    assert box_extents(shape, _cells_without(shape)) == (round(BLOCK_FRACTION * 20), round(BLOCK_FRACTION * 40))


@pytest.mark.parametrize("ranks", [(2, 3, 4), (3, 3, 3)])
def test_block_split_recovers_planted_tucker_ranks(ranks):
    X, y = _with_hole(*_planted_tucker(ranks))
    assert select_ranks(X, y, split="blocks") == ranks


def test_auto_split_holds_out_blocks_only_when_the_later_modes_have_holes(monkeypatch):
    calls = []
    monkeypatch.setattr(rank, "held_out_boxes", lambda *args: calls.append(args) or held_out_boxes(*args))
    X, y = _planted_tucker((2, 3, 4))
    select_ranks(X, y)
    assert calls == []
    select_ranks(*_with_hole(X, y))
    assert len(calls) == rank.BLOCK_DRAWS


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"decomposition": "tt"}, ValueError, "decomposition"),
        ({"max_rank": 0}, ValueError, "max_rank"),
        ({"max_rank": 2.5}, TypeError, "max_rank"),
        ({"holdout": 0.0}, ValueError, "holdout"),
        ({"holdout": 1.0}, ValueError, "holdout"),
        ({"holdout": "10%"}, TypeError, "holdout"),
        ({"seed": 1.0}, TypeError, "seed"),
        ({"split": "rows"}, ValueError, "split"),
        ({"X": torch.zeros(4)}, ValueError, "X"),
        ({"X": torch.full((4, 2), float("nan"))}, ValueError, "X"),
        ({"y": torch.zeros(3)}, ValueError, "y=3"),
        ({"y": torch.zeros(4, 1)}, ValueError, "y"),
        ({"y": torch.tensor([0.0, float("inf"), 1.0, 2.0])}, ValueError, "y"),
        ({"y": torch.arange(4)}, TypeError, "y"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, name):
    args = {"X": torch.rand(4, 2, dtype=torch.float64), "y": torch.zeros(4, dtype=torch.float64), **kwargs}
    with pytest.raises(error, match=name):
        select_ranks(**args)
