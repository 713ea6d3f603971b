"""Checkpoints of a FunBaT fit: the EP state (message sums, posteriors, core, noise) as plain tensors."""

from __future__ import annotations

from typing import Any

import torch

from tensorkit.funbat.chains import ModeChain
from tensorkit.funbat.inference import ConditionalEP

__all__ = ["capture_state", "restore_state"]

_CORE_KEYS = ("core_mean", "core_cov", "core_info_matrix", "core_info_vector")


def capture_state(ep: ConditionalEP) -> dict[str, Any]:
    """Everything the next epoch depends on, detached on the CPU."""
    chains = [
        {"rank": c.rank, "lengthscale": c.kernel.lengthscale.cpu(), "variance": c.kernel.variance.cpu(),
         **{key: getattr(c, key).cpu() for key in ("info_matrix", "info_vector", "mean", "cov")}}
        for c in ep.chains
    ]
    core = None if ep.core_mean is None else {key: getattr(ep, key).cpu() for key in _CORE_KEYS}
    return {"chains": chains, "noise_rate_sum": ep.noise_rate_sum.cpu(), "noise_rate": ep.noise_rate.cpu(), "core": core}


def restore_state(ep: ConditionalEP, state: dict[str, Any]) -> None:
    """Put a captured state back into ``ep`` (same data, same grids), on ``ep``'s device."""
    like = ep.y
    for k, saved in enumerate(state["chains"]):
        old = ep.chains[k]
        kernel = old.kernel.with_hyperparameters(saved["lengthscale"].to(like), saved["variance"].to(like))
        chain = ModeChain(old.grid, kernel, int(saved["rank"]), old.method)
        for key in ("info_matrix", "info_vector", "mean", "cov"):
            setattr(chain, key, saved[key].to(like))
        ep.chains[k] = chain
    ep.noise_rate_sum = state["noise_rate_sum"].to(like)
    ep.noise_rate = state["noise_rate"].to(like)
    if state["core"] is not None:
        for key in _CORE_KEYS:
            setattr(ep, key, state["core"][key].to(like))
    ep._refresh_moments()
