"""TracIn influence restricted to the output layer, in the streaming form DAIN needs.

For a cell ``c`` with residual ``r(c) = ŷ(c) − y(c)`` and features ``h(c)``, the squared-error
gradient of the head weight is ``2 r(c) h(c)``. With the summed validation gradient
``G_e = Σ_v r(v) h(v)`` of checkpoint ``e``, a training cell's score is

    I(x) = Σ_e ⟨r(x) h(x), G_e⟩  (+ r(x) Σ_v r(v) with the bias option),

positive when a descent step on ``x`` lowers the validation loss (a proponent). Constant factors
(the 2, a fixed learning rate) are dropped; they vanish after normalisation. Scores are float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tensorkit._validation import check_index_range
from tensorkit.completion.models import CompletionModel

__all__ = ["ValidationPass", "batch_contributions", "cell_scores", "validation_pass"]


@dataclass
class ValidationPass:
    """Validation loss (mean squared error) and the summed head gradient of one checkpoint."""

    loss: float
    weight_gradient: torch.Tensor  # Σ_v r(v) h(v), float64, shaped like head.weight[0]
    bias_gradient: torch.Tensor  # Σ_v r(v), float64 scalar


@torch.no_grad()
def validation_pass(
    model: CompletionModel, idx: torch.Tensor, y: torch.Tensor, batch_size: int = 65536, with_gradient: bool = True
) -> ValidationPass:
    """One pass over the validation cells in eval mode: loss and (optionally) ``G_e``."""
    was_training = model.training
    model.eval()
    sq = torch.zeros((), dtype=torch.float64, device=idx.device)
    grad_w = torch.zeros(model.n_features, dtype=torch.float64, device=idx.device)
    grad_b = torch.zeros((), dtype=torch.float64, device=idx.device)
    for start in range(0, idx.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        if with_gradient:
            r, g = model.residual_and_head_gradient(idx[sl], y[sl])
            grad_w += g.double()
            grad_b += r.double().sum()
        else:
            r = model(idx[sl]) - y[sl].to(model.head.weight.dtype)
        sq += r.double().square().sum()
    model.train(was_training)
    return ValidationPass(float(sq) / idx.shape[0], grad_w, grad_b)


def batch_contributions(
    residuals: torch.Tensor, inner: torch.Tensor, bias_gradient: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-cell scores ``r(x)·(⟨h(x), G⟩ [+ Σ_v r(v)])`` of one batch, float64."""
    total = inner.double()
    if bias_gradient is not None:
        total = total + bias_gradient
    return residuals.detach().double() * total


@torch.no_grad()
def cell_scores(
    model: CompletionModel,
    train_idx: torch.Tensor,
    train_y: torch.Tensor,
    val_idx: torch.Tensor,
    val_y: torch.Tensor,
    include_bias: bool = False,
    batch_size: int = 65536,
) -> torch.Tensor:
    """Influence scores of every training cell at one fixed checkpoint (the streaming step, un-streamed)."""
    check_index_range(train_idx, model.shape, "train_idx")  # the backbones do not check per batch
    check_index_range(val_idx, model.shape, "val_idx")
    val = validation_pass(model, val_idx, val_y, batch_size)
    out = []
    for start in range(0, train_idx.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        pred, inner = model.forward_with_inner(train_idx[sl], val.weight_gradient)
        r = pred - train_y[sl].to(pred.dtype)
        out.append(batch_contributions(r, inner, val.bias_gradient if include_bias else None))
    return torch.cat(out)
