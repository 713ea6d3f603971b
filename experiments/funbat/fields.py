"""Real gridded fields for the gap-fill experiment, read from files that ship inside PyPI packages.

Nothing is downloaded at run time and no data file is copied into this repository: each field is read
from the installed package (``pip install -e ".[experiments]"``, pinned in ``constraints.txt``). The
provenance and licence of every field are in the "Gap-fill fields" section of ``README.md`` beside
this file and in the returned ``attrs``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import xarray as xr

from tensorkit.data import load_air_temperature

__all__ = ["FIELDS", "load_field"]

DIMS = ("time", "lat", "lon")


@dataclass(frozen=True)
class _Source:
    """Where a field lives inside an installed package and how to cut it."""

    package: str
    version: str
    path: str
    variable: str
    description: str
    provenance: str
    licence: str
    units: str | None = None  # when the file's variable has no units attribute
    select: dict[str, Any] = field(default_factory=dict)  # passed to ``isel``


_EOFS = ("eofs", "2.0.0")
_IRIS = ("iris-sample-data", "2.5.2")
_EOFS_DATA = "eofs/examples/example_data/"
_IRIS_DATA = "iris_sample_data/sample_data/"
_EOFS_LICENCE = (
    "eofs is GPL-3.0 (the file is read at run time, not redistributed); the underlying NOAA PSL data are "
    "US-government work without restriction"
)
_IRIS_LICENCE = "British Crown copyright, UK Open Government Licence (iris-sample-data README)"
_HADGEM2 = (
    "HadGEM2-AO annual-mean 1.5 m air temperature, ENSEMBLES E1 scenario (IMAGE integrated assessment model; "
    "Johns et al. 2011, Clim. Dyn. 37; Lowe et al. 2009, Eos 90(21)), as described by the Iris gallery"
)

_SOURCES: dict[str, _Source] = {
    "pacific_sst_anom": _Source(
        *_EOFS,
        path=_EOFS_DATA + "sst_ndjfm_anom.nc",
        variable="sst",
        description="Nov-Mar mean SST anomaly, N Pacific, 5 deg, 1963-2012: 50 x 18 x 30 = 27,000 cells, "
        "17 % land (NaN)",
        provenance=(
            "eofs example data (El Nino example). The package does not name the source; the 5-degree grid centred "
            "on 2.5 + 5k degrees and the 'days since 1800-1-1' time axis match NOAA PSL's Kaplan Extended SST v2"
        ),
        licence=_EOFS_LICENCE,
        units="K",
    ),
    "euro_atlantic_z500": _Source(
        *_EOFS,
        path=_EOFS_DATA + "hgt_djf.nc",
        variable="z",
        description="Dec-Feb mean 500 hPa geopotential height, 80W-40E x 20-90N, 2.5 deg, 65 winters 1948-2012: "
        "65 x 29 x 49 = 92,365 cells",
        provenance=(
            "eofs example data (NAO example). The package does not name the source; the 2.5-degree grid and the "
            "GRIB_id/actual_range attributes are those of NOAA PSL's NCEP/NCAR Reanalysis 1 files "
            "(Kalnay et al. 1996, BAMS 77)"
        ),
        licence=_EOFS_LICENCE,
        units="m",
        select={"pressure": 0},
    ),
    "north_america_tas": _Source(
        *_IRIS,
        path=_IRIS_DATA + "E1_north_america.nc",
        variable="air_temperature",
        description="annual-mean 1.5 m air temperature (climate model), North America, 1.25 x 1.875 deg, "
        "1860-1889: 30 x 37 x 49 = 54,390 cells",
        provenance=_HADGEM2 + "; first 30 of the file's 240 years",
        licence=_IRIS_LICENCE,
        select={"time": slice(0, 30)},
    ),
    "north_america_tas_long": _Source(
        *_IRIS,
        path=_IRIS_DATA + "E1_north_america.nc",
        variable="air_temperature",
        description="as north_america_tas, 1860-1979 (for scaling): 120 x 37 x 49 = 217,560 cells",
        provenance=_HADGEM2 + "; first 120 of the file's 240 years",
        licence=_IRIS_LICENCE,
        select={"time": slice(0, 120)},
    ),
    "equatorial_sst": _Source(
        *_IRIS,
        path=_IRIS_DATA + "ostia_monthly.nc",
        variable="surface_temperature",
        description="monthly-mean OSTIA SST, 5S-5N all longitudes, 0.56 x 0.83 deg, Apr 2006-Mar 2007: "
        "12 x 18 x 432 = 93,312 cells, 26 % land (NaN)",
        provenance=(
            "Met Office OSTIA analysis (Donlon et al. 2012, Remote Sens. Environ. 116) pre-processed to monthly means "
            "for the Iris gallery (Hovmoller example); first 12 of the file's 54 months"
        ),
        licence=_IRIS_LICENCE,
        select={"time": slice(0, 12)},
    ),
}

FIELDS: dict[str, str] = {
    "ncep_air": "built-in NCEP/NCAR reanalysis near-surface air temperature, North America, 2.5 deg, 6-hourly, "
    "Feb 2014: 20 x 25 x 53 = 26,500 cells (tensorkit.data.load_air_temperature)",
    **{name: source.description for name, source in _SOURCES.items()},
}


def load_field(name: str) -> xr.DataArray:
    """Load a real gridded field with dims ``(time, lat, lon)``.

    Parameters
    ----------
    name : str
        A key of :data:`FIELDS`.

    Returns
    -------
    xarray.DataArray
        float64, NaN where the field has no value (land in SST fields); ``attrs`` hold ``units``,
        ``provenance``, ``licence`` and, for package fields, ``source_package``, ``source_version`` (the
        installed one) and ``source_path``.

    Raises
    ------
    ModuleNotFoundError
        The package that ships the field is not installed (the message gives the pip command).
    RuntimeError
        The installed package lacks the file (another version; the message gives the pip command).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in FIELDS:
        raise ValueError(f"name must be one of {sorted(FIELDS)}, got {name!r}")
    if name == "ncep_air":
        return _tidy(
            load_air_temperature(),
            provenance="NCEP/NCAR Reanalysis 1 (Kalnay et al. 1996, BAMS 77), see tensorkit/data/datasets/"
            "air_temperature_small.md",
            licence="public domain (NOAA PSL); hvsampledata BSD-3-Clause",
        )
    source = _SOURCES[name]
    install = f"pip install {source.package}=={source.version}"
    try:
        dist = metadata.distribution(source.package)
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"field {name!r} is read from the {source.package} package: {install}") from None
    path = dist.locate_file(source.path)
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed {source.package} {dist.version}: {install}")
    with warnings.catch_warnings():  # hgt_djf.nc's "hours since 1-1-1" is read as year 1, as intended
        warnings.filterwarnings("ignore", message="Ambiguous reference date string")
        with xr.open_dataset(path) as ds:
            da = ds[source.variable].isel(source.select).load()
    da = da.rename({"latitude": "lat", "longitude": "lon"})
    return _tidy(
        da,
        provenance=source.provenance,
        licence=source.licence,
        units=source.units,
        source_package=source.package,
        source_version=dist.version,
        source_path=source.path,
    )


def _tidy(da: xr.DataArray, **attrs: str | None) -> xr.DataArray:
    """``(time, lat, lon)`` order, float64, only the dimension coordinates, the given attributes added."""
    da = da.transpose(*DIMS).reset_coords(drop=True).astype(np.float64)
    da.encoding = {}
    da.attrs.pop("grid_mapping", None)  # names a variable that is not carried over
    da.attrs = {**da.attrs, **{key: value for key, value in attrs.items() if value is not None}}
    return da
