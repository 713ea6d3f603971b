"""Public conformance suites for tensor formats and bases (needs pytest).

A downstream format (a subclass of :class:`tensorkit.core.TensorFormat`) reuses it the way
linear_operator's formats reuse its test case: subclass :class:`FormatConformance` in a test module,
give it ``make``, and pytest runs every check in float32, float64, complex64 and complex128, on the
CPU and on CUDA when present::

    from tensorkit.testing import FormatConformance, random_tensor

    class TestMyFormat(FormatConformance):
        @staticmethod
        def make(shape, generator, dtype):
            return MyFormat(...)  # random components of ``dtype`` drawn from ``generator``

:class:`BasisConformance` does the same for a :class:`tensorkit.core.Basis` (a mode's feature map):
shapes, dtypes, pointwise evaluation, and an independent oracle where one is given. tensorkit's own
formats (dense, Tucker, CP, TT) and bases (index rows, Chebyshev series, FunBaT's GP posteriors) run
through these suites.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch

from tensorkit.core import Basis, DenseTensor, TensorFormat
from tensorkit.core.tenalg import mode_dot

__all__ = ["DTYPES", "BasisConformance", "FormatConformance", "random_tensor"]

DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)
"""The dtypes every format is checked in."""

_DEVICES = [pytest.param("cpu"),
            pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


def random_tensor(shape: Sequence[int], generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Standard normal entries of ``dtype`` (complex: independent real and imaginary parts) on the CPU."""
    return torch.randn(*shape, generator=generator, dtype=dtype)


class FormatConformance:
    """Checks of one format against its dense oracle; subclass it and set :attr:`make`.

    Attributes
    ----------
    make : callable
        ``make(shape, generator, dtype) -> TensorFormat``: a random tensor of ``shape`` in the format
        under test, its components of ``dtype`` on the CPU, drawn from ``generator``. Two calls with the
        same generator must give different tensors.
    shape : tuple of int
        Shape of the tensors the checks use (three modes of different sizes).
    """

    make: Callable[[tuple[int, ...], torch.Generator, torch.dtype], TensorFormat]
    shape: tuple[int, ...] = (4, 5, 3)

    @pytest.fixture(params=DTYPES, ids=lambda d: str(d).removeprefix("torch."))
    def dtype(self, request: pytest.FixtureRequest) -> torch.dtype:
        return request.param

    @pytest.fixture
    def pair(self, dtype: torch.dtype) -> tuple[TensorFormat, TensorFormat]:
        gen = torch.Generator().manual_seed(0)
        return type(self).make(self.shape, gen, dtype), type(self).make(self.shape, gen, dtype)

    def test_shape_dtype_and_dense(self, pair: tuple[TensorFormat, TensorFormat], dtype: torch.dtype) -> None:
        x, _ = pair
        assert x.shape == self.shape and x.ndim == len(self.shape) and x.dtype == dtype
        dense = x.to_dense()
        assert dense.shape == self.shape and dense.dtype == dtype

    def test_named_components_rebuild_and_random_has_the_rank(self, pair: tuple[TensorFormat, TensorFormat],
                                                              dtype: torch.dtype) -> None:
        x, _ = pair
        torch.testing.assert_close(type(x)(**x.named_components()).to_dense(), x.to_dense(), rtol=0, atol=0)
        gen = torch.Generator().manual_seed(3)
        drawn = type(x).random(x.shape, x.rank, 0.5, lambda shape, std: std * random_tensor(shape, gen, dtype))
        assert type(drawn) is type(x) and drawn.shape == x.shape and drawn.rank == x.rank and drawn.dtype == dtype
        assert list(drawn.named_components()) == list(type(x).component_names)

    def test_at_matches_dense(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, _ = pair
        idx = torch.cartesian_prod(*[torch.arange(n) for n in self.shape])
        torch.testing.assert_close(x.at(idx), x.to_dense()[tuple(idx.T)])
        assert x.at(idx[:0]).shape == (0,)

    def test_at_rejects_bad_indices(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, _ = pair
        with pytest.raises(IndexError, match="indices"):
            x.at(torch.tensor([[n - 1 for n in self.shape[:-1]] + [self.shape[-1]]]))
        with pytest.raises(ValueError, match="columns"):
            x.at(torch.zeros(1, x.ndim - 1, dtype=torch.long))

    def test_mode_product_matches_dense(self, pair: tuple[TensorFormat, TensorFormat], dtype: torch.dtype) -> None:
        x, _ = pair
        for mode, n in enumerate(self.shape):
            matrix = random_tensor((7, n), torch.Generator().manual_seed(mode), dtype)
            y = x.mode_product(matrix, mode)
            assert type(y) is type(x)
            torch.testing.assert_close(y.to_dense(), mode_dot(x.to_dense(), matrix, mode))
        with pytest.raises(ValueError, match="matrix"):
            x.mode_product(random_tensor((2, self.shape[0] + 1), torch.Generator(), dtype), 0)

    @pytest.mark.parametrize("index", [torch.tensor([2, 0, 2]), slice(1, 3)], ids=["tensor", "slice"])
    def test_take_matches_dense(self, pair: tuple[TensorFormat, TensorFormat], index: torch.Tensor | slice) -> None:
        x, _ = pair
        for mode in range(x.ndim):
            y = x.take(index, mode)
            assert type(y) is type(x)
            select = [slice(None)] * x.ndim
            select[mode] = index
            torch.testing.assert_close(y.to_dense(), x.to_dense()[tuple(select)])
        with pytest.raises(ValueError, match="mode"):
            x.take(index, x.ndim)

    def test_einsum_operands_contract_to_dense(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, _ = pair
        labels = "ijklmn"[: x.ndim]
        subscripts, operands = x.einsum_operands(labels)
        torch.testing.assert_close(torch.einsum(",".join(subscripts) + "->" + labels, *operands), x.to_dense())
        subscripts, operands = x.einsum_operands(labels, rank_labels="pqrstuvw")
        torch.testing.assert_close(torch.einsum(",".join(subscripts) + "->" + labels, *operands), x.to_dense())
        with pytest.raises(ValueError, match="labels"):
            x.einsum_operands(labels[:-1])

    def test_parameter_count_and_rank(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, _ = pair
        cls = type(x)
        assert cls.n_parameters(x.shape, x.rank) == sum(t.numel() for t in x.components())
        assert cls.resolve_rank(x.shape, x.rank) == x.rank
        budget = cls.resolve_rank(x.shape, 0.5)
        assert budget is None or cls.n_parameters(x.shape, budget) >= 1

    def test_norm_and_inner_match_dense(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, y = pair
        norm = x.norm()
        assert not norm.is_complex()
        torch.testing.assert_close(norm, torch.linalg.vector_norm(x.to_dense()))
        expected = (x.to_dense().conj() * y.to_dense()).sum()
        torch.testing.assert_close(x.inner(y), expected)
        torch.testing.assert_close(x.inner(y.to_dense()), expected)
        torch.testing.assert_close(x.inner(DenseTensor(y.to_dense())), expected)
        with pytest.raises(ValueError, match="shape"):
            x.inner(torch.zeros(*(n + 1 for n in self.shape), dtype=x.dtype))

    def test_autograd_matches_dense(self, pair: tuple[TensorFormat, TensorFormat]) -> None:
        x, _ = pair
        leaves = [t.clone().requires_grad_() for t in x.components()]
        x._from_components(leaves).norm().backward()
        oracle = [t.clone().requires_grad_() for t in x.components()]
        torch.linalg.vector_norm(x._from_components(oracle).to_dense()).backward()
        for got, expected in zip(leaves, oracle):
            torch.testing.assert_close(got.grad, expected.grad)

    @pytest.mark.parametrize("device", _DEVICES)
    def test_device_round_trip(self, pair: tuple[TensorFormat, TensorFormat], device: str) -> None:
        x, _ = pair
        y = x.to(device=device)
        assert y.device.type == device and y.dtype == x.dtype
        idx = torch.tensor([[1, 2, 0][: x.ndim]], device=device)
        torch.testing.assert_close(y.at(idx).cpu(), x.at(idx.cpu()))
        torch.testing.assert_close(y.to_dense().cpu(), x.to_dense())


class BasisConformance:
    """Checks of one :class:`~tensorkit.core.Basis` implementation; subclass it and set :attr:`make`.

    Attributes
    ----------
    make : callable
        ``make(generator, dtype) -> (basis, x)``: a random basis whose values have ``dtype``, and a 1-D
        tensor ``x`` of at least four valid coordinates (or indices) to evaluate it at.
    oracle : callable, optional
        ``oracle(basis, x) -> (len(x), rank)`` values computed independently (another library, the
        definition); checked with the dtype's default tolerances when set.
    dtypes : tuple of torch.dtype
        The dtypes the basis supports (default: float32 and float64).
    """

    make: Callable[[torch.Generator, torch.dtype], tuple[Basis, torch.Tensor]]
    oracle: Callable[[Basis, torch.Tensor], torch.Tensor] | None = None
    dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64)

    @pytest.fixture
    def case(self, request: pytest.FixtureRequest) -> tuple[Basis, torch.Tensor, torch.dtype]:
        dtype = request.param
        basis, x = type(self).make(torch.Generator().manual_seed(0), dtype)
        return basis, x, dtype

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:  # noqa: D102  (pytest hook)
        if "case" in metafunc.fixturenames:
            metafunc.parametrize("case", self.dtypes, indirect=True, ids=lambda d: str(d).removeprefix("torch."))

    def test_is_a_basis_with_matrix_values(self, case: tuple[Basis, torch.Tensor, torch.dtype]) -> None:
        basis, x, dtype = case
        assert isinstance(basis, Basis) and isinstance(basis.rank, int) and basis.rank >= 1
        values = basis(x)
        assert values.shape == (len(x), basis.rank) and values.dtype == dtype
        assert bool(torch.isfinite(torch.view_as_real(values) if values.is_complex() else values).all())

    def test_evaluation_is_pointwise(self, case: tuple[Basis, torch.Tensor, torch.dtype]) -> None:
        basis, x, _ = case
        values = basis(x)
        order = torch.arange(len(x) - 1, -1, -1)
        torch.testing.assert_close(basis(x[order]), values[order])
        torch.testing.assert_close(basis(x[:2]), values[:2])
        assert basis(x[:0]).shape == (0, basis.rank)

    def test_matches_oracle(self, case: tuple[Basis, torch.Tensor, torch.dtype]) -> None:
        if type(self).oracle is None:
            pytest.skip("no oracle given")
        basis, x, _ = case
        expected = type(self).oracle(basis, x)
        torch.testing.assert_close(basis(x), expected.to(basis(x).dtype))
