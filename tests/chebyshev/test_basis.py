"""ChebyshevBasis against numpy.polynomial.chebyshev (evaluation, derivative, integral) and quadrature."""

import numpy as np
import numpy.polynomial.chebyshev as npc
import pytest
import torch

from tensorkit.chebyshev import ChebyshevBasis
from tensorkit.core import Basis
from tensorkit.testing import BasisConformance


@pytest.fixture
def basis():
    gen = torch.Generator().manual_seed(0)
    return ChebyshevBasis(torch.randn(12, 3, generator=gen, dtype=torch.float64), (-2.0, 3.0))


def _unit(x):
    return (2 * x - 1.0) / 5.0


class TestChebyshevBasisConformance(BasisConformance):
    @staticmethod
    def make(gen, dtype):
        basis = ChebyshevBasis(torch.randn(12, 3, generator=gen, dtype=torch.float64).to(dtype), (-2.0, 3.0))
        return basis, torch.tensor([-2.0, 3.0, 0.1, -1.3, 2.9], dtype=dtype)

    @staticmethod
    def oracle(basis, x):  # numpy's Chebyshev series
        coeffs = basis.coeffs.double().numpy()
        return torch.from_numpy(np.stack([npc.chebval(_unit(x.double().numpy()), coeffs[:, a]) for a in range(3)], 1))


def test_is_a_core_basis_and_evaluates_like_numpy(basis):
    assert isinstance(basis, Basis) and basis.rank == 3
    x = torch.linspace(-2, 3, 57, dtype=torch.float64)
    ref = np.stack([npc.chebval(_unit(x.numpy()), basis.coeffs[:, a].numpy()) for a in range(3)], 1)
    np.testing.assert_allclose(basis(x).numpy(), ref, atol=1e-13)


def test_derivative_matches_numpy(basis):
    x = torch.linspace(-2, 3, 31, dtype=torch.float64)
    for order in (1, 2):
        ref = np.stack([npc.chebval(_unit(x.numpy()), npc.chebder(basis.coeffs[:, a].numpy(), order)) * (2 / 5) ** order
                        for a in range(3)], 1)
        np.testing.assert_allclose(basis.derivative(order)(x).numpy(), ref, atol=1e-10)


def test_integrals_and_l2_gram(basis):
    ref = [np.diff(npc.chebval([-1, 1], npc.chebint(basis.coeffs[:, a].numpy())))[0] * 2.5 for a in range(3)]
    np.testing.assert_allclose(basis.integrals().numpy(), ref, atol=1e-12)
    nodes, w = np.polynomial.legendre.leggauss(30)
    vals = basis(torch.as_tensor(0.5 + 2.5 * nodes)).numpy()
    np.testing.assert_allclose(basis.l2_gram().numpy(), vals.T @ (vals * (2.5 * w)[:, None]), atol=1e-11)


def test_chunked_evaluation_equals_one_block(monkeypatch, basis):
    x = torch.linspace(-2, 3, 1000, dtype=torch.float64)
    full = basis(x)
    monkeypatch.setattr("tensorkit.chebyshev.basis._CHUNK_ENTRIES", 50)
    assert torch.equal(basis(x), full)


def test_outside_domain_is_rejected(basis):
    with pytest.raises(ValueError, match="domain"):
        basis(torch.tensor([3.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="coeffs"):
        ChebyshevBasis(torch.zeros(3, dtype=torch.float64))
