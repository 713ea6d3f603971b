"""Lengthscale selection by the Kalman evidence of each mode's merged pseudo-observations.

After a few EP epochs, the damped message sums of mode k are Gaussian pseudo-observations of its
functions at the unique coordinates. Their marginal likelihood under the chain prior is computed for
a log-spaced grid of lengthscales in **one batched filter pass** (the grid is the batch), and the
maximiser is kept. This is type-II maximum likelihood on the pseudo-observations, a cheap stand-in
for maximising the EP evidence; the variance σ² is not selected (it trades off with the core's scale).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from tensorkit.funbat.chains import ModeChain
from tensorkit.gp.periodic import Periodic

__all__ = ["LENGTHSCALE_GRID", "PERIODIC_LENGTHSCALE_GRID", "initial_lengthscale", "select_lengthscales"]

#: candidate lengthscales as fractions of a mode's coordinate span
LENGTHSCALE_GRID = torch.logspace(-2.5, 0.5, 19, dtype=torch.float64)
#: candidate (dimensionless) lengthscales of a periodic kernel: below ~0.2 its state needs > 30 harmonics
PERIODIC_LENGTHSCALE_GRID = torch.logspace(math.log10(0.2), 1.0, 13, dtype=torch.float64)


def _span(grid: torch.Tensor) -> float:
    span = float(grid.max() - grid.min())
    return span if span > 0 else 1.0


def initial_lengthscale(grid: torch.Tensor, periodic: bool = False) -> float:
    """Starting lengthscale before the first selection: 10 % of the coordinate span (periodic: 1)."""
    return 1.0 if periodic else 0.1 * _span(grid)


def select_lengthscales(
    chains: list[ModeChain],
    extra_precision: float = 0.0,
    learned: Sequence[bool] | None = None,
    log_priors: Sequence[Callable[[torch.Tensor], torch.Tensor] | None] | None = None,
) -> list[float]:
    """Set each chain's lengthscale to the evidence maximiser over the grid; return the lengthscales.

    ``learned[k]`` False keeps chain k's lengthscale; ``log_priors[k]`` (of lengthscales) turns its
    selection into a MAP choice.
    """
    chosen = []
    for k, chain in enumerate(chains):
        if learned is not None and not learned[k]:
            chosen.append(float(chain.kernel.lengthscale))
            continue
        if isinstance(chain.kernel, Periodic):
            candidates = PERIODIC_LENGTHSCALE_GRID.to(chain.grid)
        else:
            candidates = LENGTHSCALE_GRID.to(chain.grid) * _span(chain.grid)
        batch = chain.kernel.with_hyperparameters(candidates, chain.kernel.variance.expand_as(candidates))
        evidence = chain.log_evidence(batch, extra_precision)
        if log_priors is not None and log_priors[k] is not None:
            evidence = evidence + log_priors[k](candidates)
        best = float(candidates[int(torch.argmax(evidence))])
        chain.set_kernel(chain.kernel.with_hyperparameters(best))
        chosen.append(best)
    return chosen
