"""The (tensorized) Fourier neural operator with the improved backbone."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from tensorkit._validation import check_choice, check_positive_float, check_positive_int, check_value_type
from tensorkit.operators.layers import ChannelMLP, DomainPadding, grid_embedding, make_norm, make_skip
from tensorkit.operators.spectral_conv import FactorizedSpectralConv

if TYPE_CHECKING:
    from tensorkit.operators.predictor import TrainedOperator

POSITIONAL_EMBEDDINGS = (None, "grid")


class TFNO(nn.Module):
    """Tensorized Fourier neural operator (1-D, 2-D or 3-D), resolution-invariant.

    ``x`` (batch, in_channels, n_1, …, n_d) → optional grid coordinates → lifting MLP → ``n_layers``
    Fourier blocks → projection MLP → (batch, out_channels, n_1, …, n_d). A Fourier block is::

        z = act(norm(K_ℓ x) + skip(x))          # spectral conv + "fno_skip"
        x = act(norm(mlp(z)) + gate(x))         # channel MLP + "channel_mlp_skip" (double skip)

    (no activation after the last block; ``preactivation`` applies act/norm before the conv).
    All spectral weights live in one :class:`FactorizedSpectralConv`, jointly factorized across
    layers when ``joint=True``.

    Parameters
    ----------
    n_modes : sequence of int
        Kept Fourier modes per spatial axis (even); its length is the dimension ``d``.
    in_channels, out_channels, hidden_channels : int
    n_layers : int
    factorization : None, "tucker", "cp" or "tt"
        ``None`` gives the dense FNO.
    rank : float or int or sequence
        Fraction of the dense spectral entry count, or explicit ranks.
    joint : bool
        One tensor over all layers (default) or one per layer.
    implementation : {"factorized", "reconstructed"}
    separable : bool
        Depthwise spectral weights.
    fixed_rank_modes : sequence of int
        Tucker modes kept at full rank.
    blocks : {"corners", "single"}
        Layout of the kept frequencies in the spectral weight: ``2^(d-1)`` corner blocks per layer
        (the paper's) or one block per layer (see :class:`FactorizedSpectralConv`).
    lifting_channel_ratio, projection_channel_ratio : float
        Hidden width of the lifting/projection MLPs, relative to ``hidden_channels``.
    positional_embedding : "grid" or None
        Append coordinates ``i/n`` of each axis to the input (per call, so they follow the input
        resolution; under multigrid patching they are local to each patch).
    channel_mlp_expansion : float or None
        Width of the channel MLP relative to ``hidden_channels``; ``None`` removes it (the
        original FNO).
    channel_mlp_skip, fno_skip : {"soft-gating", "linear", "identity"}
    norm : None, "instance_norm" or "group_norm"
    preactivation : bool
    domain_padding : float
        Symmetric zero padding of the lifted field, as a fraction of each axis (0 = none).
    fft_norm : {"forward", "backward", "ortho"}
    half_fft : bool
        Half-precision FFTs for half-precision activations (under ``torch.autocast``) where the
        device supports them, with a logged float32 fallback elsewhere (see
        :class:`FactorizedSpectralConv`); spectral contractions stay in float32 either way.
    checkpoint_blocks : bool
        Activation checkpointing per Fourier block while training: a block keeps only its input
        for the backward pass and recomputes the rest, so activation memory is about one block's
        instead of all ``n_layers``' (for one extra forward pass). Gradients are unchanged.
    seed : int, optional
        Seed of the whole initialisation, which then leaves torch's global RNG untouched (``None``:
        draw from the global RNG).
    """

    def __init__(
        self,
        n_modes: Sequence[int],
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 4,
        factorization: str | None = "tucker",
        rank: Any = 0.1,
        joint: bool = True,
        implementation: str = "factorized",
        *,
        separable: bool = False,
        fixed_rank_modes: Sequence[int] = (),
        blocks: str = "corners",
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        positional_embedding: str | None = "grid",
        channel_mlp_expansion: float | None = 0.5,
        channel_mlp_skip: str = "soft-gating",
        fno_skip: str = "linear",
        norm: str | None = None,
        preactivation: bool = False,
        domain_padding: float = 0.0,
        fft_norm: str = "forward",
        half_fft: bool = False,
        checkpoint_blocks: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels")
        self.n_layers = check_positive_int(n_layers, "n_layers")
        self.positional_embedding = check_choice(positional_embedding, "positional_embedding", POSITIONAL_EMBEDDINGS)
        self.preactivation = bool(preactivation)
        self.checkpoint_blocks = check_value_type(checkpoint_blocks, bool, "checkpoint_blocks")
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        # every other layer draws from torch's RNG: seeded here, in a fork, so the caller's RNG is untouched
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(int(seed))
            self.spectral = FactorizedSpectralConv(
                hidden_channels, hidden_channels, n_modes, n_layers, factorization=factorization, rank=rank,
                joint=joint, implementation=implementation, separable=separable,
                fixed_rank_modes=fixed_rank_modes, blocks=blocks, fft_norm=fft_norm, half_fft=half_fft,
                generator=generator,
            )
            self.dim = len(self.spectral.n_modes)
            lifted_in = in_channels + (self.dim if positional_embedding == "grid" else 0)
            lift_hidden = _width(lifting_channel_ratio, hidden_channels, "lifting_channel_ratio")
            proj_hidden = _width(projection_channel_ratio, hidden_channels, "projection_channel_ratio")
            self.lifting = ChannelMLP(lifted_in, hidden_channels, lift_hidden)
            self.projection = ChannelMLP(hidden_channels, out_channels, proj_hidden)
            self.fno_skips = nn.ModuleList(make_skip(fno_skip, hidden_channels) for _ in range(n_layers))
            self.norms = nn.ModuleList(make_norm(norm, hidden_channels) for _ in range(2 * n_layers))
            if channel_mlp_expansion is None:
                self.channel_mlps = None
            else:
                mlp_hidden = _width(channel_mlp_expansion, hidden_channels, "channel_mlp_expansion")
                self.channel_mlps = nn.ModuleList(
                    ChannelMLP(hidden_channels, hidden_channels, mlp_hidden) for _ in range(n_layers)
                )
                self.channel_mlp_skips = nn.ModuleList(make_skip(channel_mlp_skip, hidden_channels) for _ in range(n_layers))
            self.domain_padding = DomainPadding(domain_padding) if domain_padding else None

    @classmethod
    def from_checkpoint(cls, run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedOperator:
        """The trained operator of a ``tensorkit train-operator`` run folder, ready to predict.

        Returns a :class:`~tensorkit.operators.predictor.TrainedOperator`: this model with the run's
        weights, wrapped with its output normaliser and multigrid patching, so that
        ``op.predict(x)`` maps raw inputs to outputs in the data's units (the model itself is
        ``op.model``; the run's configuration ``op.config``). See
        :func:`tensorkit.operators.experiment.load_run`.
        """
        from tensorkit.operators.experiment import load_run

        return load_run(run_dir, device)

    @property
    def n_spectral_parameters(self) -> int:
        """Stored complex entries of all spectral weights."""
        return self.spectral.n_spectral_parameters

    @property
    def compression_ratio(self) -> float:
        """Compression of the spectral weights relative to the dense FNO of the same shape."""
        return self.spectral.compression_ratio

    def _block(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        last = layer == self.n_layers - 1
        pre = self.preactivation
        if pre:
            x = self.norms[2 * layer](F.gelu(x))
        y = self.spectral(x, layer)
        if not pre:
            y = self.norms[2 * layer](y)
        y = y + self.fno_skips[layer](x)
        if self.channel_mlps is None:
            return y if last or pre else F.gelu(y)
        if pre:
            y = self.norms[2 * layer + 1](F.gelu(y))
        elif not last:
            y = F.gelu(y)
        z = self.channel_mlps[layer](y)
        if not pre:
            z = self.norms[2 * layer + 1](z)
        z = z + self.channel_mlp_skips[layer](x)
        return z if last or pre else F.gelu(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (batch, in_channels, n_1, …, n_d) to (batch, out_channels, n_1, …, n_d).

        Raises
        ------
        ValueError
            If ``x`` has the wrong shape or holds NaN or infinite values (the FFTs would spread them
            over the whole output).
        TypeError
            If ``x`` does not have the model's dtype.
        """
        if x.ndim != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (batch, {self.in_channels}, {self.dim} spatial axes), got {tuple(x.shape)}"
            )
        dtype = next(self.parameters()).dtype
        if x.dtype != dtype:
            raise TypeError(f"x must have the model's dtype {dtype}, got {x.dtype}; convert one with .to(dtype)")
        if not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x)).sum())
            raise ValueError(f"x holds {bad} NaN or infinite value(s) of {x.numel()}; an operator's FFTs would spread "
                             "them over the whole output: fill or mask the missing values first")
        if self.positional_embedding == "grid":
            x = grid_embedding(x)
        x = self.lifting(x)
        spatial = x.shape[2:]
        if self.domain_padding is not None:
            x = self.domain_padding.pad(x)
        recompute = self.checkpoint_blocks and torch.is_grad_enabled()
        for layer in range(self.n_layers):
            x = checkpoint(self._block, x, layer, use_reentrant=False) if recompute else self._block(x, layer)
        if self.domain_padding is not None:
            x = self.domain_padding.unpad(x, spatial)
        return self.projection(x)


class FNO(TFNO):
    """The dense Fourier neural operator: :class:`TFNO` with ``factorization=None``."""

    def __init__(self, n_modes: Sequence[int], in_channels: int, out_channels: int, hidden_channels: int,
                 n_layers: int = 4, **kwargs: Any) -> None:
        if kwargs.get("factorization") is not None:
            raise ValueError("FNO is dense; use TFNO for factorization=" + repr(kwargs["factorization"]))
        kwargs.pop("factorization", None)
        super().__init__(n_modes, in_channels, out_channels, hidden_channels, n_layers, factorization=None, **kwargs)


def _width(ratio: float, channels: int, name: str) -> int:
    return max(1, int(round(check_positive_float(ratio, name) * channels)))
