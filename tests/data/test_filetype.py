"""netCDF recognised by content; a truncated classic file is reported as damaged, not read as zeros."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tensorkit.data import is_netcdf, open_dataarray
from tensorkit.data.filetype import check_netcdf_size

FORMATS = [("NETCDF3_CLASSIC", "scipy"), ("NETCDF3_64BIT", "netcdf4"), ("NETCDF4", "netcdf4")]


def _dataset() -> xr.Dataset:
    t = np.arange(30.0)
    return xr.Dataset({"v": (("time", "x"), np.arange(300.0).reshape(30, 10)), "w": ("x", np.ones(10))},
                      coords={"time": t, "x": np.arange(10.0)})  # fmt: skip


@pytest.mark.parametrize("fmt, engine", FORMATS)
@pytest.mark.parametrize("unlimited", [False, True])
def test_netcdf_is_recognised_by_content_whatever_its_name(tmp_path, fmt, engine, unlimited):
    path = tmp_path / "storm.cdf"
    _dataset().to_netcdf(path, format=fmt, engine=engine, unlimited_dims=["time"] if unlimited else None)
    assert is_netcdf(path)
    check_netcdf_size(path)  # a whole file passes
    np.testing.assert_array_equal(open_dataarray(path, "v").values, _dataset()["v"].values)


def test_other_files_are_not_netcdf(tmp_path):
    tsv = tmp_path / "cells.nc"
    tsv.write_text("0\t1\t0.5\n")
    assert not is_netcdf(tsv) and not is_netcdf(tmp_path) and not is_netcdf(tmp_path / "none.nc")


@pytest.mark.parametrize("fmt, engine", FORMATS[:2])
@pytest.mark.parametrize("unlimited", [False, True])
@pytest.mark.parametrize("cut", [1, 100, 1000])
def test_a_truncated_classic_file_is_damaged(tmp_path, fmt, engine, unlimited, cut):
    whole = tmp_path / "whole.nc"
    _dataset().to_netcdf(whole, format=fmt, engine=engine, unlimited_dims=["time"] if unlimited else None)
    data = whole.read_bytes()
    path = tmp_path / "cut.nc"
    path.write_bytes(data[: len(data) - cut])
    with pytest.raises(ValueError, match=r"cut.nc' is damaged \(truncated\)"):
        open_dataarray(path, "v")


def test_a_cut_header_is_damaged(tmp_path):
    whole = tmp_path / "whole.nc"
    _dataset().to_netcdf(whole, format="NETCDF3_CLASSIC", engine="scipy")
    path = tmp_path / "cut.nc"
    path.write_bytes(whole.read_bytes()[:40])
    with pytest.raises(ValueError, match="cut.nc' is damaged: its netCDF header is incomplete"):
        open_dataarray(path, "v")
