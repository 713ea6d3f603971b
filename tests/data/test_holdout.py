"""The one splitter reproduces the streams that committed figures were drawn with."""

import numpy as np
import pytest
import torch

from tensorkit.data.holdout import holdout_mask, random_rows, random_split


@pytest.fixture
def observed():
    return np.random.default_rng(7).random((6, 9, 11)) < 0.8


@pytest.mark.parametrize("seed", [0, 3])
def test_permutation_is_the_torch_permutation_cut_at_rounded_cumulative_fractions(seed):
    n, fractions = 1003, (0.72, 0.18, 0.10)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    parts = random_split(np.ones(n, dtype=bool), fractions, seed)
    np.testing.assert_array_equal(np.concatenate(parts), perm)
    assert [len(p) for p in parts] == [722, 181, 100]


def test_random_rows_are_the_head_and_tail_of_the_torch_permutation():
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(9)).numpy()
    head, tail = random_rows(50, 7, 9)
    np.testing.assert_array_equal(head, perm[:7])
    np.testing.assert_array_equal(tail, perm[7:])
    np.testing.assert_array_equal(head, random_split(np.ones(50, dtype=bool), (7 / 50, 43 / 50), 9)[0])


@pytest.mark.parametrize("seed", [0, 5])
def test_choice_holds_out_numpy_choice_of_the_observed_cells(observed, seed):
    cells = np.flatnonzero(observed)
    expected = np.zeros(observed.shape, dtype=bool)
    expected.flat[np.random.default_rng(seed).choice(cells, max(1, round(0.03 * cells.size)), replace=False)] = True
    np.testing.assert_array_equal(holdout_mask(observed, 0.03, seed), expected)


@pytest.mark.parametrize("seed", [0, 2])
def test_bernoulli_holds_out_cells_whose_uniform_draw_is_below_the_fraction(observed, seed):
    expected = observed & (np.random.default_rng(seed).random(observed.shape) < 0.2)
    np.testing.assert_array_equal(holdout_mask(observed, 0.2, seed, draw="bernoulli"), expected)


@pytest.mark.parametrize("draw", ["permutation", "choice", "bernoulli"])
def test_parts_partition_the_observed_cells(observed, draw):
    parts = random_split(observed, (0.5, 0.3, 0.2), seed=1, draw=draw)
    together = np.sort(np.concatenate(parts))
    np.testing.assert_array_equal(together, np.flatnonzero(observed))
    sizes = np.array([len(p) for p in parts]) / observed.sum()
    np.testing.assert_allclose(sizes, (0.5, 0.3, 0.2), atol=0.1)


@pytest.mark.parametrize(
    "call, match",
    [(lambda o: random_split(o, (0.5, 0.6), 0), "fractions"), (lambda o: random_split(o, (1.0,), 0), "fractions"),
     (lambda o: random_split(o, (0.5, 0.5), 0, draw="bogus"), "draw"), (lambda o: holdout_mask(o, 1.0, 0), "fraction"),
     (lambda o: holdout_mask(o, True, 0, name="val_fraction"), "val_fraction"),
     (lambda o: holdout_mask(np.eye(1, dtype=bool), 0.5, 0), "of 1 observed cells leave none"),
     (lambda o: random_split(np.ones(2, dtype=bool), (0.1, 0.9), 0, draw="choice"), "none for the first"),
     (lambda o: random_rows(5, 5, 0), "size must lie in \\[1, 4\\]")],
)  # fmt: skip
def test_bad_arguments_are_named(observed, call, match):
    with pytest.raises(ValueError, match=match):
        call(observed)
