"""Gap-fill baselines and masks of tensorkit.baselines against exact truths."""

import numpy as np
import pytest

import tensorkit.baselines as B

LAT = np.array([60.0, 57.5, 52.0, 50.0, 41.0, 40.0, 33.5, 30.0])  # descending, uneven
LON = np.array([200.0, 202.5, 205.0, 210.0, 211.0, 215.0, 222.0, 224.0, 230.0, 231.0])


def _linear_field(t: int = 4) -> np.ndarray:
    """Linear in lat and lon (in degrees) with a different offset in every time step."""
    return 3.0 + np.arange(t)[:, None, None] + 0.5 * LAT[None, :, None] - 0.2 * LON[None, None, :]


def _planted_rank2(noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 40)
    time = np.stack([np.sin(2 * np.pi * t), np.cos(3 * np.pi * t)], axis=1)  # (40, 2)
    space = rng.standard_normal((2, 12 * 15))
    field = 280.0 + rng.standard_normal(12 * 15) + 3.0 * time @ space
    return (field + noise * rng.standard_normal(field.shape)).reshape(40, 12, 15)


def test_random_mask_hides_the_stated_share_of_observed_cells():
    observed = np.ones((5, 6, 7), dtype=bool)
    observed[:, 0, :3] = False  # "land"
    hidden = B.random_mask(observed.shape, 0.2, seed=3, observed=observed)
    assert hidden.dtype == bool and hidden.shape == observed.shape
    assert hidden.sum() == round(0.2 * observed.sum())
    assert not (hidden & ~observed).any()
    assert np.array_equal(hidden, B.random_mask(observed.shape, 0.2, seed=3, observed=observed))
    assert not np.array_equal(hidden, B.random_mask(observed.shape, 0.2, seed=4, observed=observed))
    cells = np.flatnonzero(observed)  # the draw the gap-fill table's random masks were made with
    former = np.zeros(observed.shape, dtype=bool)
    former.flat[np.random.default_rng(3).choice(cells, round(0.2 * cells.size), replace=False)] = True
    assert np.array_equal(hidden, former)


def test_block_mask_hides_the_centred_box_in_every_step():
    shape = (3, 8, 20)
    assert B.default_box(shape) == (slice(3, 5), slice(7, 12))  # round(0.25 * 8) = 2, round(0.25 * 20) = 5
    observed = np.ones(shape, dtype=bool)
    observed[1, 4, 9] = False
    hidden = B.block_mask(shape, observed=observed)
    expected = np.zeros(shape, dtype=bool)
    expected[:, 3:5, 7:12] = True
    expected[1, 4, 9] = False  # not observed, so not hidden
    assert np.array_equal(hidden, expected)
    custom = B.block_mask(shape, box=(slice(0, 1), slice(18, None)))
    assert custom.sum() == 3 * 1 * 2 and custom[:, 0, 18:].all()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: B.random_mask((2, 3, 4), 1.5), ValueError),
        (lambda: B.random_mask((2, 3), 0.2), ValueError),
        (lambda: B.random_mask((2, 3, 4), 0.2, observed=np.ones((2, 3, 4))), TypeError),
        (lambda: B.block_mask((2, 3, 4), box=(slice(2, 2), slice(0, 1))), ValueError),
        (lambda: B.block_mask((2, 3, 4), box=(0, 1)), TypeError),
        (lambda: B.neighbour_mean([[[1.0]]]), TypeError),
        (lambda: B.neighbour_mean(np.ones((3, 4))), ValueError),
        (lambda: B.neighbour_mean(np.full((1, 2, 2), np.nan)), ValueError),
        (lambda: B.griddata_linear(np.ones((1, 8, 10)), LAT[:-1], LON), ValueError),
        (lambda: B.dineof(np.ones((4, 3, 3)), max_rank=0), ValueError),
        (lambda: B.masked_tucker(np.ones((4, 3, 3)), rank=(5, 1, 1)), ValueError),
        (lambda: B.masked_tucker(np.ones((4, 3, 3)), validation=np.ones((4, 3, 3))), TypeError),
        (lambda: B.masked_tucker(np.ones((4, 3, 3)), validation=np.ones((4, 3, 3), dtype=bool)), ValueError),
    ],
)
def test_bad_input_names_the_argument(call, error):
    with pytest.raises(error):
        call()


def test_griddata_is_exact_on_a_field_linear_in_lat_and_lon():
    truth = _linear_field()
    hidden = B.random_mask(truth.shape, 0.3, seed=0)
    hidden[:, [0, 0, -1, -1], [0, -1, 0, -1]] = False  # corners observed: the hull is the whole grid
    filled = B.griddata_linear(np.where(hidden, np.nan, truth), LAT, LON)
    np.testing.assert_allclose(filled, truth, rtol=0, atol=1e-9)


def test_griddata_falls_back_to_the_nearest_cell_outside_the_hull():
    values = np.full((1, 8, 10), np.nan)
    values[0, 2:5, 2:5] = 7.0
    values[0, 3, 3] = 9.0
    filled = B.griddata_linear(values, LAT, LON)
    assert filled[0, 0, 0] == 7.0 and np.isfinite(filled).all()


def test_neighbour_mean_is_exact_at_interior_cells_of_a_field_linear_along_each_axis():
    t, i, j = np.meshgrid(np.arange(4), np.arange(8), np.arange(10), indexing="ij")
    truth = 2.0 + 0.3 * t - 1.5 * i + 0.25 * j
    hidden = (i % 2 == 1) & (j % 2 == 1) & (i < 7) & (j < 9)  # interior; all 4 neighbours observed
    filled = B.neighbour_mean(np.where(hidden, np.nan, truth))
    np.testing.assert_allclose(filled, truth, rtol=0, atol=1e-12)


def test_neighbour_mean_grows_into_gaps_and_leaves_empty_steps():
    values = np.full((2, 6, 7), 4.0)
    values[0, 1:5, 2:6] = np.nan  # a 4 x 4 hole: needs two rounds
    values[1] = np.nan  # nothing observed in this step
    filled = B.neighbour_mean(values)
    assert np.array_equal(filled[0], np.full((6, 7), 4.0))
    assert np.isnan(filled[1]).all()


def test_dineof_recovers_a_planted_rank_2_field_to_the_noise_level():
    noise = 0.05
    truth = _planted_rank2(noise)
    hidden = B.random_mask(truth.shape, 0.2, seed=1)
    values = np.where(hidden, np.nan, truth)
    values[:, 0, 0] = np.nan  # a never-observed ("land") cell
    hidden[:, 0, 0] = False
    filled, rank = B.dineof(values, rng_seed=0, return_rank=True)
    assert rank == 2
    rmse = np.sqrt(np.mean((filled[hidden] - truth[hidden]) ** 2))
    assert rmse < 1.2 * noise  # the noise at a hidden cell is unpredictable; the field's spread is ~3.5
    assert np.isnan(filled[:, 0, 0]).all()
    np.testing.assert_array_equal(filled[~np.isnan(values)], values[~np.isnan(values)])


@pytest.mark.parametrize("box_validation", [False, True])
def test_masked_tucker_recovers_a_planted_multilinear_rank_2_field(box_validation):
    rng = np.random.default_rng(0)
    factors = [np.linalg.qr(rng.standard_normal((n, 2)))[0] for n in (20, 12, 15)]
    core = 50.0 * rng.standard_normal((2, 2, 2))
    truth = np.einsum("abc,ia,jb,kc->ijk", core, *factors) + 0.01 * rng.standard_normal((20, 12, 15))
    hidden = B.random_mask(truth.shape, 0.2, seed=2)
    values = np.where(hidden, np.nan, truth)
    validation = B.block_mask(truth.shape, (slice(0, 3), slice(0, 4)), ~hidden) if box_validation else None
    filled, rank = B.masked_tucker(values, candidates=(1, 2, 4), validation=validation, return_rank=True)
    assert rank == (2, 2, 2)
    assert np.sqrt(np.mean((filled[hidden] - truth[hidden]) ** 2)) < 0.015


@pytest.mark.parametrize("name", ["neighbour_mean", "griddata_linear", "dineof", "masked_tucker"])
def test_baselines_leave_their_input_and_the_observed_cells_alone(name):
    truth = _planted_rank2(0.1)[:10]
    values = np.where(B.random_mask(truth.shape, 0.2, seed=5), np.nan, truth)
    before = values.copy()
    kwargs = {"lat": np.arange(12.0), "lon": np.arange(15.0)} if name == "griddata_linear" else {}
    if name == "masked_tucker":
        kwargs["rank"] = 2
    filled = getattr(B, name)(values, **kwargs)
    np.testing.assert_array_equal(values, before)
    assert filled is not values and filled.shape == values.shape and np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~np.isnan(values)], values[~np.isnan(values)])
