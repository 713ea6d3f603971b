"""Factorized spectral convolution, with one weight tensor shared (jointly factorized) by all layers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_int
from tensorkit.operators.contraction import IMPLEMENTATIONS, contract
from tensorkit.operators.weights import SpectralTensor, SpectralWeight, index_mode

FFT_NORMS = ("forward", "backward", "ortho")


def normalize_factorization(factorization: str | None) -> str:
    """``None``/``"dense"`` → ``"dense"``; Tucker/CP/TT names are case-insensitive."""
    if factorization is None:
        return "dense"
    if not isinstance(factorization, str):
        raise TypeError(f"factorization must be None or a string, got {factorization!r}")
    return check_choice(factorization.lower(), "factorization", ("dense", "tucker", "cp", "tt"))


class FactorizedSpectralConv(nn.Module):
    """``n_layers`` spectral convolutions ``x ↦ IFFT(R_ℓ · FFT(x)) + b_ℓ`` with factorized ``R``.

    With ``d`` spatial axes and modes ``(m_1, …, m_d)`` (even), each layer keeps ``2^(d-1)`` corner
    blocks of the real-FFT spectrum: for every axis but the last the low ``[0, m_k/2)`` or the high
    ``[-m_k/2, 0)`` frequencies, and ``[0, m_d/2)`` on the last. With ``joint=True`` all blocks of
    all layers form **one** complex tensor of shape ``(2^(d-1)·L, C_in, C_out, m_1/2, …, m_d/2)``
    (layer ℓ uses blocks ``[2^(d-1)·ℓ, 2^(d-1)·(ℓ+1))``), factorized as one Tucker/CP/TT tensor;
    with ``joint=False`` each layer has its own ``(2^(d-1), C_in, C_out, …)`` tensor.

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : sequence of int
        Total number of kept modes per spatial axis (even numbers); its length sets ``d``.
    n_layers : int
    factorization : None, "dense", "tucker", "cp" or "tt"
    rank : float or int or sequence
        Budget fraction of the dense entry count or explicit ranks (see ``resolve_rank``).
    joint : bool
        One tensor shared by all layers (default) or one per layer.
    implementation : {"factorized", "reconstructed"}
        Contract with the factors directly or rebuild the dense weight first. Both give the same
        result and share parameter names.
    separable : bool
        Depthwise weights ``(…, C, m…)``; needs ``in_channels == out_channels``.
    fixed_rank_modes : sequence of int
        Tucker modes kept at full rank (``(0,)`` keeps the layer/block mode).
    fft_norm : {"forward", "backward", "ortho"}
    init_std : float or "auto"
        Spread of the dense weight at initialisation; ``"auto"`` is ``sqrt(2/(C_in + C_out))``.
    generator : torch.Generator, optional
        Randomness of the initialisation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: Sequence[int],
        n_layers: int = 1,
        factorization: str | None = None,
        rank: Any = 0.1,
        joint: bool = True,
        implementation: str = "factorized",
        separable: bool = False,
        fixed_rank_modes: Sequence[int] = (),
        fft_norm: str = "forward",
        init_std: float | str = "auto",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        if isinstance(n_modes, int) or not isinstance(n_modes, Sequence) or not 1 <= len(n_modes) <= 3:
            raise ValueError(f"n_modes must be a sequence of 1 to 3 even ints, got {n_modes!r}")
        for k, m in enumerate(n_modes):
            check_positive_int(m, f"n_modes[{k}]")
            if m % 2:
                raise ValueError(f"n_modes[{k}] must be even (half the modes are low, half high), got {m}")
        self.n_modes = tuple(int(m) for m in n_modes)
        self.half_modes = tuple(m // 2 for m in self.n_modes)
        self.factorization = normalize_factorization(factorization)
        self.implementation = check_choice(implementation, "implementation", IMPLEMENTATIONS)
        self.fft_norm = check_choice(fft_norm, "fft_norm", FFT_NORMS)
        self.separable = bool(separable)
        if self.separable and in_channels != out_channels:
            raise ValueError(f"separable=True needs in_channels == out_channels, got {in_channels} and {out_channels}")
        self.joint = bool(joint)
        self.n_blocks = 2 ** (len(self.n_modes) - 1)
        if init_std == "auto":
            init_std = math.sqrt(2.0 / (in_channels + out_channels))
        channels = (in_channels,) if self.separable else (in_channels, out_channels)
        per_layer = (self.n_blocks, *channels, *self.half_modes)
        kwargs = dict(factorization=self.factorization, rank=rank, fixed_rank_modes=fixed_rank_modes,
                      std=init_std, generator=generator)
        if self.joint:
            self.weight = SpectralWeight((self.n_blocks * self.n_layers, *per_layer[1:]), **kwargs)
        else:
            self.weight = nn.ModuleList(SpectralWeight(per_layer, **kwargs) for _ in range(self.n_layers))
        self.bias = nn.Parameter(init_std * torch.randn(self.n_layers, out_channels, generator=generator))

    # -- weights ------------------------------------------------------------------------------
    def layer_weight(self, layer: int) -> SpectralTensor:
        """The complex weight of ``layer``: shape ``(2^(d-1), C_in, C_out, m/2…)``, in its format."""
        if not 0 <= layer < self.n_layers:
            raise IndexError(f"layer must lie in [0, {self.n_layers - 1}], got {layer}")
        if not self.joint:
            return self.weight[layer].tensor()
        blocks = slice(self.n_blocks * layer, self.n_blocks * (layer + 1))
        return index_mode(self.weight.tensor(), 0, blocks)

    @property
    def n_spectral_parameters(self) -> int:
        """Stored complex entries of the spectral weights."""
        weights = [self.weight] if self.joint else list(self.weight)
        return sum(w.n_complex_parameters for w in weights)

    @property
    def compression_ratio(self) -> float:
        """Dense complex entry count of the spectral weights over the stored count."""
        channels = self.in_channels if self.separable else self.in_channels * self.out_channels
        dense = self.n_layers * self.n_blocks * channels * math.prod(self.half_modes)
        return dense / self.n_spectral_parameters

    # -- forward ------------------------------------------------------------------------------
    def _block_slices(self, spatial: Sequence[int]) -> list[tuple[tuple[slice, ...], tuple[slice, ...]]]:
        """For each of the ``2^(d-1)`` corner blocks: (slices into the rfft spectrum, slices into the
        block's mode axes). On a grid too coarse for the modes, only the frequencies it has are
        used (the weight is truncated: low blocks keep their first, high blocks their last entries)."""
        d = len(spatial)
        per_axis = []
        for k, (h, n) in enumerate(zip(self.half_modes, spatial)):
            if k == d - 1:
                a = min(h, n // 2 + 1)
                per_axis.append([(slice(0, a), slice(0, a))])
            else:
                low, high = min(h, (n + 1) // 2), min(h, n // 2)
                per_axis.append([(slice(0, low), slice(0, low)), (slice(n - high, n), slice(h - high, h))])
        return [tuple(zip(*combo)) for combo in itertools.product(*per_axis)]

    def forward(self, x: torch.Tensor, layer: int = 0) -> torch.Tensor:
        """Apply layer ``layer`` to ``x`` of shape (batch, in_channels, n_1, …, n_d).

        Any grid works: the output has the input's resolution, and a grid coarser than the modes
        uses the modes it resolves.
        """
        d = len(self.n_modes)
        if x.ndim != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (batch, {self.in_channels}, {d} spatial axes), got {tuple(x.shape)}"
            )
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):  # half-precision FFTs need power-of-two sizes
            x = x.float()
        axes = tuple(range(-d, 0))
        spatial = x.shape[2:]
        x_ft = torch.fft.rfftn(x, dim=axes, norm=self.fft_norm)
        blocks = [((Ellipsis, *spec), (Ellipsis, *modes)) for spec, modes in self._block_slices(spatial)]
        stacked = x_ft.new_zeros((x.shape[0], self.n_blocks, self.in_channels, *self.half_modes))
        for j, (spec, modes) in enumerate(blocks):
            stacked[:, j][modes] = x_ft[spec]
        out = contract(stacked, self.layer_weight(layer), self.separable, self.implementation)
        out_ft = x_ft.new_zeros((x.shape[0], self.out_channels, *x_ft.shape[2:]))
        for j, (spec, modes) in enumerate(blocks):
            out_ft[spec] = out[:, j][modes]
        y = torch.fft.irfftn(out_ft, s=spatial, dim=axes, norm=self.fft_norm)
        y = y + self.bias[layer].reshape(1, -1, *(1,) * d)
        return y.to(dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}, n_layers={self.n_layers}, "
            f"factorization={self.factorization!r}, joint={self.joint}, implementation={self.implementation!r}, "
            f"separable={self.separable}"
        )
