"""Relative Lp and H1 losses on grids, with an explicit batch reduction."""

from __future__ import annotations

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_float

REDUCTIONS = ("mean", "sum", "none")


def _check_pair(pred: torch.Tensor, target: torch.Tensor, d: int) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.ndim != d + 2:
        raise ValueError(f"pred must have shape (batch, channels, {d} spatial axes), got {tuple(pred.shape)}")


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def relative_lp(pred: torch.Tensor, target: torch.Tensor, d: int, p: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """``‖pred − target‖_p / ‖target‖_p`` per sample and channel, averaged over channels.

    ``reduction`` over the batch: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one value per
    sample). Grid spacing cancels in the ratio.
    """
    _check_pair(pred, target, d)
    check_choice(reduction, "reduction", REDUCTIONS)
    diff = torch.linalg.vector_norm((pred - target).flatten(2), ord=p, dim=-1)
    ref = torch.linalg.vector_norm(target.flatten(2), ord=p, dim=-1)
    return _reduce((diff / ref).mean(1), reduction)


def _h1_energy(u: torch.Tensor, d: int, periodic: bool) -> torch.Tensor:
    """``Σ u² + Σ_k (∂_k u)²`` per sample and channel; central differences on ``[0, 1]^d``."""
    energy = u.flatten(2).pow(2).sum(-1)
    for k in range(d):
        axis = 2 + k
        n = u.shape[axis]
        if periodic:
            du = (torch.roll(u, -1, axis) - torch.roll(u, 1, axis)) * (n / 2.0)
        else:
            du = torch.gradient(u, spacing=1.0 / n, dim=axis)[0]
        energy = energy + du.flatten(2).pow(2).sum(-1)
    return energy


def relative_h1(pred: torch.Tensor, target: torch.Tensor, d: int, periodic: bool = True, reduction: str = "mean") -> torch.Tensor:
    """Relative H1 error ``sqrt(‖e‖² + ‖∇e‖²) / sqrt(‖y‖² + ‖∇y‖²)`` per sample and channel.

    Derivatives are central finite differences on the unit cube with spacing ``1/n`` (periodic
    wrap by default, one-sided at the boundary otherwise). Channels are averaged; ``reduction``
    over the batch as in :func:`relative_lp`.
    """
    _check_pair(pred, target, d)
    check_choice(reduction, "reduction", REDUCTIONS)
    err = _h1_energy(pred - target, d, periodic)
    ref = _h1_energy(target, d, periodic)
    return _reduce(torch.sqrt(err / ref).mean(1), reduction)


class LpLoss(nn.Module):
    """Module form of :func:`relative_lp` (``d`` spatial axes, exponent ``p``, batch ``reduction``)."""

    def __init__(self, d: int, p: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.d, self.p = d, check_positive_float(p, "p")
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return relative_lp(pred, target, self.d, self.p, self.reduction)


class H1Loss(nn.Module):
    """Module form of :func:`relative_h1`."""

    def __init__(self, d: int, periodic: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.d, self.periodic = d, periodic
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return relative_h1(pred, target, self.d, self.periodic, self.reduction)
