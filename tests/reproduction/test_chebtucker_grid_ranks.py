"""ChebTuck ranks against grid-based Tucker ranks on the n³ grid at the same relative ε (issue 4).

The grid ranks come from the singular values of the grid unfolding (QR then SVD, the same relative rule
``tail ≤ ε‖X‖/√3``); erf(ωr)/r is symmetric under axis permutations, so one unfolding serves all modes.
The reference values are in reference_numbers.json.
"""

import math

import pytest
import torch

from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.sources import uniform_grid
from tensorkit.core.truncation import modal_svd
from tensorkit.core import eps_rank
from tensorkit.core import hooi

EPS = [1e-3, 1e-5, 1e-7, 1e-9]
GRID_RANKS = {0.5: [4, 6, 7, 9], 1.0: [5, 7, 9, 11]}  # reference grid-HOSVD ranks, n = 128 and 256
CHEB_DEGREE = {0.5: 64, 1.0: 128}


def erf_over_r(w):
    def f(x, y, z):
        r = torch.sqrt(x**2 + y**2 + z**2)
        return torch.where(r > 0, torch.erf(w * r) / r.clamp_min(1e-300), torch.full_like(r, 2 * w / math.sqrt(math.pi)))
    return f


def grid_tensor(f, n):
    x = torch.as_tensor(uniform_grid(n, (-10.0, 10.0)))
    return f(*torch.meshgrid(x, x, x, indexing="ij"))


@pytest.mark.parametrize("n", [128, 256])
@pytest.mark.parametrize("w", [0.5, 1.0])
def test_chebyshev_ranks_within_one_of_grid_tucker_ranks(w, n):
    f = erf_over_r(w)
    grid = grid_tensor(f, n)
    svals = modal_svd(grid, 0)[1]
    norm = float(torch.linalg.vector_norm(grid))
    del grid
    for eps, ref in zip(EPS, GRID_RANKS[w]):
        grid_rank = eps_rank(svals, eps * norm / math.sqrt(3))
        cheb_rank = max(ChebTucker(degree=CHEB_DEGREE[w], tol=eps, domain=(-10, 10)).fit(f).ranks_)
        assert abs(grid_rank - ref) <= 1, (eps, grid_rank, ref)
        assert abs(cheb_rank - grid_rank) <= 1, (eps, cheb_rank, grid_rank)


def test_discretised_chebtucker_as_accurate_as_grid_hooi_at_equal_ranks():
    """On the n = 64 grid, ChebTuck's grid Tucker [G; T(x)V] is as accurate as HOOI on the grid itself."""
    f = erf_over_r(0.5)
    grid = grid_tensor(f, 64)
    x = torch.as_tensor(uniform_grid(64, (-10.0, 10.0)))
    model = ChebTucker(degree=64, tol=1e-5, domain=(-10, 10)).fit(f)
    cheb_err = float(torch.linalg.norm(model.to_dense([x, x, x]) - grid) / torch.linalg.norm(grid))
    grid_err = float(torch.linalg.norm(hooi(grid, rank=model.ranks_, n_iter_max=5).to_dense() - grid) / torch.linalg.norm(grid))
    assert cheb_err <= 3 * grid_err + 1e-12
