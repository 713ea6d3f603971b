"""Compare augmentation arms (sampler × labeler) on one shared Step-1 model per seed.

Arms: ``none`` (no augmentation), ``dain`` (influence sampler, model labels), ``uniform``,
``frequency`` and ``dain_constant`` (influence cells labelled with the training mean, a control).
Metrics are the real RMSE (``√MSE``) and the MAE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from tensorkit._validation import check_choice
from tensorkit.completion.estimator import DAIN

__all__ = ["ARMS", "compare_arms", "mae", "rmse", "summarize"]

ARMS: dict[str, tuple[str, str]] = {
    "none": ("none", "model"),
    "dain": ("influence", "model"),
    "uniform": ("uniform", "model"),
    "frequency": ("frequency", "model"),
    "dain_constant": ("influence", "constant"),
}


def rmse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Root mean squared error, ``√(mean (pred − target)²)`` (the real RMSE, not the MSE)."""
    return float((pred.double() - target.double()).square().mean().sqrt())


def mae(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute error."""
    return float((pred.double() - target.double()).abs().mean())


def compare_arms(
    train_indices: torch.Tensor,
    train_values: torch.Tensor,
    test_indices: torch.Tensor,
    test_values: torch.Tensor,
    *,
    arms: Sequence[str] = tuple(ARMS),
    seeds: Iterable[int] = (0,),
    shape: Sequence[int] | None = None,
    val_indices: torch.Tensor | None = None,
    val_values: torch.Tensor | None = None,
    test_views: Mapping[str, torch.Tensor] | None = None,
    extra: Mapping[str, Any] | None = None,
    **dain_options: Any,
) -> list[dict[str, Any]]:
    """Run every arm for every seed and return tidy rows.

    Each seed trains one Step-1 model (with streaming influence); every arm reuses it, its split and
    its ``M``. ``test_views`` maps a view name to a boolean mask over the test rows (e.g. ``"unseen"``
    cells); RMSE/MAE are reported on all rows and on each view. ``extra`` is copied into every row
    (e.g. the fold). ``dain_options`` go to :class:`DAIN`.
    """
    for arm in arms:
        check_choice(arm, "arms", tuple(ARMS))
    rows = []
    for seed in seeds:
        base = DAIN(sampler="none", seed=seed, **dain_options).fit(
            train_indices, train_values, shape=shape, val_indices=val_indices, val_values=val_values
        )
        for arm in arms:
            sampler, labeler = ARMS[arm]
            fitted = base if sampler == "none" else base.with_arm(sampler, labeler)
            pred = fitted.predict(test_indices)
            result = fitted.result_
            row = {
                **(extra or {}), "arm": arm, "seed": seed, "rmse": rmse(pred, test_values), "mae": mae(pred, test_values),
                "n_augmented": int(fitted.augmented_indices_.shape[0]), "best_epoch": result.best_epoch,
                "stop_reason": result.stop_reason, "seconds_per_step": result.seconds / max(result.n_steps, 1),
            }  # fmt: skip
            for view, mask in (test_views or {}).items():
                row[f"rmse_{view}"] = rmse(pred[mask], test_values[mask]) if mask.any() else float("nan")
                row[f"mae_{view}"] = mae(pred[mask], test_values[mask]) if mask.any() else float("nan")
            rows.append(row)
    return rows


def summarize(rows: Sequence[Mapping[str, Any]], metric: str = "rmse", by: Sequence[str] = ("arm",)) -> list[dict[str, Any]]:
    """Mean and sample standard deviation of ``metric`` grouped by ``by`` (order of first appearance)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(float(row[metric]))
    out = []
    for key, vals in groups.items():
        t = torch.tensor(vals, dtype=torch.float64)
        sd = float(t.std()) if len(vals) > 1 else 0.0
        out.append({**dict(zip(by, key)), f"{metric}_mean": float(t.mean()), f"{metric}_sd": sd, "n": len(vals)})
    return out
