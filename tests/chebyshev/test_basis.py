"""ChebyshevBasis against numpy.polynomial.chebyshev (evaluation, derivative, integral) and quadrature."""

import numpy as np
import numpy.polynomial.chebyshev as npc
import pytest
import torch

from tensorkit.chebyshev import ChebyshevBasis
from tensorkit.core import Basis
from tensorkit.testing import DTYPES, BasisConformance, random_tensor


@pytest.fixture
def basis():
    gen = torch.Generator().manual_seed(0)
    return ChebyshevBasis(torch.randn(12, 3, generator=gen, dtype=torch.float64), (-2.0, 3.0))


def _unit(x):
    return (2 * x - 1.0) / 5.0


class TestChebyshevBasisConformance(BasisConformance):
    dtypes = DTYPES

    @staticmethod
    def make(gen, dtype):
        coeffs = random_tensor((12, 3), gen, torch.complex128 if dtype.is_complex else torch.float64).to(dtype)
        basis = ChebyshevBasis(coeffs, (-2.0, 3.0))
        return basis, torch.tensor([-2.0, 3.0, 0.1, -1.3, 2.9], dtype=basis.real_dtype)

    @staticmethod
    def oracle(basis, x):  # numpy's Chebyshev series
        coeffs = basis.coeffs.cpu().numpy().astype(np.complex128 if basis.coeffs.is_complex() else np.float64)
        return torch.from_numpy(np.stack([npc.chebval(_unit(x.double().numpy()), coeffs[:, a]) for a in range(3)], 1))


def test_complex_coefficients_are_real_and_imaginary_series():
    gen = torch.Generator().manual_seed(3)
    re, im = (torch.randn(9, 2, generator=gen, dtype=torch.float64) for _ in range(2))
    real, imag = ChebyshevBasis(re, (0.0, 2.0)), ChebyshevBasis(im, (0.0, 2.0))
    both = ChebyshevBasis(torch.complex(re, im), (0.0, 2.0))
    x = torch.linspace(0, 2, 11, dtype=torch.float64)
    torch.testing.assert_close(both(x), torch.complex(real(x), imag(x)))
    torch.testing.assert_close(both.derivative(2)(x), torch.complex(real.derivative(2)(x), imag.derivative(2)(x)))
    torch.testing.assert_close(both.integrals(), torch.complex(real.integrals(), imag.integrals()))
    gram = real.l2_gram() + imag.l2_gram() + 1j * (real.coeffs.mT @ _l2(imag) - imag.coeffs.mT @ _l2(real))
    torch.testing.assert_close(both.l2_gram(), gram)


def _l2(basis):  # the L² Gram against the coefficients: ∫ T_k(s(x)) v_b(x) dx
    nodes, w = np.polynomial.legendre.leggauss(30)
    x = torch.as_tensor(1.0 + nodes)
    t = ChebyshevBasis(torch.eye(basis.n_coeffs, dtype=torch.float64), basis.domain)(x)
    return t.mT @ (basis(x) * torch.as_tensor(w)[:, None])


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
