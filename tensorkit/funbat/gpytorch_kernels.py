"""gpytorch kernel objects as FunBaT mode kernels: a ``MaternKernel`` (ν = 1/2, 3/2, 5/2), optionally in a ``ScaleKernel``.

The object gives the mode's smoothness, its lengthscale in the coordinate's own units, and (through
the ScaleKernel's ``outputscale``) the prior variance of the mode's functions. As in gpytorch, a
lengthscale whose raw parameter requires grad (the default) is learned, starting from the object's
value, by FunBaT's evidence maximisation (MAP under the kernel's ``lengthscale_prior`` if it has one);
``kernel.raw_lengthscale.requires_grad_(False)`` keeps it fixed. FunBaT never learns the variance, so
a prior on the outputscale is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tensorkit.funbat.gpytorch_priors import describe_prior, rebuild_prior
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
    prior : gpytorch.priors.Prior or None
        The ``lengthscale_prior`` (of lengthscales in coordinate units).
    """

    name: str
    lengthscale: float
    variance: float | None
    learned: bool
    prior: Any

    def log_prior(self, ell: torch.Tensor) -> torch.Tensor:
        """Log density of the prior at a tensor of lengthscales in coordinate units (evaluated in float32)."""
        return self.prior.log_prob(ell.to(torch.float32)).to(ell.dtype).reshape(ell.shape)


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
    return GPyTorchMode(_NAMES[matern.nu], float(matern.lengthscale), float(matern.variance) if scaled else None,
                        bool(base.raw_lengthscale.requires_grad), getattr(base, "lengthscale_prior", None))


def describe_kernels(kernel: Any) -> Any:
    """FunBaT's ``kernel`` argument with each gpytorch object replaced by a JSON-able description.

    A description holds ν, the lengthscale, the outputscale (None without a ScaleKernel), whether the
    lengthscale is learned and its prior (:func:`~tensorkit.funbat.gpytorch_priors.describe_prior`, or
    None); :func:`rebuild_kernels` makes the objects again.

    Raises
    ------
    TypeError
        If a ``lengthscale_prior`` cannot be described (naming ``kernel[k]`` and the prior's class).
    """
    if isinstance(kernel, (list, tuple)):
        return type(kernel)(_describe(k, f"kernel[{i}]") for i, k in enumerate(kernel))
    return _describe(kernel, "kernel")


def _describe(kernel: Any, name: str) -> Any:
    if not is_gpytorch_kernel(kernel):
        return kernel
    mode = from_gpytorch(kernel, name)
    nu = {kind: nu for nu, kind in _NAMES.items()}[mode.name]
    prior = None if mode.prior is None else describe_prior(mode.prior, f"{name}'s lengthscale_prior")
    return {"gpytorch_matern": {"nu": nu, "lengthscale": mode.lengthscale, "outputscale": mode.variance,
                                "learned": mode.learned, "lengthscale_prior": prior}}


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
    rebuilt = base
    if spec["outputscale"] is not None:
        rebuilt = gpytorch.kernels.ScaleKernel(base).double()
        rebuilt.outputscale = spec["outputscale"]
    if spec.get("lengthscale_prior") is not None:  # absent in files written before priors were stored (none had one)
        # registered as MaternKernel(lengthscale_prior=…) does, but after .double(): the prior keeps its dtype
        prior = rebuild_prior(spec["lengthscale_prior"])
        base.register_prior("lengthscale_prior", prior, base._lengthscale_param, base._lengthscale_closure)
    return rebuilt
