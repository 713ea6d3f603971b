"""Channel-wise Gaussian normaliser whose statistics travel in ``state_dict``."""

from __future__ import annotations

import torch
from torch import nn


class GaussianNormalizer(nn.Module):
    """``(x − mean_c)/std_c`` with one mean and std per channel, fitted on training data.

    Statistics are buffers, so they are saved in checkpoints and follow ``.to(device)``.
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def fit(self, x: torch.Tensor) -> GaussianNormalizer:
        """Estimate per-channel statistics from ``x`` (N, C, …); returns self."""
        if x.ndim < 2 or x.shape[1] != self.mean.numel():
            raise ValueError(f"x must have shape (N, {self.mean.numel()}, ...), got {tuple(x.shape)}")
        dims = [0, *range(2, x.ndim)]
        self.mean.copy_(x.mean(dims))
        self.std.copy_(x.std(dims))
        return self

    def _view(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return t.reshape(1, -1, *(1,) * (like.ndim - 2)).to(like.dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._view(self.mean, x)) / (self._view(self.std, x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self._view(self.std, x) + self.eps) + self._view(self.mean, x)
