"""Copy the weights of a neuraloperator (≥ 2.0) dense FNO into a tensorkit :class:`TFNO`.

Used to check that the two backbones compute the same function (same lifting, Fourier blocks,
double skips, channel MLPs and projection) and to train tensorkit's model from neuraloperator's
initial draw, which separates architecture differences from random-initialisation noise.
"""

from __future__ import annotations

import torch

from tensorkit.operators.layers import ChannelLinear, ChannelMLP, SoftGating
from tensorkit.operators.tfno import TFNO


def _copy_mlp(target: ChannelMLP, peer_mlp) -> None:
    layers = list(peer_mlp.fcs)
    if len(layers) != 2:
        raise ValueError(f"expected a two-layer channel MLP, got {len(layers)} layers")
    for ours, theirs in zip((target.fc1, target.fc2), layers):
        _copy_linear(ours, theirs)


def _copy_linear(target: ChannelLinear, conv) -> None:
    weight = conv.weight.detach().reshape(conv.weight.shape[0], -1)
    if weight.shape != target.weight.shape:
        raise ValueError(f"weight shape {tuple(weight.shape)} does not match {tuple(target.weight.shape)}")
    target.weight.copy_(weight)
    if target.bias is not None:
        target.bias.copy_(conv.bias.detach())


def _copy_skip(target, peer_skip) -> None:
    if isinstance(target, SoftGating):
        target.weight.copy_(peer_skip.weight.detach().flatten())
    elif isinstance(target, ChannelLinear):
        _copy_linear(target, peer_skip.conv)


@torch.no_grad()
def load_neuralop_dense_fno(model: TFNO, peer: torch.nn.Module) -> TFNO:
    """Copy ``peer`` (``neuralop.models.FNO``/``TFNO`` with ``factorization=None``) into ``model``.

    ``model`` must be a dense tensorkit TFNO with the same widths, layers and skips, and modes
    covering the same rfft block: neuraloperator's ``n_modes=(m_1, …, m_d)`` keeps ``m_k`` centred
    frequencies on the leading axes, which tensorkit stores as a low and a high half of ``m_k/2``
    each (in corner blocks or in one block), so ``model.spectral.n_modes[:-1]`` must equal
    ``m[:-1]``; on the last (rfft) axis neuraloperator keeps ``m_d//2 + 1`` frequencies, tensorkit
    ``n_modes[-1]/2``.
    """
    spectral = model.spectral
    if spectral.factorization != "dense" or spectral.separable:
        raise ValueError("only a dense, non-separable tensorkit model can take neuraloperator's dense weights")
    _copy_mlp(model.lifting, peer.lifting)
    _copy_mlp(model.projection, peer.projection)
    blocks = peer.fno_blocks
    d = len(spectral.half_modes)
    for layer in range(model.n_layers):
        _copy_skip(model.fno_skips[layer], blocks.fno_skips[layer])
        if model.channel_mlps is not None:
            _copy_mlp(model.channel_mlps[layer], blocks.channel_mlp[layer])
            _copy_skip(model.channel_mlp_skips[layer], blocks.channel_mlp_skips[layer])
        conv = blocks.convs[layer]
        weight = conv.weight.to_tensor() if hasattr(conv.weight, "to_tensor") else conv.weight
        weight = torch.as_tensor(weight).detach()  # (C_in, C_out, m_1, …, m_{d-1}, m_d//2+1), centred
        # neuraloperator stores the leading axes fft-shifted (frequency −m/2 first); undo that so
        # index k is frequency k for k < m/2 and k − m for k ≥ m/2 (the single-block layout), then
        # cut into low/high halves for corner blocks.
        if d > 1:
            weight = torch.fft.ifftshift(weight, dim=tuple(range(2, 2 + d - 1)))
        if tuple(weight.shape[2:]) != (*spectral.n_modes[:-1], spectral.half_modes[-1]):
            raise ValueError(f"neuraloperator keeps modes {tuple(weight.shape[2:])} of the rfft spectrum, "
                             f"tensorkit {(*spectral.n_modes[:-1], spectral.half_modes[-1])}")
        pieces = [weight]
        if spectral.blocks == "corners":
            for axis, half in enumerate(spectral.half_modes[:-1]):
                pieces = [p for q in pieces for p in (q.narrow(2 + axis, 0, half), q.narrow(2 + axis, half, half))]
        stacked = torch.stack(pieces, 0)
        start = spectral.n_blocks * layer
        target = spectral.weight.weight if spectral.joint else spectral.weight[layer].weight
        rows = slice(start, start + spectral.n_blocks) if spectral.joint else slice(None)
        target[rows].copy_(torch.view_as_real(stacked.to(torch.complex64)))
        spectral.bias[layer].copy_(conv.bias.detach().flatten())
    return model
