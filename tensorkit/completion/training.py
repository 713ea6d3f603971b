"""Seeded mini-batch training with early stopping and streaming TracIn influence.

Order inside epoch ``e`` (as in the reference): validate ``θ_e`` (the state before epoch ``e``'s
updates), which also yields ``G_e``; then one Adam step per mini-batch, where each cell's influence
contribution ``r(x)·⟨h(x), G_e⟩`` comes from the same forward pass and is added into a float64
accumulator at the cells' ids. When ``θ_e`` is a new best, ``θ_e`` and the accumulator (epochs
``0..e−1``, exactly the updates that produced ``θ_e``) are snapshotted; ``parity=True`` snapshots the
accumulator after epoch ``e``'s pass instead (the reference's ``0..e``). No epochs × cells × features
array ever exists: memory is one float per training cell (plus its snapshot) and one head vector.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from tensorkit._validation import check_index_range, check_positive_float, check_positive_int
from tensorkit.completion.influence import batch_contributions, validation_pass
from tensorkit.completion.models import CompletionModel
from tensorkit.runtime import GracefulInterrupt, data_fingerprint, load_checkpoint, progress, save_checkpoint

__all__ = ["TrainConfig", "TrainResult", "train_model"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and stopping hyper-parameters (Adam, MSE, early stopping on validation loss).

    When the validation loss has not improved for ``patience`` epochs, the learning rate is divided by
    ``lr_decay_factor`` if fewer than ``lr_decays`` such decays have happened (training goes on from
    the current state with a fresh patience window); otherwise training stops. ``lr_decays=0`` is
    plain early stopping.
    """

    lr: float = 1e-3
    batch_size: int = 1024
    max_epochs: int = 200
    patience: int = 10
    min_delta: float = 0.0
    eval_batch_size: int = 65536
    lr_decays: int = 0
    lr_decay_factor: float = 10.0

    def __post_init__(self) -> None:
        check_positive_float(self.lr, "lr")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.max_epochs, "max_epochs")
        check_positive_int(self.patience, "patience")
        check_positive_float(self.min_delta, "min_delta", allow_zero=True)
        check_positive_int(self.eval_batch_size, "eval_batch_size")
        if isinstance(self.lr_decays, bool) or not isinstance(self.lr_decays, int) or self.lr_decays < 0:
            raise ValueError(f"lr_decays must be a non-negative integer, got {self.lr_decays!r}")
        if check_positive_float(self.lr_decay_factor, "lr_decay_factor") <= 1:
            raise ValueError(f"lr_decay_factor must be > 1, got {self.lr_decay_factor}")


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`; ``model`` holds the selected (best-validation) state."""

    model: CompletionModel
    best_epoch: int
    best_val_loss: float
    stop_reason: str  # "patience", "max_epochs" (not converged) or "interrupted"
    n_epochs: int
    n_steps: int
    seconds: float
    influence: torch.Tensor | None = None
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.stop_reason == "patience"


def train_model(
    model: CompletionModel,
    train_idx: torch.Tensor,
    train_y: torch.Tensor,
    val_idx: torch.Tensor,
    val_y: torch.Tensor,
    config: TrainConfig = TrainConfig(),
    *,
    seed: int = 0,
    track_influence: bool = False,
    include_bias: bool = False,
    lr_weighted: bool = False,
    parity: bool = False,
    sample_weight: torch.Tensor | None = None,
    epoch_callback: Callable[[int, CompletionModel], None] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    verbose: bool | None = None,
) -> TrainResult:
    """Train ``model`` in place and return it at its best validation state.

    Parameters
    ----------
    model : CompletionModel
        Backbone, already on the device of the index tensors.
    train_idx, train_y, val_idx, val_y : torch.Tensor
        Training and validation cells (``(n, N)`` long) and values.
    config : TrainConfig
        Optimisation and stopping settings.
    seed : int
        Seed of the mini-batch order.
    track_influence : bool
        Stream TracIn scores of the training cells (``result.influence``, float64).
    include_bias, lr_weighted, parity : bool
        Influence options: bias-gradient term; weight each epoch by its learning rate; reference range
        of epochs ``0..e*`` instead of ``0..e*−1``.
    sample_weight : torch.Tensor, optional
        Per-cell loss weights (e.g. ``aug_weight`` for augmented cells); default all ones.
    epoch_callback : callable, optional
        Called as ``epoch_callback(e, model)`` with ``θ_e`` before epoch ``e``'s validation pass.
    checkpoint_path : path-like, optional
        On SIGTERM/SIGUSR1/SIGINT training stops at the next epoch boundary with
        ``stop_reason="interrupted"`` (returning the best state so far); with a path, the full state
        (RNG included) is written there first, and a later call with the same path, data and settings
        resumes from it. A finished training writes its final state there too, and a later call
        returns that result without training. The file is never removed here: it stays until the
        caller has written its final output (a resume killed before its next checkpoint restarts from
        the same file). A checkpoint of other data or settings is refused (``ValueError``).
    verbose : bool, optional
        Progress bar over epochs (default: only on a terminal).
    """
    check_index_range(train_idx, model.shape, "train_idx")  # once here, so no batch syncs with the host
    check_index_range(val_idx, model.shape, "val_idx")
    n = train_idx.shape[0]
    device = train_idx.device
    weight_dtype = model.head.weight.dtype
    train_y = train_y.to(weight_dtype)
    weights = None if sample_weight is None else sample_weight.to(device=device, dtype=weight_dtype)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    generator = torch.Generator().manual_seed(seed)
    state = {
        "epoch": 0, "best_epoch": 0, "best_loss": float("inf"), "n_steps": 0, "n_decays": 0, "window_start": 0,
        "best_model": None, "best_acc": None, "history": {"val_loss": [], "train_loss": []},
        "acc": torch.zeros(n, dtype=torch.float64, device=device) if track_influence else None,
    }  # fmt: skip
    identity = {"fingerprint": data_fingerprint(train_idx, train_y, val_idx, val_y, weights),
                "settings": repr((type(model).__name__, [(k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items()],
                                  config, seed, track_influence, include_bias, lr_weighted, parity))}  # fmt: skip
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = _resume(checkpoint_path, identity, model, optimizer, generator, device)
    start_time = time.perf_counter()
    finished = state.get("stop_reason")  # a checkpoint of a training that ran to its end
    stop_reason = finished or "max_epochs"
    first = config.max_epochs + 1 if finished else state["epoch"]
    epochs = progress(range(first, config.max_epochs + 1), total=config.max_epochs + 1 - first, desc="train",
                      verbose=verbose)  # fmt: skip
    with GracefulInterrupt() as interrupt:
        for epoch in epochs:
            state["epoch"] = epoch
            if interrupt.requested:
                if checkpoint_path is not None:
                    _save(checkpoint_path, {**state, **identity}, model, optimizer, generator)
                stop_reason = "interrupted"
                break
            if epoch_callback is not None:
                epoch_callback(epoch, model)
            val = validation_pass(model, val_idx, val_y, config.eval_batch_size, with_gradient=track_influence)
            state["history"]["val_loss"].append(val.loss)
            improved = val.loss < state["best_loss"] - config.min_delta
            if improved:
                state.update(best_loss=val.loss, best_epoch=epoch, best_model=copy.deepcopy(model.state_dict()))
                if track_influence and not parity:
                    state["best_acc"] = state["acc"].clone()
            if epoch == config.max_epochs:
                if improved and track_influence and parity:
                    state["best_acc"] = state["acc"].clone()  # no training pass follows θ_e*
                break
            if epoch - max(state["best_epoch"], state["window_start"]) >= config.patience:
                if state["n_decays"] == config.lr_decays:
                    stop_reason = "patience"
                    break
                for group in optimizer.param_groups:
                    group["lr"] /= config.lr_decay_factor
                state.update(n_decays=state["n_decays"] + 1, window_start=epoch)
            scale = optimizer.param_groups[0]["lr"] if lr_weighted else 1.0
            g_w = val.weight_gradient * scale if track_influence else None
            g_b = val.bias_gradient * scale if (track_influence and include_bias) else None
            loss_sum = _train_epoch(model, optimizer, train_idx, train_y, weights, config.batch_size, generator,
                                    state["acc"], g_w, g_b)  # fmt: skip
            state["n_steps"] += -(-n // config.batch_size)
            state["history"]["train_loss"].append(loss_sum / n)
            if improved and track_influence and parity:
                state["best_acc"] = state["acc"].clone()
    if checkpoint_path is not None and not finished and stop_reason != "interrupted":
        _save(checkpoint_path, {**state, **identity, "stop_reason": stop_reason}, model, optimizer, generator)
    if state["best_model"] is not None:
        model.load_state_dict(state["best_model"])
    influence = None
    if track_influence:
        influence = state["best_acc"] if state["best_acc"] is not None else torch.zeros_like(state["acc"])
    return TrainResult(
        model=model, best_epoch=state["best_epoch"], best_val_loss=state["best_loss"], stop_reason=stop_reason,
        n_epochs=state["epoch"], n_steps=state["n_steps"], seconds=time.perf_counter() - start_time,
        influence=influence, history=state["history"],
    )  # fmt: skip


def _train_epoch(
    model: CompletionModel,
    optimizer: torch.optim.Optimizer,
    idx: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor | None,
    batch_size: int,
    generator: torch.Generator,
    acc: torch.Tensor | None,
    g_w: torch.Tensor | None,
    g_b: torch.Tensor | None,
) -> float:
    """One pass of mini-batch Adam steps; streams influence contributions into ``acc``."""
    model.train()
    perm = torch.randperm(idx.shape[0], generator=generator).to(idx.device)
    total = torch.zeros((), dtype=torch.float64, device=idx.device)
    for start in range(0, idx.shape[0], batch_size):
        ids = perm[start : start + batch_size]
        if g_w is not None:
            pred, inner = model.forward_with_inner(idx[ids], g_w)
        else:
            pred, inner = model(idx[ids]), None
        residual = pred - y[ids]
        sq = residual.square()
        loss = (sq * weights[ids]).mean() if weights is not None else sq.mean()
        if inner is not None:
            acc.index_add_(0, ids, batch_contributions(residual, inner, g_b))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += sq.detach().double().sum()
    return float(total)


def _save(path: str | os.PathLike, state: dict, model: CompletionModel, optimizer: torch.optim.Optimizer,
          generator: torch.Generator) -> None:  # fmt: skip
    save_checkpoint(path, {**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "generator": generator.get_state()})  # fmt: skip


def _resume(path: str | os.PathLike, identity: dict[str, str], model: CompletionModel,
            optimizer: torch.optim.Optimizer, generator: torch.Generator, device: torch.device) -> dict:  # fmt: skip
    """Restore a checkpoint of this data and these settings into the arguments; return the loop state.

    The file stays in place, so a resume killed before its next checkpoint can start from it again.
    """
    saved = load_checkpoint(path, map_location=device, match=identity)
    model.load_state_dict(saved.pop("model"))
    optimizer.load_state_dict(saved.pop("optimizer"))
    generator.set_state(saved.pop("generator"))
    for key in identity:
        saved.pop(key)
    return saved
