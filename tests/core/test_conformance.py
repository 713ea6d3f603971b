"""Every tensor format and the index basis of the core pass the public conformance suites, :mod:`tensorkit.testing`."""

from __future__ import annotations

import pytest
import tensorly as tl
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.core import CPTensor, DenseTensor, IndexBasis, TensorFormat, TTTensor, TuckerTensor
from tensorkit.testing import DTYPES, BasisConformance, FormatConformance, random_tensor


def make_dense(shape, gen, dtype=torch.float64):
    return DenseTensor(random_tensor(shape, gen, dtype))


def make_tucker(shape, rank, gen, dtype=torch.float64):
    return TuckerTensor(random_tensor(rank, gen, dtype), [random_tensor((n, r), gen, dtype) for n, r in zip(shape, rank)])


def make_cp(shape, rank, gen, dtype=torch.float64):
    weights = torch.rand(rank, generator=gen, dtype=torch.float64) + 0.5
    return CPTensor(weights.to(dtype), [random_tensor((n, rank), gen, dtype) for n in shape])


def make_tt(shape, rank, gen, dtype=torch.float64):
    ranks = [1, *([rank] * (len(shape) - 1)), 1]
    return TTTensor([random_tensor((ranks[k], n, ranks[k + 1]), gen, dtype) for k, n in enumerate(shape)])


class TensorlyRoundTrip:
    """The formats with a tensorly counterpart convert to it and back (float64)."""

    def test_tensorly_round_trip(self):
        x = type(self).make(self.shape, torch.Generator().manual_seed(0), torch.float64)
        with tl.backend_context("pytorch"):
            tl_obj = x.to_tensorly()
            torch.testing.assert_close(tl_obj.to_tensor(), x.to_dense())
            torch.testing.assert_close(type(x).from_tensorly(tl_obj).to_dense(), x.to_dense())


class TestDense(FormatConformance):
    make = staticmethod(make_dense)


class TestTucker(FormatConformance, TensorlyRoundTrip):
    make = staticmethod(lambda shape, gen, dtype: make_tucker(shape, (2, 3, 2)[: len(shape)], gen, dtype))


class TestCP(FormatConformance, TensorlyRoundTrip):
    make = staticmethod(lambda shape, gen, dtype: make_cp(shape, 3, gen, dtype))


class TestTT(FormatConformance, TensorlyRoundTrip):
    make = staticmethod(lambda shape, gen, dtype: make_tt(shape, 2, gen, dtype))


class TestIndexBasis(BasisConformance):
    dtypes = DTYPES

    @staticmethod
    def make(gen, dtype):
        return IndexBasis(random_tensor((6, 2), gen, dtype)), torch.tensor([5, 0, 3, 3, 1])

    @staticmethod
    def oracle(basis, x):  # one-hot rows times the matrix
        return torch.nn.functional.one_hot(x, basis.matrix.shape[0]).to(basis.matrix.dtype) @ basis.matrix


def test_every_format_is_covered():
    assert {c.__name__ for c in TensorFormat.__subclasses__()} == {"DenseTensor", "TuckerTensor", "CPTensor", "TTTensor"}


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, rank=st.integers(1, 3), seed=st.integers(0, 2**16), kind=st.sampled_from(["tucker", "cp", "tt"]))
def test_gather_matches_dense_property(shape, rank, seed, kind):
    gen = torch.Generator().manual_seed(seed)
    if kind == "tucker":
        x = make_tucker(shape, [min(rank, n) for n in shape], gen)
    elif kind == "cp":
        x = make_cp(shape, rank, gen)
    else:
        x = make_tt(shape, rank, gen)
    idx = torch.stack([torch.randint(0, n, (6,), generator=gen) for n in shape], 1)
    dense = x.to_dense()
    torch.testing.assert_close(x.at(idx), dense[tuple(idx.T)])
    torch.testing.assert_close(x.norm(), torch.linalg.vector_norm(dense))


def test_constructors_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"factors\[1\]"):
        TuckerTensor(torch.zeros(2, 2), [torch.zeros(3, 2), torch.zeros(3, 3)])
    with pytest.raises(ValueError, match="weights"):
        CPTensor(torch.zeros(2, 2), [torch.zeros(3, 2)])
    with pytest.raises(ValueError, match="left rank"):
        TTTensor([torch.zeros(1, 3, 2), torch.zeros(3, 3, 1)])
    with pytest.raises(TypeError, match="floating"):
        CPTensor(torch.ones(2, dtype=torch.long), [torch.ones(3, 2, dtype=torch.long)])


def test_resolve_rank_checks_its_arguments():
    assert TuckerTensor.resolve_rank((4, 5, 6), 0.3, fixed_modes=(0,))[0] == 4
    assert DenseTensor.resolve_rank((4, 5), 0.1, fixed_modes=(0,)) is None
    assert TTTensor.resolve_rank((4, 5, 6), 2) == (1, 2, 2, 1)
    with pytest.raises(ValueError, match="fixed_rank_modes is not supported by CPTensor"):
        CPTensor.resolve_rank((4, 5), 0.5, fixed_modes=(0,))
    with pytest.raises(ValueError, match=r"fixed_rank_modes entries must lie in \[0, 1\]"):
        TuckerTensor.resolve_rank((4, 5), 0.5, fixed_modes=(2,))
    with pytest.raises(ValueError, match="TT rank"):
        TTTensor.resolve_rank((4, 5, 6), (1, 2, 3))
    with pytest.raises(ValueError, match="rank"):
        TuckerTensor.resolve_rank((4, 5), (5, 1))
