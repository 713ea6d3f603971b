"""Values at Chebyshev points ↔ Chebyshev coefficients, by a DCT (torch FFT) along chosen modes.

Values are ordered by increasing coordinate, as :func:`~tensorkit.chebyshev.points.chebyshev_points`
returns them. Every transform works along any subset of the modes of an N-d tensor, on CPU or CUDA.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from tensorkit._validation import check_choice

__all__ = ["vals_to_coeffs", "coeffs_to_vals"]


def vals_to_coeffs(values: torch.Tensor, kind: int = 2, dims: int | Sequence[int] | None = None) -> torch.Tensor:
    """Chebyshev coefficients of the interpolant through ``values`` along ``dims`` (default: all).

    A 2nd-kind transform is a DCT-I divided by ``m - 1`` with both end coefficients halved; a 1st-kind
    transform is a DCT-II divided by ``m`` with ``c_0`` halved.
    """
    check_choice(kind, "kind", (1, 2))
    return _vals_to_coeffs_inplace(_fresh_copy(values), kind, dims)


def coeffs_to_vals(coeffs: torch.Tensor, kind: int = 2, dims: int | Sequence[int] | None = None) -> torch.Tensor:
    """Values at the Chebyshev points of the series with coefficients ``coeffs`` (inverse transform)."""
    check_choice(kind, "kind", (1, 2))
    return _along_inplace(_fresh_copy(coeffs), dims, _coeffs2vals_2 if kind == 2 else _coeffs2vals_1)


def _vals_to_coeffs_inplace(values: torch.Tensor, kind: int, dims: int | Sequence[int] | None = None) -> torch.Tensor:
    """:func:`vals_to_coeffs` overwriting ``values`` (contiguous, owned by the caller): no full-size temporaries."""
    return _along_inplace(values, dims, _vals2coeffs_2 if kind == 2 else _vals2coeffs_1)


def _fresh_copy(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"values must be a floating-point torch.Tensor, got {type(x).__name__}")
    return torch.empty(x.shape, dtype=x.dtype, device=x.device).copy_(x)


# Entries transformed per FFT call: bounds the FFT's temporaries (a few hundred KiB) for any tensor size.
_ENTRIES_PER_BLOCK = 1 << 14


def _along_inplace(x: torch.Tensor, dims: int | Sequence[int] | None, one_d) -> torch.Tensor:
    """Apply ``one_d`` (a transform along the last mode) along each of ``dims``, overwriting ``x`` block by block."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"values must be a floating-point torch.Tensor, got {type(x).__name__}")
    dims = range(x.ndim) if dims is None else ([dims] if isinstance(dims, int) else dims)
    for d in dims:
        if not -x.ndim <= d < x.ndim:
            raise ValueError(f"dims entry {d} is out of range for a tensor with {x.ndim} modes")
    if not x.is_contiguous():
        raise ValueError("internal: in-place transform needs a contiguous tensor")
    for d in dims:
        d = d % x.ndim
        m = x.shape[d]
        # (before, m, after) view; blocks of whole "before" slabs or of "after" columns, ≤ _ENTRIES_PER_BLOCK each
        x3 = x.view(math.prod(x.shape[:d]), m, math.prod(x.shape[d + 1 :]))
        before, after = x3.shape[0], x3.shape[2]
        if m * after <= _ENTRIES_PER_BLOCK:
            step_b, step_a = max(1, _ENTRIES_PER_BLOCK // max(1, m * after)), after
        else:
            step_b, step_a = 1, max(1, _ENTRIES_PER_BLOCK // max(1, m))
        for i in range(0, before, step_b):
            for j in range(0, after, step_a):
                block = x3[i : i + step_b, :, j : j + step_a]
                block.copy_(one_d(block.movedim(1, -1)).movedim(-1, 1))
    return x


def _dct1(g: torch.Tensor) -> torch.Tensor:
    """``Y_k = g_0 + (-1)^k g_M + 2 Σ_{j=1}^{M-1} g_j cos(πjk/M)`` along the last mode (M = m-1)."""
    extended = torch.cat([g, g[..., 1:-1].flip(-1)], dim=-1)
    return torch.fft.rfft(extended, dim=-1).real


def _vals2coeffs_2(v: torch.Tensor) -> torch.Tensor:
    m = v.shape[-1]
    if m == 1:
        return v.clone()
    # c = DCT-I(v reversed)/(m-1), ends halved; DCT-I of the reversed values is (-1)^k DCT-I(v), so the
    # reversal and the halving fold into one scaling (fewer passes over the block)
    extended = torch.cat([v, v[..., 1:-1].flip(-1)], dim=-1)
    return torch.fft.rfft(extended, dim=-1).real * _dct1_scale(m, v.dtype, v.device)


@functools.lru_cache(maxsize=64)
def _dct1_scale(m: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(-1)^k/(m-1)``, halved at ``k = 0`` and ``k = m-1``."""
    scale = torch.ones(m, dtype=torch.float64)
    scale[1::2] = -1.0
    scale[0] /= 2
    scale[-1] /= 2
    return (scale / (m - 1)).to(dtype=dtype, device=device)


def _coeffs2vals_2(c: torch.Tensor) -> torch.Tensor:
    m = c.shape[-1]
    if m == 1:
        return c.clone()
    a = c.clone()
    a[..., 0] *= 2
    a[..., -1] *= 2
    return (_dct1(a) / 2).flip(-1)


def _vals2coeffs_1(v: torch.Tensor) -> torch.Tensor:
    m = v.shape[-1]
    g = v.flip(-1)  # values at cos((j+½)π/m), j = 0..m-1
    k = torch.arange(m, dtype=v.dtype, device=v.device)
    spectrum = torch.fft.fft(g, n=2 * m, dim=-1)[..., :m]
    c = (torch.polar(torch.ones_like(k), -math.pi * k / (2 * m)) * spectrum).real * (2.0 / m)
    c[..., 0] /= 2
    return c


def _coeffs2vals_1(c: torch.Tensor) -> torch.Tensor:
    m = c.shape[-1]
    k = torch.arange(m, dtype=c.dtype, device=c.device)
    twiddled = c * torch.polar(torch.ones_like(k), math.pi * k / (2 * m))
    g = (torch.fft.ifft(twiddled, n=2 * m, dim=-1)[..., :m] * (2 * m)).real
    return g.flip(-1)
