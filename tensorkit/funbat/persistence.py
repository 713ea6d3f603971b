"""A fitted FunBaT as plain arrays and JSON (the format of :func:`tensorkit._estimator.write_estimator`).

What is stored is what prediction reads: the EP state of every mode (the checkpoint's
:func:`~tensorkit.funbat.checkpoint.capture_state`), the standardised training targets and their grid
positions (the EP object is rebuilt around them), the standardisation, the residual GP (its data,
learned kernel and sampling seed, see :meth:`~tensorkit.funbat.residual.ResidualField.to_arrays`)
and the scalar fitted attributes. Nothing in it is code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from tensorkit.funbat.basis import GPBasis
from tensorkit.funbat.chains import ModeChain
from tensorkit.funbat.checkpoint import capture_state, restore_state
from tensorkit.funbat.gpytorch_kernels import describe_kernels, rebuild_kernels
from tensorkit.funbat.inference import ConditionalEP
from tensorkit.funbat.kernels import parse_kernel, state_space_kernel
from tensorkit.funbat.residual import ResidualField

__all__ = ["fitted_arrays", "rebuilt_params", "restore_fitted", "saved_params"]

#: scalar fitted attributes stored as JSON
_SCALARS = ("n_modes_", "rank_", "dims_", "time_encoding_", "kernels_", "lengthscales_", "history_", "n_epochs_run_", "converged_",
            "collapsed_", "interrupted_", "value_offset_", "value_scale_", "residual_")
_CHAIN_KEYS = ("lengthscale", "variance", "info_matrix", "info_vector", "mean", "cov")
_CORE_KEYS = ("core_mean", "core_cov", "core_info_matrix", "core_info_vector")


def saved_params(model: Any) -> dict[str, Any]:
    """``model``'s constructor parameters as they are saved: gpytorch kernels as descriptions
    (:func:`~tensorkit.funbat.gpytorch_kernels.describe_kernels`), so also what a checkpoint compares."""
    return model.get_params(deep=False) | {"kernel": describe_kernels(model.kernel)}


def rebuilt_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`saved_params`: the constructor arguments, with gpytorch kernel objects."""
    return dict(params) | {"kernel": rebuild_kernels(params["kernel"])}


def fitted_arrays(model: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The arrays and the JSON-able state of a fitted :class:`~tensorkit.funbat.FunBaT`."""
    ep = model._ep
    saved = capture_state(ep)
    arrays = {"y": ep.y, "indices": torch.stack(ep.indices, 1), "coordinate_shift_": model.coordinate_shift_,
              "coordinate_scale_": model.coordinate_scale_, "noise_rate_sum": saved["noise_rate_sum"],
              "noise_rate": saved["noise_rate"]}
    for k, (chain, state) in enumerate(zip(ep.chains, saved["chains"])):
        arrays |= {f"chain.{k}.grid": chain.grid, **{f"chain.{k}.{key}": state[key] for key in _CHAIN_KEYS}}
    if saved["core"] is not None:
        arrays |= {f"core.{key}": saved["core"][key] for key in _CORE_KEYS}
    state = {name: getattr(model, name) for name in _SCALARS}
    state |= {"chain_ranks": [c.rank for c in ep.chains], "tucker_core": saved["core"] is not None, "residual": None}
    if model._residual is not None:
        residual_arrays, state["residual"] = model._residual.to_arrays()
        arrays |= {f"residual.{key}": value for key, value in residual_arrays.items()}
    return arrays, state


def restore_fitted(model: Any, arrays: Mapping[str, np.ndarray], state: Mapping[str, Any]) -> Any:
    """Set the fitted state of ``model`` (built with the saved parameters) from :func:`fitted_arrays` output, on the CPU."""
    tensors = {name: torch.from_numpy(value) for name, value in arrays.items()}
    for name in _SCALARS:
        setattr(model, name, state[name])
    model.rank_, model.dims_ = tuple(model.rank_), tuple(model.dims_)
    model.coordinate_shift_, model.coordinate_scale_ = tensors["coordinate_shift_"], tensors["coordinate_scale_"]
    chains = []
    for k, (name, rank) in enumerate(zip(model.kernels_, state["chain_ranks"])):
        kind, period = parse_kernel(name)
        period = None if period is None else period / float(model.coordinate_scale_[k])
        chains.append(ModeChain(tensors[f"chain.{k}.grid"], state_space_kernel(kind, period, 1.0, 1.0), rank, model.smoother))
    ep = ConditionalEP(chains, list(tensors["indices"].unbind(1)), tensors["y"], model._ep_settings())
    restore_state(ep, {
        "chains": [{"rank": rank, **{key: tensors[f"chain.{k}.{key}"] for key in _CHAIN_KEYS}}
                   for k, rank in enumerate(state["chain_ranks"])],
        "noise_rate_sum": tensors["noise_rate_sum"], "noise_rate": tensors["noise_rate"],
        "core": {key: tensors[f"core.{key}"] for key in _CORE_KEYS} if state["tucker_core"] else None,
    })
    model._ep = ep
    model.bases_ = [GPBasis(c, float(model.coordinate_shift_[k]), float(model.coordinate_scale_[k]), ep.extra_precision)
                    for k, c in enumerate(ep.chains)]
    prefix = "residual."
    residual = {name.removeprefix(prefix): t for name, t in tensors.items() if name.startswith(prefix)}
    model._residual = None if state["residual"] is None else ResidualField.from_arrays(residual, state["residual"])
    return model
