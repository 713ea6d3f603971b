"""gpytorch priors as JSON-able descriptions (class name and constructor parameters), so that a FunBaT
with a gpytorch kernel that has a ``lengthscale_prior`` can be saved, and compared with a checkpoint's,
without pickling the prior.

Described are the scalar-family priors gpytorch ships that can sit on a lengthscale; any other prior
(a multivariate or LKJ prior, a subclass, one with a ``transform``) is refused.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["describe_prior", "rebuild_prior"]

#: per prior class, its constructor parameters and the attribute that holds each one
_PARAMETERS = {
    "GammaPrior": {"concentration": "concentration", "rate": "rate"},
    "NormalPrior": {"loc": "loc", "scale": "scale"},
    "LogNormalPrior": {"loc": "loc", "scale": "scale"},
    "HalfNormalPrior": {"scale": "scale"},
    "HalfCauchyPrior": {"scale": "scale"},
    "HorseshoePrior": {"scale": "scale"},
    "UniformPrior": {"a": "low", "b": "high"},
    "SmoothedBoxPrior": {"a": "a", "b": "b", "sigma": "sigma"},
}


def describe_prior(prior: Any, name: str) -> dict[str, Any]:
    """``prior`` (the argument called ``name`` in messages) as ``{"class", "parameters", "validate_args"}``.

    Each parameter is stored as its values (nested lists) and its dtype, so that :func:`rebuild_prior`
    gives a prior with bit-identical parameters.

    Raises
    ------
    TypeError
        If ``prior`` is not one of the priors listed in ``_PARAMETERS`` (exactly that class), or has a
        ``transform`` (a callable, which cannot be stored without pickling).
    """
    import gpytorch

    cls = type(prior).__name__
    if cls not in _PARAMETERS or type(prior) is not getattr(gpytorch.priors, cls):
        raise TypeError(f"{name} is a {type(prior).__module__}.{type(prior).__qualname__}, which cannot be stored; "
                        f"the gpytorch priors that can are {', '.join(_PARAMETERS)}")
    if prior._transform is not None:
        raise TypeError(f"{name} ({cls}) has a transform, a callable that cannot be stored without pickling")
    parameters = {}
    for argument, attribute in _PARAMETERS[cls].items():
        value = getattr(prior, attribute)
        parameters[argument] = {"values": value.tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    return {"class": cls, "parameters": parameters, "validate_args": bool(prior._validate_args)}


def rebuild_prior(description: dict[str, Any]) -> Any:
    """The gpytorch prior that :func:`describe_prior` described.

    Raises
    ------
    ValueError
        If the description names a class or a dtype that :func:`describe_prior` does not write.
    """
    import gpytorch

    cls = description["class"]
    if cls not in _PARAMETERS:
        raise ValueError(f"unknown prior class {cls!r} (known: {', '.join(_PARAMETERS)})")
    parameters = {}
    for argument, stored in description["parameters"].items():
        dtype = getattr(torch, stored["dtype"], None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"{cls} parameter {argument!r} has the unknown dtype {stored['dtype']!r}")
        parameters[argument] = torch.tensor(stored["values"], dtype=dtype)
    return getattr(gpytorch.priors, cls)(**parameters, validate_args=description["validate_args"])
