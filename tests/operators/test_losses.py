"""Relative L2/H1 losses against hand-computed values and neuraloperator's (with its sum reduction)."""

import math

import pytest
import torch

from tensorkit.operators.losses import H1Loss, LpLoss, relative_h1, relative_lp


def test_relative_l2_of_a_scaled_field():
    y = torch.randn(4, 2, 8, 8)
    assert relative_lp(1.1 * y, y, d=2).item() == pytest.approx(0.1, rel=1e-5)
    per_sample = relative_lp(y + 0.0, y, d=2, reduction="none")
    assert per_sample.shape == (4,) and torch.all(per_sample == 0)


def test_relative_h1_of_sines_matches_the_analytic_value():
    # e = ε sin(2πx) on a fine periodic grid: ‖e‖² ∝ ε²/2·(1 + (2π)²); target y = sin(2πx) + 1
    n = 256
    x = torch.arange(n, dtype=torch.float64) / n
    y = (torch.sin(2 * math.pi * x) + 1).reshape(1, 1, n)
    e = 0.01 * torch.sin(2 * math.pi * x).reshape(1, 1, n)
    expected = math.sqrt(0.01**2 * 0.5 * (1 + 4 * math.pi**2) / (1 + 0.5 * (1 + 4 * math.pi**2)))
    assert relative_h1(y + e, y, d=1).item() == pytest.approx(expected, rel=1e-3)


def test_reductions_are_explicit():
    pred, y = torch.randn(5, 1, 8, 8), torch.randn(5, 1, 8, 8)
    none = LpLoss(2, reduction="none")(pred, y)
    assert LpLoss(2, reduction="sum")(pred, y).item() == pytest.approx(none.sum().item(), rel=1e-6)
    assert LpLoss(2)(pred, y).item() == pytest.approx(none.mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        LpLoss(2, reduction="avg")
    with pytest.raises(ValueError, match="same shape"):
        relative_lp(pred, y[:, :, :4], d=2)


def test_agree_with_neuraloperator_up_to_its_batch_sum():
    neuralop_losses = pytest.importorskip("neuralop.losses")
    pred, y = torch.randn(6, 1, 16, 16), torch.randn(6, 1, 16, 16)
    ref_l2 = neuralop_losses.LpLoss(d=2, p=2)(pred, y)
    assert LpLoss(2, reduction="sum")(pred, y).item() == pytest.approx(ref_l2.item(), rel=1e-5)
    ref_h1 = neuralop_losses.H1Loss(d=2)(pred, y)
    assert H1Loss(2, reduction="sum")(pred, y).item() == pytest.approx(ref_h1.item(), rel=1e-4)
