"""Factorized spectral convolution, with one weight tensor shared (jointly factorized) by all layers."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_int, check_value_type
from tensorkit.core import FORMATS, TensorFormat
from tensorkit.operators.contraction import IMPLEMENTATIONS, contract
from tensorkit.operators.weights import SpectralWeight

FFT_NORMS = ("forward", "backward", "ortho")
BLOCK_LAYOUTS = ("corners", "single")
logger = logging.getLogger(__name__)


def half_fft_unsupported(dtype: torch.dtype, device: torch.device, spatial: Sequence[int]) -> str | None:
    """Why FFTs of a ``dtype`` field of size ``spatial`` on ``device`` cannot run in half precision
    (``None`` when they can): only cuFFT has half-precision FFTs, for float16 and power-of-two sizes."""
    if torch.device(device).type != "cuda":
        return f"{torch.device(device).type} has no half-precision FFT"
    if dtype != torch.float16:
        return f"cuFFT has no {dtype} FFT (float16 only)"
    odd = [n for n in spatial if n & (n - 1)]
    if odd:
        return f"half-precision cuFFT needs power-of-two sizes, got {tuple(spatial)}"
    return None


def normalize_factorization(factorization: str | None) -> str:
    """``None``/``"dense"`` → ``"dense"``; Tucker/CP/TT names are case-insensitive."""
    if factorization is None:
        return "dense"
    if not isinstance(factorization, str):
        raise TypeError(f"factorization must be None or a string, got {factorization!r}")
    return check_choice(factorization.lower(), "factorization", tuple(FORMATS))


class FactorizedSpectralConv(nn.Module):
    """``n_layers`` spectral convolutions ``x ↦ IFFT(R_ℓ · FFT(x)) + b_ℓ`` with factorized ``R``.

    With ``d`` spatial axes and modes ``(m_1, …, m_d)`` (even), each layer keeps, on every axis but
    the last, the low ``[0, m_k/2)`` and the high ``[-m_k/2, 0)`` frequencies, and ``[0, m_d/2)`` on
    the last axis of the real-FFT spectrum. With ``blocks="corners"`` (the paper's layout) these
    form ``2^(d-1)`` corner blocks of shape ``(C_in, C_out, m_1/2, …, m_d/2)``; with
    ``blocks="single"`` (neuraloperator ≥ 1.0's layout, up to the order of the frequencies) one
    block ``(C_in, C_out, m_1, …, m_{d-1}, m_d/2)`` holds them all, so the factors of the leading
    frequency axes see low and high frequencies together. With ``joint=True`` the blocks of all
    layers form **one** complex tensor ``(n_blocks·L, C_in, C_out, …)`` (layer ℓ uses blocks
    ``[n_blocks·ℓ, n_blocks·(ℓ+1))``), factorized as one Tucker/CP/TT tensor; with ``joint=False``
    each layer has its own ``(n_blocks, C_in, C_out, …)`` tensor.

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : sequence of int
        Total number of kept modes per spatial axis (even numbers); its length sets ``d``.
    n_layers : int
    factorization : None, "dense", "tucker", "cp" or "tt"
    rank : float or int or sequence
        Budget fraction of the dense entry count or explicit ranks (see :meth:`tensorkit.core.TensorFormat.resolve_rank`).
    joint : bool
        One tensor shared by all layers (default) or one per layer.
    implementation : {"factorized", "reconstructed"}
        Contract with the factors directly or rebuild the dense weight first. Both give the same
        result and share parameter names.
    separable : bool
        Depthwise weights ``(…, C, m…)``; needs ``in_channels == out_channels``.
    fixed_rank_modes : sequence of int
        Tucker modes kept at full rank (``(0,)`` keeps the layer/block mode).
    blocks : {"corners", "single"}
        Layout of the kept frequencies: ``2^(d-1)`` corner blocks per layer or one block.
    fft_norm : {"forward", "backward", "ortho"}
    half_fft : bool
        For half-precision inputs (e.g. under ``torch.autocast``), run the FFTs in float16 where
        the device supports it (CUDA, power-of-two sizes; see :func:`half_fft_unsupported`) and
        fall back to float32 FFTs elsewhere, logging the reason once per reason. The contraction
        with the weights is always done in float32 (complex64). ``False``: float32 FFTs always.
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
        blocks: str = "corners",
        fft_norm: str = "forward",
        half_fft: bool = False,
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
        self.half_fft = check_value_type(half_fft, bool, "half_fft")
        self._logged_fallbacks: set[str] = set()
        self.separable = bool(separable)
        if self.separable and in_channels != out_channels:
            raise ValueError(f"separable=True needs in_channels == out_channels, got {in_channels} and {out_channels}")
        self.joint = bool(joint)
        self.blocks = check_choice(blocks, "blocks", BLOCK_LAYOUTS)
        corners = self.blocks == "corners"
        self.n_blocks = 2 ** (len(self.n_modes) - 1) if corners else 1
        self.block_modes = self.half_modes if corners else (*self.n_modes[:-1], self.half_modes[-1])
        if init_std == "auto":
            init_std = math.sqrt(2.0 / (in_channels + out_channels))
        channels = (in_channels,) if self.separable else (in_channels, out_channels)
        per_layer = (self.n_blocks, *channels, *self.block_modes)
        kwargs = dict(factorization=self.factorization, rank=rank, fixed_rank_modes=fixed_rank_modes,
                      std=init_std, generator=generator)
        if self.joint:
            self.weight = SpectralWeight((self.n_blocks * self.n_layers, *per_layer[1:]), **kwargs)
        else:
            self.weight = nn.ModuleList(SpectralWeight(per_layer, **kwargs) for _ in range(self.n_layers))
        self.bias = nn.Parameter(init_std * torch.randn(self.n_layers, out_channels, generator=generator))

    # -- weights ------------------------------------------------------------------------------
    def layer_weight(self, layer: int) -> TensorFormat:
        """The complex weight of ``layer``: shape ``(n_blocks, C_in, C_out, *block_modes)``, in its format."""
        if not 0 <= layer < self.n_layers:
            raise IndexError(f"layer must lie in [0, {self.n_layers - 1}], got {layer}")
        if not self.joint:
            return self.weight[layer].tensor()
        rows = slice(self.n_blocks * layer, self.n_blocks * (layer + 1))
        return self.weight.tensor().take(rows, 0)

    @property
    def n_spectral_parameters(self) -> int:
        """Stored complex entries of the spectral weights."""
        weights = [self.weight] if self.joint else list(self.weight)
        return sum(w.n_complex_parameters for w in weights)

    @property
    def compression_ratio(self) -> float:
        """Dense complex entry count of the spectral weights over the stored count."""
        channels = self.in_channels if self.separable else self.in_channels * self.out_channels
        dense = self.n_layers * self.n_blocks * channels * math.prod(self.block_modes)
        return dense / self.n_spectral_parameters

    # -- forward ------------------------------------------------------------------------------
    def _axis_plan(self, spatial: Sequence[int]) -> tuple[list[tuple[int, int, int]], int]:
        """Frequencies kept on a grid of size ``spatial``: for each leading axis ``(n, low, high)``
        (low ``[0, low)`` and high ``[n - high, n)``), and ``a`` columns ``[0, a)`` of the last
        (rfft) axis. On a grid too coarse for the modes only the resolved frequencies are kept
        (the weight is truncated: low blocks keep their first, high blocks their last entries)."""
        lead = [(n, min(h, (n + 1) // 2), min(h, n // 2)) for h, n in zip(self.half_modes[:-1], spatial[:-1])]
        return lead, min(self.half_modes[-1], spatial[-1] // 2 + 1)

    def _reduced_spectrum(self, x: torch.Tensor, lead: list[tuple[int, int, int]], a: int) -> torch.Tensor:
        """The kept Fourier coefficients (batch, C, low_1 + high_1, …, a).

        Axis by axis (equal to slicing ``rfftn``, whose normalisation factorises over axes): the
        real FFT of the last axis first, then only the ``a`` kept columns go through the complex
        FFTs of the leading axes, which is several times cheaper than transforming every column.
        """
        norm = self.fft_norm
        x_ft = torch.fft.rfft(x, dim=-1, norm=norm)[..., :a]
        for k, (n, lo, hi) in enumerate(lead):
            axis = 2 + k
            x_ft = torch.fft.fft(x_ft, dim=axis, norm=norm)
            if lo + hi < n:
                x_ft = torch.cat([x_ft.narrow(axis, 0, lo), x_ft.narrow(axis, n - hi, hi)], dim=axis)
        return x_ft

    def _full_field(self, out: torch.Tensor, lead: list[tuple[int, int, int]], spatial: Sequence[int]) -> torch.Tensor:
        """Inverse of :meth:`_reduced_spectrum`: zero the dropped frequencies and transform back."""
        norm = self.fft_norm
        for k, (n, lo, hi) in enumerate(lead):
            axis = 2 + k
            if lo + hi < n:
                gap = list(out.shape)
                gap[axis] = n - lo - hi
                out = torch.cat([out.narrow(axis, 0, lo), out.new_zeros(gap), out.narrow(axis, lo, hi)], dim=axis)
            out = torch.fft.ifft(out, dim=axis, norm=norm)
        return torch.fft.irfft(out, n=spatial[-1], dim=-1, norm=norm)  # zero-pads the rfft columns ≥ a

    def _to_kept_grid(self, x_red: torch.Tensor, lead: list[tuple[int, int, int]], a: int) -> torch.Tensor:
        """Place the resolved frequencies of :meth:`_reduced_spectrum` on the full kept grid
        ``(…, m_1, …, m_{d-1}, m_d/2)`` (low ``[0, h)``, high ``[-h, 0)`` on each leading axis), with
        zeros for frequencies a coarse grid does not resolve; a no-op on the usual grids."""
        for k, ((_, lo, hi), h) in enumerate(zip(lead, self.half_modes)):
            if lo < h or hi < h:
                axis = 2 + k
                gap = list(x_red.shape)
                gap[axis] = 2 * h - lo - hi
                x_red = torch.cat([x_red.narrow(axis, 0, lo), x_red.new_zeros(gap), x_red.narrow(axis, lo, hi)], dim=axis)
        if a < self.half_modes[-1]:
            gap = list(x_red.shape)
            gap[-1] = self.half_modes[-1] - a
            x_red = torch.cat([x_red, x_red.new_zeros(gap)], dim=-1)
        return x_red

    def _from_kept_grid(self, out: torch.Tensor, lead: list[tuple[int, int, int]], a: int) -> torch.Tensor:
        """Inverse of :meth:`_to_kept_grid`: keep the resolved frequencies only."""
        for k, ((_, lo, hi), h) in enumerate(zip(lead, self.half_modes)):
            if lo < h or hi < h:
                axis = 2 + k
                out = torch.cat([out.narrow(axis, 0, lo), out.narrow(axis, 2 * h - hi, hi)], dim=axis)
        return out[..., :a]

    def _split_blocks(self, kept: torch.Tensor) -> torch.Tensor:
        """(batch, C, m_1, …, m_{d-1}, h_d) → (batch, n_blocks, C, *block_modes)."""
        if self.blocks == "single":
            return kept.unsqueeze(1)
        d = len(self.n_modes)
        batch, channels = kept.shape[:2]
        split = [s for h in self.half_modes[:-1] for s in (2, h)] + [self.half_modes[-1]]
        order = [0, *(2 + 2 * k for k in range(d - 1)), 1, *(3 + 2 * k for k in range(d - 1)), 2 * d]
        return kept.reshape(batch, channels, *split).permute(order).reshape(batch, self.n_blocks, channels, *self.half_modes)

    def _merge_blocks(self, out: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`_split_blocks`: (batch, n_blocks, C, *block_modes) → (batch, C, m_1, …, h_d)."""
        if self.blocks == "single":
            return out.squeeze(1)
        d = len(self.n_modes)
        batch, channels = out.shape[0], out.shape[2]
        order = [0, d, *(v for k in range(d - 1) for v in (1 + k, d + 1 + k)), 2 * d]
        out = out.reshape(batch, *(2,) * (d - 1), channels, *self.half_modes).permute(order)
        return out.reshape(batch, channels, *self.n_modes[:-1], self.half_modes[-1])

    def forward(self, x: torch.Tensor, layer: int = 0) -> torch.Tensor:
        """Apply layer ``layer`` to ``x`` of shape (batch, in_channels, n_1, …, n_d).

        Any grid works: the output has the input's resolution, and a grid coarser than the modes
        uses the modes it resolves (the weight entries of the other frequencies meet zeros).
        """
        d = len(self.n_modes)
        if x.ndim != d + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (batch, {self.in_channels}, {d} spatial axes), got {tuple(x.shape)}"
            )
        dtype = x.dtype
        spatial = tuple(x.shape[2:])
        fft_dtype = self._fft_dtype(x)
        # the spectral part is computed here in float32 (or float16 FFTs), whatever autocast says
        with torch.autocast(x.device.type, enabled=False):
            lead, a = self._axis_plan(spatial)
            real = torch.float32 if fft_dtype == torch.float16 else fft_dtype  # precision of the contraction
            x_red = self._reduced_spectrum(x.to(fft_dtype), lead, a).to(real.to_complex())
            stacked = self._split_blocks(self._to_kept_grid(x_red, lead, a))
            out = contract(stacked, self.layer_weight(layer), self.separable, self.implementation)
            out = self._from_kept_grid(self._merge_blocks(out), lead, a)
            if fft_dtype == torch.float16:
                out = out.to(torch.complex32)
            y = self._full_field(out, lead, spatial).to(real)
            y = y + self.bias[layer].reshape(1, -1, *(1,) * d)
        return y.to(dtype)

    def _fft_dtype(self, x: torch.Tensor) -> torch.dtype:
        """float16 for half-precision FFTs where asked and supported, else float32 (logged once per reason
        when half precision was asked for but is not supported)."""
        if x.dtype not in (torch.float16, torch.bfloat16):
            return x.dtype
        if not self.half_fft:
            return torch.float32
        reason = half_fft_unsupported(x.dtype, x.device, x.shape[2:])
        if reason is None:
            return torch.float16
        if reason not in self._logged_fallbacks:
            self._logged_fallbacks.add(reason)
            logger.warning("spectral convolution: float32 FFTs instead of half precision (%s)", reason)
        return torch.float32

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}, n_layers={self.n_layers}, "
            f"factorization={self.factorization!r}, joint={self.joint}, implementation={self.implementation!r}, "
            f"separable={self.separable}, blocks={self.blocks!r}, half_fft={self.half_fft}"
        )
