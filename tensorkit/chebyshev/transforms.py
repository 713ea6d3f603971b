"""Values at Chebyshev points ↔ Chebyshev coefficients, by a DCT (torch FFT) along chosen modes.

Values are ordered by increasing coordinate, as :func:`~tensorkit.chebyshev.points.chebyshev_points`
returns them. Every transform works along any subset of the modes of an N-d tensor, on CPU or CUDA.
"""

from __future__ import annotations

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
    one_d = _vals2coeffs_2 if kind == 2 else _vals2coeffs_1
    return _along(values, dims, one_d)


def coeffs_to_vals(coeffs: torch.Tensor, kind: int = 2, dims: int | Sequence[int] | None = None) -> torch.Tensor:
    """Values at the Chebyshev points of the series with coefficients ``coeffs`` (inverse transform)."""
    check_choice(kind, "kind", (1, 2))
    one_d = _coeffs2vals_2 if kind == 2 else _coeffs2vals_1
    return _along(coeffs, dims, one_d)


def _along(x: torch.Tensor, dims: int | Sequence[int] | None, one_d) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"values must be a floating-point torch.Tensor, got {type(x).__name__}")
    dims = range(x.ndim) if dims is None else ([dims] if isinstance(dims, int) else dims)
    for d in dims:
        if not -x.ndim <= d < x.ndim:
            raise ValueError(f"dims entry {d} is out of range for a tensor with {x.ndim} modes")
        x = torch.movedim(_in_row_blocks(torch.movedim(x, d, -1), one_d), -1, d)
    return x


# Entries transformed per FFT call: bounds the FFT's temporaries (about 1 MiB) for any tensor size.
_ENTRIES_PER_BLOCK = 1 << 16


def _in_row_blocks(x: torch.Tensor, one_d) -> torch.Tensor:
    """Apply ``one_d`` (a transform along the last mode) to blocks of rows of ``x``."""
    rows = x.reshape(-1, x.shape[-1])
    block = max(1, _ENTRIES_PER_BLOCK // max(1, x.shape[-1]))
    if rows.shape[0] <= block:
        return one_d(rows).reshape(x.shape)
    out = torch.empty_like(rows)
    for start in range(0, rows.shape[0], block):
        out[start : start + block] = one_d(rows[start : start + block])
    return out.reshape(x.shape)


def _dct1(g: torch.Tensor) -> torch.Tensor:
    """``Y_k = g_0 + (-1)^k g_M + 2 Σ_{j=1}^{M-1} g_j cos(πjk/M)`` along the last mode (M = m-1)."""
    extended = torch.cat([g, g[..., 1:-1].flip(-1)], dim=-1)
    return torch.fft.rfft(extended, dim=-1).real


def _vals2coeffs_2(v: torch.Tensor) -> torch.Tensor:
    m = v.shape[-1]
    if m == 1:
        return v.clone()
    c = _dct1(v.flip(-1)) / (m - 1)
    c[..., 0] /= 2
    c[..., -1] /= 2
    return c


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
