"""Expected contractions of the core with the factor functions — one convention for everything.

Per datum ``n`` and mode ``k`` the factor posterior gives a mean row ``m^k_n`` (r_k,) and a second
moment ``M^k_n = V^k_n + m^k_n m^k_nᵀ`` (r_k, r_k). The model is

    f_n = Σ_{i_1…i_K} W[i_1, …, i_K] Π_k u^k_{i_k}(x^n_k),

always contracted index-by-index on the core *tensor* (never through a flattened Kronecker
product), so the factor messages, the core update, the noise update and prediction cannot disagree
on the mode order. The core's second moment ``E[W ⊗ W]`` is kept as a tensor of shape
``(r_1, …, r_K, r_1, …, r_K)``; flattened in C order it is ``μ_W μ_Wᵀ + Σ_W`` with
``vec W = W.reshape(-1)``.

``TuckerContraction`` handles a full core with a Gaussian posterior; ``CPContraction`` the
super-diagonal core of ones (FunBaT-CP), using Hadamard products.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["CPContraction", "TuckerContraction", "core_statistics"]

_LETTERS = "abcdefghijklmnopqrstuvwxy"  # 'z' indexes data points


def _first(k: int) -> str:
    return _LETTERS[k]


def _second(k: int, n_modes: int) -> str:
    return _LETTERS[n_modes + k]


class TuckerContraction:
    """Moments of ``f`` under a Tucker core with mean ``mean`` and second moment ``second``.

    Parameters
    ----------
    mean : (r_1, …, r_K) tensor
        ``E[W]``.
    second : (r_1, …, r_K, r_1, …, r_K) tensor
        ``E[W ⊗ W]``.
    """

    def __init__(self, mean: torch.Tensor, second: torch.Tensor, chunk: int = 4096) -> None:
        if 2 * mean.ndim > len(_LETTERS):
            raise ValueError(f"at most {len(_LETTERS) // 2} modes are supported, got {mean.ndim}")
        self.mean = mean
        self.second = second
        self.n_modes = mean.ndim
        self.chunk = chunk

    def _chunked(self, expr: str, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """``einsum(expr, second, *tensors)`` over data chunks (memory ``O(chunk · R² / r)``)."""
        n = tensors[0].shape[0]
        parts = [torch.einsum(expr, self.second, *[t[i : i + self.chunk] for t in tensors]) for i in range(0, n, self.chunk)]
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def factor_messages(self, means: Sequence[torch.Tensor], seconds: Sequence[torch.Tensor], mode: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``E[a_n]`` (N, r_k) and ``E[a_n a_nᵀ]`` (N, r_k, r_k) with ``f_n = a_nᵀ u^k(x^n_k)``."""
        K = self.n_modes
        others = [j for j in range(K) if j != mode]
        core_idx = "".join(_first(j) for j in range(K))
        mean_expr = ",".join([core_idx] + ["z" + _first(j) for j in others]) + "->z" + _first(mode)
        Ea = torch.einsum(mean_expr, self.mean, *[means[j] for j in others])
        pair_idx = core_idx + "".join(_second(j, K) for j in range(K))
        second_expr = ",".join([pair_idx] + ["z" + _first(j) + _second(j, K) for j in others])
        second_expr += "->z" + _first(mode) + _second(mode, K)
        Eaa = self._chunked(second_expr, [seconds[j] for j in others])
        return Ea, Eaa

    def predict_mean(self, means: Sequence[torch.Tensor]) -> torch.Tensor:
        """``E[f_n]`` (N,)."""
        K = self.n_modes
        expr = ",".join(["".join(_first(j) for j in range(K))] + ["z" + _first(j) for j in range(K)]) + "->z"
        return torch.einsum(expr, self.mean, *means)

    def predict_second(self, seconds: Sequence[torch.Tensor]) -> torch.Tensor:
        """``E[f_n²]`` (N,), including the core's posterior covariance."""
        K = self.n_modes
        pair_idx = "".join(_first(j) for j in range(K)) + "".join(_second(j, K) for j in range(K))
        expr = ",".join([pair_idx] + ["z" + _first(j) + _second(j, K) for j in range(K)]) + "->z"
        return self._chunked(expr, seconds)


def core_statistics(means: Sequence[torch.Tensor], seconds: Sequence[torch.Tensor], y: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """``Σ_n y_n E[z_n]`` as a core-shaped tensor and ``Σ_n E[z_n z_nᵀ]`` as an (R, R) matrix.

    ``z_n = ⊗_k u^k(x^n_k)`` flattened in C order (mode 0 slowest), matching ``W.reshape(-1)``.
    The data are processed in chunks so memory stays ``O(chunk · R²)``.
    """
    K = len(means)
    ranks = [m.shape[1] for m in means]
    R = 1
    for r in ranks:
        R *= r
    first = "".join(_first(j) for j in range(K))
    second = "".join(_second(j, K) for j in range(K))
    mean_expr = ",".join(["z"] + ["z" + _first(j) for j in range(K)]) + "->" + first
    second_expr = ",".join(["z" + _first(j) + _second(j, K) for j in range(K)]) + "->" + first + second
    eta = torch.einsum(mean_expr, y, *means)
    precision = y.new_zeros([*ranks, *ranks])
    for start in range(0, y.shape[0], chunk):
        stop = start + chunk
        precision = precision + torch.einsum(second_expr, *[s[start:stop] for s in seconds])
    return eta, precision.reshape(R, R)


class CPContraction:
    """Moments of ``f_n = Σ_r Π_k u^k_r(x^n_k)`` (the super-diagonal core of ones, no uncertainty)."""

    def __init__(self, n_modes: int) -> None:
        self.n_modes = n_modes

    def factor_messages(self, means: Sequence[torch.Tensor], seconds: Sequence[torch.Tensor], mode: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``E[a_n] = ⊙_{j≠k} m^j_n`` and ``E[a_n a_nᵀ] = ⊙_{j≠k} M^j_n``."""
        others = [j for j in range(self.n_modes) if j != mode]
        Ea = torch.ones_like(means[mode])
        Eaa = torch.ones_like(seconds[mode])
        for j in others:
            Ea = Ea * means[j]
            Eaa = Eaa * seconds[j]
        return Ea, Eaa

    def predict_mean(self, means: Sequence[torch.Tensor]) -> torch.Tensor:
        prod = means[0]
        for m in means[1:]:
            prod = prod * m
        return prod.sum(-1)

    def predict_second(self, seconds: Sequence[torch.Tensor]) -> torch.Tensor:
        prod = seconds[0]
        for s in seconds[1:]:
            prod = prod * s
        return prod.sum((-1, -2))
