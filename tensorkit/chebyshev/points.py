"""Chebyshev points of the 1st and 2nd kind, and the affine map of an interval onto [-1, 1]."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import check_choice, check_positive_int

__all__ = ["chebyshev_points", "check_domain", "to_unit", "from_unit"]


def chebyshev_points(
    n_points: int,
    kind: int = 2,
    domain: tuple[float, float] = (-1.0, 1.0),
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Chebyshev points on ``domain``, in increasing order.

    Parameters
    ----------
    n_points : int
        Number of points ``m`` (the interpolating polynomial has degree ``m - 1``).
    kind : {1, 2}
        ``2``: Chebyshev–Lobatto extrema ``-cos(jπ/(m-1))`` (include the end points);
        ``1``: Gauss–Chebyshev roots ``-cos((j+½)π/m)`` (interior only).
    domain : (a, b)
        Interval the points are mapped to.
    """
    m = check_positive_int(n_points, "n_points")
    check_choice(kind, "kind", (1, 2))
    a, b = check_domain(domain, "domain")
    j = torch.arange(m, dtype=dtype, device=device)
    if kind == 2:
        s = -torch.cos(j * math.pi / (m - 1)) if m > 1 else torch.zeros(1, dtype=dtype, device=device)
    else:
        s = -torch.cos((j + 0.5) * math.pi / m)
    if m % 2 == 1:
        s[m // 2] = 0.0  # exact symmetry about the centre
    return from_unit(s, (a, b))


def check_domain(domain: Any, name: str = "domain") -> tuple[float, float]:
    """Validate one interval ``(a, b)`` with finite ``a < b``."""
    if not isinstance(domain, Sequence) or isinstance(domain, str) or len(domain) != 2:
        raise TypeError(f"{name} must be a pair (a, b), got {domain!r}")
    try:
        a, b = float(domain[0]), float(domain[1])
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must hold two numbers, got {domain!r}") from err
    if not (math.isfinite(a) and math.isfinite(b)) or not a < b:
        raise ValueError(f"{name} must satisfy a < b with finite ends, got {domain!r}")
    return a, b


def to_unit(x: torch.Tensor, domain: tuple[float, float]) -> torch.Tensor:
    """Map ``x`` in ``[a, b]`` to ``s = (2x - a - b)/(b - a)`` in ``[-1, 1]``."""
    a, b = domain
    return (2.0 * x - (a + b)) / (b - a)


def from_unit(s: torch.Tensor, domain: tuple[float, float]) -> torch.Tensor:
    """Inverse of :func:`to_unit`."""
    a, b = domain
    return 0.5 * (b - a) * s + 0.5 * (a + b)
