"""FunBaT's per-mode kernels: the names ``"matern12"``, ``"matern32"``, ``"matern52"``, ``"periodic"``,
``"periodic:P"``, or gpytorch Matérn kernel objects (:mod:`tensorkit.funbat.gpytorch_kernels`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from tensorkit._validation import check_positive_float
from tensorkit.funbat.gpytorch_kernels import from_gpytorch, is_gpytorch_kernel
from tensorkit.gp import KERNELS, Matern

__all__ = ["check_kernels", "mode_hyperparameters", "mode_kernels", "parse_kernel", "per_mode_floats",
           "singular_hyperparameters", "state_space_kernel"]


def _entries(kernel: Any, n_modes: int = 1) -> list[Any]:
    """The kernel argument as a list: one name or kernel object repeated ``n_modes`` times, or the given list."""
    return [kernel] * n_modes if isinstance(kernel, str) or is_gpytorch_kernel(kernel) else list(kernel)


def check_kernels(kernel: Any) -> None:
    """Check FunBaT's ``kernel`` argument (names and gpytorch objects), naming the entry at fault."""
    if not isinstance(kernel, str) and not is_gpytorch_kernel(kernel) and not isinstance(kernel, Sequence):
        raise TypeError(f"kernel must be a kernel name, a gpytorch MaternKernel or a list of them, got {type(kernel).__name__}")
    for k, entry in enumerate(_entries(kernel)):
        if is_gpytorch_kernel(entry):
            from_gpytorch(entry, f"kernel[{k}]")
        else:
            parse_kernel(entry)


def parse_kernel(name: Any) -> tuple[str, float | None]:
    """``(kind, period)`` of a kernel name; the period is None when it is to be read from the data."""
    if not isinstance(name, str):
        raise TypeError(f"kernel must be a kernel name, a gpytorch MaternKernel or a list of them, got {type(name).__name__}")
    kind, _, period = name.partition(":")
    if kind not in (*KERNELS, "periodic") or (period and kind != "periodic"):
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, 'periodic' or 'periodic:<period>', got {name!r}")
    if not period:
        return kind, None
    try:
        value = float(period)
    except ValueError:
        raise ValueError(f"kernel {name!r}: the period must be a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"kernel {name!r}: the period must be finite and > 0")
    return kind, value


def mode_kernels(kernel: Any, coords: torch.Tensor) -> tuple[list[str], list[float | None]]:
    """Per-mode kinds and periods (in the coordinates' units) for ``(N, K)`` raw coordinates.

    A bare ``"periodic"`` takes the period of a grid that wraps: the span of the mode's unique
    coordinates plus their median spacing (360 for longitudes 0, 2.5, …, 357.5).
    """
    K = coords.shape[1]
    names = [from_gpytorch(e, f"kernel[{k}]").name if is_gpytorch_kernel(e) else e for k, e in enumerate(_entries(kernel, K))]
    if len(names) != K:
        raise ValueError(f"kernel must have one entry per mode ({K}), got {len(names)}")
    kinds, periods = [], []
    for k, name in enumerate(names):
        kind, period = parse_kernel(name)
        if kind == "periodic" and period is None:
            unique = torch.unique(coords[:, k])
            if unique.numel() < 3:
                raise ValueError(f"kernel[{k}]='periodic' needs at least 3 distinct coordinates to infer the period; use 'periodic:<period>'")
            period = float(unique[-1] - unique[0] + unique.diff().median())
        if kind == "periodic" and float(coords[:, k].max() - coords[:, k].min()) >= period:
            raise ValueError(f"kernel[{k}]: the coordinates span {float(coords[:, k].max() - coords[:, k].min()):g}, "
                             f"not less than the period {period:g}")
        kinds.append(kind)
        periods.append(period)
    return kinds, periods


def state_space_kernel(kind: str, period: float | None, lengthscale: float, variance: float) -> Any:
    """The state-space prior of one mode's functions (``period`` in the chain's coordinate units)."""
    if kind == "periodic":
        from tensorkit.gp.periodic import Periodic

        return Periodic(period, lengthscale, variance)
    return Matern.from_name(kind, lengthscale, variance)


def mode_hyperparameters(
    kernel: Any, lengthscale: Any, variance: Any, grids: Sequence[torch.Tensor], kinds: Sequence[str], scales: Sequence[float]
) -> tuple[list[float], list[float], list[bool], list[Callable[[torch.Tensor], torch.Tensor] | None]]:
    """Per mode: the initial lengthscale and the variance (rescaled units), whether the lengthscale is
    selected while EP runs, and the log prior of a selected lengthscale (rescaled units) or None.

    A named kernel's mode takes ``lengthscale`` (``"auto"``: selected, from 10 % of the span) and
    ``variance``; a gpytorch object's mode takes its own lengthscale (``scales``: the coordinates'
    rescaling) and outputscale, and is selected when its raw lengthscale requires grad.
    """
    from tensorkit.funbat.hyper import initial_lengthscale

    K = len(grids)
    auto = isinstance(lengthscale, str)
    lengthscales = ([initial_lengthscale(g, kind == "periodic") for g, kind in zip(grids, kinds)] if auto
                    else per_mode_floats(lengthscale, "lengthscale", K))
    variances = per_mode_floats(variance, "variance", K)
    learned, log_priors = [auto] * K, [None] * K
    for k, entry in enumerate(_entries(kernel, K)):
        if not is_gpytorch_kernel(entry):
            continue
        mode = from_gpytorch(entry, f"kernel[{k}]")
        lengthscales[k] = mode.lengthscale / scales[k]
        variances[k] = variances[k] if mode.variance is None else mode.variance
        learned[k] = mode.learned
        if mode.prior is not None:
            log_priors[k] = lambda ell, prior=mode.log_prior, scale=scales[k]: prior(ell * scale)
    return lengthscales, variances, learned, log_priors


def per_mode_floats(value: Any, name: str, n_modes: int | None = None) -> list[float]:
    """A positive hyper-parameter given once or per mode, as one float per mode (checked, naming ``name``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [check_positive_float(value, name)] * (n_modes or 1)
    values = [check_positive_float(v, f"{name}[{k}]") for k, v in enumerate(value)]
    if n_modes is not None and len(values) != n_modes:
        raise ValueError(f"{name} must have one entry per mode ({n_modes}), got {len(values)}")
    return values


@contextlib.contextmanager
def singular_hyperparameters(lengthscale: Any, variance: Any) -> Iterator[None]:
    """Report a linear-algebra failure inside the block as a ``ValueError`` naming ``lengthscale`` and ``variance``.

    Extreme values (``1e-300``, ``1e300``) make the GP priors' matrices numerically singular somewhere
    in EP; where depends on the data, so no fixed bound refuses them up front.
    """
    try:
        yield
    except torch.linalg.LinAlgError as err:
        raise ValueError(f"FunBaT's Gaussian messages became numerically singular with lengthscale={lengthscale!r} and "
                         f"variance={variance!r} ({err}); both are in rescaled units (coordinates in [0, 1], z-scored "
                         "values): use lengthscale='auto' and a variance near 1") from err
