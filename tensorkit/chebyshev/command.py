"""Compress a function or a gridded field into Chebyshev–Tucker format and report ranks and errors.

INPUT is an arithmetic expression in the coordinates (``x, y, z`` for 3-D; ``x0, x1, …`` in general)
with ``pi``, ``e`` and the functions sin, cos, tan, exp, log, sqrt, erf, erfc, tanh, sinh, cosh,
arctan, abs, sign, minimum, maximum and where; or a netCDF file (pick the variable with --var; the
coordinates give the box; a file is recognised by its content). Expressions are parsed, never
passed to ``eval``, and bounded in size. The sampling grid may hold at most 2**27 points. The
compressed model (core, Chebyshev coefficient factors and box) is written to --out (``.npz`` or ``.nc``).

Examples:
  tensorkit chebtucker "1/(1+x**2+y**2+z**2)" --tol 1e-10 --out runge.npz
  tensorkit chebtucker field.nc --var temperature --degree 32 --out field_cheb.nc
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from tensorkit._validation import check_positive_int
from tensorkit.chebyshev.estimator import _FIRST_ADAPTIVE_POINTS, ChebTucker, descending
from tensorkit.chebyshev.expression import parse_expression
from tensorkit.chebyshev.io import save_model
from tensorkit.data import is_netcdf
from tensorkit.runtime import check_outputs, resolve_device

MAX_GRID_POINTS = 2**27


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="Python expression in x, y, z (or x0, x1, …), or a netCDF file")
    parser.add_argument("--var", help="netCDF variable (default: the only data variable)")
    parser.add_argument("--domain", type=float, nargs="+", metavar="A B",
                        help="box: one 'a b' pair for every mode, or one pair per mode (default [-1, 1]^d)")
    parser.add_argument("--ndim", type=int, default=3, help="number of variables of an expression (default: 3)")
    parser.add_argument("--degree", type=int, nargs="+", help="polynomial degree (one, or one per mode); default adaptive")
    parser.add_argument("--tol", type=float, default=1e-7, help="relative Frobenius tolerance on the coefficients")
    parser.add_argument("--rank", type=int, nargs="+", help="fixed Tucker ranks (one, or one per mode)")
    parser.add_argument("--kind", type=int, choices=(1, 2), default=2, help="Chebyshev points of the 1st or 2nd kind")
    parser.add_argument("--hooi-iters", type=int, default=0, help="HOOI sweeps after the HOSVD (default: 0)")
    parser.add_argument("--max-degree", type=int, default=256, help="largest adaptive degree (default: 256)")


def _expression(text: str, ndim: int):
    names = ["x", "y", "z"] if ndim == 3 else [f"x{k}" for k in range(ndim)]
    return parse_expression(text, names)


def _domain(values: list[float] | None, ndim: int):
    if values is None:
        return None
    if len(values) == 2:
        return (values[0], values[1])
    if len(values) != 2 * ndim:
        raise ValueError(f"--domain needs 2 or {2 * ndim} numbers, got {len(values)}")
    return [(values[2 * k], values[2 * k + 1]) for k in range(ndim)]


def _one_or_tuple(values: list[int] | None):
    if values is None:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _is_file(text: str) -> bool:
    """Whether INPUT names a netCDF file (by content); a file of another kind is refused."""
    if is_netcdf(text):
        return True
    if os.path.exists(text) or Path(text).suffix in (".nc", ".nc4", ".netcdf", ".cdf", ".h5"):
        if not os.path.isfile(text):
            raise FileNotFoundError(f"input file {text!r} does not exist")
        raise ValueError(f"input file {text!r} is not a netCDF file")
    return False


def _gridded(da, path: str):
    """``da`` with ascending coordinates, after checking that it is a grid ChebTucker can sample.

    Each dimension needs at least 2 points and a real, strictly monotonic coordinate (or none); a
    descending one (latitude from north to south) is reversed, which leaves the function unchanged.
    """
    import numpy as np

    if da.ndim == 0:
        raise ValueError(f"{path!r}: variable {da.name!r} is a scalar; a gridded variable is needed")
    for dim in da.dims:
        c = np.asarray(da[dim].values) if dim in da.coords else np.arange(da.sizes[dim], dtype=float)
        if not np.issubdtype(c.dtype, np.number) or np.issubdtype(c.dtype, np.complexfloating):
            raise TypeError(f"{path!r}: coordinate {dim!r} must be real numbers, got dtype {c.dtype}; convert it first")
        if descending(c, f"{path!r}: dimension {dim!r}"):
            da = da.isel({dim: slice(None, None, -1)})
    return da


def _check_grid(degree: list[int] | None, ndim: int) -> None:
    """Refuse a sampling grid (the first one, when adaptive) of more than :data:`MAX_GRID_POINTS` points."""
    degrees = [_FIRST_ADAPTIVE_POINTS - 1] * ndim if degree is None else degree * ndim if len(degree) == 1 else degree
    for k, p in enumerate(degrees):
        check_positive_int(p, f"--degree[{k}]")
    points = math.prod(p + 1 for p in degrees)
    if points > MAX_GRID_POINTS:
        what = "--degree" if degree is not None else f"--ndim {ndim}"
        raise ValueError(f"{what} needs a grid of {points:.3g} points; at most {MAX_GRID_POINTS} ({MAX_GRID_POINTS:.3g}) are allowed")


def run(args: argparse.Namespace) -> int:
    check_outputs({"--out": args.out}, inputs=[args.input], overwrite=args.overwrite)
    is_file = _is_file(args.input)
    if is_file:
        from tensorkit.data import open_dataarray

        target = _gridded(open_dataarray(args.input, var=args.var), args.input)
        ndim = target.ndim
    else:
        ndim = check_positive_int(args.ndim, "--ndim")
        target = _expression(args.input, ndim)
    _check_grid(args.degree, ndim)
    device = resolve_device(args.device)
    domain = _domain(args.domain, ndim)
    if not is_file and domain is None:
        domain = [(-1.0, 1.0)] * ndim
    model = ChebTucker(degree=_one_or_tuple(args.degree), tol=args.tol, rank=_one_or_tuple(args.rank),
                       domain=domain, kind=args.kind, hooi_iters=args.hooi_iters, max_degree=args.max_degree,
                       device=device).fit(target)
    stored = model.core_.numel() + sum(b.coeffs.numel() for b in model.bases_)
    summary = {
        "input": args.input,
        "domain": [list(d) for d in model.domain_],
        "degree": list(model.degree_),
        "ranks": list(model.ranks_),
        "error_estimate": model.error_estimate_,
        "interpolation_error": model.interpolation_error_,
        "truncation_error": model.truncation_error_,
        "stored_numbers": stored,
        "full_coefficients": math.prod(d + 1 for d in model.degree_),
    }
    if args.out:
        save_model(model.function_, args.out, attrs={"tol": args.tol, "input": args.input})
        summary["out"] = args.out
    if not args.quiet:
        print(json.dumps(summary, indent=1))
    return 0
