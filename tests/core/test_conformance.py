"""One conformance suite every tensor format passes against its dense oracle."""

from __future__ import annotations

import pytest
import tensorly as tl
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.core import CPTensor, DenseTensor, TensorFormat, TTTensor, TuckerTensor
from tensorkit.core.tenalg import mode_dot

SHAPE = (4, 5, 3)


def make_tucker(shape, rank, gen, dtype=torch.float64):
    core = torch.randn(*rank, generator=gen, dtype=dtype)
    return TuckerTensor(core, [torch.randn(n, r, generator=gen, dtype=dtype) for n, r in zip(shape, rank)])


def make_cp(shape, rank, gen, dtype=torch.float64):
    return CPTensor(torch.rand(rank, generator=gen, dtype=dtype) + 0.5,
                    [torch.randn(n, rank, generator=gen, dtype=dtype) for n in shape])


def make_tt(shape, rank, gen, dtype=torch.float64):
    ranks = [1, *([rank] * (len(shape) - 1)), 1]
    return TTTensor([torch.randn(ranks[k], n, ranks[k + 1], generator=gen, dtype=dtype) for k, n in enumerate(shape)])


def make_dense(shape, gen, dtype=torch.float64):
    return DenseTensor(torch.randn(*shape, generator=gen, dtype=dtype))


FACTORIES = {"dense": make_dense, "tucker": lambda s, g: make_tucker(s, (2, 3, 2)[: len(s)], g), "cp": lambda s, g: make_cp(s, 3, g),
             "tt": lambda s, g: make_tt(s, 2, g)}


class FormatConformance:
    """Inherit and set ``make(shape, generator)`` to test a new format."""

    make = None

    @pytest.fixture
    def pair(self):
        gen = torch.Generator().manual_seed(0)
        return type(self).make(SHAPE, gen), type(self).make(SHAPE, gen)

    def test_shape_and_dense(self, pair):
        x, _ = pair
        assert x.shape == SHAPE and x.to_dense().shape == SHAPE and x.ndim == 3

    def test_at_matches_dense(self, pair):
        x, _ = pair
        idx = torch.cartesian_prod(*[torch.arange(n) for n in SHAPE])
        torch.testing.assert_close(x.at(idx), x.to_dense()[tuple(idx.T)])

    def test_at_rejects_out_of_range(self, pair):
        with pytest.raises(IndexError, match="indices"):
            pair[0].at(torch.tensor([[0, 0, 3]]))
        with pytest.raises(ValueError, match="columns"):
            pair[0].at(torch.tensor([[0, 0]]))

    @pytest.mark.parametrize("mode", [0, 1, 2])
    def test_mode_product(self, pair, mode):
        x, _ = pair
        m = torch.randn(7, SHAPE[mode], dtype=x.dtype, generator=torch.Generator().manual_seed(mode))
        y = x.mode_product(m, mode)
        assert type(y) is type(x)
        torch.testing.assert_close(y.to_dense(), mode_dot(x.to_dense(), m, mode))

    @pytest.mark.parametrize("mode", [0, 1, 2])
    @pytest.mark.parametrize("index", [torch.tensor([2, 0, 2]), slice(1, 3)], ids=["tensor", "slice"])
    def test_take_matches_dense(self, pair, mode, index):
        x, _ = pair
        y = x.take(index, mode)
        assert type(y) is type(x)
        select = [slice(None)] * x.ndim
        select[mode] = index
        torch.testing.assert_close(y.to_dense(), x.to_dense()[tuple(select)])

    def test_einsum_operands_contract_to_dense(self, pair):
        x, _ = pair
        subscripts, operands = x.einsum_operands("ijk")
        torch.testing.assert_close(torch.einsum(",".join(subscripts) + "->ijk", *operands), x.to_dense())
        with pytest.raises(ValueError, match="labels"):
            x.einsum_operands("ij")

    def test_parameter_count_and_rank(self, pair):
        x, _ = pair
        assert type(x).n_parameters(x.shape, x.rank) == sum(t.numel() for t in x.components())
        assert type(x).resolve_rank(x.shape, x.rank) == x.rank

    def test_norm_and_inner(self, pair):
        x, y = pair
        torch.testing.assert_close(x.norm(), torch.linalg.vector_norm(x.to_dense()))
        expected = (x.to_dense() * y.to_dense()).sum()
        torch.testing.assert_close(x.inner(y), expected)
        torch.testing.assert_close(x.inner(y.to_dense()), expected)

    def test_inner_across_formats(self, pair):
        x, _ = pair
        other = FACTORIES["tucker"](SHAPE, torch.Generator().manual_seed(5))
        torch.testing.assert_close(x.inner(other), (x.to_dense() * other.to_dense()).sum())

    def test_inner_shape_mismatch(self, pair):
        with pytest.raises(ValueError, match="shape"):
            pair[0].inner(torch.zeros(2, 2, 2, dtype=torch.float64))

    def test_autograd_matches_dense(self, pair):
        x, _ = pair
        leaves = [t.clone().requires_grad_() for t in x.components()]
        fmt = x._from_components(leaves)
        fmt.norm().backward()
        grads = [t.grad.clone() for t in leaves]
        leaves2 = [t.clone().requires_grad_() for t in x.components()]
        torch.linalg.vector_norm(x._from_components(leaves2).to_dense()).backward()
        for g, g2 in zip(grads, (t.grad for t in leaves2)):
            torch.testing.assert_close(g, g2)

    def test_dtype_device_round_trip(self, pair, device):
        x, _ = pair
        y = x.to(device=device, dtype=torch.float32)
        assert y.dtype == torch.float32 and y.device.type == device.type
        z = y.to(device="cpu", dtype=torch.float64)
        torch.testing.assert_close(z.to_dense(), x.to_dense(), rtol=1e-5, atol=1e-5)
        idx = torch.tensor([[1, 2, 0]], device=device)
        torch.testing.assert_close(y.at(idx).cpu().double(), x.at(idx.cpu()), rtol=1e-5, atol=1e-5)

    def test_tensorly_round_trip(self, pair):
        x, _ = pair
        if not hasattr(x, "to_tensorly"):
            pytest.skip(f"{type(x).__name__} has no tensorly counterpart")
        with tl.backend_context("pytorch"):
            tl_obj = x.to_tensorly()
            torch.testing.assert_close(tl_obj.to_tensor(), x.to_dense())
            torch.testing.assert_close(type(x).from_tensorly(tl_obj).to_dense(), x.to_dense())


class TestDense(FormatConformance):
    make = FACTORIES["dense"]


class TestTucker(FormatConformance):
    make = FACTORIES["tucker"]


class TestCP(FormatConformance):
    make = FACTORIES["cp"]


class TestTT(FormatConformance):
    make = FACTORIES["tt"]


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
