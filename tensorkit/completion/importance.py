"""Entity importance: per-mode aggregation of cell influence scores into probability vectors."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from tensorkit._validation import check_choice

__all__ = ["entity_importance", "entity_frequency"]


def entity_frequency(idx: torch.Tensor, shape: Sequence[int]) -> list[torch.Tensor]:
    """Per-mode training frequency of every entity, normalised to sum to 1 (float64)."""
    out = []
    for k, n in enumerate(shape):
        counts = torch.bincount(idx[:, k], minlength=n).double()
        out.append(counts / counts.sum())
    return out


def entity_importance(
    scores: torch.Tensor,
    idx: torch.Tensor,
    shape: Sequence[int],
    transform: str = "abs",
    fallback: str = "frequency",
) -> list[torch.Tensor]:
    """``EI_n(i) = Σ_{x: x_n = i} s(x) / Σ_x s(x)`` for every mode ``n`` (float64).

    Parameters
    ----------
    scores : torch.Tensor
        Influence score of every training cell, shape ``(n,)``.
    idx : torch.Tensor
        Training cells, ``(n, N)`` long.
    shape : sequence of int
        Mode sizes; entities that never occur get probability 0.
    transform : {"abs", "positive"}
        ``s = |I|`` (the reference) or ``s = max(I, 0)`` (proponents only).
    fallback : {"frequency", "raise"}
        What to do when the transformed scores sum to zero or are not finite (e.g. best epoch 0):
        use training frequencies with a warning, or raise ``ValueError``. Never NaN.
    """
    check_choice(transform, "transform", ("abs", "positive"))
    check_choice(fallback, "fallback", ("frequency", "raise"))
    if scores.shape != (idx.shape[0],):
        raise ValueError(f"scores must have shape ({idx.shape[0]},), got {tuple(scores.shape)}")
    s = scores.double().abs() if transform == "abs" else scores.double().clamp_min(0)
    total = s.sum()
    if not torch.isfinite(total) or total <= 0:
        message = f"influence scores are degenerate (sum of {transform} scores = {float(total)})"
        if fallback == "raise":
            raise ValueError(message)
        warnings.warn(message + "; falling back to entity frequencies", RuntimeWarning, stacklevel=2)
        return entity_frequency(idx, shape)
    return [torch.bincount(idx[:, k], weights=s, minlength=n) / total for k, n in enumerate(shape)]
