"""Pointwise building blocks of the FNO backbone: channel linear maps, MLPs, skips, norms, padding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tensorkit._validation import check_choice, check_positive_float

SKIPS = ("linear", "soft-gating", "identity")
NORMS = (None, "instance_norm", "group_norm")


class ChannelLinear(nn.Module):
    """A 1×1 convolution in any dimension: ``y[b, o, …] = Σ_i W[o, i] x[b, i, …] + c[o]``."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_channels)  # the default init of nn.Conv1d with kernel size 1
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv1d(x.flatten(2), self.weight[:, :, None], self.bias)
        return y.reshape(x.shape[0], -1, *x.shape[2:])


class ChannelMLP(nn.Module):
    """Two pointwise linear maps with a GELU in between."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int) -> None:
        super().__init__()
        self.fc1 = ChannelLinear(in_channels, hidden_channels)
        self.fc2 = ChannelLinear(hidden_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SoftGating(nn.Module):
    """Channel-wise scaling ``x·w`` (``w`` initialised to one)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.reshape(1, -1, *(1,) * (x.ndim - 2))


def make_skip(kind: str, channels: int) -> nn.Module:
    """A skip connection: ``"linear"`` (1×1 conv, no bias), ``"soft-gating"`` or ``"identity"``."""
    check_choice(kind, "skip", SKIPS)
    if kind == "linear":
        return ChannelLinear(channels, channels, bias=False)
    if kind == "soft-gating":
        return SoftGating(channels)
    return nn.Identity()


def make_norm(kind: str | None, channels: int) -> nn.Module:
    """A discretization-invariant norm: instance norm or group norm with one group (or none)."""
    check_choice(kind, "norm", NORMS)
    if kind == "instance_norm":
        return InstanceNorm()
    if kind == "group_norm":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class InstanceNorm(nn.Module):
    """Instance norm over all spatial axes (any dimension), without affine parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(2, x.ndim))
        mean = x.mean(dims, keepdim=True)
        var = x.var(dims, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + 1e-5)


class DomainPadding(nn.Module):
    """Symmetric zero padding of every spatial axis by ``round(fraction·n)`` points, and its removal."""

    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = check_positive_float(fraction, "domain_padding", allow_zero=True)
        if self.fraction >= 1:
            raise ValueError(f"domain_padding must be a fraction in [0, 1), got {fraction}")

    def widths(self, spatial: torch.Size) -> list[int]:
        return [int(round(self.fraction * n)) for n in spatial]

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for w in reversed(self.widths(x.shape[2:])):
            pads += [w, w]
        return F.pad(x, pads)

    def unpad(self, x: torch.Tensor, spatial: torch.Size) -> torch.Tensor:
        index = [slice(None), slice(None)]
        index += [slice(w, w + n) for w, n in zip(self.widths(spatial), spatial)]
        return x[tuple(index)]


def grid_embedding(x: torch.Tensor) -> torch.Tensor:
    """Append one channel per spatial axis with the coordinate ``i/n`` in ``[0, 1)``."""
    coords = [torch.arange(n, device=x.device, dtype=x.dtype) / n for n in x.shape[2:]]
    mesh = torch.meshgrid(*coords, indexing="ij")
    grid = torch.stack(mesh, 0).unsqueeze(0).expand(x.shape[0], -1, *x.shape[2:])
    return torch.cat([x, grid], dim=1)
