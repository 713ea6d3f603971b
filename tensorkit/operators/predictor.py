"""A trained neural operator with what its training applied around it: patching and the output normaliser."""

from __future__ import annotations

import torch
from torch import nn

from tensorkit._validation import check_positive_int
from tensorkit.operators.normalizer import GaussianNormalizer
from tensorkit.operators.patching import MultigridPatching

__all__ = ["TrainedOperator"]


class TrainedOperator(nn.Module):
    """Maps inputs to outputs in the data's units: patches the input, runs the model, stitches, decodes.

    Built by :meth:`tensorkit.operators.TFNO.from_checkpoint` from a ``train-operator`` run folder,
    and used by :class:`~tensorkit.operators.Trainer` for its evaluations, so both compute the same.

    Parameters
    ----------
    model : TFNO
    output_normalizer : GaussianNormalizer, optional
        Outputs are decoded with it.
    patching : MultigridPatching, optional
        Multigrid patching the model was trained with (the model sees patches with coarse context).
    chunk_size : int, optional
        With ``patching``: patches per model call (memory of one chunk, not of all patches).

    Attributes
    ----------
    config : dict or None
        The run's merged configuration (set when loaded from a run folder).
    epochs_done : int or None
        Epochs the loaded checkpoint was trained for.
    """

    def __init__(self, model: nn.Module, output_normalizer: GaussianNormalizer | None = None,
                 patching: MultigridPatching | None = None, chunk_size: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.output_normalizer = output_normalizer
        self.patching = patching
        self.chunk_size = None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
        self.config: dict | None = None
        self.epochs_done: int | None = None

    @property
    def in_channels(self) -> int:
        """Channels of the input field (before multigrid context channels are added)."""
        if self.patching is None:
            return self.model.in_channels
        extra = self.patching.extra_channels(self.model.dim)
        return (self.model.in_channels - extra) // (self.patching.levels + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (batch, out_channels, n_1, …) for inputs ``x`` (batch, in_channels, n_1, …), decoded.

        Without stitching, the outputs are the cropped patches (see :class:`MultigridPatching`).
        """
        if x.ndim != self.model.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (batch, {self.in_channels}, {self.model.dim} spatial axes), "
                             f"got {tuple(x.shape)}")
        out = self.model(x) if self.patching is None else self.patching.apply(self.model, x, self.chunk_size)
        out = out.float()
        return out if self.output_normalizer is None else self.output_normalizer.decode(out)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """:meth:`forward` in eval mode, ``batch_size`` samples at a time, on the model's device."""
        self.eval()
        device = next(self.model.parameters()).device
        return torch.cat([self(xb.to(device)) for xb in torch.split(x, check_positive_int(batch_size, "batch_size"))])
