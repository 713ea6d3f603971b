"""Multigrid patching: split a periodic field into padded patches with coarse context channels."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint

from tensorkit._validation import check_positive_float, check_positive_int


class MultigridPatching:
    """Multigrid domain decomposition of a periodic field on ``d`` spatial axes (any ``d``).

    The field (B, C, n_1, …, n_d) is cut into ``2^L`` patches per axis of size ``h_k = n_k/2^L``,
    each padded by ``p_k = round(padding_fraction·n_k)`` points on both sides with periodic wrap.
    Level ``l = 1…L`` adds ``C`` channels: the field decimated by ``2^l`` (plain stride, no
    anti-alias filter), in a window of the same size ``h_k + 2p_k`` centred on the patch centre,
    again periodically wrapped. So :meth:`patch` returns (B·2^(L·d), C·(L+1), h_1+2p_1, …); in 2-D
    that is (B·4^L, C·(L+1), H/2^L + 2p, W/2^L + 2p). Patches are ordered sample-major, then
    row-major over the patch grid.

    Parameters
    ----------
    levels : int
        Number of levels ``L`` (0 = a single padded patch).
    padding_fraction : float
        Padding of each patch side as a fraction of the *full* resolution, in ``[0, 0.5)``.
    stitching : bool
        If True, :meth:`unpatch` crops the padding and stitches the patches back into the field
        (the loss sees the full field). If False it returns the cropped patches and the target
        must go through :meth:`patch_target`.
    global_coordinates : bool
        Append ``2·d`` channels ``sin(2π x_k), cos(2π x_k)`` of each window point's *global*
        position (periodic, so smooth across the wrap), after the ``C·(L+1)`` field channels.
        Without them a model only sees patch-local positions (TFNO's ``"grid"`` embedding is
        local to the patch), which cannot represent position-dependent terms such as a forcing.
    """

    def __init__(self, levels: int, padding_fraction: float, stitching: bool = True,
                 global_coordinates: bool = False) -> None:
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
            raise ValueError(f"levels must be an integer ≥ 0, got {levels!r}")
        self.levels = levels
        self.padding_fraction = check_positive_float(padding_fraction, "padding_fraction", allow_zero=True)
        if self.padding_fraction >= 0.5:
            raise ValueError(f"padding_fraction must lie in [0, 0.5), got {padding_fraction}")
        self.stitching = bool(stitching)
        self.global_coordinates = bool(global_coordinates)

    def extra_channels(self, dim: int) -> int:
        """Channels appended after the field channels for a ``dim``-dimensional field."""
        return 2 * dim if self.global_coordinates else 0

    @property
    def n_per_axis(self) -> int:
        return 2**self.levels

    def geometry(self, spatial: tuple[int, ...]) -> tuple[list[int], list[int]]:
        """Patch sizes ``h_k`` and paddings ``p_k`` for a field of size ``spatial``."""
        sizes, pads = [], []
        step = 2 ** (self.levels + 1)
        for k, n in enumerate(spatial):
            if n % step:
                raise ValueError(
                    f"x: spatial size {n} on axis {k} must be divisible by 2^(levels+1) = {step}"
                )
            sizes.append(n // self.n_per_axis)
            pads.append(int(round(self.padding_fraction * n)))
        return sizes, pads

    def input_compression(self, spatial: tuple[int, ...]) -> float:
        """Points of the full field over points of one padded patch (the per-model domain shrink)."""
        sizes, pads = self.geometry(spatial)
        return math.prod(spatial) / math.prod(h + 2 * p for h, p in zip(sizes, pads))

    def _window_indices(self, n: int, h: int, p: int, level: int, device: torch.device) -> torch.Tensor:
        """(patches, h+2p) indices into the level-``level`` decimated axis of length ``n/2^level``."""
        stride = 2**level
        centre = (torch.arange(self.n_per_axis, device=device) * h + h // 2) // stride
        start = centre - h // 2 - p
        return (start[:, None] + torch.arange(h + 2 * p, device=device)[None, :]) % (n // stride)

    def _level_patches(self, x: torch.Tensor, level: int, sizes: list[int], pads: list[int]) -> torch.Tensor:
        d = x.ndim - 2
        coarse = x[(slice(None), slice(None), *(slice(None, None, 2**level),) * d)]
        out = coarse
        for k in range(d):  # gather axis k: (…, n_k) → (…, patches_k, window_k), fully vectorised
            idx = self._window_indices(x.shape[2 + k], sizes[k], pads[k], level, x.device)
            axis = 2 + 2 * k
            out = out.index_select(axis, idx.reshape(-1))
            out = out.reshape(*out.shape[:axis], *idx.shape, *out.shape[axis + 1:])
        # (B, C, P1, W1, P2, W2, …) → (B, P1, P2, …, C, W1, W2, …)
        perm = [0, *(2 + 2 * k for k in range(d)), 1, *(3 + 2 * k for k in range(d))]
        out = out.permute(perm)
        return out.reshape(-1, x.shape[1], *out.shape[2 + d:])

    def patch(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, n_1, …, n_d) → (B·2^(L·d), C·(L+1) [+ 2d], h_1+2p_1, …) (level-0 channels first)."""
        if x.ndim < 3:
            raise ValueError(f"x must have shape (batch, channels, *spatial), got {tuple(x.shape)}")
        sizes, pads = self.geometry(tuple(x.shape[2:]))
        levels = [self._level_patches(x, level, sizes, pads) for level in range(self.levels + 1)]
        if self.global_coordinates:
            spatial = x.shape[2:]
            coords = torch.meshgrid(*[torch.arange(n, device=x.device, dtype=x.dtype) / n for n in spatial], indexing="ij")
            phase = 2 * torch.pi * torch.stack(coords)
            features = torch.cat([torch.sin(phase), torch.cos(phase)]).unsqueeze(0)  # (1, 2d, *spatial)
            levels.append(self._level_patches(features, 0, sizes, pads).repeat(x.shape[0], 1, *(1,) * len(spatial)))
        return torch.cat(levels, dim=1)

    def patch_target(self, y: torch.Tensor) -> torch.Tensor:
        """The target in the layout :meth:`unpatch` returns: ``y`` itself when stitching, else its
        unpadded level-0 patches (B·2^(L·d), C, h_1, …)."""
        if self.stitching:
            return y
        sizes, _ = self.geometry(tuple(y.shape[2:]))
        return self._level_patches(y, 0, sizes, [0] * len(sizes))

    def unpatch(self, y: torch.Tensor, spatial: tuple[int, ...] | None = None) -> torch.Tensor:
        """Crop the padding of the model's output on the patches; stitch them if ``stitching``.

        ``y`` is (B·2^(L·d), C, h_1+2p_1, …). ``spatial`` is the full field size (inferred from
        the patch size when omitted, which needs ``padding_fraction`` to map back uniquely).
        """
        d = y.ndim - 2
        n_patches = self.n_per_axis**d
        if y.ndim < 3 or y.shape[0] % n_patches:
            raise ValueError(f"y must have shape (batch·{n_patches}, channels, *patch), got {tuple(y.shape)}")
        if spatial is None:
            spatial = tuple(self._infer_size(w) for w in y.shape[2:])
        sizes, pads = self.geometry(tuple(spatial))
        for k, (w, h, p) in enumerate(zip(y.shape[2:], sizes, pads)):
            if w != h + 2 * p:
                raise ValueError(f"patch size {w} on axis {k} does not match h + 2p = {h + 2 * p}")
        crop = y[(slice(None), slice(None), *(slice(p, p + h) for h, p in zip(sizes, pads)))]
        if not self.stitching:
            return crop
        batch, channels = y.shape[0] // n_patches, y.shape[1]
        grid = crop.reshape(batch, *(self.n_per_axis,) * d, channels, *sizes)
        # (B, P1, …, Pd, C, h1, …, hd) → (B, C, P1, h1, P2, h2, …)
        perm = [0, 1 + d]
        for k in range(d):
            perm += [1 + k, 2 + d + k]
        return grid.permute(perm).reshape(batch, channels, *spatial)

    def _infer_size(self, window: int) -> int:
        # window = n/2^L + 2·round(f·n): search the n (multiple of 2^(L+1)) that reproduces it
        step = 2 ** (self.levels + 1)
        for n in range(step, step * (window + 1), step):
            if n // self.n_per_axis + 2 * int(round(self.padding_fraction * n)) == window:
                return n
        raise ValueError(f"no field size gives patches of size {window}; pass spatial=")

    def apply(self, model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Run ``model`` on the patches of ``x`` (``chunk_size`` patches at a time) and unpatch.

        Memory is bounded by one chunk of patches, so arbitrarily large fields can be processed;
        under autograd too (see :func:`run_in_chunks`).
        """
        return self.unpatch(run_in_chunks(model, self.patch(x), chunk_size), tuple(x.shape[2:]))


def run_in_chunks(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  chunk_size: int | None) -> torch.Tensor:
    """``model(x)`` computed ``chunk_size`` samples at a time (all at once for ``None``).

    When autograd records, every chunk is checkpointed: its forward keeps only its input, and the
    backward pass recomputes one chunk at a time, so activation memory is set by ``chunk_size``,
    not by the batch (for one extra forward pass). The result and its gradients equal those of
    ``model(x)`` up to the order of floating-point summation over chunks.
    """
    if chunk_size is None:
        return model(x)
    chunks = torch.split(x, check_positive_int(chunk_size, "chunk_size"))
    if not torch.is_grad_enabled() or len(chunks) == 1:
        return torch.cat([model(c) for c in chunks])
    return torch.cat([checkpoint(model, c, use_reentrant=False) for c in chunks])
