"""Expected contractions of the core with the factor functions — one convention for everything.

Per mode ``k`` and coordinate ``t`` the factor posterior gives a mean row ``m^k_t`` (r_k,) and a
second moment ``M^k_t = V^k_t + m^k_t m^k_tᵀ`` (r_k, r_k); they are kept per unique coordinate, never
per datum. The model is

    f_n = Σ_{i_1…i_K} W[i_1, …, i_K] Π_k u^k_{i_k}(x^n_k),

always contracted index-by-index on the core *tensor* (never through a flattened Kronecker
product), so the factor messages, the core update, the noise update and prediction cannot disagree
on the mode order. The core's second moment ``E[W ⊗ W]`` is kept as a tensor of shape
``(r_1, …, r_K, r_1, …, r_K)``; flattened in C order it is ``μ_W μ_Wᵀ + Σ_W`` with
``vec W = W.reshape(-1)``.

Sums over the data go through :class:`tensorkit.core.sparse.SparseCells`: a message to coordinate
``t`` of mode ``k`` is linear in ``Σ_{n: x^n_k = t} ∘_{j≠k} (moment of mode j at x^n_j)``, so the
per-datum products are never formed; per-point evaluations go through
:func:`tensorkit.core.tenalg.contract_rows`.

``TuckerContraction`` handles a full core with a Gaussian posterior; ``CPContraction`` the
super-diagonal core of ones (FunBaT-CP), using Hadamard products.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tensorkit.core.sparse import SparseCells
from tensorkit.core.tenalg import contract_rows, contract_rows_diagonal, paired, unfold

__all__ = ["CPContraction", "TuckerContraction", "core_statistics"]

Moments = Sequence[torch.Tensor]


def _flat(seconds: Moments) -> list[torch.Tensor]:
    return [s.reshape(s.shape[0], -1) for s in seconds]


class TuckerContraction:
    """Moments of ``f`` under a Tucker core with mean ``mean`` and second moment ``second``.

    Parameters
    ----------
    mean : (r_1, …, r_K) tensor
        ``E[W]``.
    second : (r_1, …, r_K, r_1, …, r_K) tensor
        ``E[W ⊗ W]``.
    """

    def __init__(self, mean: torch.Tensor, second: torch.Tensor) -> None:
        self.mean = mean
        self.second = second
        self.paired = paired(second)

    def factor_messages(self, cells: SparseCells, means: Moments, seconds: Moments, y: torch.Tensor,
                        mode: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_n y_n E[a_n]`` (n_k, r_k) and ``Σ_n E[a_n a_nᵀ]`` (n_k, r_k, r_k) per coordinate of ``mode``,
        with ``f_n = a_nᵀ u^k(x^n_k)``."""
        weighted = cells.reduce(means, mode, weights=y, kronecker=True)  # (n_k, Π_{j≠k} r_j)
        vector = weighted @ unfold(self.mean, mode).T
        products = cells.reduce(_flat(seconds), mode, kronecker=True)  # (n_k, Π_{j≠k} r_j²)
        r = self.mean.shape[mode]
        matrix = (products @ unfold(self.paired, mode).T).reshape(-1, r, r)
        return vector, matrix

    def fit_statistics(self, cells: SparseCells, means: Moments, seconds: Moments, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_n y_n E[f_n]`` and ``Σ_n E[f_n²]``."""
        eta, precision = core_statistics(cells, means, seconds, y)
        return (self.mean * eta).sum(), (self.second.reshape(precision.shape) * precision).sum()

    def predict_mean(self, means: Moments, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``E[f_n]`` (N,) from per-point rows, or from tables of rows and per-point ``indices``."""
        return contract_rows(self.mean, means, indices)

    def predict_second(self, seconds: Moments, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``E[f_n²]`` (N,), including the core's posterior covariance."""
        return contract_rows(self.paired, _flat(seconds), indices)


def core_statistics(cells: SparseCells, means: Moments, seconds: Moments, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Σ_n y_n E[z_n]`` as a core-shaped tensor and ``Σ_n E[z_n z_nᵀ]`` as an (R, R) matrix.

    ``z_n = ⊗_k u^k(x^n_k)`` flattened in C order (mode 0 slowest), matching ``W.reshape(-1)``. The
    data are reduced onto the last mode's coordinates, which are then contracted with its moments.
    """
    K = len(means)
    ranks = [m.shape[1] for m in means]
    weighted = cells.reduce(means, K - 1, weights=y, kronecker=True)  # (n_K, Π_{j<K} r_j)
    eta = (weighted.T @ means[-1]).reshape(ranks)
    products = cells.reduce(_flat(seconds), K - 1, kronecker=True)  # (n_K, Π_{j<K} r_j²)
    pairs = (products.T @ _flat(seconds[-1:])[0]).reshape([r for r in ranks for _ in (0, 1)])
    order = [2 * k for k in range(K)] + [2 * k + 1 for k in range(K)]
    R = eta.numel()
    return eta, pairs.permute(order).reshape(R, R)


class CPContraction:
    """Moments of ``f_n = Σ_r Π_k u^k_r(x^n_k)`` (the super-diagonal core of ones, no uncertainty)."""

    def __init__(self, n_modes: int) -> None:
        self.n_modes = n_modes

    def factor_messages(self, cells: SparseCells, means: Moments, seconds: Moments, y: torch.Tensor,
                        mode: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_n y_n ⊙_{j≠k} m^j`` and ``Σ_n ⊙_{j≠k} M^j`` per coordinate of ``mode``."""
        r = means[mode].shape[1]
        vector = cells.reduce(means, mode, weights=y)
        matrix = cells.reduce(_flat(seconds), mode).reshape(-1, r, r)
        return vector, matrix

    def fit_statistics(self, cells: SparseCells, means: Moments, seconds: Moments, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Σ_n y_n E[f_n]`` and ``Σ_n E[f_n²]``, from the messages onto the last mode."""
        vector, matrix = self.factor_messages(cells, means, seconds, y, self.n_modes - 1)
        return (vector * means[-1]).sum(), (matrix * seconds[-1]).sum()

    def predict_mean(self, means: Moments, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``E[f_n]`` (N,) from per-point rows, or from tables of rows and per-point ``indices``."""
        return contract_rows_diagonal(means, indices)

    def predict_second(self, seconds: Moments, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``E[f_n²]`` (N,)."""
        return contract_rows_diagonal(_flat(seconds), indices)
