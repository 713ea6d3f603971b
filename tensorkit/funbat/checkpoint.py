"""Checkpoints of a FunBaT fit: the EP state (message sums, posteriors, core, noise) as plain tensors."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from tensorkit._estimator import to_json
from tensorkit.funbat.chains import ModeChain
from tensorkit.funbat.inference import ConditionalEP
from tensorkit.runtime import load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from tensorkit.funbat.estimator import FunBaT

__all__ = ["capture_state", "restore_state", "resume_fit", "save_fit"]

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


def resume_fit(model: FunBaT, ep: ConditionalEP) -> tuple[int, int]:
    """Restore ``model.checkpoint`` if it was written for this data and these settings; return (phase, epoch).

    The settings are described first, so a kernel that a checkpoint cannot record is refused before any epoch runs.
    """
    if model.checkpoint is None:
        return 0, 0
    settings = _settings(model)
    if not os.path.exists(model.checkpoint):
        return 0, 0
    state = load_checkpoint(model.checkpoint, match={"settings": settings, "fingerprint": model._fingerprint})
    restore_state(ep, state["ep"])
    model.history_ = list(state["history"])
    model.n_epochs_run_ = int(state["n_epochs_run"])
    model._selections, model._next_selection = [list(s) for s in state["selections"]], int(state["next_selection"])
    model._generator.set_state(state["generator"])
    model.converged_ = bool(state["converged"])
    return int(state["phase"]), int(state["epoch"])


def save_fit(model: FunBaT, ep: ConditionalEP, phase: int, epoch: int) -> None:
    """Write ``model.checkpoint``: the EP state, the fit's progress and what it must match to resume."""
    save_checkpoint(model.checkpoint, {
        "settings": _settings(model), "fingerprint": model._fingerprint, "ep": capture_state(ep),
        "phase": phase, "epoch": epoch, "history": list(model.history_), "n_epochs_run": model.n_epochs_run_,
        "selections": model._selections, "next_selection": model._next_selection, "generator": model._generator.get_state(),
        "converged": model.converged_,
    })


def _settings(model: FunBaT) -> dict[str, Any]:
    """The constructor arguments that change the fit (not ``verbose`` nor ``checkpoint``) as :meth:`FunBaT.save`
    stores them (JSON-able; gpytorch kernels by their values, ν, learned flags and priors)."""
    from tensorkit.funbat.persistence import saved_params  # persistence reads the EP state through this module

    return {name: to_json(value, name) for name, value in saved_params(model).items() if name not in ("verbose", "checkpoint")}
