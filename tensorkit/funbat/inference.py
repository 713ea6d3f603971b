"""Conditional expectation propagation for FunBaT (factors, Tucker core and noise precision).

One epoch updates every mode's functions (Gauss–Seidel "inner" or Jacobi schedule), then the core
(Tucker only), then the noise precision τ. All messages are expected natural parameters, summed onto
their targets (unique coordinates per mode, the core, τ), damped, and stored only as those sums. The
factor moments are kept per unique coordinate and the sums over the data are grouped by observed
cell (:class:`tensorkit.core.sparse.SparseCells`), so memory does not grow with ``N · r²``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tensorkit.core.sparse import SparseCells
from tensorkit.funbat.chains import ModeChain, update_together
from tensorkit.funbat.contraction import CPContraction, TuckerContraction, core_statistics

__all__ = ["ConditionalEP", "EPSettings"]


@dataclass(frozen=True)
class EPSettings:
    """Numerical settings of the message passing.

    Attributes
    ----------
    damping, damping_core, damping_noise : float
        Weight of the old message sums (``new ← ρ·old + (1-ρ)·new``) for factors, core and τ.
    noise_prior : (a0, b0)
        Gamma prior of τ.
    core_prior_precision : float
        Precision of the ``N(0, c⁻¹ I)`` prior on ``vec W``.
    schedule : {"inner", "jacobi"}
    parity_mode : bool
        Reproduce the reference code's model choices: flat core prior (with a vanishing ``1e-3·I``
        initial message), the core covariance ignored in factor and τ messages, and an extra
        ``I`` added to every merged pseudo-observation precision.
    """

    damping: float = 0.3
    damping_core: float = 0.5
    damping_noise: float = 0.5
    noise_prior: tuple[float, float] = (1.0, 1.0)
    core_prior_precision: float = 1.0
    schedule: str = "inner"
    parity_mode: bool = False


class ConditionalEP:
    """The approximate posterior ``q(τ) q(W) Π_k q(U^k)`` and its updates.

    Parameters
    ----------
    chains : list of ModeChain
        One per mode, holding the mode's message sums and posterior.
    indices : list of (N,) long tensors
        Position of each datum's mode-k coordinate in ``chains[k].grid``.
    y : (N,) tensor
        Targets.
    settings : EPSettings
    """

    def __init__(self, chains: list[ModeChain], indices: list[torch.Tensor], y: torch.Tensor, settings: EPSettings) -> None:
        self.chains = chains
        self.indices = indices
        self.cells = SparseCells(indices, [c.grid.numel() for c in chains])
        self.y = y
        self.y_squares = (y**2).sum()
        self.settings = settings
        # τ starts at E[τ] = 1: the rate sum starts as if every datum had E[(y - f)²] = 1.
        self.noise_shape = settings.noise_prior[0] + 0.5 * y.numel()
        self.noise_rate_sum = y.new_tensor(self.noise_shape - settings.noise_prior[1])
        self.noise_rate = y.new_tensor(self.noise_shape)
        self.core_mean: torch.Tensor | None = None  # None = CP (super-diagonal core of ones)
        self.core_cov: torch.Tensor | None = None
        self._refresh_moments()

    # ------------------------------------------------------------------ state
    @property
    def expected_precision(self) -> float:
        """``E[τ]``."""
        return float(self.noise_shape / self.noise_rate)

    @property
    def extra_precision(self) -> float:
        return 1.0 if self.settings.parity_mode else 0.0

    def use_tucker_core(self, mean: torch.Tensor) -> None:
        """Switch from CP to a Tucker core initialised at ``mean`` (e.g. the super-diagonal)."""
        R = mean.numel()
        self.core_mean = mean
        self.core_cov = mean.new_zeros(R, R)
        self.core_info_matrix = mean.new_zeros(R, R)
        self.core_info_vector = mean.new_zeros(R)
        if self.settings.parity_mode:
            self.core_info_matrix += 1e-3 * torch.eye(R, dtype=mean.dtype, device=mean.device)

    def contraction(self) -> CPContraction | TuckerContraction:
        """The core's moments in the one shared contraction convention."""
        if self.core_mean is None:
            return CPContraction(len(self.chains))
        flat = self.core_mean.reshape(-1)
        second = torch.outer(flat, flat)
        if not self.settings.parity_mode:
            second = second + self.core_cov
        return TuckerContraction(self.core_mean, second.reshape(*self.core_mean.shape, *self.core_mean.shape))

    def _refresh_moments(self, modes: list[int] | None = None) -> None:
        """Per unique coordinate of each mode: mean ``m`` (n_k, r_k) and second moment ``V + m mᵀ``."""
        if modes is None:
            self.means = [None] * len(self.chains)
            self.seconds = [None] * len(self.chains)
            modes = list(range(len(self.chains)))
        for k in modes:
            m = self.chains[k].mean
            self.means[k] = m
            self.seconds[k] = self.chains[k].cov + m[:, :, None] * m[:, None, :]

    # ------------------------------------------------------------------ updates
    def _factor_message(self, k: int, contraction: CPContraction | TuckerContraction) -> None:
        vector, matrix = contraction.factor_messages(self.cells, self.means, self.seconds, self.y, k)
        self.chains[k].accumulate(vector, matrix, self.expected_precision, self.settings.damping)

    def update_factors(self) -> None:
        """Gauss–Seidel ("inner"): mode by mode with fresh posteriors. Jacobi: all messages from the same
        state, then every chain smoothed in one batched Kalman call."""
        contraction = self.contraction()
        if self.settings.schedule == "jacobi":
            for k in range(len(self.chains)):
                self._factor_message(k, contraction)
            update_together(self.chains, self.extra_precision)
            self._refresh_moments()
            return
        for k in range(len(self.chains)):
            self._factor_message(k, contraction)
            self.chains[k].update(self.extra_precision)
            self._refresh_moments([k])

    def update_core(self) -> None:
        """Gaussian posterior of ``vec W`` from damped sums of ``τ E[z zᵀ]`` and ``τ y E[z]``."""
        tau, rho = self.expected_precision, self.settings.damping_core
        eta, precision = core_statistics(self.cells, self.means, self.seconds, self.y)
        self.core_info_matrix = rho * self.core_info_matrix + (1 - rho) * tau * precision
        self.core_info_vector = rho * self.core_info_vector + (1 - rho) * tau * eta.reshape(-1)
        prior = 0.0 if self.settings.parity_mode else self.settings.core_prior_precision
        R = self.core_info_vector.numel()
        total = self.core_info_matrix + prior * torch.eye(R, dtype=self.y.dtype, device=self.y.device)
        chol = torch.linalg.cholesky(0.5 * (total + total.T))
        self.core_cov = torch.cholesky_inverse(chol)
        self.core_mean = (self.core_cov @ self.core_info_vector).reshape(self.core_mean.shape)

    def update_noise(self) -> None:
        """Gamma posterior of τ from the damped sum of ``½ E[(y - f)²]``."""
        fitted, second = self.contraction().fit_statistics(self.cells, self.means, self.seconds, self.y)
        rate = 0.5 * (self.y_squares - 2 * fitted + second)
        rho = self.settings.damping_noise
        self.noise_rate_sum = rho * self.noise_rate_sum + (1 - rho) * rate
        self.noise_rate = self.settings.noise_prior[1] + self.noise_rate_sum

    def epoch(self) -> None:
        """One sweep: factors, core (Tucker), noise precision."""
        self.update_factors()
        if self.core_mean is not None:
            self.update_core()
        self.update_noise()

    def train_mean(self) -> torch.Tensor:
        """``E[f]`` at the training points."""
        return self.contraction().predict_mean(self.means, self.indices)
