"""FunBaT's fitted GP factor functions and their offset-carrying wrapper pass the public Basis conformance
suite (:mod:`tensorkit.testing`)."""

from functools import lru_cache

import torch

from tensorkit.funbat import FunBaT
from tensorkit.funbat.basis import OffsetBasis
from tensorkit.testing import BasisConformance


@lru_cache(maxsize=1)
def _fitted() -> FunBaT:
    g = torch.Generator().manual_seed(0)
    X = torch.cartesian_prod(*[torch.sort(torch.rand(n, generator=g, dtype=torch.float64)).values for n in (8, 7, 6)])
    y = torch.sin(3 * X[:, 0]) * (1 + X[:, 1] * X[:, 2]) + 0.05 * torch.randn(len(X), generator=g, dtype=torch.float64)
    return FunBaT(rank=2, seed=0, n_epochs=5, residual=None).fit(X, y)


class TestGPBasisConformance(BasisConformance):
    dtypes = (torch.float64,)  # the posterior is computed in float64

    @staticmethod
    def make(gen, dtype):
        # training coordinates, a point between them and one far outside (zero-information states)
        return _fitted().bases_[0], torch.tensor([0.5, 0.05, 2.0, 0.31, -1.0], dtype=dtype)


class TestOffsetBasisConformance(BasisConformance):
    """The GP basis with the constant column that carries a fit's value offset (``to_functional``)."""

    dtypes = (torch.float64,)

    @staticmethod
    def make(gen, dtype):
        return OffsetBasis(_fitted().bases_[1]), torch.tensor([0.5, 0.05, 2.0, 0.31, -1.0], dtype=dtype)

    @staticmethod
    def oracle(basis, x):  # the wrapped basis' columns, then ones
        return torch.cat([basis.basis(x), torch.ones(len(x), 1, dtype=x.dtype)], 1)
