"""gpytorch kernel objects as FunBaT mode kernels: a ``MaternKernel`` (ν = 1/2, 3/2, 5/2), optionally in a ``ScaleKernel``.

The object gives the mode's smoothness, its lengthscale in the coordinate's own units, and (through
the ScaleKernel's ``outputscale``) the prior variance of the mode's functions. As in gpytorch, a
lengthscale whose raw parameter requires grad (the default) is learned, starting from the object's
value, by FunBaT's evidence maximisation (MAP under the kernel's ``lengthscale_prior`` if it has one);
``kernel.raw_lengthscale.requires_grad_(False)`` keeps it fixed. FunBaT never learns the variance, so
a prior on the outputscale is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tensorkit.gp import Matern

__all__ = ["GPyTorchMode", "describe_kernels", "from_gpytorch", "is_gpytorch_kernel", "rebuild_kernels"]

_NAMES = {0.5: "matern12", 1.5: "matern32", 2.5: "matern52"}


@dataclass(frozen=True)
class GPyTorchMode:
    """One mode's kernel read from a gpytorch kernel object.

    Attributes
    ----------
    name : str
        The equivalent kernel name (``"matern12"``, ``"matern32"`` or ``"matern52"``).
    lengthscale : float
        In the units of the mode's coordinate.
    variance : float or None
        The ScaleKernel's outputscale (None without a ScaleKernel).
    learned : bool
        Whether FunBaT selects the lengthscale (gpytorch: the raw lengthscale requires grad).
    log_prior : callable or None
        Log density of the ``lengthscale_prior`` at a tensor of lengthscales in coordinate units.
    """

    name: str
    lengthscale: float
    variance: float | None
    learned: bool
    log_prior: Callable[[torch.Tensor], torch.Tensor] | None


def is_gpytorch_kernel(value: Any) -> bool:
    """Whether ``value`` is a gpytorch object (checked without importing gpytorch)."""
    return type(value).__module__.split(".")[0] == "gpytorch"


def from_gpytorch(kernel: Any, name: str) -> GPyTorchMode:
    """Read ``kernel`` (the argument called ``name`` in messages) as a :class:`GPyTorchMode`.

    Raises
    ------
    TypeError
        If ``kernel`` is not a ``MaternKernel`` or a ``ScaleKernel`` around one.
    ValueError
        If it has several lengthscales (ARD, batches), a ν other than 1/2, 3/2, 5/2, or priors other than
        the Matérn kernel's ``lengthscale_prior``.
    """
    import gpytorch

    try:
        matern = Matern.from_gpytorch(kernel)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{name}: {err}; other gpytorch kernels have no state-space form in FunBaT") from None
    scaled = isinstance(kernel, gpytorch.kernels.ScaleKernel)
    base = kernel.base_kernel if scaled else kernel
    prior_name = "base_kernel.lengthscale_prior" if scaled else "lengthscale_prior"
    others = sorted(p for p, *_ in kernel.named_priors() if p != prior_name)
    if others:
        raise ValueError(f"{name} has the priors {others}: FunBaT keeps the variance fixed and uses only a lengthscale_prior")
    prior = getattr(base, "lengthscale_prior", None)
    log_prior = None if prior is None else lambda ell: prior.log_prob(ell.to(torch.float32)).to(ell.dtype).reshape(ell.shape)
    return GPyTorchMode(_NAMES[matern.nu], float(matern.lengthscale), float(matern.variance) if scaled else None,
                        bool(base.raw_lengthscale.requires_grad), log_prior)


def describe_kernels(kernel: Any) -> Any:
    """FunBaT's ``kernel`` argument with each gpytorch object replaced by a JSON-able description.

    A description holds ν, the lengthscale, the outputscale (None without a ScaleKernel) and whether
    the lengthscale is learned; :func:`rebuild_kernels` makes the objects again. A ``lengthscale_prior``
    cannot be described without pickling it, so a kernel with one is refused.
    """
    if isinstance(kernel, (list, tuple)):
        return type(kernel)(describe_kernels(k) for k in kernel)
    if not is_gpytorch_kernel(kernel):
        return kernel
    mode = from_gpytorch(kernel, "kernel")
    if mode.log_prior is not None:
        raise TypeError("cannot save a FunBaT whose gpytorch kernel has a lengthscale_prior (a prior object cannot "
                        "be stored without pickling); pass its lengthscale as a fixed kernel instead")
    nu = {name: nu for nu, name in _NAMES.items()}[mode.name]
    return {"gpytorch_matern": {"nu": nu, "lengthscale": mode.lengthscale, "outputscale": mode.variance, "learned": mode.learned}}


def rebuild_kernels(kernel: Any) -> Any:
    """The inverse of :func:`describe_kernels`: gpytorch objects from their descriptions."""
    if isinstance(kernel, (list, tuple)):
        return type(kernel)(rebuild_kernels(k) for k in kernel)
    if not (isinstance(kernel, dict) and set(kernel) == {"gpytorch_matern"}):
        return kernel
    import gpytorch

    spec = kernel["gpytorch_matern"]
    base = gpytorch.kernels.MaternKernel(nu=spec["nu"]).double()
    base.lengthscale = spec["lengthscale"]
    base.raw_lengthscale.requires_grad_(spec["learned"])
    if spec["outputscale"] is None:
        return base
    scaled = gpytorch.kernels.ScaleKernel(base).double()
    scaled.outputscale = spec["outputscale"]
    return scaled
