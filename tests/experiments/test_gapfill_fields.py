"""Real gap-fill fields of experiments/funbat/fields.py (package fields skip when the package is absent)."""

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "funbat" / "fields.py"
spec = importlib.util.spec_from_file_location("funbat_fields", SCRIPT)
F = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # registered, as dataclasses need
spec.loader.exec_module(F)

SHAPES = {
    "ncep_air": (20, 25, 53),
    "pacific_sst_anom": (50, 18, 30),
    "euro_atlantic_z500": (65, 29, 49),
    "north_america_tas": (30, 37, 49),
    "north_america_tas_long": (120, 37, 49),
    "equatorial_sst": (12, 18, 432),
}
LAND = {"pacific_sst_anom": 0.1667, "equatorial_sst": 0.2643}  # share of NaN cells, the same in every step


def _package(name: str) -> str | None:
    return None if name == "ncep_air" else F._SOURCES[name].package


def test_every_field_is_registered_with_a_description():
    assert set(F.FIELDS) == set(SHAPES)
    assert all(isinstance(text, str) and text for text in F.FIELDS.values())


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_field_is_a_float64_time_lat_lon_array_with_provenance(name):
    package = _package(name)
    if package is not None:
        try:
            metadata.distribution(package)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{package} is not installed (pip install -e '.[experiments]')")
    da = F.load_field(name)
    assert da.dims == ("time", "lat", "lon") and da.shape == SHAPES[name] and da.dtype == np.float64
    assert set(da.coords) == {"time", "lat", "lon"}
    assert {"units", "provenance", "licence"} <= set(da.attrs)
    missing = np.isnan(da.values)
    assert missing.mean() == pytest.approx(LAND.get(name, 0.0), abs=1e-4)
    assert (missing == missing[0]).all()
    if package is not None:
        assert da.attrs["source_package"] == package


def test_unknown_name_and_missing_package_are_reported(monkeypatch):
    with pytest.raises(ValueError, match="name must be one of"):
        F.load_field("no_such_field")
    with pytest.raises(TypeError, match="name must be a str"):
        F.load_field(3)

    def absent(package):
        raise metadata.PackageNotFoundError(package)

    monkeypatch.setattr(F.metadata, "distribution", absent)
    with pytest.raises(ModuleNotFoundError, match=r"pip install eofs==2\.0\.0"):
        F.load_field("pacific_sst_anom")
