"""netCDF outputs that respect the CF conventions and the input they were made from.

A command's result is a Dataset on (usually) the input's grid. :func:`carry_metadata` gives it the
input file's global attributes, the coordinates' attributes, time encoding (units, calendar) and
bounds variables, names its variables' quantity after the input variable (``standard_name``,
``long_name``, ``units``), sets ``Conventions`` and prepends a ``history`` line as NCO does.
:func:`write_cf_netcdf` writes it atomically, floating-point data as compressed float32 by default.
"""

from __future__ import annotations

import argparse
import datetime
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tensorkit.data.io import write_netcdf

__all__ = ["CONVENTIONS", "add_precision_argument", "carry_metadata", "flag_variable", "history_line",
           "quantity_attrs", "write_cf_netcdf"]

CONVENTIONS = "CF-1.8"
#: attributes of the input variable that describe the quantity (copied to outputs of the same quantity)
QUANTITY_ATTRS = ("standard_name", "long_name", "units")
#: zlib level of the compressed outputs (higher levels gain little on float fields and cost time)
COMPLEVEL = 4


def history_line(command: str, now: datetime.datetime | None = None) -> str:
    """``"<UTC timestamp>: <command>"``, the form NCO and CDO put in ``history``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%a %b %d %H:%M:%S %Y} UTC: {command}"


def quantity_attrs(source: Mapping[str, Any], long_name: str, standard_error: bool = False) -> dict[str, Any]:
    """Attributes of an output of the input variable's quantity: its ``units`` and ``standard_name``
    (with the CF modifier ``standard_error`` for a standard deviation), and ``long_name`` formatted
    with ``{}`` replaced by the input's long name (or its standard name)."""
    attrs = {}
    name = source.get("long_name") or source.get("standard_name") or "the input variable"
    attrs["long_name"] = long_name.format(name)
    if "standard_name" in source:
        attrs["standard_name"] = f"{source['standard_name']} standard_error" if standard_error else source["standard_name"]
    if "units" in source:
        attrs["units"] = source["units"]
    return attrs


def flag_variable(dims: Sequence[str], values: np.ndarray, meanings: Sequence[str], long_name: str) -> tuple:
    """A CF flag variable ``(dims, int8 data, attrs)``: ``values`` hold 0, 1, … meaning ``meanings[0]``, …"""
    data = np.asarray(values).astype(np.int8)
    attrs = {"long_name": long_name, "flag_values": np.arange(len(meanings), dtype=np.int8),
             "flag_meanings": " ".join(meanings)}
    return tuple(dims), data, attrs


def carry_metadata(ds: Any, source: Any, command: str) -> Any:
    """``ds`` with the metadata of the input Dataset ``source`` carried over (a new Dataset).

    Parameters
    ----------
    ds : xarray.Dataset
        The result, its own attributes (method, settings, metrics) already set.
    source : xarray.Dataset
        The input file's Dataset (opened lazily; only bounds variables are read).
    command : str
        The command line, for ``history``.

    Notes
    -----
    Global attributes: the input's, then the result's (which win), then ``Conventions`` and
    ``history`` (the new line first, the input's history below it). Coordinates of ``ds`` that the
    input has get the input's attributes and time encoding; their bounds variables are copied when
    ``ds`` has the input's coordinate values, else the ``bounds`` attribute is dropped.
    """
    out = ds.copy()
    history = history_line(command)
    if source.attrs.get("history"):
        history += "\n" + str(source.attrs["history"])
    out.attrs = {**source.attrs, **ds.attrs, "Conventions": CONVENTIONS, "history": history}
    for name in list(out.coords):
        if name not in source.coords:
            continue
        out[name].attrs = {**source[name].attrs, **out[name].attrs}
        out[name].encoding.update({k: v for k, v in source[name].encoding.items() if k in ("units", "calendar")})
        bounds = out[name].attrs.get("bounds")
        if bounds is None:
            continue
        same = out[name].shape == source[name].shape and np.array_equal(out[name].values, source[name].values)
        if same and bounds in source.variables:
            out[bounds] = source[bounds].load().variable.copy()
            out[bounds].encoding = {}  # the input's storage layout (contiguous, chunks) need not suit the output
        elif bounds not in out.variables:
            del out[name].attrs["bounds"]
    return out


def write_cf_netcdf(ds: Any, path: str | os.PathLike, float64: bool = False,
                    chunks: Mapping[str, int] | None = None) -> None:
    """Write ``ds`` to ``path`` atomically: floating-point data variables as float32 (``float64=True``
    keeps float64; bounds variables keep their coordinate's precision), every data variable
    zlib-compressed.

    ``chunks`` (e.g. ``{"sample": 32}``) sets the stored chunks of the data variables with one of
    these dims: that many along it, whole along the others. A Dask-backed ``ds`` written in blocks
    that match them writes each chunk once (netCDF's default chunks may span many blocks, and
    rewriting them block by block grows costly once they overflow the chunk cache).
    """
    bounds = {ds[name].attrs.get("bounds") for name in ds.coords}
    encoding = {}
    for name, var in ds.data_vars.items():
        encoding[name] = {"zlib": True, "complevel": COMPLEVEL}
        if chunks and set(chunks) & set(var.dims):
            encoding[name]["chunksizes"] = tuple(min(chunks.get(d, n), n) for d, n in var.sizes.items())
        if np.issubdtype(var.dtype, np.floating) and not float64 and name not in bounds:
            encoding[name]["dtype"] = "float32"
    write_netcdf(ds, path, encoding=encoding)


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """``--float64``: the output precision option of commands that write netCDF results."""
    parser.add_argument("--float64", action="store_true",
                        help="write floating-point results as float64 (default: float32, compressed)")
