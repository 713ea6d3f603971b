"""Channel-wise Gaussian normaliser whose statistics travel in ``state_dict``, fitted in one pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ChannelMoments:
    """Per-channel count, mean and sum of squared deviations (``m2``), accumulated in float64.

    Moments of separate batches merge exactly (Chan, Golub & LeVeque's parallel update), so the
    statistics of a data set read in batches, or in shards on several ranks, equal those of the
    whole set up to float64 rounding. All fields are float64 tensors on the data's device; nothing
    is synchronised with the host.
    """

    count: torch.Tensor
    mean: torch.Tensor
    m2: torch.Tensor

    @classmethod
    def of(cls, x: torch.Tensor) -> ChannelMoments:
        """Moments of ``x`` (N, C, …) over every dim but the channel dim 1."""
        if x.ndim < 2:
            raise ValueError(f"x must have shape (N, C, ...), got {tuple(x.shape)}")
        dims = [0, *range(2, x.ndim)]
        x64 = x.detach().to(torch.float64)
        mean = x64.mean(dims)
        m2 = ((x64 - mean.reshape(1, -1, *(1,) * (x.ndim - 2))) ** 2).sum(dims)
        count = torch.tensor(x.numel() // max(x.shape[1], 1), dtype=torch.float64, device=x.device)
        return cls(count, mean, m2)

    def merge(self, other: ChannelMoments) -> ChannelMoments:
        """The moments of both data sets together."""
        count = self.count + other.count
        delta = other.mean - self.mean
        share = other.count / count
        return ChannelMoments(count, self.mean + delta * share, self.m2 + other.m2 + delta**2 * self.count * share)

    @property
    def std(self) -> torch.Tensor:
        """Unbiased per-channel standard deviation (``m2 / (count − 1)``)."""
        return (self.m2 / (self.count - 1)).sqrt()


class GaussianNormalizer(nn.Module):
    """``(x − mean_c)/std_c`` with one mean and std per channel, fitted on training data.

    Statistics are buffers, so they are saved in checkpoints and follow ``.to(device)``. They are
    accumulated in float64 (:class:`ChannelMoments`) whether fitted on one tensor or on a stream
    of batches.
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
        return self.fit_moments(ChannelMoments.of(x))

    def fit_moments(self, moments: ChannelMoments) -> GaussianNormalizer:
        """Take the statistics of already accumulated ``moments`` (e.g. of a streamed data set); returns self."""
        if moments.mean.numel() != self.mean.numel():
            raise ValueError(f"moments must have {self.mean.numel()} channels, got {moments.mean.numel()}")
        self.mean.copy_(moments.mean)
        self.std.copy_(moments.std)
        return self

    def _view(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return t.reshape(1, -1, *(1,) * (like.ndim - 2)).to(like.dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self._view(self.mean, x)) / (self._view(self.std, x) + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self._view(self.std, x) + self.eps) + self._view(self.mean, x)
